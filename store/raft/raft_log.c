/* DESIGN: the log as the Raft algorithm sees it. A stable prefix lives in the caller's storage
 * and is read through the storage ops; the unstable suffix (entries appended but not yet
 * reported durable, plus at most one received snapshot) lives here in memory and is handed to
 * the caller in Readies. Index i is served from memory when i >= u.offset (or i is the pending
 * snapshot's index), from storage otherwise, so storage writes racing with raft never matter:
 * raft does not read back an index it has not seen advanced.
 *
 * Invariants: u.offset == stable last + 1; when u.snap is set, u.offset == snap index + 1 and
 * storage is not consulted at all; u.in_progress < u.offset + len(ents). While a Ready is
 * outstanding it borrows entry data and the snapshot, so anything dropped (truncation, a newer
 * snapshot) goes to a graveyard freed at raft_advance. Runs on the raft's thread only. */
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "lib/log.h"
#include "store/raft/raft_int.h"

static struct raft_entry *uent(const struct raft_log *l, size_t i)
{
	return kc_vec_at(&l->u.ents, i);
}

static size_t ulen(const struct raft_log *l)
{
	return l->u.ents.len;
}

static void drop_data(struct raft_log *l, uint8_t *p)
{
	if (!p)
		return;
	if (l->rd_outstanding)
		kc_vec_push(&l->grave, &p);
	else
		free(p);
}

static void drop_snap(struct raft_log *l, struct raft_snapshot *s)
{
	if (!s)
		return;
	if (l->rd_outstanding)
		kc_vec_push(&l->grave_snaps, &s);
	else
		raft_snapshot_free(s);
}

static int storage_failed(struct raft_log *l, int rc, const char *what)
{
	if (!l->fatal) {
		log_error("raft storage failure op=%s err=%s", what, kc_strerror(rc));
		l->fatal = rc < 0 ? rc : -KC_EIO;
	}
	return l->fatal;
}

void raft_log_init(struct raft_log *l, const struct raft_storage_ops *ops, void *ctx)
{
	memset(l, 0, sizeof *l);
	l->ops = ops;
	l->ctx = ctx;
	kc_vec_init(&l->u.ents, sizeof(struct raft_entry));
	kc_vec_init(&l->grave, sizeof(uint8_t *));
	kc_vec_init(&l->grave_snaps, sizeof(struct raft_snapshot *));
	l->u.offset = ops->last_index(ctx) + 1;
	l->u.in_progress = l->u.offset - 1;
}

void raft_log_bury(struct raft_log *l)
{
	for (size_t i = 0; i < l->grave.len; i++)
		free(*(uint8_t **)kc_vec_at(&l->grave, i));
	kc_vec_clear(&l->grave);
	for (size_t i = 0; i < l->grave_snaps.len; i++)
		raft_snapshot_free(*(struct raft_snapshot **)kc_vec_at(&l->grave_snaps, i));
	kc_vec_clear(&l->grave_snaps);
}

void raft_log_free(struct raft_log *l)
{
	raft_log_bury(l);
	for (size_t i = 0; i < ulen(l); i++)
		free(uent(l, i)->data);
	kc_vec_free(&l->u.ents);
	raft_snapshot_free(l->u.snap);
	l->u.snap = NULL;
	kc_vec_free(&l->grave);
	kc_vec_free(&l->grave_snaps);
}

uint64_t raft_log_first_index(const struct raft_log *l)
{
	if (l->u.snap)
		return l->u.snap->meta.index + 1;
	return l->ops->first_index(l->ctx);
}

uint64_t raft_log_last_index(const struct raft_log *l)
{
	if (ulen(l))
		return l->u.offset + ulen(l) - 1;
	if (l->u.snap)
		return l->u.snap->meta.index;
	return l->ops->last_index(l->ctx);
}

uint64_t raft_log_stable_last(const struct raft_log *l)
{
	if (l->u.snap)
		return 0;
	return l->u.offset - 1;
}

