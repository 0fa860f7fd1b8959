/* gateway.c - etcd v3 JSON gateway.
 *
 * DESIGN: two halves. The translators (gateway_parse, gateway_write_*, gateway_error_json) are
 * pure functions over bytes: parse the untrusted body with kc_json_parse under GATEWAY_BODY_MAX
 * and GATEWAY_JSON_DEPTH_MAX, decode base64 into blocks the gateway_request owns, and produce
 * either an mvcc request (reads, watches, leases, members) or an encoded command checked by
 * mvcc_cmd_encode (writes), so nothing that reaches Raft is unvalidated. The serving half runs on
 * the HTTP loop that received the request: a handler per path parses, calls the backend, and
 * answers from the backend's callback (which may run inside the call). A watch holds its request
 * as a stream until the client leaves or the backend cancels it; exactly one of those ends it.
 *
 * Output follows etcd 3.4's grpc-gateway marshaler (OrigName, EmitDefaults off): proto field
 * order, snake_case names except where the proto says otherwise (ID, TTL, grantedTTL, dbSize,
 * peerURLs...), default values left out, 64-bit integers as strings. */
#include "store/gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/list.h"
#include "lib/log.h"
#include "net/loop.h"
#include "net/http_server.h"
#include "net/router.h"

/* ---------------------------------------------------------------------------------------------
 * Parsing helpers */

static void *keep(struct gateway_request *r, size_t n)
{
	void *p = xmalloc(n ? n : 1);
	r->blocks = xrealloc(r->blocks, (r->nblocks + 1) * sizeof(*r->blocks));
	r->blocks[r->nblocks++] = p;
	return p;
}

/* Whether a JSON member name is the proto field 'snake' in its original or lowerCamelCase form. */
static bool name_is(const char *name, const char *snake)
{
	if (strcmp(name, snake) == 0)
		return true;
	const char *s = snake;
	const char *n = name;
	while (*s && *n) {
		if (*s == '_' && s[1] >= 'a' && s[1] <= 'z') {
			if (*n != s[1] - 'a' + 'A')
				return false;
			s += 2;
			n++;
			continue;
		}
		if (*s != *n)
			return false;
		s++;
		n++;
	}
	return *s == 0 && *n == 0;
}

const cJSON *gateway_json_field(const cJSON *o, const char *snake)
{
	const cJSON *c;
	if (!cJSON_IsObject(o))
		return NULL;
	cJSON_ArrayForEach(c, o) {
		if (c->string && name_is(c->string, snake))
			return cJSON_IsNull(c) ? NULL : c;
	}
	return NULL;
}

static const cJSON *fld(const cJSON *o, const char *snake)
{
	return gateway_json_field(o, snake);
}

int gateway_json_i64(const cJSON *o, const char *name, int64_t *out, int code, struct kc_err *err)
{
	const cJSON *v = gateway_json_field(o, name);
	long long x = 0;
	*out = 0;
	if (!v)
		return 0;
	if ((cJSON_IsNumber(v) && kc_json_as_i64(v, &x) == 0) ||
	    (cJSON_IsString(v) && kc_parse_i64(v->valuestring, INT64_MIN, INT64_MAX, &x) == 0)) {
		*out = (int64_t)x;
		return 0;
	}
	return kc_err_set(err, code, "bad integer for field %s", name);
}

static int get_i64(const cJSON *o, const char *name, int64_t *out, struct kc_err *err)
{
	return gateway_json_i64(o, name, out, -KC_EINVAL, err);
}

static int get_u64(const cJSON *o, const char *name, uint64_t *out, struct kc_err *err)
{
	const cJSON *v = fld(o, name);
	*out = 0;
	if (!v)
		return 0;
	if (cJSON_IsNumber(v)) {
		long long x;
		if (kc_json_as_i64(v, &x) < 0 || x < 0)
			return kc_err_set(err, -KC_EINVAL, "bad integer for field %s", name);
		*out = (uint64_t)x;
		return 0;
	}
	if (!cJSON_IsString(v))
		return kc_err_set(err, -KC_EINVAL, "bad integer for field %s", name);
	const char *s = v->valuestring;
	uint64_t x = 0;
	if (!*s || strlen(s) > 20)
		return kc_err_set(err, -KC_EINVAL, "bad integer for field %s", name);
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return kc_err_set(err, -KC_EINVAL, "bad integer for field %s", name);
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*out = x;
	return 0;
}

int gateway_json_bool(const cJSON *o, const char *name, bool *out, int code, struct kc_err *err)
{
	const cJSON *v = gateway_json_field(o, name);
	*out = false;
	if (!v)
		return 0;
	if (!cJSON_IsBool(v))
		return kc_err_set(err, code, "bad boolean for field %s", name);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int get_bool(const cJSON *o, const char *name, bool *out, struct kc_err *err)
{
	return gateway_json_bool(o, name, out, -KC_EINVAL, err);
}

static int get_bytes(struct gateway_request *r, const cJSON *o, const char *name,
		     const void **p, size_t *len, struct kc_err *err)
{
	const cJSON *v = fld(o, name);
	*p = NULL;
	*len = 0;
	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		return kc_err_set(err, -KC_EINVAL, "bad base64 bytes for field %s", name);
	size_t n = strlen(v->valuestring);
	if (n == 0)
		return 0;
	struct kc_str s;
	kc_str_init(&s);
	int rc = kc_base64_decode(&s, v->valuestring, n, KC_B64_STD, err);
	if (rc < 0) {
		kc_str_free(&s);
		return kc_err_set(err, -KC_EINVAL, "illegal base64 data in field %s", name);
	}
	uint8_t *b = keep(r, s.len);
	memcpy(b, s.buf, s.len);
	*p = b;
	*len = s.len;
	kc_str_free(&s);
	return 0;
}

/* An enum given as a name (names[i] is value i; NULL entries are holes) or a number. */
static int get_enum(const cJSON *o, const char *name, const char *const *names, int n, int *out,
		    struct kc_err *err)
{
	const cJSON *v = fld(o, name);
	*out = 0;
	if (!v)
		return 0;
	if (cJSON_IsNumber(v)) {
		long long x;
		if (kc_json_as_i64(v, &x) < 0 || x < 0 || x >= n || !names[x])
			return kc_err_set(err, -KC_EINVAL, "unknown value for enum field %s", name);
		*out = (int)x;
		return 0;
	}
	if (cJSON_IsString(v)) {
		for (int i = 0; i < n; i++) {
			if (names[i] && strcmp(names[i], v->valuestring) == 0) {
				*out = i;
				return 0;
			}
		}
	}
	return kc_err_set(err, -KC_EINVAL, "unknown value for enum field %s", name);
}

static const char *const sort_order_names[] = { "NONE", "ASCEND", "DESCEND" };
static const char *const sort_target_names[] = { "KEY", "VERSION", "CREATE", "MOD", "VALUE" };
static const char *const cmp_result_names[] = { "EQUAL", "GREATER", "LESS", "NOT_EQUAL" };
static const char *const cmp_target_names[] = { "VERSION", "CREATE", "MOD", "VALUE", "LEASE" };
static const char *const filter_names[] = { "NOPUT", "NODELETE" };

static int parse_range(struct gateway_request *r, const cJSON *o, struct mvcc_range_req *q,
		       bool *serializable, struct kc_err *err)
{
	int rc, v;
	int64_t x;
	memset(q, 0, sizeof(*q));
	if ((rc = get_bytes(r, o, "key", &q->key, &q->key_len, err)) < 0 ||
	    (rc = get_bytes(r, o, "range_end", &q->range_end, &q->range_end_len, err)) < 0 ||
	    (rc = get_i64(o, "limit", &q->limit, err)) < 0 ||
	    (rc = get_i64(o, "revision", &q->revision, err)) < 0 ||
	    (rc = get_bool(o, "keys_only", &q->keys_only, err)) < 0 ||
	    (rc = get_bool(o, "count_only", &q->count_only, err)) < 0)
		return rc;
	if (serializable && (rc = get_bool(o, "serializable", serializable, err)) < 0)
		return rc;
	if ((rc = get_enum(o, "sort_order", sort_order_names, 3, &v, err)) < 0)
		return rc;
	q->sort_order = (enum mvcc_sort_order)v;
	if ((rc = get_enum(o, "sort_target", sort_target_names, 5, &v, err)) < 0)
		return rc;
	q->sort_target = (enum mvcc_sort_target)v;
	static const char *const unsupported[] = { "min_mod_revision", "max_mod_revision",
						   "min_create_revision", "max_create_revision" };
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		if ((rc = get_i64(o, unsupported[i], &x, err)) < 0)
			return rc;
		if (x != 0)
			return kc_err_set(err, -KC_EUNSUPPORTED, "%s is not supported", unsupported[i]);
	}
	if (q->key_len == 0)
		return kc_err_set(err, -MVCC_EEMPTY_KEY, "%s", mvcc_strerror(-MVCC_EEMPTY_KEY));
	if (q->key_len > MVCC_KEY_MAX || q->range_end_len > MVCC_KEY_MAX)
		return kc_err_set(err, -KC_ELIMIT, "key or range_end longer than %u bytes",
				  MVCC_KEY_MAX);
	return 0;
}

