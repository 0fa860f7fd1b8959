/* Unit tests for the built-in kubectl's pure parts: output formats (roles/client/kprint) and
 * the three-way apply patch (roles/client/kapply). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "roles/client/kapply.h"
#include "roles/client/kprint.h"

static cJSON *J(const char *s)
{
	cJSON *v = NULL;
	struct kc_err err;
	if (kc_json_parse(s, strlen(s), NULL, &v, &err) < 0)
		fail_msg("bad test JSON %s: %s", s, err.msg);
	return v;
}

static void check_jp(const char *tmpl, const char *doc, const char *want)
{
	cJSON *v = J(doc);
	struct kc_str out = KC_STR_INIT;
	struct kc_err err = { 0 };
	if (kprint_jsonpath(tmpl, v, &out, &err) < 0)
		fail_msg("%s: %s", tmpl, err.msg);
	assert_string_equal(out.buf, want);
	kc_str_free(&out);
	cJSON_Delete(v);
}

static void test_jsonpath(void **state)
{
	(void)state;
	const char *list = "{\"items\":[{\"metadata\":{\"name\":\"a\",\"labels\":{\"app\":\"x\"}},"
			   "\"status\":{\"podIP\":\"10.0.0.1\"}},{\"metadata\":{\"name\":\"b\","
			   "\"labels\":{\"app\":\"y\"}},\"status\":{\"podIP\":\"10.0.0.2\"}}]}";
	check_jp("{.items[0].metadata.name}", list, "a");
	check_jp("{.items[*].metadata.name}", list, "a b");
	check_jp("{range .items[*]}{.metadata.name}{\"\\t\"}{.status.podIP}{\"\\n\"}{end}", list,
		 "a\t10.0.0.1\nb\t10.0.0.2\n");
	check_jp("{.items[?(@.metadata.labels.app==\"y\")].metadata.name}", list, "b");
	check_jp("{.items[-1:].metadata.name}", list, "b");
	check_jp("{..podIP}", list, "10.0.0.1 10.0.0.2");
	check_jp("{.items[1]['metadata']['name']}", list, "b");
	check_jp("x={.items[0].metadata}", list, "x={\"name\":\"a\",\"labels\":{\"app\":\"x\"}}");
	check_jp("{.missing}", list, "");
	cJSON *v = J(list);
	struct kc_str out = KC_STR_INIT;
	struct kc_err err = { 0 };
	assert_int_not_equal(kprint_jsonpath("{range .items[*]}{.x}", v, &out, &err), 0);
	assert_int_not_equal(kprint_jsonpath("{.items[7]}", v, &out, &err), 0);
	assert_int_not_equal(kprint_jsonpath("{.items", v, &out, &err), 0);
	kc_str_free(&out);
	cJSON_Delete(v);
}

static void test_json_sorted(void **state)
{
	(void)state;
	cJSON *v = J("{\"b\":[1,{\"z\":1,\"a\":\"x\"}],\"a\":{},\"c\":[]}");
	kprint_sort(v);
	struct kc_str out = KC_STR_INIT;
	kprint_json(v, &out);
	assert_string_equal(out.buf, "{\n    \"a\": {},\n    \"b\": [\n        1,\n        {\n"
				     "            \"a\": \"x\",\n            \"z\": 1\n        }\n"
				     "    ],\n    \"c\": []\n}\n");
	kc_str_free(&out);
	cJSON_Delete(v);
}

static void test_table(void **state)
{
	(void)state;
	cJSON *t = J("{\"kind\":\"Table\",\"columnDefinitions\":[{\"name\":\"Name\",\"format\":"
		     "\"name\",\"priority\":0},{\"name\":\"Ready\",\"priority\":0},{\"name\":"
		     "\"Nominated Node\",\"priority\":1}],\"rows\":[{\"cells\":[\"web\",\"1/1\","
		     "null],\"object\":{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
		     "\"labels\":{\"app\":\"web\"}}}},{\"cells\":[\"a-much-longer-name\",\"0/1\","
		     "\"n1\"],\"object\":{\"metadata\":{\"name\":\"x\",\"namespace\":\"kube-system\"}}}]}");
	struct ktable_opts o = { .namespace_col = true, .show_labels = true };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct ktable tb;
	ktable_init(&tb, kprint_table_columns(t, &o));
	assert_int_equal(kprint_table_rows(&tb, t, &o, true), 2);
	ktable_flush(&tb, f);
	ktable_free(&tb);
	fclose(f);
	assert_string_equal(buf, "NAMESPACE     NAME                 READY   LABELS\n"
				 "default       web                  1/1     app=web\n"
				 "kube-system   a-much-longer-name   0/1     <none>\n");
	free(buf);
	o = (struct ktable_opts){ .wide = true, .name_prefix = "pod/" };
	f = open_memstream(&buf, &len);
	ktable_init(&tb, kprint_table_columns(t, &o));
	kprint_table_rows(&tb, t, &o, true);
	ktable_flush(&tb, f);
	ktable_free(&tb);
	fclose(f);
	assert_string_equal(buf, "NAME                     READY   NOMINATED NODE\n"
				 "pod/web                  1/1     <none>\n"
				 "pod/a-much-longer-name   0/1     n1\n");
	free(buf);
	cJSON_Delete(t);
}

/* A hand-built slice of the Deployment schema: spec.template.spec.containers merged by name,
 * containers' env merged by name, finalizers a merged set. */
static const struct sch_type t_string = { .kind = SCH_STRING };
static const struct sch_field f_env_fields[] = { { .name = "name", .type = &t_string },
						 { .name = "value", .type = &t_string } };
