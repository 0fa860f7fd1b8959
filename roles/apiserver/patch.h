/* patch.h - the three Kubernetes patch types on cJSON trees:
 *   application/json-patch+json           RFC 6902 (add, remove, replace, move, copy, test)
 *   application/merge-patch+json          RFC 7386
 *   application/strategic-merge-patch+json  strategic merge patch, guided by the schema: lists
 *       with a merge key are merged by it; $patch: replace|merge|delete; $retainKeys;
 *       $setElementOrder/<field>; $deleteFromPrimitiveList/<field>; primitive lists with
 *       strategy merge are unioned; lists without a merge key are replaced; maps merge with null
 *       deleting a key.
 * Each applies the patch to *doc in place (it may replace the root) and never leaves a half
 * applied document: on error *doc is unchanged. Errors are -KC_EINVAL (bad patch: 400 in the
 * API, or 422 for a failed 'test') with err describing the operation and path. */
#ifndef KC_ROLES_APISERVER_PATCH_H
#define KC_ROLES_APISERVER_PATCH_H

#include <cJSON.h>

#include "lib/err.h"
#include "roles/apiserver/schema.h"

/* Limits: at most 10,000 operations, and each path at most 1024 bytes. A failed 'test' returns
 * -KC_ECONFLICT. */
int patch_json(cJSON **doc, const cJSON *ops, struct kc_err *err);
int patch_merge(cJSON **doc, const cJSON *patch, struct kc_err *err);
/* t: the schema type of *doc (e.g. the Pod struct); NULL degrades to merge-patch rules with the
 * directives still understood. */
int patch_strategic(cJSON **doc, const cJSON *patch, const struct sch_type *t,
		    struct kc_err *err);

#endif
