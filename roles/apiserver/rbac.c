/* DESIGN: the RBAC authorizer's in-memory view, Kubernetes' rules (rbac/v1 PolicyRule
 * matching, as in k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go).
 *
 * What it owns: compiled copies of every Role, ClusterRole, RoleBinding and ClusterRoleBinding
 * it was fed, and an index from subject to bindings. A binding is filed under one key per
 * subject, "<scope>/<u|g>:<name>", where scope is "" for ClusterRoleBindings and the namespace
 * for RoleBindings, and a ServiceAccount subject is filed as the user name it authenticates
 * as ("u:system:serviceaccount:<ns>:<name>"). A decision therefore looks up at most two keys
 * per name the user carries (its user name and each group): the cluster scope and the
 * request's namespace, and only walks bindings that name one of them.
 *
 * Aggregation: a ClusterRole with an aggregationRule gets, as its effective rules, the rules
 * of every ClusterRole its selectors reach, transitively (admin selects edit, which selects
 * view), which is the fixed point Kubernetes' aggregation controller converges to; its own
 * "rules" field is ignored, as that controller overwrites it. Effective rules are pointers
 * into the selected roles' compiled rules, so they are recomputed (all aggregated roles at
 * once: there are few) whenever a change touches an aggregated role or a role whose old or
 * new labels any aggregation selector matches, before the replaced role is freed.
 *
 * Threads: any thread; a read-write lock guards everything; rbac_authorize holds it for
 * reading, rbac_update for writing. */
#include "roles/apiserver/auth_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/map.h"

/* Names in keys are at most this long (a DNS subdomain is 253; a user name is bounded by
 * AUTH_NAME_MAX); longer ones are never indexed and never match. */
#define KEY_MAX 600

struct strs {
	char **v;
	size_t n;
};

struct rule {
	struct strs verbs, groups, resources, names, urls;
};

struct ruleset {
	struct rule *v;
	size_t n;
};

struct role {
	struct ruleset rules;
};

struct crole {
	struct ruleset rules;	 /* own rules */
	cJSON *labels;		 /* metadata.labels, NULL when none */
	cJSON *selectors;	 /* aggregationRule.clusterRoleSelectors; NULL: not aggregated */
	const struct rule **eff; /* aggregated roles: the selected roles' rules */
	size_t neff, capeff;
	unsigned stamp; /* visit marker while recomputing */
};

struct binding {
	char *name;	   /* metadata.name (unique in its scope) */
	char *ns;	   /* "" for ClusterRoleBindings */
	bool cluster_role; /* roleRef.kind ClusterRole (else Role) */
	char *role;	   /* roleRef.name */
	struct strs keys;  /* index keys it is filed under */
};

struct rbac {
	pthread_rwlock_t lock;
	struct kc_map roles;	  /* "ns/name" -> struct role */
	struct kc_map croles;	  /* name -> struct crole */
	struct kc_map aggregated; /* name -> struct crole (borrowed from croles) */
	struct kc_map rbs;	  /* "ns/name" -> struct binding */
	struct kc_map crbs;	  /* name -> struct binding */
	struct kc_map index;	  /* subject key -> struct kc_map (binding name -> binding) */
	unsigned stamp;
};

/* ---- compiling objects ---- */

static void strs_free(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* The strings of a JSON array (other members are skipped). */
static void strs_from(struct strs *s, const cJSON *arr)
{
	s->v = NULL;
	s->n = 0;
	if (!cJSON_IsArray(arr))
		return;
	size_t n = (size_t)cJSON_GetArraySize(arr);
	s->v = xcalloc(n ? n : 1, sizeof *s->v);
	for (const cJSON *c = arr->child; c; c = c->next)
		if (cJSON_IsString(c))
			s->v[s->n++] = xstrdup(c->valuestring);
}

static bool strs_has(const struct strs *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], x) == 0)
			return true;
	return false;
}

static void ruleset_free(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		strs_free(&rs->v[i].verbs);
		strs_free(&rs->v[i].groups);
		strs_free(&rs->v[i].resources);
		strs_free(&rs->v[i].names);
		strs_free(&rs->v[i].urls);
	}
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

