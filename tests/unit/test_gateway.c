/* test_gateway.c - the etcd v3 JSON gateway's translators against shapes recorded from a real
 * etcd 3.4.23 (curl to its /v3/... endpoints), and the HTTP handlers over a fake backend. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/router.h"
#include "store/gateway.h"

/* The header of every recorded response below. */
static const struct gateway_header H = {
	.cluster_id = 15118495548433857066ull,
	.member_id = 13668033151171901709ull,
	.revision = 3,
	.raft_term = 2,
};
#define HDR "\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"13668033151171901709\",\"revision\":\"3\",\"raft_term\":\"2\"}"

static struct mvcc_kv mkkv(const char *k, const char *v, int64_t c, int64_t m, int64_t ver)
{
	struct mvcc_kv kv = { 0 };
	kv.key = (uint8_t *)xstrdup(k);
	kv.key_len = strlen(k);
	kv.value = (uint8_t *)xstrdup(v);
	kv.value_len = strlen(v);
	kv.create_revision = c;
	kv.mod_revision = m;
	kv.version = ver;
	return kv;
}

static void freekv(struct mvcc_kv *kv)
{
	free(kv->key);
	free(kv->value);
}

static int parse(enum gateway_kind k, const char *body, struct gateway_request *r)
{
	struct kc_err err = { 0 };
	return gateway_parse(k, body, strlen(body), r, &err);
}

/* ---- requests ---- */

static void test_parse_put(void **state)
{
	(void)state;
	struct gateway_request r;
	struct mvcc_cmd cmd;
	struct kc_err err;
	assert_int_equal(parse(GW_PUT, "{\"key\":\"Zm9v\",\"value\":\"YmFy\",\"prev_kv\":true,"
				       "\"lease\":\"77\"}", &r), 0);
	assert_int_equal(mvcc_cmd_decode(r.cmd.buf, r.cmd.len, &cmd, &err), 0);
	assert_int_equal(cmd.type, MVCC_CMD_PUT);
	assert_int_equal(cmd.u.put.key_len, 3);
	assert_memory_equal(cmd.u.put.key, "foo", 3);
	assert_memory_equal(cmd.u.put.value, "bar", 3);
	assert_true(cmd.u.put.prev_kv);
	assert_int_equal(cmd.u.put.lease, 77);
	mvcc_cmd_free(&cmd);
	gateway_request_free(&r);

	/* lowerCamelCase, numbers for int64, no value */
	assert_int_equal(parse(GW_PUT, "{\"key\":\"Zm9v\",\"prevKv\":true,\"lease\":5,"
				       "\"ignoreValue\":true}", &r), 0);
	assert_int_equal(mvcc_cmd_decode(r.cmd.buf, r.cmd.len, &cmd, &err), 0);
	assert_true(cmd.u.put.prev_kv);
	assert_true(cmd.u.put.ignore_value);
	assert_int_equal(cmd.u.put.value_len, 0);
	assert_int_equal(cmd.u.put.lease, 5);
	mvcc_cmd_free(&cmd);
	gateway_request_free(&r);

	/* empty key is refused with etcd's text */
	struct kc_err e2 = { 0 };
	assert_int_equal(gateway_parse(GW_PUT, "{\"value\":\"YQ==\"}", 16, &r, &e2),
			 -MVCC_EEMPTY_KEY);
}

