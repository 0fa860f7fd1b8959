/* DESIGN: WebSocket in three layers.
 *
 * The codec (ws_build_header, ws_parser_*) is pure: no I/O, no globals; the parser is a state
 * machine over arbitrary splits of the input that reassembles fragmented messages, unmasks in
 * place, validates UTF-8 of text incrementally (so a bad text message fails at the first bad
 * byte), and enforces the frame/message limits before buffering anything.
 *
 * The handshake (ws_server_upgrade) checks the client's request, answers 101 through
 * http_upgrade and, once the server hands the transport over, creates a ws_conn.
 *
 * A ws_conn belongs to one loop thread. It owns the transport, one loop_io and two timers: a
 * zero-delay "kick" for work that must not run inside an API call (leftover input, on_drain,
 * failing after a write error) and the close-handshake timeout. Handlers are called only from
 * loop callbacks; 'busy' keeps the conn alive while one runs, and it is freed after on_close
 * once no callback of it is on the stack. */
#include "net/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>

#include "lib/alloc.h"
#include "lib/log.h"

#define WS_DEFAULT_LIMIT (16u << 20)

/* ---- codec ---- */

size_t ws_build_header(uint8_t *out, bool fin, enum ws_opcode op, uint64_t len, const uint8_t *mask)
{
	size_t n = 0;
	uint8_t m = mask ? 0x80 : 0;
	out[n++] = (uint8_t)((fin ? 0x80 : 0) | ((unsigned)op & 0x0f));
	if (len < 126) {
		out[n++] = (uint8_t)(m | len);
	} else if (len <= 0xffff) {
		out[n++] = m | 126;
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		out[n++] = m | 127;
		for (int i = 7; i >= 0; i--)
			out[n++] = (uint8_t)(len >> (8 * i));
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
	size_t i = 0;
	/* align the key to 'offset', then go 8 bytes at a time */
	uint8_t k[8];
	for (int j = 0; j < 8; j++)
		k[j] = mask[(offset + (uint64_t)j) & 3];
	uint64_t kw;
	memcpy(&kw, k, 8);
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, data + i, 8);
		w ^= kw;
		memcpy(data + i, &w, 8);
	}
	for (; i < len; i++)
		data[i] ^= k[i & 7];
}

void ws_frame_append(struct kc_str *out, bool fin, enum ws_opcode op, const void *payload,
		     size_t len, const uint8_t *mask)
{
	uint8_t hdr[WS_MAX_HEADER];
	size_t hn = ws_build_header(hdr, fin, op, len, mask);
	kc_str_reserve(out, hn + len);
	kc_str_add(out, hdr, hn);
	size_t at = out->len;
	kc_str_add(out, payload, len);
	if (mask)
		ws_mask((uint8_t *)out->buf + at, len, mask, 0);
}

struct utf8 {
	uint8_t need, lo, hi;
};

/* Advances the UTF-8 automaton over d; false at the first invalid byte. */
static bool utf8_feed(struct utf8 *u, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = d[i];
		if (!u->need) {
			if (b < 0x80)
				continue;
			u->lo = 0x80;
			u->hi = 0xbf;
			if (b >= 0xc2 && b <= 0xdf) {
				u->need = 1;
			} else if (b >= 0xe0 && b <= 0xef) {
				u->need = 2;
				if (b == 0xe0)
					u->lo = 0xa0;  /* overlong */
				else if (b == 0xed)
					u->hi = 0x9f;  /* surrogates */
			} else if (b >= 0xf0 && b <= 0xf4) {
				u->need = 3;
				if (b == 0xf0)
					u->lo = 0x90;  /* overlong */
				else if (b == 0xf4)
					u->hi = 0x8f;  /* over U+10FFFF */
			} else {
				return false;
			}
		} else {
			if (b < u->lo || b > u->hi)
				return false;
			u->need--;
			u->lo = 0x80;
			u->hi = 0xbf;
		}
	}
	return true;
}

bool ws_utf8_valid(const void *data, size_t len)
{
	struct utf8 u = { 0, 0x80, 0xbf };
	return utf8_feed(&u, data, len) && !u.need;
}

