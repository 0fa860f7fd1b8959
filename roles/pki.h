/* pki.h - the cluster's certificates under DATA/tls: the CA (created at first start), the API
 * server's serving certificate (re-issued when its names change or it nears expiry) and the
 * admin client certificate. */
#ifndef KC_ROLES_PKI_H
#define KC_ROLES_PKI_H

#include "lib/x509.h"
#include "roles/config.h"

struct kc_pki {
	struct kc_cert *ca;
	struct kc_key *ca_key;
	struct kc_cert *server;      /* leaf, for the API server */
	struct kc_key *server_key;
	struct kc_cert *admin;       /* CN=kubernetes-admin, O=system:masters */
	struct kc_key *admin_key;
};

/* Server certificates are re-issued when fewer than this many seconds of validity are left. */
#define KC_PKI_RENEW_BEFORE_SECS (30LL * 24 * 3600)
#define KC_PKI_LEAF_VALIDITY_SECS (365LL * 24 * 3600)

/* Loads DATA/tls, creating what is missing: ca.{crt,key}, apiserver.{crt,key} (SANs: localhost,
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

/* Frees everything; safe on a zeroed struct. */
void kc_pki_free(struct kc_pki *pki);

#endif
