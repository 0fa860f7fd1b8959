/* DESIGN: who is calling (authentication) and the front of the RBAC authorizer (rbac.c).
 *
 * Owns the credentials the API server accepts besides client certificates, kept under the
 * data directory and created at first start (0600, written atomically):
 *   DATA/tls/sa.key       EC P-256 key signing ServiceAccount tokens (ES256 JWTs); its key id
 *                         is Kubernetes': base64url(SHA-256(public key DER))
 *   DATA/tls/admin.token  a static bearer token for user "kc-admin" in system:masters
 * The node join token (DATA/token, "kc1:<sha256 hex of the CA cert DER>:<secret>") belongs to
 * the PKI (roles/pki.c makes it and checks its pin); it arrives in auth_config.
 * The order of authenticators follows kube-apiserver: a verified client certificate wins
 * (CN = user, O = groups); else a Bearer token (static tokens first, compared in constant
 * time, then ServiceAccount JWTs); no credentials is the anonymous user. A credential that is
 * present but wrong is an error (401), never anonymous.
 *
 * The node join token authenticates as user "system:bootstrap:node" in groups
 * system:bootstrappers and system:nodes: system:nodes is bound to the system:node ClusterRole
 * (rbac_bootstrap.c), which is what a worker needs to register its Node, heartbeat its Lease
 * and run its pods; system:bootstrappers may create CertificateSigningRequests, so a worker
 * can later move to a client certificate of its own (system:node:<name>).
 *
 * Threads: everything set up in auth_new is read-only afterwards, so authentication runs on
 * any thread without locks (lib/jwt copies the key per signature); the RBAC view has its own
 * read-write lock. */
#include "roles/apiserver/auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/platform_util.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/jwt.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/x509.h"
#include "net/http_server.h"
#include "roles/apiserver/auth_int.h"

#define DEFAULT_ISSUER	  "https://kubernetes.default.svc.cluster.local"
#define ISSUER_MAX	  512
#define STATIC_TOKEN_MIN  16
#define STATIC_TOKEN_MAX  1024
#define BEARER_MAX	  (16 * 1024)
/* go-jose's DefaultLeeway, which Kubernetes' token validation uses for exp, nbf and iat. */
#define CLOCK_LEEWAY_S	 60
#define SA_PREFIX	 "system:serviceaccount:"
#define EXPIRY_DEFAULT_S 3600
#define EXPIRY_MIN_S	 600
#define EXPIRY_MAX_S	 ((int64_t)1 << 32)
#define AUDIENCES_MAX	 64
#define AUDIENCE_LEN_MAX 1024
/* Verified ServiceAccount tokens are remembered this long (kube-apiserver's token success
 * cache TTL), so a pod's repeated requests cost one hash instead of an ECDSA verification;
 * failures are never cached. */
#define CACHE_TTL_S 10
#define CACHE_MAX   4096

struct cached {
	struct auth_user user;
	int64_t exp; /* the token's exp */
	int64_t added;
};

struct auth {
	char issuer[ISSUER_MAX];
	struct kc_clock *clock;
	auth_sa_check_fn sa_check;
	void *sa_check_arg;
	struct kc_key *sa_key;
	char kid[KC_JWT_KID_LEN];
	char admin_token[STATIC_TOKEN_MAX + 1];
	size_t admin_len;
	char node_token[STATIC_TOKEN_MAX + 1];
	size_t node_len;
	struct rbac *rbac;
	pthread_mutex_t cache_lock;
	struct kc_map cache; /* SHA-256 of a token -> struct cached */
};

/* ---- files ---- */

static bool token_char_ok(char c)
{
	return c > 0x20 && c < 0x7f;
}

/* Reads a token file: surrounding whitespace is ignored; what remains must be 16..1024
 * printable bytes without spaces. Returns 0, -ENOENT, or another error. */
