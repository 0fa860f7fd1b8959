/* faultload.c - the client side of kc's store fault test (tests/integration/t_store_fault.sh):
 * drives an etcd-v3-JSON-gateway store (kc's, or etcd itself) with put / get / compare-and-swap
 * from N concurrent clients against random members while a nemesis breaks the cluster, records
 * the history, watches the key prefix on every member, and checks the result:
 *   - the history is linearizable (tests/fault/linearize.h; timeouts and errors of writes are
 *     unknown outcomes, reads are linearizable ranges);
 *   - per watcher: event revisions strictly increase, across reconnects too (a reconnect asks for
 *     start_revision = last seen + 1), so nothing is duplicated or goes back in time;
 *   - watchers agree: one revision carries the same key, type and value on every member;
 *   - every acknowledged write shows up in every watcher's stream, exactly once, at the revision
 *     the write reported, and every event is a write some client issued;
 *   - acknowledged writes have distinct revisions that follow real time (a write acknowledged
 *     before another was invoked has the smaller revision).
 *
 *   faultload run --endpoints URL,URL,... [--clients 8] [--keys 12] [--duration SECONDS]
 *                 [--prefix /fault/] [--timeout-ms 2500] [--seed N] [--history FILE]
 *                 [--watch-log FILE] [--heal-file FILE] [--final-timeout SECONDS] [--no-watch]
 *       Load for --duration, then (once --heal-file exists, when given) final reads of every key
 *       from every member, then waits for the watchers to catch up, then checks. Exit 0: no
 *       anomaly; 1: an anomaly (printed); 2: usage or setup error.
 *   faultload check --history FILE
 *       The linearizability check alone, on a history a run saved.
 *   faultload fill --endpoint URL --keys N [--rounds R] [--prefix P]
 *       Writes N keys R times (32 in flight); prints "REV <header revision>".
 *   faultload compact-kill --endpoint URL --pid PID [--delay-ms D]
 *       Reads the current revision, asks for a physical compaction to it and sends SIGKILL to
 *       PID (a store member the calling test started) D ms after sending the request; prints
 *       "BEFORE <revision> COMPACT <revision> ACKED <0|1>".
 *   faultload probe --endpoint URL --min-rev R [--compacted C] [--wait SECONDS]
 *       Waits for the member to answer, then checks: its revision >= R; with C > 0, a read at
 *       C - 1 is refused as compacted; a new write gets a revision > R. Exit 1 with the reason
 *       when not.
 *
 * One thread, one event loop, one http_client; every callback runs on that loop. Times in the
 * history are nanoseconds since the start of the run on CLOCK_MONOTONIC. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/map.h"
#include "lib/str.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "tests/fault/linearize.h"

#define MAX_ENDPOINTS 16
#define MAX_CLIENTS 256
#define MAX_KEYS 1024
#define WATCH_LINE_MAX ((size_t)8 << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void add_b64(struct kc_str *s, const char *v)
{
	kc_str_addc(s, '"');
	kc_base64_encode(s, v, strlen(v), KC_B64_STD);
	kc_str_addc(s, '"');
}

/* Decodes a base64 JSON string member into a heap string (NULL when absent or bad). */
static char *get_b64(const cJSON *o, const char *name)
{
	const char *v = kc_json_get_str(o, name);
	if (!v)
		return NULL;
	struct kc_str out = KC_STR_INIT;
	struct kc_err err;
	if (kc_base64_decode(&out, v, strlen(v), KC_B64_STD, &err) < 0) {
		kc_str_free(&out);
		return NULL;
	}
	return kc_str_detach(&out, NULL);
}

/* An int64 etcd writes as a string (or a number). 0 when absent. */
static int64_t get_i64s(const cJSON *o, const char *path)
{
	const cJSON *v = kc_json_get(o, path);
	long long x = 0;
	if (v && cJSON_IsString(v))
		kc_parse_i64(v->valuestring, INT64_MIN, INT64_MAX, &x);
	else if (v)
		kc_json_as_i64(v, &x);
	return x;
}

/* ---------------------------------------------------------------------------------------------
 * run */

enum phase { PH_LOAD, PH_WAIT_HEAL, PH_FINAL, PH_DRAIN, PH_DONE };

struct run;

struct client {
	struct run *r;
	unsigned id;
	uint64_t seq;
	bool busy;
	struct lin_op op;
	char key[256], value[64], expected[64];
	char *observed;              /* of the op in flight */
	char **known;                /* per key: last value seen (heap) or NULL */
	size_t final_item;           /* PH_FINAL: the item read */
	uint64_t t_invoke;
	struct loop_timer pause;
};

struct wevent {
	int64_t rev;
	char *key;
	char *value;                 /* NULL: delete */
};

struct watcher {
	struct run *r;
	unsigned id;
	unsigned ep;
	struct http_client_req *req;
	struct kc_str line;
	int64_t last_rev;
	unsigned reconnects;
	bool compacted;              /* the store cut the history: exactly-once no longer checked */
	struct wevent *ev;
	size_t nev, capev;
	struct loop_timer retry;
};

struct run {
	struct loop *l;
	struct http_client *c;
	const char *eps[MAX_ENDPOINTS];
	size_t neps;
	unsigned nclients, nkeys;
	const char *prefix;
	uint32_t timeout_ms;
	uint64_t duration_ns, final_timeout_ns;
	const char *heal_file;
	bool watch;
	uint64_t rng;
	uint64_t t0, phase_t;
	enum phase phase;
	struct client *clients;
	struct watcher *watchers;
	size_t nwatchers;
	struct lin_history *h;
	FILE *hist, *wlog;
	size_t *final_queue;         /* items: key * neps + endpoint */
	size_t nfinal, final_next;
	int64_t drain_target;
	struct loop_timer tick;
	uint64_t counts[5][4];       /* [kind][result] */
	unsigned anomalies;
	struct kc_str report;
};

