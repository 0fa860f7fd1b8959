/* Unit tests for lib/jwt: ES256 round trips, the RFC 7515 A.3 example token, key ids and
 * JWKs, and rejection of tampered, mis-signed, wrongly shaped or oversized tokens. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/jwt.h"
#include "lib/str.h"
#include "lib/x509.h"

static cJSON *parse(const char *text)
{
	cJSON *v = NULL;
	struct kc_err err = {0};
	if (kc_json_parse(text, strlen(text), NULL, &v, &err) != 0)
		fail_msg("bad JSON in test: %s", err.msg);
	return v;
}

static struct kc_key *new_key(void)
{
	struct kc_key *k = NULL;
	struct kc_err err = {0};
	assert_int_equal(kc_key_generate(&k, &err), 0);
	return k;
}

static char *sign(const struct kc_key *k, const char *kid, const char *claims)
{
	struct kc_str out = KC_STR_INIT;
	struct kc_err err = {0};
	cJSON *c = parse(claims);
	int rc = kc_jwt_sign_es256(k, kid, c, &out, &err);
	if (rc)
		fail_msg("sign: %s", err.msg);
	cJSON_Delete(c);
	return kc_str_detach(&out, NULL);
}

static int verify(const struct kc_key *k, const char *kid, const char *tok, cJSON **claims,
		  struct kc_err *err)
{
	return kc_jwt_verify_es256(k, kid, tok, strlen(tok), claims, err);
}

static void expect_reject(const struct kc_key *k, const char *kid, const char *tok, int code,
			  const char *msg_part)
{
	cJSON *claims = (cJSON *)1;
	struct kc_err err = {0};
	int rc = verify(k, kid, tok, &claims, &err);
	if (rc != code)
		fail_msg("token %.80s: got %d (%s), want %d", tok, rc, err.msg, code);
	assert_null(claims);
	if (msg_part && !strstr(err.msg, msg_part))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg_part);
}

static void test_round_trip(void **state)
{
	struct kc_key *k = new_key();
	char kid[KC_JWT_KID_LEN];
	struct kc_err err = {0};
	assert_int_equal(kc_jwt_key_id(k, kid, &err), 0);
	assert_int_equal(strlen(kid), 43);
	char *tok = sign(k, kid, "{\"sub\":\"me\",\"n\":[1,2,{\"x\":\"\\u00e9\"}]}");
	/* three unpadded segments, a 64-byte signature */
	const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
	assert_non_null(d1);
	assert_true(d2 > d1);
	assert_null(strchr(tok, '='));
	assert_int_equal(strlen(d2 + 1), 86);

	cJSON *claims = NULL;
	assert_int_equal(verify(k, kid, tok, &claims, &err), 0);
	cJSON *want = parse("{\"sub\":\"me\",\"n\":[1,2,{\"x\":\"\\u00e9\"}]}");
	assert_true(kc_json_equal(claims, want));
	cJSON_Delete(want);
	cJSON_Delete(claims);
	/* no kid expected: any (or no) kid is fine */
	assert_int_equal(verify(k, NULL, tok, &claims, &err), 0);
	cJSON_Delete(claims);

	/* the header names the algorithm and the key */
	struct kc_str hdr = KC_STR_INIT;
	assert_int_equal(
		kc_base64_decode(&hdr, tok, (size_t)(d1 - tok), KC_B64_URL | KC_B64_NOPAD, &err),
		0);
	char *want_hdr = xasprintf("{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
	assert_string_equal(hdr.buf, want_hdr);
	free(want_hdr);
	kc_str_free(&hdr);

	/* a second signature over the same claims verifies too */
	char *tok2 = sign(k, NULL, "{\"sub\":\"me\"}");
	assert_int_equal(verify(k, kid, tok2, &claims, &err), 0);
	cJSON_Delete(claims);
	free(tok2);
	free(tok);
	kc_key_free(k);
}

/* A key whose public half is the P-256 key of RFC 7515 appendix A.3 (verification only
 * reads the public point; the private scalar stays the generated one's). */
