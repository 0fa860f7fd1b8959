/* registry.h - the generic Kubernetes storage layer on kc's store: objects of every resource as
 * compact JSON at /registry/<prefix>/[<namespace>/]<name>, resourceVersion = the store's
 * mod_revision, create/get/list/update/delete with Kubernetes semantics (preconditions,
 * graceful deletion, finalizers, propagation finalizers, generateName, uid, timestamps,
 * Service ClusterIP and NodePort allocation).
 *
 * Threads: one registry is shared by every API loop thread. Every operation is asynchronous:
 * it is issued on a loop thread ('l', the loop the caller runs on, e.g. http_req_loop(req)) and
 * its callback runs later on that same loop, never inside the issuing call. The registry holds
 * no mutable state besides atomic counters, so calls from different threads never contend.
 *
 * Storage format: the value is the object as compact JSON with apiVersion, kind and metadata
 * first and without metadata.resourceVersion; registry_splice_rv() writes it out with the
 * resourceVersion added, without parsing, so GET and plain LIST copy raw bytes. */
#ifndef KC_ROLES_APISERVER_REGISTRY_H
#define KC_ROLES_APISERVER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/str.h"
#include "net/addr.h"
#include "roles/apiserver/schema.h"
#include "roles/apiserver/selector.h"
#include "roles/apiserver/status.h"
#include "store/mvcc.h"

struct loop;
struct kv;
struct registry;

#define REG_KEY_MAX 1024
#define REG_NAME_MAX 253

struct registry_config {
	const struct kv *store;            /* borrowed; must outlive the registry */
	const struct schema *schema;       /* borrowed; NULL: no namespace cascade (tests) */
	const struct net_cidr *service_cidr; /* NULL: 10.43.0.0/16 */
	uint16_t node_port_min, node_port_max; /* 0: 30000-32767 */
	struct kc_rand *rand;              /* NULL: the real source */
	struct kc_clock *clock;            /* NULL: the real clock */
};

/* Returns 0 with *out (free with registry_free), or a negative code with err. */
int registry_new(const struct registry_config *cfg, struct registry **out, struct kc_err *err);
/* NULL is a no-op. Every operation must have completed. */
void registry_free(struct registry *r);

const struct kv *registry_store(const struct registry *r);
const struct schema *registry_schema(const struct registry *r);
/* Store requests issued and not yet completed (for a clean stop). Any thread. */
unsigned long registry_outstanding(struct registry *r);

/* The storage key of an object ("/registry/pods/default/web") or, with name NULL, the prefix of
 * a collection ending in '/' ("/registry/pods/default/", "/registry/pods/" for all namespaces).
 * Returns the length, or -KC_ELIMIT when it does not fit in cap (REG_KEY_MAX is enough for
 * validated names). */
int registry_key(const struct api_resource *res, const char *ns, const char *name, char *buf,
		 size_t cap);

/* Whether s is acceptable as a name or namespace in a key (non-empty, <= 253 bytes, no '/',
 * no '%', not "." or ".."); finer syntax is kinds_validate's. */
bool registry_name_ok(const char *s);

/* Appends the stored value raw[0..len) with "resourceVersion":"<rv>" added to its metadata.
 * Values not written by the registry (no top-level metadata object) are appended unchanged. */
void registry_splice_rv(struct kc_str *out, const void *raw, size_t len, int64_t rv);

/* Maps a store error code to a Status (503 without quorum, 504 timeout, 413 too large, 410
 * compacted, 500 otherwise). */
void registry_store_error(struct api_error *e, int rc, const char *msg);

/* ---- single objects ---------------------------------------------------------------------- */

/* Result of a write: obj is the object as stored, with metadata.resourceVersion set. It is
 * borrowed for the callback; the callback may take it (set res->obj = NULL). */
