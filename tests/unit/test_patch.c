/* Unit tests for roles/apiserver/patch: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
 * strategic merge patch on a hand-built Pod/Deployment type graph, with the bodies the real
 * kubectl sends (apply, label, annotate, rollout restart). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/json.h"
#include "lib/str.h"
#include "roles/apiserver/patch.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------------------------ */
/* the type graph (a subset of core/v1 and apps/v1 with their patch metadata) */

static const struct sch_type t_string = {.kind = SCH_STRING};
static const struct sch_type t_int32 = {.kind = SCH_INT32};
static const struct sch_type t_ios = {.kind = SCH_INT_OR_STRING};
static const struct sch_type t_free = {.kind = SCH_FREE_OBJECT};
static const struct sch_type t_strmap = {.kind = SCH_MAP, .elem = &t_string};
static const struct sch_type t_strlist = {.kind = SCH_ARRAY, .elem = &t_string};

static const struct sch_field f_env[] = {
	{.name = "name", .type = &t_string},
	{.name = "value", .type = &t_string},
	{.name = "valueFrom", .type = &t_free},
};
static const struct sch_type t_env = {
	.kind = SCH_STRUCT, .name = "EnvVar", .fields = f_env, .nfields = N(f_env)};
static const struct sch_type t_envlist = {.kind = SCH_ARRAY, .elem = &t_env};

static const struct sch_field f_port[] = {
	{.name = "containerPort", .type = &t_int32},
	{.name = "name", .type = &t_string},
	{.name = "protocol", .type = &t_string},
};
static const struct sch_type t_port = {
	.kind = SCH_STRUCT, .name = "ContainerPort", .fields = f_port, .nfields = N(f_port)};
static const struct sch_type t_portlist = {.kind = SCH_ARRAY, .elem = &t_port};

static const struct sch_field f_mount[] = {
	{.name = "name", .type = &t_string},
	{.name = "mountPath", .type = &t_string},
};
static const struct sch_type t_mount = {
	.kind = SCH_STRUCT, .name = "VolumeMount", .fields = f_mount, .nfields = N(f_mount)};
static const struct sch_type t_mountlist = {.kind = SCH_ARRAY, .elem = &t_mount};

static const struct sch_field f_container[] = {
	{.name = "name", .type = &t_string},
	{.name = "image", .type = &t_string},
	{.name = "command", .type = &t_strlist, .list_type = SCH_LIST_ATOMIC},
	{.name = "args", .type = &t_strlist, .list_type = SCH_LIST_ATOMIC},
	{.name = "env",
	 .type = &t_envlist,
	 .merge_key = "name",
	 .patch_strategy = SCH_PATCH_MERGE,
	 .list_type = SCH_LIST_MAP},
	{.name = "ports",
	 .type = &t_portlist,
	 .merge_key = "containerPort",
	 .patch_strategy = SCH_PATCH_MERGE,
	 .list_type = SCH_LIST_MAP},
	{.name = "volumeMounts",
	 .type = &t_mountlist,
	 .merge_key = "mountPath",
	 .patch_strategy = SCH_PATCH_MERGE,
	 .list_type = SCH_LIST_MAP},
	{.name = "resources", .type = &t_free},
};
static const struct sch_type t_container = {
	.kind = SCH_STRUCT, .name = "Container", .fields = f_container, .nfields = N(f_container)};
static const struct sch_type t_containerlist = {.kind = SCH_ARRAY, .elem = &t_container};

static const struct sch_field f_emptydir[] = {
	{.name = "medium", .type = &t_string},
	{.name = "sizeLimit", .type = &t_string},
};
static const struct sch_type t_emptydir = {.kind = SCH_STRUCT,
					   .name = "EmptyDirVolumeSource",
					   .fields = f_emptydir,
					   .nfields = N(f_emptydir)};
static const struct sch_field f_cmvol[] = {
	{.name = "name", .type = &t_string},
	{.name = "defaultMode", .type = &t_int32},
};
static const struct sch_type t_cmvol = {.kind = SCH_STRUCT,
					.name = "ConfigMapVolumeSource",
					.fields = f_cmvol,
					.nfields = N(f_cmvol)};
static const struct sch_field f_volume[] = {
	{.name = "name", .type = &t_string},
	{.name = "emptyDir", .type = &t_emptydir},
	{.name = "configMap", .type = &t_cmvol},
	{.name = "secret", .type = &t_free},
};
static const struct sch_type t_volume = {
	.kind = SCH_STRUCT, .name = "Volume", .fields = f_volume, .nfields = N(f_volume)};
static const struct sch_type t_volumelist = {.kind = SCH_ARRAY, .elem = &t_volume};

static const struct sch_field f_toleration[] = {
	{.name = "key", .type = &t_string},
	{.name = "operator", .type = &t_string},
	{.name = "value", .type = &t_string},
	{.name = "effect", .type = &t_string},
};
static const struct sch_type t_toleration = {.kind = SCH_STRUCT,
					     .name = "Toleration",
					     .fields = f_toleration,
					     .nfields = N(f_toleration)};
static const struct sch_type t_tolerationlist = {.kind = SCH_ARRAY, .elem = &t_toleration};

static const struct sch_field f_ref[] = {{.name = "name", .type = &t_string}};
static const struct sch_type t_ref = {
	.kind = SCH_STRUCT, .name = "LocalObjectReference", .fields = f_ref, .nfields = N(f_ref)};
static const struct sch_type t_reflist = {.kind = SCH_ARRAY, .elem = &t_ref};

static const struct sch_field f_podspec[] = {
	{.name = "containers",
	 .type = &t_containerlist,
	 .merge_key = "name",
	 .patch_strategy = SCH_PATCH_MERGE},
	{.name = "initContainers",
	 .type = &t_containerlist,
	 .merge_key = "name",
	 .patch_strategy = SCH_PATCH_MERGE},
	{.name = "volumes",
	 .type = &t_volumelist,
	 .merge_key = "name",
	 .patch_strategy = SCH_PATCH_MERGE | SCH_PATCH_RETAIN_KEYS},
	{.name = "tolerations", .type = &t_tolerationlist, .list_type = SCH_LIST_ATOMIC},
	{.name = "nodeSelector", .type = &t_strmap},
	{.name = "imagePullSecrets",
	 .type = &t_reflist,
	 .merge_key = "name",
	 .patch_strategy = SCH_PATCH_MERGE},
	{.name = "restartPolicy", .type = &t_string},
};
static const struct sch_type t_podspec = {
	.kind = SCH_STRUCT, .name = "PodSpec", .fields = f_podspec, .nfields = N(f_podspec)};

