/* DESIGN: the ReplicaSet controller, and with rc_kind the ReplicationController controller
 * (same engine: only the API path, the kind and the selector form differ). Keys are "ns/name".
 * A sync counts the active pods the RS controls (pods index by controller uid), adopts orphans
 * whose labels match (patching ownerReferences), and when its expectations are satisfied
 * creates (generateName "<rs>-") or deletes the difference, at most BURST per sync. Expectations
 * (client-go's ControllerExpectations): the creates and deletes issued but not yet seen through
 * the pod informer; a sync does not manage replicas again until they are observed (or 5 minutes
 * pass), so a slow watch never causes over-creation. Status (replicas, fullyLabeledReplicas,
 * readyReplicas, availableReplicas with minReadySeconds, observedGeneration) is merge-patched
 * when it changes. Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/str.h"
#include "lib/vec.h"
#include "net/loop.h"
#include "roles/controllers/ctrl_int.h"

#define BURST 500
#define EXPECT_TTL_MS (5u * 60 * 1000)

struct replicaset_ctrl {
	struct ctrl_ctx *c;
	bool rc_kind;
	const char *kind, *api_version, *prefix, *plural;
	struct informer *inf;
	struct workqueue *q;
	struct events *ev;
	struct kc_map expect;  /* key -> struct expect */
};

struct expect {
	long long add;
	long long del;
	uint64_t set_ms;
};

struct create_ctx {
	struct replicaset_ctrl *r;
	char key[512];
	bool del;
};

static void lower(struct replicaset_ctrl *r, const char *key, bool del)
{
	struct expect *e = kc_map_sget(&r->expect, key);
	if (!e)
		return;
	if (del)
		e->del--;
	else
		e->add--;
}

static bool satisfied(struct replicaset_ctrl *r, const char *key)
{
	struct expect *e = kc_map_sget(&r->expect, key);
	if (!e)
		return true;
	if ((e->add <= 0 && e->del <= 0) ||
	    loop_now_ms(r->c->loop) - e->set_ms > EXPECT_TTL_MS) {
		kc_map_sdel(&r->expect, key);
		return true;
	}
	return false;
}

/* The RS key controlling pod, if it is one of ours. */
static bool owner_key(struct replicaset_ctrl *r, const cJSON *pod, char *key, size_t cap)
{
	const cJSON *ref = ctrl_controller_ref(pod);
	if (!ref || strcmp(ctrl_str(ref, "kind"), r->kind))
		return false;
	snprintf(key, cap, "%s/%s", ctrl_str(pod, "metadata.namespace"), ctrl_str(ref, "name"));
	return true;
}

/* Orphans: enqueue every RS of the namespace whose selector matches. */
static void enqueue_matching(struct replicaset_ctrl *r, const cJSON *pod)
{
	const char *ns = ctrl_str(pod, "metadata.namespace");
	size_t pos = 0;
	const cJSON *rs;
	while (informer_next(r->inf, &pos, &rs)) {
		if (strcmp(ctrl_str(rs, "metadata.namespace"), ns))
			continue;
		if (ctrl_selector_matches(kc_json_get(rs, "spec.selector"), r->rc_kind, pod))
			ctrl_enqueue_obj(r->q, rs);
	}
}

static void pod_add(void *arg, const cJSON *pod)
{
	struct replicaset_ctrl *r = arg;
	char key[512];
	if (owner_key(r, pod, key, sizeof key)) {
		if (ctrl_is_deleting(pod))
			lower(r, key, true);
		else
			lower(r, key, false);
		workqueue_add(r->q, key);
	} else if (!ctrl_controller_ref(pod) && !ctrl_is_deleting(pod)) {
		enqueue_matching(r, pod);
	}
}

static void pod_update(void *arg, const cJSON *old, const cJSON *pod)
{
	struct replicaset_ctrl *r = arg;
	if (old == pod)
		return;  /* resync: the RS informer's resync covers it */
	char key[512];
	if (ctrl_is_deleting(pod) && !ctrl_is_deleting(old) && owner_key(r, pod, key, sizeof key))
		lower(r, key, true);
	if (owner_key(r, pod, key, sizeof key))
		workqueue_add(r->q, key);
	else if (!ctrl_controller_ref(pod))
		enqueue_matching(r, pod);
	char okey[512];
	if (owner_key(r, old, okey, sizeof okey) &&
	    (!owner_key(r, pod, key, sizeof key) || strcmp(key, okey)))
		workqueue_add(r->q, okey);
}

