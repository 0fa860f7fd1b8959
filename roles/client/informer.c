/* DESIGN: the cache is a map from "ns/name" to the object's cJSON tree (owned). Secondary
 * indexes map a value to a set (map key -> tree). The informer walks a small state machine on
 * its loop: LIST (pages accumulated into a fresh map) -> replace (diff with the cache, firing
 * handlers) -> WATCH from the list's resourceVersion -> on a clean end WATCH again from the last
 * resourceVersion seen; on 410 (status or ERROR event) LIST again; on other errors wait with
 * exponential back-off (250 ms .. 30 s) and retry. Loop thread only. */
#include "roles/client/informer.h"

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
#include "roles/client/apiclient.h"

struct informer {
	struct apiclient *c;
	struct loop *loop;
	char *name;
	char *path;
	char *label_selector;
	char *field_selector;
	uint32_t resync_ms;
	uint32_t page_size;
	informer_transform_fn transform;

	struct informer_handlers handlers[INFORMER_MAX_HANDLERS];
	size_t nhandlers;
	informer_index_fn index_fn[INFORMER_MAX_INDEXES];
	struct kc_map indexes[INFORMER_MAX_INDEXES]; /* value -> struct kc_map (key -> obj) */
	int nindexes;

	struct kc_map cache;   /* key -> cJSON * (owned) */
	struct kc_map pending; /* during a paged LIST: key -> cJSON * (owned) */
	char rv[32];
	char cont[2048];
	bool started;
	bool synced;
	bool listing;
	struct apiclient_watch *watch;
	bool inflight;         /* a LIST page request is outstanding */
	struct loop_timer retry;
	struct loop_timer resync;
	uint32_t backoff_ms;
	bool freeing;
	bool need_relist;
	struct informer_stats stats;
};

static void start_list(struct informer *inf);
static void start_watch(struct informer *inf);

static void free_obj(void *v)
{
	cJSON_Delete(v);
}

static void free_set(void *v)
{
	struct kc_map *m = v;
	kc_map_free(m);
	free(m);
}

const char *informer_key(const cJSON *obj, char *buf, size_t cap)
{
	const char *ns = kc_json_get_str(obj, "metadata.namespace");
	const char *name = kc_json_get_str(obj, "metadata.name");
	if (!name)
		name = "";
	if (ns && *ns)
		snprintf(buf, cap, "%s/%s", ns, name);
	else
		snprintf(buf, cap, "%s", name);
	return buf;
}

struct informer *informer_new(struct apiclient *c, const struct informer_config *cfg)
{
	struct informer *inf = xcalloc(1, sizeof *inf);
	inf->c = c;
	inf->loop = apiclient_loop(c);
	inf->name = xstrdup(cfg->name ? cfg->name : cfg->path);
	inf->path = xstrdup(cfg->path);
	inf->label_selector = cfg->label_selector ? xstrdup(cfg->label_selector) : NULL;
	inf->field_selector = cfg->field_selector ? xstrdup(cfg->field_selector) : NULL;
	inf->resync_ms = cfg->resync_ms;
	inf->page_size = cfg->page_size ? cfg->page_size : 500;
	inf->transform = cfg->transform;
	kc_map_init(&inf->cache, free_obj);
	kc_map_init(&inf->pending, free_obj);
	loop_timer_init(&inf->retry, NULL, inf);
	loop_timer_init(&inf->resync, NULL, inf);
	return inf;
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	inf->freeing = true;
	apiclient_watch_cancel(inf->watch);
	inf->watch = NULL;
	loop_timer_stop(inf->loop, &inf->retry);
	loop_timer_stop(inf->loop, &inf->resync);
	/* An outstanding LIST page keeps a pointer to inf: it must be failed first (the owner
	 * frees the apiclient before its informers). */
	kc_assert(!inf->inflight);
	for (int i = 0; i < inf->nindexes; i++)
		kc_map_free(&inf->indexes[i]);
	kc_map_free(&inf->cache);
	kc_map_free(&inf->pending);
	free(inf->name);
	free(inf->path);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf);
}

/* ---- cache and indexes ---- */

