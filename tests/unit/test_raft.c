/* Unit tests for store/raft: targeted scenarios (elections, pre-vote, check-quorum, the Figure 8
 * commitment rule, log repair, snapshots, membership, transfer, ReadIndex, the Ready contract)
 * on a tiny in-memory network, plus the codec. The randomized simulation is test_raft_sim.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/vec.h"
#include "store/raft/raft.h"
#include "store/raft/raft_memstore.h"

/* ---- harness ------------------------------------------------------------------------------ */

#define MAXN 8

struct tnode {
	uint64_t id;
	struct raft *r;
	struct raft_memstore *ms;
	struct kc_vec applied; /* struct raft_entry copies, in apply order */
	struct kc_vec reads;   /* struct raft_read_state */
	uint64_t sm_index;     /* state machine's applied index */
	uint64_t snap_index;   /* last snapshot installed from the leader */
};

struct tnet;
/* Decides whether m is delivered; may also rewrite it. */
typedef bool (*tfilter)(struct tnet *net, struct raft_msg *m);

struct tnet {
	struct tnode nodes[MAXN + 1]; /* by id */
	struct kc_vec queue;          /* struct raft_msg in flight */
	bool cut[MAXN + 1][MAXN + 1]; /* [from][to] */
	tfilter filter;
	struct raft_options opt; /* template */
	size_t rejects;          /* APPEND_RESP rejections delivered */
	size_t max_entries_seen; /* most entries in one delivered APPEND */
};

static struct raft_conf voters(size_t n)
{
	struct raft_conf c;
	memset(&c, 0, sizeof c);
	for (size_t i = 0; i < n; i++) {
		c.members[i].id = i + 1;
		c.members[i].role = RAFT_VOTER;
	}
	c.n = n;
	return c;
}

static void node_boot(struct tnet *net, uint64_t id)
{
	struct tnode *nd = &net->nodes[id];
	struct raft_options o = net->opt;
	o.id = id;
	o.storage = &raft_memstore_ops;
	o.storage_ctx = nd->ms;
	o.applied = nd->sm_index;
	o.seed = 1000 + id;
	struct kc_err err;
	kc_err_clear(&err);
	int rc = raft_new(&o, &nd->r, &err);
	if (rc)
		fail_msg("raft_new(%llu): %s", (unsigned long long)id, err.msg);
}

/* A node with its own store; conf NULL = joining node with empty configuration. */
static void node_add(struct tnet *net, uint64_t id, const struct raft_conf *conf)
{
	struct tnode *nd = &net->nodes[id];
	memset(nd, 0, sizeof *nd);
	nd->id = id;
	nd->ms = raft_memstore_new(conf);
	kc_vec_init(&nd->applied, sizeof(struct raft_entry));
	kc_vec_init(&nd->reads, sizeof(struct raft_read_state));
}

static void net_init(struct tnet *net, size_t n)
{
	memset(net, 0, sizeof *net);
	kc_vec_init(&net->queue, sizeof(struct raft_msg));
	raft_options_init(&net->opt);
	struct raft_conf c = voters(n);
	for (uint64_t id = 1; id <= n; id++)
		node_add(net, id, &c);
}

static void net_start(struct tnet *net)
{
	for (uint64_t id = 1; id <= MAXN; id++)
		if (net->nodes[id].ms && !net->nodes[id].r)
			node_boot(net, id);
}

static void net_free(struct tnet *net)
{
	for (uint64_t id = 1; id <= MAXN; id++) {
		struct tnode *nd = &net->nodes[id];
		if (!nd->ms)
			continue;
		raft_free(nd->r);
		raft_memstore_free(nd->ms);
		for (size_t i = 0; i < nd->applied.len; i++)
			free(((struct raft_entry *)kc_vec_at(&nd->applied, i))->data);
		kc_vec_free(&nd->applied);
		kc_vec_free(&nd->reads);
	}
	for (size_t i = 0; i < net->queue.len; i++)
		raft_msg_free(kc_vec_at(&net->queue, i));
	kc_vec_free(&net->queue);
}

static struct raft *R(struct tnet *net, uint64_t id)
{
	return net->nodes[id].r;
}

static void enqueue(struct tnet *net, struct raft_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kc_vec_push(&net->queue, &msgs[i]);
		memset(&msgs[i], 0, sizeof msgs[i]); /* ownership moved to the queue */
	}
}

static void apply_ready(struct tnode *nd, struct raft_ready *rd)
{
	if (rd->snapshot) {
		nd->sm_index = rd->snapshot->meta.index;
		nd->snap_index = rd->snapshot->meta.index;
	}
	for (size_t i = 0; i < rd->n_committed; i++) {
		struct raft_entry copy;
		raft_entry_copy(&copy, &rd->committed[i]);
		assert_int_equal(copy.index, nd->sm_index + 1);
		nd->sm_index = copy.index;
		kc_vec_push(&nd->applied, &copy);
	}
	for (size_t i = 0; i < rd->n_reads; i++)
		kc_vec_push(&nd->reads, &rd->reads[i]);
}

/* Processes one node's Ready completely (persist, send, apply, advance). */
static bool node_ready(struct tnet *net, uint64_t id)
{
	struct tnode *nd = &net->nodes[id];
	if (!nd->r || !raft_has_ready(nd->r))
		return false;
	struct raft_ready rd;
	assert_int_equal(raft_ready(nd->r, &rd), 0);
	enqueue(net, rd.msgs, rd.n_msgs);
	raft_memstore_persist(nd->ms, &rd);
	enqueue(net, rd.msgs_after_persist, rd.n_msgs_after_persist);
	apply_ready(nd, &rd);
	assert_int_equal(raft_advance(nd->r, &rd), 0);
	return true;
}

static bool net_ready(struct tnet *net)
{
	bool any = false;
	for (uint64_t id = 1; id <= MAXN; id++)
		while (node_ready(net, id))
			any = true;
	return any;
}

static void deliver(struct tnet *net, struct raft_msg *m)
{
	struct tnode *to = &net->nodes[m->to];
	if (m->to > MAXN || !to->r || net->cut[m->from][m->to] ||
	    (net->filter && !net->filter(net, m)))
		return;
	if (m->type == RAFT_MSG_APPEND_RESP && m->reject)
		net->rejects++;
	if (m->type == RAFT_MSG_APPEND && m->n_entries > net->max_entries_seen)
		net->max_entries_seen = m->n_entries;
	int rc = raft_step(to->r, m);
	assert_true(rc == 0 || rc == -KC_EPROTO);
}

/* Delivers everything queued now (not what the deliveries produce). */
static bool net_deliver(struct tnet *net)
{
	struct kc_vec q = net->queue;
	kc_vec_init(&net->queue, sizeof(struct raft_msg));
	for (size_t i = 0; i < q.len; i++) {
		struct raft_msg *m = kc_vec_at(&q, i);
		deliver(net, m);
		raft_msg_free(m);
	}
	bool any = q.len > 0;
	kc_vec_free(&q);
	return any;
}

static void net_stabilize(struct tnet *net)
{
	for (int i = 0; i < 1000; i++) {
		bool a = net_ready(net);
		bool b = net_deliver(net);
		if (!a && !b)
			return;
	}
	fail_msg("network did not stabilize");
}

static void net_tick(struct tnet *net, uint64_t id, int n)
{
	for (int i = 0; i < n; i++) {
		assert_int_equal(raft_tick(R(net, id)), 0);
		net_stabilize(net);
	}
}

static void net_tick_all(struct tnet *net, int n)
{
	for (int i = 0; i < n; i++) {
		for (uint64_t id = 1; id <= MAXN; id++)
			if (net->nodes[id].r)
				assert_int_equal(raft_tick(net->nodes[id].r), 0);
		net_stabilize(net);
	}
}

static void isolate(struct tnet *net, uint64_t id, bool on)
{
	for (uint64_t j = 1; j <= MAXN; j++) {
		net->cut[id][j] = on;
		net->cut[j][id] = on;
	}
}

static struct raft_status status(struct tnet *net, uint64_t id)
{
	struct raft_status st;
	raft_status(R(net, id), &st);
	return st;
}

/* Role of 'who' in node id's configuration in force. */
static enum raft_member_role role_in(struct tnet *net, uint64_t id, uint64_t who)
{
	struct raft_status st = status(net, id);
	return raft_conf_role(&st.conf, who);
}

static size_t voters_in(struct tnet *net, uint64_t id)
{
	struct raft_status st = status(net, id);
	return raft_conf_voters(&st.conf);
}

static void elect(struct tnet *net, uint64_t id)
{
	assert_int_equal(raft_campaign(R(net, id)), 0);
	net_stabilize(net);
	assert_int_equal(status(net, id).role, RAFT_LEADER);
}