static void pod_delete(void *arg, const cJSON *pod)
{
	struct replicaset_ctrl *r = arg;
	char key[512];
	if (!owner_key(r, pod, key, sizeof key))
		return;
	if (!ctrl_is_deleting(pod))
		lower(r, key, true);
	workqueue_add(r->q, key);
}

static void rs_add(void *arg, const cJSON *obj)
{
	struct replicaset_ctrl *r = arg;
	ctrl_enqueue_obj(r->q, obj);
}

static void rs_update(void *arg, const cJSON *old, const cJSON *obj)
{
	rs_add(arg, obj);
}

static void rs_delete(void *arg, const cJSON *obj)
{
	struct replicaset_ctrl *r = arg;
	char key[512];
	kc_map_sdel(&r->expect, informer_key(obj, key, sizeof key));
}

static void on_create(void *arg, struct api_result *res)
{
	struct create_ctx *cc = arg;
	if (res->rc != -KC_ECLOSED && (res->rc < 0 || res->status >= 300)) {
		/* The pod will never be observed: do not wait for it. */
		lower(cc->r, cc->key, cc->del);
		if (!cc->del && res->status != 0)
			log_info("pod creation failed rs=%s status=%d err=%s", cc->key,
				 res->status, res->message);
	}
	else if (res->rc == 0 && !cc->del && res->obj) {
		const cJSON *rs = informer_get_key(cc->r->inf, cc->key);
		if (rs)
			events_record(cc->r->ev, cc->r->kind, cc->r->api_version, rs, "Normal",
				      "SuccessfulCreate", "Created pod: %s",
				      ctrl_str(res->obj, "metadata.name"));
	}
	free(cc);
}

struct podref {
	const cJSON *pod;
	int rank;
	int64_t created;
};

/* Deletion order: unscheduled, then pending, then not ready, then newest first. */
static int rank_of(const cJSON *pod)
{
	if (!*ctrl_str(pod, "spec.nodeName"))
		return 0;
	const char *phase = ctrl_str(pod, "status.phase");
	if (!strcmp(phase, "Pending") || !*phase)
		return 1;
	if (!strcmp(phase, "Unknown"))
		return 2;
	if (!ctrl_pod_ready(pod))
		return 3;
	return 4;
}

static int by_rank(const void *a, const void *b)
{
	const struct podref *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return x->created > y->created ? -1 : x->created < y->created;
}

static cJSON *pod_from_template(struct replicaset_ctrl *r, const cJSON *rs)
{
	const cJSON *t = kc_json_get(rs, "spec.template");
	cJSON *pod = kc_json_new_object();
	kc_json_set_str(pod, "apiVersion", "v1");
	kc_json_set_str(pod, "kind", "Pod");
	const cJSON *tm = kc_json_get(t, "metadata");
	cJSON *md = tm ? kc_json_dup(tm) : kc_json_new_object();
	kc_json_delete(md, "name");
	kc_json_delete(md, "namespace");
	kc_json_delete(md, "creationTimestamp");
	kc_json_delete(md, "resourceVersion");
	kc_json_delete(md, "uid");
	kc_json_set(pod, "metadata", md);
	char gen[300];
	snprintf(gen, sizeof gen, "%.240s-", ctrl_str(rs, "metadata.name"));
	kc_json_set_str(pod, "metadata.generateName", gen);
	kc_json_set_str(pod, "metadata.namespace", ctrl_str(rs, "metadata.namespace"));
	cJSON *refs = kc_json_new_array();
	cJSON_AddItemToArray(refs, ctrl_owner_ref(rs, r->api_version, r->kind));
	kc_json_set(pod, "metadata.ownerReferences", refs);
	const cJSON *spec = kc_json_get(t, "spec");
	kc_json_set(pod, "spec", spec ? kc_json_dup(spec) : kc_json_new_object());
	return pod;
}

static void adopt(struct replicaset_ctrl *r, struct ctrl_op *op, const cJSON *rs,
		  const cJSON *pod)
{
	cJSON *p = kc_json_new_object();
	cJSON *refs = kc_json_dup(kc_json_get(pod, "metadata.ownerReferences"));
	if (!refs)
		refs = kc_json_new_array();
	cJSON_AddItemToArray(refs, ctrl_owner_ref(rs, r->api_version, r->kind));
	kc_json_set(p, "metadata.ownerReferences", refs);
	kc_json_set_str(p, "metadata.uid", ctrl_str(pod, "metadata.uid"));
	kc_json_set_str(p, "metadata.resourceVersion", ctrl_str(pod, "metadata.resourceVersion"));
	char *path = ctrl_path("/api/v1", ctrl_str(pod, "metadata.namespace"), "pods",
			       ctrl_str(pod, "metadata.name"), NULL);
	static const int ok[] = { 404, 0 };
	ctrl_op_request(op, "PATCH", path, "application/merge-patch+json", p, ok, NULL, NULL);
	free(path);
	cJSON_Delete(p);
}