static void index_add(struct informer *inf, const char *key, const cJSON *obj)
{
	for (int i = 0; i < inf->nindexes; i++) {
		const char *vals[INFORMER_MAX_INDEX_VALUES];
		size_t n = inf->index_fn[i](obj, vals);
		for (size_t j = 0; j < n; j++) {
			struct kc_map *set = kc_map_sget(&inf->indexes[i], vals[j]);
			if (!set) {
				set = xcalloc(1, sizeof *set);
				kc_map_init(set, NULL);
				kc_map_sput(&inf->indexes[i], vals[j], set);
			}
			kc_map_sput(set, key, (void *)(uintptr_t)obj);
		}
	}
}

static void index_del(struct informer *inf, const char *key, const cJSON *obj)
{
	for (int i = 0; i < inf->nindexes; i++) {
		const char *vals[INFORMER_MAX_INDEX_VALUES];
		size_t n = inf->index_fn[i](obj, vals);
		for (size_t j = 0; j < n; j++) {
			struct kc_map *set = kc_map_sget(&inf->indexes[i], vals[j]);
			if (!set)
				continue;
			kc_map_sdel(set, key);
			if (set->len == 0)
				kc_map_sdel(&inf->indexes[i], vals[j]);
		}
	}
}

static void fire_add(struct informer *inf, const cJSON *obj)
{
	for (size_t i = 0; i < inf->nhandlers; i++)
		if (inf->handlers[i].on_add)
			inf->handlers[i].on_add(inf->handlers[i].arg, obj);
}

static void fire_update(struct informer *inf, const cJSON *old, const cJSON *obj)
{
	for (size_t i = 0; i < inf->nhandlers; i++)
		if (inf->handlers[i].on_update)
			inf->handlers[i].on_update(inf->handlers[i].arg, old, obj);
}

static void fire_delete(struct informer *inf, const cJSON *obj)
{
	for (size_t i = 0; i < inf->nhandlers; i++)
		if (inf->handlers[i].on_delete)
			inf->handlers[i].on_delete(inf->handlers[i].arg, obj);
}

/* Takes ownership of obj. */
static void upsert(struct informer *inf, cJSON *obj)
{
	char key[512];
	informer_key(obj, key, sizeof key);
	cJSON *old = kc_map_take(&inf->cache, key, strlen(key));
	if (old)
		index_del(inf, key, old);
	kc_map_sput(&inf->cache, key, obj);
	index_add(inf, key, obj);
	if (old)
		fire_update(inf, old, obj);
	else
		fire_add(inf, obj);
	cJSON_Delete(old);
}

static void remove_key(struct informer *inf, const char *key)
{
	cJSON *old = kc_map_take(&inf->cache, key, strlen(key));
	if (!old)
		return;
	index_del(inf, key, old);
	fire_delete(inf, old);
	cJSON_Delete(old);
}

static void note_rv(struct informer *inf, const cJSON *obj)
{
	const char *rv = kc_json_get_str(obj, "metadata.resourceVersion");
	if (rv && *rv && strlen(rv) < sizeof inf->rv)
		snprintf(inf->rv, sizeof inf->rv, "%s", rv);
}

/* ---- retry ---- */

static void on_retry(struct loop *l, struct loop_timer *t)
{
	struct informer *inf = t->data;
	if (inf->need_relist || !inf->synced)
		start_list(inf);
	else
		start_watch(inf);
}

static void retry_later(struct informer *inf, bool relist)
{
	if (apiclient_closing(inf->c) || inf->freeing)
		return;
	inf->need_relist = relist;
	inf->backoff_ms = inf->backoff_ms ? inf->backoff_ms * 2 : 250;
	if (inf->backoff_ms > 30000)
		inf->backoff_ms = 30000;
	inf->retry.cb = on_retry;
	loop_timer_start(inf->loop, &inf->retry, inf->backoff_ms);
}

/* ---- LIST ---- */

static void query(struct informer *inf, struct kc_str *p)
{
	if (inf->label_selector) {
		kc_str_adds(p, "&labelSelector=");
		apiclient_escape(p, inf->label_selector);
	}
	if (inf->field_selector) {
		kc_str_adds(p, "&fieldSelector=");
		apiclient_escape(p, inf->field_selector);
	}
}

