/* test_registry.c - the registry on a real single-member store in a temporary directory:
 * CRUD, conflicts, finalizers, graceful pod deletion, generateName, list limit/continue,
 * watch ordering, ClusterIP/NodePort allocation under concurrent creates. The whole suite runs
 * twice: on the in-process store (kv_local) and on the same store reached through its etcd
 * gateway over HTTP (store/remote.c), which must give the registry the same answers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/router.h"
#include "store/gateway.h"
#include "store/remote.h"
#include "roles/apiserver/registry.h"
#include "store/kv.h"
#include "store/store.h"

static struct loop *L;
static struct store *S;
static struct kv KV;
static bool REMOTE;                 /* the second run: through the gateway */
static struct kv_remote *RK;
static struct loop *GL;             /* the gateway's HTTP loop, on its own thread */
static struct router *GR;
static struct gateway *GW;
static struct http_server *GS;
static pthread_t GT;
static struct registry *R;
static char dir[64];

static const struct api_resource PODS = {
	.group = "", .version = "v1", .group_version = "v1", .plural = "pods", .singular = "pod",
	.kind = "Pod", .list_kind = "PodList", .namespaced = true, .verbs = API_VERBS_ALL,
	.storage_prefix = "/registry/pods",
};
static const struct api_resource NAMESPACES = {
	.group = "", .version = "v1", .group_version = "v1", .plural = "namespaces",
	.singular = "namespace", .kind = "Namespace", .list_kind = "NamespaceList",
	.namespaced = false, .verbs = API_VERBS_ALL, .storage_prefix = "/registry/namespaces",
};
static const struct api_resource SERVICES = {
	.group = "", .version = "v1", .group_version = "v1", .plural = "services",
	.singular = "service", .kind = "Service", .list_kind = "ServiceList", .namespaced = true,
	.verbs = API_VERBS_ALL, .storage_prefix = "/registry/services/specs",
};
static const struct api_resource CONFIGMAPS = {
	.group = "", .version = "v1", .group_version = "v1", .plural = "configmaps",
	.singular = "configmap", .kind = "ConfigMap", .list_kind = "ConfigMapList",
	.namespaced = true, .verbs = API_VERBS_ALL, .storage_prefix = "/registry/configmaps",
};

/* ---- synchronous helpers ---- */

struct res {
	bool done;
	int code;
	char reason[40];
	char message[768];
	cJSON *obj;
	int64_t rv;
	bool deleted;
	struct kc_str raw;
	size_t n;
	char names[64][64];
	char cont[1024];
	int64_t remaining;
	int64_t revision;
};

static void wait_done(struct res *r)
{
	for (int i = 0; i < 1000 && !r->done; i++)
		loop_run_once(L, 20);
	assert_true(r->done);
}

static void on_obj(void *arg, struct reg_result *res, const struct api_error *e)
{
	struct res *r = arg;
	r->done = true;
	if (e) {
		r->code = e->code;
		snprintf(r->reason, sizeof r->reason, "%s", e->reason);
		snprintf(r->message, sizeof r->message, "%s", e->message);
		return;
	}
	r->code = 200;
	r->obj = res->obj;
	res->obj = NULL;
	r->rv = res->rv;
	r->deleted = res->deleted;
}

static void on_raw(void *arg, const struct mvcc_kv *kv, const struct api_error *e)
{
	struct res *r = arg;
	r->done = true;
	if (e) {
		r->code = e->code;
		snprintf(r->reason, sizeof r->reason, "%s", e->reason);
		return;
	}
	r->code = 200;
	r->raw = (struct kc_str)KC_STR_INIT;
	registry_splice_rv(&r->raw, kv->value, kv->value_len, kv->mod_revision);
	r->rv = kv->mod_revision;
	struct kc_err err;
	assert_int_equal(kc_json_parse(r->raw.buf, r->raw.len, NULL, &r->obj, &err), 0);
}

