/* watch.h - the watch hub: delivers the store's change events to watchers on a key or a range,
 * from any retained revision, in order, without gaps or duplicates, with progress notifications.
 *
 * Threads: the hub and its watchers belong to the store thread (the one that applies batches
 * and owns the struct mvcc); every function here runs there, except watch_resp_free, which any
 * thread may call, so responses can be handed to a connection's thread.
 *
 * Model (pull): the store thread calls watch_hub_publish after each applied batch. A watcher
 * that has something to deliver calls its ready callback once; its owner then calls watch_poll
 * until it returns 0, and sends each response on. A watcher that starts in the past first reads
 * the history in bounded pages from the database (catch-up), then switches to live events;
 * revisions are never split across responses. A live watcher whose owner does not poll fast
 * enough is cancelled (or, with WATCH_OVERFLOW_RESYNC, falls back to catch-up) once its queue
 * exceeds the limits; it never silently loses an event. */
#ifndef KC_STORE_WATCH_H
#define KC_STORE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "store/mvcc.h"

struct watch_hub;
struct watch;

/* Called on the store thread when w goes from "nothing to deliver" to "something to deliver"
 * (events, a progress notification, a cancellation, or catch-up work). It must not call into
 * the hub; it schedules a watch_poll. */
typedef void (*watch_ready_fn)(struct watch *w, void *arg);

enum watch_overflow {
	WATCH_OVERFLOW_CANCEL = 0,   /* cancel the watcher: the client re-watches (etcd clients do) */
	WATCH_OVERFLOW_RESYNC = 1,   /* keep it, stop queueing, catch up from history later */
};

struct watch_hub_options {
	size_t max_queue_events;     /* per watcher; 0 = 10000 */
	size_t max_queue_bytes;      /* per watcher; 0 = 64 MiB */
	size_t catchup_events;       /* events per history page; 0 = 1000 */
	size_t catchup_scan;         /* history rows examined per page; 0 = 10000 */
	enum watch_overflow overflow;
};

/* Creates a hub over m (borrowed; must outlive the hub), at m's current revision. opts may be
 * NULL. Free with watch_hub_free, which also closes every watcher. */
struct watch_hub *watch_hub_new(struct mvcc *m, const struct watch_hub_options *opts);
void watch_hub_free(struct watch_hub *h);
/* The newest revision published (events up to it can be delivered). */
int64_t watch_hub_revision(const struct watch_hub *h);
size_t watch_hub_count(const struct watch_hub *h);

/* Feeds the events of one applied batch (as appended by mvcc_apply_batch) and the store revision
 * after it. Takes the events' contents: evs is left empty, reusable. Events at or below the
 * hub's revision are dropped (a publish must never repeat one). */
void watch_hub_publish(struct watch_hub *h, struct mvcc_events *evs, int64_t revision);

struct watch_create_req {
	const void *key;             /* etcd key conventions, as struct mvcc_range_req */
	size_t key_len;
	const void *range_end;
	size_t range_end_len;
	int64_t start_revision;      /* inclusive; <= 0: only events after the hub's revision */
	bool prev_kv;
	bool progress_notify;        /* include in watch_hub_progress_tick */
	bool no_put;                 /* etcd filters */
	bool no_delete;
};

/* Registers a watcher. Returns 0 and *out (release with watch_close), -MVCC_ECOMPACTED with
 * *compact_revision set when start_revision is below the compact revision (the client must
 * re-list), or -MVCC_EEMPTY_KEY / -KC_ELIMIT. ready may be called before this returns. */
int watch_create(struct watch_hub *h, const struct watch_create_req *req, watch_ready_fn ready,
		 void *arg, struct watch **out, int64_t *compact_revision, struct kc_err *err);
/* Unregisters and frees w. Responses already polled stay valid. */
void watch_close(struct watch_hub *h, struct watch *w);
int64_t watch_id(const struct watch *w);
/* Whether watch_poll would produce something or has catch-up work to do. */
bool watch_is_ready(const struct watch *w);

/* RequestProgress: queues a progress notification carrying the hub's revision behind w's pending
 * events, so it arrives only when every event at or below that revision has been delivered. A
 * watcher still catching up (or starting in the future) gets it once it is live and there. */
void watch_request_progress(struct watch_hub *h, struct watch *w);
/* Periodic progress (etcd's progress_notify): to every live watcher that asked for it and has
 * nothing queued. The caller decides the period (etcd: 10 minutes; Kubernetes asks for 5 s). */
void watch_hub_progress_tick(struct watch_hub *h);

enum watch_resp_kind { WATCH_RESP_EVENTS = 1, WATCH_RESP_PROGRESS = 2, WATCH_RESP_CANCELED = 3 };

struct watch_event {
	enum mvcc_event_type type;
	const struct mvcc_kv *kv;
	const struct mvcc_kv *prev_kv;   /* NULL unless the watcher asked and a previous kv exists */
};

struct watch_resp {
	int64_t watch_id;
	enum watch_resp_kind kind;
	/* EVENTS: the newest revision this response vouches for: the hub's revision when the
	 * watcher is drained and live, else the revision of the last event. PROGRESS: every event
	 * at or below it has been delivered. */
	int64_t revision;
	struct watch_event *events;
	size_t nevents;
	int64_t compact_revision;        /* CANCELED by compaction: oldest revision available */
	int64_t resume_revision;         /* CANCELED: first revision not delivered */
	int cancel_code;                 /* CANCELED: -MVCC_ECOMPACTED, -KC_ELIMIT (too slow), ... */
	char cancel_reason[KC_ERRMSG_MAX];
	void **refs;                     /* private: what keeps the kvs alive */
	size_t nrefs;
};

/* Produces w's next response into *out (events of whole revisions, at most max_events unless one
 * revision is bigger; 0 = 1000). Returns 1 with *out filled (free with watch_resp_free), or 0
 * when there is nothing to deliver now; when 0 is returned while catch-up work remains, ready is
 * called again so the owner comes back later. After a CANCELED response, w only awaits
 * watch_close. */
int watch_poll(struct watch_hub *h, struct watch *w, size_t max_events, struct watch_resp *out);
/* Releases a response; any thread. NULL and zeroed responses are no-ops. */
void watch_resp_free(struct watch_resp *r);

#endif
