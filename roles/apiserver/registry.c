/* DESIGN: the registry turns Kubernetes verbs into store requests. Each operation is a small
 * heap context ('struct op') that walks a fixed sequence of store requests (read, then a txn
 * guarded by compares), every step completing on the caller's loop; the context is freed right
 * after the user callback. Nothing is cached and nothing is shared between threads except the
 * immutable configuration and an atomic count of outstanding store requests. A streamed list
 * (registry_list_stream) keeps its op from page to page: between pages nothing is in flight and
 * the caller owns the turn (registry_list_stream_next / _cancel).
 *
 * Invariants:
 *  - a value is written only by txn guarded by create_revision == 0 (create) or mod_revision ==
 *    the revision read (update, delete), so concurrent writers can never lose an update;
 *  - a Service's allocations (/registry/ranges/serviceips/<ip>, /registry/ranges/
 *    servicenodeports/<port>, value = the service's key) are created in the same txn as the
 *    service, guarded by create_revision == 0, and deleted in the same txn as the service or the
 *    update that stops using them: two services can never share an IP or a node port;
 *  - stored values carry no metadata.resourceVersion: it is the key's mod_revision, spliced in
 *    on the way out. */
#include "roles/apiserver/registry.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/map.h"
#include "net/loop.h"
#include "roles/apiserver/kinds.h"
#include "store/kv.h"

#define MAX_ATTEMPTS 8
#define GENERATE_SUFFIX 5
#define RANGE_IPS "/registry/ranges/serviceips/"
#define RANGE_PORTS "/registry/ranges/servicenodeports/"
#define NS_PREFIX "/registry/namespaces/"
#define MAX_ALLOCS 64
#define LIST_PAGE 1000

struct registry {
	const struct kv *store;
	const struct schema *schema;
	struct net_cidr svc_cidr;
	uint16_t port_min, port_max;
	struct kc_rand *rand;
	struct kc_clock *clock;
	_Atomic unsigned long outstanding;
};

/* ---- small helpers ---------------------------------------------------------------------- */

char *registry_time(int64_t unix_s, char *buf, size_t cap)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int64_t registry_now(const struct registry *r)
{
	return (int64_t)(r->clock->wall_ns(r->clock) / 1000000000u);
}

static void new_uid(struct registry *r, char out[37])
{
	uint8_t b[16];
	if (r->rand->bytes(r->rand, b, sizeof b) < 0)
		kc_fatal("no randomness for a uid");
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	char hex[33];
	kc_hex_encode(b, sizeof b, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

bool registry_name_ok(const char *s)
{
	if (!s || !*s || strlen(s) > REG_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return !strchr(s, '/') && !strchr(s, '%');
}

int registry_key(const struct api_resource *res, const char *ns, const char *name, char *buf,
		 size_t cap)
{
	int n;
	bool with_ns = res->namespaced && ns && *ns;
	if (name)
		n = snprintf(buf, cap, "%s/%s%s%s", res->storage_prefix, with_ns ? ns : "",
			     with_ns ? "/" : "", name);
	else
		n = snprintf(buf, cap, "%s/%s%s", res->storage_prefix, with_ns ? ns : "",
			     with_ns ? "/" : "");
	if (n < 0 || (size_t)n >= cap)
		return -KC_ELIMIT;
	return n;
}

const struct kv *registry_store(const struct registry *r)
{
	return r->store;
}

const struct schema *registry_schema(const struct registry *r)
{
	return r->schema;
}

unsigned long registry_outstanding(struct registry *r)
{
	return atomic_load(&r->outstanding);
}

/* Skips one JSON value starting at p (which is not whitespace); returns the position after it,
 * or NULL when the text ends first. Only used on values the registry wrote. */
static const char *skip_value(const char *p, const char *end)
{
	int depth = 0;
	while (p < end) {
		char c = *p;
		if (c == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			if (p >= end)
				return NULL;
			p++;
		} else if (c == '{' || c == '[') {
			depth++;
			p++;
		} else if (c == '}' || c == ']') {
			depth--;
			p++;
		} else if (c == ',' || c == ':') {
			if (depth == 0)
				return p;
			p++;
		} else {
			p++;
		}
		if (depth == 0 && (c == '"' || c == '}' || c == ']')) {
			/* a complete string or container at top level */
			return p;
		}
		if (depth < 0)
			return NULL;
	}
	return depth == 0 ? p : NULL;
}

void registry_splice_rv(struct kc_str *out, const void *raw, size_t len, int64_t rv)
{
	const char *s = raw, *end = s + len, *p = s;
	if (len < 2 || *p != '{')
		goto verbatim;
	p++;
	while (p < end && *p == '"') {
		const char *k = p;
		p = skip_value(p, end);
		if (!p || p >= end || *p != ':')
			goto verbatim;
		bool meta = p - k == 10 && !memcmp(k, "\"metadata\"", 10);
		p++;
		if (meta) {
			if (p >= end || *p != '{')
				goto verbatim;
			p++;
			kc_str_reserve(out, len + 48);
			kc_str_add(out, s, (size_t)(p - s));
			kc_str_addf(out, "\"resourceVersion\":\"%lld\"%s", (long long)rv,
				    p < end && *p == '}' ? "" : ",");
			kc_str_add(out, p, (size_t)(end - p));
			return;
		}
		p = skip_value(p, end);
		if (!p || p >= end || *p != ',')
			goto verbatim;
		p++;
	}
verbatim:
	kc_str_add(out, raw, len);
}

cJSON *registry_parse(const void *raw, size_t len, int64_t rv)
{
	cJSON *o = NULL;
	struct kc_err err;
	struct kc_json_limits lim = { .max_bytes = MVCC_CMD_MAX };
	if (kc_json_parse(raw, len, &lim, &o, &err) < 0 || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	if (cJSON_IsObject(md)) {
		char b[24];
		snprintf(b, sizeof b, "%lld", (long long)rv);
		cJSON_DeleteItemFromObjectCaseSensitive(md, "resourceVersion");
		kc_json_add(md, "resourceVersion", kc_json_new_str(b));
	}
	return o;
}

/* The stored form: apiVersion, kind, metadata (without resourceVersion) first. obj is left
 * unchanged. */
static void encode_object(const cJSON *obj, struct kc_str *out)
{
	static const char *const first[] = { "apiVersion", "kind", "metadata" };
	kc_str_addc(out, '{');
	bool any = false;
	for (size_t i = 0; i < 3; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, first[i]);
		if (!v)
			continue;
		if (any)
			kc_str_addc(out, ',');
		any = true;
		kc_json_write_string(out, first[i]);
		kc_str_addc(out, ':');
		if (i == 2 && cJSON_IsObject(v)) {
			kc_str_addc(out, '{');
			bool m = false;
			for (const cJSON *c = v->child; c; c = c->next) {
				if (!strcmp(c->string, "resourceVersion"))
					continue;
				if (m)
					kc_str_addc(out, ',');
				m = true;
				kc_json_write_string(out, c->string);
				kc_str_addc(out, ':');
				kc_json_write(out, c);
			}
			kc_str_addc(out, '}');
		} else {
			kc_json_write(out, v);
		}
	}
	for (const cJSON *c = obj->child; c; c = c->next) {
		if (!strcmp(c->string, "apiVersion") || !strcmp(c->string, "kind") ||
		    !strcmp(c->string, "metadata"))
			continue;
		if (any)
			kc_str_addc(out, ',');
		any = true;
		kc_json_write_string(out, c->string);
		kc_str_addc(out, ':');
		kc_json_write(out, c);
	}
	kc_str_addc(out, '}');
}

static void set_rv(cJSON *obj, int64_t rv)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (!cJSON_IsObject(md))
		return;
	char b[24];
	snprintf(b, sizeof b, "%lld", (long long)rv);
	cJSON_DeleteItemFromObjectCaseSensitive(md, "resourceVersion");
	kc_json_add(md, "resourceVersion", kc_json_new_str(b));
}

static cJSON *meta_of(cJSON *obj)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (!cJSON_IsObject(md)) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "metadata");
		md = kc_json_new_object();
		kc_json_add(obj, "metadata", md);
	}
	return md;
}

static void meta_set_str(cJSON *md, const char *k, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(md, k);
	kc_json_add(md, k, kc_json_new_str(v));
}

static const char *str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void registry_store_error(struct api_error *e, int rc, const char *msg)
{
	const char *m = msg && *msg ? msg : mvcc_strerror(rc);
	switch (rc) {
	case -KC_EUNAVAIL:
	case -KC_ECLOSED:
		api_err(e, 503, "ServiceUnavailable", "the store is unavailable: %s", m);
		e->retry_after_s = 1;
		break;
	case -KC_ETIMEDOUT:
		api_err(e, 504, "Timeout", "etcdserver: request timed out: %s", m);
		break;
	case -KC_ETOOBIG:
	case -KC_ELIMIT:
		api_err(e, 413, "RequestEntityTooLarge", "etcdserver: request is too large");
		break;
	case -MVCC_ECOMPACTED:
		api_err(e, 410, "Expired", "too old resource version");
		break;
	default:
		api_err(e, 500, "InternalError", "an error on the server (\"%s\") has prevented the "
			"request from succeeding", m);
	}
}

static void not_found(struct api_error *e, const struct api_resource *res, const char *name)
{
	api_err(e, 404, "NotFound", "%s%s%s \"%s\" not found", res->plural, res->group[0] ? "." : "",
		res->group, name);
	api_err_details(e, res->group, res->plural, name);
}

static void conflict(struct api_error *e, const struct api_resource *res, const char *name)
{
	api_err(e, 409, "Conflict",
		"Operation cannot be fulfilled on %s%s%s \"%s\": the object has been modified; "
		"please apply your changes to the latest version and try again",
		res->plural, res->group[0] ? "." : "", res->group, name);
	api_err_details(e, res->group, res->plural, name);
}

/* ---- the operation context -------------------------------------------------------------- */

enum op_kind { OP_GET, OP_CREATE, OP_UPDATE, OP_DELETE, OP_LIST };

