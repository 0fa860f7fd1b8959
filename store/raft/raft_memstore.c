/* DESIGN: the "disk" of a simulated node. Entries live in a vector whose slot 0 is a dummy
 * holding the index and term just before the first entry (the snapshot's, or 0/0), so term()
 * answers for first_index - 1 without special cases. Writes follow the Ready contract (a write
 * at index i discards entries >= i). Single-threaded, like the tests that use it. */
#include "store/raft/raft_memstore.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vec.h"

struct raft_memstore {
	struct raft_hard_state hs;
	struct raft_snapshot snap; /* meta.index 0 = none (meta.conf = bootstrap) */
	struct kc_vec ents;        /* struct raft_entry; [0] is the dummy */
	int fail_code;
	bool snapshot_busy;
};

static struct raft_entry *ent(const struct raft_memstore *ms, size_t i)
{
	return kc_vec_at(&ms->ents, i);
}

static uint64_t offset(const struct raft_memstore *ms)
{
	return ent(ms, 0)->index;
}

uint64_t raft_memstore_first_index(const struct raft_memstore *ms)
{
	return offset(ms) + 1;
}

uint64_t raft_memstore_last_index(const struct raft_memstore *ms)
{
	return offset(ms) + ms->ents.len - 1;
}

static void truncate_from(struct raft_memstore *ms, size_t keep)
{
	for (size_t i = keep; i < ms->ents.len; i++)
		free(ent(ms, i)->data);
	ms->ents.len = keep;
}

struct raft_memstore *raft_memstore_new(const struct raft_conf *bootstrap)
{
	struct raft_memstore *ms = xcalloc(1, sizeof *ms);
	kc_vec_init(&ms->ents, sizeof(struct raft_entry));
	kc_vec_push(&ms->ents, NULL); /* dummy at index 0, term 0 */
	if (bootstrap) {
		struct raft_entry e;
		kc_assert(raft_bootstrap_entry(bootstrap, &e) == 0);
		kc_vec_push(&ms->ents, &e);
		ms->hs.term = 1;
	}
	return ms;
}

void raft_memstore_free(struct raft_memstore *ms)
{
	if (!ms)
		return;
	truncate_from(ms, 0);
	kc_vec_free(&ms->ents);
	free(ms->snap.data);
	free(ms);
}

void raft_memstore_set_hard_state(struct raft_memstore *ms, const struct raft_hard_state *hs)
{
	ms->hs = *hs;
}

int raft_memstore_append(struct raft_memstore *ms, const struct raft_entry *ents, size_t n)
{
	if (n == 0)
		return 0;
	uint64_t first = raft_memstore_first_index(ms), last = raft_memstore_last_index(ms);
	if (ents[0].index < first || ents[0].index > last + 1)
		return -KC_EINVAL;
	for (size_t i = 1; i < n; i++)
		if (ents[i].index != ents[0].index + i)
			return -KC_EINVAL;
	truncate_from(ms, (size_t)(ents[0].index - offset(ms)));
	kc_vec_reserve(&ms->ents, ms->ents.len + n);
	for (size_t i = 0; i < n; i++)
		raft_entry_copy(kc_vec_push(&ms->ents, NULL), &ents[i]);
	return 0;
}

void raft_memstore_apply_snapshot(struct raft_memstore *ms, const struct raft_snapshot *s)
{
	truncate_from(ms, 0);
	struct raft_entry *dummy = kc_vec_push(&ms->ents, NULL);
	dummy->index = s->meta.index;
	dummy->term = s->meta.term;
	free(ms->snap.data);
	ms->snap = *s;
	ms->snap.data = s->len ? xmemdup(s->data, s->len) : NULL;
}

void raft_memstore_persist(struct raft_memstore *ms, const struct raft_ready *rd)
{
	if (rd->snapshot)
		raft_memstore_apply_snapshot(ms, rd->snapshot);
	if (rd->n_entries) {
		int rc = raft_memstore_append(ms, rd->entries, rd->n_entries);
		kc_assert(rc == 0);
	}
	if (rd->has_hard_state)
		ms->hs = rd->hs;
}

int raft_memstore_create_snapshot(struct raft_memstore *ms, uint64_t index,
				  const struct raft_conf *conf, const void *data, size_t len)
{
	if (index <= ms->snap.meta.index || index > raft_memstore_last_index(ms) ||
	    index < offset(ms))
		return -KC_EINVAL;
	ms->snap.meta.index = index;
	ms->snap.meta.term = ent(ms, (size_t)(index - offset(ms)))->term;
	ms->snap.meta.conf = *conf;
	free(ms->snap.data);
	ms->snap.data = len ? xmemdup(data, len) : NULL;
	ms->snap.len = len;
	return 0;
}

