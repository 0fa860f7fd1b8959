/* DESIGN: the pods/log and pods/exec subresources, proxied to the node agent that runs the pod.
 *
 * One struct px per request, on the request's loop thread from start to end:
 *   1. registry_get of the pod: spec.nodeName (400 when unscheduled), the container (query
 *      'container', else the first one; 400 when the pod has no such container);
 *   2. registry_get of the Node: status.addresses InternalIP and
 *      status.daemonEndpoints.kubeletEndpoint.Port;
 *   3. a non-blocking TCP connect and a TLS client transport verifying the kubelet's serving
 *      certificate (signed by the cluster CA, IP SAN = InternalIP) and presenting the
 *      apiserver-kubelet-client certificate; the request is written and the response head read
 *      (HEAD_TIMEOUT_MS for all of step 3);
 *   4. log: HTTP/1.0 request, so the node's body is close-delimited; a 200 is streamed to the
 *      client chunk by chunk (reading from the node pauses while the client's output is
 *      congested), the stream ends when the node closes. Other statuses become a Status with the
 *      node's text as message.
 *      exec: the client's WebSocket key and subprotocols are forwarded; on the node's 101 the
 *      client gets a 101 with the node's Sec-WebSocket-Accept (computed from the same key) and
 *      chosen protocol, then raw bytes are relayed both ways (each direction one buffer; a side
 *      is read only while the buffer towards the other is empty) until either side closes.
 * The client going away (on_close) tears everything down. */
#include "roles/apiserver/nodeproxy.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cJSON.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/addr.h"
#include "net/http_parse.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/tls.h"
#include "net/transport.h"
#include "net/ws.h"
#include "roles/apiserver/registry.h"
#include "roles/apiserver/schema.h"
#include "roles/apiserver/status.h"
#include "store/mvcc.h"

#define HEAD_TIMEOUT_MS 15000
#define HEAD_MAX 16384
#define HEAD_MAX_HEADERS 64
#define ERR_BODY_MAX 4096
#define RELAY_BUF 65536

struct nodeproxy {
	struct registry *reg;
	const struct api_resource *pods, *nodes;
	struct tls_client_config *tls;
};

enum px_phase { PX_LOOKUP, PX_HEAD, PX_LOG, PX_ERRBODY, PX_RELAY };

/* One side of a relayed connection: 'out' holds bytes waiting to be written to it. */
struct px_end {
	struct transport *t;
	struct loop_io io;
	bool io_started;
	unsigned rd_want, wr_want;
	bool eof;
	char out[RELAY_BUF];
	size_t out_len, out_off;
};

struct px {
	struct nodeproxy *np;
	struct loop *l;
	struct http_req *req;      /* NULL once finished */
	bool exec;
	enum px_phase phase;
	char ns[256], name[256], container[256];
	char node_ip[64];
	uint16_t node_port;
	struct kc_str request;     /* to the node */
	size_t req_off;
	char head[HEAD_MAX];
	size_t head_len;
	int status;
	size_t err_want;           /* PX_ERRBODY: body bytes to read (capped) */
	bool err_until_close;      /* PX_ERRBODY: close-delimited (or chunked: read raw, capped) */
	bool streaming;            /* PX_LOG: http_stream_begin done */
	bool paused;               /* PX_LOG: the client is congested */
	struct loop_timer timer;
	struct px_end node, client;
};

/* ---- set-up ---- */

int nodeproxy_new(const struct nodeproxy_config *cfg, struct nodeproxy **out, struct kc_err *err)
{
	struct tls_client_opts o = { .ca = cfg->ca, .cert = cfg->cert, .key = cfg->key };
	struct tls_client_config *tls;
	int rc = tls_client_config_new(&o, &tls, err);
	if (rc < 0)
		return rc;
	struct nodeproxy *np = xcalloc(1, sizeof *np);
	np->reg = cfg->reg;
	np->pods = schema_resource(cfg->schema, "", "v1", "pods");
	np->nodes = schema_resource(cfg->schema, "", "v1", "nodes");
	np->tls = tls;
	*out = np;
	return 0;
}

struct tls_client_config *nodeproxy_tls(struct nodeproxy *np)
{
	return np ? np->tls : NULL;
}

void nodeproxy_free(struct nodeproxy *np)
{
	if (!np)
		return;
	tls_client_config_free(np->tls);
	free(np);
}

/* ---- endings ---- */

