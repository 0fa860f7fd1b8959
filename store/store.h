/* store.h - one member of kc's replicated store: Raft (store/raft) + the MVCC state machine
 * (store/mvcc) + watches (store/watch) + the peer transport, behind an asynchronous API that any
 * thread may call.
 *
 * Threads: store_open starts a private store thread with its own loop; it owns raft, the write
 * connection and the watch hub. Every request below may be made from any thread; it is carried
 * to the store thread by loop_post, and its completion is posted to the 'reply_loop' the caller
 * names and runs there (never inside the requesting call). Callbacks therefore run on the
 * reply loop's thread, which must keep running until every request it was named for completed.
 *
 * Ownership of results: a result passed to a callback is BORROWED for the duration of the
 * callback; the store frees whatever is left in it afterwards. To keep it, move it out (copy
 * the struct, then memset the original to 0). Every kc_err passed to a callback is borrowed.
 *
 * Errors common to all requests: -KC_EUNAVAIL when no leader is known within about two
 * election timeouts, -KC_ETIMEDOUT when a proposal or read did not complete within
 * request_timeout_ms (its outcome is then UNKNOWN), -KC_ECLOSED when the store is closing.
 * store_submit and store_lease_keepalive work on every member (followers forward them to the
 * leader over the peer port); lease time-to-live, membership changes and leadership transfer
 * are answered by the leader only (-KC_EUNAVAIL elsewhere, naming the leader in the error
 * message; store_status has its URLs). Reads and watches are served by every member. */
#ifndef KC_STORE_STORE_H
#define KC_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "store/mvcc.h"
#include "store/watch.h"

struct loop;
struct store;
struct tls_server_config;
struct tls_client_config;
struct http_req;

#define STORE_NAME_MAX 64
#define STORE_URL_MAX 256
#define STORE_PROMOTE_LAG 64

/* A founding member: name and peer URL ("http://10.0.0.1:2380" or "https://..."). */
struct store_peer {
	const char *name;
	const char *peer_url;
};

struct store_config {
	const char *data_dir;        /* DATA: files live in DATA/store/ (created): mvcc.db, raft.db;
				      * snapshots/ while this member sends a Raft snapshot,
				      * mvcc.db.recv while it receives one */
	const char *name;            /* this member's name, unique in the cluster; required */
	const char *cluster_token;   /* mixed into cluster and member ids; NULL = the one recorded in
				      * DATA/store/cluster (store_restore, or learned when joining),
				      * else "kc" */
	/* Founding members, this one included (matched by name). n_initial == 0: a single-member
	 * cluster. Only read when the data directory is new; afterwards membership comes from the
	 * log. */
	const struct store_peer *initial;
	size_t n_initial;
	bool join_existing;          /* new data dir joins a running cluster (added as a learner by
				      * store_member_add on the leader) instead of founding one */
	/* With join_existing on a new data dir: the peer URL of a running member, from which
	 * store_open learns the member directory (GET /raft/members, retried for a few seconds).
	 * This member must have been added already (store_member_add): -KC_ENOTFOUND otherwise. */
	const char *join_url;
	/* The leader promotes a learner by itself once its log is within STORE_PROMOTE_LAG entries
	 * of the leader's and it answers (etcd needs a manual promote); true turns that off. */
	bool manual_promote;
	const char *peer_listen_addr; /* numeric address for the peer server; NULL = "::" */
	uint16_t peer_listen_port;   /* 0 = ephemeral (see store_peer_port); no server when
				      * n_initial == 0 and !join_existing and peer_listen_port == 0 */
	const char *advertise_peer_url;   /* this member's peer URL as others reach it */
	const char *advertise_client_url; /* shown in member lists; may be NULL */
	/* TLS on the peer port (borrowed; must outlive the store); NULL = plain HTTP. */
	struct tls_server_config *peer_tls_server;
	struct tls_client_config *peer_tls_client;
	/* With TLS: the O value a peer's client certificate must carry (NULL: any verified). */
	const char *peer_require_group;
	/* Requests to the peer port under /kc/ (see peer.h); runs on the store thread. */
	void (*peer_extra)(void *arg, struct http_req *req);
	void *peer_extra_arg;
	/* Runs once, on the store thread, when this member learns that it was removed from the
	 * cluster (it applied its own removal, or a peer answered so). The store has then
	 * stopped its Raft: every request fails with "removed". May be NULL. */
	void (*on_removed)(void *arg);
	void *on_removed_arg;
	unsigned tick_ms;            /* 0 = 100 */
	unsigned election_ticks;     /* 0 = 10 */
	unsigned heartbeat_ticks;    /* 0 = 1 */
	unsigned request_timeout_ms; /* 0 = 7000 */
	int64_t compact_keep_revisions; /* auto-compaction on the leader; 0 with keep_ms 0 = off */
	uint64_t compact_keep_ms;
	uint64_t quota_bytes;        /* 0 = none; see struct mvcc_options */
	uint64_t snapshot_entries;   /* applied entries between Raft snapshots; 0 = 20000 */
	uint64_t snapshot_keep;      /* log entries kept behind a snapshot; 0 = 10000 */
	uint64_t watch_progress_ms;  /* progress_notify period; 0 = 600000 (etcd's 10 min) */
	enum mvcc_sync mvcc_sync;    /* default MVCC_SYNC_FULL */
	bool raft_sync_off;          /* tests only: raft.db with synchronous=OFF */
};

