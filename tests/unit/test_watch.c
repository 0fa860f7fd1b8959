/* Unit tests for store/watch: catch-up from history then live events, ordering without gaps or
 * duplicates under random interleavings of writes, polls and watch creation (checked against a
 * model of every event), slow watchers (cancel and resync), prefix watches, prev_kv, filters,
 * revisions never split, compacted starts, and progress notifications ordered with events. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/mvcc.h"
#include "store/watch.h"

struct fx {
	struct mvcc *m;
	struct watch_hub *h;
	uint64_t idx;
	struct mvcc_events evs;
	struct mvcc_events all;   /* copy of every event ever published: the model */
};

static void fx_open(struct fx *f, const struct watch_hub_options *o)
{
	memset(f, 0, sizeof *f);
	struct mvcc_options mo = { .path = ":memory:", .cluster_id = 1, .member_id = 1,
				   .sync = MVCC_SYNC_OFF };
	struct kc_err err = { 0 };
	if (mvcc_open(&mo, &f->m, &err) < 0)
		fail_msg("open: %s", err.msg);
	f->h = watch_hub_new(f->m, o);
	mvcc_events_init(&f->evs);
	mvcc_events_init(&f->all);
}

static void fx_close(struct fx *f)
{
	watch_hub_free(f->h);
	mvcc_close(f->m);
	mvcc_events_free(&f->evs);
	mvcc_events_free(&f->all);
}

/* Appends a deep copy of src to e (the model keeps its own copies). */
static struct mvcc_event *events_push_copy(struct mvcc_events *e, const struct mvcc_event *src)
{
	if (e->len == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->v = xrealloc(e->v, e->cap * sizeof *e->v);
	}
	struct mvcc_event *d = &e->v[e->len++];
	*d = *src;
	mvcc_kv_copy(&d->kv, &src->kv);
	if (src->has_prev)
		mvcc_kv_copy(&d->prev_kv, &src->prev_kv);
	else
		memset(&d->prev_kv, 0, sizeof d->prev_kv);
	return d;
}

/* Applies one encoded command; publish says whether to feed the hub right away. */
static void apply(struct fx *f, struct kc_str *cmd, bool publish)
{
	struct mvcc_result r;
	struct kc_err err = { 0 };
	if (mvcc_apply(f->m, ++f->idx, cmd->buf, cmd->len, &r, &f->evs, &err) < 0)
		fail_msg("apply: %s", err.msg);
	assert_int_equal(r.err.code, 0);
	mvcc_result_free(&r);
	kc_str_reset(cmd);
	if (publish) {
		for (size_t i = 0; i < f->evs.len; i++)
			events_push_copy(&f->all, &f->evs.v[i]);
		watch_hub_publish(f->h, &f->evs, mvcc_revision(f->m));
	}
}

static void publish_pending(struct fx *f)
{
	for (size_t i = 0; i < f->evs.len; i++)
		events_push_copy(&f->all, &f->evs.v[i]);
	watch_hub_publish(f->h, &f->evs, mvcc_revision(f->m));
}

static void put(struct fx *f, const char *k, const char *v, bool publish)
{
	struct kc_str s = KC_STR_INIT;
	struct mvcc_put_req p = { .key = k, .key_len = strlen(k), .value = v,
				  .value_len = strlen(v) };
	assert_int_equal(mvcc_cmd_encode_put(&s, &p, NULL), 0);
	apply(f, &s, publish);
	kc_str_free(&s);
}

static void del(struct fx *f, const char *k, bool publish)
{
	struct kc_str s = KC_STR_INIT;
	struct mvcc_delete_req d = { .key = k, .key_len = strlen(k) };
	assert_int_equal(mvcc_cmd_encode_delete(&s, &d, NULL), 0);
	apply(f, &s, publish);
	kc_str_free(&s);
}

struct ready_count {
	int calls;
};

static void on_ready(struct watch *w, void *arg)
{
	(void)w;
	((struct ready_count *)arg)->calls++;
}