static void on_list(void *arg, struct reg_list *list, const struct api_error *e)
{
	struct res *r = arg;
	r->done = true;
	if (e) {
		r->code = e->code;
		snprintf(r->reason, sizeof r->reason, "%s", e->reason);
		return;
	}
	r->code = 200;
	r->n = list->n;
	r->revision = list->revision;
	r->remaining = list->remaining;
	snprintf(r->cont, sizeof r->cont, "%s", list->cont ? list->cont : "");
	for (size_t i = 0; i < list->n && i < 64; i++) {
		cJSON *o = registry_parse(list->items[i].kv.value, list->items[i].kv.value_len,
					  list->items[i].kv.mod_revision);
		assert_non_null(o);
		snprintf(r->names[i], sizeof r->names[i], "%s", kc_json_get_str(o, "metadata.name"));
		cJSON_Delete(o);
	}
}

static void res_free(struct res *r)
{
	cJSON_Delete(r->obj);
	kc_str_free(&r->raw);
	memset(r, 0, sizeof *r);
}

static cJSON *js(const char *text)
{
	cJSON *o = NULL;
	struct kc_err err;
	if (kc_json_parse(text, strlen(text), NULL, &o, &err) < 0)
		fail_msg("bad test json: %s", err.msg);
	return o;
}

static struct res create(const struct api_resource *res, const char *ns, const char *text)
{
	struct res r = { 0 };
	registry_create(R, L, res, ns, js(text), NULL, on_obj, &r);
	assert_false(r.done); /* never called inside the issuing call */
	wait_done(&r);
	return r;
}

static struct res get(const struct api_resource *res, const char *ns, const char *name)
{
	struct res r = { 0 };
	registry_get(R, L, res, ns, name, true, on_raw, &r);
	wait_done(&r);
	return r;
}

static struct res del(const struct api_resource *res, const char *ns, const char *name,
		      const struct reg_delete_opts *o)
{
	struct res r = { 0 };
	registry_delete(R, L, res, ns, name, o, on_obj, &r);
	wait_done(&r);
	return r;
}

struct setfn {
	const char *path;
	const char *value;   /* JSON; NULL deletes */
	bool clear_finalizers;
};

static int mutate(void *arg, cJSON **obj, struct api_error *e)
{
	struct setfn *s = arg;
	if (s->clear_finalizers)
		kc_json_delete(*obj, "metadata.finalizers");
	if (s->path) {
		if (s->value)
			kc_json_set(*obj, s->path, js(s->value));
		else
			kc_json_delete(*obj, s->path);
	}
	return 0;
}

static struct res update(const struct api_resource *res, const char *sub, const char *ns,
			 const char *name, struct setfn *fn)
{
	struct res r = { 0 };
	registry_update(R, L, res, sub, ns, name, mutate, fn, NULL, on_obj, &r);
	wait_done(&r);
	return r;
}

static struct res list(const struct api_resource *res, const char *ns, int64_t limit,
		       const char *cont, const char *labels)
{
	struct res r = { 0 };
	struct label_selector *ls = NULL;
	struct kc_err err;
	if (labels)
		assert_int_equal(label_selector_parse(labels, &ls, &err), 0);
	struct reg_list_opts o = { .ns = ns, .limit = limit, .continue_token = cont, .labels = ls };
	registry_list(R, L, res, &o, on_list, &r);
	wait_done(&r);
	label_selector_free(ls);
	return r;
}

/* ---- fixture ---- */

static void *gw_run(void *arg)
{
	(void)arg;
	loop_run(GL);
	return NULL;
}

