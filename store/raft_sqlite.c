/* DESIGN: Raft's disk. raft.db holds the log (entries: idx, term, type, data) and a small meta
 * table (hard state, snapshot metadata, the first retained index and the term just before it).
 * Owned by the store thread. Every Ready is one transaction (synchronous=FULL: durable at
 * COMMIT), so a crash leaves either all of a Ready or none of it. The terms of retained entries
 * are cached in memory (terms[i] = term of index first - 1 + i), because raft asks for them
 * constantly; entry data is read back from SQLite on demand. The cache is changed only after a
 * COMMIT succeeded. */
#include "store/raft_sqlite.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/vec.h"
#include "store/walckpt.h"

enum { ST_META_SET, ST_ENT_DEL_FROM, ST_ENT_DEL_BELOW, ST_ENT_INS, ST_ENT_GET, ST_COUNT };

static const char *const stmt_sql[ST_COUNT] = {
	[ST_META_SET] = "INSERT OR REPLACE INTO meta(k, v, b) VALUES (?1, ?2, ?3)",
	[ST_ENT_DEL_FROM] = "DELETE FROM entries WHERE idx >= ?1",
	[ST_ENT_DEL_BELOW] = "DELETE FROM entries WHERE idx < ?1",
	[ST_ENT_INS] = "INSERT INTO entries(idx, term, type, data) VALUES (?1, ?2, ?3, ?4)",
	[ST_ENT_GET] = "SELECT idx, term, type, data FROM entries WHERE idx >= ?1 AND idx < ?2 "
		       "ORDER BY idx",
};

struct raft_sqlite {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap;
	uint64_t first;	     /* first retained index */
	struct kc_vec terms; /* uint64_t; [0] = term of first - 1 */
	struct kc_vec removed; /* uint64_t: members removed from the cluster */
	bool empty;
	bool sync_off;
	raft_sqlite_snapshot_fn snap_fn;
	void *snap_arg;
};

static int db_fail(struct raft_sqlite *rs, struct kc_err *err, const char *what)
{
	return kc_err_set(err, -KC_EIO, "raft.db: %s: %s", what, sqlite3_errmsg(rs->db));
}

static int exec(struct raft_sqlite *rs, const char *sql, struct kc_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(rs->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		kc_err_set(err, -KC_EIO, "raft.db: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -KC_EIO;
	}
	return 0;
}

static uint64_t term_at(const struct raft_sqlite *rs, size_t i)
{
	return *(uint64_t *)kc_vec_at(&rs->terms, i);
}

uint64_t raft_sqlite_first_index(const struct raft_sqlite *rs)
{
	return rs->first;
}

uint64_t raft_sqlite_last_index(const struct raft_sqlite *rs)
{
	return rs->first - 1 + rs->terms.len - 1;
}

uint64_t raft_sqlite_snapshot_index(const struct raft_sqlite *rs)
{
	return rs->snap.index;
}

bool raft_sqlite_is_empty(const struct raft_sqlite *rs)
{
	return rs->empty;
}

void raft_sqlite_set_snapshot_fn(struct raft_sqlite *rs, raft_sqlite_snapshot_fn fn, void *arg)
{
	rs->snap_fn = fn;
	rs->snap_arg = arg;
}

static void cache_reset(struct raft_sqlite *rs, uint64_t first, uint64_t prev_term)
{
	rs->first = first;
	kc_vec_clear(&rs->terms);
	kc_vec_push(&rs->terms, &prev_term);
}

static int meta_set(struct raft_sqlite *rs, const char *k, uint64_t v, const void *b, size_t blen,
		    struct kc_err *err)
{
	sqlite3_stmt *st = rs->st[ST_META_SET];
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)v);
	if (b)
		sqlite3_bind_blob(st, 3, b, (int)blen, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_fail(rs, err, "meta");
}

static int load_removed(struct raft_sqlite *rs, struct kc_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(rs->db, "SELECT id FROM removed", -1, &st, NULL) != SQLITE_OK)
		return db_fail(rs, err, "load removed");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
		kc_vec_push(&rs->removed, &id);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(rs, err, "load removed");
}

