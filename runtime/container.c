/* DESIGN: creating a container process, after crun's sequence (ref/runtime-anchors.md §1).
 *
 * The caller (the shim; single threaded) prepares everything that can fail without side effects
 * (seccomp program, overlay option strings, cap_last_cap), then clones a child into new mount,
 * UTS, IPC and PID namespaces (network: joined by path in the child, or new, or the host's).
 * The child waits on a sync pipe until the parent has put it into its cgroup, so nothing it does
 * is ever unaccounted; then it builds the root filesystem inside its private mount namespace
 * (the overlay and every other mount live only there and vanish with the container: nothing can
 * leak into the host's mount table), pivots into it, switches user, drops capabilities, sets
 * no_new_privs, loads seccomp (before the capability drop without NNP, last with it) and execs.
 * Any failure before exec travels to the parent as one fixed-size record through a close-on-exec
 * pipe, so the parent learns either "exec happened" (EOF) or exactly why not.
 * Paths inside the new root are resolved with openat2(RESOLVE_IN_ROOT) so that an image's
 * symlinks cannot point a mount outside the root. */
#include "runtime/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "runtime/seccomp.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_SHM (64ULL << 20)

/* What the child reports when it cannot reach exec. */
struct child_report {
	int32_t code; /* negative errno or -KC_E* */
	int32_t fail; /* enum rt_fail */
	char msg[KC_ERRMSG_MAX];
};

/* Everything the child needs, computed by the parent before the clone. */
struct child_ctx {
	const struct rt_spec *spec;
	const struct rt_stdio *io;
	int sync_rd;  /* parent → child: "you are in your cgroup" */
	int report_wr; /* child → parent: a child_report, or EOF at exec */
	int netns_fd; /* -1: none to join */
	struct sock_filter *seccomp;
	size_t seccomp_len;
	int last_cap;
	bool cgroupns; /* unshare a cgroup namespace and mount cgroup2 (unified mode) */
	char rootfs[PATH_MAX];
	char upper[PATH_MAX];
	char work[PATH_MAX];
	/* exec only */
	bool is_exec;
	char *const *exec_argv;
	int ns_fds[6]; /* ipc uts net cgroup mnt (pid is joined by the caller) */
};

static void __attribute__((format(printf, 4, 5), noreturn))
die(struct child_ctx *c, enum rt_fail fail, int code, const char *fmt, ...)
{
	struct child_report r;
	memset(&r, 0, sizeof(r));
	r.code = code;
	r.fail = (int32_t)fail;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	ssize_t w = write(c->report_wr, &r, sizeof(r));
	(void)w;
	_exit(127);
}

/* ---- paths inside the new root ----------------------------------------------------------- */

static int open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd >= 0 || errno != ENOSYS)
		return (int)fd;
	/* kernels before 5.6: refuse symlinks anywhere in the path instead */
	return openat(rootfd, path, flags | O_CLOEXEC | O_NOFOLLOW);
}

/* Opens (O_PATH) path inside the root, creating missing directories and, when !dir, the final
 * component as an empty file. Returns the fd or -errno. */
static int make_in_root(int rootfd, const char *path, bool dir)
{
	int fd = open_in_root(rootfd, path, O_PATH);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	const char *base = path;
	int pfd;
	if (slash && slash != parent) {
		*slash = '\0';
		base = path + (slash - parent) + 1;
		pfd = make_in_root(rootfd, parent, true);
	} else {
		base = slash ? path + 1 : path;
		pfd = open_in_root(rootfd, "/", O_PATH);
		if (pfd < 0)
			pfd = -errno;
	}
	if (pfd < 0)
		return pfd;
	/* O_PATH fds cannot be used with mkdirat on every kernel: reopen as a directory */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	int dfd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(pfd);
	if (dfd < 0)
		return -errno;
	int rc;
	if (dir)
		rc = mkdirat(dfd, base, 0755);
	else {
		rc = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (rc >= 0)
			rc = close(rc);
	}
	if (rc < 0 && errno != EEXIST) {
		int e = errno;
		close(dfd);
		return -e;
	}
	close(dfd);
	fd = open_in_root(rootfd, path, O_PATH);
	return fd >= 0 ? fd : -errno;
}

