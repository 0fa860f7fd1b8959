/* DESIGN: the node agent's thread. One loop runs the API client, the pod and node informers,
 * the pod work queue (keyed by pod uid), the Lease and Node status timers and the node API
 * server; KL_SYNC_THREADS threads run pod syncs (kl_pod_sync), which block on disk, images,
 * the runtime and probes. A struct kpod is handed to a sync thread with its job and handed
 * back by a loop message: the work queue guarantees one sync per uid at a time, so a kpod
 * has exactly one owner at any moment. The informer's newer copies of a pod wait in
 * kpod_entry.latest until the next sync takes them.
 *
 * Status writes are coalesced: a merge patch of .status is sent only when the computed status
 * differs from the last one written. Deleting pods (deletionTimestamp set) are stopped and then
 * deleted with grace 0 and a uid precondition, as the kubelet does. Restart safety: nothing is
 * killed at start; containers are found on disk by the first sync of their pod, and pod dirs
 * without a pod in the API are cleaned up once the informer has synced. Static pods
 * (staticpod.c) are kpods too, keyed by their config hash and marked is_static: the manifest
 * scan starts and stops them, the informer's mirror pods never become kpods, and their status
 * is written to the mirror. */
#include "roles/kubelet/kubelet.h"
#include "roles/kubelet/kubelet_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/x509.h"
#include "net/tls.h"
#include "roles/client/apiclient.h"
#include "roles/client/events.h"
#include "roles/client/informer.h"
#include "roles/client/workqueue.h"
#include "runtime/image.h"
#include "runtime/podnet.h"

#define LEASE_PERIOD_MS 10000
#define STATUS_PERIOD_MS 10000

int kl_join(struct kubelet *k, struct kc_err *err);

/* loop-side wrapper of a kpod */
struct kentry {
	struct kpod *kp;
	cJSON *latest;      /* newer object from the informer, taken by the next sync */
	bool gone;          /* deleted from the API */
	bool syncing;
	bool is_static;     /* from DATA/manifests: status goes to its mirror pod */
	char mirror_uid[64];/* static: uid of its mirror pod in the API, "" when none */
	char sent_uid[64];  /* static: the mirror the last status was written to */
	struct loop_msg done;
	struct kubelet *k;
};

static void kentry_free(void *v)
{
	struct kentry *e = v;
	if (!e)
		return;
	if (e->kp) {
		cJSON_Delete(e->kp->pod);
		cJSON_Delete(e->kp->status);
		free(e->kp->last_sent);
		free(e->kp);
	}
	cJSON_Delete(e->latest);
	free(e);
}

/* ---- sync threads ---- */

static void *sync_thread(void *arg)
{
	struct kubelet *k = arg;
	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->stopping && kc_list_empty(&k->jobs))
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stopping)
			break;
		struct kc_list *l = k->jobs.next;
		kc_list_del(l);
		pthread_mutex_unlock(&k->mu);
		struct kentry *e = (struct kentry *)((struct kl_job *)l)->kp;
		free(l);
		kl_pod_sync(k, e->kp);
		loop_post(k->loop, &e->done);
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* ---- results of a sync, back on the loop ---- */

static void status_done(void *arg, struct api_result *r)
{
	char *key = arg;
	if (r->rc == 0 && r->status >= 300 && r->status != 404)
		log_warn("kubelet: status update pod-uid=%s status=%d msg=\"%s\"", key, r->status, r->message);
	free(key);
}

static void delete_done(void *arg, struct api_result *r)
{
	char *key = arg;
	if (r->rc == 0 && r->status >= 300 && r->status != 404 && r->status != 409)
		log_warn("kubelet: delete pod-uid=%s status=%d msg=\"%s\"", key, r->status, r->message);
	free(key);
}

