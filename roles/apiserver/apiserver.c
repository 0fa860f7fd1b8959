/* DESIGN: N identical loop threads (N = online CPUs, at most 8), each with its own http_server
 * accepting on one shared listening socket (EPOLLEXCLUSIVE: the kernel wakes one loop per
 * connection); they share one read-only router, one TLS config (reference counted, immutable)
 * and the API context (schema, registry, auth, discovery, openapi: immutable or thread-safe).
 * The garbage collector runs on the first loop. Stop: the gc is stopped on its loop, then a
 * message to each loop runs a graceful shutdown; a loop stops once its server is done and no
 * store request or watch of the registry is outstanding (bounded), and the caller joins. */
#include "roles/apiserver/apiserver.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "kc_version.h"
#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/router.h"
#include "net/tls.h"
#include "roles/apiserver/auth.h"
#include "roles/apiserver/discovery.h"
#include "roles/apiserver/gc.h"
#include "roles/apiserver/handlers.h"
#include "roles/apiserver/nodecert.h"
#include "roles/apiserver/nodeproxy.h"
#include "roles/apiserver/resmetrics.h"
#include "roles/apiserver/openapi.h"
#include "roles/apiserver/registry.h"
#include "roles/apiserver/schema.h"
#include "roles/server.h"

#define MAX_THREADS 8
#define STOP_GRACE_MS 2000
#define DRAIN_MAX_MS 5000
#define BOOTSTRAP_TIMEOUT_MS 30000

struct worker {
	struct apiserver *a;
	struct loop *loop;
	struct http_server *srv;
	struct loop_timer drain;
	uint64_t drain_deadline;
	pthread_t thread;
	bool running;
};

struct apiserver {
	struct router *router;
	struct tls_server_config *tls;
	struct worker workers[MAX_THREADS];
	unsigned nworkers;
	time_t started;
	_Atomic unsigned long long requests;
	struct registry *reg;
	struct auth *auth;
	struct discovery *disc;
	struct openapi *openapi;
	struct gc *gc;
	struct nodeproxy *nodeproxy;
	struct resmetrics *metrics;
	struct nodecert *nodecert;
	struct api_ctx ctx;
};

/* ---- handlers ---- */

static void count(struct http_req *req)
{
	struct apiserver *a = req->ctx;
	atomic_fetch_add_explicit(&a->requests, 1, memory_order_relaxed);
}

/* A Kubernetes Status object, as kubectl expects for every error. */
static void respond_status(struct http_req *req, int code, const char *reason, const char *message)
{
	struct kc_str body = KC_STR_INIT;
	kc_str_adds(&body, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
			   "\"status\":\"Failure\",\"message\":");
	kc_json_write_string(&body, message);
	kc_str_addf(&body, ",\"reason\":\"%s\",\"code\":%d}\n", reason, code);
	http_respond(req, code, "application/json", body.buf, body.len);
	kc_str_free(&body);
}

static void on_route_error(struct http_req *req, int status, const char *allow, void *arg)
{
	(void)allow; /* the router already added the Allow header for 405 */
	count(req);
	char msg[300];
	if (status == 405) {
		snprintf(msg, sizeof msg, "method %s is not allowed on %.200s", req->method, req->path);
		respond_status(req, 405, "MethodNotAllowed", msg);
		return;
	}
	snprintf(msg, sizeof msg, "the server could not find the requested resource (%.200s)",
		 req->path);
	respond_status(req, 404, "NotFound", msg);
}

