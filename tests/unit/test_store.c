/* Unit tests for store/store: a single member end to end through the asynchronous API (put, get,
 * txn, delete, watch, status, durability across close and reopen), then a 3-member cluster in
 * one process on loopback ports (election, replication, leader loss and re-election with every
 * acknowledged write kept). */
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "lib/vec.h"
#include "lib/x509.h"
#include "net/tls.h"
#include "store/peer.h"
#include "store/raft_sqlite.h"
#include "store/snapshot.h"
#include "store/store.h"

static struct loop *L; /* the test thread's reply loop */

struct done {
	bool done;
	int rc;
	struct kc_err err;
	struct mvcc_result res;
	struct mvcc_range_resp range;
	struct store_status st;
};

static void run_until(bool *flag, unsigned ms)
{
	uint64_t end = kc_mono_ms(kc_clock_real()) + ms;
	while (!*flag && kc_mono_ms(kc_clock_real()) < end)
		loop_run_once(L, 20);
}

static void on_result(void *arg, int rc, struct mvcc_result *res, const struct kc_err *err)
{
	struct done *d = arg;
	d->done = true;
	d->rc = rc;
	d->err = *err;
	if (res) {
		d->res = *res;
		memset(res, 0, sizeof *res);
	}
}

static void on_range(void *arg, int rc, struct mvcc_range_resp *resp, const struct kc_err *err)
{
	struct done *d = arg;
	d->done = true;
	d->rc = rc;
	d->err = *err;
	if (resp) {
		d->range = *resp;
		memset(resp, 0, sizeof *resp);
	}
}

static void on_status(void *arg, int rc, const struct store_status *st, const struct kc_err *err)
{
	struct done *d = arg;
	d->done = true;
	d->rc = rc;
	d->err = *err;
	if (st)
		d->st = *st;
}

static int submit(struct store *s, struct kc_str *cmd, struct done *d)
{
	memset(d, 0, sizeof *d);
	store_submit(s, L, cmd->buf, cmd->len, on_result, d);
	kc_str_reset(cmd);
	run_until(&d->done, 10000);
	assert_true(d->done);
	return d->rc;
}

static int put(struct store *s, const char *k, const char *v)
{
	struct kc_str cmd = KC_STR_INIT;
	struct mvcc_put_req p = {
		.key = k, .key_len = strlen(k), .value = v, .value_len = strlen(v)};
	struct kc_err err;
	assert_int_equal(mvcc_cmd_encode_put(&cmd, &p, &err), 0);
	struct done d;
	int rc = submit(s, &cmd, &d);
	kc_str_free(&cmd);
	if (rc == 0)
		assert_int_equal(d.res.err.code, 0);
	mvcc_result_free(&d.res);
	return rc;
}

/* Returns the value of k ("" when missing; caller frees) and the read's rc in *rc. */
static char *get(struct store *s, const char *k, bool lin, int *rc)
{
	struct done d = {0};
	struct mvcc_range_req rr = {.key = k, .key_len = strlen(k)};
	store_range(s, L, &rr, lin, on_range, &d);
	run_until(&d.done, 10000);
	assert_true(d.done);
	*rc = d.rc;
	char *v = xstrdup(d.range.nkvs ? (const char *)d.range.kvs[0].value : "");
	mvcc_range_resp_free(&d.range);
	return v;
}