static void replace(struct informer *inf)
{
	/* Deletions first: objects in the cache that the LIST no longer has. */
	struct kc_vec gone;
	kc_vec_init(&gone, sizeof(char *));
	size_t pos = 0;
	const void *k;
	size_t klen;
	while (kc_map_next(&inf->cache, &pos, &k, &klen, NULL))
		if (!kc_map_has(&inf->pending, k, klen)) {
			char *s = xstrndup(k, klen);
			kc_vec_push(&gone, &s);
		}
	for (size_t i = 0; i < gone.len; i++) {
		char *s = *(char **)kc_vec_at(&gone, i);
		remove_key(inf, s);
		free(s);
	}
	kc_vec_free(&gone);
	/* Then adds and updates (an unchanged resourceVersion still fires an update, as a
	 * client-go re-list does). */
	pos = 0;
	void *v;
	struct kc_vec keys;
	kc_vec_init(&keys, sizeof(char *));
	while (kc_map_next(&inf->pending, &pos, &k, &klen, &v)) {
		char *s = xstrndup(k, klen);
		kc_vec_push(&keys, &s);
	}
	for (size_t i = 0; i < keys.len; i++) {
		char *s = *(char **)kc_vec_at(&keys, i);
		cJSON *obj = kc_map_take(&inf->pending, s, strlen(s));
		upsert(inf, obj);
		free(s);
	}
	kc_vec_free(&keys);
}

static void on_list(void *arg, struct api_result *res)
{
	struct informer *inf = arg;
	inf->inflight = false;
	if (res->rc == -KC_ECLOSED || apiclient_closing(inf->c) || inf->freeing)
		return;
	if (res->rc < 0 || res->status != 200 || !res->obj) {
		if (res->status == 410)
			inf->cont[0] = '\0';
		log_warn("list failed resource=%s status=%d err=%s", inf->name, res->status,
			 res->message);
		kc_map_free(&inf->pending);
		kc_map_init(&inf->pending, free_obj);
		inf->cont[0] = '\0';
		retry_later(inf, true);
		return;
	}
	cJSON *items = cJSON_GetObjectItemCaseSensitive(res->obj, "items");
	while (items && cJSON_IsArray(items) && items->child) {
		cJSON *obj = cJSON_DetachItemViaPointer(items, items->child);
		if (!cJSON_IsObject(obj)) {
			cJSON_Delete(obj);
			continue;
		}
		if (inf->transform)
			inf->transform(obj);
		char key[512];
		informer_key(obj, key, sizeof key);
		kc_map_sput(&inf->pending, key, obj);
	}
	const char *cont = kc_json_get_str(res->obj, "metadata.continue");
	if (cont && *cont && strlen(cont) < sizeof inf->cont) {
		snprintf(inf->cont, sizeof inf->cont, "%s", cont);
		start_list(inf);
		return;
	}
	inf->cont[0] = '\0';
	const char *rv = kc_json_get_str(res->obj, "metadata.resourceVersion");
	if (rv && strlen(rv) < sizeof inf->rv)
		snprintf(inf->rv, sizeof inf->rv, "%s", rv);
	inf->listing = false;
	inf->need_relist = false;
	inf->backoff_ms = 0;
	inf->stats.lists++;
	replace(inf);
	if (!inf->synced)
		log_debug("informer synced resource=%s objects=%zu rv=%s", inf->name,
			  inf->cache.len, inf->rv);
	inf->synced = true;
	start_watch(inf);
}

