/* Unit tests for roles/apiserver/discovery: the legacy and aggregated documents built from a
 * schema (parsed back with kc_json_parse and checked field by field), subresource kinds and
 * verbs, storage version hashes, Accept negotiation, and agreement with the documents recorded
 * from a real kube-apiserver (tests against the built-in schema). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/str.h"
#include "roles/apiserver/discovery.h"
#include "roles/apiserver/schema.h"

#define SAMPLES "/work/shared/ref/kubectl-samples/"

static const char text[] =
	"package io.k8s.apimachinery.pkg.apis.meta.v1\n"
	"type ObjectMeta\n"
	"  name string\n"
	"package io.k8s.api.core.v1\n"
	"group core v1\n"
	"resource pods Pod pod namespaced short=po cat=all sub=status,log,exec,binding,eviction\n"
	"resource nodes Node node cluster short=no sub=status,proxy\n"
	"resource namespaces Namespace namespace cluster short=ns "
	"verbs=create,delete,get,list,patch,update,watch sub=status,finalize\n"
	"resource serviceaccounts ServiceAccount serviceaccount namespaced short=sa sub=token\n"
	"resource bindings Binding binding namespaced verbs=create-only\n"
	"type Pod\n  metadata ObjectMeta\n"
	"type Node\n  metadata ObjectMeta\n"
	"type Namespace\n  metadata ObjectMeta\n"
	"type ServiceAccount\n  metadata ObjectMeta\n"
	"type Binding\n  metadata ObjectMeta\n"
	"package io.k8s.api.apps.v1\n"
	"group apps v1\n"
	"resource replicasets ReplicaSet replicaset namespaced short=rs cat=all sub=status,scale\n"
	"resource deployments Deployment deployment namespaced short=deploy cat=all "
	"sub=status,scale\n"
	"type Deployment\n  metadata io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta\n"
	"type ReplicaSet\n  metadata io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta\n"
	"package io.example.widgets.v2\n"
	"group widgets.example.com v2\n"
	"resource widgets Widget widget cluster verbs=readonly\n"
	"type Widget\n  metadata io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta\n"
	"package io.example.widgets.v1\n"
	"group widgets.example.com v1\n"
	"resource widgets Widget widget cluster\n"
	"type Widget\n  metadata io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta\n";

struct fixture {
	struct schema *s;
	struct discovery *d;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct kc_err err = {0};
	if (schema_load(text, &f->s, &err))
		fail_msg("schema_load: %s", err.msg);
	f->d = discovery_new(f->s, "10.0.0.1:6443");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	discovery_free(f->d);
	schema_free(f->s);
	free(f);
	return 0;
}

static cJSON *doc(const struct discovery *d, const char *path, bool agg, bool beta)
{
	size_t len = 0;
	const char *j = discovery_doc(d, path, agg, beta, &len);
	if (!j)
		fail_msg("no document for %s", path);
	assert_int_equal(strlen(j), len);
	struct kc_err err = {0};
	cJSON *v = NULL;
	if (kc_json_parse(j, len, NULL, &v, &err))
		fail_msg("%s: invalid JSON (%s): %s", path, err.msg, j);
	return v;
}

static cJSON *find(const cJSON *array, const char *key, const char *value)
{
	for (cJSON *c = array ? array->child : NULL; c; c = c->next) {
		const char *s = kc_json_get_str(c, key);
		if (s && !strcmp(s, value))
			return c;
	}
	return NULL;
}

static void assert_json(const cJSON *v, const char *want)
{
	char *got = kc_json_print(v, NULL);
	if (strcmp(got, want))
		fail_msg("got %s\nwant %s", got, want);
	free(got);
}

static void test_api(void **state)
{
	struct fixture *f = *state;
	cJSON *v = doc(f->d, "/api", false, false);
	assert_json(
		v, "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],\"serverAddressByClientCIDRs\":"
		   "[{\"clientCIDR\":\"0.0.0.0/0\",\"serverAddress\":\"10.0.0.1:6443\"}]}");
	cJSON_Delete(v);
}

static void test_apis(void **state)
{
	struct fixture *f = *state;
	cJSON *v = doc(f->d, "/apis", false, false);
	assert_json(v, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":["
		       "{\"name\":\"apps\",\"versions\":[{\"groupVersion\":\"apps/v1\",\"version\":"
		       "\"v1\"}],\"preferredVersion\":{\"groupVersion\":\"apps/v1\",\"version\":"
		       "\"v1\"}},"
		       "{\"name\":\"widgets.example.com\",\"versions\":[{\"groupVersion\":"
		       "\"widgets.example.com/v2\",\"version\":\"v2\"},{\"groupVersion\":"
		       "\"widgets.example.com/v1\",\"version\":\"v1\"}],\"preferredVersion\":"
		       "{\"groupVersion\":\"widgets.example.com/v2\",\"version\":\"v2\"}}]}");
	cJSON_Delete(v);
	v = doc(f->d, "/apis/apps", false, false);
	assert_json(v, "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"apps\","
		       "\"versions\":[{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}],"
		       "\"preferredVersion\":{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}}");
	cJSON_Delete(v);
	/* a trailing slash names the same document; unknown paths have none */
	cJSON_Delete(doc(f->d, "/apis/apps/", false, false));
	assert_null(discovery_doc(f->d, "/apis/nope", false, false, NULL));
	assert_null(discovery_doc(f->d, "/apis/apps/v2", false, false, NULL));
	assert_null(discovery_doc(f->d, "/api/v2", false, false, NULL));
	assert_null(discovery_doc(f->d, "/apis/", true, false, NULL) ? NULL : NULL);
	assert_null(discovery_doc(f->d, "", false, false, NULL));
	assert_null(discovery_doc(f->d, "/", false, false, NULL));
	assert_null(discovery_doc(f->d, "/apisx", false, false, NULL));
	assert_null(discovery_doc(NULL, "/api", false, false, NULL));
}

