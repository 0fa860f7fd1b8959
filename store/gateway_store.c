/* gateway_store.c - the etcd gateway's backend over kc's store member (store/store.h).
 *
 * DESIGN: each gateway call becomes one asynchronous store request whose completion, posted by
 * the store to the HTTP request's loop, is turned into a struct gateway_reply. A small context
 * per call carries the gateway's callback; it is freed in the completion. Watches: the store's
 * status gives the revision R for etcd's created message, the watch is created from R + 1 (or
 * the requested start), then every store response is forwarded; the context lives until the
 * store's final NULL callback, which follows both a CANCELED response and store_watch_cancel.
 * Runs on the HTTP loop. */
#include "store/gateway.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "store/store.h"

struct call {
	struct store *s;
	gateway_reply_cb cb;
	void *arg;
	int64_t lease_id;
};

static struct call *call_new(struct store *s, gateway_reply_cb cb, void *arg)
{
	struct call *c = xmalloc(sizeof(*c));
	c->s = s;
	c->cb = cb;
	c->arg = arg;
	c->lease_id = 0;
	return c;
}

static void base_header(struct store *s, struct gateway_header *h)
{
	memset(h, 0, sizeof(*h));
	h->cluster_id = store_cluster_id(s);
	h->member_id = store_member_id(s);
}

static void on_result(void *arg, int rc, struct mvcc_result *res, const struct kc_err *err)
{
	struct call *c = arg;
	struct gateway_reply rep = { .rc = rc, .msg = err && rc < 0 ? err->msg : NULL };
	base_header(c->s, &rep.header);
	if (rc == 0 && res) {
		rep.result = res;
		rep.header.revision = res->revision;
	} else if (rc == 0) {
		rep.rc = -KC_EIO;
	}
	c->cb(&rep, c->arg);
	free(c);
}

static void on_range(void *arg, int rc, struct mvcc_range_resp *resp, const struct kc_err *err)
{
	struct call *c = arg;
	struct gateway_reply rep = { .rc = rc, .msg = err && rc < 0 ? err->msg : NULL };
	base_header(c->s, &rep.header);
	if (rc == 0 && resp) {
		rep.range = resp;
		rep.header.revision = resp->revision;
	}
	c->cb(&rep, c->arg);
	free(c);
}

static void on_keepalive(void *arg, int rc, const struct mvcc_lease_info *info,
			 const struct mvcc_range_resp *keys, const struct kc_err *err)
{
	struct call *c = arg;
	struct gateway_reply rep = { .rc = rc, .msg = err && rc < 0 ? err->msg : NULL };
	(void)keys;
	base_header(c->s, &rep.header);
	rep.lease_id = c->lease_id;
	if (rc == 0 && info)
		rep.lease_ttl = info->ttl;
	c->cb(&rep, c->arg);
	free(c);
}

static void on_ttl(void *arg, int rc, const struct mvcc_lease_info *info,
		   const struct mvcc_range_resp *keys, const struct kc_err *err)
{
	struct call *c = arg;
	struct gateway_reply rep = { .rc = rc, .msg = err && rc < 0 ? err->msg : NULL };
	base_header(c->s, &rep.header);
	rep.lease_id = c->lease_id;
	if (rc == -MVCC_ELEASE_NOT_FOUND) {   /* etcd answers TTL -1, not an error */
		rep.rc = 0;
		rep.msg = NULL;
		rep.lease_ttl = -1;
	} else if (rc == 0 && info) {
		rep.lease_ttl = info->remaining;
		rep.lease_granted_ttl = info->ttl;
		rep.range = keys;
	}
	c->cb(&rep, c->arg);
	free(c);
}

