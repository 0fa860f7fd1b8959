/* DESIGN: the watch hub, owned by the store thread (see watch.h for the pull model).
 *
 * Each watcher has a state and next_rev, the first revision it has not yet queued or delivered:
 *   CATCHUP  - events from next_rev up to the hub's revision are read from history by
 *              watch_poll, a page at a time, only when the queue is empty; live events are not
 *              queued (they are in history already, because a batch commits before it is
 *              published). When a page leaves next_rev above the hub's revision, the watcher
 *              turns LIVE.
 *   LIVE     - published events with revision >= next_rev are queued. Because the switch happens
 *              on the store thread between two publishes, every revision is covered exactly
 *              once: by history up to the hub's revision, by the queue above it. No gap, no
 *              duplicate.
 *   CANCELED - the queue is dropped; one CANCELED response is delivered, then nothing.
 * Watchers on a single key sit in a map bucket for their key; range watchers in one list that
 * every event is matched against (an interval tree would scale better with many range watchers;
 * Kubernetes has a few per resource type).
 *
 * Events are wrapped once per publish in a refcounted, immutable struct shared by every queue
 * and response that holds it; the refcount is atomic so responses may be freed on another
 * thread. Progress notifications travel in the same queue as events, so one can never overtake
 * an event it vouches for (etcd#15220). */
#include "store/watch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/map.h"

struct shared_ev {
	atomic_uint refs;
	size_t bytes;
	struct mvcc_event ev;
};

struct qent {
	struct shared_ev *ev;   /* NULL: a progress notification */
	int64_t rev;
};

enum wstate { W_CATCHUP, W_LIVE, W_CANCELED };

struct bucket {
	struct kc_list head;    /* struct watch.live links */
};

struct watch {
	struct watch_hub *hub;
	int64_t id;
	uint8_t *key;           /* owned, with the range end in the same block */
	size_t key_len;
	uint8_t *end;
	size_t end_len;
	bool prev_kv, progress_notify, no_put, no_delete;
	enum wstate state;
	int64_t next_rev;
	struct qent *q;         /* ring of qcap entries from qhead */
	size_t qhead, qlen, qcap;
	size_t q_events, q_bytes;
	bool progress_pending;
	bool cancel_delivered;
	int cancel_code;
	char cancel_reason[KC_ERRMSG_MAX];
	int64_t compact_rev;
	int64_t resume_rev;
	watch_ready_fn ready;
	void *arg;
	bool signaled;
	struct kc_list all;     /* hub->all */
	struct kc_list live;    /* a bucket or hub->ranges while LIVE; self-linked otherwise */
	struct bucket *bucket;  /* while linked in a bucket */
};

struct watch_hub {
	struct mvcc *m;
	struct watch_hub_options o;
	int64_t rev;
	int64_t next_id;
	size_t count;
	size_t npending;        /* watchers with progress_pending */
	struct kc_list all;
	struct kc_list ranges;
	struct kc_map keys;     /* key -> struct bucket * */
};

/* ---------------------------------------------------------------------------------------------
 * shared events */

static struct shared_ev *sev_wrap(struct mvcc_event *ev)
{
	struct shared_ev *s = xmalloc(sizeof *s);
	atomic_init(&s->refs, 1);
	s->ev = *ev;
	memset(ev, 0, sizeof *ev);
	s->bytes = sizeof *s + s->ev.kv.key_len + s->ev.kv.value_len + s->ev.prev_kv.key_len +
		   s->ev.prev_kv.value_len;
	return s;
}

static void sev_ref(struct shared_ev *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

static void sev_unref(struct shared_ev *s)
{
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
		mvcc_kv_free(&s->ev.kv);
		mvcc_kv_free(&s->ev.prev_kv);
		free(s);
	}
}

/* ---------------------------------------------------------------------------------------------
 * queue */

static struct qent *q_at(struct watch *w, size_t i)
{
	return &w->q[(w->qhead + i) % w->qcap];
}