static uint64_t leader_of(struct tnet *net)
{
	uint64_t lead = 0;
	for (uint64_t id = 1; id <= MAXN; id++) {
		if (net->nodes[id].r && status(net, id).role == RAFT_LEADER) {
			assert_true(lead == 0 || status(net, lead).term != status(net, id).term);
			if (!lead || status(net, id).term > status(net, lead).term)
				lead = id;
		}
	}
	return lead;
}

static struct raft_proposal propose(struct tnet *net, uint64_t id, const char *s)
{
	struct raft_proposal p;
	assert_int_equal(raft_propose(R(net, id), s, strlen(s), &p), 0);
	return p;
}

/* The data applied at index on node id ("" for a NOOP), or NULL if not applied. */
static const struct raft_entry *applied_at(struct tnet *net, uint64_t id, uint64_t index)
{
	struct tnode *nd = &net->nodes[id];
	for (size_t i = 0; i < nd->applied.len; i++) {
		const struct raft_entry *e = kc_vec_at(&nd->applied, i);
		if (e->index == index)
			return e;
	}
	return NULL;
}

static bool applied_data(struct tnet *net, uint64_t id, const char *s)
{
	struct tnode *nd = &net->nodes[id];
	for (size_t i = 0; i < nd->applied.len; i++) {
		const struct raft_entry *e = kc_vec_at(&nd->applied, i);
		if (e->type == RAFT_ENTRY_NORMAL && e->len == strlen(s) && !memcmp(e->data, s, e->len))
			return true;
	}
	return false;
}

/* Preloads node id's store with entries of the given terms at indexes 1.. and a hard state.
 * Index 1 is the bootstrap entry already there (terms[0] must be 1). */
static void preload(struct tnet *net, uint64_t id, const uint64_t *terms, size_t n, uint64_t term)
{
	struct tnode *nd = &net->nodes[id];
	assert_int_equal(terms[0], 1);
	for (size_t i = 1; i < n; i++) {
		char buf[32];
		int len = snprintf(buf, sizeof buf, "n%llu-i%zu-t%llu", (unsigned long long)id, i + 1,
				   (unsigned long long)terms[i]);
		struct raft_entry e = {.term = terms[i], .index = i + 1, .type = RAFT_ENTRY_NORMAL,
				       .len = (size_t)len, .data = (uint8_t *)buf};
		assert_int_equal(raft_memstore_append(nd->ms, &e, 1), 0);
	}
	struct raft_hard_state hs = {.term = term};
	raft_memstore_set_hard_state(nd->ms, &hs);
}

static int setup_quiet(void **state)
{
	(void)state;
	kc_log_set_level(KC_LOG_ERROR);
	return 0;
}

/* ---- elections ---------------------------------------------------------------------------- */

static void test_election_by_timeout(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	net_tick_all(&net, 30);
	uint64_t lead = leader_of(&net);
	assert_true(lead != 0);
	/* everyone agrees, and the leader's NOOP is committed and applied everywhere */
	struct raft_status ls = status(&net, lead);
	for (uint64_t id = 1; id <= 3; id++) {
		struct raft_status st = status(&net, id);
		assert_int_equal(st.lead, lead);
		assert_int_equal(st.term, ls.term);
		assert_int_equal(st.commit, ls.last_index);
		const struct raft_entry *e = applied_at(&net, id, ls.last_index);
		assert_non_null(e);
		assert_int_equal(e->type, RAFT_ENTRY_NOOP);
	}
	net_free(&net);
}

static void test_vote_persisted_before_response(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net.opt.pre_vote = false;
	net_start(&net);
	assert_int_equal(raft_campaign(R(&net, 1)), 0);
	/* the candidate's own vote request waits for its hard state */
	struct raft_ready rd;
	assert_int_equal(raft_ready(R(&net, 1), &rd), 0);
	assert_true(rd.has_hard_state && rd.must_sync);
	assert_int_equal(rd.hs.vote, 1);
	assert_int_equal(rd.n_msgs, 0);
	assert_int_equal(rd.n_msgs_after_persist, 2);
	struct raft_msg req;
	raft_msg_copy(&req, &rd.msgs_after_persist[0]);
	raft_memstore_persist(net.nodes[1].ms, &rd);
	assert_int_equal(raft_advance(R(&net, 1), &rd), 0);

	assert_int_equal(raft_step(R(&net, req.to), &req), 0);
	assert_int_equal(raft_ready(R(&net, req.to), &rd), 0);
	assert_true(rd.has_hard_state && rd.must_sync);
	assert_int_equal(rd.hs.vote, 1);
	assert_int_equal(rd.hs.term, req.term);
	assert_int_equal(rd.n_msgs, 0);
	assert_int_equal(rd.n_msgs_after_persist, 1);
	assert_int_equal(rd.msgs_after_persist[0].type, RAFT_MSG_VOTE_RESP);
	assert_false(rd.msgs_after_persist[0].reject);
	raft_memstore_persist(net.nodes[req.to].ms, &rd);
	assert_int_equal(raft_advance(R(&net, req.to), &rd), 0);

	/* after a restart the vote is still there: a second candidate in that term is refused */
	raft_free(net.nodes[req.to].r);
	node_boot(&net, req.to);
	struct raft_status st = status(&net, req.to);
	assert_int_equal(st.term, req.term);
	assert_int_equal(st.vote, 1);
	struct raft_msg other = req;
	other.from = req.to == 2 ? 3 : 2;
	other.entries = NULL;
	assert_int_equal(raft_step(R(&net, req.to), &other), 0);
	assert_int_equal(raft_ready(R(&net, req.to), &rd), 0);
	assert_int_equal(rd.n_msgs_after_persist, 1);
	assert_true(rd.msgs_after_persist[0].reject);
	assert_int_equal(raft_advance(R(&net, req.to), &rd), 0);
	raft_msg_free(&req);
	net_free(&net);
}

static void test_prevote_prevents_disruption(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	uint64_t term = status(&net, 1).term;
	isolate(&net, 3, true);
	/* node 3 times out again and again: with pre-vote its term never moves */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(raft_tick(R(&net, 3)), 0);
		net_stabilize(&net);
	}
	assert_int_equal(status(&net, 3).term, term);
	assert_int_equal(status(&net, 3).role, RAFT_PRE_CANDIDATE);
	propose(&net, 1, "while-partitioned");
	net_stabilize(&net);
	isolate(&net, 3, false);
	net_tick_all(&net, 5);
	/* the stable leader was not disturbed and node 3 rejoined */
	assert_int_equal(leader_of(&net), 1);
	assert_int_equal(status(&net, 1).term, term);
	assert_int_equal(status(&net, 3).lead, 1);
	assert_true(applied_data(&net, 3, "while-partitioned"));
	net_free(&net);
}

static void test_without_prevote_rejoin_disrupts(void **state)
{
	(void)state;
	/* the contrast case documents why pre-vote is on: the isolated node's term grows */
	struct tnet net;
	net_init(&net, 3);
	net.opt.pre_vote = false;
	net.opt.check_quorum = false;
	net_start(&net);
	elect(&net, 1);
	uint64_t term = status(&net, 1).term;
	isolate(&net, 3, true);
	net_tick(&net, 3, 100);
	assert_true(status(&net, 3).term > term + 2);
	isolate(&net, 3, false);
	net_tick_all(&net, 40);
	assert_true(status(&net, 1).term > term);
	net_free(&net);
}

static void test_check_quorum_step_down(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	isolate(&net, 1, true);
	for (int i = 0; i < 25 && status(&net, 1).role == RAFT_LEADER; i++)
		net_tick(&net, 1, 1);
	assert_int_equal(status(&net, 1).role, RAFT_FOLLOWER);
	assert_int_equal(status(&net, 1).lead, 0);
	/* the majority side elects a new leader; the old one cannot take proposals */
	net_tick_all(&net, 40);
	uint64_t lead = leader_of(&net);
	assert_true(lead == 2 || lead == 3);
	struct raft_proposal p;
	assert_int_equal(raft_propose(R(&net, 1), "x", 1, &p), -KC_EUNAVAIL);
	net_free(&net);
}

static void test_leader_lease_ignores_votes(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	uint64_t term = status(&net, 1).term;
	/* a vote request at a higher term while followers hear the leader is ignored */
	struct raft_msg m = {.type = RAFT_MSG_VOTE, .term = term + 5, .from = 3, .to = 2,
			     .index = 100, .log_term = term + 4};
	assert_int_equal(raft_step(R(&net, 2), &m), 0);
	assert_int_equal(status(&net, 2).term, term);
	assert_false(raft_has_ready(R(&net, 2)));
	/* unless it comes from a leadership transfer */
	m.transfer = true;
	assert_int_equal(raft_step(R(&net, 2), &m), 0);
	assert_int_equal(status(&net, 2).term, term + 5);
	assert_int_equal(status(&net, 2).vote, 3);
	net_free(&net);
}

