/* DESIGN: rtnetlink without a library. Requests are built in a fixed buffer (struct nl_msg) that
 * refuses to grow past NL_MSG_MAX; answers are read into a per-socket heap buffer and walked with
 * nl_msg_next/nl_attr_parse, which check every length against the bytes actually received, so a
 * kernel (or fuzzer) message can never make kc read outside the datagram.
 *
 * Every request asks for an ACK and carries its own sequence number; replies with another number
 * (left over from an earlier timed-out request) are skipped. Extended ACKs are enabled, so a
 * kernel refusal comes back with the kernel's own sentence in the error message.
 *
 * Namespaces: sockets are bound to the namespace of the creating thread; nl_open_in_netns()
 * creates them on a helper thread (nl_run_in_netns), which is the only place kc calls setns()
 * for networking. The caller's own thread never changes namespace. No global state. */
#include "net/netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "lib/alloc.h"

#ifndef NLA_F_NESTED
#define NLA_F_NESTED (1 << 15)
#endif
#define NLA_TYPE_MASK_KC 0x3fff

/* A kernel answer should come at once; this only bounds a hang. */
#define NL_TIMEOUT_SEC 10
/* Objects a listing may return before kc calls it abuse. */
#define NL_LIST_MAX 65536

struct nl_sock {
	int fd;
	uint32_t seq;
	uint32_t portid;
	uint8_t *rbuf; /* NL_RECV_MAX bytes */
};

/* ---- builder ------------------------------------------------------------------------------ */

static struct nlmsghdr *msg_hdr(struct nl_msg *m)
{
	return (struct nlmsghdr *)(void *)m->buf;
}

void *nl_msg_init(struct nl_msg *m, uint16_t type, uint16_t flags, size_t hdrlen)
{
	memset(m->buf, 0, NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen));
	m->len = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);
	m->depth = 0;
	m->overflow = false;
	struct nlmsghdr *h = msg_hdr(m);
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	return m->buf + NLMSG_HDRLEN;
}

/* Appends n bytes (data or zeroes) padded to 4; returns the start or NULL on overflow. */
static uint8_t *msg_append(struct nl_msg *m, const void *data, size_t n)
{
	size_t padded = NLA_ALIGN(n);
	if (m->overflow || padded < n || padded > NL_MSG_MAX - m->len) {
		m->overflow = true;
		return NULL;
	}
	uint8_t *p = m->buf + m->len;
	memset(p, 0, padded);
	if (data && n)
		memcpy(p, data, n);
	m->len += padded;
	return p;
}

void nl_attr_put(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	if (len > 0xffff - NLA_HDRLEN) {
		m->overflow = true;
		return;
	}
	struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type};
	if (!msg_append(m, &a, NLA_HDRLEN))
		return;
	msg_append(m, data, len);
}

void nl_attr_put_u8(struct nl_msg *m, uint16_t type, uint8_t v)
{
	nl_attr_put(m, type, &v, 1);
}

void nl_attr_put_u32(struct nl_msg *m, uint16_t type, uint32_t v)
{
	nl_attr_put(m, type, &v, 4);
}

void nl_attr_put_str(struct nl_msg *m, uint16_t type, const char *s)
{
	nl_attr_put(m, type, s, strlen(s) + 1);
}

void nl_attr_nest_start(struct nl_msg *m, uint16_t type)
{
	if (m->depth >= NL_NEST_MAX) {
		m->overflow = true;
		return;
	}
	size_t off = m->len;
	struct nlattr a = {.nla_len = NLA_HDRLEN, .nla_type = (uint16_t)(type | NLA_F_NESTED)};
	if (!msg_append(m, &a, NLA_HDRLEN))
		return;
	m->nest[m->depth++] = off;
}

void nl_attr_nest_end(struct nl_msg *m)
{
	if (m->depth <= 0) {
		m->overflow = true;
		return;
	}
	size_t off = m->nest[--m->depth];
	if (m->overflow)
		return;
	size_t n = m->len - off;
	if (n > 0xffff) {
		m->overflow = true;
		return;
	}
	uint16_t len16 = (uint16_t)n;
	memcpy(m->buf + off, &len16, sizeof len16);
}

void *nl_msg_reserve(struct nl_msg *m, size_t n)
{
	return msg_append(m, NULL, n);
}

/* ---- parser ------------------------------------------------------------------------------- */

int nl_attr_parse(const void *data, size_t len, struct nl_attr *tb, int maxtype)
{
	memset(tb, 0, sizeof(*tb) * (size_t)(maxtype + 1));
	const uint8_t *p = data;
	size_t off = 0;
	while (len - off >= NLA_HDRLEN) {
		struct nlattr a;
		memcpy(&a, p + off, sizeof a);
		if (a.nla_len < NLA_HDRLEN || a.nla_len > len - off)
			return -KC_EPARSE;
		int type = a.nla_type & NLA_TYPE_MASK_KC;
		if (type <= maxtype) {
			tb[type].data = p + off + NLA_HDRLEN;
			tb[type].len = (uint16_t)(a.nla_len - NLA_HDRLEN);
			tb[type].present = true;
		}
		size_t step = NLA_ALIGN((size_t)a.nla_len);
		if (step > len - off)
			break; /* the last attribute may omit its padding */
		off += step;
	}
	return 0;
}