static void test_parse_range(void **state)
{
	(void)state;
	struct gateway_request r;
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"Zm9v\",\"rangeEnd\":\"Zm9w\",\"limit\":\"10\","
					 "\"revision\":7,\"sort_order\":\"DESCEND\",\"sortTarget\":2,"
					 "\"keys_only\":true,\"countOnly\":false,"
					 "\"serializable\":true,\"unknown\":[1,2]}", &r), 0);
	assert_int_equal(r.range.key_len, 3);
	assert_memory_equal(r.range.range_end, "fop", 3);
	assert_int_equal(r.range.limit, 10);
	assert_int_equal(r.range.revision, 7);
	assert_int_equal(r.range.sort_order, MVCC_SORT_DESCEND);
	assert_int_equal(r.range.sort_target, MVCC_SORT_CREATE);
	assert_true(r.range.keys_only);
	assert_false(r.range.count_only);
	assert_true(r.serializable);
	gateway_request_free(&r);

	assert_int_equal(parse(GW_RANGE, "{\"key\":\"AA==\",\"range_end\":\"AA==\"}", &r), 0);
	assert_int_equal(r.range.key_len, 1);
	assert_int_equal(r.range.range_end_len, 1);
	gateway_request_free(&r);

	assert_int_equal(parse(GW_RANGE, "{\"key\":\"\"}", &r), -MVCC_EEMPTY_KEY);
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"@@@\"}", &r), -KC_EINVAL);
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"Zm9v\",\"sort_order\":\"BOGUS\"}", &r),
			 -KC_EINVAL);
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"Zm9v\",\"sort_order\":9}", &r), -KC_EINVAL);
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"Zm9v\",\"limit\":\"x\"}", &r), -KC_EINVAL);
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"Zm9v\",\"limit\":1.5}", &r), -KC_EINVAL);
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"Zm9v\",\"keys_only\":1}", &r), -KC_EINVAL);
	assert_int_equal(parse(GW_RANGE, "garbage", &r), -KC_EPARSE);
	assert_int_equal(parse(GW_RANGE, "[1]", &r), -KC_EPARSE);
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"Zm9v\",\"min_mod_revision\":\"3\"}", &r),
			 -KC_EUNSUPPORTED);
	/* int64 extremes as strings */
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"Zm9v\",\"revision\":\"9223372036854775807\"}",
			       &r), 0);
	assert_int_equal(r.range.revision, INT64_MAX);
	gateway_request_free(&r);
	assert_int_equal(parse(GW_RANGE, "{\"key\":\"Zm9v\",\"revision\":\"9223372036854775808\"}",
			       &r), -KC_EINVAL);
}

static void test_parse_txn(void **state)
{
	(void)state;
	struct gateway_request r;
	struct mvcc_cmd cmd;
	struct kc_err err;
	const char *body =
		"{\"compare\":[{\"key\":\"Zm9v\",\"result\":\"EQUAL\",\"target\":\"MOD\","
		"\"mod_revision\":\"5\"},{\"key\":\"Zm9v\",\"result\":3,\"target\":\"VALUE\","
		"\"value\":\"YQ==\"}],"
		"\"success\":[{\"request_put\":{\"key\":\"Zm9v\",\"value\":\"YQ==\"}},"
		"{\"requestRange\":{\"key\":\"Zm9v\"}}],"
		"\"failure\":[{\"request_delete_range\":{\"key\":\"Zm9v\",\"prevKv\":true}},"
		"{\"request_txn\":{\"success\":[{\"request_range\":{\"key\":\"YQ==\"}}]}}]}";
	assert_int_equal(parse(GW_TXN, body, &r), 0);
	assert_int_equal(mvcc_cmd_decode(r.cmd.buf, r.cmd.len, &cmd, &err), 0);
	assert_int_equal(cmd.type, MVCC_CMD_TXN);
	const struct mvcc_txn_req *t = &cmd.u.txn;
	assert_int_equal(t->ncompares, 2);
	assert_int_equal(t->compares[0].target, MVCC_CMP_MOD);
	assert_int_equal(t->compares[0].number, 5);
	assert_int_equal(t->compares[1].result, MVCC_CMP_NOT_EQUAL);
	assert_int_equal(t->compares[1].value_len, 1);
	assert_int_equal(t->nsuccess, 2);
	assert_int_equal(t->success[0].type, MVCC_OP_PUT);
	assert_int_equal(t->success[1].type, MVCC_OP_RANGE);
	assert_int_equal(t->nfailure, 2);
	assert_int_equal(t->failure[0].type, MVCC_OP_DELETE);
	assert_true(t->failure[0].u.del.prev_kv);
	assert_int_equal(t->failure[1].type, MVCC_OP_TXN);
	assert_int_equal(t->failure[1].u.txn->nsuccess, 1);
	mvcc_cmd_free(&cmd);
	gateway_request_free(&r);

	/* duplicate keys in one branch: etcd's error */
	assert_int_equal(parse(GW_TXN, "{\"success\":[{\"request_put\":{\"key\":\"YQ==\"}},"
				       "{\"request_put\":{\"key\":\"YQ==\"}}]}", &r),
			 -MVCC_EDUP_KEY);
	assert_int_equal(parse(GW_TXN, "{\"success\":[{}]}", &r), -KC_EINVAL);
	assert_int_equal(parse(GW_TXN, "{\"success\":{}}", &r), -KC_EINVAL);
	assert_int_equal(parse(GW_TXN, "{\"compare\":[{\"key\":\"YQ==\",\"target\":\"NOPE\"}]}",
			       &r), -KC_EINVAL);
	/* nested deeper than MVCC_TXN_DEPTH_MAX */
	char deep[1024] = "{";
	for (int i = 0; i < 6; i++)
		strcat(deep, "\"success\":[{\"request_txn\":{");
	for (int i = 0; i < 6; i++)
		strcat(deep, "}}]");
	strcat(deep, "}");
	assert_int_not_equal(parse(GW_TXN, deep, &r), 0);
}

