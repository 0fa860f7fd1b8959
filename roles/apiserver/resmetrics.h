/* resmetrics.h - the resource metrics API (metrics.k8s.io/v1beta1 nodes and pods), served the
 * way metrics-server does: every Ready node's /metrics/resource is scraped on a period through
 * the node proxy's TLS client, two samples per series are kept, and CPU is served as a rate
 * (nanocores over the window between the samples) with the latest memory working set. */
#ifndef KC_ROLES_APISERVER_RESMETRICS_H
#define KC_ROLES_APISERVER_RESMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct http_req;
struct loop;
struct registry;
struct schema;
struct api_resource;
struct tls_client_config;
struct resmetrics;

#define RM_PERIOD_MS                                                                               \
	10000u /* scrape period, as metrics-server's default --metric-resolution=15s
				 * shortened so that the first rate is there sooner */
#define RM_SCRAPE_TIMEOUT_MS 8000u
#define RM_MAX_BODY	     ((size_t)8 << 20)

/* ---- pure parts (unit tested) ---------------------------------------------------------------- */

/* One cumulative CPU counter and one memory gauge, each with its sample time. */
struct rm_series {
	bool has_cpu, has_mem;
	double cpu_s; /* core-seconds since start */
	int64_t cpu_ts_ms;
	double mem_bytes; /* working set */
	int64_t mem_ts_ms;
};

struct rm_ctr_series {
	char *ns, *pod, *ctr; /* owned */
	struct rm_series s;
};

/* One scrape of one node: the node's series and the containers' (sorted by ns, pod, ctr). */
struct rm_scrape {
	struct rm_series node;
	struct rm_ctr_series *c;
	size_t n, cap;
};

/* Parses a /metrics/resource body (untrusted; lib/promtext limits, plus the label values must
 * be names of at most 253 bytes) into out (zeroed first; free with rm_scrape_free). Samples
 * without a timestamp get now_ms; NaN, infinite or negative values are ignored; a series seen
 * twice keeps the last sample. Returns 0 or a negative code with err. */
int rm_scrape_parse(const char *body, size_t len, int64_t now_ms, struct rm_scrape *out,
		    struct kc_err *err);
void rm_scrape_free(struct rm_scrape *s);
/* The container series ns/pod/ctr in s, or NULL. */
const struct rm_ctr_series *rm_scrape_find(const struct rm_scrape *s, const char *ns,
					   const char *pod, const char *ctr);

struct rm_usage {
	uint64_t nanocores; /* Δcpu / Δt */
	uint64_t mem_bytes; /* the newer sample's working set */
	int64_t ts_ms;	    /* the newer CPU sample's time: the end of the window */
	int64_t window_ms;  /* Δt */
};

/* metrics-server's rate: both samples have CPU and memory, the newer one is strictly later and
 * its counter not lower (a lower one means the series restarted). Returns 0 with out filled,
 * or -KC_EAGAIN when no rate can be computed yet. */
int rm_usage_of(const struct rm_series *prev, const struct rm_series *cur, struct rm_usage *out);

/* Go's time.Duration String() of a window in ms ("10.02s", "1m0.5s", "500ms"). buf >= 32. */
void rm_format_window(int64_t ms, char *buf, size_t cap);

/* ---- the service ------------------------------------------------------------------------------- */

struct resmetrics_config {
	struct registry *reg;	       /* borrowed; must outlive it */
	const struct schema *schema;   /* borrowed */
	struct tls_client_config *tls; /* borrowed: the node proxy's kubelet client identity */
	struct loop *loop;	       /* the loop the scraper runs on; borrowed */
	uint32_t period_ms;	       /* 0: RM_PERIOD_MS */
};

/* Creates the service and schedules its first scrape on cfg->loop (any thread, before or after
 * that loop runs). Never fails (allocation aborts). */
struct resmetrics *resmetrics_new(const struct resmetrics_config *cfg);
/* On the scraper loop's thread: stops the period and abandons scrapes in flight. Idempotent. */
void resmetrics_stop(struct resmetrics *rm);
/* After the scraper loop has stopped running (and every request finished). NULL is a no-op. */
void resmetrics_free(struct resmetrics *rm);

/* Serves an authorized get or list of metrics resource 'res' (nodes or pods of
 * metrics.k8s.io; ns "" lists pods of every namespace; name NULL or "" lists) as JSON or, when
 * table, a meta.k8s.io/v1 Table; query labelSelector applies to the Node or Pod objects. Takes
 * req over and finishes it on its loop. rm NULL answers 503. */
void resmetrics_serve(struct resmetrics *rm, struct http_req *req, const struct api_resource *res,
		      const char *ns, const char *name, bool table);

#endif
