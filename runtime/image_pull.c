/* image_pull.c - pulling images from OCI distribution registries.
 *
 * DESIGN: a blocking client built on net/http_client: small documents (manifests, configs,
 * tokens) through http_client_do, layer blobs streamed to a file under tmp/ on a private loop
 * while hashed, so no layer is ever held in memory. A 401 answer is met once per pull with the
 * challenge it carries: Bearer (a token from the realm, anonymous or with Basic credentials) or
 * Basic. Redirects (blobs go to CDNs) are followed up to five times; the Authorization header
 * goes only to the registry's own scheme, host and port. Every document and blob is checked
 * against its digest. Runs on the calling thread; the shared gc.lock is held throughout. */
#include "runtime/image_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/tls.h"

#define ACCEPT_MANIFESTS                                                                           \
	"application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "    \
	"application/vnd.docker.distribution.manifest.list.v2+json, "                              \
	"application/vnd.docker.distribution.manifest.v2+json"
#define MAX_REDIRECTS  5
#define DEF_TIMEOUT_MS 60000
#define BLOB_MAX       ((uint64_t)64 << 30)

struct reg {
	struct image_store *s;
	struct image_ref ref;
	char origin[320]; /* scheme://host[:port] of the registry API */
	const struct image_pull_opts *o;
	struct tls_client_config *tls;
	struct kc_cert *ca;
	char *authz;	/* "Bearer ..." / "Basic ..." once known */
	int auth_tries; /* 401s answered in this pull (a token may expire) */
};

static bool is_local_host(const char *domain)
{
	char host[256];
	snprintf(host, sizeof(host), "%s", domain);
	if (host[0] == '[') {
		char *e = strchr(host, ']');
		if (e)
			e[1] = 0;
		return strcmp(host, "[::1]") == 0;
	}
	char *c = strchr(host, ':');
	if (c)
		*c = 0;
	return strcmp(host, "localhost") == 0 || kc_has_prefix(host, "127.");
}

static bool insecure(struct image_store *s, const char *domain)
{
	if (is_local_host(domain))
		return true;
	for (char **p = s->insecure; *p; p++) {
		if (strcmp(*p, domain) == 0)
			return true;
		size_t n = strlen(*p);
		/* "host" also covers "host:port" */
		if (!strchr(*p, ':') && strncmp(domain, *p, n) == 0 && domain[n] == ':')
			return true;
	}
	return false;
}

static int reg_tls(struct reg *r, struct kc_err *err)
{
	if (r->tls)
		return 0;
	int rc = kc_cert_load_file(r->s->ca_file, &r->ca, err);
	if (rc < 0)
		return kc_err_wrap(err, "registry CA bundle");
	struct tls_client_opts to = {.ca = r->ca};
	return tls_client_config_new(&to, &r->tls, err);
}

static void reg_config(struct reg *r, struct http_client_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tls = r->tls;
	cfg->request_timeout_ms = r->o && r->o->timeout_ms ? r->o->timeout_ms : DEF_TIMEOUT_MS;
	cfg->max_body_bytes = IMAGE_JSON_MAX;
	cfg->user_agent = "kc (containerd-compatible image client)";
}

/* Same scheme, host and port as the registry: Authorization may go there. */
static bool same_origin(struct reg *r, const char *url)
{
	size_t n = strlen(r->origin);
	return strncmp(url, r->origin, n) == 0 && (url[n] == '/' || url[n] == 0 || url[n] == '?');
}

