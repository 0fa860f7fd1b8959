/* Unit tests for roles/apiserver/auth (authentication) and rbac (authorization): the files
 * created at first start, client certificate users, static and join tokens, ServiceAccount
 * tokens (round trip, claims shape, expiry, signatures, audiences, crafted claims), and RBAC
 * decisions as Kubernetes makes them (aggregation, RoleBindings to ClusterRoles, resourceNames,
 * subresources, non-resource URLs, system:masters, the default policy), with a timing print
 * for 10,000 bindings and a concurrent reader/writer run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/jwt.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "net/http_server.h"
#include "roles/apiserver/auth.h"

struct fixture {
	char dir[64];
	struct kc_fake_clock clock;
	struct auth *auth;
	struct kc_cert *ca;
};

static int rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int rc = system(cmd);
	free(cmd);
	return rc;
}

/* The join token as roles/pki.c makes it; auth only accepts it. */
#define JOIN_TOKEN "kc1:0000000000000000000000000000000000000000000000000000000000000000:0123456789abcdef0123456789abcdef"

static struct auth *open_auth(struct fixture *f, struct auth_config *extra)
{
	struct auth_config cfg = {.data_dir = f->dir, .clock = &f->clock.clock,
				  .join_token = JOIN_TOKEN};
	if (extra) {
		cfg.sa_check = extra->sa_check;
		cfg.sa_check_arg = extra->sa_check_arg;
		cfg.issuer = extra->issuer;
	}
	struct auth *a = NULL;
	struct kc_err err = {0};
	if (auth_new(&cfg, &a, &err) != 0)
		fail_msg("auth_new: %s", err.msg);
	return a;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/kc-test-auth-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	kc_fake_clock_init(&f->clock, 0);
	char *tls = xasprintf("%s/tls", f->dir), *crt = xasprintf("%s/tls/ca.crt", f->dir);
	struct kc_key *ca_key = NULL;
	struct kc_err err = {0};
	mkdir(tls, 0700);
	int rc = kc_ca_create("kc-ca", (int64_t)time(NULL), &f->ca, &ca_key, &err);
	if (rc == 0)
		rc = kc_cert_save_file(f->ca, crt, &err);
	kc_key_free(ca_key);
	free(tls);
	free(crt);
	if (rc)
		return -1;
	f->auth = open_auth(f, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	auth_free(f->auth);
	kc_cert_free(f->ca);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* ---- requests ---- */

struct fake_req {
	struct http_req req;
	struct http_header hdr[2];
};

static struct http_req *make_req(struct fake_req *fr, const char *authorization)
{
	memset(fr, 0, sizeof *fr);
	fr->req.method = "GET";
	fr->req.path = "/api";
	fr->req.peer_cn = "";
	fr->req.peer_groups = "";
	fr->req.head.headers = fr->hdr;
	if (authorization) {
		fr->hdr[0].name.p = "Authorization";
		fr->hdr[0].name.n = strlen("Authorization");
		fr->hdr[0].value.p = authorization;
		fr->hdr[0].value.n = strlen(authorization);
		fr->req.head.nheaders = 1;
	}
	return &fr->req;
}

static int authn(struct auth *a, const char *authorization, struct auth_user *u)
{
	struct fake_req fr;
	return auth_authenticate(a, make_req(&fr, authorization), u);
}

static int authn_bearer(struct auth *a, const char *token, struct auth_user *u)
{
	char *h = xasprintf("Bearer %s", token);
	int rc = authn(a, h, u);
	free(h);
	return rc;
}

static bool in_groups(const struct auth_user *u, const char *g)
{
	for (unsigned i = 0; i < u->ngroups; i++)
		if (strcmp(u->groups[i], g) == 0)
			return true;
	return false;
}

/* ---- files ---- */

static mode_t file_mode(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	int rc = stat(p, &st);
	free(p);
	return rc == 0 ? st.st_mode & 0777 : 0;
}

static void test_first_start_files(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(file_mode(f->dir, "tls/sa.key"), 0600);
	assert_int_equal(file_mode(f->dir, "tls/admin.token"), 0600);
	assert_true(strlen(auth_admin_token(f->auth)) >= 32);
	/* the join token comes from the PKI; auth neither writes nor changes it */
	assert_int_equal(file_mode(f->dir, "token"), 0);
	assert_string_equal(auth_node_token(f->auth), JOIN_TOKEN);

	/* a restart keeps every credential: tokens issued before still work */
	struct kc_str tok = KC_STR_INIT;
	struct kc_err err = {0};
	assert_int_equal(auth_issue_sa_token(f->auth, "default", "default", "u-1", NULL, 0, NULL,
					     &tok, &err),
			 0);
	char *admin = xstrdup(auth_admin_token(f->auth));
	auth_free(f->auth);
	f->auth = open_auth(f, NULL);
	assert_string_equal(auth_admin_token(f->auth), admin);
	struct auth_user u;
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), 1);
	assert_string_equal(u.name, "system:serviceaccount:default:default");
	assert_int_equal(authn_bearer(f->auth, JOIN_TOKEN, &u), 1);
	assert_string_equal(u.name, "system:bootstrap:node");

	/* a join token too long to be one is refused */
	char *huge = xcalloc(1, 20000);
	memset(huge, 'a', 19999);
	struct auth *bad = NULL;
	struct auth_config cfg = {.data_dir = f->dir, .clock = &f->clock.clock, .join_token = huge};
	assert_int_equal(auth_new(&cfg, &bad, &err), -KC_EINVAL);
	assert_null(bad);
	free(huge);
	free(admin);
	kc_str_free(&tok);
}

/* ---- authentication ---- */

static void test_cert_user(void **state)
{
	struct fixture *f = *state;
	struct fake_req fr;
	struct auth_user u;
	struct http_req *req = make_req(&fr, NULL);
	req->peer_verified = true;
	req->peer_cn = "alice";
	req->peer_groups = "devs,ops team";
	assert_int_equal(auth_authenticate(f->auth, req, &u), 1);
	assert_string_equal(u.name, "alice");
	assert_int_equal(u.ngroups, 3);
	assert_string_equal(u.groups[0], "devs");
	assert_string_equal(u.groups[1], "ops team");
	assert_string_equal(u.groups[2], "system:authenticated");

	/* the certificate wins over a token */
	req = make_req(&fr, "Bearer nonsense");
	req->peer_verified = true;
	req->peer_cn = "kubernetes-admin";
	req->peer_groups = "system:masters";
	assert_int_equal(auth_authenticate(f->auth, req, &u), 1);
	assert_string_equal(u.name, "kubernetes-admin");
	assert_true(in_groups(&u, "system:masters"));

	/* an unverified certificate identifies nobody */
	req = make_req(&fr, NULL);
	req->peer_verified = false;
	req->peer_cn = "mallory";
	req->peer_groups = "system:masters";
	assert_int_equal(auth_authenticate(f->auth, req, &u), 0);
	assert_string_equal(u.name, "system:anonymous");
	assert_false(in_groups(&u, "system:masters"));

	/* no CN: the token decides */
	char *h = xasprintf("Bearer %s", auth_admin_token(f->auth));
	req = make_req(&fr, h);
	req->peer_verified = true;
	req->peer_cn = "";
	assert_int_equal(auth_authenticate(f->auth, req, &u), 1);
	assert_string_equal(u.name, "kc-admin");
	free(h);

	/* more groups than fit: system:authenticated is still there */
	req = make_req(&fr, NULL);
	req->peer_verified = true;
	req->peer_cn = "many";
	req->peer_groups = "g1,g2,g3,g4,g5,g6,g7,g8,g9,g10,g11,g12,g13,g14,g15,g16,g17,g18";
	assert_int_equal(auth_authenticate(f->auth, req, &u), 1);
	assert_int_equal(u.ngroups, AUTH_MAX_GROUPS);
	assert_true(in_groups(&u, "system:authenticated"));
}