static void anomaly(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void anomaly(struct run *r, const char *fmt, ...)
{
	va_list ap;
	r->anomalies++;
	if (r->anomalies > 50)
		return;
	va_start(ap, fmt);
	kc_str_adds(&r->report, "ANOMALY: ");
	kc_str_vaddf(&r->report, fmt, ap);
	kc_str_addc(&r->report, '\n');
	va_end(ap);
}

static int64_t rel_ns(const struct run *r)
{
	return (int64_t)(now_ns() - r->t0);
}

static void key_name(const struct run *r, unsigned k, char *buf, size_t n)
{
	snprintf(buf, n, "%sk%03u", r->prefix, k);
}

static void client_next(struct client *c);

static void client_pause_done(struct loop *l, struct loop_timer *t)
{
	(void)l;
	client_next(t->data);
}

static void set_known(struct client *c, const char *key, const char *v)
{
	size_t plen = strlen(c->r->prefix);
	unsigned k = (unsigned)strtoul(key + plen + 1, NULL, 10);
	if (k >= c->r->nkeys)
		return;
	free(c->known[k]);
	c->known[k] = v ? xstrdup(v) : NULL;
}

static void record(struct client *c, enum lin_result res, int64_t revision)
{
	struct run *r = c->r;
	c->op.complete_ns = rel_ns(r);
	c->op.result = res;
	c->op.revision = revision;
	c->op.observed = c->observed;
	struct kc_err err = { 0 };
	if (lin_history_add(r->h, &c->op, &err) < 0)
		anomaly(r, "internal: cannot record an operation: %s", err.msg);
	if (r->hist) {
		struct kc_str line = KC_STR_INIT;
		lin_op_write(&line, &c->op);
		fwrite(line.buf, 1, line.len, r->hist);
		kc_str_free(&line);
	}
	r->counts[c->op.kind][res]++;
	free(c->observed);
	c->observed = NULL;
}

static void on_op_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		       const struct kc_err *err, void *arg)
{
	struct client *c = arg;
	struct run *r = c->r;
	(void)req;
	(void)err;
	c->busy = false;
	cJSON *j = NULL;
	struct kc_err perr;
	bool ok = rc == 0 && resp->status == 200 && resp->body &&
		  kc_json_parse(resp->body, resp->body_len, NULL, &j, &perr) == 0;
	bool failed_final = false;
	switch (c->op.kind) {
	case LIN_GET:
		if (ok) {
			const cJSON *kvs = kc_json_get(j, "kvs");
			const cJSON *kv = kvs ? cJSON_GetArrayItem(kvs, 0) : NULL;
			char *v = kv ? get_b64(kv, "value") : NULL;
			if (kv && !v)
				v = xstrdup("");   /* an empty value is left out */
			c->observed = v;
			c->op.observed_known = true;
			set_known(c, c->key, v);
			record(c, LIN_OK, 0);
		} else {
			c->op.observed_known = false;
			record(c, LIN_FAIL, 0);
			failed_final = true;
		}
		break;
	case LIN_PUT:
		if (ok) {
			set_known(c, c->key, c->value);
			record(c, LIN_OK, get_i64s(j, "header.revision"));
		} else {
			record(c, LIN_UNKNOWN, 0);
		}
		break;
	case LIN_CAS:
		if (ok && kc_json_get_bool(j, "succeeded", false)) {
			set_known(c, c->key, c->value);
			record(c, LIN_OK, get_i64s(j, "header.revision"));
		} else if (ok) {
			const cJSON *kvs = kc_json_get(j, "responses[0].response_range.kvs");
			const cJSON *kv = kvs ? cJSON_GetArrayItem(kvs, 0) : NULL;
			char *v = kv ? get_b64(kv, "value") : NULL;
			if (kv && !v)
				v = xstrdup("");
			c->observed = v;
			c->op.observed_known = kc_json_get(j, "responses[0].response_range") != NULL;
			set_known(c, c->key, v);
			record(c, LIN_FAIL, 0);
		} else {
			record(c, LIN_UNKNOWN, 0);
		}
		break;
	case LIN_DEL:
		record(c, ok ? LIN_OK : LIN_UNKNOWN, ok ? get_i64s(j, "header.revision") : 0);
		break;
	}
	cJSON_Delete(j);
	if (r->phase == PH_FINAL && failed_final)
		r->final_queue[r->nfinal++] = c->final_item;   /* read it again */
	if (r->phase == PH_DONE)
		return;
	if (!ok) {
		/* no hot loop while there is no leader */
		loop_timer_start(r->l, &c->pause, 50 + xorshift(&r->rng) % 100);
		return;
	}
	client_next(c);
}

static void submit(struct client *c, unsigned ep, const char *path, struct kc_str *body)
{
	struct run *r = c->r;
	char url[600];
	snprintf(url, sizeof(url), "%s%s", r->eps[ep], path);
	struct http_client_header hdr = { "Content-Type", "application/json" };
	struct http_client_request req = {
		.method = "POST", .url = url, .headers = &hdr, .nheaders = 1, .body = body->buf,
		.body_len = body->len, .timeout_ms = r->timeout_ms, .on_done = on_op_done, .arg = c,
	};
	struct kc_err err = { 0 };
	c->busy = true;
	c->op.invoke_ns = rel_ns(r);
	if (http_client_submit(r->c, &req, NULL, &err) < 0) {
		fprintf(stderr, "faultload: %s: %s\n", url, err.msg);
		exit(2);
	}
}

