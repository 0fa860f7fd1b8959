/* DESIGN: an aggregation map from "uid|type|reason|message" to the Event that recorded it
 * (namespace, name, count). A repeat PATCHes count and lastTimestamp with a merge patch; a 404
 * on that patch (the Event expired or was deleted) creates a new one. The map is cleared when
 * it reaches EVENTS_CACHE_MAX. Loop thread only. */
#include "roles/client/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/str.h"
#include "net/loop.h"
#include "roles/client/apiclient.h"

struct events {
	struct apiclient *c;
	char *component;
	char *host;
	struct kc_map agg;  /* key -> struct agg */
	unsigned long sent;
	uint64_t seq;
};

struct agg {
	char ns[254];
	char name[320];
	long long count;
	char first[32];
};

/* A pending PATCH that may turn into a create. */
struct pend {
	struct events *e;
	cJSON *event;  /* the full Event to create if the patch finds none */
};

struct events *events_new(struct apiclient *c, const char *component, const char *host)
{
	struct events *e = xcalloc(1, sizeof *e);
	e->c = c;
	e->component = xstrdup(component);
	e->host = host ? xstrdup(host) : NULL;
	kc_map_init(&e->agg, free);
	return e;
}

void events_free(struct events *e)
{
	if (!e)
		return;
	kc_map_free(&e->agg);
	free(e->component);
	free(e->host);
	free(e);
}

unsigned long events_sent(const struct events *e)
{
	return e->sent;
}

static void on_created(void *arg, struct api_result *res)
{
	if (res->rc == -KC_ECLOSED)
		return;
	if (res->rc < 0 || res->status >= 300)
		log_debug("event not recorded status=%d err=%s", res->status, res->message);
}

static void create(struct events *e, const cJSON *ev)
{
	const char *ns = kc_json_get_str(ev, "metadata.namespace");
	char *path = xasprintf("/api/v1/namespaces/%s/events", ns);
	if (apiclient_request_json(e->c, "POST", path, ev, on_created, NULL) == 0)
		e->sent++;
	free(path);
}

static void on_patched(void *arg, struct api_result *res)
{
	struct pend *p = arg;
	if (res->rc != -KC_ECLOSED && res->status == 404)
		create(p->e, p->event);
	cJSON_Delete(p->event);
	free(p);
}

void events_record(struct events *e, const char *kind, const char *api_version, const cJSON *obj,
		   const char *type, const char *reason, const char *fmt, ...)
{
	if (apiclient_closing(e->c))
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const char *name = kc_json_get_str(obj, "metadata.name");
	const char *ns = kc_json_get_str(obj, "metadata.namespace");
	const char *uid = kc_json_get_str(obj, "metadata.uid");
	const char *rv = kc_json_get_str(obj, "metadata.resourceVersion");
	if (!name)
		return;
	const char *evns = ns && *ns ? ns : "default";
	struct loop *l = apiclient_loop(e->c);
	char now[32];
	apiclient_now_rfc3339(l, now, sizeof now);

	struct kc_str key = KC_STR_INIT;
	kc_str_addf(&key, "%s|%s|%s|%s|%s|%s", uid ? uid : "", kind, name, type, reason, msg);
	struct agg *a = kc_map_sget(&e->agg, key.buf);
	if (!a && e->agg.len >= EVENTS_CACHE_MAX) {
		kc_map_free(&e->agg);
		kc_map_init(&e->agg, free);
	}

	cJSON *ev = kc_json_new_object();
	kc_json_set_str(ev, "apiVersion", "v1");
	kc_json_set_str(ev, "kind", "Event");
	kc_json_set_str(ev, "metadata.namespace", evns);
	kc_json_set_str(ev, "involvedObject.kind", kind);
	kc_json_set_str(ev, "involvedObject.apiVersion", api_version);
	if (ns && *ns)
		kc_json_set_str(ev, "involvedObject.namespace", ns);
	kc_json_set_str(ev, "involvedObject.name", name);
	if (uid)
		kc_json_set_str(ev, "involvedObject.uid", uid);
	if (rv)
		kc_json_set_str(ev, "involvedObject.resourceVersion", rv);
	kc_json_set_str(ev, "reason", reason);
	kc_json_set_str(ev, "message", msg);
	kc_json_set_str(ev, "source.component", e->component);
	if (e->host)
		kc_json_set_str(ev, "source.host", e->host);
	kc_json_set_str(ev, "lastTimestamp", now);
	kc_json_set_str(ev, "type", type);
	kc_json_set_str(ev, "reportingComponent", e->component);
	kc_json_set_str(ev, "reportingInstance", e->host ? e->host : "");

	if (a) {
		a->count++;
		kc_json_set_str(ev, "metadata.name", a->name);
		kc_json_set_str(ev, "firstTimestamp", a->first);
		kc_json_set_i64(ev, "count", a->count);
		cJSON *patch = kc_json_new_object();
		kc_json_set_i64(patch, "count", a->count);
		kc_json_set_str(patch, "lastTimestamp", now);
		char *body = kc_json_print(patch, NULL);
		cJSON_Delete(patch);
		char *path = xasprintf("/api/v1/namespaces/%s/events/%s", a->ns, a->name);
		struct pend *p = xcalloc(1, sizeof *p);
		p->e = e;
		p->event = ev;
		if (apiclient_request(e->c, "PATCH", path, "application/merge-patch+json", body,
				      strlen(body), on_patched, p) == 0) {
			e->sent++;
		} else {
			cJSON_Delete(ev);
			free(p);
		}
		free(path);
		free(body);
		kc_str_free(&key);
		return;
	}
	a = xcalloc(1, sizeof *a);
	snprintf(a->ns, sizeof a->ns, "%s", evns);
	struct kc_clock *ck = loop_clock(l);
	/* client-go names events "<object>.<UnixNano in hex>"; seq keeps two events recorded in
	 * the same nanosecond apart. */
	snprintf(a->name, sizeof a->name, "%.240s.%llx", name,
		 (unsigned long long)(ck->wall_ns(ck) + e->seq++));
	a->count = 1;
	snprintf(a->first, sizeof a->first, "%s", now);
	kc_map_sput(&e->agg, key.buf, a);
	kc_json_set_str(ev, "metadata.name", a->name);
	kc_json_set_str(ev, "firstTimestamp", now);
	kc_json_set_i64(ev, "count", 1);
	create(e, ev);
	cJSON_Delete(ev);
	kc_str_free(&key);
}
