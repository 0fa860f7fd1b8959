/* DESIGN: a skip list (p = 1/4, at most KIDX_MAX_LEVEL levels: ~4^20 keys before it degrades)
 * whose node carries the key inline after its forward pointers and a growable array of the
 * key's revisions. One pthread rwlock: readers hold it for a whole range walk, the single writer
 * takes it per change, so a reader never sees a half-linked node or a moving array. Levels come
 * from a private xorshift generator: the shape of the list is local to a process and need not
 * agree between members. */
#include "store/keyidx.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/map.h"

#define KIDX_MAX_LEVEL 20

struct kidx {
	pthread_rwlock_t lock;
	/* Writer preference: a waiting writer holds the turnstile, which readers pass through
	 * before taking the read lock. Without it the rwlocks of glibc and musl let a steady
	 * stream of readers (list calls) starve the store thread. */
	pthread_mutex_t turnstile;
	struct kidx_node *head;  /* sentinel with KIDX_MAX_LEVEL pointers and no key */
	uint32_t level;          /* levels in use, >= 1 */
	uint64_t rng;
	size_t nkeys;
	size_t bytes;
	int64_t floor;
	/* Exact lookups: open addressing with linear probing, at most half full; a write finds
	 * its key here in one probe or two instead of ~30 key comparisons down the list. */
	struct kidx_node **tab;
	size_t tcap;             /* power of two, or 0 */
};

static struct kidx_node *tab_get(const struct kidx *x, const void *key, size_t klen,
				 uint64_t h)
{
	if (!x->tcap)
		return NULL;
	for (size_t i = h & (x->tcap - 1);; i = (i + 1) & (x->tcap - 1)) {
		struct kidx_node *n = x->tab[i];
		if (!n)
			return NULL;
		if (n->hash == h && n->klen == klen && (!klen || !memcmp(kidx_key(n), key, klen)))
			return n;
	}
}

static void tab_insert(struct kidx_node **tab, size_t cap, struct kidx_node *n)
{
	size_t i = n->hash & (cap - 1);
	while (tab[i])
		i = (i + 1) & (cap - 1);
	tab[i] = n;
}

/* The caller holds the write lock. */
static void tab_put(struct kidx *x, struct kidx_node *n)
{
	if ((x->nkeys + 1) * 2 > x->tcap) {
		size_t cap = x->tcap ? x->tcap * 2 : 64;
		struct kidx_node **tab = xcalloc(cap, sizeof *tab);
		for (size_t i = 0; i < x->tcap; i++)
			if (x->tab[i])
				tab_insert(tab, cap, x->tab[i]);
		free(x->tab);
		x->bytes += (cap - x->tcap) * sizeof *tab;
		x->tab = tab;
		x->tcap = cap;
	}
	tab_insert(x->tab, x->tcap, n);
}