static void client_next(struct client *c)
{
	struct run *r = c->r;
	struct kc_str b = KC_STR_INIT;
	unsigned ep = (unsigned)(xorshift(&r->rng) % r->neps);
	unsigned k;
	memset(&c->op, 0, sizeof(c->op));
	c->op.client = c->id;
	c->op.key = c->key;
	if (r->phase == PH_FINAL) {
		if (r->final_next == r->nfinal || now_ns() - r->phase_t > r->final_timeout_ns)
			return;
		size_t item = r->final_queue[r->final_next];
		/* the queue is a ring of at most nkeys * neps items */
		memmove(r->final_queue, r->final_queue + 1, (r->nfinal - 1) * sizeof(size_t));
		r->nfinal--;
		c->final_item = item;
		k = (unsigned)(item / r->neps);
		ep = (unsigned)(item % r->neps);
		key_name(r, k, c->key, sizeof(c->key));
		c->op.kind = LIN_GET;
	} else if (r->phase == PH_LOAD && now_ns() - r->t0 < r->duration_ns) {
		k = (unsigned)(xorshift(&r->rng) % r->nkeys);
		key_name(r, k, c->key, sizeof(c->key));
		unsigned p = (unsigned)(xorshift(&r->rng) % 100);
		c->op.kind = p < 40 ? LIN_GET : p < 70 ? LIN_PUT : LIN_CAS;
		snprintf(c->value, sizeof(c->value), "c%u-%" PRIu64, c->id, ++c->seq);
		c->op.value = c->value;
		if (c->op.kind == LIN_CAS) {
			if (c->known[k]) {
				snprintf(c->expected, sizeof(c->expected), "%s", c->known[k]);
				c->op.expected = c->expected;
			}
		}
	} else {
		return;   /* idle: the ticker moves on */
	}
	kc_str_adds(&b, "{\"key\":");
	add_b64(&b, c->key);
	switch (c->op.kind) {
	case LIN_GET:
		kc_str_addc(&b, '}');
		submit(c, ep, "/v3/kv/range", &b);
		break;
	case LIN_PUT:
		kc_str_adds(&b, ",\"value\":");
		add_b64(&b, c->value);
		kc_str_addc(&b, '}');
		submit(c, ep, "/v3/kv/put", &b);
		break;
	case LIN_CAS:
		kc_str_reset(&b);
		kc_str_adds(&b, "{\"compare\":[{\"key\":");
		add_b64(&b, c->key);
		if (c->op.expected) {
			kc_str_adds(&b, ",\"target\":\"VALUE\",\"result\":\"EQUAL\",\"value\":");
			add_b64(&b, c->expected);
		} else {
			kc_str_adds(&b, ",\"target\":\"VERSION\",\"result\":\"EQUAL\",\"version\":\"0\"");
		}
		kc_str_adds(&b, "}],\"success\":[{\"request_put\":{\"key\":");
		add_b64(&b, c->key);
		kc_str_adds(&b, ",\"value\":");
		add_b64(&b, c->value);
		kc_str_adds(&b, "}}],\"failure\":[{\"request_range\":{\"key\":");
		add_b64(&b, c->key);
		kc_str_adds(&b, "}}]}");
		submit(c, ep, "/v3/kv/txn", &b);
		break;
	case LIN_DEL:
		break;
	}
	kc_str_free(&b);
}

/* ---- watchers ---- */

static void watch_connect(struct watcher *w);

static void watch_retry(struct loop *l, struct loop_timer *t)
{
	(void)l;
	watch_connect(t->data);
}

static void watch_event(struct watcher *w, const cJSON *e, int64_t hdr_rev)
{
	struct run *r = w->r;
	const cJSON *kv = kc_json_get(e, "kv");
	const char *type = kc_json_get_str(e, "type");
	bool del = type && strcmp(type, "DELETE") == 0;
	int64_t rev = kv ? get_i64s(kv, "mod_revision") : 0;
	char *key = kv ? get_b64(kv, "key") : NULL;
	char *value = kv && !del ? get_b64(kv, "value") : NULL;
	if (kv && !del && !value)
		value = xstrdup("");
	if (!key || rev <= 0) {
		anomaly(r, "watcher %u (%s): malformed event at header revision %" PRId64, w->id,
			r->eps[w->ep], hdr_rev);
		free(key);
		free(value);
		return;
	}
	if (rev <= w->last_rev)
		anomaly(r, "watcher %u (%s): event revision %" PRId64 " after %" PRId64
			" (%s; %u reconnects): %s", w->id, r->eps[w->ep], rev, w->last_rev,
			rev == w->last_rev ? "duplicate" : "went back in time", w->reconnects, key);
	else
		w->last_rev = rev;
	if (w->nev == w->capev) {
		w->capev = kc_grow_cap(w->capev, w->nev + 1, sizeof(*w->ev));
		w->ev = xrealloc(w->ev, w->capev * sizeof(*w->ev));
	}
	w->ev[w->nev++] = (struct wevent){ rev, key, value };
	if (r->wlog)
		fprintf(r->wlog, "%u %s %" PRId64 " %s %s %s\n", w->id, r->eps[w->ep], rev,
			del ? "DELETE" : "PUT", key, value ? value : "-");
}

static void watch_line(struct watcher *w, const char *s, size_t n)
{
	struct run *r = w->r;
	cJSON *j = NULL;
	struct kc_err err;
	if (kc_json_parse(s, n, NULL, &j, &err) < 0) {
		anomaly(r, "watcher %u (%s): unparsable stream message: %s", w->id, r->eps[w->ep],
			err.msg);
		return;
	}
	const cJSON *res = kc_json_get(j, "result");
	if (!res) {
		/* an error instead of the created message (no leader, ...): retried by on_done */
		cJSON_Delete(j);
		return;
	}
	if (kc_json_get_bool(res, "canceled", false)) {
		int64_t cr = get_i64s(res, "compact_revision");
		if (cr > 0) {
			w->compacted = true;
			kc_str_addf(&r->report, "note: watcher %u (%s) compacted at %" PRId64
				    ": exactly-once delivery is not checked for it\n", w->id,
				    r->eps[w->ep], cr);
			w->last_rev = cr - 1;
		}
	}
	int64_t hdr_rev = get_i64s(res, "header.revision");
	const cJSON *evs = kc_json_get(res, "events");
	const cJSON *e;
	if (evs)
		cJSON_ArrayForEach(e, evs) watch_event(w, e, hdr_rev);
	cJSON_Delete(j);
}

static void watch_data(struct http_client_req *req, const char *data, size_t len, void *arg)
{
	struct watcher *w = arg;
	(void)req;
	kc_str_add(&w->line, data, len);
	char *nl;
	while ((nl = memchr(w->line.buf, '\n', w->line.len)) != NULL) {
		size_t n = (size_t)(nl - w->line.buf);
		if (n > 0)
			watch_line(w, w->line.buf, n);
		kc_str_consume(&w->line, n + 1);
	}
	if (w->line.len > WATCH_LINE_MAX) {
		anomaly(w->r, "watcher %u: stream message over %zu bytes", w->id, WATCH_LINE_MAX);
		kc_str_reset(&w->line);
	}
}

static void watch_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		       const struct kc_err *err, void *arg)
{
	struct watcher *w = arg;
	(void)req;
	(void)rc;
	(void)resp;
	(void)err;
	w->req = NULL;
	kc_str_reset(&w->line);
	if (w->r->phase == PH_DONE)
		return;
	w->reconnects++;
	loop_timer_start(w->r->l, &w->retry, 200);
}

