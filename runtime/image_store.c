/* image_store.c - the image store on disk: blobs, the index, layers, lookups, removal and GC.
 *
 * DESIGN: the disk is the truth and is shared between processes. index.json is only ever
 * replaced whole (temp + fsync + rename) while index.lock is held exclusively, so readers never
 * see a torn file and need no lock; each process caches the parsed index and re-reads it when
 * the file's inode, size or mtime changes (a rename always gives a new inode), which is how a
 * server sees `kc image import` at once. Blobs are immutable once renamed into place; layer
 * directories are unpacked under tmp/ and renamed into layers/ (the loser of a race deletes its
 * copy). gc.lock is held shared by every import and pull and exclusively by the sweep, so the
 * sweep never deletes a layer an import is about to record. A mutex guards the cache for the
 * threads of one process. */
#include "runtime/image_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/map.h"
#include "lib/log.h"
#include "lib/str.h"
#include "runtime/tar_input.h"

#define INDEX_MAX ((size_t)64 << 20)

/* ---- small helpers ---- */

bool digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

const char *digest_hex(const char *d)
{
	return d + 7;
}

void digest_format(const uint8_t raw[KC_SHA256_LEN], char out[IMAGE_DIGEST_MAX])
{
	memcpy(out, "sha256:", 7);
	kc_hex_encode(raw, KC_SHA256_LEN, out + 7);
}

void image_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static char **strv_dup(char *const *v, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void strv_push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

static int64_t now_sec(void)
{
	return (int64_t)time(NULL);
}

void idx_image_clear(struct idx_image *im)
{
	image_strv_free(im->names);
	image_strv_free(im->layers);
	memset(im, 0, sizeof(*im));
}

void idx_free(struct idx *x)
{
	for (size_t i = 0; i < x->n; i++)
		idx_image_clear(&x->v[i]);
	free(x->v);
	x->v = NULL;
	x->n = 0;
}

static void idx_copy(struct idx *dst, const struct idx *src)
{
	dst->n = src->n;
	dst->v = xcalloc(src->n ? src->n : 1, sizeof(*dst->v));
	for (size_t i = 0; i < src->n; i++) {
		const struct idx_image *a = &src->v[i];
		struct idx_image *b = &dst->v[i];
		*b = *a;
		b->names = strv_dup(a->names, a->nnames);
		b->layers = strv_dup(a->layers, a->nlayers);
	}
}

/* ---- rm -rf without following symlinks ---- */

static int rm_tree_fd(int dfd, int depth)
{
	if (depth > 512)
		return -ELOOP;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		return -e;
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int r = rm_tree_at(dirfd(d), de->d_name);
		if (r < 0 && rc == 0)
			rc = r;
		(void)depth;
	}
	closedir(d);
	return rc;
}

int rm_tree_at(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* a directory made read-only by a layer: the owner may still open it up */
	fchmod(fd, 0700);
	int rc = rm_tree_fd(fd, 0);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && rc == 0)
		rc = -errno;
	return rc;
}

/* Removes DIR/name by renaming it into tmp/ first, so it disappears atomically. */
static int remove_dir_atomic(struct image_store *s, const char *dir, const char *name)
{
	char *from = xasprintf("%s/%s", dir, name);
	char tmpl[64];
	uint8_t rnd[8];
	kc_random_bytes(rnd, sizeof(rnd));
	char hex[17];
	kc_hex_encode(rnd, sizeof(rnd), hex);
	snprintf(tmpl, sizeof(tmpl), "rm-%s", hex);
	char *to = xasprintf("%s/%s", s->tmp_dir, tmpl);
	int rc = 0;
	if (rename(from, to) < 0) {
		rc = errno == ENOENT ? 0 : -errno;
	} else {
		int tfd = open(s->tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tfd >= 0) {
			rc = rm_tree_at(tfd, tmpl);
			close(tfd);
		}
	}
	free(from);
	free(to);
	return rc;
}

/* ---- open/close ---- */

/* Removes leftovers in tmp/ older than an hour (an import killed half-way). */
static void clean_tmp(struct image_store *s)
{
	int fd = open(s->tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	time_t limit = time(NULL) - 3600;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime < limit)
			rm_tree_at(dirfd(d), de->d_name);
	}
	closedir(d);
}

int image_store_open(const char *data_dir, const struct image_store_opts *opts,
		     struct image_store **out, struct kc_err *err)
{
	*out = NULL;
	struct image_store *s = xcalloc(1, sizeof(*s));
	s->dir = xasprintf("%s/images", data_dir);
	s->blobs_dir = xasprintf("%s/blobs/sha256", s->dir);
	s->layers_dir = xasprintf("%s/layers", s->dir);
	s->tmp_dir = xasprintf("%s/tmp", s->dir);
	s->import_dir = xasprintf("%s/import", s->dir);
	s->index_path = xasprintf("%s/index.json", s->dir);
	s->lock_path = xasprintf("%s/index.lock", s->dir);
	s->gc_lock_path = xasprintf("%s/gc.lock", s->dir);
	s->privileged = geteuid() == 0;
	pthread_mutex_init(&s->mu, NULL);
	size_t ni = opts ? opts->ninsecure : 0;
	s->insecure = xcalloc(ni + 1, sizeof(char *));
	for (size_t i = 0; i < ni; i++)
		s->insecure[i] = xstrdup(opts->insecure_registries[i]);
	s->ca_file = xstrdup(opts && opts->ca_file ? opts->ca_file
						   : "/etc/ssl/certs/ca-certificates.crt");
	s->arch = xstrdup(opts && opts->arch ? opts->arch
#if defined(__aarch64__)
					     : "arm64"
#else
					     : "amd64"
#endif
	);
	int rc = 0;
	const char *dirs[] = {s->blobs_dir, s->layers_dir, s->tmp_dir, s->import_dir};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && rc == 0; i++)
		rc = kc_mkdir_p_err(dirs[i], 0755, err);
	if (rc < 0) {
		image_store_close(s);
		return rc;
	}
	clean_tmp(s);
	*out = s;
	return 0;
}