/* end NULL: the single key; "": "\0" (every key >= key). */
static struct watch *watch_on(struct fx *f, const char *key, const char *end, int64_t start,
			      bool prev, struct ready_count *rc)
{
	struct watch_create_req q = { .key = key, .key_len = strlen(key), .range_end = end,
				      .range_end_len = end ? (end[0] ? strlen(end) : 1) : 0,
				      .start_revision = start, .prev_kv = prev };
	struct watch *w;
	struct kc_err err = { 0 };
	if (watch_create(f->h, &q, on_ready, rc, &w, NULL, &err) < 0)
		fail_msg("watch_create: %s", err.msg);
	return w;
}

/* A received event, flattened for comparisons. */
struct got {
	int64_t rev;
	int type;
	char key[32];
	char value[32];
	char prev[32];
};

/* Polls w until it returns 0, appending events; returns the number of responses. */
static int drain(struct fx *f, struct watch *w, size_t max, struct got *out, size_t *n,
		 size_t cap, struct watch_resp *last_special)
{
	int responses = 0;
	struct watch_resp r;
	for (int guard = 0; guard < 100000; guard++) {
		int rc = watch_poll(f->h, w, max, &r);
		if (rc == 0) {
			if (!watch_is_ready(w))
				return responses;
			continue;   /* a catch-up page without matches: come back */
		}
		responses++;
		assert_int_equal(r.watch_id, watch_id(w));
		if (r.kind == WATCH_RESP_EVENTS) {
			assert_true(r.nevents > 0);
			for (size_t i = 0; i < r.nevents; i++) {
				assert_true(*n < cap);
				struct got *g = &out[(*n)++];
				memset(g, 0, sizeof *g);
				g->rev = r.events[i].kv->mod_revision;
				g->type = r.events[i].type;
				const struct mvcc_kv *kv = r.events[i].kv;
				snprintf(g->key, sizeof g->key, "%s", (const char *)kv->key);
				snprintf(g->value, sizeof g->value, "%s",
					 (const char *)r.events[i].kv->value);
				if (r.events[i].prev_kv)
					snprintf(g->prev, sizeof g->prev, "%s",
						 (const char *)r.events[i].prev_kv->value);
				assert_true(r.revision >= g->rev);
			}
			watch_resp_free(&r);
		} else if (last_special) {
			watch_resp_free(last_special);
			*last_special = r;
		} else {
			watch_resp_free(&r);
		}
	}
	fail_msg("drain did not finish");
	return responses;
}

/* ---------------------------------------------------------------------------------------------
 * tests */

static void test_catchup_then_live(void **state)
{
	(void)state;
	struct watch_hub_options o = { .catchup_events = 2 };
	struct fx f;
	fx_open(&f, &o);
	char v[8];
	for (int i = 1; i <= 10; i++) {
		snprintf(v, sizeof v, "%d", i);
		put(&f, "k", v, true);
	}
	struct ready_count rc = { 0 };
	struct watch *w = watch_on(&f, "k", NULL, 3, true, &rc);
	assert_int_equal(rc.calls, 1);
	struct got got[64];
	size_t n = 0;
	drain(&f, w, 0, got, &n, 64, NULL);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(got[i].rev, (int64_t)i + 3);
		snprintf(v, sizeof v, "%d", (int)i + 2);
		assert_string_equal(got[i].prev, v);   /* prev_kv from history */
	}
	/* Now live: new writes arrive, once, in order; ready fires once per idle->ready edge. */
	int calls = rc.calls;
	put(&f, "k", "11", true);
	put(&f, "k", "12", true);
	assert_int_equal(rc.calls, calls + 1);
	drain(&f, w, 0, got, &n, 64, NULL);
	assert_int_equal(n, 10);
	assert_int_equal(got[8].rev, 11);
	assert_string_equal(got[9].value, "12");
	assert_string_equal(got[9].prev, "11");
	/* A watch from "now" sees only later events; other keys are not delivered. */
	struct ready_count rc2 = { 0 };
	struct watch *w2 = watch_on(&f, "k", NULL, 0, false, &rc2);
	put(&f, "other", "x", true);
	assert_int_equal(rc2.calls, 0);
	del(&f, "k", true);
	size_t n2 = 0;
	struct got got2[4];
	drain(&f, w2, 0, got2, &n2, 4, NULL);
	assert_int_equal(n2, 1);
	assert_int_equal(got2[0].type, MVCC_EVENT_DELETE);
	assert_int_equal(got2[0].rev, 14);
	assert_string_equal(got2[0].prev, "");   /* not asked for */
	assert_int_equal(watch_hub_count(f.h), 2);
	watch_close(f.h, w);
	watch_close(f.h, w2);
	assert_int_equal(watch_hub_count(f.h), 0);
	fx_close(&f);
}

