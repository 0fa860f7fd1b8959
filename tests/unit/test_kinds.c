/* Unit tests for roles/apiserver/kinds: Kubernetes defaulting, validation messages, update
 * rules and the create/update strategies, on hand-built api_resource entries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "roles/apiserver/kinds.h"

static struct api_resource res(const char *group, const char *kind, const char *plural,
			       bool namespaced, bool status)
{
	struct api_resource r;
	memset(&r, 0, sizeof r);
	r.group = group;
	r.version = "v1";
	r.kind = kind;
	r.plural = plural;
	r.namespaced = namespaced;
	if (status)
		r.subresources[0] = "status";
	return r;
}

static cJSON *json(const char *text)
{
	struct kc_err err = {0};
	cJSON *v = NULL;
	if (kc_json_parse(text, strlen(text), NULL, &v, &err))
		fail_msg("bad test json %s: %s", text, err.msg);
	return v;
}

static void expect_str(const cJSON *o, const char *path, const char *want)
{
	const char *got = kc_json_get_str(o, path);
	if (!got || strcmp(got, want) != 0)
		fail_msg("%s: got %s, want %s", path, got ? got : "(none)", want);
}

static void expect_num(const cJSON *o, const char *path, long long want)
{
	long long got = -12345;
	if (kc_json_get_i64(o, path, &got) != 0 || got != want)
		fail_msg("%s: got %lld, want %lld", path, got, want);
}

/* Validates and checks that a cause with field and message (prefix) is present. */
static unsigned validate(const struct api_resource *r, const char *obj, const char *old,
			 struct api_error *e)
{
	memset(e, 0, sizeof *e);
	cJSON *o = json(obj), *p = old ? json(old) : NULL;
	kinds_default(r, o);
	if (p)
		kinds_default(r, p);
	unsigned n = kinds_validate(r, o, p, e);
	cJSON_Delete(o);
	cJSON_Delete(p);
	return n;
}

static void has_cause(const struct api_error *e, const char *field, const char *msg_prefix)
{
	for (unsigned i = 0; i < e->ncauses; i++)
		if (strcmp(e->causes[i].field, field) == 0 &&
		    strncmp(e->causes[i].message, msg_prefix, strlen(msg_prefix)) == 0)
			return;
	for (unsigned i = 0; i < e->ncauses; i++)
		fprintf(stderr, "  cause %s: %s\n", e->causes[i].field, e->causes[i].message);
	fail_msg("no cause %s: %s", field, msg_prefix);
}

static void valid(const struct api_resource *r, const char *obj, const char *old)
{
	struct api_error e;
	unsigned n = validate(r, obj, old, &e);
	for (unsigned i = 0; i < e.ncauses; i++)
		fprintf(stderr, "  cause %s: %s\n", e.causes[i].field, e.causes[i].message);
	assert_int_equal(n, 0);
}

#define POD_META "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"}"

