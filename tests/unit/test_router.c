/* test_router.c - pattern parsing, match preference and backtracking, parameters, wildcards,
 * 404 vs 405 with Allow, HEAD falling back to GET, and a Kubernetes-sized route table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/router.h"

static int tags[64];

/* Handlers are identified by their arg (a pointer into tags). */
static void h(struct http_req *req, void *arg)
{
	(void)req;
	(void)arg;
}

static void *tag(int i)
{
	return &tags[i];
}

static int which(const struct router_match *m)
{
	return (int)((int *)m->arg - tags);
}

static bool val_is(const struct router_match *m, unsigned i, const char *s)
{
	return i < m->nparams && m->values[i].n == strlen(s) && memcmp(m->values[i].p, s, m->values[i].n) == 0;
}

static struct router *build(void)
{
	struct router *r = router_new();
	struct kc_err err;
	assert_int_equal(router_add(r, "GET", "/", h, tag(0), &err), 0);
	assert_int_equal(router_add(r, "GET", "/api/v1/pods", h, tag(1), &err), 0);
	assert_int_equal(router_add(r, "POST", "/api/v1/namespaces/{namespace}/pods", h, tag(2), &err), 0);
	assert_int_equal(router_add(r, "GET", "/api/v1/namespaces/{namespace}/pods", h, tag(3), &err), 0);
	assert_int_equal(router_add(r, "GET", "/api/v1/namespaces/{namespace}/pods/{name}", h, tag(4), &err), 0);
	assert_int_equal(router_add(r, "DELETE", "/api/v1/namespaces/{ns}/pods/{name}", h, tag(5), &err), 0);
	assert_int_equal(router_add(r, "GET", "/api/v1/namespaces/{namespace}/pods/{name}/log", h, tag(6), &err), 0);
	assert_int_equal(router_add(r, "GET", "/api/v1/namespaces/kube-system/pods/special", h, tag(7), &err), 0);
	assert_int_equal(router_add(r, NULL, "/api/v1/namespaces/{namespace}/pods/{name}/exec", h, tag(8), &err), 0);
	assert_int_equal(router_add(r, "GET", "/static/{path...}", h, tag(9), &err), 0);
	assert_int_equal(router_add(r, "PUT", "/api/v1/namespaces/{namespace}/{resource}/{name}", h, tag(10), &err), 0);
	assert_int_equal(router_add(r, "GET", "/x/{a}/y", h, tag(11), &err), 0);
	assert_int_equal(router_add(r, "GET", "/x/lit/{b}", h, tag(12), &err), 0);
	assert_int_equal(router_add(r, "HEAD", "/headonly", h, tag(13), &err), 0);
	assert_int_equal(router_add(r, "GET", "/trailing/", h, tag(14), &err), 0);
	assert_int_equal(router_add(r, "GET", "/b/lit/end", h, tag(15), &err), 0);
	assert_int_equal(router_add(r, "GET", "/b/{p}/other", h, tag(16), &err), 0);
	return r;
}