static void test_parse_misc(void **state)
{
	(void)state;
	struct gateway_request r;
	struct mvcc_cmd cmd;
	struct kc_err err;

	assert_int_equal(parse(GW_COMPACT, "{\"revision\":\"2\",\"physical\":true}", &r), 0);
	assert_true(r.physical);
	assert_int_equal(mvcc_cmd_decode(r.cmd.buf, r.cmd.len, &cmd, &err), 0);
	assert_int_equal(cmd.u.compact.revision, 2);
	mvcc_cmd_free(&cmd);
	gateway_request_free(&r);

	assert_int_equal(parse(GW_LEASE_GRANT, "{\"TTL\":60}", &r), 0);
	assert_int_equal(r.lease_ttl, 60);
	assert_int_equal(r.lease_id, 0);
	assert_int_equal(r.cmd.len, 0);
	assert_int_equal(gateway_lease_grant_cmd(&r, 42, &err), 0);
	assert_int_equal(mvcc_cmd_decode(r.cmd.buf, r.cmd.len, &cmd, &err), 0);
	assert_int_equal(cmd.u.lease_grant.id, 42);
	assert_int_equal(cmd.u.lease_grant.ttl, 60);
	mvcc_cmd_free(&cmd);
	gateway_request_free(&r);

	assert_int_equal(parse(GW_LEASE_GRANT, "{\"TTL\":\"136683090080\"}", &r), -KC_EINVAL);
	assert_int_equal(parse(GW_LEASE_GRANT, "{\"TTL\":\"60\",\"ID\":\"1234\"}", &r), 0);
	assert_int_not_equal(r.cmd.len, 0);
	gateway_request_free(&r);

	assert_int_equal(parse(GW_LEASE_TTL, "{\"ID\":1234,\"keys\":true}", &r), 0);
	assert_int_equal(r.lease_id, 1234);
	assert_true(r.lease_keys);
	gateway_request_free(&r);

	assert_int_equal(parse(GW_WATCH, "{\"create_request\":{\"key\":\"Zm9v\",\"range_end\":"
					 "\"Zm9w\",\"start_revision\":\"2\",\"prev_kv\":true,"
					 "\"filters\":[\"NOPUT\",1],\"progressNotify\":true}}", &r), 0);
	assert_int_equal(r.watch.start_revision, 2);
	assert_true(r.watch.prev_kv && r.watch.no_put && r.watch.no_delete);
	assert_true(r.watch.progress_notify);
	assert_int_equal(r.watch.range_end_len, 3);
	gateway_request_free(&r);
	assert_int_equal(parse(GW_WATCH, "{\"cancel_request\":{}}", &r), -KC_EINVAL);

	assert_int_equal(parse(GW_MEMBER_ADD, "{\"peerURLs\":[\"http://127.0.0.1:2380\"],"
					      "\"isLearner\":true}", &r), 0);
	assert_int_equal(r.npeer_urls, 1);
	assert_string_equal(r.peer_urls[0], "http://127.0.0.1:2380");
	assert_true(r.learner);
	assert_null(r.member_name);
	gateway_request_free(&r);
	assert_int_equal(parse(GW_MEMBER_ADD, "{\"peer_urls\":[\"http://a:1\",\"http://b:2\"],"
					      "\"name\":\"n2\"}", &r), 0);
	assert_int_equal(r.npeer_urls, 2);
	assert_string_equal(r.member_name, "n2");
	gateway_request_free(&r);
	assert_int_equal(parse(GW_MEMBER_ADD, "{\"peerURLs\":[]}", &r), -KC_EINVAL);
	assert_int_equal(parse(GW_MEMBER_ADD, "{\"peerURLs\":[\"u\"],\"name\":5}", &r),
			 -KC_EINVAL);
	assert_int_equal(parse(GW_MEMBER_REMOVE, "{\"ID\":\"13668033151171901709\"}", &r), 0);
	assert_true(r.member_id == 13668033151171901709ull);
	gateway_request_free(&r);
	assert_int_equal(parse(GW_MEMBER_REMOVE, "{\"ID\":\"18446744073709551616\"}", &r),
			 -KC_EINVAL);
	assert_int_equal(parse(GW_STATUS, "", &r), 0);
	gateway_request_free(&r);

	assert_int_equal(gateway_kind_of_path("/v3/kv/lease/revoke"), GW_LEASE_REVOKE);
	assert_int_equal(gateway_kind_of_path("/v3/kv/nothing"), 0);

	/* depth limit */
	char deep[256] = "{\"a\":";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	assert_int_not_equal(parse(GW_RANGE, deep, &r), 0);
}

