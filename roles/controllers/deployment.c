/* DESIGN: the Deployment controller. Keys are "ns/name" of Deployments; ReplicaSet events
 * enqueue their controlling Deployment. A sync reads the Deployment and the ReplicaSets it
 * controls from the informer caches, picks the new ReplicaSet (the one whose pod template,
 * pod-template-hash label aside, equals the Deployment's), creates it when missing (name
 * <deployment>-<hash>), fixes revision annotations, takes one rollout step (RollingUpdate:
 * scale the new RS up within maxSurge, else scale old ones down within maxUnavailable;
 * Recreate: old RSs to 0, wait for their pods to go, then the new RS to full size), cleans up
 * old RSs beyond revisionHistoryLimit once complete, and writes status and conditions
 * (merge-patched, only when changed). Every decision is recomputed from the caches: the
 * controller is level-triggered and idempotent. Loop thread only. */
#include "roles/controllers/deployment.h"

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

#define REVISION_ANN "deployment.kubernetes.io/revision"
#define DESIRED_ANN "deployment.kubernetes.io/desired-replicas"
#define MAXREP_ANN "deployment.kubernetes.io/max-replicas"
#define CHANGE_CAUSE_ANN "kubernetes.io/change-cause"
#define HASH_LABEL "pod-template-hash"

struct deployment_ctrl {
	struct ctrl_ctx *c;
	struct workqueue *q;
	struct events *ev;
};

/* ---- the pure algorithm ---- */

int rollout_int_or_percent(const cJSON *v, const char *def, long long total, bool round_up,
			   long long *out)
{
	const char *s = def;
	if (cJSON_IsNumber(v)) {
		long long n;
		if (kc_json_as_i64(v, &n) < 0 || n < 0)
			return -KC_EINVAL;
		*out = n;
		return 0;
	}
	if (cJSON_IsString(v))
		s = v->valuestring;
	if (!s)
		return -KC_EINVAL;
	size_t n = strlen(s);
	long long pct;
	if (n < 2 || s[n - 1] != '%')
		return -KC_EINVAL;
	char num[24];
	if (n - 1 >= sizeof num)
		return -KC_EINVAL;
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	if (kc_parse_i64(num, 0, 1000000, &pct) < 0)
		return -KC_EINVAL;
	long long prod = pct * total;
	*out = round_up ? (prod + 99) / 100 : prod / 100;
	return 0;
}

void rollout_surge_unavailable(const cJSON *rolling, long long replicas, long long *surge,
			       long long *unavailable)
{
	const cJSON *ms = rolling ? cJSON_GetObjectItemCaseSensitive(rolling, "maxSurge") : NULL;
	const cJSON *mu = rolling ? cJSON_GetObjectItemCaseSensitive(rolling, "maxUnavailable")
				  : NULL;
	if (rollout_int_or_percent(ms, "25%", replicas, true, surge) < 0)
		*surge = 0;
	if (rollout_int_or_percent(mu, "25%", replicas, false, unavailable) < 0)
		*unavailable = 0;
	if (*surge == 0 && *unavailable == 0)
		*unavailable = 1;
	if (*unavailable > replicas)
		*unavailable = replicas;
}

long long rollout_new_rs_replicas(long long replicas, long long surge, long long new_replicas,
				  long long all_replicas)
{
	long long max_total = replicas + surge;
	if (all_replicas >= max_total)
		return new_replicas;
	long long up = max_total - all_replicas;
	if (up > replicas - new_replicas)
		up = replicas - new_replicas;
	if (up < 0)
		up = 0;
	return new_replicas + up;
}

static int by_created(const void *a, const void *b)
{
	const struct rollout_rs *x = *(const struct rollout_rs *const *)a;
	const struct rollout_rs *y = *(const struct rollout_rs *const *)b;
	return x->created < y->created ? -1 : x->created > y->created;
}

