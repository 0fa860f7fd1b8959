/* Deterministic simulation of store/raft clusters: seeded runs of 3- and 5-node clusters over an
 * in-memory network with partitions (random halves, an isolated leader, a bridge node, a
 * majorities ring, one-way links), drops, duplicates, reordering and delays; crashes that lose
 * whatever was not persisted, restarts, asynchronous persistence (raft keeps running while a
 * Ready is being "written"), snapshots with log compaction, random proposals, ReadIndex reads,
 * leadership transfers and membership changes (learners added, promoted, members removed,
 * the leader included). Every message travels through raft_msg_encode/decode.
 *
 * Checked after every step: election safety (at most one leader per term), log matching (an
 * (index, term) pair always names the same entry with the same predecessor term), agreement on
 * committed entries (every node's commit index covers the same terms), leader completeness
 * (a new leader holds every entry committed so far), state-machine safety (the applied
 * sequence, hashed, is the same at every index on every node), ReadIndex linearizability (a
 * read returns an index >= everything committed before it was issued). At the end the network
 * heals, every node restarts, and everything acknowledged must be applied on every member.
 *
 * KC_RAFT_SIM_RUNS=n (default 300), KC_RAFT_SIM_SEED_BASE=b (runs use seeds b, b+1, ...),
 * KC_RAFT_SIM_SEED=s (one run), KC_RAFT_SIM_STEPS=n (default 2000 per run),
 * KC_RAFT_SIM_TRACE=1 (events on stderr). A failure prints the seed that reproduces it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/str.h"
#include "lib/vec.h"
#include "store/raft/raft.h"
#include "store/raft/raft_memstore.h"

#define SIM_MAX 9 /* node ids 1..9; ids are never reused */

struct sim_node {
	uint64_t id;
	bool exists;
	bool up;
	struct raft *r;
	struct raft_memstore *ms; /* the disk: survives crashes */
	/* the state machine (durable once applied): a hash chain over the applied entries */
	uint64_t sm_index;
	uint64_t sm_hash;
	struct raft_conf sm_conf;
	/* a Ready being persisted asynchronously */
	bool rd_pending;
	struct raft_ready rd;
	uint64_t rd_done;
	unsigned tick_every;
	unsigned tick_phase;
	uint64_t checked_commit;
	enum raft_role last_role;
	uint64_t last_term;
};

struct sim_msg {
	uint64_t at;
	uint64_t from;
	uint64_t to;
	struct kc_str bytes;
};

struct sim_commit {
	uint64_t term;      /* 0 = unknown */
	uint64_t hash;      /* state-machine hash after applying this index; 0 = unknown */
	bool has_hash;
};

struct sim_seen {
	uint64_t data_hash;
	uint64_t prev_term;
};

struct sim_prop {
	uint64_t index;
	uint64_t term;
	uint64_t data_hash;
	bool acked;
};

struct sim_read {
	uint64_t node;
	uint64_t min_index;
	bool done;
};

struct sim {
	uint64_t seed;
	uint64_t rng;
	uint64_t now;
	uint64_t steps;
	size_t n_initial;
	bool trace;
	struct sim_node nodes[SIM_MAX + 1];
	uint64_t next_id;
	bool link[SIM_MAX + 1][SIM_MAX + 1]; /* [from][to] */
	/* this run's fault profile (per mille per step or per message) */
	unsigned drop_pm, dup_pm, max_delay;
	unsigned long_delay_pm; /* messages held for up to 200 steps: stale arrivals */
	unsigned crash_pm, restart_pm;
	unsigned write_delay;   /* a Ready's write takes 0..write_delay steps */
	struct kc_vec net;       /* struct sim_msg */
	struct kc_vec committed; /* struct sim_commit, by index */
	struct kc_vec leaders;   /* uint64_t leader id, by term */
	struct kc_map seen;      /* (index, term) -> struct sim_seen */
	struct kc_vec props;     /* struct sim_prop */
	struct kc_map prop_by_id; /* (index, term) -> props index + 1 */
	struct kc_vec reads;     /* struct sim_read, by ctx - 1 */
	uint64_t payloads;
	uint64_t max_commit; /* highest commit index any node ever reported */
	struct raft_options opt;
	/* statistics */
	unsigned n_leaders, n_crashes, n_snap_installs, n_snap_taken, n_conf, n_transfers;
	unsigned n_reads_ok, n_acked, n_partitions;
};

static struct {
	unsigned runs;
	unsigned long long total_steps;
	unsigned leaders, crashes, snaps, confs, transfers, reads, acked, partitions;
} totals;

