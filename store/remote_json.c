/* remote_json.c - the client side of the etcd v3 JSON gateway for store/remote.c: mvcc requests
 * and encoded commands into etcd's request JSON, etcd's answers back into mvcc results, range
 * responses and watch messages. The mirror of store/gateway.c (which serves the same shapes):
 * field names in snake_case (lowerCamelCase accepted), bytes as standard base64, int64 as
 * decimal strings (numbers accepted), default values omitted. Pure: no I/O. Every parse has
 * limits: the body size (REMOTE_BODY_MAX), JSON depth, keys of MVCC_KEY_MAX bytes. */
#include "store/remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "store/gateway.h"

#define JSON_DEPTH_MAX 24u

/* ---- writing ---- */

static void key(struct kc_str *o, bool *first, const char *name)
{
	if (!*first)
		kc_str_addc(o, ',');
	*first = false;
	kc_json_write_string(o, name);
	kc_str_addc(o, ':');
}

static void put_b64(struct kc_str *o, bool *f, const char *name, const void *p, size_t n)
{
	if (!n)
		return;
	key(o, f, name);
	kc_str_addc(o, '"');
	kc_base64_encode(o, p, n, KC_B64_STD);
	kc_str_addc(o, '"');
}

static void put_i64(struct kc_str *o, bool *f, const char *name, int64_t v)
{
	if (!v)
		return;
	key(o, f, name);
	kc_str_addf(o, "\"%lld\"", (long long)v);
}

static void put_true(struct kc_str *o, bool *f, const char *name, bool v)
{
	if (!v)
		return;
	key(o, f, name);
	kc_str_adds(o, "true");
}

static void put_enum(struct kc_str *o, bool *f, const char *name, const char *const *names, int v)
{
	if (!v)
		return;
	key(o, f, name);
	kc_json_write_string(o, names[v]);
}