static void sync_done(struct loop *l, struct loop_msg *m)
{
	struct kentry *e = m->data;
	struct kubelet *k = e->k;
	struct kpod *kp = e->kp;
	e->syncing = false;
	const cJSON *obj = kp->pod;
	for (size_t i = 0; i < kp->nevents && obj; i++)
		events_record(k->ev, "Pod", "v1", obj, kp->events[i].type, kp->events[i].reason, "%s",
			      kp->events[i].msg);
	kp->nevents = 0;
	if (kp->forget) {
		char uid[64];
		snprintf(uid, sizeof uid, "%s", kp->uid);
		workqueue_done(k->q, uid, 0);
		if (!e->latest || e->gone) {
			kc_map_sdel(&k->kpods, uid);
		} else {
			kp->deleted = false;
			kp->forget = false;
			workqueue_add(k->q, uid);
		}
		return;
	}
	/* a static pod's status goes to its mirror pod, once it has one */
	const char *target_uid = e->is_static ? e->mirror_uid : kp->uid;
	if (kp->status && obj && !e->gone && target_uid[0]) {
		struct kc_str s = KC_STR_INIT;
		kc_json_write_canonical(&s, kp->status);
		if (!kp->last_sent || strcmp(kp->last_sent, s.buf) != 0 ||
		    (e->is_static && strcmp(e->sent_uid, e->mirror_uid) != 0)) {
			snprintf(e->sent_uid, sizeof e->sent_uid, "%s", e->mirror_uid);
			cJSON *patch = kc_json_new_object();
			kc_json_set_str(patch, "metadata.uid", target_uid);
			kc_json_add(patch, "status", kc_json_dup(kp->status));
			char *body = kc_json_print(patch, NULL);
			char path[600];
			snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/status", kp->ns, kp->name);
			apiclient_request(k->api, "PATCH", path, "application/merge-patch+json", body,
					  strlen(body), status_done, xstrdup(kp->uid));
			free(body);
			cJSON_Delete(patch);
			free(kp->last_sent);
			kp->last_sent = kc_str_detach(&s, NULL);
		} else {
			kc_str_free(&s);
		}
	}
	if (kp->api_delete && !e->gone && !e->is_static) {
		char path[600], body[200];
		snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", kp->ns, kp->name);
		int n = snprintf(body, sizeof body,
				 "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0,"
				 "\"preconditions\":{\"uid\":\"%s\"}}", kp->uid);
		apiclient_request(k->api, "DELETE", path, NULL, body, (size_t)n, delete_done, xstrdup(kp->uid));
	}
	char uid[64];
	snprintf(uid, sizeof uid, "%s", kp->uid);
	uint64_t rq = kp->requeue_ms;
	workqueue_done(k->q, uid, 0);
	if (rq && !kp->api_delete)
		workqueue_add_after(k->q, uid, rq);
	(void)l;
}

