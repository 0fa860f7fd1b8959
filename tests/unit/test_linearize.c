/* Unit tests for tests/fault/linearize: the checker accepts linearizable register histories
 * (including concurrent and unknown-outcome operations, and large random ones generated from a
 * sequential execution) and catches stale reads, lost acknowledged writes and CAS anomalies.
 *
 * linearize.c is test tooling, not part of libkc, so it is compiled into this test directly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fault/linearize.c"

/* Shorthands: times in the tests are small integers. */
static void add(struct lin_history *h, int client, enum lin_kind kind, const char *key,
		const char *value, const char *expected, int64_t t0, int64_t t1,
		enum lin_result result, bool obs_known, const char *observed)
{
	struct lin_op op = {
		.client = client, .kind = kind, .key = key, .value = value, .expected = expected,
		.invoke_ns = t0, .complete_ns = t1, .result = result, .observed = observed,
		.observed_known = obs_known,
	};
	struct kc_err err = { 0 };
	if (lin_history_add(h, &op, &err) < 0)
		fail_msg("add: %s", err.msg);
}

static void put(struct lin_history *h, int c, const char *k, const char *v, int64_t t0, int64_t t1,
		enum lin_result r)
{
	add(h, c, LIN_PUT, k, v, NULL, t0, t1, r, false, NULL);
}

static void get(struct lin_history *h, int c, const char *k, const char *obs, int64_t t0,
		int64_t t1)
{
	add(h, c, LIN_GET, k, NULL, NULL, t0, t1, LIN_OK, true, obs);
}

static void cas(struct lin_history *h, int c, const char *k, const char *exp, const char *v,
		int64_t t0, int64_t t1, enum lin_result r, bool obs_known, const char *obs)
{
	add(h, c, LIN_CAS, k, v, exp, t0, t1, r, obs_known, obs);
}

static enum lin_verdict check(struct lin_history *h, struct lin_report *rep)
{
	assert_int_equal(lin_check(h, NULL, rep), 0);
	return rep->verdict;
}

static void expect_verdict(struct lin_history *h, enum lin_verdict want)
{
	struct lin_report rep;
	enum lin_verdict v = check(h, &rep);
	if (v != want)
		fail_msg("verdict %d, want %d:\n%s", (int)v, (int)want, rep.detail.buf);
	lin_report_free(&rep);
	lin_history_free(h);
}

static void test_empty_and_sequential(void **state)
{
	expect_verdict(lin_history_new(), LIN_LINEARIZABLE);

	struct lin_history *h = lin_history_new();
	get(h, 1, "k", NULL, 0, 1);
	put(h, 1, "k", "a", 2, 3, LIN_OK);
	get(h, 2, "k", "a", 4, 5);
	cas(h, 1, "k", "a", "b", 6, 7, LIN_OK, false, NULL);
	cas(h, 2, "k", "a", "c", 8, 9, LIN_FAIL, true, "b");
	add(h, 1, LIN_DEL, "k", NULL, NULL, 10, 11, LIN_OK, false, NULL);
	get(h, 2, "k", NULL, 12, 13);
	cas(h, 1, "k", NULL, "d", 14, 15, LIN_OK, false, NULL);   /* create if absent */
	get(h, 2, "k", "d", 16, 17);
	expect_verdict(h, LIN_LINEARIZABLE);
}

static void test_concurrent_reads_see_either(void **state)
{
	/* a write overlapping two reads: one may see the old, one the new value, in either
	 * real-time order as long as the old is not seen after the new by a later read */
	struct lin_history *h = lin_history_new();
	put(h, 1, "k", "a", 0, 1, LIN_OK);
	put(h, 1, "k", "b", 10, 50, LIN_OK);
	get(h, 2, "k", "b", 12, 20);
	get(h, 3, "k", "a", 11, 40);   /* overlaps the read of b: may be ordered before it */
	expect_verdict(h, LIN_LINEARIZABLE);

	h = lin_history_new();
	put(h, 1, "k", "a", 0, 1, LIN_OK);
	put(h, 1, "k", "b", 10, 50, LIN_OK);
	get(h, 2, "k", "b", 12, 20);
	get(h, 3, "k", "a", 21, 40);   /* after a completed read of b: a went back in time */
	expect_verdict(h, LIN_VIOLATION);

	/* equal times count as concurrent */
	h = lin_history_new();
	put(h, 1, "k", "a", 0, 10, LIN_OK);
	get(h, 2, "k", NULL, 10, 12);
	expect_verdict(h, LIN_LINEARIZABLE);
}

