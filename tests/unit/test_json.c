/* Unit tests for lib/json: strict parsing with positions, limits, paths, printers, equality. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/str.h"

static cJSON *parse_ok(const char *text)
{
	struct kc_err err = { 0 };
	cJSON *v = NULL;
	int rc = kc_json_parse(text, strlen(text), NULL, &v, &err);
	if (rc)
		fail_msg("parse of %s failed: %s", text, err.msg);
	assert_non_null(v);
	return v;
}

/* Parses text expecting failure with code, and checks the message. */
static void parse_fails(const char *text, size_t len, int code, const char *msg)
{
	struct kc_err err = { 0 };
	cJSON *v = (cJSON *)1;
	int rc = kc_json_parse(text, len, NULL, &v, &err);
	assert_int_equal(rc, code);
	assert_int_equal(err.code, code);
	assert_null(v);
	if (msg && strcmp(err.msg, msg) != 0)
		fail_msg("message for %s: got \"%s\", want \"%s\"", text, err.msg, msg);
}

static void assert_canonical(const cJSON *v, const char *want)
{
	size_t len;
	char *s = kc_json_print_canonical(v, &len);
	assert_string_equal(s, want);
	assert_int_equal(len, strlen(want));
	free(s);
}

static void test_parse_values(void **state)
{
	cJSON *v = parse_ok(" {\"s\":\"x\",\"n\":-12.5e1,\"t\":true,\"f\":false,\"z\":null,"
			    "\"a\":[1,[],{}],\"o\":{\"k\":\"v\"}}\r\n\t");
	assert_true(cJSON_IsObject(v));
	assert_string_equal(kc_json_get_str(v, "s"), "x");
	assert_true(kc_json_get(v, "n")->valuedouble == -125.0);
	assert_true(cJSON_IsTrue(kc_json_get(v, "t")));
	assert_true(cJSON_IsFalse(kc_json_get(v, "f")));
	assert_true(cJSON_IsNull(kc_json_get(v, "z")));
	assert_int_equal(cJSON_GetArraySize(kc_json_get(v, "a")), 3);
	assert_string_equal(kc_json_get_str(v, "o.k"), "v");
	cJSON_Delete(v);

	/* every scalar may be the root */
	const char *roots[] = { "0", "-0", "1e5", "\"\"", "true", "null", "[]", "{}" };
	for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
		cJSON_Delete(parse_ok(roots[i]));
}

static void test_parse_strings(void **state)
{
	cJSON *v = parse_ok("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u4e2d\", "
			    "\"\\ud83d\\ude00\", \"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"]");
	assert_string_equal(cJSON_GetArrayItem(v, 0)->valuestring, "a\"b\\c/d\b\f\n\r\t");
	assert_string_equal(cJSON_GetArrayItem(v, 1)->valuestring, "\xc3\xa9\xe4\xb8\xad");
	assert_string_equal(cJSON_GetArrayItem(v, 2)->valuestring, "\xf0\x9f\x98\x80");
	assert_string_equal(cJSON_GetArrayItem(v, 3)->valuestring,
			    "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80");
	cJSON_Delete(v);

	parse_fails("\"abc", 4, -KC_EPARSE, "line 1, column 1: unterminated string");
	parse_fails("[\"a\tb\"]", 7, -KC_EPARSE,
		    "line 1, column 4: control character 0x09 in string must be escaped");
	parse_fails("\"\\x\"", 4, -KC_EPARSE, "line 1, column 2: invalid escape '\\x'");
	parse_fails("\"\\u12\"", 6, -KC_EPARSE,
		    "line 1, column 2: invalid \\u escape (needs 4 hex digits)");
	parse_fails("\"\\u0000\"", 8, -KC_EPARSE,
		    "line 1, column 2: \\u0000 is not supported in strings");
	parse_fails("\"\\ud83d\"", 8, -KC_EPARSE,
		    "line 1, column 2: unpaired UTF-16 surrogate in \\u escape");
	parse_fails("\"\\ude00\\ud83d\"", 14, -KC_EPARSE, NULL);
	parse_fails("\"\\ud83d\\u0041\"", 14, -KC_EPARSE, NULL);
	/* invalid UTF-8: bad lead, overlong, encoded surrogate, beyond U+10FFFF, truncated */
	parse_fails("\"\xc3\x28\"", 4, -KC_EPARSE, "line 1, column 2: invalid UTF-8 in string");
	parse_fails("\"\xc0\xaf\"", 4, -KC_EPARSE, NULL);
	parse_fails("\"\xe0\x80\xaf\"", 5, -KC_EPARSE, NULL);
	parse_fails("\"\xed\xa0\x80\"", 5, -KC_EPARSE, NULL);
	parse_fails("\"\xf4\x90\x80\x80\"", 6, -KC_EPARSE, NULL);
	parse_fails("\"\xe4\xb8", 3, -KC_EPARSE, NULL);
	parse_fails("\xff", 1, -KC_EPARSE, "line 1, column 1: expected a value, found byte 0xff");
	/* a byte-order mark is not JSON */
	parse_fails("\xef\xbb\xbf{}", 5, -KC_EPARSE, NULL);
	/* an embedded NUL ends nothing: it is just an unexpected byte */
	parse_fails("{}\0", 3, -KC_EPARSE,
		    "line 1, column 3: unexpected data after the JSON value");
}