static void test_tokens(void **state)
{
	struct fixture *f = *state;
	struct auth_user u;

	/* nothing, or another scheme: anonymous */
	assert_int_equal(authn(f->auth, NULL, &u), 0);
	assert_string_equal(u.name, "system:anonymous");
	assert_int_equal(u.ngroups, 1);
	assert_string_equal(u.groups[0], "system:unauthenticated");
	assert_int_equal(authn(f->auth, "Basic YWRtaW46YWRtaW4=", &u), 0);
	assert_int_equal(authn(f->auth, "Bearer", &u), 0);
	assert_int_equal(authn(f->auth, "Bearer ", &u), 0);
	assert_int_equal(authn(f->auth, "Bearertoken", &u), 0);

	/* wrong tokens: 401 */
	assert_int_equal(authn(f->auth, "Bearer not-a-token", &u), -KC_EINVAL);
	assert_string_equal(u.name, "system:anonymous");
	assert_int_equal(authn(f->auth, "Bearer a.b.c", &u), -KC_EINVAL);
	assert_int_equal(authn(f->auth, "Bearer eyJhbGciOiJub25lIn0.e30.", &u), -KC_EINVAL);
	char *admin = xstrdup(auth_admin_token(f->auth));
	admin[strlen(admin) - 1] ^= 1;
	assert_int_equal(authn_bearer(f->auth, admin, &u), -KC_EINVAL);
	admin[strlen(admin) - 1] = '\0';
	assert_int_equal(authn_bearer(f->auth, admin, &u), -KC_EINVAL);
	free(admin);

	/* over 16 KiB */
	char *big = xmalloc(16 * 1024 + 2);
	memset(big, 'a', 16 * 1024 + 1);
	big[16 * 1024 + 1] = '\0';
	assert_int_equal(authn_bearer(f->auth, big, &u), -KC_EINVAL);
	free(big);

	/* the admin token; scheme case and surrounding space as Kubernetes accepts them */
	char *h = xasprintf("  bearer %s ", auth_admin_token(f->auth));
	assert_int_equal(authn(f->auth, h, &u), 1);
	assert_string_equal(u.name, "kc-admin");
	assert_true(in_groups(&u, "system:masters"));
	assert_true(in_groups(&u, "system:authenticated"));
	free(h);
	h = xasprintf("Bearer %s extra", auth_admin_token(f->auth));
	assert_int_equal(authn(f->auth, h, &u), 1);
	free(h);

	/* the join token */
	assert_int_equal(authn_bearer(f->auth, auth_node_token(f->auth), &u), 1);
	assert_string_equal(u.name, "system:bootstrap:node");
	assert_true(in_groups(&u, "system:nodes"));
	assert_true(in_groups(&u, "system:bootstrappers"));
	assert_true(in_groups(&u, "system:authenticated"));
}

/* The decoded claims of a JWT. */
static cJSON *claims_of(const char *tok)
{
	const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
	struct kc_str s = KC_STR_INIT;
	struct kc_err err = {0};
	assert_int_equal(kc_base64_decode(&s, d1 + 1, (size_t)(d2 - d1 - 1),
					  KC_B64_URL | KC_B64_NOPAD, &err),
			 0);
	cJSON *v = NULL;
	assert_int_equal(kc_json_parse(s.buf, s.len, NULL, &v, &err), 0);
	kc_str_free(&s);
	return v;
}

static void test_sa_token_round_trip(void **state)
{
	struct fixture *f = *state;
	struct kc_str tok = KC_STR_INIT;
	struct kc_err err = {0};
	int64_t exp = 0;
	int64_t now = 1700000000;
	assert_int_equal(auth_issue_sa_token(f->auth, "kube-system", "coredns", "0b7e-11", NULL, 0,
					     &exp, &tok, &err),
			 0);
	assert_int_equal(exp, now + 3600);
	struct auth_user u;
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), 1);
	assert_string_equal(u.name, "system:serviceaccount:kube-system:coredns");
	assert_string_equal(u.uid, "0b7e-11");
	assert_int_equal(u.ngroups, 3);
	assert_string_equal(u.groups[0], "system:serviceaccounts");
	assert_string_equal(u.groups[1], "system:serviceaccounts:kube-system");
	assert_string_equal(u.groups[2], "system:authenticated");

	/* the claims read like kube-apiserver's */
	cJSON *c = claims_of(tok.buf);
	cJSON *want = NULL;
	const char *shape =
		"[\"aud\",\"exp\",\"iat\",\"iss\",\"jti\",\"kubernetes.io\",\"nbf\",\"sub\"]";
	assert_int_equal(kc_json_parse(shape, strlen(shape), NULL, &want, &err), 0);
	const cJSON *w = want->child;
	for (const cJSON *m = c->child; m; m = m->next, w = w->next) {
		assert_non_null(w);
		assert_string_equal(m->string, w->valuestring);
	}
	cJSON_Delete(want);
	assert_string_equal(kc_json_get_str(c, "aud[0]"),
			    "https://kubernetes.default.svc.cluster.local");
	assert_string_equal(kc_json_get_str(c, "iss"),
			    "https://kubernetes.default.svc.cluster.local");
	assert_string_equal(kc_json_get_str(c, "sub"), "system:serviceaccount:kube-system:coredns");
	assert_string_equal(kc_json_get_str(c, "[kubernetes.io].namespace"), "kube-system");
	assert_string_equal(kc_json_get_str(c, "[kubernetes.io].serviceaccount.name"), "coredns");
	assert_string_equal(kc_json_get_str(c, "[kubernetes.io].serviceaccount.uid"), "0b7e-11");
	assert_null(kc_json_get(c, "[kubernetes.io].pod"));
	long long v;
	assert_int_equal(kc_json_get_i64(c, "exp", &v), 0);
	assert_int_equal(v, now + 3600);
	assert_int_equal(kc_json_get_i64(c, "iat", &v), 0);
	assert_int_equal(v, now);
	assert_int_equal(kc_json_get_i64(c, "nbf", &v), 0);
	assert_int_equal(v, now);
	assert_int_equal(strlen(kc_json_get_str(c, "jti")), 36);
	cJSON_Delete(c);

	/* a bound token with audiences, expiry clamped to the minimum */
	kc_str_reset(&tok);
	cJSON *aud = kc_json_new_array();
	cJSON_AddItemToArray(aud, kc_json_new_str("vault"));
	cJSON_AddItemToArray(aud, kc_json_new_str("https://kubernetes.default.svc.cluster.local"));
	const struct auth_token_request r = {
		.ns = "default",
		.sa = "app",
		.sa_uid = "sa-uid",
		.audiences = aud,
		.expiry_s = 60,
		.bound_kind = "Pod",
		.bound_name = "app-7d9f",
		.bound_uid = "pod-uid",
		.node_name = "n1",
		.node_uid = "node-uid",
	};
	assert_int_equal(auth_issue_sa_token_req(f->auth, &r, &exp, &tok, &err), 0);
	assert_int_equal(exp, now + 600);
	c = claims_of(tok.buf);
	assert_string_equal(kc_json_get_str(c, "aud[0]"), "vault");
	assert_string_equal(kc_json_get_str(c, "[kubernetes.io].pod.name"), "app-7d9f");
	assert_string_equal(kc_json_get_str(c, "[kubernetes.io].pod.uid"), "pod-uid");
	assert_string_equal(kc_json_get_str(c, "[kubernetes.io].node.name"), "n1");
	cJSON_Delete(c);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), 1);
	assert_string_equal(u.name, "system:serviceaccount:default:app");

	/* audiences not including the API server: 401 */
	cJSON_Delete(aud);
	aud = kc_json_new_array();
	cJSON_AddItemToArray(aud, kc_json_new_str("vault"));
	kc_str_reset(&tok);
	assert_int_equal(
		auth_issue_sa_token(f->auth, "default", "app", NULL, aud, 0, NULL, &tok, &err), 0);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), -KC_EINVAL);
	cJSON_Delete(aud);

	/* bad requests */
	kc_str_reset(&tok);
	assert_int_equal(
		auth_issue_sa_token(f->auth, "Bad_NS", "app", NULL, NULL, 0, NULL, &tok, &err),
		-KC_EINVAL);
	assert_int_equal(
		auth_issue_sa_token(f->auth, "default", "", NULL, NULL, 0, NULL, &tok, &err),
		-KC_EINVAL);
	aud = kc_json_new_str("not-a-list");
	assert_int_equal(
		auth_issue_sa_token(f->auth, "default", "a", NULL, aud, 0, NULL, &tok, &err),
		-KC_EINVAL);
	cJSON_Delete(aud);
	const struct auth_token_request bad = {.ns = "default", .sa = "a", .bound_kind = "Node"};
	assert_int_equal(auth_issue_sa_token_req(f->auth, &bad, NULL, &tok, &err), -KC_EINVAL);
	assert_int_equal(tok.len, 0);

	/* the JWKS publishes the verification key */
	struct kc_str jwks = KC_STR_INIT;
	auth_sa_jwks(f->auth, &jwks);
	cJSON *set = NULL;
	assert_int_equal(kc_json_parse(jwks.buf, jwks.len, NULL, &set, &err), 0);
	assert_string_equal(kc_json_get_str(set, "keys[0].kty"), "EC");
	assert_int_equal(strlen(kc_json_get_str(set, "keys[0].kid")), 43);
	cJSON_Delete(set);
	kc_str_free(&jwks);
	kc_str_free(&tok);
}

