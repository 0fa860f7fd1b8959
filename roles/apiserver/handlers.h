/* handlers.h - the Kubernetes REST endpoints of kc's API server: /api and /apis resource paths
 * (get, list, watch, create, update, patch, delete, deletecollection and the status, scale,
 * binding, eviction, token subresources), access reviews, discovery and OpenAPI documents,
 * with authentication and RBAC on every request and errors as Status objects. */
#ifndef KC_ROLES_APISERVER_HANDLERS_H
#define KC_ROLES_APISERVER_HANDLERS_H

#include "lib/err.h"
#include "net/router.h"

struct registry;
struct schema;
struct auth;
struct discovery;
struct openapi;
struct nodeproxy;
struct resmetrics;

/* What every handler reads; immutable once the routes are added, shared by every loop thread
 * (auth and registry are thread-safe). All pointers are borrowed and must outlive the router. */
struct api_ctx {
	struct registry *reg;
	const struct schema *schema;
	struct auth *auth;
	const struct discovery *disc;
	const struct openapi *openapi;
	struct nodeproxy *nodeproxy;   /* pods/log and pods/exec; NULL: they answer 503 */
	struct resmetrics *metrics;    /* metrics.k8s.io nodes and pods; NULL: they answer 503 */
};

/* Adds GET /api, /apis, /openapi/..., and every method on /api/... and /apis/... to rt. */
int handlers_add_routes(struct router *rt, struct api_ctx *ctx, struct kc_err *err);

/* For non-resource endpoints served elsewhere (/metrics): authenticates and authorizes req
 * for its path (RBAC nonResourceURLs). Returns true, or false after answering 401/403. */
bool handlers_check_path(struct api_ctx *ctx, struct http_req *req);

/* Splits buf in place at '/' into its non-empty segments, at most max of them (segs[] point
 * into buf); returns how many. Reentrant: every API loop thread splits request paths at once. */
unsigned handlers_split_path(char *buf, char **segs, unsigned max);

/* Watches not yet released (stream open, or its store watcher not yet confirmed closed), for a
 * clean stop. Any thread. */
unsigned long handlers_open_watches(void);

#endif
