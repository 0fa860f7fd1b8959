/* raft.h - Raft consensus for kc's store: a pure, deterministic state machine (no sockets, disk,
 * clock, threads or globals) driven by ticks, messages and proposals, whose effects come out as
 * "Ready" batches that the caller persists, sends and applies (the etcd-io/raft contract).
 *
 * Features: pre-vote, check-quorum, per-follower flow control (probe / replicate / snapshot with
 * an in-flight window), fast log backtracking, snapshots, single-server membership changes with
 * learners, leadership transfer, ReadIndex reads.
 *
 * DRIVING IT
 * One struct raft belongs to one thread. The caller:
 *   - calls raft_tick() at a fixed interval (kc: 100 ms; heartbeat_tick and election_tick count
 *     these ticks),
 *   - hands every message received from a peer to raft_step() (decoded with raft_msg_decode),
 *   - proposes with raft_propose() / raft_propose_conf_change(), reads with raft_read_index(),
 *   - and whenever raft_has_ready() is true, takes a batch with raft_ready(), processes it as
 *     below, and returns it with raft_advance().
 *
 * PERSISTENCE CONTRACT (what must be durable before what)
 * For each struct raft_ready rd, in this order:
 *   1. Persist, in ONE atomic write (one SQLite transaction): rd.snapshot if non-NULL (replacing
 *      the whole log: afterwards first_index = snapshot index + 1 and last_index = snapshot index),
 *      then rd.entries (writing entry i first discards every persisted entry with index >= i),
 *      then rd.hs if rd.has_hard_state. When rd.must_sync the write must be durable (fsync,
 *      synchronous=FULL) before step 3; when only the commit index changed it may be lazy, since
 *      raft_new() recovers a lost commit index from options.applied.
 *   2. rd.msgs may be sent as soon as raft_ready() returns, in parallel with step 1: they are
 *      leader traffic (appends, heartbeats, snapshots, TimeoutNow, ReadIndex answers) of a term
 *      already durable, whose correctness does not depend on the sender's pending writes
 *      (thesis 10.2.1: the leader writes its log in parallel with replicating it; it counts
 *      itself towards a commit quorum only after raft_advance() reports the write durable).
 *   3. rd.msgs_after_persist only once step 1 is durable. They include every vote and pre-vote
 *      response (term and vote must be on disk before a vote is granted), every append
 *      response (entries must be on disk before they are acknowledged), the candidate's own vote
 *      requests (its self-vote must be on disk) and all follower traffic.
 *   4. Apply rd.snapshot (if any), then rd.committed in order, to the state machine. A
 *      committed entry may be among rd.entries, which is why this comes after step 1. Serve
 *      rd.reads once the state machine has applied at least read.index.
 *      Entries of type RAFT_ENTRY_CONF need no call back into raft: a configuration takes effect
 *      as soon as its entry is appended (Raft thesis 4.1); the caller may decode it with
 *      raft_conf_change_decode() to learn members' addresses (context bytes).
 *   5. raft_advance(r, &rd). The caller may instead call it as soon as step 1 is durable and
 *      apply rd.committed on another thread (take ownership as described on struct raft_ready);
 *      "applied" then means "handed to the state machine".
 * Only one Ready may be outstanding. Between raft_ready() and raft_advance() the caller may keep
 * calling raft_step / raft_tick / raft_propose / raft_read_index / raft_transfer_leadership /
 * raft_report_* (their effects land in the next Ready), which is how proposals arriving during
 * an fsync are grouped into the next write (group commit).
 *
 * ERRORS
 * Functions return 0 or a negative code. -KC_EUNAVAIL: not leader (or no leader known);
 * -KC_EAGAIN: refused for now (transfer in progress, a configuration change pending, no entry of
 * the leader's term committed yet); -KC_EINVAL: bad argument or misuse; -KC_EPROTO: a malformed
 * or impossible message (drop it, keep going). Any error from the storage ops other than
 * -KC_ENOTFOUND (compacted) and -KC_EAGAIN (snapshot not ready) is sticky: the instance is
 * poisoned, every later call returns that error, and the caller must raft_free() it and restart
 * from storage. */