bool ws_close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

void ws_parser_init(struct ws_parser *p, bool expect_masked, uint64_t max_frame, uint64_t max_message)
{
	memset(p, 0, sizeof *p);
	p->expect_masked = expect_masked;
	p->max_frame = max_frame ? max_frame : WS_DEFAULT_LIMIT;
	p->max_message = max_message ? max_message : WS_DEFAULT_LIMIT;
	kc_str_init(&p->msg);
}

void ws_parser_free(struct ws_parser *p)
{
	kc_str_free(&p->msg);
}

int ws_parser_error(const struct ws_parser *p)
{
	return p->error;
}

static long parser_fail(struct ws_parser *p, int code)
{
	p->error = code;
	return -KC_EPROTO;
}

/* Validates the complete header in p->hdr and enters the frame. Returns 0 or a close code. */
static int start_frame(struct ws_parser *p)
{
	uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
	bool fin = b0 & 0x80, masked = b1 & 0x80;
	uint8_t op = b0 & 0x0f;
	if (b0 & 0x70)
		return WS_CLOSE_PROTOCOL;  /* no extension negotiated */
	if (!(op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG)))
		return WS_CLOSE_PROTOCOL;
	if (masked != p->expect_masked)
		return WS_CLOSE_PROTOCOL;
	unsigned l7 = b1 & 0x7f, at = 2;
	uint64_t len = l7;
	if (l7 == 126) {
		len = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
		at = 4;
	} else if (l7 == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p->hdr[2 + i];
		if (len >> 63)
			return WS_CLOSE_PROTOCOL;
		at = 10;
	}
	if (masked)
		memcpy(p->mask, p->hdr + at, 4);
	if (op >= WS_OP_CLOSE) {
		if (!fin || len > 125)
			return WS_CLOSE_PROTOCOL;
	} else {
		if (op == WS_OP_CONT ? !p->in_message : p->in_message)
			return WS_CLOSE_PROTOCOL;
		if (len > p->max_frame)
			return WS_CLOSE_TOO_BIG;
		uint64_t cur = op == WS_OP_CONT ? p->msg.len : 0;
		if (len > p->max_message - cur)
			return WS_CLOSE_TOO_BIG;
		if (op != WS_OP_CONT) {
			p->in_message = true;
			p->msg_opcode = op;
			kc_str_reset(&p->msg);
			p->utf8_need = 0;
		}
	}
	p->fin = fin;
	p->masked = masked;
	p->opcode = op;
	p->frame_len = len;
	p->frame_got = 0;
	p->in_frame = true;
	p->hdr_len = 0;
	return 0;
}

/* The frame's payload is complete: report what it completes. Returns 0 or a close code. */
static int end_frame(struct ws_parser *p, struct ws_event *ev)
{
	p->in_frame = false;
	switch (p->opcode) {
	case WS_OP_PING:
	case WS_OP_PONG:
		ev->kind = p->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
		ev->data = p->ctl;
		ev->len = (size_t)p->frame_len;
		return 0;
	case WS_OP_CLOSE:
		ev->kind = WS_EV_CLOSE;
		ev->close_code = WS_CLOSE_NO_STATUS;
		ev->data = p->ctl;
		ev->len = 0;
		if (p->frame_len == 1)
			return WS_CLOSE_PROTOCOL;
		if (p->frame_len >= 2) {
			unsigned code = (unsigned)p->ctl[0] << 8 | p->ctl[1];
			if (!ws_close_code_valid(code))
				return WS_CLOSE_PROTOCOL;
			if (!ws_utf8_valid(p->ctl + 2, (size_t)p->frame_len - 2))
				return WS_CLOSE_INVALID_DATA;
			ev->close_code = (uint16_t)code;
			ev->data = p->ctl + 2;
			ev->len = (size_t)p->frame_len - 2;
		}
		return 0;
	default:
		if (!p->fin)
			return 0;
		if (p->msg_opcode == WS_OP_TEXT && p->utf8_need)
			return WS_CLOSE_INVALID_DATA;
		ev->kind = WS_EV_MESSAGE;
		ev->opcode = p->msg_opcode;
		ev->data = (const uint8_t *)p->msg.buf;
		ev->len = p->msg.len;
		p->in_message = false;
		p->deliver_reset = true;
		return 0;
	}
}

