/* test_http_server.c - a real server on 127.0.0.1 (ephemeral port) in its own loop thread,
 * driven through raw sockets: keep-alive, pipelining, bodies, errors and limits, timeouts,
 * streaming, overload, graceful stop, upgrades and WebSocket. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/str.h"
#include "net/http_parse.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/ws.h"

/* ---- server thread ---- */

struct srv {
	struct http_server_config cfg;
	pthread_t th;
	struct loop *loop;
	struct http_server *http;
	uint16_t port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ready;
	/* touched on the loop thread only while it runs */
	int close_notes;
	int drains;
	int shutdown_done;
	int upgrades_failed;
	int raw_closed;
	struct http_req *held;   /* a request the handler keeps past the server's end */
	int held_closes;
	int held_result;
	int held_idlen;
};

static void handler(struct http_req *req, void *arg);

static void *srv_main(void *arg)
{
	struct srv *x = arg;
	struct kc_err err;
	x->loop = loop_new(NULL);
	int rc = http_server_open(x->loop, &x->cfg, &x->http, &err);
	if (rc < 0)
		fprintf(stderr, "open: %s\n", err.msg);
	pthread_mutex_lock(&x->mu);
	x->port = rc < 0 ? 0 : http_server_port(x->http);
	x->ready = true;
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
	if (rc == 0) {
		loop_run(x->loop);
		http_server_close(x->http);
		/* A request still held outlives the server and can be finished afterwards. */
		if (x->held) {
			/* the transport is gone; its identity strings were kept */
			x->held_idlen = (int)(strlen(x->held->sni) + strlen(x->held->peer_cn) +
					      strlen(x->held->peer_groups));
			x->held_result = http_respond(x->held, 200, NULL, "late", 4);
		}
	}
	loop_free(x->loop);
	return NULL;
}

static struct srv *srv_start(void (*tweak)(struct http_server_config *cfg))
{
	struct srv *x = xcalloc(1, sizeof *x);
	x->cfg.addr = "127.0.0.1";
	x->cfg.handler = handler;
	x->cfg.handler_arg = x;
	x->cfg.limits.max_head_bytes = 8192;
	x->cfg.limits.max_headers = 32;
	x->cfg.limits.max_body_bytes = 64 * 1024;
	x->cfg.header_timeout_ms = 2000;
	x->cfg.idle_timeout_ms = 5000;
	x->cfg.linger_ms = 500;
	if (tweak)
		tweak(&x->cfg);
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	pthread_create(&x->th, NULL, srv_main, x);
	pthread_mutex_lock(&x->mu);
	while (!x->ready)
		pthread_cond_wait(&x->cv, &x->mu);
	pthread_mutex_unlock(&x->mu);
	assert_int_not_equal(x->port, 0);
	return x;
}

static void srv_stop(struct srv *x)
{
	loop_stop(x->loop);
	pthread_join(x->th, NULL);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x);
}

/* Runs fn on the server's loop thread and waits for it. */
struct sync_call {
	struct srv *x;
	void (*fn)(struct srv *x, void *arg);
	void *arg;
	bool done;
};

static void sync_tramp(struct loop *l, void *arg)
{
	struct sync_call *sc = arg;
	sc->fn(sc->x, sc->arg);
	pthread_mutex_lock(&sc->x->mu);
	sc->done = true;
	pthread_cond_broadcast(&sc->x->cv);
	pthread_mutex_unlock(&sc->x->mu);
}

static void on_loop(struct srv *x, void (*fn)(struct srv *x, void *arg), void *arg)
{
	struct sync_call sc = { .x = x, .fn = fn, .arg = arg };
	loop_call(x->loop, sync_tramp, &sc);
	pthread_mutex_lock(&x->mu);
	while (!sc.done)
		pthread_cond_wait(&x->cv, &x->mu);
	pthread_mutex_unlock(&x->mu);
}

struct snapshot {
	struct http_server_stats st;
	int close_notes, drains, shutdown_done, upgrades_failed, raw_closed;
};

static void take_snapshot(struct srv *x, void *arg)
{
	struct snapshot *s = arg;
	http_server_stats(x->http, &s->st);
	s->close_notes = x->close_notes;
	s->drains = x->drains;
	s->shutdown_done = x->shutdown_done;
	s->upgrades_failed = x->upgrades_failed;
	s->raw_closed = x->raw_closed;
}