struct op {
	struct registry *r;
	struct loop *loop;
	const struct api_resource *res;
	enum op_kind kind;
	char key[REG_KEY_MAX];
	char ns[REG_NAME_MAX + 1];
	char name[REG_NAME_MAX + 1];
	char sub[32];
	unsigned attempts;
	struct reg_write_opts wo;
	struct reg_delete_opts dopt;
	char pre_uid[64], pre_rv[32];
	cJSON *obj;        /* create: the new object; update: the fn result */
	cJSON *cur;        /* the stored object as read */
	int64_t cur_mod;
	bool explicit_rv;
	bool delete_now;   /* the write is a delete */
	bool generated;    /* name came from generateName */
	char gen_prefix[REG_NAME_MAX + 1];
	reg_mutate_fn fn;
	void *fnarg;
	/* service allocations: keys to create and to delete in the txn */
	char *alloc_add[MAX_ALLOCS];
	unsigned nadd;
	char *alloc_del[MAX_ALLOCS];
	unsigned ndel;
	bool alloc_explicit;
	cJSON *svc_spec;      /* create: the spec as asked for, which a retry plans from again */
	bool svc_spec_saved;
	struct kc_map used;   /* allocation keys in use (services) */
	bool used_loaded;
	/* list */
	struct reg_list_opts lo;
	struct label_selector *own_ls;
	char prefix[REG_KEY_MAX];
	char start[REG_KEY_MAX];
	size_t start_len;
	char range_end[REG_KEY_MAX];
	size_t prefix_len, range_end_len;
	struct reg_list list;
	size_t cap;
	int64_t read_rev;
	bool ns_checked;
	reg_obj_cb cb;
	reg_raw_cb rawcb;
	reg_list_cb listcb;
	reg_page_cb pagecb;     /* a streamed list */
	size_t page_items;
	size_t emit_pos;        /* streamed list with a limit: items delivered so far */
	bool in_cb;             /* inside pagecb: a cancel frees after it returns */
	bool cancelled;
	bool limited;           /* the list has a limit (not with resourceVersion "0") */
	bool emit_done;         /* the list read is complete (no more store pages) */
	/* a streamed list without limit reads pages between keys found by one keys-only read:
	 * page i is [bounds[i-1], bounds[i]) (from start, up to range_end at the ends), so no page
	 * read counts the keys after it */
	bool bounded;
	uint8_t **bounds;
	size_t *bound_len;
	size_t nbounds, page_idx;
	void *arg;
	struct api_error err;
};

static struct op *op_new(struct registry *r, struct loop *l, const struct api_resource *res,
			 enum op_kind kind, const char *ns, const char *name)
{
	struct op *o = xcalloc(1, sizeof *o);
	o->r = r;
	o->loop = l;
	o->res = res;
	o->kind = kind;
	snprintf(o->ns, sizeof o->ns, "%s", res->namespaced && ns ? ns : "");
	snprintf(o->name, sizeof o->name, "%s", name ? name : "");
	kc_map_init(&o->used, NULL);
	return o;
}

static void op_free(struct op *o)
{
	cJSON_Delete(o->obj);
	cJSON_Delete(o->cur);
	cJSON_Delete(o->svc_spec);
	for (unsigned i = 0; i < o->nadd; i++)
		free(o->alloc_add[i]);
	for (unsigned i = 0; i < o->ndel; i++)
		free(o->alloc_del[i]);
	kc_map_free(&o->used);
	for (size_t i = o->emit_pos; i < o->list.n; i++) {
		mvcc_kv_free(&o->list.items[i].kv);
		cJSON_Delete(o->list.items[i].obj);
	}
	free(o->list.items);
	free(o->list.cont);
	for (size_t i = 0; i < o->nbounds; i++)
		free(o->bounds[i]);
	free(o->bounds);
	free(o->bound_len);
	free(o);
}

static void finish_err(struct op *o, struct api_error *e)
{
	if (o->cb)
		o->cb(o->arg, NULL, e);
	else if (o->rawcb)
		o->rawcb(o->arg, NULL, e);
	else if (o->listcb)
		o->listcb(o->arg, NULL, e);
	else if (o->pagecb)
		o->pagecb(o->arg, NULL, NULL, true, e);
	op_free(o);
}

static void finish_store_err(struct op *o, int rc, const struct kc_err *err)
{
	struct api_error e = { 0 };
	registry_store_error(&e, rc, err ? err->msg : NULL);
	finish_err(o, &e);
}

/* Entry points never call back inside the issuing call: early answers go through the loop. */
static void deferred_err(struct loop *l, void *arg)
{
	struct op *o = arg;
	(void)l;
	struct api_error e = o->err;
	finish_err(o, &e);
}

static void fail_async(struct op *o, const struct api_error *e)
{
	o->err = *e;
	loop_call(o->loop, deferred_err, o);
}

/* Store calls, counted so that a stop can wait for them. */
struct pend {
	struct registry *r;
	struct op *o;
	void (*range_done)(struct op *o, int rc, struct mvcc_range_resp *resp,
			   const struct kc_err *err);
	void (*submit_done)(struct op *o, int rc, struct mvcc_result *res,
			    const struct kc_err *err);
};

static void on_range(void *arg, int rc, struct mvcc_range_resp *resp, const struct kc_err *err)
{
	struct pend p = *(struct pend *)arg;
	free(arg);
	atomic_fetch_sub(&p.r->outstanding, 1);
	p.range_done(p.o, rc, resp, err);
}

static void on_submit(void *arg, int rc, struct mvcc_result *res, const struct kc_err *err)
{
	struct pend p = *(struct pend *)arg;
	free(arg);
	atomic_fetch_sub(&p.r->outstanding, 1);
	p.submit_done(p.o, rc, res, err);
}

static void do_range(struct op *o, const struct mvcc_range_req *req, bool lin,
		     void (*done)(struct op *, int, struct mvcc_range_resp *, const struct kc_err *))
{
	struct pend *p = xcalloc(1, sizeof *p);
	p->r = o->r;
	p->o = o;
	p->range_done = done;
	atomic_fetch_add(&o->r->outstanding, 1);
	kv_range(o->r->store, o->loop, req, lin, on_range, p);
}

static void do_submit(struct op *o, const struct kc_str *cmd,
		      void (*done)(struct op *, int, struct mvcc_result *, const struct kc_err *))
{
	struct pend *p = xcalloc(1, sizeof *p);
	p->r = o->r;
	p->o = o;
	p->submit_done = done;
	atomic_fetch_add(&o->r->outstanding, 1);
	kv_submit(o->r->store, o->loop, cmd->buf, cmd->len, on_submit, p);
}

static void read_key(struct op *o, const char *key, bool lin,
		     void (*done)(struct op *, int, struct mvcc_range_resp *, const struct kc_err *))
{
	struct mvcc_range_req req = { .key = key, .key_len = strlen(key) };
	do_range(o, &req, lin, done);
}

/* ---- get -------------------------------------------------------------------------------- */

static void get_done(struct op *o, int rc, struct mvcc_range_resp *resp, const struct kc_err *err)
{
	if (rc < 0)
		return finish_store_err(o, rc, err);
	if (resp->nkvs == 0) {
		struct api_error e = { 0 };
		not_found(&e, o->res, o->name);
		return finish_err(o, &e);
	}
	o->rawcb(o->arg, &resp->kvs[0], NULL);
	op_free(o);
}

void registry_get(struct registry *r, struct loop *l, const struct api_resource *res,
		  const char *ns, const char *name, bool linearizable, reg_raw_cb cb, void *arg)
{
	struct op *o = op_new(r, l, res, OP_GET, ns, name);
	o->rawcb = cb;
	o->arg = arg;
	if (registry_key(res, o->ns, o->name, o->key, sizeof o->key) < 0) {
		struct api_error e = { 0 };
		not_found(&e, res, o->name);
		return fail_async(o, &e);
	}
	read_key(o, o->key, linearizable, get_done);
}

/* ---- lists ------------------------------------------------------------------------------ */

bool registry_matches(const cJSON *obj, const struct label_selector *ls,
		      const struct field_selector *fs)
{
	if (ls && !label_selector_empty(ls)) {
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
		if (!label_selector_match(ls, cJSON_GetObjectItemCaseSensitive(md, "labels")))
			return false;
	}
	if (fs && !field_selector_empty(fs) && !field_selector_match(fs, obj))
		return false;
	return true;
}

static bool list_filtering(const struct op *o)
{
	return (o->lo.labels && !label_selector_empty(o->lo.labels)) ||
	       (o->lo.fields && !field_selector_empty(o->lo.fields));
}

static void list_page(struct op *o);
static void stream_emit(struct op *o);

static void make_continue(struct op *o, const uint8_t *last_key, size_t last_len)
{
	/* {"v":"meta.k8s.io/v1","rv":N,"start":"<last key after the prefix>"}: the next page
	 * starts right after that key, at revision N. */
	struct kc_str js = KC_STR_INIT, b = KC_STR_INIT;
	size_t n = last_len - o->prefix_len;
	char *suffix = xmalloc(n + 1);
	memcpy(suffix, last_key + o->prefix_len, n);
	suffix[n] = '\0';
	kc_str_addf(&js, "{\"v\":\"meta.k8s.io/v1\",\"rv\":%lld,\"start\":", (long long)o->read_rev);
	kc_json_write_string(&js, suffix);
	kc_str_addc(&js, '}');
	kc_base64_encode(&b, js.buf, js.len, KC_B64_STD);
	o->list.cont = kc_str_detach(&b, NULL);
	kc_str_free(&js);
	free(suffix);
}

/* The next read starts right after key[0..n). */
static void set_start_after(struct op *o, const uint8_t *key, size_t n)
{
	if (n + 1 > sizeof o->start)
		n = sizeof o->start - 1;
	memcpy(o->start, key, n);
	o->start[n] = '\0';
	o->start_len = n + 1;
}

