/* DESIGN: contiguous storage with doubling growth; bounds are checked and a violation aborts,
 * since an out-of-range index is a programming error, not input. */
#include "lib/vec.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

void kc_vec_init(struct kc_vec *v, size_t elem)
{
	v->data = NULL;
	v->len = 0;
	v->cap = 0;
	v->elem = elem;
}

void kc_vec_free(struct kc_vec *v)
{
	free(v->data);
	kc_vec_init(v, v->elem);
}

void kc_vec_reserve(struct kc_vec *v, size_t need)
{
	if (need <= v->cap)
		return;
	size_t cap = kc_grow_cap(v->cap, need, v->elem);
	v->data = xrealloc(v->data, cap * v->elem);
	v->cap = cap;
}

void *kc_vec_push(struct kc_vec *v, const void *elem)
{
	kc_vec_reserve(v, v->len + 1);
	void *slot = (char *)v->data + v->len * v->elem;
	if (elem)
		memcpy(slot, elem, v->elem);
	else
		memset(slot, 0, v->elem);
	v->len++;
	return slot;
}

void *kc_vec_at(const struct kc_vec *v, size_t i)
{
	if (i >= v->len)
		abort();
	return (char *)v->data + i * v->elem;
}

void kc_vec_remove(struct kc_vec *v, size_t i)
{
	if (i >= v->len)
		abort();
	char *p = (char *)v->data + i * v->elem;
	memmove(p, p + v->elem, (v->len - i - 1) * v->elem);
	v->len--;
}

void kc_vec_swap_remove(struct kc_vec *v, size_t i)
{
	if (i >= v->len)
		abort();
	if (i != v->len - 1)
		memcpy((char *)v->data + i * v->elem, (char *)v->data + (v->len - 1) * v->elem, v->elem);
	v->len--;
}

void kc_vec_clear(struct kc_vec *v)
{
	v->len = 0;
}
