/* apiload.c - the API server's figures under the issue's conditions: N stored pods, a steady
 * background churn of W writes/s, and at the same time
 *   get     G concurrent GETs of random pods (G getters, each one at a time) (p50/p99)
 *   list    one list of all pods at a time, plain JSON   (p50/p99)
 *   create  C creates/s of new pods                       (p50/p99)
 *   watch   delivery delay of each churn write's event on a pod watch: event arrival minus the
 *           write's acknowledgement (the commit happened before the ack), and minus its send
 * over a measurement window of D seconds, with keep-alive connections authenticated with the
 * kubeconfig's credentials. Lists run on a thread of their own (own loop, own connection), so
 * that receiving a 10 MB list does not delay the timing of the small calls. At the end the watch
 * stays open up to 5 s more for the events of acknowledged writes still in flight; an event
 * missing after that is a lost event (an error). A get answered with another pod, or a list
 * with anything but a PodList, is an error too (issue 4: mangled request paths).
 *
 *   apiload --kubeconfig F [--pods 10000] [--churn 20] [--creates 10] [--duration 20]
 *           [--getters 4] [--get-rate 0] [--list-every 0] [--namespace bench]
 *           [--fill-clients 32] [--skip-fill]
 *
 * By default the getters and the lister are closed loops: each sends its next request as soon
 * as the last one is answered, which saturates the server's CPUs (a stress figure: latencies
 * are then mostly queueing). --get-rate R sends R gets/s on a schedule instead (open loop,
 * whatever the answers do), and --list-every MS starts a list every MS ms (or at once after a
 * slower one): the latency of each call under the issue's load rather than under saturation.
 *
 * Several getters (connections) land on every API loop thread of the server, so a get that
 * shares its loop with a list is measured too.
 *
 * Output: one RESULT line per measure: "RESULT <what> n p50_ms p99_ms max_ms". */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/str.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/tls.h"
#include "roles/client/kubeconfig.h"

struct lat {
	uint64_t *v;
	size_t n, cap;
};