static void fdpath(int fd, char *buf, size_t cap)
{
	snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

/* mount() onto a path inside the root (resolved safely). */
static int mount_in_root(struct child_ctx *c, int rootfd, const char *src, const char *target,
			 const char *fstype, unsigned long flags, const char *data, bool dir)
{
	int fd = make_in_root(rootfd, target, dir);
	if (fd < 0)
		die(c, RT_FAIL_START, fd, "create mount point %s: %s", target, strerror(-fd));
	char p[64];
	fdpath(fd, p, sizeof(p));
	int rc = mount(src, p, fstype, flags, data);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* Remounts the mount at target read-only, keeping nosuid/nodev/noexec (dropping a locked flag
 * would fail). */
static int remount_ro(int rootfd, const char *target)
{
	int fd = open_in_root(rootfd, target, O_PATH);
	if (fd < 0)
		return -errno;
	char p[64];
	fdpath(fd, p, sizeof(p));
	struct statvfs sv;
	unsigned long keep = 0;
	if (statvfs(p, &sv) == 0) {
		if (sv.f_flag & ST_NOSUID)
			keep |= MS_NOSUID;
		if (sv.f_flag & ST_NODEV)
			keep |= MS_NODEV;
		if (sv.f_flag & ST_NOEXEC)
			keep |= MS_NOEXEC;
	}
	int rc = mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL);
	int e = errno;
	close(fd);
	return rc < 0 ? -e : 0;
}

/* ---- root filesystem --------------------------------------------------------------------- */

/* Reads the kernel's explanation left on an fs context fd after a failed fsconfig. */
static void fs_log(int fsfd, char *buf, size_t cap)
{
	buf[0] = '\0';
	char line[256];
	ssize_t n;
	while ((n = read(fsfd, line, sizeof(line) - 1)) > 0) {
		line[n] = '\0';
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		snprintf(buf, cap, "%s", line + (n > 2 ? 2 : 0));
	}
}

/* The new mount API: every layer passed alone ("lowerdir+", Linux 6.8), so no length limit. */
static int overlay_fsopen(struct child_ctx *c, char *why, size_t whycap)
{
	const struct rt_spec *s = c->spec;
	int fsfd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	int rc = 0;
	for (size_t i = s->n_layers; i-- > 0 && rc == 0;)
		rc = (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "lowerdir+", s->layers[i], 0);
	if (rc == 0)
		rc = (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "upperdir", c->upper, 0);
	if (rc == 0)
		rc = (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "workdir", c->work, 0);
	if (rc == 0) /* best effort: an upper dir reused over changed layers must still mount */
		syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "index", "off", 0);
	if (rc == 0)
		rc = (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (rc < 0) {
		int e = errno;
		fs_log(fsfd, why, whycap);
		close(fsfd);
		return -e;
	}
	int mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	int e = errno;
	close(fsfd);
	if (mfd < 0)
		return -e;
	rc = (int)syscall(SYS_move_mount, mfd, "", AT_FDCWD, c->rootfs, MOVE_MOUNT_F_EMPTY_PATH);
	e = errno;
	close(mfd);
	return rc < 0 ? -e : 0;
}

static size_t common_dir_prefix(const char *a, const char *b)
{
	size_t i = 0, last = 0;
	while (a[i] && a[i] == b[i]) {
		if (a[i] == '/')
			last = i;
		i++;
	}
	if ((a[i] == '\0' && b[i] == '/') || (b[i] == '\0' && a[i] == '/'))
		last = i;
	return last;
}

/* mount(2) with one option string, which must fit in a page: long layer paths are made
 * relative to their common parent directory (we chdir there first). */
static int overlay_mount(struct child_ctx *c, char *why, size_t whycap)
{
	const struct rt_spec *s = c->spec;
	for (size_t i = 0; i < s->n_layers; i++)
		if (strpbrk(s->layers[i], ":,")) {
			snprintf(why, whycap, "layer path %s contains ':' or ','", s->layers[i]);
			return -EINVAL;
		}
	size_t pre = strlen(c->upper);
	pre = common_dir_prefix(c->upper, c->work);
	for (size_t i = 0; i < s->n_layers; i++) {
		size_t p = common_dir_prefix(c->upper, s->layers[i]);
		if (p < pre)
			pre = p;
	}
	struct kc_str opt = KC_STR_INIT;
	for (int pass = 0; pass < 2; pass++) {
		size_t skip = pass ? pre + 1 : 0;
		if (pass) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof(dir), "%.*s", (int)(pre ? pre : 1), c->upper);
			if (chdir(dir) < 0)
				break;
		}
		kc_str_reset(&opt);
		kc_str_adds(&opt, "lowerdir=");
		for (size_t i = s->n_layers; i-- > 0;) {
			kc_str_adds(&opt, s->layers[i] + skip);
			if (i)
				kc_str_addc(&opt, ':');
		}
		kc_str_addf(&opt, ",upperdir=%s,workdir=%s,index=off", c->upper + skip, c->work + skip);
		if (opt.len < 4000)
			break;
	}
	if (opt.len >= 4000) {
		kc_str_free(&opt);
		snprintf(why, whycap, "too many image layers for one mount");
		return -E2BIG;
	}
	int rc = mount("overlay", c->rootfs, "overlay", 0, opt.buf);
	int e = errno;
	if (rc < 0 && e == EINVAL) { /* kernels without "index" */
		char *idx = strstr(opt.buf, ",index=off");
		if (idx) {
			*idx = '\0';
			rc = mount("overlay", c->rootfs, "overlay", 0, opt.buf);
			e = errno;
		}
	}
	kc_str_free(&opt);
	if (chdir("/") < 0)
		return -errno;
	return rc < 0 ? -e : 0;
}