static void test_matching(void **state)
{
	(void)state;
	struct router *r = build();
	struct router_match m;
	assert_int_equal(router_lookup(r, "GET", "/", &m), 0);
	assert_int_equal(which(&m), 0);
	assert_int_equal(router_lookup(r, "GET", "/api/v1/pods", &m), 0);
	assert_int_equal(which(&m), 1);
	assert_int_equal(m.nparams, 0);

	assert_int_equal(router_lookup(r, "POST", "/api/v1/namespaces/default/pods", &m), 0);
	assert_int_equal(which(&m), 2);
	assert_int_equal(m.nparams, 1);
	assert_string_equal(m.names[0], "namespace");
	assert_true(val_is(&m, 0, "default"));

	assert_int_equal(router_lookup(r, "GET", "/api/v1/namespaces/ns1/pods/web-0", &m), 0);
	assert_int_equal(which(&m), 4);
	assert_true(val_is(&m, 0, "ns1"));
	assert_true(val_is(&m, 1, "web-0"));
	assert_int_equal(router_lookup(r, "DELETE", "/api/v1/namespaces/ns1/pods/web-0", &m), 0);
	assert_int_equal(which(&m), 5);
	assert_string_equal(m.names[0], "ns");

	/* literal beats parameter, and backtracking finds the parameter route */
	assert_int_equal(router_lookup(r, "GET", "/api/v1/namespaces/kube-system/pods/special", &m), 0);
	assert_int_equal(which(&m), 7);
	assert_int_equal(router_lookup(r, "GET", "/api/v1/namespaces/kube-system/pods/other", &m), 0);
	assert_int_equal(which(&m), 4);
	assert_int_equal(router_lookup(r, "DELETE", "/api/v1/namespaces/kube-system/pods/special", &m), 0);
	assert_int_equal(which(&m), 5);
	/* any-method route */
	assert_int_equal(router_lookup(r, "POST", "/api/v1/namespaces/a/pods/b/exec", &m), 0);
	assert_int_equal(which(&m), 8);
	assert_int_equal(router_lookup(r, "GET", "/api/v1/namespaces/a/pods/b/exec", &m), 0);
	assert_int_equal(which(&m), 8);

	/* wildcard */
	assert_int_equal(router_lookup(r, "GET", "/static/css/site.css", &m), 0);
	assert_int_equal(which(&m), 9);
	assert_string_equal(m.names[0], "path");
	assert_true(val_is(&m, 0, "css/site.css"));
	assert_int_equal(router_lookup(r, "GET", "/static/", &m), 0);
	assert_true(val_is(&m, 0, ""));
	assert_int_equal(router_lookup(r, "GET", "/static", &m), -KC_ENOTFOUND);

	/* empty segments never bind a parameter; trailing slashes are literal */
	assert_int_equal(router_lookup(r, "GET", "/api/v1/namespaces//pods", &m), -KC_ENOTFOUND);
	assert_int_equal(router_lookup(r, "GET", "/api/v1/pods/", &m), -KC_ENOTFOUND);
	assert_int_equal(router_lookup(r, "GET", "/trailing/", &m), 0);
	assert_int_equal(router_lookup(r, "GET", "/trailing", &m), -KC_ENOTFOUND);
	assert_int_equal(router_lookup(r, "GET", "", &m), -KC_ENOTFOUND);
	router_free(r);
}

static void test_preference_backtracking(void **state)
{
	(void)state;
	struct router *r = build();
	struct router_match m;
	/* "/x/lit/y": the literal branch /x/lit/{b} matches first */
	assert_int_equal(router_lookup(r, "GET", "/x/lit/y", &m), 0);
	assert_int_equal(which(&m), 12);
	assert_true(val_is(&m, 0, "y"));
	/* a literal that leads nowhere gives way to the parameter */
	assert_int_equal(router_lookup(r, "GET", "/x/other/y", &m), 0);
	assert_int_equal(which(&m), 11);
	assert_true(val_is(&m, 0, "other"));
	/* the literal branch /b/lit/... dead-ends, the parameter branch matches */
	assert_int_equal(router_lookup(r, "GET", "/b/lit/other", &m), 0);
	assert_int_equal(which(&m), 16);
	assert_true(val_is(&m, 0, "lit"));
	assert_int_equal(router_lookup(r, "GET", "/b/lit/end", &m), 0);
	assert_int_equal(which(&m), 15);
	assert_int_equal(m.nparams, 0);
	/* PUT on a pod path: the specific pod node has no PUT, the generic {resource} one has */
	assert_int_equal(router_lookup(r, "PUT", "/api/v1/namespaces/ns/pods/web", &m), 0);
	assert_int_equal(which(&m), 10);
	assert_true(val_is(&m, 0, "ns"));
	assert_true(val_is(&m, 1, "pods"));
	assert_true(val_is(&m, 2, "web"));
	router_free(r);
}

static void test_405(void **state)
{
	(void)state;
	struct router *r = build();
	struct router_match m;
	assert_int_equal(router_lookup(r, "DELETE", "/api/v1/pods", &m), -KC_EUNSUPPORTED);
	assert_string_equal(m.allow, "GET, HEAD");
	assert_int_equal(router_lookup(r, "PATCH", "/api/v1/namespaces/ns/pods", &m), -KC_EUNSUPPORTED);
	assert_string_equal(m.allow, "POST, GET, HEAD");
	/* HEAD falls back to GET; an explicit HEAD route is used as is */
	assert_int_equal(router_lookup(r, "HEAD", "/api/v1/pods", &m), 0);
	assert_int_equal(which(&m), 1);
	assert_int_equal(router_lookup(r, "HEAD", "/headonly", &m), 0);
	assert_int_equal(router_lookup(r, "GET", "/headonly", &m), -KC_EUNSUPPORTED);
	assert_string_equal(m.allow, "HEAD");
	assert_int_equal(router_lookup(r, "GET", "/nothing/here", &m), -KC_ENOTFOUND);
	router_free(r);
}

