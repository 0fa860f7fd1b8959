/* DESIGN: the Raft node: roles, elections, replication, commitment, membership, transfer and
 * ReadIndex, as one deterministic state machine (after etcd-io/raft's raft.go and the Raft
 * thesis). Inputs: raft_tick, raft_step, raft_propose*, raft_read_index, raft_transfer_*.
 * Outputs accumulate in the outbox / unstable log / read list and leave in a Ready.
 *
 * Threading: one struct raft is used by one thread; there is no global state, no clock (time is
 * raft_tick) and no randomness other than the per-instance splitmix64 seeded by the caller.
 *
 * Invariants worth knowing when reading the code:
 *   - term/vote change only through reset(); a vote or an acknowledgement leaves only in
 *     msgs_after_persist, i.e. after the caller made the matching hard state / entries durable.
 *   - the leader counts itself towards a quorum with prs[self].match, which moves only in
 *     raft_advance (what the caller reported durable), never when entries are appended.
 *   - only entries of the current term are committed by counting (Figure 8); a new leader
 *     appends a NOOP so that it can commit (and serve reads, and change membership) soon.
 *   - the configuration in force is the latest CONF entry in the log (committed or not); the
 *     leader allows one uncommitted change at a time, and none before it commits in its term.
 *   - leader broadcasts of new entries/commit and ReadIndex heartbeats are deferred to
 *     raft_ready() (flags bcast_pending / read_hb_pending), which batches many proposals or
 *     reads into one message per follower. */
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/raft/raft_int.h"

enum campaign_kind { CAMPAIGN_PRE_ELECTION, CAMPAIGN_ELECTION, CAMPAIGN_TRANSFER };
enum vote_result { VOTE_PENDING, VOTE_WON, VOTE_LOST };

