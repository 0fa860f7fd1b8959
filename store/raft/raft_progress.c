/* DESIGN: the leader's flow control for one member (etcd-io/raft's tracker/progress.go).
 *   probe:     next is a guess; at most one APPEND in flight, then wait for its answer or the
 *              next heartbeat response. Rejections walk next back using the follower's hint.
 *   replicate: next is optimistic; APPENDs are pipelined up to max_inflight_msgs unacknowledged
 *              messages, recorded in a ring so acknowledgements free the window.
 *   snapshot:  a snapshot was sent; nothing else goes out until it is acknowledged, reported,
 *              or times out.
 * Invariants: match < next; in replicate state every inflight index is >= match and < next.
 * Owned by the leader's struct raft; the ring is heap-allocated per member. */
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "store/raft/raft_int.h"

void raft_pr_init(struct raft_progress *pr, uint64_t id, bool learner, uint64_t next,
		  size_t max_inflight)
{
	memset(pr, 0, sizeof *pr);
	pr->id = id;
	pr->learner = learner;
	pr->state = RAFT_PR_PROBE;
	pr->next = next ? next : 1;
	pr->ins.cap = max_inflight ? max_inflight : 1;
	pr->ins.buf = xcalloc(pr->ins.cap, sizeof *pr->ins.buf);
}

void raft_pr_free(struct raft_progress *pr)
{
	free(pr->ins.buf);
	pr->ins.buf = NULL;
}

static void inflights_reset(struct raft_inflights *in)
{
	in->start = 0;
	in->count = 0;
}

bool raft_inflights_full(const struct raft_inflights *in)
{
	return in->count == in->cap;
}

static void inflights_add(struct raft_inflights *in, uint64_t index, size_t bytes)
{
	if (raft_inflights_full(in))
		return; /* callers check; keep the ring consistent regardless */
	struct raft_inflight *slot = &in->buf[(in->start + in->count) % in->cap];
	slot->index = index;
	slot->bytes = bytes;
	in->count++;
}

void raft_inflights_free_le(struct raft_inflights *in, uint64_t index)
{
	while (in->count > 0 && in->buf[in->start].index <= index) {
		in->start = (in->start + 1) % in->cap;
		in->count--;
	}
	if (in->count == 0)
		in->start = 0;
}

void raft_inflights_free_first(struct raft_inflights *in)
{
	if (in->count == 0)
		return;
	in->start = (in->start + 1) % in->cap;
	in->count--;
}

static void reset_state(struct raft_progress *pr, enum raft_progress_state st)
{
	pr->state = st;
	pr->probe_sent = false;
	pr->pending_snapshot = 0;
	pr->snapshot_elapsed = 0;
	inflights_reset(&pr->ins);
}

void raft_pr_become_probe(struct raft_progress *pr)
{
	if (pr->state == RAFT_PR_SNAPSHOT) {
		/* a snapshot that was acknowledged (or reported installed) moves next past it */
		uint64_t pending = pr->pending_snapshot;
		reset_state(pr, RAFT_PR_PROBE);
		pr->next = pr->match + 1 > pending + 1 ? pr->match + 1 : pending + 1;
	} else {
		reset_state(pr, RAFT_PR_PROBE);
		pr->next = pr->match + 1;
	}
}

void raft_pr_become_replicate(struct raft_progress *pr)
{
	reset_state(pr, RAFT_PR_REPLICATE);
	pr->next = pr->match + 1;
}

void raft_pr_become_snapshot(struct raft_progress *pr, uint64_t snap_index)
{
	reset_state(pr, RAFT_PR_SNAPSHOT);
	pr->pending_snapshot = snap_index;
	pr->next = snap_index + 1;
}

bool raft_pr_maybe_update(struct raft_progress *pr, uint64_t n)
{
	bool updated = false;
	if (pr->match < n) {
		pr->match = n;
		updated = true;
		pr->probe_sent = false;
	}
	if (pr->next < n + 1)
		pr->next = n + 1;
	return updated;
}

bool raft_pr_maybe_decr_to(struct raft_progress *pr, uint64_t rejected, uint64_t match_hint)
{
	if (pr->state == RAFT_PR_REPLICATE) {
		/* a rejection at or below match is stale (reordered or duplicated) */
		if (rejected <= pr->match)
			return false;
		pr->next = pr->match + 1;
		return true;
	}
	/* probe / snapshot: only the answer to the probe we sent counts */
	if (pr->next == 0 || pr->next - 1 != rejected)
		return false;
	uint64_t next = rejected < match_hint + 1 ? rejected : match_hint + 1;
	if (next < pr->match + 1)
		next = pr->match + 1;
	pr->next = next;
	pr->probe_sent = false;
	return true;
}

bool raft_pr_is_paused(const struct raft_progress *pr)
{
	switch (pr->state) {
	case RAFT_PR_PROBE:
		return pr->probe_sent;
	case RAFT_PR_REPLICATE:
		return raft_inflights_full(&pr->ins);
	case RAFT_PR_SNAPSHOT:
		return true;
	}
	return true;
}

void raft_pr_sent_entries(struct raft_progress *pr, size_t n, size_t bytes)
{
	switch (pr->state) {
	case RAFT_PR_REPLICATE:
		if (n > 0) {
			pr->next += n;
			inflights_add(&pr->ins, pr->next - 1, bytes);
		}
		break;
	case RAFT_PR_PROBE:
		if (n > 0)
			pr->probe_sent = true;
		break;
	case RAFT_PR_SNAPSHOT:
		break;
	}
}