#ifndef KC_STORE_RAFT_H
#define KC_STORE_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_err;
struct kc_str;
struct kc_vec;
struct raft; /* one node; opaque */

#define RAFT_NONE 0                      /* "no node"; node ids are nonzero and never reused */
#define RAFT_MAX_MEMBERS 16              /* voters + learners in one configuration */
#define RAFT_MAX_ENTRY_BYTES (64u << 20) /* largest proposal */
#define RAFT_MAX_CONF_CONTEXT 1024       /* largest context of a configuration change */

enum raft_role { RAFT_FOLLOWER = 0, RAFT_PRE_CANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 1, /* a proposal: data is the caller's command */
	RAFT_ENTRY_NOOP = 2,   /* appended by every new leader; no data; applies as nothing */
	RAFT_ENTRY_CONF = 3,   /* membership change: data decodes with raft_conf_change_decode */
};

/* A log entry. Whoever owns the entry owns 'data' (heap, free()); see each API for ownership. */
struct raft_entry {
	uint64_t term;
	uint64_t index;
	enum raft_entry_type type;
	size_t len;
	uint8_t *data; /* NULL when len == 0 */
};

enum raft_member_role { RAFT_VOTER = 1, RAFT_LEARNER = 2 };

struct raft_member {
	uint64_t id;
	enum raft_member_role role;
};

/* A cluster configuration: a value type, copied freely. Member order carries no meaning. */
struct raft_conf {
	size_t n;
	struct raft_member members[RAFT_MAX_MEMBERS];
};

enum raft_conf_change_type {
	RAFT_CC_ADD_LEARNER = 1, /* add a non-voting member that receives the log */
	RAFT_CC_PROMOTE = 2,     /* make a learner a voter (the caller decides when it caught up) */
	RAFT_CC_REMOVE = 3,      /* remove a voter or learner (the leader itself included) */
	RAFT_CC_BOOTSTRAP = 4,   /* the founding configuration (raft_bootstrap_entry; node 0) */
};

struct raft_conf_change {
	enum raft_conf_change_type type;
	uint64_t node_id;
	const uint8_t *context; /* opaque to raft, e.g. the member's address; borrowed */
	size_t context_len;     /* <= RAFT_MAX_CONF_CONTEXT */
};

/* What must survive a crash besides the log. */
struct raft_hard_state {
	uint64_t term;
	uint64_t vote;   /* RAFT_NONE when no vote in 'term' */
	uint64_t commit;
};

struct raft_snapshot_meta {
	uint64_t index;        /* last entry the snapshot covers; 0 = no snapshot */
	uint64_t term;         /* that entry's term */
	struct raft_conf conf; /* the configuration as of 'index' */
};

/* A snapshot: metadata plus opaque state-machine bytes. Owned data, free() it (or
 * raft_snapshot_free() for a heap-allocated struct). */
struct raft_snapshot {
	struct raft_snapshot_meta meta;
	uint8_t *data;
	size_t len;
};

enum raft_msg_type {
	RAFT_MSG_APPEND = 1,       /* leader -> peer: entries after (index, log_term), commit */
	RAFT_MSG_APPEND_RESP,      /* index = last matching index; on reject: index = rejected prev,
				    * reject_hint + log_term = where to retry (see below) */
	RAFT_MSG_VOTE,             /* index / log_term = candidate's last entry; transfer flag */
	RAFT_MSG_VOTE_RESP,        /* reject = vote refused */
	RAFT_MSG_PREVOTE,          /* term = the term the sender would campaign in */
	RAFT_MSG_PREVOTE_RESP,
	RAFT_MSG_HEARTBEAT,        /* commit; ctx = read sequence to echo */
	RAFT_MSG_HEARTBEAT_RESP,   /* ctx = echoed read sequence */
	RAFT_MSG_SNAPSHOT,         /* snapshot (metadata + data); answered with APPEND_RESP */
	RAFT_MSG_TIMEOUT_NOW,      /* leader -> transfer target: campaign now */
	RAFT_MSG_READ_INDEX,       /* follower -> leader: ctx = caller's read id */
	RAFT_MSG_READ_INDEX_RESP,  /* leader -> follower: index = read index, ctx echoed */
};
#define RAFT_MSG_TYPE_MAX RAFT_MSG_READ_INDEX_RESP

