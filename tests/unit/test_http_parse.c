/* test_http_parse.c - request/response heads, chunked decoding, percent-decoding, reasons. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"

static const struct http_limits lim = {
	.max_head_bytes = 4096,
	.max_headers = 16,
	.max_body_bytes = 1 << 20,
};

static struct http_header hdrs[16];

static long req(const char *s, struct http_head *h)
{
	return http_parse_request(s, strlen(s), &lim, hdrs, h);
}

static long resp(const char *s, const char *method, struct http_head *h)
{
	return http_parse_response(s, strlen(s), &lim, method, hdrs, h);
}

static bool slice_is(struct http_slice s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static void test_simple_get(void **state)
{
	(void)state;
	struct http_head h;
	const char *s = "GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: x\r\nAccept:  a/b \t\r\n\r\nNEXT";
	long n = req(s, &h);
	assert_int_equal(n, (long)strlen(s) - 4);
	assert_true(slice_is(h.method, "GET"));
	assert_true(slice_is(h.target, "/api/v1/pods?watch=1"));
	assert_int_equal(h.version_minor, 1);
	assert_int_equal(h.nheaders, 2);
	assert_true(slice_is(h.headers[1].name, "Accept"));
	assert_true(slice_is(h.headers[1].value, "a/b"));
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.keep_alive);
	assert_false(h.upgrade);
	assert_false(h.expect_continue);
	const struct http_header *f = http_find_header(&h, "accept");
	assert_non_null(f);
	assert_null(http_find_header(&h, "nope"));
}

static void test_incomplete_every_prefix(void **state)
{
	(void)state;
	const char *s = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
	size_t n = strlen(s);
	struct http_head h;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(http_parse_request(s, i, &lim, hdrs, &h), 0);
	assert_int_equal(http_parse_request(s, n, &lim, hdrs, &h), (long)n);
	assert_int_equal(h.body, HTTP_BODY_LENGTH);
	assert_int_equal(h.content_length, 5);
}

static void test_leading_empty_lines(void **state)
{
	(void)state;
	struct http_head h;
	const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
	assert_int_equal(req(s, &h), (long)strlen(s));
	assert_true(slice_is(h.method, "GET"));
	assert_int_equal(req("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", &h), -400);
}

static void test_bad_request_lines(void **state)
{
	(void)state;
	struct http_head h;
	static const char *const bad[] = {
		"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
		"GET /\tx HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / http/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1\r\nHost: h\r\n\r\n",
		"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
		" GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\n",
		"GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET x HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",                       /* no Host */
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  /* two Hosts */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		long rc = req(bad[i], &h);
		if (rc != -400)
			fail_msg("case %zu: got %ld", i, rc);
	}
	assert_int_equal(req("GET / HTTP/2.0\r\nHost: h\r\n\r\n", &h), -505);
	assert_int_equal(req("GET / HTTP/1.0\r\n\r\n", &h), 18);
	assert_int_equal(h.version_minor, 0);
	assert_false(h.keep_alive);
	assert_true(req("GET / HTTP/1.2\r\nHost: h\r\n\r\n", &h) > 0);
	assert_int_equal(h.version_minor, 1);
	assert_true(req("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &h) > 0);
	assert_true(req("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", &h) > 0);
	assert_true(req("GET http://h/x?y HTTP/1.1\r\nHost: h\r\n\r\n", &h) > 0);
	assert_true(slice_is(h.target, "http://h/x?y"));
}

static void test_bad_fields(void **state)
{
	(void)state;
	struct http_head h;
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n",          /* ws before colon */
		"GET / HTTP/1.1\r\nHost: h\r\nX: y\r\n z\r\n\r\n",     /* obs-fold */
		"GET / HTTP/1.1\r\nHost: h\r\n: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\001b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX(: a\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		long rc = req(bad[i], &h);
		if (rc != -400)
			fail_msg("case %zu: got %ld", i, rc);
	}
	/* obs-text is allowed in values */
	assert_true(req("GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\nY:\r\n\r\n", &h) > 0);
	assert_int_equal(h.headers[2].value.n, 0);
}