/* Resolves a Location header against the URL it came from. */
static char *resolve_location(const char *base, const char *loc)
{
	if (kc_has_prefix(loc, "http://") || kc_has_prefix(loc, "https://"))
		return xstrdup(loc);
	const char *p = strstr(base, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	size_t olen = p ? (size_t)(p - base) : strlen(base);
	if (loc[0] == '/')
		return xasprintf("%.*s%s", (int)olen, base, loc);
	const char *q = strchr(base + olen, '?');
	const char *last = base + olen;
	for (const char *c = base + olen; *c && (!q || c < q); c++)
		if (*c == '/')
			last = c;
	return xasprintf("%.*s/%s", (int)(last - base), base, loc);
}

/* ---- streaming GET on a private loop ---- */

struct stream {
	struct loop *l;
	int fd;
	struct kc_sha256 sha;
	uint64_t bytes, limit;
	int status;
	int rc;
	struct kc_err err;
	struct http_client_response resp;
	bool failed_write;
};

static void st_head(struct http_client_req *req, const struct http_client_response *resp, void *arg)
{
	struct stream *st = arg;
	st->status = resp->status;
}

static void st_data(struct http_client_req *req, const char *data, size_t len, void *arg)
{
	struct stream *st = arg;
	if (st->status != 200 || st->failed_write)
		return;
	if (st->bytes + len > st->limit) {
		st->failed_write = true;
		st->rc = kc_err_set(&st->err, -KC_ETOOBIG,
				    "blob larger than its declared %llu bytes",
				    (unsigned long long)st->limit);
		http_client_cancel(req);
		loop_stop(st->l);
		return;
	}
	kc_sha256_update(&st->sha, data, len);
	st->bytes += len;
	while (len > 0) {
		ssize_t w = write(st->fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			st->failed_write = true;
			st->rc = kc_err_set(&st->err, -errno, "write: %s", strerror(errno));
			http_client_cancel(req);
			loop_stop(st->l);
			return;
		}
		data += w;
		len -= (size_t)w;
	}
}

static void st_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		    const struct kc_err *err, void *arg)
{
	struct stream *st = arg;
	if (rc < 0 && st->rc == 0) {
		st->rc = rc;
		st->err = *err;
	}
	st->resp = *resp;
	memset(resp, 0, sizeof(*resp));
	loop_stop(st->l);
}

static int stream_get(struct reg *r, const char *url, const struct http_client_header *h, size_t nh,
		      struct stream *st, struct kc_err *err)
{
	struct http_client_config cfg;
	reg_config(r, &cfg);
	st->l = loop_new(NULL);
	if (!st->l)
		return kc_err_set(err, -errno, "event loop: %s", strerror(errno));
	struct http_client *c = http_client_new(st->l, &cfg);
	struct http_client_request req = {
		.method = "GET",
		.url = url,
		.headers = h,
		.nheaders = nh,
		.stream = true,
		.timeout_ms = cfg.request_timeout_ms,
		.stream_idle_timeout_ms = cfg.request_timeout_ms,
		.on_head = st_head,
		.on_data = st_data,
		.on_done = st_done,
		.arg = st,
	};
	int rc = http_client_submit(c, &req, NULL, err);
	if (rc == 0) {
		loop_run(st->l);
		rc = st->rc;
		if (rc < 0)
			*err = st->err;
	}
	http_client_free(c);
	loop_free(st->l);
	st->l = NULL;
	return rc;
}

/* ---- auth ---- */

/* Reads the parameter 'key' of a challenge (key="quoted" or key=token) into out. */
static bool challenge_param(const char *ch, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	const char *p = ch;
	while ((p = strstr(p, key))) {
		bool start = p == ch || p[-1] == ' ' || p[-1] == ',';
		const char *v = p + kl;
		while (*v == ' ')
			v++;
		if (!start || *v != '=') {
			p += kl;
			continue;
		}
		v++;
		while (*v == ' ')
			v++;
		size_t n = 0;
		if (*v == '"') {
			for (v++; *v && *v != '"'; v++) {
				if (*v == '\\' && v[1])
					v++;
				if (n + 1 < cap)
					out[n++] = *v;
			}
		} else {
			for (; *v && *v != ',' && *v != ' '; v++)
				if (n + 1 < cap)
					out[n++] = *v;
		}
		out[n] = 0;
		return true;
	}
	return false;
}

static void url_escape(struct kc_str *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			kc_str_addc(o, (char)c);
		else
			kc_str_addf(o, "%%%02X", c);
	}
}

static char *basic_value(const struct image_cred *c)
{
	struct kc_str up = KC_STR_INIT, o = KC_STR_INIT;
	kc_str_addf(&up, "%s:%s", c->username, c->password);
	kc_str_adds(&o, "Basic ");
	kc_base64_encode(&o, up.buf, up.len, KC_B64_STD);
	explicit_bzero(up.buf, up.len);
	kc_str_free(&up);
	return kc_str_detach(&o, NULL);
}