static const struct sch_type t_env = { .kind = SCH_STRUCT, .name = "EnvVar",
				       .fields = f_env_fields, .nfields = 2 };
static const struct sch_type t_env_list = { .kind = SCH_ARRAY, .elem = &t_env };
static const struct sch_field f_ctr_fields[] = {
	{ .name = "name", .type = &t_string },
	{ .name = "image", .type = &t_string },
	{ .name = "env", .type = &t_env_list, .merge_key = "name", .patch_strategy = SCH_PATCH_MERGE },
};
static const struct sch_type t_ctr = { .kind = SCH_STRUCT, .name = "Container",
				       .fields = f_ctr_fields, .nfields = 3 };
static const struct sch_type t_ctr_list = { .kind = SCH_ARRAY, .elem = &t_ctr };
static const struct sch_field f_pod_fields[] = {
	{ .name = "containers", .type = &t_ctr_list, .merge_key = "name",
	  .patch_strategy = SCH_PATCH_MERGE },
};
static const struct sch_type t_podspec = { .kind = SCH_STRUCT, .name = "PodSpec",
					   .fields = f_pod_fields, .nfields = 1 };
static const struct sch_field f_tmpl_fields[] = { { .name = "spec", .type = &t_podspec } };
static const struct sch_type t_tmpl = { .kind = SCH_STRUCT, .name = "PodTemplateSpec",
					.fields = f_tmpl_fields, .nfields = 1 };
static const struct sch_type t_int = { .kind = SCH_INT32 };
static const struct sch_field f_dspec_fields[] = { { .name = "replicas", .type = &t_int },
						   { .name = "template", .type = &t_tmpl } };
static const struct sch_type t_dspec = { .kind = SCH_STRUCT, .name = "DeploymentSpec",
					 .fields = f_dspec_fields, .nfields = 2 };
static const struct sch_type t_str_list = { .kind = SCH_ARRAY, .elem = &t_string };
static const struct sch_field f_meta_fields[] = {
	{ .name = "finalizers", .type = &t_str_list, .patch_strategy = SCH_PATCH_MERGE },
};
static const struct sch_type t_meta = { .kind = SCH_STRUCT, .name = "ObjectMeta",
					.fields = f_meta_fields, .nfields = 1 };
static const struct sch_field f_dep_fields[] = { { .name = "metadata", .type = &t_meta },
						 { .name = "spec", .type = &t_dspec } };
static const struct sch_type t_dep = { .kind = SCH_STRUCT, .name = "Deployment",
				       .fields = f_dep_fields, .nfields = 2 };

static void check_3way(const char *orig, const char *mod, const char *cur, const char *want)
{
	cJSON *o = orig ? J(orig) : NULL, *m = J(mod), *c = J(cur), *w = J(want);
	cJSON *p = kapply_three_way(o, m, c, &t_dep);
	if (!kc_json_equal(p, w)) {
		char *got = kc_json_print(p, NULL);
		fail_msg("patch %s, want %s", got, want);
	}
	cJSON_Delete(o);
	cJSON_Delete(m);
	cJSON_Delete(c);
	cJSON_Delete(w);
	cJSON_Delete(p);
}

static void test_three_way(void **state)
{
	(void)state;
	/* replicas change; server-set fields untouched */
	check_3way("{\"spec\":{\"replicas\":2}}", "{\"spec\":{\"replicas\":4}}",
		   "{\"spec\":{\"replicas\":2,\"strategy\":{}},\"status\":{}}",
		   "{\"spec\":{\"replicas\":4}}");
	/* kubectl's measured body: env removed, sidecar deleted, order sent */
	check_3way("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":"
		   "\"nginx:1.24\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]},{\"name\":\"sidecar\","
		   "\"image\":\"busybox\"}]}}}}",
		   "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":"
		   "\"nginx:1.25\"}]}}}}",
		   "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":"
		   "\"nginx:1.24\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"imagePullPolicy\":"
		   "\"IfNotPresent\"},{\"name\":\"sidecar\",\"image\":\"busybox\"}]}}}}",
		   "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":"
		   "\"app\"}],\"containers\":[{\"image\":\"nginx:1.25\",\"env\":null,\"name\":\"app\"},"
		   "{\"$patch\":\"delete\",\"name\":\"sidecar\"}]}}}}");
	/* unchanged: empty patch */
	check_3way("{\"spec\":{\"replicas\":2}}", "{\"spec\":{\"replicas\":2}}",
		   "{\"spec\":{\"replicas\":2}}", "{}");
	/* no last-applied: nothing deleted */
	check_3way(NULL, "{\"spec\":{\"replicas\":3}}", "{\"spec\":{\"replicas\":2,\"paused\":true}}",
		   "{\"spec\":{\"replicas\":3}}");
	/* merged primitive set */
	check_3way("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
		   "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}",
		   "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"x\"]}}",
		   "{\"metadata\":{\"finalizers\":[\"c\"],\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}");
}

static void test_annotation(void **state)
{
	(void)state;
	cJSON *o = J("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"a\"}}");
	kapply_annotate(o);
	char *a = strdup(kc_json_get_str(o, "metadata.annotations[" KAPPLY_ANNOTATION "]"));
	assert_string_equal(a, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{},"
			       "\"name\":\"a\"}}\n");
	kapply_annotate(o); /* idempotent */
	assert_string_equal(kc_json_get_str(o, "metadata.annotations[" KAPPLY_ANNOTATION "]"), a);
	free(a);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsonpath),   cmocka_unit_test(test_json_sorted),
		cmocka_unit_test(test_table),      cmocka_unit_test(test_three_way),
		cmocka_unit_test(test_annotation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