static int parse_put(struct gateway_request *r, const cJSON *o, struct mvcc_put_req *q,
		     struct kc_err *err)
{
	int rc;
	memset(q, 0, sizeof(*q));
	if ((rc = get_bytes(r, o, "key", &q->key, &q->key_len, err)) < 0 ||
	    (rc = get_bytes(r, o, "value", &q->value, &q->value_len, err)) < 0 ||
	    (rc = get_i64(o, "lease", &q->lease, err)) < 0 ||
	    (rc = get_bool(o, "prev_kv", &q->prev_kv, err)) < 0 ||
	    (rc = get_bool(o, "ignore_value", &q->ignore_value, err)) < 0 ||
	    (rc = get_bool(o, "ignore_lease", &q->ignore_lease, err)) < 0)
		return rc;
	if (!q->value)
		q->value = "";
	return 0;
}

static int parse_delete(struct gateway_request *r, const cJSON *o, struct mvcc_delete_req *q,
			struct kc_err *err)
{
	int rc;
	memset(q, 0, sizeof(*q));
	if ((rc = get_bytes(r, o, "key", &q->key, &q->key_len, err)) < 0 ||
	    (rc = get_bytes(r, o, "range_end", &q->range_end, &q->range_end_len, err)) < 0 ||
	    (rc = get_bool(o, "prev_kv", &q->prev_kv, err)) < 0)
		return rc;
	return 0;
}

static int parse_txn(struct gateway_request *r, const cJSON *o, struct mvcc_txn_req *t,
		     unsigned depth, size_t *budget, struct kc_err *err);

static int parse_ops(struct gateway_request *r, const cJSON *arr, const struct mvcc_op **out,
		     size_t *n, unsigned depth, size_t *budget, struct kc_err *err)
{
	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return kc_err_set(err, -KC_EINVAL, "txn branch must be an array");
	size_t cnt = (size_t)cJSON_GetArraySize(arr);
	if (cnt > *budget)
		return kc_err_set(err, -MVCC_ETOO_MANY_OPS, "%s", mvcc_strerror(-MVCC_ETOO_MANY_OPS));
	*budget -= cnt;
	struct mvcc_op *ops = keep(r, cnt * sizeof(*ops));
	memset(ops, 0, cnt * sizeof(*ops));
	size_t i = 0;
	const cJSON *e;
	int rc;
	cJSON_ArrayForEach(e, arr) {
		const cJSON *x;
		struct mvcc_op *op = &ops[i++];
		if (!cJSON_IsObject(e))
			return kc_err_set(err, -KC_EINVAL, "txn op must be an object");
		if ((x = fld(e, "request_range")) && cJSON_IsObject(x)) {
			op->type = MVCC_OP_RANGE;
			rc = parse_range(r, x, &op->u.range, NULL, err);
		} else if ((x = fld(e, "request_put")) && cJSON_IsObject(x)) {
			op->type = MVCC_OP_PUT;
			rc = parse_put(r, x, &op->u.put, err);
		} else if ((x = fld(e, "request_delete_range")) && cJSON_IsObject(x)) {
			op->type = MVCC_OP_DELETE;
			rc = parse_delete(r, x, &op->u.del, err);
		} else if ((x = fld(e, "request_txn")) && cJSON_IsObject(x)) {
			op->type = MVCC_OP_TXN;
			struct mvcc_txn_req *t = keep(r, sizeof(*t));
			memset(t, 0, sizeof(*t));
			op->u.txn = t;
			rc = parse_txn(r, x, t, depth + 1, budget, err);
		} else {
			return kc_err_set(err, -KC_EINVAL, "txn op without a request");
		}
		if (rc < 0)
			return rc;
	}
	*out = ops;
	*n = cnt;
	return 0;
}