/* ---- responses (expected strings are etcd 3.4.23's own bytes) ---- */

static void expect_out(struct kc_str *o, const char *want)
{
	assert_string_equal(o->buf, want);
	kc_str_reset(o);
}

static void test_write(void **state)
{
	(void)state;
	struct kc_str o;
	kc_str_init(&o);
	struct mvcc_result res = { 0 };
	struct gateway_header h2 = H;
	h2.revision = 2;

	res.type = MVCC_CMD_PUT;
	gateway_write_result(&o, &h2, &res);
	expect_out(&o, "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":"
		       "\"13668033151171901709\",\"revision\":\"2\",\"raft_term\":\"2\"}}");

	res.u.put.has_prev = true;
	res.u.put.prev_kv = mkkv("foo", "bar", 2, 2, 1);
	gateway_write_result(&o, &H, &res);
	expect_out(&o, "{" HDR ",\"prev_kv\":{\"key\":\"Zm9v\",\"create_revision\":\"2\","
		       "\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"YmFy\"}}");
	freekv(&res.u.put.prev_kv);

	struct mvcc_kv kv = mkkv("foo", "baz", 2, 3, 2);
	struct mvcc_range_resp rr = { .revision = 3, .kvs = &kv, .nkvs = 1, .count = 1 };
	gateway_write_range(&o, &H, &rr);
	expect_out(&o, "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\","
		       "\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"YmF6\"}],"
		       "\"count\":\"1\"}");
	struct mvcc_range_resp empty = { 0 };
	gateway_write_range(&o, &H, &empty);
	expect_out(&o, "{" HDR "}");

	memset(&res, 0, sizeof(res));
	res.type = MVCC_CMD_DELETE;
	res.u.del.deleted = 1;
	res.u.del.prev_kvs = &kv;
	res.u.del.nprev = 1;
	gateway_write_result(&o, &H, &res);
	expect_out(&o, "{" HDR ",\"deleted\":\"1\",\"prev_kvs\":[{\"key\":\"Zm9v\","
		       "\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":\"2\","
		       "\"value\":\"YmF6\"}]}");

	/* txn: recorded as revision 5 */
	struct gateway_header h5 = H;
	h5.revision = 5;
	struct mvcc_kv kv5 = mkkv("foo", "a", 5, 5, 1);
	struct mvcc_op_resp ops[2] = { 0 };
	ops[0].type = MVCC_OP_PUT;
	ops[1].type = MVCC_OP_RANGE;
	ops[1].u.range.kvs = &kv5;
	ops[1].u.range.nkvs = 1;
	ops[1].u.range.count = 1;
	memset(&res, 0, sizeof(res));
	res.type = MVCC_CMD_TXN;
	res.u.txn.succeeded = true;
	res.u.txn.responses = ops;
	res.u.txn.nresponses = 2;
	gateway_write_result(&o, &h5, &res);
	expect_out(&o, "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":"
		       "\"13668033151171901709\",\"revision\":\"5\",\"raft_term\":\"2\"},"
		       "\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":"
		       "{\"revision\":\"5\"}}},{\"response_range\":{\"header\":{\"revision\":\"5\"},"
		       "\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"5\",\"mod_revision\":\"5\","
		       "\"version\":\"1\",\"value\":\"YQ==\"}],\"count\":\"1\"}}]}");
	/* failed txn with a delete: "succeeded" left out */
	memset(ops, 0, sizeof(ops));
	ops[0].type = MVCC_OP_DELETE;
	ops[0].u.del.deleted = 1;
	res.u.txn.succeeded = false;
	res.u.txn.nresponses = 1;
	gateway_write_result(&o, &h5, &res);
	expect_out(&o, "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":"
		       "\"13668033151171901709\",\"revision\":\"5\",\"raft_term\":\"2\"},"
		       "\"responses\":[{\"response_delete_range\":{\"header\":{\"revision\":\"5\"},"
		       "\"deleted\":\"1\"}}]}");
	freekv(&kv5);

	memset(&res, 0, sizeof(res));
	res.type = MVCC_CMD_LEASE_GRANT;
	res.u.lease_grant.id = 1234;
	res.u.lease_grant.ttl = 60;
	gateway_write_result(&o, &H, &res);
	expect_out(&o, "{" HDR ",\"ID\":\"1234\",\"TTL\":\"60\"}");

	gateway_write_keepalive(&o, &H, 1234, 60);
	expect_out(&o, "{\"result\":{" HDR ",\"ID\":\"1234\",\"TTL\":\"60\"}}");
	gateway_write_keepalive(&o, &H, 999, 0);
	expect_out(&o, "{\"result\":{" HDR ",\"ID\":\"999\"}}");
	gateway_write_lease_ttl(&o, &H, 1234, 59, 60, NULL);
	expect_out(&o, "{" HDR ",\"ID\":\"1234\",\"TTL\":\"59\",\"grantedTTL\":\"60\"}");
	/* unknown lease: etcd answers TTL -1 */
	gateway_write_lease_ttl(&o, &H, 5555, -1, 0, NULL);
	expect_out(&o, "{" HDR ",\"ID\":\"5555\",\"TTL\":\"-1\"}");
	struct mvcc_kv lk = mkkv("l", "", 4, 4, 1);
	struct mvcc_range_resp keys = { .kvs = &lk, .nkvs = 1 };
	gateway_write_lease_ttl(&o, &H, 77, 5, 5, &keys);
	expect_out(&o, "{" HDR ",\"ID\":\"77\",\"TTL\":\"5\",\"grantedTTL\":\"5\","
		       "\"keys\":[\"bA==\"]}");
	freekv(&lk);

	struct gateway_status st = { .version = "3.4.23", .db_size = 20480,
				     .leader = 13668033151171901709ull, .raft_index = 15,
				     .raft_term = 2, .raft_applied_index = 15,
				     .db_size_in_use = 16384 };
	gateway_write_status(&o, &H, &st);
	expect_out(&o, "{" HDR ",\"version\":\"3.4.23\",\"dbSize\":\"20480\",\"leader\":"
		       "\"13668033151171901709\",\"raftIndex\":\"15\",\"raftTerm\":\"2\","
		       "\"raftAppliedIndex\":\"15\",\"dbSizeInUse\":\"16384\"}");

	const char *peers[] = { "http://127.0.0.1:23801" };
	const char *clients[] = { "http://127.0.0.1:23791" };
	struct gateway_member m = { .id = 13668033151171901709ull, .name = "default",
				    .peer_urls = peers, .npeer_urls = 1,
				    .client_urls = clients, .nclient_urls = 1 };
	struct gateway_header hc = H;
	hc.revision = 0;
	gateway_write_members(&o, &hc, NULL, &m, 1);
	expect_out(&o, "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":"
		       "\"13668033151171901709\",\"raft_term\":\"2\"},\"members\":[{\"ID\":"
		       "\"13668033151171901709\",\"name\":\"default\",\"peerURLs\":"
		       "[\"http://127.0.0.1:23801\"],\"clientURLs\":[\"http://127.0.0.1:23791\"]}]}");
	freekv(&kv);
	kc_str_free(&o);
}