void image_store_close(struct image_store *s)
{
	if (!s)
		return;
	idx_free(&s->cache);
	pthread_mutex_destroy(&s->mu);
	free(s->dir);
	free(s->blobs_dir);
	free(s->layers_dir);
	free(s->tmp_dir);
	free(s->import_dir);
	free(s->index_path);
	free(s->lock_path);
	free(s->gc_lock_path);
	image_strv_free(s->insecure);
	free(s->ca_file);
	free(s->arch);
	free(s);
}

const char *image_store_dir(const struct image_store *s)
{
	return s->dir;
}

/* ---- the index ---- */

static int json_strv(const cJSON *arr, char ***out, size_t *n, bool digests, struct kc_err *err)
{
	*out = xcalloc(1, sizeof(char *));
	*n = 0;
	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return kc_err_set(err, -KC_EPARSE, "index: expected an array");
	const cJSON *e;
	cJSON_ArrayForEach(e, arr)
	{
		if (!cJSON_IsString(e) || (digests && !digest_valid(e->valuestring)))
			return kc_err_set(err, -KC_EPARSE, "index: bad array element");
		strv_push(out, n, e->valuestring);
	}
	return 0;
}

static int idx_parse(const char *buf, size_t len, struct idx *x, struct kc_err *err)
{
	memset(x, 0, sizeof(*x));
	struct kc_json_limits lim = {.max_bytes = INDEX_MAX, .max_depth = 8};
	cJSON *root;
	int rc = kc_json_parse(buf, len, &lim, &root, err);
	if (rc < 0)
		return kc_err_wrap(err, "index.json");
	const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(root, "images");
	if (imgs && !cJSON_IsArray(imgs)) {
		cJSON_Delete(root);
		return kc_err_set(err, -KC_EPARSE, "index.json: \"images\" is not an array");
	}
	size_t cnt = imgs ? (size_t)cJSON_GetArraySize(imgs) : 0;
	x->v = xcalloc(cnt ? cnt : 1, sizeof(*x->v));
	const cJSON *e;
	cJSON_ArrayForEach(e, imgs)
	{
		struct idx_image *im = &x->v[x->n++];
		const char *d = kc_json_get_str(e, "digest"), *id = kc_json_get_str(e, "id");
		long long v;
		if (!digest_valid(d) || !digest_valid(id)) {
			rc = kc_err_set(err, -KC_EPARSE,
					"index.json: image without a valid digest or id");
			break;
		}
		snprintf(im->digest, sizeof(im->digest), "%s", d);
		snprintf(im->id, sizeof(im->id), "%s", id);
		rc = json_strv(kc_json_get(e, "names"), &im->names, &im->nnames, false, err);
		if (rc == 0)
			rc = json_strv(kc_json_get(e, "layers"), &im->layers, &im->nlayers, true,
				       err);
		if (rc < 0)
			break;
		if (kc_json_get_i64(e, "size", &v) == 0 && v >= 0)
			im->size = (uint64_t)v;
		if (kc_json_get_i64(e, "created", &v) == 0)
			im->created = v;
		if (kc_json_get_i64(e, "lastUsed", &v) == 0)
			im->last_used = v;
	}
	cJSON_Delete(root);
	if (rc < 0)
		idx_free(x);
	return rc;
}

static char *idx_render(const struct idx *x)
{
	struct kc_str o = KC_STR_INIT;
	kc_str_adds(&o, "{\"version\":1,\"images\":[");
	for (size_t i = 0; i < x->n; i++) {
		const struct idx_image *im = &x->v[i];
		kc_str_adds(&o, i ? ",\n{" : "\n{");
		kc_str_addf(&o, "\"digest\":\"%s\",\"id\":\"%s\",\"names\":[", im->digest, im->id);
		for (size_t j = 0; j < im->nnames; j++) {
			if (j)
				kc_str_addc(&o, ',');
			kc_json_write_string(&o, im->names[j]);
		}
		kc_str_adds(&o, "],\"layers\":[");
		for (size_t j = 0; j < im->nlayers; j++)
			kc_str_addf(&o, "%s\"%s\"", j ? "," : "", im->layers[j]);
		kc_str_addf(&o, "],\"size\":%llu,\"created\":%lld,\"lastUsed\":%lld}",
			    (unsigned long long)im->size, (long long)im->created,
			    (long long)im->last_used);
	}
	kc_str_adds(&o, "\n]}\n");
	return kc_str_detach(&o, NULL);
}