static int parse_txn(struct gateway_request *r, const cJSON *o, struct mvcc_txn_req *t,
		     unsigned depth, size_t *budget, struct kc_err *err)
{
	int rc;
	memset(t, 0, sizeof(*t));
	if (depth > MVCC_TXN_DEPTH_MAX)
		return kc_err_set(err, -KC_ELIMIT, "txn nested deeper than %u", MVCC_TXN_DEPTH_MAX);
	const cJSON *cmp = fld(o, "compare");
	if (cmp) {
		if (!cJSON_IsArray(cmp))
			return kc_err_set(err, -KC_EINVAL, "compare must be an array");
		size_t cnt = (size_t)cJSON_GetArraySize(cmp);
		if (cnt > *budget)
			return kc_err_set(err, -MVCC_ETOO_MANY_OPS, "%s",
					  mvcc_strerror(-MVCC_ETOO_MANY_OPS));
		*budget -= cnt;
		struct mvcc_compare *cs = keep(r, cnt * sizeof(*cs));
		memset(cs, 0, cnt * sizeof(*cs));
		size_t i = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, cmp) {
			struct mvcc_compare *c = &cs[i++];
			int v;
			if (!cJSON_IsObject(e))
				return kc_err_set(err, -KC_EINVAL, "compare must hold objects");
			if ((rc = get_enum(e, "result", cmp_result_names, 4, &v, err)) < 0)
				return rc;
			c->result = (enum mvcc_cmp_result)v;
			if ((rc = get_enum(e, "target", cmp_target_names, 5, &v, err)) < 0)
				return rc;
			c->target = (enum mvcc_cmp_target)v;
			if ((rc = get_bytes(r, e, "key", &c->key, &c->key_len, err)) < 0 ||
			    (rc = get_bytes(r, e, "range_end", &c->range_end, &c->range_end_len,
					    err)) < 0)
				return rc;
			switch (c->target) {
			case MVCC_CMP_VERSION:
				rc = get_i64(e, "version", &c->number, err);
				break;
			case MVCC_CMP_CREATE:
				rc = get_i64(e, "create_revision", &c->number, err);
				break;
			case MVCC_CMP_MOD:
				rc = get_i64(e, "mod_revision", &c->number, err);
				break;
			case MVCC_CMP_LEASE:
				rc = get_i64(e, "lease", &c->number, err);
				break;
			case MVCC_CMP_VALUE:
				rc = get_bytes(r, e, "value", &c->value, &c->value_len, err);
				if (!c->value)
					c->value = "";
				break;
			}
			if (rc < 0)
				return rc;
		}
		t->compares = cs;
		t->ncompares = cnt;
	}
	if ((rc = parse_ops(r, fld(o, "success"), &t->success, &t->nsuccess, depth, budget,
			    err)) < 0 ||
	    (rc = parse_ops(r, fld(o, "failure"), &t->failure, &t->nfailure, depth, budget, err)) < 0)
		return rc;
	return 0;
}

static int parse_watch(struct gateway_request *r, const cJSON *o, struct kc_err *err)
{
	const cJSON *c = fld(o, "create_request");
	struct watch_create_req *w = &r->watch;
	int rc;
	if (!c || !cJSON_IsObject(c))
		return kc_err_set(err, -KC_EINVAL, "only create_request is supported on this stream");
	if ((rc = get_bytes(r, c, "key", &w->key, &w->key_len, err)) < 0 ||
	    (rc = get_bytes(r, c, "range_end", &w->range_end, &w->range_end_len, err)) < 0 ||
	    (rc = get_i64(c, "start_revision", &w->start_revision, err)) < 0 ||
	    (rc = get_bool(c, "progress_notify", &w->progress_notify, err)) < 0 ||
	    (rc = get_bool(c, "prev_kv", &w->prev_kv, err)) < 0)
		return rc;
	const cJSON *f = fld(c, "filters");
	if (f) {
		if (!cJSON_IsArray(f))
			return kc_err_set(err, -KC_EINVAL, "filters must be an array");
		const cJSON *e;
		cJSON_ArrayForEach(e, f) {
			int v = -1;
			if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble <= 1)
				v = (int)e->valuedouble;
			else if (cJSON_IsString(e))
				for (int i = 0; i < 2; i++)
					if (strcmp(e->valuestring, filter_names[i]) == 0)
						v = i;
			if (v == 0)
				w->no_put = true;
			else if (v == 1)
				w->no_delete = true;
			else
				return kc_err_set(err, -KC_EINVAL, "unknown watch filter");
		}
	}
	if (w->key_len == 0)
		return kc_err_set(err, -MVCC_EEMPTY_KEY, "%s", mvcc_strerror(-MVCC_EEMPTY_KEY));
	if (w->key_len > MVCC_KEY_MAX || w->range_end_len > MVCC_KEY_MAX)
		return kc_err_set(err, -KC_ELIMIT, "key or range_end longer than %u bytes",
				  MVCC_KEY_MAX);
	return 0;
}

static int parse_member_add(struct gateway_request *r, const cJSON *o, struct kc_err *err)
{
	const cJSON *u = fld(o, "peerURLs");
	int rc;
	if (!u)
		u = fld(o, "peer_urls");
	if (!u || !cJSON_IsArray(u) || cJSON_GetArraySize(u) == 0)
		return kc_err_set(err, -KC_EINVAL, "member add needs peerURLs");
	const cJSON *e;
	cJSON_ArrayForEach(e, u) {
		if (!cJSON_IsString(e) || !*e->valuestring || strlen(e->valuestring) > 1024)
			return kc_err_set(err, -KC_EINVAL, "bad peer URL");
		if (r->npeer_urls == GATEWAY_PEER_URLS_MAX)
			return kc_err_set(err, -KC_ELIMIT, "more than %d peer URLs",
					  GATEWAY_PEER_URLS_MAX);
		size_t n = strlen(e->valuestring) + 1;
		char *s = keep(r, n);
		memcpy(s, e->valuestring, n);
		r->peer_urls[r->npeer_urls++] = s;
	}
	if ((rc = get_bool(o, "is_learner", &r->learner, err)) < 0)
		return rc;
	const cJSON *name = fld(o, "name");
	if (name) {
		size_t n = cJSON_IsString(name) ? strlen(name->valuestring) : 0;
		if (n == 0 || n > 63)
			return kc_err_set(err, -KC_EINVAL, "bad member name");
		char *s = keep(r, n + 1);
		memcpy(s, name->valuestring, n + 1);
		r->member_name = s;
	}
	return 0;
}

