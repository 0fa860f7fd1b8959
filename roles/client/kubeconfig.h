/* kubeconfig.h - reads a kubeconfig file as kubectl does: the context (current-context unless
 * named), its cluster (server, certificate-authority[-data], insecure-skip-tls-verify,
 * tls-server-name) and user (client-certificate[-data], client-key[-data], token, tokenFile),
 * and the context's namespace. Relative file paths are relative to the kubeconfig's directory. */
#ifndef KC_ROLES_CLIENT_KUBECONFIG_H
#define KC_ROLES_CLIENT_KUBECONFIG_H

#include <stdbool.h>

#include "lib/err.h"

struct kc_cert;
struct kc_key;

#define KUBECONFIG_MAX_BYTES ((size_t)1 << 20)

struct kc_kubeconfig {
	char server[512];           /* "https://127.0.0.1:6443" */
	char ns[254];               /* the context's namespace, "default" when unset */
	char tls_server_name[256];  /* "" when unset */
	bool insecure;              /* insecure-skip-tls-verify */
	struct kc_cert *ca;         /* NULL when none (insecure, or plain http) */
	struct kc_cert *cert;       /* client certificate, NULL when none */
	struct kc_key *key;
	char *token;                /* bearer token, NULL when none */
};

/* Which file: 'path' when non-NULL, else the first existing entry of $KUBECONFIG (':'-separated;
 * kc does not merge several files), else $HOME/.kube/config. Fills out (release with
 * kubeconfig_free). Returns 0, or a negative code with err naming the file and the problem
 * ('kubeconfig /x: line 3, column 1: ...', 'context "foo" not found', 'no server set'). */
int kubeconfig_load(const char *path, const char *context, struct kc_kubeconfig *out,
		    struct kc_err *err);
void kubeconfig_free(struct kc_kubeconfig *k);

struct tls_client_config;
/* The TLS client configuration the kubeconfig describes for its server: *out NULL for an
 * http:// server, else the CA (or insecure-skip-tls-verify), the client certificate, and
 * tls-server-name as the name to verify. Release with tls_client_config_free. Returns 0, or
 * -KC_EINVAL for https without a CA, or the TLS layer's error. */
int kubeconfig_tls(const struct kc_kubeconfig *k, struct tls_client_config **out,
		   struct kc_err *err);

/* The file kubeconfig_load would read for path == NULL, written into buf; -KC_ENOTFOUND when
 * none exists. */
int kubeconfig_default_path(char *buf, size_t cap, struct kc_err *err);

#endif