/* Random interleavings, checked against the model of all published events. */
struct model_watch {
	struct watch *w;
	char key[8];
	char end[8];
	bool range;
	int64_t start;
	struct got *got;
	size_t n;
	struct ready_count rc;
};

static bool model_match(const struct model_watch *mw, const struct mvcc_event *e)
{
	if (e->revision < mw->start)
		return false;
	size_t end_len = !mw->range ? 0 : mw->end[0] ? strlen(mw->end) : 1;   /* "" is "\0" */
	return mvcc_key_in_range(e->kv.key, e->kv.key_len, mw->key, strlen(mw->key), mw->end,
				 end_len);
}

static void check_model(struct fx *f, struct model_watch *mw)
{
	size_t j = 0;
	for (size_t i = 0; i < f->all.len; i++) {
		const struct mvcc_event *e = &f->all.v[i];
		if (!model_match(mw, e))
			continue;
		if (j >= mw->n)
			break;   /* not delivered yet: fine, as long as what came is a prefix */
		assert_int_equal(mw->got[j].rev, e->revision);
		assert_int_equal(mw->got[j].type, e->type);
		assert_int_equal(strlen(mw->got[j].key), e->kv.key_len);
		assert_memory_equal(mw->got[j].key, e->kv.key, e->kv.key_len);
		j++;
	}
	assert_int_equal(j, mw->n);   /* nothing extra, nothing duplicated */
}

static void model_create(struct fx *f, struct model_watch *m, size_t cap)
{
	const char *keys[] = { "/a/1", "/a/2", "/b/1", "/b/2", "/c" };
	memset(m, 0, sizeof *m);
	int kind = rand() % 3;
	if (kind == 0) {
		snprintf(m->key, sizeof m->key, "%s", keys[rand() % 5]);
	} else if (kind == 1) {
		snprintf(m->key, sizeof m->key, "/a/");
		snprintf(m->end, sizeof m->end, "/a0");
		m->range = true;
	} else {
		snprintf(m->key, sizeof m->key, "/");
		m->range = true;   /* end "" stands for "\0": everything from "/" */
	}
	int64_t hub = watch_hub_revision(f->h);
	/* Mostly near the tip, so catch-up ends (and meets unpublished batches) while the
	 * watcher lives; sometimes far back, in the future, or "now". */
	int64_t start = hub + 3 - rand() % 16;
	if (rand() % 8 == 0)
		start = 1 + rand() % (hub + 1);
	if (start < 1)
		start = 1;
	if (rand() % 8 == 0)
		start = 0;
	m->start = start > 0 ? start : hub + 1;
	m->got = xcalloc(cap, sizeof *m->got);
	struct watch_create_req q = { .key = m->key, .key_len = strlen(m->key),
				      .range_end = m->end,
				      .range_end_len = m->range ? (m->end[0] ? strlen(m->end) : 1) : 0,
				      .start_revision = start };
	assert_int_equal(watch_create(f->h, &q, on_ready, &m->rc, &m->w, NULL, NULL), 0);
}