static void mount_rootfs(struct child_ctx *c)
{
	char why[200] = "";
	int rc = overlay_fsopen(c, why, sizeof(why));
	if (rc == -ENOSYS || rc == -EINVAL || rc == -EOPNOTSUPP) {
		char why2[200] = "";
		int rc2 = overlay_mount(c, why2, sizeof(why2));
		if (rc2 == 0)
			return;
		if (rc == -ENOSYS || !why[0]) {
			rc = rc2;
			snprintf(why, sizeof(why), "%s", why2);
		}
	}
	if (rc < 0)
		die(c, RT_FAIL_START, rc, "mount overlay root filesystem on %s: %s%s%s", c->rootfs,
		    strerror(-rc), why[0] ? ": " : "", why);
}

struct devnode {
	const char *name;
	unsigned maj, min;
};

static const struct devnode devnodes[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

/* privileged: every device node of the host's /dev (one level of subdirectories too) */
static void copy_host_devices(int devfd, const char *host, int depth)
{
	DIR *d = opendir(host);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "pts") == 0 ||
		    strcmp(de->d_name, "shm") == 0 || strcmp(de->d_name, "mqueue") == 0 ||
		    strcmp(de->d_name, "console") == 0 || strcmp(de->d_name, "ptmx") == 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", host, de->d_name);
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth == 0) {
			if (mkdirat(devfd, de->d_name, 0755) < 0 && errno != EEXIST)
				continue;
			int sub = openat(devfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub >= 0) {
				copy_host_devices(sub, p, 1);
				close(sub);
			}
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			if (mknodat(devfd, de->d_name, st.st_mode, st.st_rdev) == 0)
				fchownat(devfd, de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
		}
	}
	closedir(d);
}

static void setup_dev(struct child_ctx *c, int rootfd)
{
	const struct rt_spec *s = c->spec;
	if (mount_in_root(c, rootfd, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME,
			  "mode=755,size=65536k", true) < 0)
		die(c, RT_FAIL_START, -errno, "mount /dev: %s", strerror(errno));
	int devfd = open_in_root(rootfd, "/dev", O_RDONLY | O_DIRECTORY);
	if (devfd < 0)
		die(c, RT_FAIL_START, -errno, "open /dev: %s", strerror(errno));
	mode_t old = umask(0);
	for (size_t i = 0; i < sizeof(devnodes) / sizeof(devnodes[0]); i++) {
		if (mknodat(devfd, devnodes[i].name, S_IFCHR | 0666,
			    makedev(devnodes[i].maj, devnodes[i].min)) < 0 &&
		    errno != EEXIST)
			die(c, RT_FAIL_START, -errno, "mknod /dev/%s: %s", devnodes[i].name,
			    strerror(errno));
	}
	if (s->privileged)
		copy_host_devices(devfd, "/dev", 0);
	umask(old);
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },	   { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },		   { "/proc/kcore", "core" },
	};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i][0], devfd, links[i][1]) < 0 && errno != EEXIST)
			die(c, RT_FAIL_START, -errno, "symlink /dev/%s: %s", links[i][1],
			    strerror(errno));
	close(devfd);
	if (mount_in_root(c, rootfd, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
			  "newinstance,ptmxmode=0666,mode=0620,gid=5", true) < 0)
		die(c, RT_FAIL_START, -errno, "mount /dev/pts: %s", strerror(errno));
	char opt[64];
	snprintf(opt, sizeof(opt), "mode=1777,size=%llu",
		 (unsigned long long)(s->shm_size ? s->shm_size : DEFAULT_SHM));
	if (mount_in_root(c, rootfd, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV,
			  opt, true) < 0)
		die(c, RT_FAIL_START, -errno, "mount /dev/shm: %s", strerror(errno));
	if (!s->host_ipc && mount_in_root(c, rootfd, "mqueue", "/dev/mqueue", "mqueue",
					  MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, true) < 0)
		die(c, RT_FAIL_START, -errno, "mount /dev/mqueue: %s", strerror(errno));
	if (c->io && c->io->console &&
	    mount_in_root(c, rootfd, c->io->console, "/dev/console", NULL, MS_BIND, NULL, false) < 0)
		die(c, RT_FAIL_START, -errno, "bind /dev/console: %s", strerror(errno));
}

static void setup_proc_sys(struct child_ctx *c, int rootfd)
{
	const struct rt_spec *s = c->spec;
	if (mount_in_root(c, rootfd, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
			  true) < 0)
		die(c, RT_FAIL_START, -errno, "mount /proc: %s", strerror(errno));
	unsigned long ro = s->privileged ? 0 : MS_RDONLY;
	if (mount_in_root(c, rootfd, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | ro,
			  NULL, true) < 0) {
		/* a sysfs cannot be mounted from a network namespace we do not own: bind the host's */
		if (mount_in_root(c, rootfd, "/sys", "/sys", NULL, MS_BIND | MS_REC, NULL, true) < 0)
			die(c, RT_FAIL_START, -errno, "mount /sys: %s", strerror(errno));
		if (ro)
			remount_ro(rootfd, "/sys");
	}
	if (c->cgroupns &&
	    mount_in_root(c, rootfd, "cgroup", "/sys/fs/cgroup", "cgroup2",
			  MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | ro, NULL, true) < 0)
		die(c, RT_FAIL_START, -errno, "mount /sys/fs/cgroup: %s", strerror(errno));
}