static struct kc_key *rfc_key(void)
{
	static const char *const xy[2] = {"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
					  "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"};
	struct kc_key *k = new_key();
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*kc_key_mbedtls(k));
	mbedtls_mpi *coord[2] = {&ec->Q.X, &ec->Q.Y};
	for (int i = 0; i < 2; i++) {
		struct kc_str bin = KC_STR_INIT;
		struct kc_err err = {0};
		assert_int_equal(kc_base64_decode(&bin, xy[i], strlen(xy[i]),
						  KC_B64_URL | KC_B64_NOPAD, &err),
				 0);
		assert_int_equal(
			mbedtls_mpi_read_binary(coord[i], (const unsigned char *)bin.buf, bin.len),
			0);
		kc_str_free(&bin);
	}
	assert_int_equal(mbedtls_mpi_lset(&ec->Q.Z, 1), 0);
	assert_int_equal(mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q), 0);
	return k;
}

static void test_rfc7515_example(void **state)
{
	static const char tok[] =
		"eyJhbGciOiJFUzI1NiJ9."
		"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
		"DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
	struct kc_key *k = rfc_key();
	cJSON *claims = NULL;
	struct kc_err err = {0};
	if (verify(k, "any", tok, &claims, &err) != 0)
		fail_msg("RFC 7515 A.3 token rejected: %s", err.msg);
	assert_string_equal(kc_json_get_str(claims, "iss"), "joe");
	long long exp;
	assert_int_equal(kc_json_get_i64(claims, "exp", &exp), 0);
	assert_int_equal(exp, 1300819380);
	assert_true(kc_json_get_bool(claims, "[http://example.com/is_root]", false));
	cJSON_Delete(claims);

	/* the JWK of that key is the one printed in the RFC */
	cJSON *jwk = kc_jwt_public_jwk(k, NULL);
	assert_non_null(jwk);
	assert_string_equal(kc_json_get_str(jwk, "x"),
			    "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
	assert_string_equal(kc_json_get_str(jwk, "y"),
			    "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
	assert_string_equal(kc_json_get_str(jwk, "crv"), "P-256");
	assert_string_equal(kc_json_get_str(jwk, "alg"), "ES256");
	assert_null(kc_json_get(jwk, "d"));
	cJSON_Delete(jwk);

	/* one flipped bit of the signature */
	char *bad = xstrdup(tok);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'U' ? 'V' : 'U';
	expect_reject(k, NULL, bad, -KC_EINVAL, NULL);
	free(bad);
	kc_key_free(k);
}

static void test_key_id(void **state)
{
	struct kc_key *k = new_key();
	char kid[KC_JWT_KID_LEN];
	struct kc_err err = {0};
	assert_int_equal(kc_jwt_key_id(k, kid, &err), 0);
	unsigned char der[512];
	int n = mbedtls_pk_write_pubkey_der(kc_key_mbedtls(k), der, sizeof der);
	assert_true(n > 0);
	uint8_t sum[KC_SHA256_LEN];
	kc_sha256(der + sizeof der - n, (size_t)n, sum);
	struct kc_str want = KC_STR_INIT;
	kc_base64_encode(&want, sum, sizeof sum, KC_B64_URL | KC_B64_NOPAD);
	assert_string_equal(kid, want.buf);
	kc_str_free(&want);
	/* stable for a key, different between keys */
	char kid2[KC_JWT_KID_LEN];
	struct kc_key *dup = kc_key_dup(k);
	assert_int_equal(kc_jwt_key_id(dup, kid2, &err), 0);
	assert_string_equal(kid, kid2);
	struct kc_key *other = new_key();
	assert_int_equal(kc_jwt_key_id(other, kid2, &err), 0);
	assert_string_not_equal(kid, kid2);
	assert_true(kc_jwt_es256_key(k));
	kc_key_free(other);
	kc_key_free(dup);
	kc_key_free(k);
}

/* base64url of a text, for hand-made tokens. */
static char *b64(const char *text)
{
	struct kc_str s = KC_STR_INIT;
	kc_base64_encode(&s, text, strlen(text), KC_B64_URL | KC_B64_NOPAD);
	return kc_str_detach(&s, NULL);
}

static void test_rejects(void **state)
{
	struct kc_key *k = new_key(), *other = new_key();
	char kid[KC_JWT_KID_LEN];
	struct kc_err err = {0};
	assert_int_equal(kc_jwt_key_id(k, kid, &err), 0);
	char *tok = sign(k, kid, "{\"sub\":\"a\"}");
	const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');

	/* another key's signature, or the right one under a different kid */
	expect_reject(other, NULL, tok, -KC_EINVAL, "signature");
	expect_reject(k, "someone-else", tok, -KC_EINVAL, "unknown key");

	/* a payload swapped under the same signature */
	char *pl = b64("{\"sub\":\"admin\"}");
	char *h = xstrndup(tok, (size_t)(d1 - tok));
	char *swapped = xasprintf("%s.%s%s", h, pl, d2);
	expect_reject(k, kid, swapped, -KC_EINVAL, "signature");
	free(swapped);

	/* algorithm confusion: none, HS256 */
	char *none = b64("{\"alg\":\"none\"}");
	char *t = xasprintf("%s.%s.", none, pl);
	expect_reject(k, NULL, t, -KC_EINVAL, "ES256");
	free(t);
	t = xasprintf("%s.%s%s", none, pl, d2);
	expect_reject(k, NULL, t, -KC_EINVAL, "ES256");
	free(t);
	char *hs = b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	t = xasprintf("%s.%s%s", hs, pl, d2);
	expect_reject(k, NULL, t, -KC_EINVAL, "ES256");
	free(t);
	char *crit = b64("{\"alg\":\"ES256\",\"crit\":[\"exp\"]}");
	t = xasprintf("%s.%s%s", crit, pl, d2);
	expect_reject(k, NULL, t, -KC_EINVAL, "critical");
	free(t);
	char *arr = b64("[\"ES256\"]");
	t = xasprintf("%s.%s%s", arr, pl, d2);
	expect_reject(k, NULL, t, -KC_EPARSE, "object");
	free(t);
	char *deep = b64("{\"alg\":\"ES256\",\"x\":[[[[[[1]]]]]]}");
	t = xasprintf("%s.%s%s", deep, pl, d2);
	expect_reject(k, NULL, t, -KC_EPARSE, NULL);
	free(t);

	/* shape */
	expect_reject(k, NULL, "", -KC_EPARSE, NULL);
	expect_reject(k, NULL, "abc", -KC_EPARSE, NULL);
	expect_reject(k, NULL, "a.b", -KC_EPARSE, NULL);
	expect_reject(k, NULL, "a.b.c.d", -KC_EPARSE, NULL);
	expect_reject(k, NULL, "..", -KC_EPARSE, NULL);
	t = xasprintf("%s=", tok);
	expect_reject(k, NULL, t, -KC_EPARSE, NULL);
	free(t);
	t = xasprintf("%s.%s.AAAA", h, pl);
	expect_reject(k, NULL, t, -KC_EINVAL, "64");
	free(t);
	/* the signature is checked before the payload is decoded */
	t = xasprintf("%s.%s%s", h, "e30+", d2);
	expect_reject(k, NULL, t, -KC_EINVAL, "signature");
	free(t);
	/* a payload that is valid under the signature but not an object cannot be made without
	 * the key: sign one */
	cJSON *str = kc_json_new_str("x");
	struct kc_str out = KC_STR_INIT;
	assert_int_equal(kc_jwt_sign_es256(k, NULL, str, &out, &err), -KC_EINVAL);
	cJSON_Delete(str);
	kc_str_free(&out);

	/* oversized */
	char *big = xmalloc(KC_JWT_MAX_LEN + 2);
	memset(big, 'A', KC_JWT_MAX_LEN + 1);
	big[KC_JWT_MAX_LEN + 1] = '\0';
	big[10] = big[20] = '.';
	expect_reject(k, NULL, big, -KC_ETOOBIG, NULL);
	free(big);

	/* the original still passes */
	cJSON *claims = NULL;
	assert_int_equal(verify(k, kid, tok, &claims, &err), 0);
	cJSON_Delete(claims);

	free(deep);
	free(arr);
	free(crit);
	free(hs);
	free(none);
	free(h);
	free(pl);
	free(tok);
	kc_key_free(other);
	kc_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rfc7515_example),
		cmocka_unit_test(test_key_id),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
