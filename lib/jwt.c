/* DESIGN: ES256 JSON Web Signatures over mbedTLS's ECDSA primitives.
 *
 * JWS carries an ECDSA signature as the raw 32-byte big-endian R and S concatenated (RFC 7518
 * 3.4), not the DER SEQUENCE mbedTLS's pk layer produces, so this file works on the ECDSA
 * level. Every call copies the key into a private ecdsa context first: mbedTLS 2.28 may cache
 * precomputed points in an ecp_group, so a group shared between threads must not be used for
 * arithmetic (this is also what pk_wrap.c does). The handle itself is only read, which makes
 * signing and verification with one key safe from any number of threads.
 *
 * Verification treats the token as hostile: it is length-limited, split on exactly two dots,
 * each segment strictly decoded (canonical unpadded base64url), the header parsed with small
 * JSON limits and checked for the algorithm before any curve arithmetic, and the payload parsed
 * only after the signature holds. */
#include "lib/jwt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include "lib/base64.h"
#include "lib/crypto.h"
#include "lib/json.h"

#define SIG_LEN		  64
#define COORD_LEN	  32
#define PUBKEY_DER_MAX	  512
#define HEADER_MAX_DEPTH  4
#define PAYLOAD_MAX_DEPTH 16

/* The key's EC keypair when it is a P-256 key, else NULL. */
static const mbedtls_ecp_keypair *p256(const struct kc_key *key)
{
	mbedtls_pk_context *pk = kc_key_mbedtls(key);
	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECDSA))
		return NULL;
	const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
	return ec && ec->grp.id == MBEDTLS_ECP_DP_SECP256R1 ? ec : NULL;
}

bool kc_jwt_es256_key(const struct kc_key *key)
{
	return p256(key) != NULL;
}

static void add_coord(cJSON *jwk, const char *name, const mbedtls_mpi *v)
{
	uint8_t bin[COORD_LEN];
	struct kc_str s = KC_STR_INIT;
	if (mbedtls_mpi_write_binary(v, bin, sizeof bin) == 0)
		kc_base64_encode(&s, bin, sizeof bin, KC_B64_URL | KC_B64_NOPAD);
	kc_json_add(jwk, name, kc_json_new_str(s.buf));
	kc_str_free(&s);
}

cJSON *kc_jwt_public_jwk(const struct kc_key *key, const char *kid)
{
	const mbedtls_ecp_keypair *ec = p256(key);
	if (!ec)
		return NULL;
	cJSON *jwk = kc_json_new_object();
	kc_json_add(jwk, "use", kc_json_new_str("sig"));
	kc_json_add(jwk, "kty", kc_json_new_str("EC"));
	if (kid)
		kc_json_add(jwk, "kid", kc_json_new_str(kid));
	kc_json_add(jwk, "crv", kc_json_new_str("P-256"));
	kc_json_add(jwk, "alg", kc_json_new_str("ES256"));
	add_coord(jwk, "x", &ec->Q.X);
	add_coord(jwk, "y", &ec->Q.Y);
	return jwk;
}

int kc_jwt_key_id(const struct kc_key *key, char kid[KC_JWT_KID_LEN], struct kc_err *err)
{
	unsigned char der[PUBKEY_DER_MAX];
	int n = mbedtls_pk_write_pubkey_der(kc_key_mbedtls(key), der, sizeof der);
	if (n <= 0)
		return kc_err_set(err, -KC_ECRYPTO, "encode public key: mbedTLS error -0x%04x",
				  (unsigned)-n);
	uint8_t sum[KC_SHA256_LEN];
	/* mbedTLS writes DER backwards, at the end of the buffer */
	kc_sha256(der + sizeof der - (size_t)n, (size_t)n, sum);
	struct kc_str s = KC_STR_INIT;
	kc_base64_encode(&s, sum, sizeof sum, KC_B64_URL | KC_B64_NOPAD);
	memcpy(kid, s.buf, KC_JWT_KID_LEN - 1);
	kid[KC_JWT_KID_LEN - 1] = '\0';
	kc_str_free(&s);
	return 0;
}

