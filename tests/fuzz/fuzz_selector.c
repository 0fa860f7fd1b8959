/* fuzz_selector.c - untrusted selector strings through label_selector_parse and
 * field_selector_parse (the first byte picks which, and for field selectors the resource), and
 * JSON through label_selector_from_object. Accepted selectors are matched against a few label
 * sets and objects; rejections must carry a message and leave *out NULL. An empty selector
 * matches everything, and a field selector pinning metadata.name=X matches an object named X
 * when that is its only term. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "roles/apiserver/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

static cJSON *labels_fixture(void)
{
	const char *text =
		"[{},{\"app\":\"web\",\"tier\":\"front\",\"x\":\"10\"},"
		"{\"app.kubernetes.io/name\":\"a\",\"in\":\"\"},{\"a\":\"b\",\"b\":\"-3\"}]";
	cJSON *v = NULL;
	struct kc_err err;
	check(kc_json_parse(text, strlen(text), NULL, &v, &err) == 0);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *resources[] = {"pods",	"nodes",       "events", "secrets",
					  "configmaps", "replicasets", "jobs",	 "namespaces"};
	if (size < 1 || size > 16384)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	struct kc_err err = {0};
	unsigned mode = data[0] % 4;
	cJSON *fix = labels_fixture();

	if (mode == 0) {
		struct label_selector *ls = (struct label_selector *)1;
		int rc = label_selector_parse(s, &ls, &err);
		if (rc) {
			check(rc == -KC_EINVAL && ls == NULL && err.msg[0]);
		} else {
			const cJSON *l;
			cJSON_ArrayForEach(l, fix)
			{
				bool m = label_selector_match(ls, l);
				check(!label_selector_empty(ls) || m);
			}
			label_selector_free(ls);
		}
	} else if (mode == 1) {
		cJSON *obj = NULL;
		if (kc_json_parse(s, strlen(s), NULL, &obj, &err) == 0) {
			struct label_selector *ls = (struct label_selector *)1;
			int rc = label_selector_from_object(obj, &ls, &err);
			if (rc) {
				check(rc == -KC_EINVAL && ls == NULL && err.msg[0]);
			} else {
				const cJSON *l;
				cJSON_ArrayForEach(l, fix) label_selector_match(ls, l);
				label_selector_free(ls);
			}
			cJSON_Delete(obj);
		}
	} else {
		const char *res =
			resources[(data[0] / 4) % (sizeof resources / sizeof resources[0])];
		struct field_selector *fs = (struct field_selector *)1;
		int rc = field_selector_parse(s, res, &fs, &err);
		if (rc) {
			check(rc == -KC_EINVAL && fs == NULL && err.msg[0]);
		} else {
			cJSON *o = kc_json_new_object();
			const char *name = field_selector_exact(fs, "metadata.name");
			if (name)
				kc_json_set_str(o, "metadata.name", name);
			bool m = field_selector_match(fs, o);
			check(!field_selector_empty(fs) || m);
			field_selector_exact(fs, "metadata.namespace");
			cJSON_Delete(o);
			field_selector_free(fs);
		}
	}
	cJSON_Delete(fix);
	free(s);
	return 0;
}
