/* DESIGN: an HTTP/1.1 server owned by one loop thread; nothing here is shared between threads.
 *
 * Objects: the server owns a listening socket, the list of live connections, and per-server
 * pools of read buffers, output buffers and request contexts. A connection (struct conn) owns
 * its transport, one loop_io and one timer. While it waits for a request it holds no buffer at
 * all, so an idle keep-alive connection costs the conn struct plus the transport; buffers are
 * taken from the pools when bytes arrive and returned when the connection is idle again, so the
 * steady state allocates nothing per request.
 *
 * A connection processes one request at a time. conn_run() parses heads from the read buffer
 * (rbuf[rpos..rlen)), reads bodies (Content-Length, or chunked decoded in place right after the
 * head), then hands the request to the handler. Responses given during the handler call are
 * appended to the output buffer and sent together when the run ends (one send for a batch of
 * pipelined responses); responses given later are sent at once. Between the head and the end of
 * the request, the parsed head points into rbuf, so rbuf is never moved while a request is held
 * (the head is parsed again when reading the body moved it).
 *
 * Timeouts use one lazily re-armed timer per connection: rd_deadline (idle, header, body or
 * linger, depending on the state) and wr_deadline (output pending without progress). Moving a
 * deadline later is a store; the timer re-arms itself when it fires early.
 *
 * Re-entrancy: user callbacks (handler, on_drain, on_close, upgrade) are called only from loop
 * callbacks, never from inside an http_* call; work that an API call discovers (more pipelined
 * requests after an async response, a close to notify) goes to the server's deferred list, run
 * from a zero-delay timer. c->busy guards the connection against being freed while one of its
 * callbacks runs; a closed connection whose request is still held by a handler stays allocated
 * (a "zombie", with its rbuf) until the handler finishes the request.
 *
 * Closing after an error or "Connection: close" is a lingering close: send, shut down the write
 * side, read and discard for a while, then close, so the client sees the response rather than a
 * reset. */
#include "net/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/str.h"

#define RBUF_SIZE 16384u          /* pooled read buffer */
#define OBUF_SIZE 16384u          /* pooled output buffer; bigger ones are freed, not pooled */
#define POOL_MAX 64u              /* per pool and server */
#define OUT_HIGH (256u * 1024)    /* stop processing pipelined requests over this much output */
#define ARENA_INLINE 1024u
#define ACCEPT_BATCH 64
#define LINGER_MAX_BYTES (256u * 1024)
#define REJECT_SLACK 64u          /* connections being answered 503 beyond max_conns */

enum conn_state {
	C_IDLE = 0,  /* between requests, nothing of the next one buffered */
	C_HEAD,      /* part of a head buffered */
	C_BODY,      /* head parsed, reading the body */
	C_HANDLER,   /* the request is with the handler */
	C_LINGER,    /* write side shut down, discarding input before closing */
};

enum req_phase {
	RQ_FREE = 0,
	RQ_READING,    /* head/body being read */
	RQ_HANDLER,    /* with the handler, nothing sent */
	RQ_STREAMING,  /* streamed response begun */
	RQ_UPGRADE,    /* 101 queued, waiting to hand over */
};

enum {
	DEFER_RUN = 1,     /* process buffered requests */
	DEFER_DRAIN = 2,   /* notify on_drain */
	DEFER_CLOSE = 4,   /* notify on_close */
	DEFER_UPGRADE = 8, /* try the upgrade hand-over */
};

struct arena_block {
	struct arena_block *next;
	char data[];
};

struct req_ctx {
	struct http_req req;           /* first: handlers see this */
	struct conn *conn;             /* outlives the request (see zombies) */
	enum req_phase phase;
	bool counted;                  /* counts toward inflight */
	bool head_method;
	bool gone;                     /* client went away; on_close due or done */
	bool close_notified;
	bool congested;                /* a write reported CONGESTED; on_drain due below low water */
	bool chunked_out;
	bool no_body;                  /* HEAD or 204/304: stream writes are dropped */
	void (*on_drain)(struct http_req *, void *);
	void (*on_close)(struct http_req *, void *);
	void *notify_arg;
	http_upgrade_cb upgrade_cb;
	void *upgrade_arg;
	struct kc_str rhdrs;           /* response headers added by the handler */
	struct arena_block *blocks;
	size_t arena_used;
	char peer_str[64];
	_Alignas(16) char arena[ARENA_INLINE];
	struct http_header headers[];  /* srv->limits.max_headers */
};

struct conn {
	struct http_server *srv;       /* NULL once the server was closed (zombie only) */
	struct kc_list link;           /* srv->conns while the transport is open, then
					* srv->zombies while a handler holds the request */
	struct kc_list defer_link;     /* srv->deferred while defer != 0 */
	struct transport *t;           /* NULL once closed */
	struct loop_io io;
	struct loop_timer timer;
	uint64_t rd_deadline, wr_deadline, timer_due;
	enum conn_state state;
	unsigned defer;
	unsigned busy;                 /* callbacks on the stack: do not free */
	unsigned rd_want, wr_want;     /* what the transport waits for, 0 when not waiting */
	bool first_req;
	bool peer_eof;                 /* the client will send nothing more (or cannot be reached) */
	bool rdhup;                    /* the client shut down its side while a request was held */
	bool closing;                  /* no more requests: close once the output is sent */
	bool can_read;                 /* reading might return data without waiting */
	bool in_run;
	bool reject;                   /* over max_conns: only a 503 is sent */
	bool counted;                  /* in srv->nconns (or nreject) */
	bool sent_continue;

	char *rbuf;
	size_t rpos, rlen, rcap;
	unsigned rgen, parsed_gen;     /* rgen changes whenever rbuf moves */
	size_t head_len, body_end;     /* relative to rpos */
	size_t req_len;                /* bytes of the dispatched request from rpos */
	struct http_chunked chunk;
	size_t linger_bytes;

	char *obuf;
	size_t ooff, olen, ocap;

	struct req_ctx *rx;            /* the current request, read or held */
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} peer;
};

struct http_server {
	struct loop *loop;
	struct http_server_config cfg;
	struct http_limits lim;
	int lfd;
	uint16_t port;
	struct loop_io lio;
	struct loop_timer accept_timer;  /* resumes accepting after EMFILE */
	struct loop_timer defer_timer;
	struct loop_timer grace_timer;
	struct kc_list conns;
	struct kc_list deferred;
	struct kc_list zombies;          /* closed conns whose request a handler holds */
	unsigned nconns, nreject;
	unsigned inflight;
	bool stopping;
	bool done_called;
	void (*done)(struct http_server *, void *);
	void *done_arg;
	uint64_t accepted, requests, rejected_conns, rejected_requests, timeouts;
	uint64_t last_accept_warn;

	char *rpool[POOL_MAX];
	unsigned nrpool;
	char *opool[POOL_MAX];
	unsigned nopool;
	struct req_ctx *qpool[POOL_MAX];
	unsigned nqpool;
	size_t rx_size;

	uint64_t date_sec;
	char date[64];                   /* "Date: ...\r\n" */
	size_t date_len;
};

