/* Unit tests for roles/apiserver/openapi: the v3 root lists every served group-version with
 * the hash of its document, documents are stable and valid JSON, every PATCH operation
 * declares fieldValidation (what kubectl 1.32 checks), component schemas carry GVKs, merge
 * keys and list types, every $ref resolves, and the Swagger 2.0 document has the same
 * definitions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/json.h"
#include "roles/apiserver/openapi.h"

static cJSON *get_doc(const struct openapi *o, const char *path, const char **etag)
{
	size_t len = 0;
	const char *body = openapi_doc(o, path, &len, etag);
	if (!body)
		fail_msg("no document at %s", path);
	assert_int_equal(strlen(body), len);
	struct kc_json_limits lim = { .max_bytes = 64 << 20 };
	struct kc_err err = { 0 };
	cJSON *v = NULL;
	if (kc_json_parse(body, len, &lim, &v, &err))
		fail_msg("%s does not parse: %s", path, err.msg);
	return v;
}

/* Every "$ref" under v points at an existing entry of defs (prefix + name). */
static void check_refs(const cJSON *v, const cJSON *defs, const char *prefix, size_t *count)
{
	for (const cJSON *c = v->child; c; c = c->next) {
		if (c->string && strcmp(c->string, "$ref") == 0) {
			assert_true(cJSON_IsString(c));
			size_t pl = strlen(prefix);
			if (strncmp(c->valuestring, prefix, pl) != 0)
				fail_msg("$ref %s does not start with %s", c->valuestring, prefix);
			if (!cJSON_GetObjectItemCaseSensitive(defs, c->valuestring + pl))
				fail_msg("$ref %s points nowhere", c->valuestring);
			(*count)++;
		}
		check_refs(c, defs, prefix, count);
	}
}

static bool has_query_param(const cJSON *op, const char *name)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(op, "parameters"))
	{
		const char *n = kc_json_get_str(p, "name"), *in = kc_json_get_str(p, "in");
		if (n && in && strcmp(n, name) == 0 && strcmp(in, "query") == 0)
			return true;
	}
	return false;
}

static void test_root_and_hashes(void **state)
{
	const struct schema *s = schema_builtin();
	struct openapi *o = openapi_new(s);
	const char *etag = NULL;
	cJSON *root = get_doc(o, "/openapi/v3", &etag);
	assert_non_null(etag);
	assert_int_equal(strlen(etag), 18);
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(root, "paths");
	assert_non_null(paths);
	/* every served group-version is listed */
	for (size_t i = 0; i < schema_resource_count(s); i++) {
		const struct api_resource *r = schema_resource_at(s, i);
		char key[256];
		snprintf(key, sizeof key, "%s%s", r->group[0] ? "apis/" : "api/", r->group_version);
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(paths, key);
		if (!e)
			fail_msg("%s missing from the root", key);
	}
	assert_non_null(cJSON_GetObjectItemCaseSensitive(paths, "api/v1"));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(paths, "apis/apps/v1"));
	/* each URL names the document's hash, which is its ETag */
	const cJSON *e;
	size_t ngv = 0;
	cJSON_ArrayForEach(e, paths)
	{
		const char *url = kc_json_get_str(e, "serverRelativeURL");
		assert_non_null(url);
		const char *q = strstr(url, "?hash=");
		assert_non_null(q);
		assert_int_equal(strlen(q + 6), 16);
		for (const char *h = q + 6; *h; h++)
			assert_true((*h >= '0' && *h <= '9') || (*h >= 'A' && *h <= 'F'));
		char path[256];
		snprintf(path, sizeof path, "/openapi/v3/%s", e->string);
		assert_int_equal((size_t)(q - url), strlen(path));
		assert_memory_equal(url, path, strlen(path));
		const char *gv_etag = NULL;
		cJSON *doc = get_doc(o, url, &gv_etag); /* the query is ignored */
		assert_int_equal(strlen(gv_etag), 18);
		assert_memory_equal(gv_etag + 1, q + 6, 16);
		assert_string_equal(kc_json_get_str(doc, "openapi"), "3.0.0");
		assert_string_equal(kc_json_get_str(doc, "info.title"), "Kubernetes");
		cJSON_Delete(doc);
		ngv++;
	}
	/* stable across builds */
	struct openapi *o2 = openapi_new(s);
	size_t l1, l2;
	const char *e1, *e2;
	const char *b1 = openapi_doc(o, "/openapi/v3/api/v1", &l1, &e1);
	const char *b2 = openapi_doc(o2, "/openapi/v3/api/v1", &l2, &e2);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	assert_string_equal(e1, e2);
	b1 = openapi_doc(o, "/openapi/v3", &l1, &e1);
	b2 = openapi_doc(o2, "/openapi/v3", &l2, &e2);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	openapi_free(o2);

	assert_null(openapi_doc(o, "/openapi/v3/apis/nope/v1", NULL, NULL));
	assert_null(openapi_doc(o, "/openapi/v4", NULL, NULL));
	assert_null(openapi_doc(o, NULL, NULL, NULL));
	assert_non_null(openapi_doc(o, "/openapi/v3/apis/apps/v1/", NULL, NULL));
	assert_true(ngv >= 2);
	cJSON_Delete(root);
	openapi_free(o);
	openapi_free(NULL);
}

