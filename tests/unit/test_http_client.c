/* test_http_client.c - net/http_client against a raw test server: a thread per connection with
 * blocking sockets, answering scripted responses chosen by the request path. Covers URL parsing,
 * Content-Length / chunked / until-close bodies, keep-alive reuse, the stale pooled connection
 * retry, idle connections closed by the server, streaming with cancel, timeouts, limits,
 * malformed responses, the max_conns queue, name resolution, IPv6, the blocking call, and
 * https through net/tls (the server side then drives a TLS transport with poll()). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/tls.h"
#include "net/transport.h"

/* ---- the raw test server ---- */

#define MAX_SCONNS 1024

struct srv;

struct sconn {
	struct srv *s;
	int fd;
	struct transport *t; /* TLS servers only */
	int id;            /* 1-based accept order */
	pthread_t th;
	char buf[1 << 16]; /* received, not yet consumed */
	size_t len;
	/* the current request */
	char method[16];
	char path[256];
	char te[64];
	char body[1 << 16];
	size_t body_len;
	bool chunked;
};

struct srv {
	int family;
	int lfd;
	uint16_t port;
	pthread_t acceptor;
	atomic_bool stopping;
	pthread_mutex_t mu;            /* guards conns, nconns */
	struct sconn *conns[MAX_SCONNS];
	int nconns;
	atomic_int accepted;
	atomic_int requests;
	atomic_int client_gone;        /* handlers that saw the client close while waiting */
	atomic_int lingered;           /* /close-header handlers that finished their pause */
	int ctl[2];                    /* a byte on ctl[1] releases the next streamed chunk */
	struct tls_server_config *tls; /* NULL: plain HTTP */
};

/* Waits until the transport can make progress. */
static void wait_want(int fd, unsigned want)
{
	struct pollfd p = { .fd = fd, .events = want == EPOLLOUT ? POLLOUT : POLLIN };
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
}

/* Blocking read through the TLS transport: > 0, or -1 at the end or on an error. */
static ssize_t tls_recv(struct sconn *sc, void *buf, size_t n)
{
	for (;;) {
		unsigned want = 0;
		ssize_t r = transport_read(sc->t, buf, n, &want);
		if (r > 0)
			return r;
		if (r != -EAGAIN)
			return -1;
		wait_want(sc->fd, want);
	}
}