static void test_sa_token_expiry(void **state)
{
	struct fixture *f = *state;
	struct kc_str tok = KC_STR_INIT;
	struct kc_err err = {0};
	struct auth_user u;
	assert_int_equal(auth_issue_sa_token(f->auth, "default", "default", NULL, NULL, 600, NULL,
					     &tok, &err),
			 0);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), 1);
	/* within the one-minute leeway past exp */
	kc_fake_clock_advance(&f->clock, 630ull * 1000000000u);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), 1);
	/* expired */
	kc_fake_clock_advance(&f->clock, 60ull * 1000000000u);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), -KC_EINVAL);
	assert_string_equal(u.name, "system:anonymous");
	kc_str_free(&tok);
}

static void test_sa_token_wrong_signature(void **state)
{
	struct fixture *f = *state;
	/* another cluster's key */
	struct fixture other = {0};
	snprintf(other.dir, sizeof other.dir, "/tmp/kc-test-auth2-XXXXXX");
	assert_non_null(mkdtemp(other.dir));
	char *tls = xasprintf("%s/tls", other.dir), *crt = xasprintf("%s/tls/ca.crt", other.dir);
	mkdir(tls, 0700);
	struct kc_err err = {0};
	assert_int_equal(kc_cert_save_file(f->ca, crt, &err), 0);
	kc_fake_clock_init(&other.clock, 0);
	struct auth *a2 = open_auth(&other, NULL);
	struct kc_str tok = KC_STR_INIT;
	assert_int_equal(
		auth_issue_sa_token(a2, "default", "default", NULL, NULL, 0, NULL, &tok, &err), 0);
	struct auth_user u;
	assert_int_equal(authn_bearer(a2, tok.buf, &u), 1);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), -KC_EINVAL);

	/* our own token with a changed signature byte, and with a changed payload */
	kc_str_reset(&tok);
	assert_int_equal(
		auth_issue_sa_token(f->auth, "default", "default", NULL, NULL, 0, NULL, &tok, &err),
		0);
	char *t = xstrdup(tok.buf);
	size_t n = strlen(t);
	t[n - 3] = t[n - 3] == 'A' ? 'B' : 'A';
	assert_int_equal(authn_bearer(f->auth, t, &u), -KC_EINVAL);
	free(t);
	t = xstrdup(tok.buf);
	char *d1 = strchr(t, '.');
	d1[5] = d1[5] == 'A' ? 'B' : 'A';
	assert_int_equal(authn_bearer(f->auth, t, &u), -KC_EINVAL);
	free(t);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), 1);

	kc_str_free(&tok);
	auth_free(a2);
	rm_rf(other.dir);
	free(tls);
	free(crt);
}

/* Signs arbitrary claims with the cluster's service-account key, as an attacker who had it
 * would, or as a buggy issuer might: the checks after the signature must still hold. */
static char *forge(struct fixture *f, const char *claims_fmt, ...)
{
	char *path = xasprintf("%s/tls/sa.key", f->dir);
	struct kc_key *k = NULL;
	struct kc_err err = {0};
	assert_int_equal(kc_key_load_file(path, &k, &err), 0);
	free(path);
	char kid[KC_JWT_KID_LEN];
	assert_int_equal(kc_jwt_key_id(k, kid, &err), 0);
	va_list ap;
	va_start(ap, claims_fmt);
	struct kc_str text = KC_STR_INIT;
	kc_str_vaddf(&text, claims_fmt, ap);
	va_end(ap);
	cJSON *c = NULL;
	if (kc_json_parse(text.buf, text.len, NULL, &c, &err))
		fail_msg("bad claims %s: %s", text.buf, err.msg);
	struct kc_str out = KC_STR_INIT;
	assert_int_equal(kc_jwt_sign_es256(k, kid, c, &out, &err), 0);
	cJSON_Delete(c);
	kc_str_free(&text);
	kc_key_free(k);
	return kc_str_detach(&out, NULL);
}

#define ISS "https://kubernetes.default.svc.cluster.local"
#define K8S                                                                                        \
	"\"kubernetes.io\":{\"namespace\":\"ns1\",\"serviceaccount\":{\"name\":\"sa1\",\"uid\":\"u1\"}}"
