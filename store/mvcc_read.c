/* DESIGN: the SQL of the MVCC store and everything that only reads it: ranges at the current or
 * a retained revision, history scans for watches, reader connections and snapshots.
 *
 * Schema (created by mvcc.c):
 *   kv(key PRIMARY KEY, create_rev, mod_rev, version, lease, value)   one row per live key
 *   history(rev, sub, key, type, create_rev, version, lease, value)   one row per change,
 *       PRIMARY KEY (rev, sub); index (key, rev, type)                type 0 put, 1 delete
 *   lease(id PRIMARY KEY, ttl, remaining)   meta(id = 1, ...)   index kv(lease) WHERE lease != 0
 *
 * A read at the current revision uses kv alone. A read at an older revision R takes, per key,
 * the history row with the largest rev <= R (found on the covering (key, rev, type) index, so
 * only matching keys' rows are fetched) and keeps it when it is a put. Compaction to C keeps,
 * per key, the last row below C unless something below C superseded it, so every read at
 * R >= C sees what it saw before compaction (see mvcc.c).
 *
 * Threads: a struct mvcc_conn belongs to one thread at a time: the writer's to the store
 * thread, each reader's to whichever thread uses that reader. Readers run every read inside one
 * read transaction, so meta and rows come from the same WAL snapshot. */
#include "store/mvcc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/vec.h"

#define ROW_COLS "key, type, create_rev, version, lease"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_META] = "SELECT revision, compact_rev, applied_index FROM meta WHERE id = 1",
	[ST_ROW] = "SELECT " ROW_COLS ", value FROM history WHERE id = ?1",
	[ST_ROW_META] = "SELECT " ROW_COLS " FROM history WHERE id = ?1",
	[ST_HIST_SCAN] = "SELECT id, " ROW_COLS ", value FROM history WHERE id >= ?1 AND id < ?2 "
			 "ORDER BY id",
	[ST_BEGIN_READ] = "BEGIN",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT cmd",
	[ST_RELEASE] = "RELEASE cmd",
	[ST_ROLLBACK_TO] = "ROLLBACK TO cmd",
	[ST_HIST_INSERT] = "INSERT INTO history(id, " ROW_COLS ", value) "
			   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_HIST_DELETE] = "DELETE FROM history WHERE id = ?1",
	[ST_HIST_KEYS] = "SELECT id, key, type, lease FROM history ORDER BY id",
	[ST_META_UPDATE] = "UPDATE meta SET applied_index = ?1, revision = ?2, compact_rev = ?3, "
			   "cursor_rev = ?4, cursor_sub = ?5 WHERE id = 1",
	[ST_LEASE_INSERT] = "INSERT INTO lease(id, ttl, remaining) VALUES (?1, ?2, 0)",
	[ST_LEASE_DELETE] = "DELETE FROM lease WHERE id = ?1",
	[ST_LEASE_CKPT] = "UPDATE lease SET remaining = ?2 WHERE id = ?1",
	[ST_LEASE_ALL] = "SELECT id, ttl, remaining FROM lease ORDER BY id",
	[ST_COMPACT_SCAN] = "SELECT id, key, type FROM history WHERE id >= ?1 AND id < ?2 "
			    "ORDER BY id LIMIT ?3",
};

/* ---------------------------------------------------------------------------------------------
 * connections */

int conn_fail(struct mvcc_conn *c, int rc, const char *what, struct kc_err *err)
{
	c->failed = true;
	const char *detail = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
	int code;
	switch (rc & 0xff) {
	case SQLITE_FULL:
		code = -ENOSPC;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = -MVCC_ECORRUPT;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = -KC_EAGAIN;
		break;
	default:
		code = -KC_EIO;
		break;
	}
	return kc_err_set(err, code, "%s: %s: %s", c->path ? c->path : "mvcc", what, detail);
}