long long rollout_scale_down_old(long long replicas, long long unavailable,
				 const struct rollout_rs *newrs, struct rollout_rs *old,
				 size_t nold)
{
	long long old_count = 0, all = newrs ? newrs->replicas : 0;
	for (size_t i = 0; i < nold; i++) {
		old[i].target = old[i].replicas;
		old_count += old[i].replicas;
		all += old[i].replicas;
	}
	if (old_count == 0)
		return 0;
	long long min_available = replicas - unavailable;
	long long new_unavail = newrs ? newrs->replicas - newrs->available : 0;
	if (new_unavail < 0)
		new_unavail = 0;
	long long max_down = all - min_available - new_unavail;
	if (max_down <= 0)
		return 0;
	struct rollout_rs **sorted = xcalloc(nold, sizeof *sorted);
	for (size_t i = 0; i < nold; i++)
		sorted[i] = &old[i];
	qsort(sorted, nold, sizeof *sorted, by_created);
	/* Unhealthy replicas first: they do not count as available anyway. */
	long long cleaned = 0;
	for (size_t i = 0; i < nold && cleaned < max_down; i++) {
		struct rollout_rs *r = sorted[i];
		long long unhealthy = r->target - r->available;
		if (r->target == 0 || unhealthy <= 0)
			continue;
		long long d = unhealthy < max_down - cleaned ? unhealthy : max_down - cleaned;
		r->target -= d;
		cleaned += d;
	}
	/* Then healthy ones, keeping min_available available pods. */
	long long available = newrs ? newrs->available : 0;
	for (size_t i = 0; i < nold; i++) {
		long long a = old[i].available < old[i].target ? old[i].available : old[i].target;
		available += a;
	}
	long long total_down = available - min_available;
	long long left = max_down - cleaned;
	if (total_down > left)
		total_down = left;
	long long done = 0;
	for (size_t i = 0; i < nold && done < total_down; i++) {
		struct rollout_rs *r = sorted[i];
		if (r->target == 0)
			continue;
		long long d = r->target < total_down - done ? r->target : total_down - done;
		r->target -= d;
		done += d;
	}
	free(sorted);
	return cleaned + done;
}

/* ---- the controller ---- */

struct rsinfo {
	const cJSON *rs;
	struct rollout_rs r;
	long long revision;
};

static void enqueue_owner(struct deployment_ctrl *d, const cJSON *rs)
{
	const cJSON *ref = ctrl_controller_ref(rs);
	if (!ref || strcmp(ctrl_str(ref, "kind"), "Deployment"))
		return;
	char key[512];
	snprintf(key, sizeof key, "%s/%s", ctrl_str(rs, "metadata.namespace"),
		 ctrl_str(ref, "name"));
	workqueue_add(d->q, key);
}

static void rs_add(void *arg, const cJSON *obj)
{
	enqueue_owner(arg, obj);
}

static void rs_update(void *arg, const cJSON *old, const cJSON *obj)
{
	enqueue_owner(arg, obj);
}

static void d_add(void *arg, const cJSON *obj)
{
	struct deployment_ctrl *d = arg;
	ctrl_enqueue_obj(d->q, obj);
}

static void d_update(void *arg, const cJSON *old, const cJSON *obj)
{
	d_add(arg, obj);
}

/* The template of rs without the pod-template-hash label, for comparison. */
static bool same_template(const cJSON *dtmpl, const cJSON *rs)
{
	const cJSON *t = kc_json_get(rs, "spec.template");
	if (!t || !dtmpl)
		return false;
	cJSON *copy = kc_json_dup(t);
	cJSON *labels = kc_json_get(copy, "metadata.labels");
	if (labels) {
		cJSON_DeleteItemFromObjectCaseSensitive(labels, HASH_LABEL);
		if (!labels->child)
			kc_json_delete(copy, "metadata.labels");
	}
	cJSON *dcopy = kc_json_dup(dtmpl);
	cJSON *dl = kc_json_get(dcopy, "metadata.labels");
	if (dl && !dl->child)
		kc_json_delete(dcopy, "metadata.labels");
	/* creationTimestamp: null is noise some clients add. */
	kc_json_delete(copy, "metadata.creationTimestamp");
	kc_json_delete(dcopy, "metadata.creationTimestamp");
	bool eq = kc_json_equal(copy, dcopy);
	cJSON_Delete(copy);
	cJSON_Delete(dcopy);
	return eq;
}

