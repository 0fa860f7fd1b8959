/* Unit tests for store/mvcc: the command codec, revisions and versions, ranges (limit, count,
 * prefix, continuation, sorting), historical reads, txn compare semantics with etcd's quirks,
 * leases, compaction, crash safety and replay, foreign databases, readers running beside the
 * writer, snapshots, and bounded growth under churn. Databases live in a mkdtemp folder under
 * /tmp that each test removes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/mvcc.h"

#define CLUSTER 0x1111
#define MEMBER 0x2222

struct fx {
	struct mvcc *m;
	uint64_t idx;
	char dir[64];
	char path[128];
	struct mvcc_events evs;
};

static void fx_mkdir(struct fx *f)
{
	snprintf(f->dir, sizeof f->dir, "/tmp/kc-mvcc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
}

static struct mvcc *open_path(const char *path, unsigned flags, enum mvcc_sync sync)
{
	struct mvcc_options o = { .path = path, .cluster_id = CLUSTER, .member_id = MEMBER,
				  .flags = flags, .sync = sync };
	struct mvcc *m = NULL;
	struct kc_err err = { 0 };
	int rc = mvcc_open(&o, &m, &err);
	if (rc < 0)
		fail_msg("mvcc_open %s: %s", path, err.msg);
	return m;
}

/* file: a database in a fresh /tmp folder; else ":memory:". */
static void fx_open(struct fx *f, bool file)
{
	memset(f, 0, sizeof *f);
	mvcc_events_init(&f->evs);
	if (file) {
		fx_mkdir(f);
		f->m = open_path(f->path, 0, MVCC_SYNC_NORMAL);
	} else {
		f->m = open_path(":memory:", 0, MVCC_SYNC_OFF);
	}
	f->idx = mvcc_applied_index(f->m);
}