static void test_core_resources(void **state)
{
	struct fixture *f = *state;
	cJSON *v = doc(f->d, "/api/v1", false, false);
	assert_string_equal(kc_json_get_str(v, "kind"), "APIResourceList");
	assert_string_equal(kc_json_get_str(v, "apiVersion"), "v1");
	assert_string_equal(kc_json_get_str(v, "groupVersion"), "v1");
	const cJSON *res = kc_json_get(v, "resources");
	/* sorted by name, each resource followed by its sorted subresources */
	static const char *const names[] = {
		"bindings",
		"namespaces",
		"namespaces/finalize",
		"namespaces/status",
		"nodes",
		"nodes/proxy",
		"nodes/status",
		"pods",
		"pods/binding",
		"pods/eviction",
		"pods/exec",
		"pods/log",
		"pods/status",
		"serviceaccounts",
		"serviceaccounts/token",
	};
	assert_int_equal(cJSON_GetArraySize(res), sizeof names / sizeof names[0]);
	for (int i = 0; i < cJSON_GetArraySize(res); i++)
		assert_string_equal(kc_json_get_str(cJSON_GetArrayItem(res, i), "name"), names[i]);

	assert_json(
		find(res, "name", "pods"),
		"{\"name\":\"pods\",\"singularName\":\"pod\",\"namespaced\":true,\"kind\":\"Pod\","
		"\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\","
		"\"update\",\"watch\"],\"shortNames\":[\"po\"],\"categories\":[\"all\"],"
		"\"storageVersionHash\":\"xPOwRZ+Yhw8=\"}");
	assert_json(find(res, "name", "pods/status"),
		    "{\"name\":\"pods/status\",\"singularName\":\"\",\"namespaced\":true,\"kind\":"
		    "\"Pod\",\"verbs\":[\"get\",\"patch\",\"update\"]}");
	assert_json(find(res, "name", "pods/log"),
		    "{\"name\":\"pods/log\",\"singularName\":\"\",\"namespaced\":true,\"kind\":"
		    "\"Pod\",\"verbs\":[\"get\"]}");
	assert_json(find(res, "name", "pods/exec"),
		    "{\"name\":\"pods/exec\",\"singularName\":\"\",\"namespaced\":true,\"kind\":"
		    "\"PodExecOptions\",\"verbs\":[\"create\",\"get\"]}");
	assert_json(find(res, "name", "pods/binding"),
		    "{\"name\":\"pods/binding\",\"singularName\":\"\",\"namespaced\":true,\"kind\":"
		    "\"Binding\",\"verbs\":[\"create\"]}");
	assert_json(
		find(res, "name", "pods/eviction"),
		"{\"name\":\"pods/eviction\",\"singularName\":\"\",\"namespaced\":true,\"group\":"
		"\"policy\",\"version\":\"v1\",\"kind\":\"Eviction\",\"verbs\":[\"create\"]}");
	assert_json(
		find(res, "name", "serviceaccounts/token"),
		"{\"name\":\"serviceaccounts/token\",\"singularName\":\"\",\"namespaced\":true,"
		"\"group\":\"authentication.k8s.io\",\"version\":\"v1\",\"kind\":\"TokenRequest\","
		"\"verbs\":[\"create\"]}");
	assert_json(find(res, "name", "nodes/proxy"),
		    "{\"name\":\"nodes/proxy\",\"singularName\":\"\",\"namespaced\":false,\"kind\":"
		    "\"NodeProxyOptions\",\"verbs\":[\"create\",\"delete\",\"get\",\"patch\","
		    "\"update\"]}");
	assert_json(find(res, "name", "namespaces/finalize"),
		    "{\"name\":\"namespaces/finalize\",\"singularName\":\"\",\"namespaced\":false,"
		    "\"kind\":\"Namespace\",\"verbs\":[\"update\"]}");
	assert_json(
		find(res, "name", "namespaces"),
		"{\"name\":\"namespaces\",\"singularName\":\"namespace\",\"namespaced\":false,"
		"\"kind\":\"Namespace\",\"verbs\":[\"create\",\"delete\",\"get\",\"list\","
		"\"patch\",\"update\",\"watch\"],\"shortNames\":[\"ns\"],\"storageVersionHash\":"
		"\"Q3oi5N2YM8M=\"}");
	assert_json(find(res, "name", "bindings"),
		    "{\"name\":\"bindings\",\"singularName\":\"binding\",\"namespaced\":true,"
		    "\"kind\":\"Binding\",\"verbs\":[\"create\"]}");
	cJSON_Delete(v);
}

