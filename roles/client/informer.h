/* informer.h - list+watch of one resource into a local cache, as client-go's shared informer:
 * a paged LIST, then a WATCH from its resourceVersion with bookmarks; a new watch after a
 * clean end; a re-list (diffed against the cache) after 410 Gone; back-off on errors; periodic
 * resync; add/update/delete handlers; secondary indexes (by namespace, owner, node...).
 *
 * Memory: objects are cached as cJSON trees after an optional transform that prunes what no
 * consumer reads (managedFields, the last-applied annotation, container env/probes...), so 30,000
 * pods stay within a few hundred bytes to a few KB each (see docs/benchmarks.md).
 *
 * Threads: an informer belongs to its apiclient's loop; everything runs on that thread.
 * Objects handed out are borrowed: valid until the next return to the loop. */
#ifndef KC_ROLES_CLIENT_INFORMER_H
#define KC_ROLES_CLIENT_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

struct apiclient;
struct informer;
struct kc_map;

#define INFORMER_MAX_HANDLERS 16
#define INFORMER_MAX_INDEXES 4
#define INFORMER_MAX_INDEX_VALUES 8

/* Modifies obj in place before it is cached and handed to handlers (drop what nobody reads). */
typedef void (*informer_transform_fn)(cJSON *obj);
/* Fills vals (up to INFORMER_MAX_INDEX_VALUES strings borrowed from obj) with the index values
 * of obj; returns how many. */
typedef size_t (*informer_index_fn)(const cJSON *obj, const char **vals);

struct informer_config {
	const char *name;            /* for logs: "pods" */
	const char *path;            /* collection path: "/api/v1/pods",
				      * "/apis/apps/v1/deployments", "/api/v1/namespaces/x/pods" */
	const char *label_selector;  /* optional */
	const char *field_selector;  /* optional: "spec.nodeName=n1" */
	uint32_t resync_ms;          /* 0: never */
	uint32_t page_size;          /* LIST limit; 0: 500 */
	informer_transform_fn transform;
};

/* Handlers run in event order. old and obj are borrowed. On delete, obj is the last state known
 * (after a re-list it may be older than the real final state, as client-go's
 * DeletedFinalStateUnknown). A resync calls on_update with old == obj. */
struct informer_handlers {
	void (*on_add)(void *arg, const cJSON *obj);
	void (*on_update)(void *arg, const cJSON *old, const cJSON *obj);
	void (*on_delete)(void *arg, const cJSON *obj);
	void *arg;
};

/* The config is copied. The informer does nothing before informer_start. */
struct informer *informer_new(struct apiclient *c, const struct informer_config *cfg);
/* Stops the watch and frees the cache. NULL is a no-op. */
void informer_free(struct informer *inf);

/* Up to INFORMER_MAX_HANDLERS; before or after start (objects already cached are then
 * replayed to on_add, as client-go does). */
void informer_add_handlers(struct informer *inf, const struct informer_handlers *h);
/* Adds a secondary index; before start only. Returns its id (0..INFORMER_MAX_INDEXES-1). */
int informer_add_index(struct informer *inf, informer_index_fn fn);
void informer_start(struct informer *inf);

/* Whether the first LIST has been applied. */
bool informer_synced(const struct informer *inf);
/* The last resourceVersion seen ("" before the first LIST). */
const char *informer_rv(const struct informer *inf);

/* Cache lookups. ns is NULL or "" for cluster-scoped objects. Borrowed results. */
const cJSON *informer_get(const struct informer *inf, const char *ns, const char *name);
const cJSON *informer_get_key(const struct informer *inf, const char *key);
size_t informer_len(const struct informer *inf);
/* Iteration over all cached objects: *pos = 0 first; false at the end. No changes to the cache
 * happen during an iteration (the loop does not run). */
bool informer_next(const struct informer *inf, size_t *pos, const cJSON **obj);
/* The set of objects whose index 'id' has 'value' (a map key -> const cJSON *), or NULL when
 * empty. Iterate with kc_map_next. */
const struct kc_map *informer_index(const struct informer *inf, int id, const char *value);

/* Counters for tests and metrics. */
struct informer_stats {
	uint64_t lists;     /* LIST sequences completed */
	uint64_t watches;   /* WATCH requests started */
	uint64_t events;    /* watch events applied */
	uint64_t relists_410;
};
void informer_get_stats(const struct informer *inf, struct informer_stats *out);

/* The cache key of obj: "namespace/name" or "name". Writes into buf (>= 512 bytes). */
const char *informer_key(const cJSON *obj, char *buf, size_t cap);

/* Common index functions. */
size_t informer_index_namespace(const cJSON *obj, const char **vals);
/* metadata.ownerReferences[controller=true].uid */
size_t informer_index_controller_uid(const cJSON *obj, const char **vals);
/* spec.nodeName (pods) */
size_t informer_index_node_name(const cJSON *obj, const char **vals);

/* Transform for pods shared by the controllers and the scheduler: drops managedFields, the
 * last-applied annotation, and container fields no control-plane component reads (env,
 * command, args, probes, volumeMounts, securityContext, lifecycle). */
void informer_prune_pod(cJSON *pod);
/* Drops managedFields and the last-applied annotation. */
void informer_prune_meta(cJSON *obj);

#endif