long ws_parser_feed(struct ws_parser *p, const uint8_t *buf, size_t len, struct ws_event *ev)
{
	memset(ev, 0, sizeof *ev);
	if (p->error)
		return -KC_EPROTO;
	if (p->deliver_reset) {
		kc_str_reset(&p->msg);
		p->deliver_reset = false;
	}
	size_t pos = 0;
	for (;;) {
		if (!p->in_frame) {
			while (p->hdr_len < 2 && pos < len)
				p->hdr[p->hdr_len++] = buf[pos++];
			if (p->hdr_len < 2)
				return (long)pos;
			unsigned l7 = p->hdr[1] & 0x7f;
			unsigned need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((p->hdr[1] & 0x80) ? 4 : 0);
			while (p->hdr_len < need && pos < len)
				p->hdr[p->hdr_len++] = buf[pos++];
			if (p->hdr_len < need)
				return (long)pos;
			int code = start_frame(p);
			if (code)
				return parser_fail(p, code);
		}
		uint64_t left = p->frame_len - p->frame_got;
		size_t n = len - pos < left ? len - pos : (size_t)left;
		if (n) {
			uint8_t *d;
			if (p->opcode >= WS_OP_CLOSE) {
				d = p->ctl + p->frame_got;
				memcpy(d, buf + pos, n);
			} else {
				size_t at = p->msg.len;
				kc_str_add(&p->msg, buf + pos, n);
				d = (uint8_t *)p->msg.buf + at;
			}
			if (p->masked)
				ws_mask(d, n, p->mask, p->frame_got);
			if (p->opcode < WS_OP_CLOSE && p->msg_opcode == WS_OP_TEXT) {
				struct utf8 u = { p->utf8_need, p->utf8_lo, p->utf8_hi };
				if (!u.need) {
					u.lo = 0x80;
					u.hi = 0xbf;
				}
				if (!utf8_feed(&u, d, n))
					return parser_fail(p, WS_CLOSE_INVALID_DATA);
				p->utf8_need = u.need;
				p->utf8_lo = u.lo;
				p->utf8_hi = u.hi;
			}
			pos += n;
			p->frame_got += n;
		}
		if (p->frame_got < p->frame_len)
			return (long)pos;
		int code = end_frame(p, ev);
		if (code) {
			memset(ev, 0, sizeof *ev);
			return parser_fail(p, code);
		}
		if (ev->kind != WS_EV_NONE)
			return (long)pos;
	}
}

/* ---- connections ---- */

struct ws_conn {
	struct loop *loop;
	struct transport *t;
	struct loop_io io;
	struct loop_timer kick;
	struct loop_timer close_timer;
	struct ws_parser p;
	struct ws_config cfg;
	const struct ws_handlers *h;
	void *arg;
	bool client;
	struct kc_str in;            /* leftover input not parsed yet */
	struct kc_str out;
	size_t out_off;
	unsigned rd_want, wr_want;
	bool close_sent;             /* no more frames may be queued */
	bool close_received;
	bool draining;               /* closing: send what is queued, then close */
	bool failed;                 /* transport error or buffer overflow: close now */
	bool finished;               /* on_close done or under way */
	bool congested;
	unsigned busy;
	int close_code;
	char close_reason[128];
	uint64_t rng;
	char subprotocol[64];
};

static void ws_update(struct ws_conn *ws);

static void ws_arm_kick(struct ws_conn *ws)
{
	if (!loop_timer_active(&ws->kick))
		loop_timer_start(ws->loop, &ws->kick, 0);
}

static void ws_maybe_free(struct ws_conn *ws)
{
	if (!ws->finished || ws->busy)
		return;
	ws_parser_free(&ws->p);
	kc_str_free(&ws->in);
	kc_str_free(&ws->out);
	free(ws);
}

