/* DESIGN: helpers shared by the controllers: request tracking per sync (struct ctrl_op), and
 * read-only helpers over Kubernetes objects as cJSON trees. Loop thread only. */
#include "roles/controllers/ctrl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/loop.h"
#include "roles/apiserver/selector.h"

struct ctrl_op {
	struct ctrl_ctx *c;
	struct workqueue *q;
	char *key;
	unsigned pending;
	bool ended;
	bool failed;
	uint64_t requeue_ms;
};

struct op_req {
	struct ctrl_op *op;
	int ok[4];
	ctrl_op_cb cb;
	void *arg;
};

bool ctrl_synced(const struct ctrl_ctx *c)
{
	struct informer *all[] = { c->pods, c->nodes, c->leases, c->namespaces,
				   c->serviceaccounts, c->rootcas, c->deployments, c->replicasets,
				   c->rcs, c->statefulsets, c->daemonsets, c->jobs, c->services,
				   c->endpoints, c->slices, c->pvcs };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i] && !informer_synced(all[i]))
			return false;
	return true;
}

struct ctrl_op *ctrl_op_begin(struct ctrl_ctx *c, struct workqueue *q, const char *key)
{
	struct ctrl_op *op = xcalloc(1, sizeof *op);
	op->c = c;
	op->q = q;
	op->key = xstrdup(key);
	return op;
}

static void op_finish(struct ctrl_op *op)
{
	if (!op->ended || op->pending)
		return;
	if (!apiclient_closing(op->c->api)) {
		workqueue_done(op->q, op->key, op->failed ? -KC_EAGAIN : 0);
		if (op->requeue_ms && !op->failed)
			workqueue_add_after(op->q, op->key, op->requeue_ms);
	}
	free(op->key);
	free(op);
}

static void on_op_req(void *arg, struct api_result *res)
{
	struct op_req *r = arg;
	struct ctrl_op *op = r->op;
	if (r->cb)
		r->cb(r->arg, res);
	if (res->rc == -KC_ECLOSED) {
		op->failed = true;
	} else if (res->rc < 0 || res->status >= 300) {
		bool ok = false;
		for (int i = 0; i < 4 && r->ok[i]; i++)
			if (r->ok[i] == res->status)
				ok = true;
		if (!ok) {
			op->failed = true;
			if (res->status != 409)
				log_info("controller request failed key=%s status=%d err=%s", op->key,
					 res->status, res->message);
			else
				log_debug("controller request conflict key=%s err=%s", op->key,
					  res->message);
		}
	}
	free(r);
	op->pending--;
	op_finish(op);
}

void ctrl_op_request(struct ctrl_op *op, const char *method, const char *path,
		     const char *content_type, const cJSON *body, const int *ok_status,
		     ctrl_op_cb cb, void *arg)
{
	struct op_req *r = xcalloc(1, sizeof *r);
	r->op = op;
	r->cb = cb;
	r->arg = arg;
	for (int i = 0; ok_status && ok_status[i] && i < 4; i++)
		r->ok[i] = ok_status[i];
	char *s = NULL;
	size_t len = 0;
	if (body)
		s = kc_json_print(body, &len);
	op->pending++;
	int rc = apiclient_request(op->c->api, method, path, content_type, s, len, on_op_req, r);
	free(s);
	if (rc < 0) {
		struct api_result res = { .rc = rc, .reason = "", .message = kc_strerror(rc) };
		if (cb)
			cb(arg, &res);
		free(r);
		op->pending--;
		op->failed = true;
	}
}

void ctrl_op_fail(struct ctrl_op *op)
{
	op->failed = true;
}

void ctrl_op_requeue_after(struct ctrl_op *op, uint64_t delay_ms)
{
	if (op->requeue_ms == 0 || delay_ms < op->requeue_ms)
		op->requeue_ms = delay_ms;
}

void ctrl_op_end(struct ctrl_op *op)
{
	op->ended = true;
	op_finish(op);
}

void ctrl_enqueue_obj(struct workqueue *q, const cJSON *obj)
{
	char key[512];
	workqueue_add(q, informer_key(obj, key, sizeof key));
}

const cJSON *ctrl_controller_ref(const cJSON *obj)
{
	cJSON *r;
	cJSON_ArrayForEach(r, kc_json_get(obj, "metadata.ownerReferences"))
	{
		if (kc_json_get_bool(r, "controller", false))
			return r;
	}
	return NULL;
}

cJSON *ctrl_owner_ref(const cJSON *owner, const char *api_version, const char *kind)
{
	cJSON *r = kc_json_new_object();
	kc_json_set_str(r, "apiVersion", api_version);
	kc_json_set_str(r, "kind", kind);
	kc_json_set_str(r, "name", ctrl_str(owner, "metadata.name"));
	kc_json_set_str(r, "uid", ctrl_str(owner, "metadata.uid"));
	kc_json_set_bool(r, "controller", true);
	kc_json_set_bool(r, "blockOwnerDeletion", true);
	return r;
}