static void pod_sync(void *arg, const char *key)
{
	struct kubelet *k = arg;
	struct kentry *e = kc_map_sget(&k->kpods, key);
	if (!e) {
		workqueue_done(k->q, key, 0);
		return;
	}
	struct kpod *kp = e->kp;
	if (e->latest) {
		cJSON_Delete(kp->pod);
		kp->pod = e->latest;
		e->latest = NULL;
	}
	if (e->gone)
		kp->deleted = true;
	e->syncing = true;
	struct kl_job *j = xcalloc(1, sizeof *j);
	j->kp = (struct kpod *)e;
	pthread_mutex_lock(&k->mu);
	kc_list_push_back(&k->jobs, &j->link);
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

static struct kentry *entry_for(struct kubelet *k, const char *uid)
{
	struct kentry *e = kc_map_sget(&k->kpods, uid);
	if (e)
		return e;
	e = xcalloc(1, sizeof *e);
	e->k = k;
	e->kp = xcalloc(1, sizeof *e->kp);
	snprintf(e->kp->uid, sizeof e->kp->uid, "%s", uid);
	loop_msg_init(&e->done, sync_done, e);
	kc_map_sput(&k->kpods, uid, e);
	return e;
}

static void pod_changed(void *arg, const cJSON *obj)
{
	struct kubelet *k = arg;
	const char *uid = kc_json_get_str(obj, "metadata.uid");
	if (!uid || strlen(uid) >= 64 || kl_pod_mirror_of(obj))
		return; /* a mirror pod only reflects a static pod (staticpod.c) */
	struct kentry *e = entry_for(k, uid);
	snprintf(e->kp->ns, sizeof e->kp->ns, "%s", kc_json_get_str(obj, "metadata.namespace") ?: "default");
	snprintf(e->kp->name, sizeof e->kp->name, "%s", kc_json_get_str(obj, "metadata.name") ?: "");
	cJSON_Delete(e->latest);
	e->latest = kc_json_dup(obj);
	if (!e->kp->pod && !e->syncing) {
		e->kp->pod = e->latest;
		e->latest = NULL;
	}
	workqueue_add(k->q, uid);
}

static void pod_add(void *arg, const cJSON *obj)
{
	pod_changed(arg, obj);
}

/* Whether two versions of a pod differ in more than status and resourceVersion. */
static bool spec_changed(const cJSON *old, const cJSON *obj)
{
	if (!old)
		return true;
	cJSON *a = kc_json_dup(old), *b = kc_json_dup(obj);
	kc_json_delete(a, "status");
	kc_json_delete(b, "status");
	kc_json_delete(a, "metadata.resourceVersion");
	kc_json_delete(b, "metadata.resourceVersion");
	bool ch = !kc_json_equal(a, b);
	cJSON_Delete(a);
	cJSON_Delete(b);
	return ch;
}

static void pod_update(void *arg, const cJSON *old, const cJSON *obj)
{
	struct kubelet *k = arg;
	const char *uid = kc_json_get_str(obj, "metadata.uid");
	struct kentry *e = uid ? kc_map_sget(&k->kpods, uid) : NULL;
	/* As the kubelet's pod config does, a status-only update (most often the agent's own
	 * status write) does not sync the pod again: it would, for one, turn ErrImagePull into
	 * ImagePullBackOff at once. The newer object waits for the next sync. */
	if (e && !e->is_static && !kl_pod_mirror_of(obj) && !spec_changed(old, obj)) {
		cJSON_Delete(e->latest);
		e->latest = kc_json_dup(obj);
		return;
	}
	pod_changed(arg, obj);
}

static void pod_delete(void *arg, const cJSON *obj)
{
	struct kubelet *k = arg;
	const char *uid = kc_json_get_str(obj, "metadata.uid");
	if (!uid || strlen(uid) >= 64 || kl_pod_mirror_of(obj))
		return;
	struct kentry *e = entry_for(k, uid);
	if (e->is_static)
		return;
	e->gone = true;
	workqueue_add(k->q, uid);
}

/* ---- static pods ---- */

static bool in_statics(const cJSON *statics, const char *uid)
{
	const cJSON *s;
	cJSON_ArrayForEach(s, statics) {
		if (!strcmp(kc_json_get_str(s, "metadata.uid"), uid))
			return true;
	}
	return false;
}

/* Starts static pods new in DATA/manifests, stops those whose file went or changed, and keeps
 * their mirror pods. */
static void static_tick(struct loop *l, struct loop_timer *t)
{
	struct kubelet *k = t->data;
	cJSON *now = NULL;
	int rc = kl_static_read(k, &now);
	if (rc < 0) {
		/* an unreadable directory keeps what runs rather than stopping everything */
		log_warn("kubelet: cannot read DATA/manifests err=%d", rc);
		cJSON_Delete(now);
		loop_timer_start(l, t, KL_STATIC_PERIOD_MS);
		return;
	}
	size_t pos = 0;
	const void *key;
	size_t kl;
	void *v;
	while (kc_map_next(&k->kpods, &pos, &key, &kl, &v)) {
		struct kentry *e = v;
		if (e->is_static && !e->gone && !in_statics(now, e->kp->uid)) {
			log_info("kubelet: static pod removed pod=%s/%s uid=%s", e->kp->ns, e->kp->name, e->kp->uid);
			e->gone = true;
			workqueue_add(k->q, e->kp->uid);
		}
	}
	const cJSON *s;
	cJSON_ArrayForEach(s, now) {
		const char *uid = kc_json_get_str(s, "metadata.uid");
		struct kentry *e = kc_map_sget(&k->kpods, uid);
		if (!e) {
			e = entry_for(k, uid);
			e->is_static = true;
			e->kp->static_pod = true;
			snprintf(e->kp->ns, sizeof e->kp->ns, "%s", kc_json_get_str(s, "metadata.namespace"));
			snprintf(e->kp->name, sizeof e->kp->name, "%s", kc_json_get_str(s, "metadata.name"));
			e->kp->pod = kc_json_dup(s);
			log_info("kubelet: static pod pod=%s/%s uid=%s", e->kp->ns, e->kp->name, uid);
			workqueue_add(k->q, uid);
		}
		if (!e->is_static)
			continue;
		/* the mirror to write status to */
		const cJSON *m = k->pods ? informer_get(k->pods, e->kp->ns, e->kp->name) : NULL;
		const char *mh = m ? kl_pod_mirror_of(m) : NULL;
		const char *muid = mh && !strcmp(mh, uid) && !kc_json_get(m, "metadata.deletionTimestamp")
					   ? kc_json_get_str(m, "metadata.uid") : NULL;
		if (strcmp(e->mirror_uid, muid ? muid : "") != 0) {
			snprintf(e->mirror_uid, sizeof e->mirror_uid, "%s", muid ? muid : "");
			if (muid)
				workqueue_add(k->q, uid);
		}
	}
	if (k->node_registered)
		kl_mirror_sync(k, now);
	cJSON_Delete(k->statics);
	k->statics = now;
	loop_timer_start(l, t, KL_STATIC_PERIOD_MS);
}

/* Pod dirs on disk with no pod in the API: clean them up (pods deleted while kc was down). */
static void cleanup_orphans(struct kubelet *k)
{
	char *pd = xasprintf("%s/pods", k->data);
	DIR *d = opendir(pd);
	struct dirent *de;
	const char **live = NULL;
	size_t nlive = 0;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= 64)
			continue;
		if (kc_map_sget(&k->kpods, de->d_name))
			continue;
		struct kentry *e = entry_for(k, de->d_name);
		e->gone = true;
		workqueue_add(k->q, de->d_name);
	}
	if (d)
		closedir(d);
	free(pd);
	size_t pos = 0;
	const void *key;
	size_t kl;
	void *v;
	live = xcalloc(k->kpods.len + 1, sizeof *live);
	while (kc_map_next(&k->kpods, &pos, &key, &kl, &v)) {
		struct kentry *e = v;
		if (!e->gone)
			live[nlive++] = e->kp->uid;
	}
	if (k->podnet) {
		struct kc_err err = { 0 };
		size_t removed = 0;
		rt_podnet_cleanup(k->podnet, live, nlive, &removed, &err);
		if (removed)
			log_info("kubelet: removed stale pod networks count=%zu", removed);
	}
	free(live);
}