static void gw_stop(struct loop *l, void *arg)
{
	(void)arg;
	http_server_close(GS);
	loop_stop(l);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/kc-test-registry-XXXXXX");
	assert_non_null(mkdtemp(dir));
	L = loop_new(NULL);
	struct store_config cfg = { .data_dir = dir, .name = "solo", .tick_ms = 20,
				    .mvcc_sync = MVCC_SYNC_OFF, .raft_sync_off = true };
	struct kc_err err = { 0 };
	if (store_open(&cfg, &S, &err) < 0)
		fail_msg("store_open: %s", err.msg);
	if (REMOTE) {
		GL = loop_new(NULL);
		GR = router_new();
		struct gateway_backend be;
		gateway_backend_store(S, &be);
		assert_int_equal(gateway_register(GR, &be, &GW, &err), 0);
		struct http_server_config hc = { .addr = "127.0.0.1", .handler = router_serve,
						 .handler_arg = GR };
		assert_int_equal(http_server_open(GL, &hc, &GS, &err), 0);
		assert_int_equal(pthread_create(&GT, NULL, gw_run, NULL), 0);
		char eps[128];
		/* a dead endpoint first: requests move on to the live one */
		snprintf(eps, sizeof eps, "http://127.0.0.1:1,http://127.0.0.1:%u",
			 http_server_port(GS));
		/* a small queue bound, for test_watch_slow */
		struct kv_remote_config kc = { .endpoints = eps, .watch_max_events = 32 };
		assert_int_equal(kv_remote_open(&kc, &RK, &err), 0);
		kv_remote_kv(RK, &KV);
	} else {
		kv_local(S, &KV);
	}
	struct registry_config rc = { .store = &KV };
	assert_int_equal(registry_new(&rc, &R, &err), 0);
	/* wait for the store to take writes */
	for (int i = 0; i < 500; i++) {
		struct res r = create(&NAMESPACES, "", "{\"metadata\":{\"name\":\"default\"}}");
		int code = r.code;
		res_free(&r);
		if (code == 200 || code == 409)
			break;
		usleep(20000);
	}
	struct res r = create(&NAMESPACES, "", "{\"metadata\":{\"name\":\"other\"}}");
	res_free(&r);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 200 && registry_outstanding(R); i++)
		loop_run_once(L, 10);
	registry_free(R);
	if (REMOTE) {
		kv_remote_close(RK);
		loop_call(GL, gw_stop, NULL);
		pthread_join(GT, NULL);
		gateway_free(GW);
		router_free(GR);
	}
	store_close(S);
	if (REMOTE)
		loop_free(GL);
	for (int i = 0; i < 20; i++)
		loop_run_once(L, 5);
	loop_free(L);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- tests ---- */

static void test_splice(void **state)
{
	(void)state;
	struct kc_str s = KC_STR_INIT;
	const char *p = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}";
	registry_splice_rv(&s, p, strlen(p), 7);
	assert_string_equal(s.buf, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
				   "{\"resourceVersion\":\"7\",\"name\":\"a\"}}");
	kc_str_reset(&s);
	registry_splice_rv(&s, "{\"metadata\":{}}", 15, 3);
	assert_string_equal(s.buf, "{\"metadata\":{\"resourceVersion\":\"3\"}}");
	kc_str_reset(&s);
	/* a string holding "metadata" does not fool it */
	const char *t = "{\"a\":\"\\\"metadata\\\":{\",\"b\":[1,{\"metadata\":{}}],\"metadata\":{\"x\":1}}";
	registry_splice_rv(&s, t, strlen(t), 9);
	assert_non_null(strstr(s.buf, "\"metadata\":{\"resourceVersion\":\"9\",\"x\":1}"));
	kc_str_reset(&s);
	registry_splice_rv(&s, "[1]", 3, 9);
	assert_string_equal(s.buf, "[1]");
	kc_str_free(&s);
	char buf[32];
	assert_string_equal(registry_time(0, buf, sizeof buf), "1970-01-01T00:00:00Z");
	assert_true(registry_name_ok("web"));
	assert_false(registry_name_ok("a/b"));
	assert_false(registry_name_ok(".."));
	assert_false(registry_name_ok(""));
}