/* A message. Plain data; a message owns its entries (each entry's data) and its snapshot.
 * Release the contents with raft_msg_free(). Unused fields are zero.
 * Rejected APPEND_RESP: reject_hint is the highest index <= min(rejected index, follower's last)
 * whose term is <= the leader's prev log_term, and log_term is that entry's term, so the leader
 * skips a whole conflicting term per round trip. */
struct raft_msg {
	enum raft_msg_type type;
	uint64_t term;
	uint64_t from;
	uint64_t to;
	uint64_t index;
	uint64_t log_term;
	uint64_t commit;
	uint64_t reject_hint;
	uint64_t ctx;
	bool reject;
	bool transfer; /* VOTE from a leadership transfer: bypasses the voters' leader lease */
	size_t n_entries;
	struct raft_entry *entries;     /* APPEND only */
	struct raft_snapshot *snapshot; /* SNAPSHOT only: heap struct */
};

/* A confirmed linearizable read: once the state machine has applied 'index', reads tagged 'ctx'
 * observe every write that completed before raft_read_index() was called. */
struct raft_read_state {
	uint64_t ctx;
	uint64_t index;
};

struct raft_soft_state {
	uint64_t lead;
	enum raft_role role;
};

/* One batch of work for the caller (see the contract at the top). Everything stays valid until
 * raft_advance(). Ownership: 'snapshot' and the entries' data in 'entries' are borrowed from
 * raft (do not free or keep); the 'entries' array itself, 'committed', 'msgs',
 * 'msgs_after_persist' and 'reads' belong to the Ready and raft_advance() frees them. The caller
 * may take any of those arrays (or one message) by copying the pointer and setting the field to
 * NULL / zeroing the message; it then frees them with raft_entries_free() / raft_msg_free() /
 * free(). */
struct raft_ready {
	bool has_soft_state; /* leader or role changed */
	struct raft_soft_state soft;
	bool has_hard_state; /* hs differs from the previous Ready's */
	struct raft_hard_state hs;
	bool must_sync; /* entries, snapshot, term or vote to persist durably */
	const struct raft_snapshot *snapshot;
	struct raft_entry *entries;
	size_t n_entries;
	struct raft_entry *committed;
	size_t n_committed;
	struct raft_msg *msgs;
	size_t n_msgs;
	struct raft_msg *msgs_after_persist;
	size_t n_msgs_after_persist;
	struct raft_read_state *reads;
	size_t n_reads;
};

/* Stable storage, implemented by the caller (SQLite in kc, raft_memstore for tests). Raft only
 * reads through it; the caller writes it while processing Readies. The log it holds is entries
 * [first_index, last_index] plus the term of entry first_index - 1 (the snapshot's, or 0 for
 * index 0). Reads may run while the caller is writing the outstanding Ready's data: raft never
 * asks for an index it handed out in a Ready that was not yet advanced, so either old or new
 * contents are fine. first_index / last_index / term of recent entries should be cached in
 * memory: raft calls them often. Any error other than the ones listed poisons the instance. */
struct raft_storage_ops {
	/* The persisted hard state ({0, 0, 0} for a new node). Called once by raft_new(). */
	int (*hard_state)(void *ctx, struct raft_hard_state *out);
	/* The latest snapshot's metadata; index 0 (with an empty conf) when there is none. Called
	 * once by raft_new(). */
	int (*snapshot_meta)(void *ctx, struct raft_snapshot_meta *out);
	/* first_index <= snapshot index + 1 (entries before the snapshot may be kept so that slightly
	 * lagging followers get entries, not a snapshot); last_index >= snapshot index. */
	uint64_t (*first_index)(void *ctx);
	uint64_t (*last_index)(void *ctx);
	/* Term of entry 'index' for first_index - 1 <= index <= last_index; -KC_ENOTFOUND outside. */
	int (*term)(void *ctx, uint64_t index, uint64_t *out);
	/* Appends copies of entries [lo, hi) (first_index <= lo < hi <= last_index + 1) to 'out', a
	 * kc_vec of struct raft_entry: ownership of each entry's data passes to raft. Stops before
	 * the total of entry lengths (+ 24 bytes per entry) exceeds max_bytes, but always returns at
	 * least one entry. -KC_ENOTFOUND when lo was compacted meanwhile. */
	int (*entries)(void *ctx, uint64_t lo, uint64_t hi, size_t max_bytes, struct kc_vec *out);
	/* The latest snapshot, metadata and data, for sending to a follower; *out's data passes to
	 * raft. -KC_EAGAIN while none is available yet (raft retries on a later heartbeat).
	 * The data is opaque: it may be the full image, or a small descriptor that the receiving
	 * side's caller resolves by streaming the image from the sender in chunks before it
	 * persists the Ready carrying the snapshot. Raft moves it as one message. */
	int (*snapshot)(void *ctx, struct raft_snapshot *out);
};

