/* apiserver.h - kc's Kubernetes API front door: HTTPS on --api-port, served by one event-loop
 * thread per core. Today it answers the unauthenticated health and discovery basics (/version,
 * /readyz, /livez, /healthz, /metrics) and a Kubernetes Status for everything else. */
#ifndef KC_ROLES_APISERVER_H
#define KC_ROLES_APISERVER_H

#include "roles/config.h"
#include "roles/pki.h"

struct apiserver;

/* Binds --bind-address:--api-port with the PKI's serving certificate and starts the loop
 * threads. pki is borrowed for the call (the TLS config keeps copies). Returns 0 with *out, or a
 * negative code with err naming the cause (e.g. the port is in use). */
int apiserver_start(const struct kc_server_config *cfg, const struct kc_pki *pki,
		    struct apiserver **out, struct kc_err *err);

/* Stops accepting, lets in-flight requests finish (up to a short grace period), joins the
 * threads and frees everything. NULL is a no-op. */
void apiserver_stop(struct apiserver *a);

#endif
