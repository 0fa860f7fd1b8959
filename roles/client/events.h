/* events.h - a core/v1 Event recorder for control-plane components, as client-go's: an event
 * repeated for the same object, type, reason and message is aggregated into one Event whose
 * count and lastTimestamp grow (PATCH) instead of a new object per occurrence.
 *
 * Threads: belongs to its apiclient's loop. Recording never blocks; failures are logged. */
#ifndef KC_ROLES_CLIENT_EVENTS_H
#define KC_ROLES_CLIENT_EVENTS_H

#include <cJSON.h>

struct apiclient;
struct events;

/* Aggregation entries kept (older ones are forgotten: the next repeat creates a new Event). */
#define EVENTS_CACHE_MAX 4096

/* component: source.component / reportingComponent ("deployment-controller",
 * "default-scheduler"); host: source.host (may be NULL). Both copied. */
struct events *events_new(struct apiclient *c, const char *component, const char *host);
void events_free(struct events *e);

/* Records an event about obj (borrowed; its metadata name, namespace, uid and
 * resourceVersion are copied into involvedObject with the given kind and apiVersion). type is
 * "Normal" or "Warning"; the message is formatted. Events of cluster-scoped objects go to the
 * "default" namespace, as Kubernetes does. */
void events_record(struct events *e, const char *kind, const char *api_version, const cJSON *obj,
		   const char *type, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Events sent (created or patched), for tests. */
unsigned long events_sent(const struct events *e);

#endif
