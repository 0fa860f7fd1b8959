/* fuzz_json.c - untrusted bytes through kc_json_parse; for anything accepted, the invariants the
 * rest of kc relies on: both printers give JSON that parses back to an equal tree, the canonical
 * form depends only on the value (not on member order), copies are equal, path lookups on the
 * tree are safe, and the YAML writer's output reads back (through kc_yaml_to_json) as the same
 * value. A rejected input must carry a positioned message. */
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

/* Reverses the member order of every object, in place. */
static void reverse_members(cJSON *v)
{
	for (cJSON *c = v->child; c; c = c->next)
		reverse_members(c);
	if (!cJSON_IsObject(v) || !v->child)
		return;
	cJSON *rev = NULL, *c = v->child;
	while (c) {
		cJSON *next = c->next;
		c->next = rev;
		if (rev)
			rev->prev = c;
		rev = c;
		c = next;
	}
	/* cJSON keeps the tail in child->prev */
	cJSON *tail = v->child;
	v->child = rev;
	rev->prev = tail;
	tail->next = NULL;
}

static void check_reparse(const cJSON *v, const char *text, size_t len,
			  const struct kc_json_limits *lim)
{
	struct kc_err err;
	cJSON *w = NULL;
	check(kc_json_parse(text, len, lim, &w, &err) == 0);
	check(kc_json_equal(v, w));
	cJSON_Delete(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kc_json_limits lim = { .max_bytes = 1 << 20, .max_depth = 64 };
	struct kc_err err = { 0 };
	cJSON *v = NULL;
	int rc = kc_json_parse((const char *)data, size, &lim, &v, &err);
	if (rc) {
		check(v == NULL && err.code == rc);
		check(rc == -KC_ETOOBIG || strncmp(err.msg, "line ", 5) == 0);
		return 0;
	}

	size_t n, cn;
	char *compact = kc_json_print(v, &n);
	check(strlen(compact) == n);
	check_reparse(v, compact, n, &lim);
	char *canon = kc_json_print_canonical(v, &cn);
	check_reparse(v, canon, cn, &lim);

	/* the canonical form ignores member order */
	cJSON *copy = kc_json_dup(v);
	check(kc_json_equal(v, copy));
	reverse_members(copy);
	check(kc_json_equal(v, copy));
	size_t rn;
	char *recanon = kc_json_print_canonical(copy, &rn);
	check(rn == cn && memcmp(recanon, canon, cn) == 0);

	/* lookups agree between the tree and its reordered copy; set and delete behave */
	static const char *paths[] = { "a", "a.b", "[0]", "[0][0]", "a[0].b", "[\"\"]", "a[x.y]",
				       "0", "[1].a[2]", "" };
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		long long ll;
		cJSON *g = kc_json_get(v, paths[i]), *h = kc_json_get(copy, paths[i]);
		check((g == NULL) == (h == NULL) && (!g || kc_json_equal(g, h)));
		const char *s = kc_json_get_str(v, paths[i]);
		check(s == (cJSON_IsString(g) ? g->valuestring : NULL));
		rc = kc_json_get_i64(v, paths[i], &ll);
		check(rc == 0 || rc == -KC_ENOTFOUND || rc == -KC_EINVAL);
		check(kc_json_get_bool(v, paths[i], true) == (cJSON_IsFalse(g) ? false : true));
	}
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		bool present = kc_json_get(copy, paths[i]) != NULL;
		rc = kc_json_delete(copy, paths[i]);
		check(present ? rc == 0 : rc < 0);
	}
	rc = kc_json_set_str(copy, "fuzz.set[0]", "x");
	check(rc <= 0);
	if (rc == 0)
		check(strcmp(kc_json_get_str(copy, "fuzz.set[0]"), "x") == 0);

	/* YAML out and back */
	struct kc_str y = KC_STR_INIT;
	check(kc_json_to_yaml(v, &y) == 0);
	const struct kc_yaml_limits ylim = { .max_bytes = 64 << 20, .max_depth = 64 };
	cJSON *docs = NULL;
	if (kc_yaml_to_json(y.buf, y.len, &ylim, &docs, &err) != 0)
		abort();
	if (cJSON_IsNull(v)) {
		check(cJSON_GetArraySize(docs) == 0);
	} else {
		check(cJSON_GetArraySize(docs) == 1);
		check(kc_json_equal(v, docs->child));
	}

	cJSON_Delete(docs);
	kc_str_free(&y);
	free(recanon);
	free(canon);
	free(compact);
	cJSON_Delete(copy);
	cJSON_Delete(v);
	return 0;
}
