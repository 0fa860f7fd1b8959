/* fuzz_ws_frame.c - the WebSocket parser over arbitrary bytes: one pass over the whole input and
 * one over random splits must report the same events and the same verdict; every message must
 * respect the limits (and be valid UTF-8 when text), and re-encoding it must parse back the same.
 *
 * Input: byte 0 picks masking, limits and the split seed; the rest is the frame stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "net/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 256

struct rec {
	int kind, opcode, code;
	size_t len;
	uint64_t hash;
};

struct run {
	struct rec ev[MAX_EVENTS];
	int n;
	long verdict;   /* bytes consumed, or the negative error */
	int error;      /* close code on error */
};

static void check(bool cond)
{
	if (!cond)
		abort();
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void roundtrip(const struct ws_event *ev, bool masked)
{
	static const uint8_t mask[4] = { 0xa1, 0x02, 0xf3, 0x44 };
	struct kc_str f = KC_STR_INIT;
	enum ws_opcode op = ev->kind == WS_EV_MESSAGE ? ev->opcode
			    : ev->kind == WS_EV_PING  ? WS_OP_PING
			    : ev->kind == WS_EV_PONG  ? WS_OP_PONG
						      : WS_OP_CLOSE;
	uint8_t close[127];
	const uint8_t *pl = ev->data;
	size_t len = ev->len;
	if (op == WS_OP_CLOSE && ev->close_code != WS_CLOSE_NO_STATUS) {
		close[0] = (uint8_t)(ev->close_code >> 8);
		close[1] = (uint8_t)ev->close_code;
		memcpy(close + 2, ev->data, ev->len);
		pl = close;
		len += 2;
	}
	ws_frame_append(&f, true, op, pl, len, masked ? mask : NULL);
	struct ws_parser p;
	struct ws_event back;
	ws_parser_init(&p, masked, 0, 0);
	long n = ws_parser_feed(&p, (const uint8_t *)f.buf, f.len, &back);
	check(n == (long)f.len);
	check(back.kind == ev->kind && back.len == ev->len && back.close_code == ev->close_code);
	check(ev->len == 0 || memcmp(back.data, ev->data, ev->len) == 0);
	ws_parser_free(&p);
	kc_str_free(&f);
}

static void record(struct run *r, const struct ws_event *ev, const struct ws_parser *p, bool roundtrips)
{
	check(r->n < MAX_EVENTS);
	struct rec *e = &r->ev[r->n++];
	e->kind = ev->kind;
	e->opcode = ev->opcode;
	e->code = ev->close_code;
	e->len = ev->len;
	e->hash = fnv(ev->data, ev->len);
	if (ev->kind == WS_EV_MESSAGE) {
		check(ev->len <= p->max_message);
		check(ev->opcode == WS_OP_TEXT || ev->opcode == WS_OP_BINARY);
		if (ev->opcode == WS_OP_TEXT)
			check(ws_utf8_valid(ev->data, ev->len));
	} else {
		check(ev->len <= 125);
	}
	if (ev->kind == WS_EV_CLOSE)
		check(ev->close_code == WS_CLOSE_NO_STATUS || ws_close_code_valid(ev->close_code));
	if (roundtrips)
		roundtrip(ev, p->expect_masked);
}

static void parse(const uint8_t *d, size_t n, bool masked, uint64_t maxf, uint64_t maxm,
		  unsigned seed, bool split, struct run *r)
{
	struct ws_parser p;
	ws_parser_init(&p, masked, maxf, maxm);
	memset(r, 0, sizeof *r);
	size_t off = 0;
	while (off < n && r->n < MAX_EVENTS) {
		size_t take = n - off;
		if (split) {
			seed = seed * 1103515245u + 12345u;
			size_t s = 1 + (seed >> 16) % 9;
			if (s < take)
				take = s;
		}
		struct ws_event ev;
		long c = ws_parser_feed(&p, d + off, take, &ev);
		if (c < 0) {
			r->verdict = c;
			r->error = ws_parser_error(&p);
			check(r->error == WS_CLOSE_PROTOCOL || r->error == WS_CLOSE_INVALID_DATA ||
			      r->error == WS_CLOSE_TOO_BIG);
			ws_parser_free(&p);
			return;
		}
		check((size_t)c <= take);
		check(ev.kind != WS_EV_NONE || (size_t)c == take);
		off += (size_t)c;
		if (ev.kind != WS_EV_NONE)
			record(r, &ev, &p, !split);
	}
	r->verdict = (long)off;
	ws_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool masked = data[0] & 1;
	uint64_t maxf = (data[0] & 2) ? 64 : 0;
	uint64_t maxm = (data[0] & 4) ? 100 : 0;
	unsigned seed = data[0] >> 3;
	data++;
	size--;
	static struct run whole, split;
	parse(data, size, masked, maxf, maxm, seed, false, &whole);
	parse(data, size, masked, maxf, maxm, seed, true, &split);
	/* The event cap may stop one run earlier than the other; compare what both saw. */
	if (whole.n < MAX_EVENTS && split.n < MAX_EVENTS) {
		check(whole.n == split.n);
		check((whole.verdict < 0) == (split.verdict < 0));
		if (whole.verdict < 0)
			check(whole.error == split.error);
	}
	int n = whole.n < split.n ? whole.n : split.n;
	for (int i = 0; i < n; i++)
		check(memcmp(&whole.ev[i], &split.ev[i], sizeof whole.ev[i]) == 0);
	return 0;
}
