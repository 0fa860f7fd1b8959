/* kv.h - the store as the API server uses it: submit an mvcc command, range, watch. One small
 * function table with two implementations: the in-process member (kv_local, store/kv_local.c:
 * direct calls into store/store.h, nothing copied or encoded) and a remote store cluster over
 * the etcd v3 JSON gateway (store/remote.h), which kc's store and real etcd both serve.
 *
 * Contract: exactly store/store.h's for the calls of the same names (store_submit, store_range,
 * store_watch, store_watch_cancel, store_watch_progress): any thread may call; completions run
 * on the named reply loop, never inside the call; results are borrowed for the callback;
 * watches get one response at a time and a final NULL callback after a CANCELED response or
 * kv_watch_cancel. Error codes are the store's: -KC_EUNAVAIL (no leader / no endpoint),
 * -KC_ETIMEDOUT (outcome unknown), -MVCC_ECOMPACTED, ... */
#ifndef KC_STORE_KV_H
#define KC_STORE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct loop;

struct kv_ops {
	void (*submit)(void *impl, struct loop *reply_loop, const void *cmd, size_t len,
		       store_result_cb cb, void *arg);
	void (*range)(void *impl, struct loop *reply_loop, const struct mvcc_range_req *req,
		      bool linearizable, store_range_cb cb, void *arg);
	void (*watch)(void *impl, struct loop *reply_loop, const struct watch_create_req *req,
		      store_watch_cb event_cb, void *arg, int64_t *id);
	void (*watch_cancel)(void *impl, int64_t id);
	void (*watch_progress)(void *impl, int64_t id);
};

/* A value: the table and its implementation (borrowed; must outlive every user). */
struct kv {
	const struct kv_ops *ops;
	void *impl;
};

/* Fills *out with the in-process implementation over s (borrowed). */
void kv_local(struct store *s, struct kv *out);

static inline void kv_submit(const struct kv *kv, struct loop *l, const void *cmd, size_t len,
			     store_result_cb cb, void *arg)
{
	kv->ops->submit(kv->impl, l, cmd, len, cb, arg);
}

static inline void kv_range(const struct kv *kv, struct loop *l, const struct mvcc_range_req *req,
			    bool linearizable, store_range_cb cb, void *arg)
{
	kv->ops->range(kv->impl, l, req, linearizable, cb, arg);
}

static inline void kv_watch(const struct kv *kv, struct loop *l, const struct watch_create_req *req,
			    store_watch_cb cb, void *arg, int64_t *id)
{
	kv->ops->watch(kv->impl, l, req, cb, arg, id);
}

static inline void kv_watch_cancel(const struct kv *kv, int64_t id)
{
	kv->ops->watch_cancel(kv->impl, id);
}

static inline void kv_watch_progress(const struct kv *kv, int64_t id)
{
	kv->ops->watch_progress(kv->impl, id);
}

#endif
