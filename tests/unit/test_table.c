/* Unit tests for roles/apiserver/table: HumanDuration ages, Accept negotiation, the column sets
 * and the cells kube-apiserver's printers compute for each kind, PartialObjectMetadata rows,
 * output validity for hostile strings, and the pods-per-second figure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/json.h"
#include "lib/str.h"
#include "roles/apiserver/table.h"

/* 2025-01-01T00:00:00Z */
#define NOW 1735689600LL

static struct api_resource res(const char *group, const char *plural)
{
	struct api_resource r;
	memset(&r, 0, sizeof r);
	r.group = group;
	r.version = "v1";
	r.plural = plural;
	return r;
}

static cJSON *parse_ok(const char *text, size_t len)
{
	struct kc_err err = {0};
	cJSON *v = NULL;
	if (kc_json_parse(text, len, NULL, &v, &err))
		fail_msg("invalid JSON (%s): %s", err.msg, text);
	return v;
}

/* The row for obj (JSON text) as a parsed tree. */
static cJSON *row_of(const char *group, const char *plural, const char *obj, bool include)
{
	struct api_resource r = res(group, plural);
	cJSON *o = parse_ok(obj, strlen(obj));
	struct kc_str out = KC_STR_INIT;
	table_row_json(&r, o, NOW, include, &out);
	cJSON *row = parse_ok(out.buf, out.len);
	kc_str_free(&out);
	cJSON_Delete(o);
	return row;
}

/* Cell i as text: strings as they are, numbers and booleans as JSON. */
static const char *cell(const cJSON *row, int i, char *buf, size_t cap)
{
	const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(row, "cells"), i);
	if (!c)
		return "<missing>";
	if (cJSON_IsString(c))
		return c->valuestring;
	char *s = kc_json_print(c, NULL);
	snprintf(buf, cap, "%s", s);
	free(s);
	return buf;
}

/* Checks all cells of the row of obj against the NULL-terminated list of expected texts. */
static void check_cells(const char *group, const char *plural, const char *obj, ...)
{
	cJSON *row = row_of(group, plural, obj, true);
	struct api_resource r = res(group, plural);
	struct kc_str cols = KC_STR_INIT;
	table_columns_json(&r, &cols);
	cJSON *cj = parse_ok(cols.buf, cols.len);
	va_list ap;
	va_start(ap, obj);
	int i = 0;
	for (const char *want; (want = va_arg(ap, const char *)); i++) {
		char buf[64];
		const char *got = cell(row, i, buf, sizeof buf);
		if (strcmp(got, want) != 0)
			fail_msg(
				"%s cell %d (%s): got \"%s\", want \"%s\"", plural, i,
				cJSON_GetObjectItem(cJSON_GetArrayItem(cj, i), "name")->valuestring,
				got, want);
	}
	va_end(ap);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(row, "cells")), i);
	assert_int_equal(cJSON_GetArraySize(cj), i);
	cJSON_Delete(cj);
	kc_str_free(&cols);
	cJSON_Delete(row);
}

/* ------------------------------------------------------------------------------------------ */

