/* http_server.h - an HTTP/1.1 server on one event loop: keep-alive and pipelining, bodies,
 * streaming responses with back-pressure, protocol upgrades, limits, timeouts, graceful stop.
 *
 * Threads: a server belongs to the loop it was opened on; every callback runs on that loop's
 * thread, and every function here must be called on it (http_server_open may also be called
 * before the loop runs). To use N cores, open one server per loop thread: either the first one
 * binds and the others accept on its listening socket ('share_listener', the kernel wakes one
 * loop per connection), or all bind with 'reuseport'. Prefer share_listener for a daemon:
 * SO_REUSEPORT lets a second process of the same user bind the same port silently, so a busy
 * port would go unnoticed. Limits (max_conns, max_inflight) apply per server.
 *
 * Requests: the handler receives a struct http_req and owns it until it finishes it with
 * exactly one of http_respond, http_stream_end, http_upgrade or http_req_abort; after that the
 * req must not be touched. A handler that returns without finishing answers asynchronously:
 * the connection waits (later pipelined requests stay unread) until the req is finished, from
 * any callback on the same loop. Nothing in this API calls a handler or a notification from
 * inside another http_* call. */
#ifndef KC_NET_HTTP_SERVER_H
#define KC_NET_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/err.h"
#include "net/http_parse.h"
#include "net/loop.h"
#include "net/transport.h"

struct http_server;
struct http_req;

/* Handles one request; see the ownership rule above. */
typedef void (*http_handler_fn)(struct http_req *req, void *arg);

/* Wraps an accepted non-blocking socket in a transport (e.g. TLS). On success the transport owns
 * fd; on failure returns NULL and leaves fd open (the server closes it). */
typedef struct transport *(*http_wrap_fn)(void *arg, int fd);

/* Receives an upgraded connection after the 101 response was sent: the callee owns t (close
 * with transport_close) and must start its own loop_io on t->fd. leftover/leftover_len are bytes
 * the client sent after the upgrade request, to be consumed first; they are valid during the
 * call only. Also check transport_pending(t). t is NULL when the connection failed before the
 * hand-over (the callee then only releases arg; l is NULL too if the server was closed). Runs
 * on the server's loop. */
typedef void (*http_upgrade_cb)(struct loop *l, struct transport *t, const char *leftover,
				size_t leftover_len, void *arg);

struct http_server_config {
	const char *addr;          /* numeric IPv4 or IPv6 ("[::1]" too); NULL or "": "::" dual-stack,
				    * falling back to 0.0.0.0 without IPv6 */
	uint16_t port;             /* 0: ephemeral, see http_server_port() */
	bool reuseport;            /* SO_REUSEPORT, for one server per loop thread on one port */
	/* Accept on this already open server's listening socket (duplicated; addr, port and
	 * reuseport are then ignored). It must have been opened before this call and stay open at
	 * least as long; it may run on another loop. */
	const struct http_server *share_listener;
	int backlog;               /* 0: 1024 */
	http_handler_fn handler;   /* required */
	void *handler_arg;
	http_wrap_fn wrap;         /* NULL: plain TCP */
	void *wrap_arg;
	/* Zero fields take defaults: 64 KiB head, 100 headers, 3 MiB body. */
	struct http_limits limits;
	unsigned max_conns;        /* 0: 10000. Over it: plain connections get a 503, TLS ones a close */
	unsigned max_inflight;     /* 0: unlimited. Over it: 429 with Retry-After */
	unsigned retry_after_s;    /* 0: 1 */
	/* Timeouts in ms; 0 takes the default. */
	unsigned idle_timeout_ms;   /* between requests on a keep-alive connection (90 s) */
	unsigned header_timeout_ms; /* from the first byte of a head (or the accept) to its end (10 s) */
	unsigned body_timeout_ms;   /* from the end of the head to the end of the body (60 s) */
	unsigned write_timeout_ms;  /* output pending without progress (60 s) */
	unsigned linger_ms;         /* draining the client before closing after an error (2 s) */
	size_t stream_high_water;   /* 0: 256 KiB of unsent output makes a stream "congested" */
	size_t stream_max_buffer;   /* 0: 64 MiB: a stream that buffers more is closed */
};

/* Opens a listening socket and starts accepting on loop l. cfg is copied (addr need not
 * outlive the call). Returns 0 with *out set, or a negative code with err filled. */
int http_server_open(struct loop *l, const struct http_server_config *cfg, struct http_server **out,
		     struct kc_err *err);

/* The bound port (useful with port 0). */
uint16_t http_server_port(const struct http_server *s);

/* Serves an already connected non-blocking stream socket wrapped in t (takes ownership of t;
 * peer may be NULL). Counts toward max_conns like an accepted connection. Returns 0 or
 * -KC_EUNAVAIL (t is closed) when over the limit or stopping. */
int http_server_adopt(struct http_server *s, struct transport *t, const struct sockaddr *peer,
		      socklen_t peer_len);

/* Graceful stop: stops accepting, closes idle connections now, lets started requests finish
 * (their responses say Connection: close), and after grace_ms closes whatever is left (handlers
 * holding requests get on_close). done (may be NULL) runs once, on the loop, when no connection
 * is left. The server stays allocated until http_server_close. */
void http_server_shutdown(struct http_server *s, unsigned grace_ms,
			  void (*done)(struct http_server *s, void *arg), void *arg);

/* Closes the listener and every connection at once and frees s; NULL is a no-op. Requests still
 * held by handlers get on_close and remain valid until finished. Must not be called from inside
 * a callback of this server (use a loop timer or loop_call). */
void http_server_close(struct http_server *s);

