/* http_client.h - kc's HTTP/1.1 client for internal traffic: keep-alive connection pools on an
 * event loop, streaming (watch) responses, and a blocking one-shot call for CLIs.
 *
 * Threads: a struct http_client belongs to the loop it was created on; every function below
 * except http_url_parse, http_client_response_* and http_client_do must be called on that
 * loop's thread. Callbacks run on that thread too. */
#ifndef KC_NET_HTTP_CLIENT_H
#define KC_NET_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct loop;
struct tls_client_config;

/* ---- URLs ---- */

#define HTTP_URL_HOST_MAX 256

/* A parsed absolute http/https URL. A small value type; 'path' borrows the parsed string. */
struct http_url {
	bool tls;                      /* scheme https */
	char host[HTTP_URL_HOST_MAX];  /* DNS name, IPv4 literal or IPv6 literal (no brackets),
					* lower-cased */
	bool host_is_v6;               /* the host was a bracketed IPv6 literal */
	uint16_t port;                 /* explicit port, else 80 (http) / 443 (https) */
	const char *path;              /* path and query: points into the parsed string, runs
					* path_len bytes (the fragment is excluded); empty or
					* starting with '/' or '?' */
	size_t path_len;
};

/* Parses "http[s]://host[:port][/path][?query][#fragment]". The scheme is case-insensitive; the
 * host is a DNS name (letters, digits, '-', '.', '_'), a dotted IPv4 address or "[v6]" (no zone
 * ids); user info ("user@") is refused; the path and query must be printable ASCII without
 * spaces (percent-encode the rest). out->path borrows 'url'. Returns 0, or -KC_EINVAL with the
 * reason in err. Thread-safe. */
int http_url_parse(const char *url, struct http_url *out, struct kc_err *err);

/* ---- messages ---- */

/* One header field. In requests both strings are borrowed for the duration of the call that
 * takes them; in responses they point into storage the response owns. */
struct http_client_header {
	const char *name;
	const char *value;
};

/* A response as handed to callbacks and returned by http_client_do. */
struct http_client_response {
	int status;                          /* 0 when no response head was received */
	int version_minor;                   /* HTTP/1.<n> */
	struct http_client_header *headers;  /* nheaders fields, in received order */
	size_t nheaders;
	char *body;          /* buffered mode: body_len bytes then a NUL; "" or NULL otherwise */
	size_t body_len;
	char *storage;       /* private: holds the header strings */
};

/* Frees what r holds and zeroes it; r itself is the caller's. NULL is a no-op. */
void http_client_response_free(struct http_client_response *r);
/* Case-insensitive lookup: the value of the first field named 'name', or NULL. */
const char *http_client_response_header(const struct http_client_response *r, const char *name);

/* ---- the asynchronous client ---- */

struct http_client;
struct http_client_req;  /* one request in flight; valid until its on_done returns or it is
			  * canceled */

struct http_client_config {
	unsigned max_idle_per_origin;  /* idle keep-alive connections kept per scheme+host+port;
					* 0: 8 */
	unsigned max_conns;            /* open connections in total (any state); more requests
					* wait in FIFO order; 0: 256 */
	uint32_t idle_timeout_ms;      /* an idle pooled connection is closed after this; 0: 90 s */
	uint32_t connect_timeout_ms;   /* name resolution + TCP connect (the TLS handshake counts
					* against the request's timeout); 0: 10 s */
	uint32_t request_timeout_ms;   /* default per request (see http_client_request); 0: 60 s */
	uint64_t max_body_bytes;       /* buffered responses larger than this fail with
					* -KC_ETOOBIG; 0: 64 MiB */
	size_t max_head_bytes;         /* response head limit; 0: HTTP_MAX_HEAD_DEFAULT */
	unsigned max_headers;          /* response header count limit; 0: HTTP_MAX_HEADERS_DEFAULT */
	/* Needed for https URLs (net/tls.h: CA, optional client certificate). Borrowed: must
	 * outlive the client (or the http_client_do call); each TLS connection takes its own
	 * reference. NULL: https requests are refused with -KC_EINVAL. */
	struct tls_client_config *tls;
	/* Name the server certificate must carry (and SNI) instead of the URL's host, e.g. when
	 * dialing an IP whose certificate names a service. NULL: the URL's host. Borrowed. */
	const char *tls_server_name;
	const char *user_agent;        /* borrowed like tls; NULL: "kc/<version>" */
};

/* Called once per request that was accepted by http_client_submit (unless it was canceled):
 * rc is 0 when a complete response arrived (any status: a 500 is not an error here), else a
 * negative code with the detail in err: -KC_ETIMEDOUT, -KC_ETOOBIG (body or head over the
 * limits), -KC_EPROTO (malformed or truncated response), -KC_ECLOSED (peer closed early, or the
 * client is being freed), -KC_ETLS (handshake: certificate not trusted or wrong name),
 * -KC_EUNAVAIL (name not resolved), -KC_EUNSUPPORTED (a 101 protocol switch), -ECONNREFUSED
 * and other -errno.
 * resp always points at a response (status 0 when no head arrived); the client frees it after
 * the callback returns, so to keep it, copy *resp and zero the original. req is freed after the
 * callback returns; canceling it from inside the callback is a harmless no-op. */