int nl_attr_u32(const struct nl_attr *a, uint32_t *out)
{
	if (!a->present || a->len != 4)
		return -KC_EPARSE;
	memcpy(out, a->data, 4);
	return 0;
}

int nl_attr_u8(const struct nl_attr *a, uint8_t *out)
{
	if (!a->present || a->len != 1)
		return -KC_EPARSE;
	*out = a->data[0];
	return 0;
}

int nl_attr_str(const struct nl_attr *a, char *dst, size_t cap)
{
	if (!a->present || a->len == 0)
		return -KC_EPARSE;
	const uint8_t *nul = memchr(a->data, 0, a->len);
	if (!nul)
		return -KC_EPARSE;
	size_t n = (size_t)(nul - a->data);
	if (n >= cap)
		return -KC_ELIMIT;
	memcpy(dst, a->data, n + 1);
	return 0;
}

int nl_msg_next(const void *buf, size_t len, size_t *off, const struct nlmsghdr **hdr)
{
	if (*off >= len)
		return 0;
	if (len - *off < NLMSG_HDRLEN)
		return -KC_EPARSE;
	const struct nlmsghdr *h =
		(const struct nlmsghdr *)(const void *)((const uint8_t *)buf + *off);
	if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len - *off)
		return -KC_EPARSE;
	*hdr = h;
	size_t step = NLMSG_ALIGN((size_t)h->nlmsg_len);
	*off = step > len - *off ? len : *off + step;
	return 1;
}

/* The family header of h, when the message holds at least hdrlen bytes of payload. */
static const void *msg_payload(const struct nlmsghdr *h, size_t hdrlen)
{
	if (h->nlmsg_len < NLMSG_HDRLEN + hdrlen)
		return NULL;
	return (const uint8_t *)h + NLMSG_HDRLEN;
}

static const uint8_t *msg_attrs(const struct nlmsghdr *h, size_t hdrlen, size_t *len)
{
	size_t start = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);
	if (h->nlmsg_len <= start) {
		*len = 0;
		return (const uint8_t *)h + h->nlmsg_len;
	}
	*len = h->nlmsg_len - start;
	return (const uint8_t *)h + start;
}

static int attr_ip(const struct nl_attr *a, int family, struct net_ip *out)
{
	size_t want = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
	if (!a->present || want == 0 || a->len != want)
		return -KC_EPARSE;
	memset(out, 0, sizeof *out);
	out->family = family;
	memcpy(out->bytes, a->data, want);
	return 0;
}

int nl_parse_link(const struct nlmsghdr *h, struct nl_link *out)
{
	memset(out, 0, sizeof *out);
	if (h->nlmsg_type != RTM_NEWLINK)
		return -KC_EPARSE;
	const struct ifinfomsg *ifi = msg_payload(h, sizeof *ifi);
	if (!ifi)
		return -KC_EPARSE;
	struct ifinfomsg im;
	memcpy(&im, ifi, sizeof im);
	out->ifindex = im.ifi_index;
	out->flags = im.ifi_flags;
	size_t alen;
	const uint8_t *attrs = msg_attrs(h, sizeof im, &alen);
	struct nl_attr tb[IFLA_MAX + 1];
	if (nl_attr_parse(attrs, alen, tb, IFLA_MAX))
		return -KC_EPARSE;
	if (nl_attr_str(&tb[IFLA_IFNAME], out->name, sizeof out->name))
		return -KC_EPARSE;
	nl_attr_u32(&tb[IFLA_MTU], &out->mtu);
	uint32_t v;
	if (nl_attr_u32(&tb[IFLA_MASTER], &v) == 0)
		out->master = (int)v;
	if (nl_attr_u32(&tb[IFLA_LINK], &v) == 0)
		out->link = (int)v;
	if (tb[IFLA_ADDRESS].present && tb[IFLA_ADDRESS].len == 6) {
		memcpy(out->mac, tb[IFLA_ADDRESS].data, 6);
		out->has_mac = true;
	}
	if (tb[IFLA_LINKINFO].present) {
		struct nl_attr li[IFLA_INFO_MAX + 1];
		if (nl_attr_parse(tb[IFLA_LINKINFO].data, tb[IFLA_LINKINFO].len, li, IFLA_INFO_MAX))
			return -KC_EPARSE;
		if (li[IFLA_INFO_KIND].present &&
		    nl_attr_str(&li[IFLA_INFO_KIND], out->kind, sizeof out->kind))
			return -KC_EPARSE;
	}
	return 0;
}