static int send_all(struct sconn *sc, const void *p, size_t n)
{
	const char *c = p;
	while (sc->t && n) {
		unsigned want = 0;
		ssize_t w = transport_write(sc->t, c, n, &want);
		if (w == -EAGAIN) {
			wait_want(sc->fd, want);
			continue;
		}
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	while (n) {
		ssize_t w = send(sc->fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int sendf(struct sconn *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sendf(struct sconn *sc, const char *fmt, ...)
{
	char b[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	return send_all(sc, b, (size_t)n);
}

static int fill(struct sconn *sc)
{
	if (sc->len == sizeof sc->buf)
		return -1;
	ssize_t n;
	if (sc->t)
		n = tls_recv(sc, sc->buf + sc->len, sizeof sc->buf - sc->len);
	else
		do
			n = recv(sc->fd, sc->buf + sc->len, sizeof sc->buf - sc->len, 0);
		while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	sc->len += (size_t)n;
	return 0;
}

static void consume(struct sconn *sc, size_t n)
{
	memmove(sc->buf, sc->buf + n, sc->len - n);
	sc->len -= n;
}

/* Reads one CRLF-terminated line (without the CRLF) into out. */
static int read_line(struct sconn *sc, char *out, size_t cap)
{
	for (;;) {
		char *nl = memmem(sc->buf, sc->len, "\r\n", 2);
		if (nl) {
			size_t n = (size_t)(nl - sc->buf);
			if (n >= cap)
				return -1;
			memcpy(out, sc->buf, n);
			out[n] = '\0';
			consume(sc, n + 2);
			return 0;
		}
		if (fill(sc) < 0)
			return -1;
	}
}

static int read_bytes(struct sconn *sc, char *out, size_t n)
{
	while (sc->len < n)
		if (fill(sc) < 0)
			return -1;
	memcpy(out, sc->buf, n);
	consume(sc, n);
	return 0;
}

static int read_request(struct sconn *sc)
{
	char line[1024];
	size_t cl = 0;
	sc->chunked = false;
	sc->te[0] = '\0';
	sc->body_len = 0;
	if (read_line(sc, line, sizeof line) < 0)
		return -1;
	if (sscanf(line, "%15s %255s", sc->method, sc->path) != 2)
		return -1;
	for (;;) {
		if (read_line(sc, line, sizeof line) < 0)
			return -1;
		if (!line[0])
			break;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			cl = strtoul(line + 15, NULL, 10);
		if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
			snprintf(sc->te, sizeof sc->te, "%s", line + 19);
			sc->chunked = strstr(line, "chunked") != NULL;
		}
	}
	if (sc->chunked) {
		for (;;) {
			if (read_line(sc, line, sizeof line) < 0)
				return -1;
			size_t n = strtoul(line, NULL, 16);
			if (n == 0)
				break;
			if (sc->body_len + n > sizeof sc->body ||
			    read_bytes(sc, sc->body + sc->body_len, n) < 0 ||
			    read_line(sc, line, sizeof line) < 0)
				return -1;
			sc->body_len += n;
		}
		do
			if (read_line(sc, line, sizeof line) < 0)
				return -1;
		while (line[0]);
	} else if (cl) {
		if (cl > sizeof sc->body || read_bytes(sc, sc->body, cl) < 0)
			return -1;
		sc->body_len = cl;
	}
	return 0;
}

/* Blocks until the control pipe releases the next chunk (0) or the client goes away (-1). */
static int wait_ctl(struct sconn *sc)
{
	struct pollfd p[2] = { { .fd = sc->s->ctl[0], .events = POLLIN },
			       { .fd = sc->fd, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[1].revents) {
			char b[64];
			unsigned want = 0;
			ssize_t n = sc->t ? transport_read(sc->t, b, sizeof b, &want)
					  : recv(sc->fd, b, sizeof b, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && n != -EAGAIN)) {
				atomic_fetch_add(&sc->s->client_gone, 1);
				return -1;
			}
		}
		if (p[0].revents) {
			char b;
			if (read(sc->s->ctl[0], &b, 1) == 1)
				return 0;
		}
	}
}

static int send_chunk(struct sconn *sc, const char *s)
{
	return sendf(sc, "%zx\r\n%s\r\n", strlen(s), s);
}

/* Answers one request. Returns 0 to keep the connection, -1 to close it. */
static int respond(struct sconn *sc, int nreq)
{
	const char *p = sc->path;
	if (strcmp(p, "/cl") == 0 || strcmp(p, "/flaky") == 0 || strcmp(p, "/cl-close") == 0) {
		if (strcmp(p, "/flaky") == 0 && nreq > 1)
			return -1; /* the keep-alive race: close without answering */
		int rc = sendf(sc,
			       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Conn: %d\r\nX-Req: %d\r\n"
			       "Content-Type: text/plain\r\n\r\nhello",
			       sc->id, nreq);
		return rc < 0 || strcmp(p, "/cl-close") == 0 ? -1 : 0;
	}
	if (strcmp(p, "/echo") == 0)
		return sendf(sc, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nX-Method: %s\r\nX-TE: %s\r\n"
				 "X-Conn: %d\r\n\r\n",
			     sc->body_len, sc->method, sc->te[0] ? sc->te : "-", sc->id) < 0 ||
				       send_all(sc, sc->body, sc->body_len) < 0
			       ? -1
			       : 0;
	if (strcmp(p, "/chunked") == 0) {
		/* split writes so the client sees partial chunk framing */
		if (sendf(sc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Conn: %d\r\n\r\n3;ext=1\r\nab",
			  sc->id) < 0)
			return -1;
		usleep(20000);
		return sendf(sc, "c\r\n5\r\ndefgh\r\n0\r\nX-Trailer: t\r\n\r\n");
	}
	if (strcmp(p, "/until-close") == 0) {
		sendf(sc, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it");
		usleep(20000);
		sendf(sc, ", until the end");
		return -1;
	}
	if (strcmp(p, "/continue") == 0)
		return sendf(sc, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	if (strcmp(p, "/head") == 0)
		return sendf(sc, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-Conn: %d\r\n\r\n", sc->id);
	if (strcmp(p, "/nocontent") == 0)
		return sendf(sc, "HTTP/1.1 204 No Content\r\nX-Conn: %d\r\n\r\n", sc->id);
	if (strcmp(p, "/close-header") == 0) {
		sendf(sc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
		usleep(500000); /* the client must not wait for the close */
		atomic_fetch_add(&sc->s->lingered, 1);
		return -1;
	}
	if (strcmp(p, "/stream") == 0 || strcmp(p, "/stream-forever") == 0) {
		bool forever = strcmp(p, "/stream-forever") == 0;
		if (sendf(sc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			      "Content-Type: application/json\r\n\r\n") < 0 ||
		    send_chunk(sc, "a") < 0)
			return -1;
		for (int i = 1; forever || i < 4; i++) {
			char s[2] = { (char)('a' + i % 26), 0 };
			if (wait_ctl(sc) < 0 || send_chunk(sc, s) < 0)
				return -1;
		}
		return sendf(sc, "0\r\n\r\n");
	}
	if (strcmp(p, "/hang") == 0) {
		wait_ctl(sc);
		return -1;
	}
	if (strcmp(p, "/big") == 0) {
		char body[101];
		memset(body, 'x', 100);
		body[100] = 0;
		return sendf(sc, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n%s", body);
	}
	if (strcmp(p, "/bigchunked") == 0) {
		if (sendf(sc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") < 0)
			return -1;
		for (int i = 0; i < 10; i++)
			if (send_chunk(sc, "0123456789") < 0)
				return -1;
		return sendf(sc, "0\r\n\r\n");
	}
	if (strcmp(p, "/biguntilclose") == 0) {
		sendf(sc, "HTTP/1.1 200 OK\r\n\r\n0123456789abcdef");
		return -1;
	}
	if (strcmp(p, "/garbage") == 0) {
		sendf(sc, "garbage\r\n\r\n");
		return -1;
	}
	if (strcmp(p, "/badcl") == 0)
		return sendf(sc, "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n");
	if (strcmp(p, "/badchunk") == 0)
		return sendf(sc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	if (strcmp(p, "/truncated") == 0) {
		sendf(sc, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
		return -1;
	}
	if (strcmp(p, "/truncated-head") == 0) {
		sendf(sc, "HTTP/1.1 200 OK\r\nContent-Len");
		return -1;
	}
	if (strcmp(p, "/hugehead") == 0) {
		sendf(sc, "HTTP/1.1 200 OK\r\n");
		for (int i = 0; i < 200; i++)
			if (sendf(sc, "X-Filler-%d: %0100d\r\n", i, 0) < 0)
				return -1;
		return sendf(sc, "Content-Length: 0\r\n\r\n");
	}
	if (strcmp(p, "/http10") == 0)
		return sendf(sc, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nX-Conn: %d\r\n\r\nok", sc->id);
	if (strncmp(p, "/random-", 8) == 0) {
		/* HTTP-looking noise from a seed, then close */
		static const char *const tokens[] = {
			"HTTP/1.1 ", "HTTP/1.0 ", "200 OK", "100 Continue", "204", "\r\n", "\r\n\r\n",
			"\n", "\r", ": ", ":", "Content-Length", "Transfer-Encoding", "chunked",
			"Connection", "close", "keep-alive", "0", "5", "ff", "ffffffffffffffffff", ";x=y",
			"abc", " ", "\t", "\x01", "\x80", "-1", "12", ",",
		};
		unsigned seed = (unsigned)atoi(p + 8);
		char out[4096];
		size_t len = 0;
		int n = 1 + (int)(rand_r(&seed) % 60);
		static const char *const heads[] = {
			"", "HTTP/1.1 200 OK\r\n",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n",
		};
		len = (size_t)snprintf(out, sizeof out, "%s", heads[seed % 5]);
		for (int i = 0; i < n; i++) {
			const char *t = tokens[rand_r(&seed) % (sizeof tokens / sizeof tokens[0])];
			size_t tl = strlen(t);
			if (len + tl < sizeof out) {
				memcpy(out + len, t, tl);
				len += tl;
			}
		}
		send_all(sc, out, len);
		return -1;
	}
	if (strcmp(p, "/extra") == 0) {
		/* a second, unrequested response: the connection must not be reused */
		return sendf(sc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Conn: %d\r\n\r\nok"
				 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			     sc->id);
	}
	sendf(sc, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	return 0;
}

static void *handler_main(void *arg)
{
	struct sconn *sc = arg;
	for (int nreq = 1;; nreq++) {
		if (read_request(sc) < 0)
			break;
		atomic_fetch_add(&sc->s->requests, 1);
		if (respond(sc, nreq) < 0)
			break;
	}
	shutdown(sc->fd, SHUT_RDWR); /* the fd itself is closed by srv_stop after the join */
	return NULL;
}

static void *acceptor_main(void *arg)
{
	struct srv *s = arg;
	for (;;) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		if (atomic_load(&s->stopping)) {
			close(fd);
			break;
		}
		struct sconn *sc = xcalloc(1, sizeof *sc);
		sc->s = s;
		sc->fd = fd;
		if (s->tls) {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			sc->t = tls_server_wrap(s->tls, fd);
		}
		sc->id = atomic_fetch_add(&s->accepted, 1) + 1;
		pthread_mutex_lock(&s->mu);
		if (s->nconns == MAX_SCONNS) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			free(sc);
			continue;
		}
		s->conns[s->nconns++] = sc;
		pthread_create(&sc->th, NULL, handler_main, sc);
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

/* Starts a server on 127.0.0.1 (or ::1 for AF_INET6), speaking TLS when tls is set (the server
 * takes that reference). Returns NULL if the family is missing. */
static struct srv *srv_start_tls(int family, struct tls_server_config *tls)
{
	struct srv *s = xcalloc(1, sizeof *s);
	s->tls = tls;
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sl = sizeof *sin6;
	}
	s->family = family;
	s->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(s->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(s->lfd, 64) < 0) {
		if (s->lfd >= 0)
			close(s->lfd);
		tls_server_config_free(tls);
		free(s);
		return NULL;
	}
	getsockname(s->lfd, (struct sockaddr *)&ss, &sl);
	s->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	assert_int_equal(pipe(s->ctl), 0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_create(&s->acceptor, NULL, acceptor_main, s);
	return s;
}

static struct srv *srv_start_family(int family)
{
	return srv_start_tls(family, NULL);
}

static struct srv *srv_start(void)
{
	struct srv *s = srv_start_family(AF_INET);
	assert_non_null(s);
	return s;
}

static void srv_release(struct srv *s)
{
	char b = 'x';
	assert_int_equal(write(s->ctl[1], &b, 1), 1);
}

static void srv_stop(struct srv *s)
{
	atomic_store(&s->stopping, true);
	/* wake accept() with a connection of our own */
	int fd = socket(s->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	getsockname(s->lfd, (struct sockaddr *)&ss, &sl);
	connect(fd, (struct sockaddr *)&ss, sl);
	pthread_join(s->acceptor, NULL);
	close(fd);
	pthread_mutex_lock(&s->mu);
	int n = s->nconns;
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < n; i++)
		shutdown(s->conns[i]->fd, SHUT_RDWR);
	for (int i = 0; i < n; i++) {
		pthread_join(s->conns[i]->th, NULL);
		if (s->conns[i]->t)
			transport_close(s->conns[i]->t);
		else
			close(s->conns[i]->fd);
		free(s->conns[i]);
	}
	close(s->lfd);
	close(s->ctl[0]);
	close(s->ctl[1]);
	tls_server_config_free(s->tls);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- client-side helpers ---- */

struct res {
	bool done;
	int rc;
	int status;
	struct kc_err err;
	struct kc_str body;       /* buffered body, or the streamed pieces concatenated */
	char xconn[32], xreq[32], xte[64], xmethod[32];
	int ndata, nhead;
	bool head_before_data;
	/* streaming knobs */
	struct srv *release;      /* release the next chunk after each piece */
	bool cancel_on_data;
	struct http_client_req *req;
	/* re-entrancy: submit this from on_done */
	struct http_client *resubmit;
	struct res *resubmit_res;
	char url[128];
};

static void res_init(struct res *r)
{
	memset(r, 0, sizeof *r);
	kc_str_init(&r->body);
}

static void copy_hdr(const struct http_client_response *resp, const char *name, char *out,
		     size_t cap)
{
	const char *v = http_client_response_header(resp, name);
	snprintf(out, cap, "%s", v ? v : "");
}

static void submit(struct http_client *c, struct res *r, const char *method, const char *url);

static void on_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		    const struct kc_err *err, void *arg)
{
	struct res *r = arg;
	assert_false(r->done);
	r->done = true;
	r->rc = rc;
	r->err = *err;
	r->status = resp->status;
	copy_hdr(resp, "X-Conn", r->xconn, sizeof r->xconn);
	copy_hdr(resp, "X-Req", r->xreq, sizeof r->xreq);
	copy_hdr(resp, "X-TE", r->xte, sizeof r->xte);
	copy_hdr(resp, "X-Method", r->xmethod, sizeof r->xmethod);
	if (rc == 0 && resp->body) {
		assert_int_equal(resp->body[resp->body_len], '\0');
		kc_str_add(&r->body, resp->body, resp->body_len);
	}
	http_client_cancel(req); /* a no-op from inside on_done */
	if (r->resubmit)
		submit(r->resubmit, r->resubmit_res, "GET", r->url);
}

static void on_head(struct http_client_req *req, const struct http_client_response *resp,
		    void *arg)
{
	struct res *r = arg;
	r->nhead++;
	r->head_before_data = r->ndata == 0;
	r->status = resp->status;
}

static void on_data(struct http_client_req *req, const char *data, size_t len, void *arg)
{
	struct res *r = arg;
	r->ndata++;
	kc_str_add(&r->body, data, len);
	if (r->cancel_on_data) {
		http_client_cancel(req);
		http_client_cancel(req); /* twice is fine too */
		return;
	}
	if (r->release)
		srv_release(r->release);
}

static struct http_client_request mkreq(struct res *r, const char *method, const char *url)
{
	struct http_client_request q = {
		.method = method,
		.url = url,
		.on_head = on_head,
		.on_done = on_done,
		.arg = r,
	};
	return q;
}

static void submit(struct http_client *c, struct res *r, const char *method, const char *url)
{
	struct http_client_request q = mkreq(r, method, url);
	struct kc_err err;
	kc_err_clear(&err);
	int rc = http_client_submit(c, &q, &r->req, &err);
	if (rc != 0)
		fail_msg("submit %s %s: %s", method, url, err.msg);
}

static uint64_t now_ms(void)
{
	return kc_mono_ms(kc_clock_real());
}

static bool run_until(struct loop *l, bool (*pred)(void *), void *arg, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	while (!pred(arg)) {
		if (now_ms() > end)
			return false;
		assert_true(loop_run_once(l, 10) >= 0);
	}
	return true;
}

static bool res_done(void *arg)
{
	return ((struct res *)arg)->done;
}

static void wait_done(struct loop *l, struct res *r)
{
	assert_true(run_until(l, res_done, r, 5000));
}

struct ctx {
	struct srv *s;
	struct loop *l;
	struct http_client *c;
	char base[64];
};

static void ctx_open(struct ctx *x, const struct http_client_config *cfg)
{
	static const struct http_client_config none;
	x->s = srv_start();
	x->l = loop_new(NULL);
	assert_non_null(x->l);
	x->c = http_client_new(x->l, cfg ? cfg : &none);
	snprintf(x->base, sizeof x->base, "http://127.0.0.1:%u", x->s->port);
}

static void ctx_close(struct ctx *x)
{
	http_client_free(x->c);
	loop_free(x->l);
	srv_stop(x->s);
}

static const char *url(struct ctx *x, const char *path)
{
	static char buf[4][160];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s%s", x->base, path);
	return buf[i];
}

static struct http_client_stats stats(struct http_client *c)
{
	struct http_client_stats st;
	http_client_get_stats(c, &st);
	return st;
}

/* ---- tests ---- */

static void test_url_parse(void **state)
{
	(void)state;
	struct http_url u;
	struct kc_err err;
	assert_int_equal(http_url_parse("http://example.com", &u, &err), 0);
	assert_false(u.tls);
	assert_string_equal(u.host, "example.com");
	assert_int_equal(u.port, 80);
	assert_int_equal(u.path_len, 0);

	const char *s = "HTTPS://Store-1.Local:2379/v3/kv/range?x=1&y=%20#frag";
	assert_int_equal(http_url_parse(s, &u, &err), 0);
	assert_true(u.tls);
	assert_string_equal(u.host, "store-1.local");
	assert_int_equal(u.port, 2379);
	assert_int_equal(u.path_len, strlen("/v3/kv/range?x=1&y=%20"));
	assert_memory_equal(u.path, "/v3/kv/range?x=1&y=%20", u.path_len);

	assert_int_equal(http_url_parse("https://[::1]:6443/api", &u, &err), 0);
	assert_string_equal(u.host, "::1");
	assert_true(u.host_is_v6);
	assert_int_equal(u.port, 6443);
	assert_int_equal(http_url_parse("https://[FD00::1]/", &u, &err), 0);
	assert_string_equal(u.host, "fd00::1");
	assert_int_equal(u.port, 443);
	assert_int_equal(http_url_parse("http://10.0.0.1:8080?watch=1", &u, &err), 0);
	assert_int_equal(u.port, 8080);
	assert_memory_equal(u.path, "?watch=1", u.path_len);
	assert_int_equal(http_url_parse("http://h:/x", &u, &err), 0);
	assert_int_equal(u.port, 80);

	static const char *const bad[] = {
		"",
		"ftp://x/",
		"http:/x",
		"http://",
		"http:///path",
		"http://user:pw@host/",
		"http://[::1/",
		"http://[::1]x/",
		"http://[zz]/",
		"http://[fe80::1%eth0]/",
		"http://1.2.3.4/a b",
		"http://host:0/",
		"http://host:65536/",
		"http://host:-1/",
		"http://host:+80/",
		"http://host:12345678901/",
		"http://ho st/",
		"http://host/\x7f",
		"http://host/\xc3\xa9",
		"http://ex%41mple/",
		NULL,
	};
	for (int i = 0; bad[i]; i++) {
		kc_err_clear(&err);
		if (http_url_parse(bad[i], &u, &err) != -KC_EINVAL)
			fail_msg("accepted bad URL '%s'", bad[i]);
		assert_int_equal(err.code, -KC_EINVAL);
		assert_true(err.msg[0] != '\0');
	}
	assert_int_equal(http_url_parse(NULL, &u, NULL), -KC_EINVAL);
}

static bool conns_zero(void *arg)
{
	return stats(arg).conns == 0;
}

static void test_content_length_keep_alive(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res a, b;
	res_init(&a);
	res_init(&b);
	submit(x.c, &a, "GET", url(&x, "/cl"));
	wait_done(x.l, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.status, 200);
	assert_true(kc_str_eq(&a.body, "hello"));
	assert_int_equal(a.nhead, 1);
	assert_string_equal(a.xreq, "1");
	assert_int_equal(stats(x.c).idle, 1);

	submit(x.c, &b, "GET", url(&x, "/cl"));
	wait_done(x.l, &b);
	assert_int_equal(b.rc, 0);
	assert_true(kc_str_eq(&b.body, "hello"));
	/* the same connection carried both requests */
	assert_string_equal(b.xconn, a.xconn);
	assert_string_equal(b.xreq, "2");
	struct http_client_stats st = stats(x.c);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.conns_opened, 1);
	assert_int_equal(st.reused, 1);
	assert_int_equal(st.retries, 0);
	assert_int_equal(atomic_load(&x.s->accepted), 1);
	kc_str_free(&a.body);
	kc_str_free(&b.body);
	ctx_close(&x);
}

static void test_chunked_until_close_and_more(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res r;

	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/chunked"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, "abcdefgh"));
	assert_int_equal(stats(x.c).idle, 1); /* chunked responses keep the connection */
	kc_str_free(&r.body);

	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/until-close"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, "all of it, until the end"));
	kc_str_free(&r.body);

	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/continue"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.status, 200);
	assert_true(kc_str_eq(&r.body, "ok"));
	kc_str_free(&r.body);

	/* HEAD: a Content-Length but no body; 204: no body; both keep the connection */
	res_init(&r);
	submit(x.c, &r, "HEAD", url(&x, "/head"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	char conn[32];
	snprintf(conn, sizeof conn, "%s", r.xconn);
	kc_str_free(&r.body);
	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/nocontent"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.status, 204);
	assert_string_equal(r.xconn, conn);
	kc_str_free(&r.body);

	/* Connection: close is honoured without waiting for the server's FIN */
	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/close-header"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, "ok"));
	assert_int_equal(atomic_load(&x.s->lingered), 0);
	assert_int_equal(stats(x.c).conns, 0);
	kc_str_free(&r.body);

	/* a 404 is a response, not an error */
	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/nowhere"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.status, 404);
	kc_str_free(&r.body);

	/* HTTP/1.0 without keep-alive: not reused */
	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/http10"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, "ok"));
	assert_int_equal(stats(x.c).idle, 0);
	kc_str_free(&r.body);

	/* stray bytes after a response: delivered fine, connection not reused */
	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/extra"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, "ok"));
	snprintf(conn, sizeof conn, "%s", r.xconn);
	kc_str_free(&r.body);
	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/cl"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_string_not_equal(r.xconn, conn);
	kc_str_free(&r.body);
	ctx_close(&x);
}

static void test_request_bodies(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res r;
	struct kc_err err;
	static const char json[] = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}";
	const struct http_client_header hdrs[] = {
		{ "Content-Type", "application/json" },
		{ "X-Empty", "" },
	};

	res_init(&r);
	struct http_client_request q = mkreq(&r, "POST", url(&x, "/echo"));
	q.headers = hdrs;
	q.nheaders = 2;
	q.body = json;
	q.body_len = strlen(json);
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), 0);
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, json));
	assert_string_equal(r.xmethod, "POST");
	assert_string_equal(r.xte, "-");
	kc_str_free(&r.body);

	res_init(&r);
	q = mkreq(&r, "PUT", url(&x, "/echo"));
	q.body = json;
	q.body_len = strlen(json);
	q.chunked = true;
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), 0);
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, json));
	assert_string_equal(r.xte, "chunked");
	kc_str_free(&r.body);

	/* empty POST: Content-Length: 0 so the server does not wait */
	res_init(&r);
	submit(x.c, &r, "POST", url(&x, "/echo"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.body.len, 0);
	kc_str_free(&r.body);

	/* a larger body than one socket buffer */
	size_t big = 60000;
	char *blob = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		blob[i] = (char)('a' + i % 26);
	res_init(&r);
	q = mkreq(&r, "POST", url(&x, "/echo"));
	q.body = blob;
	q.body_len = big;
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), 0);
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.body.len, big);
	assert_memory_equal(r.body.buf, blob, big);
	kc_str_free(&r.body);
	free(blob);
	assert_int_equal(stats(x.c).conns_opened, 1);
	ctx_close(&x);
}

static void test_submit_validation(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res r;
	struct kc_err err;
	res_init(&r);
	struct http_client_request q = mkreq(&r, "GET", "https://127.0.0.1/");
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), -KC_EINVAL); /* no TLS config */
	q = mkreq(&r, "GE T", url(&x, "/cl"));
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), -KC_EINVAL);
	q = mkreq(&r, "GET", "not a url");
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), -KC_EINVAL);
	static const struct http_client_header crlf[] = { { "X-A", "1\r\nX-Injected: 1" } };
	static const struct http_client_header host[] = { { "host", "evil" } };
	static const struct http_client_header name[] = { { "X A", "1" } };
	static const struct http_client_header te[] = { { "Transfer-Encoding", "chunked" } };
	const struct http_client_header *bad[] = { crlf, host, name, te };
	for (int i = 0; i < 4; i++) {
		q = mkreq(&r, "GET", url(&x, "/cl"));
		q.headers = bad[i];
		q.nheaders = 1;
		kc_err_clear(&err);
		assert_int_equal(http_client_submit(x.c, &q, NULL, &err), -KC_EINVAL);
		assert_true(err.msg[0] != '\0');
	}
	q = mkreq(&r, "GET", url(&x, "/cl"));
	q.on_done = NULL;
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), -KC_EINVAL);
	q = mkreq(&r, "GET", url(&x, "/cl"));
	q.stream = true; /* without on_data */
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), -KC_EINVAL);
	/* nothing was accepted, nothing calls back */
	for (int i = 0; i < 5; i++)
		loop_run_once(x.l, 5);
	assert_false(r.done);
	assert_int_equal(stats(x.c).requests, 0);
	assert_int_equal(stats(x.c).conns, 0);
	ctx_close(&x);
}