static void become_follower(struct raft *r, uint64_t term, uint64_t lead);
static void campaign(struct raft *r, enum campaign_kind kind);
static bool maybe_commit(struct raft *r);

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t rng_next(struct raft *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const struct raft_conf *conf(const struct raft *r)
{
	return raft_confs_current(&r->confs);
}

static bool promotable(const struct raft *r)
{
	return raft_conf_role(conf(r), r->id) == RAFT_VOTER;
}

static size_t quorum(const struct raft *r)
{
	return raft_conf_voters(conf(r)) / 2 + 1;
}

static uint64_t last_index(const struct raft *r)
{
	return raft_log_last_index(&r->log);
}

static struct raft_progress *pr_get(struct raft *r, uint64_t id)
{
	for (size_t i = 0; i < r->n_prs; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

static bool committed_in_term(struct raft *r)
{
	return raft_log_term_or0(&r->log, r->log.committed) == r->term;
}

static bool has_peers(const struct raft *r)
{
	for (size_t i = 0; i < r->n_prs; i++)
		if (r->prs[i].id != r->id)
			return true;
	return false;
}

static void sort_desc(uint64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1] < x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Queues a message from this node at its current term; the pointer is valid until the next
 * message is queued. */
static struct raft_msg *msg_new(struct raft *r, enum raft_msg_type type, uint64_t to)
{
	struct raft_msg *m = kc_vec_push(&r->outbox, NULL);
	m->type = type;
	m->from = r->id;
	m->to = to;
	m->term = r->term;
	return m;
}

const char *raft_msg_type_name(enum raft_msg_type t)
{
	static const char *const names[] = {
		[RAFT_MSG_APPEND] = "append",
		[RAFT_MSG_APPEND_RESP] = "append_resp",
		[RAFT_MSG_VOTE] = "vote",
		[RAFT_MSG_VOTE_RESP] = "vote_resp",
		[RAFT_MSG_PREVOTE] = "prevote",
		[RAFT_MSG_PREVOTE_RESP] = "prevote_resp",
		[RAFT_MSG_HEARTBEAT] = "heartbeat",
		[RAFT_MSG_HEARTBEAT_RESP] = "heartbeat_resp",
		[RAFT_MSG_SNAPSHOT] = "snapshot",
		[RAFT_MSG_TIMEOUT_NOW] = "timeout_now",
		[RAFT_MSG_READ_INDEX] = "read_index",
		[RAFT_MSG_READ_INDEX_RESP] = "read_index_resp",
	};
	if ((int)t < 1 || t > RAFT_MSG_TYPE_MAX)
		return "unknown";
	return names[t];
}

const char *raft_role_name(enum raft_role role)
{
	switch (role) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_PRE_CANDIDATE:
		return "pre-candidate";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	}
	return "unknown";
}

void raft_msg_free(struct raft_msg *m)
{
	if (!m)
		return;
	raft_entries_free(m->entries, m->n_entries);
	raft_snapshot_free(m->snapshot);
	memset(m, 0, sizeof *m);
}

void raft_msg_copy(struct raft_msg *dst, const struct raft_msg *src)
{
	*dst = *src;
	dst->entries = NULL;
	dst->snapshot = NULL;
	if (src->n_entries) {
		dst->entries = xcalloc(src->n_entries, sizeof *dst->entries);
		for (size_t i = 0; i < src->n_entries; i++)
			raft_entry_copy(&dst->entries[i], &src->entries[i]);
	}
	if (src->snapshot) {
		dst->snapshot = xmalloc(sizeof *dst->snapshot);
		*dst->snapshot = *src->snapshot;
		const struct raft_snapshot *ss = src->snapshot;
		dst->snapshot->data = ss->len ? xmemdup(ss->data, ss->len) : NULL;
	}
}

/* ---- role changes ------------------------------------------------------------------------- */

static void clear_reads(struct raft *r)
{
	kc_vec_clear(&r->pending_reads);
	kc_vec_clear(&r->waiting_reads);
	r->read_hb_pending = false;
}

static void free_progress(struct raft *r)
{
	for (size_t i = 0; i < r->n_prs; i++)
		raft_pr_free(&r->prs[i]);
	r->n_prs = 0;
}

static void reset(struct raft *r, uint64_t term)
{
	if (r->term != term) {
		r->term = term;
		r->vote = RAFT_NONE;
	}
	r->lead = RAFT_NONE;
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	r->randomized_timeout =
		r->opt.election_tick + (unsigned)(rng_next(r) % r->opt.election_tick);
	r->lead_transferee = RAFT_NONE;
	r->n_votes = 0;
	r->pending_conf_index = 0;
	r->bcast_pending = false;
	r->stepping_down = false;
	clear_reads(r);
	free_progress(r);
}

static void become_follower(struct raft *r, uint64_t term, uint64_t lead)
{
	bool was_leader = r->role == RAFT_LEADER;
	reset(r, term);
	r->role = RAFT_FOLLOWER;
	r->lead = lead;
	if (was_leader)
		log_info("raft stepped down id=%llu term=%llu", (unsigned long long)r->id,
			 (unsigned long long)term);
}

static void become_pre_candidate(struct raft *r)
{
	/* No term change; but forget the leader (etcd#9586) and any leader state. */
	r->role = RAFT_PRE_CANDIDATE;
	r->lead = RAFT_NONE;
	r->n_votes = 0;
	r->election_elapsed = 0;
	r->randomized_timeout =
		r->opt.election_tick + (unsigned)(rng_next(r) % r->opt.election_tick);
}

static void become_candidate(struct raft *r)
{
	reset(r, r->term + 1);
	r->vote = r->id;
	r->role = RAFT_CANDIDATE;
}

/* Brings prs in line with the configuration in force (leader only). */
static void sync_progress(struct raft *r)
{
	const struct raft_conf *c = conf(r);
	uint64_t last = last_index(r);
	for (size_t i = 0; i < r->n_prs;) {
		if (raft_conf_role(c, r->prs[i].id)) {
			i++;
			continue;
		}
		if (r->prs[i].id == r->lead_transferee)
			r->lead_transferee = RAFT_NONE;
		raft_pr_free(&r->prs[i]);
		r->prs[i] = r->prs[--r->n_prs];
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct raft_member *m = &c->members[i];
		struct raft_progress *pr = pr_get(r, m->id);
		if (!pr) {
			pr = &r->prs[r->n_prs++];
			raft_pr_init(pr, m->id, m->role == RAFT_LEARNER, last + 1,
				     r->opt.max_inflight_msgs);
			pr->recent_active = true;
			if (m->id == r->id) {
				pr->match = raft_log_stable_last(&r->log);
				raft_pr_become_replicate(pr);
			}
		}
		pr->learner = m->role == RAFT_LEARNER;
	}
	/* a leader that removed itself leads until the removal commits (thesis 4.2.2) */
	r->stepping_down = raft_conf_role(c, r->id) == 0;
}

static void append_leader(struct raft *r, enum raft_entry_type type, const void *data,
			  size_t len, struct raft_proposal *out)
{
	struct raft_entry e = {
		.term = r->term,
		.index = last_index(r) + 1,
		.type = type,
		.len = len,
		.data = len ? xmemdup(data, len) : NULL,
	};
	raft_log_append_take(&r->log, &e);
	r->bcast_pending = true;
	if (out) {
		out->index = e.index;
		out->term = e.term;
		out->leader = r->id;
	}
}

static void become_leader(struct raft *r)
{
	reset(r, r->term);
	r->role = RAFT_LEADER;
	r->lead = r->id;
	r->read_seq = 1;
	r->read_seq_sent = false;
	sync_progress(r);
	/* conservatively treat everything up to here as a possibly pending change */
	r->pending_conf_index = last_index(r);
	append_leader(r, RAFT_ENTRY_NOOP, NULL, 0, NULL);
	log_info("raft became leader id=%llu term=%llu last=%llu", (unsigned long long)r->id,
		 (unsigned long long)r->term, (unsigned long long)last_index(r));
}

/* ---- configuration entries ---------------------------------------------------------------- */

static int decode_conf_entry(const struct raft_entry *e, struct raft_conf *c)
{
	struct raft_conf_change cc;
	return raft_conf_change_decode(e->data, e->len, &cc, c, NULL);
}

/* Appends entries received from a leader (deep copies), keeping the configuration history in
 * step: truncated CONF entries roll back, appended ones take effect. */
static void append_follower(struct raft *r, const struct raft_entry *ents, size_t n)
{
	size_t before = r->confs.recs.len;
	raft_confs_truncate(&r->confs, ents[0].index);
	bool changed = r->confs.recs.len != before;
	raft_log_append(&r->log, ents, n);
	for (size_t i = 0; i < n; i++) {
		struct raft_conf c;
		if (ents[i].type == RAFT_ENTRY_CONF && decode_conf_entry(&ents[i], &c) == 0) {
			raft_confs_push(&r->confs, ents[i].index, &c);
			changed = true;
		}
	}
	if (changed && r->role == RAFT_LEADER)
		sync_progress(r);
}

/* ---- sending ------------------------------------------------------------------------------ */

static bool send_snapshot(struct raft *r, struct raft_progress *pr)
{
	if (!pr->recent_active)
		return false;
	struct raft_snapshot s;
	if (raft_log_snapshot(&r->log, &s) < 0)
		return false;
	/* the follower must be able to continue with entries we still have after it */
	if (s.meta.index == 0 || s.meta.index + 1 < raft_log_first_index(&r->log)) {
		free(s.data);
		return false;
	}
	struct raft_snapshot *heap = xmalloc(sizeof *heap);
	*heap = s;
	struct raft_msg *m = msg_new(r, RAFT_MSG_SNAPSHOT, pr->id);
	m->snapshot = heap;
	raft_pr_become_snapshot(pr, s.meta.index);
	log_debug("raft sent snapshot id=%llu to=%llu index=%llu", (unsigned long long)r->id,
		  (unsigned long long)pr->id, (unsigned long long)s.meta.index);
	return true;
}

static void free_entry_vec(struct kc_vec *v)
{
	for (size_t i = 0; i < v->len; i++)
		free(((struct raft_entry *)kc_vec_at(v, i))->data);
	kc_vec_free(v);
}

/* Sends the next APPEND (or a snapshot when the entries are compacted) to pr, unless its flow
 * control is paused. Returns whether something was sent. */
static bool send_append(struct raft *r, struct raft_progress *pr, bool send_if_empty)
{
	if (raft_pr_is_paused(pr))
		return false;
	uint64_t last = last_index(r);
	uint64_t prev = pr->next - 1, prev_term;
	int rc = raft_log_term(&r->log, prev, &prev_term);
	if (rc == -KC_ENOTFOUND)
		return send_snapshot(r, pr);
	if (rc < 0)
		return false;
	struct kc_vec ents;
	kc_vec_init(&ents, sizeof(struct raft_entry));
	if (pr->next <= last) {
		rc = raft_log_entries(&r->log, pr->next, last + 1, r->opt.max_msg_bytes, &ents);
		if (rc < 0) {
			free_entry_vec(&ents);
			return rc == -KC_ENOTFOUND ? send_snapshot(r, pr) : false;
		}
	}
	if (ents.len == 0 && !send_if_empty) {
		kc_vec_free(&ents);
		return false;
	}
	size_t bytes = 0;
	for (size_t i = 0; i < ents.len; i++)
		bytes += raft_entry_size(kc_vec_at(&ents, i));
	struct raft_msg *m = msg_new(r, RAFT_MSG_APPEND, pr->id);
	m->index = prev;
	m->log_term = prev_term;
	m->commit = r->log.committed;
	m->n_entries = ents.len;
	m->entries = ents.len ? ents.data : NULL;
	if (!ents.len)
		kc_vec_free(&ents);
	raft_pr_sent_entries(pr, m->n_entries, bytes);
	return true;
}

static void bcast_append(struct raft *r)
{
	for (size_t i = 0; i < r->n_prs; i++)
		if (r->prs[i].id != r->id)
			send_append(r, &r->prs[i], true);
}

static void bcast_heartbeat(struct raft *r)
{
	r->read_seq_sent = true;
	r->read_hb_pending = false;
	for (size_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->id == r->id)
			continue;
		struct raft_msg *m = msg_new(r, RAFT_MSG_HEARTBEAT, pr->id);
		/* never tell a follower to commit past what it is known to hold */
		m->commit = pr->match < r->log.committed ? pr->match : r->log.committed;
		m->ctx = r->read_seq;
	}
}

static void send_timeout_now(struct raft *r, uint64_t to)
{
	msg_new(r, RAFT_MSG_TIMEOUT_NOW, to);
	log_info("raft transferring leadership id=%llu to=%llu term=%llu",
		 (unsigned long long)r->id, (unsigned long long)to, (unsigned long long)r->term);
}

/* ---- ReadIndex ---------------------------------------------------------------------------- */

static void deliver_read(struct raft *r, const struct raft_read_req *q)
{
	if (q->from == r->id) {
		struct raft_read_state *rs = kc_vec_push(&r->ready_reads, NULL);
		rs->ctx = q->ctx;
		rs->index = q->index;
		return;
	}
	struct raft_msg *m = msg_new(r, RAFT_MSG_READ_INDEX_RESP, q->from);
	m->index = q->index;
	m->ctx = q->ctx;
}

/* Releases the reads whose heartbeat round a quorum of voters acknowledged. */
static void release_reads(struct raft *r)
{
	if (r->pending_reads.len == 0)
		return;
	uint64_t acks[RAFT_MAX_MEMBERS];
	size_t n = 0;
	for (size_t i = 0; i < r->n_prs; i++)
		if (!r->prs[i].learner)
			acks[n++] = r->prs[i].id == r->id ? UINT64_MAX : r->prs[i].read_ack;
	if (n == 0)
		return;
	sort_desc(acks, n);
	uint64_t acked = acks[n / 2];
	size_t k = 0;
	while (k < r->pending_reads.len) {
		const struct raft_read_req *q = kc_vec_at(&r->pending_reads, k);
		if (q->seq > acked)
			break;
		deliver_read(r, q);
		k++;
	}
	struct raft_read_req *base = r->pending_reads.data;
	memmove(base, base + k, (r->pending_reads.len - k) * sizeof *base);
	r->pending_reads.len -= k;
}

/* Registers a read for 'from' (this node or a follower). -KC_EAGAIN when too many reads wait
 * already (a leader that cannot reach a quorum must not grow without bound). */
static int leader_read(struct raft *r, uint64_t from, uint64_t ctx)
{
	if (r->pending_reads.len + r->waiting_reads.len >= RAFT_MAX_PENDING_READS)
		return -KC_EAGAIN;
	if (!committed_in_term(r)) {
		/* our commit index may be stale until an entry of our term commits (thesis 6.4) */
		struct raft_read_req *q = kc_vec_push(&r->waiting_reads, NULL);
		q->from = from;
		q->ctx = ctx;
		return 0;
	}
	if (r->read_seq_sent) {
		r->read_seq++;
		r->read_seq_sent = false;
	}
	struct raft_read_req *q = kc_vec_push(&r->pending_reads, NULL);
	q->from = from;
	q->ctx = ctx;
	q->index = r->log.committed;
	q->seq = r->read_seq;
	release_reads(r); /* a single voter confirms alone */
	if (r->pending_reads.len)
		r->read_hb_pending = true;
	return 0;
}

static void on_commit(struct raft *r)
{
	r->bcast_pending = true;
	if (r->waiting_reads.len && committed_in_term(r)) {
		struct kc_vec w = r->waiting_reads;
		kc_vec_init(&r->waiting_reads, sizeof(struct raft_read_req));
		for (size_t i = 0; i < w.len; i++) {
			const struct raft_read_req *q = kc_vec_at(&w, i);
			leader_read(r, q->from, q->ctx);
		}
		kc_vec_free(&w);
	}
	if (r->stepping_down && r->log.committed >= raft_confs_current_index(&r->confs)) {
		/* our removal is committed: hand over to the most caught-up voter, then leave */
		struct raft_progress *best = NULL;
		for (size_t i = 0; i < r->n_prs; i++)
			if (!r->prs[i].learner && (!best || r->prs[i].match > best->match))
				best = &r->prs[i];
		if (best && best->match == last_index(r))
			send_timeout_now(r, best->id);
		become_follower(r, r->term, RAFT_NONE);
	}
}

/* Commits the highest index a quorum of voters holds durably, if it is of our term. */
static bool maybe_commit(struct raft *r)
{
	uint64_t match[RAFT_MAX_MEMBERS];
	size_t n = 0;
	for (size_t i = 0; i < r->n_prs; i++)
		if (!r->prs[i].learner)
			match[n++] = r->prs[i].match;
	if (n == 0)
		return false;
	sort_desc(match, n);
	if (!raft_log_maybe_commit(&r->log, match[n / 2], r->term))
		return false;
	on_commit(r);
	return true;
}

/* ---- elections ---------------------------------------------------------------------------- */

/* Records id's first answer (voters only: the tally has one slot per member) and counts. */
static enum vote_result poll(struct raft *r, uint64_t id, bool granted)
{
	const struct raft_conf *c = conf(r);
	size_t i = 0;
	for (; i < r->n_votes; i++)
		if (r->votes[i].id == id)
			break;
	if (i == r->n_votes && r->n_votes < RAFT_MAX_MEMBERS && raft_conf_role(c, id) == RAFT_VOTER) {
		r->votes[i].id = id;
		r->votes[i].granted = granted;
		r->n_votes++;
	}
	size_t yes = 0, no = 0, voters = raft_conf_voters(c), q = quorum(r);
	for (size_t k = 0; k < r->n_votes; k++) {
		if (raft_conf_role(c, r->votes[k].id) != RAFT_VOTER)
			continue;
		if (r->votes[k].granted)
			yes++;
		else
			no++;
	}
	if (yes >= q)
		return VOTE_WON;
	if (voters - no < q)
		return VOTE_LOST;
	return VOTE_PENDING;
}

static void campaign(struct raft *r, enum campaign_kind kind)
{
	if (!promotable(r) || r->role == RAFT_LEADER)
		return;
	enum raft_msg_type type;
	uint64_t vote_term;
	if (kind == CAMPAIGN_PRE_ELECTION) {
		become_pre_candidate(r);
		type = RAFT_MSG_PREVOTE;
		vote_term = r->term + 1;
	} else {
		become_candidate(r);
		type = RAFT_MSG_VOTE;
		vote_term = r->term;
	}
	if (poll(r, r->id, true) == VOTE_WON) {
		if (kind == CAMPAIGN_PRE_ELECTION)
			campaign(r, CAMPAIGN_ELECTION);
		else
			become_leader(r);
		return;
	}
	uint64_t li = last_index(r), lt = raft_log_last_term(&r->log);
	const struct raft_conf *c = conf(r);
	for (size_t i = 0; i < c->n; i++) {
		if (c->members[i].role != RAFT_VOTER || c->members[i].id == r->id)
			continue;
		struct raft_msg *m = msg_new(r, type, c->members[i].id);
		m->term = vote_term;
		m->index = li;
		m->log_term = lt;
		m->transfer = kind == CAMPAIGN_TRANSFER;
	}
	log_debug("raft campaign id=%llu term=%llu kind=%d", (unsigned long long)r->id,
		  (unsigned long long)vote_term, (int)kind);
}

static void hup(struct raft *r, bool transfer)
{
	if (r->role == RAFT_LEADER || !promotable(r))
		return;
	if (transfer)
		campaign(r, CAMPAIGN_TRANSFER);
	else
		campaign(r, r->opt.pre_vote ? CAMPAIGN_PRE_ELECTION : CAMPAIGN_ELECTION);
}

static void handle_vote(struct raft *r, const struct raft_msg *m)
{
	enum raft_msg_type resp_type =
		m->type == RAFT_MSG_VOTE ? RAFT_MSG_VOTE_RESP : RAFT_MSG_PREVOTE_RESP;
	bool can_vote = r->vote == m->from || (r->vote == RAFT_NONE && r->lead == RAFT_NONE) ||
			(m->type == RAFT_MSG_PREVOTE && m->term > r->term);
	if (can_vote && raft_log_is_up_to_date(&r->log, m->index, m->log_term)) {
		struct raft_msg *resp = msg_new(r, resp_type, m->from);
		resp->term = m->term;
		if (m->type == RAFT_MSG_VOTE) {
			r->election_elapsed = 0;
			r->vote = m->from;
		}
	} else {
		struct raft_msg *resp = msg_new(r, resp_type, m->from);
		resp->reject = true;
	}
}

/* ---- follower side of replication --------------------------------------------------------- */

static bool entries_valid(const struct raft_msg *m)
{
	uint64_t prev_term = m->log_term;
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (e->index != m->index + 1 + i || e->term < prev_term || e->term > m->term)
			return false;
		if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_CONF)
			return false;
		if ((e->len && !e->data) || e->len > RAFT_MAX_ENTRY_BYTES)
			return false;
		struct raft_conf c;
		if (e->type == RAFT_ENTRY_CONF && decode_conf_entry(e, &c) != 0)
			return false;
		prev_term = e->term;
	}
	return true;
}

