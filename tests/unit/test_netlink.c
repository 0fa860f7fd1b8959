/* Unit tests for net/netlink: the bounded builder, the attribute parser and the object decoders
 * on hand-made messages; with root, live requests inside a private network namespace made by a
 * helper thread (the host's interfaces are never touched). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "net/netlink.h"

static const struct nlmsghdr *finish(struct nl_msg *m)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(void *)m->buf;
	h->nlmsg_len = (uint32_t)m->len;
	return h;
}

static void test_builder_nesting(void **state)
{
	struct nl_msg m;
	struct ifinfomsg *ifi = nl_msg_init(&m, RTM_NEWLINK, NLM_F_CREATE, sizeof *ifi);
	ifi->ifi_index = 7;
	nl_attr_put_str(&m, IFLA_IFNAME, "kcv0123");
	nl_attr_put_u32(&m, IFLA_MTU, 1450);
	nl_attr_nest_start(&m, IFLA_LINKINFO);
	nl_attr_put_str(&m, IFLA_INFO_KIND, "veth");
	nl_attr_nest_start(&m, IFLA_INFO_DATA);
	nl_attr_nest_start(&m, VETH_INFO_PEER);
	struct ifinfomsg *pi = nl_msg_reserve(&m, sizeof *pi);
	assert_non_null(pi);
	nl_attr_put_str(&m, IFLA_IFNAME, "eth0");
	nl_attr_nest_end(&m);
	nl_attr_nest_end(&m);
	nl_attr_nest_end(&m);
	assert_false(m.overflow);
	assert_int_equal(m.depth, 0);
	assert_int_equal(m.len % 4, 0);

	const struct nlmsghdr *h = finish(&m);
	struct nl_link l;
	assert_int_equal(nl_parse_link(h, &l), 0);
	assert_int_equal(l.ifindex, 7);
	assert_string_equal(l.name, "kcv0123");
	assert_string_equal(l.kind, "veth");
	assert_int_equal(l.mtu, 1450);

	/* walk down to the peer's name by hand */
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg));
	struct nl_attr tb[IFLA_MAX + 1], li[IFLA_INFO_MAX + 1], vd[VETH_INFO_MAX + 1],
		pt[IFLA_MAX + 1];
	assert_int_equal(nl_attr_parse(m.buf + off, m.len - off, tb, IFLA_MAX), 0);
	assert_int_equal(
		nl_attr_parse(tb[IFLA_LINKINFO].data, tb[IFLA_LINKINFO].len, li, IFLA_INFO_MAX), 0);
	assert_int_equal(
		nl_attr_parse(li[IFLA_INFO_DATA].data, li[IFLA_INFO_DATA].len, vd, VETH_INFO_MAX),
		0);
	assert_true(vd[VETH_INFO_PEER].present);
	assert_true(vd[VETH_INFO_PEER].len > sizeof(struct ifinfomsg));
	assert_int_equal(nl_attr_parse(vd[VETH_INFO_PEER].data + sizeof(struct ifinfomsg),
				       vd[VETH_INFO_PEER].len - sizeof(struct ifinfomsg), pt,
				       IFLA_MAX),
			 0);
	char name[16];
	assert_int_equal(nl_attr_str(&pt[IFLA_IFNAME], name, sizeof name), 0);
	assert_string_equal(name, "eth0");
}