static void expect(struct store *s, const char *k, const char *want, bool lin)
{
	int rc;
	char *v = get(s, k, lin, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(v, want);
	free(v);
}

static struct store_status status(struct store *s)
{
	struct done d = {0};
	store_status(s, L, on_status, &d);
	run_until(&d.done, 5000);
	assert_true(d.done);
	assert_int_equal(d.rc, 0);
	return d.st;
}

/* ---- watch collection ---- */

struct wcol {
	struct kc_str log; /* "P key=value\n" / "D key\n" */
	int nevents;
	bool ended;
	bool canceled;
	int cancel_code;
	int64_t compact_revision;
};

static void on_watch(void *arg, struct watch_resp *resp)
{
	struct wcol *c = arg;
	if (!resp) {
		c->ended = true;
		return;
	}
	if (resp->kind == WATCH_RESP_CANCELED) {
		c->canceled = true;
		c->cancel_code = resp->cancel_code;
		c->compact_revision = resp->compact_revision;
	}
	for (size_t i = 0; i < resp->nevents; i++) {
		const struct watch_event *e = &resp->events[i];
		if (e->type == MVCC_EVENT_PUT)
			kc_str_addf(&c->log, "P %s=%s\n", (const char *)e->kv->key,
				    (const char *)e->kv->value);
		else
			kc_str_addf(&c->log, "D %s\n", (const char *)e->kv->key);
		c->nevents++;
	}
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/kc-test-store-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return xstrdup(d);
}

static void rm_rf(const char *d)
{
	char *cmd = xasprintf("rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static struct store *open_single(const char *dir)
{
	struct store_config cfg = {
		.data_dir = dir, .name = "solo", .tick_ms = 20, .mvcc_sync = MVCC_SYNC_NORMAL};
	struct store *s = NULL;
	struct kc_err err = {0};
	if (store_open(&cfg, &s, &err) < 0)
		fail_msg("store_open: %s", err.msg);
	return s;
}

static void wait_leader_self(struct store *s)
{
	for (int i = 0; i < 200; i++) {
		struct store_status st = status(s);
		if (st.leader_id == st.member_id)
			return;
		usleep(10000);
	}
	fail_msg("no leader");
}

static void wait_value(struct store *s, const char *k, const char *want);

static void test_single_member(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_single(dir);
	wait_leader_self(s);

	struct wcol wc = {.log = KC_STR_INIT};
	struct watch_create_req wr = {.key = "k",
				      .key_len = 1,
				      .range_end = "l",
				      .range_end_len = 1,
				      .start_revision = 1};
	int64_t wid = 0;
	store_watch(s, L, &wr, on_watch, &wc, &wid);
	assert_true(wid > 0);

	assert_int_equal(put(s, "k1", "v1"), 0);
	assert_int_equal(put(s, "k2", "v2"), 0);
	expect(s, "k1", "v1", false);
	expect(s, "k2", "v2", true);

	/* txn: if version(k1) == 1 then put k3 else put k4 */
	struct mvcc_compare cmp = {.target = MVCC_CMP_VERSION,
				   .result = MVCC_CMP_EQUAL,
				   .key = "k1",
				   .key_len = 2,
				   .number = 1};
	struct mvcc_op ok = {.type = MVCC_OP_PUT,
			     .u.put = {.key = "k3", .key_len = 2, .value = "v3", .value_len = 2}};
	struct mvcc_op ko = {.type = MVCC_OP_PUT,
			     .u.put = {.key = "k4", .key_len = 2, .value = "v4", .value_len = 2}};
	struct mvcc_txn_req txn = {.compares = &cmp,
				   .ncompares = 1,
				   .success = &ok,
				   .nsuccess = 1,
				   .failure = &ko,
				   .nfailure = 1};
	struct kc_str cmd = KC_STR_INIT;
	struct kc_err err;
	struct done d;
	assert_int_equal(mvcc_cmd_encode_txn(&cmd, &txn, &err), 0);
	assert_int_equal(submit(s, &cmd, &d), 0);
	assert_true(d.res.u.txn.succeeded);
	mvcc_result_free(&d.res);
	expect(s, "k3", "v3", true);
	expect(s, "k4", "", true);

	struct mvcc_delete_req del = {.key = "k1", .key_len = 2};
	assert_int_equal(mvcc_cmd_encode_delete(&cmd, &del, &err), 0);
	assert_int_equal(submit(s, &cmd, &d), 0);
	assert_int_equal(d.res.u.del.deleted, 1);
	int64_t rev = d.res.revision;
	mvcc_result_free(&d.res);
	expect(s, "k1", "", true);

	/* a deterministic rejection: a put on a lease that does not exist */
	struct mvcc_put_req pl = {
		.key = "k9", .key_len = 2, .value = "x", .value_len = 1, .lease = 12345};
	assert_int_equal(mvcc_cmd_encode_put(&cmd, &pl, &err), 0);
	assert_int_equal(submit(s, &cmd, &d), 0);
	assert_int_equal(d.res.err.code, -MVCC_ELEASE_NOT_FOUND);
	mvcc_result_free(&d.res);

	/* a lease: grant, keepalive through the leader */
	int64_t lid = store_lease_id_new();
	assert_int_equal(mvcc_cmd_encode_lease_grant(&cmd, lid, 30, &err), 0);
	assert_int_equal(submit(s, &cmd, &d), 0);
	assert_int_equal(d.res.err.code, 0);
	mvcc_result_free(&d.res);

	/* a key on a 1 s lease disappears when the lease expires */
	int64_t lid2 = store_lease_id_new();
	assert_int_equal(mvcc_cmd_encode_lease_grant(&cmd, lid2, 1, &err), 0);
	assert_int_equal(submit(s, &cmd, &d), 0);
	mvcc_result_free(&d.res);
	struct mvcc_put_req pl2 = {
		.key = "lk", .key_len = 2, .value = "x", .value_len = 1, .lease = lid2};
	assert_int_equal(mvcc_cmd_encode_put(&cmd, &pl2, &err), 0);
	assert_int_equal(submit(s, &cmd, &d), 0);
	assert_int_equal(d.res.err.code, 0);
	mvcc_result_free(&d.res);
	expect(s, "lk", "x", true);
	wait_value(s, "lk", "");

	for (int i = 0; i < 200 && wc.nevents < 4; i++)
		loop_run_once(L, 20);
	assert_string_equal(wc.log.buf, "P k1=v1\nP k2=v2\nP k3=v3\nD k1\n");
	store_watch_cancel(s, wid);
	run_until(&wc.ended, 5000);
	assert_true(wc.ended);

	struct store_status st = status(s);
	assert_true(st.revision >= rev + 2); /* the lease put and its expiry */
	assert_true(st.applied_index >= 5);
	rev = st.revision;

	store_close(s);
	loop_run_once(L, 0);

	/* durability: everything is back after a reopen */
	s = open_single(dir);
	wait_leader_self(s);
	expect(s, "k2", "v2", true);
	expect(s, "k3", "v3", false);
	expect(s, "k1", "", true);
	st = status(s);
	assert_int_equal(st.revision, rev);
	assert_int_equal(put(s, "k5", "v5"), 0);
	expect(s, "k5", "v5", true);

	/* a watch from the past replays history after the restart */
	struct wcol wc2 = {.log = KC_STR_INIT};
	store_watch(s, L, &wr, on_watch, &wc2, &wid);
	for (int i = 0; i < 200 && wc2.nevents < 5; i++)
		loop_run_once(L, 20);
	assert_string_equal(wc2.log.buf, "P k1=v1\nP k2=v2\nP k3=v3\nD k1\nP k5=v5\n");
	/* closing the store ends the watch with the final NULL callback */
	store_close(s);
	run_until(&wc2.ended, 5000);
	assert_true(wc2.ended);
	kc_str_free(&wc.log);
	kc_str_free(&wc2.log);
	kc_str_free(&cmd);
	rm_rf(dir);
	free(dir);
}

/* Submits n puts at once (one group commit or a few) and waits for all of them. */
static void put_many(struct store *s, const char *prefix, int n, bool ordered)
{
	struct done *d = xcalloc((size_t)n, sizeof *d);
	struct kc_str cmd = KC_STR_INIT;
	struct kc_err err;
	char k[64];
	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof k, "%s%03d", prefix, i);
		struct mvcc_put_req p = {
			.key = k, .key_len = strlen(k), .value = k, .value_len = strlen(k)};
		assert_int_equal(mvcc_cmd_encode_put(&cmd, &p, &err), 0);
		store_submit(s, L, cmd.buf, cmd.len, on_result, &d[i]);
		kc_str_reset(&cmd);
	}
	uint64_t end = kc_mono_ms(kc_clock_real()) + 15000;
	for (int i = 0; i < n; i++) {
		while (!d[i].done && kc_mono_ms(kc_clock_real()) < end)
			loop_run_once(L, 20);
		assert_true(d[i].done);
		if (d[i].rc != 0)
			fail_msg("put %d: %s", i, d[i].err.msg);
		assert_int_equal(d[i].res.err.code, 0);
		/* on the leader, each its own revision in submission order (forwarded ones may
		 * travel on several connections) */
		if (ordered && i > 0)
			assert_true(d[i].res.revision > d[i - 1].res.revision);
	}
	for (int i = 0; i < n; i++)
		mvcc_result_free(&d[i].res);
	free(d);
	kc_str_free(&cmd);
}

static void test_auto_compaction(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store_config cfg = {
		.data_dir = dir, .name = "solo", .tick_ms = 20, .compact_keep_revisions = 5};
	struct store *s = NULL;
	struct kc_err err = {0};
	if (store_open(&cfg, &s, &err) < 0)
		fail_msg("store_open: %s", err.msg);
	wait_leader_self(s);
	put_many(s, "c", 100, true);
	struct store_status st = {0};
	for (int i = 0; i < 300; i++) {
		st = status(s);
		if (st.compact_revision > 0 && st.compact_revision >= st.revision - 5 - 1)
			break; /* the policy runs once a second: it may first compact mid-stream */
		usleep(10000);
	}
	assert_true(st.compact_revision > 0);
	assert_true(st.compact_revision >= st.revision - 5 - 1);
	struct done d = {0};
	struct mvcc_range_req rr = {.key = "c000", .key_len = 4, .revision = 1};
	store_range(s, L, &rr, false, on_range, &d);
	run_until(&d.done, 5000);
	assert_int_equal(d.rc, -MVCC_ECOMPACTED);
	expect(s, "c099", "c099", true);
	/* a watch from a compacted revision is canceled at once, then ends */
	struct wcol wc = {.log = KC_STR_INIT};
	struct watch_create_req wr = {.key = "c", .key_len = 1, .start_revision = 1};
	int64_t wid;
	store_watch(s, L, &wr, on_watch, &wc, &wid);
	run_until(&wc.ended, 5000);
	assert_true(wc.canceled);
	assert_int_equal(wc.cancel_code, -MVCC_ECOMPACTED);
	assert_true(wc.compact_revision > 1);
	kc_str_free(&wc.log);
	store_close(s);
	loop_run_once(L, 0);
	rm_rf(dir);
	free(dir);
}

/* A member killed with SIGKILL in the middle of a stream of writes keeps every acknowledged
 * write: the child acknowledges each completed put on a pipe, the parent kills it, reopens the
 * data directory and checks. */
static void test_crash_recovery(void **state)
{
	(void)state;
	char *dir = tmpdir();
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		struct loop *l = loop_new(NULL);
		L = l;
		struct store *s = open_single(dir);
		wait_leader_self(s);
		char k[32];
		for (int i = 0;; i++) {
			snprintf(k, sizeof k, "crash%06d", i);
			if (put(s, k, k) != 0)
				_exit(2);
			uint32_t n = (uint32_t)i;
			if (write(fds[1], &n, sizeof n) != (ssize_t)sizeof n)
				_exit(3);
		}
	}
	close(fds[1]);
	uint32_t last = 0, n;
	int got = 0;
	while (got < 300 && read(fds[0], &n, sizeof n) == (ssize_t)sizeof n) {
		last = n;
		got++;
	}
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	/* acknowledgments that were in the pipe when it died count too */
	while (read(fds[0], &n, sizeof n) == (ssize_t)sizeof n)
		last = n;
	close(fds[0]);
	assert_int_equal(got, 300);
	struct store *s = open_single(dir);
	wait_leader_self(s);
	char k[32];
	for (uint32_t i = 0; i <= last; i += 37) {
		snprintf(k, sizeof k, "crash%06u", i);
		expect(s, k, k, false);
	}
	snprintf(k, sizeof k, "crash%06u", last);
	expect(s, k, k, true);
	assert_int_equal(put(s, "after", "crash"), 0);
	store_close(s);
	loop_run_once(L, 0);
	rm_rf(dir);
	free(dir);
}

