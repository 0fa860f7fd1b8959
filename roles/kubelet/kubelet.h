/* kubelet.h - kc's node agent: registers the Node and keeps its Lease and status, runs the pods
 * bound to it through kc's runtime (runtime/), reports their status and events, and serves the
 * node API (logs, exec, stats) on --kubelet-port. */
#ifndef KC_ROLES_KUBELET_H
#define KC_ROLES_KUBELET_H

#include "lib/err.h"
#include "roles/config.h"
#include "roles/pki.h"

struct kubelet;

/* Starts the agent's thread. With --role=all, pki is the local cluster PKI (borrowed for the
 * call): the agent talks to https://127.0.0.1:<api-port> with a node certificate issued from
 * the CA. Without it (pki NULL, --role=worker), it joins with --server and --token
 * (roles/kubelet/join.c). Returns 0 with *out or a negative code with err. */
int kubelet_start(const struct kc_server_config *cfg, const struct kc_pki *pki,
		  struct kubelet **out, struct kc_err *err);
/* Stops the agent; running pods keep running (their shims outlive kc). NULL is a no-op. */
void kubelet_stop(struct kubelet *k);

#endif