static void setup_volumes(struct child_ctx *c, int rootfd)
{
	const struct rt_spec *s = c->spec;
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct rt_mount *m = &s->mounts[i];
		struct stat st;
		if (stat(m->source, &st) < 0)
			die(c, RT_FAIL_START, -errno, "mount %s on %s: stat %s: %s", m->source,
			    m->target, m->source, strerror(errno));
		if (mount_in_root(c, rootfd, m->source, m->target, NULL, MS_BIND | MS_REC, NULL,
				  S_ISDIR(st.st_mode)) < 0)
			die(c, RT_FAIL_START, -errno, "bind mount %s on %s: %s", m->source, m->target,
			    strerror(errno));
		int fd = open_in_root(rootfd, m->target, O_PATH);
		if (fd < 0)
			die(c, RT_FAIL_START, -errno, "open %s: %s", m->target, strerror(errno));
		char p[64];
		fdpath(fd, p, sizeof(p));
		unsigned long prop = m->propagation == RT_PROP_BIDIRECTIONAL	   ? MS_SHARED
				     : m->propagation == RT_PROP_HOST_TO_CONTAINER ? MS_SLAVE
										   : MS_PRIVATE;
		if (mount(NULL, p, NULL, MS_REC | prop, NULL) < 0)
			die(c, RT_FAIL_START, -errno, "set propagation of %s: %s", m->target,
			    strerror(errno));
		if (m->readonly) {
			struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
			if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
				    sizeof(attr)) < 0) {
				int rc = remount_ro(rootfd, m->target);
				if (rc < 0)
					die(c, RT_FAIL_START, rc, "remount %s read-only: %s",
					    m->target, strerror(-rc));
			}
		}
		close(fd);
	}
}

