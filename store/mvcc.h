/* mvcc.h - kc's etcd-v3-style MVCC state machine: committed Raft commands in, revisions, ranges,
 * txns, leases, compaction and watch events out, persisted in one SQLite file.
 *
 * Threads: a struct mvcc belongs to the store thread, which applies commands, runs compaction
 * steps and checkpoints, and may read through mvcc_range()/mvcc_history() on the same (write)
 * connection. Other threads read concurrently through their own struct mvcc_reader (a separate
 * SQLite connection in WAL mode; readers never block the writer and see only committed batches).
 *
 * Determinism: mvcc_apply*() depends only on the database and the command bytes, never on clocks
 * or randomness, so every replica that applies the same log holds the same revisions. Lease
 * expiry times are local, leader-only, in-memory bookkeeping fed with the caller's clock.
 *
 * Durability and ordering contract: a batch is one SQLite transaction that also records the
 * highest Raft index applied; with MVCC_SYNC_FULL (the default) it is on disk when
 * mvcc_apply_batch() returns. Entries at or below the recorded index are skipped, so replaying
 * the Raft log from any point after a crash is safe. Revisions never decrease. */
#ifndef KC_STORE_MVCC_H
#define KC_STORE_MVCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/str.h"

/* Codes of the store, above lib/err.h's range (returned negated). The texts of the etcd-visible
 * ones are etcd's own, because Kubernetes matches on them. */
#define MVCC_ERR_TABLE(X)                                                                          \
	X(MVCC_ECOMPACTED, 1100, "mvcc: required revision has been compacted")                    \
	X(MVCC_EFUTURE_REV, 1101, "mvcc: required revision is a future revision")                 \
	X(MVCC_ELEASE_NOT_FOUND, 1102, "etcdserver: requested lease not found")                   \
	X(MVCC_ELEASE_EXISTS, 1103, "etcdserver: lease already exists")                           \
	X(MVCC_EKEY_NOT_FOUND, 1104, "etcdserver: key not found")                                 \
	X(MVCC_EDUP_KEY, 1105, "etcdserver: duplicate key given in txn request")                  \
	X(MVCC_EEMPTY_KEY, 1106, "etcdserver: key is not provided")                               \
	X(MVCC_ETOO_MANY_OPS, 1107, "etcdserver: too many operations in txn request")             \
	X(MVCC_EVALUE_PROVIDED, 1108, "etcdserver: value is provided")                            \
	X(MVCC_ELEASE_PROVIDED, 1109, "etcdserver: lease is provided")                            \
	X(MVCC_EFOREIGN, 1110, "database belongs to another cluster or member")                   \
	X(MVCC_ECORRUPT, 1111, "database is corrupt or not a kc store")

enum mvcc_errcode {
#define MVCC_ERR_ENUM(name, value, text) name = value,
	MVCC_ERR_TABLE(MVCC_ERR_ENUM)
#undef MVCC_ERR_ENUM
};

/* Static text for a negative code: the store's own codes, else kc_strerror(). */
const char *mvcc_strerror(int code);

/* Limits enforced by the command codec (and so by every replica). */
#define MVCC_KEY_MAX (32u * 1024)            /* bytes in a key or range_end */
#define MVCC_CMD_MAX (2u * 1024 * 1024)      /* bytes in one encoded command */
#define MVCC_TXN_OPS_MAX 1024u               /* compares + ops in one command, nested included */
#define MVCC_TXN_DEPTH_MAX 4u                /* txn nesting depth; 1 = no nested txn */

/* ---------------------------------------------------------------------------------------------
 * Key-values and events (owned results) */

struct mvcc_kv {
	uint8_t *key;            /* owned: one block holding key, '\0', value, '\0' */
	size_t key_len;
	uint8_t *value;          /* points into the key's block; "" when keys_only or a tombstone */
	size_t value_len;
	int64_t create_revision; /* 0 for a DELETE event's kv */
	int64_t mod_revision;    /* for a DELETE event: the revision of the delete */
	int64_t version;         /* 1 on creation, +1 per change; 0 in a DELETE event */
	int64_t lease;           /* 0 = none */
};

