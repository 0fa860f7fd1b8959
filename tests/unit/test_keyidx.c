/* Unit tests for store/keyidx: seeded random appends, truncations (undo) and front drops
 * (compaction) checked after every step against a plain model (keys in a sorted array, each with
 * its revisions); lookups at and before revisions against a linear scan; and a reader thread
 * walking the list under the read lock while the writer changes it (run under TSan too). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keyidx.h"

#define NKEYS 64
#define MAXREV 512

struct mkey {
	char name[16];
	size_t len;
	struct kidx_rev revs[MAXREV];
	uint32_t n;
	int64_t lease;
};

static uint64_t rng = 88172645463325252ull;  /* the writer thread only */

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int mkey_cmp(const void *a, const void *b)
{
	const struct mkey *x = a, *y = b;
	size_t m = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->name, y->name, m);
	return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

static const struct kidx_rev *model_at(const struct mkey *k, int64_t at)
{
	const struct kidx_rev *r = NULL;
	for (uint32_t i = 0; i < k->n && k->revs[i].rev <= at; i++)
		r = &k->revs[i];
	return r;
}

/* Checks the whole index against the model: order, keys, revisions, lookups. */
static void check(struct kidx *x, struct mkey *keys, int64_t maxrev)
{
	struct mkey sorted[NKEYS];
	size_t live = 0;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].n)
			sorted[live++] = keys[i];
	qsort(sorted, live, sizeof sorted[0], mkey_cmp);
	assert_int_equal(kidx_nkeys(x), live);
	struct kidx_node *n = kidx_seek(x, "", 0);
	for (size_t i = 0; i < live; i++, n = kidx_next(n)) {
		assert_non_null(n);
		assert_int_equal(n->klen, sorted[i].len);
		assert_memory_equal(kidx_key(n), sorted[i].name, n->klen);
		assert_int_equal(n->nrev, sorted[i].n);
		assert_memory_equal(n->revs, sorted[i].revs, n->nrev * sizeof n->revs[0]);
		assert_int_equal(n->lease, sorted[i].lease);
		assert_ptr_equal(kidx_get(x, sorted[i].name, sorted[i].len), n);
		assert_ptr_equal(kidx_seek(x, sorted[i].name, sorted[i].len), n);
		int64_t at = (int64_t)(next_rand() % (uint64_t)(maxrev + 2));
		const struct kidx_rev *want = model_at(&sorted[i], at), *got = kidx_at(n, at);
		if (want)
			assert_memory_equal(got, want, sizeof *want);
		else
			assert_null(got);
		want = model_at(&sorted[i], at - 1);
		got = kidx_before(n, at);
		if (want)
			assert_memory_equal(got, want, sizeof *want);
		else
			assert_null(got);
		assert_ptr_equal(kidx_at(n, INT64_MAX), &n->revs[n->nrev - 1]);
	}
	assert_null(n);
	/* a probe between keys lands on the next one */
	for (size_t i = 0; i < live; i++) {
		char probe[17];
		memcpy(probe, sorted[i].name, sorted[i].len);
		probe[sorted[i].len] = '\0';
		struct kidx_node *s = kidx_seek(x, probe, sorted[i].len + 1);
		if (i + 1 < live)
			assert_memory_equal(kidx_key(s), sorted[i + 1].name, sorted[i + 1].len);
		else
			assert_null(s);
		assert_null(kidx_get(x, probe, sorted[i].len + 1));
	}
}