static void lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void lat_report(const char *what, struct lat *l)
{
	if (!l->n) {
		printf("RESULT %s 0 - - -\n", what);
		return;
	}
	qsort(l->v, l->n, sizeof *l->v, cmp_u64);
	double p50 = (double)l->v[l->n / 2] / 1e6;
	double p99 = (double)l->v[(l->n * 99) / 100 < l->n ? (l->n * 99) / 100 : l->n - 1] / 1e6;
	double mx = (double)l->v[l->n - 1] / 1e6;
	printf("RESULT %s %zu %.2f %.2f %.2f\n", what, l->n, p50, p99, mx);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define MAX_SEQ (1u << 20)

struct bench {
	struct loop *l;
	struct http_client *c;
	struct kc_kubeconfig kc;
	char auth[8200];
	const char *ns;
	unsigned pods, churn, creates, duration_s, fill_clients, getters;
	unsigned get_rate, list_every_ms; /* 0: closed loops */
	struct loop_timer get_t;
	bool measuring, stopping;
	bool phase_done; /* loop_stop is final: phases run loop_run_once until this is set */
	/* fill */
	unsigned fill_next, fill_done, fill_inflight;
	/* measurement */
	uint64_t t_end;
	struct lat get, list, create, watch_ack, watch_send;
	unsigned seq;
	uint64_t *seq_sent, *seq_acked, *seq_seen;
	unsigned create_n;
	struct loop_timer churn_t, create_t, end_t;
	struct kc_str watch_buf;
	struct http_client_req *watch_req;
	uint64_t rng;
	unsigned errors;
	char first_error[300];
	int outstanding;
	/* the list thread */
	pthread_t list_thread;
	struct tls_client_config *tls;
	_Atomic bool list_stop;
	unsigned list_errors;
	char list_error[300];
	bool draining; /* after the window: waiting for the last watch events */
};

static void run_phase(struct bench *b)
{
	b->phase_done = false;
	while (!b->phase_done)
		if (loop_run_once(b->l, 100) < 0)
			break;
}

static uint64_t rnd(struct bench *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

struct call {
	struct bench *b;
	uint64_t t0;
	int kind; /* 0 fill, 1 get, 2 list, 3 create, 4 churn */
	unsigned seq; /* churn: the write's number; get: the pod's */
};

static void submit(struct bench *b, const char *method, const char *path, const char *ctype,
		   const struct kc_str *body, struct call *c, http_client_done_cb done);

static void note_error(struct bench *b, const char *what, int rc, int status, const struct kc_err *err,
		       const char *body)
{
	b->errors++;
	fprintf(stderr, "apiload: error: %s: rc=%d status=%d %s %.300s\n", what, rc, status,
		err ? err->msg : "", body ? body : "");
	if (!b->first_error[0])
		snprintf(b->first_error, sizeof b->first_error, "%s: rc=%d status=%d %s %.150s", what,
			 rc, status, err ? err->msg : "", body ? body : "");
}

/* The pods are stored objects for the API's figures, not workloads: a schedulerName that no
 * scheduler serves keeps them Pending and unbound, so kc's scheduler and node agent (with
 * --role=all) leave them alone, as they would 10,000 pods waiting for a custom scheduler. */
static void pod_body(struct kc_str *out, const char *name)
{
	kc_str_addf(out,
		    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		    "\"labels\":{\"app\":\"bench\",\"tier\":\"load\"},\"annotations\":{\"note\":"
		    "\"a pod of the API benchmark, sized like a small real pod\"}},\"spec\":{"
		    "\"containers\":[{\"name\":\"app\",\"image\":\"kc.test/busybox:1\",\"command\":"
		    "[\"sleep\",\"3600\"],\"ports\":[{\"containerPort\":8080,\"name\":\"http\"}],"
		    "\"env\":[{\"name\":\"MODE\",\"value\":\"bench\"}],\"resources\":{\"requests\":"
		    "{\"cpu\":\"10m\",\"memory\":\"16Mi\"},\"limits\":{\"memory\":\"32Mi\"}}}],"
		    "\"schedulerName\":\"kc-bench-unscheduled\"}}",
		    name);
}

/* ---- fill ---- */

static void fill_more(struct bench *b);

static void fill_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		      const struct kc_err *err, void *arg)
{
	(void)req;
	struct call *c = arg;
	struct bench *b = c->b;
	if (rc < 0 || (resp->status != 201 && resp->status != 409))
		note_error(b, "fill", rc, resp->status, err, resp->body);
	free(c);
	b->fill_inflight--;
	b->fill_done++;
	if (b->fill_done % 1000 == 0)
		fprintf(stderr, "filled %u/%u\n", b->fill_done, b->pods);
	fill_more(b);
}

static void fill_more(struct bench *b)
{
	while (b->fill_next < b->pods && b->fill_inflight < b->fill_clients) {
		char name[64], path[256];
		snprintf(name, sizeof name, "p-%06u", b->fill_next++);
		snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", b->ns);
		struct kc_str body = KC_STR_INIT;
		pod_body(&body, name);
		struct call *c = xcalloc(1, sizeof *c);
		c->b = b;
		b->fill_inflight++;
		submit(b, "POST", path, "application/json", &body, c, fill_done);
		kc_str_free(&body);
	}
	if (b->fill_done == b->pods)
		b->phase_done = true;
}

/* ---- measurement ---- */

static void issue_get(struct bench *b);

static void get_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		     const struct kc_err *err, void *arg)
{
	(void)req;
	struct call *c = arg;
	struct bench *b = c->b;
	uint64_t t = now_ns();
	char want[64];
	snprintf(want, sizeof want, "\"name\":\"p-%06u\"", c->seq);
	if (rc < 0 || resp->status != 200)
		note_error(b, "get", rc, resp->status, err, resp->body);
	else if (!resp->body || !strstr(resp->body, want))
		note_error(b, "get answered another object", rc, resp->status, err, resp->body);
	else if (b->measuring)
		lat_add(&b->get, t - c->t0);
	free(c);
	b->outstanding--;
	if (b->stopping) {
		if (!b->outstanding)
			b->phase_done = true;
		return;
	}
	if (!b->get_rate)
		issue_get(b);
}

