/* DESIGN: the endpoints and endpointslice controllers (one sync per Service computes both from
 * the same pod scan). Keys are "ns/name" of Services. For a Service with a selector: every
 * pod of the namespace matching it, with a podIP and not terminal, becomes an address (ready
 * pods in addresses, others in notReadyAddresses unless publishNotReadyAddresses); ports are
 * resolved per pod (a named targetPort through the pod's container ports), and pods with the
 * same resolved ports share a subset. The Endpoints object carries the Service's name and
 * labels; the EndpointSlice ("<svc>-<hash>", label kubernetes.io/service-name, owned by the
 * Service) lists each endpoint with ready/serving/terminating conditions. Both are written only
 * when they differ from the cached copy. Services without a selector are left alone (their
 * Endpoints belong to the user). Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/str.h"
#include "net/loop.h"
#include "roles/controllers/ctrl_int.h"

#define MANAGED_BY "endpointslice-controller.k8s.io"

struct endpoints_ctrl {
	struct ctrl_ctx *c;
	struct workqueue *q;
};

static void svc_add(void *arg, const cJSON *obj)
{
	struct endpoints_ctrl *e = arg;
	ctrl_enqueue_obj(e->q, obj);
}

static void svc_update(void *arg, const cJSON *old, const cJSON *obj)
{
	svc_add(arg, obj);
}

static void enqueue_for_pod(struct endpoints_ctrl *e, const cJSON *pod)
{
	const char *ns = ctrl_str(pod, "metadata.namespace");
	size_t pos = 0;
	const cJSON *svc;
	while (informer_next(e->c->services, &pos, &svc)) {
		if (strcmp(ctrl_str(svc, "metadata.namespace"), ns))
			continue;
		if (ctrl_selector_matches(kc_json_get(svc, "spec.selector"), true, pod))
			ctrl_enqueue_obj(e->q, svc);
	}
}

static void pod_add(void *arg, const cJSON *pod)
{
	enqueue_for_pod(arg, pod);
}

static void pod_update(void *arg, const cJSON *old, const cJSON *pod)
{
	if (old == pod)
		return;
	/* Only what endpoints show matters. */
	if (!strcmp(ctrl_str(old, "status.podIP"), ctrl_str(pod, "status.podIP")) &&
	    ctrl_pod_ready(old) == ctrl_pod_ready(pod) &&
	    ctrl_is_deleting(old) == ctrl_is_deleting(pod) &&
	    !strcmp(ctrl_str(old, "status.phase"), ctrl_str(pod, "status.phase")) &&
	    kc_json_equal(kc_json_get(old, "metadata.labels"), kc_json_get(pod, "metadata.labels")))
		return;
	enqueue_for_pod(arg, old);
	enqueue_for_pod(arg, pod);
}

static void ep_change(void *arg, const cJSON *old, const cJSON *obj)
{
	struct endpoints_ctrl *e = arg;
	if (old == obj)
		return;
	/* Someone else changed an Endpoints object: make it right again. */
	if (informer_get(e->c->services, ctrl_str(obj, "metadata.namespace"),
			 ctrl_str(obj, "metadata.name")))
		ctrl_enqueue_obj(e->q, obj);
}

/* The container port named 'name' on pod, or -1. */
static long long named_port(const cJSON *pod, const char *name, const char *proto)
{
	cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(pod, "spec.containers"))
	{
		cJSON *p;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "ports"))
		{
			const char *pp = ctrl_str(p, "protocol");
			if (!*pp)
				pp = "TCP";
			if (!strcmp(ctrl_str(p, "name"), name) && !strcmp(pp, proto))
				return ctrl_int(p, "containerPort", -1);
		}
	}
	return -1;
}

