/* kvload.c - load generator for any etcd-v3-JSON-gateway endpoint (etcd itself or kc's store):
 * N concurrent keep-alive connections on one event loop, each with one request in flight, doing
 * puts of random keys or ranges of one key, for a fixed count or duration; prints requests/s and
 * p50/p99/p999 latency.
 *
 *   kvload --endpoint http://127.0.0.1:2379 --clients 64 --total 20000 [--mode put|range]
 *          [--consistency l|s] [--duration SECONDS] [--val-size 256] [--keys 100000]
 *
 * The last line is machine-readable: "RESULT mode clients requests errors rate p50_ms p99_ms
 * p999_ms". */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/err.h"
#include "lib/str.h"
#include "net/http_client.h"
#include "net/loop.h"

struct bench {
	struct loop *l;
	struct http_client *c;
	const char *endpoint;
	char url[512];
	bool range;
	bool serializable;
	unsigned clients;
	uint64_t total;          /* 0: by duration */
	uint64_t duration_ms;
	size_t val_size;
	uint64_t keys;
	struct kc_str value_b64;
	uint64_t started, done, errors;
	uint64_t t0_ns, deadline_ns;
	uint64_t *lat;           /* ns, one per completed request */
	size_t nlat, caplat;
	unsigned inflight;
	uint64_t rng;
	char first_error[256];
};

struct one {
	struct bench *b;
	uint64_t t_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t next_rand(struct bench *b)
{
	/* xorshift64*: fast and good enough for key choice */
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 2685821657736338717ull;
}

static void start_one(struct bench *b);

static void on_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		    const struct kc_err *err, void *arg)
{
	struct one *o = arg;
	struct bench *b = o->b;
	uint64_t t = now_ns();
	(void)req;
	b->inflight--;
	b->done++;
	if (rc < 0 || resp->status != 200) {
		b->errors++;
		if (!b->first_error[0])
			snprintf(b->first_error, sizeof(b->first_error), "%s",
				 rc < 0 ? err->msg : (resp->body ? resp->body : "bad status"));
	} else {
		if (b->nlat == b->caplat) {
			b->caplat = b->caplat ? b->caplat * 2 : 65536;
			b->lat = xrealloc(b->lat, b->caplat * sizeof(*b->lat));
		}
		b->lat[b->nlat++] = t - o->t_ns;
	}
	free(o);
	start_one(b);
	if (b->inflight == 0)
		loop_stop(b->l);
}

static void start_one(struct bench *b)
{
	if (b->total ? b->started >= b->total : now_ns() >= b->deadline_ns)
		return;
	struct kc_str body;
	char key[64];
	kc_str_init(&body);
	if (b->range) {
		snprintf(key, sizeof(key), "kvload/range");
	} else {
		snprintf(key, sizeof(key), "kvload/%016" PRIx64, next_rand(b) % b->keys);
	}
	kc_str_adds(&body, "{\"key\":\"");
	kc_base64_encode(&body, key, strlen(key), KC_B64_STD);
	if (b->range) {
		kc_str_addf(&body, "\",\"serializable\":%s}", b->serializable ? "true" : "false");
	} else {
		kc_str_adds(&body, "\",\"value\":\"");
		kc_str_add(&body, b->value_b64.buf, b->value_b64.len);
		kc_str_adds(&body, "\"}");
	}
	struct one *o = xmalloc(sizeof(*o));
	o->b = b;
	o->t_ns = now_ns();
	struct http_client_header hdr = { "Content-Type", "application/json" };
	struct http_client_request r = {
		.method = "POST", .url = b->url, .headers = &hdr, .nheaders = 1,
		.body = body.buf, .body_len = body.len, .timeout_ms = 30000,
		.on_done = on_done, .arg = o,
	};
	struct kc_err err = { 0 };
	b->started++;
	b->inflight++;
	if (http_client_submit(b->c, &r, NULL, &err) < 0) {
		fprintf(stderr, "kvload: %s\n", err.msg);
		exit(1);
	}
	kc_str_free(&body);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const struct bench *b, double p)
{
	if (b->nlat == 0)
		return 0;
	size_t i = (size_t)(p * (double)(b->nlat - 1) + 0.5);
	return (double)b->lat[i] / 1e6;
}

static void kick(struct loop *l, void *arg)
{
	struct bench *b = arg;
	(void)l;
	b->t0_ns = now_ns();
	b->deadline_ns = b->t0_ns + b->duration_ms * 1000000u;
	for (unsigned i = 0; i < b->clients; i++)
		start_one(b);
	if (b->inflight == 0)
		loop_stop(b->l);
}

