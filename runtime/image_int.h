/* image_int.h - declarations shared by the image store's files (image_store.c, image_unpack.c,
 * image_import.c, image_pull.c); not for other modules. */
#ifndef KC_RUNTIME_IMAGE_INT_H
#define KC_RUNTIME_IMAGE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/crypto.h"
#include "runtime/image.h"
#include "runtime/tar.h"

#define IMAGE_JSON_MAX	       ((size_t)4 << 20) /* manifests, configs, indexes, manifest.json */
#define IMAGE_MAX_LAYERS       256
#define IMAGE_MAX_INDEX_IMAGES 10000

/* One image in index.json. */
struct idx_image {
	char digest[IMAGE_DIGEST_MAX]; /* manifest */
	char id[IMAGE_DIGEST_MAX];     /* config */
	char **names;		       /* NULL-terminated */
	size_t nnames;
	char **layers; /* diff_ids, base first, NULL-terminated */
	size_t nlayers;
	uint64_t size;
	int64_t created;
	int64_t last_used;
};

struct idx {
	struct idx_image *v;
	size_t n;
};

struct image_store {
	char *dir, *blobs_dir, *layers_dir, *tmp_dir, *index_path, *lock_path, *gc_lock_path,
		*import_dir;
	char **insecure; /* NULL-terminated copies */
	char *ca_file;
	char *arch;
	bool privileged; /* euid 0: ownership, devices, trusted.* xattrs */
	pthread_mutex_t mu;
	struct idx cache; /* guarded by mu */
	bool cache_valid;
	dev_t cache_dev;
	ino_t cache_ino;
	off_t cache_size;
	struct timespec cache_mtime;
};

/* A parsed image manifest (OCI or Docker schema 2). */
struct manifest_layer {
	char digest[IMAGE_DIGEST_MAX];
	char media_type[128];
	uint64_t size;
};
struct manifest {
	char config[IMAGE_DIGEST_MAX];
	uint64_t config_size;
	struct manifest_layer *layers;
	size_t nlayers;
};

/* ---- image_store.c ---- */

bool digest_valid(const char *d);
const char *digest_hex(const char *d); /* the part after "sha256:" */
void digest_format(const uint8_t raw[KC_SHA256_LEN], char out[IMAGE_DIGEST_MAX]);

void idx_free(struct idx *x);
void idx_image_clear(struct idx_image *im);

/* Applies fn to the on-disk index under index.lock (exclusive flock) and writes the result
 * atomically when fn returns > 0 (0: no change, < 0: abort with that code). */
int index_update(struct image_store *s, int (*fn)(struct idx *x, void *arg, struct kc_err *err),
		 void *arg, struct kc_err *err);

/* Records an image: its names move to it from any other image. names NULL-terminated. */
int store_commit_image(struct image_store *s, const char *manifest_digest,
		       const char *config_digest, char *const *diff_ids, size_t nlayers,
		       uint64_t size, char *const *names, struct kc_err *err);

/* Blobs: put verifies 'expect' (may be NULL) and writes blobs/sha256/<hex> unless present;
 * out (may be NULL) gets the digest. get reads and verifies a blob of at most limit bytes. */
int blob_put(struct image_store *s, const void *data, size_t len, const char *expect,
	     char out[IMAGE_DIGEST_MAX], struct kc_err *err);
int blob_get(struct image_store *s, const char *digest, size_t limit, char **data, size_t *len,
	     struct kc_err *err);

/* A temporary file under tmp/ (O_RDWR, unlinked by the caller). */
int tmp_file(struct image_store *s, char **path, struct kc_err *err);

bool layer_present(struct image_store *s, const char *diff_id);

/* Unpacks a layer blob (fd, or data/len when fd < 0) into layers/<diff_id hex>: verifies the
 * blob against blob_digest (may be NULL: not checked) and the uncompressed tar against diff_id,
 * writes a temporary directory and renames it into place. Present already: returns 0 at once. */
int layer_unpack(struct image_store *s, const char *diff_id, int fd, const void *data, size_t len,
		 const char *blob_digest, struct kc_err *err);

/* Removes a directory tree without following symlinks (dirfd-relative). */
int rm_tree_at(int dirfd, const char *name);

/* The shared gc.lock held while importing or pulling (so a sweep never removes a layer an
 * import counts on). Returns the fd (close to release) or -errno. */
int gc_lock_shared(struct image_store *s, struct kc_err *err);

/* Parses a manifest; rejects unknown layer media types and more than IMAGE_MAX_LAYERS layers. */
int manifest_parse(const char *buf, size_t len, struct manifest *m, struct kc_err *err);
void manifest_free(struct manifest *m);
/* Parses a config's rootfs.diff_ids into a NULL-terminated array. */
int config_diff_ids(const char *buf, size_t len, char ***ids, size_t *n, struct kc_err *err);

/* ---- image_unpack.c ---- */

/* Applies one layer tar (in overlayfs form) below rootfd, an empty directory. */
int unpack_layer(int rootfd, struct tar_reader *tr, bool privileged, struct kc_err *err);

#endif
