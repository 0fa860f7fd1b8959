/* kubelet_int.h - the node agent's private declarations, shared by the files of roles/kubelet/.
 *
 * Threads: one agent loop thread (API client, informers, work queue, Lease and Node status
 * timers, the node API server) and a small pool of sync threads that run the blocking work of
 * one pod at a time (image pulls, volumes, starting and stopping containers, probes). A pod's
 * struct kpod belongs to the loop, except while a sync of it is in flight: the work queue
 * never hands out a key twice, so the sync thread then owns it alone. */
#ifndef KC_ROLES_KUBELET_INT_H
#define KC_ROLES_KUBELET_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "lib/err.h"
#include "lib/list.h"
#include "lib/map.h"
#include "lib/str.h"
#include "net/loop.h"
#include "roles/config.h"
#include "runtime/shim.h"

struct apiclient;
struct informer;
struct workqueue;
struct events;
struct image_store;
struct rt_podnet;
struct http_server;
struct tls_server_config;
struct tls_client_config;
struct kc_cert;
struct kc_key;

#define KL_SYNC_THREADS 8
#define KL_BACKOFF_BASE_S 10
#define KL_BACKOFF_MAX_S 300
#define KL_MAX_CONTAINERS 64
#define KL_MAX_EVENTS 16
#define KL_STATIC_PERIOD_MS 3000
#define KL_STATIC_MAX_FILES 256
#define KL_STATIC_MAX_BYTES (1024 * 1024)

/* ---- pure helpers (podutil.c) -------------------------------------------------------------- */

/* CrashLoopBackOff delay after 'cur' seconds (0 for the first): 10 s, doubling, at most 300. */
unsigned kl_backoff_next(unsigned cur);

/* /etc/resolv.conf for a pod as the kubelet writes it (dnsPolicy ClusterFirst / Default / None,
 * dnsConfig nameservers, searches, options merged). host_resolv is the node's resolv.conf text
 * (may be NULL). Returns 0 or -KC_EINVAL (dnsPolicy None without nameservers). */
int kl_resolv_conf(const cJSON *pod, const char *cluster_dns, const char *domain,
		   const char *host_resolv, struct kc_str *out, struct kc_err *err);
/* /etc/hosts: the kubelet's managed file (localhost lines, the pod's IP with its hostname and
 * FQDN when it has a subdomain, hostAliases). */
void kl_hosts_file(const cJSON *pod, const char *pod_ip, const char *domain, struct kc_str *out);
/* The pod's hostname: spec.hostname or metadata.name, at most 63 bytes. */
void kl_pod_hostname(const cJSON *pod, char *buf, size_t cap);

/* Object lookups for env resolution: returns a borrowed ConfigMap or Secret, or NULL. */
struct kl_lookup {
	const cJSON *(*configmap)(void *arg, const char *ns, const char *name);
	const cJSON *(*secret)(void *arg, const char *ns, const char *name);
	void *arg;
	const cJSON *services; /* array of Services of the namespace (may be NULL) */
	const char *node_ip;
	const char *pod_ip;
	const char *node_name;
};
/* The container's environment as "K=V" strings in Kubernetes' order: service variables,
 * envFrom, then env (valueFrom configMapKeyRef/secretKeyRef/fieldRef/resourceFieldRef, $(VAR)
 * expansion against what came before). A missing non-optional reference is an error whose
 * message the kubelet reports as CreateContainerConfigError. Returns a NULL-terminated vector
 * (rt_strv_free) in *out. */
int kl_env_resolve(const cJSON *pod, const cJSON *container, const struct kl_lookup *lk,
		   char ***out, size_t *n, struct kc_err *err);

/* ---- CRI logs (crilog.c) ------------------------------------------------------------------- */

struct kl_log_opts {
	bool timestamps;
	int64_t tail_lines;     /* < 0: all */
	int64_t since_ns;       /* 0: all; lines before this wall time are skipped */
	int64_t limit_bytes;    /* < 0: none */
};
/* One parsed CRI line: "<RFC3339Nano> <stream> <F|P> <data>". Returns 0 or -KC_EPARSE. */
struct kl_cri_line {
	int64_t ts_ns;
	const char *ts; size_t ts_len;
	const char *stream; /* "stdout" / "stderr" */
	bool partial;
	const char *data; size_t len; /* without the trailing newline */
};
int kl_cri_parse(const char *line, size_t len, struct kl_cri_line *out);
/* Parses RFC 3339 with optional fraction into Unix nanoseconds; -1 when malformed. */
int64_t kl_parse_rfc3339_ns(const char *s, size_t len);
/* Renders the CRI log text buf[0..len) as kubectl logs shows it (partial lines joined,
 * optional timestamps), applying tail, since and limit. Appends to out. */
void kl_cri_render(const char *buf, size_t len, const struct kl_log_opts *o, struct kc_str *out);

/* ---- the agent ------------------------------------------------------------------------------ */

struct kl_event {
	char type[8];
	char reason[40];
	char msg[400];
};