static void respond_status(struct http_req *req, int code, const char *reason, const char *fmt,
			   ...) __attribute__((format(printf, 4, 5)));
static void respond_status(struct http_req *req, int code, const char *reason, const char *fmt, ...)
{
	struct api_error e = { 0 };
	char msg[sizeof e.message];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	api_err(&e, code, reason, "%s", msg);
	struct kc_str out = KC_STR_INIT;
	api_err_json(&e, &out);
	http_respond(req, code, "application/json", out.buf, out.len);
	kc_str_free(&out);
}

static void end_close(struct px *p, struct px_end *e)
{
	if (e->io_started)
		loop_io_stop(p->l, &e->io);
	e->io_started = false;
	transport_close(e->t);
	e->t = NULL;
}

/* Releases everything; the req must have been finished before. */
static void px_free(struct px *p)
{
	loop_timer_stop(p->l, &p->timer);
	end_close(p, &p->node);
	end_close(p, &p->client);
	kc_str_free(&p->request);
	free(p);
}

/* Finishes the req with a Status error (if still held) and frees p. */
static void px_fail(struct px *p, int code, const char *reason, const char *msg)
{
	if (p->req) {
		if (p->streaming)
			http_stream_end(p->req);
		else
			respond_status(p->req, code, reason, "%s", msg);
		p->req = NULL;
	}
	px_free(p);
}

static void on_client_close(struct http_req *req, void *arg)
{
	struct px *p = arg;
	if (p->streaming)
		http_stream_end(req);
	else
		http_req_abort(req);
	p->req = NULL;
	px_free(p);
}

/* ---- the node's response ---- */

static void node_events(struct px *p);
static void pump(struct px *p);

static void on_timeout(struct loop *l, struct loop_timer *t)
{
	(void)l;
	struct px *p = t->data;
	char msg[200];
	snprintf(msg, sizeof msg, "error dialing backend: the node %s:%u did not answer in time",
		 p->node_ip, p->node_port);
	px_fail(p, 503, "ServiceUnavailable", msg);
}

static const char *hdr(const struct http_head *h, const char *name, char *buf, size_t cap)
{
	const struct http_header *x = http_find_header(h, name);
	if (!x)
		return NULL;
	size_t n = x->value.n < cap - 1 ? x->value.n : cap - 1;
	memcpy(buf, x->value.p, n);
	buf[n] = 0;
	return buf;
}

static void upgraded(struct loop *l, struct transport *t, const char *leftover, size_t len,
		     void *arg);

/* The whole head is in p->head[0..hlen): act on it. Returns false when p was freed. */
static bool got_head(struct px *p, const struct http_head *h, size_t hlen)
{
	loop_timer_stop(p->l, &p->timer);
	p->status = h->status;
	size_t rest = p->head_len - hlen;
	memmove(p->head, p->head + hlen, rest);
	p->head_len = rest;
	if (p->exec && h->status == 101) {
		char acc[128], proto[128];
		if (!hdr(h, "Sec-WebSocket-Accept", acc, sizeof acc)) {
			px_fail(p, 500, "InternalError", "the node answered the upgrade without "
				"Sec-WebSocket-Accept");
			return false;
		}
		http_resp_header(p->req, "Sec-WebSocket-Accept", acc);
		if (hdr(h, "Sec-WebSocket-Protocol", proto, sizeof proto))
			http_resp_header(p->req, "Sec-WebSocket-Protocol", proto);
		/* node bytes that followed the 101 are relayed first */
		memcpy(p->client.out, p->head, rest);
		p->client.out_len = rest;
		p->head_len = 0;
		p->phase = PX_RELAY;
		if (p->node.io_started)
			loop_io_stop(p->l, &p->node.io);
		p->node.io_started = false;
		struct http_req *req = p->req;
		p->req = NULL;
		http_upgrade(req, "websocket", upgraded, p);
		return false;
	}
	if (!p->exec && h->status == 200) {
		p->phase = PX_LOG;
		http_req_long_running(p->req);
		http_stream_begin(p->req, 200, "text/plain");
		p->streaming = true;
		if (rest && http_stream_write(p->req, p->head, rest) == HTTP_STREAM_CONGESTED)
			p->paused = true;
		p->head_len = 0;
		return true;
	}
	p->phase = PX_ERRBODY;
	p->err_until_close = h->body != HTTP_BODY_LENGTH && h->body != HTTP_BODY_NONE;
	p->err_want = h->body == HTTP_BODY_LENGTH ? (size_t)(h->content_length < ERR_BODY_MAX ?
							      h->content_length : ERR_BODY_MAX) : 0;
	return true;
}