/* mvcc.db runs with synchronous=NORMAL: a power loss may take it back to an earlier applied
 * index. Simulated by putting back a consistent copy taken earlier: the restart replays the log
 * from there, every write is back with the same revisions, and the next write continues them.
 * The copy is also what /v3/maintenance/snapshot streams. */
static void test_mvcc_behind_log(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct store *s = open_single(dir);
	wait_leader_self(s);
	char k[32];
	for (int i = 0; i < 50; i++) {
		snprintf(k, sizeof k, "early%02d", i);
		assert_int_equal(put(s, k, k), 0);
	}
	char *copy = NULL;
	struct kc_err err = {0};
	if (store_snapshot_file(s, &copy, &err) < 0)
		fail_msg("snapshot: %s", err.msg);
	for (int i = 0; i < 50; i++) {
		snprintf(k, sizeof k, "late%02d", i);
		assert_int_equal(put(s, k, k), 0);
	}
	int64_t rev = status(s).revision;
	store_close(s);
	loop_run_once(L, 0);
	char *mv = NULL;
	assert_true(asprintf(&mv, "%s/store/mvcc.db", dir) > 0);
	char *wal = NULL;
	assert_true(asprintf(&wal, "%s-wal", mv) > 0);
	unlink(wal);
	assert_int_equal(rename(copy, mv), 0);
	s = open_single(dir);
	wait_leader_self(s);
	expect(s, "early07", "early07", true);
	expect(s, "late49", "late49", true);
	assert_int_equal(status(s).revision, rev);
	assert_int_equal(put(s, "next", "one"), 0);
	assert_int_equal(status(s).revision, rev + 1);
	store_close(s);
	loop_run_once(L, 0);
	free(copy);
	free(mv);
	free(wal);
	rm_rf(dir);
	free(dir);
}

/* raft.db on its own: appends, conflicting overwrites, hard state, compaction, restart. */
static void test_raft_sqlite(void **state)
{
	(void)state;
	char *dir = tmpdir();
	char *path = xasprintf("%s/raft.db", dir);
	struct raft_sqlite *rs;
	struct kc_err err = {0};
	assert_int_equal(raft_sqlite_open(path, false, &rs, &err), 0);
	assert_true(raft_sqlite_is_empty(rs));
	struct raft_conf conf = {.n = 1, .members = {{.id = 7, .role = RAFT_VOTER}}};
	assert_int_equal(raft_sqlite_bootstrap(rs, &conf, &err), 0);
	assert_false(raft_sqlite_is_empty(rs));

	struct raft_entry e[6];
	char data[6][8];
	for (int i = 0; i < 6; i++) {
		snprintf(data[i], sizeof data[i], "e%d", i + 2);
		e[i] = (struct raft_entry){.term = 2,
					   .index = (uint64_t)i + 2,
					   .type = RAFT_ENTRY_NORMAL,
					   .len = strlen(data[i]),
					   .data = (uint8_t *)data[i]};
	}
	struct raft_ready rd = {.entries = e,
				.n_entries = 6,
				.has_hard_state = true,
				.hs = {.term = 2, .vote = 7, .commit = 3}};
	assert_int_equal(raft_sqlite_persist(rs, &rd, &err), 0);
	assert_int_equal(raft_sqlite_last_index(rs), 7);
	/* a new leader overwrites from index 5 with term 3 */
	for (int i = 3; i < 5; i++)
		e[i].term = 3;
	rd = (struct raft_ready){.entries = &e[3],
				 .n_entries = 2,
				 .has_hard_state = true,
				 .hs = {.term = 3, .vote = 0, .commit = 4}};
	assert_int_equal(raft_sqlite_persist(rs, &rd, &err), 0);
	assert_int_equal(raft_sqlite_last_index(rs), 6);
	/* an append outside the log is refused */
	rd = (struct raft_ready){.entries = &e[0], .n_entries = 1};
	e[0].index = 9;
	assert_int_equal(raft_sqlite_persist(rs, &rd, &err), -KC_EINVAL);
	e[0].index = 2;
	/* in steps: at most one entry dropped, then the rest at the same point */
	assert_int_equal(raft_sqlite_first_index(rs), 1);
	assert_int_equal(raft_sqlite_compact(rs, 4, &conf, 1, 1, &err), 0);
	assert_int_equal(raft_sqlite_first_index(rs), 2);
	assert_int_equal(raft_sqlite_snapshot_index(rs), 4);
	assert_int_equal(raft_sqlite_compact(rs, 4, &conf, 2, 0, &err), 0);
	assert_int_equal(raft_sqlite_first_index(rs), 3);
	assert_int_equal(raft_sqlite_compact(rs, 4, &conf, 2, 0, &err), 0);
	assert_int_equal(raft_sqlite_first_index(rs), 3);
	assert_int_equal(raft_sqlite_compact(rs, 3, &conf, 2, 0, &err), -KC_EINVAL);
	raft_sqlite_close(rs);

	assert_int_equal(raft_sqlite_open(path, false, &rs, &err), 0);
	const struct raft_storage_ops *ops = &raft_sqlite_ops;
	struct raft_hard_state hs;
	assert_int_equal(ops->hard_state(rs, &hs), 0);
	assert_int_equal(hs.term, 3);
	assert_int_equal(hs.vote, 0);
	assert_int_equal(hs.commit, 4);
	struct raft_snapshot_meta sm;
	assert_int_equal(ops->snapshot_meta(rs, &sm), 0);
	assert_int_equal(sm.index, 4);
	assert_int_equal(sm.term, 2);
	assert_int_equal(sm.conf.n, 1);
	assert_int_equal(ops->first_index(rs), 3);
	assert_int_equal(ops->last_index(rs), 6);
	uint64_t t;
	assert_int_equal(ops->term(rs, 2, &t), 0);
	assert_int_equal(t, 2);
	assert_int_equal(ops->term(rs, 5, &t), 0);
	assert_int_equal(t, 3);
	assert_int_equal(ops->term(rs, 1, &t), -KC_ENOTFOUND);
	assert_int_equal(ops->term(rs, 7, &t), -KC_ENOTFOUND);
	struct kc_vec v;
	kc_vec_init(&v, sizeof(struct raft_entry));
	assert_int_equal(ops->entries(rs, 3, 7, 1 << 20, &v), 0);
	assert_int_equal(v.len, 4);
	struct raft_entry *got = v.data;
	assert_int_equal(got[2].index, 5);
	assert_int_equal(got[2].term, 3);
	assert_memory_equal(got[2].data, "e5", 2);
	for (size_t i = 0; i < v.len; i++)
		free(got[i].data);
	v.len = 0;
	assert_int_equal(ops->entries(rs, 3, 7, 1, &v), 0); /* at least one */
	assert_int_equal(v.len, 1);
	free(((struct raft_entry *)v.data)[0].data);
	kc_vec_free(&v);
	assert_int_equal(ops->entries(rs, 2, 4, 1 << 20, &v), -KC_ENOTFOUND);
	kc_vec_free(&v);
	raft_sqlite_close(rs);
	free(path);
	rm_rf(dir);
	free(dir);
}

/* ---- 3 members ---- */

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

#define N 3

struct cluster {
	struct tls_server_config *tls_server; /* NULL: plain HTTP */
	struct tls_client_config *tls_client;
	char *dir[N + 1];
	char name[N + 1][16];
	char url[N + 1][64];
	uint16_t port[N + 1];
	struct store_peer peers[N + 1];
	struct store *s[N + 1];
};