/* ---- utilities ---------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct sim *s)
{
	return mix64(s->rng += 0x9e3779b97f4a7c15ull);
}

static uint64_t below(struct sim *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

static bool chance(struct sim *s, unsigned per_mille)
{
	return below(s, 1000) < per_mille;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return mix64(h ^ n);
}

static void trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(struct sim *s, const char *fmt, ...)
{
	if (!s->trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[%6" PRIu64 "] ", s->now);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void dump(struct sim *s);

#define SIM_FAIL(s, ...)                                                                           \
	do {                                                                                       \
		dump(s);                                                                           \
		fprintf(stderr, "raft sim FAILED seed=%" PRIu64 " step=%" PRIu64 ": ", (s)->seed,  \
			(s)->now);                                                                 \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fprintf(stderr, "\n  reproduce: KC_RAFT_SIM_SEED=%" PRIu64 " KC_RAFT_SIM_TRACE=1 " \
				"build/asan-raft/test_raft_sim\n",                                 \
			(s)->seed);                                                                \
		fail();                                                                            \
	} while (0)

static struct sim_commit *commit_rec(struct sim *s, uint64_t index)
{
	while (s->committed.len <= index)
		kc_vec_push(&s->committed, NULL);
	return kc_vec_at(&s->committed, (size_t)index);
}

static void key2(uint8_t key[16], uint64_t a, uint64_t b)
{
	memcpy(key, &a, 8);
	memcpy(key + 8, &b, 8);
}

static uint64_t ms_term(struct raft_memstore *ms, uint64_t index)
{
	uint64_t t = 0;
	if (raft_memstore_ops.term(ms, index, &t) != 0)
		return UINT64_MAX;
	return t;
}

static uint64_t entry_hash(uint64_t prev, const struct raft_entry *e)
{
	uint64_t h = hash_bytes(e->data, e->len);
	return mix64(prev ^ mix64(e->index * 31 + e->term) ^ mix64(h + (uint64_t)e->type));
}

/* ---- nodes -------------------------------------------------------------------------------- */

static void node_boot(struct sim *s, struct sim_node *n)
{
	struct raft_options o = s->opt;
	o.id = n->id;
	o.storage = &raft_memstore_ops;
	o.storage_ctx = n->ms;
	o.applied = n->sm_index;
	o.seed = rnd(s);
	struct kc_err err;
	kc_err_clear(&err);
	if (raft_new(&o, &n->r, &err) != 0)
		SIM_FAIL(s, "node %" PRIu64 " cannot start: %s", n->id, err.msg);
	n->up = true;
	n->last_role = RAFT_FOLLOWER;
	n->checked_commit = 0;
}

static void node_create(struct sim *s, uint64_t id, const struct raft_conf *bootstrap)
{
	struct sim_node *n = &s->nodes[id];
	memset(n, 0, sizeof *n);
	n->id = id;
	n->exists = true;
	n->ms = raft_memstore_new(bootstrap);
	n->tick_every = 9 + (unsigned)below(s, 3); /* a little clock skew */
	n->tick_phase = (unsigned)below(s, n->tick_every);
	node_boot(s, n);
}

static void node_crash(struct sim *s, struct sim_node *n)
{
	if (n->rd_pending) {
		raft_ready_free(&n->rd); /* never persisted: lost */
		n->rd_pending = false;
	}
	raft_free(n->r);
	n->r = NULL;
	n->up = false;
	s->n_crashes++;
	trace(s, "crash %" PRIu64, n->id);
}

static struct raft_status node_status(struct sim_node *n)
{
	struct raft_status st;
	raft_status(n->r, &st);
	return st;
}

/* The cluster as each node sees it, for failure reports. */
static void dump(struct sim *s)
{
	for (uint64_t id = 1; id <= SIM_MAX; id++) {
		struct sim_node *n = &s->nodes[id];
		if (!n->exists)
			continue;
		if (!n->up) {
			fprintf(stderr, "  node %" PRIu64 ": down, sm=%" PRIu64 "\n", id, n->sm_index);
			continue;
		}
		struct raft_status st;
		raft_status(n->r, &st);
		fprintf(stderr,
			"  node %" PRIu64 ": %s term=%" PRIu64 " vote=%" PRIu64 " lead=%" PRIu64
			" commit=%" PRIu64 " applied=%" PRIu64 " log=[%" PRIu64 ",%" PRIu64 "] sm=%" PRIu64
			" pending=%d conf@%" PRIu64 "={",
			id, raft_role_name(st.role), st.term, st.vote, st.lead, st.commit, st.applied,
			st.first_index, st.last_index, n->sm_index, n->rd_pending, st.conf_index);
		for (size_t i = 0; i < st.conf.n; i++)
			fprintf(stderr, " %" PRIu64 "%s", st.conf.members[i].id,
				st.conf.members[i].role == RAFT_LEARNER ? "L" : "");
		fprintf(stderr, " }\n");
		for (size_t i = 0; i < st.n_progress; i++)
			fprintf(stderr,
				"      pr %" PRIu64 " state=%d match=%" PRIu64 " next=%" PRIu64
				" active=%d\n",
				st.progress[i].id, (int)st.progress[i].state, st.progress[i].match,
				st.progress[i].next, st.progress[i].recent_active);
	}
}

/* ---- network ------------------------------------------------------------------------------ */