/* Reads index.json (missing: empty). */
static int idx_read_file(struct image_store *s, struct idx *x, struct stat *st_out,
			 struct kc_err *err)
{
	memset(x, 0, sizeof(*x));
	int fd = open(s->index_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			if (st_out)
				memset(st_out, 0, sizeof(*st_out));
			return 0;
		}
		return kc_err_set(err, -errno, "open %s: %s", s->index_path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > INDEX_MAX) {
		close(fd);
		return kc_err_set(err, -KC_ETOOBIG, "%s: unreadable or too large", s->index_path);
	}
	char *buf = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	int rc = idx_parse(buf, got, x, err);
	free(buf);
	if (rc == 0 && st_out)
		*st_out = st;
	return rc;
}

/* Refreshes the cache when index.json changed. Called with s->mu held. */
static int cache_refresh(struct image_store *s, struct kc_err *err)
{
	struct stat st;
	if (stat(s->index_path, &st) < 0) {
		if (errno != ENOENT)
			return kc_err_set(err, -errno, "stat %s: %s", s->index_path,
					  strerror(errno));
		memset(&st, 0, sizeof(st));
	}
	if (s->cache_valid && st.st_dev == s->cache_dev && st.st_ino == s->cache_ino &&
	    st.st_size == s->cache_size && st.st_mtim.tv_sec == s->cache_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == s->cache_mtime.tv_nsec)
		return 0;
	struct idx x;
	struct stat st2;
	int rc = idx_read_file(s, &x, &st2, err);
	if (rc < 0)
		return rc;
	idx_free(&s->cache);
	s->cache = x;
	s->cache_valid = true;
	s->cache_dev = st2.st_dev;
	s->cache_ino = st2.st_ino;
	s->cache_size = st2.st_size;
	s->cache_mtime = st2.st_mtim;
	return 0;
}

/* A private copy of the current index. */
static int idx_snapshot(struct image_store *s, struct idx *out, struct kc_err *err)
{
	pthread_mutex_lock(&s->mu);
	int rc = cache_refresh(s, err);
	if (rc == 0)
		idx_copy(out, &s->cache);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int lock_file(const char *path, int op, struct kc_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return kc_err_set(err, -errno, "open %s: %s", path, strerror(errno));
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return -KC_EAGAIN;
		return kc_err_set(err, -e, "flock %s: %s", path, strerror(e));
	}
	return fd;
}

int gc_lock_shared(struct image_store *s, struct kc_err *err)
{
	return lock_file(s->gc_lock_path, LOCK_SH, err);
}

int index_update(struct image_store *s, int (*fn)(struct idx *x, void *arg, struct kc_err *err),
		 void *arg, struct kc_err *err)
{
	int lfd = lock_file(s->lock_path, LOCK_EX, err);
	if (lfd < 0)
		return lfd;
	struct idx x;
	int rc = idx_read_file(s, &x, NULL, err);
	if (rc == 0) {
		rc = fn(&x, arg, err);
		if (rc > 0) {
			char *text = idx_render(&x);
			rc = kc_write_file_atomic(s->index_path, text, strlen(text), 0644, err);
			free(text);
		}
	}
	idx_free(&x);
	close(lfd);
	if (rc >= 0) {
		/* make this process see its own write at once */
		pthread_mutex_lock(&s->mu);
		s->cache_valid = false;
		pthread_mutex_unlock(&s->mu);
	}
	return rc < 0 ? rc : 0;
}

struct commit_arg {
	const char *digest, *id;
	char *const *layers;
	size_t nlayers;
	uint64_t size;
	char *const *names;
};

static void drop_name(struct idx_image *im, const char *name)
{
	for (size_t j = 0; j < im->nnames; j++) {
		if (strcmp(im->names[j], name) == 0) {
			free(im->names[j]);
			memmove(&im->names[j], &im->names[j + 1],
				(im->nnames - j) * sizeof(char *));
			im->nnames--;
			return;
		}
	}
}

static int commit_fn(struct idx *x, void *arg, struct kc_err *err)
{
	struct commit_arg *a = arg;
	struct idx_image *target = NULL;
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->v[i].digest, a->digest) == 0)
			target = &x->v[i];
	/* names move here from other images */
	for (char *const *n = a->names; n && *n; n++)
		for (size_t i = 0; i < x->n; i++)
			if (&x->v[i] != target)
				drop_name(&x->v[i], *n);
	/* drop images left without names whose manifest is re-imported under another digest? no:
	 * unnamed images stay (docker's <none>) until removed or collected */
	if (!target) {
		if (x->n >= IMAGE_MAX_INDEX_IMAGES)
			return kc_err_set(err, -KC_ELIMIT, "image store: more than %d images",
					  IMAGE_MAX_INDEX_IMAGES);
		x->v = xrealloc(x->v, (x->n + 1) * sizeof(*x->v));
		target = &x->v[x->n++];
		memset(target, 0, sizeof(*target));
		snprintf(target->digest, sizeof(target->digest), "%s", a->digest);
		target->names = xcalloc(1, sizeof(char *));
		target->created = now_sec();
	}
	snprintf(target->id, sizeof(target->id), "%s", a->id);
	image_strv_free(target->layers);
	target->layers = strv_dup(a->layers, a->nlayers);
	target->nlayers = a->nlayers;
	target->size = a->size;
	target->last_used = now_sec();
	for (char *const *n = a->names; n && *n; n++) {
		bool have = false;
		for (size_t j = 0; j < target->nnames; j++)
			have |= strcmp(target->names[j], *n) == 0;
		if (!have)
			strv_push(&target->names, &target->nnames, *n);
	}
	return 1;
}

