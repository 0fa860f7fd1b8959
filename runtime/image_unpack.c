/* image_unpack.c - one layer tar applied to an empty directory, in overlayfs form.
 *
 * DESIGN: every path is cleaned (no "..", no absolute escape) and reached component by component
 * with openat(O_NOFOLLOW|O_DIRECTORY) from the layer root, so no symlink is ever followed: a
 * member whose parent path crosses a symlink is refused, which is what keeps a hostile layer
 * ("evil -> /", then "evil/etc/passwd") inside its root. The last directory opened is cached
 * (tars list a directory's members together). Whiteouts become 0:0 character devices and opaque
 * markers trusted.overlay.opaque=y (user.overlay.opaque when not root). Directories are created
 * writable and get their final mode and mtime at the end, after their children exist. Ownership,
 * device nodes and trusted.* xattrs need root; without it they are skipped. Runs on the calling
 * thread; no shared state. */
#include "runtime/image_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"

#define MAX_DEPTH 256

struct dir_attr {
	char *path; /* cleaned, "" for the root */
	uint32_t mode;
	int64_t mtime;
	uint32_t mtime_nsec;
};

struct unpack {
	int root;
	bool priv;
	char *cache_path; /* parent path of the cached fd ("" = root) */
	int cache_fd;
	struct dir_attr *dirs;
	size_t ndirs, capdirs;
};

/* Cleans a member path into components joined by '/': strips leading "/" and "./", drops "."
 * and empty components, refuses "..". "" means the root itself. */
static int clean_path(const char *in, char **out, struct kc_err *err)
{
	struct kc_str s = KC_STR_INIT;
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			kc_str_free(&s);
			return kc_err_set(err, -KC_EINVAL,
					  "layer: path \"%.200s\" leaves the layer root (..)", in);
		} else {
			if (s.len)
				kc_str_addc(&s, '/');
			kc_str_add(&s, p, n);
		}
		p += n;
	}
	*out = kc_str_detach(&s, NULL);
	return 0;
}

static void close_cache(struct unpack *u)
{
	if (u->cache_fd >= 0 && u->cache_fd != u->root)
		close(u->cache_fd);
	u->cache_fd = -1;
	free(u->cache_path);
	u->cache_path = NULL;
}

/* Opens the directory 'dir' (a cleaned path, "" = root) below the root without following any
 * symlink; creates missing components (mode 0755, root-owned) when 'create'. Returns an fd owned
 * by the cache (do not close) or a negative code. */
static int open_dir(struct unpack *u, const char *dir, bool create, struct kc_err *err)
{
	if (u->cache_path && strcmp(u->cache_path, dir) == 0)
		return u->cache_fd;
	close_cache(u);
	int fd = u->root;
	const char *p = dir;
	int depth = 0;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char name[256];
		if (n >= sizeof(name) || ++depth > MAX_DEPTH) {
			if (fd != u->root)
				close(fd);
			return kc_err_set(err, -KC_ELIMIT,
					  "layer: path \"%.200s\" too long or too deep", dir);
		}
		memcpy(name, p, n);
		name[n] = 0;
		int nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, name, 0755) < 0 && errno != EEXIST) {
				int e2 = errno;
				if (fd != u->root)
					close(fd);
				return kc_err_set(err, -e2, "layer: mkdir %.200s: %s", dir,
						  strerror(e2));
			}
			nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd >= 0)
				fchmod(nfd, 0755); /* whatever the umask */
		}
		if (nfd < 0) {
			int e2 = errno;
			struct stat st;
			bool link = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISLNK(st.st_mode);
			if (fd != u->root)
				close(fd);
			if (link || e2 == ELOOP)
				return kc_err_set(err, -KC_EINVAL,
						  "layer: path \"%.200s\" crosses a symlink", dir);
			if (e2 == ENOTDIR)
				return kc_err_set(err, -KC_EINVAL,
						  "layer: \"%.200s\": a parent is not a directory",
						  dir);
			return kc_err_set(err, -e2, "layer: open %.200s: %s", dir, strerror(e2));
		}
		if (fd != u->root)
			close(fd);
		fd = nfd;
		p += n;
		if (*p == '/')
			p++;
	}
	u->cache_fd = fd;
	u->cache_path = xstrdup(dir);
	return fd;
}

/* Splits "a/b/c" into parent "a/b" and base "c" (parent "" for a top-level name). */
static void split_parent(char *path, const char **parent, const char **base)
{
	char *slash = strrchr(path, '/');
	if (slash) {
		*slash = 0;
		*parent = path;
		*base = slash + 1;
	} else {
		*parent = "";
		*base = path;
	}
}

