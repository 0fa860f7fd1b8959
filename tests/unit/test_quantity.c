/* Unit tests for lib/quantity: ParseQuantity's grammar and quirks, canonical serialization,
 * Value/MilliValue rounding and overflow, comparison and addition. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "lib/json.h"
#include "lib/quantity.h"

static struct kc_quantity parse_ok(const char *s)
{
	struct kc_quantity q;
	struct kc_err err = {0};
	if (kc_quantity_parse(s, &q, &err) != 0)
		fail_msg("parse of \"%s\" failed: %s", s, err.msg);
	return q;
}

static void formats_as(const char *in, const char *want)
{
	struct kc_quantity q = parse_ok(in);
	char buf[KC_QUANTITY_STRMAX];
	size_t n = kc_quantity_format(&q, buf);
	if (strcmp(buf, want) != 0)
		fail_msg("\"%s\" formats as \"%s\", want \"%s\"", in, buf, want);
	assert_int_equal(n, strlen(want));
	/* the serialized form parses back to the same value */
	struct kc_quantity r = parse_ok(buf);
	assert_int_equal(kc_quantity_cmp(&q, &r), 0);
}

static void rejects(const char *in, int code, const char *msg)
{
	struct kc_quantity q;
	struct kc_err err = {0};
	int rc = kc_quantity_parse(in, &q, &err);
	if (rc != code)
		fail_msg("\"%s\": got %d, want %d (%s)", in, rc, code, err.msg);
	if (msg)
		assert_string_equal(err.msg, msg);
	assert_true(kc_quantity_is_zero(&q));
}

#define FORMAT_MSG                                                                                 \
	"quantities must match the regular expression "                                            \
	"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

static void test_canonical(void **state)
{
	formats_as("0", "0");
	formats_as("1000m", "1");
	formats_as("1.5Gi", "1536Mi");
	formats_as("0.1", "100m");
	formats_as("1.5", "1500m");
	formats_as("0.5", "500m");
	formats_as("100m", "100m");
	formats_as("1", "1");
	formats_as("1000", "1k");
	formats_as("1500", "1500");
	formats_as("2000000", "2M");
	formats_as("1Ki", "1Ki");
	formats_as("1024Ki", "1Mi");
	formats_as("1536Ki", "1536Ki");
	formats_as("0.5Ki", "512");
	formats_as("0.5Gi", "512Mi");
	formats_as("1.1Ki", "1126400m");
	formats_as("128974848", "128974848");
	formats_as("129e6", "129e6");
	formats_as("129M", "129M");
	formats_as("123Mi", "123Mi");
	formats_as("1e3", "1e3");
	formats_as("1.5e3", "1500");
	formats_as("1e4", "10e3");
	formats_as("12E6", "12E6");
	formats_as("1e-10", "1e-9");
	formats_as("0.0000000001", "1n");
	formats_as("-0.0000000001", "-1n");
	formats_as("1n", "1n");
	formats_as("1E", "1E");
	formats_as("1000E", "1e21");
	formats_as("-1.5Gi", "-1536Mi");
	formats_as("-100m", "-100m");
	formats_as("7Ei", "7Ei");
	formats_as("8Ei", "9223372036854775807");
	formats_as("9Ei", "9223372036854775807");
	formats_as("123456789012345678901234567890", "123456789012345678901234567890");
	formats_as("0.000000000000000000000000000000000000000000000000001", "1n");
	/* the text is kept when Kubernetes considers it canonical */
	formats_as("+1", "+1");
	formats_as("01", "01");
	formats_as("+1Ki", "+1Ki");
	/* quirks of the scanner: these are all zero */
	formats_as("m", "0");
	formats_as("-", "0");
	formats_as("+", "0");
	formats_as(".", "0");
	formats_as("-0", "0");
	formats_as("00", "0");
	formats_as("Ti", "0");
	formats_as("1.G", "1.G"); /* kept: already "canonical" for Kubernetes */
	formats_as(".5", "500m");
}