static void ruleset_from(struct ruleset *rs, const cJSON *rules)
{
	rs->v = NULL;
	rs->n = 0;
	if (!cJSON_IsArray(rules))
		return;
	size_t n = (size_t)cJSON_GetArraySize(rules);
	rs->v = xcalloc(n ? n : 1, sizeof *rs->v);
	for (const cJSON *c = rules->child; c; c = c->next) {
		if (!cJSON_IsObject(c))
			continue;
		struct rule *r = &rs->v[rs->n++];
		strs_from(&r->verbs, cJSON_GetObjectItemCaseSensitive(c, "verbs"));
		strs_from(&r->groups, cJSON_GetObjectItemCaseSensitive(c, "apiGroups"));
		strs_from(&r->resources, cJSON_GetObjectItemCaseSensitive(c, "resources"));
		strs_from(&r->names, cJSON_GetObjectItemCaseSensitive(c, "resourceNames"));
		strs_from(&r->urls, cJSON_GetObjectItemCaseSensitive(c, "nonResourceURLs"));
	}
}

static void role_free(void *p)
{
	struct role *r = p;
	if (!r)
		return;
	ruleset_free(&r->rules);
	free(r);
}

static void crole_free(void *p)
{
	struct crole *c = p;
	if (!c)
		return;
	ruleset_free(&c->rules);
	cJSON_Delete(c->labels);
	cJSON_Delete(c->selectors);
	free(c->eff);
	free(c);
}

static void binding_free(void *p)
{
	struct binding *b = p;
	if (!b)
		return;
	free(b->name);
	free(b->ns);
	free(b->role);
	strs_free(&b->keys);
	free(b);
}

static void inner_map_free(void *p)
{
	struct kc_map *m = p;
	kc_map_free(m);
	free(m);
}

/* ---- rule evaluation (Kubernetes' RuleAllows) ---- */

static bool verb_matches(const struct rule *r, const char *verb)
{
	for (size_t i = 0; i < r->verbs.n; i++)
		if (strcmp(r->verbs.v[i], "*") == 0 || strcmp(r->verbs.v[i], verb) == 0)
			return true;
	return false;
}

static bool group_matches(const struct rule *r, const char *group)
{
	for (size_t i = 0; i < r->groups.n; i++)
		if (strcmp(r->groups.v[i], "*") == 0 || strcmp(r->groups.v[i], group) == 0)
			return true;
	return false;
}

/* combined is "resource" or "resource/subresource". A rule resource matches when it is "*",
 * equal to combined, or "*" + "/" + sub (any resource's subresource sub). "pods" followed by
 * "/" + "*" is no wildcard in Kubernetes, and is none here either. */
static bool resource_matches(const struct rule *r, const char *combined, const char *sub)
{
	size_t sublen = strlen(sub);
	for (size_t i = 0; i < r->resources.n; i++) {
		const char *rr = r->resources.v[i];
		if (strcmp(rr, "*") == 0 || strcmp(rr, combined) == 0)
			return true;
		if (sublen && rr[0] == '*' && rr[1] == '/' && strcmp(rr + 2, sub) == 0)
			return true;
	}
	return false;
}

static bool name_matches(const struct rule *r, const char *name)
{
	return r->names.n == 0 || strs_has(&r->names, name);
}

static bool url_matches(const struct rule *r, const char *path)
{
	for (size_t i = 0; i < r->urls.n; i++) {
		const char *u = r->urls.v[i];
		size_t n = strlen(u);
		if (strcmp(u, "*") == 0 || strcmp(u, path) == 0)
			return true;
		if (n && u[n - 1] == '*') {
			while (n && u[n - 1] == '*')
				n--; /* strings.TrimRight(url, "*") */
			if (strncmp(path, u, n) == 0)
				return true;
		}
	}
	return false;
}

/* The request, normalised once per decision. */
struct req {
	const char *verb, *group, *sub, *name, *path;
	char combined[KEY_MAX];
	bool resource;
};