static void list_done(struct op *o, int rc, struct mvcc_range_resp *resp, const struct kc_err *err)
{
	if (rc == -MVCC_ECOMPACTED) {
		struct api_error e = { 0 };
		if (o->lo.continue_token && *o->lo.continue_token)
			api_err(&e, 410, "Expired",
				"The provided continue parameter is too old to display a consistent "
				"list result. You can start a new list without the continue parameter, "
				"or use the continue token in this response to retrieve the remainder of "
				"the results. Continuing with the provided token results in an "
				"inconsistent list - objects that were created, modified, or deleted "
				"between the time the first chunk was returned and now may show up in "
				"the list.");
		else
			api_err(&e, 410, "Expired", "too old resource version: %lld",
				(long long)o->lo.rv);
		return finish_err(o, &e);
	}
	if (rc < 0)
		return finish_store_err(o, rc, err);
	if (o->read_rev == 0) {
		/* an exact read ran at lo.rv, not at the header revision: later pages must too */
		o->read_rev = o->lo.match == REG_RV_EXACT ? o->lo.rv : resp->revision;
		if (o->lo.match == REG_RV_NOT_OLDER && resp->revision < o->lo.rv) {
			struct api_error e = { 0 };
			api_err(&e, 504, "Timeout", "Too large resource version: %lld, current: %lld",
				(long long)o->lo.rv, (long long)resp->revision);
			return finish_err(o, &e);
		}
	}
	bool filtering = list_filtering(o);
	bool want_limit = o->limited;
	size_t consumed = 0;
	bool full = false;
	uint8_t *last_key = NULL;
	size_t last_len = 0;
	for (size_t i = 0; i < resp->nkvs && !full; i++) {
		struct mvcc_kv *kv = &resp->kvs[i];
		consumed = i + 1;
		last_key = kv->key;
		last_len = kv->key_len;
		cJSON *obj = NULL;
		if (filtering || o->lo.parse) {
			obj = registry_parse(kv->value, kv->value_len, kv->mod_revision);
			if (!obj) {
				log_warn("unreadable object in store key=%.*s", (int)kv->key_len,
					 (const char *)kv->key);
				continue;
			}
			if (!registry_matches(obj, o->lo.labels, o->lo.fields)) {
				cJSON_Delete(obj);
				continue;
			}
		}
		if (o->list.n == o->cap) {
			o->cap = o->cap ? o->cap * 2 : 64;
			o->list.items = xrealloc(o->list.items, o->cap * sizeof *o->list.items);
		}
		struct reg_item *it = &o->list.items[o->list.n++];
		it->kv = *kv;
		memset(kv, 0, sizeof *kv);
		it->obj = obj;
		last_key = it->kv.key;
		full = want_limit && (int64_t)o->list.n >= o->lo.limit;
	}
	bool more = resp->more || consumed < resp->nkvs;
	bool done = true;
	if (full && more) {
		struct reg_item *last = &o->list.items[o->list.n - 1];
		make_continue(o, last->kv.key, last->kv.key_len);
		o->list.remaining = filtering ? -1 : resp->count - (int64_t)consumed;
		if (o->list.remaining <= 0)
			o->list.remaining = -1;
	} else if (more && last_key) {
		set_start_after(o, last_key, last_len);
		o->lo.match = REG_RV_EXACT;
		o->lo.rv = o->read_rev;
		done = false;
		/* a limited stream collects first: its metadata (continue) comes before the items */
		if (!o->pagecb || want_limit || o->list.n == 0)
			return list_page(o);
	} else if (o->bounded && o->page_idx < o->nbounds) {
		o->page_idx++;
		done = false;
		if (o->list.n == 0)
			return list_page(o);
	}
	o->list.revision = o->read_rev;
	if (o->pagecb) {
		o->emit_done = done;
		return stream_emit(o);
	}
	o->listcb(o->arg, &o->list, NULL);
	op_free(o);
}

static void list_page(struct op *o)
{
	struct mvcc_range_req req = {
		.key = o->start,
		.key_len = o->start_len,
		.range_end = o->range_end,
		.range_end_len = o->range_end_len,
		.revision = o->read_rev,
	};
	bool filtering = list_filtering(o);
	if (o->limited && !filtering)
		req.limit = o->lo.limit - (int64_t)o->list.n;
	else if (o->pagecb)
		req.limit = (int64_t)o->page_items;
	else if (filtering)
		req.limit = LIST_PAGE;
	if (o->bounded) {
		if (o->page_idx > 0) {
			req.key = o->bounds[o->page_idx - 1];
			req.key_len = o->bound_len[o->page_idx - 1];
		}
		if (o->page_idx < o->nbounds) {
			req.range_end = o->bounds[o->page_idx];
			req.range_end_len = o->bound_len[o->page_idx];
		}
		req.limit = 0;
	}
	bool lin = o->read_rev == 0 && o->lo.match == REG_RV_UNSET;
	if (o->read_rev == 0 && o->lo.match == REG_RV_EXACT)
		req.revision = o->lo.rv;
	do_range(o, &req, lin, list_done);
}

static int parse_continue(struct op *o, const char *tok, struct api_error *e)
{
	struct kc_str raw = KC_STR_INIT;
	struct kc_err err;
	cJSON *j = NULL;
	int rc = -1;
	long long rv;
	const char *start;
	size_t tl = strlen(tok);
	if (tl > 4 * REG_KEY_MAX || kc_base64_decode(&raw, tok, tl, KC_B64_STD, &err) < 0 ||
	    kc_json_parse(raw.buf, raw.len, NULL, &j, &err) < 0)
		goto out;
	start = kc_json_get_str(j, "start");
	if (kc_json_get_i64(j, "rv", &rv) < 0 || rv <= 0 || !start ||
	    o->prefix_len + strlen(start) + 2 > sizeof o->start)
		goto out;
	memcpy(o->start, o->prefix, o->prefix_len);
	strcpy(o->start + o->prefix_len, start);
	o->start_len = o->prefix_len + strlen(start) + 1; /* the key right after 'start' */
	o->read_rev = rv;
	o->lo.match = REG_RV_EXACT;
	o->lo.rv = rv;
	rc = 0;
out:
	cJSON_Delete(j);
	kc_str_free(&raw);
	if (rc < 0)
		api_err(e, 400, "BadRequest", "invalid continue token");
	return rc;
}

/* The set-up both list forms share: options, key range, continue token. Returns false after
 * failing o (asynchronously) on bad input. */
static bool list_setup(struct op *o, const struct api_resource *res,
		       const struct reg_list_opts *lo)
{
	o->lo = *lo;
	o->list.remaining = -1;
	struct api_error e = { 0 };
	int n = registry_key(res, o->ns, NULL, o->prefix, sizeof o->prefix);
	if (n < 0) {
		api_err(&e, 400, "BadRequest", "namespace too long");
		fail_async(o, &e);
		return false;
	}
	o->prefix_len = (size_t)n;
	o->range_end_len = mvcc_prefix_end(o->prefix, o->prefix_len, (uint8_t *)o->range_end);
	memcpy(o->start, o->prefix, o->prefix_len);
	o->start_len = o->prefix_len;
	if (lo->continue_token && *lo->continue_token && parse_continue(o, lo->continue_token, &e) < 0) {
		fail_async(o, &e);
		return false;
	}
	o->limited = o->lo.limit > 0 && o->lo.match != REG_RV_ANY;
	return true;
}

void registry_list(struct registry *r, struct loop *l, const struct api_resource *res,
		   const struct reg_list_opts *lo, reg_list_cb cb, void *arg)
{
	struct op *o = op_new(r, l, res, OP_LIST, lo->ns, NULL);
	o->listcb = cb;
	o->arg = arg;
	if (!list_setup(o, res, lo))
		return;
	list_page(o);
}

/* ---- streamed lists --------------------------------------------------------------------- */

/* Frees items [from, to) of o's list. */
static void free_items(struct op *o, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		mvcc_kv_free(&o->list.items[i].kv);
		cJSON_Delete(o->list.items[i].obj);
		o->list.items[i].obj = NULL;
	}
}

/* Delivers the next page: without a limit, the items just read (o->list, then emptied); with a
 * limit, the next page_items of the collected items. */
static void stream_emit(struct op *o)
{
	bool limited = o->limited;
	struct reg_list page = o->list;
	size_t from = 0, to = o->list.n;
	if (limited) {
		from = o->emit_pos;
		to = o->list.n - from > o->page_items ? from + o->page_items : o->list.n;
		page.items = o->list.items + from;
		page.n = to - from;
	}
	bool last = o->emit_done && to == o->list.n;
	o->in_cb = true;
	o->pagecb(o->arg, (struct reg_list_stream *)o, &page, last, NULL);
	o->in_cb = false;
	free_items(o, from, to);
	if (limited) {
		o->emit_pos = to;
	} else {
		o->list.n = 0;
		o->emit_pos = 0;
	}
	if (last || o->cancelled)
		op_free(o);
}

static void stream_emit_later(struct loop *l, void *arg)
{
	(void)l;
	stream_emit(arg);
}

/* The keys-only read of a streamed list without limit: the list's revision, and every
 * page_items-th key as a page boundary (the keys themselves are not kept). */
static void bounds_done(struct op *o, int rc, struct mvcc_range_resp *resp, const struct kc_err *err)
{
	if (rc < 0)
		return list_done(o, rc, resp, err); /* its error answers */
	if (o->read_rev == 0) {
		o->read_rev = o->lo.match == REG_RV_EXACT ? o->lo.rv : resp->revision;
		if (o->lo.match == REG_RV_NOT_OLDER && resp->revision < o->lo.rv) {
			struct api_error e = { 0 };
			api_err(&e, 504, "Timeout", "Too large resource version: %lld, current: %lld",
				(long long)o->lo.rv, (long long)resp->revision);
			return finish_err(o, &e);
		}
	}
	o->lo.match = REG_RV_EXACT;
	o->lo.rv = o->read_rev;
	size_t nb = resp->nkvs ? (resp->nkvs - 1) / o->page_items : 0;
	o->bounds = xcalloc(nb ? nb : 1, sizeof *o->bounds);
	o->bound_len = xcalloc(nb ? nb : 1, sizeof *o->bound_len);
	for (size_t j = 0; j < nb; j++) {
		const struct mvcc_kv *kv = &resp->kvs[(j + 1) * o->page_items];
		o->bounds[j] = xmalloc(kv->key_len + 1);
		memcpy(o->bounds[j], kv->key, kv->key_len);
		o->bounds[j][kv->key_len] = 0;
		o->bound_len[j] = kv->key_len;
	}
	o->nbounds = nb;
	o->bounded = true;
	o->page_idx = 0;
	list_page(o);
}