/* EndpointPorts for pod: [{name, port, protocol}], or NULL when a named port is missing. */
static cJSON *pod_ports(const cJSON *svc, const cJSON *pod)
{
	cJSON *out = kc_json_new_array();
	cJSON *sp;
	cJSON_ArrayForEach(sp, kc_json_get(svc, "spec.ports"))
	{
		const char *proto = ctrl_str(sp, "protocol");
		if (!*proto)
			proto = "TCP";
		const cJSON *tp = cJSON_GetObjectItemCaseSensitive(sp, "targetPort");
		long long port;
		if (cJSON_IsString(tp)) {
			port = named_port(pod, tp->valuestring, proto);
			if (port < 0) {
				long long n;
				port = kc_parse_i64(tp->valuestring, 1, 65535, &n) == 0 ? n : -1;
			}
		} else if (cJSON_IsNumber(tp)) {
			port = ctrl_int(sp, "targetPort", -1);
		} else {
			port = ctrl_int(sp, "port", -1);
		}
		if (port <= 0)
			continue;
		cJSON *p = kc_json_new_object();
		const char *name = kc_json_get_str(sp, "name");
		if (name && *name)
			kc_json_set_str(p, "name", name);
		kc_json_set_i64(p, "port", port);
		kc_json_set_str(p, "protocol", proto);
		const char *ap = kc_json_get_str(sp, "appProtocol");
		if (ap)
			kc_json_set_str(p, "appProtocol", ap);
		cJSON_AddItemToArray(out, p);
	}
	return out;
}

static cJSON *address(const cJSON *pod)
{
	cJSON *a = kc_json_new_object();
	kc_json_set_str(a, "ip", ctrl_str(pod, "status.podIP"));
	const char *node = ctrl_str(pod, "spec.nodeName");
	if (*node)
		kc_json_set_str(a, "nodeName", node);
	kc_json_set_str(a, "targetRef.kind", "Pod");
	kc_json_set_str(a, "targetRef.namespace", ctrl_str(pod, "metadata.namespace"));
	kc_json_set_str(a, "targetRef.name", ctrl_str(pod, "metadata.name"));
	kc_json_set_str(a, "targetRef.uid", ctrl_str(pod, "metadata.uid"));
	return a;
}

static int by_ip(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(ctrl_str(x, "ip"), ctrl_str(y, "ip"));
}

static void sort_addresses(cJSON *arr)
{
	int n = cJSON_GetArraySize(arr);
	if (n < 2)
		return;
	cJSON **items = xcalloc((size_t)n, sizeof *items);
	for (int i = 0; i < n; i++)
		items[i] = cJSON_DetachItemFromArray(arr, 0);
	qsort(items, (size_t)n, sizeof *items, by_ip);
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, items[i]);
	free(items);
}

static void write_obj(struct ctrl_op *op, const char *collection, const char *name,
		      const cJSON *cur, cJSON *want)
{
	if (cur) {
		kc_json_set_str(want, "metadata.resourceVersion",
				ctrl_str(cur, "metadata.resourceVersion"));
		char *path = xasprintf("%s/%s", collection, name);
		static const int ok[] = { 404, 0 };
		ctrl_op_request(op, "PUT", path, NULL, want, ok, NULL, NULL);
		free(path);
	} else {
		static const int ok[] = { 409, 0 };
		ctrl_op_request(op, "POST", collection, NULL, want, ok, NULL, NULL);
	}
}

/* The parts of an object the controller owns, for change detection. */
static bool same(const cJSON *cur, const cJSON *want, const char *const *fields, size_t n)
{
	if (!cur)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!kc_json_equal(kc_json_get(cur, fields[i]), kc_json_get(want, fields[i])))
			return false;
	return true;
}

