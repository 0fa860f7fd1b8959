/* x509.h - kc's certificate authority: ECDSA P-256 keys, a self-signed cluster CA, server and
 * client certificates signed by it, PEM load/save, certificate parsing and chain verification. */
#ifndef KC_LIB_X509_H
#define KC_LIB_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/str.h"

/* A private key: ECDSA P-256 when kc generated it; EC or RSA when loaded from PEM. */
struct kc_key;
/* One parsed X.509 certificate, or a chain of them (leaf first, then intermediates). */
struct kc_cert;

/* CA validity: ten years (3652 days). */
#define KC_CA_VALIDITY_SECS (3652LL * 24 * 3600)
/* kc_ca_create backdates notBefore by this much, so that nodes whose clocks lag a little
 * behind the one that made the CA still accept it. */
#define KC_CERT_BACKDATE_SECS 300
/* Limits enforced when signing (and fitting struct transport's peer_cn / peer_groups). */
#define KC_CERT_NAME_MAX 255        /* bytes in a CN or one O value */
#define KC_CERT_GROUPS_MAX 511      /* bytes in all O values joined by ',' */
#define KC_CERT_SANS_MAX 256        /* DNS plus IP SANs */

/* ---- keys ---- */

/* Generates a new ECDSA P-256 key into *out (caller frees with kc_key_free). Returns 0 or
 * -KC_ECRYPTO. */
int kc_key_generate(struct kc_key **out, struct kc_err *err);
/* Parses an unencrypted private key (PEM: "EC PRIVATE KEY", "RSA PRIVATE KEY", "PRIVATE KEY";
 * or DER) of len bytes; the text need not be NUL-terminated. Returns 0 or -KC_EPARSE. */
int kc_key_parse(const void *data, size_t len, struct kc_key **out, struct kc_err *err);
/* Reads and parses a key file (at most 1 MiB). Returns 0, -errno, or -KC_EPARSE. */
int kc_key_load_file(const char *path, struct kc_key **out, struct kc_err *err);
/* Appends the key's PEM to out. out then holds a secret: wipe it (mbedtls_platform_zeroize)
 * before freeing. Returns 0 or -KC_ECRYPTO. */
int kc_key_to_pem(const struct kc_key *key, struct kc_str *out, struct kc_err *err);
/* Writes the key's PEM to path atomically (temporary file in the same directory, fsync,
 * rename, fsync of the directory), mode 0600. Returns 0, -errno or -KC_ECRYPTO. */
int kc_key_save_file(const struct kc_key *key, const char *path, struct kc_err *err);
/* Returns an independent copy (caller frees). */
struct kc_key *kc_key_dup(const struct kc_key *key);
/* NULL is a no-op. Wipes the key material. */
void kc_key_free(struct kc_key *key);

/* ---- certificates ---- */

/* Parses one or more certificates (PEM blocks, or a single DER certificate) of len bytes into
 * a chain in file order. Every certificate must parse. Returns 0 or -KC_EPARSE. */
int kc_cert_parse(const void *data, size_t len, struct kc_cert **out, struct kc_err *err);
/* Reads and parses a certificate file (at most 4 MiB). Returns 0, -errno or -KC_EPARSE. */
int kc_cert_load_file(const char *path, struct kc_cert **out, struct kc_err *err);
/* Appends every certificate of the chain as PEM to out. */
void kc_cert_to_pem(const struct kc_cert *cert, struct kc_str *out);
/* Writes the chain's PEM to path atomically (as kc_key_save_file), mode 0644. Returns 0 or
 * -errno. */
int kc_cert_save_file(const struct kc_cert *cert, const char *path, struct kc_err *err);
/* Returns an independent copy of the whole chain (caller frees). */
struct kc_cert *kc_cert_dup(const struct kc_cert *cert);
/* NULL is a no-op. */
void kc_cert_free(struct kc_cert *cert);

/* Number of certificates in the chain (>= 1). */
size_t kc_cert_count(const struct kc_cert *cert);
/* The first certificate's DER; borrowed, valid while cert lives. */
const uint8_t *kc_cert_der(const struct kc_cert *cert, size_t *len);
/* SHA-256 of the first certificate's DER: what a join token pins the cluster CA by. */
void kc_cert_sha256(const struct kc_cert *cert, uint8_t out[KC_SHA256_LEN]);
/* True when key is the private half of the first certificate's public key. */
bool kc_cert_matches_key(const struct kc_cert *cert, const struct kc_key *key);

/* What kc reads out of a certificate (the first of a chain). Strings are heap copies owned by
 * the struct; free with kc_cert_info_free. */