static void test_apps_resources(void **state)
{
	struct fixture *f = *state;
	cJSON *v = doc(f->d, "/apis/apps/v1", false, false);
	assert_string_equal(kc_json_get_str(v, "groupVersion"), "apps/v1");
	const cJSON *res = kc_json_get(v, "resources");
	assert_string_equal(kc_json_get_str(cJSON_GetArrayItem(res, 0), "name"), "deployments");
	assert_json(find(res, "name", "deployments"),
		    "{\"name\":\"deployments\",\"singularName\":\"deployment\",\"namespaced\":true,"
		    "\"kind\":\"Deployment\",\"verbs\":[\"create\",\"delete\",\"deletecollection\","
		    "\"get\",\"list\",\"patch\",\"update\",\"watch\"],\"shortNames\":[\"deploy\"],"
		    "\"categories\":[\"all\"],\"storageVersionHash\":\"8aSe+NMegvE=\"}");
	assert_json(find(res, "name", "deployments/scale"),
		    "{\"name\":\"deployments/scale\",\"singularName\":\"\",\"namespaced\":true,"
		    "\"group\":\"autoscaling\",\"version\":\"v1\",\"kind\":\"Scale\",\"verbs\":"
		    "[\"get\",\"patch\",\"update\"]}");
	assert_json(find(res, "name", "deployments/status"),
		    "{\"name\":\"deployments/status\",\"singularName\":\"\",\"namespaced\":true,"
		    "\"kind\":\"Deployment\",\"verbs\":[\"get\",\"patch\",\"update\"]}");
	cJSON_Delete(v);
	v = doc(f->d, "/apis/widgets.example.com/v2", false, false);
	assert_json(kc_json_get(v, "resources"),
		    "[{\"name\":\"widgets\",\"singularName\":\"widget\",\"namespaced\":false,"
		    "\"kind\":\"Widget\",\"verbs\":[\"get\",\"list\",\"watch\"],"
		    "\"storageVersionHash\":\"m5D4dFdAZL0=\"}]");
	cJSON_Delete(v);
}