struct raft_options {
	uint64_t id;                            /* this node, nonzero */
	const struct raft_storage_ops *storage; /* borrowed, must outlive the raft */
	void *storage_ctx;
	uint64_t applied;          /* last index the state machine applied (restart), 0 when new */
	uint64_t seed;             /* seeds the election-timeout randomness (use getrandom) */
	unsigned election_tick;    /* election timeout in ticks, randomized in [e, 2e); default 10 */
	unsigned heartbeat_tick;   /* heartbeat interval in ticks, < election_tick; default 1 */
	bool pre_vote;             /* thesis 9.6 */
	bool check_quorum;         /* leader steps down without a quorum for an election timeout;
				    * followers ignore votes while they hear from a leader */
	size_t max_msg_bytes;      /* entry bytes per APPEND (at least one entry); default 1 MiB */
	size_t max_inflight_msgs;  /* pipelined APPENDs per follower; default 256 */
	size_t max_committed_bytes; /* committed entry bytes per Ready; default 64 MiB */
	unsigned snapshot_timeout_ticks; /* resend a snapshot never acknowledged; default 5e */
};

/* BOOTSTRAP. A new cluster's founding members each persist the same first entry, built by
 * raft_bootstrap_entry (index 1, term 1, a CONF entry holding the founding configuration), with
 * hard state {term 1}. A node joining later starts with empty storage and is added as a learner
 * by the leader. Keeping the founding membership in the log (not only in storage metadata)
 * means every index has a known configuration, even on a joiner that replays from index 1, so
 * any snapshot it takes carries the right one. Returns 0 or -KC_EINVAL (invalid conf or no
 * voter); the caller frees out->data. */
int raft_bootstrap_entry(const struct raft_conf *conf, struct raft_entry *out);

/* Fills *o with kc's defaults (pre_vote and check_quorum on); the caller then sets id, storage,
 * storage_ctx, applied and seed. */
void raft_options_init(struct raft_options *o);

/* Creates a node from what storage holds (hard state, snapshot metadata, log; it scans the log
 * after the snapshot for configuration entries). Starts as a follower. Returns 0 and *out, or
 * -KC_EINVAL (bad options, inconsistent storage, applied index not covered by the log) or a
 * storage error, with details in err (may be NULL). Free with raft_free(). */
int raft_new(const struct raft_options *o, struct raft **out, struct kc_err *err);
/* Frees the node and everything it owns. Accepts NULL. An outstanding Ready's borrowed parts
 * ('snapshot', the entries' data) die with it; release the Ready with raft_ready_free(). */
void raft_free(struct raft *r);

/* Advances logical time by one tick: elections, heartbeats, check-quorum, transfer timeout. */
int raft_tick(struct raft *r);

/* Feeds one message from a peer. Borrows m (raft copies what it keeps). Messages addressed to
 * another node or malformed (bad type, entries that do not follow the previous index, a CONF
 * entry that does not decode, a term or index >= 2^62, ...) give -KC_EPROTO and change
 * nothing; so does an append that contradicts a committed entry, which only a peer that lost
 * acknowledged state can send. */
int raft_step(struct raft *r, const struct raft_msg *m);

