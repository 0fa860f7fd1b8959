/* fs.h - whole-file reads with a size limit, and crash-safe whole-file writes. */
#ifndef KC_LIB_FS_H
#define KC_LIB_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

/* Reads a regular file of at most 'limit' bytes into a fresh NUL-terminated buffer (*out, free
 * with free(); *len excludes the NUL). On error nothing is returned and any partly read bytes are
 * wiped first (the file may hold a key). Returns 0, -errno or -KC_ETOOBIG, with err filled. */
int kc_read_file(const char *path, size_t limit, unsigned char **out, size_t *len,
		 struct kc_err *err);

/* Replaces 'path' atomically: writes a temporary file in the same directory (created 0600, then
 * set to 'mode'), fsyncs it, renames it over path and fsyncs the directory, so a crash leaves
 * either the old or the new content. Returns 0 or -errno with err filled. */
int kc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct kc_err *err);
/* The same replacement without the fsyncs: readers see the old or the new content, but a
 * power loss may leave either, or an empty file. For files rebuilt after a restart anyway
 * (a pod's /etc/hosts, a container's config): each fsync costs milliseconds on a busy disk. */
int kc_write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
			  struct kc_err *err);

/* mkdir -p: the missing parents 0755, the last 'mode'; an existing directory is fine. Returns 0
 * or -errno (-ENAMETOOLONG past 4095 bytes). */
int kc_mkdir_p(const char *path, mode_t mode);
/* The same, with "mkdir PATH: reason" in err. */
int kc_mkdir_p_err(const char *path, mode_t mode, struct kc_err *err);

/* rm -rf that never crosses into another file system (a mount point below path is left, and
 * the call then returns -EBUSY). A missing path is fine. Returns 0 or -errno. */
int kc_remove_tree(const char *path);

/* fsyncs the directory holding 'path' (makes a rename or create durable). Returns 0 or -errno. */
int kc_fsync_parent_dir(const char *path, struct kc_err *err);

#endif
