/* DESIGN: the default ClusterRoles and ClusterRoleBindings, as Kubernetes' bootstrap policy
 * (plugin/pkg/auth/authorizer/rbac/bootstrappolicy) creates them, restricted to what matters
 * for kc, plus two kc bindings for nodes joining with the join token (see auth.c).
 *
 * Tables of rules written as comma-separated lists keep the policy readable: in the apiGroups
 * column an empty item is the core group ("" is [""], ",apps" is ["", "apps"]).
 *
 * admin, edit and view are aggregated as in Kubernetes: their rules live in
 * system:aggregate-to-{admin,edit,view} (and system:aggregated-metrics-reader), selected by the
 * rbac.authorization.k8s.io/aggregate-to-* labels; edit carries aggregate-to-admin and view
 * aggregate-to-edit, so admin includes edit includes view. The objects written here also carry
 * the aggregated rules themselves, as the aggregation controller would have left them, so that
 * `kubectl get clusterrole admin -o yaml` reads as on Kubernetes; the authorizer recomputes
 * them from the labels anyway (rbac.c). Pure function, any thread. */
#include "roles/apiserver/auth.h"

#include <string.h>

#include "lib/json.h"

#define READ  "get,list,watch"
#define WRITE "create,update,patch,delete,deletecollection"
#define RW    READ "," WRITE

#define LABEL_BOOTSTRAP "kubernetes.io/bootstrapping"
#define AGG_ADMIN	"rbac.authorization.k8s.io/aggregate-to-admin"
#define AGG_EDIT	"rbac.authorization.k8s.io/aggregate-to-edit"
#define AGG_VIEW	"rbac.authorization.k8s.io/aggregate-to-view"
#define RBAC_GROUP	"rbac.authorization.k8s.io"

struct rule_spec {
	const char *verbs;
	const char *groups; /* NULL for non-resource rules */
	const char *resources;
	const char *urls; /* non-resource rules */
};

#define RULES(...) ((const struct rule_spec[]){__VA_ARGS__, {0}})

/* Splits "a,b" into a JSON array; every item counts, empty ones too. */
static cJSON *list(const char *csv)
{
	cJSON *arr = kc_json_new_array();
	const char *p = csv;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char item[128];
		if (n >= sizeof item)
			n = sizeof item - 1;
		memcpy(item, p, n);
		item[n] = '\0';
		cJSON_AddItemToArray(arr, kc_json_new_str(item));
		if (!comma)
			break;
		p = comma + 1;
	}
	return arr;
}

static cJSON *rule(const struct rule_spec *s)
{
	cJSON *r = kc_json_new_object();
	if (s->urls) {
		kc_json_add(r, "nonResourceURLs", list(s->urls));
	} else {
		kc_json_add(r, "apiGroups", list(s->groups));
		kc_json_add(r, "resources", list(s->resources));
	}
	kc_json_add(r, "verbs", list(s->verbs));
	return r;
}

static void add_rules(cJSON *arr, const struct rule_spec *specs)
{
	for (const struct rule_spec *s = specs; s->verbs; s++)
		cJSON_AddItemToArray(arr, rule(s));
}

/* apiVersion, kind, metadata with the bootstrap label and annotation, plus extra labels
 * (NULL-terminated key list, all "true"). */
static cJSON *object(const char *kind, const char *name, const char *const *labels)
{
	cJSON *o = kc_json_new_object();
	kc_json_add(o, "apiVersion", kc_json_new_str(RBAC_GROUP "/v1"));
	kc_json_add(o, "kind", kc_json_new_str(kind));
	cJSON *md = kc_json_new_object();
	kc_json_add(md, "name", kc_json_new_str(name));
	cJSON *ann = kc_json_new_object();
	kc_json_add(ann, "rbac.authorization.kubernetes.io/autoupdate", kc_json_new_str("true"));
	kc_json_add(md, "annotations", ann);
	cJSON *lab = kc_json_new_object();
	kc_json_add(lab, LABEL_BOOTSTRAP, kc_json_new_str("rbac-defaults"));
	for (const char *const *l = labels; l && *l; l++)
		kc_json_add(lab, *l, kc_json_new_str("true"));
	kc_json_add(md, "labels", lab);
	kc_json_add(o, "metadata", md);
	return o;
}

