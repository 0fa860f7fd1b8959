/* raft_int.h - private declarations shared by the store/raft/ sources (log, progress,
 * configuration history and the node itself). */
#ifndef KC_STORE_RAFT_INT_H
#define KC_STORE_RAFT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/vec.h"
#include "store/raft/raft.h"

/* Terms and indexes from the network at or above this are refused, so that index + 1 and
 * friends can never wrap (a real log never gets near it). */
#define RAFT_SANE_MAX (UINT64_C(1) << 62)

/* Reads a leader keeps waiting for confirmation, at most. */
#define RAFT_MAX_PENDING_READS 65536

/* Accounting size of an entry against byte limits (data plus a fixed header estimate). */
#define RAFT_ENTRY_OVERHEAD 24

static inline size_t raft_entry_size(const struct raft_entry *e)
{
	return e->len + RAFT_ENTRY_OVERHEAD;
}

/* ---- raft_log.c: stable prefix (storage ops) + unstable suffix (memory) ------------------- */

struct raft_unstable {
	struct raft_snapshot *snap; /* owned; received, not yet persisted; NULL when none */
	bool snap_in_progress;      /* handed to the outstanding Ready */
	uint64_t offset;            /* index of ents[0] */
	struct kc_vec ents;         /* struct raft_entry, each owning its data */
	uint64_t in_progress;       /* entries <= this were handed to the outstanding Ready */
};

struct raft_log {
	const struct raft_storage_ops *ops;
	void *ctx;
	struct raft_unstable u;
	uint64_t committed;
	uint64_t applied;
	int fatal;              /* first storage failure; sticky */
	bool rd_outstanding;    /* a Ready borrows unstable data: defer frees to 'grave' */
	struct kc_vec grave;    /* uint8_t * data buffers to free at advance */
	struct kc_vec grave_snaps; /* struct raft_snapshot * to free at advance */
};

void raft_log_init(struct raft_log *l, const struct raft_storage_ops *ops, void *ctx);
void raft_log_free(struct raft_log *l);
/* Frees everything deferred while a Ready was outstanding. */
void raft_log_bury(struct raft_log *l);

uint64_t raft_log_first_index(const struct raft_log *l);
uint64_t raft_log_last_index(const struct raft_log *l);
/* 0, -KC_ENOTFOUND (compacted or beyond last) or a storage failure (also recorded in fatal). */
int raft_log_term(struct raft_log *l, uint64_t index, uint64_t *term);
/* The term, or 0 when unknown (then a storage failure, if any, is recorded in fatal). */
uint64_t raft_log_term_or0(struct raft_log *l, uint64_t index);
uint64_t raft_log_last_term(struct raft_log *l);
bool raft_log_match_term(struct raft_log *l, uint64_t index, uint64_t term);
/* Raft's "at least as up to date" comparison of a candidate's last entry with ours. */
bool raft_log_is_up_to_date(struct raft_log *l, uint64_t last_index, uint64_t last_term);
/* Index of the first entry of ents whose term differs from ours (or that we lack); 0 if none. */
uint64_t raft_log_find_conflict(struct raft_log *l, const struct raft_entry *ents, size_t n);
/* Largest index <= index whose term is <= term, with that term (0 when unknown). */
void raft_log_find_conflict_by_term(struct raft_log *l, uint64_t index, uint64_t term,
				    uint64_t *out_index, uint64_t *out_term);
/* Appends deep copies of ents (contiguous, ents[0].index <= last + 1), discarding our entries
 * from ents[0].index on. Never called below the commit index. */
void raft_log_append(struct raft_log *l, const struct raft_entry *ents, size_t n);
/* Appends copies of entries [lo, hi) to out (kc_vec of struct raft_entry, owned data), limited
 * by max_bytes (at least one). 0, -KC_ENOTFOUND (compacted) or a storage failure. */
int raft_log_entries(struct raft_log *l, uint64_t lo, uint64_t hi, size_t max_bytes,
		     struct kc_vec *out);
/* Appends e at last + 1, taking ownership of its data. */
void raft_log_append_take(struct raft_log *l, struct raft_entry *e);
/* The storage's latest snapshot (owned data). 0, -KC_EAGAIN or a storage failure. */
int raft_log_snapshot(struct raft_log *l, struct raft_snapshot *out);
void raft_log_commit_to(struct raft_log *l, uint64_t commit);
bool raft_log_maybe_commit(struct raft_log *l, uint64_t index, uint64_t term);
/* Installs a received snapshot as the new log base; takes ownership of snap. */
void raft_log_restore(struct raft_log *l, struct raft_snapshot *snap);
/* Highest index known durable locally (0 while a received snapshot is not persisted). */
uint64_t raft_log_stable_last(const struct raft_log *l);
/* Entries <= index (all handed out in the advanced Ready) are now durable: drop them. */
void raft_log_stable_to(struct raft_log *l, uint64_t index);

/* ---- raft_progress.c: the leader's per-member replication state --------------------------- */

struct raft_inflight {
	uint64_t index; /* last index in the message */
	size_t bytes;
};

/* Ring buffer of APPENDs sent but not acknowledged (replicate state). */
struct raft_inflights {
	struct raft_inflight *buf;
	size_t cap;
	size_t start;
	size_t count;
};