static const struct sch_field f_owner[] = {
	{.name = "uid", .type = &t_string},
	{.name = "name", .type = &t_string},
	{.name = "kind", .type = &t_string},
};
static const struct sch_type t_owner = {
	.kind = SCH_STRUCT, .name = "OwnerReference", .fields = f_owner, .nfields = N(f_owner)};
static const struct sch_type t_ownerlist = {.kind = SCH_ARRAY, .elem = &t_owner};

static const struct sch_field f_meta[] = {
	{.name = "name", .type = &t_string},
	{.name = "namespace", .type = &t_string},
	{.name = "labels", .type = &t_strmap},
	{.name = "annotations", .type = &t_strmap},
	{.name = "finalizers",
	 .type = &t_strlist,
	 .patch_strategy = SCH_PATCH_MERGE,
	 .list_type = SCH_LIST_SET},
	{.name = "ownerReferences",
	 .type = &t_ownerlist,
	 .merge_key = "uid",
	 .patch_strategy = SCH_PATCH_MERGE},
};
static const struct sch_type t_meta = {
	.kind = SCH_STRUCT, .name = "ObjectMeta", .fields = f_meta, .nfields = N(f_meta)};

static const struct sch_field f_template[] = {
	{.name = "metadata", .type = &t_meta},
	{.name = "spec", .type = &t_podspec},
};
static const struct sch_type t_template = {.kind = SCH_STRUCT,
					   .name = "PodTemplateSpec",
					   .fields = f_template,
					   .nfields = N(f_template)};

static const struct sch_field f_rolling[] = {
	{.name = "maxSurge", .type = &t_ios},
	{.name = "maxUnavailable", .type = &t_ios},
};
static const struct sch_type t_rolling = {.kind = SCH_STRUCT,
					  .name = "RollingUpdateDeployment",
					  .fields = f_rolling,
					  .nfields = N(f_rolling)};
static const struct sch_field f_strategy[] = {
	{.name = "type", .type = &t_string},
	{.name = "rollingUpdate", .type = &t_rolling},
};
static const struct sch_type t_strategy = {.kind = SCH_STRUCT,
					   .name = "DeploymentStrategy",
					   .fields = f_strategy,
					   .nfields = N(f_strategy)};

static const struct sch_field f_depspec[] = {
	{.name = "replicas", .type = &t_int32},
	{.name = "selector", .type = &t_free},
	{.name = "template", .type = &t_template},
	{.name = "strategy", .type = &t_strategy, .patch_strategy = SCH_PATCH_RETAIN_KEYS},
	{.name = "minReadySeconds", .type = &t_int32},
};
static const struct sch_type t_depspec = {
	.kind = SCH_STRUCT, .name = "DeploymentSpec", .fields = f_depspec, .nfields = N(f_depspec)};

static const struct sch_field f_deployment[] = {
	{.name = "apiVersion", .type = &t_string}, {.name = "kind", .type = &t_string},
	{.name = "metadata", .type = &t_meta},	   {.name = "spec", .type = &t_depspec},
	{.name = "status", .type = &t_free},
};
static const struct sch_type t_deployment = {.kind = SCH_STRUCT,
					     .name = "Deployment",
					     .fields = f_deployment,
					     .nfields = N(f_deployment)};

static const struct sch_field f_pod[] = {
	{.name = "apiVersion", .type = &t_string}, {.name = "kind", .type = &t_string},
	{.name = "metadata", .type = &t_meta},	   {.name = "spec", .type = &t_podspec},
	{.name = "status", .type = &t_free},
};
static const struct sch_type t_pod = {
	.kind = SCH_STRUCT, .name = "Pod", .fields = f_pod, .nfields = N(f_pod)};

/* ------------------------------------------------------------------------------------------ */
/* helpers */

static cJSON *J(const char *text)
{
	const struct kc_json_limits lim = {.max_depth = KC_JSON_DEPTH_CAP};
	struct kc_err err = {0};
	cJSON *v = NULL;
	if (kc_json_parse(text, strlen(text), &lim, &v, &err))
		fail_msg("parse of %s failed: %s", text, err.msg);
	return v;
}

/* Checks v equals want; with 'exact' also the member order (compact text). */
static void check_json(const cJSON *v, const char *want, bool exact)
{
	cJSON *w = J(want);
	char *got = kc_json_print(v, NULL), *wanted = kc_json_print(w, NULL);
	bool ok = exact ? strcmp(got, wanted) == 0 : kc_json_equal(v, w);
	if (!ok)
		fail_msg("got  %s\nwant %s", got, wanted);
	free(got);
	free(wanted);
	cJSON_Delete(w);
}

enum kind { JSONP, MERGE, SMP };

static int apply(enum kind k, cJSON **doc, const char *patch, const struct sch_type *t,
		 struct kc_err *err)
{
	cJSON *p = J(patch);
	int rc = k == JSONP   ? patch_json(doc, p, err)
		 : k == MERGE ? patch_merge(doc, p, err)
			      : patch_strategic(doc, p, t, err);
	cJSON_Delete(p);
	return rc;
}

static void patch_ok(enum kind k, const char *doc, const char *patch, const struct sch_type *t,
		     const char *want)
{
	struct kc_err err = {0};
	cJSON *d = J(doc);
	int rc = apply(k, &d, patch, t, &err);
	if (rc)
		fail_msg("patch %s failed: %d %s", patch, rc, err.msg);
	check_json(d, want, true);
	cJSON_Delete(d);
}