sqlite3_stmt *conn_stmt(struct mvcc_conn *c, enum mvcc_stmt id, struct kc_err *err)
{
	sqlite3_stmt *st = c->st[id];
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	int rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		conn_fail(c, rc, stmt_sql[id], err);
		return NULL;
	}
	c->st[id] = st;
	return st;
}

int conn_run(struct mvcc_conn *c, sqlite3_stmt *st, const char *what, struct kc_err *err)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return conn_fail(c, rc, what, err);
	return 0;
}

int conn_exec(struct mvcc_conn *c, const char *sql, struct kc_err *err)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : conn_fail(c, rc, sql, err);
}

int conn_open(struct mvcc_conn *c, const char *path, int flags, struct kc_err *err)
{
	memset(c, 0, sizeof *c);
	c->path = path;
	int rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
				 NULL);
	if (rc != SQLITE_OK) {
		conn_fail(c, rc, "open", err);
		conn_close(c);
		return err ? err->code : -KC_EIO;
	}
	/* Readers may have to wait for a checkpoint's brief exclusive moments; the writer for a
	 * TRUNCATE checkpoint's readers (mvcc_checkpoint narrows it). cell_size_check makes
	 * corrupt pages fail early instead of misbehaving. */
	sqlite3_busy_timeout(c->db, 5000);
	sqlite3_extended_result_codes(c->db, 1);
	return conn_exec(c, "PRAGMA cell_size_check = ON; PRAGMA temp_store = MEMORY;", err);
}

void conn_close(struct mvcc_conn *c)
{
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(c->st[i]);
	memset(c->st, 0, sizeof c->st);
	sqlite3_close_v2(c->db);
	c->db = NULL;
}

int conn_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	static const char zero[1];
	return sqlite3_bind_blob64(st, i, n ? p : zero, n, SQLITE_STATIC);
}

/* ---------------------------------------------------------------------------------------------
 * owned values */

void kv_set(struct mvcc_kv *kv, const void *key, size_t klen, const void *val, size_t vlen)
{
	uint8_t *b = xmalloc(klen + vlen + 2);
	if (klen)
		memcpy(b, key, klen);
	b[klen] = 0;
	if (vlen)
		memcpy(b + klen + 1, val, vlen);
	b[klen + 1 + vlen] = 0;
	kv->key = b;
	kv->key_len = klen;
	kv->value = b + klen + 1;
	kv->value_len = vlen;
}

void mvcc_kv_free(struct mvcc_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	memset(kv, 0, sizeof *kv);
}

void mvcc_kv_copy(struct mvcc_kv *dst, const struct mvcc_kv *src)
{
	*dst = *src;
	kv_set(dst, src->key, src->key_len, src->value, src->value_len);
}

void mvcc_events_init(struct mvcc_events *e)
{
	memset(e, 0, sizeof *e);
}

struct mvcc_event *events_push(struct mvcc_events *e)
{
	if (e->len == e->cap) {
		e->cap = kc_grow_cap(e->cap, e->len + 1, sizeof *e->v);
		e->v = xrealloc(e->v, e->cap * sizeof *e->v);
	}
	struct mvcc_event *ev = &e->v[e->len++];
	memset(ev, 0, sizeof *ev);
	return ev;
}

void mvcc_events_truncate(struct mvcc_events *e, size_t from)
{
	for (size_t i = from; i < e->len; i++) {
		mvcc_kv_free(&e->v[i].kv);
		mvcc_kv_free(&e->v[i].prev_kv);
	}
	if (from < e->len)
		e->len = from;
}

void mvcc_events_free(struct mvcc_events *e)
{
	if (!e)
		return;
	mvcc_events_truncate(e, 0);
	free(e->v);
	mvcc_events_init(e);
}

void mvcc_range_resp_free(struct mvcc_range_resp *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nkvs; i++)
		mvcc_kv_free(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof *r);
}

static void op_resp_free(struct mvcc_op_resp *o);

static void txn_resp_free(struct mvcc_txn_resp *t)
{
	for (size_t i = 0; i < t->nresponses; i++)
		op_resp_free(&t->responses[i]);
	free(t->responses);
	memset(t, 0, sizeof *t);
}