static void test_parse_numbers(void **state)
{
	cJSON *v = parse_ok("[0, -0, 1.5, 2e3, 2E-3, -7.25e+2, 9007199254740993, 1e-400]");
	double want[] = { 0, 0, 1.5, 2000, 0.002, -725, 9007199254740992.0, 0 };
	int i = 0;
	for (cJSON *c = v->child; c; c = c->next, i++)
		assert_true(c->valuedouble == want[i]);
	cJSON_Delete(v);

	const char *bad[] = { "01", "+1", ".5", "1.", "1e", "1e+", "-", "--1", "0x10", "NaN",
			      "Infinity", "-Infinity", "1.e5", "tru", "nul" };
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
		parse_fails(bad[k], strlen(bad[k]), -KC_EPARSE, NULL);
	parse_fails("[1e400]", 7, -KC_EPARSE, "line 1, column 2: number out of range");
	parse_fails("01", 2, -KC_EPARSE, "line 1, column 1: invalid number (leading zero)");

	char big[600];
	memset(big, '1', sizeof big);
	parse_fails(big, sizeof big, -KC_EPARSE,
		    "line 1, column 1: number longer than 511 characters");
}

static void test_parse_error_positions(void **state)
{
	const char *text = "{\n  \"a\": 1,\n  \"b\" 2\n}";
	parse_fails(text, strlen(text), -KC_EPARSE,
		    "line 3, column 7: expected ':' after object key, found '2'");
	parse_fails("", 0, -KC_EPARSE, "line 1, column 1: expected a value, found end of input");
	parse_fails("{} x", 4, -KC_EPARSE,
		    "line 1, column 4: unexpected data after the JSON value");
	parse_fails("[1,]", 4, -KC_EPARSE, "line 1, column 4: expected a value, found ']'");
	parse_fails("[1 2]", 5, -KC_EPARSE, "line 1, column 4: expected ',' or ']', found '2'");
	parse_fails("{\"a\":1,}", 8, -KC_EPARSE,
		    "line 1, column 8: expected '\"' (object key), found '}'");
	parse_fails("{1:2}", 5, -KC_EPARSE,
		    "line 1, column 2: expected '\"' (object key) or '}', found '1'");
	parse_fails("{\"a\":1", 6, -KC_EPARSE,
		    "line 1, column 7: expected ',' or '}', found end of input");
	/* columns count characters, not bytes */
	parse_fails("[\"\xc3\xa9\xe4\xb8\xad\", x]", 12, -KC_EPARSE,
		    "line 1, column 8: expected a value, found 'x'");
	/* NULL buffer with zero length is empty input */
	parse_fails(NULL, 0, -KC_EPARSE, NULL);
}