static void rm_dir(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void fx_close(struct fx *f)
{
	mvcc_close(f->m);
	f->m = NULL;
	mvcc_events_free(&f->evs);
	if (f->dir[0])
		rm_dir(f->dir);
}

/* Applies an encoded command at the next index; the batch must not fail. */
static void apply(struct fx *f, struct kc_str *cmd, struct mvcc_result *res)
{
	struct kc_err err = { 0 };
	int rc = mvcc_apply(f->m, ++f->idx, cmd->buf, cmd->len, res, &f->evs, &err);
	if (rc < 0)
		fail_msg("apply: %s", err.msg);
	kc_str_reset(cmd);
}

static int64_t put_full(struct fx *f, const char *k, const char *v, int64_t lease, int want_err)
{
	struct kc_str s = KC_STR_INIT;
	struct mvcc_put_req p = { .key = k, .key_len = strlen(k), .value = v,
				  .value_len = strlen(v), .lease = lease };
	assert_int_equal(mvcc_cmd_encode_put(&s, &p, NULL), 0);
	struct mvcc_result r;
	apply(f, &s, &r);
	assert_int_equal(r.err.code, want_err);
	int64_t rev = r.revision;
	mvcc_result_free(&r);
	kc_str_free(&s);
	return rev;
}

static int64_t put(struct fx *f, const char *k, const char *v)
{
	return put_full(f, k, v, 0, 0);
}

static int64_t del(struct fx *f, const char *k, const char *end, int64_t *deleted)
{
	struct kc_str s = KC_STR_INIT;
	struct mvcc_delete_req d = { .key = k, .key_len = strlen(k), .range_end = end,
				     .range_end_len = end ? strlen(end) : 0 };
	if (end && !end[0])
		d.range_end_len = 1;   /* "" stands for "\0" */
	assert_int_equal(mvcc_cmd_encode_delete(&s, &d, NULL), 0);
	struct mvcc_result r;
	apply(f, &s, &r);
	assert_int_equal(r.err.code, 0);
	if (deleted)
		*deleted = r.u.del.deleted;
	int64_t rev = r.revision;
	mvcc_result_free(&r);
	kc_str_free(&s);
	return rev;
}

static void simple_cmd(struct fx *f, int rc_enc, struct kc_str *s, int want_err,
		       struct mvcc_result *out)
{
	assert_int_equal(rc_enc, 0);
	struct mvcc_result r;
	apply(f, s, &r);
	assert_int_equal(r.err.code, want_err);
	if (out)
		*out = r;
	else
		mvcc_result_free(&r);
}

/* Reads one key at rev (0 = current); returns whether it exists, *kv filled (free it). */
static bool get(struct fx *f, const char *k, int64_t rev, struct mvcc_kv *kv)
{
	struct mvcc_range_req q = { .key = k, .key_len = strlen(k), .revision = rev };
	struct mvcc_range_resp r;
	struct kc_err err = { 0 };
	int rc = mvcc_range(f->m, &q, &r, &err);
	if (rc < 0)
		fail_msg("get %s@%lld: %s", k, (long long)rev, err.msg);
	bool found = r.nkvs == 1;
	if (found && kv)
		mvcc_kv_copy(kv, &r.kvs[0]);
	mvcc_range_resp_free(&r);
	return found;
}

static bool kv_value_is(const struct mvcc_kv *kv, const char *v)
{
	return kv->value_len == strlen(v) && memcmp(kv->value, v, kv->value_len) == 0;
}

static bool key_is(const struct mvcc_kv *kv, const char *k)
{
	return kv->key_len == strlen(k) && memcmp(kv->key, k, kv->key_len) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * codec */

static void roundtrip(const struct mvcc_cmd *c)
{
	struct kc_str a = KC_STR_INIT, b = KC_STR_INIT;
	struct kc_err err = { 0 };
	assert_int_equal(mvcc_cmd_encode(&a, c, &err), 0);
	struct mvcc_cmd d;
	if (mvcc_cmd_decode(a.buf, a.len, &d, &err) < 0)
		fail_msg("decode: %s", err.msg);
	assert_int_equal(d.type, c->type);
	assert_int_equal(mvcc_cmd_encode(&b, &d, &err), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	/* Every strict prefix is refused, and so is a trailing byte. */
	for (size_t n = 0; n < a.len; n++) {
		struct mvcc_cmd x;
		assert_true(mvcc_cmd_decode(a.buf, n, &x, NULL) < 0);
	}
	kc_str_addc(&a, 0);
	struct mvcc_cmd x;
	assert_int_equal(mvcc_cmd_decode(a.buf, a.len, &x, &err), -KC_EPARSE);
	mvcc_cmd_free(&d);
	kc_str_free(&a);
	kc_str_free(&b);
}

static void test_codec(void **state)
{
	(void)state;
	struct mvcc_cmd c = { .type = MVCC_CMD_PUT,
			      .u.put = { .key = "k", .key_len = 1, .value = "v\0x", .value_len = 3,
					 .lease = 7, .prev_kv = true } };
	roundtrip(&c);
	c = (struct mvcc_cmd){ .type = MVCC_CMD_DELETE,
			       .u.del = { .key = "a", .key_len = 1, .range_end = "b",
					  .range_end_len = 1, .prev_kv = true } };
	roundtrip(&c);
	struct mvcc_compare cmp[2] = {
		{ .target = MVCC_CMP_MOD, .result = MVCC_CMP_EQUAL, .key = "k", .key_len = 1,
		  .number = -5 },
		{ .target = MVCC_CMP_VALUE, .result = MVCC_CMP_LESS, .key = "k", .key_len = 1,
		  .value = "zz", .value_len = 2 },
	};
	struct mvcc_op inner_ops[1] = { { .type = MVCC_OP_PUT,
					  .u.put = { .key = "n", .key_len = 1 } } };
	struct mvcc_txn_req inner = { .success = inner_ops, .nsuccess = 1, .failure = inner_ops,
				      .nfailure = 1 };
	struct mvcc_op ops[3] = {
		{ .type = MVCC_OP_PUT,
		  .u.put = { .key = "k", .key_len = 1, .value = "1", .value_len = 1 } },
		{ .type = MVCC_OP_RANGE,
		  .u.range = { .key = "a", .key_len = 1, .range_end = "\0", .range_end_len = 1,
			       .limit = 10, .revision = 3, .sort_order = MVCC_SORT_DESCEND,
			       .sort_target = MVCC_SORT_MOD, .keys_only = true } },
		{ .type = MVCC_OP_TXN, .u.txn = &inner },
	};
	c = (struct mvcc_cmd){ .type = MVCC_CMD_TXN,
			       .u.txn = { .compares = cmp, .ncompares = 2, .success = ops,
					  .nsuccess = 3, .failure = ops + 1, .nfailure = 1 } };
	roundtrip(&c);
	c = (struct mvcc_cmd){ .type = MVCC_CMD_COMPACT, .u.compact.revision = 1LL << 40 };
	roundtrip(&c);
	c = (struct mvcc_cmd){ .type = MVCC_CMD_LEASE_GRANT, .u.lease_grant = { INT64_MAX, 60 } };
	roundtrip(&c);
	c = (struct mvcc_cmd){ .type = MVCC_CMD_LEASE_REVOKE, .u.lease_revoke.id = 3 };
	roundtrip(&c);
	c = (struct mvcc_cmd){ .type = MVCC_CMD_LEASE_CHECKPOINT, .u.lease_checkpoint = { 3, 9 } };
	roundtrip(&c);

	/* Malformed inputs. */
	struct mvcc_cmd d;
	struct kc_err err = { 0 };
	static const uint8_t bad_version[] = { 2, 1, 0, 1, 'k', 0, 0 };
	assert_int_equal(mvcc_cmd_decode(bad_version, sizeof bad_version, &d, &err), -KC_EUNSUPPORTED);
	static const uint8_t bad_type[] = { 1, 99 };
	assert_int_equal(mvcc_cmd_decode(bad_type, sizeof bad_type, &d, &err), -KC_EUNSUPPORTED);
	static const uint8_t bad_flags[] = { 1, 1, 8, 1, 'k', 0, 0 };
	assert_int_equal(mvcc_cmd_decode(bad_flags, sizeof bad_flags, &d, &err), -KC_EPARSE);
	static const uint8_t overlong[] = { 1, 1, 0, 0x81, 0x00, 'k', 0, 0 };
	assert_int_equal(mvcc_cmd_decode(overlong, sizeof overlong, &d, &err), -KC_EPARSE);
	static const uint8_t too_long[] = { 1, 1, 0, 0x7f, 'k' };
	assert_int_equal(mvcc_cmd_decode(too_long, sizeof too_long, &d, &err), -KC_EPARSE);
	static const uint8_t empty_key[] = { 1, 1, 0, 0, 0, 0 };
	assert_int_equal(mvcc_cmd_decode(empty_key, sizeof empty_key, &d, &err), -MVCC_EEMPTY_KEY);
	static const uint8_t huge_count[] = { 1, 3, 0xff, 0xff, 0x03 };
	assert_int_equal(mvcc_cmd_decode(huge_count, sizeof huge_count, &d, &err),
			 -MVCC_ETOO_MANY_OPS);
	static const uint8_t neg_lease[] = { 1, 1, 0, 1, 'k', 0, 1 };
	assert_int_equal(mvcc_cmd_decode(neg_lease, sizeof neg_lease, &d, &err), -KC_EINVAL);

	/* etcd's request checks. */
	struct kc_str s = KC_STR_INIT;
	struct mvcc_put_req p = { .key = "k", .key_len = 1, .value = "v", .value_len = 1,
				  .ignore_value = true };
	assert_int_equal(mvcc_cmd_encode_put(&s, &p, NULL), -MVCC_EVALUE_PROVIDED);
	p = (struct mvcc_put_req){ .key = "k", .key_len = 1, .lease = 1, .ignore_lease = true };
	assert_int_equal(mvcc_cmd_encode_put(&s, &p, NULL), -MVCC_ELEASE_PROVIDED);
	assert_int_equal(mvcc_cmd_encode_lease_grant(&s, 0, 10, NULL), -KC_EINVAL);
	assert_int_equal(mvcc_cmd_encode_compact(&s, 0, NULL), -KC_EINVAL);
	assert_int_equal(s.len, 0);

	/* Duplicate keys: a put twice, a put inside a deleted range, a nested branch clashing with
	 * its parent; the two branches of one nested txn may share a key. */
	struct mvcc_op dup[2] = {
		{ .type = MVCC_OP_PUT, .u.put = { .key = "k", .key_len = 1 } },
		{ .type = MVCC_OP_PUT, .u.put = { .key = "k", .key_len = 1 } },
	};
	struct mvcc_txn_req t = { .success = dup, .nsuccess = 2 };
	assert_int_equal(mvcc_cmd_encode_txn(&s, &t, NULL), -MVCC_EDUP_KEY);
	struct mvcc_op pd[2] = {
		{ .type = MVCC_OP_DELETE, .u.del = { .key = "a", .key_len = 1, .range_end = "z",
						     .range_end_len = 1 } },
		{ .type = MVCC_OP_PUT, .u.put = { .key = "k", .key_len = 1 } },
	};
	t = (struct mvcc_txn_req){ .failure = pd, .nfailure = 2 };
	assert_int_equal(mvcc_cmd_encode_txn(&s, &t, NULL), -MVCC_EDUP_KEY);
	struct mvcc_op nested_ops[2] = {
		{ .type = MVCC_OP_PUT, .u.put = { .key = "n", .key_len = 1 } },
		{ .type = MVCC_OP_TXN, .u.txn = &inner },
	};
	t = (struct mvcc_txn_req){ .success = nested_ops, .nsuccess = 2 };
	assert_int_equal(mvcc_cmd_encode_txn(&s, &t, NULL), -MVCC_EDUP_KEY);
	t = (struct mvcc_txn_req){ .success = nested_ops + 1, .nsuccess = 1 };
	assert_int_equal(mvcc_cmd_encode_txn(&s, &t, NULL), 0);
	kc_str_reset(&s);

	/* Depth and op limits. */
	struct mvcc_txn_req level[MVCC_TXN_DEPTH_MAX + 1];
	struct mvcc_op lop[MVCC_TXN_DEPTH_MAX + 1];
	for (int i = MVCC_TXN_DEPTH_MAX; i >= 0; i--) {
		level[i] = (struct mvcc_txn_req){ 0 };
		if (i < (int)MVCC_TXN_DEPTH_MAX) {
			lop[i] = (struct mvcc_op){ .type = MVCC_OP_TXN, .u.txn = &level[i + 1] };
			level[i].success = &lop[i];
			level[i].nsuccess = 1;
		}
	}
	assert_int_equal(mvcc_cmd_encode_txn(&s, &level[1], NULL), 0);
	kc_str_reset(&s);
	assert_int_equal(mvcc_cmd_encode_txn(&s, &level[0], NULL), -KC_ELIMIT);
	struct mvcc_op *many = xcalloc(MVCC_TXN_OPS_MAX + 1, sizeof *many);
	for (size_t i = 0; i <= MVCC_TXN_OPS_MAX; i++)
		many[i] = (struct mvcc_op){ .type = MVCC_OP_RANGE,
					    .u.range = { .key = "k", .key_len = 1 } };
	t = (struct mvcc_txn_req){ .success = many, .nsuccess = MVCC_TXN_OPS_MAX + 1 };
	assert_int_equal(mvcc_cmd_encode_txn(&s, &t, NULL), -MVCC_ETOO_MANY_OPS);
	free(many);
	kc_str_free(&s);
}

static void test_prefix_end(void **state)
{
	(void)state;
	uint8_t out[8];
	assert_int_equal(mvcc_prefix_end("a", 1, out), 1);
	assert_int_equal(out[0], 'b');
	assert_int_equal(mvcc_prefix_end("a\xff", 2, out), 1);
	assert_int_equal(out[0], 'b');
	assert_int_equal(mvcc_prefix_end("/reg/", 5, out), 5);
	assert_memory_equal(out, "/reg0", 5);
	assert_int_equal(mvcc_prefix_end("\xff\xff", 2, out), 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(mvcc_prefix_end("", 0, out), 1);
	assert_int_equal(out[0], 0);
	assert_true(mvcc_key_in_range("ab", 2, "a", 1, "b", 1));
	assert_false(mvcc_key_in_range("b", 1, "a", 1, "b", 1));
	assert_true(mvcc_key_in_range("zzz", 3, "a", 1, "\0", 1));
	assert_true(mvcc_key_in_range("a", 1, "a", 1, NULL, 0));
	assert_false(mvcc_key_in_range("ab", 2, "a", 1, NULL, 0));
}

/* ---------------------------------------------------------------------------------------------
 * revisions */

static void test_revisions_versions(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	assert_int_equal(mvcc_revision(f.m), 0);
	assert_int_equal(put(&f, "a", "1"), 1);
	assert_int_equal(put(&f, "a", "2"), 2);
	assert_int_equal(put(&f, "b", "1"), 3);
	struct mvcc_kv kv = { 0 };
	assert_true(get(&f, "a", 0, &kv));
	assert_int_equal(kv.create_revision, 1);
	assert_int_equal(kv.mod_revision, 2);
	assert_int_equal(kv.version, 2);
	assert_true(kv_value_is(&kv, "2"));
	mvcc_kv_free(&kv);
	int64_t deleted;
	assert_int_equal(del(&f, "a", NULL, &deleted), 4);
	assert_int_equal(deleted, 1);
	assert_false(get(&f, "a", 0, NULL));
	/* Deleting nothing changes nothing: no new revision. */
	assert_int_equal(del(&f, "a", NULL, &deleted), 4);
	assert_int_equal(deleted, 0);
	/* Re-creation: version restarts at 1, create_revision is the new one. */
	assert_int_equal(put(&f, "a", "3"), 5);
	assert_true(get(&f, "a", 0, &kv));
	assert_int_equal(kv.create_revision, 5);
	assert_int_equal(kv.version, 1);
	mvcc_kv_free(&kv);
	/* Events: one per change, each with its revision and prev_kv. */
	assert_int_equal(f.evs.len, 5);
	assert_int_equal(f.evs.v[1].type, MVCC_EVENT_PUT);
	assert_true(f.evs.v[1].has_prev);
	assert_true(kv_value_is(&f.evs.v[1].prev_kv, "1"));
	assert_int_equal(f.evs.v[3].type, MVCC_EVENT_DELETE);
	assert_int_equal(f.evs.v[3].kv.mod_revision, 4);
	assert_int_equal(f.evs.v[3].kv.version, 0);
	assert_true(kv_value_is(&f.evs.v[3].prev_kv, "2"));
	assert_false(f.evs.v[4].has_prev);
	/* Delete range with prev_kv; a malformed command is rejected but counts as applied. */
	put(&f, "b2", "x");
	struct kc_str s = KC_STR_INIT;
	struct mvcc_delete_req d = { .key = "b", .key_len = 1, .range_end = "c", .range_end_len = 1,
				     .prev_kv = true };
	struct mvcc_result r;
	simple_cmd(&f, mvcc_cmd_encode_delete(&s, &d, NULL), &s, 0, &r);
	assert_int_equal(r.u.del.deleted, 2);
	assert_int_equal(r.u.del.nprev, 2);
	assert_true(key_is(&r.u.del.prev_kvs[0], "b"));
	assert_true(key_is(&r.u.del.prev_kvs[1], "b2"));
	assert_int_equal(r.revision, 7);
	mvcc_result_free(&r);
	uint64_t before = mvcc_applied_index(f.m);
	assert_int_equal(mvcc_apply(f.m, ++f.idx, "\x01\x63junk", 6, &r, NULL, NULL), 0);
	assert_true(r.err.code < 0);
	assert_int_equal(r.revision, 7);
	assert_int_equal(mvcc_applied_index(f.m), before + 1);
	mvcc_result_free(&r);
	kc_str_free(&s);
	fx_close(&f);
}

static void test_put_flags(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	struct kc_str s = KC_STR_INIT;
	struct mvcc_result r;
	simple_cmd(&f, mvcc_cmd_encode_lease_grant(&s, 5, 30, NULL), &s, 0, NULL);
	put_full(&f, "k", "v1", 5, 0);
	struct mvcc_put_req p = { .key = "k", .key_len = 1, .value = "v2", .value_len = 2,
				  .prev_kv = true, .ignore_lease = true };
	simple_cmd(&f, mvcc_cmd_encode_put(&s, &p, NULL), &s, 0, &r);
	assert_true(r.u.put.has_prev);
	assert_true(kv_value_is(&r.u.put.prev_kv, "v1"));
	mvcc_result_free(&r);
	struct mvcc_kv kv = { 0 };
	assert_true(get(&f, "k", 0, &kv));
	assert_int_equal(kv.lease, 5);   /* ignore_lease kept it */
	assert_true(kv_value_is(&kv, "v2"));
	mvcc_kv_free(&kv);
	p = (struct mvcc_put_req){ .key = "k", .key_len = 1, .ignore_value = true };
	simple_cmd(&f, mvcc_cmd_encode_put(&s, &p, NULL), &s, 0, NULL);
	assert_true(get(&f, "k", 0, &kv));
	assert_true(kv_value_is(&kv, "v2"));   /* ignore_value kept it */
	assert_int_equal(kv.lease, 0);         /* and the lease was not ignored */
	assert_int_equal(kv.version, 3);
	mvcc_kv_free(&kv);
	int64_t rev = mvcc_revision(f.m);
	p = (struct mvcc_put_req){ .key = "missing", .key_len = 7, .ignore_value = true };
	simple_cmd(&f, mvcc_cmd_encode_put(&s, &p, NULL), &s, -MVCC_EKEY_NOT_FOUND, NULL);
	put_full(&f, "x", "y", 99, -MVCC_ELEASE_NOT_FOUND);
	assert_int_equal(mvcc_revision(f.m), rev);
	kc_str_free(&s);
	fx_close(&f);
}

/* ---------------------------------------------------------------------------------------------
 * ranges */

static struct mvcc_range_resp range(struct fx *f, struct mvcc_range_req q, int want)
{
	struct mvcc_range_resp r;
	struct kc_err err = { 0 };
	assert_int_equal(mvcc_range(f->m, &q, &r, &err), want);
	return r;
}

static void test_range(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	const char *keys[] = { "/a/1", "/a/2", "/a/3", "/b/1", "/b/2", "/c" };
	for (int i = 0; i < 6; i++)
		put(&f, keys[i], keys[5 - i]);
	uint8_t end[8];
	size_t elen = mvcc_prefix_end("/a/", 3, end);
	struct mvcc_range_resp r =
		range(&f, (struct mvcc_range_req){ .key = "/a/", .key_len = 3, .range_end = end,
						   .range_end_len = elen }, 0);
	assert_int_equal(r.nkvs, 3);
	assert_int_equal(r.count, 3);
	assert_false(r.more);
	assert_int_equal(r.revision, 6);
	assert_true(key_is(&r.kvs[2], "/a/3"));
	mvcc_range_resp_free(&r);

	/* Pagination the Kubernetes way: limit, then continue from the last key + "\0". */
	int pages = 0, seen = 0;
	char from[32] = "\0";
	size_t from_len = 1;
	for (bool more = true; more; pages++) {
		r = range(&f, (struct mvcc_range_req){ .key = from, .key_len = from_len,
						       .range_end = "\0", .range_end_len = 1,
						       .limit = 4 }, 0);
		if (pages == 0) {
			assert_int_equal(r.count, 6);
			assert_true(r.more);
		}
		seen += (int)r.nkvs;
		more = r.more;
		const struct mvcc_kv *lastkv = &r.kvs[r.nkvs - 1];
		memcpy(from, lastkv->key, lastkv->key_len);
		from[lastkv->key_len] = '\0';
		from_len = lastkv->key_len + 1;
		mvcc_range_resp_free(&r);
	}
	assert_int_equal(pages, 2);
	assert_int_equal(seen, 6);

	/* count_only, keys_only, single key, missing key, empty interval, empty key. */
	r = range(&f, (struct mvcc_range_req){ .key = "/b", .key_len = 2, .range_end = "\0",
					       .range_end_len = 1, .count_only = true }, 0);
	assert_int_equal(r.count, 3);
	assert_int_equal(r.nkvs, 0);
	mvcc_range_resp_free(&r);
	r = range(&f, (struct mvcc_range_req){ .key = "/a/1", .key_len = 4, .keys_only = true }, 0);
	assert_int_equal(r.nkvs, 1);
	assert_int_equal(r.kvs[0].value_len, 0);
	assert_int_equal(r.kvs[0].version, 1);
	mvcc_range_resp_free(&r);
	r = range(&f, (struct mvcc_range_req){ .key = "/zz", .key_len = 3 }, 0);
	assert_int_equal(r.nkvs, 0);
	assert_int_equal(r.count, 0);
	mvcc_range_resp_free(&r);
	r = range(&f, (struct mvcc_range_req){ .key = "/b", .key_len = 2, .range_end = "/a",
					       .range_end_len = 2 }, 0);
	assert_int_equal(r.count, 0);
	mvcc_range_resp_free(&r);
	r = range(&f, (struct mvcc_range_req){ .key = "", .key_len = 0 }, -MVCC_EEMPTY_KEY);
	mvcc_range_resp_free(&r);

	/* Sorting: by key descending with a limit, by value ascending (etcd sorts before limiting). */
	r = range(&f, (struct mvcc_range_req){ .key = "\0", .key_len = 1, .range_end = "\0",
					       .range_end_len = 1, .limit = 2,
					       .sort_order = MVCC_SORT_DESCEND }, 0);
	assert_int_equal(r.nkvs, 2);
	assert_true(key_is(&r.kvs[0], "/c"));
	assert_true(key_is(&r.kvs[1], "/b/2"));
	assert_true(r.more);
	assert_int_equal(r.count, 6);
	mvcc_range_resp_free(&r);
	r = range(&f, (struct mvcc_range_req){ .key = "\0", .key_len = 1, .range_end = "\0",
					       .range_end_len = 1, .limit = 1,
					       .sort_target = MVCC_SORT_VALUE }, 0);
	assert_int_equal(r.nkvs, 1);
	assert_true(key_is(&r.kvs[0], "/c"));   /* value "/a/1" is the smallest */
	mvcc_range_resp_free(&r);
	put(&f, "/a/1", "new");
	r = range(&f, (struct mvcc_range_req){ .key = "\0", .key_len = 1, .range_end = "\0",
					       .range_end_len = 1, .sort_order = MVCC_SORT_DESCEND,
					       .sort_target = MVCC_SORT_MOD }, 0);
	assert_true(key_is(&r.kvs[0], "/a/1"));
	assert_true(key_is(&r.kvs[1], "/c"));
	mvcc_range_resp_free(&r);
	fx_close(&f);
}

static void test_historical_reads(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	put(&f, "a", "a1");          /* 1 */
	put(&f, "b", "b1");          /* 2 */
	put(&f, "a", "a2");          /* 3 */
	del(&f, "b", NULL, NULL);    /* 4 */
	put(&f, "c", "c1");          /* 5 */
	put(&f, "b", "b2");          /* 6 */
	struct mvcc_kv kv = { 0 };
	assert_true(get(&f, "a", 2, &kv));
	assert_true(kv_value_is(&kv, "a1"));
	assert_int_equal(kv.mod_revision, 1);
	assert_int_equal(kv.version, 1);
	mvcc_kv_free(&kv);
	assert_true(get(&f, "a", 3, &kv));
	assert_true(kv_value_is(&kv, "a2"));
	assert_int_equal(kv.version, 2);
	assert_int_equal(kv.create_revision, 1);
	mvcc_kv_free(&kv);
	assert_false(get(&f, "b", 4, NULL));
	assert_false(get(&f, "b", 5, NULL));
	assert_true(get(&f, "b", 6, &kv));
	assert_int_equal(kv.version, 1);
	mvcc_kv_free(&kv);
	assert_false(get(&f, "c", 4, NULL));
	int64_t want_count[7] = { 0, 1, 2, 2, 1, 2, 3 };
	for (int64_t rev = 1; rev <= 6; rev++) {
		struct mvcc_range_resp r = range(
			&f, (struct mvcc_range_req){ .key = "a", .key_len = 1, .range_end = "\0",
						     .range_end_len = 1, .revision = rev }, 0);
		assert_int_equal(r.count, want_count[rev]);
		assert_int_equal(r.revision, 6);
		mvcc_range_resp_free(&r);
	}
	struct mvcc_range_resp r = range(
		&f, (struct mvcc_range_req){ .key = "a", .key_len = 1, .range_end = "\0",
					     .range_end_len = 1, .revision = 5, .limit = 1 }, 0);
	assert_int_equal(r.nkvs, 1);
	assert_int_equal(r.count, 2);
	assert_true(r.more);
	assert_true(key_is(&r.kvs[0], "a"));
	mvcc_range_resp_free(&r);
	r = range(&f, (struct mvcc_range_req){ .key = "a", .key_len = 1, .revision = 7 },
		  -MVCC_EFUTURE_REV);
	mvcc_range_resp_free(&r);

	/* History paging never splits a revision. */
	struct kc_str s = KC_STR_INIT;
	struct mvcc_op ops[3] = {
		{ .type = MVCC_OP_PUT, .u.put = { .key = "x1", .key_len = 2 } },
		{ .type = MVCC_OP_PUT, .u.put = { .key = "x2", .key_len = 2 } },
		{ .type = MVCC_OP_PUT, .u.put = { .key = "x3", .key_len = 2 } },
	};
	struct mvcc_txn_req t = { .success = ops, .nsuccess = 3 };
	simple_cmd(&f, mvcc_cmd_encode_txn(&s, &t, NULL), &s, 0, NULL);   /* rev 7 */
	struct mvcc_events evs;
	mvcc_events_init(&evs);
	int64_t next = 0;
	struct mvcc_history_req hq = { .key = "\0", .key_len = 1, .range_end = "\0",
				       .range_end_len = 1, .from_rev = 6, .to_rev = 7,
				       .max_events = 2, .prev_kv = true };
	assert_int_equal(mvcc_history(f.m, &hq, &evs, &next, NULL), 0);
	assert_int_equal(evs.len, 4);   /* rev 6 then all three of rev 7 */
	assert_int_equal(next, 8);
	assert_int_equal(evs.v[3].sub, 2);
	mvcc_events_truncate(&evs, 0);
	hq.from_rev = 3;
	hq.max_events = 1;
	assert_int_equal(mvcc_history(f.m, &hq, &evs, &next, NULL), 0);
	assert_int_equal(evs.len, 1);
	assert_int_equal(next, 4);
	assert_true(evs.v[0].has_prev);
	assert_true(kv_value_is(&evs.v[0].prev_kv, "a1"));
	mvcc_events_free(&evs);
	kc_str_free(&s);
	fx_close(&f);
}

/* ---------------------------------------------------------------------------------------------
 * txn */

static struct mvcc_result txn(struct fx *f, const struct mvcc_txn_req *t, int want_err)
{
	struct kc_str s = KC_STR_INIT;
	struct mvcc_result r;
	simple_cmd(f, mvcc_cmd_encode_txn(&s, t, NULL), &s, want_err, &r);
	kc_str_free(&s);
	return r;
}

static bool cmp1(struct fx *f, struct mvcc_compare c)
{
	struct mvcc_op rd = { .type = MVCC_OP_RANGE, .u.range = { .key = "zz", .key_len = 2 } };
	struct mvcc_txn_req t = { .compares = &c, .ncompares = 1, .success = &rd, .nsuccess = 1 };
	int64_t rev = mvcc_revision(f->m);
	struct mvcc_result r = txn(f, &t, 0);
	bool ok = r.u.txn.succeeded;
	assert_int_equal(r.u.txn.nresponses, ok ? 1 : 0);
	assert_int_equal(r.revision, rev);   /* read-only: no new revision */
	mvcc_result_free(&r);
	return ok;
}

static void test_txn(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	put(&f, "k", "v");     /* 1 */
	put(&f, "k", "w");     /* 2 */
	put(&f, "k2", "v");    /* 3 */
#define CMP(T, R, K, N) ((struct mvcc_compare){ .target = T, .result = R, .key = K, \
					       .key_len = strlen(K), .number = N })
	/* etcd quirk: a missing key compares as version = create = mod = 0. */
	assert_true(cmp1(&f, CMP(MVCC_CMP_VERSION, MVCC_CMP_EQUAL, "nope", 0)));
	assert_true(cmp1(&f, CMP(MVCC_CMP_CREATE, MVCC_CMP_EQUAL, "nope", 0)));
	assert_true(cmp1(&f, CMP(MVCC_CMP_MOD, MVCC_CMP_EQUAL, "nope", 0)));
	assert_true(cmp1(&f, CMP(MVCC_CMP_MOD, MVCC_CMP_LESS, "nope", 1)));
	assert_false(cmp1(&f, CMP(MVCC_CMP_VERSION, MVCC_CMP_GREATER, "nope", 0)));
	struct mvcc_compare vc = { .target = MVCC_CMP_VALUE, .result = MVCC_CMP_NOT_EQUAL,
				   .key = "nope", .key_len = 4, .value = "x", .value_len = 1 };
	assert_false(cmp1(&f, vc));   /* any value compare on a missing key fails */
	assert_true(cmp1(&f, CMP(MVCC_CMP_VERSION, MVCC_CMP_EQUAL, "k", 2)));
	assert_true(cmp1(&f, CMP(MVCC_CMP_CREATE, MVCC_CMP_EQUAL, "k", 1)));
	assert_true(cmp1(&f, CMP(MVCC_CMP_MOD, MVCC_CMP_EQUAL, "k", 2)));
	assert_true(cmp1(&f, CMP(MVCC_CMP_MOD, MVCC_CMP_GREATER, "k", 1)));
	assert_true(cmp1(&f, CMP(MVCC_CMP_MOD, MVCC_CMP_NOT_EQUAL, "k", 1)));
	assert_true(cmp1(&f, CMP(MVCC_CMP_LEASE, MVCC_CMP_EQUAL, "k", 0)));
	vc = (struct mvcc_compare){ .target = MVCC_CMP_VALUE, .result = MVCC_CMP_EQUAL, .key = "k",
				    .key_len = 1, .value = "w", .value_len = 1 };
	assert_true(cmp1(&f, vc));
	vc.result = MVCC_CMP_GREATER;
	vc.value = "v";
	assert_true(cmp1(&f, vc));
	/* Over a range every key must satisfy it. */
	struct mvcc_compare rc = CMP(MVCC_CMP_VERSION, MVCC_CMP_EQUAL, "k", 1);
	rc.range_end = "l";
	rc.range_end_len = 1;
	assert_false(cmp1(&f, rc));   /* k has version 2 */
	rc.result = MVCC_CMP_GREATER;
	rc.number = 0;
	assert_true(cmp1(&f, rc));

	/* Kubernetes' OptimisticPut: if mod_revision == expected then put else get. */
	struct mvcc_compare guard = CMP(MVCC_CMP_MOD, MVCC_CMP_EQUAL, "k", 2);
	struct mvcc_op then[2] = {
		{ .type = MVCC_OP_PUT, .u.put = { .key = "k", .key_len = 1, .value = "x",
						  .value_len = 1, .prev_kv = true } },
		{ .type = MVCC_OP_PUT, .u.put = { .key = "k3", .key_len = 2, .value = "y",
						  .value_len = 1 } },
	};
	struct mvcc_op els = { .type = MVCC_OP_RANGE, .u.range = { .key = "k", .key_len = 1 } };
	struct mvcc_txn_req t = { .compares = &guard, .ncompares = 1, .success = then,
				  .nsuccess = 2, .failure = &els, .nfailure = 1 };
	size_t ev0 = f.evs.len;
	struct mvcc_result r = txn(&f, &t, 0);
	assert_true(r.u.txn.succeeded);
	assert_int_equal(r.revision, 4);   /* two puts, one revision */
	assert_true(r.u.txn.responses[0].u.put.has_prev);
	mvcc_result_free(&r);
	assert_int_equal(f.evs.len, ev0 + 2);
	assert_int_equal(f.evs.v[ev0].revision, 4);
	assert_int_equal(f.evs.v[ev0 + 1].revision, 4);
	assert_int_equal(f.evs.v[ev0].sub, 0);
	assert_int_equal(f.evs.v[ev0 + 1].sub, 1);
	struct mvcc_kv kv = { 0 };
	assert_true(get(&f, "k3", 0, &kv));
	assert_int_equal(kv.create_revision, 4);
	mvcc_kv_free(&kv);
	/* Same txn again: the guard fails, the else branch reads, nothing changes. */
	r = txn(&f, &t, 0);
	assert_false(r.u.txn.succeeded);
	assert_int_equal(r.revision, 4);
	assert_int_equal(r.u.txn.responses[0].type, MVCC_OP_RANGE);
	assert_int_equal(r.u.txn.responses[0].u.range.kvs[0].mod_revision, 4);
	mvcc_result_free(&r);

	/* Reads inside a txn see the txn's earlier writes; an explicit current revision does not. */
	struct mvcc_op rw[3] = {
		{ .type = MVCC_OP_PUT, .u.put = { .key = "n", .key_len = 1, .value = "1",
						  .value_len = 1 } },
		{ .type = MVCC_OP_RANGE, .u.range = { .key = "n", .key_len = 1 } },
		{ .type = MVCC_OP_RANGE, .u.range = { .key = "n", .key_len = 1, .revision = 4 } },
	};
	t = (struct mvcc_txn_req){ .success = rw, .nsuccess = 3 };
	r = txn(&f, &t, 0);
	assert_int_equal(r.u.txn.responses[1].u.range.nkvs, 1);
	assert_int_equal(r.u.txn.responses[2].u.range.nkvs, 0);
	assert_int_equal(r.revision, 5);
	mvcc_result_free(&r);

	/* A rejected txn leaves no trace: the put before the bad lease is rolled back. */
	struct mvcc_op bad[2] = {
		{ .type = MVCC_OP_PUT, .u.put = { .key = "p", .key_len = 1 } },
		{ .type = MVCC_OP_PUT, .u.put = { .key = "q", .key_len = 1, .lease = 42 } },
	};
	t = (struct mvcc_txn_req){ .success = bad, .nsuccess = 2 };
	ev0 = f.evs.len;
	r = txn(&f, &t, -MVCC_ELEASE_NOT_FOUND);
	assert_int_equal(r.revision, 5);
	assert_int_equal(r.u.txn.nresponses, 0);
	mvcc_result_free(&r);
	assert_false(get(&f, "p", 0, NULL));
	assert_int_equal(f.evs.len, ev0);
	/* A range on a future revision inside a txn rejects it too. */
	struct mvcc_op fut[2] = {
		{ .type = MVCC_OP_PUT, .u.put = { .key = "p", .key_len = 1 } },
		{ .type = MVCC_OP_RANGE, .u.range = { .key = "p", .key_len = 1, .revision = 99 } },
	};
	t = (struct mvcc_txn_req){ .success = fut, .nsuccess = 2 };
	r = txn(&f, &t, -MVCC_EFUTURE_REV);
	mvcc_result_free(&r);
	assert_false(get(&f, "p", 0, NULL));

	/* Nested txn: its compares see the state before the outer txn ran. */
	struct mvcc_compare nc = CMP(MVCC_CMP_VERSION, MVCC_CMP_EQUAL, "m", 0);
	struct mvcc_op nthen = { .type = MVCC_OP_PUT, .u.put = { .key = "m2", .key_len = 2 } };
	struct mvcc_txn_req inner = { .compares = &nc, .ncompares = 1, .success = &nthen,
				      .nsuccess = 1 };
	struct mvcc_op outer[2] = {
		{ .type = MVCC_OP_PUT, .u.put = { .key = "m", .key_len = 1 } },
		{ .type = MVCC_OP_TXN, .u.txn = &inner },
	};
	t = (struct mvcc_txn_req){ .success = outer, .nsuccess = 2 };
	r = txn(&f, &t, 0);
	assert_true(r.u.txn.responses[1].u.txn.succeeded);
	assert_int_equal(r.revision, 6);
	mvcc_result_free(&r);
	assert_true(get(&f, "m2", 0, NULL));
	/* An empty txn is a no-op. */
	t = (struct mvcc_txn_req){ 0 };
	r = txn(&f, &t, 0);
	assert_true(r.u.txn.succeeded);
	assert_int_equal(r.revision, 6);
	mvcc_result_free(&r);
#undef CMP
	fx_close(&f);
}

/* ---------------------------------------------------------------------------------------------
 * leases */

static void test_leases(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	struct kc_str s = KC_STR_INIT;
	struct mvcc_result r;
	simple_cmd(&f, mvcc_cmd_encode_lease_grant(&s, 7, 10, NULL), &s, 0, &r);
	assert_int_equal(r.u.lease_grant.id, 7);
	assert_int_equal(r.revision, 0);   /* grant does not make a revision */
	mvcc_result_free(&r);
	simple_cmd(&f, mvcc_cmd_encode_lease_grant(&s, 7, 10, NULL), &s, -MVCC_ELEASE_EXISTS, NULL);
	simple_cmd(&f, mvcc_cmd_encode_lease_grant(&s, 8, 100, NULL), &s, 0, NULL);
	put_full(&f, "l/a", "1", 7, 0);
	put_full(&f, "l/b", "1", 7, 0);
	put_full(&f, "l/c", "1", 8, 0);
	put(&f, "plain", "1");
	put_full(&f, "l/b", "2", 7, 0);   /* rev 5 */
	struct mvcc_range_resp keys;
	assert_int_equal(mvcc_lease_keys(f.m, 7, &keys, NULL), 0);
	assert_int_equal(keys.nkvs, 2);
	assert_true(key_is(&keys.kvs[0], "l/a"));
	mvcc_range_resp_free(&keys);

	/* Expiry is local bookkeeping on the caller's clock. */
	uint64_t now = 1000000;
	int64_t ids[4];
	assert_int_equal(mvcc_lease_expired(f.m, now, ids, 4), 0);   /* arms both */
	struct mvcc_lease_info info;
	assert_int_equal(mvcc_lease_get(f.m, 7, now + 4000, &info), 0);
	assert_int_equal(info.ttl, 10);
	assert_int_equal(info.remaining, 6);
	assert_int_equal(mvcc_lease_expired(f.m, now + 10000, ids, 4), 1);
	assert_int_equal(ids[0], 7);
	int64_t ttl;
	assert_int_equal(mvcc_lease_keepalive(f.m, 7, now + 9000, &ttl), 0);
	assert_int_equal(ttl, 10);
	assert_int_equal(mvcc_lease_expired(f.m, now + 10000, ids, 4), 0);
	assert_int_equal(mvcc_lease_keepalive(f.m, 99, now, &ttl), -MVCC_ELEASE_NOT_FOUND);
	/* A checkpoint records the remaining TTL; a new leader starts from it plus the extension. */
	simple_cmd(&f, mvcc_cmd_encode_lease_checkpoint(&s, 8, 30, NULL), &s, 0, NULL);
	mvcc_lease_promote(f.m, now, 2000);
	assert_int_equal(mvcc_lease_get(f.m, 8, now, &info), 0);
	assert_int_equal(info.remaining, 32);
	assert_int_equal(mvcc_lease_get(f.m, 7, now, &info), 0);
	assert_int_equal(info.remaining, 12);
	struct mvcc_lease_info *all;
	size_t n;
	mvcc_lease_list(f.m, now, &all, &n);
	assert_int_equal(n, 2);
	assert_int_equal(all[0].id, 7);
	free(all);

	/* Revoke deletes every attached key in one revision, with a DELETE event each. */
	size_t ev0 = f.evs.len;
	simple_cmd(&f, mvcc_cmd_encode_lease_revoke(&s, 7, NULL), &s, 0, &r);
	assert_int_equal(r.u.lease_revoke.deleted, 2);
	assert_int_equal(r.revision, 6);
	mvcc_result_free(&r);
	assert_int_equal(f.evs.len, ev0 + 2);
	for (size_t i = ev0; i < f.evs.len; i++) {
		assert_int_equal(f.evs.v[i].type, MVCC_EVENT_DELETE);
		assert_int_equal(f.evs.v[i].revision, 6);
		assert_true(f.evs.v[i].has_prev);
	}
	assert_false(get(&f, "l/a", 0, NULL));
	assert_true(get(&f, "l/c", 0, NULL));
	assert_true(get(&f, "plain", 0, NULL));
	assert_int_equal(mvcc_lease_get(f.m, 7, now, &info), -MVCC_ELEASE_NOT_FOUND);
	simple_cmd(&f, mvcc_cmd_encode_lease_revoke(&s, 7, NULL), &s, -MVCC_ELEASE_NOT_FOUND, NULL);
	/* Revoking a lease with no keys makes no revision. */
	simple_cmd(&f, mvcc_cmd_encode_lease_grant(&s, 9, 10, NULL), &s, 0, NULL);
	simple_cmd(&f, mvcc_cmd_encode_lease_revoke(&s, 9, NULL), &s, 0, &r);
	assert_int_equal(r.revision, 6);
	mvcc_result_free(&r);
	kc_str_free(&s);
	fx_close(&f);
}

/* ---------------------------------------------------------------------------------------------
 * compaction */

static void compact_all(struct fx *f)
{
	bool done = false;
	struct kc_err err = { 0 };
	for (int i = 0; !done; i++) {
		if (mvcc_compact_step(f->m, 7, &done, &err) < 0)
			fail_msg("compact step: %s", err.msg);
		assert_true(i < 100000);
	}
}

static int64_t history_rows(struct fx *f)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM history", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Dumps the whole keyspace at rev into a string, for before/after comparisons. */
static void dump_at(struct fx *f, int64_t rev, struct kc_str *out)
{
	struct mvcc_range_resp r = range(f, (struct mvcc_range_req){ .key = "\0", .key_len = 1,
								      .range_end = "\0",
								      .range_end_len = 1,
								      .revision = rev }, 0);
	for (size_t i = 0; i < r.nkvs; i++)
		kc_str_addf(out, "%s=%s c%lld m%lld v%lld;", (char *)r.kvs[i].key,
			    (char *)r.kvs[i].value, (long long)r.kvs[i].create_revision,
			    (long long)r.kvs[i].mod_revision, (long long)r.kvs[i].version);
	mvcc_range_resp_free(&r);
}

static void test_compaction(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, true);
	char k[16], v[16];
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof k, "k%d", i % 13);
		snprintf(v, sizeof v, "v%d", i);
		put(&f, k, v);
		if (i % 17 == 16)
			del(&f, k, NULL, NULL);
	}
	int64_t cur = mvcc_revision(f.m), C = cur - 40;
	struct kc_str before[41];
	for (int64_t r = C; r <= cur; r++) {
		kc_str_init(&before[r - C]);
		dump_at(&f, r, &before[r - C]);
	}
	int64_t rows0 = history_rows(&f);
	struct kc_str s = KC_STR_INIT;
	simple_cmd(&f, mvcc_cmd_encode_compact(&s, C, NULL), &s, 0, NULL);
	assert_int_equal(mvcc_compact_revision(f.m), C);
	assert_int_equal(mvcc_revision(f.m), cur);   /* compaction makes no revision */
	struct mvcc_range_resp r = range(&f, (struct mvcc_range_req){ .key = "k1", .key_len = 2,
								      .revision = C - 1 },
					 -MVCC_ECOMPACTED);
	mvcc_range_resp_free(&r);
	simple_cmd(&f, mvcc_cmd_encode_compact(&s, C, NULL), &s, -MVCC_ECOMPACTED, NULL);
	simple_cmd(&f, mvcc_cmd_encode_compact(&s, cur + 1, NULL), &s, -MVCC_EFUTURE_REV, NULL);
	struct mvcc_status st;
	assert_int_equal(mvcc_status(f.m, &st, NULL), 0);
	assert_true(st.compaction_pending);
	compact_all(&f);
	assert_int_equal(mvcc_status(f.m, &st, NULL), 0);
	assert_false(st.compaction_pending);
	int64_t rows1 = history_rows(&f);
	assert_true(rows1 < rows0 / 3);
	/* Every retained revision reads exactly as before. */
	for (int64_t rv = C; rv <= cur; rv++) {
		struct kc_str after = KC_STR_INIT;
		dump_at(&f, rv, &after);
		assert_string_equal(after.buf, before[rv - C].buf);
		kc_str_free(&after);
		kc_str_free(&before[rv - C]);
	}
	/* A second compaction continues from the cursor; survives a reopen. */
	for (int i = 0; i < 30; i++)
		put(&f, "k1", "again");
	int64_t C2 = mvcc_revision(f.m) - 5;
	simple_cmd(&f, mvcc_cmd_encode_compact(&s, C2, NULL), &s, 0, NULL);
	bool done;
	assert_int_equal(mvcc_compact_step(f.m, 3, &done, NULL), 0);
	assert_false(done);
	mvcc_close(f.m);
	f.m = open_path(f.path, MVCC_OPEN_QUICK_CHECK, MVCC_SYNC_NORMAL);
	assert_int_equal(mvcc_compact_revision(f.m), C2);
	compact_all(&f);
	struct kc_str now = KC_STR_INIT;
	dump_at(&f, C2, &now);
	assert_non_null(strstr(now.buf, "k1=again"));
	kc_str_free(&now);
	kc_str_free(&s);
	fx_close(&f);
}

