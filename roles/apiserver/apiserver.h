/* apiserver.h - kc's Kubernetes API front door: HTTPS on --api-port, served by one event-loop
 * thread per core: the unauthenticated health basics (/version, /readyz, /livez, /healthz),
 * /metrics, and the Kubernetes REST API (roles/apiserver/handlers.h). */
#ifndef KC_ROLES_APISERVER_H
#define KC_ROLES_APISERVER_H

#include "roles/config.h"
#include "roles/pki.h"

struct apiserver;

struct kv;

/* Binds --bind-address:--api-port with the PKI's serving certificate, creates the default
 * objects when absent (namespaces, RBAC, the "kubernetes" service) and starts the loop
 * threads serving the Kubernetes API on 'store' (borrowed; must outlive the API server).
 * pki is borrowed for the call (the TLS config keeps copies). Returns 0 with *out, or a
 * negative code with err naming the cause (e.g. the port is in use). */
int apiserver_start(const struct kc_server_config *cfg, const struct kc_pki *pki,
		    const struct kv *store, struct apiserver **out, struct kc_err *err);

/* Stops accepting, lets in-flight requests finish (up to a short grace period), joins the
 * threads and frees everything. NULL is a no-op. */
void apiserver_stop(struct apiserver *a);

#endif