/* --get-rate: one get per tick; ticks of 1 ms carry several at rates over 1000/s */
static void get_tick(struct loop *l, struct loop_timer *t)
{
	struct bench *b = t->data;
	if (b->stopping)
		return;
	unsigned per = b->get_rate > 1000 ? b->get_rate / 1000 : 1;
	for (unsigned i = 0; i < per; i++)
		issue_get(b);
	loop_timer_start(l, t, b->get_rate >= 1000 ? 1 : 1000 / b->get_rate);
}

static void issue_get(struct bench *b)
{
	char path[256];
	unsigned pod = (unsigned)(rnd(b) % b->pods);
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/p-%06u", b->ns, pod);
	struct call *c = xcalloc(1, sizeof *c);
	c->b = b;
	c->kind = 1;
	c->seq = pod;
	submit(b, "GET", path, NULL, NULL, c, get_done);
}

/* ---- lists, on their own thread ---- */

struct lister {
	struct bench *b;
	struct loop *l;
	struct http_client *c;
	bool done;
	uint64_t t0;
	struct loop_timer next_t; /* --list-every */
};

static void list_submit(struct lister *ls);

static void list_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		      const struct kc_err *err, void *arg)
{
	(void)req;
	struct lister *ls = arg;
	struct bench *b = ls->b;
	uint64_t t = now_ns();
	/* a list answered with another document (as when its path was mangled) is an error too */
	bool other = rc == 0 && resp->status == 200 &&
		     (!resp->body || strncmp(resp->body, "{\"kind\":\"PodList\"", 17));
	if (rc < 0 || resp->status != 200 || other) {
		fprintf(stderr, "apiload: error: list%s: rc=%d status=%d %s %.300s\n",
			other ? " answered another document" : "", rc, rc < 0 ? 0 : resp->status,
			err ? err->msg : "", rc < 0 ? "" : resp->body);
		if (!b->list_errors++)
			snprintf(b->list_error, sizeof b->list_error, "list: rc=%d status=%d %s", rc,
				 rc < 0 ? 0 : resp->status, err ? err->msg : "");
	} else {
		lat_add(&b->list, t - ls->t0);
	}
	if (atomic_load(&b->list_stop)) {
		ls->done = true;
	} else if (b->list_every_ms) {
		uint64_t due = ls->t0 + (uint64_t)b->list_every_ms * 1000000u;
		loop_timer_start(ls->l, &ls->next_t, due > t ? (due - t) / 1000000u : 0);
	} else {
		list_submit(ls);
	}
}

static void list_next_tick(struct loop *l, struct loop_timer *t)
{
	(void)l;
	struct lister *ls = t->data;
	if (atomic_load(&ls->b->list_stop))
		ls->done = true;
	else
		list_submit(ls);
}

static void list_submit(struct lister *ls)
{
	struct bench *b = ls->b;
	char url[700];
	snprintf(url, sizeof url, "%s/api/v1/pods", b->kc.server);
	struct http_client_header h[2] = { { "Accept", "application/json" } };
	size_t nh = 1;
	if (b->auth[0])
		h[nh++] = (struct http_client_header){ "Authorization", b->auth };
	struct http_client_request r = { .method = "GET", .url = url, .headers = h, .nheaders = nh,
					 .on_done = list_done, .arg = ls, .timeout_ms = 60000 };
	struct kc_err err = { 0 };
	ls->t0 = now_ns();
	if (http_client_submit(ls->c, &r, NULL, &err) < 0) {
		fprintf(stderr, "apiload: list: %s\n", err.msg);
		exit(1);
	}
}

