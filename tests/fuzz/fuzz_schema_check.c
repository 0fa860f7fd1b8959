/* fuzz_schema_check.c - untrusted request bodies through kc_json_parse and sch_check against the
 * built-in Pod and Deployment types, as the API server does for create/update with every
 * fieldValidation mode. Invariants: a failure carries a message and the error code of the
 * contract; checking never changes the body unless asked to drop unknown fields; after
 * dropping, a second check finds no unknown fields and the same verdict; defaults applied to
 * an accepted body keep it acceptable. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "roles/apiserver/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

static void run(const struct sch_type *t, const cJSON *body)
{
	struct kc_err err = { 0 };
	cJSON *copy = kc_json_dup(body);
	cJSON *unknown = kc_json_new_array();
	int rc = sch_check(t, copy, unknown, false, &err);
	check(rc == 0 || rc == -KC_EINVAL || rc == -KC_ELIMIT);
	check(rc == 0 || (err.code == rc && err.msg[0]));
	check(kc_json_equal(copy, body)); /* not dropping: unchanged */
	int nunknown = cJSON_GetArraySize(unknown);
	check(nunknown <= SCH_MAX_UNKNOWN);
	for (cJSON *u = unknown->child; u; u = u->next)
		check(cJSON_IsString(u)); /* "" for a member with an empty name at the top */

	/* dropping: same verdict; a clean second pass once it succeeded */
	struct kc_err err2 = { 0 };
	int rc2 = sch_check(t, copy, NULL, true, &err2);
	check(rc2 == rc);
	if (rc == 0) {
		cJSON *again = kc_json_new_array();
		check(sch_check(t, copy, again, false, &err2) == 0);
		check(cJSON_GetArraySize(again) == 0);
		cJSON_Delete(again);
		/* defaults have the declared types: still valid */
		sch_apply_defaults(t, copy);
		check(sch_check(t, copy, NULL, false, &err2) == 0);
	}
	cJSON_Delete(unknown);
	cJSON_Delete(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct schema *s = schema_builtin();
	static const struct sch_type *pod, *deploy;
	if (!pod) {
		pod = schema_resource(s, "", "v1", "pods")->type;
		deploy = schema_resource(s, "apps", "v1", "deployments")->type;
	}
	const struct kc_json_limits lim = { .max_bytes = 1 << 20, .max_depth = 64 };
	struct kc_err err = { 0 };
	cJSON *v = NULL;
	if (kc_json_parse((const char *)data, size, &lim, &v, &err) != 0)
		return 0;
	run(pod, v);
	run(deploy, v);
	cJSON_Delete(v);
	return 0;
}