static bool rule_allows(const struct rule *r, const struct req *q)
{
	if (!verb_matches(r, q->verb))
		return false;
	if (!q->resource)
		return url_matches(r, q->path);
	return group_matches(r, q->group) && resource_matches(r, q->combined, q->sub) &&
	       name_matches(r, q->name);
}

/* ---- label selectors (metav1.LabelSelector) ---- */

static bool value_in(const cJSON *values, const char *v)
{
	for (const cJSON *c = cJSON_IsArray(values) ? values->child : NULL; c; c = c->next)
		if (cJSON_IsString(c) && strcmp(c->valuestring, v) == 0)
			return true;
	return false;
}

/* One LabelSelector against labels (an object of strings, or NULL). An empty selector selects
 * everything; a null or malformed one nothing. */
static bool selector_matches(const cJSON *sel, const cJSON *labels)
{
	if (!cJSON_IsObject(sel))
		return false;
	const cJSON *ml = cJSON_GetObjectItemCaseSensitive(sel, "matchLabels");
	const cJSON *me = cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions");
	for (const cJSON *c = cJSON_IsObject(ml) ? ml->child : NULL; c; c = c->next) {
		const cJSON *l =
			labels ? cJSON_GetObjectItemCaseSensitive(labels, c->string) : NULL;
		if (!cJSON_IsString(c) || !cJSON_IsString(l) ||
		    strcmp(l->valuestring, c->valuestring))
			return false;
	}
	if (ml && !cJSON_IsObject(ml) && !cJSON_IsNull(ml))
		return false;
	for (const cJSON *e = cJSON_IsArray(me) ? me->child : NULL; e; e = e->next) {
		const char *key = kc_json_get_str(e, "key");
		const char *op = kc_json_get_str(e, "operator");
		if (!key || !op)
			return false;
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(e, "values");
		const cJSON *l = labels ? cJSON_GetObjectItemCaseSensitive(labels, key) : NULL;
		const char *lv = cJSON_IsString(l) ? l->valuestring : NULL;
		bool ok;
		if (strcmp(op, "In") == 0)
			ok = lv && value_in(values, lv);
		else if (strcmp(op, "NotIn") == 0)
			ok = !lv || !value_in(values, lv);
		else if (strcmp(op, "Exists") == 0)
			ok = lv != NULL;
		else if (strcmp(op, "DoesNotExist") == 0)
			ok = lv == NULL;
		else
			ok = false;
		if (!ok)
			return false;
	}
	if (me && !cJSON_IsArray(me) && !cJSON_IsNull(me))
		return false;
	return true;
}

static bool any_selector_matches(const cJSON *selectors, const cJSON *labels)
{
	for (const cJSON *s = cJSON_IsArray(selectors) ? selectors->child : NULL; s; s = s->next)
		if (selector_matches(s, labels))
			return true;
	return false;
}

/* ---- aggregation ---- */

static void eff_add(struct crole *c, const struct ruleset *rs)
{
	if (c->neff + rs->n > c->capeff) {
		c->capeff = kc_grow_cap(c->capeff, c->neff + rs->n, sizeof *c->eff);
		c->eff = xrealloc(c->eff, c->capeff * sizeof *c->eff);
	}
	for (size_t i = 0; i < rs->n; i++)
		c->eff[c->neff++] = &rs->v[i];
}

/* Collects into root the rules of every non-aggregated role reachable from it. */
static void aggregate_one(struct rbac *r, struct crole *root)
{
	root->neff = 0;
	unsigned stamp = ++r->stamp;
	root->stamp = stamp;
	size_t nstack = 0, capstack = 8;
	struct crole **stack = xmalloc(capstack * sizeof *stack);
	stack[nstack++] = root;
	while (nstack) {
		struct crole *x = stack[--nstack];
		size_t pos = 0;
		void *v;
		while (kc_map_next(&r->croles, &pos, NULL, NULL, &v)) {
			struct crole *y = v;
			if (y->stamp == stamp || !any_selector_matches(x->selectors, y->labels))
				continue;
			y->stamp = stamp;
			if (y->selectors) {
				if (nstack == capstack) {
					capstack = kc_grow_cap(capstack, nstack + 1, sizeof *stack);
					stack = xrealloc(stack, capstack * sizeof *stack);
				}
				stack[nstack++] = y;
			} else {
				eff_add(root, &y->rules);
			}
		}
	}
	free(stack);
}