static void test_write_watch(void **state)
{
	(void)state;
	struct kc_str o;
	kc_str_init(&o);
	struct gateway_header h7 = H;
	h7.revision = 7;
	gateway_write_watch(&o, &h7, 0, true, NULL);
	assert_string_equal(o.buf, "{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
				   "\"member_id\":\"13668033151171901709\",\"revision\":\"7\","
				   "\"raft_term\":\"2\"},\"created\":true}}");
	kc_str_reset(&o);

	struct mvcc_kv a = mkkv("foo", "xx", 7, 8, 2);
	struct mvcc_kv p = mkkv("foo", "bar", 7, 7, 1);
	struct mvcc_kv d = { .key = (uint8_t *)"foo", .key_len = 3, .mod_revision = 9,
			     .value = (uint8_t *)"" };
	struct watch_event ev[2] = { { MVCC_EVENT_PUT, &a, &p }, { MVCC_EVENT_DELETE, &d, &a } };
	struct watch_resp r = { .kind = WATCH_RESP_EVENTS, .revision = 9, .events = ev,
				.nevents = 2 };
	gateway_write_watch(&o, &h7, 0, false, &r);
	assert_string_equal(o.buf, "{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
		"\"member_id\":\"13668033151171901709\",\"revision\":\"9\",\"raft_term\":\"2\"},"
		"\"events\":[{\"kv\":{\"key\":\"Zm9v\",\"create_revision\":\"7\",\"mod_revision\":"
		"\"8\",\"version\":\"2\",\"value\":\"eHg=\"},\"prev_kv\":{\"key\":\"Zm9v\","
		"\"create_revision\":\"7\",\"mod_revision\":\"7\",\"version\":\"1\",\"value\":"
		"\"YmFy\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"Zm9v\",\"mod_revision\":\"9\"},"
		"\"prev_kv\":{\"key\":\"Zm9v\",\"create_revision\":\"7\",\"mod_revision\":\"8\","
		"\"version\":\"2\",\"value\":\"eHg=\"}}]}}");
	kc_str_reset(&o);

	/* a progress notification: an empty events response, header at its revision */
	struct watch_resp pr = { .kind = WATCH_RESP_PROGRESS, .revision = 12 };
	gateway_write_watch(&o, &h7, 3, false, &pr);
	assert_string_equal(o.buf, "{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
		"\"member_id\":\"13668033151171901709\",\"revision\":\"12\",\"raft_term\":\"2\"},"
		"\"watch_id\":\"3\"}}");
	kc_str_reset(&o);

	struct watch_resp c = { .kind = WATCH_RESP_CANCELED, .compact_revision = 2 };
	gateway_write_watch(&o, &h7, 0, false, &c);
	assert_string_equal(o.buf, "{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
		"\"member_id\":\"13668033151171901709\",\"raft_term\":\"2\"},\"canceled\":true,"
		"\"compact_revision\":\"2\"}}");
	freekv(&a);
	freekv(&p);
	kc_str_free(&o);
}

