/* podnet.h - the pod network of one node (CNI bridge + host-local IPAM + flannel host-gw, in
 * process): bridge "kc0" holding the podCIDR's first address, a veth pair per pod with eth0 in the
 * pod's pinned network namespace, file-backed IPAM, host-gw routes to the other nodes' podCIDRs,
 * hostPort DNAT and masquerade through iptables; plus the control plane's podCIDR allocator.
 *
 * Everything happens in the network namespace of the thread that calls rt_podnet_open (the
 * node's: the host in production, a test namespace in tests); pod namespaces are entered only
 * by helper threads. One struct rt_podnet per node and data directory; its functions may be
 * called from several threads (an internal mutex serializes them). */
#ifndef KC_RUNTIME_PODNET_H
#define KC_RUNTIME_PODNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/str.h"
#include "net/addr.h"

#define RT_PODNET_BRIDGE	       "kc0"
#define RT_PODNET_DEFAULT_MTU	       1500
#define RT_PODNET_DEFAULT_CLUSTER_CIDR "10.42.0.0/16"
/* Host-side veth names: "kcv" + 12 hex digits of a hash of the pod uid. */
#define RT_PODNET_VETH_PREFIX "kcv"

/* ---- podCIDR allocation (control plane; pure) --------------------------------------------- */

/* Picks the first /node_prefix subnet of cluster (in address order) that overlaps none of
 * used[0..n) (the podCIDRs Nodes already hold; entries of another family are ignored).
 * Returns 0, -KC_EINVAL when node_prefix does not fit the cluster range, or -KC_ELIMIT when
 * every subnet is taken (the error names the range). */
int rt_podnet_cidr_alloc(const struct net_cidr *cluster, unsigned node_prefix,
			 const struct net_cidr *used, size_t n, struct net_cidr *out,
			 struct kc_err *err);

/* ---- IPAM (host-local layout: one file per address) --------------------------------------- */

/* Allocations of one range under DIR/<network>-<prefix>/: a file named by each address holding
 * "<owner>\n", made visible by link() so it is never seen half-written, and "last_reserved_ip"
 * holding the round-robin cursor. The gateway (network+1), the network and broadcast addresses
 * are never handed out. IPv4 ranges of /16 to /30. The directory is flock'ed for the life of the
 * handle: a second process on the same data dir gets -KC_EAGAIN. */
struct rt_ipam;

int rt_ipam_open(const char *dir, const struct net_cidr *range, struct rt_ipam **out,
		 struct kc_err *err);
void rt_ipam_close(struct rt_ipam *ipam);
/* The address of owner, allocating the next free one when it has none (idempotent). Owner:
 * 1..128 bytes of [A-Za-z0-9._-]. -KC_ELIMIT when the range is exhausted. */
int rt_ipam_alloc(struct rt_ipam *ipam, const char *owner, struct net_ip *out, struct kc_err *err);
/* Looks up owner's address: 0, or -KC_ENOTFOUND. */
int rt_ipam_lookup(struct rt_ipam *ipam, const char *owner, struct net_ip *out);
/* Releases owner's address. Idempotent (0 when it had none). */
int rt_ipam_release(struct rt_ipam *ipam, const char *owner, struct kc_err *err);
/* The current allocations: calls fn for each (owner "" for a file whose content was unreadable,
 * a crash leftover); fn may not call back into ipam. */
void rt_ipam_foreach(struct rt_ipam *ipam,
		     void (*fn)(const struct net_ip *ip, const char *owner, void *arg), void *arg);
size_t rt_ipam_count(struct rt_ipam *ipam);

/* ---- the node's pod network --------------------------------------------------------------- */

/* Runs the firewall tool (argv[0] is "iptables"); fills out with its stdout. Returns 0, or a
 * negative code with err carrying its stderr. Replaced by a fake in tests. */
typedef int (*rt_podnet_exec_fn)(void *ctx, const char *const *argv, struct kc_str *out,
				 struct kc_err *err);

