/* test_remote.c - the etcd gateway client of store/remote.c, by round trips through the
 * gateway's own server-side code (store/gateway.c): every command the client encodes must parse
 * back into the very same command bytes, and every answer the gateway writes (from real results
 * of an in-memory mvcc) must decode into the same result structs. Plus etcd's error texts, watch
 * stream messages (events with prev_kv, created, progress, compacted) and bad input. The live
 * path (HTTP, retries, watch streams) runs in test_registry's second group and t_master.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/str.h"
#include "store/gateway.h"
#include "store/mvcc.h"
#include "store/remote.h"

static struct mvcc *M;
static uint64_t IDX;

static int setup(void **state)
{
	(void)state;
	struct mvcc_options o = {
		.path = ":memory:", .cluster_id = 7, .member_id = 9, .sync = MVCC_SYNC_OFF};
	struct kc_err err = {0};
	assert_int_equal(mvcc_open(&o, &M, &err), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mvcc_close(M);
	return 0;
}

/* cmd -> JSON (client) -> gateway_parse (server) -> cmd bytes: identical. */
static void roundtrip_cmd(const struct kc_str *cmd, enum gateway_kind kind, const char *want_path)
{
	struct kc_str body = KC_STR_INIT;
	struct kc_err err = {0};
	const char *path = NULL;
	enum mvcc_cmd_type type;
	assert_int_equal(remote_cmd_to_json(cmd->buf, cmd->len, &path, &type, &body, &err), 0);
	assert_string_equal(path, want_path);
	assert_int_equal(gateway_kind_of_path(path), kind);
	struct gateway_request r;
	if (gateway_parse(kind, body.buf, body.len, &r, &err) < 0)
		fail_msg("gateway_parse %s: %s", body.buf, err.msg);
	assert_int_equal(r.cmd.len, cmd->len);
	assert_memory_equal(r.cmd.buf, cmd->buf, cmd->len);
	gateway_request_free(&r);
	kc_str_free(&body);
}

static void kv_equal(const struct mvcc_kv *a, const struct mvcc_kv *b)
{
	assert_int_equal(a->key_len, b->key_len);
	assert_memory_equal(a->key, b->key, a->key_len);
	assert_int_equal(a->value_len, b->value_len);
	assert_memory_equal(a->value, b->value, a->value_len);
	assert_int_equal(a->value[a->value_len], 0);
	assert_int_equal(a->create_revision, b->create_revision);
	assert_int_equal(a->mod_revision, b->mod_revision);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->lease, b->lease);
}

static void range_equal(const struct mvcc_range_resp *a, const struct mvcc_range_resp *b)
{
	assert_int_equal(a->revision, b->revision);
	assert_int_equal(a->nkvs, b->nkvs);
	assert_int_equal(a->more, b->more);
	assert_int_equal(a->count, b->count);
	for (size_t i = 0; i < a->nkvs; i++)
		kv_equal(&a->kvs[i], &b->kvs[i]);
}

static void txn_equal(const struct mvcc_txn_resp *a, const struct mvcc_txn_resp *b);

static void op_equal(const struct mvcc_op_resp *a, const struct mvcc_op_resp *b, int64_t rev)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case MVCC_OP_RANGE: {
		/* the gateway gives inner responses the txn's revision */
		struct mvcc_range_resp x = a->u.range;
		x.revision = rev;
		range_equal(&x, &b->u.range);
		break;
	}
	case MVCC_OP_PUT:
		assert_int_equal(a->u.put.has_prev, b->u.put.has_prev);
		if (a->u.put.has_prev)
			kv_equal(&a->u.put.prev_kv, &b->u.put.prev_kv);
		break;
	case MVCC_OP_DELETE:
		assert_int_equal(a->u.del.deleted, b->u.del.deleted);
		assert_int_equal(a->u.del.nprev, b->u.del.nprev);
		for (size_t i = 0; i < a->u.del.nprev; i++)
			kv_equal(&a->u.del.prev_kvs[i], &b->u.del.prev_kvs[i]);
		break;
	case MVCC_OP_TXN:
		txn_equal(&a->u.txn, &b->u.txn);
		break;
	}
}

static int64_t TXN_REV;