static struct snapshot snap(struct srv *x)
{
	struct snapshot s;
	on_loop(x, take_snapshot, &s);
	return s;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- handlers ---- */

struct delayed {
	struct loop_timer t;
	struct http_req *req;
	struct srv *x;
	int left;
};

static void delayed_respond(struct loop *l, struct loop_timer *t)
{
	struct delayed *d = t->data;
	http_resp_header(d->req, "X-Async", "yes");
	http_respond(d->req, 200, "text/plain", "late", 4);
	free(d);
}

static void stream_tick(struct loop *l, struct loop_timer *t)
{
	struct delayed *d = t->data;
	char line[32];
	int n = snprintf(line, sizeof line, "tick %d\n", d->left);
	http_stream_write(d->req, line, (size_t)n);
	if (--d->left > 0) {
		loop_timer_start(l, &d->t, 10);
		return;
	}
	http_stream_end(d->req);
	free(d);
}

/* A watch: writes until the client goes away. */
static void watch_tick(struct loop *l, struct loop_timer *t)
{
	struct delayed *d = t->data;
	if (http_req_gone(d->req)) {
		http_stream_end(d->req);
		free(d);
		return;
	}
	http_stream_write(d->req, "event\n", 6);
	loop_timer_start(l, &d->t, 20);
}

static void watch_closed(struct http_req *req, void *arg)
{
	struct delayed *d = arg;
	d->x->close_notes++;
}

/* Floods a stream until congested, then waits for on_drain. */
static void flood_write(struct delayed *d)
{
	static char chunk[16384];
	while (d->left > 0) {
		d->left--;
		int rc = http_stream_write(d->req, chunk, sizeof chunk);
		if (rc < 0)
			return;
		if (rc == HTTP_STREAM_CONGESTED)
			return;
	}
	http_stream_end(d->req);
	free(d);
}

static void flood_drain(struct http_req *req, void *arg)
{
	struct delayed *d = arg;
	d->x->drains++;
	flood_write(d);
}

static void flood_closed(struct http_req *req, void *arg)
{
	struct delayed *d = arg;
	d->x->close_notes++;
	http_stream_end(req);
	free(d);
}

/* A streamed response that spans many loop turns (back-pressure, on_drain) and checks at every
 * write that its request's path, query and headers still read as they did at the start, while
 * pipelined requests wait behind it in the connection's read buffer. */
struct checked {
	struct http_req *req;
	struct srv *x;
	int left;
	bool mangled;
	char path[64], query[64], tag[64], q[64];
};

static void check_req(struct checked *k)
{
	const char *tag = http_req_header(k->req, "x-tag"), *q = http_req_query(k->req, "q");
	if (strcmp(k->req->path, k->path) || strcmp(k->req->query, k->query) || !tag ||
	    strcmp(tag, k->tag) || !q || strcmp(q, k->q))
		k->mangled = true;
}

static void checked_write(struct checked *k)
{
	static char chunk[16384];
	while (k->left > 0) {
		k->left--;
		check_req(k);
		int rc = http_stream_write(k->req, chunk, sizeof chunk);
		if (rc < 0)
			return;
		if (rc == HTTP_STREAM_CONGESTED)
			return;
	}
	check_req(k);
	const char *verdict = k->mangled ? "MANGLED\n" : "intact\n";
	http_stream_write(k->req, verdict, strlen(verdict));
	http_stream_end(k->req);
	free(k);
}

static void checked_drain(struct http_req *req, void *arg)
{
	struct checked *k = arg;
	k->x->drains++;
	checked_write(k);
}

static void checked_closed(struct http_req *req, void *arg)
{
	http_stream_end(req);
	free(arg);
}

/* Raw upgrade: echo bytes until the peer closes. */
struct raw {
	struct loop_io io;
	struct transport *t;
	struct srv *x;
};

static void raw_io(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct raw *r = io->data;
	char buf[4096];
	unsigned want;
	ssize_t n = transport_read(r->t, buf, sizeof buf, &want);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		r->x->raw_closed++;
		loop_io_stop(l, &r->io);
		transport_close(r->t);
		free(r);
		return;
	}
	transport_write(r->t, buf, (size_t)n, &want);
}

static void raw_upgraded(struct loop *l, struct transport *t, const char *left, size_t nleft, void *arg)
{
	struct srv *x = arg;
	if (!t) {
		x->upgrades_failed++;
		return;
	}
	struct raw *r = xcalloc(1, sizeof *r);
	r->t = t;
	r->x = x;
	unsigned want;
	if (nleft)
		transport_write(t, left, nleft, &want);
	loop_io_init(&r->io, t->fd, raw_io, r);
	loop_io_start(l, &r->io, EPOLLIN);
}

static void ws_echo_message(struct ws_conn *ws, enum ws_opcode op, const void *data, size_t len,
			    void *arg)
{
	if (len == 5 && memcmp(data, "close", 5) == 0) {
		ws_close(ws, 4000, "bye");
		return;
	}
	ws_send(ws, op, data, len);
}

static void ws_echo_closed(struct ws_conn *ws, int code, const char *reason, void *arg)
{
	struct srv *x = arg;
	x->close_notes++;
}

static void held_closed(struct http_req *req, void *arg)
{
	struct srv *x = arg;
	x->held_closes++;
}

