/* netlink.h - a small synchronous rtnetlink (NETLINK_ROUTE) client: links (bridge, veth),
 * addresses, routes, in the caller's network namespace or in any other one; plus the bounded
 * message builder and attribute parser it is made of, and /proc/sys writes.
 *
 * Namespaces: a netlink socket belongs for its whole life to the network namespace of the thread
 * that created it. nl_open() uses the caller's; nl_open_in_netns() creates the socket on a
 * short-lived helper thread that setns()'s first, so the calling thread never changes namespace.
 * A struct nl_sock is used by one thread at a time (it keeps a sequence counter and a buffer). */
#ifndef KC_NET_NETLINK_H
#define KC_NET_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "net/addr.h"

/* Largest request kc builds and largest datagram it reads from the kernel. */
#define NL_MSG_MAX  4096
#define NL_RECV_MAX 32768
/* Nesting depth of attributes the builder allows (veth peer info needs 3). */
#define NL_NEST_MAX 4

/* ---- message builder (pure, bounded) ---------------------------------------------------- */

/* One request: nlmsghdr + family header + attributes in a fixed buffer. Any write past the
 * buffer sets 'overflow' and is dropped; nl_request() refuses an overflowed message. */
struct nl_msg {
	uint8_t buf[NL_MSG_MAX] __attribute__((aligned(8)));
	size_t len;
	size_t nest[NL_NEST_MAX];
	int depth;
	bool overflow;
};

/* Starts a message of 'type' (RTM_*) with 'flags' (NLM_F_*; NLM_F_REQUEST and NLM_F_ACK are
 * added by nl_request) and a zeroed family header of hdrlen bytes, returned for filling. */
void *nl_msg_init(struct nl_msg *m, uint16_t type, uint16_t flags, size_t hdrlen);
void nl_attr_put(struct nl_msg *m, uint16_t type, const void *data, size_t len);
void nl_attr_put_u8(struct nl_msg *m, uint16_t type, uint8_t v);
void nl_attr_put_u32(struct nl_msg *m, uint16_t type, uint32_t v);
void nl_attr_put_str(struct nl_msg *m, uint16_t type, const char *s);
/* Opens a nested attribute; closed by nl_attr_nest_end, which fills in its length. */
void nl_attr_nest_start(struct nl_msg *m, uint16_t type);
void nl_attr_nest_end(struct nl_msg *m);
/* Grows the last open nest (or the message) by a raw, zeroed struct of n bytes and returns it
 * (veth's peer ifinfomsg sits inside VETH_INFO_PEER before the peer's attributes). Returns NULL
 * on overflow. */
void *nl_msg_reserve(struct nl_msg *m, size_t n);

/* ---- parser (pure, bounded; the fuzz target's surface) ---------------------------------- */

/* An attribute borrowed from a received buffer. */
struct nl_attr {
	const uint8_t *data;
	uint16_t len;
	bool present;
};

/* Walks the attributes in data[0..len) into tb[0..maxtype] (later duplicates win; types above
 * maxtype are ignored; the NLA_F_NESTED/NET_BYTEORDER bits are masked). Returns 0, or -KC_EPARSE
 * when an attribute is truncated or its length is below the header size. */
int nl_attr_parse(const void *data, size_t len, struct nl_attr *tb, int maxtype);
/* Typed reads: each returns -KC_EPARSE when the attribute is absent or has the wrong size. */
int nl_attr_u32(const struct nl_attr *a, uint32_t *out);
int nl_attr_u8(const struct nl_attr *a, uint8_t *out);
/* Copies a NUL-terminated string attribute (the NUL must be inside) into dst (cap bytes). */
int nl_attr_str(const struct nl_attr *a, char *dst, size_t cap);

/* Steps through the netlink messages of one datagram: *off is the cursor (start at 0).
 * Returns 1 with *hdr (pointing into buf) and *payload_len set, 0 at the end, or -KC_EPARSE for
 * a malformed header (length below the header, or past the buffer). */
struct nlmsghdr;
int nl_msg_next(const void *buf, size_t len, size_t *off, const struct nlmsghdr **hdr);

/* Decoded objects, as kc uses them. */
struct nl_link {
	int ifindex;
	char name[16];
	char kind[16];	/* "bridge", "veth", ... ("" when the kernel sent no IFLA_LINKINFO) */
	unsigned flags; /* IFF_* */
	uint32_t mtu;
	int master; /* ifindex of the bridge it is attached to, 0 when none */
	int link;   /* veth: peer ifindex (may live in another namespace) */
	uint8_t mac[6];
	bool has_mac;
};

struct nl_addr {
	int ifindex;
	struct net_ip ip;
	unsigned prefix;
};

struct nl_route {
	struct net_cidr dst; /* 0.0.0.0/0 for a default route */
	struct net_ip gw;    /* family 0 when there is no gateway */
	int oif;	     /* 0: let the kernel choose from the gateway */
	uint8_t protocol;    /* RTPROT_*; kc's own routes use NL_RTPROT_KC */
	uint8_t scope;	     /* RT_SCOPE_*; 0 means universe */
	uint8_t table;	     /* 0 means main */
	uint8_t type;	     /* RTN_*; 0 means unicast */
	uint32_t priority;   /* metric */
	uint32_t mtu;	     /* RTAX_MTU; 0: unset */
	bool onlink;
};

/* Routes kc installs carry this protocol number, so that kc only ever touches its own ("K"). */
#define NL_RTPROT_KC 75