static void test_retry_stale_pooled_connection(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res a, b, p;
	res_init(&a);
	res_init(&b);
	res_init(&p);
	submit(x.c, &a, "GET", url(&x, "/flaky"));
	wait_done(x.l, &a);
	assert_int_equal(a.rc, 0);
	assert_string_equal(a.xconn, "1");
	/* the pooled connection is taken; the server reads the request and closes it */
	submit(x.c, &b, "GET", url(&x, "/flaky"));
	wait_done(x.l, &b);
	assert_int_equal(b.rc, 0);
	assert_true(kc_str_eq(&b.body, "hello"));
	assert_string_equal(b.xconn, "2");
	assert_string_equal(b.xreq, "1");
	struct http_client_stats st = stats(x.c);
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.reused, 1);
	assert_int_equal(atomic_load(&x.s->accepted), 2);

	/* a POST is not idempotent: the same race fails it instead */
	submit(x.c, &p, "POST", url(&x, "/flaky"));
	wait_done(x.l, &p);
	assert_int_equal(p.rc, -KC_ECLOSED);
	assert_non_null(strstr(p.err.msg, "closed"));
	assert_int_equal(stats(x.c).retries, 1);
	kc_str_free(&a.body);
	kc_str_free(&b.body);
	kc_str_free(&p.body);
	ctx_close(&x);
}