/* Frees kv's block and zeroes kv. NULL and zeroed kvs are no-ops. */
void mvcc_kv_free(struct mvcc_kv *kv);
/* Deep copy into *dst (caller frees with mvcc_kv_free). */
void mvcc_kv_copy(struct mvcc_kv *dst, const struct mvcc_kv *src);

enum mvcc_event_type { MVCC_EVENT_PUT = 0, MVCC_EVENT_DELETE = 1 };   /* etcd's numbering */

struct mvcc_event {
	enum mvcc_event_type type;
	int64_t revision;        /* == kv.mod_revision */
	uint32_t sub;            /* order of the change inside its revision */
	struct mvcc_kv kv;
	bool has_prev;           /* false when the key did not exist (or its history was compacted) */
	struct mvcc_kv prev_kv;
};

/* Events in (revision, sub) order. The vector owns the kvs. */
struct mvcc_events {
	struct mvcc_event *v;
	size_t len;
	size_t cap;
};

void mvcc_events_init(struct mvcc_events *e);
/* Frees every event from index 'from' on and sets len = from (from <= len). */
void mvcc_events_truncate(struct mvcc_events *e, size_t from);
/* Frees everything; e is reusable after. */
void mvcc_events_free(struct mvcc_events *e);

/* ---------------------------------------------------------------------------------------------
 * Requests (transparent values; byte fields are borrowed from the caller or, after
 * mvcc_cmd_decode, from the encoded buffer) */

enum mvcc_sort_order { MVCC_SORT_NONE = 0, MVCC_SORT_ASCEND = 1, MVCC_SORT_DESCEND = 2 };
enum mvcc_sort_target {
	MVCC_SORT_KEY = 0, MVCC_SORT_VERSION = 1, MVCC_SORT_CREATE = 2, MVCC_SORT_MOD = 3,
	MVCC_SORT_VALUE = 4
};

/* Key conventions (etcd): range_end_len == 0 selects the single key; range_end "\0" (one zero
 * byte) selects every key >= key; otherwise [key, range_end). key "\0" with range_end "\0" is
 * every key. An empty key is refused (MVCC_EEMPTY_KEY). */
struct mvcc_range_req {
	const void *key;
	size_t key_len;
	const void *range_end;
	size_t range_end_len;
	int64_t revision;        /* <= 0: the current revision */
	int64_t limit;           /* <= 0: no limit */
	enum mvcc_sort_order sort_order;
	enum mvcc_sort_target sort_target;
	bool keys_only;
	bool count_only;
};

struct mvcc_put_req {
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	int64_t lease;           /* 0 = none; must exist */
	bool prev_kv;
	bool ignore_value;       /* keep the current value; the key must exist; value must be empty */
	bool ignore_lease;       /* keep the current lease; the key must exist; lease must be 0 */
};

struct mvcc_delete_req {
	const void *key;
	size_t key_len;
	const void *range_end;
	size_t range_end_len;
	bool prev_kv;
};

enum mvcc_cmp_target {
	MVCC_CMP_VERSION = 0, MVCC_CMP_CREATE = 1, MVCC_CMP_MOD = 2, MVCC_CMP_VALUE = 3,
	MVCC_CMP_LEASE = 4
};
enum mvcc_cmp_result {
	MVCC_CMP_EQUAL = 0, MVCC_CMP_GREATER = 1, MVCC_CMP_LESS = 2, MVCC_CMP_NOT_EQUAL = 3
};

/* etcd semantics: "<key's field> <result> <operand>". Over a range, every key must satisfy it.
 * A missing key (or an empty range) compares as version = create = mod = lease = 0, and any
 * VALUE comparison with it is false. */