/* Answers a 401 challenge: sets r->authz. */
static int authenticate(struct reg *r, const char *challenge, struct kc_err *err)
{
	const struct image_cred *cands[4];
	size_t nc = image_creds_match(r->o ? r->o->creds : NULL, r->ref.repo, cands, 4);
	const struct image_cred *cred = nc ? cands[0] : NULL;
	if (kc_strncaseeq(challenge, "Basic", 5)) {
		if (!cred)
			return kc_err_set(err, -EACCES,
					  "registry %s wants credentials (Basic) and none "
					  "match",
					  r->ref.domain);
		free(r->authz);
		r->authz = basic_value(cred);
		return 0;
	}
	if (!kc_strncaseeq(challenge, "Bearer", 6))
		return kc_err_set(err, -KC_EPROTO,
				  "registry %s: unsupported auth challenge \"%.60s\"",
				  r->ref.domain, challenge);
	char realm[1024], service[256] = "", scope[512] = "";
	if (!challenge_param(challenge + 6, "realm", realm, sizeof(realm)) || !realm[0])
		return kc_err_set(err, -KC_EPROTO, "registry %s: Bearer challenge without a realm",
				  r->ref.domain);
	challenge_param(challenge + 6, "service", service, sizeof(service));
	if (!challenge_param(challenge + 6, "scope", scope, sizeof(scope)) || !scope[0])
		snprintf(scope, sizeof(scope), "repository:%s:pull", r->ref.path);
	struct kc_str url = KC_STR_INIT;
	kc_str_adds(&url, realm);
	kc_str_addc(&url, strchr(realm, '?') ? '&' : '?');
	bool amp = false;
	if (service[0]) {
		kc_str_adds(&url, "service=");
		url_escape(&url, service);
		amp = true;
	}
	if (amp)
		kc_str_addc(&url, '&');
	kc_str_adds(&url, "scope=");
	url_escape(&url, scope);
	struct http_url pu;
	int rc = http_url_parse(url.buf, &pu, err);
	if (rc == 0 && pu.tls)
		rc = reg_tls(r, err);
	struct http_client_config cfg;
	reg_config(r, &cfg);
	struct http_client_header h[1];
	size_t nh = 0;
	char *basic = cred ? basic_value(cred) : NULL;
	if (basic)
		h[nh++] = (struct http_client_header){"Authorization", basic};
	struct http_client_response resp = {0};
	if (rc == 0)
		rc = http_client_do(&cfg, "GET", url.buf, h, nh, NULL, 0, &resp, err);
	if (basic) {
		explicit_bzero(basic, strlen(basic));
		free(basic);
	}
	kc_str_free(&url);
	if (rc < 0)
		return kc_err_wrap(err, "token from %.200s", realm);
	if (resp.status == 401 || resp.status == 403) {
		http_client_response_free(&resp);
		return kc_err_set(err, -EACCES, "registry %s: the token service refused %s access",
				  r->ref.domain, cred ? "these credentials'" : "anonymous");
	}
	if (resp.status != 200) {
		int st = resp.status;
		http_client_response_free(&resp);
		return kc_err_set(err, -KC_EPROTO, "token service %.200s answered %d", realm, st);
	}
	cJSON *doc = NULL;
	struct kc_json_limits lim = {.max_bytes = 1u << 20, .max_depth = 8};
	rc = kc_json_parse(resp.body, resp.body_len, &lim, &doc, err);
	http_client_response_free(&resp);
	if (rc < 0)
		return kc_err_wrap(err, "token response");
	const char *tok = kc_json_get_str(doc, "token");
	if (!tok || !*tok)
		tok = kc_json_get_str(doc, "access_token");
	if (!tok || !*tok || strlen(tok) > 16384 || strpbrk(tok, "\r\n")) {
		cJSON_Delete(doc);
		return kc_err_set(err, -KC_EPROTO, "token response without a usable token");
	}
	free(r->authz);
	r->authz = xasprintf("Bearer %s", tok);
	cJSON_Delete(doc);
	return 0;
}