static void watch_connect(struct watcher *w)
{
	struct run *r = w->r;
	if (r->phase == PH_DONE)
		return;
	char url[600], end[256];
	snprintf(url, sizeof(url), "%s/v3/watch", r->eps[w->ep]);
	size_t pl = strlen(r->prefix);
	memcpy(end, r->prefix, pl);
	end[pl - 1]++;   /* the prefix ends in '/': its successor bounds the range */
	end[pl] = '\0';
	struct kc_str b = KC_STR_INIT;
	kc_str_adds(&b, "{\"create_request\":{\"key\":");
	add_b64(&b, r->prefix);
	kc_str_adds(&b, ",\"range_end\":");
	add_b64(&b, end);
	kc_str_addf(&b, ",\"start_revision\":\"%" PRId64 "\"}}", w->last_rev + 1);
	struct http_client_header hdr = { "Content-Type", "application/json" };
	struct http_client_request req = {
		.method = "POST", .url = url, .headers = &hdr, .nheaders = 1, .body = b.buf,
		.body_len = b.len, .stream = true, .timeout_ms = 3000,
		.on_data = watch_data, .on_done = watch_done, .arg = w,
	};
	struct kc_err err = { 0 };
	if (http_client_submit(r->c, &req, &w->req, &err) < 0) {
		fprintf(stderr, "faultload: %s: %s\n", url, err.msg);
		exit(2);
	}
	kc_str_free(&b);
}

/* ---- phases ---- */

static bool all_idle(const struct run *r)
{
	for (unsigned i = 0; i < r->nclients; i++)
		if (r->clients[i].busy || loop_timer_active(&r->clients[i].pause))
			return false;
	return true;
}

static int64_t max_acked_rev(const struct run *r)
{
	int64_t m = 0;
	for (size_t i = 0; i < lin_history_len(r->h); i++) {
		const struct lin_op *o = lin_history_get(r->h, i);
		if (o->revision > m)
			m = o->revision;
	}
	return m;
}

static void on_tick(struct loop *l, struct loop_timer *t)
{
	struct run *r = t->data;
	uint64_t now = now_ns();
	switch (r->phase) {
	case PH_LOAD:
		if (now - r->t0 >= r->duration_ns && all_idle(r)) {
			r->phase = PH_WAIT_HEAL;
			r->phase_t = now;
		}
		break;
	case PH_WAIT_HEAL:
		if (r->heal_file && access(r->heal_file, F_OK) != 0) {
			if (now - r->phase_t > 120ull * 1000000000u) {
				fprintf(stderr, "faultload: %s never appeared\n", r->heal_file);
				r->heal_file = NULL;
			}
			break;
		}
		r->phase = PH_FINAL;
		r->phase_t = now;
		r->nfinal = 0;
		r->final_next = 0;
		for (size_t k = 0; k < r->nkeys; k++)
			for (size_t e = 0; e < r->neps; e++)
				r->final_queue[r->nfinal++] = k * r->neps + e;
		for (unsigned i = 0; i < r->nclients; i++)
			client_next(&r->clients[i]);
		break;
	case PH_FINAL:
		if ((r->nfinal == 0 || now - r->phase_t > r->final_timeout_ns) && all_idle(r)) {
			if (r->nfinal)
				anomaly(r, "%zu final reads never succeeded within %" PRIu64
					" s (the cluster did not recover)", r->nfinal,
					r->final_timeout_ns / 1000000000u);
			r->phase = PH_DRAIN;
			r->phase_t = now;
			r->drain_target = max_acked_rev(r);
			for (size_t i = 0; i < r->nwatchers; i++)
				if (r->watchers[i].last_rev > r->drain_target)
					r->drain_target = r->watchers[i].last_rev;
		} else {
			/* clients that paused after an error pick up requeued reads */
			for (unsigned i = 0; i < r->nclients; i++)
				if (!r->clients[i].busy && !loop_timer_active(&r->clients[i].pause))
					client_next(&r->clients[i]);
		}
		break;
	case PH_DRAIN: {
		bool caught_up = true;
		for (size_t i = 0; i < r->nwatchers; i++)
			if (r->watchers[i].last_rev < r->drain_target)
				caught_up = false;
		if (caught_up || now - r->phase_t > r->final_timeout_ns) {
			for (size_t i = 0; i < r->nwatchers; i++)
				if (r->watchers[i].last_rev < r->drain_target)
					anomaly(r, "watcher %zu (%s) stuck at revision %" PRId64
						" < %" PRId64 " after the cluster healed", i,
						r->eps[r->watchers[i].ep], r->watchers[i].last_rev,
						r->drain_target);
			r->phase = PH_DONE;
			loop_stop(l);
			return;
		}
		break;
	}
	case PH_DONE:
		return;
	}
	loop_timer_start(l, t, 100);
}

static void kick(struct loop *l, void *arg)
{
	struct run *r = arg;
	(void)l;
	for (size_t i = 0; i < r->nwatchers; i++)
		watch_connect(&r->watchers[i]);
	for (unsigned i = 0; i < r->nclients; i++)
		client_next(&r->clients[i]);
	loop_timer_start(r->l, &r->tick, 100);
}

/* ---- checks after the run ---- */

struct revref {
	int64_t rev;
	size_t op;
};

static int cmp_revref(const void *a, const void *b)
{
	const struct revref *x = a, *y = b;
	return x->rev < y->rev ? -1 : x->rev > y->rev;
}