static void member_open(struct cluster *c, int i)
{
	struct store_config cfg = {
		.data_dir = c->dir[i],
		.name = c->name[i],
		.initial = c->peers,
		.n_initial = N,
		.peer_listen_addr = "127.0.0.1",
		.peer_listen_port = c->port[i],
		.advertise_peer_url = c->url[i],
		.peer_tls_server = c->tls_server,
		.peer_tls_client = c->tls_client,
		.tick_ms = 20,
		.election_ticks = 10,
		.request_timeout_ms = 5000,
		.snapshot_entries = 20, /* small, so catching up needs a snapshot */
		.snapshot_keep = 5,
		.join_existing = i == N,
		.manual_promote = true, /* the test promotes by hand */
	};
	struct kc_err err = {0};
	if (store_open(&cfg, &c->s[i], &err) < 0)
		fail_msg("store_open %d: %s", i, err.msg);
}

/* Index of the member every live member agrees leads, or -1 after ms. */
static int find_leader(struct cluster *c, unsigned ms)
{
	enum { M = N + 1 };
	uint64_t end = kc_mono_ms(kc_clock_real()) + ms;
	while (kc_mono_ms(kc_clock_real()) < end) {
		uint64_t lead = 0;
		bool agree = true;
		int li = -1;
		for (int i = 0; i < M; i++) {
			if (!c->s[i])
				continue;
			struct store_status st = status(c->s[i]);
			if (st.leader_id == 0 || (lead && st.leader_id != lead))
				agree = false;
			lead = st.leader_id;
			if (st.leader_id == st.member_id)
				li = i;
		}
		if (agree && li >= 0)
			return li;
		usleep(20000);
	}
	return -1;
}

static void wait_value(struct store *s, const char *k, const char *want)
{
	uint64_t end = kc_mono_ms(kc_clock_real()) + 8000;
	int rc = -1;
	while (kc_mono_ms(kc_clock_real()) < end) {
		char *got = get(s, k, false, &rc);
		bool ok = !strcmp(got, want);
		free(got);
		if (ok)
			return;
		usleep(20000);
	}
	fail_msg("%s never became %.64s", k, want);
}

struct ldone {
	bool done;
	int rc;
	int64_t ttl, remaining;
	bool has_keys;
	char keys[256]; /* one a line */
	struct kc_err err;
};

static void on_lease(void *arg, int rc, const struct mvcc_lease_info *info,
		     const struct mvcc_range_resp *keys, const struct kc_err *err)
{
	struct ldone *d = arg;
	d->done = true;
	d->rc = rc;
	if (info) {
		d->ttl = info->ttl;
		d->remaining = info->remaining;
	}
	d->has_keys = keys != NULL;
	for (size_t i = 0; keys && i < keys->nkvs; i++) {
		size_t n = strlen(d->keys);
		snprintf(d->keys + n, sizeof d->keys - n, "%.*s\n", (int)keys->kvs[i].key_len,
			 (const char *)keys->kvs[i].key);
	}
	if (err)
		d->err = *err;
}

struct mdone {
	bool done;
	int rc;
	size_t n;
	bool changed_learner;
	uint64_t watch_id; /* when set: whether that member is a voter in the result */
	bool watch_voter;
	struct kc_err err;
};

static void on_member(void *arg, int rc, const struct store_member *members, size_t n,
		      const struct store_member *changed, const struct kc_err *err)
{
	struct mdone *d = arg;
	d->done = true;
	d->rc = rc;
	d->n = n;
	for (size_t i = 0; d->watch_id && i < n; i++)
		if (members[i].id == d->watch_id && !members[i].learner)
			d->watch_voter = true;
	d->err = *err;
	if (changed)
		d->changed_learner = changed->learner;
	if (rc < 0)
		print_message("member change: %s\n", err->msg);
}

struct msig {
	bool done;
	int rc;
	size_t n;
	char sig[512]; /* "ID:ROLE " per member, in the member list's order */
};

static void on_msig(void *arg, int rc, const struct store_member *members, size_t n,
		    const struct store_member *changed, const struct kc_err *err)
{
	(void)changed;
	(void)err;
	struct msig *d = arg;
	d->done = true;
	d->rc = rc;
	d->n = n;
	size_t off = 0;
	for (size_t i = 0; rc == 0 && i < n && off < sizeof d->sig; i++)
		off += (size_t)snprintf(d->sig + off, sizeof d->sig - off, "%016" PRIx64 ":%c ",
					members[i].id, members[i].learner ? 'l' : 'v');
}

/* Every open member lists the same n members (each applies the change in its own time). */
static void members_agree(struct cluster *c, size_t n)
{
	uint64_t end = kc_mono_ms(kc_clock_real()) + 8000;
	char first[512] = "";
	while (kc_mono_ms(kc_clock_real()) < end) {
		bool agree = true;
		first[0] = 0;
		for (int i = 0; i <= N && agree; i++) {
			if (!c->s[i])
				continue;
			struct msig d = {0};
			store_member_list(c->s[i], L, on_msig, &d);
			run_until(&d.done, 5000);
			agree = d.done && d.rc == 0 && d.n == n &&
				(!first[0] || !strcmp(first, d.sig));
			snprintf(first, sizeof first, "%s", d.sig);
		}
		if (agree)
			return;
		usleep(20000);
	}
	fail_msg("members never agreed on %zu members (last: %s)", n, first);
}

static void on_done(void *arg, int rc, const struct kc_err *err)
{
	struct mdone *d = arg;
	d->done = true;
	d->rc = rc;
	d->err = *err;
}

static void cluster_init(struct cluster *c, const char *scheme)
{
	for (int i = 0; i <= N; i++) {
		c->dir[i] = tmpdir();
		snprintf(c->name[i], sizeof c->name[i], "m%d", i);
		c->port[i] = free_port();
		snprintf(c->url[i], sizeof c->url[i], "%s://127.0.0.1:%u", scheme, c->port[i]);
		c->peers[i].name = c->name[i];
		c->peers[i].peer_url = c->url[i];
	}
}

static void cluster_free(struct cluster *c)
{
	for (int i = 0; i <= N; i++) {
		store_close(c->s[i]);
		c->s[i] = NULL;
		/* snapshot files and downloads do not outlive the store */
		char *sd = xasprintf("%s/store/snapshots", c->dir[i]);
		char *recv = xasprintf("%s/store/mvcc.db.recv", c->dir[i]);
		assert_int_not_equal(access(sd, F_OK), 0);
		assert_int_not_equal(access(recv, F_OK), 0);
		free(sd);
		free(recv);
		loop_run_once(L, 0);
		rm_rf(c->dir[i]);
		free(c->dir[i]);
	}
}

/* The leader's current snapshot file: it serves it by name to members of its cluster (checked
 * against the bytes on its disk), streamed and verified by peer_fetch_snapshot, and nothing
 * else: not a wrong size or hash (the download is removed), not another cluster, not another
 * name. */