static void test_crud(void **state)
{
	(void)state;
	struct res r = create(&PODS, "default",
			      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\","
			      "\"resourceVersion\":\"55\",\"uid\":\"x\"},\"spec\":{\"containers\":"
			      "[{\"name\":\"c\",\"image\":\"nginx\"}]}}");
	assert_int_equal(r.code, 200);
	assert_true(r.rv > 0);
	char uid[64];
	assert_non_null(kc_json_get_str(r.obj, "metadata.uid"));
	snprintf(uid, sizeof uid, "%s", kc_json_get_str(r.obj, "metadata.uid"));
	assert_int_equal(strlen(uid), 36);
	assert_int_equal(uid[14], '4');
	assert_string_not_equal(uid, "x");
	assert_non_null(kc_json_get_str(r.obj, "metadata.creationTimestamp"));
	assert_string_equal(kc_json_get_str(r.obj, "metadata.namespace"), "default");
	char rvs[24];
	snprintf(rvs, sizeof rvs, "%lld", (long long)r.rv);
	assert_string_equal(kc_json_get_str(r.obj, "metadata.resourceVersion"), rvs);
	int64_t rv1 = r.rv;
	res_free(&r);

	r = create(&PODS, "default", "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"containers\":"
				     "[{\"name\":\"c\",\"image\":\"nginx\"}]}}");
	assert_int_equal(r.code, 409);
	assert_string_equal(r.reason, "AlreadyExists");
	assert_string_equal(r.message, "pods \"web\" already exists");
	res_free(&r);

	r = create(&PODS, "nope", "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"containers\":"
				  "[{\"name\":\"c\",\"image\":\"nginx\"}]}}");
	assert_int_equal(r.code, 404);
	assert_string_equal(r.message, "namespaces \"nope\" not found");
	res_free(&r);

	r = get(&PODS, "default", "web");
	assert_int_equal(r.code, 200);
	assert_int_equal(r.rv, rv1);
	assert_string_equal(kc_json_get_str(r.obj, "metadata.resourceVersion"), rvs);
	assert_string_equal(kc_json_get_str(r.obj, "kind"), "Pod");
	res_free(&r);

	r = get(&PODS, "default", "missing");
	assert_int_equal(r.code, 404);
	res_free(&r);

	/* update with a stale resourceVersion: Conflict with Kubernetes' words */
	struct setfn stale = { .path = "metadata.resourceVersion", .value = "\"1\"" };
	r = update(&PODS, NULL, "default", "web", &stale);
	assert_int_equal(r.code, 409);
	assert_string_equal(r.message, "Operation cannot be fulfilled on pods \"web\": the object has "
				       "been modified; please apply your changes to the latest "
				       "version and try again");
	res_free(&r);

	struct setfn lab = { .path = "metadata.labels", .value = "{\"app\":\"web\"}" };
	r = update(&PODS, NULL, "default", "web", &lab);
	assert_int_equal(r.code, 200);
	assert_true(r.rv > rv1);
	assert_string_equal(kc_json_get_str(r.obj, "metadata.labels.app"), "web");
	assert_string_equal(kc_json_get_str(r.obj, "metadata.uid"), uid);
	int64_t rv2 = r.rv;
	res_free(&r);

	/* a no-op update keeps the resourceVersion */
	r = update(&PODS, NULL, "default", "web", &lab);
	assert_int_equal(r.code, 200);
	assert_int_equal(r.rv, rv2);
	res_free(&r);

	/* unbound pod: deleted at once */
	r = del(&PODS, "default", "web", NULL);
	assert_int_equal(r.code, 200);
	assert_true(r.deleted);
	res_free(&r);
	r = get(&PODS, "default", "web");
	assert_int_equal(r.code, 404);
	res_free(&r);
	r = del(&PODS, "default", "web", NULL);
	assert_int_equal(r.code, 404);
	res_free(&r);
}

static void test_generate_name_and_invalid(void **state)
{
	(void)state;
	struct res r = create(&CONFIGMAPS, "default", "{\"metadata\":{\"generateName\":\"cm-\"}}");
	assert_int_equal(r.code, 200);
	const char *n = kc_json_get_str(r.obj, "metadata.name");
	assert_int_equal(strlen(n), 8);
	assert_memory_equal(n, "cm-", 3);
	for (const char *p = n + 3; *p; p++)
		assert_non_null(strchr("bcdfghjklmnpqrstvwxz2456789", *p));
	res_free(&r);

	r = create(&CONFIGMAPS, "default", "{\"metadata\":{}}");
	assert_int_equal(r.code, 422);
	res_free(&r);
	r = create(&CONFIGMAPS, "default", "{\"metadata\":{\"name\":\"a/b\"}}");
	assert_int_equal(r.code, 422);
	res_free(&r);
}