static void q_push(struct watch *w, struct shared_ev *ev, int64_t rev)
{
	if (w->qlen == w->qcap) {
		size_t ncap = kc_grow_cap(w->qcap, w->qlen + 1, sizeof *w->q);
		struct qent *nq = xmalloc(ncap * sizeof *nq);
		for (size_t i = 0; i < w->qlen; i++)
			nq[i] = *q_at(w, i);
		free(w->q);
		w->q = nq;
		w->qcap = ncap;
		w->qhead = 0;
	}
	*q_at(w, w->qlen++) = (struct qent){ ev, rev };
	if (ev) {
		w->q_events++;
		w->q_bytes += ev->bytes;
	}
}

static struct qent q_pop(struct watch *w)
{
	struct qent e = *q_at(w, 0);
	w->qhead = (w->qhead + 1) % w->qcap;
	w->qlen--;
	if (e.ev) {
		w->q_events--;
		w->q_bytes -= e.ev->bytes;
	}
	return e;
}

static struct qent q_pop_tail(struct watch *w)
{
	struct qent e = *q_at(w, --w->qlen);
	if (e.ev) {
		w->q_events--;
		w->q_bytes -= e.ev->bytes;
	}
	return e;
}

static void q_clear(struct watch *w)
{
	while (w->qlen) {
		struct qent e = q_pop(w);
		if (e.ev)
			sev_unref(e.ev);
	}
}

