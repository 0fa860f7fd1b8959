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

#include "lib/clock.h"
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

/* Optional check that a verified ServiceAccount token is still bound to live objects (the
 * ServiceAccount and, when the token names one, the Pod or Secret, with matching uids), as
 * kube-apiserver does. Called with no auth lock held, on the authenticating thread; ns and
 * name are the ServiceAccount's; bound_kind is "Pod", "Secret" or NULL. Returns true when
 * valid. */
typedef bool (*auth_sa_check_fn)(void *arg, const char *ns, const char *name, const char *uid,
				 const char *bound_kind, const char *bound_name,
				 const char *bound_uid);

struct auth_config {
	const char *data_dir;  /* DATA/tls/sa.key (created at first start: EC P-256) and
				* DATA/tls/admin.token */
	const char *join_token; /* the node join token (DATA/token, made and checked by
				 * roles/pki.c: kc1:<CA sha256>:<secret>); NULL or "": none */
	const char *issuer;    /* JWT iss, "https://kubernetes.default.svc.cluster.local";
				* NULL or "" means that URL */
	struct kc_clock *clock; /* token times; NULL: kc_clock_real() */
	auth_sa_check_fn sa_check; /* NULL: tokens are trusted until they expire */
	void *sa_check_arg;
};

int auth_new(const struct auth_config *cfg, struct auth **out, struct kc_err *err);
void auth_free(struct auth *a);

/* Identifies the caller: verified client certificate (CN = user, O = groups), else an
 * "Authorization: Bearer" token. Returns 1 when authenticated, 0 for an anonymous request
 * (user = system:anonymous, groups system:unauthenticated), -KC_EINVAL when credentials were
 * given but are invalid (401 Unauthorized). Bearer tokens, at most 16 KiB:
 *   the admin token      user "kc-admin", groups system:masters, system:authenticated
 *   the join token       user "system:bootstrap:node", groups system:bootstrappers,
 *                        system:nodes, system:authenticated (system:nodes is bound to the
 *                        system:node ClusterRole: enough to register and run a node)
 *   ServiceAccount JWTs  user "system:serviceaccount:<ns>:<name>", uid the ServiceAccount's,
 *                        groups system:serviceaccounts, system:serviceaccounts:<ns>,
 *                        system:authenticated; exp, nbf, iat checked with 60 s leeway, iss
 *                        must be the issuer, aud must hold the issuer or
 *                        "https://kubernetes.default.svc.cluster.local"; a verified token is
 *                        cached for 10 s (cfg->sa_check runs again after that)
 * Any thread. */
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

/* A TokenRequest with its bound object (spec.boundObjectRef); strings are borrowed. */
struct auth_token_request {
	const char *ns;            /* the ServiceAccount's namespace and name (required) */
	const char *sa;
	const char *sa_uid;        /* may be NULL or "" */
	const cJSON *audiences;    /* JSON array of strings; NULL or [] = the issuer */
	int64_t expiry_s;          /* 0 = 3600; clamped to [600, 2^32) */
	const char *bound_kind;    /* "Pod" or "Secret", NULL when unbound */
	const char *bound_name;
	const char *bound_uid;
	const char *node_name;     /* the bound pod's node, NULL when unknown */
	const char *node_uid;
};

/* auth_issue_sa_token with a bound object: the claims then carry "kubernetes.io":{"pod":
 * {"name","uid"}} (or "secret"), and "node" when node_name is set. Returns 0 or -KC_EINVAL
 * (bad names, audiences, or bound kind), -KC_ECRYPTO. */
int auth_issue_sa_token_req(struct auth *a, const struct auth_token_request *r, int64_t *exp,
			    struct kc_str *out, struct kc_err *err);

/* The service-account signing key as a JWK Set ({"keys":[{"use":"sig","kty":"EC","kid":..,
 * "crv":"P-256","alg":"ES256","x":..,"y":..}]}), for GET /openid/v1/jwks. Appends to out. */
void auth_sa_jwks(const struct auth *a, struct kc_str *out);

/* The issuer in use (config or default). */
const char *auth_issuer(const struct auth *a);

/* The static admin token (DATA/tls/admin.token) and the node join token (DATA/token), for
 * tests and the worker. The join token reads "kc1:<sha256 of the CA certificate DER, 64 hex
 * digits>:<secret, 32 hex digits>"; a worker pins the cluster CA by the middle part and
 * presents the whole string as its bearer token. */
const char *auth_admin_token(const struct auth *a);
const char *auth_node_token(const struct auth *a);

#endif
