/* DESIGN: the gc keeps an index of every object under /registry/ (key -> uid, namespace, owner
 * uids, deletion state), built from one list and kept current by one store watcher, on one API
 * loop thread. After changes (debounced) and every few seconds it scans the index and issues
 * registry writes: delete dependents whose owners are all gone or being deleted in the
 * foreground, remove ownerReferences of dependents of an owner deleted with the orphan
 * finalizer, remove the foregroundDeletion / orphan finalizers once no dependent is left, and
 * empty terminating namespaces before removing their "kubernetes" finalizer. At most one write
 * per object is in flight. The RBAC objects seen by the watcher feed auth_rbac_update. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles/apiserver/gc.h"

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/map.h"
#include "net/loop.h"
#include "roles/apiserver/auth.h"
#include "roles/apiserver/registry.h"
#include "store/kv.h"

#define GC_DEBOUNCE_MS 200
#define GC_PERIOD_MS 10000
#define GC_MAX_OWNERS 8

struct gobj {
	char *key;
	const struct api_resource *res;
	char uid[40];
	char ns[REG_NAME_MAX + 1];
	char name[REG_NAME_MAX + 1];
	char owners[GC_MAX_OWNERS][40];
	unsigned nowners;
	bool deleting;
	bool fg;        /* foregroundDeletion finalizer */
	bool orphan;    /* orphan finalizer */
	bool ns_final;  /* a namespace whose spec.finalizers holds "kubernetes" */
	bool pending;   /* a write is in flight */
};

struct gc {
	struct registry *reg;
	struct auth *auth;
	struct loop *loop;
	struct kc_map objs;   /* key -> struct gobj */
	struct kc_map uids;   /* uid -> struct gobj (borrowed) */
	struct loop_timer timer;
	int64_t watch_id;
	bool watching;
	bool stopping;
	unsigned inflight;
};

static _Atomic int gc_live;

bool gc_stopped(void)
{
	return atomic_load(&gc_live) == 0;
}

static void gobj_free(void *p)
{
	struct gobj *o = p;
	if (o) {
		free(o->key);
		free(o);
	}
}

static const struct api_resource *res_for_key(const struct schema *s, const char *key)
{
	const struct api_resource *best = NULL;
	size_t bl = 0;
	for (size_t i = 0; i < schema_resource_count(s); i++) {
		const struct api_resource *r = schema_resource_at(s, i);
		size_t l = strlen(r->storage_prefix);
		if (l > bl && !strncmp(key, r->storage_prefix, l) && key[l] == '/') {
			best = r;
			bl = l;
		}
	}
	return best;
}

static bool is_rbac(const struct api_resource *r)
{
	return !strcmp(r->group, "rbac.authorization.k8s.io");
}

static bool has_str(const cJSON *arr, const char *s)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, arr)
	{
		if (cJSON_IsString(x) && !strcmp(x->valuestring, s))
			return true;
	}
	return false;
}

static void forget(struct gc *g, const char *key)
{
	struct gobj *o = kc_map_sget(&g->objs, key);
	if (!o)
		return;
	if (o->uid[0] && kc_map_sget(&g->uids, o->uid) == o)
		kc_map_sdel(&g->uids, o->uid);
	kc_map_sdel(&g->objs, key);
}

static void index_put(struct gc *g, const char *key, const cJSON *obj)
{
	const struct schema *s = registry_schema(g->reg);
	const struct api_resource *r = res_for_key(s, key);
	if (!r)
		return;
	if (g->auth && is_rbac(r))
		auth_rbac_update(g->auth, r->plural, obj, false);
	struct gobj *o = kc_map_sget(&g->objs, key);
	bool pending = o && o->pending;
	forget(g, key);
	o = xcalloc(1, sizeof *o);
	o->key = xstrdup(key);
	o->res = r;
	o->pending = pending;
	const char *v;
	if ((v = kc_json_get_str(obj, "metadata.uid")))
		snprintf(o->uid, sizeof o->uid, "%s", v);
	if ((v = kc_json_get_str(obj, "metadata.namespace")))
		snprintf(o->ns, sizeof o->ns, "%s", v);
	if ((v = kc_json_get_str(obj, "metadata.name")))
		snprintf(o->name, sizeof o->name, "%s", v);
	const cJSON *ref;
	cJSON_ArrayForEach(ref, kc_json_get(obj, "metadata.ownerReferences"))
	{
		const char *u = kc_json_get_str(ref, "uid");
		if (u && o->nowners < GC_MAX_OWNERS)
			snprintf(o->owners[o->nowners++], sizeof o->owners[0], "%s", u);
	}
	o->deleting = kc_json_get(obj, "metadata.deletionTimestamp") != NULL;
	const cJSON *fin = kc_json_get(obj, "metadata.finalizers");
	o->fg = has_str(fin, "foregroundDeletion");
	o->orphan = has_str(fin, "orphan");
	o->ns_final = !r->group[0] && !strcmp(r->plural, "namespaces") &&
		      has_str(kc_json_get(obj, "spec.finalizers"), "kubernetes");
	kc_map_sput(&g->objs, key, o);
	if (o->uid[0])
		kc_map_sput(&g->uids, o->uid, o);
}