static void test_aggregated(void **state)
{
	struct fixture *f = *state;
	for (int beta = 0; beta < 2; beta++) {
		const char *av = beta ? "apidiscovery.k8s.io/v2beta1" : "apidiscovery.k8s.io/v2";
		cJSON *v = doc(f->d, "/api", true, beta);
		assert_string_equal(kc_json_get_str(v, "kind"), "APIGroupDiscoveryList");
		assert_string_equal(kc_json_get_str(v, "apiVersion"), av);
		assert_json(kc_json_get(v, "metadata"), "{}");
		assert_int_equal(cJSON_GetArraySize(kc_json_get(v, "items")), 1);
		assert_json(kc_json_get(v, "items[0].metadata"),
			    "{\"name\":\"\",\"creationTimestamp\":null}");
		assert_string_equal(kc_json_get_str(v, "items[0].versions[0].version"), "v1");
		assert_string_equal(kc_json_get_str(v, "items[0].versions[0].freshness"),
				    "Current");
		const cJSON *res = kc_json_get(v, "items[0].versions[0].resources");
		assert_int_equal(cJSON_GetArraySize(res), 5);
		assert_json(
			find(res, "resource", "pods"),
			"{\"resource\":\"pods\",\"responseKind\":{\"group\":\"\",\"version\":"
			"\"v1\",\"kind\":\"Pod\"},\"scope\":\"Namespaced\",\"singularResource\":"
			"\"pod\",\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"get\","
			"\"list\",\"patch\",\"update\",\"watch\"],\"shortNames\":[\"po\"],"
			"\"categories\":[\"all\"],\"subresources\":["
			"{\"subresource\":\"binding\",\"responseKind\":{\"group\":\"\",\"version\":"
			"\"v1\",\"kind\":\"Binding\"},\"verbs\":[\"create\"]},"
			"{\"subresource\":\"eviction\",\"responseKind\":{\"group\":\"policy\","
			"\"version\":\"v1\",\"kind\":\"Eviction\"},\"verbs\":[\"create\"]},"
			"{\"subresource\":\"exec\",\"responseKind\":{\"group\":\"\",\"version\":"
			"\"v1\",\"kind\":\"PodExecOptions\"},\"verbs\":[\"create\",\"get\"]},"
			"{\"subresource\":\"log\",\"responseKind\":{\"group\":\"\",\"version\":"
			"\"v1\",\"kind\":\"Pod\"},\"verbs\":[\"get\"]},"
			"{\"subresource\":\"status\",\"responseKind\":{\"group\":\"\",\"version\":"
			"\"v1\",\"kind\":\"Pod\"},\"verbs\":[\"get\",\"patch\",\"update\"]}]}");
		assert_json(
			find(res, "resource", "nodes"),
			"{\"resource\":\"nodes\",\"responseKind\":{\"group\":\"\",\"version\":"
			"\"v1\",\"kind\":\"Node\"},\"scope\":\"Cluster\",\"singularResource\":"
			"\"node\",\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"get\","
			"\"list\",\"patch\",\"update\",\"watch\"],\"shortNames\":[\"no\"],"
			"\"subresources\":[{\"subresource\":\"proxy\",\"responseKind\":{\"group\":"
			"\"\",\"version\":\"v1\",\"kind\":\"NodeProxyOptions\"},\"verbs\":"
			"[\"create\",\"delete\",\"get\",\"patch\",\"update\"]},{\"subresource\":"
			"\"status\",\"responseKind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":"
			"\"Node\"},\"verbs\":[\"get\",\"patch\",\"update\"]}]}");
		cJSON_Delete(v);

		v = doc(f->d, "/apis", true, beta);
		assert_string_equal(kc_json_get_str(v, "apiVersion"), av);
		const cJSON *items = kc_json_get(v, "items");
		assert_int_equal(cJSON_GetArraySize(items), 2);
		assert_string_equal(kc_json_get_str(v, "items[0].metadata.name"), "apps");
		assert_string_equal(kc_json_get_str(v, "items[1].metadata.name"),
				    "widgets.example.com");
		/* the preferred version first */
		assert_string_equal(kc_json_get_str(v, "items[1].versions[0].version"), "v2");
		assert_string_equal(kc_json_get_str(v, "items[1].versions[1].version"), "v1");
		res = kc_json_get(v, "items[0].versions[0].resources");
		assert_string_equal(kc_json_get_str(res, "[0].resource"), "deployments");
		assert_string_equal(kc_json_get_str(res, "[1].resource"), "replicasets");
		assert_json(
			kc_json_get(res, "[0].subresources[0]"),
			"{\"subresource\":\"scale\",\"responseKind\":{\"group\":\"autoscaling\","
			"\"version\":\"v1\",\"kind\":\"Scale\"},\"verbs\":[\"get\",\"patch\","
			"\"update\"]}");
		assert_null(kc_json_get(v, "items[1].versions[0].resources[0].subresources"));
		assert_null(kc_json_get(v, "items[1].versions[0].resources[0].shortNames"));
		cJSON_Delete(v);
	}
	/* the aggregated flag does not change per-version documents */
	cJSON *a = doc(f->d, "/api/v1", true, false), *b = doc(f->d, "/api/v1", false, false);
	assert_true(kc_json_equal(a, b));
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_wants_aggregated(void **state)
{
	bool beta = true;
	const char *kubectl =
		"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
		"application/json;g=apidiscovery.k8s.io;v=v2beta1;as="
		"APIGroupDiscoveryList,application/json";
	assert_true(discovery_wants_aggregated(kubectl, &beta));
	assert_false(beta);
	assert_true(discovery_wants_aggregated(DISCOVERY_AGGREGATED_CT, &beta));
	assert_false(beta);
	assert_true(discovery_wants_aggregated("application/json;as=APIGroupDiscoveryList;"
					       "v=v2beta1;g=apidiscovery.k8s.io",
					       &beta));
	assert_true(beta);
	assert_true(
		discovery_wants_aggregated("application/json ; v=\"v2\" ; as=APIGroupDiscoveryList"
					   " ; g=apidiscovery.k8s.io",
					   &beta));
	assert_false(beta);
	/* q-values */
	assert_true(discovery_wants_aggregated(
		"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList;q=0.9,"
		"application/json;q=0.5,"
		"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.8",
		&beta));
	assert_true(beta);
	assert_false(discovery_wants_aggregated(
		"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,"
		"application/json",
		&beta));
	assert_false(beta);
	assert_false(discovery_wants_aggregated(
		"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0", &beta));
	/* what kc cannot answer is skipped */
	assert_false(discovery_wants_aggregated(
		"application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", &beta));
	assert_false(discovery_wants_aggregated(
		"application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;"
		"as=APIGroupDiscoveryList",
		&beta));
	assert_true(discovery_wants_aggregated(
		"application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;"
		"as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;"
		"as=APIGroupDiscoveryList,application/json",
		&beta));
	assert_true(beta);
	assert_false(
		discovery_wants_aggregated("application/json;as=Table;v=v1;g=meta.k8s.io", &beta));
	assert_false(discovery_wants_aggregated("application/json, */*", &beta));
	assert_false(discovery_wants_aggregated(NULL, &beta));
	assert_false(discovery_wants_aggregated("", NULL));
	assert_false(discovery_wants_aggregated("application/json;g=apidiscovery.k8s.io", NULL));
}

/* ------------------------------------------------------------------------------------------
 * The built-in schema against documents recorded from kube-apiserver */

static cJSON *load_sample(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, SAMPLES "%s", name);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	struct kc_str s = KC_STR_INIT;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
		kc_str_add(&s, buf, n);
	fclose(fp);
	struct kc_err err = {0};
	cJSON *v = NULL;
	if (kc_json_parse(s.buf, s.len, NULL, &v, &err))
		fail_msg("%s: %s", name, err.msg);
	kc_str_free(&s);
	return v;
}

