/* tls.h - TLS 1.2 (mbedTLS) behind struct transport: server and client configurations shared
 * by many connections and threads, and wrappers that turn a connected non-blocking socket into
 * a TLS transport whose handshake runs inside the first reads and writes.
 *
 * Protocol: TLS 1.2 only (mbedTLS 2.28 has no TLS 1.3), ECDHE key exchange on X25519, P-256 or
 * P-384, ECDSA or RSA certificates, AES-128/256-GCM and ChaCha20-Poly1305: the suites Go's
 * crypto/tls (kubectl, client-go) and curl/OpenSSL negotiate. No renegotiation, no session
 * resumption, no ALPN (HTTP/1.1 is implied).
 *
 * Threads: a config is immutable once created (apart from tls_server_config_add_cert, which is
 * for set-up only) and reference counted: every transport holds a reference, so the creator may
 * free its config (e.g. after rotating certificates) while connections still use it. A
 * transport belongs to the thread driving it.
 *
 * Transport semantics beyond net/transport.h:
 *  - read returns 0 at the peer's close_notify and also at a bare TCP end of stream after the
 *    handshake (many servers skip close_notify); HTTP's own framing detects truncation.
 *  - write: after -EAGAIN the next write must present the same leading bytes again, at least
 *    as many as before (like OpenSSL's SSL_write): mbedTLS already encrypted them.
 *  - Socket errors come back as -errno (-ECONNRESET, -EPIPE), TLS failures (bad certificate,
 *    protocol error, alert) as -KC_ETLS, with mbedTLS's reason logged at debug level. Errors
 *    are sticky. Handshake timeouts are the caller's (the HTTP layer's) business. */
#ifndef KC_NET_TLS_H
#define KC_NET_TLS_H

#include <stdbool.h>

#include "lib/err.h"
#include "lib/x509.h"
#include "net/transport.h"

struct tls_server_config;
struct tls_client_config;

enum tls_client_auth {
	TLS_CLIENT_AUTH_NONE,     /* no CertificateRequest */
	TLS_CLIENT_AUTH_OPTIONAL, /* request; none is fine, but one that is sent must verify */
	TLS_CLIENT_AUTH_REQUIRED, /* a verified client certificate or the handshake fails */
};

/* Chooses the certificate for the SNI name a client asked for (1..255 bytes, no NUL). Runs on
 * whichever thread drives a handshake, possibly several at once: must be thread-safe. Returns
 * 0 for the default certificate, an index returned by tls_server_config_add_cert, or a negative
 * value to abort the handshake. Not called when the client sent no SNI. */
typedef int (*tls_sni_fn)(void *arg, const char *name);

struct tls_server_opts {
	const struct kc_cert *chain;       /* required: leaf first, then intermediates; copied */
	const struct kc_key *key;          /* required: the leaf's key; copied */
	const struct kc_cert *client_ca;   /* trust anchors for client certificates; copied */
	enum tls_client_auth client_auth;  /* anything but NONE needs client_ca */
	tls_sni_fn sni;                    /* optional */
	void *sni_arg;
	/* Optional: called with sni_arg when the config's last reference goes away. */
	void (*sni_arg_free)(void *sni_arg);
};

/* Builds a server config from opts (borrowed; the config keeps copies, and owns sni_arg from
 * success on). Returns 0 with *out (release with tls_server_config_free), or -KC_EINVAL
 * (missing key, key not matching the certificate, client_auth without client_ca) or -KC_ETLS;
 * on failure sni_arg stays the caller's. */
int tls_server_config_new(const struct tls_server_opts *opts, struct tls_server_config **out,
			  struct kc_err *err);
/* Adds an alternative certificate for the SNI callback to choose (copied). Returns its index
 * (>= 1), or -KC_EINVAL when key does not match. Only before the config's first wrap. */
int tls_server_config_add_cert(struct tls_server_config *cfg, const struct kc_cert *chain,
			       const struct kc_key *key, struct kc_err *err);
/* Drops the caller's reference; the config goes when its last transport does. NULL is a no-op. */
void tls_server_config_free(struct tls_server_config *cfg);

/* Wraps an accepted, non-blocking socket as a TLS server transport. Takes ownership of fd and a
 * reference to cfg. Never fails (out of memory aborts). Free with transport_close. */
struct transport *tls_server_wrap(struct tls_server_config *cfg, int fd);

struct tls_client_opts {
	const struct kc_cert *ca;   /* trust anchors for the server; required unless insecure */
	const struct kc_cert *cert; /* optional client certificate chain; copied */
	const struct kc_key *key;   /* its key, required with cert; copied */
	/* Default name to verify and send as SNI when tls_client_wrap gets none. A DNS name is
	 * matched against the server certificate's DNS SANs (wildcards allowed), an IP literal
	 * against its IP SANs (and not sent as SNI). */
	const char *server_name;
	/* Tests only: accept any server certificate (no chain, name or validity checks). */
	bool insecure_skip_verify;
};

/* Builds a client config from opts (borrowed; copied). Returns 0 with *out (release with
 * tls_client_config_free), or -KC_EINVAL (no CA without insecure_skip_verify, cert without a
 * matching key) or -KC_ETLS. */
int tls_client_config_new(const struct tls_client_opts *opts, struct tls_client_config **out,
			  struct kc_err *err);
/* Drops the caller's reference, as tls_server_config_free. NULL is a no-op. */
void tls_client_config_free(struct tls_client_config *cfg);

/* Wraps a connected (or connecting) non-blocking socket as a TLS client transport verifying
 * the server as server_name (NULL: the config's server_name; "[::1]" brackets are accepted).
 * Takes ownership of fd in every case (closed on error) and a reference to cfg. Returns 0 with
 * *out, or -KC_EINVAL when no usable name is known and verification is on, or the name is
 * longer than 255 bytes. */
int tls_client_wrap(struct tls_client_config *cfg, int fd, const char *server_name,
		    struct transport **out, struct kc_err *err);

/* The negotiated protocol and suite ("TLSv1.2", "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"),
 * or "" before the handshake finished or when t is not a TLS transport. */
/* Client side: true when the handshake resumed a session of an earlier connection to the same
 * server address under the same name (session tickets). */
bool tls_resumed(struct transport *t);
const char *tls_version(struct transport *t);
const char *tls_ciphersuite(struct transport *t);

#endif
