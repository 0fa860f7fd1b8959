/* test_sched_filter.c - the scheduler's filters and scores on hand-written Node and Pod
 * objects: resources with exact quantities, pod count, taints/tolerations (and the implicit
 * not-ready taint), nodeSelector and required node affinity, host ports, unschedulable, the
 * scores' preferences, and Kubernetes' FailedScheduling wording. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/json.h"
#include "roles/scheduler/sched_filter.h"

static cJSON *js(const char *s)
{
	cJSON *v = NULL;
	struct kc_err e = { 0 };
	if (kc_json_parse(s, strlen(s), NULL, &v, &e) < 0)
		fail_msg("%s", e.msg);
	return v;
}

#define NODE(name, extra)                                                                        \
	"{\"metadata\":{\"name\":\"" name "\",\"labels\":{\"zone\":\"a\",\"size\":\"8\"}},"         \
	"\"spec\":{" extra "},\"status\":{\"allocatable\":{\"cpu\":\"2\",\"memory\":\"4Gi\","     \
	"\"pods\":\"3\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"

static void mknode(struct sched_node *n, const char *json)
{
	memset(n, 0, sizeof *n);
	cJSON *o = js(json);
	sched_node_set(n, o, false);
	cJSON_Delete(o);
}

static unsigned check(struct sched_node *n, const char *pod_json, char *taint)
{
	cJSON *pod = js(pod_json);
	struct sched_pod p;
	sched_pod_init(&p, pod);
	unsigned f = sched_filter(&p, n, taint, 300);
	cJSON_Delete(pod);
	return f;
}

static void test_resources(void **state)
{
	struct sched_node n;
	mknode(&n, NODE("n1", ""));
	assert_int_equal(n.alloc_cpu_milli, 2000);
	assert_int_equal(n.alloc_mem, 4LL << 30);
	const char *pod = "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\","
			  "\"resources\":{\"requests\":{\"cpu\":\"1500m\",\"memory\":\"1Gi\"}}}]}}";
	assert_int_equal(check(&n, pod, NULL), 0);
	cJSON *po = js(pod);
	struct sched_pod p;
	sched_pod_init(&p, po);
	assert_int_equal(p.cpu_milli, 1500);
	sched_node_account(&n, &p, 1);
	assert_int_equal(sched_filter(&p, &n, NULL, 0), SCHED_F_CPU);
	sched_node_account(&n, &p, -1);
	assert_int_equal(sched_filter(&p, &n, NULL, 0), 0);
	/* init containers count by their max */
	const char *init = "{\"spec\":{\"initContainers\":[{\"resources\":{\"requests\":{\"memory\":"
			   "\"5Gi\"}}}],\"containers\":[{}]}}";
	assert_int_equal(check(&n, init, NULL), SCHED_F_MEMORY);
	/* pod count */
	sched_node_account(&n, &p, 1);
	sched_node_account(&n, &p, 1);
	sched_node_account(&n, &p, 1);
	assert_true(check(&n, "{\"spec\":{\"containers\":[{}]}}", NULL) & SCHED_F_PODS);
	cJSON_Delete(po);
	sched_node_free(&n);
}

static void test_taints(void **state)
{
	struct sched_node n;
	mknode(&n, NODE("n1", "\"taints\":[{\"key\":\"gpu\",\"value\":\"yes\",\"effect\":\"NoSchedule\"}]"));
	char taint[300] = "";
	assert_int_equal(check(&n, "{\"spec\":{\"containers\":[{}]}}", taint), SCHED_F_TAINT);
	assert_string_equal(taint, "{gpu: yes}");
	assert_int_equal(check(&n, "{\"spec\":{\"containers\":[{}],\"tolerations\":[{\"key\":\"gpu\","
				   "\"operator\":\"Equal\",\"value\":\"yes\",\"effect\":\"NoSchedule\"}]}}", NULL),
			 0);
	assert_int_equal(check(&n, "{\"spec\":{\"containers\":[{}],\"tolerations\":[{\"operator\":"
				   "\"Exists\"}]}}", NULL),
			 0);
	assert_int_equal(check(&n, "{\"spec\":{\"containers\":[{}],\"tolerations\":[{\"key\":\"gpu\","
				   "\"value\":\"no\"}]}}", NULL),
			 SCHED_F_TAINT);
	sched_node_free(&n);
	/* PreferNoSchedule does not filter */
	mknode(&n, NODE("n1", "\"taints\":[{\"key\":\"x\",\"effect\":\"PreferNoSchedule\"}]"));
	assert_int_equal(check(&n, "{\"spec\":{\"containers\":[{}]}}", NULL), 0);
	sched_node_free(&n);
	/* a node that is not Ready carries an implicit not-ready taint */
	mknode(&n, "{\"metadata\":{\"name\":\"n2\"},\"status\":{\"allocatable\":{\"cpu\":\"1\","
		   "\"memory\":\"1Gi\",\"pods\":\"10\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}");
	assert_int_equal(check(&n, "{\"spec\":{\"containers\":[{}]}}", taint), SCHED_F_TAINT);
	assert_string_equal(taint, "{node.kubernetes.io/not-ready: }");
	sched_node_free(&n);
}

