/* fuzz_yaml.c - untrusted bytes through kc_yaml_to_json with tight expansion limits; for every
 * document produced: its JSON text parses back to an equal tree, and kc_json_to_yaml writes YAML
 * that reads back as exactly that one document. A rejected input must carry a "yaml: " message.
 *
 * Input: the YAML stream. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/str.h"
#include "lib/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kc_yaml_limits lim = {
		.max_bytes = 1 << 20, .max_depth = 64, .max_nodes = 20000,
		.max_expanded_bytes = 1 << 20,
	};
	struct kc_err err = { 0 };
	cJSON *docs = NULL;
	int rc = kc_yaml_to_json((const char *)data, size, &lim, &docs, &err);
	if (rc) {
		check(docs == NULL && err.code == rc);
		check(strncmp(err.msg, "yaml: ", 6) == 0);
		return 0;
	}
	check(cJSON_IsArray(docs));

	const struct kc_json_limits jlim = { .max_bytes = 64 << 20, .max_depth = 64 };
	const struct kc_yaml_limits ylim = { .max_bytes = 64 << 20, .max_depth = 64 };
	for (const cJSON *d = docs->child; d; d = d->next) {
		check(!cJSON_IsNull(d));
		size_t n;
		char *text = kc_json_print(d, &n);
		cJSON *j = NULL;
		check(kc_json_parse(text, n, &jlim, &j, &err) == 0);
		check(kc_json_equal(d, j));

		struct kc_str y = KC_STR_INIT;
		check(kc_json_to_yaml(d, &y) == 0);
		cJSON *back = NULL;
		if (kc_yaml_to_json_one(y.buf, y.len, &ylim, &back, &err) != 0)
			abort();
		check(kc_json_equal(d, back));

		cJSON_Delete(back);
		kc_str_free(&y);
		cJSON_Delete(j);
		free(text);
	}
	cJSON_Delete(docs);
	return 0;
}