typedef void (*http_client_done_cb)(struct http_client_req *req, int rc,
				    struct http_client_response *resp, const struct kc_err *err,
				    void *arg);
/* The response head arrived (status and headers set, body empty). */
typedef void (*http_client_head_cb)(struct http_client_req *req,
				    const struct http_client_response *resp, void *arg);
/* Streaming: the next piece of the decoded body (chunk framing removed); data is valid only
 * during the call. */
typedef void (*http_client_data_cb)(struct http_client_req *req, const char *data, size_t len,
				    void *arg);

struct http_client_request {
	const char *method;   /* a token: "GET", "POST", ... */
	const char *url;      /* absolute http:// or https:// URL, see http_url_parse */
	/* Extra header fields. Host, Content-Length, Transfer-Encoding and Connection are the
	 * client's to set and are refused (-KC_EINVAL); User-Agent given here wins. */
	const struct http_client_header *headers;
	size_t nheaders;
	const void *body;     /* copied; may be NULL when body_len is 0 */
	size_t body_len;
	/* Send the body with Transfer-Encoding: chunked instead of Content-Length. A body is sent
	 * (with "Content-Length: 0" when empty) for every method except GET, HEAD, DELETE,
	 * OPTIONS and TRACE without one. */
	bool chunked;
	/* Streaming: the body goes to on_data as it arrives, without a size limit, and the
	 * response's body stays empty. */
	bool stream;
	/* Buffered: limit on the whole exchange (waiting for a connection included). Streaming:
	 * limit until the response head. 0: the config's request_timeout_ms. */
	uint32_t timeout_ms;
	/* Streaming: fail with -KC_ETIMEDOUT when no byte arrives for this long; 0: never. */
	uint32_t stream_idle_timeout_ms;
	http_client_head_cb on_head;  /* optional, both modes */
	http_client_data_cb on_data;  /* required when stream, else ignored */
	http_client_done_cb on_done;  /* required */
	void *arg;                    /* passed to the callbacks */
};

/* Creates a client on loop l (which must outlive it). cfg is copied; the pointers in it are
 * borrowed. Never fails (allocation aborts). */
struct http_client *http_client_new(struct loop *l, const struct http_client_config *cfg);

/* Fails every request still pending with -KC_ECLOSED through its on_done (new submissions from
 * those callbacks are refused), closes all connections and frees the client. Must not be
 * called from inside one of the client's callbacks. NULL is a no-op. */
void http_client_free(struct http_client *c);

/* Starts a request. Everything in r is copied or only read during the call, except r->arg.
 * Validation failures (bad URL, method or header, https without a TLS config, missing
 * callback) return -KC_EINVAL with err set and no callback will run; otherwise returns 0, stores
 * the handle in *out (may be NULL), and on_done will run later (never from inside this call).
 *
 * A request that fails because a pooled connection was closed by the server before any byte of
 * the response arrived (the keep-alive race) is sent once more on a new connection when its
 * method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE). */
int http_client_submit(struct http_client *c, const struct http_client_request *r,
		       struct http_client_req **out, struct kc_err *err);

/* Abandons a request: no callback runs for it afterwards and its handle becomes invalid; a
 * connection carrying it is closed. Safe from inside the request's own on_head / on_data (the
 * cleanup then happens when that callback returns); a no-op inside its on_done. */
void http_client_cancel(struct http_client_req *req);

struct http_client_stats {
	uint64_t requests;       /* accepted by http_client_submit */
	uint64_t conns_opened;   /* TCP connections established */
	uint64_t reused;         /* requests sent on a pooled (previously used) connection */
	uint64_t retries;        /* requests sent again after a stale pooled connection */
	unsigned conns;          /* connections open now, in any state */
	unsigned idle;           /* of which idle in a pool */
	unsigned waiting;        /* requests waiting for a connection (max_conns reached) */
};

void http_client_get_stats(const struct http_client *c, struct http_client_stats *out);

/* ---- blocking ---- */

/* Runs one buffered request on a private loop and client built from cfg (NULL: defaults) and
 * waits for it. On success returns 0 and fills *out (any status), which the caller frees with
 * http_client_response_free; on failure returns a negative code (as for http_client_done_cb)
 * with err set, and *out is left empty. Blocks the calling thread; any thread may call it. */
int http_client_do(const struct http_client_config *cfg, const char *method, const char *url,
		   const struct http_client_header *headers, size_t nheaders, const void *body,
		   size_t body_len, struct http_client_response *out, struct kc_err *err);

#endif