static void test_interleaving(void **state)
{
	(void)state;
	struct watch_hub_options o = { .catchup_events = 3, .catchup_scan = 4 };
	struct fx f;
	fx_open(&f, &o);
	srand(12345);
	enum { NW = 12, STEPS = 6000, CAP = STEPS * 2 };
	struct model_watch mw[NW];
	const char *keys[] = { "/a/1", "/a/2", "/b/1", "/b/2", "/c" };
	for (int i = 0; i < NW; i++)
		model_create(&f, &mw[i], CAP);
	int replaced = 0;
	for (int step = 0; step < STEPS; step++) {
		int op = rand() % 10;
		if (op < 4) {
			const char *k = keys[rand() % 5];
			char v[16];
			snprintf(v, sizeof v, "%d", step);
			/* Often apply several batches before publishing (the store's group commit):
			 * watchers finishing catch-up in between must see each event once. */
			bool publish = rand() % 2 == 0;
			if (rand() % 4 == 0)
				del(&f, k, publish);
			else
				put(&f, k, v, publish);
		} else if (op == 4) {
			publish_pending(&f);
		} else if (op == 5) {
			/* Retire a watcher (what it got so far must be a prefix) and start another. */
			struct model_watch *m = &mw[rand() % NW];
			check_model(&f, m);
			watch_close(f.h, m->w);
			free(m->got);
			model_create(&f, m, CAP);
			replaced++;
		} else {
			struct model_watch *m = &mw[rand() % NW];
			struct watch_resp r;
			if (watch_poll(f.h, m->w, 1 + (size_t)(rand() % 4), &r) == 1) {
				assert_int_equal(r.kind, WATCH_RESP_EVENTS);
				int64_t last = 0;
				for (size_t i = 0; i < r.nevents; i++) {
					assert_true(m->n < CAP);
					struct got *g = &m->got[m->n++];
					g->rev = r.events[i].kv->mod_revision;
					g->type = r.events[i].type;
					snprintf(g->key, sizeof g->key, "%s",
						 (const char *)r.events[i].kv->key);
					assert_true(g->rev >= last);
					last = g->rev;
				}
				assert_true(r.revision <= watch_hub_revision(f.h));
				watch_resp_free(&r);
			}
			check_model(&f, m);
		}
	}
	assert_true(replaced > 100);
	publish_pending(&f);
	for (int i = 0; i < NW; i++) {
		drain(&f, mw[i].w, 2, mw[i].got, &mw[i].n, CAP, NULL);
		check_model(&f, &mw[i]);
		/* Fully drained: exactly the model's events. */
		size_t want = 0;
		for (size_t e = 0; e < f.all.len; e++)
			want += model_match(&mw[i], &f.all.v[e]);
		assert_int_equal(mw[i].n, want);
		watch_close(f.h, mw[i].w);
		free(mw[i].got);
	}
	fx_close(&f);
}