int raft_memstore_compact(struct raft_memstore *ms, uint64_t index)
{
	if (index > ms->snap.meta.index || index > raft_memstore_last_index(ms))
		return -KC_EINVAL;
	if (index <= offset(ms))
		return 0;
	size_t drop = (size_t)(index - offset(ms));
	for (size_t i = 0; i < drop; i++)
		free(ent(ms, i)->data);
	struct raft_entry *base = ms->ents.data;
	memmove(base, base + drop, (ms->ents.len - drop) * sizeof *base);
	ms->ents.len -= drop;
	free(base[0].data); /* the new dummy keeps only index and term */
	base[0].data = NULL;
	base[0].len = 0;
	return 0;
}

void raft_memstore_fail_reads(struct raft_memstore *ms, int code)
{
	ms->fail_code = code;
}

void raft_memstore_snapshot_busy(struct raft_memstore *ms, bool busy)
{
	ms->snapshot_busy = busy;
}

const struct raft_hard_state *raft_memstore_hard_state(const struct raft_memstore *ms)
{
	return &ms->hs;
}

const struct raft_snapshot *raft_memstore_snapshot(const struct raft_memstore *ms)
{
	return &ms->snap;
}

const struct raft_entry *raft_memstore_entry(const struct raft_memstore *ms, uint64_t index)
{
	if (index < raft_memstore_first_index(ms) || index > raft_memstore_last_index(ms))
		return NULL;
	return ent(ms, (size_t)(index - offset(ms)));
}

/* ---- the ops ------------------------------------------------------------------------------ */

static int op_hard_state(void *ctx, struct raft_hard_state *out)
{
	struct raft_memstore *ms = ctx;
	if (ms->fail_code)
		return ms->fail_code;
	*out = ms->hs;
	return 0;
}

static int op_snapshot_meta(void *ctx, struct raft_snapshot_meta *out)
{
	struct raft_memstore *ms = ctx;
	if (ms->fail_code)
		return ms->fail_code;
	*out = ms->snap.meta;
	return 0;
}

static uint64_t op_first_index(void *ctx)
{
	return raft_memstore_first_index(ctx);
}

static uint64_t op_last_index(void *ctx)
{
	return raft_memstore_last_index(ctx);
}

static int op_term(void *ctx, uint64_t index, uint64_t *out)
{
	struct raft_memstore *ms = ctx;
	if (ms->fail_code)
		return ms->fail_code;
	if (index < offset(ms) || index > raft_memstore_last_index(ms))
		return -KC_ENOTFOUND;
	*out = ent(ms, (size_t)(index - offset(ms)))->term;
	return 0;
}

static int op_entries(void *ctx, uint64_t lo, uint64_t hi, size_t max_bytes, struct kc_vec *out)
{
	struct raft_memstore *ms = ctx;
	if (ms->fail_code)
		return ms->fail_code;
	if (lo <= offset(ms))
		return -KC_ENOTFOUND;
	if (hi > raft_memstore_last_index(ms) + 1 || lo >= hi)
		return -KC_EINVAL;
	size_t bytes = 0;
	for (uint64_t i = lo; i < hi; i++) {
		const struct raft_entry *e = ent(ms, (size_t)(i - offset(ms)));
		size_t sz = e->len + 24;
		if (i > lo && bytes + sz > max_bytes)
			break;
		raft_entry_copy(kc_vec_push(out, NULL), e);
		bytes += sz;
	}
	return 0;
}

static int op_snapshot(void *ctx, struct raft_snapshot *out)
{
	struct raft_memstore *ms = ctx;
	if (ms->fail_code)
		return ms->fail_code;
	if (ms->snapshot_busy || ms->snap.meta.index == 0)
		return -KC_EAGAIN;
	*out = ms->snap;
	out->data = ms->snap.len ? xmemdup(ms->snap.data, ms->snap.len) : NULL;
	return 0;
}

const struct raft_storage_ops raft_memstore_ops = {
	.hard_state = op_hard_state,
	.snapshot_meta = op_snapshot_meta,
	.first_index = op_first_index,
	.last_index = op_last_index,
	.term = op_term,
	.entries = op_entries,
	.snapshot = op_snapshot,
};