static void *list_main(void *arg)
{
	struct bench *b = arg;
	struct lister ls = { .b = b };
	ls.l = loop_new(NULL);
	struct http_client_config cfg = { .tls = b->tls, .max_conns = 4, .max_idle_per_origin = 2 };
	ls.c = http_client_new(ls.l, &cfg);
	loop_timer_init(&ls.next_t, list_next_tick, &ls);
	list_submit(&ls);
	while (!ls.done)
		if (loop_run_once(ls.l, 100) < 0)
			break;
	loop_timer_stop(ls.l, &ls.next_t);
	http_client_free(ls.c);
	loop_free(ls.l);
	return NULL;
}

static void write_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		       const struct kc_err *err, void *arg)
{
	(void)req;
	struct call *c = arg;
	struct bench *b = c->b;
	uint64_t t = now_ns();
	bool ok = rc == 0 && (resp->status == 200 || resp->status == 201);
	if (!ok)
		note_error(b, c->kind == 3 ? "create" : "churn", rc, resp->status, err, resp->body);
	else if (c->kind == 3 && b->measuring)
		lat_add(&b->create, t - c->t0);
	else if (c->kind == 4 && c->seq < MAX_SEQ)
		b->seq_acked[c->seq] = t;
	free(c);
	b->outstanding--;
	if (b->stopping && !b->outstanding)
		b->phase_done = true;
}

static void churn_tick(struct loop *l, struct loop_timer *t)
{
	struct bench *b = t->data;
	if (b->stopping)
		return;
	unsigned seq = ++b->seq;
	if (seq < MAX_SEQ) {
		char path[256];
		snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/p-%06u", b->ns,
			 (unsigned)(rnd(b) % b->pods));
		struct kc_str body = KC_STR_INIT;
		kc_str_addf(&body, "{\"metadata\":{\"labels\":{\"seq\":\"%u\"}}}", seq);
		struct call *c = xcalloc(1, sizeof *c);
		c->b = b;
		c->kind = 4;
		c->seq = seq;
		b->seq_sent[seq] = now_ns();
		submit(b, "PATCH", path, "application/merge-patch+json", &body, c, write_done);
		kc_str_free(&body);
	}
	loop_timer_start(l, t, 1000 / b->churn);
}

static void create_tick(struct loop *l, struct loop_timer *t)
{
	struct bench *b = t->data;
	if (b->stopping)
		return;
	char path[256], name[64];
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", b->ns);
	snprintf(name, sizeof name, "c-%u-%u", (unsigned)(now_ns() % 1000000), b->create_n++);
	struct kc_str body = KC_STR_INIT;
	pod_body(&body, name);
	struct call *c = xcalloc(1, sizeof *c);
	c->b = b;
	c->kind = 3;
	submit(b, "POST", path, "application/json", &body, c, write_done);
	kc_str_free(&body);
	loop_timer_start(l, t, 1000 / b->creates);
}

/* Acknowledged churn writes whose event has not arrived (yet). */
static unsigned missing_events(const struct bench *b)
{
	unsigned missed = 0;
	for (unsigned s = 1; s <= b->seq && s < MAX_SEQ; s++)
		missed += b->seq_acked[s] && !b->seq_seen[s];
	return missed;
}