static const char *const sort_order_names[] = {"NONE", "ASCEND", "DESCEND"};
static const char *const sort_target_names[] = {"KEY", "VERSION", "CREATE", "MOD", "VALUE"};
static const char *const cmp_result_names[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
static const char *const cmp_target_names[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};

static void range_fields(struct kc_str *o, bool *f, const struct mvcc_range_req *q)
{
	put_b64(o, f, "key", q->key, q->key_len);
	put_b64(o, f, "range_end", q->range_end, q->range_end_len);
	put_i64(o, f, "limit", q->limit > 0 ? q->limit : 0);
	put_i64(o, f, "revision", q->revision > 0 ? q->revision : 0);
	put_enum(o, f, "sort_order", sort_order_names, (int)q->sort_order);
	put_enum(o, f, "sort_target", sort_target_names, (int)q->sort_target);
	put_true(o, f, "keys_only", q->keys_only);
	put_true(o, f, "count_only", q->count_only);
}

void remote_range_to_json(const struct mvcc_range_req *req, bool serializable, struct kc_str *body)
{
	bool f = true;
	kc_str_addc(body, '{');
	range_fields(body, &f, req);
	put_true(body, &f, "serializable", serializable);
	kc_str_addc(body, '}');
}

static void put_fields(struct kc_str *o, bool *f, const struct mvcc_put_req *q)
{
	put_b64(o, f, "key", q->key, q->key_len);
	put_b64(o, f, "value", q->value, q->value_len);
	put_i64(o, f, "lease", q->lease);
	put_true(o, f, "prev_kv", q->prev_kv);
	put_true(o, f, "ignore_value", q->ignore_value);
	put_true(o, f, "ignore_lease", q->ignore_lease);
}

static void delete_fields(struct kc_str *o, bool *f, const struct mvcc_delete_req *q)
{
	put_b64(o, f, "key", q->key, q->key_len);
	put_b64(o, f, "range_end", q->range_end, q->range_end_len);
	put_true(o, f, "prev_kv", q->prev_kv);
}

static void txn_fields(struct kc_str *o, bool *f, const struct mvcc_txn_req *t);

static void ops_json(struct kc_str *o, bool *f, const char *name, const struct mvcc_op *ops,
		     size_t n)
{
	if (!n)
		return;
	key(o, f, name);
	kc_str_addc(o, '[');
	for (size_t i = 0; i < n; i++) {
		static const char *const names[] = {"", "request_range", "request_put",
						    "request_delete_range", "request_txn"};
		bool f1 = true, f2 = true;
		if (i)
			kc_str_addc(o, ',');
		kc_str_addc(o, '{');
		key(o, &f1, names[ops[i].type]);
		kc_str_addc(o, '{');
		switch (ops[i].type) {
		case MVCC_OP_RANGE:
			range_fields(o, &f2, &ops[i].u.range);
			break;
		case MVCC_OP_PUT:
			put_fields(o, &f2, &ops[i].u.put);
			break;
		case MVCC_OP_DELETE:
			delete_fields(o, &f2, &ops[i].u.del);
			break;
		case MVCC_OP_TXN:
			txn_fields(o, &f2, ops[i].u.txn);
			break;
		}
		kc_str_adds(o, "}}");
	}
	kc_str_addc(o, ']');
}

static void txn_fields(struct kc_str *o, bool *f, const struct mvcc_txn_req *t)
{
	if (t->ncompares) {
		key(o, f, "compare");
		kc_str_addc(o, '[');
		for (size_t i = 0; i < t->ncompares; i++) {
			const struct mvcc_compare *c = &t->compares[i];
			bool f1 = true;
			if (i)
				kc_str_addc(o, ',');
			kc_str_addc(o, '{');
			/* etcd's enums: EQUAL and VERSION are 0, written all the same for clarity */
			key(o, &f1, "result");
			kc_json_write_string(o, cmp_result_names[c->result]);
			key(o, &f1, "target");
			kc_json_write_string(o, cmp_target_names[c->target]);
			put_b64(o, &f1, "key", c->key, c->key_len);
			put_b64(o, &f1, "range_end", c->range_end, c->range_end_len);
			static const char *const operand[] = {"version", "create_revision",
							      "mod_revision", "value", "lease"};
			if (c->target == MVCC_CMP_VALUE) {
				key(o, &f1, "value");
				kc_str_addc(o, '"');
				kc_base64_encode(o, c->value, c->value_len, KC_B64_STD);
				kc_str_addc(o, '"');
			} else {
				/* the operand selects the oneof: always sent, 0 included */
				key(o, &f1, operand[c->target]);
				kc_str_addf(o, "\"%lld\"", (long long)c->number);
			}
			kc_str_addc(o, '}');
		}
		kc_str_addc(o, ']');
	}
	ops_json(o, f, "success", t->success, t->nsuccess);
	ops_json(o, f, "failure", t->failure, t->nfailure);
}

int remote_cmd_to_json(const void *cmd, size_t len, const char **path, enum mvcc_cmd_type *type,
		       struct kc_str *body, struct kc_err *err)
{
	struct mvcc_cmd c;
	int rc = mvcc_cmd_decode(cmd, len, &c, err);
	if (rc < 0)
		return rc;
	bool f = true;
	*type = c.type;
	kc_str_addc(body, '{');
	switch (c.type) {
	case MVCC_CMD_PUT:
		*path = "/v3/kv/put";
		put_fields(body, &f, &c.u.put);
		break;
	case MVCC_CMD_DELETE:
		*path = "/v3/kv/deleterange";
		delete_fields(body, &f, &c.u.del);
		break;
	case MVCC_CMD_TXN:
		*path = "/v3/kv/txn";
		txn_fields(body, &f, &c.u.txn);
		break;
	case MVCC_CMD_COMPACT:
		*path = "/v3/kv/compaction";
		put_i64(body, &f, "revision", c.u.compact.revision);
		break;
	case MVCC_CMD_LEASE_GRANT:
		*path = "/v3/lease/grant";
		put_i64(body, &f, "TTL", c.u.lease_grant.ttl);
		put_i64(body, &f, "ID", c.u.lease_grant.id);
		break;
	case MVCC_CMD_LEASE_REVOKE:
		*path = "/v3/lease/revoke";
		put_i64(body, &f, "ID", c.u.lease_revoke.id);
		break;
	default:
		rc = kc_err_set(err, -KC_EUNSUPPORTED, "command type %d has no etcd gateway call",
				(int)c.type);
		break;
	}
	kc_str_addc(body, '}');
	mvcc_cmd_free(&c);
	return rc;
}

void remote_watch_to_json(const struct watch_create_req *req, int64_t start_revision,
			  struct kc_str *body)
{
	bool f = true;
	kc_str_adds(body, "{\"create_request\":{");
	put_b64(body, &f, "key", req->key, req->key_len);
	put_b64(body, &f, "range_end", req->range_end, req->range_end_len);
	put_i64(body, &f, "start_revision", start_revision > 0 ? start_revision : 0);
	/* the server's periodic progress lets a quiet watcher resume from a recent revision */
	put_true(body, &f, "progress_notify", true);
	if (req->no_put || req->no_delete) {
		key(body, &f, "filters");
		kc_str_addc(body, '[');
		if (req->no_put)
			kc_str_adds(body, "\"NOPUT\"");
		if (req->no_delete)
			kc_str_adds(body, req->no_put ? ",\"NODELETE\"" : "\"NODELETE\"");
		kc_str_addc(body, ']');
	}
	put_true(body, &f, "prev_kv", req->prev_kv);
	kc_str_adds(body, "}}");
}

/* ---- reading ---- */

/* Whether a JSON member name is the proto field 'snake' or its lowerCamelCase form. */
/* etcd's JSON field readers are the gateway's (snake_case or lowerCamelCase names, int64s as
 * numbers or strings); a bad answer is a protocol error here. */
static const cJSON *fld(const cJSON *o, const char *snake)
{
	return gateway_json_field(o, snake);
}

static int get_i64(const cJSON *o, const char *name, int64_t *out, struct kc_err *err)
{
	return gateway_json_i64(o, name, out, -KC_EPROTO, err);
}

static int get_bool(const cJSON *o, const char *name, bool *out, struct kc_err *err)
{
	return gateway_json_bool(o, name, out, -KC_EPROTO, err);
}

/* Decodes base64 field 'name' of o into s (reset first); absent = empty. */
static int get_bytes(const cJSON *o, const char *name, struct kc_str *s, size_t max,
		     struct kc_err *err)
{
	const cJSON *v = fld(o, name);
	kc_str_reset(s);
	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		return kc_err_set(err, -KC_EPROTO, "bad bytes in field %s", name);
	size_t n = strlen(v->valuestring);
	if (kc_base64_decoded_max(n) > max + 3)
		return kc_err_set(err, -KC_EPROTO, "field %s longer than %zu bytes", name, max);
	if (kc_base64_decode(s, v->valuestring, n, KC_B64_STD, err) < 0)
		return kc_err_set(err, -KC_EPROTO, "bad base64 in field %s", name);
	return 0;
}

/* etcd's mvccpb.KeyValue into kv (one block: key, '\0', value, '\0'). */
static int parse_kv(const cJSON *o, struct mvcc_kv *kv, struct kc_err *err)
{
	struct kc_str k = KC_STR_INIT, v = KC_STR_INIT;
	int rc;
	memset(kv, 0, sizeof(*kv));
	if (!cJSON_IsObject(o))
		return kc_err_set(err, -KC_EPROTO, "a key-value is not an object");
	if ((rc = get_bytes(o, "key", &k, MVCC_KEY_MAX, err)) < 0 ||
	    (rc = get_bytes(o, "value", &v, REMOTE_BODY_MAX, err)) < 0 ||
	    (rc = get_i64(o, "create_revision", &kv->create_revision, err)) < 0 ||
	    (rc = get_i64(o, "mod_revision", &kv->mod_revision, err)) < 0 ||
	    (rc = get_i64(o, "version", &kv->version, err)) < 0 ||
	    (rc = get_i64(o, "lease", &kv->lease, err)) < 0)
		goto out;
	kv->key = xmalloc(k.len + v.len + 2);
	memcpy(kv->key, k.buf, k.len);
	kv->key[k.len] = 0;
	kv->key_len = k.len;
	kv->value = kv->key + k.len + 1;
	memcpy(kv->value, v.buf, v.len);
	kv->value[v.len] = 0;
	kv->value_len = v.len;
out:
	kc_str_free(&k);
	kc_str_free(&v);
	if (rc < 0)
		memset(kv, 0, sizeof(*kv));
	return rc;
}

static int parse_kvs(const cJSON *o, const char *name, struct mvcc_kv **out, size_t *n,
		     struct kc_err *err)
{
	const cJSON *a = fld(o, name), *e;
	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!cJSON_IsArray(a))
		return kc_err_set(err, -KC_EPROTO, "%s is not an array", name);
	size_t cnt = (size_t)cJSON_GetArraySize(a);
	if (!cnt)
		return 0;
	*out = xcalloc(cnt, sizeof(**out));
	cJSON_ArrayForEach(e, a)
	{
		int rc = parse_kv(e, &(*out)[*n], err);
		if (rc < 0)
			return rc; /* the caller frees the n parsed so far */
		(*n)++;
	}
	return 0;
}