/* Turns the node's error answer into a Status. */
static void err_body_done(struct px *p)
{
	char msg[ERR_BODY_MAX + 1];
	size_t n = p->head_len < ERR_BODY_MAX ? p->head_len : ERR_BODY_MAX;
	memcpy(msg, p->head, n);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
		n--;
	msg[n] = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 && msg[i] != '\n' && msg[i] != '\t')
			msg[i] = ' ';
	int code = p->status >= 400 && p->status < 600 ? p->status : 500;
	const char *reason = code == 400 ? "BadRequest" : code == 404 ? "NotFound" :
			     code == 403 ? "Forbidden" : code == 401 ? "Unauthorized" :
			     code == 503 ? "ServiceUnavailable" : "InternalError";
	/* the node may already answer a Status: keep its message */
	cJSON *st = NULL;
	struct kc_err jerr = { 0 };
	if (n && msg[0] == '{' && kc_json_parse(msg, n, NULL, &st, &jerr) == 0) {
		const char *m = kc_json_get_str(st, "message");
		if (m)
			snprintf(msg, sizeof msg, "%s", m);
		cJSON_Delete(st);
	}
	if (!msg[0])
		snprintf(msg, sizeof msg, "the node answered %d", p->status);
	px_fail(p, code, reason, msg);
}

/* ---- I/O ---- */

static void node_io(struct loop *l, struct loop_io *io, uint32_t ev)
{
	(void)l;
	(void)ev;
	pump(io->data);
}

static void client_io(struct loop *l, struct loop_io *io, uint32_t ev)
{
	(void)l;
	(void)ev;
	pump(io->data);
}

static void set_events(struct px *p, struct px_end *e, bool want_read, bool want_write)
{
	if (!e->t)
		return;
	uint32_t ev = 0;
	if (want_read)
		ev |= e->rd_want ? e->rd_want : EPOLLIN;
	if (want_write)
		ev |= e->wr_want ? e->wr_want : EPOLLOUT;
	if (!ev) {
		if (e->io_started)
			loop_io_stop(p->l, &e->io);
		e->io_started = false;
		return;
	}
	loop_io_start(p->l, &e->io, ev);
	e->io_started = true;
}

static void node_events(struct px *p)
{
	bool w = p->phase == PX_HEAD && p->req_off < p->request.len;
	bool r = !w && !(p->phase == PX_LOG && p->paused);
	set_events(p, &p->node, r, w);
}

static void on_drain(struct http_req *req, void *arg)
{
	(void)req;
	struct px *p = arg;
	p->paused = false;
	pump(p);
}

static void node_error(struct px *p, long rc)
{
	char msg[300];
	snprintf(msg, sizeof msg, "error dialing backend: %s:%u: %s", p->node_ip, p->node_port,
		 kc_strerror((int)rc));
	px_fail(p, 503, "ServiceUnavailable", msg);
}

/* One relay direction: src -> dst through dst->out. Returns 1 on progress, 0 when none, -1 when
 * the relay is over (p freed). */
static int relay_dir(struct px *p, struct px_end *src, struct px_end *dst)
{
	int progress = 0;
	if (!dst->out_len && !src->eof) {
		unsigned want = 0;
		ssize_t r = transport_read(src->t, dst->out, sizeof dst->out, &want);
		if (r > 0) {
			dst->out_len = (size_t)r;
			dst->out_off = 0;
			progress = 1;
		} else if (r == 0 || (r != -EAGAIN)) {
			src->eof = true;
			progress = 1;
		} else {
			src->rd_want = want;
		}
	}
	if (dst->out_len) {
		unsigned want = 0;
		ssize_t w = transport_write(dst->t, dst->out + dst->out_off,
					    dst->out_len - dst->out_off, &want);
		if (w > 0) {
			dst->out_off += (size_t)w;
			if (dst->out_off == dst->out_len)
				dst->out_len = dst->out_off = 0;
			progress = 1;
		} else if (w == -EAGAIN) {
			dst->wr_want = want;
		} else {
			px_free(p);
			return -1;
		}
	}
	if (src->eof && !dst->out_len) {
		/* one side ended and everything it sent was delivered: the exchange is over */
		px_free(p);
		return -1;
	}
	return progress;
}

