/* gc.h - the API server's background loop over every stored object: garbage collection of
 * dependents by ownerReferences (Background and Foreground propagation, orphaning), namespace
 * termination (delete the content, then the namespace), and the RBAC view of auth. */
#ifndef KC_ROLES_APISERVER_GC_H
#define KC_ROLES_APISERVER_GC_H

#include <stdbool.h>

struct gc;
struct loop;
struct registry;
struct auth;

/* Starts on loop l (call on l's thread, or before l runs): lists /registry/ then watches it.
 * r and a (may be NULL) are borrowed and must outlive the gc. */
struct gc *gc_start(struct registry *r, struct auth *a, struct loop *l);
/* Cancels the store watcher; the gc frees itself once the store confirmed (l must keep running
 * until then: see gc_stopped). Call on l's thread. NULL is a no-op. */
void gc_stop(struct gc *g);
/* Whether a gc that was stopped has released everything (any thread). */
bool gc_stopped(void);

#endif