static void test_compact_policy(void **state)
{
	(void)state;
	struct mvcc_compact_policy p;
	mvcc_compact_policy_init(&p, 100, 0);
	assert_int_equal(mvcc_compact_policy_due(&p, 0, 50, 0), 0);
	assert_int_equal(mvcc_compact_policy_due(&p, 0, 1000, 0), 900);
	assert_int_equal(mvcc_compact_policy_due(&p, 0, 1000, 900), 0);
	/* By time: revision r at minute r; keep 5 minutes. */
	mvcc_compact_policy_init(&p, 0, 5 * 60000);
	int64_t last = 0;
	for (int64_t minute = 0; minute <= 60; minute++) {
		int64_t t = mvcc_compact_policy_due(&p, (uint64_t)minute * 60000, minute * 10, last);
		if (t) {
			assert_true(t <= (minute - 5) * 10);
			assert_true(t >= (minute - 7) * 10);
			last = t;
		}
	}
	assert_true(last >= 530);
	/* Both: whichever keeps more. */
	mvcc_compact_policy_init(&p, 10, 60000);
	assert_int_equal(mvcc_compact_policy_due(&p, 0, 100, 0), 0);
	assert_int_equal(mvcc_compact_policy_due(&p, 120000, 500, 0), 100);
}

/* ---------------------------------------------------------------------------------------------
 * durability, identity */