static void test_finalizers_and_graceful(void **state)
{
	(void)state;
	struct res r = create(&CONFIGMAPS, "default",
			      "{\"metadata\":{\"name\":\"fin\",\"finalizers\":[\"x/y\"]}}");
	assert_int_equal(r.code, 200);
	res_free(&r);
	r = del(&CONFIGMAPS, "default", "fin", NULL);
	assert_int_equal(r.code, 200);
	assert_false(r.deleted);
	assert_non_null(kc_json_get_str(r.obj, "metadata.deletionTimestamp"));
	res_free(&r);
	r = get(&CONFIGMAPS, "default", "fin");
	assert_int_equal(r.code, 200);
	res_free(&r);
	/* removing the last finalizer deletes it */
	struct setfn clear = { .clear_finalizers = true };
	r = update(&CONFIGMAPS, NULL, "default", "fin", &clear);
	assert_int_equal(r.code, 200);
	assert_true(r.deleted);
	res_free(&r);
	r = get(&CONFIGMAPS, "default", "fin");
	assert_int_equal(r.code, 404);
	res_free(&r);

	/* preconditions */
	r = create(&CONFIGMAPS, "default", "{\"metadata\":{\"name\":\"pre\"}}");
	res_free(&r);
	struct reg_delete_opts o = { .grace_seconds = -1, .precondition_uid = "nope" };
	r = del(&CONFIGMAPS, "default", "pre", &o);
	assert_int_equal(r.code, 409);
	res_free(&r);
	o = (struct reg_delete_opts){ .grace_seconds = -1,
				      .propagation = REG_PROPAGATE_FOREGROUND };
	r = del(&CONFIGMAPS, "default", "pre", &o);
	assert_int_equal(r.code, 200);
	assert_false(r.deleted);
	assert_string_equal(kc_json_get_str(r.obj, "metadata.finalizers[0]"), "foregroundDeletion");
	res_free(&r);

	/* a pod bound to a node waits for its node agent */
	r = create(&PODS, "default",
		   "{\"metadata\":{\"name\":\"bound\"},\"spec\":{\"nodeName\":\"n1\","
		   "\"terminationGracePeriodSeconds\":30,\"containers\":[{\"name\":\"c\","
		   "\"image\":\"nginx\"}]},\"status\":{\"phase\":\"Running\"}}");
	assert_int_equal(r.code, 200);
	res_free(&r);
	r = del(&PODS, "default", "bound", NULL);
	assert_int_equal(r.code, 200);
	assert_false(r.deleted);
	long long g = 0;
	assert_int_equal(kc_json_get_i64(r.obj, "metadata.deletionGracePeriodSeconds", &g), 0);
	assert_int_equal(g, 30);
	res_free(&r);
	o = (struct reg_delete_opts){ .grace_seconds = 0 };
	r = del(&PODS, "default", "bound", &o);
	assert_int_equal(r.code, 200);
	assert_true(r.deleted);
	res_free(&r);

	/* namespaces: terminating, no new content */
	r = create(&NAMESPACES, "", "{\"metadata\":{\"name\":\"gone\"}}");
	assert_int_equal(r.code, 200);
	assert_string_equal(kc_json_get_str(r.obj, "spec.finalizers[0]"), "kubernetes");
	res_free(&r);
	r = del(&NAMESPACES, "", "gone", NULL);
	assert_int_equal(r.code, 200);
	assert_false(r.deleted);
	assert_string_equal(kc_json_get_str(r.obj, "status.phase"), "Terminating");
	res_free(&r);
	r = create(&CONFIGMAPS, "gone", "{\"metadata\":{\"name\":\"late\"}}");
	assert_int_equal(r.code, 403);
	res_free(&r);
	r = del(&NAMESPACES, "", "default", NULL);
	assert_int_equal(r.code, 403);
	res_free(&r);
}