static void test_unschedulable(void **state)
{
	struct sched_node n;
	mknode(&n, NODE("n1", "\"unschedulable\":true"));
	assert_int_equal(check(&n, "{\"spec\":{\"containers\":[{}]}}", NULL), SCHED_F_UNSCHEDULABLE);
	assert_int_equal(check(&n, "{\"spec\":{\"containers\":[{}],\"tolerations\":[{\"key\":"
				   "\"node.kubernetes.io/unschedulable\",\"operator\":\"Exists\"}]}}", NULL),
			 0);
	sched_node_free(&n);
}

static void test_affinity(void **state)
{
	struct sched_node n;
	mknode(&n, NODE("n1", ""));
	assert_int_equal(check(&n, "{\"spec\":{\"nodeSelector\":{\"zone\":\"a\"},\"containers\":[{}]}}", NULL), 0);
	assert_int_equal(check(&n, "{\"spec\":{\"nodeSelector\":{\"zone\":\"b\"},\"containers\":[{}]}}", NULL),
			 SCHED_F_AFFINITY);
	const char *aff = "{\"spec\":{\"containers\":[{}],\"affinity\":{\"nodeAffinity\":{"
			  "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":["
			  "{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"b\"]}]},"
			  "{\"matchExpressions\":[{\"key\":\"size\",\"operator\":\"Gt\",\"values\":[\"4\"]},"
			  "{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"}]}]}}}}}";
	assert_int_equal(check(&n, aff, NULL), 0);   /* second term matches */
	const char *fields = "{\"spec\":{\"containers\":[{}],\"affinity\":{\"nodeAffinity\":{"
			     "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":["
			     "{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n2\"]}]}]}}}}}";
	assert_int_equal(check(&n, fields, NULL), SCHED_F_AFFINITY);
	sched_node_free(&n);
}

static void test_ports(void **state)
{
	struct sched_node n;
	mknode(&n, NODE("n1", ""));
	const char *pod = "{\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":80,\"hostPort\":8080}]}]}}";
	cJSON *po = js(pod);
	struct sched_pod p;
	sched_pod_init(&p, po);
	assert_int_equal(p.nports, 1);
	assert_int_equal(sched_filter(&p, &n, NULL, 0), 0);
	sched_node_account(&n, &p, 1);
	assert_int_equal(sched_filter(&p, &n, NULL, 0), SCHED_F_PORTS);
	assert_int_equal(check(&n, "{\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":80,"
				   "\"hostPort\":8080,\"protocol\":\"UDP\"}]}]}}", NULL),
			 0);
	cJSON_Delete(po);
	sched_node_free(&n);
}

static void test_scores(void **state)
{
	struct sched_node a, b;
	mknode(&a, NODE("a", ""));
	mknode(&b, NODE("b", ""));
	cJSON *po = js("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"rs1\",\"controller\":true}]},"
		       "\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"500m\","
		       "\"memory\":\"512Mi\"}}}]}}");
	struct sched_pod p;
	sched_pod_init(&p, po);
	/* equal nodes, equal scores */
	assert_int_equal(sched_score(&p, &a, 0), sched_score(&p, &b, 0));
	/* a pod of the same owner on a: b wins (spreading + least requested) */
	sched_node_account(&a, &p, 1);
	int64_t max = sched_owner_count(&p, &a);
	assert_int_equal(max, 1);
	assert_true(sched_score(&p, &b, max) > sched_score(&p, &a, max));
	cJSON_Delete(po);
	sched_node_free(&a);
	sched_node_free(&b);
}

static void test_fail_message(void **state)
{
	unsigned fails[3] = { SCHED_F_CPU, SCHED_F_AFFINITY, SCHED_F_CPU | SCHED_F_MEMORY };
	char taints[3][300] = { "", "", "" };
	char buf[1024];
	sched_fail_message(3, fails, taints, buf, sizeof buf);
	assert_string_equal(buf, "0/3 nodes are available: 1 Insufficient memory, 1 node(s) didn't "
				 "match Pod's node affinity/selector, 2 Insufficient cpu. preemption: "
				 "0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
	unsigned f2[1] = { SCHED_F_TAINT };
	char t2[1][300] = { "{node.kubernetes.io/unreachable: }" };
	sched_fail_message(1, f2, t2, buf, sizeof buf);
	assert_non_null(strstr(buf, "1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resources),    cmocka_unit_test(test_taints),
		cmocka_unit_test(test_unschedulable), cmocka_unit_test(test_affinity),
		cmocka_unit_test(test_ports),        cmocka_unit_test(test_scores),
		cmocka_unit_test(test_fail_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