static void test_replay_idempotent(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, true);
	struct kc_str cmds[20];
	struct mvcc_entry e[20];
	for (int i = 0; i < 20; i++) {
		kc_str_init(&cmds[i]);
		char k[8];
		snprintf(k, sizeof k, "k%d", i % 5);
		struct mvcc_put_req p = { .key = k, .key_len = strlen(k), .value = "v",
					  .value_len = 1 };
		assert_int_equal(mvcc_cmd_encode_put(&cmds[i], &p, NULL), 0);
		e[i] = (struct mvcc_entry){ (uint64_t)i + 1, cmds[i].buf, cmds[i].len };
	}
	struct mvcc_result res[20];
	assert_int_equal(mvcc_apply_batch(f.m, e, 12, res, NULL, NULL), 0);
	for (int i = 0; i < 12; i++)
		mvcc_result_free(&res[i]);
	assert_int_equal(mvcc_revision(f.m), 12);
	mvcc_close(f.m);
	/* Restart: the Raft log replays from an older index; what was applied is skipped. */
	f.m = open_path(f.path, MVCC_OPEN_NO_CREATE, MVCC_SYNC_FULL);
	assert_int_equal(mvcc_applied_index(f.m), 12);
	assert_int_equal(mvcc_revision(f.m), 12);
	struct mvcc_events evs;
	mvcc_events_init(&evs);
	assert_int_equal(mvcc_apply_batch(f.m, e + 5, 15, res, &evs, NULL), 0);
	for (int i = 0; i < 15; i++) {
		assert_int_equal(res[i].skipped, i < 7);
		mvcc_result_free(&res[i]);
	}
	assert_int_equal(evs.len, 8);   /* events only for the new entries */
	assert_int_equal(evs.v[0].revision, 13);
	assert_int_equal(mvcc_revision(f.m), 20);
	assert_int_equal(mvcc_applied_index(f.m), 20);
	struct mvcc_kv kv = { 0 };
	assert_true(get(&f, "k0", 0, &kv));
	assert_int_equal(kv.version, 4);
	mvcc_kv_free(&kv);
	mvcc_events_free(&evs);
	for (int i = 0; i < 20; i++)
		kc_str_free(&cmds[i]);
	fx_close(&f);
}