static void test_pod_defaults(void **state)
{
	struct api_resource r = res("", "Pod", "pods", true, true);
	cJSON *o = json(
		"{" POD_META ",\"spec\":{\"containers\":["
		"{\"name\":\"a\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":80}],"
		" \"resources\":{\"limits\":{\"cpu\":\"1000m\",\"memory\":\"1.5Gi\"}},"
		" \"livenessProbe\":{\"httpGet\":{\"port\":80}}},"
		"{\"name\":\"b\",\"image\":\"nginx:1.25\"},"
		"{\"name\":\"c\",\"image\":\"nginx@sha256:0123\"},"
		"{\"name\":\"d\",\"image\":\"localhost:5000/img\"},"
		"{\"name\":\"e\",\"image\":\"repo/img:latest\",\"imagePullPolicy\":\"Never\"}],"
		"\"volumes\":[{\"name\":\"s\",\"secret\":{\"secretName\":\"x\"}}]}}");
	kinds_default(&r, o);
	expect_str(o, "spec.dnsPolicy", "ClusterFirst");
	expect_str(o, "spec.restartPolicy", "Always");
	expect_str(o, "spec.schedulerName", "default-scheduler");
	expect_num(o, "spec.terminationGracePeriodSeconds", 30);
	assert_true(kc_json_get_bool(o, "spec.enableServiceLinks", false));
	assert_true(cJSON_IsObject(kc_json_get(o, "spec.securityContext")));
	expect_str(o, "spec.containers[0].imagePullPolicy", "Always");
	expect_str(o, "spec.containers[1].imagePullPolicy", "IfNotPresent");
	expect_str(o, "spec.containers[2].imagePullPolicy", "IfNotPresent");
	expect_str(o, "spec.containers[3].imagePullPolicy", "Always");
	expect_str(o, "spec.containers[4].imagePullPolicy", "Never");
	expect_str(o, "spec.containers[0].terminationMessagePath", "/dev/termination-log");
	expect_str(o, "spec.containers[0].terminationMessagePolicy", "File");
	expect_str(o, "spec.containers[0].ports[0].protocol", "TCP");
	expect_str(o, "spec.containers[0].resources.limits.cpu", "1");
	expect_str(o, "spec.containers[0].resources.limits.memory", "1536Mi");
	expect_str(o, "spec.containers[0].resources.requests.cpu", "1");
	expect_num(o, "spec.containers[0].livenessProbe.timeoutSeconds", 1);
	expect_num(o, "spec.containers[0].livenessProbe.periodSeconds", 10);
	expect_num(o, "spec.containers[0].livenessProbe.successThreshold", 1);
	expect_num(o, "spec.containers[0].livenessProbe.failureThreshold", 3);
	expect_str(o, "spec.containers[0].livenessProbe.httpGet.scheme", "HTTP");
	expect_str(o, "spec.containers[0].livenessProbe.httpGet.path", "/");
	assert_true(cJSON_IsObject(kc_json_get(o, "spec.containers[1].resources")));
	expect_num(o, "spec.volumes[0].secret.defaultMode", 420);

	kinds_prepare_create(&r, o);
	expect_str(o, "status.phase", "Pending");
	expect_str(o, "status.qosClass", "Burstable");
	expect_num(o, "metadata.generation", 1);
	cJSON_Delete(o);
}

static void test_pod_validation(void **state)
{
	struct api_resource r = res("", "Pod", "pods", true, true);
	struct api_error e;
	valid(&r, "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}}",
	      NULL);

	assert_true(validate(&r, "{" POD_META ",\"spec\":{}}", NULL, &e) > 0);
	has_cause(&e, "spec.containers", "Required value");

	validate(
		&r,
		"{\"metadata\":{\"name\":\"Web\",\"namespace\":\"default\"},\"spec\":{"
		"\"restartPolicy\":\"Sometimes\",\"containers\":["
		"{\"name\":\"a\",\"image\":\"x\",\"ports\":[{\"containerPort\":70000,"
		"\"name\":\"this-name-is-too-long\"}],"
		"\"volumeMounts\":[{\"name\":\"nope\",\"mountPath\":\"/x\"}],"
		"\"resources\":{\"requests\":{\"cpu\":\"2\"},\"limits\":{\"cpu\":\"1\"}},"
		"\"readinessProbe\":{\"exec\":{\"command\":[\"true\"]},\"tcpSocket\":{\"port\":1}}},"
		"{\"name\":\"a\",\"env\":[{\"name\":\"1BAD\",\"value\":\"x\"}]}]}}",
		NULL, &e);
	has_cause(&e, "metadata.name",
		  "Invalid value: \"Web\": a lowercase RFC 1123 subdomain must consist of");
	has_cause(&e, "spec.restartPolicy",
		  "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", "
		  "\"Never\"");
	has_cause(&e, "spec.containers[0].ports[0].containerPort",
		  "Invalid value: 70000: must be between 1 and 65535, inclusive");
	has_cause(&e, "spec.containers[0].ports[0].name",
		  "Invalid value: \"this-name-is-too-long\": must be no more than 15 characters");
	has_cause(&e, "spec.containers[0].volumeMounts[0].name", "Not found: \"nope\"");
	has_cause(&e, "spec.containers[0].resources.requests[cpu]",
		  "Invalid value: \"2\": must be less than or equal to cpu limit of 1");
	has_cause(&e, "spec.containers[0].readinessProbe.tcpSocket",
		  "Forbidden: may not specify more than 1 handler type");
	has_cause(&e, "spec.containers[1].name", "Duplicate value: \"a\"");
	has_cause(&e, "spec.containers[1].image", "Required value");

	/* the env message is long: the cause keeps its start */
	validate(&r,
		 "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\","
		 "\"env\":[{\"name\":\"1BAD\"}]}]}}",
		 NULL, &e);
	has_cause(&e, "spec.containers[0].env[0].name",
		  "Invalid value: \"1BAD\": a valid environment variable name must consist of");
	assert_int_equal(e.causes[0].reason[0], 'F');
	assert_string_equal(e.causes[0].reason, "FieldValueInvalid");

	validate(&r,
		 "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"containers\":[{\"name\":\"a\","
		 "\"image\":\"x\"}]}}",
		 NULL, &e);
	has_cause(&e, "metadata.namespace", "Required value");

	validate(&r,
		 "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\",\"labels\":{\"a b\":\"c\"},"
		 "\"annotations\":{\"x\":1}},\"spec\":{\"containers\":[{\"name\":\"a\","
		 "\"image\":\"x\"}]}}",
		 NULL, &e);
	has_cause(&e, "metadata.labels", "Invalid value: \"a b\": name part must consist of");
}