static bool idle_zero(void *arg)
{
	return stats(arg).idle == 0;
}

static void test_idle_closed_by_server(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res a, b;
	res_init(&a);
	res_init(&b);
	submit(x.c, &a, "GET", url(&x, "/cl-close"));
	wait_done(x.l, &a);
	assert_int_equal(a.rc, 0);
	/* the loop notices the FIN on the pooled connection and drops it */
	assert_true(run_until(x.l, idle_zero, x.c, 2000));
	assert_int_equal(stats(x.c).conns, 0);
	submit(x.c, &b, "GET", url(&x, "/cl"));
	wait_done(x.l, &b);
	assert_int_equal(b.rc, 0);
	assert_string_equal(b.xconn, "2");
	assert_int_equal(stats(x.c).retries, 0);
	assert_int_equal(stats(x.c).reused, 0);
	kc_str_free(&a.body);
	kc_str_free(&b.body);
	ctx_close(&x);
}

static void test_idle_timeout_and_max_idle(void **state)
{
	(void)state;
	struct http_client_config cfg = { .idle_timeout_ms = 50, .max_idle_per_origin = 1 };
	struct ctx x;
	ctx_open(&x, &cfg);
	struct res r[3];
	for (int i = 0; i < 3; i++) {
		res_init(&r[i]);
		submit(x.c, &r[i], "GET", url(&x, "/cl"));
	}
	for (int i = 0; i < 3; i++)
		wait_done(x.l, &r[i]);
	/* three connections in parallel; only one is kept */
	struct http_client_stats st = stats(x.c);
	assert_int_equal(st.conns_opened, 3);
	assert_int_equal(st.conns, 1);
	assert_int_equal(st.idle, 1);
	assert_true(run_until(x.l, conns_zero, x.c, 2000));
	for (int i = 0; i < 3; i++)
		kc_str_free(&r[i].body);
	ctx_close(&x);
}