static void test_model(void **state)
{
	(void)state;
	struct kidx *x = kidx_new();
	struct mkey *keys = calloc(NKEYS, sizeof *keys);
	for (size_t i = 0; i < NKEYS; i++) {
		/* lengths 1..6 over a small alphabet: prefixes of one another occur */
		keys[i].len = 1 + i % 6;
		for (size_t j = 0; j < keys[i].len; j++)
			keys[i].name[j] = (char)('a' + (i * 7 + j * 3) % 3);
		keys[i].name[keys[i].len - 1] = (char)('a' + i % 26);
	}
	/* keys may collide by name: keep the first of each */
	for (size_t i = 0; i < NKEYS; i++)
		for (size_t j = 0; j < i; j++)
			if (keys[j].len && mkey_cmp(&keys[i], &keys[j]) == 0)
				keys[i].len = 0;
	int64_t rev = 0;
	for (int step = 0; step < 20000; step++) {
		struct mkey *k = &keys[next_rand() % NKEYS];
		if (!k->len)
			continue;
		unsigned op = (unsigned)(next_rand() % 10);
		struct kidx_node *n = kidx_get(x, k->name, k->len);
		assert_true((n != NULL) == (k->n > 0));
		if (op < 6 && k->n < MAXREV) {
			struct kidx_rev r = { ++rev, (uint32_t)(next_rand() % 4), (next_rand() % 3) == 0 };
			int64_t lease = (int64_t)(next_rand() % 3);
			kidx_append(x, k->name, k->len, &r, lease);
			k->revs[k->n++] = r;
			k->lease = r.tomb ? 0 : lease;
		} else if (op < 8 && n) {
			uint32_t keep = (uint32_t)(next_rand() % (k->n + 1));
			int64_t lease = (int64_t)(next_rand() % 3);
			kidx_truncate(x, n, keep, lease);
			k->n = keep;
			k->lease = keep ? lease : 0;
		} else if (n) {
			uint32_t drop = (uint32_t)(next_rand() % (k->n + 1));
			kidx_drop_front(x, n, drop);
			if (drop >= k->n) {
				k->n = 0;
				k->lease = 0;
			} else {
				memmove(k->revs, k->revs + drop, (k->n - drop) * sizeof k->revs[0]);
				k->n -= drop;
			}
		}
		if (step % 50 == 0)
			check(x, keys, rev);
	}
	check(x, keys, rev);
	assert_true(kidx_bytes(x) > 0 || kidx_nkeys(x) == 0);
	kidx_clear(x);
	assert_int_equal(kidx_nkeys(x), 0);
	assert_int_equal(kidx_bytes(x), 0);
	assert_null(kidx_seek(x, "", 0));
	kidx_free(x);
	free(keys);
}

struct race {
	struct kidx *x;
	atomic_bool stop;
	atomic_long walks;
};

static void *reader(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->stop)) {
		kidx_rdlock(r->x);
		struct kidx_node *prev = NULL;
		for (struct kidx_node *n = kidx_seek(r->x, "k", 1); n; n = kidx_next(n)) {
			if (prev) {
				size_t m = prev->klen < n->klen ? prev->klen : n->klen;
				int c = memcmp(kidx_key(prev), kidx_key(n), m);
				if (c > 0 || (c == 0 && prev->klen >= n->klen))
					abort();
			}
			for (uint32_t i = 1; i < n->nrev; i++)
				if (n->revs[i - 1].rev >= n->revs[i].rev)
					abort();
			(void)kidx_at(n, 1000);
			prev = n;
		}
		kidx_rdunlock(r->x);
		r->walks++;
	}
	return NULL;
}

static void test_concurrent_readers(void **state)
{
	(void)state;
	struct race r = { .x = kidx_new() };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, &r), 0);
	int64_t rev = 0;
	for (int step = 0; step < 30000; step++) {
		char key[16];
		int len = snprintf(key, sizeof key, "k%03u", (unsigned)(next_rand() % 500));
		struct kidx_node *n = kidx_get(r.x, key, (size_t)len);
		unsigned op = (unsigned)(next_rand() % 8);
		if (op < 5 || !n)
			kidx_append(r.x, key, (size_t)len, &(struct kidx_rev){ ++rev, 0, 0 }, 0);
		else if (op < 6)
			kidx_truncate(r.x, n, n->nrev - 1, 0);
		else
			kidx_drop_front(r.x, n, 1);
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_true(atomic_load(&r.walks) > 0);
	kidx_free(r.x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_concurrent_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