/* ---- node registration, status, lease ---- */

static void node_status_done(void *arg, struct api_result *r)
{
	struct kubelet *k = arg;
	if (r->rc == 0 && r->status >= 300)
		log_warn("kubelet: node status update status=%d msg=\"%s\"", r->status, r->message);
	(void)k;
}

static void send_node_status(struct kubelet *k)
{
	const cJSON *old = k->nodes ? informer_get(k->nodes, NULL, k->node) : NULL;
	cJSON *patch = kc_json_new_object();
	kc_json_add(patch, "status", kl_node_status(k, kc_json_get(old, "status")));
	char path[300];
	snprintf(path, sizeof path, "/api/v1/nodes/%s/status", k->node);
	char *body = kc_json_print(patch, NULL);
	apiclient_request(k->api, "PATCH", path, "application/strategic-merge-patch+json", body,
			  strlen(body), node_status_done, k);
	free(body);
	cJSON_Delete(patch);
}

static void status_tick(struct loop *l, struct loop_timer *t)
{
	struct kubelet *k = t->data;
	if (k->node_registered)
		send_node_status(k);
	loop_timer_start(l, t, STATUS_PERIOD_MS);
}

static void micro_time(char *buf, size_t cap)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char b[32];
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%06ldZ", b, ts.tv_nsec / 1000);
}