static int read_token(const char *path, char out[STATIC_TOKEN_MAX + 1], size_t *len,
		      struct kc_err *err)
{
	unsigned char *buf;
	size_t n;
	int rc = kc_read_file(path, 4096, &buf, &n, err);
	if (rc < 0)
		return rc;
	const char *p = (const char *)buf, *end = p + n;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	size_t tlen = (size_t)(end - p);
	rc = 0;
	if (tlen < STATIC_TOKEN_MIN || tlen > STATIC_TOKEN_MAX)
		rc = kc_err_set(err, -KC_EINVAL, "%s: a token must be %d to %d bytes", path,
				STATIC_TOKEN_MIN, STATIC_TOKEN_MAX);
	for (size_t i = 0; rc == 0 && i < tlen; i++)
		if (!token_char_ok(p[i]))
			rc = kc_err_set(err, -KC_EINVAL,
					"%s: a token holds printable characters without spaces",
					path);
	if (rc == 0) {
		memcpy(out, p, tlen);
		out[tlen] = '\0';
		*len = tlen;
	}
	mbedtls_platform_zeroize(buf, n);
	free(buf);
	return rc;
}

static int write_token(const char *path, const char *token, struct kc_err *err)
{
	char *text = xasprintf("%s\n", token);
	int rc = kc_write_file_atomic(path, text, strlen(text), 0600, err);
	mbedtls_platform_zeroize(text, strlen(text));
	free(text);
	return rc;
}

static int random_hex(char *out, size_t nbytes, struct kc_err *err)
{
	uint8_t buf[64];
	int rc = kc_random_bytes(buf, nbytes);
	if (rc < 0)
		return kc_err_set(err, rc, "getrandom: %s", kc_strerror(rc));
	kc_hex_encode(buf, nbytes, out);
	mbedtls_platform_zeroize(buf, sizeof buf);
	return 0;
}

static int load_admin_token(struct auth *a, const char *dir, struct kc_err *err)
{
	char *path = xasprintf("%s/admin.token", dir);
	int rc = read_token(path, a->admin_token, &a->admin_len, err);
	if (rc == -ENOENT) {
		rc = random_hex(a->admin_token, 32, err);
		if (rc == 0)
			rc = write_token(path, a->admin_token, err);
		if (rc == 0) {
			a->admin_len = strlen(a->admin_token);
			log_info("created admin token path=%s", path);
		}
	}
	free(path);
	return rc;
}

static int load_sa_key(struct auth *a, const char *dir, struct kc_err *err)
{
	char *path = xasprintf("%s/sa.key", dir);
	struct stat st;
	int rc;
	if (stat(path, &st) == 0) {
		rc = kc_key_load_file(path, &a->sa_key, err);
		if (rc == 0 && !kc_jwt_es256_key(a->sa_key))
			rc = kc_err_set(err, -KC_EINVAL, "%s is not an EC P-256 key", path);
	} else if (errno == ENOENT) {
		rc = kc_key_generate(&a->sa_key, err);
		if (rc == 0)
			rc = kc_key_save_file(a->sa_key, path, err);
		if (rc == 0)
			log_info("created service-account signing key path=%s", path);
	} else {
		rc = kc_err_set(err, -errno, "%s: %s", path, strerror(errno));
	}
	if (rc == 0)
		rc = kc_jwt_key_id(a->sa_key, a->kid, err);
	free(path);
	return rc;
}

static void cached_free(void *p)
{
	if (p)
		mbedtls_platform_zeroize(p, sizeof(struct cached));
	free(p);
}

