/* kexec.h - `kc kubectl exec`: runs a command in a pod's container over the API server's
 * WebSocket exec protocol (v5.channel.k8s.io), as kubectl 1.30+ does. */
#ifndef KC_ROLES_CLIENT_KEXEC_H
#define KC_ROLES_CLIENT_KEXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/json.h"
#include "roles/client/kubeconfig.h"
#include "roles/client/rest.h"

struct kexec_opts {
	const struct kc_kubeconfig *kc; /* server, credentials (borrowed) */
	struct kc_rest *rest;		/* for the pod lookup (borrowed) */
	const char *ns;
	const char *pod;       /* "NAME", "pod/NAME" or "pods/NAME" */
	const char *container; /* NULL: the default container */
	bool stdin_;	       /* -i: pass stdin */
	bool tty;	       /* -t: allocate a TTY (needs -i and a terminal) */
	char *const *cmd;      /* the command and its arguments */
	size_t ncmd;
};

/* Runs the command and returns the process exit code kubectl would: the remote command's
 * exit code, 0 on success, 1 on errors (printed to stderr as kubectl prints them). */
int kc_kexec_run(const struct kexec_opts *o);

/* The container kubectl picks when none is named (podcmd.FindOrDefaultContainerByName): the
 * kubectl.kubernetes.io/default-container annotation when it names one of the pod's containers,
 * quietly; else the first container, printing kubectl's 'Defaulted container "x" out of: ...'
 * to stderr when the pod has others. With logs, an annotation naming no container is reported
 * as `kubectl logs` does. Returns a string borrowed from pod, NULL when it has no containers. */
const char *kexec_default_container(const cJSON *pod, bool logs);

#endif