struct reg_result {
	cJSON *obj;
	int64_t rv;
	bool deleted;  /* delete: the object is gone; false: its deletion is pending (graceful,
			* finalizers) and obj is the updated object */
};
/* e is NULL on success, else res is NULL. */
typedef void (*reg_obj_cb)(void *arg, struct reg_result *res, const struct api_error *e);

/* kv: borrowed raw value with mod_revision (see registry_splice_rv). */
typedef void (*reg_raw_cb)(void *arg, const struct mvcc_kv *kv, const struct api_error *e);

/* Reads one object (404 NotFound Status when absent). linearizable: a quorum read (GET without
 * resourceVersion); else any recent state. */
void registry_get(struct registry *r, struct loop *l, const struct api_resource *res,
		  const char *ns, const char *name, bool linearizable, reg_raw_cb cb, void *arg);

struct reg_write_opts {
	bool dry_run;           /* validate and build the result, store nothing */
	bool skip_validation;   /* internal writers (bindings, GC): no kinds_validate */
};

/* Creates obj (takes ownership) in ns ("" for cluster-scoped resources): defaults, validation,
 * uid, creationTimestamp, generation, generateName, ClusterIP/NodePort allocation; 404 when the
 * namespace does not exist, 403 when it is terminating, 409 AlreadyExists. */
void registry_create(struct registry *r, struct loop *l, const struct api_resource *res,
		     const char *ns, cJSON *obj, const struct reg_write_opts *o, reg_obj_cb cb,
		     void *arg);

/* Read-modify-write ("guaranteed update"): fn receives a copy of the stored object without
 * metadata.resourceVersion in *obj and changes or replaces it (it owns *obj; on error it
 * returns -1 with e filled, or leaves a valid tree). When the result carries
 * metadata.resourceVersion, it is a precondition (409 Conflict if stale); otherwise a
 * concurrent write makes the registry read again and call fn again (at most a few times).
 * sub: NULL for the main resource, "status" for the status subresource (only status changes),
 * anything else is treated as the main resource. An update that leaves a deleting object
 * without finalizers deletes it. fn runs on l's thread. */
typedef int (*reg_mutate_fn)(void *fnarg, cJSON **obj, struct api_error *e);
void registry_update(struct registry *r, struct loop *l, const struct api_resource *res,
		     const char *sub, const char *ns, const char *name, reg_mutate_fn fn,
		     void *fnarg, const struct reg_write_opts *o, reg_obj_cb cb, void *arg);

enum reg_propagation {
	REG_PROPAGATE_DEFAULT = 0,  /* Background */
	REG_PROPAGATE_BACKGROUND,
	REG_PROPAGATE_FOREGROUND,
	REG_PROPAGATE_ORPHAN,
};

struct reg_delete_opts {
	bool dry_run;
	int64_t grace_seconds;          /* < 0: the object's default (pods: terminationGracePeriod) */
	enum reg_propagation propagation;
	const char *precondition_uid;   /* NULL or "": none */
	const char *precondition_rv;    /* NULL or "": none */
};

/* Deletes: at once, or by setting deletionTimestamp when the object has finalizers (or gets
 * the orphan / foregroundDeletion one), when it is a pod bound to a node with a grace period,
 * or a namespace (whose content the GC removes). */
void registry_delete(struct registry *r, struct loop *l, const struct api_resource *res,
		     const char *ns, const char *name, const struct reg_delete_opts *o,
		     reg_obj_cb cb, void *arg);

/* ---- lists ------------------------------------------------------------------------------- */

enum reg_rv_match {
	REG_RV_UNSET = 0,      /* no resourceVersion: most recent, quorum read */
	REG_RV_ANY,            /* "0": any state */
	REG_RV_NOT_OLDER,      /* at least rv */
	REG_RV_EXACT,          /* exactly rv */
};

struct reg_list_opts {
	const char *ns;                       /* NULL or "": every namespace */
	const struct label_selector *labels;  /* borrowed; NULL matches everything */
	const struct field_selector *fields;
	int64_t limit;                        /* <= 0: no limit */
	const char *continue_token;           /* NULL or "": from the start */
	enum reg_rv_match match;
	int64_t rv;
	bool parse;                           /* fill items[].obj for every item */
};

