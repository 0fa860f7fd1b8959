/* image_import.c - importing image archives: docker save (both generations) and OCI layouts.
 *
 * DESIGN: one pass over the archive (a tar, optionally gzip) keeps each member by its path:
 * small members (JSON documents, small layers) in memory, large ones streamed to tmp/ while
 * hashed, so memory stays bounded whatever the layer sizes and tar order. Then the images are
 * resolved: index.json (nested indexes followed, the platform picked) when present, and
 * manifest.json entries, which name images (RepoTags) and, for pre-25 docker archives, describe
 * them (a manifest is synthesized from Config and Layers). Every blob is found by its digest, so
 * both layouts share one path. Layers are verified against the config's diff_ids while unpacked.
 * The index is written once, after everything else succeeded. Runs on the calling thread; the
 * shared gc.lock is held throughout. */
#include "runtime/image_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "runtime/tar_input.h"

#define MEM_MEMBER_MAX	    ((size_t)4 << 20)	  /* members kept in memory up to this size */
#define MEM_TOTAL_MAX	    ((uint64_t)256 << 20) /* and this much in all */
#define ARCHIVE_MAX_MEMBERS 100000
#define MAX_LINK_HOPS	    8
#define MAX_INDEX_DEPTH	    4

#define MT_OCI_INDEX	   "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST	   "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST	   "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

struct member {
	char *path; /* cleaned */
	char *link; /* symlink/hardlink target (cleaned, archive-relative), or NULL */
	char *mem;  /* contents when small */
	char *tmp;  /* temp file path when large */
	uint64_t size;
	char digest[IMAGE_DIGEST_MAX];
};

struct pending {
	char digest[IMAGE_DIGEST_MAX];
	char id[IMAGE_DIGEST_MAX];
	char **diff_ids;
	size_t nlayers;
	uint64_t size;
	char **names; /* NULL-terminated */
	size_t nnames;
};

struct import {
	struct image_store *s;
	struct member *m;
	size_t n;
	uint64_t mem_total;
	struct pending *p;
	size_t np;
};

static void strv_add(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return;
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

static void import_free(struct import *im)
{
	for (size_t i = 0; i < im->n; i++) {
		free(im->m[i].path);
		free(im->m[i].link);
		free(im->m[i].mem);
		if (im->m[i].tmp) {
			unlink(im->m[i].tmp);
			free(im->m[i].tmp);
		}
	}
	free(im->m);
	for (size_t i = 0; i < im->np; i++) {
		image_strv_free(im->p[i].diff_ids);
		image_strv_free(im->p[i].names);
	}
	free(im->p);
}

/* Archive paths: strip "./" and leading "/", fold "//"; refuse "..". */
static char *clean(const char *in)
{
	struct kc_str s = KC_STR_INIT;
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			kc_str_free(&s);
			return NULL;
		}
		if (n && !(n == 1 && p[0] == '.')) {
			if (s.len)
				kc_str_addc(&s, '/');
			kc_str_add(&s, p, n);
		}
		p += n;
	}
	return kc_str_detach(&s, NULL);
}

