/* Unit tests for roles/pki: the join token (created once, mode 0600, "kc1:<CA pin>:<secret>",
 * kept across starts, refused when it pins another CA or differs from --token), the store peer
 * certificate (both key usages, the member's names) and the token parser. The CA bootstrap
 * between members runs in tests/integration/t_store.sh and t_store_grow.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "lib/crypto.h"
#include "lib/fs.h"
#include "lib/x509.h"
#include "roles/config.h"
#include "roles/pki.h"

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/kc-test-pki.XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void config(struct kc_server_config *c, const char *dir)
{
	kc_config_defaults(c);
	c->roles = KC_ROLE_STORE;
	snprintf(c->data_dir, sizeof c->data_dir, "%s", dir);
	snprintf(c->node_name, sizeof c->node_name, "m1");
	net_ip_parse("127.0.0.1", &c->advertise_address);
}

static void read_token(const char *dir, char *out, size_t n)
{
	char path[600];
	snprintf(path, sizeof path, "%s/token", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, (int)n, f));
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_token(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct kc_server_config c;
	struct kc_pki p;
	struct kc_err err = {0};
	int64_t now = (int64_t)time(NULL);
	config(&c, dir);
	assert_int_equal(kc_pki_ensure(&c, now, &p, &err), 0);
	char tok[256];
	read_token(dir, tok, sizeof tok);
	assert_string_equal(tok, p.token);
	assert_int_equal(strlen(tok), KC_TOKEN_LEN);
	uint8_t pin[32], want[KC_SHA256_LEN];
	char secret[33];
	assert_int_equal(kc_token_parse(tok, pin, secret, &err), 0);
	kc_cert_sha256(p.ca, want);
	assert_memory_equal(pin, want, 32);
	assert_int_equal(strlen(secret), 32);
	/* the peer certificate serves and dials, for the member's names */
	assert_non_null(p.peer);
	assert_true(kc_cert_matches_key(p.peer, p.peer_key));
	assert_int_equal(kc_cert_verify(p.peer, p.ca, &err), 0);
	mbedtls_x509_crt *crt = kc_cert_mbedtls(p.peer);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(
				 crt, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
			 0);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(
				 crt, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
			 0);
	struct kc_cert_info info;
	assert_int_equal(kc_cert_get_info(p.peer, &info, &err), 0);
	assert_string_equal(info.orgs[0], KC_PKI_PEER_GROUP);
	bool has_name = false;
	for (size_t i = 0; i < info.ndns; i++)
		has_name |= strcmp(info.dns_names[i], "m1") == 0;
	assert_true(has_name);
	kc_cert_info_free(&info);
	kc_pki_free(&p);

	/* a second start keeps the token; the same --token is accepted */
	snprintf(c.token, sizeof c.token, "%s", tok);
	assert_int_equal(kc_pki_ensure(&c, now, &p, &err), 0);
	assert_string_equal(p.token, tok);
	kc_pki_free(&p);
	/* a --token with another secret, or pinning another CA, is refused */
	char bad[256];
	snprintf(bad, sizeof bad, "%.*s0123456789abcdef0123456789abcdef", KC_TOKEN_LEN - 32, tok);
	snprintf(c.token, sizeof c.token, "%s", bad);
	assert_int_equal(kc_pki_ensure(&c, now, &p, &err), -KC_EINVAL);
	assert_non_null(strstr(err.msg, "differs"));
	snprintf(bad, sizeof bad, "kc1:%064d:%s", 0, tok + KC_TOKEN_LEN - 32);
	snprintf(c.token, sizeof c.token, "%s", bad);
	assert_int_equal(kc_pki_ensure(&c, now, &p, &err), -KC_EINVAL);
	assert_non_null(strstr(err.msg, "another cluster CA"));
	/* a DATA/token that pins another CA is refused */
	c.token[0] = 0;
	char path[600];
	snprintf(path, sizeof path, "%s/token", dir);
	assert_int_equal(kc_write_file_atomic(path, bad, strlen(bad), 0600, &err), 0);
	assert_int_equal(kc_pki_ensure(&c, now, &p, &err), -KC_EINVAL);
	assert_non_null(strstr(err.msg, "pins another CA"));
	rm_rf(dir);
	free(dir);
}

static void test_token_parse(void **state)
{
	(void)state;
	uint8_t pin[32];
	char secret[33];
	struct kc_err err;
	char ok[128];
	snprintf(ok, sizeof ok, "kc1:%064d:%032d", 7, 9);
	assert_int_equal(kc_token_parse(ok, pin, secret, &err), 0);
	assert_int_equal(pin[31], 7);
	const char *bad[] = {
		"", "kc1:", "kc2:0000000000000000000000000000000000000000000000000000000000000000:"
			    "00000000000000000000000000000000",
		"kc1:000000000000000000000000000000000000000000000000000000000000000g:"
		"00000000000000000000000000000000",
		"kc1:0000000000000000000000000000000000000000000000000000000000000000:"
		"0000000000000000000000000000000",
		"kc1:0000000000000000000000000000000000000000000000000000000000000000;"
		"00000000000000000000000000000000",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(kc_token_parse(bad[i], pin, secret, &err), -KC_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_token_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
