/* test_workqueue.c - the work queue on a loop with a fake clock: deduplication, no double
 * processing of a key in flight (dirty re-queue at done), exponential back-off per key with a
 * ceiling, forget, add_after keeping the earliest deadline, and the workers limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "net/loop.h"
#include "roles/client/workqueue.h"

static struct kc_fake_clock FC;
static struct loop *L;
static char seen[64][32];
static int nseen;
static bool sync_done;  /* call done inside sync */
static int done_rc;
static struct workqueue *Q;

static void on_sync(void *arg, const char *key)
{
	snprintf(seen[nseen++ % 64], 32, "%s", key);
	if (sync_done)
		workqueue_done(Q, key, done_rc);
}

static void spin(void)
{
	for (int i = 0; i < 5; i++)
		loop_run_once(L, 0);
}

static void advance(uint64_t ms)
{
	kc_fake_clock_advance(&FC, ms * 1000000u);
	spin();
}

static int setup(void **state)
{
	kc_fake_clock_init(&FC, 1000000000ull);
	L = loop_new(&FC.clock);
	nseen = 0;
	sync_done = true;
	done_rc = 0;
	struct workqueue_config c = { .name = "t", .workers = 2, .base_delay_ms = 10,
				      .max_delay_ms = 100 };
	Q = workqueue_new(L, &c, on_sync, NULL);
	return 0;
}

static int teardown(void **state)
{
	workqueue_free(Q);
	loop_free(L);
	return 0;
}

static void test_dedup(void **state)
{
	workqueue_add(Q, "a");
	workqueue_add(Q, "b");
	workqueue_add(Q, "a");
	assert_int_equal(workqueue_len(Q), 2);
	spin();
	assert_int_equal(nseen, 2);
	assert_string_equal(seen[0], "a");
	assert_string_equal(seen[1], "b");
	assert_int_equal(workqueue_len(Q), 0);
}

static void test_dirty_while_processing(void **state)
{
	sync_done = false;
	workqueue_add(Q, "a");
	spin();
	assert_int_equal(nseen, 1);
	assert_int_equal(workqueue_active(Q), 1);
	workqueue_add(Q, "a");   /* in flight: marked dirty, not handed out */
	spin();
	assert_int_equal(nseen, 1);
	workqueue_done(Q, "a", 0);
	spin();
	assert_int_equal(nseen, 2);  /* re-queued at done */
	workqueue_done(Q, "a", 0);
	spin();
	assert_int_equal(nseen, 2);
}

static void test_workers_limit(void **state)
{
	sync_done = false;
	workqueue_add(Q, "a");
	workqueue_add(Q, "b");
	workqueue_add(Q, "c");
	spin();
	assert_int_equal(nseen, 2);
	assert_int_equal(workqueue_len(Q), 1);
	workqueue_done(Q, "a", 0);
	spin();
	assert_int_equal(nseen, 3);
	workqueue_done(Q, "b", 0);
	workqueue_done(Q, "c", 0);
}

static void test_backoff(void **state)
{
	done_rc = -1;
	workqueue_add(Q, "a");
	spin();
	assert_int_equal(nseen, 1);
	assert_int_equal(workqueue_requeues(Q, "a"), 1);
	advance(9);
	assert_int_equal(nseen, 1);
	advance(1);                 /* 10 ms */
	assert_int_equal(nseen, 2);
	advance(19);
	assert_int_equal(nseen, 2);
	advance(1);                 /* 20 ms */
	assert_int_equal(nseen, 3);
	advance(40);                /* 40 ms */
	assert_int_equal(nseen, 4);
	advance(79);
	assert_int_equal(nseen, 4);
	advance(1);                 /* 80 ms */
	assert_int_equal(nseen, 5);
	advance(99);                /* 160 capped at 100 */
	assert_int_equal(nseen, 5);
	done_rc = 0;
	advance(1);
	assert_int_equal(nseen, 6);
	assert_int_equal(workqueue_requeues(Q, "a"), 0);  /* success forgets */
	advance(1000);
	assert_int_equal(nseen, 6);
}

static void test_add_after_earliest(void **state)
{
	workqueue_add_after(Q, "a", 50);
	workqueue_add_after(Q, "a", 20);
	workqueue_add_after(Q, "a", 80);
	assert_int_equal(workqueue_delayed(Q), 1);
	advance(19);
	assert_int_equal(nseen, 0);
	advance(1);
	assert_int_equal(nseen, 1);
	advance(100);
	assert_int_equal(nseen, 1);
	assert_int_equal(workqueue_delayed(Q), 0);
}

static void test_many_keys_heap(void **state)
{
	char k[16];
	for (int i = 0; i < 40; i++) {
		snprintf(k, sizeof k, "k%02d", i);
		workqueue_add_after(Q, k, (uint64_t)(40 - i));
	}
	assert_int_equal(workqueue_delayed(Q), 40);
	advance(40);
	for (int i = 0; i < 10; i++)
		spin();
	assert_int_equal(nseen, 40);
	assert_string_equal(seen[0], "k39");  /* earliest deadline first */
	assert_int_equal(workqueue_delayed(Q), 0);
}

static void test_forget(void **state)
{
	done_rc = -1;
	workqueue_add(Q, "a");
	spin();
	assert_int_equal(workqueue_requeues(Q, "a"), 1);
	workqueue_forget(Q, "a");
	assert_int_equal(workqueue_requeues(Q, "a"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_while_processing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workers_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_after_earliest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_keys_heap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