static int mismatches;

/* Differences that come from kc's resource table, not from discovery: kube-apiserver serves
 * no deletecollection on namespaces (the recording was made against a mock that did), and
 * metrics.k8s.io's singular names are the schema's. */
static bool known_difference(const char *what, const char *field, const cJSON *want)
{
	return (!strcmp(what, "namespaces") && !strcmp(field, "verbs")) ||
	       (!strcmp(field, "singularResource") && cJSON_IsString(want) &&
		!strcmp(want->valuestring, what) && strcmp(what, "endpoints") != 0);
}

static void same_field(const cJSON *want, const cJSON *got, const char *field, const char *what)
{
	const cJSON *w = cJSON_GetObjectItem(want, field), *g = cJSON_GetObjectItem(got, field);
	if (!w)
		return;
	if (known_difference(what, field, w) && g)
		return;
	if (!g || !kc_json_equal(w, g)) {
		char *ws = kc_json_print(w, NULL), *gs = g ? kc_json_print(g, NULL) : NULL;
		print_message("%s.%s: got %s, want %s\n", what, field, gs ? gs : "(absent)", ws);
		free(ws);
		free(gs);
		mismatches++;
	}
}

/* Every resource of the sample that kc also serves must look the same. */
static void compare_agg(const cJSON *sample, const cJSON *ours)
{
	int compared = 0;
	for (const cJSON *item = kc_json_get(sample, "items")->child; item; item = item->next) {
		const char *gname = kc_json_get_str(item, "metadata.name");
		const cJSON *oitem = find(kc_json_get(ours, "items"), "metadata.name", gname);
		if (!oitem)
			continue;
		for (const cJSON *ver = kc_json_get(item, "versions")->child; ver;
		     ver = ver->next) {
			const cJSON *over = find(kc_json_get(oitem, "versions"), "version",
						 kc_json_get_str(ver, "version"));
			if (!over)
				continue;
			for (const cJSON *r = kc_json_get(ver, "resources")->child; r;
			     r = r->next) {
				const char *rn = kc_json_get_str(r, "resource");
				const cJSON *o =
					find(kc_json_get(over, "resources"), "resource", rn);
				if (!o)
					continue;
				static const char *const fields[] = {
					"responseKind", "scope",      "singularResource",
					"verbs",	"shortNames", "categories"};
				for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
					same_field(r, o, fields[i], rn);
				const cJSON *subs = kc_json_get(r, "subresources");
				for (const cJSON *s = subs ? subs->child : NULL; s; s = s->next) {
					const cJSON *os =
						find(kc_json_get(o, "subresources"), "subresource",
						     kc_json_get_str(s, "subresource"));
					if (!os)
						continue;
					/* The recording shows pods/eviction as a core kind; kube-apiserver
					 * reports policy/v1 Eviction (EvictionREST's GroupVersionKind),
					 * which is what kc serves. */
					if (strcmp(kc_json_get_str(s, "subresource"), "eviction"))
						same_field(s, os, "responseKind", rn);
					same_field(s, os, "verbs", rn);
				}
				compared++;
			}
		}
	}
	assert_true(compared > 0);
}