struct mvcc_compare {
	enum mvcc_cmp_target target;
	enum mvcc_cmp_result result;
	const void *key;
	size_t key_len;
	const void *range_end;
	size_t range_end_len;
	int64_t number;          /* operand for VERSION, CREATE, MOD, LEASE */
	const void *value;       /* operand for VALUE */
	size_t value_len;
};

enum mvcc_op_type { MVCC_OP_RANGE = 1, MVCC_OP_PUT = 2, MVCC_OP_DELETE = 3, MVCC_OP_TXN = 4 };

struct mvcc_txn_req;

struct mvcc_op {
	enum mvcc_op_type type;
	union {
		struct mvcc_range_req range;
		struct mvcc_put_req put;
		struct mvcc_delete_req del;
		const struct mvcc_txn_req *txn;
	} u;
};

/* All compares true -> success ops, else failure ops, in order. A branch may not put the same
 * key twice, nor delete a key it puts (MVCC_EDUP_KEY); reads see the branch's earlier writes. */
struct mvcc_txn_req {
	const struct mvcc_compare *compares;
	size_t ncompares;
	const struct mvcc_op *success;
	size_t nsuccess;
	const struct mvcc_op *failure;
	size_t nfailure;
};

enum mvcc_cmd_type {
	MVCC_CMD_PUT = 1,
	MVCC_CMD_DELETE = 2,
	MVCC_CMD_TXN = 3,
	MVCC_CMD_COMPACT = 4,
	MVCC_CMD_LEASE_GRANT = 5,
	MVCC_CMD_LEASE_REVOKE = 6,       /* also how the leader expires a lease */
	MVCC_CMD_LEASE_CHECKPOINT = 7,   /* persists a lease's remaining TTL (etcd checkpointing) */
};

struct mvcc_cmd {
	enum mvcc_cmd_type type;
	union {
		struct mvcc_put_req put;
		struct mvcc_delete_req del;
		struct mvcc_txn_req txn;
		struct { int64_t revision; } compact;
		struct { int64_t id; int64_t ttl; } lease_grant;       /* id > 0, ttl >= 1 s */
		struct { int64_t id; } lease_revoke;
		struct { int64_t id; int64_t remaining; } lease_checkpoint; /* remaining >= 0 s */
	} u;
	void *arena;             /* private: what mvcc_cmd_decode allocated */
};

/* ---------------------------------------------------------------------------------------------
 * Command codec. Encoding v1: byte 1 (version), byte type, then the body with LEB128 varints
 * (zigzag for signed), length-prefixed byte strings and flag bytes. Decoding is strict: no
 * trailing bytes, no unknown flags or enum values, no overlong varints, every limit above, so
 * decode(encode(x)) == x and encode(decode(b)) == b for every accepted b. */

/* Validates cmd (the same checks as the decoder, duplicate keys included) and appends its
 * encoding to out. Returns 0, or a negative code (MVCC_E*, -KC_EINVAL, -KC_ELIMIT) with out
 * unchanged. */
int mvcc_cmd_encode(struct kc_str *out, const struct mvcc_cmd *cmd, struct kc_err *err);
/* Conveniences over mvcc_cmd_encode for one request. */
int mvcc_cmd_encode_put(struct kc_str *out, const struct mvcc_put_req *req, struct kc_err *err);
int mvcc_cmd_encode_delete(struct kc_str *out, const struct mvcc_delete_req *req,
			   struct kc_err *err);
int mvcc_cmd_encode_txn(struct kc_str *out, const struct mvcc_txn_req *req, struct kc_err *err);
int mvcc_cmd_encode_compact(struct kc_str *out, int64_t revision, struct kc_err *err);
int mvcc_cmd_encode_lease_grant(struct kc_str *out, int64_t id, int64_t ttl, struct kc_err *err);
int mvcc_cmd_encode_lease_revoke(struct kc_str *out, int64_t id, struct kc_err *err);
int mvcc_cmd_encode_lease_checkpoint(struct kc_str *out, int64_t id, int64_t remaining,
				     struct kc_err *err);

