/* Unit tests for the node agent's pure helpers (roles/kubelet/podutil.c, crilog.c): the
 * CrashLoopBackOff sequence, resolv.conf and /etc/hosts as the kubelet writes them, container
 * environment resolution, and CRI log parsing and rendering (partial lines, tail, since,
 * timestamps, limitBytes), and static pod manifests (staticpod.c: names, hash uids, bad files). */
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

#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "roles/kubelet/kubelet_int.h"
#include "runtime/container.h"

static cJSON *js(const char *text)
{
	cJSON *v = NULL;
	struct kc_err err = { 0 };
	if (kc_json_parse(text, strlen(text), NULL, &v, &err) != 0)
		fail_msg("bad test JSON: %s: %s", err.msg, text);
	return v;
}

/* ---- back-off ---- */

static void test_backoff(void **state)
{
	(void)state;
	static const unsigned want[] = { 10, 20, 40, 80, 160, 300, 300 };
	unsigned cur = 0;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		cur = kl_backoff_next(cur);
		assert_int_equal(cur, want[i]);
	}
}

/* ---- resolv.conf ---- */

static const char *HOST_RESOLV = "# host\nnameserver 192.168.1.1\nnameserver 192.168.1.2\n"
				 "search corp.example\noptions timeout:2 rotate\n";

static void resolv(const char *pod_json, const char *want)
{
	cJSON *pod = js(pod_json);
	struct kc_str out = KC_STR_INIT;
	struct kc_err err = { 0 };
	assert_int_equal(kl_resolv_conf(pod, "10.43.0.10", "cluster.local", HOST_RESOLV, &out, &err),
			 0);
	kc_str_addc(&out, 0);
	assert_string_equal(out.buf, want);
	kc_str_free(&out);
	cJSON_Delete(pod);
}

static void test_resolv_cluster_first(void **state)
{
	(void)state;
	resolv("{\"metadata\":{\"namespace\":\"web\"},\"spec\":{}}",
	       "nameserver 10.43.0.10\n"
	       "search web.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
	       "options ndots:5\n");
}

static void test_resolv_default_and_host_network(void **state)
{
	(void)state;
	const char *want = "nameserver 192.168.1.1\nnameserver 192.168.1.2\n"
			   "search corp.example\noptions timeout:2 rotate\n";
	resolv("{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"dnsPolicy\":\"Default\"}}", want);
	/* ClusterFirst on the host network falls back to the node's file */
	resolv("{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"hostNetwork\":true}}", want);
	resolv("{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"hostNetwork\":true,"
	       "\"dnsPolicy\":\"ClusterFirstWithHostNet\"}}",
	       "nameserver 10.43.0.10\n"
	       "search a.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
	       "options ndots:5\n");
}

static void test_resolv_dns_config(void **state)
{
	(void)state;
	resolv("{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"dnsPolicy\":\"None\",\"dnsConfig\":{"
	       "\"nameservers\":[\"1.1.1.1\"],\"searches\":[\"x.example\",\"x.example\"],"
	       "\"options\":[{\"name\":\"ndots\",\"value\":\"2\"},{\"name\":\"edns0\"}]}}}",
	       "nameserver 1.1.1.1\nsearch x.example\noptions ndots:2 edns0\n");
	/* dnsConfig merges into ClusterFirst; an option given again replaces the default */
	resolv("{\"metadata\":{\"namespace\":\"a\"},\"spec\":{\"dnsConfig\":{"
	       "\"searches\":[\"extra.example\"],\"options\":[{\"name\":\"ndots\",\"value\":\"1\"}]}}}",
	       "nameserver 10.43.0.10\n"
	       "search a.svc.cluster.local svc.cluster.local cluster.local corp.example "
	       "extra.example\noptions ndots:1\n");
	cJSON *pod = js("{\"spec\":{\"dnsPolicy\":\"None\"}}");
	struct kc_str out = KC_STR_INIT;
	struct kc_err err = { 0 };
	assert_int_equal(kl_resolv_conf(pod, "10.43.0.10", "cluster.local", NULL, &out, &err),
			 -KC_EINVAL);
	assert_non_null(strstr(err.msg, "nameserver"));
	kc_str_free(&out);
	cJSON_Delete(pod);
}