static void aggregate_all(struct rbac *r)
{
	size_t pos = 0;
	void *v;
	while (kc_map_next(&r->aggregated, &pos, NULL, NULL, &v))
		aggregate_one(r, v);
}

/* Whether a change to c affects some aggregated role's effective rules. */
static bool aggregation_relevant(const struct rbac *r, const struct crole *c)
{
	if (!c)
		return false;
	if (c->selectors)
		return true;
	size_t pos = 0;
	void *v;
	while (kc_map_next(&r->aggregated, &pos, NULL, NULL, &v))
		if (any_selector_matches(((const struct crole *)v)->selectors, c->labels))
			return true;
	return false;
}

/* ---- the subject index ---- */

static void index_add(struct rbac *r, struct binding *b, const char *key)
{
	struct kc_map *m = kc_map_sget(&r->index, key);
	if (!m) {
		m = xmalloc(sizeof *m);
		kc_map_init(m, NULL);
		kc_map_sput(&r->index, key, m);
	}
	kc_map_sput(m, b->name, b);
}

static void index_remove(struct rbac *r, const struct binding *b)
{
	for (size_t i = 0; i < b->keys.n; i++) {
		struct kc_map *m = kc_map_sget(&r->index, b->keys.v[i]);
		if (!m)
			continue;
		if (kc_map_sget(m, b->name) == b)
			kc_map_sdel(m, b->name);
		if (m->len == 0)
			kc_map_sdel(&r->index, b->keys.v[i]);
	}
}

/* Compiles a binding and the index keys of its subjects. */
static struct binding *binding_from(const cJSON *obj, const char *ns, const char *name)
{
	const char *kind = kc_json_get_str(obj, "roleRef.kind");
	const char *role = kc_json_get_str(obj, "roleRef.name");
	if (!kind || !role)
		return NULL;
	bool cluster_role = strcmp(kind, "ClusterRole") == 0;
	if (!cluster_role && (strcmp(kind, "Role") != 0 || !ns[0]))
		return NULL; /* a ClusterRoleBinding can only name a ClusterRole */
	struct binding *b = xcalloc(1, sizeof *b);
	b->name = xstrdup(name);
	b->ns = xstrdup(ns);
	b->cluster_role = cluster_role;
	b->role = xstrdup(role);
	const cJSON *subjects = kc_json_get(obj, "subjects");
	size_t n = cJSON_IsArray(subjects) ? (size_t)cJSON_GetArraySize(subjects) : 0;
	b->keys.v = xcalloc(n ? n : 1, sizeof *b->keys.v);
	for (const cJSON *s = n ? subjects->child : NULL; s; s = s->next) {
		const char *sk = kc_json_get_str(s, "kind");
		const char *sn = kc_json_get_str(s, "name");
		if (!sk || !sn || !sn[0])
			continue;
		char key[KEY_MAX];
		int len;
		if (strcmp(sk, "User") == 0) {
			len = snprintf(key, sizeof key, "%s/u:%s", ns, sn);
		} else if (strcmp(sk, "Group") == 0) {
			len = snprintf(key, sizeof key, "%s/g:%s", ns, sn);
		} else if (strcmp(sk, "ServiceAccount") == 0) {
			/* the namespace defaults to the RoleBinding's (appliesToUser) */
			const char *sns = kc_json_get_str(s, "namespace");
			if (!sns || !sns[0])
				sns = ns;
			if (!sns[0])
				continue;
			len = snprintf(key, sizeof key, "%s/u:system:serviceaccount:%s:%s", ns, sns,
				       sn);
		} else {
			continue;
		}
		if (len < 0 || (size_t)len >= sizeof key)
			continue;
		b->keys.v[b->keys.n++] = xstrdup(key);
	}
	return b;
}

/* ---- updates ---- */