static void lease_create_done(void *arg, struct api_result *r)
{
	struct kubelet *k = arg;
	if (r->rc == 0 && (r->status == 201 || r->status == 200 || r->status == 409))
		k->lease_exists = true;
}

static void lease_done(void *arg, struct api_result *r)
{
	struct kubelet *k = arg;
	if (r->rc != 0 || apiclient_closing(k->api))
		return;
	if (r->status == 404) {
		cJSON *l = kc_json_new_object();
		char now[48];
		micro_time(now, sizeof now);
		kc_json_set_str(l, "apiVersion", "coordination.k8s.io/v1");
		kc_json_set_str(l, "kind", "Lease");
		kc_json_set_str(l, "metadata.name", k->node);
		kc_json_set_str(l, "metadata.namespace", "kube-node-lease");
		if (k->node_uid[0]) {
			cJSON *refs = kc_json_new_array(), *ref = kc_json_new_object();
			kc_json_set_str(ref, "apiVersion", "v1");
			kc_json_set_str(ref, "kind", "Node");
			kc_json_set_str(ref, "name", k->node);
			kc_json_set_str(ref, "uid", k->node_uid);
			cJSON_AddItemToArray(refs, ref);
			kc_json_set(l, "metadata.ownerReferences", refs);
		}
		kc_json_set_str(l, "spec.holderIdentity", k->node);
		kc_json_set_i64(l, "spec.leaseDurationSeconds", 40);
		kc_json_set_str(l, "spec.renewTime", now);
		apiclient_request_json(k->api, "POST",
				       "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", l,
				       lease_create_done, k);
		cJSON_Delete(l);
	} else if (r->status >= 300) {
		log_warn("kubelet: lease renewal status=%d msg=\"%s\"", r->status, r->message);
	}
}

static void renew_lease(struct kubelet *k)
{
	char now[48], body[200], path[300];
	micro_time(now, sizeof now);
	int n = snprintf(body, sizeof body,
			 "{\"spec\":{\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":40,\"renewTime\":\"%s\"}}",
			 k->node, now);
	snprintf(path, sizeof path, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s",
		 k->node);
	apiclient_request(k->api, "PATCH", path, "application/merge-patch+json", body, (size_t)n,
			  lease_done, k);
}

static void lease_tick(struct loop *l, struct loop_timer *t)
{
	struct kubelet *k = t->data;
	if (k->node_registered)
		renew_lease(k);
	loop_timer_start(l, t, LEASE_PERIOD_MS);
}