static int load(struct raft_sqlite *rs, struct kc_err *err)
{
	sqlite3_stmt *st;
	uint64_t first = 1, prev_term = 0;
	int rc = 0;
	bool any = false;
	if (sqlite3_prepare_v2(rs->db, "SELECT k, v, b FROM meta", -1, &st, NULL) != SQLITE_OK)
		return db_fail(rs, err, "load meta");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		uint64_t v = (uint64_t)sqlite3_column_int64(st, 1);
		any = true;
		if (!strcmp(k, "term"))
			rs->hs.term = v;
		else if (!strcmp(k, "vote"))
			rs->hs.vote = v;
		else if (!strcmp(k, "commit"))
			rs->hs.commit = v;
		else if (!strcmp(k, "first"))
			first = v;
		else if (!strcmp(k, "prev_term"))
			prev_term = v;
		else if (!strcmp(k, "snap_index"))
			rs->snap.index = v;
		else if (!strcmp(k, "snap_term"))
			rs->snap.term = v;
		else if (!strcmp(k, "snap_conf")) {
			struct kc_err e2;
			if (raft_conf_decode(sqlite3_column_blob(st, 2),
					     (size_t)sqlite3_column_bytes(st, 2), &rs->snap.conf,
					     &e2) < 0) {
				sqlite3_finalize(st);
				return kc_err_set(err, -KC_EIO, "raft.db: bad snapshot conf: %s",
						  e2.msg);
			}
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(rs, err, "load meta");
	cache_reset(rs, first, prev_term);
	if (sqlite3_prepare_v2(rs->db, "SELECT idx, term FROM entries WHERE idx >= ?1 ORDER BY idx",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(rs, err, "load terms");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)first);
	uint64_t want = first;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t term = (uint64_t)sqlite3_column_int64(st, 1);
		if (idx != want) {
			sqlite3_finalize(st);
			return kc_err_set(err, -KC_EIO, "raft.db: log gap at index %llu",
					  (unsigned long long)want);
		}
		kc_vec_push(&rs->terms, &term);
		want++;
		any = true;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(rs, err, "load terms");
	rs->empty = !any;
	return 0;
}

void raft_sqlite_wal_watch(struct raft_sqlite *rs, struct wal_watch *w)
{
	wal_watch_install(rs->db, w);
}

int raft_sqlite_open(const char *path, bool sync_off, struct raft_sqlite **out, struct kc_err *err)
{
	struct raft_sqlite *rs = xcalloc(1, sizeof *rs);
	int rc;
	kc_vec_init(&rs->terms, sizeof(uint64_t));
	kc_vec_init(&rs->removed, sizeof(uint64_t));
	if (sqlite3_open_v2(path, &rs->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = kc_err_set(err, -KC_EIO, "%s: %s", path,
				rs->db ? sqlite3_errmsg(rs->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(rs->db, 5000);
	rs->sync_off = sync_off;
	if ((rc = exec(rs, "PRAGMA journal_mode = WAL", err)) < 0 ||
	    (rc = exec(rs, sync_off ? "PRAGMA synchronous = OFF" : "PRAGMA synchronous = FULL",
		       err)) < 0 ||
	    (rc = exec(rs,
		       "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER, b BLOB);"
		       "CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, term INTEGER "
		       "NOT NULL, type INTEGER NOT NULL, data BLOB);"
		       "CREATE TABLE IF NOT EXISTS members(id INTEGER PRIMARY KEY, name TEXT, "
		       "peer_url TEXT, client_url TEXT);"
		       "CREATE TABLE IF NOT EXISTS removed(id INTEGER PRIMARY KEY);",
		       err)) < 0)
		goto fail;
	for (int i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(rs->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &rs->st[i], NULL) != SQLITE_OK) {
			rc = db_fail(rs, err, stmt_sql[i]);
			goto fail;
		}
	if ((rc = load(rs, err)) < 0 || (rc = load_removed(rs, err)) < 0)
		goto fail;
	*out = rs;
	return 0;
fail:
	kc_err_wrap(err, "%s", path);
	raft_sqlite_close(rs);
	return rc;
}

void raft_sqlite_close(struct raft_sqlite *rs)
{
	if (!rs)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(rs->st[i]);
	sqlite3_close(rs->db);
	kc_vec_free(&rs->terms);
	kc_vec_free(&rs->removed);
	free(rs);
}

static int put_entry(struct raft_sqlite *rs, const struct raft_entry *e, struct kc_err *err)
{
	sqlite3_stmt *st = rs->st[ST_ENT_INS];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)e->index);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)e->term);
	sqlite3_bind_int(st, 3, (int)e->type);
	if (e->len)
		sqlite3_bind_blob(st, 4, e->data, (int)e->len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_fail(rs, err, "insert entry");
}

static int del_stmt(struct raft_sqlite *rs, int which, uint64_t idx, struct kc_err *err)
{
	sqlite3_stmt *st = rs->st[which];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_fail(rs, err, "delete entries");
}

static int snap_meta_write(struct raft_sqlite *rs, const struct raft_snapshot_meta *m,
			   struct kc_err *err)
{
	struct kc_str conf = KC_STR_INIT;
	raft_conf_encode(&m->conf, &conf);
	int rc;
	if ((rc = meta_set(rs, "snap_index", m->index, NULL, 0, err)) == 0 &&
	    (rc = meta_set(rs, "snap_term", m->term, NULL, 0, err)) == 0)
		rc = meta_set(rs, "snap_conf", 0, conf.buf, conf.len, err);
	kc_str_free(&conf);
	return rc;
}

int raft_sqlite_persist(struct raft_sqlite *rs, const struct raft_ready *rd, struct kc_err *err)
{
	int rc;
	uint64_t first = rs->first, last = raft_sqlite_last_index(rs);
	if (rd->snapshot) {
		first = rd->snapshot->meta.index + 1;
		last = rd->snapshot->meta.index;
	}
	if (rd->n_entries && (rd->entries[0].index < first || rd->entries[0].index > last + 1))
		return kc_err_set(err, -KC_EINVAL, "raft.db: append at %llu outside [%llu, %llu]",
				  (unsigned long long)rd->entries[0].index,
				  (unsigned long long)first, (unsigned long long)last + 1);
	if ((rc = exec(rs, "BEGIN IMMEDIATE", err)) < 0)
		return rc;
	if (rd->snapshot) {
		const struct raft_snapshot_meta *m = &rd->snapshot->meta;
		if ((rc = del_stmt(rs, ST_ENT_DEL_FROM, 0, err)) < 0 ||
		    (rc = snap_meta_write(rs, m, err)) < 0 ||
		    (rc = meta_set(rs, "first", m->index + 1, NULL, 0, err)) < 0 ||
		    (rc = meta_set(rs, "prev_term", m->term, NULL, 0, err)) < 0)
			goto rollback;
	}
	if (rd->n_entries) {
		if ((rc = del_stmt(rs, ST_ENT_DEL_FROM, rd->entries[0].index, err)) < 0)
			goto rollback;
		for (size_t i = 0; i < rd->n_entries; i++)
			if ((rc = put_entry(rs, &rd->entries[i], err)) < 0)
				goto rollback;
	}
	if (rd->has_hard_state && ((rc = meta_set(rs, "term", rd->hs.term, NULL, 0, err)) < 0 ||
				   (rc = meta_set(rs, "vote", rd->hs.vote, NULL, 0, err)) < 0 ||
				   (rc = meta_set(rs, "commit", rd->hs.commit, NULL, 0, err)) < 0))
		goto rollback;
	if ((rc = exec(rs, "COMMIT", err)) < 0)
		goto rollback;
	/* The disk has it: mirror it in the cache. */
	if (rd->snapshot) {
		rs->snap = rd->snapshot->meta;
		cache_reset(rs, rd->snapshot->meta.index + 1, rd->snapshot->meta.term);
	}
	if (rd->n_entries) {
		rs->terms.len = (size_t)(rd->entries[0].index - rs->first + 1);
		for (size_t i = 0; i < rd->n_entries; i++)
			kc_vec_push(&rs->terms, &rd->entries[i].term);
	}
	if (rd->has_hard_state)
		rs->hs = rd->hs;
	if (rd->snapshot || rd->n_entries || rd->has_hard_state)
		rs->empty = false;
	return 0;
rollback:
	sqlite3_exec(rs->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int raft_sqlite_bootstrap(struct raft_sqlite *rs, const struct raft_conf *conf, struct kc_err *err)
{
	struct raft_entry e;
	int rc = raft_bootstrap_entry(conf, &e);
	if (rc < 0)
		return kc_err_set(err, rc, "invalid founding configuration");
	struct raft_ready rd = {
		.has_hard_state = true, .hs = {.term = 1}, .entries = &e, .n_entries = 1};
	rc = raft_sqlite_persist(rs, &rd, err);
	free(e.data);
	return rc;
}

int raft_sqlite_compact(struct raft_sqlite *rs, uint64_t index, const struct raft_conf *conf,
			uint64_t keep, uint64_t max_drop, struct kc_err *err)
{
	uint64_t last = raft_sqlite_last_index(rs);
	if (index < rs->snap.index || index > last || index < rs->first)
		return kc_err_set(err, -KC_EINVAL, "raft.db: cannot compact at %llu",
				  (unsigned long long)index);
	bool new_point = index > rs->snap.index;
	struct raft_snapshot_meta m = rs->snap;
	if (new_point)
		m = (struct raft_snapshot_meta){
			.index = index, .term = term_at(rs, index - rs->first + 1), .conf = *conf};
	uint64_t new_first = index + 1 > keep ? index + 1 - keep : 1;
	if (new_first < rs->first)
		new_first = rs->first;
	if (max_drop && new_first - rs->first > max_drop)
		new_first = rs->first + max_drop;
	if (!new_point && new_first == rs->first)
		return 0;
	uint64_t prev_term = term_at(rs, new_first - rs->first);
	/* Not synced on its own: losing it to a power cut only keeps more log (the state machine
	 * below 'index' is durable already), and the next Ready's FULL commit syncs it anyway. */
	int rc;
	if (!rs->sync_off && (rc = exec(rs, "PRAGMA synchronous = NORMAL", err)) < 0)
		return rc;
	if ((rc = exec(rs, "BEGIN IMMEDIATE", err)) < 0)
		goto out;
	if ((new_point && (rc = snap_meta_write(rs, &m, err)) < 0) ||
	    (rc = del_stmt(rs, ST_ENT_DEL_BELOW, new_first, err)) < 0 ||
	    (rc = meta_set(rs, "first", new_first, NULL, 0, err)) < 0 ||
	    (rc = meta_set(rs, "prev_term", prev_term, NULL, 0, err)) < 0 ||
	    (rc = exec(rs, "COMMIT", err)) < 0) {
		sqlite3_exec(rs->db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	rs->snap = m;
	size_t drop = (size_t)(new_first - rs->first);
	if (drop) {
		uint64_t *t = rs->terms.data;
		memmove(t, t + drop, (rs->terms.len - drop) * sizeof *t);
		rs->terms.len -= drop;
	}
	rs->first = new_first;
out:
	if (!rs->sync_off) {
		struct kc_err e2;
		int rc2 = exec(rs, "PRAGMA synchronous = FULL", &e2);
		if (rc2 < 0 && rc == 0) {
			*err = e2;
			rc = rc2;
		}
	}
	return rc;
}

int raft_sqlite_member_put(struct raft_sqlite *rs, uint64_t id, const char *name,
			   const char *peer_url, const char *client_url, struct kc_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(rs->db, "INSERT OR REPLACE INTO members VALUES (?1, ?2, ?3, ?4)", -1,
			       &st, NULL) != SQLITE_OK)
		return db_fail(rs, err, "member put");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, peer_url ? peer_url : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, client_url ? client_url : "", -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(rs, err, "member put");
}

int raft_sqlite_member_del(struct raft_sqlite *rs, uint64_t id, struct kc_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(rs->db, "DELETE FROM members WHERE id = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(rs, err, "member del");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(rs, err, "member del");
}

bool raft_sqlite_removed(const struct raft_sqlite *rs, uint64_t id)
{
	for (size_t i = 0; i < rs->removed.len; i++)
		if (*(const uint64_t *)kc_vec_at(&rs->removed, i) == id)
			return true;
	return false;
}

int raft_sqlite_set_removed(struct raft_sqlite *rs, uint64_t id, bool removed,
			    struct kc_err *err)
{
	if (raft_sqlite_removed(rs, id) == removed)
		return 0;
	sqlite3_stmt *st;
	const char *sql = removed ? "INSERT OR IGNORE INTO removed(id) VALUES (?1)"
				  : "DELETE FROM removed WHERE id = ?1";
	if (sqlite3_prepare_v2(rs->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(rs, err, "removed");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(rs, err, "removed");
	if (removed) {
		kc_vec_push(&rs->removed, &id);
	} else {
		for (size_t i = 0; i < rs->removed.len; i++)
			if (*(uint64_t *)kc_vec_at(&rs->removed, i) == id) {
				kc_vec_swap_remove(&rs->removed, i);
				break;
			}
	}
	return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

int raft_sqlite_members(struct raft_sqlite *rs,
			void (*fn)(void *arg, uint64_t id, const char *name, const char *peer_url,
				   const char *client_url),
			void *arg, struct kc_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(rs->db, "SELECT id, name, peer_url, client_url FROM members", -1,
			       &st, NULL) != SQLITE_OK)
		return db_fail(rs, err, "members");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, (uint64_t)sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2),
		   col_text(st, 3));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(rs, err, "members");
}

/* ---- raft_storage_ops ---- */

static int op_hard_state(void *ctx, struct raft_hard_state *out)
{
	*out = ((struct raft_sqlite *)ctx)->hs;
	return 0;
}

static int op_snapshot_meta(void *ctx, struct raft_snapshot_meta *out)
{
	*out = ((struct raft_sqlite *)ctx)->snap;
	return 0;
}

static uint64_t op_first_index(void *ctx)
{
	return raft_sqlite_first_index(ctx);
}

static uint64_t op_last_index(void *ctx)
{
	return raft_sqlite_last_index(ctx);
}

static int op_term(void *ctx, uint64_t index, uint64_t *out)
{
	struct raft_sqlite *rs = ctx;
	if (index + 1 < rs->first || index > raft_sqlite_last_index(rs))
		return -KC_ENOTFOUND;
	*out = term_at(rs, (size_t)(index + 1 - rs->first));
	return 0;
}

static int op_entries(void *ctx, uint64_t lo, uint64_t hi, size_t max_bytes, struct kc_vec *out)
{
	struct raft_sqlite *rs = ctx;
	if (lo < rs->first)
		return -KC_ENOTFOUND;
	sqlite3_stmt *st = rs->st[ST_ENT_GET];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)lo);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)hi);
	size_t total = 0, n = 0;
	int rc;
	uint64_t want = lo;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct raft_entry e = {0};
		e.index = (uint64_t)sqlite3_column_int64(st, 0);
		e.term = (uint64_t)sqlite3_column_int64(st, 1);
		e.type = (enum raft_entry_type)sqlite3_column_int(st, 2);
		e.len = (size_t)sqlite3_column_bytes(st, 3);
		if (e.index != want)
			break;
		if (n > 0 && total + e.len + 24 > max_bytes)
			break;
		if (e.len)
			e.data = xmemdup(sqlite3_column_blob(st, 3), e.len);
		total += e.len + 24;
		kc_vec_push(out, &e);
		n++;
		want++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("raft.db: reading entries: %s", sqlite3_errmsg(rs->db));
		return -KC_EIO;
	}
	if (n == 0) {
		log_error("raft.db: entries [%llu, %llu) missing", (unsigned long long)lo,
			  (unsigned long long)hi);
		return -KC_EIO;
	}
	return 0;
}

static int op_snapshot(void *ctx, struct raft_snapshot *out)
{
	struct raft_sqlite *rs = ctx;
	if (!rs->snap_fn || rs->snap.index == 0)
		return -KC_EAGAIN;
	memset(out, 0, sizeof *out);
	out->meta = rs->snap;
	return rs->snap_fn(rs->snap_arg, &rs->snap, &out->data, &out->len);
}

const struct raft_storage_ops raft_sqlite_ops = {
	.hard_state = op_hard_state,
	.snapshot_meta = op_snapshot_meta,
	.first_index = op_first_index,
	.last_index = op_last_index,
	.term = op_term,
	.entries = op_entries,
	.snapshot = op_snapshot,
};