void registry_list_stream(struct registry *r, struct loop *l, const struct api_resource *res,
			  const struct reg_list_opts *lo, size_t page_items, reg_page_cb cb,
			  void *arg)
{
	struct op *o = op_new(r, l, res, OP_LIST, lo->ns, NULL);
	o->pagecb = cb;
	o->arg = arg;
	o->page_items = page_items ? page_items : LIST_PAGE;
	if (!list_setup(o, res, lo))
		return;
	if (o->limited)
		return list_page(o);
	struct mvcc_range_req req = {
		.key = o->start,
		.key_len = o->start_len,
		.range_end = o->range_end,
		.range_end_len = o->range_end_len,
		.revision = o->read_rev ? o->read_rev : o->lo.match == REG_RV_EXACT ? o->lo.rv : 0,
		.keys_only = true,
	};
	do_range(o, &req, o->read_rev == 0 && o->lo.match == REG_RV_UNSET, bounds_done);
}

void registry_list_stream_next(struct reg_list_stream *s)
{
	struct op *o = (struct op *)s;
	if (o->emit_done)
		loop_call(o->loop, stream_emit_later, o);  /* collected items: no store read */
	else
		list_page(o);
}

void registry_list_stream_cancel(struct reg_list_stream *s)
{
	struct op *o = (struct op *)s;
	if (o->in_cb)
		o->cancelled = true;  /* freed when the callback returns */
	else
		op_free(o);
}

/* ---- writes: the txn ------------------------------------------------------------------- */

static bool is_core(const struct api_resource *res, const char *plural)
{
	return !res->group[0] && !strcmp(res->plural, plural);
}

/* Builds and submits the write txn of o: compares on the object key (create_revision == 0 for
 * a create, mod_revision == o->cur_mod otherwise) and create_revision == 0 on every new
 * allocation key; success puts (or deletes) the object, puts the new allocation keys and
 * deletes the released ones; failure reads the object key. */
static void submit_write(struct op *o, bool create,
			 void (*done)(struct op *, int, struct mvcc_result *, const struct kc_err *))
{
	struct mvcc_compare cmp[MAX_ALLOCS + 1];
	struct mvcc_op ok[2 * MAX_ALLOCS + 1], ko[1];
	size_t ncmp = 0, nok = 0;
	struct kc_str val = KC_STR_INIT, cmd = KC_STR_INIT;
	size_t klen = strlen(o->key);

	cmp[ncmp++] = (struct mvcc_compare){
		.target = create ? MVCC_CMP_CREATE : MVCC_CMP_MOD, .result = MVCC_CMP_EQUAL,
		.key = o->key, .key_len = klen, .number = create ? 0 : o->cur_mod,
	};
	if (o->delete_now) {
		ok[nok++] = (struct mvcc_op){ .type = MVCC_OP_DELETE,
					      .u.del = { .key = o->key, .key_len = klen } };
	} else {
		encode_object(o->obj, &val);
		ok[nok++] = (struct mvcc_op){ .type = MVCC_OP_PUT,
					      .u.put = { .key = o->key, .key_len = klen,
							 .value = val.buf, .value_len = val.len } };
	}
	for (unsigned i = 0; i < o->nadd; i++) {
		size_t l = strlen(o->alloc_add[i]);
		cmp[ncmp++] = (struct mvcc_compare){ .target = MVCC_CMP_CREATE,
						     .result = MVCC_CMP_EQUAL,
						     .key = o->alloc_add[i], .key_len = l };
		ok[nok++] = (struct mvcc_op){ .type = MVCC_OP_PUT,
					      .u.put = { .key = o->alloc_add[i], .key_len = l,
							 .value = o->key, .value_len = klen } };
	}
	for (unsigned i = 0; i < o->ndel; i++)
		ok[nok++] = (struct mvcc_op){ .type = MVCC_OP_DELETE,
					      .u.del = { .key = o->alloc_del[i],
							 .key_len = strlen(o->alloc_del[i]) } };
	ko[0] = (struct mvcc_op){ .type = MVCC_OP_RANGE,
				  .u.range = { .key = o->key, .key_len = klen, .keys_only = true } };
	struct mvcc_txn_req txn = { .compares = cmp, .ncompares = ncmp, .success = ok,
				    .nsuccess = nok, .failure = ko, .nfailure = 1 };
	struct kc_err err = { 0 };
	int rc = mvcc_cmd_encode_txn(&cmd, &txn, &err);
	kc_str_free(&val);
	if (rc < 0) {
		kc_str_free(&cmd);
		struct api_error e = { 0 };
		if (rc == -KC_ELIMIT || rc == -KC_ETOOBIG)
			api_err(&e, 413, "RequestEntityTooLarge", "etcdserver: request is too large");
		else
			api_err(&e, 500, "InternalError", "cannot encode the write: %s", err.msg);
		return finish_err(o, &e);
	}
	do_submit(o, &cmd, done);
	kc_str_free(&cmd);
}

/* For a txn that failed: does the object key exist? */
static bool txn_key_exists(const struct mvcc_result *res)
{
	if (res->u.txn.nresponses < 1 || res->u.txn.responses[0].type != MVCC_OP_RANGE)
		return false;
	return res->u.txn.responses[0].u.range.nkvs > 0;
}

/* ---- service allocations ---------------------------------------------------------------- */

static void alloc_clear(struct op *o)
{
	for (unsigned i = 0; i < o->nadd; i++)
		free(o->alloc_add[i]);
	for (unsigned i = 0; i < o->ndel; i++)
		free(o->alloc_del[i]);
	o->nadd = o->ndel = 0;
	o->alloc_explicit = false;
}

static bool in_list(char *const *v, unsigned n, const char *k)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(v[i], k))
			return true;
	return false;
}

static bool key_taken(const struct op *o, const char *k)
{
	return kc_map_sget(&o->used, k) != NULL || in_list(o->alloc_add, o->nadd, k);
}

static char *ip_key(const char *ip)
{
	size_t n = strlen(RANGE_IPS) + strlen(ip) + 1;
	char *k = xmalloc(n);
	snprintf(k, n, "%s%s", RANGE_IPS, ip);
	return k;
}

static char *port_key(long long port)
{
	char *k = xmalloc(strlen(RANGE_PORTS) + 24);
	snprintf(k, strlen(RANGE_PORTS) + 24, "%s%lld", RANGE_PORTS, port);
	return k;
}

/* The allocation keys a stored service holds. */
static unsigned svc_keys(const struct registry *r, const cJSON *svc, char **keys, unsigned max)
{
	unsigned n = 0;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(svc, "spec");
	const char *ip = str_of(spec, "clusterIP");
	struct net_ip a;
	if (ip && net_ip_parse(ip, &a) == 0 && net_cidr_contains(&r->svc_cidr, &a) && n < max)
		keys[n++] = ip_key(ip);
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(spec, "ports"))
	{
		long long np;
		if (kc_json_get_i64(p, "nodePort", &np) == 0 && np >= r->port_min &&
		    np <= r->port_max && n < max)
			keys[n++] = port_key(np);
	}
	return n;
}

static int svc_random_ip(struct op *o, char *out, size_t cap)
{
	struct registry *r = o->r;
	unsigned bits = (r->svc_cidr.ip.family == AF_INET6 ? 128 : 32) - r->svc_cidr.prefix;
	uint64_t size = bits >= 20 ? (1u << 20) : (uint64_t)1 << bits;
	if (size < 4)
		return -1;
	uint64_t lo = size > 64 ? 16 : 2, hi = size - 2; /* skip network, low band, broadcast */
	for (unsigned tries = 0; tries < 64 + size; tries++) {
		uint64_t off = tries < 64 ? lo + kc_rand_below(r->rand, hi - lo + 1)
					  : lo + (tries - 64) % (hi - lo + 1);
		struct net_ip ip;
		if (net_cidr_nth(&r->svc_cidr, off, &ip) < 0)
			continue;
		net_ip_format(&ip, out, cap);
		char *k = ip_key(out);
		bool taken = key_taken(o, k);
		free(k);
		if (!taken)
			return 0;
		if (tries >= 64 && tries - 64 >= hi - lo)
			break;
	}
	return -1;
}

static long long svc_random_port(struct op *o)
{
	struct registry *r = o->r;
	uint64_t n = (uint64_t)(r->port_max - r->port_min) + 1;
	for (uint64_t tries = 0; tries < 64 + n; tries++) {
		long long p = tries < 64 ? r->port_min + (long long)kc_rand_below(r->rand, n)
					 : r->port_min + (long long)((tries - 64) % n);
		char *k = port_key(p);
		bool taken = key_taken(o, k);
		free(k);
		if (!taken)
			return p;
	}
	return -1;
}

static void add_alloc(struct op *o, char *k)
{
	if (o->nadd < MAX_ALLOCS)
		o->alloc_add[o->nadd++] = k;
	else
		free(k);
}

/* Decides the allocations of service 'svc' (o->cur is the old one on update): fills
 * clusterIP / nodePorts that are missing, o->alloc_add and o->alloc_del. */