static void h_version(struct http_req *req, void *arg)
{
	count(req);
	char body[1024];
	int n = snprintf(body, sizeof body,
			 "{\n  \"major\": \"%s\",\n  \"minor\": \"%s\",\n"
			 "  \"gitVersion\": \"%s+kc%s\",\n  \"gitCommit\": \"%s\",\n"
			 "  \"gitTreeState\": \"%s\",\n  \"buildDate\": \"%s\",\n"
			 "  \"goVersion\": \"none (C, musl)\",\n  \"compiler\": \"gcc\",\n"
			 "  \"platform\": \"linux/amd64\"\n}\n",
			 KC_KUBE_VERSION_MAJOR, KC_KUBE_VERSION_MINOR, KC_KUBE_GIT_VERSION, KC_VERSION,
			 KC_GIT_COMMIT, strstr(KC_GIT_COMMIT, "-dirty") ? "dirty" : "clean", KC_BUILD_DATE);
	http_respond(req, 200, "application/json", body, (size_t)n);
}

/* /readyz, /livez, /healthz: "ok", or the per-check list with ?verbose as kube-apiserver does. */
static void h_health(struct http_req *req, void *arg)
{
	count(req);
	const char *which = arg;
	if (http_req_query(req, "verbose")) {
		char body[256];
		int n = snprintf(body, sizeof body, "[+]ping ok\n[+]log ok\n%s check passed\n", which);
		http_respond(req, 200, "text/plain; charset=utf-8", body, (size_t)n);
		return;
	}
	http_respond(req, 200, "text/plain; charset=utf-8", "ok", 2);
}

static long count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory stream's own fd */
}

static void h_metrics(struct http_req *req, void *arg)
{
	count(req);
	struct apiserver *a = req->ctx;
	if (!handlers_check_path(&a->ctx, req)) /* Kubernetes: system:monitoring, not anonymous */
		return;
	struct kc_str out = KC_STR_INIT;
	long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
	unsigned long long vsize_pages = 0, rss_pages = 0, utime = 0, stime = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%llu %llu", &vsize_pages, &rss_pages) != 2)
			vsize_pages = rss_pages = 0;
		fclose(f);
	}
	f = fopen("/proc/self/stat", "r");
	if (f) {
		char buf[1024];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = '\0';
		const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
				&stime) != 2)
			utime = stime = 0;
		fclose(f);
	}
	kc_str_addf(&out,
		    "# HELP kc_build_info kc build information.\n# TYPE kc_build_info gauge\n"
		    "kc_build_info{version=\"%s\",commit=\"%s\",kubernetes=\"%s\"} 1\n"
		    "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		    "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %lld\n"
		    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
		    "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n"
		    "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
		    "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
		    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
		    "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
		    "# HELP process_open_fds Number of open file descriptors.\n"
		    "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n"
		    "# HELP kc_apiserver_requests_total Requests answered by the API server.\n"
		    "# TYPE kc_apiserver_requests_total counter\nkc_apiserver_requests_total %llu\n",
		    KC_VERSION, KC_GIT_COMMIT, KC_KUBE_GIT_VERSION, (long long)a->started,
		    rss_pages * (unsigned long long)page, vsize_pages * (unsigned long long)page,
		    (double)(utime + stime) / (double)(ticks > 0 ? ticks : 100), count_open_fds(),
		    (unsigned long long)atomic_load(&a->requests));
	http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.buf, out.len);
	kc_str_free(&out);
}

/* Every request enters here: attach the server, then route. */
static void serve(struct http_req *req, void *arg)
{
	struct apiserver *a = arg;
	req->ctx = a;
	router_serve(req, a->router);
}

/* ---- threads ---- */

static struct transport *wrap_tls(void *arg, int fd)
{
	return tls_server_wrap(arg, fd);
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	int rc = loop_run(w->loop);
	if (rc < 0)
		log_error("api loop failed err=%s", kc_strerror(rc));
	return NULL;
}

/* Store completions are posted to this loop: it keeps running until none is outstanding. */
static void drain_check(struct loop *l, struct loop_timer *t)
{
	struct worker *w = t->data;
	struct apiserver *a = w->a;
	bool idle = (!a->reg || registry_outstanding(a->reg) == 0) && gc_stopped() &&
		    handlers_open_watches() == 0;
	if (idle || loop_now_ms(l) > w->drain_deadline) {
		loop_stop(l);
		return;
	}
	loop_timer_start(l, &w->drain, 10);
}

