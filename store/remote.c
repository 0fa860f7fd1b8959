/* remote.c - struct kv over a remote store cluster (see remote.h).
 *
 * DESIGN: one private thread runs a loop and an http_client; it owns every request in flight,
 * every watch and the endpoint cursor. Callers' requests arrive as loop messages (body already
 * encoded as gateway JSON on the caller's thread); completions go back to the caller's reply
 * loop as loop messages in FIFO order, so a watcher's responses and its final NULL callback
 * arrive in the order they were produced. Watch ids are handed out by an atomic counter so
 * kv_watch can return one at once; the id -> watch list lives on the remote thread only.
 * Invariant of a watch: next_rev is the first revision not yet delivered (0 while unknown); a
 * stream is only ever (re)created from next_rev, so no event is lost or delivered twice. */
#include "store/remote.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/list.h"
#include "lib/log.h"
#include "net/http_client.h"
#include "net/loop.h"

#define DEF_TIMEOUT_MS	      10000u
#define RETRY_DELAY_MS	      200u
#define WATCH_RETRY_MAX_MS    2000u
#define WATCH_HEAD_TIMEOUT_MS 10000u
#define DEF_WATCH_MAX_EVENTS  10000u	     /* as the in-process hub's watcher queue */
#define DEF_WATCH_MAX_BYTES   (64u << 20)

struct kv_remote {
	char *endpoints[REMOTE_ENDPOINTS_MAX];
	size_t nendpoints;
	size_t current; /* remote thread: the endpoint that answered last */
	unsigned timeout_ms;
	size_t watch_max_events, watch_max_bytes;
	struct tls_client_config *tls;
	struct loop *loop;
	struct http_client *http;
	pthread_t thread;
	bool running;
	bool closing; /* remote thread */
	atomic_llong next_watch_id;
	struct kc_list reqs;	/* remote thread: struct rreq in flight */
	struct kc_list watches; /* remote thread: struct rwatch */
};

enum rkind { R_SUBMIT, R_RANGE };

/* One unary request: created on the caller's thread, run on the remote thread, completed on
 * the reply loop. */
struct rreq {
	struct loop_msg msg;
	struct kc_list link;
	struct kv_remote *r;
	enum rkind kind;
	enum mvcc_cmd_type type;
	const char *path;
	struct kc_str body;
	struct loop *reply_loop;
	store_result_cb result_cb;
	store_range_cb range_cb;
	void *arg;
	uint64_t deadline_ms;
	size_t tried; /* endpoints tried in this round */
	size_t ep;    /* the endpoint of the attempt in flight */
	struct http_client_req *hreq;
	struct loop_timer timer;
	/* completion */
	int rc;
	struct kc_err err;
	struct mvcc_result res;
	struct mvcc_range_resp range;
};

/* What a watch has posted to its reply loop and the loop has not consumed yet: shared by the
 * watch (remote thread) and its deliveries (reply loop), freed by the last of them. */
struct wflow {
	atomic_size_t events, bytes;
	atomic_int refs;
};

static void wflow_unref(struct wflow *f)
{
	if (atomic_fetch_sub(&f->refs, 1) == 1)
		free(f);
}

struct rwatch {
	struct kc_list link;
	struct wflow *flow;
	struct kv_remote *r;
	int64_t id;
	struct loop *reply_loop;
	store_watch_cb cb;
	void *arg;
	struct watch_create_req req; /* key and range_end point into keybuf */
	uint8_t *keybuf;
	int64_t next_rev;
	size_t endpoint;
	struct http_client_req *hreq;
	struct kc_str line;
	struct loop_timer timer;
	unsigned backoff_ms;
	int status; /* HTTP status of the current stream */
};

/* A watch response on its way to the reply loop; owns what the response points at. */
struct wdeliver {
	struct loop_msg msg;
	store_watch_cb cb;
	void *arg;
	bool final; /* the NULL callback */
	struct watch_resp resp;
	struct mvcc_events events;
	struct wflow *flow;
	size_t bytes; /* counted in flow */
};

/* ---- endpoints and retries ---- */

static bool connect_failure(int rc)
{
	return rc == -ECONNREFUSED || rc == -EHOSTUNREACH || rc == -ENETUNREACH || rc == -KC_ETLS ||
	       rc == -KC_EUNAVAIL || rc == -EADDRNOTAVAIL;
}

