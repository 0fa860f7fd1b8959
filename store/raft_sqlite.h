/* raft_sqlite.h - Raft's stable storage in SQLite (DATA/store/raft.db): log entries, hard state
 * and snapshot metadata, written one transaction per Ready; implements raft_storage_ops. */
#ifndef KC_STORE_RAFT_SQLITE_H
#define KC_STORE_RAFT_SQLITE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "store/raft/raft.h"

struct raft_sqlite;

/* The ops to pass in raft_options.storage, with the struct raft_sqlite as storage_ctx. */
extern const struct raft_storage_ops raft_sqlite_ops;

/* Produces the data of a snapshot whose metadata is 'meta' (borrowed), for sending to a
 * follower: sets *data (malloc'd, ownership passes to the caller) and *len, or returns a
 * negative code (-KC_EAGAIN: not available yet). */
typedef int (*raft_sqlite_snapshot_fn)(void *arg, const struct raft_snapshot_meta *meta,
				       uint8_t **data, size_t *len);

/* Opens or creates the database at path (WAL; synchronous=FULL unless sync_off) and loads the
 * metadata and the term cache. Returns 0 with *out (free with raft_sqlite_close), or a negative
 * code. One thread (the store thread) uses it. */
int raft_sqlite_open(const char *path, bool sync_off, struct raft_sqlite **out,
		     struct kc_err *err);
void raft_sqlite_close(struct raft_sqlite *rs);
struct wal_watch;
/* Replaces the automatic checkpoint by w (store/walckpt.h). */
void raft_sqlite_wal_watch(struct raft_sqlite *rs, struct wal_watch *w);

/* True when nothing was ever persisted (no hard state, no entry, no snapshot). */
bool raft_sqlite_is_empty(const struct raft_sqlite *rs);
/* Founding member: persists raft_bootstrap_entry(conf) and hard state {term 1}. */
int raft_sqlite_bootstrap(struct raft_sqlite *rs, const struct raft_conf *conf,
			  struct kc_err *err);
/* Step 1 of the Ready contract in one transaction: rd->snapshot (metadata only: the caller
 * installs the data in the state machine BEFORE calling this, so a crash in between leaves the
 * state machine ahead, which replay tolerates), rd->entries, rd->hs. Borrows rd. Durable on
 * return. A failure is sticky for the caller (restart from disk). */
int raft_sqlite_persist(struct raft_sqlite *rs, const struct raft_ready *rd, struct kc_err *err);
/* Log compaction: records a snapshot at 'index' (applied by the state machine and durable
 * there, <= last index, >= the current snapshot's) with its configuration 'conf', and deletes
 * entries below index - keep + 1 (keeping 'keep' entries for slightly lagging followers), at
 * most max_drop of them per call (0: all), so that a long log goes in steps. Calling it again
 * at the same index goes on deleting. Not synced by itself (see the code). */
int raft_sqlite_compact(struct raft_sqlite *rs, uint64_t index, const struct raft_conf *conf,
			uint64_t keep, uint64_t max_drop, struct kc_err *err);
void raft_sqlite_set_snapshot_fn(struct raft_sqlite *rs, raft_sqlite_snapshot_fn fn, void *arg);

/* The member directory (what the CONF entries' contexts said: name and URLs per member id),
 * kept beside the log so a restart knows where peers are without replaying old entries.
 * Strings are copied; NULL stores "". Each call is its own durable transaction. */
int raft_sqlite_member_put(struct raft_sqlite *rs, uint64_t id, const char *name,
			   const char *peer_url, const char *client_url, struct kc_err *err);
int raft_sqlite_member_del(struct raft_sqlite *rs, uint64_t id, struct kc_err *err);
/* Members removed from the cluster, remembered so that their messages can be answered
 * "removed" (and, for this member's own id, so that it refuses to start again). A member
 * added again (same name, same id) is taken off the list. */
bool raft_sqlite_removed(const struct raft_sqlite *rs, uint64_t id);
int raft_sqlite_set_removed(struct raft_sqlite *rs, uint64_t id, bool removed,
			    struct kc_err *err);
/* Calls fn for every stored member (strings valid during the call only). */
int raft_sqlite_members(struct raft_sqlite *rs,
			void (*fn)(void *arg, uint64_t id, const char *name, const char *peer_url,
				   const char *client_url),
			void *arg, struct kc_err *err);

uint64_t raft_sqlite_first_index(const struct raft_sqlite *rs);
uint64_t raft_sqlite_last_index(const struct raft_sqlite *rs);
uint64_t raft_sqlite_snapshot_index(const struct raft_sqlite *rs);

#endif
