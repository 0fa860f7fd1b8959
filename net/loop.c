/* DESIGN: the loop owns an epoll fd, an eventfd for cross-thread wake-ups, a binary min-heap of
 * timers and a mutex-protected FIFO of posted messages. Everything except the FIFO and the stop
 * flag belongs to the thread in loop_run. A post wakes the loop only when the FIFO was empty
 * (one write(2) per batch, not per message). Watches are level-triggered; an io stopped during a
 * dispatch batch is scrubbed from the rest of the batch so callers can free it at once. */
#include "net/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/alloc.h"

#define MAX_EVENTS 256

struct loop {
	int epfd;
	int wakefd;
	struct kc_clock *clock;
	uint64_t now_ms;
	_Atomic bool stop;

	struct loop_timer **heap;   /* 1-based binary min-heap on (due_ms, seq) */
	unsigned heap_len, heap_cap;
	uint64_t timer_seq;

	pthread_mutex_t mu;         /* guards posted */
	struct kc_list posted;

	/* the batch being dispatched, so loop_io_stop can scrub it */
	struct epoll_event events[MAX_EVENTS];
	int nevents, cur;
};

static int wake_token; /* address used as the epoll tag of the eventfd */

struct loop *loop_new(struct kc_clock *clock)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return NULL;
	int wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wakefd < 0) {
		int e = errno;
		close(epfd);
		errno = e;
		return NULL;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &wake_token };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) < 0) {
		int e = errno;
		close(wakefd);
		close(epfd);
		errno = e;
		return NULL;
	}
	struct loop *l = xcalloc(1, sizeof *l);
	l->epfd = epfd;
	l->wakefd = wakefd;
	l->clock = clock ? clock : kc_clock_real();
	l->now_ms = kc_mono_ms(l->clock);
	pthread_mutex_init(&l->mu, NULL);
	kc_list_init(&l->posted);
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	struct kc_list *it, *tmp;
	kc_list_each_safe(&l->posted, it, tmp) kc_list_del(it);
	pthread_mutex_destroy(&l->mu);
	close(l->wakefd);
	close(l->epfd);
	free(l->heap);
	free(l);
}

uint64_t loop_now_ms(struct loop *l)
{
	return l->now_ms;
}

struct kc_clock *loop_clock(struct loop *l)
{
	return l->clock;
}

void loop_stop(struct loop *l)
{
	atomic_store(&l->stop, true);
	uint64_t one = 1;
	(void)!write(l->wakefd, &one, sizeof one);
}

bool loop_stopping(struct loop *l)
{
	return atomic_load(&l->stop);
}

/* ---- fd watches ---- */

void loop_io_init(struct loop_io *io, int fd, loop_io_cb cb, void *data)
{
	io->fd = fd;
	io->events = 0;
	io->active = false;
	io->cb = cb;
	io->data = data;
}

int loop_io_start(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };
	int op = io->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (io->active && io->events == events)
		return 0;
	if (epoll_ctl(l->epfd, op, io->fd, &ev) < 0)
		return -errno;
	io->active = true;
	io->events = events;
	return 0;
}

int loop_io_stop(struct loop *l, struct loop_io *io)
{
	if (!io->active)
		return 0;
	io->active = false;
	io->events = 0;
	for (int i = l->cur + 1; i < l->nevents; i++)
		if (l->events[i].data.ptr == io)
			l->events[i].data.ptr = NULL;
	/* The fd may already be closed by the caller; the kernel then dropped it already. */
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0 && errno != EBADF && errno != ENOENT)
		return -errno;
	return 0;
}

/* ---- timers ---- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void heap_set(struct loop *l, unsigned i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->heap_idx = i;
}

static void sift_up(struct loop *l, unsigned i)
{
	struct loop_timer *t = l->heap[i];
	while (i > 1 && timer_before(t, l->heap[i / 2])) {
		heap_set(l, i, l->heap[i / 2]);
		i /= 2;
	}
	heap_set(l, i, t);
}

static void sift_down(struct loop *l, unsigned i)
{
	struct loop_timer *t = l->heap[i];
	for (;;) {
		unsigned c = 2 * i;
		if (c > l->heap_len)
			break;
		if (c + 1 <= l->heap_len && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *data)
{
	t->due_ms = 0;
	t->seq = 0;
	t->heap_idx = 0;
	t->cb = cb;
	t->data = data;
}

bool loop_timer_active(const struct loop_timer *t)
{
	return t->heap_idx != 0;
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	unsigned i = t->heap_idx;
	if (!i)
		return;
	t->heap_idx = 0;
	struct loop_timer *last = l->heap[l->heap_len--];
	if (i > l->heap_len)
		return;
	heap_set(l, i, last);
	sift_down(l, i);
	sift_up(l, last->heap_idx);
}

void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
	loop_timer_stop(l, t);
	/* Re-read the clock so a timer armed late in a long iteration is not early. */
	t->due_ms = kc_mono_ms(l->clock) + delay_ms;
	t->seq = ++l->timer_seq;
	if (l->heap_len + 1 >= l->heap_cap) {
		l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 16;
		l->heap = xrealloc(l->heap, l->heap_cap * sizeof *l->heap);
	}
	l->heap_len++;
	heap_set(l, l->heap_len, t);
	sift_up(l, l->heap_len);
}