static long long revision_of(const cJSON *rs)
{
	const char *s = kc_json_get_str(rs, "metadata.annotations[" REVISION_ANN "]");
	long long v = 0;
	if (s)
		kc_parse_i64(s, 0, (1LL << 53), &v);
	return v;
}

static void set_condition(cJSON *status, const char *type, const char *st, const char *reason,
			  const char *msg, const char *now, bool refresh_update)
{
	cJSON *conds = cJSON_GetObjectItemCaseSensitive(status, "conditions");
	if (!conds) {
		conds = kc_json_new_array();
		kc_json_add(status, "conditions", conds);
	}
	cJSON *c, *found = NULL;
	cJSON_ArrayForEach(c, conds)
	{
		if (!strcmp(ctrl_str(c, "type"), type))
			found = c;
	}
	if (found && !strcmp(ctrl_str(found, "status"), st) &&
	    !strcmp(ctrl_str(found, "reason"), reason) && !refresh_update) {
		kc_json_set_str(found, "message", msg);
		return;
	}
	char ltt[32];
	snprintf(ltt, sizeof ltt, "%s", now);
	if (found && !strcmp(ctrl_str(found, "status"), st))
		snprintf(ltt, sizeof ltt, "%s", ctrl_str(found, "lastTransitionTime"));
	cJSON *n = kc_json_new_object();
	kc_json_set_str(n, "type", type);
	kc_json_set_str(n, "status", st);
	kc_json_set_str(n, "lastUpdateTime", now);
	kc_json_set_str(n, "lastTransitionTime", ltt);
	kc_json_set_str(n, "reason", reason);
	kc_json_set_str(n, "message", msg);
	if (found)
		cJSON_ReplaceItemViaPointer(conds, found, n);
	else
		cJSON_AddItemToArray(conds, n);
}

static void set_count(cJSON *st, const char *k, long long v)
{
	if (v != 0)
		kc_json_set_i64(st, k, v);
}

/* Merge patch of /status from old to new status: members gone become null. */
static cJSON *status_patch(const cJSON *old, const cJSON *nst)
{
	cJSON *patch = kc_json_new_object();
	cJSON *s = kc_json_dup(nst);
	cJSON *m;
	cJSON_ArrayForEach(m, old)
	{
		if (!cJSON_GetObjectItemCaseSensitive(s, m->string))
			kc_json_add(s, m->string, kc_json_new_null());
	}
	kc_json_add(patch, "status", s);
	return patch;
}

static void patch_rs_replicas(struct deployment_ctrl *d, struct ctrl_op *op, const cJSON *rs,
			      long long replicas, long long dreplicas, long long surge)
{
	cJSON *p = kc_json_new_object();
	kc_json_set_i64(p, "spec.replicas", replicas);
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", dreplicas);
	kc_json_set_str(p, "metadata.annotations[" DESIRED_ANN "]", buf);
	snprintf(buf, sizeof buf, "%lld", dreplicas + surge);
	kc_json_set_str(p, "metadata.annotations[" MAXREP_ANN "]", buf);
	kc_json_set_str(p, "metadata.resourceVersion", ctrl_str(rs, "metadata.resourceVersion"));
	char *path = ctrl_path("/apis/apps/v1", ctrl_str(rs, "metadata.namespace"), "replicasets",
			       ctrl_str(rs, "metadata.name"), NULL);
	ctrl_op_request(op, "PATCH", path, "application/merge-patch+json", p, NULL, NULL, NULL);
	free(path);
	cJSON_Delete(p);
}

static void record_scale(struct deployment_ctrl *d, const cJSON *dep, const cJSON *rs,
			 long long from, long long to)
{
	events_record(d->ev, "Deployment", "apps/v1", dep, "Normal", "ScalingReplicaSet",
		      "Scaled %s replica set %s from %lld to %lld", to > from ? "up" : "down",
		      ctrl_str(rs, "metadata.name"), from, to);
}

