/* DESIGN: a worker joining a cluster with --server and --token. Not finished: the API server has
 * no endpoint yet that issues node certificates for the join token (see the worker report), so
 * a worker without a local PKI stops here with a clear message. */
#include "roles/kubelet/kubelet_int.h"

int kl_join(struct kubelet *k, struct kc_err *err);
int kl_join(struct kubelet *k, struct kc_err *err)
{
	return kc_err_set(err, -KC_EUNSUPPORTED,
			  "--role=worker joining %s with --token is not supported yet: run the node "
			  "with --role=all", k->server);
}