static void pump_relay(struct px *p)
{
	for (;;) {
		int a = relay_dir(p, &p->node, &p->client);
		if (a < 0)
			return;
		int b = relay_dir(p, &p->client, &p->node);
		if (b < 0)
			return;
		if (!a && !b)
			break;
	}
	set_events(p, &p->node, !p->client.out_len, p->node.out_len > 0);
	set_events(p, &p->client, !p->node.out_len, p->client.out_len > 0);
}

static void pump(struct px *p)
{
	if (p->phase == PX_RELAY)
		return pump_relay(p);
	for (;;) {
		unsigned want = 0;
		if (p->phase == PX_HEAD && p->req_off < p->request.len) {
			ssize_t w = transport_write(p->node.t, p->request.buf + p->req_off,
						    p->request.len - p->req_off, &want);
			if (w == -EAGAIN) {
				p->node.wr_want = want;
				break;
			}
			if (w < 0)
				return node_error(p, w);
			p->req_off += (size_t)w;
			continue;
		}
		if (p->phase == PX_LOG) {
			if (p->paused)
				break;
			char buf[16384];
			ssize_t r = transport_read(p->node.t, buf, sizeof buf, &want);
			if (r == -EAGAIN) {
				p->node.rd_want = want;
				break;
			}
			if (r <= 0) {
				/* the node ended the log (or the connection broke): end the stream */
				http_stream_end(p->req);
				p->req = NULL;
				return px_free(p);
			}
			int rc = http_stream_write(p->req, buf, (size_t)r);
			if (rc == HTTP_STREAM_CONGESTED)
				p->paused = true;
			else if (rc < 0) {
				http_stream_end(p->req);
				p->req = NULL;
				return px_free(p);
			}
			continue;
		}
		/* PX_HEAD reading, PX_ERRBODY */
		size_t room = sizeof p->head - p->head_len;
		if (p->phase == PX_ERRBODY &&
		    (!room || (!p->err_until_close && p->head_len >= p->err_want)))
			return err_body_done(p);
		if (!room)
			return node_error(p, -KC_ETOOBIG);
		ssize_t r = transport_read(p->node.t, p->head + p->head_len, room, &want);
		if (r == -EAGAIN) {
			p->node.rd_want = want;
			break;
		}
		if (r <= 0) {
			if (p->phase == PX_ERRBODY)
				return err_body_done(p);
			return node_error(p, r ? r : -KC_ECLOSED);
		}
		p->head_len += (size_t)r;
		if (p->phase == PX_HEAD) {
			struct http_header hs[HEAD_MAX_HEADERS];
			struct http_head h;
			struct http_limits lim = { .max_head_bytes = HEAD_MAX,
						   .max_headers = HEAD_MAX_HEADERS };
			long n = http_parse_response(p->head, p->head_len, &lim, "GET", hs, &h);
			if (n == 0)
				continue;
			if (n < 0)
				return node_error(p, -KC_EPROTO);
			if (!got_head(p, &h, (size_t)n))
				return;
		}
	}
	node_events(p);
}

/* The client's side after our 101 went out. */
static void upgraded(struct loop *l, struct transport *t, const char *leftover, size_t len,
		     void *arg)
{
	(void)l;
	struct px *p = arg;
	if (!t)
		return px_free(p);
	p->client.t = t;
	loop_io_init(&p->client.io, t->fd, client_io, p);
	if (len > sizeof p->node.out)
		return px_free(p); /* cannot happen with RELAY_BUF >= the server's head limit */
	memcpy(p->node.out, leftover, len);
	p->node.out_len = len;
	p->node.out_off = 0;
	pump_relay(p);
}

/* ---- the request to the node ---- */

static void add_escaped(struct kc_str *s, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    *c == '-' || *c == '_' || *c == '.' || *c == '~') {
			kc_str_addc(s, (char)*c);
		} else {
			kc_str_addc(s, '%');
			kc_str_addc(s, hex[*c >> 4]);
			kc_str_addc(s, hex[*c & 15]);
		}
	}
}

static bool qbool(struct http_req *req, const char *name)
{
	const char *v = http_req_query(req, name);
	return v && (!strcmp(v, "true") || !strcmp(v, "1") || !*v);
}