static void test_streaming(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res r;
	struct kc_err err;
	res_init(&r);
	r.release = x.s; /* the server sends chunk n+1 only after the client got chunk n */
	struct http_client_request q = mkreq(&r, "GET", url(&x, "/stream"));
	q.stream = true;
	q.on_data = on_data;
	q.timeout_ms = 100; /* only until the head: the stream itself may run longer */
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), 0);
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.status, 200);
	assert_true(kc_str_eq(&r.body, "abcd"));
	assert_int_equal(r.ndata, 4);
	assert_int_equal(r.nhead, 1);
	assert_true(r.head_before_data);
	/* the connection goes back to the pool after the final chunk */
	assert_int_equal(stats(x.c).idle, 1);
	kc_str_free(&r.body);
	ctx_close(&x);
}

static bool client_gone(void *arg)
{
	return atomic_load(&((struct srv *)arg)->client_gone) > 0;
}

static void test_stream_cancel(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res r;
	struct kc_err err;
	res_init(&r);
	r.cancel_on_data = true;
	struct http_client_request q = mkreq(&r, "GET", url(&x, "/stream-forever"));
	q.stream = true;
	q.on_data = on_data;
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), 0);
	assert_true(run_until(x.l, client_gone, x.s, 5000));
	for (int i = 0; i < 5; i++)
		loop_run_once(x.l, 5);
	assert_false(r.done); /* no callback after cancel */
	assert_int_equal(r.ndata, 1);
	assert_int_equal(stats(x.c).conns, 0);
	kc_str_free(&r.body);
	ctx_close(&x);
}