int raft_log_term(struct raft_log *l, uint64_t index, uint64_t *term)
{
	if (l->u.snap && index == l->u.snap->meta.index) {
		*term = l->u.snap->meta.term;
		return 0;
	}
	if (index >= l->u.offset) {
		if (index - l->u.offset < ulen(l)) {
			*term = uent(l, index - l->u.offset)->term;
			return 0;
		}
		if (ulen(l) || l->u.snap)
			return -KC_ENOTFOUND;
	}
	if (l->u.snap)
		return -KC_ENOTFOUND;
	uint64_t first = l->ops->first_index(l->ctx), last = l->ops->last_index(l->ctx);
	if (index + 1 < first || index > last)
		return -KC_ENOTFOUND;
	int rc = l->ops->term(l->ctx, index, term);
	if (rc == -KC_ENOTFOUND)
		return rc;
	if (rc < 0)
		return storage_failed(l, rc, "term");
	return 0;
}

uint64_t raft_log_term_or0(struct raft_log *l, uint64_t index)
{
	uint64_t t;
	return raft_log_term(l, index, &t) == 0 ? t : 0;
}

uint64_t raft_log_last_term(struct raft_log *l)
{
	return raft_log_term_or0(l, raft_log_last_index(l));
}

bool raft_log_match_term(struct raft_log *l, uint64_t index, uint64_t term)
{
	uint64_t t;
	return raft_log_term(l, index, &t) == 0 && t == term;
}

bool raft_log_is_up_to_date(struct raft_log *l, uint64_t last_index, uint64_t last_term)
{
	uint64_t my_term = raft_log_last_term(l);
	return last_term > my_term ||
	       (last_term == my_term && last_index >= raft_log_last_index(l));
}

uint64_t raft_log_find_conflict(struct raft_log *l, const struct raft_entry *ents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!raft_log_match_term(l, ents[i].index, ents[i].term))
			return ents[i].index;
	return 0;
}

void raft_log_find_conflict_by_term(struct raft_log *l, uint64_t index, uint64_t term,
				    uint64_t *out_index, uint64_t *out_term)
{
	for (;;) {
		uint64_t t;
		if (raft_log_term(l, index, &t) != 0) {
			*out_index = index;
			*out_term = 0;
			return;
		}
		if (t <= term || index == 0) {
			*out_index = index;
			*out_term = t;
			return;
		}
		index--;
	}
}

void raft_entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
	*dst = *src;
	dst->data = src->len ? xmemdup(src->data, src->len) : NULL;
}

void raft_entries_free(struct raft_entry *ents, size_t n)
{
	if (!ents)
		return;
	for (size_t i = 0; i < n; i++)
		free(ents[i].data);
	free(ents);
}

void raft_snapshot_free(struct raft_snapshot *s)
{
	if (!s)
		return;
	free(s->data);
	free(s);
}

void raft_log_append_take(struct raft_log *l, struct raft_entry *e)
{
	kc_assert(e->index == raft_log_last_index(l) + 1);
	kc_assert(e->index == l->u.offset + ulen(l));
	kc_vec_push(&l->u.ents, e);
	e->data = NULL;
}

int raft_log_snapshot(struct raft_log *l, struct raft_snapshot *out)
{
	memset(out, 0, sizeof *out);
	int rc = l->ops->snapshot(l->ctx, out);
	if (rc == -KC_EAGAIN)
		return rc;
	if (rc < 0)
		return storage_failed(l, rc, "snapshot");
	return 0;
}