static bool xattr_allowed(const char *name)
{
	/* overlayfs reads its own xattrs from layer dirs: a layer must not be able to plant them */
	if (kc_has_prefix(name, "trusted.overlay.") || kc_has_prefix(name, "user.overlay."))
		return false;
	return kc_has_prefix(name, "user.") || kc_has_prefix(name, "trusted.") ||
	       kc_has_prefix(name, "security.");
}

static void apply_xattrs(struct unpack *u, int fd, const struct tar_entry *e)
{
	for (size_t i = 0; i < e->nxattrs; i++) {
		const struct tar_xattr *x = &e->xattrs[i];
		if (!xattr_allowed(x->name)) {
			log_debug("layer: xattr skipped path=%s name=%s", e->path, x->name);
			continue;
		}
		if (!u->priv && !kc_has_prefix(x->name, "user."))
			continue;
		if (fsetxattr(fd, x->name, x->value, x->len, 0) < 0)
			log_debug("layer: xattr not set path=%s name=%s err=%s", e->path, x->name,
				  strerror(errno));
	}
}

static int remove_existing(int pfd, const char *base, bool keep_dir, bool *was_dir,
			   bool *removed_dir, struct kc_err *err)
{
	struct stat st;
	*was_dir = false;
	*removed_dir = false;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return kc_err_set(err, -errno, "layer: stat %s: %s", base, strerror(errno));
	}
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir) {
			*was_dir = true;
			return 0;
		}
		int rc = rm_tree_at(pfd, base);
		if (rc < 0)
			return kc_err_set(err, rc, "layer: remove %s: %s", base, strerror(-rc));
		*removed_dir = true;
		return 0;
	}
	if (unlinkat(pfd, base, 0) < 0)
		return kc_err_set(err, -errno, "layer: remove %s: %s", base, strerror(errno));
	return 0;
}

static void remember_dir(struct unpack *u, const char *path, const struct tar_entry *e)
{
	for (size_t i = 0; i < u->ndirs; i++) {
		if (strcmp(u->dirs[i].path, path) == 0) {
			u->dirs[i].mode = e->mode;
			u->dirs[i].mtime = e->mtime;
			u->dirs[i].mtime_nsec = e->mtime_nsec;
			return;
		}
	}
	if (u->ndirs == u->capdirs) {
		u->capdirs = kc_grow_cap(u->capdirs, u->ndirs + 1, sizeof(*u->dirs));
		u->dirs = xrealloc(u->dirs, u->capdirs * sizeof(*u->dirs));
	}
	u->dirs[u->ndirs++] = (struct dir_attr){.path = xstrdup(path),
						.mode = e->mode,
						.mtime = e->mtime,
						.mtime_nsec = e->mtime_nsec};
}

static void times_of(const struct tar_entry *e, struct timespec ts[2])
{
	ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = (long)e->mtime_nsec;
}

static int write_file(struct unpack *u, int pfd, const char *base, struct tar_reader *tr,
		      const struct tar_entry *e, struct kc_err *err)
{
	int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return kc_err_set(err, -errno, "layer: create %.200s: %s", e->path,
				  strerror(errno));
	char buf[65536];
	int rc = 0;
	for (;;) {
		ssize_t k = tar_read(tr, buf, sizeof(buf), err);
		if (k < 0) {
			rc = (int)k;
			break;
		}
		if (k == 0)
			break;
		for (ssize_t off = 0; off < k;) {
			ssize_t w = write(fd, buf + off, (size_t)(k - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = kc_err_set(err, -errno, "layer: write %.200s: %s", e->path,
						strerror(errno));
				goto out;
			}
			off += w;
		}
	}
	if (rc == 0) {
		if (u->priv && fchown(fd, e->uid, e->gid) < 0)
			rc = kc_err_set(err, -errno, "layer: chown %.200s: %s", e->path,
					strerror(errno));
		/* after chown, which clears setuid/setgid */
		else if (fchmod(fd, e->mode) < 0)
			rc = kc_err_set(err, -errno, "layer: chmod %.200s: %s", e->path,
					strerror(errno));
		if (rc == 0) {
			apply_xattrs(u, fd, e);
			struct timespec ts[2];
			times_of(e, ts);
			futimens(fd, ts);
		}
	}
out:
	close(fd);
	return rc;
}

static int do_whiteout(struct unpack *u, const char *parent, const char *name,
		       const struct tar_entry *e, struct kc_err *err)
{
	int pfd = open_dir(u, parent, true, err);
	if (pfd < 0)
		return pfd;
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0; /* this layer has its own entry: it already hides the lower one */
	if (!u->priv)
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "layer: whiteout \"%.200s\" needs root "
				  "(overlayfs whiteouts are 0:0 character devices)",
				  e->path);
	if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return kc_err_set(err, -errno, "layer: whiteout %.200s: %s", e->path,
				  strerror(errno));
	return 0;
}