struct raft_progress {
	uint64_t id;
	bool learner;
	enum raft_progress_state state;
	uint64_t match;
	uint64_t next;
	uint64_t pending_snapshot; /* snapshot index sent, in snapshot state */
	unsigned snapshot_elapsed; /* ticks in snapshot state */
	bool probe_sent;           /* probe state: one APPEND out, wait for an answer/heartbeat */
	bool recent_active;        /* heard from since the last check-quorum round */
	uint64_t read_ack;         /* highest heartbeat read sequence acknowledged */
	struct raft_inflights ins;
};

void raft_pr_init(struct raft_progress *pr, uint64_t id, bool learner, uint64_t next,
		  size_t max_inflight);
void raft_pr_free(struct raft_progress *pr);
void raft_pr_become_probe(struct raft_progress *pr);
void raft_pr_become_replicate(struct raft_progress *pr);
void raft_pr_become_snapshot(struct raft_progress *pr, uint64_t snap_index);
/* An acknowledgement up to n: returns whether match grew. */
bool raft_pr_maybe_update(struct raft_progress *pr, uint64_t n);
/* A rejection of prev index 'rejected' with the follower's hint: returns whether next moved
 * (false for a stale rejection). */
bool raft_pr_maybe_decr_to(struct raft_progress *pr, uint64_t rejected, uint64_t match_hint);
bool raft_pr_is_paused(const struct raft_progress *pr);
/* Records an APPEND with n entries (bytes total) starting at pr->next. */
void raft_pr_sent_entries(struct raft_progress *pr, size_t n, size_t bytes);
void raft_inflights_free_le(struct raft_inflights *in, uint64_t index);
void raft_inflights_free_first(struct raft_inflights *in);
bool raft_inflights_full(const struct raft_inflights *in);

/* ---- raft_conf.c: configurations and their history in the log ----------------------------- */

struct raft_conf_rec {
	uint64_t index;
	struct raft_conf conf;
};

/* The configuration at every index after 'base_index': the base (from the snapshot) plus one
 * record per CONF entry in the log, ascending. The latest one is in force. */
struct raft_confs {
	uint64_t base_index;
	struct raft_conf base;
	struct kc_vec recs; /* struct raft_conf_rec */
};

void raft_confs_init(struct raft_confs *cs, uint64_t index, const struct raft_conf *conf);
void raft_confs_free(struct raft_confs *cs);
const struct raft_conf *raft_confs_current(const struct raft_confs *cs);
uint64_t raft_confs_current_index(const struct raft_confs *cs);
void raft_confs_push(struct raft_confs *cs, uint64_t index, const struct raft_conf *conf);
/* Forgets records at index >= from (their entries were truncated). */
void raft_confs_truncate(struct raft_confs *cs, uint64_t from);
/* Folds records at index <= committed into the base, keeping the latest of them. */
void raft_confs_compact(struct raft_confs *cs, uint64_t committed);
/* Applies a change to 'in', validating it. 0, -KC_EINVAL or -KC_ELIMIT (err may be NULL). */
int raft_conf_apply_change(const struct raft_conf *in, const struct raft_conf_change *cc,
			   struct raft_conf *out, struct kc_err *err);
bool raft_conf_valid(const struct raft_conf *conf);

/* ---- raft.c: the node -------------------------------------------------------------------- */

struct raft_read_req {
	uint64_t from; /* requester; this node for local reads */
	uint64_t ctx;
	uint64_t index;
	uint64_t seq;  /* heartbeat sequence a quorum must acknowledge */
};

struct raft {
	uint64_t id;
	struct raft_options opt;
	uint64_t rng;

	uint64_t term;
	uint64_t vote;
	enum raft_role role;
	uint64_t lead;
	struct raft_log log;
	struct raft_confs confs;

	unsigned election_elapsed;
	unsigned heartbeat_elapsed;
	unsigned randomized_timeout;

	/* candidate */
	size_t n_votes;
	struct {
		uint64_t id;
		bool granted;
	} votes[RAFT_MAX_MEMBERS];

	/* leader */
	size_t n_prs;
	struct raft_progress prs[RAFT_MAX_MEMBERS];
	uint64_t lead_transferee;
	uint64_t pending_conf_index; /* no new change until this is committed */
	bool bcast_pending;          /* new entries or commit to broadcast at the next Ready */
	bool stepping_down;          /* removed itself: step down once the change commits */
	uint64_t read_seq;           /* sequence carried by heartbeats */
	bool read_seq_sent;          /* a heartbeat carried read_seq: the next read needs a new one */
	bool read_hb_pending;        /* reads wait for a heartbeat round: send one at the next Ready */
	struct kc_vec pending_reads; /* struct raft_read_req, ascending seq */
	struct kc_vec waiting_reads; /* struct raft_read_req, before a commit in this term */

	/* output */
	struct kc_vec outbox;      /* struct raft_msg */
	struct kc_vec ready_reads; /* struct raft_read_state */
	struct raft_hard_state prev_hs;    /* last handed out in a Ready */
	struct raft_hard_state durable_hs; /* last reported durable by raft_advance */
	struct raft_soft_state prev_ss;

	/* the outstanding Ready */
	bool rd_outstanding;
	uint64_t rd_applied;  /* last committed entry handed out */
	uint64_t rd_snap_index;
};

#endif
