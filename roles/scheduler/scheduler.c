/* DESIGN: one thread, one loop. Two informers: nodes (each mirrored into a struct sched_node)
 * and pods (pruned). Every pod bound to a node is accounted on it (struct acct per pod key, so
 * an update or delete removes exactly what was added). Unscheduled pods of schedulerName
 * default-scheduler wait in a FIFO (deduplicated by key). A zero-delay timer schedules up to
 * BATCH pods per loop iteration while fewer than MAX_INFLIGHT bindings are outstanding: filter
 * every node, score the feasible ones, pick the best (ties rotate), "assume" the pod on the node
 * (account it at once, so the next pod sees the space taken) and POST the Binding. A failed
 * binding forgets the assumption and retries the pod with back-off. An unschedulable pod gets a
 * FailedScheduling event and a PodScheduled=False condition and waits until a node changes
 * (or 60 s). Loop thread only. */
#include "roles/scheduler/scheduler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/x509.h"
#include "net/loop.h"
#include "roles/client/apiclient.h"
#include "roles/client/events.h"
#include "roles/client/informer.h"
#include "roles/scheduler/sched_filter.h"

#define BATCH 64
#define MAX_INFLIGHT 256
#define UNSCHED_RETRY_MS 60000

struct acct {
	char node[254];
	struct sched_pod p;  /* p.pod is not kept: only the numbers are used */
	bool assumed;        /* placed by us, binding not yet observed */
};

struct qitem {
	struct kc_list link;
	char key[];
};

struct scheduler {
	pthread_t thread;
	struct loop *loop;
	struct apiclient *api;
	struct events *ev;
	struct informer *pods, *nodes;
	struct kc_map nodemap;   /* name -> struct sched_node */
	struct sched_node **nodes_arr;
	size_t nnodes, nodes_cap;
	bool nodes_dirty;
	struct kc_map accts;     /* pod key -> struct acct */
	struct kc_list fifo;
	struct kc_map queued;    /* pod key -> struct qitem */
	struct kc_map unsched;   /* pod key -> (void*)1: waiting for a node change */
	struct kc_map backoff;   /* pod key -> attempts (uintptr_t) */
	struct loop_timer kick;
	struct loop_timer retry_unsched;
	unsigned inflight;
	uint64_t rr;
	struct kc_cert *ca, *cert;
	struct kc_key *key;
	char *token;
	char *server;
	uint64_t scheduled;
};

struct bind_ctx {
	struct scheduler *s;
	char key[512];
	char node[254];
};

static void kick(struct scheduler *s)
{
	if (!loop_timer_active(&s->kick) && !kc_list_empty(&s->fifo) && s->inflight < MAX_INFLIGHT)
		loop_timer_start(s->loop, &s->kick, 0);
}

static void enqueue(struct scheduler *s, const char *key)
{
	if (kc_map_sget(&s->queued, key))
		return;
	kc_map_sdel(&s->unsched, key);
	size_t n = strlen(key);
	struct qitem *q = xmalloc(sizeof *q + n + 1);
	memcpy(q->key, key, n + 1);
	kc_list_init(&q->link);
	kc_list_push_back(&s->fifo, &q->link);
	kc_map_sput(&s->queued, key, q);
	kick(s);
}