/* Revision of the oldest queued event, or 0. */
static int64_t q_first_event_rev(struct watch *w)
{
	for (size_t i = 0; i < w->qlen; i++)
		if (q_at(w, i)->ev)
			return q_at(w, i)->rev;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * watcher state */

bool watch_is_ready(const struct watch *w)
{
	if (w->state == W_CANCELED)
		return !w->cancel_delivered;
	return w->qlen > 0 || w->state == W_CATCHUP;
}

static void signal_ready(struct watch *w)
{
	if (w->signaled || !watch_is_ready(w))
		return;
	w->signaled = true;
	if (w->ready)
		w->ready(w, w->arg);
}

static bool single_key(const struct watch *w)
{
	return w->end_len == 0;
}

static void link_live(struct watch_hub *h, struct watch *w)
{
	if (!single_key(w)) {
		kc_list_push_back(&h->ranges, &w->live);
		return;
	}
	struct bucket *b = kc_map_get(&h->keys, w->key, w->key_len);
	if (!b) {
		b = xmalloc(sizeof *b);
		kc_list_init(&b->head);
		kc_map_put(&h->keys, w->key, w->key_len, b);
	}
	kc_list_push_back(&b->head, &w->live);
	w->bucket = b;
}

/* free_bucket is false while a bucket's list is being walked (publish frees it after). */
static void unlink_live(struct watch_hub *h, struct watch *w, bool free_bucket)
{
	kc_list_del(&w->live);
	if (w->bucket && free_bucket && kc_list_empty(&w->bucket->head))
		kc_map_del(&h->keys, w->key, w->key_len);
	w->bucket = NULL;
}

static void set_pending(struct watch_hub *h, struct watch *w, bool on)
{
	if (w->progress_pending == on)
		return;
	w->progress_pending = on;
	if (on)
		h->npending++;
	else
		h->npending--;
}

static void cancel(struct watch_hub *h, struct watch *w, int code, int64_t resume,
		   int64_t compact, const char *reason)
{
	if (w->state == W_LIVE)
		unlink_live(h, w, false);
	q_clear(w);
	set_pending(h, w, false);
	w->state = W_CANCELED;
	w->cancel_code = code;
	w->resume_rev = resume;
	w->compact_rev = compact;
	snprintf(w->cancel_reason, sizeof w->cancel_reason, "%s", reason);
	log_info("watch cancelled id=%lld resume=%lld reason=%s", (long long)w->id,
		 (long long)resume, reason);
	signal_ready(w);
}

/* Queues a progress notification at the hub's revision when it can vouch for it. */
static void try_progress(struct watch_hub *h, struct watch *w)
{
	if (w->state != W_LIVE || h->rev < w->next_rev - 1) {
		set_pending(h, w, w->state != W_CANCELED);
		return;
	}
	set_pending(h, w, false);
	if (w->qlen && !q_at(w, w->qlen - 1)->ev)
		q_at(w, w->qlen - 1)->rev = h->rev;   /* coalesce with a queued one */
	else
		q_push(w, NULL, h->rev);
	signal_ready(w);
}

static void go_live(struct watch_hub *h, struct watch *w)
{
	w->state = W_LIVE;
	link_live(h, w);
	if (w->progress_pending)
		try_progress(h, w);
}

/* The queue outgrew the limits while an event of revision rev was being queued. */
static void overflow(struct watch_hub *h, struct watch *w, int64_t rev)
{
	if (h->o.overflow == WATCH_OVERFLOW_RESYNC) {
		while (w->qlen && q_at(w, w->qlen - 1)->rev == rev && q_at(w, w->qlen - 1)->ev)
			sev_unref(q_pop_tail(w).ev);
		unlink_live(h, w, false);
		w->state = W_CATCHUP;
		w->next_rev = rev;
		log_debug("watch resyncing id=%lld from=%lld", (long long)w->id, (long long)rev);
		return;
	}
	int64_t resume = q_first_event_rev(w);
	char reason[KC_ERRMSG_MAX];
	snprintf(reason, sizeof reason,
		 "watcher too slow: %zu events (%zu bytes) queued; re-watch from revision %lld",
		 w->q_events, w->q_bytes, (long long)(resume ? resume : rev));
	cancel(h, w, -KC_ELIMIT, resume ? resume : rev, 0, reason);
}

static void deliver(struct watch_hub *h, struct watch *w, struct shared_ev *s)
{
	const struct mvcc_event *ev = &s->ev;
	if (w->state != W_LIVE || ev->revision < w->next_rev)
		return;
	if ((ev->type == MVCC_EVENT_PUT && w->no_put) ||
	    (ev->type == MVCC_EVENT_DELETE && w->no_delete))
		return;
	if (w->q_events > 0 &&
	    (w->q_events + 1 > h->o.max_queue_events || w->q_bytes + s->bytes > h->o.max_queue_bytes) &&
	    q_first_event_rev(w) < ev->revision) {
		overflow(h, w, ev->revision);
		return;
	}
	sev_ref(s);
	q_push(w, s, ev->revision);
	signal_ready(w);
}

/* ---------------------------------------------------------------------------------------------
 * hub */

struct watch_hub *watch_hub_new(struct mvcc *m, const struct watch_hub_options *opts)
{
	struct watch_hub *h = xcalloc(1, sizeof *h);
	h->m = m;
	if (opts)
		h->o = *opts;
	if (!h->o.max_queue_events)
		h->o.max_queue_events = 10000;
	if (!h->o.max_queue_bytes)
		h->o.max_queue_bytes = 64u << 20;
	if (!h->o.catchup_events)
		h->o.catchup_events = 1000;
	if (!h->o.catchup_scan)
		h->o.catchup_scan = 10000;
	h->rev = mvcc_revision(m);
	kc_list_init(&h->all);
	kc_list_init(&h->ranges);
	kc_map_init(&h->keys, free);
	return h;
}

void watch_hub_free(struct watch_hub *h)
{
	if (!h)
		return;
	struct kc_list *it, *tmp;
	kc_list_each_safe(&h->all, it, tmp)
		watch_close(h, kc_container_of(it, struct watch, all));
	kc_map_free(&h->keys);
	free(h);
}

int64_t watch_hub_revision(const struct watch_hub *h)
{
	return h->rev;
}

size_t watch_hub_count(const struct watch_hub *h)
{
	return h->count;
}

void watch_hub_publish(struct watch_hub *h, struct mvcc_events *evs, int64_t revision)
{
	for (size_t i = 0; i < evs->len; i++) {
		struct mvcc_event *ev = &evs->v[i];
		if (ev->revision <= h->rev) {
			log_warn("watch hub dropped an event already published rev=%lld hub=%lld",
				 (long long)ev->revision, (long long)h->rev);
			mvcc_kv_free(&ev->kv);
			mvcc_kv_free(&ev->prev_kv);
			continue;
		}
		struct shared_ev *s = sev_wrap(ev);
		struct kc_list *it, *tmp;
		struct bucket *b = kc_map_get(&h->keys, s->ev.kv.key, s->ev.kv.key_len);
		if (b) {
			kc_list_each_safe(&b->head, it, tmp)
				deliver(h, kc_container_of(it, struct watch, live), s);
			if (kc_list_empty(&b->head))
				kc_map_del(&h->keys, s->ev.kv.key, s->ev.kv.key_len);
		}
		kc_list_each_safe(&h->ranges, it, tmp) {
			struct watch *w = kc_container_of(it, struct watch, live);
			if (mvcc_key_in_range(s->ev.kv.key, s->ev.kv.key_len, w->key, w->key_len,
					      w->end, w->end_len))
				deliver(h, w, s);
		}
		sev_unref(s);
	}
	evs->len = 0;
	if (revision > h->rev)
		h->rev = revision;
	if (h->npending) {
		struct kc_list *it, *tmp;
		kc_list_each_safe(&h->all, it, tmp) {
			struct watch *w = kc_container_of(it, struct watch, all);
			if (w->progress_pending && w->state == W_LIVE)
				try_progress(h, w);
		}
	}
}

void watch_hub_progress_tick(struct watch_hub *h)
{
	struct kc_list *it, *tmp;
	kc_list_each_safe(&h->all, it, tmp) {
		struct watch *w = kc_container_of(it, struct watch, all);
		if (w->progress_notify && w->state == W_LIVE && w->qlen == 0)
			try_progress(h, w);
	}
}

/* ---------------------------------------------------------------------------------------------
 * watchers */

int watch_create(struct watch_hub *h, const struct watch_create_req *req, watch_ready_fn ready,
		 void *arg, struct watch **out, int64_t *compact_revision, struct kc_err *err)
{
	*out = NULL;
	if (req->key_len == 0)
		return kc_err_set(err, -MVCC_EEMPTY_KEY, "%s", mvcc_strerror(-MVCC_EEMPTY_KEY));
	if (req->key_len > MVCC_KEY_MAX || req->range_end_len > MVCC_KEY_MAX)
		return kc_err_set(err, -KC_ELIMIT, "watch key longer than %u", MVCC_KEY_MAX);
	int64_t compact = mvcc_compact_revision(h->m);
	if (req->start_revision > 0 && req->start_revision < compact) {
		if (compact_revision)
			*compact_revision = compact;
		return kc_err_set(err, -MVCC_ECOMPACTED, "%s", mvcc_strerror(-MVCC_ECOMPACTED));
	}
	struct watch *w = xcalloc(1, sizeof *w);
	w->hub = h;
	w->id = ++h->next_id;
	w->key = xmalloc(req->key_len + req->range_end_len + 2);
	memcpy(w->key, req->key, req->key_len);
	w->key[req->key_len] = 0;
	w->key_len = req->key_len;
	w->end = w->key + req->key_len + 1;
	if (req->range_end_len)
		memcpy(w->end, req->range_end, req->range_end_len);
	w->end[req->range_end_len] = 0;
	w->end_len = req->range_end_len;
	w->prev_kv = req->prev_kv;
	w->progress_notify = req->progress_notify;
	w->no_put = req->no_put;
	w->no_delete = req->no_delete;
	w->ready = ready;
	w->arg = arg;
	kc_list_init(&w->live);
	kc_list_push_back(&h->all, &w->all);
	h->count++;
	if (req->start_revision <= 0 || req->start_revision > h->rev) {
		w->next_rev = req->start_revision > 0 ? req->start_revision : h->rev + 1;
		go_live(h, w);
	} else {
		w->next_rev = req->start_revision;
		w->state = W_CATCHUP;
	}
	*out = w;
	signal_ready(w);
	return 0;
}

void watch_close(struct watch_hub *h, struct watch *w)
{
	if (!w)
		return;
	if (w->state == W_LIVE)
		unlink_live(h, w, true);
	q_clear(w);
	set_pending(h, w, false);
	kc_list_del(&w->all);
	h->count--;
	free(w->q);
	free(w->key);
	free(w);
}

int64_t watch_id(const struct watch *w)
{
	return w->id;
}

void watch_request_progress(struct watch_hub *h, struct watch *w)
{
	if (w->state != W_CANCELED)
		try_progress(h, w);
}

/* Reads the next history page into the queue. Returns 0, or cancels w on failure. */
static void catch_up(struct watch_hub *h, struct watch *w, size_t max_events)
{
	struct mvcc_history_req q = {
		.key = w->key, .key_len = w->key_len, .range_end = w->end, .range_end_len = w->end_len,
		.from_rev = w->next_rev, .to_rev = h->rev,
		.max_events = max_events < h->o.catchup_events ? max_events : h->o.catchup_events,
		.max_scan = h->o.catchup_scan, .prev_kv = w->prev_kv,
	};
	struct mvcc_events evs;
	struct kc_err err = { 0 };
	int64_t next = w->next_rev;
	mvcc_events_init(&evs);
	int rc = mvcc_history(h->m, &q, &evs, &next, &err);
	if (rc < 0) {
		mvcc_events_free(&evs);
		cancel(h, w, rc, w->next_rev, rc == -MVCC_ECOMPACTED ? mvcc_compact_revision(h->m) : 0,
		       err.msg[0] ? err.msg : mvcc_strerror(rc));
		return;
	}
	for (size_t i = 0; i < evs.len; i++) {
		struct mvcc_event *ev = &evs.v[i];
		if ((ev->type == MVCC_EVENT_PUT && w->no_put) ||
		    (ev->type == MVCC_EVENT_DELETE && w->no_delete)) {
			mvcc_kv_free(&ev->kv);
			mvcc_kv_free(&ev->prev_kv);
			continue;
		}
		q_push(w, sev_wrap(ev), ev->revision);
	}
	evs.len = 0;
	mvcc_events_free(&evs);
	w->next_rev = next;
	if (w->next_rev > h->rev)
		go_live(h, w);
}

static void resp_add_ref(struct watch_resp *r, size_t *cap, struct shared_ev *s, bool prev)
{
	if (r->nrefs == *cap) {
		*cap = kc_grow_cap(*cap, r->nrefs + 1, sizeof(void *) + sizeof(struct watch_event));
		r->refs = xrealloc(r->refs, *cap * sizeof *r->refs);
		r->events = xrealloc(r->events, *cap * sizeof *r->events);
	}
	r->refs[r->nrefs++] = s;
	r->events[r->nevents++] = (struct watch_event){
		.type = s->ev.type, .kv = &s->ev.kv,
		.prev_kv = prev && s->ev.has_prev ? &s->ev.prev_kv : NULL,
	};
}

int watch_poll(struct watch_hub *h, struct watch *w, size_t max_events, struct watch_resp *out)
{
	memset(out, 0, sizeof *out);
	out->watch_id = w->id;
	if (max_events == 0)
		max_events = 1000;
	if (w->state == W_CANCELED) {
		if (w->cancel_delivered) {
			w->signaled = false;
			return 0;
		}
		w->cancel_delivered = true;
		w->signaled = false;
		out->kind = WATCH_RESP_CANCELED;
		out->revision = h->rev;
		out->cancel_code = w->cancel_code;
		out->resume_revision = w->resume_rev;
		out->compact_revision = w->compact_rev;
		snprintf(out->cancel_reason, sizeof out->cancel_reason, "%s", w->cancel_reason);
		return 1;
	}
	if (w->qlen == 0 && w->state == W_CATCHUP)
		catch_up(h, w, max_events);
	if (w->state == W_CANCELED)
		return watch_poll(h, w, max_events, out);
	if (w->qlen == 0) {
		w->signaled = false;
		if (w->state == W_CATCHUP) {
			signal_ready(w);   /* a page without matches: come back later */
		}
		return 0;
	}
	if (!q_at(w, 0)->ev) {
		struct qent e = q_pop(w);
		out->kind = WATCH_RESP_PROGRESS;
		out->revision = e.rev;
	} else {
		out->kind = WATCH_RESP_EVENTS;
		size_t cap = 0;
		int64_t last = 0;
		while (w->qlen && q_at(w, 0)->ev &&
		       (out->nevents < max_events || q_at(w, 0)->rev == last)) {
			struct qent e = q_pop(w);
			last = e.rev;
			resp_add_ref(out, &cap, e.ev, w->prev_kv);   /* the queue's ref moves */
		}
		out->revision = w->qlen == 0 && w->state == W_LIVE && h->rev >= last ? h->rev : last;
	}
	if (!watch_is_ready(w))
		w->signaled = false;
	return 1;
}

void watch_resp_free(struct watch_resp *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrefs; i++)
		sev_unref(r->refs[i]);
	free(r->refs);
	free(r->events);
	memset(r, 0, sizeof *r);
}
