/* fuzz_http_request.c - pipelined request streams, two ways.
 *
 * Parser mode (byte 0 < 0x80): the stream is handled the way the server handles it: parse a
 * head, check it, take its Content-Length or chunked body (decoded in place), go on with the
 * next request; plus the invariants the server relies on: slices stay inside the head, a
 * shorter prefix of a complete head is never complete, and the verdict does not depend on how
 * much of the stream follows the head.
 *
 * Server mode (byte 0 >= 0x80): the stream goes through a socketpair, in pieces, into the real
 * server (http_server_adopt) on a loop in this thread, whose handlers answer synchronously,
 * asynchronously, streamed, by upgrading (raw or WebSocket) or by aborting, depending on the
 * path. The server's output must be a well-formed sequence of responses, nothing may follow a
 * "Connection: close" response, and once the client is gone every connection and every held
 * request must be gone too.
 *
 * Byte 0 also selects limits (bits 0-2) and the split seed. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "net/http_parse.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

/* ---- server mode ---- */

static struct loop *L;
static struct http_server *S;
static int outstanding;          /* handler work not finished yet */
static bool heads[4096];         /* per handled request in order: was it HEAD */
static size_t nheads;

struct later {
	struct loop_timer t;
	struct http_req *req;
	int left;
};

static void later_cb(struct loop *l, struct loop_timer *t)
{
	struct later *w = t->data;
	if (w->left < 0) {
		http_respond(w->req, 202, "text/plain", "later", 5);
	} else if (w->left > 0) {
		http_stream_write(w->req, "chunk", 5);
		w->left--;
		loop_timer_start(l, &w->t, 0);
		return;
	} else {
		http_stream_end(w->req);
	}
	outstanding--;
	free(w);
}

static void raw_cb(struct loop *l, struct transport *t, const char *left, size_t n, void *arg)
{
	if (t)
		transport_close(t);
	outstanding--;
}

static void ws_msg(struct ws_conn *ws, enum ws_opcode op, const void *d, size_t n, void *arg)
{
	ws_send(ws, op, d, n);
}

static void ws_closed(struct ws_conn *ws, int code, const char *reason, void *arg)
{
	outstanding--;
}

static const struct ws_handlers ws_h = { .on_message = ws_msg, .on_close = ws_closed };

static void note_head(struct http_req *req)
{
	if (nheads < sizeof heads)
		heads[nheads++] = strcmp(req->method, "HEAD") == 0;
}

static void fz_handler(struct http_req *req, void *arg)
{
	(void)http_req_query(req, "a");
	(void)http_req_query_nth(req, "a", 1);
	(void)http_req_header(req, "x");
	(void)http_req_peer_str(req);
	check(strlen(req->path) <= strlen(req->target));
	char k = req->path[0] ? req->path[1] : 0;
	struct later *w;
	switch (k) {
	case 'a':
	case 'S':
		note_head(req);
		w = xcalloc(1, sizeof *w);
		w->req = req;
		w->left = k == 'a' ? -1 : 2;
		loop_timer_init(&w->t, later_cb, w);
		loop_timer_start(L, &w->t, 0);
		if (k == 'S')
			http_stream_begin(req, 200, "text/plain");
		outstanding++;
		break;
	case 's':
		note_head(req);
		http_stream_begin(req, 200, NULL);
		http_stream_write(req, req->body, req->body_len);
		http_stream_write(req, "x", 1);
		http_stream_end(req);
		break;
	case 'e':
		note_head(req);
		http_resp_header(req, "X-Echo", "1");
		http_respond(req, 200, "application/octet-stream", req->body, req->body_len);
		break;
	case 'u':
		outstanding++;
		note_head(req);
		http_upgrade(req, "raw", raw_cb, NULL);
		break;
	case 'w':
		note_head(req);
		if (ws_server_upgrade(req, NULL, NULL, &ws_h, NULL) == 0)
			outstanding++;
		break;
	case 'x':
		http_req_abort(req);
		break;
	case 'n':
		note_head(req);
		http_respond(req, req->body_len ? 304 : 204, NULL, NULL, 0);
		break;
	default:
		note_head(req);
		http_respond(req, 200, "text/plain", "ok", 2);
		break;
	}
}

static void server_init(void)
{
	if (L)
		return;
	kc_log_set_level(KC_LOG_ERROR);
	L = loop_new(NULL);
	struct http_server_config cfg = {
		.addr = "127.0.0.1",
		.handler = fz_handler,
		.limits = { .max_head_bytes = 2048, .max_headers = 16, .max_body_bytes = 4096 },
	};
	struct kc_err err;
	check(L && http_server_open(L, &cfg, &S, &err) == 0);
}

static void drain_out(int fd, char **out, size_t *len, size_t *cap)
{
	for (;;) {
		if (*cap - *len < 65536) {
			*cap = *cap * 2 + 65536;
			*out = xrealloc(*out, *cap);
		}
		ssize_t r = recv(fd, *out + *len, *cap - *len, MSG_DONTWAIT);
		if (r <= 0)
			return;
		*len += (size_t)r;
	}
}

