/* list.h - typed intrusive doubly linked circular list (musl has no sys/queue.h). */
#ifndef KC_LIB_LIST_H
#define KC_LIB_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define kc_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* A list head and a list link are the same struct; an empty head points at itself.
 * A node that is in no list has next == prev == itself after kc_list_init / kc_list_del. */
struct kc_list {
	struct kc_list *next;
	struct kc_list *prev;
};

static inline void kc_list_init(struct kc_list *l)
{
	l->next = l;
	l->prev = l;
}

static inline bool kc_list_empty(const struct kc_list *l)
{
	return l->next == l;
}

static inline void kc_list_insert_after(struct kc_list *pos, struct kc_list *n)
{
	n->prev = pos;
	n->next = pos->next;
	pos->next->prev = n;
	pos->next = n;
}

/* Appends n at the tail of head. */
static inline void kc_list_push_back(struct kc_list *head, struct kc_list *n)
{
	kc_list_insert_after(head->prev, n);
}

static inline void kc_list_push_front(struct kc_list *head, struct kc_list *n)
{
	kc_list_insert_after(head, n);
}

/* Unlinks n and re-initializes it, so deleting twice is harmless. */
static inline void kc_list_del(struct kc_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	kc_list_init(n);
}

/* Returns the first link, or NULL when the list is empty. */
static inline struct kc_list *kc_list_first(const struct kc_list *head)
{
	return kc_list_empty(head) ? NULL : head->next;
}

/* Moves every node of 'from' to the tail of 'to'; 'from' ends empty. */
static inline void kc_list_splice_back(struct kc_list *to, struct kc_list *from)
{
	if (kc_list_empty(from))
		return;
	struct kc_list *first = from->next, *last = from->prev;
	first->prev = to->prev;
	to->prev->next = first;
	last->next = to;
	to->prev = last;
	kc_list_init(from);
}

/* Iterates links; 'tmp' allows deleting 'it' inside the body. */
#define kc_list_each_safe(head, it, tmp)                                                         \
	for ((it) = (head)->next, (tmp) = (it)->next; (it) != (head); (it) = (tmp), (tmp) = (it)->next)

#endif