static void test_stale_read(void **state)
{
	struct lin_history *h = lin_history_new();
	put(h, 1, "k", "a", 0, 1, LIN_OK);
	put(h, 1, "k", "b", 2, 3, LIN_OK);
	get(h, 2, "k", "a", 4, 5);   /* the completed write of b is not visible */
	struct lin_report rep;
	assert_int_equal(check(h, &rep), LIN_VIOLATION);
	assert_string_equal(rep.key, "k");
	/* the account names the read that cannot be placed */
	assert_non_null(strstr(rep.detail.buf, "cannot be placed: client 2 get() ok observed=a"));
	assert_non_null(strstr(rep.detail.buf, "state after it: b"));
	lin_report_free(&rep);
	lin_history_free(h);
}

static void test_lost_acknowledged_write(void **state)
{
	struct lin_history *h = lin_history_new();
	put(h, 1, "k", "a", 0, 1, LIN_OK);
	get(h, 2, "k", NULL, 2, 3);   /* acknowledged, then gone */
	expect_verdict(h, LIN_VIOLATION);

	/* acknowledged write overwritten by nothing, then the previous value returns */
	h = lin_history_new();
	put(h, 1, "k", "a", 0, 1, LIN_OK);
	put(h, 2, "k", "b", 2, 3, LIN_OK);
	put(h, 3, "k", "c", 2, 6, LIN_UNKNOWN);
	get(h, 1, "k", "c", 7, 8);
	get(h, 1, "k", "b", 9, 10);   /* c took effect (it was read), so b cannot come back */
	expect_verdict(h, LIN_VIOLATION);
}

static void test_cas_anomalies(void **state)
{
	/* two successful CAS from the same expected value, one after the other */
	struct lin_history *h = lin_history_new();
	put(h, 1, "k", "0", 0, 1, LIN_OK);
	cas(h, 1, "k", "0", "1", 2, 3, LIN_OK, false, NULL);
	cas(h, 2, "k", "0", "2", 4, 5, LIN_OK, false, NULL);
	expect_verdict(h, LIN_VIOLATION);

	/* ... but concurrent with a write of the expected value it is fine */
	h = lin_history_new();
	put(h, 1, "k", "0", 0, 1, LIN_OK);
	cas(h, 1, "k", "0", "1", 2, 3, LIN_OK, false, NULL);
	put(h, 3, "k", "0", 2, 10, LIN_OK);
	cas(h, 2, "k", "0", "2", 4, 5, LIN_OK, false, NULL);
	expect_verdict(h, LIN_LINEARIZABLE);

	/* a failed compare that saw the expected value */
	h = lin_history_new();
	put(h, 1, "k", "0", 0, 1, LIN_OK);
	cas(h, 2, "k", "0", "1", 2, 3, LIN_FAIL, true, "0");
	expect_verdict(h, LIN_VIOLATION);

	/* a failed compare while the value surely matched (observed unknown) */
	h = lin_history_new();
	put(h, 1, "k", "0", 0, 1, LIN_OK);
	cas(h, 2, "k", "0", "1", 2, 3, LIN_FAIL, false, NULL);
	expect_verdict(h, LIN_VIOLATION);

	/* a successful CAS whose write is not visible afterwards */
	h = lin_history_new();
	put(h, 1, "k", "0", 0, 1, LIN_OK);
	cas(h, 2, "k", "0", "1", 2, 3, LIN_OK, false, NULL);
	get(h, 1, "k", "0", 4, 5);
	expect_verdict(h, LIN_VIOLATION);

	/* a CAS that succeeded although the value never matched */
	h = lin_history_new();
	put(h, 1, "k", "x", 0, 1, LIN_OK);
	cas(h, 2, "k", "y", "z", 2, 3, LIN_OK, false, NULL);
	expect_verdict(h, LIN_VIOLATION);
}