int gateway_parse(enum gateway_kind kind, const char *body, size_t len,
		  struct gateway_request *out, struct kc_err *err)
{
	struct kc_json_limits lim = { .max_bytes = GATEWAY_BODY_MAX,
				      .max_depth = GATEWAY_JSON_DEPTH_MAX };
	cJSON *root = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	kc_str_init(&out->cmd);
	out->kind = kind;
	if (len == 0) {
		body = "{}";
		len = 2;
	}
	if ((rc = kc_json_parse(body, len, &lim, &root, err)) < 0)
		return rc;
	if (!cJSON_IsObject(root)) {
		rc = kc_err_set(err, -KC_EPARSE, "request body must be a JSON object");
		goto out_root;
	}
	switch (kind) {
	case GW_RANGE:
		rc = parse_range(out, root, &out->range, &out->serializable, err);
		break;
	case GW_PUT: {
		struct mvcc_put_req q;
		if ((rc = parse_put(out, root, &q, err)) == 0)
			rc = mvcc_cmd_encode_put(&out->cmd, &q, err);
		break;
	}
	case GW_DELETE: {
		struct mvcc_delete_req q;
		if ((rc = parse_delete(out, root, &q, err)) == 0)
			rc = mvcc_cmd_encode_delete(&out->cmd, &q, err);
		break;
	}
	case GW_TXN: {
		struct mvcc_txn_req t;
		size_t budget = MVCC_TXN_OPS_MAX;
		if ((rc = parse_txn(out, root, &t, 1, &budget, err)) == 0)
			rc = mvcc_cmd_encode_txn(&out->cmd, &t, err);
		break;
	}
	case GW_COMPACT: {
		int64_t rev;
		if ((rc = get_i64(root, "revision", &rev, err)) == 0 &&
		    (rc = get_bool(root, "physical", &out->physical, err)) == 0)
			rc = mvcc_cmd_encode_compact(&out->cmd, rev, err);
		break;
	}
	case GW_LEASE_GRANT: {
		if ((rc = get_i64(root, "TTL", &out->lease_ttl, err)) < 0 ||
		    (rc = get_i64(root, "ID", &out->lease_id, err)) < 0)
			break;
		if (out->lease_id < 0) {
			rc = kc_err_set(err, -KC_EINVAL, "lease ID must not be negative");
			break;
		}
		if (out->lease_ttl < 1)   /* etcd raises a TTL below its minimum */
			out->lease_ttl = 1;
		if (out->lease_ttl > 9000000000LL) {   /* etcd's MaxLeaseTTL */
			rc = kc_err_set(err, -KC_EINVAL, "etcdserver: too large lease TTL");
			break;
		}
		/* Validate now even when the server picks the id later. */
		bool explicit_id = out->lease_id > 0;
		rc = gateway_lease_grant_cmd(out, explicit_id ? out->lease_id : 1, err);
		if (rc == 0 && !explicit_id) {
			kc_str_reset(&out->cmd);
			out->lease_id = 0;
		}
		break;
	}
	case GW_LEASE_REVOKE:
		if ((rc = get_i64(root, "ID", &out->lease_id, err)) == 0)
			rc = mvcc_cmd_encode_lease_revoke(&out->cmd, out->lease_id, err);
		break;
	case GW_LEASE_KEEPALIVE:
		rc = get_i64(root, "ID", &out->lease_id, err);
		break;
	case GW_LEASE_TTL:
		if ((rc = get_i64(root, "ID", &out->lease_id, err)) == 0)
			rc = get_bool(root, "keys", &out->lease_keys, err);
		break;
	case GW_WATCH:
		rc = parse_watch(out, root, err);
		break;
	case GW_STATUS:
	case GW_MEMBER_LIST:
	case GW_SNAPSHOT:
		rc = 0;
		break;
	case GW_MEMBER_ADD:
		rc = parse_member_add(out, root, err);
		break;
	case GW_MEMBER_REMOVE:
	case GW_MEMBER_PROMOTE:
		rc = get_u64(root, "ID", &out->member_id, err);
		break;
	default:
		rc = kc_err_set(err, -KC_EINVAL, "unknown gateway call");
		break;
	}
out_root:
	cJSON_Delete(root);
	if (rc < 0)
		gateway_request_free(out);
	return rc;
}

int gateway_lease_grant_cmd(struct gateway_request *req, int64_t id, struct kc_err *err)
{
	req->lease_id = id;
	kc_str_reset(&req->cmd);
	return mvcc_cmd_encode_lease_grant(&req->cmd, id, req->lease_ttl, err);
}

void gateway_request_free(struct gateway_request *req)
{
	if (!req)
		return;
	for (size_t i = 0; i < req->nblocks; i++)
		free(req->blocks[i]);
	free(req->blocks);
	kc_str_free(&req->cmd);
	enum gateway_kind k = req->kind;
	memset(req, 0, sizeof(*req));
	kc_str_init(&req->cmd);
	req->kind = k;
}

static const struct {
	const char *path;
	enum gateway_kind kind;
} paths[] = {
	{ "/v3/kv/range", GW_RANGE },
	{ "/v3/kv/put", GW_PUT },
	{ "/v3/kv/deleterange", GW_DELETE },
	{ "/v3/kv/txn", GW_TXN },
	{ "/v3/kv/compaction", GW_COMPACT },
	{ "/v3/watch", GW_WATCH },
	{ "/v3/lease/grant", GW_LEASE_GRANT },
	{ "/v3/lease/revoke", GW_LEASE_REVOKE },
	{ "/v3/lease/keepalive", GW_LEASE_KEEPALIVE },
	{ "/v3/lease/timetolive", GW_LEASE_TTL },
	{ "/v3/kv/lease/grant", GW_LEASE_GRANT },
	{ "/v3/kv/lease/revoke", GW_LEASE_REVOKE },
	{ "/v3/kv/lease/keepalive", GW_LEASE_KEEPALIVE },
	{ "/v3/kv/lease/timetolive", GW_LEASE_TTL },
	{ "/v3/maintenance/status", GW_STATUS },
	{ "/v3/maintenance/snapshot", GW_SNAPSHOT },
	{ "/v3/cluster/member/list", GW_MEMBER_LIST },
	{ "/v3/cluster/member/add", GW_MEMBER_ADD },
	{ "/v3/cluster/member/remove", GW_MEMBER_REMOVE },
	{ "/v3/cluster/member/promote", GW_MEMBER_PROMOTE },
};

enum gateway_kind gateway_kind_of_path(const char *path)
{
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strcmp(paths[i].path, path) == 0)
			return paths[i].kind;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Output helpers. 'first' tracks whether a comma is due inside the current object. */

static void key(struct kc_str *o, bool *first, const char *name)
{
	if (!*first)
		kc_str_addc(o, ',');
	*first = false;
	kc_str_addc(o, '"');
	kc_str_adds(o, name);
	kc_str_adds(o, "\":");
}

static void put_i64(struct kc_str *o, bool *first, const char *name, int64_t v)
{
	if (v == 0)
		return;
	key(o, first, name);
	kc_str_addf(o, "\"%" PRId64 "\"", v);
}

static void put_u64(struct kc_str *o, bool *first, const char *name, uint64_t v)
{
	if (v == 0)
		return;
	key(o, first, name);
	kc_str_addf(o, "\"%" PRIu64 "\"", v);
}

static void put_true(struct kc_str *o, bool *first, const char *name, bool v)
{
	if (!v)
		return;
	key(o, first, name);
	kc_str_adds(o, "true");
}

static void put_b64(struct kc_str *o, bool *first, const char *name, const void *p, size_t n)
{
	if (n == 0)
		return;
	key(o, first, name);
	kc_str_addc(o, '"');
	kc_base64_encode(o, p, n, KC_B64_STD);
	kc_str_addc(o, '"');
}

static void put_str(struct kc_str *o, bool *first, const char *name, const char *s)
{
	if (!s || !*s)
		return;
	key(o, first, name);
	kc_json_write_string(o, s);
}