static const struct wevent *find_event(const struct watcher *w, int64_t rev)
{
	size_t lo = 0, hi = w->nev;
	while (lo < hi) {   /* events are sorted when the order checks passed */
		size_t mid = (lo + hi) / 2;
		if (w->ev[mid].rev < rev)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->nev && w->ev[lo].rev == rev ? &w->ev[lo] : NULL;
}

static bool streq_null(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void check_writes_and_watches(struct run *r)
{
	size_t n = lin_history_len(r->h);
	struct revref *acked = xcalloc(n ? n : 1, sizeof(*acked));
	size_t na = 0;
	struct kc_map written;
	kc_map_init(&written, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct lin_op *o = lin_history_get(r->h, i);
		if (o->kind == LIN_PUT || o->kind == LIN_CAS)
			kc_map_sput(&written, o->value, &written);
		if (o->result == LIN_OK && o->revision > 0)
			acked[na++] = (struct revref){ o->revision, i };
		else if (o->result == LIN_OK && (o->kind == LIN_PUT || o->kind == LIN_CAS))
			anomaly(r, "acknowledged %s of %s on %s without a header revision",
				o->kind == LIN_PUT ? "put" : "cas", o->value, o->key);
	}
	qsort(acked, na, sizeof(*acked), cmp_revref);
	/* distinct revisions, in real-time order */
	for (size_t i = 1; i < na; i++) {
		if (acked[i].rev == acked[i - 1].rev) {
			const struct lin_op *a = lin_history_get(r->h, acked[i - 1].op);
			const struct lin_op *b = lin_history_get(r->h, acked[i].op);
			anomaly(r, "two acknowledged writes got revision %" PRId64 ": %s=%s and %s=%s",
				acked[i].rev, a->key, a->value, b->key, b->value);
		}
	}
	/* a write acknowledged before another was invoked must have the smaller revision:
	 * sweep by revision, tracking the latest invocation seen so far */
	for (size_t i = 0; i + 1 < na; i++) {
		const struct lin_op *a = lin_history_get(r->h, acked[i].op);
		for (size_t j = i + 1; j < na && j < i + 64; j++) {
			const struct lin_op *b = lin_history_get(r->h, acked[j].op);
			if (b->complete_ns < a->invoke_ns) {
				anomaly(r, "revision order contradicts real time: %s=%s acknowledged at "
					"%.6f s with revision %" PRId64 ", but %s=%s invoked at %.6f s got "
					"%" PRId64, b->key, b->value, (double)b->complete_ns / 1e9,
					b->revision, a->key, a->value, (double)a->invoke_ns / 1e9,
					a->revision);
				break;
			}
		}
	}
	/* watchers agree with each other and with the writes */
	for (size_t wi = 0; wi < r->nwatchers; wi++) {
		const struct watcher *w = &r->watchers[wi];
		for (size_t i = 0; i < w->nev; i++) {
			const struct wevent *e = &w->ev[i];
			if (e->value && !kc_map_sget(&written, e->value))
				anomaly(r, "watcher %zu: event at %" PRId64 " carries %s=%s, which no "
					"client wrote", wi, e->rev, e->key, e->value);
			for (size_t wj = 0; wj < wi; wj++) {
				const struct wevent *f = find_event(&r->watchers[wj], e->rev);
				if (f && (strcmp(f->key, e->key) != 0 || !streq_null(f->value, e->value)))
					anomaly(r, "watchers %zu and %zu disagree on revision %" PRId64
						": %s=%s vs %s=%s", wj, wi, e->rev, f->key,
						f->value ? f->value : "<deleted>", e->key,
						e->value ? e->value : "<deleted>");
			}
		}
		if (w->compacted)
			continue;
		for (size_t i = 0; i < na; i++) {
			const struct lin_op *o = lin_history_get(r->h, acked[i].op);
			const struct wevent *e = find_event(w, o->revision);
			if (!e)
				anomaly(r, "watcher %zu (%s) never saw the acknowledged write %s=%s at "
					"revision %" PRId64, wi, r->eps[w->ep], o->key,
					o->value ? o->value : "<deleted>", o->revision);
			else if (strcmp(e->key, o->key) != 0 || !streq_null(e->value, o->value))
				anomaly(r, "watcher %zu (%s): revision %" PRId64 " is %s=%s, but the "
					"acknowledged write there was %s=%s", wi, r->eps[w->ep],
					o->revision, e->key, e->value ? e->value : "<deleted>", o->key,
					o->value ? o->value : "<deleted>");
		}
	}
	kc_map_free(&written);
	free(acked);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: faultload run --endpoints URL,... [--clients N] [--keys N] [--duration S]\n"
		"                     [--prefix P] [--timeout-ms MS] [--seed N] [--history FILE]\n"
		"                     [--watch-log FILE] [--heal-file FILE] [--final-timeout S] [--no-watch]\n"
		"       faultload check --history FILE\n"
		"       faultload fill --endpoint URL --keys N [--rounds R] [--prefix P]\n"
		"       faultload compact-kill --endpoint URL --pid PID [--delay-ms D]\n"
		"       faultload probe --endpoint URL --min-rev R [--compacted C] [--wait S]\n");
	exit(2);
}

static unsigned long num_arg(const char *v, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (errno || *end || end == v || x > max)
		usage();
	return x;
}

static int report_lin(const struct lin_history *h, struct kc_str *out)
{
	struct lin_report rep;
	uint64_t t = now_ns();
	lin_check(h, NULL, &rep);
	kc_str_addf(out, "linearizability: %zu operations on %zu keys, %" PRIu64 " steps, %.2f s: ",
		    rep.ops, rep.keys, rep.steps, (double)(now_ns() - t) / 1e9);
	int bad = rep.verdict != LIN_LINEARIZABLE;
	if (rep.verdict == LIN_LINEARIZABLE)
		kc_str_adds(out, "linearizable\n");
	else
		kc_str_addf(out, "%s\n%s", rep.verdict == LIN_VIOLATION ? "ANOMALY: NOT linearizable" :
			    "ANOMALY: inconclusive (search budget)", rep.detail.buf);
	lin_report_free(&rep);
	return bad;
}

static int cmd_run(int argc, char **argv)
{
	struct run r = { 0 };
	r.nclients = 8;
	r.nkeys = 12;
	r.prefix = "/fault/";
	r.timeout_ms = 2500;
	r.duration_ns = 10ull * 1000000000u;
	r.final_timeout_ns = 60ull * 1000000000u;
	r.watch = true;
	r.rng = (uint64_t)now_ns() | 1;
	const char *hist = NULL, *wlog = NULL;
	char *eplist = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--no-watch") == 0) {
			r.watch = false;
			continue;
		}
		const char *v = i + 1 < argc ? argv[++i] : NULL;
		if (!v)
			usage();
		if (strcmp(a, "--endpoints") == 0)
			eplist = xstrdup(v);
		else if (strcmp(a, "--clients") == 0)
			r.nclients = (unsigned)num_arg(v, MAX_CLIENTS);
		else if (strcmp(a, "--keys") == 0)
			r.nkeys = (unsigned)num_arg(v, MAX_KEYS);
		else if (strcmp(a, "--duration") == 0)
			r.duration_ns = num_arg(v, 86400) * 1000000000ull;
		else if (strcmp(a, "--final-timeout") == 0)
			r.final_timeout_ns = num_arg(v, 86400) * 1000000000ull;
		else if (strcmp(a, "--prefix") == 0)
			r.prefix = v;
		else if (strcmp(a, "--timeout-ms") == 0)
			r.timeout_ms = (uint32_t)num_arg(v, 600000);
		else if (strcmp(a, "--seed") == 0)
			r.rng = num_arg(v, ~0ul) | 1;
		else if (strcmp(a, "--history") == 0)
			hist = v;
		else if (strcmp(a, "--watch-log") == 0)
			wlog = v;
		else if (strcmp(a, "--heal-file") == 0)
			r.heal_file = v;
		else
			usage();
	}
	size_t pl = strlen(r.prefix);
	if (!eplist || r.nclients == 0 || r.nkeys == 0 || pl < 2 || pl > 200 ||
	    r.prefix[pl - 1] != '/' || r.timeout_ms == 0)
		usage();
	for (char *save = NULL, *e = strtok_r(eplist, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		if (r.neps == MAX_ENDPOINTS)
			usage();
		r.eps[r.neps++] = e;
	}
	if (r.neps == 0)
		usage();
	printf("faultload: seed %" PRIu64 ", %u clients, %u keys, %zu endpoints, %" PRIu64 " s\n",
	       r.rng, r.nclients, r.nkeys, r.neps, r.duration_ns / 1000000000u);
	fflush(stdout);
	if (hist && !(r.hist = fopen(hist, "w"))) {
		fprintf(stderr, "faultload: %s: %s\n", hist, strerror(errno));
		return 2;
	}
	if (wlog && !(r.wlog = fopen(wlog, "w"))) {
		fprintf(stderr, "faultload: %s: %s\n", wlog, strerror(errno));
		return 2;
	}
	r.l = loop_new(NULL);
	if (!r.l) {
		fprintf(stderr, "faultload: cannot create a loop\n");
		return 2;
	}
	struct http_client_config cfg = { .max_idle_per_origin = r.nclients + 4,
					   .max_conns = (r.nclients + 2) * (unsigned)r.neps + 8,
					   .connect_timeout_ms = 1000 };
	r.c = http_client_new(r.l, &cfg);
	r.h = lin_history_new();
	kc_str_init(&r.report);
	r.final_queue = xcalloc((size_t)r.nkeys * r.neps, sizeof(size_t));
	r.clients = xcalloc(r.nclients, sizeof(*r.clients));
	for (unsigned i = 0; i < r.nclients; i++) {
		struct client *c = &r.clients[i];
		c->r = &r;
		c->id = i;
		c->known = xcalloc(r.nkeys, sizeof(char *));
		loop_timer_init(&c->pause, client_pause_done, c);
	}
	r.nwatchers = r.watch ? r.neps : 0;
	r.watchers = xcalloc(r.nwatchers ? r.nwatchers : 1, sizeof(*r.watchers));
	for (size_t i = 0; i < r.nwatchers; i++) {
		struct watcher *w = &r.watchers[i];
		w->r = &r;
		w->id = (unsigned)i;
		w->ep = (unsigned)i;
		kc_str_init(&w->line);
		loop_timer_init(&w->retry, watch_retry, w);
	}
	loop_timer_init(&r.tick, on_tick, &r);
	r.t0 = now_ns();
	loop_call(r.l, kick, &r);
	loop_run(r.l);
	for (size_t i = 0; i < r.nwatchers; i++) {
		if (r.watchers[i].req)
			http_client_cancel(r.watchers[i].req);
		loop_timer_stop(r.l, &r.watchers[i].retry);
	}
	for (unsigned i = 0; i < r.nclients; i++)
		loop_timer_stop(r.l, &r.clients[i].pause);
	http_client_free(r.c);

	/* checks */
	struct kc_str out = KC_STR_INIT;
	static const char *const kinds[] = { "", "put", "get", "cas", "del" };
	kc_str_addf(&out, "operations (ok/fail/unknown):");
	for (int k = LIN_PUT; k <= LIN_CAS; k++)
		kc_str_addf(&out, " %s %" PRIu64 "/%" PRIu64 "/%" PRIu64, kinds[k],
			    r.counts[k][LIN_OK], r.counts[k][LIN_FAIL], r.counts[k][LIN_UNKNOWN]);
	kc_str_addc(&out, '\n');
	for (size_t i = 0; i < r.nwatchers; i++)
		kc_str_addf(&out, "watcher %zu (%s): %zu events, last revision %" PRId64
			    ", %u reconnects\n", i, r.eps[i], r.watchers[i].nev,
			    r.watchers[i].last_rev, r.watchers[i].reconnects);
	if (r.counts[LIN_PUT][LIN_OK] + r.counts[LIN_CAS][LIN_OK] == 0)
		anomaly(&r, "no write was acknowledged at all");
	check_writes_and_watches(&r);
	int bad = report_lin(r.h, &out);
	kc_str_add(&out, r.report.buf, r.report.len);
	if (r.anomalies > 50)
		kc_str_addf(&out, "(%u anomalies in all)\n", r.anomalies);
	bad |= r.anomalies > 0;
	kc_str_addf(&out, "RESULT %s\n", bad ? "ANOMALY" : "OK");
	fputs(out.buf, stdout);
	kc_str_free(&out);

	if (r.hist)
		fclose(r.hist);
	if (r.wlog)
		fclose(r.wlog);
	for (unsigned i = 0; i < r.nclients; i++) {
		for (unsigned k = 0; k < r.nkeys; k++)
			free(r.clients[i].known[k]);
		free(r.clients[i].known);
		free(r.clients[i].observed);
	}
	for (size_t i = 0; i < r.nwatchers; i++) {
		for (size_t j = 0; j < r.watchers[i].nev; j++) {
			free(r.watchers[i].ev[j].key);
			free(r.watchers[i].ev[j].value);
		}
		free(r.watchers[i].ev);
		kc_str_free(&r.watchers[i].line);
	}
	free(r.watchers);
	free(r.clients);
	free(r.final_queue);
	kc_str_free(&r.report);
	lin_history_free(r.h);
	loop_free(r.l);
	free(eplist);
	return bad ? 1 : 0;
}

