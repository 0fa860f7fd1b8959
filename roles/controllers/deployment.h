/* deployment.h - the pure part of the Deployment controller's rollout algorithm (no I/O), as
 * kube-controller-manager computes it, for the controller and its unit tests. */
#ifndef KC_ROLES_CONTROLLERS_DEPLOYMENT_H
#define KC_ROLES_CONTROLLERS_DEPLOYMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/* One ReplicaSet of a deployment as the algorithm sees it. */
struct rollout_rs {
	long long replicas;   /* spec.replicas */
	long long available;  /* status.availableReplicas */
	int64_t created;      /* creationTimestamp, Unix s (older first when scaling down) */
	long long target;     /* out: the replicas it should have (starts = replicas) */
};

/* Resolves an IntOrString (NULL: def) against total: a percentage rounds up (round_up) or
 * down. Returns 0 or -KC_EINVAL for a malformed value. */
int rollout_int_or_percent(const cJSON *v, const char *def, long long total, bool round_up,
			   long long *out);
/* maxSurge and maxUnavailable of a RollingUpdate strategy (spec.strategy.rollingUpdate, may
 * be NULL: 25% / 25%); when both resolve to 0, maxUnavailable is 1, as Kubernetes does. */
void rollout_surge_unavailable(const cJSON *rolling, long long replicas, long long *surge,
			       long long *unavailable);
/* NewRSNewReplicas for RollingUpdate: the replicas the new RS should have now. all_replicas is
 * the sum of spec.replicas over every RS (new included). */
long long rollout_new_rs_replicas(long long replicas, long long surge, long long new_replicas,
				  long long all_replicas);
/* One rolling-update step over the old ReplicaSets (reconcileOldReplicaSets: first scale down
 * unhealthy replicas, then healthy ones oldest first, never below replicas - maxUnavailable
 * available pods). newrs may be NULL. Sets old[i].target; returns the total scaled down. */
long long rollout_scale_down_old(long long replicas, long long unavailable,
				 const struct rollout_rs *newrs, struct rollout_rs *old,
				 size_t nold);

#endif
