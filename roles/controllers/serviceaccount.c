/* DESIGN: the serviceaccount and root-CA publisher controllers: every active namespace gets a
 * ServiceAccount "default" and a ConfigMap "kube-root-ca.crt" holding the cluster CA (key
 * ca.crt), recreated when deleted and corrected when changed. Keys are namespace names; the
 * informers for the two objects are narrowed by a name field selector. Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "roles/controllers/ctrl_int.h"

#define ROOT_CA "kube-root-ca.crt"
#define ROOT_CA_DESC                                                                             \
	"Contains a CA bundle that can be used to verify the kube-apiserver when using internal " \
	"endpoints such as the internal service IP or kubernetes.default.svc. No other usage is " \
	"guaranteed across distributions of Kubernetes clusters."

struct serviceaccount_ctrl {
	struct ctrl_ctx *c;
	struct workqueue *q;
};

static void ns_add(void *arg, const cJSON *obj)
{
	struct serviceaccount_ctrl *s = arg;
	workqueue_add(s->q, ctrl_str(obj, "metadata.name"));
}

static void ns_update(void *arg, const cJSON *old, const cJSON *obj)
{
	ns_add(arg, obj);
}

static void child_change(void *arg, const cJSON *obj)
{
	struct serviceaccount_ctrl *s = arg;
	workqueue_add(s->q, ctrl_str(obj, "metadata.namespace"));
}

static void child_update(void *arg, const cJSON *old, const cJSON *obj)
{
	if (old != obj)
		child_change(arg, obj);
}

static void sync(void *arg, const char *ns)
{
	struct serviceaccount_ctrl *s = arg;
	struct ctrl_ctx *c = s->c;
	struct ctrl_op *op = ctrl_op_begin(c, s->q, ns);
	if (!ctrl_synced(c)) {
		ctrl_op_requeue_after(op, 200);
		ctrl_op_end(op);
		return;
	}
	const cJSON *n = informer_get(c->namespaces, NULL, ns);
	if (!n || ctrl_is_deleting(n) || !strcmp(ctrl_str(n, "status.phase"), "Terminating")) {
		ctrl_op_end(op);
		return;
	}
	static const int ok409[] = { 409, 0 };
	if (!informer_get(c->serviceaccounts, ns, "default")) {
		cJSON *sa = kc_json_new_object();
		kc_json_set_str(sa, "apiVersion", "v1");
		kc_json_set_str(sa, "kind", "ServiceAccount");
		kc_json_set_str(sa, "metadata.name", "default");
		kc_json_set_str(sa, "metadata.namespace", ns);
		char *path = ctrl_path("/api/v1", ns, "serviceaccounts", NULL, NULL);
		ctrl_op_request(op, "POST", path, NULL, sa, ok409, NULL, NULL);
		free(path);
		cJSON_Delete(sa);
	}
	const cJSON *cm = informer_get(c->rootcas, ns, ROOT_CA);
	const char *have = cm ? kc_json_get_str(cm, "data[ca.crt]") : NULL;
	if (!have || strcmp(have, c->ca_pem)) {
		cJSON *o = kc_json_new_object();
		kc_json_set_str(o, "apiVersion", "v1");
		kc_json_set_str(o, "kind", "ConfigMap");
		kc_json_set_str(o, "metadata.name", ROOT_CA);
		kc_json_set_str(o, "metadata.namespace", ns);
		kc_json_set_str(o, "metadata.annotations[kubernetes.io/description]", ROOT_CA_DESC);
		kc_json_set_str(o, "data[ca.crt]", c->ca_pem);
		char *path = ctrl_path("/api/v1", ns, "configmaps", cm ? ROOT_CA : NULL, NULL);
		if (cm) {
			kc_json_set_str(o, "metadata.resourceVersion",
					ctrl_str(cm, "metadata.resourceVersion"));
			ctrl_op_request(op, "PUT", path, NULL, o, NULL, NULL, NULL);
		} else {
			ctrl_op_request(op, "POST", path, NULL, o, ok409, NULL, NULL);
		}
		free(path);
		cJSON_Delete(o);
	}
	ctrl_op_end(op);
}

struct serviceaccount_ctrl *serviceaccount_ctrl_new(struct ctrl_ctx *c)
{
	struct serviceaccount_ctrl *s = xcalloc(1, sizeof *s);
	s->c = c;
	struct workqueue_config qc = { .name = "serviceaccount", .workers = 4 };
	s->q = workqueue_new(c->loop, &qc, sync, s);
	struct informer_handlers nh = { .on_add = ns_add, .on_update = ns_update, .arg = s };
	informer_add_handlers(c->namespaces, &nh);
	struct informer_handlers ch = { .on_update = child_update, .on_delete = child_change,
					.arg = s };
	informer_add_handlers(c->serviceaccounts, &ch);
	informer_add_handlers(c->rootcas, &ch);
	return s;
}

void serviceaccount_ctrl_free(struct serviceaccount_ctrl *s)
{
	if (!s)
		return;
	workqueue_free(s->q);
	free(s);
}