static void watch_data(struct http_client_req *req, const char *data, size_t len, void *arg)
{
	(void)req;
	struct bench *b = arg;
	uint64_t t = now_ns();
	kc_str_add(&b->watch_buf, data, len);
	char *nl;
	while ((nl = memchr(b->watch_buf.buf, '\n', b->watch_buf.len))) {
		size_t n = (size_t)(nl - b->watch_buf.buf);
		cJSON *ev = NULL;
		struct kc_err err;
		if (n && kc_json_parse(b->watch_buf.buf, n, NULL, &ev, &err) == 0) {
			const char *s = kc_json_get_str(ev, "object.metadata.labels.seq");
			unsigned seq = s ? (unsigned)strtoul(s, NULL, 10) : 0;
			if (seq && seq < MAX_SEQ && !b->seq_seen[seq] && b->seq_sent[seq]) {
				b->seq_seen[seq] = t;
				/* every churn write was sent inside the window: count its event even
				 * when it arrives after the window closed */
				lat_add(&b->watch_send, t - b->seq_sent[seq]);
				/* the ack may arrive after the event: count that as 0 */
				uint64_t ack = b->seq_acked[seq];
				lat_add(&b->watch_ack, ack && t > ack ? t - ack : 0);
			}
		}
		cJSON_Delete(ev);
		kc_str_consume(&b->watch_buf, n + 1);
	}
	if (b->draining && !missing_events(b))
		b->phase_done = true;
}

static void watch_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		       const struct kc_err *err, void *arg)
{
	(void)req;
	struct bench *b = arg;
	b->watch_req = NULL;
	if (!b->stopping || b->draining) {
		note_error(b, "watch ended", rc, resp->status, err, resp->body);
		b->phase_done = true;
	}
}

static void end_tick(struct loop *l, struct loop_timer *t)
{
	(void)l;
	struct bench *b = t->data;
	b->measuring = false;
	b->stopping = true;
	atomic_store(&b->list_stop, true);
	if (!b->outstanding)
		b->phase_done = true;
}

static void drain_tick(struct loop *l, struct loop_timer *t)
{
	(void)l;
	struct bench *b = t->data;
	b->phase_done = true;
}

static void submit(struct bench *b, const char *method, const char *path, const char *ctype,
		   const struct kc_str *body, struct call *c, http_client_done_cb done)
{
	char url[700];
	snprintf(url, sizeof url, "%s%s", b->kc.server, path);
	struct http_client_header h[3];
	size_t nh = 0;
	h[nh++] = (struct http_client_header){ "Accept", "application/json" };
	if (ctype)
		h[nh++] = (struct http_client_header){ "Content-Type", ctype };
	if (b->auth[0])
		h[nh++] = (struct http_client_header){ "Authorization", b->auth };
	struct http_client_request r = {
		.method = method, .url = url, .headers = h, .nheaders = nh,
		.body = body ? body->buf : NULL, .body_len = body ? body->len : 0,
		.on_done = done, .arg = c, .timeout_ms = 30000,
	};
	struct kc_err err = { 0 };
	c->t0 = now_ns();
	if (http_client_submit(b->c, &r, NULL, &err) < 0) {
		fprintf(stderr, "apiload: %s\n", err.msg);
		exit(1);
	}
	if (c->kind)
		b->outstanding++;
}

/* One blocking call on its own connection (set-up steps only). Returns the status, or -1. */
static int blocking(struct bench *b, struct tls_client_config *tls, const char *method,
		    const char *path, const char *body, cJSON **out)
{
	char url[700];
	snprintf(url, sizeof url, "%s%s", b->kc.server, path);
	struct http_client_header h[3] = { { "Accept", "application/json" },
					   { "Content-Type", "application/json" } };
	size_t nh = 2;
	if (b->auth[0])
		h[nh++] = (struct http_client_header){ "Authorization", b->auth };
	struct http_client_config cfg = { .tls = tls };
	struct http_client_response resp;
	struct kc_err err = { 0 };
	if (http_client_do(&cfg, method, url, h, nh, body, body ? strlen(body) : 0, &resp, &err) < 0) {
		fprintf(stderr, "apiload: %s %s: %s\n", method, path, err.msg);
		return -1;
	}
	int status = resp.status;
	if (out && kc_json_parse(resp.body, resp.body_len, NULL, out, &err) < 0)
		*out = NULL;
	http_client_response_free(&resp);
	return status;
}