static char *url_of(const struct kv_remote *r, size_t ep, const char *path)
{
	const char *b = r->endpoints[ep];
	size_t n = strlen(b);
	while (n && b[n - 1] == '/')
		n--;
	return xasprintf("%.*s%s", (int)n, b, path);
}

/* ---- unary requests ---- */

static void reply_run(struct loop *l, struct loop_msg *m)
{
	(void)l;
	struct rreq *q = m->data;
	if (q->kind == R_SUBMIT)
		q->result_cb(q->arg, q->rc, q->rc == 0 ? &q->res : NULL, &q->err);
	else
		q->range_cb(q->arg, q->rc, q->rc == 0 ? &q->range : NULL, &q->err);
	mvcc_result_free(&q->res);
	mvcc_range_resp_free(&q->range);
	kc_str_free(&q->body);
	free(q);
}

static void finish(struct rreq *q, int rc)
{
	struct kv_remote *r = q->r;
	loop_timer_stop(r->loop, &q->timer);
	kc_list_del(&q->link);
	q->rc = rc;
	if (rc < 0 && !q->err.code)
		kc_err_set(&q->err, rc, "%s", mvcc_strerror(rc));
	loop_msg_init(&q->msg, reply_run, q);
	loop_post(q->reply_loop, &q->msg);
}

static void send_req(struct rreq *q);

static void on_retry_timer(struct loop *l, struct loop_timer *t)
{
	(void)l;
	send_req(t->data);
}

/* Moves on to the next endpoint; after a full round, waits a little (an election). */
static void retry(struct rreq *q, int rc)
{
	struct kv_remote *r = q->r;
	uint64_t now = loop_now_ms(r->loop);
	/* concurrent failures on one endpoint move the cursor once */
	if (r->current == q->ep)
		r->current = (q->ep + 1) % r->nendpoints;
	if (++q->tried < r->nendpoints) {
		send_req(q);
		return;
	}
	q->tried = 0;
	if (now + RETRY_DELAY_MS >= q->deadline_ms)
		return finish(q, rc == -KC_ETIMEDOUT ? rc : -KC_EUNAVAIL);
	loop_timer_start(r->loop, &q->timer, RETRY_DELAY_MS);
}

static void on_done(struct http_client_req *hr, int rc, struct http_client_response *resp,
		    const struct kc_err *err, void *arg)
{
	(void)hr;
	struct rreq *q = arg;
	struct kv_remote *r = q->r;
	q->hreq = NULL;
	if (r->closing)
		return finish(q, -KC_ECLOSED);
	if (rc < 0) {
		kc_err_set(&q->err, rc, "store %s: %s", r->endpoints[q->ep], err->msg);
		if (connect_failure(rc) || (q->kind == R_RANGE && rc != -KC_ETOOBIG))
			return retry(q, rc);
		/* a write may have run: its outcome is unknown */
		return finish(q, rc == -KC_ETIMEDOUT ? rc : -KC_EUNAVAIL);
	}
	if (resp->status != 200) {
		int code = remote_parse_error(resp->status, resp->body, resp->body_len, &q->err);
		/* "no leader" and friends: nothing ran, another member may do better */
		if (code == -KC_EUNAVAIL || (q->kind == R_RANGE && code == -KC_ETIMEDOUT))
			return retry(q, code);
		return finish(q, code);
	}
	if (q->kind == R_SUBMIT)
		rc = remote_parse_result(q->type, resp->body, resp->body_len, &q->res, &q->err);
	else
		rc = remote_parse_range(resp->body, resp->body_len, &q->range, &q->err);
	finish(q, rc);
}

static void send_req(struct rreq *q)
{
	struct kv_remote *r = q->r;
	uint64_t now = loop_now_ms(r->loop);
	if (r->closing)
		return finish(q, -KC_ECLOSED);
	if (now >= q->deadline_ms)
		return finish(q, -KC_ETIMEDOUT);
	q->ep = r->current;
	char *url = url_of(r, q->ep, q->path);
	struct http_client_header h = {"Content-Type", "application/json"};
	struct http_client_request hr = {
		.method = "POST",
		.url = url,
		.headers = &h,
		.nheaders = 1,
		.body = q->body.buf,
		.body_len = q->body.len,
		.timeout_ms = (uint32_t)(q->deadline_ms - now),
		.on_done = on_done,
		.arg = q,
	};
	struct kc_err e = {0};
	int rc = http_client_submit(r->http, &hr, &q->hreq, &e);
	free(url);
	if (rc < 0) {
		q->err = e;
		finish(q, rc);
	}
}