int auth_new(const struct auth_config *cfg, struct auth **out, struct kc_err *err)
{
	*out = NULL;
	if (!cfg->data_dir || !cfg->data_dir[0])
		return kc_err_set(err, -KC_EINVAL, "auth: no data directory");
	const char *issuer = cfg->issuer && cfg->issuer[0] ? cfg->issuer : DEFAULT_ISSUER;
	if (strlen(issuer) >= ISSUER_MAX)
		return kc_err_set(err, -KC_EINVAL, "auth: issuer longer than %d bytes",
				  ISSUER_MAX - 1);
	struct auth *a = xcalloc(1, sizeof *a);
	pthread_mutex_init(&a->cache_lock, NULL);
	kc_map_init(&a->cache, cached_free);
	snprintf(a->issuer, sizeof a->issuer, "%s", issuer);
	a->clock = cfg->clock ? cfg->clock : kc_clock_real();
	a->sa_check = cfg->sa_check;
	a->sa_check_arg = cfg->sa_check_arg;
	char *dir = xasprintf("%s/tls", cfg->data_dir);
	int rc = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		rc = kc_err_set(err, -errno, "cannot create %s: %s", dir, strerror(errno));
	if (rc == 0)
		rc = load_sa_key(a, dir, err);
	if (rc == 0)
		rc = load_admin_token(a, dir, err);
	if (rc == 0 && cfg->join_token && cfg->join_token[0]) {
		size_t n = strlen(cfg->join_token);
		if (n >= sizeof a->node_token)
			rc = kc_err_set(err, -KC_EINVAL, "auth: join token longer than %zu bytes",
					sizeof a->node_token - 1);
		else {
			memcpy(a->node_token, cfg->join_token, n + 1);
			a->node_len = n;
		}
	}
	free(dir);
	if (rc < 0) {
		auth_free(a);
		return rc;
	}
	a->rbac = rbac_new();
	*out = a;
	return 0;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	rbac_free(a->rbac);
	kc_key_free(a->sa_key);
	kc_map_free(&a->cache);
	pthread_mutex_destroy(&a->cache_lock);
	mbedtls_platform_zeroize(a, sizeof *a);
	free(a);
}

const char *auth_admin_token(const struct auth *a)
{
	return a->admin_token;
}

const char *auth_node_token(const struct auth *a)
{
	return a->node_token;
}

const char *auth_issuer(const struct auth *a)
{
	return a->issuer;
}

void auth_sa_jwks(const struct auth *a, struct kc_str *out)
{
	cJSON *set = kc_json_new_object(), *keys = kc_json_new_array();
	cJSON *jwk = kc_jwt_public_jwk(a->sa_key, a->kid);
	if (jwk)
		cJSON_AddItemToArray(keys, jwk);
	kc_json_add(set, "keys", keys);
	kc_json_write(out, set);
	cJSON_Delete(set);
}

/* ---- names ---- */

static int64_t now_s(const struct auth *a)
{
	return (int64_t)(a->clock->wall_ns(a->clock) / 1000000000u);
}

/* DNS-1123 label (namespaces): [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
static bool dns_label(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* DNS-1123 subdomain (ServiceAccount, Pod names): labels joined by '.', at most 253. */
static bool dns_subdomain(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && c != '-' && c != '.')
			return false;
		if (!alnum &&
		    (i == 0 || i == n - 1 || s[i - 1] == '.' || (c == '.' && s[i - 1] == '-')))
			return false;
	}
	return true;
}

static void add_group(struct auth_user *u, const char *g)
{
	for (unsigned i = 0; i < u->ngroups; i++)
		if (strcmp(u->groups[i], g) == 0)
			return;
	if (u->ngroups < AUTH_MAX_GROUPS && strlen(g) < AUTH_NAME_MAX)
		snprintf(u->groups[u->ngroups++], AUTH_NAME_MAX, "%s", g);
}

static void set_anonymous(struct auth_user *u)
{
	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "system:anonymous");
	add_group(u, "system:unauthenticated");
}

/* ---- client certificates ---- */

static int cert_user(const struct http_req *req, struct auth_user *u)
{
	memset(u, 0, sizeof *u);
	if (strlen(req->peer_cn) >= AUTH_NAME_MAX)
		return -KC_EINVAL;
	snprintf(u->name, sizeof u->name, "%s", req->peer_cn);
	const char *g = req->peer_groups ? req->peer_groups : "";
	while (*g) {
		const char *comma = strchr(g, ',');
		size_t n = comma ? (size_t)(comma - g) : strlen(g);
		if (n > 0 && n < AUTH_NAME_MAX) {
			char one[AUTH_NAME_MAX];
			memcpy(one, g, n);
			one[n] = '\0';
			/* keep the last slot for system:authenticated */
			if (u->ngroups < AUTH_MAX_GROUPS - 1)
				add_group(u, one);
			else
				log_warn(
					"client certificate has too many groups user=%s dropped=%s",
					u->name, one);
		}
		g += n + (comma ? 1 : 0);
	}
	add_group(u, "system:authenticated");
	return 1;
}

