/* DESIGN: a thin layer over net/http_client. It owns one http_client (a keep-alive pool of up
 * to max_conns connections to the API server) and the TLS client config, and tracks every
 * request and watch it started in one list so that apiclient_free can fail them all with
 * -KC_ECLOSED before the http_client goes. Bodies are parsed with the strict JSON parser under
 * APICLIENT_MAX_BODY; watch streams are split on '\n' with at most APICLIENT_MAX_EVENT bytes
 * per line. Runs on the creating loop's thread only. */
#include "roles/client/apiclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kc_version.h"
#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/tls.h"

struct apiclient {
	struct loop *loop;
	struct http_client *http;
	struct tls_client_config *tls;
	char *server;
	char *auth_header;   /* "Bearer ..." or NULL */
	char *user_agent;
	uint32_t timeout_ms;
	bool closing;
	struct kc_list calls;  /* struct call.link */
};

struct call {
	struct kc_list link;
	struct apiclient *c;
	struct http_client_req *req;
	apiclient_cb cb;
	void *arg;
	/* watch */
	bool watch;
	bool canceled;
	bool in_data;  /* inside watch_data: a cancel defers the free to its end */
	apiclient_event_cb on_event;
	apiclient_end_cb on_end;
	struct kc_str line;
	bool overflow;
	int status;
};

struct apiclient_watch {
	struct call call;
};

static void call_free(struct call *k)
{
	kc_list_del(&k->link);
	kc_str_free(&k->line);
	free(k);
}

struct loop *apiclient_loop(const struct apiclient *c)
{
	return c->loop;
}

bool apiclient_closing(const struct apiclient *c)
{
	return c->closing;
}

int apiclient_new(struct loop *l, const struct apiclient_config *cfg, struct apiclient **out,
		  struct kc_err *err)
{
	struct apiclient *c = xcalloc(1, sizeof *c);
	c->loop = l;
	kc_list_init(&c->calls);
	struct http_url u;
	int rc = http_url_parse(cfg->server, &u, err);
	if (rc < 0)
		goto fail;
	c->server = xstrdup(cfg->server);
	size_t n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	if (u.tls) {
		struct tls_client_opts o = { .ca = cfg->ca, .cert = cfg->cert, .key = cfg->key };
		rc = tls_client_config_new(&o, &c->tls, err);
		if (rc < 0)
			goto fail;
	}
	if (cfg->token)
		c->auth_header = xasprintf("Bearer %s", cfg->token);
	c->user_agent = xstrdup(cfg->user_agent ? cfg->user_agent : "kc/" KC_VERSION);
	c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
	struct http_client_config hc = {
		.max_conns = cfg->max_conns ? cfg->max_conns : 64,
		.max_idle_per_origin = cfg->max_conns ? cfg->max_conns : 64,
		.request_timeout_ms = c->timeout_ms,
		.max_body_bytes = APICLIENT_MAX_BODY,
		.tls = c->tls,
		.user_agent = c->user_agent,
	};
	c->http = http_client_new(l, &hc);
	*out = c;
	return 0;
fail:
	tls_client_config_free(c->tls);
	free(c->server);
	free(c);
	return rc;
}

void apiclient_free(struct apiclient *c)
{
	if (!c)
		return;
	c->closing = true;
	/* http_client_free fails every request through on_done, which frees its call. */
	http_client_free(c->http);
	struct kc_list *it, *tmp;
	kc_list_each_safe(&c->calls, it, tmp) call_free(kc_container_of(it, struct call, link));
	tls_client_config_free(c->tls);
	free(c->server);
	free(c->auth_header);
	free(c->user_agent);
	free(c);
}

/* Status fields of a non-2xx JSON body. */
static void fill_status(struct api_result *r)
{
	r->reason = "";
	r->message = "";
	if (r->status >= 200 && r->status < 300)
		return;
	if (r->obj) {
		const char *s = kc_json_get_str(r->obj, "reason");
		if (s)
			r->reason = s;
		s = kc_json_get_str(r->obj, "message");
		if (s)
			r->message = s;
	}
}