static void test_bad_patterns(void **state)
{
	(void)state;
	struct router *r = router_new();
	struct kc_err err;
	static const char *const bad[] = {
		"", "nope", "/a/{", "/a/{}", "/a/{b", "/a/b}", "/a/{b}c", "/a/{rest...}/x", "/a/{b c}",
		"/a/x{b}", "/{...}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = router_add(r, "GET", bad[i], h, NULL, &err);
		if (rc != -KC_EINVAL)
			fail_msg("pattern '%s': %d", bad[i], rc);
	}
	assert_int_equal(router_add(r, "GET", "/a/{x}", h, NULL, &err), 0);
	assert_int_equal(router_add(r, "GET", "/a/{y}", h, NULL, &err), -KC_EEXIST);
	assert_int_equal(router_add(r, "*", "/a/{y}", h, NULL, &err), 0);
	assert_int_equal(router_add(r, NULL, "/a/{z}", h, NULL, &err), -KC_EEXIST);
	char many[256] = "/";
	for (int i = 0; i <= HTTP_MAX_PARAMS; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "{p%d}/", i);
	many[strlen(many) - 1] = '\0';
	assert_int_equal(router_add(r, "GET", many, h, NULL, &err), -KC_EINVAL);
	router_free(r);
	router_free(NULL);
}

/* A table shaped like the Kubernetes API: every resource with collection and item routes. */
static void test_kubernetes_sized(void **state)
{
	(void)state;
	static const char *const res[] = {
		"pods", "services", "endpoints", "configmaps", "secrets", "serviceaccounts", "events",
		"persistentvolumeclaims", "replicationcontrollers", "resourcequotas", "limitranges",
		"podtemplates", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs",
		"cronjobs", "leases", "roles", "rolebindings", "networkpolicies", "ingresses",
		"poddisruptionbudgets", "horizontalpodautoscalers", "endpointslices", "csistoragecapacities",
	};
	struct router *r = router_new();
	struct kc_err err;
	char pat[256];
	int n = 0;
	for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
		static const char *const methods[] = { "GET", "POST", "DELETE" };
		for (int k = 0; k < 3; k++) {
			snprintf(pat, sizeof pat, "/apis/{group}/{version}/namespaces/{namespace}/%s", res[i]);
			assert_int_equal(router_add(r, methods[k], pat, h, tag(1), &err), 0);
			snprintf(pat, sizeof pat, "/apis/{group}/{version}/namespaces/{namespace}/%s/{name}", res[i]);
			assert_int_equal(router_add(r, methods[k], pat, h, tag(2), &err), 0);
			snprintf(pat, sizeof pat, "/api/v1/namespaces/{namespace}/%s/{name}/status", res[i]);
			assert_int_equal(router_add(r, methods[k], pat, h, tag(3), &err), 0);
			snprintf(pat, sizeof pat, "/apis/{group}/{version}/%s", res[i]);
			assert_int_equal(router_add(r, methods[k], pat, h, tag(4), &err), 0);
			n += 4;
		}
	}
	assert_true(n > 300);
	struct router_match m;
	assert_int_equal(router_lookup(r, "GET", "/apis/apps/v1/namespaces/default/deployments/web", &m), 0);
	assert_int_equal(which(&m), 2);
	assert_int_equal(m.nparams, 4);
	assert_true(val_is(&m, 0, "apps"));
	assert_true(val_is(&m, 3, "web"));
	assert_int_equal(router_lookup(r, "PATCH", "/apis/apps/v1/leases", &m), -KC_EUNSUPPORTED);
	assert_string_equal(m.allow, "GET, POST, DELETE, HEAD");
	assert_int_equal(router_lookup(r, "GET", "/apis/apps/v1/namespaces/default/nothing", &m), -KC_ENOTFOUND);
	router_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_preference_backtracking),
		cmocka_unit_test(test_405),
		cmocka_unit_test(test_bad_patterns),
		cmocka_unit_test(test_kubernetes_sized),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