/* What kubectl 1.32 checks before create/apply: in the GV document of the object, the PATCH
 * operation with the object's GVK declares fieldValidation. Checked for every kind served,
 * and for every PATCH operation (kubectl takes the first it meets, in random map order). */
static void test_patch_field_validation(void **state)
{
	const struct schema *s = schema_builtin();
	struct openapi *o = openapi_new(s);
	for (size_t i = 0; i < schema_resource_count(s); i++) {
		const struct api_resource *r = schema_resource_at(s, i);
		char path[256];
		snprintf(path, sizeof path, "/openapi/v3/%s%s", r->group[0] ? "apis/" : "api/",
			 r->group_version);
		cJSON *doc = get_doc(o, path, NULL);
		const cJSON *item;
		bool found = false;
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc, "paths"))
		{
			const cJSON *patch = cJSON_GetObjectItemCaseSensitive(item, "patch");
			if (!patch)
				continue;
			if (!has_query_param(patch, "fieldValidation") ||
			    !has_query_param(patch, "dryRun") || !has_query_param(patch, "force") ||
			    !has_query_param(patch, "fieldManager"))
				fail_msg("%s: PATCH %s lacks a parameter", path, item->string);
			const cJSON *p;
			cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(patch, "parameters"))
			{
				if (strcmp(kc_json_get_str(p, "name"), "fieldValidation") == 0) {
					assert_string_equal(kc_json_get_str(p, "schema.type"), "string");
					assert_true(kc_json_get_bool(p, "schema.uniqueItems", false));
				}
			}
			const cJSON *gvk = cJSON_GetObjectItemCaseSensitive(
				patch, "x-kubernetes-group-version-kind");
			assert_true(cJSON_IsObject(gvk));
			if (strcmp(kc_json_get_str(gvk, "kind"), r->kind) == 0 &&
			    strcmp(kc_json_get_str(gvk, "group"), r->group) == 0 &&
			    strcmp(kc_json_get_str(gvk, "version"), r->version) == 0)
				found = true;
			assert_string_equal(kc_json_get_str(patch, "x-kubernetes-action"), "patch");
		}
		if ((r->verbs & API_VERB_PATCH) && !found)
			fail_msg("%s: no PATCH operation for %s", path, r->kind);
		cJSON_Delete(doc);
	}

	/* names as kube-apiserver gives them */
	cJSON *core = get_doc(o, "/openapi/v3/api/v1", NULL);
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(core, "paths");
	const cJSON *pod = cJSON_GetObjectItemCaseSensitive(
		paths, "/api/v1/namespaces/{namespace}/pods/{name}");
	assert_non_null(pod);
	assert_string_equal(kc_json_get_str(pod, "get.operationId"), "readCoreV1NamespacedPod");
	assert_string_equal(kc_json_get_str(pod, "put.operationId"), "replaceCoreV1NamespacedPod");
	assert_string_equal(kc_json_get_str(pod, "patch.operationId"), "patchCoreV1NamespacedPod");
	assert_string_equal(kc_json_get_str(pod, "delete.operationId"),
			    "deleteCoreV1NamespacedPod");
	assert_string_equal(kc_json_get_str(pod, "patch.tags[0]"), "core_v1");
	assert_non_null(kc_json_get(pod, "patch.requestBody.content"
					 "[application/strategic-merge-patch+json].schema"));
	const cJSON *coll = cJSON_GetObjectItemCaseSensitive(paths,
							     "/api/v1/namespaces/{namespace}/pods");
	assert_string_equal(kc_json_get_str(coll, "get.operationId"), "listCoreV1NamespacedPod");
	assert_string_equal(kc_json_get_str(coll, "post.operationId"), "createCoreV1NamespacedPod");
	assert_string_equal(kc_json_get_str(coll, "delete.operationId"),
			    "deleteCoreV1CollectionNamespacedPod");
	assert_string_equal(kc_json_get_str(coll, "get.responses[200].content[application/json]"
						  ".schema.$ref"),
			    "#/components/schemas/io.k8s.api.core.v1.PodList");
	assert_true(has_query_param(cJSON_GetObjectItemCaseSensitive(coll, "post"),
				    "fieldValidation"));
	assert_string_equal(kc_json_get_str(cJSON_GetObjectItemCaseSensitive(paths, "/api/v1/pods"),
					    "get.operationId"),
			    "listCoreV1PodForAllNamespaces");
	assert_string_equal(
		kc_json_get_str(cJSON_GetObjectItemCaseSensitive(paths, "/api/v1/watch/pods"),
				"get.operationId"),
		"watchCoreV1PodListForAllNamespaces");
	assert_string_equal(
		kc_json_get_str(cJSON_GetObjectItemCaseSensitive(
					paths, "/api/v1/namespaces/{namespace}/pods/{name}/status"),
				"patch.operationId"),
		"patchCoreV1NamespacedPodStatus");
	assert_string_equal(
		kc_json_get_str(cJSON_GetObjectItemCaseSensitive(
					paths, "/api/v1/namespaces/{namespace}/pods/{name}/log"),
				"get.operationId"),
		"readCoreV1NamespacedPodLog");
	assert_string_equal(
		kc_json_get_str(cJSON_GetObjectItemCaseSensitive(paths, "/api/v1/nodes/{name}"),
				"get.operationId"),
		"readCoreV1Node");
	cJSON_Delete(core);

	cJSON *apps = get_doc(o, "/openapi/v3/apis/apps/v1", NULL);
	paths = cJSON_GetObjectItemCaseSensitive(apps, "paths");
	const cJSON *scale = cJSON_GetObjectItemCaseSensitive(
		paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale");
	assert_string_equal(kc_json_get_str(scale, "patch.operationId"),
			    "patchAppsV1NamespacedDeploymentScale");
	assert_string_equal(kc_json_get_str(scale, "patch.x-kubernetes-group-version-kind.group"),
			    "autoscaling");
	assert_string_equal(kc_json_get_str(scale, "patch.x-kubernetes-group-version-kind.kind"),
			    "Scale");
	assert_string_equal(kc_json_get_str(scale, "get.responses[200].content[application/json]"
						   ".schema.$ref"),
			    "#/components/schemas/io.k8s.api.autoscaling.v1.Scale");
	assert_string_equal(kc_json_get_str(apps, "paths[/apis/apps/v1/namespaces/{namespace}/"
						  "deployments/{name}].patch.tags[0]"),
			    "apps_v1");
	cJSON_Delete(apps);

	cJSON *rbac = get_doc(o, "/openapi/v3/apis/rbac.authorization.k8s.io/v1", NULL);
	assert_string_equal(kc_json_get_str(rbac, "paths[/apis/rbac.authorization.k8s.io/v1/"
						  "clusterroles/{name}].get.operationId"),
			    "readRbacAuthorizationV1ClusterRole");
	assert_string_equal(kc_json_get_str(rbac, "paths[/apis/rbac.authorization.k8s.io/v1/"
						  "clusterroles/{name}].get.tags[0]"),
			    "rbacAuthorization_v1");
	cJSON_Delete(rbac);
	openapi_free(o);
}