int main(int argc, char **argv)
{
	struct bench b = { .pods = 10000, .churn = 20, .creates = 10, .duration_s = 20,
			   .fill_clients = 32, .getters = 4, .ns = "bench",
			   .rng = 88172645463325252ull };
	const char *kubeconfig = NULL;
	bool skip_fill = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--skip-fill") == 0) {
			skip_fill = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "apiload: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--kubeconfig") == 0)
			kubeconfig = v;
		else if (strcmp(a, "--pods") == 0)
			b.pods = (unsigned)atoi(v);
		else if (strcmp(a, "--churn") == 0)
			b.churn = (unsigned)atoi(v);
		else if (strcmp(a, "--creates") == 0)
			b.creates = (unsigned)atoi(v);
		else if (strcmp(a, "--duration") == 0)
			b.duration_s = (unsigned)atoi(v);
		else if (strcmp(a, "--namespace") == 0)
			b.ns = v;
		else if (strcmp(a, "--fill-clients") == 0)
			b.fill_clients = (unsigned)atoi(v);
		else if (strcmp(a, "--getters") == 0)
			b.getters = (unsigned)atoi(v);
		else if (strcmp(a, "--get-rate") == 0)
			b.get_rate = (unsigned)atoi(v);
		else if (strcmp(a, "--list-every") == 0)
			b.list_every_ms = (unsigned)atoi(v);
		else {
			fprintf(stderr, "apiload: unknown flag %s\n", a);
			return 2;
		}
	}
	if (!b.pods || !b.churn || !b.creates || !b.duration_s || !b.fill_clients || !b.getters) {
		fprintf(stderr, "apiload: counts and rates must be > 0\n");
		return 2;
	}
	struct kc_err err = { 0 };
	if (kubeconfig_load(kubeconfig, NULL, &b.kc, &err) < 0) {
		fprintf(stderr, "apiload: %s\n", err.msg);
		return 2;
	}
	if (b.kc.token)
		snprintf(b.auth, sizeof b.auth, "Bearer %s", b.kc.token);
	struct tls_client_config *tls = NULL;
	if (kubeconfig_tls(&b.kc, &tls, &err) < 0) {
		fprintf(stderr, "apiload: %s\n", err.msg);
		return 2;
	}
	b.tls = tls;
	b.l = loop_new(NULL);
	struct http_client_config cfg = { .tls = tls, .max_conns = 128, .max_idle_per_origin = 64 };
	b.c = http_client_new(b.l, &cfg);
	b.seq_sent = xcalloc(MAX_SEQ, sizeof *b.seq_sent);
	b.seq_acked = xcalloc(MAX_SEQ, sizeof *b.seq_acked);
	b.seq_seen = xcalloc(MAX_SEQ, sizeof *b.seq_seen);
	kc_str_init(&b.watch_buf);

	/* the namespace (409 when it exists is fine) */
	char nsbody[300];
	snprintf(nsbody, sizeof nsbody,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}", b.ns);
	int st = blocking(&b, tls, "POST", "/api/v1/namespaces", nsbody, NULL);
	if (st != 201 && st != 409) {
		fprintf(stderr, "apiload: cannot create namespace %s: HTTP %d\n", b.ns, st);
		return 1;
	}
	uint64_t t0 = now_ns();
	if (!skip_fill) {
		fill_more(&b);
		run_phase(&b);
		printf("RESULT fill %u pods in %.2f s (%.0f creates/s, %u errors)\n", b.pods,
		       (double)(now_ns() - t0) / 1e9, b.pods / ((double)(now_ns() - t0) / 1e9), b.errors);
	}

	/* a limit=1 list gives the current resourceVersion to watch from */
	char path[512];
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods?limit=1", b.ns);
	cJSON *l1 = NULL;
	long rv = 0;
	if (blocking(&b, tls, "GET", path, NULL, &l1) == 200) {
		const char *s = kc_json_get_str(l1, "metadata.resourceVersion");
		rv = s ? strtol(s, NULL, 10) : 0;
	}
	cJSON_Delete(l1);
	snprintf(path, sizeof path, "%s/api/v1/namespaces/%s/pods?watch=true&resourceVersion=%ld",
		 b.kc.server, b.ns, rv > 0 ? rv : 0);
	struct http_client_header h[2] = { { "Accept", "application/json" } };
	size_t nh = 1;
	if (b.auth[0])
		h[nh++] = (struct http_client_header){ "Authorization", b.auth };
	struct http_client_request wr = {
		.method = "GET", .url = path, .headers = h, .nheaders = nh, .stream = true,
		.on_data = watch_data, .on_done = watch_done, .arg = &b,
	};
	if (http_client_submit(b.c, &wr, &b.watch_req, &err) < 0) {
		fprintf(stderr, "apiload: watch: %s\n", err.msg);
		return 1;
	}
	b.measuring = true;
	loop_timer_init(&b.get_t, get_tick, &b);
	if (b.get_rate)
		loop_timer_start(b.l, &b.get_t, 0);
	else
		for (unsigned i = 0; i < b.getters; i++)
			issue_get(&b);
	if (pthread_create(&b.list_thread, NULL, list_main, &b) != 0) {
		fprintf(stderr, "apiload: cannot start the list thread\n");
		return 1;
	}
	loop_timer_init(&b.churn_t, churn_tick, &b);
	loop_timer_init(&b.create_t, create_tick, &b);
	loop_timer_init(&b.end_t, end_tick, &b);
	loop_timer_start(b.l, &b.churn_t, 1000 / b.churn);
	loop_timer_start(b.l, &b.create_t, 1000 / b.creates);
	loop_timer_start(b.l, &b.end_t, (uint64_t)b.duration_s * 1000);
	run_phase(&b);
	loop_timer_stop(b.l, &b.churn_t);
	loop_timer_stop(b.l, &b.create_t);
	loop_timer_stop(b.l, &b.get_t);
	pthread_join(b.list_thread, NULL);
	/* the events of the last acknowledged writes may still be on their way */
	unsigned late = missing_events(&b);
	if (late && b.watch_req) {
		struct loop_timer drain_t;
		loop_timer_init(&drain_t, drain_tick, &b);
		loop_timer_start(b.l, &drain_t, 5000);
		b.draining = true;
		run_phase(&b);
		b.draining = false;
		loop_timer_stop(b.l, &drain_t);
	}
	if (b.watch_req)
		http_client_cancel(b.watch_req);
	b.watch_req = NULL;
	if (b.list_errors) {
		b.errors += b.list_errors;
		if (!b.first_error[0])
			snprintf(b.first_error, sizeof b.first_error, "%s", b.list_error);
	}

	lat_report("get", &b.get);
	lat_report("list", &b.list);
	lat_report("create", &b.create);
	lat_report("watch_after_ack", &b.watch_ack);
	lat_report("watch_after_send", &b.watch_send);
	unsigned missed = missing_events(&b);
	printf("RESULT errors %u missed_watch_events %u (%u still in flight at the end of the "
	       "window)%s%s\n", b.errors + missed, missed, late,
	       b.first_error[0] ? " first: " : "", b.first_error);
	struct http_client_stats cs;
	http_client_get_stats(b.c, &cs);
	printf("RESULT connections opened %" PRIu64 " requests %" PRIu64 " reused %" PRIu64 "\n",
	       cs.conns_opened, cs.requests, cs.reused);
	http_client_free(b.c);
	loop_free(b.l);
	tls_client_config_free(tls);
	kubeconfig_free(&b.kc);
	free(b.seq_sent);
	free(b.seq_acked);
	free(b.seq_seen);
	free(b.get.v);
	free(b.list.v);
	free(b.create.v);
	free(b.watch_ack.v);
	free(b.watch_send.v);
	kc_str_free(&b.watch_buf);
	return b.errors || missed ? 1 : 0;
}