/* ---- ServiceAccount tokens ---- */

static bool aud_ok(const struct auth *a, const cJSON *aud)
{
	const char *want[] = {a->issuer, DEFAULT_ISSUER};
	if (cJSON_IsString(aud)) {
		for (size_t i = 0; i < 2; i++)
			if (strcmp(aud->valuestring, want[i]) == 0)
				return true;
		return false;
	}
	for (const cJSON *c = cJSON_IsArray(aud) ? aud->child : NULL; c; c = c->next)
		for (size_t i = 0; i < 2 && cJSON_IsString(c); i++)
			if (strcmp(c->valuestring, want[i]) == 0)
				return true;
	return false;
}

/* A NumericDate claim: 0 when absent (*present false), else the integer (seconds; fractions
 * are truncated as go-jose does). Returns false when malformed. */
static bool num_date(const cJSON *claims, const char *name, bool *present, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);
	*present = v != NULL && !cJSON_IsNull(v);
	*out = 0;
	if (!*present)
		return true;
	if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble || v->valuedouble > 9.2e18 ||
	    v->valuedouble < -9.2e18)
		return false;
	*out = (int64_t)v->valuedouble;
	return true;
}

/* The bound object the token names, if any: kind and the claims object holding name/uid. */
static const char *bound_object(const cJSON *k8s, const cJSON **obj)
{
	static const struct {
		const char *claim, *kind;
	} kinds[] = {{"pod", "Pod"}, {"secret", "Secret"}};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(k8s, kinds[i].claim);
		if (cJSON_IsObject(o)) {
			*obj = o;
			return kinds[i].kind;
		}
	}
	*obj = NULL;
	return NULL;
}

static bool cache_get(struct auth *a, const uint8_t key[KC_SHA256_LEN], int64_t now,
		      struct auth_user *u)
{
	bool hit = false;
	pthread_mutex_lock(&a->cache_lock);
	const struct cached *c = kc_map_get(&a->cache, key, KC_SHA256_LEN);
	if (c && now - c->added < CACHE_TTL_S && now >= c->added &&
	    now <= c->exp + CLOCK_LEEWAY_S) {
		*u = c->user;
		hit = true;
	}
	pthread_mutex_unlock(&a->cache_lock);
	return hit;
}

static void cache_put(struct auth *a, const uint8_t key[KC_SHA256_LEN], int64_t now, int64_t exp,
		      const struct auth_user *u)
{
	struct cached *c = xmalloc(sizeof *c);
	c->user = *u;
	c->exp = exp;
	c->added = now;
	pthread_mutex_lock(&a->cache_lock);
	if (a->cache.len >= CACHE_MAX) {
		/* full of live tokens: start over; a miss only costs one verification */
		kc_map_free(&a->cache);
		kc_map_init(&a->cache, cached_free);
	}
	kc_map_put(&a->cache, key, KC_SHA256_LEN, c);
	pthread_mutex_unlock(&a->cache_lock);
}