int kc_jwt_sign_es256(const struct kc_key *key, const char *kid, const cJSON *claims,
		      struct kc_str *out, struct kc_err *err)
{
	const mbedtls_ecp_keypair *ec = p256(key);
	if (!ec)
		return kc_err_set(err, -KC_EINVAL, "ES256 needs an EC P-256 key");
	if (!cJSON_IsObject(claims))
		return kc_err_set(err, -KC_EINVAL, "JWT claims must be a JSON object");

	cJSON *hdr = kc_json_new_object();
	kc_json_add(hdr, "alg", kc_json_new_str("ES256"));
	if (kid)
		kc_json_add(hdr, "kid", kc_json_new_str(kid));
	size_t hlen, plen;
	char *htext = kc_json_print(hdr, &hlen);
	char *ptext = kc_json_print(claims, &plen);
	cJSON_Delete(hdr);

	size_t start = out->len;
	kc_base64_encode(out, htext, hlen, KC_B64_URL | KC_B64_NOPAD);
	kc_str_addc(out, '.');
	kc_base64_encode(out, ptext, plen, KC_B64_URL | KC_B64_NOPAD);
	free(htext);
	free(ptext);

	uint8_t hash[KC_SHA256_LEN], sig[SIG_LEN];
	kc_sha256(out->buf + start, out->len - start, hash);

	mbedtls_ecdsa_context ctx;
	mbedtls_mpi r, s;
	mbedtls_ecdsa_init(&ctx);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	int ret = mbedtls_ecdsa_from_keypair(&ctx, ec);
	if (ret == 0)
		ret = mbedtls_ecdsa_sign_det_ext(&ctx.grp, &r, &s, &ctx.d, hash, sizeof hash,
						 MBEDTLS_MD_SHA256, kc_crypto_rng, NULL);
	if (ret == 0)
		ret = mbedtls_mpi_write_binary(&r, sig, COORD_LEN);
	if (ret == 0)
		ret = mbedtls_mpi_write_binary(&s, sig + COORD_LEN, COORD_LEN);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	mbedtls_ecdsa_free(&ctx); /* zeroizes the private scalar */
	if (ret != 0) {
		kc_str_setlen(out, start);
		return kc_err_set(err, -KC_ECRYPTO, "ES256 signature: mbedTLS error -0x%04x",
				  (unsigned)-ret);
	}
	kc_str_addc(out, '.');
	kc_base64_encode(out, sig, sizeof sig, KC_B64_URL | KC_B64_NOPAD);
	return 0;
}

/* A JSON error inside a token is a malformed token, whatever limit it hit. */
static int malformed(struct kc_err *err, const char *what)
{
	kc_err_wrap(err, "JWT %s", what);
	if (err)
		err->code = -KC_EPARSE;
	return -KC_EPARSE;
}

/* Decodes one segment into out (reset first). */
static int segment(const char *p, size_t n, struct kc_str *out, const char *what,
		   struct kc_err *err)
{
	kc_str_reset(out);
	if (n == 0)
		return kc_err_set(err, -KC_EPARSE, "JWT %s is empty", what);
	if (kc_base64_decode(out, p, n, KC_B64_URL | KC_B64_NOPAD, err) < 0)
		return malformed(err, what);
	return 0;
}

static int check_header(const char *text, size_t n, const char *kid, struct kc_err *err)
{
	const struct kc_json_limits lim = {.max_bytes = KC_JWT_MAX_LEN,
					   .max_depth = HEADER_MAX_DEPTH};
	cJSON *hdr = NULL;
	int rc = kc_json_parse(text, n, &lim, &hdr, err);
	if (rc < 0)
		return malformed(err, "header");
	const char *alg = kc_json_get_str(hdr, "alg");
	cJSON *hkid = cJSON_IsObject(hdr) ? cJSON_GetObjectItemCaseSensitive(hdr, "kid") : NULL;
	if (!cJSON_IsObject(hdr))
		rc = kc_err_set(err, -KC_EPARSE, "JWT header is not a JSON object");
	else if (!alg)
		rc = kc_err_set(err, -KC_EPARSE, "JWT header has no \"alg\"");
	else if (strcmp(alg, "ES256") != 0)
		rc = kc_err_set(err, -KC_EINVAL, "JWT algorithm is not ES256");
	else if (cJSON_GetObjectItemCaseSensitive(hdr, "crit"))
		rc = kc_err_set(err, -KC_EINVAL, "JWT header has critical extensions");
	else if (hkid && !cJSON_IsString(hkid))
		rc = kc_err_set(err, -KC_EPARSE, "JWT \"kid\" is not a string");
	else if (hkid && kid && strcmp(hkid->valuestring, kid) != 0)
		rc = kc_err_set(err, -KC_EINVAL, "JWT signed by an unknown key");
	cJSON_Delete(hdr);
	return rc;
}