static void on_status(void *arg, int rc, const struct store_status *st, const struct kc_err *err)
{
	struct call *c = arg;
	struct gateway_reply rep = { .rc = rc, .msg = err && rc < 0 ? err->msg : NULL };
	struct gateway_status gs = { 0 };
	base_header(c->s, &rep.header);
	if (rc == 0 && st) {
		rep.header.revision = st->revision;
		rep.header.raft_term = st->raft_term;
		gs.version = GATEWAY_ETCD_VERSION;
		gs.db_size = (int64_t)st->db_size;
		gs.db_size_in_use = (int64_t)st->db_size_in_use;
		gs.leader = st->leader_id;
		gs.raft_index = st->raft_index;
		gs.raft_term = st->raft_term;
		gs.raft_applied_index = st->applied_index;
		gs.learner = st->is_learner;
		rep.status = &gs;
	}
	c->cb(&rep, c->arg);
	free(c);
}

static void to_member(const struct store_member *m, struct gateway_member *g,
		      const char **peer, const char **client)
{
	*peer = m->peer_url;
	*client = m->client_url;
	g->id = m->id;
	g->name = m->name;
	g->peer_urls = peer;
	g->npeer_urls = m->peer_url[0] ? 1 : 0;
	g->client_urls = client;
	g->nclient_urls = m->client_url[0] ? 1 : 0;
	g->learner = m->learner;
}

static void on_members(void *arg, int rc, const struct store_member *members, size_t n,
		       const struct store_member *changed, const struct kc_err *err)
{
	struct call *c = arg;
	struct gateway_reply rep = { .rc = rc, .msg = err && rc < 0 ? err->msg : NULL };
	struct gateway_member *gm = NULL, one;
	const char **urls = NULL, *cp, *cc;
	base_header(c->s, &rep.header);
	if (rc == 0) {
		gm = xcalloc(n ? n : 1, sizeof(*gm));
		urls = xcalloc(n ? 2 * n : 1, sizeof(*urls));
		for (size_t i = 0; i < n; i++)
			to_member(&members[i], &gm[i], &urls[2 * i], &urls[2 * i + 1]);
		rep.members = gm;
		rep.nmembers = n;
		if (changed) {
			to_member(changed, &one, &cp, &cc);
			rep.member = &one;
		}
	}
	c->cb(&rep, c->arg);
	free(gm);
	free(urls);
	free(c);
}

static void be_call(void *impl, struct loop *l, struct gateway_request *req, gateway_reply_cb cb,
		    void *arg)
{
	struct store *s = impl;
	struct call *c = call_new(s, cb, arg);
	struct kc_err err = { 0 };
	switch (req->kind) {
	case GW_LEASE_GRANT:
		if (req->cmd.len == 0 &&
		    gateway_lease_grant_cmd(req, store_lease_id_new(), &err) < 0) {
			on_result(c, err.code, NULL, &err);
			return;
		}
		/* fall through */
	case GW_PUT:
	case GW_DELETE:
	case GW_TXN:
	case GW_COMPACT:
	case GW_LEASE_REVOKE:
		store_submit(s, l, req->cmd.buf, req->cmd.len, on_result, c);
		return;
	case GW_RANGE:
		store_range(s, l, &req->range, !req->serializable, on_range, c);
		return;
	case GW_LEASE_KEEPALIVE:
		c->lease_id = req->lease_id;
		store_lease_keepalive(s, l, req->lease_id, on_keepalive, c);
		return;
	case GW_LEASE_TTL:
		c->lease_id = req->lease_id;
		store_lease_timetolive(s, l, req->lease_id, req->lease_keys, on_ttl, c);
		return;
	case GW_STATUS:
		store_status(s, l, on_status, c);
		return;
	case GW_MEMBER_LIST:
		store_member_list(s, l, on_members, c);
		return;
	case GW_MEMBER_ADD:
		if (!req->member_name || req->npeer_urls != 1) {
			kc_err_set(&err, -KC_EINVAL, "kc needs a member \"name\" and exactly one "
				   "peer URL");
			on_members(c, err.code, NULL, 0, NULL, &err);
			return;
		}
		store_member_add(s, l, req->member_name, req->peer_urls[0], on_members, c);
		return;
	case GW_MEMBER_REMOVE:
		store_member_remove(s, l, req->member_id, on_members, c);
		return;
	case GW_MEMBER_PROMOTE:
		store_member_promote(s, l, req->member_id, on_members, c);
		return;
	default:
		kc_err_set(&err, -KC_EUNSUPPORTED, "unsupported gateway call");
		on_result(c, err.code, NULL, &err);
		return;
	}
}