static void test_parse_limits(void **state)
{
	char deep[512];
	struct kc_err err = { 0 };
	cJSON *v;
	for (int depth = 99; depth <= 101; depth++) {
		memset(deep, '[', (size_t)depth);
		memset(deep + depth, ']', (size_t)depth);
		int rc = kc_json_parse(deep, 2 * (size_t)depth, NULL, &v, &err);
		if (depth <= 100) {
			assert_int_equal(rc, 0);
			cJSON_Delete(v);
		} else {
			assert_int_equal(rc, -KC_ELIMIT);
			assert_string_equal(err.msg, "line 1, column 101: nesting deeper than 100 levels");
			assert_null(v);
		}
	}
	struct kc_json_limits lim = { .max_bytes = 10, .max_depth = 2 };
	assert_int_equal(kc_json_parse("[[1]]", 5, &lim, &v, &err), 0);
	cJSON_Delete(v);
	assert_int_equal(kc_json_parse("[{\"a\":[]}]", 10, &lim, &v, &err), -KC_ELIMIT);
	assert_int_equal(kc_json_parse("[1,2,3,4,5]", 11, &lim, &v, &err), -KC_ETOOBIG);
	assert_string_equal(err.msg, "JSON input of 11 bytes exceeds the limit of 10");

	/* a configured depth beyond the cap is clamped to it */
	struct kc_json_limits huge = { .max_depth = 100000 };
	size_t n = KC_JSON_DEPTH_CAP + 1;
	char *d = malloc(2 * n);
	memset(d, '[', n);
	memset(d + n, ']', n);
	assert_int_equal(kc_json_parse(d, 2 * n, &huge, &v, &err), -KC_ELIMIT);
	assert_int_equal(kc_json_parse(d + 1, 2 * n - 2, &huge, &v, &err), 0);
	cJSON_Delete(v);
	free(d);
}

static void test_parse_duplicates(void **state)
{
	parse_fails("{\"a\":1,\"b\":2,\"a\":3}", 19, -KC_EPARSE,
		    "line 1, column 14: duplicate key \"a\"");
	/* large objects go through the index */
	struct kc_str s = KC_STR_INIT;
	kc_str_addc(&s, '{');
	for (int i = 0; i < 100; i++)
		kc_str_addf(&s, "\"k%d\":%d,", i, i);
	kc_str_adds(&s, "\"k42\":0}");
	parse_fails(s.buf, s.len, -KC_EPARSE, NULL);
	kc_str_setlen(&s, s.len - 8);
	kc_str_adds(&s, "\"k100\":0}");
	cJSON *v = parse_ok(s.buf);
	assert_int_equal(cJSON_GetArraySize(v), 101);
	cJSON_Delete(v);
	kc_str_free(&s);
	/* same name in different objects is fine; control characters are masked in messages */
	cJSON_Delete(parse_ok("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"));
	parse_fails("{\"\\n\":1,\"\\n\":2}", 15, -KC_EPARSE, "line 1, column 9: duplicate key \"?\"");
}

static const char *pod =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\",\"labels\":"
	"{\"app.kubernetes.io/name\":\"web\",\"0\":\"zero\",\"a]b\":\"odd\"},\"generation\":3},"
	"\"spec\":{\"containers\":[{\"name\":\"c0\",\"image\":\"nginx:1.25\",\"ports\":"
	"[{\"containerPort\":80}]},{\"name\":\"c1\",\"image\":\"busybox\"}],\"hostNetwork\":true}}";