static void parse_body(struct api_result *r, const struct http_client_response *resp)
{
	if (!resp->body || resp->body_len == 0)
		return;
	struct kc_json_limits lim = { .max_bytes = APICLIENT_MAX_BODY };
	struct kc_err e = { 0 };
	if (kc_json_parse(resp->body, resp->body_len, &lim, &r->obj, &e) < 0)
		r->obj = NULL;
}

static void on_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		    const struct kc_err *err, void *arg)
{
	struct call *k = arg;
	struct api_result r = { .rc = rc, .status = resp ? resp->status : 0, .reason = "",
				.message = "" };
	if (rc == 0 && !k->watch)
		parse_body(&r, resp);
	if (rc == 0 && k->watch && r.status != 200)
		parse_body(&r, resp);
	fill_status(&r);
	if (rc < 0)
		r.message = err && err->msg[0] ? err->msg : kc_strerror(rc);
	if (k->watch) {
		if (!k->canceled && k->on_end) {
			if (rc == 0 && k->status == 200 && k->overflow)
				r.rc = -KC_ETOOBIG;
			k->on_end(k->arg, &r);
		}
	} else if (k->cb) {
		k->cb(k->arg, &r);
	}
	cJSON_Delete(r.obj);
	call_free(k);
}

static int submit(struct apiclient *c, struct call *k, const char *method, const char *path,
		  const char *content_type, const void *body, size_t len,
		  http_client_head_cb on_head, http_client_data_cb on_data)
{
	if (c->closing)
		return -KC_ECLOSED;
	char *url = xasprintf("%s%s", c->server, path);
	struct http_client_header h[3];
	size_t nh = 0;
	h[nh++] = (struct http_client_header){ "Accept", "application/json" };
	if (body || len || strcmp(method, "GET"))
		h[nh++] = (struct http_client_header){ "Content-Type",
						       content_type ? content_type
								    : "application/json" };
	if (c->auth_header)
		h[nh++] = (struct http_client_header){ "Authorization", c->auth_header };
	struct http_client_request r = {
		.method = method, .url = url, .headers = h, .nheaders = nh, .body = body,
		.body_len = len, .stream = k->watch, .on_head = on_head, .on_data = on_data,
		.on_done = on_done, .arg = k,
		/* A watch ends by timeoutSeconds; a silent stream for 15 minutes is dead. */
		.stream_idle_timeout_ms = k->watch ? 15u * 60 * 1000 : 0,
	};
	struct kc_err err = { 0 };
	int rc = http_client_submit(c->http, &r, &k->req, &err);
	free(url);
	if (rc < 0) {
		log_warn("api request refused method=%s path=%s err=%s", method, path, err.msg);
		return rc;
	}
	k->c = c;
	kc_list_push_back(&c->calls, &k->link);
	return 0;
}

int apiclient_request(struct apiclient *c, const char *method, const char *path,
		      const char *content_type, const void *body, size_t len, apiclient_cb cb,
		      void *arg)
{
	struct call *k = xcalloc(1, sizeof *k);
	kc_list_init(&k->link);
	kc_str_init(&k->line);
	k->cb = cb;
	k->arg = arg;
	int rc = submit(c, k, method, path, content_type, body, len, NULL, NULL);
	if (rc < 0)
		call_free(k);
	return rc;
}

int apiclient_request_json(struct apiclient *c, const char *method, const char *path,
			   const cJSON *body, apiclient_cb cb, void *arg)
{
	size_t len = 0;
	char *s = body ? kc_json_print(body, &len) : NULL;
	int rc = apiclient_request(c, method, path, NULL, s, len, cb, arg);
	free(s);
	return rc;
}

static void watch_head(struct http_client_req *req, const struct http_client_response *resp,
		       void *arg)
{
	struct call *k = arg;
	k->status = resp->status;
}

/* One event line: parse, hand the object to on_event. */
static void watch_line(struct call *k, const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n == 0)
		return;
	struct kc_json_limits lim = { .max_bytes = APICLIENT_MAX_EVENT };
	struct kc_err e = { 0 };
	cJSON *ev = NULL;
	if (kc_json_parse(s, n, &lim, &ev, &e) < 0) {
		log_warn("malformed watch event err=%s", e.msg);
		return;
	}
	const char *type = kc_json_get_str(ev, "type");
	cJSON *obj = cJSON_DetachItemFromObjectCaseSensitive(ev, "object");
	if (type && k->on_event)
		k->on_event(k->arg, type, &obj);
	cJSON_Delete(obj);
	cJSON_Delete(ev);
}