/* The child applies batches until killed; a put per index, so revision == applied index. */
static void crash_child(const char *path)
{
	struct mvcc *m = open_path(path, 0, MVCC_SYNC_FULL);
	struct kc_str cmd[16];
	struct mvcc_entry e[16];
	struct mvcc_result res[16];
	uint64_t idx = mvcc_applied_index(m);
	for (;;) {
		for (int i = 0; i < 16; i++) {
			kc_str_init(&cmd[i]);
			char k[24], v[24];
			unsigned long long at = idx + 1 + (uint64_t)i;
			snprintf(k, sizeof k, "k%llu", at % 50);
			snprintf(v, sizeof v, "v%llu", at);
			struct mvcc_put_req p = { .key = k, .key_len = strlen(k), .value = v,
						  .value_len = strlen(v) };
			mvcc_cmd_encode_put(&cmd[i], &p, NULL);
			e[i] = (struct mvcc_entry){ idx + 1 + (uint64_t)i, cmd[i].buf, cmd[i].len };
		}
		if (mvcc_apply_batch(m, e, 16, res, NULL, NULL) < 0)
			_exit(3);
		for (int i = 0; i < 16; i++) {
			mvcc_result_free(&res[i]);
			kc_str_free(&cmd[i]);
		}
		idx += 16;
	}
}