struct watch_ctx {
	struct store *s;
	struct loop *l;
	gateway_watch_cb cb;
	void *arg;
	struct watch_create_req req;   /* until the watch is created; key bytes in 'keys' */
	uint8_t *keys;
	int64_t id;
	bool created;    /* store_watch was called: the store's final NULL callback frees w */
	bool stopped;    /* the gateway called watch_stop, or the watch ended: forward nothing */
};

static void on_watch_event(void *arg, struct watch_resp *resp)
{
	struct watch_ctx *w = arg;
	if (!resp) {   /* the store's last call */
		free(w->keys);
		free(w);
		return;
	}
	if (w->stopped)
		return;
	struct gateway_header h;
	base_header(w->s, &h);
	w->cb(0, &h, w->id, false, resp, w->arg);
	if (resp->kind == WATCH_RESP_CANCELED)
		w->stopped = true;
}

/* The created message must carry the revision the watch starts after (etcd: events with a
 * revision above the created header's follow). So the store's revision R is read first, and a
 * watch without a start revision is created from R + 1: nothing between the two is lost. */
static void on_watch_status(void *arg, int rc, const struct store_status *st,
			    const struct kc_err *err)
{
	struct watch_ctx *w = arg;
	struct gateway_header h;
	(void)err;
	if (w->stopped) {
		free(w->keys);
		free(w);
		return;
	}
	if (rc < 0 || !st) {
		w->stopped = true;
		w->cb(rc < 0 ? rc : -KC_EIO, NULL, 0, false, NULL, w->arg);
		free(w->keys);
		free(w);
		return;
	}
	if (w->req.start_revision <= 0)
		w->req.start_revision = st->revision + 1;
	w->created = true;
	store_watch(w->s, w->l, &w->req, on_watch_event, w, &w->id);
	base_header(w->s, &h);
	h.revision = st->revision;
	h.raft_term = st->raft_term;
	/* The store posts its responses, so this created message comes first. */
	w->cb(0, &h, w->id, true, NULL, w->arg);
}

static void *be_watch_start(void *impl, struct loop *l, const struct watch_create_req *req,
			    gateway_watch_cb cb, void *arg)
{
	struct store *s = impl;
	struct watch_ctx *w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->l = l;
	w->cb = cb;
	w->arg = arg;
	w->req = *req;
	w->keys = xmalloc(req->key_len + req->range_end_len + 1);
	memcpy(w->keys, req->key, req->key_len);
	if (req->range_end_len)
		memcpy(w->keys + req->key_len, req->range_end, req->range_end_len);
	w->req.key = w->keys;
	w->req.range_end = req->range_end_len ? w->keys + req->key_len : NULL;
	store_status(s, l, on_watch_status, w);
	return w;
}

static void be_watch_stop(void *impl, void *handle)
{
	struct watch_ctx *w = handle;
	(void)impl;
	w->stopped = true;
	if (w->created)
		store_watch_cancel(w->s, w->id);
	/* else on_watch_status frees w when the status arrives */
}

static int be_snapshot(void *impl, char **path, struct kc_err *err)
{
	return store_snapshot_file(impl, path, err);
}

void gateway_backend_store(struct store *s, struct gateway_backend *out)
{
	out->impl = s;
	out->call = be_call;
	out->watch_start = be_watch_start;
	out->watch_stop = be_watch_stop;
	out->snapshot = be_snapshot;
}