static int do_opaque(struct unpack *u, const char *dir, const struct tar_entry *e,
		     struct kc_err *err)
{
	int dfd = open_dir(u, dir, true, err);
	if (dfd < 0)
		return dfd;
	const char *name = u->priv ? "trusted.overlay.opaque" : "user.overlay.opaque";
	if (fsetxattr(dfd, name, "y", 1, 0) < 0)
		return kc_err_set(err, -errno, "layer: opaque marker on \"%.200s\": %s", e->path,
				  strerror(errno));
	return 0;
}

static int apply_entry(struct unpack *u, struct tar_reader *tr, const struct tar_entry *e,
		       struct kc_err *err)
{
	char *path;
	int rc = clean_path(e->path, &path, err);
	if (rc < 0)
		return rc;
	if (path[0] == 0) {
		/* the root itself */
		if (e->type == TAR_DIR) {
			if (u->priv && fchown(u->root, e->uid, e->gid) < 0)
				rc = kc_err_set(err, -errno, "layer: chown /: %s", strerror(errno));
			apply_xattrs(u, u->root, e);
			remember_dir(u, "", e);
		} else {
			rc = kc_err_set(err, -KC_EINVAL,
					"layer: the root \"%.200s\" is not a directory", e->path);
		}
		free(path);
		return rc;
	}
	const char *parent, *base;
	split_parent(path, &parent, &base);
	if (strlen(base) > 255) {
		free(path);
		return kc_err_set(err, -KC_ELIMIT, "layer: name too long in \"%.200s\"", e->path);
	}
	if (kc_has_prefix(base, ".wh.")) {
		if (strcmp(base, ".wh..wh..opq") == 0)
			rc = do_opaque(u, parent, e, err);
		else if (kc_has_prefix(base, ".wh..wh."))
			rc = 0; /* aufs bookkeeping (.wh..wh.plnk, ...): not content */
		else if (base[4] == 0 || strcmp(base + 4, ".") == 0 || strcmp(base + 4, "..") == 0)
			rc = kc_err_set(err, -KC_EINVAL, "layer: malformed whiteout \"%.200s\"",
					e->path);
		else
			rc = do_whiteout(u, parent, base + 4, e, err);
		free(path);
		return rc;
	}
	int pfd = open_dir(u, parent, true, err);
	if (pfd < 0) {
		free(path);
		return pfd;
	}
	bool was_dir, removed_dir;
	rc = remove_existing(pfd, base, e->type == TAR_DIR, &was_dir, &removed_dir, err);
	if (rc < 0)
		goto out;
	if (removed_dir) {
		/* the cached directory may have lived inside what was removed */
		char *keep = xstrdup(parent);
		close_cache(u);
		pfd = open_dir(u, keep, true, err);
		free(keep);
		if (pfd < 0) {
			rc = pfd;
			goto out;
		}
	}
	struct timespec ts[2];
	times_of(e, ts);
	switch (e->type) {
	case TAR_DIR: {
		if (!was_dir && mkdirat(pfd, base, 0700) < 0) {
			rc = kc_err_set(err, -errno, "layer: mkdir %.200s: %s", e->path,
					strerror(errno));
			break;
		}
		int dfd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0) {
			rc = kc_err_set(err, -errno, "layer: open %.200s: %s", e->path,
					strerror(errno));
			break;
		}
		if (u->priv && fchown(dfd, e->uid, e->gid) < 0)
			rc = kc_err_set(err, -errno, "layer: chown %.200s: %s", e->path,
					strerror(errno));
		/* writable until the end, when the final mode is set */
		fchmod(dfd, 0700);
		apply_xattrs(u, dfd, e);
		close(dfd);
		/* restore the full path (split_parent cut it) */
		if (parent[0])
			path[strlen(parent)] = '/';
		remember_dir(u, path, e);
		break;
	}
	case TAR_REG:
		rc = write_file(u, pfd, base, tr, e, err);
		break;
	case TAR_SYMLINK:
		if (symlinkat(e->linkpath, pfd, base) < 0) {
			rc = kc_err_set(err, -errno, "layer: symlink %.200s: %s", e->path,
					strerror(errno));
			break;
		}
		if (u->priv && fchownat(pfd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = kc_err_set(err, -errno, "layer: chown %.200s: %s", e->path,
					strerror(errno));
		utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
		break;
	case TAR_LINK: {
		char *target;
		rc = clean_path(e->linkpath, &target, err);
		if (rc < 0)
			break;
		if (!target[0]) {
			free(target);
			rc = kc_err_set(err, -KC_EINVAL, "layer: hard link \"%.200s\" to the root",
					e->path);
			break;
		}
		/* the cache holds pfd; the target's dir is opened separately */
		const char *tparent, *tbase;
		split_parent(target, &tparent, &tbase);
		char *keep_parent = xstrdup(parent);
		int tfd = open_dir(u, tparent, false, err);
		if (tfd < 0) {
			rc = kc_err_set(err, tfd,
					"layer: hard link \"%.200s\": target \"%.200s\" is not in "
					"this layer",
					e->path, e->linkpath);
		} else {
			int dup_t = fcntl(tfd, F_DUPFD_CLOEXEC, 0);
			int lfd = open_dir(u, keep_parent, true, err);
			if (dup_t < 0 || lfd < 0) {
				rc = lfd < 0 ? lfd
					     : kc_err_set(err, -errno, "layer: dup: %s",
							  strerror(errno));
			} else {
				struct stat st;
				if (fstatat(dup_t, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
				    S_ISDIR(st.st_mode))
					rc = kc_err_set(err, -KC_EINVAL,
							"layer: hard link \"%.200s\": target "
							"\"%.200s\" is missing or a directory",
							e->path, e->linkpath);
				else if (linkat(dup_t, tbase, lfd, base, 0) < 0)
					rc = kc_err_set(err, -errno, "layer: link %.200s: %s",
							e->path, strerror(errno));
			}
			if (dup_t >= 0)
				close(dup_t);
		}
		free(keep_parent);
		free(target);
		break;
	}
	case TAR_CHR:
	case TAR_BLK:
	case TAR_FIFO: {
		mode_t fmt = e->type == TAR_CHR ? S_IFCHR : e->type == TAR_BLK ? S_IFBLK : S_IFIFO;
		if (e->type != TAR_FIFO && !u->priv) {
			log_debug("layer: device node skipped (not root) path=%s", e->path);
			break;
		}
		if (mknodat(pfd, base, fmt | 0600, makedev(e->devmajor, e->devminor)) < 0) {
			rc = kc_err_set(err, -errno, "layer: mknod %.200s: %s", e->path,
					strerror(errno));
			break;
		}
		if (u->priv && fchownat(pfd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = kc_err_set(err, -errno, "layer: chown %.200s: %s", e->path,
					strerror(errno));
		else if (fchmodat(pfd, base, e->mode, 0) < 0)
			rc = kc_err_set(err, -errno, "layer: chmod %.200s: %s", e->path,
					strerror(errno));
		utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
		break;
	}
	}
out:
	free(path);
	return rc;
}

static int finish_dirs(struct unpack *u, struct kc_err *err)
{
	for (size_t i = u->ndirs; i-- > 0;) {
		struct dir_attr *d = &u->dirs[i];
		int fd;
		if (d->path[0] == 0) {
			fd = u->root;
		} else {
			fd = open_dir(u, d->path, false, err);
			if (fd < 0)
				return fd;
		}
		if (fchmod(fd, d->mode) < 0)
			return kc_err_set(err, -errno, "layer: chmod %.200s: %s", d->path,
					  strerror(errno));
		struct timespec ts[2] = {{(time_t)d->mtime, (long)d->mtime_nsec},
					 {(time_t)d->mtime, (long)d->mtime_nsec}};
		futimens(fd, ts);
	}
	return 0;
}

int unpack_layer(int rootfd, struct tar_reader *tr, bool privileged, struct kc_err *err)
{
	struct unpack u = {.root = rootfd, .priv = privileged, .cache_fd = -1};
	int rc = 0;
	for (;;) {
		const struct tar_entry *e;
		rc = tar_next(tr, &e, err);
		if (rc <= 0)
			break;
		rc = apply_entry(&u, tr, e, err);
		if (rc < 0)
			break;
	}
	if (rc == 0)
		rc = finish_dirs(&u, err);
	close_cache(&u);
	for (size_t i = 0; i < u.ndirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	return rc;
}
