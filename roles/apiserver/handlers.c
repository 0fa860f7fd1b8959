/* DESIGN: one request = one 'struct hreq' (heap), created by the entry handler on the loop
 * thread that received the request, finished there by a registry callback. The entry handler
 * authenticates, parses the path into (resource, namespace, name, subresource), authorizes,
 * then dispatches on the verb. Watches hold their hreq until both the HTTP request is finished
 * and the store watcher delivered its final NULL callback; the client going away (on_close)
 * cancels the store watcher. Nothing here is shared between threads except the immutable
 * api_ctx and an atomic count of open watches. */
#include "roles/apiserver/handlers.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/yaml.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "roles/apiserver/auth.h"
#include "roles/apiserver/discovery.h"
#include "roles/apiserver/nodeproxy.h"
#include "roles/apiserver/openapi.h"
#include "roles/apiserver/patch.h"
#include "roles/apiserver/protobuf.h"
#include "roles/apiserver/registry.h"
#include "roles/apiserver/resmetrics.h"
#include "roles/apiserver/schema.h"
#include "roles/apiserver/selector.h"
#include "roles/apiserver/status.h"
#include "roles/apiserver/table.h"
#include "store/kv.h"

#define JSON_CT "application/json"
#define TABLE_CT "application/json;as=Table;v=v1;g=meta.k8s.io"
#define BOOKMARK_MS 60000u
#define MAX_SEGS 8
#define DEFAULT_WATCH_S 1800
/* Stored items per page of a streamed list: about 256 KiB of pod JSON, a short turn of the loop. */
#define LIST_PAGE_ITEMS 256
/* A page goes to the stream in slices of this size, so the connection's output buffer stays
 * small (and pooled) while the socket takes the data as fast as it comes. */
#define LIST_SLICE 32768

static _Atomic unsigned long open_watches;

unsigned long handlers_open_watches(void)
{
	return atomic_load(&open_watches);
}

enum verb { V_GET, V_LIST, V_WATCH, V_CREATE, V_UPDATE, V_PATCH, V_DELETE, V_DELETECOLLECTION };
static const char *const verb_names[] = { "get",   "list",  "watch",  "create",
					  "update", "patch", "delete", "deletecollection" };

struct hreq {
	struct http_req *req;
	struct api_ctx *ctx;
	struct auth_user user;
	const struct api_resource *res;
	enum verb verb;
	char ns[REG_NAME_MAX + 1];
	char name[REG_NAME_MAX + 1];
	char sub[32];
	bool table;
	bool dry_run;
	cJSON *body;            /* parsed request body (create / update) */
	cJSON *patch;           /* PATCH document */
	int patch_type;         /* 1 json, 2 merge, 3 strategic */
	int field_validation;   /* 0 ignore, 1 warn, 2 strict */
	struct label_selector *ls;
	struct field_selector *fs;
	/* watch */
	int64_t watch_id;
	bool watching;          /* a store watcher exists and has not delivered its final NULL */
	bool finished;          /* the HTTP request was finished */
	bool listing;           /* the initial list is in flight */
	bool first_table;
	bool bookmarks;
	bool counted;
	bool cancel_sent;
	struct loop *loop;
	struct loop_timer timeout;
	struct loop_timer bookmark;
	int64_t last_rv;
	/* streamed list (also a watch's initial list) */
	struct reg_list_stream *lst;  /* paused until on_drain; NULL while a page is being read */
	bool lst_streaming;           /* the response was started as a stream */
	size_t lst_count;             /* items written so far */
	int64_t lst_now;              /* Table rows: one "now" for the whole list */
	struct kc_str lst_buf;        /* one page of output, reused page after page */
	/* deletecollection */
	size_t dc_next, dc_n;
	char (*dc_names)[REG_NAME_MAX + 1];
	char (*dc_ns)[REG_NAME_MAX + 1];
	struct reg_delete_opts dopt;
	char pre_uid[64], pre_rv[32];
};

/* ---- responses -------------------------------------------------------------------------- */

static void hreq_free(struct hreq *h)
{
	if (h->counted)
		atomic_fetch_sub(&open_watches, 1);
	cJSON_Delete(h->body);
	cJSON_Delete(h->patch);
	label_selector_free(h->ls);
	field_selector_free(h->fs);
	free(h->dc_names);
	free(h->dc_ns);
	if (h->lst_buf.buf)
		kc_str_free(&h->lst_buf);
	free(h);
}

static void respond_err(struct http_req *req, const struct api_error *e)
{
	struct kc_str out = KC_STR_INIT;
	api_err_json(e, &out);
	if (e->retry_after_s)
		http_resp_headerf(req, "Retry-After", "%u", e->retry_after_s);
	http_respond(req, e->code ? e->code : 500, JSON_CT, out.buf, out.len);
	kc_str_free(&out);
}

static void fail(struct hreq *h, const struct api_error *e)
{
	respond_err(h->req, e);
	hreq_free(h);
}

static void failf(struct hreq *h, int code, const char *reason, const char *msg)
{
	struct api_error e = { 0 };
	api_err(&e, code, reason, "%s", msg);
	fail(h, &e);
}

static void now_rv_meta(struct kc_str *out, int64_t rv)
{
	kc_str_addf(out, "\"metadata\":{\"resourceVersion\":\"%lld\"}", (long long)rv);
}