static char *resolve_link(const char *from, const char *target)
{
	if (target[0] == '/')
		return clean(target);
	const char *slash = strrchr(from, '/');
	char *joined =
		slash ? xasprintf("%.*s/%s", (int)(slash - from), from, target) : xstrdup(target);
	/* resolve ".." lexically within the archive */
	struct kc_str s = KC_STR_INIT;
	char *save = NULL;
	char *comps[256];
	size_t nc = 0;
	for (char *t = strtok_r(joined, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (strcmp(t, ".") == 0)
			continue;
		if (strcmp(t, "..") == 0) {
			if (nc == 0) {
				free(joined);
				return NULL;
			}
			nc--;
			continue;
		}
		if (nc == 256) {
			free(joined);
			return NULL;
		}
		comps[nc++] = t;
	}
	for (size_t i = 0; i < nc; i++) {
		if (i)
			kc_str_addc(&s, '/');
		kc_str_adds(&s, comps[i]);
	}
	free(joined);
	return kc_str_detach(&s, NULL);
}

static struct member *find_path(struct import *im, const char *path)
{
	char *p = clean(path);
	if (!p)
		return NULL;
	for (int hop = 0; hop <= MAX_LINK_HOPS; hop++) {
		struct member *found = NULL;
		for (size_t i = im->n; i-- > 0;) {
			if (strcmp(im->m[i].path, p) == 0) {
				found = &im->m[i];
				break;
			}
		}
		if (!found || !found->link) {
			free(p);
			return found;
		}
		free(p);
		p = xstrdup(found->link);
	}
	free(p);
	return NULL;
}

static struct member *find_digest(struct import *im, const char *digest)
{
	for (size_t i = 0; i < im->n; i++)
		if (!im->m[i].link && strcmp(im->m[i].digest, digest) == 0)
			return &im->m[i];
	return NULL;
}

/* Loads a member's whole contents (JSON documents; limited). */
static int member_bytes(struct member *m, char **buf, size_t *len, struct kc_err *err)
{
	if (m->size > IMAGE_JSON_MAX)
		return kc_err_set(err, -KC_ETOOBIG, "archive: %s is larger than %zu bytes", m->path,
				  IMAGE_JSON_MAX);
	if (m->mem) {
		*buf = xmemdup(m->mem, (size_t)m->size + 1);
		(*buf)[m->size] = 0;
		*len = (size_t)m->size;
		return 0;
	}
	unsigned char *b;
	int rc = kc_read_file(m->tmp, IMAGE_JSON_MAX, &b, len, err);
	if (rc == 0)
		*buf = (char *)b;
	return rc;
}

static int read_archive(struct import *im, const char *path, struct kc_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_err_set(err, -errno, "open %s: %s", path, strerror(errno));
	struct tar_fd_source src;
	tar_fd_source_init(&src, fd, false);
	struct tar_input *in = NULL;
	int rc = tar_input_open(&src.src, 0, &in, err);
	if (rc < 0) {
		close(fd);
		return kc_err_wrap(err, "%s", path);
	}
	struct tar_limits lim = {.max_entries = ARCHIVE_MAX_MEMBERS};
	struct tar_reader *tr = tar_reader_new(tar_input_source(in), &lim);
	char *buf = xmalloc(65536);
	for (;;) {
		const struct tar_entry *e;
		rc = tar_next(tr, &e, err);
		if (rc <= 0)
			break;
		if (e->type != TAR_REG && e->type != TAR_SYMLINK && e->type != TAR_LINK)
			continue;
		char *p = clean(e->path);
		if (!p || !*p) {
			free(p);
			rc = kc_err_set(err, -KC_EINVAL, "archive: bad member path \"%.200s\"",
					e->path);
			break;
		}
		im->m = xrealloc(im->m, (im->n + 1) * sizeof(*im->m));
		struct member *m = &im->m[im->n++];
		memset(m, 0, sizeof(*m));
		m->path = p;
		if (e->type != TAR_REG) {
			m->link = e->type == TAR_SYMLINK ? resolve_link(p, e->linkpath)
							 : clean(e->linkpath);
			if (!m->link) {
				rc = kc_err_set(err, -KC_EINVAL,
						"archive: link \"%.200s\" leaves the archive",
						e->path);
				break;
			}
			continue;
		}
		m->size = e->size;
		struct kc_sha256 h;
		kc_sha256_init(&h);
		int out = -1;
		if (e->size <= MEM_MEMBER_MAX && im->mem_total + e->size <= MEM_TOTAL_MAX) {
			m->mem = xmalloc((size_t)e->size + 1);
			im->mem_total += e->size;
		} else {
			out = tmp_file(im->s, &m->tmp, err);
			if (out < 0) {
				rc = out;
				uint8_t junk[KC_SHA256_LEN];
				kc_sha256_final(&h, junk);
				break;
			}
		}
		uint64_t got = 0;
		for (;;) {
			ssize_t k = tar_read(tr, buf, 65536, err);
			if (k < 0) {
				rc = (int)k;
				break;
			}
			if (k == 0)
				break;
			kc_sha256_update(&h, buf, (size_t)k);
			if (m->mem) {
				memcpy(m->mem + got, buf, (size_t)k);
			} else {
				for (ssize_t off = 0; off < k;) {
					ssize_t w = write(out, buf + off, (size_t)(k - off));
					if (w < 0 && errno == EINTR)
						continue;
					if (w < 0) {
						rc = kc_err_set(err, -errno, "write %s: %s", m->tmp,
								strerror(errno));
						break;
					}
					off += w;
				}
				if (rc < 0)
					break;
			}
			got += (uint64_t)k;
		}
		if (out >= 0)
			close(out);
		uint8_t raw[KC_SHA256_LEN];
		kc_sha256_final(&h, raw);
		if (rc < 0)
			break;
		digest_format(raw, m->digest);
		if (m->mem)
			m->mem[got] = 0;
		/* OCI layout blobs are named by their digest */
		if (kc_has_prefix(m->path, "blobs/sha256/") &&
		    strcmp(m->path + 13, digest_hex(m->digest)) != 0) {
			rc = kc_err_set(err, -KC_ECRYPTO,
					"archive: %s does not match its digest (content is %s)",
					m->path, m->digest);
			break;
		}
	}
	free(buf);
	tar_reader_free(tr);
	tar_input_free(in);
	close(fd);
	if (rc < 0)
		return kc_err_wrap(err, "%s", path);
	return 0;
}

static struct pending *pending_by_id(struct import *im, const char *id)
{
	for (size_t i = 0; i < im->np; i++)
		if (strcmp(im->p[i].id, id) == 0)
			return &im->p[i];
	return NULL;
}

/* Imports one manifest (bytes at hand): config, layers, then a pending index entry. */
static int import_manifest(struct import *im, const char *mbuf, size_t mlen, char **names,
			   size_t nnames, struct kc_err *err)
{
	struct manifest man;
	int rc = manifest_parse(mbuf, mlen, &man, err);
	if (rc < 0)
		return rc;
	char mdigest[IMAGE_DIGEST_MAX];
	char *cbuf = NULL;
	size_t clen = 0;
	char **ids = NULL;
	size_t nids = 0;
	struct member *cm = find_digest(im, man.config);
	if (!cm) {
		rc = kc_err_set(err, -KC_EINVAL, "archive: config %s is missing", man.config);
		goto out;
	}
	rc = member_bytes(cm, &cbuf, &clen, err);
	if (rc < 0)
		goto out;
	rc = config_diff_ids(cbuf, clen, &ids, &nids, err);
	if (rc < 0)
		goto out;
	if (nids != man.nlayers) {
		rc = kc_err_set(err, -KC_EINVAL, "image config lists %zu diff_ids for %zu layers",
				nids, man.nlayers);
		goto out;
	}
	uint64_t size = clen;
	for (size_t i = 0; i < man.nlayers; i++) {
		size += man.layers[i].size;
		if (layer_present(im->s, ids[i]))
			continue;
		struct member *lm = find_digest(im, man.layers[i].digest);
		if (!lm) {
			rc = kc_err_set(err, -KC_EINVAL, "archive: layer %s is missing",
					man.layers[i].digest);
			goto out;
		}
		if (lm->mem) {
			rc = layer_unpack(im->s, ids[i], -1, lm->mem, (size_t)lm->size, NULL, err);
		} else {
			int fd = open(lm->tmp, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				rc = kc_err_set(err, -errno, "open %s: %s", lm->tmp,
						strerror(errno));
				goto out;
			}
			rc = layer_unpack(im->s, ids[i], fd, NULL, 0, NULL, err);
			close(fd);
		}
		if (rc < 0) {
			kc_err_wrap(err, "layer %zu (%s)", i + 1, man.layers[i].digest);
			goto out;
		}
	}
	rc = blob_put(im->s, cbuf, clen, man.config, NULL, err);
	if (rc == 0)
		rc = blob_put(im->s, mbuf, mlen, NULL, mdigest, err);
	if (rc < 0)
		goto out;
	struct pending *p = NULL;
	for (size_t i = 0; i < im->np; i++)
		if (strcmp(im->p[i].digest, mdigest) == 0)
			p = &im->p[i];
	if (!p) {
		im->p = xrealloc(im->p, (im->np + 1) * sizeof(*im->p));
		p = &im->p[im->np++];
		memset(p, 0, sizeof(*p));
		snprintf(p->digest, sizeof(p->digest), "%s", mdigest);
		snprintf(p->id, sizeof(p->id), "%s", man.config);
		p->diff_ids = ids;
		p->nlayers = nids;
		ids = NULL;
		p->size = size;
		p->names = xcalloc(1, sizeof(char *));
	}
	for (size_t i = 0; i < nnames; i++)
		strv_add(&p->names, &p->nnames, names[i]);
out:
	image_strv_free(ids);
	free(cbuf);
	manifest_free(&man);
	return rc;
}

/* Adds the normalized name of 'ref' to a name list; bad names are an error. */
static int add_name(char ***v, size_t *n, const char *ref, struct kc_err *err)
{
	struct image_ref r;
	if (image_ref_parse(ref, &r, err) < 0)
		return kc_err_wrap(err, "archive: image name \"%.200s\"", ref);
	strv_add(v, n, r.full);
	return 0;
}

static bool platform_ok(struct import *im, const cJSON *d)
{
	const cJSON *pl = kc_json_get(d, "platform");
	if (!pl)
		return true;
	const char *os = kc_json_get_str(pl, "os"), *arch = kc_json_get_str(pl, "architecture");
	return (!os || strcmp(os, "linux") == 0) && (!arch || strcmp(arch, im->s->arch) == 0);
}

static int walk_index(struct import *im, const cJSON *index, char **names, size_t nnames, int depth,
		      struct kc_err *err);

/* One descriptor of an index: a manifest, or a nested index. */
static int walk_descriptor(struct import *im, const cJSON *d, char **names, size_t nnames,
			   int depth, struct kc_err *err)
{
	const char *digest = kc_json_get_str(d, "digest");
	if (!digest_valid(digest))
		return kc_err_set(err, -KC_EINVAL, "index: descriptor without a sha256 digest");
	struct member *m = find_digest(im, digest);
	if (!m)
		return kc_err_set(err, -KC_EINVAL, "archive: manifest %s is missing", digest);
	char *buf;
	size_t len;
	int rc = member_bytes(m, &buf, &len, err);
	if (rc < 0)
		return rc;
	struct kc_json_limits lim = {.max_bytes = IMAGE_JSON_MAX, .max_depth = 16};
	cJSON *doc;
	rc = kc_json_parse(buf, len, &lim, &doc, err);
	if (rc < 0) {
		free(buf);
		return kc_err_wrap(err, "manifest %s", digest);
	}
	const char *mt = kc_json_get_str(d, "mediaType");
	if (!mt)
		mt = kc_json_get_str(doc, "mediaType");
	bool is_index =
		(mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0)) ||
		(!mt && kc_json_get(doc, "manifests"));
	if (is_index)
		rc = walk_index(im, doc, names, nnames, depth + 1, err);
	else
		rc = import_manifest(im, buf, len, names, nnames, err);
	cJSON_Delete(doc);
	free(buf);
	return rc;
}