static void start_req(struct loop *l, struct loop_msg *m)
{
	struct rreq *q = m->data;
	q->deadline_ms = loop_now_ms(l) + q->r->timeout_ms;
	kc_list_push_back(&q->r->reqs, &q->link);
	send_req(q);
}

static struct rreq *req_new(struct kv_remote *r, enum rkind kind, struct loop *reply_loop,
			    void *arg)
{
	struct rreq *q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->kind = kind;
	q->reply_loop = reply_loop;
	q->arg = arg;
	kc_str_init(&q->body);
	kc_list_init(&q->link);
	loop_timer_init(&q->timer, on_retry_timer, q);
	return q;
}

/* A request that fails before reaching the remote thread still completes on the reply loop. */
static void fail_early(struct rreq *q, int rc)
{
	q->rc = rc;
	loop_msg_init(&q->msg, reply_run, q);
	loop_post(q->reply_loop, &q->msg);
}

static void r_submit(void *impl, struct loop *l, const void *cmd, size_t len, store_result_cb cb,
		     void *arg)
{
	struct kv_remote *r = impl;
	struct rreq *q = req_new(r, R_SUBMIT, l, arg);
	q->result_cb = cb;
	int rc = remote_cmd_to_json(cmd, len, &q->path, &q->type, &q->body, &q->err);
	if (rc < 0)
		return fail_early(q, rc);
	loop_msg_init(&q->msg, start_req, q);
	loop_post(r->loop, &q->msg);
}

static void r_range(void *impl, struct loop *l, const struct mvcc_range_req *req, bool lin,
		    store_range_cb cb, void *arg)
{
	struct kv_remote *r = impl;
	struct rreq *q = req_new(r, R_RANGE, l, arg);
	q->range_cb = cb;
	q->path = "/v3/kv/range";
	remote_range_to_json(req, !lin, &q->body);
	loop_msg_init(&q->msg, start_req, q);
	loop_post(r->loop, &q->msg);
}

/* ---- watches ---- */

static void deliver_run(struct loop *l, struct loop_msg *m)
{
	(void)l;
	struct wdeliver *d = m->data;
	atomic_fetch_sub(&d->flow->events, d->resp.nevents);
	atomic_fetch_sub(&d->flow->bytes, d->bytes);
	wflow_unref(d->flow);
	d->cb(d->arg, d->final ? NULL : &d->resp);
	free(d->resp.events);
	mvcc_events_free(&d->events);
	free(d);
}

static void deliver(struct rwatch *w, struct wdeliver *d)
{
	d->cb = w->cb;
	d->arg = w->arg;
	d->resp.watch_id = w->id;
	d->flow = w->flow;
	atomic_fetch_add(&w->flow->refs, 1);
	atomic_fetch_add(&w->flow->events, d->resp.nevents);
	atomic_fetch_add(&w->flow->bytes, d->bytes);
	loop_msg_init(&d->msg, deliver_run, d);
	loop_post(w->reply_loop, &d->msg);
}

static struct wdeliver *wd_new(void)
{
	struct wdeliver *d = xcalloc(1, sizeof(*d));
	mvcc_events_init(&d->events);
	return d;
}

/* The watch is over: the final NULL callback, then w is freed. */
static void watch_finish(struct rwatch *w)
{
	struct kv_remote *r = w->r;
	if (w->hreq)
		http_client_cancel(w->hreq);
	w->hreq = NULL;
	loop_timer_stop(r->loop, &w->timer);
	struct wdeliver *d = wd_new();
	d->final = true;
	deliver(w, d);
	kc_list_del(&w->link);
	kc_str_free(&w->line);
	wflow_unref(w->flow);
	free(w->keybuf);
	free(w);
}