static void test_errors(void **state)
{
	(void)state;
	struct kc_str o;
	kc_str_init(&o);
	assert_int_equal(gateway_error_json(&o, -MVCC_ECOMPACTED, NULL), 400);
	assert_string_equal(o.buf, "{\"error\":\"etcdserver: mvcc: required revision has been "
				   "compacted\",\"message\":\"etcdserver: mvcc: required revision has "
				   "been compacted\",\"code\":11}");
	kc_str_reset(&o);
	assert_int_equal(gateway_error_json(&o, -MVCC_ELEASE_NOT_FOUND, NULL), 404);
	assert_string_equal(o.buf, "{\"error\":\"etcdserver: requested lease not found\","
				   "\"message\":\"etcdserver: requested lease not found\",\"code\":5}");
	kc_str_reset(&o);
	/* details in msg never replace etcd's text for the store's codes */
	assert_int_equal(gateway_error_json(&o, -MVCC_ELEASE_EXISTS, "lease 4242 exists"), 412);
	assert_string_equal(o.buf, "{\"error\":\"etcdserver: lease already exists\",\"message\":"
				   "\"etcdserver: lease already exists\",\"code\":9}");
	kc_str_reset(&o);
	assert_int_equal(gateway_error_json(&o, -MVCC_EDUP_KEY, NULL), 400);
	assert_string_equal(o.buf, "{\"error\":\"etcdserver: duplicate key given in txn request\","
				   "\"message\":\"etcdserver: duplicate key given in txn request\","
				   "\"code\":3}");
	kc_str_reset(&o);
	assert_int_equal(gateway_error_json(&o, -MVCC_EEMPTY_KEY, NULL), 400);
	assert_string_equal(o.buf, "{\"error\":\"etcdserver: key is not provided\",\"message\":"
				   "\"etcdserver: key is not provided\",\"code\":3}");
	kc_str_reset(&o);
	assert_int_equal(gateway_error_json(&o, -MVCC_EFUTURE_REV, NULL), 400);
	assert_non_null(strstr(o.buf, "etcdserver: mvcc: required revision is a future revision"));
	kc_str_reset(&o);
	assert_int_equal(gateway_error_json(&o, -KC_EUNAVAIL, NULL), 503);
	assert_string_equal(o.buf, "{\"error\":\"etcdserver: no leader\",\"message\":"
				   "\"etcdserver: no leader\",\"code\":14}");
	kc_str_reset(&o);
	assert_int_equal(gateway_error_json(&o, -KC_EPARSE, "line 1, column 1: \"x\""), 400);
	assert_string_equal(o.buf, "{\"error\":\"line 1, column 1: \\\"x\\\"\",\"message\":"
				   "\"line 1, column 1: \\\"x\\\"\",\"code\":3}");
	kc_str_free(&o);
}