static void put_strs(struct kc_str *o, bool *first, const char *name, const char *const *v,
		     size_t n)
{
	if (n == 0)
		return;
	key(o, first, name);
	kc_str_addc(o, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			kc_str_addc(o, ',');
		kc_json_write_string(o, v[i] ? v[i] : "");
	}
	kc_str_addc(o, ']');
}

static void write_header(struct kc_str *o, bool *first, const struct gateway_header *h)
{
	key(o, first, "header");
	bool f = true;
	kc_str_addc(o, '{');
	put_u64(o, &f, "cluster_id", h->cluster_id);
	put_u64(o, &f, "member_id", h->member_id);
	put_i64(o, &f, "revision", h->revision);
	put_u64(o, &f, "raft_term", h->raft_term);
	kc_str_addc(o, '}');
}

void gateway_write_kv(struct kc_str *o, const struct mvcc_kv *kv)
{
	bool f = true;
	kc_str_addc(o, '{');
	put_b64(o, &f, "key", kv->key, kv->key_len);
	put_i64(o, &f, "create_revision", kv->create_revision);
	put_i64(o, &f, "mod_revision", kv->mod_revision);
	put_i64(o, &f, "version", kv->version);
	put_b64(o, &f, "value", kv->value, kv->value_len);
	put_i64(o, &f, "lease", kv->lease);
	kc_str_addc(o, '}');
}

static void put_kvs(struct kc_str *o, bool *first, const char *name, const struct mvcc_kv *kvs,
		    size_t n)
{
	if (n == 0)
		return;
	key(o, first, name);
	kc_str_addc(o, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			kc_str_addc(o, ',');
		gateway_write_kv(o, &kvs[i]);
	}
	kc_str_addc(o, ']');
}

static void range_body(struct kc_str *o, bool *f, const struct mvcc_range_resp *r)
{
	put_kvs(o, f, "kvs", r->kvs, r->nkvs);
	put_true(o, f, "more", r->more);
	put_i64(o, f, "count", r->count);
}

static void put_body(struct kc_str *o, bool *f, const struct mvcc_put_resp *r)
{
	if (r->has_prev) {
		key(o, f, "prev_kv");
		gateway_write_kv(o, &r->prev_kv);
	}
}

static void delete_body(struct kc_str *o, bool *f, const struct mvcc_delete_resp *r)
{
	put_i64(o, f, "deleted", r->deleted);
	put_kvs(o, f, "prev_kvs", r->prev_kvs, r->nprev);
}

static void txn_body(struct kc_str *o, bool *f, const struct mvcc_txn_resp *t, int64_t rev)
{
	put_true(o, f, "succeeded", t->succeeded);
	if (t->nresponses == 0)
		return;
	struct gateway_header inner = { .revision = rev };
	key(o, f, "responses");
	kc_str_addc(o, '[');
	for (size_t i = 0; i < t->nresponses; i++) {
		const struct mvcc_op_resp *r = &t->responses[i];
		static const char *const names[] = { "", "response_range", "response_put",
						      "response_delete_range", "response_txn" };
		bool f1 = true, f2 = true;
		if (i)
			kc_str_addc(o, ',');
		kc_str_addc(o, '{');
		key(o, &f1, r->type >= 1 && r->type <= 4 ? names[r->type] : "response_range");
		kc_str_addc(o, '{');
		write_header(o, &f2, &inner);
		switch (r->type) {
		case MVCC_OP_RANGE:
			range_body(o, &f2, &r->u.range);
			break;
		case MVCC_OP_PUT:
			put_body(o, &f2, &r->u.put);
			break;
		case MVCC_OP_DELETE:
			delete_body(o, &f2, &r->u.del);
			break;
		case MVCC_OP_TXN:
			txn_body(o, &f2, &r->u.txn, rev);
			break;
		}
		kc_str_adds(o, "}}");
	}
	kc_str_addc(o, ']');
}

void gateway_write_result(struct kc_str *o, const struct gateway_header *h,
			  const struct mvcc_result *r)
{
	bool f = true;
	kc_str_addc(o, '{');
	write_header(o, &f, h);
	switch (r->type) {
	case MVCC_CMD_PUT:
		put_body(o, &f, &r->u.put);
		break;
	case MVCC_CMD_DELETE:
		delete_body(o, &f, &r->u.del);
		break;
	case MVCC_CMD_TXN:
		txn_body(o, &f, &r->u.txn, h->revision);
		break;
	case MVCC_CMD_LEASE_GRANT:
		put_i64(o, &f, "ID", r->u.lease_grant.id);
		put_i64(o, &f, "TTL", r->u.lease_grant.ttl);
		break;
	default:
		break;
	}
	kc_str_addc(o, '}');
}

void gateway_write_range(struct kc_str *o, const struct gateway_header *h,
			 const struct mvcc_range_resp *r)
{
	bool f = true;
	kc_str_addc(o, '{');
	write_header(o, &f, h);
	range_body(o, &f, r);
	kc_str_addc(o, '}');
}

void gateway_write_keepalive(struct kc_str *o, const struct gateway_header *h, int64_t id,
			     int64_t ttl)
{
	bool f = true;
	kc_str_adds(o, "{\"result\":{");
	write_header(o, &f, h);
	put_i64(o, &f, "ID", id);
	put_i64(o, &f, "TTL", ttl);
	kc_str_adds(o, "}}");
}

void gateway_write_lease_ttl(struct kc_str *o, const struct gateway_header *h, int64_t id,
			     int64_t ttl, int64_t granted_ttl, const struct mvcc_range_resp *keys)
{
	bool f = true;
	kc_str_addc(o, '{');
	write_header(o, &f, h);
	put_i64(o, &f, "ID", id);
	put_i64(o, &f, "TTL", ttl);
	put_i64(o, &f, "grantedTTL", granted_ttl);
	if (keys && keys->nkvs) {
		key(o, &f, "keys");
		kc_str_addc(o, '[');
		for (size_t i = 0; i < keys->nkvs; i++) {
			if (i)
				kc_str_addc(o, ',');
			kc_str_addc(o, '"');
			kc_base64_encode(o, keys->kvs[i].key, keys->kvs[i].key_len, KC_B64_STD);
			kc_str_addc(o, '"');
		}
		kc_str_addc(o, ']');
	}
	kc_str_addc(o, '}');
}

void gateway_write_status(struct kc_str *o, const struct gateway_header *h,
			  const struct gateway_status *s)
{
	bool f = true;
	kc_str_addc(o, '{');
	write_header(o, &f, h);
	put_str(o, &f, "version", s->version);
	put_i64(o, &f, "dbSize", s->db_size);
	put_u64(o, &f, "leader", s->leader);
	put_u64(o, &f, "raftIndex", s->raft_index);
	put_u64(o, &f, "raftTerm", s->raft_term);
	put_u64(o, &f, "raftAppliedIndex", s->raft_applied_index);
	put_strs(o, &f, "errors", s->errors, s->nerrors);
	put_i64(o, &f, "dbSizeInUse", s->db_size_in_use);
	put_true(o, &f, "isLearner", s->learner);
	kc_str_addc(o, '}');
}