/* One container as the agent tracks it. */
struct kctr {
	char name[64];
	bool init;
	int attempt;             /* current restart index: dir <name>-<attempt> */
	bool exists;             /* a container dir for 'attempt' exists */
	struct rt_state st;      /* its last queried state */
	bool have_last;
	struct rt_state last;    /* the previous attempt's final state */
	unsigned backoff_s;
	uint64_t backoff_until;  /* wall ms before which no restart happens */
	char waiting[48];        /* waiting reason when not created */
	char waiting_msg[512];
	char image[512], image_id[80];
	bool started, ready;
	bool post_start_done;
	int live_fail, ready_ok, ready_fail, start_fail;
	uint64_t next_live, next_ready, next_start; /* wall ms */
	uint64_t ran_since;      /* wall ms of the current run's start */
};

enum kpod_phase_act { KP_RUN = 0, KP_STOP, KP_GONE };

struct kpod {
	char uid[64], ns[254], name[254];
	cJSON *pod;                /* latest object from the informer (owned), NULL once deleted */
	bool deleted;              /* gone from the API: stop, clean up, forget */
	struct kctr ctrs[KL_MAX_CONTAINERS];
	size_t nctrs;
	bool net_ready;
	char pod_ip[64];
	char start_time[40];
	bool volumes_ready;
	uint64_t volumes_at;       /* wall ms of the last volume refresh */
	bool stopped;              /* every container stopped after deletion */
	bool static_pod;
	/* results of the last sync, read by the loop after it */
	cJSON *status;             /* full pod status (owned) */
	char *last_sent;           /* canonical JSON of the status last written */
	struct kl_event events[KL_MAX_EVENTS];
	size_t nevents;
	uint64_t requeue_ms;       /* 0: no periodic resync needed */
	bool api_delete;           /* stopped and terminating: DELETE with grace 0 */
	bool forget;               /* all cleaned up: drop the kpod */
};

struct kl_job {
	struct kc_list link;
	struct kpod *kp;
	char key[64];
};

struct kubelet {
	const struct kc_server_config *cfg;
	char data[512];
	char node[64];
	char node_ip[64];
	char server[256];
	pthread_t thread;
	bool running;
	struct loop *loop;
	struct apiclient *api;
	struct informer *pods, *nodes, *cms, *secrets, *services;
	struct workqueue *q;
	struct events *ev;
	struct loop_timer lease_t, status_t, start_t, static_t;
	cJSON *statics;            /* static pods of DATA/manifests from the last scan (loop) */
	struct kc_map static_bad;  /* manifest path -> "size:mtime" of the bad file logged */
	struct kc_map kpods;       /* uid -> struct kpod * (loop) */
	/* identity */
	struct kc_cert *ca, *cert, *serve_cert;
	struct kc_key *key, *serve_key;
	struct tls_client_config *tls;     /* for blocking calls from sync threads */
	struct tls_server_config *serve_tls;
	struct http_server *nodeapi;
	/* node */
	bool node_registered;
	char node_uid[64];
	char pod_cidr[64];
	bool lease_exists;
	int64_t started_s;
	char machine_id[64], boot_id[64];
	/* runtime */
	struct image_store *images;
	struct rt_podnet *podnet;  /* NULL until the node has a podCIDR */
	pthread_mutex_t mu;        /* guards podnet pointer swaps and the job list */
	pthread_cond_t cv;
	struct kc_list jobs;
	bool stopping;
	pthread_t workers[KL_SYNC_THREADS];
	unsigned nworkers;
	struct kc_map objs;        /* sync-thread cache guarded by mu: unused */
};

/* podsync.c: the blocking sync of one pod on a sync thread; fills kp's results. */
void kl_pod_sync(struct kubelet *k, struct kpod *kp);
/* podsync.c: at start, before the informer: finds pods with containers on disk (adoption). */
void kl_adopt_scan(struct kubelet *k);
/* The container dir of a container attempt. */
char *kl_ctr_dir(const struct kubelet *k, const char *uid, const char *name, int attempt);
/* Blocking GET of an API path with the node credentials (sync threads). Returns the parsed
 * object (caller frees) or NULL; *status gets the HTTP status (0 on transport error). */
cJSON *kl_api_get(struct kubelet *k, const char *path, int *status);
cJSON *kl_api_post(struct kubelet *k, const char *path, const cJSON *body, int *status);

/* staticpod.c: static pods from DATA/manifests (agent loop). kl_static_read reads the
 * directory into *out, a new array of pods (caller frees), each with metadata.uid = its
 * config.hash; bad files are logged and skipped. Returns 0, or -errno when the directory
 * exists but cannot be read (*out is then empty). */
int kl_static_read(struct kubelet *k, cJSON **out);
/* Keeps one mirror pod per static pod in statics (an array from kl_static_read) and deletes
 * mirrors that are terminating or match none; does nothing before the pod informer synced. */
void kl_mirror_sync(struct kubelet *k, const cJSON *statics);
/* The config.mirror annotation of a pod from the API (a mirror pod), or NULL. */
const char *kl_pod_mirror_of(const cJSON *pod);

/* nodeapi.c: the HTTPS node API on --kubelet-port. */
int kl_nodeapi_start(struct kubelet *k, struct kc_err *err);
void kl_nodeapi_stop(struct kubelet *k);
/* nodeapi.c: GET /metrics/resource's body (Prometheus text) appended to out: the node's usage,
 * then each pod's and each running container's, read from /proc and the cgroups now. Loop. */
void kl_resource_metrics(struct kubelet *k, struct kc_str *out);

/* node.c: the Node object, Lease and status. */
cJSON *kl_node_object(struct kubelet *k);
cJSON *kl_node_status(struct kubelet *k, const cJSON *old_status);

#endif