int nl_parse_addr(const struct nlmsghdr *h, struct nl_addr *out)
{
	memset(out, 0, sizeof *out);
	if (h->nlmsg_type != RTM_NEWADDR)
		return -KC_EPARSE;
	const struct ifaddrmsg *ifa = msg_payload(h, sizeof *ifa);
	if (!ifa)
		return -KC_EPARSE;
	struct ifaddrmsg am;
	memcpy(&am, ifa, sizeof am);
	size_t alen;
	const uint8_t *attrs = msg_attrs(h, sizeof am, &alen);
	struct nl_attr tb[IFA_MAX + 1];
	if (nl_attr_parse(attrs, alen, tb, IFA_MAX))
		return -KC_EPARSE;
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
	 * links, and the only one IPv6 sends. */
	const struct nl_attr *a = tb[IFA_LOCAL].present ? &tb[IFA_LOCAL] : &tb[IFA_ADDRESS];
	if (attr_ip(a, am.ifa_family, &out->ip))
		return -KC_EPARSE;
	unsigned maxp = am.ifa_family == AF_INET ? 32 : 128;
	if (am.ifa_prefixlen > maxp)
		return -KC_EPARSE;
	out->prefix = am.ifa_prefixlen;
	out->ifindex = (int)am.ifa_index;
	return 0;
}

int nl_parse_route(const struct nlmsghdr *h, struct nl_route *out)
{
	memset(out, 0, sizeof *out);
	if (h->nlmsg_type != RTM_NEWROUTE && h->nlmsg_type != RTM_DELROUTE)
		return -KC_EPARSE;
	const struct rtmsg *rt = msg_payload(h, sizeof *rt);
	if (!rt)
		return -KC_EPARSE;
	struct rtmsg rm;
	memcpy(&rm, rt, sizeof rm);
	if (rm.rtm_family != AF_INET && rm.rtm_family != AF_INET6)
		return -KC_EPARSE;
	unsigned maxp = rm.rtm_family == AF_INET ? 32 : 128;
	if (rm.rtm_dst_len > maxp)
		return -KC_EPARSE;
	size_t alen;
	const uint8_t *attrs = msg_attrs(h, sizeof rm, &alen);
	struct nl_attr tb[RTA_MAX + 1];
	if (nl_attr_parse(attrs, alen, tb, RTA_MAX))
		return -KC_EPARSE;
	out->dst.ip.family = rm.rtm_family;
	out->dst.prefix = rm.rtm_dst_len;
	if (tb[RTA_DST].present && attr_ip(&tb[RTA_DST], rm.rtm_family, &out->dst.ip))
		return -KC_EPARSE;
	if (tb[RTA_GATEWAY].present && attr_ip(&tb[RTA_GATEWAY], rm.rtm_family, &out->gw))
		return -KC_EPARSE;
	uint32_t v;
	if (nl_attr_u32(&tb[RTA_OIF], &v) == 0)
		out->oif = (int)v;
	nl_attr_u32(&tb[RTA_PRIORITY], &out->priority);
	out->table = rm.rtm_table;
	if (nl_attr_u32(&tb[RTA_TABLE], &v) == 0)
		out->table = v > 255 ? 0 : (uint8_t)v; /* 0: a table kc does not address */
	out->protocol = rm.rtm_protocol;
	out->scope = rm.rtm_scope;
	out->type = rm.rtm_type;
	out->onlink = (rm.rtm_flags & RTNH_F_ONLINK) != 0;
	if (tb[RTA_METRICS].present) {
		struct nl_attr mx[RTAX_MAX + 1];
		if (nl_attr_parse(tb[RTA_METRICS].data, tb[RTA_METRICS].len, mx, RTAX_MAX))
			return -KC_EPARSE;
		nl_attr_u32(&mx[RTAX_MTU], &out->mtu);
	}
	return 0;
}

/* The error of an NLMSG_ERROR message, and the kernel's extended-ACK sentence if any. */
static int parse_error_msg(const struct nlmsghdr *h, char *msg, size_t cap)
{
	if (msg && cap)
		msg[0] = '\0';
	if (h->nlmsg_type != NLMSG_ERROR)
		return -KC_EPARSE;
	const struct nlmsgerr *e = msg_payload(h, sizeof *e);
	if (!e)
		return -KC_EPARSE;
	struct nlmsgerr em;
	memcpy(&em, e, sizeof em);
	if (em.error > 0 || em.error < -4095)
		return -KC_EPARSE;
	if (msg && cap && (h->nlmsg_flags & NLM_F_ACK_TLVS)) {
		size_t start = NLMSG_HDRLEN + sizeof em;
		if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
			if (em.msg.nlmsg_len < NLMSG_HDRLEN)
				return em.error;
			start += NLMSG_ALIGN((size_t)em.msg.nlmsg_len) - NLMSG_HDRLEN;
		}
		if (start < h->nlmsg_len) {
			struct nl_attr tb[NLMSGERR_ATTR_MSG + 1];
			if (nl_attr_parse((const uint8_t *)h + start, h->nlmsg_len - start, tb,
					  NLMSGERR_ATTR_MSG) == 0 &&
			    tb[NLMSGERR_ATTR_MSG].present)
				nl_attr_str(&tb[NLMSGERR_ATTR_MSG], msg, cap);
		}
	}
	return em.error;
}

int nl_parse_error(const struct nlmsghdr *h)
{
	return parse_error_msg(h, NULL, 0);
}

/* ---- sockets ------------------------------------------------------------------------------ */