static void test_list_paging(void **state)
{
	(void)state;
	char buf[256];
	for (int i = 0; i < 7; i++) {
		snprintf(buf, sizeof buf, "{\"metadata\":{\"name\":\"p%d\",\"labels\":{\"k\":\"%s\"}}}",
			 i, i % 2 ? "odd" : "even");
		struct res r = create(&CONFIGMAPS, "other", buf);
		assert_int_equal(r.code, 200);
		res_free(&r);
	}
	struct res r = list(&CONFIGMAPS, "other", 0, NULL, NULL);
	assert_int_equal(r.code, 200);
	assert_int_equal(r.n, 7);
	assert_string_equal(r.names[0], "p0");
	assert_string_equal(r.names[6], "p6");
	assert_string_equal(r.cont, "");
	int64_t rev = r.revision;
	res_free(&r);

	r = list(&CONFIGMAPS, "other", 3, NULL, NULL);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.names[2], "p2");
	assert_true(r.cont[0]);
	assert_int_equal(r.remaining, 4);
	assert_int_equal(r.revision, rev);
	char cont[1024];
	snprintf(cont, sizeof cont, "%s", r.cont);
	res_free(&r);
	/* a change in between is not seen by the continuation (same revision) */
	struct res c = create(&CONFIGMAPS, "other", "{\"metadata\":{\"name\":\"p35\"}}");
	res_free(&c);
	r = list(&CONFIGMAPS, "other", 3, cont, NULL);
	assert_int_equal(r.code, 200);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.names[0], "p3");
	assert_string_equal(r.names[2], "p5");
	snprintf(cont, sizeof cont, "%s", r.cont);
	res_free(&r);
	r = list(&CONFIGMAPS, "other", 3, cont, NULL);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.names[0], "p6");
	assert_string_equal(r.cont, "");
	res_free(&r);

	r = list(&CONFIGMAPS, "other", 0, "garbage!", NULL);
	assert_int_equal(r.code, 400);
	res_free(&r);

	/* label selector with a limit: pages until enough matches */
	r = list(&CONFIGMAPS, "other", 2, NULL, "k=odd");
	assert_int_equal(r.code, 200);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.names[0], "p1");
	assert_string_equal(r.names[1], "p3");
	assert_true(r.cont[0]);
	snprintf(cont, sizeof cont, "%s", r.cont);
	res_free(&r);
	r = list(&CONFIGMAPS, "other", 2, cont, "k=odd");
	assert_int_equal(r.n, 1);
	assert_string_equal(r.names[0], "p5");
	res_free(&r);

	/* all namespaces */
	r = list(&CONFIGMAPS, "", 0, NULL, NULL);
	assert_true(r.n >= 8);
	res_free(&r);
}

struct wcol {
	struct kc_str log;
	bool closed;
};

static void on_watch(void *arg, struct watch_resp *resp)
{
	struct wcol *w = arg;
	if (!resp) {
		w->closed = true;
		return;
	}
	for (size_t i = 0; i < resp->nevents; i++)
		kc_str_addf(&w->log, "%s %.*s;", resp->events[i].type == MVCC_EVENT_PUT ? "PUT" : "DEL",
			    (int)resp->events[i].kv->key_len, (const char *)resp->events[i].kv->key);
}

