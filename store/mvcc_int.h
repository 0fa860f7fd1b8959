/* mvcc_int.h - declarations shared by the MVCC store's SQLite files (mvcc.c writes, mvcc_read.c
 * reads); not an API. */
#ifndef KC_STORE_MVCC_INT_H
#define KC_STORE_MVCC_INT_H

#include <sqlite3.h>

#include "store/mvcc.h"

/* Every statement kc runs, prepared lazily once per connection (SQLITE_PREPARE_PERSISTENT). The
 * SQL lives in mvcc_read.c next to the schema it assumes (created in mvcc.c). */
enum mvcc_stmt {
	/* reads: any connection */
	ST_META,
	ST_KV_GET,
	ST_KV_RANGE,
	ST_KV_RANGE_OPEN,
	ST_KV_COUNT,
	ST_KV_COUNT_OPEN,
	ST_HIST_GET,
	ST_HIST_GROUPS,
	ST_HIST_GROUPS_OPEN,
	ST_HIST_ROW,
	ST_HIST_SCAN,
	ST_HIST_SCAN_KEY,
	ST_HIST_PREV,
	ST_LEASE_KEYS,
	ST_BEGIN_READ,
	/* writes: the store thread's connection */
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_KV_INSERT,
	ST_KV_UPDATE,
	ST_KV_DELETE,
	ST_HIST_INSERT,
	ST_META_UPDATE,
	ST_LEASE_INSERT,
	ST_LEASE_DELETE,
	ST_LEASE_CKPT,
	ST_LEASE_ALL,
	ST_COMPACT_SCAN,
	ST_COMPACT_DEL_OLDER,
	ST_COMPACT_DEL_ROW,
	ST_COUNT
};

struct mvcc_conn {
	sqlite3 *db;
	const char *path;            /* for messages; borrowed from the owner */
	sqlite3_stmt *st[ST_COUNT];
	bool failed;                 /* a SQLite call failed since the flag was last cleared */
};

/* Returns the prepared statement id, reset and with bindings cleared, or NULL after recording
 * the failure in err (and c->failed). */
sqlite3_stmt *conn_stmt(struct mvcc_conn *c, enum mvcc_stmt id, struct kc_err *err);
/* Records a SQLite failure 'rc' of 'what': -ENOSPC for a full disk, -MVCC_ECORRUPT for
 * corruption, -KC_EAGAIN when busy, -KC_EIO otherwise; sets c->failed. Returns the code. */
int conn_fail(struct mvcc_conn *c, int rc, const char *what, struct kc_err *err);
/* Steps a statement that returns no rows, then resets it. */
int conn_run(struct mvcc_conn *c, sqlite3_stmt *st, const char *what, struct kc_err *err);
/* Runs SQL text (pragmas, schema). */
int conn_exec(struct mvcc_conn *c, const char *sql, struct kc_err *err);
/* Opens a connection with kc's pragmas for a reader or the writer. */
int conn_open(struct mvcc_conn *c, const char *path, int flags, struct kc_err *err);
void conn_close(struct mvcc_conn *c);

/* Binds a byte string as a BLOB (never NULL: an empty key is a zero-length blob). */
int conn_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n);

/* Fills kv with copies of key and value (value may be NULL when vlen is 0). */
void kv_set(struct mvcc_kv *kv, const void *key, size_t klen, const void *val, size_t vlen);
/* Appends a zeroed event and returns it. */
struct mvcc_event *events_push(struct mvcc_events *e);

/* Range read on connection c, at most at revision cur_rev. kv_is_cur says the kv table holds
 * exactly revision cur_rev (false inside a txn that already wrote: then an explicit cur_rev is
 * read from history, while revision <= 0 still sees the txn's own writes). */
int read_range(struct mvcc_conn *c, const struct mvcc_range_req *req, int64_t cur_rev,
	       int64_t compact_rev, bool kv_is_cur, struct mvcc_range_resp *out,
	       struct kc_err *err);
/* mvcc_history on connection c. */
int read_history(struct mvcc_conn *c, const struct mvcc_history_req *req, int64_t compact_rev,
		 struct mvcc_events *out, int64_t *next_rev, struct kc_err *err);

/* Opens a reader connection on path (mvcc_reader_open checks the store first). */
int reader_open_path(const char *path, struct mvcc_reader **out, struct kc_err *err);

/* Schema identity, checked by the writer at open and by readers. */
#define MVCC_APP_ID 0x6b636d76      /* "kcmv" in PRAGMA application_id */
#define MVCC_SCHEMA_VERSION 1

#endif