static int header_revision(const cJSON *o, int64_t *rev, struct kc_err *err)
{
	const cJSON *h = fld(o, "header");
	*rev = 0;
	return h ? get_i64(h, "revision", rev, err) : 0;
}

static int parse_range_body(const cJSON *o, struct mvcc_range_resp *r, struct kc_err *err)
{
	int rc = header_revision(o, &r->revision, err);
	if (rc == 0)
		rc = parse_kvs(o, "kvs", &r->kvs, &r->nkvs, err);
	if (rc == 0)
		rc = get_bool(o, "more", &r->more, err);
	if (rc == 0)
		rc = get_i64(o, "count", &r->count, err);
	return rc;
}

static int parse_delete_body(const cJSON *o, struct mvcc_delete_resp *d, struct kc_err *err)
{
	int rc = get_i64(o, "deleted", &d->deleted, err);
	if (rc == 0)
		rc = parse_kvs(o, "prev_kvs", &d->prev_kvs, &d->nprev, err);
	return rc;
}

static int parse_put_body(const cJSON *o, struct mvcc_put_resp *p, struct kc_err *err)
{
	const cJSON *pk = fld(o, "prev_kv");
	if (!pk)
		return 0;
	p->has_prev = true;
	return parse_kv(pk, &p->prev_kv, err);
}