static void update_role(struct rbac *r, const char *key, const cJSON *obj, bool deleted)
{
	if (deleted) {
		kc_map_sdel(&r->roles, key);
		return;
	}
	struct role *ro = xcalloc(1, sizeof *ro);
	ruleset_from(&ro->rules, kc_json_get(obj, "rules"));
	kc_map_sput(&r->roles, key, ro); /* frees the old one: nothing else points into it */
}

static void update_crole(struct rbac *r, const char *name, const cJSON *obj, bool deleted)
{
	struct crole *old = kc_map_take(&r->croles, name, strlen(name));
	if (old && old->selectors)
		kc_map_sdel(&r->aggregated, name);
	bool relevant = aggregation_relevant(r, old);
	struct crole *c = NULL;
	if (!deleted) {
		c = xcalloc(1, sizeof *c);
		ruleset_from(&c->rules, kc_json_get(obj, "rules"));
		const cJSON *labels = kc_json_get(obj, "metadata.labels");
		if (cJSON_IsObject(labels))
			c->labels = kc_json_dup(labels);
		const cJSON *agg = kc_json_get(obj, "aggregationRule");
		if (cJSON_IsObject(agg)) {
			const cJSON *sel =
				cJSON_GetObjectItemCaseSensitive(agg, "clusterRoleSelectors");
			c->selectors = cJSON_IsArray(sel) ? kc_json_dup(sel) : kc_json_new_array();
		}
		kc_map_sput(&r->croles, name, c);
		if (c->selectors)
			kc_map_sput(&r->aggregated, name, c);
		relevant = relevant || aggregation_relevant(r, c);
	}
	if (relevant)
		aggregate_all(r);
	crole_free(old);
}

static void update_binding(struct rbac *r, struct kc_map *m, const char *key, const char *ns,
			   const char *name, const cJSON *obj, bool deleted)
{
	struct binding *old = kc_map_take(m, key, strlen(key));
	if (old) {
		index_remove(r, old);
		binding_free(old);
	}
	if (deleted)
		return;
	struct binding *b = binding_from(obj, ns, name);
	if (!b) {
		log_debug("rbac: ignoring binding without a valid roleRef name=%s namespace=%s",
			  name, ns);
		return;
	}
	kc_map_sput(m, key, b);
	for (size_t i = 0; i < b->keys.n; i++)
		index_add(r, b, b->keys.v[i]);
}

void rbac_update(struct rbac *r, const char *resource, const cJSON *obj, bool deleted)
{
	const char *name = kc_json_get_str(obj, "metadata.name");
	const char *ns = kc_json_get_str(obj, "metadata.namespace");
	if (!name || !name[0] || strlen(name) >= KEY_MAX / 2)
		return;
	bool namespaced = strcmp(resource, "roles") == 0 || strcmp(resource, "rolebindings") == 0;
	if (namespaced && (!ns || !ns[0] || strlen(ns) >= KEY_MAX / 4 || strchr(ns, '/')))
		return;
	char key[KEY_MAX];
	snprintf(key, sizeof key, "%s/%s", namespaced ? ns : "", name);

	pthread_rwlock_wrlock(&r->lock);
	if (strcmp(resource, "roles") == 0)
		update_role(r, key, obj, deleted);
	else if (strcmp(resource, "clusterroles") == 0)
		update_crole(r, name, obj, deleted);
	else if (strcmp(resource, "rolebindings") == 0)
		update_binding(r, &r->rbs, key, ns, name, obj, deleted);
	else if (strcmp(resource, "clusterrolebindings") == 0)
		update_binding(r, &r->crbs, name, "", name, obj, deleted);
	pthread_rwlock_unlock(&r->lock);
}

/* ---- decisions ---- */

static bool ruleset_allows(const struct rule *rules, size_t n, const struct req *q)
{
	for (size_t i = 0; i < n; i++)
		if (rule_allows(&rules[i], q))
			return true;
	return false;
}