static const char *const masked_paths[] = {
	"/proc/asound",	      "/proc/acpi",	  "/proc/kcore",	"/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi",	      "/sys/firmware",	  "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static void setup_masks(struct child_ctx *c, int rootfd)
{
	for (size_t i = 0; i < sizeof(masked_paths) / sizeof(masked_paths[0]); i++) {
		int fd = open_in_root(rootfd, masked_paths[i], O_PATH);
		if (fd < 0)
			continue; /* absent on this kernel */
		struct stat st;
		char p[64];
		fdpath(fd, p, sizeof(p));
		int rc;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
			rc = mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0");
		else {
			int nfd = open_in_root(rootfd, "/dev/null", O_PATH);
			char np[64];
			fdpath(nfd, np, sizeof(np));
			rc = nfd < 0 ? -1 : mount(np, p, NULL, MS_BIND, NULL);
			if (nfd >= 0)
				close(nfd);
		}
		int e = errno;
		close(fd);
		if (rc < 0)
			die(c, RT_FAIL_START, -e, "mask %s: %s", masked_paths[i], strerror(e));
	}
	for (size_t i = 0; i < sizeof(readonly_paths) / sizeof(readonly_paths[0]); i++) {
		int fd = open_in_root(rootfd, readonly_paths[i], O_PATH);
		if (fd < 0)
			continue;
		char p[64];
		fdpath(fd, p, sizeof(p));
		int rc = mount(p, p, NULL, MS_BIND | MS_REC, NULL);
		int e = errno;
		close(fd);
		if (rc < 0 || (rc = remount_ro(rootfd, readonly_paths[i])) < 0)
			die(c, RT_FAIL_START, rc < 0 && rc != -1 ? rc : -e, "read-only %s: %s",
			    readonly_paths[i], strerror(rc < -1 ? -rc : e));
	}
}

static void do_pivot(struct child_ctx *c)
{
	int oldroot = open("/", O_DIRECTORY | O_PATH | O_CLOEXEC);
	int newroot = open(c->rootfs, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (oldroot < 0 || newroot < 0)
		die(c, RT_FAIL_START, -errno, "open root: %s", strerror(errno));
	if (fchdir(newroot) < 0)
		die(c, RT_FAIL_START, -errno, "chdir to the root filesystem: %s", strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die(c, RT_FAIL_START, -errno, "pivot_root: %s", strerror(errno));
	if (fchdir(oldroot) < 0)
		die(c, RT_FAIL_START, -errno, "chdir to the old root: %s", strerror(errno));
	if (mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		die(c, RT_FAIL_START, -errno, "make the old root a slave: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		die(c, RT_FAIL_START, -errno, "unmount the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		die(c, RT_FAIL_START, -errno, "chdir /: %s", strerror(errno));
	close(oldroot);
	close(newroot);
}

/* ---- process identity and security --------------------------------------------------------- */

static char *read_small(const char *path, size_t limit)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = xmalloc(limit + 1);
	size_t len = 0;
	ssize_t n;
	while (len < limit && (n = read(fd, buf + len, limit - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return buf;
}

static void resolve_user(struct child_ctx *c, struct rt_user *u)
{
	const struct rt_spec *s = c->spec;
	char *pw = read_small("/etc/passwd", 1 << 20), *gr = read_small("/etc/group", 1 << 20);
	struct kc_err err = { 0 };
	int rc = rt_resolve_user(s->user, pw, gr, u, &err);
	free(pw);
	free(gr);
	if (rc < 0)
		die(c, RT_FAIL_CREATE, rc, "%s", err.msg);
	if (s->run_as_group >= 0)
		u->gid = (uint32_t)s->run_as_group;
	for (size_t i = 0; i < s->n_groups && u->n_groups < RT_MAX_GROUPS; i++)
		u->groups[u->n_groups++] = s->groups[i];
	if (s->run_as_non_root && u->uid == 0)
		die(c, RT_FAIL_CONFIG, -KC_EINVAL,
		    "container has runAsNonRoot and image will run as root (container: %s)", s->name);
}

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

/* exec.LookPath as runc reports it. */
static void find_exec(struct child_ctx *c, const char *file, char *const *env, char *out,
		      size_t cap)
{
	struct stat st;
	if (strchr(file, '/')) {
		if (stat(file, &st) < 0)
			die(c, RT_FAIL_START, -errno, "exec: \"%s\": stat %s: %s", file, file,
			    strerror(errno));
		if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111))
			die(c, RT_FAIL_START, -EACCES, "exec: \"%s\": permission denied", file);
		snprintf(out, cap, "%s", file);
		return;
	}
	const char *path = env_get(env, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	for (const char *p = path;;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if ((size_t)snprintf(out, cap, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", file) < cap &&
		    stat(out, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return;
		if (!e)
			break;
		p = e + 1;
	}
	die(c, RT_FAIL_START, -ENOENT, "exec: \"%s\": executable file not found in $PATH", file);
}

/* Builds envp with HOME added from /etc/passwd when missing (and HOSTNAME for containers). */
static char **final_env(const struct rt_spec *s, const struct rt_user *u)
{
	size_t n = s->n_env;
	char **env = xcalloc(n + 3, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		env[k++] = s->env[i];
	if (!env_get(s->env, "HOME"))
		env[k++] = xasprintf("HOME=%s", u->home[0] ? u->home : "/");
	if (!env_get(s->env, "HOSTNAME") && s->hostname)
		env[k++] = xasprintf("HOSTNAME=%s", s->hostname);
	env[k] = NULL;
	return env;
}

static void apply_security(struct child_ctx *c, const struct rt_user *u)
{
	const struct rt_spec *s = c->spec;
	struct kc_err err = { 0 };
	bool seccomp = c->seccomp != NULL;
	if (seccomp && !s->no_new_privs && rt_seccomp_load(c->seccomp, c->seccomp_len, &err) < 0)
		die(c, RT_FAIL_START, err.code, "%s", err.msg);
	for (int cap = 0; cap <= c->last_cap; cap++)
		if (!((s->caps >> cap) & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			die(c, RT_FAIL_START, -errno, "drop capability %s: %s", rt_cap_name(cap),
			    strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		die(c, RT_FAIL_START, -errno, "keepcaps: %s", strerror(errno));
	gid_t groups[RT_MAX_GROUPS];
	for (size_t i = 0; i < u->n_groups; i++)
		groups[i] = u->groups[i];
	if (setgroups(u->n_groups, groups) < 0)
		die(c, RT_FAIL_START, -errno, "setgroups: %s", strerror(errno));
	if (syscall(SYS_setresgid, u->gid, u->gid, u->gid) < 0)
		die(c, RT_FAIL_START, -errno, "setgid %u: %s", u->gid, strerror(errno));
	if (syscall(SYS_setresuid, u->uid, u->uid, u->uid) < 0)
		die(c, RT_FAIL_START, -errno, "setuid %u: %s", u->uid, strerror(errno));
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)s->caps;
	data[1].effective = data[1].permitted = (uint32_t)(s->caps >> 32);
	/* inheritable stays empty (CVE-2022-24769) */
	if (syscall(SYS_capset, &hdr, data) < 0)
		die(c, RT_FAIL_START, -errno, "capset: %s", strerror(errno));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(c, RT_FAIL_START, -errno, "no_new_privs: %s", strerror(errno));
	if (seccomp && s->no_new_privs && rt_seccomp_load(c->seccomp, c->seccomp_len, &err) < 0)
		die(c, RT_FAIL_START, err.code, "%s", err.msg);
}

static void setup_stdio(struct child_ctx *c, bool tty)
{
	const struct rt_stdio *io = c->io;
	if (setsid() < 0)
		die(c, RT_FAIL_START, -errno, "setsid: %s", strerror(errno));
	if (!io)
		return;
	int fds[3] = { io->in, io->out, io->err };
	for (int i = 0; i < 3; i++) {
		if (fds[i] < 0) {
			int nfd = open("/dev/null", O_RDWR);
			if (nfd < 0)
				die(c, RT_FAIL_START, -errno, "open /dev/null: %s", strerror(errno));
			if (nfd != i) {
				dup2(nfd, i);
				close(nfd);
			}
		} else if (fds[i] == i) {
			fcntl(i, F_SETFD, 0);
		} else if (dup2(fds[i], i) < 0) {
			die(c, RT_FAIL_START, -errno, "dup2: %s", strerror(errno));
		}
	}
	if (tty && ioctl(0, TIOCSCTTY, 0) < 0)
		die(c, RT_FAIL_START, -errno, "set controlling terminal: %s", strerror(errno));
}

/* Marks every fd from 3 up close-on-exec except the report pipe (already close-on-exec). */
static void cloexec_from_3(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *de;
	int self = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		if (fd >= 3 && fd != self)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

static void finish_and_exec(struct child_ctx *c, char *const *argv, bool tty)
{
	const struct rt_spec *s = c->spec;
	struct rt_user u;
	resolve_user(c, &u);
	char **env = final_env(s, &u);
	const char *cwd = s->cwd && *s->cwd ? s->cwd : "/";
	if (!c->is_exec) {
		/* runc creates a missing working directory */
		struct stat st;
		if (stat(cwd, &st) < 0 && errno == ENOENT) {
			char tmp[PATH_MAX];
			snprintf(tmp, sizeof(tmp), "%s", cwd);
			for (char *p = tmp + 1; *p; p++)
				if (*p == '/') {
					*p = '\0';
					mkdir(tmp, 0755);
					*p = '/';
				}
			mkdir(tmp, 0755);
		}
	}
	char exe[PATH_MAX];
	find_exec(c, argv[0], env, exe, sizeof(exe));
	/* the shim blocks and ignores signals; a signal mask and ignored dispositions survive exec */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	setup_stdio(c, tty);
	cloexec_from_3();
	apply_security(c, &u);
	if (chdir(cwd) < 0)
		die(c, RT_FAIL_START, -errno, "chdir to cwd (\"%s\") set in config.json failed: %s",
		    cwd, strerror(errno));
	execve(exe, argv, env);
	int e = errno;
	die(c, RT_FAIL_START, -e, "exec: \"%s\": %s", argv[0], strerror(e));
}

static int child_main(struct child_ctx *c)
{
	const struct rt_spec *s = c->spec;
	char b;
	if (read(c->sync_rd, &b, 1) != 1)
		_exit(1); /* the parent gave up */
	close(c->sync_rd);
	if (c->netns_fd >= 0 && setns(c->netns_fd, CLONE_NEWNET) < 0)
		die(c, RT_FAIL_START, -errno, "join network namespace %s: %s", s->netns,
		    strerror(errno));
	if (c->cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		die(c, RT_FAIL_START, -errno, "cgroup namespace: %s", strerror(errno));
	if (s->oom_score_adj) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		char v[16];
		int n = snprintf(v, sizeof(v), "%d", s->oom_score_adj);
		if (fd < 0 || write(fd, v, (size_t)n) != n)
			die(c, RT_FAIL_START, -errno, "set oom_score_adj: %s", strerror(errno));
		close(fd);
	}
	bool slave = false;
	for (size_t i = 0; i < s->n_mounts; i++)
		slave |= s->mounts[i].propagation != RT_PROP_PRIVATE;
	/* pivot_root refuses shared mounts, and nothing we mount may reach the host */
	if (mount(NULL, "/", NULL, MS_REC | (slave ? MS_SLAVE : MS_PRIVATE), NULL) < 0)
		die(c, RT_FAIL_START, -errno, "make / private: %s", strerror(errno));
	mount_rootfs(c);
	int rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		die(c, RT_FAIL_START, -errno, "open %s: %s", c->rootfs, strerror(errno));
	setup_proc_sys(c, rootfd);
	setup_dev(c, rootfd);
	setup_volumes(c, rootfd);
	if (!s->privileged)
		setup_masks(c, rootfd);
	close(rootfd);
	do_pivot(c);
	if (s->read_only_rootfs && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		die(c, RT_FAIL_START, -errno, "remount the root filesystem read-only: %s",
		    strerror(errno));
	if (s->hostname && !s->host_network && sethostname(s->hostname, strlen(s->hostname)) < 0)
		die(c, RT_FAIL_START, -errno, "sethostname: %s", strerror(errno));
	finish_and_exec(c, s->argv, s->tty);
	return 127;
}

/* ---- parent side ------------------------------------------------------------------------- */

static int read_report(int fd, pid_t pid, enum rt_fail *fail, struct kc_err *err)
{
	struct child_report r;
	size_t got = 0;
	while (got < sizeof(r)) {
		ssize_t n = read(fd, (char *)&r + got, sizeof(r) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == 0)
		return 0; /* EOF: exec happened */
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(r)) {
		*fail = RT_FAIL_START;
		return kc_err_set(err, -KC_EPROTO, "container process died before exec (status %d)",
				  status);
	}
	r.msg[sizeof(r.msg) - 1] = '\0';
	*fail = (enum rt_fail)r.fail;
	return kc_err_set(err, r.code ? r.code : -KC_EIO, "%s", r.msg);
}

static int prepare(struct child_ctx *c, const struct rt_spec *s, struct kc_err *err)
{
	c->spec = s;
	c->netns_fd = -1;
	c->last_cap = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		int v;
		if (fscanf(f, "%d", &v) == 1 && v > 0 && v < 64)
			c->last_cap = v;
		fclose(f);
	}
	if (s->seccomp == RT_SECCOMP_RUNTIME_DEFAULT && !s->privileged) {
		int rc = rt_seccomp_build(s->caps, &c->seccomp, &c->seccomp_len, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int rt_container_start(const struct rt_spec *s, struct rt_cgroup *cg, const struct rt_stdio *io,
		       pid_t *pid_out, enum rt_fail *fail, struct kc_err *err)
{
	struct child_ctx c;
	memset(&c, 0, sizeof(c));
	*fail = RT_FAIL_START;
	int rc = prepare(&c, s, err);
	if (rc < 0)
		return rc;
	c.io = io;
	int sync[2] = { -1, -1 }, rep[2] = { -1, -1 }, self_pidns = -1, join_pidns = -1;
	pid_t pid = -1;
	if ((size_t)snprintf(c.rootfs, sizeof(c.rootfs), "%s/rootfs", s->dir) >= sizeof(c.rootfs) ||
	    (size_t)snprintf(c.upper, sizeof(c.upper), "%s/upper", s->dir) >= sizeof(c.upper) ||
	    (size_t)snprintf(c.work, sizeof(c.work), "%s/work", s->dir) >= sizeof(c.work)) {
		rc = kc_err_set(err, -ENAMETOOLONG, "container dir too long");
		goto out;
	}
	const char *dirs[] = { s->dir, c.rootfs, c.upper, c.work };
	for (size_t i = 0; i < 4; i++)
		if (mkdir(dirs[i], i == 0 ? 0711 : 0755) < 0 && errno != EEXIST) {
			rc = kc_err_set(err, -errno, "mkdir %s: %s", dirs[i], strerror(errno));
			goto out;
		}
	for (size_t i = 0; i < s->n_layers; i++) {
		struct stat st;
		if (stat(s->layers[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
			rc = kc_err_set(err, -ENOENT, "image layer %s is missing", s->layers[i]);
			goto out;
		}
	}
	c.cgroupns = cg && rt_cgroup_mode(cg) == RT_CGROUP_UNIFIED;
	if (s->netns && !s->host_network) {
		c.netns_fd = open(s->netns, O_RDONLY | O_CLOEXEC);
		if (c.netns_fd < 0) {
			rc = kc_err_set(err, -errno, "open network namespace %s: %s", s->netns,
					strerror(errno));
			goto out;
		}
	}
	if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		rc = kc_err_set(err, -errno, "pipe: %s", strerror(errno));
		goto out;
	}
	c.sync_rd = sync[0];
	c.report_wr = rep[1];
	unsigned long flags = CLONE_NEWNS | CLONE_NEWUTS;
	if (!s->host_ipc)
		flags |= CLONE_NEWIPC;
	if (!s->netns && !s->host_network)
		flags |= CLONE_NEWNET;
	if (s->pidns && !s->host_pid) {
		/* a shared PID namespace: become its "pid_for_children" for this one clone */
		self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		join_pidns = open(s->pidns, O_RDONLY | O_CLOEXEC);
		if (self_pidns < 0 || join_pidns < 0 || setns(join_pidns, CLONE_NEWPID) < 0) {
			rc = kc_err_set(err, -errno, "join PID namespace %s: %s", s->pidns,
					strerror(errno));
			goto out;
		}
	} else if (!s->host_pid) {
		flags |= CLONE_NEWPID;
	}
	pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(sync[1]);
		close(rep[0]);
		_exit(child_main(&c));
	}
	int clone_errno = errno;
	if (self_pidns >= 0 && setns(self_pidns, CLONE_NEWPID) < 0)
		kc_assert(!"cannot return to our own PID namespace");
	if (pid < 0) {
		rc = kc_err_set(err, -clone_errno, "clone: %s", strerror(clone_errno));
		goto out;
	}
	close(sync[0]);
	sync[0] = -1;
	close(rep[1]);
	rep[1] = -1;
	if (cg) {
		rc = rt_cgroup_join(cg, pid, err);
		if (rc < 0) {
			kill(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			goto out;
		}
	}
	if (write(sync[1], "g", 1) != 1) {
		rc = kc_err_set(err, -errno, "start container: %s", strerror(errno));
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out;
	}
	rc = read_report(rep[0], pid, fail, err);
	if (rc == 0) {
		*fail = RT_FAIL_NONE;
		*pid_out = pid;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (sync[i] >= 0)
			close(sync[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
	if (c.netns_fd >= 0)
		close(c.netns_fd);
	if (self_pidns >= 0)
		close(self_pidns);
	if (join_pidns >= 0)
		close(join_pidns);
	free(c.seccomp);
	return rc;
}

/* ---- exec in a running container --------------------------------------------------------- */

static const struct {
	const char *name;
	int type;
} exec_ns[] = {
	{ "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET },
	{ "cgroup", CLONE_NEWCGROUP }, { "mnt", CLONE_NEWNS },
};

static int exec_child(struct child_ctx *c, struct rt_cgroup *cg, bool tty)
{
	struct kc_err e = { 0 };
	if (cg && rt_cgroup_join(cg, 0, &e) < 0)
		die(c, RT_FAIL_START, e.code, "join the container's cgroup: %s", e.msg);
	for (size_t i = 0; i < sizeof(exec_ns) / sizeof(exec_ns[0]); i++)
		if (c->ns_fds[i] >= 0 && setns(c->ns_fds[i], exec_ns[i].type) < 0)
			die(c, RT_FAIL_START, -errno, "join %s namespace: %s", exec_ns[i].name,
			    strerror(errno));
	if (chdir("/") < 0)
		die(c, RT_FAIL_START, -errno, "chdir /: %s", strerror(errno));
	finish_and_exec(c, c->exec_argv, tty);
	return 127;
}

int rt_container_exec(const struct rt_spec *s, struct rt_cgroup *cg, pid_t init_pid,
		      char *const *argv, bool tty, const struct rt_stdio *io, pid_t *pid_out,
		      enum rt_fail *fail, struct kc_err *err)
{
	struct child_ctx c;
	memset(&c, 0, sizeof(c));
	*fail = RT_FAIL_START;
	if (!argv || !argv[0])
		return kc_err_set(err, -KC_EINVAL, "no command specified");
	int rc = prepare(&c, s, err);
	if (rc < 0)
		return rc;
	c.io = io;
	c.is_exec = true;
	c.exec_argv = argv;
	int rep[2] = { -1, -1 };
	for (size_t i = 0; i < 6; i++)
		c.ns_fds[i] = -1;
	char p[64];
	/* same namespace as ours (host* options): nothing to join */
	for (size_t i = 0; i < sizeof(exec_ns) / sizeof(exec_ns[0]); i++) {
		struct stat a, b;
		snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)init_pid, exec_ns[i].name);
		char self[64];
		snprintf(self, sizeof(self), "/proc/self/ns/%s", exec_ns[i].name);
		if (stat(p, &a) == 0 && stat(self, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			continue;
		c.ns_fds[i] = open(p, O_RDONLY | O_CLOEXEC);
		if (c.ns_fds[i] < 0) {
			rc = kc_err_set(err, errno == ENOENT ? -KC_ENOTFOUND : -errno,
					"container is not running (%s: %s)", p, strerror(errno));
			goto out;
		}
	}
	/* our children go into the container's PID namespace from now on */
	snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)init_pid);
	int pidfd = open(p, O_RDONLY | O_CLOEXEC);
	if (pidfd < 0 || setns(pidfd, CLONE_NEWPID) < 0) {
		rc = kc_err_set(err, -errno, "join PID namespace of %d: %s", (int)init_pid,
				strerror(errno));
		if (pidfd >= 0)
			close(pidfd);
		goto out;
	}
	close(pidfd);
	if (pipe2(rep, O_CLOEXEC) < 0) {
		rc = kc_err_set(err, -errno, "pipe: %s", strerror(errno));
		goto out;
	}
	c.report_wr = rep[1];
	pid_t pid = fork();
	if (pid == 0) {
		close(rep[0]);
		_exit(exec_child(&c, cg, tty));
	}
	if (pid < 0) {
		rc = kc_err_set(err, -errno, "fork: %s", strerror(errno));
		goto out;
	}
	close(rep[1]);
	rep[1] = -1;
	rc = read_report(rep[0], pid, fail, err);
	if (rc == 0) {
		*fail = RT_FAIL_NONE;
		*pid_out = pid;
	}
out:
	for (int i = 0; i < 2; i++)
		if (rep[i] >= 0)
			close(rep[i]);
	for (size_t i = 0; i < 6; i++)
		if (c.ns_fds[i] >= 0)
			close(c.ns_fds[i]);
	free(c.seccomp);
	return rc;
}
