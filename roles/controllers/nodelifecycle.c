/* DESIGN: node lifecycle, timer-driven like kube-controller-manager's node monitor: every
 * node_monitor_ms it looks at each Node's health signals (its Lease in kube-node-lease and its
 * Ready condition's heartbeat). A signal counts from the moment this controller observed it
 * change (local monotonic time, so clock skew between nodes does not matter). A node silent for
 * node_grace_ms gets Ready (and the pressure conditions) Unknown, "NodeStatusUnknown", and its
 * pods lose Ready. Taints follow the Ready condition: Unknown -> node.kubernetes.io/unreachable,
 * False -> node.kubernetes.io/not-ready, each NoSchedule and NoExecute; True removes them.
 * Pods on a node with such a NoExecute taint are deleted once their toleration runs out
 * (tolerationSeconds from the taint's timeAdded; default_toleration_s when the pod has no
 * matching toleration, which is what DefaultTolerationSeconds admission would have given it;
 * never for a toleration without seconds). Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/map.h"
#include "net/loop.h"
#include "roles/controllers/ctrl_int.h"

#define UNREACHABLE "node.kubernetes.io/unreachable"
#define NOT_READY "node.kubernetes.io/not-ready"

struct nodelifecycle_ctrl {
	struct ctrl_ctx *c;
	struct loop_timer tick;
	struct kc_map health;  /* node name -> struct health */
	struct events *ev;
};

struct health {
	char renew[48];
	char heartbeat[48];
	uint64_t observed_ms;
	bool seen;
};

static void on_result(void *arg, struct api_result *res)
{
	if (res->rc == -KC_ECLOSED)
		return;
	if (res->rc < 0 || (res->status >= 300 && res->status != 404 && res->status != 409))
		log_info("node lifecycle request failed status=%d err=%s", res->status,
			 res->message);
}

static void patch(struct nodelifecycle_ctrl *n, const char *path, const char *type,
		  const cJSON *body)
{
	char *s = kc_json_print(body, NULL);
	apiclient_request(n->c->api, "PATCH", path, type, s, strlen(s), on_result, NULL);
	free(s);
}

static void mark_unknown(struct nodelifecycle_ctrl *n, const cJSON *node, const char *now)
{
	static const char *const types[] = { "Ready", "MemoryPressure", "DiskPressure",
					     "PIDPressure" };
	cJSON *p = kc_json_new_object();
	cJSON *conds = kc_json_new_array();
	for (size_t i = 0; i < 4; i++) {
		const cJSON *cur = ctrl_condition(node, "status.conditions", types[i]);
		cJSON *c = kc_json_new_object();
		kc_json_set_str(c, "type", types[i]);
		kc_json_set_str(c, "status", "Unknown");
		kc_json_set_str(c, "reason", "NodeStatusUnknown");
		kc_json_set_str(c, "message", "Kubelet stopped posting node status.");
		kc_json_set_str(c, "lastTransitionTime", now);
		const char *hb = cur ? kc_json_get_str(cur, "lastHeartbeatTime") : NULL;
		kc_json_set_str(c, "lastHeartbeatTime", hb ? hb : now);
		cJSON_AddItemToArray(conds, c);
	}
	kc_json_set(p, "status.conditions", conds);
	char *path = ctrl_path("/api/v1", NULL, "nodes", ctrl_str(node, "metadata.name"), "status");
	patch(n, path, "application/strategic-merge-patch+json", p);
	free(path);
	cJSON_Delete(p);
	events_record(n->ev, "Node", "v1", node, "Normal", "NodeNotReady",
		      "Node %s status is now: NodeNotReady", ctrl_str(node, "metadata.name"));
	/* Its pods are no longer ready. */
	const struct kc_map *set = informer_index(n->c->pods, n->c->pods_by_node,
						  ctrl_str(node, "metadata.name"));
	size_t pos = 0;
	void *v;
	while (set && kc_map_next(set, &pos, NULL, NULL, &v)) {
		if (!ctrl_pod_ready(v))
			continue;
		cJSON *pp = kc_json_new_object();
		cJSON *pc = kc_json_new_array();
		cJSON *c = kc_json_new_object();
		kc_json_set_str(c, "type", "Ready");
		kc_json_set_str(c, "status", "False");
		kc_json_set_str(c, "lastTransitionTime", now);
		cJSON_AddItemToArray(pc, c);
		kc_json_set(pp, "status.conditions", pc);
		char *pth = ctrl_path("/api/v1", ctrl_str(v, "metadata.namespace"), "pods",
				      ctrl_str(v, "metadata.name"), "status");
		patch(n, pth, "application/strategic-merge-patch+json", pp);
		free(pth);
		cJSON_Delete(pp);
	}
}