bool ctrl_is_deleting(const cJSON *obj)
{
	return kc_json_get_str(obj, "metadata.deletionTimestamp") != NULL;
}

bool ctrl_pod_active(const cJSON *pod)
{
	const char *phase = kc_json_get_str(pod, "status.phase");
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	return !ctrl_is_deleting(pod);
}

const cJSON *ctrl_condition(const cJSON *obj, const char *path, const char *type)
{
	cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(obj, path))
	{
		const char *t = kc_json_get_str(c, "type");
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

const char *ctrl_condition_status(const cJSON *obj, const char *path, const char *type)
{
	const cJSON *c = ctrl_condition(obj, path, type);
	return c ? kc_json_get_str(c, "status") : NULL;
}

bool ctrl_pod_ready(const cJSON *pod)
{
	const char *s = ctrl_condition_status(pod, "status.conditions", "Ready");
	return s && !strcmp(s, "True");
}

int64_t ctrl_pod_ready_since(const cJSON *pod)
{
	const cJSON *c = ctrl_condition(pod, "status.conditions", "Ready");
	if (!c)
		return -1;
	return apiclient_parse_time(kc_json_get_str(c, "lastTransitionTime"));
}

bool ctrl_pod_available(const cJSON *pod, int64_t min_ready_s, int64_t now)
{
	if (!ctrl_pod_ready(pod))
		return false;
	if (min_ready_s <= 0)
		return true;
	int64_t since = ctrl_pod_ready_since(pod);
	return since >= 0 && since + min_ready_s <= now;
}

long long ctrl_int(const cJSON *obj, const char *path, long long def)
{
	long long v;
	if (kc_json_get_i64(obj, path, &v) < 0)
		return def;
	return v;
}

const char *ctrl_str(const cJSON *obj, const char *path)
{
	const char *s = kc_json_get_str(obj, path);
	return s ? s : "";
}

char *ctrl_path(const char *prefix, const char *ns, const char *plural, const char *name,
		const char *sub)
{
	struct kc_str p = KC_STR_INIT;
	kc_str_adds(&p, prefix);
	if (ns && *ns)
		kc_str_addf(&p, "/namespaces/%s", ns);
	kc_str_addf(&p, "/%s", plural);
	if (name)
		kc_str_addf(&p, "/%s", name);
	if (sub)
		kc_str_addf(&p, "/%s", sub);
	return kc_str_detach(&p, NULL);
}

bool ctrl_selector_matches(const cJSON *sel, bool map_selector, const cJSON *obj)
{
	if (!sel || !cJSON_IsObject(sel) || !sel->child)
		return false;
	const cJSON *labels = kc_json_get(obj, "metadata.labels");
	if (map_selector) {
		cJSON *kv;
		cJSON_ArrayForEach(kv, sel)
		{
			const cJSON *v = labels ? cJSON_GetObjectItemCaseSensitive(labels, kv->string)
						: NULL;
			if (!cJSON_IsString(v) || !cJSON_IsString(kv) ||
			    strcmp(v->valuestring, kv->valuestring))
				return false;
		}
		return true;
	}
	struct label_selector *ls = NULL;
	struct kc_err err = { 0 };
	if (label_selector_from_object(sel, &ls, &err) < 0)
		return false;
	bool m = !label_selector_empty(ls) && label_selector_match(ls, labels);
	label_selector_free(ls);
	return m;
}

const char *ctrl_template_hash(const cJSON *v, long long collision_count, char *buf, size_t cap)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	char *s = kc_json_print_canonical(v, NULL);
	uint32_t h = 2166136261u;
	for (const char *p = s; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 16777619u;
	}
	free(s);
	if (collision_count >= 0) {
		for (int i = 0; i < 4; i++) {
			h ^= (uint8_t)(collision_count >> (8 * i));
			h *= 16777619u;
		}
	}
	char dec[16];
	int n = snprintf(dec, sizeof dec, "%u", h);
	size_t i = 0;
	for (; i < (size_t)n && i + 1 < cap; i++)
		buf[i] = alphabet[(unsigned char)dec[i] % (sizeof alphabet - 1)];
	buf[i] = '\0';
	return buf;
}

bool ctrl_tolerates(const cJSON *tolerations, const cJSON *taint)
{
	const char *key = ctrl_str(taint, "key"), *value = ctrl_str(taint, "value");
	const char *effect = ctrl_str(taint, "effect");
	cJSON *t;
	cJSON_ArrayForEach(t, tolerations)
	{
		const char *te = ctrl_str(t, "effect");
		if (*te && strcmp(te, effect))
			continue;
		const char *tk = ctrl_str(t, "key");
		const char *op = ctrl_str(t, "operator");
		bool exists = !strcmp(op, "Exists");
		if (!*tk) {
			if (exists)
				return true;
			continue;
		}
		if (strcmp(tk, key))
			continue;
		if (exists || !strcmp(ctrl_str(t, "value"), value))
			return true;
	}
	return false;
}
