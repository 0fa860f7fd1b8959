/* test_ws.c - the WebSocket codec (RFC 6455 examples, lengths, masking, fragmentation, control
 * frames, limits, UTF-8, close frames, arbitrary input splits) and two ws_conns talking over a
 * socketpair on one loop (messages, auto-pong, close handshake, back-pressure, limits). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/str.h"
#include "net/loop.h"
#include "net/transport.h"
#include "net/ws.h"

static const uint8_t MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* Feeds all of buf; returns the first event (or NONE) and the parser's verdict. */
static long feed_all(struct ws_parser *p, const void *buf, size_t len, struct ws_event *ev)
{
	const uint8_t *b = buf;
	size_t off = 0;
	long n = 0;
	do {
		n = ws_parser_feed(p, b + off, len - off, ev);
		if (n < 0)
			return n;
		off += (size_t)n;
	} while (ev->kind == WS_EV_NONE && off < len);
	return (long)off;
}

static void test_rfc_examples(void **state)
{
	(void)state;
	struct ws_parser p;
	struct ws_event ev;
	/* single-frame unmasked text (as a client sees it) */
	ws_parser_init(&p, false, 0, 0);
	assert_int_equal(feed_all(&p, "\x81\x05Hello", 7, &ev), 7);
	assert_int_equal(ev.kind, WS_EV_MESSAGE);
	assert_int_equal(ev.opcode, WS_OP_TEXT);
	assert_memory_equal(ev.data, "Hello", 5);
	/* fragmented */
	assert_int_equal(feed_all(&p, "\x01\x03Hel\x80\x02lo", 9, &ev), 9);
	assert_int_equal(ev.kind, WS_EV_MESSAGE);
	assert_int_equal(ev.len, 5);
	assert_memory_equal(ev.data, "Hello", 5);
	/* unmasked ping/pong */
	assert_int_equal(feed_all(&p, "\x89\x05Hello", 7, &ev), 7);
	assert_int_equal(ev.kind, WS_EV_PING);
	assert_int_equal(feed_all(&p, "\x8a\x05Hello", 7, &ev), 7);
	assert_int_equal(ev.kind, WS_EV_PONG);
	ws_parser_free(&p);
	/* masked text (as a server sees it) */
	ws_parser_init(&p, true, 0, 0);
	assert_int_equal(feed_all(&p, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, &ev), 11);
	assert_int_equal(ev.kind, WS_EV_MESSAGE);
	assert_memory_equal(ev.data, "Hello", 5);
	ws_parser_free(&p);
}

static void test_lengths_and_builder(void **state)
{
	(void)state;
	static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 100000 };
	uint8_t hdr[WS_MAX_HEADER];
	assert_int_equal(ws_build_header(hdr, true, WS_OP_TEXT, 125, NULL), 2);
	assert_int_equal(ws_build_header(hdr, true, WS_OP_TEXT, 126, NULL), 4);
	assert_int_equal(ws_build_header(hdr, true, WS_OP_TEXT, 65536, NULL), 10);
	assert_int_equal(ws_build_header(hdr, true, WS_OP_TEXT, 65536, MASK), 14);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		for (int masked = 0; masked < 2; masked++) {
			size_t n = lens[i];
			uint8_t *data = xmalloc(n + 1);
			for (size_t k = 0; k < n; k++)
				data[k] = (uint8_t)(k * 7);
			struct kc_str f = KC_STR_INIT;
			ws_frame_append(&f, true, WS_OP_BINARY, data, n, masked ? MASK : NULL);
			struct ws_parser p;
			struct ws_event ev;
			ws_parser_init(&p, masked, 0, 0);
			assert_int_equal(feed_all(&p, f.buf, f.len, &ev), (long)f.len);
			assert_int_equal(ev.kind, WS_EV_MESSAGE);
			assert_int_equal(ev.opcode, WS_OP_BINARY);
			assert_int_equal(ev.len, n);
			if (n)
				assert_memory_equal(ev.data, data, n);
			ws_parser_free(&p);
			kc_str_free(&f);
			free(data);
		}
	}
}

