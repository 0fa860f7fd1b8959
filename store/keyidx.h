/* keyidx.h - the MVCC store's in-memory key index (etcd's treeIndex): every key of the history
 * table with the revisions of its rows, ordered by key. The rows themselves stay in SQLite,
 * keyed by revision, so a write appends there and never rewrites a page chosen by its key.
 *
 * A skip list (ordered walks) plus a hash table (exact lookups: every write), under one rwlock. The store thread is the only writer: it reads without the lock
 * and takes the write lock around each change. Other threads read under the read lock.
 * Revisions of a key are kept oldest first; a revision is never changed once appended, only
 * dropped (compaction: from the front; a rolled-back batch: from the back). */
#ifndef KC_STORE_KEYIDX_H
#define KC_STORE_KEYIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One history row of a key: its revision and whether it is a deletion. */
struct kidx_rev {
	int64_t rev;
	uint32_t sub;
	uint32_t tomb;
};

struct kidx_node {
	struct kidx_rev *revs;  /* oldest first */
	uint32_t nrev;
	uint32_t cap;
	int64_t lease;          /* the newest row's lease (0 if none or a deletion); writer only */
	uint64_t hash;          /* of the key, for the exact-match table */
	uint32_t mark;          /* scratch for the writer (compaction) */
	uint32_t klen;
	uint32_t level;
	struct kidx_node *next[]; /* 'level' forward pointers, then the key's klen bytes */
};

struct kidx;

struct kidx *kidx_new(void);
void kidx_free(struct kidx *x);

void kidx_rdlock(struct kidx *x);
void kidx_rdunlock(struct kidx *x);

static inline const uint8_t *kidx_key(const struct kidx_node *n)
{
	return (const uint8_t *)&n->next[n->level];
}

/* Reads: under the read lock, or on the writer's thread. */
struct kidx_node *kidx_get(const struct kidx *x, const void *key, size_t klen);
/* The first node whose key is >= key (NULL: none). */
struct kidx_node *kidx_seek(const struct kidx *x, const void *key, size_t klen);
static inline struct kidx_node *kidx_next(const struct kidx_node *n)
{
	return n->next[0];
}
/* The newest revision of n at or below 'at', or NULL. */
const struct kidx_rev *kidx_at(const struct kidx_node *n, int64_t at);
/* The newest revision of n strictly below 'rev', or NULL. */
const struct kidx_rev *kidx_before(const struct kidx_node *n, int64_t rev);
/* The index of the first revision of n at or above 'rev' (n->nrev if none). */
uint32_t kidx_lower(const struct kidx_node *n, int64_t rev);
size_t kidx_nkeys(const struct kidx *x);
/* The revision below which revisions may have been dropped (compaction): a read at an older
 * revision must be refused or retried. */
int64_t kidx_floor(const struct kidx *x);
/* Bytes held (nodes, keys, revision arrays), for status. */
size_t kidx_bytes(const struct kidx *x);

/* Writes: the writer's thread only; each takes the write lock. */
/* Appends r (newer than every revision of the key) to key's node, creating it. */
struct kidx_node *kidx_append(struct kidx *x, const void *key, size_t klen,
			      const struct kidx_rev *r, int64_t lease);
/* Keeps the first nrev revisions of n and sets its lease; nrev 0 removes n (freed). */
void kidx_truncate(struct kidx *x, struct kidx_node *n, uint32_t nrev, int64_t lease);
/* Drops the first k revisions of n; n is removed (freed) when none remain. */
void kidx_drop_front(struct kidx *x, struct kidx_node *n, uint32_t k);
/* Raises the floor to rev (before dropping revisions compacted below it). */
void kidx_set_floor(struct kidx *x, int64_t rev);
/* Removes every key. */
void kidx_clear(struct kidx *x);

#endif
