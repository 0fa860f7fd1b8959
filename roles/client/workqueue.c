/* DESIGN: one record per key that the queue knows about (struct kstate in a map), holding its
 * flags (queued, processing, dirty-while-processing), its failure count and, when delayed, its
 * slot in a binary min-heap of deadlines. A record goes away once it is in none of these
 * states and has no failures. A zero-delay timer dispatches queued keys in FIFO order, up to
 * 'batch' per loop iteration and 'workers' outstanding. Loop thread only. */
#include "roles/client/workqueue.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/list.h"
#include "lib/map.h"
#include "net/loop.h"

struct kstate {
	struct kc_list link;  /* in q->fifo while queued */
	bool queued;
	bool processing;
	bool dirty;           /* added while processing */
	unsigned failures;
	size_t heap_idx;      /* 1-based slot in q->heap, 0 when not delayed */
	uint64_t due_ms;
	char key[];
};

struct workqueue {
	struct loop *loop;
	char *name;
	workqueue_sync_fn sync;
	void *arg;
	unsigned workers;
	uint32_t base_ms;
	uint32_t max_ms;
	unsigned batch;
	struct kc_map keys;    /* key -> struct kstate */
	struct kc_list fifo;
	size_t nqueued;
	size_t nactive;
	struct kstate **heap;  /* heap[0..nheap) */
	size_t nheap;
	size_t heap_cap;
	struct loop_timer kick;
	struct loop_timer delay;
	bool dispatching;
};

static struct kstate *get_state(struct workqueue *q, const char *key)
{
	struct kstate *s = kc_map_sget(&q->keys, key);
	if (s)
		return s;
	size_t n = strlen(key);
	s = xcalloc(1, sizeof *s + n + 1);
	memcpy(s->key, key, n + 1);
	kc_list_init(&s->link);
	kc_map_sput(&q->keys, key, s);
	return s;
}

static void maybe_drop(struct workqueue *q, struct kstate *s)
{
	if (s->queued || s->processing || s->failures || s->heap_idx)
		return;
	kc_map_sdel(&q->keys, s->key);
}

/* ---- the deadline heap ---- */

static bool earlier(const struct kstate *a, const struct kstate *b)
{
	return a->due_ms < b->due_ms;
}

static void heap_set(struct workqueue *q, size_t i, struct kstate *s)
{
	q->heap[i] = s;
	s->heap_idx = i + 1;
}

static void sift_up(struct workqueue *q, size_t i)
{
	struct kstate *s = q->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!earlier(s, q->heap[p]))
			break;
		heap_set(q, i, q->heap[p]);
		i = p;
	}
	heap_set(q, i, s);
}

static void sift_down(struct workqueue *q, size_t i)
{
	struct kstate *s = q->heap[i];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct kstate *best = s;
		if (l < q->nheap && earlier(q->heap[l], best)) {
			m = l;
			best = q->heap[l];
		}
		if (l + 1 < q->nheap && earlier(q->heap[l + 1], best))
			m = l + 1;
		if (m == i)
			break;
		heap_set(q, i, q->heap[m]);
		i = m;
	}
	heap_set(q, i, s);
}

static void heap_remove(struct workqueue *q, struct kstate *s)
{
	size_t i = s->heap_idx - 1;
	s->heap_idx = 0;
	q->nheap--;
	if (i == q->nheap)
		return;
	q->heap[i] = q->heap[q->nheap];
	q->heap[i]->heap_idx = i + 1;
	sift_down(q, i);
	sift_up(q, q->heap[i]->heap_idx - 1);
}

static void arm_delay(struct workqueue *q)
{
	if (q->nheap == 0) {
		loop_timer_stop(q->loop, &q->delay);
		return;
	}
	uint64_t now = loop_now_ms(q->loop), due = q->heap[0]->due_ms;
	loop_timer_start(q->loop, &q->delay, due > now ? due - now : 0);
}

/* ---- dispatch ---- */

static void kick(struct workqueue *q)
{
	if (!q->dispatching && !loop_timer_active(&q->kick) && q->nqueued > 0 &&
	    q->nactive < q->workers)
		loop_timer_start(q->loop, &q->kick, 0);
}

static void enqueue(struct workqueue *q, struct kstate *s)
{
	if (s->processing) {
		s->dirty = true;
		return;
	}
	if (s->queued)
		return;
	s->queued = true;
	kc_list_push_back(&q->fifo, &s->link);
	q->nqueued++;
	kick(q);
}