static void test_pod_update(void **state)
{
	struct api_resource r = res("", "Pod", "pods", true, true);
	struct api_error e;
	const char *old =
		"{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x:1\"}],"
		"\"activeDeadlineSeconds\":100}}";
	valid(&r,
	      "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x:2\"}],"
	      "\"activeDeadlineSeconds\":50,\"tolerations\":[{\"operator\":\"Exists\"}]}}",
	      old);
	validate(&r,
		 "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x:1\","
		 "\"command\":[\"sh\"]}],\"activeDeadlineSeconds\":100}}",
		 old, &e);
	has_cause(&e, "spec", "Forbidden: pod updates may not change fields other than");
	validate(&r,
		 "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x:1\"}],"
		 "\"activeDeadlineSeconds\":200}}",
		 old, &e);
	has_cause(&e, "spec.activeDeadlineSeconds",
		  "Invalid value: 200: must be less than or equal to previous value");
	validate(
		&r,
		"{\"metadata\":{\"name\":\"other\",\"namespace\":\"default\"},\"spec\":{"
		"\"containers\":[{\"name\":\"a\",\"image\":\"x:1\"}],\"activeDeadlineSeconds\":100}}",
		old, &e);
	has_cause(&e, "metadata.name", "Invalid value: \"other\": field is immutable");
}