/* One object (with resourceVersion) as JSON or as a one-row Table. */
static void write_object(struct hreq *h, const cJSON *obj, struct kc_str *out, bool columns)
{
	if (h->table && h->res) {
		const char *rv = kc_json_get_str(obj, "metadata.resourceVersion");
		kc_str_adds(out, "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",");
		now_rv_meta(out, rv ? strtoll(rv, NULL, 10) : 0);
		if (columns) {
			kc_str_adds(out, ",\"columnDefinitions\":");
			table_columns_json(h->res, out);
		}
		kc_str_adds(out, ",\"rows\":[");
		table_row_json(h->res, obj, (int64_t)time(NULL), true, out);
		kc_str_adds(out, "]}");
		return;
	}
	kc_json_write(out, obj);
}

static void respond_obj(struct hreq *h, int code, const cJSON *obj)
{
	struct kc_str out = KC_STR_INIT;
	write_object(h, obj, &out, true);
	http_respond(h->req, code, h->table ? TABLE_CT : JSON_CT, out.buf, out.len);
	kc_str_free(&out);
	hreq_free(h);
}

static void respond_json_text(struct hreq *h, int code, const char *text, size_t len)
{
	http_respond(h->req, code, JSON_CT, text, len);
	hreq_free(h);
}

/* ---- authorization ---------------------------------------------------------------------- */

static bool authorize(struct hreq *h, const char *verb, const char *sub)
{
	struct authz_attrs at = {
		.verb = verb, .group = h->res->group, .resource = h->res->plural,
		.subresource = sub, .ns = h->ns, .name = h->name,
	};
	if (auth_authorize(h->ctx->auth, &h->user, &at))
		return true;
	struct api_error e = { 0 };
	char resource[128], scope[300];
	snprintf(resource, sizeof resource, "%s%s%s", h->res->plural, sub && *sub ? "/" : "",
		 sub ? sub : "");
	if (h->ns[0])
		snprintf(scope, sizeof scope, "in the namespace \"%s\"", h->ns);
	else
		snprintf(scope, sizeof scope, "at the cluster scope");
	char who[600];
	if (h->name[0])
		snprintf(who, sizeof who, "%s%s%s \"%s\"", h->res->plural, h->res->group[0] ? "." : "",
			 h->res->group, h->name);
	else
		snprintf(who, sizeof who, "%s%s%s", h->res->plural, h->res->group[0] ? "." : "",
			 h->res->group);
	api_err(&e, 403, "Forbidden", "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API "
		"group \"%s\" %s", who, h->user.name, verb, resource, h->res->group, scope);
	api_err_details(&e, h->res->group, h->res->plural, h->name);
	respond_err(h->req, &e);
	return false;
}

static bool authenticate(struct http_req *req, struct api_ctx *ctx, struct auth_user *u)
{
	int rc = auth_authenticate(ctx->auth, req, u);
	if (rc < 0) {
		struct api_error e = { 0 };
		api_err(&e, 401, "Unauthorized", "Unauthorized");
		respond_err(req, &e);
		return false;
	}
	return true;
}

static bool authorize_path(struct http_req *req, struct api_ctx *ctx, struct auth_user *u)
{
	char verb[16];
	size_t i = 0;
	for (; req->method[i] && i < sizeof verb - 1; i++)
		verb[i] = (char)(req->method[i] | 0x20);
	verb[i] = '\0';
	struct authz_attrs at = { .verb = verb, .path = req->path };
	if (auth_authorize(ctx->auth, u, &at))
		return true;
	struct api_error e = { 0 };
	api_err(&e, 403, "Forbidden", "forbidden: User \"%s\" cannot %s path \"%.200s\"", u->name,
		verb, req->path);
	respond_err(req, &e);
	return false;
}

bool handlers_check_path(struct api_ctx *ctx, struct http_req *req)
{
	struct auth_user u;
	return authenticate(req, ctx, &u) && authorize_path(req, ctx, &u);
}

/* ---- discovery and openapi -------------------------------------------------------------- */

static void h_discovery(struct http_req *req, void *arg)
{
	struct api_ctx *ctx = arg;
	struct auth_user u;
	if (!authenticate(req, ctx, &u) || !authorize_path(req, ctx, &u))
		return;
	bool v2beta1 = false;
	bool agg = discovery_wants_aggregated(http_req_header(req, "Accept"), &v2beta1);
	size_t len = 0;
	const char *doc = discovery_doc(ctx->disc, req->path, agg, v2beta1, &len);
	if (!doc && agg)
		doc = discovery_doc(ctx->disc, req->path, false, false, &len), agg = false;
	if (!doc) {
		struct api_error e = { 0 };
		api_err(&e, 404, "NotFound", "the server could not find the requested resource");
		respond_err(req, &e);
		return;
	}
	const char *ct = JSON_CT;
	char ctbuf[128];
	if (agg) {
		snprintf(ctbuf, sizeof ctbuf, "application/json;g=apidiscovery.k8s.io;v=%s;"
			 "as=APIGroupDiscoveryList", v2beta1 ? "v2beta1" : "v2");
		ct = ctbuf;
	}
	http_respond(req, 200, ct, doc, len);
}

static void h_openapi(struct http_req *req, void *arg)
{
	struct api_ctx *ctx = arg;
	struct auth_user u;
	if (!authenticate(req, ctx, &u) || !authorize_path(req, ctx, &u))
		return;
	size_t len = 0;
	const char *etag = NULL;
	const char *doc = openapi_doc(ctx->openapi, req->path, &len, &etag);
	if (!doc) {
		struct api_error e = { 0 };
		api_err(&e, 404, "NotFound", "the server could not find the requested resource");
		respond_err(req, &e);
		return;
	}
	if (etag) {
		http_resp_header(req, "ETag", etag);
		const char *inm = http_req_header(req, "If-None-Match");
		if (inm && !strcmp(inm, etag)) {
			http_respond(req, 304, NULL, NULL, 0);
			return;
		}
	}
	if (strstr(req->target, "hash="))
		http_resp_header(req, "Cache-Control", "public, immutable");
	else
		http_resp_header(req, "Cache-Control", "no-cache, private");
	http_respond(req, 200, JSON_CT, doc, len);
}

/* ---- body decoding ---------------------------------------------------------------------- */

static bool ct_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	return ct && kc_strncaseeq(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* A protobuf body (client-go's typed clients since 1.32) decoded into the JSON object a JSON
 * client would have sent. Unknown field numbers are dropped, as the protobuf decoder of
 * Kubernetes does whatever fieldValidation says; unless fieldValidation=Ignore they are
 * named in Warning headers. */
static int decode_protobuf(struct hreq *h, cJSON **out, struct api_error *e)
{
	struct kc_err err = { 0 };
	size_t n = 0;
	cJSON *unknown = h->field_validation ? kc_json_new_array() : NULL;
	struct kc_pb_opts o = { .unknown = unknown, .nunknown = &n };
	int rc = kc_pb_decode_opts(h->ctx->schema, h->req->body, h->req->body_len, &o, out, &err);
	if (rc < 0) {
		cJSON_Delete(unknown);
		if (rc == -KC_ETOOBIG)
			return api_err(e, 413, "RequestEntityTooLarge", "%s", err.msg);
		return api_err(e, 400, "BadRequest", "the body of the request could not be decoded "
			       "as protobuf: %s", err.msg);
	}
	const cJSON *u;
	cJSON_ArrayForEach(u, unknown)
	{
		http_resp_headerf(h->req, "Warning", "299 - \"unknown field \\\"%.200s\\\"\"",
				  u->valuestring);
	}
	cJSON_Delete(unknown);
	return 0;
}

/* Parses the body as JSON, YAML or protobuf by Content-Type (missing = JSON). */
static int decode_body(struct hreq *h, cJSON **out, struct api_error *e)
{
	const char *ct = http_req_header(h->req, "Content-Type");
	struct kc_err err = { 0 };
	*out = NULL;
	if (h->req->body_len == 0)
		return api_err(e, 400, "BadRequest", "the request body is empty");
	if (!ct || !*ct || ct_is(ct, "application/json") || ct_is(ct, "*/*")) {
		if (kc_json_parse(h->req->body, h->req->body_len, NULL, out, &err) < 0)
			return api_err(e, 400, "BadRequest", "the body of the request could not be "
				       "decoded as JSON: %s", err.msg);
	} else if (ct_is(ct, "application/yaml") || ct_is(ct, "application/x-yaml") ||
		   ct_is(ct, "text/yaml")) {
		if (kc_yaml_to_json_one(h->req->body, h->req->body_len, NULL, out, &err) < 0)
			return api_err(e, 400, "BadRequest", "the body of the request could not be "
				       "decoded as YAML: %s", err.msg);
	} else if (ct_is(ct, KC_PB_CONTENT_TYPE)) {
		if (decode_protobuf(h, out, e) < 0)
			return -1;
	} else {
		return api_err(e, 415, "UnsupportedMediaType", "the body of the request was in an "
			       "unknown format - accepted media types include: application/json, "
			       "application/yaml, application/vnd.kubernetes.protobuf");
	}
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return api_err(e, 400, "BadRequest", "the body of the request must be a JSON object");
	}
	return 0;
}

/* Runs sch_check per fieldValidation: Strict fails on unknown fields, Warn adds Warning
 * headers, Ignore drops them silently. Type errors always fail. */
static int check_fields(struct hreq *h, const struct sch_type *t, cJSON *obj, struct api_error *e)
{
	if (!t)
		return 0;
	cJSON *unknown = kc_json_new_array();
	struct kc_err err = { 0 };
	int rc = sch_check(t, obj, unknown, h->field_validation != 2, &err);
	if (rc < 0) {
		cJSON_Delete(unknown);
		return api_err(e, 400, "BadRequest", "%s", err.msg);
	}
	int n = cJSON_GetArraySize(unknown);
	if (n > 0 && h->field_validation == 2) {
		char msg[700];
		size_t off = (size_t)snprintf(msg, sizeof msg, "strict decoding error: ");
		const cJSON *u;
		bool first = true;
		cJSON_ArrayForEach(u, unknown)
		{
			if (off >= sizeof msg)
				break;
			off += (size_t)snprintf(msg + off, sizeof msg - off, "%sunknown field \"%s\"",
						first ? "" : ", ", u->valuestring);
			first = false;
		}
		cJSON_Delete(unknown);
		return api_err(e, 400, "BadRequest", "%s", msg);
	}
	if (n > 0 && h->field_validation == 1) {
		const cJSON *u;
		cJSON_ArrayForEach(u, unknown)
		{
			http_resp_headerf(h->req, "Warning", "299 - \"unknown field \\\"%.200s\\\"\"",
					  u->valuestring);
		}
	}
	cJSON_Delete(unknown);
	return 0;
}

/* kind/apiVersion of a body must be the resource's (or absent). */
static int check_kind(struct hreq *h, const cJSON *obj, const char *kind, const char *gv,
		      struct api_error *e)
{
	const char *k = kc_json_get_str(obj, "kind");
	const char *v = kc_json_get_str(obj, "apiVersion");
	if (v && strcmp(v, gv))
		return api_err(e, 400, "BadRequest", "the API version in the data (%s) does not match "
			       "the expected API version (%s)", v, gv);
	if (k && strcmp(k, kind))
		return api_err(e, 400, "BadRequest", "%s in version \"%s\" cannot be handled as a %s: "
			       "the kind in the data does not match the resource", k, v ? v : gv,
			       kind);
	return 0;
}

/* ---- get -------------------------------------------------------------------------------- */

static void scale_of(const struct hreq *h, const cJSON *obj, struct kc_str *out);

static void get_done(void *arg, const struct mvcc_kv *kv, const struct api_error *e)
{
	struct hreq *h = arg;
	if (e)
		return fail(h, e);
	if (!strcmp(h->sub, "scale")) {
		cJSON *obj = registry_parse(kv->value, kv->value_len, kv->mod_revision);
		struct kc_str out = KC_STR_INIT;
		if (obj)
			scale_of(h, obj, &out);
		cJSON_Delete(obj);
		http_respond(h->req, 200, JSON_CT, out.buf, out.len);
		kc_str_free(&out);
		hreq_free(h);
		return;
	}
	if (h->table) {
		cJSON *obj = registry_parse(kv->value, kv->value_len, kv->mod_revision);
		if (!obj)
			return failf(h, 500, "InternalError", "the stored object cannot be read");
		respond_obj(h, 200, obj);
		cJSON_Delete(obj);
		return;
	}
	struct kc_str out = KC_STR_INIT;
	registry_splice_rv(&out, kv->value, kv->value_len, kv->mod_revision);
	http_respond(h->req, 200, JSON_CT, out.buf, out.len);
	kc_str_free(&out);
	hreq_free(h);
}

/* ---- list ------------------------------------------------------------------------------- */

static int list_opts(struct hreq *h, struct reg_list_opts *o, struct api_error *e)
{
	struct http_req *req = h->req;
	memset(o, 0, sizeof *o);
	o->ns = h->ns;
	o->labels = h->ls;
	o->fields = h->fs;
	const char *limit = http_req_query(req, "limit");
	long long v;
	if (limit && *limit) {
		if (kc_parse_i64(limit, 0, INT64_MAX, &v) < 0)
			return api_err(e, 400, "BadRequest", "invalid limit \"%.32s\"", limit);
		o->limit = v;
	}
	o->continue_token = http_req_query(req, "continue");
	const char *rv = http_req_query(req, "resourceVersion");
	const char *match = http_req_query(req, "resourceVersionMatch");
	if (rv && *rv) {
		if (kc_parse_i64(rv, 0, INT64_MAX, &v) < 0)
			return api_err(e, 400, "BadRequest", "invalid resourceVersion \"%.32s\"", rv);
		o->rv = v;
		if (match && !strcmp(match, "Exact")) {
			if (v == 0)
				return api_err(e, 400, "BadRequest", "resourceVersionMatch \"Exact\" is "
					       "forbidden for resourceVersion \"0\"");
			o->match = REG_RV_EXACT;
		} else if (match && *match && strcmp(match, "NotOlderThan")) {
			return api_err(e, 400, "BadRequest", "unsupported resourceVersionMatch \"%.32s\"",
				       match);
		} else {
			o->match = v == 0 ? REG_RV_ANY : REG_RV_NOT_OLDER;
		}
	} else if (match && *match) {
		return api_err(e, 400, "BadRequest", "resourceVersionMatch is forbidden unless "
			       "resourceVersion is provided");
	}
	if (o->continue_token && *o->continue_token && rv && *rv && strcmp(rv, "0"))
		return api_err(e, 400, "BadRequest", "specifying resource version is not allowed "
			       "when using continue");
	o->parse = h->table;
	return 0;
}

/* The head of a list response: everything before the first item. */
static void list_head(struct hreq *h, const struct reg_list *list, struct kc_str *out)
{
	if (h->table) {
		kc_str_adds(out, "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",");
	} else {
		kc_str_adds(out, "{\"kind\":");
		kc_json_write_string(out, h->res->list_kind);
		kc_str_adds(out, ",\"apiVersion\":");
		kc_json_write_string(out, h->res->group_version);
		kc_str_addc(out, ',');
	}
	kc_str_addf(out, "\"metadata\":{\"resourceVersion\":\"%lld\"", (long long)list->revision);
	if (list->cont) {
		kc_str_adds(out, ",\"continue\":");
		kc_json_write_string(out, list->cont);
		if (list->remaining > 0)
			kc_str_addf(out, ",\"remainingItemCount\":%lld", (long long)list->remaining);
	}
	kc_str_addc(out, '}');
	if (h->table) {
		kc_str_adds(out, ",\"columnDefinitions\":");
		table_columns_json(h->res, out);
		kc_str_adds(out, ",\"rows\":[");
	} else {
		kc_str_adds(out, ",\"items\":[");
	}
}

/* The items of one page (Table rows or objects), comma-separated across pages. */
static void list_items(struct hreq *h, const struct reg_list *page, struct kc_str *out)
{
	for (size_t i = 0; i < page->n; i++) {
		const struct reg_item *it = &page->items[i];
		if (h->lst_count++)
			kc_str_addc(out, ',');
		if (h->table) {
			if (it->obj)
				table_row_json(h->res, it->obj, h->lst_now, true, out);
		} else {
			registry_splice_rv(out, it->kv.value, it->kv.value_len, it->kv.mod_revision);
		}
	}
}

static void list_end_stream(struct hreq *h)
{
	if (h->lst)
		registry_list_stream_cancel(h->lst);
	h->lst = NULL;
	http_stream_end(h->req);
	hreq_free(h);
}

static void list_on_drain(struct http_req *req, void *arg)
{
	(void)req;
	struct hreq *h = arg;
	struct reg_list_stream *s = h->lst;
	if (!s)
		return;
	h->lst = NULL;
	registry_list_stream_next(s);
}

static void list_on_close(struct http_req *req, void *arg)
{
	(void)req;
	struct hreq *h = arg;
	if (h->lst) /* else a page read is in flight: its callback sees the client gone */
		list_end_stream(h);
}

/* One page of a list. A list of one page is one plain response, as small lists always were; a
 * longer one is streamed (chunked), page by page, the next page read only once the previous
 * one left the loop's buffers, so memory stays at about a page and other requests on this loop
 * are served between pages. */
/* Writes out to the stream in slices; returns the last http_stream_write result. */
static int list_write(struct hreq *h, const struct kc_str *out)
{
	int rc = 0;
	for (size_t off = 0; off < out->len && rc >= 0; off += LIST_SLICE) {
		size_t n = out->len - off < LIST_SLICE ? out->len - off : LIST_SLICE;
		rc = http_stream_write(h->req, out->buf + off, n);
	}
	return rc;
}

static void list_page_done(void *arg, struct reg_list_stream *s, struct reg_list *page, bool last,
			   const struct api_error *e)
{
	struct hreq *h = arg;
	if (e) {
		if (!h->lst_streaming)
			return fail(h, e);
		/* the head went out with 200: only a cut connection tells the client */
		log_warn("list ended early code=%d msg=\"%s\"", e->code, e->message);
		http_req_abort(h->req);
		return hreq_free(h);
	}
	if (h->lst_streaming && http_req_gone(h->req)) {
		if (!last)
			registry_list_stream_cancel(s);
		http_stream_end(h->req);
		return hreq_free(h);
	}
	const char *ct = h->table ? TABLE_CT : JSON_CT;
	struct kc_str *out = &h->lst_buf;
	if (!out->buf)
		kc_str_init(out);
	kc_str_reset(out);
	if (!h->lst_streaming) {
		h->lst_now = (int64_t)time(NULL);
		list_head(h, page, out);
	}
	list_items(h, page, out);
	if (last) {
		kc_str_adds(out, "]}");
		if (h->lst_streaming) {
			list_write(h, out);
			http_stream_end(h->req);
		} else {
			http_respond(h->req, 200, ct, out->buf, out->len);
		}
		return hreq_free(h);
	}
	int rc = 0;
	if (!h->lst_streaming) {
		h->lst_streaming = true;
		http_req_notify(h->req, list_on_drain, list_on_close, h);
		rc = http_stream_begin(h->req, 200, ct);
	}
	if (rc == 0)
		rc = list_write(h, out);
	if (rc < 0) {
		h->lst = s;
		return list_end_stream(h);
	}
	if (rc == HTTP_STREAM_CONGESTED) {
		h->lst = s; /* on_drain goes on */
		return;
	}
	registry_list_stream_next(s);
}

/* ---- watch ------------------------------------------------------------------------------ */

static void watch_end(struct hreq *h);

static void watch_maybe_free(struct hreq *h)
{
	if (h->finished && h->lst) { /* the initial list was paused for on_drain */
		registry_list_stream_cancel(h->lst);
		h->lst = NULL;
		h->listing = false;
	}
	if (h->finished && !h->watching && !h->listing)
		hreq_free(h);
}

static void watch_emit(struct hreq *h, const char *type, const cJSON *obj, const void *raw,
		       size_t len, int64_t rv)
{
	if (h->finished)
		return;
	struct kc_str out = KC_STR_INIT;
	kc_str_addf(&out, "{\"type\":\"%s\",\"object\":", type);
	if (h->table || !raw) {
		write_object(h, obj, &out, h->first_table);
		h->first_table = false;
	} else {
		registry_splice_rv(&out, raw, len, rv);
	}
	kc_str_adds(&out, "}\n");
	int rc = http_stream_write(h->req, out.buf, out.len);
	kc_str_free(&out);
	if (rc < 0)
		watch_end(h);
}

static bool watch_filtering(const struct hreq *h)
{
	return (h->ls && !label_selector_empty(h->ls)) || (h->fs && !field_selector_empty(h->fs));
}

static void watch_event(struct hreq *h, const struct watch_event *ev)
{
	const struct mvcc_kv *kv = ev->kv;
	bool need_parse = h->table || watch_filtering(h);
	if (ev->type == MVCC_EVENT_DELETE) {
		if (!ev->prev_kv)
			return;
		cJSON *old = registry_parse(ev->prev_kv->value, ev->prev_kv->value_len,
					    kv->mod_revision);
		if (old && registry_matches(old, h->ls, h->fs))
			watch_emit(h, "DELETED", old, need_parse ? NULL : ev->prev_kv->value,
				   ev->prev_kv->value_len, kv->mod_revision);
		cJSON_Delete(old);
		return;
	}
	cJSON *obj = NULL;
	bool match = true, old_match = ev->prev_kv != NULL;
	if (need_parse) {
		obj = registry_parse(kv->value, kv->value_len, kv->mod_revision);
		if (!obj)
			return;
		match = registry_matches(obj, h->ls, h->fs);
		if (ev->prev_kv && watch_filtering(h)) {
			cJSON *old = registry_parse(ev->prev_kv->value, ev->prev_kv->value_len,
						    ev->prev_kv->mod_revision);
			old_match = old && registry_matches(old, h->ls, h->fs);
			cJSON_Delete(old);
		}
	}
	const char *type = NULL;
	if (match && old_match)
		type = "MODIFIED";
	else if (match)
		type = "ADDED";
	else if (old_match)
		type = "DELETED";
	if (type)
		watch_emit(h, type, obj, need_parse ? NULL : kv->value, kv->value_len,
			   kv->mod_revision);
	cJSON_Delete(obj);
}

static void watch_bookmark(struct hreq *h, int64_t rv)
{
	if (h->finished || !h->bookmarks)
		return;
	struct kc_str out = KC_STR_INIT;
	kc_str_adds(&out, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":");
	kc_json_write_string(&out, h->res->kind);
	kc_str_adds(&out, ",\"apiVersion\":");
	kc_json_write_string(&out, h->res->group_version);
	kc_str_addf(&out, ",\"metadata\":{\"resourceVersion\":\"%lld\"}}}\n", (long long)rv);
	if (http_stream_write(h->req, out.buf, out.len) < 0)
		watch_end(h);
	kc_str_free(&out);
}

static void watch_expired(struct hreq *h, const char *msg)
{
	if (h->finished)
		return;
	struct kc_str out = KC_STR_INIT;
	struct api_error e = { 0 };
	api_err(&e, 410, "Expired", "%s", msg);
	kc_str_adds(&out, "{\"type\":\"ERROR\",\"object\":");
	api_err_json(&e, &out);
	kc_str_adds(&out, "}\n");
	http_stream_write(h->req, out.buf, out.len);
	kc_str_free(&out);
}

static void on_store_watch(void *arg, struct watch_resp *resp)
{
	struct hreq *h = arg;
	if (!resp) {
		h->watching = false;
		if (!h->finished)
			watch_end(h);
		watch_maybe_free(h);
		return;
	}
	switch (resp->kind) {
	case WATCH_RESP_EVENTS:
		for (size_t i = 0; i < resp->nevents && !h->finished; i++)
			watch_event(h, &resp->events[i]);
		h->last_rv = resp->revision;
		break;
	case WATCH_RESP_PROGRESS:
		watch_bookmark(h, resp->revision);
		break;
	case WATCH_RESP_CANCELED:
		if (resp->cancel_code == -MVCC_ECOMPACTED) {
			char msg[128];
			snprintf(msg, sizeof msg, "too old resource version: %lld (%lld)",
				 (long long)h->last_rv, (long long)resp->compact_revision);
			watch_expired(h, msg);
		}
		/* the final NULL callback follows */
		break;
	}
}

static void watch_end(struct hreq *h)
{
	if (h->watching && h->watch_id > 0 && !h->cancel_sent) {
		h->cancel_sent = true;
		kv_watch_cancel(registry_store(h->ctx->reg), h->watch_id);
	}
	if (h->finished)
		return;
	loop_timer_stop(h->loop, &h->timeout);
	loop_timer_stop(h->loop, &h->bookmark);
	h->finished = true;
	http_stream_end(h->req);
}

static void on_watch_timeout(struct loop *l, struct loop_timer *t)
{
	(void)l;
	struct hreq *h = t->data;
	watch_end(h);
	watch_maybe_free(h);
}

static void on_bookmark_timer(struct loop *l, struct loop_timer *t)
{
	struct hreq *h = t->data;
	if (h->watching && h->watch_id > 0)
		kv_watch_progress(registry_store(h->ctx->reg), h->watch_id);
	loop_timer_start(l, &h->bookmark, BOOKMARK_MS);
}

static void on_watch_close(struct http_req *req, void *arg)
{
	(void)req;
	struct hreq *h = arg;
	watch_end(h);
	watch_maybe_free(h);
}

static void watch_start_store(struct hreq *h, int64_t from)
{
	char prefix[REG_KEY_MAX];
	uint8_t end[REG_KEY_MAX];
	int n = registry_key(h->res, h->ns, NULL, prefix, sizeof prefix);
	if (n < 0) {
		watch_end(h);
		return watch_maybe_free(h);
	}
	size_t elen = mvcc_prefix_end(prefix, (size_t)n, end);
	struct watch_create_req wr = { .key = prefix, .key_len = (size_t)n, .range_end = end,
				       .range_end_len = elen, .start_revision = from,
				       .prev_kv = true };
	h->watching = true;
	h->last_rv = from - 1;
	kv_watch(registry_store(h->ctx->reg), h->loop, &wr, on_store_watch, h, &h->watch_id);
}

/* The initial list of a watch without resourceVersion: ADDED events page by page, the next page
 * read once the stream is below its high-water mark. */
static void watch_page_done(void *arg, struct reg_list_stream *s, struct reg_list *page, bool last,
			    const struct api_error *e)
{
	struct hreq *h = arg;
	if (e) {
		h->listing = false;
		if (!h->finished)
			watch_expired(h, e->message);
		watch_end(h);
		return watch_maybe_free(h);
	}
	for (size_t i = 0; i < page->n && !h->finished; i++) {
		struct reg_item *it = &page->items[i];
		watch_emit(h, "ADDED", it->obj, it->obj ? NULL : it->kv.value, it->kv.value_len,
			   it->kv.mod_revision);
	}
	if (h->finished) {
		if (!last)
			registry_list_stream_cancel(s);
		h->listing = false;
		return watch_maybe_free(h);
	}
	if (last) {
		h->listing = false;
		return watch_start_store(h, page->revision + 1);
	}
	if (http_stream_congested(h->req)) {
		h->lst = s; /* on_watch_drain goes on */
		return;
	}
	registry_list_stream_next(s);
}

static void on_watch_drain(struct http_req *req, void *arg)
{
	(void)req;
	struct hreq *h = arg;
	struct reg_list_stream *s = h->lst;
	if (!s || h->finished)
		return;
	h->lst = NULL;
	registry_list_stream_next(s);
}

/* A boolean query parameter as Kubernetes converts it: present and neither "0" nor "false"
 * (any case) is true, so the Python client's "watch=True" and a bare "?watch" count. */
static bool query_true(const char *v)
{
	return v && strcmp(v, "0") && strcasecmp(v, "false");
}

static void do_watch(struct hreq *h)
{
	struct http_req *req = h->req;
	const char *rv = http_req_query(req, "resourceVersion");
	long long from = 0;
	if (rv && *rv && kc_parse_i64(rv, 0, INT64_MAX, &from) < 0)
		return failf(h, 400, "BadRequest", "invalid resourceVersion");
	const char *ts = http_req_query(req, "timeoutSeconds");
	long long timeout = 0;
	if (ts && *ts && kc_parse_i64(ts, 0, INT32_MAX, &timeout) < 0)
		return failf(h, 400, "BadRequest", "invalid timeoutSeconds");
	if (timeout <= 0) /* Kubernetes: min-request-timeout 1800 s with up to 2x jitter */
		timeout = DEFAULT_WATCH_S + (long long)kc_rand_below(kc_rand_real(), DEFAULT_WATCH_S);
	const char *bm = http_req_query(req, "allowWatchBookmarks");
	h->bookmarks = query_true(bm);
	h->first_table = true;
	h->loop = http_req_loop(req);
	loop_timer_init(&h->timeout, on_watch_timeout, h);
	loop_timer_init(&h->bookmark, on_bookmark_timer, h);
	http_req_long_running(req);
	http_req_notify(req, on_watch_drain, on_watch_close, h);
	if (http_stream_begin(req, 200, h->table ? TABLE_CT : JSON_CT) < 0) {
		h->finished = true;
		http_stream_end(req);
		return hreq_free(h);
	}
	atomic_fetch_add(&open_watches, 1);
	h->counted = true;
	struct loop *l = h->loop;
	loop_timer_start(l, &h->timeout, (uint64_t)timeout * 1000u);
	if (h->bookmarks)
		loop_timer_start(l, &h->bookmark, BOOKMARK_MS);
	if (from == 0) {
		struct reg_list_opts o = { .ns = h->ns, .labels = h->ls, .fields = h->fs,
					   .match = rv && *rv ? REG_RV_ANY : REG_RV_UNSET,
					   .parse = h->table };
		h->listing = true;
		registry_list_stream(h->ctx->reg, l, h->res, &o, LIST_PAGE_ITEMS, watch_page_done, h);
		return;
	}
	watch_start_store(h, from + 1);
}

/* ---- writes ----------------------------------------------------------------------------- */

static void write_done(void *arg, struct reg_result *res, const struct api_error *e)
{
	struct hreq *h = arg;
	if (e)
		return fail(h, e);
	int code = h->verb == V_CREATE ? 201 : 200;
	bool table = h->table;
	h->table = false; /* writes answer objects */
	(void)table;
	if (!strcmp(h->sub, "scale")) {
		struct kc_str out = KC_STR_INIT;
		scale_of(h, res->obj, &out);
		http_respond(h->req, 200, JSON_CT, out.buf, out.len);
		kc_str_free(&out);
		hreq_free(h);
		return;
	}
	respond_obj(h, code, res->obj);
}

/* autoscaling/v1 Scale of a deployment / replicaset / statefulset / replicationcontroller. */
static void scale_of(const struct hreq *h, const cJSON *obj, struct kc_str *out)
{
	cJSON *s = kc_json_new_object();
	kc_json_add(s, "kind", kc_json_new_str("Scale"));
	kc_json_add(s, "apiVersion", kc_json_new_str("autoscaling/v1"));
	cJSON *md = kc_json_new_object();
	static const char *const keep[] = { "name", "namespace", "uid", "resourceVersion",
					    "creationTimestamp" };
	for (size_t i = 0; i < 5; i++) {
		char path[64];
		snprintf(path, sizeof path, "metadata.%s", keep[i]);
		const char *v = kc_json_get_str(obj, path);
		if (v)
			kc_json_add(md, keep[i], kc_json_new_str(v));
	}
	kc_json_add(s, "metadata", md);
	long long replicas = 1, cur = 0;
	kc_json_get_i64(obj, "spec.replicas", &replicas);
	kc_json_get_i64(obj, "status.replicas", &cur);
	kc_json_set_i64(s, "spec.replicas", replicas);
	kc_json_set_i64(s, "status.replicas", cur);
	/* status.selector: the label selector as a string */
	const cJSON *sel = kc_json_get(obj, "spec.selector");
	const cJSON *ml = cJSON_IsObject(sel) ? cJSON_GetObjectItemCaseSensitive(sel, "matchLabels")
					       : NULL;
	if (!strcmp(h->res->plural, "replicationcontrollers"))
		ml = sel;
	struct kc_str selstr = KC_STR_INIT;
	const cJSON *kv;
	cJSON_ArrayForEach(kv, ml)
	{
		if (!cJSON_IsString(kv))
			continue;
		kc_str_addf(&selstr, "%s%s=%s", selstr.len ? "," : "", kv->string, kv->valuestring);
	}
	const cJSON *exprs = cJSON_IsObject(sel) ? cJSON_GetObjectItemCaseSensitive(sel,
									  "matchExpressions") : NULL;
	const cJSON *x;
	cJSON_ArrayForEach(x, exprs)
	{
		const char *k = kc_json_get_str(x, "key"), *op = kc_json_get_str(x, "operator");
		if (!k || !op)
			continue;
		kc_str_adds(&selstr, selstr.len ? "," : "");
		if (!strcmp(op, "Exists")) {
			kc_str_adds(&selstr, k);
		} else if (!strcmp(op, "DoesNotExist")) {
			kc_str_addf(&selstr, "!%s", k);
		} else {
			kc_str_addf(&selstr, "%s %s (", k, !strcmp(op, "In") ? "in" : "notin");
			const cJSON *v;
			bool first = true;
			cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(x, "values"))
			{
				if (cJSON_IsString(v)) {
					kc_str_addf(&selstr, "%s%s", first ? "" : ",", v->valuestring);
					first = false;
				}
			}
			kc_str_addc(&selstr, ')');
		}
	}
	kc_json_set_str(s, "status.selector", selstr.buf);
	kc_str_free(&selstr);
	kc_json_write(out, s);
	cJSON_Delete(s);
}

/* PUT: the body replaces the object (its resourceVersion is a precondition). */
static int fn_replace(void *arg, cJSON **obj, struct api_error *e)
{
	struct hreq *h = arg;
	cJSON_Delete(*obj);
	*obj = kc_json_dup(h->body);
	return 0;
}

static int apply_patch(struct hreq *h, cJSON **doc, const struct sch_type *t, struct api_error *e)
{
	struct kc_err err = { 0 };
	int rc;
	switch (h->patch_type) {
	case 1:
		rc = patch_json(doc, h->patch, &err);
		break;
	case 2:
		rc = patch_merge(doc, h->patch, &err);
		break;
	default:
		rc = patch_strategic(doc, h->patch, t, &err);
		break;
	}
	if (rc == -KC_ECONFLICT)
		return api_err(e, 422, "Invalid", "the server rejected our request due to an error "
			       "in our request: %s", err.msg);
	if (rc < 0)
		return api_err(e, h->patch_type == 1 ? 422 : 400, h->patch_type == 1 ? "Invalid"
			       : "BadRequest", "%s", err.msg);
	if (!cJSON_IsObject(*doc))
		return api_err(e, 400, "BadRequest", "the patch does not produce an object");
	return 0;
}

static int fn_patch(void *arg, cJSON **obj, struct api_error *e)
{
	struct hreq *h = arg;
	if (apply_patch(h, obj, h->res->type, e) < 0)
		return -1;
	if (check_kind(h, *obj, h->res->kind, h->res->group_version, e) < 0)
		return -1;
	return check_fields(h, h->res->type, *obj, e);
}

/* Scale writes: build the Scale, replace or patch it, carry spec.replicas back. */
static int fn_scale(void *arg, cJSON **obj, struct api_error *e)
{
	struct hreq *h = arg;
	struct kc_str s = KC_STR_INIT;
	scale_of(h, *obj, &s);
	cJSON *scale = NULL;
	kc_json_parse(s.buf, s.len, NULL, &scale, NULL);
	kc_str_free(&s);
	if (h->verb == V_UPDATE) {
		cJSON_Delete(scale);
		scale = kc_json_dup(h->body);
	} else if (apply_patch(h, &scale, NULL, e) < 0) {
		cJSON_Delete(scale);
		return -1;
	}
	long long replicas;
	if (kc_json_get_i64(scale, "spec.replicas", &replicas) < 0 || replicas < 0 ||
	    replicas > INT32_MAX) {
		cJSON_Delete(scale);
		api_err_cause(e, "FieldValueInvalid", "spec.replicas",
			      "Invalid value: must be greater than or equal to 0");
		return api_err_invalid(e, "Scale", "autoscaling", h->name);
	}
	const char *rv = kc_json_get_str(scale, "metadata.resourceVersion");
	if (rv && *rv)
		kc_json_set_str(*obj, "metadata.resourceVersion", rv);
	kc_json_set_i64(*obj, "spec.replicas", replicas);
	cJSON_Delete(scale);
	return 0;
}

/* pods/binding and bindings: set spec.nodeName once. */
static int fn_bind(void *arg, cJSON **obj, struct api_error *e)
{
	struct hreq *h = arg;
	const char *node = kc_json_get_str(h->body, "target.name");
	const char *cur = kc_json_get_str(*obj, "spec.nodeName");
	if (!node || !*node)
		return api_err(e, 400, "BadRequest", "target.name is required");
	if (kc_json_get(*obj, "metadata.deletionTimestamp"))
		return api_err(e, 409, "Conflict", "pod %s is being deleted, cannot be assigned to a "
			       "host", h->name);
	if (cur && *cur) {
		api_err(e, 409, "Conflict", "Operation cannot be fulfilled on pods/binding \"%s\": pod "
			"%s is already assigned to node \"%s\"", h->name, h->name, cur);
		api_err_details(e, "", "pods/binding", h->name);
		return -1;
	}
	kc_json_set_str(*obj, "spec.nodeName", node);
	/* the PodScheduled condition the scheduler would report */
	char ts[32];
	registry_time((int64_t)time(NULL), ts, sizeof ts);
	cJSON *conds = kc_json_get(*obj, "status.conditions");
	if (!cJSON_IsArray(conds)) {
		conds = kc_json_new_array();
		kc_json_set(*obj, "status.conditions", conds);
	}
	cJSON *c = kc_json_new_object();
	kc_json_add(c, "type", kc_json_new_str("PodScheduled"));
	kc_json_add(c, "status", kc_json_new_str("True"));
	kc_json_add(c, "lastProbeTime", kc_json_new_null());
	kc_json_add(c, "lastTransitionTime", kc_json_new_str(ts));
	for (int i = cJSON_GetArraySize(conds) - 1; i >= 0; i--) {
		const char *t = kc_json_get_str(cJSON_GetArrayItem(conds, i), "type");
		if (t && !strcmp(t, "PodScheduled"))
			cJSON_DeleteItemFromArray(conds, i);
	}
	cJSON_AddItemToArray(conds, c);
	return 0;
}

static void bind_done(void *arg, struct reg_result *res, const struct api_error *e)
{
	struct hreq *h = arg;
	if (e)
		return fail(h, e);
	static const char ok[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
				 "\"status\":\"Success\",\"code\":201}";
	respond_json_text(h, 201, ok, sizeof ok - 1);
}

static const struct api_resource *core(const struct api_ctx *ctx, const char *plural)
{
	return schema_resource(ctx->schema, "", "v1", plural);
}

static void do_binding(struct hreq *h)
{
	const char *name = h->name[0] ? h->name : kc_json_get_str(h->body, "metadata.name");
	if (!name || !registry_name_ok(name))
		return failf(h, 400, "BadRequest", "a binding needs the pod name");
	if (name != h->name) /* copying a string onto itself is undefined (musl empties it) */
		snprintf(h->name, sizeof h->name, "%s", name);
	const struct api_resource *pods = core(h->ctx, "pods");
	if (!pods)
		return failf(h, 404, "NotFound", "pods are not served");
	struct reg_write_opts wo = { .dry_run = h->dry_run, .skip_validation = true };
	registry_update(h->ctx->reg, http_req_loop(h->req), pods, NULL, h->ns, h->name, fn_bind, h,
			&wo, bind_done, h);
}

static void token_done(void *arg, const struct mvcc_kv *kv, const struct api_error *e)
{
	struct hreq *h = arg;
	if (e)
		return fail(h, e);
	cJSON *sa = registry_parse(kv->value, kv->value_len, kv->mod_revision);
	const char *uid = sa ? kc_json_get_str(sa, "metadata.uid") : NULL;
	long long exp_s = 0;
	kc_json_get_i64(h->body, "spec.expirationSeconds", &exp_s);
	struct auth_token_request tr = {
		.ns = h->ns, .sa = h->name, .sa_uid = uid,
		.audiences = kc_json_get(h->body, "spec.audiences"), .expiry_s = exp_s,
		.bound_kind = kc_json_get_str(h->body, "spec.boundObjectRef.kind"),
		.bound_name = kc_json_get_str(h->body, "spec.boundObjectRef.name"),
		.bound_uid = kc_json_get_str(h->body, "spec.boundObjectRef.uid"),
	};
	struct kc_str tok = KC_STR_INIT;
	struct kc_err err = { 0 };
	int64_t exp = 0;
	int rc = auth_issue_sa_token_req(h->ctx->auth, &tr, &exp, &tok, &err);
	cJSON_Delete(sa);
	if (rc < 0) {
		kc_str_free(&tok);
		struct api_error ae = { 0 };
		api_err(&ae, 400, "BadRequest", "%s", err.msg);
		return fail(h, &ae);
	}
	cJSON *out = kc_json_dup(h->body);
	kc_json_set_str(out, "kind", "TokenRequest");
	kc_json_set_str(out, "apiVersion", "authentication.k8s.io/v1");
	kc_json_set_str(out, "metadata.name", h->name);
	kc_json_set_str(out, "metadata.namespace", h->ns);
	char ts[32];
	kc_json_set_str(out, "metadata.creationTimestamp", registry_time(time(NULL), ts, sizeof ts));
	kc_json_set_str(out, "status.token", tok.buf);
	kc_json_set_str(out, "status.expirationTimestamp", registry_time(exp, ts, sizeof ts));
	if (!kc_json_get(out, "spec.audiences"))
		kc_json_set(out, "spec.audiences", kc_json_new_array());
	kc_json_set_i64(out, "spec.expirationSeconds", exp - (int64_t)time(NULL));
	kc_str_free(&tok);
	h->table = false;
	respond_obj(h, 201, out);
	cJSON_Delete(out);
}

/* pods/eviction: a delete of the pod (no PodDisruptionBudgets yet). */
static void evict_done(void *arg, struct reg_result *res, const struct api_error *e)
{
	struct hreq *h = arg;
	if (e)
		return fail(h, e);
	static const char ok[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
				 "\"status\":\"Success\",\"code\":201}";
	respond_json_text(h, 201, ok, sizeof ok - 1);
}

/* Access reviews are answered, not stored. */
static void do_review(struct hreq *h)
{
	const char *kind = h->res->kind;
	cJSON *out = kc_json_dup(h->body);
	struct api_error e = { 0 };
	if (check_kind(h, out, kind, h->res->group_version, &e) < 0) {
		cJSON_Delete(out);
		return fail(h, &e);
	}
	kc_json_set_str(out, "kind", kind);
	kc_json_set_str(out, "apiVersion", h->res->group_version);
	if (!strcmp(kind, "SelfSubjectReview")) {
		kc_json_set_str(out, "status.userInfo.username", h->user.name);
		if (h->user.uid[0])
			kc_json_set_str(out, "status.userInfo.uid", h->user.uid);
		cJSON *g = kc_json_new_array();
		for (unsigned i = 0; i < h->user.ngroups; i++)
			cJSON_AddItemToArray(g, kc_json_new_str(h->user.groups[i]));
		kc_json_set(out, "status.userInfo.groups", g);
		h->table = false;
		respond_obj(h, 201, out);
		cJSON_Delete(out);
		return;
	}
	struct auth_user subject;
	const struct auth_user *who = &h->user;
	if (strcmp(kind, "SelfSubjectAccessReview") && strcmp(kind, "SelfSubjectRulesReview")) {
		memset(&subject, 0, sizeof subject);
		const char *user = kc_json_get_str(out, "spec.user");
		snprintf(subject.name, sizeof subject.name, "%s", user ? user : "");
		const cJSON *g;
		cJSON_ArrayForEach(g, kc_json_get(out, "spec.groups"))
		{
			if (cJSON_IsString(g) && subject.ngroups < AUTH_MAX_GROUPS)
				snprintf(subject.groups[subject.ngroups++], AUTH_NAME_MAX, "%s",
					 g->valuestring);
		}
		if (subject.ngroups < AUTH_MAX_GROUPS)
			snprintf(subject.groups[subject.ngroups++], AUTH_NAME_MAX,
				 "system:authenticated");
		who = &subject;
	}
	if (!strcmp(kind, "SelfSubjectRulesReview")) {
		kc_json_set(out, "status.resourceRules", kc_json_new_array());
		kc_json_set(out, "status.nonResourceRules", kc_json_new_array());
		kc_json_set_bool(out, "status.incomplete", true);
		h->table = false;
		respond_obj(h, 201, out);
		cJSON_Delete(out);
		return;
	}
	const cJSON *ra = kc_json_get(out, "spec.resourceAttributes");
	const cJSON *nra = kc_json_get(out, "spec.nonResourceAttributes");
	struct authz_attrs at = { 0 };
	if (ra) {
		at.verb = kc_json_get_str(ra, "verb");
		at.group = kc_json_get_str(ra, "group");
		at.resource = kc_json_get_str(ra, "resource");
		at.subresource = kc_json_get_str(ra, "subresource");
		at.ns = kc_json_get_str(ra, "namespace");
		at.name = kc_json_get_str(ra, "name");
		if (!strcmp(kind, "LocalSubjectAccessReview"))
			at.ns = h->ns;
	} else if (nra) {
		at.verb = kc_json_get_str(nra, "verb");
		at.path = kc_json_get_str(nra, "path");
	}
	if (!at.verb) {
		cJSON_Delete(out);
		api_err_cause(&e, "FieldValueRequired", "spec.resourceAttributes",
			      "Required value: exactly one of nonResourceAttributes or "
			      "resourceAttributes must be specified");
		api_err_invalid(&e, kind, h->res->group, "");
		return fail(h, &e);
	}
	if (!at.group)
		at.group = "";
	if (!at.ns)
		at.ns = "";
	if (!at.name)
		at.name = "";
	if (!at.subresource)
		at.subresource = "";
	bool allowed = auth_authorize(h->ctx->auth, who, &at);
	kc_json_set_bool(out, "status.allowed", allowed);
	if (!allowed)
		kc_json_set_str(out, "status.reason", "no RBAC policy matched");
	h->table = false;
	respond_obj(h, 201, out);
	cJSON_Delete(out);
}

static void do_create(struct hreq *h)
{
	struct api_error e = { 0 };
	struct loop *l = http_req_loop(h->req);
	if (decode_body(h, &h->body, &e) < 0)
		return fail(h, &e);
	h->table = false;
	if (!strcmp(h->sub, "binding") || !strcmp(h->res->plural, "bindings")) {
		if (check_kind(h, h->body, "Binding", "v1", &e) < 0)
			return fail(h, &e);
		return do_binding(h);
	}
	if (!strcmp(h->sub, "token")) {
		if (check_kind(h, h->body, "TokenRequest", "authentication.k8s.io/v1", &e) < 0)
			return fail(h, &e);
		return registry_get(h->ctx->reg, l, h->res, h->ns, h->name, false, token_done, h);
	}
	if (!strcmp(h->sub, "eviction")) {
		struct reg_delete_opts d = { .dry_run = h->dry_run, .grace_seconds = -1 };
		long long g;
		if (kc_json_get_i64(h->body, "deleteOptions.gracePeriodSeconds", &g) == 0)
			d.grace_seconds = g;
		return registry_delete(h->ctx->reg, l, h->res, h->ns, h->name, &d, evict_done, h);
	}
	if (h->sub[0])
		return failf(h, 405, "MethodNotAllowed", "the server does not allow this method on the "
			     "requested resource");
	if (!(h->res->verbs & (API_VERB_GET | API_VERB_LIST)) || strstr(h->res->kind, "Review"))
		return do_review(h);
	if (check_kind(h, h->body, h->res->kind, h->res->group_version, &e) < 0)
		return fail(h, &e);
	const char *bns = kc_json_get_str(h->body, "metadata.namespace");
	if (h->res->namespaced && bns && *bns && strcmp(bns, h->ns))
		return failf(h, 400, "BadRequest", "the namespace of the provided object does not "
			     "match the namespace sent on the request");
	if (check_fields(h, h->res->type, h->body, &e) < 0)
		return fail(h, &e);
	struct reg_write_opts wo = { .dry_run = h->dry_run };
	cJSON *body = h->body;
	h->body = NULL;
	registry_create(h->ctx->reg, l, h->res, h->ns, body, &wo, write_done, h);
}

static void do_update(struct hreq *h)
{
	struct api_error e = { 0 };
	if (decode_body(h, &h->body, &e) < 0)
		return fail(h, &e);
	h->table = false;
	bool scale = !strcmp(h->sub, "scale");
	if (scale) {
		if (check_kind(h, h->body, "Scale", "autoscaling/v1", &e) < 0)
			return fail(h, &e);
	} else {
		if (check_kind(h, h->body, h->res->kind, h->res->group_version, &e) < 0)
			return fail(h, &e);
		const char *bname = kc_json_get_str(h->body, "metadata.name");
		if (bname && strcmp(bname, h->name))
			return failf(h, 400, "BadRequest", "the name of the object does not match the "
				     "name on the URL");
		const char *bns = kc_json_get_str(h->body, "metadata.namespace");
		if (h->res->namespaced && bns && *bns && strcmp(bns, h->ns))
			return failf(h, 400, "BadRequest", "the namespace of the provided object does "
				     "not match the namespace sent on the request");
		if (check_fields(h, h->res->type, h->body, &e) < 0)
			return fail(h, &e);
	}
	struct reg_write_opts wo = { .dry_run = h->dry_run };
	registry_update(h->ctx->reg, http_req_loop(h->req), h->res, h->sub, h->ns, h->name,
			scale ? fn_scale : fn_replace, h, &wo, write_done, h);
}

static void do_patch(struct hreq *h)
{
	struct api_error e = { 0 };
	const char *ct = http_req_header(h->req, "Content-Type");
	if (ct_is(ct, "application/json-patch+json"))
		h->patch_type = 1;
	else if (ct_is(ct, "application/merge-patch+json"))
		h->patch_type = 2;
	else if (ct_is(ct, "application/strategic-merge-patch+json"))
		h->patch_type = 3;
	else
		return failf(h, 415, "UnsupportedMediaType", "the body of the request was in an "
			     "unknown format - accepted media types include: "
			     "application/json-patch+json, application/merge-patch+json, "
			     "application/strategic-merge-patch+json");
	struct kc_err err = { 0 };
	if (kc_json_parse(h->req->body, h->req->body_len, NULL, &h->patch, &err) < 0) {
		api_err(&e, 400, "BadRequest", "error decoding patch: %s", err.msg);
		return fail(h, &e);
	}
	if (h->patch_type == 1 ? !cJSON_IsArray(h->patch) : !cJSON_IsObject(h->patch))
		return failf(h, 400, "BadRequest", h->patch_type == 1
			     ? "json patch must be an array of operations"
			     : "the patch must be a JSON object");
	h->table = false;
	struct reg_write_opts wo = { .dry_run = h->dry_run };
	registry_update(h->ctx->reg, http_req_loop(h->req), h->res, h->sub, h->ns, h->name,
			!strcmp(h->sub, "scale") ? fn_scale : fn_patch, h, &wo, write_done, h);
}

/* DeleteOptions from the body and the query. */
static int delete_opts(struct hreq *h, struct api_error *e)
{
	struct reg_delete_opts *d = &h->dopt;
	memset(d, 0, sizeof *d);
	d->grace_seconds = -1;
	d->dry_run = h->dry_run;
	cJSON *b = NULL;
	if (h->req->body_len > 0) {
		struct kc_err err = { 0 };
		if (ct_is(http_req_header(h->req, "Content-Type"), KC_PB_CONTENT_TYPE)) {
			if (kc_pb_decode(h->ctx->schema, h->req->body, h->req->body_len, &b, &err) < 0)
				return api_err(e, 400, "BadRequest", "invalid DeleteOptions: %s",
					       err.msg);
		} else if (kc_json_parse(h->req->body, h->req->body_len, NULL, &b, &err) < 0) {
			return api_err(e, 400, "BadRequest", "invalid DeleteOptions: %s", err.msg);
		}
	}
	long long g;
	const char *q = http_req_query(h->req, "gracePeriodSeconds");
	if (q && *q && kc_parse_i64(q, -1, INT64_MAX, &g) == 0)
		d->grace_seconds = g < 0 ? 0 : g;
	if (b && kc_json_get_i64(b, "gracePeriodSeconds", &g) == 0)
		d->grace_seconds = g < 0 ? 0 : g;
	const char *pp = http_req_query(h->req, "propagationPolicy");
	const char *bpp = b ? kc_json_get_str(b, "propagationPolicy") : NULL;
	if (bpp)
		pp = bpp;
	if (pp && *pp) {
		if (!strcmp(pp, "Orphan"))
			d->propagation = REG_PROPAGATE_ORPHAN;
		else if (!strcmp(pp, "Foreground"))
			d->propagation = REG_PROPAGATE_FOREGROUND;
		else if (!strcmp(pp, "Background"))
			d->propagation = REG_PROPAGATE_BACKGROUND;
		else {
			cJSON_Delete(b);
			return api_err(e, 400, "BadRequest", "invalid propagationPolicy \"%.32s\"", pp);
		}
	}
	const char *orphan = http_req_query(h->req, "orphanDependents");
	bool ob = query_true(orphan);
	if (b && cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(b, "orphanDependents")))
		ob = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "orphanDependents"));
	if (ob && !pp)
		d->propagation = REG_PROPAGATE_ORPHAN;
	const char *uid = b ? kc_json_get_str(b, "preconditions.uid") : NULL;
	const char *rv = b ? kc_json_get_str(b, "preconditions.resourceVersion") : NULL;
	snprintf(h->pre_uid, sizeof h->pre_uid, "%s", uid ? uid : "");
	snprintf(h->pre_rv, sizeof h->pre_rv, "%s", rv ? rv : "");
	d->precondition_uid = h->pre_uid;
	d->precondition_rv = h->pre_rv;
	const cJSON *dr = b ? kc_json_get(b, "dryRun") : NULL;
	if (cJSON_IsArray(dr) && cJSON_GetArraySize(dr) > 0)
		d->dry_run = true;
	cJSON_Delete(b);
	return 0;
}

static void delete_done(void *arg, struct reg_result *res, const struct api_error *e)
{
	struct hreq *h = arg;
	if (e)
		return fail(h, e);
	h->table = false;
	respond_obj(h, 200, res->obj);
}

static void dc_next(struct hreq *h);

static void dc_one_done(void *arg, struct reg_result *res, const struct api_error *e)
{
	struct hreq *h = arg;
	if (e && e->code != 404)
		return fail(h, e);
	dc_next(h);
}

static void dc_next(struct hreq *h)
{
	if (h->dc_next >= h->dc_n) {
		static const char ok[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
					 "\"status\":\"Success\"}";
		return respond_json_text(h, 200, ok, sizeof ok - 1);
	}
	size_t i = h->dc_next++;
	registry_delete(h->ctx->reg, http_req_loop(h->req), h->res, h->dc_ns[i], h->dc_names[i],
			&h->dopt, dc_one_done, h);
}

static void dc_list_done(void *arg, struct reg_list *list, const struct api_error *e)
{
	struct hreq *h = arg;
	if (e)
		return fail(h, e);
	h->dc_n = list->n;
	h->dc_names = xcalloc(list->n + 1, sizeof *h->dc_names);
	h->dc_ns = xcalloc(list->n + 1, sizeof *h->dc_ns);
	for (size_t i = 0; i < list->n; i++) {
		cJSON *o = list->items[i].obj;
		const char *n = o ? kc_json_get_str(o, "metadata.name") : NULL;
		const char *ns = o ? kc_json_get_str(o, "metadata.namespace") : NULL;
		snprintf(h->dc_names[i], sizeof h->dc_names[i], "%s", n ? n : "");
		snprintf(h->dc_ns[i], sizeof h->dc_ns[i], "%s", ns ? ns : "");
	}
	dc_next(h);
}

/* ---- entry ------------------------------------------------------------------------------ */

unsigned handlers_split_path(char *buf, char **segs, unsigned max)
{
	/* strtok_r, never strtok: strtok keeps its position in one static of the process, so two
	 * loop threads splitting at once took each other's segments (a list of pods answered as
	 * GET /api/v1, a create as `namespaces "pods" not found`). */
	char *save = NULL;
	unsigned n = 0;
	for (char *p = strtok_r(buf, "/", &save); p && n < max; p = strtok_r(NULL, "/", &save))
		segs[n++] = p;
	return n;
}

static bool has_sub(const struct api_resource *r, const char *sub)
{
	for (size_t i = 0; i < API_MAX_SUBRESOURCES && r->subresources[i]; i++)
		if (!strcmp(r->subresources[i], sub))
			return true;
	return false;
}

static void not_found_path(struct http_req *req)
{
	struct api_error e = { 0 };
	api_err(&e, 404, "NotFound", "the server could not find the requested resource");
	respond_err(req, &e);
}

static void h_resource(struct http_req *req, void *arg)
{
	struct api_ctx *ctx = arg;
	bool legacy = kc_has_prefix(req->path, "/api/") || !strcmp(req->path, "/api");
	/* discovery paths */
	char buf[2048];
	if (strlen(req->path) >= sizeof buf)
		return not_found_path(req);
	snprintf(buf, sizeof buf, "%s", req->path + (legacy ? 4 : 5));
	char *seg[MAX_SEGS + 1];
	unsigned n = handlers_split_path(buf, seg, MAX_SEGS + 1);
	unsigned gv = legacy ? 1 : 2;
	if (n <= gv)
		return h_discovery(req, arg);
	if (n > MAX_SEGS)
		return not_found_path(req);
	const char *group = legacy ? "" : seg[0];
	const char *version = seg[gv - 1];
	if (legacy && strcmp(version, "v1"))
		return not_found_path(req);
	char **s = seg + gv;
	unsigned m = n - gv;

	struct hreq *h = xcalloc(1, sizeof *h);
	h->req = req;
	h->ctx = ctx;
	if (!authenticate(req, ctx, &h->user))
		return hreq_free(h);
	const char *plural = NULL, *name = NULL, *sub = NULL, *ns = NULL;
	if (m >= 3 && !strcmp(s[0], "namespaces") && !(m == 3 && (!strcmp(s[2], "status") ||
								   !strcmp(s[2], "finalize")))) {
		ns = s[1];
		plural = s[2];
		name = m >= 4 ? s[3] : NULL;
		sub = m >= 5 ? s[4] : NULL;
		if (m > 5) {
			hreq_free(h);
			return not_found_path(req);
		}
	} else {
		plural = s[0];
		name = m >= 2 ? s[1] : NULL;
		sub = m >= 3 ? s[2] : NULL;
		if (m > 3) {
			hreq_free(h);
			return not_found_path(req);
		}
	}
	h->res = schema_resource(ctx->schema, group, version, plural);
	if (!h->res || (ns && !h->res->namespaced) || (sub && !has_sub(h->res, sub))) {
		hreq_free(h);
		return not_found_path(req);
	}
	if ((ns && !registry_name_ok(ns)) || (name && !registry_name_ok(name))) {
		hreq_free(h);
		return not_found_path(req);
	}
	snprintf(h->ns, sizeof h->ns, "%s", ns ? ns : "");
	snprintf(h->name, sizeof h->name, "%s", name ? name : "");
	snprintf(h->sub, sizeof h->sub, "%s", sub ? sub : "");
	/* a namespaced resource addressed by name needs its namespace (cluster-wide lists do not) */
	if (h->res->namespaced && name && !ns) {
		hreq_free(h);
		return not_found_path(req);
	}

	const char *m_ = req->method;
	const char *w = http_req_query(req, "watch");
	bool watch = query_true(w);
	if (!strcmp(m_, "GET") || !strcmp(m_, "HEAD"))
		h->verb = name ? V_GET : watch ? V_WATCH : V_LIST;
	else if (!strcmp(m_, "POST"))
		h->verb = V_CREATE;
	else if (!strcmp(m_, "PUT"))
		h->verb = V_UPDATE;
	else if (!strcmp(m_, "PATCH"))
		h->verb = V_PATCH;
	else if (!strcmp(m_, "DELETE"))
		h->verb = name ? V_DELETE : V_DELETECOLLECTION;
	else
		return failf(h, 405, "MethodNotAllowed", "the server does not allow this method on the "
			     "requested resource");
	/* shape checks */
	if (((h->verb == V_UPDATE || h->verb == V_PATCH) && !name) ||
	    (h->verb == V_CREATE && name && !sub) || (sub && h->verb == V_DELETE))
		return failf(h, 405, "MethodNotAllowed", "the server does not allow this method on the "
			     "requested resource");
	static const unsigned vbit[] = { API_VERB_GET, API_VERB_LIST, API_VERB_WATCH,
					 API_VERB_CREATE, API_VERB_UPDATE, API_VERB_PATCH,
					 API_VERB_DELETE, API_VERB_DELETECOLLECTION };
	if (!sub && !(h->res->verbs & vbit[h->verb]))
		return failf(h, 405, "MethodNotAllowed", "the server does not allow this method on the "
			     "requested resource");
	const char *av_sub = h->sub[0] ? h->sub : NULL;
	/* exec, attach and portforward need "create" whatever the method (Kubernetes authorizes
	 * WebSocket GETs of them as create too) */
	bool stream_sub = !strcmp(h->sub, "exec") || !strcmp(h->sub, "attach") ||
			  !strcmp(h->sub, "portforward");
	if (!authorize(h, stream_sub ? "create" : verb_names[h->verb], av_sub))
		return hreq_free(h);

	if (!strcmp(h->res->group, "metrics.k8s.io")) {
		/* computed from the nodes' usage, never stored: only get and list reach here */
		const char *acc = http_req_header(req, "Accept");
		resmetrics_serve(ctx->metrics, req, h->res, h->ns, h->name[0] ? h->name : NULL,
				 acc && table_wanted(acc));
		return hreq_free(h);
	}
	if (!strcmp(h->sub, "log") || !strcmp(h->sub, "exec") || !strcmp(h->sub, "attach") ||
	    !strcmp(h->sub, "portforward") || !strcmp(h->sub, "proxy")) {
		/* the node proxy takes the req over */
		nodeproxy_serve(ctx->nodeproxy, req, h->ns, h->name, h->sub);
		return hreq_free(h);
	}

	const char *accept = http_req_header(req, "Accept");
	h->table = accept && table_wanted(accept) && !h->sub[0];
	const char *dr = http_req_query(req, "dryRun");
	h->dry_run = dr && !strcmp(dr, "All");
	if (dr && *dr && strcmp(dr, "All"))
		return failf(h, 400, "BadRequest", "invalid dryRun value: only \"All\" is supported");
	const char *fv = http_req_query(req, "fieldValidation");
	h->field_validation = !fv || !*fv || !strcmp(fv, "Warn") ? 1 : !strcmp(fv, "Strict") ? 2 : 0;
	if (fv && *fv && strcmp(fv, "Warn") && strcmp(fv, "Strict") && strcmp(fv, "Ignore"))
		return failf(h, 400, "BadRequest", "fieldValidation must be one of \"Strict\", "
			     "\"Warn\" or \"Ignore\"");

	struct api_error e = { 0 };
	struct kc_err err = { 0 };
	if (h->verb == V_LIST || h->verb == V_WATCH || h->verb == V_DELETECOLLECTION) {
		if (label_selector_parse(http_req_query(req, "labelSelector"), &h->ls, &err) < 0) {
			api_err(&e, 400, "BadRequest", "%s", err.msg);
			return fail(h, &e);
		}
		if (field_selector_parse(http_req_query(req, "fieldSelector"), h->res->plural, &h->fs,
					 &err) < 0) {
			api_err(&e, 400, "BadRequest", "%s", err.msg);
			return fail(h, &e);
		}
	}
	struct loop *l = http_req_loop(req);
	switch (h->verb) {
	case V_GET:
		return registry_get(ctx->reg, l, h->res, h->ns, h->name,
				    !http_req_query(req, "resourceVersion") ||
					    strcmp(http_req_query(req, "resourceVersion"), "0"),
				    get_done, h);
	case V_LIST: {
		struct reg_list_opts o;
		if (list_opts(h, &o, &e) < 0)
			return fail(h, &e);
		return registry_list_stream(ctx->reg, l, h->res, &o, LIST_PAGE_ITEMS, list_page_done,
					    h);
	}
	case V_WATCH:
		return do_watch(h);
	case V_CREATE:
		return do_create(h);
	case V_UPDATE:
		return do_update(h);
	case V_PATCH:
		return do_patch(h);
	case V_DELETE:
		if (delete_opts(h, &e) < 0)
			return fail(h, &e);
		return registry_delete(ctx->reg, l, h->res, h->ns, h->name, &h->dopt, delete_done, h);
	case V_DELETECOLLECTION: {
		if (delete_opts(h, &e) < 0)
			return fail(h, &e);
		struct reg_list_opts o = { .ns = h->ns, .labels = h->ls, .fields = h->fs,
					   .parse = true };
		return registry_list(ctx->reg, l, h->res, &o, dc_list_done, h);
	}
	}
}

int handlers_add_routes(struct router *rt, struct api_ctx *ctx, struct kc_err *err)
{
	static const char *const disc[] = { "/api", "/apis" };
	int rc;
	for (size_t i = 0; i < 2; i++)
		if ((rc = router_add(rt, "GET", disc[i], h_discovery, ctx, err)) < 0)
			return rc;
	if ((rc = router_add(rt, "*", "/api/{rest...}", h_resource, ctx, err)) < 0 ||
	    (rc = router_add(rt, "*", "/apis/{rest...}", h_resource, ctx, err)) < 0 ||
	    (rc = router_add(rt, "GET", "/openapi/{rest...}", h_openapi, ctx, err)) < 0)
		return rc;
	return 0;
}