static void test_unknown_outcomes(void **state)
{
	/* an unknown put may never happen... */
	struct lin_history *h = lin_history_new();
	put(h, 1, "k", "a", 0, 1, LIN_OK);
	put(h, 2, "k", "b", 2, 0, LIN_UNKNOWN);
	get(h, 1, "k", "a", 100, 101);
	expect_verdict(h, LIN_LINEARIZABLE);
	/* ... or happen long after the client gave up */
	h = lin_history_new();
	put(h, 1, "k", "a", 0, 1, LIN_OK);
	put(h, 2, "k", "b", 2, 3, LIN_UNKNOWN);
	get(h, 1, "k", "a", 100, 101);
	get(h, 1, "k", "b", 200, 201);
	expect_verdict(h, LIN_LINEARIZABLE);
	/* but not before it was invoked */
	h = lin_history_new();
	put(h, 1, "k", "a", 0, 1, LIN_OK);
	get(h, 1, "k", "b", 2, 3);
	put(h, 2, "k", "b", 4, 5, LIN_UNKNOWN);
	expect_verdict(h, LIN_VIOLATION);
	/* and not twice: b, then a (acknowledged), then b again with nothing writing it */
	h = lin_history_new();
	put(h, 2, "k", "b", 0, 1, LIN_UNKNOWN);
	get(h, 1, "k", "b", 2, 3);
	put(h, 1, "k", "a", 4, 5, LIN_OK);
	get(h, 1, "k", "b", 6, 7);
	expect_verdict(h, LIN_VIOLATION);
	/* an unknown CAS applies only where its compare holds */
	h = lin_history_new();
	put(h, 1, "k", "0", 0, 1, LIN_OK);
	put(h, 1, "k", "1", 2, 3, LIN_OK);
	cas(h, 2, "k", "0", "2", 4, 5, LIN_UNKNOWN, false, NULL);
	get(h, 1, "k", "2", 6, 7);
	expect_verdict(h, LIN_VIOLATION);
	h = lin_history_new();
	put(h, 1, "k", "0", 0, 1, LIN_OK);
	cas(h, 2, "k", "0", "2", 2, 5, LIN_UNKNOWN, false, NULL);
	put(h, 1, "k", "1", 3, 4, LIN_OK);
	get(h, 1, "k", "2", 6, 7);     /* put 1 completed before: the CAS could only apply
					* before it, and 1 would have overwritten 2 */
	expect_verdict(h, LIN_VIOLATION);
	/* failed gets and failed puts are ignored */
	h = lin_history_new();
	put(h, 1, "k", "a", 0, 1, LIN_OK);
	put(h, 1, "k", "b", 2, 3, LIN_FAIL);
	add(h, 2, LIN_GET, "k", NULL, NULL, 4, 5, LIN_UNKNOWN, false, NULL);
	get(h, 1, "k", "a", 6, 7);
	expect_verdict(h, LIN_LINEARIZABLE);
}

static void test_keys_are_independent(void **state)
{
	struct lin_history *h = lin_history_new();
	put(h, 1, "a", "1", 0, 1, LIN_OK);
	put(h, 1, "b", "1", 2, 3, LIN_OK);
	get(h, 2, "a", "1", 4, 5);
	get(h, 2, "b", NULL, 6, 7);   /* lost on b */
	struct lin_report rep;
	assert_int_equal(check(h, &rep), LIN_VIOLATION);
	assert_string_equal(rep.key, "b");
	lin_report_free(&rep);
	lin_history_free(h);
}

