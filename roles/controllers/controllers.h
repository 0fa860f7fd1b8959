/* controllers.h - kc's controller manager: one thread with its own event loop running every
 * controller (deployment, replicaset, replicationcontroller, statefulset, daemonset, job,
 * endpoints, endpointslice, serviceaccount + root CA, node IPAM, node lifecycle) on shared
 * informers, talking to the API server only through the Kubernetes API (over HTTPS to the
 * local API server, as user "system:kc-controller-manager" in group system:masters, with a
 * client certificate issued in memory from the cluster CA at start). */
#ifndef KC_ROLES_CONTROLLERS_H
#define KC_ROLES_CONTROLLERS_H

#include "lib/err.h"
#include "roles/config.h"
#include "roles/pki.h"

struct ctrlmgr;

/* Starts the thread. server_url is the API server's URL ("https://127.0.0.1:6443"); cfg and
 * pki are borrowed for the call (what is needed is copied). Returns 0 with *out or a negative
 * code with err. */
int ctrlmgr_start(const struct kc_server_config *cfg, const struct kc_pki *pki,
		  const char *server_url, struct ctrlmgr **out, struct kc_err *err);
/* Stops the loop, joins the thread and frees everything. NULL is a no-op. */
void ctrlmgr_stop(struct ctrlmgr *m);

#endif