/* A batch that fails inside SQLite (here: the quota, i.e. a full disk) leaves no trace: not on
 * disk, not in the in-memory revision, applied index or lease table, not in the events. */
static void test_batch_failure_rolls_back(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof f);
	fx_mkdir(&f);
	struct mvcc_options o = { .path = f.path, .cluster_id = CLUSTER, .member_id = MEMBER,
				  .sync = MVCC_SYNC_NORMAL, .quota_bytes = 256u << 10 };
	struct kc_err err = { 0 };
	assert_int_equal(mvcc_open(&o, &f.m, &err), 0);
	mvcc_events_init(&f.evs);
	struct kc_str s = KC_STR_INIT;
	simple_cmd(&f, mvcc_cmd_encode_lease_grant(&s, 5, 60, NULL), &s, 0, NULL);
	put(&f, "small", "1");
	size_t ev0 = f.evs.len;
	int64_t rev0 = mvcc_revision(f.m);
	uint64_t applied0 = mvcc_applied_index(f.m);

	enum { N = 12 };
	struct kc_str cmd[N];
	struct mvcc_entry e[N];
	struct mvcc_result res[N];
	char *big = xmalloc(60000);
	memset(big, 'b', 60000);
	for (int i = 0; i < N; i++) {
		kc_str_init(&cmd[i]);
		char k[16];
		snprintf(k, sizeof k, "big%d", i);
		struct mvcc_put_req p = { .key = k, .key_len = strlen(k), .value = big,
					  .value_len = 60000, .lease = i == 1 ? 5 : 0 };
		if (i == 0)
			assert_int_equal(mvcc_cmd_encode_lease_grant(&cmd[i], 6, 60, NULL), 0);
		else
			assert_int_equal(mvcc_cmd_encode_put(&cmd[i], &p, NULL), 0);
		e[i] = (struct mvcc_entry){ applied0 + 1 + (uint64_t)i, cmd[i].buf, cmd[i].len };
	}
	assert_int_equal(mvcc_apply_batch(f.m, e, N, res, &f.evs, &err), -ENOSPC);
	assert_true(err.msg[0] != '\0');
	for (int i = 0; i < N; i++)
		assert_int_equal(res[i].type, 0);   /* freed and zeroed */
	assert_int_equal(mvcc_revision(f.m), rev0);
	assert_int_equal(mvcc_applied_index(f.m), applied0);
	assert_int_equal(f.evs.len, ev0);
	struct mvcc_lease_info info;
	assert_int_equal(mvcc_lease_get(f.m, 6, 0, &info), -MVCC_ELEASE_NOT_FOUND);
	assert_int_equal(mvcc_lease_get(f.m, 5, 0, &info), 0);
	assert_false(get(&f, "big1", 0, NULL));
	/* The store goes on: a small batch applies at the same index the failed one would have. */
	f.idx = applied0;
	assert_int_equal(put(&f, "after", "1"), rev0 + 1);
	mvcc_close(f.m);
	/* Without the quota, the same entries (later indexes) apply. */
	f.m = open_path(f.path, MVCC_OPEN_QUICK_CHECK, MVCC_SYNC_NORMAL);
	assert_int_equal(mvcc_revision(f.m), rev0 + 1);
	for (int i = 0; i < N; i++)
		e[i].index += 1;
	assert_int_equal(mvcc_apply_batch(f.m, e, N, res, NULL, &err), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(res[i].err.code, 0);
		mvcc_result_free(&res[i]);
		kc_str_free(&cmd[i]);
	}
	assert_int_equal(mvcc_revision(f.m), rev0 + N);
	assert_int_equal(mvcc_lease_get(f.m, 6, 0, &info), 0);
	free(big);
	kc_str_free(&s);
	fx_close(&f);
}