static void test_errors(void **state)
{
	rejects("", -KC_EINVAL, FORMAT_MSG);
	rejects("abc", -KC_EINVAL, FORMAT_MSG);
	rejects(" 1", -KC_EINVAL, FORMAT_MSG);
	rejects("1 ", -KC_EINVAL, FORMAT_MSG);
	rejects("1..5", -KC_EINVAL, FORMAT_MSG);
	rejects("1Kb", -KC_EINVAL, FORMAT_MSG);
	rejects("1e5e5", -KC_EINVAL, FORMAT_MSG);
	rejects("1kK", -KC_EINVAL, "unable to parse quantity's suffix");
	rejects("1e", -KC_EINVAL, "unable to parse quantity's suffix");
	rejects("1K", -KC_EINVAL, "unable to parse quantity's suffix");
	rejects("1e+", -KC_EINVAL, "unable to parse quantity's suffix");
	rejects("1e99999999999999999999", -KC_EINVAL, "unable to parse quantity's suffix");
	rejects("Ei", -KC_EINVAL, "unable to parse numeric part of quantity");
	rejects("Pi", -KC_EINVAL, "unable to parse numeric part of quantity");
	rejects(".Pi", -KC_EINVAL, "unable to parse numeric part of quantity");
	rejects("1234567890123456789012345678901234567890", -KC_ELIMIT, NULL);
	char big[KC_QUANTITY_MAX_INPUT + 2];
	memset(big, '1', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	rejects(big, -KC_ELIMIT, NULL);
}

static void value_is(const char *in, int64_t want_value, int64_t want_milli)
{
	struct kc_quantity q = parse_ok(in);
	int64_t v, m;
	assert_int_equal(kc_quantity_value(&q, &v), 0);
	assert_int_equal(kc_quantity_milli(&q, &m), 0);
	if (v != want_value || m != want_milli)
		fail_msg("\"%s\": value %lld milli %lld", in, (long long)v, (long long)m);
}

static void test_values(void **state)
{
	value_is("1.5", 2, 1500);
	value_is("-1.5", -2, -1500);
	value_is("100m", 1, 100);
	value_is("1n", 1, 1);
	value_is("-1n", -1, -1);
	value_is("0", 0, 0);
	value_is("1Ki", 1024, 1024000);
	value_is("1Gi", 1073741824, 1073741824000);
	value_is("2M", 2000000, 2000000000);
	value_is("1e3", 1000, 1000000);

	struct kc_quantity q = parse_ok("1Ei");
	int64_t v;
	assert_int_equal(kc_quantity_value(&q, &v), 0);
	assert_true(v == (int64_t)1 << 60);
	assert_int_equal(kc_quantity_milli(&q, &v), -ERANGE);
	q = parse_ok("9223372036854775807");
	assert_int_equal(kc_quantity_value(&q, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(kc_quantity_milli(&q, &v), -ERANGE);
	assert_true(v == INT64_MAX);
	q = parse_ok("-1e30");
	assert_int_equal(kc_quantity_value(&q, &v), -ERANGE);
	assert_true(v == INT64_MIN);
	q = parse_ok("-9223372036854775808");
	assert_int_equal(kc_quantity_value(&q, &v), 0);
	assert_true(v == INT64_MIN);
}

static int cmp(const char *a, const char *b)
{
	struct kc_quantity qa = parse_ok(a), qb = parse_ok(b);
	return kc_quantity_cmp(&qa, &qb);
}

static void test_cmp_add(void **state)
{
	assert_int_equal(cmp("1", "1000m"), 0);
	assert_int_equal(cmp("1Ki", "1k"), 1);
	assert_int_equal(cmp("1k", "1Ki"), -1);
	assert_int_equal(cmp("-1", "0"), -1);
	assert_int_equal(cmp("-2", "-1"), -1);
	assert_int_equal(cmp("1e30", "1e29"), 1);
	assert_int_equal(cmp("999m", "1"), -1);
	assert_int_equal(cmp("100Mi", "104857600"), 0);
	assert_int_equal(cmp("1n", "0"), 1);

	struct kc_quantity a = parse_ok("1.5"), b = parse_ok("500m"), s;
	assert_int_equal(kc_quantity_add(&a, &b, &s), 0);
	char buf[KC_QUANTITY_STRMAX];
	kc_quantity_format(&s, buf);
	assert_string_equal(buf, "2");
	a = parse_ok("1Gi");
	b = parse_ok("-512Mi");
	assert_int_equal(kc_quantity_add(&a, &b, &a), 0);
	kc_quantity_format(&a, buf);
	assert_string_equal(buf, "512Mi");
	a = parse_ok("1e30");
	b = parse_ok("1n");
	assert_int_equal(kc_quantity_add(&a, &b, &s), -ERANGE);

	kc_quantity_make(&s, 1500, -3, KC_QUANTITY_DECIMAL_SI);
	kc_quantity_format(&s, buf);
	assert_string_equal(buf, "1500m");
	kc_quantity_make(&s, 2048, 0, KC_QUANTITY_BINARY_SI);
	kc_quantity_format(&s, buf);
	assert_string_equal(buf, "2Ki");
}

static void test_json(void **state)
{
	cJSON *v = kc_json_new_str("  250m \n");
	struct kc_quantity q;
	struct kc_err err = {0};
	assert_int_equal(kc_quantity_from_json(v, &q, &err), 0);
	int64_t m;
	kc_quantity_milli(&q, &m);
	assert_int_equal(m, 250);
	cJSON_Delete(v);
	v = kc_json_new_num(0.5);
	assert_int_equal(kc_quantity_from_json(v, &q, &err), 0);
	char buf[KC_QUANTITY_STRMAX];
	kc_quantity_format(&q, buf);
	assert_string_equal(buf, "500m");
	cJSON_Delete(v);
	v = kc_json_new_bool(true);
	assert_int_equal(kc_quantity_from_json(v, &q, &err), -KC_EINVAL);
	cJSON_Delete(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_values),	  cmocka_unit_test(test_cmp_add),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