static void net_push(struct sim *s, uint64_t from, uint64_t to, const struct kc_str *bytes)
{
	struct sim_msg *sm = kc_vec_push(&s->net, NULL);
	sm->at = s->now + 1 + below(s, s->max_delay);
	if (chance(s, s->long_delay_pm))
		sm->at += below(s, 200);
	sm->from = from;
	sm->to = to;
	kc_str_init(&sm->bytes);
	kc_str_add(&sm->bytes, bytes->buf, bytes->len);
}

/* Sends m (contents freed here) through the codec. */
static void net_send(struct sim *s, struct raft_msg *m)
{
	struct kc_str b = KC_STR_INIT;
	raft_msg_encode(m, &b);
	if (!chance(s, s->drop_pm)) {
		net_push(s, m->from, m->to, &b);
		if (chance(s, s->dup_pm))
			net_push(s, m->from, m->to, &b);
	}
	kc_str_free(&b);
	raft_msg_free(m);
}

static void net_deliver(struct sim *s)
{
	size_t keep = 0;
	struct kc_vec due;
	kc_vec_init(&due, sizeof(struct sim_msg));
	for (size_t i = 0; i < s->net.len; i++) {
		struct sim_msg *sm = kc_vec_at(&s->net, i);
		if (sm->at <= s->now)
			kc_vec_push(&due, sm);
		else
			*(struct sim_msg *)kc_vec_at(&s->net, keep++) = *sm;
	}
	s->net.len = keep;
	for (size_t i = 0; i < due.len; i++) {
		struct sim_msg *sm = kc_vec_at(&due, i);
		struct sim_node *to = sm->to <= SIM_MAX ? &s->nodes[sm->to] : NULL;
		if (to && to->up && s->link[sm->from][sm->to]) {
			struct raft_msg m;
			struct kc_err err;
			kc_err_clear(&err);
			if (raft_msg_decode(sm->bytes.buf, sm->bytes.len, NULL, &m, &err) != 0)
				SIM_FAIL(s, "codec round trip failed: %s", err.msg);
			int rc = raft_step(to->r, &m);
			if (rc != 0)
				SIM_FAIL(s, "node %" PRIu64 " step %s from %" PRIu64 ": %s", to->id,
					 raft_msg_type_name(m.type), m.from, kc_strerror(rc));
			raft_msg_free(&m);
		}
		kc_str_free(&sm->bytes);
	}
	kc_vec_free(&due);
}

static void heal(struct sim *s)
{
	for (size_t i = 0; i <= SIM_MAX; i++)
		for (size_t j = 0; j <= SIM_MAX; j++)
			s->link[i][j] = true;
}

static size_t existing_ids(struct sim *s, uint64_t *ids)
{
	size_t n = 0;
	for (uint64_t id = 1; id <= SIM_MAX; id++)
		if (s->nodes[id].exists)
			ids[n++] = id;
	return n;
}

static uint64_t current_leader(struct sim *s)
{
	uint64_t best = 0, best_term = 0;
	for (uint64_t id = 1; id <= SIM_MAX; id++) {
		struct sim_node *n = &s->nodes[id];
		if (!n->up)
			continue;
		struct raft_status st = node_status(n);
		if (st.role == RAFT_LEADER && st.term >= best_term) {
			best = id;
			best_term = st.term;
		}
	}
	return best;
}

static void partition(struct sim *s)
{
	uint64_t ids[SIM_MAX];
	size_t n = existing_ids(s, ids);
	for (size_t i = n; i > 1; i--) { /* shuffle */
		size_t j = (size_t)below(s, i);
		uint64_t t = ids[i - 1];
		ids[i - 1] = ids[j];
		ids[j] = t;
	}
	heal(s);
	s->n_partitions++;
	switch (below(s, 6)) {
	case 0: /* heal */
		trace(s, "partition: healed");
		return;
	case 1: { /* isolate the leader (or anyone): a minority-isolated leader */
		uint64_t victim = current_leader(s);
		if (!victim)
			victim = ids[0];
		for (uint64_t j = 0; j <= SIM_MAX; j++)
			s->link[victim][j] = s->link[j][victim] = false;
		trace(s, "partition: isolate %" PRIu64, victim);
		return;
	}
	case 2: { /* random halves */
		size_t cut = 1 + (size_t)below(s, n - 1);
		for (size_t a = 0; a < cut; a++)
			for (size_t b = cut; b < n; b++)
				s->link[ids[a]][ids[b]] = s->link[ids[b]][ids[a]] = false;
		trace(s, "partition: halves at %zu", cut);
		return;
	}
	case 3: { /* bridge: two sides that only ids[0] connects */
		size_t cut = 1 + n / 2;
		for (size_t a = 1; a < cut; a++)
			for (size_t b = cut; b < n; b++)
				s->link[ids[a]][ids[b]] = s->link[ids[b]][ids[a]] = false;
		trace(s, "partition: bridge via %" PRIu64, ids[0]);
		return;
	}
	case 4: /* majorities ring: each node reaches only its ring neighbours */
		for (size_t a = 0; a < n; a++)
			for (size_t b = 0; b < n; b++) {
				size_t d = a > b ? a - b : b - a;
				if (d > 1 && d != n - 1)
					s->link[ids[a]][ids[b]] = false;
			}
		trace(s, "partition: ring");
		return;
	default: /* a few one-way links */
		for (int k = 0; k < 3; k++) {
			uint64_t a = ids[below(s, n)], b = ids[below(s, n)];
			s->link[a][b] = false;
		}
		trace(s, "partition: one-way links");
		return;
	}
}

