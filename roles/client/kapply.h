/* kapply.h - kubectl's client-side apply: the last-applied-configuration annotation and the
 * three-way strategic merge patch (original = last applied, modified = the new manifest,
 * current = the live object) that kubectl sends as PATCH application/strategic-merge-patch+json
 * (or a merge patch for types the schema does not know). */
#ifndef KC_ROLES_CLIENT_KAPPLY_H
#define KC_ROLES_CLIENT_KAPPLY_H

#include <stdbool.h>

#include <cJSON.h>

#include "roles/apiserver/schema.h"

#define KAPPLY_ANNOTATION "kubectl.kubernetes.io/last-applied-configuration"

/* Sets the annotation on obj to obj's own JSON (sorted keys, without the annotation itself,
 * followed by "\n") as kubectl does. */
void kapply_annotate(cJSON *obj);

/* The patch that turns current into modified, also deleting what original had and modified
 * dropped. t: the kind's schema type (NULL: JSON merge patch rules, lists replaced). Returns
 * a new object (possibly empty: nothing to change). */
cJSON *kapply_three_way(const cJSON *original, const cJSON *modified, const cJSON *current,
			const struct sch_type *t);

#endif