static void watch_canceled(struct rwatch *w, int code, int64_t compact_rev, const char *reason)
{
	struct wdeliver *d = wd_new();
	d->resp.kind = WATCH_RESP_CANCELED;
	d->resp.cancel_code = code;
	d->resp.compact_revision = compact_rev;
	d->resp.resume_revision = w->next_rev;
	snprintf(d->resp.cancel_reason, sizeof d->resp.cancel_reason, "%s", reason);
	deliver(w, d);
	watch_finish(w);
}

static void watch_connect(struct rwatch *w);

static void on_watch_timer(struct loop *l, struct loop_timer *t)
{
	(void)l;
	watch_connect(t->data);
}

/* The stream broke: again from next_rev on the next endpoint, after a growing pause. */
static void watch_broken(struct rwatch *w, const char *why)
{
	struct kv_remote *r = w->r;
	if (w->hreq)
		http_client_cancel(w->hreq);
	w->hreq = NULL;
	kc_str_reset(&w->line);
	if (r->closing)
		return watch_finish(w);
	log_info("store watch stream broken id=%lld endpoint=%s next-rev=%lld reason=%s",
		 (long long)w->id, r->endpoints[w->endpoint], (long long)w->next_rev, why);
	w->endpoint = (w->endpoint + 1) % r->nendpoints;
	loop_timer_start(r->loop, &w->timer, w->backoff_ms);
	w->backoff_ms =
		w->backoff_ms * 2 > WATCH_RETRY_MAX_MS ? WATCH_RETRY_MAX_MS : w->backoff_ms * 2;
}

/* One message of the stream. Returns false when w is gone or the stream was dropped. */
static bool watch_message(struct rwatch *w, const char *line, size_t len)
{
	struct remote_watch_msg m;
	struct kc_err err = {0};
	if (remote_parse_watch(line, len, &m, &err) < 0) {
		watch_broken(w, err.msg);
		return false;
	}
	bool ok = true;
	if (m.error == -MVCC_ECOMPACTED) {
		watch_canceled(w, -MVCC_ECOMPACTED, 0, m.cancel_reason);
		ok = false;
	} else if (m.error < 0) {
		watch_broken(w, m.cancel_reason);
		ok = false;
	} else if (m.canceled) {
		if (m.compact_revision > 0) {
			watch_canceled(w, -MVCC_ECOMPACTED, m.compact_revision,
				       mvcc_strerror(-MVCC_ECOMPACTED));
		} else {
			/* canceled for another reason (too slow, snapshot installed): resume */
			watch_broken(w, m.cancel_reason[0] ? m.cancel_reason : "canceled");
		}
		ok = false;
	} else if (m.created) {
		if (w->next_rev <= 0)
			w->next_rev = m.header_revision + 1;
		w->backoff_ms = RETRY_DELAY_MS;
	} else if (m.events.len) {
		struct wdeliver *d = wd_new();
		size_t n = 0;
		d->resp.kind = WATCH_RESP_EVENTS;
		d->resp.events = xcalloc(m.events.len, sizeof(*d->resp.events));
		/* a resumed stream never repeats, but be strict: drop what was delivered */
		for (size_t i = 0; i < m.events.len; i++) {
			struct mvcc_event *e = &m.events.v[i];
			if (e->revision < w->next_rev ||
			    (w->req.no_put && e->type == MVCC_EVENT_PUT) ||
			    (w->req.no_delete && e->type == MVCC_EVENT_DELETE))
				continue;
			d->resp.events[n].type = e->type;
			d->resp.events[n].kv = &e->kv;
			d->resp.events[n].prev_kv =
				w->req.prev_kv && e->has_prev ? &e->prev_kv : NULL;
			n++;
		}
		int64_t last = m.events.v[m.events.len - 1].revision;
		d->resp.nevents = n;
		d->resp.revision = last;
		d->events = m.events; /* owns the kvs the response points at */
		mvcc_events_init(&m.events);
		if (last + 1 > w->next_rev)
			w->next_rev = last + 1;
		d->bytes = len;
		if (n)
			deliver(w, d);
		else {
			free(d->resp.events);
			mvcc_events_free(&d->events);
			free(d);
		}
		/* A reply loop that does not keep up (a stuck client of the API server): as the
		 * in-process hub does, its watch ends rather than queueing without bound; the
		 * watcher re-lists. */
		size_t qe = atomic_load(&w->flow->events), qb = atomic_load(&w->flow->bytes);
		if (qe > w->r->watch_max_events || qb > w->r->watch_max_bytes) {
			char why[128];
			snprintf(why, sizeof why, "watcher too slow: %zu events (%zu bytes) pending",
				 qe, qb);
			watch_canceled(w, -KC_ELIMIT, 0, why);
			ok = false;
		}
	} else if (m.header_revision > 0 && w->next_rev > 0 &&
		   m.header_revision + 1 > w->next_rev) {
		/* a progress notification: every event up to its revision was sent */
		w->next_rev = m.header_revision + 1;
		struct wdeliver *d = wd_new();
		d->resp.kind = WATCH_RESP_PROGRESS;
		d->resp.revision = m.header_revision;
		deliver(w, d);
	}
	remote_watch_msg_free(&m);
	return ok;
}

