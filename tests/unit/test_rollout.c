/* test_rollout.c - the Deployment controller's pure rollout arithmetic: maxSurge/maxUnavailable
 * resolution (percent rounding, the 0/0 rule), how far the new ReplicaSet may scale up, and how
 * old ReplicaSets are scaled down (unhealthy first, then oldest, never below the availability
 * floor), walked through a whole RollingUpdate to completion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/json.h"
#include "roles/controllers/deployment.h"

static cJSON *js(const char *s)
{
	cJSON *v = NULL;
	assert_int_equal(kc_json_parse(s, strlen(s), NULL, &v, NULL), 0);
	return v;
}

static void test_int_or_percent(void **state)
{
	long long v;
	cJSON *n = js("3");
	assert_int_equal(rollout_int_or_percent(n, "25%", 10, true, &v), 0);
	assert_int_equal(v, 3);
	cJSON_Delete(n);
	assert_int_equal(rollout_int_or_percent(NULL, "25%", 10, true, &v), 0);
	assert_int_equal(v, 3);   /* 2.5 rounds up for surge */
	assert_int_equal(rollout_int_or_percent(NULL, "25%", 10, false, &v), 0);
	assert_int_equal(v, 2);   /* and down for unavailable */
	cJSON *bad = js("\"x%\"");
	assert_int_not_equal(rollout_int_or_percent(bad, NULL, 10, true, &v), 0);
	cJSON_Delete(bad);
	cJSON *neg = js("-1");
	assert_int_not_equal(rollout_int_or_percent(neg, NULL, 10, true, &v), 0);
	cJSON_Delete(neg);
}

static void test_surge_unavailable(void **state)
{
	long long s, u;
	rollout_surge_unavailable(NULL, 3, &s, &u);
	assert_int_equal(s, 1);
	assert_int_equal(u, 0);
	cJSON *r = js("{\"maxSurge\":0,\"maxUnavailable\":0}");
	rollout_surge_unavailable(r, 3, &s, &u);
	assert_int_equal(s, 0);
	assert_int_equal(u, 1);   /* both zero: one may be unavailable */
	cJSON_Delete(r);
	r = js("{\"maxSurge\":\"50%\",\"maxUnavailable\":\"50%\"}");
	rollout_surge_unavailable(r, 5, &s, &u);
	assert_int_equal(s, 3);
	assert_int_equal(u, 2);
	cJSON_Delete(r);
}

static void test_new_rs_replicas(void **state)
{
	/* 3 replicas, surge 1: with 3 old pods the new RS may have 1. */
	assert_int_equal(rollout_new_rs_replicas(3, 1, 0, 3), 1);
	/* total already at 4: no more */
	assert_int_equal(rollout_new_rs_replicas(3, 1, 1, 4), 1);
	/* old scaled down to 2: new goes to 2 */
	assert_int_equal(rollout_new_rs_replicas(3, 1, 1, 3), 2);
	/* never beyond replicas */
	assert_int_equal(rollout_new_rs_replicas(3, 5, 0, 0), 3);
}

static void test_scale_down_unhealthy_first(void **state)
{
	struct rollout_rs newrs = { .replicas = 1, .available = 0 };
	struct rollout_rs old[2] = {
		{ .replicas = 2, .available = 2, .created = 100 },
		{ .replicas = 2, .available = 0, .created = 200 },
	};
	/* replicas 3, maxUnavailable 1: min available 2; all = 5; new unavailable 1 */
	long long d = rollout_scale_down_old(3, 1, &newrs, old, 2);
	/* maxScaledDown = 5 - 2 - 1 = 2: the unhealthy RS loses its 2 first */
	assert_int_equal(d, 2);
	assert_int_equal(old[0].target, 2);
	assert_int_equal(old[1].target, 0);
}

static void test_scale_down_keeps_floor(void **state)
{
	struct rollout_rs newrs = { .replicas = 1, .available = 0 };
	struct rollout_rs old[1] = { { .replicas = 3, .available = 3, .created = 1 } };
	/* replicas 3, surge 1, unavailable 0 → min available 3: nothing may go yet */
	assert_int_equal(rollout_scale_down_old(3, 0, &newrs, old, 1), 0);
	assert_int_equal(old[0].target, 3);
	newrs.available = 1;
	assert_int_equal(rollout_scale_down_old(3, 0, &newrs, old, 1), 1);
	assert_int_equal(old[0].target, 2);
}

static void test_oldest_first(void **state)
{
	struct rollout_rs old[2] = {
		{ .replicas = 2, .available = 2, .created = 300 },
		{ .replicas = 2, .available = 2, .created = 100 },
	};
	struct rollout_rs newrs = { .replicas = 0, .available = 0 };
	/* replicas 2, unavailable 1: min 1; available 4 → 3 may go, limited by maxScaledDown
	 * = 4 - 1 - 0 = 3; the older (created 100) empties first. */
	long long d = rollout_scale_down_old(2, 1, &newrs, old, 2);
	assert_int_equal(d, 3);
	assert_int_equal(old[1].target, 0);
	assert_int_equal(old[0].target, 1);
}

/* A whole RollingUpdate of 3 replicas with surge 1 / unavailable 0, where every pod becomes
 * available at once: the sequence converges to new=3, old=0 without ever dropping below 3
 * available or above 4 pods. */
static void test_full_rollout(void **state)
{
	long long replicas = 3, surge = 1, unavail = 0;
	struct rollout_rs newrs = { 0 };
	struct rollout_rs old = { .replicas = 3, .available = 3, .created = 1 };
	for (int step = 0; step < 20; step++) {
		long long all = newrs.replicas + old.replicas;
		long long want = rollout_new_rs_replicas(replicas, surge, newrs.replicas, all);
		if (want != newrs.replicas) {
			newrs.replicas = want;
		} else {
			rollout_scale_down_old(replicas, unavail, &newrs, &old, 1);
			old.replicas = old.target;
		}
		assert_true(newrs.replicas + old.replicas <= replicas + surge);
		newrs.available = newrs.replicas;
		old.available = old.replicas;
		assert_true(newrs.available + old.available >= replicas - unavail);
		if (newrs.replicas == 3 && old.replicas == 0)
			return;
	}
	fail_msg("rollout did not converge: new=%lld old=%lld", newrs.replicas, old.replicas);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_or_percent),
		cmocka_unit_test(test_surge_unavailable),
		cmocka_unit_test(test_new_rs_replicas),
		cmocka_unit_test(test_scale_down_unhealthy_first),
		cmocka_unit_test(test_scale_down_keeps_floor),
		cmocka_unit_test(test_oldest_first),
		cmocka_unit_test(test_full_rollout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