/* GET with auth and redirects. Buffered (resp) or streamed (st != NULL). The final response is
 * in resp either way (for a stream: status and headers). */
static int reg_get(struct reg *r, const char *path_url, const char *accept, struct stream *st,
		   struct http_client_response *out, struct kc_err *err)
{
	char *url = xstrdup(path_url);
	int rc = 0;
	for (int hop = 0;; hop++) {
		struct http_url pu;
		rc = http_url_parse(url, &pu, err);
		if (rc == 0 && pu.tls)
			rc = reg_tls(r, err);
		if (rc < 0)
			break;
		struct http_client_header h[2];
		size_t nh = 0;
		if (accept)
			h[nh++] = (struct http_client_header){"Accept", accept};
		if (r->authz && same_origin(r, url))
			h[nh++] = (struct http_client_header){"Authorization", r->authz};
		struct http_client_response resp = {0};
		if (st) {
			if (hop > 0 &&
			    (ftruncate(st->fd, 0) < 0 || lseek(st->fd, 0, SEEK_SET) < 0)) {
				rc = kc_err_set(err, -errno, "truncate: %s", strerror(errno));
				break;
			}
			kc_sha256_init(&st->sha);
			st->bytes = 0;
			st->status = 0;
			rc = stream_get(r, url, h, nh, st, err);
			resp = st->resp;
			memset(&st->resp, 0, sizeof(st->resp));
			if (rc < 0) {
				uint8_t junk[KC_SHA256_LEN];
				kc_sha256_final(&st->sha, junk);
			}
		} else {
			struct http_client_config cfg;
			reg_config(r, &cfg);
			rc = http_client_do(&cfg, "GET", url, h, nh, NULL, 0, &resp, err);
		}
		if (rc < 0) {
			http_client_response_free(&resp);
			kc_err_wrap(err, "GET %.200s", url);
			break;
		}
		if (resp.status == 401 && r->auth_tries < 3 && same_origin(r, url)) {
			r->auth_tries++;
			const char *ch = http_client_response_header(&resp, "WWW-Authenticate");
			if (st) {
				uint8_t junk[KC_SHA256_LEN];
				kc_sha256_final(&st->sha, junk);
			}
			if (!ch) {
				http_client_response_free(&resp);
				rc = kc_err_set(err, -EACCES,
						"registry %s: 401 without a challenge",
						r->ref.domain);
				break;
			}
			char *chc = xstrdup(ch);
			http_client_response_free(&resp);
			rc = authenticate(r, chc, err);
			free(chc);
			if (rc < 0)
				break;
			hop--;
			continue;
		}
		if (resp.status >= 300 && resp.status < 400 && resp.status != 304) {
			const char *loc = http_client_response_header(&resp, "Location");
			if (st) {
				uint8_t junk[KC_SHA256_LEN];
				kc_sha256_final(&st->sha, junk);
			}
			if (!loc || hop >= MAX_REDIRECTS) {
				http_client_response_free(&resp);
				rc = kc_err_set(err, -KC_EPROTO, "GET %.200s: %s", url,
						loc ? "too many redirects"
						    : "redirect without Location");
				break;
			}
			char *next = resolve_location(url, loc);
			http_client_response_free(&resp);
			free(url);
			url = next;
			continue;
		}
		*out = resp;
		break;
	}
	free(url);
	return rc;
}

static int status_error(struct reg *r, const char *what, const struct http_client_response *resp,
			struct kc_err *err)
{
	char body[160];
	size_t blen = resp->body ? resp->body_len : 0;
	while (blen && (resp->body[blen - 1] == '\n' || resp->body[blen - 1] == '\r' ||
			resp->body[blen - 1] == ' '))
		blen--;
	kc_excerpt(body, sizeof(body), blen ? resp->body : "", blen);
	if (resp->status == 404)
		return kc_err_set(err, -KC_ENOTFOUND, "%s: not found in %s (%s)", what,
				  r->ref.domain, body);
	if (resp->status == 401 || resp->status == 403)
		return kc_err_set(err, -EACCES, "%s: %s refused access (%d, %s)", what,
				  r->ref.domain, resp->status, body);
	return kc_err_set(err, -KC_EPROTO, "%s: %s answered %d (%s)", what, r->ref.domain,
			  resp->status, body);
}