#define SUB "\"sub\":\"system:serviceaccount:ns1:sa1\""

static void expect_forged(struct fixture *f, int want, const char *fmt, long long t1, long long t2)
{
	char *tok = forge(f, fmt, t1, t2);
	struct auth_user u;
	int rc = authn_bearer(f->auth, tok, &u);
	if (rc != want)
		fail_msg("claims %s (%lld, %lld): got %d, want %d", fmt, t1, t2, rc, want);
	free(tok);
}

static bool reject_pods(void *arg, const char *ns, const char *name, const char *uid,
			const char *bound_kind, const char *bound_name, const char *bound_uid)
{
	int *calls = arg;
	(*calls)++;
	return !(bound_kind && strcmp(bound_kind, "Pod") == 0 && strcmp(bound_name, "gone") == 0);
}

static void test_sa_token_claims(void **state)
{
	struct fixture *f = *state;
	long long now = 1700000000;
	/* well-formed */
	expect_forged(f, 1,
		      "{\"aud\":\"" ISS "\",\"exp\":%lld,\"nbf\":%lld,\"iss\":\"" ISS "\"," K8S
		      "," SUB "}",
		      now + 100, now);
	/* wrong issuer */
	expect_forged(f, -KC_EINVAL,
		      "{\"aud\":[\"" ISS "\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"evil\"," K8S
		      "," SUB "}",
		      now + 100, now);
	/* no exp */
	expect_forged(f, -KC_EINVAL,
		      "{\"aud\":[\"" ISS "\"],\"iat\":%lld,\"nbf\":%lld,\"iss\":\"" ISS "\"," K8S
		      "," SUB "}",
		      now, now);
	/* not valid yet (beyond the leeway) */
	expect_forged(f, -KC_EINVAL,
		      "{\"aud\":[\"" ISS "\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"" ISS "\"," K8S
		      "," SUB "}",
		      now + 1000, now + 120);
	expect_forged(f, 1,
		      "{\"aud\":[\"" ISS "\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"" ISS "\"," K8S
		      "," SUB "}",
		      now + 1000, now + 30);
	/* subject and claims disagree */
	expect_forged(f, -KC_EINVAL,
		      "{\"aud\":[\"" ISS "\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"" ISS "\"," K8S
		      ",\"sub\":\"system:serviceaccount:kube-system:sa1\"}",
		      now + 100, now);
	/* no kubernetes.io claims (a legacy or foreign token) */
	expect_forged(f, -KC_EINVAL,
		      "{\"aud\":[\"" ISS "\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"" ISS "\"," SUB
		      "}",
		      now + 100, now);
	/* exp of the wrong type */
	expect_forged(f, -KC_EINVAL,
		      "{\"aud\":[\"" ISS "\"],\"exp\":\"%lld\",\"nbf\":%lld,\"iss\":\"" ISS
		      "\"," K8S "," SUB "}",
		      now + 100, now);
	/* invalid names */
	expect_forged(
		f, -KC_EINVAL,
		"{\"aud\":[\"" ISS "\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"" ISS "\","
		"\"kubernetes.io\":{\"namespace\":\"a:b\",\"serviceaccount\":{\"name\":\"sa1\"}},\"sub\":\"system:serviceaccount:a:b:sa1\"}",
		now + 100, now);

	/* the liveness hook */
	auth_free(f->auth);
	int calls = 0;
	struct auth_config extra = {.sa_check = reject_pods, .sa_check_arg = &calls};
	f->auth = open_auth(f, &extra);
	struct kc_str tok = KC_STR_INIT;
	struct kc_err err = {0};
	struct auth_user u;
	const struct auth_token_request r = {.ns = "ns1",
					     .sa = "sa1",
					     .bound_kind = "Pod",
					     .bound_name = "gone",
					     .bound_uid = "x"};
	assert_int_equal(auth_issue_sa_token_req(f->auth, &r, NULL, &tok, &err), 0);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), -KC_EINVAL);
	kc_str_reset(&tok);
	const struct auth_token_request r2 = {.ns = "ns1",
					      .sa = "sa1",
					      .bound_kind = "Pod",
					      .bound_name = "alive",
					      .bound_uid = "y"};
	assert_int_equal(auth_issue_sa_token_req(f->auth, &r2, NULL, &tok, &err), 0);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), 1);
	assert_int_equal(calls, 2);
	/* verified tokens are cached for ten seconds, then checked again */
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), 1);
	assert_string_equal(u.name, "system:serviceaccount:ns1:sa1");
	assert_int_equal(calls, 2);
	kc_fake_clock_advance(&f->clock, 11ull * 1000000000u);
	assert_int_equal(authn_bearer(f->auth, tok.buf, &u), 1);
	assert_int_equal(calls, 3);
	kc_str_free(&tok);

	/* a configured issuer replaces the default one in iss; the default audience stays valid */
	auth_free(f->auth);
	struct auth_config iss = {.issuer = "https://kc.example"};
	f->auth = open_auth(f, &iss);
	assert_string_equal(auth_issuer(f->auth), "https://kc.example");
	expect_forged(f, -KC_EINVAL,
		      "{\"aud\":[\"" ISS "\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"" ISS "\"," K8S
		      "," SUB "}",
		      now + 100, now);
	expect_forged(f, 1,
		      "{\"aud\":[\"" ISS
		      "\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"https://kc.example\"," K8S "," SUB
		      "}",
		      now + 100, now);
	expect_forged(
		f, 1,
		"{\"aud\":[\"https://kc.example\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"https://kc.example\"," K8S
		"," SUB "}",
		now + 100, now);
	expect_forged(
		f, -KC_EINVAL,
		"{\"aud\":[\"x\"],\"exp\":%lld,\"nbf\":%lld,\"iss\":\"https://kc.example\"," K8S
		"," SUB "}",
		now + 100, now);
}

/* ---- authorization ---- */

static void feed(struct auth *a, const char *resource, bool deleted, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void feed(struct auth *a, const char *resource, bool deleted, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct kc_str s = KC_STR_INIT;
	kc_str_vaddf(&s, fmt, ap);
	va_end(ap);
	cJSON *v = NULL;
	struct kc_err err = {0};
	if (kc_json_parse(s.buf, s.len, NULL, &v, &err))
		fail_msg("bad object %s: %s", s.buf, err.msg);
	auth_rbac_update(a, resource, v, deleted);
	cJSON_Delete(v);
	kc_str_free(&s);
}

static void feed_bootstrap(struct auth *a)
{
	cJSON *objs = auth_bootstrap_objects();
	for (const cJSON *o = objs->child; o; o = o->next) {
		const char *kind = kc_json_get_str(o, "kind");
		auth_rbac_update(a,
				 strcmp(kind, "ClusterRole") == 0 ? "clusterroles"
								  : "clusterrolebindings",
				 o, false);
	}
	cJSON_Delete(objs);
}

static struct auth_user user(const char *name, const char *groups_csv)
{
	struct auth_user u;
	memset(&u, 0, sizeof u);
	snprintf(u.name, sizeof u.name, "%s", name);
	const char *p = groups_csv;
	while (p && *p) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		snprintf(u.groups[u.ngroups++], AUTH_NAME_MAX, "%.*s", (int)n, p);
		p += n + (c ? 1 : 0);
	}
	return u;
}