static void test_slow_watcher(void **state)
{
	(void)state;
	struct watch_hub_options o = { .max_queue_events = 5 };
	struct fx f;
	fx_open(&f, &o);
	struct ready_count rc = { 0 };
	struct watch *w = watch_on(&f, "k", NULL, 0, false, &rc);
	for (int i = 0; i < 5; i++)
		put(&f, "k", "v", true);
	assert_int_equal(rc.calls, 1);
	put(&f, "k", "v", true);   /* the 6th event: over the limit */
	struct watch_resp r;
	assert_int_equal(watch_poll(f.h, w, 0, &r), 1);
	assert_int_equal(r.kind, WATCH_RESP_CANCELED);
	assert_int_equal(r.cancel_code, -KC_ELIMIT);
	assert_int_equal(r.resume_revision, 1);   /* nothing was delivered */
	assert_non_null(strstr(r.cancel_reason, "too slow"));
	watch_resp_free(&r);
	assert_int_equal(watch_poll(f.h, w, 0, &r), 0);
	put(&f, "k", "v", true);
	assert_int_equal(watch_poll(f.h, w, 0, &r), 0);   /* cancelled stays quiet */
	watch_close(f.h, w);
	/* Re-watching from the resume revision gets everything. */
	w = watch_on(&f, "k", NULL, 1, false, &rc);
	struct got got[16];
	size_t n = 0;
	drain(&f, w, 0, got, &n, 16, NULL);
	assert_int_equal(n, 7);
	watch_close(f.h, w);
	fx_close(&f);

	/* Resync mode: the slow watcher falls back to history and loses nothing. */
	o.overflow = WATCH_OVERFLOW_RESYNC;
	fx_open(&f, &o);
	w = watch_on(&f, "/", "", 0, false, &rc);
	struct kc_str s = KC_STR_INIT;
	for (int i = 0; i < 40; i++) {
		if (i == 20) {
			/* A revision with three events never gets split by the overflow. */
			struct mvcc_op ops[3] = {
				{ .type = MVCC_OP_PUT, .u.put = { .key = "/t1", .key_len = 3 } },
				{ .type = MVCC_OP_PUT, .u.put = { .key = "/t2", .key_len = 3 } },
				{ .type = MVCC_OP_PUT, .u.put = { .key = "/t3", .key_len = 3 } },
			};
			struct mvcc_txn_req t = { .success = ops, .nsuccess = 3 };
			assert_int_equal(mvcc_cmd_encode_txn(&s, &t, NULL), 0);
			apply(&f, &s, true);
		} else {
			put(&f, "/k", "v", true);
		}
	}
	struct got got2[64];
	n = 0;
	int responses = drain(&f, w, 1, got2, &n, 64, NULL);
	assert_int_equal(n, 42);
	for (size_t i = 1; i < n; i++)
		assert_true(got2[i].rev == got2[i - 1].rev + 1 ||
			    (got2[i].rev == 21 && got2[i - 1].rev == 21));
	assert_int_equal(responses, 40);   /* max_events 1, yet revision 21 came whole */
	watch_close(f.h, w);
	kc_str_free(&s);
	fx_close(&f);
}

static void test_prefix_prev_filters(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, NULL);
	struct ready_count rc = { 0 };
	uint8_t end[8];
	size_t elen = mvcc_prefix_end("/pods/", 6, end);
	end[elen] = 0;
	struct watch *w = watch_on(&f, "/pods/", (char *)end, 0, true, &rc);
	struct watch_create_req q = { .key = "/pods/", .key_len = 6, .range_end = end,
				      .range_end_len = elen, .no_put = true };
	struct watch *wd;
	assert_int_equal(watch_create(f.h, &q, on_ready, &rc, &wd, NULL, NULL), 0);
	put(&f, "/pods/a", "1", true);
	put(&f, "/podsX", "1", true);
	put(&f, "/pods/b", "1", true);
	put(&f, "/pods/a", "2", true);
	put(&f, "/svc/a", "1", true);
	del(&f, "/pods/b", true);
	struct got got[16];
	size_t n = 0;
	drain(&f, w, 0, got, &n, 16, NULL);
	assert_int_equal(n, 4);
	assert_string_equal(got[0].key, "/pods/a");
	assert_string_equal(got[0].prev, "");
	assert_string_equal(got[2].key, "/pods/a");
	assert_string_equal(got[2].prev, "1");
	assert_int_equal(got[3].type, MVCC_EVENT_DELETE);
	assert_string_equal(got[3].prev, "1");
	n = 0;
	drain(&f, wd, 0, got, &n, 16, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].type, MVCC_EVENT_DELETE);
	/* The same filters apply on catch-up. */
	watch_close(f.h, wd);
	assert_int_equal(watch_create(f.h, &q, on_ready, &rc, &wd, NULL, NULL), 0);
	watch_close(f.h, wd);
	q.start_revision = 1;
	assert_int_equal(watch_create(f.h, &q, on_ready, &rc, &wd, NULL, NULL), 0);
	n = 0;
	drain(&f, wd, 0, got, &n, 16, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].rev, 6);
	watch_close(f.h, wd);
	watch_close(f.h, w);
	/* Empty key refused. */
	struct watch_create_req bad = { .key = "", .key_len = 0 };
	assert_int_equal(watch_create(f.h, &bad, NULL, NULL, &w, NULL, NULL), -MVCC_EEMPTY_KEY);
	fx_close(&f);
}

