/* Unit tests for roles/client/kubeconfig: contexts, inline and file credentials, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/base64.h"
#include "lib/fs.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "roles/client/kubeconfig.h"

static char dir[64];
static struct kc_str ca_pem = KC_STR_INIT, key_pem = KC_STR_INIT;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/kc-kubeconfig-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	struct kc_cert *ca;
	struct kc_key *key;
	struct kc_err err;
	if (kc_ca_create("test-ca", (int64_t)time(NULL), &ca, &key, &err) < 0)
		return -1;
	kc_cert_to_pem(ca, &ca_pem);
	kc_key_to_pem(key, &key_pem, &err);
	kc_cert_free(ca);
	kc_key_free(key);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	kc_str_free(&ca_pem);
	kc_str_free(&key_pem);
	return 0;
}

static const char *write_config(const char *name, const char *text)
{
	static char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct kc_err err;
	assert_int_equal(kc_write_file_atomic(path, text, strlen(text), 0600, &err), 0);
	return path;
}

static void test_inline_ca_and_token(void **state)
{
	(void)state;
	struct kc_str text = KC_STR_INIT;
	kc_str_adds(&text, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
			   "    server: https://127.0.0.1:6443/\n    certificate-authority-data: ");
	kc_base64_encode(&text, ca_pem.buf, ca_pem.len, KC_B64_STD);
	kc_str_adds(&text, "\nusers:\n- name: u\n  user:\n    token: abc\ncontexts:\n"
			   "- name: x\n  context: {cluster: c, user: u, namespace: prod}\n"
			   "- name: other\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
	const char *path = write_config("a.yaml", text.buf);
	struct kc_kubeconfig k;
	struct kc_err err = { 0 };
	assert_int_equal(kubeconfig_load(path, NULL, &k, &err), 0);
	assert_string_equal(k.server, "https://127.0.0.1:6443");
	assert_string_equal(k.ns, "prod");
	assert_non_null(k.ca);
	assert_null(k.cert);
	assert_string_equal(k.token, "abc");
	kubeconfig_free(&k);
	assert_int_equal(kubeconfig_load(path, "other", &k, &err), 0);
	assert_string_equal(k.ns, "default");
	kubeconfig_free(&k);
	assert_int_not_equal(kubeconfig_load(path, "nope", &k, &err), 0);
	assert_non_null(strstr(err.msg, "context \"nope\" not found"));
	kc_str_free(&text);
}

static void test_files_relative_to_config(void **state)
{
	(void)state;
	write_config("ca.crt", ca_pem.buf);
	write_config("bad.key", "not a key");
	const char *path = write_config(
		"b.yaml", "clusters:\n- name: c\n  cluster: {server: 'https://h:1', "
			  "certificate-authority: ca.crt}\nusers:\n- name: u\n  user: "
			  "{client-certificate: ca.crt, client-key: bad.key}\ncontexts:\n- name: "
			  "x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
	struct kc_kubeconfig k;
	struct kc_err err = { 0 };
	assert_int_not_equal(kubeconfig_load(path, NULL, &k, &err), 0);
	assert_non_null(strstr(err.msg, "client-key"));
}

static void test_syntax_error_names_line(void **state)
{
	(void)state;
	const char *path = write_config("c.yaml", "clusters:\n- name: c\n  cluster: [\n");
	struct kc_kubeconfig k;
	struct kc_err err = { 0 };
	assert_int_not_equal(kubeconfig_load(path, NULL, &k, &err), 0);
	assert_non_null(strstr(err.msg, "line"));
	path = write_config("d.yaml", "clusters: []\ncontexts: []\n");
	assert_int_not_equal(kubeconfig_load(path, NULL, &k, &err), 0);
	assert_non_null(strstr(err.msg, "current-context"));
}

static void test_env_search(void **state)
{
	(void)state;
	char buf[256], env[256];
	struct kc_err err;
	snprintf(env, sizeof env, "%s/missing:%s/a.yaml", dir, dir);
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(kubeconfig_default_path(buf, sizeof buf, &err), 0);
	assert_non_null(strstr(buf, "/a.yaml"));
	snprintf(env, sizeof env, "%s/missing", dir);
	setenv("KUBECONFIG", env, 1);
	assert_int_not_equal(kubeconfig_default_path(buf, sizeof buf, &err), 0);
	unsetenv("KUBECONFIG");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline_ca_and_token),
		cmocka_unit_test(test_files_relative_to_config),
		cmocka_unit_test(test_syntax_error_names_line),
		cmocka_unit_test(test_env_search),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