static void write_member(struct kc_str *o, const struct gateway_member *m)
{
	bool f = true;
	kc_str_addc(o, '{');
	put_u64(o, &f, "ID", m->id);
	put_str(o, &f, "name", m->name);
	put_strs(o, &f, "peerURLs", m->peer_urls, m->npeer_urls);
	put_strs(o, &f, "clientURLs", m->client_urls, m->nclient_urls);
	put_true(o, &f, "isLearner", m->learner);
	kc_str_addc(o, '}');
}

void gateway_write_members(struct kc_str *o, const struct gateway_header *h,
			   const struct gateway_member *member, const struct gateway_member *members,
			   size_t nmembers)
{
	bool f = true;
	kc_str_addc(o, '{');
	write_header(o, &f, h);
	if (member) {
		key(o, &f, "member");
		write_member(o, member);
	}
	if (nmembers) {
		key(o, &f, "members");
		kc_str_addc(o, '[');
		for (size_t i = 0; i < nmembers; i++) {
			if (i)
				kc_str_addc(o, ',');
			write_member(o, &members[i]);
		}
		kc_str_addc(o, ']');
	}
	kc_str_addc(o, '}');
}

void gateway_write_watch(struct kc_str *o, const struct gateway_header *h, int64_t watch_id,
			 bool created, const struct watch_resp *resp)
{
	bool f = true;
	struct gateway_header hh = *h;
	bool canceled = resp && resp->kind == WATCH_RESP_CANCELED;
	if (canceled)
		hh.revision = 0;   /* etcd's cancel response carries no revision */
	else if (resp && resp->revision > 0)
		hh.revision = resp->revision;
	kc_str_adds(o, "{\"result\":{");
	write_header(o, &f, &hh);
	put_i64(o, &f, "watch_id", watch_id);
	put_true(o, &f, "created", created);
	if (canceled) {
		put_true(o, &f, "canceled", true);
		put_i64(o, &f, "compact_revision", resp->compact_revision);
		if (resp->compact_revision == 0)   /* etcd gives no reason for compaction */
			put_str(o, &f, "cancel_reason", resp->cancel_reason);
	}
	if (resp && resp->kind == WATCH_RESP_EVENTS && resp->nevents) {
		key(o, &f, "events");
		kc_str_addc(o, '[');
		for (size_t i = 0; i < resp->nevents; i++) {
			const struct watch_event *e = &resp->events[i];
			bool f2 = true;
			if (i)
				kc_str_addc(o, ',');
			kc_str_addc(o, '{');
			if (e->type == MVCC_EVENT_DELETE) {
				key(o, &f2, "type");
				kc_str_adds(o, "\"DELETE\"");
			}
			if (e->kv) {
				key(o, &f2, "kv");
				gateway_write_kv(o, e->kv);
			}
			if (e->prev_kv) {
				key(o, &f2, "prev_kv");
				gateway_write_kv(o, e->prev_kv);
			}
			kc_str_addc(o, '}');
		}
		kc_str_addc(o, ']');
	}
	kc_str_adds(o, "}}");
}

/* ---------------------------------------------------------------------------------------------
 * Errors */

enum gateway_grpc_code gateway_grpc_code(int code)
{
	switch (-code) {
	case 0:
		return GRPC_OK;
	case MVCC_ECOMPACTED:
	case MVCC_EFUTURE_REV:
		return GRPC_OUT_OF_RANGE;
	case MVCC_ELEASE_NOT_FOUND:
	case KC_ENOTFOUND:
		return GRPC_NOT_FOUND;
	case MVCC_ELEASE_EXISTS:
	case KC_EEXIST:
	case KC_ECONFLICT:
		return GRPC_FAILED_PRECONDITION;
	case MVCC_EKEY_NOT_FOUND:
	case MVCC_EDUP_KEY:
	case MVCC_EEMPTY_KEY:
	case MVCC_ETOO_MANY_OPS:
	case MVCC_EVALUE_PROVIDED:
	case MVCC_ELEASE_PROVIDED:
	case KC_EINVAL:
	case KC_EPARSE:
	case KC_ELIMIT:
	case KC_ETOOBIG:
		return GRPC_INVALID_ARGUMENT;
	case MVCC_EFOREIGN:
	case MVCC_ECORRUPT:
		return GRPC_DATA_LOSS;
	case KC_EUNAVAIL:
	case KC_ETIMEDOUT:
	case KC_EAGAIN:
		return GRPC_UNAVAILABLE;
	case KC_EUNSUPPORTED:
		return GRPC_UNIMPLEMENTED;
	case KC_ECLOSED:
		return GRPC_CANCELED;
	case ENOSPC:
		return GRPC_RESOURCE_EXHAUSTED;
	default:
		return GRPC_UNKNOWN;
	}
}

int gateway_http_status(enum gateway_grpc_code code)
{
	static const int map[] = { 200, 408, 500, 400, 504, 404, 409, 403,
				   429, 412, 409, 400, 501, 500, 503, 500, 401 };
	if ((unsigned)code < sizeof(map) / sizeof(map[0]))
		return map[code];
	return 500;
}

int gateway_error_json(struct kc_str *o, int code, const char *msg)
{
	char buf[KC_ERRMSG_MAX + 32];
	enum gateway_grpc_code g = gateway_grpc_code(code);
	/* Clients match etcd's texts (Kubernetes does): the store's codes always get them. */
	if (-code >= MVCC_ECOMPACTED && -code <= MVCC_ELEASE_PROVIDED)
		msg = NULL;
	if (!msg || !*msg) {
		switch (-code) {
		case KC_EUNAVAIL:
			msg = "etcdserver: no leader";
			break;
		case KC_ETIMEDOUT:
			msg = "etcdserver: request timed out";
			break;
		case ENOSPC:
			msg = "etcdserver: mvcc: database space exceeded";
			break;
		default:
			msg = mvcc_strerror(code);
			break;
		}
	}
	if (strncmp(msg, "mvcc: ", 6) == 0) {
		snprintf(buf, sizeof(buf), "etcdserver: %s", msg);
		msg = buf;
	}
	kc_str_adds(o, "{\"error\":");
	kc_json_write_string(o, msg);
	kc_str_adds(o, ",\"message\":");
	kc_json_write_string(o, msg);
	kc_str_addf(o, ",\"code\":%d}", (int)g);
	return gateway_http_status(g);
}

/* ---------------------------------------------------------------------------------------------
 * Serving */

struct route {
	struct gateway *g;
	enum gateway_kind kind;
};

struct snap_ctx;

struct gateway {
	struct gateway_backend be;
	struct route routes[sizeof(paths) / sizeof(paths[0])];
	struct kc_list snaps; /* snapshot streams alive (the HTTP loop's thread) */
};