static bool binding_allows(const struct rbac *r, const struct binding *b, const struct req *q)
{
	if (b->cluster_role) {
		const struct crole *c = kc_map_sget(&r->croles, b->role);
		if (!c)
			return false;
		if (!c->selectors)
			return ruleset_allows(c->rules.v, c->rules.n, q);
		for (size_t i = 0; i < c->neff; i++)
			if (rule_allows(c->eff[i], q))
				return true;
		return false;
	}
	char key[KEY_MAX];
	snprintf(key, sizeof key, "%s/%s", b->ns, b->role);
	const struct role *ro = kc_map_sget(&r->roles, key);
	return ro && ruleset_allows(ro->rules.v, ro->rules.n, q);
}

/* Whether a binding filed under scope/<kind>:<name> allows q. */
static bool subject_allows(const struct rbac *r, const char *scope, char kind, const char *name,
			   const struct req *q)
{
	/* the hot path: "<scope>/<kind>:<name>" without printf */
	char key[KEY_MAX];
	size_t sl = strlen(scope), nl = strlen(name);
	if (sl + 3 + nl >= sizeof key)
		return false;
	memcpy(key, scope, sl);
	key[sl] = '/';
	key[sl + 1] = kind;
	key[sl + 2] = ':';
	memcpy(key + sl + 3, name, nl);
	const struct kc_map *m = kc_map_get(&r->index, key, sl + 3 + nl);
	if (!m)
		return false;
	size_t pos = 0;
	void *v;
	while (kc_map_next(m, &pos, NULL, NULL, &v))
		if (binding_allows(r, v, q))
			return true;
	return false;
}

static bool scope_allows(const struct rbac *r, const char *scope, const struct auth_user *u,
			 const struct req *q)
{
	if (subject_allows(r, scope, 'u', u->name, q))
		return true;
	for (unsigned i = 0; i < u->ngroups && i < AUTH_MAX_GROUPS; i++)
		if (subject_allows(r, scope, 'g', u->groups[i], q))
			return true;
	return false;
}

bool rbac_authorize(struct rbac *r, const struct auth_user *u, const struct authz_attrs *at)
{
	for (unsigned i = 0; i < u->ngroups && i < AUTH_MAX_GROUPS; i++)
		if (strcmp(u->groups[i], "system:masters") == 0)
			return true;
	if (!at->verb)
		return false;
	struct req q = {
		.verb = at->verb,
		.group = at->group ? at->group : "",
		.sub = at->subresource ? at->subresource : "",
		.name = at->name ? at->name : "",
		.path = at->path ? at->path : "",
		.resource = at->resource != NULL,
	};
	if (q.resource) {
		int len = q.sub[0] ? snprintf(q.combined, sizeof q.combined, "%s/%s", at->resource,
					      q.sub)
				   : snprintf(q.combined, sizeof q.combined, "%s", at->resource);
		if (len < 0 || (size_t)len >= sizeof q.combined)
			return false;
	}
	/* RoleBindings only grant inside their namespace, so only namespaced resource requests
	 * look at them; cluster-scoped and non-resource requests have ns "". */
	const char *ns = q.resource && at->ns && at->ns[0] && !strchr(at->ns, '/') ? at->ns : NULL;
	pthread_rwlock_rdlock(&r->lock);
	bool ok = scope_allows(r, "", u, &q) || (ns && scope_allows(r, ns, u, &q));
	pthread_rwlock_unlock(&r->lock);
	return ok;
}

/* ---- life cycle ---- */

struct rbac *rbac_new(void)
{
	struct rbac *r = xcalloc(1, sizeof *r);
	if (pthread_rwlock_init(&r->lock, NULL) != 0)
		kc_fatal("rbac: pthread_rwlock_init failed");
	kc_map_init(&r->roles, role_free);
	kc_map_init(&r->croles, crole_free);
	kc_map_init(&r->aggregated, NULL);
	kc_map_init(&r->rbs, binding_free);
	kc_map_init(&r->crbs, binding_free);
	kc_map_init(&r->index, inner_map_free);
	return r;
}

void rbac_free(struct rbac *r)
{
	if (!r)
		return;
	kc_map_free(&r->index);
	kc_map_free(&r->rbs);
	kc_map_free(&r->crbs);
	kc_map_free(&r->aggregated);
	kc_map_free(&r->croles);
	kc_map_free(&r->roles);
	pthread_rwlock_destroy(&r->lock);
	free(r);
}