static void test_mask_offsets(void **state)
{
	(void)state;
	uint8_t a[37], b[37];
	for (int i = 0; i < 37; i++)
		a[i] = b[i] = (uint8_t)i;
	ws_mask(a, 37, MASK, 0);
	/* masking in two pieces at any split gives the same */
	for (size_t cut = 0; cut <= 37; cut++) {
		uint8_t c[37];
		memcpy(c, b, 37);
		ws_mask(c, cut, MASK, 0);
		ws_mask(c + cut, 37 - cut, MASK, cut);
		assert_memory_equal(a, c, 37);
	}
	for (int i = 0; i < 37; i++)
		assert_int_equal(a[i], (uint8_t)(i ^ MASK[i & 3]));
}

static void expect_error(bool masked, const void *buf, size_t len, int code, uint64_t max_frame,
			 uint64_t max_msg)
{
	struct ws_parser p;
	struct ws_event ev;
	ws_parser_init(&p, masked, max_frame, max_msg);
	long n = feed_all(&p, buf, len, &ev);
	if (n != -KC_EPROTO)
		fail_msg("expected an error, got %ld (kind %d)", n, ev.kind);
	assert_int_equal(ws_parser_error(&p), code);
	/* sticky */
	assert_int_equal(ws_parser_feed(&p, (const uint8_t *)"\x81\x00", 2, &ev), -KC_EPROTO);
	ws_parser_free(&p);
}

static void test_protocol_errors(void **state)
{
	(void)state;
	expect_error(true, "\x81\x05Hello", 7, WS_CLOSE_PROTOCOL, 0, 0);        /* unmasked from client */
	expect_error(false, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, WS_CLOSE_PROTOCOL, 0, 0);
	expect_error(false, "\xc1\x00", 2, WS_CLOSE_PROTOCOL, 0, 0);            /* RSV1 */
	expect_error(false, "\x83\x00", 2, WS_CLOSE_PROTOCOL, 0, 0);            /* reserved opcode */
	expect_error(false, "\x8b\x00", 2, WS_CLOSE_PROTOCOL, 0, 0);
	expect_error(false, "\x09\x00", 2, WS_CLOSE_PROTOCOL, 0, 0);            /* fragmented ping */
	expect_error(false, "\x89\x7e\x00\x7e", 4, WS_CLOSE_PROTOCOL, 0, 0);    /* 126-byte ping */
	expect_error(false, "\x80\x01x", 3, WS_CLOSE_PROTOCOL, 0, 0);           /* CONT first */
	expect_error(false, "\x01\x01x\x01\x01y", 6, WS_CLOSE_PROTOCOL, 0, 0);  /* new msg mid-fragment */
	expect_error(false, "\x82\x7f\x80\0\0\0\0\0\0\0", 10, WS_CLOSE_PROTOCOL, 0, 0); /* 64-bit MSB */
	expect_error(false, "\x82\x7e\x01\x00", 4, WS_CLOSE_TOO_BIG, 255, 0);
	expect_error(false, "\x02\x02xy\x80\x02zw", 8, WS_CLOSE_TOO_BIG, 0, 3);
	expect_error(false, "\x88\x01\x03", 3, WS_CLOSE_PROTOCOL, 0, 0);        /* close len 1 */
	expect_error(false, "\x88\x02\x03\xed", 4, WS_CLOSE_PROTOCOL, 0, 0);    /* code 1005 */
	expect_error(false, "\x88\x02\x03\xec", 4, WS_CLOSE_PROTOCOL, 0, 0);    /* code 1004 */
	expect_error(false, "\x88\x02\x00\x00", 4, WS_CLOSE_PROTOCOL, 0, 0);
	expect_error(false, "\x88\x04\x03\xe8\xc3\x28", 6, WS_CLOSE_INVALID_DATA, 0, 0);
	expect_error(false, "\x81\x02\xc3\x28", 4, WS_CLOSE_INVALID_DATA, 0, 0);
	expect_error(false, "\x81\x03\xed\xa0\x80", 5, WS_CLOSE_INVALID_DATA, 0, 0);  /* surrogate */
	expect_error(false, "\x81\x02\xc0\x80", 4, WS_CLOSE_INVALID_DATA, 0, 0);      /* overlong */
	expect_error(false, "\x81\x04\xf4\x90\x80\x80", 6, WS_CLOSE_INVALID_DATA, 0, 0);
	expect_error(false, "\x81\x01\xe2", 3, WS_CLOSE_INVALID_DATA, 0, 0);          /* truncated */
	/* a bad byte is caught in the first fragment */
	expect_error(false, "\x01\x01\xff", 3, WS_CLOSE_INVALID_DATA, 0, 0);
}