static void check_snapshot_fetch(struct cluster *c, int lead, struct tls_client_config *tls)
{
	char *sd = xasprintf("%s/store/snapshots", c->dir[lead]);
	DIR *dir = opendir(sd);
	assert_non_null(dir);
	struct dirent *e;
	struct snap_desc desc = {0};
	while ((e = readdir(dir)))
		if (snap_name_valid(e->d_name))
			snprintf(desc.name, sizeof desc.name, "%s", e->d_name);
	closedir(dir);
	if (!desc.name[0])
		fail_msg("no snapshot file in %s", sd);
	char *path = xasprintf("%s/%s", sd, desc.name);
	unsigned char *want = NULL, *got = NULL;
	size_t wlen = 0, glen = 0;
	struct kc_err err = {0};
	assert_int_equal(kc_read_file(path, (size_t)1 << 30, &want, &wlen, &err), 0);
	assert_true(wlen > 4096);
	desc.size = wlen;
	kc_sha256(want, wlen, desc.sha256);
	char *tmp = tmpdir(), *dest = xasprintf("%s/fetched", tmp);
	uint64_t cid = status(c->s[lead]).cluster_id;
	if (peer_fetch_snapshot(c->url[lead], cid, tls, &desc, dest, NULL, &err) < 0)
		fail_msg("fetch: %s", err.msg);
	assert_int_equal(kc_read_file(dest, (size_t)1 << 30, &got, &glen, &err), 0);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);
	desc.sha256[0] ^= 1;
	assert_int_equal(peer_fetch_snapshot(c->url[lead], cid, tls, &desc, dest, NULL, &err),
			 -KC_EPROTO);
	assert_non_null(strstr(err.msg, "SHA-256"));
	assert_int_not_equal(access(dest, F_OK), 0);
	desc.sha256[0] ^= 1;
	desc.size = wlen - 1;
	assert_int_equal(peer_fetch_snapshot(c->url[lead], cid, tls, &desc, dest, NULL, &err),
			 -KC_EPROTO);
	assert_int_not_equal(access(dest, F_OK), 0);
	desc.size = wlen + 1;
	assert_int_equal(peer_fetch_snapshot(c->url[lead], cid, tls, &desc, dest, NULL, &err),
			 -KC_EPROTO);
	desc.size = wlen;
	assert_int_equal(peer_fetch_snapshot(c->url[lead], cid + 1, tls, &desc, dest, NULL, &err),
			 -KC_EPROTO);
	assert_non_null(strstr(err.msg, "403"));
	struct snap_desc other = desc;
	snprintf(other.name, sizeof other.name, "0-0");
	assert_int_equal(peer_fetch_snapshot(c->url[lead], cid, tls, &other, dest, NULL, &err),
			 -KC_ENOTFOUND);
	assert_int_not_equal(access(dest, F_OK), 0);
	/* names are looked up, never used as paths */
	char hdr[32], url[160];
	snprintf(hdr, sizeof hdr, "%016" PRIx64, cid);
	struct http_client_header ch[1] = {{"X-Kc-Cluster", hdr}};
	struct http_client_config hc = {
		.connect_timeout_ms = 2000, .request_timeout_ms = 5000, .tls = tls};
	const char *tricks[] = {"/raft/snapshot/..%2fmvcc.db", "/raft/snapshot/%2e%2e/mvcc.db",
				"/raft/snapshot/", "/raft/snapshot/copy.tmp"};
	for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++) {
		struct http_client_response hr = {0};
		snprintf(url, sizeof url, "%s%s", c->url[lead], tricks[i]);
		assert_int_equal(http_client_do(&hc, "GET", url, ch, 1, NULL, 0, &hr, &err), 0);
		if (hr.status == 200)
			fail_msg("%s answered 200", tricks[i]);
		http_client_response_free(&hr);
	}
	free(want);
	rm_rf(tmp);
	free(tmp);
	free(dest);
	free(path);
	free(sd);
}

/* Members talk over mutual TLS: a CA, one server and one client certificate for all. */
static void test_cluster_tls(void **state)
{
	(void)state;
	struct kc_err err = {0};
	struct kc_cert *ca, *srv, *cli;
	struct kc_key *ca_key, *srv_key, *cli_key;
	int64_t now = (int64_t)(kc_clock_real()->wall_ns(kc_clock_real()) / 1000000000u);
	assert_int_equal(kc_ca_create("kc-store-test-ca", now, &ca, &ca_key, &err), 0);
	assert_int_equal(kc_key_generate(&srv_key, &err), 0);
	assert_int_equal(kc_key_generate(&cli_key, &err), 0);
	const char *ips[] = {"127.0.0.1"};
	struct kc_cert_spec spec = {.cn = "kc-store-peer",
				    .ips = ips,
				    .nips = 1,
				    .not_before = now - 60,
				    .not_after = now + 3600};
	assert_int_equal(kc_cert_sign_server(ca, ca_key, srv_key, &spec, &srv, &err), 0);
	assert_int_equal(kc_cert_sign_client(ca, ca_key, cli_key, &spec, &cli, &err), 0);
	struct cluster c = {0};
	struct tls_server_opts so = {.chain = srv,
				     .key = srv_key,
				     .client_ca = ca,
				     .client_auth = TLS_CLIENT_AUTH_REQUIRED};
	struct tls_client_opts co = {.ca = ca, .cert = cli, .key = cli_key};
	if (tls_server_config_new(&so, &c.tls_server, &err) < 0 ||
	    tls_client_config_new(&co, &c.tls_client, &err) < 0)
		fail_msg("tls: %s", err.msg);
	cluster_init(&c, "https");
	for (int i = 0; i < N; i++)
		member_open(&c, i);
	int lead = find_leader(&c, 8000);
	assert_true(lead >= 0);
	int fol = (lead + 1) % N;
	assert_int_equal(put(c.s[fol], "tls", "yes"), 0);
	expect(c.s[(lead + 2) % N], "tls", "yes", true);
	/* a member that missed compacted entries downloads a snapshot file over TLS */
	int gone = (lead + 2) % N;
	store_close(c.s[gone]);
	c.s[gone] = NULL;
	char k[32], v[32];
	for (int i = 0; i < 40; i++) {
		snprintf(k, sizeof k, "tls%02d", i);
		snprintf(v, sizeof v, "v%02d", i);
		assert_int_equal(put(c.s[lead], k, v), 0);
	}
	member_open(&c, gone);
	wait_value(c.s[gone], "tls39", "v39");
	expect(c.s[gone], "tls00", "v00", false);
	check_snapshot_fetch(&c, lead, c.tls_client);
	cluster_free(&c);
	tls_server_config_free(c.tls_server);
	tls_client_config_free(c.tls_client);
	kc_cert_free(ca);
	kc_cert_free(srv);
	kc_cert_free(cli);
	kc_key_free(ca_key);
	kc_key_free(srv_key);
	kc_key_free(cli_key);
}