struct http_server_stats {
	unsigned conns;            /* open connections (upgraded ones are no longer counted) */
	unsigned inflight;         /* requests held by handlers, long-running ones excluded */
	uint64_t accepted;
	uint64_t requests;         /* requests passed to the handler */
	uint64_t rejected_conns;   /* over max_conns */
	uint64_t rejected_requests;/* 429 */
	uint64_t timeouts;
	size_t pooled_bytes;       /* buffers cached for reuse */
};

void http_server_stats(const struct http_server *s, struct http_server_stats *out);

/* ---- requests ---- */

#define HTTP_MAX_PARAMS 16

struct http_param {
	const char *name;
	const char *value;
};

/* A request as the handler sees it. Every field is read-only for handlers, except params and
 * ctx. Strings are NUL-terminated and live until the req is finished. */
struct http_req {
	const char *method;            /* "GET" */
	const char *target;            /* the request-target as sent */
	const char *path;              /* percent-decoded path; no NUL bytes, no "." or ".." segments */
	const char *query;             /* raw query after '?', "" when none */
	struct http_head head;         /* parsed head; header names and values are NUL-terminated */
	const char *body;              /* the whole (de-chunked) body; NOT NUL-terminated */
	size_t body_len;
	const struct sockaddr *peer;   /* sockaddr_in or sockaddr_in6; AF_UNSPEC when unknown */
	const char *sni;               /* TLS identity from the transport, "" when none */
	const char *peer_cn;
	const char *peer_groups;       /* O values of the client certificate joined by ',' */
	bool peer_verified;
	struct http_param params[HTTP_MAX_PARAMS];  /* filled by a router */
	unsigned nparams;
	void *ctx;                     /* free for the handler */
};

/* Value of the first header 'name' (case-insensitive), or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);

/* The percent-decoded ('+' as space) value of query parameter 'name', its n-th occurrence for
 * _nth (0-based); "" for "?name" without '='; NULL when absent. The result lives until the req
 * is finished. Parameters with bad escapes are ignored. */
const char *http_req_query(struct http_req *req, const char *name);
const char *http_req_query_nth(struct http_req *req, const char *name, unsigned n);

/* Value of router parameter 'name', or NULL. */
const char *http_req_param(const struct http_req *req, const char *name);

/* "1.2.3.4:5" or "[::1]:5" ("" when unknown); lives until the req is finished. */
const char *http_req_peer_str(struct http_req *req);

/* n bytes of scratch memory, 16-byte aligned, freed when the req is finished. */
void *http_req_alloc(struct http_req *req, size_t n);

/* The loop the request runs on (to arm timers or post work that will finish it); NULL once the
 * server was closed. */
struct loop *http_req_loop(const struct http_req *req);

/* Adds a response header for the coming http_respond / http_stream_begin / http_upgrade.
 * Returns 0, or -KC_EINVAL (nothing added) when name is not a token or value holds CR, LF or
 * other control bytes. Framing headers (Content-Length, Transfer-Encoding, Connection, Date) are
 * the server's: -KC_EINVAL. */
int http_resp_header(struct http_req *req, const char *name, const char *value);
int http_resp_headerf(struct http_req *req, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sends a complete response (body copied; content_type may be NULL) and finishes the req. For
 * HEAD requests the body is left out; 1xx, 204 and 304 never carry one. Returns 0, or
 * -KC_ECLOSED when the client is gone (the req is finished all the same). */
int http_respond(struct http_req *req, int status, const char *content_type, const void *body,
		 size_t len);

/* Starts a streamed response: chunked for HTTP/1.1 clients, close-delimited for HTTP/1.0.
 * Returns 0 or -KC_ECLOSED (the req must still be finished with http_stream_end). */
int http_stream_begin(struct http_req *req, int status, const char *content_type);

#define HTTP_STREAM_CONGESTED 1

/* Queues one chunk (copied; empty writes are no-ops) and sends what the socket takes. Returns 0,
 * HTTP_STREAM_CONGESTED when unsent output is over the high-water mark (the data was queued;
 * pause until on_drain), or -KC_ECLOSED when the client is gone or the stream buffered more than
 * stream_max_buffer (the connection is then closed). */
int http_stream_write(struct http_req *req, const void *data, size_t len);
bool http_stream_congested(const struct http_req *req);

/* Ends the stream and finishes the req. Returns 0 or -KC_ECLOSED. */
int http_stream_end(struct http_req *req);

/* Notifications while the handler holds the req (both optional, called on the loop, never
 * from inside an http_* call): on_drain after a CONGESTED write once output fell below half
 * the high-water mark; on_close once, when the client closed or reset the connection or the
 * server force-closed it. The req stays valid after on_close until the handler finishes it. */
void http_req_notify(struct http_req *req, void (*on_drain)(struct http_req *req, void *arg),
		     void (*on_close)(struct http_req *req, void *arg), void *arg);

/* Whether the client went away (on_close was or will be called). */
bool http_req_gone(const struct http_req *req);

/* Marks a request that may stay open for long (a watch): it stops counting toward
 * max_inflight. */
void http_req_long_running(struct http_req *req);

/* Finishes the req without a response and closes the connection (after sending earlier
 * responses). */
void http_req_abort(struct http_req *req);

/* Answers 101 Switching Protocols with "Upgrade: protocol" and the headers added so far,
 * finishes the req, and once the 101 is sent hands the connection to cb (see http_upgrade_cb).
 * The connection then no longer belongs to the server. Returns 0 or -KC_ECLOSED (cb is still
 * called, with t == NULL). */
int http_upgrade(struct http_req *req, const char *protocol, http_upgrade_cb cb, void *arg);

#endif
