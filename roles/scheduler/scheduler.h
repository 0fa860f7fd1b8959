/* scheduler.h - kc's scheduler ("default-scheduler"): one thread with its own loop that
 * watches pods and nodes through the Kubernetes API, places each unscheduled pod on a feasible
 * node (roles/scheduler/sched_filter.h) and binds it with POST pods/binding, recording
 * Scheduled / FailedScheduling events. Identity: "system:kube-scheduler" in system:masters,
 * a client certificate issued in memory from the cluster CA. */
#ifndef KC_ROLES_SCHEDULER_H
#define KC_ROLES_SCHEDULER_H

#include "lib/err.h"
#include "roles/pki.h"

struct scheduler;
struct kc_cert;
struct kc_key;

/* Starts the scheduler thread against server_url with the given CA and client identity
 * (copied; either cert+key or token). Returns 0 with *out or a negative code with err. */
int scheduler_start(const char *server_url, const struct kc_cert *ca, const struct kc_cert *cert,
		    const struct kc_key *key, const char *token, struct scheduler **out,
		    struct kc_err *err);
/* The same with an identity issued from the PKI's CA. */
int scheduler_start_pki(const struct kc_pki *pki, const char *server_url, struct scheduler **out,
			struct kc_err *err);
/* Stops the loop, joins and frees. NULL is a no-op. */
void scheduler_stop(struct scheduler *s);

#endif