/* Removes n, shifting back the entries of its probe run (no tombstones). */
static void tab_del(struct kidx *x, struct kidx_node *n)
{
	size_t mask = x->tcap - 1, i = n->hash & mask;
	while (x->tab[i] != n)
		i = (i + 1) & mask;
	for (size_t j = (i + 1) & mask; x->tab[j]; j = (j + 1) & mask) {
		size_t home = x->tab[j]->hash & mask;
		/* move j into the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			x->tab[i] = x->tab[j];
			i = j;
		}
	}
	x->tab[i] = NULL;
}

static int key_cmp(const struct kidx_node *n, const void *key, size_t klen)
{
	size_t m = n->klen < klen ? n->klen : klen;
	int c = m ? memcmp(kidx_key(n), key, m) : 0;
	if (c)
		return c;
	return n->klen < klen ? -1 : n->klen > klen;
}

static size_t node_size(uint32_t level, size_t klen)
{
	return sizeof(struct kidx_node) + level * sizeof(struct kidx_node *) + klen;
}

struct kidx *kidx_new(void)
{
	struct kidx *x = xcalloc(1, sizeof *x);
	pthread_rwlock_init(&x->lock, NULL);
	pthread_mutex_init(&x->turnstile, NULL);
	x->head = xcalloc(1, node_size(KIDX_MAX_LEVEL, 0));
	x->head->level = KIDX_MAX_LEVEL;
	x->level = 1;
	x->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)x;
	return x;
}

void kidx_rdlock(struct kidx *x)
{
	pthread_mutex_lock(&x->turnstile);
	pthread_mutex_unlock(&x->turnstile);
	pthread_rwlock_rdlock(&x->lock);
}

static void wrlock(struct kidx *x)
{
	pthread_mutex_lock(&x->turnstile);
	pthread_rwlock_wrlock(&x->lock);
	pthread_mutex_unlock(&x->turnstile);
}

void kidx_rdunlock(struct kidx *x)
{
	pthread_rwlock_unlock(&x->lock);
}

static void node_free(struct kidx_node *n)
{
	free(n->revs);
	free(n);
}

void kidx_clear(struct kidx *x)
{
	wrlock(x);
	struct kidx_node *n = x->head->next[0];
	while (n) {
		struct kidx_node *next = n->next[0];
		node_free(n);
		n = next;
	}
	memset(x->head->next, 0, KIDX_MAX_LEVEL * sizeof x->head->next[0]);
	free(x->tab);
	x->tab = NULL;
	x->tcap = 0;
	x->level = 1;
	x->nkeys = 0;
	x->bytes = 0;
	x->floor = 0;
	pthread_rwlock_unlock(&x->lock);
}

void kidx_free(struct kidx *x)
{
	if (!x)
		return;
	kidx_clear(x);
	free(x->head);
	pthread_rwlock_destroy(&x->lock);
	pthread_mutex_destroy(&x->turnstile);
	free(x);
}

/* Fills prev[i] with the last node at level i whose key is < key; returns the node after
 * prev[0] (the first >= key). */
static struct kidx_node *find(const struct kidx *x, const void *key, size_t klen,
			      struct kidx_node **prev)
{
	struct kidx_node *p = x->head;
	for (int i = (int)x->level - 1; i >= 0; i--) {
		while (p->next[i] && key_cmp(p->next[i], key, klen) < 0)
			p = p->next[i];
		if (prev)
			prev[i] = p;
	}
	return p->next[0];
}

struct kidx_node *kidx_seek(const struct kidx *x, const void *key, size_t klen)
{
	return find(x, key, klen, NULL);
}

struct kidx_node *kidx_get(const struct kidx *x, const void *key, size_t klen)
{
	return tab_get(x, key, klen, kc_hash(key, klen));
}

uint32_t kidx_lower(const struct kidx_node *n, int64_t rev)
{
	uint32_t lo = 0, hi = n->nrev;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (n->revs[mid].rev < rev)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct kidx_rev *kidx_before(const struct kidx_node *n, int64_t rev)
{
	uint32_t i = kidx_lower(n, rev);
	return i ? &n->revs[i - 1] : NULL;
}

const struct kidx_rev *kidx_at(const struct kidx_node *n, int64_t at)
{
	if (n->nrev == 0)
		return NULL;
	if (n->revs[n->nrev - 1].rev <= at)
		return &n->revs[n->nrev - 1];   /* the common case: the newest */
	return kidx_before(n, at + 1);      /* at < the newest, so at + 1 cannot overflow */
}

size_t kidx_nkeys(const struct kidx *x)
{
	return x->nkeys;
}

int64_t kidx_floor(const struct kidx *x)
{
	return x->floor;
}

void kidx_set_floor(struct kidx *x, int64_t rev)
{
	wrlock(x);
	if (rev > x->floor)
		x->floor = rev;
	pthread_rwlock_unlock(&x->lock);
}

size_t kidx_bytes(const struct kidx *x)
{
	return x->bytes;
}

static uint32_t random_level(struct kidx *x)
{
	uint64_t r = x->rng;
	r ^= r >> 12;
	r ^= r << 25;
	r ^= r >> 27;
	x->rng = r;
	r *= 0x2545f4914f6cdd1dull;
	uint32_t level = 1;
	while (level < KIDX_MAX_LEVEL && (r & 3) == 0) {
		level++;
		r >>= 2;
	}
	return level;
}

static void push_rev(struct kidx *x, struct kidx_node *n, const struct kidx_rev *r)
{
	if (n->nrev == n->cap) {
		uint32_t cap = n->cap ? n->cap * 2 : 1;
		n->revs = xrealloc(n->revs, cap * sizeof *n->revs);
		x->bytes += (cap - n->cap) * sizeof *n->revs;
		n->cap = cap;
	}
	n->revs[n->nrev++] = *r;
}

struct kidx_node *kidx_append(struct kidx *x, const void *key, size_t klen,
			      const struct kidx_rev *r, int64_t lease)
{
	uint64_t h = kc_hash(key, klen);
	struct kidx_node *n = tab_get(x, key, klen, h);
	if (n) {
		wrlock(x);
		push_rev(x, n, r);
		n->lease = r->tomb ? 0 : lease;
		pthread_rwlock_unlock(&x->lock);
		return n;
	}
	struct kidx_node *prev[KIDX_MAX_LEVEL];
	n = find(x, key, klen, prev);
	wrlock(x);
	{
		uint32_t level = random_level(x);
		for (uint32_t i = x->level; i < level; i++)
			prev[i] = x->head;
		if (level > x->level)
			x->level = level;
		size_t size = node_size(level, klen);
		n = xcalloc(1, size);
		n->level = level;
		n->klen = (uint32_t)klen;
		n->hash = h;
		if (klen)
			memcpy(&n->next[level], key, klen);
		for (uint32_t i = 0; i < level; i++) {
			n->next[i] = prev[i]->next[i];
			prev[i]->next[i] = n;
		}
		tab_put(x, n);
		x->nkeys++;
		x->bytes += size;
	}
	push_rev(x, n, r);
	n->lease = r->tomb ? 0 : lease;
	pthread_rwlock_unlock(&x->lock);
	return n;
}

/* Unlinks and frees n; the caller holds the write lock. */
static void unlink_node(struct kidx *x, struct kidx_node *n)
{
	struct kidx_node *prev[KIDX_MAX_LEVEL];
	find(x, kidx_key(n), n->klen, prev);
	for (uint32_t i = 0; i < n->level; i++)
		if (prev[i]->next[i] == n)
			prev[i]->next[i] = n->next[i];
	while (x->level > 1 && !x->head->next[x->level - 1])
		x->level--;
	tab_del(x, n);
	x->nkeys--;
	x->bytes -= node_size(n->level, n->klen) + n->cap * sizeof *n->revs;
	node_free(n);
}

void kidx_truncate(struct kidx *x, struct kidx_node *n, uint32_t nrev, int64_t lease)
{
	wrlock(x);
	if (nrev == 0) {
		unlink_node(x, n);
	} else {
		if (nrev < n->nrev)
			n->nrev = nrev;
		n->lease = lease;
	}
	pthread_rwlock_unlock(&x->lock);
}

void kidx_drop_front(struct kidx *x, struct kidx_node *n, uint32_t k)
{
	if (k == 0)
		return;
	wrlock(x);
	if (k >= n->nrev) {
		unlink_node(x, n);
	} else {
		memmove(n->revs, n->revs + k, (n->nrev - k) * sizeof *n->revs);
		n->nrev -= k;
		if (n->cap > 8 && n->nrev < n->cap / 4) {
			uint32_t cap = n->cap / 2;
			n->revs = xrealloc(n->revs, cap * sizeof *n->revs);
			x->bytes -= (n->cap - cap) * sizeof *n->revs;
			n->cap = cap;
		}
	}
	pthread_rwlock_unlock(&x->lock);
}