static void handler(struct http_req *req, void *arg)
{
	struct srv *x = arg;
	const char *p = req->path;
	if (strcmp(p, "/hold") == 0) {
		x->held = req;
		http_req_notify(req, NULL, held_closed, x);
		return;
	}
	if (strcmp(p, "/hello") == 0) {
		http_respond(req, 200, "text/plain", "hello", 5);
	} else if (strcmp(p, "/echo") == 0) {
		http_resp_headerf(req, "X-Len", "%zu", req->body_len);
		http_respond(req, 200, "application/octet-stream", req->body, req->body_len);
	} else if (strcmp(p, "/info") == 0) {
		struct kc_str s = KC_STR_INIT;
		const char *a = http_req_query(req, "a"), *b = http_req_query_nth(req, "b", 1);
		const char *h = http_req_header(req, "x-test");
		kc_str_addf(&s, "method=%s path=%s query=%s a=%s b1=%s h=%s peer=%s", req->method,
			    req->path, req->query, a ? a : "-", b ? b : "-", h ? h : "-",
			    http_req_peer_str(req));
		http_respond(req, 200, "text/plain", s.buf, s.len);
		kc_str_free(&s);
	} else if (strcmp(p, "/async") == 0 || strcmp(p, "/slow") == 0) {
		struct delayed *d = xcalloc(1, sizeof *d);
		d->req = req;
		loop_timer_init(&d->t, delayed_respond, d);
		loop_timer_start(http_req_loop(req), &d->t, p[1] == 'a' ? 30 : 400);
	} else if (strcmp(p, "/stream") == 0) {
		struct delayed *d = xcalloc(1, sizeof *d);
		d->req = req;
		d->left = 3;
		http_stream_begin(req, 200, "text/plain");
		loop_timer_init(&d->t, stream_tick, d);
		loop_timer_start(http_req_loop(req), &d->t, 10);
	} else if (strcmp(p, "/watch") == 0) {
		struct delayed *d = xcalloc(1, sizeof *d);
		d->req = req;
		d->x = x;
		http_req_long_running(req);
		http_req_notify(req, NULL, watch_closed, d);
		http_stream_begin(req, 200, "application/json");
		loop_timer_init(&d->t, watch_tick, d);
		loop_timer_start(http_req_loop(req), &d->t, 1);
	} else if (strcmp(p, "/flood") == 0) {
		struct delayed *d = xcalloc(1, sizeof *d);
		d->req = req;
		d->x = x;
		d->left = 256;  /* 4 MiB */
		http_req_notify(req, flood_drain, flood_closed, d);
		http_stream_begin(req, 200, "application/octet-stream");
		flood_write(d);
	} else if (strncmp(p, "/check/", 7) == 0) {
		struct checked *k = xcalloc(1, sizeof *k);
		const char *tag = http_req_header(req, "x-tag"), *q = http_req_query(req, "q");
		k->req = req;
		k->x = x;
		k->left = 64; /* 1 MiB */
		snprintf(k->path, sizeof k->path, "%s", p);
		snprintf(k->query, sizeof k->query, "%s", req->query);
		snprintf(k->tag, sizeof k->tag, "%s", tag ? tag : "");
		snprintf(k->q, sizeof k->q, "%s", q ? q : "");
		http_req_notify(req, checked_drain, checked_closed, k);
		http_stream_begin(req, 200, "application/octet-stream");
		checked_write(k);
	} else if (strcmp(p, "/big") == 0) {
		size_t n = 8u << 20;
		char *b = xmalloc(n);
		memset(b, 'b', n);
		http_respond(req, 200, "application/octet-stream", b, n);
		free(b);
	} else if (strcmp(p, "/raw") == 0) {
		http_upgrade(req, "SPDY/3.1", raw_upgraded, x);
	} else if (strcmp(p, "/ws") == 0) {
		static const char *const protos[] = { "v5.channel.k8s.io", "v4.channel.k8s.io", NULL };
		static const struct ws_handlers wh = {
			.on_message = ws_echo_message,
			.on_close = ws_echo_closed,
		};
		ws_server_upgrade(req, protos, NULL, &wh, x);
	} else if (strcmp(p, "/abort") == 0) {
		http_req_abort(req);
	} else if (strcmp(p, "/nocontent") == 0) {
		http_respond(req, 204, NULL, "ignored", 7);
	} else {
		http_respond(req, 404, "text/plain", "nope\n", 5);
	}
}

/* ---- client ---- */

struct cli {
	int fd;
	char *buf;
	size_t len, cap;
};

struct resp {
	int status;
	char head[4096];
	char *body;
	size_t body_len;
	bool keep_alive;
};