/* ---- replication -------------------------------------------------------------------------- */

/* Strips entries from index 3 on out of every APPEND. */
static bool strip_index3(struct tnet *net, struct raft_msg *m)
{
	(void)net;
	while (m->n_entries && m->entries[m->n_entries - 1].index >= 3) {
		m->n_entries--;
		free(m->entries[m->n_entries].data);
	}
	return true;
}

static void test_figure8_commit_rule(void **state)
{
	(void)state;
	/* Raft paper Figure 8 (c): S1 leads in term 4 with the term-2 entry at index 2 on a
	 * majority (S1, S2, S3); it must not commit it by counting. */
	struct tnet net;
	net_init(&net, 5);
	net.opt.max_msg_bytes = 1; /* one entry per APPEND */
	const uint64_t t12[] = {1, 2}, t1[] = {1}, t13[] = {1, 3};
	preload(&net, 1, t12, 2, 3);
	preload(&net, 2, t12, 2, 3);
	preload(&net, 3, t1, 1, 3);
	preload(&net, 4, t13, 2, 3);
	preload(&net, 5, t13, 2, 3);
	net_start(&net);
	net.filter = strip_index3;
	elect(&net, 1); /* votes from S2, S3; S4, S5 have a newer last term */
	struct raft_status st = status(&net, 1);
	assert_int_equal(st.term, 4);
	assert_int_equal(st.last_index, 3); /* the NOOP of term 4 */
	uint64_t t;
	assert_int_equal(raft_log_term_at(R(&net, 3), 2, &t), 0);
	assert_int_equal(t, 2); /* index 2 (term 2) is now on every node */
	struct raft_progress_info pi;
	assert_int_equal(raft_progress(R(&net, 1), 4, &pi), 0);
	assert_int_equal(pi.match, 2);
	/* ... yet neither it nor index 1 is committed: no entry of term 4 is on a majority */
	assert_int_equal(status(&net, 1).commit, 0);
	net.filter = NULL;
	net_tick(&net, 1, 2);
	st = status(&net, 1);
	assert_int_equal(st.commit, 3);
	/* S4 and S5's term-3 entry at index 2 was overwritten */
	net_tick(&net, 1, 3);
	for (uint64_t id = 1; id <= 5; id++) {
		assert_int_equal(raft_log_term_at(R(&net, id), 2, &t), 0);
		assert_int_equal(t, 2);
		assert_int_equal(status(&net, id).commit, 3);
	}
	net_free(&net);
}

static void test_log_conflict_repair_fast(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	uint64_t lead_terms[51], stale_terms[101];
	lead_terms[0] = stale_terms[0] = 1;
	for (size_t i = 1; i < 51; i++)
		lead_terms[i] = 3;
	for (size_t i = 1; i < 101; i++)
		stale_terms[i] = 2;
	preload(&net, 1, lead_terms, 51, 3);
	preload(&net, 2, lead_terms, 51, 3);
	preload(&net, 3, stale_terms, 101, 3);
	net_start(&net);
	elect(&net, 1);
	net_tick(&net, 1, 2);
	struct raft_status st = status(&net, 1);
	assert_int_equal(st.commit, 52);
	/* node 3's 100 stale entries are replaced; the term hints made it one rejection */
	assert_int_equal(status(&net, 3).last_index, 52);
	for (uint64_t i = 2; i <= 52; i++) {
		uint64_t t1, t3;
		assert_int_equal(raft_log_term_at(R(&net, 1), i, &t1), 0);
		assert_int_equal(raft_log_term_at(R(&net, 3), i, &t3), 0);
		assert_int_equal(t1, t3);
	}
	assert_true(net.rejects <= 2);
	net_free(&net);
}

static void test_pipelining_leader_counts_itself_after_persist(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	struct raft_proposal p = propose(&net, 1, "p1");
	struct raft_ready rd;
	assert_int_equal(raft_ready(R(&net, 1), &rd), 0);
	/* the APPENDs may go before the leader's own write */
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.n_msgs, 2);
	assert_int_equal(rd.msgs[0].type, RAFT_MSG_APPEND);
	enqueue(&net, rd.msgs, rd.n_msgs);
	/* only node 2 answers while the leader's write is still in flight: no quorum yet */
	net.cut[1][3] = true;
	net_deliver(&net);
	net_ready(&net);
	net_deliver(&net);
	assert_true(status(&net, 1).commit < p.index);
	/* the write completes: leader + node 2 are a quorum */
	raft_memstore_persist(net.nodes[1].ms, &rd);
	assert_int_equal(raft_advance(R(&net, 1), &rd), 0);
	assert_int_equal(status(&net, 1).commit, p.index);
	net.cut[1][3] = false;
	net_stabilize(&net);

	/* and the other way round: both followers answer before the leader's fsync completes */
	p = propose(&net, 1, "p2");
	assert_int_equal(raft_ready(R(&net, 1), &rd), 0);
	enqueue(&net, rd.msgs, rd.n_msgs);
	for (int i = 0; i < 3; i++) {
		net_deliver(&net);
		for (uint64_t id = 2; id <= 3; id++)
			while (node_ready(&net, id)) {
			}
	}
	assert_int_equal(status(&net, 1).commit, p.index);
	/* proposals keep arriving during the write: they form the next batch */
	propose(&net, 1, "p3");
	propose(&net, 1, "p4");
	raft_memstore_persist(net.nodes[1].ms, &rd);
	assert_int_equal(raft_advance(R(&net, 1), &rd), 0);
	assert_int_equal(raft_ready(R(&net, 1), &rd), 0);
	assert_int_equal(rd.n_entries, 2);
	assert_int_equal(rd.n_msgs, 2);
	assert_int_equal(rd.msgs[0].n_entries, 2);
	assert_int_equal(rd.n_committed, 1); /* p2 */
	enqueue(&net, rd.msgs, rd.n_msgs);
	raft_memstore_persist(net.nodes[1].ms, &rd);
	apply_ready(&net.nodes[1], &rd);
	assert_int_equal(raft_advance(R(&net, 1), &rd), 0);
	net_stabilize(&net);
	for (uint64_t id = 1; id <= 3; id++)
		assert_true(applied_data(&net, id, "p4"));
	net_free(&net);
}

static void test_batching_by_bytes(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net.opt.max_msg_bytes = 300;
	net_start(&net);
	elect(&net, 1);
	char buf[101];
	memset(buf, 'a', 100);
	buf[100] = 0;
	for (int i = 0; i < 10; i++)
		propose(&net, 1, buf);
	net_stabilize(&net);
	/* 124 accounted bytes per entry: two fit in 300 */
	assert_int_equal(net.max_entries_seen, 2);
	assert_int_equal(status(&net, 2).commit, status(&net, 1).last_index);
	net_free(&net);
}

static void test_follower_truncation_during_outstanding_ready(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	struct raft *f = R(&net, 2);
	uint8_t d[4] = "abcd";
	/* index 1 is the bootstrap entry every node has */
	struct raft_entry e1[3] = {
		{.term = 2, .index = 2, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = &d[0]},
		{.term = 2, .index = 3, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = &d[1]},
		{.term = 2, .index = 4, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = &d[2]},
	};
	struct raft_msg a = {.type = RAFT_MSG_APPEND, .term = 2, .from = 1, .to = 2, .index = 1,
			     .log_term = 1, .n_entries = 3, .entries = e1};
	assert_int_equal(raft_step(f, &a), 0);
	struct raft_ready rd1;
	assert_int_equal(raft_ready(f, &rd1), 0);
	assert_int_equal(rd1.n_entries, 3);
	/* while entries 2..4 are being written, a new leader replaces 3..4 */
	struct raft_entry e2[2] = {
		{.term = 3, .index = 3, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = &d[3]},
		{.term = 3, .index = 4, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = &d[3]},
	};
	struct raft_msg b = {.type = RAFT_MSG_APPEND, .term = 3, .from = 3, .to = 2, .index = 2,
			     .log_term = 2, .commit = 2, .n_entries = 2, .entries = e2};
	assert_int_equal(raft_step(f, &b), 0);
	struct raft_ready again;
	assert_int_equal(raft_ready(f, &again), -KC_EINVAL); /* one Ready at a time */
	/* the old write completes (the borrowed data is still valid: ASan would say) */
	assert_int_equal(rd1.entries[2].data[0], 'c');
	raft_memstore_persist(net.nodes[2].ms, &rd1);
	assert_int_equal(raft_advance(f, &rd1), 0);
	struct raft_ready rd2;
	assert_int_equal(raft_ready(f, &rd2), 0);
	assert_int_equal(rd2.n_entries, 2);
	assert_int_equal(rd2.entries[0].index, 3);
	assert_int_equal(rd2.entries[0].term, 3);
	raft_memstore_persist(net.nodes[2].ms, &rd2);
	assert_int_equal(raft_advance(f, &rd2), 0);
	assert_int_equal(raft_memstore_last_index(net.nodes[2].ms), 4);
	assert_int_equal(raft_memstore_entry(net.nodes[2].ms, 4)->term, 3);
	assert_int_equal(raft_memstore_entry(net.nodes[2].ms, 2)->term, 2);
	/* the first batch's entries 2..4 were durable-reported only up to 2 */
	assert_int_equal(status(&net, 2).commit, 2);
	net_free(&net);
}