static bool can(struct auth *a, const struct auth_user *u, const char *verb, const char *group,
		const char *resource, const char *sub, const char *ns, const char *name)
{
	const struct authz_attrs at = {.verb = verb,
				       .group = group,
				       .resource = resource,
				       .subresource = sub,
				       .ns = ns,
				       .name = name};
	return auth_authorize(a, u, &at);
}

static bool can_url(struct auth *a, const struct auth_user *u, const char *verb, const char *path)
{
	const struct authz_attrs at = {.verb = verb, .path = path, .ns = "", .name = ""};
	return auth_authorize(a, u, &at);
}

#define RB(ns, name, kind, role, subjects)                                                         \
	"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{" \
	"\"name\":\"" name "\",\"namespace\":\"" ns "\"},\"roleRef\":{\"apiGroup\":"               \
	"\"rbac.authorization.k8s.io\",\"kind\":\"" kind "\",\"name\":\"" role                     \
	"\"},\"subjects\":[" subjects "]}"
#define CRB(name, role, subjects)                                                                  \
	"{\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"" name "\"},\"roleRef\":{"      \
	"\"kind\":\"ClusterRole\",\"name\":\"" role "\"},\"subjects\":[" subjects "]}"
#define USER(n)	 "{\"kind\":\"User\",\"name\":\"" n "\"}"
#define GROUP(n) "{\"kind\":\"Group\",\"name\":\"" n "\"}"

static void test_aggregated_roles(void **state)
{
	struct fixture *f = *state;
	struct auth *a = f->auth;
	feed_bootstrap(a);
	feed(a, "rolebindings", false, "%s", RB("dev", "v", "ClusterRole", "view", USER("viewer")));
	feed(a, "rolebindings", false, "%s", RB("dev", "e", "ClusterRole", "edit", USER("editor")));
	feed(a, "rolebindings", false, "%s", RB("dev", "a", "ClusterRole", "admin", USER("boss")));
	struct auth_user v = user("viewer", "system:authenticated");
	struct auth_user e = user("editor", "system:authenticated");
	struct auth_user b = user("boss", "system:authenticated");

	assert_true(can(a, &v, "list", "", "pods", NULL, "dev", ""));
	assert_true(can(a, &v, "get", "apps", "deployments", "scale", "dev", "web"));
	assert_true(can(a, &v, "watch", "metrics.k8s.io", "pods", NULL, "dev", ""));
	assert_false(can(a, &v, "get", "", "secrets", NULL, "dev", "s"));
	assert_false(can(a, &v, "create", "", "pods", NULL, "dev", ""));
	assert_false(can(a, &v, "list", "rbac.authorization.k8s.io", "roles", NULL, "dev", ""));

	/* edit includes view, admin includes edit */
	assert_true(can(a, &e, "create", "apps", "deployments", NULL, "dev", ""));
	assert_true(can(a, &e, "get", "", "secrets", NULL, "dev", "s"));
	assert_true(can(a, &e, "list", "", "pods", NULL, "dev", ""));
	assert_true(can(a, &e, "create", "", "pods", "exec", "dev", "p"));
	assert_false(
		can(a, &e, "create", "rbac.authorization.k8s.io", "rolebindings", NULL, "dev", ""));
	assert_true(
		can(a, &b, "create", "rbac.authorization.k8s.io", "rolebindings", NULL, "dev", ""));
	assert_true(can(a, &b, "delete", "apps", "deployments", NULL, "dev", "web"));
	assert_true(can(a, &b, "get", "", "pods", "log", "dev", "p"));
	assert_false(can(a, &b, "get", "", "pods", NULL, "prod", "p"));
	assert_false(can(a, &b, "list", "", "nodes", NULL, "", ""));

	/* a new role labelled aggregate-to-view extends view, edit and admin at once */
	feed(a, "clusterroles", false,
	     "{\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"widgets-view\",\"labels\":{"
	     "\"rbac.authorization.k8s.io/aggregate-to-view\":\"true\"}},\"rules\":[{\"apiGroups\":"
	     "[\"example.com\"],\"resources\":[\"widgets\"],\"verbs\":[\"get\",\"list\"]}]}");
	assert_true(can(a, &v, "get", "example.com", "widgets", NULL, "dev", "w"));
	assert_true(can(a, &e, "list", "example.com", "widgets", NULL, "dev", ""));
	assert_true(can(a, &b, "list", "example.com", "widgets", NULL, "dev", ""));
	/* relabelled away, then deleted */
	feed(a, "clusterroles", false,
	     "{\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"widgets-view\",\"labels\":{"
	     "\"rbac.authorization.k8s.io/aggregate-to-edit\":\"true\"}},\"rules\":[{\"apiGroups\":"
	     "[\"example.com\"],\"resources\":[\"widgets\"],\"verbs\":[\"get\",\"list\"]}]}");
	assert_false(can(a, &v, "get", "example.com", "widgets", NULL, "dev", "w"));
	assert_true(can(a, &e, "get", "example.com", "widgets", NULL, "dev", "w"));
	feed(a, "clusterroles", true, "{\"metadata\":{\"name\":\"widgets-view\"}}");
	assert_false(can(a, &e, "get", "example.com", "widgets", NULL, "dev", "w"));
	assert_true(can(a, &e, "get", "", "pods", NULL, "dev", "w"));

	/* own rules of an aggregated role are ignored; matchExpressions select too */
	feed(a, "clusterroles", false,
	     "{\"metadata\":{\"name\":\"agg\"},\"aggregationRule\":{\"clusterRoleSelectors\":[{"
	     "\"matchExpressions\":[{\"key\":\"team\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]}]}]},"
	     "\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"verbs\":[\"*\"]}]}");
	feed(a, "clusterroles", false,
	     "{\"metadata\":{\"name\":\"team-b\",\"labels\":{\"team\":\"b\"}},\"rules\":[{"
	     "\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"verbs\":[\"get\"]}]}");
	feed(a, "clusterroles", false,
	     "{\"metadata\":{\"name\":\"team-c\",\"labels\":{\"team\":\"c\"}},\"rules\":[{"
	     "\"apiGroups\":[\"\"],\"resources\":[\"services\"],\"verbs\":[\"get\"]}]}");
	feed(a, "clusterrolebindings", false, "%s", CRB("agg", "agg", USER("agguser")));
	struct auth_user g = user("agguser", "");
	assert_true(can(a, &g, "get", "", "configmaps", NULL, "x", "c"));
	assert_false(can(a, &g, "get", "", "services", NULL, "x", "c"));
	assert_false(can(a, &g, "get", "", "secrets", NULL, "x", "c"));
	/* a cycle of aggregated roles terminates */
	feed(a, "clusterroles", false,
	     "{\"metadata\":{\"name\":\"cyc1\",\"labels\":{\"cyc\":\"1\"}},\"aggregationRule\":{"
	     "\"clusterRoleSelectors\":[{\"matchLabels\":{\"cyc\":\"2\"}}]}}");
	feed(a, "clusterroles", false,
	     "{\"metadata\":{\"name\":\"cyc2\",\"labels\":{\"cyc\":\"2\",\"team\":\"a\"}},"
	     "\"aggregationRule\":{\"clusterRoleSelectors\":[{\"matchLabels\":{\"cyc\":\"1\"}},"
	     "{\"matchLabels\":{\"team\":\"c\"}}]}}");
	feed(a, "clusterrolebindings", false, "%s", CRB("cyc", "cyc1", USER("cycuser")));
	struct auth_user cy = user("cycuser", "");
	assert_true(can(a, &cy, "get", "", "services", NULL, "x", "s"));
	/* agg selects cyc2 (team=a) which reaches team-c */
	assert_true(can(a, &g, "get", "", "services", NULL, "x", "c"));
}

