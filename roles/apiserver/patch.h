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
 * -KC_ECONFLICT. More than 10,000 operations, or 'copy' operations creating more than 2^20
 * values in all, return -KC_ETOOBIG (413 in the API, as Kubernetes answers too many
 * operations); an operation that would nest the document deeper than KC_JSON_DEPTH_CAP is
 * -KC_EINVAL. The err message names the operation: 'json patch operation 2 (add "/a/9"): ...'. */
int patch_json(cJSON **doc, const cJSON *ops, struct kc_err *err);
/* A non-object patch replaces the whole document (RFC 7386); the caller rejects results that
 * are not objects. Fails only (-KC_EINVAL) on a patch nested deeper than KC_JSON_DEPTH_CAP. */
int patch_merge(cJSON **doc, const cJSON *patch, struct kc_err *err);
/* t: the schema type of *doc (e.g. the Pod struct); NULL degrades to merge-patch rules with the
 * directives still understood. Both *doc and patch must be objects. As in Kubernetes,
 * "$patch": "delete" on a map leaves it empty ({}), "$patch": "merge" is rejected, and merged
 * lists are ordered by $setElementOrder, else by the patch, with server-only items kept where
 * they were. err names the place: 'spec.containers[1]: does not contain declared merge key'. */
int patch_strategic(cJSON **doc, const cJSON *patch, const struct sch_type *t,
		    struct kc_err *err);

#endif