/* Brings the node's unreachable / not-ready taints in line with its Ready status. */
static void sync_taints(struct nodelifecycle_ctrl *n, const cJSON *node, const char *ready,
			const char *now)
{
	const char *want = NULL;
	if (!ready || !strcmp(ready, "Unknown"))
		want = UNREACHABLE;
	else if (!strcmp(ready, "False"))
		want = NOT_READY;
	cJSON *taints = kc_json_new_array();
	bool changed = false;
	bool have_ns = false, have_ne = false;
	cJSON *t;
	cJSON_ArrayForEach(t, kc_json_get(node, "spec.taints"))
	{
		const char *k = ctrl_str(t, "key");
		bool ours = !strcmp(k, UNREACHABLE) || !strcmp(k, NOT_READY);
		if (ours && (!want || strcmp(k, want))) {
			changed = true;
			continue;
		}
		if (ours && !strcmp(ctrl_str(t, "effect"), "NoSchedule"))
			have_ns = true;
		if (ours && !strcmp(ctrl_str(t, "effect"), "NoExecute"))
			have_ne = true;
		cJSON_AddItemToArray(taints, kc_json_dup(t));
	}
	if (want && !have_ns) {
		cJSON *x = kc_json_new_object();
		kc_json_set_str(x, "key", want);
		kc_json_set_str(x, "effect", "NoSchedule");
		cJSON_AddItemToArray(taints, x);
		changed = true;
	}
	if (want && !have_ne) {
		cJSON *x = kc_json_new_object();
		kc_json_set_str(x, "key", want);
		kc_json_set_str(x, "effect", "NoExecute");
		kc_json_set_str(x, "timeAdded", now);
		cJSON_AddItemToArray(taints, x);
		changed = true;
	}
	if (!changed) {
		cJSON_Delete(taints);
		return;
	}
	cJSON *p = kc_json_new_object();
	kc_json_set(p, "spec.taints", cJSON_GetArraySize(taints) ? taints : kc_json_new_null());
	if (!cJSON_GetArraySize(taints))
		cJSON_Delete(taints);
	kc_json_set_str(p, "metadata.resourceVersion", ctrl_str(node, "metadata.resourceVersion"));
	char *path = ctrl_path("/api/v1", NULL, "nodes", ctrl_str(node, "metadata.name"), NULL);
	patch(n, path, "application/merge-patch+json", p);
	free(path);
	cJSON_Delete(p);
}

static void evict(struct nodelifecycle_ctrl *n, const cJSON *node, int64_t now)
{
	cJSON *t;
	cJSON_ArrayForEach(t, kc_json_get(node, "spec.taints"))
	{
		const char *k = ctrl_str(t, "key");
		if (strcmp(ctrl_str(t, "effect"), "NoExecute") ||
		    (strcmp(k, UNREACHABLE) && strcmp(k, NOT_READY)))
			continue;
		int64_t added = apiclient_parse_time(ctrl_str(t, "timeAdded"));
		if (added < 0)
			added = now;
		const struct kc_map *set = informer_index(n->c->pods, n->c->pods_by_node,
							  ctrl_str(node, "metadata.name"));
		size_t pos = 0;
		void *v;
		while (set && kc_map_next(set, &pos, NULL, NULL, &v)) {
			const cJSON *pod = v;
			if (ctrl_is_deleting(pod))
				continue;
			long long secs = n->c->default_toleration_s;
			bool tolerated = false;
			cJSON *tol;
			cJSON_ArrayForEach(tol, kc_json_get(pod, "spec.tolerations"))
			{
				cJSON *one = kc_json_new_array();
				cJSON_AddItemToArray(one, kc_json_dup(tol));
				bool ok = ctrl_tolerates(one, t);
				cJSON_Delete(one);
				if (!ok)
					continue;
				tolerated = true;
				long long s;
				if (kc_json_get_i64(tol, "tolerationSeconds", &s) < 0) {
					secs = -1;
					break;
				}
				secs = s < 0 ? 0 : s;
			}
			(void)tolerated;
			if (secs < 0 || now < added + secs)
				continue;
			events_record(n->ev, "Pod", "v1", pod, "Normal", "TaintManagerEviction",
				      "Marking for deletion Pod %s/%s",
				      ctrl_str(pod, "metadata.namespace"),
				      ctrl_str(pod, "metadata.name"));
			char *path = ctrl_path("/api/v1", ctrl_str(pod, "metadata.namespace"), "pods",
					       ctrl_str(pod, "metadata.name"), NULL);
			apiclient_request(n->c->api, "DELETE", path, NULL, NULL, 0, on_result, NULL);
			free(path);
		}
	}
}