static void on_watch_head(struct http_client_req *hr, const struct http_client_response *resp,
			  void *arg)
{
	(void)hr;
	struct rwatch *w = arg;
	w->status = resp->status;
	if (resp->status == 200)
		w->r->current = w->endpoint;
}

static void on_watch_data(struct http_client_req *hr, const char *data, size_t len, void *arg)
{
	(void)hr;
	struct rwatch *w = arg;
	if (w->status != 200) {
		/* an error body, for on_watch_done (bounded) */
		if (w->line.len < 64 * 1024)
			kc_str_add(&w->line, data, len < 64 * 1024 ? len : 64 * 1024);
		return;
	}
	kc_str_add(&w->line, data, len);
	for (;;) {
		char *nl = memchr(w->line.buf, '\n', w->line.len);
		if (!nl) {
			if (w->line.len > REMOTE_BODY_MAX)
				watch_broken(w, "a watch message over the size limit");
			return;
		}
		size_t n = (size_t)(nl - w->line.buf);
		size_t skip = n + 1;
		while (n && (w->line.buf[n - 1] == '\r' || w->line.buf[n - 1] == ' '))
			n--;
		if (n && !watch_message(w, w->line.buf, n))
			return; /* w may be gone */
		kc_str_consume(&w->line, skip);
	}
}

static void on_watch_done(struct http_client_req *hr, int rc, struct http_client_response *resp,
			  const struct kc_err *err, void *arg)
{
	(void)hr;
	struct rwatch *w = arg;
	w->hreq = NULL;
	if (rc < 0)
		return watch_broken(w, err->msg);
	if (resp->status != 200) {
		struct kc_err e = {0};
		int code = remote_parse_error(resp->status, w->line.buf, w->line.len, &e);
		/* a refused request (4xx: bad key, compacted...) will not do better elsewhere */
		if (code == -MVCC_ECOMPACTED || (resp->status >= 400 && resp->status < 500))
			return watch_canceled(w, code, 0, e.msg);
		return watch_broken(w, e.msg);
	}
	/* a complete line left without its newline is the last message */
	if (w->line.len && !watch_message(w, w->line.buf, w->line.len))
		return;
	watch_broken(w, "the store ended the stream");
}

static void watch_connect(struct rwatch *w)
{
	struct kv_remote *r = w->r;
	struct kc_str body = KC_STR_INIT;
	if (r->closing)
		return watch_finish(w);
	w->status = 0;
	remote_watch_to_json(&w->req, w->next_rev, &body);
	char *url = url_of(r, w->endpoint, "/v3/watch");
	struct http_client_header h = {"Content-Type", "application/json"};
	struct http_client_request hr = {
		.method = "POST",
		.url = url,
		.headers = &h,
		.nheaders = 1,
		.body = body.buf,
		.body_len = body.len,
		.stream = true,
		.timeout_ms = WATCH_HEAD_TIMEOUT_MS,
		.on_head = on_watch_head,
		.on_data = on_watch_data,
		.on_done = on_watch_done,
		.arg = w,
	};
	struct kc_err e = {0};
	int rc = http_client_submit(r->http, &hr, &w->hreq, &e);
	free(url);
	kc_str_free(&body);
	if (rc < 0) {
		w->hreq = NULL;
		watch_canceled(w, rc, 0, e.msg);
	}
}

