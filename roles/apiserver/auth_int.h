/* auth_int.h - declarations shared by auth.c (authentication, tokens) and rbac.c (the RBAC
 * view and decisions); not for use outside roles/apiserver/auth*.c and rbac*.c. */
#ifndef KC_ROLES_APISERVER_AUTH_INT_H
#define KC_ROLES_APISERVER_AUTH_INT_H

#include <stdbool.h>

#include <cJSON.h>

#include "roles/apiserver/auth.h"

/* The RBAC view: roles, cluster roles (with aggregation resolved) and bindings indexed by
 * subject. Internally locked (read-write lock); every function may be called from any thread. */
struct rbac;

struct rbac *rbac_new(void);
/* NULL is a no-op. */
void rbac_free(struct rbac *r);
/* See auth_rbac_update. Objects without metadata.name (or namespace, for namespaced kinds)
 * and unknown resources are ignored. obj is borrowed. */
void rbac_update(struct rbac *r, const char *resource, const cJSON *obj, bool deleted);
/* See auth_authorize (system:masters is checked by the caller too, but also here). */
bool rbac_authorize(struct rbac *r, const struct auth_user *u, const struct authz_attrs *at);

#endif
