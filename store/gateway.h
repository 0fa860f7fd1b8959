/* gateway.h - etcd v3's JSON gateway (POST /v3/kv/range, /v3/watch, /v3/lease/..., ...) over kc's
 * store: strict translation of etcd's grpc-gateway JSON into mvcc requests and encoded commands,
 * mvcc results back into etcd 3.4's exact JSON shapes, and HTTP handlers on a router.
 *
 * The translators are pure (no I/O, no store) so they are unit-tested and fuzzed on their own.
 * The handlers reach the store through struct gateway_backend, a function table: the store
 * member implements it (store/store.h), tests implement a fake.
 *
 * JSON conventions (etcd's gateway, verified against etcd 3.4.23): bytes are standard base64
 * with padding; int64/uint64 are written as decimal strings and read as numbers or strings;
 * request fields are accepted in snake_case and lowerCamelCase; enums as names or numbers;
 * unknown fields are ignored; fields with default values (0, false, "", []) are left out of
 * responses; errors are {"error":M,"message":M,"code":GRPC} with the HTTP status grpc-gateway
 * maps that gRPC code to. */
#ifndef KC_STORE_GATEWAY_H
#define KC_STORE_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/str.h"
#include "store/mvcc.h"
#include "store/watch.h"

struct router;
struct loop;

/* Largest request body the gateway translates (etcd's default --max-request-bytes, 1.5 MiB, plus
 * room for base64 and JSON framing). */
#define GATEWAY_BODY_MAX ((size_t)2 << 20)
#define GATEWAY_JSON_DEPTH_MAX 16u   /* nested txns are at most MVCC_TXN_DEPTH_MAX deep */
#define GATEWAY_PEER_URLS_MAX 16
/* The etcd API level the gateway implements, reported as "version" by maintenance/status
 * (clients gate features on it). */
#define GATEWAY_ETCD_VERSION "3.4.0"

/* gRPC status codes the gateway reports (google.golang.org/grpc/codes). */
enum gateway_grpc_code {
	GRPC_OK = 0, GRPC_CANCELED = 1, GRPC_UNKNOWN = 2, GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4, GRPC_NOT_FOUND = 5, GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7, GRPC_RESOURCE_EXHAUSTED = 8, GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10, GRPC_OUT_OF_RANGE = 11, GRPC_UNIMPLEMENTED = 12, GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14, GRPC_DATA_LOSS = 15, GRPC_UNAUTHENTICATED = 16,
};

/* etcd's ResponseHeader. */
struct gateway_header {
	uint64_t cluster_id;
	uint64_t member_id;
	int64_t revision;        /* 0: left out (etcd's cluster responses carry none) */
	uint64_t raft_term;
};

/* ---------------------------------------------------------------------------------------------
 * Requests. Byte fields of the parsed structs point into memory the struct owns; release with
 * gateway_request_free (zeroed structs are no-ops). Every parser returns 0, or -KC_EPARSE /
 * -KC_EINVAL / -KC_ELIMIT / -KC_ETOOBIG / MVCC_E* with a message in err fit for the client
 * (gateway_error_json turns it into etcd's error body). */

enum gateway_kind {
	GW_RANGE = 1, GW_PUT, GW_DELETE, GW_TXN, GW_COMPACT, GW_LEASE_GRANT, GW_LEASE_REVOKE,
	GW_LEASE_KEEPALIVE, GW_LEASE_TTL, GW_WATCH, GW_STATUS, GW_MEMBER_LIST, GW_MEMBER_ADD,
	GW_MEMBER_REMOVE, GW_MEMBER_PROMOTE, GW_SNAPSHOT,
};

struct gateway_request {
	enum gateway_kind kind;
	/* GW_RANGE */
	struct mvcc_range_req range;
	bool serializable;
	/* GW_PUT, GW_DELETE, GW_TXN, GW_COMPACT, GW_LEASE_GRANT (id 0: see gateway_lease_id),
	 * GW_LEASE_REVOKE: the encoded command (mvcc_cmd_encode_*) */
	struct kc_str cmd;
	bool physical;           /* GW_COMPACT */
	/* GW_LEASE_*: id; GW_LEASE_GRANT: ttl */
	int64_t lease_id;
	int64_t lease_ttl;
	bool lease_keys;         /* GW_LEASE_TTL: list attached keys */
	/* GW_WATCH */
	struct watch_create_req watch;
	/* GW_MEMBER_*: id; GW_MEMBER_ADD: peer URLs (NUL-terminated) and learner flag */
	uint64_t member_id;
	const char *peer_urls[GATEWAY_PEER_URLS_MAX];
	size_t npeer_urls;
	bool learner;
	/* GW_MEMBER_ADD: kc's extension field "name" (kc derives member ids from names); NULL
	 * when absent */
	const char *member_name;
	/* private */
	void **blocks;
	size_t nblocks;
};