struct kc_cert_info {
	char *cn;              /* subject CN, "" when absent */
	char **orgs;           /* subject O values in certificate order (a client's groups) */
	size_t norgs;
	char **dns_names;      /* dNSName SANs */
	size_t ndns;
	char **ips;            /* iPAddress SANs as text ("10.0.0.1", "fd00::1") */
	size_t nips;
	int64_t not_before;    /* Unix seconds, UTC */
	int64_t not_after;
	bool is_ca;            /* basicConstraints CA:TRUE */
};

/* Fills *info (caller frees with kc_cert_info_free, also after an error). Returns 0, or
 * -KC_EPARSE when a name holds a NUL byte or a SAN is malformed. */
int kc_cert_get_info(const struct kc_cert *cert, struct kc_cert_info *info, struct kc_err *err);
/* Frees the strings and zeroes *info; safe on a zeroed struct. */
void kc_cert_info_free(struct kc_cert_info *info);

/* Verifies that the first certificate of 'cert' chains (through the rest of 'cert' as
 * intermediates) to one of the certificates in 'ca', with valid signatures, CA constraints,
 * key usage and validity at the current time. Returns 0, or -KC_ECRYPTO with mbedTLS's reasons
 * in err. */
int kc_cert_verify(const struct kc_cert *cert, const struct kc_cert *ca, struct kc_err *err);

/* ---- the certificate authority ---- */

/* Creates a self-signed CA: a new P-256 key into *key_out, and into *cert_out a certificate
 * with subject CN=cn, basicConstraints CA:TRUE (critical), keyUsage keyCertSign, cRLSign and
 * digitalSignature, a random positive 128-bit serial, valid from now - KC_CERT_BACKDATE_SECS
 * for KC_CA_VALIDITY_SECS. now is Unix seconds (the caller's clock). Caller frees both.
 * Returns 0, -KC_EINVAL (bad cn) or -KC_ECRYPTO; nothing is returned on error. */
int kc_ca_create(const char *cn, int64_t now, struct kc_cert **cert_out, struct kc_key **key_out,
		 struct kc_err *err);

/* What a signed leaf certificate says. Everything is borrowed for the call only. */
struct kc_cert_spec {
	const char *cn;                /* subject CN, 1..KC_CERT_NAME_MAX bytes */
	const char *const *orgs;       /* subject O values, in order; none may contain ',' */
	size_t norgs;
	const char *const *dns_names;  /* dNSName SANs ("api.example", "*.svc.local") */
	size_t ndns;
	const char *const *ips;        /* iPAddress SANs as text, IPv4 or IPv6 */
	size_t nips;
	int64_t not_before;            /* validity, Unix seconds UTC; not_before < not_after */
	int64_t not_after;
};

/* Signs a TLS server certificate for subject_key's public half with the CA: subject from
 * spec, SANs from spec (at least one required), keyUsage digitalSignature, extKeyUsage
 * serverAuth, CA:FALSE, random serial, subject/authority key identifiers. The CA key must match
 * the CA certificate. Caller frees *out. Returns 0, -KC_EINVAL (with the offending field in
 * err), or -KC_ECRYPTO. */
int kc_cert_sign_server(const struct kc_cert *ca, const struct kc_key *ca_key,
			const struct kc_key *subject_key, const struct kc_cert_spec *spec,
			struct kc_cert **out, struct kc_err *err);
/* Same for a TLS client certificate: CN is the user, O values the groups, extKeyUsage
 * clientAuth; SANs are optional. */
int kc_cert_sign_client(const struct kc_cert *ca, const struct kc_key *ca_key,
			const struct kc_key *subject_key, const struct kc_cert_spec *spec,
			struct kc_cert **out, struct kc_err *err);

/* Same for a peer certificate, used both to serve and to dial (store members' mutual TLS):
 * extKeyUsage serverAuth and clientAuth; SANs required as for a server. */
int kc_cert_sign_peer(const struct kc_cert *ca, const struct kc_key *ca_key,
		      const struct kc_key *subject_key, const struct kc_cert_spec *spec,
		      struct kc_cert **out, struct kc_err *err);

/* ---- for net/tls.c ---- */

struct mbedtls_x509_crt;
struct mbedtls_pk_context;

/* The mbedTLS objects behind the handles, borrowed. mbedTLS's API is not const-correct, so
 * these hand out mutable pointers: callers must only read through them. Several threads may
 * use one key or certificate at once: mbedTLS's pk layer copies an EC key into a private
 * context for every signature or verification, and RSA contexts lock their own mutex
 * (MBEDTLS_THREADING_C). */
struct mbedtls_x509_crt *kc_cert_mbedtls(const struct kc_cert *cert);
struct mbedtls_pk_context *kc_key_mbedtls(const struct kc_key *key);

#endif