static void txn_equal(const struct mvcc_txn_resp *a, const struct mvcc_txn_resp *b)
{
	assert_int_equal(a->succeeded, b->succeeded);
	assert_int_equal(a->nresponses, b->nresponses);
	for (size_t i = 0; i < a->nresponses; i++)
		op_equal(&a->responses[i], &b->responses[i], TXN_REV);
}

/* Applies cmd, writes the result as the gateway does, parses it back: the same result. */
static void apply_and_compare(const struct kc_str *cmd, struct mvcc_events *evs)
{
	struct mvcc_result res, back;
	struct kc_err err = {0};
	assert_int_equal(mvcc_apply(M, ++IDX, cmd->buf, cmd->len, &res, evs, &err), 0);
	assert_int_equal(res.err.code, 0);
	struct gateway_header h = {
		.cluster_id = 7, .member_id = 9, .revision = res.revision, .raft_term = 2};
	struct kc_str out = KC_STR_INIT;
	gateway_write_result(&out, &h, &res);
	if (remote_parse_result(res.type, out.buf, out.len, &back, &err) < 0)
		fail_msg("remote_parse_result %s: %s", out.buf, err.msg);
	assert_int_equal(back.type, res.type);
	assert_int_equal(back.revision, res.revision);
	TXN_REV = res.revision;
	switch (res.type) {
	case MVCC_CMD_PUT: {
		struct mvcc_op_resp a = {.type = MVCC_OP_PUT, .u.put = res.u.put};
		struct mvcc_op_resp b = {.type = MVCC_OP_PUT, .u.put = back.u.put};
		op_equal(&a, &b, 0);
		break;
	}
	case MVCC_CMD_DELETE: {
		struct mvcc_op_resp a = {.type = MVCC_OP_DELETE, .u.del = res.u.del};
		struct mvcc_op_resp b = {.type = MVCC_OP_DELETE, .u.del = back.u.del};
		op_equal(&a, &b, 0);
		break;
	}
	case MVCC_CMD_TXN:
		txn_equal(&res.u.txn, &back.u.txn);
		break;
	case MVCC_CMD_LEASE_GRANT:
		assert_int_equal(back.u.lease_grant.id, res.u.lease_grant.id);
		assert_int_equal(back.u.lease_grant.ttl, res.u.lease_grant.ttl);
		break;
	default:
		break;
	}
	mvcc_result_free(&res);
	mvcc_result_free(&back);
	kc_str_free(&out);
}