static void test_limits(void **state)
{
	(void)state;
	struct http_head h;
	char big[8192];
	/* too many headers */
	int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 0; i < 16; i++)
		n += snprintf(big + n, sizeof big - (size_t)n, "X-%d: v\r\n", i);
	n += snprintf(big + n, sizeof big - (size_t)n, "\r\n");
	assert_int_equal(req(big, &h), -431);
	/* head too long: incomplete at the limit, and complete beyond it */
	memset(big, 'a', sizeof big);
	memcpy(big, "GET /", 5);
	assert_int_equal(http_parse_request(big, 4095, &lim, hdrs, &h), 0);
	assert_int_equal(http_parse_request(big, 4096, &lim, hdrs, &h), -431);
	n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
	memset(big + n, 'v', 4100);
	memcpy(big + n + 4100, "\r\n\r\n", 5);
	assert_int_equal(req(big, &h), -431);
}

static void test_framing(void **state)
{
	(void)state;
	struct http_head h;
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_CHUNKED);
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , Chunked\r\n\r\n", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_CHUNKED);
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7, 7\r\n\r\n", &h) > 0);
	assert_int_equal(h.content_length, 7);
	assert_true(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_LENGTH);
	assert_int_equal(h.content_length, 0);

	static const char *const bad[] = {
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		long rc = req(bad[i], &h);
		if (rc != -400)
			fail_msg("case %zu: got %ld", i, rc);
	}
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &h),
			 -501);
}

static void test_connection_tokens(void **state)
{
	(void)state;
	struct http_head h;
	assert_true(req("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n", &h) > 0);
	assert_false(h.keep_alive);
	assert_true(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h) > 0);
	assert_true(h.keep_alive);
	assert_true(req("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", &h) > 0);
	assert_true(h.upgrade);
	assert_true(http_header_has_token(&h, "connection", "upgrade"));
	assert_false(http_header_has_token(&h, "connection", "close"));
	assert_true(req("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\r\n", &h) > 0);
	assert_false(h.upgrade);
	assert_true(req("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n", &h) > 0);
	assert_true(h.expect_continue);
}

