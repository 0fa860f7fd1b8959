/* test_handlers.c - the API server's request path splitting: segments, empty segments, the
 * segment limit, and the same splits on several threads at once, as the API loop threads do
 * (issue 4: a path split with strtok, whose position is one static for the whole process, took
 * segments from another thread's request: a list answered with a discovery document, a create
 * answered `namespaces "pods" not found`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "roles/apiserver/handlers.h"

#define MAX_SEGS 9

/* Splits path and joins the segments with '|' into out. */
static unsigned split_join(const char *path, unsigned max, char *out, size_t cap)
{
	char buf[256], *segs[MAX_SEGS];
	snprintf(buf, sizeof buf, "%s", path);
	unsigned n = handlers_split_path(buf, segs, max);
	size_t off = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < n && off < cap; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? "|" : "", segs[i]);
	return n;
}

static void test_split(void **state)
{
	(void)state;
	char out[256];
	assert_int_equal(split_join("v1/namespaces/bench/pods/p-1", MAX_SEGS, out, sizeof out), 5);
	assert_string_equal(out, "v1|namespaces|bench|pods|p-1");
	assert_int_equal(split_join("/v1//pods/", MAX_SEGS, out, sizeof out), 2);
	assert_string_equal(out, "v1|pods");
	assert_int_equal(split_join("", MAX_SEGS, out, sizeof out), 0);
	assert_int_equal(split_join("///", MAX_SEGS, out, sizeof out), 0);
	assert_int_equal(split_join("apps", MAX_SEGS, out, sizeof out), 1);
	assert_string_equal(out, "apps");
	/* at most max segments: the caller passes one more than it accepts to see "too many" */
	assert_int_equal(split_join("a/b/c/d/e", 3, out, sizeof out), 3);
	assert_string_equal(out, "a|b|c");
}

/* ---- concurrent splits ---- */

#define THREADS 4
#define ROUNDS 100000

static const char *const paths[THREADS] = {
	"v1/namespaces/bench/pods",
	"v1/pods",
	"v1/namespaces/bench/pods/pod-00042/status",
	"apps/v1/namespaces/kube-system/deployments/coredns/scale",
};

static atomic_int started;
static atomic_uint wrong;

static void *splitter(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	char want[256], got[256];
	unsigned wn = split_join(paths[t], MAX_SEGS, want, sizeof want);
	atomic_fetch_add(&started, 1);
	while (atomic_load(&started) < THREADS)
		sched_yield(); /* start together */
	for (unsigned i = 0; i < ROUNDS; i++) {
		unsigned n = split_join(paths[t], MAX_SEGS, got, sizeof got);
		if (n != wn || strcmp(got, want)) {
			if (atomic_fetch_add(&wrong, 1) == 0)
				fprintf(stderr, "split of \"%s\" gave %u segments \"%s\"\n",
					paths[t], n, got);
		}
	}
	return NULL;
}

static void test_split_threads(void **state)
{
	(void)state;
	pthread_t th[THREADS];
	atomic_store(&started, 0);
	atomic_store(&wrong, 0);
	for (unsigned t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, splitter, (void *)(uintptr_t)t), 0);
	for (unsigned t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	assert_int_equal(atomic_load(&wrong), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