static void watch_start_msg(struct loop *l, struct loop_msg *m)
{
	(void)l;
	struct rwatch *w = m->data;
	free(m);
	kc_list_push_back(&w->r->watches, &w->link);
	w->endpoint = w->r->current;
	watch_connect(w);
}

static void r_watch(void *impl, struct loop *l, const struct watch_create_req *req,
		    store_watch_cb cb, void *arg, int64_t *id)
{
	struct kv_remote *r = impl;
	struct rwatch *w = xcalloc(1, sizeof(*w));
	w->r = r;
	w->id = (int64_t)atomic_fetch_add(&r->next_watch_id, 1);
	w->reply_loop = l;
	w->flow = xcalloc(1, sizeof(*w->flow));
	atomic_init(&w->flow->refs, 1);
	w->cb = cb;
	w->arg = arg;
	w->req = *req;
	w->keybuf = xmalloc(req->key_len + req->range_end_len + 1);
	memcpy(w->keybuf, req->key, req->key_len);
	memcpy(w->keybuf + req->key_len, req->range_end, req->range_end_len);
	w->req.key = w->keybuf;
	w->req.range_end = w->keybuf + req->key_len;
	w->next_rev = req->start_revision > 0 ? req->start_revision : 0;
	w->backoff_ms = RETRY_DELAY_MS;
	kc_str_init(&w->line);
	kc_list_init(&w->link);
	loop_timer_init(&w->timer, on_watch_timer, w);
	*id = w->id;
	struct loop_msg *m = xmalloc(sizeof(*m));
	loop_msg_init(m, watch_start_msg, w);
	loop_post(r->loop, m);
}

struct wctl {
	struct kv_remote *r;
	int64_t id;
	bool progress;
};

static struct rwatch *find_watch(struct kv_remote *r, int64_t id)
{
	for (struct kc_list *p = r->watches.next; p != &r->watches; p = p->next) {
		struct rwatch *w = kc_container_of(p, struct rwatch, link);
		if (w->id == id)
			return w;
	}
	return NULL;
}

static void wctl_run(struct loop *l, void *arg)
{
	(void)l;
	struct wctl *c = arg;
	struct rwatch *w = find_watch(c->r, c->id);
	if (w && !c->progress) {
		watch_finish(w);
	} else if (w && w->next_rev > 0) {
		/* every event below next_rev was posted, and this goes behind them */
		struct wdeliver *d = wd_new();
		d->resp.kind = WATCH_RESP_PROGRESS;
		d->resp.revision = w->next_rev - 1;
		deliver(w, d);
	}
	free(c);
}

static void wctl(struct kv_remote *r, int64_t id, bool progress)
{
	struct wctl *c = xmalloc(sizeof(*c));
	c->r = r;
	c->id = id;
	c->progress = progress;
	loop_call(r->loop, wctl_run, c);
}

static void r_cancel(void *impl, int64_t id)
{
	wctl(impl, id, false);
}

static void r_progress(void *impl, int64_t id)
{
	wctl(impl, id, true);
}

static const struct kv_ops remote_ops = {
	.submit = r_submit,
	.range = r_range,
	.watch = r_watch,
	.watch_cancel = r_cancel,
	.watch_progress = r_progress,
};

void kv_remote_kv(struct kv_remote *r, struct kv *out)
{
	out->ops = &remote_ops;
	out->impl = r;
}

/* ---- life cycle ---- */

static void *run(void *arg)
{
	struct kv_remote *r = arg;
	int rc = loop_run(r->loop);
	if (rc < 0)
		log_error("store client loop failed err=%s", kc_strerror(rc));
	return NULL;
}