/* The own Node and its peers: podCIDR → pod network; other nodes → host-gw routes. */
static void nodes_changed(struct kubelet *k)
{
	const cJSON *self = informer_get(k->nodes, NULL, k->node);
	const char *cidr = kc_json_get_str(self, "spec.podCIDR");
	if (cidr && !k->podnet) {
		struct rt_podnet_config pc = { .data_dir = k->data, .firewall = true };
		struct kc_err err = { 0 };
		if (net_cidr_parse(cidr, &pc.pod_cidr, &err) == 0) {
			pc.cluster_cidr = k->cfg->cluster_cidr;
			struct rt_podnet *pn = NULL;
			int rc = rt_podnet_open(&pc, &pn, &err);
			if (rc == -KC_EUNSUPPORTED) {
				log_warn("kubelet: iptables unusable (%s): hostPorts and masquerade off", err.msg);
				pc.firewall = false;
				memset(&err, 0, sizeof err);
				rc = rt_podnet_open(&pc, &pn, &err);
			}
			if (rc < 0) {
				log_error("kubelet: pod network podCIDR=%s err=\"%s\"", cidr, err.msg);
			} else {
				pthread_mutex_lock(&k->mu);
				k->podnet = pn;
				pthread_mutex_unlock(&k->mu);
				snprintf(k->pod_cidr, sizeof k->pod_cidr, "%s", cidr);
				log_info("kubelet: pod network ready podCIDR=%s", cidr);
				send_node_status(k);
			}
		}
	}
	if (!k->podnet)
		return;
	struct rt_podnet_peer peers[256];
	size_t n = 0, pos = 0;
	const cJSON *nd;
	while (informer_next(k->nodes, &pos, &nd) && n < 256) {
		const char *name = kc_json_get_str(nd, "metadata.name");
		const char *pc = kc_json_get_str(nd, "spec.podCIDR");
		if (!name || !pc || !strcmp(name, k->node))
			continue;
		const cJSON *a;
		const char *ip = NULL;
		cJSON_ArrayForEach(a, kc_json_get(nd, "status.addresses")) {
			const char *t = kc_json_get_str(a, "type");
			if (t && !strcmp(t, "InternalIP"))
				ip = kc_json_get_str(a, "address");
		}
		struct kc_err err;
		if (ip && net_cidr_parse(pc, &peers[n].pod_cidr, &err) == 0 &&
		    net_ip_parse(ip, &peers[n].node_ip) == 0)
			n++;
	}
	struct kc_err err = { 0 };
	size_t changed = 0;
	if (rt_podnet_sync_routes(k->podnet, peers, n, &changed, &err) < 0)
		log_warn("kubelet: host-gw routes err=\"%s\"", err.msg);
}

static void node_add(void *arg, const cJSON *obj)
{
	struct kubelet *k = arg;
	const char *name = kc_json_get_str(obj, "metadata.name");
	if (name && !strcmp(name, k->node)) {
		const char *uid = kc_json_get_str(obj, "metadata.uid");
		if (uid)
			snprintf(k->node_uid, sizeof k->node_uid, "%s", uid);
	}
	nodes_changed(k);
}

static void node_update(void *arg, const cJSON *old, const cJSON *obj)
{
	(void)old;
	node_add(arg, obj);
}

static void node_delete(void *arg, const cJSON *obj)
{
	struct kubelet *k = arg;
	const char *name = kc_json_get_str(obj, "metadata.name");
	if (name && !strcmp(name, k->node)) {
		log_warn("kubelet: own Node was deleted; registering again");
		k->node_registered = false;
		loop_timer_start(k->loop, &k->start_t, 1000);
	}
	nodes_changed(k);
}

static void start_informers(struct kubelet *k);

static void register_done(void *arg, struct api_result *r)
{
	struct kubelet *k = arg;
	if (r->rc != 0) {
		if (!apiclient_closing(k->api))
			loop_timer_start(k->loop, &k->start_t, 1000);
		return;
	}
	if (r->status == 201 || r->status == 200 || r->status == 409) {
		const char *uid = kc_json_get_str(r->obj, "metadata.uid");
		if (uid)
			snprintf(k->node_uid, sizeof k->node_uid, "%s", uid);
		if (!k->node_registered)
			log_info("kubelet: node registered node=%s", k->node);
		k->node_registered = true;
		send_node_status(k);
		renew_lease(k);
		start_informers(k);
		return;
	}
	log_warn("kubelet: node registration status=%d msg=\"%s\" (retrying)", r->status, r->message);
	loop_timer_start(k->loop, &k->start_t, 2000);
}

static void start_tick(struct loop *l, struct loop_timer *t)
{
	struct kubelet *k = t->data;
	(void)l;
	cJSON *n = kl_node_object(k);
	apiclient_request_json(k->api, "POST", "/api/v1/nodes", n, register_done, k);
	cJSON_Delete(n);
}