static void create_new_rs(struct deployment_ctrl *d, struct ctrl_op *op, const cJSON *dep,
			  long long replicas, long long revision, long long surge)
{
	const cJSON *tmpl = kc_json_get(dep, "spec.template");
	long long collisions = ctrl_int(dep, "status.collisionCount", -1);
	char hash[16];
	ctrl_template_hash(tmpl, collisions, hash, sizeof hash);
	const char *name = ctrl_str(dep, "metadata.name");
	const char *ns = ctrl_str(dep, "metadata.namespace");
	cJSON *rs = kc_json_new_object();
	kc_json_set_str(rs, "apiVersion", "apps/v1");
	kc_json_set_str(rs, "kind", "ReplicaSet");
	char rsname[320];
	snprintf(rsname, sizeof rsname, "%.240s-%s", name, hash);
	kc_json_set_str(rs, "metadata.name", rsname);
	kc_json_set_str(rs, "metadata.namespace", ns);
	cJSON *t = kc_json_dup(tmpl);
	kc_json_set_str(t, "metadata.labels[" HASH_LABEL "]", hash);
	cJSON *labels = kc_json_dup(kc_json_get(t, "metadata.labels"));
	kc_json_set(rs, "metadata.labels", labels);
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", revision);
	kc_json_set_str(rs, "metadata.annotations[" REVISION_ANN "]", buf);
	snprintf(buf, sizeof buf, "%lld", ctrl_int(dep, "spec.replicas", 1));
	kc_json_set_str(rs, "metadata.annotations[" DESIRED_ANN "]", buf);
	snprintf(buf, sizeof buf, "%lld", ctrl_int(dep, "spec.replicas", 1) + surge);
	kc_json_set_str(rs, "metadata.annotations[" MAXREP_ANN "]", buf);
	const char *cause = kc_json_get_str(dep, "metadata.annotations[" CHANGE_CAUSE_ANN "]");
	if (cause)
		kc_json_set_str(rs, "metadata.annotations[" CHANGE_CAUSE_ANN "]", cause);
	cJSON *refs = kc_json_new_array();
	cJSON_AddItemToArray(refs, ctrl_owner_ref(dep, "apps/v1", "Deployment"));
	kc_json_set(rs, "metadata.ownerReferences", refs);
	kc_json_set_i64(rs, "spec.replicas", replicas);
	long long mrs = ctrl_int(dep, "spec.minReadySeconds", 0);
	if (mrs)
		kc_json_set_i64(rs, "spec.minReadySeconds", mrs);
	cJSON *sel = kc_json_dup(kc_json_get(dep, "spec.selector"));
	kc_json_set(rs, "spec.selector", sel);
	kc_json_set_str(rs, "spec.selector.matchLabels[" HASH_LABEL "]", hash);
	kc_json_set(rs, "spec.template", t);
	char *path = ctrl_path("/apis/apps/v1", ns, "replicasets", NULL, NULL);
	static const int ok[] = { 409, 0 };
	ctrl_op_request(op, "POST", path, NULL, rs, ok, NULL, NULL);
	free(path);
	cJSON_Delete(rs);
	events_record(d->ev, "Deployment", "apps/v1", dep, "Normal", "ScalingReplicaSet",
		      "Scaled up replica set %s from 0 to %lld", rsname, replicas);
	/* A name taken by an RS with another template is a hash collision: count it, so the
	 * next sync hashes differently (status.collisionCount). */
	const cJSON *taken = informer_get(d->c->replicasets, ns, rsname);
	if (taken && !same_template(tmpl, taken)) {
		cJSON *p = kc_json_new_object();
		kc_json_set_i64(p, "status.collisionCount", collisions < 0 ? 1 : collisions + 1);
		char *sp = ctrl_path("/apis/apps/v1", ns, "deployments", name, "status");
		ctrl_op_request(op, "PATCH", sp, "application/merge-patch+json", p, NULL, NULL,
				NULL);
		free(sp);
		cJSON_Delete(p);
	}
}