static int parse_txn_body(const cJSON *o, struct mvcc_txn_resp *t, unsigned depth,
			  struct kc_err *err)
{
	int rc = get_bool(o, "succeeded", &t->succeeded, err);
	if (rc < 0)
		return rc;
	if (depth > MVCC_TXN_DEPTH_MAX)
		return kc_err_set(err, -KC_EPROTO, "txn response nested too deep");
	const cJSON *a = fld(o, "responses"), *e;
	if (!a)
		return 0;
	if (!cJSON_IsArray(a))
		return kc_err_set(err, -KC_EPROTO, "responses is not an array");
	size_t cnt = (size_t)cJSON_GetArraySize(a);
	if (!cnt)
		return 0;
	t->responses = xcalloc(cnt, sizeof(*t->responses));
	cJSON_ArrayForEach(e, a)
	{
		struct mvcc_op_resp *r = &t->responses[t->nresponses++];
		const cJSON *x;
		if ((x = fld(e, "response_range"))) {
			r->type = MVCC_OP_RANGE;
			rc = parse_range_body(x, &r->u.range, err);
		} else if ((x = fld(e, "response_put"))) {
			r->type = MVCC_OP_PUT;
			rc = parse_put_body(x, &r->u.put, err);
		} else if ((x = fld(e, "response_delete_range"))) {
			r->type = MVCC_OP_DELETE;
			rc = parse_delete_body(x, &r->u.del, err);
		} else if ((x = fld(e, "response_txn"))) {
			r->type = MVCC_OP_TXN;
			rc = parse_txn_body(x, &r->u.txn, depth + 1, err);
		} else {
			r->type = MVCC_OP_RANGE; /* freeable as an empty range */
			rc = kc_err_set(err, -KC_EPROTO, "txn response without a known response");
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse_json(const char *body, size_t len, cJSON **root, struct kc_err *err)
{
	struct kc_json_limits lim = {.max_bytes = REMOTE_BODY_MAX, .max_depth = JSON_DEPTH_MAX};
	int rc = kc_json_parse(body, len, &lim, root, err);
	if (rc < 0)
		return kc_err_set(err, -KC_EPROTO, "the store's answer is not JSON: %s", err->msg);
	if (!cJSON_IsObject(*root)) {
		cJSON_Delete(*root);
		*root = NULL;
		return kc_err_set(err, -KC_EPROTO, "the store's answer is not a JSON object");
	}
	return 0;
}

int remote_parse_result(enum mvcc_cmd_type type, const char *body, size_t len,
			struct mvcc_result *out, struct kc_err *err)
{
	cJSON *root;
	memset(out, 0, sizeof(*out));
	out->type = type;
	int rc = parse_json(body, len, &root, err);
	if (rc < 0)
		return rc;
	rc = header_revision(root, &out->revision, err);
	if (rc == 0) {
		switch (type) {
		case MVCC_CMD_PUT:
			rc = parse_put_body(root, &out->u.put, err);
			break;
		case MVCC_CMD_DELETE:
			rc = parse_delete_body(root, &out->u.del, err);
			break;
		case MVCC_CMD_TXN:
			rc = parse_txn_body(root, &out->u.txn, 1, err);
			break;
		case MVCC_CMD_LEASE_GRANT:
			rc = get_i64(root, "ID", &out->u.lease_grant.id, err);
			if (rc == 0)
				rc = get_i64(root, "TTL", &out->u.lease_grant.ttl, err);
			break;
		default:
			break;
		}
	}
	cJSON_Delete(root);
	if (rc < 0)
		mvcc_result_free(out);
	return rc;
}

int remote_parse_range(const char *body, size_t len, struct mvcc_range_resp *out,
		       struct kc_err *err)
{
	cJSON *root;
	memset(out, 0, sizeof(*out));
	int rc = parse_json(body, len, &root, err);
	if (rc < 0)
		return rc;
	rc = parse_range_body(root, out, err);
	cJSON_Delete(root);
	if (rc < 0)
		mvcc_range_resp_free(out);
	return rc;
}

/* The store's code for etcd's error text (etcd's own texts, which kc's gateway reproduces),
 * else by gRPC code. */
static int code_of(const char *msg, long long grpc)
{
	static const struct {
		const char *text;
		int code;
	} texts[] = {
		{"required revision has been compacted", -MVCC_ECOMPACTED},
		{"required revision is a future revision", -MVCC_EFUTURE_REV},
		{"requested lease not found", -MVCC_ELEASE_NOT_FOUND},
		{"lease already exists", -MVCC_ELEASE_EXISTS},
		{"duplicate key given in txn request", -MVCC_EDUP_KEY},
		{"key is not provided", -MVCC_EEMPTY_KEY},
		{"too many operations in txn request", -MVCC_ETOO_MANY_OPS},
		{"no leader", -KC_EUNAVAIL},
		/* reads retry it; a write may have been proposed: its outcome is unknown */
		{"leader changed", -KC_ETIMEDOUT},
		{"not capable", -KC_EUNAVAIL},
		{"too many requests", -KC_EUNAVAIL},
		{"request timed out", -KC_ETIMEDOUT},
		{"database space exceeded", -28 /* -ENOSPC */},
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (strstr(msg, texts[i].text))
			return texts[i].code;
	switch (grpc) {
	case GRPC_UNAVAILABLE:
		return -KC_EUNAVAIL;
	case GRPC_DEADLINE_EXCEEDED:
		return -KC_ETIMEDOUT;
	case GRPC_INVALID_ARGUMENT:
		return -KC_EINVAL;
	case GRPC_OUT_OF_RANGE:
		return -KC_ELIMIT;
	case GRPC_NOT_FOUND:
		return -KC_ENOTFOUND;
	case GRPC_FAILED_PRECONDITION:
		return -KC_ECONFLICT;
	case GRPC_RESOURCE_EXHAUSTED:
		return -28;
	case GRPC_UNIMPLEMENTED:
		return -KC_EUNSUPPORTED;
	default:
		return -KC_EIO;
	}
}

static int error_from(const cJSON *e, int http_status, struct kc_err *err)
{
	/* unary: {"error":M,"message":M,"code":N}; stream: {"error":{"grpc_code":N,"message":M}} */
	const cJSON *obj = cJSON_IsObject(fld(e, "error")) ? fld(e, "error") : e;
	const char *msg = kc_json_get_str(obj, "message");
	if (!msg && cJSON_IsString(fld(obj, "error")))
		msg = fld(obj, "error")->valuestring;
	int64_t grpc = -1;
	struct kc_err ignored = {0};
	if (!fld(obj, "code") || get_i64(obj, "code", &grpc, &ignored) < 0)
		(void)get_i64(obj, "grpc_code", &grpc, &ignored);
	if (grpc < 0)
		grpc = http_status == 503   ? GRPC_UNAVAILABLE
		       : http_status == 504 ? GRPC_DEADLINE_EXCEEDED
					    : GRPC_UNKNOWN;
	if (!msg)
		msg = "";
	int code = code_of(msg, grpc);
	if (*msg)
		kc_err_set(err, code, "%s", msg);
	else
		kc_err_set(err, code, "the store answered HTTP %d", http_status);
	return code;
}

int remote_parse_error(int http_status, const char *body, size_t len, struct kc_err *err)
{
	cJSON *root = NULL;
	struct kc_err perr = {0};
	if (len && parse_json(body, len, &root, &perr) == 0) {
		int code = error_from(root, http_status, err);
		cJSON_Delete(root);
		return code;
	}
	char ex[128];
	kc_excerpt(ex, sizeof ex, body ? body : "", len);
	int code = http_status == 503 ? -KC_EUNAVAIL : http_status == 504 ? -KC_ETIMEDOUT : -KC_EIO;
	return kc_err_set(err, code, "the store answered HTTP %d: %s", http_status, ex);
}

void remote_watch_msg_free(struct remote_watch_msg *m)
{
	if (!m)
		return;
	mvcc_events_free(&m->events);
	memset(m, 0, sizeof(*m));
	mvcc_events_init(&m->events);
}

static int parse_events(const cJSON *res, struct remote_watch_msg *m, struct kc_err *err)
{
	const cJSON *a = fld(res, "events"), *e;
	if (!a)
		return 0;
	if (!cJSON_IsArray(a))
		return kc_err_set(err, -KC_EPROTO, "events is not an array");
	cJSON_ArrayForEach(e, a)
	{
		struct mvcc_event ev;
		memset(&ev, 0, sizeof(ev));
		const cJSON *t = fld(e, "type");
		if (t && ((cJSON_IsString(t) && strcmp(t->valuestring, "DELETE") == 0) ||
			  (cJSON_IsNumber(t) && t->valuedouble == 1)))
			ev.type = MVCC_EVENT_DELETE;
		else if (t && !(cJSON_IsString(t) && strcmp(t->valuestring, "PUT") == 0) &&
			 !(cJSON_IsNumber(t) && t->valuedouble == 0))
			return kc_err_set(err, -KC_EPROTO, "unknown event type");
		const cJSON *kv = fld(e, "kv"), *pk = fld(e, "prev_kv");
		if (!kv)
			return kc_err_set(err, -KC_EPROTO, "an event without kv");
		int rc = parse_kv(kv, &ev.kv, err);
		if (rc == 0 && pk) {
			ev.has_prev = true;
			rc = parse_kv(pk, &ev.prev_kv, err);
		}
		if (rc < 0) {
			mvcc_kv_free(&ev.kv);
			return rc;
		}
		ev.revision = ev.kv.mod_revision;
		if (m->events.len == m->events.cap) {
			m->events.cap = m->events.cap ? m->events.cap * 2 : 8;
			m->events.v = xrealloc(m->events.v, m->events.cap * sizeof(*m->events.v));
		}
		if (m->events.len && m->events.v[m->events.len - 1].revision == ev.revision)
			ev.sub = m->events.v[m->events.len - 1].sub + 1;
		m->events.v[m->events.len++] = ev;
	}
	return 0;
}

int remote_parse_watch(const char *line, size_t len, struct remote_watch_msg *out,
		       struct kc_err *err)
{
	cJSON *root;
	memset(out, 0, sizeof(*out));
	mvcc_events_init(&out->events);
	int rc = parse_json(line, len, &root, err);
	if (rc < 0)
		return rc;
	const cJSON *res = fld(root, "result");
	if (!res && fld(root, "error")) {
		struct kc_err e = {0};
		out->error = error_from(root, 0, &e);
		snprintf(out->cancel_reason, sizeof out->cancel_reason, "%s", e.msg);
		cJSON_Delete(root);
		return 0;
	}
	if (!res)
		res = root; /* tolerate an unwrapped WatchResponse */
	const cJSON *cr;
	if ((rc = header_revision(res, &out->header_revision, err)) < 0 ||
	    (rc = get_i64(res, "watch_id", &out->watch_id, err)) < 0 ||
	    (rc = get_bool(res, "created", &out->created, err)) < 0 ||
	    (rc = get_bool(res, "canceled", &out->canceled, err)) < 0 ||
	    (rc = get_i64(res, "compact_revision", &out->compact_revision, err)) < 0)
		goto out;
	if ((cr = fld(res, "cancel_reason")) && cJSON_IsString(cr))
		snprintf(out->cancel_reason, sizeof out->cancel_reason, "%s", cr->valuestring);
	rc = parse_events(res, out, err);
out:
	cJSON_Delete(root);
	if (rc < 0)
		remote_watch_msg_free(out);
	return rc;
}