static void test_close_and_control_interleaving(void **state)
{
	(void)state;
	struct ws_parser p;
	struct ws_event ev;
	ws_parser_init(&p, false, 0, 0);
	assert_int_equal(feed_all(&p, "\x88\x00", 2, &ev), 2);
	assert_int_equal(ev.kind, WS_EV_CLOSE);
	assert_int_equal(ev.close_code, WS_CLOSE_NO_STATUS);
	assert_int_equal(feed_all(&p, "\x88\x05\x03\xe8" "bye", 7, &ev), 7);
	assert_int_equal(ev.close_code, 1000);
	assert_int_equal(ev.len, 3);
	assert_memory_equal(ev.data, "bye", 3);
	/* ping between fragments; UTF-8 sequence split across fragments */
	static const char in[] = "\x01\x02" "a\xe2" "\x89\x01p" "\x00\x01\x82" "\x80\x02\xac!";
	long n = ws_parser_feed(&p, (const uint8_t *)in, sizeof in - 1, &ev);
	assert_int_equal(ev.kind, WS_EV_PING);
	assert_int_equal(ev.len, 1);
	n = feed_all(&p, in + n, sizeof in - 1 - (size_t)n, &ev);
	assert_true(n > 0);
	assert_int_equal(ev.kind, WS_EV_MESSAGE);
	assert_int_equal(ev.len, 5);
	assert_memory_equal(ev.data, "a\xe2\x82\xac!", 5);
	ws_parser_free(&p);
}

/* Any split of a stream of frames yields the same events. */
static void test_splits(void **state)
{
	(void)state;
	struct kc_str s = KC_STR_INIT;
	ws_frame_append(&s, false, WS_OP_TEXT, "h\xc3", 2, MASK);
	ws_frame_append(&s, true, WS_OP_PING, "", 0, MASK);
	ws_frame_append(&s, true, WS_OP_CONT, "\xa9llo", 4, MASK);
	uint8_t big[300];
	memset(big, 0xab, sizeof big);
	ws_frame_append(&s, true, WS_OP_BINARY, big, sizeof big, MASK);
	ws_frame_append(&s, true, WS_OP_CLOSE, "\x03\xe8ok", 4, MASK);
	for (size_t step = 1; step <= 16; step++) {
		struct ws_parser p;
		ws_parser_init(&p, true, 0, 0);
		int kinds[8], nk = 0;
		size_t lens[8];
		size_t off = 0;
		while (off < s.len) {
			size_t take = s.len - off < step ? s.len - off : step;
			size_t used = 0;
			while (used < take) {
				struct ws_event ev;
				long n = ws_parser_feed(&p, (const uint8_t *)s.buf + off + used, take - used, &ev);
				assert_true(n >= 0);
				used += (size_t)n;
				if (ev.kind != WS_EV_NONE) {
					kinds[nk] = ev.kind;
					lens[nk++] = ev.len;
				}
			}
			off += take;
		}
		assert_int_equal(nk, 4);
		assert_int_equal(kinds[0], WS_EV_PING);
		assert_int_equal(kinds[1], WS_EV_MESSAGE);
		assert_int_equal(lens[1], 6);
		assert_int_equal(kinds[2], WS_EV_MESSAGE);
		assert_int_equal(lens[2], 300);
		assert_int_equal(kinds[3], WS_EV_CLOSE);
		assert_int_equal(lens[3], 2);
		ws_parser_free(&p);
	}
	kc_str_free(&s);
}

