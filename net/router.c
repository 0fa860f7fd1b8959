/* DESIGN: a trie with one node per pattern segment. A node has sorted literal children (binary
 * search), at most one parameter child, the routes that end at it, and the routes that end with
 * a wildcard from it. Parameter names belong to routes, not nodes, so "/ns/{namespace}/pods"
 * and "/ns/{name}" share the node for the second segment.
 *
 * Lookup is a depth-first search over (node, segment) pairs in preference order: literal,
 * parameter, wildcard. Each node is visited at most once per lookup (a node sits at one depth
 * and the path has one segment per depth), so a lookup costs O(nodes on matching branches),
 * with no allocation. The first branch that reaches the end of the path with routes but no route
 * for the method is remembered for the 405 answer.
 *
 * Built on one thread, then read-only: lookups from many threads need no locking. */
#include "net/router.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

struct route {
	struct route *next;
	char *method;                      /* NULL: any method */
	http_handler_fn fn;
	void *arg;
	unsigned nparams;
	char *names[HTTP_MAX_PARAMS];
};

struct node {
	char *seg;                         /* literal text of this node (literal children only) */
	size_t seglen;
	struct node **lits;                /* sorted by (seglen, bytes) */
	unsigned nlits, caplits;
	struct node *param;
	struct route *routes;              /* patterns ending here */
	struct route *rest;                /* patterns ending with a wildcard from here */
};

struct router {
	struct node root;
	router_error_fn err_fn;
	void *err_arg;
};

struct router *router_new(void)
{
	return xcalloc(1, sizeof(struct router));
}

static void routes_free(struct route *r)
{
	while (r) {
		struct route *next = r->next;
		free(r->method);
		for (unsigned i = 0; i < r->nparams; i++)
			free(r->names[i]);
		free(r);
		r = next;
	}
}

static void node_free(struct node *n, bool self)
{
	for (unsigned i = 0; i < n->nlits; i++)
		node_free(n->lits[i], true);
	free(n->lits);
	if (n->param)
		node_free(n->param, true);
	routes_free(n->routes);
	routes_free(n->rest);
	free(n->seg);
	if (self)
		free(n);
}

void router_free(struct router *r)
{
	if (!r)
		return;
	node_free(&r->root, false);
	free(r);
}

void router_set_error_handler(struct router *r, router_error_fn fn, void *arg)
{
	r->err_fn = fn;
	r->err_arg = arg;
}

static int seg_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return an < bn ? -1 : 1;
	return memcmp(a, b, an);
}