static void pods_synced_check(struct loop *l, struct loop_timer *t);
static struct loop_timer synced_t;

static void start_informers(struct kubelet *k)
{
	if (k->pods)
		return;
	struct informer_config nc = { .name = "nodes", .path = "/api/v1/nodes", .resync_ms = 60000,
				      .transform = informer_prune_meta };
	k->nodes = informer_new(k->api, &nc);
	struct informer_handlers nh = { node_add, node_update, node_delete, k };
	informer_add_handlers(k->nodes, &nh);
	informer_start(k->nodes);
	char fs[128];
	snprintf(fs, sizeof fs, "spec.nodeName=%s", k->node);
	struct informer_config pc = { .name = "pods", .path = "/api/v1/pods", .field_selector = fs,
				      .resync_ms = 0, .transform = informer_prune_meta };
	k->pods = informer_new(k->api, &pc);
	struct informer_handlers ph = { pod_add, pod_update, pod_delete, k };
	informer_add_handlers(k->pods, &ph);
	informer_start(k->pods);
	loop_timer_init(&synced_t, pods_synced_check, k);
	loop_timer_start(k->loop, &synced_t, 50);
}

static void pods_synced_check(struct loop *l, struct loop_timer *t)
{
	struct kubelet *k = t->data;
	if (!informer_synced(k->pods) || !informer_synced(k->nodes)) {
		loop_timer_start(l, t, 50);
		return;
	}
	cleanup_orphans(k);
}

/* ---- thread and life cycle ---- */

static void *agent_thread(void *arg)
{
	struct kubelet *k = arg;
	loop_run(k->loop);
	return NULL;
}

static void read_id(const char *path, char *buf, size_t cap)
{
	unsigned char *b = NULL;
	size_t n = 0;
	struct kc_err err;
	buf[0] = 0;
	if (kc_read_file(path, 256, &b, &n, &err) == 0) {
		while (n && (b[n - 1] == '\n' || b[n - 1] == ' '))
			n--;
		snprintf(buf, cap, "%.*s", (int)n, (char *)b);
		free(b);
	}
}

static void stop_on_loop(struct loop *l, void *arg)
{
	struct kubelet *k = arg;
	kl_nodeapi_stop(k);
	informer_free(k->pods);
	informer_free(k->nodes);
	k->pods = k->nodes = NULL;
	loop_timer_stop(l, &k->lease_t);
	loop_timer_stop(l, &k->status_t);
	loop_timer_stop(l, &k->start_t);
	loop_timer_stop(l, &k->static_t);
	loop_timer_stop(l, &synced_t);
	loop_stop(l);
}