/* A blocking put of the key the range mode reads, so ranges find one 256-byte value. */
static int seed_range_key(struct bench *b)
{
	struct kc_str body;
	struct http_client_response resp = { 0 };
	struct kc_err err = { 0 };
	char url[600];
	kc_str_init(&body);
	kc_str_adds(&body, "{\"key\":\"");
	kc_base64_encode(&body, "kvload/range", 12, KC_B64_STD);
	kc_str_adds(&body, "\",\"value\":\"");
	kc_str_add(&body, b->value_b64.buf, b->value_b64.len);
	kc_str_adds(&body, "\"}");
	snprintf(url, sizeof(url), "%s/v3/kv/put", b->endpoint);
	int rc = http_client_do(NULL, "POST", url, NULL, 0, body.buf, body.len, &resp, &err);
	kc_str_free(&body);
	if (rc < 0 || resp.status != 200) {
		fprintf(stderr, "kvload: %s: %s\n", url,
			rc < 0 ? err.msg : (resp.body ? resp.body : "bad status"));
		http_client_response_free(&resp);
		return -1;
	}
	http_client_response_free(&resp);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: kvload --endpoint URL [--clients N] [--total N | --duration S] "
			"[--mode put|range] [--consistency l|s] [--val-size B] [--keys N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	b.endpoint = "http://127.0.0.1:2379";
	b.clients = 1;
	b.total = 10000;
	b.val_size = 256;
	b.keys = 100000;
	b.rng = (uint64_t)now_ns() | 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--endpoint") == 0)
			b.endpoint = v;
		else if (strcmp(a, "--clients") == 0)
			b.clients = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--total") == 0)
			b.total = strtoull(v, NULL, 10);
		else if (strcmp(a, "--duration") == 0) {
			b.duration_ms = (uint64_t)(strtod(v, NULL) * 1000);
			b.total = 0;
		} else if (strcmp(a, "--mode") == 0) {
			if (strcmp(v, "range") == 0)
				b.range = true;
			else if (strcmp(v, "put") != 0)
				usage();
		} else if (strcmp(a, "--consistency") == 0) {
			b.serializable = v[0] == 's';
		} else if (strcmp(a, "--val-size") == 0) {
			b.val_size = strtoul(v, NULL, 10);
		} else if (strcmp(a, "--keys") == 0) {
			b.keys = strtoull(v, NULL, 10);
		} else {
			usage();
		}
	}
	if (b.clients == 0 || b.clients > 10000 || b.keys == 0 || (b.total == 0 && !b.duration_ms))
		usage();
	char *val = xmalloc(b.val_size + 1);
	for (size_t i = 0; i < b.val_size; i++)
		val[i] = (char)('a' + i % 26);
	kc_str_init(&b.value_b64);
	kc_base64_encode(&b.value_b64, val, b.val_size, KC_B64_STD);
	free(val);
	snprintf(b.url, sizeof(b.url), "%s/v3/kv/%s", b.endpoint, b.range ? "range" : "put");
	if (b.range && seed_range_key(&b) < 0)
		return 1;

	b.l = loop_new(NULL);
	if (!b.l) {
		fprintf(stderr, "kvload: cannot create a loop\n");
		return 1;
	}
	struct http_client_config cfg = { .max_idle_per_origin = b.clients,
					   .max_conns = b.clients };
	b.c = http_client_new(b.l, &cfg);
	loop_call(b.l, kick, &b);
	loop_run(b.l);
	uint64_t elapsed = now_ns() - b.t0_ns;
	struct http_client_stats st;
	http_client_get_stats(b.c, &st);
	http_client_free(b.c);
	loop_free(b.l);

	qsort(b.lat, b.nlat, sizeof(*b.lat), cmp_u64);
	double secs = (double)elapsed / 1e9;
	double rate = secs > 0 ? (double)b.nlat / secs : 0;
	const char *mode = b.range ? (b.serializable ? "range-s" : "range-l") : "put";
	printf("endpoint=%s mode=%s clients=%u requests=%" PRIu64 " errors=%" PRIu64
	       " conns_opened=%" PRIu64 " seconds=%.2f rate=%.0f/s p50=%.2fms p99=%.2fms "
	       "p999=%.2fms\n", b.endpoint, mode, b.clients, b.done, b.errors, st.conns_opened,
	       secs, rate, pct(&b, 0.5), pct(&b, 0.99), pct(&b, 0.999));
	if (b.errors)
		printf("first error: %s\n", b.first_error);
	printf("RESULT %s %u %" PRIu64 " %" PRIu64 " %.0f %.3f %.3f %.3f\n", mode, b.clients,
	       b.done, b.errors, rate, pct(&b, 0.5), pct(&b, 0.99), pct(&b, 0.999));
	free(b.lat);
	kc_str_free(&b.value_b64);
	return b.errors && b.nlat == 0 ? 1 : 0;
}
