/* Unit tests for net/addr: IP literals, CIDR parsing and arithmetic, ports, host:port. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>

#include "net/addr.h"

static void test_ip(void **state)
{
	(void)state;
	struct net_ip ip;
	char buf[64];
	assert_int_equal(net_ip_parse("10.43.0.10", &ip), 0);
	assert_int_equal(ip.family, AF_INET);
	assert_string_equal(net_ip_format(&ip, buf, sizeof buf), "10.43.0.10");
	assert_int_equal(net_ip_parse("fd00::1", &ip), 0);
	assert_int_equal(ip.family, AF_INET6);
	assert_string_equal(net_ip_format(&ip, buf, sizeof buf), "fd00::1");
	assert_int_not_equal(net_ip_parse("10.43.0", &ip), 0);
	assert_int_not_equal(net_ip_parse("256.1.1.1", &ip), 0);
	assert_int_not_equal(net_ip_parse("[::1]", &ip), 0);
	assert_int_not_equal(net_ip_parse("", &ip), 0);
	assert_int_equal(net_ip_parse("127.0.0.2", &ip), 0);
	assert_true(net_ip_is_loopback(&ip));
	assert_int_equal(net_ip_parse("::1", &ip), 0);
	assert_true(net_ip_is_loopback(&ip));
}

static void test_cidr(void **state)
{
	(void)state;
	struct net_cidr a, b;
	struct net_ip ip;
	struct kc_err err = { 0 };
	char buf[64];
	assert_int_equal(net_cidr_parse("10.42.0.0/16", &a, &err), 0);
	assert_int_equal(a.prefix, 16);
	assert_string_equal(net_cidr_format(&a, buf, sizeof buf), "10.42.0.0/16");
	assert_int_equal(net_cidr_parse("10.43.0.0/16", &b, &err), 0);
	assert_false(net_cidr_overlaps(&a, &b));
	assert_int_equal(net_cidr_parse("10.0.0.0/8", &b, &err), 0);
	assert_true(net_cidr_overlaps(&a, &b));
	assert_true(net_cidr_overlaps(&b, &a));
	net_ip_parse("10.42.255.1", &ip);
	assert_true(net_cidr_contains(&a, &ip));
	net_ip_parse("10.43.0.1", &ip);
	assert_false(net_cidr_contains(&a, &ip));
	/* non-byte-aligned prefixes */
	assert_int_equal(net_cidr_parse("192.168.4.0/22", &a, &err), 0);
	net_ip_parse("192.168.7.255", &ip);
	assert_true(net_cidr_contains(&a, &ip));
	net_ip_parse("192.168.8.0", &ip);
	assert_false(net_cidr_contains(&a, &ip));
	/* errors */
	assert_int_equal(net_cidr_parse("10.42.0.1/16", &a, &err), -KC_EINVAL);
	assert_non_null(strstr(err.msg, "host bits"));
	assert_int_equal(net_cidr_parse("10.42.0.0/33", &a, &err), -KC_EINVAL);
	assert_int_equal(net_cidr_parse("10.42.0.0", &a, &err), -KC_EINVAL);
	assert_int_equal(net_cidr_parse("x/8", &a, &err), -KC_EINVAL);
	assert_int_equal(net_cidr_parse("10.0.0.0/", &a, &err), -KC_EINVAL);
	/* IPv6 */
	assert_int_equal(net_cidr_parse("fd00:10::/56", &a, &err), 0);
	net_ip_parse("fd00:10:0:ff::1", &ip);
	assert_true(net_cidr_contains(&a, &ip));
	net_ip_parse("10.42.0.1", &ip);
	assert_false(net_cidr_contains(&a, &ip));
}

static void test_cidr_nth(void **state)
{
	(void)state;
	struct net_cidr c;
	struct net_ip ip;
	char buf[64];
	net_cidr_parse("10.43.0.0/16", &c, NULL);
	assert_int_equal(net_cidr_nth(&c, 10, &ip), 0);
	assert_string_equal(net_ip_format(&ip, buf, sizeof buf), "10.43.0.10");
	assert_int_equal(net_cidr_nth(&c, 300, &ip), 0);
	assert_string_equal(net_ip_format(&ip, buf, sizeof buf), "10.43.1.44");
	assert_int_equal(net_cidr_nth(&c, 65535, &ip), 0);
	assert_string_equal(net_ip_format(&ip, buf, sizeof buf), "10.43.255.255");
	assert_int_equal(net_cidr_nth(&c, 65536, &ip), -KC_ELIMIT);
	net_cidr_parse("fd00::/64", &c, NULL);
	assert_int_equal(net_cidr_nth(&c, 0x1234, &ip), 0);
	assert_string_equal(net_ip_format(&ip, buf, sizeof buf), "fd00::1234");
}

static void test_ports(void **state)
{
	(void)state;
	uint16_t port;
	char host[64];
	assert_int_equal(net_port_parse("6443", &port), 0);
	assert_int_equal(port, 6443);
	assert_int_not_equal(net_port_parse("0", &port), 0);
	assert_int_not_equal(net_port_parse("65536", &port), 0);
	assert_int_not_equal(net_port_parse("-1", &port), 0);
	assert_int_not_equal(net_port_parse("80a", &port), 0);
	assert_int_equal(net_hostport_split("10.0.0.1:2380", host, sizeof host, &port), 0);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(port, 2380);
	assert_int_equal(net_hostport_split("[fd00::1]:2380", host, sizeof host, &port), 0);
	assert_string_equal(host, "fd00::1");
	assert_int_equal(net_hostport_split("master.example:6443", host, sizeof host, &port), 0);
	assert_string_equal(host, "master.example");
	assert_int_not_equal(net_hostport_split("fd00::1:2380", host, sizeof host, &port), 0);
	assert_int_not_equal(net_hostport_split(":2380", host, sizeof host, &port), 0);
	assert_int_not_equal(net_hostport_split("host", host, sizeof host, &port), 0);
	assert_int_not_equal(net_hostport_split("[::1]2380", host, sizeof host, &port), 0);
}

static void test_sockaddr(void **state)
{
	(void)state;
	struct net_ip ip, back;
	struct sockaddr_storage ss;
	uint16_t port = 0;
	net_ip_parse("fd00::7", &ip);
	socklen_t len = net_sockaddr(&ip, 2379, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(net_sockaddr_parse((struct sockaddr *)&ss, &back, &port), 0);
	assert_true(net_ip_equal(&ip, &back));
	assert_int_equal(port, 2379);
	net_default_advertise(&ip);
	assert_int_equal(ip.family, AF_INET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip),    cmocka_unit_test(test_cidr), cmocka_unit_test(test_cidr_nth),
		cmocka_unit_test(test_ports), cmocka_unit_test(test_sockaddr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
