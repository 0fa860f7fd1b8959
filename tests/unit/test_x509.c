/* Unit tests for lib/x509: a CA, server and client certificates are created, read back,
 * saved, reloaded and verified; a foreign CA, an expired certificate and bad specs are refused;
 * PEM chains round-trip; and, when the openssl tool is installed, `openssl verify` and
 * `openssl x509 -text` accept what kc writes and kc reads what openssl writes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/str.h"
#include "lib/x509.h"

struct fixture {
	char dir[64];
	int64_t now;
	struct kc_cert *ca;
	struct kc_key *ca_key;
	struct kc_key *server_key;
	struct kc_cert *server;
	struct kc_key *client_key;
	struct kc_cert *client;
};

static const char *const server_dns[] = { "localhost", "api.kc.test", "*.svc.kc.test" };
static const char *const server_ips[] = { "127.0.0.1", "10.96.0.1", "::1", "fd00:10::1" };
static const char *const client_orgs[] = { "system:masters", "devs", "ops team" };

static char *path_in(const struct fixture *f, const char *name)
{
	return xasprintf("%s/%s", f->dir, name);
}

static bool have_openssl(void)
{
	return system("openssl version >/dev/null 2>&1") == 0;
}

/* Runs a shell command and returns its stdout (stderr merged), or NULL when it exits non-zero
 * (printing the output unless that failure is the expected outcome). */
static char *run_cmd(const char *cmd, bool expect_failure)
{
	char *full = xasprintf("%s 2>&1", cmd);
	FILE *p = popen(full, "r");
	free(full);
	if (!p)
		return NULL;
	struct kc_str out = KC_STR_INIT;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		kc_str_add(&out, buf, n);
	int status = pclose(p);
	if (status != 0) {
		if (!expect_failure)
			print_message("command failed (%d): %s\n%s\n", status, cmd, out.buf);
		kc_str_free(&out);
		return NULL;
	}
	return kc_str_detach(&out, NULL);
}

static char *run(const char *cmd)
{
	return run_cmd(cmd, false);
}

static size_t count_entries_containing(const char *dir, const char *needle)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)))
		n += strstr(e->d_name, needle) != NULL;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/kc-test-x509-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->now = (int64_t)time(NULL);
	struct kc_err err = { 0 };
	if (kc_ca_create("kc-cluster-ca", f->now, &f->ca, &f->ca_key, &err) != 0) {
		print_message("ca: %s\n", err.msg);
		return -1;
	}
	struct kc_cert_spec s = {
		.cn = "kc-apiserver",
		.dns_names = server_dns,
		.ndns = 3,
		.ips = server_ips,
		.nips = 4,
		.not_before = f->now - 60,
		.not_after = f->now + 365 * 86400,
	};
	if (kc_key_generate(&f->server_key, &err) != 0 ||
	    kc_cert_sign_server(f->ca, f->ca_key, f->server_key, &s, &f->server, &err) != 0) {
		print_message("server: %s\n", err.msg);
		return -1;
	}
	struct kc_cert_spec c = {
		.cn = "alice",
		.orgs = client_orgs,
		.norgs = 3,
		.not_before = f->now - 60,
		.not_after = f->now + 86400,
	};
	if (kc_key_generate(&f->client_key, &err) != 0 ||
	    kc_cert_sign_client(f->ca, f->ca_key, f->client_key, &c, &f->client, &err) != 0) {
		print_message("client: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", f->dir);
	free(cmd);
	kc_cert_free(f->ca);
	kc_key_free(f->ca_key);
	kc_cert_free(f->server);
	kc_key_free(f->server_key);
	kc_cert_free(f->client);
	kc_key_free(f->client_key);
	free(f);
	return 0;
}