static void test_follower_commit_bounded_by_append(void **state)
{
	(void)state;
	/* a follower holding a stale suffix must not commit past what the APPEND matched */
	struct tnet net;
	net_init(&net, 3);
	const uint64_t stale[] = {1, 2, 2};
	preload(&net, 2, stale, 3, 2);
	net_start(&net);
	struct raft *f = R(&net, 2);
	uint8_t d = 'x';
	struct raft_entry e2 = {.term = 2, .index = 2, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = &d};
	struct raft_msg a = {.type = RAFT_MSG_APPEND, .term = 3, .from = 1, .to = 2, .index = 1,
			     .log_term = 1, .commit = 3, .n_entries = 1, .entries = &e2};
	/* entry 2 of the preload has other data but the same (index, term): in a real cluster
	 * that cannot differ (log matching); raft keeps its copy */
	assert_int_equal(raft_step(f, &a), 0);
	assert_int_equal(status(&net, 2).commit, 2);
	struct raft_entry e3 = {.term = 3, .index = 3, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = &d};
	a.index = 2;
	a.log_term = 2;
	a.entries = &e3;
	assert_int_equal(raft_step(f, &a), 0);
	assert_int_equal(status(&net, 2).commit, 3);
	uint64_t t;
	assert_int_equal(raft_log_term_at(f, 3, &t), 0);
	assert_int_equal(t, 3);
	/* a heartbeat's commit is what the leader knows we hold */
	net_free(&net);
}

static void conf_entry(struct raft_entry *e, uint64_t index, uint64_t term,
		       const struct raft_conf_change *cc, const struct raft_conf *result)
{
	struct kc_str b = KC_STR_INIT;
	raft_conf_change_encode(cc, result, &b);
	e->index = index;
	e->term = term;
	e->type = RAFT_ENTRY_CONF;
	e->data = (uint8_t *)kc_str_detach(&b, &e->len);
}

static void test_conf_rollback_on_truncation(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	struct raft *f = R(&net, 2);
	/* leader 1 (term 2) removes node 2; the entry reaches node 2 but never commits */
	struct raft_conf c = voters(3), without2 = {.n = 2};
	without2.members[0] = c.members[0];
	without2.members[1] = c.members[2];
	struct raft_conf_change cc = {.type = RAFT_CC_REMOVE, .node_id = 2};
	struct raft_entry ce;
	conf_entry(&ce, 2, 2, &cc, &without2);
	struct raft_msg a = {.type = RAFT_MSG_APPEND, .term = 2, .from = 1, .to = 2, .index = 1,
			     .log_term = 1, .n_entries = 1, .entries = &ce};
	assert_int_equal(raft_step(f, &a), 0);
	assert_int_equal(role_in(&net, 2, 2), 0);
	assert_int_equal(status(&net, 2).conf_index, 2);
	net_ready(&net);
	/* not a voter any more: it does not campaign */
	for (int i = 0; i < 40; i++)
		assert_int_equal(raft_tick(f), 0);
	assert_int_equal(status(&net, 2).role, RAFT_FOLLOWER);
	/* leader 3 (term 3) overwrites index 2: the removal is rolled back */
	struct raft_entry noop = {.term = 3, .index = 2, .type = RAFT_ENTRY_NOOP};
	struct raft_msg b = {.type = RAFT_MSG_APPEND, .term = 3, .from = 3, .to = 2, .index = 1,
			     .log_term = 1, .n_entries = 1, .entries = &noop};
	assert_int_equal(raft_step(f, &b), 0);
	assert_int_equal(role_in(&net, 2, 2), RAFT_VOTER);
	assert_int_equal(status(&net, 2).conf_index, 1);
	for (int i = 0; i < 40 && status(&net, 2).role == RAFT_FOLLOWER; i++)
		assert_int_equal(raft_tick(f), 0);
	assert_int_equal(status(&net, 2).role, RAFT_PRE_CANDIDATE);
	free(ce.data);
	net_free(&net);
}

static void test_stale_snapshot_ignored(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	for (int i = 0; i < 10; i++)
		propose(&net, 1, "v");
	net_stabilize(&net);
	struct tnode *n2 = &net.nodes[2];
	uint64_t commit = status(&net, 2).commit;
	struct raft_conf c = voters(3);
	assert_int_equal(raft_memstore_create_snapshot(n2->ms, n2->sm_index, &c, "s2", 2), 0);
	assert_int_equal(raft_memstore_compact(n2->ms, n2->sm_index), 0);
	/* a delayed snapshot from earlier: index 4, below the commit index and compacted here */
	uint64_t t4;
	assert_int_equal(raft_log_term_at(R(&net, 1), 4, &t4), 0);
	struct raft_snapshot old = {.meta = {.index = 4, .term = t4, .conf = c}};
	struct raft_msg m = {.type = RAFT_MSG_SNAPSHOT, .term = status(&net, 1).term, .from = 1,
			     .to = 2, .snapshot = &old};
	assert_int_equal(raft_step(R(&net, 2), &m), 0);
	struct raft_ready rd;
	assert_int_equal(raft_ready(R(&net, 2), &rd), 0);
	assert_null(rd.snapshot);
	assert_int_equal(rd.n_msgs_after_persist, 1);
	assert_int_equal(rd.msgs_after_persist[0].type, RAFT_MSG_APPEND_RESP);
	assert_int_equal(rd.msgs_after_persist[0].index, commit);
	assert_int_equal(raft_advance(R(&net, 2), &rd), 0);
	assert_int_equal(status(&net, 2).commit, commit);
	assert_int_equal(status(&net, 2).first_index, n2->sm_index + 1);
	net_free(&net);
}

static void test_not_leader_hint(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	struct raft_proposal p;
	assert_int_equal(raft_propose(R(&net, 2), "x", 1, &p), -KC_EUNAVAIL);
	assert_int_equal(p.leader, 0);
	elect(&net, 1);
	assert_int_equal(raft_propose(R(&net, 2), "x", 1, &p), -KC_EUNAVAIL);
	assert_int_equal(p.leader, 1);
	assert_int_equal(raft_propose(R(&net, 1), "x", 1, &p), 0);
	assert_int_equal(p.leader, 1);
	assert_int_equal(p.term, status(&net, 1).term);
	net_free(&net);
}

/* ---- snapshots ---------------------------------------------------------------------------- */

static void test_snapshot_catch_up(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	isolate(&net, 3, true);
	for (int i = 0; i < 20; i++) {
		char buf[16];
		snprintf(buf, sizeof buf, "v%d", i);
		propose(&net, 1, buf);
	}
	net_stabilize(&net);
	uint64_t applied = net.nodes[1].sm_index;
	struct raft_conf c = voters(3);
	for (uint64_t id = 1; id <= 2; id++) {
		assert_int_equal(raft_memstore_create_snapshot(net.nodes[id].ms, applied - 2, &c,
							       "state", 5),
				 0);
		assert_int_equal(raft_memstore_compact(net.nodes[id].ms, applied - 2), 0);
	}
	/* the snapshot is still being generated: the leader waits and retries */
	raft_memstore_snapshot_busy(net.nodes[1].ms, true);
	isolate(&net, 3, false);
	net_tick(&net, 1, 3);
	assert_int_equal(net.nodes[3].snap_index, 0);
	raft_memstore_snapshot_busy(net.nodes[1].ms, false);
	net_tick(&net, 1, 3);
	assert_int_equal(net.nodes[3].snap_index, applied - 2);
	const struct raft_snapshot *s = raft_memstore_snapshot(net.nodes[3].ms);
	assert_int_equal(s->meta.index, applied - 2);
	assert_int_equal(s->len, 5);
	assert_memory_equal(s->data, "state", 5);
	assert_int_equal(s->meta.conf.n, 3);
	/* the two trailing entries came as entries, and replication continues */
	assert_true(applied_data(&net, 3, "v19"));
	propose(&net, 1, "after");
	net_stabilize(&net);
	assert_true(applied_data(&net, 3, "after"));
	assert_int_equal(status(&net, 3).commit, status(&net, 1).commit);
	/* node 3 restarts from its snapshot */
	raft_free(net.nodes[3].r);
	node_boot(&net, 3);
	assert_int_equal(status(&net, 3).first_index, applied - 1);
	net_tick(&net, 1, 2);
	assert_int_equal(status(&net, 3).lead, 1);
	net_free(&net);
}

