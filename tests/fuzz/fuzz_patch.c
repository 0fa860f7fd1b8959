/* fuzz_patch.c - untrusted documents and patches through the three patch types. The input is
 * one selector byte (0 JSON patch, 1 merge patch, 2 strategic merge patch on a Pod-like type
 * graph, 3 strategic merge patch without a schema), the document JSON, a NUL byte and the patch
 * JSON. Invariants: a failed patch leaves the document as it was and says why; a result always
 * prints to JSON that parses back (within KC_JSON_DEPTH_CAP) to an equal tree; a merge patch is
 * idempotent; a strategic merge patch never stores a directive the document did not have. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/str.h"
#include "roles/apiserver/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct sch_type t_string = {.kind = SCH_STRING};
static const struct sch_type t_int32 = {.kind = SCH_INT32};
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
};
static const struct sch_type t_port = {
	.kind = SCH_STRUCT, .name = "ContainerPort", .fields = f_port, .nfields = N(f_port)};
static const struct sch_type t_portlist = {.kind = SCH_ARRAY, .elem = &t_port};

static const struct sch_field f_container[] = {
	{.name = "name", .type = &t_string},
	{.name = "image", .type = &t_string},
	{.name = "args", .type = &t_strlist},
	{.name = "env", .type = &t_envlist, .merge_key = "name", .patch_strategy = SCH_PATCH_MERGE},
	{.name = "ports",
	 .type = &t_portlist,
	 .merge_key = "containerPort",
	 .patch_strategy = SCH_PATCH_MERGE},
};
static const struct sch_type t_container = {
	.kind = SCH_STRUCT, .name = "Container", .fields = f_container, .nfields = N(f_container)};
static const struct sch_type t_containerlist = {.kind = SCH_ARRAY, .elem = &t_container};

static const struct sch_field f_volume[] = {
	{.name = "name", .type = &t_string},
	{.name = "emptyDir", .type = &t_free},
	{.name = "configMap", .type = &t_free},
};
static const struct sch_type t_volume = {
	.kind = SCH_STRUCT, .name = "Volume", .fields = f_volume, .nfields = N(f_volume)};
static const struct sch_type t_volumelist = {.kind = SCH_ARRAY, .elem = &t_volume};

static const struct sch_field f_podspec[] = {
	{.name = "containers",
	 .type = &t_containerlist,
	 .merge_key = "name",
	 .patch_strategy = SCH_PATCH_MERGE},
	{.name = "volumes",
	 .type = &t_volumelist,
	 .merge_key = "name",
	 .patch_strategy = SCH_PATCH_MERGE | SCH_PATCH_RETAIN_KEYS},
	{.name = "tolerations", .type = &t_free},
	{.name = "nodeSelector", .type = &t_strmap},
};
static const struct sch_type t_podspec = {
	.kind = SCH_STRUCT, .name = "PodSpec", .fields = f_podspec, .nfields = N(f_podspec)};

static const struct sch_field f_meta[] = {
	{.name = "name", .type = &t_string},
	{.name = "labels", .type = &t_strmap},
	{.name = "annotations", .type = &t_strmap},
	{.name = "finalizers", .type = &t_strlist, .patch_strategy = SCH_PATCH_MERGE},
};
static const struct sch_type t_meta = {
	.kind = SCH_STRUCT, .name = "ObjectMeta", .fields = f_meta, .nfields = N(f_meta)};

static const struct sch_field f_pod[] = {
	{.name = "apiVersion", .type = &t_string}, {.name = "kind", .type = &t_string},
	{.name = "metadata", .type = &t_meta},	   {.name = "spec", .type = &t_podspec},
	{.name = "status", .type = &t_free},
};
static const struct sch_type t_pod = {
	.kind = SCH_STRUCT, .name = "Pod", .fields = f_pod, .nfields = N(f_pod)};

static void check(bool cond)
{
	if (!cond)
		abort();
}

/* Whether v holds one of the strategic merge patch directives as a member name. */
static bool has_directive(const cJSON *v)
{
	for (const cJSON *c = v->child; c; c = c->next) {
		const char *k = c->string;
		if (k && (strcmp(k, "$patch") == 0 || strcmp(k, "$retainKeys") == 0 ||
			  strncmp(k, "$setElementOrder/", 17) == 0 ||
			  strncmp(k, "$deleteFromPrimitiveList/", 25) == 0))
			return true;
		if (has_directive(c))
			return true;
	}
	return false;
}

static void check_printable(const cJSON *v)
{
	const struct kc_json_limits lim = {.max_bytes = 64 << 20, .max_depth = KC_JSON_DEPTH_CAP};
	struct kc_err err;
	size_t n;
	char *text = kc_json_print(v, &n);
	cJSON *w = NULL;
	check(kc_json_parse(text, n, &lim, &w, &err) == 0);
	check(kc_json_equal(v, w));
	cJSON_Delete(w);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kc_json_limits lim = {.max_bytes = 1 << 20, .max_depth = 64};
	struct kc_err err = {0};
	cJSON *doc = NULL, *patch = NULL;

	if (size < 2)
		return 0;
	unsigned sel = data[0] % 4;
	const char *text = (const char *)data + 1;
	const char *nul = memchr(text, '\0', size - 1);
	if (!nul)
		return 0;
	size_t dlen = (size_t)(nul - text), plen = size - 1 - dlen - 1;
	if (kc_json_parse(text, dlen, &lim, &doc, &err) ||
	    kc_json_parse(nul + 1, plen, &lim, &patch, &err))
		goto out;

	cJSON *before = kc_json_dup(doc);
	int rc;
	kc_err_clear(&err);
	switch (sel) {
	case 0:
		rc = patch_json(&doc, patch, &err);
		break;
	case 1:
		rc = patch_merge(&doc, patch, &err);
		break;
	default:
		rc = patch_strategic(&doc, patch, sel == 2 ? &t_pod : NULL, &err);
		break;
	}
	if (rc) {
		check(rc == -KC_EINVAL || rc == -KC_ECONFLICT || rc == -KC_ETOOBIG);
		check(err.code == rc && err.msg[0] != '\0');
		check(kc_json_equal(doc, before));
	} else {
		check_printable(doc);
		if (sel == 1) {
			cJSON *again = kc_json_dup(doc);
			check(patch_merge(&again, patch, &err) == 0);
			check(kc_json_equal(again, doc));
			cJSON_Delete(again);
		}
		if (sel >= 2 && !has_directive(before))
			check(!has_directive(doc));
	}
	cJSON_Delete(before);
out:
	cJSON_Delete(doc);
	cJSON_Delete(patch);
	return 0;
}