static void index_del(struct gc *g, const char *key, const cJSON *prev)
{
	if (g->auth && prev) {
		const struct api_resource *r = res_for_key(registry_schema(g->reg), key);
		if (r && is_rbac(r))
			auth_rbac_update(g->auth, r->plural, prev, true);
	}
	forget(g, key);
}

/* ---- actions ---- */

struct act {
	struct gc *g;
	char key[REG_KEY_MAX];
	char owner_uid[40];
	const char *finalizer;
};

static struct act *act_new(struct gc *g, struct gobj *o)
{
	struct act *a = xcalloc(1, sizeof *a);
	a->g = g;
	snprintf(a->key, sizeof a->key, "%s", o->key);
	o->pending = true;
	g->inflight++;
	return a;
}

static void gc_free(struct gc *g);
static void gc_list(struct gc *g);

static void act_done(void *arg, struct reg_result *res, const struct api_error *e)
{
	struct act *a = arg;
	struct gc *g = a->g;
	struct gobj *o = kc_map_sget(&g->objs, a->key);
	if (o)
		o->pending = false;
	if (e && e->code != 404 && e->code != 409)
		log_warn("garbage collector write failed key=%s code=%d err=%s", a->key, e->code,
			 e->message);
	g->inflight--;
	free(a);
	if (g->stopping && !g->watching && g->inflight == 0)
		gc_free(g);
}

static void del_obj(struct gc *g, struct gobj *o)
{
	struct act *a = act_new(g, o);
	struct reg_delete_opts d = { .grace_seconds = -1, .propagation = REG_PROPAGATE_BACKGROUND };
	log_debug("garbage collector deletes key=%s", o->key);
	registry_delete(g->reg, g->loop, o->res, o->ns, o->name, &d, act_done, a);
}

static int fn_drop_finalizer(void *arg, cJSON **obj, struct api_error *e)
{
	struct act *a = arg;
	cJSON *fin = kc_json_get(*obj, "metadata.finalizers");
	for (int i = cJSON_GetArraySize(fin) - 1; i >= 0; i--) {
		cJSON *x = cJSON_GetArrayItem(fin, i);
		if (cJSON_IsString(x) && !strcmp(x->valuestring, a->finalizer))
			cJSON_DeleteItemFromArray(fin, i);
	}
	if (fin && cJSON_GetArraySize(fin) == 0)
		kc_json_delete(*obj, "metadata.finalizers");
	return 0;
}

static int fn_drop_ns_finalizer(void *arg, cJSON **obj, struct api_error *e)
{
	cJSON *fin = kc_json_get(*obj, "spec.finalizers");
	for (int i = cJSON_GetArraySize(fin) - 1; i >= 0; i--) {
		cJSON *x = cJSON_GetArrayItem(fin, i);
		if (cJSON_IsString(x) && !strcmp(x->valuestring, "kubernetes"))
			cJSON_DeleteItemFromArray(fin, i);
	}
	return 0;
}

static int fn_drop_owner(void *arg, cJSON **obj, struct api_error *e)
{
	struct act *a = arg;
	cJSON *refs = kc_json_get(*obj, "metadata.ownerReferences");
	for (int i = cJSON_GetArraySize(refs) - 1; i >= 0; i--) {
		const char *u = kc_json_get_str(cJSON_GetArrayItem(refs, i), "uid");
		if (u && !strcmp(u, a->owner_uid))
			cJSON_DeleteItemFromArray(refs, i);
	}
	if (refs && cJSON_GetArraySize(refs) == 0)
		kc_json_delete(*obj, "metadata.ownerReferences");
	return 0;
}