static void test_snapshot_timeout_resend(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net.opt.snapshot_timeout_ticks = 5;
	net_start(&net);
	elect(&net, 1);
	isolate(&net, 3, true);
	for (int i = 0; i < 5; i++)
		propose(&net, 1, "x");
	net_stabilize(&net);
	uint64_t idx = net.nodes[1].sm_index;
	struct raft_conf c = voters(3);
	assert_int_equal(raft_memstore_create_snapshot(net.nodes[1].ms, idx, &c, "s", 1), 0);
	assert_int_equal(raft_memstore_compact(net.nodes[1].ms, idx), 0);
	/* the first snapshot message is lost */
	net.cut[1][3] = false;
	net.cut[3][1] = false;
	net.cut[1][3] = true;
	net_tick(&net, 1, 1);
	net.cut[1][3] = false;
	struct raft_progress_info pi;
	assert_int_equal(raft_progress(R(&net, 1), 3, &pi), 0);
	net_tick(&net, 1, 12);
	assert_int_equal(net.nodes[3].snap_index, idx);
	assert_int_equal(raft_progress(R(&net, 1), 3, &pi), 0);
	assert_int_equal(pi.state, RAFT_PR_REPLICATE);
	net_free(&net);
}

static bool drop_snapshots(struct tnet *net, struct raft_msg *m)
{
	(void)net;
	return m->type != RAFT_MSG_SNAPSHOT;
}

static void test_transport_feedback(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	propose(&net, 1, "x");
	net_stabilize(&net);
	struct raft_progress_info pi;
	assert_int_equal(raft_progress(R(&net, 1), 2, &pi), 0);
	assert_int_equal(pi.state, RAFT_PR_REPLICATE);
	raft_report_unreachable(R(&net, 1), 2);
	assert_int_equal(raft_progress(R(&net, 1), 2, &pi), 0);
	assert_int_equal(pi.state, RAFT_PR_PROBE);
	assert_int_equal(pi.next, pi.match + 1);
	net_tick(&net, 1, 1);
	assert_int_equal(raft_progress(R(&net, 1), 2, &pi), 0);
	assert_int_equal(pi.state, RAFT_PR_REPLICATE);

	/* a snapshot the transport reports failed is retried; one reported installed moves on */
	isolate(&net, 3, true);
	for (int i = 0; i < 5; i++)
		propose(&net, 1, "y");
	net_stabilize(&net);
	uint64_t idx = net.nodes[1].sm_index;
	struct raft_conf c = voters(3);
	assert_int_equal(raft_memstore_create_snapshot(net.nodes[1].ms, idx, &c, "s", 1), 0);
	assert_int_equal(raft_memstore_compact(net.nodes[1].ms, idx), 0);
	isolate(&net, 3, false);
	net.filter = drop_snapshots; /* node 3 answers heartbeats but never gets the snapshot */
	net_tick(&net, 1, 1);
	assert_int_equal(raft_progress(R(&net, 1), 3, &pi), 0);
	assert_int_equal(pi.state, RAFT_PR_SNAPSHOT);
	raft_report_snapshot(R(&net, 1), 3, false);
	assert_int_equal(raft_progress(R(&net, 1), 3, &pi), 0);
	assert_int_equal(pi.state, RAFT_PR_PROBE);
	net.filter = NULL;
	net_tick(&net, 1, 2);
	assert_int_equal(net.nodes[3].snap_index, idx);
	assert_int_equal(raft_progress(R(&net, 1), 3, &pi), 0);
	assert_int_equal(pi.state, RAFT_PR_REPLICATE);
	/* followers ignore transport feedback */
	raft_report_unreachable(R(&net, 2), 1);
	raft_report_snapshot(R(&net, 2), 1, true);
	net_free(&net);
}

/* ---- membership --------------------------------------------------------------------------- */

static struct raft_conf_change cc_of(enum raft_conf_change_type type, uint64_t id)
{
	struct raft_conf_change cc = {.type = type, .node_id = id, .context = (const uint8_t *)"addr",
				      .context_len = 4};
	return cc;
}

static void test_learner_add_promote_remove(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	assert_int_equal(raft_campaign(R(&net, 1)), 0);
	for (int i = 0; i < 10 && status(&net, 1).role != RAFT_LEADER; i++) {
		net_ready(&net);
		net_deliver(&net);
	}
	assert_int_equal(status(&net, 1).role, RAFT_LEADER);
	/* nothing of this term committed yet: no membership change */
	struct raft_conf_change cc = cc_of(RAFT_CC_ADD_LEARNER, 4);
	struct raft_proposal p;
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &cc, &p), -KC_EAGAIN);
	net_stabilize(&net);
	for (int i = 0; i < 30; i++)
		propose(&net, 1, "data");
	net_stabilize(&net);

	node_add(&net, 4, NULL);
	node_boot(&net, 4);
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &cc, &p), 0);
	/* takes effect at once; a second change waits for the first to commit */
	assert_int_equal(role_in(&net, 1, 4), RAFT_LEARNER);
	struct raft_conf_change cc2 = cc_of(RAFT_CC_REMOVE, 2);
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &cc2, NULL), -KC_EAGAIN);
	net_stabilize(&net);
	net_tick(&net, 1, 3);
	struct raft_progress_info pi;
	assert_int_equal(raft_progress(R(&net, 1), 4, &pi), 0);
	assert_int_equal(pi.role, RAFT_LEARNER);
	assert_int_equal(pi.match, status(&net, 1).last_index);
	assert_true(applied_data(&net, 4, "data"));
	/* the learner applied the change and knows the whole membership from the entry */
	const struct raft_entry *ce = applied_at(&net, 4, p.index);
	assert_non_null(ce);
	assert_int_equal(ce->type, RAFT_ENTRY_CONF);
	struct raft_conf_change dc;
	struct raft_conf dconf;
	assert_int_equal(raft_conf_change_decode(ce->data, ce->len, &dc, &dconf, NULL), 0);
	assert_int_equal(dc.type, RAFT_CC_ADD_LEARNER);
	assert_int_equal(dc.context_len, 4);
	assert_memory_equal(dc.context, "addr", 4);
	assert_int_equal(dconf.n, 4);
	/* a learner never campaigns, and is not counted in the quorum */
	net_tick(&net, 4, 50);
	assert_int_equal(status(&net, 4).role, RAFT_FOLLOWER);
	assert_int_equal(leader_of(&net), 1);
	/* bad changes */
	struct raft_conf_change bad = cc_of(RAFT_CC_PROMOTE, 2);
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &bad, NULL), -KC_EINVAL);
	bad = cc_of(RAFT_CC_ADD_LEARNER, 3);
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &bad, NULL), -KC_EINVAL);
	bad = cc_of(RAFT_CC_REMOVE, 7);
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &bad, NULL), -KC_EINVAL);

	/* promote: now 4 voters, quorum 3 */
	cc = cc_of(RAFT_CC_PROMOTE, 4);
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &cc, &p), 0);
	net_stabilize(&net);
	assert_int_equal(voters_in(&net, 4), 4);
	isolate(&net, 2, true);
	isolate(&net, 3, true);
	struct raft_proposal q = propose(&net, 1, "needs-3-of-4");
	net_stabilize(&net);
	assert_true(status(&net, 1).commit < q.index);
	isolate(&net, 3, false);
	net_tick(&net, 1, 2);
	assert_true(status(&net, 1).commit >= q.index);

	/* remove node 2 (still cut off): quorum of {1, 3, 4} is 2 */
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &cc2, &p), 0);
	net_stabilize(&net);
	net_tick(&net, 1, 2);
	assert_true(status(&net, 1).commit >= p.index);
	assert_int_equal(role_in(&net, 1, 2), 0);
	isolate(&net, 3, true);
	q = propose(&net, 1, "two-of-three");
	net_tick(&net, 1, 2);
	assert_true(status(&net, 1).commit >= q.index);
	/* the removed node, once reconnected, cannot disturb the cluster */
	isolate(&net, 3, false);
	isolate(&net, 2, false);
	uint64_t term = status(&net, 1).term;
	net_tick_all(&net, 60);
	assert_int_equal(leader_of(&net), 1);
	assert_int_equal(status(&net, 1).term, term);
	net_free(&net);
}

