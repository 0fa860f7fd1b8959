/* image.h - kc's content-addressed image store under DATA/images: OCI and docker-save archive
 * import, pulling from OCI registries, layers unpacked once in overlayfs form and shared, image
 * references normalized as Kubernetes does, pull policies, and garbage collection.
 *
 * Disk layout (DATA/images/):
 *     blobs/sha256/<hex>   manifests and configs, content-addressed (written atomically, the
 *                          digest checked while writing). Compressed layer blobs are not kept:
 *                          they are unpacked and dropped.
 *     layers/<hex>/        one directory per layer, named by its diff_id (the digest of the
 *                          uncompressed tar), in overlayfs form: whiteouts are 0:0 character
 *                          devices, opaque directories carry trusted.overlay.opaque=y
 *     index.json           the images: manifest digest, config digest (the image id), names,
 *                          layers; replaced atomically under index.lock (flock)
 *     import/              *.tar and *.tar.gz archives imported by image_import_dir at start
 *     tmp/                 downloads and unpacks in progress
 *
 * Threads: a struct image_store may be shared by any number of threads; every call blocks on
 * disk (and pulls on the network), so call them from worker threads, never from an event loop.
 * Several processes may use one data dir at once (`kc image import` beside a running server):
 * writes of the index are serialized by flock and seen by the others at their next call (the
 * index is re-read when its inode, size or mtime changes). */
#ifndef KC_RUNTIME_IMAGE_H
#define KC_RUNTIME_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* ---- references ---- */

#define IMAGE_REF_MAX	 512
#define IMAGE_DIGEST_MAX 72 /* "sha256:" + 64 hex + NUL */

/* A parsed, normalized image reference (a small value type). */
struct image_ref {
	char domain[256]; /* "docker.io", "kc.test", "127.0.0.1:5000" */
	char path[256];	  /* "library/busybox" */
	char tag[129];	  /* the tag given; "latest" when neither tag nor digest was given; ""
			      * for name@digest */
	char digest[IMAGE_DIGEST_MAX]; /* "sha256:<hex>" or "" */
	bool had_tag;		       /* the text named a tag (kept for the pull policy default) */
	char repo[520];		       /* domain/path */
	/* The normalized string: repo:tag, or repo@digest when a digest was given (a tag beside a
	 * digest is dropped, as containerd's ParseDockerRef does). */
	char full[IMAGE_REF_MAX + 80];
};

/* Parses and normalizes a reference the way Kubernetes and containerd do:
 * "busybox" -> "docker.io/library/busybox:latest", "kc.test/busybox:1" stays as is,
 * "index.docker.io/x/y" -> "docker.io/x/y:latest", "name@sha256:<hex>" keeps the digest.
 * Rejects upper case in the repository path, bad tags, malformed digests (only sha256 is
 * accepted), names over 255 characters and bare 64-hex ids. Returns 0 or -KC_EINVAL. */
int image_ref_parse(const char *s, struct image_ref *out, struct kc_err *err);

enum image_pull_policy { IMAGE_PULL_ALWAYS, IMAGE_PULL_IF_NOT_PRESENT, IMAGE_PULL_NEVER };

/* Kubernetes' default for a container without imagePullPolicy: Always when the image's tag is
 * "latest" or absent (and no digest is given), IfNotPresent otherwise. Unparseable references
 * get IfNotPresent (the pull reports the error). */
enum image_pull_policy image_default_pull_policy(const char *image);
/* "Always", "IfNotPresent", "Never" (exact, as the API spells them). Returns 0 or -KC_EINVAL. */
int image_pull_policy_parse(const char *s, enum image_pull_policy *out);

/* ---- registry credentials ---- */

struct image_cred {
	char *server; /* key as written in the config: "registry:5000", "https://index.docker.io/v1/",
			  * "*.example.com/team" */
	char *username;
	char *password;
};

struct image_creds {
	struct image_cred *v;
	size_t n;
};

