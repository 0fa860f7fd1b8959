/* router.h - maps a method and a request path to an HTTP handler through a segment trie:
 * literal segments, "{name}" segments and a trailing "{name...}" wildcard; tells 404 (no such
 * path) from 405 (path exists, method does not, with the Allow list).
 *
 * Matching prefers, at each segment, a literal over a parameter over a wildcard, and backtracks
 * when a branch ends without a route for the method. A HEAD request falls back to the GET route.
 * Lookups allocate nothing; captured values point into the path. Build the router first, then
 * look up from any number of threads (lookups only read). */
#ifndef KC_NET_ROUTER_H
#define KC_NET_ROUTER_H

#include <stddef.h>

#include "lib/err.h"
#include "net/http_parse.h"
#include "net/http_server.h"

struct router;

/* Called instead of a handler when no route matches: status is 404 or 405 (the Allow header is
 * already added for 405, allow holds its value, "" for 404). Must finish req like a handler. */
typedef void (*router_error_fn)(struct http_req *req, int status, const char *allow, void *arg);

struct router *router_new(void);
/* NULL is a no-op. */
void router_free(struct router *r);

/* Adds a route. method: "GET", "POST", ...; NULL or "*" for any method (tried after the
 * specific ones at the same path). pattern: "/" followed by '/'-separated segments, each a
 * literal (no '{' or '}'), "{name}" (one non-empty segment) or, last only, "{name...}" (the rest
 * of the path, possibly empty or holding '/'). Names are [A-Za-z0-9_-]+; at most
 * HTTP_MAX_PARAMS per pattern. Returns 0, -KC_EINVAL (bad pattern) or -KC_EEXIST (same method
 * and pattern shape already routed), with err filled. */
int router_add(struct router *r, const char *method, const char *pattern, http_handler_fn fn,
	       void *arg, struct kc_err *err);

/* Replaces the default plain-text 404/405 answers. */
void router_set_error_handler(struct router *r, router_error_fn fn, void *arg);

struct router_match {
	http_handler_fn fn;
	void *arg;
	unsigned nparams;
	const char *names[HTTP_MAX_PARAMS];        /* owned by the router */
	struct http_slice values[HTTP_MAX_PARAMS];  /* point into the looked-up path */
	char allow[128];                            /* for 405: "GET, HEAD, POST" */
};

/* Looks up method and path (a decoded path starting with '/'). Returns 0 with m filled,
 * -KC_ENOTFOUND when no route has this path (404), or -KC_EUNSUPPORTED when routes have it but
 * none for this method (405; m->allow is set). */
int router_lookup(const struct router *r, const char *method, const char *path,
		  struct router_match *m);

/* An http_handler_fn (arg: the router) that looks up req, copies the captured parameters into
 * req->params, and calls the route's handler; or answers 404/405 (see
 * router_set_error_handler). */
void router_serve(struct http_req *req, void *router);

#endif
