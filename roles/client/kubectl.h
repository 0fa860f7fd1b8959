/* kubectl.h - `kc kubectl`: the everyday kubectl commands built into kc, for boxes without
 * kubectl. Reads the same kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config, else
 * /var/lib/kc/kubeconfig or --data-dir's). Exit codes as kubectl: 0, 1 on errors from the
 * server or the cluster, 2... kc convention: 2 for bad usage. */
#ifndef KC_ROLES_CLIENT_KUBECTL_H
#define KC_ROLES_CLIENT_KUBECTL_H

/* argv[0] is the first argument after "kubectl". */
int kc_kubectl_main(int argc, char **argv);

#endif