int nl_open(struct nl_sock **out, struct kc_err *err)
{
	*out = NULL;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return kc_err_set(err, -errno, "netlink socket: %s", strerror(errno));
	int one = 1;
	/* Best effort: older kernels lack them and only lose the error sentences. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
	struct timeval tv = {.tv_sec = NL_TIMEOUT_SEC};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	socklen_t salen = sizeof sa;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
		int e = errno;
		close(fd);
		return kc_err_set(err, -e, "netlink bind: %s", strerror(e));
	}
	struct nl_sock *s = xcalloc(1, sizeof *s);
	s->fd = fd;
	s->portid = sa.nl_pid;
	s->seq = (uint32_t)getpid() ^ (uint32_t)fd << 20;
	s->rbuf = xmalloc(NL_RECV_MAX);
	*out = s;
	return 0;
}

void nl_close(struct nl_sock *s)
{
	if (!s)
		return;
	close(s->fd);
	free(s->rbuf);
	free(s);
}

struct ns_job {
	int nsfd;
	int (*fn)(void *, struct kc_err *);
	void *arg;
	struct kc_err *err;
	int rc;
};

static void *ns_thread(void *p)
{
	struct ns_job *j = p;
	if (j->nsfd >= 0 && setns(j->nsfd, CLONE_NEWNET) < 0) {
		j->rc = kc_err_set(j->err, -errno, "setns: %s", strerror(errno));
		return NULL;
	}
	j->rc = j->fn(j->arg, j->err);
	return NULL;
}

int nl_run_in_netns(int nsfd, int (*fn)(void *arg, struct kc_err *err), void *arg,
		    struct kc_err *err)
{
	struct ns_job j = {.nsfd = nsfd, .fn = fn, .arg = arg, .err = err};
	pthread_t t;
	int rc = pthread_create(&t, NULL, ns_thread, &j);
	if (rc)
		return kc_err_set(err, -rc, "namespace helper thread: %s", strerror(rc));
	pthread_join(t, NULL);
	return j.rc;
}

static int open_fn(void *arg, struct kc_err *err)
{
	return nl_open(arg, err);
}

int nl_open_in_netns_fd(int nsfd, struct nl_sock **out, struct kc_err *err)
{
	*out = NULL;
	if (nsfd < 0)
		return kc_err_set(err, -KC_EINVAL, "netlink: no namespace");
	return nl_run_in_netns(nsfd, open_fn, out, err);
}

int nl_open_in_netns(const char *netns_path, struct nl_sock **out, struct kc_err *err)
{
	*out = NULL;
	int fd = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_err_set(err, -errno, "open %s: %s", netns_path, strerror(errno));
	int rc = nl_open_in_netns_fd(fd, out, err);
	close(fd);
	if (rc)
		kc_err_wrap(err, "netns %s", netns_path);
	return rc;
}

static int sock_send(struct nl_sock *s, struct nl_msg *m, uint16_t extra_flags, const char *what,
		     struct kc_err *err)
{
	if (m->overflow || m->depth != 0)
		return kc_err_set(err, -KC_ELIMIT, "netlink %s: request too large", what);
	struct nlmsghdr *h = msg_hdr(m);
	h->nlmsg_len = (uint32_t)m->len;
	h->nlmsg_flags |= NLM_F_REQUEST | extra_flags;
	h->nlmsg_seq = ++s->seq;
	h->nlmsg_pid = s->portid;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	ssize_t n;
	do
		n = sendto(s->fd, m->buf, m->len, 0, (struct sockaddr *)&sa, sizeof sa);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return kc_err_set(err, -errno, "netlink %s: send: %s", what, strerror(errno));
	return 0;
}

/* Reads one datagram into s->rbuf. */
static int sock_recv(struct nl_sock *s, size_t *len, const char *what, struct kc_err *err)
{
	ssize_t n;
	do
		n = recv(s->fd, s->rbuf, NL_RECV_MAX, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return kc_err_set(err, -KC_ETIMEDOUT, "netlink %s: no answer", what);
		return kc_err_set(err, -errno, "netlink %s: recv: %s", what, strerror(errno));
	}
	if ((size_t)n > NL_RECV_MAX)
		return kc_err_set(err, -KC_ETOOBIG, "netlink %s: answer truncated", what);
	*len = (size_t)n;
	return 0;
}

static int kernel_error(int e, const char *msg, const char *what, struct kc_err *err)
{
	if (msg[0])
		return kc_err_set(err, e, "netlink %s: %s (%s)", what, strerror(-e), msg);
	return kc_err_set(err, e, "netlink %s: %s", what, strerror(-e));
}

int nl_request(struct nl_sock *s, struct nl_msg *m, const char *what, struct kc_err *err)
{
	int rc = sock_send(s, m, NLM_F_ACK, what, err);
	if (rc)
		return rc;
	uint32_t seq = s->seq;
	for (;;) {
		size_t len;
		if ((rc = sock_recv(s, &len, what, err)))
			return rc;
		size_t off = 0;
		const struct nlmsghdr *h;
		while ((rc = nl_msg_next(s->rbuf, len, &off, &h)) == 1) {
			if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			char msg[160];
			int e = parse_error_msg(h, msg, sizeof msg);
			if (e == -KC_EPARSE)
				return kc_err_set(err, e, "netlink %s: malformed ack", what);
			return e ? kernel_error(e, msg, what, err) : 0;
		}
		if (rc < 0)
			return kc_err_set(err, rc, "netlink %s: malformed answer", what);
	}
}

/* Sends a dump request and calls fn for every answer message until NLMSG_DONE. A dump the kernel
 * marks interrupted (the table changed meanwhile) is restarted, a few times. */
static int dump(struct nl_sock *s, struct nl_msg *m, const char *what,
		int (*fn)(const struct nlmsghdr *h, void *arg), void *arg, struct kc_err *err)
{
	for (int attempt = 0;; attempt++) {
		int rc = sock_send(s, m, NLM_F_DUMP, what, err);
		if (rc)
			return rc;
		uint32_t seq = s->seq;
		bool done = false, intr = false;
		while (!done) {
			size_t len;
			if ((rc = sock_recv(s, &len, what, err)))
				return rc;
			size_t off = 0;
			const struct nlmsghdr *h;
			while (!done && (rc = nl_msg_next(s->rbuf, len, &off, &h)) == 1) {
				if (h->nlmsg_seq != seq)
					continue;
				if (h->nlmsg_flags & NLM_F_DUMP_INTR)
					intr = true;
				if (h->nlmsg_type == NLMSG_DONE) {
					done = true;
				} else if (h->nlmsg_type == NLMSG_ERROR) {
					char msg[160];
					int e = parse_error_msg(h, msg, sizeof msg);
					if (e == -KC_EPARSE)
						return kc_err_set(err, e,
								  "netlink %s: malformed error",
								  what);
					if (e)
						return kernel_error(e, msg, what, err);
				} else if ((rc = fn(h, arg)) != 0) {
					/* drain the rest so the socket stays usable */
					while (!done) {
						if (sock_recv(s, &len, what, NULL))
							break;
						size_t o2 = 0;
						const struct nlmsghdr *h2;
						while (nl_msg_next(s->rbuf, len, &o2, &h2) == 1)
							if (h2->nlmsg_seq == seq &&
							    (h2->nlmsg_type == NLMSG_DONE ||
							     h2->nlmsg_type == NLMSG_ERROR))
								done = true;
					}
					return kc_err_set(err, rc, "netlink %s: %s", what,
							  kc_strerror(rc));
				}
			}
			if (rc < 0)
				return kc_err_set(err, rc, "netlink %s: malformed answer", what);
		}
		if (!intr)
			return 0;
		if (attempt >= 4)
			return kc_err_set(err, -KC_EAGAIN, "netlink %s: dump kept changing", what);
		m->len = msg_hdr(m)->nlmsg_len; /* resend the same request */
	}
}

/* ---- links -------------------------------------------------------------------------------- */

struct list_acc {
	void *items;
	size_t n, cap, elem;
	int family; /* routes/addresses: filter */
};

static void *acc_push(struct list_acc *a)
{
	if (a->n == a->cap) {
		a->cap = kc_grow_cap(a->cap, a->n + 1, a->elem);
		a->items = xrealloc(a->items, a->cap * a->elem);
	}
	return (uint8_t *)a->items + a->elem * a->n++;
}

static int link_cb(const struct nlmsghdr *h, void *arg)
{
	struct list_acc *a = arg;
	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (a->n >= NL_LIST_MAX)
		return -KC_ELIMIT;
	struct nl_link l;
	if (nl_parse_link(h, &l))
		return 0; /* a link kc cannot read is not one of kc's */
	*(struct nl_link *)acc_push(a) = l;
	return 0;
}

int nl_link_list(struct nl_sock *s, struct nl_link **out, size_t *n, struct kc_err *err)
{
	struct nl_msg m;
	struct ifinfomsg *ifi = nl_msg_init(&m, RTM_GETLINK, 0, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	struct list_acc a = {.elem = sizeof(struct nl_link)};
	int rc = dump(s, &m, "list links", link_cb, &a, err);
	if (rc) {
		free(a.items);
		*out = NULL;
		*n = 0;
		return rc;
	}
	*out = a.items;
	*n = a.n;
	return 0;
}

/* RTM_GETLINK for one link answers with the link itself (not an ack); errors come as
 * NLMSG_ERROR. The reply is handled like a one-message dump. */
static int link_get(struct nl_sock *s, const char *name, int ifindex, struct nl_link *out,
		    struct kc_err *err)
{
	struct nl_msg m;
	struct ifinfomsg *ifi = nl_msg_init(&m, RTM_GETLINK, 0, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (name) {
		if (strlen(name) >= IFNAMSIZ)
			return kc_err_set(err, -KC_EINVAL, "link name %s too long", name);
		nl_attr_put_str(&m, IFLA_IFNAME, name);
	}
	nl_attr_put_u32(&m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	int rc = sock_send(s, &m, 0, "get link", err);
	if (rc)
		return rc;
	uint32_t seq = s->seq;
	for (;;) {
		size_t len;
		if ((rc = sock_recv(s, &len, "get link", err)))
			return rc;
		size_t off = 0;
		const struct nlmsghdr *h;
		while ((rc = nl_msg_next(s->rbuf, len, &off, &h)) == 1) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				char msg[160];
				int e = parse_error_msg(h, msg, sizeof msg);
				if (e == 0)
					e = -KC_EPROTO;
				if (e == -ENODEV)
					return kc_err_set(err, e, "link %s not found",
							  name ? name : "(index)");
				return kernel_error(e, msg, "get link", err);
			}
			if (nl_parse_link(h, out))
				return kc_err_set(err, -KC_EPARSE, "netlink get link: malformed");
			return 0;
		}
		if (rc < 0)
			return kc_err_set(err, rc, "netlink get link: malformed answer");
	}
}

int nl_link_get(struct nl_sock *s, const char *name, struct nl_link *out, struct kc_err *err)
{
	return link_get(s, name, 0, out, err);
}

int nl_link_get_index(struct nl_sock *s, int ifindex, struct nl_link *out, struct kc_err *err)
{
	if (ifindex <= 0)
		return kc_err_set(err, -KC_EINVAL, "bad ifindex %d", ifindex);
	return link_get(s, NULL, ifindex, out, err);
}

static int check_name(const char *name, struct kc_err *err)
{
	size_t n = strlen(name);
	if (n == 0 || n >= IFNAMSIZ || strchr(name, '/') || strchr(name, ' ') ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return kc_err_set(err, -KC_EINVAL, "bad interface name '%s'", name);
	return 0;
}

int nl_link_add_bridge(struct nl_sock *s, const char *name, uint32_t mtu, struct kc_err *err)
{
	int rc = check_name(name, err);
	if (rc)
		return rc;
	struct nl_msg m;
	struct ifinfomsg *ifi =
		nl_msg_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	nl_attr_put_str(&m, IFLA_IFNAME, name);
	if (mtu)
		nl_attr_put_u32(&m, IFLA_MTU, mtu);
	nl_attr_nest_start(&m, IFLA_LINKINFO);
	nl_attr_put_str(&m, IFLA_INFO_KIND, "bridge");
	nl_attr_nest_end(&m);
	rc = nl_request(s, &m, "add bridge", err);
	return rc ? kc_err_wrap(err, "%s", name) : 0;
}

int nl_link_add_veth(struct nl_sock *s, const char *name, const char *peer, int peer_nsfd,
		     uint32_t mtu, struct kc_err *err)
{
	int rc = check_name(name, err);
	if (rc || (rc = check_name(peer, err)))
		return rc;
	struct nl_msg m;
	struct ifinfomsg *ifi =
		nl_msg_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	nl_attr_put_str(&m, IFLA_IFNAME, name);
	if (mtu)
		nl_attr_put_u32(&m, IFLA_MTU, mtu);
	nl_attr_nest_start(&m, IFLA_LINKINFO);
	nl_attr_put_str(&m, IFLA_INFO_KIND, "veth");
	nl_attr_nest_start(&m, IFLA_INFO_DATA);
	nl_attr_nest_start(&m, VETH_INFO_PEER);
	struct ifinfomsg *pi = nl_msg_reserve(&m, sizeof *pi);
	if (pi)
		pi->ifi_family = AF_UNSPEC;
	nl_attr_put_str(&m, IFLA_IFNAME, peer);
	if (mtu)
		nl_attr_put_u32(&m, IFLA_MTU, mtu);
	if (peer_nsfd >= 0)
		nl_attr_put_u32(&m, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	nl_attr_nest_end(&m);
	nl_attr_nest_end(&m);
	nl_attr_nest_end(&m);
	rc = nl_request(s, &m, "add veth", err);
	return rc ? kc_err_wrap(err, "%s/%s", name, peer) : 0;
}

/* A RTM_NEWLINK change of an existing link; the caller adds attributes. */
static struct ifinfomsg *link_change(struct nl_msg *m, int ifindex)
{
	struct ifinfomsg *ifi = nl_msg_init(m, RTM_NEWLINK, 0, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return ifi;
}

int nl_link_del(struct nl_sock *s, int ifindex, struct kc_err *err)
{
	struct nl_msg m;
	struct ifinfomsg *ifi = nl_msg_init(&m, RTM_DELLINK, 0, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nl_request(s, &m, "delete link", err);
}

int nl_link_set_up(struct nl_sock *s, int ifindex, bool up, struct kc_err *err)
{
	struct nl_msg m;
	struct ifinfomsg *ifi = link_change(&m, ifindex);
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return nl_request(s, &m, up ? "set link up" : "set link down", err);
}

int nl_link_set_mtu(struct nl_sock *s, int ifindex, uint32_t mtu, struct kc_err *err)
{
	struct nl_msg m;
	link_change(&m, ifindex);
	nl_attr_put_u32(&m, IFLA_MTU, mtu);
	return nl_request(s, &m, "set mtu", err);
}

int nl_link_set_mac(struct nl_sock *s, int ifindex, const uint8_t mac[6], struct kc_err *err)
{
	struct nl_msg m;
	link_change(&m, ifindex);
	nl_attr_put(&m, IFLA_ADDRESS, mac, 6);
	return nl_request(s, &m, "set mac", err);
}

int nl_link_set_master(struct nl_sock *s, int ifindex, int master, struct kc_err *err)
{
	struct nl_msg m;
	link_change(&m, ifindex);
	nl_attr_put_u32(&m, IFLA_MASTER, (uint32_t)master);
	return nl_request(s, &m, "set master", err);
}

int nl_link_set_netns(struct nl_sock *s, int ifindex, int nsfd, struct kc_err *err)
{
	struct nl_msg m;
	link_change(&m, ifindex);
	nl_attr_put_u32(&m, IFLA_NET_NS_FD, (uint32_t)nsfd);
	return nl_request(s, &m, "move link to netns", err);
}

int nl_link_set_hairpin(struct nl_sock *s, int ifindex, bool on, struct kc_err *err)
{
	struct nl_msg m;
	struct ifinfomsg *ifi = nl_msg_init(&m, RTM_SETLINK, 0, sizeof *ifi);
	ifi->ifi_family = AF_BRIDGE;
	ifi->ifi_index = ifindex;
	nl_attr_nest_start(&m, IFLA_PROTINFO);
	nl_attr_put_u8(&m, IFLA_BRPORT_MODE, on ? 1 : 0);
	nl_attr_nest_end(&m);
	return nl_request(s, &m, "set hairpin", err);
}

/* ---- addresses ---------------------------------------------------------------------------- */

static int ip_len_of(const struct net_ip *ip)
{
	return ip->family == AF_INET ? 4 : ip->family == AF_INET6 ? 16 : 0;
}

static int addr_change(struct nl_sock *s, uint16_t type, uint16_t flags, int ifindex,
		       const struct net_ip *ip, unsigned prefix, const char *what,
		       struct kc_err *err)
{
	int n = ip_len_of(ip);
	if (!n || prefix > (unsigned)n * 8)
		return kc_err_set(err, -KC_EINVAL, "netlink %s: bad address", what);
	struct nl_msg m;
	struct ifaddrmsg *ifa = nl_msg_init(&m, type, flags, sizeof *ifa);
	ifa->ifa_family = (uint8_t)ip->family;
	ifa->ifa_prefixlen = (uint8_t)prefix;
	ifa->ifa_index = (uint32_t)ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	nl_attr_put(&m, IFA_LOCAL, ip->bytes, (size_t)n);
	nl_attr_put(&m, IFA_ADDRESS, ip->bytes, (size_t)n);
	if (ip->family == AF_INET && prefix < 31 && type == RTM_NEWADDR) {
		uint8_t brd[4];
		memcpy(brd, ip->bytes, 4);
		for (unsigned b = prefix; b < 32; b++)
			brd[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		nl_attr_put(&m, IFA_BROADCAST, brd, 4);
	}
	int rc = nl_request(s, &m, what, err);
	if (rc) {
		char buf[64];
		kc_err_wrap(err, "%s/%u", net_ip_format(ip, buf, sizeof buf), prefix);
	}
	return rc;
}

int nl_addr_add(struct nl_sock *s, int ifindex, const struct net_ip *ip, unsigned prefix,
		struct kc_err *err)
{
	return addr_change(s, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, ip, prefix,
			   "add address", err);
}

int nl_addr_del(struct nl_sock *s, int ifindex, const struct net_ip *ip, unsigned prefix,
		struct kc_err *err)
{
	return addr_change(s, RTM_DELADDR, 0, ifindex, ip, prefix, "delete address", err);
}

static int addr_cb(const struct nlmsghdr *h, void *arg)
{
	struct list_acc *a = arg;
	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	if (a->n >= NL_LIST_MAX)
		return -KC_ELIMIT;
	struct nl_addr x;
	if (nl_parse_addr(h, &x) || (a->family != AF_UNSPEC && x.ip.family != a->family))
		return 0;
	*(struct nl_addr *)acc_push(a) = x;
	return 0;
}

int nl_addr_list(struct nl_sock *s, int family, struct nl_addr **out, size_t *n, struct kc_err *err)
{
	struct nl_msg m;
	struct ifaddrmsg *ifa = nl_msg_init(&m, RTM_GETADDR, 0, sizeof *ifa);
	ifa->ifa_family = (uint8_t)family;
	struct list_acc a = {.elem = sizeof(struct nl_addr), .family = family};
	int rc = dump(s, &m, "list addresses", addr_cb, &a, err);
	if (rc) {
		free(a.items);
		a.items = NULL;
		a.n = 0;
	}
	*out = a.items;
	*n = a.n;
	return rc;
}

/* ---- routes ------------------------------------------------------------------------------- */

int nl_route_change(struct nl_sock *s, enum nl_route_op op, const struct nl_route *r,
		    struct kc_err *err)
{
	int fam = r->dst.ip.family;
	int n = ip_len_of(&r->dst.ip);
	if (!n || r->dst.prefix > (unsigned)n * 8 || (r->gw.family && r->gw.family != fam))
		return kc_err_set(err, -KC_EINVAL, "netlink route: bad destination or gateway");
	struct nl_msg m;
	uint16_t type = op == NL_ROUTE_DEL ? RTM_DELROUTE : RTM_NEWROUTE;
	uint16_t flags = op == NL_ROUTE_ADD	  ? NLM_F_CREATE | NLM_F_EXCL
			 : op == NL_ROUTE_REPLACE ? NLM_F_CREATE | NLM_F_REPLACE
						  : 0;
	struct rtmsg *rt = nl_msg_init(&m, type, flags, sizeof *rt);
	rt->rtm_family = (uint8_t)fam;
	rt->rtm_dst_len = (uint8_t)r->dst.prefix;
	rt->rtm_table = r->table ? r->table : RT_TABLE_MAIN;
	rt->rtm_protocol =
		op == NL_ROUTE_DEL ? r->protocol : (r->protocol ? r->protocol : RTPROT_BOOT);
	rt->rtm_type = r->type ? r->type : RTN_UNICAST;
	if (op == NL_ROUTE_DEL)
		rt->rtm_scope = RT_SCOPE_NOWHERE; /* any scope */
	else if (r->scope)
		rt->rtm_scope = r->scope;
	else
		rt->rtm_scope = r->gw.family || fam == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (r->onlink)
		rt->rtm_flags |= RTNH_F_ONLINK;
	if (r->dst.prefix)
		nl_attr_put(&m, RTA_DST, r->dst.ip.bytes, (size_t)n);
	if (r->gw.family)
		nl_attr_put(&m, RTA_GATEWAY, r->gw.bytes, (size_t)n);
	if (r->oif)
		nl_attr_put_u32(&m, RTA_OIF, (uint32_t)r->oif);
	if (r->priority)
		nl_attr_put_u32(&m, RTA_PRIORITY, r->priority);
	if (r->mtu && op != NL_ROUTE_DEL) {
		nl_attr_nest_start(&m, RTA_METRICS);
		nl_attr_put_u32(&m, RTAX_MTU, r->mtu);
		nl_attr_nest_end(&m);
	}
	const char *what = op == NL_ROUTE_ADD	    ? "add route"
			   : op == NL_ROUTE_REPLACE ? "replace route"
						    : "delete route";
	int rc = nl_request(s, &m, what, err);
	if (rc) {
		char d[64], g[64];
		kc_err_wrap(err, "%s via %s", net_cidr_format(&r->dst, d, sizeof d),
			    r->gw.family ? net_ip_format(&r->gw, g, sizeof g) : "-");
	}
	return rc;
}

static int route_cb(const struct nlmsghdr *h, void *arg)
{
	struct list_acc *a = arg;
	if (h->nlmsg_type != RTM_NEWROUTE)
		return 0;
	if (a->n >= NL_LIST_MAX)
		return -KC_ELIMIT;
	struct nl_route r;
	if (nl_parse_route(h, &r) || r.table != RT_TABLE_MAIN ||
	    (a->family != AF_UNSPEC && r.dst.ip.family != a->family))
		return 0;
	*(struct nl_route *)acc_push(a) = r;
	return 0;
}

int nl_route_list(struct nl_sock *s, int family, struct nl_route **out, size_t *n,
		  struct kc_err *err)
{
	struct nl_msg m;
	struct rtmsg *rt = nl_msg_init(&m, RTM_GETROUTE, 0, sizeof *rt);
	rt->rtm_family = (uint8_t)family;
	struct list_acc a = {.elem = sizeof(struct nl_route), .family = family};
	int rc = dump(s, &m, "list routes", route_cb, &a, err);
	if (rc) {
		free(a.items);
		a.items = NULL;
		a.n = 0;
	}
	*out = a.items;
	*n = a.n;
	return rc;
}

/* ---- sysctls ------------------------------------------------------------------------------ */

static int sysctl_path(const char *key, char *path, size_t cap, struct kc_err *err)
{
	size_t n = strlen(key);
	if (n == 0 || n > 200 || strstr(key, "..") || key[0] == '/' || key[0] == '.')
		return kc_err_set(err, -KC_EINVAL, "bad sysctl key '%s'", key);
	bool slashes = strchr(key, '/') != NULL;
	int w = snprintf(path, cap, "/proc/sys/%s", key);
	if (w < 0 || (size_t)w >= cap)
		return kc_err_set(err, -KC_EINVAL, "bad sysctl key '%s'", key);
	if (!slashes)
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
	return 0;
}

int nl_sysctl_write(const char *key, const char *value, struct kc_err *err)
{
	char path[256];
	int rc = sysctl_path(key, path, sizeof path, err);
	if (rc)
		return rc;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_err_set(err, -errno, "sysctl %s: %s", key, strerror(errno));
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int e = n < 0 ? errno : (size_t)n != len ? EIO : 0;
	close(fd);
	if (e)
		return kc_err_set(err, -e, "sysctl %s=%s: %s", key, value, strerror(e));
	return 0;
}

int nl_sysctl_read(const char *key, char *buf, size_t cap, struct kc_err *err)
{
	char path[256];
	int rc = sysctl_path(key, path, sizeof path, err);
	if (rc)
		return rc;
	if (cap < 2)
		return kc_err_set(err, -KC_EINVAL, "sysctl %s: buffer too small", key);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_err_set(err, -errno, "sysctl %s: %s", key, strerror(errno));
	ssize_t n = read(fd, buf, cap - 1);
	int e = n < 0 ? errno : 0;
	close(fd);
	if (e)
		return kc_err_set(err, -e, "sysctl %s: %s", key, strerror(e));
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}