/* Closes the transport and reports the end, once. Only from loop callbacks. */
static void ws_finish(struct ws_conn *ws, int code, const char *reason)
{
	if (ws->finished)
		return;
	ws->finished = true;
	loop_io_stop(ws->loop, &ws->io);
	loop_timer_stop(ws->loop, &ws->kick);
	loop_timer_stop(ws->loop, &ws->close_timer);
	/* Read what is left so that closing sends FIN rather than a reset. */
	char sink[4096];
	while (recv(ws->t->fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
		;
	transport_close(ws->t);
	ws->t = NULL;
	ws->busy++;
	ws->h->on_close(ws, code, reason ? reason : "", ws->arg);
	ws->busy--;
}

static size_t out_pending(const struct ws_conn *ws)
{
	return ws->out.len - ws->out_off;
}

/* Sends what the transport takes; never calls handlers. */
static void ws_flush(struct ws_conn *ws)
{
	while (!ws->failed && out_pending(ws)) {
		unsigned want = 0;
		ssize_t r = transport_write(ws->t, ws->out.buf + ws->out_off, out_pending(ws), &want);
		if (r > 0) {
			ws->out_off += (size_t)r;
			continue;
		}
		if (r == -EAGAIN) {
			ws->wr_want = want ? want : EPOLLOUT;
			return;
		}
		log_debug("ws write failed err=%s", kc_strerror((int)r));
		ws->failed = true;
		ws_arm_kick(ws);
		return;
	}
	if (!out_pending(ws)) {
		kc_str_reset(&ws->out);
		ws->out_off = 0;
		ws->wr_want = 0;
		if (ws->out.cap > 65536)
			kc_str_free(&ws->out);
		if (ws->draining || (ws->congested))
			ws_arm_kick(ws);
	} else if (ws->out_off > 65536 && ws->out_off > ws->out.len / 2) {
		kc_str_consume(&ws->out, ws->out_off);
		ws->out_off = 0;
	}
	if (ws->congested && out_pending(ws) <= ws->cfg.high_water / 2)
		ws_arm_kick(ws);
}

static void ws_queue(struct ws_conn *ws, enum ws_opcode op, const void *data, size_t len)
{
	uint8_t mask[4], *mp = NULL;
	if (ws->client) {
		/* xorshift64*, seeded from getrandom: masks must be unpredictable to the peer */
		ws->rng ^= ws->rng >> 12;
		ws->rng ^= ws->rng << 25;
		ws->rng ^= ws->rng >> 27;
		uint64_t v = ws->rng * 2685821657736338717ull;
		memcpy(mask, &v, 4);
		mp = mask;
	}
	ws_frame_append(&ws->out, true, op, data, len, mp);
}

/* Queues a close frame (once) and moves to draining. */
static void ws_send_close(struct ws_conn *ws, int code, const char *reason)
{
	if (ws->close_sent)
		return;
	uint8_t pl[125];
	size_t n = 0;
	if (code != WS_CLOSE_NO_STATUS) {
		pl[0] = (uint8_t)(code >> 8);
		pl[1] = (uint8_t)code;
		size_t rl = reason ? strlen(reason) : 0;
		if (rl > 123)
			rl = 123;
		memcpy(pl + 2, reason, rl);
		n = 2 + rl;
	}
	ws_queue(ws, WS_OP_CLOSE, pl, n);
	ws->close_sent = true;
}

static void ws_begin_drain(struct ws_conn *ws, int code, const char *reason)
{
	ws->draining = true;
	ws->close_code = code;
	snprintf(ws->close_reason, sizeof ws->close_reason, "%s", reason ? reason : "");
	ws_flush(ws);
	ws_arm_kick(ws);
	if (!loop_timer_active(&ws->close_timer))
		loop_timer_start(ws->loop, &ws->close_timer, ws->cfg.close_timeout_ms);
}

/* Feeds received bytes to the parser and acts on the events. */
static void ws_process(struct ws_conn *ws, const uint8_t *data, size_t n)
{
	size_t off = 0;
	/* Input is still parsed after a write failure: a close frame may explain it. */
	while (off < n && !ws->finished && !ws->draining) {
		struct ws_event ev;
		long c = ws_parser_feed(&ws->p, data + off, n - off, &ev);
		if (c < 0) {
			int code = ws_parser_error(&ws->p);
			ws_send_close(ws, code, code == WS_CLOSE_TOO_BIG ? "message too big" : "protocol error");
			ws_begin_drain(ws, code, "");
			return;
		}
		off += (size_t)c;
		switch (ev.kind) {
		case WS_EV_MESSAGE:
			if (!ws->close_sent && ws->h->on_message)
				ws->h->on_message(ws, ev.opcode, ev.data, ev.len, ws->arg);
			break;
		case WS_EV_PING:
			if (!ws->close_sent) {
				ws_queue(ws, WS_OP_PONG, ev.data, ev.len);
				ws_flush(ws);
			}
			break;
		case WS_EV_CLOSE: {
			char reason[128];
			memcpy(reason, ev.data, ev.len);
			reason[ev.len] = '\0';
			ws->close_received = true;
			/* Echo the peer's code; then close the TCP connection (the server closes first,
			 * and a client that sees the reply has nothing left to wait for either). */
			ws_send_close(ws, ev.close_code, reason);
			ws_begin_drain(ws, ev.close_code, reason);
			return;
		}
		default:
			break;
		}
	}
}

/* The bytes that came with the upgrade (ws_conn_new's leftover) go first, whichever callback
 * runs first: the kick, or a read of newer bytes. */
static void ws_process_leftover(struct ws_conn *ws)
{
	if (!ws->in.len)
		return;
	struct kc_str in = ws->in;
	kc_str_init(&ws->in);
	ws_process(ws, (const uint8_t *)in.buf, in.len);
	kc_str_free(&in);
}

static void ws_read(struct ws_conn *ws)
{
	uint8_t buf[16384];
	ws_process_leftover(ws);
	while (!ws->finished && !ws->draining) {
		unsigned want = 0;
		ssize_t r = transport_read(ws->t, buf, sizeof buf, &want);
		if (r > 0) {
			ws->rd_want = 0;
			ws_process(ws, buf, (size_t)r);
			if ((size_t)r < sizeof buf && !(ws->t && transport_pending(ws->t)))
				return;
			continue;
		}
		if (r == -EAGAIN) {
			ws->rd_want = want ? want : EPOLLIN;
			return;
		}
		if (r < 0)
			log_debug("ws read failed err=%s", kc_strerror((int)r));
		ws_finish(ws, WS_CLOSE_ABNORMAL, "");
		return;
	}
}

static void ws_update(struct ws_conn *ws)
{
	if (ws->finished)
		return;
	uint32_t ev = 0;
	if (!ws->draining && !ws->failed)
		ev |= ws->rd_want ? ws->rd_want : EPOLLIN;
	if (out_pending(ws))
		ev |= ws->wr_want ? ws->wr_want : EPOLLOUT;
	if (loop_io_start(ws->loop, &ws->io, ev) < 0) {
		ws->failed = true;
		ws_arm_kick(ws);
	}
}

/* Settles states that end the connection; only from loop callbacks. */
static void ws_settle(struct ws_conn *ws)
{
	if (ws->finished)
		return;
	if (ws->failed)
		ws_finish(ws, ws->close_received || ws->draining ? ws->close_code : WS_CLOSE_ABNORMAL,
			  ws->close_reason);
	else if (ws->draining && !out_pending(ws))
		ws_finish(ws, ws->close_code, ws->close_reason);
}

static void ws_io_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct ws_conn *ws = io->data;
	ws->busy++;
	if (ev & EPOLLERR) {
		ws_finish(ws, WS_CLOSE_ABNORMAL, "");
		goto out;
	}
	if (!ws->draining && (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | (ws->rd_want ? ws->rd_want : 0))))
		ws_read(ws);
	if (!ws->finished && out_pending(ws))
		ws_flush(ws);
	ws_settle(ws);
out:
	ws->busy--;
	ws_update(ws);
	ws_maybe_free(ws);
}

