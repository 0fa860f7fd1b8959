/* fuzz_protobuf.c - untrusted protobuf request bodies (application/vnd.kubernetes.protobuf)
 * through kc_pb_decode_opts against the built-in schema, as the API server decodes them, and
 * the same bytes as a bare Pod and Deployment message. Invariants: a failure carries a message
 * and one of the contract's codes and leaves no tree; a success is a JSON object with kind and
 * apiVersion strings that prints as JSON kc_json_parse accepts (so no NaN, no invalid UTF-8,
 * no NUL), within the depth limit, and that sch_check can walk; unknown-field reports stay
 * within SCH_MAX_UNKNOWN. Seeds are bodies recorded from kubectl 1.32. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "roles/apiserver/protobuf.h"
#include "roles/apiserver/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

static void check_result(int rc, cJSON *out, const struct kc_err *err, const struct sch_type *t)
{
	check(rc == 0 || rc == -KC_EPARSE || rc == -KC_ELIMIT || rc == -KC_ETOOBIG ||
	      rc == -KC_EUNSUPPORTED);
	if (rc) {
		check(out == NULL);
		check(err->code == rc && err->msg[0]);
		return;
	}
	check(cJSON_IsObject(out));
	size_t len = 0;
	char *text = kc_json_print(out, &len);
	cJSON *back = NULL;
	struct kc_err perr = { 0 };
	check(kc_json_parse(text, len, NULL, &back, &perr) == 0);
	check(kc_json_equal(out, back));
	cJSON_Delete(back);
	free(text);
	if (t) {
		struct kc_err cerr = { 0 };
		cJSON *unknown = kc_json_new_array();
		int crc = sch_check(t, out, unknown, true, &cerr);
		check(crc == 0 || crc == -KC_EINVAL || crc == -KC_ELIMIT);
		cJSON_Delete(unknown);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct schema *s = schema_builtin();
	cJSON *unknown = kc_json_new_array();
	size_t nunknown = 0;
	struct kc_pb_opts o = { .unknown = unknown, .nunknown = &nunknown };
	cJSON *out = NULL;
	struct kc_err err = { 0 };
	int rc = kc_pb_decode_opts(s, data, size, &o, &out, &err);
	check_result(rc, out, &err, NULL);
	if (rc == 0) {
		check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(out, "kind")));
		check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(out, "apiVersion")));
	}
	check((size_t)cJSON_GetArraySize(unknown) <= SCH_MAX_UNKNOWN);
	check((size_t)cJSON_GetArraySize(unknown) <= nunknown);
	cJSON_Delete(out);
	cJSON_Delete(unknown);

	/* the bytes after the magic as bare messages */
	const uint8_t *p = size >= KC_PB_MAGIC_LEN ? data + KC_PB_MAGIC_LEN : data;
	size_t n = size >= KC_PB_MAGIC_LEN ? size - KC_PB_MAGIC_LEN : size;
	static const char *const kinds[] = { "Pod", "Deployment" };
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		const struct sch_type *t = schema_type(s, kinds[i]);
		check(t != NULL);
		struct kc_err e2 = { 0 };
		struct kc_pb_opts small = { .max_depth = 20, .max_elements = 4096 };
		out = NULL;
		rc = kc_pb_decode_message(t, p, n, &small, &out, &e2);
		check_result(rc, out, &e2, t);
		cJSON_Delete(out);
	}
	return 0;
}