/* Expects failure with code and a message containing msg; the document must be unchanged. */
static void patch_fails(enum kind k, const char *doc, const char *patch, const struct sch_type *t,
			int code, const char *msg)
{
	struct kc_err err = {0};
	cJSON *d = J(doc);
	int rc = apply(k, &d, patch, t, &err);
	if (rc != code)
		fail_msg("patch %s: got %d (%s), want %d", patch, rc, err.msg, code);
	if (msg && !strstr(err.msg, msg))
		fail_msg("patch %s: message \"%s\" lacks \"%s\"", patch, err.msg, msg);
	check_json(d, doc, true);
	cJSON_Delete(d);
}

#define JP_OK(doc, patch, want) patch_ok(JSONP, doc, patch, NULL, want)
#define MP_OK(doc, patch, want) patch_ok(MERGE, doc, patch, NULL, want)

/* ------------------------------------------------------------------------------------------ */
/* JSON patch */

static void test_json_patch_ops(void **state)
{
	/* RFC 6902 appendix A */
	JP_OK("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
	      "{\"foo\":\"bar\",\"baz\":\"qux\"}");
	JP_OK("{\"foo\":[\"bar\",\"baz\"]}",
	      "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
	      "{\"foo\":[\"bar\",\"qux\",\"baz\"]}");
	JP_OK("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]",
	      "{\"foo\":\"bar\"}");
	JP_OK("{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
	      "{\"foo\":[\"bar\",\"baz\"]}");
	JP_OK("{\"baz\":\"qux\",\"foo\":\"bar\"}",
	      "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
	      "{\"baz\":\"boo\",\"foo\":\"bar\"}");
	JP_OK("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
	      "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
	      "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}");
	JP_OK("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
	      "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
	      "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}");
	JP_OK("{\"foo\":[\"bar\"]}",
	      "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
	      "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}");
	JP_OK("{\"a\":{\"b\":[1]}}",
	      "[{\"op\":\"copy\",\"from\":\"/a/b\",\"path\":\"/c\"},"
	      "{\"op\":\"add\",\"path\":\"/c/0\",\"value\":0}]",
	      "{\"a\":{\"b\":[1]},\"c\":[0,1]}");
	/* test: values compared deeply, members in any order, numbers as numbers */
	JP_OK("{\"a\":{\"x\":1,\"y\":[true,null]}}",
	      "[{\"op\":\"test\",\"path\":\"/a\",\"value\":{\"y\":[true,null],\"x\":1.0}}]",
	      "{\"a\":{\"x\":1,\"y\":[true,null]}}");
	/* an absent member tests equal to null, as the API server's json-patch library does */
	JP_OK("{}", "[{\"op\":\"test\",\"path\":\"/missing\",\"value\":null}]", "{}");
	/* escapes: ~1 is '/', ~0 is '~', applied in that order */
	JP_OK("{\"a/b\":1,\"m~n\":2,\"~1\":3}",
	      "[{\"op\":\"replace\",\"path\":\"/a~1b\",\"value\":10},"
	      "{\"op\":\"replace\",\"path\":\"/m~0n\",\"value\":20},"
	      "{\"op\":\"remove\",\"path\":\"/~01\"}]",
	      "{\"a/b\":10,\"m~n\":20}");
	/* the kubectl annotation path form */
	JP_OK("{\"metadata\":{\"annotations\":{}}}",
	      "[{\"op\":\"add\",\"path\":\"/metadata/annotations/example.com~1restartedAt\","
	      "\"value\":\"now\"}]",
	      "{\"metadata\":{\"annotations\":{\"example.com/restartedAt\":\"now\"}}}");
	/* empty member name */
	JP_OK("{\"\":1}", "[{\"op\":\"replace\",\"path\":\"/\",\"value\":2}]", "{\"\":2}");
	/* negative indexes count from the end; "-1" on add appends */
	JP_OK("{\"a\":[1,2,3]}",
	      "[{\"op\":\"remove\",\"path\":\"/a/-1\"},"
	      "{\"op\":\"add\",\"path\":\"/a/-1\",\"value\":9}]",
	      "{\"a\":[1,2,9]}");
	/* replace keeps the member's position; a missing value is null */
	JP_OK("{\"a\":1,\"b\":2}", "[{\"op\":\"replace\",\"path\":\"/a\"}]",
	      "{\"a\":null,\"b\":2}");
	/* move to itself is a no-op */
	JP_OK("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]", "{\"a\":1}");
	/* no operations */
	JP_OK("{\"a\":1}", "[]", "{\"a\":1}");
	/* scale the deployment, the way `kubectl patch --type=json` does */
	JP_OK("{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
	      "\"image\":\"x:1\"}]}}}}",
	      "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":3},"
	      "{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\","
	      "\"value\":\"x:2\"}]",
	      "{\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
	      "\"image\":\"x:2\"}]}}}}");
}