/* Adds the entries of a kubernetes.io/dockerconfigjson (".dockerconfigjson", {"auths":{...}}) or
 * legacy kubernetes.io/dockercfg ({...}) Secret value to creds. Each entry takes "username" and
 * "password", or "auth" (base64 of "user:password"). Returns 0 or -KC_EPARSE (nothing added). */
int image_creds_add_dockerconfig(struct image_creds *creds, const char *json, size_t len,
				 struct kc_err *err);
/* Adds one entry (strings copied). */
void image_creds_add(struct image_creds *creds, const char *server, const char *user,
		     const char *password);
/* Frees the entries; creds itself is the caller's. */
void image_creds_free(struct image_creds *creds);
/* The entries matching a repository ("127.0.0.1:5000/kc/busybox"), most specific first, as the
 * kubelet's keyring matches them (host with optional glob labels, optional path prefix, scheme
 * and "/v1/" suffixes ignored, docker.io's aliases folded). Returns how many were stored in
 * out (at most max; borrowed from creds). */
size_t image_creds_match(const struct image_creds *creds, const char *repo,
			 const struct image_cred **out, size_t max);

/* ---- the store ---- */

struct image_store;

/* One image as the node agent needs it. Strings and arrays are owned by the struct (free with
 * image_free); string arrays are NULL-terminated, with their count beside them. */
struct image {
	char id[IMAGE_DIGEST_MAX];     /* config digest: "sha256:<hex>" */
	char digest[IMAGE_DIGEST_MAX]; /* manifest digest */
	char **names;		       /* normalized references: repo:tag, repo@digest */
	size_t nnames;
	uint64_t size;	 /* config + layers as stored in the registry */
	int64_t created; /* when it entered this store (unix seconds) */
	/* from the image config */
	char **entrypoint;
	size_t nentrypoint;
	char **cmd;
	size_t ncmd;
	char **env;
	size_t nenv;
	char *working_dir;    /* "" when unset */
	char *user;	      /* "" when unset */
	char *stop_signal;    /* "" when unset */
	char **exposed_ports; /* "80/tcp" */
	size_t nexposed_ports;
	/* layers, base first: diff_ids and their unpacked directories. For overlayfs, lowerdir
	 * lists them top first (reverse this order). */
	char **diff_ids;
	char **layer_dirs;
	size_t nlayers;
};

void image_free(struct image *img);
void image_list_free(struct image **imgs, size_t n);

struct image_store_opts {
	/* registries reached over plain HTTP besides localhost, 127.0.0.0/8 and [::1]
	 * ("host:port" or "host"), borrowed */
	const char *const *insecure_registries;
	size_t ninsecure;
	/* PEM bundle of trusted CAs for https registries; NULL: the system bundle
	 * (/etc/ssl/certs/ca-certificates.crt) */
	const char *ca_file;
	/* Test hook: the platform to pick from manifest lists; NULL: the build's (linux/amd64). */
	const char *arch;
};

/* Opens (creating what is missing) the store under data_dir/images. opts may be NULL (copied).
 * Returns 0 with *out (free with image_store_close), or -errno with err set. */
int image_store_open(const char *data_dir, const struct image_store_opts *opts,
		     struct image_store **out, struct kc_err *err);
void image_store_close(struct image_store *s);
/* DATA/images, borrowed. */
const char *image_store_dir(const struct image_store *s);

/* Finds an image by reference (normalized first: "busybox" finds
 * docker.io/library/busybox:latest), by repo@digest (manifest digest), or by id ("sha256:<hex>",
 * or a unique prefix of at least 12 hex digits of it). Returns 0 with *out (image_free), or
 * -KC_ENOTFOUND, or another negative code (a damaged store). */
int image_lookup(struct image_store *s, const char *ref, struct image **out, struct kc_err *err);

