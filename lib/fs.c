/* DESIGN: the file helpers every module uses to persist small files (certificates, keys,
 * kubeconfig, tokens): bounded reads and the temp + fsync + rename + fsync-dir write. No state;
 * safe from any thread. */
#include "lib/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"


/* Reads a whole file of at most 'limit' bytes into a fresh NUL-terminated buffer. */
int kc_read_file(const char *path, size_t limit, unsigned char **out, size_t *len,
		 struct kc_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_err_set(err, -errno, "open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return kc_err_set(err, -e, "stat %s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > limit) {
		close(fd);
		return kc_err_set(err, -KC_ETOOBIG, "%s: not a regular file of at most %zu bytes",
				  path, limit);
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	unsigned char *buf = xmalloc(cap);
	for (;;) {
		if (n == cap - 1) {
			/* The file grew since fstat; allow up to the limit. */
			if (cap - 1 >= limit) {
				explicit_bzero(buf, n);
				free(buf);
				close(fd);
				return kc_err_set(err, -KC_ETOOBIG, "%s: larger than %zu bytes",
						  path, limit);
			}
			cap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			explicit_bzero(buf, n);
			free(buf);
			close(fd);
			return kc_err_set(err, -e, "read %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int kc_fsync_parent_dir(const char *path, struct kc_err *err)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		size_t n = (size_t)(slash - path);
		if (n >= sizeof dir)
			return kc_err_set(err, -ENAMETOOLONG, "%s: path too long", path);
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kc_err_set(err, -errno, "open %s: %s", dir, strerror(errno));
	int rc = 0;
	if (fsync(fd) < 0)
		rc = kc_err_set(err, -errno, "fsync %s: %s", dir, strerror(errno));
	close(fd);
	return rc;
}

static int write_replace(const char *path, const void *data, size_t len, mode_t mode, bool durable,
			 struct kc_err *err)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int rc = 0;
	/* mkostemp creates the file 0600, so a key is never readable by others, not even
	 * briefly; certificates are widened with fchmod. */
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = kc_err_set(err, -errno, "create %s: %s", tmp, strerror(errno));
		goto out_free;
	}
	if (fchmod(fd, mode) < 0) {
		rc = kc_err_set(err, -errno, "chmod %s: %s", tmp, strerror(errno));
		goto out_close;
	}
	const unsigned char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = kc_err_set(err, -errno, "write %s: %s", tmp, strerror(errno));
			goto out_close;
		}
		p += w;
		left -= (size_t)w;
	}
	if (durable && fsync(fd) < 0) {
		rc = kc_err_set(err, -errno, "fsync %s: %s", tmp, strerror(errno));
		goto out_close;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = kc_err_set(err, -errno, "close %s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = kc_err_set(err, -errno, "rename %s to %s: %s", tmp, path, strerror(errno));
		goto out_unlink;
	}
	if (durable)
		rc = kc_fsync_parent_dir(path, err);
	goto out_free;
out_close:
	close(fd);
out_unlink:
	unlink(tmp);
out_free:
	free(tmp);
	return rc;
}

int kc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct kc_err *err)
{
	return write_replace(path, data, len, mode, true, err);
}

int kc_write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
			  struct kc_err *err)
{
	return write_replace(path, data, len, mode, false, err);
}

int kc_mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp)
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	return mkdir(tmp, mode) < 0 && errno != EEXIST ? -errno : 0;
}

int kc_mkdir_p_err(const char *path, mode_t mode, struct kc_err *err)
{
	int rc = kc_mkdir_p(path, mode);
	return rc < 0 ? kc_err_set(err, rc, "mkdir %s: %s", path, strerror(-rc)) : 0;
}

/* rm -rf that never crosses into another file system (mount points are left alone). */
static int tree_remove_at(int dfd, const char *name, dev_t dev, int depth)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	if (st.st_dev != dev || depth > 256)
		return -EBUSY;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = tree_remove_at(fd, de->d_name, dev, depth + 1);
		if (r < 0)
			rc = r;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int kc_remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return tree_remove_at(AT_FDCWD, path, st.st_dev, 0);
}