static void test_cluster(void **state)
{
	(void)state;
	struct cluster c = {0};
	cluster_init(&c, "http");
	for (int i = 0; i < N; i++)
		member_open(&c, i);
	int lead = find_leader(&c, 8000);
	assert_true(lead >= 0);

	char k[32], v[32];
	for (int i = 0; i < 20; i++) {
		snprintf(k, sizeof k, "key%02d", i);
		snprintf(v, sizeof v, "val%02d", i);
		assert_int_equal(put(c.s[lead], k, v), 0);
	}
	/* a follower forwards writes to the leader and answers with its own apply */
	int fol = (lead + 1) % N;
	for (int i = 0; i < 5; i++)
		assert_int_equal(put(c.s[fol], "fwd", i % 2 ? "odd" : "even"), 0);
	expect(c.s[lead], "fwd", "even", true);
	/* a lease granted through a follower, kept alive through another one */
	int64_t lid = store_lease_id_new();
	struct kc_str lcmd = KC_STR_INIT;
	struct kc_err lerr;
	struct done ld;
	assert_int_equal(mvcc_cmd_encode_lease_grant(&lcmd, lid, 60, &lerr), 0);
	assert_int_equal(submit(c.s[fol], &lcmd, &ld), 0);
	assert_int_equal(ld.res.err.code, 0);
	mvcc_result_free(&ld.res);
	struct ldone ka = {0};
	store_lease_keepalive(c.s[(lead + 2) % N], L, lid, on_lease, &ka);
	run_until(&ka.done, 5000);
	assert_int_equal(ka.rc, 0);
	assert_int_equal(ka.ttl, 60);
	memset(&ka, 0, sizeof ka);
	store_lease_keepalive(c.s[(lead + 2) % N], L, lid + 1, on_lease, &ka);
	run_until(&ka.done, 5000);
	assert_int_equal(ka.rc, -MVCC_ELEASE_NOT_FOUND);
	/* time-to-live asked of a follower is the leader's answer, with and without the keys; a
	 * missing lease is refused as the leader refuses it */
	for (int i = 0; i < 2; i++) {
		struct mvcc_put_req lp = {.key = i ? "lk/b" : "lk/a",
					  .key_len = 4,
					  .value = "1",
					  .value_len = 1,
					  .lease = lid};
		assert_int_equal(mvcc_cmd_encode_put(&lcmd, &lp, &lerr), 0);
		assert_int_equal(submit(c.s[lead], &lcmd, &ld), 0);
		assert_int_equal(ld.res.err.code, 0);
		mvcc_result_free(&ld.res);
	}
	kc_str_free(&lcmd);
	for (int keys = 0; keys < 2; keys++) {
		struct ldone tl = {0}, tf = {0};
		store_lease_timetolive(c.s[lead], L, lid, keys, on_lease, &tl);
		store_lease_timetolive(c.s[fol], L, lid, keys, on_lease, &tf);
		run_until(&tl.done, 5000);
		run_until(&tf.done, 5000);
		assert_int_equal(tl.rc, 0);
		if (tf.rc != 0)
			fail_msg("time-to-live on a follower: %s", tf.err.msg);
		assert_int_equal(tf.ttl, tl.ttl);
		assert_int_equal(tf.ttl, 60);
		assert_true(tf.remaining >= 1 && tf.remaining <= 60);
		assert_int_equal(tf.has_keys, keys);
		assert_string_equal(tf.keys, keys ? "lk/a\nlk/b\n" : "");
		assert_string_equal(tf.keys, tl.keys);
	}
	struct ldone gl = {0}, gf = {0};
	store_lease_timetolive(c.s[lead], L, lid + 1, true, on_lease, &gl);
	store_lease_timetolive(c.s[(lead + 2) % N], L, lid + 1, true, on_lease, &gf);
	run_until(&gl.done, 5000);
	run_until(&gf.done, 5000);
	assert_int_equal(gl.rc, -MVCC_ELEASE_NOT_FOUND);
	assert_int_equal(gf.rc, gl.rc);
	assert_string_equal(gf.err.msg, gl.err.msg);
	assert_string_equal(gf.err.msg, "etcdserver: requested lease not found");
	/* many writes at once, on the leader and through a follower; a follower's watch sees them */
	struct wcol wc = {.log = KC_STR_INIT};
	struct watch_create_req wr = {
		.key = "g", .key_len = 1, .range_end = "h", .range_end_len = 1};
	int64_t wid;
	store_watch(c.s[(lead + 2) % N], L, &wr, on_watch, &wc, &wid);
	loop_run_once(L, 50);
	put_many(c.s[lead], "gl", 100, true);
	put_many(c.s[fol], "gf", 50, false);
	for (int i = 0; i < 500 && wc.nevents < 150; i++)
		loop_run_once(L, 20);
	assert_int_equal(wc.nevents, 150);
	store_watch_cancel(c.s[(lead + 2) % N], wid);
	run_until(&wc.ended, 5000);
	assert_true(wc.ended);
	kc_str_free(&wc.log);
	/* linearizable reads on a follower see every acknowledged write */
	expect(c.s[fol], "key19", "val19", true);
	expect(c.s[(lead + 2) % N], "key00", "val00", true);

	/* stop the leader: a new one takes over and keeps everything */
	store_close(c.s[lead]);
	c.s[lead] = NULL;
	int lead2 = find_leader(&c, 8000);
	assert_true(lead2 >= 0);
	assert_int_not_equal(lead2, lead);
	for (int i = 20; i < 60; i++) {
		snprintf(k, sizeof k, "key%02d", i);
		snprintf(v, sizeof v, "val%02d", i);
		assert_int_equal(put(c.s[lead2], k, v), 0);
	}
	for (int i = 0; i < N; i++) {
		if (!c.s[i])
			continue;
		for (int j = 0; j < 60; j += 7) {
			snprintf(k, sizeof k, "key%02d", j);
			snprintf(v, sizeof v, "val%02d", j);
			expect(c.s[i], k, v, true);
		}
	}
	/* values that make the snapshot file take many chunks */
	size_t bigl = 128u << 10;
	char *big = xmalloc(bigl + 1);
	for (int i = 0; i < 16; i++) {
		memset(big, 'a' + i, bigl);
		big[bigl] = 0;
		snprintf(k, sizeof k, "big%02d", i);
		assert_int_equal(put(c.s[lead2], k, big), 0);
	}
	/* the old leader comes back and catches up (through a snapshot: the log was compacted),
	 * downloading the leader's snapshot file (a snapshot message only holds its descriptor) */
	member_open(&c, lead);
	wait_value(c.s[lead], "big15", big);
	expect(c.s[lead], "key59", "val59", false);
	expect(c.s[lead], "key05", "val05", true);
	free(big);
	check_snapshot_fetch(&c, lead2, NULL);

	/* the peer port answers a garbled membership change 400, with why */
	char cid[32], conf_url[96];
	snprintf(cid, sizeof cid, "%016" PRIx64, status(c.s[lead2]).cluster_id);
	snprintf(conf_url, sizeof conf_url, "%s/raft/conf", c.url[lead2]);
	struct http_client_header ch[1] = {{"X-Kc-Cluster", cid}};
	struct http_client_config hc = {.connect_timeout_ms = 2000, .request_timeout_ms = 5000};
	struct http_client_response hr = {0};
	struct kc_err herr;
	assert_int_equal(http_client_do(&hc, "POST", conf_url, ch, 1, "grow 1\n", 7, &hr, &herr),
			 0);
	assert_int_equal(hr.status, 400);
	assert_non_null(strstr(hr.body, "unknown kind"));
	http_client_response_free(&hr);
	snprintf(conf_url, sizeof conf_url, "%s/raft/ttl", c.url[lead2]);
	assert_int_equal(http_client_do(&hc, "POST", conf_url, ch, 1, "12 yes", 6, &hr, &herr), 0);
	assert_int_equal(hr.status, 400);
	assert_non_null(strstr(hr.body, "LEASE-ID 0|1"));
	http_client_response_free(&hr);

	/* A change sent to a follower is forwarded to the leader; a refusal comes back as the
	 * leader gave it (here: removing a member that is not one). */
	struct mdone md = {0}, mr = {0};
	store_member_remove(c.s[lead2], L, 42, on_member, &md);
	store_member_remove(c.s[lead], L, 42, on_member, &mr);
	run_until(&md.done, 5000);
	run_until(&mr.done, 5000);
	assert_true(md.done && mr.done);
	assert_int_equal(md.rc, -KC_EINVAL);
	assert_int_equal(mr.rc, md.rc);
	assert_string_equal(mr.err.msg, md.err.msg);

	/* a fourth member joins as a learner (asked of a follower), catches up, and is promoted
	 * (asked of a follower too) */
	memset(&md, 0, sizeof md);
	store_member_add(c.s[lead], L, c.name[N], c.url[N], on_member, &md);
	run_until(&md.done, 5000);
	assert_true(md.done);
	assert_int_equal(md.rc, 0);
	assert_int_equal(md.n, N + 1);
	assert_true(md.changed_learner);
	members_agree(&c, N + 1);
	member_open(&c, N);
	wait_value(c.s[N], "key59", "val59");
	/* A learner still in snapshot/probe state or a few entries behind is refused with
	 * -KC_EAGAIN (as etcd); the leader may also promote it by itself meanwhile, after which
	 * a promote is refused as a conf change on a voter: either way it ends up a voter. */
	bool promoted = false;
	for (int tries = 0; tries < 100 && !promoted; tries++) {
		memset(&md, 0, sizeof md);
		store_member_promote(c.s[lead], L, store_member_id(c.s[N]), on_member, &md);
		run_until(&md.done, 5000);
		assert_true(md.done);
		if (md.rc == 0) {
			assert_false(md.changed_learner);
			promoted = true;
			break;
		}
		struct mdone ml = {.watch_id = store_member_id(c.s[N])};
		store_member_list(c.s[lead2], L, on_member, &ml);
		run_until(&ml.done, 5000);
		promoted = ml.watch_voter;
		if (!promoted) {
			/* not caught up yet, or a leader change on a loaded machine */
			if (md.rc != -KC_EAGAIN && md.rc != -KC_EUNAVAIL)
				fail_msg("promote: %s", md.err.msg);
			uint64_t until = loop_now_ms(L) + 100;
			while (loop_now_ms(L) < until)
				loop_run_once(L, 20);
		}
	}
	assert_true(promoted);
	members_agree(&c, N + 1);
	assert_int_equal(put(c.s[lead2], "after", "promote"), 0);
	expect(c.s[N], "after", "promote", true);

	/* a graceful hand-over to the newcomer */
	struct mdone td = {0};
	store_transfer_leadership(c.s[lead2], L, store_member_id(c.s[N]), on_done, &td);
	run_until(&td.done, 5000);
	assert_true(td.done);
	if (td.rc != 0)
		fail_msg("transfer: %s", td.err.msg);
	assert_int_equal(find_leader(&c, 5000), N);
	assert_int_equal(put(c.s[N], "handed", "over"), 0);
	expect(c.s[lead2], "handed", "over", true);

	/* the first leader leaves the cluster (asked of a follower); the others go on without it */
	memset(&md, 0, sizeof md);
	store_member_remove(c.s[lead2], L, store_member_id(c.s[lead]), on_member, &md);
	run_until(&md.done, 5000);
	assert_int_equal(md.rc, 0);
	assert_int_equal(md.n, N);
	store_close(c.s[lead]);
	c.s[lead] = NULL;
	members_agree(&c, N);
	assert_int_equal(put(c.s[lead2], "removed", "one"), 0);
	expect(c.s[N], "removed", "one", true);

	cluster_free(&c);
}