/* Starts an election now (pre-vote first when enabled), as if the election timer fired. For
 * bootstrapping a fresh cluster faster and for tests; a no-op on leaders and non-voters. */
int raft_campaign(struct raft *r);

/* Result of a proposal. On success index/term identify the entry: the proposal took effect iff
 * the entry applied at 'index' has 'term' (a different term there means it was lost in a leader
 * change: its outcome is then known to be "not applied"; if the caller loses track, "unknown").
 * On -KC_EUNAVAIL, 'leader' is the known leader to forward to (RAFT_NONE if unknown). */
struct raft_proposal {
	uint64_t index;
	uint64_t term;
	uint64_t leader;
};

/* Appends a NORMAL entry with a copy of data (len <= RAFT_MAX_ENTRY_BYTES). Leader only:
 * -KC_EUNAVAIL elsewhere (out->leader = hint), -KC_EAGAIN while a leadership transfer is in
 * progress, -KC_ETOOBIG over the size limit. out may be NULL. */
int raft_propose(struct raft *r, const void *data, size_t len, struct raft_proposal *out);

/* Appends a CONF entry for a single-server change; the new configuration takes effect at once.
 * Leader only. -KC_EAGAIN while another change is uncommitted, before an entry of the leader's
 * term is committed (the fix for single-server changes on diverging logs), or during a
 * transfer. -KC_EINVAL for an impossible change (adding a member that exists, promoting a
 * non-learner, removing an unknown node or the last voter), -KC_ELIMIT when full. A leader that
 * removes itself keeps leading without counting itself until the entry commits, then steps down
 * (and hands leadership to the most caught-up voter). */
int raft_propose_conf_change(struct raft *r, const struct raft_conf_change *cc,
			     struct raft_proposal *out);

/* Leader only: hands leadership to voter 'target': brings it up to date, then sends TimeoutNow.
 * Proposals get -KC_EAGAIN until it completes or is aborted after an election timeout.
 * -KC_EUNAVAIL when not leader, -KC_EINVAL when target is not a voter (or is this node). */
int raft_transfer_leadership(struct raft *r, uint64_t target);

/* Requests a linearizable read tagged 'ctx' (the caller's id for it). On the leader, once an
 * entry of its term is committed, it records the commit index, confirms leadership with one
 * heartbeat round (shared by all reads requested meanwhile), then reports {ctx, index} in
 * rd.reads. A follower forwards the request to the leader and reports the answer the same way.
 * Requests may be lost (leader change, dropped messages): the caller times out and retries;
 * a duplicated message may also report the same ctx twice (each answer is valid): the caller
 * ignores a ctx it no longer waits for. -KC_EUNAVAIL when no leader is known, -KC_EAGAIN on a
 * leader with 65536 reads already waiting. */
int raft_read_index(struct raft *r, uint64_t ctx);

/* Transport feedback (leader only; ignored elsewhere): the last message to 'id' could not be
 * delivered / a snapshot to 'id' was installed (ok) or failed. Speeds recovery; not required. */
void raft_report_unreachable(struct raft *r, uint64_t id);
void raft_report_snapshot(struct raft *r, uint64_t id, bool ok);

bool raft_has_ready(const struct raft *r);
/* Fills *rd with the next batch (see the contract). -KC_EINVAL while one is outstanding. */
int raft_ready(struct raft *r, struct raft_ready *rd);
/* Reports that *rd was processed; frees what the Ready still owns and zeroes it. */
int raft_advance(struct raft *r, struct raft_ready *rd);
/* Frees what a Ready owns without advancing (a Ready dropped by a crash or with raft_free). */
void raft_ready_free(struct raft_ready *rd);

enum raft_progress_state { RAFT_PR_PROBE = 0, RAFT_PR_REPLICATE, RAFT_PR_SNAPSHOT };

/* The leader's view of one member's log. */
struct raft_progress_info {
	uint64_t id;
	enum raft_member_role role;
	enum raft_progress_state state;
	uint64_t match; /* highest index known replicated (and durable) there */
	uint64_t next;  /* next index to send */
	bool recent_active;
};

