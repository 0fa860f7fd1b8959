/* apiclient.h - an asynchronous Kubernetes API client on one event loop: JSON requests with
 * Status errors decoded, and watch streams split into events. Shared by the controllers, the
 * scheduler and the node agent through informers (roles/client/informer.h).
 *
 * Identity: the caller supplies TLS material (a CA, and a client certificate or a bearer token).
 * In-process components use a client certificate issued at start from the cluster CA
 * (apiclient_issue_identity), so that audit and RBAC see their own user names
 * ("system:kc-controller-manager", "system:kube-scheduler") in group system:masters.
 *
 * Threads: an apiclient belongs to the loop it was created on; every call and callback happens
 * on that loop's thread. */
#ifndef KC_ROLES_CLIENT_APICLIENT_H
#define KC_ROLES_CLIENT_APICLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "lib/err.h"

struct loop;
struct kc_cert;
struct kc_key;
struct apiclient;
struct apiclient_watch;

/* Largest JSON response or watch event line accepted. */
#define APICLIENT_MAX_BODY ((size_t)64 << 20)
#define APICLIENT_MAX_EVENT ((size_t)16 << 20)

struct apiclient_config {
	const char *server;          /* "https://127.0.0.1:6443"; http:// for tests */
	const struct kc_cert *ca;    /* trust anchor for https; copied */
	const struct kc_cert *cert;  /* client certificate (optional); copied */
	const struct kc_key *key;
	const char *token;           /* bearer token (optional); copied */
	const char *user_agent;      /* NULL: "kc" */
	unsigned max_conns;          /* concurrent requests (each needs a connection); 0: 64 */
	uint32_t timeout_ms;         /* per non-watch request; 0: 30 s */
};

/* The outcome of one request, handed to the callback. */
struct api_result {
	int rc;              /* 0 when a response arrived, else a transport error (-KC_ECLOSED
			      * while the client is being freed: do nothing then) */
	int status;          /* HTTP status, 0 without a response */
	cJSON *obj;          /* the parsed body (NULL when empty or not JSON): owned by the
			      * result, freed after the callback; set to NULL to keep it */
	const char *reason;  /* for a non-2xx Status body: its reason ("NotFound"), else "" */
	const char *message; /* its message, or the transport error text, else "" */
};

typedef void (*apiclient_cb)(void *arg, struct api_result *res);

/* Creates a client on loop l (which must outlive it). Returns 0 with *out or a negative code
 * (bad URL, unusable TLS material) with err. */
int apiclient_new(struct loop *l, const struct apiclient_config *cfg, struct apiclient **out,
		  struct kc_err *err);
/* Fails every pending request and watch with rc -KC_ECLOSED (their callbacks run inside this
 * call and must not start new requests: those are refused), then frees. NULL is a no-op. */
void apiclient_free(struct apiclient *c);
struct loop *apiclient_loop(const struct apiclient *c);
/* True inside apiclient_free (callbacks use it to skip retries). */
bool apiclient_closing(const struct apiclient *c);

/* One request. path is the URL path and query. body (may be NULL) is copied; content_type NULL
 * means "application/json". cb (may be NULL) runs later, never inside this call. Returns 0, or
 * -KC_ECLOSED / -KC_EINVAL with no callback. */
int apiclient_request(struct apiclient *c, const char *method, const char *path,
		      const char *content_type, const void *body, size_t len, apiclient_cb cb,
		      void *arg);
/* The same with a JSON body (borrowed, serialized during the call). */
int apiclient_request_json(struct apiclient *c, const char *method, const char *path,
			   const cJSON *body, apiclient_cb cb, void *arg);

/* Watch streams. on_event gets each event's type ("ADDED", "MODIFIED", "DELETED", "BOOKMARK",
 * "ERROR") and object, which the callee may take (set *obj = NULL) or leave to be freed.
 * on_end runs once when the stream ends for any reason: rc 0 for a clean end of a 200 stream,
 * else status != 200 (with res.obj the Status) or a transport error. The handle is invalid
 * after on_end returns or after apiclient_watch_cancel. */
typedef void (*apiclient_event_cb)(void *arg, const char *type, cJSON **obj);
typedef void (*apiclient_end_cb)(void *arg, struct api_result *res);

int apiclient_watch(struct apiclient *c, const char *path, apiclient_event_cb on_event,
		    apiclient_end_cb on_end, void *arg, struct apiclient_watch **out);
/* No callback runs for w afterwards. NULL is a no-op. */
void apiclient_watch_cancel(struct apiclient_watch *w);

/* Issues an in-memory client certificate for user cn in group system:masters from the cluster
 * CA (valid one year from now, Unix seconds). Caller frees both. */
int apiclient_issue_identity(const struct kc_cert *ca, const struct kc_key *ca_key, const char *cn,
			     int64_t now, struct kc_cert **cert, struct kc_key **key,
			     struct kc_err *err);

/* Helpers for paths: appends the percent-encoded s to buf (for selectors in query strings). */
struct kc_str;
void apiclient_escape(struct kc_str *buf, const char *s);

/* RFC 3339 "2024-05-01T10:00:00Z" of the loop's wall clock (seconds precision, as
 * metav1.Time serializes), into buf (>= 32 bytes). Returns buf. */
char *apiclient_now_rfc3339(struct loop *l, char *buf, size_t cap);
/* Parses a metav1.Time ("...Z", optional fraction) into Unix seconds; -1 when malformed. */
int64_t apiclient_parse_time(const char *s);
/* Wall-clock Unix seconds from the loop's clock. */
int64_t apiclient_wall_s(struct loop *l);

#endif