static void test_stream_idle_timeout(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res r;
	struct kc_err err;
	res_init(&r);
	struct http_client_request q = mkreq(&r, "GET", url(&x, "/stream-forever"));
	q.stream = true;
	q.on_data = on_data;
	q.stream_idle_timeout_ms = 100;
	uint64_t t0 = now_ms();
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), 0);
	wait_done(x.l, &r);
	assert_int_equal(r.rc, -KC_ETIMEDOUT);
	assert_true(now_ms() - t0 >= 100);
	assert_int_equal(r.ndata, 1);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.err.msg, "no data"));
	assert_true(run_until(x.l, client_gone, x.s, 5000));
	kc_str_free(&r.body);
	ctx_close(&x);
}

static void test_request_timeout_and_cancel(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res r, w;
	struct kc_err err;
	res_init(&r);
	struct http_client_request q = mkreq(&r, "GET", url(&x, "/hang"));
	q.timeout_ms = 100;
	uint64_t t0 = now_ms();
	assert_int_equal(http_client_submit(x.c, &q, NULL, &err), 0);
	wait_done(x.l, &r);
	uint64_t took = now_ms() - t0;
	assert_int_equal(r.rc, -KC_ETIMEDOUT);
	assert_true(took >= 100 && took < 3000);
	assert_non_null(strstr(r.err.msg, "timed out"));
	assert_true(run_until(x.l, client_gone, x.s, 5000));
	assert_int_equal(stats(x.c).conns, 0);

	/* cancel an in-flight request: the connection goes, no callback */
	res_init(&w);
	submit(x.c, &w, "GET", url(&x, "/hang"));
	for (int i = 0; i < 20 && atomic_load(&x.s->requests) < 2; i++)
		loop_run_once(x.l, 10);
	http_client_cancel(w.req);
	assert_int_equal(stats(x.c).conns, 0);
	for (int i = 0; i < 5; i++)
		loop_run_once(x.l, 5);
	assert_false(w.done);
	ctx_close(&x);
}

static void test_body_limit(void **state)
{
	(void)state;
	struct http_client_config cfg = { .max_body_bytes = 10 };
	struct ctx x;
	ctx_open(&x, &cfg);
	static const char *const paths[] = { "/big", "/bigchunked", "/biguntilclose" };
	for (int i = 0; i < 3; i++) {
		struct res r;
		res_init(&r);
		submit(x.c, &r, "GET", url(&x, paths[i]));
		wait_done(x.l, &r);
		if (r.rc != -KC_ETOOBIG)
			fail_msg("%s: rc %d (%s)", paths[i], r.rc, r.err.msg);
		assert_int_equal(r.body.len, 0);
	}
	/* within the limit is fine */
	struct res ok;
	res_init(&ok);
	submit(x.c, &ok, "GET", url(&x, "/cl"));
	wait_done(x.l, &ok);
	assert_int_equal(ok.rc, 0);
	kc_str_free(&ok.body);
	ctx_close(&x);
}

static void test_malformed_responses(void **state)
{
	(void)state;
	struct http_client_config cfg = { .max_head_bytes = 4096 };
	struct ctx x;
	ctx_open(&x, &cfg);
	static const struct {
		const char *path;
		int rc;
	} cases[] = {
		{ "/garbage", -KC_EPROTO },  { "/badcl", -KC_EPROTO },
		{ "/badchunk", -KC_EPROTO }, { "/truncated", -KC_EPROTO },
		{ "/truncated-head", -KC_EPROTO }, { "/hugehead", -KC_ETOOBIG },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct res r;
		res_init(&r);
		submit(x.c, &r, "GET", url(&x, cases[i].path));
		wait_done(x.l, &r);
		if (r.rc != cases[i].rc)
			fail_msg("%s: rc %d (%s)", cases[i].path, r.rc, r.err.msg);
		assert_true(r.err.msg[0] != '\0');
		kc_str_free(&r.body);
	}
	/* noise: every request ends (any outcome), nothing crashes or hangs */
	for (int seed = 1; seed <= 200; seed++) {
		struct res n;
		char path[32];
		res_init(&n);
		snprintf(path, sizeof path, "/random-%d", seed);
		submit(x.c, &n, "GET", url(&x, path));
		wait_done(x.l, &n);
		assert_true(n.rc <= 0);
		if (n.rc < 0)
			assert_true(n.err.msg[0] != '\0');
		kc_str_free(&n.body);
	}
	/* the client is still fine afterwards */
	struct res r;
	res_init(&r);
	submit(x.c, &r, "GET", url(&x, "/cl"));
	wait_done(x.l, &r);
	assert_int_equal(r.rc, 0);
	kc_str_free(&r.body);
	ctx_close(&x);
}

static void test_max_conns_queue_and_eviction(void **state)
{
	(void)state;
	struct http_client_config cfg = { .max_conns = 1 };
	struct ctx x;
	ctx_open(&x, &cfg);
	struct res r[3];
	for (int i = 0; i < 3; i++) {
		res_init(&r[i]);
		submit(x.c, &r[i], "GET", url(&x, "/cl"));
	}
	assert_int_equal(stats(x.c).waiting, 2);
	for (int i = 0; i < 3; i++)
		wait_done(x.l, &r[i]);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].rc, 0);
		assert_string_equal(r[i].xconn, "1");
		char want[8];
		snprintf(want, sizeof want, "%d", i + 1); /* served in FIFO order */
		assert_string_equal(r[i].xreq, want);
		kc_str_free(&r[i].body);
	}
	assert_int_equal(stats(x.c).waiting, 0);
	/* another origin (same server by name) evicts the idle connection */
	char other[64];
	snprintf(other, sizeof other, "http://localhost:%u/cl", x.s->port);
	struct res o;
	res_init(&o);
	submit(x.c, &o, "GET", other);
	wait_done(x.l, &o);
	assert_int_equal(o.rc, 0);
	assert_string_equal(o.xconn, "2");
	assert_int_equal(stats(x.c).conns, 1);
	kc_str_free(&o.body);

	/* a waiting request can be canceled */
	struct res h, w;
	res_init(&h);
	res_init(&w);
	submit(x.c, &h, "GET", url(&x, "/hang"));
	submit(x.c, &w, "GET", url(&x, "/cl"));
	loop_run_once(x.l, 5);
	assert_int_equal(stats(x.c).waiting, 1);
	http_client_cancel(w.req);
	assert_int_equal(stats(x.c).waiting, 0);
	http_client_cancel(h.req);
	for (int i = 0; i < 5; i++)
		loop_run_once(x.l, 5);
	assert_false(h.done);
	assert_false(w.done);
	ctx_close(&x);
}

static void test_resubmit_from_on_done(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res a, b;
	res_init(&a);
	res_init(&b);
	a.resubmit = x.c;
	a.resubmit_res = &b;
	snprintf(a.url, sizeof a.url, "%s", url(&x, "/cl"));
	submit(x.c, &a, "GET", url(&x, "/cl"));
	wait_done(x.l, &b);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_string_equal(b.xconn, a.xconn);
	assert_string_equal(b.xreq, "2");
	kc_str_free(&a.body);
	kc_str_free(&b.body);
	ctx_close(&x);
}