static void start_list(struct informer *inf)
{
	if (apiclient_closing(inf->c) || inf->freeing || inf->inflight)
		return;
	apiclient_watch_cancel(inf->watch);
	inf->watch = NULL;
	inf->listing = true;
	if (!inf->cont[0]) {
		kc_map_free(&inf->pending);
		kc_map_init(&inf->pending, free_obj);
	}
	struct kc_str p = KC_STR_INIT;
	kc_str_addf(&p, "%s?limit=%u", inf->path, inf->page_size);
	if (inf->cont[0]) {
		kc_str_adds(&p, "&continue=");
		apiclient_escape(&p, inf->cont);
	}
	query(inf, &p);
	inf->inflight = true;
	if (apiclient_request(inf->c, "GET", p.buf, NULL, NULL, 0, on_list, inf) < 0) {
		inf->inflight = false;
		retry_later(inf, true);
	}
	kc_str_free(&p);
}

/* ---- WATCH ---- */

static void on_event(void *arg, const char *type, cJSON **objp)
{
	struct informer *inf = arg;
	cJSON *obj = *objp;
	if (!obj)
		return;
	if (!strcmp(type, "ERROR")) {
		long long code = 0;
		kc_json_get_i64(obj, "code", &code);
		log_debug("watch error resource=%s code=%lld msg=%s", inf->name, code,
			  kc_json_get_str(obj, "message") ? kc_json_get_str(obj, "message") : "");
		if (code == 410 || code == 0)
			inf->need_relist = true;
		return;
	}
	note_rv(inf, obj);
	if (!strcmp(type, "BOOKMARK"))
		return;
	inf->stats.events++;
	if (!strcmp(type, "DELETED")) {
		char key[512];
		remove_key(inf, informer_key(obj, key, sizeof key));
		return;
	}
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED"))
		return;
	*objp = NULL;
	if (inf->transform)
		inf->transform(obj);
	upsert(inf, obj);
}

static void on_watch_end(void *arg, struct api_result *res)
{
	struct informer *inf = arg;
	inf->watch = NULL;
	if (res->rc == -KC_ECLOSED || apiclient_closing(inf->c) || inf->freeing)
		return;
	if (res->status == 410 || inf->need_relist) {
		inf->stats.relists_410++;
		inf->need_relist = true;
		start_list(inf);
		return;
	}
	if (res->rc == 0 && res->status == 200) {
		inf->backoff_ms = 0;
		start_watch(inf);
		return;
	}
	log_warn("watch failed resource=%s status=%d err=%s", inf->name, res->status, res->message);
	retry_later(inf, false);
}

static void start_watch(struct informer *inf)
{
	if (apiclient_closing(inf->c) || inf->freeing)
		return;
	apiclient_watch_cancel(inf->watch);
	inf->watch = NULL;
	struct kc_str p = KC_STR_INIT;
	/* 5..10 minutes, as client-go spreads its watch timeouts. */
	unsigned timeout = 300 + (unsigned)(loop_now_ms(inf->loop) % 300);
	kc_str_addf(&p, "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%u", inf->path,
		    timeout);
	if (inf->rv[0])
		kc_str_addf(&p, "&resourceVersion=%s", inf->rv);
	query(inf, &p);
	inf->stats.watches++;
	if (apiclient_watch(inf->c, p.buf, on_event, on_watch_end, inf, &inf->watch) < 0) {
		inf->watch = NULL;
		retry_later(inf, false);
	}
	kc_str_free(&p);
}

/* ---- resync ---- */

static void on_resync(struct loop *l, struct loop_timer *t)
{
	struct informer *inf = t->data;
	size_t pos = 0;
	void *v;
	if (inf->synced)
		while (kc_map_next(&inf->cache, &pos, NULL, NULL, &v))
			fire_update(inf, v, v);
	loop_timer_start(l, &inf->resync, inf->resync_ms);
}

/* ---- public ---- */

void informer_add_handlers(struct informer *inf, const struct informer_handlers *h)
{
	kc_assert(inf->nhandlers < INFORMER_MAX_HANDLERS);
	inf->handlers[inf->nhandlers++] = *h;
	if (h->on_add) {
		size_t pos = 0;
		void *v;
		while (kc_map_next(&inf->cache, &pos, NULL, NULL, &v))
			h->on_add(h->arg, v);
	}
}

int informer_add_index(struct informer *inf, informer_index_fn fn)
{
	kc_assert(!inf->started && inf->nindexes < INFORMER_MAX_INDEXES);
	kc_map_init(&inf->indexes[inf->nindexes], free_set);
	inf->index_fn[inf->nindexes] = fn;
	return inf->nindexes++;
}