static int cmd_check(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[0], "--history") != 0)
		usage();
	struct lin_history *h = lin_history_new();
	struct kc_err err = { 0 };
	if (lin_history_load(h, argv[1], &err) < 0) {
		fprintf(stderr, "faultload: %s\n", err.msg);
		lin_history_free(h);
		return 2;
	}
	struct kc_str out = KC_STR_INIT;
	int bad = report_lin(h, &out);
	fputs(out.buf, stdout);
	kc_str_free(&out);
	lin_history_free(h);
	return bad;
}

/* ---------------------------------------------------------------------------------------------
 * blocking helpers for the regression scenarios */

/* POSTs body to endpoint+path; returns the HTTP status (0: no response) and the parsed body in
 * *out (NULL when not JSON). */
static int post(const char *endpoint, const char *path, const char *body, uint32_t timeout_ms,
		cJSON **out, char *errbuf, size_t errlen)
{
	char url[600];
	snprintf(url, sizeof(url), "%s%s", endpoint, path);
	struct http_client_config cfg = { .request_timeout_ms = timeout_ms,
					   .connect_timeout_ms = 1000 };
	struct http_client_header hdr = { "Content-Type", "application/json" };
	struct http_client_response resp = { 0 };
	struct kc_err err = { 0 };
	*out = NULL;
	int rc = http_client_do(&cfg, "POST", url, &hdr, 1, body, strlen(body), &resp, &err);
	if (rc < 0) {
		snprintf(errbuf, errlen, "%s", err.msg);
		return 0;
	}
	struct kc_err perr;
	if (resp.body && kc_json_parse(resp.body, resp.body_len, NULL, out, &perr) < 0)
		*out = NULL;
	snprintf(errbuf, errlen, "%s", resp.body ? resp.body : "");
	int status = resp.status;
	http_client_response_free(&resp);
	return status;
}