static void ws_kick_cb(struct loop *l, struct loop_timer *t)
{
	struct ws_conn *ws = t->data;
	ws->busy++;
	ws_process_leftover(ws);
	if (!ws->finished && !ws->draining && transport_pending(ws->t))
		ws_read(ws);
	if (!ws->finished && ws->congested && out_pending(ws) <= ws->cfg.high_water / 2) {
		ws->congested = false;
		if (ws->h->on_drain && !ws->close_sent)
			ws->h->on_drain(ws, ws->arg);
	}
	ws_settle(ws);
	ws->busy--;
	ws_update(ws);
	ws_maybe_free(ws);
}

static void ws_close_timeout_cb(struct loop *l, struct loop_timer *t)
{
	struct ws_conn *ws = t->data;
	ws->busy++;
	ws_finish(ws, ws->close_received ? ws->close_code : WS_CLOSE_ABNORMAL, ws->close_reason);
	ws->busy--;
	ws_maybe_free(ws);
}

struct ws_conn *ws_conn_new(struct loop *l, struct transport *t, bool client, const char *leftover,
			    size_t leftover_len, const char *subprotocol, const struct ws_config *cfg,
			    const struct ws_handlers *h, void *arg)
{
	struct ws_conn *ws = xcalloc(1, sizeof *ws);
	ws->loop = l;
	ws->t = t;
	ws->client = client;
	ws->h = h;
	ws->arg = arg;
	if (cfg)
		ws->cfg = *cfg;
	if (!ws->cfg.high_water)
		ws->cfg.high_water = 1u << 20;
	if (!ws->cfg.max_buffer)
		ws->cfg.max_buffer = 64u << 20;
	if (!ws->cfg.close_timeout_ms)
		ws->cfg.close_timeout_ms = 5000;
	ws_parser_init(&ws->p, !client, ws->cfg.max_frame, ws->cfg.max_message);
	kc_str_init(&ws->in);
	kc_str_init(&ws->out);
	kc_str_add(&ws->in, leftover, leftover_len);
	snprintf(ws->subprotocol, sizeof ws->subprotocol, "%s", subprotocol ? subprotocol : "");
	if (client && getrandom(&ws->rng, sizeof ws->rng, 0) != (ssize_t)sizeof ws->rng)
		ws->rng = (uint64_t)(uintptr_t)ws ^ 0x9e3779b97f4a7c15ull;
	ws->rng |= 1;
	loop_io_init(&ws->io, t->fd, ws_io_cb, ws);
	loop_timer_init(&ws->kick, ws_kick_cb, ws);
	loop_timer_init(&ws->close_timer, ws_close_timeout_cb, ws);
	ws_update(ws);
	if (leftover_len || transport_pending(t))
		ws_arm_kick(ws);
	return ws;
}