static int by_revision(const void *a, const void *b)
{
	const struct rsinfo *x = a, *y = b;
	if (x->revision != y->revision)
		return x->revision < y->revision ? -1 : 1;
	return x->r.created < y->r.created ? -1 : x->r.created > y->r.created;
}

/* Pods of the old ReplicaSets still present (Recreate waits for them). */
static bool old_pods_running(struct deployment_ctrl *d, struct rsinfo *rss, size_t n,
			     const struct rsinfo *newrs)
{
	for (size_t i = 0; i < n; i++) {
		if (&rss[i] == newrs)
			continue;
		const struct kc_map *set = informer_index(d->c->pods, d->c->pods_by_owner,
							  ctrl_str(rss[i].rs, "metadata.uid"));
		size_t pos = 0;
		void *v;
		while (set && kc_map_next(set, &pos, NULL, NULL, &v)) {
			const char *phase = ctrl_str(v, "status.phase");
			if (strcmp(phase, "Succeeded") && strcmp(phase, "Failed"))
				return true;
		}
	}
	return false;
}

static void sync(void *arg, const char *key)
{
	struct deployment_ctrl *d = arg;
	struct ctrl_ctx *c = d->c;
	struct ctrl_op *op = ctrl_op_begin(c, d->q, key);
	if (!ctrl_synced(c)) {
		ctrl_op_requeue_after(op, 200);
		ctrl_op_end(op);
		return;
	}
	const cJSON *dep = informer_get_key(c->deployments, key);
	if (!dep) {
		ctrl_op_end(op);
		return;
	}
	int64_t now = apiclient_wall_s(c->loop);
	char nowbuf[32];
	apiclient_now_rfc3339(c->loop, nowbuf, sizeof nowbuf);
	const char *ns = ctrl_str(dep, "metadata.namespace");
	const char *name = ctrl_str(dep, "metadata.name");
	long long replicas = ctrl_int(dep, "spec.replicas", 1);
	bool paused = kc_json_get_bool(dep, "spec.paused", false);
	bool deleting = ctrl_is_deleting(dep);
	const char *stype = ctrl_str(dep, "spec.strategy.type");
	bool recreate = !strcmp(stype, "Recreate");
	const cJSON *rolling = kc_json_get(dep, "spec.strategy.rollingUpdate");
	long long surge = 0, unavail = 0;
	if (!recreate)
		rollout_surge_unavailable(rolling, replicas, &surge, &unavail);
	const cJSON *tmpl = kc_json_get(dep, "spec.template");

	/* The ReplicaSets this Deployment controls. */
	struct kc_vec v;
	kc_vec_init(&v, sizeof(struct rsinfo));
	const struct kc_map *set = informer_index(c->replicasets, c->rs_by_owner,
						  ctrl_str(dep, "metadata.uid"));
	size_t pos = 0;
	void *val;
	while (set && kc_map_next(set, &pos, NULL, NULL, &val)) {
		struct rsinfo ri = { .rs = val };
		ri.r.replicas = ctrl_int(val, "spec.replicas", 1);
		ri.r.target = ri.r.replicas;
		ri.r.available = ctrl_int(val, "status.availableReplicas", 0);
		ri.r.created = apiclient_parse_time(ctrl_str(val, "metadata.creationTimestamp"));
		ri.revision = revision_of(val);
		kc_vec_push(&v, &ri);
	}
	struct rsinfo *rss = v.data;
	size_t n = v.len;
	if (n > 1)
		qsort(rss, n, sizeof *rss, by_revision);
	struct rsinfo *newrs = NULL;
	long long max_old_rev = 0;
	for (size_t i = 0; i < n; i++) {
		if (!newrs && same_template(tmpl, rss[i].rs))
			newrs = &rss[i];
	}
	for (size_t i = 0; i < n; i++)
		if (&rss[i] != newrs && rss[i].revision > max_old_rev)
			max_old_rev = rss[i].revision;
	long long all_replicas = 0;
	for (size_t i = 0; i < n; i++)
		all_replicas += rss[i].r.replicas;

	bool scaled = false;
	bool created = false;
	if (!deleting) {
		/* The new RS carries the highest revision; the Deployment mirrors it. */
		if (newrs && newrs->revision <= max_old_rev && !paused) {
			cJSON *p = kc_json_new_object();
			char buf[32];
			snprintf(buf, sizeof buf, "%lld", max_old_rev + 1);
			kc_json_set_str(p, "metadata.annotations[" REVISION_ANN "]", buf);
			char *path = ctrl_path("/apis/apps/v1", ns, "replicasets",
					       ctrl_str(newrs->rs, "metadata.name"), NULL);
			ctrl_op_request(op, "PATCH", path, "application/merge-patch+json", p, NULL,
					NULL, NULL);
			free(path);
			cJSON_Delete(p);
			newrs->revision = max_old_rev + 1;
		}
		if (newrs) {
			char buf[32];
			snprintf(buf, sizeof buf, "%lld", newrs->revision);
			const char *cur = kc_json_get_str(dep, "metadata.annotations[" REVISION_ANN "]");
			if (!cur || strcmp(cur, buf)) {
				cJSON *p = kc_json_new_object();
				kc_json_set_str(p, "metadata.annotations[" REVISION_ANN "]", buf);
				char *path = ctrl_path("/apis/apps/v1", ns, "deployments", name, NULL);
				ctrl_op_request(op, "PATCH", path, "application/merge-patch+json", p,
						NULL, NULL, NULL);
				free(path);
				cJSON_Delete(p);
			}
		}
		if (paused) {
			/* No rollout while paused; a lone active RS still follows spec.replicas. */
			size_t active = 0;
			for (size_t i = 0; i < n; i++)
				if (rss[i].r.replicas > 0)
					active++;
			if (newrs && active <= 1 && newrs->r.replicas != replicas) {
				patch_rs_replicas(d, op, newrs->rs, replicas, replicas, surge);
				record_scale(d, dep, newrs->rs, newrs->r.replicas, replicas);
				scaled = true;
			}
		} else if (recreate) {
			bool old_active = false;
			for (size_t i = 0; i < n; i++) {
				if (&rss[i] == newrs || rss[i].r.replicas == 0)
					continue;
				old_active = true;
				patch_rs_replicas(d, op, rss[i].rs, 0, replicas, 0);
				record_scale(d, dep, rss[i].rs, rss[i].r.replicas, 0);
				scaled = true;
			}
			if (!old_active && !old_pods_running(d, rss, n, newrs)) {
				if (!newrs) {
					create_new_rs(d, op, dep, replicas, max_old_rev + 1, 0);
					created = true;
				} else if (newrs->r.replicas != replicas) {
					patch_rs_replicas(d, op, newrs->rs, replicas, replicas, 0);
					record_scale(d, dep, newrs->rs, newrs->r.replicas, replicas);
					scaled = true;
				}
			}
		} else {
			if (!newrs) {
				long long want = rollout_new_rs_replicas(replicas, surge, 0, all_replicas);
				create_new_rs(d, op, dep, want, max_old_rev + 1, surge);
				created = true;
			} else {
				long long want;
				if (newrs->r.replicas > replicas)
					want = replicas;
				else
					want = rollout_new_rs_replicas(replicas, surge, newrs->r.replicas,
								       all_replicas);
				if (want != newrs->r.replicas) {
					patch_rs_replicas(d, op, newrs->rs, want, replicas, surge);
					record_scale(d, dep, newrs->rs, newrs->r.replicas, want);
					scaled = true;
				}
			}
			if (!scaled && !created) {
				struct rollout_rs *old = xcalloc(n ? n : 1, sizeof *old);
				size_t nold = 0;
				const struct rsinfo **src = xcalloc(n ? n : 1, sizeof *src);
				for (size_t i = 0; i < n; i++) {
					if (&rss[i] == newrs)
						continue;
					src[nold] = &rss[i];
					old[nold++] = rss[i].r;
				}
				long long down = rollout_scale_down_old(
					replicas, unavail, newrs ? &newrs->r : NULL, old, nold);
				for (size_t i = 0; down > 0 && i < nold; i++) {
					if (old[i].target == old[i].replicas)
						continue;
					patch_rs_replicas(d, op, src[i]->rs, old[i].target, replicas,
							  surge);
					record_scale(d, dep, src[i]->rs, old[i].replicas,
						     old[i].target);
					scaled = true;
				}
				free(old);
				free(src);
			}
		}
	}

	/* Status, from what the ReplicaSets report now. */
	long long st_replicas = 0, st_ready = 0, st_avail = 0, st_updated = 0;
	for (size_t i = 0; i < n; i++) {
		st_replicas += ctrl_int(rss[i].rs, "status.replicas", 0);
		st_ready += ctrl_int(rss[i].rs, "status.readyReplicas", 0);
		st_avail += ctrl_int(rss[i].rs, "status.availableReplicas", 0);
	}
	if (newrs)
		st_updated = ctrl_int(newrs->rs, "status.replicas", 0);
	const cJSON *old_status = kc_json_get(dep, "status");
	cJSON *st = kc_json_new_object();
	set_count(st, "observedGeneration", ctrl_int(dep, "metadata.generation", 1));
	set_count(st, "replicas", st_replicas);
	set_count(st, "updatedReplicas", st_updated);
	set_count(st, "readyReplicas", st_ready);
	set_count(st, "availableReplicas", st_avail);
	long long unavailable = replicas - st_avail;
	set_count(st, "unavailableReplicas", unavailable > 0 ? unavailable : 0);
	long long coll = ctrl_int(dep, "status.collisionCount", -1);
	if (coll >= 0)
		kc_json_set_i64(st, "collisionCount", coll);
	if (old_status && kc_json_get(old_status, "conditions"))
		kc_json_set(st, "conditions", kc_json_dup(kc_json_get(old_status, "conditions")));

	if (st_avail >= replicas - unavail)
		set_condition(st, "Available", "True", "MinimumReplicasAvailable",
			      "Deployment has minimum availability.", nowbuf, false);
	else
		set_condition(st, "Available", "False", "MinimumReplicasUnavailable",
			      "Deployment does not have minimum availability.", nowbuf, false);
	long long deadline = ctrl_int(dep, "spec.progressDeadlineSeconds", 600);
	char msg[512];
	const char *newname = newrs ? ctrl_str(newrs->rs, "metadata.name") : "";
	bool complete = newrs && st_updated == replicas && st_replicas == replicas &&
			st_avail == replicas;
	const cJSON *prog = ctrl_condition(st, "conditions", "Progressing");
	if (paused) {
		set_condition(st, "Progressing", "Unknown", "DeploymentPaused",
			      "Deployment is paused", nowbuf, false);
	} else if (prog && !strcmp(ctrl_str(prog, "reason"), "DeploymentPaused")) {
		set_condition(st, "Progressing", "Unknown", "DeploymentResumed",
			      "Deployment is resumed", nowbuf, false);
	} else if (complete) {
		snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has successfully progressed.", newname);
		set_condition(st, "Progressing", "True", "NewReplicaSetAvailable", msg, nowbuf,
			      false);
	} else if (created) {
		char hash[16], rsname[320];
		ctrl_template_hash(tmpl, coll, hash, sizeof hash);
		snprintf(rsname, sizeof rsname, "%.240s-%s", name, hash);
		snprintf(msg, sizeof msg, "Created new replica set \"%s\"", rsname);
		set_condition(st, "Progressing", "True", "NewReplicaSetCreated", msg, nowbuf, true);
	} else if (newrs) {
		/* Progress: more updated, ready or available pods than last recorded, or fewer
		 * old ones. */
		bool progressed =
			!old_status || scaled ||
			st_updated > ctrl_int(old_status, "updatedReplicas", 0) ||
			st_ready > ctrl_int(old_status, "readyReplicas", 0) ||
			st_avail > ctrl_int(old_status, "availableReplicas", 0) ||
			st_replicas - st_updated <
				ctrl_int(old_status, "replicas", 0) -
					ctrl_int(old_status, "updatedReplicas", 0);
		const cJSON *pc = ctrl_condition(st, "conditions", "Progressing");
		bool timed_out = false;
		if (pc && !progressed && deadline > 0) {
			int64_t since = apiclient_parse_time(ctrl_str(pc, "lastUpdateTime"));
			if (since >= 0 && since + deadline <= now)
				timed_out = true;
			else if (since >= 0)
				ctrl_op_requeue_after(op, (uint64_t)(since + deadline - now) * 1000 + 100);
		}
		if (timed_out ||
		    (pc && !strcmp(ctrl_str(pc, "reason"), "ProgressDeadlineExceeded") &&
		     !progressed)) {
			snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has timed out progressing.",
				 newname);
			set_condition(st, "Progressing", "False", "ProgressDeadlineExceeded", msg,
				      nowbuf, false);
		} else if (progressed || !pc) {
			snprintf(msg, sizeof msg, "ReplicaSet \"%s\" is progressing.", newname);
			set_condition(st, "Progressing", "True", "ReplicaSetUpdated", msg, nowbuf,
				      true);
			if (deadline > 0)
				ctrl_op_requeue_after(op, (uint64_t)deadline * 1000 + 100);
		}
	}
	if (!old_status || !kc_json_equal(old_status, st)) {
		cJSON *p = status_patch(old_status, st);
		char *path = ctrl_path("/apis/apps/v1", ns, "deployments", name, "status");
		static const int ok404[] = { 404, 0 };
		ctrl_op_request(op, "PATCH", path, "application/merge-patch+json", p, ok404, NULL,
				NULL);
		free(path);
		cJSON_Delete(p);
	}
	cJSON_Delete(st);

	/* Old ReplicaSets beyond revisionHistoryLimit, once nothing is moving. */
	long long limit = ctrl_int(dep, "spec.revisionHistoryLimit", 10);
	if (!deleting && !scaled && !created && (complete || paused)) {
		size_t idle = 0;
		for (size_t i = 0; i < n; i++)
			if (&rss[i] != newrs && rss[i].r.replicas == 0 &&
			    ctrl_int(rss[i].rs, "status.replicas", 0) == 0 &&
			    !ctrl_is_deleting(rss[i].rs))
				idle++;
		for (size_t i = 0; i < n && (long long)idle > limit; i++) {
			if (&rss[i] == newrs || rss[i].r.replicas != 0 ||
			    ctrl_int(rss[i].rs, "status.replicas", 0) != 0 ||
			    ctrl_is_deleting(rss[i].rs))
				continue;
			char *path = ctrl_path("/apis/apps/v1", ns, "replicasets",
					       ctrl_str(rss[i].rs, "metadata.name"), NULL);
			static const int ok404[] = { 404, 0 };
			ctrl_op_request(op, "DELETE", path, NULL, NULL, ok404, NULL, NULL);
			free(path);
			idle--;
		}
	}
	kc_vec_free(&v);
	ctrl_op_end(op);
}

struct deployment_ctrl *deployment_ctrl_new(struct ctrl_ctx *c)
{
	struct deployment_ctrl *d = xcalloc(1, sizeof *d);
	d->c = c;
	struct workqueue_config qc = { .name = "deployment", .workers = 16 };
	d->q = workqueue_new(c->loop, &qc, sync, d);
	d->ev = events_new(c->api, "deployment-controller", NULL);
	struct informer_handlers dh = { .on_add = d_add, .on_update = d_update, .arg = d };
	informer_add_handlers(c->deployments, &dh);
	struct informer_handlers rh = { .on_add = rs_add, .on_update = rs_update,
					.on_delete = rs_add, .arg = d };
	informer_add_handlers(c->replicasets, &rh);
	return d;
}

void deployment_ctrl_free(struct deployment_ctrl *d)
{
	if (!d)
		return;
	workqueue_free(d->q);
	events_free(d->ev);
	free(d);
}