static int svc_plan(struct op *o, cJSON *svc, struct api_error *e)
{
	struct registry *r = o->r;
	const cJSON *old = o->cur;
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(svc, "spec");
	if (!cJSON_IsObject(spec)) {
		spec = kc_json_new_object();
		kc_json_add(svc, "spec", spec);
	}
	const cJSON *ospec = old ? cJSON_GetObjectItemCaseSensitive(old, "spec") : NULL;
	const char *type = str_of(spec, "type");
	if (!type)
		type = "ClusterIP";
	char *oldkeys[MAX_ALLOCS];
	unsigned nold = old ? svc_keys(r, old, oldkeys, MAX_ALLOCS) : 0;
	alloc_clear(o);
	int rc = 0;

	/* cluster IP */
	if (strcmp(type, "ExternalName") != 0) {
		const char *ip = str_of(spec, "clusterIP");
		const char *oip = str_of(ospec, "clusterIP");
		if ((!ip || !*ip) && oip && *oip) {
			kc_json_set_str(svc, "spec.clusterIP", oip);
			ip = str_of(spec, "clusterIP");
		}
		if (!ip || !*ip) {
			char buf[64];
			if (svc_random_ip(o, buf, sizeof buf) < 0) {
				rc = api_err(e, 500, "InternalError",
					     "failed to allocate a serviceIP: range is full");
				goto out;
			}
			kc_json_set_str(svc, "spec.clusterIP", buf);
			cJSON *ips = kc_json_new_array();
			cJSON_AddItemToArray(ips, kc_json_new_str(buf));
			kc_json_set(svc, "spec.clusterIPs", ips);
			add_alloc(o, ip_key(buf));
		} else if (strcmp(ip, "None") != 0) {
			struct net_ip a;
			char cidr[64];
			if (net_ip_parse(ip, &a) < 0 || !net_cidr_contains(&r->svc_cidr, &a)) {
				api_err_cause(e, "FieldValueInvalid", "spec.clusterIPs",
					      "Invalid value: []string{\"%s\"}: failed to allocate IP "
					      "%s: the provided IP (%s) is not in the valid range. The "
					      "range of valid IPs is %s",
					      ip, ip, ip, net_cidr_format(&r->svc_cidr, cidr, sizeof cidr));
				rc = api_err_invalid(e, "Service", "", o->name);
				goto out;
			}
			char *k = ip_key(ip);
			if (in_list(oldkeys, nold, k)) {
				free(k);
			} else if (key_taken(o, k)) {
				free(k);
				api_err_cause(e, "FieldValueInvalid", "spec.clusterIPs",
					      "Invalid value: []string{\"%s\"}: failed to allocate IP "
					      "%s: provided IP is already allocated", ip, ip);
				rc = api_err_invalid(e, "Service", "", o->name);
				goto out;
			} else {
				add_alloc(o, k);
				o->alloc_explicit = true;
			}
			if (!cJSON_GetObjectItemCaseSensitive(spec, "clusterIPs")) {
				cJSON *ips = kc_json_new_array();
				cJSON_AddItemToArray(ips, kc_json_new_str(ip));
				kc_json_add(spec, "clusterIPs", ips);
			}
		}
		const char *fip = str_of(spec, "clusterIP");
		if (fip && *fip && strcmp(fip, "None") &&
		    !cJSON_GetObjectItemCaseSensitive(spec, "ipFamilies")) {
			cJSON *fam = kc_json_new_array();
			cJSON_AddItemToArray(fam, kc_json_new_str(strchr(fip, ':') ? "IPv6" : "IPv4"));
			kc_json_add(spec, "ipFamilies", fam);
			if (!cJSON_GetObjectItemCaseSensitive(spec, "ipFamilyPolicy"))
				kc_json_add(spec, "ipFamilyPolicy", kc_json_new_str("SingleStack"));
		}
	}

	/* node ports */
	bool wants_np = !strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer");
	cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(spec, "ports"))
	{
		if (!cJSON_IsObject(p))
			continue;
		long long np = 0;
		bool has = kc_json_get_i64(p, "nodePort", &np) == 0 && np != 0;
		if (!wants_np) {
			cJSON_DeleteItemFromObjectCaseSensitive(p, "nodePort");
			continue;
		}
		if (!has) {
			/* keep the node port the same port had before */
			long long port = 0, op = 0;
			kc_json_get_i64(p, "port", &port);
			const cJSON *q;
			cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(ospec, "ports"))
			{
				if (kc_json_get_i64(q, "port", &op) == 0 && op == port &&
				    kc_json_get_i64(q, "nodePort", &np) == 0) {
					has = true;
					break;
				}
			}
			if (!has) {
				np = svc_random_port(o);
				if (np < 0) {
					rc = api_err(e, 500, "InternalError",
						     "failed to allocate a nodePort: range is full");
					goto out;
				}
				add_alloc(o, port_key(np));
				cJSON_DeleteItemFromObjectCaseSensitive(p, "nodePort");
				kc_json_add(p, "nodePort", kc_json_new_num((double)np));
				continue;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(p, "nodePort");
			kc_json_add(p, "nodePort", kc_json_new_num((double)np));
		}
		if (np < r->port_min || np > r->port_max) {
			api_err_cause(e, "FieldValueInvalid", "spec.ports[].nodePort",
				      "Invalid value: %lld: provided port is not in the valid range. "
				      "The range of valid ports is %u-%u", np, r->port_min, r->port_max);
			rc = api_err_invalid(e, "Service", "", o->name);
			goto out;
		}
		char *k = port_key(np);
		if (in_list(oldkeys, nold, k) || in_list(o->alloc_add, o->nadd, k)) {
			free(k);
		} else if (key_taken(o, k)) {
			free(k);
			api_err_cause(e, "FieldValueInvalid", "spec.ports[].nodePort",
				      "Invalid value: %lld: provided port is already allocated", np);
			rc = api_err_invalid(e, "Service", "", o->name);
			goto out;
		} else {
			add_alloc(o, k);
			o->alloc_explicit = true;
		}
	}
	/* released: old keys the new object no longer holds */
	{
		char *newkeys[MAX_ALLOCS];
		unsigned nnew = svc_keys(r, svc, newkeys, MAX_ALLOCS);
		for (unsigned i = 0; i < nold; i++) {
			if (!in_list(newkeys, nnew, oldkeys[i]) && o->ndel < MAX_ALLOCS) {
				o->alloc_del[o->ndel++] = oldkeys[i];
				oldkeys[i] = NULL;
			}
		}
		for (unsigned i = 0; i < nnew; i++)
			free(newkeys[i]);
	}
out:
	for (unsigned i = 0; i < nold; i++)
		free(oldkeys[i]);
	return rc;
}

static void load_used(struct op *o, void (*done)(struct op *, int, struct mvcc_range_resp *,
						 const struct kc_err *))
{
	static const char prefix[] = "/registry/ranges/";
	/* not static: every API loop thread runs this at once (store_range copies the keys) */
	uint8_t end[sizeof prefix];
	size_t n = mvcc_prefix_end(prefix, sizeof prefix - 1, end);
	struct mvcc_range_req req = { .key = prefix, .key_len = sizeof prefix - 1, .range_end = end,
				      .range_end_len = n, .keys_only = true };
	do_range(o, &req, true, done);
}

static void fill_used(struct op *o, struct mvcc_range_resp *resp)
{
	kc_map_free(&o->used);
	kc_map_init(&o->used, NULL);
	for (size_t i = 0; i < resp->nkvs; i++) {
		/* NUL-terminated: the block holds key '\0' value '\0' */
		kc_map_put(&o->used, resp->kvs[i].key, resp->kvs[i].key_len, (void *)1);
	}
	o->used_loaded = true;
}

/* ---- create ----------------------------------------------------------------------------- */

static void create_submit(struct op *o);

static void set_generated_name(struct op *o)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	char name[REG_NAME_MAX + 1];
	size_t n = strlen(o->gen_prefix);
	if (n > REG_NAME_MAX - GENERATE_SUFFIX)
		n = REG_NAME_MAX - GENERATE_SUFFIX; /* Kubernetes cuts the prefix at 58 */
	if (n > 58)
		n = 58;
	memcpy(name, o->gen_prefix, n);
	for (unsigned i = 0; i < GENERATE_SUFFIX; i++)
		name[n + i] = alphabet[kc_rand_below(o->r->rand, sizeof alphabet - 1)];
	name[n + GENERATE_SUFFIX] = '\0';
	snprintf(o->name, sizeof o->name, "%s", name);
	meta_set_str(meta_of(o->obj), "name", name);
	registry_key(o->res, o->ns, o->name, o->key, sizeof o->key);
}

static void create_done(struct op *o, int rc, struct mvcc_result *res, const struct kc_err *err)
{
	if (rc < 0)
		return finish_store_err(o, rc, err);
	if (res->err.code < 0)
		return finish_store_err(o, res->err.code, &res->err);
	if (res->u.txn.succeeded) {
		cJSON *obj = o->obj;
		o->obj = NULL;
		struct reg_result rr = { .obj = obj, .rv = res->revision };
		set_rv(obj, res->revision);
		o->cb(o->arg, &rr, NULL);
		cJSON_Delete(rr.obj);
		op_free(o);
		return;
	}
	struct api_error e = { 0 };
	if (txn_key_exists(res)) {
		if (o->generated && ++o->attempts < MAX_ATTEMPTS) {
			set_generated_name(o);
			return create_submit(o);
		}
		api_err(&e, 409, "AlreadyExists", "%s%s%s \"%s\" already exists", o->res->plural,
			o->res->group[0] ? "." : "", o->res->group, o->name);
		api_err_details(&e, o->res->group, o->res->plural, o->name);
		return finish_err(o, &e);
	}
	/* an allocation was taken meanwhile */
	if (o->alloc_explicit || ++o->attempts >= MAX_ATTEMPTS) {
		api_err(&e, 409, "Conflict", "the requested allocation for %s \"%s\" is already "
			"taken; please retry", o->res->plural, o->name);
		return finish_err(o, &e);
	}
	o->used_loaded = false;
	create_submit(o);
}

static void create_used_done(struct op *o, int rc, struct mvcc_range_resp *resp,
			     const struct kc_err *err)
{
	if (rc < 0)
		return finish_store_err(o, rc, err);
	fill_used(o, resp);
	create_submit(o);
}

static void create_submit(struct op *o)
{
	if (is_core(o->res, "services")) {
		if (!o->used_loaded)
			return load_used(o, create_used_done);
		/* svc_plan writes the IP and node ports it picks into the spec: a retry after
		 * one of them was taken meanwhile must pick again, not take them as asked for */
		cJSON *spec = cJSON_GetObjectItemCaseSensitive(o->obj, "spec");
		if (!o->svc_spec_saved) {
			o->svc_spec = spec ? cJSON_Duplicate(spec, true) : NULL;
			o->svc_spec_saved = true;
		} else {
			cJSON_DeleteItemFromObjectCaseSensitive(o->obj, "spec");
			if (o->svc_spec)
				kc_json_add(o->obj, "spec", cJSON_Duplicate(o->svc_spec, true));
		}
		struct api_error e = { 0 };
		if (svc_plan(o, o->obj, &e) < 0)
			return finish_err(o, &e);
	}
	if (o->wo.dry_run) {
		cJSON *obj = o->obj;
		o->obj = NULL;
		struct reg_result rr = { .obj = obj };
		o->cb(o->arg, &rr, NULL);
		cJSON_Delete(rr.obj);
		op_free(o);
		return;
	}
	submit_write(o, true, create_done);
}