/* Parses the body of one gateway call (kind chosen by the path) into *out (zeroed first). For
 * GW_WATCH the body is a WatchRequest; only create_request is meaningful on HTTP. For
 * GW_LEASE_GRANT with ID 0, out->cmd stays empty: call gateway_lease_grant_cmd with the id the
 * server picks. */
int gateway_parse(enum gateway_kind kind, const char *body, size_t len,
		  struct gateway_request *out, struct kc_err *err);
/* Encodes the lease grant command of a parsed GW_LEASE_GRANT with id (> 0) into req->cmd. */
int gateway_lease_grant_cmd(struct gateway_request *req, int64_t id, struct kc_err *err);
void gateway_request_free(struct gateway_request *req);

/* The kind served at an etcd gateway path ("/v3/kv/range", "/v3/kv/lease/revoke", ...), or 0. */
enum gateway_kind gateway_kind_of_path(const char *path);

/* ---------------------------------------------------------------------------------------------
 * Responses: each appends one JSON object to out (no newline). */

struct gateway_member {
	uint64_t id;
	const char *name;                      /* "" when not started yet */
	const char *const *peer_urls;
	size_t npeer_urls;
	const char *const *client_urls;
	size_t nclient_urls;
	bool learner;
};

struct gateway_status {
	const char *version;
	int64_t db_size;
	int64_t db_size_in_use;
	uint64_t leader;
	uint64_t raft_index;
	uint64_t raft_term;
	uint64_t raft_applied_index;
	bool learner;
	const char *const *errors;
	size_t nerrors;
};

/* The result of a command (GW_PUT, GW_DELETE, GW_TXN, GW_COMPACT, GW_LEASE_GRANT,
 * GW_LEASE_REVOKE) that applied without error (r->err.code == 0). */
void gateway_write_result(struct kc_str *out, const struct gateway_header *h,
			  const struct mvcc_result *r);
void gateway_write_range(struct kc_str *out, const struct gateway_header *h,
			 const struct mvcc_range_resp *r);
/* {"result":{header, ID, TTL}}: a keepalive stream message (TTL 0: lease not found). */
void gateway_write_keepalive(struct kc_str *out, const struct gateway_header *h, int64_t id,
			     int64_t ttl);
/* keys (may be NULL) from mvcc_lease_keys. */
void gateway_write_lease_ttl(struct kc_str *out, const struct gateway_header *h, int64_t id,
			     int64_t ttl, int64_t granted_ttl, const struct mvcc_range_resp *keys);
void gateway_write_status(struct kc_str *out, const struct gateway_header *h,
			  const struct gateway_status *s);
/* member (may be NULL) is the added or promoted member for add; members the list after. */
void gateway_write_members(struct kc_str *out, const struct gateway_header *h,
			   const struct gateway_member *member, const struct gateway_member *members,
			   size_t nmembers);
/* One watch stream message {"result":{...}}: created (resp NULL), events, progress (an empty
 * events response) or canceled. */
void gateway_write_watch(struct kc_str *out, const struct gateway_header *h, int64_t watch_id,
			 bool created, const struct watch_resp *resp);
/* etcd's mvccpb.KeyValue object. */
void gateway_write_kv(struct kc_str *out, const struct mvcc_kv *kv);

/* The gRPC code etcd reports for a negative kc/mvcc code. */
enum gateway_grpc_code gateway_grpc_code(int code);
/* The HTTP status grpc-gateway maps a gRPC code to. */
int gateway_http_status(enum gateway_grpc_code code);
/* etcd's error body for code/msg; msg NULL: the code's text. The store's etcd-visible codes
 * (MVCC_ECOMPACTED..MVCC_ELEASE_PROVIDED) always get etcd's exact text, msg ignored, with the
 * "etcdserver: " prefix where etcd has it. Returns the HTTP status to send. */
int gateway_error_json(struct kc_str *out, int code, const char *msg);