static void test_rolebinding_namespace(void **state)
{
	struct fixture *f = *state;
	struct auth *a = f->auth;
	feed(a, "clusterroles", false,
	     "{\"metadata\":{\"name\":\"pod-reader\"},\"rules\":[{\"apiGroups\":[\"\"],"
	     "\"resources\":[\"pods\"],\"verbs\":[\"get\",\"list\"]}]}");
	feed(a, "rolebindings", false, "%s",
	     RB("team-a", "read", "ClusterRole", "pod-reader", USER("ann") "," GROUP("qa")));
	struct auth_user ann = user("ann", "system:authenticated");
	struct auth_user q = user("quinn", "qa,system:authenticated");
	assert_true(can(a, &ann, "list", "", "pods", NULL, "team-a", ""));
	assert_true(can(a, &q, "get", "", "pods", NULL, "team-a", "p"));
	assert_false(can(a, &ann, "list", "", "pods", NULL, "team-b", ""));
	/* all namespaces ("" namespace) is a cluster-wide request */
	assert_false(can(a, &ann, "list", "", "pods", NULL, "", ""));
	assert_false(can(a, &ann, "delete", "", "pods", NULL, "team-a", "p"));

	/* a Role is looked up in the binding's namespace */
	feed(a, "roles", false,
	     "{\"metadata\":{\"name\":\"cm\",\"namespace\":\"team-a\"},\"rules\":[{\"apiGroups\":[\"\"],"
	     "\"resources\":[\"configmaps\"],\"verbs\":[\"*\"]}]}");
	feed(a, "roles", false,
	     "{\"metadata\":{\"name\":\"cm\",\"namespace\":\"team-b\"},\"rules\":[{\"apiGroups\":[\"\"],"
	     "\"resources\":[\"secrets\"],\"verbs\":[\"*\"]}]}");
	feed(a, "rolebindings", false, "%s", RB("team-a", "cm", "Role", "cm", USER("ann")));
	assert_true(can(a, &ann, "create", "", "configmaps", NULL, "team-a", ""));
	assert_false(can(a, &ann, "create", "", "secrets", NULL, "team-a", ""));
	assert_false(can(a, &ann, "create", "", "configmaps", NULL, "team-b", ""));
	/* the Role changes under the binding */
	feed(a, "roles", false,
	     "{\"metadata\":{\"name\":\"cm\",\"namespace\":\"team-a\"},\"rules\":[{\"apiGroups\":[\"\"],"
	     "\"resources\":[\"configmaps\"],\"verbs\":[\"get\"]}]}");
	assert_false(can(a, &ann, "create", "", "configmaps", NULL, "team-a", ""));
	assert_true(can(a, &ann, "get", "", "configmaps", NULL, "team-a", "x"));
	feed(a, "roles", true, "{\"metadata\":{\"name\":\"cm\",\"namespace\":\"team-a\"}}");
	assert_false(can(a, &ann, "get", "", "configmaps", NULL, "team-a", "x"));

	/* ServiceAccount subjects: namespace defaults to the binding's */
	feed(a, "rolebindings", false, "%s",
	     RB("team-a", "sa", "ClusterRole", "pod-reader",
		"{\"kind\":\"ServiceAccount\",\"name\":\"builder\"},"
		"{\"kind\":\"ServiceAccount\",\"name\":\"deployer\",\"namespace\":\"ci\"}"));
	struct auth_user sa1 =
		user("system:serviceaccount:team-a:builder", "system:serviceaccounts");
	struct auth_user sa2 = user("system:serviceaccount:ci:deployer", "system:serviceaccounts");
	struct auth_user sa3 =
		user("system:serviceaccount:team-b:builder", "system:serviceaccounts");
	assert_true(can(a, &sa1, "get", "", "pods", NULL, "team-a", "p"));
	assert_true(can(a, &sa2, "get", "", "pods", NULL, "team-a", "p"));
	assert_false(can(a, &sa3, "get", "", "pods", NULL, "team-a", "p"));
	assert_false(can(a, &sa2, "get", "", "pods", NULL, "ci", "p"));

	/* a binding rewritten to other subjects, then deleted */
	feed(a, "rolebindings", false, "%s",
	     RB("team-a", "read", "ClusterRole", "pod-reader", USER("bob")));
	assert_false(can(a, &ann, "list", "", "pods", NULL, "team-a", ""));
	assert_false(can(a, &q, "list", "", "pods", NULL, "team-a", ""));
	struct auth_user bob = user("bob", "");
	assert_true(can(a, &bob, "list", "", "pods", NULL, "team-a", ""));
	feed(a, "rolebindings", true,
	     "{\"metadata\":{\"name\":\"read\",\"namespace\":\"team-a\"}}");
	assert_false(can(a, &bob, "list", "", "pods", NULL, "team-a", ""));

	/* a ClusterRoleBinding grants everywhere; a binding to a missing role grants nothing */
	feed(a, "clusterrolebindings", false, "%s", CRB("all", "pod-reader", GROUP("qa")));
	assert_true(can(a, &q, "list", "", "pods", NULL, "", ""));
	assert_true(can(a, &q, "list", "", "pods", NULL, "zzz", ""));
	feed(a, "clusterrolebindings", false, "%s", CRB("ghost", "no-such-role", USER("bob")));
	assert_false(can(a, &bob, "get", "", "pods", NULL, "team-a", "p"));
	feed(a, "clusterrolebindings", true, "{\"metadata\":{\"name\":\"all\"}}");
	assert_false(can(a, &q, "list", "", "pods", NULL, "", ""));
	/* a ClusterRoleBinding cannot name a Role */
	feed(a, "clusterrolebindings", false,
	     "{\"metadata\":{\"name\":\"bad\"},\"roleRef\":{\"kind\":\"Role\",\"name\":\"cm\"},"
	     "\"subjects\":[" USER("bob") "]}");
	assert_false(can(a, &bob, "get", "", "secrets", NULL, "team-b", "p"));
}

