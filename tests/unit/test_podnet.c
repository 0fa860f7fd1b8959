/* Unit tests for runtime/podnet (and runtime/netns): the podCIDR allocator, file IPAM
 * (allocation, idempotence, exhaustion, release, reload, crash leftovers), and with root a whole
 * node inside a private network namespace: pods, routes, hostPort rules through a fake iptables,
 * teardown and crash clean-up. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "net/netlink.h"
#include "runtime/netns.h"
#include "runtime/podnet.h"

static struct net_cidr cidr(const char *s)
{
	struct net_cidr c;
	assert_int_equal(net_cidr_parse(s, &c, NULL), 0);
	return c;
}

static const char *fmt_cidr(const struct net_cidr *c)
{
	static char b[64];
	return net_cidr_format(c, b, sizeof b);
}

static const char *fmt_ip(const struct net_ip *ip)
{
	static char b[64];
	return net_ip_format(ip, b, sizeof b);
}

static void test_cidr_alloc(void **state)
{
	struct net_cidr cl = cidr("10.42.0.0/16"), out;
	struct kc_err err = {0};
	assert_int_equal(rt_podnet_cidr_alloc(&cl, 24, NULL, 0, &out, &err), 0);
	assert_string_equal(fmt_cidr(&out), "10.42.0.0/24");
	struct net_cidr used[3] = {cidr("10.42.0.0/24"), cidr("10.42.1.0/24"), cidr("fd00::/64")};
	assert_int_equal(rt_podnet_cidr_alloc(&cl, 24, used, 3, &out, &err), 0);
	assert_string_equal(fmt_cidr(&out), "10.42.2.0/24");
	/* a hole is reused; a wider used range blocks every subnet inside it */
	used[0] = cidr("10.42.0.0/23");
	used[1] = cidr("10.42.3.0/24");
	assert_int_equal(rt_podnet_cidr_alloc(&cl, 24, used, 2, &out, &err), 0);
	assert_string_equal(fmt_cidr(&out), "10.42.2.0/24");
	/* exhaustion */
	struct net_cidr small = cidr("10.42.0.0/23");
	used[0] = cidr("10.42.0.0/24");
	used[1] = cidr("10.42.1.0/24");
	assert_int_equal(rt_podnet_cidr_alloc(&small, 24, used, 2, &out, &err), -KC_ELIMIT);
	assert_non_null(strstr(err.msg, "10.42.0.0/23"));
	/* a mask that does not fit */
	assert_int_equal(rt_podnet_cidr_alloc(&cl, 8, NULL, 0, &out, &err), -KC_EINVAL);
	assert_int_equal(rt_podnet_cidr_alloc(&cl, 33, NULL, 0, &out, &err), -KC_EINVAL);
	/* node /32 (/24 cluster): 256 single addresses */
	struct net_cidr c24 = cidr("10.1.2.0/24");
	assert_int_equal(rt_podnet_cidr_alloc(&c24, 32, NULL, 0, &out, &err), 0);
	assert_string_equal(fmt_cidr(&out), "10.1.2.0/32");
	/* the 256th /24 of a /16 */
	struct net_cidr many[255];
	for (int i = 0; i < 255; i++) {
		char b[32];
		snprintf(b, sizeof b, "10.42.%d.0/24", i);
		many[i] = cidr(b);
	}
	assert_int_equal(rt_podnet_cidr_alloc(&cl, 24, many, 255, &out, &err), 0);
	assert_string_equal(fmt_cidr(&out), "10.42.255.0/24");
	/* IPv6: /64 out of a /56, and across a byte boundary at a /60 */
	struct net_cidr v6 = cidr("fd00:42::/56");
	struct net_cidr u6[2] = {cidr("fd00:42::/64"), cidr("fd00:42:0:1::/64")};
	assert_int_equal(rt_podnet_cidr_alloc(&v6, 64, u6, 2, &out, &err), 0);
	assert_string_equal(fmt_cidr(&out), "fd00:42:0:2::/64");
	struct net_cidr v60 = cidr("fd00:42::/52");
	u6[0] = cidr("fd00:42::/60");
	assert_int_equal(rt_podnet_cidr_alloc(&v60, 60, u6, 1, &out, &err), 0);
	assert_string_equal(fmt_cidr(&out), "fd00:42:0:10::/60");
}