/* Builds the log request; 0 or -1 after answering 400. */
static int build_log_request(struct px *p)
{
	struct http_req *req = p->req;
	struct kc_str *s = &p->request;
	kc_str_addf(s, "GET /containerLogs/%s/%s/%s", p->ns, p->name, p->container);
	char sep = '?';
	static const char *const bools[] = { "follow", "previous", "timestamps" };
	for (size_t i = 0; i < 3; i++)
		if (qbool(req, bools[i])) {
			kc_str_addf(s, "%c%s=true", sep, bools[i]);
			sep = '&';
		}
	static const char *const nums[] = { "tailLines", "sinceSeconds", "limitBytes" };
	static const long long mins[] = { 0, 1, 1 };
	for (size_t i = 0; i < 3; i++) {
		const char *v = http_req_query(req, nums[i]);
		long long x;
		if (!v)
			continue;
		if (kc_parse_i64(v, mins[i], 1LL << 53, &x) < 0) {
			respond_status(req, 400, "BadRequest", "%s: Invalid value: \"%.64s\": must be "
				       "%s than 0", nums[i], v, mins[i] ? "greater" : "greater or equal");
			p->req = NULL;
			return -1;
		}
		kc_str_addf(s, "%c%s=%lld", sep, nums[i], x);
		sep = '&';
	}
	const char *since = http_req_query(req, "sinceTime");
	if (since && *since) {
		if (strlen(since) > 64) {
			respond_status(req, 400, "BadRequest", "sinceTime: Invalid value");
			p->req = NULL;
			return -1;
		}
		kc_str_addf(s, "%csinceTime=", sep);
		add_escaped(s, since);
	}
	kc_str_addf(s, " HTTP/1.0\r\nHost: %s:%u\r\nUser-Agent: kc-apiserver\r\n\r\n", p->node_ip,
		    p->node_port);
	return 0;
}

static int build_exec_request(struct px *p)
{
	struct http_req *req = p->req;
	const char *key = http_req_header(req, "Sec-WebSocket-Key");
	const char *ver = http_req_header(req, "Sec-WebSocket-Version");
	const char *proto = http_req_header(req, "Sec-WebSocket-Protocol");
	if (!key || !*key || strlen(key) > 64) {
		respond_status(req, 400, "BadRequest", "Upgrade request required");
		p->req = NULL;
		return -1;
	}
	struct kc_str *s = &p->request;
	kc_str_addf(s, "GET /exec/%s/%s/%s%s%s HTTP/1.1\r\nHost: %s:%u\r\n"
		       "User-Agent: kc-apiserver\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
		       "Sec-WebSocket-Version: %s\r\nSec-WebSocket-Key: %s\r\n",
		    p->ns, p->name, p->container, req->query[0] ? "?" : "", req->query, p->node_ip,
		    p->node_port, ver ? ver : "13", key);
	if (proto && *proto)
		kc_str_addf(s, "Sec-WebSocket-Protocol: %s\r\n", proto);
	kc_str_adds(s, "\r\n");
	return 0;
}

static void dial(struct px *p)
{
	struct net_ip ip;
	if (net_ip_parse(p->node_ip, &ip) < 0 || !p->node_port)
		return px_fail(p, 503, "ServiceUnavailable", "the node has no usable InternalIP or "
			       "kubelet port");
	if ((p->exec ? build_exec_request(p) : build_log_request(p)) < 0)
		return px_free(p);
	struct sockaddr_storage ss;
	socklen_t sl = net_sockaddr(&ip, p->node_port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return node_error(p, -errno);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return node_error(p, -e);
	}
	struct kc_err err = { 0 };
	if (tls_client_wrap(p->np->tls, fd, p->node_ip, &p->node.t, &err) < 0)
		return px_fail(p, 500, "InternalError", err.msg);
	loop_io_init(&p->node.io, fd, node_io, p);
	p->phase = PX_HEAD;
	http_req_notify(p->req, on_drain, on_client_close, p);
	loop_timer_init(&p->timer, on_timeout, p);
	loop_timer_start(p->l, &p->timer, HEAD_TIMEOUT_MS);
	pump(p);
}

/* ---- lookups ---- */

static void node_done(void *arg, const struct mvcc_kv *kv, const struct api_error *e)
{
	struct px *p = arg;
	if (e)
		return px_fail(p, 503, "ServiceUnavailable", e->message);
	cJSON *node = registry_parse(kv->value, kv->value_len, kv->mod_revision);
	if (!node)
		return px_fail(p, 500, "InternalError", "the stored node cannot be read");
	const cJSON *addrs = kc_json_get(node, "status.addresses");
	const cJSON *a;
	cJSON_ArrayForEach(a, addrs)
	{
		const char *t = kc_json_get_str(a, "type"), *v = kc_json_get_str(a, "address");
		if (t && v && !strcmp(t, "InternalIP") && strlen(v) < sizeof p->node_ip) {
			snprintf(p->node_ip, sizeof p->node_ip, "%s", v);
			break;
		}
	}
	long long port = 0;
	if (kc_json_get_i64(node, "status.daemonEndpoints.kubeletEndpoint.Port", &port) < 0 ||
	    port < 1 || port > 65535)
		port = 0;
	p->node_port = (uint16_t)port;
	cJSON_Delete(node);
	dial(p);
}