/* ---- checks ------------------------------------------------------------------------------- */

static void check_persisted(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
	/* log matching, inductively: (index, term) always names the same data and the same
	 * predecessor term */
	for (size_t i = 0; i < rd->n_entries; i++) {
		const struct raft_entry *e = &rd->entries[i];
		uint64_t prev = ms_term(n->ms, e->index - 1);
		uint8_t key[16];
		key2(key, e->index, e->term);
		struct sim_seen *seen = kc_map_get(&s->seen, key, sizeof key);
		uint64_t dh = hash_bytes(e->data, e->len) ^ (uint64_t)e->type;
		if (!seen) {
			seen = xmalloc(sizeof *seen);
			seen->data_hash = dh;
			seen->prev_term = prev;
			kc_map_put(&s->seen, key, sizeof key, seen);
		} else if (seen->data_hash != dh || seen->prev_term != prev) {
			SIM_FAIL(s, "log matching: node %" PRIu64 " entry (%" PRIu64 ", %" PRIu64
				 ") differs (prev term %" PRIu64 " vs %" PRIu64 ")",
				 n->id, e->index, e->term, prev, seen->prev_term);
		}
	}
}

static void apply_entry(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
	if (e->index != n->sm_index + 1)
		SIM_FAIL(s, "node %" PRIu64 " applies %" PRIu64 " after %" PRIu64, n->id, e->index,
			 n->sm_index);
	uint64_t h = entry_hash(n->sm_hash, e);
	struct sim_commit *c = commit_rec(s, e->index);
	if (c->term && c->term != e->term)
		SIM_FAIL(s, "node %" PRIu64 " applies term %" PRIu64 " at %" PRIu64
			 ", committed term is %" PRIu64, n->id, e->term, e->index, c->term);
	if (c->has_hash && c->hash != h)
		SIM_FAIL(s, "state machine safety: node %" PRIu64 " diverges at %" PRIu64, n->id,
			 e->index);
	c->term = e->term;
	c->hash = h;
	c->has_hash = true;
	n->sm_index = e->index;
	n->sm_hash = h;
	if (e->type == RAFT_ENTRY_CONF) {
		struct raft_conf_change cc;
		if (raft_conf_change_decode(e->data, e->len, &cc, &n->sm_conf, NULL) != 0)
			SIM_FAIL(s, "bad CONF entry at %" PRIu64, e->index);
	}
	uint8_t key[16];
	key2(key, e->index, e->term);
	uintptr_t pi = (uintptr_t)kc_map_get(&s->prop_by_id, key, sizeof key);
	if (pi) {
		struct sim_prop *p = kc_vec_at(&s->props, pi - 1);
		if (p->data_hash != hash_bytes(e->data, e->len))
			SIM_FAIL(s, "proposal at (%" PRIu64 ", %" PRIu64 ") applied other data",
				 e->index, e->term);
		if (!p->acked)
			s->n_acked++;
		p->acked = true;
	}
}

static void install_snapshot(struct sim *s, struct sim_node *n, const struct raft_snapshot *snap)
{
	uint64_t idx, h;
	if (snap->len != 16)
		SIM_FAIL(s, "snapshot data of %zu bytes", snap->len);
	memcpy(&idx, snap->data, 8);
	memcpy(&h, snap->data + 8, 8);
	if (idx != snap->meta.index)
		SIM_FAIL(s, "snapshot index %" PRIu64 " carries state of %" PRIu64, snap->meta.index,
			 idx);
	struct sim_commit *c = commit_rec(s, idx);
	if (!c->has_hash || c->hash != h || c->term != snap->meta.term)
		SIM_FAIL(s, "node %" PRIu64 " installs a snapshot at %" PRIu64
			 " that no node applied that way", n->id, idx);
	if (idx < n->sm_index)
		SIM_FAIL(s, "node %" PRIu64 " snapshot %" PRIu64 " goes back from %" PRIu64, n->id,
			 idx, n->sm_index);
	n->sm_index = idx;
	n->sm_hash = h;
	n->sm_conf = snap->meta.conf;
	s->n_snap_installs++;
	trace(s, "node %" PRIu64 " installed snapshot %" PRIu64, n->id, idx);
}

static void check_read(struct sim *s, struct sim_node *n, const struct raft_read_state *rs)
{
	if (rs->ctx == 0 || rs->ctx > s->reads.len)
		SIM_FAIL(s, "unknown read ctx %" PRIu64, rs->ctx);
	struct sim_read *rd = kc_vec_at(&s->reads, (size_t)(rs->ctx - 1));
	/* a duplicated request or answer may report a read twice: each must be fresh enough */
	if (rd->node != n->id)
		SIM_FAIL(s, "read %" PRIu64 " answered to the wrong node", rs->ctx);
	if (rs->index < rd->min_index)
		SIM_FAIL(s, "stale read: index %" PRIu64 " but %" PRIu64
			 " was committed before the read", rs->index, rd->min_index);
	rd->done = true;
	s->n_reads_ok++;
}

