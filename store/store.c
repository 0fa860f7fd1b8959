/* DESIGN: one store member. The store thread owns a loop, the struct raft (state machine of
 * consensus), raft.db (struct raft_sqlite), mvcc.db (struct mvcc, write connection), the watch
 * hub and the peer transport (server and client on the same loop). Other threads reach it only
 * through 'door': a mutex-guarded loop_post that refuses once the store is closing, so nothing
 * is ever posted to a freed loop. The door (refcounted, it outlives the store while requests
 * hold it) also pools the mvcc_readers on which reads run on the callers' reply loops.
 *
 * The Ready loop (process_ready), run once per loop iteration after anything touched raft:
 * send rd.msgs, persist (one raft.db transaction), send rd.msgs_after_persist, apply the
 * committed NORMAL entries with ONE mvcc_apply_batch, publish the events to the hub, complete
 * proposals keyed by (index, term), release ReadIndex reads, raft_advance. Group commit falls
 * out of the loop: requests that arrive while a Ready is being persisted queue in the loop's
 * message queue and are all proposed before the next Ready.
 *
 * Requests: each is one heap struct req that travels caller -> store thread -> reply loop and
 * is freed there after its callback. Invariants: a req is in at most one of the lists
 * 'waiting' (no leader yet, or to be proposed again), 'proposals' ((index, term) known),
 * 'reads' (ReadIndex pending), 'forwarding' (at the leader), 'transfers'; every req in a list
 * has a deadline and is completed exactly once (complete() also cuts a pending forward).
 *
 * Followers forward proposals to the leader (POST /raft/propose on its peer port), which answers
 * the entry's (index, term); the follower then waits to apply that entry itself (mvcc is
 * deterministic, so its result is the leader's); results applied before the answer arrives are
 * kept a while in 'recent'. Lease keepalives are forwarded the same way (/raft/keepalive), as
 * is time-to-live (/raft/ttl: only the leader knows when a lease expires), and membership
 * changes (/raft/conf: the leader runs the checks and proposes; a refusal comes back with its
 * code and message).
 * Linearizable reads work on every member (raft forwards ReadIndex).
 *
 * Durability: raft.db is the durable record (synchronous=FULL: an entry is on disk before it
 * is acknowledged or counted). mvcc.db may run with synchronous=NORMAL (storesrv does): a crash
 * of the process loses nothing (committed WAL frames are in the OS), a power loss may take it
 * back to an earlier applied index, from which the log replays (mvcc skips entries at or below
 * its applied index, so replay is idempotent and revisions come back identical). The log is
 * only dropped below an applied index made durable first (mvcc_sync), so the replay never
 * lacks an entry. That saves one fsync per Ready.
 *
 * Snapshots: raft.db records a snapshot point (index, term, conf) about every snapshot_entries
 * applied entries, once mvcc.db is durable there (compact_log), and drops the log below it but
 * snapshot_keep entries. A follower that needs older entries gets the whole mvcc.db as a file,
 * beside the Raft messages (etcd's way; never whole in memory, any size; store/snapshot.h):
 *  - Leader: raft's snapshot op (make_snapshot) answers the descriptor of the current snapshot
 *    file (size, SHA-256, name) when its data covers the snapshot index; otherwise it answers
 *    -KC_EAGAIN (raft asks again on a later heartbeat) and the snap_maker's worker thread
 *    copies the database (door_snapshot, VACUUM INTO, off this thread) and hashes the copy. The
 *    copy starts once the applied index is >= the snapshot index, so the data may be newer
 *    than the index: mvcc skips the entries it already holds when they are replayed. The peer
 *    server streams the file by name (GET /raft/snapshot/NAME, read from disk in chunks).
 *  - Follower: a SNAPSHOT message that raft would install is held back while the snap_fetcher's
 *    worker thread downloads the file into mvcc.db.recv (bounded by the descriptor's size,
 *    SHA-256 checked, fsynced); then the message is stepped into raft. A failed download drops
 *    it (the leader sends the snapshot again after snapshot_timeout_ticks).
 *  - The receiver installs it BEFORE persisting the Ready: close mvcc.db, rename mvcc.db.recv
 *    over it, reopen (adopting it), reset the readers, end every watcher (they must re-watch).
 *  Snapshot files and a partial download are removed at open and at close. */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/fs.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/vec.h"
#include "net/loop.h"
#include "store/peer.h"
#include "store/raft/raft.h"
#include "store/raft_sqlite.h"
#include "store/snapshot.h"
#include "store/walckpt.h"

#define READ_RETRY_MS  1000u
/* WAL pages (4 KiB) from which the checkpoint thread copies a database's WAL back, and from
 * which the store thread does it itself because the background could not keep up. Both
 * databases append (mvcc.db by revision), so a page is written about once whatever the
 * interval; a short one keeps each checkpoint's fsync short (16 MiB took ~100 ms and stalled
 * the Raft log's fsync on every member of a loopback cluster). */
#define MVCC_WAL_BG_PAGES    1000
#define MVCC_WAL_FORCE_PAGES 40000
#define RAFT_WAL_BG_PAGES    1000
#define RAFT_WAL_FORCE_PAGES 20000
#define RECENT_RESULTS 256u /* applied results kept for forwarded proposals answered late */
#define LOG_DROP_STEP  2000u /* log entries compact_log deletes per tick at most */

/* ---- the door ---- */

#define READER_POOL_MAX 16

/* The door also keeps the pool of mvcc_readers that serve reads on the callers' reply loops.
 * Invariants (under mu): a reader is either idle here or checked out by exactly one thread
 * ('busy' counts those); 'm' is not closed or replaced while busy > 0. */
struct door {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool closed; /* no posts, no reads */
	struct loop *loop;
	atomic_int refs;
	struct mvcc *m; /* NULL while a snapshot is being installed */
	unsigned busy;
	unsigned gen; /* readers of an older generation are closed on return */
	/* Set by the store thread while this member is the leader and the only voter, and has
	 * applied an entry of its term: then every acknowledged write is applied (a write is
	 * acknowledged only after it is applied) and no other member can commit one, so a
	 * linearizable read may run on a reader at once, without a ReadIndex round through the
	 * store thread (which may be in an fsync). Cleared before a configuration change is
	 * proposed, and whenever the conditions no longer hold. */
	atomic_bool sole_voter_reads;
	struct mvcc_reader *idle[READER_POOL_MAX];
	unsigned idle_gen[READER_POOL_MAX];
	size_t nidle;
};

static bool door_post(struct door *d, struct loop_msg *m)
{
	pthread_mutex_lock(&d->mu);
	bool ok = !d->closed;
	if (ok)
		loop_post(d->loop, m);
	pthread_mutex_unlock(&d->mu);
	return ok;
}

static void door_unref(struct door *d)
{
	if (atomic_fetch_sub(&d->refs, 1) == 1) {
		pthread_cond_destroy(&d->cv);
		pthread_mutex_destroy(&d->mu);
		free(d);
	}
}

/* Any thread: one read on a pooled reader. *applied gets the index the read saw. */
static int door_read(struct door *d, const struct mvcc_range_req *req, struct mvcc_range_resp *out,
		     uint64_t *applied, struct kc_err *err)
{
	struct mvcc_reader *rd = NULL;
	pthread_mutex_lock(&d->mu);
	if (d->closed || !d->m) {
		pthread_mutex_unlock(&d->mu);
		return kc_err_set(err, d->closed ? -KC_ECLOSED : -KC_EUNAVAIL,
				  d->closed ? "store is closed"
					    : "member is installing a snapshot; retry");
	}
	d->busy++;
	unsigned gen = d->gen;
	while (d->nidle > 0 && !rd) {
		d->nidle--;
		if (d->idle_gen[d->nidle] == gen)
			rd = d->idle[d->nidle];
		else
			mvcc_reader_close(d->idle[d->nidle]);
	}
	struct mvcc *m = d->m;
	pthread_mutex_unlock(&d->mu);
	int rc = 0;
	if (!rd)
		rc = mvcc_reader_open(m, &rd, err);
	if (rc == 0)
		rc = mvcc_reader_range(rd, req, out, applied, err);
	pthread_mutex_lock(&d->mu);
	if (rd && !d->closed && gen == d->gen && d->nidle < READER_POOL_MAX && rc != -KC_EIO) {
		d->idle_gen[d->nidle] = gen;
		d->idle[d->nidle++] = rd;
		rd = NULL;
	}
	d->busy--;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	mvcc_reader_close(rd);
	return rc;
}

/* Any thread: a consistent copy of the database at dest, on a reader of the current generation
 * (the database is not replaced while it runs). */