static int handle_append(struct raft *r, const struct raft_msg *m)
{
	if (m->index < r->log.committed) {
		msg_new(r, RAFT_MSG_APPEND_RESP, m->from)->index = r->log.committed;
		return 0;
	}
	if (!entries_valid(m))
		return -KC_EPROTO;
	if (raft_log_match_term(&r->log, m->index, m->log_term)) {
		uint64_t lastnew = m->index + m->n_entries;
		uint64_t ci = raft_log_find_conflict(&r->log, m->entries, m->n_entries);
		if (ci) {
			if (ci <= r->log.committed) {
				log_error("raft append conflicts with committed entry id=%llu index=%llu "
					  "commit=%llu",
					  (unsigned long long)r->id, (unsigned long long)ci,
					  (unsigned long long)r->log.committed);
				return -KC_EPROTO;
			}
			size_t off = (size_t)(ci - (m->index + 1));
			append_follower(r, m->entries + off, m->n_entries - off);
		}
		raft_log_commit_to(&r->log, m->commit < lastnew ? m->commit : lastnew);
		msg_new(r, RAFT_MSG_APPEND_RESP, m->from)->index = lastnew;
		return 0;
	}
	/* reject with a hint: the last index <= m->index whose term is <= the leader's prev term */
	uint64_t last = last_index(r);
	uint64_t hint = m->index < last ? m->index : last, hint_term;
	raft_log_find_conflict_by_term(&r->log, hint, m->log_term, &hint, &hint_term);
	struct raft_msg *resp = msg_new(r, RAFT_MSG_APPEND_RESP, m->from);
	resp->index = m->index;
	resp->reject = true;
	resp->reject_hint = hint;
	resp->log_term = hint_term;
	return 0;
}