static int sa_token_user(struct auth *a, const char *token, size_t len, struct auth_user *u)
{
	uint8_t digest[KC_SHA256_LEN];
	kc_sha256(token, len, digest);
	if (cache_get(a, digest, now_s(a), u))
		return 1;
	struct kc_err err = {0};
	cJSON *claims = NULL;
	int rc = kc_jwt_verify_es256(a->sa_key, a->kid, token, len, &claims, &err);
	if (rc < 0) {
		log_debug("bearer token rejected reason=\"%s\"", err.msg);
		return -KC_EINVAL;
	}
	const char *why = NULL;
	int64_t now = now_s(a), exp, nbf, iat;
	bool has_exp, has_nbf, has_iat;
	const char *iss = kc_json_get_str(claims, "iss");
	const char *sub = kc_json_get_str(claims, "sub");
	const cJSON *k8s = cJSON_GetObjectItemCaseSensitive(claims, "kubernetes.io");
	const char *ns = cJSON_IsObject(k8s) ? kc_json_get_str(k8s, "namespace") : NULL;
	const char *name = cJSON_IsObject(k8s) ? kc_json_get_str(k8s, "serviceaccount.name") : NULL;
	const char *uid = cJSON_IsObject(k8s) ? kc_json_get_str(k8s, "serviceaccount.uid") : NULL;
	const cJSON *bound = NULL;
	const char *bound_kind = cJSON_IsObject(k8s) ? bound_object(k8s, &bound) : NULL;
	const char *bound_name = bound ? kc_json_get_str(bound, "name") : NULL;
	const char *bound_uid = bound ? kc_json_get_str(bound, "uid") : NULL;
	char want_sub[AUTH_NAME_MAX];

	if (!iss || strcmp(iss, a->issuer) != 0)
		why = "wrong issuer";
	else if (!aud_ok(a, cJSON_GetObjectItemCaseSensitive(claims, "aud")))
		why = "token audiences do not include the API server";
	else if (!num_date(claims, "exp", &has_exp, &exp) ||
		 !num_date(claims, "nbf", &has_nbf, &nbf) ||
		 !num_date(claims, "iat", &has_iat, &iat))
		why = "malformed time claims";
	else if (!has_exp)
		why = "token has no expiry";
	else if (now > exp + CLOCK_LEEWAY_S)
		why = "token has expired";
	else if (has_nbf && now + CLOCK_LEEWAY_S < nbf)
		why = "token not valid yet";
	else if (has_iat && now + CLOCK_LEEWAY_S < iat)
		why = "token issued in the future";
	else if (!ns || !name || !dns_label(ns) || !dns_subdomain(name))
		why = "token names no valid service account";
	else if (uid && strlen(uid) >= sizeof u->uid)
		why = "service account uid too long";
	else if (bound && (!bound_name || !bound_uid))
		why = "malformed bound object claims";
	else if (snprintf(want_sub, sizeof want_sub, SA_PREFIX "%s:%s", ns, name) >=
		 (int)sizeof want_sub)
		why = "service account name too long";
	else if (!sub || strcmp(sub, want_sub) != 0)
		why = "subject does not match the service account claims";

	if (!why && a->sa_check &&
	    !a->sa_check(a->sa_check_arg, ns, name, uid ? uid : "", bound_kind, bound_name,
			 bound_uid))
		why = "service account or bound object no longer exists";
	if (why) {
		log_debug("service account token rejected reason=\"%s\"", why);
		cJSON_Delete(claims);
		return -KC_EINVAL;
	}
	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "%s", want_sub);
	snprintf(u->uid, sizeof u->uid, "%s", uid ? uid : "");
	char g[AUTH_NAME_MAX];
	add_group(u, "system:serviceaccounts");
	snprintf(g, sizeof g, "system:serviceaccounts:%s", ns);
	add_group(u, g);
	add_group(u, "system:authenticated");
	cJSON_Delete(claims);
	cache_put(a, digest, now, exp, u);
	return 1;
}

/* Constant-time equality of a presented token with a configured one; the configured length
 * is not secret. */
static bool token_equal(const char *given, size_t n, const char *want, size_t wn)
{
	return wn > 0 && n == wn && kc_ct_equal(given, want, n);
}

static int bearer_user(struct auth *a, const char *token, size_t n, struct auth_user *u)
{
	if (n > BEARER_MAX) {
		log_debug("bearer token rejected reason=\"longer than %d bytes\"", BEARER_MAX);
		return -KC_EINVAL;
	}
	bool admin = token_equal(token, n, a->admin_token, a->admin_len);
	bool node = token_equal(token, n, a->node_token, a->node_len);
	if (admin) {
		memset(u, 0, sizeof *u);
		snprintf(u->name, sizeof u->name, "kc-admin");
		add_group(u, "system:masters");
		add_group(u, "system:authenticated");
		return 1;
	}
	if (node) {
		memset(u, 0, sizeof *u);
		snprintf(u->name, sizeof u->name, "system:bootstrap:node");
		add_group(u, "system:bootstrappers");
		add_group(u, "system:nodes");
		add_group(u, "system:authenticated");
		return 1;
	}
	const char *dot = memchr(token, '.', n);
	if (dot && memchr(dot + 1, '.', n - (size_t)(dot + 1 - token)))
		return sa_token_user(a, token, n, u);
	log_debug("bearer token rejected reason=\"unknown token\"");
	return -KC_EINVAL;
}