/* ---- hosts ---- */

static void test_hosts(void **state)
{
	(void)state;
	cJSON *pod = js("{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"shop\"},\"spec\":{"
			"\"hostname\":\"db\",\"subdomain\":\"hl\",\"hostAliases\":["
			"{\"ip\":\"10.1.2.3\",\"hostnames\":[\"foo.local\",\"bar.local\"]}]}}");
	struct kc_str out = KC_STR_INIT;
	kl_hosts_file(pod, "10.42.0.7", "cluster.local", &out);
	kc_str_addc(&out, 0);
	assert_non_null(strstr(out.buf, "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
	assert_non_null(strstr(out.buf, "10.42.0.7\tdb.hl.shop.svc.cluster.local\tdb\n"));
	assert_non_null(strstr(out.buf, "\n# Entries added by HostAliases.\n"
					"10.1.2.3\tfoo.local\tbar.local\n"));
	kc_str_free(&out);
	cJSON_Delete(pod);

	pod = js("{\"metadata\":{\"name\":\"plain\"},\"spec\":{}}");
	kl_hosts_file(pod, "10.42.0.8", "cluster.local", &out);
	kc_str_addc(&out, 0);
	assert_non_null(strstr(out.buf, "10.42.0.8\tplain\n"));
	assert_null(strstr(out.buf, "HostAliases"));
	kc_str_free(&out);
	char host[64];
	kl_pod_hostname(pod, host, sizeof host);
	assert_string_equal(host, "plain");
	cJSON_Delete(pod);
}

/* ---- environment ---- */

struct objs {
	cJSON *cm, *secret;
};

static const cJSON *get_cm(void *arg, const char *ns, const char *name)
{
	struct objs *o = arg;
	return !strcmp(ns, "app") && !strcmp(name, "cfg") ? o->cm : NULL;
}

static const cJSON *get_secret(void *arg, const char *ns, const char *name)
{
	struct objs *o = arg;
	return !strcmp(ns, "app") && !strcmp(name, "sec") ? o->secret : NULL;
}

static const char *env_get(char **v, const char *k)
{
	size_t kl = strlen(k);
	for (; *v; v++)
		if (!strncmp(*v, k, kl) && (*v)[kl] == '=')
			return *v + kl + 1;
	return NULL;
}

static void test_env(void **state)
{
	(void)state;
	struct objs o = {
		.cm = js("{\"data\":{\"MODE\":\"fast\",\"LEVEL\":\"3\"}}"),
		.secret = js("{\"data\":{\"PASS\":\"czNjcjN0\"}}"), /* "s3cr3t" */
	};
	cJSON *svcs = js("[{\"metadata\":{\"name\":\"kubernetes\",\"namespace\":\"default\"},"
			 "\"spec\":{\"clusterIP\":\"10.43.0.1\",\"ports\":[{\"name\":\"https\","
			 "\"port\":443,\"protocol\":\"TCP\"}]}},"
			 "{\"metadata\":{\"name\":\"my-db\",\"namespace\":\"app\"},"
			 "\"spec\":{\"clusterIP\":\"10.43.0.9\",\"ports\":[{\"port\":5432}]}}]");
	cJSON *pod = js("{\"metadata\":{\"name\":\"p\",\"namespace\":\"app\",\"uid\":\"u1\","
			"\"labels\":{\"tier\":\"be\"}},\"spec\":{\"nodeName\":\"n1\"}}");
	cJSON *ctr = js("{\"name\":\"c\",\"envFrom\":[{\"configMapRef\":{\"name\":\"cfg\"},"
			"\"prefix\":\"CM_\"}],\"env\":["
			"{\"name\":\"A\",\"value\":\"x\"},"
			"{\"name\":\"B\",\"value\":\"$(A)-$(CM_MODE)-$(NOPE)-$$(A)\"},"
			"{\"name\":\"PW\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"sec\",\"key\":\"PASS\"}}},"
			"{\"name\":\"POD\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
			"{\"name\":\"TIER\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['tier']\"}}},"
			"{\"name\":\"IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
			"{\"name\":\"OPT\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"gone\",\"key\":\"k\","
			"\"optional\":true}}}]}");
	struct kl_lookup lk = { .configmap = get_cm, .secret = get_secret, .arg = &o,
				.services = svcs, .node_ip = "10.99.7.2", .pod_ip = "10.42.0.5",
				.node_name = "n1" };
	char **env = NULL;
	size_t n = 0;
	struct kc_err err = { 0 };
	assert_int_equal(kl_env_resolve(pod, ctr, &lk, &env, &n, &err), 0);
	assert_string_equal(env_get(env, "KUBERNETES_SERVICE_HOST"), "10.43.0.1");
	assert_string_equal(env_get(env, "KUBERNETES_SERVICE_PORT"), "443");
	assert_string_equal(env_get(env, "KUBERNETES_SERVICE_PORT_HTTPS"), "443");
	assert_string_equal(env_get(env, "KUBERNETES_PORT_443_TCP"), "tcp://10.43.0.1:443");
	assert_string_equal(env_get(env, "MY_DB_SERVICE_HOST"), "10.43.0.9");
	assert_string_equal(env_get(env, "MY_DB_PORT"), "tcp://10.43.0.9:5432");
	assert_string_equal(env_get(env, "CM_MODE"), "fast");
	assert_string_equal(env_get(env, "CM_LEVEL"), "3");
	assert_string_equal(env_get(env, "A"), "x");
	assert_string_equal(env_get(env, "B"), "x-fast-$(NOPE)-$(A)");
	assert_string_equal(env_get(env, "PW"), "s3cr3t");
	assert_string_equal(env_get(env, "POD"), "p");
	assert_string_equal(env_get(env, "TIER"), "be");
	assert_string_equal(env_get(env, "IP"), "10.42.0.5");
	assert_null(env_get(env, "OPT"));
	/* service variables come first, env last */
	size_t i_svc = n, i_b = n;
	for (size_t i = 0; i < n; i++) {
		if (!strncmp(env[i], "KUBERNETES_SERVICE_HOST=", 24))
			i_svc = i;
		if (!strncmp(env[i], "B=", 2))
			i_b = i;
	}
	assert_true(i_svc < i_b && i_b < n);
	assert_null(env[n]);
	rt_strv_free(env);

	/* a missing non-optional reference fails with the kubelet's wording */
	cJSON *bad = js("{\"name\":\"c\",\"env\":[{\"name\":\"K\",\"valueFrom\":{\"configMapKeyRef\":"
			"{\"name\":\"cfg\",\"key\":\"MISSING\"}}}]}");
	env = NULL;
	assert_int_equal(kl_env_resolve(pod, bad, &lk, &env, &n, &err), -KC_ENOTFOUND);
	assert_string_equal(err.msg, "couldn't find key MISSING in ConfigMap app/cfg");
	cJSON_Delete(bad);
	bad = js("{\"name\":\"c\",\"envFrom\":[{\"secretRef\":{\"name\":\"nosuch\"}}]}");
	assert_int_equal(kl_env_resolve(pod, bad, &lk, &env, &n, &err), -KC_ENOTFOUND);
	assert_string_equal(err.msg, "secret \"nosuch\" not found");
	cJSON_Delete(bad);

	cJSON_Delete(ctr);
	cJSON_Delete(pod);
	cJSON_Delete(svcs);
	cJSON_Delete(o.cm);
	cJSON_Delete(o.secret);
}

/* ---- CRI logs ---- */

static void test_rfc3339(void **state)
{
	(void)state;
	const char *s = "2024-01-02T03:04:05.123456789Z";
	assert_int_equal(kl_parse_rfc3339_ns(s, strlen(s)), 1704164645123456789LL);
	s = "1970-01-01T00:00:01Z";
	assert_int_equal(kl_parse_rfc3339_ns(s, strlen(s)), 1000000000LL);
	s = "1970-01-01T01:00:01.5+01:00";
	assert_int_equal(kl_parse_rfc3339_ns(s, strlen(s)), 1500000000LL);
	static const char *const bad[] = { "", "1970-01-01", "1970-01-01T00:00:01",
					   "1970-13-01T00:00:01Z", "1970-01-01T00:00:01.Z",
					   "1970-01-01T00:00:01Zjunk", "1970-01-01 00:00:01Z" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(kl_parse_rfc3339_ns(bad[i], strlen(bad[i])), -1);
}

static void test_cri_parse(void **state)
{
	(void)state;
	struct kl_cri_line l;
	const char *s = "2024-01-02T03:04:05.000000001Z stdout F hello world";
	assert_int_equal(kl_cri_parse(s, strlen(s), &l), 0);
	assert_string_equal(l.stream, "stdout");
	assert_false(l.partial);
	assert_int_equal(l.len, 11);
	assert_memory_equal(l.data, "hello world", 11);
	assert_int_equal(l.ts_len, 30);
	s = "2024-01-02T03:04:05Z stderr P part";
	assert_int_equal(kl_cri_parse(s, strlen(s), &l), 0);
	assert_string_equal(l.stream, "stderr");
	assert_true(l.partial);
	/* an empty line has no data after the tag */
	s = "2024-01-02T03:04:05Z stdout F";
	assert_int_equal(kl_cri_parse(s, strlen(s), &l), 0);
	assert_int_equal(l.len, 0);
	static const char *const bad[] = { "", "junk", "2024-01-02T03:04:05Z stdin F x",
					   "2024-01-02T03:04:05Z stdout X x", "notatime stdout F x",
					   "2024-01-02T03:04:05Z stdout" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(kl_cri_parse(bad[i], strlen(bad[i]), &l), -KC_EPARSE);
}

#define T1 "2024-01-02T03:04:01Z"
#define T2 "2024-01-02T03:04:02Z"
#define T3 "2024-01-02T03:04:03Z"
#define T4 "2024-01-02T03:04:04Z"

static const char LOG[] = T1 " stdout F one\n"
			  T2 " stderr P tw\n"
			  T2 " stderr F o\n"
			  "garbage line\n"
			  T3 " stdout F three\n"
			  T4 " stdout F four\n"
			  T4 " stdout P incomplete-last-line-without-newline";

static void render(const struct kl_log_opts *o, const char *want)
{
	struct kc_str out = KC_STR_INIT;
	kl_cri_render(LOG, sizeof LOG - 1, o, &out);
	kc_str_addc(&out, 0);
	assert_string_equal(out.buf, want);
	kc_str_free(&out);
}

static void test_cri_render(void **state)
{
	(void)state;
	struct kl_log_opts o = { .tail_lines = -1, .limit_bytes = -1 };
	render(&o, "one\ntwo\nthree\nfour\n");
	o.tail_lines = 2;
	render(&o, "three\nfour\n");
	o.tail_lines = 0;
	render(&o, "");
	o.tail_lines = 10;
	render(&o, "one\ntwo\nthree\nfour\n");
	o.tail_lines = -1;
	o.timestamps = true;
	render(&o, T1 " one\n" T2 " two\n" T3 " three\n" T4 " four\n");
	o.timestamps = false;
	o.since_ns = kl_parse_rfc3339_ns(T3, strlen(T3));
	render(&o, "three\nfour\n");
	o.since_ns = 0;
	o.limit_bytes = 6;
	render(&o, "one\ntw");
	o.tail_lines = 1;
	o.limit_bytes = 3;
	render(&o, "fou");
}

/* a partial line that was completed later is one line; the incomplete last line is left out
 * (it is still being written) */
static void test_cri_render_partial_only(void **state)
{
	(void)state;
	static const char log[] = T1 " stdout P a\n" T1 " stdout P b\n" T1 " stdout F c\n";
	struct kl_log_opts o = { .tail_lines = -1, .limit_bytes = -1 };
	struct kc_str out = KC_STR_INIT;
	kl_cri_render(log, sizeof log - 1, &o, &out);
	kc_str_addc(&out, 0);
	assert_string_equal(out.buf, "abc\n");
	kc_str_free(&out);
	kl_cri_render("", 0, &o, &out);
	assert_int_equal(out.len, 0);
	kc_str_free(&out);
}

/* ---- static pods ---- */

static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *ann(const cJSON *pod, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(kc_json_get(pod, "metadata.annotations"), key)->valuestring;
}

static void test_static_read(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/kc-test-static.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	struct kubelet k;
	memset(&k, 0, sizeof k);
	snprintf(k.data, sizeof k.data, "%s", tmpl);
	snprintf(k.node, sizeof k.node, "n1");
	kc_map_init(&k.static_bad, free);
	cJSON *pods = NULL;
	/* no directory: nothing, no error */
	assert_int_equal(kl_static_read(&k, &pods), 0);
	assert_int_equal(cJSON_GetArraySize(pods), 0);
	cJSON_Delete(pods);

	char md[600];
	snprintf(md, sizeof md, "%s/manifests", tmpl);
	assert_int_equal(mkdir(md, 0755), 0);
	put(md, "web.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
			    "  annotations: {a: b}\nspec:\n  containers:\n  - name: c\n    image: i:1\n");
	put(md, "db.json", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"db\","
			   "\"namespace\":\"kube-system\",\"uid\":\"x\"},\"spec\":{\"containers\":"
			   "[{\"name\":\"c\",\"image\":\"i:1\"}]}}");
	put(md, "syntax.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n spec: [\n");
	put(md, "deploy.yml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
	put(md, "noctr.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: e}\nspec: {containers: []}\n");
	put(md, "upper.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: Web}\n"
			      "spec: {containers: [{name: c, image: i}]}\n");
	put(md, "notes.txt", "not a manifest");
	assert_int_equal(kl_static_read(&k, &pods), 0);
	assert_int_equal(cJSON_GetArraySize(pods), 2);
	assert_int_equal(k.static_bad.len, 4); /* syntax, deploy, noctr, upper */
	char p[700];
	snprintf(p, sizeof p, "%s/syntax.yaml", md);
	assert_non_null(kc_map_sget(&k.static_bad, p));
	const cJSON *web = NULL, *db = NULL, *x;
	cJSON_ArrayForEach(x, pods) {
		const char *n = kc_json_get_str(x, "metadata.name");
		if (!strcmp(n, "web-n1"))
			web = x;
		else if (!strcmp(n, "db-n1"))
			db = x;
	}
	assert_non_null(web);
	assert_non_null(db);
	assert_string_equal(kc_json_get_str(web, "metadata.namespace"), "default");
	assert_string_equal(kc_json_get_str(db, "metadata.namespace"), "kube-system");
	assert_string_equal(kc_json_get_str(web, "spec.nodeName"), "n1");
	assert_string_equal(ann(web, "kubernetes.io/config.source"), "file");
	assert_string_equal(ann(web, "a"), "b");
	const char *uid = kc_json_get_str(web, "metadata.uid");
	assert_int_equal(strlen(uid), 32);
	assert_string_equal(ann(web, "kubernetes.io/config.hash"), uid);
	assert_string_not_equal(kc_json_get_str(db, "metadata.uid"), "x");
	char uid1[64];
	snprintf(uid1, sizeof uid1, "%s", uid);
	cJSON_Delete(pods);

	/* the same file again: the same uid; a changed one: another */
	assert_int_equal(kl_static_read(&k, &pods), 0);
	cJSON_ArrayForEach(x, pods)
		if (!strcmp(kc_json_get_str(x, "metadata.name"), "web-n1"))
			assert_string_equal(kc_json_get_str(x, "metadata.uid"), uid1);
	cJSON_Delete(pods);
	put(md, "web.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
			    "spec:\n  containers:\n  - name: c\n    image: i:2\n");
	assert_int_equal(kl_static_read(&k, &pods), 0);
	cJSON_ArrayForEach(x, pods)
		if (!strcmp(kc_json_get_str(x, "metadata.name"), "web-n1"))
			assert_string_not_equal(kc_json_get_str(x, "metadata.uid"), uid1);
	cJSON_Delete(pods);
	/* a second file for the same pod is skipped */
	put(md, "web2.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
			     "spec: {containers: [{name: c, image: i}]}\n");
	assert_int_equal(kl_static_read(&k, &pods), 0);
	assert_int_equal(cJSON_GetArraySize(pods), 2);
	cJSON_Delete(pods);

	kc_map_free(&k.static_bad);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_resolv_cluster_first),
		cmocka_unit_test(test_resolv_default_and_host_network),
		cmocka_unit_test(test_resolv_dns_config),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_cri_parse),
		cmocka_unit_test(test_cri_render),
		cmocka_unit_test(test_cri_render_partial_only),
		cmocka_unit_test(test_static_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