static int run_timers(struct loop *l)
{
	int n = 0;
	/* Timers armed by callbacks for "now" run in the next iteration, not this one. */
	uint64_t seq_limit = l->timer_seq;
	while (l->heap_len && l->heap[1]->due_ms <= l->now_ms && l->heap[1]->seq <= seq_limit) {
		struct loop_timer *t = l->heap[1];
		loop_timer_stop(l, t);
		t->cb(l, t);
		n++;
	}
	return n;
}

static int next_timeout(struct loop *l, int timeout_ms)
{
	if (!l->heap_len)
		return timeout_ms;
	uint64_t due = l->heap[1]->due_ms;
	int t = due <= l->now_ms ? 0 : (due - l->now_ms > 0x7fffffff ? 0x7fffffff : (int)(due - l->now_ms));
	return timeout_ms < 0 || t < timeout_ms ? t : timeout_ms;
}

/* ---- messages ---- */

void loop_msg_init(struct loop_msg *m, loop_msg_cb cb, void *data)
{
	kc_list_init(&m->link);
	m->cb = cb;
	m->data = data;
}

void loop_post(struct loop *l, struct loop_msg *m)
{
	pthread_mutex_lock(&l->mu);
	bool was_empty = kc_list_empty(&l->posted);
	kc_list_push_back(&l->posted, &m->link);
	pthread_mutex_unlock(&l->mu);
	if (was_empty) {
		uint64_t one = 1;
		(void)!write(l->wakefd, &one, sizeof one);
	}
}

struct call_msg {
	struct loop_msg msg;
	void (*fn)(struct loop *l, void *arg);
	void *arg;
};

static void call_cb(struct loop *l, struct loop_msg *m)
{
	struct call_msg *c = kc_container_of(m, struct call_msg, msg);
	c->fn(l, c->arg);
	free(c);
}

void loop_call(struct loop *l, void (*fn)(struct loop *l, void *arg), void *arg)
{
	struct call_msg *c = xmalloc(sizeof *c);
	loop_msg_init(&c->msg, call_cb, NULL);
	c->fn = fn;
	c->arg = arg;
	loop_post(l, &c->msg);
}

static int run_posted(struct loop *l)
{
	uint64_t v;
	while (read(l->wakefd, &v, sizeof v) > 0)
		;
	struct kc_list batch;
	kc_list_init(&batch);
	pthread_mutex_lock(&l->mu);
	kc_list_splice_back(&batch, &l->posted);
	pthread_mutex_unlock(&l->mu);
	int n = 0;
	struct kc_list *it, *tmp;
	kc_list_each_safe(&batch, it, tmp) {
		kc_list_del(it);
		struct loop_msg *m = kc_container_of(it, struct loop_msg, link);
		m->cb(l, m);
		n++;
	}
	return n;
}

/* ---- running ---- */

int loop_run_once(struct loop *l, int timeout_ms)
{
	l->now_ms = kc_mono_ms(l->clock);
	int wait = next_timeout(l, timeout_ms);
	int n = epoll_wait(l->epfd, l->events, MAX_EVENTS, wait);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	l->now_ms = kc_mono_ms(l->clock);
	int ran = 0;
	bool woken = false;
	l->nevents = n;
	for (l->cur = 0; l->cur < n; l->cur++) {
		struct epoll_event *ev = &l->events[l->cur];
		if (ev->data.ptr == &wake_token) {
			woken = true;
			continue;
		}
		struct loop_io *io = ev->data.ptr;
		if (!io || !io->active)
			continue;
		io->cb(l, io, ev->events);
		ran++;
	}
	l->nevents = 0;
	l->cur = 0;
	if (woken)
		ran += run_posted(l);
	ran += run_timers(l);
	return ran;
}

int loop_run(struct loop *l)
{
	while (!atomic_load(&l->stop)) {
		int rc = loop_run_once(l, -1);
		if (rc < 0)
			return rc;
	}
	/* Deliver what was posted before the stop so ownership hand-offs are not lost. */
	run_posted(l);
	return 0;
}
