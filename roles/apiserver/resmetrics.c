/* DESIGN: metrics.k8s.io/v1beta1, computed like metrics-server.
 *
 * The scraper lives on one API server loop (the one the gc runs on) and owns everything it
 * touches there: a timer every period_ms, one registry_list of the Nodes per round, and for
 * every Ready node with an InternalIP and a kubelet port an https GET of /metrics/resource on
 * an http_client built on the node proxy's TLS client configuration (the cluster CA verifies
 * the kubelet's serving certificate; the apiserver-kubelet-client certificate authenticates
 * us). Each node's state keeps the previous and the current scrape. When the round's last
 * answer is in, a new immutable view (node and pod usages with windows) is built from the
 * nodes that answered this round - a node that could not be scraped is left out, as
 * metrics-server leaves it out - and published.
 *
 * Threads: the view is the only thing the request loops read. It is immutable and
 * reference-counted; publishing swaps the pointer under 'mu' (held only for the swap and for
 * taking a reference), so no request ever waits on a scrape. A request that finds no fresh view
 * kicks a round on the scraper loop through loop_call (at most one pending kick).
 *
 * Requests: the Node or Pod objects come from the registry (namespace, labelSelector), each
 * joined with the view by name; objects without usage are left out of lists and are 404 for a
 * get. Nothing is stored. */
#include "roles/apiserver/resmetrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/promtext.h"
#include "lib/str.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "roles/apiserver/registry.h"
#include "roles/apiserver/schema.h"
#include "roles/apiserver/selector.h"
#include "roles/apiserver/status.h"
#include "roles/apiserver/table.h"

#define JSON_CT		"application/json"
#define TABLE_CT	"application/json;as=Table;v=v1;g=meta.k8s.io"
#define LABEL_VALUE_MAX 253

/* ---- parsing a scrape ------------------------------------------------------------------------- */

struct parse_ctx {
	struct rm_scrape *out;
	struct kc_map idx; /* "ns\0pod\0ctr" -> index + 1 */
	int64_t now_ms;
};

static struct rm_series *ctr_series(struct parse_ctx *pc, const char *ns, const char *pod,
				    const char *ctr)
{
	size_t ln = strlen(ns), lp = strlen(pod), lc = strlen(ctr);
	char key[3 * (LABEL_VALUE_MAX + 1)];
	memcpy(key, ns, ln + 1);
	memcpy(key + ln + 1, pod, lp + 1);
	memcpy(key + ln + 1 + lp + 1, ctr, lc);
	size_t klen = ln + lp + lc + 2;
	uintptr_t at = (uintptr_t)kc_map_get(&pc->idx, key, klen);
	struct rm_scrape *s = pc->out;
	if (at)
		return &s->c[at - 1].s;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->c = xrealloc(s->c, s->cap * sizeof *s->c);
	}
	struct rm_ctr_series *c = &s->c[s->n++];
	memset(c, 0, sizeof *c);
	c->ns = xstrdup(ns);
	c->pod = xstrdup(pod);
	c->ctr = xstrdup(ctr);
	kc_map_put(&pc->idx, key, klen, (void *)(uintptr_t)s->n);
	return &c->s;
}

static bool label_ok(const char *v)
{
	size_t n = v ? strlen(v) : 0;
	return n > 0 && n <= LABEL_VALUE_MAX && !strchr(v, '/');
}