/* A random history from a sequential execution on several keys: each operation takes effect
 * at one instant between its invocation and completion; some end unknown (applied or not). */
struct gen {
	uint64_t rng;
	int64_t t;
};

static uint64_t rnd(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

#define GEN_CLIENTS 6
#define GEN_KEYS 3

struct pending {
	int phase;                  /* 0 idle, 1 invoked, 2 took effect */
	struct lin_op op;
	char key[8], value[16], expected[16], observed[16];
	bool applied;
};

static void gen_history(struct lin_history *h, uint64_t seed, size_t nops, int unknown_pct)
{
	struct gen g = { seed * 2654435761u + 1, 0 };
	char model[GEN_KEYS][16];
	bool present[GEN_KEYS] = { false };
	struct pending pc[GEN_CLIENTS];
	memset(pc, 0, sizeof(pc));
	size_t done = 0, seq = 0;
	while (done < nops) {
		g.t += 1 + (int64_t)(rnd(&g) % 3);
		int c = (int)(rnd(&g) % GEN_CLIENTS);
		struct pending *p = &pc[c];
		if (p->phase == 0) {
			int k = (int)(rnd(&g) % GEN_KEYS);
			memset(&p->op, 0, sizeof(p->op));
			snprintf(p->key, sizeof(p->key), "k%d", k);
			p->op.client = c;
			p->op.key = p->key;
			p->op.invoke_ns = g.t;
			unsigned r = (unsigned)(rnd(&g) % 10);
			p->op.kind = r < 4 ? LIN_GET : r < 7 ? LIN_PUT : r < 9 ? LIN_CAS : LIN_DEL;
			snprintf(p->value, sizeof(p->value), "v%zu", ++seq);
			p->op.value = p->value;
			if (p->op.kind == LIN_CAS) {
				/* expect the current value half of the time, an old one otherwise */
				int kk = k;
				if (present[kk] && rnd(&g) % 2)
					snprintf(p->expected, sizeof(p->expected), "%s", model[kk]);
				else
					snprintf(p->expected, sizeof(p->expected), "v%zu",
						 seq > 3 ? seq - 1 - rnd(&g) % 3 : seq);
				p->op.expected = p->expected;
			}
			p->phase = 1;
		} else if (p->phase == 1) {
			int k = p->key[1] - '0';
			bool unknown = (int)(rnd(&g) % 100) < unknown_pct && p->op.kind != LIN_GET;
			p->applied = !unknown || rnd(&g) % 2;
			if (unknown)
				p->op.result = LIN_UNKNOWN;
			else
				p->op.result = LIN_OK;
			switch (p->op.kind) {
			case LIN_GET:
				p->op.observed_known = true;
				if (present[k]) {
					snprintf(p->observed, sizeof(p->observed), "%s", model[k]);
					p->op.observed = p->observed;
				} else {
					p->op.observed = NULL;
				}
				break;
			case LIN_PUT:
				if (p->applied) {
					snprintf(model[k], sizeof(model[k]), "%s", p->value);
					present[k] = true;
				}
				break;
			case LIN_DEL:
				if (p->applied)
					present[k] = false;
				break;
			case LIN_CAS: {
				bool match = present[k] && strcmp(model[k], p->expected) == 0;
				if (!unknown && !match) {
					p->op.result = LIN_FAIL;
					p->op.observed_known = true;
					if (present[k]) {
						snprintf(p->observed, sizeof(p->observed), "%s", model[k]);
						p->op.observed = p->observed;
					}
				} else if (match && p->applied) {
					snprintf(model[k], sizeof(model[k]), "%s", p->value);
				}
				break;
			}
			}
			p->phase = 2;
		} else {
			p->op.complete_ns = g.t;
			struct kc_err err = { 0 };
			if (lin_history_add(h, &p->op, &err) < 0)
				fail_msg("gen: %s", err.msg);
			done++;
			p->phase = 0;
		}
	}
	/* operations that took effect must be in the history (others may have observed them) */
	for (int c = 0; c < GEN_CLIENTS; c++) {
		if (pc[c].phase != 2)
			continue;
		pc[c].op.complete_ns = ++g.t;
		struct kc_err err = { 0 };
		if (lin_history_add(h, &pc[c].op, &err) < 0)
			fail_msg("gen: %s", err.msg);
	}
}

static void test_random_linearizable(void **state)
{
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct lin_history *h = lin_history_new();
		gen_history(h, seed, 600, seed % 4 == 0 ? 10 : 2);
		struct lin_report rep;
		if (check(h, &rep) != LIN_LINEARIZABLE)
			fail_msg("seed %llu: %s", (unsigned long long)seed, rep.detail.buf);
		lin_report_free(&rep);
		lin_history_free(h);
	}
	/* a long one */
	struct lin_history *h = lin_history_new();
	gen_history(h, 99, 20000, 3);
	expect_verdict(h, LIN_LINEARIZABLE);
	/* many unknown outcomes, as under a long partition */
	h = lin_history_new();
	gen_history(h, 7, 5000, 30);
	expect_verdict(h, LIN_LINEARIZABLE);
}