static void deferred_submit(struct loop *l, void *arg)
{
	(void)l;
	create_submit(arg);
}

static void create_ns_done(struct op *o, int rc, struct mvcc_range_resp *resp,
			   const struct kc_err *err)
{
	if (rc < 0)
		return finish_store_err(o, rc, err);
	struct api_error e = { 0 };
	if (resp->nkvs == 0) {
		api_err(&e, 404, "NotFound", "namespaces \"%s\" not found", o->ns);
		api_err_details(&e, "", "namespaces", o->ns);
		return finish_err(o, &e);
	}
	cJSON *ns = registry_parse(resp->kvs[0].value, resp->kvs[0].value_len, 0);
	bool terminating = ns && kc_json_get(ns, "metadata.deletionTimestamp") != NULL;
	cJSON_Delete(ns);
	if (terminating) {
		api_err(&e, 403, "Forbidden", "%s \"%s\" is forbidden: unable to create new content "
			"in namespace %s because it is being terminated", o->res->plural, o->name,
			o->ns);
		api_err_details(&e, o->res->group, o->res->plural, o->name);
		api_err_cause(&e, "NamespaceTerminating", "metadata.namespace", "namespace %s is "
			      "being terminated", o->ns);
		return finish_err(o, &e);
	}
	create_submit(o);
}

/* Server-owned metadata of a new object. */
static void init_metadata(struct op *o, cJSON *md)
{
	static const char *const drop[] = { "uid", "resourceVersion", "creationTimestamp",
					    "deletionTimestamp", "deletionGracePeriodSeconds",
					    "selfLink", "generation" };
	for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(md, drop[i]);
	char uid[37], ts[32];
	new_uid(o->r, uid);
	if (o->res->namespaced)
		meta_set_str(md, "namespace", o->ns);
	else
		cJSON_DeleteItemFromObjectCaseSensitive(md, "namespace");
	kc_json_add(md, "uid", kc_json_new_str(uid));
	kc_json_add(md, "creationTimestamp",
		    kc_json_new_str(registry_time(registry_now(o->r), ts, sizeof ts)));
}

/* Defaults, kind strategies and validation of a new object. */
static int prepare_create(struct op *o, struct api_error *e)
{
	cJSON *obj = o->obj;
	const struct api_resource *res = o->res;
	if (!cJSON_GetObjectItemCaseSensitive(obj, "apiVersion"))
		kc_json_add(obj, "apiVersion", kc_json_new_str(res->group_version));
	if (!cJSON_GetObjectItemCaseSensitive(obj, "kind"))
		kc_json_add(obj, "kind", kc_json_new_str(res->kind));
	init_metadata(o, meta_of(obj));
	if (is_core(res, "namespaces")) {
		cJSON *fin = kc_json_new_array();
		cJSON_AddItemToArray(fin, kc_json_new_str("kubernetes"));
		kc_json_set(obj, "spec.finalizers", fin);
		kc_json_set_str(obj, "status.phase", "Active");
		/* Kubernetes labels every namespace with its name */
		kc_json_set_str(obj, "metadata.labels[kubernetes.io/metadata.name]", o->name);
	}
	if (res->type)
		sch_apply_defaults(res->type, obj);
	kinds_default(res, obj);
	kinds_prepare_create(res, obj);
	if (!o->wo.skip_validation && kinds_validate(res, obj, NULL, e) > 0)
		return api_err_invalid(e, res->kind, res->group, o->name);
	return 0;
}

void registry_create(struct registry *r, struct loop *l, const struct api_resource *res,
		     const char *ns, cJSON *obj, const struct reg_write_opts *wo, reg_obj_cb cb,
		     void *arg)
{
	struct op *o = op_new(r, l, res, OP_CREATE, ns, NULL);
	o->cb = cb;
	o->arg = arg;
	o->obj = obj;
	if (wo)
		o->wo = *wo;
	struct api_error e = { 0 };
	if (!cJSON_IsObject(obj)) {
		api_err(&e, 400, "BadRequest", "the body of the request must be a JSON object");
		return fail_async(o, &e);
	}
	cJSON *md = meta_of(obj);
	const char *name = str_of(md, "name");
	const char *gen = str_of(md, "generateName");
	if (res->namespaced && !registry_name_ok(o->ns)) {
		api_err(&e, 400, "BadRequest", "a namespace is required to create %s", res->plural);
		return fail_async(o, &e);
	}
	if ((!name || !*name) && gen && *gen) {
		o->generated = true;
		snprintf(o->gen_prefix, sizeof o->gen_prefix, "%s", gen);
		set_generated_name(o);
	} else if (!name || !*name) {
		api_err_cause(&e, "FieldValueRequired", "metadata.name",
			      "Required value: name or generateName is required");
		api_err_invalid(&e, res->kind, res->group, "");
		return fail_async(o, &e);
	} else {
		snprintf(o->name, sizeof o->name, "%s", name);
	}
	if (!registry_name_ok(o->name) || registry_key(res, o->ns, o->name, o->key,
						      sizeof o->key) < 0) {
		api_err_cause(&e, "FieldValueInvalid", "metadata.name",
			      "Invalid value: \"%.64s\": may not contain '/' or '%%' and must be at "
			      "most 253 characters", o->name);
		api_err_invalid(&e, res->kind, res->group, o->name);
		return fail_async(o, &e);
	}
	if (prepare_create(o, &e) < 0)
		return fail_async(o, &e);
	if (res->namespaced) {
		char k[REG_KEY_MAX];
		snprintf(k, sizeof k, "%s%s", NS_PREFIX, o->ns);
		return read_key(o, k, false, create_ns_done);
	}
	loop_call(l, deferred_submit, o);
}

/* ---- update ----------------------------------------------------------------------------- */

static void update_read(struct op *o);

static bool has_finalizers(const cJSON *obj)
{
	const cJSON *f = kc_json_get(obj, "metadata.finalizers");
	return cJSON_IsArray(f) && cJSON_GetArraySize(f) > 0;
}

/* A deleting object with nothing left to wait for is deleted by the write that clears it. */
static bool should_delete(const struct op *o, const cJSON *obj)
{
	if (!kc_json_get(obj, "metadata.deletionTimestamp") || has_finalizers(obj))
		return false;
	if (is_core(o->res, "namespaces")) {
		const cJSON *f = kc_json_get(obj, "spec.finalizers");
		return !(cJSON_IsArray(f) && cJSON_GetArraySize(f) > 0);
	}
	long long g = 0;
	if (kc_json_get_i64(obj, "metadata.deletionGracePeriodSeconds", &g) == 0 && g > 0)
		return false;
	return true;
}

static void update_done(struct op *o, int rc, struct mvcc_result *res, const struct kc_err *err)
{
	if (rc < 0)
		return finish_store_err(o, rc, err);
	if (res->err.code < 0)
		return finish_store_err(o, res->err.code, &res->err);
	if (res->u.txn.succeeded) {
		cJSON *obj = o->obj;
		o->obj = NULL;
		struct reg_result rr = { .obj = obj, .rv = o->delete_now ? o->cur_mod : res->revision,
					 .deleted = o->delete_now };
		set_rv(obj, rr.rv);
		o->cb(o->arg, &rr, NULL);
		cJSON_Delete(rr.obj);
		op_free(o);
		return;
	}
	struct api_error e = { 0 };
	if (!txn_key_exists(res)) {
		not_found(&e, o->res, o->name);
		return finish_err(o, &e);
	}
	if (o->explicit_rv || ++o->attempts >= MAX_ATTEMPTS) {
		conflict(&e, o->res, o->name);
		return finish_err(o, &e);
	}
	update_read(o);
}

static void update_write(struct op *o)
{
	if (o->wo.dry_run) {
		cJSON *obj = o->obj;
		o->obj = NULL;
		struct reg_result rr = { .obj = obj, .rv = o->cur_mod };
		set_rv(obj, o->cur_mod);
		o->cb(o->arg, &rr, NULL);
		cJSON_Delete(rr.obj);
		op_free(o);
		return;
	}
	submit_write(o, false, update_done);
}

static void update_used_done(struct op *o, int rc, struct mvcc_range_resp *resp,
			     const struct kc_err *err)
{
	if (rc < 0)
		return finish_store_err(o, rc, err);
	fill_used(o, resp);
	struct api_error e = { 0 };
	if (svc_plan(o, o->obj, &e) < 0)
		return finish_err(o, &e);
	update_write(o);
}

/* Release the allocations of a service being deleted. */
static void plan_release(struct op *o)
{
	alloc_clear(o);
	if (is_core(o->res, "services") && o->cur)
		o->ndel = svc_keys(o->r, o->cur, o->alloc_del, MAX_ALLOCS);
}

static bool wants_node_ports(const cJSON *svc)
{
	const char *t = kc_json_get_str(svc, "spec.type");
	return t && (!strcmp(t, "NodePort") || !strcmp(t, "LoadBalancer"));
}

/* A Service whose type no longer uses node ports drops them (Kubernetes'
 * dropTypeDependentFields), before validation. */
static void drop_type_dependent(cJSON *svc, const cJSON *old)
{
	if (wants_node_ports(svc) || !wants_node_ports(old))
		return;
	cJSON *p;
	cJSON_ArrayForEach(p, kc_json_get(svc, "spec.ports"))
	{
		cJSON_DeleteItemFromObjectCaseSensitive(p, "nodePort");
	}
}

