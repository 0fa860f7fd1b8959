/* raft_memstore.h - an in-memory implementation of raft's storage ops, for tests and
 * simulations: it plays the role of the durable disk (what survives a simulated crash). */
#ifndef KC_STORE_RAFT_MEMSTORE_H
#define KC_STORE_RAFT_MEMSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/raft/raft.h"

struct raft_memstore;

/* The ops to pass in raft_options.storage, with the memstore as storage_ctx. */
extern const struct raft_storage_ops raft_memstore_ops;

/* A new store. With 'bootstrap' (a founding member) it holds raft_bootstrap_entry(bootstrap) and
 * hard state {term 1}; with NULL it is empty (a node that will join). Free with
 * raft_memstore_free (NULL ok). */
struct raft_memstore *raft_memstore_new(const struct raft_conf *bootstrap);
void raft_memstore_free(struct raft_memstore *ms);

/* Step 1 of the Ready contract: rd->snapshot, then rd->entries, then rd->hs. Borrows rd. */
void raft_memstore_persist(struct raft_memstore *ms, const struct raft_ready *rd);

void raft_memstore_set_hard_state(struct raft_memstore *ms, const struct raft_hard_state *hs);
/* Appends copies of contiguous entries, first discarding stored entries >= ents[0].index.
 * -KC_EINVAL if that would leave a gap or reach below the first index. */
int raft_memstore_append(struct raft_memstore *ms, const struct raft_entry *ents, size_t n);
/* Replaces everything with a received snapshot (copied). */
void raft_memstore_apply_snapshot(struct raft_memstore *ms, const struct raft_snapshot *s);
/* Records a snapshot of the caller's state machine at 'index' (<= last index, > the current
 * snapshot's) with the configuration in force there; copies data. -KC_EINVAL otherwise. */
int raft_memstore_create_snapshot(struct raft_memstore *ms, uint64_t index,
				  const struct raft_conf *conf, const void *data, size_t len);
/* Discards entries <= index (index <= the snapshot index). -KC_EINVAL otherwise. */
int raft_memstore_compact(struct raft_memstore *ms, uint64_t index);

/* Fault injection: while set, every read op fails with 'code' (0 to stop). */
void raft_memstore_fail_reads(struct raft_memstore *ms, int code);
/* While set, the snapshot op answers -KC_EAGAIN (a snapshot still being generated). */
void raft_memstore_snapshot_busy(struct raft_memstore *ms, bool busy);

uint64_t raft_memstore_first_index(const struct raft_memstore *ms);
uint64_t raft_memstore_last_index(const struct raft_memstore *ms);
const struct raft_hard_state *raft_memstore_hard_state(const struct raft_memstore *ms);
const struct raft_snapshot *raft_memstore_snapshot(const struct raft_memstore *ms);
/* Entry 'index' (first <= index <= last) or NULL; borrowed until the next change. */
const struct raft_entry *raft_memstore_entry(const struct raft_memstore *ms, uint64_t index);

#endif