static void test_ca(void **state)
{
	struct fixture *f = *state;
	struct kc_cert_info info;
	struct kc_err err = { 0 };
	assert_int_equal(kc_cert_get_info(f->ca, &info, &err), 0);
	assert_string_equal(info.cn, "kc-cluster-ca");
	assert_true(info.is_ca);
	assert_int_equal(info.norgs, 0);
	assert_int_equal(info.ndns + info.nips, 0);
	assert_int_equal(info.not_before, f->now - KC_CERT_BACKDATE_SECS);
	assert_int_equal(info.not_after, f->now + KC_CA_VALIDITY_SECS);
	kc_cert_info_free(&info);
	assert_int_equal(kc_cert_count(f->ca), 1);
	assert_true(kc_cert_matches_key(f->ca, f->ca_key));
	assert_false(kc_cert_matches_key(f->ca, f->server_key));
	/* a self-signed CA verifies against itself */
	assert_int_equal(kc_cert_verify(f->ca, f->ca, &err), 0);

	/* the pin is the SHA-256 of the DER */
	size_t len;
	const uint8_t *der = kc_cert_der(f->ca, &len);
	assert_true(len > 100);
	uint8_t a[KC_SHA256_LEN], b[KC_SHA256_LEN];
	kc_cert_sha256(f->ca, a);
	kc_sha256(der, len, b);
	assert_memory_equal(a, b, sizeof a);

	/* two CAs get different keys and serials */
	struct kc_cert *ca2;
	struct kc_key *key2;
	assert_int_equal(kc_ca_create("kc-cluster-ca", f->now, &ca2, &key2, &err), 0);
	kc_cert_sha256(ca2, b);
	assert_memory_not_equal(a, b, sizeof a);
	assert_false(kc_cert_matches_key(f->ca, key2));
	kc_cert_free(ca2);
	kc_key_free(key2);

	assert_int_equal(kc_ca_create("", f->now, &ca2, &key2, &err), -KC_EINVAL);
}