/* The server's output must be a well-formed sequence of responses. */
static void check_output(const char *out, size_t len)
{
	static const struct http_limits lim = { .max_head_bytes = 65536, .max_headers = 64 };
	struct http_header hdrs[64];
	size_t pos = 0, idx = 0;
	while (pos < len) {
		struct http_head h;
		bool head = idx < nheads && heads[idx];
		long hl = http_parse_response(out + pos, len - pos, &lim, head ? "HEAD" : "GET", hdrs, &h);
		check(hl > 0);
		pos += (size_t)hl;
		if (h.status == 100)
			continue;
		idx++;
		if (h.status == 101)
			return;  /* raw or WebSocket bytes follow */
		if (h.body == HTTP_BODY_LENGTH) {
			check(h.content_length <= len - pos);
			pos += (size_t)h.content_length;
		} else if (h.body == HTTP_BODY_CHUNKED) {
			struct http_chunked c;
			http_chunked_init(&c);
			char *copy = xmemdup(out + pos, len - pos);
			size_t produced;
			long n = http_chunked_decode(&c, copy, len - pos, 0, &produced);
			free(copy);
			check(n >= 0 && c.done);
			pos += (size_t)n;
		} else if (h.body == HTTP_BODY_UNTIL_CLOSE) {
			return;
		}
		if (!h.keep_alive)
			check(pos == len);
	}
}

static int run_server(const uint8_t *data, size_t size, unsigned seed)
{
	server_init();
	nheads = 0;
	int sv[2];
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	check(http_server_adopt(S, transport_plain_new(sv[0]), NULL, 0) == 0);
	char *out = NULL;
	size_t olen = 0, ocap = 0, pos = 0;
	int stuck = 0;
	while (pos < size && stuck < 50) {
		seed = seed * 1103515245u + 12345u;
		size_t take = 1 + (seed >> 16) % 700;
		if (take > size - pos)
			take = size - pos;
		ssize_t w = send(sv[1], data + pos, take, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			pos += (size_t)w;
			stuck = 0;
		} else {
			if (w < 0 && errno != EAGAIN)
				break;  /* the server closed */
			stuck++;
		}
		for (int i = 0; i < 3; i++)
			loop_run_once(L, 0);
		drain_out(sv[1], &out, &olen, &ocap);
	}
	/* The client is done sending: run until nothing happens any more. Everything must have
	 * finished by then, having seen the end of the input. */
	shutdown(sv[1], SHUT_WR);
	struct http_server_stats st;
	for (int quiet = 0, i = 0; quiet < 10 && i < 1000000; i++) {
		int ran = loop_run_once(L, 0);
		size_t before = olen;
		drain_out(sv[1], &out, &olen, &ocap);
		quiet = ran > 0 || olen != before ? 0 : quiet + 1;
	}
	http_server_stats(S, &st);
	check(st.conns == 0 && st.inflight == 0 && outstanding == 0);
	close(sv[1]);
	check_output(out, olen);
	free(out);
	return 0;
}

/* ---- parser mode ---- */

static bool inside(struct http_slice s, const char *b, size_t n)
{
	return s.n == 0 || (s.p >= b && s.p + s.n <= b + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80)
		return run_server(data + 1, size - 1, data[0]);
	struct http_limits lim = {
		.max_head_bytes = (data[0] & 1) ? 256 : 8192,
		.max_headers = (data[0] & 2) ? 4 : 64,
		.max_body_bytes = (data[0] & 4) ? 16 : 65536,
	};
	data++;
	size--;
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	struct http_header *hdrs = malloc(lim.max_headers * sizeof *hdrs);
	struct http_header *hdrs2 = malloc(lim.max_headers * sizeof *hdrs2);

	size_t pos = 0;
	while (pos < size) {
		char *p = buf + pos;
		size_t n = size - pos;
		struct http_head h, h2;
		long r = http_parse_request(p, n, &lim, hdrs, &h);
		if (r <= 0) {
			check(r == 0 || r == -400 || r == -431 || r == -501 || r == -505);
			if (r == 0)
				check(n < lim.max_head_bytes);
			break;
		}
		size_t hl = (size_t)r;
		check(hl <= n && hl <= lim.max_head_bytes);
		check(h.nheaders <= lim.max_headers);
		check(h.method.n > 0 && inside(h.method, p, hl));
		check(h.target.n > 0 && inside(h.target, p, hl));
		check(h.version_minor == 0 || h.version_minor == 1);
		for (unsigned i = 0; i < h.nheaders; i++) {
			check(h.headers[i].name.n > 0 && inside(h.headers[i].name, p, hl));
			check(inside(h.headers[i].value, p, hl));
		}
		check(h.body == HTTP_BODY_NONE || h.body == HTTP_BODY_LENGTH || h.body == HTTP_BODY_CHUNKED);
		(void)http_find_header(&h, "content-type");
		(void)http_header_has_token(&h, "connection", "close");
		/* Same verdict with nothing after the head, and no verdict on a strict prefix. */
		check(http_parse_request(p, hl, &lim, hdrs2, &h2) == r);
		check(h2.body == h.body && h2.content_length == h.content_length &&
		      h2.keep_alive == h.keep_alive && h2.nheaders == h.nheaders);
		check(http_parse_request(p, hl - 1, &lim, hdrs2, &h2) == 0);
		/* The path and query decode like the server does it. */
		char *dec = malloc(h.target.n);
		long dn = http_percent_decode(dec, h.target.p, h.target.n, false);
		check(dn < 0 || (size_t)dn <= h.target.n);
		free(dec);

		pos += hl;
		if (h.body == HTTP_BODY_LENGTH) {
			if (h.content_length > lim.max_body_bytes || h.content_length > size - pos)
				break;
			pos += (size_t)h.content_length;
		} else if (h.body == HTTP_BODY_CHUNKED) {
			struct http_chunked c;
			size_t produced;
			http_chunked_init(&c);
			long cr = http_chunked_decode(&c, buf + pos, size - pos, lim.max_body_bytes, &produced);
			if (cr < 0) {
				check(cr == -400 || cr == -413);
				break;
			}
			check(produced <= (size_t)cr && c.total == produced);
			check(c.total <= lim.max_body_bytes);
			if (!c.done)
				break;
			pos += (size_t)cr;
		}
		if (!h.keep_alive)
			break;
	}
	free(hdrs);
	free(hdrs2);
	free(buf);
	return 0;
}
