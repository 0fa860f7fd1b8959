/* map.h - hash map from byte-string keys to pointers, with a per-process random seed so that
 * keys chosen by a client cannot force collisions (SipHash-1-3). */
#ifndef KC_LIB_MAP_H
#define KC_LIB_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_map_slot;

struct kc_map {
	struct kc_map_slot *slots;   /* private */
	size_t cap;                  /* private: power of two, 0 when empty */
	size_t len;                  /* number of entries: read-only for callers */
	void (*free_value)(void *);  /* optional: called on values removed or left at kc_map_free */
};

/* free_value may be NULL. The map copies keys; values are stored as given. */
void kc_map_init(struct kc_map *m, void (*free_value)(void *));
void kc_map_free(struct kc_map *m);

/* Inserts or replaces. A replaced value is passed to free_value. */
void kc_map_put(struct kc_map *m, const void *key, size_t klen, void *value);
/* Returns the value or NULL. */
void *kc_map_get(const struct kc_map *m, const void *key, size_t klen);
bool kc_map_has(const struct kc_map *m, const void *key, size_t klen);
/* Removes key; returns its value WITHOUT calling free_value (the caller now owns it), or NULL. */
void *kc_map_take(struct kc_map *m, const void *key, size_t klen);
/* Removes key and frees its value with free_value; returns whether it was present. */
bool kc_map_del(struct kc_map *m, const void *key, size_t klen);

/* C-string conveniences. */
void kc_map_sput(struct kc_map *m, const char *key, void *value);
void *kc_map_sget(const struct kc_map *m, const char *key);
bool kc_map_sdel(struct kc_map *m, const char *key);

/* Iteration in no particular order: start with *pos = 0; returns false at the end. The map must
 * not be changed during an iteration. key/klen/value may each be NULL. */
bool kc_map_next(const struct kc_map *m, size_t *pos, const void **key, size_t *klen, void **value);

/* The keyed hash used by the map, exposed for other tables (e.g. sharded indexes). */
uint64_t kc_hash(const void *data, size_t len);

#endif