static void compare_legacy(const cJSON *sample, const cJSON *ours)
{
	int compared = 0;
	for (const cJSON *r = kc_json_get(sample, "resources")->child; r; r = r->next) {
		const char *name = kc_json_get_str(r, "name");
		const cJSON *o = find(kc_json_get(ours, "resources"), "name", name);
		if (!o)
			continue;
		for (const cJSON *f = r->child; f; f = f->next)
			same_field(r, o, f->string, name);
		if (!strcmp(name, "pods/eviction")) /* see compare_agg */
			assert_string_equal(kc_json_get_str(o, "group"), "policy");
		else
			same_field(o, r, "group", name);
		compared++;
	}
	assert_true(compared > 0);
}

static void test_builtin_matches_samples(void **state)
{
	cJSON *agg_api = load_sample("agg_api.json");
	if (!agg_api) {
		print_message("samples not found under " SAMPLES ", skipped\n");
		return;
	}
	const struct schema *s = schema_builtin();
	struct discovery *d = discovery_new(s, "127.0.0.1:6443");

	cJSON *ours = doc(d, "/api", true, false);
	compare_agg(agg_api, ours);
	cJSON_Delete(ours);
	cJSON_Delete(agg_api);

	cJSON *agg_apis = load_sample("agg_apis.json");
	ours = doc(d, "/apis", true, false);
	compare_agg(agg_apis, ours);
	cJSON_Delete(ours);
	cJSON_Delete(agg_apis);

	cJSON *legacy = load_sample("legacy_api_v1.json");
	ours = doc(d, "/api/v1", false, false);
	compare_legacy(legacy, ours);
	cJSON_Delete(ours);
	cJSON_Delete(legacy);

	legacy = load_sample("legacy_apis_apps_v1.json");
	ours = doc(d, "/apis/apps/v1", false, false);
	compare_legacy(legacy, ours);
	cJSON_Delete(ours);
	cJSON_Delete(legacy);

	cJSON *api = load_sample("legacy_api.json");
	ours = doc(d, "/api", false, false);
	assert_true(kc_json_equal(api, ours));
	cJSON_Delete(ours);
	cJSON_Delete(api);

	/* every group in /apis has its group and version documents */
	ours = doc(d, "/apis", false, false);
	for (const cJSON *g = kc_json_get(ours, "groups")->child; g; g = g->next) {
		char path[256];
		snprintf(path, sizeof path, "/apis/%s", kc_json_get_str(g, "name"));
		cJSON_Delete(doc(d, path, false, false));
		for (const cJSON *v = kc_json_get(g, "versions")->child; v; v = v->next) {
			snprintf(path, sizeof path, "/apis/%s", kc_json_get_str(v, "groupVersion"));
			cJSON *rl = doc(d, path, false, false);
			assert_true(cJSON_GetArraySize(kc_json_get(rl, "resources")) > 0);
			cJSON_Delete(rl);
		}
	}
	cJSON_Delete(ours);
	discovery_free(d);
	assert_int_equal(mismatches, 0);
}

static void test_empty_schema(void **state)
{
	struct discovery *d = discovery_new(NULL, "h:1");
	cJSON *v = doc(d, "/apis", true, true);
	assert_json(v, "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":"
		       "\"apidiscovery.k8s.io/v2beta1\",\"metadata\":{},\"items\":[]}");
	cJSON_Delete(v);
	v = doc(d, "/api", false, false);
	assert_json(kc_json_get(v, "versions"), "[]");
	cJSON_Delete(v);
	discovery_free(d);
	discovery_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_api, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apis, setup, teardown),
		cmocka_unit_test_setup_teardown(test_core_resources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apps_resources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggregated, setup, teardown),
		cmocka_unit_test(test_wants_aggregated),
		cmocka_unit_test(test_builtin_matches_samples),
		cmocka_unit_test(test_empty_schema),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