static void test_json_patch_errors(void **state)
{
	const char *doc = "{\"a\":[1,2],\"o\":{\"k\":\"v\"}}";
	patch_fails(JSONP, doc, "{}", NULL, -KC_EINVAL, "JSON array");
	patch_fails(JSONP, doc, "[1]", NULL, -KC_EINVAL, "operation 0");
	patch_fails(JSONP, doc, "[{\"op\":\"frob\",\"path\":\"/a\"}]", NULL, -KC_EINVAL,
		    "unexpected kind: frob");
	patch_fails(JSONP, doc, "[{\"path\":\"/a\"}]", NULL, -KC_EINVAL,
		    "unexpected kind: unknown");
	patch_fails(JSONP, doc, "[{\"op\":\"add\",\"value\":1}]", NULL, -KC_EINVAL,
		    "missing \"path\"");
	patch_fails(JSONP, doc, "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", NULL, -KC_EINVAL,
		    "must start with '/'");
	patch_fails(JSONP, doc, "[{\"op\":\"add\",\"path\":\"\",\"value\":1}]", NULL, -KC_EINVAL,
		    "cannot be a target");
	/* the error names the operation's index, kind and path; earlier operations are undone */
	patch_fails(JSONP, doc,
		    "[{\"op\":\"add\",\"path\":\"/b\",\"value\":1},"
		    "{\"op\":\"add\",\"path\":\"/a/3\",\"value\":1}]",
		    NULL, -KC_EINVAL,
		    "json patch operation 1 (add \"/a/3\"): array index 3 out of bounds");
	patch_fails(JSONP, doc, "[{\"op\":\"add\",\"path\":\"/a/x\",\"value\":1}]", NULL,
		    -KC_EINVAL, "not an array index");
	patch_fails(JSONP, doc, "[{\"op\":\"add\",\"path\":\"/a/-4\",\"value\":1}]", NULL,
		    -KC_EINVAL, "out of bounds");
	patch_fails(JSONP, doc, "[{\"op\":\"add\",\"path\":\"/x/y\",\"value\":1}]", NULL,
		    -KC_EINVAL, "missing the path");
	patch_fails(JSONP, doc, "[{\"op\":\"add\",\"path\":\"/o/k/z\",\"value\":1}]", NULL,
		    -KC_EINVAL, "missing the path");
	patch_fails(JSONP, doc, "[{\"op\":\"remove\",\"path\":\"/o/nope\"}]", NULL, -KC_EINVAL,
		    "nonexistent");
	patch_fails(JSONP, doc, "[{\"op\":\"remove\",\"path\":\"/a/2\"}]", NULL, -KC_EINVAL,
		    "nonexistent");
	patch_fails(JSONP, doc, "[{\"op\":\"replace\",\"path\":\"/o/nope\",\"value\":1}]", NULL,
		    -KC_EINVAL, "missing the key");
	patch_fails(JSONP, doc, "[{\"op\":\"move\",\"path\":\"/b\"}]", NULL, -KC_EINVAL,
		    "missing \"from\"");
	patch_fails(JSONP, doc, "[{\"op\":\"move\",\"from\":\"/zz\",\"path\":\"/b\"}]", NULL,
		    -KC_EINVAL, "missing the from path");
	/* a value cannot move into itself */
	patch_fails(JSONP, doc, "[{\"op\":\"move\",\"from\":\"/o\",\"path\":\"/o/k2\"}]", NULL,
		    -KC_EINVAL, "destination");
	/* failed tests are conflicts */
	patch_fails(JSONP, doc,
		    "[{\"op\":\"replace\",\"path\":\"/o/k\",\"value\":\"w\"},"
		    "{\"op\":\"test\",\"path\":\"/o/k\",\"value\":\"v\"}]",
		    NULL, -KC_ECONFLICT, "operation 1 (test \"/o/k\"): test failed");
	patch_fails(JSONP, doc, "[{\"op\":\"test\",\"path\":\"/a\",\"value\":[2,1]}]", NULL,
		    -KC_ECONFLICT, "test failed");
	patch_fails(JSONP, doc, "[{\"op\":\"test\",\"path\":\"/nope\",\"value\":1}]", NULL,
		    -KC_ECONFLICT, "test failed");
	patch_fails(JSONP, doc, "[{\"op\":\"test\",\"path\":\"/x/y\",\"value\":null}]", NULL,
		    -KC_ECONFLICT, NULL);
}

static void test_json_patch_limits(void **state)
{
	struct kc_str p = KC_STR_INIT;

	/* paths up to 1024 bytes */
	kc_str_adds(&p, "[{\"op\":\"add\",\"path\":\"/");
	for (int i = 0; i < 1023; i++)
		kc_str_addc(&p, 'k');
	kc_str_adds(&p, "\",\"value\":1}]");
	cJSON *d = J("{}");
	struct kc_err err = {0};
	assert_int_equal(apply(JSONP, &d, p.buf, NULL, &err), 0);
	cJSON_Delete(d);
	kc_str_reset(&p);
	kc_str_adds(&p, "[{\"op\":\"add\",\"path\":\"/");
	for (int i = 0; i < 1024; i++)
		kc_str_addc(&p, 'k');
	kc_str_adds(&p, "\",\"value\":1}]");
	patch_fails(JSONP, "{}", p.buf, NULL, -KC_EINVAL, "longer than 1024 bytes");

	/* at most 10,000 operations */
	kc_str_reset(&p);
	kc_str_addc(&p, '[');
	for (int i = 0; i < 10000; i++)
		kc_str_addf(&p, "%s{\"op\":\"test\",\"path\":\"/a\",\"value\":1}", i ? "," : "");
	kc_str_addc(&p, ']');
	JP_OK("{\"a\":1}", p.buf, "{\"a\":1}");
	kc_str_setlen(&p, p.len - 1);
	kc_str_adds(&p, ",{\"op\":\"test\",\"path\":\"/a\",\"value\":1}]");
	patch_fails(JSONP, "{\"a\":1}", p.buf, NULL, -KC_ETOOBIG, "10000");

	/* copies double the document each time: the copy budget stops them */
	kc_str_reset(&p);
	kc_str_adds(&p, "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/a/-\"}");
	for (int i = 0; i < 40; i++)
		kc_str_adds(&p, ",{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/a/-\"}");
	kc_str_addc(&p, ']');
	patch_fails(JSONP, "{\"a\":[1,2,3,4]}", p.buf, NULL, -KC_ETOOBIG, "copy");

	/* nesting: moves and copies cannot push the document past KC_JSON_DEPTH_CAP */
	struct kc_str doc = KC_STR_INIT;
	kc_str_adds(&doc, "{\"a\":");
	for (int i = 0; i < 200; i++)
		kc_str_adds(&doc, "[");
	for (int i = 0; i < 200; i++)
		kc_str_adds(&doc, "]");
	kc_str_adds(&doc, ",\"b\":");
	for (int i = 0; i < 60; i++)
		kc_str_adds(&doc, "{\"c\":");
	kc_str_adds(&doc, "{}");
	for (int i = 0; i < 60; i++)
		kc_str_adds(&doc, "}");
	kc_str_adds(&doc, "}");
	kc_str_reset(&p);
	kc_str_adds(&p, "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b");
	for (int i = 0; i < 60; i++)
		kc_str_adds(&p, "/c");
	kc_str_adds(&p, "/x\"}]");
	patch_fails(JSONP, doc.buf, p.buf, NULL, -KC_EINVAL, "deeper than");
	kc_str_reset(&p);
	kc_str_adds(&p, "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b");
	for (int i = 0; i < 60; i++)
		kc_str_adds(&p, "/c");
	kc_str_adds(&p, "/x\"}]");
	patch_fails(JSONP, doc.buf, p.buf, NULL, -KC_EINVAL, "deeper than");
	/* a shallower move is fine even though the tracked bound is loose */
	kc_str_reset(&p);
	kc_str_adds(&p, "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b");
	for (int i = 0; i < 40; i++)
		kc_str_adds(&p, "/c");
	kc_str_adds(&p, "/x\"}]");
	d = J(doc.buf);
	assert_int_equal(apply(JSONP, &d, p.buf, NULL, &err), 0);
	cJSON_Delete(d);
	kc_str_free(&doc);
	kc_str_free(&p);
}