static int check_signature(const mbedtls_ecp_keypair *ec, const char *signed_part, size_t n,
			   const uint8_t sig[SIG_LEN], struct kc_err *err)
{
	uint8_t hash[KC_SHA256_LEN];
	kc_sha256(signed_part, n, hash);
	mbedtls_ecdsa_context ctx;
	mbedtls_mpi r, s;
	mbedtls_ecdsa_init(&ctx);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	int ret = mbedtls_ecdsa_from_keypair(&ctx, ec);
	bool copied = ret == 0;
	if (ret == 0)
		ret = mbedtls_mpi_read_binary(&r, sig, COORD_LEN);
	if (ret == 0)
		ret = mbedtls_mpi_read_binary(&s, sig + COORD_LEN, COORD_LEN);
	if (ret == 0)
		ret = mbedtls_ecdsa_verify(&ctx.grp, hash, sizeof hash, &ctx.Q, &r, &s);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	mbedtls_ecdsa_free(&ctx);
	if (!copied)
		return kc_err_set(err, -KC_ECRYPTO, "copy verification key: mbedTLS error -0x%04x",
				  (unsigned)-ret);
	if (ret != 0)
		return kc_err_set(err, -KC_EINVAL, "JWT signature is invalid");
	return 0;
}

int kc_jwt_verify_es256(const struct kc_key *key, const char *kid, const char *token, size_t len,
			cJSON **claims, struct kc_err *err)
{
	*claims = NULL;
	const mbedtls_ecp_keypair *ec = p256(key);
	if (!ec)
		return kc_err_set(err, -KC_EINVAL, "ES256 needs an EC P-256 key");
	if (len > KC_JWT_MAX_LEN)
		return kc_err_set(err, -KC_ETOOBIG, "JWT longer than %d bytes", KC_JWT_MAX_LEN);
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return kc_err_set(err, -KC_EPARSE, "JWT must have three dot-separated parts");
	const char *end = token + len;

	struct kc_str buf = KC_STR_INIT;
	uint8_t sig[SIG_LEN];
	int rc = segment(token, (size_t)(dot1 - token), &buf, "header", err);
	if (rc == 0)
		rc = check_header(buf.buf, buf.len, kid, err);
	if (rc == 0)
		rc = segment(dot2 + 1, (size_t)(end - dot2 - 1), &buf, "signature", err);
	if (rc == 0 && buf.len != SIG_LEN)
		rc = kc_err_set(err, -KC_EINVAL, "ES256 signature is %zu bytes, not %d", buf.len,
				SIG_LEN);
	if (rc == 0) {
		memcpy(sig, buf.buf, SIG_LEN);
		rc = check_signature(ec, token, (size_t)(dot2 - token), sig, err);
	}
	if (rc == 0)
		rc = segment(dot1 + 1, (size_t)(dot2 - dot1 - 1), &buf, "payload", err);
	if (rc == 0) {
		const struct kc_json_limits lim = {.max_bytes = KC_JWT_MAX_LEN,
						   .max_depth = PAYLOAD_MAX_DEPTH};
		cJSON *v = NULL;
		rc = kc_json_parse(buf.buf, buf.len, &lim, &v, err);
		if (rc < 0)
			rc = malformed(err, "payload");
		else if (!cJSON_IsObject(v))
			rc = kc_err_set(err, -KC_EPARSE, "JWT payload is not a JSON object");
		if (rc == 0)
			*claims = v;
		else
			cJSON_Delete(v);
	}
	kc_str_free(&buf);
	return rc;
}