static void check_leader_completeness(struct sim *s, struct sim_node *n)
{
	uint64_t first = node_status(n).first_index;
	for (uint64_t i = 1; i < s->committed.len; i++) {
		const struct sim_commit *c = kc_vec_at(&s->committed, (size_t)i);
		if (!c->term)
			continue;
		uint64_t t;
		int rc = raft_log_term_at(n->r, i, &t);
		if (rc == -KC_ENOTFOUND && i < first)
			continue; /* compacted into the snapshot, checked below */
		if (rc != 0 || t != c->term)
			SIM_FAIL(s, "leader completeness: new leader %" PRIu64 " lacks committed entry %"
				 PRIu64 " (term %" PRIu64 ")", n->id, i, c->term);
	}
}

static void check_step(struct sim *s)
{
	for (uint64_t id = 1; id <= SIM_MAX; id++) {
		struct sim_node *n = &s->nodes[id];
		if (!n->up)
			continue;
		struct raft_status st = node_status(n);
		if (st.role == RAFT_LEADER) {
			while (s->leaders.len <= st.term)
				kc_vec_push(&s->leaders, NULL);
			uint64_t *l = kc_vec_at(&s->leaders, (size_t)st.term);
			if (*l && *l != id)
				SIM_FAIL(s, "election safety: %" PRIu64 " and %" PRIu64
					 " both lead term %" PRIu64, *l, id, st.term);
			if (!*l) {
				*l = id;
				s->n_leaders++;
				trace(s, "node %" PRIu64 " leads term %" PRIu64, id, st.term);
			}
			if (n->last_role != RAFT_LEADER || n->last_term != st.term)
				check_leader_completeness(s, n);
			/* a leader outside its configuration only while its removal is uncommitted */
			if (!raft_conf_role(&st.conf, id) && st.commit >= st.conf_index)
				SIM_FAIL(s, "removed leader %" PRIu64 " still leads", id);
		}
		n->last_role = st.role;
		n->last_term = st.term;
		/* every node agrees on the terms of what it considers committed */
		for (uint64_t i = n->checked_commit + 1; i <= st.commit; i++) {
			uint64_t t;
			if (raft_log_term_at(n->r, i, &t) != 0)
				continue;
			struct sim_commit *c = commit_rec(s, i);
			if (c->term && c->term != t)
				SIM_FAIL(s, "node %" PRIu64 " committed term %" PRIu64 " at %" PRIu64
					 ", others %" PRIu64, id, t, i, c->term);
			c->term = t;
		}
		if (st.commit > n->checked_commit)
			n->checked_commit = st.commit;
		if (st.commit > s->max_commit)
			s->max_commit = st.commit;
	}
}

/* ---- the Ready loop ----------------------------------------------------------------------- */

static void send_all(struct sim *s, struct raft_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		net_send(s, &msgs[i]);
}

static void complete_ready(struct sim *s, struct sim_node *n)
{
	struct raft_ready *rd = &n->rd;
	raft_memstore_persist(n->ms, rd);
	check_persisted(s, n, rd);
	send_all(s, rd->msgs_after_persist, rd->n_msgs_after_persist);
	if (rd->snapshot)
		install_snapshot(s, n, rd->snapshot);
	for (size_t i = 0; i < rd->n_committed; i++)
		apply_entry(s, n, &rd->committed[i]);
	for (size_t i = 0; i < rd->n_reads; i++)
		check_read(s, n, &rd->reads[i]);
	if (raft_advance(n->r, rd) != 0)
		SIM_FAIL(s, "advance failed on %" PRIu64, n->id);
	n->rd_pending = false;
}

static void node_io(struct sim *s, struct sim_node *n)
{
	if (n->rd_pending && s->now >= n->rd_done)
		complete_ready(s, n);
	if (n->rd_pending || !raft_has_ready(n->r))
		return;
	if (raft_ready(n->r, &n->rd) != 0)
		SIM_FAIL(s, "ready failed on %" PRIu64, n->id);
	send_all(s, n->rd.msgs, n->rd.n_msgs); /* may leave before the write completes */
	n->rd_pending = true;
	n->rd_done = s->now + (chance(s, 400) ? 0 : below(s, s->write_delay + 1));
	if (n->rd_done == s->now)
		complete_ready(s, n);
}

/* ---- workload ----------------------------------------------------------------------------- */

static struct sim_node *random_up(struct sim *s)
{
	uint64_t ids[SIM_MAX];
	size_t k = 0;
	for (uint64_t id = 1; id <= SIM_MAX; id++)
		if (s->nodes[id].up)
			ids[k++] = id;
	return k ? &s->nodes[ids[below(s, k)]] : NULL;
}