static void feed(struct call *k, const char *data, size_t len);

static void watch_data(struct http_client_req *req, const char *data, size_t len, void *arg)
{
	struct call *k = arg;
	if (k->status != 200 || k->canceled)
		return;
	k->in_data = true;
	feed(k, data, len);
	k->in_data = false;
	if (k->canceled)
		call_free(k);
}

static void feed(struct call *k, const char *data, size_t len)
{
	size_t start = 0;
	for (size_t i = 0; i < len && !k->canceled; i++) {
		if (data[i] != '\n')
			continue;
		if (k->overflow) {
			log_warn("watch event over limit dropped limit=%zu", APICLIENT_MAX_EVENT);
			k->overflow = false;
		} else if (k->line.len > 0) {
			kc_str_add(&k->line, data + start, i - start);
			watch_line(k, k->line.buf, k->line.len);
			kc_str_reset(&k->line);
		} else {
			watch_line(k, data + start, i - start);
		}
		start = i + 1;
	}
	if (k->canceled || start >= len)
		return;
	if (k->overflow || k->line.len + (len - start) > APICLIENT_MAX_EVENT) {
		k->overflow = true;
		kc_str_free(&k->line);
	} else {
		kc_str_add(&k->line, data + start, len - start);
	}
}

int apiclient_watch(struct apiclient *c, const char *path, apiclient_event_cb on_event,
		    apiclient_end_cb on_end, void *arg, struct apiclient_watch **out)
{
	struct apiclient_watch *w = xcalloc(1, sizeof *w);
	struct call *k = &w->call;
	kc_list_init(&k->link);
	kc_str_init(&k->line);
	k->watch = true;
	k->on_event = on_event;
	k->on_end = on_end;
	k->arg = arg;
	int rc = submit(c, k, "GET", path, NULL, NULL, 0, watch_head, watch_data);
	if (rc < 0) {
		call_free(k);
		return rc;
	}
	if (out)
		*out = w;
	return 0;
}

void apiclient_watch_cancel(struct apiclient_watch *w)
{
	if (!w)
		return;
	struct call *k = &w->call;
	k->canceled = true;
	http_client_cancel(k->req);
	if (!k->in_data)
		call_free(k);
}

int apiclient_issue_identity(const struct kc_cert *ca, const struct kc_key *ca_key, const char *cn,
			     int64_t now, struct kc_cert **cert, struct kc_key **key,
			     struct kc_err *err)
{
	int rc = kc_key_generate(key, err);
	if (rc < 0)
		return rc;
	const char *groups[] = { "system:masters" };
	struct kc_cert_spec spec = {
		.cn = cn, .orgs = groups, .norgs = 1, .not_before = now - 3600,
		.not_after = now + 365LL * 24 * 3600,
	};
	rc = kc_cert_sign_client(ca, ca_key, *key, &spec, cert, err);
	if (rc < 0) {
		kc_key_free(*key);
		*key = NULL;
	}
	return rc;
}

void apiclient_escape(struct kc_str *buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			kc_str_addc(buf, (char)ch);
		} else {
			kc_str_addc(buf, '%');
			kc_str_addc(buf, hex[ch >> 4]);
			kc_str_addc(buf, hex[ch & 15]);
		}
	}
}

int64_t apiclient_wall_s(struct loop *l)
{
	struct kc_clock *ck = loop_clock(l);
	return (int64_t)(ck->wall_ns(ck) / 1000000000u);
}

char *apiclient_now_rfc3339(struct loop *l, char *buf, size_t cap)
{
	time_t t = (time_t)apiclient_wall_s(l);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int64_t apiclient_parse_time(const char *s)
{
	if (!s)
		return -1;
	int Y, M, D, h, m, sec;
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6)
		return -1;
	const char *p = s + n;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	long off = 0;
	if (*p == 'Z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6) {
		int oh, om;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		off = (oh * 3600L + om * 60L) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -1;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
			 .tm_min = m, .tm_sec = sec };
	return (int64_t)timegm(&tm) - off;
}