int kv_remote_open(const struct kv_remote_config *cfg, struct kv_remote **out, struct kc_err *err)
{
	struct kv_remote *r = xcalloc(1, sizeof(*r));
	int rc = 0;
	kc_list_init(&r->reqs);
	kc_list_init(&r->watches);
	atomic_init(&r->next_watch_id, 1);
	r->timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : DEF_TIMEOUT_MS;
	r->watch_max_events = cfg->watch_max_events ? cfg->watch_max_events : DEF_WATCH_MAX_EVENTS;
	r->watch_max_bytes = cfg->watch_max_bytes ? cfg->watch_max_bytes : DEF_WATCH_MAX_BYTES;
	r->tls = cfg->tls;
	const char *s = cfg->endpoints ? cfg->endpoints : "";
	while (*s) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n) {
			if (r->nendpoints == REMOTE_ENDPOINTS_MAX) {
				rc = kc_err_set(err, -KC_EINVAL, "more than %d store endpoints",
						REMOTE_ENDPOINTS_MAX);
				goto fail;
			}
			char *u = xasprintf("%.*s", (int)n, s);
			r->endpoints[r->nendpoints++] = u;
			struct http_url pu;
			if ((rc = http_url_parse(u, &pu, err)) < 0) {
				kc_err_wrap(err, "store endpoint %s", u);
				goto fail;
			}
			if (pu.tls && !r->tls) {
				rc = kc_err_set(err, -KC_EINVAL,
						"store endpoint %s is https but no TLS client "
						"configuration was given",
						u);
				goto fail;
			}
		}
		s += n + (e ? 1 : 0);
	}
	if (!r->nendpoints) {
		rc = kc_err_set(err, -KC_EINVAL, "no store endpoint given");
		goto fail;
	}
	r->loop = loop_new(NULL);
	if (!r->loop) {
		rc = kc_err_set(err, -errno, "cannot create an event loop: %s", strerror(errno));
		goto fail;
	}
	struct http_client_config hc = {
		.max_idle_per_origin = 32,
		.max_conns = 4096,
		.connect_timeout_ms = 3000,
		.request_timeout_ms = r->timeout_ms,
		.max_body_bytes = REMOTE_BODY_MAX,
		.tls = r->tls,
	};
	r->http = http_client_new(r->loop, &hc);
	if (pthread_create(&r->thread, NULL, run, r) != 0) {
		rc = kc_err_set(err, -EAGAIN, "cannot start the store client thread");
		goto fail;
	}
	r->running = true;
	*out = r;
	return 0;
fail:
	kv_remote_close(r);
	return rc;
}

struct ping {
	sem_t done;
	int rc;
	struct kc_err err;
};

static void ping_done(void *arg, int rc, struct mvcc_range_resp *resp, const struct kc_err *err)
{
	(void)resp;
	struct ping *p = arg;
	p->rc = rc;
	if (rc < 0 && err)
		p->err = *err;
	sem_post(&p->done);
}

int kv_remote_ping(struct kv_remote *r, struct kc_err *err)
{
	struct ping p = {.rc = 0};
	sem_init(&p.done, 0, 0);
	static const char k[] = "/registry/health";
	struct mvcc_range_req q = {.key = k, .key_len = sizeof k - 1, .count_only = true};
	/* the reply runs on the remote's own loop: it only posts the semaphore */
	r_range(r, r->loop, &q, true, ping_done, &p);
	while (sem_wait(&p.done) < 0 && errno == EINTR)
		;
	sem_destroy(&p.done);
	if (p.rc < 0) {
		*err = p.err; /* err->code: the last failure's own code (e.g. -KC_ETLS) */
		if (!err->code)
			err->code = p.rc;
	}
	return p.rc;
}

static void begin_close(struct loop *l, void *arg)
{
	struct kv_remote *r = arg;
	r->closing = true;
	while (!kc_list_empty(&r->watches))
		watch_finish(kc_container_of(kc_list_first(&r->watches), struct rwatch, link));
	/* fails every request in flight through on_done (-> finish, posted) */
	http_client_free(r->http);
	r->http = NULL;
	/* requests waiting for a retry timer */
	while (!kc_list_empty(&r->reqs))
		finish(kc_container_of(kc_list_first(&r->reqs), struct rreq, link), -KC_ECLOSED);
	loop_stop(l);
}

void kv_remote_close(struct kv_remote *r)
{
	if (!r)
		return;
	if (r->running) {
		loop_call(r->loop, begin_close, r);
		pthread_join(r->thread, NULL);
	}
	http_client_free(r->http);
	loop_free(r->loop);
	for (size_t i = 0; i < r->nendpoints; i++)
		free(r->endpoints[i]);
	free(r);
}