static void test_resource_names_and_subresources(void **state)
{
	struct fixture *f = *state;
	struct auth *a = f->auth;
	feed(a, "clusterroles", false,
	     "{\"metadata\":{\"name\":\"r\"},\"rules\":["
	     "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"resourceNames\":[\"cfg\"],"
	     "\"verbs\":[\"get\",\"update\",\"list\",\"create\",\"delete\"]},"
	     "{\"apiGroups\":[\"\"],\"resources\":[\"pods/log\"],\"verbs\":[\"get\"]},"
	     "{\"apiGroups\":[\"apps\"],\"resources\":[\"*/scale\"],\"verbs\":[\"update\"]},"
	     "{\"apiGroups\":[\"\"],\"resources\":[\"services/*\"],\"verbs\":[\"get\"]},"
	     "{\"apiGroups\":[\"*\"],\"resources\":[\"leases\"],\"verbs\":[\"*\"]}]}");
	feed(a, "clusterrolebindings", false, "%s", CRB("r", "r", USER("u")));
	struct auth_user u = user("u", "");
	/* resourceNames restrict by name; requests without a name never match them */
	assert_true(can(a, &u, "get", "", "configmaps", NULL, "ns", "cfg"));
	assert_true(can(a, &u, "update", "", "configmaps", NULL, "ns", "cfg"));
	assert_false(can(a, &u, "get", "", "configmaps", NULL, "ns", "other"));
	assert_false(can(a, &u, "list", "", "configmaps", NULL, "ns", ""));
	assert_false(can(a, &u, "create", "", "configmaps", NULL, "ns", ""));
	assert_false(can(a, &u, "watch", "", "configmaps", NULL, "ns", "cfg"));
	/* subresources */
	assert_true(can(a, &u, "get", "", "pods", "log", "ns", "p"));
	assert_false(can(a, &u, "get", "", "pods", NULL, "ns", "p"));
	assert_false(can(a, &u, "get", "", "pods", "exec", "ns", "p"));
	assert_true(can(a, &u, "update", "apps", "deployments", "scale", "ns", "d"));
	assert_true(can(a, &u, "update", "apps", "statefulsets", "scale", "ns", "d"));
	assert_false(can(a, &u, "update", "apps", "deployments", NULL, "ns", "d"));
	assert_false(can(a, &u, "update", "apps", "deployments", "status", "ns", "d"));
	assert_false(can(a, &u, "update", "", "replicationcontrollers", "scale", "ns", "d"));
	/* a trailing "/" + "*" is no wildcard in Kubernetes */
	assert_false(can(a, &u, "get", "", "services", "proxy", "ns", "s"));
	assert_false(can(a, &u, "get", "", "services", NULL, "ns", "s"));
	/* apiGroups "*" */
	assert_true(can(a, &u, "patch", "coordination.k8s.io", "leases", NULL, "ns", "l"));
	assert_true(can(a, &u, "patch", "example.io", "leases", NULL, "ns", "l"));
	assert_false(can(a, &u, "patch", "example.io", "leases", "status", "ns", "l"));
	/* "" subresource is none */
	assert_true(can(a, &u, "get", "", "configmaps", "", "ns", "cfg"));
}

static void test_non_resource_urls(void **state)
{
	struct fixture *f = *state;
	struct auth *a = f->auth;
	feed_bootstrap(a);
	struct auth_user anon = user("system:anonymous", "system:unauthenticated");
	struct auth_user who = user("someone", "system:authenticated");
	assert_true(can_url(a, &anon, "get", "/version"));
	assert_true(can_url(a, &anon, "get", "/healthz"));
	assert_true(can_url(a, &anon, "get", "/readyz"));
	assert_false(can_url(a, &anon, "get", "/apis"));
	assert_false(can_url(a, &anon, "post", "/version"));
	assert_false(can_url(a, &anon, "get", "/metrics"));
	assert_true(can_url(a, &who, "get", "/apis"));
	assert_true(can_url(a, &who, "get", "/apis/apps/v1"));
	assert_true(can_url(a, &who, "get", "/api/v1"));
	assert_true(can_url(a, &who, "get", "/openapi/v3"));
	assert_false(can_url(a, &who, "get", "/apisx"));
	assert_false(can_url(a, &who, "get", "/metrics"));
	assert_false(can_url(a, &who, "get", "/logs"));
	/* resource requests are not matched by URL rules, and the reverse */
	assert_false(can(a, &who, "get", "", "version", NULL, "", ""));

	feed(a, "clusterroles", false,
	     "{\"metadata\":{\"name\":\"urls\"},\"rules\":[{\"nonResourceURLs\":[\"/logs/*\","
	     "\"/exact\"],\"verbs\":[\"get\"]},{\"apiGroups\":[\"\"],\"resources\":[\"*\"],"
	     "\"verbs\":[\"get\"]}]}");
	feed(a, "clusterrolebindings", false, "%s", CRB("urls", "urls", USER("ops")));
	struct auth_user ops = user("ops", "");
	assert_true(can_url(a, &ops, "get", "/logs/"));
	assert_true(can_url(a, &ops, "get", "/logs/a/b"));
	assert_false(can_url(a, &ops, "get", "/logs"));
	assert_true(can_url(a, &ops, "get", "/exact"));
	assert_false(can_url(a, &ops, "get", "/exact/"));
	assert_false(can_url(a, &ops, "get", "/other"));
	/* resources "*" does not open URLs */
	assert_true(can(a, &ops, "get", "", "pods", "log", "x", "p"));
	assert_false(can_url(a, &ops, "get", "/api"));
	/* non-resource rules in a ClusterRole bound by a RoleBinding grant nothing */
	feed(a, "rolebindings", false, "%s",
	     RB("x", "urls", "ClusterRole", "urls", USER("rbuser")));
	struct auth_user rbuser = user("rbuser", "");
	assert_false(can_url(a, &rbuser, "get", "/exact"));
	assert_true(can(a, &rbuser, "get", "", "pods", NULL, "x", "p"));
}

