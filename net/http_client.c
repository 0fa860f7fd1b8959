/* DESIGN: the HTTP/1.1 client. Everything here runs on the thread of the client's loop, except
 * the resolver threads (see below) and http_url_parse / http_client_do.
 *
 * Owns: connections (struct conn), pooled per origin (scheme+host+port, struct origin, kept in
 * a map until the client is freed) and requests (struct http_client_req). A request is always in
 * exactly one place: the FIFO c->waiting (no connection yet), reserved by a connection that is
 * resolving/connecting for it (DIALING), or served by an established connection (ACTIVE). A
 * connection serves one request at a time (no pipelining); between requests it sits in its
 * origin's idle list (most recently used first) and in the client-wide LRU used to evict idle
 * connections when max_conns is reached. Every connection counts against max_conns from the
 * moment it is dialed.
 *
 * Flow: submit builds the whole request on the wire ("wire", kept for one retry) and queues it;
 * pump() hands waiters an idle connection of their origin, or dials a new one reserved for
 * them. Responses are parsed by net/http_parse (heads, chunked coding) from the connection's
 * input buffer; buffered bodies accumulate in the request up to max_body_bytes, streamed bodies
 * go to on_data piece by piece. A response that is complete, keep-alive, framed, and left no
 * stray bytes returns its connection to the pool.
 *
 * Retry: a server may close an idle keep-alive connection just as we reuse it. When a request
 * on a reused connection fails before any response byte arrived and its method is idempotent,
 * it is sent once more on a freshly dialed connection (not another pooled one, which may be
 * just as stale), taking the slot the dead connection freed.
 *
 * Re-entrancy: user callbacks run only at the tail of a code path: the request (and usually its
 * connection) is detached first, and the caller returns right after the callback without
 * touching the connection again. on_head/on_data run while the request is still attached;
 * http_client_cancel from inside them only sets a flag that the caller checks on return.
 * submit never calls back: immediate connect failures are reported through a 0 ms timer.
 *
 * Names other than "localhost" and IP literals are resolved with getaddrinfo on a detached
 * helper thread per connection. The job is reference-counted between that thread and the
 * connection and signals through its own eventfd, so the thread never touches the loop and a
 * connection (or client, or loop) may go away while the lookup is still running. */
#include "net/http_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/str.h"
#include "net/addr.h"
#include "net/http_parse.h"
#include "net/loop.h"
#include "net/tls.h"
#include "net/transport.h"

#ifndef KC_VERSION
#define KC_VERSION "0.0.0"
#endif

#define DEF_MAX_IDLE 8u
#define DEF_MAX_CONNS 256u
#define DEF_IDLE_MS 90000u
#define DEF_CONNECT_MS 10000u
#define DEF_REQUEST_MS 60000u
#define DEF_MAX_BODY (64ull << 20)
#define READ_CHUNK 16384u
#define READS_PER_WAKE 16
#define MAX_ADDRS 8
#define MAX_METHOD 64
#define RESOLVER_STACK (256u * 1024u)

enum { GO = 0, STOP = 1 };

/* ---- types ---- */

struct origin {
	bool tls;
	char host[HTTP_URL_HOST_MAX];
	uint16_t port;
	char name[HTTP_URL_HOST_MAX + 8];  /* "host:port" or "[v6]:port", for messages */
	struct kc_list idle;  /* struct conn.idle_link, most recently used first */
	unsigned nidle;
};

enum conn_state {
	CONN_RESOLVING,   /* io watches the resolver job's eventfd */
	CONN_CONNECTING,  /* io watches the socket for EPOLLOUT */
	CONN_FAILED,      /* timer at 0 ms reports fail_rc to the reserved request */
	CONN_IDLE,        /* in the pools; io watches for the peer closing */
	CONN_ACTIVE,      /* serving req */
};

struct resolve_job {
	atomic_int refs;     /* the thread's and the connection's */
	atomic_bool done;    /* results below are published (release) */
	int efd;             /* closed by the last reference */
	char host[HTTP_URL_HOST_MAX];
	uint16_t port;
	int rc;
	char msg[128];
	struct sockaddr_storage addrs[MAX_ADDRS];
	socklen_t lens[MAX_ADDRS];
	unsigned n;
};

struct conn {
	struct http_client *c;
	struct origin *o;
	enum conn_state state;
	uint64_t id;
	struct kc_list all_link;   /* c->conns */
	struct kc_list idle_link;  /* o->idle while CONN_IDLE */
	struct kc_list lru_link;   /* c->idle_lru while CONN_IDLE, least recently used first */
	struct loop_io io;
	struct loop_timer timer;   /* connect deadline, idle deadline, or deferred failure */
	struct loop_timer kick;    /* TLS holds decrypted bytes after a read budget ran out */
	int fd;                    /* socket while connecting; then owned by t */
	struct transport *t;
	struct resolve_job *job;
	struct sockaddr_storage addrs[MAX_ADDRS];
	socklen_t lens[MAX_ADDRS];
	unsigned naddrs, next_addr;
	int fail_rc;
	struct kc_err fail_err;
	struct http_client_req *req;  /* reserved (dialing) or served (active) */
	struct kc_str in;             /* received, not yet consumed */
	unsigned served;              /* responses completed on this connection */
	unsigned rwant, wwant;        /* what the transport asked for on read / write */
	int write_rc;                 /* a failed write, reported unless a response still comes */
};

enum req_where { REQ_NONE, REQ_WAITING, REQ_DIALING, REQ_ACTIVE };

struct http_client_req {
	struct http_client *c;
	struct origin *o;
	enum req_where where;
	struct conn *k;              /* REQ_DIALING, REQ_ACTIVE */
	struct kc_list link;         /* c->waiting while REQ_WAITING */
	struct kc_list all_link;     /* c->reqs until freed */
	struct loop_timer timer;     /* request deadline, then (streaming) the idle deadline */
	char method[MAX_METHOD + 1];
	struct kc_str wire;          /* the whole request as sent */
	size_t wire_off;
	uint32_t timeout_ms, stream_idle_ms;
	bool idempotent, stream, retried, reused;
	bool got_bytes, head_done, keep_alive;
	bool in_cb, canceled, finishing;
	http_client_head_cb on_head;
	http_client_data_cb on_data;
	http_client_done_cb on_done;
	void *arg;
	struct http_client_response resp;
	enum http_body_kind body_kind;
	uint64_t remaining;          /* HTTP_BODY_LENGTH */
	struct http_chunked chunked;
	struct kc_str body;          /* buffered mode */
};