static void test_service(void **state)
{
	struct api_resource r = res("", "Service", "services", true, true);
	struct api_error e;
	cJSON *o = json("{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{"
			"\"clusterIP\":\"10.43.0.5\",\"ports\":[{\"port\":80}],"
			"\"selector\":{\"app\":\"web\"}}}");
	kinds_default(&r, o);
	expect_str(o, "spec.type", "ClusterIP");
	expect_str(o, "spec.sessionAffinity", "None");
	expect_str(o, "spec.ports[0].protocol", "TCP");
	expect_num(o, "spec.ports[0].targetPort", 80);
	expect_str(o, "spec.internalTrafficPolicy", "Cluster");
	expect_str(o, "spec.ipFamilyPolicy", "SingleStack");
	expect_str(o, "spec.ipFamilies[0]", "IPv4");
	expect_str(o, "spec.clusterIPs[0]", "10.43.0.5");
	kinds_prepare_create(&r, o);
	assert_true(cJSON_IsObject(kc_json_get(o, "status.loadBalancer")));
	cJSON_Delete(o);

	valid(&r,
	      "{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{\"type\":\"NodePort\","
	      "\"ports\":[{\"port\":80,\"nodePort\":30080}]}}",
	      NULL);
	validate(
		&r,
		"{\"metadata\":{\"name\":\"1web\",\"namespace\":\"d\"},\"spec\":{\"type\":\"Magic\","
		"\"clusterIP\":\"10.1\",\"ports\":[{\"port\":80,\"name\":\"a\",\"nodePort\":80},"
		"{\"port\":0,\"name\":\"a\",\"protocol\":\"ICMP\"}]}}",
		NULL, &e);
	has_cause(&e, "metadata.name", "Invalid value: \"1web\": a DNS-1035 label must consist of");
	has_cause(&e, "spec.type",
		  "Unsupported value: \"Magic\": supported values: \"ClusterIP\", "
		  "\"ExternalName\", \"LoadBalancer\", \"NodePort\"");
	has_cause(&e, "spec.clusterIPs[0]", "Invalid value: \"10.1\": must be a valid IP address");
	has_cause(&e, "spec.ports[1].name", "Duplicate value: \"a\"");
	has_cause(&e, "spec.ports[1].port", "Invalid value: 0: must be between 1 and 65535");
	has_cause(&e, "spec.ports[1].protocol",
		  "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
	validate(
		&r,
		"{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{\"type\":\"NodePort\","
		"\"ports\":[{\"port\":80,\"nodePort\":80}]}}",
		NULL, &e);
	has_cause(&e, "spec.ports[0].nodePort",
		  "Invalid value: 80: provided port is not in the valid range. The range of valid "
		  "ports is 30000-32767");
	validate(&r, "{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{}}", NULL, &e);
	has_cause(&e, "spec.ports", "Required value");

	/* clusterIP: immutable once set; a PUT without it keeps the allocated one */
	const char *old = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{"
			  "\"clusterIP\":\"10.43.0.5\",\"ports\":[{\"port\":80}]}}";
	validate(&r,
		 "{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{"
		 "\"clusterIP\":\"10.43.0.6\",\"ports\":[{\"port\":80}]}}",
		 old, &e);
	has_cause(&e, "spec.clusterIPs[0]",
		  "Invalid value: \"10.43.0.6\": may not change once set");
	cJSON *n =
		json("{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{\"ports\":[{"
		     "\"port\":81}]}}");
	cJSON *oj = json(old);
	kinds_default(&r, oj);
	kinds_prepare_update(&r, NULL, n, oj);
	kinds_default(&r, n);
	expect_str(n, "spec.clusterIP", "10.43.0.5");
	memset(&e, 0, sizeof e);
	assert_int_equal(kinds_validate(&r, n, oj, &e), 0);
	cJSON_Delete(n);
	cJSON_Delete(oj);
}

#define DEPLOY(sel, labels, extra)                                                                 \
	"{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{\"selector\":" sel ","     \
	"\"template\":{\"metadata\":{\"labels\":" labels "},\"spec\":{\"containers\":[{\"name\":"  \
	"\"a\",\"image\":\"nginx\"}]" extra "}}}}"

static void test_deployment(void **state)
{
	struct api_resource r = res("apps", "Deployment", "deployments", true, true);
	struct api_error e;
	cJSON *o = json(DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\"}", ""));
	kinds_default(&r, o);
	expect_num(o, "spec.replicas", 1);
	expect_str(o, "spec.strategy.type", "RollingUpdate");
	expect_str(o, "spec.strategy.rollingUpdate.maxUnavailable", "25%");
	expect_str(o, "spec.strategy.rollingUpdate.maxSurge", "25%");
	expect_num(o, "spec.revisionHistoryLimit", 10);
	expect_num(o, "spec.progressDeadlineSeconds", 600);
	expect_str(o, "spec.template.spec.restartPolicy", "Always");
	expect_str(o, "spec.template.spec.containers[0].imagePullPolicy", "Always");
	cJSON_AddItemToObject(o, "status", kc_json_new_str("junk"));
	kinds_prepare_create(&r, o);
	assert_true(cJSON_IsObject(kc_json_get(o, "status")));
	assert_int_equal(cJSON_GetArraySize(kc_json_get(o, "status")), 0);
	cJSON_Delete(o);

	valid(&r,
	      DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\",\"x\":\"y\"}", ""),
	      NULL);
	validate(&r, DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"db\"}", ""), NULL,
		 &e);
	has_cause(&e, "spec.template.metadata.labels",
		  "Invalid value: map[string]string{\"app\":\"db\"}: `selector` does not match "
		  "template `labels`");
	validate(&r, DEPLOY("{}", "{\"app\":\"db\"}", ""), NULL, &e);
	has_cause(&e, "spec.selector",
		  "Invalid value: \"{}\": empty selector is invalid for deployment");
	validate(&r,
		 DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\"}",
			",\"restartPolicy\":\"Never\""),
		 NULL, &e);
	has_cause(&e, "spec.template.spec.restartPolicy",
		  "Unsupported value: \"Never\": supported values: \"Always\"");
	validate(&r,
		 DEPLOY("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\"}]}",
			"{\"app\":\"web\"}", ""),
		 NULL, &e);
	has_cause(&e, "spec.selector.matchExpressions[0].values",
		  "Required value: must be specified when `operator` is 'In' or 'NotIn'");
	validate(&r, DEPLOY("{\"matchLabels\":{\"app\":\"x\"}}", "{\"app\":\"x\"}", ""),
		 DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\"}", ""), &e);
	has_cause(&e, "spec.selector",
		  "Invalid value: {\"matchLabels\":{\"app\":\"x\"}}: field is "
		  "immutable");

	/* the pod template validation is shared: statefulsets, daemonsets, jobs */
	struct api_resource sts = res("apps", "StatefulSet", "statefulsets", true, true);
	o = json(DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\"}", ""));
	kinds_default(&sts, o);
	expect_str(o, "spec.podManagementPolicy", "OrderedReady");
	expect_str(o, "spec.updateStrategy.type", "RollingUpdate");
	expect_num(o, "spec.updateStrategy.rollingUpdate.partition", 0);
	cJSON_Delete(o);
	struct api_resource ds = res("apps", "DaemonSet", "daemonsets", true, true);
	o = json(DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\"}", ""));
	kinds_default(&ds, o);
	expect_num(o, "spec.updateStrategy.rollingUpdate.maxUnavailable", 1);
	cJSON_Delete(o);
	validate(&ds,
		 DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\"}",
			",\"initContainers\":[{\"name\":\"a\"}]"),
		 NULL, &e);
	has_cause(&e, "spec.template.spec.initContainers[0].image", "Required value");
	has_cause(&e, "spec.template.spec.containers[0].name", "Duplicate value: \"a\"");
	struct api_resource job = res("batch", "Job", "jobs", true, true);
	validate(&job, DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\"}", ""), NULL,
		 &e);
	has_cause(&e, "spec.template.spec.restartPolicy",
		  "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"");
	valid(&job,
	      DEPLOY("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\"}",
		     ",\"restartPolicy\":\"Never\""),
	      NULL);
	struct api_resource rc =
		res("", "ReplicationController", "replicationcontrollers", true, true);
	o = json(
		"{\"metadata\":{\"name\":\"r\",\"namespace\":\"d\"},\"spec\":{\"template\":{"
		"\"metadata\":{\"labels\":{\"app\":\"r\"}},\"spec\":{\"containers\":[{\"name\":\"a\","
		"\"image\":\"x\"}]}}}}");
	kinds_default(&rc, o);
	expect_str(o, "spec.selector.app", "r");
	expect_str(o, "metadata.labels.app", "r");
	memset(&e, 0, sizeof e);
	assert_int_equal(kinds_validate(&rc, o, NULL, &e), 0);
	cJSON_Delete(o);
}

