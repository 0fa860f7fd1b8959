/* remote.h - struct kv (store/kv.h) over a remote store cluster through the etcd v3 JSON
 * gateway (POST /v3/kv/range|put|deleterange|txn|compaction, /v3/lease/grant|revoke, streaming
 * /v3/watch; base64 bytes, int64 as strings): kc's own store members and real etcd alike.
 *
 * Threads: kv_remote_open starts one private thread with its own loop and HTTP client (keep-alive
 * pool, TLS, streams). Requests from any thread are posted to it; completions are posted back to
 * the reply loop the caller named, as store/store.h does.
 *
 * Endpoints: tried in order, starting from the one that answered last. A request moves on to
 * the next endpoint when it certainly did not run (connection refused or unreachable, TLS
 * handshake, "no leader"); reads also on any broken connection. A write whose connection broke
 * after it was sent fails with -KC_EUNAVAIL (its outcome is unknown, as after -KC_ETIMEDOUT).
 * A broken watch stream is re-established on the next endpoint from the last revision delivered
 * + 1 (no gap, no duplicate); when that revision was compacted meanwhile, the watcher gets a
 * CANCELED response with -MVCC_ECOMPACTED, as from a local store. Progress requests are
 * answered locally with the last revision delivered (every event at or below it was). */
#ifndef KC_STORE_REMOTE_H
#define KC_STORE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/str.h"
#include "store/kv.h"

struct tls_client_config;
struct kv_remote;

#define REMOTE_ENDPOINTS_MAX 16
/* Largest unary response and largest watch stream message accepted. */
#define REMOTE_BODY_MAX ((size_t)256 << 20)

struct kv_remote_config {
	const char *endpoints;	       /* "http[s]://host:port[,...]" (copied) */
	struct tls_client_config *tls; /* for https endpoints (borrowed; must outlive); NULL:
					  * https endpoints are refused */
	unsigned request_timeout_ms;   /* per unary request, retries included; 0 = 10000 */
	/* A watch whose reply loop leaves more than this many events or bytes unconsumed is
	 * canceled with -KC_ELIMIT (as the in-process hub's watchers). 0 = 10000 / 64 MiB. */
	size_t watch_max_events, watch_max_bytes;
};

/* Parses the endpoints and starts the thread. Does not contact the store. Returns 0 with *out
 * (close with kv_remote_close) or -KC_EINVAL (bad URL, https without tls) with err set. */
int kv_remote_open(const struct kv_remote_config *cfg, struct kv_remote **out, struct kc_err *err);
/* Fills *out with the struct kv of r (borrowed). */
void kv_remote_kv(struct kv_remote *r, struct kv *out);
/* Blocking: one linearizable count-only range on the endpoints (a start-up check). Returns 0,
 * or a negative code with err (err->code: the last failure's own code, e.g. -KC_ETLS when the
 * members' certificates are not signed by the configured CA). Not from the remote's thread. */
int kv_remote_ping(struct kv_remote *r, struct kc_err *err);
/* Stops the thread: pending requests complete with -KC_ECLOSED and watches get their final
 * NULL callback (posted: their reply loops must still run to release them). NULL is a no-op. */
void kv_remote_close(struct kv_remote *r);

/* ---- translation (pure; exposed for tests) ------------------------------------------------ */

/* Translates an encoded mvcc command into the gateway path ("/v3/kv/txn", ...) and JSON body
 * appended to body; *type receives the command type. -KC_EUNSUPPORTED for lease checkpoints;
 * decode errors as mvcc_cmd_decode. */
int remote_cmd_to_json(const void *cmd, size_t len, const char **path, enum mvcc_cmd_type *type,
		       struct kc_str *body, struct kc_err *err);
void remote_range_to_json(const struct mvcc_range_req *req, bool serializable, struct kc_str *body);
void remote_watch_to_json(const struct watch_create_req *req, int64_t start_revision,
			  struct kc_str *body);

/* Parses a successful answer to a command of 'type' into *out (zeroed first; free with
 * mvcc_result_free). 0 or -KC_EPROTO with err. */
int remote_parse_result(enum mvcc_cmd_type type, const char *body, size_t len,
			struct mvcc_result *out, struct kc_err *err);
/* A RangeResponse into *out (free with mvcc_range_resp_free). 0 or -KC_EPROTO. */
int remote_parse_range(const char *body, size_t len, struct mvcc_range_resp *out,
		       struct kc_err *err);
/* An error answer (HTTP status >= 400, etcd's {"error","message","code"} or a stream's
 * {"error":{...}}): returns the store's code for it (-MVCC_ECOMPACTED, -KC_EUNAVAIL for "no
 * leader", -KC_ETIMEDOUT, ...) with etcd's message in err. */
int remote_parse_error(int http_status, const char *body, size_t len, struct kc_err *err);

/* One message of a watch stream. */
struct remote_watch_msg {
	int64_t header_revision;
	int64_t watch_id;
	bool created;
	bool canceled;
	int64_t compact_revision;
	char cancel_reason[KC_ERRMSG_MAX];
	struct mvcc_events events; /* owned; has_prev set where prev_kv was sent */
	int error;		   /* < 0: the stream carried an error (code as
				      * remote_parse_error), message in cancel_reason */
};
/* Parses one stream message ({"result":{...}} or {"error":{...}}) into *out (free with
 * remote_watch_msg_free). 0 or -KC_EPROTO. */
int remote_parse_watch(const char *line, size_t len, struct remote_watch_msg *out,
		       struct kc_err *err);
void remote_watch_msg_free(struct remote_watch_msg *m);

#endif