struct call_ctx {
	struct http_req *req;
	enum gateway_kind kind;
};

static void respond_json(struct http_req *req, int status, struct kc_str *body)
{
	http_respond(req, status, "application/json", body->buf, body->len);
	kc_str_free(body);
}

static void respond_error(struct http_req *req, int code, const char *msg)
{
	struct kc_str o;
	kc_str_init(&o);
	int status = gateway_error_json(&o, code, msg);
	respond_json(req, status, &o);
}

static void on_reply(const struct gateway_reply *rep, void *arg)
{
	struct call_ctx *c = arg;
	struct http_req *req = c->req;
	enum gateway_kind kind = c->kind;
	struct kc_str o;
	free(c);
	if (rep->rc < 0 && !(kind == GW_LEASE_KEEPALIVE && rep->rc == -MVCC_ELEASE_NOT_FOUND)) {
		respond_error(req, rep->rc, rep->msg);
		return;
	}
	if (rep->result && rep->result->err.code < 0) {
		respond_error(req, rep->result->err.code, rep->result->err.msg[0] ?
			      rep->result->err.msg : NULL);
		return;
	}
	kc_str_init(&o);
	switch (kind) {
	case GW_RANGE: {
		struct mvcc_range_resp empty = { 0 };
		gateway_write_range(&o, &rep->header, rep->range ? rep->range : &empty);
		break;
	}
	case GW_PUT:
	case GW_DELETE:
	case GW_TXN:
	case GW_COMPACT:
	case GW_LEASE_GRANT:
	case GW_LEASE_REVOKE:
		if (rep->result) {
			gateway_write_result(&o, &rep->header, rep->result);
		} else {
			struct mvcc_result empty = { 0 };
			gateway_write_result(&o, &rep->header, &empty);
		}
		break;
	case GW_LEASE_KEEPALIVE:
		gateway_write_keepalive(&o, &rep->header, rep->lease_id,
					rep->rc < 0 ? 0 : rep->lease_ttl);
		kc_str_addc(&o, '\n');
		break;
	case GW_LEASE_TTL:
		gateway_write_lease_ttl(&o, &rep->header, rep->lease_id, rep->lease_ttl,
					rep->lease_granted_ttl, rep->range);
		break;
	case GW_STATUS: {
		struct gateway_status empty = { 0 };
		gateway_write_status(&o, &rep->header, rep->status ? rep->status : &empty);
		break;
	}
	case GW_MEMBER_LIST:
	case GW_MEMBER_ADD:
	case GW_MEMBER_REMOVE:
	case GW_MEMBER_PROMOTE:
		gateway_write_members(&o, &rep->header, rep->member, rep->members, rep->nmembers);
		break;
	default:
		break;
	}
	respond_json(req, 200, &o);
}

struct watch_ctx {
	struct gateway *g;
	struct http_req *req;
	void *handle;
	bool starting;   /* inside watch_start: the handle is not known yet */
	bool dead;       /* the backend ended the watch (no watch_stop) */
	bool ended;      /* the stream is finished */
};

static void watch_end(struct watch_ctx *w)
{
	if (w->ended)
		return;
	w->ended = true;
	http_stream_end(w->req);
	if (!w->starting)
		free(w);
}

static void on_watch(int rc, const struct gateway_header *h, int64_t watch_id, bool created,
		     const struct watch_resp *resp, void *arg)
{
	struct watch_ctx *w = arg;
	struct kc_str o;
	if (w->ended)
		return;
	kc_str_init(&o);
	if (rc < 0) {
		w->dead = true;
		gateway_error_json(&o, rc, NULL);
	} else {
		gateway_write_watch(&o, h, watch_id, created, resp);
		if (resp && resp->kind == WATCH_RESP_CANCELED)
			w->dead = true;
	}
	kc_str_addc(&o, '\n');
	int wr = http_stream_write(w->req, o.buf, o.len);
	kc_str_free(&o);
	if (w->dead) {
		watch_end(w);
	} else if (wr < 0) {
		/* The client is gone or too slow: on_close follows and stops the watch. */
	}
}

static void on_watch_close(struct http_req *req, void *arg)
{
	struct watch_ctx *w = arg;
	(void)req;
	if (w->ended)
		return;
	if (!w->dead && w->handle) {
		w->g->be.watch_stop(w->g->be.impl, w->handle);
		w->dead = true;
	}
	watch_end(w);
}

static void serve_watch(struct gateway *g, struct http_req *req, struct gateway_request *gr)
{
	struct watch_ctx *w = xcalloc(1, sizeof(*w));
	w->g = g;
	w->req = req;
	http_req_long_running(req);
	http_stream_begin(req, 200, "application/json");
	http_req_notify(req, NULL, on_watch_close, w);
	w->starting = true;
	w->handle = g->be.watch_start(g->be.impl, http_req_loop(req), &gr->watch, on_watch, w);
	w->starting = false;
	if (!w->handle)
		w->dead = true;
	if (w->ended) {
		free(w);
	} else if (w->dead) {
		watch_end(w);
	} else if (http_req_gone(req)) {
		on_watch_close(req, w);
	}
}

/* ---- /v3/maintenance/snapshot ----
 * A thread of its own makes the copy (VACUUM INTO: seconds for a large database, so not on the
 * HTTP loop); the loop polls for it, then streams the file in GATEWAY_SNAPSHOT_CHUNK pieces with
 * back-pressure (at most SNAP_BURST chunks per turn, more on drain), never holding the whole
 * database in memory. Invariant: a snap_ctx is in g->snaps until freed; its thread is joined
 * before that; req is NULL once the stream was ended (client gone or server closing). */
#define SNAP_POLL_MS 20
#define SNAP_BURST 8

struct snap_ctx {
	struct kc_list link;
	struct gateway *g;
	struct http_req *req;
	struct loop *loop;
	struct loop_timer timer;
	pthread_t thread;
	bool joined;
	atomic_bool done;   /* the thread finished: rc, path, err are set */
	int rc;
	char *path;
	struct kc_err err;
	int fd;
	uint64_t size, sent;
	struct kc_sha256 sha;
};

static void *snap_thread(void *arg)
{
	struct snap_ctx *c = arg;
	c->rc = c->g->be.snapshot(c->g->be.impl, &c->path, &c->err);
	atomic_store(&c->done, true);
	return NULL;
}

static void snap_free(struct snap_ctx *c)
{
	loop_timer_stop(c->loop, &c->timer);
	if (!c->joined)
		pthread_join(c->thread, NULL);
	if (c->fd >= 0)
		close(c->fd);
	if (c->path) {
		unlink(c->path);
		free(c->path);
	}
	kc_list_del(&c->link);
	free(c);
}