static int walk_index(struct import *im, const cJSON *index, char **names, size_t nnames, int depth,
		      struct kc_err *err)
{
	if (depth > MAX_INDEX_DEPTH)
		return kc_err_set(err, -KC_ELIMIT, "index: nested too deep");
	const cJSON *ms = kc_json_get(index, "manifests");
	if (!ms || cJSON_IsNull(ms))
		return 0;
	if (!cJSON_IsArray(ms))
		return kc_err_set(err, -KC_EPARSE, "index: \"manifests\" is not an array");
	const cJSON *d;
	bool any = false;
	int rc = 0;
	cJSON_ArrayForEach(d, ms)
	{
		if (depth > 0 && !platform_ok(im, d))
			continue;
		/* attestation manifests (buildkit) are not images */
		const char *rt = kc_json_get_str(d, "annotations[vnd.docker.reference.type]");
		if (rt && strcmp(rt, "attestation-manifest") == 0)
			continue;
		char **nm = xcalloc(1, sizeof(char *));
		size_t nn = 0;
		for (size_t i = 0; i < nnames; i++)
			strv_add(&nm, &nn, names[i]);
		if (depth == 0) {
			const char *full =
				kc_json_get_str(d, "annotations[io.containerd.image.name]");
			const char *rn = kc_json_get_str(
				d, "annotations[org.opencontainers.image.ref.name]");
			if (full)
				rc = add_name(&nm, &nn, full, err);
			else if (rn)
				rc = add_name(&nm, &nn, rn, err);
		}
		if (rc == 0)
			rc = walk_descriptor(im, d, nm, nn, depth, err);
		image_strv_free(nm);
		if (rc < 0)
			return rc;
		any = true;
		if (depth > 0)
			break; /* one platform per index */
	}
	if (depth > 0 && !any)
		return kc_err_set(err, -KC_ENOTFOUND, "index: no manifest for linux/%s",
				  im->s->arch);
	return 0;
}

