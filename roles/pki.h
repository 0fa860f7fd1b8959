/* pki.h - the cluster's certificates under DATA/tls: the CA (created at first start), the API
 * server's serving certificate (re-issued when its names change or it nears expiry) and the
 * admin client certificate. */
#ifndef KC_ROLES_PKI_H
#define KC_ROLES_PKI_H

#include "lib/x509.h"
#include "roles/config.h"

/* The join token: "kc1:<SHA-256 of the CA certificate DER, 64 lowercase hex>:<secret, 32 hex>".
 * The middle part pins the cluster CA, the secret authenticates a joining node or member. */
#define KC_TOKEN_PREFIX "kc1:"
#define KC_TOKEN_LEN (4 + 64 + 1 + 32)

struct kc_pki {
	struct kc_cert *ca;
	struct kc_key *ca_key;
	char token[KC_TOKEN_LEN + 1];   /* DATA/token */
	struct kc_cert *peer;        /* store roles: the member's peer certificate (serverAuth and
				      * clientAuth, O=kc:store-peer), for mutual TLS between members */
	struct kc_key *peer_key;
	struct kc_cert *server;      /* leaf, for the API server */
	struct kc_key *server_key;
	struct kc_cert *admin;       /* CN=kubernetes-admin, O=system:masters */
	struct kc_key *admin_key;
};

/* Server certificates are re-issued when fewer than this many seconds of validity are left. */
#define KC_PKI_RENEW_BEFORE_SECS (30LL * 24 * 3600)
#define KC_PKI_LEAF_VALIDITY_SECS (365LL * 24 * 3600)

/* The O value of store peer certificates; the peer port accepts no other client. */
#define KC_PKI_PEER_GROUP "kc:store-peer"

/* Loads DATA/tls, creating what is missing. A member of a store that is joining (no CA yet,
 * --token given, and --store-join or other --store-peers with https URLs), or a master on a
 * remote store (no CA yet, --token, https --store-endpoints), first fetches the
 * cluster CA and its key from a running member's peer port (the master: its client port, which
 * serves the same two paths): GET /kc/bootstrap/ca.crt (over TLS
 * without verification; accepted only if its SHA-256 equals the token's pin), then GET
 * /kc/bootstrap/ca.key over TLS verified against that CA, authenticated by the token as a
 * bearer token; it retries refused connections for up to a minute. DATA/token is created from
 * --token or, on the first member, with a fresh secret (mode 0600); a token that does not pin
 * this CA is refused. Then: ca.{crt,key}, apiserver.{crt,key} (SANs: localhost,
 * the node name, kubernetes.default.svc.<domain> and its shorter forms, 127.0.0.1, ::1, the
 * advertise and bind addresses, the first IP of the service range), admin.{crt,key}. A serving
 * certificate that lacks a needed name, is not signed by the CA or expires within
 * KC_PKI_RENEW_BEFORE_SECS is re-issued. 'now' is Unix seconds. Returns 0 or a negative code with
 * err filled (a CA certificate without its key, unreadable files, ...). */
int kc_pki_ensure(const struct kc_server_config *cfg, int64_t now, struct kc_pki *out,
		  struct kc_err *err);

/* Writes DATA/kubeconfig (mode 0600, atomically): cluster "kc" at server_url with the CA,
 * user "admin" with the admin client certificate and key, all embedded, so that
 * `KUBECONFIG=DATA/kubeconfig kubectl ...` works with no other step. Returns 0 or -errno. */
int kc_pki_write_kubeconfig(const struct kc_server_config *cfg, const struct kc_pki *pki,
			    const char *server_url, struct kc_err *err);

/* Parses a join token: the CA pin (32 bytes) and the secret (32 hex digits + NUL). 0 or
 * -KC_EINVAL with the reason in err. */
int kc_token_parse(const char *token, uint8_t pin[32], char secret[33], struct kc_err *err);

/* The server side of the CA bootstrap, for the store's peer port over TLS. Holds copies of the
 * CA certificate and key PEM and the token; immutable, so any thread may serve with it. */
struct kc_pki_bootstrap;
struct http_req;
struct kc_pki_bootstrap *kc_pki_bootstrap_new(const struct kc_pki *pki);
void kc_pki_bootstrap_free(struct kc_pki_bootstrap *b);
/* Answers req if its path is one of /kc/bootstrap/ca.crt (to anyone: public) and
 * /kc/bootstrap/ca.key (only with "Authorization: Bearer TOKEN"; 401 otherwise); 404 for other
 * /kc/ paths. */
void kc_pki_bootstrap_serve(void *bootstrap, struct http_req *req);

/* The node agent's serving certificate for --kubelet-port, DATA/tls/kubelet.{crt,key} (SANs:
 * the node name, localhost, the advertise address, 127.0.0.1), loaded or issued from the CA
 * like the other leaves. Caller frees both. */
int kc_pki_kubelet_serving(const struct kc_server_config *cfg, const struct kc_pki *pki, int64_t now,
			   struct kc_cert **cert, struct kc_key **key, struct kc_err *err);
/* The API server's client certificate for the node API (logs, exec):
 * DATA/tls/apiserver-kubelet-client.{crt,key}, CN kube-apiserver-kubelet-client, O
 * system:masters. Caller frees both. */
int kc_pki_kubelet_client(const struct kc_server_config *cfg, const struct kc_pki *pki, int64_t now,
			  struct kc_cert **cert, struct kc_key **key, struct kc_err *err);
/* Issues a node client certificate (CN system:node:<name>, O system:nodes) and a serving
 * certificate for its node API (SANs: the name and ip) for a joining worker. */
int kc_pki_issue_node(const struct kc_pki *pki, const char *name, const char *ip, int64_t now,
		      struct kc_cert **client, struct kc_cert **serving, const struct kc_key *key,
		      struct kc_err *err);
/* Frees everything; safe on a zeroed struct. */
void kc_pki_free(struct kc_pki *pki);

#endif