static void test_namespace_secret_configmap(void **state)
{
	struct api_resource ns = res("", "Namespace", "namespaces", false, true);
	struct api_error e;
	cJSON *o = json("{\"metadata\":{\"name\":\"dev\"}}");
	kinds_default(&ns, o);
	expect_str(o, "spec.finalizers[0]", "kubernetes");
	expect_str(o, "status.phase", "Active");
	expect_str(o, "metadata.labels[kubernetes.io/metadata.name]", "dev");
	cJSON_Delete(o);
	validate(&ns, "{\"metadata\":{\"name\":\"a.b\"}}", NULL, &e);
	has_cause(&e, "metadata.name", "Invalid value: \"a.b\": must not contain dots");
	validate(&ns, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"}}", NULL, &e);
	has_cause(&e, "metadata.namespace", "Forbidden: not allowed on this type");

	struct api_resource sec = res("", "Secret", "secrets", true, false);
	o = json(
		"{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"stringData\":{\"k\":\"hi\"}}");
	kinds_default(&sec, o);
	expect_str(o, "type", "Opaque");
	expect_str(o, "data.k", "aGk=");
	assert_null(kc_json_get(o, "stringData"));
	cJSON_Delete(o);
	validate(&sec,
		 "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"type\":"
		 "\"kubernetes.io/tls\",\"data\":{\"bad key\":\"\"}}",
		 NULL, &e);
	has_cause(&e, "data[bad key]",
		  "Invalid value: \"bad key\": a valid config key must consist");
	has_cause(&e, "data[tls.crt]", "Required value");
	validate(&sec, "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"type\":\"Other\"}",
		 "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"}}", &e);
	has_cause(&e, "type", "Invalid value: \"Other\": field is immutable");

	struct api_resource cm = res("", "ConfigMap", "configmaps", true, false);
	valid(&cm,
	      "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"data\":{\"a.b-c_D\":\"x\"}}",
	      NULL);
	validate(&cm,
		 "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"data\":{\"..x\":\"1\"}}",
		 NULL, &e);
	has_cause(&e, "data[..x]", "Invalid value: \"..x\": must not start with '..'");
	const char *imm = "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"immutable\":true,"
			  "\"data\":{\"a\":\"1\"}}";
	valid(&cm, imm, imm);
	validate(&cm,
		 "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"immutable\":true,"
		 "\"data\":{\"a\":\"2\"}}",
		 imm, &e);
	has_cause(&e, "data", "Forbidden: field is immutable when `immutable` is set");

	struct api_resource pvc =
		res("", "PersistentVolumeClaim", "persistentvolumeclaims", true, true);
	o = json("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{\"accessModes\":["
		 "\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1024Mi\"}}}}");
	kinds_default(&pvc, o);
	expect_str(o, "spec.volumeMode", "Filesystem");
	expect_str(o, "spec.resources.requests.storage", "1Gi");
	cJSON_Delete(o);
	validate(&pvc, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{}}", NULL, &e);
	has_cause(&e, "spec.accessModes", "Required value: at least 1 access mode is required");
	has_cause(&e, "spec.resources[storage]", "Required value");

	struct api_resource role =
		res("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false, false);
	valid(&role, "{\"metadata\":{\"name\":\"system:Admin\"}}", NULL);
	validate(&role, "{\"metadata\":{\"name\":\"a/b\"}}", NULL, &e);
	has_cause(&e, "metadata.name", "Invalid value: \"a/b\": may not contain '/'");
}