struct rt_podnet_config {
	const char *data_dir;	      /* namespaces in DATA/netns, IPAM in DATA/ipam, hostPort
					* records in DATA/hostports */
	struct net_cidr pod_cidr;     /* this node's podCIDR (IPv4) */
	struct net_cidr cluster_cidr; /* family 0: no masquerade rule */
	const char *bridge;	      /* NULL: RT_PODNET_BRIDGE */
	uint32_t mtu;		      /* 0: RT_PODNET_DEFAULT_MTU */
	bool firewall;		      /* hostPort and masquerade rules through iptables */
	const char *iptables;	      /* NULL: "iptables" from PATH */
	rt_podnet_exec_fn exec;	      /* NULL: run the program */
	void *exec_ctx;
};

struct rt_podnet;

/* Sets up the node: the bridge (created or adopted) with the gateway address, up; ip_forward;
 * the masquerade rule when configured. -KC_EUNSUPPORTED when firewall is asked but iptables
 * cannot run (the node can still run pods without hostPorts: open again with firewall off). */
int rt_podnet_open(const struct rt_podnet_config *cfg, struct rt_podnet **out, struct kc_err *err);
/* Releases the handle; the network stays as it is (pods keep running). */
void rt_podnet_close(struct rt_podnet *pn);

struct rt_pod_port {
	uint16_t host_port;
	uint16_t container_port;
	int protocol;	       /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	struct net_ip host_ip; /* family 0: every node address */
};

struct rt_pod_net {
	struct net_ip ip;      /* the pod IP (status.podIP) */
	struct net_ip gateway; /* the bridge address */
	unsigned prefix;       /* the podCIDR prefix */
	char netns_path[4096]; /* what containers join (DATA/netns/<uid>) */
	char host_veth[16];
};

/* Gives pod_uid a network: pinned namespace, address, veth, routes, hostPorts. Idempotent: a
 * pod whose network is complete gets the same answer without changes (adoption after a
 * restart); a half-built one (crash, earlier failure) is rebuilt. On failure everything this
 * call created is removed again. */
int rt_podnet_setup(struct rt_podnet *pn, const char *pod_uid, const struct rt_pod_port *ports,
		    size_t nports, struct rt_pod_net *out, struct kc_err *err);
/* The network of a pod set up earlier: 0, or -KC_ENOTFOUND. */
int rt_podnet_status(struct rt_podnet *pn, const char *pod_uid, struct rt_pod_net *out);
/* Removes the pod's hostPorts, veth, namespace and address. Idempotent. Processes still inside
 * the namespace keep it alive until they exit, but it is no longer reachable. */
int rt_podnet_teardown(struct rt_podnet *pn, const char *pod_uid, struct kc_err *err);
/* After a crash or while the agent was down: tears down every pod network (namespace, address,
 * veth on the bridge, hostPort record) whose uid is not in live[0..n). Returns the first
 * error but tries everything; *removed counts torn-down pods (may be NULL). */
int rt_podnet_cleanup(struct rt_podnet *pn, const char *const *live, size_t n, size_t *removed,
		      struct kc_err *err);

/* host-gw: one route per other node, podCIDR via its node address. */
struct rt_podnet_peer {
	struct net_cidr pod_cidr;
	struct net_ip node_ip;
};
/* Makes kc's routes (protocol NL_RTPROT_KC in the main table) exactly peers[0..n): adds or
 * replaces what differs and deletes kc routes no longer wanted; other routes are never touched.
 * The peer owning this node's podCIDR is skipped. *changed counts the routes written (may be
 * NULL). */
int rt_podnet_sync_routes(struct rt_podnet *pn, const struct rt_podnet_peer *peers, size_t n,
			  size_t *changed, struct kc_err *err);

/* The host-side veth name of a pod (buf >= 16 bytes). */
void rt_podnet_veth_name(const char *pod_uid, char *buf, size_t cap);

/* Removes the node itself: bridge, kc routes, kc firewall chains (for tests and uninstall);
 * pods should have been torn down first. Idempotent. */
int rt_podnet_destroy_node(struct rt_podnet *pn, struct kc_err *err);

#endif
