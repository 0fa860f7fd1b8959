/* jwt.h - JSON Web Tokens in the JWS compact serialization signed with ES256 (ECDSA P-256 over
 * SHA-256, RFC 7515/7518/7519): signing, strict verification of untrusted tokens, key ids. */
#ifndef KC_LIB_JWT_H
#define KC_LIB_JWT_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "lib/err.h"
#include "lib/str.h"
#include "lib/x509.h"

/* Longest token kc_jwt_verify_es256 accepts, in bytes. */
#define KC_JWT_MAX_LEN (16 * 1024)
/* A key id: 43 base64url characters (a SHA-256) and the NUL. */
#define KC_JWT_KID_LEN 44

/* Whether key can sign ES256 tokens (an EC key on P-256). */
bool kc_jwt_es256_key(const struct kc_key *key);

/* The public half of an ES256 key as a JWK (RFC 7517/7518: "use":"sig","kty":"EC","kid",
 * "crv":"P-256","alg":"ES256","x","y"); kid may be NULL. Caller frees; NULL when key is not a
 * P-256 key. */
cJSON *kc_jwt_public_jwk(const struct kc_key *key, const char *kid);

/* Writes into kid the id Kubernetes gives a service-account signing key: the unpadded base64url
 * of the SHA-256 of the public key's DER (SubjectPublicKeyInfo). Returns 0 or -KC_ECRYPTO. */
int kc_jwt_key_id(const struct kc_key *key, char kid[KC_JWT_KID_LEN], struct kc_err *err);

/* Signs claims (borrowed; any JSON object) with key, which must be an EC P-256 private key,
 * and appends "header.payload.signature" to out. The header is {"alg":"ES256","kid":kid}
 * (kid may be NULL: no "kid"). Thread-safe: key is only read. Returns 0, -KC_EINVAL (not an
 * object, not a P-256 key) or -KC_ECRYPTO. */
int kc_jwt_sign_es256(const struct kc_key *key, const char *kid, const cJSON *claims,
		      struct kc_str *out, struct kc_err *err);

/* Verifies token[0..len) (untrusted, need not be NUL-terminated) against key's public half:
 * exactly three base64url segments without padding, at most KC_JWT_MAX_LEN bytes, a header
 * that is a JSON object with "alg":"ES256", no "crit", a "kid" (when present) equal to kid
 * (when kid is not NULL), a 64-byte R||S signature valid for "header.payload", and a payload
 * that is a JSON object. Claims (exp, iss, ...) are the caller's to check. On success *claims
 * gets the payload (caller frees with cJSON_Delete). Returns 0, -KC_ETOOBIG, -KC_EPARSE
 * (malformed) or -KC_EINVAL (wrong algorithm, key id or signature); err says which. */
int kc_jwt_verify_es256(const struct kc_key *key, const char *kid, const char *token, size_t len,
			cJSON **claims, struct kc_err *err);

#endif