static void compact_to(struct fx *f, int64_t rev)
{
	struct kc_str s = KC_STR_INIT;
	assert_int_equal(mvcc_cmd_encode_compact(&s, rev, NULL), 0);
	apply(f, &s, true);
	bool done = false;
	while (!done)
		assert_int_equal(mvcc_compact_step(f->m, 2, &done, NULL), 0);
	kc_str_free(&s);
}

static void test_compacted(void **state)
{
	(void)state;
	struct watch_hub_options o = { .catchup_events = 1 };
	struct fx f;
	fx_open(&f, &o);
	put(&f, "a", "1", true);
	put(&f, "b", "1", true);
	del(&f, "a", true);        /* 3 */
	put(&f, "b", "2", true);   /* 4 */
	del(&f, "b", true);        /* 5 */
	put(&f, "c", "1", true);   /* 6 */
	struct ready_count rc = { 0 };
	struct watch *slow = watch_on(&f, " ", "", 1, true, &rc);
	struct watch_resp r;
	assert_int_equal(watch_poll(f.h, slow, 1, &r), 1);   /* caught up to 1 only */
	watch_resp_free(&r);
	compact_to(&f, 5);
	/* Below the compact revision: refused, with the revision to re-list from. */
	struct watch_create_req q = { .key = "a", .key_len = 1, .start_revision = 4 };
	struct watch *w;
	int64_t compact = 0;
	struct kc_err err = { 0 };
	assert_int_equal(watch_create(f.h, &q, NULL, NULL, &w, &compact, &err), -MVCC_ECOMPACTED);
	assert_int_equal(compact, 5);
	assert_string_equal(err.msg, "mvcc: required revision has been compacted");
	/* At the compact revision: its events (a delete here, etcd#19179) and prev_kv are kept. */
	w = watch_on(&f, "b", NULL, 5, true, &rc);
	struct got got[8];
	size_t n = 0;
	drain(&f, w, 0, got, &n, 8, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].type, MVCC_EVENT_DELETE);
	assert_int_equal(got[0].rev, 5);
	assert_string_equal(got[0].prev, "2");
	watch_close(f.h, w);
	/* The slow catch-up was overtaken by compaction: cancelled with the compact revision. */
	assert_int_equal(watch_poll(f.h, slow, 1, &r), 1);
	assert_int_equal(r.kind, WATCH_RESP_CANCELED);
	assert_int_equal(r.cancel_code, -MVCC_ECOMPACTED);
	assert_int_equal(r.compact_revision, 5);
	watch_resp_free(&r);
	watch_close(f.h, slow);
	fx_close(&f);
}