static void test_responses(void **state)
{
	(void)state;
	struct http_head h;
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";
	assert_int_equal(resp(s, "GET", &h), (long)strlen(s));
	assert_int_equal(h.status, 200);
	assert_true(slice_is(h.reason, "OK"));
	assert_int_equal(h.body, HTTP_BODY_LENGTH);
	assert_int_equal(h.content_length, 12);
	assert_true(h.keep_alive);

	assert_true(resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "HEAD", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(resp("HTTP/1.1 204 No Content\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(resp("HTTP/1.1 304 Not Modified\r\n\r\n", NULL, &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(resp("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.status, 101);
	assert_true(h.upgrade);
	assert_true(resp("HTTP/1.1 200 OK\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_UNTIL_CLOSE);
	assert_false(h.keep_alive);
	assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_CHUNKED);
	assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_UNTIL_CLOSE);
	assert_true(resp("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.reason.n, 0);
	assert_true(resp("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", &h) > 0);
	assert_true(resp("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", &h) > 0);
	assert_false(h.keep_alive);
	assert_true(resp("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "GET", &h) > 0);
	assert_false(h.keep_alive);
	assert_true(resp("HTTP/1.1 200 OK\r\n\r\n", "CONNECT", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);

	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", &h), -502);
	assert_int_equal(resp("HTTP/1.1 20 OK\r\n\r\n", "GET", &h), -502);
	assert_int_equal(resp("HTTP/1.1 600 OK\r\n\r\n", "GET", &h), -502);
	assert_int_equal(resp("HTTP/1.1 200OK\r\n\r\n", "GET", &h), -502);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", "GET", &h), -502);
	assert_int_equal(resp("HTTP/2.0 200 OK\r\n\r\n", "GET", &h), -505);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\n", "GET", &h), 0);
}

/* Decodes 'in' in pieces of 'step' bytes the way the server does: consumed input is dropped,
 * decoded bytes are collected. Returns the status and the decoded body in out. */
static long chunked_all(const char *in, size_t step, uint64_t max, char *out, size_t *out_len,
			size_t *consumed_total)
{
	struct http_chunked c;
	http_chunked_init(&c);
	size_t n = strlen(in), pos = 0, o = 0;
	char buf[4096];
	size_t have = 0;
	for (;;) {
		size_t take = n - pos < step ? n - pos : step;
		memcpy(buf + have, in + pos, take);
		pos += take;
		have += take;
		size_t produced;
		long r = http_chunked_decode(&c, buf, have, max, &produced);
		if (r < 0)
			return r;
		memcpy(out + o, buf, produced);
		o += produced;
		memmove(buf, buf + r, have - (size_t)r);
		have -= (size_t)r;
		if (c.done || pos == n)
			break;
	}
	*out_len = o;
	*consumed_total = pos - have;
	return c.done ? 0 : 1;
}

static void test_chunked(void **state)
{
	(void)state;
	const char *in = "5\r\nhello\r\n6;ext=1;b=\"q\"\r\n world\r\n0\r\nX-T: 1\r\n\r\nGET /";
	char out[256];
	size_t olen, consumed;
	for (size_t step = 1; step <= strlen(in); step++) {
		assert_int_equal(chunked_all(in, step, 0, out, &olen, &consumed), 0);
		assert_int_equal(olen, 11);
		assert_memory_equal(out, "hello world", 11);
		assert_int_equal(consumed, strlen(in) - 5);
	}
	/* stop exactly at the end, leaving pipelined bytes */
	struct http_chunked c;
	char buf[64];
	strcpy(buf, "A\r\n0123456789\r\n0\r\n\r\nrest");
	http_chunked_init(&c);
	size_t produced;
	long r = http_chunked_decode(&c, buf, strlen(buf), 0, &produced);
	assert_int_equal(r, (long)strlen(buf) - 4);
	assert_int_equal(produced, 10);
	assert_true(c.done);
	assert_int_equal(c.total, 10);
	assert_int_equal(http_chunked_decode(&c, buf + r, 4, 0, &produced), 0);

	static const char *const bad[] = {
		"x\r\n", "\r\n", "5 \r\nhello\r\n0\r\n\r\n", "5\nhello\r\n", "5\r\nhelloX\r\n",
		"5\r\nhello\r\n0\r\n\n", "5\r\nhello\r\n0\r\n x: y\r\n\r\n", "5\r\nhello\r\n0\r\nX y\r\n\r\n",
		"11111111111111111\r\n", "-1\r\n", "5;\x01\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		long rc = chunked_all(bad[i], 64, 0, out, &olen, &consumed);
		if (rc != -400)
			fail_msg("case %zu: got %ld", i, rc);
	}
	assert_int_equal(chunked_all("5 ;x\r\nhello\r\n0\r\n\r\n", 64, 0, out, &olen, &consumed), 0);
	assert_int_equal(chunked_all("ffffffffffffffff\r\n", 64, 0, out, &olen, &consumed), 1);
	assert_int_equal(chunked_all("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 64, 10, out, &olen, &consumed), -413);
	assert_int_equal(chunked_all("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 64, 10, out, &olen, &consumed), 0);
}

static void test_chunked_trailer_limits(void **state)
{
	(void)state;
	char *in = malloc(200000);
	char out[16];
	size_t olen, consumed, n = 0;
	n += (size_t)sprintf(in + n, "0\r\n");
	for (int i = 0; i < 65; i++)
		n += (size_t)sprintf(in + n, "T%d: v\r\n", i);
	sprintf(in + n, "\r\n");
	assert_int_equal(chunked_all(in, 4096, 0, out, &olen, &consumed), -400);
	n = (size_t)sprintf(in, "0\r\nT: ");
	memset(in + n, 'v', 9000);
	strcpy(in + n + 9000, "\r\n\r\n");
	assert_int_equal(chunked_all(in, 4000, 0, out, &olen, &consumed), -400);
	free(in);
}

static void test_percent(void **state)
{
	(void)state;
	char buf[64];
	assert_int_equal(http_percent_decode(buf, "a%20b+c%2F%2f", 13, false), 7);
	assert_memory_equal(buf, "a b+c//", 7);
	assert_int_equal(http_percent_decode(buf, "a+b", 3, true), 3);
	assert_memory_equal(buf, "a b", 3);
	assert_int_equal(http_percent_decode(buf, "%4", 2, false), -1);
	assert_int_equal(http_percent_decode(buf, "%g0", 3, false), -1);
	assert_int_equal(http_percent_decode(buf, "%", 1, false), -1);
	strcpy(buf, "x%41y");
	assert_int_equal(http_percent_decode(buf, buf, 5, false), 3);
	assert_memory_equal(buf, "xAy", 3);
}

static void test_reason(void **state)
{
	(void)state;
	assert_string_equal(http_reason(200), "OK");
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(299), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_incomplete_every_prefix),
		cmocka_unit_test(test_leading_empty_lines),
		cmocka_unit_test(test_bad_request_lines),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_connection_tokens),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunked_trailer_limits),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