static int door_snapshot(struct door *d, const char *dest, struct kc_err *err)
{
	struct mvcc_reader *rd = NULL;
	pthread_mutex_lock(&d->mu);
	if (d->closed || !d->m) {
		pthread_mutex_unlock(&d->mu);
		return kc_err_set(err, d->closed ? -KC_ECLOSED : -KC_EUNAVAIL,
				  d->closed ? "store is closed"
					    : "member is installing a snapshot; retry");
	}
	d->busy++;
	struct mvcc *m = d->m;
	pthread_mutex_unlock(&d->mu);
	int rc = mvcc_reader_open(m, &rd, err);
	if (rc == 0)
		rc = mvcc_reader_snapshot(rd, dest, err);
	mvcc_reader_close(rd);
	pthread_mutex_lock(&d->mu);
	d->busy--;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

/* Store thread: waits until no reader is checked out, closes the idle ones and sets the
 * database readers open from now on (NULL: none, reads answer -KC_EUNAVAIL). */
static void door_readers_reset(struct door *d, struct mvcc *m)
{
	pthread_mutex_lock(&d->mu);
	d->gen++;
	d->m = NULL;
	while (d->busy > 0)
		pthread_cond_wait(&d->cv, &d->mu);
	while (d->nidle > 0)
		mvcc_reader_close(d->idle[--d->nidle]);
	d->m = m;
	pthread_mutex_unlock(&d->mu);
}

/* ---- requests ---- */

enum req_kind {
	R_SUBMIT = 1,
	R_RANGE,
	R_KEEPALIVE,
	R_TTL,
	R_LEASES,
	R_STATUS,
	R_MEMBERS,
	R_MEMBER_ADD,
	R_MEMBER_REMOVE,
	R_MEMBER_PROMOTE,
	R_WATCH_CANCEL,
	R_WATCH_PROGRESS,
	R_TRANSFER,
};

struct fwd_ctx;

struct req {
	struct loop_msg msg;
	struct kc_list link;
	struct fwd_ctx *fwd; /* forwarded to the leader, answer pending */
	struct store *s;
	enum req_kind kind;
	struct loop *reply;
	union {
		store_result_cb submit;
		store_range_cb range;
		store_lease_cb lease;
		store_lease_list_cb leases;
		store_status_cb status;
		store_member_cb member;
		store_done_cb done;
	} cb;
	void *arg;
	int rc;
	struct kc_err err;
	uint64_t deadline_ms;
	/* R_SUBMIT */
	uint8_t *data;
	size_t len;
	uint64_t index, term;
	bool local; /* proposed by this member as leader (not forwarded) */
	struct mvcc_result res;
	/* R_RANGE */
	struct mvcc_range_req rr;
	uint8_t *buf;
	bool linearizable;
	uint64_t read_ctx, read_index, read_sent_ms;
	bool read_ready;
	bool need_read;	   /* deliver() reads on the reply loop's thread */
	struct door *door; /* R_RANGE: a reference, for the reader pool */
	struct mvcc_range_resp rresp;
	/* leases */
	int64_t lease_id;
	bool with_keys;
	struct mvcc_lease_info info;
	struct mvcc_range_resp keys;
	struct mvcc_lease_info *list;
	size_t nlist;
	/* R_STATUS */
	struct store_status st;
	/* members */
	char name[STORE_NAME_MAX];
	char url[STORE_URL_MAX];
	uint64_t member_id;
	struct store_member *members;
	size_t nmembers;
	struct store_member changed;
	bool has_changed;
	/* watch ops */
	int64_t watch_id;
};

/* A watcher as the store thread and its reply loop share it: the resp travels to the reply
 * loop (in_flight) and the message comes back as the acknowledgment. */
struct wreq {
	struct loop_msg msg;
	struct kc_list link;	   /* store->watches */
	struct kc_list ready_link; /* store->watch_ready */
	struct door *door;
	struct store *s;
	struct loop *reply;
	store_watch_cb cb;
	void *arg;
	int64_t id;
	struct watch_create_req req;
	uint8_t *buf;
	struct watch *w;
	struct watch_resp resp;
	bool final;	    /* the message carries the last (NULL) callback */
	bool in_flight;	    /* store thread: a response is at the reply loop */
	bool cancel;	    /* store thread: cancellation asked */
	bool canceled_sent; /* store thread: a CANCELED response went out */
	/* One reference for the store thread's registration (dropped when it unlinks w for good),
	 * one for the reply side (dropped after the final callback): the last one frees. */
	atomic_int refs;
};

/* A forwarded proposal's link to its req, cut when the req completes first. */
struct fwd_ctx {
	struct store *s;
	struct req *r;
};

struct recent {
	uint64_t index, term;
	struct mvcc_result res;
};

struct store {
	/* immutable after open */
	char *dir, *name, *token, *adv_peer, *adv_client;
	uint64_t id, cluster_id;
	unsigned tick_ms, election_ticks, request_timeout_ms;
	uint64_t snapshot_entries, snapshot_keep, progress_ms;
	/* Log compaction (compact_log). snapshot_every: snapshot_entries give or take a quarter,
	 * by member, so that members do not all cut their logs in the same instant. The
	 * checkpoint thread's job 'sync_job' fsyncs mvcc.db and then publishes sync_target as
	 * mvcc_synced: the applied index known durable there. */
	uint64_t snapshot_every;
	int sync_job;
	_Atomic uint64_t sync_target, mvcc_synced;
	atomic_bool sync_busy;
	struct mvcc_options mvcc_opts; /* path owned (mvcc_path) */
	char *mvcc_path;
	struct door *door;
	pthread_t thread;
	bool thread_started;
	atomic_llong next_watch_id;
	uint16_t peer_port;
	/* store thread */
	struct loop *loop;
	struct mvcc *mvcc;
	struct raft_sqlite *rs;
	struct wal_ckpt *ckpt; /* WAL checkpoints of both databases, off this thread */
	struct snap_maker *snaps;	   /* snapshot files for followers, made off this thread */
	struct snap_fetcher *fetcher;	   /* the download of a snapshot file, off this thread */
	char *recv_path;		   /* mvcc.db.recv: the downloaded file */
	struct raft_msg recv_msg;	   /* the SNAPSHOT message held back while downloading */
	char recv_name[SNAP_NAME_MAX + 1]; /* the file at recv_path, verified; "" when none */
	struct wal_watch mvcc_watch, raft_watch;
	char *raft_path;
	struct raft *raft;
	struct watch_hub *hub;
	struct peer_transport *peer;
	struct loop_timer tick_timer, kick_timer;
	struct kc_list waiting, proposals, reads, watches, watch_ready, forwarding, transfers;
	struct recent recent[RECENT_RESULTS]; /* by index % RECENT_RESULTS, while forwarding */
	struct kc_vec dir_members;	      /* struct store_member: the member directory */
	struct mvcc_events events;
	struct mvcc_compact_policy policy;
	bool policy_on;
	uint64_t lead;
	enum raft_role role;
	uint64_t applied;
	uint64_t read_seq;
	uint64_t last_lease_check_ms, last_policy_ms, last_progress_ms;
	bool compact_pending;
	bool manual_promote;
	bool removed, removed_pending; /* this member was removed from the cluster */
	void (*on_removed)(void *arg);
	void *on_removed_arg;
	bool closing;
	int broken; /* sticky storage failure: every request fails with it */
	struct kc_err broken_err;
};

static void kick(struct store *s);

/* FNV-1a 64, folded to 62 bits and never 0: raft wants ids > 0 and JSON wants int64. */
static uint64_t hash_id(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = a; p && *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ '/') * 1099511628211ull;
	for (const char *p = b; p && *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h &= (1ull << 62) - 1;
	return h ? h : 1;
}

uint64_t store_member_id_for(const char *cluster_token, const char *name)
{
	return hash_id(cluster_token ? cluster_token : "kc", name);
}

int64_t store_lease_id_new(void)
{
	uint64_t v = 0;
	while (v == 0) {
		if (kc_random_bytes(&v, sizeof v) < 0)
			kc_fatal("getrandom failed");
		v &= (1ull << 62) - 1;
	}
	return (int64_t)v;
}

uint64_t store_member_id(const struct store *s)
{
	return s->id;
}

uint64_t store_cluster_id(const struct store *s)
{
	return s->cluster_id;
}

uint16_t store_peer_port(const struct store *s)
{
	return s->peer_port;
}

/* ---- member directory (store thread) ---- */

static struct store_member *dir_find(struct store *s, uint64_t id)
{
	for (size_t i = 0; i < s->dir_members.len; i++) {
		struct store_member *m = kc_vec_at(&s->dir_members, i);
		if (m->id == id)
			return m;
	}
	return NULL;
}

static void dir_set(void *arg, uint64_t id, const char *name, const char *peer_url,
		    const char *client_url)
{
	struct store *s = arg;
	struct store_member *m = dir_find(s, id);
	if (!m)
		m = kc_vec_push(&s->dir_members, NULL);
	m->id = id;
	snprintf(m->name, sizeof m->name, "%s", name ? name : "");
	snprintf(m->peer_url, sizeof m->peer_url, "%s", peer_url ? peer_url : "");
	snprintf(m->client_url, sizeof m->client_url, "%s", client_url ? client_url : "");
	if (s->peer && peer_url && *peer_url)
		peer_transport_set_peer(s->peer, id, peer_url);
}

static void dir_del(struct store *s, uint64_t id)
{
	for (size_t i = 0; i < s->dir_members.len; i++) {
		struct store_member *m = kc_vec_at(&s->dir_members, i);
		if (m->id == id) {
			kc_vec_remove(&s->dir_members, i);
			break;
		}
	}
	if (s->peer)
		peer_transport_remove_peer(s->peer, id);
}

/* GET /raft/members (store thread): the directory, in the configuration's order. */
static void members_lines(void *arg, struct kc_str *out)
{
	struct store *s = arg;
	struct raft_status st;
	raft_status(s->raft, &st);
	kc_str_addf(out, "cluster %s\n", s->token);
	for (size_t i = 0; i < st.conf.n; i++) {
		const struct store_member *m = dir_find(s, st.conf.members[i].id);
		const char *pu = m && m->peer_url[0] ? m->peer_url : "-";
		if (st.conf.members[i].id == s->id && s->adv_peer[0])
			pu = s->adv_peer;
		kc_str_addf(out, "%016" PRIx64 " %s %s %s %s\n", st.conf.members[i].id,
			    m && m->name[0] ? m->name : "-", pu,
			    m && m->client_url[0] ? m->client_url : "-",
			    st.conf.members[i].role == RAFT_LEARNER ? "learner" : "voter");
	}
}

/* Context of a CONF entry: "name\npeer_url\nclient_url". */
static void ctx_parse(const uint8_t *c, size_t n, char *name, char *peer, char *client)
{
	char tmp[RAFT_MAX_CONF_CONTEXT + 1];
	memcpy(tmp, c, n);
	tmp[n] = 0;
	char *f[3] = {tmp, NULL, NULL};
	for (int i = 1; i < 3 && f[i - 1]; i++) {
		char *nl = strchr(f[i - 1], '\n');
		if (nl) {
			*nl = 0;
			f[i] = nl + 1;
		}
	}
	snprintf(name, STORE_NAME_MAX, "%s", f[0]);
	snprintf(peer, STORE_URL_MAX, "%s", f[1] ? f[1] : "");
	snprintf(client, STORE_URL_MAX, "%s", f[2] ? f[2] : "");
}

/* ---- completion ---- */

static void req_free(struct req *r)
{
	if (r->door)
		door_unref(r->door);
	free(r->data);
	free(r->buf);
	mvcc_result_free(&r->res);
	mvcc_range_resp_free(&r->rresp);
	mvcc_range_resp_free(&r->keys);
	free(r->list);
	free(r->members);
	free(r);
}

static void deliver(struct loop *l, struct loop_msg *m)
{
	(void)l;
	struct req *r = m->data;
	const struct kc_err *e = &r->err;
	bool ok = r->rc == 0;
	switch (r->kind) {
	case R_SUBMIT:
		r->cb.submit(r->arg, r->rc, ok ? &r->res : NULL, e);
		break;
	case R_RANGE:
		if (ok && r->need_read) {
			/* The store thread posted this only once the read index was applied (a
			 * committed batch, visible to every reader opened or reading after it). The
			 * reader's applied index may be lower when the last entries were NOOP or CONF,
			 * which do not change the data, so it is not compared. */
			r->rc = door_read(r->door, &r->rr, &r->rresp, NULL, &r->err);
			ok = r->rc == 0;
		}
		r->cb.range(r->arg, r->rc, ok ? &r->rresp : NULL, e);
		break;
	case R_KEEPALIVE:
	case R_TTL:
		r->cb.lease(r->arg, r->rc, ok ? &r->info : NULL,
			    ok && r->with_keys ? &r->keys : NULL, e);
		break;
	case R_LEASES:
		r->cb.leases(r->arg, r->rc, r->list, r->nlist, e);
		break;
	case R_STATUS:
		r->cb.status(r->arg, r->rc, ok ? &r->st : NULL, e);
		break;
	case R_MEMBERS:
	case R_MEMBER_ADD:
	case R_MEMBER_REMOVE:
	case R_MEMBER_PROMOTE:
		r->cb.member(r->arg, r->rc, r->members, r->nmembers,
			     r->has_changed ? &r->changed : NULL, e);
		break;
	case R_TRANSFER:
		r->cb.done(r->arg, r->rc, e);
		break;
	case R_WATCH_CANCEL:
	case R_WATCH_PROGRESS:
		break;
	}
	req_free(r);
}

/* Store thread (or the closing thread): finishes r and hands it to its reply loop. */
static void complete(struct req *r, int rc)
{
	kc_list_del(&r->link);
	if (r->fwd) {
		r->fwd->r = NULL;
		r->fwd = NULL;
	}
	r->rc = rc;
	if (rc < 0 && r->err.code == 0)
		kc_err_set(&r->err, rc, "%s", mvcc_strerror(rc));
	if (!r->reply) { /* fire-and-forget (watch ops) */
		req_free(r);
		return;
	}
	loop_msg_init(&r->msg, deliver, r);
	loop_post(r->reply, &r->msg);
}

static void fail_list(struct kc_list *head, int rc, const char *why)
{
	struct kc_list *it;
	while ((it = kc_list_first(head))) {
		struct req *r = kc_container_of(it, struct req, link);
		kc_err_set(&r->err, rc, "%s", why);
		complete(r, rc);
	}
}

static struct req *req_new(struct store *s, enum req_kind kind, struct loop *reply, void *arg)
{
	struct req *r = xcalloc(1, sizeof *r);
	r->s = s;
	r->kind = kind;
	r->reply = reply;
	r->arg = arg;
	kc_list_init(&r->link);
	return r;
}

static void dispatch(struct store *s, struct req *r);

static void on_request(struct loop *l, struct loop_msg *m)
{
	(void)l;
	struct req *r = m->data;
	dispatch(r->s, r);
}

/* Any thread: carries r to the store thread, or completes it with -KC_ECLOSED. */
static void send_req(struct store *s, struct req *r)
{
	loop_msg_init(&r->msg, on_request, r);
	if (!door_post(s->door, &r->msg)) {
		kc_err_set(&r->err, -KC_ECLOSED, "store is closed");
		complete(r, -KC_ECLOSED);
	}
}

/* ---- the store thread: dispatching ---- */

static uint64_t now_ms(struct store *s)
{
	return loop_now_ms(s->loop);
}

static uint64_t election_ms(struct store *s)
{
	return (uint64_t)s->tick_ms * s->election_ticks;
}

static void not_leader(struct store *s, struct req *r)
{
	struct store_member *m = dir_find(s, s->lead);
	kc_err_set(&r->err, -KC_EUNAVAIL, "not the leader; leader is %016" PRIx64 " (%s %s)",
		   s->lead, m ? m->name : "?",
		   m && m->client_url[0] ? m->client_url
		   : m			 ? m->peer_url
					 : "?");
	complete(r, -KC_EUNAVAIL);
}

static void wait_leader(struct store *s, struct req *r)
{
	if (!r->deadline_ms || r->deadline_ms > now_ms(s) + 2 * election_ms(s))
		r->deadline_ms = now_ms(s) + 2 * election_ms(s);
	kc_list_del(&r->link);
	kc_list_push_back(&s->waiting, &r->link);
}

static void members_fill(struct store *s, struct req *r)
{
	struct raft_status st;
	raft_status(s->raft, &st);
	free(r->members);
	r->members = xcalloc(st.conf.n ? st.conf.n : 1, sizeof *r->members);
	r->nmembers = st.conf.n;
	for (size_t i = 0; i < st.conf.n; i++) {
		struct store_member *d = dir_find(s, st.conf.members[i].id);
		if (d)
			r->members[i] = *d;
		r->members[i].id = st.conf.members[i].id;
		r->members[i].learner = st.conf.members[i].role == RAFT_LEARNER;
	}
}

/* The read index is applied: the reply loop reads on a pooled reader. */
static void do_range(struct store *s, struct req *r)
{
	(void)s;
	r->need_read = true;
	complete(r, 0);
}

static void do_status(struct store *s, struct req *r)
{
	struct raft_status rst;
	struct mvcc_status ms;
	raft_status(s->raft, &rst);
	int rc = mvcc_status(s->mvcc, &ms, &r->err);
	if (rc < 0) {
		complete(r, rc);
		return;
	}
	struct store_status *st = &r->st;
	st->member_id = s->id;
	st->cluster_id = s->cluster_id;
	st->leader_id = rst.lead;
	st->raft_term = rst.term;
	st->raft_index = rst.last_index;
	st->commit_index = rst.commit;
	st->applied_index = s->applied;
	st->revision = ms.revision;
	st->compact_revision = ms.compact_revision;
	st->db_size = ms.db_size;
	st->db_size_in_use = ms.db_size_in_use;
	st->is_learner = raft_conf_role(&rst.conf, s->id) == RAFT_LEARNER;
	struct store_member *m = rst.lead ? dir_find(s, rst.lead) : NULL;
	if (m) {
		snprintf(st->leader_peer_url, sizeof st->leader_peer_url, "%s", m->peer_url);
		snprintf(st->leader_client_url, sizeof st->leader_client_url, "%s", m->client_url);
	}
	complete(r, 0);
}

/* What every request forwarded to the leader shares: r waits on 'forwarding' until the answer
 * (or its deadline). */
static struct fwd_ctx *fwd_start(struct store *s, struct req *r)
{
	struct fwd_ctx *f = xcalloc(1, sizeof *f);
	f->s = s;
	f->r = r;
	r->fwd = f;
	if (!r->deadline_ms)
		r->deadline_ms = now_ms(s) + s->request_timeout_ms;
	kc_list_push_back(&s->forwarding, &r->link);
	return f;
}

/* The leader answered f with rc: its request, or NULL when there is nothing more to do here (it
 * completed meanwhile: timeout, close; or it was not taken: no leader there, refused
 * connection, or with busy_retries the leader's -KC_EAGAIN, and it now waits for a leader to
 * go again). */
static struct req *fwd_answer(struct fwd_ctx *f, int rc, bool busy_retries)
{
	struct store *s = f->s;
	struct req *r = f->r;
	free(f);
	if (!r)
		return NULL;
	r->fwd = NULL;
	kc_list_del(&r->link);
	if (rc == -KC_EUNAVAIL || rc == -ECONNREFUSED || (busy_retries && rc == -KC_EAGAIN)) {
		wait_leader(s, r);
		return NULL;
	}
	return r;
}

/* The leader's answer to a forwarded proposal (entry index, term): r waits for the entry to
 * apply here (apply_committed answers it), or ends with an unknown outcome when the leader could
 * not be asked. True when the entry was applied here already: the caller answers. */
static bool fwd_proposed(struct store *s, struct req *r, int rc, uint64_t index, uint64_t term)
{
	if (rc < 0) {
		kc_err_set(&r->err, -KC_ETIMEDOUT,
			   "forwarding to the leader failed (%s); outcome unknown",
			   kc_strerror(rc));
		complete(r, -KC_ETIMEDOUT);
		return false;
	}
	r->index = index;
	r->term = term;
	if (index > s->applied) {
		kc_list_push_back(&s->proposals, &r->link);
		return false;
	}
	return true;
}

/* Leader: checks a membership change and proposes it, for propose_conf and for a follower's
 * (on_peer_conf). 0 with *p, or a negative code with err set (-KC_EUNAVAIL: not the leader). */
static int conf_propose(struct store *s, enum req_kind kind, uint64_t id, const char *name,
			const char *url, struct raft_proposal *p, struct kc_err *err)
{
	struct raft_conf_change cc = {.node_id = id};
	struct kc_str ctx = KC_STR_INIT;
	if (kind == R_MEMBER_ADD) {
		cc.type = RAFT_CC_ADD_LEARNER;
		kc_str_addf(&ctx, "%s\n%s\n", name, url);
		cc.context = (const uint8_t *)ctx.buf;
		cc.context_len = ctx.len;
	} else {
		cc.type = kind == R_MEMBER_REMOVE ? RAFT_CC_REMOVE : RAFT_CC_PROMOTE;
	}
	if (cc.type == RAFT_CC_PROMOTE && s->role == RAFT_LEADER) {
		/* as etcd: a learner far behind would stall the quorum it joins */
		struct raft_progress_info pi;
		struct raft_status st;
		raft_status(s->raft, &st);
		if (raft_progress(s->raft, cc.node_id, &pi) == 0 && pi.role == RAFT_LEARNER &&
		    (!pi.recent_active || pi.state != RAFT_PR_REPLICATE || pi.match == 0 ||
		     pi.match + STORE_PROMOTE_LAG < st.last_index))
			return kc_err_set(err, -KC_EAGAIN,
					  "can only promote a learner member which is in sync with "
					  "leader (%016" PRIx64 " has %" PRIu64 " of %" PRIu64 ")",
					  cc.node_id, pi.match, st.last_index);
	}
	atomic_store(&s->door->sole_voter_reads, false); /* before the new conf takes effect */
	int rc = raft_propose_conf_change(s->raft, &cc, p);
	kc_str_free(&ctx);
	if (rc == -KC_EUNAVAIL)
		return kc_err_set(err, rc, "not the leader");
	if (rc < 0)
		return kc_err_set(err, rc, "membership change refused: %s",
				  rc == -KC_EAGAIN ? "another change is pending" : kc_strerror(rc));
	if (kind == R_MEMBER_ADD && s->peer) /* the leader talks to it from now on */
		peer_transport_set_peer(s->peer, id, url);
	kick(s);
	return 0;
}

/* A membership change is applied here: its answer is the member list. */
static void conf_done(struct store *s, struct req *r)
{
	members_fill(s, r);
	struct store_member *d = dir_find(s, r->member_id);
	if (d)
		r->changed = *d;
	r->changed.id = r->member_id;
	r->changed.learner = r->kind == R_MEMBER_ADD;
	r->has_changed = true;
	complete(r, 0);
}

static void on_conf_forwarded(void *arg, int rc, uint64_t index, uint64_t term,
			      const struct kc_err *lerr)
{
	struct store *s = ((struct fwd_ctx *)arg)->s;
	struct req *r = fwd_answer(arg, rc, false);
	if (!r)
		return;
	if (rc < 0 && lerr) { /* the leader's refusal */
		r->err = *lerr;
		complete(r, rc);
		return;
	}
	if (!fwd_proposed(s, r, rc, index, term))
		return;
	/* Applied here before the leader's answer came back. */
	uint64_t t = 0;
	if (raft_log_term_at(s->raft, index, &t) < 0) {
		kc_err_set(&r->err, -KC_ETIMEDOUT,
			   "entry %" PRIu64 " no longer known; outcome unknown", index);
		complete(r, -KC_ETIMEDOUT);
	} else if (t != term) {
		kc_err_set(&r->err, -KC_EUNAVAIL,
			   "membership change lost in a leader change; retry");
		complete(r, -KC_EUNAVAIL);
	} else {
		conf_done(s, r);
	}
}

/* A follower hands a membership change to the leader, then waits to apply it. */
static void forward_conf(struct store *s, struct req *r)
{
	struct peer_conf_change cc = {
		.kind = r->kind == R_MEMBER_ADD	     ? PEER_CONF_ADD
			: r->kind == R_MEMBER_REMOVE ? PEER_CONF_REMOVE
						     : PEER_CONF_PROMOTE,
		.id = r->member_id,
	};
	if (r->kind == R_MEMBER_ADD) {
		snprintf(cc.name, sizeof cc.name, "%s", r->name);
		snprintf(cc.peer_url, sizeof cc.peer_url, "%s", r->url);
	}
	struct fwd_ctx *f = fwd_start(s, r);
	peer_transport_conf_change(s->peer, s->lead, &cc, on_conf_forwarded, f);
}

/* Leader side of a forwarded membership change. */
static int on_peer_conf(void *arg, const struct peer_conf_change *cc, uint64_t *index,
			uint64_t *term, struct kc_err *err)
{
	struct store *s = arg;
	if (s->closing)
		return kc_err_set(err, -KC_ECLOSED, "store is closing");
	if (s->broken) {
		*err = s->broken_err;
		return s->broken;
	}
	if (s->role != RAFT_LEADER)
		return kc_err_set(err, -KC_EUNAVAIL, "not the leader");
	enum req_kind kind = cc->kind == PEER_CONF_ADD	    ? R_MEMBER_ADD
			     : cc->kind == PEER_CONF_REMOVE ? R_MEMBER_REMOVE
							    : R_MEMBER_PROMOTE;
	struct raft_proposal p;
	int rc = conf_propose(s, kind, cc->id, cc->name, cc->peer_url, &p, err);
	if (rc < 0)
		return rc;
	*index = p.index;
	*term = p.term;
	return 0;
}

static void propose_conf(struct store *s, struct req *r)
{
	if (s->role != RAFT_LEADER && s->lead != RAFT_NONE && s->peer) {
		forward_conf(s, r);
		return;
	}
	struct raft_proposal p;
	int rc = conf_propose(s, r->kind, r->member_id, r->name, r->url, &p, &r->err);
	if (rc == -KC_EUNAVAIL) {
		kc_err_clear(&r->err);
		wait_leader(s, r); /* no leader yet, or one on its way */
		return;
	}
	if (rc < 0) {
		complete(r, rc);
		return;
	}
	r->index = p.index;
	r->term = p.term;
	r->deadline_ms = now_ms(s) + s->request_timeout_ms;
	kc_list_push_back(&s->proposals, &r->link);
}

static void on_forwarded(void *arg, int rc, uint64_t index, uint64_t term)
{
	struct store *s = ((struct fwd_ctx *)arg)->s;
	struct req *r = fwd_answer(arg, rc, true);
	if (!r || !fwd_proposed(s, r, rc, index, term))
		return;
	/* Applied here before the leader's answer came back. */
	struct recent *rc_ent = &s->recent[index % RECENT_RESULTS];
	if (rc_ent->index != index) {
		kc_err_set(&r->err, -KC_ETIMEDOUT,
			   "result of entry %" PRIu64 " no longer known; "
			   "outcome unknown",
			   index);
		complete(r, -KC_ETIMEDOUT);
	} else if (rc_ent->term != term) {
		wait_leader(s, r); /* lost in a leader change: propose again */
	} else {
		r->res = rc_ent->res;
		memset(rc_ent, 0, sizeof *rc_ent);
		complete(r, 0);
	}
}

static void on_keepalive_forwarded(void *arg, int rc, uint64_t ttl, uint64_t unused)
{
	(void)unused;
	struct req *r = fwd_answer(arg, rc, false);
	if (!r)
		return;
	if (rc == 0) {
		r->info.id = r->lease_id;
		r->info.ttl = (int64_t)ttl;
		r->info.remaining = (int64_t)ttl;
	}
	complete(r, rc);
}

/* Keepalives renew the leader's in-memory expiry: a follower passes them on. */
static void forward_keepalive(struct store *s, struct req *r)
{
	struct fwd_ctx *f = fwd_start(s, r);
	peer_transport_keepalive(s->peer, s->lead, r->lease_id, on_keepalive_forwarded, f);
}

/* Leader side of a forwarded keepalive. */
static int on_peer_keepalive(void *arg, int64_t id, int64_t *ttl)
{
	struct store *s = arg;
	if (s->closing || s->broken || s->role != RAFT_LEADER)
		return -KC_EUNAVAIL;
	return mvcc_lease_keepalive(s->mvcc, id, now_ms(s), ttl);
}

static void on_ttl_forwarded(void *arg, int rc, const struct mvcc_lease_info *info,
			     struct mvcc_range_resp *keys, const struct kc_err *lerr)
{
	struct req *r = fwd_answer(arg, rc, false);
	if (!r)
		return;
	if (rc < 0 && lerr)
		r->err = *lerr;
	if (rc == 0) {
		r->info = *info;
		r->keys = *keys; /* taken */
		memset(keys, 0, sizeof *keys);
	}
	complete(r, rc);
}

/* Time-to-live is the leader's in-memory expiry: a follower asks it. */
static void forward_ttl(struct store *s, struct req *r)
{
	struct fwd_ctx *f = fwd_start(s, r);
	peer_transport_ttl(s->peer, s->lead, r->lease_id, r->with_keys, on_ttl_forwarded, f);
}

/* Lease id's time-to-live on the leader, with its keys when with_keys. */
static int lease_ttl(struct store *s, int64_t id, bool with_keys, struct mvcc_lease_info *info,
		     struct mvcc_range_resp *keys, struct kc_err *err)
{
	int rc = mvcc_lease_get(s->mvcc, id, now_ms(s), info);
	if (rc == 0 && with_keys)
		rc = mvcc_lease_keys(s->mvcc, id, keys, err);
	return rc;
}

/* Leader side of a forwarded time-to-live. */
static int on_peer_ttl(void *arg, int64_t id, bool keys, struct mvcc_lease_info *info,
		       struct mvcc_range_resp *out, struct kc_err *err)
{
	struct store *s = arg;
	if (s->closing || s->broken || s->role != RAFT_LEADER)
		return kc_err_set(err, -KC_EUNAVAIL, "not the leader");
	return lease_ttl(s, id, keys, info, out, err);
}

/* A follower hands a proposal to the leader, then waits to apply it locally: mvcc is
 * deterministic, so the local result is the leader's. */
static void forward(struct store *s, struct req *r)
{
	if (!s->peer) {
		not_leader(s, r);
		return;
	}
	r->local = false;
	struct fwd_ctx *f = fwd_start(s, r);
	peer_transport_forward(s->peer, s->lead, r->data, r->len, on_forwarded, f);
}

/* Leader side of a forwarded proposal. */
static int on_peer_propose(void *arg, const void *cmd, size_t len, uint64_t *index, uint64_t *term)
{
	struct store *s = arg;
	if (s->closing)
		return -KC_ECLOSED;
	if (s->broken)
		return s->broken;
	struct raft_proposal p;
	int rc = raft_propose(s->raft, cmd, len, &p);
	if (rc < 0)
		return rc;
	*index = p.index;
	*term = p.term;
	kick(s);
	return 0;
}

static void transfer(struct store *s, struct req *r)
{
	if (s->role != RAFT_LEADER) {
		not_leader(s, r);
		return;
	}
	uint64_t target = r->member_id;
	if (target == 0) {
		struct raft_status st;
		raft_status(s->raft, &st);
		uint64_t best = 0;
		for (size_t i = 0; i < st.n_progress; i++) {
			const struct raft_progress_info *pi = &st.progress[i];
			if (pi->id == s->id || pi->role != RAFT_VOTER)
				continue;
			if (!target || pi->match > best) {
				target = pi->id;
				best = pi->match;
			}
		}
		if (!target) {
			kc_err_set(&r->err, -KC_EUNAVAIL, "no other voter to hand leadership to");
			complete(r, -KC_EUNAVAIL);
			return;
		}
	}
	int rc = raft_transfer_leadership(s->raft, target);
	if (rc < 0) {
		kc_err_set(&r->err, rc, "leadership transfer to %016" PRIx64 " refused", target);
		complete(r, rc);
		return;
	}
	r->member_id = target;
	r->deadline_ms = now_ms(s) + 2 * election_ms(s);
	kc_list_push_back(&s->transfers, &r->link);
	kick(s);
}

/* After a leader change: completes the transfers that reached their target. */
static void check_transfers(struct store *s)
{
	struct kc_list *it, *next;
	for (it = s->transfers.next; it != &s->transfers; it = next) {
		next = it->next;
		struct req *r = kc_container_of(it, struct req, link);
		if (s->lead == r->member_id)
			complete(r, 0);
	}
}

static void dispatch(struct store *s, struct req *r)
{
	if (s->closing) {
		complete(r, -KC_ECLOSED);
		return;
	}
	if (s->broken) {
		r->err = s->broken_err;
		complete(r, s->broken);
		return;
	}
	int rc;
	switch (r->kind) {
	case R_SUBMIT: {
		if (s->lead == RAFT_NONE) {
			wait_leader(s, r);
			return;
		}
		if (s->role != RAFT_LEADER) {
			forward(s, r);
			return;
		}
		struct raft_proposal p;
		rc = raft_propose(s->raft, r->data, r->len, &p);
		if (rc == -KC_EAGAIN || rc == -KC_EUNAVAIL) {
			wait_leader(s, r);
			return;
		}
		if (rc < 0) {
			complete(r, rc);
			return;
		}
		r->index = p.index;
		r->term = p.term;
		r->local = true;
		if (!r->deadline_ms)
			r->deadline_ms = now_ms(s) + s->request_timeout_ms;
		kc_list_push_back(&s->proposals, &r->link);
		kick(s);
		return;
	}
	case R_RANGE:
		if (!r->linearizable) {
			do_range(s, r);
			return;
		}
		r->read_ctx = ++s->read_seq;
		rc = raft_read_index(s->raft, r->read_ctx);
		if (rc == -KC_EUNAVAIL) {
			wait_leader(s, r);
			return;
		}
		if (rc < 0) {
			complete(r, rc);
			return;
		}
		r->read_sent_ms = now_ms(s);
		if (!r->deadline_ms)
			r->deadline_ms = now_ms(s) + s->request_timeout_ms;
		kc_list_push_back(&s->reads, &r->link);
		kick(s);
		return;
	case R_KEEPALIVE:
	case R_TTL: {
		if (s->role != RAFT_LEADER) {
			if (s->lead == RAFT_NONE)
				wait_leader(s, r);
			else if (r->kind == R_KEEPALIVE && s->peer)
				forward_keepalive(s, r);
			else if (s->peer)
				forward_ttl(s, r);
			else
				not_leader(s, r);
			return;
		}
		int64_t ttl;
		if (r->kind == R_KEEPALIVE) {
			rc = mvcc_lease_keepalive(s->mvcc, r->lease_id, now_ms(s), &ttl);
			if (rc == 0) {
				r->info.id = r->lease_id;
				r->info.ttl = ttl;
				r->info.remaining = ttl;
			}
		} else {
			rc = lease_ttl(s, r->lease_id, r->with_keys, &r->info, &r->keys, &r->err);
		}
		complete(r, rc);
		return;
	}
	case R_LEASES:
		mvcc_lease_list(s->mvcc, now_ms(s), &r->list, &r->nlist);
		complete(r, 0);
		return;
	case R_STATUS:
		do_status(s, r);
		return;
	case R_MEMBERS:
		members_fill(s, r);
		complete(r, 0);
		return;
	case R_MEMBER_ADD:
	case R_MEMBER_REMOVE:
	case R_MEMBER_PROMOTE:
		propose_conf(s, r);
		return;
	case R_TRANSFER:
		transfer(s, r);
		return;
	case R_WATCH_CANCEL:
	case R_WATCH_PROGRESS: {
		struct kc_list *it;
		for (it = s->watches.next; it != &s->watches; it = it->next) {
			struct wreq *w = kc_container_of(it, struct wreq, link);
			if (w->id != r->watch_id)
				continue;
			if (r->kind == R_WATCH_PROGRESS) {
				if (w->w && !w->cancel)
					watch_request_progress(s->hub, w->w);
			} else if (!w->cancel) {
				w->cancel = true;
				if (!w->in_flight) {
					/* the ready pump closes it */
					kc_list_del(&w->ready_link);
					kc_list_push_back(&s->watch_ready, &w->ready_link);
					kick(s);
				}
			}
			break;
		}
		complete(r, 0);
		return;
	}
	}
}

/* ---- watches (store thread) ---- */

static void watch_deliver(struct loop *l, struct loop_msg *m);
static void watch_ack(struct loop *l, struct loop_msg *m);

static void wreq_send(struct wreq *w)
{
	w->in_flight = true;
	loop_msg_init(&w->msg, watch_deliver, w);
	loop_post(w->reply, &w->msg);
}

static void wreq_unref(struct wreq *w)
{
	if (atomic_fetch_sub(&w->refs, 1) == 1) {
		door_unref(w->door);
		free(w->buf);
		free(w);
	}
}

/* Store thread: unregisters w and sends the final callback; w is not touched afterwards. */
static void wreq_finish(struct store *s, struct wreq *w)
{
	if (w->w)
		watch_close(s->hub, w->w);
	w->w = NULL;
	kc_list_del(&w->link);
	kc_list_del(&w->ready_link);
	w->final = true;
	wreq_send(w);
	wreq_unref(w);
}

/* Reply loop: one response (or the final NULL) to the owner. */
static void watch_deliver(struct loop *l, struct loop_msg *m)
{
	(void)l;
	struct wreq *w = m->data;
	if (w->final) {
		w->cb(w->arg, NULL);
		wreq_unref(w);
		return;
	}
	w->cb(w->arg, &w->resp);
	watch_resp_free(&w->resp);
	memset(&w->resp, 0, sizeof w->resp);
	loop_msg_init(&w->msg, watch_ack, w);
	if (!door_post(w->door, &w->msg)) {
		/* The store is closing and no longer tracks in-flight watchers: end it here. */
		w->final = true;
		watch_deliver(l, &w->msg);
	}
}

static void on_watch_ready(struct watch *wt, void *arg)
{
	(void)wt;
	struct wreq *w = arg;
	if (kc_list_empty(&w->ready_link))
		kc_list_push_back(&w->s->watch_ready, &w->ready_link);
	kick(w->s);
}

/* Store thread: the reply loop is done with the previous response. */
static void watch_ack(struct loop *l, struct loop_msg *m)
{
	(void)l;
	struct wreq *w = m->data;
	struct store *s = w->s;
	w->in_flight = false;
	if (s->closing || w->cancel || w->canceled_sent) {
		wreq_finish(s, w);
		return;
	}
	if (w->w && watch_is_ready(w->w))
		on_watch_ready(w->w, w);
}

static void pump_watches(struct store *s)
{
	struct kc_list *it;
	while ((it = kc_list_first(&s->watch_ready))) {
		struct wreq *w = kc_container_of(it, struct wreq, ready_link);
		kc_list_del(it);
		if (w->in_flight)
			continue; /* the ack re-checks */
		if (w->cancel) {
			wreq_finish(s, w);
			continue;
		}
		if (!w->w)
			continue;
		if (watch_poll(s->hub, w->w, 1000, &w->resp) == 1) {
			if (w->resp.kind == WATCH_RESP_CANCELED)
				w->canceled_sent = true;
			wreq_send(w);
		}
	}
}

static void on_watch_create(struct loop *l, struct loop_msg *m)
{
	(void)l;
	struct wreq *w = m->data;
	struct store *s = w->s;
	kc_list_push_back(&s->watches, &w->link);
	if (s->closing) {
		wreq_finish(s, w);
		return;
	}
	int64_t compact_rev = 0;
	struct kc_err err = {0};
	int rc = watch_create(s->hub, &w->req, on_watch_ready, w, &w->w, &compact_rev, &err);
	if (rc < 0) {
		w->w = NULL;
		memset(&w->resp, 0, sizeof w->resp);
		w->resp.watch_id = w->id;
		w->resp.kind = WATCH_RESP_CANCELED;
		w->resp.revision = watch_hub_revision(s->hub);
		w->resp.compact_revision = compact_rev;
		w->resp.cancel_code = rc;
		snprintf(w->resp.cancel_reason, sizeof w->resp.cancel_reason, "%s",
			 err.msg[0] ? err.msg : mvcc_strerror(rc));
		w->canceled_sent = true;
		wreq_send(w);
	}
}

/* ---- snapshots ---- */

/* raft_sqlite_snapshot_fn: the descriptor of a snapshot file covering meta->index, or
 * -KC_EAGAIN while the maker's thread makes one. */
static int make_snapshot(void *arg, const struct raft_snapshot_meta *meta, uint8_t **data,
			 size_t *len)
{
	struct store *s = arg;
	return snap_maker_get(s->snaps, meta->index, s->applied, now_ms(s), data, len);
}

/* snap_copy_fn (the maker's thread): a consistent copy of mvcc.db. */
static int snap_copy(void *arg, const char *dest, struct kc_err *err)
{
	struct store *s = arg;
	return door_snapshot(s->door, dest, err);
}

/* snap_post_fn (the maker's and the fetcher's threads). */
static bool snap_post(void *arg, struct loop_msg *m)
{
	struct store *s = arg;
	return door_post(s->door, m);
}

/* peer_snap_open_fn: the leader serves its current snapshot file. */
static int snap_open(void *arg, const char *name, int *fd, uint64_t *size)
{
	struct store *s = arg;
	return snap_maker_open(s->snaps, name, now_ms(s), fd, size);
}

static void end_all_watches(struct store *s, const char *why)
{
	struct kc_list *it, *next;
	for (it = s->watches.next; it != &s->watches; it = next) {
		next = it->next;
		struct wreq *w = kc_container_of(it, struct wreq, link);
		if (w->w)
			watch_close(s->hub, w->w);
		w->w = NULL;
		kc_list_del(&w->ready_link);
		if (w->in_flight || w->canceled_sent) {
			w->cancel = true; /* the ack finishes it */
			continue;
		}
		memset(&w->resp, 0, sizeof w->resp);
		w->resp.watch_id = w->id;
		w->resp.kind = WATCH_RESP_CANCELED;
		w->resp.cancel_code = -KC_EUNAVAIL;
		snprintf(w->resp.cancel_reason, sizeof w->resp.cancel_reason, "%s", why);
		w->canceled_sent = true;
		wreq_send(w);
	}
}

/* Replaces mvcc.db with the snapshot file downloaded for snap (its descriptor). */
static int install_snapshot(struct store *s, const struct raft_snapshot *snap, struct kc_err *err)
{
	const char *tmp = s->recv_path;
	struct snap_desc d;
	int rc = snap_desc_parse(snap->data, snap->len, &d, err);
	if (rc == 0 && strcmp(d.name, s->recv_name) != 0)
		rc = kc_err_set(err, -KC_EPROTO, "snapshot file %s was not downloaded", d.name);
	if (rc < 0)
		goto out;
	s->recv_name[0] = 0;
	log_info("store: %s: installing a snapshot at index %" PRIu64 " (%" PRIu64 " bytes)",
		 s->name, snap->meta.index, d.size);
	end_all_watches(s, "the member installed a snapshot; watch again");
	door_readers_reset(s->door, NULL);
	watch_hub_free(s->hub);
	s->hub = NULL;
	mvcc_close(s->mvcc);
	s->mvcc = NULL;
	char *wal = xasprintf("%s-wal", s->mvcc_path), *shm = xasprintf("%s-shm", s->mvcc_path);
	unlink(wal);
	unlink(shm);
	free(wal);
	free(shm);
	if (rename(tmp, s->mvcc_path) < 0) {
		rc = kc_err_set(err, -errno, "rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	if ((rc = kc_fsync_parent_dir(s->mvcc_path, err)) < 0)
		goto out;
	struct mvcc_options mo = s->mvcc_opts;
	mo.flags |= MVCC_OPEN_ADOPT_MEMBER;
	if ((rc = mvcc_open(&mo, &s->mvcc, err)) < 0)
		goto out;
	mvcc_wal_watch(s->mvcc, &s->mvcc_watch);
	door_readers_reset(s->door, s->mvcc);
	s->hub = watch_hub_new(s->mvcc, NULL);
	s->applied = snap->meta.index;
out:
	return rc;
}

/* ---- the Ready loop ---- */

static void send_msgs(struct store *s, struct raft_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s->peer)
			peer_transport_send(s->peer, &msgs[i]);
}

static void go_broken(struct store *s, int rc, const struct kc_err *err)
{
	s->broken = rc;
	s->broken_err = *err;
	log_error("store: %s: stopping the member's Raft: %s", s->name, err->msg);
	fail_list(&s->waiting, rc, err->msg);
	fail_list(&s->proposals, rc, err->msg);
	fail_list(&s->reads, rc, err->msg);
	fail_list(&s->forwarding, rc, err->msg);
	fail_list(&s->transfers, rc, err->msg);
}

#define REMOVED_MSG "the member has been permanently removed from the cluster"

/* This member is out of the cluster for good (as etcd: it stops). Remembered in raft.db so
 * that a restart on this data refuses instead of disturbing the others. */
static void member_removed(struct store *s)
{
	s->removed_pending = false;
	if (s->removed)
		return;
	s->removed = true;
	struct kc_err err = {0};
	if (raft_sqlite_set_removed(s->rs, s->id, true, &err) < 0)
		log_warn("store: %s: recording the removal: %s", s->name, err.msg);
	log_error("store: %s: %s", s->name, REMOVED_MSG);
	kc_err_set(&err, -KC_ECLOSED, REMOVED_MSG);
	if (!s->broken)
		go_broken(s, -KC_ECLOSED, &err);
	if (s->on_removed)
		s->on_removed(s->on_removed_arg);
}

static bool peer_is_removed(void *arg, uint64_t id)
{
	struct store *s = arg;
	return raft_sqlite_removed(s->rs, id);
}

static void peer_says_removed(void *arg)
{
	member_removed(arg);
}

static void note_conf_appended(struct store *s, const struct raft_entry *e)
{
	struct raft_conf_change cc;
	struct raft_conf conf;
	struct kc_err err;
	if (e->type != RAFT_ENTRY_CONF ||
	    raft_conf_change_decode(e->data, e->len, &cc, &conf, &err) < 0)
		return;
	if (cc.type == RAFT_CC_ADD_LEARNER && cc.context_len && s->peer) {
		char name[STORE_NAME_MAX], peer[STORE_URL_MAX], client[STORE_URL_MAX];
		ctx_parse(cc.context, cc.context_len, name, peer, client);
		if (peer[0])
			peer_transport_set_peer(s->peer, cc.node_id, peer);
	}
}

static int apply_conf(struct store *s, const struct raft_entry *e, struct kc_err *err)
{
	struct raft_conf_change cc;
	struct raft_conf conf;
	struct kc_err derr;
	if (raft_conf_change_decode(e->data, e->len, &cc, &conf, &derr) < 0)
		return 0;
	if (cc.type == RAFT_CC_ADD_LEARNER) {
		char name[STORE_NAME_MAX], peer[STORE_URL_MAX], client[STORE_URL_MAX];
		ctx_parse(cc.context, cc.context_len, name, peer, client);
		dir_set(s, cc.node_id, name, peer, client);
		/* the same name again (ids derive from names): it is a member again */
		int rc = raft_sqlite_set_removed(s->rs, cc.node_id, false, err);
		return rc < 0 ? rc : raft_sqlite_member_put(s->rs, cc.node_id, name, peer, client, err);
	}
	if (cc.type == RAFT_CC_REMOVE) {
		if (cc.node_id == s->id)
			s->removed_pending = true; /* acted on after this Ready (member_removed) */
		dir_del(s, cc.node_id);
		int rc = raft_sqlite_member_del(s->rs, cc.node_id, err);
		return rc < 0 ? rc : raft_sqlite_set_removed(s->rs, cc.node_id, true, err);
	}
	return 0;
}

static void serve_reads(struct store *s)
{
	struct kc_list *it, *next;
	for (it = s->reads.next; it != &s->reads; it = next) {
		next = it->next;
		struct req *r = kc_container_of(it, struct req, link);
		if (r->read_ready && r->read_index <= s->applied)
			do_range(s, r);
	}
}

/* Applies committed[0..n), entries durable in the local log, and answers their proposals: the
 * NORMAL ones in ONE mvcc_apply_batch (mvcc's applied index is then the last NORMAL entry's; the
 * NOOP and CONF entries after it are replayed after a restart, harmlessly), CONF ones into the
 * member directory. */
static int apply_committed(struct store *s, const struct raft_entry *committed, size_t n)
{
	size_t nn = 0;
	if (n == 0)
		return 0;
	struct mvcc_entry *ents = xcalloc(n, sizeof *ents);
	struct mvcc_result *res = xcalloc(n, sizeof *res);
	size_t *slot = xcalloc(n, sizeof *slot); /* committed i -> ents/res slot, or SIZE_MAX */
	struct kc_err err = {0};
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		const struct raft_entry *e = &committed[i];
		slot[i] = SIZE_MAX;
		if (e->type == RAFT_ENTRY_NORMAL) {
			slot[i] = nn;
			ents[nn].index = e->index;
			ents[nn].data = e->data;
			ents[nn++].len = e->len;
		} else if (e->type == RAFT_ENTRY_CONF && (rc = apply_conf(s, e, &err)) < 0) {
			goto out;
		}
	}
	if (nn) {
		if ((rc = mvcc_apply_batch(s->mvcc, ents, nn, res, &s->events, &err)) < 0)
			goto out;
		watch_hub_publish(s->hub, &s->events, mvcc_revision(s->mvcc));
	}
	uint64_t first = committed[0].index, last = committed[n - 1].index;
	s->applied = last;
	for (size_t i = 0; i < nn; i++)
		if (res[i].type == MVCC_CMD_COMPACT && res[i].err.code == 0)
			s->compact_pending = true;
	struct kc_list *it, *next;
	for (it = s->proposals.next; it != &s->proposals; it = next) {
		next = it->next;
		struct req *r = kc_container_of(it, struct req, link);
		if (r->index > last)
			continue;
		if (r->index < first) { /* cannot happen: proposals land after the applied index */
			complete(r, -KC_EUNAVAIL);
			continue;
		}
		size_t i = (size_t)(r->index - first);
		const struct raft_entry *e = &committed[i];
		if (e->term != r->term) {
			/* Lost in a leader change: known not applied, so propose it again. */
			kc_list_del(&r->link);
			if (r->kind == R_SUBMIT) {
				wait_leader(s, r);
			} else {
				kc_err_set(&r->err, -KC_EUNAVAIL,
					   "membership change lost in a leader change; retry");
				complete(r, -KC_EUNAVAIL);
			}
			continue;
		}
		if (r->kind == R_SUBMIT) {
			if (slot[i] == SIZE_MAX) { /* cannot happen: our entry is NORMAL */
				complete(r, -KC_EPROTO);
				continue;
			}
			r->res = res[slot[i]];
			memset(&res[slot[i]], 0, sizeof res[0]);
		} else {
			conf_done(s, r);
			continue;
		}
		complete(r, 0);
	}
	serve_reads(s);
	if (!kc_list_empty(&s->forwarding))
		for (size_t i = 0; i < n; i++) {
			if (slot[i] == SIZE_MAX)
				continue;
			struct recent *rc_ent = &s->recent[committed[i].index % RECENT_RESULTS];
			mvcc_result_free(&rc_ent->res);
			rc_ent->index = committed[i].index;
			rc_ent->term = committed[i].term;
			rc_ent->res = res[slot[i]];
			memset(&res[slot[i]], 0, sizeof res[0]);
		}
out:
	for (size_t i = 0; i < nn; i++)
		mvcc_result_free(&res[i]);
	free(res);
	free(ents);
	free(slot);
	if (rc < 0)
		go_broken(s, rc, &err);
	return rc;
}

static void redispatch_waiting(struct store *s)
{
	struct kc_list list;
	kc_list_init(&list);
	/* move everything out first: dispatch may put requests back */
	while (!kc_list_empty(&s->waiting)) {
		struct kc_list *it = s->waiting.next;
		kc_list_del(it);
		kc_list_push_back(&list, it);
	}
	struct kc_list *it;
	while ((it = kc_list_first(&list))) {
		struct req *r = kc_container_of(it, struct req, link);
		kc_list_del(it);
		dispatch(s, r);
	}
}

/* A follower's log was written from ents[0].index on (everything persisted at or after it was
 * discarded): proposals whose entry changed there, and our own proposals (made as leader) that
 * vanished with the discarded tail, are known lost, so they are proposed again now rather than
 * waiting for their index to be applied. */
static void drop_overwritten(struct store *s, const struct raft_entry *ents, size_t n)
{
	uint64_t lo = ents[0].index, hi = ents[n - 1].index;
	struct kc_list *it, *next;
	for (it = s->proposals.next; it != &s->proposals; it = next) {
		next = it->next;
		struct req *r = kc_container_of(it, struct req, link);
		if (r->kind != R_SUBMIT || r->index < lo)
			continue;
		if (r->index <= hi) {
			if (ents[r->index - lo].term == r->term)
				continue;
		} else if (!r->local) {
			/* A forwarded entry may simply not have reached this member yet. Ours was in
			 * this log, which now ends at hi: the conflict at lo <= index means the
			 * leader cannot hold it (log matching). */
			continue;
		}
		wait_leader(s, r);
	}
}

/* See door.sole_voter_reads. A configuration entry takes effect when appended, so a second
 * voter counts from then on, committed or not. */
static void update_sole_voter_reads(struct store *s)
{
	bool on = false;
	if (!s->broken && s->role == RAFT_LEADER) {
		struct raft_status st;
		raft_status(s->raft, &st);
		uint64_t term = 0;
		on = raft_conf_voters(&st.conf) == 1 &&
		     raft_conf_role(&st.conf, st.id) == RAFT_VOTER && st.applied > 0 &&
		     raft_log_term_at(s->raft, st.applied, &term) == 0 && term == st.term;
	}
	if (atomic_load_explicit(&s->door->sole_voter_reads, memory_order_relaxed) != on)
		atomic_store(&s->door->sole_voter_reads, on);
}

static void process_ready(struct store *s)
{
	while (!s->broken && raft_has_ready(s->raft)) {
		struct raft_ready rd;
		struct kc_err err = {0};
		int rc = raft_ready(s->raft, &rd);
		if (rc < 0) {
			kc_err_set(&err, rc, "raft_ready failed");
			go_broken(s, rc, &err);
			return;
		}
		bool leader_changed = false;
		if (rd.has_soft_state) {
			if (rd.soft.role == RAFT_LEADER && s->role != RAFT_LEADER)
				mvcc_lease_promote(s->mvcc, now_ms(s), election_ms(s));
			leader_changed = rd.soft.lead != s->lead || rd.soft.role != s->role;
			if (rd.soft.lead != s->lead)
				log_info("store: %s: leader is now %016" PRIx64 " (%s)", s->name,
					 rd.soft.lead, raft_role_name(rd.soft.role));
			s->lead = rd.soft.lead;
			s->role = rd.soft.role;
		}
		send_msgs(s, rd.msgs, rd.n_msgs);
		if (rd.snapshot && (rc = install_snapshot(s, rd.snapshot, &err)) < 0) {
			raft_ready_free(&rd);
			go_broken(s, rc, &err);
			return;
		}
		for (size_t i = 0; i < rd.n_entries; i++)
			note_conf_appended(s, &rd.entries[i]);
		/* Committed entries that earlier Readys made durable here are applied, and their
		 * clients answered, before this Ready's fsync: a leader's batch k would otherwise
		 * wait for the fsync of batch k+1, which is written in the same Ready as k's
		 * commit. Entries of this Ready (a follower told of their commit in the same
		 * message) and anything after a snapshot wait for the persist. */
		size_t early = 0;
		if (!rd.snapshot) {
			uint64_t durable = rd.n_entries ? rd.entries[0].index - 1 : UINT64_MAX;
			while (early < rd.n_committed && rd.committed[early].index <= durable)
				early++;
		}
		if (apply_committed(s, rd.committed, early) < 0) {
			raft_ready_free(&rd);
			return;
		}
		/* A Ready that only moves the commit index is not written: raft recovers the
		 * commit index from the applied one after a restart, and it saves an fsync. */
		if ((rd.snapshot || rd.n_entries || rd.must_sync) &&
		    (rc = raft_sqlite_persist(s->rs, &rd, &err)) < 0) {
			raft_ready_free(&rd);
			go_broken(s, rc, &err);
			return;
		}
		send_msgs(s, rd.msgs_after_persist, rd.n_msgs_after_persist);
		if (rd.n_entries && s->role != RAFT_LEADER)
			drop_overwritten(s, rd.entries, rd.n_entries);
		if (apply_committed(s, rd.committed + early, rd.n_committed - early) < 0) {
			raft_ready_free(&rd);
			return;
		}
		for (size_t i = 0; i < rd.n_reads; i++) {
			struct kc_list *it;
			for (it = s->reads.next; it != &s->reads; it = it->next) {
				struct req *r = kc_container_of(it, struct req, link);
				if (r->read_ctx == rd.reads[i].ctx && !r->read_ready) {
					r->read_ready = true;
					r->read_index = rd.reads[i].index;
					break;
				}
			}
		}
		serve_reads(s);
		if ((rc = raft_advance(s->raft, &rd)) < 0) {
			kc_err_set(&err, rc, "raft_advance failed");
			go_broken(s, rc, &err);
			return;
		}
		if (leader_changed) {
			check_transfers(s);
			redispatch_waiting(s);
		}
	}
	if (s->compact_pending && !s->broken) {
		bool done = false;
		struct kc_err err;
		if (mvcc_compact_step(s->mvcc, 1000, &done, &err) < 0)
			log_warn("store: %s: compaction step: %s", s->name, err.msg);
		if (done)
			s->compact_pending = false;
		else
			kick(s);
	}
	if (s->removed_pending)
		member_removed(s);
	update_sole_voter_reads(s);
	pump_watches(s);
}

static void on_kick(struct loop *l, struct loop_timer *t)
{
	(void)l;
	struct store *s = t->data;
	if (!s->closing)
		process_ready(s);
}

static void kick(struct store *s)
{
	if (!loop_timer_active(&s->kick_timer))
		loop_timer_start(s->loop, &s->kick_timer, 0);
}

static void propose_internal(struct store *s, struct kc_str *cmd)
{
	if (raft_propose(s->raft, cmd->buf, cmd->len, NULL) < 0)
		log_debug("store: %s: internal proposal refused", s->name);
}

/* Leader: promotes the first learner whose log is within STORE_PROMOTE_LAG entries of ours and
 * that answered recently; one change at a time (raft refuses the others with -KC_EAGAIN). */
static void auto_promote(struct store *s)
{
	struct raft_status st;
	raft_status(s->raft, &st);
	if (st.conf_index > st.commit)
		return; /* a change is still uncommitted */
	for (size_t i = 0; i < st.n_progress; i++) {
		const struct raft_progress_info *pi = &st.progress[i];
		if (pi->role != RAFT_LEARNER || !pi->recent_active || pi->match == 0 ||
		    pi->state != RAFT_PR_REPLICATE || pi->match + STORE_PROMOTE_LAG < st.last_index)
			continue;
		struct raft_conf_change cc = {.type = RAFT_CC_PROMOTE, .node_id = pi->id};
		atomic_store(&s->door->sole_voter_reads, false);
		int rc = raft_propose_conf_change(s->raft, &cc, NULL);
		struct store_member *m = dir_find(s, pi->id);
		if (rc == 0)
			log_info("store: %s: promoting learner %016" PRIx64 " (%s): caught up at %" PRIu64
				 " of %" PRIu64,
				 s->name, pi->id, m ? m->name : "?", pi->match, st.last_index);
		else if (rc != -KC_EAGAIN)
			log_warn("store: %s: promoting learner %016" PRIx64 ": %s", s->name, pi->id,
				 kc_strerror(rc));
		kick(s);
		return;
	}
}

static void leader_duties(struct store *s, uint64_t now)
{
	struct kc_err err;
	if (!s->manual_promote)
		auto_promote(s);
	if (now - s->last_lease_check_ms >= 500) {
		s->last_lease_check_ms = now;
		int64_t ids[64];
		size_t n = mvcc_lease_expired(s->mvcc, now, ids, 64);
		for (size_t i = 0; i < n; i++) {
			struct kc_str cmd = KC_STR_INIT;
			if (mvcc_cmd_encode_lease_revoke(&cmd, ids[i], &err) == 0)
				propose_internal(s, &cmd);
			kc_str_free(&cmd);
		}
	}
	if (s->policy_on && now - s->last_policy_ms >= 1000) {
		s->last_policy_ms = now;
		int64_t rev = mvcc_compact_policy_due(&s->policy, now, mvcc_revision(s->mvcc),
						      mvcc_compact_revision(s->mvcc));
		if (rev > 0) {
			struct kc_str cmd = KC_STR_INIT;
			if (mvcc_cmd_encode_compact(&cmd, rev, &err) == 0)
				propose_internal(s, &cmd);
			kc_str_free(&cmd);
		}
	}
}

static void expire(struct store *s, struct kc_list *head, uint64_t now, int code, const char *why)
{
	struct kc_list *it, *next;
	for (it = head->next; it != head; it = next) {
		next = it->next;
		struct req *r = kc_container_of(it, struct req, link);
		if (r->deadline_ms && now >= r->deadline_ms) {
			kc_err_set(&r->err, code, "%s", why);
			complete(r, code);
		} else if (head == &s->reads && !r->read_ready &&
			   now - r->read_sent_ms >= READ_RETRY_MS) {
			/* ReadIndex requests may be lost: ask again under a new ctx */
			r->read_ctx = ++s->read_seq;
			r->read_sent_ms = now;
			if (raft_read_index(s->raft, r->read_ctx) == -KC_EUNAVAIL)
				wait_leader(s, r);
		}
	}
}

/* Store thread, every tick: moves raft.db's snapshot point up to where mvcc.db is durable and
 * drops the log behind it. mvcc.db may run with synchronous=NORMAL, so the log below an index
 * goes only once mvcc.db holds that index on disk, or a power loss could leave a gap to replay.
 * That fsync runs on the checkpoint thread (on this thread it stalled every member's requests
 * for 40-60 ms); the log then goes LOG_DROP_STEP entries a tick. */
static void compact_log(struct store *s)
{
	uint64_t snap = raft_sqlite_snapshot_index(s->rs);
	uint64_t synced = atomic_load(&s->mvcc_synced);
	if (!atomic_load(&s->sync_busy) &&
	    s->applied > (synced > snap ? synced : snap) + s->snapshot_every) {
		atomic_store(&s->sync_target, s->applied);
		atomic_store(&s->sync_busy, true);
		wal_ckpt_request(s->ckpt, s->sync_job);
	}
	if (synced < snap || synced == 0 || synced > raft_sqlite_last_index(s->rs))
		return; /* nothing durable beyond the point (or a snapshot was installed since) */
	bool new_point = synced > snap;
	if (!new_point && raft_sqlite_first_index(s->rs) + s->snapshot_keep >= snap + 1)
		return; /* the log holds no more than it keeps */
	struct raft_status st;
	raft_status(s->raft, &st);
	if (new_point && st.conf_index > synced)
		return; /* the point would need the configuration of then */
	struct kc_err err;
	if (raft_sqlite_compact(s->rs, synced, &st.conf, s->snapshot_keep, LOG_DROP_STEP, &err) < 0)
		log_warn("store: %s: log compaction: %s", s->name, err.msg);
}

static void on_tick(struct loop *l, struct loop_timer *t)
{
	struct store *s = t->data;
	if (s->closing)
		return;
	loop_timer_start(l, t, s->tick_ms);
	if (s->broken)
		return;
	uint64_t now = now_ms(s);
	raft_tick(s->raft);
	expire(s, &s->waiting, now, -KC_EUNAVAIL, "no leader");
	expire(s, &s->proposals, now, -KC_ETIMEDOUT, "request timed out; outcome unknown");
	expire(s, &s->reads, now, -KC_ETIMEDOUT, "read timed out");
	expire(s, &s->transfers, now, -KC_ETIMEDOUT, "leadership transfer timed out");
	expire(s, &s->forwarding, now, -KC_ETIMEDOUT,
	       "forwarded request timed out; outcome unknown");
	if (s->role == RAFT_LEADER)
		leader_duties(s, now);
	if (s->lead != RAFT_NONE && !kc_list_empty(&s->waiting))
		redispatch_waiting(s);
	if (now - s->last_progress_ms >= s->progress_ms) {
		s->last_progress_ms = now;
		watch_hub_progress_tick(s->hub);
	}
	snap_maker_expire(s->snaps, now);
	compact_log(s);
	kick(s);
}

/* Whether raft would install the snapshot m carries (and so needs its file): not when m is
 * stale or raft already holds or committed its index (it then only answers). */
static bool snapshot_needs_file(struct store *s, const struct raft_msg *m)
{
	if (!m->snapshot)
		return false; /* raft refuses it */
	struct raft_status st;
	raft_status(s->raft, &st);
	const struct raft_snapshot_meta *meta = &m->snapshot->meta;
	uint64_t term = 0;
	if (m->term < st.term || meta->index <= st.commit)
		return false;
	return raft_log_term_at(s->raft, meta->index, &term) < 0 || term != meta->term;
}

/* A SNAPSHOT message to install: downloads its file first (one at a time), holding m back. */
static void receive_snapshot(struct store *s, const struct raft_msg *m)
{
	struct snap_desc d;
	struct kc_err err = {0};
	if (snap_desc_parse(m->snapshot->data, m->snapshot->len, &d, &err) < 0) {
		log_warn("store: %s: dropped a snapshot message from %016" PRIx64 ": %s", s->name,
			 m->from, err.msg);
		return;
	}
	const char *running = snap_fetch_running(s->fetcher);
	if (running) {
		if (strcmp(running, d.name) == 0) { /* sent again: keep the newest message */
			raft_msg_free(&s->recv_msg);
			raft_msg_copy(&s->recv_msg, m);
		}
		return;
	}
	const struct store_member *mb = dir_find(s, m->from);
	if (!mb || !mb->peer_url[0]) {
		log_warn("store: %s: snapshot from %016" PRIx64 ", whose peer URL is unknown",
			 s->name, m->from);
		return;
	}
	raft_msg_free(&s->recv_msg);
	raft_msg_copy(&s->recv_msg, m);
	if (snap_fetch_start(s->fetcher, mb->peer_url, s->cluster_id, &d) < 0) {
		raft_msg_free(&s->recv_msg);
		return;
	}
	log_info("store: %s: downloading snapshot %s at index %" PRIu64 " (%" PRIu64
		 " bytes) from %s",
		 s->name, d.name, m->snapshot->meta.index, d.size, mb->peer_url);
}

/* snap_fetched_fn: the file is at recv_path; raft gets the message held back. */
static void snapshot_fetched(void *arg, int rc, const struct snap_desc *d, const struct kc_err *err)
{
	struct store *s = arg;
	struct raft_msg m = s->recv_msg;
	memset(&s->recv_msg, 0, sizeof s->recv_msg);
	if (rc < 0)
		log_warn("store: %s: %s", s->name, err->msg);
	if (rc < 0 || s->closing || s->broken || !m.snapshot) {
		raft_msg_free(&m);
		unlink(s->recv_path);
		return;
	}
	log_info("store: %s: downloaded snapshot %s (%" PRIu64 " bytes)", s->name, d->name,
		 d->size);
	snprintf(s->recv_name, sizeof s->recv_name, "%s", d->name);
	rc = raft_step(s->raft, &m);
	raft_msg_free(&m);
	if (rc < 0 && rc != -KC_EPROTO) {
		struct kc_err serr;
		kc_err_set(&serr, rc, "raft_step failed: %s", kc_strerror(rc));
		go_broken(s, rc, &serr);
	}
	process_ready(s);      /* installs it (recv_name is set) */
	if (s->recv_name[0]) { /* raft did not want it any more */
		s->recv_name[0] = 0;
		unlink(s->recv_path);
	}
}

static void on_peer_msg(void *arg, struct raft_msg *m)
{
	struct store *s = arg;
	if (s->closing || s->broken)
		return;
	if (m->type == RAFT_MSG_SNAPSHOT && snapshot_needs_file(s, m)) {
		receive_snapshot(s, m);
		return;
	}
	int rc = raft_step(s->raft, m);
	if (rc < 0 && rc != -KC_EPROTO) {
		struct kc_err err;
		kc_err_set(&err, rc, "raft_step failed: %s", kc_strerror(rc));
		go_broken(s, rc, &err);
	}
	kick(s);
}

static void on_peer_unreachable(void *arg, uint64_t id)
{
	struct store *s = arg;
	raft_report_unreachable(s->raft, id);
}

static void *store_main(void *arg)
{
	struct store *s = arg;
	loop_timer_start(s->loop, &s->tick_timer, s->tick_ms);
	kick(s);
	int rc = loop_run(s->loop);
	if (rc < 0)
		log_error("store: %s: loop failed: %s", s->name, kc_strerror(rc));
	return NULL;
}

/* ---- open / close ---- */

static int mkdir_p1(const char *path, struct kc_err *err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return kc_err_set(err, -errno, "mkdir %s: %s", path, strerror(errno));
	return 0;
}

/* ---- WAL checkpoints (checkpoint thread) ---- */

/* Any thread: the current mvcc, which is not closed or replaced until door_unpin; NULL while
 * closing or installing a snapshot. */
static struct mvcc *door_pin(struct door *d)
{
	pthread_mutex_lock(&d->mu);
	struct mvcc *m = d->closed ? NULL : d->m;
	if (m)
		d->busy++;
	pthread_mutex_unlock(&d->mu);
	return m;
}

static void door_unpin(struct door *d)
{
	pthread_mutex_lock(&d->mu);
	d->busy--;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

static int ckpt_mvcc(void *arg, struct kc_err *err)
{
	struct store *s = arg;
	if (!door_pin(s->door))
		return 0;
	int rc = wal_checkpoint_file(s->mvcc_path, err);
	door_unpin(s->door);
	return rc;
}

/* compact_log's fsync of mvcc.db. The target is read first: every commit up to it is in the
 * files the fsync covers. */
static int sync_mvcc(void *arg, struct kc_err *err)
{
	struct store *s = arg;
	uint64_t target = atomic_load(&s->sync_target);
	struct mvcc *m = door_pin(s->door);
	int rc = 0;
	if (m) {
		rc = mvcc_sync(m, err);
		door_unpin(s->door);
		if (rc == 0)
			atomic_store(&s->mvcc_synced, target);
	}
	atomic_store(&s->sync_busy, false);
	return rc;
}

static int ckpt_raft(void *arg, struct kc_err *err)
{
	struct store *s = arg;
	return wal_checkpoint_file(s->raft_path, err);
}

static void close_all(struct store *s)
{
	peer_transport_close(s->peer);
	s->peer = NULL;
	snap_fetcher_free(s->fetcher); /* both wait for their threads */
	snap_maker_free(s->snaps);
	raft_msg_free(&s->recv_msg);
	free(s->recv_path);
	wal_ckpt_stop(s->ckpt); /* before the databases it checkpoints close */
	s->ckpt = NULL;
	if (s->door)
		door_readers_reset(s->door, NULL);
	watch_hub_free(s->hub);
	raft_free(s->raft);
	raft_sqlite_close(s->rs);
	mvcc_close(s->mvcc);
	mvcc_events_free(&s->events);
	loop_free(s->loop);
	kc_vec_free(&s->dir_members);
	for (size_t i = 0; i < RECENT_RESULTS; i++)
		mvcc_result_free(&s->recent[i].res);
	if (s->door)
		door_unref(s->door);
	free(s->dir);
	free(s->mvcc_path);
	free(s->raft_path);
	free(s->name);
	free(s->token);
	free(s->adv_peer);
	free(s->adv_client);
	free(s);
}

#define CLUSTER_TOKEN_MAX 128

static char *cluster_token_path(const char *dir)
{
	return xasprintf("%s/cluster", dir);
}

/* Adopts the cluster token recorded in DATA/store/cluster; a new member joining through
 * join_url takes the running cluster's (GET /raft/members says it) and records it. */
static int cluster_token_load(struct store *s, const struct store_config *cfg, struct kc_err *err)
{
	char *path = cluster_token_path(s->dir), *raft = xasprintf("%s/raft.db", s->dir);
	unsigned char *buf = NULL;
	size_t len = 0;
	char tok[CLUSTER_TOKEN_MAX + 1] = "";
	int rc = kc_read_file(path, CLUSTER_TOKEN_MAX + 2, &buf, &len, err);
	if (rc == 0) {
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
			len--;
		snprintf(tok, sizeof tok, "%.*s", (int)len, (const char *)buf);
		free(buf);
	} else if (rc == -ENOENT && cfg->join_existing && cfg->join_url && *cfg->join_url &&
		   access(raft, F_OK) != 0) {
		struct peer_member_info one;
		rc = peer_fetch_members(cfg->join_url, 0, cfg->peer_tls_client, 10000, &one, 0, tok,
					sizeof tok, err);
		if (rc == -KC_ELIMIT)
			rc = 0; /* max 0: only the token was wanted */
		if (rc >= 0 && tok[0] && strcmp(tok, "kc") != 0) {
			char line[CLUSTER_TOKEN_MAX + 2];
			int n = snprintf(line, sizeof line, "%s\n", tok);
			rc = kc_write_file_atomic(path, line, (size_t)n, 0600, err);
		}
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	free(path);
	free(raft);
	if (rc < 0)
		return rc;
	if (tok[0]) {
		free(s->token);
		s->token = xstrdup(tok);
		s->id = store_member_id_for(s->token, s->name);
		s->cluster_id = hash_id(s->token, "cluster");
	}
	return 0;
}

int store_restore(const char *data_dir, const char *name, const char *cluster_token,
		  const char *db_path, int64_t *revision, struct kc_err *err)
{
	char *dir = xasprintf("%s/store", data_dir), *mv = xasprintf("%s/store/mvcc.db", data_dir);
	char *tp = cluster_token_path(dir);
	struct mvcc *m = NULL;
	int rc = mkdir_p1(data_dir, err);
	if (rc == 0 && mkdir(dir, 0700) < 0)
		rc = kc_err_set(err, errno == EEXIST ? -KC_EEXIST : -errno,
				errno == EEXIST ? "%s already holds a store: restore into a new "
						  "data directory"
						: "mkdir %s: %s",
				dir, strerror(errno));
	if (rc == 0 && rename(db_path, mv) < 0)
		rc = kc_err_set(err, -errno, "rename %s to %s: %s", db_path, mv, strerror(errno));
	struct mvcc_options mo = {
		.path = mv, .cluster_id = hash_id(cluster_token, "cluster"),
		.member_id = store_member_id_for(cluster_token, name),
		.flags = MVCC_OPEN_NO_CREATE | MVCC_OPEN_QUICK_CHECK | MVCC_OPEN_RESTORE,
	};
	if (rc == 0)
		rc = mvcc_open(&mo, &m, err);
	if (rc == 0) {
		*revision = mvcc_revision(m);
		char line[CLUSTER_TOKEN_MAX + 2];
		int n = snprintf(line, sizeof line, "%s\n", cluster_token);
		rc = kc_write_file_atomic(tp, line, (size_t)n, 0600, err);
	}
	mvcc_close(m);
	if (rc < 0 && rc != -KC_EEXIST) { /* leave nothing half made */
		char *wal = xasprintf("%s-wal", mv), *shm = xasprintf("%s-shm", mv);
		unlink(mv);
		unlink(wal);
		unlink(shm);
		unlink(tp);
		rmdir(dir);
		free(wal);
		free(shm);
	}
	free(tp);
	free(mv);
	free(dir);
	return rc;
}

/* A new joining member: learns the directory from a running member and checks that this
 * member was added (without the others' URLs a learner could not answer the leader). */
static int join_directory(struct store *s, const struct store_config *cfg, struct kc_err *err)
{
	struct peer_member_info *ms = xcalloc(RAFT_MAX_MEMBERS, sizeof *ms);
	char tok[CLUSTER_TOKEN_MAX + 1] = "";
	int n = peer_fetch_members(cfg->join_url, s->cluster_id, cfg->peer_tls_client, 10000, ms,
				   RAFT_MAX_MEMBERS, tok, sizeof tok, err);
	int rc = n;
	if (rc >= 0 && hash_id(tok, "cluster") != s->cluster_id)
		rc = kc_err_set(err, -EPERM, "the member at %s belongs to another cluster",
				cfg->join_url);
	bool me = false;
	for (int i = 0; i < n && rc >= 0; i++) {
		if (ms[i].id == s->id) {
			me = true;
			continue;
		}
		rc = raft_sqlite_member_put(s->rs, ms[i].id, ms[i].name, ms[i].peer_url,
					    ms[i].client_url, err);
	}
	if (rc >= 0 && !me)
		rc = kc_err_set(err, -KC_ENOTFOUND,
				"member %s was not added to the cluster at %s: run `kc store member "
				"add %s %s` there first",
				s->name, cfg->join_url, s->name, s->adv_peer[0] ? s->adv_peer : "PEER_URL");
	if (rc >= 0)
		log_info("store: %s: joining the cluster through %s (%d members)", s->name,
			 cfg->join_url, n);
	free(ms);
	return rc < 0 ? rc : 0;
}

int store_open(const struct store_config *cfg, struct store **out, struct kc_err *err)
{
	int rc;
	bool restored = false;
	if (!cfg->data_dir || !cfg->name || !*cfg->name)
		return kc_err_set(err, -KC_EINVAL, "store: data_dir and name are required");
	struct store *s = xcalloc(1, sizeof *s);
	s->name = xstrdup(cfg->name);
	s->token = xstrdup(cfg->cluster_token ? cfg->cluster_token : "kc");
	s->adv_peer = xstrdup(cfg->advertise_peer_url ? cfg->advertise_peer_url : "");
	s->adv_client = xstrdup(cfg->advertise_client_url ? cfg->advertise_client_url : "");
	s->id = store_member_id_for(s->token, s->name);
	s->cluster_id = hash_id(s->token, "cluster");
	s->tick_ms = cfg->tick_ms ? cfg->tick_ms : 100;
	s->election_ticks = cfg->election_ticks ? cfg->election_ticks : 10;
	s->request_timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : 7000;
	s->snapshot_entries = cfg->snapshot_entries ? cfg->snapshot_entries : 20000;
	s->snapshot_keep = cfg->snapshot_keep ? cfg->snapshot_keep : 10000;
	s->progress_ms = cfg->watch_progress_ms ? cfg->watch_progress_ms : 600000;
	s->manual_promote = cfg->manual_promote;
	atomic_init(&s->next_watch_id, 1);
	kc_list_init(&s->waiting);
	kc_list_init(&s->proposals);
	kc_list_init(&s->reads);
	kc_list_init(&s->watches);
	kc_list_init(&s->watch_ready);
	kc_list_init(&s->forwarding);
	kc_list_init(&s->transfers);
	kc_vec_init(&s->dir_members, sizeof(struct store_member));
	mvcc_events_init(&s->events);
	s->policy_on = cfg->compact_keep_revisions > 0 || cfg->compact_keep_ms > 0;
	mvcc_compact_policy_init(&s->policy, cfg->compact_keep_revisions, cfg->compact_keep_ms);

	s->dir = xasprintf("%s/store", cfg->data_dir);
	if ((rc = mkdir_p1(cfg->data_dir, err)) < 0 || (rc = mkdir_p1(s->dir, err)) < 0)
		goto fail;
	if (!cfg->cluster_token && (rc = cluster_token_load(s, cfg, err)) < 0)
		goto fail;
	s->mvcc_path = xasprintf("%s/mvcc.db", s->dir);
	s->mvcc_opts = (struct mvcc_options){.path = s->mvcc_path,
					     .cluster_id = s->cluster_id,
					     .member_id = s->id,
					     .sync = cfg->mvcc_sync,
					     .quota_bytes = cfg->quota_bytes};
	if ((rc = mvcc_open(&s->mvcc_opts, &s->mvcc, err)) < 0)
		goto fail;
	s->raft_path = xasprintf("%s/raft.db", s->dir);
	if ((rc = raft_sqlite_open(s->raft_path, cfg->raft_sync_off, &s->rs, err)) < 0)
		goto fail;
	if (raft_sqlite_removed(s->rs, s->id)) {
		rc = kc_err_set(err, -KC_EINVAL,
				"member %s was removed from the cluster (%s); to add it again, "
				"`kc store member add` it and start it on an empty data dir with "
				"--store-join",
				s->name, s->dir);
		goto fail;
	}
	s->on_removed = cfg->on_removed;
	s->on_removed_arg = cfg->on_removed_arg;
	if (!(s->ckpt = wal_ckpt_start(err))) {
		rc = err->code;
		goto fail;
	}
	s->mvcc_watch = (struct wal_watch){.ck = s->ckpt,
					   .job = wal_ckpt_add(s->ckpt, "mvcc.db", ckpt_mvcc, s),
					   .bg_pages = MVCC_WAL_BG_PAGES,
					   .force_pages = MVCC_WAL_FORCE_PAGES};
	s->raft_watch = (struct wal_watch){.ck = s->ckpt,
					   .job = wal_ckpt_add(s->ckpt, "raft.db", ckpt_raft, s),
					   .bg_pages = RAFT_WAL_BG_PAGES,
					   .force_pages = RAFT_WAL_FORCE_PAGES};
	s->sync_job = wal_ckpt_add(s->ckpt, "mvcc.db sync", sync_mvcc, s);
	s->snapshot_every = s->snapshot_entries - s->snapshot_entries / 4 +
			    s->id % (s->snapshot_entries / 2 + 1);
	mvcc_wal_watch(s->mvcc, &s->mvcc_watch);
	raft_sqlite_wal_watch(s->rs, &s->raft_watch);

	if (raft_sqlite_is_empty(s->rs) && !cfg->join_existing) {
		struct raft_conf conf = {0};
		bool self_listed = cfg->n_initial == 0;
		for (size_t i = 0; i < cfg->n_initial; i++) {
			if (conf.n == RAFT_MAX_MEMBERS) {
				rc = kc_err_set(err, -KC_ELIMIT, "too many initial members");
				goto fail;
			}
			uint64_t id = store_member_id_for(s->token, cfg->initial[i].name);
			conf.members[conf.n].id = id;
			conf.members[conf.n++].role = RAFT_VOTER;
			if (id == s->id)
				self_listed = true;
		}
		if (!self_listed) {
			rc = kc_err_set(err, -KC_EINVAL, "member %s is not in the initial cluster",
					s->name);
			goto fail;
		}
		if (cfg->n_initial == 0) {
			conf.members[0].id = s->id;
			conf.members[0].role = RAFT_VOTER;
			conf.n = 1;
		}
		for (size_t i = 0; i < cfg->n_initial; i++) {
			const char *cu =
				!strcmp(cfg->initial[i].name, s->name) ? s->adv_client : "";
			if ((rc = raft_sqlite_member_put(
				     s->rs, store_member_id_for(s->token, cfg->initial[i].name),
				     cfg->initial[i].name, cfg->initial[i].peer_url, cu, err)) < 0)
				goto fail;
		}
		if (cfg->n_initial == 0 &&
		    (rc = raft_sqlite_member_put(s->rs, s->id, s->name, s->adv_peer, s->adv_client,
						 err)) < 0)
			goto fail;
		if ((rc = raft_sqlite_bootstrap(s->rs, &conf, err)) < 0)
			goto fail;
		/* A database restored from a snapshot founds this cluster with data the log does
		 * not hold: a snapshot point at the bootstrap entry makes members that join later
		 * (and founding members that lack the data) receive the database, not the log. */
		if (mvcc_revision(s->mvcc) > 0) {
			if ((rc = raft_sqlite_compact(s->rs, 1, &conf, 0, 0, err)) < 0)
				goto fail;
			restored = true;
		}
	}

	if (raft_sqlite_is_empty(s->rs) && cfg->join_existing) {
		/* Where the running members are, until the log (or a snapshot) catches us up. */
		for (size_t i = 0; i < cfg->n_initial; i++)
			if ((rc = raft_sqlite_member_put(
				     s->rs, store_member_id_for(s->token, cfg->initial[i].name),
				     cfg->initial[i].name, cfg->initial[i].peer_url, "", err)) < 0)
				goto fail;
		if (cfg->join_url && *cfg->join_url && (rc = join_directory(s, cfg, err)) < 0)
			goto fail;
	}
	char *snapdir = xasprintf("%s/snapshots", s->dir);
	s->snaps = snap_maker_new(snapdir, snap_copy, snap_post, s);
	free(snapdir);
	s->recv_path = xasprintf("%s.recv", s->mvcc_path);
	s->fetcher = snap_fetcher_new(s->recv_path, cfg->peer_tls_client, snap_post,
				      snapshot_fetched, s);
	raft_sqlite_set_snapshot_fn(s->rs, make_snapshot, s);

	struct raft_options ro;
	raft_options_init(&ro);
	ro.id = s->id;
	ro.storage = &raft_sqlite_ops;
	ro.storage_ctx = s->rs;
	ro.applied = mvcc_applied_index(s->mvcc);
	if (ro.applied > raft_sqlite_last_index(s->rs))
		ro.applied = raft_sqlite_last_index(s->rs);
	if (restored) /* the bootstrap entry is part of the restored state */
		ro.applied = raft_sqlite_snapshot_index(s->rs);
	if (kc_random_bytes(&ro.seed, sizeof ro.seed) < 0)
		ro.seed = s->id;
	ro.election_tick = s->election_ticks;
	ro.heartbeat_tick = cfg->heartbeat_ticks ? cfg->heartbeat_ticks : 1;
	if ((rc = raft_new(&ro, &s->raft, err)) < 0)
		goto fail;
	s->applied = ro.applied;

	if (!(s->loop = loop_new(NULL))) {
		rc = kc_err_set(err, -errno, "store: loop: %s", strerror(errno));
		goto fail;
	}
	loop_timer_init(&s->tick_timer, on_tick, s);
	loop_timer_init(&s->kick_timer, on_kick, s);
	struct peer_config pc = {
		.listen_addr = cfg->peer_listen_addr,
		.listen_port = cfg->peer_listen_port,
		.no_server =
			cfg->n_initial == 0 && !cfg->join_existing && cfg->peer_listen_port == 0,
		.cluster_id = s->cluster_id,
		.member_id = s->id,
		.tls_server = cfg->peer_tls_server,
		.tls_client = cfg->peer_tls_client,
		.recv = on_peer_msg,
		.unreachable = on_peer_unreachable,
		.propose = on_peer_propose,
		.conf = on_peer_conf,
		.keepalive = on_peer_keepalive,
		.ttl = on_peer_ttl,
		.members = members_lines,
		.snap_open = snap_open,
		.is_removed = peer_is_removed,
		.removed = peer_says_removed,
		.require_group = cfg->peer_require_group,
		.extra = cfg->peer_extra,
		.extra_arg = cfg->peer_extra_arg,
		.arg = s,
	};
	if ((rc = peer_transport_open(s->loop, &pc, &s->peer, err)) < 0)
		goto fail;
	s->peer_port = peer_transport_port(s->peer);
	if ((rc = raft_sqlite_members(s->rs, dir_set, s, err)) < 0)
		goto fail;
	/* Our own directory entry carries the URLs of this start. */
	if (dir_find(s, s->id) && s->adv_client[0])
		snprintf(dir_find(s, s->id)->client_url, STORE_URL_MAX, "%s", s->adv_client);
	s->hub = watch_hub_new(s->mvcc, NULL);

	struct raft_status st;
	raft_status(s->raft, &st);
	if (raft_conf_voters(&st.conf) == 1 && raft_conf_role(&st.conf, s->id) == RAFT_VOTER)
		raft_campaign(s->raft); /* alone: no reason to wait for an election timeout */

	s->door = xcalloc(1, sizeof *s->door);
	pthread_mutex_init(&s->door->mu, NULL);
	pthread_cond_init(&s->door->cv, NULL);
	s->door->loop = s->loop;
	s->door->m = s->mvcc;
	atomic_init(&s->door->refs, 1);
	uint64_t applied = s->applied; /* the store thread owns s from here */
	if ((rc = pthread_create(&s->thread, NULL, store_main, s)) != 0) {
		rc = kc_err_set(err, -rc, "store: thread: %s", strerror(rc));
		goto fail;
	}
	s->thread_started = true;
	log_info("store: %s: member %016" PRIx64 " of cluster %016" PRIx64 " open, applied %" PRIu64
		 ", peer port %u",
		 s->name, s->id, s->cluster_id, applied, s->peer_port);
	*out = s;
	return 0;
fail:
	close_all(s);
	return rc;
}

static void on_stop(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->door->mu);
	s->door->closed = true;
	pthread_mutex_unlock(&s->door->mu);
	loop_call(s->loop, on_stop, NULL);
	pthread_join(s->thread, NULL);
	/* The loop is ours now: finish what is queued, then everything still pending. */
	s->closing = true;
	while (loop_run_once(s->loop, 0) > 0)
		;
	fail_list(&s->waiting, -KC_ECLOSED, "store is closing");
	fail_list(&s->proposals, -KC_ECLOSED, "store is closing");
	fail_list(&s->reads, -KC_ECLOSED, "store is closing");
	fail_list(&s->forwarding, -KC_ECLOSED, "store is closing");
	fail_list(&s->transfers, -KC_ECLOSED, "store is closing");
	struct kc_list *it, *next;
	for (it = s->watches.next; it != &s->watches; it = next) {
		next = it->next;
		struct wreq *w = kc_container_of(it, struct wreq, link);
		if (w->in_flight) { /* its reply loop ends it (the ack cannot come back) */
			if (w->w)
				watch_close(s->hub, w->w);
			w->w = NULL;
			kc_list_del(&w->link);
			kc_list_del(&w->ready_link);
			wreq_unref(w);
		} else {
			wreq_finish(s, w);
		}
	}
	close_all(s);
}

int store_snapshot_file(struct store *s, char **path, struct kc_err *err)
{
	uint64_t r = 0;
	if (kc_random_bytes(&r, sizeof r) < 0)
		r = (uint64_t)getpid();
	char *p = xasprintf("%s/snapshot-%016" PRIx64 ".db", s->dir, r);
	int rc = door_snapshot(s->door, p, err);
	if (rc < 0) {
		unlink(p);
		free(p);
		return rc;
	}
	*path = p;
	return 0;
}

/* ---- the public requests ---- */

void store_submit(struct store *s, struct loop *reply_loop, const void *cmd, size_t len,
		  store_result_cb cb, void *arg)
{
	struct req *r = req_new(s, R_SUBMIT, reply_loop, arg);
	r->cb.submit = cb;
	r->data = xmemdup(cmd, len ? len : 1);
	r->len = len;
	send_req(s, r);
}

static uint8_t *keys_dup(const void *a, size_t al, const void *b, size_t bl)
{
	uint8_t *p = xmalloc(al + bl + 1);
	if (al)
		memcpy(p, a, al);
	if (bl)
		memcpy(p + al, b, bl);
	return p;
}

void store_range(struct store *s, struct loop *reply_loop, const struct mvcc_range_req *req,
		 bool linearizable, store_range_cb cb, void *arg)
{
	struct req *r = req_new(s, R_RANGE, reply_loop, arg);
	r->cb.range = cb;
	r->rr = *req;
	r->buf = keys_dup(req->key, req->key_len, req->range_end, req->range_end_len);
	r->rr.key = r->buf;
	r->rr.range_end = r->buf + req->key_len;
	r->linearizable = linearizable;
	r->door = s->door;
	atomic_fetch_add(&r->door->refs, 1);
	if (!linearizable || atomic_load(&s->door->sole_voter_reads)) {
		/* no need for the store thread */
		r->need_read = true;
		loop_msg_init(&r->msg, deliver, r);
		loop_post(reply_loop, &r->msg);
		return;
	}
	send_req(s, r);
}

void store_watch(struct store *s, struct loop *reply_loop, const struct watch_create_req *req,
		 store_watch_cb event_cb, void *arg, int64_t *id)
{
	struct wreq *w = xcalloc(1, sizeof *w);
	w->s = s;
	w->reply = reply_loop;
	w->cb = event_cb;
	w->arg = arg;
	w->id = (int64_t)atomic_fetch_add(&s->next_watch_id, 1);
	w->req = *req;
	w->buf = keys_dup(req->key, req->key_len, req->range_end, req->range_end_len);
	w->req.key = w->buf;
	w->req.range_end = w->buf + req->key_len;
	kc_list_init(&w->link);
	kc_list_init(&w->ready_link);
	w->door = s->door;
	atomic_fetch_add(&w->door->refs, 1);
	atomic_init(&w->refs, 2);
	*id = w->id;
	loop_msg_init(&w->msg, on_watch_create, w);
	if (!door_post(s->door, &w->msg)) {
		atomic_store(&w->refs, 1); /* never registered */
		w->final = true;
		loop_msg_init(&w->msg, watch_deliver, w);
		loop_post(reply_loop, &w->msg);
	}
}

static void watch_op(struct store *s, enum req_kind kind, int64_t id)
{
	struct req *r = req_new(s, kind, NULL, NULL);
	r->watch_id = id;
	send_req(s, r);
}

void store_watch_cancel(struct store *s, int64_t id)
{
	watch_op(s, R_WATCH_CANCEL, id);
}

void store_watch_progress(struct store *s, int64_t id)
{
	watch_op(s, R_WATCH_PROGRESS, id);
}

void store_lease_keepalive(struct store *s, struct loop *reply_loop, int64_t id, store_lease_cb cb,
			   void *arg)
{
	struct req *r = req_new(s, R_KEEPALIVE, reply_loop, arg);
	r->cb.lease = cb;
	r->lease_id = id;
	send_req(s, r);
}

void store_lease_timetolive(struct store *s, struct loop *reply_loop, int64_t id, bool with_keys,
			    store_lease_cb cb, void *arg)
{
	struct req *r = req_new(s, R_TTL, reply_loop, arg);
	r->cb.lease = cb;
	r->lease_id = id;
	r->with_keys = with_keys;
	send_req(s, r);
}

void store_lease_list(struct store *s, struct loop *reply_loop, store_lease_list_cb cb, void *arg)
{
	struct req *r = req_new(s, R_LEASES, reply_loop, arg);
	r->cb.leases = cb;
	send_req(s, r);
}

void store_status(struct store *s, struct loop *reply_loop, store_status_cb cb, void *arg)
{
	struct req *r = req_new(s, R_STATUS, reply_loop, arg);
	r->cb.status = cb;
	send_req(s, r);
}

void store_member_list(struct store *s, struct loop *reply_loop, store_member_cb cb, void *arg)
{
	struct req *r = req_new(s, R_MEMBERS, reply_loop, arg);
	r->cb.member = cb;
	send_req(s, r);
}

void store_member_add(struct store *s, struct loop *reply_loop, const char *name,
		      const char *peer_url, store_member_cb cb, void *arg)
{
	struct req *r = req_new(s, R_MEMBER_ADD, reply_loop, arg);
	r->cb.member = cb;
	snprintf(r->name, sizeof r->name, "%s", name);
	snprintf(r->url, sizeof r->url, "%s", peer_url);
	r->member_id = store_member_id_for(s->token, name);
	send_req(s, r);
}

void store_member_remove(struct store *s, struct loop *reply_loop, uint64_t id, store_member_cb cb,
			 void *arg)
{
	struct req *r = req_new(s, R_MEMBER_REMOVE, reply_loop, arg);
	r->cb.member = cb;
	r->member_id = id;
	send_req(s, r);
}

void store_transfer_leadership(struct store *s, struct loop *reply_loop, uint64_t target,
			       store_done_cb cb, void *arg)
{
	struct req *r = req_new(s, R_TRANSFER, reply_loop, arg);
	r->cb.done = cb;
	r->member_id = target;
	send_req(s, r);
}

void store_member_promote(struct store *s, struct loop *reply_loop, uint64_t id, store_member_cb cb,
			  void *arg)
{
	struct req *r = req_new(s, R_MEMBER_PROMOTE, reply_loop, arg);
	r->cb.member = cb;
	r->member_id = id;
	send_req(s, r);
}