static void test_prepare_update(void **state)
{
	struct api_resource r = res("apps", "Deployment", "deployments", true, true);
	cJSON *old =
		json("{\"metadata\":{\"name\":\"w\",\"uid\":\"u1\",\"generation\":3,"
		     "\"creationTimestamp\":\"2024-01-01T00:00:00Z\",\"labels\":{\"a\":\"1\"}},"
		     "\"spec\":{\"replicas\":1},\"status\":{\"replicas\":1}}");
	/* main resource: status kept, spec change bumps generation, server fields restored */
	cJSON *o = json("{\"metadata\":{\"name\":\"w\",\"uid\":\"evil\",\"labels\":{\"a\":\"2\"}},"
			"\"spec\":{\"replicas\":2},\"status\":{\"replicas\":9}}");
	kinds_prepare_update(&r, NULL, o, old);
	expect_str(o, "metadata.uid", "u1");
	expect_str(o, "metadata.creationTimestamp", "2024-01-01T00:00:00Z");
	expect_num(o, "metadata.generation", 4);
	expect_num(o, "status.replicas", 1);
	expect_str(o, "metadata.labels.a", "2");
	cJSON_Delete(o);
	/* metadata-only change: same generation */
	o = json(
		"{\"metadata\":{\"name\":\"w\",\"labels\":{\"a\":\"3\"}},\"spec\":{\"replicas\":1}}");
	kinds_prepare_update(&r, NULL, o, old);
	expect_num(o, "metadata.generation", 3);
	cJSON_Delete(o);
	/* status subresource: only status changes */
	o = json(
		"{\"metadata\":{\"name\":\"w\",\"labels\":{\"a\":\"9\"}},\"spec\":{\"replicas\":7},"
		"\"extra\":1,\"status\":{\"replicas\":5}}");
	kinds_prepare_update(&r, "status", o, old);
	expect_num(o, "spec.replicas", 1);
	expect_num(o, "status.replicas", 5);
	expect_str(o, "metadata.labels.a", "1");
	expect_num(o, "metadata.generation", 3);
	assert_null(kc_json_get(o, "extra"));
	cJSON_Delete(o);
	cJSON_Delete(old);

	/* kinds without spec: data changes bump the generation */
	struct api_resource cm = res("", "ConfigMap", "configmaps", true, false);
	old = json("{\"metadata\":{\"name\":\"c\",\"generation\":1},\"data\":{\"a\":\"1\"}}");
	o = json("{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"2\"}}");
	kinds_prepare_update(&cm, NULL, o, old);
	expect_num(o, "metadata.generation", 2);
	cJSON_Delete(o);
	cJSON_Delete(old);

	/* namespaces keep spec.finalizers */
	struct api_resource ns = res("", "Namespace", "namespaces", false, true);
	old = json("{\"metadata\":{\"name\":\"n\"},\"spec\":{\"finalizers\":[\"kubernetes\"]},"
		   "\"status\":{\"phase\":\"Active\"}}");
	o = json("{\"metadata\":{\"name\":\"n\"},\"spec\":{\"finalizers\":[]}}");
	kinds_prepare_update(&ns, NULL, o, old);
	expect_str(o, "spec.finalizers[0]", "kubernetes");
	expect_str(o, "status.phase", "Active");
	cJSON_Delete(o);
	cJSON_Delete(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_defaults),
		cmocka_unit_test(test_pod_validation),
		cmocka_unit_test(test_pod_update),
		cmocka_unit_test(test_service),
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_namespace_secret_configmap),
		cmocka_unit_test(test_prepare_update),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