static void test_remove_self_steps_down(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	struct raft_conf_change cc = cc_of(RAFT_CC_REMOVE, 1);
	struct raft_proposal p;
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &cc, &p), 0);
	/* still leading until the change commits, but no more proposals */
	assert_int_equal(status(&net, 1).role, RAFT_LEADER);
	assert_int_equal(raft_propose(R(&net, 1), "x", 1, NULL), -KC_EUNAVAIL);
	net_stabilize(&net);
	assert_int_equal(status(&net, 1).role, RAFT_FOLLOWER);
	/* it handed leadership over without waiting for an election timeout */
	uint64_t lead = leader_of(&net);
	assert_true(lead == 2 || lead == 3);
	assert_int_equal(role_in(&net, lead, 1), 0);
	propose(&net, lead, "after-removal");
	net_stabilize(&net);
	assert_true(applied_data(&net, lead == 2 ? 3 : 2, "after-removal"));
	/* the removed node never campaigns */
	net_tick(&net, 1, 50);
	assert_int_equal(status(&net, 1).role, RAFT_FOLLOWER);
	net_free(&net);
}

/* ---- leadership transfer ------------------------------------------------------------------ */

static void test_transfer(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	/* target lagging: it is caught up first, then told to campaign */
	isolate(&net, 3, true);
	propose(&net, 1, "a");
	net_stabilize(&net);
	isolate(&net, 3, false);
	assert_int_equal(raft_transfer_leadership(R(&net, 1), 3), 0);
	assert_int_equal(raft_propose(R(&net, 1), "b", 1, NULL), -KC_EAGAIN);
	net_stabilize(&net);
	assert_int_equal(leader_of(&net), 3);
	assert_int_equal(status(&net, 1).lead, 3);
	assert_true(applied_data(&net, 3, "a"));
	assert_int_equal(raft_transfer_leadership(R(&net, 3), 3), -KC_EINVAL);
	assert_int_equal(raft_transfer_leadership(R(&net, 1), 2), -KC_EUNAVAIL);

	/* a target that cannot be reached: aborted after an election timeout */
	isolate(&net, 2, true);
	assert_int_equal(raft_transfer_leadership(R(&net, 3), 2), 0);
	assert_int_equal(raft_propose(R(&net, 3), "c", 1, NULL), -KC_EAGAIN);
	net_tick(&net, 3, 10);
	assert_int_equal(status(&net, 3).lead_transferee, 0);
	assert_int_equal(status(&net, 3).role, RAFT_LEADER);
	propose(&net, 3, "c");
	net_stabilize(&net);
	assert_true(applied_data(&net, 1, "c"));
	net_free(&net);
}

/* ---- ReadIndex ---------------------------------------------------------------------------- */

static bool drop_appends(struct tnet *net, struct raft_msg *m)
{
	(void)net;
	return m->type != RAFT_MSG_APPEND;
}

static const struct raft_read_state *read_of(struct tnet *net, uint64_t id, uint64_t ctx)
{
	struct tnode *nd = &net->nodes[id];
	for (size_t i = 0; i < nd->reads.len; i++) {
		const struct raft_read_state *rs = kc_vec_at(&nd->reads, i);
		if (rs->ctx == ctx)
			return rs;
	}
	return NULL;
}

static void test_read_index(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	/* a leader whose NOOP is not committed yet must not answer from its commit index */
	net.filter = drop_appends;
	elect(&net, 1);
	assert_int_equal(status(&net, 1).commit, 0);
	assert_int_equal(status(&net, 1).last_index, 2);
	assert_int_equal(raft_read_index(R(&net, 1), 7), 0);
	net_stabilize(&net);
	net_tick(&net, 1, 2);
	assert_null(read_of(&net, 1, 7));
	net.filter = NULL;
	net_tick(&net, 1, 1);
	const struct raft_read_state *rs = read_of(&net, 1, 7);
	assert_non_null(rs);
	assert_int_equal(rs->index, 2); /* the NOOP */

	/* a read needs a quorum heartbeat round: not with both followers cut off */
	struct raft_proposal p = propose(&net, 1, "w");
	net_stabilize(&net);
	isolate(&net, 2, true);
	isolate(&net, 3, true);
	assert_int_equal(raft_read_index(R(&net, 1), 8), 0);
	assert_int_equal(raft_read_index(R(&net, 1), 9), 0);
	net_stabilize(&net);
	assert_null(read_of(&net, 1, 8));
	isolate(&net, 3, false);
	net_stabilize(&net); /* the heartbeat was lost; the next tick's round confirms */
	assert_null(read_of(&net, 1, 8));
	net_tick(&net, 1, 1);
	assert_non_null(read_of(&net, 1, 8));
	assert_non_null(read_of(&net, 1, 9));
	assert_int_equal(read_of(&net, 1, 9)->index, p.index);

	/* a follower's read goes through the leader */
	isolate(&net, 2, false);
	net_stabilize(&net);
	assert_int_equal(raft_read_index(R(&net, 2), 11), 0);
	net_stabilize(&net);
	rs = read_of(&net, 2, 11);
	assert_non_null(rs);
	assert_int_equal(rs->index, p.index);
	assert_true(net.nodes[2].sm_index >= rs->index);
	net_free(&net);
}

static void test_read_index_no_leader(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 1);
	net_start(&net);
	assert_int_equal(raft_read_index(R(&net, 1), 1), -KC_EUNAVAIL);
	elect(&net, 1);
	/* a single voter confirms alone */
	assert_int_equal(raft_read_index(R(&net, 1), 2), 0);
	net_stabilize(&net);
	assert_non_null(read_of(&net, 1, 2));
	propose(&net, 1, "solo");
	net_stabilize(&net);
	assert_true(applied_data(&net, 1, "solo"));
	net_free(&net);
}

/* ---- restarts and storage failure --------------------------------------------------------- */

static void test_restart_keeps_state(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	struct raft_conf_change cc = cc_of(RAFT_CC_ADD_LEARNER, 4);
	assert_int_equal(raft_propose_conf_change(R(&net, 1), &cc, NULL), 0);
	propose(&net, 1, "keep");
	net_stabilize(&net);
	uint64_t term = status(&net, 1).term, last = status(&net, 1).last_index;
	for (uint64_t id = 1; id <= 3; id++) {
		raft_free(net.nodes[id].r);
		net.nodes[id].r = NULL;
	}
	net_start(&net);
	for (uint64_t id = 1; id <= 3; id++) {
		struct raft_status st = status(&net, id);
		assert_int_equal(st.term, term);
		assert_int_equal(st.last_index, last);
		assert_int_equal(st.conf.n, 4); /* the configuration came back from the log */
		assert_int_equal(st.role, RAFT_FOLLOWER);
	}
	net_tick_all(&net, 30);
	uint64_t lead = leader_of(&net);
	assert_true(lead >= 1 && lead <= 3);
	propose(&net, lead, "again");
	net_stabilize(&net);
	for (uint64_t id = 1; id <= 3; id++)
		assert_true(applied_data(&net, id, "again"));
	net_free(&net);
}

static void test_storage_failure_poisons(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	elect(&net, 1);
	propose(&net, 1, "x");
	net_stabilize(&net);
	isolate(&net, 3, true);
	propose(&net, 1, "y");
	net_stabilize(&net);
	isolate(&net, 3, false);
	raft_memstore_fail_reads(net.nodes[1].ms, -KC_EIO);
	/* the probe to node 3 needs a term lookup in storage */
	struct raft_progress_info pi;
	assert_int_equal(raft_progress(R(&net, 1), 3, &pi), 0);
	int rc = 0;
	for (int i = 0; i < 5 && rc == 0; i++) {
		rc = raft_tick(R(&net, 1));
		if (rc == 0 && raft_has_ready(R(&net, 1))) {
			struct raft_ready rd;
			rc = raft_ready(R(&net, 1), &rd);
			if (rc == 0) {
				enqueue(&net, rd.msgs, rd.n_msgs);
				raft_memstore_persist(net.nodes[1].ms, &rd);
				enqueue(&net, rd.msgs_after_persist, rd.n_msgs_after_persist);
				raft_advance(R(&net, 1), &rd);
			}
		}
		if (rc == 0) {
			struct kc_vec q = net.queue;
			kc_vec_init(&net.queue, sizeof(struct raft_msg));
			for (size_t k = 0; k < q.len; k++) {
				struct raft_msg *m = kc_vec_at(&q, k);
				struct tnode *to = &net.nodes[m->to];
				int src = raft_step(to->r, m);
				if (m->to == 1 && src)
					rc = src;
				raft_msg_free(m);
			}
			kc_vec_free(&q);
			for (uint64_t id = 2; id <= 3; id++)
				while (node_ready(&net, id)) {
				}
		}
	}
	assert_int_equal(rc, -KC_EIO);
	/* sticky */
	assert_int_equal(raft_tick(R(&net, 1)), -KC_EIO);
	assert_int_equal(raft_propose(R(&net, 1), "z", 1, NULL), -KC_EIO);
	assert_false(raft_has_ready(R(&net, 1)));
	net_free(&net);
}

