/* ctrl_int.h - what the controllers share inside the controller manager: the context (API
 * client, informers, event recorder, configuration), request tracking that ends a work-queue
 * sync when its API calls are answered, and object helpers. Loop thread only. */
#ifndef KC_ROLES_CONTROLLERS_CTRL_INT_H
#define KC_ROLES_CONTROLLERS_CTRL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "net/addr.h"
#include "roles/client/apiclient.h"
#include "roles/client/events.h"
#include "roles/client/informer.h"
#include "roles/client/workqueue.h"

struct loop;

struct ctrl_ctx {
	struct loop *loop;
	struct apiclient *api;
	struct informer *pods, *nodes, *leases, *namespaces, *serviceaccounts, *rootcas;
	struct informer *deployments, *replicasets, *rcs, *statefulsets, *daemonsets, *jobs;
	struct informer *services, *endpoints, *slices, *pvcs;
	int pods_by_owner;     /* index ids on ctx->pods */
	int pods_orphan_ns;    /* namespace of pods without a controller */
	int pods_by_node;
	int pods_by_ns;
	int rs_by_owner;       /* on ctx->replicasets */
	struct net_cidr cluster_cidr;
	unsigned node_cidr_bits; /* 24 */
	char *ca_pem;          /* the cluster CA, for kube-root-ca.crt */
	uint32_t node_grace_ms;      /* node monitor grace period (40 s) */
	uint32_t node_monitor_ms;    /* 5 s */
	uint32_t default_toleration_s; /* 300 */
};

/* Whether every informer has done its first LIST. */
bool ctrl_synced(const struct ctrl_ctx *c);

/* ---- a sync's outstanding requests ---- */

/* An op counts the requests a sync started; when the last is answered (and ctrl_op_end was
 * called) it ends the sync with workqueue_done(q, key, rc), rc < 0 if any request failed in a
 * way the sync must be retried for. */
struct ctrl_op;
typedef void (*ctrl_op_cb)(void *arg, struct api_result *res);

struct ctrl_op *ctrl_op_begin(struct ctrl_ctx *c, struct workqueue *q, const char *key);
/* Issues a request that belongs to op. ok_status lists extra HTTP statuses that are not
 * failures (e.g. 404 for a DELETE, 409 for a create of a fixed name), 0-terminated, may be
 * NULL. cb (may be NULL) sees the result first. content_type NULL: JSON. */
void ctrl_op_request(struct ctrl_op *op, const char *method, const char *path,
		     const char *content_type, const cJSON *body, const int *ok_status,
		     ctrl_op_cb cb, void *arg);
/* Marks op as failed (the key is retried with back-off). */
void ctrl_op_fail(struct ctrl_op *op);
/* Asks for the key to be synced again after delay_ms (minReadySeconds, deadlines). */
void ctrl_op_requeue_after(struct ctrl_op *op, uint64_t delay_ms);
/* No more requests: the sync ends once all are answered. */
void ctrl_op_end(struct ctrl_op *op);

/* ---- helpers over objects ---- */

/* metadata.ownerReferences entry with controller=true, or NULL. */
const cJSON *ctrl_controller_ref(const cJSON *obj);
/* A new ownerReference {apiVersion, kind, name, uid, controller, blockOwnerDeletion}. */
cJSON *ctrl_owner_ref(const cJSON *owner, const char *api_version, const char *kind);
bool ctrl_is_deleting(const cJSON *obj);
/* Pod phase is not Succeeded/Failed and the pod is not being deleted. */
bool ctrl_pod_active(const cJSON *pod);
bool ctrl_pod_ready(const cJSON *pod);
/* Ready for at least min_ready_s seconds at 'now' (Unix s). */
bool ctrl_pod_available(const cJSON *pod, int64_t min_ready_s, int64_t now);
/* Status of the condition 'type' ("True", "False", "Unknown") or NULL. */
const char *ctrl_condition_status(const cJSON *obj, const char *path, const char *type);
const cJSON *ctrl_condition(const cJSON *obj, const char *path, const char *type);
/* int field at path or def. */
long long ctrl_int(const cJSON *obj, const char *path, long long def);
const char *ctrl_str(const cJSON *obj, const char *path);
/* Object path: "/api/v1/namespaces/<ns>/pods" style collection for (prefix, ns, plural). */
char *ctrl_path(const char *prefix, const char *ns, const char *plural, const char *name,
		const char *sub);
/* Whether the labels of obj match the LabelSelector 'sel' (a metav1.LabelSelector; NULL or
 * empty selects nothing, as controllers treat it). map_selector: sel is a plain label map
 * (ReplicationController, Service). */
bool ctrl_selector_matches(const cJSON *sel, bool map_selector, const cJSON *obj);
/* FNV-1a over the canonical JSON of v, plus collision_count when >= 0, encoded as Kubernetes
 * encodes pod-template-hash (rand.SafeEncodeString of the decimal value). buf >= 16. */
const char *ctrl_template_hash(const cJSON *v, long long collision_count, char *buf, size_t cap);
/* Tolerates taint (key, value, effect)? tolerations borrowed. */
bool ctrl_tolerates(const cJSON *tolerations, const cJSON *taint);
/* Pod ready-condition lastTransitionTime (Unix s) or -1. */
int64_t ctrl_pod_ready_since(const cJSON *pod);

/* ---- the controllers (one file each) ---- */

struct deployment_ctrl *deployment_ctrl_new(struct ctrl_ctx *c);
void deployment_ctrl_free(struct deployment_ctrl *d);
struct replicaset_ctrl *replicaset_ctrl_new(struct ctrl_ctx *c, bool rc_kind);
void replicaset_ctrl_free(struct replicaset_ctrl *r);
struct endpoints_ctrl *endpoints_ctrl_new(struct ctrl_ctx *c);
void endpoints_ctrl_free(struct endpoints_ctrl *e);
struct serviceaccount_ctrl *serviceaccount_ctrl_new(struct ctrl_ctx *c);
void serviceaccount_ctrl_free(struct serviceaccount_ctrl *s);
struct nodeipam_ctrl *nodeipam_ctrl_new(struct ctrl_ctx *c);
void nodeipam_ctrl_free(struct nodeipam_ctrl *n);
struct nodelifecycle_ctrl *nodelifecycle_ctrl_new(struct ctrl_ctx *c);
void nodelifecycle_ctrl_free(struct nodelifecycle_ctrl *n);

/* Handlers that enqueue the object's own key. */
void ctrl_enqueue_obj(struct workqueue *q, const cJSON *obj);

#endif