/* The body of a forwarded membership change is untrusted: strict, bounded, canonical on output. */
static void test_peer_conf_parse(void **state)
{
	(void)state;
	struct peer_conf_change cc = {.kind = PEER_CONF_ADD, .id = 0xab}, got;
	snprintf(cc.name, sizeof cc.name, "m 4");
	snprintf(cc.peer_url, sizeof cc.peer_url, "https://10.0.0.4:2380");
	struct kc_str b = KC_STR_INIT;
	peer_conf_encode(&cc, &b);
	struct kc_err err = {0};
	assert_int_equal(peer_conf_parse(b.buf, b.len, &got, &err), 0);
	assert_memory_equal(&cc, &got, sizeof cc);
	kc_str_free(&b);
	assert_int_equal(peer_conf_parse("promote 1f\n", 11, &got, &err), 0);
	assert_int_equal(got.kind, PEER_CONF_PROMOTE);
	assert_int_equal(got.id, 0x1f);
	char big[PEER_CONF_BODY_MAX + 2];
	memset(big, 'a', sizeof big);
	char name[80];
	memset(name, 'n', sizeof name);
	const struct {
		const char *body;
		size_t len;
	} bad[] = {
		{"", 0},
		{"remove 1f", 9},		    /* unterminated */
		{"remove 0\n", 9},		    /* id 0 */
		{"remove 1F\n", 10},		    /* not lower-case hex */
		{"remove 12345678901234567\n", 25}, /* over 64 bits */
		{"remove 1f\nx\n", 12},		    /* a name for remove */
		{"add 1f\nname\n", 12},		    /* no URL */
		{"add 1f\n\nhttp://h:1\n", 19},	    /* empty name */
		{"add 1f\nna\tme\nhttp://h:1\n", 24},
		{"add 1f\nn\nu\nextra\n", 17},
		{"join 1f\n", 8},
		{"remove\x00 1f\n", 11},
		{big, sizeof big},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&err, 0, sizeof err);
		if (peer_conf_parse(bad[i].body, bad[i].len, &got, &err) != -KC_EINVAL ||
		    !err.msg[0])
			fail_msg("bad body %zu accepted", i);
	}
	struct kc_str longname = KC_STR_INIT;
	kc_str_addf(&longname, "add 1f\n%.*s\nhttp://h:1\n", (int)sizeof name, name);
	assert_int_equal(peer_conf_parse(longname.buf, longname.len, &got, &err), -KC_EINVAL);
	kc_str_free(&longname);
}

/* A snapshot message's descriptor is untrusted: strict, bounded, no path tricks in the name. */
static void test_snap_desc_parse(void **state)
{
	(void)state;
	struct snap_desc d = {.size = 123456789}, got;
	for (int i = 0; i < KC_SHA256_LEN; i++)
		d.sha256[i] = (uint8_t)(i * 7 + 1);
	snprintf(d.name, sizeof d.name, "00000000000004d2-9f3a000000000001");
	struct kc_str b = KC_STR_INIT;
	snap_desc_encode(&d, &b);
	assert_true(b.len <= SNAP_DESC_MAX);
	struct kc_err err = {0};
	assert_int_equal(snap_desc_parse(b.buf, b.len, &got, &err), 0);
	assert_memory_equal(&d, &got, sizeof d);
	/* the longest one */
	d.size = SNAP_SIZE_MAX;
	memset(d.name, 'z', SNAP_NAME_MAX);
	d.name[SNAP_NAME_MAX] = 0;
	kc_str_reset(&b);
	snap_desc_encode(&d, &b);
	assert_true(b.len <= SNAP_DESC_MAX);
	assert_int_equal(snap_desc_parse(b.buf, b.len, &got, &err), 0);
	assert_memory_equal(&d, &got, sizeof d);
	kc_str_free(&b);
	const char *h = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char ok[160];
	snprintf(ok, sizeof ok, "kc-snapshot/1 0 %s a\n", h);
	assert_int_equal(snap_desc_parse(ok, strlen(ok), &got, &err), 0);
	assert_int_equal(got.size, 0);
	assert_string_equal(got.name, "a");
	const char *bad_fmt[] = {
		"kc-snapshot/1 10 %s a",		/* unterminated */
		"kc-snapshot/2 10 %s a\n",		/* unknown version */
		"kc-snapshot/1 010 %s a\n",		/* leading zero */
		"kc-snapshot/1 -1 %s a\n",		/* sign */
		"kc-snapshot/1 17592186044417 %s a\n",	/* over SNAP_SIZE_MAX */
		"kc-snapshot/1 999999999999999 %s a\n", /* 15 digits */
		"kc-snapshot/1  10 %s a\n",		/* empty size */
		"kc-snapshot/1 10 %s \n",		/* empty name */
		"kc-snapshot/1 10 %s ../mvcc.db\n",	/* path tricks */
		"kc-snapshot/1 10 %s a/b\n",
		"kc-snapshot/1 10 %s -rf\n", /* leading '-' */
		"kc-snapshot/1 10 %s .hidden\n",
		"kc-snapshot/1 10 %s Abc\n", /* upper case */
		"kc-snapshot/1 10 %s a b\n", /* a space */
		"kc-snapshot/1 10 %s a\n\n", /* a second line */
		"kc-snapshot/1 10 %s a\r\n",
		"kc-snapshot/1 10 %sa a\n",    /* 65 hex digits */
		"kc-snapshot/1 10 %.63s a\n",  /* 63 */
		"kc-snapshot/1 10 %.63sA a\n", /* upper-case hex */
		"kc-snapshot/1 10 %.63sg a\n", /* not hex */
	};
	for (size_t i = 0; i < sizeof bad_fmt / sizeof bad_fmt[0]; i++) {
		char buf[256];
		int n = snprintf(buf, sizeof buf, bad_fmt[i], h);
		memset(&err, 0, sizeof err);
		if (snap_desc_parse(buf, (size_t)n, &got, &err) != -KC_EPARSE || !err.msg[0])
			fail_msg("bad descriptor %zu accepted: %s", i, buf);
	}
	char nul[160];
	int n = snprintf(nul, sizeof nul, "kc-snapshot/1 10 %s ab\n", h);
	nul[n - 2] = 0; /* "a\0\n" */
	assert_int_equal(snap_desc_parse(nul, (size_t)n, &got, &err), -KC_EPARSE);
	char longname[SNAP_NAME_MAX + 2];
	memset(longname, 'a', sizeof longname - 1);
	longname[SNAP_NAME_MAX + 1] = 0;
	char lbuf[256];
	n = snprintf(lbuf, sizeof lbuf, "kc-snapshot/1 10 %s %s\n", h, longname);
	assert_int_equal(snap_desc_parse(lbuf, (size_t)n, &got, &err), -KC_EPARSE);
	assert_int_equal(snap_desc_parse("", 0, &got, &err), -KC_EPARSE);
	char big[SNAP_DESC_MAX + 1];
	memset(big, 'a', sizeof big);
	assert_int_equal(snap_desc_parse(big, sizeof big, &got, &err), -KC_EPARSE);
	assert_true(snap_name_valid("0-a"));
	assert_false(snap_name_valid(""));
	assert_false(snap_name_valid(".."));
	assert_false(snap_name_valid("a.db"));
}