int store_commit_image(struct image_store *s, const char *manifest_digest,
		       const char *config_digest, char *const *diff_ids, size_t nlayers,
		       uint64_t size, char *const *names, struct kc_err *err)
{
	struct commit_arg a = {manifest_digest, config_digest, diff_ids, nlayers, size, names};
	return index_update(s, commit_fn, &a, err);
}

/* ---- blobs ---- */

int tmp_file(struct image_store *s, char **path, struct kc_err *err)
{
	char *p = xasprintf("%s/blob-XXXXXX", s->tmp_dir);
	int fd = mkostemp(p, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(p);
		return kc_err_set(err, -e, "create a temporary file in %s: %s", s->tmp_dir,
				  strerror(e));
	}
	*path = p;
	return fd;
}

static char *blob_path(struct image_store *s, const char *digest)
{
	return xasprintf("%s/%s", s->blobs_dir, digest_hex(digest));
}

int blob_put(struct image_store *s, const void *data, size_t len, const char *expect,
	     char out[IMAGE_DIGEST_MAX], struct kc_err *err)
{
	uint8_t raw[KC_SHA256_LEN];
	char d[IMAGE_DIGEST_MAX];
	kc_sha256(data, len, raw);
	digest_format(raw, d);
	if (expect && strcmp(expect, d) != 0)
		return kc_err_set(err, -KC_ECRYPTO, "digest mismatch: expected %s, got %s", expect,
				  d);
	if (out)
		memcpy(out, d, IMAGE_DIGEST_MAX);
	char *p = blob_path(s, d);
	int rc = 0;
	if (access(p, F_OK) != 0)
		rc = kc_write_file_atomic(p, data, len, 0644, err);
	free(p);
	return rc;
}

int blob_get(struct image_store *s, const char *digest, size_t limit, char **data, size_t *len,
	     struct kc_err *err)
{
	if (!digest_valid(digest))
		return kc_err_set(err, -KC_EINVAL, "bad digest \"%.80s\"", digest);
	char *p = blob_path(s, digest);
	unsigned char *buf;
	size_t n;
	int rc = kc_read_file(p, limit, &buf, &n, err);
	free(p);
	if (rc < 0)
		return rc == -ENOENT ? kc_err_set(err, -KC_ENOTFOUND, "blob %s is missing", digest)
				     : rc;
	uint8_t raw[KC_SHA256_LEN];
	char d[IMAGE_DIGEST_MAX];
	kc_sha256(buf, n, raw);
	digest_format(raw, d);
	if (strcmp(d, digest) != 0) {
		free(buf);
		return kc_err_set(err, -KC_ECRYPTO, "blob %s is corrupt (content hashes to %s)",
				  digest, d);
	}
	*data = (char *)buf;
	*len = n;
	return 0;
}

/* ---- layers ---- */

bool layer_present(struct image_store *s, const char *diff_id)
{
	char *p = xasprintf("%s/%s", s->layers_dir, digest_hex(diff_id));
	struct stat st;
	bool ok = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return ok;
}