int ws_send(struct ws_conn *ws, enum ws_opcode op, const void *data, size_t len)
{
	if (ws->close_sent || ws->failed || ws->finished)
		return -KC_ECLOSED;
	if (op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_PING && op != WS_OP_PONG)
		return -KC_EINVAL;
	if (op >= WS_OP_CLOSE && len > 125)
		return -KC_EINVAL;
	ws_queue(ws, op, data, len);
	if (out_pending(ws) > ws->cfg.max_buffer) {
		log_warn("ws output over limit, dropping connection bytes=%zu", out_pending(ws));
		ws->failed = true;
		ws_arm_kick(ws);
		return -KC_ECLOSED;
	}
	ws_flush(ws);
	if (ws->failed)
		return -KC_ECLOSED;
	ws_update(ws);
	if (out_pending(ws) > ws->cfg.high_water) {
		ws->congested = true;
		return WS_CONGESTED;
	}
	return 0;
}

int ws_close(struct ws_conn *ws, uint16_t code, const char *reason)
{
	if (ws->close_sent || ws->failed || ws->finished)
		return -KC_ECLOSED;
	if (!ws_close_code_valid(code) || (reason && strlen(reason) > 123))
		return -KC_EINVAL;
	ws_send_close(ws, code, reason);
	ws_flush(ws);
	ws_update(ws);
	/* Wait for the peer's close (it ends the connection) at most close_timeout_ms. */
	loop_timer_start(ws->loop, &ws->close_timer, ws->cfg.close_timeout_ms);
	return 0;
}