static void test_watch_order(void **state)
{
	(void)state;
	struct wcol w = { .log = KC_STR_INIT };
	char prefix[256];
	registry_key(&CONFIGMAPS, "wns", NULL, prefix, sizeof prefix);
	uint8_t end[256];
	size_t n = mvcc_prefix_end(prefix, strlen(prefix), end);
	struct watch_create_req wr = { .key = prefix, .key_len = strlen(prefix), .range_end = end,
				       .range_end_len = n, .prev_kv = true };
	int64_t id = 0;
	kv_watch(&KV, L, &wr, on_watch, &w, &id);
	struct res r = create(&NAMESPACES, "", "{\"metadata\":{\"name\":\"wns\"}}");
	res_free(&r);
	r = create(&CONFIGMAPS, "wns", "{\"metadata\":{\"name\":\"a\"}}");
	res_free(&r);
	r = create(&CONFIGMAPS, "wns", "{\"metadata\":{\"name\":\"b\"}}");
	res_free(&r);
	struct setfn lab = { .path = "data", .value = "{\"x\":\"1\"}" };
	r = update(&CONFIGMAPS, NULL, "wns", "a", &lab);
	res_free(&r);
	r = del(&CONFIGMAPS, "wns", "b", NULL);
	res_free(&r);
	const char *want = "PUT /registry/configmaps/wns/a;PUT /registry/configmaps/wns/b;"
			   "PUT /registry/configmaps/wns/a;DEL /registry/configmaps/wns/b;";
	for (int i = 0; i < 200 && strcmp(w.log.buf, want); i++)
		loop_run_once(L, 10);
	assert_string_equal(w.log.buf, want);
	kv_watch_cancel(&KV, id);
	for (int i = 0; i < 200 && !w.closed; i++)
		loop_run_once(L, 10);
	assert_true(w.closed);
	kc_str_free(&w.log);
}

struct wslow {
	unsigned events;
	int cancel_code;
	bool closed;
};

static void on_watch_slow(void *arg, struct watch_resp *resp)
{
	struct wslow *w = arg;
	if (!resp)
		w->closed = true;
	else if (resp->kind == WATCH_RESP_CANCELED)
		w->cancel_code = resp->cancel_code;
	else
		w->events += (unsigned)resp->nevents;
}

/* A watch whose reply loop does not run while events arrive is ended with -KC_ELIMIT once its
 * queue passes the bound, instead of queueing without limit (the remote store's watch; the
 * in-process hub's bound is its own test's, test_watch). */
static void test_watch_slow(void **state)
{
	(void)state;
	if (!REMOTE)
		skip();
	struct loop *stuck = loop_new(NULL);
	struct wslow w = { 0 };
	char prefix[256];
	registry_key(&CONFIGMAPS, "wslow", NULL, prefix, sizeof prefix);
	uint8_t end[256];
	size_t n = mvcc_prefix_end(prefix, strlen(prefix), end);
	struct watch_create_req wr = { .key = prefix, .key_len = strlen(prefix), .range_end = end,
				       .range_end_len = n };
	int64_t id = 0;
	kv_watch(&KV, stuck, &wr, on_watch_slow, &w, &id);
	struct res r = create(&NAMESPACES, "", "{\"metadata\":{\"name\":\"wslow\"}}");
	res_free(&r);
	/* the watch stream is set up on the remote thread: events start at its creation */
	usleep(200000);
	for (int i = 0; i < 80; i++) {
		char body[64];
		snprintf(body, sizeof body, "{\"metadata\":{\"name\":\"c%d\"}}", i);
		r = create(&CONFIGMAPS, "wslow", body);
		assert_int_equal(r.code, 200);
		res_free(&r);
	}
	for (int i = 0; i < 500 && !w.closed; i++)
		loop_run_once(stuck, 10);
	assert_true(w.closed);
	assert_int_equal(w.cancel_code, -KC_ELIMIT);
	assert_true(w.events > 0 && w.events < 80);
	loop_free(stuck);
}

#define NSVC 24