static int get_doc(struct reg *r, const char *url, const char *accept,
		   struct http_client_response *resp, struct kc_err *err)
{
	return reg_get(r, url, accept, NULL, resp, err);
}

/* Fetches a manifest or index by tag or digest; verifies the digest. */
static int fetch_manifest(struct reg *r, const char *reference, char **body, size_t *len,
			  char digest[IMAGE_DIGEST_MAX], struct kc_err *err)
{
	char *url = xasprintf("%s/v2/%s/manifests/%s", r->origin, r->ref.path, reference);
	struct http_client_response resp = {0};
	int rc = get_doc(r, url, ACCEPT_MANIFESTS, &resp, err);
	free(url);
	if (rc < 0)
		return rc;
	if (resp.status != 200) {
		char what[300];
		snprintf(what, sizeof(what), "manifest %s:%s", r->ref.repo, reference);
		rc = status_error(r, what, &resp, err);
		http_client_response_free(&resp);
		return rc;
	}
	uint8_t raw[KC_SHA256_LEN];
	kc_sha256(resp.body, resp.body_len, raw);
	digest_format(raw, digest);
	const char *hd = http_client_response_header(&resp, "Docker-Content-Digest");
	if (kc_has_prefix(reference, "sha256:") && strcmp(reference, digest) != 0)
		rc = kc_err_set(err, -KC_ECRYPTO, "manifest digest mismatch: asked for %s, got %s",
				reference, digest);
	else if (hd && kc_has_prefix(hd, "sha256:") && strcmp(hd, digest) != 0)
		rc = kc_err_set(err, -KC_ECRYPTO,
				"manifest digest mismatch: registry says %.80s, got %s", hd,
				digest);
	const char *ct = http_client_response_header(&resp, "Content-Type");
	char ctype[128] = "";
	if (ct)
		snprintf(ctype, sizeof(ctype), "%.*s", (int)strcspn(ct, "; "), ct);
	if (rc == 0 && kc_has_prefix(ctype, "application/vnd.docker.distribution.manifest.v1"))
		rc = kc_err_set(
			err, -KC_EUNSUPPORTED,
			"%s: the registry only has a schema 1 manifest, which is not supported",
			r->ref.full);
	if (rc == 0 && ctype[0] && kc_has_prefix(ctype, "application/vnd.")) {
		/* the body's own mediaType, when it has one, must agree with the header */
		cJSON *doc = NULL;
		struct kc_json_limits lim = {.max_bytes = IMAGE_JSON_MAX, .max_depth = 16};
		if (kc_json_parse(resp.body, resp.body_len, &lim, &doc, NULL) == 0) {
			const char *mt = kc_json_get_str(doc, "mediaType");
			if (mt && strcmp(mt, ctype) != 0)
				rc = kc_err_set(
					err, -KC_EPROTO,
					"manifest of %s: Content-Type %.100s but mediaType %.100s",
					r->ref.full, ctype, mt);
			cJSON_Delete(doc);
		}
	}
	if (rc == 0) {
		*body = xmemdup(resp.body, resp.body_len + 1);
		(*body)[resp.body_len] = 0;
		*len = resp.body_len;
	}
	http_client_response_free(&resp);
	return rc;
}

/* Picks linux/<arch> from an index; returns the digest. */
static int pick_platform(struct reg *r, const cJSON *doc, char out[IMAGE_DIGEST_MAX],
			 struct kc_err *err)
{
	const cJSON *ms = kc_json_get(doc, "manifests");
	const cJSON *d;
	cJSON_ArrayForEach(d, ms)
	{
		const char *os = kc_json_get_str(d, "platform.os");
		const char *arch = kc_json_get_str(d, "platform.architecture");
		const char *dg = kc_json_get_str(d, "digest");
		if (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, r->s->arch) == 0 &&
		    digest_valid(dg)) {
			snprintf(out, IMAGE_DIGEST_MAX, "%s", dg);
			return 0;
		}
	}
	return kc_err_set(err, -KC_ENOTFOUND, "%s: no image for linux/%s in the manifest list",
			  r->ref.full, r->s->arch);
}