/* Decodes buf into *out. On success, out's byte fields borrow from buf (keep buf alive) and
 * its arrays are owned: release with mvcc_cmd_free(). On error returns -KC_EPARSE (malformed),
 * -KC_EUNSUPPORTED (unknown version or type), -KC_ELIMIT, -KC_EINVAL or an MVCC_E* code, and
 * *out holds nothing to free. */
int mvcc_cmd_decode(const void *buf, size_t len, struct mvcc_cmd *out, struct kc_err *err);
/* Frees what decode allocated. Zeroed or NULL commands are no-ops. */
void mvcc_cmd_free(struct mvcc_cmd *cmd);

/* Writes the etcd prefix end of 'prefix' (the key after every key with that prefix) into out,
 * which has room for max(len, 1) bytes, and returns its length. A prefix that is empty or all
 * 0xff yields "\0" (every key >= prefix), etcd's convention. */
size_t mvcc_prefix_end(const void *prefix, size_t len, uint8_t *out);

/* Byte-wise key order (memcmp, then shorter first), as etcd and SQLite BLOBs compare. */
int mvcc_key_cmp(const void *a, size_t alen, const void *b, size_t blen);
/* Whether k is selected by (key, range_end) under the conventions of struct mvcc_range_req. */
bool mvcc_key_in_range(const void *k, size_t klen, const void *key, size_t key_len,
		       const void *range_end, size_t range_end_len);

/* ---------------------------------------------------------------------------------------------
 * Responses (owned; free with the matching *_free) */

struct mvcc_range_resp {
	int64_t revision;        /* header revision: the store revision the read ran at */
	struct mvcc_kv *kvs;
	size_t nkvs;
	bool more;               /* more keys matched than were returned (limit) */
	int64_t count;           /* every key that matched, regardless of limit */
};
void mvcc_range_resp_free(struct mvcc_range_resp *r);

struct mvcc_put_resp {
	bool has_prev;
	struct mvcc_kv prev_kv;  /* only when requested and the key existed */
};

struct mvcc_delete_resp {
	int64_t deleted;
	struct mvcc_kv *prev_kvs;   /* only when requested; nprev == deleted then */
	size_t nprev;
};

struct mvcc_op_resp;

struct mvcc_txn_resp {
	bool succeeded;
	struct mvcc_op_resp *responses;   /* one per op of the branch taken */
	size_t nresponses;
};

struct mvcc_op_resp {
	enum mvcc_op_type type;
	union {
		struct mvcc_range_resp range;
		struct mvcc_put_resp put;
		struct mvcc_delete_resp del;
		struct mvcc_txn_resp txn;
	} u;
};

struct mvcc_result {
	enum mvcc_cmd_type type;  /* 0 when the command did not decode */
	bool skipped;             /* index <= applied index: replay, nothing was done */
	struct kc_err err;        /* err.code < 0: rejected deterministically, nothing changed */
	int64_t revision;         /* store revision after the command (the response header's) */
	union {
		struct mvcc_put_resp put;
		struct mvcc_delete_resp del;
		struct mvcc_txn_resp txn;
		struct { int64_t id; int64_t ttl; } lease_grant;
		struct { int64_t deleted; } lease_revoke;
	} u;
};
/* Frees what the result owns and zeroes it. NULL is a no-op. */
void mvcc_result_free(struct mvcc_result *r);

/* ---------------------------------------------------------------------------------------------
 * The state machine */

struct mvcc;
struct mvcc_reader;

enum mvcc_sync {
	MVCC_SYNC_FULL = 0,    /* fsync the WAL at every commit: what the contract above assumes */
	MVCC_SYNC_NORMAL = 1,  /* consistent, may lose the last batches on power loss: only safe when
				* the Raft log is durable and replays from the applied index */
	MVCC_SYNC_OFF = 2,     /* tests only */
};