/* Current revision from a range of a key; -1 when the endpoint does not answer. */
static int64_t current_rev(const char *ep, uint32_t timeout_ms)
{
	cJSON *j;
	char eb[512];
	int st = post(ep, "/v3/kv/range", "{\"key\":\"cmV2\"}", timeout_ms, &j, eb, sizeof(eb));
	int64_t rev = st == 200 && j ? get_i64s(j, "header.revision") : -1;
	cJSON_Delete(j);
	return rev;
}

struct filler {
	struct loop *l;
	struct http_client *c;
	char url[600];
	const char *prefix;
	uint64_t next, total, inflight, errors;
	unsigned keys;
	int64_t rev;
	struct kc_str val;
};

static void fill_one(struct filler *f);

static void fill_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		      const struct kc_err *err, void *arg)
{
	struct filler *f = arg;
	(void)req;
	(void)err;
	f->inflight--;
	cJSON *j = NULL;
	struct kc_err perr;
	if (rc == 0 && resp->status == 200 &&
	    kc_json_parse(resp->body, resp->body_len, NULL, &j, &perr) == 0) {
		int64_t rev = get_i64s(j, "header.revision");
		if (rev > f->rev)
			f->rev = rev;
	} else {
		f->errors++;
	}
	cJSON_Delete(j);
	fill_one(f);
	if (f->inflight == 0)
		loop_stop(f->l);
}

static void fill_one(struct filler *f)
{
	if (f->next >= f->total)
		return;
	char key[300];
	snprintf(key, sizeof(key), "%sfill/%06" PRIu64, f->prefix, f->next % f->keys);
	f->next++;
	struct kc_str b = KC_STR_INIT;
	kc_str_adds(&b, "{\"key\":");
	add_b64(&b, key);
	kc_str_adds(&b, ",\"value\":");
	kc_str_add(&b, f->val.buf, f->val.len);
	kc_str_addc(&b, '}');
	struct http_client_header hdr = { "Content-Type", "application/json" };
	struct http_client_request req = {
		.method = "POST", .url = f->url, .headers = &hdr, .nheaders = 1, .body = b.buf,
		.body_len = b.len, .timeout_ms = 20000, .on_done = fill_done, .arg = f,
	};
	struct kc_err err = { 0 };
	if (http_client_submit(f->c, &req, NULL, &err) < 0) {
		fprintf(stderr, "faultload: %s\n", err.msg);
		exit(2);
	}
	f->inflight++;
	kc_str_free(&b);
}

static void fill_kick(struct loop *l, void *arg)
{
	struct filler *f = arg;
	(void)l;
	for (int i = 0; i < 32; i++)
		fill_one(f);
	if (f->inflight == 0)
		loop_stop(f->l);
}

static int cmd_fill(int argc, char **argv)
{
	struct filler f = { .prefix = "/fault/", .rev = 0 };
	const char *ep = NULL;
	unsigned long rounds = 1;
	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--endpoint") == 0)
			ep = argv[i + 1];
		else if (strcmp(argv[i], "--keys") == 0)
			f.keys = (unsigned)num_arg(argv[i + 1], 10000000);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = num_arg(argv[i + 1], 1000);
		else if (strcmp(argv[i], "--prefix") == 0)
			f.prefix = argv[i + 1];
		else
			usage();
	}
	if (!ep || f.keys == 0 || rounds == 0 || argc % 2)
		usage();
	f.total = (uint64_t)f.keys * rounds;
	snprintf(f.url, sizeof(f.url), "%s/v3/kv/put", ep);
	kc_str_init(&f.val);
	char v[200];
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	add_b64(&f.val, v);
	f.l = loop_new(NULL);
	if (!f.l)
		return 2;
	f.c = http_client_new(f.l, &(struct http_client_config){ .max_idle_per_origin = 40 });
	loop_call(f.l, fill_kick, &f);
	loop_run(f.l);
	http_client_free(f.c);
	loop_free(f.l);
	kc_str_free(&f.val);
	printf("REV %" PRId64 " ERRORS %" PRIu64 "\n", f.rev, f.errors);
	return f.errors ? 1 : 0;
}