/* ---- HTTP over a fake backend ---- */

struct fake {
	int64_t revision;
	gateway_watch_cb wcb;
	void *warg;
	int stops;
};

static void fake_call(void *impl, struct loop *l, struct gateway_request *req,
		      gateway_reply_cb cb, void *arg)
{
	struct fake *f = impl;
	struct gateway_reply rep = { 0 };
	struct mvcc_result res = { 0 };
	(void)l;
	rep.header = H;
	switch (req->kind) {
	case GW_PUT:
		res.type = MVCC_CMD_PUT;
		rep.header.revision = ++f->revision;
		rep.result = &res;
		break;
	case GW_RANGE:
		if (req->range.revision == 1) {
			rep.rc = -MVCC_ECOMPACTED;
			break;
		}
		rep.header.revision = f->revision;
		break;
	case GW_LEASE_KEEPALIVE:
		rep.rc = -MVCC_ELEASE_NOT_FOUND;
		rep.lease_id = req->lease_id;
		break;
	default:
		rep.rc = -KC_EUNAVAIL;
		break;
	}
	cb(&rep, arg);
}

static void *fake_watch_start(void *impl, struct loop *l, const struct watch_create_req *req,
			      gateway_watch_cb cb, void *arg)
{
	struct fake *f = impl;
	(void)l;
	(void)req;
	f->wcb = cb;
	f->warg = arg;
	struct gateway_header h = H;
	cb(0, &h, 0, true, NULL, arg);
	struct watch_resp c = { .kind = WATCH_RESP_CANCELED, .compact_revision = 2 };
	if (req->start_revision == 1) {   /* compacted: created then canceled, as etcd does */
		cb(0, &h, 0, false, &c, arg);
		return NULL;
	}
	return f;
}