static void on_kick(struct loop *l, struct loop_timer *t)
{
	struct workqueue *q = t->data;
	q->dispatching = true;
	for (unsigned n = 0; n < q->batch && q->nactive < q->workers; n++) {
		struct kc_list *it = kc_list_first(&q->fifo);
		if (!it)
			break;
		struct kstate *s = kc_container_of(it, struct kstate, link);
		kc_list_del(&s->link);
		s->queued = false;
		q->nqueued--;
		s->processing = true;
		q->nactive++;
		/* A synchronous done may free the record: hand sync a copy of the key. */
		char *key = xstrdup(s->key);
		q->sync(q->arg, key);
		free(key);
	}
	q->dispatching = false;
	kick(q);
}

static void on_delay(struct loop *l, struct loop_timer *t)
{
	struct workqueue *q = t->data;
	uint64_t now = loop_now_ms(l);
	while (q->nheap > 0 && q->heap[0]->due_ms <= now) {
		struct kstate *s = q->heap[0];
		heap_remove(q, s);
		enqueue(q, s);
	}
	arm_delay(q);
}

struct workqueue *workqueue_new(struct loop *l, const struct workqueue_config *cfg,
				workqueue_sync_fn sync, void *arg)
{
	struct workqueue *q = xcalloc(1, sizeof *q);
	q->loop = l;
	q->name = xstrdup(cfg && cfg->name ? cfg->name : "queue");
	q->sync = sync;
	q->arg = arg;
	q->workers = cfg && cfg->workers ? cfg->workers : 5;
	q->base_ms = cfg && cfg->base_delay_ms ? cfg->base_delay_ms : 5;
	q->max_ms = cfg && cfg->max_delay_ms ? cfg->max_delay_ms : 1000u * 1000u;
	q->batch = cfg && cfg->batch ? cfg->batch : 32;
	kc_map_init(&q->keys, free);
	kc_list_init(&q->fifo);
	loop_timer_init(&q->kick, on_kick, q);
	loop_timer_init(&q->delay, on_delay, q);
	return q;
}

void workqueue_free(struct workqueue *q)
{
	if (!q)
		return;
	loop_timer_stop(q->loop, &q->kick);
	loop_timer_stop(q->loop, &q->delay);
	kc_map_free(&q->keys);
	free(q->heap);
	free(q->name);
	free(q);
}

void workqueue_add(struct workqueue *q, const char *key)
{
	enqueue(q, get_state(q, key));
}

void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms)
{
	if (delay_ms == 0) {
		workqueue_add(q, key);
		return;
	}
	struct kstate *s = get_state(q, key);
	uint64_t due = loop_now_ms(q->loop) + delay_ms;
	if (s->heap_idx) {
		if (due < s->due_ms) {
			s->due_ms = due;
			sift_up(q, s->heap_idx - 1);
		}
	} else {
		if (q->nheap == q->heap_cap) {
			q->heap_cap = kc_grow_cap(q->heap_cap, q->nheap + 1, sizeof *q->heap);
			q->heap = xrealloc(q->heap, q->heap_cap * sizeof *q->heap);
		}
		s->due_ms = due;
		q->heap[q->nheap] = s;
		s->heap_idx = ++q->nheap;
		sift_up(q, q->nheap - 1);
	}
	arm_delay(q);
}

static uint64_t backoff(const struct workqueue *q, unsigned failures)
{
	uint64_t d = q->base_ms;
	for (unsigned i = 0; i < failures && d < q->max_ms; i++)
		d *= 2;
	return d > q->max_ms ? q->max_ms : d;
}

void workqueue_add_rate_limited(struct workqueue *q, const char *key)
{
	struct kstate *s = get_state(q, key);
	uint64_t d = backoff(q, s->failures);
	if (s->failures < 64)
		s->failures++;
	workqueue_add_after(q, key, d);
}

void workqueue_forget(struct workqueue *q, const char *key)
{
	struct kstate *s = kc_map_sget(&q->keys, key);
	if (!s)
		return;
	s->failures = 0;
	maybe_drop(q, s);
}

unsigned workqueue_requeues(const struct workqueue *q, const char *key)
{
	struct kstate *s = kc_map_sget(&q->keys, key);
	return s ? s->failures : 0;
}

void workqueue_done(struct workqueue *q, const char *key, int rc)
{
	struct kstate *s = kc_map_sget(&q->keys, key);
	if (!s || !s->processing)
		return;
	s->processing = false;
	q->nactive--;
	if (rc < 0) {
		workqueue_add_rate_limited(q, key);
	} else {
		s->failures = 0;
	}
	if (s->dirty) {
		s->dirty = false;
		enqueue(q, s);
	}
	maybe_drop(q, s);
	kick(q);
}

size_t workqueue_len(const struct workqueue *q)
{
	return q->nqueued;
}

size_t workqueue_active(const struct workqueue *q)
{
	return q->nactive;
}

size_t workqueue_delayed(const struct workqueue *q)
{
	return q->nheap;
}