struct compactor {
	struct loop *l;
	bool acked;
	bool done;
	char msg[256];
};

static void compact_done(struct http_client_req *req, int rc, struct http_client_response *resp,
			 const struct kc_err *err, void *arg)
{
	struct compactor *c = arg;
	(void)req;
	c->done = true;
	c->acked = rc == 0 && resp->status == 200;
	snprintf(c->msg, sizeof(c->msg), "%s", rc < 0 ? err->msg : resp->body ? resp->body : "");
}

static void stop_loop(struct loop *l, struct loop_timer *t)
{
	(void)t;
	loop_stop(l);
}

static int cmd_compact_kill(int argc, char **argv)
{
	const char *ep = NULL;
	long pid = 0;
	unsigned long delay = 0;
	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--endpoint") == 0)
			ep = argv[i + 1];
		else if (strcmp(argv[i], "--pid") == 0)
			pid = (long)num_arg(argv[i + 1], 1u << 30);
		else if (strcmp(argv[i], "--delay-ms") == 0)
			delay = num_arg(argv[i + 1], 60000);
		else
			usage();
	}
	if (!ep || pid <= 1 || argc % 2)
		usage();
	int64_t before = current_rev(ep, 5000);
	if (before <= 0) {
		fprintf(stderr, "faultload: %s does not answer\n", ep);
		return 2;
	}
	struct compactor c = { 0 };
	c.l = loop_new(NULL);
	if (!c.l)
		return 2;
	struct http_client_config cfg = { .connect_timeout_ms = 1000 };
	struct http_client *hc = http_client_new(c.l, &cfg);
	char url[600], body[128];
	snprintf(url, sizeof(url), "%s/v3/kv/compaction", ep);
	snprintf(body, sizeof(body), "{\"revision\":\"%" PRId64 "\",\"physical\":true}", before);
	struct http_client_header hdr = { "Content-Type", "application/json" };
	struct http_client_request req = {
		.method = "POST", .url = url, .headers = &hdr, .nheaders = 1, .body = body,
		.body_len = strlen(body), .timeout_ms = 30000, .on_done = compact_done, .arg = &c,
	};
	struct kc_err err = { 0 };
	if (http_client_submit(hc, &req, NULL, &err) < 0) {
		fprintf(stderr, "faultload: %s\n", err.msg);
		return 2;
	}
	struct loop_timer t;
	loop_timer_init(&t, stop_loop, NULL);
	loop_timer_start(c.l, &t, delay);
	loop_run(c.l);   /* the request is on its way (or done) when the timer fires */
	kill((pid_t)pid, SIGKILL);
	/* give an answer already on the wire a moment to arrive */
	loop_timer_start(c.l, &t, 100);
	while (!c.done && loop_timer_active(&t))
		loop_run_once(c.l, 50);
	loop_timer_stop(c.l, &t);
	http_client_free(hc);
	loop_free(c.l);
	printf("BEFORE %" PRId64 " COMPACT %" PRId64 " ACKED %d\n", before, before, c.acked ? 1 : 0);
	return 0;
}

static int cmd_probe(int argc, char **argv)
{
	const char *ep = NULL;
	int64_t min_rev = 0, compacted = 0;
	unsigned long wait_s = 30;
	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--endpoint") == 0)
			ep = argv[i + 1];
		else if (strcmp(argv[i], "--min-rev") == 0)
			min_rev = (int64_t)num_arg(argv[i + 1], 1ul << 62);
		else if (strcmp(argv[i], "--compacted") == 0)
			compacted = (int64_t)num_arg(argv[i + 1], 1ul << 62);
		else if (strcmp(argv[i], "--wait") == 0)
			wait_s = num_arg(argv[i + 1], 3600);
		else
			usage();
	}
	if (!ep || argc % 2)
		usage();
	uint64_t deadline = now_ns() + wait_s * 1000000000ull;
	int64_t rev = -1;
	while ((rev = current_rev(ep, 2000)) < 0 && now_ns() < deadline)
		usleep(100000);
	if (rev < 0) {
		printf("FAIL: %s did not answer within %lu s\n", ep, wait_s);
		return 1;
	}
	int bad = 0;
	if (rev < min_rev) {
		printf("FAIL: revision went backwards: %" PRId64 " after restart, %" PRId64
		       " before\n", rev, min_rev);
		bad = 1;
	}
	cJSON *j;
	char eb[512], body[128];
	if (compacted > 1) {
		snprintf(body, sizeof(body), "{\"key\":\"cmV2\",\"revision\":\"%" PRId64 "\"}",
			 compacted - 1);
		int st = post(ep, "/v3/kv/range", body, 5000, &j, eb, sizeof(eb));
		if (st == 200 || !strstr(eb, "compacted")) {
			printf("FAIL: compaction to %" PRId64 " was acknowledged, but after restart a "
			       "read at %" PRId64 " answers %d %s\n", compacted, compacted - 1, st, eb);
			bad = 1;
		}
		cJSON_Delete(j);
	}
	int st = post(ep, "/v3/kv/put", "{\"key\":\"cHJvYmU=\",\"value\":\"eA==\"}", 10000, &j, eb,
		      sizeof(eb));
	int64_t wrev = st == 200 && j ? get_i64s(j, "header.revision") : -1;
	cJSON_Delete(j);
	if (wrev <= 0) {
		printf("FAIL: a write after restart failed: %d %s\n", st, eb);
		bad = 1;
	} else if (wrev <= min_rev) {
		printf("FAIL: a write after restart got revision %" PRId64 ", not above %" PRId64
		       "\n", wrev, min_rev);
		bad = 1;
	}
	printf("REV %" PRId64 " WRITE %" PRId64 "%s\n", rev, wrev, bad ? " FAIL" : " OK");
	return bad;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 2, argv + 2);
	if (strcmp(argv[1], "fill") == 0)
		return cmd_fill(argc - 2, argv + 2);
	if (strcmp(argv[1], "compact-kill") == 0)
		return cmd_compact_kill(argc - 2, argv + 2);
	if (strcmp(argv[1], "probe") == 0)
		return cmd_probe(argc - 2, argv + 2);
	usage();
	return 2;
}