int auth_authenticate(struct auth *a, struct http_req *req, struct auth_user *u)
{
	/* kube-apiserver's x509 authenticator: a certificate without a CN does not identify
	 * anyone, and the token authenticators get their turn */
	if (req->peer_verified && req->peer_cn && req->peer_cn[0]) {
		int rc = cert_user(req, u);
		if (rc != 0)
			return rc;
	}
	const char *h = http_req_header(req, "Authorization");
	set_anonymous(u);
	if (!h)
		return 0;
	/* bearertoken.Authenticator: TrimSpace, SplitN(" ", 3), scheme case-insensitive; the
	 * token is what lies between the first and second space */
	while (*h == ' ' || *h == '\t')
		h++;
	size_t hlen = strlen(h);
	while (hlen && (h[hlen - 1] == ' ' || h[hlen - 1] == '\t'))
		hlen--;
	const char *sp = memchr(h, ' ', hlen);
	if (!sp || (size_t)(sp - h) != 6 || !kc_strncaseeq(h, "bearer", 6))
		return 0;
	const char *token = sp + 1, *end = h + hlen;
	const char *sp2 = memchr(token, ' ', (size_t)(end - token));
	size_t n = (size_t)((sp2 ? sp2 : end) - token);
	if (n == 0)
		return 0;
	int rc = bearer_user(a, token, n, u);
	if (rc < 0)
		set_anonymous(u);
	return rc;
}

/* ---- authorization ---- */

bool auth_authorize(struct auth *a, const struct auth_user *u, const struct authz_attrs *at)
{
	return rbac_authorize(a->rbac, u, at);
}

void auth_rbac_update(struct auth *a, const char *resource, const cJSON *obj, bool deleted)
{
	rbac_update(a->rbac, resource, obj, deleted);
}

/* ---- issuing tokens ---- */