#define MVCC_OPEN_NO_CREATE 0x1u     /* refuse to create a new database */
#define MVCC_OPEN_QUICK_CHECK 0x2u   /* run PRAGMA quick_check (reads the whole file) */
#define MVCC_OPEN_ADOPT_MEMBER 0x4u  /* take over a database of another member of the same
				      * cluster (a snapshot received from the leader) */
#define MVCC_OPEN_RESTORE 0x8u       /* a database restored from a snapshot file founds a new
				      * cluster: its cluster and member ids become the given ones
				      * and its applied index 0 (the new Raft log starts over); the
				      * data, revisions and leases are kept */

struct mvcc_options {
	const char *path;        /* database file, or ":memory:" (no readers) */
	uint64_t cluster_id;     /* non-zero: recorded on creation, must match afterwards */
	uint64_t member_id;      /* non-zero: same, unless MVCC_OPEN_ADOPT_MEMBER */
	unsigned flags;          /* MVCC_OPEN_* */
	enum mvcc_sync sync;
	int cache_kib;           /* page cache of the write connection; 0 = 32768 */
	int wal_autocheckpoint;  /* pages; 0 = 10000 (~40 MiB); < 0 = never (call mvcc_checkpoint) */
	uint64_t quota_bytes;    /* 0 = none. Hard cap on the file: a batch that would grow it past
				  * the cap fails with -ENOSPC and none of it is applied. The API layer
				  * should refuse writes well before (etcd's NOSPACE alarm), watching
				  * mvcc_status().db_size_in_use, so compaction can still be applied. */
};

/* Opens or creates the database. Refuses, with a message naming the file and the reason: a file
 * that is not SQLite, a SQLite file of another application, a newer or unknown schema, another
 * cluster or member (MVCC_EFOREIGN), inconsistent metadata or a failed quick_check
 * (MVCC_ECORRUPT). Returns 0 and *out (free with mvcc_close), or a negative code. */
int mvcc_open(const struct mvcc_options *opts, struct mvcc **out, struct kc_err *err);
/* Closes the database. Readers must be closed before. NULL is a no-op. */
void mvcc_close(struct mvcc *m);

int64_t mvcc_revision(const struct mvcc *m);          /* current revision (0 when empty) */
int64_t mvcc_compact_revision(const struct mvcc *m);  /* reads below it fail; 0 = never compacted */
uint64_t mvcc_applied_index(const struct mvcc *m);    /* highest Raft index applied */
uint64_t mvcc_cluster_id(const struct mvcc *m);
uint64_t mvcc_member_id(const struct mvcc *m);

/* One committed Raft entry for mvcc_apply_batch; data is borrowed. */
struct mvcc_entry {
	uint64_t index;
	const void *data;
	size_t len;
};

/* Applies entries (indexes strictly increasing) in ONE SQLite transaction together with the new
 * applied index: one fsync per batch. For each entry, results[i] (caller-provided, n of them,
 * overwritten; free each with mvcc_result_free) says what happened: skipped (index <= applied),
 * rejected deterministically (results[i].err: a malformed command, a missing lease, a compacted
 * revision...; the entry still counts as applied), or done. Events of every change are appended
 * to *events (NULL: not collected) in (revision, sub) order, for watch_hub_publish.
 * Returns 0, or a negative code when the database failed (I/O, disk full, corruption): then
 * nothing of the batch is applied, results are freed, events are left as they were, and the
 * caller should stop applying (the state machine must not skip an entry). */
int mvcc_apply_batch(struct mvcc *m, const struct mvcc_entry *entries, size_t n,
		     struct mvcc_result *results, struct mvcc_events *events, struct kc_err *err);
/* A batch of one. */
int mvcc_apply(struct mvcc *m, uint64_t raft_index, const void *cmd, size_t len,
	       struct mvcc_result *out, struct mvcc_events *events, struct kc_err *err);