static void do_propose(struct sim *s, struct sim_node *n)
{
	char buf[600];
	size_t len = (size_t)snprintf(buf, 64, "s%" PRIu64 "-p%" PRIu64 "-", s->seed, ++s->payloads);
	size_t extra = chance(s, 50) ? 300 + (size_t)below(s, 200) : (size_t)below(s, 40);
	for (size_t i = 0; i < extra; i++)
		buf[len++] = (char)('a' + below(s, 26));
	struct raft_proposal p;
	if (raft_propose(n->r, buf, len, &p) != 0)
		return;
	struct sim_prop *sp = kc_vec_push(&s->props, NULL);
	sp->index = p.index;
	sp->term = p.term;
	sp->data_hash = hash_bytes(buf, len);
	uint8_t key[16];
	key2(key, p.index, p.term);
	kc_map_put(&s->prop_by_id, key, sizeof key, (void *)(uintptr_t)s->props.len);
}

static void do_read(struct sim *s, struct sim_node *n)
{
	struct sim_read *rd = kc_vec_push(&s->reads, NULL);
	rd->node = n->id;
	check_step(s); /* everything committed so far, including this step's */
	rd->min_index = s->max_commit;
	if (raft_read_index(n->r, s->reads.len) != 0)
		rd->done = true; /* refused: nothing to check */
}

static void do_conf_change(struct sim *s, struct sim_node *lead)
{
	struct raft_status st = node_status(lead);
	struct raft_conf_change cc = {.context = (const uint8_t *)"10.0.0.1:2380", .context_len = 13};
	uint64_t candidates[RAFT_MAX_MEMBERS];
	size_t k = 0;
	/* learners that caught up are usually promoted next, as an operator would */
	for (size_t i = 0; i < st.conf.n; i++) {
		struct raft_progress_info pi;
		if (st.conf.members[i].role == RAFT_LEARNER &&
		    raft_progress(lead->r, st.conf.members[i].id, &pi) == 0 && pi.match >= st.commit)
			candidates[k++] = st.conf.members[i].id;
	}
	int what = k && raft_conf_voters(&st.conf) < 7 && chance(s, 700) ? 1 : (int)below(s, 3);
	k = 0;
	switch (what) {
	case 0: /* add a learner: a brand-new node */
		if (s->next_id > SIM_MAX || st.conf.n >= 7)
			return;
		cc.type = RAFT_CC_ADD_LEARNER;
		cc.node_id = s->next_id;
		break;
	case 1: /* promote a caught-up learner */
		for (size_t i = 0; i < st.conf.n; i++) {
			struct raft_progress_info pi;
			if (st.conf.members[i].role == RAFT_LEARNER &&
			    raft_progress(lead->r, st.conf.members[i].id, &pi) == 0 &&
			    pi.match >= st.commit)
				candidates[k++] = st.conf.members[i].id;
		}
		if (!k || raft_conf_voters(&st.conf) >= 7)
			return;
		cc.type = RAFT_CC_PROMOTE;
		cc.node_id = candidates[below(s, k)];
		break;
	default: /* remove a member, keeping at least 3 voters */
		for (size_t i = 0; i < st.conf.n; i++)
			if (st.conf.members[i].role == RAFT_LEARNER || raft_conf_voters(&st.conf) > 3)
				candidates[k++] = st.conf.members[i].id;
		if (!k)
			return;
		cc.type = RAFT_CC_REMOVE;
		cc.node_id = candidates[below(s, k)];
		break;
	}
	if (cc.type == RAFT_CC_ADD_LEARNER)
		node_create(s, cc.node_id, NULL);
	int rc = raft_propose_conf_change(lead->r, &cc, NULL);
	if (cc.type == RAFT_CC_ADD_LEARNER) {
		if (rc != 0) {
			/* not proposed: the node never joins; keep the id burnt */
			node_crash(s, &s->nodes[cc.node_id]);
			s->n_crashes--;
		}
		s->next_id++;
	}
	if (rc == 0) {
		s->n_conf++;
		trace(s, "conf change type=%d node=%" PRIu64 " by %" PRIu64, (int)cc.type, cc.node_id,
		      lead->id);
	}
}

static void do_snapshot(struct sim *s, struct sim_node *n)
{
	const struct raft_snapshot *cur = raft_memstore_snapshot(n->ms);
	if (n->sm_index <= cur->meta.index)
		return;
	uint8_t data[16];
	memcpy(data, &n->sm_index, 8);
	memcpy(data + 8, &n->sm_hash, 8);
	if (raft_memstore_create_snapshot(n->ms, n->sm_index, &n->sm_conf, data, sizeof data) != 0)
		SIM_FAIL(s, "node %" PRIu64 " cannot snapshot at %" PRIu64, n->id, n->sm_index);
	uint64_t keep = below(s, 8);
	uint64_t upto = n->sm_index > keep ? n->sm_index - keep : 0;
	if (upto >= raft_memstore_first_index(n->ms))
		raft_memstore_compact(n->ms, upto);
	s->n_snap_taken++;
	trace(s, "node %" PRIu64 " snapshot at %" PRIu64 " compact %" PRIu64, n->id, n->sm_index,
	      upto);
}