static char *mkdtemp_dir(void)
{
	char *d = xstrdup("/tmp/kc-podnet-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_ipam(void **state)
{
	char *dir = mkdtemp_dir();
	struct net_cidr r = cidr("10.42.1.0/29"); /* .2 .. .6 usable: 5 addresses */
	struct rt_ipam *a;
	struct kc_err err = {0};
	assert_int_equal(rt_ipam_open(dir, &r, &a, &err), 0);
	struct net_ip ip, again;
	assert_int_equal(rt_ipam_alloc(a, "pod-a", &ip, &err), 0);
	assert_string_equal(fmt_ip(&ip), "10.42.1.2");
	assert_int_equal(rt_ipam_alloc(a, "pod-a", &again, &err), 0); /* idempotent */
	assert_true(net_ip_equal(&ip, &again));
	assert_int_equal(rt_ipam_alloc(a, "pod-b", &ip, &err), 0);
	assert_string_equal(fmt_ip(&ip), "10.42.1.3");
	assert_int_equal(rt_ipam_alloc(a, "bad/owner", &ip, &err), -KC_EINVAL);
	/* a second process (here: handle) is refused while the first holds the lock */
	struct rt_ipam *b;
	assert_int_equal(rt_ipam_open(dir, &r, &b, &err), -KC_EAGAIN);
	/* the file holds the owner */
	char *p = xasprintf("%s/10.42.1.0-29/10.42.1.2", dir);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	char line[64] = "";
	assert_non_null(fgets(line, sizeof line, f));
	fclose(f);
	free(p);
	assert_string_equal(line, "pod-a\n");
	/* exhaustion */
	assert_int_equal(rt_ipam_alloc(a, "pod-c", &ip, &err), 0);
	assert_int_equal(rt_ipam_alloc(a, "pod-d", &ip, &err), 0);
	assert_int_equal(rt_ipam_alloc(a, "pod-e", &ip, &err), 0);
	assert_string_equal(fmt_ip(&ip), "10.42.1.6");
	assert_int_equal(rt_ipam_alloc(a, "pod-f", &ip, &err), -KC_ELIMIT);
	assert_int_equal(rt_ipam_count(a), 5);
	/* release, then round robin continues after the last one handed out */
	assert_int_equal(rt_ipam_release(a, "pod-b", &err), 0);
	assert_int_equal(rt_ipam_release(a, "pod-b", &err), 0);
	assert_int_equal(rt_ipam_lookup(a, "pod-b", &ip), -KC_ENOTFOUND);
	assert_int_equal(rt_ipam_alloc(a, "pod-f", &ip, &err), 0);
	assert_string_equal(fmt_ip(&ip), "10.42.1.3");
	rt_ipam_close(a);

	/* crash leftovers: a half-written temp file, a file with garbage, a stranger's file */
	char *tmp = xasprintf("%s/10.42.1.0-29/.tmp-10.42.1.4", dir);
	int fd = open(tmp, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	char *junk = xasprintf("%s/10.42.1.0-29/10.42.1.4", dir);
	f = fopen(junk, "w");
	assert_non_null(f);
	fputs("not an/owner\n", f);
	fclose(f);
	char *outside = xasprintf("%s/10.42.1.0-29/10.9.9.9", dir);
	f = fopen(outside, "w");
	fputs("x\n", f);
	fclose(f);

	assert_int_equal(rt_ipam_open(dir, &r, &a, &err), 0);
	assert_int_equal(access(tmp, F_OK), -1); /* temp files are swept */
	assert_int_equal(rt_ipam_count(a), 5);
	assert_int_equal(rt_ipam_lookup(a, "pod-f", &ip), 0);
	assert_string_equal(fmt_ip(&ip), "10.42.1.3");
	assert_int_equal(rt_ipam_lookup(a, "pod-c", &ip),
			 -KC_ENOTFOUND); /* its file was clobbered */
	rt_ipam_close(a);
	free(tmp);
	free(junk);
	free(outside);

	/* ranges IPAM will not serve */
	struct net_cidr big = cidr("10.0.0.0/8"), tiny = cidr("10.0.0.0/31"),
			v6 = cidr("fd00::/64");
	assert_int_equal(rt_ipam_open(dir, &big, &a, &err), -KC_EINVAL);
	assert_int_equal(rt_ipam_open(dir, &tiny, &a, &err), -KC_EINVAL);
	assert_int_equal(rt_ipam_open(dir, &v6, &a, &err), -KC_EINVAL);
	rm_rf(dir);
	free(dir);
}

static void test_veth_name(void **state)
{
	char a[16], b[16];
	rt_podnet_veth_name("0b7c9c2e-1a2b-4c3d-8e9f-001122334455", a, sizeof a);
	rt_podnet_veth_name("0b7c9c2e-1a2b-4c3d-8e9f-001122334456", b, sizeof b);
	assert_int_equal(strlen(a), 15);
	assert_true(strncmp(a, "kcv", 3) == 0);
	assert_string_not_equal(a, b);
}

/* ---- live node in a private namespace ----------------------------------------------------- */

struct fake_fw {
	int calls;
	char log[16384];
	char rules[8192]; /* "-A KC-HOSTPORTS ..." lines as iptables -S would print them */
};

static int fake_exec(void *ctx, const char *const *argv, struct kc_str *out, struct kc_err *err)
{
	struct fake_fw *fw = ctx;
	fw->calls++;
	char line[1024] = "";
	for (size_t i = 0; argv[i]; i++) {
		strncat(line, argv[i], sizeof line - strlen(line) - 2);
		strcat(line, " ");
	}
	strncat(fw->log, line, sizeof fw->log - strlen(fw->log) - 2);
	strcat(fw->log, "\n");
	/* argv: iptables -w -t nat -X CHAIN ... */
	const char *op = argv[2][0] == '-' && argv[2][1] == 't' ? argv[4] : argv[2];
	if (strcmp(op, "-C") == 0)
		return kc_err_set(err, -KC_EIO, "no such rule");
	if (strcmp(op, "-S") == 0) {
		kc_str_adds(out, fw->rules);
		return 0;
	}
	if ((strcmp(op, "-A") == 0 || strcmp(op, "-D") == 0) &&
	    strcmp(argv[5], "KC-HOSTPORTS") == 0) {
		char rule[1024] = "-A";
		for (size_t i = 5; argv[i]; i++) {
			strcat(rule, " ");
			strncat(rule, argv[i], sizeof rule - strlen(rule) - 2);
		}
		if (op[1] == 'A') {
			strncat(fw->rules, rule, sizeof fw->rules - strlen(fw->rules) - 2);
			strcat(fw->rules, "\n");
		} else {
			char *at = strstr(fw->rules, rule);
			if (!at)
				return kc_err_set(err, -KC_EIO, "rule not found");
			size_t rl = strlen(rule) + 1;
			memmove(at, at + rl, strlen(at + rl) + 1);
		}
	}
	return 0;
}

struct live {
	char *dir;
	struct fake_fw fw;
};

static int live_fn(void *arg, struct kc_err *err)
{
	struct live *lv = arg;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	struct rt_podnet_config cfg = {
		.data_dir = lv->dir,
		.pod_cidr = cidr("10.42.1.0/24"),
		.cluster_cidr = cidr("10.42.0.0/16"),
		.firewall = true,
		.exec = fake_exec,
		.exec_ctx = &lv->fw,
	};
	struct rt_podnet *pn;
	assert_int_equal(rt_podnet_open(&cfg, &pn, err), 0);
	assert_non_null(
		strstr(lv->fw.log, "-A POSTROUTING -m comment --comment kc -j KC-POSTROUTING"));
	assert_non_null(strstr(lv->fw.log, "-s 10.42.1.0/24 ! -d 10.42.0.0/16"));

	struct nl_sock *nl;
	assert_int_equal(nl_open(&nl, err), 0);
	struct nl_link br;
	assert_int_equal(nl_link_get(nl, "kc0", &br, err), 0);
	/* a fixed bridge MAC, so pods coming and going never change the gateway's */
	const uint8_t mac[6] = {0x02, 0x6b, 0x63, 42, 1, 1};
	assert_true(br.has_mac);
	assert_memory_equal(br.mac, mac, 6);
	char v[8];
	assert_int_equal(nl_sysctl_read("net.ipv4.ip_forward", v, sizeof v, err), 0);
	assert_string_equal(v, "1");

	struct rt_pod_net a, b, again;
	assert_int_equal(rt_podnet_setup(pn, "uid-a", NULL, 0, &a, err), 0);
	assert_string_equal(fmt_ip(&a.ip), "10.42.1.2");
	assert_string_equal(fmt_ip(&a.gateway), "10.42.1.1");
	assert_true(rt_netns_exists(a.netns_path, "") || access(a.netns_path, F_OK) == 0);
	struct rt_pod_port ports[1] = {
		{.host_port = 8080, .container_port = 80, .protocol = IPPROTO_TCP}};
	assert_int_equal(rt_podnet_setup(pn, "uid-b", ports, 1, &b, err), 0);
	assert_string_equal(fmt_ip(&b.ip), "10.42.1.3");
	assert_non_null(strstr(lv->fw.rules, "--dport 8080 -m comment --comment kc:uid-b -j DNAT "
					     "--to-destination 10.42.1.3:80"));
	/* idempotent: a second setup changes nothing */
	int calls = lv->fw.calls;
	assert_int_equal(rt_podnet_setup(pn, "uid-b", ports, 1, &again, err), 0);
	assert_true(net_ip_equal(&again.ip, &b.ip));
	assert_int_equal(lv->fw.calls, calls);
	struct nl_link hv;
	assert_int_equal(nl_link_get(nl, b.host_veth, &hv, err), 0);
	assert_int_equal(hv.master, br.ifindex);

	/* the pod side: eth0 with the address and a default route via the bridge */
	struct nl_sock *pnl;
	assert_int_equal(nl_open_in_netns(b.netns_path, &pnl, err), 0);
	struct nl_addr *addrs;
	size_t n;
	assert_int_equal(nl_addr_list(pnl, AF_INET, &addrs, &n, err), 0);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		found |= net_ip_equal(&addrs[i].ip, &b.ip) && addrs[i].prefix == 24;
	free(addrs);
	assert_true(found);
	struct nl_route *routes;
	assert_int_equal(nl_route_list(pnl, AF_INET, &routes, &n, err), 0);
	found = false;
	for (size_t i = 0; i < n; i++)
		found |= routes[i].dst.prefix == 0 && net_ip_equal(&routes[i].gw, &a.gateway);
	free(routes);
	assert_true(found);
	nl_close(pnl);

	/* a half-built pod (veth lost) is rebuilt with the same address */
	assert_int_equal(nl_link_get(nl, a.host_veth, &hv, err), 0);
	assert_int_equal(nl_link_del(nl, hv.ifindex, err), 0);
	assert_int_equal(rt_podnet_setup(pn, "uid-a", NULL, 0, &again, err), 0);
	assert_true(net_ip_equal(&again.ip, &a.ip));
	assert_int_equal(nl_link_get(nl, a.host_veth, &hv, err), 0);

	/* host-gw routes */
	struct rt_podnet_peer peers[3] = {
		{cidr("10.42.1.0/24"), {0}}, /* ourselves: skipped */
		{cidr("10.42.2.0/24"), {0}},
		{cidr("10.42.3.0/24"), {0}},
	};
	net_ip_parse("10.99.0.1", &peers[0].node_ip);
	net_ip_parse("10.99.0.2", &peers[1].node_ip);
	net_ip_parse("10.99.0.3", &peers[2].node_ip);
	/* the gateways must be reachable: give the bridge a second, non-kc address range */
	struct nl_link lo;
	assert_int_equal(nl_link_get(nl, "lo", &lo, err), 0);
	struct net_ip hostip;
	net_ip_parse("10.99.0.1", &hostip);
	assert_int_equal(nl_link_add_bridge(nl, "uplink", 0, err), 0);
	struct nl_link up;
	assert_int_equal(nl_link_get(nl, "uplink", &up, err), 0);
	assert_int_equal(nl_addr_add(nl, up.ifindex, &hostip, 24, err), 0);
	assert_int_equal(nl_link_set_up(nl, up.ifindex, true, err), 0);
	size_t changed;
	assert_int_equal(rt_podnet_sync_routes(pn, peers, 3, &changed, err), 0);
	assert_int_equal(changed, 2);
	assert_int_equal(rt_podnet_sync_routes(pn, peers, 3, &changed, err), 0);
	assert_int_equal(changed, 0);
	net_ip_parse("10.99.0.4", &peers[2].node_ip); /* node 3 moved */
	assert_int_equal(rt_podnet_sync_routes(pn, peers, 2, &changed, err), 0);
	assert_int_equal(changed, 1); /* 10.42.3.0/24 removed */
	assert_int_equal(rt_podnet_sync_routes(pn, peers, 3, &changed, err), 0);
	assert_int_equal(changed, 1);
	assert_int_equal(nl_route_list(nl, AF_INET, &routes, &n, err), 0);
	int kc = 0;
	for (size_t i = 0; i < n; i++)
		if (routes[i].protocol == NL_RTPROT_KC) {
			kc++;
			if (routes[i].dst.ip.bytes[2] == 3)
				assert_string_equal(fmt_ip(&routes[i].gw), "10.99.0.4");
		}
	free(routes);
	assert_int_equal(kc, 2);

	/* teardown: everything goes, twice is fine */
	assert_int_equal(rt_podnet_teardown(pn, "uid-b", err), 0);
	assert_int_equal(rt_podnet_teardown(pn, "uid-b", err), 0);
	assert_null(strstr(lv->fw.rules, "kc:uid-b"));
	assert_int_equal(nl_link_get(nl, b.host_veth, &hv, NULL), -ENODEV);
	assert_int_equal(access(b.netns_path, F_OK), -1);
	assert_int_equal(rt_podnet_status(pn, "uid-b", &again), -KC_ENOTFOUND);
	assert_int_equal(rt_podnet_status(pn, "uid-a", &again), 0);

	/* crash leftovers: a stray rule, a stray veth, a stray pin file, a dead pod's state */
	assert_int_equal(rt_podnet_setup(pn, "uid-c", ports, 1, &b, err), 0);
	assert_int_equal(rt_podnet_setup(pn, "uid-d", NULL, 0, &b, err), 0);
	assert_int_equal(nl_link_add_veth(nl, "kcv000000000000", "kcvpeer", -1, 0, err), 0);
	char *pin = xasprintf("%s/netns/uid-e", lv->dir);
	int fd = open(pin, O_WRONLY | O_CREAT, 0444);
	assert_true(fd >= 0);
	close(fd);
	rt_podnet_close(pn);
	memset(&lv->fw.log, 0, sizeof lv->fw.log);
	assert_int_equal(rt_podnet_open(&cfg, &pn, err), 0); /* a restart */
	assert_int_equal(rt_podnet_status(pn, "uid-c", &again), 0);
	const char *live[] = {"uid-a", "uid-d"};
	size_t removed;
	assert_int_equal(rt_podnet_cleanup(pn, live, 2, &removed, err), 0);
	assert_int_equal(removed, 2); /* uid-c and uid-e */
	assert_int_equal(access(pin, F_OK), -1);
	free(pin);
	assert_int_equal(rt_podnet_status(pn, "uid-c", &again), -KC_ENOTFOUND);
	assert_null(strstr(lv->fw.rules, "kc:uid-c"));
	assert_int_equal(nl_link_get(nl, "kcv000000000000", &hv, NULL), -ENODEV);
	assert_int_equal(rt_podnet_status(pn, "uid-a", &again), 0);
	assert_int_equal(rt_podnet_status(pn, "uid-d", &again), 0);

	/* everything */
	const char *none[] = {NULL};
	assert_int_equal(rt_podnet_cleanup(pn, none, 0, &removed, err), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(rt_podnet_destroy_node(pn, err), 0);
	assert_int_equal(nl_link_get(nl, "kc0", &br, NULL), -ENODEV);
	assert_int_equal(nl_route_list(nl, AF_INET, &routes, &n, err), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(routes[i].protocol, NL_RTPROT_KC);
	free(routes);
	rt_podnet_close(pn);
	nl_close(nl);
	char *nsdir = xasprintf("%s/netns", lv->dir);
	assert_int_equal(rt_netns_dir_release(nsdir, err), 0);
	free(nsdir);
	return 0;
}

static void test_live_node(void **state)
{
	if (geteuid() != 0)
		skip();
	struct live *lv = xcalloc(1, sizeof *lv);
	lv->dir = mkdtemp_dir();
	struct kc_err err = {0};
	int rc = nl_run_in_netns(-1, live_fn, lv, &err);
	if (rc == -EPERM) {
		rm_rf(lv->dir);
		free(lv->dir);
		free(lv);
		skip();
	}
	if (rc)
		fail_msg("live node: %s", err.msg);
	rm_rf(lv->dir);
	free(lv->dir);
	free(lv);
}

static void test_netns_names(void **state)
{
	assert_true(rt_netns_name_ok("0b7c9c2e-1a2b-4c3d-8e9f-001122334455"));
	assert_false(rt_netns_name_ok(""));
	assert_false(rt_netns_name_ok(".."));
	assert_false(rt_netns_name_ok("a/b"));
	assert_false(rt_netns_name_ok("a b"));
	char longname[200];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_false(rt_netns_name_ok(longname));
	struct kc_err err = {0};
	int fd;
	assert_int_equal(rt_netns_open("/tmp", "../etc", &fd, &err), -KC_EINVAL);
	char **names;
	size_t n;
	assert_int_equal(rt_netns_list("/nonexistent-kc", &names, &n, &err), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_alloc), cmocka_unit_test(test_ipam),
		cmocka_unit_test(test_veth_name),  cmocka_unit_test(test_netns_names),
		cmocka_unit_test(test_live_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