const char *ws_subprotocol(const struct ws_conn *ws)
{
	return ws->subprotocol;
}

size_t ws_pending(const struct ws_conn *ws)
{
	return out_pending(ws);
}

/* ---- server handshake ---- */

struct ws_pending {
	const struct ws_handlers *h;
	void *arg;
	struct ws_config cfg;
	char proto[64];
};

static void ws_upgraded(struct loop *l, struct transport *t, const char *left, size_t nleft, void *arg)
{
	struct ws_pending *pd = arg;
	if (!t) {
		pd->h->on_close(NULL, WS_CLOSE_ABNORMAL, "", pd->arg);
		free(pd);
		return;
	}
	struct ws_conn *ws = ws_conn_new(l, t, false, left, nleft, pd->proto, &pd->cfg, pd->h, pd->arg);
	free(pd);
	if (ws->h->on_open) {
		ws->busy++;
		ws->h->on_open(ws, ws->arg);
		ws->busy--;
		ws_maybe_free(ws);
	}
}

bool ws_is_upgrade(const struct http_req *req)
{
	return strcmp(req->method, "GET") == 0 &&
	       http_header_has_token(&req->head, "connection", "upgrade") &&
	       http_header_has_token(&req->head, "upgrade", "websocket");
}

static int reject(struct http_req *req, int status, const char *msg)
{
	http_respond(req, status, "text/plain; charset=utf-8", msg, strlen(msg));
	return -KC_EPROTO;
}

int ws_server_upgrade(struct http_req *req, const char *const *subprotocols,
		      const struct ws_config *cfg, const struct ws_handlers *h, void *arg)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	if (!ws_is_upgrade(req) || req->head.version_minor != 1)
		return reject(req, 400, "not a websocket handshake\n");
	const char *ver = http_req_header(req, "sec-websocket-version");
	if (!ver || strcmp(ver, "13") != 0) {
		http_resp_header(req, "Sec-WebSocket-Version", "13");
		return reject(req, 426, "unsupported websocket version\n");
	}
	const char *key = http_req_header(req, "sec-websocket-key");
	unsigned char raw[24];
	size_t olen = 0;
	if (!key || strlen(key) != 24 ||
	    mbedtls_base64_decode(raw, sizeof raw, &olen, (const unsigned char *)key, 24) != 0 ||
	    olen != 16)
		return reject(req, 400, "bad Sec-WebSocket-Key\n");
	unsigned char cat[24 + sizeof guid], digest[20], accept[32];
	memcpy(cat, key, 24);
	memcpy(cat + 24, guid, sizeof guid - 1);
	if (mbedtls_sha1_ret(cat, 24 + sizeof guid - 1, digest) != 0 ||
	    mbedtls_base64_encode(accept, sizeof accept, &olen, digest, sizeof digest) != 0)
		return reject(req, 500, "websocket handshake failed\n");
	accept[olen] = '\0';
	struct ws_pending *pd = xcalloc(1, sizeof *pd);
	pd->h = h;
	pd->arg = arg;
	if (cfg)
		pd->cfg = *cfg;
	for (const char *const *sp = subprotocols; sp && *sp; sp++) {
		if (http_header_has_token(&req->head, "sec-websocket-protocol", *sp)) {
			snprintf(pd->proto, sizeof pd->proto, "%s", *sp);
			break;
		}
	}
	http_resp_header(req, "Sec-WebSocket-Accept", (const char *)accept);
	if (pd->proto[0])
		http_resp_header(req, "Sec-WebSocket-Protocol", pd->proto);
	http_upgrade(req, "websocket", ws_upgraded, pd);
	return 0;
}