static void test_progress(void **state)
{
	(void)state;
	struct watch_hub_options o = { .catchup_events = 1 };
	struct fx f;
	fx_open(&f, &o);
	struct ready_count rc = { 0 };
	struct watch *w = watch_on(&f, "k", NULL, 0, false, &rc);
	put(&f, "k", "1", true);
	put(&f, "x", "1", true);
	/* Requested with an event pending: the notification comes after it. */
	watch_request_progress(f.h, w);
	struct watch_resp r;
	assert_int_equal(watch_poll(f.h, w, 0, &r), 1);
	assert_int_equal(r.kind, WATCH_RESP_EVENTS);
	assert_int_equal(r.nevents, 1);
	watch_resp_free(&r);
	assert_int_equal(watch_poll(f.h, w, 0, &r), 1);
	assert_int_equal(r.kind, WATCH_RESP_PROGRESS);
	assert_int_equal(r.revision, 2);
	watch_resp_free(&r);
	assert_int_equal(watch_poll(f.h, w, 0, &r), 0);
	/* Two requests before a poll coalesce into one, at the newest revision. */
	watch_request_progress(f.h, w);
	put(&f, "y", "1", true);
	watch_request_progress(f.h, w);
	assert_int_equal(watch_poll(f.h, w, 0, &r), 1);
	assert_int_equal(r.kind, WATCH_RESP_PROGRESS);
	assert_int_equal(r.revision, 3);
	watch_resp_free(&r);
	assert_int_equal(watch_poll(f.h, w, 0, &r), 0);

	/* A watcher still catching up gets its notification only once it is live. */
	struct watch *c = watch_on(&f, " ", "", 1, false, &rc);
	watch_request_progress(f.h, c);
	struct got got[8];
	size_t n = 0;
	struct watch_resp special = { 0 };
	drain(&f, c, 1, got, &n, 8, &special);
	assert_int_equal(n, 3);
	assert_int_equal(special.kind, WATCH_RESP_PROGRESS);
	assert_int_equal(special.revision, 3);
	watch_resp_free(&special);

	/* A watcher starting in the future stays silent until the store gets there. */
	struct watch *fut = watch_on(&f, "k", NULL, 6, false, &rc);
	watch_request_progress(f.h, fut);
	assert_int_equal(watch_poll(f.h, fut, 0, &r), 0);
	put(&f, "k", "2", true);   /* 4 */
	assert_int_equal(watch_poll(f.h, fut, 0, &r), 0);
	put(&f, "z", "1", true);   /* 5: now every event before 6 is "delivered" */
	assert_int_equal(watch_poll(f.h, fut, 0, &r), 1);
	assert_int_equal(r.kind, WATCH_RESP_PROGRESS);
	assert_int_equal(r.revision, 5);
	watch_resp_free(&r);
	put(&f, "k", "3", true);   /* 6 */
	assert_int_equal(watch_poll(f.h, fut, 0, &r), 1);
	assert_int_equal(r.kind, WATCH_RESP_EVENTS);
	assert_int_equal(r.events[0].kv->mod_revision, 6);
	watch_resp_free(&r);

	/* Periodic progress: only to watchers that asked and have nothing queued. */
	struct watch_create_req q = { .key = "p", .key_len = 1, .progress_notify = true };
	struct watch *pn;
	assert_int_equal(watch_create(f.h, &q, on_ready, &rc, &pn, NULL, NULL), 0);
	while (watch_poll(f.h, w, 0, &r) == 1)
		watch_resp_free(&r);
	watch_hub_progress_tick(f.h);
	assert_int_equal(watch_poll(f.h, w, 0, &r), 0);
	assert_int_equal(watch_poll(f.h, pn, 0, &r), 1);
	assert_int_equal(r.kind, WATCH_RESP_PROGRESS);
	assert_int_equal(r.revision, 6);
	watch_resp_free(&r);
	watch_close(f.h, pn);
	watch_close(f.h, fut);
	watch_close(f.h, c);
	watch_close(f.h, w);
	fx_close(&f);
}

/* A response outlives its watcher and the hub (it may travel to another thread). */
static void test_resp_lifetime(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, NULL);
	struct ready_count rc = { 0 };
	struct watch *a = watch_on(&f, "k", NULL, 0, true, &rc);
	struct watch *b = watch_on(&f, "k", NULL, 0, true, &rc);
	put(&f, "k", "shared", true);
	struct watch_resp ra, rb;
	assert_int_equal(watch_poll(f.h, a, 0, &ra), 1);
	assert_int_equal(watch_poll(f.h, b, 0, &rb), 1);
	assert_ptr_equal(ra.events[0].kv, rb.events[0].kv);   /* one copy, shared */
	watch_close(f.h, a);
	fx_close(&f);   /* closes b too */
	assert_string_equal((const char *)ra.events[0].kv->value, "shared");
	watch_resp_free(&ra);
	assert_string_equal((const char *)rb.events[0].kv->value, "shared");
	watch_resp_free(&rb);
}

int main(void)
{
	kc_log_set_level(KC_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catchup_then_live),
		cmocka_unit_test(test_interleaving),
		cmocka_unit_test(test_slow_watcher),
		cmocka_unit_test(test_prefix_prev_filters),
		cmocka_unit_test(test_compacted),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_resp_lifetime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