static void delete_resp_free(struct mvcc_delete_resp *d)
{
	for (size_t i = 0; i < d->nprev; i++)
		mvcc_kv_free(&d->prev_kvs[i]);
	free(d->prev_kvs);
	memset(d, 0, sizeof *d);
}

static void op_resp_free(struct mvcc_op_resp *o)
{
	switch (o->type) {
	case MVCC_OP_RANGE:
		mvcc_range_resp_free(&o->u.range);
		break;
	case MVCC_OP_PUT:
		mvcc_kv_free(&o->u.put.prev_kv);
		break;
	case MVCC_OP_DELETE:
		delete_resp_free(&o->u.del);
		break;
	case MVCC_OP_TXN:
		txn_resp_free(&o->u.txn);
		break;
	}
	memset(o, 0, sizeof *o);
}

void mvcc_result_free(struct mvcc_result *r)
{
	if (!r)
		return;
	switch (r->type) {
	case MVCC_CMD_PUT:
		mvcc_kv_free(&r->u.put.prev_kv);
		break;
	case MVCC_CMD_DELETE:
		delete_resp_free(&r->u.del);
		break;
	case MVCC_CMD_TXN:
		txn_resp_free(&r->u.txn);
		break;
	default:
		break;
	}
	memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------------------------------------
 * ranges */

struct collect {
	struct mvcc_kv *v;
	size_t len, cap;
	size_t keep;          /* store at most this many (SIZE_MAX: all) */
	int64_t count;
	bool keys_only;
};

static struct mvcc_kv *collect_push(struct collect *c)
{
	if (c->len == c->cap) {
		c->cap = kc_grow_cap(c->cap, c->len + 1, sizeof *c->v);
		c->v = xrealloc(c->v, c->cap * sizeof *c->v);
	}
	struct mvcc_kv *kv = &c->v[c->len++];
	memset(kv, 0, sizeof *kv);
	return kv;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->len; i++)
		mvcc_kv_free(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof *c);
}

/* Fills kv from the row of 'st' whose columns, from 'col', are key, type, create_rev, version,
 * lease and (with_value) value; the row's revision is 'rev'. */
static void kv_from_row(struct mvcc_kv *kv, sqlite3_stmt *st, int col, bool with_value,
			int64_t rev)
{
	kv_set(kv, sqlite3_column_blob(st, col), (size_t)sqlite3_column_bytes(st, col),
	       with_value ? sqlite3_column_blob(st, col + 5) : NULL,
	       with_value ? (size_t)sqlite3_column_bytes(st, col + 5) : 0);
	kv->create_revision = sqlite3_column_int64(st, col + 2);
	kv->mod_revision = rev;
	kv->version = sqlite3_column_int64(st, col + 3);
	kv->lease = sqlite3_column_int64(st, col + 4);
}