void informer_start(struct informer *inf)
{
	if (inf->started)
		return;
	inf->started = true;
	if (inf->resync_ms) {
		inf->resync.cb = on_resync;
		loop_timer_start(inf->loop, &inf->resync, inf->resync_ms);
	}
	start_list(inf);
}

bool informer_synced(const struct informer *inf)
{
	return inf->synced;
}

const char *informer_rv(const struct informer *inf)
{
	return inf->rv;
}

const cJSON *informer_get(const struct informer *inf, const char *ns, const char *name)
{
	char key[512];
	if (ns && *ns)
		snprintf(key, sizeof key, "%s/%s", ns, name);
	else
		snprintf(key, sizeof key, "%s", name);
	return kc_map_sget(&inf->cache, key);
}

const cJSON *informer_get_key(const struct informer *inf, const char *key)
{
	return kc_map_sget(&inf->cache, key);
}

size_t informer_len(const struct informer *inf)
{
	return inf->cache.len;
}

bool informer_next(const struct informer *inf, size_t *pos, const cJSON **obj)
{
	void *v;
	if (!kc_map_next(&inf->cache, pos, NULL, NULL, &v))
		return false;
	*obj = v;
	return true;
}

const struct kc_map *informer_index(const struct informer *inf, int id, const char *value)
{
	if (id < 0 || id >= inf->nindexes || !value)
		return NULL;
	return kc_map_sget(&inf->indexes[id], value);
}

void informer_get_stats(const struct informer *inf, struct informer_stats *out)
{
	*out = inf->stats;
}

/* ---- common indexes and transforms ---- */

size_t informer_index_namespace(const cJSON *obj, const char **vals)
{
	const char *ns = kc_json_get_str(obj, "metadata.namespace");
	vals[0] = ns ? ns : "";
	return 1;
}

size_t informer_index_controller_uid(const cJSON *obj, const char **vals)
{
	cJSON *refs = kc_json_get(obj, "metadata.ownerReferences");
	cJSON *r;
	cJSON_ArrayForEach(r, refs)
	{
		if (!kc_json_get_bool(r, "controller", false))
			continue;
		const char *uid = kc_json_get_str(r, "uid");
		if (uid) {
			vals[0] = uid;
			return 1;
		}
	}
	return 0;
}

size_t informer_index_node_name(const cJSON *obj, const char **vals)
{
	const char *n = kc_json_get_str(obj, "spec.nodeName");
	if (!n || !*n)
		return 0;
	vals[0] = n;
	return 1;
}

void informer_prune_meta(cJSON *obj)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (!md)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
	cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
	if (ann)
		cJSON_DeleteItemFromObjectCaseSensitive(
			ann, "kubectl.kubernetes.io/last-applied-configuration");
}

static void prune_containers(cJSON *list)
{
	static const char *const drop[] = { "env", "envFrom", "command", "args", "volumeMounts",
					    "livenessProbe", "readinessProbe", "startupProbe",
					    "securityContext", "lifecycle", "terminationMessagePath",
					    "terminationMessagePolicy", "workingDir", "volumeDevices" };
	cJSON *c;
	cJSON_ArrayForEach(c, list)
	{
		for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
			cJSON_DeleteItemFromObjectCaseSensitive(c, drop[i]);
	}
}

void informer_prune_pod(cJSON *pod)
{
	informer_prune_meta(pod);
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	if (spec) {
		prune_containers(cJSON_GetObjectItemCaseSensitive(spec, "containers"));
		prune_containers(cJSON_GetObjectItemCaseSensitive(spec, "initContainers"));
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "ephemeralContainers");
	}
	cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
	if (st) {
		cJSON *cs;
		cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(st, "containerStatuses"))
		{
			cJSON_DeleteItemFromObjectCaseSensitive(cs, "imageID");
			cJSON_DeleteItemFromObjectCaseSensitive(cs, "containerID");
			cJSON_DeleteItemFromObjectCaseSensitive(cs, "lastState");
		}
	}
}
