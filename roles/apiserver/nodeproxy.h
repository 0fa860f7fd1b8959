/* nodeproxy.h - the API server's proxy of the pods/log and pods/exec subresources to the node
 * agent running the pod (the kubelet API on the Node's InternalIP and kubeletEndpoint port),
 * over TLS with the apiserver-kubelet-client certificate. */
#ifndef KC_ROLES_APISERVER_NODEPROXY_H
#define KC_ROLES_APISERVER_NODEPROXY_H

#include "lib/err.h"
#include "lib/x509.h"

struct http_req;
struct registry;
struct schema;
struct nodeproxy;
struct tls_client_config;

struct nodeproxy_config {
	struct registry *reg;          /* borrowed; must outlive the proxy */
	const struct schema *schema;   /* borrowed */
	const struct kc_cert *ca;      /* the cluster CA that signed the kubelets' serving certs */
	const struct kc_cert *cert;    /* client certificate presented to kubelets; copied */
	const struct kc_key *key;
};

/* Returns 0 with *out (free with nodeproxy_free), or a negative code with err. */
int nodeproxy_new(const struct nodeproxy_config *cfg, struct nodeproxy **out, struct kc_err *err);
/* The TLS client configuration the proxy dials kubelets with (CA and client identity),
 * borrowed: valid until nodeproxy_free. The metrics scraper uses it too. */
struct tls_client_config *nodeproxy_tls(struct nodeproxy *np);
/* Frees the proxy; connections in flight keep their own TLS config reference. NULL is a no-op. */
void nodeproxy_free(struct nodeproxy *np);

/* Serves subresource 'sub' ("log", "exec", "attach", "portforward", "proxy") of pod ns/name on
 * req's loop, after authentication and authorization. Takes ownership of req and finishes it
 * (a Status error, the node's streamed log, or a 101 and a raw relay of the WebSocket). np NULL
 * answers 503. ns, name and sub are copied. */
void nodeproxy_serve(struct nodeproxy *np, struct http_req *req, const char *ns, const char *name,
		     const char *sub);

#endif