static void shutdown_done(struct http_server *s, void *arg)
{
	struct worker *w = arg;
	(void)s;
	w->drain_deadline = loop_now_ms(w->loop) + DRAIN_MAX_MS;
	loop_timer_init(&w->drain, drain_check, w);
	loop_timer_start(w->loop, &w->drain, 0);
}

static void begin_shutdown(struct loop *l, void *arg)
{
	struct worker *w = arg;
	(void)l;
	if (w == &w->a->workers[0] && w->a->gc) {
		gc_stop(w->a->gc);
		w->a->gc = NULL;
	}
	if (w == &w->a->workers[0])
		resmetrics_stop(w->a->metrics);
	http_server_shutdown(w->srv, STOP_GRACE_MS, shutdown_done, w);
}

static int add_routes(struct apiserver *a, struct kc_err *err)
{
	static const struct {
		const char *path;
		http_handler_fn fn;
		const char *arg;
	} routes[] = {
		{ "/version", h_version, NULL },   { "/version/", h_version, NULL },
		{ "/readyz", h_health, "readyz" },
		{ "/livez", h_health, "livez" },   { "/healthz", h_health, "healthz" },
		{ "/metrics", h_metrics, NULL },
	};
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		int rc = router_add(a->router, "GET", routes[i].path, routes[i].fn,
				    (void *)(uintptr_t)routes[i].arg, err);
		if (rc < 0)
			return rc;
	}
	router_set_error_handler(a->router, on_route_error, a);
	return 0;
}

/* The API proper: auth, registry (with the default objects), discovery, openapi, routes. */
static int api_init(struct apiserver *a, const struct kc_server_config *cfg,
		    const struct kc_pki *pki, const struct kv *store, struct kc_err *err)
{
	const struct schema *schema = schema_builtin();
	struct auth_config ac = { .data_dir = cfg->data_dir, .join_token = pki->token };
	int rc = auth_new(&ac, &a->auth, err);
	if (rc < 0)
		return rc;
	struct registry_config rc_ = { .store = store, .schema = schema,
				       .service_cidr = &cfg->service_cidr };
	rc = registry_new(&rc_, &a->reg, err);
	if (rc < 0)
		return rc;
	char adv[64], hostport[96];
	net_ip_format(&cfg->advertise_address, adv, sizeof adv);
	cJSON *boot = auth_bootstrap_objects();
	rc = registry_bootstrap(a->reg, boot, adv, cfg->api_port, BOOTSTRAP_TIMEOUT_MS, err);
	cJSON_Delete(boot);
	if (rc < 0)
		return rc;
	snprintf(hostport, sizeof hostport, "%s%s%s:%u", strchr(adv, ':') ? "[" : "", adv,
		 strchr(adv, ':') ? "]" : "", cfg->api_port);
	a->disc = discovery_new(schema, hostport);
	a->openapi = openapi_new(schema);
	/* pods/log and pods/exec reach the kubelets with the apiserver-kubelet-client identity */
	struct kc_cert *kcert = NULL;
	struct kc_key *kkey = NULL;
	rc = kc_pki_kubelet_client(cfg, pki, time(NULL), &kcert, &kkey, err);
	if (rc == 0) {
		struct nodeproxy_config npc = { .reg = a->reg, .schema = schema, .ca = pki->ca,
						.cert = kcert, .key = kkey };
		rc = nodeproxy_new(&npc, &a->nodeproxy, err);
	}
	kc_cert_free(kcert);
	kc_key_free(kkey);
	if (rc < 0)
		return rc;
	/* workers joining with --server and --token get their identity here */
	a->nodecert = nodecert_new(pki);
	if (a->nodecert && (rc = nodecert_add_routes(a->router, a->nodecert, err)) < 0)
		return rc;
	a->ctx = (struct api_ctx){ .reg = a->reg, .schema = schema, .auth = a->auth,
				   .disc = a->disc, .openapi = a->openapi,
				   .nodeproxy = a->nodeproxy };
	return handlers_add_routes(a->router, &a->ctx, err);
}