static void test_masters_and_defaults(void **state)
{
	struct fixture *f = *state;
	struct auth *a = f->auth;
	/* system:masters needs no binding at all */
	struct auth_user root = user("kubernetes-admin", "system:masters,system:authenticated");
	assert_true(can(a, &root, "delete", "", "nodes", NULL, "", "n1"));
	assert_true(can(a, &root, "escalate", "rbac.authorization.k8s.io", "clusterroles", NULL, "",
			"x"));
	assert_true(can_url(a, &root, "get", "/anything"));
	struct auth_user nobody = user("nobody", "system:authenticated");
	assert_false(can(a, &nobody, "get", "", "pods", NULL, "default", "p"));

	feed_bootstrap(a);
	/* the node token's identity can run a node */
	struct auth_user node = user("system:bootstrap:node",
				     "system:bootstrappers,system:nodes,system:authenticated");
	assert_true(can(a, &node, "create", "", "nodes", NULL, "", ""));
	assert_true(can(a, &node, "get", "", "nodes", NULL, "", "n1"));
	assert_true(can(a, &node, "patch", "", "nodes", "status", "", "n1"));
	assert_true(can(a, &node, "watch", "", "pods", NULL, "", ""));
	assert_true(can(a, &node, "patch", "", "pods", "status", "default", "p"));
	assert_true(can(a, &node, "create", "", "events", NULL, "default", ""));
	assert_true(can(a, &node, "update", "coordination.k8s.io", "leases", NULL,
			"kube-node-lease", "n1"));
	assert_true(can(a, &node, "create", "coordination.k8s.io", "leases", NULL,
			"kube-node-lease", ""));
	assert_true(can(a, &node, "list", "", "services", NULL, "", ""));
	assert_true(can(a, &node, "watch", "discovery.k8s.io", "endpointslices", NULL, "", ""));
	assert_true(can(a, &node, "get", "", "secrets", NULL, "default", "s"));
	assert_true(can(a, &node, "create", "", "serviceaccounts", "token", "default", "sa"));
	assert_true(can(a, &node, "create", "certificates.k8s.io", "certificatesigningrequests",
			NULL, "", ""));
	assert_false(can(a, &node, "delete", "", "nodes", NULL, "", "n1"));
	assert_false(can(a, &node, "create", "", "secrets", NULL, "default", ""));
	assert_false(can(a, &node, "create", "rbac.authorization.k8s.io", "clusterrolebindings",
			 NULL, "", ""));
	/* everyone authenticated may ask what they can do */
	assert_true(can(a, &nobody, "create", "authorization.k8s.io", "selfsubjectaccessreviews",
			NULL, "", ""));
	assert_true(can(a, &nobody, "create", "authentication.k8s.io", "selfsubjectreviews", NULL,
			"", ""));
	struct auth_user sa =
		user("system:serviceaccount:a:b",
		     "system:serviceaccounts,system:serviceaccounts:a,system:authenticated");
	assert_true(can_url(a, &sa, "get", "/openid/v1/jwks"));

	/* the objects themselves */
	cJSON *objs = auth_bootstrap_objects();
	bool seen_admin = false, seen_binding = false;
	for (const cJSON *o = objs->child; o; o = o->next) {
		assert_string_equal(kc_json_get_str(o, "apiVersion"),
				    "rbac.authorization.k8s.io/v1");
		assert_string_equal(
			kc_json_get_str(o, "metadata.labels[kubernetes.io/bootstrapping]"),
			"rbac-defaults");
		assert_string_equal(
			kc_json_get_str(
				o,
				"metadata.annotations[rbac.authorization.kubernetes.io/autoupdate]"),
			"true");
		const char *name = kc_json_get_str(o, "metadata.name");
		if (strcmp(name, "admin") == 0) {
			seen_admin = true;
			assert_string_equal(
				kc_json_get_str(
					o, "aggregationRule.clusterRoleSelectors[0].matchLabels"
					   "[rbac.authorization.k8s.io/aggregate-to-admin]"),
				"true");
			assert_true(cJSON_GetArraySize(kc_json_get(o, "rules")) > 10);
		}
		if (strcmp(name, "edit") == 0)
			assert_string_equal(
				kc_json_get_str(
					o,
					"metadata.labels[rbac.authorization.k8s.io/aggregate-to-admin]"),
				"true");
		if (strcmp(name, "system:public-info-viewer") == 0 &&
		    strcmp(kc_json_get_str(o, "kind"), "ClusterRoleBinding") == 0) {
			seen_binding = true;
			assert_string_equal(kc_json_get_str(o, "subjects[1].name"),
					    "system:unauthenticated");
			assert_string_equal(kc_json_get_str(o, "roleRef.kind"), "ClusterRole");
		}
	}
	assert_true(seen_admin && seen_binding);
	cJSON_Delete(objs);
}

/* The subject index keeps decisions independent of the number of bindings. */
static void test_many_bindings(void **state)
{
	struct fixture *f = *state;
	struct auth *a = f->auth;
	feed_bootstrap(a);
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 10000; i++) {
		if (i % 2)
			feed(a, "rolebindings", false,
			     "{\"metadata\":{\"name\":\"rb-%d\",\"namespace\":\"ns-%d\"},\"roleRef\":{"
			     "\"kind\":\"ClusterRole\",\"name\":\"%s\"},\"subjects\":[{\"kind\":\"User\","
			     "\"name\":\"user-%d\"},{\"kind\":\"Group\",\"name\":\"group-%d\"}]}",
			     i, i % 500, i % 3 ? "view" : "edit", i, i % 50);
		else
			feed(a, "clusterrolebindings", false,
			     "{\"metadata\":{\"name\":\"crb-%d\"},\"roleRef\":{\"kind\":\"ClusterRole\","
			     "\"name\":\"view\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"cu-%d\"}]}",
			     i, i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int allowed = 0, n = 50000;
	for (int i = 0; i < n; i++) {
		int k = (i * 7919) % 10000;
		char name[32], ns[32];
		snprintf(name, sizeof name, k % 2 ? "user-%d" : "cu-%d", k);
		snprintf(ns, sizeof ns, "ns-%d", k % 500);
		struct auth_user u = user(name, "system:authenticated,group-7");
		allowed += can(a, &u, "list", "", "pods", NULL, ns, "");
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	double load = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double per =
		((double)(t2.tv_sec - t1.tv_sec) * 1e9 + (double)(t2.tv_nsec - t1.tv_nsec)) / n;
	print_message("10000 bindings loaded in %.3f s; authorize: %.0f ns per decision "
		      "(sanitizer builds are several times slower), %d of %d allowed\n",
		      load, per, allowed, n);
	assert_int_equal(allowed, n);
	/* a user of the many bindings still sees exactly its own */
	struct auth_user u = user("user-1", "system:authenticated");
	assert_true(can(a, &u, "list", "", "pods", NULL, "ns-1", ""));
	assert_false(can(a, &u, "list", "", "pods", NULL, "ns-2", ""));
	assert_false(can(a, &u, "create", "", "pods", NULL, "ns-1", ""));
	struct auth_user g = user("x", "group-3");
	assert_true(can(a, &g, "create", "", "pods", NULL, "ns-3", "")); /* rb-3: edit */
}

struct race {
	struct auth *a;
	const char *token;
	bool stop;
	long decisions;
};

static void *reader(void *arg)
{
	struct race *r = arg;
	struct auth_user u = user("racer", "system:authenticated"), sa;
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		can(r->a, &u, "get", "", "pods", NULL, "race", "p");
		can(r->a, &u, "get", "example.com", "widgets", NULL, "race", "w");
		if (authn_bearer(r->a, r->token, &sa) != 1)
			abort();
		__atomic_add_fetch(&r->decisions, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_concurrent_updates(void **state)
{
	struct fixture *f = *state;
	struct kc_str tok = KC_STR_INIT;
	struct kc_err err = {0};
	assert_int_equal(
		auth_issue_sa_token(f->auth, "race", "racer", NULL, NULL, 0, NULL, &tok, &err), 0);
	struct race r = {.a = f->auth, .token = tok.buf};
	feed_bootstrap(f->auth);
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &r), 0);
	for (int i = 0; i < 300; i++) {
		feed(f->auth, "rolebindings", i % 3 == 2, "%s",
		     RB("race", "b", "ClusterRole", "view", USER("racer")));
		feed(f->auth, "clusterroles", i % 2,
		     "{\"metadata\":{\"name\":\"w\",\"labels\":{"
		     "\"rbac.authorization.k8s.io/aggregate-to-view\":\"true\"}},\"rules\":[{"
		     "\"apiGroups\":[\"example.com\"],\"resources\":[\"widgets\"],\"verbs\":[\"get\"]}]}");
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_true(r.decisions > 0);
	kc_str_free(&tok);
}

int main(void)
{
	kc_log_set_level(KC_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_start_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa_token_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa_token_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa_token_wrong_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa_token_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggregated_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rolebinding_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resource_names_and_subresources, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_non_resource_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masters_and_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_bindings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_updates, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