int layer_unpack(struct image_store *s, const char *diff_id, int fd, const void *data, size_t len,
		 const char *blob_digest, struct kc_err *err)
{
	if (!digest_valid(diff_id))
		return kc_err_set(err, -KC_EINVAL, "bad diff_id \"%.80s\"", diff_id);
	if (layer_present(s, diff_id))
		return 0;
	char *tmp = xasprintf("%s/layer-XXXXXX", s->tmp_dir);
	if (!mkdtemp(tmp)) {
		int e = errno;
		free(tmp);
		return kc_err_set(err, -e, "mkdtemp in %s: %s", s->tmp_dir, strerror(e));
	}
	int rc = 0;
	int rootfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct tar_fd_source fsrc;
	struct tar_mem_source msrc;
	struct tar_source *raw;
	struct tar_input *in = NULL;
	struct tar_reader *tr = NULL;
	if (rootfd < 0) {
		rc = kc_err_set(err, -errno, "open %s: %s", tmp, strerror(errno));
		goto out;
	}
	/* mkdtemp made it 0700: a layer without a "./" entry gets the usual 0755 root */
	fchmod(rootfd, 0755);
	if (fd >= 0) {
		if (lseek(fd, 0, SEEK_SET) < 0) {
			rc = kc_err_set(err, -errno, "seek: %s", strerror(errno));
			goto out;
		}
		tar_fd_source_init(&fsrc, fd, blob_digest != NULL);
		raw = &fsrc.src;
	} else {
		tar_mem_source_init(&msrc, data, len);
		raw = &msrc.src;
		if (blob_digest) {
			uint8_t b[KC_SHA256_LEN];
			char d[IMAGE_DIGEST_MAX];
			kc_sha256(data, len, b);
			digest_format(b, d);
			if (strcmp(d, blob_digest) != 0) {
				rc = kc_err_set(err, -KC_ECRYPTO,
						"layer blob digest mismatch: expected %s, got %s",
						blob_digest, d);
				goto out;
			}
		}
	}
	rc = tar_input_open(raw, 0, &in, err);
	if (rc < 0)
		goto out;
	tr = tar_reader_new(tar_input_source(in), NULL);
	rc = unpack_layer(rootfd, tr, s->privileged, err);
	if (rc < 0)
		goto out;
	uint8_t raw_diff[KC_SHA256_LEN];
	char got[IMAGE_DIGEST_MAX];
	rc = tar_input_finish(in, raw_diff, NULL, err);
	if (rc < 0)
		goto out;
	digest_format(raw_diff, got);
	if (strcmp(got, diff_id) != 0) {
		rc = kc_err_set(err, -KC_ECRYPTO,
				"layer diff_id mismatch: config says %s, the layer is %s", diff_id,
				got);
		goto out;
	}
	if (fd >= 0 && blob_digest) {
		/* the tar reader may stop before the end of the compressed stream: hash the rest */
		char buf[16384];
		for (;;) {
			ssize_t k = fsrc.src.read(&fsrc.src, buf, sizeof(buf), err);
			if (k < 0) {
				rc = (int)k;
				goto out;
			}
			if (k == 0)
				break;
		}
		uint8_t b[KC_SHA256_LEN];
		char d[IMAGE_DIGEST_MAX];
		kc_sha256_final(&fsrc.sha, b);
		fsrc.hash = false;
		digest_format(b, d);
		if (strcmp(d, blob_digest) != 0) {
			rc = kc_err_set(err, -KC_ECRYPTO,
					"layer blob digest mismatch: expected %s, got %s",
					blob_digest, d);
			goto out;
		}
	}
	/* durable before it becomes visible */
	if (syncfs(rootfd) < 0) {
		rc = kc_err_set(err, -errno, "syncfs: %s", strerror(errno));
		goto out;
	}
	char *dst = xasprintf("%s/%s", s->layers_dir, digest_hex(diff_id));
	if (rename(tmp, dst) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY)
			rc = kc_err_set(err, -errno, "rename %s: %s", dst, strerror(errno));
		/* else: another process unpacked it first; ours goes */
	} else {
		free(tmp);
		tmp = NULL;
		kc_fsync_parent_dir(dst, NULL);
	}
	free(dst);
out:
	if (fd >= 0 && blob_digest && fsrc.hash) {
		uint8_t junk[KC_SHA256_LEN];
		kc_sha256_final(&fsrc.sha, junk);
	}
	tar_reader_free(tr);
	tar_input_free(in);
	if (rootfd >= 0)
		close(rootfd);
	if (tmp) {
		char *base = strrchr(tmp, '/');
		int tfd = open(s->tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tfd >= 0) {
			rm_tree_at(tfd, base + 1);
			close(tfd);
		}
		free(tmp);
	}
	return rc;
}

/* ---- manifests and configs ---- */

static const char *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.nondistributable.v1.tar",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	"application/vnd.docker.image.rootfs.diff.tar",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

int manifest_parse(const char *buf, size_t len, struct manifest *m, struct kc_err *err)
{
	memset(m, 0, sizeof(*m));
	struct kc_json_limits lim = {.max_bytes = IMAGE_JSON_MAX, .max_depth = 16};
	cJSON *root;
	int rc = kc_json_parse(buf, len, &lim, &root, err);
	if (rc < 0)
		return kc_err_wrap(err, "manifest");
	long long v;
	if (kc_json_get_i64(root, "schemaVersion", &v) < 0 || v != 2) {
		cJSON_Delete(root);
		return kc_err_set(err, -KC_EUNSUPPORTED, "manifest: schemaVersion 2 expected");
	}
	const char *cd = kc_json_get_str(root, "config.digest");
	const cJSON *layers = kc_json_get(root, "layers");
	if (!digest_valid(cd) || (layers && !cJSON_IsArray(layers))) {
		cJSON_Delete(root);
		return kc_err_set(err, -KC_EPARSE,
				  "manifest: missing config digest or layers "
				  "(only sha256 digests are supported)");
	}
	snprintf(m->config, sizeof(m->config), "%s", cd);
	if (kc_json_get_i64(root, "config.size", &v) == 0 && v >= 0)
		m->config_size = (uint64_t)v;
	int n = layers ? cJSON_GetArraySize(layers) : 0;
	if (n > IMAGE_MAX_LAYERS) {
		cJSON_Delete(root);
		return kc_err_set(err, -KC_ELIMIT, "manifest: %d layers (at most %d)", n,
				  IMAGE_MAX_LAYERS);
	}
	m->layers = xcalloc(n ? (size_t)n : 1, sizeof(*m->layers));
	const cJSON *l;
	cJSON_ArrayForEach(l, layers)
	{
		const char *d = kc_json_get_str(l, "digest");
		const char *mt = kc_json_get_str(l, "mediaType");
		if (!digest_valid(d)) {
			rc = kc_err_set(err, -KC_EPARSE, "manifest: layer without a sha256 digest");
			break;
		}
		bool known = !mt;
		for (size_t i = 0; mt && i < sizeof(layer_types) / sizeof(layer_types[0]); i++)
			known |= strcmp(mt, layer_types[i]) == 0;
		if (!known) {
			rc = kc_err_set(err, -KC_EUNSUPPORTED,
					"manifest: unsupported layer type \"%.100s\"", mt);
			break;
		}
		struct manifest_layer *ml = &m->layers[m->nlayers++];
		snprintf(ml->digest, sizeof(ml->digest), "%s", d);
		snprintf(ml->media_type, sizeof(ml->media_type), "%s", mt ? mt : "");
		if (kc_json_get_i64(l, "size", &v) == 0 && v >= 0)
			ml->size = (uint64_t)v;
	}
	cJSON_Delete(root);
	if (rc < 0)
		manifest_free(m);
	return rc;
}