static void test_path_get(void **state)
{
	cJSON *v = parse_ok(pod);
	assert_string_equal(kc_json_get_str(v, "metadata.name"), "web");
	assert_string_equal(kc_json_get_str(v, "spec.containers[0].image"), "nginx:1.25");
	assert_string_equal(kc_json_get_str(v, "spec.containers[1].name"), "c1");
	assert_string_equal(kc_json_get_str(v, "metadata.labels[app.kubernetes.io/name]"), "web");
	assert_string_equal(kc_json_get_str(v, "metadata.labels[0]"), "zero");
	assert_string_equal(kc_json_get_str(v, "metadata.labels[\"0\"]"), "zero");
	assert_string_equal(kc_json_get_str(v, "metadata.labels[\"a]b\"]"), "odd");
	assert_string_equal(kc_json_get_str(v, "[\"metadata\"][name]"), "web");
	assert_int_equal(kc_json_get(v, "spec.containers[0].ports[0].containerPort")->valuedouble, 80);
	assert_ptr_equal(kc_json_get(v, "spec.containers"),
			 cJSON_GetObjectItem(cJSON_GetObjectItem(v, "spec"), "containers"));

	/* absent, wrong type, or malformed: NULL */
	const char *none[] = { "metadata.namespace", "spec.containers[2]", "spec.containers[x]",
			       "spec.containers[\"0\"]", "metadata.name.x", "kind[0]",
			       "", ".metadata", "metadata.", "metadata..name", "metadata[",
			       "metadata[]", "spec.containers[0", "metadata[\"name]",
			       "metadata[\"na\\me\"]", "spec.containers[99999999999999999999999]" };
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
		if (kc_json_get(v, none[i]))
			fail_msg("path %s should not resolve", none[i]);
	assert_null(kc_json_get_str(v, "metadata.generation"));
	assert_null(kc_json_get(NULL, "a"));
	assert_null(kc_json_get(v, NULL));

	long long n = 0;
	assert_int_equal(kc_json_get_i64(v, "metadata.generation", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(kc_json_get_i64(v, "metadata.nope", &n), -KC_ENOTFOUND);
	assert_int_equal(kc_json_get_i64(v, "metadata.name", &n), -KC_EINVAL);
	assert_true(kc_json_get_bool(v, "spec.hostNetwork", false));
	assert_false(kc_json_get_bool(v, "spec.hostPID", false));
	assert_true(kc_json_get_bool(v, "metadata.name", true));
	cJSON_Delete(v);

	/* a long path goes through heap buffers */
	struct kc_str p = KC_STR_INIT;
	cJSON *root = kc_json_new_object();
	for (int i = 0; i < 40; i++)
		kc_str_addf(&p, "%slevel_%02d_with_a_long_name", i ? "." : "", i);
	assert_int_equal(kc_json_set_str(root, p.buf, "deep"), 0);
	assert_string_equal(kc_json_get_str(root, p.buf), "deep");
	kc_str_free(&p);
	cJSON_Delete(root);
}

static void test_get_i64(void **state)
{
	cJSON *v = parse_ok("{\"max\":9007199254740991,\"min\":-9007199254740991,\"over\":9007199254740992,"
			    "\"frac\":1.5,\"neg\":-42,\"null\":null,\"exp\":1e3,\"s\":\"5\"}");
	long long n = 0;
	assert_int_equal(kc_json_get_i64(v, "max", &n), 0);
	assert_true(n == 9007199254740991LL);
	assert_int_equal(kc_json_get_i64(v, "min", &n), 0);
	assert_true(n == -9007199254740991LL);
	assert_int_equal(kc_json_get_i64(v, "over", &n), -KC_EINVAL);
	assert_int_equal(kc_json_get_i64(v, "frac", &n), -KC_EINVAL);
	assert_int_equal(kc_json_get_i64(v, "neg", &n), 0);
	assert_int_equal(n, -42);
	assert_int_equal(kc_json_get_i64(v, "exp", &n), 0);
	assert_int_equal(n, 1000);
	assert_int_equal(kc_json_get_i64(v, "null", &n), -KC_ENOTFOUND);
	assert_int_equal(kc_json_get_i64(v, "s", &n), -KC_EINVAL);
	cJSON_Delete(v);
	cJSON *nan = kc_json_new_num(NAN);
	assert_int_equal(kc_json_as_i64(nan, &n), -KC_EINVAL);
	cJSON_Delete(nan);
}

static void test_path_set(void **state)
{
	cJSON *v = parse_ok("{\"metadata\":{\"name\":\"a\",\"uid\":\"u\"},\"spec\":{\"list\":[1,2]}}");
	/* replace in place keeps member order */
	assert_int_equal(kc_json_set_str(v, "metadata.name", "b"), 0);
	char *s = kc_json_print(v, NULL);
	assert_string_equal(s, "{\"metadata\":{\"name\":\"b\",\"uid\":\"u\"},\"spec\":{\"list\":[1,2]}}");
	free(s);
	/* intermediate objects and arrays are created */
	assert_int_equal(kc_json_set_str(v, "metadata.labels[app.kubernetes.io/name]", "web"), 0);
	assert_int_equal(kc_json_set_str(v, "status.conditions[0].type", "Ready"), 0);
	assert_int_equal(kc_json_set_i64(v, "metadata.generation", 7), 0);
	assert_int_equal(kc_json_set_bool(v, "spec.paused", true), 0);
	/* arrays: replace, append at size, reject beyond */
	assert_int_equal(kc_json_set(v, "spec.list[0]", kc_json_new_num(10)), 0);
	assert_int_equal(kc_json_set(v, "spec.list[2]", kc_json_new_num(3)), 0);
	assert_int_equal(kc_json_set(v, "spec.list[4]", kc_json_new_num(5)), -KC_ENOTFOUND);
	assert_canonical(v, "{\"metadata\":{\"generation\":7,\"labels\":{\"app.kubernetes.io/name\":"
			    "\"web\"},\"name\":\"b\",\"uid\":\"u\"},\"spec\":{\"list\":[10,2,3],"
			    "\"paused\":true},\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}");

	/* failures leave the tree untouched (values are still consumed; ASan checks leaks) */
	char *before = kc_json_print(v, NULL);
	assert_int_equal(kc_json_set_str(v, "metadata.name.first", "x"), -KC_ECONFLICT);
	assert_int_equal(kc_json_set_str(v, "spec.list.x", "x"), -KC_ECONFLICT);
	assert_int_equal(kc_json_set_str(v, "new.list[1].x", "x"), -KC_ENOTFOUND);
	assert_int_equal(kc_json_set_str(v, "new.a[0][3]", "x"), -KC_ENOTFOUND);
	assert_int_equal(kc_json_set_str(v, "new..x", "x"), -KC_EINVAL);
	assert_int_equal(kc_json_set_str(v, "", "x"), -KC_EINVAL);
	assert_int_equal(kc_json_set_i64(v, "big", 9007199254740992LL), -KC_EINVAL);
	char *after = kc_json_print(v, NULL);
	assert_string_equal(before, after);
	free(before);
	free(after);

	/* nested arrays created from nothing */
	assert_int_equal(kc_json_set_str(v, "grid[0][0]", "x"), 0);
	assert_string_equal(kc_json_get_str(v, "grid[0][0]"), "x");

	/* set on a scalar root is invalid */
	cJSON *scalar = kc_json_new_num(1);
	assert_int_equal(kc_json_set_str(scalar, "a", "x"), -KC_EINVAL);
	cJSON_Delete(scalar);

	/* delete */
	assert_int_equal(kc_json_delete(v, "spec.list[1]"), 0);
	assert_int_equal(kc_json_delete(v, "metadata.uid"), 0);
	assert_int_equal(kc_json_delete(v, "metadata.uid"), -KC_ENOTFOUND);
	assert_int_equal(kc_json_delete(v, "nope.x"), -KC_ENOTFOUND);
	assert_int_equal(kc_json_delete(v, "a["), -KC_EINVAL);
	assert_int_equal(kc_json_delete(v, "status"), 0);
	assert_int_equal(kc_json_delete(v, "grid"), 0);
	assert_canonical(v, "{\"metadata\":{\"generation\":7,\"labels\":{\"app.kubernetes.io/name\":"
			    "\"web\"},\"name\":\"b\"},\"spec\":{\"list\":[10,3],\"paused\":true}}");
	cJSON_Delete(v);

	/* an array root */
	cJSON *arr = kc_json_new_array();
	assert_int_equal(kc_json_set_str(arr, "[0].name", "x"), 0);
	assert_int_equal(kc_json_set_str(arr, "name", "x"), -KC_ECONFLICT);
	assert_canonical(arr, "[{\"name\":\"x\"}]");
	cJSON_Delete(arr);
}

static void test_canonical(void **state)
{
	cJSON *a = parse_ok("{\"b\":1,\"a\":{\"z\":[3,{\"y\":1,\"x\":2}],\"\":0},\"B\":true,"
			    "\"\xc3\xa9\":1,\"aa\":null}");
	cJSON *b = parse_ok("{\"aa\":null,\"\xc3\xa9\":1,\"a\":{\"\":0,\"z\":[3,{\"x\":2,\"y\":1}]},"
			    "\"B\":true,\"b\":1}");
	/* byte order: uppercase before lowercase, multi-byte UTF-8 last */
	const char *want = "{\"B\":true,\"a\":{\"\":0,\"z\":[3,{\"x\":2,\"y\":1}]},\"aa\":null,"
			   "\"b\":1,\"\xc3\xa9\":1}";
	assert_canonical(a, want);
	assert_canonical(b, want);
	assert_true(kc_json_equal(a, b));
	char *pa = kc_json_print(a, NULL);
	assert_string_equal(pa, "{\"b\":1,\"a\":{\"z\":[3,{\"y\":1,\"x\":2}],\"\":0},\"B\":true,"
				"\"\xc3\xa9\":1,\"aa\":null}");
	free(pa);
	cJSON_Delete(a);
	cJSON_Delete(b);

	/* numbers */
	cJSON *n = parse_ok("[1.0,-0.0,1e2,100000000000000000000,0.1,1.5e-7,9007199254740992,"
			    "-9007199254740993,0.30000000000000004,123456789.125,5e-324,1.7976931348623157e308]");
	assert_canonical(n, "[1,0,100,1e+20,0.1,1.5e-07,9007199254740992,-9007199254740992,"
			    "0.30000000000000004,123456789.125,4.94065645841247e-324,"
			    "1.7976931348623157e+308]");
	cJSON_Delete(n);

	/* strings: escapes, UTF-8 kept, invalid UTF-8 replaced */
	cJSON *s = kc_json_new_array();
	cJSON_AddItemToArray(s, kc_json_new_str("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f"));
	cJSON_AddItemToArray(s, kc_json_new_str("\xc3\xa9\xf0\x9f\x98\x80"));
	cJSON_AddItemToArray(s, kc_json_new_str("a\xff" "b\xc3"));
	cJSON_AddItemToArray(s, kc_json_new_num(NAN));
	cJSON_AddItemToArray(s, kc_json_new_num(-INFINITY));
	assert_canonical(s, "[\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\",\"\xc3\xa9\xf0\x9f\x98\x80\","
			    "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\",null,null]");
	cJSON_Delete(s);

	/* duplicate names (programmatic trees) stay in insertion order: deterministic */
	cJSON *d = kc_json_new_object();
	kc_json_add(d, "k", kc_json_new_num(2));
	kc_json_add(d, "a", kc_json_new_num(0));
	kc_json_add(d, "k", kc_json_new_num(1));
	assert_canonical(d, "{\"a\":0,\"k\":2,\"k\":1}");
	cJSON_Delete(d);

	/* large objects take the heap path of the sorter */
	cJSON *big = kc_json_new_object();
	for (int i = 99; i >= 0; i--) {
		char k[8];
		snprintf(k, sizeof k, "%02d", i);
		kc_json_add(big, k, kc_json_new_num(i));
	}
	char *c = kc_json_print_canonical(big, NULL);
	assert_true(strncmp(c, "{\"00\":0,\"01\":1,", 15) == 0);
	assert_non_null(strstr(c, "\"98\":98,\"99\":99}"));
	free(c);
	cJSON_Delete(big);
}

static void test_format_number(void **state)
{
	char buf[KC_JSON_NUMBUF];
	struct {
		double v;
		const char *s;
	} cases[] = {
		{ 0, "0" },
		{ -0.0, "0" },
		{ 42, "42" },
		{ -9007199254740992.0, "-9007199254740992" },
		{ 9007199254740994.0, "9007199254740994" },
		{ 1e16, "1e+16" },
		{ 1e17, "1e+17" },
		{ 0.5, "0.5" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 2.5e-5, "2.5e-05" },
		{ -1e300, "-1e+300" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ INFINITY, "null" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = kc_json_format_number(cases[i].v, buf);
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(n, strlen(cases[i].s));
		if (isfinite(cases[i].v))
			assert_true(strtod(buf, NULL) == cases[i].v);
	}
}

static void test_equal(void **state)
{
	cJSON *a = parse_ok("{\"x\":[1,\"2\",{\"p\":null,\"q\":[true]}],\"y\":{}}");
	cJSON *b = parse_ok("{\"y\":{},\"x\":[1,\"2\",{\"q\":[true],\"p\":null}]}");
	cJSON *c = parse_ok("{\"y\":{},\"x\":[\"2\",1,{\"q\":[true],\"p\":null}]}");
	cJSON *d = parse_ok("{\"y\":{},\"x\":[1,\"2\",{\"q\":[false],\"p\":null}]}");
	cJSON *e = parse_ok("{\"y\":{},\"x\":[1,\"2\",{\"q\":[true],\"r\":null}]}");
	cJSON *f = parse_ok("{\"y\":{},\"x\":[1,\"2\",{\"q\":[true],\"p\":null}],\"z\":1}");
	cJSON *g = parse_ok("{\"y\":[],\"x\":[1,\"2\",{\"q\":[true],\"p\":null}]}");
	assert_true(kc_json_equal(a, b));
	assert_true(kc_json_equal(b, a));
	assert_true(kc_json_equal(a, a));
	assert_false(kc_json_equal(a, c));
	assert_false(kc_json_equal(a, d));
	assert_false(kc_json_equal(a, e));
	assert_false(kc_json_equal(a, f));
	assert_false(kc_json_equal(f, a));
	assert_false(kc_json_equal(a, g));
	assert_false(kc_json_equal(a, NULL));
	assert_true(kc_json_equal(NULL, NULL));
	cJSON *copy = kc_json_dup(a);
	assert_true(kc_json_equal(a, copy));
	cJSON *num1 = kc_json_new_num(1), *num2 = kc_json_new_num(1.0), *str1 = kc_json_new_str("1");
	assert_true(kc_json_equal(num1, num2));
	assert_false(kc_json_equal(num1, str1));
	cJSON *objs[] = { a, b, c, d, e, f, g, copy, num1, num2, str1 };
	for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
		cJSON_Delete(objs[i]);
}

static void test_round_trip(void **state)
{
	cJSON *v = parse_ok(pod);
	size_t len;
	char *s = kc_json_print(v, &len);
	assert_int_equal(len, strlen(pod));
	assert_string_equal(s, pod);
	cJSON *back = NULL;
	struct kc_err err;
	assert_int_equal(kc_json_parse(s, len, NULL, &back, &err), 0);
	assert_true(kc_json_equal(v, back));
	struct kc_str out = KC_STR_INIT;
	kc_str_adds(&out, "x=");
	kc_json_write(&out, v);
	assert_int_equal(out.len, len + 2);
	kc_str_reset(&out);
	kc_json_write_canonical(&out, back);
	char *canon = kc_json_print_canonical(v, NULL);
	assert_string_equal(out.buf, canon);
	kc_str_reset(&out);
	kc_json_write_string(&out, "say \"hi\"\n");
	assert_string_equal(out.buf, "\"say \\\"hi\\\"\\n\"");
	free(canon);
	free(s);
	kc_str_free(&out);
	cJSON_Delete(v);
	cJSON_Delete(back);
}

static void test_utf8(void **state)
{
	assert_true(kc_json_valid_utf8("", 0));
	assert_true(kc_json_valid_utf8("abc\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 12));
	assert_true(kc_json_valid_utf8("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7));
	assert_false(kc_json_valid_utf8("\x80", 1));
	assert_false(kc_json_valid_utf8("\xc1\xbf", 2));
	assert_false(kc_json_valid_utf8("\xe0\x9f\xbf", 3));
	assert_false(kc_json_valid_utf8("\xed\xbf\xbf", 3));
	assert_false(kc_json_valid_utf8("\xf0\x8f\xbf\xbf", 4));
	assert_false(kc_json_valid_utf8("\xf5\x80\x80\x80", 4));
	assert_false(kc_json_valid_utf8("\xc3", 1));
	assert_false(kc_json_valid_utf8("\xe2\x82", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_values),
		cmocka_unit_test(test_parse_strings),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_parse_error_positions),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_duplicates),
		cmocka_unit_test(test_path_get),
		cmocka_unit_test(test_get_i64),
		cmocka_unit_test(test_path_set),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_format_number),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