static void pod_done(void *arg, const struct mvcc_kv *kv, const struct api_error *e)
{
	struct px *p = arg;
	if (e) {
		struct kc_str out = KC_STR_INIT;
		api_err_json(e, &out);
		http_respond(p->req, e->code, "application/json", out.buf, out.len);
		kc_str_free(&out);
		p->req = NULL;
		return px_free(p);
	}
	cJSON *pod = registry_parse(kv->value, kv->value_len, kv->mod_revision);
	if (!pod)
		return px_fail(p, 500, "InternalError", "the stored pod cannot be read");
	char msg[600];
	const char *want = http_req_query(p->req, "container");
	const cJSON *ctrs = kc_json_get(pod, "spec.containers");
	const cJSON *c;
	bool found = false;
	cJSON_ArrayForEach(c, ctrs)
	{
		const char *n = kc_json_get_str(c, "name");
		if (!n)
			continue;
		if (!want || !*want || !strcmp(want, n)) {
			snprintf(p->container, sizeof p->container, "%s", n);
			found = true;
			break;
		}
	}
	if (!found && want && *want) {
		/* init and ephemeral containers are addressable too */
		static const char *const more[] = { "spec.initContainers", "spec.ephemeralContainers" };
		for (size_t i = 0; i < 2 && !found; i++)
			cJSON_ArrayForEach(c, kc_json_get(pod, more[i]))
			{
				const char *n = kc_json_get_str(c, "name");
				if (n && !strcmp(n, want)) {
					snprintf(p->container, sizeof p->container, "%s", n);
					found = true;
					break;
				}
			}
	}
	if (!found) {
		if (want && *want)
			snprintf(msg, sizeof msg, "container %.200s is not valid for pod %.200s", want,
				 p->name);
		else
			snprintf(msg, sizeof msg, "pod %.200s has no containers", p->name);
		cJSON_Delete(pod);
		return px_fail(p, 400, "BadRequest", msg);
	}
	const char *node = kc_json_get_str(pod, "spec.nodeName");
	if (!node || !*node || !registry_name_ok(node)) {
		snprintf(msg, sizeof msg, "pod %.200s does not have a host assigned", p->name);
		cJSON_Delete(pod);
		return px_fail(p, 400, "BadRequest", msg);
	}
	char nodename[256];
	snprintf(nodename, sizeof nodename, "%s", node);
	cJSON_Delete(pod);
	registry_get(p->np->reg, p->l, p->np->nodes, "", nodename, false, node_done, p);
}

void nodeproxy_serve(struct nodeproxy *np, struct http_req *req, const char *ns, const char *name,
		     const char *sub)
{
	if (!np || !np->pods || !np->nodes) {
		respond_status(req, 503, "ServiceUnavailable", "the node proxy is not available");
		return;
	}
	bool exec = !strcmp(sub, "exec");
	if (strcmp(sub, "log") && !exec) {
		respond_status(req, 400, "BadRequest", "pods/%s is not supported by kc", sub);
		return;
	}
	if (exec && !ws_is_upgrade(req)) {
		/* kubectl falls back to SPDY after a failed WebSocket attempt: this is what it shows */
		respond_status(req, 400, "BadRequest", "Upgrade request required");
		return;
	}
	if (!exec && strcmp(req->method, "GET")) {
		respond_status(req, 405, "MethodNotAllowed", "the server does not allow this method "
			       "on the requested resource");
		return;
	}
	struct px *p = xcalloc(1, sizeof *p);
	p->np = np;
	p->req = req;
	p->l = http_req_loop(req);
	p->exec = exec;
	p->phase = PX_LOOKUP;
	kc_str_init(&p->request);
	snprintf(p->ns, sizeof p->ns, "%s", ns);
	snprintf(p->name, sizeof p->name, "%s", name);
	loop_timer_init(&p->timer, on_timeout, p);
	registry_get(np->reg, p->l, np->pods, ns, name, false, pod_done, p);
}