/* ------------------------------------------------------------------------------------------ */
/* JSON merge patch */

static void test_merge_patch(void **state)
{
	/* RFC 7386 appendix A */
	MP_OK("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	MP_OK("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
	MP_OK("{\"a\":\"b\"}", "{\"a\":null}", "{}");
	MP_OK("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
	MP_OK("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	MP_OK("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
	MP_OK("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
	MP_OK("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
	MP_OK("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
	MP_OK("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
	MP_OK("{\"a\":\"foo\"}", "null", "null");
	MP_OK("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
	MP_OK("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
	MP_OK("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
	MP_OK("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
	/* a null member of the document is replaced by an object patch */
	MP_OK("{\"a\":null}", "{\"a\":{\"b\":1,\"c\":null}}", "{\"a\":{\"b\":1}}");
	/* kubectl label/annotate on an unknown kind; lists are replaced as a whole */
	MP_OK("{\"metadata\":{\"labels\":{\"app\":\"web\",\"old\":\"x\"}},\"spec\":{\"l\":[1,2]}}",
	      "{\"metadata\":{\"labels\":{\"tier\":\"fe\",\"old\":null}},\"spec\":{\"l\":[3]}}",
	      "{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}},\"spec\":{\"l\":[3]}}");

	/* large objects go through the member index; the order of members is kept */
	struct kc_str doc = KC_STR_INIT, patch = KC_STR_INIT, want = KC_STR_INIT;
	kc_str_addc(&doc, '{');
	kc_str_addc(&patch, '{');
	kc_str_addc(&want, '{');
	for (int i = 0; i < 100; i++) {
		kc_str_addf(&doc, "%s\"k%d\":%d", i ? "," : "", i, i);
		if (i % 2 == 0)
			kc_str_addf(&want, "%s\"k%d\":%d", i ? "," : "", i, i % 4 ? -i : i);
	}
	for (int i = 0; i < 100; i += 2)
		kc_str_addf(&patch, "%s\"k%d\":%d,\"k%d\":null", i ? "," : "", i, i % 4 ? -i : i,
			    i + 1);
	kc_str_adds(&patch, ",\"new\":true}");
	kc_str_adds(&doc, "}");
	kc_str_adds(&want, ",\"new\":true}");
	MP_OK(doc.buf, patch.buf, want.buf);
	kc_str_free(&doc);
	kc_str_free(&patch);
	kc_str_free(&want);
}

/* ------------------------------------------------------------------------------------------ */
/* strategic merge patch */

#define SMP_OK(t, doc, patch, want) patch_ok(SMP, doc, patch, t, want)

static const char *deployment =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
	"\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\\n\"}},"
	"\"spec\":{\"replicas\":4,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
	"{\"name\":\"app\",\"image\":\"nginx:1.24\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]},"
	"{\"name\":\"sidecar\",\"image\":\"busybox\"}]}}}}";

static void test_smp_kubectl_apply(void **state)
{
	/* the two measured bodies of a second `kubectl apply` (kubectl-wire.md section 8) */
	SMP_OK(&t_deployment, deployment,
	       "{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
	       "\"{replicas:4}\\n\"}},\"spec\":{\"replicas\":4}}",
	       "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
	       "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
	       "\"{replicas:4}\\n\"}},"
	       "\"spec\":{\"replicas\":4,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
	       "{\"name\":\"app\",\"image\":\"nginx:1.24\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]},"
	       "{\"name\":\"sidecar\",\"image\":\"busybox\"}]}}}}");
	SMP_OK(&t_deployment, deployment,
	       "{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
	       "\"{new}\\n\"}},\"spec\":{\"replicas\":2,\"template\":{\"spec\":{"
	       "\"$setElementOrder/containers\":[{\"name\":\"app\"}],"
	       "\"containers\":[{\"env\":null,\"image\":\"nginx:1.25\",\"name\":\"app\"},"
	       "{\"$patch\":\"delete\",\"name\":\"sidecar\"}]}}}}",
	       "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
	       "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
	       "\"{new}\\n\"}},"
	       "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
	       "{\"name\":\"app\",\"image\":\"nginx:1.25\"}]}}}}");
	/* apply adding a container in front: $setElementOrder decides the order */
	SMP_OK(&t_deployment, deployment,
	       "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"init\"},"
	       "{\"name\":\"app\"},{\"name\":\"sidecar\"}],\"containers\":[{\"name\":\"init\","
	       "\"image\":\"alpine\"}]}}}}",
	       "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
	       "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\\n\"}},"
	       "\"spec\":{\"replicas\":4,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
	       "{\"name\":\"init\",\"image\":\"alpine\"},"
	       "{\"name\":\"app\",\"image\":\"nginx:1.24\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]},"
	       "{\"name\":\"sidecar\",\"image\":\"busybox\"}]}}}}");
}

static void test_smp_label_annotate_restart(void **state)
{
	/* kubectl label web tier=fe app- ; kubectl annotate */
	SMP_OK(&t_pod, "{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\",\"x\":\"1\"}}}",
	       "{\"metadata\":{\"labels\":{\"tier\":\"fe\",\"app\":null}}}",
	       "{\"metadata\":{\"name\":\"p\",\"labels\":{\"x\":\"1\",\"tier\":\"fe\"}}}");
	SMP_OK(&t_pod, "{\"metadata\":{\"name\":\"p\"}}",
	       "{\"metadata\":{\"annotations\":{\"note\":\"hi\",\"gone\":null}}}",
	       "{\"metadata\":{\"name\":\"p\",\"annotations\":{\"note\":\"hi\"}}}");
	/* kubectl rollout restart */
	SMP_OK(&t_deployment,
	       "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{}}}}",
	       "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
	       "\"kubectl.kubernetes.io/restartedAt\":\"2025-01-02T03:04:05Z\"}}}}}",
	       "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"},\"annotations\":{"
	       "\"kubectl.kubernetes.io/restartedAt\":\"2025-01-02T03:04:05Z\"}},\"spec\":{}}}}");
}

static void test_smp_lists(void **state)
{
	const char *pod =
		"{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80,"
		"\"name\":\"http\"},{\"containerPort\":443}],\"env\":[{\"name\":\"A\","
		"\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"C\","
		"\"value\":\"3\"}]}],\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}}";
	/* ports merge by containerPort (a number) */
	SMP_OK(&t_pod, pod,
	       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80,"
	       "\"protocol\":\"TCP\"}]}]}}",
	       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80,"
	       "\"name\":\"http\",\"protocol\":\"TCP\"},{\"containerPort\":443}],\"env\":[{\"name\":\"A\","
	       "\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"C\",\"value\":\"3\"}]}],"
	       "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}}");
	/* env merges by name; a new entry lands after the last matched patch item, as
	 * Kubernetes orders it; tolerations (no strategy) are replaced */
	SMP_OK(&t_pod, pod,
	       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"B\",\"value\":\"x\"},"
	       "{\"name\":\"D\",\"value\":\"4\"}]}],\"tolerations\":[{\"key\":\"b\"}]}}",
	       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80,"
	       "\"name\":\"http\"},{\"containerPort\":443}],\"env\":[{\"name\":\"A\",\"value\":\"1\"},"
	       "{\"name\":\"B\",\"value\":\"x\"},{\"name\":\"D\",\"value\":\"4\"},{\"name\":\"C\","
	       "\"value\":\"3\"}]}],\"tolerations\":[{\"key\":\"b\"}]}}");
	/* a new first patch item goes in front of the server-only items */
	SMP_OK(&t_pod, "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}",
	       "{\"spec\":{\"containers\":[{\"name\":\"n\",\"image\":\"i\"}]}}",
	       "{\"spec\":{\"containers\":[{\"name\":\"n\",\"image\":\"i\"},{\"name\":\"a\"},"
	       "{\"name\":\"b\"}]}}");
	/* $setElementOrder alone reorders */
	SMP_OK(&t_pod,
	       "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}}",
	       "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"c\"},{\"name\":\"a\"},"
	       "{\"name\":\"b\"}]}}",
	       "{\"spec\":{\"containers\":[{\"name\":\"c\"},{\"name\":\"a\"},{\"name\":\"b\"}]}}");
	/* server-only items keep their place relative to the ordered ones */
	SMP_OK(&t_pod,
	       "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"s\"},{\"name\":\"b\"}]}}",
	       "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"},{\"name\":\"b\"},"
	       "{\"name\":\"n\"}],\"containers\":[{\"name\":\"n\"}]}}",
	       "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"s\"},{\"name\":\"b\"},"
	       "{\"name\":\"n\"}]}}");
	/* $patch: replace inside a list replaces it */
	SMP_OK(&t_pod, pod,
	       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"Z\",\"value\":\"z\"},"
	       "{\"$patch\":\"replace\"}]}],\"tolerations\":null}}",
	       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80,"
	       "\"name\":\"http\"},{\"containerPort\":443}],\"env\":[{\"name\":\"Z\","
	       "\"value\":\"z\"}]}]}}");
	/* volumes: switching emptyDir to configMap with $retainKeys, as kubectl apply sends */
	SMP_OK(&t_pod,
	       "{\"spec\":{\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}},{\"name\":\"keep\","
	       "\"emptyDir\":{\"medium\":\"Memory\"}}]}}",
	       "{\"spec\":{\"$setElementOrder/volumes\":[{\"name\":\"data\"},{\"name\":\"keep\"}],"
	       "\"volumes\":[{\"$retainKeys\":[\"configMap\",\"name\"],\"configMap\":{\"name\":\"cfg\"},"
	       "\"name\":\"data\"}]}}",
	       "{\"spec\":{\"volumes\":[{\"name\":\"data\",\"configMap\":{\"name\":\"cfg\"}},"
	       "{\"name\":\"keep\",\"emptyDir\":{\"medium\":\"Memory\"}}]}}");
	/* imagePullSecrets appended; duplicates in the patch merge into one element */
	SMP_OK(&t_pod, "{\"spec\":{}}",
	       "{\"spec\":{\"imagePullSecrets\":[{\"name\":\"r\"},{\"name\":\"r\"}]}}",
	       "{\"spec\":{\"imagePullSecrets\":[{\"name\":\"r\"}]}}");
	/* ownerReferences by uid, deleting one */
	SMP_OK(&t_pod,
	       "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"kind\":\"A\"},"
	       "{\"uid\":\"2\",\"kind\":\"B\"}]}}",
	       "{\"metadata\":{\"ownerReferences\":[{\"$patch\":\"delete\",\"uid\":\"1\"}]}}",
	       "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"2\",\"kind\":\"B\"}]}}");
}

static void test_smp_primitive_lists(void **state)
{
	/* finalizers: a union (ordered as Kubernetes does), then a deletion */
	SMP_OK(&t_pod, "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
	       "{\"metadata\":{\"finalizers\":[\"c\",\"a\"]}}",
	       "{\"metadata\":{\"finalizers\":[\"c\",\"a\",\"b\"]}}");
	SMP_OK(&t_pod, "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"a\"]}}",
	       "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"a\"]}}",
	       "{\"metadata\":{\"finalizers\":[\"b\"]}}");
	SMP_OK(&t_pod, "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
	       "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"],"
	       "\"finalizers\":[\"c\"],\"$setElementOrder/finalizers\":[\"a\",\"c\"]}}",
	       "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}");
	/* deleting from an absent list adds nothing */
	SMP_OK(&t_pod, "{\"metadata\":{}}",
	       "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"x\"]}}",
	       "{\"metadata\":{}}");
	/* command (atomic) is replaced */
	SMP_OK(&t_pod, "{\"spec\":{\"containers\":[{\"name\":\"c\",\"command\":[\"a\",\"b\"]}]}}",
	       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"command\":[\"b\"]}]}}",
	       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"command\":[\"b\"]}]}}");
}

static void test_smp_maps_and_retain_keys(void **state)
{
	/* deployment strategy RollingUpdate -> Recreate, as kubectl apply sends it */
	SMP_OK(&t_deployment,
	       "{\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
	       "{\"maxSurge\":\"25%\",\"maxUnavailable\":\"25%\"}}}}",
	       "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\","
	       "\"rollingUpdate\":null}}}",
	       "{\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"Recreate\"}}}");
	/* $patch: replace on a map, $patch: delete on a map (leaves it empty, like Kubernetes) */
	SMP_OK(&t_pod, "{\"spec\":{\"nodeSelector\":{\"a\":\"1\",\"b\":\"2\"}}}",
	       "{\"spec\":{\"nodeSelector\":{\"$patch\":\"replace\",\"c\":\"3\"}}}",
	       "{\"spec\":{\"nodeSelector\":{\"c\":\"3\"}}}");
	SMP_OK(&t_pod, "{\"metadata\":{\"labels\":{\"a\":\"1\"}},\"spec\":{}}",
	       "{\"metadata\":{\"labels\":{\"$patch\":\"delete\"}}}",
	       "{\"metadata\":{\"labels\":{}},\"spec\":{}}");
	SMP_OK(&t_pod, "{\"a\":1}", "{\"$patch\":\"replace\",\"b\":2}", "{\"b\":2}");
	/* free-form fields and unknown kinds: merge-patch rules, directives still understood */
	SMP_OK(NULL, "{\"spec\":{\"list\":[{\"name\":\"a\"}],\"m\":{\"a\":1,\"z\":2}}}",
	       "{\"spec\":{\"list\":[{\"name\":\"b\",\"x\":null}],\"m\":{\"$patch\":\"replace\","
	       "\"b\":2},\"n\":{\"$patch\":\"delete\"}}}",
	       "{\"spec\":{\"list\":[{\"name\":\"b\"}],\"m\":{\"b\":2},\"n\":{}}}");
	SMP_OK(&t_deployment, "{\"status\":{\"conditions\":[{\"type\":\"A\"}]}}",
	       "{\"status\":{\"conditions\":[{\"type\":\"B\"}],\"$ref\":\"x\"}}",
	       "{\"status\":{\"conditions\":[{\"type\":\"B\"}],\"$ref\":\"x\"}}");
	/* a scalar replaced by an object, an object by a scalar */
	SMP_OK(&t_pod, "{\"spec\":{\"restartPolicy\":\"Always\",\"x\":{\"y\":1}}}",
	       "{\"spec\":{\"restartPolicy\":{\"a\":null,\"b\":1},\"x\":2}}",
	       "{\"spec\":{\"restartPolicy\":{\"b\":1},\"x\":2}}");
}

/* Does v hold a directive anywhere? */
static bool has_directive(const cJSON *v)
{
	for (const cJSON *c = v->child; c; c = c->next) {
		if (c->string && c->string[0] == '$')
			return true;
		if (has_directive(c))
			return true;
	}
	return false;
}

static void test_smp_directives_never_stored(void **state)
{
	struct kc_err err = {0};
	cJSON *d = J("{\"spec\":{\"containers\":[{\"name\":\"app\"}]}}");
	/* a new container whose env carries deletions and replace directives; an absent list
	 * with $setElementOrder and a deletion; nested $retainKeys in a new volume */
	int rc =
		apply(SMP, &d,
		      "{\"spec\":{\"containers\":[{\"name\":\"new\",\"env\":[{\"name\":\"X\","
		      "\"$patch\":\"delete\"},{\"name\":\"Y\",\"value\":\"1\",\"valueFrom\":null}],"
		      "\"resources\":{\"$patch\":\"replace\",\"limits\":{\"cpu\":\"1\"}}}],"
		      "\"$setElementOrder/initContainers\":[{\"name\":\"i\"}],"
		      "\"initContainers\":[{\"name\":\"i\",\"image\":\"x\"},{\"$patch\":\"delete\","
		      "\"name\":\"z\"}],\"volumes\":[{\"name\":\"v\",\"$retainKeys\":[\"name\","
		      "\"configMap\"],\"configMap\":{\"name\":\"c\"}}],"
		      "\"tolerations\":[{\"key\":\"k\",\"value\":null,\"$patch\":\"replace\"}]}}",
		      &t_pod, &err);
	if (rc)
		fail_msg("%s", err.msg);
	assert_false(has_directive(d));
	check_json(
		d,
		"{\"spec\":{\"containers\":[{\"name\":\"new\",\"env\":[{\"name\":\"Y\","
		"\"value\":\"1\"}],\"resources\":{\"limits\":{\"cpu\":\"1\"}}},{\"name\":\"app\"}],"
		"\"initContainers\":[{\"name\":\"i\",\"image\":\"x\"}],\"volumes\":[{\"name\":\"v\","
		"\"configMap\":{\"name\":\"c\"}}],\"tolerations\":[{\"key\":\"k\"}]}}",
		true);
	cJSON_Delete(d);
}

static void test_smp_errors(void **state)
{
	const char *pod = "{\"metadata\":{\"labels\":{\"a\":\"1\"},\"finalizers\":[\"f\"]},"
			  "\"spec\":{\"containers\":[{\"name\":\"c\"}],\"tolerations\":[]}}";
	patch_fails(SMP, pod, "[1]", &t_pod, -KC_EINVAL, "must be a JSON object");
	patch_fails(SMP, pod, "{\"$patch\":\"frob\"}", &t_pod, -KC_EINVAL, "unknown patch type");
	patch_fails(SMP, pod, "{\"spec\":{\"$patch\":1}}", &t_pod, -KC_EINVAL,
		    "spec: unknown patch");
	patch_fails(SMP, pod, "{\"spec\":{\"$frob\":1}}", &t_pod, -KC_EINVAL,
		    "unknown directive \"$frob\"");
	patch_fails(SMP, pod, "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}", &t_pod, -KC_EINVAL,
		    "spec.containers[0]: does not contain declared merge key: name");
	patch_fails(SMP, pod, "{\"spec\":{\"containers\":[{\"$patch\":\"delete\"}]}}", &t_pod,
		    -KC_EINVAL, "merge key");
	patch_fails(SMP, pod, "{\"spec\":{\"containers\":[{\"$patch\":\"merge\"}]}}", &t_pod,
		    -KC_EINVAL, "merging lists cannot yet be specified");
	patch_fails(SMP, pod, "{\"spec\":{\"containers\":[{\"$patch\":\"x\",\"name\":\"c\"}]}}",
		    &t_pod, -KC_EINVAL, "unknown patch type");
	patch_fails(SMP, pod, "{\"spec\":{\"containers\":[\"c\"]}}", &t_pod, -KC_EINVAL,
		    "not identical");
	patch_fails(SMP, pod, "{\"metadata\":{\"finalizers\":[[\"x\"]]}}", &t_pod, -KC_EINVAL,
		    "lists of lists");
	patch_fails(SMP, pod, "{\"metadata\":{\"finalizers\":[null]}}", &t_pod, -KC_EINVAL, "null");
	patch_fails(SMP, pod, "{\"metadata\":{\"$deleteFromPrimitiveListX\":[1]}}", &t_pod,
		    -KC_EINVAL, "primitive list");
	patch_fails(SMP, pod, "{\"metadata\":{\"$setElementOrderX\":[1]}}", &t_pod, -KC_EINVAL,
		    "setElementOrder");
	patch_fails(SMP, pod, "{\"spec\":{\"$setElementOrder/containers\":{}}}", &t_pod, -KC_EINVAL,
		    "not a list");
	patch_fails(SMP, pod,
		    "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"c\"}],"
		    "\"containers\":[{\"name\":\"d\"}]}}",
		    &t_pod, -KC_EINVAL, "doesn't match");
	patch_fails(SMP, pod, "{\"spec\":{\"$setElementOrder/containers\":[{\"image\":\"c\"}]}}",
		    &t_pod, -KC_EINVAL, "merge key");
	patch_fails(SMP, pod, "{\"spec\":{\"$retainKeys\":\"x\"}}", &t_pod, -KC_EINVAL,
		    "retainKeys");
	patch_fails(SMP, pod,
		    "{\"spec\":{\"$retainKeys\":[\"containers\"],\"restartPolicy\":\"x\"}}", &t_pod,
		    -KC_EINVAL, "\"restartPolicy\" is not in the list");
	/* atomic: a late error leaves earlier changes undone */
	patch_fails(SMP, pod,
		    "{\"metadata\":{\"labels\":{\"a\":null}},\"spec\":{\"$patch\":\"x\"}}", &t_pod,
		    -KC_EINVAL, NULL);
	struct kc_err err = {0};
	cJSON *d = J("[]");
	assert_int_equal(apply(SMP, &d, "{}", &t_pod, &err), -KC_EINVAL);
	cJSON_Delete(d);
}

static void test_smp_long_lists(void **state)
{
	/* 5,000 env entries: every one updated, reversed by $setElementOrder, one deleted */
	enum { NENV = 5000 };
	struct kc_str doc = KC_STR_INIT, patch = KC_STR_INIT;
	kc_str_adds(&doc, "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[");
	for (int i = 0; i < NENV; i++)
		kc_str_addf(&doc, "%s{\"name\":\"V%d\",\"value\":\"%d\"}", i ? "," : "", i, i);
	kc_str_adds(&doc, "]}]}}");
	kc_str_adds(&patch,
		    "{\"spec\":{\"containers\":[{\"name\":\"c\",\"$setElementOrder/env\":[");
	for (int i = NENV - 1; i >= 1; i--)
		kc_str_addf(&patch, "%s{\"name\":\"V%d\"}", i < NENV - 1 ? "," : "", i);
	kc_str_adds(&patch, "],\"env\":[");
	for (int i = NENV - 1; i >= 1; i--)
		kc_str_addf(&patch, "{\"name\":\"V%d\",\"value\":\"x%d\"},", i, i);
	kc_str_adds(&patch, "{\"$patch\":\"delete\",\"name\":\"V0\"}]}]}}");

	struct kc_err err = {0};
	cJSON *d = J(doc.buf);
	clock_t t0 = clock();
	int rc = apply(SMP, &d, patch.buf, &t_pod, &err);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	if (rc)
		fail_msg("%s", err.msg);
	assert_true(secs < 5.0);
	const cJSON *env = kc_json_get(d, "spec.containers[0].env");
	assert_int_equal(cJSON_GetArraySize(env), NENV - 1);
	int i = NENV - 1;
	for (const cJSON *e = env->child; e; e = e->next, i--) {
		char name[16], value[16];
		snprintf(name, sizeof name, "V%d", i);
		snprintf(value, sizeof value, "x%d", i);
		assert_string_equal(kc_json_get_str(e, "name"), name);
		assert_string_equal(kc_json_get_str(e, "value"), value);
	}
	cJSON_Delete(d);

	/* the same list through a plain merge (no order directive) and a union of strings */
	d = J(doc.buf);
	kc_str_reset(&patch);
	kc_str_adds(&patch, "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[");
	for (int k = 0; k < NENV; k++)
		kc_str_addf(&patch, "%s{\"name\":\"V%d\",\"value\":null}", k ? "," : "", k);
	kc_str_adds(&patch, "]}]}}");
	assert_int_equal(apply(SMP, &d, patch.buf, &t_pod, &err), 0);
	env = kc_json_get(d, "spec.containers[0].env");
	assert_int_equal(cJSON_GetArraySize(env), NENV);
	assert_null(kc_json_get(env->child, "value"));
	cJSON_Delete(d);
	kc_str_free(&doc);
	kc_str_free(&patch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_patch_ops),
		cmocka_unit_test(test_json_patch_errors),
		cmocka_unit_test(test_json_patch_limits),
		cmocka_unit_test(test_merge_patch),
		cmocka_unit_test(test_smp_kubectl_apply),
		cmocka_unit_test(test_smp_label_annotate_restart),
		cmocka_unit_test(test_smp_lists),
		cmocka_unit_test(test_smp_primitive_lists),
		cmocka_unit_test(test_smp_maps_and_retain_keys),
		cmocka_unit_test(test_smp_directives_never_stored),
		cmocka_unit_test(test_smp_errors),
		cmocka_unit_test(test_smp_long_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
