/* server.h - `kc server`: starts the subsystems of the chosen roles in order, waits for SIGTERM
 * or SIGINT, and stops them in reverse order. */
#ifndef KC_ROLES_SERVER_H
#define KC_ROLES_SERVER_H

#include "roles/config.h"

/* The Kubernetes version kc serves (reported by `kc version` and GET /version). */
#define KC_KUBE_VERSION_MAJOR "1"
#define KC_KUBE_VERSION_MINOR "32"
#define KC_KUBE_GIT_VERSION "v1.32.0"

/* Runs until a stop signal. Returns the process exit status: 0 after a clean stop, 2 when a
 * subsystem could not start (one line on stderr says why: busy port, unwritable data dir...). */
int kc_server_main(const struct kc_server_config *cfg);

/* Any thread: asks kc_server_main to stop everything and return exit status 1, logging
 * 'reason' (e.g. this store member was removed from its cluster). The first call counts. */
void kc_server_fail(const char *reason);

#endif