static int guess_layer_type(struct member *m, const char **mt)
{
	unsigned char head[6] = {0};
	size_t n = 0;
	if (m->mem) {
		n = m->size < 6 ? (size_t)m->size : 6;
		memcpy(head, m->mem, n);
	} else {
		int fd = open(m->tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		ssize_t k = read(fd, head, sizeof(head));
		close(fd);
		n = k > 0 ? (size_t)k : 0;
	}
	*mt = tar_detect_compression(head, n) == TAR_GZIP
		      ? "application/vnd.oci.image.layer.v1.tar+gzip"
		      : "application/vnd.oci.image.layer.v1.tar";
	return 0;
}

/* manifest.json: names for images already found, and whole images for pre-25 archives. */
static int walk_docker_manifest(struct import *im, struct member *mj, struct kc_err *err)
{
	char *buf;
	size_t len;
	int rc = member_bytes(mj, &buf, &len, err);
	if (rc < 0)
		return rc;
	struct kc_json_limits lim = {.max_bytes = IMAGE_JSON_MAX, .max_depth = 8};
	cJSON *doc;
	rc = kc_json_parse(buf, len, &lim, &doc, err);
	free(buf);
	if (rc < 0)
		return kc_err_wrap(err, "manifest.json");
	if (!cJSON_IsArray(doc)) {
		cJSON_Delete(doc);
		return kc_err_set(err, -KC_EPARSE, "manifest.json: not an array");
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, doc)
	{
		const char *cfg = kc_json_get_str(e, "Config");
		const cJSON *layers = kc_json_get(e, "Layers");
		const cJSON *tags = kc_json_get(e, "RepoTags");
		if (!cfg || (layers && !cJSON_IsArray(layers)) ||
		    (tags && !cJSON_IsArray(tags) && !cJSON_IsNull(tags))) {
			rc = kc_err_set(err, -KC_EPARSE,
					"manifest.json: entry without Config or with bad Layers");
			break;
		}
		struct member *cm = find_path(im, cfg);
		if (!cm) {
			rc = kc_err_set(err, -KC_EINVAL, "archive: %s is missing", cfg);
			break;
		}
		char **names = xcalloc(1, sizeof(char *));
		size_t nn = 0;
		const cJSON *t;
		if (cJSON_IsArray(tags)) {
			cJSON_ArrayForEach(t, tags)
			{
				if (!cJSON_IsString(t) ||
				    (rc = add_name(&names, &nn, t->valuestring, err)) < 0) {
					if (rc == 0)
						rc = kc_err_set(err, -KC_EPARSE,
								"manifest.json: bad RepoTags");
					break;
				}
			}
		}
		struct pending *p = rc == 0 ? pending_by_id(im, cm->digest) : NULL;
		if (p) {
			for (size_t i = 0; i < nn; i++)
				strv_add(&p->names, &p->nnames, names[i]);
		} else if (rc == 0) {
			/* synthesize an OCI manifest from Config and Layers */
			struct kc_str mf = KC_STR_INIT;
			kc_str_addf(
				&mf,
				"{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
				"\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
				"\"size\":%llu},\"layers\":[",
				MT_OCI_MANIFEST, cm->digest, (unsigned long long)cm->size);
			const cJSON *l;
			bool first = true;
			cJSON_ArrayForEach(l, layers)
			{
				struct member *lm =
					cJSON_IsString(l) ? find_path(im, l->valuestring) : NULL;
				const char *mt = NULL;
				if (!lm) {
					rc = kc_err_set(err, -KC_EINVAL,
							"archive: layer %.200s is missing",
							cJSON_IsString(l) ? l->valuestring : "?");
					break;
				}
				if ((rc = guess_layer_type(lm, &mt)) < 0) {
					kc_err_set(err, rc, "archive: %s: %s", lm->path,
						   strerror(-rc));
					break;
				}
				kc_str_addf(
					&mf,
					"%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu}",
					first ? "" : ",", mt, lm->digest,
					(unsigned long long)lm->size);
				first = false;
			}
			kc_str_adds(&mf, "]}");
			if (rc == 0)
				rc = import_manifest(im, mf.buf, mf.len, names, nn, err);
			kc_str_free(&mf);
		}
		image_strv_free(names);
		if (rc < 0)
			break;
	}
	cJSON_Delete(doc);
	return rc;
}

int image_import_file(struct image_store *s, const char *path, char ***names, struct kc_err *err)
{
	if (names)
		*names = NULL;
	int gfd = gc_lock_shared(s, err);
	if (gfd < 0)
		return gfd;
	struct import im = {.s = s};
	int rc = read_archive(&im, path, err);
	if (rc < 0)
		goto out;
	struct member *ij = find_path(&im, "index.json");
	struct member *mj = find_path(&im, "manifest.json");
	if (!ij && !mj) {
		rc = kc_err_set(err, -KC_EINVAL,
				"%s: not an image archive (no index.json or manifest.json)", path);
		goto out;
	}
	if (ij) {
		char *buf;
		size_t len;
		rc = member_bytes(ij, &buf, &len, err);
		if (rc < 0)
			goto out;
		struct kc_json_limits lim = {.max_bytes = IMAGE_JSON_MAX, .max_depth = 16};
		cJSON *doc;
		rc = kc_json_parse(buf, len, &lim, &doc, err);
		free(buf);
		if (rc < 0) {
			kc_err_wrap(err, "index.json");
			goto out;
		}
		rc = walk_index(&im, doc, NULL, 0, 0, err);
		cJSON_Delete(doc);
		if (rc < 0)
			goto out;
	}
	if (mj) {
		rc = walk_docker_manifest(&im, mj, err);
		if (rc < 0)
			goto out;
	}
	if (im.np == 0) {
		rc = kc_err_set(err, -KC_EINVAL, "%s: no image in the archive", path);
		goto out;
	}
	for (size_t i = 0; i < im.np && rc == 0; i++) {
		struct pending *p = &im.p[i];
		rc = store_commit_image(s, p->digest, p->id, p->diff_ids, p->nlayers, p->size,
					p->names, err);
	}
	if (rc == 0 && names) {
		char **out = xcalloc(1, sizeof(char *));
		size_t n = 0;
		for (size_t i = 0; i < im.np; i++) {
			if (im.p[i].nnames == 0)
				strv_add(&out, &n, im.p[i].id);
			for (size_t j = 0; j < im.p[i].nnames; j++)
				strv_add(&out, &n, im.p[i].names[j]);
		}
		*names = out;
	}
out:
	import_free(&im);
	close(gfd);
	return rc;
}

/* ---- DATA/images/import ---- */

static bool importable(const char *name)
{
	return name[0] != '.' && (kc_has_suffix(name, ".tar") || kc_has_suffix(name, ".tar.gz") ||
				  kc_has_suffix(name, ".tgz"));
}

int image_import_dir(struct image_store *s, struct kc_err *err)
{
	DIR *d = opendir(s->import_dir);
	if (!d)
		return kc_err_set(err, -errno, "open %s: %s", s->import_dir, strerror(errno));
	char *state_path = xasprintf("%s/.imported", s->import_dir);
	unsigned char *state = NULL;
	size_t slen = 0;
	if (kc_read_file(state_path, 1u << 20, &state, &slen, NULL) < 0) {
		state = (unsigned char *)xstrdup("");
		slen = 0;
	}
	struct kc_str next = KC_STR_INIT;
	int count = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!importable(de->d_name) || strchr(de->d_name, ' ') || strchr(de->d_name, '\n'))
			continue;
		char *p = xasprintf("%s/%s", s->import_dir, de->d_name);
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		char *line = xasprintf("%s %lld %lld.%09ld\n", de->d_name, (long long)st.st_size,
				       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		bool done = strstr((char *)state, line) != NULL &&
			    (strstr((char *)state, line) == (char *)state ||
			     strstr((char *)state, line)[-1] == '\n');
		if (!done) {
			struct kc_err e;
			char **names = NULL;
			if (image_import_file(s, p, &names, &e) < 0) {
				log_error("image import failed file=%s err=%s", p, e.msg);
				free(line);
				free(p);
				continue;
			}
			for (char **n = names; n && *n; n++)
				log_info("image imported file=%s image=%s", de->d_name, *n);
			image_strv_free(names);
			count++;
		}
		kc_str_adds(&next, line);
		free(line);
		free(p);
	}
	closedir(d);
	if (count > 0 || next.len != slen)
		kc_write_file_atomic(state_path, next.buf, next.len, 0644, NULL);
	kc_str_free(&next);
	free(state);
	free(state_path);
	return count;
}
