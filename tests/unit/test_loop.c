/* Unit tests for net/loop: fd watches, timers (order, cancel, re-arm), posting across threads,
 * stopping from another thread, and freeing an io from inside a callback of the same batch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "net/loop.h"

static int order[1024], norder;

static void timer_cb(struct loop *l, struct loop_timer *t)
{
	(void)l;
	order[norder++] = (int)(intptr_t)t->data;
}

static void test_timers(void **state)
{
	(void)state;
	struct loop *l = loop_new(NULL);
	assert_non_null(l);
	struct loop_timer t[4];
	norder = 0;
	loop_timer_init(&t[0], timer_cb, (void *)1);
	loop_timer_init(&t[1], timer_cb, (void *)2);
	loop_timer_init(&t[2], timer_cb, (void *)3);
	loop_timer_init(&t[3], timer_cb, (void *)4);
	loop_timer_start(l, &t[0], 30);
	loop_timer_start(l, &t[1], 10);
	loop_timer_start(l, &t[2], 20);
	loop_timer_start(l, &t[3], 10); /* same deadline as t[1]: FIFO */
	loop_timer_stop(l, &t[2]);
	assert_false(loop_timer_active(&t[2]));
	while (norder < 3)
		assert_true(loop_run_once(l, 1000) >= 0);
	assert_int_equal(order[0], 2);
	assert_int_equal(order[1], 4);
	assert_int_equal(order[2], 1);
	assert_false(loop_timer_active(&t[0]));
	loop_free(l);
}

/* Many timers in random order come out sorted: exercises the heap. */
static void test_timer_heap(void **state)
{
	(void)state;
	struct kc_fake_clock fc;
	kc_fake_clock_init(&fc, 0);
	struct loop *l = loop_new(&fc.clock);
	enum { N = 500 };
	struct loop_timer *t = xcalloc(N, sizeof *t);
	static bool fired[N];
	int nfired = 0;
	srand(7);
	for (int i = 0; i < N; i++) {
		loop_timer_init(&t[i], timer_cb, (void *)(intptr_t)i);
		loop_timer_start(l, &t[i], (uint64_t)(rand() % 1000));
	}
	for (int i = 0; i < N; i += 3)
		loop_timer_stop(l, &t[i]);
	uint64_t last_due = 0;
	for (int step = 0; step < 1001; step++) {
		norder = 0;
		loop_run_once(l, 0);
		for (int k = 0; k < norder; k++) {
			int idx = order[k];
			assert_true(idx % 3 != 0);
			assert_true(t[idx].due_ms >= last_due);
			last_due = t[idx].due_ms;
			assert_false(fired[idx]);
			fired[idx] = true;
			nfired++;
		}
		kc_fake_clock_advance(&fc, 1000000);
	}
	assert_int_equal(nfired, N - (N + 2) / 3);
	free(t);
	loop_free(l);
}

struct pair {
	struct loop_io io[2];
	int fds[2];
	int reads;
};

/* The first callback of a batch stops and closes the other io: it must not be called. */
static void io_cb(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct pair *p = io->data;
	char buf[8];
	assert_true(events & EPOLLIN);
	assert_true(read(io->fd, buf, sizeof buf) > 0);
	p->reads++;
	struct loop_io *other = io == &p->io[0] ? &p->io[1] : &p->io[0];
	assert_int_equal(loop_io_stop(l, other), 0);
	memset(other, 0xa5, sizeof *other); /* poison: a later dispatch would crash */
}

static void test_io_stop_in_batch(void **state)
{
	(void)state;
	struct loop *l = loop_new(NULL);
	struct pair p = { .reads = 0 };
	int a[2], b[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
	loop_io_init(&p.io[0], a[0], io_cb, &p);
	loop_io_init(&p.io[1], b[0], io_cb, &p);
	assert_int_equal(loop_io_start(l, &p.io[0], EPOLLIN), 0);
	assert_int_equal(loop_io_start(l, &p.io[1], EPOLLIN), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "y", 1), 1);
	usleep(1000);
	assert_true(loop_run_once(l, 100) >= 1);
	assert_int_equal(p.reads, 1);
	close(a[0]); close(a[1]); close(b[0]); close(b[1]);
	loop_free(l);
}

struct counter_msg {
	struct loop_msg msg;
	int value;
};

static long long sum;
static int received;

static void count_cb(struct loop *l, struct loop_msg *m)
{
	struct counter_msg *c = kc_container_of(m, struct counter_msg, msg);
	sum += c->value;
	received++;
	free(c);
	if (received == 4 * 10000)
		loop_stop(l);
}

static void *poster(void *arg)
{
	struct loop *l = arg;
	for (int i = 1; i <= 10000; i++) {
		struct counter_msg *c = xmalloc(sizeof *c);
		loop_msg_init(&c->msg, count_cb, NULL);
		c->value = i;
		loop_post(l, &c->msg);
	}
	return NULL;
}

static void test_post_from_threads(void **state)
{
	(void)state;
	struct loop *l = loop_new(NULL);
	sum = 0;
	received = 0;
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, poster, l);
	assert_int_equal(loop_run(l), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(received, 40000);
	assert_int_equal(sum, 4LL * 10000 * 10001 / 2);
	loop_free(l);
}

static void *stopper(void *arg)
{
	usleep(20000);
	loop_stop(arg);
	return NULL;
}

static void call_fn(struct loop *l, void *arg)
{
	(void)l;
	*(int *)arg = 42;
}

static void test_stop_and_call(void **state)
{
	(void)state;
	struct loop *l = loop_new(NULL);
	int v = 0;
	loop_call(l, call_fn, &v);
	pthread_t th;
	pthread_create(&th, NULL, stopper, l);
	assert_int_equal(loop_run(l), 0); /* returns only because of the other thread */
	pthread_join(th, NULL);
	assert_int_equal(v, 42);
	assert_true(loop_stopping(l));
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timer_heap),
		cmocka_unit_test(test_io_stop_in_batch),
		cmocka_unit_test(test_post_from_threads),
		cmocka_unit_test(test_stop_and_call),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