/* Imports every image of an archive: docker save (before and since Docker 25) or an OCI image
 * layout, as a tar file, optionally gzip-compressed. Blobs and layers are verified (manifest,
 * config and layer digests, diff_ids). names (may be NULL) receives the names imported, one
 * string each, NULL-terminated (free with image_strv_free); unnamed images are listed by id.
 * Returns 0, or -KC_EPARSE/-KC_EINVAL (not an image archive, digest mismatch...), -KC_ELIMIT,
 * -KC_EUNSUPPORTED (zstd layers), -errno. On error no name is added to the index. */
int image_import_file(struct image_store *s, const char *path, char ***names, struct kc_err *err);

/* Imports each *.tar / *.tar.gz / *.tgz under DATA/images/import/ not imported before in its
 * current size and mtime (recorded in import/.imported). A bad file is logged and skipped.
 * Returns the number of files imported (>= 0), or -errno when the folder cannot be read. */
int image_import_dir(struct image_store *s, struct kc_err *err);

struct image_pull_opts {
	const struct image_creds *creds; /* borrowed; NULL: anonymous */
	uint32_t timeout_ms;		 /* per request; 0: 60 s (blobs: idle timeout) */
};

/* Pulls ref from its registry (https, or http for local and insecure registries): manifest or
 * index (linux/amd64 is picked), config, then each layer not already unpacked, streamed to disk
 * and unpacked. Token auth (Bearer) and Basic auth use the matching credentials, else anonymous
 * access. Digests are verified throughout. Returns 0 with *out (may be NULL: not returned), or
 * -KC_ENOTFOUND (no such manifest), -KC_EPROTO (registry error), -KC_ECRYPTO (digest
 * mismatch), -EACCES (unauthorized), network codes. */
int image_pull(struct image_store *s, const char *ref, const struct image_pull_opts *opts,
	       struct image **out, struct kc_err *err);

/* What the kubelet does before starting a container: applies the policy (Never: present or
 * -KC_ENOTFOUND with "ErrImageNeverPull" in err; IfNotPresent: present, else pull; Always:
 * pull, which only fetches the manifest when the layers are already here). */
int image_ensure(struct image_store *s, const char *ref, enum image_pull_policy policy,
		 const struct image_pull_opts *opts, struct image **out, struct kc_err *err);

/* All images, sorted by first name (unnamed last). Returns 0 with *out and *n (image_list_free). */
int image_list(struct image_store *s, struct image ***out, size_t *n, struct kc_err *err);

/* Removes the image ref resolves to (all its names, as crictl rmi does), then every blob and
 * layer no remaining image uses. The caller must not remove an image a container uses.
 * Returns 0 or -KC_ENOTFOUND. */
int image_remove(struct image_store *s, const char *ref, struct kc_err *err);

struct image_gc_opts {
	/* Image GC runs when usage >= high_percent of the filesystem holding DATA/images and
	 * removes unused images, least recently used first, until usage < low_percent (the
	 * kubelet's imageGCHighThresholdPercent / imageGCLowThresholdPercent: 85 / 80). 0 means
	 * those defaults; high_percent 100 only sweeps unreferenced blobs and layers. */
	int high_percent;
	int low_percent;
	/* images in use (references or ids as image_lookup takes them); borrowed */
	const char *const *in_use;
	size_t nin_use;
	/* Test hook: reports used and total bytes instead of statvfs; NULL: statvfs. */
	int (*usage)(void *arg, uint64_t *used, uint64_t *total);
	void *usage_arg;
};

struct image_gc_stats {
	size_t images_removed;
	size_t layers_removed;
	size_t blobs_removed;
	uint64_t bytes_freed; /* estimated from the removed images' sizes */
};

/* Removes unused images above the threshold, then sweeps unreferenced blobs and layers. A sweep
 * is skipped while another process imports or pulls (they hold gc.lock shared). Returns 0 or a
 * negative code. */
int image_gc(struct image_store *s, const struct image_gc_opts *opts, struct image_gc_stats *st,
	     struct kc_err *err);

void image_strv_free(char **v);

#endif