int apiserver_start(const struct kc_server_config *cfg, const struct kc_pki *pki,
		    const struct kv *store, struct apiserver **out, struct kc_err *err)
{
	struct apiserver *a = xcalloc(1, sizeof *a);
	a->started = time(NULL);
	a->router = router_new();
	int rc = add_routes(a, err);
	if (rc < 0)
		goto fail;
	rc = api_init(a, cfg, pki, store, err);
	if (rc < 0)
		goto fail;
	struct tls_server_opts topts = {
		.chain = pki->server, .key = pki->server_key, .client_ca = pki->ca,
		.client_auth = TLS_CLIENT_AUTH_OPTIONAL,
	};
	rc = tls_server_config_new(&topts, &a->tls, err);
	if (rc < 0)
		goto fail;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	a->nworkers = ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : (unsigned)ncpu;
	char addr[64];
	net_ip_format(&cfg->bind_address, addr, sizeof addr);
	for (unsigned i = 0; i < a->nworkers; i++) {
		struct worker *w = &a->workers[i];
		w->a = a;
		w->loop = loop_new(NULL);
		if (!w->loop) {
			rc = kc_err_set(err, -errno, "cannot create an event loop: %s", strerror(errno));
			goto fail;
		}
		/* One listening socket shared by all loops: a port someone else holds fails here. */
		struct http_server_config hc = {
			.addr = addr, .port = cfg->api_port, .handler = serve, .handler_arg = a,
			.wrap = wrap_tls, .wrap_arg = a->tls,
			.share_listener = i ? a->workers[0].srv : NULL,
		};
		rc = http_server_open(w->loop, &hc, &w->srv, err);
		if (rc < 0) {
			kc_err_wrap(err, "API server on %s:%u", addr, cfg->api_port);
			goto fail;
		}
	}
	/* before the loop runs: the gc's first requests complete there */
	a->gc = gc_start(a->reg, a->auth, a->workers[0].loop);
	/* metrics.k8s.io: the scraper shares loop 0 with the gc */
	struct resmetrics_config mc = { .reg = a->reg, .schema = schema_builtin(),
					.tls = nodeproxy_tls(a->nodeproxy), .loop = a->workers[0].loop };
	a->metrics = resmetrics_new(&mc);
	a->ctx.metrics = a->metrics;
	for (unsigned i = 0; i < a->nworkers; i++) {
		struct worker *w = &a->workers[i];
		if (pthread_create(&w->thread, NULL, run_worker, w) != 0) {
			rc = kc_err_set(err, -EAGAIN, "cannot start API server threads");
			goto fail;
		}
		w->running = true;
	}
	log_info("API server listening addr=%s port=%u threads=%u", addr, cfg->api_port, a->nworkers);
	*out = a;
	return 0;
fail:
	apiserver_stop(a);
	return rc;
}

void apiserver_stop(struct apiserver *a)
{
	if (!a)
		return;
	for (unsigned i = 0; i < a->nworkers; i++)
		if (a->workers[i].running)
			loop_call(a->workers[i].loop, begin_shutdown, &a->workers[i]);
	for (unsigned i = 0; i < a->nworkers; i++) {
		struct worker *w = &a->workers[i];
		if (w->running)
			pthread_join(w->thread, NULL);
		http_server_close(w->srv);
		loop_free(w->loop);
	}
	tls_server_config_free(a->tls);
	router_free(a->router);
	openapi_free(a->openapi);
	discovery_free(a->disc);
	resmetrics_free(a->metrics);
	nodeproxy_free(a->nodeproxy);
	nodecert_free(a->nodecert);
	registry_free(a->reg);
	auth_free(a->auth);
	free(a);
}