static void test_builder_overflow(void **state)
{
	struct nl_msg m;
	nl_msg_init(&m, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	static uint8_t big[1000];
	for (int i = 0; i < 10; i++)
		nl_attr_put(&m, IFLA_IFALIAS, big, sizeof big);
	assert_true(m.overflow);
	assert_true(m.len <= NL_MSG_MAX);
	/* unbalanced nests are errors too */
	nl_msg_init(&m, RTM_NEWLINK, 0, 0);
	nl_attr_nest_end(&m);
	assert_true(m.overflow);
	nl_msg_init(&m, RTM_NEWLINK, 0, 0);
	for (int i = 0; i < NL_NEST_MAX + 1; i++)
		nl_attr_nest_start(&m, 1);
	assert_true(m.overflow);
	/* an attribute too long for its 16-bit length */
	nl_msg_init(&m, RTM_NEWLINK, 0, 0);
	nl_attr_put(&m, 1, big, 70000);
	assert_true(m.overflow);
}

static void test_attr_parse_bounds(void **state)
{
	struct nl_attr tb[5];
	/* len below the header */
	uint8_t bad1[8] = {2, 0, 1, 0, 0, 0, 0, 0};
	assert_int_equal(nl_attr_parse(bad1, sizeof bad1, tb, 4), -KC_EPARSE);
	/* len past the buffer */
	uint8_t bad2[8] = {12, 0, 1, 0, 0, 0, 0, 0};
	assert_int_equal(nl_attr_parse(bad2, sizeof bad2, tb, 4), -KC_EPARSE);
	/* unknown types are ignored, trailing bytes shorter than a header too */
	uint8_t ok[11] = {8, 0, 9, 0, 1, 2, 3, 4, 5, 0, 0};
	assert_int_equal(nl_attr_parse(ok, sizeof ok, tb, 4), 0);
	for (int i = 0; i <= 4; i++)
		assert_false(tb[i].present);
	/* the last attribute may lack padding; the nested flag is masked */
	uint8_t last[5] = {5, 0, 3, 0x80, 'x'};
	assert_int_equal(nl_attr_parse(last, sizeof last, tb, 4), 0);
	assert_true(tb[3].present);
	assert_int_equal(tb[3].len, 1);
	uint32_t v;
	assert_int_equal(nl_attr_u32(&tb[3], &v), -KC_EPARSE);
	uint8_t u8;
	assert_int_equal(nl_attr_u8(&tb[3], &u8), 0);
	assert_int_equal(u8, 'x');
	char s[4];
	assert_int_equal(nl_attr_str(&tb[3], s, sizeof s), -KC_EPARSE); /* no NUL */
	uint8_t str[12] = {12, 0, 1, 0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 0};
	assert_int_equal(nl_attr_parse(str, sizeof str, tb, 4), 0);
	assert_int_equal(nl_attr_str(&tb[1], s, sizeof s), -KC_ELIMIT);
}

static void test_msg_next(void **state)
{
	uint8_t buf[64] __attribute__((aligned(4))) = {0};
	struct nlmsghdr h = {.nlmsg_len = 20, .nlmsg_type = NLMSG_DONE};
	memcpy(buf, &h, sizeof h);
	h.nlmsg_len = 16;
	memcpy(buf + 20, &h, sizeof h);
	size_t off = 0;
	const struct nlmsghdr *p;
	assert_int_equal(nl_msg_next(buf, 36, &off, &p), 1);
	assert_int_equal(off, 20);
	assert_int_equal(nl_msg_next(buf, 36, &off, &p), 1);
	assert_int_equal(nl_msg_next(buf, 36, &off, &p), 0);
	off = 0;
	assert_int_equal(nl_msg_next(buf, 30, &off, &p), 1);
	assert_int_equal(nl_msg_next(buf, 30, &off, &p), -KC_EPARSE);
	h.nlmsg_len = 4; /* below the header */
	memcpy(buf, &h, sizeof h);
	off = 0;
	assert_int_equal(nl_msg_next(buf, 36, &off, &p), -KC_EPARSE);
}

static void test_route_roundtrip(void **state)
{
	struct nl_msg m;
	struct rtmsg *rt = nl_msg_init(&m, RTM_NEWROUTE, 0, sizeof *rt);
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = 24;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = NL_RTPROT_KC;
	rt->rtm_flags = RTNH_F_ONLINK;
	uint8_t dst[4] = {10, 42, 2, 0}, gw[4] = {10, 99, 0, 3};
	nl_attr_put(&m, RTA_DST, dst, 4);
	nl_attr_put(&m, RTA_GATEWAY, gw, 4);
	nl_attr_put_u32(&m, RTA_OIF, 3);
	nl_attr_nest_start(&m, RTA_METRICS);
	nl_attr_put_u32(&m, RTAX_MTU, 1400);
	nl_attr_nest_end(&m);
	struct nl_route r;
	assert_int_equal(nl_parse_route(finish(&m), &r), 0);
	char b[64];
	assert_string_equal(net_cidr_format(&r.dst, b, sizeof b), "10.42.2.0/24");
	assert_string_equal(net_ip_format(&r.gw, b, sizeof b), "10.99.0.3");
	assert_int_equal(r.oif, 3);
	assert_int_equal(r.protocol, NL_RTPROT_KC);
	assert_int_equal(r.mtu, 1400);
	assert_true(r.onlink);
	assert_int_equal(r.table, RT_TABLE_MAIN);

	/* a gateway of the wrong size, a prefix too long */
	rt = nl_msg_init(&m, RTM_NEWROUTE, 0, sizeof *rt);
	rt->rtm_family = AF_INET;
	nl_attr_put(&m, RTA_GATEWAY, gw, 3);
	assert_int_equal(nl_parse_route(finish(&m), &r), -KC_EPARSE);
	rt = nl_msg_init(&m, RTM_NEWROUTE, 0, sizeof *rt);
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = 33;
	assert_int_equal(nl_parse_route(finish(&m), &r), -KC_EPARSE);
	/* a header cut short */
	nl_msg_init(&m, RTM_NEWROUTE, 0, 0);
	assert_int_equal(nl_parse_route(finish(&m), &r), -KC_EPARSE);
}

static void test_addr_and_error(void **state)
{
	struct nl_msg m;
	struct ifaddrmsg *ifa = nl_msg_init(&m, RTM_NEWADDR, 0, sizeof *ifa);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 24;
	ifa->ifa_index = 4;
	uint8_t local[4] = {10, 42, 1, 1}, peer[4] = {1, 2, 3, 4};
	nl_attr_put(&m, IFA_ADDRESS, peer, 4);
	nl_attr_put(&m, IFA_LOCAL, local, 4);
	struct nl_addr a;
	assert_int_equal(nl_parse_addr(finish(&m), &a), 0);
	char b[64];
	assert_string_equal(net_ip_format(&a.ip, b, sizeof b), "10.42.1.1");
	assert_int_equal(a.prefix, 24);
	assert_int_equal(a.ifindex, 4);

	/* NLMSG_ERROR with an extended-ACK message (capped) */
	struct nlmsgerr *e = nl_msg_init(&m, NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, sizeof *e);
	e->error = -EEXIST;
	e->msg.nlmsg_len = 40;
	nl_attr_put_str(&m, NLMSGERR_ATTR_MSG, "File exists");
	assert_int_equal(nl_parse_error(finish(&m)), -EEXIST);
	e = nl_msg_init(&m, NLMSG_ERROR, 0, sizeof *e);
	e->error = 5; /* positive: nonsense */
	assert_int_equal(nl_parse_error(finish(&m)), -KC_EPARSE);
	nl_msg_init(&m, NLMSG_ERROR, 0, 0);
	assert_int_equal(nl_parse_error(finish(&m)), -KC_EPARSE);
}

static void test_sysctl_keys(void **state)
{
	struct kc_err err = {0};
	char buf[32];
	assert_int_equal(nl_sysctl_read("net/../../etc/passwd", buf, sizeof buf, &err), -KC_EINVAL);
	assert_int_equal(nl_sysctl_write("/etc/x", "1", &err), -KC_EINVAL);
	assert_int_equal(nl_sysctl_read("kernel.ostype", buf, sizeof buf, &err), 0);
	assert_string_equal(buf, "Linux");
}

/* ---- live, in a private namespace --------------------------------------------------------- */

static bool have_root(void)
{
	return geteuid() == 0;
}

static int live_fn(void *arg, struct kc_err *err)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	struct nl_sock *s;
	assert_int_equal(nl_open(&s, err), 0);
	struct nl_link lo;
	assert_int_equal(nl_link_get(s, "lo", &lo, err), 0);
	assert_int_equal(nl_link_set_up(s, lo.ifindex, true, err), 0);
	assert_int_equal(nl_link_get(s, "nope0", &lo, err), -ENODEV);

	assert_int_equal(nl_link_add_bridge(s, "tbr0", 1400, err), 0);
	assert_int_equal(nl_link_add_bridge(s, "tbr0", 0, err), -EEXIST);
	assert_non_null(strstr(err->msg, "tbr0"));
	struct nl_link br;
	assert_int_equal(nl_link_get(s, "tbr0", &br, err), 0);
	assert_string_equal(br.kind, "bridge");
	assert_int_equal(br.mtu, 1400);

	assert_int_equal(nl_link_add_veth(s, "tva", "tvb", -1, 1300, err), 0);
	struct nl_link va, vb;
	assert_int_equal(nl_link_get(s, "tva", &va, err), 0);
	assert_int_equal(nl_link_get(s, "tvb", &vb, err), 0);
	assert_string_equal(va.kind, "veth");
	assert_int_equal(va.link, vb.ifindex);
	assert_int_equal(nl_link_set_master(s, va.ifindex, br.ifindex, err), 0);
	assert_int_equal(nl_link_set_hairpin(s, va.ifindex, true, err), 0);
	uint8_t mac[6] = {0x02, 0x42, 0, 0, 0, 9};
	assert_int_equal(nl_link_set_mac(s, vb.ifindex, mac, err), 0);
	assert_int_equal(nl_link_set_mtu(s, vb.ifindex, 1280, err), 0);
	assert_int_equal(nl_link_set_up(s, va.ifindex, true, err), 0);
	assert_int_equal(nl_link_set_up(s, br.ifindex, true, err), 0);
	assert_int_equal(nl_link_get_index(s, va.ifindex, &va, err), 0);
	assert_int_equal(va.master, br.ifindex);
	assert_int_equal(nl_link_get_index(s, vb.ifindex, &vb, err), 0);
	assert_memory_equal(vb.mac, mac, 6);
	assert_int_equal(vb.mtu, 1280);

	struct net_ip ip, gw;
	net_ip_parse("10.77.0.1", &ip);
	assert_int_equal(nl_addr_add(s, br.ifindex, &ip, 24, err), 0);
	assert_int_equal(nl_addr_add(s, br.ifindex, &ip, 24, err), -EEXIST);
	struct net_ip ip6;
	net_ip_parse("fd00:77::1", &ip6);
	assert_int_equal(nl_addr_add(s, br.ifindex, &ip6, 64, err), 0);
	struct nl_addr *addrs;
	size_t n;
	assert_int_equal(nl_addr_list(s, AF_INET, &addrs, &n, err), 0);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		found |= addrs[i].ifindex == br.ifindex && net_ip_equal(&addrs[i].ip, &ip);
	free(addrs);
	assert_true(found);

	/* routes: add via a gateway with kc's protocol, list, replace, delete */
	struct nl_route r = {.protocol = NL_RTPROT_KC};
	net_cidr_parse("10.88.0.0/24", &r.dst, NULL);
	net_ip_parse("10.77.0.9", &gw);
	r.gw = gw;
	assert_int_equal(nl_route_change(s, NL_ROUTE_ADD, &r, err), 0);
	assert_int_equal(nl_route_change(s, NL_ROUTE_ADD, &r, err), -EEXIST);
	net_ip_parse("10.77.0.10", &r.gw);
	assert_int_equal(nl_route_change(s, NL_ROUTE_REPLACE, &r, err), 0);
	struct net_cidr def;
	net_cidr_parse("0.0.0.0/0", &def, NULL);
	struct nl_route d = {.dst = def, .gw = gw, .onlink = true, .oif = br.ifindex};
	assert_int_equal(nl_route_change(s, NL_ROUTE_REPLACE, &d, err), 0);
	struct nl_route *routes;
	assert_int_equal(nl_route_list(s, AF_INET, &routes, &n, err), 0);
	int kc = 0, defaults = 0;
	for (size_t i = 0; i < n; i++) {
		if (routes[i].protocol == NL_RTPROT_KC) {
			kc++;
			char b[64];
			assert_string_equal(net_ip_format(&routes[i].gw, b, sizeof b),
					    "10.77.0.10");
		}
		if (routes[i].dst.prefix == 0) {
			defaults++;
			assert_true(routes[i].onlink);
		}
	}
	free(routes);
	assert_int_equal(kc, 1);
	assert_int_equal(defaults, 1);
	struct nl_route del = {.dst = r.dst, .protocol = NL_RTPROT_KC};
	assert_int_equal(nl_route_change(s, NL_ROUTE_DEL, &del, err), 0);
	assert_int_equal(nl_route_change(s, NL_ROUTE_DEL, &del, err), -ESRCH);

	/* sysctls of this namespace */
	assert_int_equal(nl_sysctl_write("net.ipv4.ip_forward", "1", err), 0);
	char v[8];
	assert_int_equal(nl_sysctl_read("net.ipv4.ip_forward", v, sizeof v, err), 0);
	assert_string_equal(v, "1");

	struct nl_link *links;
	assert_int_equal(nl_link_list(s, &links, &n, err), 0);
	assert_int_equal(n, 4); /* lo, tbr0, tva, tvb */
	free(links);
	assert_int_equal(nl_addr_del(s, br.ifindex, &ip, 24, err), 0);
	assert_int_equal(nl_link_del(s, va.ifindex, err), 0);
	assert_int_equal(nl_link_get(s, "tvb", &vb, err), -ENODEV); /* the peer went too */
	assert_int_equal(nl_link_del(s, va.ifindex, err), -ENODEV);
	nl_close(s);
	return 0;
}