int read_row(struct mvcc_conn *c, int64_t rev, uint32_t sub, bool keys_only, struct mvcc_kv *kv,
	     int *type, struct kc_err *err)
{
	sqlite3_stmt *st = conn_stmt(c, keys_only ? ST_ROW_META : ST_ROW, err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, row_id(rev, sub));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		kv_from_row(kv, st, 0, !keys_only, rev);
		if (type)
			*type = sqlite3_column_int(st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	/* the index named a row the table lacks */
	return conn_fail(c, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "history row", err);
}

struct hit {
	int64_t rev;
	uint32_t sub;
};

/* Walks the index under its read lock: counts the keys of the range whose newest row at or
 * below 'at' is a put, and keeps the rows of the first 'keep' of them (key order). Returns
 * -MVCC_ECOMPACTED when compaction has dropped revisions 'at' needs (a reader whose snapshot
 * predates the compaction: see mvcc_reader_range). */
static int walk_range(struct kidx *idx, const struct mvcc_range_req *req, bool open_end,
		      int64_t at, size_t keep, struct kc_vec *hits, int64_t *count)
{
	bool single = req->range_end_len == 0;
	kidx_rdlock(idx);
	if (at < kidx_floor(idx)) {
		kidx_rdunlock(idx);
		return -MVCC_ECOMPACTED;
	}
	struct kidx_node *n = single ? kidx_get(idx, req->key, req->key_len)
				     : kidx_seek(idx, req->key, req->key_len);
	for (; n; n = kidx_next(n)) {
		if (!single && !open_end &&
		    mvcc_key_cmp(kidx_key(n), n->klen, req->range_end, req->range_end_len) >= 0)
			break;
		const struct kidx_rev *r = kidx_at(n, at);
		if (r && !r->tomb) {
			(*count)++;
			if (hits->len < keep)
				kc_vec_push(hits, &(struct hit){ r->rev, r->sub });
		}
		if (single)
			break;
	}
	kidx_rdunlock(idx);
	return 0;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

/* Order of a sorted range: the target, then the key; DESCEND reverses both. */
static int kv_order(const struct mvcc_kv *a, const struct mvcc_kv *b, enum mvcc_sort_target t,
		    enum mvcc_sort_order o)
{
	int c = 0;
	switch (t) {
	case MVCC_SORT_KEY:
		break;
	case MVCC_SORT_VERSION:
		c = cmp_i64(a->version, b->version);
		break;
	case MVCC_SORT_CREATE:
		c = cmp_i64(a->create_revision, b->create_revision);
		break;
	case MVCC_SORT_MOD:
		c = cmp_i64(a->mod_revision, b->mod_revision);
		break;
	case MVCC_SORT_VALUE:
		c = mvcc_key_cmp(a->value, a->value_len, b->value, b->value_len);
		break;
	}
	if (!c)
		c = mvcc_key_cmp(a->key, a->key_len, b->key, b->key_len);
	return o == MVCC_SORT_DESCEND ? -c : c;
}

/* Bottom-up merge sort: qsort has no context argument in C11, and a global would race between
 * reader threads. */
static void kv_sort(struct mvcc_kv *v, size_t n, enum mvcc_sort_target t, enum mvcc_sort_order o)
{
	struct mvcc_kv *tmp = xmalloc(n * sizeof *tmp), *src = v, *dst = tmp;
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = kv_order(&src[j], &src[i], t, o) < 0 ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		struct mvcc_kv *sw = src;
		src = dst;
		dst = sw;
	}
	if (src != v)
		memcpy(v, src, n * sizeof *v);
	free(tmp);
}

static bool is_open_end_req(const struct mvcc_range_req *req)
{
	return req->range_end_len == 1 && ((const uint8_t *)req->range_end)[0] == 0;
}

int read_range(struct mvcc_conn *c, struct kidx *idx, const struct mvcc_range_req *req,
	       int64_t cur_rev, int64_t compact_rev, int64_t at_cur, struct mvcc_range_resp *out,
	       struct kc_err *err)
{
	memset(out, 0, sizeof *out);
	if (req->key_len == 0)
		return kc_err_set(err, -MVCC_EEMPTY_KEY, "%s", mvcc_strerror(-MVCC_EEMPTY_KEY));
	if (req->key_len > MVCC_KEY_MAX || req->range_end_len > MVCC_KEY_MAX)
		return kc_err_set(err, -KC_ELIMIT, "range key longer than %u", MVCC_KEY_MAX);
	int64_t rev = req->revision;
	if (rev > cur_rev)
		return kc_err_set(err, -MVCC_EFUTURE_REV, "%s", mvcc_strerror(-MVCC_EFUTURE_REV));
	if (rev > 0 && rev < compact_rev)
		return kc_err_set(err, -MVCC_ECOMPACTED, "%s", mvcc_strerror(-MVCC_ECOMPACTED));
	out->revision = cur_rev;
	bool open_end = is_open_end_req(req);
	if (req->range_end_len && !open_end &&
	    mvcc_key_cmp(req->range_end, req->range_end_len, req->key, req->key_len) <= 0)
		return 0;   /* empty interval */

	/* etcd: a non-key target without an order sorts ascending. */
	enum mvcc_sort_order order = req->sort_order;
	if (order == MVCC_SORT_NONE && req->sort_target != MVCC_SORT_KEY)
		order = MVCC_SORT_ASCEND;
	bool natural = order == MVCC_SORT_NONE ||
		       (order == MVCC_SORT_ASCEND && req->sort_target == MVCC_SORT_KEY);
	struct collect col = { .keep = SIZE_MAX, .keys_only = req->keys_only };
	if (req->count_only)
		col.keep = 0;
	else if (natural && req->limit > 0 && (uint64_t)req->limit < SIZE_MAX)
		col.keep = (size_t)req->limit;

	struct kc_vec hits;
	kc_vec_init(&hits, sizeof(struct hit));
	int rc = walk_range(idx, req, open_end, rev > 0 ? rev : at_cur, col.keep, &hits, &col.count);
	if (rc < 0)
		kc_err_set(err, rc, "%s", mvcc_strerror(rc));
	for (size_t i = 0; i < hits.len && rc == 0; i++) {
		const struct hit *h = kc_vec_at(&hits, i);
		rc = read_row(c, h->rev, h->sub, col.keys_only, collect_push(&col), NULL, err);
	}
	kc_vec_free(&hits);
	if (rc < 0) {
		collect_free(&col);
		return rc;
	}
	if (!natural && col.len > 1) {
		kv_sort(col.v, col.len, req->sort_target, order);
	}
	if (req->limit > 0 && col.len > (uint64_t)req->limit) {
		for (size_t i = (size_t)req->limit; i < col.len; i++)
			mvcc_kv_free(&col.v[i]);
		col.len = (size_t)req->limit;
	}
	out->kvs = col.v;
	out->nkvs = col.len;
	out->count = col.count;
	out->more = !req->count_only && (int64_t)col.len < col.count;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * history scans */

/* Sets ev's prev_kv to the key's row before the event, if that is a put. */
static int history_prev(struct mvcc_conn *c, struct kidx *idx, struct mvcc_event *ev,
			struct kc_err *err)
{
	struct kidx_node *n = kidx_get(idx, ev->kv.key, ev->kv.key_len);
	const struct kidx_rev *r = n ? kidx_before(n, ev->revision) : NULL;
	if (!r || r->tomb)
		return 0;
	int rc = read_row(c, r->rev, r->sub, false, &ev->prev_kv, NULL, err);
	ev->has_prev = rc == 0;
	return rc;
}

/* A history scan in progress: rows come in (rev, sub) order; the scan stops at a revision
 * boundary once a limit is reached, so a revision's events are never split. */
struct hscan {
	struct mvcc_conn *c;
	struct kidx *idx;
	const struct mvcc_history_req *req;
	struct mvcc_events *out;
	size_t start, scanned;
	int64_t last_rev;
	bool stopping;
};

/* Visits the row of 'st' (columns from 1: key, type, create, version, lease, value) at
 * (rev, sub). Returns 1 to stop before it (*next_rev set), 0 to go on, or a negative code. */
static int hscan_row(struct hscan *h, sqlite3_stmt *st, int64_t rev, uint32_t sub,
		     int64_t *next_rev, struct kc_err *err)
{
	const struct mvcc_history_req *req = h->req;
	if (h->stopping && rev != h->last_rev) {
		*next_rev = rev;
		return 1;
	}
	h->last_rev = rev;
	h->scanned++;
	const void *key = sqlite3_column_blob(st, 1);
	size_t klen = (size_t)sqlite3_column_bytes(st, 1);
	if (req->range_end_len == 0 ||
	    mvcc_key_in_range(key, klen, req->key, req->key_len, req->range_end,
			      req->range_end_len)) {
		struct mvcc_event *ev = events_push(h->out);
		ev->revision = rev;
		ev->sub = sub;
		ev->type = sqlite3_column_int(st, 2) == MVCC_EVENT_PUT ? MVCC_EVENT_PUT
								       : MVCC_EVENT_DELETE;
		kv_from_row(&ev->kv, st, 1, ev->type == MVCC_EVENT_PUT, rev);
		if (ev->type == MVCC_EVENT_DELETE)
			ev->kv.create_revision = ev->kv.version = ev->kv.lease = 0;
		int rc;
		if (req->prev_kv && (ev->type == MVCC_EVENT_DELETE || ev->kv.version > 1) &&
		    (rc = history_prev(h->c, h->idx, ev, err)) < 0)
			return rc;
	}
	if ((req->max_events && h->out->len - h->start >= req->max_events) ||
	    (req->max_scan && h->scanned >= req->max_scan))
		h->stopping = true;
	return 0;
}

/* A single key: its rows, found through the index. */
static int history_key(struct hscan *h, int64_t *next_rev, struct kc_err *err)
{
	const struct mvcc_history_req *req = h->req;
	struct kidx_node *n = kidx_get(h->idx, req->key, req->key_len);
	if (!n)
		return 0;
	for (uint32_t i = kidx_lower(n, req->from_rev); i < n->nrev; i++) {
		const struct kidx_rev *r = &n->revs[i];
		if (r->rev > req->to_rev)
			break;
		sqlite3_stmt *st = conn_stmt(h->c, ST_HIST_SCAN, err);
		if (!st)
			return err->code;
		sqlite3_bind_int64(st, 1, row_id(r->rev, r->sub));
		sqlite3_bind_int64(st, 2, row_id(r->rev, r->sub) + 1);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			rc = hscan_row(h, st, r->rev, r->sub, next_rev, err);
		else
			rc = conn_fail(h->c, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "history row",
				       err);
		sqlite3_reset(st);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return 0;
}

/* A range: every row of the revisions, filtered here. */
static int history_range(struct hscan *h, int64_t *next_rev, struct kc_err *err)
{
	sqlite3_stmt *st = conn_stmt(h->c, ST_HIST_SCAN, err);
	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, row_id(h->req->from_rev, 0));
	sqlite3_bind_int64(st, 2, row_id(h->req->to_rev + 1, 0));
	int rc, vrc = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		vrc = hscan_row(h, st, id >> MVCC_SUB_BITS, (uint32_t)(id & (MVCC_SUB_MAX - 1)),
				next_rev, err);
		if (vrc != 0)
			break;
	}
	sqlite3_reset(st);
	if (vrc < 0)
		return vrc;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : conn_fail(h->c, rc, "history scan", err);
}

int read_history(struct mvcc_conn *c, struct kidx *idx, const struct mvcc_history_req *req,
		 int64_t compact_rev, struct mvcc_events *out, int64_t *next_rev,
		 struct kc_err *err)
{
	*next_rev = req->from_rev;
	if (req->from_rev < 1)
		return kc_err_set(err, -KC_EINVAL, "history from revision %lld < 1",
				  (long long)req->from_rev);
	if (req->from_rev < compact_rev)
		return kc_err_set(err, -MVCC_ECOMPACTED, "%s", mvcc_strerror(-MVCC_ECOMPACTED));
	if (req->from_rev > req->to_rev)
		return 0;
	struct hscan h = { .c = c, .idx = idx, .req = req, .out = out, .start = out->len };
	*next_rev = req->to_rev + 1;
	int rc = req->range_end_len == 0 ? history_key(&h, next_rev, err)
					 : history_range(&h, next_rev, err);
	if (rc < 0) {
		mvcc_events_truncate(out, h.start);
		*next_rev = req->from_rev;
		return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * readers */

struct mvcc_reader {
	struct mvcc_conn c;
	char *path;
	struct kidx *idx;   /* the writer's; outlives the reader (the door's generations) */
};

int reader_open_path(const char *path, struct kidx *idx, struct mvcc_reader **out,
		     struct kc_err *err)
{
	struct mvcc_reader *r = xcalloc(1, sizeof *r);
	r->path = xstrdup(path);
	r->idx = idx;
	int rc = conn_open(&r->c, r->path, SQLITE_OPEN_READONLY, err);
	if (rc == 0)
		rc = conn_exec(&r->c, "PRAGMA query_only = ON; PRAGMA cache_size = -2048;", err);
	if (rc < 0) {
		mvcc_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void mvcc_reader_close(struct mvcc_reader *r)
{
	if (!r)
		return;
	conn_close(&r->c);
	free(r->path);
	free(r);
}

/* Starts a read transaction and loads meta from its snapshot. */
static int reader_begin(struct mvcc_reader *r, int64_t *rev, int64_t *compact, uint64_t *applied,
			struct kc_err *err)
{
	sqlite3_stmt *st = conn_stmt(&r->c, ST_BEGIN_READ, err);
	if (!st)
		return err->code;
	int rc = conn_run(&r->c, st, "begin read", err);
	if (rc < 0)
		return rc;
	if (!(st = conn_stmt(&r->c, ST_META, err)))
		return err->code;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		*rev = sqlite3_column_int64(st, 0);
		*compact = sqlite3_column_int64(st, 1);
		*applied = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (src != SQLITE_ROW)
		return conn_fail(&r->c, src == SQLITE_DONE ? SQLITE_CORRUPT : src, "read meta", err);
	return 0;
}

static void reader_end(struct mvcc_reader *r)
{
	sqlite3_stmt *st = conn_stmt(&r->c, ST_COMMIT, NULL);
	if (st && sqlite3_step(st) != SQLITE_DONE)
		sqlite3_exec(r->c.db, "ROLLBACK", NULL, NULL, NULL);
	if (st)
		sqlite3_reset(st);
	r->c.failed = false;
}

int mvcc_reader_range(struct mvcc_reader *r, const struct mvcc_range_req *req,
		      struct mvcc_range_resp *out, uint64_t *applied_index, struct kc_err *err)
{
	memset(out, 0, sizeof *out);
	int64_t rev = 0, compact = 0;
	uint64_t applied = 0;
	int rc;
	/* A read of the current revision whose snapshot predates a compaction the index has
	 * already applied takes a newer snapshot (which holds that compaction): compactions are
	 * minutes apart, so the second try succeeds but under a storm of them. */
	for (int tries = 0;; tries++) {
		rc = reader_begin(r, &rev, &compact, &applied, err);
		if (rc == 0)
			rc = read_range(&r->c, r->idx, req, rev, compact, rev, out, err);
		reader_end(r);
		if (rc != -MVCC_ECOMPACTED || req->revision > 0 || tries == 8)
			break;
	}
	if (applied_index)
		*applied_index = applied;
	return rc;
}

int mvcc_reader_snapshot(struct mvcc_reader *r, const char *dest_path, struct kc_err *err)
{
	struct kc_err tmp;
	if (!err)
		err = &tmp;
	if (access(dest_path, F_OK) == 0)
		return kc_err_set(err, -EEXIST, "snapshot %s: already exists", dest_path);
	/* VACUUM INTO writes through the connection it runs on, so it needs a read-write one; it
	 * only reads the source, in one read transaction (a consistent snapshot that does not
	 * block the writer). A private connection keeps the reader's own read-only. */
	struct mvcc_conn c;
	int rc = conn_open(&c, r->path, SQLITE_OPEN_READWRITE, err);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(c.db, "VACUUM INTO ?1", -1, &st, NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_text(st, 1, dest_path, -1, SQLITE_STATIC);
		src = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (src != SQLITE_DONE && src != SQLITE_OK) {
		rc = conn_fail(&c, src, "snapshot", err);
		conn_close(&c);
		unlink(dest_path);
		return rc;
	}
	conn_close(&c);
	/* VACUUM INTO does not promise durability of its output: sync it ourselves. */
	int fd = open(dest_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return kc_err_set(err, -e, "snapshot %s: fsync: %s", dest_path, strerror(e));
	}
	close(fd);
	return 0;
}