struct http_client {
	struct loop *l;
	struct http_client_config cfg;  /* defaults applied */
	struct http_limits lim;
	struct http_header *hdrs;       /* parser scratch, lim.max_headers entries */
	struct kc_map origins;          /* key -> struct origin * */
	struct kc_list conns, idle_lru, waiting, reqs;
	unsigned nconns, nidle, nwaiting;
	struct http_client_stats stats;
	uint64_t next_id;
	bool closing;
};

static void conn_io_cb(struct loop *l, struct loop_io *io, uint32_t events);
static void conn_timer_cb(struct loop *l, struct loop_timer *t);
static void conn_kick_cb(struct loop *l, struct loop_timer *t);
static void req_timer_cb(struct loop *l, struct loop_timer *t);
static void pump(struct http_client *c);

/* ---- URLs ---- */

static bool host_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

int http_url_parse(const char *url, struct http_url *out, struct kc_err *err)
{
	memset(out, 0, sizeof *out);
	if (!url)
		return kc_err_set(err, -KC_EINVAL, "no URL given");
	const char *p;
	if (kc_strncaseeq(url, "http://", 7)) {
		p = url + 7;
	} else if (kc_strncaseeq(url, "https://", 8)) {
		p = url + 8;
		out->tls = true;
	} else {
		return kc_err_set(err, -KC_EINVAL, "URL '%.80s': scheme must be http:// or https://",
				  url);
	}
	size_t alen = strcspn(p, "/?#");
	const char *end = p + alen, *portp = NULL;
	if (alen == 0)
		return kc_err_set(err, -KC_EINVAL, "URL '%.80s' has no host", url);
	if (memchr(p, '@', alen))
		return kc_err_set(err, -KC_EINVAL, "URL '%.80s': user info is not supported", url);
	if (p[0] == '[') {
		const char *close = memchr(p, ']', alen);
		size_t hl = close ? (size_t)(close - p - 1) : 0;
		struct net_ip ip;
		if (!close || hl == 0 || hl >= sizeof out->host)
			return kc_err_set(err, -KC_EINVAL, "URL '%.80s': bad IPv6 literal", url);
		memcpy(out->host, p + 1, hl);
		out->host[hl] = '\0';
		if (net_ip_parse(out->host, &ip) < 0 || ip.family != AF_INET6)
			return kc_err_set(err, -KC_EINVAL, "URL '%.80s': bad IPv6 literal", url);
		for (char *h = out->host; *h; h++)
			if (*h >= 'A' && *h <= 'Z')
				*h = (char)(*h - 'A' + 'a');
		out->host_is_v6 = true;
		if (close + 1 < end) {
			if (close[1] != ':')
				return kc_err_set(err, -KC_EINVAL, "URL '%.80s': junk after ']'", url);
			portp = close + 2;
		}
	} else {
		const char *colon = memchr(p, ':', alen);
		size_t hl = colon ? (size_t)(colon - p) : alen;
		if (hl == 0 || hl >= sizeof out->host)
			return kc_err_set(err, -KC_EINVAL, "URL '%.80s': bad host", url);
		for (size_t i = 0; i < hl; i++) {
			unsigned char ch = (unsigned char)p[i];
			if (!host_char(ch))
				return kc_err_set(err, -KC_EINVAL,
						  "URL '%.80s': invalid character in host", url);
			out->host[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
		}
		out->host[hl] = '\0';
		if (colon)
			portp = colon + 1;
	}
	out->port = out->tls ? 443 : 80;
	if (portp && portp < end) {
		size_t pl = (size_t)(end - portp);
		char buf[8];
		bool digits = pl < sizeof buf;
		for (size_t i = 0; digits && i < pl; i++)
			digits = portp[i] >= '0' && portp[i] <= '9';
		if (digits) {
			memcpy(buf, portp, pl);
			buf[pl] = '\0';
		}
		if (!digits || net_port_parse(buf, &out->port) < 0)
			return kc_err_set(err, -KC_EINVAL, "URL '%.80s': bad port", url);
	}
	size_t plen = strcspn(end, "#");
	for (size_t i = 0; i < plen; i++) {
		unsigned char ch = (unsigned char)end[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return kc_err_set(err, -KC_EINVAL,
					  "URL '%.80s': path must be printable ASCII without spaces", url);
	}
	out->path = end;
	out->path_len = plen;
	return 0;
}

/* ---- responses ---- */

void http_client_response_free(struct http_client_response *r)
{
	if (!r)
		return;
	free(r->headers);
	free(r->storage);
	free(r->body);
	memset(r, 0, sizeof *r);
}

const char *http_client_response_header(const struct http_client_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (kc_strcaseeq(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

/* Copies a parsed head (which points into the connection's buffer) into req->resp. */
static void copy_head(struct http_client_req *req, const struct http_head *h)
{
	struct http_client_response *r = &req->resp;
	size_t total = 1;
	for (unsigned i = 0; i < h->nheaders; i++)
		total += h->headers[i].name.n + h->headers[i].value.n + 2;
	r->status = h->status;
	r->version_minor = h->version_minor;
	r->storage = xmalloc(total);
	r->headers = xcalloc(h->nheaders ? h->nheaders : 1, sizeof *r->headers);
	r->nheaders = h->nheaders;
	char *s = r->storage;
	for (unsigned i = 0; i < h->nheaders; i++) {
		const struct http_slice *parts[2] = { &h->headers[i].name, &h->headers[i].value };
		for (int j = 0; j < 2; j++) {
			memcpy(s, parts[j]->p, parts[j]->n);
			if (j == 0)
				r->headers[i].name = s;
			else
				r->headers[i].value = s;
			s += parts[j]->n;
			*s++ = '\0';
		}
	}
}

/* ---- name resolution on a helper thread ---- */

static void job_unref(struct resolve_job *j)
{
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) {
		close(j->efd);
		free(j);
	}
}

static void *resolve_main(void *arg)
{
	struct resolve_job *j = arg;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(j->host, NULL, &hints, &res);
	if (g != 0) {
		j->rc = -KC_EUNAVAIL;
		snprintf(j->msg, sizeof j->msg, "%s", g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
	} else {
		for (struct addrinfo *ai = res; ai && j->n < MAX_ADDRS; ai = ai->ai_next) {
			struct net_ip ip;
			if (net_sockaddr_parse(ai->ai_addr, &ip, NULL) < 0)
				continue;
			j->lens[j->n] = net_sockaddr(&ip, j->port, &j->addrs[j->n]);
			j->n++;
		}
		if (j->n == 0) {
			j->rc = -KC_EUNAVAIL;
			snprintf(j->msg, sizeof j->msg, "no IPv4 or IPv6 address");
		}
		freeaddrinfo(res);
	}
	atomic_store_explicit(&j->done, true, memory_order_release);
	uint64_t one = 1;
	(void)!write(j->efd, &one, sizeof one);
	job_unref(j);
	return NULL;
}

/* Starts a lookup for k; returns 0 or a negative code with err set. */
static int resolve_start(struct conn *k, struct kc_err *err)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return kc_err_set(err, -errno, "resolve %s: eventfd: %s", k->o->host, strerror(errno));
	struct resolve_job *j = xcalloc(1, sizeof *j);
	atomic_init(&j->refs, 2);
	atomic_init(&j->done, false);
	j->efd = efd;
	snprintf(j->host, sizeof j->host, "%s", k->o->host);
	j->port = k->o->port;
	loop_io_init(&k->io, efd, conn_io_cb, k);
	int rc = loop_io_start(k->c->l, &k->io, EPOLLIN);
	if (rc < 0) {
		close(efd);
		free(j);
		return kc_err_set(err, rc, "resolve %s: %s", k->o->host, kc_strerror(rc));
	}
	pthread_attr_t attr;
	pthread_t tid;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, RESOLVER_STACK);
	rc = pthread_create(&tid, &attr, resolve_main, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		loop_io_stop(k->c->l, &k->io);
		close(efd);
		free(j);
		return kc_err_set(err, -rc, "resolve %s: thread: %s", k->o->host, strerror(rc));
	}
	k->job = j;
	k->state = CONN_RESOLVING;
	return 0;
}

/* ---- connections ---- */

static void conn_unidle(struct conn *k)
{
	kc_list_del(&k->idle_link);
	kc_list_del(&k->lru_link);
	k->o->nidle--;
	k->c->nidle--;
}

/* Closes k and frees it. k->req must already be detached. Does not pump. */
static void conn_close(struct conn *k)
{
	struct http_client *c = k->c;
	kc_assert(!k->req);
	if (k->state == CONN_IDLE)
		conn_unidle(k);
	loop_timer_stop(c->l, &k->timer);
	loop_timer_stop(c->l, &k->kick);
	if (k->job) {
		loop_io_stop(c->l, &k->io);
		job_unref(k->job);
	} else if (k->t) {
		loop_io_stop(c->l, &k->io);
		transport_close(k->t);
	} else if (k->fd >= 0) {
		loop_io_stop(c->l, &k->io);
		close(k->fd);
	}
	log_debug("http client connection closed id=%llu host=%s port=%u served=%u",
		  (unsigned long long)k->id, k->o->host, k->o->port, k->served);
	kc_str_free(&k->in);
	kc_list_del(&k->all_link);
	c->nconns--;
	free(k);
}

static void conn_update_events(struct conn *k)
{
	uint32_t ev = EPOLLIN;
	struct http_client_req *req = k->req;
	bool writing = req && !k->write_rc && req->wire_off < req->wire.len;
	if ((writing && k->wwant == EPOLLOUT) || k->rwant == EPOLLOUT)
		ev |= EPOLLOUT;
	int rc = loop_io_start(k->c->l, &k->io, ev);
	if (rc < 0)
		log_warn("http client epoll failed err=%s", kc_strerror(rc));
}

/* Puts req on established connection k; the request goes out when the socket is writable. */
static void conn_assign(struct conn *k, struct http_client_req *req)
{
	struct http_client *c = k->c;
	loop_timer_stop(c->l, &k->timer);
	k->state = CONN_ACTIVE;
	k->req = req;
	k->rwant = EPOLLIN;
	k->wwant = EPOLLOUT;
	k->write_rc = 0;
	req->k = k;
	req->where = REQ_ACTIVE;
	req->reused = k->served > 0;
	if (req->reused)
		c->stats.reused++;
	conn_update_events(k);
}

/* k has no request: give it to the oldest waiter of its origin, pool it, or close it. */
static void conn_release(struct conn *k)
{
	struct http_client *c = k->c;
	struct kc_list *it, *tmp;
	if (!c->closing) {
		kc_list_each_safe(&c->waiting, it, tmp) {
			struct http_client_req *req = kc_container_of(it, struct http_client_req, link);
			if (req->o != k->o)
				continue;
			kc_list_del(&req->link);
			c->nwaiting--;
			conn_assign(k, req);
			return;
		}
	}
	if (c->closing || k->o->nidle >= c->cfg.max_idle_per_origin) {
		conn_close(k);
		return;
	}
	k->state = CONN_IDLE;
	kc_list_push_front(&k->o->idle, &k->idle_link);
	kc_list_push_back(&c->idle_lru, &k->lru_link);
	k->o->nidle++;
	c->nidle++;
	loop_timer_start(c->l, &k->timer, c->cfg.idle_timeout_ms);
	int rc = loop_io_start(c->l, &k->io, EPOLLIN | EPOLLRDHUP);
	if (rc < 0)
		log_warn("http client epoll failed err=%s", kc_strerror(rc));
}

static struct conn *conn_new(struct http_client *c, struct origin *o)
{
	struct conn *k = xcalloc(1, sizeof *k);
	k->c = c;
	k->o = o;
	k->id = ++c->next_id;
	k->fd = -1;
	kc_list_init(&k->idle_link);
	kc_list_init(&k->lru_link);
	kc_list_push_back(&c->conns, &k->all_link);
	loop_timer_init(&k->timer, conn_timer_cb, k);
	loop_timer_init(&k->kick, conn_kick_cb, k);
	loop_io_init(&k->io, -1, conn_io_cb, k);
	kc_str_init(&k->in);
	c->nconns++;
	return k;
}

/* Reports a failure to connect after the current call stack unwinds (keeps submit free of
 * callbacks). */
static void conn_defer_fail(struct conn *k, int rc, const struct kc_err *err)
{
	k->state = CONN_FAILED;
	k->fail_rc = rc;
	k->fail_err = *err;
	loop_timer_start(k->c->l, &k->timer, 0);
}

static void req_done(struct http_client_req *req, int rc, const struct kc_err *err);

/* The dial failed: fail the request it was reserved for, if any. */
static void conn_fail_connect(struct conn *k, int rc, const struct kc_err *err)
{
	struct http_client_req *req = k->req;
	struct kc_err e = *err; /* err may live in k */
	log_debug("http client connect failed origin=%s err=%s", k->o->name, e.msg);
	k->req = NULL;
	conn_close(k);
	if (req) {
		req->k = NULL;
		req->where = REQ_NONE;
		req_done(req, rc, &e);
	}
}

static void set_sockopts(int fd)
{
	int one = 1, idle = 30, intvl = 10, cnt = 3;
	/* Keepalive probes let long-lived watches notice a peer that vanished. Best effort. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

/* Tries the next address; when none is left, defers the failure. */
static void conn_connect_next(struct conn *k)
{
	struct http_client *c = k->c;
	int rc = k->fail_rc ? k->fail_rc : -ECONNREFUSED;
	while (k->next_addr < k->naddrs) {
		unsigned i = k->next_addr++;
		int fd = socket(k->addrs[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		set_sockopts(fd);
		if (connect(fd, (struct sockaddr *)&k->addrs[i], k->lens[i]) < 0 &&
		    errno != EINPROGRESS && errno != EINTR) {
			rc = -errno;
			close(fd);
			continue;
		}
		loop_io_init(&k->io, fd, conn_io_cb, k);
		rc = loop_io_start(c->l, &k->io, EPOLLOUT);
		if (rc < 0) {
			close(fd);
			continue;
		}
		k->fd = fd;
		k->state = CONN_CONNECTING;
		return;
	}
	struct kc_err e;
	kc_err_set(&e, rc, "connect to %s: %s", k->o->name, kc_strerror(rc));
	conn_defer_fail(k, rc, &e);
}

/* Opens a connection to o, reserved for req (may be NULL). Never calls back. */
static void dial(struct http_client *c, struct origin *o, struct http_client_req *req)
{
	struct conn *k = conn_new(c, o);
	struct net_ip ip;
	k->req = req;
	if (req) {
		req->k = k;
		req->where = REQ_DIALING;
	}
	log_debug("http client dialing id=%llu host=%s port=%u", (unsigned long long)k->id, o->host,
		  o->port);
	loop_timer_start(c->l, &k->timer, c->cfg.connect_timeout_ms);
	if (net_ip_parse(o->host, &ip) == 0) {
		k->lens[0] = net_sockaddr(&ip, o->port, &k->addrs[0]);
		k->naddrs = 1;
	} else if (strcmp(o->host, "localhost") == 0) {
		net_ip_parse("127.0.0.1", &ip);
		k->lens[0] = net_sockaddr(&ip, o->port, &k->addrs[0]);
		net_ip_parse("::1", &ip);
		k->lens[1] = net_sockaddr(&ip, o->port, &k->addrs[1]);
		k->naddrs = 2;
	} else {
		struct kc_err e;
		int rc = resolve_start(k, &e);
		if (rc < 0)
			conn_defer_fail(k, rc, &e);
		return;
	}
	conn_connect_next(k);
}

/* Wraps the connected socket; takes ownership of fd in every case. */
static int make_transport(struct conn *k, int fd, struct transport **out, struct kc_err *err)
{
	const struct http_client *c = k->c;
	if (!k->o->tls) {
		*out = transport_plain_new(fd);
		return 0;
	}
	const char *name = c->cfg.tls_server_name ? c->cfg.tls_server_name : k->o->host;
	int rc = tls_client_wrap(c->cfg.tls, fd, name, out, err);
	if (rc < 0)
		kc_err_wrap(err, "TLS to %s", k->o->name);
	return rc;
}

static void on_resolved(struct conn *k)
{
	struct resolve_job *j = k->job;
	uint64_t v;
	(void)!read(j->efd, &v, sizeof v);
	if (!atomic_load_explicit(&j->done, memory_order_acquire))
		return;
	loop_io_stop(k->c->l, &k->io);
	k->job = NULL;
	if (j->rc < 0) {
		struct kc_err e;
		kc_err_set(&e, j->rc, "resolve %s: %s", j->host, j->msg);
		job_unref(j);
		conn_fail_connect(k, e.code, &e);
		return;
	}
	for (unsigned i = 0; i < j->n; i++) {
		k->addrs[i] = j->addrs[i];
		k->lens[i] = j->lens[i];
	}
	k->naddrs = j->n;
	job_unref(j);
	conn_connect_next(k);
}

static void on_connect_event(struct conn *k)
{
	struct http_client *c = k->c;
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr == EINPROGRESS)
		return;
	loop_io_stop(c->l, &k->io);
	if (soerr) {
		close(k->fd);
		k->fd = -1;
		k->fail_rc = -soerr;
		conn_connect_next(k);
		return;
	}
	struct kc_err e;
	struct transport *t = NULL;
	int fd = k->fd;
	k->fd = -1;
	int rc = make_transport(k, fd, &t, &e);
	if (rc < 0) {
		conn_fail_connect(k, rc, &e);
		return;
	}
	k->t = t;
	loop_io_init(&k->io, fd, conn_io_cb, k);
	loop_timer_stop(c->l, &k->timer);
	c->stats.conns_opened++;
	log_debug("http client connected id=%llu host=%s port=%u", (unsigned long long)k->id,
		  k->o->host, k->o->port);
	if (k->req)
		conn_assign(k, k->req);
	else
		conn_release(k);
}

static void on_idle_event(struct conn *k)
{
	char b[256];
	unsigned want = 0;
	ssize_t n = transport_read(k->t, b, sizeof b, &want);
	if (n == -EAGAIN) {
		/* e.g. a TLS record that carried no application data */
		uint32_t ev = EPOLLIN | EPOLLRDHUP | (want == EPOLLOUT ? EPOLLOUT : 0);
		(void)loop_io_start(k->c->l, &k->io, ev);
		return;
	}
	log_debug("http client idle connection %s id=%llu host=%s",
		  n == 0 ? "closed by peer" : n > 0 ? "got stray bytes" : "failed",
		  (unsigned long long)k->id, k->o->host);
	conn_close(k);
}

/* ---- requests ---- */

static void req_free(struct http_client_req *req)
{
	loop_timer_stop(req->c->l, &req->timer);
	kc_list_del(&req->all_link);
	kc_str_free(&req->wire);
	kc_str_free(&req->body);
	http_client_response_free(&req->resp);
	free(req);
}

/* Runs on_done for a request detached from everything, then frees it. */
static void req_done(struct http_client_req *req, int rc, const struct kc_err *err)
{
	struct kc_err none;
	loop_timer_stop(req->c->l, &req->timer);
	req->finishing = true;
	req->where = REQ_NONE;
	if (!err) {
		kc_err_clear(&none);
		err = &none;
	}
	if (rc == 0 && !req->stream)
		req->resp.body = kc_str_detach(&req->body, &req->resp.body_len);
	req->on_done(req, rc, &req->resp, err, req->arg);
	req_free(req);
}

/* Takes req out of wherever it is; a connection serving it is closed. */
static void req_detach(struct http_client_req *req)
{
	struct http_client *c = req->c;
	switch (req->where) {
	case REQ_WAITING:
		kc_list_del(&req->link);
		c->nwaiting--;
		break;
	case REQ_DIALING:
		req->k->req = NULL;
		break;
	case REQ_ACTIVE:
		req->k->req = NULL;
		conn_close(req->k);
		break;
	case REQ_NONE:
		break;
	}
	req->k = NULL;
	req->where = REQ_NONE;
}

/* Forgets the response state so the request can be sent again. */
static void req_reset(struct http_client_req *req)
{
	req->wire_off = 0;
	req->got_bytes = false;
	req->head_done = false;
	req->keep_alive = false;
	req->remaining = 0;
	req->body_kind = HTTP_BODY_NONE;
	kc_str_reset(&req->body);
	http_client_response_free(&req->resp);
}

/* Fails the request on k (or retries it on a fresh connection when the failure is the keep-alive
 * race); k is closed. Returns STOP. */
static int conn_error(struct conn *k, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int conn_error(struct conn *k, int rc, const char *fmt, ...)
{
	struct http_client *c = k->c;
	struct http_client_req *req = k->req;
	struct origin *o = k->o;
	struct kc_err e;
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	kc_err_set(&e, rc, "%s %s: %s", req->method, o->name, what);
	k->req = NULL;
	req->k = NULL;
	req->where = REQ_NONE;
	bool retry = req->reused && !req->got_bytes && req->idempotent && !req->retried &&
		     rc != -KC_ETIMEDOUT && !c->closing;
	conn_close(k);
	if (retry) {
		log_debug("http client retrying on a new connection host=%s port=%u err=%s", o->host,
			  o->port, e.msg);
		req->retried = true;
		c->stats.retries++;
		req_reset(req);
		dial(c, o, req);
		return STOP;
	}
	req_done(req, rc, &e);
	return STOP;
}

/* The response on k is complete. Returns STOP. */
static int conn_complete(struct conn *k)
{
	struct http_client_req *req = k->req;
	bool reuse = req->keep_alive && req->body_kind != HTTP_BODY_UNTIL_CLOSE &&
		     req->wire_off == req->wire.len && !k->write_rc && k->in.len == 0;
	k->req = NULL;
	k->served++;
	req->k = NULL;
	req->where = REQ_NONE;
	if (reuse)
		conn_release(k);
	else
		conn_close(k);
	req_done(req, 0, NULL);
	return STOP;
}

/* The user canceled the request on k from inside a callback. Returns STOP. */
static int conn_abort(struct conn *k)
{
	struct http_client_req *req = k->req;
	k->req = NULL;
	req->k = NULL;
	req->where = REQ_NONE;
	conn_close(k);
	req_free(req);
	return STOP;
}

static int deliver(struct conn *k, const char *p, size_t n)
{
	struct http_client_req *req = k->req;
	if (req->stream) {
		req->in_cb = true;
		req->on_data(req, p, n, req->arg);
		req->in_cb = false;
		return req->canceled ? conn_abort(k) : GO;
	}
	if (n > k->c->cfg.max_body_bytes - req->body.len)
		return conn_error(k, -KC_ETOOBIG, "response body over %llu bytes",
				  (unsigned long long)k->c->cfg.max_body_bytes);
	kc_str_add(&req->body, p, n);
	return GO;
}

static int on_head(struct conn *k, const struct http_head *h, long n)
{
	struct http_client *c = k->c;
	struct http_client_req *req = k->req;
	copy_head(req, h);
	kc_str_consume(&k->in, (size_t)n);
	req->head_done = true;
	req->body_kind = h->body;
	req->remaining = h->content_length;
	req->keep_alive = h->keep_alive;
	if (h->body == HTTP_BODY_CHUNKED)
		http_chunked_init(&req->chunked);
	if (!req->stream && h->body == HTTP_BODY_LENGTH && h->content_length > c->cfg.max_body_bytes)
		return conn_error(k, -KC_ETOOBIG, "response body of %llu bytes is over the limit of %llu",
				  (unsigned long long)h->content_length,
				  (unsigned long long)c->cfg.max_body_bytes);
	if (req->stream) {
		loop_timer_stop(c->l, &req->timer);
		if (req->stream_idle_ms)
			loop_timer_start(c->l, &req->timer, req->stream_idle_ms);
	}
	if (req->on_head) {
		req->in_cb = true;
		req->on_head(req, &req->resp, req->arg);
		req->in_cb = false;
		if (req->canceled)
			return conn_abort(k);
	}
	return GO;
}

/* Consumes what k->in holds for the current response. Returns GO (wants more bytes) or STOP
 * (the request finished or k is gone). */
static int process(struct conn *k)
{
	struct http_client *c = k->c;
	struct http_client_req *req = k->req;
	while (!req->head_done) {
		if (k->in.len == 0)
			return GO;
		struct http_head h;
		long n = http_parse_response(k->in.buf, k->in.len, &c->lim, req->method, c->hdrs, &h);
		if (n == 0)
			return GO;
		if (n == -431)
			return conn_error(k, -KC_ETOOBIG, "response head over the limits");
		if (n < 0)
			return conn_error(k, -KC_EPROTO, "malformed response head");
		if (h.status == 101)
			return conn_error(k, -KC_EUNSUPPORTED, "unexpected protocol switch");
		if (h.status < 200) {
			kc_str_consume(&k->in, (size_t)n);
			continue;
		}
		if (on_head(k, &h, n) == STOP)
			return STOP;
	}
	for (;;) {
		switch (req->body_kind) {
		case HTTP_BODY_NONE:
			return conn_complete(k);
		case HTTP_BODY_LENGTH: {
			size_t take = k->in.len < req->remaining ? k->in.len : (size_t)req->remaining;
			if (take) {
				if (deliver(k, k->in.buf, take) == STOP)
					return STOP;
				kc_str_consume(&k->in, take);
				req->remaining -= take;
			}
			return req->remaining == 0 ? conn_complete(k) : GO;
		}
		case HTTP_BODY_CHUNKED: {
			if (k->in.len == 0)
				return GO;
			size_t out_len = 0;
			uint64_t limit = req->stream ? 0 : c->cfg.max_body_bytes;
			long n = http_chunked_decode(&req->chunked, k->in.buf, k->in.len, limit, &out_len);
			if (n == -413)
				return conn_error(k, -KC_ETOOBIG, "response body over %llu bytes",
						  (unsigned long long)limit);
			if (n < 0)
				return conn_error(k, -KC_EPROTO, "malformed chunked body");
			if (out_len && deliver(k, k->in.buf, out_len) == STOP)
				return STOP;
			kc_str_consume(&k->in, (size_t)n);
			if (req->chunked.done)
				return conn_complete(k);
			if (n == 0)
				return GO;
			break;
		}
		case HTTP_BODY_UNTIL_CLOSE:
			if (k->in.len) {
				if (deliver(k, k->in.buf, k->in.len) == STOP)
					return STOP;
				kc_str_reset(&k->in);
			}
			return GO;
		}
	}
}

/* Names an I/O failure; a TLS failure before the handshake finished is most likely about the
 * server's certificate (mbedTLS's exact reason is logged by net/tls at debug level). */
static int conn_io_error(struct conn *k, int rc, const char *op)
{
	if (rc == -KC_ETLS && k->o->tls && !tls_version(k->t)[0])
		return conn_error(k, rc,
				  "TLS handshake failed (server certificate not trusted or not valid "
				  "for '%s', or no common protocol; details at debug level)",
				  k->c->cfg.tls_server_name ? k->c->cfg.tls_server_name : k->o->host);
	return conn_error(k, rc, "%s: %s", op, kc_strerror(rc));
}

/* The peer closed k (read returned 0). */
static void conn_eof(struct conn *k)
{
	struct http_client_req *req = k->req;
	if (req->head_done && req->body_kind == HTTP_BODY_UNTIL_CLOSE) {
		req->keep_alive = false;
		conn_complete(k);
		return;
	}
	if (k->write_rc && !req->got_bytes) {
		conn_io_error(k, k->write_rc, "send request");
		return;
	}
	if (!req->got_bytes) {
		conn_error(k, -KC_ECLOSED, "connection closed before the response");
		return;
	}
	conn_error(k, -KC_EPROTO, req->head_done ? "response body truncated"
						 : "response head truncated");
}

/* Writes what is pending, reads what is there. */
static void conn_drive(struct conn *k)
{
	struct http_client *c = k->c;
	struct http_client_req *req = k->req;
	bool retried = false;
again:
	while (!k->write_rc && req->wire_off < req->wire.len) {
		unsigned want = 0;
		ssize_t n = transport_write(k->t, req->wire.buf + req->wire_off,
					    req->wire.len - req->wire_off, &want);
		if (n > 0) {
			req->wire_off += (size_t)n;
			continue;
		}
		if (n == -EAGAIN) {
			k->wwant = want ? want : EPOLLOUT;
			break;
		}
		/* Keep reading: the server may have answered (and closed) before taking it all. */
		k->write_rc = n == 0 ? -EPIPE : (int)n;
	}
	for (int i = 0; i < READS_PER_WAKE; i++) {
		unsigned want = 0;
		kc_str_reserve(&k->in, READ_CHUNK);
		ssize_t n = transport_read(k->t, k->in.buf + k->in.len, READ_CHUNK, &want);
		if (n == -EAGAIN) {
			k->rwant = want ? want : EPOLLIN;
			/* A TLS write waits for the handshake, which this read may just have
			 * finished: nothing else would wake the write (the server waits for the
			 * request), so try it once more. */
			if (!retried && !k->write_rc && req->wire_off < req->wire.len &&
			    k->wwant == EPOLLIN) {
				retried = true;
				goto again;
			}
			if (k->write_rc) {
				conn_io_error(k, k->write_rc, "send request");
				return;
			}
			conn_update_events(k);
			return;
		}
		if (n < 0) {
			conn_io_error(k, (int)n, "receive response");
			return;
		}
		if (n == 0) {
			conn_eof(k);
			return;
		}
		kc_str_setlen(&k->in, k->in.len + (size_t)n);
		req->got_bytes = true;
		if (req->stream && req->head_done && req->stream_idle_ms)
			loop_timer_start(c->l, &req->timer, req->stream_idle_ms);
		if (process(k) == STOP)
			return;
	}
	/* Budget used up. Plain sockets are level-triggered; decrypted TLS bytes are not. */
	if (transport_pending(k->t))
		loop_timer_start(c->l, &k->kick, 0);
	conn_update_events(k);
}

/* ---- loop callbacks ---- */

static void conn_io_cb(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct conn *k = io->data;
	struct http_client *c = k->c;
	switch (k->state) {
	case CONN_RESOLVING:
		on_resolved(k);
		break;
	case CONN_CONNECTING:
		on_connect_event(k);
		break;
	case CONN_IDLE:
		on_idle_event(k);
		break;
	case CONN_ACTIVE:
		conn_drive(k);
		break;
	case CONN_FAILED:
		break;
	}
	pump(c);
}

static void conn_timer_cb(struct loop *l, struct loop_timer *t)
{
	struct conn *k = t->data;
	struct http_client *c = k->c;
	struct kc_err e;
	switch (k->state) {
	case CONN_RESOLVING:
	case CONN_CONNECTING:
		kc_err_set(&e, -KC_ETIMEDOUT, "connect to %s: timed out after %u ms", k->o->name,
			   c->cfg.connect_timeout_ms);
		conn_fail_connect(k, e.code, &e);
		break;
	case CONN_FAILED:
		conn_fail_connect(k, k->fail_rc, &k->fail_err);
		break;
	case CONN_IDLE:
		log_debug("http client idle connection expired id=%llu host=%s",
			  (unsigned long long)k->id, k->o->host);
		conn_close(k);
		break;
	case CONN_ACTIVE:
		break;
	}
	pump(c);
}

static void conn_kick_cb(struct loop *l, struct loop_timer *t)
{
	struct conn *k = t->data;
	struct http_client *c = k->c;
	if (k->state == CONN_ACTIVE)
		conn_drive(k);
	pump(c);
}

static void req_timer_cb(struct loop *l, struct loop_timer *t)
{
	struct http_client_req *req = t->data;
	struct http_client *c = req->c;
	struct kc_err e;
	if (req->stream && req->head_done)
		kc_err_set(&e, -KC_ETIMEDOUT, "%s %s: no data for %u ms", req->method, req->o->name,
			   req->stream_idle_ms);
	else
		kc_err_set(&e, -KC_ETIMEDOUT, "%s %s: timed out after %u ms", req->method,
			   req->o->name, req->timeout_ms);
	req_detach(req);
	req_done(req, e.code, &e);
	pump(c);
}

/* Serves waiting requests in FIFO order while connections are available. */
static void pump(struct http_client *c)
{
	struct kc_list *it, *tmp;
	if (c->closing)
		return;
	kc_list_each_safe(&c->waiting, it, tmp) {
		struct http_client_req *req = kc_container_of(it, struct http_client_req, link);
		struct kc_list *first = kc_list_first(&req->o->idle);
		if (first) {
			struct conn *k = kc_container_of(first, struct conn, idle_link);
			conn_unidle(k);
			kc_list_del(&req->link);
			c->nwaiting--;
			conn_assign(k, req);
			continue;
		}
		if (c->nconns >= c->cfg.max_conns && c->nidle) {
			struct conn *lru =
				kc_container_of(kc_list_first(&c->idle_lru), struct conn, lru_link);
			conn_close(lru);
		}
		if (c->nconns >= c->cfg.max_conns)
			break;
		kc_list_del(&req->link);
		c->nwaiting--;
		dial(c, req->o, req);
	}
}

/* ---- public API ---- */

struct http_client *http_client_new(struct loop *l, const struct http_client_config *cfg)
{
	struct http_client *c = xcalloc(1, sizeof *c);
	c->l = l;
	c->cfg = *cfg;
	if (!c->cfg.max_idle_per_origin)
		c->cfg.max_idle_per_origin = DEF_MAX_IDLE;
	if (!c->cfg.max_conns)
		c->cfg.max_conns = DEF_MAX_CONNS;
	if (!c->cfg.idle_timeout_ms)
		c->cfg.idle_timeout_ms = DEF_IDLE_MS;
	if (!c->cfg.connect_timeout_ms)
		c->cfg.connect_timeout_ms = DEF_CONNECT_MS;
	if (!c->cfg.request_timeout_ms)
		c->cfg.request_timeout_ms = DEF_REQUEST_MS;
	if (!c->cfg.max_body_bytes)
		c->cfg.max_body_bytes = DEF_MAX_BODY;
	if (!c->cfg.max_head_bytes)
		c->cfg.max_head_bytes = HTTP_MAX_HEAD_DEFAULT;
	if (!c->cfg.max_headers)
		c->cfg.max_headers = HTTP_MAX_HEADERS_DEFAULT;
	c->lim.max_head_bytes = c->cfg.max_head_bytes;
	c->lim.max_headers = c->cfg.max_headers;
	c->lim.max_body_bytes = c->cfg.max_body_bytes;
	c->hdrs = xcalloc(c->cfg.max_headers, sizeof *c->hdrs);
	kc_map_init(&c->origins, free);
	kc_list_init(&c->conns);
	kc_list_init(&c->idle_lru);
	kc_list_init(&c->waiting);
	kc_list_init(&c->reqs);
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	struct kc_list *it, *tmp;
	c->closing = true;
	kc_list_each_safe(&c->reqs, it, tmp) {
		struct http_client_req *req = kc_container_of(it, struct http_client_req, all_link);
		req_detach(req);
	}
	while (!kc_list_empty(&c->conns))
		conn_close(kc_container_of(kc_list_first(&c->conns), struct conn, all_link));
	while (!kc_list_empty(&c->reqs)) {
		struct http_client_req *req =
			kc_container_of(kc_list_first(&c->reqs), struct http_client_req, all_link);
		struct kc_err e;
		kc_err_set(&e, -KC_ECLOSED, "%s %s: client closed", req->method, req->o->name);
		req_done(req, e.code, &e);
	}
	kc_map_free(&c->origins);
	free(c->hdrs);
	free(c);
}

static bool tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!tchar((unsigned char)*s))
			return false;
	return true;
}

static bool is_field_value(const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

static bool method_in(const char *m, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(m, *list) == 0)
			return true;
	return false;
}

static int check_request(const struct http_client *c, const struct http_client_request *r,
			 const struct http_url *u, struct kc_err *err)
{
	static const char *const reserved[] = { "host", "content-length", "transfer-encoding",
						"connection", "upgrade", NULL };
	if (c->closing)
		return kc_err_set(err, -KC_ECLOSED, "http client is closing");
	if (!r->on_done || (r->stream && !r->on_data))
		return kc_err_set(err, -KC_EINVAL, "request without %s callback",
				  r->on_done ? "on_data" : "on_done");
	if (!r->method || strlen(r->method) > MAX_METHOD || !is_token(r->method))
		return kc_err_set(err, -KC_EINVAL, "invalid method '%.32s'",
				  r->method ? r->method : "");
	if (u->tls && !c->cfg.tls)
		return kc_err_set(err, -KC_EINVAL, "%.80s: https needs a TLS configuration", r->url);
	if (r->body_len && !r->body)
		return kc_err_set(err, -KC_EINVAL, "body length without a body");
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct http_client_header *h = &r->headers[i];
		if (!h->name || !h->value || !is_token(h->name) || !is_field_value(h->value))
			return kc_err_set(err, -KC_EINVAL, "invalid request header '%.64s'",
					  h->name ? h->name : "");
		for (const char *const *n = reserved; *n; n++)
			if (kc_strcaseeq(h->name, *n))
				return kc_err_set(err, -KC_EINVAL,
						  "request header '%s' is set by the client", h->name);
	}
	return 0;
}

static void build_wire(const struct http_client *c, const struct http_client_request *r,
		       const struct http_url *u, struct kc_str *w)
{
	static const char *const bodyless[] = { "GET", "HEAD", "DELETE", "OPTIONS", "TRACE", NULL };
	bool user_agent = false;
	kc_str_addf(w, "%s ", r->method);
	if (u->path_len == 0 || u->path[0] != '/')
		kc_str_addc(w, '/');
	kc_str_add(w, u->path, u->path_len);
	kc_str_adds(w, " HTTP/1.1\r\nHost: ");
	kc_str_adds(w, u->host_is_v6 ? "[" : "");
	kc_str_adds(w, u->host);
	kc_str_adds(w, u->host_is_v6 ? "]" : "");
	if (u->port != (u->tls ? 443 : 80))
		kc_str_addf(w, ":%u", u->port);
	kc_str_adds(w, "\r\n");
	for (size_t i = 0; i < r->nheaders; i++) {
		kc_str_addf(w, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
		user_agent |= kc_strcaseeq(r->headers[i].name, "user-agent");
	}
	if (!user_agent)
		kc_str_addf(w, "User-Agent: %s\r\n",
			    c->cfg.user_agent ? c->cfg.user_agent : "kc/" KC_VERSION);
	if (r->chunked)
		kc_str_adds(w, "Transfer-Encoding: chunked\r\n");
	else if (r->body_len || !method_in(r->method, bodyless))
		kc_str_addf(w, "Content-Length: %zu\r\n", r->body_len);
	kc_str_adds(w, "\r\n");
	if (r->chunked) {
		if (r->body_len) {
			kc_str_addf(w, "%zx\r\n", r->body_len);
			kc_str_add(w, r->body, r->body_len);
			kc_str_adds(w, "\r\n");
		}
		kc_str_adds(w, "0\r\n\r\n");
	} else if (r->body_len) {
		kc_str_add(w, r->body, r->body_len);
	}
}

static struct origin *origin_get(struct http_client *c, const struct http_url *u)
{
	char key[HTTP_URL_HOST_MAX + 16];
	int n = snprintf(key, sizeof key, "%c|%s|%u", u->tls ? 's' : 'p', u->host, u->port);
	struct origin *o = kc_map_get(&c->origins, key, (size_t)n);
	if (o)
		return o;
	o = xcalloc(1, sizeof *o);
	o->tls = u->tls;
	snprintf(o->host, sizeof o->host, "%s", u->host);
	o->port = u->port;
	snprintf(o->name, sizeof o->name, "%s%s%s:%u", u->host_is_v6 ? "[" : "", u->host,
		 u->host_is_v6 ? "]" : "", u->port);
	kc_list_init(&o->idle);
	kc_map_put(&c->origins, key, (size_t)n, o);
	return o;
}

int http_client_submit(struct http_client *c, const struct http_client_request *r,
		       struct http_client_req **out, struct kc_err *err)
{
	static const char *const idempotent[] = { "GET", "HEAD", "PUT", "DELETE", "OPTIONS",
						  "TRACE", NULL };
	struct http_url u;
	int rc = http_url_parse(r->url, &u, err);
	if (rc < 0)
		return rc;
	rc = check_request(c, r, &u, err);
	if (rc < 0)
		return rc;
	struct http_client_req *req = xcalloc(1, sizeof *req);
	req->c = c;
	req->o = origin_get(c, &u);
	snprintf(req->method, sizeof req->method, "%s", r->method);
	kc_str_init(&req->wire);
	kc_str_init(&req->body);
	build_wire(c, r, &u, &req->wire);
	req->idempotent = method_in(r->method, idempotent);
	req->stream = r->stream;
	req->timeout_ms = r->timeout_ms ? r->timeout_ms : c->cfg.request_timeout_ms;
	req->stream_idle_ms = r->stream ? r->stream_idle_timeout_ms : 0;
	req->on_head = r->on_head;
	req->on_data = r->on_data;
	req->on_done = r->on_done;
	req->arg = r->arg;
	kc_list_push_back(&c->reqs, &req->all_link);
	loop_timer_init(&req->timer, req_timer_cb, req);
	loop_timer_start(c->l, &req->timer, req->timeout_ms);
	req->where = REQ_WAITING;
	kc_list_push_back(&c->waiting, &req->link);
	c->nwaiting++;
	c->stats.requests++;
	pump(c);
	if (out)
		*out = req;
	return 0;
}

void http_client_cancel(struct http_client_req *req)
{
	if (!req || req->finishing)
		return;
	if (req->in_cb) {
		req->canceled = true;
		return;
	}
	struct http_client *c = req->c;
	req_detach(req);
	req_free(req);
	pump(c);
}

void http_client_get_stats(const struct http_client *c, struct http_client_stats *out)
{
	*out = c->stats;
	out->conns = c->nconns;
	out->idle = c->nidle;
	out->waiting = c->nwaiting;
}

/* ---- blocking ---- */

struct do_state {
	bool done;
	int rc;
	struct http_client_response resp;
	struct kc_err err;
};

static void do_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		    const struct kc_err *err, void *arg)
{
	struct do_state *st = arg;
	st->done = true;
	st->rc = rc;
	st->err = *err;
	if (rc == 0) {
		st->resp = *resp;
		memset(resp, 0, sizeof *resp);
	}
}

int http_client_do(const struct http_client_config *cfg, const char *method, const char *url,
		   const struct http_client_header *headers, size_t nheaders, const void *body,
		   size_t body_len, struct http_client_response *out, struct kc_err *err)
{
	static const struct http_client_config defaults;
	struct do_state st = { 0 };
	memset(out, 0, sizeof *out);
	struct loop *l = loop_new(NULL);
	if (!l)
		return kc_err_set(err, -errno, "http client: event loop: %s", strerror(errno));
	struct http_client *c = http_client_new(l, cfg ? cfg : &defaults);
	struct http_client_request r = {
		.method = method,
		.url = url,
		.headers = headers,
		.nheaders = nheaders,
		.body = body,
		.body_len = body_len,
		.on_done = do_done,
		.arg = &st,
	};
	int rc = http_client_submit(c, &r, NULL, err);
	while (rc == 0 && !st.done) {
		int n = loop_run_once(l, -1);
		if (n < 0)
			rc = kc_err_set(err, n, "http client: event loop: %s", kc_strerror(n));
	}
	http_client_free(c);
	loop_free(l);
	if (rc < 0) {
		http_client_response_free(&st.resp);
		return rc;
	}
	if (st.rc < 0) {
		if (err)
			*err = st.err;
		return st.rc;
	}
	*out = st.resp;
	return 0;
}
