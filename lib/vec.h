/* vec.h - growable array of fixed-size elements, stored contiguously. */
#ifndef KC_LIB_VEC_H
#define KC_LIB_VEC_H

#include <stddef.h>

struct kc_vec {
	void *data;        /* len elements of 'elem' bytes; NULL while cap == 0 */
	size_t len;
	size_t cap;
	size_t elem;       /* element size in bytes, set once by kc_vec_init */
};

void kc_vec_init(struct kc_vec *v, size_t elem);
/* Releases the storage (not what elements point to) and empties v. */
void kc_vec_free(struct kc_vec *v);
void kc_vec_reserve(struct kc_vec *v, size_t need);
/* Appends a copy of *elem (or zeroes when elem is NULL); returns the new slot, valid until
 * the next growth. */
void *kc_vec_push(struct kc_vec *v, const void *elem);
/* Returns element i (i < len). */
void *kc_vec_at(const struct kc_vec *v, size_t i);
/* Removes element i keeping order. */
void kc_vec_remove(struct kc_vec *v, size_t i);
/* Removes element i by moving the last element into its place. */
void kc_vec_swap_remove(struct kc_vec *v, size_t i);
void kc_vec_clear(struct kc_vec *v);

#endif