static void handle_heartbeat(struct raft *r, const struct raft_msg *m)
{
	raft_log_commit_to(&r->log, m->commit);
	msg_new(r, RAFT_MSG_HEARTBEAT_RESP, m->from)->ctx = m->ctx;
}

static int handle_snapshot(struct raft *r, const struct raft_msg *m)
{
	const struct raft_snapshot *s = m->snapshot;
	if (!s || (s->len && !s->data) || !raft_conf_valid(&s->meta.conf) || s->meta.index == 0 ||
	    s->meta.term > m->term)
		return -KC_EPROTO;
	if (s->meta.index <= r->log.committed) {
		msg_new(r, RAFT_MSG_APPEND_RESP, m->from)->index = r->log.committed;
		return 0;
	}
	if (raft_log_match_term(&r->log, s->meta.index, s->meta.term)) {
		/* we already hold the entries: just learn that they are committed */
		raft_log_commit_to(&r->log, s->meta.index);
		msg_new(r, RAFT_MSG_APPEND_RESP, m->from)->index = r->log.committed;
		return 0;
	}
	struct raft_snapshot *copy = xmalloc(sizeof *copy);
	*copy = *s;
	copy->data = s->len ? xmemdup(s->data, s->len) : NULL;
	raft_log_restore(&r->log, copy);
	raft_confs_free(&r->confs);
	raft_confs_init(&r->confs, s->meta.index, &s->meta.conf);
	log_info("raft restored snapshot id=%llu index=%llu term=%llu", (unsigned long long)r->id,
		 (unsigned long long)s->meta.index, (unsigned long long)s->meta.term);
	msg_new(r, RAFT_MSG_APPEND_RESP, m->from)->index = last_index(r);
	return 0;
}

/* ---- leader side of replication ----------------------------------------------------------- */

static void handle_append_resp(struct raft *r, struct raft_progress *pr, const struct raft_msg *m)
{
	pr->recent_active = true;
	if (m->reject) {
		uint64_t next_probe = m->reject_hint;
		if (m->log_term > 0) {
			uint64_t t;
			raft_log_find_conflict_by_term(&r->log, m->reject_hint, m->log_term,
						       &next_probe, &t);
		}
		if (raft_pr_maybe_decr_to(pr, m->index, next_probe)) {
			if (pr->state == RAFT_PR_REPLICATE)
				raft_pr_become_probe(pr);
			send_append(r, pr, true);
		}
		return;
	}
	if (m->index > last_index(r))
		return; /* acknowledges entries we never had: a confused peer */
	uint64_t id = pr->id;
	/* an answer that adds nothing, except one proving a probed follower is caught up */
	if (!raft_pr_maybe_update(pr, m->index) &&
	    !(pr->state == RAFT_PR_PROBE && pr->match == m->index))
		return;
	switch (pr->state) {
	case RAFT_PR_PROBE:
		raft_pr_become_replicate(pr);
		break;
	case RAFT_PR_SNAPSHOT:
		if (pr->match + 1 >= raft_log_first_index(&r->log)) {
			raft_pr_become_probe(pr);
			raft_pr_become_replicate(pr);
		}
		break;
	case RAFT_PR_REPLICATE:
		raft_inflights_free_le(&pr->ins, m->index);
		break;
	}
	maybe_commit(r);
	if (r->role != RAFT_LEADER)
		return; /* the commit completed our own removal */
	pr = pr_get(r, id);
	if (!pr)
		return;
	while (send_append(r, pr, false)) {
	}
	if (id == r->lead_transferee && pr->match == last_index(r))
		send_timeout_now(r, id);
}