static void test_commands(void **state)
{
	(void)state;
	struct kc_str cmd = KC_STR_INIT;
	struct kc_err err = {0};
	struct mvcc_events evs;
	mvcc_events_init(&evs);

	assert_int_equal(mvcc_cmd_encode_lease_grant(&cmd, 77, 30, &err), 0);
	roundtrip_cmd(&cmd, GW_LEASE_GRANT, "/v3/lease/grant");
	apply_and_compare(&cmd, NULL);

	/* binary bytes in keys and values survive base64 */
	static const uint8_t bin[] = {0, 1, 0xff, '\n', '"', 0x80};
	struct mvcc_put_req put = {.key = "/registry/a",
				   .key_len = 11,
				   .value = bin,
				   .value_len = sizeof bin,
				   .lease = 77};
	kc_str_reset(&cmd);
	assert_int_equal(mvcc_cmd_encode_put(&cmd, &put, &err), 0);
	roundtrip_cmd(&cmd, GW_PUT, "/v3/kv/put");
	apply_and_compare(&cmd, NULL);
	put.value = "{\"v\":2}";
	put.value_len = 7;
	put.lease = 0;
	put.prev_kv = true;
	kc_str_reset(&cmd);
	assert_int_equal(mvcc_cmd_encode_put(&cmd, &put, &err), 0);
	roundtrip_cmd(&cmd, GW_PUT, "/v3/kv/put");
	apply_and_compare(&cmd, NULL);

	/* the registry's update: compare on mod_revision, put + nested txn, else read the key */
	int64_t rev = mvcc_revision(M);
	struct mvcc_compare cmp[] = {
		{.target = MVCC_CMP_MOD,
		 .result = MVCC_CMP_EQUAL,
		 .key = "/registry/a",
		 .key_len = 11,
		 .number = rev},
		{.target = MVCC_CMP_VERSION,
		 .result = MVCC_CMP_GREATER,
		 .key = "/registry/a",
		 .key_len = 11,
		 .number = 0},
		{.target = MVCC_CMP_VALUE,
		 .result = MVCC_CMP_NOT_EQUAL,
		 .key = "/registry/a",
		 .key_len = 11,
		 .value = "",
		 .value_len = 0},
		{.target = MVCC_CMP_CREATE,
		 .result = MVCC_CMP_LESS,
		 .key = "/registry/",
		 .key_len = 10,
		 .range_end = "/registry0",
		 .range_end_len = 10,
		 .number = 1000},
	};
	struct mvcc_op inner_ops[] = {
		{.type = MVCC_OP_PUT,
		 .u.put = {.key = "/registry/c", .key_len = 11, .value = "c", .value_len = 1}},
		{.type = MVCC_OP_RANGE,
		 .u.range = {.key = "/registry/",
			     .key_len = 10,
			     .range_end = "/registry0",
			     .range_end_len = 10,
			     .limit = 1,
			     .sort_order = MVCC_SORT_DESCEND,
			     .sort_target = MVCC_SORT_MOD}},
	};
	struct mvcc_txn_req inner = {.success = inner_ops, .nsuccess = 2};
	struct mvcc_op ok[] = {
		{.type = MVCC_OP_PUT,
		 .u.put = {.key = "/registry/a",
			   .key_len = 11,
			   .value = "{\"v\":3}",
			   .value_len = 7,
			   .prev_kv = true}},
		{.type = MVCC_OP_TXN, .u.txn = &inner},
		{.type = MVCC_OP_DELETE,
		 .u.del = {.key = "/registry/zz", .key_len = 12, .prev_kv = true}},
	};
	struct mvcc_op ko[] = {
		{.type = MVCC_OP_RANGE,
		 .u.range = {.key = "/registry/a", .key_len = 11, .keys_only = true}},
	};
	struct mvcc_txn_req txn = {.compares = cmp,
				   .ncompares = 4,
				   .success = ok,
				   .nsuccess = 3,
				   .failure = ko,
				   .nfailure = 1};
	kc_str_reset(&cmd);
	assert_int_equal(mvcc_cmd_encode_txn(&cmd, &txn, &err), 0);
	roundtrip_cmd(&cmd, GW_TXN, "/v3/kv/txn");
	apply_and_compare(&cmd, &evs); /* succeeds */
	apply_and_compare(&cmd, &evs); /* the mod_revision moved: the failure branch */

	/* delete with prev_kvs over a range */
	struct mvcc_delete_req del = {.key = "/registry/",
				      .key_len = 10,
				      .range_end = "/registry0",
				      .range_end_len = 10,
				      .prev_kv = true};
	kc_str_reset(&cmd);
	assert_int_equal(mvcc_cmd_encode_delete(&cmd, &del, &err), 0);
	roundtrip_cmd(&cmd, GW_DELETE, "/v3/kv/deleterange");
	apply_and_compare(&cmd, &evs);

	kc_str_reset(&cmd);
	assert_int_equal(mvcc_cmd_encode_lease_revoke(&cmd, 77, &err), 0);
	roundtrip_cmd(&cmd, GW_LEASE_REVOKE, "/v3/lease/revoke");
	kc_str_reset(&cmd);
	assert_int_equal(mvcc_cmd_encode_compact(&cmd, 2, &err), 0);
	roundtrip_cmd(&cmd, GW_COMPACT, "/v3/kv/compaction");
	kc_str_reset(&cmd);
	assert_int_equal(mvcc_cmd_encode_lease_checkpoint(&cmd, 77, 3, &err), 0);
	struct kc_str body = KC_STR_INIT;
	const char *path;
	enum mvcc_cmd_type type;
	assert_int_equal(remote_cmd_to_json(cmd.buf, cmd.len, &path, &type, &body, &err),
			 -KC_EUNSUPPORTED);
	kc_str_reset(&body);
	assert_true(remote_cmd_to_json("\x01\x63", 2, &path, &type, &body, &err) < 0);
	kc_str_free(&body);
	kc_str_free(&cmd);
	mvcc_events_free(&evs);
}