/* Opens (or creates) the databases, recovers Raft from raft.db, opens the peer server and
 * starts the store thread. Returns 0 with *out (close with store_close), or a negative code
 * with details in err (foreign/corrupt databases: MVCC_EFOREIGN / MVCC_ECORRUPT). */
int store_open(const struct store_config *cfg, struct store **out, struct kc_err *err);
/* Stops the thread (pending requests complete with -KC_ECLOSED, watches get their final NULL
 * callback; these completions are posted, so their reply loops must still run afterwards to
 * release them), closes the databases and frees everything. Everything written is durable; to
 * the other members this looks like a crash (a leader should first call
 * store_transfer_leadership). The caller must not issue new requests concurrently; it may call
 * this from a reply loop's callback. NULL is a no-op. */
void store_close(struct store *s);

/* Immutable after open; any thread. */
uint64_t store_member_id(const struct store *s);
uint64_t store_cluster_id(const struct store *s);
uint16_t store_peer_port(const struct store *s); /* bound peer port, 0 when none */

/* ---- writes ---------------------------------------------------------------------------------
 * cmd/len: one command encoded with mvcc_cmd_encode_* (copied; the caller keeps its buffer).
 * Completion: rc == 0 and res != NULL when the command was applied; res->err.code < 0 means it
 * was rejected deterministically (nothing changed: lease not found, compacted revision...),
 * res->revision is the header revision; a command that does not decode is also rejected there,
 * after going through the log, so encode with mvcc_cmd_encode_*, which validates. rc < 0 with
 * res == NULL otherwise (see the header comment; -KC_ETOOBIG over RAFT_MAX_ENTRY_BYTES). After a
 * leader change a proposal known to be lost is proposed again automatically (within its
 * deadline); -KC_ETIMEDOUT means the outcome is unknown. Lease grants need a caller-chosen
 * id > 0: use store_lease_id_new(). */
typedef void (*store_result_cb)(void *arg, int rc, struct mvcc_result *res,
				const struct kc_err *err);
void store_submit(struct store *s, struct loop *reply_loop, const void *cmd, size_t len,
		  store_result_cb cb, void *arg);

/* A fresh random lease id (> 0, < 2^62). Any thread. */
int64_t store_lease_id_new(void);

/* ---- reads ----------------------------------------------------------------------------------
 * req and the bytes it points to are copied before store_range returns. linearizable: the read
 * observes every write completed before the call (ReadIndex through the leader); else a
 * serializable read of this member's applied state. Completion: rc == 0 with resp (borrowed,
 * see the top), or rc < 0 (-MVCC_ECOMPACTED, -MVCC_EFUTURE_REV, -MVCC_EEMPTY_KEY, common ones)
 * with resp == NULL. The read itself runs on the reply loop's thread, on a pooled SQLite
 * reader (WAL: it never blocks the store thread); serializable reads do not visit the store
 * thread at all. */
typedef void (*store_range_cb)(void *arg, int rc, struct mvcc_range_resp *resp,
			       const struct kc_err *err);
void store_range(struct store *s, struct loop *reply_loop, const struct mvcc_range_req *req,
		 bool linearizable, store_range_cb cb, void *arg);

/* ---- watches --------------------------------------------------------------------------------
 * Creates a watcher (req copied) and returns its id (> 0, unique per store) in *id. Each
 * response is delivered to event_cb on reply_loop, borrowed (see the top), one at a time: the
 * next is produced only after the previous callback returned (flow control). A failed creation
 * (e.g. compacted start revision) arrives as a WATCH_RESP_CANCELED response. After a CANCELED
 * response or store_watch_cancel, event_cb is called exactly once more with resp == NULL: the
 * last call, after which arg may be released. cancel_code -KC_EUNAVAIL means the member replaced
 * its database with a snapshot from the leader: watch again from resume_revision or the last
 * revision seen + 1. */
typedef void (*store_watch_cb)(void *arg, struct watch_resp *resp);
void store_watch(struct store *s, struct loop *reply_loop, const struct watch_create_req *req,
		 store_watch_cb event_cb, void *arg, int64_t *id);
/* Cancels watcher id (unknown ids are ignored). Any thread; see the final NULL callback. */
void store_watch_cancel(struct store *s, int64_t id);
/* Asks for a progress notification on watcher id (etcd RequestProgress). */
void store_watch_progress(struct store *s, int64_t id);

/* ---- leases (grant / revoke: store_submit with mvcc_cmd_encode_lease_*) ---------------------
 * Keepalive and time-to-live are answered by the leader from its in-memory expiry view
 * (followers forward both to it). */
typedef void (*store_lease_cb)(void *arg, int rc, const struct mvcc_lease_info *info,
			       const struct mvcc_range_resp *keys, const struct kc_err *err);