static void cluster_role(cJSON *out, const char *name, const char *const *labels,
			 const struct rule_spec *specs)
{
	cJSON *o = object("ClusterRole", name, labels);
	cJSON *rules = kc_json_new_array();
	if (specs)
		add_rules(rules, specs);
	kc_json_add(o, "rules", rules);
	cJSON_AddItemToArray(out, o);
}

/* A ClusterRole aggregating the roles labelled select=true, with rules already filled from
 * the given tables. */
static void aggregated_role(cJSON *out, const char *name, const char *const *labels,
			    const char *select, const struct rule_spec *const *tables)
{
	cJSON *o = object("ClusterRole", name, labels);
	cJSON *sel = kc_json_new_object(), *ml = kc_json_new_object();
	kc_json_add(ml, select, kc_json_new_str("true"));
	kc_json_add(sel, "matchLabels", ml);
	cJSON *sels = kc_json_new_array();
	cJSON_AddItemToArray(sels, sel);
	cJSON *agg = kc_json_new_object();
	kc_json_add(agg, "clusterRoleSelectors", sels);
	kc_json_add(o, "aggregationRule", agg);
	cJSON *rules = kc_json_new_array();
	for (const struct rule_spec *const *t = tables; *t; t++)
		add_rules(rules, *t);
	kc_json_add(o, "rules", rules);
	cJSON_AddItemToArray(out, o);
}

/* A ClusterRoleBinding of role to the groups in the comma-separated list. */
static void group_binding(cJSON *out, const char *name, const char *role, const char *groups)
{
	cJSON *o = object("ClusterRoleBinding", name, NULL);
	cJSON *ref = kc_json_new_object();
	kc_json_add(ref, "apiGroup", kc_json_new_str(RBAC_GROUP));
	kc_json_add(ref, "kind", kc_json_new_str("ClusterRole"));
	kc_json_add(ref, "name", kc_json_new_str(role));
	kc_json_add(o, "roleRef", ref);
	cJSON *subjects = kc_json_new_array(), *names = list(groups);
	for (const cJSON *g = names->child; g; g = g->next) {
		cJSON *s = kc_json_new_object();
		kc_json_add(s, "apiGroup", kc_json_new_str(RBAC_GROUP));
		kc_json_add(s, "kind", kc_json_new_str("Group"));
		kc_json_add(s, "name", kc_json_new_str(g->valuestring));
		cJSON_AddItemToArray(subjects, s);
	}
	cJSON_Delete(names);
	kc_json_add(o, "subjects", subjects);
	cJSON_AddItemToArray(out, o);
}

/* ---- the policy ---- */

static const struct rule_spec *view_rules(void)
{
	static const struct rule_spec r[] = {
		{READ, "",
		 "pods,replicationcontrollers,replicationcontrollers/scale,serviceaccounts,"
		 "services,services/status,endpoints,persistentvolumeclaims,"
		 "persistentvolumeclaims/status,configmaps"},
		{READ, "",
		 "limitranges,resourcequotas,bindings,events,pods/status,"
		 "resourcequotas/status,namespaces/status,replicationcontrollers/status,"
		 "pods/log"},
		/* namespaces read at namespace scope: "this namespace" */
		{READ, "", "namespaces"},
		{READ, "discovery.k8s.io", "endpointslices"},
		{READ, "apps",
		 "controllerrevisions,statefulsets,statefulsets/status,statefulsets/scale,"
		 "daemonsets,daemonsets/status,deployments,deployments/status,"
		 "deployments/scale,replicasets,replicasets/status,replicasets/scale"},
		{READ, "autoscaling", "horizontalpodautoscalers,horizontalpodautoscalers/status"},
		{READ, "batch", "jobs,cronjobs,cronjobs/status,jobs/status"},
		{READ, "extensions",
		 "daemonsets,daemonsets/status,deployments,deployments/scale,"
		 "deployments/status,ingresses,ingresses/status,replicasets,"
		 "replicasets/scale,replicasets/status,"
		 "replicationcontrollers/scale,networkpolicies"},
		{READ, "policy", "poddisruptionbudgets,poddisruptionbudgets/status"},
		{READ, "networking.k8s.io", "networkpolicies,ingresses,ingresses/status"},
		{READ, "coordination.k8s.io", "leases"},
		{0},
	};
	return r;
}