static bool wants_scheduling(const cJSON *pod)
{
	if (*(kc_json_get_str(pod, "spec.nodeName") ? kc_json_get_str(pod, "spec.nodeName") : ""))
		return false;
	const char *sn = kc_json_get_str(pod, "spec.schedulerName");
	if (sn && strcmp(sn, "default-scheduler"))
		return false;
	if (kc_json_get_str(pod, "metadata.deletionTimestamp"))
		return false;
	const char *ph = kc_json_get_str(pod, "status.phase");
	return !(ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed")));
}

/* ---- node mirror ---- */

static void rebuild_array(struct scheduler *s)
{
	if (!s->nodes_dirty)
		return;
	s->nnodes = 0;
	size_t pos = 0;
	void *v;
	while (kc_map_next(&s->nodemap, &pos, NULL, NULL, &v)) {
		if (s->nnodes == s->nodes_cap) {
			s->nodes_cap = kc_grow_cap(s->nodes_cap, s->nnodes + 1, sizeof *s->nodes_arr);
			s->nodes_arr = xrealloc(s->nodes_arr, s->nodes_cap * sizeof *s->nodes_arr);
		}
		s->nodes_arr[s->nnodes++] = v;
	}
	s->nodes_dirty = false;
}

static void free_node(void *v)
{
	sched_node_free(v);
	free(v);
}

static void requeue_unschedulable(struct scheduler *s)
{
	size_t pos = 0;
	const void *k;
	size_t klen;
	size_t n = s->unsched.len;
	if (n == 0)
		return;
	char **keys = xcalloc(n, sizeof *keys);
	size_t i = 0;
	while (i < n && kc_map_next(&s->unsched, &pos, &k, &klen, NULL))
		keys[i++] = xstrndup(k, klen);
	for (size_t j = 0; j < i; j++) {
		enqueue(s, keys[j]);
		free(keys[j]);
	}
	free(keys);
}

static void node_add(void *arg, const cJSON *obj)
{
	struct scheduler *s = arg;
	const char *name = kc_json_get_str(obj, "metadata.name");
	if (!name)
		return;
	struct sched_node *n = kc_map_sget(&s->nodemap, name);
	if (n) {
		sched_node_set(n, obj, true);
	} else {
		n = xcalloc(1, sizeof *n);
		kc_map_init(&n->ports, NULL);
		kc_map_init(&n->owners, NULL);
		sched_node_set(n, obj, false);
		kc_map_sput(&s->nodemap, name, n);
		s->nodes_dirty = true;
		/* Pods already bound there (seen before their node) are accounted now. */
		size_t pos = 0;
		void *v;
		while (kc_map_next(&s->accts, &pos, NULL, NULL, &v)) {
			struct acct *a = v;
			if (!strcmp(a->node, name))
				sched_node_account(n, &a->p, 1);
		}
	}
	requeue_unschedulable(s);
}

static void node_update(void *arg, const cJSON *old, const cJSON *obj)
{
	if (old == obj)
		return;
	node_add(arg, obj);
}

static void node_delete(void *arg, const cJSON *obj)
{
	struct scheduler *s = arg;
	const char *name = kc_json_get_str(obj, "metadata.name");
	if (name && kc_map_sdel(&s->nodemap, name))
		s->nodes_dirty = true;
}

/* ---- pod accounting ---- */

static void unaccount(struct scheduler *s, const char *key)
{
	struct acct *a = kc_map_take(&s->accts, key, strlen(key));
	if (!a)
		return;
	struct sched_node *n = kc_map_sget(&s->nodemap, a->node);
	if (n)
		sched_node_account(n, &a->p, -1);
	free(a);
}

static void account(struct scheduler *s, const char *key, const cJSON *pod, const char *node,
		    bool assumed)
{
	unaccount(s, key);
	struct acct *a = xcalloc(1, sizeof *a);
	snprintf(a->node, sizeof a->node, "%s", node);
	sched_pod_init(&a->p, pod);
	a->p.pod = NULL;
	a->assumed = assumed;
	kc_map_sput(&s->accts, key, a);
	struct sched_node *n = kc_map_sget(&s->nodemap, node);
	if (n)
		sched_node_account(n, &a->p, 1);
}

static bool terminal(const cJSON *pod)
{
	const char *ph = kc_json_get_str(pod, "status.phase");
	return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}

static void pod_add(void *arg, const cJSON *pod)
{
	struct scheduler *s = arg;
	char key[512];
	informer_key(pod, key, sizeof key);
	const char *node = kc_json_get_str(pod, "spec.nodeName");
	if (node && *node) {
		if (terminal(pod)) {
			unaccount(s, key);
			return;
		}
		struct acct *a = kc_map_sget(&s->accts, key);
		if (!a || strcmp(a->node, node) || a->assumed)
			account(s, key, pod, node, false);
		return;
	}
	if (wants_scheduling(pod))
		enqueue(s, key);
}

static void pod_update(void *arg, const cJSON *old, const cJSON *pod)
{
	if (old == pod)
		return;
	pod_add(arg, pod);
}

static void pod_delete(void *arg, const cJSON *pod)
{
	struct scheduler *s = arg;
	char key[512];
	informer_key(pod, key, sizeof key);
	unaccount(s, key);
	kc_map_sdel(&s->unsched, key);
	kc_map_sdel(&s->backoff, key);
	/* Space freed on a node may fit a waiting pod. */
	requeue_unschedulable(s);
}

/* ---- binding ---- */

static void on_bound(void *arg, struct api_result *res)
{
	struct bind_ctx *b = arg;
	struct scheduler *s = b->s;
	if (res->rc == -KC_ECLOSED) {
		free(b);
		return;
	}
	s->inflight--;
	const cJSON *pod = informer_get_key(s->pods, b->key);
	if (res->rc == 0 && res->status < 300) {
		s->scheduled++;
		kc_map_sdel(&s->backoff, b->key);
		if (pod)
			events_record(s->ev, "Pod", "v1", pod, "Normal", "Scheduled",
				      "Successfully assigned %s to %s", b->key, b->node);
	} else {
		log_info("binding failed pod=%s node=%s status=%d err=%s", b->key, b->node,
			 res->status, res->message);
		struct acct *a = kc_map_sget(&s->accts, b->key);
		if (a && a->assumed)
			unaccount(s, b->key);
		if (pod && wants_scheduling(pod)) {
			uintptr_t n = (uintptr_t)kc_map_sget(&s->backoff, b->key) + 1;
			kc_map_sput(&s->backoff, b->key, (void *)n);
			kc_map_sput(&s->unsched, b->key, (void *)1);
			uint64_t d = 1000u << (n > 4 ? 4 : n - 1);
			loop_timer_start(s->loop, &s->retry_unsched, d > 10000 ? 10000 : d);
		}
	}
	free(b);
	kick(s);
}

static void mark_unschedulable(struct scheduler *s, const cJSON *pod, const char *key,
			       const char *msg)
{
	events_record(s->ev, "Pod", "v1", pod, "Warning", "FailedScheduling", "%s", msg);
	const cJSON *c = NULL;
	cJSON *it;
	cJSON_ArrayForEach(it, kc_json_get(pod, "status.conditions"))
	{
		const char *t = kc_json_get_str(it, "type");
		if (t && !strcmp(t, "PodScheduled"))
			c = it;
	}
	const char *cm = c ? kc_json_get_str(c, "message") : NULL;
	if (!cm || strcmp(cm, msg)) {
		log_info("pod unschedulable pod=%s reason=%s", key, msg);
		char now[32];
		apiclient_now_rfc3339(s->loop, now, sizeof now);
		cJSON *p = kc_json_new_object();
		cJSON *conds = kc_json_new_array();
		cJSON *cond = kc_json_new_object();
		kc_json_set_str(cond, "type", "PodScheduled");
		kc_json_set_str(cond, "status", "False");
		kc_json_set_str(cond, "reason", "Unschedulable");
		kc_json_set_str(cond, "message", msg);
		kc_json_set_str(cond, "lastTransitionTime", now);
		cJSON_AddItemToArray(conds, cond);
		kc_json_set(p, "status.conditions", conds);
		char *body = kc_json_print(p, NULL);
		cJSON_Delete(p);
		char *path = xasprintf("/api/v1/namespaces/%s/pods/%s/status",
				       kc_json_get_str(pod, "metadata.namespace"),
				       kc_json_get_str(pod, "metadata.name"));
		apiclient_request(s->api, "PATCH", path, "application/strategic-merge-patch+json",
				  body, strlen(body), NULL, NULL);
		free(path);
		free(body);
	}
	kc_map_sput(&s->unsched, key, (void *)1);
	if (!loop_timer_active(&s->retry_unsched))
		loop_timer_start(s->loop, &s->retry_unsched, UNSCHED_RETRY_MS);
}

static void schedule_one(struct scheduler *s, const char *key)
{
	const cJSON *pod = informer_get_key(s->pods, key);
	if (!pod || !wants_scheduling(pod) || kc_map_sget(&s->accts, key))
		return;
	rebuild_array(s);
	struct sched_pod p;
	sched_pod_init(&p, pod);
	size_t n = s->nnodes;
	if (n == 0) {
		mark_unschedulable(s, pod, key, "no nodes available to schedule pods");
		return;
	}
	unsigned *fails = xcalloc(n, sizeof *fails);
	int64_t max_owner = 0;
	size_t feasible = 0;
	for (size_t i = 0; i < n; i++) {
		fails[i] = sched_filter(&p, s->nodes_arr[i], NULL, 0);
		if (fails[i])
			continue;
		feasible++;
		int64_t oc = sched_owner_count(&p, s->nodes_arr[i]);
		if (oc > max_owner)
			max_owner = oc;
	}
	if (feasible == 0) {
		char (*taints)[300] = xcalloc(n, sizeof *taints);
		for (size_t i = 0; i < n; i++)
			if (fails[i] & SCHED_F_TAINT)
				sched_filter(&p, s->nodes_arr[i], taints[i], sizeof taints[i]);
		char msg[2048];
		sched_fail_message(n, fails, taints, msg, sizeof msg);
		free(taints);
		free(fails);
		mark_unschedulable(s, pod, key, msg);
		return;
	}
	int64_t best = -1;
	size_t best_i = 0, ties = 0;
	s->rr++;
	for (size_t i = 0; i < n; i++) {
		if (fails[i])
			continue;
		int64_t sc = sched_score(&p, s->nodes_arr[i], max_owner);
		if (sc > best) {
			best = sc;
			best_i = i;
			ties = 1;
		} else if (sc == best) {
			/* Reservoir choice among equal scores, deterministic from rr. */
			ties++;
			if ((s->rr * 2654435761u + i) % ties == 0)
				best_i = i;
		}
	}
	free(fails);
	const char *node = s->nodes_arr[best_i]->name;
	account(s, key, pod, node, true);
	cJSON *b = kc_json_new_object();
	kc_json_set_str(b, "apiVersion", "v1");
	kc_json_set_str(b, "kind", "Binding");
	kc_json_set_str(b, "metadata.name", kc_json_get_str(pod, "metadata.name"));
	kc_json_set_str(b, "metadata.namespace", kc_json_get_str(pod, "metadata.namespace"));
	const char *uid = kc_json_get_str(pod, "metadata.uid");
	if (uid)
		kc_json_set_str(b, "metadata.uid", uid);
	kc_json_set_str(b, "target.apiVersion", "v1");
	kc_json_set_str(b, "target.kind", "Node");
	kc_json_set_str(b, "target.name", node);
	/* The namespaced "bindings" collection is the same operation as pods/<name>/binding
	 * (the pod is named in the body). */
	char *path = xasprintf("/api/v1/namespaces/%s/bindings",
			       kc_json_get_str(pod, "metadata.namespace"));
	struct bind_ctx *bc = xcalloc(1, sizeof *bc);
	bc->s = s;
	snprintf(bc->key, sizeof bc->key, "%s", key);
	snprintf(bc->node, sizeof bc->node, "%s", node);
	if (apiclient_request_json(s->api, "POST", path, b, on_bound, bc) == 0) {
		s->inflight++;
	} else {
		unaccount(s, key);
		free(bc);
	}
	free(path);
	cJSON_Delete(b);
}

static void on_kick(struct loop *l, struct loop_timer *t)
{
	struct scheduler *s = t->data;
	if (!informer_synced(s->nodes) || !informer_synced(s->pods)) {
		loop_timer_start(l, &s->kick, 100);
		return;
	}
	for (unsigned i = 0; i < BATCH && s->inflight < MAX_INFLIGHT; i++) {
		struct kc_list *it = kc_list_first(&s->fifo);
		if (!it)
			break;
		struct qitem *q = kc_container_of(it, struct qitem, link);
		kc_list_del(&q->link);
		char *key = xstrdup(q->key);
		kc_map_sdel(&s->queued, key); /* frees q */
		schedule_one(s, key);
		free(key);
	}
	kick(s);
}

static void on_retry_unsched(struct loop *l, struct loop_timer *t)
{
	struct scheduler *s = t->data;
	requeue_unschedulable(s);
}

static void on_start(struct loop *l, void *arg)
{
	struct scheduler *s = arg;
	struct informer_config pc = { .name = "pods", .path = "/api/v1/pods",
				      .transform = informer_prune_pod };
	s->pods = informer_new(s->api, &pc);
	struct informer_config nc = { .name = "nodes", .path = "/api/v1/nodes",
				      .transform = informer_prune_meta };
	s->nodes = informer_new(s->api, &nc);
	struct informer_handlers nh = { .on_add = node_add, .on_update = node_update,
					.on_delete = node_delete, .arg = s };
	informer_add_handlers(s->nodes, &nh);
	struct informer_handlers ph = { .on_add = pod_add, .on_update = pod_update,
					.on_delete = pod_delete, .arg = s };
	informer_add_handlers(s->pods, &ph);
	informer_start(s->nodes);
	informer_start(s->pods);
	log_info("scheduler started server=%s", s->server);
}

static void *thread_main(void *arg)
{
	struct scheduler *s = arg;
	loop_run(s->loop);
	apiclient_free(s->api);
	s->api = NULL;
	loop_timer_stop(s->loop, &s->kick);
	loop_timer_stop(s->loop, &s->retry_unsched);
	informer_free(s->pods);
	informer_free(s->nodes);
	events_free(s->ev);
	return NULL;
}

static void free_fields(struct scheduler *s)
{
	kc_map_free(&s->nodemap);
	kc_map_free(&s->accts);
	kc_map_free(&s->queued);
	kc_map_free(&s->unsched);
	kc_map_free(&s->backoff);
	free(s->nodes_arr);
	loop_free(s->loop);
	kc_cert_free(s->ca);
	kc_cert_free(s->cert);
	kc_key_free(s->key);
	free(s->token);
	free(s->server);
	free(s);
}

int scheduler_start(const char *server_url, const struct kc_cert *ca, const struct kc_cert *cert,
		    const struct kc_key *key, const char *token, struct scheduler **out,
		    struct kc_err *err)
{
	struct scheduler *s = xcalloc(1, sizeof *s);
	kc_map_init(&s->nodemap, free_node);
	kc_map_init(&s->accts, free);
	kc_map_init(&s->queued, free);
	kc_map_init(&s->unsched, NULL);
	kc_map_init(&s->backoff, NULL);
	kc_list_init(&s->fifo);
	s->ca = ca ? kc_cert_dup(ca) : NULL;
	s->cert = cert ? kc_cert_dup(cert) : NULL;
	s->key = key ? kc_key_dup(key) : NULL;
	s->token = token ? xstrdup(token) : NULL;
	s->server = xstrdup(server_url);
	s->loop = loop_new(NULL);
	if (!s->loop) {
		free_fields(s);
		return kc_err_set(err, -KC_EIO, "scheduler: cannot create event loop");
	}
	loop_timer_init(&s->kick, on_kick, s);
	loop_timer_init(&s->retry_unsched, on_retry_unsched, s);
	struct apiclient_config ac = { .server = server_url, .ca = s->ca, .cert = s->cert,
				       .key = s->key, .token = s->token,
				       .user_agent = "kc-scheduler", .max_conns = 64 };
	int rc = apiclient_new(s->loop, &ac, &s->api, err);
	if (rc < 0) {
		free_fields(s);
		return rc;
	}
	s->ev = events_new(s->api, "default-scheduler", NULL);
	loop_call(s->loop, on_start, s);
	if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
		apiclient_free(s->api);
		events_free(s->ev);
		free_fields(s);
		return kc_err_set(err, -KC_EIO, "scheduler: cannot start thread");
	}
	*out = s;
	return 0;
}

int scheduler_start_pki(const struct kc_pki *pki, const char *server_url, struct scheduler **out,
			struct kc_err *err)
{
	struct kc_cert *cert = NULL;
	struct kc_key *key = NULL;
	int rc = apiclient_issue_identity(pki->ca, pki->ca_key, "system:kube-scheduler",
					  (int64_t)time(NULL), &cert, &key, err);
	if (rc < 0)
		return rc;
	rc = scheduler_start(server_url, pki->ca, cert, key, NULL, out, err);
	kc_cert_free(cert);
	kc_key_free(key);
	return rc;
}

void scheduler_stop(struct scheduler *s)
{
	if (!s)
		return;
	loop_stop(s->loop);
	pthread_join(s->thread, NULL);
	free_fields(s);
}
