/* DESIGN: pinned network namespaces. Creation runs on a helper thread (nl_run_in_netns with no
 * namespace to join): the thread unshares CLONE_NEWNET, which only affects itself, brings the
 * loopback up through a netlink socket it opens there, and bind-mounts its own
 * /proc/self/task/<tid>/ns/net onto DIR/<name>. The thread then exits and the mount alone keeps
 * the namespace alive: no process per pod.
 *
 * The pin file is created with O_EXCL before the namespace, so two creators of one name cannot
 * both win; a crash between the file and the mount leaves a plain empty file, which
 * rt_netns_open reports as not pinned and rt_netns_delete/rt_netns_list handle like any other. */
#include "runtime/netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/fs.h"
#include "net/netlink.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
/* Entries rt_netns_list accepts before it calls the directory abuse. */
#define NETNS_LIST_MAX 100000

bool rt_netns_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > RT_NETNS_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int ns_path(const char *dir, const char *name, char *path, size_t cap, struct kc_err *err)
{
	if (!rt_netns_name_ok(name))
		return kc_err_set(err, -KC_EINVAL, "bad network namespace name '%s'", name);
	int n = snprintf(path, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return kc_err_set(err, -KC_EINVAL, "network namespace path too long");
	return 0;
}

int rt_netns_dir_prepare(const char *dir, struct kc_err *err)
{
	int rc = kc_mkdir_p_err(dir, 0755, err);
	if (rc)
		return rc;
	bool bound = false;
	while (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0) {
		/* EINVAL: not a mount point yet; make it one by binding it onto itself. */
		if (errno != EINVAL || bound)
			return kc_err_set(err, -errno, "make %s a shared mount: %s", dir,
					  strerror(errno));
		if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0)
			return kc_err_set(err, -errno, "bind mount %s: %s", dir, strerror(errno));
		bound = true;
	}
	return 0;
}

static bool is_pinned(const char *path)
{
	struct statfs st;
	return statfs(path, &st) == 0 && (unsigned long)st.f_type == NSFS_MAGIC;
}

int rt_netns_dir_release(const char *dir, struct kc_err *err)
{
	char **names;
	size_t n;
	int rc = rt_netns_list(dir, &names, &n, err);
	if (rc)
		return rc;
	rt_netns_list_free(names, n);
	if (n)
		return kc_err_set(err, -KC_EEXIST, "%s still holds %zu namespaces", dir, n);
	/* EINVAL: not a mount point (never prepared, or already released). */
	if (umount2(dir, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return kc_err_set(err, -errno, "umount %s: %s", dir, strerror(errno));
	return 0;
}

static int pin_fn(void *arg, struct kc_err *err)
{
	const char *path = arg;
	if (unshare(CLONE_NEWNET) < 0)
		return kc_err_set(err, -errno, "unshare(CLONE_NEWNET): %s", strerror(errno));
	struct nl_sock *nl;
	int rc = nl_open(&nl, err);
	if (rc)
		return rc;
	struct nl_link lo;
	rc = nl_link_get(nl, "lo", &lo, err);
	if (rc == 0)
		rc = nl_link_set_up(nl, lo.ifindex, true, err);
	nl_close(nl);
	if (rc)
		return rc;
	char self[64];
	snprintf(self, sizeof self, "/proc/self/task/%ld/ns/net", (long)syscall(SYS_gettid));
	if (mount(self, path, "none", MS_BIND, NULL) < 0)
		return kc_err_set(err, -errno, "bind mount %s: %s", path, strerror(errno));
	return 0;
}

int rt_netns_create(const char *dir, const char *name, struct kc_err *err)
{
	char path[PATH_MAX];
	int rc = ns_path(dir, name, path, sizeof path, err);
	if (rc)
		return rc;
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return kc_err_set(err, -errno, "create %s: %s", path, strerror(errno));
	close(fd);
	rc = nl_run_in_netns(-1, pin_fn, path, err);
	if (rc) {
		kc_err_wrap(err, "network namespace %s", name);
		unlink(path);
	}
	return rc;
}

int rt_netns_open(const char *dir, const char *name, int *fd, struct kc_err *err)
{
	*fd = -1;
	char path[PATH_MAX];
	int rc = ns_path(dir, name, path, sizeof path, err);
	if (rc)
		return rc;
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return kc_err_set(err, -errno, "open %s: %s", path, strerror(errno));
	struct statfs st;
	if (fstatfs(f, &st) < 0 || (unsigned long)st.f_type != NSFS_MAGIC) {
		close(f);
		return kc_err_set(err, -KC_ENOTFOUND, "%s is not a pinned network namespace", path);
	}
	*fd = f;
	return 0;
}

bool rt_netns_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];
	return ns_path(dir, name, path, sizeof path, NULL) == 0 && is_pinned(path);
}

int rt_netns_delete(const char *dir, const char *name, struct kc_err *err)
{
	char path[PATH_MAX];
	int rc = ns_path(dir, name, path, sizeof path, err);
	if (rc)
		return rc;
	/* EINVAL: not mounted (a crash leftover, or a second delete racing the first). Several
	 * stacked mounts are possible if someone pinned it twice: unmount them all. */
	int i = 0;
	while (umount2(path, MNT_DETACH) == 0)
		if (++i == 16)
			return kc_err_set(err, -KC_ELIMIT, "umount %s: mounted too many times",
					  path);
	if (errno != EINVAL && errno != ENOENT)
		return kc_err_set(err, -errno, "umount %s: %s", path, strerror(errno));
	if (unlink(path) < 0 && errno != ENOENT)
		return kc_err_set(err, -errno, "unlink %s: %s", path, strerror(errno));
	return 0;
}

int rt_netns_list(const char *dir, char ***names, size_t *n, struct kc_err *err)
{
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return kc_err_set(err, -errno, "open %s: %s", dir, strerror(errno));
	}
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!rt_netns_name_ok(e->d_name))
			continue;
		if (*n >= NETNS_LIST_MAX) {
			closedir(d);
			rt_netns_list_free(*names, *n);
			*names = NULL;
			*n = 0;
			return kc_err_set(err, -KC_ELIMIT, "%s: too many entries", dir);
		}
		if (*n == cap) {
			cap = kc_grow_cap(cap, *n + 1, sizeof(char *));
			*names = xrealloc(*names, cap * sizeof(char *));
		}
		(*names)[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	return 0;
}

void rt_netns_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
