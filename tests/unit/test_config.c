/* Unit tests for roles/config: every `kc server` flag, both spellings, defaults, and the
 * combination checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "roles/config.h"

static int parse(struct kc_server_config *c, struct kc_err *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	kc_config_defaults(c);
	FILE *devnull = fopen("/dev/null", "w");
	int rc = kc_config_parse(c, argc, argv, devnull, err);
	fclose(devnull);
	return rc;
}

static void test_defaults(void **state)
{
	(void)state;
	struct kc_server_config c;
	struct kc_err err = { 0 };
	char buf[64];
	assert_int_equal(parse(&c, &err, NULL), 0);
	assert_int_equal(c.roles, KC_ROLE_ALL);
	assert_string_equal(c.data_dir, "/var/lib/kc");
	assert_int_equal(c.api_port, 6443);
	assert_int_equal(c.store_port, 2379);
	assert_int_equal(c.peer_port, 2380);
	assert_int_equal(c.kubelet_port, 10250);
	assert_string_equal(net_cidr_format(&c.cluster_cidr, buf, sizeof buf), "10.42.0.0/16");
	assert_string_equal(net_cidr_format(&c.service_cidr, buf, sizeof buf), "10.43.0.0/16");
	assert_string_equal(net_ip_format(&c.cluster_dns, buf, sizeof buf), "10.43.0.10");
	assert_string_equal(c.cluster_domain, "cluster.local");
	assert_true(kc_dns_subdomain_ok(c.node_name));
	assert_false(c.plain_http);
}

static void test_all_flags(void **state)
{
	(void)state;
	struct kc_server_config c;
	struct kc_err err = { 0 };
	char buf[64];
	int rc = parse(&c, &err, "--role=store", "--data-dir", "/tmp/kc-x", "--node-name=s1",
		       "--bind-address", "127.0.0.1", "--advertise-address=127.0.0.1",
		       "--api-port=7443", "--store-port", "12379", "--peer-port=12380",
		       "--kubelet-port=11250",
		       "--store-peers=s1=http://127.0.0.1:12380,s2=http://127.0.0.1:22380,"
		       "s3=https://[::1]:32380",
		       "--cluster-cidr=10.52.0.0/16", "--service-cidr", "10.53.0.0/16",
		       "--cluster-dns=10.53.0.10", "--cluster-domain=kc.test", "--log-level=debug",
		       "--log-format", "json", "--plain-http", NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(c.roles, KC_ROLE_STORE);
	assert_string_equal(c.data_dir, "/tmp/kc-x");
	assert_string_equal(c.node_name, "s1");
	assert_int_equal(c.api_port, 7443);
	assert_int_equal(c.store_port, 12379);
	assert_int_equal(c.nstore_peers, 3);
	assert_string_equal(c.store_peers[2].name, "s3");
	assert_string_equal(c.store_peers[2].url, "https://[::1]:32380");
	assert_string_equal(net_cidr_format(&c.service_cidr, buf, sizeof buf), "10.53.0.0/16");
	assert_int_equal(c.log_level, KC_LOG_DEBUG);
	assert_int_equal(c.log_format, KC_LOG_JSON);
	assert_true(c.plain_http);

	rc = parse(&c, &err, "--role=worker", "--server=https://10.0.0.1:6443", "--token=K10abc::x",
		   NULL);
	assert_int_equal(rc, 0);
	assert_string_equal(c.token, "K10abc::x");
	rc = parse(&c, &err, "--role=master", "--store-endpoints=http://127.0.0.1:2379,http://127.0.0.2:2379", NULL);
	assert_int_equal(rc, 0);
	rc = parse(&c, &err, "--plain-http=false", NULL);
	assert_int_equal(rc, 0);
	assert_false(c.plain_http);
}

static void expect_error(const char *flag_value, const char *needle)
{
	struct kc_server_config c;
	struct kc_err err = { 0 };
	int rc = parse(&c, &err, flag_value, NULL);
	if (rc != -KC_EINVAL || !strstr(err.msg, needle))
		fail_msg("%s: rc=%d msg=\"%s\" (wanted \"%s\")", flag_value, rc, err.msg, needle);
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error("--role=king", "must be one of all, store, master, worker");
	expect_error("--api-port=0", "1 to 65535");
	expect_error("--api-port=65536", "1 to 65535");
	expect_error("--store-port=http", "1 to 65535");
	expect_error("--cluster-cidr=10.42.0.0", "not a CIDR");
	expect_error("--cluster-cidr=10.42.0.1/16", "host bits");
	expect_error("--service-cidr=10.0.0.0/8", "overlaps");
	expect_error("--cluster-dns=10.44.0.10", "outside --service-cidr");
	expect_error("--bind-address=localhost", "not an IPv4 or IPv6 address");
	expect_error("--node-name=Node_1", "DNS name");
	expect_error("--cluster-domain=-bad", "DNS domain");
	expect_error("--log-level=trace", "error, warn, info, debug");
	expect_error("--log-format=xml", "text or json");
	expect_error("--data-dir=", "must not be empty");
	expect_error("--bogus", "unknown flag --bogus");
	expect_error("--api-port", "needs a value");
	expect_error("stray", "unexpected argument");
	expect_error("--store-peers=nourl", "name=URL");
	expect_error("--store-peers=a=ftp://x:1", "URL");
	expect_error("--store-peers=a=http://x:1,a=http://y:1", "unique");
	expect_error("--store-peers=other=http://127.0.0.1:2380", "no member named");
	expect_error("--role=worker", "needs --server and --token");
	expect_error("--server=127.0.0.1:6443", "not an http(s) URL");
	expect_error("--store-endpoints=http://a:1,bad", "list of http(s) URLs");
	expect_error("--kubelet-port=6443", "--api-port and --kubelet-port are both 6443");
	expect_error("--plain-http=yes", "true or false");
	expect_error("--token= ", "spaces");
}

static void test_help(void **state)
{
	(void)state;
	struct kc_server_config c;
	struct kc_err err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	kc_config_defaults(&c);
	char *argv[] = { "--help" };
	assert_int_equal(kc_config_parse(&c, 1, argv, out, &err), 1);
	fclose(out);
	/* every flag of the contract is documented */
	const char *names[] = { "--role", "--data-dir", "--node-name", "--bind-address",
				"--advertise-address", "--api-port", "--store-port", "--peer-port",
				"--kubelet-port", "--store-peers", "--store-join", "--store-endpoints",
				"--server", "--token", "--cluster-cidr", "--service-cidr",
				"--cluster-dns", "--cluster-domain", "--log-level", "--log-format",
				"--plain-http" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_non_null(strstr(buf, names[i]));
	free(buf);
}

static void test_data_dir(void **state)
{
	(void)state;
	struct kc_server_config c;
	struct kc_err err = { 0 };
	char tmpl[] = "/tmp/kc-test-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	kc_config_defaults(&c);
	snprintf(c.data_dir, sizeof c.data_dir, "%s/a/b/c", tmpl);
	assert_int_equal(kc_config_prepare_data_dir(&c, &err), 0);
	struct stat st;
	assert_int_equal(stat(c.data_dir, &st), 0);
	/* a file where the dir should be */
	snprintf(c.data_dir, sizeof c.data_dir, "%s/file", tmpl);
	FILE *f = fopen(c.data_dir, "w");
	fclose(f);
	assert_true(kc_config_prepare_data_dir(&c, &err) < 0);
	if (geteuid() != 0) {
		/* root can write anywhere; the read-only check only means something for others */
		snprintf(c.data_dir, sizeof c.data_dir, "/proc/kc");
		assert_true(kc_config_prepare_data_dir(&c, &err) < 0);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults), cmocka_unit_test(test_all_flags),
		cmocka_unit_test(test_bad_values), cmocka_unit_test(test_help),
		cmocka_unit_test(test_data_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