static void snap_end(struct snap_ctx *c)
{
	if (c->req)
		http_stream_end(c->req);
	c->req = NULL;
	if (atomic_load(&c->done))
		snap_free(c);
	else
		loop_timer_start(c->loop, &c->timer, SNAP_POLL_MS); /* freed once the copy is done */
}

static void snap_write(struct snap_ctx *c, const uint8_t *blob, size_t n, uint64_t remaining,
		       int *wr)
{
	struct kc_str o;
	kc_str_init(&o);
	kc_str_addf(&o, "{\"result\":{\"remaining_bytes\":\"%" PRIu64 "\",\"blob\":\"", remaining);
	kc_base64_encode(&o, blob, n, KC_B64_STD);
	kc_str_adds(&o, "\"}}\n");
	*wr = http_stream_write(c->req, o.buf, o.len);
	kc_str_free(&o);
}

static void snap_pump(struct snap_ctx *c)
{
	uint8_t *buf = xmalloc(GATEWAY_SNAPSHOT_CHUNK);
	int wr = 0;
	for (int i = 0; i < SNAP_BURST && wr == 0 && c->sent < c->size; i++) {
		size_t want = c->size - c->sent < GATEWAY_SNAPSHOT_CHUNK
				      ? (size_t)(c->size - c->sent)
				      : GATEWAY_SNAPSHOT_CHUNK;
		ssize_t n = pread(c->fd, buf, want, (off_t)c->sent);
		if (n <= 0) {
			log_warn("snapshot stream: reading %s: %s", c->path,
				 n < 0 ? strerror(errno) : "file shrank");
			free(buf);
			http_req_abort(c->req); /* the client sees a truncated stream */
			c->req = NULL;
			snap_end(c);
			return;
		}
		kc_sha256_update(&c->sha, buf, (size_t)n);
		c->sent += (uint64_t)n;
		snap_write(c, buf, (size_t)n, c->size - c->sent, &wr);
	}
	free(buf);
	if (wr < 0) {
		snap_end(c);
		return;
	}
	if (c->sent == c->size) {
		uint8_t sum[KC_SHA256_LEN];
		kc_sha256_final(&c->sha, sum);
		snap_write(c, sum, sizeof sum, 0, &wr);
		snap_end(c);
		return;
	}
	if (wr == 0) /* not congested: go on after other work on this loop */
		loop_timer_start(c->loop, &c->timer, 0);
	/* else on_drain resumes */
}

static void snap_drain(struct http_req *req, void *arg)
{
	struct snap_ctx *c = arg;
	(void)req;
	if (c->req && c->fd >= 0 && !loop_timer_active(&c->timer))
		snap_pump(c);
}

static void snap_close(struct http_req *req, void *arg)
{
	struct snap_ctx *c = arg;
	(void)req;
	if (c->req)
		snap_end(c);
}

static void snap_tick(struct loop *l, struct loop_timer *t)
{
	(void)l;
	struct snap_ctx *c = t->data;
	if (!atomic_load(&c->done)) {
		loop_timer_start(c->loop, &c->timer, SNAP_POLL_MS);
		return;
	}
	if (!c->joined) {
		pthread_join(c->thread, NULL);
		c->joined = true;
	}
	if (!c->req) {
		snap_free(c);
		return;
	}
	if (c->fd < 0) {
		struct stat st;
		if (c->rc == 0 && ((c->fd = open(c->path, O_RDONLY | O_CLOEXEC)) < 0 ||
				   fstat(c->fd, &st) < 0))
			c->rc = kc_err_set(&c->err, -errno, "snapshot: %s", strerror(errno));
		if (c->rc < 0) {
			struct kc_str o;
			kc_str_init(&o);
			gateway_error_json(&o, c->rc, c->err.msg);
			kc_str_addc(&o, '\n');
			http_stream_write(c->req, o.buf, o.len);
			kc_str_free(&o);
			snap_end(c);
			return;
		}
		c->size = (uint64_t)st.st_size;
		kc_sha256_init(&c->sha);
		log_info("snapshot stream: sending %" PRIu64 " bytes peer=%s", c->size,
			 http_req_peer_str(c->req));
	}
	snap_pump(c);
}

static void serve_snapshot(struct gateway *g, struct http_req *req)
{
	if (!g->be.snapshot) {
		respond_error(req, -KC_EUNSUPPORTED, "snapshot is not supported here");
		return;
	}
	struct snap_ctx *c = xcalloc(1, sizeof *c);
	c->g = g;
	c->req = req;
	c->loop = http_req_loop(req);
	c->fd = -1;
	atomic_init(&c->done, false);
	loop_timer_init(&c->timer, snap_tick, c);
	if (pthread_create(&c->thread, NULL, snap_thread, c) != 0) {
		free(c);
		respond_error(req, -KC_EAGAIN, "cannot start a snapshot thread");
		return;
	}
	kc_list_push_back(&g->snaps, &c->link);
	http_req_long_running(req);
	http_stream_begin(req, 200, "application/json");
	http_req_notify(req, snap_drain, snap_close, c);
	loop_timer_start(c->loop, &c->timer, SNAP_POLL_MS);
	if (http_req_gone(req))
		snap_close(req, c);
}

static void serve(struct http_req *req, void *arg)
{
	struct route *rt = arg;
	struct gateway *g = rt->g;
	struct gateway_request gr;
	struct kc_err err = { 0 };
	int rc;
	if (req->body_len > GATEWAY_BODY_MAX) {
		respond_error(req, -KC_ETOOBIG, "etcdserver: request is too large");
		return;
	}
	if ((rc = gateway_parse(rt->kind, req->body, req->body_len, &gr, &err)) < 0) {
		respond_error(req, rc, err.msg);
		return;
	}
	if (rt->kind == GW_WATCH) {
		serve_watch(g, req, &gr);
	} else if (rt->kind == GW_SNAPSHOT) {
		serve_snapshot(g, req);
	} else {
		struct call_ctx *c = xmalloc(sizeof(*c));
		c->req = req;
		c->kind = rt->kind;
		g->be.call(g->be.impl, http_req_loop(req), &gr, on_reply, c);
	}
	gateway_request_free(&gr);
}

int gateway_register(struct router *r, const struct gateway_backend *be, struct gateway **out,
		     struct kc_err *err)
{
	struct gateway *g = xcalloc(1, sizeof(*g));
	g->be = *be;
	kc_list_init(&g->snaps);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		g->routes[i].g = g;
		g->routes[i].kind = paths[i].kind;
		int rc = router_add(r, "POST", paths[i].path, serve, &g->routes[i], err);
		if (rc < 0) {
			*out = g;   /* routes already added point into g */
			return rc;
		}
	}
	*out = g;
	return 0;
}

void gateway_free(struct gateway *g)
{
	if (!g)
		return;
	/* The servers are closed (every stream ended); copies still running are waited for. */
	struct kc_list *it;
	while ((it = kc_list_first(&g->snaps)))
		snap_free(kc_container_of(it, struct snap_ctx, link));
	free(g);
}