static void update_obj(struct gc *g, struct gobj *o, reg_mutate_fn fn, const char *fin,
		       const char *owner)
{
	struct act *a = act_new(g, o);
	a->finalizer = fin;
	if (owner)
		snprintf(a->owner_uid, sizeof a->owner_uid, "%s", owner);
	struct reg_write_opts wo = { .skip_validation = true };
	registry_update(g->reg, g->loop, o->res, NULL, o->ns, o->name, fn, a, &wo, act_done, a);
}

/* One pass over the index. */
static void gc_run(struct gc *g)
{
	if (g->stopping)
		return;
	/* owner uid -> number of dependents; namespace -> number of objects */
	struct kc_map deps, nscount;
	kc_map_init(&deps, NULL);
	kc_map_init(&nscount, NULL);
	size_t pos = 0;
	void *v;
	while (kc_map_next(&g->objs, &pos, NULL, NULL, &v)) {
		struct gobj *o = v;
		for (unsigned i = 0; i < o->nowners; i++) {
			uintptr_t n = (uintptr_t)kc_map_sget(&deps, o->owners[i]);
			kc_map_sput(&deps, o->owners[i], (void *)(n + 1));
		}
		if (o->ns[0] && o->res->namespaced) {
			uintptr_t n = (uintptr_t)kc_map_sget(&nscount, o->ns);
			kc_map_sput(&nscount, o->ns, (void *)(n + 1));
		}
	}
	pos = 0;
	while (kc_map_next(&g->objs, &pos, NULL, NULL, &v)) {
		struct gobj *o = v;
		if (o->pending)
			continue;
		/* dependents */
		if (o->nowners && !o->deleting) {
			bool alive = false, fg = false;
			const char *orphan_owner = NULL;
			for (unsigned i = 0; i < o->nowners; i++) {
				struct gobj *ow = kc_map_sget(&g->uids, o->owners[i]);
				if (!ow)
					continue;
				if (ow->deleting && ow->orphan)
					orphan_owner = o->owners[i];
				else if (ow->deleting && ow->fg)
					fg = true;
				else
					alive = true;
			}
			if (orphan_owner) {
				update_obj(g, o, fn_drop_owner, NULL, orphan_owner);
				continue;
			}
			if (!alive || fg) {
				del_obj(g, o);
				continue;
			}
		}
		if (!o->deleting)
			continue;
		bool has_deps = o->uid[0] && kc_map_sget(&deps, o->uid) != NULL;
		if (o->orphan && !has_deps) {
			update_obj(g, o, fn_drop_finalizer, "orphan", NULL);
			continue;
		}
		if (o->fg && !o->orphan && !has_deps) {
			update_obj(g, o, fn_drop_finalizer, "foregroundDeletion", NULL);
			continue;
		}
		if (o->ns_final) {
			if (!kc_map_sget(&nscount, o->name)) {
				update_obj(g, o, fn_drop_ns_finalizer, NULL, NULL);
				continue;
			}
		}
	}
	/* the content of terminating namespaces */
	pos = 0;
	while (kc_map_next(&g->objs, &pos, NULL, NULL, &v)) {
		struct gobj *o = v;
		if (o->pending || o->deleting || !o->ns[0] || !o->res->namespaced)
			continue;
		char nskey[REG_KEY_MAX];
		snprintf(nskey, sizeof nskey, "/registry/namespaces/%s", o->ns);
		struct gobj *ns = kc_map_sget(&g->objs, nskey);
		if (ns && ns->deleting && (o->res->verbs & API_VERB_DELETE))
			del_obj(g, o);
	}
	kc_map_free(&deps);
	kc_map_free(&nscount);
}

static void on_timer(struct loop *l, struct loop_timer *t)
{
	struct gc *g = t->data;
	gc_run(g);
	loop_timer_start(l, &g->timer, GC_PERIOD_MS);
}

static void kick(struct gc *g)
{
	loop_timer_start(g->loop, &g->timer, GC_DEBOUNCE_MS);
}

static char *key_str(const struct mvcc_kv *kv)
{
	char *k = xmalloc(kv->key_len + 1);
	memcpy(k, kv->key, kv->key_len);
	k[kv->key_len] = '\0';
	return k;
}