static void test_range(void **state)
{
	(void)state;
	struct kc_str cmd = KC_STR_INIT, body = KC_STR_INIT;
	struct kc_err err = {0};
	for (int i = 0; i < 5; i++) {
		char k[32], v[32];
		snprintf(k, sizeof k, "/registry/r/%d", i);
		snprintf(v, sizeof v, "{\"i\":%d}", i);
		struct mvcc_put_req p = {
			.key = k, .key_len = strlen(k), .value = v, .value_len = strlen(v)};
		kc_str_reset(&cmd);
		assert_int_equal(mvcc_cmd_encode_put(&cmd, &p, &err), 0);
		apply_and_compare(&cmd, NULL);
	}
	struct mvcc_range_req q = {.key = "/registry/r/",
				   .key_len = 12,
				   .range_end = "/registry/r0",
				   .range_end_len = 12,
				   .limit = 2,
				   .revision = mvcc_revision(M) - 1};
	remote_range_to_json(&q, true, &body);
	struct gateway_request r;
	assert_int_equal(gateway_parse(GW_RANGE, body.buf, body.len, &r, &err), 0);
	assert_true(r.serializable);
	assert_int_equal(r.range.key_len, 12);
	assert_memory_equal(r.range.key, "/registry/r/", 12);
	assert_memory_equal(r.range.range_end, "/registry/r0", 12);
	assert_int_equal(r.range.limit, 2);
	assert_int_equal(r.range.revision, q.revision);
	gateway_request_free(&r);

	struct mvcc_range_resp a, b;
	assert_int_equal(mvcc_range(M, &q, &a, &err), 0);
	assert_true(a.more);
	assert_int_equal(a.count, 4);
	struct gateway_header h = {.cluster_id = 7, .revision = a.revision};
	kc_str_reset(&body);
	gateway_write_range(&body, &h, &a);
	assert_int_equal(remote_parse_range(body.buf, body.len, &b, &err), 0);
	range_equal(&a, &b);
	mvcc_range_resp_free(&a);
	mvcc_range_resp_free(&b);

	/* count only; keys only */
	q.count_only = true;
	q.limit = 0;
	kc_str_reset(&body);
	remote_range_to_json(&q, false, &body);
	assert_int_equal(gateway_parse(GW_RANGE, body.buf, body.len, &r, &err), 0);
	assert_true(r.range.count_only);
	assert_false(r.serializable);
	gateway_request_free(&r);
	assert_int_equal(mvcc_range(M, &q, &a, &err), 0);
	kc_str_reset(&body);
	gateway_write_range(&body, &h, &a);
	assert_int_equal(remote_parse_range(body.buf, body.len, &b, &err), 0);
	assert_int_equal(b.count, 4);
	assert_int_equal(b.nkvs, 0);
	mvcc_range_resp_free(&a);
	mvcc_range_resp_free(&b);

	/* etcd's lowerCamelCase and numbers are accepted too */
	const char *camel =
		"{\"header\":{\"revision\":9},\"kvs\":[{\"key\":\"YQ==\",\"modRevision\":\"8\","
		"\"createRevision\":3,\"version\":\"2\",\"value\":\"Yg==\"}],\"count\":\"1\"}";
	assert_int_equal(remote_parse_range(camel, strlen(camel), &b, &err), 0);
	assert_int_equal(b.revision, 9);
	assert_int_equal(b.nkvs, 1);
	assert_int_equal(b.kvs[0].mod_revision, 8);
	assert_int_equal(b.kvs[0].create_revision, 3);
	assert_string_equal((const char *)b.kvs[0].key, "a");
	assert_string_equal((const char *)b.kvs[0].value, "b");
	mvcc_range_resp_free(&b);

	/* bad answers */
	static const char *const bad[] = {
		"",
		"garbage",
		"[]",
		"{\"kvs\":{}}",
		"{\"kvs\":[{\"key\":\"!!\"}]}",
		"{\"header\":{\"revision\":\"x\"}}",
		"{\"kvs\":[1]}",
		"{\"more\":\"yes\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = remote_parse_range(bad[i], strlen(bad[i]), &b, &err);
		if (rc != -KC_EPROTO)
			fail_msg("bad answer %zu (%s) gave %d", i, bad[i], rc);
		assert_int_equal(b.nkvs, 0);
		assert_null(b.kvs);
	}
	kc_str_free(&cmd);
	kc_str_free(&body);
}