static void handle_heartbeat_resp(struct raft *r, struct raft_progress *pr,
				  const struct raft_msg *m)
{
	pr->recent_active = true;
	pr->probe_sent = false;
	/* unstick a window whose messages were all lost */
	if (pr->state == RAFT_PR_REPLICATE && raft_inflights_full(&pr->ins))
		raft_inflights_free_first(&pr->ins);
	if (pr->match < last_index(r) || pr->state == RAFT_PR_PROBE)
		send_append(r, pr, true);
	if (!pr->learner && m->ctx > pr->read_ack) {
		pr->read_ack = m->ctx;
		release_reads(r);
	}
}

/* ---- step --------------------------------------------------------------------------------- */

static int step_leader(struct raft *r, const struct raft_msg *m)
{
	struct raft_progress *pr = pr_get(r, m->from);
	switch (m->type) {
	case RAFT_MSG_APPEND_RESP:
		if (pr)
			handle_append_resp(r, pr, m);
		return 0;
	case RAFT_MSG_HEARTBEAT_RESP:
		if (pr)
			handle_heartbeat_resp(r, pr, m);
		return 0;
	case RAFT_MSG_READ_INDEX:
		leader_read(r, m->from, m->ctx); /* dropped when too many wait: it times out */
		return 0;
	case RAFT_MSG_APPEND:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAPSHOT:
		log_error("raft two leaders in one term id=%llu other=%llu term=%llu",
			  (unsigned long long)r->id, (unsigned long long)m->from,
			  (unsigned long long)r->term);
		return -KC_EPROTO;
	default:
		return 0;
	}
}

static int step_candidate(struct raft *r, const struct raft_msg *m)
{
	enum raft_msg_type mine =
		r->role == RAFT_PRE_CANDIDATE ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		become_follower(r, m->term, m->from);
		return handle_append(r, m);
	case RAFT_MSG_HEARTBEAT:
		become_follower(r, m->term, m->from);
		handle_heartbeat(r, m);
		return 0;
	case RAFT_MSG_SNAPSHOT:
		become_follower(r, m->term, m->from);
		return handle_snapshot(r, m);
	default:
		break;
	}
	if (m->type != mine)
		return 0;
	switch (poll(r, m->from, !m->reject)) {
	case VOTE_WON:
		if (r->role == RAFT_PRE_CANDIDATE)
			campaign(r, CAMPAIGN_ELECTION);
		else
			become_leader(r);
		break;
	case VOTE_LOST:
		become_follower(r, r->term, RAFT_NONE);
		break;
	case VOTE_PENDING:
		break;
	}
	return 0;
}

static int step_follower(struct raft *r, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND:
		r->election_elapsed = 0;
		r->lead = m->from;
		return handle_append(r, m);
	case RAFT_MSG_HEARTBEAT:
		r->election_elapsed = 0;
		r->lead = m->from;
		handle_heartbeat(r, m);
		return 0;
	case RAFT_MSG_SNAPSHOT:
		r->election_elapsed = 0;
		r->lead = m->from;
		return handle_snapshot(r, m);
	case RAFT_MSG_TIMEOUT_NOW:
		hup(r, true);
		return 0;
	case RAFT_MSG_READ_INDEX_RESP: {
		struct raft_read_state *rs = kc_vec_push(&r->ready_reads, NULL);
		rs->ctx = m->ctx;
		rs->index = m->index;
		return 0;
	}
	default:
		/* READ_INDEX sent to a non-leader is dropped (no forwarding chains); the requester
		 * times out and retries */
		return 0;
	}
}

static bool msg_sane(const struct raft *r, const struct raft_msg *m)
{
	if (m->to != r->id || m->from == RAFT_NONE || m->from == r->id || m->term == 0)
		return false;
	if ((int)m->type < RAFT_MSG_APPEND || m->type > RAFT_MSG_TYPE_MAX)
		return false;
	if ((m->n_entries && (!m->entries || m->type != RAFT_MSG_APPEND)) ||
	    (m->snapshot && m->type != RAFT_MSG_SNAPSHOT))
		return false;
	if (m->term >= RAFT_SANE_MAX || m->index >= RAFT_SANE_MAX || m->log_term >= RAFT_SANE_MAX ||
	    m->commit >= RAFT_SANE_MAX || m->reject_hint >= RAFT_SANE_MAX ||
	    m->n_entries >= RAFT_SANE_MAX - m->index)
		return false;
	if (m->snapshot && (m->snapshot->meta.index >= RAFT_SANE_MAX ||
			    m->snapshot->meta.term >= RAFT_SANE_MAX))
		return false;
	return true;
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
	if (r->log.fatal)
		return r->log.fatal;
	if (!msg_sane(r, m))
		return -KC_EPROTO;
	bool vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE;
	if (m->term > r->term) {
		if (vote_req) {
			/* leader stickiness: while we hear from a leader, nobody needs to replace
			 * it, except on its own request (transfer) */
			bool in_lease = r->opt.check_quorum && r->lead != RAFT_NONE &&
					r->election_elapsed < r->opt.election_tick;
			if (in_lease && !m->transfer)
				return 0;
		}
		if (m->type == RAFT_MSG_PREVOTE) {
			/* a pre-vote never changes our term */
		} else if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject) {
			/* the grant carries the term we asked about, not the voter's */
		} else if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
			   m->type == RAFT_MSG_SNAPSHOT) {
			become_follower(r, m->term, m->from);
		} else {
			become_follower(r, m->term, RAFT_NONE);
		}
	} else if (m->term < r->term) {
		if ((r->opt.check_quorum || r->opt.pre_vote) &&
		    (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT)) {
			/* tell a stale leader about our term: with pre-vote/check-quorum it would
			 * otherwise never learn it from our (ignored) vote requests */
			msg_new(r, RAFT_MSG_APPEND_RESP, m->from);
		} else if (m->type == RAFT_MSG_PREVOTE) {
			/* rejecting lets a pre-candidate with a stale term catch up (etcd#8243) */
			msg_new(r, RAFT_MSG_PREVOTE_RESP, m->from)->reject = true;
		}
		return r->log.fatal;
	}
	int rc;
	if (vote_req) {
		handle_vote(r, m);
		rc = 0;
	} else if (r->role == RAFT_LEADER) {
		rc = step_leader(r, m);
	} else if (r->role == RAFT_FOLLOWER) {
		rc = step_follower(r, m);
	} else {
		rc = step_candidate(r, m);
	}
	return r->log.fatal ? r->log.fatal : rc;
}

/* ---- ticks -------------------------------------------------------------------------------- */

static bool quorum_active(struct raft *r)
{
	size_t active = 0;
	for (size_t i = 0; i < r->n_prs; i++)
		if (!r->prs[i].learner && (r->prs[i].recent_active || r->prs[i].id == r->id))
			active++;
	return active >= quorum(r);
}