/* Decoders for one RTM_NEWLINK / RTM_NEWADDR / RTM_NEWROUTE message. Return 0, or -KC_EPARSE
 * for a message that is truncated or of the wrong type. */
int nl_parse_link(const struct nlmsghdr *h, struct nl_link *out);
int nl_parse_addr(const struct nlmsghdr *h, struct nl_addr *out);
int nl_parse_route(const struct nlmsghdr *h, struct nl_route *out);
/* Decodes an NLMSG_ERROR message: returns its (negative errno or 0) error code, or -KC_EPARSE. */
int nl_parse_error(const struct nlmsghdr *h);

/* ---- socket ----------------------------------------------------------------------------- */

struct nl_sock;

/* Opens a NETLINK_ROUTE socket in the calling thread's network namespace. */
int nl_open(struct nl_sock **out, struct kc_err *err);
/* Opens one inside the namespace at 'netns_path' (a bind mount or /proc/PID/ns/net), or of the
 * namespace fd 'nsfd', from a helper thread. */
int nl_open_in_netns(const char *netns_path, struct nl_sock **out, struct kc_err *err);
int nl_open_in_netns_fd(int nsfd, struct nl_sock **out, struct kc_err *err);
void nl_close(struct nl_sock *s);

/* Runs fn(arg) on a helper thread that first joins the network namespace nsfd, and returns fn's
 * result (or a negative code when the thread or setns failed, with err filled). For work that
 * must run inside a namespace but is not netlink: /proc/sys/net writes, unshare, sockets. */
int nl_run_in_netns(int nsfd, int (*fn)(void *arg, struct kc_err *err), void *arg,
		    struct kc_err *err);

/* Sends m with NLM_F_REQUEST|NLM_F_ACK and waits for the kernel's answer to that sequence
 * number. Returns 0 or the kernel's -errno (err names the request 'what'). */
int nl_request(struct nl_sock *s, struct nl_msg *m, const char *what, struct kc_err *err);

/* ---- links ------------------------------------------------------------------------------ */

/* Looks a link up by name. Returns 0, -ENODEV when absent, or another negative code. */
int nl_link_get(struct nl_sock *s, const char *name, struct nl_link *out, struct kc_err *err);
int nl_link_get_index(struct nl_sock *s, int ifindex, struct nl_link *out, struct kc_err *err);
/* Every link of the namespace; *out is an array of *n links, free with free(). */
int nl_link_list(struct nl_sock *s, struct nl_link **out, size_t *n, struct kc_err *err);

/* Creates a bridge (mtu 0: the kernel default). -EEXIST when the name is taken. */
int nl_link_add_bridge(struct nl_sock *s, const char *name, uint32_t mtu, struct kc_err *err);
/* Creates a veth pair: 'name' in this socket's namespace and 'peer' directly inside the
 * namespace peer_nsfd (-1: this one), both with 'mtu' (0: default). */
int nl_link_add_veth(struct nl_sock *s, const char *name, const char *peer, int peer_nsfd,
		     uint32_t mtu, struct kc_err *err);
/* Deletes a link (a veth's peer goes with it). -ENODEV when absent. */
int nl_link_del(struct nl_sock *s, int ifindex, struct kc_err *err);
int nl_link_set_up(struct nl_sock *s, int ifindex, bool up, struct kc_err *err);
int nl_link_set_mtu(struct nl_sock *s, int ifindex, uint32_t mtu, struct kc_err *err);
int nl_link_set_mac(struct nl_sock *s, int ifindex, const uint8_t mac[6], struct kc_err *err);
/* Attaches to bridge 'master' (0: detaches). */
int nl_link_set_master(struct nl_sock *s, int ifindex, int master, struct kc_err *err);
/* Moves the link into the namespace nsfd. */
int nl_link_set_netns(struct nl_sock *s, int ifindex, int nsfd, struct kc_err *err);
/* Bridge port option: hairpin (a pod reaching itself through a Service address). */
int nl_link_set_hairpin(struct nl_sock *s, int ifindex, bool on, struct kc_err *err);

/* ---- addresses and routes --------------------------------------------------------------- */

/* Adds ip/prefix on ifindex (IPv4 gets the broadcast address). -EEXIST when present. */
int nl_addr_add(struct nl_sock *s, int ifindex, const struct net_ip *ip, unsigned prefix,
		struct kc_err *err);
int nl_addr_del(struct nl_sock *s, int ifindex, const struct net_ip *ip, unsigned prefix,
		struct kc_err *err);
/* Addresses of one family (AF_UNSPEC: all); free *out with free(). */
int nl_addr_list(struct nl_sock *s, int family, struct nl_addr **out, size_t *n,
		 struct kc_err *err);

enum nl_route_op { NL_ROUTE_ADD, NL_ROUTE_REPLACE, NL_ROUTE_DEL };
int nl_route_change(struct nl_sock *s, enum nl_route_op op, const struct nl_route *r,
		    struct kc_err *err);
/* Routes of the main table of one family; free *out with free(). */
int nl_route_list(struct nl_sock *s, int family, struct nl_route **out, size_t *n,
		  struct kc_err *err);

/* ---- sysctls ---------------------------------------------------------------------------- */

/* Writes value to /proc/sys/<key with '.' as '/'> ("net.ipv4.ip_forward"). net.* keys belong to
 * the calling thread's namespace (see nl_run_in_netns). Returns 0 or -errno. */
int nl_sysctl_write(const char *key, const char *value, struct kc_err *err);
/* Reads it (trailing newline removed) into buf. */
int nl_sysctl_read(const char *key, char *buf, size_t cap, struct kc_err *err);

#endif