static void test_crash_kill(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof f);
	fx_mkdir(&f);
	for (int round = 0; round < 3; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			crash_child(f.path);
		struct timespec ts = { 0, (150 + 70 * round) * 1000000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		f.m = open_path(f.path, MVCC_OPEN_NO_CREATE | MVCC_OPEN_QUICK_CHECK, MVCC_SYNC_FULL);
		uint64_t applied = mvcc_applied_index(f.m);
		assert_true(applied > 0 && applied % 16 == 0);   /* whole batches only */
		assert_int_equal(mvcc_revision(f.m), (int64_t)applied);
		/* The last put of the last batch is there, with consistent versions. */
		char k[24], v[24];
		snprintf(k, sizeof k, "k%llu", (unsigned long long)applied % 50);
		snprintf(v, sizeof v, "v%llu", (unsigned long long)applied);
		struct mvcc_kv kv = { 0 };
		assert_true(get(&f, k, 0, &kv));
		assert_true(kv_value_is(&kv, v));
		assert_int_equal(kv.mod_revision, (int64_t)applied);
		assert_int_equal(kv.version, (int64_t)((applied - 1) / 50 + 1));
		mvcc_kv_free(&kv);
		mvcc_close(f.m);
		f.m = NULL;
	}
	rm_dir(f.dir);
}

static void test_foreign_refused(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, true);
	put(&f, "a", "1");
	mvcc_close(f.m);
	f.m = NULL;
	struct mvcc *m = NULL;
	struct kc_err err = { 0 };
	struct mvcc_options o = { .path = f.path, .cluster_id = CLUSTER + 1, .member_id = MEMBER };
	assert_int_equal(mvcc_open(&o, &m, &err), -MVCC_EFOREIGN);
	assert_non_null(strstr(err.msg, "belongs to cluster"));
	o.cluster_id = CLUSTER;
	o.member_id = MEMBER + 1;
	assert_int_equal(mvcc_open(&o, &m, &err), -MVCC_EFOREIGN);
	assert_non_null(strstr(err.msg, "member"));
	o.flags = MVCC_OPEN_ADOPT_MEMBER;
	assert_int_equal(mvcc_open(&o, &m, &err), 0);
	assert_int_equal(mvcc_member_id(m), MEMBER + 1);
	assert_int_equal(mvcc_revision(m), 1);
	mvcc_close(m);

	/* Not SQLite at all. */
	char junk[160];
	snprintf(junk, sizeof junk, "%s/junk.db", f.dir);
	FILE *fp = fopen(junk, "w");
	assert_non_null(fp);
	for (int i = 0; i < 512; i++)
		fputs("this is not a database ", fp);
	fclose(fp);
	o = (struct mvcc_options){ .path = junk, .cluster_id = CLUSTER, .member_id = MEMBER };
	assert_int_equal(mvcc_open(&o, &m, &err), -MVCC_ECORRUPT);
	assert_non_null(strstr(err.msg, "not a SQLite database"));
	/* SQLite, but someone else's. */
	char other[160];
	snprintf(other, sizeof other, "%s/other.db", f.dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	o.path = other;
	assert_int_equal(mvcc_open(&o, &m, &err), -MVCC_ECORRUPT);
	assert_non_null(strstr(err.msg, "another application"));
	/* A newer schema. */
	assert_int_equal(sqlite3_open(f.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	o.path = f.path;
	assert_int_equal(mvcc_open(&o, &m, &err), -KC_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "newer"));
	/* Missing file with NO_CREATE. */
	char missing[160];
	snprintf(missing, sizeof missing, "%s/none.db", f.dir);
	o = (struct mvcc_options){ .path = missing, .cluster_id = CLUSTER, .member_id = MEMBER,
				   .flags = MVCC_OPEN_NO_CREATE };
	assert_int_equal(mvcc_open(&o, &m, &err), -ENOENT);
	fx_close(&f);
}

/* ---------------------------------------------------------------------------------------------
 * readers */

struct reader_arg {
	struct mvcc *m;
	atomic_int stop;
	atomic_int reads;
	atomic_int failures;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	struct mvcc_reader *r;
	struct kc_err err = { 0 };
	if (mvcc_reader_open(a->m, &r, &err) < 0) {
		a->failures++;
		return NULL;
	}
	while (!a->stop) {
		struct mvcc_range_resp resp;
		uint64_t applied;
		struct mvcc_range_req q = { .key = "\0", .key_len = 1, .range_end = "\0",
					    .range_end_len = 1, .count_only = true };
		if (mvcc_reader_range(r, &q, &resp, &applied, &err) < 0) {
			a->failures++;
			break;
		}
		/* Every index created one new key: the snapshot must agree with itself. */
		if (resp.count != resp.revision || (uint64_t)resp.revision != applied)
			a->failures++;
		mvcc_range_resp_free(&resp);
		a->reads++;
	}
	mvcc_reader_close(r);
	return NULL;
}

static void test_reader_concurrent(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, true);
	struct reader_arg a = { .m = f.m };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &a), 0);
	char k[16];
	for (int i = 0; i < 400; i++) {
		snprintf(k, sizeof k, "key%05d", i);
		put(&f, k, "v");
	}
	a.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(a.failures, 0);
	assert_true(a.reads > 0);

	/* A snapshot opens as the same store (a member adopting the leader's state). */
	struct mvcc_reader *r;
	assert_int_equal(mvcc_reader_open(f.m, &r, NULL), 0);
	char snap[160];
	snprintf(snap, sizeof snap, "%s/snap.db", f.dir);
	struct kc_err err = { 0 };
	if (mvcc_reader_snapshot(r, snap, &err) < 0)
		fail_msg("snapshot: %s", err.msg);
	assert_int_equal(mvcc_reader_snapshot(r, snap, &err), -EEXIST);
	mvcc_reader_close(r);
	struct mvcc_options o = { .path = snap, .cluster_id = CLUSTER, .member_id = 77,
				  .flags = MVCC_OPEN_ADOPT_MEMBER | MVCC_OPEN_QUICK_CHECK };
	struct mvcc *m2;
	assert_int_equal(mvcc_open(&o, &m2, &err), 0);
	assert_int_equal(mvcc_revision(m2), 400);
	assert_int_equal(mvcc_applied_index(m2), 400);
	mvcc_close(m2);
	struct mvcc *mem = open_path(":memory:", 0, MVCC_SYNC_OFF);
	assert_int_equal(mvcc_reader_open(mem, &r, NULL), -KC_EUNSUPPORTED);
	mvcc_close(mem);
	fx_close(&f);
}

/* Readers at the current and at recent revisions while the writer overwrites a few keys and
 * compacts behind them: the index forgets rows only after their deletion commits, so a read
 * either sees every key with the value written at its mod revision, or is refused as
 * compacted; never a missing row or a missing key. */
#define RACE_KEYS 20

struct race_arg {
	struct mvcc *m;
	atomic_int stop;
	atomic_int reads;
	atomic_int failures;
};

static void *race_reader(void *p)
{
	struct race_arg *a = p;
	struct mvcc_reader *r;
	struct kc_err err = { 0 };
	if (mvcc_reader_open(a->m, &r, &err) < 0) {
		a->failures++;
		return NULL;
	}
	int64_t last = 0;
	while (!a->stop) {
		struct mvcc_range_resp resp;
		struct mvcc_range_req q = { .key = "r", .key_len = 1, .range_end = "s",
					    .range_end_len = 1, .revision = (a->reads % 2) ? last - 3 : 0 };
		if (q.revision < RACE_KEYS)
			q.revision = 0;   /* before every key existed */
		int rc = mvcc_reader_range(r, &q, &resp, NULL, &err);
		if (rc == -MVCC_ECOMPACTED) {
			a->reads++;
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "race read: %s\n", err.msg);
			a->failures++;
			break;
		}
		last = resp.revision;
		if (resp.nkvs != RACE_KEYS) {
			fprintf(stderr, "race read at %lld: %zu keys\n", (long long)q.revision,
				resp.nkvs);
			a->failures++;
		}
		for (size_t i = 0; i < resp.nkvs; i++) {
			char want[32];
			snprintf(want, sizeof want, "%lld", (long long)resp.kvs[i].mod_revision);
			if (!kv_value_is(&resp.kvs[i], want)) {
				fprintf(stderr, "race read at %lld: %.*s at %s\n", (long long)q.revision,
					(int)resp.kvs[i].value_len, (const char *)resp.kvs[i].value, want);
				a->failures++;
			}
		}
		mvcc_range_resp_free(&resp);
		a->reads++;
	}
	mvcc_reader_close(r);
	return NULL;
}

static void test_reader_compaction_race(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, true);
	char k[16], v[32];
	for (int i = 0; i < RACE_KEYS; i++) {
		snprintf(k, sizeof k, "r%02d", i);
		snprintf(v, sizeof v, "%lld", (long long)mvcc_revision(f.m) + 1);
		put(&f, k, v);
	}
	struct race_arg a = { .m = f.m };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_reader, &a), 0);
	struct kc_str s = KC_STR_INIT;
	for (int i = 0; i < 1500; i++) {
		snprintf(k, sizeof k, "r%02d", (i * 7) % RACE_KEYS);
		snprintf(v, sizeof v, "%lld", (long long)mvcc_revision(f.m) + 1);
		put(&f, k, v);
		if (i % 40 == 39) {
			simple_cmd(&f, mvcc_cmd_encode_compact(&s, mvcc_revision(f.m) - 2, NULL), &s, 0,
				   NULL);
			bool done = false;
			struct kc_err err = { 0 };
			while (!done)
				assert_int_equal(mvcc_compact_step(f.m, 7, &done, &err), 0);
		}
	}
	a.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(a.failures, 0);
	assert_true(a.reads > 0);
	kc_str_free(&s);
	/* What compaction left: per key, one row below the compacted revision, and the newer. */
	mvcc_close(f.m);
	f.m = open_path(f.path, MVCC_OPEN_QUICK_CHECK, MVCC_SYNC_NORMAL);
	for (int i = 0; i < RACE_KEYS; i++) {
		struct mvcc_kv kv = { 0 };
		snprintf(k, sizeof k, "r%02d", i);
		assert_true(get(&f, k, 0, &kv));
		snprintf(v, sizeof v, "%lld", (long long)kv.mod_revision);
		assert_true(kv_value_is(&kv, v));
		mvcc_kv_free(&kv);
	}
	fx_close(&f);
}