struct raft_status {
	uint64_t id;
	enum raft_role role;
	uint64_t term;
	uint64_t vote;
	uint64_t lead;
	uint64_t commit;
	uint64_t applied;
	uint64_t first_index;
	uint64_t last_index;
	uint64_t lead_transferee;
	struct raft_conf conf;
	uint64_t conf_index; /* index of the entry (or snapshot) that set 'conf' */
	size_t n_progress;   /* leader only */
	struct raft_progress_info progress[RAFT_MAX_MEMBERS];
};

void raft_status(const struct raft *r, struct raft_status *st);
/* The leader's progress for member 'id' (e.g. to decide a learner is caught up: match close to
 * the leader's commit). -KC_EUNAVAIL when not leader, -KC_ENOTFOUND when not a member. */
int raft_progress(const struct raft *r, uint64_t id, struct raft_progress_info *out);
/* Term of log entry 'index' as this node sees it (persisted or not). -KC_ENOTFOUND when
 * compacted or beyond the last index. */
int raft_log_term_at(struct raft *r, uint64_t index, uint64_t *term);

/* The role of 'id' in conf, or 0 when not a member. */
enum raft_member_role raft_conf_role(const struct raft_conf *conf, uint64_t id);
size_t raft_conf_voters(const struct raft_conf *conf);

/* Ownership helpers. raft_entries_free frees each entry's data then the array (NULL ok).
 * raft_msg_free frees what the message owns, not the struct, and zeroes it. raft_msg_copy makes
 * a deep copy into *dst. raft_snapshot_free frees a heap struct raft_snapshot and its data. */
void raft_entries_free(struct raft_entry *ents, size_t n);
void raft_entry_copy(struct raft_entry *dst, const struct raft_entry *src);
void raft_msg_free(struct raft_msg *m);
void raft_msg_copy(struct raft_msg *dst, const struct raft_msg *src);
void raft_snapshot_free(struct raft_snapshot *s);
const char *raft_msg_type_name(enum raft_msg_type t);
const char *raft_role_name(enum raft_role role);

/* ---- codec (raft_codec.c): compact, versioned, canonical binary forms -----------------------
 * Decoders take untrusted bytes: every length is checked against the input and the limits
 * before anything is allocated, varints must be minimal, unknown versions, types and flags are
 * rejected, and trailing bytes are an error. Hence encode(decode(x)) == x for accepted x. */

struct raft_codec_limits {
	size_t max_entries;        /* per message */
	size_t max_entry_bytes;    /* data of one entry */
	size_t max_snapshot_bytes; /* data of one snapshot */
};

/* 10000 entries, RAFT_MAX_ENTRY_BYTES, 1 GiB. */
extern const struct raft_codec_limits raft_codec_default_limits;

/* Appends the encoding to out. */
void raft_msg_encode(const struct raft_msg *m, struct kc_str *out);
/* Decodes exactly len bytes into *m (owned: free with raft_msg_free). limits NULL = defaults.
 * Returns 0, -KC_EPARSE (malformed) or -KC_ELIMIT, with details in err; *m is zeroed on error. */
int raft_msg_decode(const void *buf, size_t len, const struct raft_codec_limits *limits,
		    struct raft_msg *m, struct kc_err *err);

/* One entry, for a storage layer that keeps entries as blobs. */
void raft_entry_encode(const struct raft_entry *e, struct kc_str *out);
int raft_entry_decode(const void *buf, size_t len, const struct raft_codec_limits *limits,
		      struct raft_entry *e, struct kc_err *err);

/* A configuration (e.g. a snapshot's, for storage). */
void raft_conf_encode(const struct raft_conf *conf, struct kc_str *out);
int raft_conf_decode(const void *buf, size_t len, struct raft_conf *conf, struct kc_err *err);

/* The data of a RAFT_ENTRY_CONF entry: the change and the full resulting configuration (so a
 * node that never saw earlier changes still learns the whole membership). Decoding borrows:
 * cc->context points into buf. */
void raft_conf_change_encode(const struct raft_conf_change *cc, const struct raft_conf *result,
			     struct kc_str *out);
int raft_conf_change_decode(const void *buf, size_t len, struct raft_conf_change *cc,
			    struct raft_conf *result, struct kc_err *err);

#endif