static void tick_heartbeat(struct raft *r)
{
	r->heartbeat_elapsed++;
	r->election_elapsed++;
	if (r->election_elapsed >= r->opt.election_tick) {
		r->election_elapsed = 0;
		if (r->opt.check_quorum && !quorum_active(r)) {
			log_info("raft leader lost quorum id=%llu term=%llu",
				 (unsigned long long)r->id, (unsigned long long)r->term);
			become_follower(r, r->term, RAFT_NONE);
			return;
		}
		for (size_t i = 0; i < r->n_prs; i++)
			r->prs[i].recent_active = r->prs[i].id == r->id;
		if (r->lead_transferee != RAFT_NONE) {
			log_info("raft leadership transfer aborted id=%llu to=%llu",
				 (unsigned long long)r->id, (unsigned long long)r->lead_transferee);
			r->lead_transferee = RAFT_NONE;
		}
	}
	for (size_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->state == RAFT_PR_SNAPSHOT &&
		    ++pr->snapshot_elapsed >= r->opt.snapshot_timeout_ticks) {
			pr->pending_snapshot = 0;
			raft_pr_become_probe(pr);
		}
	}
	if (r->heartbeat_elapsed >= r->opt.heartbeat_tick) {
		r->heartbeat_elapsed = 0;
		bcast_heartbeat(r);
	}
}

int raft_tick(struct raft *r)
{
	if (r->log.fatal)
		return r->log.fatal;
	if (r->role == RAFT_LEADER) {
		tick_heartbeat(r);
	} else {
		r->election_elapsed++;
		if (promotable(r) && r->election_elapsed >= r->randomized_timeout) {
			r->election_elapsed = 0;
			hup(r, false);
		}
	}
	return r->log.fatal;
}

int raft_campaign(struct raft *r)
{
	if (r->log.fatal)
		return r->log.fatal;
	hup(r, false);
	return r->log.fatal;
}

/* ---- proposals and requests --------------------------------------------------------------- */

static int leader_gate(struct raft *r, struct raft_proposal *out)
{
	if (out)
		memset(out, 0, sizeof *out);
	if (r->log.fatal)
		return r->log.fatal;
	if (r->role != RAFT_LEADER || r->stepping_down) {
		if (out)
			out->leader = r->role == RAFT_LEADER ? RAFT_NONE : r->lead;
		return -KC_EUNAVAIL;
	}
	if (r->lead_transferee != RAFT_NONE) {
		if (out)
			out->leader = r->id;
		return -KC_EAGAIN;
	}
	return 0;
}

int raft_propose(struct raft *r, const void *data, size_t len, struct raft_proposal *out)
{
	int rc = leader_gate(r, out);
	if (rc)
		return rc;
	if (len > RAFT_MAX_ENTRY_BYTES)
		return -KC_ETOOBIG;
	if (len && !data)
		return -KC_EINVAL;
	append_leader(r, RAFT_ENTRY_NORMAL, data, len, out);
	return 0;
}

int raft_propose_conf_change(struct raft *r, const struct raft_conf_change *cc,
			     struct raft_proposal *out)
{
	int rc = leader_gate(r, out);
	if (rc)
		return rc;
	if (!committed_in_term(r) || r->pending_conf_index > r->log.committed)
		return -KC_EAGAIN;
	struct raft_conf next;
	rc = raft_conf_apply_change(conf(r), cc, &next, NULL);
	if (rc)
		return rc;
	struct kc_str buf = KC_STR_INIT;
	raft_conf_change_encode(cc, &next, &buf);
	struct raft_proposal p;
	append_leader(r, RAFT_ENTRY_CONF, buf.buf, buf.len, &p);
	kc_str_free(&buf);
	raft_confs_push(&r->confs, p.index, &next);
	r->pending_conf_index = p.index;
	sync_progress(r);
	log_info("raft configuration change id=%llu type=%d node=%llu index=%llu",
		 (unsigned long long)r->id, (int)cc->type, (unsigned long long)cc->node_id,
		 (unsigned long long)p.index);
	/* a smaller quorum may commit more right away (never the new entry itself: we count
	 * ourselves only once it is durable) */
	maybe_commit(r);
	if (out)
		*out = p;
	return r->log.fatal;
}

int raft_transfer_leadership(struct raft *r, uint64_t target)
{
	if (r->log.fatal)
		return r->log.fatal;
	if (r->role != RAFT_LEADER)
		return -KC_EUNAVAIL;
	struct raft_progress *pr = pr_get(r, target);
	if (target == r->id || !pr || pr->learner)
		return -KC_EINVAL;
	if (r->lead_transferee == target)
		return 0;
	r->lead_transferee = target;
	r->election_elapsed = 0; /* the transfer gets one election timeout */
	if (pr->match == last_index(r))
		send_timeout_now(r, target);
	else
		send_append(r, pr, true);
	return r->log.fatal;
}

int raft_read_index(struct raft *r, uint64_t ctx)
{
	if (r->log.fatal)
		return r->log.fatal;
	if (r->role == RAFT_LEADER) {
		int rc = leader_read(r, r->id, ctx);
		return r->log.fatal ? r->log.fatal : rc;
	}
	if (r->lead == RAFT_NONE)
		return -KC_EUNAVAIL;
	msg_new(r, RAFT_MSG_READ_INDEX, r->lead)->ctx = ctx;
	return 0;
}

void raft_report_unreachable(struct raft *r, uint64_t id)
{
	struct raft_progress *pr = r->role == RAFT_LEADER ? pr_get(r, id) : NULL;
	if (pr && pr->state == RAFT_PR_REPLICATE)
		raft_pr_become_probe(pr);
}

void raft_report_snapshot(struct raft *r, uint64_t id, bool ok)
{
	struct raft_progress *pr = r->role == RAFT_LEADER ? pr_get(r, id) : NULL;
	if (!pr || pr->state != RAFT_PR_SNAPSHOT)
		return;
	if (!ok)
		pr->pending_snapshot = 0;
	raft_pr_become_probe(pr);
	/* wait for the follower's answer (or a heartbeat) before probing */
	pr->probe_sent = true;
}

/* ---- Ready -------------------------------------------------------------------------------- */

static bool hs_equal(const struct raft_hard_state *a, const struct raft_hard_state *b)
{
	return a->term == b->term && a->vote == b->vote && a->commit == b->commit;
}

static struct raft_hard_state hard_state(const struct raft *r)
{
	struct raft_hard_state hs = {.term = r->term, .vote = r->vote, .commit = r->log.committed};
	return hs;
}

static bool unstable_pending(const struct raft *r)
{
	const struct raft_unstable *u = &r->log.u;
	return u->ents.len && u->offset + u->ents.len - 1 > u->in_progress;
}

bool raft_has_ready(const struct raft *r)
{
	if (r->rd_outstanding || r->log.fatal)
		return false;
	if (r->role == RAFT_LEADER && (r->bcast_pending || r->read_hb_pending) && has_peers(r))
		return true;
	if (r->outbox.len || r->ready_reads.len)
		return true;
	if (r->lead != r->prev_ss.lead || r->role != r->prev_ss.role)
		return true;
	struct raft_hard_state hs = hard_state(r);
	if (!hs_equal(&hs, &r->prev_hs))
		return true;
	if (r->log.u.snap && !r->log.u.snap_in_progress)
		return true;
	if (unstable_pending(r))
		return true;
	return !r->log.u.snap && r->log.committed > r->log.applied;
}

/* Leader messages may leave before the sender's own write is durable; everything else, and a
 * leader's messages of a term not yet durable, only after. */
static bool sendable_now(const struct raft *r, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAPSHOT:
	case RAFT_MSG_TIMEOUT_NOW:
	case RAFT_MSG_READ_INDEX_RESP:
		return m->term <= r->durable_hs.term;
	default:
		return false;
	}
}