static void test_watch(void **state)
{
	(void)state;
	struct kc_str cmd = KC_STR_INIT, body = KC_STR_INIT;
	struct kc_err err = {0};
	struct watch_create_req wr = {.key = "/registry/w/",
				      .key_len = 12,
				      .range_end = "/registry/w0",
				      .range_end_len = 12,
				      .prev_kv = true,
				      .no_delete = true};
	remote_watch_to_json(&wr, 42, &body);
	struct gateway_request r;
	assert_int_equal(gateway_parse(GW_WATCH, body.buf, body.len, &r, &err), 0);
	assert_int_equal(r.watch.start_revision, 42);
	assert_true(r.watch.prev_kv);
	assert_true(r.watch.no_delete);
	assert_false(r.watch.no_put);
	assert_memory_equal(r.watch.range_end, "/registry/w0", 12);
	gateway_request_free(&r);

	/* real events: put, update (prev_kv), delete (prev_kv) */
	struct mvcc_events evs;
	mvcc_events_init(&evs);
	struct mvcc_put_req p = {
		.key = "/registry/w/x", .key_len = 13, .value = "1", .value_len = 1};
	assert_int_equal(mvcc_cmd_encode_put(&cmd, &p, &err), 0);
	apply_and_compare(&cmd, &evs);
	p.value = "2";
	kc_str_reset(&cmd);
	assert_int_equal(mvcc_cmd_encode_put(&cmd, &p, &err), 0);
	apply_and_compare(&cmd, &evs);
	struct mvcc_delete_req d = {.key = "/registry/w/x", .key_len = 13};
	kc_str_reset(&cmd);
	assert_int_equal(mvcc_cmd_encode_delete(&cmd, &d, &err), 0);
	apply_and_compare(&cmd, &evs);
	assert_int_equal(evs.len, 3);
	/* the update and the delete carry the previous value */
	assert_false(evs.v[0].has_prev);
	assert_true(evs.v[1].has_prev && evs.v[2].has_prev);
	struct watch_event we[3];
	for (int i = 0; i < 3; i++)
		we[i] = (struct watch_event){.type = evs.v[i].type,
					     .kv = &evs.v[i].kv,
					     .prev_kv =
						     evs.v[i].has_prev ? &evs.v[i].prev_kv : NULL};
	struct watch_resp resp = {.kind = WATCH_RESP_EVENTS,
				  .revision = mvcc_revision(M),
				  .events = we,
				  .nevents = 3};
	struct gateway_header h = {.cluster_id = 7, .member_id = 9, .raft_term = 2};
	kc_str_reset(&body);
	gateway_write_watch(&body, &h, 5, false, &resp);
	struct remote_watch_msg m;
	if (remote_parse_watch(body.buf, body.len, &m, &err) < 0)
		fail_msg("%s: %s", body.buf, err.msg);
	assert_false(m.created);
	assert_false(m.canceled);
	assert_int_equal(m.watch_id, 5);
	assert_int_equal(m.header_revision, resp.revision);
	assert_int_equal(m.events.len, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(m.events.v[i].type, evs.v[i].type);
		assert_int_equal(m.events.v[i].revision, evs.v[i].kv.mod_revision);
		kv_equal(&m.events.v[i].kv, &evs.v[i].kv);
		assert_int_equal(m.events.v[i].has_prev, evs.v[i].has_prev);
		if (evs.v[i].has_prev)
			kv_equal(&m.events.v[i].prev_kv, &evs.v[i].prev_kv);
	}
	assert_int_equal(m.events.v[2].type, MVCC_EVENT_DELETE);
	remote_watch_msg_free(&m);

	/* created */
	kc_str_reset(&body);
	h.revision = 12;
	gateway_write_watch(&body, &h, 5, true, NULL);
	assert_int_equal(remote_parse_watch(body.buf, body.len, &m, &err), 0);
	assert_true(m.created);
	assert_int_equal(m.header_revision, 12);
	remote_watch_msg_free(&m);
	/* progress: an empty events response */
	struct watch_resp prog = {.kind = WATCH_RESP_PROGRESS, .revision = 14};
	kc_str_reset(&body);
	gateway_write_watch(&body, &h, 5, false, &prog);
	assert_int_equal(remote_parse_watch(body.buf, body.len, &m, &err), 0);
	assert_false(m.created || m.canceled);
	assert_int_equal(m.events.len, 0);
	assert_int_equal(m.header_revision, 14);
	remote_watch_msg_free(&m);
	/* canceled by compaction */
	struct watch_resp c = {.kind = WATCH_RESP_CANCELED,
			       .compact_revision = 11,
			       .cancel_code = -MVCC_ECOMPACTED};
	kc_str_reset(&body);
	gateway_write_watch(&body, &h, 5, false, &c);
	assert_int_equal(remote_parse_watch(body.buf, body.len, &m, &err), 0);
	assert_true(m.canceled);
	assert_int_equal(m.compact_revision, 11);
	remote_watch_msg_free(&m);
	/* an error in the stream (grpc-gateway's shape) */
	const char *se =
		"{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no leader\"}}";
	assert_int_equal(remote_parse_watch(se, strlen(se), &m, &err), 0);
	assert_int_equal(m.error, -KC_EUNAVAIL);
	remote_watch_msg_free(&m);
	const char *bad = "{\"result\":{\"events\":[{\"type\":\"FROB\",\"kv\":{}}]}}";
	assert_int_equal(remote_parse_watch(bad, strlen(bad), &m, &err), -KC_EPROTO);
	assert_int_equal(m.events.len, 0);
	mvcc_events_free(&evs);
	kc_str_free(&cmd);
	kc_str_free(&body);
}