static void workload(struct sim *s)
{
	struct sim_node *n = random_up(s);
	if (n && chance(s, 60))
		do_propose(s, n);
	uint64_t lid = current_leader(s);
	if (lid && chance(s, 40))
		do_propose(s, &s->nodes[lid]);
	if (n && chance(s, 20))
		do_read(s, n);
	if (lid && chance(s, 6))
		do_conf_change(s, &s->nodes[lid]);
	if (lid && chance(s, 2)) {
		struct raft_status st = node_status(&s->nodes[lid]);
		uint64_t target = st.conf.members[below(s, st.conf.n)].id;
		if (raft_transfer_leadership(s->nodes[lid].r, target) == 0) {
			s->n_transfers++;
			trace(s, "transfer %" PRIu64 " -> %" PRIu64, lid, target);
		}
	}
	n = random_up(s);
	if (n && chance(s, 8))
		do_snapshot(s, n);
	n = random_up(s);
	if (n && chance(s, s->crash_pm))
		node_crash(s, n);
	/* crashes in the middle of a write lose it: votes and acknowledgements included */
	for (uint64_t id = 1; id <= SIM_MAX; id++)
		if (s->nodes[id].rd_pending && chance(s, s->crash_pm * 4))
			node_crash(s, &s->nodes[id]);
	for (uint64_t id = 1; id <= SIM_MAX; id++)
		if (s->nodes[id].exists && !s->nodes[id].up && chance(s, s->restart_pm)) {
			node_boot(s, &s->nodes[id]);
			trace(s, "restart %" PRIu64, id);
		}
	if (chance(s, 3))
		partition(s);
}

static void advance_time(struct sim *s)
{
	s->now++;
	net_deliver(s);
	for (uint64_t id = 1; id <= SIM_MAX; id++) {
		struct sim_node *n = &s->nodes[id];
		if (!n->up)
			continue;
		if ((s->now + n->tick_phase) % n->tick_every == 0 && raft_tick(n->r) != 0)
			SIM_FAIL(s, "tick failed on %" PRIu64, id);
		node_io(s, n);
	}
	check_step(s);
}

/* ---- a run -------------------------------------------------------------------------------- */

static void sim_free(struct sim *s)
{
	for (uint64_t id = 1; id <= SIM_MAX; id++) {
		struct sim_node *n = &s->nodes[id];
		if (!n->exists)
			continue;
		if (n->rd_pending)
			raft_ready_free(&n->rd);
		raft_free(n->r);
		raft_memstore_free(n->ms);
	}
	for (size_t i = 0; i < s->net.len; i++)
		kc_str_free(&((struct sim_msg *)kc_vec_at(&s->net, i))->bytes);
	kc_vec_free(&s->net);
	kc_vec_free(&s->committed);
	kc_vec_free(&s->leaders);
	kc_map_free(&s->seen);
	kc_vec_free(&s->props);
	kc_map_free(&s->prop_by_id);
	kc_vec_free(&s->reads);
}

/* Heals everything, restarts every node, and waits until all members applied everything. */
static void liveness(struct sim *s)
{
	heal(s);
	s->drop_pm = 0;
	s->dup_pm = 0;
	s->max_delay = 3;
	for (uint64_t id = 1; id <= SIM_MAX; id++)
		if (s->nodes[id].exists && !s->nodes[id].up)
			node_boot(s, &s->nodes[id]);
	/* a fresh entry must commit under the final leader (re-proposed if a leader change
	 * loses it) */
	struct raft_proposal marker = {0};
	for (uint64_t step = 0; step < 30000; step++) {
		advance_time(s);
		uint64_t lid = current_leader(s);
		if (!lid)
			continue;
		struct sim_node *l = &s->nodes[lid];
		struct raft_status st = node_status(l);
		if (marker.term != st.term) {
			if (raft_propose(l->r, "final", 5, &marker) != 0)
				marker.term = 0;
			continue;
		}
		if (st.commit < marker.index || st.commit != st.last_index)
			continue;
		bool all = true;
		for (size_t i = 0; i < st.conf.n && all; i++) {
			struct sim_node *m = &s->nodes[st.conf.members[i].id];
			all = m->up && m->sm_index >= st.commit;
		}
		if (!all)
			continue;
		/* every acknowledged proposal is applied on every member */
		for (size_t i = 0; i < s->props.len; i++) {
			const struct sim_prop *p = kc_vec_at(&s->props, i);
			if (!p->acked)
				continue;
			const struct sim_commit *c = commit_rec(s, p->index);
			if (c->term != p->term || p->index > st.commit)
				SIM_FAIL(s, "acknowledged proposal (%" PRIu64 ", %" PRIu64 ") lost",
					 p->index, p->term);
		}
		for (size_t i = 0; i < st.conf.n; i++) {
			struct sim_node *m = &s->nodes[st.conf.members[i].id];
			const struct sim_commit *c = commit_rec(s, m->sm_index);
			if (!c->has_hash || c->hash != m->sm_hash)
				SIM_FAIL(s, "member %" PRIu64 " state differs at %" PRIu64, m->id,
					 m->sm_index);
		}
		return;
	}
	uint64_t lid = current_leader(s);
	SIM_FAIL(s, "no progress after healing: leader=%" PRIu64 " commit=%" PRIu64, lid,
		 lid ? node_status(&s->nodes[lid]).commit : 0);
}