static void test_server_cert(void **state)
{
	struct fixture *f = *state;
	struct kc_cert_info info;
	struct kc_err err = { 0 };
	assert_int_equal(kc_cert_get_info(f->server, &info, &err), 0);
	assert_string_equal(info.cn, "kc-apiserver");
	assert_false(info.is_ca);
	assert_int_equal(info.ndns, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(info.dns_names[i], server_dns[i]);
	assert_int_equal(info.nips, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(info.ips[i], server_ips[i]);
	assert_int_equal(info.not_before, f->now - 60);
	assert_int_equal(info.not_after, f->now + 365 * 86400);
	kc_cert_info_free(&info);
	assert_true(kc_cert_matches_key(f->server, f->server_key));
	assert_int_equal(kc_cert_verify(f->server, f->ca, &err), 0);
}

static void test_client_cert(void **state)
{
	struct fixture *f = *state;
	struct kc_cert_info info;
	struct kc_err err = { 0 };
	assert_int_equal(kc_cert_get_info(f->client, &info, &err), 0);
	assert_string_equal(info.cn, "alice");
	assert_int_equal(info.norgs, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(info.orgs[i], client_orgs[i]);
	assert_int_equal(info.ndns + info.nips, 0);
	assert_int_equal(info.not_after - info.not_before, 86400 + 60);
	kc_cert_info_free(&info);
	assert_int_equal(kc_cert_verify(f->client, f->ca, &err), 0);
}

/* A peer certificate serves and dials: both extended key usages, SANs required. */
static void test_peer_cert(void **state)
{
	struct fixture *f = *state;
	struct kc_err err = { 0 };
	const char *ips[] = { "127.0.0.1", "10.0.0.7" };
	const char *dns[] = { "m1" };
	const char *orgs[] = { "kc:store-peer" };
	struct kc_cert_spec s = {
		.cn = "kc-store-peer:m1", .orgs = orgs, .norgs = 1, .dns_names = dns, .ndns = 1,
		.ips = ips, .nips = 2, .not_before = f->now - 60, .not_after = f->now + 86400,
	};
	struct kc_cert *c = NULL;
	assert_int_equal(kc_cert_sign_peer(f->ca, f->ca_key, f->server_key, &s, &c, &err), 0);
	assert_int_equal(kc_cert_verify(c, f->ca, &err), 0);
	mbedtls_x509_crt *crt = kc_cert_mbedtls(c);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(
				 crt, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
			 0);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(
				 crt, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
			 0);
	struct kc_cert_info info;
	assert_int_equal(kc_cert_get_info(c, &info, &err), 0);
	assert_int_equal(info.nips, 2);
	assert_string_equal(info.orgs[0], "kc:store-peer");
	kc_cert_info_free(&info);
	kc_cert_free(c);
	/* a server certificate is not a client one and the other way round */
	crt = kc_cert_mbedtls(f->server);
	assert_int_not_equal(mbedtls_x509_crt_check_extended_key_usage(
				     crt, MBEDTLS_OID_CLIENT_AUTH,
				     MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
			     0);
	s.ndns = s.nips = 0;
	assert_int_equal(kc_cert_sign_peer(f->ca, f->ca_key, f->server_key, &s, &c, &err),
			 -KC_EINVAL);
}

static void test_save_load(void **state)
{
	struct fixture *f = *state;
	struct kc_err err = { 0 };
	char *ca_pem = path_in(f, "ca.pem"), *ca_key = path_in(f, "ca-key.pem");
	char *srv_pem = path_in(f, "server.pem");
	assert_int_equal(kc_cert_save_file(f->ca, ca_pem, &err), 0);
	assert_int_equal(kc_key_save_file(f->ca_key, ca_key, &err), 0);
	assert_int_equal(kc_cert_save_file(f->server, srv_pem, &err), 0);

	struct stat st;
	assert_int_equal(stat(ca_key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(ca_pem, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* no temporary files are left behind */
	assert_int_equal(count_entries_containing(f->dir, ".tmp."), 0);

	struct kc_cert *ca;
	struct kc_key *key;
	struct kc_cert *srv;
	assert_int_equal(kc_cert_load_file(ca_pem, &ca, &err), 0);
	assert_int_equal(kc_key_load_file(ca_key, &key, &err), 0);
	assert_int_equal(kc_cert_load_file(srv_pem, &srv, &err), 0);
	assert_true(kc_cert_matches_key(ca, key));
	assert_int_equal(kc_cert_verify(srv, ca, &err), 0);
	size_t l1, l2;
	const uint8_t *d1 = kc_cert_der(ca, &l1), *d2 = kc_cert_der(f->ca, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);

	/* the reloaded CA key signs certificates that verify against the original CA */
	struct kc_key *k;
	struct kc_cert *c;
	struct kc_cert_spec s = {
		.cn = "node-1",
		.orgs = (const char *const[]){ "system:nodes" },
		.norgs = 1,
		.not_before = f->now,
		.not_after = f->now + 3600,
	};
	assert_int_equal(kc_key_generate(&k, &err), 0);
	assert_int_equal(kc_cert_sign_client(ca, key, k, &s, &c, &err), 0);
	assert_int_equal(kc_cert_verify(c, f->ca, &err), 0);

	/* overwriting an existing file works (rename over it) */
	assert_int_equal(kc_cert_save_file(c, srv_pem, &err), 0);
	kc_cert_free(srv);
	assert_int_equal(kc_cert_load_file(srv_pem, &srv, &err), 0);
	struct kc_cert_info info;
	assert_int_equal(kc_cert_get_info(srv, &info, &err), 0);
	assert_string_equal(info.cn, "node-1");
	kc_cert_info_free(&info);

	/* key PEM round trip */
	struct kc_str pem = KC_STR_INIT;
	assert_int_equal(kc_key_to_pem(k, &pem, &err), 0);
	assert_non_null(strstr(pem.buf, "-----BEGIN EC PRIVATE KEY-----"));
	struct kc_key *k2;
	assert_int_equal(kc_key_parse(pem.buf, pem.len, &k2, &err), 0);
	assert_true(kc_cert_matches_key(c, k2));
	kc_str_free(&pem);
	struct kc_key *k3 = kc_key_dup(k2);
	assert_true(kc_cert_matches_key(c, k3));

	kc_key_free(k3);
	kc_key_free(k2);
	kc_key_free(k);
	kc_cert_free(c);
	kc_cert_free(ca);
	kc_cert_free(srv);
	kc_key_free(key);
	free(ca_pem);
	free(ca_key);
	free(srv_pem);
}

static void test_chain_pem(void **state)
{
	struct fixture *f = *state;
	struct kc_err err = { 0 };
	struct kc_str pem = KC_STR_INIT;
	kc_cert_to_pem(f->server, &pem);
	kc_cert_to_pem(f->ca, &pem);
	struct kc_cert *chain;
	assert_int_equal(kc_cert_parse(pem.buf, pem.len, &chain, &err), 0);
	assert_int_equal(kc_cert_count(chain), 2);
	struct kc_cert *dup = kc_cert_dup(chain);
	struct kc_str again = KC_STR_INIT;
	kc_cert_to_pem(dup, &again);
	assert_string_equal(pem.buf, again.buf);
	/* the chain's first certificate is the leaf; the trailing CA does not make it verify
	 * against a foreign trust anchor */
	assert_int_equal(kc_cert_verify(chain, f->ca, &err), 0);
	struct kc_cert *other;
	struct kc_key *other_key;
	assert_int_equal(kc_ca_create("other", f->now, &other, &other_key, &err), 0);
	assert_int_equal(kc_cert_verify(chain, other, &err), -KC_ECRYPTO);

	/* DER input parses too */
	size_t len;
	const uint8_t *der = kc_cert_der(f->client, &len);
	struct kc_cert *c;
	assert_int_equal(kc_cert_parse(der, len, &c, &err), 0);
	assert_int_equal(kc_cert_count(c), 1);
	kc_cert_free(c);

	kc_cert_free(other);
	kc_key_free(other_key);
	kc_cert_free(dup);
	kc_cert_free(chain);
	kc_str_free(&again);
	kc_str_free(&pem);
}

static void test_verify_failures(void **state)
{
	struct fixture *f = *state;
	struct kc_err err = { 0 };
	struct kc_cert *evil;
	struct kc_key *evil_key;
	assert_int_equal(kc_ca_create("kc-cluster-ca", f->now, &evil, &evil_key, &err), 0);
	/* same CN, different key: must not verify */
	assert_int_equal(kc_cert_verify(f->server, evil, &err), -KC_ECRYPTO);
	assert_int_equal(err.code, -KC_ECRYPTO);
	assert_non_null(strstr(err.msg, "verification failed"));
	assert_int_equal(kc_cert_verify(f->client, evil, &err), -KC_ECRYPTO);

	/* a leaf is not a CA: nothing chains to it, and it cannot sign */
	assert_int_equal(kc_cert_verify(f->client, f->server, &err), -KC_ECRYPTO);
	struct kc_cert_spec s = {
		.cn = "x", .not_before = f->now, .not_after = f->now + 60,
	};
	struct kc_cert *c;
	assert_int_equal(kc_cert_sign_client(f->server, f->server_key, f->client_key, &s, &c, &err),
			 -KC_EINVAL);
	/* the CA key must match the CA */
	assert_int_equal(kc_cert_sign_client(f->ca, evil_key, f->client_key, &s, &c, &err),
			 -KC_EINVAL);

	/* expired */
	s.not_before = f->now - 7200;
	s.not_after = f->now - 3600;
	assert_int_equal(kc_cert_sign_client(f->ca, f->ca_key, f->client_key, &s, &c, &err), 0);
	assert_int_equal(kc_cert_verify(c, f->ca, &err), -KC_ECRYPTO);
	assert_non_null(strstr(err.msg, "expired"));
	kc_cert_free(c);
	/* not yet valid */
	s.not_before = f->now + 3600;
	s.not_after = f->now + 7200;
	assert_int_equal(kc_cert_sign_client(f->ca, f->ca_key, f->client_key, &s, &c, &err), 0);
	assert_int_equal(kc_cert_verify(c, f->ca, &err), -KC_ECRYPTO);
	kc_cert_free(c);

	kc_cert_free(evil);
	kc_key_free(evil_key);
}

static void test_bad_specs(void **state)
{
	struct fixture *f = *state;
	struct kc_err err = { 0 };
	struct kc_cert *c = NULL;
	const char *bad_ip[] = { "10.0.0.256" };
	const char *bad_dns[] = { "a..b" };
	const char *comma[] = { "a,b" };
	struct kc_cert_spec base = {
		.cn = "x",
		.dns_names = server_dns,
		.ndns = 1,
		.not_before = f->now,
		.not_after = f->now + 60,
	};
	struct kc_cert_spec s = base;
	s.ndns = 0; /* a server certificate needs a SAN */
	assert_int_equal(kc_cert_sign_server(f->ca, f->ca_key, f->server_key, &s, &c, &err),
			 -KC_EINVAL);
	s = base;
	s.ips = bad_ip;
	s.nips = 1;
	assert_int_equal(kc_cert_sign_server(f->ca, f->ca_key, f->server_key, &s, &c, &err),
			 -KC_EINVAL);
	assert_non_null(strstr(err.msg, "10.0.0.256"));
	s = base;
	s.dns_names = bad_dns;
	assert_int_equal(kc_cert_sign_server(f->ca, f->ca_key, f->server_key, &s, &c, &err),
			 -KC_EINVAL);
	s = base;
	s.orgs = comma;
	s.norgs = 1;
	assert_int_equal(kc_cert_sign_client(f->ca, f->ca_key, f->client_key, &s, &c, &err),
			 -KC_EINVAL);
	s = base;
	s.not_after = s.not_before;
	assert_int_equal(kc_cert_sign_client(f->ca, f->ca_key, f->client_key, &s, &c, &err),
			 -KC_EINVAL);
	s = base;
	s.cn = "";
	assert_int_equal(kc_cert_sign_client(f->ca, f->ca_key, f->client_key, &s, &c, &err),
			 -KC_EINVAL);
	char longname[300];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	s = base;
	s.cn = longname;
	assert_int_equal(kc_cert_sign_client(f->ca, f->ca_key, f->client_key, &s, &c, &err),
			 -KC_EINVAL);
	assert_null(c);
}

static void test_parse_errors(void **state)
{
	struct fixture *f = *state;
	struct kc_err err = { 0 };
	struct kc_cert *c = NULL;
	struct kc_key *k = NULL;
	assert_int_equal(kc_cert_parse("garbage", 7, &c, &err), -KC_EPARSE);
	assert_int_equal(kc_cert_parse("", 0, &c, &err), -KC_EPARSE);
	const char *trunc = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	assert_int_equal(kc_cert_parse(trunc, strlen(trunc), &c, &err), -KC_EPARSE);
	assert_int_equal(kc_key_parse("garbage", 7, &k, &err), -KC_EPARSE);
	assert_null(c);
	assert_null(k);
	char *missing = path_in(f, "missing.pem");
	assert_int_equal(kc_cert_load_file(missing, &c, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "missing.pem"));
	assert_int_equal(kc_key_load_file(missing, &k, &err), -ENOENT);
	free(missing);
	/* a certificate file is not a key */
	char *p = path_in(f, "not-a-key.pem");
	assert_int_equal(kc_cert_save_file(f->ca, p, &err), 0);
	assert_int_equal(kc_key_load_file(p, &k, &err), -KC_EPARSE);
	free(p);
	/* a directory is not a file */
	assert_true(kc_cert_load_file(f->dir, &c, &err) < 0);
	/* saving into a missing directory fails cleanly */
	p = xasprintf("%s/no/such/dir/x.pem", f->dir);
	assert_int_equal(kc_cert_save_file(f->ca, p, &err), -ENOENT);
	free(p);
}

/* net/tls shares keys and CA certificates between threads without locks. That relies on
 * mbedTLS 2.28 never writing to them while signing or verifying: its pk layer works on a
 * per-call copy of an EC key (the group's lazily built table of multiples of G is the only
 * cache an EC key has). Guard the assumption, e.g. against an mbedTLS upgrade. */
static void test_shared_objects_untouched(void **state)
{
	struct fixture *f = *state;
	struct kc_err err = { 0 };
	struct kc_str pem = KC_STR_INIT;
	kc_cert_to_pem(f->ca, &pem);
	struct kc_cert *ca;
	assert_int_equal(kc_cert_parse(pem.buf, pem.len, &ca, &err), 0);
	kc_str_free(&pem);
	assert_int_equal(kc_key_to_pem(f->ca_key, &pem, &err), 0);
	struct kc_key *ca_key;
	assert_int_equal(kc_key_parse(pem.buf, pem.len, &ca_key, &err), 0);
	kc_str_free(&pem);

	mbedtls_ecp_keypair *cert_ec = mbedtls_pk_ec(kc_cert_mbedtls(ca)->pk);
	mbedtls_ecp_keypair *key_ec = mbedtls_pk_ec(*kc_key_mbedtls(ca_key));
	assert_int_equal(mbedtls_pk_get_type(&kc_cert_mbedtls(ca)->pk), MBEDTLS_PK_ECKEY);
	assert_int_equal(mbedtls_pk_get_type(kc_key_mbedtls(ca_key)), MBEDTLS_PK_ECKEY);
	const mbedtls_ecp_point *cert_t = cert_ec->grp.T, *key_t = key_ec->grp.T;
	assert_null(cert_t);

	/* verify with the CA's public key, sign with its private key */
	assert_int_equal(kc_cert_verify(f->server, ca, &err), 0);
	struct kc_cert_spec s = { .cn = "t", .not_before = f->now, .not_after = f->now + 60 };
	struct kc_cert *c;
	assert_int_equal(kc_cert_sign_client(ca, ca_key, f->client_key, &s, &c, &err), 0);
	assert_int_equal(kc_cert_verify(c, ca, &err), 0);

	assert_ptr_equal(cert_ec->grp.T, cert_t);
	assert_ptr_equal(key_ec->grp.T, key_t);
	kc_cert_free(c);
	kc_cert_free(ca);
	kc_key_free(ca_key);
}

/* What kc writes, openssl accepts; what openssl writes, kc reads. */
static void test_openssl_interop(void **state)
{
	struct fixture *f = *state;
	if (!have_openssl()) {
		print_message("openssl not installed: skipping interop checks\n");
		return;
	}
	struct kc_err err = { 0 };
	char *ca = path_in(f, "i-ca.pem"), *srv = path_in(f, "i-server.pem");
	char *cli = path_in(f, "i-client.pem"), *key = path_in(f, "i-client-key.pem");
	assert_int_equal(kc_cert_save_file(f->ca, ca, &err), 0);
	assert_int_equal(kc_cert_save_file(f->server, srv, &err), 0);
	assert_int_equal(kc_cert_save_file(f->client, cli, &err), 0);
	assert_int_equal(kc_key_save_file(f->client_key, key, &err), 0);

	char *cmd = xasprintf("openssl verify -purpose sslserver -CAfile '%s' '%s'", ca, srv);
	char *out = run(cmd);
	assert_non_null(out);
	assert_non_null(strstr(out, ": OK"));
	free(out);
	free(cmd);
	cmd = xasprintf("openssl verify -purpose sslclient -CAfile '%s' '%s'", ca, cli);
	out = run(cmd);
	assert_non_null(out);
	free(out);
	free(cmd);
	/* a client certificate is not good for a server, and vice versa */
	cmd = xasprintf("openssl verify -purpose sslserver -CAfile '%s' '%s'", ca, cli);
	out = run_cmd(cmd, true);
	assert_null(out);
	free(cmd);

	cmd = xasprintf("openssl x509 -noout -text -in '%s'", ca);
	out = run(cmd);
	assert_non_null(out);
	assert_non_null(strstr(out, "CA:TRUE"));
	assert_non_null(strstr(out, "Certificate Sign"));
	assert_non_null(strstr(out, "ecdsa-with-SHA256"));
	assert_non_null(strstr(out, "prime256v1"));
	assert_non_null(strstr(out, "Subject: CN = kc-cluster-ca"));
	free(out);
	free(cmd);

	cmd = xasprintf("openssl x509 -noout -text -in '%s'", srv);
	out = run(cmd);
	assert_non_null(out);
	assert_non_null(strstr(out, "DNS:localhost, DNS:api.kc.test, DNS:*.svc.kc.test"));
	assert_non_null(strstr(out, "IP Address:127.0.0.1, IP Address:10.96.0.1"));
	assert_non_null(strstr(out, "IP Address:0:0:0:0:0:0:0:1"));
	assert_non_null(strstr(out, "IP Address:FD00:10:0:0:0:0:0:1"));
	assert_non_null(strstr(out, "TLS Web Server Authentication"));
	assert_non_null(strstr(out, "CA:FALSE"));
	assert_non_null(strstr(out, "Issuer: CN = kc-cluster-ca"));
	free(out);
	free(cmd);

	cmd = xasprintf("openssl x509 -noout -text -in '%s'", cli);
	out = run(cmd);
	assert_non_null(out);
	assert_non_null(
		strstr(out, "Subject: O = system:masters, O = devs, O = ops team, CN = alice"));
	assert_non_null(strstr(out, "TLS Web Client Authentication"));
	free(out);
	free(cmd);

	/* the serial is 128 bits */
	cmd = xasprintf("openssl x509 -noout -serial -in '%s'", ca);
	out = run(cmd);
	assert_non_null(out);
	assert_int_equal(strlen(out), strlen("serial=") + 32 + 1);
	free(out);
	free(cmd);

	/* the CA pin matches openssl's fingerprint */
	cmd = xasprintf("openssl x509 -noout -fingerprint -sha256 -in '%s' | tr -d ':' | "
			"tr 'A-F' 'a-f'", ca);
	out = run(cmd);
	assert_non_null(out);
	uint8_t pin[KC_SHA256_LEN];
	char hex[KC_SHA256_HEX_LEN + 1];
	kc_cert_sha256(f->ca, pin);
	kc_hex_encode(pin, sizeof pin, hex);
	assert_non_null(strstr(out, hex));
	free(out);
	free(cmd);

	cmd = xasprintf("openssl pkey -noout -in '%s'", key);
	out = run(cmd);
	assert_non_null(out);
	free(out);
	free(cmd);

	/* openssl-made PKCS#8 RSA key and certificate load, match, and verify (self-signed) */
	char *rkey = path_in(f, "rsa-key.pem"), *rcrt = path_in(f, "rsa.pem");
	cmd = xasprintf(
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' "
		"-days 2 -subj '/O=ops/CN=rsa.kc.test' -addext 'subjectAltName=DNS:rsa.kc.test'",
		rkey, rcrt);
	out = run(cmd);
	assert_non_null(out);
	free(out);
	free(cmd);
	struct kc_cert *rc;
	struct kc_key *rk;
	assert_int_equal(kc_cert_load_file(rcrt, &rc, &err), 0);
	assert_int_equal(kc_key_load_file(rkey, &rk, &err), 0);
	assert_true(kc_cert_matches_key(rc, rk));
	assert_int_equal(kc_cert_verify(rc, rc, &err), 0);
	struct kc_cert_info info;
	assert_int_equal(kc_cert_get_info(rc, &info, &err), 0);
	assert_string_equal(info.cn, "rsa.kc.test");
	assert_int_equal(info.norgs, 1);
	assert_string_equal(info.orgs[0], "ops");
	assert_int_equal(info.ndns, 1);
	kc_cert_info_free(&info);
	struct kc_key *rk2 = kc_key_dup(rk);
	assert_true(kc_cert_matches_key(rc, rk2));
	kc_key_free(rk2);
	kc_cert_free(rc);
	kc_key_free(rk);
	free(rkey);
	free(rcrt);
	free(ca);
	free(srv);
	free(cli);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca),
		cmocka_unit_test(test_server_cert),
		cmocka_unit_test(test_client_cert),
		cmocka_unit_test(test_peer_cert),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_chain_pem),
		cmocka_unit_test(test_verify_failures),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_shared_objects_untouched),
		cmocka_unit_test(test_openssl_interop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