static void sync(void *arg, const char *key)
{
	struct replicaset_ctrl *r = arg;
	struct ctrl_ctx *c = r->c;
	struct ctrl_op *op = ctrl_op_begin(c, r->q, key);
	if (!ctrl_synced(c)) {
		ctrl_op_requeue_after(op, 200);
		ctrl_op_end(op);
		return;
	}
	const cJSON *rs = informer_get_key(r->inf, key);
	if (!rs) {
		kc_map_sdel(&r->expect, key);
		ctrl_op_end(op);
		return;
	}
	const char *ns = ctrl_str(rs, "metadata.namespace");
	const char *uid = ctrl_str(rs, "metadata.uid");
	const cJSON *sel = kc_json_get(rs, "spec.selector");
	long long want = ctrl_int(rs, "spec.replicas", 1);
	long long min_ready = ctrl_int(rs, "spec.minReadySeconds", 0);
	int64_t now = apiclient_wall_s(c->loop);
	bool deleting = ctrl_is_deleting(rs);

	struct kc_vec pods;
	kc_vec_init(&pods, sizeof(struct podref));
	const struct kc_map *set = informer_index(c->pods, c->pods_by_owner, uid);
	size_t pos = 0;
	void *v;
	while (set && kc_map_next(set, &pos, NULL, NULL, &v)) {
		if (!ctrl_pod_active(v))
			continue;
		struct podref pr = { .pod = v, .rank = rank_of(v),
				     .created = apiclient_parse_time(
					     ctrl_str(v, "metadata.creationTimestamp")) };
		kc_vec_push(&pods, &pr);
	}
	/* Orphans with matching labels are adopted (they count from the next sync on). */
	if (!deleting) {
		set = informer_index(c->pods, c->pods_orphan_ns, ns);
		pos = 0;
		while (set && kc_map_next(set, &pos, NULL, NULL, &v))
			if (ctrl_pod_active(v) && ctrl_selector_matches(sel, r->rc_kind, v))
				adopt(r, op, rs, v);
	}

	long long diff = (long long)pods.len - want;
	if (!deleting && diff != 0 && satisfied(r, key)) {
		if (diff < 0) {
			long long n = -diff > BURST ? BURST : -diff;
			struct expect *e = xcalloc(1, sizeof *e);
			e->add = n;
			e->set_ms = loop_now_ms(c->loop);
			kc_map_sput(&r->expect, key, e);
			cJSON *pod = pod_from_template(r, rs);
			char *path = ctrl_path("/api/v1", ns, "pods", NULL, NULL);
			for (long long i = 0; i < n; i++) {
				struct create_ctx *cc = xcalloc(1, sizeof *cc);
				cc->r = r;
				snprintf(cc->key, sizeof cc->key, "%s", key);
				ctrl_op_request(op, "POST", path, NULL, pod, NULL, on_create, cc);
			}
			free(path);
			cJSON_Delete(pod);
			if (n < -diff)
				ctrl_op_requeue_after(op, 10);
		} else {
			long long n = diff > BURST ? BURST : diff;
			qsort(pods.data, pods.len, sizeof(struct podref), by_rank);
			struct expect *e = xcalloc(1, sizeof *e);
			e->del = n;
			e->set_ms = loop_now_ms(c->loop);
			kc_map_sput(&r->expect, key, e);
			for (long long i = 0; i < n; i++) {
				struct podref *pr = kc_vec_at(&pods, (size_t)i);
				struct create_ctx *cc = xcalloc(1, sizeof *cc);
				cc->r = r;
				cc->del = true;
				snprintf(cc->key, sizeof cc->key, "%s", key);
				char *path = ctrl_path("/api/v1", ns, "pods",
						       ctrl_str(pr->pod, "metadata.name"), NULL);
				static const int ok404[] = { 404, 0 };
				ctrl_op_request(op, "DELETE", path, NULL, NULL, ok404, on_create, cc);
				free(path);
				events_record(r->ev, r->kind, r->api_version, rs, "Normal",
					      "SuccessfulDelete", "Deleted pod: %s",
					      ctrl_str(pr->pod, "metadata.name"));
			}
		}
	}

	/* Status from the pods seen now. */
	long long ready = 0, avail = 0, labeled = 0;
	const cJSON *tlabels = kc_json_get(rs, "spec.template.metadata.labels");
	int64_t next_avail = -1;
	for (size_t i = 0; i < pods.len; i++) {
		const cJSON *pod = ((struct podref *)kc_vec_at(&pods, i))->pod;
		bool full = true;
		cJSON *kv;
		const cJSON *pl = kc_json_get(pod, "metadata.labels");
		cJSON_ArrayForEach(kv, tlabels)
		{
			const cJSON *pv = pl ? cJSON_GetObjectItemCaseSensitive(pl, kv->string) : NULL;
			if (!cJSON_IsString(pv) || !cJSON_IsString(kv) ||
			    strcmp(pv->valuestring, kv->valuestring))
				full = false;
		}
		if (full)
			labeled++;
		if (ctrl_pod_ready(pod)) {
			ready++;
			if (ctrl_pod_available(pod, min_ready, now)) {
				avail++;
			} else {
				int64_t at = ctrl_pod_ready_since(pod) + min_ready;
				if (next_avail < 0 || at < next_avail)
					next_avail = at;
			}
		}
	}
	if (next_avail >= 0)
		ctrl_op_requeue_after(op, (uint64_t)(next_avail > now ? next_avail - now : 0) * 1000 +
						  100);
	const cJSON *old = kc_json_get(rs, "status");
	cJSON *st = kc_json_new_object();
	kc_json_set_i64(st, "replicas", (long long)pods.len);
	if (labeled)
		kc_json_set_i64(st, "fullyLabeledReplicas", labeled);
	if (ready)
		kc_json_set_i64(st, "readyReplicas", ready);
	if (avail)
		kc_json_set_i64(st, "availableReplicas", avail);
	kc_json_set_i64(st, "observedGeneration", ctrl_int(rs, "metadata.generation", 1));
	if (old && kc_json_get(old, "conditions"))
		kc_json_set(st, "conditions", kc_json_dup(kc_json_get(old, "conditions")));
	if (!old || !kc_json_equal(old, st)) {
		cJSON *p = kc_json_new_object();
		cJSON *s = kc_json_dup(st);
		cJSON *m;
		cJSON_ArrayForEach(m, old)
		{
			if (!cJSON_GetObjectItemCaseSensitive(s, m->string))
				kc_json_add(s, m->string, kc_json_new_null());
		}
		kc_json_add(p, "status", s);
		char *path = ctrl_path(r->prefix, ns, r->plural, ctrl_str(rs, "metadata.name"),
				       "status");
		static const int ok404[] = { 404, 0 };
		ctrl_op_request(op, "PATCH", path, "application/merge-patch+json", p, ok404, NULL,
				NULL);
		free(path);
		cJSON_Delete(p);
	}
	cJSON_Delete(st);
	kc_vec_free(&pods);
	ctrl_op_end(op);
}

