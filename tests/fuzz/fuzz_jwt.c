/* fuzz_jwt.c - untrusted bearer tokens through lib/jwt and roles/apiserver/auth.
 *
 * The first byte picks a mode:
 *   even  the rest is a token: kc_jwt_verify_es256 must return a known code and claims only on
 *         success, and auth_authenticate with "Authorization: Bearer <rest>" must answer 0, 1
 *         or -KC_EINVAL with a well-formed user (NUL-terminated names, bounded group count)
 *   odd   the rest is a claims set: when it is a JSON object it is signed with the cluster's
 *         key (so the fuzzer reaches the claim checks behind the signature) and authenticated;
 *         a success must name a ServiceAccount user with its three groups
 * Nothing may crash, leak or run unbounded. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/jwt.h"
#include "lib/log.h"
#include "lib/x509.h"
#include "net/http_server.h"
#include "roles/apiserver/auth.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct auth *auth;
static struct kc_key *sa_key;
static char kid[KC_JWT_KID_LEN];

static void check(bool cond)
{
	if (!cond)
		abort();
}

static void cleanup(void)
{
	auth_free(auth);
	kc_key_free(sa_key);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(cmd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	kc_log_set_level(KC_LOG_ERROR);
	snprintf(dir, sizeof dir, "/tmp/kc-fuzz-jwt-XXXXXX");
	check(mkdtemp(dir) != NULL);
	char *tls = xasprintf("%s/tls", dir), *crt = xasprintf("%s/tls/ca.crt", dir);
	char *key = xasprintf("%s/tls/sa.key", dir);
	check(mkdir(tls, 0700) == 0);
	struct kc_cert *ca = NULL;
	struct kc_key *ca_key = NULL;
	struct kc_err err = {0};
	check(kc_ca_create("fuzz-ca", 1700000000, &ca, &ca_key, &err) == 0);
	check(kc_cert_save_file(ca, crt, &err) == 0);
	const struct auth_config cfg = {.data_dir = dir};
	check(auth_new(&cfg, &auth, &err) == 0);
	check(kc_key_load_file(key, &sa_key, &err) == 0);
	check(kc_jwt_key_id(sa_key, kid, &err) == 0);
	kc_cert_free(ca);
	kc_key_free(ca_key);
	free(tls);
	free(crt);
	free(key);
	atexit(cleanup);
	return 0;
}

static void check_user(const struct auth_user *u)
{
	check(memchr(u->name, '\0', sizeof u->name) != NULL);
	check(memchr(u->uid, '\0', sizeof u->uid) != NULL);
	check(u->ngroups >= 1 && u->ngroups <= AUTH_MAX_GROUPS);
	for (unsigned i = 0; i < u->ngroups; i++)
		check(memchr(u->groups[i], '\0', sizeof u->groups[i]) != NULL);
}

/* Authenticates "Bearer <token>"; returns the result after checking its shape. */
static int authenticate(const char *token, size_t n, struct auth_user *u)
{
	char *value = xmalloc(n + 8);
	memcpy(value, "Bearer ", 7);
	memcpy(value + 7, token, n);
	value[n + 7] = '\0';
	struct http_header h = {
		.name = {"Authorization", 13},
		.value = {value, n + 7},
	};
	struct http_req req = {0};
	req.method = "GET";
	req.path = "/api";
	req.peer_cn = "";
	req.peer_groups = "";
	req.head.headers = &h;
	req.head.nheaders = 1;
	int rc = auth_authenticate(auth, &req, u);
	check(rc == 0 || rc == 1 || rc == -KC_EINVAL);
	check_user(u);
	if (rc != 1)
		check(strcmp(u->name, "system:anonymous") == 0);
	free(value);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	struct kc_err err = {0};
	struct auth_user u;

	if ((data[0] & 1) == 0) {
		cJSON *claims = (cJSON *)1;
		int rc = kc_jwt_verify_es256(sa_key, kid, in, n, &claims, &err);
		check(rc == 0 || rc == -KC_EPARSE || rc == -KC_EINVAL || rc == -KC_ETOOBIG);
		check(rc == 0 ? cJSON_IsObject(claims) : claims == NULL);
		check(rc == 0 || err.code == rc);
		cJSON_Delete(rc == 0 ? claims : NULL);
		/* tokens with NUL bytes cannot reach a header */
		if (!memchr(in, '\0', n))
			authenticate(in, n, &u);
		return 0;
	}

	const struct kc_json_limits lim = {.max_bytes = 8192, .max_depth = 16};
	cJSON *claims = NULL;
	if (kc_json_parse(in, n, &lim, &claims, &err) != 0)
		return 0;
	struct kc_str tok = KC_STR_INIT;
	int rc = kc_jwt_sign_es256(sa_key, kid, claims, &tok, &err);
	check(rc == 0 || (rc == -KC_EINVAL && !cJSON_IsObject(claims)));
	if (rc == 0) {
		cJSON *back = NULL;
		check(kc_jwt_verify_es256(sa_key, kid, tok.buf, tok.len, &back, &err) == 0 ||
		      tok.len > KC_JWT_MAX_LEN);
		check(back == NULL || kc_json_equal(back, claims));
		cJSON_Delete(back);
		if (authenticate(tok.buf, tok.len, &u) == 1) {
			check(strncmp(u.name, "system:serviceaccount:", 22) == 0);
			check(u.ngroups == 3);
			check(strcmp(u.groups[2], "system:authenticated") == 0);
		}
	}
	kc_str_free(&tok);
	cJSON_Delete(claims);
	return 0;
}