static void update_got(struct op *o, int rc, struct mvcc_range_resp *resp,
		       const struct kc_err *err)
{
	if (rc < 0)
		return finish_store_err(o, rc, err);
	struct api_error e = { 0 };
	if (resp->nkvs == 0) {
		not_found(&e, o->res, o->name);
		return finish_err(o, &e);
	}
	cJSON_Delete(o->cur);
	cJSON_Delete(o->obj);
	o->obj = NULL;
	o->cur_mod = resp->kvs[0].mod_revision;
	o->cur = registry_parse(resp->kvs[0].value, resp->kvs[0].value_len, o->cur_mod);
	if (!o->cur) {
		api_err(&e, 500, "InternalError", "the stored object %s cannot be read", o->key);
		return finish_err(o, &e);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(meta_of(o->cur), "resourceVersion");
	cJSON *obj = kc_json_dup(o->cur);
	if (o->fn(o->fnarg, &obj, &e) < 0) {
		cJSON_Delete(obj);
		return finish_err(o, &e);
	}
	o->obj = obj;
	if (!cJSON_IsObject(obj)) {
		api_err(&e, 400, "BadRequest", "the object must be a JSON object");
		return finish_err(o, &e);
	}
	cJSON *md = meta_of(obj);
	const char *rv = str_of(md, "resourceVersion");
	o->explicit_rv = false;
	if (rv && *rv) {
		long long v;
		if (kc_parse_i64(rv, 1, INT64_MAX, &v) < 0) {
			api_err(&e, 400, "BadRequest", "invalid resourceVersion \"%.32s\"", rv);
			return finish_err(o, &e);
		}
		if (v != o->cur_mod) {
			conflict(&e, o->res, o->name);
			return finish_err(o, &e);
		}
		o->explicit_rv = true;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(md, "resourceVersion");
	/* identity is the stored object's */
	meta_set_str(md, "name", o->name);
	if (o->res->namespaced)
		meta_set_str(md, "namespace", o->ns);
	else
		cJSON_DeleteItemFromObjectCaseSensitive(md, "namespace");
	static const char *const ident[] = { "apiVersion", "kind" };
	for (size_t i = 0; i < 2; i++) {
		const char *v = str_of(o->cur, ident[i]);
		if (v) {
			cJSON_DeleteItemFromObjectCaseSensitive(obj, ident[i]);
			kc_json_add(obj, ident[i], kc_json_new_str(v));
		}
	}
	if (is_core(o->res, "services"))
		drop_type_dependent(obj, o->cur);
	if (!o->wo.skip_validation) {
		if (o->res->type)
			sch_apply_defaults(o->res->type, obj);
		kinds_default(o->res, obj);
		kinds_prepare_update(o->res, o->sub[0] ? o->sub : NULL, obj, o->cur);
		if (kinds_validate(o->res, obj, o->cur, &e) > 0) {
			api_err_invalid(&e, o->res->kind, o->res->group, o->name);
			return finish_err(o, &e);
		}
	} else {
		/* internal writers keep the server-owned metadata */
		static const char *const keep[] = { "uid", "creationTimestamp" };
		for (size_t i = 0; i < 2; i++) {
			const char *v = kc_json_get_str(o->cur, keep[i][0] == 'u' ? "metadata.uid"
						       : "metadata.creationTimestamp");
			if (v)
				meta_set_str(md, keep[i], v);
		}
	}
	/* A no-op update writes nothing (the resourceVersion stays). */
	if (kc_json_equal(obj, o->cur)) {
		struct reg_result rr = { .obj = obj, .rv = o->cur_mod };
		o->obj = NULL;
		set_rv(obj, o->cur_mod);
		o->cb(o->arg, &rr, NULL);
		cJSON_Delete(rr.obj);
		op_free(o);
		return;
	}
	o->delete_now = should_delete(o, obj);
	if (o->delete_now) {
		plan_release(o);
		return update_write(o);
	}
	if (is_core(o->res, "services") && !o->sub[0])
		return load_used(o, update_used_done);
	update_write(o);
}

static void update_read(struct op *o)
{
	read_key(o, o->key, true, update_got);
}

void registry_update(struct registry *r, struct loop *l, const struct api_resource *res,
		     const char *sub, const char *ns, const char *name, reg_mutate_fn fn,
		     void *fnarg, const struct reg_write_opts *wo, reg_obj_cb cb, void *arg)
{
	struct op *o = op_new(r, l, res, OP_UPDATE, ns, name);
	o->cb = cb;
	o->arg = arg;
	o->fn = fn;
	o->fnarg = fnarg;
	if (wo)
		o->wo = *wo;
	snprintf(o->sub, sizeof o->sub, "%s", sub && !strcmp(sub, "status") ? "status" : "");
	if (!registry_name_ok(o->name) ||
	    registry_key(res, o->ns, o->name, o->key, sizeof o->key) < 0) {
		struct api_error e = { 0 };
		not_found(&e, res, o->name);
		return fail_async(o, &e);
	}
	update_read(o);
}

/* ---- delete ----------------------------------------------------------------------------- */

static void delete_read(struct op *o);

static void add_finalizer(cJSON *md, const char *f)
{
	cJSON *fin = cJSON_GetObjectItemCaseSensitive(md, "finalizers");
	if (!cJSON_IsArray(fin)) {
		cJSON_DeleteItemFromObjectCaseSensitive(md, "finalizers");
		fin = kc_json_new_array();
		kc_json_add(md, "finalizers", fin);
	}
	const cJSON *x;
	cJSON_ArrayForEach(x, fin)
	{
		if (cJSON_IsString(x) && !strcmp(x->valuestring, f))
			return;
	}
	cJSON_AddItemToArray(fin, kc_json_new_str(f));
}

static void delete_done(struct op *o, int rc, struct mvcc_result *res, const struct kc_err *err)
{
	if (rc < 0)
		return finish_store_err(o, rc, err);
	if (res->err.code < 0)
		return finish_store_err(o, res->err.code, &res->err);
	if (res->u.txn.succeeded) {
		cJSON *obj = o->delete_now ? o->cur : o->obj;
		if (o->delete_now)
			o->cur = NULL;
		else
			o->obj = NULL;
		struct reg_result rr = { .obj = obj, .rv = o->delete_now ? o->cur_mod : res->revision,
					 .deleted = o->delete_now };
		set_rv(obj, rr.rv);
		o->cb(o->arg, &rr, NULL);
		cJSON_Delete(rr.obj);
		op_free(o);
		return;
	}
	struct api_error e = { 0 };
	if (!txn_key_exists(res)) {
		not_found(&e, o->res, o->name);
		return finish_err(o, &e);
	}
	if (++o->attempts >= MAX_ATTEMPTS) {
		conflict(&e, o->res, o->name);
		return finish_err(o, &e);
	}
	delete_read(o);
}

static void delete_got(struct op *o, int rc, struct mvcc_range_resp *resp,
		       const struct kc_err *err)
{
	if (rc < 0)
		return finish_store_err(o, rc, err);
	struct api_error e = { 0 };
	if (resp->nkvs == 0) {
		not_found(&e, o->res, o->name);
		return finish_err(o, &e);
	}
	cJSON_Delete(o->cur);
	cJSON_Delete(o->obj);
	o->obj = NULL;
	o->cur_mod = resp->kvs[0].mod_revision;
	o->cur = registry_parse(resp->kvs[0].value, resp->kvs[0].value_len, o->cur_mod);
	if (!o->cur) {
		/* unreadable: delete the key anyway */
		o->cur = kc_json_new_object();
		o->delete_now = true;
		return submit_write(o, false, delete_done);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(meta_of(o->cur), "resourceVersion");
	const char *uid = kc_json_get_str(o->cur, "metadata.uid");
	if (o->pre_uid[0] && (!uid || strcmp(uid, o->pre_uid))) {
		api_err(&e, 409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": Precondition "
			"failed: UID in precondition: %s, UID in object meta: %s", o->res->plural,
			o->name, o->pre_uid, uid ? uid : "");
		api_err_details(&e, o->res->group, o->res->plural, o->name);
		return finish_err(o, &e);
	}
	if (o->pre_rv[0] && strtoll(o->pre_rv, NULL, 10) != o->cur_mod) {
		api_err(&e, 409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": Precondition "
			"failed: ResourceVersion in precondition: %s, ResourceVersion in meta: %lld",
			o->res->plural, o->name, o->pre_rv, (long long)o->cur_mod);
		api_err_details(&e, o->res->group, o->res->plural, o->name);
		return finish_err(o, &e);
	}
	cJSON *obj = kc_json_dup(o->cur);
	cJSON *md = meta_of(obj);
	o->obj = obj;
	int64_t now = registry_now(o->r);
	bool deleting = cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp") != NULL;
	bool pod = is_core(o->res, "pods");
	bool ns = is_core(o->res, "namespaces");
	long long grace = 0, cur_grace = 0;
	bool shorten = false;
	if (pod) {
		const char *node = kc_json_get_str(obj, "spec.nodeName");
		const char *phase = kc_json_get_str(obj, "status.phase");
		long long def = 30;
		kc_json_get_i64(obj, "spec.terminationGracePeriodSeconds", &def);
		grace = o->dopt.grace_seconds >= 0 ? o->dopt.grace_seconds : def;
		/* unscheduled and terminated pods have nothing to stop: they go at once */
		if (!node || !*node ||
		    (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))))
			grace = 0;
		if (deleting) {
			kc_json_get_i64(obj, "metadata.deletionGracePeriodSeconds", &cur_grace);
			if (grace < cur_grace)
				shorten = true;
			else
				grace = cur_grace; /* a delete may only shorten the grace period */
		}
	}
	switch (o->dopt.propagation) {
	case REG_PROPAGATE_ORPHAN:
		add_finalizer(md, "orphan");
		break;
	case REG_PROPAGATE_FOREGROUND:
		add_finalizer(md, "foregroundDeletion");
		break;
	default:
		break;
	}
	bool ns_wait = false;
	if (ns) {
		const cJSON *sf = kc_json_get(obj, "spec.finalizers");
		ns_wait = cJSON_IsArray(sf) && cJSON_GetArraySize(sf) > 0;
	}
	if (has_finalizers(obj) || grace > 0 || ns_wait) {
		char ts[32];
		if (!deleting) {
			long long gen = 0;
			if (kc_json_get_i64(obj, "metadata.generation", &gen) == 0 && gen > 0) {
				cJSON_DeleteItemFromObjectCaseSensitive(md, "generation");
				kc_json_add(md, "generation", kc_json_new_num((double)gen + 1));
			}
		}
		if (!deleting || shorten) {
			meta_set_str(md, "deletionTimestamp",
				     registry_time(now + (pod ? grace : 0), ts, sizeof ts));
			cJSON_DeleteItemFromObjectCaseSensitive(md, "deletionGracePeriodSeconds");
			kc_json_add(md, "deletionGracePeriodSeconds",
				    kc_json_new_num((double)(pod ? grace : 0)));
		}
		if (ns)
			kc_json_set_str(obj, "status.phase", "Terminating");
		if (kc_json_equal(obj, o->cur)) {
			/* nothing changes: already being deleted */
			struct reg_result rr = { .obj = obj, .rv = o->cur_mod };
			o->obj = NULL;
			set_rv(obj, o->cur_mod);
			o->cb(o->arg, &rr, NULL);
			cJSON_Delete(rr.obj);
			op_free(o);
			return;
		}
		o->delete_now = false;
		alloc_clear(o);
	} else {
		o->delete_now = true;
		plan_release(o);
	}
	if (o->dopt.dry_run) {
		cJSON *res_obj = o->delete_now ? o->cur : o->obj;
		if (o->delete_now)
			o->cur = NULL;
		else
			o->obj = NULL;
		struct reg_result rr = { .obj = res_obj, .rv = o->cur_mod, .deleted = o->delete_now };
		set_rv(res_obj, o->cur_mod);
		o->cb(o->arg, &rr, NULL);
		cJSON_Delete(rr.obj);
		op_free(o);
		return;
	}
	submit_write(o, false, delete_done);
}

static void delete_read(struct op *o)
{
	read_key(o, o->key, true, delete_got);
}

void registry_delete(struct registry *r, struct loop *l, const struct api_resource *res,
		     const char *ns, const char *name, const struct reg_delete_opts *dopt,
		     reg_obj_cb cb, void *arg)
{
	struct op *o = op_new(r, l, res, OP_DELETE, ns, name);
	o->cb = cb;
	o->arg = arg;
	o->dopt.grace_seconds = -1;
	if (dopt) {
		o->dopt = *dopt;
		snprintf(o->pre_uid, sizeof o->pre_uid, "%s",
			 dopt->precondition_uid ? dopt->precondition_uid : "");
		snprintf(o->pre_rv, sizeof o->pre_rv, "%s",
			 dopt->precondition_rv ? dopt->precondition_rv : "");
		o->dopt.precondition_uid = o->dopt.precondition_rv = NULL;
	}
	struct api_error e = { 0 };
	if (!registry_name_ok(o->name) ||
	    registry_key(res, o->ns, o->name, o->key, sizeof o->key) < 0) {
		not_found(&e, res, o->name);
		return fail_async(o, &e);
	}
	if (is_core(res, "namespaces") && (!strcmp(o->name, "default") ||
					   !strcmp(o->name, "kube-system") ||
					   !strcmp(o->name, "kube-public"))) {
		api_err(&e, 403, "Forbidden", "namespaces \"%s\" is forbidden: this namespace may "
			"not be deleted", o->name);
		api_err_details(&e, "", "namespaces", o->name);
		return fail_async(o, &e);
	}
	delete_read(o);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

int registry_new(const struct registry_config *cfg, struct registry **out, struct kc_err *err)
{
	if (!cfg->store)
		return kc_err_set(err, -KC_EINVAL, "the registry needs a store");
	struct registry *r = xcalloc(1, sizeof *r);
	r->store = cfg->store;
	r->schema = cfg->schema;
	if (cfg->service_cidr)
		r->svc_cidr = *cfg->service_cidr;
	else
		net_cidr_parse("10.43.0.0/16", &r->svc_cidr, NULL);
	r->port_min = cfg->node_port_min ? cfg->node_port_min : 30000;
	r->port_max = cfg->node_port_max ? cfg->node_port_max : 32767;
	if (r->port_max < r->port_min) {
		free(r);
		return kc_err_set(err, -KC_EINVAL, "bad node port range %u-%u", cfg->node_port_min,
				  cfg->node_port_max);
	}
	r->rand = cfg->rand ? cfg->rand : kc_rand_real();
	r->clock = cfg->clock ? cfg->clock : kc_clock_real();
	*out = r;
	return 0;
}

void registry_free(struct registry *r)
{
	free(r);
}

/* ---- bootstrap -------------------------------------------------------------------------- */

struct boot {
	unsigned pending;
	int rc;
	struct kc_err *err;
};

static void boot_done(void *arg, struct reg_result *res, const struct api_error *e)
{
	struct boot *b = arg;
	b->pending--;
	if (e && e->code != 409 && b->rc == 0) {
		b->rc = e->code == 503 || e->code == 504 ? -KC_EUNAVAIL : -KC_EIO;
		kc_err_set(b->err, b->rc, "creating the default objects: %s", e->message);
	}
}

static const struct api_resource *res_of(const struct schema *s, const cJSON *obj)
{
	const char *av = str_of(obj, "apiVersion"), *kind = str_of(obj, "kind");
	if (!av || !kind)
		return NULL;
	char group[128];
	const char *slash = strchr(av, '/');
	snprintf(group, sizeof group, "%.*s", slash ? (int)(slash - av) : 0, av);
	return schema_resource_by_kind(s, group, kind);
}

/* A default object is created only when absent: a restart must not fail on objects the first
 * start made (a Service's explicit cluster IP, for one, is "already allocated" to itself). */
struct boot_item {
	struct registry *r;
	struct loop *l;
	struct boot *b;
	const struct api_resource *res;
	char *ns;
	cJSON *obj;
};

static void boot_get_done(void *arg, const struct mvcc_kv *kv, const struct api_error *e)
{
	struct boot_item *it = arg;
	if (!kv && e && e->code == 404) {
		struct reg_write_opts wo = { .skip_validation = true };
		registry_create(it->r, it->l, it->res, it->ns, it->obj, &wo, boot_done, it->b);
		it->obj = NULL;
	} else {
		boot_done(it->b, NULL, kv ? NULL : e);
	}
	cJSON_Delete(it->obj);
	free(it->ns);
	free(it);
}

static void boot_create(struct registry *r, struct loop *l, struct boot *b, const cJSON *obj)
{
	const struct api_resource *res = res_of(r->schema, obj);
	const char *name = kc_json_get_str(obj, "metadata.name");
	if (!res || !name) {
		log_warn("bootstrap object of an unknown kind skipped kind=%s",
			 str_of(obj, "kind") ? str_of(obj, "kind") : "?");
		return;
	}
	const char *ns = kc_json_get_str(obj, "metadata.namespace");
	struct boot_item *it = xcalloc(1, sizeof *it);
	*it = (struct boot_item){ r, l, b, res, xstrdup(ns ? ns : ""), kc_json_dup(obj) };
	b->pending++;
	registry_get(r, l, res, it->ns, name, true, boot_get_done, it);
}

static int boot_wait(struct loop *l, struct boot *b, uint64_t deadline)
{
	while (b->pending > 0) {
		if (loop_now_ms(l) > deadline) {
			if (b->rc == 0)
				b->rc = kc_err_set(b->err, -KC_ETIMEDOUT,
						   "creating the default objects: the store did not "
						   "answer in time");
			/* requests still in flight need the loop: keep running it */
			while (b->pending > 0)
				loop_run_once(l, 100);
			break;
		}
		loop_run_once(l, 50);
	}
	return b->rc;
}

int registry_bootstrap(struct registry *r, const cJSON *extra, const char *advertise,
		       uint16_t api_port, unsigned timeout_ms, struct kc_err *err)
{
	if (!r->schema)
		return kc_err_set(err, -KC_EINVAL, "bootstrap needs the schema");
	struct loop *l = loop_new(NULL);
	if (!l)
		return kc_err_set(err, -KC_EIO, "cannot create a loop");
	struct boot b = { .err = err };
	uint64_t deadline = loop_now_ms(l) + timeout_ms;
	static const char *const nss[] = { "default", "kube-system", "kube-public",
					   "kube-node-lease" };
	for (size_t i = 0; i < 4; i++) {
		cJSON *ns = kc_json_new_object();
		kc_json_add(ns, "apiVersion", kc_json_new_str("v1"));
		kc_json_add(ns, "kind", kc_json_new_str("Namespace"));
		kc_json_set_str(ns, "metadata.name", nss[i]);
		boot_create(r, l, &b, ns);
		cJSON_Delete(ns);
	}
	int rc = boot_wait(l, &b, deadline);
	if (rc < 0)
		goto out;
	const cJSON *x;
	cJSON_ArrayForEach(x, extra)
	{
		boot_create(r, l, &b, x);
	}
	/* the "kubernetes" service on the first service IP, and its endpoints */
	struct net_ip first;
	char ip[64];
	net_cidr_nth(&r->svc_cidr, 1, &first);
	net_ip_format(&first, ip, sizeof ip);
	char buf[1024];
	snprintf(buf, sizeof buf,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"kubernetes\","
		 "\"namespace\":\"default\",\"labels\":{\"component\":\"apiserver\",\"provider\":"
		 "\"kubernetes\"}},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"%s\","
		 "\"ports\":[{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\",\"targetPort\":%u}],"
		 "\"sessionAffinity\":\"None\"}}",
		 ip, api_port);
	cJSON *svc = NULL;
	kc_json_parse(buf, strlen(buf), NULL, &svc, NULL);
	boot_create(r, l, &b, svc);
	cJSON_Delete(svc);
	if (advertise && *advertise) {
		snprintf(buf, sizeof buf,
			 "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":"
			 "\"kubernetes\",\"namespace\":\"default\",\"labels\":{"
			 "\"endpointslice.kubernetes.io/skip-mirror\":\"true\"}},\"subsets\":[{"
			 "\"addresses\":[{\"ip\":\"%s\"}],\"ports\":[{\"name\":\"https\",\"port\":%u,"
			 "\"protocol\":\"TCP\"}]}]}",
			 advertise, api_port);
		cJSON *ep = NULL;
		kc_json_parse(buf, strlen(buf), NULL, &ep, NULL);
		boot_create(r, l, &b, ep);
		cJSON_Delete(ep);
	}
	rc = boot_wait(l, &b, deadline);
out:
	loop_free(l);
	return rc;
}