int raft_ready(struct raft *r, struct raft_ready *rd)
{
	if (r->rd_outstanding)
		return -KC_EINVAL; /* leave *rd alone: it may be the outstanding one */
	memset(rd, 0, sizeof *rd);
	if (r->log.fatal)
		return r->log.fatal;
	if (r->role == RAFT_LEADER) {
		if (r->bcast_pending) {
			r->bcast_pending = false;
			bcast_append(r);
		}
		if (r->read_hb_pending)
			bcast_heartbeat(r);
	}
	if (r->log.fatal)
		return r->log.fatal;

	struct raft_unstable *u = &r->log.u;
	if (u->snap == NULL && r->log.committed > r->log.applied) {
		struct kc_vec v;
		kc_vec_init(&v, sizeof(struct raft_entry));
		int rc = raft_log_entries(&r->log, r->log.applied + 1, r->log.committed + 1,
					  r->opt.max_committed_bytes, &v);
		if (rc < 0) {
			free_entry_vec(&v);
			if (!r->log.fatal)
				r->log.fatal = -KC_EIO; /* storage compacted unapplied entries */
			log_error("raft cannot read committed entries id=%llu applied=%llu",
				  (unsigned long long)r->id, (unsigned long long)r->log.applied);
			return r->log.fatal;
		}
		rd->committed = v.data;
		rd->n_committed = v.len;
		r->rd_applied = v.len ? ((struct raft_entry *)kc_vec_at(&v, v.len - 1))->index : 0;
		if (!v.len)
			kc_vec_free(&v);
	}

	struct raft_soft_state ss = {.lead = r->lead, .role = r->role};
	if (ss.lead != r->prev_ss.lead || ss.role != r->prev_ss.role) {
		rd->has_soft_state = true;
		rd->soft = ss;
		r->prev_ss = ss;
	}
	struct raft_hard_state hs = hard_state(r);
	if (!hs_equal(&hs, &r->prev_hs)) {
		rd->has_hard_state = true;
		rd->hs = hs;
		if (hs.term != r->prev_hs.term || hs.vote != r->prev_hs.vote)
			rd->must_sync = true;
		r->prev_hs = hs;
	}
	if (u->snap && !u->snap_in_progress) {
		rd->snapshot = u->snap;
		u->snap_in_progress = true;
		r->rd_snap_index = u->snap->meta.index;
		rd->must_sync = true;
	}
	if (unstable_pending(r)) {
		uint64_t last = u->offset + u->ents.len - 1;
		uint64_t start = u->in_progress + 1 > u->offset ? u->in_progress + 1 : u->offset;
		size_t n = (size_t)(last - start + 1);
		rd->entries = xmalloc(n * sizeof *rd->entries);
		memcpy(rd->entries, kc_vec_at(&u->ents, (size_t)(start - u->offset)),
		       n * sizeof *rd->entries);
		rd->n_entries = n;
		u->in_progress = last;
		rd->must_sync = true;
	}
	if (r->outbox.len) {
		size_t n = r->outbox.len;
		rd->msgs = xmalloc(n * sizeof *rd->msgs);
		rd->msgs_after_persist = xmalloc(n * sizeof *rd->msgs_after_persist);
		for (size_t i = 0; i < n; i++) {
			const struct raft_msg *m = kc_vec_at(&r->outbox, i);
			if (sendable_now(r, m))
				rd->msgs[rd->n_msgs++] = *m;
			else
				rd->msgs_after_persist[rd->n_msgs_after_persist++] = *m;
		}
		kc_vec_clear(&r->outbox);
		if (!rd->n_msgs) {
			free(rd->msgs);
			rd->msgs = NULL;
		}
		if (!rd->n_msgs_after_persist) {
			free(rd->msgs_after_persist);
			rd->msgs_after_persist = NULL;
		}
	}
	if (r->ready_reads.len) {
		rd->reads = r->ready_reads.data;
		rd->n_reads = r->ready_reads.len;
		kc_vec_init(&r->ready_reads, sizeof(struct raft_read_state));
	}
	r->rd_outstanding = true;
	r->log.rd_outstanding = true;
	return 0;
}

void raft_ready_free(struct raft_ready *rd)
{
	free(rd->entries);
	raft_entries_free(rd->committed, rd->n_committed);
	for (size_t i = 0; i < rd->n_msgs; i++)
		raft_msg_free(&rd->msgs[i]);
	free(rd->msgs);
	for (size_t i = 0; i < rd->n_msgs_after_persist; i++)
		raft_msg_free(&rd->msgs_after_persist[i]);
	free(rd->msgs_after_persist);
	free(rd->reads);
	memset(rd, 0, sizeof *rd);
}

int raft_advance(struct raft *r, struct raft_ready *rd)
{
	if (!r->rd_outstanding)
		return -KC_EINVAL;
	struct raft_unstable *u = &r->log.u;
	if (rd->snapshot) {
		if (u->snap && u->snap_in_progress) {
			raft_snapshot_free(u->snap);
			u->snap = NULL;
			u->snap_in_progress = false;
		}
		if (r->log.applied < r->rd_snap_index)
			r->log.applied = r->rd_snap_index;
	}
	raft_log_stable_to(&r->log, u->in_progress);
	if (r->rd_applied > r->log.applied)
		r->log.applied = r->rd_applied;
	if (rd->has_hard_state)
		r->durable_hs = rd->hs;
	raft_ready_free(rd);
	r->rd_outstanding = false;
	r->log.rd_outstanding = false;
	raft_log_bury(&r->log);
	r->rd_applied = 0;
	r->rd_snap_index = 0;
	if (r->role == RAFT_LEADER) {
		struct raft_progress *self = pr_get(r, r->id);
		if (self && raft_pr_maybe_update(self, raft_log_stable_last(&r->log)))
			maybe_commit(r);
	}
	raft_confs_compact(&r->confs, r->log.committed);
	return r->log.fatal;
}

/* ---- lifecycle and status ----------------------------------------------------------------- */

void raft_options_init(struct raft_options *o)
{
	memset(o, 0, sizeof *o);
	o->election_tick = 10;
	o->heartbeat_tick = 1;
	o->pre_vote = true;
	o->check_quorum = true;
	o->max_msg_bytes = 1u << 20;
	o->max_inflight_msgs = 256;
	o->max_committed_bytes = 64u << 20;
	o->snapshot_timeout_ticks = 50;
}

static int scan_confs(struct raft *r, uint64_t from, uint64_t last, struct kc_err *err)
{
	struct kc_vec v;
	kc_vec_init(&v, sizeof(struct raft_entry));
	int rc = 0;
	while (from <= last && rc == 0) {
		rc = raft_log_entries(&r->log, from, last + 1, 8u << 20, &v);
		if (rc < 0) {
			kc_err_set(err, rc, "raft: reading the log: %s", kc_strerror(rc));
			break;
		}
		for (size_t i = 0; i < v.len && rc == 0; i++) {
			const struct raft_entry *e = kc_vec_at(&v, i);
			struct raft_conf c;
			if (e->type != RAFT_ENTRY_CONF)
				continue;
			if (decode_conf_entry(e, &c) != 0)
				rc = kc_err_set(err, -KC_EINVAL, "raft: bad conf entry %llu",
						(unsigned long long)e->index);
			else
				raft_confs_push(&r->confs, e->index, &c);
		}
		if (v.len)
			from = ((struct raft_entry *)kc_vec_at(&v, v.len - 1))->index + 1;
		for (size_t i = 0; i < v.len; i++)
			free(((struct raft_entry *)kc_vec_at(&v, i))->data);
		kc_vec_clear(&v);
	}
	kc_vec_free(&v);
	return rc;
}