static int fetch_blob_mem(struct reg *r, const char *digest, char **body, size_t *len,
			  struct kc_err *err)
{
	char *url = xasprintf("%s/v2/%s/blobs/%s", r->origin, r->ref.path, digest);
	struct http_client_response resp = {0};
	int rc = get_doc(r, url, NULL, &resp, err);
	free(url);
	if (rc < 0)
		return rc;
	if (resp.status != 200) {
		char what[120];
		snprintf(what, sizeof(what), "blob %s", digest);
		rc = status_error(r, what, &resp, err);
		http_client_response_free(&resp);
		return rc;
	}
	uint8_t raw[KC_SHA256_LEN];
	char d[IMAGE_DIGEST_MAX];
	kc_sha256(resp.body, resp.body_len, raw);
	digest_format(raw, d);
	if (strcmp(d, digest) != 0) {
		http_client_response_free(&resp);
		return kc_err_set(err, -KC_ECRYPTO, "blob digest mismatch: expected %s, got %s",
				  digest, d);
	}
	*body = xmemdup(resp.body, resp.body_len + 1);
	*len = resp.body_len;
	http_client_response_free(&resp);
	return 0;
}

static int fetch_layer(struct reg *r, const struct manifest_layer *l, const char *diff_id,
		       struct kc_err *err)
{
	char *tmp = NULL;
	int fd = tmp_file(r->s, &tmp, err);
	if (fd < 0)
		return fd;
	char *url = xasprintf("%s/v2/%s/blobs/%s", r->origin, r->ref.path, l->digest);
	struct stream st = {.fd = fd, .limit = l->size ? l->size : BLOB_MAX};
	struct http_client_response resp = {0};
	int rc = reg_get(r, url, NULL, &st, &resp, err);
	free(url);
	if (rc == 0 && resp.status != 200) {
		uint8_t junk[KC_SHA256_LEN];
		kc_sha256_final(&st.sha, junk);
		char what[120];
		snprintf(what, sizeof(what), "layer %s", l->digest);
		rc = status_error(r, what, &resp, err);
	} else if (rc == 0) {
		uint8_t raw[KC_SHA256_LEN];
		char d[IMAGE_DIGEST_MAX];
		kc_sha256_final(&st.sha, raw);
		digest_format(raw, d);
		if (strcmp(d, l->digest) != 0)
			rc = kc_err_set(err, -KC_ECRYPTO,
					"layer digest mismatch: expected %s, got %s", l->digest, d);
		else if (l->size && st.bytes != l->size)
			rc = kc_err_set(err, -KC_ECRYPTO,
					"layer %s: %llu bytes, the manifest says %llu", l->digest,
					(unsigned long long)st.bytes, (unsigned long long)l->size);
	}
	http_client_response_free(&resp);
	if (rc == 0) {
		rc = layer_unpack(r->s, diff_id, fd, NULL, 0, NULL, err);
		if (rc < 0)
			kc_err_wrap(err, "layer %s", l->digest);
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

static int pull(struct reg *r, struct kc_err *err)
{
	const char *reference = r->ref.digest[0] ? r->ref.digest : r->ref.tag;
	char *body = NULL, *cbuf = NULL;
	size_t len = 0, clen = 0;
	char digest[IMAGE_DIGEST_MAX];
	char **ids = NULL;
	size_t nids = 0;
	struct manifest man = {0};
	cJSON *doc = NULL;
	int rc = fetch_manifest(r, reference, &body, &len, digest, err);
	if (rc < 0)
		return rc;
	struct kc_json_limits lim = {.max_bytes = IMAGE_JSON_MAX, .max_depth = 16};
	rc = kc_json_parse(body, len, &lim, &doc, err);
	if (rc < 0) {
		kc_err_wrap(err, "manifest of %s", r->ref.full);
		goto out;
	}
	if (kc_json_get(doc, "manifests")) {
		char pick[IMAGE_DIGEST_MAX];
		rc = pick_platform(r, doc, pick, err);
		if (rc < 0)
			goto out;
		free(body);
		body = NULL;
		cJSON_Delete(doc);
		doc = NULL;
		/* the image is named by the index digest (as containerd records repo digests) */
		char mdig[IMAGE_DIGEST_MAX];
		rc = fetch_manifest(r, pick, &body, &len, mdig, err);
		if (rc < 0)
			goto out;
	}
	rc = manifest_parse(body, len, &man, err);
	if (rc < 0)
		goto out;
	/* config: from the store when present, else from the registry */
	if (blob_get(r->s, man.config, IMAGE_JSON_MAX, &cbuf, &clen, NULL) < 0) {
		rc = fetch_blob_mem(r, man.config, &cbuf, &clen, err);
		if (rc < 0)
			goto out;
	}
	rc = config_diff_ids(cbuf, clen, &ids, &nids, err);
	if (rc < 0)
		goto out;
	if (nids != man.nlayers) {
		rc = kc_err_set(err, -KC_EINVAL, "%s: config lists %zu diff_ids for %zu layers",
				r->ref.full, nids, man.nlayers);
		goto out;
	}
	uint64_t size = clen;
	for (size_t i = 0; i < man.nlayers; i++) {
		size += man.layers[i].size;
		if (layer_present(r->s, ids[i]))
			continue;
		rc = fetch_layer(r, &man.layers[i], ids[i], err);
		if (rc < 0)
			goto out;
	}
	char mdigest[IMAGE_DIGEST_MAX];
	rc = blob_put(r->s, cbuf, clen, man.config, NULL, err);
	if (rc == 0)
		rc = blob_put(r->s, body, len, NULL, mdigest, err);
	if (rc < 0)
		goto out;
	char repo_digest[IMAGE_REF_MAX + 80];
	snprintf(repo_digest, sizeof(repo_digest), "%s@%s", r->ref.repo, digest);
	char *names[3] = {repo_digest, NULL, NULL};
	if (!r->ref.digest[0])
		names[1] = r->ref.full;
	rc = store_commit_image(r->s, mdigest, man.config, ids, nids, size, names, err);
out:
	cJSON_Delete(doc);
	manifest_free(&man);
	image_strv_free(ids);
	free(cbuf);
	free(body);
	return rc;
}

int image_pull(struct image_store *s, const char *ref, const struct image_pull_opts *opts,
	       struct image **out, struct kc_err *err)
{
	if (out)
		*out = NULL;
	struct reg r = {.s = s, .o = opts};
	int rc = image_ref_parse(ref, &r.ref, err);
	if (rc < 0)
		return rc;
	const char *host =
		strcmp(r.ref.domain, "docker.io") == 0 ? "registry-1.docker.io" : r.ref.domain;
	snprintf(r.origin, sizeof(r.origin), "%s://%s",
		 insecure(s, r.ref.domain) ? "http" : "https", host);
	int gfd = gc_lock_shared(s, err);
	if (gfd < 0)
		return gfd;
	rc = pull(&r, err);
	close(gfd);
	if (r.authz) {
		explicit_bzero(r.authz, strlen(r.authz));
		free(r.authz);
	}
	tls_client_config_free(r.tls);
	kc_cert_free(r.ca);
	if (rc < 0)
		return kc_err_wrap(err, "pull %s", r.ref.full);
	if (out)
		rc = image_lookup(s, r.ref.full, out, err);
	return rc;
}

int image_ensure(struct image_store *s, const char *ref, enum image_pull_policy policy,
		 const struct image_pull_opts *opts, struct image **out, struct kc_err *err)
{
	*out = NULL;
	struct image_ref r;
	int rc = image_ref_parse(ref, &r, err);
	if (rc < 0)
		return rc;
	if (policy != IMAGE_PULL_ALWAYS) {
		rc = image_lookup(s, r.full, out, err);
		if (rc != -KC_ENOTFOUND)
			return rc;
		if (policy == IMAGE_PULL_NEVER)
			return kc_err_set(err, -KC_ENOTFOUND,
					  "ErrImageNeverPull: container image \"%.200s\" "
					  "is not present with pull policy of Never",
					  ref);
	}
	return image_pull(s, r.full, opts, out, err);
}