static void fake_watch_stop(void *impl, void *handle)
{
	struct fake *f = impl;
	(void)handle;
	f->stops++;
}

struct server_thread {
	struct loop *l;
	struct http_server *s;
	struct router *r;
	struct gateway *g;
	struct fake f;
	pthread_t t;
};

static void *run_loop(void *arg)
{
	struct server_thread *st = arg;
	loop_run(st->l);
	return NULL;
}

static void stop_loop(struct loop *l, void *arg)
{
	(void)l;
	struct server_thread *st = arg;
	http_server_close(st->s);
	loop_stop(st->l);
}

static void post(uint16_t port, const char *path, const char *body, int *status, char *out,
		 size_t outsz)
{
	char url[128];
	struct http_client_response resp = { 0 };
	struct kc_err err = { 0 };
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	assert_int_equal(http_client_do(NULL, "POST", url, NULL, 0, body, strlen(body), &resp, &err),
			 0);
	*status = resp.status;
	snprintf(out, outsz, "%s", resp.body ? resp.body : "");
	http_client_response_free(&resp);
}

static void test_http(void **state)
{
	(void)state;
	struct server_thread st = { 0 };
	struct kc_err err = { 0 };
	struct gateway_backend be = { .impl = &st.f, .call = fake_call,
				      .watch_start = fake_watch_start,
				      .watch_stop = fake_watch_stop };
	st.f.revision = 1;
	st.l = loop_new(NULL);
	st.r = router_new();
	assert_int_equal(gateway_register(st.r, &be, &st.g, &err), 0);
	struct http_server_config cfg = { .addr = "127.0.0.1", .handler = router_serve,
					  .handler_arg = st.r };
	assert_int_equal(http_server_open(st.l, &cfg, &st.s, &err), 0);
	uint16_t port = http_server_port(st.s);
	assert_int_equal(pthread_create(&st.t, NULL, run_loop, &st), 0);

	int status;
	char body[4096];
	post(port, "/v3/kv/put", "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}", &status, body,
	     sizeof(body));
	assert_int_equal(status, 200);
	assert_string_equal(body, "{\"header\":{\"cluster_id\":\"15118495548433857066\","
				  "\"member_id\":\"13668033151171901709\",\"revision\":\"2\","
				  "\"raft_term\":\"2\"}}");
	post(port, "/v3/kv/range", "{\"key\":\"Zm9v\",\"revision\":1}", &status, body,
	     sizeof(body));
	assert_int_equal(status, 400);
	assert_non_null(strstr(body, "\"code\":11"));
	post(port, "/v3/kv/range", "garbage", &status, body, sizeof(body));
	assert_int_equal(status, 400);
	assert_non_null(strstr(body, "\"code\":3"));
	post(port, "/v3/lease/keepalive", "{\"ID\":\"999\"}", &status, body, sizeof(body));
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "\"ID\":\"999\"}}\n"));
	post(port, "/v3/maintenance/status", "{}", &status, body, sizeof(body));
	assert_int_equal(status, 503);
	assert_non_null(strstr(body, "\"code\":14"));
	/* compacted watch: created, canceled, stream ends */
	post(port, "/v3/watch", "{\"create_request\":{\"key\":\"Zm9v\",\"start_revision\":1}}",
	     &status, body, sizeof(body));
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "\"created\":true}}\n{\"result\":"));
	assert_non_null(strstr(body, "\"canceled\":true,\"compact_revision\":\"2\"}}\n"));

	loop_call(st.l, stop_loop, &st);
	pthread_join(st.t, NULL);
	loop_free(st.l);
	router_free(st.r);
	gateway_free(st.g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_put),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_txn),
		cmocka_unit_test(test_parse_misc),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_watch),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