static void test_service_allocation(void **state)
{
	(void)state;
	struct res rs[NSVC];
	memset(rs, 0, sizeof rs);
	/* concurrent creates from one loop: every txn races with the others */
	for (int i = 0; i < NSVC; i++) {
		char buf[256];
		snprintf(buf, sizeof buf,
			 "{\"metadata\":{\"name\":\"s%d\"},\"spec\":{\"type\":\"NodePort\",\"ports\":"
			 "[{\"port\":80}]}}", i);
		registry_create(R, L, &SERVICES, "default", js(buf), NULL, on_obj, &rs[i]);
	}
	for (int i = 0; i < NSVC; i++)
		wait_done(&rs[i]);
	char ips[NSVC][64];
	long long ports[NSVC];
	for (int i = 0; i < NSVC; i++) {
		assert_int_equal(rs[i].code, 200);
		snprintf(ips[i], sizeof ips[i], "%s", kc_json_get_str(rs[i].obj, "spec.clusterIP"));
		assert_memory_equal(ips[i], "10.43.", 6);
		assert_int_equal(kc_json_get_i64(rs[i].obj, "spec.ports[0].nodePort", &ports[i]), 0);
		assert_true(ports[i] >= 30000 && ports[i] <= 32767);
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(ips[i], ips[j]);
			assert_true(ports[i] != ports[j]);
		}
		res_free(&rs[i]);
	}
	/* an explicit IP already held: 422 */
	char buf[256];
	snprintf(buf, sizeof buf,
		 "{\"metadata\":{\"name\":\"dup\"},\"spec\":{\"clusterIP\":\"%s\",\"ports\":[{\"port\":1}]}}",
		 ips[0]);
	struct res r = create(&SERVICES, "default", buf);
	assert_int_equal(r.code, 422);
	res_free(&r);
	/* delete releases the IP: it can be taken again */
	r = del(&SERVICES, "default", "s0", NULL);
	assert_int_equal(r.code, 200);
	assert_true(r.deleted);
	res_free(&r);
	r = create(&SERVICES, "default", buf);
	assert_int_equal(r.code, 200);
	assert_string_equal(kc_json_get_str(r.obj, "spec.clusterIP"), ips[0]);
	res_free(&r);
	/* type change to ClusterIP releases the node port */
	struct setfn t = { .path = "spec.type", .value = "\"ClusterIP\"" };
	r = update(&SERVICES, NULL, "default", "s1", &t);
	assert_int_equal(r.code, 200);
	assert_null(kc_json_get(r.obj, "spec.ports[0].nodePort"));
	res_free(&r);
	snprintf(buf, sizeof buf,
		 "{\"metadata\":{\"name\":\"np\"},\"spec\":{\"type\":\"NodePort\",\"ports\":"
		 "[{\"port\":1,\"nodePort\":%lld}]}}", ports[1]);
	r = create(&SERVICES, "default", buf);
	assert_int_equal(r.code, 200);
	res_free(&r);
	/* headless: no IP */
	r = create(&SERVICES, "default", "{\"metadata\":{\"name\":\"hl\"},\"spec\":{\"clusterIP\":\"None\"}}");
	assert_int_equal(r.code, 200);
	assert_string_equal(kc_json_get_str(r.obj, "spec.clusterIP"), "None");
	res_free(&r);
}

static void test_status_subresource(void **state)
{
	(void)state;
	struct res r = create(&CONFIGMAPS, "default",
			      "{\"metadata\":{\"name\":\"st\"},\"spec\":{\"a\":1}}");
	long long gen = 0;
	kc_json_get_i64(r.obj, "metadata.generation", &gen);
	assert_int_equal(gen, 1);
	res_free(&r);
	struct setfn sp = { .path = "spec.a", .value = "2" };
	r = update(&CONFIGMAPS, NULL, "default", "st", &sp);
	kc_json_get_i64(r.obj, "metadata.generation", &gen);
	assert_int_equal(gen, 2);
	res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splice),
		cmocka_unit_test(test_crud),
		cmocka_unit_test(test_generate_name_and_invalid),
		cmocka_unit_test(test_finalizers_and_graceful),
		cmocka_unit_test(test_list_paging),
		cmocka_unit_test(test_watch_order),
		cmocka_unit_test(test_watch_slow),
		cmocka_unit_test(test_service_allocation),
		cmocka_unit_test(test_status_subresource),
	};
	int failed = cmocka_run_group_tests_name("registry on the in-process store", tests, setup,
						 teardown);
	REMOTE = true;
	failed += cmocka_run_group_tests_name("registry on the store's etcd gateway (remote)", tests,
					      setup, teardown);
	return failed;
}