void manifest_free(struct manifest *m)
{
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

int config_diff_ids(const char *buf, size_t len, char ***ids, size_t *n, struct kc_err *err)
{
	struct kc_json_limits lim = {.max_bytes = IMAGE_JSON_MAX, .max_depth = 32};
	cJSON *root;
	int rc = kc_json_parse(buf, len, &lim, &root, err);
	if (rc < 0)
		return kc_err_wrap(err, "image config");
	const cJSON *arr = kc_json_get(root, "rootfs.diff_ids");
	if (arr && cJSON_GetArraySize(arr) > IMAGE_MAX_LAYERS)
		rc = kc_err_set(err, -KC_ELIMIT, "image config: too many layers");
	else
		rc = json_strv(arr, ids, n, true, err);
	cJSON_Delete(root);
	if (rc < 0) {
		if (rc != -KC_ELIMIT)
			kc_err_set(err, -KC_EPARSE, "image config: bad rootfs.diff_ids");
		image_strv_free(*ids);
		*ids = NULL;
		return rc < 0 ? rc : -KC_EPARSE;
	}
	return 0;
}

/* ---- images ---- */

void image_free(struct image *img)
{
	if (!img)
		return;
	image_strv_free(img->names);
	image_strv_free(img->entrypoint);
	image_strv_free(img->cmd);
	image_strv_free(img->env);
	free(img->working_dir);
	free(img->user);
	free(img->stop_signal);
	image_strv_free(img->exposed_ports);
	image_strv_free(img->diff_ids);
	image_strv_free(img->layer_dirs);
	free(img);
}

void image_list_free(struct image **imgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		image_free(imgs[i]);
	free(imgs);
}

static char **cfg_strv(const cJSON *c, const char *key, size_t *n)
{
	char **v = xcalloc(1, sizeof(char *));
	*n = 0;
	const cJSON *a = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
	const cJSON *e;
	if (cJSON_IsArray(a)) {
		cJSON_ArrayForEach(e, a)
		{
			if (cJSON_IsString(e))
				strv_push(&v, n, e->valuestring);
		}
	}
	return v;
}

static char *cfg_str(const cJSON *c, const char *key)
{
	const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
	return xstrdup(cJSON_IsString(v) ? v->valuestring : "");
}

/* Builds the caller's struct image from an index entry and its config blob. */
static int image_build(struct image_store *s, const struct idx_image *im, struct image **out,
		       struct kc_err *err)
{
	char *buf;
	size_t len;
	int rc = blob_get(s, im->id, IMAGE_JSON_MAX, &buf, &len, err);
	if (rc < 0)
		return rc;
	struct kc_json_limits lim = {.max_bytes = IMAGE_JSON_MAX, .max_depth = 32};
	cJSON *root;
	rc = kc_json_parse(buf, len, &lim, &root, err);
	free(buf);
	if (rc < 0)
		return kc_err_wrap(err, "image config %s", im->id);
	struct image *img = xcalloc(1, sizeof(*img));
	snprintf(img->id, sizeof(img->id), "%s", im->id);
	snprintf(img->digest, sizeof(img->digest), "%s", im->digest);
	img->names = strv_dup(im->names, im->nnames);
	img->nnames = im->nnames;
	img->size = im->size;
	img->created = im->created;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "config");
	if (!cJSON_IsObject(c))
		c = NULL;
	img->entrypoint = cfg_strv(c, "Entrypoint", &img->nentrypoint);
	img->cmd = cfg_strv(c, "Cmd", &img->ncmd);
	img->env = cfg_strv(c, "Env", &img->nenv);
	img->working_dir = cfg_str(c, "WorkingDir");
	img->user = cfg_str(c, "User");
	img->stop_signal = cfg_str(c, "StopSignal");
	img->exposed_ports = xcalloc(1, sizeof(char *));
	const cJSON *ports = c ? cJSON_GetObjectItemCaseSensitive(c, "ExposedPorts") : NULL;
	const cJSON *p;
	if (cJSON_IsObject(ports)) {
		cJSON_ArrayForEach(p, ports)
		{
			strv_push(&img->exposed_ports, &img->nexposed_ports, p->string);
		}
	}
	cJSON_Delete(root);
	img->diff_ids = strv_dup(im->layers, im->nlayers);
	img->nlayers = im->nlayers;
	img->layer_dirs = xcalloc(im->nlayers + 1, sizeof(char *));
	for (size_t i = 0; i < im->nlayers; i++) {
		img->layer_dirs[i] = xasprintf("%s/%s", s->layers_dir, digest_hex(im->layers[i]));
		if (!layer_present(s, im->layers[i])) {
			image_free(img);
			return kc_err_set(err, -KC_ENOTFOUND, "image %s: layer %s is missing",
					  im->digest, im->layers[i]);
		}
	}
	*out = img;
	return 0;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Index of the image ref names in x, -1 when none, -2 when an id prefix is ambiguous. */
static ssize_t idx_find(const struct idx *x, const char *ref)
{
	/* ids: sha256:<hex>, <hex>, or a prefix of >= 12 hex digits */
	const char *h = kc_has_prefix(ref, "sha256:") ? ref + 7 : ref;
	size_t hl = strlen(h);
	if (hl >= 12 && hl <= 64 && is_hex(h, hl)) {
		ssize_t found = -1;
		for (size_t i = 0; i < x->n; i++) {
			if (strncmp(x->v[i].id + 7, h, hl) == 0) {
				if (found >= 0 && strcmp(x->v[found].id, x->v[i].id) != 0)
					return -2;
				found = (ssize_t)i;
			}
		}
		if (found >= 0 || hl == 64)
			return found;
	}
	struct image_ref r;
	if (image_ref_parse(ref, &r, NULL) < 0)
		return -1;
	for (size_t i = 0; i < x->n; i++)
		for (size_t j = 0; j < x->v[i].nnames; j++)
			if (strcmp(x->v[i].names[j], r.full) == 0)
				return (ssize_t)i;
	if (r.digest[0]) {
		/* repo@digest: an image with that manifest digest and a name in the same repo */
		size_t rl = strlen(r.repo);
		for (size_t i = 0; i < x->n; i++) {
			if (strcmp(x->v[i].digest, r.digest) != 0)
				continue;
			for (size_t j = 0; j < x->v[i].nnames; j++)
				if (strncmp(x->v[i].names[j], r.repo, rl) == 0 &&
				    (x->v[i].names[j][rl] == ':' || x->v[i].names[j][rl] == '@'))
					return (ssize_t)i;
		}
	}
	return -1;
}

int image_lookup(struct image_store *s, const char *ref, struct image **out, struct kc_err *err)
{
	*out = NULL;
	struct idx x;
	int rc = idx_snapshot(s, &x, err);
	if (rc < 0)
		return rc;
	ssize_t i = idx_find(&x, ref);
	if (i == -2)
		rc = kc_err_set(err, -KC_EINVAL, "image id prefix \"%.80s\" is ambiguous", ref);
	else if (i < 0)
		rc = kc_err_set(err, -KC_ENOTFOUND, "image \"%.200s\" not found", ref);
	else
		rc = image_build(s, &x.v[i], out, err);
	idx_free(&x);
	return rc;
}

static int cmp_images(const void *a, const void *b)
{
	const struct image *x = *(struct image *const *)a, *y = *(struct image *const *)b;
	if (!x->nnames || !y->nnames)
		return (int)(x->nnames == 0) - (int)(y->nnames == 0);
	return strcmp(x->names[0], y->names[0]);
}

int image_list(struct image_store *s, struct image ***out, size_t *n, struct kc_err *err)
{
	*out = NULL;
	*n = 0;
	struct idx x;
	int rc = idx_snapshot(s, &x, err);
	if (rc < 0)
		return rc;
	struct image **v = xcalloc(x.n ? x.n : 1, sizeof(*v));
	size_t cnt = 0;
	for (size_t i = 0; i < x.n; i++) {
		struct kc_err e2;
		struct image *img;
		if (image_build(s, &x.v[i], &img, &e2) < 0) {
			log_warn("image store: skipping a damaged image digest=%s err=%s",
				 x.v[i].digest, e2.msg);
			continue;
		}
		v[cnt++] = img;
	}
	idx_free(&x);
	qsort(v, cnt, sizeof(*v), cmp_images);
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- removal and GC ---- */

/* Deletes blobs and layers no image in the index uses. Caller holds gc.lock exclusively. */
static int sweep(struct image_store *s, struct image_gc_stats *st, struct kc_err *err)
{
	struct idx x;
	int rc = idx_read_file(s, &x, NULL, err);
	if (rc < 0)
		return rc;
	/* referenced digests: manifests, configs, layers */
	struct kc_map used;
	kc_map_init(&used, NULL);
	for (size_t i = 0; i < x.n; i++) {
		kc_map_sput(&used, digest_hex(x.v[i].digest), &used);
		kc_map_sput(&used, digest_hex(x.v[i].id), &used);
		for (size_t j = 0; j < x.v[i].nlayers; j++)
			kc_map_sput(&used, digest_hex(x.v[i].layers[j]), &used);
	}
	const char *dirs[2] = {s->blobs_dir, s->layers_dir};
	for (int k = 0; k < 2; k++) {
		int dfd = open(dirs[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		DIR *d = fdopendir(dfd);
		if (!d) {
			close(dfd);
			continue;
		}
		struct dirent *de;
		char **victims = xcalloc(1, sizeof(char *));
		size_t nv = 0;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (!kc_map_sget(&used, de->d_name))
				strv_push(&victims, &nv, de->d_name);
		}
		closedir(d);
		for (size_t i = 0; i < nv; i++) {
			if (k == 0) {
				char *p = xasprintf("%s/%s", s->blobs_dir, victims[i]);
				if (unlink(p) == 0 && st)
					st->blobs_removed++;
				free(p);
			} else if (remove_dir_atomic(s, s->layers_dir, victims[i]) == 0 && st) {
				st->layers_removed++;
			}
		}
		image_strv_free(victims);
	}
	kc_map_free(&used);
	idx_free(&x);
	return 0;
}

struct remove_arg {
	const char *ref;
	char digest[IMAGE_DIGEST_MAX];
};

static int remove_fn(struct idx *x, void *arg, struct kc_err *err)
{
	struct remove_arg *a = arg;
	ssize_t i = idx_find(x, a->ref);
	if (i == -2)
		return kc_err_set(err, -KC_EINVAL, "image id prefix \"%.80s\" is ambiguous",
				  a->ref);
	if (i < 0)
		return kc_err_set(err, -KC_ENOTFOUND, "image \"%.200s\" not found", a->ref);
	snprintf(a->digest, sizeof(a->digest), "%s", x->v[i].digest);
	idx_image_clear(&x->v[i]);
	memmove(&x->v[i], &x->v[i + 1], (x->n - (size_t)i - 1) * sizeof(*x->v));
	x->n--;
	return 1;
}

static void try_sweep(struct image_store *s, struct image_gc_stats *st)
{
	int gfd = lock_file(s->gc_lock_path, LOCK_EX | LOCK_NB, NULL);
	if (gfd < 0)
		return; /* an import or pull is running: the next GC sweeps */
	struct kc_err e;
	if (sweep(s, st, &e) < 0)
		log_warn("image store: sweep failed err=%s", e.msg);
	close(gfd);
}

int image_remove(struct image_store *s, const char *ref, struct kc_err *err)
{
	struct remove_arg a = {.ref = ref};
	int rc = index_update(s, remove_fn, &a, err);
	if (rc < 0)
		return rc;
	try_sweep(s, NULL);
	return 0;
}

static int statvfs_usage(void *arg, uint64_t *used, uint64_t *total)
{
	struct statvfs sv;
	if (statvfs((const char *)arg, &sv) < 0)
		return -errno;
	*total = (uint64_t)sv.f_blocks * sv.f_frsize;
	*used = *total - (uint64_t)sv.f_bfree * sv.f_frsize;
	return 0;
}

struct gc_arg {
	const struct image_gc_opts *o;
	uint64_t used, total;
	struct image_gc_stats *st;
};

static int cmp_lru(const void *a, const void *b)
{
	const struct idx_image *x = *(struct idx_image *const *)a,
			       *y = *(struct idx_image *const *)b;
	return (x->last_used > y->last_used) - (x->last_used < y->last_used);
}

static int gc_fn(struct idx *x, void *arg, struct kc_err *err)
{
	struct gc_arg *g = arg;
	int high = g->o->high_percent ? g->o->high_percent : 85;
	int low = g->o->low_percent ? g->o->low_percent : 80;
	if (g->total == 0 || g->used * 100 < (uint64_t)high * g->total)
		return 0;
	uint64_t target = g->total * (uint64_t)low / 100;
	uint64_t need = g->used > target ? g->used - target : 0;
	/* candidates: not in use, least recently used first */
	struct idx_image **cand = xcalloc(x->n ? x->n : 1, sizeof(*cand));
	size_t nc = 0;
	for (size_t i = 0; i < x->n; i++) {
		bool busy = false;
		for (size_t j = 0; j < g->o->nin_use && !busy; j++) {
			struct idx one = {.v = &x->v[i], .n = 1};
			busy = idx_find(&one, g->o->in_use[j]) == 0;
		}
		if (!busy)
			cand[nc++] = &x->v[i];
	}
	qsort(cand, nc, sizeof(*cand), cmp_lru);
	uint64_t freed = 0;
	for (size_t i = 0; i < nc && freed < need; i++) {
		freed += cand[i]->size;
		cand[i]->digest[0] = 0; /* marked */
		if (g->st) {
			g->st->images_removed++;
			g->st->bytes_freed += cand[i]->size;
		}
	}
	free(cand);
	size_t w = 0;
	for (size_t i = 0; i < x->n; i++) {
		if (x->v[i].digest[0] == 0)
			idx_image_clear(&x->v[i]);
		else
			x->v[w++] = x->v[i];
	}
	bool changed = w != x->n;
	x->n = w;
	(void)err;
	return changed ? 1 : 0;
}

int image_gc(struct image_store *s, const struct image_gc_opts *opts, struct image_gc_stats *st,
	     struct kc_err *err)
{
	struct image_gc_opts def = {0};
	if (!opts)
		opts = &def;
	if (st)
		memset(st, 0, sizeof(*st));
	struct gc_arg g = {.o = opts, .st = st};
	int rc = opts->usage ? opts->usage(opts->usage_arg, &g.used, &g.total)
			     : statvfs_usage(s->dir, &g.used, &g.total);
	if (rc < 0)
		return kc_err_set(err, rc, "image gc: disk usage of %s: %s", s->dir,
				  kc_strerror(rc));
	if (opts->high_percent < 100) {
		rc = index_update(s, gc_fn, &g, err);
		if (rc < 0)
			return rc;
	}
	try_sweep(s, st);
	return 0;
}