/* Completion: info->ttl = granted TTL, info->remaining = the renewed remaining TTL; keys NULL.
 * rc -MVCC_ELEASE_NOT_FOUND for an unknown lease. */
void store_lease_keepalive(struct store *s, struct loop *reply_loop, int64_t id,
			   store_lease_cb cb, void *arg);
/* Completion: info (borrowed); keys (borrowed) when with_keys, else NULL. */
void store_lease_timetolive(struct store *s, struct loop *reply_loop, int64_t id, bool with_keys,
			    store_lease_cb cb, void *arg);
/* Completion: the leases as an array (borrowed), n of them. Any member; 'remaining' is only
 * meaningful on the leader. */
typedef void (*store_lease_list_cb)(void *arg, int rc, const struct mvcc_lease_info *leases,
				    size_t n, const struct kc_err *err);
void store_lease_list(struct store *s, struct loop *reply_loop, store_lease_list_cb cb,
		      void *arg);

/* ---- status and membership ------------------------------------------------------------------ */
struct store_status {
	uint64_t member_id;
	uint64_t cluster_id;
	uint64_t leader_id;       /* 0 = none known */
	uint64_t raft_term;
	uint64_t raft_index;      /* last log index */
	uint64_t commit_index;
	uint64_t applied_index;
	int64_t revision;
	int64_t compact_revision;
	uint64_t db_size;
	uint64_t db_size_in_use;
	bool is_learner;
	char leader_peer_url[STORE_URL_MAX];   /* "" when unknown */
	char leader_client_url[STORE_URL_MAX]; /* "" when unknown */
};
typedef void (*store_status_cb)(void *arg, int rc, const struct store_status *st,
				const struct kc_err *err);
void store_status(struct store *s, struct loop *reply_loop, store_status_cb cb, void *arg);

struct store_member {
	uint64_t id;
	char name[STORE_NAME_MAX];      /* "" for a member added but not started yet */
	char peer_url[STORE_URL_MAX];
	char client_url[STORE_URL_MAX];
	bool learner;
};
/* Completion: the configuration (borrowed array, n members) after the change, or as it stands
 * for store_member_list; *changed (borrowed) is the member added / removed / promoted (NULL for
 * a list). Changes are leader only (-KC_EUNAVAIL elsewhere), one at a time (-KC_EAGAIN while
 * another is uncommitted) and complete once the change entry is applied. */
typedef void (*store_member_cb)(void *arg, int rc, const struct store_member *members, size_t n,
				const struct store_member *changed, const struct kc_err *err);
void store_member_list(struct store *s, struct loop *reply_loop, store_member_cb cb, void *arg);
/* Adds a learner reachable at peer_url (copied); its id is derived like store_open's from the
 * name, so the new member must start with the same name and cluster_token. */
void store_member_add(struct store *s, struct loop *reply_loop, const char *name,
		      const char *peer_url, store_member_cb cb, void *arg);
void store_member_remove(struct store *s, struct loop *reply_loop, uint64_t id,
			 store_member_cb cb, void *arg);
void store_member_promote(struct store *s, struct loop *reply_loop, uint64_t id,
			  store_member_cb cb, void *arg);

/* Leader only: hands leadership to voter 'target' (0 = the most caught-up other voter) and
 * completes once this member sees the target lead: rc 0, -KC_EUNAVAIL (not leader, no other
 * voter), -KC_EINVAL (target not a voter), -KC_ETIMEDOUT (not done within two election
 * timeouts). A graceful stop of a leader is this, then store_close (store_close alone is
 * abrupt: the others elect a leader after an election timeout). */
typedef void (*store_done_cb)(void *arg, int rc, const struct kc_err *err);
void store_transfer_leadership(struct store *s, struct loop *reply_loop, uint64_t target,
			       store_done_cb cb, void *arg);

/* Writes a consistent copy of this member's MVCC database (its applied state) to a new file
 * under DATA/store and returns its path in *path (heap; the caller unlinks and frees it).
 * Blocking, on a pooled reader: it never stalls the store thread or writers. Any thread but a
 * reply loop's callback. -KC_EUNAVAIL while a snapshot from the leader is being installed. */
int store_snapshot_file(struct store *s, char **path, struct kc_err *err);

/* Makes data_dir a new member's data directory whose MVCC state is the database at db_path
 * (moved there; a file written by store_snapshot_file or a copy of one): a new cluster, named
 * by cluster_token (recorded in DATA/store/cluster, which store_open reads when its config
 * names none), with this member's id derived from name; the revision, keys and leases are
 * kept and the applied index starts over. The first start then founds the cluster as usual
 * (single member, or from the initial members). Refuses an existing DATA/store
 * (-KC_EEXIST) and a database that is not a sound kc store (MVCC_ECORRUPT, with the reason). */
int store_restore(const char *data_dir, const char *name, const char *cluster_token,
		  const char *db_path, int64_t *revision, struct kc_err *err);

/* The member id store_open derives for 'name' under 'cluster_token' (NULL = "kc"). */
uint64_t store_member_id_for(const char *cluster_token, const char *name);

#endif