static const struct rule_spec *edit_rules(void)
{
	static const struct rule_spec r[] = {
		/* read on escalating resources */
		{READ, "",
		 "pods/attach,pods/proxy,pods/exec,pods/portforward,secrets,services/proxy"},
		{"impersonate", "", "serviceaccounts"},
		{WRITE, "", "pods,pods/attach,pods/proxy,pods/exec,pods/portforward"},
		{"create", "", "pods/eviction"},
		{WRITE, "",
		 "replicationcontrollers,replicationcontrollers/scale,serviceaccounts,"
		 "services,services/proxy,persistentvolumeclaims,configmaps,secrets,events"},
		{"create", "", "serviceaccounts/token"},
		{WRITE, "apps",
		 "statefulsets,statefulsets/scale,daemonsets,deployments,"
		 "deployments/scale,deployments/rollback,replicasets,replicasets/scale"},
		{WRITE, "autoscaling", "horizontalpodautoscalers"},
		{WRITE, "batch", "jobs,cronjobs"},
		{WRITE, "extensions",
		 "daemonsets,deployments,deployments/scale,deployments/rollback,"
		 "ingresses,replicasets,replicasets/scale,"
		 "replicationcontrollers/scale,networkpolicies"},
		{WRITE, "policy", "poddisruptionbudgets"},
		{WRITE, "networking.k8s.io", "networkpolicies,ingresses"},
		{RW, "coordination.k8s.io", "leases"},
		{0},
	};
	return r;
}

static const struct rule_spec *admin_rules(void)
{
	static const struct rule_spec r[] = {
		{"create", "authorization.k8s.io", "localsubjectaccessreviews"},
		{RW, RBAC_GROUP, "roles,rolebindings"},
		{0},
	};
	return r;
}

static const struct rule_spec *metrics_rules(void)
{
	static const struct rule_spec r[] = {
		{READ, "metrics.k8s.io", "pods,nodes"},
		{0},
	};
	return r;
}

static const struct rule_spec *node_rules(void)
{
	static const struct rule_spec r[] = {
		/* checking API access: non-mutating creates */
		{"create", "authentication.k8s.io", "tokenreviews"},
		{"create", "authorization.k8s.io",
		 "subjectaccessreviews,localsubjectaccessreviews"},
		/* service environment variables; kc's proxy and DNS also watch them */
		{READ, "", "services"},
		/* registering the Node and reporting its status */
		{"create,get,list,watch", "", "nodes"},
		{"update,patch", "", "nodes/status"},
		{"update,patch", "", "nodes"},
		{"create,update,patch", "", "events"},
		{READ, "", "pods"},
		/* mirror pods */
		{"create,delete", "", "pods"},
		{"update,patch", "", "pods/status"},
		{"create", "", "pods/eviction"},
		/* volumes and environment */
		{READ, "", "secrets,configmaps"},
		{"get", "", "persistentvolumeclaims,persistentvolumes"},
		{"get", "", "endpoints"},
		/* client certificate rotation */
		{"create,get,list,watch", "certificates.k8s.io", "certificatesigningrequests"},
		/* node heartbeats in kube-node-lease */
		{"get,create,update,patch,delete", "coordination.k8s.io", "leases"},
		{"get", "storage.k8s.io", "volumeattachments"},
		/* projected service account tokens */
		{"create", "", "serviceaccounts/token"},
		{"get,update,patch", "", "persistentvolumeclaims/status"},
		{READ, "storage.k8s.io", "csidrivers"},
		{"get,create,update,patch,delete", "storage.k8s.io", "csinodes"},
		{READ, "node.k8s.io", "runtimeclasses"},
		/* kc: the worker also runs the service proxy, node-local DNS and ingress (what
		 * system:node-proxier and CoreDNS's role grant on Kubernetes) */
		{READ, "", "endpoints,namespaces"},
		{READ, "discovery.k8s.io", "endpointslices"},
		{"create,update,patch", "events.k8s.io", "events"},
		{READ, "networking.k8s.io", "ingresses,ingressclasses"},
		{"update,patch", "networking.k8s.io", "ingresses/status"},
		{0},
	};
	return r;
}

