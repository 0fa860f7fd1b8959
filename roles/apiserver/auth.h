/* auth.h - authentication (client certificates, bearer tokens: the static admin token, node
 * bootstrap tokens, ServiceAccount JWTs signed by the cluster's service-account key) and RBAC
 * authorization (Role/ClusterRole/RoleBinding/ClusterRoleBinding, with the default cluster
 * roles bootstrapped at start).
 *
 * Threads: auth_authenticate and auth_authorize are called from every API loop thread; the
 * RBAC view is updated from whichever thread observes changes (auth_rbac_update); internal
 * locking is a read-write lock (readers never wait for each other). */
#ifndef KC_ROLES_APISERVER_AUTH_H
#define KC_ROLES_APISERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "lib/err.h"
#include "lib/str.h"

struct http_req;
struct auth;

#define AUTH_MAX_GROUPS 16
#define AUTH_NAME_MAX 256

struct auth_user {
	char name[AUTH_NAME_MAX];  /* "kubernetes-admin", "system:node:n1",
				    * "system:serviceaccount:ns:sa", "system:anonymous" */
	char uid[64];
	char groups[AUTH_MAX_GROUPS][AUTH_NAME_MAX]; /* always includes "system:authenticated"
						      * (or "system:unauthenticated") */
	unsigned ngroups;
};

struct auth_config {
	const char *data_dir;  /* DATA/tls/sa.key (created at first start: EC P-256), DATA/token */
	const char *issuer;    /* JWT iss, "https://kubernetes.default.svc.cluster.local" */
};

int auth_new(const struct auth_config *cfg, struct auth **out, struct kc_err *err);
void auth_free(struct auth *a);

/* Identifies the caller: verified client certificate (CN = user, O = groups), else an
 * "Authorization: Bearer" token. Returns 1 when authenticated, 0 for an anonymous request
 * (user = system:anonymous, groups system:unauthenticated), -KC_EINVAL when credentials were
 * given but are invalid (401 Unauthorized). */
int auth_authenticate(struct auth *a, struct http_req *req, struct auth_user *u);

struct authz_attrs {
	const char *verb;        /* get list watch create update patch delete deletecollection;
				  * for non-resource requests the lowercased HTTP method */
	const char *group;       /* "" core */
	const char *resource;    /* "pods"; NULL for non-resource requests */
	const char *subresource; /* "status", "log", ...; NULL or "" when none */
	const char *ns;          /* "" for cluster-scoped or all-namespace requests */
	const char *name;        /* "" when none */
	const char *path;        /* non-resource requests: "/healthz" */
};

/* RBAC decision. Returns true when allowed; else fills reason (for the 403 Status message
 * 'pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace
 * "default"', built by the caller). system:masters is always allowed. */
bool auth_authorize(struct auth *a, const struct auth_user *u, const struct authz_attrs *at);

/* Feeds the RBAC view: resource is "roles", "clusterroles", "rolebindings" or
 * "clusterrolebindings"; obj the complete object; deleted true on delete. */
void auth_rbac_update(struct auth *a, const char *resource, const cJSON *obj, bool deleted);

/* The default RBAC objects (cluster-admin, admin, edit, view, system:node,
 * system:basic-user, system:discovery, system:public-info-viewer, ... and their bindings) as a
 * cJSON array of complete objects (apiVersion, kind, metadata.name, rules/subjects/roleRef),
 * to be created at start when absent. Caller frees. */
cJSON *auth_bootstrap_objects(void);

/* Issues a ServiceAccount token (TokenRequest): a JWT (ES256) for
 * system:serviceaccount:<ns>:<sa> with audiences (NULL = the issuer), expiry seconds
 * (0 = 3600; clamped to [600, 2^32)), bound to an object (may be NULL). Appends the token to
 * out; *exp gets the expiry time (unix seconds). */
int auth_issue_sa_token(struct auth *a, const char *ns, const char *sa, const char *sa_uid,
			const cJSON *audiences, int64_t expiry_s, int64_t *exp, struct kc_str *out,
			struct kc_err *err);

/* The static admin token and the node join token (DATA/token), for tests and the worker. */
const char *auth_admin_token(const struct auth *a);

#endif