static void test_utf8_and_codes(void **state)
{
	(void)state;
	assert_true(ws_utf8_valid("", 0));
	assert_true(ws_utf8_valid("plain", 5));
	assert_true(ws_utf8_valid("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11));
	assert_true(ws_utf8_valid("\xf0\x9f\x98\x80", 4));
	assert_true(ws_utf8_valid("\xef\xbf\xbf", 3));
	assert_true(ws_utf8_valid("\xf4\x8f\xbf\xbf", 4));
	assert_false(ws_utf8_valid("\x80", 1));
	assert_false(ws_utf8_valid("\xc1\xbf", 2));
	assert_false(ws_utf8_valid("\xe0\x80\xaf", 3));
	assert_false(ws_utf8_valid("\xf0\x80\x80\xaf", 4));
	assert_false(ws_utf8_valid("\xf8\x88\x80\x80\x80", 5));
	assert_false(ws_utf8_valid("\xed\xbf\xbf", 3));
	assert_false(ws_utf8_valid("\xce", 1));
	assert_true(ws_close_code_valid(1000));
	assert_true(ws_close_code_valid(1011));
	assert_true(ws_close_code_valid(3000));
	assert_true(ws_close_code_valid(4999));
	assert_false(ws_close_code_valid(999));
	assert_false(ws_close_code_valid(1004));
	assert_false(ws_close_code_valid(1005));
	assert_false(ws_close_code_valid(1006));
	assert_false(ws_close_code_valid(1015));
	assert_false(ws_close_code_valid(2000));
	assert_false(ws_close_code_valid(5000));
}

/* ---- two connections on a socketpair ---- */

struct side {
	struct ws_conn *ws;
	int messages;
	struct kc_str last;
	enum ws_opcode last_op;
	int closed;
	int close_code;
	char reason[128];
	int drains;
	bool echo;
};

static void on_message(struct ws_conn *ws, enum ws_opcode op, const void *data, size_t len, void *arg)
{
	struct side *s = arg;
	s->messages++;
	s->last_op = op;
	kc_str_reset(&s->last);
	kc_str_add(&s->last, data, len);
	if (s->echo)
		ws_send(ws, op, data, len);
}

static void on_close(struct ws_conn *ws, int code, const char *reason, void *arg)
{
	struct side *s = arg;
	s->closed++;
	s->close_code = code;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	s->ws = NULL;
}

static void on_drain(struct ws_conn *ws, void *arg)
{
	struct side *s = arg;
	s->drains++;
}

static const struct ws_handlers handlers = {
	.on_message = on_message,
	.on_close = on_close,
	.on_drain = on_drain,
};

static void pump(struct loop *l, bool (*done)(void *), void *arg)
{
	for (int i = 0; i < 2000 && !done(arg); i++)
		loop_run_once(l, 10);
	assert_true(done(arg));
}

struct pair {
	struct side cli, srv;
	int want;
};

static bool cli_got(void *arg)
{
	struct pair *p = arg;
	return p->cli.messages >= p->want;
}

static bool both_closed(void *arg)
{
	struct pair *p = arg;
	return p->cli.closed && p->srv.closed;
}

static void open_pair(struct loop *l, struct pair *p, const struct ws_config *cfg, const char *early,
		      size_t early_len)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	memset(p, 0, sizeof *p);
	kc_str_init(&p->cli.last);
	kc_str_init(&p->srv.last);
	p->srv.echo = true;
	p->srv.ws = ws_conn_new(l, transport_plain_new(sv[0]), false, early, early_len, "v5.channel.k8s.io",
				cfg, &handlers, &p->srv);
	p->cli.ws = ws_conn_new(l, transport_plain_new(sv[1]), true, NULL, 0, NULL, cfg, &handlers, &p->cli);
	assert_string_equal(ws_subprotocol(p->srv.ws), "v5.channel.k8s.io");
	assert_string_equal(ws_subprotocol(p->cli.ws), "");
}

static void close_pair(struct pair *p)
{
	kc_str_free(&p->cli.last);
	kc_str_free(&p->srv.last);
}

static void test_conn_echo_and_close(void **state)
{
	(void)state;
	struct loop *l = loop_new(NULL);
	struct pair p;
	/* bytes the server "already read" with the handshake come first */
	struct kc_str early = KC_STR_INIT;
	ws_frame_append(&early, true, WS_OP_TEXT, "early", 5, MASK);
	open_pair(l, &p, NULL, early.buf, early.len);
	kc_str_free(&early);
	p.want = 1;
	pump(l, cli_got, &p);
	assert_true(kc_str_eq(&p.cli.last, "early"));
	assert_int_equal(ws_send(p.cli.ws, WS_OP_TEXT, "hello", 5), 0);
	assert_int_equal(ws_send(p.cli.ws, WS_OP_BINARY, "\0\1\2", 3), 0);
	assert_int_equal(ws_send(p.cli.ws, WS_OP_PING, "x", 1), 0);
	p.want = 3;
	pump(l, cli_got, &p);
	assert_int_equal(p.cli.last_op, WS_OP_BINARY);
	assert_int_equal(p.cli.last.len, 3);
	assert_int_equal(ws_send(p.cli.ws, WS_OP_CLOSE, "", 0), -KC_EINVAL);
	assert_int_equal(ws_send(p.cli.ws, WS_OP_PING, "", 200), -KC_EINVAL);
	assert_int_equal(ws_close(p.cli.ws, 1005, NULL), -KC_EINVAL);
	assert_int_equal(ws_close(p.cli.ws, 4001, "done"), 0);
	assert_int_equal(ws_close(p.cli.ws, 4001, "done"), -KC_ECLOSED);
	assert_int_equal(ws_send(p.cli.ws, WS_OP_TEXT, "late", 4), -KC_ECLOSED);
	pump(l, both_closed, &p);
	assert_int_equal(p.srv.close_code, 4001);
	assert_string_equal(p.srv.reason, "done");
	assert_int_equal(p.cli.close_code, 4001);
	close_pair(&p);
	loop_free(l);
}

static void test_conn_limits_and_backpressure(void **state)
{
	(void)state;
	struct loop *l = loop_new(NULL);
	struct pair p;
	struct ws_config cfg = { .max_message = 1 << 20, .high_water = 64 * 1024 };
	open_pair(l, &p, &cfg, NULL, 0);
	p.srv.echo = false;
	/* queue far more than the socket takes: congestion, then a drain once the peer reads */
	static uint8_t chunk[32768];
	int rc = 0, sent = 0;
	while ((rc = ws_send(p.srv.ws, WS_OP_BINARY, chunk, sizeof chunk)) == 0)
		sent++;
	assert_int_equal(rc, WS_CONGESTED);
	assert_true(ws_pending(p.srv.ws) > cfg.high_water);
	p.want = sent + 1;
	pump(l, cli_got, &p);
	for (int i = 0; i < 50 && !p.srv.drains; i++)
		loop_run_once(l, 10);
	assert_int_equal(p.srv.drains, 1);
	/* a message over the limit closes with 1009 */
	uint8_t *big = xcalloc(1, (1 << 20) + 1);
	assert_int_equal(ws_send(p.cli.ws, WS_OP_BINARY, big, (1 << 20) + 1) >= 0, 1);
	free(big);
	pump(l, both_closed, &p);
	assert_int_equal(p.srv.close_code, WS_CLOSE_TOO_BIG);
	assert_int_equal(p.cli.close_code, WS_CLOSE_TOO_BIG);
	close_pair(&p);
	loop_free(l);
}

static void test_conn_peer_vanishes(void **state)
{
	(void)state;
	struct loop *l = loop_new(NULL);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	struct side s = { 0 };
	kc_str_init(&s.last);
	s.ws = ws_conn_new(l, transport_plain_new(sv[0]), false, NULL, 0, NULL, NULL, &handlers, &s);
	/* garbage, then the peer is gone */
	assert_int_equal(write(sv[1], "\x81\x05Hel", 5), 5);
	close(sv[1]);
	for (int i = 0; i < 100 && !s.closed; i++)
		loop_run_once(l, 10);
	assert_int_equal(s.closed, 1);
	/* an unmasked frame from a client is a protocol error; an EOF without close is 1006 */
	assert_true(s.close_code == WS_CLOSE_PROTOCOL || s.close_code == WS_CLOSE_ABNORMAL);
	kc_str_free(&s.last);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_lengths_and_builder),
		cmocka_unit_test(test_mask_offsets),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_close_and_control_interleaving),
		cmocka_unit_test(test_splits),
		cmocka_unit_test(test_utf8_and_codes),
		cmocka_unit_test(test_conn_echo_and_close),
		cmocka_unit_test(test_conn_limits_and_backpressure),
		cmocka_unit_test(test_conn_peer_vanishes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