/* A store of schema 1 (current rows in 'kv', history indexed by key) is converted at open: the
 * same reads, history and revisions, and it goes on taking writes. */
static void test_schema1_converted(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof f);
	mvcc_events_init(&f.evs);
	fx_mkdir(&f);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f.path, &db), SQLITE_OK);
	char sql[2048];
	snprintf(sql, sizeof sql,
		 "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), schema_version INTEGER "
		 " NOT NULL, cluster_id INTEGER NOT NULL, member_id INTEGER NOT NULL, applied_index "
		 " INTEGER NOT NULL, revision INTEGER NOT NULL, compact_rev INTEGER NOT NULL, "
		 " cursor_rev INTEGER NOT NULL, cursor_sub INTEGER NOT NULL);"
		 "CREATE TABLE kv (key BLOB NOT NULL PRIMARY KEY, create_rev INTEGER NOT NULL, "
		 " mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL, "
		 " value BLOB NOT NULL);"
		 "CREATE INDEX kv_lease ON kv(lease) WHERE lease != 0;"
		 "CREATE TABLE history (rev INTEGER NOT NULL, sub INTEGER NOT NULL, key BLOB NOT NULL,"
		 " type INTEGER NOT NULL, create_rev INTEGER NOT NULL, version INTEGER NOT NULL, "
		 " lease INTEGER NOT NULL, value BLOB, PRIMARY KEY (rev, sub));"
		 "CREATE INDEX history_key ON history(key, rev, type);"
		 "CREATE TABLE lease (id INTEGER PRIMARY KEY, ttl INTEGER NOT NULL, remaining "
		 " INTEGER NOT NULL);"
		 "INSERT INTO meta VALUES (1, 1, %d, %d, 4, 4, 0, 0, 0);"
		 "INSERT INTO lease VALUES (9, 60, 0);"
		 /* a@1 put, b@2 put (lease 9), a@3 put, b@4 and c@4 ... a txn: b deleted, c put */
		 "INSERT INTO history VALUES (1, 0, X'61', %d, 1, 1, 0, X'7631');"
		 "INSERT INTO history VALUES (2, 0, X'62', %d, 2, 1, 9, X'7632');"
		 "INSERT INTO history VALUES (3, 0, X'61', %d, 1, 2, 0, X'7633');"
		 "INSERT INTO history VALUES (4, 0, X'62', %d, 0, 0, 0, NULL);"
		 "INSERT INTO history VALUES (4, 1, X'63', %d, 4, 1, 9, X'7634');"
		 "INSERT INTO kv VALUES (X'61', 1, 3, 2, 0, X'7633');"
		 "INSERT INTO kv VALUES (X'63', 4, 4, 1, 9, X'7634');"
		 "PRAGMA application_id = %d; PRAGMA user_version = 1;",
		 CLUSTER, MEMBER, MVCC_EVENT_PUT, MVCC_EVENT_PUT, MVCC_EVENT_PUT, MVCC_EVENT_DELETE,
		 MVCC_EVENT_PUT, 0x6b636d76);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("schema 1: %s", msg);
	sqlite3_close(db);

	f.m = open_path(f.path, MVCC_OPEN_QUICK_CHECK, MVCC_SYNC_NORMAL);
	f.idx = mvcc_applied_index(f.m);
	assert_int_equal(f.idx, 4);
	assert_int_equal(mvcc_revision(f.m), 4);
	struct mvcc_kv kv = { 0 };
	assert_true(get(&f, "a", 0, &kv));
	assert_true(kv_value_is(&kv, "v3") && kv.create_revision == 1 && kv.mod_revision == 3 &&
		    kv.version == 2);
	mvcc_kv_free(&kv);
	assert_false(get(&f, "b", 0, NULL));
	assert_true(get(&f, "b", 3, &kv));
	assert_true(kv_value_is(&kv, "v2") && kv.lease == 9);
	mvcc_kv_free(&kv);
	assert_true(get(&f, "a", 1, &kv));
	assert_true(kv_value_is(&kv, "v1"));
	mvcc_kv_free(&kv);
	struct mvcc_history_req h = { .key = "\0", .key_len = 1, .range_end = "\0",
				      .range_end_len = 1, .from_rev = 2, .to_rev = 4,
				      .prev_kv = true };
	struct mvcc_events evs;
	mvcc_events_init(&evs);
	int64_t next = 0;
	assert_int_equal(mvcc_history(f.m, &h, &evs, &next, NULL), 0);
	assert_int_equal(evs.len, 4);
	assert_int_equal(next, 5);
	assert_true(evs.v[2].type == MVCC_EVENT_DELETE && key_is(&evs.v[2].kv, "b") &&
		    evs.v[2].revision == 4 && evs.v[2].sub == 0 && evs.v[2].has_prev &&
		    kv_value_is(&evs.v[2].prev_kv, "v2"));
	assert_true(evs.v[1].has_prev && kv_value_is(&evs.v[1].prev_kv, "v1"));
	mvcc_events_free(&evs);
	/* lease 9 still holds c, and revoking it deletes c */
	struct mvcc_range_resp keys;
	assert_int_equal(mvcc_lease_keys(f.m, 9, &keys, NULL), 0);
	assert_int_equal(keys.nkvs, 1);
	assert_true(key_is(&keys.kvs[0], "c"));
	mvcc_range_resp_free(&keys);
	assert_int_equal(put(&f, "a", "v5"), 5);
	assert_true(get(&f, "a", 0, &kv));
	assert_true(kv.version == 3 && kv.create_revision == 1);
	mvcc_kv_free(&kv);
	fx_close(&f);
}

/* ---------------------------------------------------------------------------------------------
 * growth */

static uint64_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static void test_bounded_growth(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, true);
	enum { UPDATES = 100000, KEYS = 100, BATCH = 250, KEEP = 2000 };
	char val[200];
	memset(val, 'x', sizeof val - 1);
	val[sizeof val - 1] = '\0';
	struct kc_str cmd[BATCH];
	struct mvcc_entry e[BATCH];
	struct mvcc_result res[BATCH];
	for (int i = 0; i < BATCH; i++)
		kc_str_init(&cmd[i]);
	uint64_t size_at_20k = 0, max_size = 0;
	struct kc_str s = KC_STR_INIT;
	for (int done = 0; done < UPDATES; done += BATCH) {
		for (int i = 0; i < BATCH; i++) {
			char k[16];
			snprintf(k, sizeof k, "/registry/k%03d", (done + i) % KEYS);
			struct mvcc_put_req p = { .key = k, .key_len = strlen(k), .value = val,
						  .value_len = sizeof val - 1 };
			kc_str_reset(&cmd[i]);
			assert_int_equal(mvcc_cmd_encode_put(&cmd[i], &p, NULL), 0);
			e[i] = (struct mvcc_entry){ ++f.idx, cmd[i].buf, cmd[i].len };
		}
		assert_int_equal(mvcc_apply_batch(f.m, e, BATCH, res, NULL, NULL), 0);
		for (int i = 0; i < BATCH; i++)
			mvcc_result_free(&res[i]);
		if ((done / BATCH) % 8 == 7 && mvcc_revision(f.m) > KEEP) {
			simple_cmd(&f, mvcc_cmd_encode_compact(&s, mvcc_revision(f.m) - KEEP, NULL), &s,
				   0, NULL);
			compact_all(&f);
			assert_int_equal(mvcc_checkpoint(f.m, true, 100, NULL), 0);
		}
		char wal[160];
		snprintf(wal, sizeof wal, "%s-wal", f.path);
		uint64_t sz = file_size(f.path) + file_size(wal);
		if (sz > max_size)
			max_size = sz;
		if (done + BATCH == 20000)
			size_at_20k = sz;
	}
	struct mvcc_status st;
	assert_int_equal(mvcc_status(f.m, &st, NULL), 0);
	print_message("growth: db %llu bytes (%llu in use), max db+wal %llu, at 20k %llu\n",
		      (unsigned long long)st.db_size, (unsigned long long)st.db_size_in_use,
		      (unsigned long long)max_size, (unsigned long long)size_at_20k);
	/* KEEP revisions of ~230 bytes each plus the current values: well under 8 MiB, and the
	 * file stops growing once compaction runs. */
	assert_true(st.db_size < 8u << 20);
	assert_true(max_size < 16u << 20);
	assert_true(st.db_size <= size_at_20k + (1u << 20));
	for (int i = 0; i < BATCH; i++)
		kc_str_free(&cmd[i]);
	kc_str_free(&s);
	fx_close(&f);
}

int main(void)
{
	kc_log_set_level(KC_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec),
		cmocka_unit_test(test_prefix_end),
		cmocka_unit_test(test_revisions_versions),
		cmocka_unit_test(test_put_flags),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_historical_reads),
		cmocka_unit_test(test_txn),
		cmocka_unit_test(test_leases),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_compact_policy),
		cmocka_unit_test(test_replay_idempotent),
		cmocka_unit_test(test_batch_failure_rolls_back),
		cmocka_unit_test(test_crash_kill),
		cmocka_unit_test(test_foreign_refused),
		cmocka_unit_test(test_reader_concurrent),
		cmocka_unit_test(test_reader_compaction_race),
		cmocka_unit_test(test_schema1_converted),
		cmocka_unit_test(test_bounded_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