static void test_age(void **state)
{
	static const struct {
		int64_t d;
		const char *want;
	} cases[] = {
		{-3, "<invalid>"},
		{-2, "<invalid>"},
		{-1, "0s"},
		{0, "0s"},
		{59, "59s"},
		{119, "119s"},
		{120, "2m"},
		{330, "5m30s"},
		{599, "9m59s"},
		{600, "10m"},
		{179 * 60 + 59, "179m"},
		{3 * 3600, "3h"},
		{3 * 3600 + 12 * 60 + 5, "3h12m"},
		{7 * 3600 + 59 * 60, "7h59m"},
		{8 * 3600 + 30 * 60, "8h"},
		{47 * 3600, "47h"},
		{48 * 3600, "2d"},
		{51 * 3600, "2d3h"},
		{8 * 86400 - 1, "7d23h"},
		{8 * 86400, "8d"},
		{400 * 86400, "400d"},
		{730 * 86400, "2y"},
		{830 * 86400, "2y100d"},
		{8 * 365 * 86400, "8y"},
		{9223372036LL, "292y"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[32];
		table_age(cases[i].d, buf, sizeof buf);
		if (strcmp(buf, cases[i].want))
			fail_msg("age %lld: got %s want %s", (long long)cases[i].d, buf,
				 cases[i].want);
	}
}

static void test_wanted(void **state)
{
	assert_true(table_wanted("application/json;as=Table;v=v1;g=meta.k8s.io,"
				 "application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
				 "application/json"));
	assert_true(table_wanted("application/json;g=meta.k8s.io;as=Table;v=v1beta1"));
	assert_true(table_wanted(" application/json ; as=\"Table\" ; v=v1 ; g=meta.k8s.io "));
	assert_true(table_wanted("APPLICATION/JSON;as=Table;v=v1;g=meta.k8s.io"));
	assert_false(table_wanted(NULL));
	assert_false(table_wanted(""));
	assert_false(table_wanted("application/json"));
	assert_false(table_wanted("*/*"));
	assert_false(table_wanted("application/json;as=Table;v=v2;g=meta.k8s.io"));
	assert_false(table_wanted("application/json;as=Table;v=v1;g=other"));
	assert_false(table_wanted("application/json;as=Table;v=v1"));
	assert_false(table_wanted("text/plain;as=Table;v=v1;g=meta.k8s.io"));
	/* q-values: plain JSON preferred */
	assert_false(table_wanted("application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5,"
				  "application/json"));
	assert_true(table_wanted("application/json;q=0.9,"
				 "application/json;as=Table;v=v1;g=meta.k8s.io"));
	assert_false(table_wanted("application/json;as=Table;v=v1;g=meta.k8s.io;q=0"));
	/* equal q: the first wins */
	assert_false(table_wanted("application/json,application/json;as=Table;v=v1;g=meta.k8s.io"));
	assert_false(table_wanted(",,;;==\"\\"));
	assert_false(table_wanted("application/json;as=\"Tab"));
}

static void test_columns(void **state)
{
	struct api_resource r = res("", "pods");
	struct kc_str out = KC_STR_INIT;
	table_columns_json(&r, &out);
	cJSON *c = parse_ok(out.buf, out.len);
	static const char *const names[] = {
		"Name", "Ready", "Status",	   "Restarts",	     "Age",
		"IP",	"Node",	 "Nominated Node", "Readiness Gates"};
	assert_int_equal(cJSON_GetArraySize(c), 9);
	for (int i = 0; i < 9; i++) {
		const cJSON *col = cJSON_GetArrayItem(c, i);
		assert_string_equal(kc_json_get_str(col, "name"), names[i]);
		assert_string_equal(kc_json_get_str(col, "type"), "string");
		assert_string_equal(kc_json_get_str(col, "format"), i == 0 ? "name" : "");
		assert_non_null(kc_json_get_str(col, "description"));
		long long prio;
		assert_int_equal(kc_json_get_i64(col, "priority", &prio), 0);
		assert_int_equal(prio, i >= 5);
	}
	assert_true(kc_has_prefix(kc_json_get_str(cJSON_GetArrayItem(c, 0), "description"),
				  "Name must be unique within a namespace."));
	assert_true(kc_has_prefix(kc_json_get_str(cJSON_GetArrayItem(c, 4), "description"),
				  "CreationTimestamp is a timestamp"));
	cJSON_Delete(c);

	/* unknown resources: Name, Age */
	kc_str_reset(&out);
	r = res("example.com", "widgets");
	table_columns_json(&r, &out);
	assert_string_equal(out.buf,
			    "[{\"name\":\"Name\",\"type\":\"string\",\"format\":\"name\","
			    "\"description\":\"Name must be unique within a namespace. Is "
			    "required when creating resources, although some resources "
			    "may allow a client to request the generation of an "
			    "appropriate name automatically. Name is primarily intended "
			    "for creation idempotence and configuration definition. Cannot "
			    "be updated. More info: https://kubernetes.io/docs/concepts/"
			    "overview/working-with-objects/names#names\",\"priority\":0},"
			    "{\"name\":\"Age\",\"type\":\"string\",\"format\":\"\","
			    "\"description\":\"CreationTimestamp is a timestamp "
			    "representing the server time when this object was created. It "
			    "is not guaranteed to be set in happens-before order across "
			    "separate operations. Clients may not set this value. It is "
			    "represented in RFC3339 form and is in UTC.\\n\\nPopulated by "
			    "the system. Read-only. Null for lists. More info: "
			    "https://git.k8s.io/community/contributors/devel/"
			    "sig-architecture/api-conventions.md#metadata\",\"priority\":0}]");

	/* every known printer gives valid JSON with unique names and a name column */
	static const char *const known[][2] = {
		{"", "nodes"},
		{"", "services"},
		{"", "events"},
		{"apps", "deployments"},
		{"batch", "cronjobs"},
		{"rbac.authorization.k8s.io", "roles"},
		{"", "persistentvolumes"},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		kc_str_reset(&out);
		r = res(known[i][0], known[i][1]);
		table_columns_json(&r, &out);
		c = parse_ok(out.buf, out.len);
		int names_fmt = 0;
		for (const cJSON *col = c->child; col; col = col->next)
			names_fmt += !strcmp(kc_json_get_str(col, "format"), "name");
		assert_int_equal(names_fmt, 1);
		cJSON_Delete(c);
	}
	kc_str_free(&out);
}

/* ------------------------------------------------------------------------------------------ */

#define META(name)                                                                                 \
	"\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\","                           \
	"\"creationTimestamp\":\"2024-12-31T23:55:00Z\"}"

static void test_pod_running(void **state)
{
	check_cells(
		"", "pods",
		"{" META(
			"web") ",\"spec\":{\"nodeName\":\"node1\",\"containers\":[{\"name\":"
			       "\"a\"}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.42.0.5\","
			       "\"podIPs\":[{\"ip\":\"10.42.0.5\"}],\"conditions\":[{\"type\":\"Ready\","
			       "\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,"
			       "\"restartCount\":0,\"state\":{\"running\":{\"startedAt\":"
			       "\"2024-12-31T23:55:03Z\"}}}]}}",
		"web", "1/1", "Running", "0", "5m", "10.42.0.5", "node1", "<none>", "<none>", NULL);
	/* podIP only (conversion fills podIPs), no node, pending */
	check_cells("", "pods",
		    "{" META("p") ",\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
				  "\"status\":{\"phase\":\"Pending\"}}",
		    "p", "0/2", "Pending", "0", "5m", "<none>", "<none>", "<none>", "<none>", NULL);
	check_cells(
		"", "pods",
		"{" META(
			"p") ",\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
			     "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.9\",\"nominatedNodeName\":"
			     "\"n2\"}}",
		"p", "0/1", "Running", "0", "5m", "10.0.0.9", "<none>", "n2", "<none>", NULL);
}

static void test_pod_restarts(void **state)
{
	/* CrashLoopBackOff, 3 restarts, the last one finished 5 minutes ago */
	check_cells(
		"", "pods",
		"{" META(
			"crash") ",\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
				 "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
				 "{\"name\":\"a\",\"ready\":false,\"restartCount\":3,\"state\":{\"waiting\":"
				 "{\"reason\":\"CrashLoopBackOff\"}},\"lastState\":{\"terminated\":{\"exitCode\":1,"
				 "\"reason\":\"Error\",\"finishedAt\":\"2024-12-31T23:55:00Z\"}}},"
				 "{\"name\":\"b\",\"ready\":true,\"restartCount\":1,\"state\":{\"running\":{}},"
				 "\"lastState\":{\"terminated\":{\"exitCode\":1,\"finishedAt\":"
				 "\"2024-12-31T23:00:00Z\"}}}]}}",
		"crash", "1/2", "CrashLoopBackOff", "4 (5m ago)", "5m", "<none>", "<none>",
		"<none>", "<none>", NULL);
	/* restarts without a known time */
	check_cells(
		"", "pods",
		"{" META(
			"r") ",\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
			     "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\","
			     "\"ready\":true,\"restartCount\":2,\"state\":{\"running\":{}}}]}}",
		"r", "1/1", "Running", "2", "5m", "<none>", "<none>", "<none>", "<none>", NULL);
}

static void test_pod_status(void **state)
{
	char obj[2048];
	struct {
		const char *status;
		const char *spec_extra;
		const char *meta_extra;
		const char *ready, *want;
	} cases[] = {
		/* init containers */
		{"\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":"
		 "{\"waiting\":{\"reason\":\"PodInitializing\"}}}]",
		 ",\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}]", "", "0/1",
		 "Init:0/2"},
		{"\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":"
		 "{\"terminated\":{\"exitCode\":0}}},{\"name\":\"i2\",\"state\":{\"running\":{}}}]",
		 ",\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}]", "", "0/1",
		 "Init:1/2"},
		{"\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":"
		 "{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]",
		 ",\"initContainers\":[{\"name\":\"i1\"}]", "", "0/1", "Init:CrashLoopBackOff"},
		{"\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":"
		 "{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}}]",
		 ",\"initContainers\":[{\"name\":\"i1\"}]", "", "0/1", "Init:Error"},
		{"\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":"
		 "{\"terminated\":{\"exitCode\":2}}}]",
		 ",\"initContainers\":[{\"name\":\"i1\"}]", "", "0/1", "Init:ExitCode:2"},
		{"\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":"
		 "{\"terminated\":{\"exitCode\":137,\"signal\":9}}}]",
		 ",\"initContainers\":[{\"name\":\"i1\"}]", "", "0/1", "Init:Signal:9"},
		/* a started sidecar counts as a container and lets the others go on */
		{"\"phase\":\"Running\",\"conditions\":[{\"type\":\"Initialized\",\"status\":"
		 "\"True\"}],\"initContainerStatuses\":[{\"name\":\"side\",\"started\":true,"
		 "\"ready\":true,\"state\":{\"running\":{}}}],\"containerStatuses\":[{\"name\":"
		 "\"a\",\"ready\":true,\"state\":{\"running\":{}}}]",
		 ",\"initContainers\":[{\"name\":\"side\",\"restartPolicy\":\"Always\"}]", "",
		 "2/2", "Running"},
		/* containers */
		{"\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"a\",\"state\":"
		 "{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]",
		 "", "", "0/1", "ContainerCreating"},
		{"\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"a\",\"state\":"
		 "{\"waiting\":{\"reason\":\"ErrImagePull\"}}}]",
		 "", "", "0/1", "ErrImagePull"},
		{"\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":\"a\",\"state\":"
		 "{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]",
		 "", "", "0/1", "Completed"},
		{"\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"a\",\"state\":"
		 "{\"terminated\":{\"exitCode\":3}}}]",
		 "", "", "0/1", "ExitCode:3"},
		{"\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"a\",\"state\":"
		 "{\"terminated\":{\"exitCode\":0,\"signal\":15}}}]",
		 "", "", "0/1", "Signal:15"},
		{"\"phase\":\"Failed\",\"reason\":\"Evicted\"", "", "", "0/1", "Evicted"},
		/* the first container's reason wins */
		{"\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\",\"state\":"
		 "{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}},{\"name\":\"b\",\"state\":"
		 "{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}}]",
		 ",\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]", "", "0/2",
		 "CrashLoopBackOff"},
		/* a completed container beside a running one */
		{"\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
		 "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0,"
		 "\"reason\":\"Completed\"}}},{\"name\":\"b\",\"ready\":true,\"state\":"
		 "{\"running\":{}}}]",
		 ",\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]", "", "1/2", "Running"},
		{"\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\",\"state\":"
		 "{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},{\"name\":\"b\","
		 "\"ready\":true,\"state\":{\"running\":{}}}]",
		 ",\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]", "", "1/2", "NotReady"},
		/* deletion */
		{"\"phase\":\"Running\"", "", ",\"deletionTimestamp\":\"2025-01-01T00:00:00Z\"",
		 "0/1", "Terminating"},
		{"\"phase\":\"Succeeded\"", "", ",\"deletionTimestamp\":\"2025-01-01T00:00:00Z\"",
		 "0/1", "Succeeded"},
		{"\"phase\":\"Running\",\"reason\":\"NodeLost\"", "",
		 ",\"deletionTimestamp\":\"2025-01-01T00:00:00Z\"", "0/1", "Unknown"},
		/* scheduling gates */
		{"\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":"
		 "\"False\",\"reason\":\"SchedulingGated\"}]",
		 "", "", "0/1", "SchedulingGated"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *containers = strstr(cases[i].spec_extra, "\"containers\"")
						 ? ""
						 : "\"containers\":[{\"name\":\"a\"}]";
		snprintf(obj, sizeof obj,
			 "{\"metadata\":{\"name\":\"p\",\"creationTimestamp\":"
			 "\"2024-12-31T23:55:00Z\"%s},\"spec\":{%s%s},\"status\":{%s}}",
			 cases[i].meta_extra, containers,
			 *containers ? cases[i].spec_extra
				     : cases[i].spec_extra + 1 /* drop the comma */,
			 cases[i].status);
		cJSON *row = row_of("", "pods", obj, false);
		char b[64];
		const char *ready = cell(row, 1, b, sizeof b);
		const char *status = cell(row, 2, b, sizeof b);
		if (strcmp(status, cases[i].want) ||
		    strcmp(cell(row, 1, b, sizeof b), cases[i].ready))
			fail_msg("case %zu: got %s %s, want %s %s", i, ready, status,
				 cases[i].ready, cases[i].want);
		/* Succeeded and Failed pods carry the Completed row condition */
		const cJSON *conds = cJSON_GetObjectItem(row, "conditions");
		assert_int_equal(conds != NULL, strstr(cases[i].status, "Succeeded") ||
							strstr(cases[i].status, "Failed"));
		assert_null(cJSON_GetObjectItem(row, "object"));
		cJSON_Delete(row);
	}
}

static void test_pod_readiness_gates(void **state)
{
	check_cells(
		"", "pods",
		"{" META(
			"g") ",\"spec\":{\"containers\":[{\"name\":\"a\"}],\"readinessGates\":"
			     "[{\"conditionType\":\"x/one\"},{\"conditionType\":\"x/two\"}]},\"status\":"
			     "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"x/one\",\"status\":\"True\"},"
			     "{\"type\":\"x/two\",\"status\":\"False\"}]}}",
		"g", "0/1", "Running", "0", "5m", "<none>", "<none>", "<none>", "1/2", NULL);
}

static void test_partial_metadata(void **state)
{
	cJSON *row =
		row_of("", "configmaps",
		       "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"c\","
		       "\"namespace\":\"ns\",\"uid\":\"u1\",\"resourceVersion\":\"7\",\"labels\":"
		       "{\"a\":\"b\"},\"managedFields\":[{\"manager\":\"kubectl\"}],"
		       "\"creationTimestamp\":\"2024-12-31T23:59:58Z\"},\"data\":{\"k\":\"v\","
		       "\"k2\":\"v\"},\"binaryData\":{\"b\":\"AA==\"}}",
		       true);
	const cJSON *obj = cJSON_GetObjectItem(row, "object");
	assert_string_equal(kc_json_get_str(obj, "kind"), "PartialObjectMetadata");
	assert_string_equal(kc_json_get_str(obj, "apiVersion"), "meta.k8s.io/v1");
	assert_string_equal(kc_json_get_str(obj, "metadata.name"), "c");
	assert_string_equal(kc_json_get_str(obj, "metadata.namespace"), "ns");
	assert_string_equal(kc_json_get_str(obj, "metadata.uid"), "u1");
	assert_string_equal(kc_json_get_str(obj, "metadata.labels.a"), "b");
	assert_null(kc_json_get(obj, "metadata.managedFields"));
	assert_null(kc_json_get(obj, "data"));
	char b[64];
	assert_string_equal(cell(row, 1, b, sizeof b), "3");
	assert_string_equal(cell(row, 2, b, sizeof b), "2s");
	cJSON_Delete(row);
}

static void test_nodes(void **state)
{
	check_cells(
		"", "nodes",
		"{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2024-12-29T00:00:00Z\","
		"\"labels\":{\"node-role.kubernetes.io/master\":\"\",\"kubernetes.io/hostname\":"
		"\"n1\",\"node-role.kubernetes.io/control-plane\":\"\",\"node-role.kubernetes.io/"
		"\":\"\",\"kubernetes.io/role\":\"master\"}},\"spec\":{\"unschedulable\":true},"
		"\"status\":{\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"False\"},"
		"{\"type\":\"Ready\",\"status\":\"True\"}],\"addresses\":[{\"type\":\"Hostname\","
		"\"address\":\"n1\"},{\"type\":\"InternalIP\",\"address\":\"10.0.0.1\"}],"
		"\"nodeInfo\":{\"kubeletVersion\":\"v1.32.0\",\"osImage\":\"Debian\","
		"\"kernelVersion\":\"6.1.0\",\"containerRuntimeVersion\":\"kc://0.1\"}}}",
		"n1", "Ready,SchedulingDisabled", "control-plane,master", "3d", "v1.32.0",
		"10.0.0.1", "<none>", "Debian", "6.1.0", "kc://0.1", NULL);
	check_cells(
		"", "nodes",
		"{\"metadata\":{\"name\":\"n2\",\"creationTimestamp\":\"2024-12-31T20:00:00Z\"},"
		"\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}],"
		"\"addresses\":[{\"type\":\"ExternalIP\",\"address\":\"1.2.3.4\"}]}}",
		"n2", "NotReady", "<none>", "4h", "", "<none>", "1.2.3.4", "<unknown>", "<unknown>",
		"<unknown>", NULL);
	check_cells("", "nodes", "{\"metadata\":{\"name\":\"n3\"}}", "n3", "Unknown", "<none>",
		    "<unknown>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>",
		    NULL);
}

static void test_services(void **state)
{
	check_cells(
		"", "services",
		"{" META(
			"web") ",\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.43.0.10\","
			       "\"clusterIPs\":[\"10.43.0.10\"],\"ports\":[{\"port\":80,\"protocol\":\"TCP\"},"
			       "{\"port\":53,\"protocol\":\"UDP\"}],\"selector\":{\"tier\":\"fe\",\"app\":"
			       "\"web\"}}}",
		"web", "ClusterIP", "10.43.0.10", "<none>", "80/TCP,53/UDP", "5m",
		"app=web,tier=fe", NULL);
	check_cells(
		"", "services",
		"{" META(
			"np") ",\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.43.0.11\","
			      "\"externalIPs\":[\"1.1.1.1\",\"2.2.2.2\"],\"ports\":[{\"port\":80,\"nodePort\":"
			      "30080,\"protocol\":\"TCP\"},{\"port\":443,\"nodePort\":30443}]}}",
		"np", "NodePort", "10.43.0.11", "1.1.1.1,2.2.2.2", "80:30080/TCP,443:30443/TCP",
		"5m", "<none>", NULL);
	check_cells(
		"", "services",
		"{" META(
			"lb") ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIPs\":["
			      "\"10.43.0.12\"],\"ports\":[{\"port\":80,\"nodePort\":31000,\"protocol\":"
			      "\"TCP\"}]}}",
		"lb", "LoadBalancer", "10.43.0.12", "<pending>", "80:31000/TCP", "5m", "<none>",
		NULL);
	check_cells(
		"", "services",
		"{" META(
			"lb2") ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIPs\":["
			       "\"10.43.0.12\"],\"externalIPs\":[\"9.9.9.9\"]},\"status\":{\"loadBalancer\":"
			       "{\"ingress\":[{\"ip\":\"5.5.5.5\"},{\"hostname\":\"lb.example.com\"},{\"ip\":"
			       "\"5.5.5.5\"}]}}}",
		"lb2", "LoadBalancer", "10.43.0.12", "5.5.5.5,lb.example.com,9.9.9.9", "<none>",
		"5m", "<none>", NULL);
	check_cells("", "services",
		    "{" META("ext") ",\"spec\":{\"type\":\"ExternalName\",\"externalName\":"
				    "\"db.example.com\"}}",
		    "ext", "ExternalName", "<none>", "db.example.com", "<none>", "5m", "<none>",
		    NULL);
	check_cells("", "services",
		    "{" META("hl") ",\"spec\":{\"clusterIP\":\"None\",\"clusterIPs\":[\"None\"]}}",
		    "hl", "ClusterIP", "None", "<none>", "<none>", "5m", "<none>", NULL);
}

static void test_endpoints(void **state)
{
	check_cells(
		"", "endpoints",
		"{" META(
			"web") ",\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"},{\"ip\":"
			       "\"10.0.0.2\"}],\"ports\":[{\"port\":80},{\"port\":443}]},{\"addresses\":[{\"ip\":"
			       "\"fd00::1\"}],\"ports\":[{\"port\":8080}]}]}",
		"web", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...", "5m", NULL);
	check_cells("", "endpoints",
		    "{" META("v6") ",\"subsets\":[{\"addresses\":[{\"ip\":\"fd00::1\"}],\"ports\":"
				   "[{\"port\":8080}]}]}",
		    "v6", "[fd00::1]:8080", "5m", NULL);
	check_cells("", "endpoints",
		    "{" META("hl") ",\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"},{\"ip\":"
				   "\"10.0.0.2\"}]}]}",
		    "hl", "10.0.0.1,10.0.0.2", "5m", NULL);
	check_cells("", "endpoints", "{" META("none") "}", "none", "<none>", "5m", NULL);
	check_cells("", "endpoints", "{" META("empty") ",\"subsets\":[{}]}", "empty", "", "5m",
		    NULL);
}

static void test_endpointslices(void **state)
{
	check_cells(
		"discovery.k8s.io", "endpointslices",
		"{" META(
			"web-abc") ",\"addressType\":\"IPv4\",\"ports\":[{\"port\":80,\"name\":"
				   "\"http\"},{\"name\":\"named\"},{},{\"port\":9}],\"endpoints\":[{\"addresses\":["
				   "\"10.0.0.1\"]},{\"addresses\":[\"10.0.0.2\",\"10.0.0.3\"]}]}",
		"web-abc", "IPv4", "80,named,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3", "5m",
		NULL);
	check_cells("discovery.k8s.io", "endpointslices",
		    "{" META("e") ",\"addressType\":\"IPv6\"}", "e", "IPv6", "<unset>", "<unset>",
		    "5m", NULL);
}

static void test_config_and_accounts(void **state)
{
	check_cells("", "secrets",
		    "{" META("s") ",\"type\":\"Opaque\",\"data\":{\"a\":\"YQ==\",\"b\":\"Yg==\"}}",
		    "s", "Opaque", "2", "5m", NULL);
	check_cells("", "serviceaccounts", "{" META("default") ",\"secrets\":[{\"name\":\"tok\"}]}",
		    "default", "1", "5m", NULL);
	check_cells("", "configmaps", "{" META("empty") "}", "empty", "0", "5m", NULL);
	check_cells("", "namespaces",
		    "{\"metadata\":{\"name\":\"default\",\"creationTimestamp\":"
		    "\"2024-12-01T00:00:00Z\"},\"status\":{\"phase\":\"Active\"}}",
		    "default", "Active", "31d", NULL);
	check_cells("coordination.k8s.io", "leases",
		    "{" META("n1") ",\"spec\":{\"holderIdentity\":\"n1\"}}", "n1", "n1", "5m",
		    NULL);
	check_cells("coordination.k8s.io", "leases", "{" META("free") ",\"spec\":{}}", "free", "",
		    "5m", NULL);
}

static void test_events(void **state)
{
	check_cells(
		"", "events",
		"{" META(
			"web.17a") ",\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web\","
				   "\"fieldPath\":\"spec.containers{a}\"},\"reason\":\"Pulled\",\"message\":"
				   "\"  Image pulled\\n\",\"source\":{\"component\":\"kubelet\",\"host\":\"n1\"},"
				   "\"firstTimestamp\":\"2024-12-31T23:00:00Z\",\"lastTimestamp\":"
				   "\"2024-12-31T23:58:00Z\",\"count\":4,\"type\":\"Normal\"}",
		"2m", "Normal", "Pulled", "pod/web", "spec.containers{a}", "kubelet, n1",
		"Image pulled", "60m", "4", "web.17a", NULL);
	/* new-style event: eventTime, series, reporting fields, no count */
	check_cells(
		"", "events",
		"{" META(
			"e2") ",\"involvedObject\":{\"kind\":\"Node\"},\"reason\":\"R\","
			      "\"eventTime\":\"2024-12-31T23:59:30.123456Z\",\"reportingComponent\":"
			      "\"scheduler\",\"type\":\"Warning\",\"message\":\"m\"}",
		"29s", "Warning", "R", "node", "", "scheduler", "m", "29s", "1", "e2", NULL);
	check_cells(
		"", "events",
		"{" META(
			"e3") ",\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"x\"},"
			      "\"firstTimestamp\":\"2024-12-31T23:00:00Z\",\"series\":{\"count\":7,"
			      "\"lastObservedTime\":\"2024-12-31T23:59:00.000000Z\"}}",
		"60s", "", "", "pod/x", "", "", "", "60m", "7", "e3", NULL);
	check_cells("", "events", "{\"metadata\":{\"name\":\"e4\"}}", "<unknown>", "", "", "", "",
		    "", "", "<unknown>", "1", "e4", NULL);
}

static void test_workloads(void **state)
{
	check_cells(
		"apps", "deployments",
		"{" META(
			"web") ",\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":"
			       "{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\","
			       "\"values\":[\"prod\",\"dev\"]},{\"key\":\"canary\",\"operator\":"
			       "\"DoesNotExist\"}]},\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\","
			       "\"image\":\"nginx:1.27\"},{\"name\":\"side\",\"image\":\"busybox\"}]}}},"
			       "\"status\":{\"readyReplicas\":2,\"updatedReplicas\":3,\"availableReplicas\":2}}",
		"web", "2/3", "3", "2", "5m", "nginx,side", "nginx:1.27,busybox",
		"app=web,!canary,env in (dev,prod)", NULL);
	check_cells("apps", "deployments",
		    "{" META("d") ",\"spec\":{\"template\":{\"spec\":{\"containers\":[]}}}}", "d",
		    "0/1", "0", "0", "5m", "", "", "", NULL);
	check_cells(
		"apps", "replicasets",
		"{" META(
			"web-5d") ",\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":"
				  "{\"app\":\"web\",\"pod-template-hash\":\"5d\"}},\"template\":{\"spec\":"
				  "{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}},\"status\":{\"replicas\":2,"
				  "\"readyReplicas\":1}}",
		"web-5d", "2", "2", "1", "5m", "c", "i", "app=web,pod-template-hash=5d", NULL);
	check_cells(
		"apps", "replicasets",
		"{" META(
			"rs") ",\"spec\":{\"selector\":{\"matchExpressions\":[{\"key\":\"a\","
			      "\"operator\":\"Exists\"},{\"key\":\"b\",\"operator\":\"NotIn\",\"values\":"
			      "[\"x\"]}]}}}",
		"rs", "1", "0", "0", "5m", "", "", "a,b notin (x)", NULL);
	check_cells("apps", "replicasets",
		    "{" META("bad") ",\"spec\":{\"selector\":{\"matchExpressions\":[{\"key\":\"a\","
				    "\"operator\":\"Gt\"}]}}}",
		    "bad", "1", "0", "0", "5m", "", "", "<error>", NULL);
	check_cells(
		"apps", "statefulsets",
		"{" META(
			"db") ",\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":"
			      "[{\"name\":\"pg\",\"image\":\"postgres\"}]}}},\"status\":{\"readyReplicas\":3}}",
		"db", "3/3", "5m", "pg", "postgres", NULL);
	check_cells(
		"apps", "daemonsets",
		"{" META(
			"ds") ",\"spec\":{\"selector\":{\"matchLabels\":{\"k\":\"v\"}},"
			      "\"template\":{\"spec\":{\"nodeSelector\":{\"kubernetes.io/os\":\"linux\"},"
			      "\"containers\":[{\"name\":\"a\",\"image\":\"b\"}]}}},\"status\":"
			      "{\"desiredNumberScheduled\":3,\"currentNumberScheduled\":3,\"numberReady\":2,"
			      "\"updatedNumberScheduled\":3,\"numberAvailable\":2}}",
		"ds", "3", "3", "2", "3", "2", "kubernetes.io/os=linux", "5m", "a", "b", "k=v",
		NULL);
	check_cells(
		"", "replicationcontrollers",
		"{" META(
			"rc") ",\"spec\":{\"replicas\":2,\"selector\":{\"app\":\"x\"},"
			      "\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"b\"}]}}},"
			      "\"status\":{\"replicas\":2,\"readyReplicas\":2}}",
		"rc", "2", "2", "2", "5m", "a", "b", "app=x", NULL);
}

static void test_jobs(void **state)
{
	check_cells(
		"batch", "jobs",
		"{" META(
			"pi") ",\"spec\":{\"completions\":1,\"parallelism\":1,\"selector\":"
			      "{\"matchLabels\":{\"job-name\":\"pi\"}},\"template\":{\"spec\":{\"containers\":"
			      "[{\"name\":\"pi\",\"image\":\"perl\"}]}}},\"status\":{\"succeeded\":1,"
			      "\"startTime\":\"2024-12-31T23:55:00Z\",\"completionTime\":"
			      "\"2024-12-31T23:55:42Z\",\"conditions\":[{\"type\":\"Complete\",\"status\":"
			      "\"True\"}]}}",
		"pi", "Complete", "1/1", "42s", "5m", "pi", "perl", "job-name=pi", NULL);
	check_cells(
		"batch", "jobs",
		"{" META(
			"w") ",\"spec\":{\"parallelism\":3},\"status\":{\"startTime\":"
			     "\"2024-12-31T23:50:00Z\",\"conditions\":[{\"type\":\"Complete\",\"status\":"
			     "\"False\"},{\"type\":\"Suspended\",\"status\":\"True\"}]}}",
		"w", "Suspended", "0/1 of 3", "10m", "5m", "", "", "<none>", NULL);
	check_cells("batch", "jobs",
		    "{" META("f") ",\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":"
				  "\"True\"}]}}",
		    "f", "Failed", "0/1", "", "5m", "", "", "<none>", NULL);
	check_cells(
		"batch", "cronjobs",
		"{" META(
			"cj") ",\"spec\":{\"schedule\":\"*/5 * * * *\",\"suspend\":false,"
			      "\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":"
			      "\"c\",\"image\":\"i\"}]}}}}},\"status\":{\"active\":[{\"name\":\"cj-1\"}],"
			      "\"lastScheduleTime\":\"2024-12-31T23:58:00Z\"}}",
		"cj", "*/5 * * * *", "<none>", "False", "1", "2m", "5m", "c", "i", "<none>", NULL);
	check_cells("batch", "cronjobs",
		    "{" META("cj2") ",\"spec\":{\"schedule\":\"@daily\",\"timeZone\":\"Etc/UTC\"}}",
		    "cj2", "@daily", "Etc/UTC", "<unset>", "0", "<none>", "5m", "", "", "<none>",
		    NULL);
}

static void test_networking(void **state)
{
	check_cells(
		"networking.k8s.io", "ingresses",
		"{" META(
			"ing") ",\"spec\":{\"ingressClassName\":\"kc\",\"rules\":[{\"host\":"
			       "\"a.example\"},{},{\"host\":\"b.example\"},{\"host\":\"c.example\"},{\"host\":"
			       "\"d.example\"}],\"tls\":[{\"hosts\":[\"a.example\"]}]},\"status\":"
			       "{\"loadBalancer\":{\"ingress\":[{\"ip\":\"10.0.0.9\"}]}}}",
		"ing", "kc", "a.example,b.example,c.example + 2 more...", "10.0.0.9", "80, 443",
		"5m", NULL);
	check_cells("networking.k8s.io", "ingresses",
		    "{" META("i2") ",\"spec\":{\"defaultBackend\":{}}}", "i2", "<none>", "*", "",
		    "80", "5m", NULL);
	check_cells(
		"networking.k8s.io", "ingressclasses",
		"{" META(
			"kc") ",\"spec\":{\"controller\":\"kc.io/ingress\",\"parameters\":"
			      "{\"apiGroup\":\"k8s.example.com\",\"kind\":\"IngressParameters\",\"name\":"
			      "\"p\"}}}",
		"kc", "kc.io/ingress", "IngressParameters.k8s.example.com/p", "5m", NULL);
	check_cells("networking.k8s.io", "networkpolicies",
		    "{" META("np") ",\"spec\":{\"podSelector\":{}}}", "np", "<none>", "5m", NULL);
}

static void test_rbac(void **state)
{
	check_cells("rbac.authorization.k8s.io", "roles",
		    "{\"metadata\":{\"name\":\"r\",\"creationTimestamp\":"
		    "\"2024-02-29T13:04:05+01:00\"}}",
		    "r", "2024-02-29T12:04:05Z", NULL);
	check_cells("rbac.authorization.k8s.io", "clusterroles", "{\"metadata\":{\"name\":\"c\"}}",
		    "c", "0001-01-01T00:00:00Z", NULL);
	check_cells(
		"rbac.authorization.k8s.io", "rolebindings",
		"{" META(
			"rb") ",\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"view\"},"
			      "\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"},{\"kind\":"
			      "\"ServiceAccount\",\"name\":\"sa\",\"namespace\":\"kube-system\"},{\"kind\":"
			      "\"User\",\"name\":\"bob\"},{\"kind\":\"Group\",\"name\":\"devs\"}]}",
		"rb", "ClusterRole/view", "5m", "alice, bob", "devs", "kube-system/sa", NULL);
	check_cells("rbac.authorization.k8s.io", "clusterrolebindings",
		    "{" META("crb") ",\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"admin\"}}",
		    "crb", "ClusterRole/admin", "5m", "", "", "", NULL);
	check_cells(
		"", "limitranges",
		"{\"metadata\":{\"name\":\"l\",\"creationTimestamp\":\"1999-12-31T23:59:59Z\"}}",
		"l", "1999-12-31T23:59:59Z", NULL);
}

static void test_storage_and_quota(void **state)
{
	check_cells(
		"", "persistentvolumes",
		"{" META(
			"pv1") ",\"spec\":{\"capacity\":{\"storage\":\"10Gi\"},\"accessModes\":"
			       "[\"ReadWriteMany\",\"ReadWriteOnce\",\"ReadWriteOnce\"],"
			       "\"persistentVolumeReclaimPolicy\":\"Retain\",\"claimRef\":{\"namespace\":\"ns\","
			       "\"name\":\"data\"},\"storageClassName\":\"local\",\"volumeMode\":"
			       "\"Filesystem\"},\"status\":{\"phase\":\"Bound\"}}",
		"pv1", "10Gi", "RWO,RWX", "Retain", "Bound", "ns/data", "local", "<unset>", "",
		"5m", "Filesystem", NULL);
	check_cells(
		"", "persistentvolumeclaims",
		"{\"metadata\":{\"name\":\"data\",\"creationTimestamp\":\"2024-12-31T23:55:00Z\","
		"\"deletionTimestamp\":\"2025-01-01T00:00:00Z\",\"annotations\":{\"volume.beta."
		"kubernetes.io/storage-class\":\"old\"}},\"spec\":{\"volumeName\":\"pv1\","
		"\"storageClassName\":\"local\"},\"status\":{\"phase\":\"Bound\",\"capacity\":"
		"{\"storage\":\"10Gi\"},\"accessModes\":[\"ReadWriteOncePod\"]}}",
		"data", "Terminating", "pv1", "10Gi", "RWOP", "old", "<unset>", "5m", "<unset>",
		NULL);
	check_cells("", "persistentvolumeclaims",
		    "{" META("pending") ",\"spec\":{\"resources\":{\"requests\":{\"storage\":"
					"\"1Gi\"}}},\"status\":{\"phase\":\"Pending\"}}",
		    "pending", "Pending", "", "", "", "", "<unset>", "5m", "<unset>", NULL);
	check_cells(
		"", "resourcequotas",
		"{" META(
			"q") ",\"status\":{\"hard\":{\"pods\":\"10\",\"limits.cpu\":\"4\","
			     "\"requests.cpu\":\"2\",\"limits.memory\":\"4Gi\"},\"used\":{\"pods\":\"3\","
			     "\"limits.cpu\":\"1\"}}}",
		"q", "pods: 3/10, requests.cpu: 0/2", "limits.cpu: 1/4, limits.memory: 0/4Gi", "5m",
		NULL);
	check_cells(
		"scheduling.k8s.io", "priorityclasses",
		"{" META("high") ",\"value\":1000000,\"globalDefault\":true,\"preemptionPolicy\":"
				 "\"Never\"}",
		"high", "1000000", "true", "5m", "Never", NULL);
	check_cells("policy", "poddisruptionbudgets",
		    "{" META("pdb") ",\"spec\":{\"minAvailable\":\"50%\"},\"status\":"
				    "{\"disruptionsAllowed\":1}}",
		    "pdb", "50%", "N/A", "1", "5m", NULL);
	check_cells(
		"storage.k8s.io", "storageclasses",
		"{\"metadata\":{\"name\":\"local\",\"creationTimestamp\":\"2024-12-31T23:55:00Z\","
		"\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}},"
		"\"provisioner\":\"kc.io/local\"}",
		"local (default)", "kc.io/local", "Delete", "Immediate", "false", "5m", NULL);
	check_cells(
		"apps", "controllerrevisions",
		"{\"metadata\":{\"name\":\"web-7d\",\"creationTimestamp\":\"2024-12-31T23:55:00Z\","
		"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\","
		"\"name\":\"web\",\"controller\":true}]},\"revision\":2}",
		"web-7d", "statefulset.apps/web", "2", "5m", NULL);
	check_cells("", "podtemplates",
		    "{" META("t") ",\"template\":{\"metadata\":{\"labels\":{\"a\":\"1\"}},\"spec\":"
				  "{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}",
		    "t", "c", "i", "a=1", NULL);
}

static void test_default_and_hostile(void **state)
{
	check_cells("example.com", "widgets", "{" META("w") "}", "w", "5m", NULL);
	check_cells("example.com", "widgets",
		    "{\"metadata\":{\"name\":\"w\","
		    "\"creationTimestamp\":\"garbage\"}}",
		    "w", "<unknown>", NULL);
	check_cells("example.com", "widgets",
		    "{\"metadata\":{\"name\":\"w\","
		    "\"creationTimestamp\":\"2025-01-01T00:00:05Z\"}}",
		    "w", "<invalid>", NULL);
	/* wrong types everywhere still give a valid row */
	static const char *const plurals[][2] = {
		{"", "pods"},
		{"", "nodes"},
		{"", "services"},
		{"", "endpoints"},
		{"", "events"},
		{"apps", "deployments"},
		{"batch", "jobs"},
		{"batch", "cronjobs"},
		{"", "persistentvolumes"},
		{"", "resourcequotas"},
		{"networking.k8s.io", "ingresses"},
		{"rbac.authorization.k8s.io", "rolebindings"},
		{"discovery.k8s.io", "endpointslices"},
		{"apps", "controllerrevisions"},
	};
	static const char *const objs[] = {
		"{}",
		"[]",
		"{\"metadata\":5,\"spec\":\"x\",\"status\":[1,2]}",
		"{\"metadata\":{\"name\":\"a\\u0001\\\"\\\\\\n\xc3\xa9\"},\"spec\":{\"containers\":"
		"{\"a\":1},\"ports\":[1,{\"port\":\"x\"}],\"selector\":[],\"rules\":[5]},"
		"\"status\":{\"containerStatuses\":[null,5,{\"state\":null}],\"conditions\":7,"
		"\"loadBalancer\":{\"ingress\":[{\"ip\":7}]}},\"subsets\":[{\"addresses\":[5],"
		"\"ports\":[null]}],\"involvedObject\":[],\"roleRef\":null}",
	};
	for (size_t i = 0; i < sizeof plurals / sizeof plurals[0]; i++)
		for (size_t j = 0; j < sizeof objs / sizeof objs[0]; j++) {
			cJSON *row = row_of(plurals[i][0], plurals[i][1], objs[j], true);
			cJSON_Delete(row);
		}
	/* control characters and invalid UTF-8 (built in memory, not parsed) are escaped */
	cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"x\"}}");
	cJSON_SetValuestring(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metadata"), "name"),
			     "a\x01\xff\xc3\"\xe2\x82");
	struct api_resource r = res("", "configmaps");
	struct kc_str out = KC_STR_INIT;
	table_row_json(&r, o, NOW, true, &out);
	cJSON *row = parse_ok(out.buf, out.len);
	char b[64];
	assert_string_equal(cell(row, 0, b, sizeof b), "a\x01\xef\xbf\xbd\xef\xbf\xbd\"\xef\xbf\xbd"
						       "\xef\xbf\xbd");
	cJSON_Delete(row);
	cJSON_Delete(o);
	kc_str_free(&out);
}

static void test_pod_throughput(void **state)
{
	const char *pod =
		"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web-5d8f7c9b4-x2k9z\","
		"\"generateName\":\"web-5d8f7c9b4-\",\"namespace\":\"default\",\"uid\":"
		"\"d37dd5c8-18b4-4cb2-a0a7-5efd68cd48ce\",\"resourceVersion\":\"123456\","
		"\"creationTimestamp\":\"2024-12-31T20:00:00Z\",\"labels\":{\"app\":\"web\","
		"\"pod-template-hash\":\"5d8f7c9b4\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
		"\"kind\":\"ReplicaSet\",\"name\":\"web-5d8f7c9b4\",\"uid\":\"u\",\"controller\":true,"
		"\"blockOwnerDeletion\":true}],\"managedFields\":[{\"manager\":\"kc\",\"operation\":"
		"\"Update\",\"apiVersion\":\"v1\",\"time\":\"2024-12-31T20:00:00Z\",\"fieldsType\":"
		"\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{}}}]},\"spec\":{\"nodeName\":\"node1\","
		"\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.27\",\"ports\":[{"
		"\"containerPort\":80,\"protocol\":\"TCP\"}],\"resources\":{}}],\"restartPolicy\":"
		"\"Always\",\"dnsPolicy\":\"ClusterFirst\",\"schedulerName\":\"default-scheduler\"},"
		"\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Initialized\",\"status\":"
		"\"True\"},{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"ContainersReady\","
		"\"status\":\"True\"},{\"type\":\"PodScheduled\",\"status\":\"True\"}],\"hostIP\":"
		"\"10.0.0.1\",\"podIP\":\"10.42.0.17\",\"podIPs\":[{\"ip\":\"10.42.0.17\"}],"
		"\"startTime\":\"2024-12-31T20:00:01Z\",\"containerStatuses\":[{\"name\":\"nginx\","
		"\"state\":{\"running\":{\"startedAt\":\"2024-12-31T20:00:03Z\"}},\"lastState\":{},"
		"\"ready\":true,\"restartCount\":1,\"image\":\"nginx:1.27\",\"imageID\":\"sha256:x\","
		"\"containerID\":\"kc://abc\",\"started\":true}]}}";
	cJSON *o = parse_ok(pod, strlen(pod));
	struct api_resource r = res("", "pods");
	struct kc_str out = KC_STR_INIT;
	const int n = 10000, rounds = 5;
	struct timespec t0, t1;
	double best = 1e9;
	for (int k = 0; k < rounds; k++) {
		kc_str_reset(&out);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < n; i++) {
			if (i)
				kc_str_addc(&out, ',');
			table_row_json(&r, o, NOW, true, &out);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s =
			(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (s < best)
			best = s;
	}
	print_message("table_row_json: %d pods in %.1f ms, %.0f rows/s (%zu bytes)\n", n,
		      best * 1e3, n / best, out.len);
	cJSON_Delete(o);
	kc_str_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_pod_running),
		cmocka_unit_test(test_pod_restarts),
		cmocka_unit_test(test_pod_status),
		cmocka_unit_test(test_pod_readiness_gates),
		cmocka_unit_test(test_partial_metadata),
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_endpointslices),
		cmocka_unit_test(test_config_and_accounts),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_workloads),
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_networking),
		cmocka_unit_test(test_rbac),
		cmocka_unit_test(test_storage_and_quota),
		cmocka_unit_test(test_default_and_hostile),
		cmocka_unit_test(test_pod_throughput),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