static void test_components(void **state)
{
	const struct schema *s = schema_builtin();
	struct openapi *o = openapi_new(s);
	cJSON *core = get_doc(o, "/openapi/v3/api/v1", NULL);
	const cJSON *schemas = kc_json_get(core, "components.schemas");
	assert_non_null(schemas);
	size_t nrefs = 0;
	check_refs(core, schemas, "#/components/schemas/", &nrefs);
	assert_true(nrefs > 100);

	const cJSON *pod = cJSON_GetObjectItemCaseSensitive(schemas, "io.k8s.api.core.v1.Pod");
	assert_non_null(pod);
	assert_string_equal(kc_json_get_str(pod, "type"), "object");
	assert_non_null(kc_json_get_str(pod, "description"));
	const cJSON *gvk = cJSON_GetObjectItemCaseSensitive(pod, "x-kubernetes-group-version-kind");
	assert_true(cJSON_IsArray(gvk));
	assert_int_equal(cJSON_GetArraySize(gvk), 1);
	assert_string_equal(kc_json_get_str(gvk->child, "group"), "");
	assert_string_equal(kc_json_get_str(gvk->child, "version"), "v1");
	assert_string_equal(kc_json_get_str(gvk->child, "kind"), "Pod");
	/* kubectl explain pod.spec.containers: Pod.spec -> PodSpec.containers -> Container */
	const char *spec_ref = kc_json_get_str(pod, "properties.spec.allOf[0].$ref");
	if (!spec_ref)
		spec_ref = kc_json_get_str(pod, "properties.spec.$ref");
	assert_string_equal(spec_ref, "#/components/schemas/io.k8s.api.core.v1.PodSpec");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(schemas, "io.k8s.api.core.v1.PodSpec");
	const cJSON *containers = kc_json_get(spec, "properties.containers");
	assert_string_equal(kc_json_get_str(containers, "type"), "array");
	assert_string_equal(kc_json_get_str(containers, "items.$ref"),
			    "#/components/schemas/io.k8s.api.core.v1.Container");
	assert_string_equal(kc_json_get_str(containers, "x-kubernetes-patch-merge-key"), "name");
	assert_string_equal(kc_json_get_str(containers, "x-kubernetes-patch-strategy"), "merge");
	assert_non_null(kc_json_get_str(containers, "description"));
	const cJSON *req;
	bool containers_required = false;
	cJSON_ArrayForEach(req, cJSON_GetObjectItemCaseSensitive(spec, "required"))
		containers_required |= strcmp(req->valuestring, "containers") == 0;
	assert_true(containers_required);
	const cJSON *container = cJSON_GetObjectItemCaseSensitive(schemas,
								  "io.k8s.api.core.v1.Container");
	assert_string_equal(kc_json_get_str(container, "properties.image.type"), "string");
	assert_non_null(kc_json_get_str(container, "properties.image.description"));

	/* list kinds, the apimachinery components */
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(schemas, "io.k8s.api.core.v1.PodList");
	assert_string_equal(kc_json_get_str(list, "x-kubernetes-group-version-kind[0].kind"),
			    "PodList");
	assert_string_equal(kc_json_get_str(list, "properties.items.items.$ref"),
			    "#/components/schemas/io.k8s.api.core.v1.Pod");
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(
		schemas, "io.k8s.apimachinery.pkg.api.resource.Quantity");
	assert_non_null(q);
	assert_string_equal(kc_json_get_str(q, "oneOf[0].type"), "string");
	assert_string_equal(kc_json_get_str(q, "oneOf[1].type"), "number");
	const cJSON *ios = cJSON_GetObjectItemCaseSensitive(
		schemas, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
	assert_string_equal(kc_json_get_str(ios, "format"), "int-or-string");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(schemas,
							  "io.k8s.apimachinery.pkg.apis.meta.v1.Time");
	assert_string_equal(kc_json_get_str(t, "format"), "date-time");
	assert_string_equal(kc_json_get_str(t, "type"), "string");
	assert_non_null(cJSON_GetObjectItemCaseSensitive(
		schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
	/* a type of another group is not in core/v1's document */
	assert_null(cJSON_GetObjectItemCaseSensitive(schemas, "io.k8s.api.apps.v1.Deployment"));
	cJSON_Delete(core);

	cJSON *apps = get_doc(o, "/openapi/v3/apis/apps/v1", NULL);
	schemas = kc_json_get(apps, "components.schemas");
	nrefs = 0;
	check_refs(apps, schemas, "#/components/schemas/", &nrefs);
	assert_string_equal(kc_json_get_str(schemas, "[io.k8s.api.apps.v1.Deployment]"
						     ".x-kubernetes-group-version-kind[0].group"),
			    "apps");
	/* the pod template's types come along */
	assert_non_null(cJSON_GetObjectItemCaseSensitive(schemas, "io.k8s.api.core.v1.PodSpec"));
	cJSON_Delete(apps);

	/* Swagger 2.0: everything, with #/definitions/ references */
	cJSON *v2 = get_doc(o, "/openapi/v2", NULL);
	assert_string_equal(kc_json_get_str(v2, "swagger"), "2.0");
	const cJSON *defs = cJSON_GetObjectItemCaseSensitive(v2, "definitions");
	nrefs = 0;
	check_refs(v2, defs, "#/definitions/", &nrefs);
	assert_true(nrefs > 100);
	for (size_t i = 0; i < schema_type_count(s); i++)
		assert_non_null(cJSON_GetObjectItemCaseSensitive(defs, schema_type_at(s, i)->full_name));
	assert_string_equal(kc_json_get_str(defs, "[io.k8s.apimachinery.pkg.util.intstr.IntOrString]"
						  ".type"),
			    "string");
	const cJSON *p2 = kc_json_get(v2, "paths[/api/v1/namespaces/{namespace}/pods/{name}].patch");
	assert_non_null(p2);
	assert_true(has_query_param(p2, "fieldValidation"));
	assert_string_equal(kc_json_get_str(p2, "parameters[0].in"), "body");
	cJSON_Delete(v2);
	openapi_free(o);
}

/* Exact shapes, from a small schema. */
static void test_shapes(void **state)
{
	static const char text[] =
		"package io.k8s.apimachinery.pkg.apis.meta.v1\n"
		"type ObjectMeta \"Meta.\"\n"
		"  name string\n"
		"type ListMeta\n"
		"  continue string\n"
		"type Status\n"
		"  code int32\n"
		"kind Status core v1\n"
		"type DeleteOptions\n"
		"  dryRun []string\n"
		"kind DeleteOptions core v1\n"
		"package io.k8s.api.example.v1\n"
		"group example.k8s.io v1beta1\n"
		"resource widgets Widget widget cluster verbs=get,list,patch sub=status\n"
		"type Widget \"A widget.\"\n"
		"  metadata ObjectMeta \"Standard metadata.\"\n"
		"  spec WidgetSpec\n"
		"type WidgetSpec\n"
		"  mode string default=\"Fast\" enum=Fast,Slow \"How.\"\n"
		"  ports []Port required key=port list=map mapkeys=port,protocol \"Ports.\"\n"
		"  size quantity \"Size.\"\n"
		"  target intOrString\n"
		"  data map[bytes]\n"
		"  ratio double\n"
		"  at time\n"
		"  raw any\n"
		"  tags []string list=set enum=a,b\n"
		"  strategy Strat strategy=retainKeys\n"
		"type Strat\n"
		"  n int64\n"
		"type Port\n"
		"  port int32 required\n"
		"  protocol string\n";
	struct kc_err err = { 0 };
	struct schema *s = NULL;
	if (schema_load(text, &s, &err))
		fail_msg("%s", err.msg);
	struct openapi *o = openapi_new(s);
	cJSON *root = get_doc(o, "/openapi/v3", NULL);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "paths")), 1);
	assert_non_null(kc_json_get(root, "paths[apis/example.k8s.io/v1beta1].serverRelativeURL"));
	cJSON_Delete(root);
	cJSON *doc = get_doc(o, "/openapi/v3/apis/example.k8s.io/v1beta1", NULL);
	const cJSON *schemas = kc_json_get(doc, "components.schemas");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(schemas, "io.k8s.api.example.v1.Widget");
	char *got = kc_json_print_canonical(w, NULL);
	assert_string_equal(
		got,
		"{\"description\":\"A widget.\",\"properties\":{\"apiVersion\":{\"description\":"
		"\"APIVersion defines the versioned schema of this representation of an object. "
		"Servers should convert recognized schemas to the latest internal value, and may "
		"reject unrecognized values. More info: https://git.k8s.io/community/contributors/"
		"devel/sig-architecture/api-conventions.md#resources\",\"type\":\"string\"},"
		"\"kind\":{\"description\":\"Kind is a string value representing the REST resource "
		"this object represents. Servers may infer this from the endpoint the client "
		"submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/"
		"community/contributors/devel/sig-architecture/api-conventions.md#types-kinds\","
		"\"type\":\"string\"},\"metadata\":{\"allOf\":[{\"$ref\":\"#/components/schemas/"
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta\"}],\"description\":\"Standard "
		"metadata.\"},\"spec\":{\"$ref\":\"#/components/schemas/"
		"io.k8s.api.example.v1.WidgetSpec\"}},\"type\":\"object\","
		"\"x-kubernetes-group-version-kind\":[{\"group\":\"example.k8s.io\",\"kind\":"
		"\"Widget\",\"version\":\"v1beta1\"}]}");
	free(got);
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(schemas,
							     "io.k8s.api.example.v1.WidgetSpec");
	got = kc_json_print_canonical(kc_json_get(spec, "properties"), NULL);
	assert_string_equal(
		got,
		"{\"at\":{\"$ref\":\"#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time\"},"
		"\"data\":{\"additionalProperties\":{\"format\":\"byte\",\"type\":\"string\"},"
		"\"type\":\"object\"},"
		"\"mode\":{\"default\":\"Fast\",\"description\":\"How.\",\"enum\":[\"Fast\","
		"\"Slow\"],\"type\":\"string\"},"
		"\"ports\":{\"description\":\"Ports.\",\"items\":{\"$ref\":\"#/components/schemas/"
		"io.k8s.api.example.v1.Port\"},\"type\":\"array\",\"x-kubernetes-list-map-keys\":"
		"[\"port\",\"protocol\"],\"x-kubernetes-list-type\":\"map\","
		"\"x-kubernetes-patch-merge-key\":\"port\",\"x-kubernetes-patch-strategy\":"
		"\"merge\"},"
		"\"ratio\":{\"format\":\"double\",\"type\":\"number\"},"
		"\"raw\":{\"$ref\":\"#/components/schemas/io.k8s.apimachinery.pkg.runtime."
		"RawExtension\"},"
		"\"size\":{\"allOf\":[{\"$ref\":\"#/components/schemas/io.k8s.apimachinery.pkg.api."
		"resource.Quantity\"}],\"description\":\"Size.\"},"
		"\"strategy\":{\"allOf\":[{\"$ref\":\"#/components/schemas/io.k8s.api.example.v1."
		"Strat\"}],\"x-kubernetes-patch-strategy\":\"retainKeys\"},"
		"\"tags\":{\"items\":{\"enum\":[\"a\",\"b\"],\"type\":\"string\"},\"type\":\"array\","
		"\"x-kubernetes-list-type\":\"set\"},"
		"\"target\":{\"$ref\":\"#/components/schemas/io.k8s.apimachinery.pkg.util.intstr."
		"IntOrString\"}}");
	free(got);
	assert_string_equal(kc_json_get_str(spec, "required[0]"), "ports");
	assert_null(kc_json_get(spec, "x-kubernetes-group-version-kind"));
	assert_string_equal(kc_json_get_str(schemas, "[io.k8s.api.example.v1.Strat].properties.n"
						     ".format"),
			    "int64");

	/* only the verbs served have operations */
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(
		paths, "/apis/example.k8s.io/v1beta1/widgets/{name}");
	assert_non_null(kc_json_get(item, "get"));
	assert_non_null(kc_json_get(item, "patch"));
	assert_null(kc_json_get(item, "put"));
	assert_null(kc_json_get(item, "delete"));
	assert_string_equal(kc_json_get_str(item, "patch.operationId"), "patchExampleV1beta1Widget");
	assert_string_equal(kc_json_get_str(item, "parameters[0].name"), "name");
	assert_true(kc_json_get_bool(item, "parameters[0].required", false));
	assert_null(cJSON_GetObjectItemCaseSensitive(paths, "/apis/example.k8s.io/v1beta1/watch/"
							    "widgets"));
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(
		paths, "/apis/example.k8s.io/v1beta1/widgets/{name}/status");
	assert_string_equal(kc_json_get_str(status, "patch.operationId"),
			    "patchExampleV1beta1WidgetStatus");
	assert_null(kc_json_get(status, "put"));
	const cJSON *coll = cJSON_GetObjectItemCaseSensitive(paths,
							     "/apis/example.k8s.io/v1beta1/widgets");
	assert_string_equal(kc_json_get_str(coll, "get.operationId"), "listExampleV1beta1Widget");
	assert_null(kc_json_get(coll, "post"));
	size_t nrefs = 0;
	check_refs(doc, schemas, "#/components/schemas/", &nrefs);
	cJSON_Delete(doc);
	openapi_free(o);
	schema_free(s);
}

