/* mvcc_int.h - declarations shared by the MVCC store's SQLite files (mvcc.c writes, mvcc_read.c
 * reads); not an API. */
#ifndef KC_STORE_MVCC_INT_H
#define KC_STORE_MVCC_INT_H

#include <sqlite3.h>

#include "store/keyidx.h"
#include "store/mvcc.h"

/* Every statement kc runs, prepared lazily once per connection (SQLITE_PREPARE_PERSISTENT). The
 * SQL lives in mvcc_read.c next to the schema it assumes (created in mvcc.c). */
enum mvcc_stmt {
	/* reads: any connection */
	ST_META,
	ST_ROW,
	ST_ROW_META,
	ST_HIST_SCAN,
	ST_BEGIN_READ,
	/* writes: the store thread's connection */
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_HIST_INSERT,
	ST_HIST_DELETE,
	ST_HIST_KEYS,
	ST_META_UPDATE,
	ST_LEASE_INSERT,
	ST_LEASE_DELETE,
	ST_LEASE_CKPT,
	ST_LEASE_ALL,
	ST_COMPACT_SCAN,
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

/* A history row's id: its revision and its place in the revision (sub). */
#define MVCC_SUB_BITS 20
#define MVCC_SUB_MAX (1u << MVCC_SUB_BITS)   /* changes one revision may hold */
static inline int64_t row_id(int64_t rev, uint32_t sub)
{
	return (int64_t)((uint64_t)rev << MVCC_SUB_BITS) | (int64_t)sub;
}

/* Range read on connection c through the key index: at most at revision cur_rev, with
 * revision 0 meaning 'at_cur' (a reader: cur_rev, the revision of its snapshot; the writer:
 * INT64_MAX, which also sees the rows of the command being applied). */
int read_range(struct mvcc_conn *c, struct kidx *idx, const struct mvcc_range_req *req,
	       int64_t cur_rev, int64_t compact_rev, int64_t at_cur, struct mvcc_range_resp *out,
	       struct kc_err *err);
/* Reads history row (rev, sub) of key into *kv (key copied from the row, value unless
 * keys_only). Returns 0, or a negative code (a missing row is corruption). */
int read_row(struct mvcc_conn *c, int64_t rev, uint32_t sub, bool keys_only, struct mvcc_kv *kv,
	     int *type, struct kc_err *err);
/* mvcc_history on the writer's connection c. */
int read_history(struct mvcc_conn *c, struct kidx *idx, const struct mvcc_history_req *req,
		 int64_t compact_rev, struct mvcc_events *out, int64_t *next_rev,
		 struct kc_err *err);

/* Opens a reader connection on path (mvcc_reader_open checks the store first). */
int reader_open_path(const char *path, struct kidx *idx, struct mvcc_reader **out,
		     struct kc_err *err);

/* Schema identity, checked by the writer at open and by readers. */
#define MVCC_APP_ID 0x6b636d76      /* "kcmv" in PRAGMA application_id */
#define MVCC_SCHEMA_VERSION 2

#endif