/* Reads on the write connection (store thread), at the state of the last applied batch.
 * Returns 0, -MVCC_ECOMPACTED (revision < compact revision), -MVCC_EFUTURE_REV,
 * -MVCC_EEMPTY_KEY, or -KC_EIO. Free *out with mvcc_range_resp_free (also on error: it is then
 * empty). Sorting other than by ascending key loads every match into memory before applying
 * the limit, as etcd does. */
int mvcc_range(struct mvcc *m, const struct mvcc_range_req *req, struct mvcc_range_resp *out,
	       struct kc_err *err);

/* History scan for watches: appends to *out the events with from_rev <= revision <= to_rev whose
 * key is in [key, range_end) (etcd conventions), in (revision, sub) order, with prev_kv when
 * prev_kv is set. Stops at a revision boundary once max_events events were appended or
 * max_scan history rows were examined (0 = no bound), so one revision is never split. Sets
 * *next_rev to the first revision not examined (to_rev + 1 when done). Returns 0,
 * -MVCC_ECOMPACTED when from_rev < the compact revision, or -KC_EIO. Store thread. */
struct mvcc_history_req {
	const void *key;
	size_t key_len;
	const void *range_end;
	size_t range_end_len;
	int64_t from_rev;
	int64_t to_rev;
	size_t max_events;
	size_t max_scan;
	bool prev_kv;
};
int mvcc_history(struct mvcc *m, const struct mvcc_history_req *req, struct mvcc_events *out,
		 int64_t *next_rev, struct kc_err *err);

/* ---------------------------------------------------------------------------------------------
 * Compaction. A compact command only moves the compact revision (reads below it fail at once, on
 * every replica alike); the rows are removed afterwards by mvcc_compact_step(), in short write
 * transactions that the store thread interleaves with batches. History at or above the compact
 * revision, and the last version at or below it of each key still alive then, are kept. */

/* Removes up to max_rows superseded history rows (0 = 1000) in one transaction. Sets *done when
 * no work is left. Returns 0 or a negative code. Store thread. */
int mvcc_compact_step(struct mvcc *m, size_t max_rows, bool *done, struct kc_err *err);

/* Auto-compaction policy: keep the last keep_revisions revisions and/or keep_ms of history
 * (when both are set, whichever keeps more). Feed it the revision now and then; it answers the
 * revision the leader should propose to compact to, or 0. No I/O; value type. */
#define MVCC_POLICY_SAMPLES 32
struct mvcc_compact_policy {
	int64_t keep_revisions;  /* 0 = not by count */
	uint64_t keep_ms;        /* 0 = not by time */
	uint64_t sample_ms[MVCC_POLICY_SAMPLES];   /* private: a ring of (time, revision) */
	int64_t sample_rev[MVCC_POLICY_SAMPLES];
	unsigned nsamples, head;
};
void mvcc_compact_policy_init(struct mvcc_compact_policy *p, int64_t keep_revisions,
			      uint64_t keep_ms);
int64_t mvcc_compact_policy_due(struct mvcc_compact_policy *p, uint64_t now_ms, int64_t revision,
				int64_t compact_revision);

/* Checkpoints the WAL into the database file; truncate also empties the WAL file, waiting at most
 * wait_ms for readers. Returns 0, -KC_EAGAIN (readers kept part of the WAL; retry later), or a
 * negative code. Store thread. */
int mvcc_checkpoint(struct mvcc *m, bool truncate, int wait_ms, struct kc_err *err);
struct wal_watch;
/* Replaces the writer's automatic checkpoint by w (store/walckpt.h); a no-op on :memory:. */
void mvcc_wal_watch(struct mvcc *m, struct wal_watch *w);

/* Makes every committed transaction durable (fsync of the WAL and the database file), whatever
 * the sync mode: what a MVCC_SYNC_NORMAL user calls before relying on the applied index, e.g.
 * before dropping the Raft log below it. Returns 0 or -errno. Store thread. */