static void test_random_with_injected_anomaly(void **state)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct lin_history *h = lin_history_new();
		gen_history(h, seed, 400, 3);
		/* after everything: an acknowledged write, then a read that misses it */
		int64_t t = 1000000;
		put(h, 7, "k1", "final", t, t + 1, LIN_OK);
		get(h, 8, "k1", "v1", t + 2, t + 3);
		struct lin_report rep;
		if (check(h, &rep) != LIN_VIOLATION)
			fail_msg("seed %llu: anomaly not found", (unsigned long long)seed);
		assert_string_equal(rep.key, "k1");
		lin_report_free(&rep);
		lin_history_free(h);
	}
}

static void test_budget(void **state)
{
	struct lin_history *h = lin_history_new();
	gen_history(h, 5, 2000, 5);
	struct lin_limits lim = { .max_steps = 10 };
	struct lin_report rep;
	assert_int_equal(lin_check(h, &lim, &rep), 0);
	assert_int_equal(rep.verdict, LIN_INCONCLUSIVE);
	assert_non_null(strstr(rep.detail.buf, "budget"));
	lin_report_free(&rep);
	lin_history_free(h);
}

static void test_json_round_trip(void **state)
{
	struct lin_history *h = lin_history_new();
	struct lin_op ops[] = {
		{ .client = 3, .kind = LIN_PUT, .key = "k\"1", .value = "v\n7", .invoke_ns = 10,
		  .complete_ns = 25, .result = LIN_OK, .revision = 42 },
		{ .client = 1, .kind = LIN_GET, .key = "k1", .invoke_ns = 11, .complete_ns = 30,
		  .result = LIN_OK, .observed_known = true, .observed = NULL },
		{ .client = 2, .kind = LIN_CAS, .key = "k1", .expected = NULL, .value = "x",
		  .invoke_ns = 12, .complete_ns = 31, .result = LIN_FAIL, .observed_known = true,
		  .observed = "y" },
		{ .client = 4, .kind = LIN_DEL, .key = "k1", .invoke_ns = 13, .complete_ns = 900,
		  .result = LIN_UNKNOWN },
	};
	struct kc_str text = KC_STR_INIT;
	for (size_t i = 0; i < 4; i++)
		lin_op_write(&text, &ops[i]);
	struct kc_err err = { 0 };
	char *line = text.buf;
	while (*line) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		if (lin_history_add_json(h, line, (size_t)(nl - line + 1), &err) < 0)
			fail_msg("%s: %.*s", err.msg, (int)(nl - line), line);
		line = nl + 1;
	}
	assert_int_equal(lin_history_len(h), 4);
	const struct lin_op *o = lin_history_get(h, 0);
	assert_string_equal(o->key, "k\"1");
	assert_string_equal(o->value, "v\n7");
	assert_int_equal(o->revision, 42);
	assert_int_equal(o->complete_ns, 25);
	o = lin_history_get(h, 1);
	assert_true(o->observed_known);
	assert_null(o->observed);
	o = lin_history_get(h, 2);
	assert_null(o->expected);
	assert_string_equal(o->observed, "y");
	assert_int_equal(o->result, LIN_FAIL);
	o = lin_history_get(h, 3);
	assert_int_equal(o->result, LIN_UNKNOWN);
	assert_int_equal(o->complete_ns, INT64_MAX);
	assert_null(lin_history_get(h, 4));
	/* blank lines are skipped */
	assert_int_equal(lin_history_add_json(h, " \n", 2, &err), 0);
	assert_int_equal(lin_history_len(h), 4);

	const char *bad[] = {
		"[]", "{\"op\":\"put\"}", "{\"op\":\"frob\",\"key\":\"k\",\"invoke_ns\":1,\"result\":\"ok\"}",
		"{\"op\":\"get\",\"key\":\"k\",\"invoke_ns\":1,\"complete_ns\":2,\"result\":\"ok\"}",
		"{\"op\":\"put\",\"key\":\"k\",\"invoke_ns\":1,\"complete_ns\":2,\"result\":\"ok\"}",
		"{\"op\":\"put\",\"key\":\"k\",\"value\":\"v\",\"invoke_ns\":3,\"complete_ns\":2,\"result\":\"ok\"}",
		"{\"op\":\"put\",\"key\":\"k\",\"value\":\"v\",\"invoke_ns\":1,\"result\":\"ok\"}",
		"{\"op\":\"put\",\"key\":\"\",\"value\":\"v\",\"invoke_ns\":1,\"complete_ns\":2,\"result\":\"ok\"}",
		"{\"op\":\"put\",\"key\":7,\"value\":\"v\",\"invoke_ns\":1,\"complete_ns\":2,\"result\":\"ok\"}",
		"{\"op\":\"put\",\"key\":\"k\",\"value\":\"v\",\"invoke_ns\":1.5,\"complete_ns\":2,\"result\":\"ok\"}",
		"{\"op\":\"put\",\"key\":\"k\",\"value\":\"v\",\"invoke_ns\":1,\"complete_ns\":2,\"result\":\"maybe\"}",
		"{not json",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lin_history_add_json(h, bad[i], strlen(bad[i]), &err) == 0)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(lin_history_len(h), 4);
	kc_str_free(&text);
	lin_history_free(h);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test_linearize.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text =
		"{\"client\":1,\"op\":\"put\",\"key\":\"k\",\"value\":\"a\",\"invoke_ns\":0,\"complete_ns\":1,\"result\":\"ok\"}\n"
		"\n"
		"{\"client\":2,\"op\":\"get\",\"key\":\"k\",\"invoke_ns\":2,\"complete_ns\":3,\"result\":\"ok\",\"observed\":null}\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct lin_history *h = lin_history_new();
	struct kc_err err = { 0 };
	assert_int_equal(lin_history_load(h, path, &err), 0);
	assert_int_equal(lin_history_len(h), 2);
	expect_verdict(h, LIN_VIOLATION);

	FILE *f = fopen(path, "a");
	fputs("{\"op\":1}\n", f);
	fclose(f);
	h = lin_history_new();
	assert_true(lin_history_load(h, path, &err) < 0);
	assert_non_null(strstr(err.msg, ":4"));
	lin_history_free(h);
	unlink(path);
	h = lin_history_new();
	assert_true(lin_history_load(h, path, &err) < 0);
	lin_history_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_sequential),
		cmocka_unit_test(test_concurrent_reads_see_either),
		cmocka_unit_test(test_stale_read),
		cmocka_unit_test(test_lost_acknowledged_write),
		cmocka_unit_test(test_cas_anomalies),
		cmocka_unit_test(test_unknown_outcomes),
		cmocka_unit_test(test_keys_are_independent),
		cmocka_unit_test(test_random_linearizable),
		cmocka_unit_test(test_random_with_injected_anomaly),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