void raft_log_append(struct raft_log *l, const struct raft_entry *ents, size_t n)
{
	if (n == 0)
		return;
	uint64_t after = ents[0].index;
	kc_assert(!l->u.snap || after > l->u.snap->meta.index);
	if (after == l->u.offset + ulen(l)) {
		/* the common case: a plain append */
	} else if (after <= l->u.offset) {
		/* replace the whole unstable part; storage entries >= after are stale and will be
		 * overwritten when the caller persists the next Ready */
		for (size_t i = 0; i < ulen(l); i++)
			drop_data(l, uent(l, i)->data);
		kc_vec_clear(&l->u.ents);
		l->u.offset = after;
	} else {
		size_t keep = (size_t)(after - l->u.offset);
		for (size_t i = keep; i < ulen(l); i++)
			drop_data(l, uent(l, i)->data);
		l->u.ents.len = keep;
	}
	if (l->u.in_progress >= after)
		l->u.in_progress = after - 1;
	kc_vec_reserve(&l->u.ents, ulen(l) + n);
	for (size_t i = 0; i < n; i++) {
		struct raft_entry *e = kc_vec_push(&l->u.ents, NULL);
		raft_entry_copy(e, &ents[i]);
	}
}

int raft_log_entries(struct raft_log *l, uint64_t lo, uint64_t hi, size_t max_bytes,
		     struct kc_vec *out)
{
	if (lo >= hi)
		return 0;
	if (lo < raft_log_first_index(l))
		return -KC_ENOTFOUND;
	kc_assert(hi <= raft_log_last_index(l) + 1);
	size_t bytes = 0, got = 0;
	if (lo < l->u.offset) {
		uint64_t stop = hi < l->u.offset ? hi : l->u.offset;
		size_t before = out->len;
		int rc = l->ops->entries(l->ctx, lo, stop, max_bytes, out);
		if (rc == -KC_ENOTFOUND)
			return rc;
		if (rc < 0)
			return storage_failed(l, rc, "entries");
		got = out->len - before;
		for (size_t i = 0; i < got; i++) {
			struct raft_entry *e = kc_vec_at(out, before + i);
			if (e->index != lo + i)
				return storage_failed(l, -KC_EIO, "entries: not contiguous");
			bytes += raft_entry_size(e);
		}
		if (got == 0)
			return storage_failed(l, -KC_EIO, "entries: none returned");
		if (got < stop - lo)
			return 0;
		lo = stop;
	}
	for (uint64_t i = lo; i < hi; i++) {
		const struct raft_entry *src = uent(l, (size_t)(i - l->u.offset));
		size_t sz = raft_entry_size(src);
		if (got > 0 && bytes + sz > max_bytes)
			break;
		raft_entry_copy(kc_vec_push(out, NULL), src);
		bytes += sz;
		got++;
	}
	return 0;
}

void raft_log_commit_to(struct raft_log *l, uint64_t commit)
{
	if (commit <= l->committed)
		return;
	uint64_t last = raft_log_last_index(l);
	if (commit > last) {
		/* only a peer that lost acknowledged entries gets here: never commit what we
		 * lack */
		log_warn("raft commit index beyond log commit=%llu last=%llu",
			 (unsigned long long)commit, (unsigned long long)last);
		commit = last;
	}
	if (commit > l->committed)
		l->committed = commit;
}

bool raft_log_maybe_commit(struct raft_log *l, uint64_t index, uint64_t term)
{
	if (index > l->committed && raft_log_term_or0(l, index) == term) {
		raft_log_commit_to(l, index);
		return true;
	}
	return false;
}

void raft_log_restore(struct raft_log *l, struct raft_snapshot *snap)
{
	for (size_t i = 0; i < ulen(l); i++)
		drop_data(l, uent(l, i)->data);
	kc_vec_clear(&l->u.ents);
	drop_snap(l, l->u.snap);
	l->u.snap = snap;
	l->u.snap_in_progress = false;
	l->u.offset = snap->meta.index + 1;
	l->u.in_progress = snap->meta.index;
	l->committed = snap->meta.index;
}

void raft_log_stable_to(struct raft_log *l, uint64_t index)
{
	if (index < l->u.offset || l->u.snap)
		return;
	size_t n = (size_t)(index - l->u.offset + 1);
	if (n > ulen(l))
		n = ulen(l);
	for (size_t i = 0; i < n; i++)
		drop_data(l, uent(l, i)->data);
	struct raft_entry *base = l->u.ents.data;
	memmove(base, base + n, (ulen(l) - n) * sizeof *base);
	l->u.ents.len -= n;
	l->u.offset += n;
}