static struct cli *cli_open(struct srv *x)
{
	struct cli *c = xcalloc(1, sizeof *c);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(x->port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	struct timeval tv = { 5, 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	c->cap = 1 << 16;
	c->buf = xmalloc(c->cap);
	return c;
}

static void cli_close(struct cli *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

static void cli_send(struct cli *c, const char *s)
{
	size_t n = strlen(s);
	assert_int_equal(send(c->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void cli_sendn(struct cli *c, const void *s, size_t n)
{
	assert_int_equal(send(c->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads more bytes; returns what recv returned. */
static ssize_t cli_fill(struct cli *c)
{
	if (c->cap - c->len < 65536) {
		c->cap *= 2;
		c->buf = xrealloc(c->buf, c->cap);
	}
	ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (r > 0)
		c->len += (size_t)r;
	return r;
}

static void cli_consume(struct cli *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Reads one response (any status, 1xx included). Returns false on EOF/error before a full one. */
static bool cli_read(struct cli *c, const char *method, struct resp *r)
{
	static const struct http_limits lim = { .max_head_bytes = 65536, .max_headers = 64 };
	struct http_header hdrs[64];
	struct http_head h;
	long hl;
	memset(r, 0, sizeof *r);
	while ((hl = http_parse_response(c->buf, c->len, &lim, method, hdrs, &h)) == 0)
		if (cli_fill(c) <= 0)
			return false;
	if (hl < 0)
		fail_msg("bad response head: %.*s", (int)c->len, c->buf);
	r->status = h.status;
	r->keep_alive = h.keep_alive;
	size_t cp = (size_t)hl < sizeof r->head - 1 ? (size_t)hl : sizeof r->head - 1;
	memcpy(r->head, c->buf, cp);
	r->head[cp] = '\0';
	if (h.body == HTTP_BODY_LENGTH) {
		while (c->len < (size_t)hl + h.content_length)
			if (cli_fill(c) <= 0)
				return false;
		r->body = xmemdup(c->buf + hl, (size_t)h.content_length);
		r->body_len = (size_t)h.content_length;
		cli_consume(c, (size_t)hl + (size_t)h.content_length);
	} else if (h.body == HTTP_BODY_CHUNKED) {
		cli_consume(c, (size_t)hl);
		struct http_chunked ck;
		http_chunked_init(&ck);
		struct kc_str body = KC_STR_INIT;
		for (;;) {
			size_t produced;
			long n = http_chunked_decode(&ck, c->buf, c->len, 0, &produced);
			assert_true(n >= 0);
			kc_str_add(&body, c->buf, produced);
			cli_consume(c, (size_t)n);
			if (ck.done)
				break;
			if (cli_fill(c) <= 0) {
				kc_str_free(&body);
				return false;
			}
		}
		r->body_len = body.len;
		r->body = kc_str_detach(&body, NULL);
	} else if (h.body == HTTP_BODY_UNTIL_CLOSE) {
		while (cli_fill(c) > 0)
			;
		r->body = xmemdup(c->buf + hl, c->len - (size_t)hl);
		r->body_len = c->len - (size_t)hl;
		c->len = 0;
	} else {
		r->body = xstrdup("");
		cli_consume(c, (size_t)hl);
	}
	return true;
}

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* After the server's last response: the connection must end with FIN, not a reset. */
static void expect_clean_eof(struct cli *c)
{
	ssize_t r;
	while ((r = cli_fill(c)) > 0)
		;
	if (r < 0)
		fail_msg("expected EOF, got errno %d", errno);
	assert_int_equal(c->len, 0);
}

static bool body_is(const struct resp *r, const char *s)
{
	return r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* ---- tests ---- */

static void test_keepalive(void **state)
{
	struct srv *x = srv_start(NULL);
	struct cli *c = cli_open(x);
	struct resp r;
	for (int i = 0; i < 3; i++) {
		cli_send(c, GET("/hello"));
		assert_true(cli_read(c, "GET", &r));
		assert_int_equal(r.status, 200);
		assert_true(body_is(&r, "hello"));
		assert_true(r.keep_alive);
		assert_non_null(strstr(r.head, "\r\nDate: "));
		resp_free(&r);
	}
	cli_send(c, "GET /info?a=x%20y&b=1&b=two+2 HTTP/1.1\r\nHost: t\r\nX-Test:  v \r\n\r\n");
	assert_true(cli_read(c, "GET", &r));
	assert_non_null(strstr(r.body, "method=GET path=/info query=a=x%20y&b=1&b=two+2 a=x y b1=two 2 h=v peer=127.0.0.1:"));
	resp_free(&r);
	cli_send(c, "GET /a%2Fb%20c HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 404);
	resp_free(&r);
	cli_send(c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(cli_read(c, "HEAD", &r));
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Content-Length: 5\r\n"));
	resp_free(&r);
	cli_send(c, GET("/nocontent"));
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 204);
	assert_null(strstr(r.head, "Content-Length"));
	resp_free(&r);
	/* HTTP/1.0: closes unless asked to keep alive */
	cli_send(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_true(cli_read(c, "GET", &r));
	assert_non_null(strstr(r.head, "Connection: keep-alive\r\n"));
	resp_free(&r);
	cli_send(c, "GET /hello HTTP/1.0\r\n\r\n");
	assert_true(cli_read(c, "GET", &r));
	assert_false(r.keep_alive);
	resp_free(&r);
	expect_clean_eof(c);
	cli_close(c);
	struct snapshot s = snap(x);
	assert_int_equal(s.st.requests, 9);
	srv_stop(x);
}

static void test_pipelined(void **state)
{
	struct srv *x = srv_start(NULL);
	struct cli *c = cli_open(x);
	cli_send(c, GET("/hello") "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
		    GET("/async") "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "2\r\nxy\r\n1\r\nz\r\n0\r\n\r\n" GET("/stream") GET("/hello")
		    "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" GET("/hello"));
	static const char *const want[] = { "hello", "abc", "late", "xyz", "tick 3\ntick 2\ntick 1\n",
					    "hello", "hello" };
	for (int i = 0; i < 7; i++) {
		struct resp r;
		assert_true(cli_read(c, "GET", &r));
		assert_int_equal(r.status, 200);
		if (!body_is(&r, want[i]))
			fail_msg("response %d: %.*s", i, (int)r.body_len, r.body);
		assert_int_equal(r.keep_alive, i != 6);
		resp_free(&r);
	}
	/* the request after "Connection: close" is not answered */
	expect_clean_eof(c);
	cli_close(c);
	srv_stop(x);
}

static void test_bodies(void **state)
{
	struct srv *x = srv_start(NULL);
	struct cli *c = cli_open(x);
	struct resp r;
	/* chunked body in pieces, with extensions and trailers */
	cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhel");
	sleep_ms(20);
	cli_send(c, "lo\r\n");
	sleep_ms(20);
	cli_send(c, "6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n");
	assert_true(cli_read(c, "POST", &r));
	assert_true(body_is(&r, "hello world"));
	resp_free(&r);
	/* a large Content-Length body (grows the buffer) */
	size_t n = 60000;
	char *big = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	char head[128];
	snprintf(head, sizeof head, "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
	cli_send(c, head);
	cli_sendn(c, big, n);
	assert_true(cli_read(c, "PUT", &r));
	assert_int_equal(r.body_len, n);
	assert_memory_equal(r.body, big, n);
	resp_free(&r);
	/* a large chunked body */
	struct kc_str enc = KC_STR_INIT;
	kc_str_adds(&enc, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (size_t off = 0; off < n; off += 7000) {
		size_t k = n - off < 7000 ? n - off : 7000;
		kc_str_addf(&enc, "%zx\r\n", k);
		kc_str_add(&enc, big + off, k);
		kc_str_adds(&enc, "\r\n");
	}
	kc_str_adds(&enc, "0\r\n\r\n");
	cli_sendn(c, enc.buf, enc.len);
	kc_str_free(&enc);
	assert_true(cli_read(c, "POST", &r));
	assert_int_equal(r.body_len, n);
	assert_memory_equal(r.body, big, n);
	resp_free(&r);
	free(big);
	/* Expect: 100-continue */
	cli_send(c, "PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	assert_true(cli_read(c, "PUT", &r));
	assert_int_equal(r.status, 100);
	resp_free(&r);
	cli_send(c, "data");
	assert_true(cli_read(c, "PUT", &r));
	assert_int_equal(r.status, 200);
	assert_true(body_is(&r, "data"));
	resp_free(&r);
	cli_close(c);
	srv_stop(x);
}

static void expect_error(struct srv *x, const char *req, int status)
{
	struct cli *c = cli_open(x);
	cli_send(c, req);
	struct resp r;
	assert_true(cli_read(c, "GET", &r));
	if (r.status != status)
		fail_msg("want %d, got %d for %s", status, r.status, req);
	assert_false(r.keep_alive);
	resp_free(&r);
	expect_clean_eof(c);
	cli_close(c);
}

static void test_errors(void **state)
{
	struct srv *x = srv_start(NULL);
	expect_error(x, "GARBAGE\r\n\r\n", 400);
	expect_error(x, "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nx", 400);
	expect_error(x, "GET /../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n", 400);
	expect_error(x, "GET /a/%2e%2e/b HTTP/1.1\r\nHost: t\r\n\r\n", 400);
	expect_error(x, "GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n", 400);
	expect_error(x, "GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400);
	expect_error(x, "GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505);
	expect_error(x, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
	/* 431: too many headers, and a head over 8 KiB */
	struct kc_str s = KC_STR_INIT;
	kc_str_adds(&s, "GET / HTTP/1.1\r\nHost: t\r\n");
	for (int i = 0; i < 40; i++)
		kc_str_addf(&s, "X-%d: v\r\n", i);
	kc_str_adds(&s, "\r\n");
	expect_error(x, s.buf, 431);
	kc_str_reset(&s);
	kc_str_adds(&s, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
	for (int i = 0; i < 9000; i++)
		kc_str_addc(&s, 'v');
	kc_str_adds(&s, "\r\n\r\n");
	expect_error(x, s.buf, 431);
	kc_str_free(&s);
	/* 413 from Content-Length, without the body being sent */
	expect_error(x, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n", 413);
	/* 413 from a chunked body growing over the limit */
	struct cli *c = cli_open(x);
	cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	char chunk[8200];
	memcpy(chunk, "2000\r\n", 6);
	memset(chunk + 6, 'c', 8192);
	memcpy(chunk + 6 + 8192, "\r\n", 2);
	struct resp r;
	for (int i = 0; i < 9; i++)
		if (send(c->fd, chunk, sizeof chunk, MSG_NOSIGNAL) < 0)
			break;
	assert_true(cli_read(c, "POST", &r));
	assert_int_equal(r.status, 413);
	resp_free(&r);
	expect_clean_eof(c);
	cli_close(c);
	/* the handler aborting */
	c = cli_open(x);
	cli_send(c, GET("/hello") GET("/abort"));
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 200);
	resp_free(&r);
	expect_clean_eof(c);
	cli_close(c);
	srv_stop(x);
}

static void short_timeouts(struct http_server_config *cfg)
{
	cfg->header_timeout_ms = 300;
	cfg->body_timeout_ms = 300;
	cfg->idle_timeout_ms = 400;
	cfg->write_timeout_ms = 400;
	cfg->linger_ms = 300;
}

static void test_timeouts(void **state)
{
	struct srv *x = srv_start(short_timeouts);
	/* slowloris: a head that never completes gets 408 and a close */
	struct cli *c = cli_open(x);
	cli_send(c, "GET / HTTP/1.1\r\nHost: t\r\n");
	for (int i = 0; i < 3; i++) {
		sleep_ms(60);
		cli_send(c, "X-Slow: 1\r\n");
	}
	struct resp r;
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 408);
	resp_free(&r);
	expect_clean_eof(c);
	cli_close(c);
	/* a body that stops coming */
	c = cli_open(x);
	cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
	assert_true(cli_read(c, "POST", &r));
	assert_int_equal(r.status, 408);
	resp_free(&r);
	expect_clean_eof(c);
	cli_close(c);
	/* idle keep-alive connections are closed quietly; a silent new one too */
	c = cli_open(x);
	struct cli *silent = cli_open(x);
	cli_send(c, GET("/hello"));
	assert_true(cli_read(c, "GET", &r));
	resp_free(&r);
	/* activity before the idle timeout keeps it open */
	sleep_ms(200);
	cli_send(c, GET("/hello"));
	assert_true(cli_read(c, "GET", &r));
	resp_free(&r);
	expect_clean_eof(c);
	expect_clean_eof(silent);
	cli_close(c);
	cli_close(silent);
	struct snapshot s = snap(x);
	assert_int_equal(s.st.conns, 0);
	assert_true(s.st.timeouts >= 4);
	srv_stop(x);
}

static void test_streaming_and_watch(void **state)
{
	struct srv *x = srv_start(NULL);
	struct cli *c = cli_open(x);
	struct resp r;
	cli_send(c, GET("/stream"));
	assert_true(cli_read(c, "GET", &r));
	assert_non_null(strstr(r.head, "Transfer-Encoding: chunked\r\n"));
	assert_true(body_is(&r, "tick 3\ntick 2\ntick 1\n"));
	resp_free(&r);
	/* HTTP/1.0 gets a close-delimited stream */
	cli_send(c, "GET /stream HTTP/1.0\r\n\r\n");
	assert_true(cli_read(c, "GET", &r));
	assert_true(body_is(&r, "tick 3\ntick 2\ntick 1\n"));
	resp_free(&r);
	cli_close(c);

	/* a watch notices the client leaving */
	c = cli_open(x);
	cli_send(c, GET("/watch"));
	while (!strstr(c->buf, "event\n"))
		assert_true(cli_fill(c) > 0);
	struct snapshot s = snap(x);
	assert_int_equal(s.st.inflight, 0);  /* long-running */
	assert_int_equal(s.st.conns, 1);
	cli_close(c);
	for (int i = 0; i < 100; i++) {
		s = snap(x);
		if (s.close_notes == 1 && s.st.conns == 0)
			break;
		sleep_ms(10);
	}
	assert_int_equal(s.close_notes, 1);
	assert_int_equal(s.st.conns, 0);

	/* back-pressure: the flood pauses until the reader catches up */
	c = cli_open(x);
	cli_send(c, GET("/flood"));
	sleep_ms(100);
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.body_len, 256u * 16384);
	resp_free(&r);
	s = snap(x);
	assert_true(s.drains >= 1);
	cli_close(c);
	srv_stop(x);
}

/* Issue 4: streamed responses across loop turns with pipelined requests (heads near the limit,
 * bodies) queued behind them: every request still reads as it arrived while its response is
 * streamed, whatever the read buffer does meanwhile. */
static void test_stream_with_pipelined(void **state)
{
	struct srv *x = srv_start(NULL);
	struct cli *c = cli_open(x);
	char pad[6000];
	memset(pad, 'p', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	static const char *const tags[] = { "one", "two", "three", "four" };
	struct kc_str all = KC_STR_INIT;
	for (int i = 0; i < 4; i++) {
		kc_str_addf(&all, "GET /check/%s?q=%s&z=1 HTTP/1.1\r\nHost: t\r\nX-Tag: %s\r\n"
			    "X-Pad: %s\r\n\r\n", tags[i], tags[i], tags[i], pad);
		/* a body between the streams: more bytes to buffer and move */
		kc_str_addf(&all, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
			    "X-Pad: %.4000s\r\n\r\n", pad);
		for (int j = 0; j < 5000; j++)
			kc_str_addc(&all, (char)('a' + j % 26));
	}
	cli_sendn(c, all.buf, all.len);
	kc_str_free(&all);
	sleep_ms(200); /* let the first stream congest before reading */
	for (int i = 0; i < 4; i++) {
		struct resp r;
		assert_true(cli_read(c, "GET", &r));
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, 64u * 16384 + 7);
		if (memcmp(r.body + r.body_len - 7, "intact\n", 7))
			fail_msg("stream %d: %.8s", i, r.body + r.body_len - 7);
		resp_free(&r);
		assert_true(cli_read(c, "POST", &r));
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, 5000);
		assert_int_equal(r.body[4999], (char)('a' + 4999 % 26));
		resp_free(&r);
	}
	struct snapshot s = snap(x);
	assert_true(s.drains >= 1);
	cli_close(c);
	srv_stop(x);
}

static void small_limits(struct http_server_config *cfg)
{
	cfg->max_inflight = 2;
	cfg->max_conns = 3;
	cfg->retry_after_s = 7;
}

static void test_overload(void **state)
{
	struct srv *x = srv_start(small_limits);
	struct cli *a = cli_open(x), *b = cli_open(x), *c = cli_open(x);
	struct resp r;
	cli_send(a, GET("/slow"));
	cli_send(b, GET("/slow"));
	sleep_ms(50);
	cli_send(c, GET("/hello"));
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 429);
	assert_non_null(strstr(r.head, "Retry-After: 7\r\n"));
	assert_true(r.keep_alive);
	resp_free(&r);
	/* a fourth connection is over max_conns */
	struct cli *d = cli_open(x);
	assert_true(cli_read(d, "GET", &r));
	assert_int_equal(r.status, 503);
	resp_free(&r);
	expect_clean_eof(d);
	cli_close(d);
	assert_true(cli_read(a, "GET", &r));
	assert_int_equal(r.status, 200);
	resp_free(&r);
	assert_true(cli_read(b, "GET", &r));
	assert_int_equal(r.status, 200);
	resp_free(&r);
	cli_send(c, GET("/hello"));
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 200);
	resp_free(&r);
	struct snapshot s = snap(x);
	assert_int_equal(s.st.rejected_requests, 1);
	assert_int_equal(s.st.rejected_conns, 1);
	cli_close(a);
	cli_close(b);
	cli_close(c);
	srv_stop(x);
}

static void test_many_connections(void **state)
{
	struct srv *x = srv_start(NULL);
	enum { N = 300 };
	struct cli **cs = xcalloc(N, sizeof *cs);
	for (int i = 0; i < N; i++) {
		cs[i] = cli_open(x);
		cli_send(cs[i], GET("/hello"));
	}
	for (int i = 0; i < N; i++) {
		struct resp r;
		assert_true(cli_read(cs[i], "GET", &r));
		assert_int_equal(r.status, 200);
		resp_free(&r);
	}
	struct snapshot s = snap(x);
	assert_int_equal(s.st.conns, N);
	/* idle connections hold no buffers: the pools stay small */
	assert_true(s.st.pooled_bytes <= 64u * (16384 * 2 + 8192));
	for (int i = 0; i < N; i++)
		cli_close(cs[i]);
	free(cs);
	srv_stop(x);
}

static void test_stalled_reader(void **state)
{
	struct srv *x = srv_start(short_timeouts);
	struct cli *stalled = cli_open(x);
	int small = 4096;
	setsockopt(stalled->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	cli_send(stalled, GET("/big"));
	sleep_ms(50);
	/* others are served meanwhile */
	struct cli *c = cli_open(x);
	for (int i = 0; i < 20; i++) {
		struct resp r;
		cli_send(c, GET("/hello"));
		assert_true(cli_read(c, "GET", &r));
		assert_int_equal(r.status, 200);
		resp_free(&r);
	}
	/* the stalled one hits the write timeout */
	struct snapshot s;
	for (int i = 0; i < 200; i++) {
		s = snap(x);
		if (s.st.timeouts >= 1)
			break;
		sleep_ms(10);
	}
	assert_true(s.st.timeouts >= 1);
	cli_close(stalled);
	cli_close(c);
	srv_stop(x);
}

static void shutdown_done(struct http_server *h, void *arg)
{
	struct srv *x = arg;
	x->shutdown_done++;
}

static void start_shutdown(struct srv *x, void *arg)
{
	http_server_shutdown(x->http, 2000, shutdown_done, x);
}

static void test_graceful_shutdown(void **state)
{
	struct srv *x = srv_start(NULL);
	struct cli *idle = cli_open(x), *busy = cli_open(x);
	struct resp r;
	cli_send(idle, GET("/hello"));
	assert_true(cli_read(idle, "GET", &r));
	resp_free(&r);
	cli_send(busy, GET("/slow"));
	sleep_ms(50);
	on_loop(x, start_shutdown, NULL);
	expect_clean_eof(idle);
	assert_true(cli_read(busy, "GET", &r));
	assert_int_equal(r.status, 200);
	assert_false(r.keep_alive);
	resp_free(&r);
	expect_clean_eof(busy);
	struct snapshot s;
	for (int i = 0; i < 100; i++) {
		s = snap(x);
		if (s.shutdown_done)
			break;
		sleep_ms(10);
	}
	assert_int_equal(s.shutdown_done, 1);
	/* no longer accepting */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(x->port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	cli_close(idle);
	cli_close(busy);
	srv_stop(x);
}

static void test_raw_upgrade(void **state)
{
	struct srv *x = srv_start(NULL);
	struct cli *c = cli_open(x);
	struct resp r;
	cli_send(c, "GET /raw HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\nearly");
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 101);
	assert_non_null(strstr(r.head, "Upgrade: SPDY/3.1\r\n"));
	resp_free(&r);
	while (c->len < 5)
		assert_true(cli_fill(c) > 0);
	assert_memory_equal(c->buf, "early", 5);
	cli_consume(c, 5);
	cli_send(c, "ping");
	while (c->len < 4)
		assert_true(cli_fill(c) > 0);
	assert_memory_equal(c->buf, "ping", 4);
	struct snapshot s = snap(x);
	assert_int_equal(s.st.conns, 0);  /* no longer the server's */
	cli_close(c);
	for (int i = 0; i < 100; i++) {
		s = snap(x);
		if (s.raw_closed)
			break;
		sleep_ms(10);
	}
	assert_int_equal(s.raw_closed, 1);
	srv_stop(x);
}

/* Reads one WebSocket frame from the server (unmasked). */
static bool ws_read(struct cli *c, struct ws_parser *p, struct ws_event *ev)
{
	for (;;) {
		long n = ws_parser_feed(p, (const uint8_t *)c->buf, c->len, ev);
		assert_true(n >= 0);
		cli_consume(c, (size_t)n);
		if (ev->kind != WS_EV_NONE)
			return true;
		if (cli_fill(c) <= 0)
			return false;
	}
}

static void ws_send_frame(struct cli *c, bool fin, int op, const void *data, size_t len)
{
	struct kc_str f = KC_STR_INIT;
	static const uint8_t mask[4] = { 1, 2, 3, 4 };
	ws_frame_append(&f, fin, op, data, len, mask);
	cli_sendn(c, f.buf, f.len);
	kc_str_free(&f);
}

static void test_websocket(void **state)
{
	struct srv *x = srv_start(NULL);
	struct cli *c = cli_open(x);
	struct resp r;
	cli_send(c, "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
		    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Protocol: base64.channel.k8s.io, v4.channel.k8s.io\r\n\r\n");
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 101);
	assert_non_null(strstr(r.head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	assert_non_null(strstr(r.head, "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n"));
	resp_free(&r);

	struct ws_parser p;
	ws_parser_init(&p, false, 1 << 20, 1 << 20);
	struct ws_event ev;
	ws_send_frame(c, true, WS_OP_TEXT, "hi there", 8);
	assert_true(ws_read(c, &p, &ev));
	assert_int_equal(ev.kind, WS_EV_MESSAGE);
	assert_int_equal(ev.opcode, WS_OP_TEXT);
	assert_int_equal(ev.len, 8);
	assert_memory_equal(ev.data, "hi there", 8);
	/* fragmented binary with a ping in the middle */
	ws_send_frame(c, false, WS_OP_BINARY, "\x01\x02", 2);
	ws_send_frame(c, true, WS_OP_PING, "p!", 2);
	ws_send_frame(c, true, WS_OP_CONT, "\x03", 1);
	assert_true(ws_read(c, &p, &ev));
	assert_int_equal(ev.kind, WS_EV_PONG);
	assert_memory_equal(ev.data, "p!", 2);
	assert_true(ws_read(c, &p, &ev));
	assert_int_equal(ev.kind, WS_EV_MESSAGE);
	assert_int_equal(ev.opcode, WS_OP_BINARY);
	assert_int_equal(ev.len, 3);
	assert_memory_equal(ev.data, "\x01\x02\x03", 3);
	/* the server closes on request; we answer the close */
	ws_send_frame(c, true, WS_OP_TEXT, "close", 5);
	assert_true(ws_read(c, &p, &ev));
	assert_int_equal(ev.kind, WS_EV_CLOSE);
	assert_int_equal(ev.close_code, 4000);
	assert_memory_equal(ev.data, "bye", 3);
	ws_send_frame(c, true, WS_OP_CLOSE, "\x0f\xa0", 2);
	expect_clean_eof(c);
	ws_parser_free(&p);
	cli_close(c);
	struct snapshot s;
	for (int i = 0; i < 100; i++) {
		s = snap(x);
		if (s.close_notes)
			break;
		sleep_ms(10);
	}
	assert_int_equal(s.close_notes, 1);

	/* client-initiated close, and a protocol error (unmasked frame) */
	c = cli_open(x);
	cli_send(c, "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
		    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n");
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 101);
	assert_null(strstr(r.head, "Sec-WebSocket-Protocol"));
	resp_free(&r);
	ws_parser_init(&p, false, 1 << 20, 1 << 20);
	cli_sendn(c, "\x81\x02hi", 4);
	assert_true(ws_read(c, &p, &ev));
	assert_int_equal(ev.kind, WS_EV_CLOSE);
	assert_int_equal(ev.close_code, 1002);
	expect_clean_eof(c);
	ws_parser_free(&p);
	cli_close(c);

	/* bad handshakes get an answer and the connection stays usable */
	c = cli_open(x);
	cli_send(c, "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
		    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n" GET("/hello"));
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 400);
	resp_free(&r);
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 200);
	resp_free(&r);
	cli_close(c);
	c = cli_open(x);
	cli_send(c, "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
		    "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n");
	assert_true(cli_read(c, "GET", &r));
	assert_int_equal(r.status, 426);
	assert_non_null(strstr(r.head, "Sec-WebSocket-Version: 13\r\n"));
	resp_free(&r);
	cli_close(c);
	srv_stop(x);
}

/* Closing the server while a handler holds a request: on_close, then the request can still be
 * finished (the reply goes nowhere) and everything is freed (ASan checks). */
static void test_close_with_held_request(void **state)
{
	struct srv *x = srv_start(NULL);
	struct cli *c = cli_open(x);
	cli_send(c, GET("/hold"));
	struct snapshot s;
	for (int i = 0; i < 100; i++) {
		s = snap(x);
		if (s.st.inflight == 1)
			break;
		sleep_ms(10);
	}
	assert_int_equal(s.st.inflight, 1);
	loop_stop(x->loop);
	pthread_join(x->th, NULL);
	assert_int_equal(x->held_closes, 1);
	assert_int_equal(x->held_result, -KC_ECLOSED);
	assert_int_equal(x->held_idlen, 0);
	expect_clean_eof(c);
	cli_close(c);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x);
}

static uint16_t reuse_port;

static void reuse(struct http_server_config *cfg)
{
	cfg->reuseport = true;
	cfg->port = reuse_port;
}

/* Two loop threads serve one port through SO_REUSEPORT. */
static void test_reuseport(void **state)
{
	reuse_port = 0;
	struct srv *a = srv_start(reuse);
	reuse_port = a->port;
	struct srv *b = srv_start(reuse);
	assert_int_equal(a->port, b->port);
	for (int i = 0; i < 40; i++) {
		struct cli *c = cli_open(a);
		struct resp r;
		cli_send(c, GET("/hello"));
		assert_true(cli_read(c, "GET", &r));
		assert_int_equal(r.status, 200);
		resp_free(&r);
		cli_close(c);
	}
	struct snapshot sa = snap(a), sb = snap(b);
	assert_int_equal(sa.st.requests + sb.st.requests, 40);
	srv_stop(a);
	srv_stop(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_streaming_and_watch),
		cmocka_unit_test(test_stream_with_pipelined),
		cmocka_unit_test(test_overload),
		cmocka_unit_test(test_many_connections),
		cmocka_unit_test(test_stalled_reader),
		cmocka_unit_test(test_graceful_shutdown),
		cmocka_unit_test(test_raw_upgrade),
		cmocka_unit_test(test_websocket),
		cmocka_unit_test(test_reuseport),
		cmocka_unit_test(test_close_with_held_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