/* ---------------------------------------------------------------------------------------------
 * Serving. */

/* What a backend hands back for one call. Everything is borrowed for the duration of the
 * callback. rc < 0: failed (msg may hold details; rc MVCC_E*, -KC_EUNAVAIL for "no leader",
 * -KC_ETIMEDOUT, ...). */
struct gateway_reply {
	int rc;
	const char *msg;
	struct gateway_header header;
	const struct mvcc_result *result;       /* command kinds */
	const struct mvcc_range_resp *range;    /* GW_RANGE; GW_LEASE_TTL: the keys (may be NULL) */
	int64_t lease_id, lease_ttl, lease_granted_ttl;   /* GW_LEASE_KEEPALIVE / GW_LEASE_TTL */
	const struct gateway_status *status;    /* GW_STATUS */
	const struct gateway_member *member;    /* GW_MEMBER_ADD / PROMOTE */
	const struct gateway_member *members;   /* GW_MEMBER_* */
	size_t nmembers;
};

typedef void (*gateway_reply_cb)(const struct gateway_reply *rep, void *arg);
/* A watch stream message: created == true once first; then responses until a CANCELED one
 * or gateway_backend.watch_stop. rc < 0 (instead of the created message): the watch could not
 * be created. After rc < 0 or a CANCELED response the handle is dead: no watch_stop follows. */
typedef void (*gateway_watch_cb)(int rc, const struct gateway_header *h, int64_t watch_id,
				 bool created, const struct watch_resp *resp, void *arg);

/* The store as the gateway sees it. Callbacks run on 'l' (the HTTP request's loop), possibly
 * from inside the call itself. */
struct gateway_backend {
	void *impl;
	/* Serves req (every kind but GW_WATCH; req borrowed for the call only); cb runs once. For
	 * GW_LEASE_GRANT with lease_id 0, the backend picks the id (gateway_lease_grant_cmd). */
	void (*call)(void *impl, struct loop *l, struct gateway_request *req, gateway_reply_cb cb,
		     void *arg);
	/* Starts a watch; returns a handle for watch_stop, or NULL when cb already reported the
	 * failure. */
	void *(*watch_start)(void *impl, struct loop *l, const struct watch_create_req *req,
			     gateway_watch_cb cb, void *arg);
	/* No callback runs for the handle after this. */
	void (*watch_stop)(void *impl, void *handle);
	/* GW_SNAPSHOT: writes a consistent copy of the database to a new file and returns its
	 * path (heap; the gateway unlinks and frees it). Blocking: the gateway calls it on a
	 * thread of its own. NULL: /v3/maintenance/snapshot answers "unimplemented". */
	int (*snapshot)(void *impl, char **path, struct kc_err *err);
};

/* Snapshot stream chunk (etcd's snapshotSendBufferSize): each message is
 * {"result":{"remaining_bytes":"N","blob":"<base64>"}}, then one last message whose blob is the
 * SHA-256 of everything sent, as etcd does (clients append it to the file and check it). */
#define GATEWAY_SNAPSHOT_CHUNK (32 * 1024)

/* The backend over kc's store member (store/store.h), in store/gateway_store.c: fills *out with
 * functions that call s (borrowed; must outlive the gateway). Header revision comes from each
 * result; raft_term is only known to GW_STATUS. */
struct store;
void gateway_backend_store(struct store *s, struct gateway_backend *out);

struct gateway;

/* Routes every etcd gateway path onto r (borrowed backend, must outlive the gateway). Free with
 * gateway_free after the servers using r are closed. Returns 0 or a negative code (then *out is
 * set all the same, because routes added before the failure point into it: discard the router
 * and free *out). */
int gateway_register(struct router *r, const struct gateway_backend *be, struct gateway **out,
		     struct kc_err *err);
void gateway_free(struct gateway *g);

/* etcd JSON field readers, shared with the gateway's client (store/remote_json.c): 'snake' also
 * matches its lowerCamelCase form, JSON null counts as absent (NULL / 0 / false, returning 0);
 * a value of the wrong type fails with 'code' and "bad integer|boolean for field NAME". */
struct cJSON;
const struct cJSON *gateway_json_field(const struct cJSON *o, const char *snake);
int gateway_json_i64(const struct cJSON *o, const char *name, int64_t *out, int code, struct kc_err *err);
int gateway_json_bool(const struct cJSON *o, const char *name, bool *out, int code, struct kc_err *err);

#endif
