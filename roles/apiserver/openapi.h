/* openapi.h - /openapi/v3 (root and one document per group-version) and /openapi/v2 (one JSON
 * document, for clients that accept JSON), generated once from the schema: a path per resource
 * operation (the PATCH operations declare the fieldValidation query parameter, which is how
 * kubectl 1.32 decides to validate on the server), and components.schemas for every named type
 * with descriptions, required lists, x-kubernetes-group-version-kind, x-kubernetes-patch-merge-key
 * / x-kubernetes-patch-strategy, list types and enums. Documents carry a content hash used in
 * the root's serverRelativeURL (?hash=) and as ETag. */
#ifndef KC_ROLES_APISERVER_OPENAPI_H
#define KC_ROLES_APISERVER_OPENAPI_H

#include <stddef.h>

#include "roles/apiserver/schema.h"

struct openapi;

/* Borrows s, which must outlive the result. Cheap: the documents are generated on their first
 * request (thread-safe), the v3 set together (the root names every document's hash). */
struct openapi *openapi_new(const struct schema *s);
void openapi_free(struct openapi *o);

/* path: "/openapi/v3", "/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1", "/openapi/v2" (a
 * query string or a trailing '/' is ignored). Returns the immutable JSON (valid until
 * openapi_free) and its ETag (quoted hash; len and etag may be NULL), or NULL. Thread-safe. */
const char *openapi_doc(const struct openapi *o, const char *path, size_t *len,
			const char **etag);

#endif
