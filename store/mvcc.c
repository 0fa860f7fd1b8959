/* DESIGN: the MVCC state machine: one SQLite database, one write connection, owned by the store
 * thread. It owns the schema (created here, queried by mvcc_read.c), the apply loop, physical
 * compaction, the WAL checkpoints, the in-memory lease table and the in-memory key index.
 *
 * Layout (etcd's): the history table holds every retained row, keyed by id = revision << 20 |
 * sub, so a batch of writes appends to the end of one B-tree whatever its keys are, and dirties
 * a few pages instead of two random pages per write (a key-ordered current-state table plus a
 * key-ordered index over history cost 8.9 KB of WAL per 256-byte put). The key index
 * (keyidx.h) maps each key to the revisions of its rows; it is rebuilt from the table at open.
 * A read walks the index for the rows visible at its revision, then reads them by id.
 *
 * Apply: a batch is BEGIN IMMEDIATE ... COMMIT with the applied index and revision written to
 * meta in the same transaction, so the state on disk is always "every entry up to
 * applied_index", never half a batch; entries at or below it are skipped on replay. Each
 * modifying command takes revision = previous + 1 for all its changes (sub = 0, 1, ... orders
 * them); a command that changes nothing leaves the revision alone (etcd). Deterministic
 * rejections leave no trace: single-op commands check everything before writing, and txns run
 * inside a SAVEPOINT rolled back on rejection. Every index change of the batch is logged
 * (struct undo) and taken back with a rejected txn or a failed batch; a SQLite failure rolls
 * the whole batch back and restores the other in-memory copies (revision, compaction state,
 * leases) from what was committed.
 *
 * Readers (other threads) take their SQLite snapshot first and then walk the index under its
 * read lock for revisions at or below the snapshot's: index entries of the batch being applied
 * are newer and ignored, and every older entry's row is in the snapshot. Compaction may have
 * dropped entries a snapshot older than it needs: the index's floor says so, and the read is
 * refused as compacted (or, at the current revision, retried on a newer snapshot).
 *
 * Compaction: the compact command only raises meta.compact_rev (C). mvcc_compact_step() then
 * walks history rows with id below C's from a persisted cursor and, for each row, deletes that
 * key's older rows (superseded below C) and the row itself when it is a deletion. What
 * survives: every row >= C, and per key the newest row below C if it is a put - exactly what
 * reads at revisions >= C and watches from C need. The cursor makes the work incremental across
 * compactions (rows already processed are never rescanned) and crash-safe (it commits with the
 * deletions). The index forgets the deleted rows only after that commit, and after raising its
 * floor to C.
 *
 * Invariants: in memory, rev/compact_rev/applied/cursor equal meta outside mvcc_apply_batch;
 * revision >= compact_rev >= 0; history has at most one row per (key, rev); outside a batch the
 * index holds exactly the history rows, and each node's lease is that of its newest row. */
#include "store/mvcc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/vec.h"
#include "store/walckpt.h"

struct lease {
	int64_t id;
	int64_t ttl;
	int64_t remaining;     /* checkpointed remaining TTL (s), 0 = none */
	uint64_t expiry_ms;    /* this node's view; 0 = not armed yet */
};

/* How to take back one index change of the batch being applied. */
struct undo {
	struct kidx_node *node;
	uint32_t nrev;          /* revisions it had before (0: it was created) */
	int64_t lease;
};

struct mvcc {
	char *path;
	bool memory;
	struct mvcc_conn w;
	uint64_t cluster_id;
	uint64_t member_id;
	uint64_t applied;
	int64_t rev;
	int64_t compact_rev;
	int64_t cursor_rev;    /* history rows before (cursor_rev, cursor_sub) are compacted */
	int64_t cursor_sub;
	struct kc_map leases;  /* 8-byte id -> struct lease * */
	struct kidx *idx;      /* every key of history, with the revisions of its rows */
	struct kc_vec undo;    /* struct undo: index changes of the batch being applied */
	/* scratch of the command being applied */
	struct mvcc_events *evs;
	uint32_t sub;          /* changes made so far; revision rev + 1 is taken when > 0 */
};

/* History rows by id = revision << MVCC_SUB_BITS | sub: a write appends at the end of the
 * table's B-tree, whatever its key. The key index lives in memory (keyidx.h). */
#define HISTORY_TABLE(name)                                                                      \
	"CREATE TABLE " name " ("                                                                \
	" id INTEGER PRIMARY KEY,"                                                               \
	" key BLOB NOT NULL,"                                                                    \
	" type INTEGER NOT NULL,"                                                                \
	" create_rev INTEGER NOT NULL,"                                                          \
	" version INTEGER NOT NULL,"                                                             \
	" lease INTEGER NOT NULL,"                                                               \
	" value BLOB);"

static const char schema_sql[] =
	"CREATE TABLE meta ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" schema_version INTEGER NOT NULL,"
	" cluster_id INTEGER NOT NULL,"
	" member_id INTEGER NOT NULL,"
	" applied_index INTEGER NOT NULL,"
	" revision INTEGER NOT NULL,"
	" compact_rev INTEGER NOT NULL,"
	" cursor_rev INTEGER NOT NULL,"
	" cursor_sub INTEGER NOT NULL);"
	HISTORY_TABLE("history")
	"CREATE TABLE lease ("
	" id INTEGER PRIMARY KEY,"
	" ttl INTEGER NOT NULL,"
	" remaining INTEGER NOT NULL);";

/* ---------------------------------------------------------------------------------------------
 * small helpers */

int64_t mvcc_revision(const struct mvcc *m)
{
	return m->rev;
}

int64_t mvcc_compact_revision(const struct mvcc *m)
{
	return m->compact_rev;
}

uint64_t mvcc_applied_index(const struct mvcc *m)
{
	return m->applied;
}

uint64_t mvcc_cluster_id(const struct mvcc *m)
{
	return m->cluster_id;
}

uint64_t mvcc_member_id(const struct mvcc *m)
{
	return m->member_id;
}

static struct lease *lease_find(struct mvcc *m, int64_t id)
{
	return kc_map_get(&m->leases, &id, sizeof id);
}

static int reject(struct kc_err *err, int code)
{
	return kc_err_set(err, code, "%s", mvcc_strerror(code));
}

/* Runs a query returning one integer. */
static int query_i64(struct mvcc_conn *c, const char *sql, int64_t *out, struct kc_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*out = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return conn_fail(c, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, sql, err);
	return 0;
}

static int query_text(struct mvcc_conn *c, const char *sql, char *buf, size_t size,
		      struct kc_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	buf[0] = '\0';
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(st, 0);
			snprintf(buf, size, "%s", t ? (const char *)t : "");
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return conn_fail(c, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, sql, err);
	return 0;
}

static int step_simple(struct mvcc *m, enum mvcc_stmt id, const char *what, struct kc_err *err)
{
	sqlite3_stmt *st = conn_stmt(&m->w, id, err);
	return st ? conn_run(&m->w, st, what, err) : err->code;
}

/* ---------------------------------------------------------------------------------------------
 * leases in memory */

static void lease_put(struct mvcc *m, int64_t id, int64_t ttl, int64_t remaining,
		      uint64_t expiry_ms)
{
	struct lease *l = xcalloc(1, sizeof *l);
	*l = (struct lease){ id, ttl, remaining, expiry_ms };
	kc_map_put(&m->leases, &id, sizeof id, l);
}