static void on_tick(struct loop *l, struct loop_timer *tm)
{
	struct nodelifecycle_ctrl *n = tm->data;
	struct ctrl_ctx *c = n->c;
	loop_timer_start(l, &n->tick, c->node_monitor_ms);
	if (!ctrl_synced(c))
		return;
	uint64_t now_ms = loop_now_ms(l);
	int64_t now = apiclient_wall_s(l);
	char nowbuf[32];
	apiclient_now_rfc3339(l, nowbuf, sizeof nowbuf);
	/* Forget nodes that are gone. */
	size_t pos = 0;
	const void *k;
	size_t klen;
	struct kc_map alive;
	kc_map_init(&alive, NULL);
	const cJSON *node;
	while (informer_next(c->nodes, &pos, &node)) {
		const char *name = ctrl_str(node, "metadata.name");
		kc_map_sput(&alive, name, (void *)1);
		struct health *h = kc_map_sget(&n->health, name);
		if (!h) {
			h = xcalloc(1, sizeof *h);
			kc_map_sput(&n->health, name, h);
		}
		const cJSON *lease = informer_get(c->leases, "kube-node-lease", name);
		const char *renew = lease ? ctrl_str(lease, "spec.renewTime") : "";
		const cJSON *rc = ctrl_condition(node, "status.conditions", "Ready");
		const char *hb = rc ? ctrl_str(rc, "lastHeartbeatTime") : "";
		if (!h->seen || strcmp(renew, h->renew) || strcmp(hb, h->heartbeat)) {
			snprintf(h->renew, sizeof h->renew, "%s", renew);
			snprintf(h->heartbeat, sizeof h->heartbeat, "%s", hb);
			h->observed_ms = now_ms;
			h->seen = true;
		}
		const char *ready = rc ? kc_json_get_str(rc, "status") : NULL;
		if (now_ms - h->observed_ms > c->node_grace_ms &&
		    (!ready || strcmp(ready, "Unknown"))) {
			log_info("node stopped posting status node=%s", name);
			mark_unknown(n, node, nowbuf);
			ready = "Unknown";
		}
		sync_taints(n, node, ready, nowbuf);
		evict(n, node, now);
	}
	pos = 0;
	struct kc_map *hm = &n->health;
	char *gone[64];
	size_t ngone = 0;
	while (ngone < 64 && kc_map_next(hm, &pos, &k, &klen, NULL))
		if (!kc_map_has(&alive, k, klen))
			gone[ngone++] = xstrndup(k, klen);
	for (size_t i = 0; i < ngone; i++) {
		kc_map_sdel(hm, gone[i]);
		free(gone[i]);
	}
	kc_map_free(&alive);
}

struct nodelifecycle_ctrl *nodelifecycle_ctrl_new(struct ctrl_ctx *c)
{
	struct nodelifecycle_ctrl *n = xcalloc(1, sizeof *n);
	n->c = c;
	kc_map_init(&n->health, free);
	n->ev = events_new(c->api, "node-controller", NULL);
	loop_timer_init(&n->tick, on_tick, n);
	loop_timer_start(c->loop, &n->tick, c->node_monitor_ms);
	return n;
}

void nodelifecycle_ctrl_free(struct nodelifecycle_ctrl *n)
{
	if (!n)
		return;
	loop_timer_stop(n->c->loop, &n->tick);
	events_free(n->ev);
	kc_map_free(&n->health);
	free(n);
}