static void on_watch(void *arg, struct watch_resp *resp)
{
	struct gc *g = arg;
	if (!resp) {
		g->watching = false;
		if (g->stopping) {
			if (g->inflight == 0)
				gc_free(g);
			return;
		}
		log_warn("garbage collector watch ended; restarting");
		/* restart from scratch: list again */
		struct gc *ng = g;
		kc_map_free(&ng->objs);
		kc_map_free(&ng->uids);
		kc_map_init(&ng->objs, gobj_free);
		kc_map_init(&ng->uids, NULL);
		gc_list(ng);
		return;
	}
	if (resp->kind != WATCH_RESP_EVENTS)
		return;
	for (size_t i = 0; i < resp->nevents; i++) {
		const struct watch_event *ev = &resp->events[i];
		char *key = key_str(ev->kv);
		if (ev->type == MVCC_EVENT_DELETE) {
			cJSON *prev = ev->prev_kv ? registry_parse(ev->prev_kv->value,
								   ev->prev_kv->value_len, 0)
						  : NULL;
			index_del(g, key, prev);
			cJSON_Delete(prev);
		} else {
			cJSON *obj = registry_parse(ev->kv->value, ev->kv->value_len,
						    ev->kv->mod_revision);
			if (obj)
				index_put(g, key, obj);
			cJSON_Delete(obj);
		}
		free(key);
	}
	kick(g);
}

static void list_done(void *arg, int rc, struct mvcc_range_resp *resp, const struct kc_err *err)
{
	struct gc *g = arg;
	g->inflight--;
	if (g->stopping) {
		if (g->inflight == 0 && !g->watching)
			gc_free(g);
		return;
	}
	if (rc < 0) {
		log_warn("garbage collector list failed err=%s; retrying", err ? err->msg : "");
		gc_list(g);
		return;
	}
	for (size_t i = 0; i < resp->nkvs; i++) {
		char *key = key_str(&resp->kvs[i]);
		cJSON *obj = registry_parse(resp->kvs[i].value, resp->kvs[i].value_len,
					    resp->kvs[i].mod_revision);
		if (obj)
			index_put(g, key, obj);
		cJSON_Delete(obj);
		free(key);
	}
	static const char prefix[] = "/registry/";
	uint8_t end[sizeof prefix];
	size_t n = mvcc_prefix_end(prefix, sizeof prefix - 1, end);
	struct watch_create_req wr = { .key = prefix, .key_len = sizeof prefix - 1,
				       .range_end = end, .range_end_len = n,
				       .start_revision = resp->revision + 1, .prev_kv = true };
	g->watching = true;
	kv_watch(registry_store(g->reg), g->loop, &wr, on_watch, g, &g->watch_id);
	kick(g);
}

static void gc_list(struct gc *g)
{
	static const char prefix[] = "/registry/";
	uint8_t end[sizeof prefix];
	size_t n = mvcc_prefix_end(prefix, sizeof prefix - 1, end);
	struct mvcc_range_req req = { .key = prefix, .key_len = sizeof prefix - 1,
				      .range_end = end, .range_end_len = n };
	g->inflight++;
	kv_range(registry_store(g->reg), g->loop, &req, true, list_done, g);
}

struct gc *gc_start(struct registry *r, struct auth *a, struct loop *l)
{
	struct gc *g = xcalloc(1, sizeof *g);
	g->reg = r;
	g->auth = a;
	g->loop = l;
	kc_map_init(&g->objs, gobj_free);
	kc_map_init(&g->uids, NULL);
	loop_timer_init(&g->timer, on_timer, g);
	atomic_fetch_add(&gc_live, 1);
	gc_list(g);
	return g;
}

static void gc_free(struct gc *g)
{
	loop_timer_stop(g->loop, &g->timer);
	kc_map_free(&g->uids);
	kc_map_free(&g->objs);
	free(g);
	atomic_fetch_sub(&gc_live, 1);
}

void gc_stop(struct gc *g)
{
	if (!g)
		return;
	g->stopping = true;
	loop_timer_stop(g->loop, &g->timer);
	if (g->watching)
		kv_watch_cancel(registry_store(g->reg), g->watch_id);
	else if (g->inflight == 0)
		gc_free(g);
}