static void sync(void *arg, const char *key)
{
	struct endpoints_ctrl *e = arg;
	struct ctrl_ctx *c = e->c;
	struct ctrl_op *op = ctrl_op_begin(c, e->q, key);
	if (!ctrl_synced(c)) {
		ctrl_op_requeue_after(op, 200);
		ctrl_op_end(op);
		return;
	}
	const cJSON *svc = informer_get_key(c->services, key);
	char ns[254], name[254];
	const char *slash = strchr(key, '/');
	snprintf(ns, sizeof ns, "%.*s", slash ? (int)(slash - key) : 0, key);
	snprintf(name, sizeof name, "%s", slash ? slash + 1 : key);
	const cJSON *cur = informer_get(c->endpoints, ns, name);
	char *coll = ctrl_path("/api/v1", ns, "endpoints", NULL, NULL);
	if (!svc) {
		if (cur) {
			char *path = xasprintf("%s/%s", coll, name);
			static const int ok[] = { 404, 0 };
			ctrl_op_request(op, "DELETE", path, NULL, NULL, ok, NULL, NULL);
			free(path);
		}
		free(coll);
		ctrl_op_end(op);  /* slices go with the Service (ownerReferences, gc) */
		return;
	}
	const cJSON *sel = kc_json_get(svc, "spec.selector");
	if (!sel || !sel->child) {
		free(coll);
		ctrl_op_end(op);
		return;
	}
	bool publish = kc_json_get_bool(svc, "spec.publishNotReadyAddresses", false);

	/* subsets: ports JSON -> {addresses, notReadyAddresses} */
	cJSON *subsets = kc_json_new_array();
	cJSON *sl_eps = kc_json_new_array();
	cJSON *sl_ports = NULL;
	const struct kc_map *set = informer_index(c->pods, c->pods_by_ns, ns);
	size_t pos = 0;
	void *v;
	while (set && kc_map_next(set, &pos, NULL, NULL, &v)) {
		const cJSON *pod = v;
		const char *ip = ctrl_str(pod, "status.podIP");
		if (!*ip || !ctrl_selector_matches(sel, true, pod))
			continue;
		const char *phase = ctrl_str(pod, "status.phase");
		if (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))
			continue;
		bool terminating = ctrl_is_deleting(pod);
		bool ready = ctrl_pod_ready(pod);
		if (terminating && !publish)
			ready = false;
		cJSON *ports = pod_ports(svc, pod);
		if (!terminating || publish) {
			cJSON *sub = NULL, *s;
			cJSON_ArrayForEach(s, subsets)
			{
				if (kc_json_equal(cJSON_GetObjectItemCaseSensitive(s, "ports"), ports))
					sub = s;
			}
			if (!sub) {
				sub = kc_json_new_object();
				if (cJSON_GetArraySize(ports) > 0)
					kc_json_add(sub, "ports", kc_json_dup(ports));
				cJSON_AddItemToArray(subsets, sub);
			}
			const char *list = ready || publish ? "addresses" : "notReadyAddresses";
			cJSON *arr = cJSON_GetObjectItemCaseSensitive(sub, list);
			if (!arr) {
				arr = kc_json_new_array();
				kc_json_add(sub, list, arr);
			}
			cJSON_AddItemToArray(arr, address(pod));
		}
		/* The slice. */
		cJSON *ep = kc_json_new_object();
		cJSON *addrs = kc_json_new_array();
		cJSON_AddItemToArray(addrs, kc_json_new_str(ip));
		kc_json_add(ep, "addresses", addrs);
		kc_json_set_bool(ep, "conditions.ready", ready || (publish && !terminating));
		kc_json_set_bool(ep, "conditions.serving", ctrl_pod_ready(pod));
		kc_json_set_bool(ep, "conditions.terminating", terminating);
		const char *node = ctrl_str(pod, "spec.nodeName");
		if (*node)
			kc_json_set_str(ep, "nodeName", node);
		kc_json_set_str(ep, "targetRef.kind", "Pod");
		kc_json_set_str(ep, "targetRef.namespace", ns);
		kc_json_set_str(ep, "targetRef.name", ctrl_str(pod, "metadata.name"));
		kc_json_set_str(ep, "targetRef.uid", ctrl_str(pod, "metadata.uid"));
		cJSON_AddItemToArray(sl_eps, ep);
		if (!sl_ports)
			sl_ports = ports;
		else
			cJSON_Delete(ports);
	}
	cJSON *s;
	cJSON_ArrayForEach(s, subsets)
	{
		sort_addresses(cJSON_GetObjectItemCaseSensitive(s, "addresses"));
		sort_addresses(cJSON_GetObjectItemCaseSensitive(s, "notReadyAddresses"));
	}

	/* Endpoints */
	cJSON *want = kc_json_new_object();
	kc_json_set_str(want, "apiVersion", "v1");
	kc_json_set_str(want, "kind", "Endpoints");
	kc_json_set_str(want, "metadata.name", name);
	kc_json_set_str(want, "metadata.namespace", ns);
	const cJSON *labels = kc_json_get(svc, "metadata.labels");
	if (labels)
		kc_json_set(want, "metadata.labels", kc_json_dup(labels));
	if (cJSON_GetArraySize(subsets) > 0)
		kc_json_add(want, "subsets", subsets);
	else
		cJSON_Delete(subsets);
	static const char *const ep_fields[] = { "subsets", "metadata.labels" };
	if (!same(cur, want, ep_fields, 2))
		write_obj(op, coll, name, cur, want);
	cJSON_Delete(want);
	free(coll);

	/* EndpointSlice: the one this controller manages for the Service. */
	const cJSON *slice = NULL;
	pos = 0;
	const cJSON *it;
	while (informer_next(c->slices, &pos, &it)) {
		if (!strcmp(ctrl_str(it, "metadata.namespace"), ns) &&
		    !strcmp(ctrl_str(it, "metadata.labels[kubernetes.io/service-name]"), name)) {
			slice = it;
			break;
		}
	}
	cJSON *sw = kc_json_new_object();
	kc_json_set_str(sw, "apiVersion", "discovery.k8s.io/v1");
	kc_json_set_str(sw, "kind", "EndpointSlice");
	kc_json_set_str(sw, "metadata.namespace", ns);
	if (slice) {
		kc_json_set_str(sw, "metadata.name", ctrl_str(slice, "metadata.name"));
	} else {
		char gen[300];
		snprintf(gen, sizeof gen, "%.240s-", name);
		kc_json_set_str(sw, "metadata.generateName", gen);
	}
	kc_json_set_str(sw, "metadata.labels[kubernetes.io/service-name]", name);
	kc_json_set_str(sw, "metadata.labels[endpointslice.kubernetes.io/managed-by]", MANAGED_BY);
	cJSON *refs = kc_json_new_array();
	cJSON *ref = ctrl_owner_ref(svc, "v1", "Service");
	cJSON_AddItemToArray(refs, ref);
	kc_json_set(sw, "metadata.ownerReferences", refs);
	kc_json_set_str(sw, "addressType", "IPv4");
	kc_json_add(sw, "endpoints", sl_eps);
	if (!sl_ports) {
		sl_ports = kc_json_new_array();
		cJSON *sp;
		cJSON_ArrayForEach(sp, kc_json_get(svc, "spec.ports"))
		{
			cJSON *p = kc_json_new_object();
			if (kc_json_get_str(sp, "name") && *ctrl_str(sp, "name"))
				kc_json_set_str(p, "name", ctrl_str(sp, "name"));
			const cJSON *tp = cJSON_GetObjectItemCaseSensitive(sp, "targetPort");
			if (cJSON_IsNumber(tp))
				kc_json_set_i64(p, "port", ctrl_int(sp, "targetPort", 0));
			kc_json_set_str(p, "protocol",
					*ctrl_str(sp, "protocol") ? ctrl_str(sp, "protocol") : "TCP");
			cJSON_AddItemToArray(sl_ports, p);
		}
	}
	kc_json_add(sw, "ports", sl_ports);
	static const char *const sl_fields[] = { "endpoints", "ports", "addressType" };
	if (!same(slice, sw, sl_fields, 3)) {
		char *scoll = ctrl_path("/apis/discovery.k8s.io/v1", ns, "endpointslices", NULL, NULL);
		write_obj(op, scoll, slice ? ctrl_str(slice, "metadata.name") : "", slice, sw);
		free(scoll);
	}
	cJSON_Delete(sw);
	ctrl_op_end(op);
}

struct endpoints_ctrl *endpoints_ctrl_new(struct ctrl_ctx *c)
{
	struct endpoints_ctrl *e = xcalloc(1, sizeof *e);
	e->c = c;
	struct workqueue_config qc = { .name = "endpoints", .workers = 8 };
	e->q = workqueue_new(c->loop, &qc, sync, e);
	struct informer_handlers sh = { .on_add = svc_add, .on_update = svc_update,
					.on_delete = svc_add, .arg = e };
	informer_add_handlers(c->services, &sh);
	struct informer_handlers ph = { .on_add = pod_add, .on_update = pod_update,
					.on_delete = pod_add, .arg = e };
	informer_add_handlers(c->pods, &ph);
	struct informer_handlers eh = { .on_update = ep_change, .arg = e };
	informer_add_handlers(c->endpoints, &eh);
	return e;
}

void endpoints_ctrl_free(struct endpoints_ctrl *e)
{
	if (!e)
		return;
	workqueue_free(e->q);
	free(e);
}