static double cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void test_build_time(void **state)
{
	const struct schema *s = schema_builtin();
	double v3 = 1e9, v2 = 1e9;
	for (int i = 0; i < 2; i++) {
		struct openapi *o = openapi_new(s);
		double t0 = cpu_ms();
		assert_non_null(openapi_doc(o, "/openapi/v3", NULL, NULL));
		double t1 = cpu_ms();
		assert_non_null(openapi_doc(o, "/openapi/v2", NULL, NULL));
		double t2 = cpu_ms();
		v3 = t1 - t0 < v3 ? t1 - t0 : v3;
		v2 = t2 - t1 < v2 ? t2 - t1 : v2;
		openapi_free(o);
	}
	printf("openapi: v3 set built in %.1f ms of CPU, v2 in %.1f ms\n", v3, v2);
}

struct fetch_arg {
	const struct openapi *o;
	const char *path;
	const char *body;
};

static void *fetch_thread(void *arg)
{
	struct fetch_arg *a = arg;
	a->body = openapi_doc(a->o, a->path, NULL, NULL);
	return NULL;
}

/* The first requests may come from several threads at once: one build, the same strings. */
static void test_concurrent_first_use(void **state)
{
	struct openapi *o = openapi_new(schema_builtin());
	static const char *const paths[] = { "/openapi/v3", "/openapi/v3/api/v1", "/openapi/v2",
					     "/openapi/v3/apis/apps/v1", "/openapi/v3",
					     "/openapi/v2" };
	pthread_t th[6];
	struct fetch_arg args[6];
	for (int i = 0; i < 6; i++) {
		args[i] = (struct fetch_arg){ .o = o, .path = paths[i] };
		assert_int_equal(pthread_create(&th[i], NULL, fetch_thread, &args[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_non_null(args[i].body);
		assert_ptr_equal(args[i].body, openapi_doc(o, paths[i], NULL, NULL));
	}
	assert_ptr_equal(args[0].body, args[4].body);
	assert_ptr_equal(args[2].body, args[5].body);
	openapi_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_and_hashes),
		cmocka_unit_test(test_patch_field_validation),
		cmocka_unit_test(test_components),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_build_time),
		cmocka_unit_test(test_concurrent_first_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