static void uuid_v4(char out[37])
{
	uint8_t b[16];
	if (kc_random_bytes(b, sizeof b) < 0)
		kc_fatal("getrandom failed");
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	char hex[33];
	kc_hex_encode(b, sizeof b, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static cJSON *name_uid(const char *name, const char *uid)
{
	cJSON *o = kc_json_new_object();
	kc_json_add(o, "name", kc_json_new_str(name));
	kc_json_add(o, "uid", kc_json_new_str(uid ? uid : ""));
	return o;
}

int auth_issue_sa_token_req(struct auth *a, const struct auth_token_request *r, int64_t *exp,
			    struct kc_str *out, struct kc_err *err)
{
	if (!r->ns || !dns_label(r->ns))
		return kc_err_set(err, -KC_EINVAL, "invalid namespace for a token");
	if (!r->sa || !dns_subdomain(r->sa) ||
	    strlen(SA_PREFIX) + strlen(r->ns) + 1 + strlen(r->sa) >= AUTH_NAME_MAX)
		return kc_err_set(err, -KC_EINVAL, "invalid service account name for a token");
	if (r->sa_uid && strlen(r->sa_uid) >= sizeof((struct auth_user *)0)->uid)
		return kc_err_set(err, -KC_EINVAL, "service account uid too long");
	const char *bound_claim = NULL;
	if (r->bound_kind) {
		if (strcmp(r->bound_kind, "Pod") == 0)
			bound_claim = "pod";
		else if (strcmp(r->bound_kind, "Secret") == 0)
			bound_claim = "secret";
		else
			return kc_err_set(err, -KC_EINVAL,
					  "cannot bind a token to a %.64s: only Pod and Secret",
					  r->bound_kind);
		if (!r->bound_name || !r->bound_name[0])
			return kc_err_set(err, -KC_EINVAL, "bound object needs a name");
	}
	cJSON *aud = kc_json_new_array();
	size_t naud = 0, audbytes = 0;
	for (const cJSON *c = cJSON_IsArray(r->audiences) ? r->audiences->child : NULL; c;
	     c = c->next) {
		if (!cJSON_IsString(c) || !c->valuestring[0] ||
		    strlen(c->valuestring) > AUDIENCE_LEN_MAX || ++naud > AUDIENCES_MAX) {
			cJSON_Delete(aud);
			return kc_err_set(
				err, -KC_EINVAL,
				"audiences must be at most %d non-empty strings of at most %d bytes",
				AUDIENCES_MAX, AUDIENCE_LEN_MAX);
		}
		audbytes += strlen(c->valuestring);
		cJSON_AddItemToArray(aud, kc_json_new_str(c->valuestring));
	}
	if (r->audiences && !cJSON_IsArray(r->audiences)) {
		cJSON_Delete(aud);
		return kc_err_set(err, -KC_EINVAL, "audiences must be an array of strings");
	}
	if (audbytes > BEARER_MAX / 2) {
		cJSON_Delete(aud);
		return kc_err_set(err, -KC_EINVAL, "audiences too long for a token");
	}
	if (naud == 0)
		cJSON_AddItemToArray(aud, kc_json_new_str(a->issuer));

	int64_t expiry = r->expiry_s == 0 ? EXPIRY_DEFAULT_S : r->expiry_s;
	if (expiry < EXPIRY_MIN_S)
		expiry = EXPIRY_MIN_S;
	if (expiry >= EXPIRY_MAX_S)
		expiry = EXPIRY_MAX_S - 1;
	int64_t now = now_s(a);
	char jti[37], sub[AUTH_NAME_MAX];
	uuid_v4(jti);
	snprintf(sub, sizeof sub, SA_PREFIX "%s:%s", r->ns, r->sa);

	/* member order as kube-apiserver marshals its claims struct */
	cJSON *claims = kc_json_new_object();
	kc_json_add(claims, "aud", aud);
	kc_json_add(claims, "exp", kc_json_new_num((double)(now + expiry)));
	kc_json_add(claims, "iat", kc_json_new_num((double)now));
	kc_json_add(claims, "iss", kc_json_new_str(a->issuer));
	kc_json_add(claims, "jti", kc_json_new_str(jti));
	cJSON *k8s = kc_json_new_object();
	kc_json_add(k8s, "namespace", kc_json_new_str(r->ns));
	if (r->node_name && r->node_name[0])
		kc_json_add(k8s, "node", name_uid(r->node_name, r->node_uid));
	if (bound_claim)
		kc_json_add(k8s, bound_claim, name_uid(r->bound_name, r->bound_uid));
	kc_json_add(k8s, "serviceaccount", name_uid(r->sa, r->sa_uid));
	kc_json_add(claims, "kubernetes.io", k8s);
	kc_json_add(claims, "nbf", kc_json_new_num((double)now));
	kc_json_add(claims, "sub", kc_json_new_str(sub));

	size_t start = out->len;
	int rc = kc_jwt_sign_es256(a->sa_key, a->kid, claims, out, err);
	cJSON_Delete(claims);
	if (rc == 0 && out->len - start > BEARER_MAX) {
		kc_str_setlen(out, start);
		rc = kc_err_set(err, -KC_EINVAL, "token would exceed %d bytes", BEARER_MAX);
	}
	if (rc == 0 && exp)
		*exp = now + expiry;
	return rc;
}

int auth_issue_sa_token(struct auth *a, const char *ns, const char *sa, const char *sa_uid,
			const cJSON *audiences, int64_t expiry_s, int64_t *exp, struct kc_str *out,
			struct kc_err *err)
{
	const struct auth_token_request r = {
		.ns = ns,
		.sa = sa,
		.sa_uid = sa_uid,
		.audiences = audiences,
		.expiry_s = expiry_s,
	};
	return auth_issue_sa_token_req(a, &r, exp, out, err);
}