/* (Re)loads the lease table, keeping the expiry of leases that survive. */
static int leases_load(struct mvcc *m, struct kc_err *err)
{
	struct kc_map old = m->leases;
	kc_map_init(&m->leases, free);
	sqlite3_stmt *st = conn_stmt(&m->w, ST_LEASE_ALL, err);
	int rc = st ? SQLITE_OK : SQLITE_ERROR;
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		struct lease *prev = kc_map_get(&old, &id, sizeof id);
		lease_put(m, id, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
			  prev ? prev->expiry_ms : 0);
	}
	if (st)
		sqlite3_reset(st);
	kc_map_free(&old);
	if (!st)
		return err->code;
	return rc == SQLITE_DONE ? 0 : conn_fail(&m->w, rc, "load leases", err);
}

static void lease_arm(struct lease *l, uint64_t now_ms)
{
	if (l->expiry_ms == 0)
		l->expiry_ms = now_ms + (uint64_t)(l->remaining > 0 ? l->remaining : l->ttl) * 1000u;
}

void mvcc_lease_promote(struct mvcc *m, uint64_t now_ms, uint64_t extend_ms)
{
	size_t pos = 0;
	void *v;
	while (kc_map_next(&m->leases, &pos, NULL, NULL, &v)) {
		struct lease *l = v;
		l->expiry_ms = 0;
		lease_arm(l, now_ms);
		l->expiry_ms += extend_ms;
	}
}

int mvcc_lease_keepalive(struct mvcc *m, int64_t id, uint64_t now_ms, int64_t *ttl)
{
	struct lease *l = lease_find(m, id);
	if (!l)
		return -MVCC_ELEASE_NOT_FOUND;
	l->expiry_ms = now_ms + (uint64_t)l->ttl * 1000u;
	*ttl = l->ttl;
	return 0;
}

static void lease_info(struct lease *l, uint64_t now_ms, struct mvcc_lease_info *out)
{
	lease_arm(l, now_ms);
	out->id = l->id;
	out->ttl = l->ttl;
	out->remaining = l->expiry_ms > now_ms ? (int64_t)((l->expiry_ms - now_ms + 999) / 1000) : 0;
}

int mvcc_lease_get(struct mvcc *m, int64_t id, uint64_t now_ms, struct mvcc_lease_info *out)
{
	struct lease *l = lease_find(m, id);
	if (!l)
		return -MVCC_ELEASE_NOT_FOUND;
	lease_info(l, now_ms, out);
	return 0;
}