static bool got_request(void *arg)
{
	return atomic_load(&((struct srv *)arg)->requests) > 0;
}

static void test_free_with_pending(void **state)
{
	(void)state;
	struct ctx x;
	ctx_open(&x, NULL);
	struct res r, w;
	res_init(&r);
	res_init(&w);
	submit(x.c, &r, "GET", url(&x, "/hang"));
	submit(x.c, &w, "GET", "http://127.0.0.1:1/never"); /* dialing (refused later) */
	assert_true(run_until(x.l, got_request, x.s, 5000));
	http_client_free(x.c);
	assert_true(r.done);
	assert_int_equal(r.rc, -KC_ECLOSED);
	assert_true(w.done);
	x.c = NULL;
	ctx_close(&x);
}

static void test_connect_refused(void **state)
{
	(void)state;
	/* a port that was just free */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sin;
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sl), 0);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	close(fd);
	char u[64];
	snprintf(u, sizeof u, "http://127.0.0.1:%u/", ntohs(sin.sin_port));

	struct loop *l = loop_new(NULL);
	static const struct http_client_config none;
	struct http_client *c = http_client_new(l, &none);
	struct res r;
	res_init(&r);
	submit(c, &r, "GET", u);
	assert_false(r.done); /* never from inside submit */
	wait_done(l, &r);
	assert_int_equal(r.rc, -ECONNREFUSED);
	assert_non_null(strstr(r.err.msg, "connect"));
	assert_int_equal(stats(c).conns, 0);
	http_client_free(c);
	loop_free(l);
}

/* A listener whose accept queue is full drops SYNs, so a connect hangs. Returns the listener
 * and its filler sockets through fds (count in *n), or -1 if this kernel does not do it. */
static int hanging_listener(int *fds, int *n, uint16_t *port)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sin;
	if (bind(lfd, (struct sockaddr *)&sin, sl) < 0 || listen(lfd, 0) < 0) {
		close(lfd);
		return -1;
	}
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	*port = ntohs(sin.sin_port);
	*n = 0;
	for (int i = 0; i < 8; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		fds[(*n)++] = fd;
		if (connect(fd, (struct sockaddr *)&sin, sl) == 0)
			continue;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 200) == 0)
			return lfd; /* this one hangs: so will the client's */
	}
	close(lfd);
	return -1;
}

static void test_connect_timeout(void **state)
{
	(void)state;
	int fds[8], n = 0;
	uint16_t port = 0;
	int lfd = hanging_listener(fds, &n, &port);
	if (lfd < 0) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		skip();
	}
	char u[64];
	snprintf(u, sizeof u, "http://127.0.0.1:%u/", port);
	struct http_client_config cfg = { .connect_timeout_ms = 100 };
	struct loop *l = loop_new(NULL);
	struct http_client *c = http_client_new(l, &cfg);
	struct res r;
	res_init(&r);
	submit(c, &r, "GET", u);
	wait_done(l, &r);
	assert_int_equal(r.rc, -KC_ETIMEDOUT);
	assert_non_null(strstr(r.err.msg, "connect"));
	http_client_free(c);
	loop_free(l);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(lfd);
}

/* Whether /etc/hosts maps name to 127.0.0.1, so resolving it sends nothing off the machine. */
static bool hosts_file_has_loopback(const char *name)
{
	FILE *f = fopen("/etc/hosts", "r");
	char line[512];
	bool found = false;
	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f)) {
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
		if (!tok || tok[0] == '#' || strcmp(tok, "127.0.0.1") != 0)
			continue;
		while (!found && (tok = strtok_r(NULL, " \t\r\n", &save)) && tok[0] != '#')
			found = strcmp(tok, name) == 0;
	}
	fclose(f);
	return found;
}

static void test_name_resolution(void **state)
{
	(void)state;
	/* the machine's own name, when /etc/hosts maps it to loopback: the lookup goes through
	 * the helper thread without any DNS traffic */
	char name[256];
	if (gethostname(name, sizeof name) < 0 || strcmp(name, "localhost") == 0 ||
	    !hosts_file_has_loopback(name))
		skip();
	struct ctx x;
	ctx_open(&x, NULL);
	char u[320];
	snprintf(u, sizeof u, "http://%s:%u/cl", name, x.s->port);
	struct res r;
	res_init(&r);
	submit(x.c, &r, "GET", u);
	wait_done(x.l, &r);
	if (r.rc != 0)
		fail_msg("%s: %s", u, r.err.msg);
	assert_true(kc_str_eq(&r.body, "hello"));
	kc_str_free(&r.body);
	/* a client freed while a lookup runs leaves the helper thread to finish alone */
	res_init(&r);
	submit(x.c, &r, "GET", u);
	http_client_free(x.c);
	x.c = NULL;
	assert_true(r.done);
	assert_int_equal(r.rc, -KC_ECLOSED);
	ctx_close(&x);
}

static void test_ipv6(void **state)
{
	(void)state;
	struct srv *s = srv_start_family(AF_INET6);
	if (!s)
		skip();
	struct loop *l = loop_new(NULL);
	static const struct http_client_config none;
	struct http_client *c = http_client_new(l, &none);
	char u[64];
	snprintf(u, sizeof u, "http://[::1]:%u/cl", s->port);
	struct res r;
	res_init(&r);
	submit(c, &r, "GET", u);
	wait_done(l, &r);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, "hello"));
	kc_str_free(&r.body);
	http_client_free(c);
	loop_free(l);
	srv_stop(s);
}

struct do_arg {
	const char *url;
	int rc;
	struct http_client_response resp;
	struct kc_err err;
};

static void *do_thread(void *arg)
{
	struct do_arg *a = arg;
	static const struct http_client_header h[] = { { "Accept", "text/plain" } };
	a->rc = http_client_do(NULL, "POST", a->url, h, 1, "ping", 4, &a->resp, &a->err);
	return NULL;
}