static int peer_fn(void *arg, struct kc_err *err)
{
	/* a second private namespace whose fd the parent uses as the veth peer's home */
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	int *fd = arg;
	*fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

static int cross_fn(void *arg, struct kc_err *err)
{
	int peer_ns = *(int *)arg;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	struct nl_sock *s, *p;
	assert_int_equal(nl_open(&s, err), 0);
	assert_int_equal(nl_link_add_veth(s, "host0", "eth0", peer_ns, 0, err), 0);
	assert_int_equal(nl_open_in_netns_fd(peer_ns, &p, err), 0);
	struct nl_link l;
	assert_int_equal(nl_link_get(p, "eth0", &l, err), 0);
	assert_int_equal(nl_link_get(s, "eth0", &l, err), -ENODEV);
	/* move it back, then delete it */
	assert_int_equal(nl_link_get(p, "eth0", &l, err), 0);
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(self >= 0);
	assert_int_equal(nl_link_set_netns(p, l.ifindex, self, err), 0);
	close(self);
	assert_int_equal(nl_link_get(s, "eth0", &l, err), 0);
	assert_int_equal(nl_link_del(s, l.ifindex, err), 0);
	nl_close(p);
	nl_close(s);
	return 0;
}

static void test_live(void **state)
{
	if (!have_root())
		skip();
	struct kc_err err = {0};
	int rc = nl_run_in_netns(-1, live_fn, NULL, &err);
	if (rc == -EPERM || rc == -ENOSYS)
		skip();
	assert_int_equal(rc, 0);
	int peer = -1;
	assert_int_equal(nl_run_in_netns(-1, peer_fn, &peer, &err), 0);
	assert_int_equal(nl_run_in_netns(-1, cross_fn, &peer, &err), 0);
	close(peer);
	/* errors come back through the helper */
	assert_true(nl_open_in_netns("/nonexistent/ns", &(struct nl_sock *){NULL}, &err) < 0);
	assert_non_null(strstr(err.msg, "/nonexistent/ns"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builder_nesting),	  cmocka_unit_test(test_builder_overflow),
		cmocka_unit_test(test_attr_parse_bounds), cmocka_unit_test(test_msg_next),
		cmocka_unit_test(test_route_roundtrip),	  cmocka_unit_test(test_addr_and_error),
		cmocka_unit_test(test_sysctl_keys),	  cmocka_unit_test(test_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