static int info_by_id(const void *a, const void *b)
{
	const struct mvcc_lease_info *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

void mvcc_lease_list(struct mvcc *m, uint64_t now_ms, struct mvcc_lease_info **out, size_t *n)
{
	struct mvcc_lease_info *v = xcalloc(m->leases.len ? m->leases.len : 1, sizeof *v);
	size_t pos = 0, i = 0;
	void *l;
	while (kc_map_next(&m->leases, &pos, NULL, NULL, &l))
		lease_info(l, now_ms, &v[i++]);
	qsort(v, i, sizeof *v, info_by_id);
	*out = v;
	*n = i;
}

struct expired {
	uint64_t at;
	int64_t id;
};

static int expired_cmp(const void *a, const void *b)
{
	const struct expired *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

size_t mvcc_lease_expired(struct mvcc *m, uint64_t now_ms, int64_t *ids, size_t max)
{
	struct kc_vec v;
	kc_vec_init(&v, sizeof(struct expired));
	size_t pos = 0;
	void *p;
	while (kc_map_next(&m->leases, &pos, NULL, NULL, &p)) {
		struct lease *l = p;
		lease_arm(l, now_ms);
		if (l->expiry_ms <= now_ms)
			kc_vec_push(&v, &(struct expired){ l->expiry_ms, l->id });
	}
	if (v.len > 1)
		qsort(v.data, v.len, sizeof(struct expired), expired_cmp);
	size_t n = v.len < max ? v.len : max;
	for (size_t i = 0; i < n; i++)
		ids[i] = ((struct expired *)kc_vec_at(&v, i))->id;
	kc_vec_free(&v);
	return n;
}

int mvcc_lease_keys(struct mvcc *m, int64_t id, struct mvcc_range_resp *out, struct kc_err *err)
{
	struct kc_err tmp;
	if (!err)
		err = &tmp;
	memset(out, 0, sizeof *out);
	out->revision = m->rev;
	if (!lease_find(m, id))
		return reject(err, -MVCC_ELEASE_NOT_FOUND);
	/* A walk of every key: revokes are rare (Kubernetes shares a lease among many events),
	 * and a per-lease key set would have to be kept and undone with every write. */
	size_t cap = 0;
	for (struct kidx_node *n = kidx_seek(m->idx, "", 0); n; n = kidx_next(n)) {
		if (n->lease != id || n->revs[n->nrev - 1].tomb)
			continue;
		if (out->nkvs == cap) {
			cap = kc_grow_cap(cap, out->nkvs + 1, sizeof *out->kvs);
			out->kvs = xrealloc(out->kvs, cap * sizeof *out->kvs);
		}
		struct mvcc_kv *kv = &out->kvs[out->nkvs++];
		memset(kv, 0, sizeof *kv);
		kv_set(kv, kidx_key(n), n->klen, NULL, 0);
		kv->lease = id;
	}
	out->count = (int64_t)out->nkvs;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * open / close */

static int load_meta(struct mvcc *m, int64_t *cluster, int64_t *member, int64_t *schema,
		     struct kc_err *err)
{
	sqlite3_stmt *st = NULL;
	static const char sql[] = "SELECT schema_version, cluster_id, member_id, applied_index, "
				  "revision, compact_rev, cursor_rev, cursor_sub FROM meta WHERE id = 1";
	int rc = sqlite3_prepare_v2(m->w.db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*schema = sqlite3_column_int64(st, 0);
		*cluster = sqlite3_column_int64(st, 1);
		*member = sqlite3_column_int64(st, 2);
		int64_t applied = sqlite3_column_int64(st, 3);
		m->rev = sqlite3_column_int64(st, 4);
		m->compact_rev = sqlite3_column_int64(st, 5);
		m->cursor_rev = sqlite3_column_int64(st, 6);
		m->cursor_sub = sqlite3_column_int64(st, 7);
		m->applied = (uint64_t)applied;
		if (applied < 0 || m->rev < 0 || m->compact_rev < 0 || m->compact_rev > m->rev ||
		    m->cursor_rev < 0 || m->cursor_rev > m->compact_rev || m->cursor_sub < 0)
			rc = SQLITE_CORRUPT;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_CORRUPT || rc == SQLITE_DONE)
		return kc_err_set(err, -MVCC_ECORRUPT,
				  "%s: metadata is inconsistent (revision %lld, compacted %lld)",
				  m->path, (long long)m->rev, (long long)m->compact_rev);
	if (rc != SQLITE_ROW)
		return conn_fail(&m->w, rc, "read meta", err);
	return 0;
}

static int create_schema(struct mvcc *m, const struct mvcc_options *o, struct kc_err *err)
{
	char sql[512];
	snprintf(sql, sizeof sql,
		 "INSERT INTO meta VALUES (1, %d, %lld, %lld, 0, 0, 0, 0, 0);"
		 "PRAGMA application_id = %d; PRAGMA user_version = %d;",
		 MVCC_SCHEMA_VERSION, (long long)o->cluster_id, (long long)o->member_id,
		 MVCC_APP_ID, MVCC_SCHEMA_VERSION);
	int rc = conn_exec(&m->w, "BEGIN IMMEDIATE", err);
	if (rc < 0)
		return rc;
	if ((rc = conn_exec(&m->w, schema_sql, err)) < 0 || (rc = conn_exec(&m->w, sql, err)) < 0 ||
	    (rc = conn_exec(&m->w, "COMMIT", err)) < 0) {
		sqlite3_exec(m->w.db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	log_info("store created path=%s cluster=%016llx member=%016llx", m->path,
		 (unsigned long long)o->cluster_id, (unsigned long long)o->member_id);
	return 0;
}

/* Decides whether the file is new, ours, or something else. */
static int identify(struct mvcc *m, bool *fresh, bool *old, struct kc_err *err)
{
	int64_t app = 0, ntables = 0, version = 0;
	int rc = query_i64(&m->w, "PRAGMA application_id", &app, err);
	if (rc < 0) {
		if (err->code == -MVCC_ECORRUPT)
			return kc_err_set(err, -MVCC_ECORRUPT,
					  "%s is not a SQLite database (or is corrupt)", m->path);
		return rc;
	}
	if ((rc = query_i64(&m->w, "SELECT count(*) FROM sqlite_schema", &ntables, err)) < 0)
		return rc;
	if (app == 0 && ntables == 0) {
		*fresh = true;
		return 0;
	}
	if (app != MVCC_APP_ID)
		return kc_err_set(err, -MVCC_ECORRUPT,
				  "%s is a SQLite database of another application (application_id "
				  "0x%08llx), not a kc store",
				  m->path, (unsigned long long)(uint32_t)app);
	if ((rc = query_i64(&m->w, "PRAGMA user_version", &version, err)) < 0)
		return rc;
	if (version > MVCC_SCHEMA_VERSION)
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "%s has store schema %lld, newer than this kc understands (%d)",
				  m->path, (long long)version, MVCC_SCHEMA_VERSION);
	if (version != MVCC_SCHEMA_VERSION && version != 1)
		return kc_err_set(err, -MVCC_ECORRUPT, "%s has unknown store schema %lld", m->path,
				  (long long)version);
	*fresh = false;
	*old = version == 1;
	return 0;
}

/* Schema 1 kept the current rows in a 'kv' table and indexed history by key: two B-trees
 * whose pages a write picked by its key. Schema 2 keeps history alone, by revision. */
static int migrate_v1(struct mvcc *m, struct kc_err *err)
{
	int64_t big = 0;
	int rc = query_i64(&m->w, "SELECT count(*) FROM history WHERE sub >= 1048576", &big, err);
	if (rc < 0)
		return rc;
	if (big)
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "%s: a revision changes more than %u keys; this kc cannot convert "
				  "the store to schema %d",
				  m->path, MVCC_SUB_MAX, MVCC_SCHEMA_VERSION);
	static const char sql[] =
		"BEGIN IMMEDIATE;" HISTORY_TABLE("history2")
		"INSERT INTO history2 SELECT (rev << 20) | sub, key, type, create_rev, version, "
		" lease, value FROM history ORDER BY rev, sub;"
		"DROP TABLE kv; DROP TABLE history; ALTER TABLE history2 RENAME TO history;"
		"UPDATE meta SET schema_version = 2; PRAGMA user_version = 2; COMMIT;";
	_Static_assert(MVCC_SUB_BITS == 20 && MVCC_SCHEMA_VERSION == 2, "migrate_v1's SQL");
	if ((rc = conn_exec(&m->w, sql, err)) < 0) {
		sqlite3_exec(m->w.db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	log_info("store converted to schema %d path=%s", MVCC_SCHEMA_VERSION, m->path);
	return 0;
}

/* Builds the key index from the history table (every row, in revision order). */
static int load_index(struct mvcc *m, struct kc_err *err)
{
	kidx_clear(m->idx);
	sqlite3_stmt *st = conn_stmt(&m->w, ST_HIST_KEYS, err);
	if (!st)
		return err->code;
	int rc;
	int64_t last = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		struct kidx_rev r = { id >> MVCC_SUB_BITS, (uint32_t)(id & (MVCC_SUB_MAX - 1)),
				      sqlite3_column_int(st, 2) == MVCC_EVENT_DELETE };
		last = r.rev;
		if (r.rev < 1 || r.rev > m->rev)
			break;
		kidx_append(m->idx, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
			    &r, sqlite3_column_int64(st, 3));
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return kc_err_set(err, -MVCC_ECORRUPT,
				  "%s: a history row has revision %lld, beyond the store's %lld",
				  m->path, (long long)last, (long long)m->rev);
	return rc == SQLITE_DONE ? 0 : conn_fail(&m->w, rc, "load key index", err);
}

static int set_pragmas(struct mvcc *m, const struct mvcc_options *o, bool fresh,
		       struct kc_err *err)
{
	static const char *const sync_names[] = { "FULL", "NORMAL", "OFF" };
	char sql[512];
	int rc;
	if (fresh && (rc = conn_exec(&m->w, "PRAGMA page_size = 4096", err)) < 0)
		return rc;
	if (!m->memory) {
		char mode[32];
		if ((rc = query_text(&m->w, "PRAGMA journal_mode = WAL", mode, sizeof mode, err)) < 0)
			return rc;
		if (strcmp(mode, "wal") != 0)
			return kc_err_set(err, -KC_EIO, "%s: cannot enter WAL mode (got %s)", m->path,
					  mode);
	}
	/* 10000 pages (~40 MiB of WAL) rather than SQLite's 1000: random keys dirty hundreds of
	 * pages per batch, and a longer interval lets the checkpoint write each page once for many
	 * commits (measured with synchronous=FULL, 256-put batches over 10k keys: 1.1-1.7x the
	 * puts/s and 28% fewer bytes written per put). */
	int autockpt = o->wal_autocheckpoint;
	if (autockpt == 0)
		autockpt = 10000;
	else if (autockpt < 0)
		autockpt = 0;   /* SQLite's "never" */
	unsigned s = (unsigned)o->sync <= MVCC_SYNC_OFF ? (unsigned)o->sync : 0;
	snprintf(sql, sizeof sql,
		 "PRAGMA synchronous = %s; PRAGMA cache_size = -%d; PRAGMA foreign_keys = OFF;"
		 "PRAGMA wal_autocheckpoint = %d; PRAGMA journal_size_limit = %d;",
		 sync_names[s], o->cache_kib > 0 ? o->cache_kib : 8192, autockpt, 64 << 20);
	if ((rc = conn_exec(&m->w, sql, err)) < 0 || !o->quota_bytes)
		return rc;
	int64_t psize = 0;
	if ((rc = query_i64(&m->w, "PRAGMA page_size", &psize, err)) < 0)
		return rc;
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %llu",
		 (unsigned long long)(o->quota_bytes / (uint64_t)psize));
	return conn_exec(&m->w, sql, err);
}

static int quick_check(struct mvcc *m, struct kc_err *err)
{
	char res[200];
	int rc = query_text(&m->w, "PRAGMA quick_check(1)", res, sizeof res, err);
	if (rc < 0)
		return rc;
	if (strcmp(res, "ok") != 0)
		return kc_err_set(err, -MVCC_ECORRUPT, "%s failed quick_check: %s", m->path, res);
	return 0;
}

int mvcc_open(const struct mvcc_options *o, struct mvcc **out, struct kc_err *err)
{
	struct kc_err tmp;
	if (!err)
		err = &tmp;
	*out = NULL;
	if (!o->path || !o->path[0] || !o->cluster_id || !o->member_id)
		return kc_err_set(err, -KC_EINVAL,
				  "mvcc_open needs a path, a cluster id and a member id");
	struct mvcc *m = xcalloc(1, sizeof *m);
	m->path = xstrdup(o->path);
	m->memory = strcmp(o->path, ":memory:") == 0;
	kc_map_init(&m->leases, free);
	m->idx = kidx_new();
	kc_vec_init(&m->undo, sizeof(struct undo));
	struct stat sb;
	int rc;
	if ((o->flags & MVCC_OPEN_NO_CREATE) && !m->memory && stat(m->path, &sb) < 0) {
		rc = kc_err_set(err, -errno, "%s: %s", m->path, strerror(errno));
		goto fail;
	}
	int flags = SQLITE_OPEN_READWRITE | ((o->flags & MVCC_OPEN_NO_CREATE) ? 0 : SQLITE_OPEN_CREATE);
	if ((rc = conn_open(&m->w, m->path, flags, err)) < 0)
		goto fail;
	bool fresh = false, old = false;
	if ((rc = identify(m, &fresh, &old, err)) < 0)
		goto fail;
	if (fresh && (o->flags & MVCC_OPEN_NO_CREATE)) {
		rc = kc_err_set(err, -ENOENT, "%s holds no kc store", m->path);
		goto fail;
	}
	if ((rc = set_pragmas(m, o, fresh, err)) < 0)
		goto fail;
	if (fresh && (rc = create_schema(m, o, err)) < 0)
		goto fail;
	if (old && (rc = migrate_v1(m, err)) < 0)
		goto fail;
	int64_t cluster = 0, member = 0, schema = 0;
	if ((rc = load_meta(m, &cluster, &member, &schema, err)) < 0)
		goto fail;
	if (schema != MVCC_SCHEMA_VERSION) {
		rc = kc_err_set(err, -MVCC_ECORRUPT, "%s: meta schema %lld disagrees with the file",
				m->path, (long long)schema);
		goto fail;
	}
	if ((o->flags & MVCC_OPEN_RESTORE) && !fresh) {
		char sql[160];
		snprintf(sql, sizeof sql,
			 "UPDATE meta SET cluster_id = %lld, member_id = %lld, applied_index = 0 "
			 "WHERE id = 1",
			 (long long)o->cluster_id, (long long)o->member_id);
		if ((rc = conn_exec(&m->w, sql, err)) < 0)
			goto fail;
		if ((rc = load_meta(m, &cluster, &member, &schema, err)) < 0)
			goto fail;
	}
	if ((uint64_t)cluster != o->cluster_id) {
		rc = kc_err_set(err, -MVCC_EFOREIGN,
				"%s belongs to cluster %016llx, not to this cluster %016llx: refusing "
				"to mix the data of two clusters",
				m->path, (unsigned long long)cluster,
				(unsigned long long)o->cluster_id);
		goto fail;
	}
	if ((uint64_t)member != o->member_id) {
		if (!(o->flags & MVCC_OPEN_ADOPT_MEMBER)) {
			rc = kc_err_set(err, -MVCC_EFOREIGN,
					"%s belongs to member %016llx of cluster %016llx, but this is "
					"member %016llx",
					m->path, (unsigned long long)member,
					(unsigned long long)cluster, (unsigned long long)o->member_id);
			goto fail;
		}
		char sql[128];
		snprintf(sql, sizeof sql, "UPDATE meta SET member_id = %lld WHERE id = 1",
			 (long long)o->member_id);
		if ((rc = conn_exec(&m->w, sql, err)) < 0)
			goto fail;
	}
	m->cluster_id = o->cluster_id;
	m->member_id = o->member_id;
	if ((o->flags & MVCC_OPEN_QUICK_CHECK) && (rc = quick_check(m, err)) < 0)
		goto fail;
	if ((rc = leases_load(m, err)) < 0 || (rc = load_index(m, err)) < 0)
		goto fail;
	m->w.failed = false;
	*out = m;
	return 0;
fail:
	mvcc_close(m);
	return rc;
}

void mvcc_close(struct mvcc *m)
{
	if (!m)
		return;
	conn_close(&m->w);
	kc_map_free(&m->leases);
	kidx_free(m->idx);
	kc_vec_free(&m->undo);
	free(m->path);
	free(m);
}

int mvcc_reader_open(const struct mvcc *m, struct mvcc_reader **out, struct kc_err *err)
{
	*out = NULL;
	if (m->memory)
		return kc_err_set(err, -KC_EUNSUPPORTED, "readers need a database file, not :memory:");
	return reader_open_path(m->path, m->idx, out, err);
}

/* ---------------------------------------------------------------------------------------------
 * apply: changes */

/* Reads key's current row into *kv (copied); *node gets key's index node (NULL: none).
 * Returns 1 found, 0 missing (or deleted), or a negative code. */
static int kv_get(struct mvcc *m, const void *key, size_t klen, struct mvcc_kv *kv,
		  struct kidx_node **node, struct kc_err *err)
{
	struct kidx_node *n = kidx_get(m->idx, key, klen);
	*node = n;
	if (!n || n->revs[n->nrev - 1].tomb)
		return 0;
	const struct kidx_rev *r = &n->revs[n->nrev - 1];
	int rc = read_row(&m->w, r->rev, r->sub, false, kv, NULL, err);
	return rc < 0 ? rc : 1;
}

/* Takes back the index changes made since the undo log had 'mark' records. */
static void undo_to(struct mvcc *m, size_t mark)
{
	while (m->undo.len > mark) {
		const struct undo *u = kc_vec_at(&m->undo, m->undo.len - 1);
		kidx_truncate(m->idx, u->node, u->nrev, u->lease);
		m->undo.len--;
	}
}

/* Appends kv's row at (rev + 1, sub) and indexes it; node is the key's node or NULL. */
static int hist_insert(struct mvcc *m, struct kidx_node *node, const struct mvcc_kv *kv,
		       enum mvcc_event_type type, struct kc_err *err)
{
	if (m->sub >= MVCC_SUB_MAX)
		return kc_err_set(err, -KC_ELIMIT, "one revision may change at most %u keys",
				  MVCC_SUB_MAX);
	sqlite3_stmt *st = conn_stmt(&m->w, ST_HIST_INSERT, err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, row_id(m->rev + 1, m->sub));
	conn_bind_blob(st, 2, kv->key, kv->key_len);
	sqlite3_bind_int(st, 3, type);
	sqlite3_bind_int64(st, 4, kv->create_revision);
	sqlite3_bind_int64(st, 5, kv->version);
	sqlite3_bind_int64(st, 6, kv->lease);
	if (type == MVCC_EVENT_PUT)
		conn_bind_blob(st, 7, kv->value, kv->value_len);
	int rc = conn_run(&m->w, st, "history insert", err);
	if (rc < 0)
		return rc;
	struct undo u = { NULL, node ? node->nrev : 0, node ? node->lease : 0 };
	struct kidx_rev r = { m->rev + 1, m->sub, type == MVCC_EVENT_DELETE };
	u.node = kidx_append(m->idx, kv->key, kv->key_len, &r, kv->lease);
	kc_vec_push(&m->undo, &u);
	return 0;
}

/* Records the event (taking *kv and *prev) or frees them. */
static void emit(struct mvcc *m, enum mvcc_event_type type, struct mvcc_kv *kv,
		 struct mvcc_kv *prev, bool has_prev)
{
	if (!m->evs) {
		mvcc_kv_free(kv);
		mvcc_kv_free(prev);
		return;
	}
	struct mvcc_event *ev = events_push(m->evs);
	ev->type = type;
	ev->revision = m->rev + 1;
	ev->sub = m->sub;
	ev->kv = *kv;
	ev->has_prev = has_prev;
	if (has_prev)
		ev->prev_kv = *prev;
	else
		mvcc_kv_free(prev);
	memset(kv, 0, sizeof *kv);
	memset(prev, 0, sizeof *prev);
}

static int apply_put(struct mvcc *m, const struct mvcc_put_req *p, struct mvcc_put_resp *out,
		     struct kc_err *err)
{
	struct mvcc_kv old = { 0 }, kv = { 0 };
	struct kidx_node *node;
	int found = kv_get(m, p->key, p->key_len, &old, &node, err);
	if (found < 0)
		return found;
	int rc = 0;
	if ((p->ignore_value || p->ignore_lease) && !found) {
		rc = reject(err, -MVCC_EKEY_NOT_FOUND);
		goto out;
	}
	int64_t lease = p->ignore_lease ? old.lease : p->lease;
	if (!p->ignore_lease && lease && !lease_find(m, lease)) {
		rc = reject(err, -MVCC_ELEASE_NOT_FOUND);
		goto out;
	}
	if (p->ignore_value)
		kv_set(&kv, p->key, p->key_len, old.value, old.value_len);
	else
		kv_set(&kv, p->key, p->key_len, p->value, p->value_len);
	kv.create_revision = found ? old.create_revision : m->rev + 1;
	kv.mod_revision = m->rev + 1;
	kv.version = found ? old.version + 1 : 1;
	kv.lease = lease;

	if ((rc = hist_insert(m, node, &kv, MVCC_EVENT_PUT, err)) < 0)
		goto out;
	if (p->prev_kv && found) {
		out->has_prev = true;
		mvcc_kv_copy(&out->prev_kv, &old);
	}
	emit(m, MVCC_EVENT_PUT, &kv, &old, found);
	m->sub++;
out:
	mvcc_kv_free(&old);
	mvcc_kv_free(&kv);
	return rc;
}

/* Deletes one existing key whose current row is *old (taken). */
static int delete_one(struct mvcc *m, struct mvcc_kv *old, struct kc_err *err)
{
	struct mvcc_kv tomb = { 0 };
	kv_set(&tomb, old->key, old->key_len, NULL, 0);
	tomb.mod_revision = m->rev + 1;
	int rc = hist_insert(m, kidx_get(m->idx, old->key, old->key_len), &tomb, MVCC_EVENT_DELETE,
			     err);
	if (rc == 0) {
		emit(m, MVCC_EVENT_DELETE, &tomb, old, true);
		m->sub++;
	}
	mvcc_kv_free(&tomb);
	mvcc_kv_free(old);
	return rc;
}

static int apply_delete(struct mvcc *m, const void *key, size_t klen, const void *end,
			size_t end_len, bool want_prev, struct mvcc_delete_resp *out,
			struct kc_err *err)
{
	/* The current rows of the range, values included (they become prev_kvs). */
	struct mvcc_range_req q = { .key = key, .key_len = klen, .range_end = end,
				    .range_end_len = end_len };
	struct mvcc_range_resp r;
	int rc = read_range(&m->w, m->idx, &q, m->rev, m->compact_rev, INT64_MAX, &r, err);
	if (rc < 0)
		return rc;
	if (m->sub + r.nkvs > MVCC_SUB_MAX) {
		mvcc_range_resp_free(&r);
		return kc_err_set(err, -KC_ELIMIT, "one revision may delete at most %u keys",
				  MVCC_SUB_MAX);
	}
	if (want_prev && r.nkvs)
		out->prev_kvs = xcalloc(r.nkvs, sizeof *out->prev_kvs);
	for (size_t i = 0; i < r.nkvs && rc == 0; i++) {
		if (want_prev)
			mvcc_kv_copy(&out->prev_kvs[out->nprev++], &r.kvs[i]);
		rc = delete_one(m, &r.kvs[i], err);
		out->deleted++;
	}
	mvcc_range_resp_free(&r);
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * apply: txn */

static bool cmp_holds(const struct mvcc_compare *c, const struct mvcc_kv *kv)
{
	int r;
	switch (c->target) {
	case MVCC_CMP_VALUE:
		r = mvcc_key_cmp(kv->value, kv->value_len, c->value, c->value_len);
		break;
	case MVCC_CMP_VERSION:
		r = kv->version < c->number ? -1 : kv->version > c->number;
		break;
	case MVCC_CMP_CREATE:
		r = kv->create_revision < c->number ? -1 : kv->create_revision > c->number;
		break;
	case MVCC_CMP_MOD:
		r = kv->mod_revision < c->number ? -1 : kv->mod_revision > c->number;
		break;
	case MVCC_CMP_LEASE:
		r = kv->lease < c->number ? -1 : kv->lease > c->number;
		break;
	default:
		return false;
	}
	switch (c->result) {
	case MVCC_CMP_EQUAL:
		return r == 0;
	case MVCC_CMP_NOT_EQUAL:
		return r != 0;
	case MVCC_CMP_GREATER:
		return r > 0;
	case MVCC_CMP_LESS:
		return r < 0;
	}
	return false;
}

static int eval_compare(struct mvcc *m, const struct mvcc_compare *c, bool *ok, struct kc_err *err)
{
	struct mvcc_range_req q = { .key = c->key, .key_len = c->key_len, .range_end = c->range_end,
				    .range_end_len = c->range_end_len,
				    .keys_only = c->target != MVCC_CMP_VALUE };
	struct mvcc_range_resp r;
	int rc = read_range(&m->w, m->idx, &q, m->rev, m->compact_rev, INT64_MAX, &r, err);
	if (rc < 0)
		return rc;
	if (r.nkvs == 0) {
		/* etcd: a missing key is the zero KeyValue; a value comparison with it fails. */
		struct mvcc_kv zero = { 0 };
		*ok = c->target != MVCC_CMP_VALUE && cmp_holds(c, &zero);
	} else {
		*ok = true;
		for (size_t i = 0; i < r.nkvs && *ok; i++)
			*ok = cmp_holds(c, &r.kvs[i]);
	}
	mvcc_range_resp_free(&r);
	return 0;
}

/* etcd evaluates every compare of the txn tree against the state before the txn, then runs
 * the chosen branches: the path lists the outcome of each txn met in execution order. */
static int choose_path(struct mvcc *m, const struct mvcc_txn_req *t, struct kc_vec *path,
		       struct kc_err *err)
{
	bool ok = true;
	for (size_t i = 0; i < t->ncompares && ok; i++) {
		int rc = eval_compare(m, &t->compares[i], &ok, err);
		if (rc < 0)
			return rc;
	}
	kc_vec_push(path, &ok);
	const struct mvcc_op *ops = ok ? t->success : t->failure;
	size_t n = ok ? t->nsuccess : t->nfailure;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].type != MVCC_OP_TXN)
			continue;
		int rc = choose_path(m, ops[i].u.txn, path, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int run_txn(struct mvcc *m, const struct mvcc_txn_req *t, const struct kc_vec *path,
		   size_t *pos, struct mvcc_txn_resp *out, struct kc_err *err)
{
	out->succeeded = *(const bool *)kc_vec_at(path, (*pos)++);
	const struct mvcc_op *ops = out->succeeded ? t->success : t->failure;
	size_t n = out->succeeded ? t->nsuccess : t->nfailure;
	if (n)
		out->responses = xcalloc(n, sizeof *out->responses);
	for (size_t i = 0; i < n; i++) {
		struct mvcc_op_resp *r = &out->responses[i];
		const struct mvcc_op *op = &ops[i];
		int rc = 0;
		r->type = op->type;
		out->nresponses++;
		switch (op->type) {
		case MVCC_OP_RANGE:
			rc = read_range(&m->w, m->idx, &op->u.range, m->rev, m->compact_rev,
					INT64_MAX, &r->u.range, err);
			break;
		case MVCC_OP_PUT:
			rc = apply_put(m, &op->u.put, &r->u.put, err);
			break;
		case MVCC_OP_DELETE:
			rc = apply_delete(m, op->u.del.key, op->u.del.key_len, op->u.del.range_end,
					  op->u.del.range_end_len, op->u.del.prev_kv, &r->u.del, err);
			break;
		case MVCC_OP_TXN:
			rc = run_txn(m, op->u.txn, path, pos, &r->u.txn, err);
			break;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int apply_txn(struct mvcc *m, const struct mvcc_txn_req *t, struct mvcc_txn_resp *out,
		     struct kc_err *err)
{
	struct kc_vec path;
	kc_vec_init(&path, sizeof(bool));
	size_t pos = 0;
	int rc = choose_path(m, t, &path, err);
	if (rc == 0)
		rc = run_txn(m, t, &path, &pos, out, err);
	kc_vec_free(&path);
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * apply: leases and compaction */

static int apply_lease_grant(struct mvcc *m, int64_t id, int64_t ttl, struct kc_err *err)
{
	if (lease_find(m, id))
		return reject(err, -MVCC_ELEASE_EXISTS);
	sqlite3_stmt *st = conn_stmt(&m->w, ST_LEASE_INSERT, err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, ttl);
	int rc = conn_run(&m->w, st, "lease grant", err);
	if (rc == 0)
		lease_put(m, id, ttl, 0, 0);
	return rc;
}

static int apply_lease_revoke(struct mvcc *m, int64_t id, int64_t *deleted, struct kc_err *err)
{
	struct mvcc_range_resp keys;
	int rc = mvcc_lease_keys(m, id, &keys, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < keys.nkvs && rc == 0; i++) {
		struct mvcc_kv old = { 0 };
		struct kidx_node *node;
		int found = kv_get(m, keys.kvs[i].key, keys.kvs[i].key_len, &old, &node, err);
		if (found < 0)
			rc = found;
		else if (found) {
			rc = delete_one(m, &old, err);
			(*deleted)++;
		}
	}
	mvcc_range_resp_free(&keys);
	sqlite3_stmt *st = rc == 0 ? conn_stmt(&m->w, ST_LEASE_DELETE, err) : NULL;
	if (rc == 0 && !st)
		rc = err->code;
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, id);
		rc = conn_run(&m->w, st, "lease revoke", err);
	}
	if (rc == 0)
		kc_map_del(&m->leases, &id, sizeof id);
	return rc;
}

static int apply_lease_checkpoint(struct mvcc *m, int64_t id, int64_t remaining,
				  struct kc_err *err)
{
	struct lease *l = lease_find(m, id);
	if (!l)
		return reject(err, -MVCC_ELEASE_NOT_FOUND);
	sqlite3_stmt *st = conn_stmt(&m->w, ST_LEASE_CKPT, err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, remaining);
	int rc = conn_run(&m->w, st, "lease checkpoint", err);
	if (rc == 0)
		l->remaining = remaining;
	return rc;
}

static int apply_compact(struct mvcc *m, int64_t rev, struct kc_err *err)
{
	if (rev <= m->compact_rev)
		return reject(err, -MVCC_ECOMPACTED);
	if (rev > m->rev)
		return reject(err, -MVCC_EFUTURE_REV);
	m->compact_rev = rev;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * apply: commands and batches */

/* Applies one entry. Returns 0 (done or deterministically rejected: see res->err) or the
 * negative code of a database failure, which aborts the batch. */
static int apply_one(struct mvcc *m, const struct mvcc_entry *e, struct mvcc_result *res)
{
	struct mvcc_cmd cmd;
	int rc = mvcc_cmd_decode(e->data, e->len, &cmd, &res->err);
	if (rc < 0) {
		log_warn("store rejected a malformed command index=%llu err=%s",
			 (unsigned long long)e->index, res->err.msg);
		res->revision = m->rev;
		return 0;
	}
	res->type = cmd.type;
	m->sub = 0;
	size_t evs_mark = m->evs ? m->evs->len : 0, undo_mark = m->undo.len;
	bool savepoint = cmd.type == MVCC_CMD_TXN;
	if (savepoint && (rc = step_simple(m, ST_SAVEPOINT, "savepoint", &res->err)) < 0)
		goto out;
	switch (cmd.type) {
	case MVCC_CMD_PUT:
		rc = apply_put(m, &cmd.u.put, &res->u.put, &res->err);
		break;
	case MVCC_CMD_DELETE:
		rc = apply_delete(m, cmd.u.del.key, cmd.u.del.key_len, cmd.u.del.range_end,
				  cmd.u.del.range_end_len, cmd.u.del.prev_kv, &res->u.del, &res->err);
		break;
	case MVCC_CMD_TXN:
		rc = apply_txn(m, &cmd.u.txn, &res->u.txn, &res->err);
		break;
	case MVCC_CMD_COMPACT:
		rc = apply_compact(m, cmd.u.compact.revision, &res->err);
		break;
	case MVCC_CMD_LEASE_GRANT:
		rc = apply_lease_grant(m, cmd.u.lease_grant.id, cmd.u.lease_grant.ttl, &res->err);
		res->u.lease_grant.id = cmd.u.lease_grant.id;
		res->u.lease_grant.ttl = cmd.u.lease_grant.ttl;
		break;
	case MVCC_CMD_LEASE_REVOKE:
		rc = apply_lease_revoke(m, cmd.u.lease_revoke.id, &res->u.lease_revoke.deleted,
					&res->err);
		break;
	case MVCC_CMD_LEASE_CHECKPOINT:
		rc = apply_lease_checkpoint(m, cmd.u.lease_checkpoint.id,
					    cmd.u.lease_checkpoint.remaining, &res->err);
		break;
	}
	if (rc < 0 && m->w.failed)
		goto out;   /* the database failed: the batch rolls back */
	if (rc < 0) {
		/* Deterministic rejection: undo whatever the command did. */
		struct kc_err keep = res->err;
		if (savepoint && ((rc = step_simple(m, ST_ROLLBACK_TO, "rollback to", &res->err)) < 0 ||
				  (rc = step_simple(m, ST_RELEASE, "release", &res->err)) < 0))
			goto out;
		if (m->evs)
			mvcc_events_truncate(m->evs, evs_mark);
		undo_to(m, undo_mark);
		enum mvcc_cmd_type type = res->type;
		mvcc_result_free(res);
		res->type = type;
		res->err = keep;
		m->sub = 0;
		rc = 0;
	} else if (savepoint && (rc = step_simple(m, ST_RELEASE, "release", &res->err)) < 0) {
		goto out;
	}
	if (m->sub > 0)
		m->rev++;
	res->revision = m->rev;
out:
	m->sub = 0;
	mvcc_cmd_free(&cmd);
	return rc;
}

static int write_meta(struct mvcc *m, struct kc_err *err)
{
	sqlite3_stmt *st = conn_stmt(&m->w, ST_META_UPDATE, err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, (int64_t)m->applied);
	sqlite3_bind_int64(st, 2, m->rev);
	sqlite3_bind_int64(st, 3, m->compact_rev);
	sqlite3_bind_int64(st, 4, m->cursor_rev);
	sqlite3_bind_int64(st, 5, m->cursor_sub);
	return conn_run(&m->w, st, "meta update", err);
}

/* Undoes the in-memory side of a failed write transaction. */
static void restore_after_rollback(struct mvcc *m, uint64_t applied, int64_t rev, int64_t compact,
				   int64_t cursor_rev, int64_t cursor_sub)
{
	sqlite3_exec(m->w.db, "ROLLBACK", NULL, NULL, NULL);
	m->applied = applied;
	m->rev = rev;
	m->compact_rev = compact;
	m->cursor_rev = cursor_rev;
	m->cursor_sub = cursor_sub;
	struct kc_err lerr;
	if (leases_load(m, &lerr) < 0)
		log_error("store cannot reload leases after a rollback err=%s", lerr.msg);
	m->w.failed = false;
}

int mvcc_apply_batch(struct mvcc *m, const struct mvcc_entry *entries, size_t n,
		     struct mvcc_result *results, struct mvcc_events *events, struct kc_err *err)
{
	struct kc_err tmp;
	if (!err)
		err = &tmp;
	memset(results, 0, n * sizeof *results);
	size_t todo = 0;
	for (size_t i = 0; i < n; i++) {
		if (entries[i].index <= m->applied) {
			results[i].skipped = true;
			results[i].revision = m->rev;
		} else {
			todo++;
		}
	}
	if (todo == 0)
		return 0;
	uint64_t applied0 = m->applied;
	int64_t rev0 = m->rev, compact0 = m->compact_rev;
	size_t evs0 = events ? events->len : 0;
	m->w.failed = false;
	int rc = step_simple(m, ST_BEGIN, "begin", err);
	if (rc < 0) {
		m->w.failed = false;
		return rc;
	}
	m->evs = events;
	kc_vec_clear(&m->undo);
	for (size_t i = 0; i < n; i++) {
		if (entries[i].index <= m->applied) {
			results[i].skipped = true;
			results[i].revision = m->rev;
			continue;
		}
		if ((rc = apply_one(m, &entries[i], &results[i])) < 0) {
			*err = results[i].err;
			goto fail;
		}
		m->applied = entries[i].index;
	}
	m->evs = NULL;
	if ((rc = write_meta(m, err)) < 0 || (rc = step_simple(m, ST_COMMIT, "commit", err)) < 0)
		goto fail;
	kc_vec_clear(&m->undo);
	return 0;
fail:
	m->evs = NULL;
	undo_to(m, 0);
	log_error("store batch failed, rolled back index=%llu err=%s",
		  (unsigned long long)applied0, err->msg);
	restore_after_rollback(m, applied0, rev0, compact0, m->cursor_rev, m->cursor_sub);
	for (size_t i = 0; i < n; i++)
		mvcc_result_free(&results[i]);
	if (events)
		mvcc_events_truncate(events, evs0);
	return rc;
}

int mvcc_apply(struct mvcc *m, uint64_t raft_index, const void *cmd, size_t len,
	       struct mvcc_result *out, struct mvcc_events *events, struct kc_err *err)
{
	struct mvcc_entry e = { raft_index, cmd, len };
	return mvcc_apply_batch(m, &e, 1, out, events, err);
}

/* ---------------------------------------------------------------------------------------------
 * reads on the write connection */

int mvcc_range(struct mvcc *m, const struct mvcc_range_req *req, struct mvcc_range_resp *out,
	       struct kc_err *err)
{
	struct kc_err tmp;
	int rc = read_range(&m->w, m->idx, req, m->rev, m->compact_rev, INT64_MAX, out,
			    err ? err : &tmp);
	m->w.failed = false;
	return rc;
}

int mvcc_history(struct mvcc *m, const struct mvcc_history_req *req, struct mvcc_events *out,
		 int64_t *next_rev, struct kc_err *err)
{
	struct kc_err tmp;
	int rc = read_history(&m->w, m->idx, req, m->compact_rev, out, next_rev, err ? err : &tmp);
	m->w.failed = false;
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * compaction */

int mvcc_compact_step(struct mvcc *m, size_t max_rows, bool *done, struct kc_err *err)
{
	struct kc_err tmp;
	if (!err)
		err = &tmp;
	*done = m->cursor_rev >= m->compact_rev;
	if (*done)
		return 0;
	if (max_rows == 0)
		max_rows = 1000;
	int64_t cur_rev0 = m->cursor_rev, cur_sub0 = m->cursor_sub, last_id = -1;
	size_t n = 0;
	struct kc_vec touched;   /* struct kidx_node *, each once (mark > 0) */
	kc_vec_init(&touched, sizeof(struct kidx_node *));
	int rc = step_simple(m, ST_BEGIN, "begin", err);
	if (rc < 0)
		goto out;
	/* Plan from the chunk's rows: each row makes every older row of its key superseded below
	 * the compaction revision, and itself too when it is a deletion. node->mark is how many
	 * revisions to drop from the front of the key's list. */
	sqlite3_stmt *st = conn_stmt(&m->w, ST_COMPACT_SCAN, err);
	if (!st) {
		rc = err->code;
		goto rollback;
	}
	sqlite3_bind_int64(st, 1, row_id(m->cursor_rev, (uint32_t)m->cursor_sub));
	sqlite3_bind_int64(st, 2, row_id(m->compact_rev, 0));
	sqlite3_bind_int64(st, 3, (int64_t)max_rows);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		last_id = sqlite3_column_int64(st, 0);
		int64_t rev = last_id >> MVCC_SUB_BITS;
		struct kidx_node *node = kidx_get(m->idx, sqlite3_column_blob(st, 1),
						  (size_t)sqlite3_column_bytes(st, 1));
		uint32_t at = node ? kidx_lower(node, rev) : 0;
		if (!node || at == node->nrev || node->revs[at].rev != rev) {
			src = SQLITE_CORRUPT;
			break;
		}
		uint32_t drop = at + (sqlite3_column_int(st, 2) == MVCC_EVENT_DELETE);
		if (drop > node->mark) {
			if (node->mark == 0)
				kc_vec_push(&touched, &node);
			node->mark = drop;
		}
	}
	sqlite3_reset(st);
	if (src != SQLITE_DONE) {
		rc = conn_fail(&m->w, src, src == SQLITE_CORRUPT ? "compaction: key index" : "compaction scan", err);
		goto rollback;
	}
	for (size_t i = 0; i < touched.len; i++) {
		struct kidx_node *node = *(struct kidx_node **)kc_vec_at(&touched, i);
		for (uint32_t k = 0; k < node->mark; k++) {
			if (!(st = conn_stmt(&m->w, ST_HIST_DELETE, err))) {
				rc = err->code;
				goto rollback;
			}
			sqlite3_bind_int64(st, 1, row_id(node->revs[k].rev, node->revs[k].sub));
			if ((rc = conn_run(&m->w, st, "compaction delete", err)) < 0)
				goto rollback;
		}
	}
	if (n < max_rows) {
		m->cursor_rev = m->compact_rev;
		m->cursor_sub = 0;
	} else {
		m->cursor_rev = last_id >> MVCC_SUB_BITS;
		m->cursor_sub = (last_id & (MVCC_SUB_MAX - 1)) + 1;
	}
	if ((rc = write_meta(m, err)) < 0 || (rc = step_simple(m, ST_COMMIT, "commit", err)) < 0)
		goto rollback;
	/* Only now, with the rows gone for good, does the index forget them: a reader whose
	 * snapshot still holds them never picks them (they are superseded at every revision a
	 * read may ask for, the compacted revision and after; a reader whose snapshot is older
	 * than C finds the index's floor above its revision and takes a newer one). */
	kidx_set_floor(m->idx, m->compact_rev);
	for (size_t i = 0; i < touched.len; i++) {
		struct kidx_node *node = *(struct kidx_node **)kc_vec_at(&touched, i);
		uint32_t drop = node->mark;
		node->mark = 0;
		kidx_drop_front(m->idx, node, drop);
	}
	*done = m->cursor_rev >= m->compact_rev;
	goto out;
rollback:
	for (size_t i = 0; i < touched.len; i++)
		(*(struct kidx_node **)kc_vec_at(&touched, i))->mark = 0;
	restore_after_rollback(m, m->applied, m->rev, m->compact_rev, cur_rev0, cur_sub0);
out:
	kc_vec_free(&touched);
	m->w.failed = false;
	return rc;
}

void mvcc_compact_policy_init(struct mvcc_compact_policy *p, int64_t keep_revisions,
			      uint64_t keep_ms)
{
	memset(p, 0, sizeof *p);
	p->keep_revisions = keep_revisions > 0 ? keep_revisions : 0;
	p->keep_ms = keep_ms;
}

int64_t mvcc_compact_policy_due(struct mvcc_compact_policy *p, uint64_t now_ms, int64_t revision,
				int64_t compact_revision)
{
	int64_t by_count = -1, by_time = -1;
	if (p->keep_revisions)
		by_count = revision - p->keep_revisions;
	if (p->keep_ms) {
		/* Sample at most MVCC_POLICY_SAMPLES times per retention window, so the ring always
		 * reaches back one full window. */
		uint64_t spacing = p->keep_ms / (MVCC_POLICY_SAMPLES - 2);
		unsigned last = (p->head + MVCC_POLICY_SAMPLES - 1) % MVCC_POLICY_SAMPLES;
		if (p->nsamples == 0 || now_ms >= p->sample_ms[last] + spacing) {
			p->sample_ms[p->head] = now_ms;
			p->sample_rev[p->head] = revision;
			p->head = (p->head + 1) % MVCC_POLICY_SAMPLES;
			if (p->nsamples < MVCC_POLICY_SAMPLES)
				p->nsamples++;
		}
		/* The newest sample at least keep_ms old: everything after it is kept. */
		for (unsigned i = 0; i < p->nsamples; i++) {
			unsigned k = (p->head + MVCC_POLICY_SAMPLES - 1 - i) % MVCC_POLICY_SAMPLES;
			if (p->sample_ms[k] + p->keep_ms <= now_ms) {
				by_time = p->sample_rev[k];
				break;
			}
		}
	}
	int64_t target;
	if (p->keep_revisions && p->keep_ms)
		target = by_count < by_time ? by_count : by_time;
	else
		target = p->keep_revisions ? by_count : by_time;
	return target >= 1 && target > compact_revision ? target : 0;
}

/* ---------------------------------------------------------------------------------------------
 * maintenance */

int mvcc_checkpoint(struct mvcc *m, bool truncate, int wait_ms, struct kc_err *err)
{
	if (m->memory)
		return 0;
	int log_frames = 0, done_frames = 0;
	sqlite3_busy_timeout(m->w.db, wait_ms > 0 ? wait_ms : 0);
	int mode = truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE;
	int rc = sqlite3_wal_checkpoint_v2(m->w.db, NULL, mode, &log_frames, &done_frames);
	sqlite3_busy_timeout(m->w.db, 5000);
	if ((rc & 0xff) == SQLITE_BUSY)
		return kc_err_set(err, -KC_EAGAIN, "%s: checkpoint: readers still use the WAL",
				  m->path);
	if (rc != SQLITE_OK) {
		rc = conn_fail(&m->w, rc, "checkpoint", err);
		m->w.failed = false;
		return rc;
	}
	return 0;
}

void mvcc_wal_watch(struct mvcc *m, struct wal_watch *w)
{
	if (!m->memory)
		wal_watch_install(m->w.db, w);
}

int mvcc_sync(struct mvcc *m, struct kc_err *err)
{
	if (m->memory)
		return 0;
	const char *suffix[] = {"-wal", ""};
	for (int i = 0; i < 2; i++) {
		char *p = xasprintf("%s%s", m->path, suffix[i]);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		int e = fd < 0 ? errno : (fsync(fd) < 0 ? errno : 0);
		if (fd >= 0)
			close(fd);
		if (e && !(fd < 0 && e == ENOENT)) {
			kc_err_set(err, -e, "%s: fsync: %s", p, strerror(e));
			free(p);
			return -e;
		}
		free(p);
	}
	return 0;
}

int mvcc_status(struct mvcc *m, struct mvcc_status *out, struct kc_err *err)
{
	struct kc_err tmp;
	if (!err)
		err = &tmp;
	memset(out, 0, sizeof *out);
	out->revision = m->rev;
	out->compact_revision = m->compact_rev;
	out->applied_index = m->applied;
	out->compaction_pending = m->cursor_rev < m->compact_rev;
	int64_t pages = 0, freep = 0, psize = 0;
	int rc;
	if ((rc = query_i64(&m->w, "PRAGMA page_count", &pages, err)) < 0 ||
	    (rc = query_i64(&m->w, "PRAGMA freelist_count", &freep, err)) < 0 ||
	    (rc = query_i64(&m->w, "PRAGMA page_size", &psize, err)) < 0) {
		m->w.failed = false;
		return rc;
	}
	out->db_size = (uint64_t)(pages * psize);
	out->db_size_in_use = (uint64_t)((pages - freep) * psize);
	if (!m->memory) {
		char *wal = xasprintf("%s-wal", m->path);
		struct stat sb;
		if (stat(wal, &sb) == 0)
			out->wal_size = (uint64_t)sb.st_size;
		free(wal);
	}
	return 0;
}