struct reg_item {
	struct mvcc_kv kv;   /* raw value, mod_revision */
	cJSON *obj;          /* parsed (with resourceVersion set) when a selector or 'parse' needed
			      * it; else NULL */
};

struct reg_list {
	struct reg_item *items;
	size_t n;
	int64_t revision;     /* the list's resourceVersion */
	char *cont;           /* continue token when more items remain, else NULL */
	int64_t remaining;    /* remainingItemCount, -1 when unknown (selectors) */
};
/* list is borrowed for the callback (e NULL), or NULL with e set. 410 Expired for a continue
 * token whose revision was compacted; 400 for a malformed token. */
typedef void (*reg_list_cb)(void *arg, struct reg_list *list, const struct api_error *e);
void registry_list(struct registry *r, struct loop *l, const struct api_resource *res,
		   const struct reg_list_opts *o, reg_list_cb cb, void *arg);

/* A list delivered in pages, so that neither the items nor the response of a large list are
 * ever held whole, and the loop serves other requests between pages. Every page is read at the
 * one revision of the list (page->revision, the same on every page), so the pages together are
 * exactly the snapshot registry_list would return, items and metadata alike: page->cont and
 * page->remaining are final on the first page. Without a limit, one keys-only read first fixes
 * the revision and every 'page_items'-th key (the keys are not kept); each page then holds the
 * matching items among the next 'page_items' stored keys (a filtered page with no match is not
 * delivered unless it is the last). With a limit the items (at most 'limit') are collected
 * first, then delivered 'page_items' at a time.
 *
 * cb runs on l's thread, never inside the issuing call, with page borrowed for the call (its
 * items are freed after it returns). After a page with last == false the caller continues
 * with exactly one of registry_list_stream_next or registry_list_stream_cancel, from inside
 * cb or later on the same thread. An error (e set, page NULL) ends the stream, possibly after
 * some pages (e.g. the list's revision was compacted meanwhile); the stream is then gone. */
struct reg_list_stream;
typedef void (*reg_page_cb)(void *arg, struct reg_list_stream *s, struct reg_list *page, bool last,
			    const struct api_error *e);
void registry_list_stream(struct registry *r, struct loop *l, const struct api_resource *res,
			  const struct reg_list_opts *o, size_t page_items, reg_page_cb cb,
			  void *arg);
void registry_list_stream_next(struct reg_list_stream *s);
void registry_list_stream_cancel(struct reg_list_stream *s);

/* Whether a stored object (parsed) matches the selectors (NULL selectors match). */
bool registry_matches(const cJSON *obj, const struct label_selector *ls,
		      const struct field_selector *fs);

/* Parses a stored value and sets metadata.resourceVersion to rv. NULL when it does not parse. */
cJSON *registry_parse(const void *raw, size_t len, int64_t rv);

/* ---- start-up ---------------------------------------------------------------------------- */

/* Creates what a cluster needs when absent, waiting for the store (runs a private loop on the
 * calling thread; at most timeout_ms): namespaces default, kube-system, kube-public,
 * kube-node-lease; the objects in 'extra' (a cJSON array of complete objects, e.g.
 * auth_bootstrap_objects(); borrowed, may be NULL); the "kubernetes" Service in default with
 * the first service IP (port 443 -> api_port) and its Endpoints at advertise:api_port.
 * Returns 0 or a negative code with err. */
int registry_bootstrap(struct registry *r, const cJSON *extra, const char *advertise,
		       uint16_t api_port, unsigned timeout_ms, struct kc_err *err);

/* Formats unix seconds as RFC 3339 UTC ("2025-01-01T00:00:00Z"); buf >= 32 bytes. */
char *registry_time(int64_t unix_s, char *buf, size_t cap);
int64_t registry_now(const struct registry *r);

#endif
