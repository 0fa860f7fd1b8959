/* kv_local.c - struct kv over the in-process store member: each entry calls store/store.h
 * directly (one indirect call; no copy, no encoding), so --role=all behaves as before. */
#include "store/kv.h"

static void l_submit(void *impl, struct loop *l, const void *cmd, size_t len, store_result_cb cb,
		     void *arg)
{
	store_submit(impl, l, cmd, len, cb, arg);
}

static void l_range(void *impl, struct loop *l, const struct mvcc_range_req *req, bool lin,
		    store_range_cb cb, void *arg)
{
	store_range(impl, l, req, lin, cb, arg);
}

static void l_watch(void *impl, struct loop *l, const struct watch_create_req *req,
		    store_watch_cb cb, void *arg, int64_t *id)
{
	store_watch(impl, l, req, cb, arg, id);
}

static void l_cancel(void *impl, int64_t id)
{
	store_watch_cancel(impl, id);
}

static void l_progress(void *impl, int64_t id)
{
	store_watch_progress(impl, id);
}

static const struct kv_ops local_ops = {
	.submit = l_submit,
	.range = l_range,
	.watch = l_watch,
	.watch_cancel = l_cancel,
	.watch_progress = l_progress,
};

void kv_local(struct store *s, struct kv *out)
{
	out->ops = &local_ops;
	out->impl = s;
}
