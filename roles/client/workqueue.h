/* workqueue.h - a rate-limited work queue of string keys on one event loop, with client-go's
 * semantics: a key waits in the queue at most once; a key being processed is never handed out
 * again until its sync is done (an add meanwhile marks it dirty and it is queued again at
 * done); failed keys come back after a per-key exponential back-off; delayed adds (add_after)
 * keep the earliest deadline.
 *
 * Syncs may be asynchronous: the queue calls sync(arg, key) and the key stays "processing"
 * until workqueue_done(q, key, rc), which may be called from inside sync or later. At most
 * 'workers' syncs are outstanding at once.
 *
 * Threads: the queue belongs to its loop; every call happens on that thread. */
#ifndef KC_ROLES_CLIENT_WORKQUEUE_H
#define KC_ROLES_CLIENT_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct workqueue;

/* key is borrowed for the call; copy it to keep it past an asynchronous sync. */
typedef void (*workqueue_sync_fn)(void *arg, const char *key);

struct workqueue_config {
	const char *name;        /* for logs */
	unsigned workers;        /* outstanding syncs; 0: 5 */
	uint32_t base_delay_ms;  /* first retry delay; 0: 5 ms */
	uint32_t max_delay_ms;   /* back-off ceiling; 0: 1000 s (client-go's default) */
	unsigned batch;          /* syncs started per loop iteration, so I/O is not starved; 0: 32 */
};

struct workqueue *workqueue_new(struct loop *l, const struct workqueue_config *cfg,
				workqueue_sync_fn sync, void *arg);
/* Drops everything queued or delayed; syncs still outstanding may call workqueue_done no more
 * (their done is ignored only if it comes before free: after free the handle is gone). NULL
 * is a no-op. */
void workqueue_free(struct workqueue *q);

void workqueue_add(struct workqueue *q, const char *key);
/* Adds key once delay_ms has passed (0: now). An earlier pending deadline wins. */
void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms);
/* Adds after the key's back-off (base * 2^failures, capped) and counts one more failure. */
void workqueue_add_rate_limited(struct workqueue *q, const char *key);
/* Clears the key's failure count. */
void workqueue_forget(struct workqueue *q, const char *key);
unsigned workqueue_requeues(const struct workqueue *q, const char *key);
/* Ends the sync of key: rc 0 forgets its failures, rc < 0 re-adds it rate-limited. A key added
 * while it was processing is queued again. */
void workqueue_done(struct workqueue *q, const char *key, int rc);

/* Keys waiting (not delayed, not processing). */
size_t workqueue_len(const struct workqueue *q);
/* Keys being synced now. */
size_t workqueue_active(const struct workqueue *q);
/* Keys waiting for a deadline. */
size_t workqueue_delayed(const struct workqueue *q);

#endif
