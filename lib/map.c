/* DESIGN: open addressing with Robin Hood probing and backward-shift deletion (no tombstones),
 * load factor <= 3/4, capacity a power of two. Each slot caches the full 64-bit hash so probing
 * compares keys only on a hash match and growth never rehashes keys. The SipHash-1-3 key is drawn
 * once per process from getrandom(). A map belongs to one thread. */
#include "lib/map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"

struct kc_map_slot {
	uint64_t hash;   /* 0 = empty */
	char *key;
	size_t klen;
	void *value;
};

static uint64_t sip_k0, sip_k1;
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_seed(void)
{
	uint64_t k[2];
	if (getrandom(k, sizeof k, 0) != (ssize_t)sizeof k) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
		k[1] = (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ull;
	}
	sip_k0 = k[0];
	sip_k1 = k[1];
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t *v0, uint64_t *v1, uint64_t *v2, uint64_t *v3)
{
	*v0 += *v1; *v1 = ROTL(*v1, 13); *v1 ^= *v0; *v0 = ROTL(*v0, 32);
	*v2 += *v3; *v3 = ROTL(*v3, 16); *v3 ^= *v2;
	*v0 += *v3; *v3 = ROTL(*v3, 21); *v3 ^= *v0;
	*v2 += *v1; *v1 = ROTL(*v1, 17); *v1 ^= *v2; *v2 = ROTL(*v2, 32);
}

uint64_t kc_hash(const void *data, size_t len)
{
	pthread_once(&sip_once, sip_seed);
	const unsigned char *p = data;
	uint64_t v0 = 0x736f6d6570736575ull ^ sip_k0, v1 = 0x646f72616e646f6dull ^ sip_k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ sip_k0, v3 = 0x7465646279746573ull ^ sip_k1;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t m;
		memcpy(&m, p + i, 8);
		v3 ^= m;
		sipround(&v0, &v1, &v2, &v3);
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	sipround(&v0, &v1, &v2, &v3);
	v0 ^= b;
	v2 ^= 0xff;
	sipround(&v0, &v1, &v2, &v3);
	sipround(&v0, &v1, &v2, &v3);
	sipround(&v0, &v1, &v2, &v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t slot_hash(const void *key, size_t klen)
{
	uint64_t h = kc_hash(key, klen);
	return h ? h : 1;
}

void kc_map_init(struct kc_map *m, void (*free_value)(void *))
{
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
	m->free_value = free_value;
}

void kc_map_free(struct kc_map *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		struct kc_map_slot *s = &m->slots[i];
		if (!s->hash)
			continue;
		free(s->key);
		if (m->free_value)
			m->free_value(s->value);
	}
	free(m->slots);
	kc_map_init(m, m->free_value);
}

static size_t probe_dist(const struct kc_map *m, uint64_t hash, size_t idx)
{
	return (idx - (size_t)hash) & (m->cap - 1);
}

/* Places a slot known to be absent; used by put and by growth. */
static void place(struct kc_map *m, struct kc_map_slot in)
{
	size_t mask = m->cap - 1, idx = (size_t)in.hash & mask, dist = 0;
	for (;;) {
		struct kc_map_slot *s = &m->slots[idx];
		if (!s->hash) {
			*s = in;
			return;
		}
		size_t d = probe_dist(m, s->hash, idx);
		if (d < dist) {
			struct kc_map_slot t = *s;
			*s = in;
			in = t;
			dist = d;
		}
		idx = (idx + 1) & mask;
		dist++;
	}
}

static void grow(struct kc_map *m)
{
	struct kc_map_slot *old = m->slots;
	size_t oldcap = m->cap;
	m->cap = oldcap ? oldcap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].hash)
			place(m, old[i]);
	free(old);
}

static struct kc_map_slot *find(const struct kc_map *m, const void *key, size_t klen, uint64_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1, idx = (size_t)h & mask;
	for (size_t dist = 0;; dist++, idx = (idx + 1) & mask) {
		struct kc_map_slot *s = &m->slots[idx];
		if (!s->hash || probe_dist(m, s->hash, idx) < dist)
			return NULL;
		if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
			return s;
	}
}

void kc_map_put(struct kc_map *m, const void *key, size_t klen, void *value)
{
	uint64_t h = slot_hash(key, klen);
	struct kc_map_slot *s = find(m, key, klen, h);
	if (s) {
		if (m->free_value && s->value != value)
			m->free_value(s->value);
		s->value = value;
		return;
	}
	if ((m->len + 1) * 4 > m->cap * 3)
		grow(m);
	struct kc_map_slot in = { .hash = h, .key = xmalloc(klen + 1), .klen = klen, .value = value };
	memcpy(in.key, key, klen);
	in.key[klen] = '\0';
	place(m, in);
	m->len++;
}

void *kc_map_get(const struct kc_map *m, const void *key, size_t klen)
{
	struct kc_map_slot *s = find(m, key, klen, slot_hash(key, klen));
	return s ? s->value : NULL;
}

bool kc_map_has(const struct kc_map *m, const void *key, size_t klen)
{
	return find(m, key, klen, slot_hash(key, klen)) != NULL;
}

/* Backward-shift deletion keeps probe sequences intact without tombstones. */
static void remove_slot(struct kc_map *m, struct kc_map_slot *s)
{
	size_t mask = m->cap - 1, idx = (size_t)(s - m->slots);
	free(s->key);
	for (;;) {
		size_t next = (idx + 1) & mask;
		struct kc_map_slot *n = &m->slots[next];
		if (!n->hash || probe_dist(m, n->hash, next) == 0) {
			memset(&m->slots[idx], 0, sizeof m->slots[idx]);
			break;
		}
		m->slots[idx] = *n;
		idx = next;
	}
	m->len--;
}

void *kc_map_take(struct kc_map *m, const void *key, size_t klen)
{
	struct kc_map_slot *s = find(m, key, klen, slot_hash(key, klen));
	if (!s)
		return NULL;
	void *v = s->value;
	remove_slot(m, s);
	return v;
}

bool kc_map_del(struct kc_map *m, const void *key, size_t klen)
{
	struct kc_map_slot *s = find(m, key, klen, slot_hash(key, klen));
	if (!s)
		return false;
	void *v = s->value;
	remove_slot(m, s);
	if (m->free_value)
		m->free_value(v);
	return true;
}

void kc_map_sput(struct kc_map *m, const char *key, void *value)
{
	kc_map_put(m, key, strlen(key), value);
}

void *kc_map_sget(const struct kc_map *m, const char *key)
{
	return kc_map_get(m, key, strlen(key));
}

bool kc_map_sdel(struct kc_map *m, const char *key)
{
	return kc_map_del(m, key, strlen(key));
}

bool kc_map_next(const struct kc_map *m, size_t *pos, const void **key, size_t *klen, void **value)
{
	for (size_t i = *pos; i < m->cap; i++) {
		struct kc_map_slot *s = &m->slots[i];
		if (!s->hash)
			continue;
		if (key)
			*key = s->key;
		if (klen)
			*klen = s->klen;
		if (value)
			*value = s->value;
		*pos = i + 1;
		return true;
	}
	*pos = m->cap;
	return false;
}