/* Errors the gateway writes come back as the same store codes. */
static void test_errors(void **state)
{
	(void)state;
	static const int codes[] = {-MVCC_ECOMPACTED, -MVCC_EFUTURE_REV, -MVCC_ELEASE_NOT_FOUND,
				    -MVCC_EDUP_KEY,   -MVCC_EEMPTY_KEY,	 -MVCC_ETOO_MANY_OPS,
				    -KC_EUNAVAIL,     -KC_ETIMEDOUT};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		struct kc_str out = KC_STR_INIT;
		struct kc_err err = {0};
		int st = gateway_error_json(&out, codes[i], NULL);
		int got = remote_parse_error(st, out.buf, out.len, &err);
		if (got != codes[i])
			fail_msg("%s -> %d, wanted %d", out.buf, got, codes[i]);
		assert_true(err.msg[0] != 0);
		kc_str_free(&out);
	}
	struct kc_err err = {0};
	assert_int_equal(remote_parse_error(503, "<html>", 6, &err), -KC_EUNAVAIL);
	assert_int_equal(remote_parse_error(500, "", 0, &err), -KC_EIO);
	const char *other = "{\"error\":\"x\",\"message\":\"x\",\"code\":3}";
	assert_int_equal(remote_parse_error(400, other, strlen(other), &err), -KC_EINVAL);
	assert_string_equal(err.msg, "x");
}

static void test_open_errors(void **state)
{
	(void)state;
	struct kv_remote *r = NULL;
	struct kc_err err = {0};
	struct kv_remote_config c = {.endpoints = ""};
	assert_int_equal(kv_remote_open(&c, &r, &err), -KC_EINVAL);
	c.endpoints = "ftp://x";
	assert_int_equal(kv_remote_open(&c, &r, &err), -KC_EINVAL);
	c.endpoints = "https://127.0.0.1:2379";
	assert_int_equal(kv_remote_open(&c, &r, &err), -KC_EINVAL);
	assert_non_null(strstr(err.msg, "TLS"));
	/* nothing listens: the ping fails with "unavailable" once every endpoint was tried */
	c.endpoints = "http://127.0.0.1:1,http://127.0.0.1:2";
	c.request_timeout_ms = 600;
	assert_int_equal(kv_remote_open(&c, &r, &err), 0);
	int rc = kv_remote_ping(r, &err);
	assert_true(rc == -KC_EUNAVAIL || rc == -KC_ETIMEDOUT);
	kv_remote_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),    cmocka_unit_test(test_range),
		cmocka_unit_test(test_watch),	    cmocka_unit_test(test_errors),
		cmocka_unit_test(test_open_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