int raft_new(const struct raft_options *o, struct raft **out, struct kc_err *err)
{
	*out = NULL;
	const struct raft_storage_ops *ops = o->storage;
	if (o->id == RAFT_NONE)
		return kc_err_set(err, -KC_EINVAL, "raft: node id must be nonzero");
	if (!ops || !ops->hard_state || !ops->snapshot_meta || !ops->first_index ||
	    !ops->last_index || !ops->term || !ops->entries || !ops->snapshot)
		return kc_err_set(err, -KC_EINVAL, "raft: incomplete storage ops");
	struct raft_options opt = *o;
	if (!opt.election_tick)
		opt.election_tick = 10;
	if (!opt.heartbeat_tick)
		opt.heartbeat_tick = 1;
	if (!opt.max_msg_bytes)
		opt.max_msg_bytes = 1u << 20;
	if (!opt.max_inflight_msgs)
		opt.max_inflight_msgs = 256;
	if (!opt.max_committed_bytes)
		opt.max_committed_bytes = 64u << 20;
	if (!opt.snapshot_timeout_ticks)
		opt.snapshot_timeout_ticks = 5 * opt.election_tick;
	if (opt.heartbeat_tick >= opt.election_tick)
		return kc_err_set(err, -KC_EINVAL, "raft: heartbeat_tick must be < election_tick");

	struct raft_hard_state hs;
	struct raft_snapshot_meta meta;
	memset(&hs, 0, sizeof hs);
	memset(&meta, 0, sizeof meta);
	int rc = ops->hard_state(o->storage_ctx, &hs);
	if (rc < 0)
		return kc_err_set(err, rc, "raft: reading hard state: %s", kc_strerror(rc));
	rc = ops->snapshot_meta(o->storage_ctx, &meta);
	if (rc < 0)
		return kc_err_set(err, rc, "raft: reading snapshot metadata: %s", kc_strerror(rc));
	if (!raft_conf_valid(&meta.conf))
		return kc_err_set(err, -KC_EINVAL, "raft: invalid configuration in snapshot");
	uint64_t first = ops->first_index(o->storage_ctx), last = ops->last_index(o->storage_ctx);
	if (first == 0 || first > meta.index + 1 || meta.index > last || last + 1 < first)
		return kc_err_set(err, -KC_EINVAL,
				  "raft: inconsistent storage first=%llu last=%llu snapshot=%llu",
				  (unsigned long long)first, (unsigned long long)last,
				  (unsigned long long)meta.index);
	if (o->applied > last || o->applied + 1 < first)
		return kc_err_set(err, -KC_EINVAL,
				  "raft: applied index %llu outside the log [%llu, %llu]; restore the "
				  "state machine from the snapshot first",
				  (unsigned long long)o->applied, (unsigned long long)first,
				  (unsigned long long)last);
	if (hs.commit > last)
		return kc_err_set(err, -KC_EINVAL, "raft: commit index %llu beyond log end %llu",
				  (unsigned long long)hs.commit, (unsigned long long)last);

	struct raft *r = xcalloc(1, sizeof *r);
	r->id = o->id;
	r->opt = opt;
	r->rng = o->seed ^ (o->id * 0xd1342543de82ef95ull);
	kc_vec_init(&r->outbox, sizeof(struct raft_msg));
	kc_vec_init(&r->ready_reads, sizeof(struct raft_read_state));
	kc_vec_init(&r->pending_reads, sizeof(struct raft_read_req));
	kc_vec_init(&r->waiting_reads, sizeof(struct raft_read_req));
	raft_log_init(&r->log, ops, o->storage_ctx);
	raft_confs_init(&r->confs, meta.index, &meta.conf);
	rc = scan_confs(r, meta.index + 1, last, err);
	if (rc < 0) {
		raft_free(r);
		return rc;
	}
	uint64_t committed = hs.commit;
	if (committed < o->applied)
		committed = o->applied;
	if (committed < meta.index)
		committed = meta.index;
	r->log.committed = committed;
	r->log.applied = o->applied;
	r->term = hs.term;
	r->vote = hs.vote;
	r->prev_hs = hs;
	r->durable_hs = hs;
	become_follower(r, r->term, RAFT_NONE);
	r->prev_ss.lead = RAFT_NONE;
	r->prev_ss.role = RAFT_FOLLOWER;
	raft_confs_compact(&r->confs, committed);
	*out = r;
	return 0;
}

void raft_free(struct raft *r)
{
	if (!r)
		return;
	raft_log_free(&r->log);
	raft_confs_free(&r->confs);
	free_progress(r);
	for (size_t i = 0; i < r->outbox.len; i++)
		raft_msg_free(kc_vec_at(&r->outbox, i));
	kc_vec_free(&r->outbox);
	kc_vec_free(&r->ready_reads);
	kc_vec_free(&r->pending_reads);
	kc_vec_free(&r->waiting_reads);
	free(r);
}

static void progress_info(const struct raft_progress *pr, struct raft_progress_info *out)
{
	out->id = pr->id;
	out->role = pr->learner ? RAFT_LEARNER : RAFT_VOTER;
	out->state = pr->state;
	out->match = pr->match;
	out->next = pr->next;
	out->recent_active = pr->recent_active;
}

void raft_status(const struct raft *r, struct raft_status *st)
{
	memset(st, 0, sizeof *st);
	st->id = r->id;
	st->role = r->role;
	st->term = r->term;
	st->vote = r->vote;
	st->lead = r->lead;
	st->commit = r->log.committed;
	st->applied = r->log.applied;
	st->first_index = raft_log_first_index(&r->log);
	st->last_index = raft_log_last_index(&r->log);
	st->lead_transferee = r->lead_transferee;
	st->conf = *conf(r);
	st->conf_index = raft_confs_current_index(&r->confs);
	if (r->role == RAFT_LEADER) {
		st->n_progress = r->n_prs;
		for (size_t i = 0; i < r->n_prs; i++)
			progress_info(&r->prs[i], &st->progress[i]);
	}
}

int raft_progress(const struct raft *r, uint64_t id, struct raft_progress_info *out)
{
	if (r->role != RAFT_LEADER)
		return -KC_EUNAVAIL;
	for (size_t i = 0; i < r->n_prs; i++) {
		if (r->prs[i].id == id) {
			progress_info(&r->prs[i], out);
			return 0;
		}
	}
	return -KC_ENOTFOUND;
}

int raft_log_term_at(struct raft *r, uint64_t index, uint64_t *term)
{
	if (r->log.fatal)
		return r->log.fatal;
	int rc = raft_log_term(&r->log, index, term);
	return r->log.fatal ? r->log.fatal : rc;
}