/* Binary search; returns the child or NULL, and the insertion index in *at. */
static struct node *find_lit(const struct node *n, const char *s, size_t len, unsigned *at)
{
	unsigned lo = 0, hi = n->nlits;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int c = seg_cmp(n->lits[mid]->seg, n->lits[mid]->seglen, s, len);
		if (c == 0) {
			if (at)
				*at = mid;
			return n->lits[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at)
		*at = lo;
	return NULL;
}

static struct node *lit_child(struct node *n, const char *s, size_t len)
{
	unsigned at;
	struct node *c = find_lit(n, s, len, &at);
	if (c)
		return c;
	if (n->nlits == n->caplits) {
		n->caplits = (unsigned)kc_grow_cap(n->caplits, n->nlits + 1, sizeof *n->lits);
		n->lits = xrealloc(n->lits, n->caplits * sizeof *n->lits);
	}
	c = xcalloc(1, sizeof *c);
	c->seg = xstrndup(s, len);
	c->seglen = len;
	memmove(n->lits + at + 1, n->lits + at, (n->nlits - at) * sizeof *n->lits);
	n->lits[at] = c;
	n->nlits++;
	return c;
}

static bool valid_name(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool same_method(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int router_add(struct router *r, const char *method, const char *pattern, http_handler_fn fn,
	       void *arg, struct kc_err *err)
{
	if (!pattern || pattern[0] != '/')
		return kc_err_set(err, -KC_EINVAL, "route %s: must start with '/'", pattern ? pattern : "(null)");
	if (!fn)
		return kc_err_set(err, -KC_EINVAL, "route %s: no handler", pattern);
	if (method && strcmp(method, "*") == 0)
		method = NULL;
	struct route tmp = { 0 };
	struct node *n = &r->root;
	int rc;
	bool rest = false;
	const char *s = pattern + 1;
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t len = slash ? (size_t)(slash - s) : strlen(s);
		if (len && s[0] == '{') {
			bool wild = len > 5 && memcmp(s + len - 4, "...}", 4) == 0;
			size_t nlen = wild ? len - 5 : len - 2;
			if (s[len - 1] != '}' || !valid_name(s + 1, nlen))
				goto bad;
			if (tmp.nparams == HTTP_MAX_PARAMS) {
				rc = kc_err_set(err, -KC_EINVAL, "route %s: more than %d parameters",
						pattern, HTTP_MAX_PARAMS);
				goto fail;
			}
			tmp.names[tmp.nparams++] = xstrndup(s + 1, nlen);
			if (wild) {
				if (slash)
					goto bad;  /* the wildcard must be last */
				rest = true;
				break;
			}
			if (!n->param)
				n->param = xcalloc(1, sizeof *n->param);
			n = n->param;
		} else {
			if (memchr(s, '{', len) || memchr(s, '}', len))
				goto bad;
			n = lit_child(n, s, len);
		}
		if (!slash)
			break;
		s = slash + 1;
	}
	struct route **list = rest ? &n->rest : &n->routes;
	for (struct route *e = *list; e; e = e->next) {
		if (same_method(e->method, method)) {
			rc = kc_err_set(err, -KC_EEXIST, "route %s %s: already routed",
					method ? method : "*", pattern);
			goto fail;
		}
	}
	struct route *rt = xmalloc(sizeof *rt);
	*rt = tmp;
	rt->method = method ? xstrdup(method) : NULL;
	rt->fn = fn;
	rt->arg = arg;
	/* specific methods first, the any-method route last */
	while (*list && (*list)->method)
		list = &(*list)->next;
	if (method) {
		rt->next = *list;
		*list = rt;
	} else {
		rt->next = NULL;
		*list = rt;
	}
	return 0;
bad:
	rc = kc_err_set(err, -KC_EINVAL, "route %s: bad segment", pattern);
fail:
	for (unsigned i = 0; i < tmp.nparams; i++)
		free(tmp.names[i]);
	return rc;
}

struct search {
	const char *method;
	struct router_match *m;
	struct http_slice vals[HTTP_MAX_PARAMS];
	unsigned depth;                    /* captured values so far */
	const struct route *found;
	const struct route *allow_from;    /* first route list matching the path */
};

/* Picks the route for the method from a list: exact, then GET for HEAD, then any. */
static const struct route *pick(const struct route *list, const char *method)
{
	const struct route *any = NULL, *get = NULL;
	bool head = strcmp(method, "HEAD") == 0;
	for (const struct route *r = list; r; r = r->next) {
		if (!r->method)
			any = r;
		else if (strcmp(r->method, method) == 0)
			return r;
		else if (head && strcmp(r->method, "GET") == 0)
			get = r;
	}
	return get ? get : any;
}

static bool try_routes(struct search *sr, const struct route *list)
{
	if (!list)
		return false;
	const struct route *r = pick(list, sr->method);
	if (!r) {
		if (!sr->allow_from)
			sr->allow_from = list;
		return false;
	}
	if (r->nparams != sr->depth)
		return false;  /* cannot happen: the trie position fixes the count */
	sr->found = r;
	for (unsigned i = 0; i < sr->depth; i++)
		sr->m->values[i] = sr->vals[i];
	return true;
}

/* s: the path after a '/', i.e. the start of a segment. */
static bool search(struct search *sr, const struct node *n, const char *s)
{
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	const struct node *c = find_lit(n, s, len, NULL);
	if (c && (slash ? search(sr, c, slash + 1) : try_routes(sr, c->routes)))
		return true;
	if (n->param && len && sr->depth < HTTP_MAX_PARAMS) {
		sr->vals[sr->depth++] = (struct http_slice){ s, len };
		bool ok = slash ? search(sr, n->param, slash + 1) : try_routes(sr, n->param->routes);
		sr->depth--;
		if (ok)
			return true;
	}
	if (n->rest && sr->depth < HTTP_MAX_PARAMS) {
		sr->vals[sr->depth++] = (struct http_slice){ s, strlen(s) };
		bool ok = try_routes(sr, n->rest);
		sr->depth--;
		if (ok)
			return true;
	}
	return false;
}

static void allow_add(char *out, size_t size, size_t *n, const char *name)
{
	size_t l = strlen(name);
	if (*n + l + 3 > size)
		return;
	if (*n) {
		memcpy(out + *n, ", ", 2);
		*n += 2;
	}
	memcpy(out + *n, name, l + 1);
	*n += l;
}

static void build_allow(const struct route *list, char *out, size_t size)
{
	size_t n = 0;
	bool get = false, head = false;
	out[0] = '\0';
	for (const struct route *r = list; r; r = r->next) {
		if (!r->method)
			continue;
		get = get || strcmp(r->method, "GET") == 0;
		head = head || strcmp(r->method, "HEAD") == 0;
		allow_add(out, size, &n, r->method);
	}
	if (get && !head)
		allow_add(out, size, &n, "HEAD");
}

int router_lookup(const struct router *r, const char *method, const char *path,
		  struct router_match *m)
{
	struct search sr = { .method = method, .m = m };
	m->fn = NULL;
	m->arg = NULL;
	m->nparams = 0;
	m->allow[0] = '\0';
	if (path[0] != '/')
		return -KC_ENOTFOUND;
	if (search(&sr, &r->root, path + 1)) {
		m->fn = sr.found->fn;
		m->arg = sr.found->arg;
		m->nparams = sr.found->nparams;
		for (unsigned i = 0; i < m->nparams; i++)
			m->names[i] = sr.found->names[i];
		return 0;
	}
	if (sr.allow_from) {
		build_allow(sr.allow_from, m->allow, sizeof m->allow);
		return -KC_EUNSUPPORTED;
	}
	return -KC_ENOTFOUND;
}

void router_serve(struct http_req *req, void *router)
{
	struct router *r = router;
	struct router_match m;
	int rc = router_lookup(r, req->method, req->path, &m);
	if (rc == 0) {
		for (unsigned i = 0; i < m.nparams; i++) {
			char *v = http_req_alloc(req, m.values[i].n + 1);
			memcpy(v, m.values[i].p, m.values[i].n);
			v[m.values[i].n] = '\0';
			req->params[i].name = m.names[i];
			req->params[i].value = v;
		}
		req->nparams = m.nparams;
		m.fn(req, m.arg);
		return;
	}
	int status = rc == -KC_EUNSUPPORTED ? 405 : 404;
	if (status == 405)
		http_resp_header(req, "Allow", m.allow);
	if (r->err_fn) {
		r->err_fn(req, status, m.allow, r->err_arg);
		return;
	}
	const char *body = status == 405 ? "405 method not allowed\n" : "404 page not found\n";
	http_respond(req, status, "text/plain; charset=utf-8", body, strlen(body));
}