struct replicaset_ctrl *replicaset_ctrl_new(struct ctrl_ctx *c, bool rc_kind)
{
	struct replicaset_ctrl *r = xcalloc(1, sizeof *r);
	r->c = c;
	r->rc_kind = rc_kind;
	r->kind = rc_kind ? "ReplicationController" : "ReplicaSet";
	r->api_version = rc_kind ? "v1" : "apps/v1";
	r->prefix = rc_kind ? "/api/v1" : "/apis/apps/v1";
	r->plural = rc_kind ? "replicationcontrollers" : "replicasets";
	r->inf = rc_kind ? c->rcs : c->replicasets;
	kc_map_init(&r->expect, free);
	struct workqueue_config qc = { .name = r->plural, .workers = 16 };
	r->q = workqueue_new(c->loop, &qc, sync, r);
	r->ev = events_new(c->api, rc_kind ? "replication-controller" : "replicaset-controller",
			   NULL);
	struct informer_handlers h = { .on_add = rs_add, .on_update = rs_update,
				       .on_delete = rs_delete, .arg = r };
	informer_add_handlers(r->inf, &h);
	struct informer_handlers ph = { .on_add = pod_add, .on_update = pod_update,
					.on_delete = pod_delete, .arg = r };
	informer_add_handlers(c->pods, &ph);
	return r;
}

void replicaset_ctrl_free(struct replicaset_ctrl *r)
{
	if (!r)
		return;
	workqueue_free(r->q);
	events_free(r->ev);
	kc_map_free(&r->expect);
	free(r);
}