static void test_blocking_do(void **state)
{
	(void)state;
	struct srv *s = srv_start();
	char u[96];
	struct http_client_response resp;
	struct kc_err err;
	snprintf(u, sizeof u, "http://127.0.0.1:%u/cl", s->port);
	assert_int_equal(http_client_do(NULL, "GET", u, NULL, 0, NULL, 0, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body_len, 5);
	assert_string_equal(resp.body, "hello");
	assert_string_equal(http_client_response_header(&resp, "content-type"), "text/plain");
	assert_null(http_client_response_header(&resp, "nope"));
	http_client_response_free(&resp);
	http_client_response_free(&resp); /* freed responses are empty */
	http_client_response_free(NULL);

	/* from another thread, with a body */
	struct do_arg a = { 0 };
	char eu[96];
	snprintf(eu, sizeof eu, "http://127.0.0.1:%u/echo", s->port);
	a.url = eu;
	pthread_t th;
	pthread_create(&th, NULL, do_thread, &a);
	pthread_join(th, NULL);
	assert_int_equal(a.rc, 0);
	assert_string_equal(a.resp.body, "ping");
	http_client_response_free(&a.resp);

	/* errors */
	assert_int_equal(http_client_do(NULL, "GET", "gopher://x/", NULL, 0, NULL, 0, &resp, &err),
			 -KC_EINVAL);
	assert_null(resp.body);
	struct http_client_config cfg = { .request_timeout_ms = 100 };
	snprintf(u, sizeof u, "http://127.0.0.1:%u/hang", s->port);
	assert_int_equal(http_client_do(&cfg, "GET", u, NULL, 0, NULL, 0, &resp, &err),
			 -KC_ETIMEDOUT);
	assert_int_equal(err.code, -KC_ETIMEDOUT);
	assert_int_equal(resp.status, 0);
	srv_stop(s);
}

static void https_get(struct loop *l, struct http_client *c, struct res *r, const char *u)
{
	res_init(r);
	submit(c, r, "GET", u);
	wait_done(l, r);
}

static void test_https(void **state)
{
	(void)state;
	struct kc_err err;
	int64_t now = (int64_t)time(NULL);
	struct kc_cert *ca = NULL, *other_ca = NULL, *server_cert = NULL;
	struct kc_key *ca_key = NULL, *other_key = NULL, *server_key = NULL;
	assert_int_equal(kc_ca_create("http-client-test-ca", now, &ca, &ca_key, &err), 0);
	assert_int_equal(kc_ca_create("someone-else", now, &other_ca, &other_key, &err), 0);
	assert_int_equal(kc_key_generate(&server_key, &err), 0);
	static const char *const ips[] = { "127.0.0.1" };
	static const char *const dns[] = { "localhost" };
	struct kc_cert_spec spec = {
		.cn = "http-client-test-server",
		.dns_names = dns,
		.ndns = 1,
		.ips = ips,
		.nips = 1,
		.not_before = now - 60,
		.not_after = now + 3600,
	};
	assert_int_equal(kc_cert_sign_server(ca, ca_key, server_key, &spec, &server_cert, &err), 0);
	struct tls_server_opts so = { .chain = server_cert, .key = server_key };
	struct tls_server_config *scfg = NULL;
	assert_int_equal(tls_server_config_new(&so, &scfg, &err), 0);
	struct tls_client_opts co = { .ca = ca }, bad_co = { .ca = other_ca };
	struct tls_client_config *ccfg = NULL, *bad_ccfg = NULL;
	assert_int_equal(tls_client_config_new(&co, &ccfg, &err), 0);
	assert_int_equal(tls_client_config_new(&bad_co, &bad_ccfg, &err), 0);
	struct srv *s = srv_start_tls(AF_INET, scfg);
	assert_non_null(s);

	struct http_client_config cfg = { .tls = ccfg };
	struct loop *l = loop_new(NULL);
	struct http_client *c = http_client_new(l, &cfg);
	char u[96];
	struct res a, b, r;

	/* verified against the IP SAN; two requests share one TLS connection */
	snprintf(u, sizeof u, "https://127.0.0.1:%u/cl", s->port);
	https_get(l, c, &a, u);
	if (a.rc != 0)
		fail_msg("%s: %s", u, a.err.msg);
	assert_true(kc_str_eq(&a.body, "hello"));
	https_get(l, c, &b, u);
	assert_int_equal(b.rc, 0);
	assert_string_equal(b.xconn, a.xconn);
	assert_string_equal(b.xreq, "2");
	kc_str_free(&a.body);
	kc_str_free(&b.body);

	/* a DNS name, a chunked body, and a paced stream over TLS */
	snprintf(u, sizeof u, "https://localhost:%u/chunked", s->port);
	https_get(l, c, &r, u);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, "abcdefgh"));
	kc_str_free(&r.body);
	res_init(&r);
	r.release = s;
	snprintf(u, sizeof u, "https://127.0.0.1:%u/stream", s->port);
	struct http_client_request q = mkreq(&r, "GET", u);
	q.stream = true;
	q.on_data = on_data;
	assert_int_equal(http_client_submit(c, &q, NULL, &err), 0);
	wait_done(l, &r);
	assert_int_equal(r.rc, 0);
	assert_true(kc_str_eq(&r.body, "abcd"));
	assert_int_equal(r.ndata, 4);
	kc_str_free(&r.body);
	http_client_free(c);

	/* the blocking call over https */
	struct http_client_response resp;
	snprintf(u, sizeof u, "https://127.0.0.1:%u/cl", s->port);
	assert_int_equal(http_client_do(&cfg, "GET", u, NULL, 0, NULL, 0, &resp, &err), 0);
	assert_string_equal(resp.body, "hello");
	http_client_response_free(&resp);

	/* a name the certificate does not carry, and an untrusted CA */
	struct http_client_config wrong_name = { .tls = ccfg, .tls_server_name = "other.example" };
	assert_int_equal(http_client_do(&wrong_name, "GET", u, NULL, 0, NULL, 0, &resp, &err),
			 -KC_ETLS);
	struct http_client_config untrusted = { .tls = bad_ccfg };
	assert_int_equal(http_client_do(&untrusted, "GET", u, NULL, 0, NULL, 0, &resp, &err),
			 -KC_ETLS);
	assert_non_null(strstr(err.msg, "127.0.0.1"));
	assert_non_null(strstr(err.msg, "TLS handshake failed"));
	/* plain HTTP to a TLS port: a malformed response (or a close), never a crash */
	snprintf(u, sizeof u, "http://127.0.0.1:%u/cl", s->port);
	struct http_client_config quick = { .request_timeout_ms = 2000 };
	assert_true(http_client_do(&quick, "GET", u, NULL, 0, NULL, 0, &resp, &err) < 0);

	loop_free(l);
	srv_stop(s);
	tls_client_config_free(ccfg);
	tls_client_config_free(bad_ccfg);
	kc_cert_free(ca);
	kc_cert_free(other_ca);
	kc_cert_free(server_cert);
	kc_key_free(ca_key);
	kc_key_free(other_key);
	kc_key_free(server_key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_content_length_keep_alive),
		cmocka_unit_test(test_chunked_until_close_and_more),
		cmocka_unit_test(test_request_bodies),
		cmocka_unit_test(test_submit_validation),
		cmocka_unit_test(test_retry_stale_pooled_connection),
		cmocka_unit_test(test_idle_closed_by_server),
		cmocka_unit_test(test_idle_timeout_and_max_idle),
		cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_stream_cancel),
		cmocka_unit_test(test_stream_idle_timeout),
		cmocka_unit_test(test_request_timeout_and_cancel),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_malformed_responses),
		cmocka_unit_test(test_max_conns_queue_and_eviction),
		cmocka_unit_test(test_resubmit_from_on_done),
		cmocka_unit_test(test_free_with_pending),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_name_resolution),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_blocking_do),
		cmocka_unit_test(test_https),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