static void test_bad_storage_rejected(void **state)
{
	(void)state;
	struct raft_conf c = voters(3);
	struct raft_memstore *ms = raft_memstore_new(&c);
	struct raft_options o;
	raft_options_init(&o);
	o.id = 1;
	o.storage = &raft_memstore_ops;
	o.storage_ctx = ms;
	o.applied = 5; /* beyond the (empty) log */
	struct raft *r = NULL;
	struct kc_err err;
	kc_err_clear(&err);
	assert_int_equal(raft_new(&o, &r, &err), -KC_EINVAL);
	assert_null(r);
	assert_true(strstr(err.msg, "applied") != NULL);
	o.applied = 0;
	o.id = 0;
	assert_int_equal(raft_new(&o, &r, NULL), -KC_EINVAL);
	o.id = 1;
	o.heartbeat_tick = 10;
	assert_int_equal(raft_new(&o, &r, NULL), -KC_EINVAL);
	raft_memstore_free(ms);
}

static void test_step_rejects_garbage(void **state)
{
	(void)state;
	struct tnet net;
	net_init(&net, 3);
	net_start(&net);
	struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .term = 1, .from = 2, .to = 3};
	assert_int_equal(raft_step(R(&net, 1), &m), -KC_EPROTO); /* not for us */
	m.to = 1;
	m.from = 0;
	assert_int_equal(raft_step(R(&net, 1), &m), -KC_EPROTO);
	m.from = 2;
	m.type = (enum raft_msg_type)99;
	assert_int_equal(raft_step(R(&net, 1), &m), -KC_EPROTO);
	/* entries that do not follow the prev index */
	struct raft_entry e = {.term = 1, .index = 5, .type = RAFT_ENTRY_NORMAL};
	struct raft_msg a = {.type = RAFT_MSG_APPEND, .term = 1, .from = 2, .to = 1, .n_entries = 1,
			     .entries = &e};
	assert_int_equal(raft_step(R(&net, 1), &a), -KC_EPROTO);
	/* a CONF entry that does not decode */
	uint8_t junk[3] = {1, 9, 9};
	e.index = 2;
	a.index = 1;
	a.log_term = 1;
	e.type = RAFT_ENTRY_CONF;
	e.len = 3;
	e.data = junk;
	assert_int_equal(raft_step(R(&net, 1), &a), -KC_EPROTO);
	assert_int_equal(status(&net, 1).last_index, 1); /* just the bootstrap entry */
	/* indexes that would wrap */
	struct raft_conf c = voters(3);
	struct raft_snapshot huge = {.meta = {.index = UINT64_MAX, .term = 1, .conf = c}};
	struct raft_msg sm = {.type = RAFT_MSG_SNAPSHOT, .term = 1, .from = 2, .to = 1,
			      .snapshot = &huge};
	assert_int_equal(raft_step(R(&net, 1), &sm), -KC_EPROTO);
	m.type = RAFT_MSG_HEARTBEAT;
	m.commit = UINT64_MAX - 1;
	assert_int_equal(raft_step(R(&net, 1), &m), -KC_EPROTO);
	assert_int_equal(status(&net, 1).commit, 0);
	assert_int_equal(status(&net, 1).term, 1);
	net_free(&net);
}

/* ---- codec -------------------------------------------------------------------------------- */

static void assert_msg_equal(const struct raft_msg *a, const struct raft_msg *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->term, b->term);
	assert_int_equal(a->from, b->from);
	assert_int_equal(a->to, b->to);
	assert_int_equal(a->index, b->index);
	assert_int_equal(a->log_term, b->log_term);
	assert_int_equal(a->commit, b->commit);
	assert_int_equal(a->reject_hint, b->reject_hint);
	assert_int_equal(a->ctx, b->ctx);
	assert_int_equal(a->reject, b->reject);
	assert_int_equal(a->transfer, b->transfer);
	assert_int_equal(a->n_entries, b->n_entries);
	for (size_t i = 0; i < a->n_entries; i++) {
		assert_int_equal(a->entries[i].term, b->entries[i].term);
		assert_int_equal(a->entries[i].index, b->entries[i].index);
		assert_int_equal(a->entries[i].type, b->entries[i].type);
		assert_int_equal(a->entries[i].len, b->entries[i].len);
		if (a->entries[i].len)
			assert_memory_equal(a->entries[i].data, b->entries[i].data, a->entries[i].len);
	}
	assert_int_equal(a->snapshot != NULL, b->snapshot != NULL);
	if (a->snapshot) {
		assert_int_equal(a->snapshot->meta.index, b->snapshot->meta.index);
		assert_int_equal(a->snapshot->meta.term, b->snapshot->meta.term);
		assert_memory_equal(&a->snapshot->meta.conf, &b->snapshot->meta.conf,
				    sizeof a->snapshot->meta.conf);
		assert_int_equal(a->snapshot->len, b->snapshot->len);
		assert_memory_equal(a->snapshot->data, b->snapshot->data, a->snapshot->len);
	}
}

static void roundtrip(const struct raft_msg *m)
{
	struct kc_str buf = KC_STR_INIT, again = KC_STR_INIT;
	raft_msg_encode(m, &buf);
	struct raft_msg d;
	struct kc_err err;
	kc_err_clear(&err);
	int rc = raft_msg_decode(buf.buf, buf.len, NULL, &d, &err);
	if (rc)
		fail_msg("decode: %s", err.msg);
	assert_msg_equal(m, &d);
	raft_msg_encode(&d, &again);
	assert_int_equal(buf.len, again.len);
	assert_memory_equal(buf.buf, again.buf, buf.len);
	/* every strict prefix is rejected without leaking or over-reading */
	for (size_t n = 0; n < buf.len; n++) {
		struct raft_msg t;
		assert_int_equal(raft_msg_decode(buf.buf, n, NULL, &t, NULL), -KC_EPARSE);
	}
	/* and so is a trailing byte */
	kc_str_addc(&buf, 0);
	struct raft_msg t;
	assert_int_equal(raft_msg_decode(buf.buf, buf.len, NULL, &t, NULL), -KC_EPARSE);
	raft_msg_free(&d);
	kc_str_free(&buf);
	kc_str_free(&again);
}

static void test_codec_roundtrip(void **state)
{
	(void)state;
	uint8_t big[300];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)i;
	struct raft_entry ents[3] = {
		{.term = 7, .index = 41, .type = RAFT_ENTRY_NORMAL, .len = sizeof big, .data = big},
		{.term = 7, .index = 42, .type = RAFT_ENTRY_NOOP},
		{.term = UINT64_MAX, .index = UINT64_MAX, .type = RAFT_ENTRY_CONF, .len = 1,
		 .data = big},
	};
	struct raft_msg app = {.type = RAFT_MSG_APPEND, .term = 9, .from = 1, .to = 2, .index = 40,
			       .log_term = 6, .commit = 39, .n_entries = 3, .entries = ents};
	roundtrip(&app);
	struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .term = 9, .from = 2, .to = 1,
				.index = 40, .reject = true, .reject_hint = 12, .log_term = 3};
	roundtrip(&resp);
	struct raft_msg vote = {.type = RAFT_MSG_VOTE, .term = 1ull << 40, .from = 3, .to = 1,
				.index = 127, .log_term = 128, .transfer = true};
	roundtrip(&vote);
	struct raft_msg hb = {.type = RAFT_MSG_HEARTBEAT, .term = 2, .from = 1, .to = 3,
			      .commit = 5, .ctx = UINT64_MAX};
	roundtrip(&hb);
	struct raft_snapshot snap = {.meta = {.index = 1000, .term = 8, .conf = voters(5)},
				     .data = big, .len = 200};
	snap.meta.conf.members[4].role = RAFT_LEARNER;
	struct raft_msg sm = {.type = RAFT_MSG_SNAPSHOT, .term = 9, .from = 1, .to = 4,
			      .snapshot = &snap};
	roundtrip(&sm);

	/* entries, configurations, configuration changes */
	struct kc_str b = KC_STR_INIT;
	raft_entry_encode(&ents[0], &b);
	struct raft_entry e;
	assert_int_equal(raft_entry_decode(b.buf, b.len, NULL, &e, NULL), 0);
	assert_int_equal(e.len, sizeof big);
	assert_memory_equal(e.data, big, sizeof big);
	free(e.data);
	struct raft_codec_limits lim = raft_codec_default_limits;
	lim.max_entry_bytes = 100;
	assert_int_equal(raft_entry_decode(b.buf, b.len, &lim, &e, NULL), -KC_ELIMIT);
	kc_str_reset(&b);
	struct raft_conf c = voters(3), c2;
	raft_conf_encode(&c, &b);
	assert_int_equal(raft_conf_decode(b.buf, b.len, &c2, NULL), 0);
	assert_memory_equal(&c, &c2, sizeof c);
	kc_str_reset(&b);
	struct raft_conf_change cc = {.type = RAFT_CC_PROMOTE, .node_id = 3,
				      .context = (const uint8_t *)"10.0.0.3:2380", .context_len = 13};
	raft_conf_change_encode(&cc, &c, &b);
	struct raft_conf_change cc2;
	assert_int_equal(raft_conf_change_decode(b.buf, b.len, &cc2, &c2, NULL), 0);
	assert_int_equal(cc2.type, RAFT_CC_PROMOTE);
	assert_int_equal(cc2.node_id, 3);
	assert_int_equal(cc2.context_len, 13);
	assert_memory_equal(cc2.context, "10.0.0.3:2380", 13);
	assert_memory_equal(&c, &c2, sizeof c);
	struct raft_entry boot;
	assert_int_equal(raft_bootstrap_entry(&c, &boot), 0);
	assert_int_equal(boot.index, 1);
	assert_int_equal(boot.type, RAFT_ENTRY_CONF);
	assert_int_equal(raft_conf_change_decode(boot.data, boot.len, &cc2, &c2, NULL), 0);
	assert_int_equal(cc2.type, RAFT_CC_BOOTSTRAP);
	assert_memory_equal(&c, &c2, sizeof c);
	free(boot.data);
	struct raft_conf empty = {.n = 0};
	assert_int_equal(raft_bootstrap_entry(&empty, &boot), -KC_EINVAL);
	kc_str_free(&b);
}

