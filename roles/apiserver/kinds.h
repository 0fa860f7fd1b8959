/* kinds.h - per-kind semantics the schema cannot express: defaulting beyond 'default=' values,
 * semantic validation (names, label syntax, container names unique, ports in range, quantities
 * exact, immutable fields on update), and what an update of the main resource vs the status
 * subresource may change (the "strategy" of each kind in Kubernetes terms).
 *
 * Called by the registry on create and update (PUT and the result of a PATCH), after
 * sch_check and sch_apply_defaults. All functions are pure: they touch only the objects given.
 * Cluster IP and NodePort allocation are done by the registry (they need the store); kinds only
 * checks the values. */
#ifndef KC_ROLES_APISERVER_KINDS_H
#define KC_ROLES_APISERVER_KINDS_H

#include <stdbool.h>

#include <cJSON.h>

#include "roles/apiserver/schema.h"
#include "roles/apiserver/status.h"

/* Defaults Kubernetes applies that go beyond static values (e.g. pod: dnsPolicy ClusterFirst,
 * restartPolicy Always, terminationGracePeriodSeconds 30, schedulerName default-scheduler,
 * imagePullPolicy Always for :latest or no tag else IfNotPresent, terminationMessagePath,
 * container ports protocol TCP, enableServiceLinks true, securityContext {}, service
 * sessionAffinity None, type ClusterIP, ports protocol TCP and targetPort = port;
 * deployment strategy RollingUpdate 25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds
 * 600, replicas 1; ...). obj is the whole object; subresource NULL for the main resource. */
void kinds_default(const struct api_resource *r, cJSON *obj);

/* Validates obj (old: the stored object on update, NULL on create). Adds causes to e and
 * returns the number of causes added (0 = valid). Name validation: DNS-1123 subdomain for most
 * kinds, DNS-1123 label for namespaces, services; label keys/values and annotation size;
 * required fields the schema marks are checked by sch_check, not here. On update: immutable
 * fields (pod spec except image/activeDeadlineSeconds/tolerations additions, service
 * clusterIP, selector of deployments/replicasets/statefulsets/daemonsets, ...). */
unsigned kinds_validate(const struct api_resource *r, const cJSON *obj, const cJSON *old,
			struct api_error *e);

/* Prepares an update (PUT/PATCH) of the main resource or of a subresource ("status"): copies
 * into obj the parts the request must not change from old (for the main resource: status of
 * kinds with a status subresource; for "status": everything but status; metadata fields the
 * server owns: uid, creationTimestamp, deletionTimestamp, generation, ...), and bumps
 * metadata.generation when spec (or for kinds without spec, the non-metadata, non-status
 * content) changed. */
void kinds_prepare_update(const struct api_resource *r, const char *subresource, cJSON *obj,
			  const cJSON *old);

/* Prepares a create: metadata.generation = 1; status cleared for kinds whose status is set by
 * controllers (Kubernetes drops status on create of pods? no: pods keep phase Pending set by
 * defaulting; deployments clear status). */
void kinds_prepare_create(const struct api_resource *r, cJSON *obj);

#endif