static int on_sample(const struct prom_sample *smp, void *arg)
{
	struct parse_ctx *pc = arg;
	bool cpu;
	int kind; /* 0 node, 1 container */
	if (!strcmp(smp->name, "node_cpu_usage_seconds_total"))
		kind = 0, cpu = true;
	else if (!strcmp(smp->name, "node_memory_working_set_bytes"))
		kind = 0, cpu = false;
	else if (!strcmp(smp->name, "container_cpu_usage_seconds_total"))
		kind = 1, cpu = true;
	else if (!strcmp(smp->name, "container_memory_working_set_bytes"))
		kind = 1, cpu = false;
	else
		return 0;
	if (!isfinite(smp->value) || smp->value < 0)
		return 0;
	struct rm_series *s;
	if (kind == 0) {
		s = &pc->out->node;
	} else {
		const char *ns = prom_label(smp, "namespace"), *pod = prom_label(smp, "pod");
		const char *ctr = prom_label(smp, "container");
		if (!label_ok(ns) || !label_ok(pod) || !label_ok(ctr))
			return 0;
		s = ctr_series(pc, ns, pod, ctr);
	}
	int64_t ts = smp->has_ts ? smp->ts_ms : pc->now_ms;
	if (cpu) {
		s->has_cpu = true;
		s->cpu_s = smp->value;
		s->cpu_ts_ms = ts;
	} else {
		s->has_mem = true;
		s->mem_bytes = smp->value;
		s->mem_ts_ms = ts;
	}
	return 0;
}

static int cmp_ctr(const void *a, const void *b)
{
	const struct rm_ctr_series *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);
	if (!c)
		c = strcmp(x->pod, y->pod);
	if (!c)
		c = strcmp(x->ctr, y->ctr);
	return c;
}

int rm_scrape_parse(const char *body, size_t len, int64_t now_ms, struct rm_scrape *out,
		    struct kc_err *err)
{
	memset(out, 0, sizeof *out);
	struct parse_ctx pc = {.out = out, .now_ms = now_ms};
	kc_map_init(&pc.idx, NULL);
	int rc = prom_parse(body, len, on_sample, &pc, err);
	kc_map_free(&pc.idx);
	if (rc < 0) {
		rm_scrape_free(out);
		return rc;
	}
	if (out->n)
		qsort(out->c, out->n, sizeof *out->c, cmp_ctr);
	return 0;
}

void rm_scrape_free(struct rm_scrape *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->c[i].ns);
		free(s->c[i].pod);
		free(s->c[i].ctr);
	}
	free(s->c);
	memset(s, 0, sizeof *s);
}

struct ctr_key {
	const char *ns, *pod, *ctr;
};

static int cmp_key_ctr(const void *k, const void *e)
{
	const struct ctr_key *x = k;
	const struct rm_ctr_series *y = e;
	int c = strcmp(x->ns, y->ns);
	if (!c)
		c = strcmp(x->pod, y->pod);
	if (!c)
		c = strcmp(x->ctr, y->ctr);
	return c;
}

const struct rm_ctr_series *rm_scrape_find(const struct rm_scrape *s, const char *ns,
					   const char *pod, const char *ctr)
{
	struct ctr_key key = {ns, pod, ctr};
	if (!s->n)
		return NULL;
	return bsearch(&key, s->c, s->n, sizeof *s->c, cmp_key_ctr);
}

int rm_usage_of(const struct rm_series *prev, const struct rm_series *cur, struct rm_usage *out)
{
	if (!prev || !cur || !prev->has_cpu || !cur->has_cpu || !cur->has_mem)
		return -KC_EAGAIN;
	if (cur->cpu_ts_ms <= prev->cpu_ts_ms || cur->cpu_s < prev->cpu_s)
		return -KC_EAGAIN;
	int64_t window = cur->cpu_ts_ms - prev->cpu_ts_ms;
	double nc = (cur->cpu_s - prev->cpu_s) * 1e9 / ((double)window / 1000.0);
	out->nanocores = nc > 0 ? (uint64_t)llround(nc) : 0;
	out->mem_bytes = (uint64_t)llround(cur->mem_bytes);
	out->ts_ms = cur->cpu_ts_ms;
	out->window_ms = window;
	return 0;
}