static void sim_run(uint64_t seed, uint64_t steps, bool trace_on)
{
	struct sim *s = xcalloc(1, sizeof *s);
	s->seed = seed;
	s->rng = mix64(seed ^ 0x5eed);
	s->trace = trace_on;
	kc_vec_init(&s->net, sizeof(struct sim_msg));
	kc_vec_init(&s->committed, sizeof(struct sim_commit));
	kc_vec_init(&s->leaders, sizeof(uint64_t));
	kc_map_init(&s->seen, free);
	kc_vec_init(&s->props, sizeof(struct sim_prop));
	kc_map_init(&s->prop_by_id, NULL);
	kc_vec_init(&s->reads, sizeof(struct sim_read));

	raft_options_init(&s->opt);
	s->opt.pre_vote = !chance(s, 200);
	s->opt.check_quorum = !chance(s, 200);
	s->opt.max_inflight_msgs = 1 + (size_t)below(s, 64);
	switch (below(s, 3)) {
	case 0:
		s->opt.max_msg_bytes = 1; /* one entry per APPEND */
		break;
	case 1:
		s->opt.max_msg_bytes = 1 + (size_t)below(s, 2000);
		break;
	default:
		s->opt.max_msg_bytes = 64 * 1024;
		break;
	}
	s->opt.snapshot_timeout_ticks = 20 + (unsigned)below(s, 40);
	s->drop_pm = (unsigned)below(s, chance(s, 200) ? 400 : 150);
	s->dup_pm = (unsigned)below(s, 80);
	s->max_delay = 2 + (unsigned)below(s, 20);
	s->long_delay_pm = chance(s, 500) ? (unsigned)below(s, 60) : 0;
	s->crash_pm = 1 + (unsigned)below(s, chance(s, 300) ? 25 : 5);
	s->restart_pm = 5 + (unsigned)below(s, 200);
	s->write_delay = (unsigned)below(s, 12);
	s->n_initial = seed % 2 ? 5 : 3;
	trace(s, "seed=%" PRIu64 " nodes=%zu pre_vote=%d check_quorum=%d inflight=%zu msg_bytes=%zu "
		 "drop=%u dup=%u delay=%u long=%u crash=%u restart=%u write=%u",
	      seed, s->n_initial, s->opt.pre_vote, s->opt.check_quorum, s->opt.max_inflight_msgs,
	      s->opt.max_msg_bytes, s->drop_pm, s->dup_pm, s->max_delay, s->long_delay_pm,
	      s->crash_pm, s->restart_pm, s->write_delay);
	heal(s);
	struct raft_conf boot = {.n = s->n_initial};
	for (size_t i = 0; i < s->n_initial; i++) {
		boot.members[i].id = i + 1;
		boot.members[i].role = RAFT_VOTER;
	}
	for (uint64_t id = 1; id <= s->n_initial; id++)
		node_create(s, id, &boot);
	s->next_id = s->n_initial + 1;

	for (uint64_t step = 0; step < steps; step++) {
		workload(s);
		advance_time(s);
	}
	liveness(s);

	totals.runs++;
	totals.total_steps += s->now;
	totals.leaders += s->n_leaders;
	totals.crashes += s->n_crashes;
	totals.snaps += s->n_snap_installs;
	totals.confs += s->n_conf;
	totals.transfers += s->n_transfers;
	totals.reads += s->n_reads_ok;
	totals.acked += s->n_acked;
	totals.partitions += s->n_partitions;
	sim_free(s);
	free(s);
}

static unsigned long long env_num(const char *name, unsigned long long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static void test_raft_simulation(void **state)
{
	(void)state;
	kc_log_set_level(KC_LOG_ERROR);
	bool trace_on = env_num("KC_RAFT_SIM_TRACE", 0) != 0;
	uint64_t steps = env_num("KC_RAFT_SIM_STEPS", 2000);
	if (getenv("KC_RAFT_SIM_SEED")) {
		sim_run(env_num("KC_RAFT_SIM_SEED", 0), steps, trace_on);
	} else {
		unsigned long long runs = env_num("KC_RAFT_SIM_RUNS", 300);
		uint64_t base = env_num("KC_RAFT_SIM_SEED_BASE", 0x6b63000000000000ull);
		for (unsigned long long i = 0; i < runs; i++)
			sim_run(base + i, steps, trace_on);
	}
	fprintf(stderr,
		"raft sim: %u runs, %llu steps; %u leaders, %u crashes, %u partitions, %u snapshot "
		"installs, %u conf changes, %u transfers, %u reads checked, %u proposals "
		"acknowledged\n",
		totals.runs, totals.total_steps, totals.leaders, totals.crashes, totals.partitions,
		totals.snaps, totals.confs, totals.transfers, totals.reads, totals.acked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raft_simulation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