cJSON *auth_bootstrap_objects(void)
{
	cJSON *out = kc_json_new_array();

	cluster_role(out, "cluster-admin", NULL,
		     RULES({"*", "*", "*", NULL}, {"*", NULL, NULL, "*"}));

	/* the aggregated user-facing roles and their sources */
	static const char *const agg_admin[] = {AGG_ADMIN, NULL};
	static const char *const agg_edit[] = {AGG_EDIT, NULL};
	static const char *const agg_view[] = {AGG_VIEW, NULL};
	static const char *const agg_all[] = {AGG_ADMIN, AGG_EDIT, AGG_VIEW, NULL};
	const struct rule_spec *admin_tables[] = {admin_rules(), edit_rules(), view_rules(),
						  metrics_rules(), NULL};
	const struct rule_spec *edit_tables[] = {edit_rules(), view_rules(), metrics_rules(), NULL};
	const struct rule_spec *view_tables[] = {view_rules(), metrics_rules(), NULL};
	aggregated_role(out, "admin", NULL, AGG_ADMIN, admin_tables);
	aggregated_role(out, "edit", agg_admin, AGG_EDIT, edit_tables);
	aggregated_role(out, "view", agg_edit, AGG_VIEW, view_tables);
	cluster_role(out, "system:aggregate-to-admin", agg_admin, admin_rules());
	cluster_role(out, "system:aggregate-to-edit", agg_edit, edit_rules());
	cluster_role(out, "system:aggregate-to-view", agg_view, view_rules());
	cluster_role(out, "system:aggregated-metrics-reader", agg_all, metrics_rules());

	cluster_role(out, "system:basic-user", NULL,
		     RULES({"create", "authorization.k8s.io",
			    "selfsubjectaccessreviews,selfsubjectrulesreviews", NULL},
			   {"create", "authentication.k8s.io", "selfsubjectreviews", NULL}));
	cluster_role(out, "system:discovery", NULL,
		     RULES({"get", NULL, NULL,
			    "/api,/api/*,/apis,/apis/*,/healthz,/livez,/openapi,/openapi/*,"
			    "/readyz,/version,/version/"}));
	cluster_role(out, "system:public-info-viewer", NULL,
		     RULES({"get", NULL, NULL, "/healthz,/livez,/readyz,/version,/version/"}));
	cluster_role(out, "system:monitoring", NULL,
		     RULES({"get", NULL, NULL,
			    "/metrics,/metrics/slis,/livez,/readyz,/healthz,/livez/*,/readyz/*,"
			    "/healthz/*"}));
	cluster_role(out, "system:service-account-issuer-discovery", NULL,
		     RULES({"get", NULL, NULL,
			    "/.well-known/openid-configuration,/.well-known/openid-configuration/,"
			    "/openid/v1/jwks,/openid/v1/jwks/"}));
	cluster_role(out, "system:auth-delegator", NULL,
		     RULES({"create", "authentication.k8s.io", "tokenreviews", NULL},
			   {"create", "authorization.k8s.io", "subjectaccessreviews", NULL}));
	cluster_role(out, "system:node", NULL, node_rules());
	cluster_role(out, "system:node-bootstrapper", NULL,
		     RULES({"create,get,list,watch", "certificates.k8s.io",
			    "certificatesigningrequests", NULL}));

	group_binding(out, "cluster-admin", "cluster-admin", "system:masters");
	group_binding(out, "system:basic-user", "system:basic-user", "system:authenticated");
	group_binding(out, "system:discovery", "system:discovery", "system:authenticated");
	group_binding(out, "system:public-info-viewer", "system:public-info-viewer",
		      "system:authenticated,system:unauthenticated");
	group_binding(out, "system:monitoring", "system:monitoring", "system:monitoring");
	group_binding(out, "system:service-account-issuer-discovery",
		      "system:service-account-issuer-discovery", "system:serviceaccounts");
	/* kc: nodes authenticate with the join token (auth.c) */
	group_binding(out, "system:node", "system:node", "system:nodes");
	group_binding(out, "system:node-bootstrapper", "system:node-bootstrapper",
		      "system:bootstrappers");
	return out;
}