int mvcc_sync(struct mvcc *m, struct kc_err *err);

struct mvcc_status {
	int64_t revision;
	int64_t compact_revision;
	uint64_t applied_index;
	uint64_t db_size;          /* bytes of the database file (pages) */
	uint64_t db_size_in_use;   /* minus free pages */
	uint64_t wal_size;         /* bytes of the -wal file, 0 when none */
	bool compaction_pending;   /* mvcc_compact_step has work left */
};
int mvcc_status(struct mvcc *m, struct mvcc_status *out, struct kc_err *err);

/* ---------------------------------------------------------------------------------------------
 * Leases. The lease table (id, ttl, checkpointed remaining) is replicated state changed only by
 * commands; expiry times are this node's in-memory view, meaningful on the leader only, driven
 * by the caller's monotonic milliseconds. A lease is armed (expiry = now + remaining or ttl) the
 * first time any of these sees it after grant or mvcc_lease_promote. */

struct mvcc_lease_info {
	int64_t id;
	int64_t ttl;         /* granted TTL, seconds */
	int64_t remaining;   /* seconds until expiry on this node's clock (>= 0) */
};

/* On becoming leader: re-arms every lease to now + (checkpointed remaining or ttl) + extend_ms,
 * so leases do not expire because of the election (etcd's promote). */
void mvcc_lease_promote(struct mvcc *m, uint64_t now_ms, uint64_t extend_ms);
/* Renews lease id to now + ttl. Returns 0 with *ttl set, or -MVCC_ELEASE_NOT_FOUND. */
int mvcc_lease_keepalive(struct mvcc *m, int64_t id, uint64_t now_ms, int64_t *ttl);
/* Returns 0 with *out, or -MVCC_ELEASE_NOT_FOUND. */
int mvcc_lease_get(struct mvcc *m, int64_t id, uint64_t now_ms, struct mvcc_lease_info *out);
/* Writes up to max ids of leases expired at now_ms (earliest expiry first) and returns how many.
 * The leader proposes a revoke for each; a lease stays listed until its revoke is applied. */
size_t mvcc_lease_expired(struct mvcc *m, uint64_t now_ms, int64_t *ids, size_t max);
/* Lists every lease (sorted by id) into *out (caller frees with free()), count in *n. */
void mvcc_lease_list(struct mvcc *m, uint64_t now_ms, struct mvcc_lease_info **out, size_t *n);
/* Keys attached to lease id (keys only, sorted); free with mvcc_range_resp_free. */
int mvcc_lease_keys(struct mvcc *m, int64_t id, struct mvcc_range_resp *out, struct kc_err *err);

/* ---------------------------------------------------------------------------------------------
 * Readers: one SQLite connection each, for one thread at a time (any thread). */

/* Opens a reader on m's file. m must outlive it; only immutable fields of m are read, so any
 * thread may call this. Returns 0 and *out (free with mvcc_reader_close), -KC_EUNSUPPORTED for
 * ":memory:", or a negative code. */
int mvcc_reader_open(const struct mvcc *m, struct mvcc_reader **out, struct kc_err *err);
void mvcc_reader_close(struct mvcc_reader *r);
/* Like mvcc_range, in one read transaction on the reader's snapshot of the last committed batch;
 * *applied_index (may be NULL) receives the Raft index that snapshot includes (for ReadIndex). */
int mvcc_reader_range(struct mvcc_reader *r, const struct mvcc_range_req *req,
		      struct mvcc_range_resp *out, uint64_t *applied_index, struct kc_err *err);
/* Writes a consistent copy of the database to dest_path (must not exist) without blocking the
 * writer: a Raft snapshot. The copy carries its applied index and revision. */
int mvcc_reader_snapshot(struct mvcc_reader *r, const char *dest_path, struct kc_err *err);

#endif