static void conn_run(struct conn *c);
static void conn_close(struct conn *c);
static void conn_update(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_maybe_free(struct conn *c);
static void defer(struct conn *c, unsigned what);
static void req_finish(struct req_ctx *rx);

static struct req_ctx *ctx_of(const struct http_req *req)
{
	/* Handlers get const views too; the context behind them is ours to change. */
	return (struct req_ctx *)(void *)((uintptr_t)req - offsetof(struct req_ctx, req));
}

/* ---- pools ---- */

static char *rbuf_get(struct http_server *s)
{
	if (s && s->nrpool)
		return s->rpool[--s->nrpool];
	return xmalloc(RBUF_SIZE);
}

static void rbuf_put(struct http_server *s, char *p, size_t cap)
{
	if (s && cap == RBUF_SIZE && s->nrpool < POOL_MAX)
		s->rpool[s->nrpool++] = p;
	else
		free(p);
}

static char *obuf_get(struct http_server *s)
{
	if (s && s->nopool)
		return s->opool[--s->nopool];
	return xmalloc(OBUF_SIZE);
}

static void obuf_put(struct http_server *s, char *p, size_t cap)
{
	if (s && cap == OBUF_SIZE && s->nopool < POOL_MAX)
		s->opool[s->nopool++] = p;
	else
		free(p);
}

static struct req_ctx *ctx_get(struct http_server *s, struct conn *c)
{
	struct req_ctx *rx;
	if (s->nqpool) {
		rx = s->qpool[--s->nqpool];
	} else {
		rx = xmalloc(s->rx_size);
		kc_str_init(&rx->rhdrs);
	}
	struct kc_str keep = rx->rhdrs;
	memset(rx, 0, offsetof(struct req_ctx, arena));
	rx->rhdrs = keep;
	kc_str_reset(&rx->rhdrs);
	rx->conn = c;
	rx->phase = RQ_READING;
	return rx;
}

/* s may be NULL (server closed): the context is freed. */
static void ctx_put(struct http_server *s, struct req_ctx *rx)
{
	while (rx->blocks) {
		struct arena_block *b = rx->blocks;
		rx->blocks = b->next;
		free(b);
	}
	rx->phase = RQ_FREE;
	if (s && s->nqpool < POOL_MAX && rx->rhdrs.cap <= 4096) {
		s->qpool[s->nqpool++] = rx;
		return;
	}
	kc_str_free(&rx->rhdrs);
	free(rx);
}

/* ---- small formatting helpers ---- */

static size_t fmt_u64(char *out, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static size_t fmt_hex(char *out, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = digits[v & 15];
		v >>= 4;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static void update_date(struct http_server *s)
{
	struct kc_clock *clk = loop_clock(s->loop);
	uint64_t sec = clk->wall_ns(clk) / 1000000000u;
	if (sec == s->date_sec && s->date_len)
		return;
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	int n = snprintf(s->date, sizeof s->date, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
			 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
	s->date_len = n > 0 && (size_t)n < sizeof s->date ? (size_t)n : 0;
	s->date_sec = sec;
}

/* ---- output buffer ---- */

static size_t out_pending(const struct conn *c)
{
	return c->olen - c->ooff;
}

/* Makes room for n more bytes and returns where to write them. */
static char *out_reserve(struct conn *c, size_t n)
{
	if (!c->obuf) {
		c->obuf = obuf_get(c->srv);
		c->ocap = OBUF_SIZE;
		c->ooff = c->olen = 0;
	}
	if (c->ocap - c->olen >= n)
		return c->obuf + c->olen;
	if (c->ooff) {
		memmove(c->obuf, c->obuf + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->ooff = 0;
		if (c->ocap - c->olen >= n)
			return c->obuf + c->olen;
	}
	size_t cap = kc_grow_cap(c->ocap, c->olen + n, 1);
	c->obuf = xrealloc(c->obuf, cap);
	c->ocap = cap;
	return c->obuf + c->olen;
}

static void out_add(struct conn *c, const void *p, size_t n)
{
	if (!n)
		return;
	memcpy(out_reserve(c, n), p, n);
	c->olen += n;
}

static void out_release_if_empty(struct conn *c)
{
	if (c->obuf && c->ooff == c->olen) {
		obuf_put(c->srv, c->obuf, c->ocap);
		c->obuf = NULL;
		c->ocap = c->olen = c->ooff = 0;
	}
}

static void rbuf_release_if_empty(struct conn *c)
{
	if (c->rbuf && c->rpos == c->rlen && !c->rx) {
		rbuf_put(c->srv, c->rbuf, c->rcap);
		c->rbuf = NULL;
		c->rcap = c->rlen = c->rpos = 0;
		c->rgen++;
	}
}

/* ---- timers ---- */

static void conn_arm_timer(struct conn *c)
{
	uint64_t d = c->rd_deadline;
	if (c->wr_deadline && (!d || c->wr_deadline < d))
		d = c->wr_deadline;
	if (!d || !c->t)
		return;
	if (loop_timer_active(&c->timer) && c->timer_due <= d)
		return;
	struct loop *l = c->srv->loop;
	uint64_t now = loop_now_ms(l);
	loop_timer_start(l, &c->timer, d > now ? d - now : 0);
	c->timer_due = d;
}

static uint64_t deadline_in(struct conn *c, unsigned ms)
{
	return loop_now_ms(c->srv->loop) + ms;
}

/* ---- responses ---- */

static bool status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

enum body_mode { BM_LENGTH, BM_CHUNKED, BM_NONE };

/* Appends a status line and headers. */
static void write_head(struct conn *c, struct req_ctx *rx, int status, const char *ctype,
		       enum body_mode mode, uint64_t len, bool close)
{
	struct http_server *s = c->srv;
	const char *reason = http_reason(status);
	size_t rlen = strlen(reason), clen = ctype ? strlen(ctype) : 0;
	bool v10_keep = !close && rx && rx->req.head.version_minor == 0;
	size_t extra = rx ? rx->rhdrs.len : 0;
	update_date(s);
	size_t need = 13 + rlen + 2 + s->date_len + (clen ? 16 + clen : 0) + 40 + 30 + 26 + extra + 2;
	char *p = out_reserve(c, need), *start = p;
	memcpy(p, "HTTP/1.1 ", 9);
	p += 9;
	p += fmt_u64(p, (uint64_t)(status % 1000));
	*p++ = ' ';
	memcpy(p, reason, rlen);
	p += rlen;
	*p++ = '\r';
	*p++ = '\n';
	memcpy(p, s->date, s->date_len);
	p += s->date_len;
	if (clen) {
		memcpy(p, "Content-Type: ", 14);
		p += 14;
		memcpy(p, ctype, clen);
		p += clen;
		*p++ = '\r';
		*p++ = '\n';
	}
	if (mode == BM_LENGTH && status_has_body(status)) {
		memcpy(p, "Content-Length: ", 16);
		p += 16;
		p += fmt_u64(p, len);
		*p++ = '\r';
		*p++ = '\n';
	} else if (mode == BM_CHUNKED) {
		memcpy(p, "Transfer-Encoding: chunked\r\n", 28);
		p += 28;
	}
	if (close) {
		memcpy(p, "Connection: close\r\n", 19);
		p += 19;
	} else if (v10_keep) {
		memcpy(p, "Connection: keep-alive\r\n", 24);
		p += 24;
	}
	if (extra) {
		memcpy(p, rx->rhdrs.buf, extra);
		p += extra;
	}
	*p++ = '\r';
	*p++ = '\n';
	c->olen += (size_t)(p - start);
}

/* Whether this response must be the last on the connection. */
static bool must_close(struct conn *c, struct req_ctx *rx)
{
	return c->closing || !rx->req.head.keep_alive || c->srv->stopping;
}

/* Answers an error found before the handler (bad head, limits, timeouts) and closes after it. */
static void respond_error(struct conn *c, int status)
{
	const char *reason = http_reason(status);
	char body[96];
	int n = snprintf(body, sizeof body, "%d %s\n", status, reason);
	write_head(c, NULL, status, "text/plain; charset=utf-8", BM_LENGTH, (uint64_t)n, true);
	out_add(c, body, (size_t)n);
	c->closing = true;
	c->rd_deadline = 0;
	if (c->rx) {
		ctx_put(c->srv, c->rx);
		c->rx = NULL;
	}
	c->state = C_IDLE;
}

static void respond_429(struct conn *c, bool keep)
{
	struct http_server *s = c->srv;
	static const char body[] = "429 Too Many Requests\n";
	unsigned ra = s->cfg.retry_after_s ? s->cfg.retry_after_s : 1;
	char line[48];
	int n = snprintf(line, sizeof line, "Retry-After: %u\r\n", ra);
	struct req_ctx *rx = c->rx;
	kc_str_reset(&rx->rhdrs);
	kc_str_add(&rx->rhdrs, line, (size_t)n);
	bool close = !keep || must_close(c, rx);
	write_head(c, rx, 429, "text/plain; charset=utf-8", BM_LENGTH, sizeof body - 1, close);
	if (!rx->head_method)
		out_add(c, body, sizeof body - 1);
	if (close)
		c->closing = true;
	s->rejected_requests++;
}

static const char *req_strdup(struct http_req *req, const char *s)
{
	if (!*s)
		return "";
	size_t n = strlen(s);
	return memcpy(http_req_alloc(req, n + 1), s, n + 1);
}

/* ---- closing ---- */

static void notify_gone(struct conn *c)
{
	struct req_ctx *rx = c->rx;
	if (rx && (rx->phase == RQ_HANDLER || rx->phase == RQ_STREAMING) && !rx->gone) {
		rx->gone = true;
		defer(c, DEFER_CLOSE);
	}
}

/* Takes c out of the server's connection count. */
static void conn_uncount(struct conn *c)
{
	struct http_server *s = c->srv;
	if (!s || !c->counted)
		return;
	if (c->reject)
		s->nreject--;
	else
		s->nconns--;
	c->counted = false;
	kc_list_del(&c->link);
	if (s->stopping && !s->nconns && !s->nreject && !loop_timer_active(&s->defer_timer))
		loop_timer_start(s->loop, &s->defer_timer, 0);
}

/* Closes the transport. The conn itself is freed unless a handler still holds its request, work
 * is deferred for it, or one of its callbacks is on the stack. */
static void conn_close(struct conn *c)
{
	struct http_server *s = c->srv;
	if (!c->t) {
		conn_maybe_free(c);
		return;
	}
	if (s) {
		loop_io_stop(s->loop, &c->io);
		loop_timer_stop(s->loop, &c->timer);
	}
	struct req_ctx *held = c->rx;
	if (held && (held->phase == RQ_HANDLER || held->phase == RQ_STREAMING)) {
		/* The handler keeps the request, the transport goes: keep its identity strings. */
		struct http_req *req = &held->req;
		req->sni = req_strdup(req, c->t->sni);
		req->peer_cn = req_strdup(req, c->t->peer_cn);
		req->peer_groups = req_strdup(req, c->t->peer_groups);
	}
	if (c->state == C_LINGER)
		c->t->ops->free(c->t);  /* already shut down */
	else
		transport_close(c->t);
	c->t = NULL;
	conn_uncount(c);
	c->rd_deadline = c->wr_deadline = 0;
	if (c->rx && c->rx->phase == RQ_READING) {
		ctx_put(s, c->rx);
		c->rx = NULL;
	}
	if (c->obuf) {
		c->ooff = c->olen = 0;
		out_release_if_empty(c);
	}
	if (c->rx) {
		/* A handler holds the request: keep c (and the rbuf the request points into). */
		if (s)
			kc_list_push_back(&s->zombies, &c->link);
		if (c->rx->phase == RQ_UPGRADE)
			defer(c, DEFER_UPGRADE);
		else
			notify_gone(c);
		return;
	}
	conn_maybe_free(c);
}

static void conn_free(struct conn *c)
{
	struct http_server *s = c->srv;
	kc_list_del(&c->defer_link);
	if (c->obuf)
		obuf_put(s, c->obuf, c->ocap);
	if (c->rbuf)
		rbuf_put(s, c->rbuf, c->rcap);
	free(c);
}

static void conn_maybe_free(struct conn *c)
{
	if (!c->t && !c->rx && !c->busy && !c->defer)
		conn_free(c);
}

/* Output sent and no more requests: shut down the write side and drain the client. */
static void conn_start_linger(struct conn *c)
{
	struct http_server *s = c->srv;
	if (c->peer_eof || !s) {
		conn_close(c);
		return;
	}
	if (c->t->ops->shutdown)
		c->t->ops->shutdown(c->t);
	if (shutdown(c->t->fd, SHUT_WR) < 0) {
		conn_close(c);
		return;
	}
	c->state = C_LINGER;
	c->linger_bytes = 0;
	c->rd_deadline = deadline_in(c, s->cfg.linger_ms);
	c->wr_deadline = 0;
	if (c->rbuf) {
		c->rpos = c->rlen;
		rbuf_release_if_empty(c);
	}
	out_release_if_empty(c);
	conn_update(c);
}

static void linger_read(struct conn *c)
{
	char buf[4096];
	for (;;) {
		ssize_t r = recv(c->t->fd, buf, sizeof buf, 0);
		if (r > 0) {
			c->linger_bytes += (size_t)r;
			if (c->linger_bytes > LINGER_MAX_BYTES)
				break;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	conn_close(c);
}

/* ---- sending ---- */

static void conn_after_output(struct conn *c);

/* Sends what the transport takes. May close the connection (then c->t == NULL). Never calls
 * user callbacks. */
static void conn_flush(struct conn *c)
{
	bool progress = false;
	while (c->t && c->ooff < c->olen) {
		unsigned want = 0;
		ssize_t r = transport_write(c->t, c->obuf + c->ooff, c->olen - c->ooff, &want);
		if (r > 0) {
			c->ooff += (size_t)r;
			progress = true;
			continue;
		}
		if (r == -EAGAIN) {
			c->wr_want = want ? want : EPOLLOUT;
			break;
		}
		log_debug("http write failed peer_fd=%d err=%s", c->t->fd, kc_strerror((int)r));
		c->peer_eof = true;
		conn_close(c);
		return;
	}
	if (!c->t)
		return;
	if (c->ooff == c->olen) {
		c->ooff = c->olen = 0;
		c->wr_want = 0;
		c->wr_deadline = 0;
	} else if (progress || !c->wr_deadline) {
		c->wr_deadline = deadline_in(c, c->srv->cfg.write_timeout_ms);
	}
	conn_after_output(c);
}

/* Consequences of output having been sent: close, hand over an upgrade, drain notifications. */
static void conn_after_output(struct conn *c)
{
	struct req_ctx *rx = c->rx;
	if (out_pending(c))
		goto check_drain;
	if (rx && rx->phase == RQ_UPGRADE) {
		defer(c, DEFER_UPGRADE);
		return;
	}
	if (c->closing && !rx && c->state != C_LINGER) {
		conn_start_linger(c);
		return;
	}
check_drain:
	if (rx && rx->congested && out_pending(c) <= c->srv->cfg.stream_high_water / 2)
		defer(c, DEFER_DRAIN);
}

/* ---- request contexts ---- */

void *http_req_alloc(struct http_req *req, size_t n)
{
	struct req_ctx *rx = ctx_of(req);
	n = (n + 15) & ~(size_t)15;
	if (ARENA_INLINE - rx->arena_used >= n) {
		void *p = rx->arena + rx->arena_used;
		rx->arena_used += n;
		return p;
	}
	struct arena_block *b = xmalloc(sizeof *b + 16 + n);
	b->next = rx->blocks;
	rx->blocks = b;
	uintptr_t a = ((uintptr_t)b->data + 15) & ~(uintptr_t)15;
	return (void *)a;
}

/* Fills the handler-facing fields. Returns 0 or an HTTP status to answer instead. */
static int req_prepare(struct conn *c, struct req_ctx *rx, const char *body, size_t body_len)
{
	struct http_req *req = &rx->req;
	struct http_head *h = &req->head;
	char *m = (char *)(uintptr_t)h->method.p;
	char *tg = (char *)(uintptr_t)h->target.p;
	/* The head is parsed and will not be parsed again: terminate strings in place (each is
	 * followed by a separator that is no longer needed). */
	m[h->method.n] = '\0';
	tg[h->target.n] = '\0';
	for (unsigned i = 0; i < h->nheaders; i++) {
		((char *)(uintptr_t)h->headers[i].name.p)[h->headers[i].name.n] = '\0';
		((char *)(uintptr_t)h->headers[i].value.p)[h->headers[i].value.n] = '\0';
	}
	req->method = m;
	req->target = tg;
	rx->head_method = h->method.n == 4 && memcmp(m, "HEAD", 4) == 0;

	const char *pstart = tg;
	size_t tn = h->target.n;
	const char *q = memchr(tg, '?', tn);
	size_t plen = q ? (size_t)(q - tg) : tn;
	req->query = q ? q + 1 : tg + tn;
	if (tg[0] == '*') {
		req->path = "*";
		goto path_done;
	}
	if (tg[0] != '/') {
		const char *sep = memmem(tg, plen, "://", 3);
		if (!sep) {
			req->path = "";  /* authority-form (CONNECT) */
			goto path_done;
		}
		const char *a = sep + 3, *end = tg + plen;
		while (a < end && *a != '/')
			a++;
		if (a == end) {
			req->path = "/";
			goto path_done;
		}
		pstart = a;
		plen = (size_t)(end - a);
	}
	char *path = http_req_alloc(req, plen + 1);
	long dn = http_percent_decode(path, pstart, plen, false);
	if (dn < 0 || memchr(path, '\0', (size_t)dn))
		return 400;
	path[dn] = '\0';
	/* Reject dot segments rather than resolving them: every layer sees the same path. */
	for (long i = 0; i < dn; i++) {
		if (path[i] != '.' || (i > 0 && path[i - 1] != '/'))
			continue;
		long e = i + 1;
		if (e < dn && path[e] == '.')
			e++;
		if (e == dn || path[e] == '/')
			return 400;
	}
	req->path = path;
path_done:
	req->body = body;
	req->body_len = body_len;
	req->peer = &c->peer.sa;
	req->sni = c->t->sni;
	req->peer_cn = c->t->peer_cn;
	req->peer_groups = c->t->peer_groups;
	req->peer_verified = c->t->peer_verified;
	return 0;
}

/* ---- reading requests ---- */

enum step { STEP_PROGRESS, STEP_NEED_DATA, STEP_STOP };

/* Hands the complete request at rpos (req_len bytes) to the handler. */
static enum step dispatch(struct conn *c, size_t req_len, const char *body, size_t body_len)
{
	struct http_server *s = c->srv;
	struct req_ctx *rx = c->rx;
	int st = req_prepare(c, rx, body, body_len);
	if (st) {
		respond_error(c, st);
		return STEP_STOP;
	}
	c->state = C_HANDLER;
	c->rd_deadline = 0;
	c->first_req = false;
	c->req_len = req_len;
	rx->phase = RQ_HANDLER;
	rx->counted = true;
	s->inflight++;
	s->requests++;
	if (c->rdhup)
		notify_gone(c);  /* pipelined before the client shut down its side */
	c->busy++;
	s->cfg.handler(&rx->req, s->cfg.handler_arg);
	c->busy--;
	if (!c->t) {
		conn_maybe_free(c);
		return STEP_STOP;
	}
	return c->state == C_HANDLER ? STEP_STOP : STEP_PROGRESS;
}

/* Parses the head at rpos. */
static enum step step_head(struct conn *c)
{
	struct http_server *s = c->srv;
	size_t avail = c->rlen - c->rpos;
	if (!c->rx)
		c->rx = ctx_get(s, c);
	struct req_ctx *rx = c->rx;
	long r = http_parse_request(c->rbuf + c->rpos, avail, &s->lim, rx->headers, &rx->req.head);
	if (r == 0)
		return STEP_NEED_DATA;
	if (r < 0) {
		respond_error(c, (int)-r);
		return STEP_STOP;
	}
	struct http_head *h = &rx->req.head;
	c->head_len = (size_t)r;
	c->parsed_gen = c->rgen;
	c->sent_continue = false;
	if (h->body == HTTP_BODY_LENGTH && h->content_length > s->lim.max_body_bytes) {
		respond_error(c, 413);
		return STEP_STOP;
	}
	if (h->body == HTTP_BODY_CHUNKED) {
		http_chunked_init(&c->chunk);
		c->body_end = c->head_len;
	}
	if (s->cfg.max_inflight && s->inflight >= s->cfg.max_inflight) {
		/* Keep the connection only if the whole request is already here to be skipped. */
		bool whole = h->body == HTTP_BODY_NONE ||
			     (h->body == HTTP_BODY_LENGTH && avail - c->head_len >= h->content_length);
		rx->head_method = h->method.n == 4 && memcmp(h->method.p, "HEAD", 4) == 0;
		respond_429(c, whole);
		if (whole && !c->closing) {
			c->rpos += c->head_len + (h->body == HTTP_BODY_LENGTH ? (size_t)h->content_length : 0);
			ctx_put(s, rx);
			c->rx = NULL;
			c->state = C_IDLE;
			c->rd_deadline = deadline_in(c, s->cfg.idle_timeout_ms);
			return STEP_PROGRESS;
		}
		ctx_put(s, rx);
		c->rx = NULL;
		c->state = C_IDLE;
		return STEP_STOP;
	}
	c->state = C_BODY;
	if (h->body != HTTP_BODY_NONE)
		c->rd_deadline = deadline_in(c, s->cfg.body_timeout_ms);
	return STEP_PROGRESS;
}

/* Re-parses the head when the buffer moved since it was parsed (pointers into it changed). */
static void reparse_if_moved(struct conn *c)
{
	if (c->parsed_gen == c->rgen)
		return;
	long r = http_parse_request(c->rbuf + c->rpos, c->head_len, &c->srv->lim, c->rx->headers,
				    &c->rx->req.head);
	kc_assert(r == (long)c->head_len);
	c->parsed_gen = c->rgen;
}

static void send_continue(struct conn *c)
{
	struct http_head *h = &c->rx->req.head;
	if (h->expect_continue && h->version_minor == 1 && !c->sent_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		out_add(c, cont, sizeof cont - 1);
		c->sent_continue = true;
	}
}

static enum step step_body(struct conn *c)
{
	struct http_head *h = &c->rx->req.head;
	size_t avail = c->rlen - c->rpos;
	if (h->body == HTTP_BODY_NONE) {
		reparse_if_moved(c);
		return dispatch(c, c->head_len, c->rbuf + c->rpos + c->head_len, 0);
	}
	if (h->body == HTTP_BODY_LENGTH) {
		size_t total = c->head_len + (size_t)h->content_length;
		if (avail < total) {
			send_continue(c);
			return STEP_NEED_DATA;
		}
		reparse_if_moved(c);
		return dispatch(c, total, c->rbuf + c->rpos + c->head_len, (size_t)h->content_length);
	}
	/* chunked: [head][decoded body][raw input...] from rpos */
	char *raw = c->rbuf + c->rpos + c->body_end;
	size_t rawn = avail - c->body_end, produced;
	uint64_t room = c->srv->lim.max_body_bytes;
	long r = http_chunked_decode(&c->chunk, raw, rawn, room, &produced);
	if (r < 0) {
		respond_error(c, (int)-r);
		return STEP_STOP;
	}
	size_t rest = rawn - (size_t)r;
	if (rest && (size_t)r != produced)
		memmove(raw + produced, raw + r, rest);
	c->rlen -= (size_t)r - produced;
	c->body_end += produced;
	if (!c->chunk.done) {
		send_continue(c);
		return STEP_NEED_DATA;
	}
	reparse_if_moved(c);
	return dispatch(c, c->body_end, c->rbuf + c->rpos + c->head_len, c->body_end - c->head_len);
}

/* How many bytes from rpos the buffer should hold to make progress (*target), and the most it
 * may grow to (*limit). */
static void read_target(struct conn *c, size_t *target, size_t *limit)
{
	struct http_server *s = c->srv;
	size_t avail = c->rlen - c->rpos;
	if (c->state == C_BODY && c->rx) {
		struct http_head *h = &c->rx->req.head;
		if (h->body == HTTP_BODY_LENGTH) {
			*target = *limit = c->head_len + (size_t)h->content_length;
			return;
		}
		/* chunked: head, decoded body so far, and room for what comes */
		*target = avail + RBUF_SIZE / 2;
		*limit = c->head_len + (size_t)s->lim.max_body_bytes + RBUF_SIZE;
		return;
	}
	*target = avail + 1;
	*limit = s->lim.max_head_bytes;
}

/* Reads once into rbuf. Returns > 0 when bytes arrived, 0 when none (would block, end of
 * stream: see peer_eof), -1 when the connection was closed. */
static int conn_read(struct conn *c)
{
	struct http_server *s = c->srv;
	if (!c->rbuf) {
		c->rbuf = rbuf_get(s);
		c->rcap = RBUF_SIZE;
		c->rpos = c->rlen = 0;
		c->rgen++;
	}
	if (c->rpos == c->rlen && c->rpos) {
		c->rpos = c->rlen = 0;
		c->rgen++;
	}
	if (c->rlen == c->rcap) {
		size_t target, limit;
		read_target(c, &target, &limit);
		if (c->rpos) {
			memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
			c->rlen -= c->rpos;
			c->rpos = 0;
			c->rgen++;
		}
		if (c->rlen == c->rcap) {
			size_t cap = c->rcap * 2 > target ? c->rcap * 2 : target;
			if (cap > limit)
				cap = limit;
			if (cap <= c->rcap) {
				/* Unreachable: the parser and decoder stop at their limits first. */
				respond_error(c, 413);
				return 0;
			}
			c->rbuf = xrealloc(c->rbuf, cap);
			c->rcap = cap;
			c->rgen++;
		}
	}
	size_t space = c->rcap - c->rlen;
	unsigned want = 0;
	ssize_t r = transport_read(c->t, c->rbuf + c->rlen, space, &want);
	if (r > 0) {
		c->rlen += (size_t)r;
		c->rd_want = 0;
		if ((size_t)r < space && !transport_pending(c->t))
			c->can_read = false;
		return 1;
	}
	c->can_read = false;
	if (r == 0) {
		c->peer_eof = true;
		return 0;
	}
	if (r == -EAGAIN) {
		c->rd_want = want ? want : EPOLLIN;
		return 0;
	}
	log_debug("http read failed fd=%d err=%s", c->t->fd, kc_strerror((int)r));
	c->peer_eof = true;
	conn_close(c);
	return -1;
}

static enum step conn_step(struct conn *c)
{
	size_t avail = c->rlen - c->rpos;
	switch (c->state) {
	case C_IDLE:
		if (!avail)
			return STEP_NEED_DATA;
		c->state = C_HEAD;
		if (!c->first_req)
			c->rd_deadline = deadline_in(c, c->srv->cfg.header_timeout_ms);
		/* fall through */
	case C_HEAD:
		return step_head(c);
	case C_BODY:
		return step_body(c);
	default:
		return STEP_STOP;
	}
}

/* Processes buffered requests and reads more while that makes progress. */
static void conn_run(struct conn *c)
{
	if (c->in_run || !c->t)
		return;
	c->in_run = true;
	c->busy++;
	while (c->t && !c->closing && c->state != C_HANDLER && c->state != C_LINGER &&
	       out_pending(c) < OUT_HIGH) {
		enum step st = conn_step(c);
		if (st == STEP_PROGRESS)
			continue;
		if (st == STEP_STOP)
			break;
		if (c->peer_eof) {
			/* End of stream: fine between requests; a truncated request gets no answer. */
			c->closing = true;
			if (c->rx && c->rx->phase == RQ_READING) {
				ctx_put(c->srv, c->rx);
				c->rx = NULL;
			}
			break;
		}
		int rr = c->can_read ? conn_read(c) : 0;
		if (rr > 0 || (rr == 0 && c->peer_eof))
			continue;
		break;
	}
	c->in_run = false;
	if (c->t) {
		conn_flush(c);
		if (c->t && c->closing && !c->rx && !out_pending(c) && c->state != C_LINGER)
			conn_start_linger(c);
	}
	c->busy--;
	if (c->t)
		conn_update(c);
	else
		conn_maybe_free(c);
}

/* Sets the epoll interest and timers for the current state; releases idle buffers. */
static void conn_update(struct conn *c)
{
	if (!c->t)
		return;
	uint32_t ev = 0;
	if (out_pending(c))
		ev |= c->wr_want ? c->wr_want : EPOLLOUT;
	switch (c->state) {
	case C_LINGER:
		ev |= EPOLLIN | EPOLLRDHUP;
		break;
	case C_HANDLER:
		if (!c->rdhup && !c->peer_eof)
			ev |= EPOLLRDHUP;
		break;
	default:
		if (!c->closing && !c->peer_eof && out_pending(c) < OUT_HIGH)
			ev |= c->rd_want ? c->rd_want : EPOLLIN;
		break;
	}
	if (c->state == C_IDLE && !c->rx) {
		rbuf_release_if_empty(c);
		if (!c->closing)
			out_release_if_empty(c);
	}
	int rc = loop_io_start(c->srv->loop, &c->io, ev);
	if (rc < 0) {
		log_warn("http epoll_ctl failed fd=%d err=%s", c->t->fd, kc_strerror(rc));
		conn_close(c);
		return;
	}
	conn_arm_timer(c);
}


/* ---- finishing requests ---- */

/* Sends queued output now unless a run is in progress (it sends at its end). */
static void conn_kick(struct conn *c)
{
	if (c->in_run || !c->t)
		return;
	c->busy++;
	conn_flush(c);
	c->busy--;
	if (c->t)
		conn_update(c);
}

/* The handler is done with rx: move on to the next request. */
static void req_finish(struct req_ctx *rx)
{
	struct conn *c = rx->conn;
	struct http_server *s = c->srv;
	if (rx->counted) {
		s->inflight--;
		rx->counted = false;
	}
	c->rx = NULL;
	ctx_put(s, rx);
	if (!c->t) {
		kc_list_del(&c->link);  /* off the zombie list */
		conn_maybe_free(c);
		return;
	}
	c->rpos += c->req_len;
	c->req_len = 0;
	c->state = C_IDLE;
	c->rd_deadline = deadline_in(c, s->cfg.idle_timeout_ms);
	if (c->in_run)
		return;
	c->busy++;
	conn_flush(c);
	if (c->t && c->state == C_IDLE && !c->closing &&
	    (c->rpos < c->rlen || transport_pending(c->t)))
		defer(c, DEFER_RUN);
	c->busy--;
	if (c->t)
		conn_update(c);
	else
		conn_maybe_free(c);
}

/* ---- deferred work ---- */

static void defer(struct conn *c, unsigned what)
{
	struct http_server *s = c->srv;
	if (!s)
		return;
	c->defer |= what;
	if (kc_list_empty(&c->defer_link))
		kc_list_push_back(&s->deferred, &c->defer_link);
	if (!loop_timer_active(&s->defer_timer))
		loop_timer_start(s->loop, &s->defer_timer, 0);
}

static void upgrade_handover(struct conn *c)
{
	struct req_ctx *rx = c->rx;
	struct http_server *s = c->srv;
	if (!rx || rx->phase != RQ_UPGRADE || (c->t && out_pending(c)))
		return;
	struct transport *t = c->t;
	const char *left = NULL;
	size_t nleft = 0;
	if (t) {
		loop_io_stop(s->loop, &c->io);
		loop_timer_stop(s->loop, &c->timer);
		c->t = NULL;
		conn_uncount(c);
		left = c->rbuf + c->rpos + c->req_len;
		nleft = c->rlen - c->rpos - c->req_len;
	} else {
		kc_list_del(&c->link);  /* off the zombie list */
	}
	if (rx->counted) {
		s->inflight--;
		rx->counted = false;
	}
	c->rx = NULL;
	rx->upgrade_cb(s->loop, t, left, nleft, rx->upgrade_arg);
	ctx_put(s, rx);
}

static void run_deferred(struct http_server *s)
{
	while (!kc_list_empty(&s->deferred)) {
		struct conn *c = kc_container_of(s->deferred.next, struct conn, defer_link);
		kc_list_del(&c->defer_link);
		unsigned what = c->defer;
		c->defer = 0;
		c->busy++;
		if (what & DEFER_UPGRADE)
			upgrade_handover(c);
		if ((what & DEFER_RUN) && c->t && c->state == C_IDLE) {
			c->can_read = c->can_read || transport_pending(c->t);
			conn_run(c);
		}
		struct req_ctx *rx = c->rx;
		if ((what & DEFER_DRAIN) && c->t && rx && rx->congested &&
		    out_pending(c) <= s->cfg.stream_high_water / 2) {
			rx->congested = false;
			if (rx->on_drain)
				rx->on_drain(&rx->req, rx->notify_arg);
		}
		rx = c->rx;
		if ((what & DEFER_CLOSE) && rx && rx->gone && !rx->close_notified) {
			rx->close_notified = true;
			if (rx->on_close)
				rx->on_close(&rx->req, rx->notify_arg);
		}
		c->busy--;
		if (c->t)
			conn_update(c);
		else
			conn_maybe_free(c);
	}
	if (s->stopping && !s->nconns && !s->nreject && s->done && !s->done_called) {
		s->done_called = true;
		loop_timer_stop(s->loop, &s->grace_timer);
		s->done(s, s->done_arg);
	}
}

static void defer_timer_cb(struct loop *l, struct loop_timer *t)
{
	run_deferred(t->data);
}

/* ---- connection events ---- */

static void conn_io_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct conn *c = io->data;
	c->busy++;
	if (ev & EPOLLERR) {
		c->peer_eof = true;
		conn_close(c);
		goto out;
	}
	if (c->state == C_LINGER) {
		linger_read(c);
		goto out;
	}
	if (out_pending(c) && (ev & ((c->wr_want ? c->wr_want : EPOLLOUT) | EPOLLHUP)))
		conn_flush(c);
	if (!c->t || c->state == C_LINGER)
		goto out;
	if (c->state == C_HANDLER) {
		if (ev & EPOLLHUP) {
			c->peer_eof = true;
			conn_close(c);
		} else if (ev & EPOLLRDHUP) {
			/* Pipelined requests sent before the FIN are still read later. */
			c->rdhup = true;
			notify_gone(c);
		}
	} else if ((ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) || (c->rd_want && (ev & c->rd_want))) {
		c->can_read = true;
		conn_run(c);
	} else if (c->rpos < c->rlen && !c->closing) {
		conn_run(c);  /* output drained: go on with pipelined requests */
	}
out:
	c->busy--;
	if (c->t)
		conn_update(c);
	else
		conn_maybe_free(c);
}

static void conn_timer_cb(struct loop *l, struct loop_timer *t)
{
	struct conn *c = t->data;
	struct http_server *s = c->srv;
	uint64_t now = loop_now_ms(l);
	c->timer_due = 0;
	c->busy++;
	if (c->wr_deadline && now >= c->wr_deadline) {
		log_debug("http write timeout fd=%d", c->t->fd);
		s->timeouts++;
		c->peer_eof = true;
		conn_close(c);
	} else if (c->rd_deadline && now >= c->rd_deadline) {
		c->rd_deadline = 0;
		if (c->state == C_HEAD || c->state == C_BODY) {
			s->timeouts++;
			respond_error(c, 408);
			conn_flush(c);
		} else {
			if (c->state != C_LINGER)
				s->timeouts++;
			log_debug("http idle or header timeout fd=%d state=%d first=%d peer=%s",
				  c->t->fd, (int)c->state, (int)c->first_req, c->t->peer_cn);
			c->peer_eof = true;
			conn_close(c);
		}
	}
	c->busy--;
	if (c->t)
		conn_update(c);
	else
		conn_maybe_free(c);
}

static struct conn *conn_new(struct http_server *s, struct transport *t, const struct sockaddr *peer,
			     socklen_t peer_len, bool reject)
{
	struct conn *c = xcalloc(1, sizeof *c);
	c->srv = s;
	c->t = t;
	kc_list_init(&c->link);
	kc_list_init(&c->defer_link);
	loop_io_init(&c->io, t->fd, conn_io_cb, c);
	loop_timer_init(&c->timer, conn_timer_cb, c);
	c->state = C_IDLE;
	c->first_req = true;
	c->reject = reject;
	c->counted = true;
	if (peer && peer_len <= sizeof c->peer && peer_len >= sizeof(sa_family_t))
		memcpy(&c->peer, peer, peer_len);
	else
		c->peer.sa.sa_family = AF_UNSPEC;
	if (reject)
		s->nreject++;
	else
		s->nconns++;
	kc_list_push_back(&s->conns, &c->link);
	c->rd_deadline = deadline_in(c, s->cfg.header_timeout_ms);
	return c;
}

static void conn_start(struct http_server *s, int fd, const struct sockaddr *peer, socklen_t peer_len)
{
	if (s->nconns >= s->cfg.max_conns) {
		s->rejected_conns++;
		if (s->cfg.wrap || s->nreject >= REJECT_SLACK) {
			close(fd);
			return;
		}
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
					   "Content-Type: text/plain; charset=utf-8\r\n"
					   "Content-Length: 24\r\nRetry-After: 1\r\n"
					   "Connection: close\r\n\r\n503 Service Unavailable\n";
		struct conn *c = conn_new(s, transport_plain_new(fd), peer, peer_len, true);
		out_add(c, busy, sizeof busy - 1);
		c->closing = true;
		conn_kick(c);
		if (c->t)
			conn_update(c);
		return;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct transport *t = s->cfg.wrap ? s->cfg.wrap(s->cfg.wrap_arg, fd) : transport_plain_new(fd);
	if (!t) {
		close(fd);
		return;
	}
	struct conn *c = conn_new(s, t, peer, peer_len, false);
	conn_update(c);
}

/* ---- listening ---- */

static void accept_resume_cb(struct loop *l, struct loop_timer *t)
{
	struct http_server *s = t->data;
	if (s->lfd >= 0)
		(void)loop_io_start(l, &s->lio, EPOLLIN | EPOLLEXCLUSIVE);
}

static void listen_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct http_server *s = io->data;
	for (int i = 0; i < ACCEPT_BATCH && s->lfd >= 0; i++) {
		union {
			struct sockaddr sa;
			struct sockaddr_in6 in6;
			struct sockaddr_in in4;
		} peer;
		socklen_t len = sizeof peer;
		int fd = accept4(s->lfd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			if (e == EINTR || e == ECONNABORTED || e == EPROTO)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				return;
			uint64_t now = loop_now_ms(l);
			if (now - s->last_accept_warn >= 1000 || !s->last_accept_warn) {
				log_warn("http accept failed port=%u err=%s", s->port, strerror(e));
				s->last_accept_warn = now;
			}
			/* Out of descriptors or memory: back off instead of spinning. */
			loop_io_stop(l, &s->lio);
			loop_timer_start(l, &s->accept_timer, 100);
			return;
		}
		s->accepted++;
		conn_start(s, fd, &peer.sa, len);
	}
}

static int listen_open(struct http_server *s, const char *addr, int backlog, struct kc_err *err)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} sa;
	socklen_t slen;
	if (s->cfg.share_listener) {
		int dfd = fcntl(s->cfg.share_listener->lfd, F_DUPFD_CLOEXEC, 0);
		if (dfd < 0)
			return kc_err_set(err, -errno, "http listen: dup: %s", strerror(errno));
		s->lfd = dfd;
		s->port = s->cfg.share_listener->port;
		return 0;
	}
	bool any6 = false;
	char host[INET6_ADDRSTRLEN + 2];
	memset(&sa, 0, sizeof sa);
	if (!addr || !*addr) {
		any6 = true;
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_addr = in6addr_any;
		sa.in6.sin6_port = htons(s->cfg.port);
		slen = sizeof sa.in6;
	} else {
		size_t n = strlen(addr);
		if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
			addr++;
			n -= 2;
		}
		if (n >= sizeof host)
			return kc_err_set(err, -KC_EINVAL, "http listen: bad address");
		memcpy(host, addr, n);
		host[n] = '\0';
		if (inet_pton(AF_INET, host, &sa.in4.sin_addr) == 1) {
			sa.in4.sin_family = AF_INET;
			sa.in4.sin_port = htons(s->cfg.port);
			slen = sizeof sa.in4;
		} else if (inet_pton(AF_INET6, host, &sa.in6.sin6_addr) == 1) {
			sa.in6.sin6_family = AF_INET6;
			sa.in6.sin6_port = htons(s->cfg.port);
			slen = sizeof sa.in6;
		} else {
			return kc_err_set(err, -KC_EINVAL, "http listen: %s is not a numeric IP address", host);
		}
	}
	int fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && any6 && errno == EAFNOSUPPORT) {
		any6 = false;
		memset(&sa, 0, sizeof sa);
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_addr.s_addr = htonl(INADDR_ANY);
		sa.in4.sin_port = htons(s->cfg.port);
		slen = sizeof sa.in4;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return kc_err_set(err, -errno, "http listen: socket: %s", strerror(errno));
	int one = 1, zero = 0, rc;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    (s->cfg.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
	    (any6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0)) {
		rc = kc_err_set(err, -errno, "http listen: setsockopt: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, &sa.sa, slen) < 0) {
		rc = kc_err_set(err, -errno, "http listen: bind port %u: %s", s->cfg.port, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) < 0) {
		rc = kc_err_set(err, -errno, "http listen: %s", strerror(errno));
		goto fail;
	}
	slen = sizeof sa;
	if (getsockname(fd, &sa.sa, &slen) < 0) {
		rc = kc_err_set(err, -errno, "http listen: getsockname: %s", strerror(errno));
		goto fail;
	}
	s->port = ntohs(sa.sa.sa_family == AF_INET ? sa.in4.sin_port : sa.in6.sin6_port);
	s->lfd = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

static void grace_timer_cb(struct loop *l, struct loop_timer *t)
{
	struct http_server *s = t->data;
	struct kc_list *it, *tmp;
	kc_list_each_safe(&s->conns, it, tmp) {
		struct conn *c = kc_container_of(it, struct conn, link);
		c->peer_eof = true;
		conn_close(c);
	}
	loop_timer_start(l, &s->defer_timer, 0);
}

int http_server_open(struct loop *l, const struct http_server_config *cfg, struct http_server **out,
		     struct kc_err *err)
{
	if (!cfg->handler)
		return kc_err_set(err, -KC_EINVAL, "http server: no handler");
	struct http_server *s = xcalloc(1, sizeof *s);
	s->loop = l;
	s->cfg = *cfg;
	s->cfg.addr = NULL;
	s->lfd = -1;
	s->lim = cfg->limits;
	if (!s->lim.max_head_bytes)
		s->lim.max_head_bytes = HTTP_MAX_HEAD_DEFAULT;
	if (!s->lim.max_headers)
		s->lim.max_headers = HTTP_MAX_HEADERS_DEFAULT;
	if (!s->lim.max_body_bytes)
		s->lim.max_body_bytes = 3u << 20;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 10000;
	if (!s->cfg.idle_timeout_ms)
		s->cfg.idle_timeout_ms = 90000;
	if (!s->cfg.header_timeout_ms)
		s->cfg.header_timeout_ms = 10000;
	if (!s->cfg.body_timeout_ms)
		s->cfg.body_timeout_ms = 60000;
	if (!s->cfg.write_timeout_ms)
		s->cfg.write_timeout_ms = 60000;
	if (!s->cfg.linger_ms)
		s->cfg.linger_ms = 2000;
	if (!s->cfg.stream_high_water)
		s->cfg.stream_high_water = 256u * 1024;
	if (!s->cfg.stream_max_buffer)
		s->cfg.stream_max_buffer = 64u << 20;
	s->rx_size = offsetof(struct req_ctx, headers) + s->lim.max_headers * sizeof(struct http_header);
	kc_list_init(&s->conns);
	kc_list_init(&s->deferred);
	kc_list_init(&s->zombies);
	loop_timer_init(&s->accept_timer, accept_resume_cb, s);
	loop_timer_init(&s->defer_timer, defer_timer_cb, s);
	loop_timer_init(&s->grace_timer, grace_timer_cb, s);
	int rc = listen_open(s, cfg->addr, cfg->backlog > 0 ? cfg->backlog : 1024, err);
	if (rc < 0) {
		free(s);
		return rc;
	}
	loop_io_init(&s->lio, s->lfd, listen_cb, s);
	rc = loop_io_start(l, &s->lio, EPOLLIN | EPOLLEXCLUSIVE);
	if (rc < 0) {
		close(s->lfd);
		free(s);
		return kc_err_set(err, rc, "http listen: epoll: %s", kc_strerror(rc));
	}
	*out = s;
	return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

int http_server_adopt(struct http_server *s, struct transport *t, const struct sockaddr *peer,
		      socklen_t peer_len)
{
	if (s->stopping || s->nconns >= s->cfg.max_conns) {
		transport_close(t);
		return -KC_EUNAVAIL;
	}
	struct conn *c = conn_new(s, t, peer, peer_len, false);
	conn_update(c);
	return 0;
}

static void listen_close(struct http_server *s)
{
	if (s->lfd < 0)
		return;
	loop_io_stop(s->loop, &s->lio);
	loop_timer_stop(s->loop, &s->accept_timer);
	close(s->lfd);
	s->lfd = -1;
}

void http_server_shutdown(struct http_server *s, unsigned grace_ms,
			  void (*done)(struct http_server *s, void *arg), void *arg)
{
	s->done = done;
	s->done_arg = arg;
	if (!s->stopping) {
		s->stopping = true;
		listen_close(s);
		struct kc_list *it, *tmp;
		kc_list_each_safe(&s->conns, it, tmp) {
			struct conn *c = kc_container_of(it, struct conn, link);
			if (c->state != C_IDLE || c->rx)
				continue;  /* a request is under way: its response closes */
			if (out_pending(c)) {
				c->closing = true;
				continue;
			}
			c->peer_eof = true;
			conn_close(c);
		}
		loop_timer_start(s->loop, &s->grace_timer, grace_ms);
	}
	loop_timer_start(s->loop, &s->defer_timer, 0);
}

void http_server_close(struct http_server *s)
{
	if (!s)
		return;
	listen_close(s);
	loop_timer_stop(s->loop, &s->grace_timer);
	s->stopping = true;
	s->done = NULL;
	struct kc_list *it, *tmp;
	kc_list_each_safe(&s->conns, it, tmp) {
		struct conn *c = kc_container_of(it, struct conn, link);
		c->peer_eof = true;
		conn_close(c);
	}
	/* Deliver on_close and failed upgrades now; handlers may finish requests meanwhile. */
	run_deferred(s);
	loop_timer_stop(s->loop, &s->defer_timer);
	/* Requests still held outlive the server: their conns forget it. */
	kc_list_each_safe(&s->zombies, it, tmp) {
		struct conn *c = kc_container_of(it, struct conn, link);
		kc_list_del(&c->link);
		if (c->rx && c->rx->counted)
			c->rx->counted = false;
		c->srv = NULL;
	}
	while (s->nrpool)
		free(s->rpool[--s->nrpool]);
	while (s->nopool)
		free(s->opool[--s->nopool]);
	while (s->nqpool) {
		struct req_ctx *rx = s->qpool[--s->nqpool];
		kc_str_free(&rx->rhdrs);
		free(rx);
	}
	free(s);
}

void http_server_stats(const struct http_server *s, struct http_server_stats *out)
{
	out->conns = s->nconns;
	out->inflight = s->inflight;
	out->accepted = s->accepted;
	out->requests = s->requests;
	out->rejected_conns = s->rejected_conns;
	out->rejected_requests = s->rejected_requests;
	out->timeouts = s->timeouts;
	out->pooled_bytes = (size_t)s->nrpool * RBUF_SIZE + (size_t)s->nopool * OBUF_SIZE +
			    (size_t)s->nqpool * s->rx_size;
}

/* ---- request API ---- */

const char *http_req_header(const struct http_req *req, const char *name)
{
	const struct http_header *h = http_find_header(&req->head, name);
	return h ? h->value.p : NULL;
}

const char *http_req_param(const struct http_req *req, const char *name)
{
	for (unsigned i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].name, name) == 0)
			return req->params[i].value;
	return NULL;
}

const char *http_req_query_nth(struct http_req *req, const char *name, unsigned n)
{
	size_t nlen = strlen(name);
	const char *q = req->query;
	unsigned seen = 0;
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t seg = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', seg);
		size_t klen = eq ? (size_t)(eq - q) : seg;
		bool match;
		if (memchr(q, '%', klen) || memchr(q, '+', klen)) {
			char key[256];
			long kn = klen < sizeof key ? http_percent_decode(key, q, klen, true) : -1;
			match = kn == (long)nlen && memcmp(key, name, nlen) == 0;
		} else {
			match = klen == nlen && memcmp(q, name, nlen) == 0;
		}
		if (match) {
			const char *v = eq ? eq + 1 : q + seg;
			size_t vlen = (size_t)(q + seg - v);
			char *d = http_req_alloc(req, vlen + 1);
			long dn = http_percent_decode(d, v, vlen, true);
			if (dn >= 0 && seen++ == n) {
				d[dn] = '\0';
				return d;
			}
		}
		if (!amp)
			break;
		q = amp + 1;
	}
	return NULL;
}

const char *http_req_query(struct http_req *req, const char *name)
{
	return http_req_query_nth(req, name, 0);
}

const char *http_req_peer_str(struct http_req *req)
{
	struct req_ctx *rx = ctx_of(req);
	if (rx->peer_str[0])
		return rx->peer_str;
	const struct sockaddr *sa = req->peer;
	char ip[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof ip);
		snprintf(rx->peer_str, sizeof rx->peer_str, "%s:%u", ip, ntohs(in4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(rx->peer_str, sizeof rx->peer_str, "[%s]:%u", ip, ntohs(in6->sin6_port));
	}
	return rx->peer_str;
}

struct loop *http_req_loop(const struct http_req *req)
{
	struct conn *c = ctx_of(req)->conn;
	return c->srv ? c->srv->loop : NULL;
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 32 || ch >= 127 || strchr("\"(),/:;<=>?@[\\]{}", ch))
			return false;
	}
	return true;
}

int http_resp_header(struct http_req *req, const char *name, const char *value)
{
	struct req_ctx *rx = ctx_of(req);
	if (!is_token(name) || kc_strcaseeq(name, "content-length") ||
	    kc_strcaseeq(name, "transfer-encoding") || kc_strcaseeq(name, "connection") ||
	    kc_strcaseeq(name, "date"))
		return -KC_EINVAL;
	for (const char *v = value; *v; v++) {
		unsigned char ch = (unsigned char)*v;
		if ((ch < 32 && ch != '\t') || ch == 127)
			return -KC_EINVAL;
	}
	kc_str_adds(&rx->rhdrs, name);
	kc_str_add(&rx->rhdrs, ": ", 2);
	kc_str_adds(&rx->rhdrs, value);
	kc_str_add(&rx->rhdrs, "\r\n", 2);
	return 0;
}

int http_resp_headerf(struct http_req *req, const char *name, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -KC_EINVAL;
	if ((size_t)n < sizeof buf)
		return http_resp_header(req, name, buf);
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = http_resp_header(req, name, big);
	free(big);
	return rc;
}

int http_respond(struct http_req *req, int status, const char *content_type, const void *body,
		 size_t len)
{
	struct req_ctx *rx = ctx_of(req);
	struct conn *c = rx->conn;
	kc_assert(rx->phase == RQ_HANDLER);
	kc_assert(status >= 200 && status <= 999);
	if (!c->t) {
		req_finish(rx);
		return -KC_ECLOSED;
	}
	bool close = must_close(c, rx);
	write_head(c, rx, status, content_type, BM_LENGTH, len, close);
	if (!rx->head_method && status_has_body(status))
		out_add(c, body, len);
	if (close)
		c->closing = true;
	req_finish(rx);
	return 0;
}

int http_stream_begin(struct http_req *req, int status, const char *content_type)
{
	struct req_ctx *rx = ctx_of(req);
	struct conn *c = rx->conn;
	kc_assert(rx->phase == RQ_HANDLER);
	kc_assert(status >= 200 && status <= 999);
	rx->phase = RQ_STREAMING;
	if (!c->t)
		return -KC_ECLOSED;
	bool chunked = req->head.version_minor == 1;
	bool close = must_close(c, rx) || !chunked;
	rx->no_body = rx->head_method || !status_has_body(status);
	rx->chunked_out = chunked && !rx->no_body;
	write_head(c, rx, status, content_type,
		   chunked && status_has_body(status) ? BM_CHUNKED : BM_NONE, 0, close);
	if (close)
		c->closing = true;
	conn_kick(c);
	return c->t ? 0 : -KC_ECLOSED;
}

int http_stream_write(struct http_req *req, const void *data, size_t len)
{
	struct req_ctx *rx = ctx_of(req);
	struct conn *c = rx->conn;
	kc_assert(rx->phase == RQ_STREAMING);
	if (!c->t)
		return -KC_ECLOSED;
	if (!len || rx->no_body)
		return 0;
	struct http_server *s = c->srv;
	if (rx->chunked_out) {
		char hdr[24];
		size_t n = fmt_hex(hdr, len);
		hdr[n++] = '\r';
		hdr[n++] = '\n';
		char *p = out_reserve(c, n + len + 2);
		memcpy(p, hdr, n);
		memcpy(p + n, data, len);
		memcpy(p + n + len, "\r\n", 2);
		c->olen += n + len + 2;
	} else {
		out_add(c, data, len);
	}
	if (out_pending(c) > s->cfg.stream_max_buffer) {
		log_warn("http stream buffer over limit, closing fd=%d bytes=%zu", c->t->fd, out_pending(c));
		c->peer_eof = true;
		c->busy++;
		conn_close(c);
		c->busy--;
		return -KC_ECLOSED;
	}
	conn_kick(c);
	if (!c->t)
		return -KC_ECLOSED;
	if (out_pending(c) > s->cfg.stream_high_water) {
		rx->congested = true;
		return HTTP_STREAM_CONGESTED;
	}
	return 0;
}

bool http_stream_congested(const struct http_req *req)
{
	struct conn *c = ctx_of(req)->conn;
	return c->t && out_pending(c) > c->srv->cfg.stream_high_water;
}

int http_stream_end(struct http_req *req)
{
	struct req_ctx *rx = ctx_of(req);
	struct conn *c = rx->conn;
	kc_assert(rx->phase == RQ_STREAMING);
	if (!c->t) {
		req_finish(rx);
		return -KC_ECLOSED;
	}
	if (rx->chunked_out)
		out_add(c, "0\r\n\r\n", 5);
	req_finish(rx);
	return 0;
}

void http_req_notify(struct http_req *req, void (*on_drain)(struct http_req *req, void *arg),
		     void (*on_close)(struct http_req *req, void *arg), void *arg)
{
	struct req_ctx *rx = ctx_of(req);
	rx->on_drain = on_drain;
	rx->on_close = on_close;
	rx->notify_arg = arg;
}

bool http_req_gone(const struct http_req *req)
{
	return ctx_of(req)->gone;
}

void http_req_long_running(struct http_req *req)
{
	struct req_ctx *rx = ctx_of(req);
	if (rx->counted) {
		rx->conn->srv->inflight--;
		rx->counted = false;
	}
}

void http_req_abort(struct http_req *req)
{
	struct req_ctx *rx = ctx_of(req);
	kc_assert(rx->phase == RQ_HANDLER || rx->phase == RQ_STREAMING);
	rx->conn->closing = true;
	req_finish(rx);
}

int http_upgrade(struct http_req *req, const char *protocol, http_upgrade_cb cb, void *arg)
{
	struct req_ctx *rx = ctx_of(req);
	struct conn *c = rx->conn;
	kc_assert(rx->phase == RQ_HANDLER);
	rx->upgrade_cb = cb;
	rx->upgrade_arg = arg;
	rx->phase = RQ_UPGRADE;
	if (!c->t) {
		if (!c->srv) {
			/* orphaned by http_server_close: nobody will defer this */
			c->rx = NULL;
			kc_list_del(&c->link);
			cb(NULL, NULL, NULL, 0, arg);
			ctx_put(NULL, rx);
			conn_maybe_free(c);
		} else {
			defer(c, DEFER_UPGRADE);
		}
		return -KC_ECLOSED;
	}
	static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ";
	size_t pl = strlen(protocol);
	out_add(c, head, sizeof head - 1);
	out_add(c, protocol, pl);
	out_add(c, "\r\n", 2);
	out_add(c, rx->rhdrs.buf, rx->rhdrs.len);
	out_add(c, "\r\n", 2);
	conn_kick(c);
	if (c->t && !out_pending(c) && !c->in_run)
		defer(c, DEFER_UPGRADE);
	return 0;
}