void rm_format_window(int64_t ms, char *buf, size_t cap)
{
	if (ms <= 0) {
		snprintf(buf, cap, "0s");
		return;
	}
	if (ms < 1000) {
		snprintf(buf, cap, "%lldms", (long long)ms);
		return;
	}
	long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, f = ms % 1000;
	char frac[8] = "";
	if (f) {
		snprintf(frac, sizeof frac, ".%03lld", f);
		for (size_t n = strlen(frac); frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
	}
	if (h)
		snprintf(buf, cap, "%lldh%lldm%lld%ss", h, m, s, frac);
	else if (m)
		snprintf(buf, cap, "%lldm%lld%ss", m, s, frac);
	else
		snprintf(buf, cap, "%lld%ss", s, frac);
}

/* ---- the view ------------------------------------------------------------------------------ */

struct v_node {
	char *name;
	struct rm_usage u;
};

struct v_ctr {
	char *name;
	struct rm_usage u;
};

struct v_pod {
	char *ns, *name;
	int64_t ts_ms, window_ms;
	size_t first, n; /* into view.ctrs */
};

struct view {
	atomic_int refs;
	int64_t made_ms; /* monotonic */
	struct v_node *nodes;
	size_t nnodes;
	struct v_pod *pods;
	size_t npods;
	struct v_ctr *ctrs;
	size_t nctrs;
};

static void view_put(struct view *v)
{
	if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (size_t i = 0; i < v->nnodes; i++)
		free(v->nodes[i].name);
	for (size_t i = 0; i < v->npods; i++) {
		free(v->pods[i].ns);
		free(v->pods[i].name);
	}
	for (size_t i = 0; i < v->nctrs; i++)
		free(v->ctrs[i].name);
	free(v->nodes);
	free(v->pods);
	free(v->ctrs);
	free(v);
}

static int cmp_vnode(const void *a, const void *b)
{
	return strcmp(((const struct v_node *)a)->name, ((const struct v_node *)b)->name);
}

static int cmp_vpod(const void *a, const void *b)
{
	const struct v_pod *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

struct pod_key {
	const char *ns, *name;
};

static int cmp_key_vpod(const void *k, const void *e)
{
	const struct pod_key *x = k;
	const struct v_pod *y = e;
	int c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

static int cmp_name_vnode(const void *k, const void *e)
{
	return strcmp(k, ((const struct v_node *)e)->name);
}

/* ---- the scraper ---------------------------------------------------------------------------- */

struct node_state {
	char name[256];
	struct rm_scrape prev, cur;
	bool have_prev, have_cur;
	bool ok_round; /* answered in the current round */
	int64_t round; /* last round it was part of */
};

struct resmetrics {
	struct registry *reg;
	const struct api_resource *nodes, *pods, *m_nodes, *m_pods;
	struct tls_client_config *tls;
	struct loop *loop;
	uint32_t period_ms;
	/* scraper loop only */
	struct http_client *client;
	struct loop_timer timer;
	struct kc_map states; /* name -> struct node_state * */
	int64_t round;
	bool in_round, stopped;
	unsigned pending;
	/* any thread */
	atomic_bool kick_pending;
	atomic_bool round_done_once;
	pthread_mutex_t mu;
	struct view *view; /* guarded by mu */
};

struct scrape_req {
	struct resmetrics *rm;
	char node[256];
	int64_t round;
};

static int64_t wall_ms(void)
{
	struct kc_clock *c = kc_clock_real();
	return (int64_t)(c->wall_ns(c) / 1000000u);
}

static int64_t mono_ms(void)
{
	return (int64_t)kc_mono_ms(kc_clock_real());
}

static void publish(struct resmetrics *rm)
{
	struct view *v = xcalloc(1, sizeof *v);
	atomic_init(&v->refs, 1);
	v->made_ms = mono_ms();
	size_t pos = 0, cap_n = 0, cap_p = 0, cap_c = 0;
	const void *k;
	size_t kl;
	void *val;
	while (kc_map_next(&rm->states, &pos, &k, &kl, &val)) {
		struct node_state *ns = val;
		if (!ns->ok_round || ns->round != rm->round || !ns->have_prev || !ns->have_cur)
			continue;
		struct rm_usage u;
		if (rm_usage_of(&ns->prev.node, &ns->cur.node, &u) == 0) {
			if (v->nnodes == cap_n) {
				cap_n = cap_n ? cap_n * 2 : 8;
				v->nodes = xrealloc(v->nodes, cap_n * sizeof *v->nodes);
			}
			v->nodes[v->nnodes++] = (struct v_node){.name = xstrdup(ns->name), .u = u};
		}
		/* pods: the current scrape's containers grouped by (ns, pod); a pod is served only
		 * when every one of its containers has a rate */
		const struct rm_scrape *cur = &ns->cur;
		for (size_t i = 0; i < cur->n;) {
			size_t j = i;
			while (j < cur->n && !strcmp(cur->c[j].ns, cur->c[i].ns) &&
			       !strcmp(cur->c[j].pod, cur->c[i].pod))
				j++;
			bool all = true;
			struct rm_usage us[64];
			if (j - i > 64)
				all = false;
			for (size_t x = i; x < j && all; x++) {
				const struct rm_ctr_series *p = rm_scrape_find(
					&ns->prev, cur->c[x].ns, cur->c[x].pod, cur->c[x].ctr);
				all = p && rm_usage_of(&p->s, &cur->c[x].s, &us[x - i]) == 0;
			}
			if (all) {
				if (v->npods == cap_p) {
					cap_p = cap_p ? cap_p * 2 : 16;
					v->pods = xrealloc(v->pods, cap_p * sizeof *v->pods);
				}
				struct v_pod *vp = &v->pods[v->npods++];
				*vp = (struct v_pod){.ns = xstrdup(cur->c[i].ns),
						     .name = xstrdup(cur->c[i].pod),
						     .first = v->nctrs,
						     .n = j - i};
				for (size_t x = i; x < j; x++) {
					if (v->nctrs == cap_c) {
						cap_c = cap_c ? cap_c * 2 : 32;
						v->ctrs =
							xrealloc(v->ctrs, cap_c * sizeof *v->ctrs);
					}
					v->ctrs[v->nctrs++] = (struct v_ctr){
						.name = xstrdup(cur->c[x].ctr), .u = us[x - i]};
					if (us[x - i].ts_ms > vp->ts_ms)
						vp->ts_ms = us[x - i].ts_ms;
					if (us[x - i].window_ms > vp->window_ms)
						vp->window_ms = us[x - i].window_ms;
				}
			}
			i = j;
		}
	}
	if (v->nnodes)
		qsort(v->nodes, v->nnodes, sizeof *v->nodes, cmp_vnode);
	/* the containers stay where they are: pods point at them by index */
	if (v->npods)
		qsort(v->pods, v->npods, sizeof *v->pods, cmp_vpod);
	pthread_mutex_lock(&rm->mu);
	struct view *old = rm->view;
	rm->view = v;
	pthread_mutex_unlock(&rm->mu);
	view_put(old);
	atomic_store(&rm->round_done_once, true);
	log_debug("metrics: round=%lld nodes=%zu pods=%zu", (long long)rm->round, v->nnodes,
		  v->npods);
}

static void round_end(struct resmetrics *rm)
{
	rm->in_round = false;
	/* forget nodes that were not part of this round (deleted, or no longer listed) */
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *val;
	char gone[64][256];
	size_t ngone = 0;
	while (kc_map_next(&rm->states, &pos, &k, &kl, &val)) {
		struct node_state *ns = val;
		if (ns->round != rm->round && ngone < 64)
			snprintf(gone[ngone++], sizeof gone[0], "%s", ns->name);
	}
	for (size_t i = 0; i < ngone; i++)
		kc_map_sdel(&rm->states, gone[i]);
	publish(rm);
	if (!rm->stopped)
		loop_timer_start(rm->loop, &rm->timer, rm->period_ms);
}

static void scrape_done(struct http_client_req *hr, int rc, struct http_client_response *resp,
			const struct kc_err *err, void *arg)
{
	(void)hr;
	struct scrape_req *sr = arg;
	struct resmetrics *rm = sr->rm;
	if (rm->stopped) {
		free(sr);
		return;
	}
	struct node_state *ns = kc_map_sget(&rm->states, sr->node);
	if (ns && sr->round == rm->round) {
		if (rc < 0 || resp->status != 200) {
			log_info("metrics: scrape failed node=%s status=%d err=\"%s\"", sr->node,
				 resp ? resp->status : 0, rc < 0 ? err->msg : "");
		} else {
			struct rm_scrape sc;
			struct kc_err perr = {0};
			if (rm_scrape_parse(resp->body, resp->body_len, wall_ms(), &sc, &perr) <
			    0) {
				log_info("metrics: bad scrape node=%s err=\"%s\"", sr->node,
					 perr.msg);
			} else if (ns->have_cur && sc.node.cpu_ts_ms == ns->cur.node.cpu_ts_ms) {
				/* the same sample again: keep the pair we have */
				rm_scrape_free(&sc);
				ns->ok_round = true;
			} else {
				rm_scrape_free(&ns->prev);
				ns->prev = ns->cur;
				ns->have_prev = ns->have_cur;
				ns->cur = sc;
				ns->have_cur = true;
				ns->ok_round = true;
			}
		}
	}
	free(sr);
	if (--rm->pending == 0)
		round_end(rm);
}

static void node_state_free(void *p)
{
	struct node_state *ns = p;
	rm_scrape_free(&ns->prev);
	rm_scrape_free(&ns->cur);
	free(ns);
}

static bool node_ready(const cJSON *node)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(node, "status.conditions"))
	{
		const char *t = kc_json_get_str(c, "type"), *s = kc_json_get_str(c, "status");
		if (t && s && !strcmp(t, "Ready"))
			return !strcmp(s, "True");
	}
	return false;
}

static void scrape_node(struct resmetrics *rm, const cJSON *node)
{
	const char *name = kc_json_get_str(node, "metadata.name");
	if (!name || strlen(name) >= 256 || !node_ready(node))
		return;
	char ip[64] = "";
	const cJSON *a;
	cJSON_ArrayForEach(a, kc_json_get(node, "status.addresses"))
	{
		const char *t = kc_json_get_str(a, "type"), *v = kc_json_get_str(a, "address");
		if (t && v && !strcmp(t, "InternalIP") && strlen(v) < sizeof ip) {
			snprintf(ip, sizeof ip, "%s", v);
			break;
		}
	}
	long long port = 0;
	if (!*ip ||
	    kc_json_get_i64(node, "status.daemonEndpoints.kubeletEndpoint.Port", &port) < 0 ||
	    port < 1 || port > 65535)
		return;
	struct node_state *ns = kc_map_sget(&rm->states, name);
	if (!ns) {
		ns = xcalloc(1, sizeof *ns);
		snprintf(ns->name, sizeof ns->name, "%s", name);
		kc_map_sput(&rm->states, ns->name, ns);
	}
	ns->round = rm->round;
	ns->ok_round = false;
	char url[160];
	snprintf(url, sizeof url, "https://%s%s%s:%lld/metrics/resource",
		 strchr(ip, ':') ? "[" : "", ip, strchr(ip, ':') ? "]" : "", port);
	struct scrape_req *sr = xcalloc(1, sizeof *sr);
	sr->rm = rm;
	sr->round = rm->round;
	snprintf(sr->node, sizeof sr->node, "%s", name);
	struct http_client_request r = {.method = "GET",
					.url = url,
					.on_done = scrape_done,
					.arg = sr,
					.timeout_ms = RM_SCRAPE_TIMEOUT_MS};
	struct kc_err err = {0};
	if (http_client_submit(rm->client, &r, NULL, &err) < 0) {
		log_info("metrics: cannot scrape node=%s err=\"%s\"", name, err.msg);
		free(sr);
		return;
	}
	rm->pending++;
}

static void nodes_listed(void *arg, struct reg_list *list, const struct api_error *e)
{
	struct resmetrics *rm = arg;
	if (rm->stopped)
		return;
	if (e) {
		log_info("metrics: cannot list nodes err=\"%s\"", e->message);
		rm->pending = 0;
		return round_end(rm);
	}
	rm->pending = 1; /* held until every request is submitted */
	for (size_t i = 0; i < list->n; i++)
		if (list->items[i].obj)
			scrape_node(rm, list->items[i].obj);
	if (--rm->pending == 0)
		round_end(rm);
}

static void start_round(struct resmetrics *rm)
{
	if (rm->stopped || rm->in_round)
		return;
	loop_timer_stop(rm->loop, &rm->timer);
	rm->in_round = true;
	rm->round++;
	struct reg_list_opts o = {.parse = true};
	registry_list(rm->reg, rm->loop, rm->nodes, &o, nodes_listed, rm);
}

static void on_timer(struct loop *l, struct loop_timer *t)
{
	(void)l;
	start_round(t->data);
}

static void on_kick(struct loop *l, void *arg)
{
	(void)l;
	struct resmetrics *rm = arg;
	atomic_store(&rm->kick_pending, false);
	start_round(rm);
}

static void on_start(struct loop *l, void *arg)
{
	struct resmetrics *rm = arg;
	struct http_client_config hc = {.tls = rm->tls,
					.max_body_bytes = RM_MAX_BODY,
					.connect_timeout_ms = 5000,
					.request_timeout_ms = RM_SCRAPE_TIMEOUT_MS,
					.max_idle_per_origin = 1};
	rm->client = http_client_new(l, &hc);
	loop_timer_init(&rm->timer, on_timer, rm);
	start_round(rm);
}

struct resmetrics *resmetrics_new(const struct resmetrics_config *cfg)
{
	struct resmetrics *rm = xcalloc(1, sizeof *rm);
	rm->reg = cfg->reg;
	rm->nodes = schema_resource(cfg->schema, "", "v1", "nodes");
	rm->pods = schema_resource(cfg->schema, "", "v1", "pods");
	rm->m_nodes = schema_resource(cfg->schema, "metrics.k8s.io", "v1beta1", "nodes");
	rm->m_pods = schema_resource(cfg->schema, "metrics.k8s.io", "v1beta1", "pods");
	rm->tls = cfg->tls;
	rm->loop = cfg->loop;
	rm->period_ms = cfg->period_ms ? cfg->period_ms : RM_PERIOD_MS;
	kc_map_init(&rm->states, node_state_free);
	pthread_mutex_init(&rm->mu, NULL);
	atomic_init(&rm->kick_pending, true); /* the start below is the first kick */
	loop_call(rm->loop, on_start, rm);
	return rm;
}

void resmetrics_stop(struct resmetrics *rm)
{
	if (!rm || rm->stopped)
		return;
	rm->stopped = true;
	if (rm->client) {
		loop_timer_stop(rm->loop, &rm->timer);
		http_client_free(rm->client);
		rm->client = NULL;
	}
}

void resmetrics_free(struct resmetrics *rm)
{
	if (!rm)
		return;
	if (rm->client)
		http_client_free(rm->client);
	kc_map_free(&rm->states);
	view_put(rm->view);
	pthread_mutex_destroy(&rm->mu);
	free(rm);
}

/* A reference to the current view (NULL before the first round); kicks a round when the view
 * is missing or older than two periods. */
static struct view *view_get(struct resmetrics *rm)
{
	pthread_mutex_lock(&rm->mu);
	struct view *v = rm->view;
	if (v)
		atomic_fetch_add(&v->refs, 1);
	pthread_mutex_unlock(&rm->mu);
	bool stale = !v || mono_ms() - v->made_ms > 2 * (int64_t)rm->period_ms;
	if (stale && !atomic_exchange(&rm->kick_pending, true))
		loop_call(rm->loop, on_kick, rm);
	return v;
}

/* ---- serving ---------------------------------------------------------------------------------- */

struct mreq {
	struct resmetrics *rm;
	struct http_req *req;
	const struct api_resource *res; /* the metrics resource */
	bool pods, table;
	char name[REG_NAME_MAX + 1];
	struct view *view;
	struct label_selector *ls;
};

static void mreq_free(struct mreq *m)
{
	view_put(m->view);
	label_selector_free(m->ls);
	free(m);
}

static void respond_err(struct http_req *req, const struct api_error *e)
{
	struct kc_str out = KC_STR_INIT;
	api_err_json(e, &out);
	http_respond(req, e->code ? e->code : 500, JSON_CT, out.buf, out.len);
	kc_str_free(&out);
}

static void format_time(int64_t ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *usage_json(const struct rm_usage *u)
{
	cJSON *o = cJSON_CreateObject();
	char b[48];
	snprintf(b, sizeof b, "%llun", (unsigned long long)u->nanocores);
	cJSON_AddStringToObject(o, "cpu", b);
	if (u->mem_bytes % 1024 == 0)
		snprintf(b, sizeof b, "%lluKi", (unsigned long long)(u->mem_bytes / 1024));
	else
		snprintf(b, sizeof b, "%llu", (unsigned long long)u->mem_bytes);
	cJSON_AddStringToObject(o, "memory", b);
	return o;
}

/* The metrics object for a Node or Pod 'obj' (borrowed), or NULL when the view has no usage. */
static cJSON *metrics_object(const struct mreq *m, const cJSON *obj)
{
	const char *name = kc_json_get_str(obj, "metadata.name");
	const char *ns = kc_json_get_str(obj, "metadata.namespace");
	if (!name || !m->view)
		return NULL;
	const struct view *v = m->view;
	int64_t ts, window;
	const struct v_node *vn = NULL;
	const struct v_pod *vp = NULL;
	if (m->pods) {
		struct pod_key key = {ns ? ns : "", name};
		vp = v->npods ? bsearch(&key, v->pods, v->npods, sizeof *v->pods, cmp_key_vpod)
			      : NULL;
		if (!vp)
			return NULL;
		ts = vp->ts_ms;
		window = vp->window_ms;
	} else {
		vn = v->nnodes
			     ? bsearch(name, v->nodes, v->nnodes, sizeof *v->nodes, cmp_name_vnode)
			     : NULL;
		if (!vn)
			return NULL;
		ts = vn->u.ts_ms;
		window = vn->u.window_ms;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", m->res->kind);
	cJSON_AddStringToObject(o, "apiVersion", m->res->group_version);
	cJSON *md = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	if (ns)
		cJSON_AddStringToObject(md, "namespace", ns);
	char b[48];
	format_time(wall_ms(), b, sizeof b); /* metrics-server: the object is made now */
	cJSON_AddStringToObject(md, "creationTimestamp", b);
	const cJSON *labels = kc_json_get(obj, "metadata.labels");
	if (labels)
		cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(labels, true));
	format_time(ts, b, sizeof b);
	cJSON_AddStringToObject(o, "timestamp", b);
	rm_format_window(window, b, sizeof b);
	cJSON_AddStringToObject(o, "window", b);
	if (vn) {
		cJSON_AddItemToObject(o, "usage", usage_json(&vn->u));
	} else {
		cJSON *cs = cJSON_AddArrayToObject(o, "containers");
		for (size_t i = 0; i < vp->n; i++) {
			const struct v_ctr *c = &v->ctrs[vp->first + i];
			cJSON *co = cJSON_CreateObject();
			cJSON_AddStringToObject(co, "name", c->name);
			cJSON_AddItemToObject(co, "usage", usage_json(&c->u));
			cJSON_AddItemToArray(cs, co);
		}
	}
	return o;
}

static void listed(void *arg, struct reg_list *list, const struct api_error *e)
{
	struct mreq *m = arg;
	if (e) {
		respond_err(m->req, e);
		return mreq_free(m);
	}
	struct kc_str out = KC_STR_INIT;
	int64_t now = (int64_t)time(NULL);
	bool get = m->name[0] != '\0';
	size_t count = 0;
	if (!get) {
		if (m->table) {
			kc_str_adds(&out, "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\","
					  "\"metadata\":{},\"columnDefinitions\":");
			table_columns_json(m->res, &out);
			kc_str_adds(&out, ",\"rows\":[");
		} else {
			kc_str_adds(&out, "{\"kind\":");
			kc_json_write_string(&out, m->res->list_kind);
			kc_str_adds(&out, ",\"apiVersion\":");
			kc_json_write_string(&out, m->res->group_version);
			kc_str_adds(&out, ",\"metadata\":{},\"items\":[");
		}
	}
	for (size_t i = 0; i < list->n; i++) {
		const cJSON *obj = list->items[i].obj;
		const char *name = kc_json_get_str(obj, "metadata.name");
		if (!name || (get && strcmp(name, m->name)))
			continue;
		cJSON *mo = metrics_object(m, obj);
		if (!mo)
			continue;
		if (count++)
			kc_str_addc(&out, ',');
		if (get && m->table) {
			kc_str_adds(&out, "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\","
					  "\"metadata\":{},\"columnDefinitions\":");
			table_columns_json(m->res, &out);
			kc_str_adds(&out, ",\"rows\":[");
			table_row_json(m->res, mo, now, true, &out);
			kc_str_adds(&out, "]}");
		} else if (m->table) {
			table_row_json(m->res, mo, now, true, &out);
		} else {
			kc_json_write(&out, mo);
		}
		cJSON_Delete(mo);
		if (get)
			break;
	}
	if (get && !count) {
		kc_str_free(&out);
		struct api_error ae = {0};
		api_err(&ae, 404, "NotFound", "%s.%s \"%s\" not found", m->res->singular,
			m->res->group, m->name);
		respond_err(m->req, &ae);
		return mreq_free(m);
	}
	if (!get)
		kc_str_adds(&out, "]}");
	http_respond(m->req, 200, m->table ? TABLE_CT : JSON_CT, out.buf, out.len);
	kc_str_free(&out);
	mreq_free(m);
}

void resmetrics_serve(struct resmetrics *rm, struct http_req *req, const struct api_resource *res,
		      const char *ns, const char *name, bool table)
{
	struct api_error e = {0};
	if (!rm || !rm->nodes || !rm->pods) {
		api_err(&e, 503, "ServiceUnavailable", "the metrics API is not available");
		return respond_err(req, &e);
	}
	struct mreq *m = xcalloc(1, sizeof *m);
	m->rm = rm;
	m->req = req;
	m->res = res;
	m->pods = res == rm->m_pods;
	m->table = table;
	snprintf(m->name, sizeof m->name, "%s", name ? name : "");
	struct kc_err err = {0};
	if (!m->name[0] &&
	    label_selector_parse(http_req_query(req, "labelSelector"), &m->ls, &err) < 0) {
		api_err(&e, 400, "BadRequest", "%s", err.msg);
		respond_err(req, &e);
		return mreq_free(m);
	}
	m->view = view_get(rm);
	struct reg_list_opts o = {.ns = m->pods ? ns : NULL, .labels = m->ls, .parse = true};
	registry_list(rm->reg, http_req_loop(req), m->pods ? rm->pods : rm->nodes, &o, listed, m);
}
