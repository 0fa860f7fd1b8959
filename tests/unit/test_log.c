/* Unit tests for lib/log: logfmt and JSON rendering, field splitting, levels, clock formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"

#define T0 1764169445123000000ull /* 2025-11-26T15:04:05.123Z */

static void render(char *buf, size_t size, enum kc_log_format f, const char *src, const char *s)
{
	unsigned long n = kc_log_render(buf, size, f, KC_LOG_INFO, T0, src, s);
	assert_true(n > 0 && n < size);
	assert_int_equal(buf[n - 1], '\n');
	buf[n - 1] = '\0';
}

static void test_text(void **state)
{
	(void)state;
	char buf[512];
	render(buf, sizeof buf, KC_LOG_TEXT, NULL, "listening addr=0.0.0.0 port=6443");
	assert_string_equal(buf, "time=2025-11-26T15:04:05.123Z level=info msg=listening addr=0.0.0.0 port=6443");
	/* values with spaces run to the next key and get quoted */
	render(buf, sizeof buf, KC_LOG_TEXT, NULL, "open failed err=No such file or directory path=/x y");
	assert_string_equal(buf, "time=2025-11-26T15:04:05.123Z level=info msg=\"open failed\" "
				 "err=\"No such file or directory\" path=\"/x y\"");
	/* no fields, message only; quotes inside are escaped */
	render(buf, sizeof buf, KC_LOG_TEXT, NULL, "say \"hi\"");
	assert_string_equal(buf, "time=2025-11-26T15:04:05.123Z level=info msg=\"say \\\"hi\\\"\"");
	/* a caller-quoted value keeps its content */
	render(buf, sizeof buf, KC_LOG_TEXT, "a.c:9", "x k=\"a b\"");
	assert_string_equal(buf, "time=2025-11-26T15:04:05.123Z level=info msg=x k=\"a b\" src=a.c:9");
}

static void test_json(void **state)
{
	(void)state;
	char buf[512];
	render(buf, sizeof buf, KC_LOG_JSON, NULL, "listening addr=0.0.0.0 port=6443");
	assert_string_equal(buf, "{\"time\":\"2025-11-26T15:04:05.123Z\",\"level\":\"info\","
				 "\"msg\":\"listening\",\"addr\":\"0.0.0.0\",\"port\":\"6443\"}");
	render(buf, sizeof buf, KC_LOG_JSON, NULL, "ctl\x01 v=tab\there");
	assert_string_equal(buf, "{\"time\":\"2025-11-26T15:04:05.123Z\",\"level\":\"info\","
				 "\"msg\":\"ctl\\u0001\",\"v\":\"tab\\there\"}");
}

static void test_truncation(void **state)
{
	(void)state;
	char big[3000], buf[256];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	unsigned long n = kc_log_render(buf, sizeof buf, KC_LOG_JSON, KC_LOG_WARN, T0, NULL, big);
	assert_int_equal(n, sizeof buf);
	assert_int_equal(buf[n - 1], '\n');
}

static void test_levels_and_write(void **state)
{
	(void)state;
	enum kc_log_level lvl;
	enum kc_log_format fmt;
	assert_int_equal(kc_log_parse_level("debug", &lvl), 0);
	assert_int_equal(lvl, KC_LOG_DEBUG);
	assert_int_not_equal(kc_log_parse_level("verbose", &lvl), 0);
	assert_int_equal(kc_log_parse_format("json", &fmt), 0);
	assert_int_not_equal(kc_log_parse_format("xml", &fmt), 0);

	int fds[2];
	assert_int_equal(pipe(fds), 0);
	kc_log_set_fd(fds[1]);
	kc_log_set_format(KC_LOG_TEXT);
	kc_log_set_level(KC_LOG_WARN);
	int evaluated = 0;
	log_info("hidden n=%d", ++evaluated); /* level checked before arguments are evaluated */
	assert_int_equal(evaluated, 0);
	log_warn("shown n=%d", 7);
	kc_log_set_fd(2);
	kc_log_set_level(KC_LOG_INFO);
	close(fds[1]);
	char buf[512];
	ssize_t r = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	assert_true(r > 0);
	buf[r] = '\0';
	assert_non_null(strstr(buf, "level=warn msg=shown n=7\n"));
	assert_null(strstr(buf, "hidden"));
}

static void test_clock(void **state)
{
	(void)state;
	char buf[40];
	assert_string_equal(kc_format_rfc3339_ms(0, buf, sizeof buf), "1970-01-01T00:00:00.000Z");
	struct kc_fake_clock fc;
	kc_fake_clock_init(&fc, 5000000);
	assert_int_equal(kc_mono_ms(&fc.clock), 5);
	kc_fake_clock_advance(&fc, 1000000000);
	assert_int_equal(kc_mono_ms(&fc.clock), 1005);
	struct kc_clock *real = kc_clock_real();
	uint64_t a = real->mono_ns(real), b = real->mono_ns(real);
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),        cmocka_unit_test(test_json),
		cmocka_unit_test(test_truncation),  cmocka_unit_test(test_levels_and_write),
		cmocka_unit_test(test_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