static void test_codec_rejects(void **state)
{
	(void)state;
	struct raft_msg m;
	struct kc_err err;
	/* wrong version, unknown type, unknown flag */
	const uint8_t v2[] = {2, 1, 0, 1, 1, 2, 0, 0, 0, 0, 0, 0};
	assert_int_equal(raft_msg_decode(v2, sizeof v2, NULL, &m, &err), -KC_EPARSE);
	const uint8_t t99[] = {1, 99, 0, 1, 1, 2, 0, 0, 0, 0, 0, 0};
	assert_int_equal(raft_msg_decode(t99, sizeof t99, NULL, &m, NULL), -KC_EPARSE);
	const uint8_t f8[] = {1, 1, 8, 1, 1, 2, 0, 0, 0, 0, 0, 0};
	assert_int_equal(raft_msg_decode(f8, sizeof f8, NULL, &m, NULL), -KC_EPARSE);
	const uint8_t ok[] = {1, 7, 0, 1, 1, 2, 0, 0, 0, 0, 0, 0};
	assert_int_equal(raft_msg_decode(ok, sizeof ok, NULL, &m, NULL), 0);
	raft_msg_free(&m);
	/* a non-minimal varint (term = 0x80 0x00) and an overlong one */
	const uint8_t nm[] = {1, 7, 0, 0x81, 0x00, 1, 2, 0, 0, 0, 0, 0, 0};
	assert_int_equal(raft_msg_decode(nm, sizeof nm, NULL, &m, NULL), -KC_EPARSE);
	const uint8_t ol[] = {1, 7, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
			      1, 2, 0, 0, 0, 0, 0, 0};
	assert_int_equal(raft_msg_decode(ol, sizeof ol, NULL, &m, NULL), -KC_EPARSE);
	/* entries in a heartbeat; a snapshot flag on an append */
	const uint8_t eh[] = {1, 7, 0, 1, 1, 2, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0};
	assert_int_equal(raft_msg_decode(eh, sizeof eh, NULL, &m, NULL), -KC_EPARSE);
	const uint8_t sa[] = {1, 1, 4, 1, 1, 2, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0};
	assert_int_equal(raft_msg_decode(sa, sizeof sa, NULL, &m, NULL), -KC_EPARSE);
	/* an entry count far beyond the input: refused before allocating */
	const uint8_t many[] = {1, 1, 0, 1, 1, 2, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f};
	assert_int_equal(raft_msg_decode(many, sizeof many, NULL, &m, NULL), -KC_ELIMIT);
	struct raft_codec_limits lim = raft_codec_default_limits;
	lim.max_entries = 1;
	const uint8_t two[] = {1, 1, 0, 1, 1, 2, 0, 0, 0, 0, 0, 2, 1, 1, 1, 0, 1, 2, 1, 0};
	assert_int_equal(raft_msg_decode(two, sizeof two, &lim, &m, NULL), -KC_ELIMIT);
	assert_int_equal(raft_msg_decode(two, sizeof two, NULL, &m, NULL), 0);
	raft_msg_free(&m);
	/* an entry length beyond the input, and beyond the limit */
	const uint8_t el[] = {1, 1, 0, 1, 1, 2, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0x80, 0x01, 'x'};
	assert_int_equal(raft_msg_decode(el, sizeof el, NULL, &m, NULL), -KC_EPARSE);
	lim = raft_codec_default_limits;
	lim.max_entry_bytes = 16;
	assert_int_equal(raft_msg_decode(el, sizeof el, &lim, &m, NULL), -KC_ELIMIT);
	/* an unknown entry type */
	const uint8_t et[] = {1, 1, 0, 1, 1, 2, 0, 0, 0, 0, 0, 1, 1, 1, 9, 0};
	assert_int_equal(raft_msg_decode(et, sizeof et, NULL, &m, NULL), -KC_EPARSE);
	/* snapshots: too big for the limit; configuration with a duplicate or id 0 */
	const uint8_t sb[] = {1, 9, 4, 1, 1, 2, 0, 0, 0, 0, 0, 0, 5, 1, 1, 1, 1, 3, 'a', 'b', 'c'};
	assert_int_equal(raft_msg_decode(sb, sizeof sb, NULL, &m, NULL), 0);
	raft_msg_free(&m);
	lim = raft_codec_default_limits;
	lim.max_snapshot_bytes = 2;
	assert_int_equal(raft_msg_decode(sb, sizeof sb, &lim, &m, NULL), -KC_ELIMIT);
	const uint8_t sd[] = {1, 9, 4, 1, 1, 2, 0, 0, 0, 0, 0, 0, 5, 1, 2, 1, 1, 1, 1, 0};
	assert_int_equal(raft_msg_decode(sd, sizeof sd, NULL, &m, NULL), -KC_EPARSE);
	const uint8_t s0[] = {1, 9, 4, 1, 1, 2, 0, 0, 0, 0, 0, 0, 5, 1, 1, 0, 1, 0};
	assert_int_equal(raft_msg_decode(s0, sizeof s0, NULL, &m, NULL), -KC_EPARSE);
	const uint8_t s17[] = {1, 9, 4, 1, 1, 2, 0, 0, 0, 0, 0, 0, 5, 1, 17};
	assert_int_equal(raft_msg_decode(s17, sizeof s17, NULL, &m, NULL), -KC_ELIMIT);
	/* configuration change with an oversized context or node 0 */
	const uint8_t cz[] = {1, 1, 0, 0, 0};
	struct raft_conf_change cc;
	struct raft_conf c;
	assert_int_equal(raft_conf_change_decode(cz, sizeof cz, &cc, &c, NULL), -KC_EPARSE);
	const uint8_t cl[] = {1, 1, 4, 0x81, 0x10, 0};
	assert_int_equal(raft_conf_change_decode(cl, sizeof cl, &cc, &c, NULL), -KC_ELIMIT);
	assert_int_equal(raft_conf_decode("", 0, &c, NULL), -KC_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_election_by_timeout),
		cmocka_unit_test(test_vote_persisted_before_response),
		cmocka_unit_test(test_prevote_prevents_disruption),
		cmocka_unit_test(test_without_prevote_rejoin_disrupts),
		cmocka_unit_test(test_check_quorum_step_down),
		cmocka_unit_test(test_leader_lease_ignores_votes),
		cmocka_unit_test(test_figure8_commit_rule),
		cmocka_unit_test(test_log_conflict_repair_fast),
		cmocka_unit_test(test_pipelining_leader_counts_itself_after_persist),
		cmocka_unit_test(test_batching_by_bytes),
		cmocka_unit_test(test_follower_truncation_during_outstanding_ready),
		cmocka_unit_test(test_follower_commit_bounded_by_append),
		cmocka_unit_test(test_conf_rollback_on_truncation),
		cmocka_unit_test(test_stale_snapshot_ignored),
		cmocka_unit_test(test_not_leader_hint),
		cmocka_unit_test(test_snapshot_catch_up),
		cmocka_unit_test(test_snapshot_timeout_resend),
		cmocka_unit_test(test_transport_feedback),
		cmocka_unit_test(test_learner_add_promote_remove),
		cmocka_unit_test(test_remove_self_steps_down),
		cmocka_unit_test(test_transfer),
		cmocka_unit_test(test_read_index),
		cmocka_unit_test(test_read_index_no_leader),
		cmocka_unit_test(test_restart_keeps_state),
		cmocka_unit_test(test_storage_failure_poisons),
		cmocka_unit_test(test_bad_storage_rejected),
		cmocka_unit_test(test_step_rejects_garbage),
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_codec_rejects),
	};
	return cmocka_run_group_tests(tests, setup_quiet, NULL);
}