int kubelet_start(const struct kc_server_config *cfg, const struct kc_pki *pki,
		  struct kubelet **out, struct kc_err *err)
{
	struct kubelet *k = xcalloc(1, sizeof *k);
	k->cfg = cfg;
	snprintf(k->data, sizeof k->data, "%s", cfg->data_dir);
	snprintf(k->node, sizeof k->node, "%s", cfg->node_name);
	net_ip_format(&cfg->advertise_address, k->node_ip, sizeof k->node_ip);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	kc_list_init(&k->jobs);
	kc_map_init(&k->kpods, kentry_free);
	kc_map_init(&k->static_bad, free);
	k->started_s = time(NULL);
	read_id("/etc/machine-id", k->machine_id, sizeof k->machine_id);
	read_id("/proc/sys/kernel/random/boot_id", k->boot_id, sizeof k->boot_id);
	int rc;
	if (pki) {
		char cn[128];
		snprintf(cn, sizeof cn, "system:node:%s", k->node);
		snprintf(k->server, sizeof k->server, "https://127.0.0.1:%u", cfg->api_port);
		k->ca = kc_cert_dup(pki->ca);
		rc = apiclient_issue_identity(pki->ca, pki->ca_key, cn, time(NULL), &k->cert, &k->key, err);
		if (rc == 0)
			rc = kc_pki_kubelet_serving(cfg, pki, time(NULL), &k->serve_cert, &k->serve_key, err);
	} else {
		snprintf(k->server, sizeof k->server, "%s", cfg->server_url);
		rc = kl_join(k, err);
	}
	if (rc < 0)
		goto fail;
	struct tls_client_opts to = { .ca = k->ca, .cert = k->cert, .key = k->key };
	if ((rc = tls_client_config_new(&to, &k->tls, err)) < 0)
		goto fail;
	if ((rc = image_store_open(k->data, NULL, &k->images, err)) < 0)
		goto fail;
	struct kc_err ie = { 0 };
	int ni = image_import_dir(k->images, &ie);
	if (ni > 0)
		log_info("kubelet: imported images from DATA/images/import count=%d", ni);
	k->loop = loop_new(NULL);
	struct apiclient_config ac = { .server = k->server, .ca = k->ca, .cert = k->cert, .key = k->key,
				       .user_agent = "kubelet/v1.32.0 (linux/amd64) kc" };
	if ((rc = apiclient_new(k->loop, &ac, &k->api, err)) < 0)
		goto fail;
	k->ev = events_new(k->api, "kubelet", k->node);
	struct workqueue_config qc = { .name = "pods", .workers = KL_SYNC_THREADS * 4,
				       .base_delay_ms = 100, .max_delay_ms = 30000, .batch = 64 };
	k->q = workqueue_new(k->loop, &qc, pod_sync, k);
	if ((rc = kl_nodeapi_start(k, err)) < 0)
		goto fail;
	loop_timer_init(&k->start_t, start_tick, k);
	loop_timer_init(&k->lease_t, lease_tick, k);
	loop_timer_init(&k->status_t, status_tick, k);
	loop_timer_init(&k->static_t, static_tick, k);
	loop_timer_start(k->loop, &k->static_t, 0);
	loop_timer_start(k->loop, &k->start_t, 0);
	loop_timer_start(k->loop, &k->lease_t, LEASE_PERIOD_MS);
	loop_timer_start(k->loop, &k->status_t, STATUS_PERIOD_MS);
	for (unsigned i = 0; i < KL_SYNC_THREADS; i++)
		if (pthread_create(&k->workers[k->nworkers], NULL, sync_thread, k) == 0)
			k->nworkers++;
	if (pthread_create(&k->thread, NULL, agent_thread, k) != 0) {
		rc = kc_err_set(err, -EAGAIN, "cannot start the node agent thread");
		goto fail;
	}
	k->running = true;
	log_info("kubelet: started node=%s server=%s port=%u", k->node, k->server, cfg->kubelet_port);
	*out = k;
	return 0;
fail:
	kubelet_stop(k);
	return rc;
}

void kubelet_stop(struct kubelet *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stopping = true;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	for (unsigned i = 0; i < k->nworkers; i++)
		pthread_join(k->workers[i], NULL);
	if (k->running) {
		loop_call(k->loop, stop_on_loop, k);
		pthread_join(k->thread, NULL);
	} else if (k->loop) {
		kl_nodeapi_stop(k);
	}
	while (!kc_list_empty(&k->jobs)) {
		struct kc_list *l = k->jobs.next;
		kc_list_del(l);
		free(l);
	}
	workqueue_free(k->q);
	events_free(k->ev);
	apiclient_free(k->api);
	kc_map_free(&k->kpods);
	kc_map_free(&k->static_bad);
	cJSON_Delete(k->statics);
	if (k->loop) {
		loop_run_once(k->loop, 0);
		loop_free(k->loop);
	}
	rt_podnet_close(k->podnet);
	image_store_close(k->images);
	tls_client_config_free(k->tls);
	kc_cert_free(k->ca);
	kc_cert_free(k->cert);
	kc_key_free(k->key);
	kc_cert_free(k->serve_cert);
	kc_key_free(k->serve_key);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	free(k);
}