/* A download stops when asked (the store closing), even while the sender stalls mid-file, and
 * leaves nothing behind. */
struct stall {
	struct http_req *req;
};

static void stall_handler(struct http_req *req, void *arg)
{
	struct stall *st = arg;
	http_stream_begin(req, 200, "application/octet-stream");
	http_stream_write(req, "abc", 3);
	st->req = req; /* held: the file never ends */
}

struct fetch_job {
	char url[64];
	char dest[128];
	struct snap_desc d;
	atomic_bool cancel;
	atomic_bool done;
	int rc;
	struct kc_err err;
};

static void *fetch_thread(void *arg)
{
	struct fetch_job *j = arg;
	j->rc = peer_fetch_snapshot(j->url, 1, NULL, &j->d, j->dest, &j->cancel, &j->err);
	atomic_store(&j->done, true);
	return NULL;
}

static void test_snap_fetch_cancel(void **state)
{
	(void)state;
	struct stall st = {0};
	struct http_server *srv = NULL;
	struct kc_err err = {0};
	struct http_server_config sc = {
		.addr = "127.0.0.1", .handler = stall_handler, .handler_arg = &st};
	assert_int_equal(http_server_open(L, &sc, &srv, &err), 0);
	char *dir = tmpdir();
	struct fetch_job *j = xcalloc(1, sizeof *j);
	snprintf(j->url, sizeof j->url, "http://127.0.0.1:%u", http_server_port(srv));
	snprintf(j->dest, sizeof j->dest, "%s/mvcc.db.recv", dir);
	j->d.size = 1000;
	snprintf(j->d.name, sizeof j->d.name, "abc");
	atomic_init(&j->cancel, false);
	atomic_init(&j->done, false);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fetch_thread, j), 0);
	uint64_t end = kc_mono_ms(kc_clock_real()) + 10000;
	while (!st.req && !atomic_load(&j->done) && kc_mono_ms(kc_clock_real()) < end)
		loop_run_once(L, 20);
	assert_non_null(st.req);
	atomic_store(&j->cancel, true);
	end = kc_mono_ms(kc_clock_real()) + 10000;
	while (!atomic_load(&j->done) && kc_mono_ms(kc_clock_real()) < end)
		loop_run_once(L, 20);
	assert_true(atomic_load(&j->done));
	pthread_join(t, NULL);
	assert_int_equal(j->rc, -KC_ECLOSED);
	assert_int_not_equal(access(j->dest, F_OK), 0);
	http_req_abort(st.req);
	http_server_close(srv);
	free(j);
	rm_rf(dir);
	free(dir);
}

/* A forwarded time-to-live answer is untrusted: strict, bounded; what encodes parses back. */
static void test_peer_ttl_parse(void **state)
{
	(void)state;
	struct mvcc_kv kv[2] = {
		{.key = (uint8_t *)"a\nb c", .key_len = 5, .value = (uint8_t *)"", .lease = 7},
		{.key = (uint8_t *)"k", .key_len = 1, .value = (uint8_t *)"", .lease = 7}};
	struct mvcc_range_resp keys = {.kvs = kv, .nkvs = 2, .count = 2}, got;
	struct mvcc_lease_info info = {.id = 7, .ttl = 60, .remaining = 59}, gi;
	struct kc_str b = KC_STR_INIT;
	struct kc_err err = {0};
	int code = 1;
	peer_ttl_encode(0, &info, &keys, NULL, &b);
	assert_int_equal(peer_ttl_parse(b.buf, b.len, &code, &gi, &got, &err), 0);
	assert_int_equal(code, 0);
	assert_memory_equal(&gi, &info, sizeof info);
	assert_int_equal(got.nkvs, 2);
	assert_int_equal(got.kvs[0].key_len, 5);
	assert_memory_equal(got.kvs[0].key, "a\nb c", 5);
	assert_memory_equal(got.kvs[1].key, "k", 1);
	assert_int_equal(got.kvs[1].lease, 7);
	mvcc_range_resp_free(&got);
	/* a refusal carries its code and message */
	kc_str_reset(&b);
	peer_ttl_encode(-MVCC_ELEASE_NOT_FOUND, &info, NULL, NULL, &b);
	assert_int_equal(peer_ttl_parse(b.buf, b.len, &code, &gi, &got, &err), 0);
	assert_int_equal(code, -MVCC_ELEASE_NOT_FOUND);
	assert_string_equal(err.msg, "etcdserver: requested lease not found");
	/* over the key limit the leader answers -KC_ELIMIT, with why */
	struct mvcc_range_resp many = {
		.kvs = xcalloc(PEER_TTL_KEYS_MAX + 1, sizeof(struct mvcc_kv)),
		.nkvs = PEER_TTL_KEYS_MAX + 1};
	for (size_t i = 0; i < many.nkvs; i++)
		many.kvs[i] = kv[1];
	kc_str_reset(&b);
	peer_ttl_encode(0, &info, &many, NULL, &b);
	free(many.kvs);
	assert_int_equal(peer_ttl_parse(b.buf, b.len, &code, &gi, &got, &err), 0);
	assert_int_equal(code, -KC_ELIMIT);
	assert_non_null(strstr(err.msg, "ask the leader"));
	kc_str_free(&b);
	char *big = xcalloc(1, PEER_TTL_BODY_MAX + 1);
	memcpy(big, "0 7 60 59 0\n", 12);
	const struct {
		const char *body;
		size_t len;
	} bad[] = {
		{"", 0},
		{"0 7 60 59 0", 11},	/* unterminated */
		{"0 7 60 59\n", 10},	/* a field short */
		{"0 0 60 59 0\n", 12},	/* lease id 0 */
		{"0 07 60 59 0\n", 13}, /* leading zero */
		{"0 +7 60 59 0\n", 13},
		{"0 7 60 -1 0\n", 12},	    /* negative remaining */
		{"1 7 60 59 0\n", 12},	    /* a positive code */
		{"0 7 60 59 1\n", 12},	    /* a key announced, none sent */
		{"0 7 60 59 1\n2 a\n", 16}, /* a key shorter than its length */
		{"0 7 60 59 1\n1 ab\n", 17},
		{"0 7 60 59 0\nx", 13},	   /* trailing bytes */
		{"0 7 60 59 10001\n", 16}, /* over PEER_TTL_KEYS_MAX */
		{"-1 0 0 0 0\n", 11},	   /* a refusal without a message */
		{"-1 0 0 0 0\nno\tpe", 16},
		{"-1 7 0 0 0\nwhy", 14},
		{"0 7 60 59 0 1\n", 14},
		{big, PEER_TTL_BODY_MAX + 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&err, 0, sizeof err);
		if (peer_ttl_parse(bad[i].body, bad[i].len, &code, &gi, &got, &err) != -KC_EPROTO ||
		    !err.msg[0] || got.kvs)
			fail_msg("bad answer %zu accepted", i);
	}
	free(big);
}

static int setup(void **state)
{
	(void)state;
	L = loop_new(NULL);
	kc_log_set_level(getenv("KC_TEST_DEBUG") ? KC_LOG_DEBUG : KC_LOG_ERROR);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	while (loop_run_once(L, 0) > 0)
		;
	loop_free(L);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_conf_parse), cmocka_unit_test(test_peer_ttl_parse),
		cmocka_unit_test(test_snap_desc_parse), cmocka_unit_test(test_snap_fetch_cancel),
		cmocka_unit_test(test_raft_sqlite),	cmocka_unit_test(test_single_member),
		cmocka_unit_test(test_crash_recovery),	cmocka_unit_test(test_auto_compaction),
		cmocka_unit_test(test_mvcc_behind_log), cmocka_unit_test(test_cluster),
		cmocka_unit_test(test_cluster_tls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
