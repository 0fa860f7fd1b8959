/* DESIGN: runs entirely on the store thread's loop. Server side: an http_server whose one route
 * POST /raft/msgs decodes a batch (u32 big-endian length + raft_msg_encode bytes, repeated) and
 * hands each message to the store. Client side: one http_client with keep-alive; per peer, at
 * most one batch is in flight and everything queued meanwhile becomes the next batch (group
 * sending, like group commit). Over max_pending_bytes new messages are dropped: Raft tolerates
 * loss and retransmits. Invariant: a peer's 'inflight' is set exactly while its request runs.
 * Snapshots travel beside the messages (store/snapshot.h): GET /raft/snapshot/NAME streams the
 * leader's file in SEND_CHUNK pieces, at most SEND_BURST of them per loop iteration and none
 * while the connection is congested, so a slow follower costs no memory and a fast one does not
 * starve the store thread; peer_fetch_snapshot is the other end, on a thread of its own. */
#include "store/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/vec.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/tls.h"

#define PEER_PATH      "/raft/msgs"
#define PROPOSE_PATH   "/raft/propose"
#define KEEPALIVE_PATH "/raft/keepalive"
#define MEMBERS_PATH   "/raft/members"
#define CONF_PATH      "/raft/conf"
#define TTL_PATH       "/raft/ttl"
#define SNAPSHOT_PATH  "/raft/snapshot/" /* + the file's name */

#define SEND_CHUNK	      (64u << 10)
#define SEND_BURST	      4
#define FETCH_HEAD_TIMEOUT_MS 10000
#define FETCH_IDLE_TIMEOUT_MS 30000
/* A batch holds at most max_pending_bytes of messages (64 MiB by default) plus the one that
 * crossed it (an entry is at most RAFT_MAX_ENTRY_BYTES): snapshots no longer travel here. */
#define MSGS_BODY_MAX ((uint64_t)256 << 20)

struct peer {
	uint64_t id;
	char *url;	       /* base URL + PEER_PATH */
	char *propose_url;     /* base URL + PROPOSE_PATH */
	char *keepalive_url;   /* base URL + KEEPALIVE_PATH */
	char *conf_url;	       /* base URL + CONF_PATH */
	char *ttl_url;	       /* base URL + TTL_PATH */
	struct kc_str pending; /* encoded messages waiting for the next batch */
	struct http_client_req *inflight;
	struct peer_transport *owner;
	bool removed; /* freed when its request completes */
	bool failed;  /* last batch failed: log once */
};

/* One snapshot file being served. */
struct snap_send {
	struct kc_list link; /* peer_transport.sends */
	struct peer_transport *p;
	struct http_req *req;
	struct loop_timer more; /* the next burst, after other work */
	int fd;
	uint64_t off, size;
	uint8_t *buf;
};

struct peer_transport {
	struct loop *loop;
	struct peer_config cfg;
	struct http_server *server;
	struct http_client *client;
	struct kc_vec peers; /* struct peer * */
	struct kc_list sends; /* struct snap_send */
	char cluster_hdr[32];
};

static struct peer *find(struct peer_transport *p, uint64_t id, size_t *pos)
{
	for (size_t i = 0; i < p->peers.len; i++) {
		struct peer *pr = *(struct peer **)kc_vec_at(&p->peers, i);
		if (pr->id == id) {
			if (pos)
				*pos = i;
			return pr;
		}
	}
	return NULL;
}

static void peer_free(struct peer *pr)
{
	kc_str_free(&pr->pending);
	free(pr->url);
	free(pr->propose_url);
	free(pr->keepalive_url);
	free(pr->conf_url);
	free(pr->ttl_url);
	free(pr);
}

static uint32_t get_u32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void handle_propose(struct peer_transport *p, struct http_req *req)
{
	uint64_t index = 0, term = 0;
	int rc = p->cfg.propose
			 ? p->cfg.propose(p->cfg.arg, req->body, req->body_len, &index, &term)
			 : -KC_EUNAVAIL;
	char body[64];
	int n = snprintf(body, sizeof body, "%d %" PRIu64 " %" PRIu64, rc, index, term);
	http_respond(req, 200, "text/plain", body, (size_t)n);
}

static void handle_keepalive(struct peer_transport *p, struct http_req *req)
{
	char idbuf[32];
	long long id = 0;
	int64_t ttl = 0;
	int rc = -KC_EINVAL;
	if (req->body_len > 0 && req->body_len < sizeof idbuf) {
		memcpy(idbuf, req->body, req->body_len);
		idbuf[req->body_len] = 0;
		if (kc_parse_i64(idbuf, 1, INT64_MAX, &id) == 0)
			rc = p->cfg.keepalive ? p->cfg.keepalive(p->cfg.arg, id, &ttl)
					      : -KC_EUNAVAIL;
	}
	char body[64];
	int n = snprintf(body, sizeof body, "%d %" PRIu64 " 0", rc, (uint64_t)(ttl > 0 ? ttl : 0));
	http_respond(req, 200, "text/plain", body, (size_t)n);
}

static const char *const conf_kinds[] = {
	[PEER_CONF_ADD] = "add", [PEER_CONF_REMOVE] = "remove", [PEER_CONF_PROMOTE] = "promote"};

void peer_conf_encode(const struct peer_conf_change *cc, struct kc_str *out)
{
	kc_str_addf(out, "%s %016" PRIx64 "\n", conf_kinds[cc->kind], cc->id);
	if (cc->kind == PEER_CONF_ADD)
		kc_str_addf(out, "%s\n%s\n", cc->name, cc->peer_url);
}

/* A name or URL line: 1 to size-1 bytes, no control characters. */
static int conf_field(const char *b, size_t n, char *out, size_t size, const char *what,
		      struct kc_err *err)
{
	if (n == 0 || n >= size)
		return kc_err_set(err, -KC_EINVAL, "membership change: %s of %zu bytes (1 to %zu)",
				  what, n, size - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)b[i] < 0x20 || b[i] == 0x7f)
			return kc_err_set(err, -KC_EINVAL,
					  "membership change: control character in %s", what);
	memcpy(out, b, n);
	out[n] = 0;
	return 0;
}

int peer_conf_parse(const void *body, size_t len, struct peer_conf_change *out, struct kc_err *err)
{
	const char *b = body, *line[3];
	size_t ll[3], n = 0;
	memset(out, 0, sizeof *out);
	if (len > PEER_CONF_BODY_MAX)
		return kc_err_set(err, -KC_EINVAL, "membership change over %d bytes",
				  PEER_CONF_BODY_MAX);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(b + i, '\n', len - i);
		if (!nl || n == 3)
			return kc_err_set(err, -KC_EINVAL, "membership change: %s",
					  nl ? "too many lines" : "unterminated line");
		line[n] = b + i;
		ll[n++] = (size_t)(nl - (b + i));
		i += ll[n - 1] + 1;
	}
	const char *sp = n ? memchr(line[0], ' ', ll[0]) : NULL;
	if (!sp)
		return kc_err_set(err, -KC_EINVAL, "membership change: want \"KIND ID\"");
	size_t kl = (size_t)(sp - line[0]);
	for (int k = PEER_CONF_ADD; k <= PEER_CONF_PROMOTE; k++)
		if (strlen(conf_kinds[k]) == kl && memcmp(line[0], conf_kinds[k], kl) == 0)
			out->kind = (enum peer_conf_kind)k;
	if (!out->kind)
		return kc_err_set(err, -KC_EINVAL, "membership change: unknown kind");
	const char *h = sp + 1, *end = line[0] + ll[0];
	if (end - h < 1 || end - h > 16)
		return kc_err_set(err, -KC_EINVAL, "membership change: bad member id");
	for (; h < end; h++) {
		int d = *h >= '0' && *h <= '9'	 ? *h - '0'
			: *h >= 'a' && *h <= 'f' ? *h - 'a' + 10
						 : -1;
		if (d < 0)
			return kc_err_set(err, -KC_EINVAL, "membership change: bad member id");
		out->id = out->id << 4 | (uint64_t)d;
	}
	if (!out->id)
		return kc_err_set(err, -KC_EINVAL, "membership change: member id 0");
	if (n != (out->kind == PEER_CONF_ADD ? 3u : 1u))
		return kc_err_set(err, -KC_EINVAL, "membership change: %zu lines for %s", n,
				  conf_kinds[out->kind]);
	if (out->kind != PEER_CONF_ADD)
		return 0;
	int rc = conf_field(line[1], ll[1], out->name, sizeof out->name, "name", err);
	return rc < 0 ? rc
		      : conf_field(line[2], ll[2], out->peer_url, sizeof out->peer_url, "peer URL",
				   err);
}

/* Answers "rc index term\nmessage" (200), or 400 to a body that does not parse. */
static void handle_conf(struct peer_transport *p, struct http_req *req)
{
	struct peer_conf_change cc;
	struct kc_err err = {0};
	uint64_t index = 0, term = 0;
	int rc = peer_conf_parse(req->body, req->body_len, &cc, &err);
	if (rc < 0) {
		log_warn("peer: bad membership change from %s: %s", http_req_peer_str(req),
			 err.msg);
		http_respond(req, 400, "text/plain", err.msg, strlen(err.msg));
		return;
	}
	if (p->cfg.conf)
		rc = p->cfg.conf(p->cfg.arg, &cc, &index, &term, &err);
	else
		rc = kc_err_set(&err, -KC_EUNAVAIL, "membership changes are not served here");
	if (rc < 0 && !err.msg[0])
		kc_err_set(&err, rc, "%s", kc_strerror(rc));
	char body[64 + sizeof err.msg];
	int n = snprintf(body, sizeof body, "%d %" PRIu64 " %" PRIu64 "\n%s", rc, index, term,
			 rc < 0 ? err.msg : "");
	http_respond(req, 200, "text/plain", body, (size_t)n);
}

/* A decimal field b[0..n): an optional '-' and digits without a leading zero, within [min, max];
 * 0 or -KC_EPROTO. */
static int ttl_num(const char *b, size_t n, long long min, long long max, long long *out)
{
	char buf[24];
	size_t i = n && b[0] == '-';
	if (n == i || n >= sizeof buf || (b[i] == '0' && n > i + 1))
		return -KC_EPROTO;
	for (size_t j = i; j < n; j++)
		if (b[j] < '0' || b[j] > '9')
			return -KC_EPROTO;
	memcpy(buf, b, n);
	buf[n] = 0;
	return kc_parse_i64(buf, min, max, out) < 0 ? -KC_EPROTO : 0;
}

void peer_ttl_encode(int rc, const struct mvcc_lease_info *info, const struct mvcc_range_resp *keys,
		     const char *msg, struct kc_str *out)
{
	char lim[KC_ERRMSG_MAX];
	size_t n = rc == 0 && keys ? keys->nkvs : 0, bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += keys->kvs[i].key_len;
	if (n > PEER_TTL_KEYS_MAX || bytes > PEER_TTL_KEY_BYTES_MAX) {
		snprintf(lim, sizeof lim,
			 "lease %" PRId64 " has %zu keys of %zu bytes, over the %d keys of %d bytes "
			 "a member passes on: ask the leader",
			 info->id, n, bytes, PEER_TTL_KEYS_MAX, PEER_TTL_KEY_BYTES_MAX);
		rc = -KC_ELIMIT;
		msg = lim;
	}
	if (rc < 0) {
		if (!msg || !*msg)
			msg = mvcc_strerror(rc);
		kc_str_addf(out, "%d 0 0 0 0\n", rc);
		for (size_t i = 0; i < KC_ERRMSG_MAX - 1 && msg[i]; i++) { /* as parse takes it */
			bool ctl = (unsigned char)msg[i] < 0x20 || msg[i] == 0x7f;
			kc_str_addc(out, ctl ? '?' : msg[i]);
		}
		return;
	}
	kc_str_addf(out, "0 %" PRId64 " %" PRId64 " %" PRId64 " %zu\n", info->id, info->ttl,
		    info->remaining, n);
	for (size_t i = 0; i < n; i++) {
		kc_str_addf(out, "%zu ", keys->kvs[i].key_len);
		kc_str_add(out, keys->kvs[i].key, keys->kvs[i].key_len);
		kc_str_addc(out, '\n');
	}
}

static int ttl_bad(struct mvcc_range_resp *keys, struct kc_err *err, const char *what)
{
	mvcc_range_resp_free(keys);
	return kc_err_set(err, -KC_EPROTO, "time-to-live answer: %s", what);
}

int peer_ttl_parse(const void *body, size_t len, int *code, struct mvcc_lease_info *info,
		   struct mvcc_range_resp *keys, struct kc_err *err)
{
	static const long long lo[5] = {INT_MIN, 0, 0, 0, 0};
	static const long long hi[5] = {0, INT64_MAX, INT64_MAX, INT64_MAX, PEER_TTL_KEYS_MAX};
	const char *b = body, *end = b + len, *nl = len ? memchr(b, '\n', len) : NULL;
	long long v[5];
	memset(info, 0, sizeof *info);
	memset(keys, 0, sizeof *keys);
	*code = 0;
	if (len > PEER_TTL_BODY_MAX)
		return kc_err_set(err, -KC_EPROTO, "time-to-live answer over %d bytes",
				  PEER_TTL_BODY_MAX);
	if (!nl)
		return ttl_bad(keys, err, "no first line");
	const char *f = b;
	for (int i = 0; i < 5; i++) {
		const char *e = i < 4 ? memchr(f, ' ', (size_t)(nl - f)) : nl;
		if (!e || ttl_num(f, (size_t)(e - f), lo[i], hi[i], &v[i]) < 0)
			return ttl_bad(keys, err, "want \"RC ID TTL REMAINING NKEYS\"");
		f = e + 1;
	}
	const char *p = nl + 1;
	if (v[0] < 0) {
		size_t n = (size_t)(end - p);
		if (v[1] || v[2] || v[3] || v[4] || n == 0 || n >= sizeof err->msg)
			return ttl_bad(keys, err, "bad refusal");
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return ttl_bad(keys, err, "control character in the refusal");
		*code = (int)v[0];
		kc_err_set(err, *code, "%.*s", (int)n, p);
		return 0;
	}
	if (!v[1])
		return ttl_bad(keys, err, "lease id 0");
	if (v[4] > (end - p) / 3) /* each key takes at least "0 \n" */
		return ttl_bad(keys, err, "fewer keys than announced");
	info->id = v[1];
	info->ttl = v[2];
	info->remaining = v[3];
	keys->kvs = v[4] ? xcalloc((size_t)v[4], sizeof *keys->kvs) : NULL;
	size_t bytes = 0;
	for (long long i = 0; i < v[4]; i++) {
		size_t room = (size_t)(end - p);
		const char *sp = memchr(p, ' ', room < 9 ? room : 9);
		long long kl;
		if (!sp || ttl_num(p, (size_t)(sp - p), 0, PEER_TTL_KEY_BYTES_MAX, &kl) < 0 ||
		    kl > end - sp - 2 || sp[1 + kl] != '\n')
			return ttl_bad(keys, err, "bad key");
		bytes += (size_t)kl;
		if (bytes > PEER_TTL_KEY_BYTES_MAX)
			return ttl_bad(keys, err, "keys over the byte limit");
		struct mvcc_kv *kv = &keys->kvs[keys->nkvs++];
		kv->key = xmalloc((size_t)kl + 2); /* one block: key, '\0', value "" (mvcc_kv) */
		memcpy(kv->key, sp + 1, (size_t)kl);
		kv->key[kl] = kv->key[kl + 1] = 0;
		kv->key_len = (size_t)kl;
		kv->value = kv->key + kl + 1;
		kv->lease = info->id;
		p = sp + 2 + kl;
	}
	if (p != end)
		return ttl_bad(keys, err, "bytes after the last key");
	keys->count = (int64_t)keys->nkvs;
	return 0;
}

/* Body "LEASE-ID 0|1" (keys wanted); answers peer_ttl_encode's body (200), or 400. */
static void handle_ttl(struct peer_transport *p, struct http_req *req)
{
	const char *b = req->body;
	size_t n = req->body_len;
	const char *sp = n ? memchr(b, ' ', n) : NULL;
	long long id = 0;
	if (!sp || n - (size_t)(sp - b) != 2 || (sp[1] != '0' && sp[1] != '1') ||
	    ttl_num(b, (size_t)(sp - b), 1, INT64_MAX, &id) < 0) {
		static const char want[] = "time-to-live: want \"LEASE-ID 0|1\"\n";
		log_warn("peer: bad time-to-live request from %s", http_req_peer_str(req));
		http_respond(req, 400, "text/plain", want, sizeof want - 1);
		return;
	}
	struct mvcc_lease_info info = {0};
	struct mvcc_range_resp keys = {0};
	struct kc_err err = {0};
	int rc = p->cfg.ttl ? p->cfg.ttl(p->cfg.arg, id, sp[1] == '1', &info, &keys, &err)
			    : kc_err_set(&err, -KC_EUNAVAIL, "time-to-live is not served here");
	struct kc_str out = KC_STR_INIT;
	peer_ttl_encode(rc, &info, &keys, err.msg, &out);
	http_respond(req, 200, "text/plain", out.buf, out.len);
	kc_str_free(&out);
	mvcc_range_resp_free(&keys);
}

/* A verified client certificate carrying the required O value. */
static bool peer_allowed(const struct peer_transport *p, const struct http_req *req)
{
	if (!req->peer_verified)
		return false;
	if (!p->cfg.require_group)
		return true;
	size_t n = strlen(p->cfg.require_group);
	for (const char *g = req->peer_groups; g && *g;) {
		const char *comma = strchr(g, ',');
		size_t len = comma ? (size_t)(comma - g) : strlen(g);
		if (len == n && memcmp(g, p->cfg.require_group, n) == 0)
			return true;
		if (!comma)
			break;
		g = comma + 1;
	}
	return false;
}

/* ---- serving snapshot files ---- */

static const struct raft_codec_limits msg_limits = {
	.max_entries = 10000,
	.max_entry_bytes = RAFT_MAX_ENTRY_BYTES,
	.max_snapshot_bytes = PEER_SNAPSHOT_DATA_MAX,
};

static void send_finish(struct snap_send *ss, bool complete)
{
	kc_list_del(&ss->link);
	loop_timer_stop(ss->p->loop, &ss->more);
	if (complete)
		http_stream_end(ss->req);
	else
		http_req_abort(ss->req);
	close(ss->fd);
	free(ss->buf);
	free(ss);
}

/* Sends up to SEND_BURST chunks; then waits for on_drain (congested) or for the next loop
 * iteration (the 'more' timer). */
static void send_pump(struct snap_send *ss)
{
	for (int i = 0; i < SEND_BURST; i++) {
		if (ss->off == ss->size) {
			send_finish(ss, true);
			return;
		}
		uint64_t left = ss->size - ss->off;
		size_t want = left < SEND_CHUNK ? (size_t)left : SEND_CHUNK;
		ssize_t n = pread(ss->fd, ss->buf, want, (off_t)ss->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("peer: reading the snapshot file at %" PRIu64 ": %s", ss->off,
				 n < 0 ? strerror(errno) : "early end of file");
			send_finish(ss, false);
			return;
		}
		ss->off += (uint64_t)n;
		int rc = http_stream_write(ss->req, ss->buf, (size_t)n);
		if (rc < 0) {
			send_finish(ss, false);
			return;
		}
		if (rc == HTTP_STREAM_CONGESTED)
			return;
	}
	loop_timer_start(ss->p->loop, &ss->more, 0);
}

static void send_more(struct loop *l, struct loop_timer *t)
{
	(void)l;
	send_pump(t->data);
}

static void send_drain(struct http_req *req, void *arg)
{
	(void)req;
	struct snap_send *ss = arg;
	if (!loop_timer_active(&ss->more))
		send_pump(ss);
}

static void send_close(struct http_req *req, void *arg)
{
	(void)req;
	send_finish(arg, false);
}

/* GET /raft/snapshot/NAME: the file, streamed (chunked), or 404. */
static void serve_snapshot(struct peer_transport *p, struct http_req *req, const char *name)
{
	int fd = -1;
	uint64_t size = 0;
	int rc = snap_name_valid(name) && p->cfg.snap_open
			 ? p->cfg.snap_open(p->cfg.arg, name, &fd, &size)
			 : -KC_ENOTFOUND;
	if (rc < 0) {
		static const char gone[] = "no such snapshot (a newer one replaced it?)\n";
		http_respond(req, 404, "text/plain", gone, sizeof gone - 1);
		return;
	}
	log_info("peer: sending snapshot file %s (%" PRIu64 " bytes) to %s", name, size,
		 http_req_peer_str(req));
	struct snap_send *ss = xcalloc(1, sizeof *ss);
	ss->p = p;
	ss->req = req;
	ss->fd = fd;
	ss->size = size;
	ss->buf = xmalloc(SEND_CHUNK);
	loop_timer_init(&ss->more, send_more, ss);
	kc_list_push_back(&p->sends, &ss->link);
	http_req_long_running(req);
	http_req_notify(req, send_drain, send_close, ss);
	if (http_stream_begin(req, 200, "application/octet-stream") < 0) {
		send_finish(ss, false);
		return;
	}
	send_pump(ss);
}

/* The requests a member sends the leader, each answered by its handler. */
static const struct {
	const char *path;
	void (*fn)(struct peer_transport *p, struct http_req *req);
} rpcs[] = {
	{ PROPOSE_PATH, handle_propose },
	{ KEEPALIVE_PATH, handle_keepalive },
	{ CONF_PATH, handle_conf },
	{ TTL_PATH, handle_ttl },
};

static void handle(struct http_req *req, void *arg)
{
	struct peer_transport *p = arg;
	if (strncmp(req->path, "/kc/", 4) == 0) {
		if (p->cfg.extra)
			p->cfg.extra(p->cfg.extra_arg, req);
		else
			http_respond(req, 404, "text/plain", "not found\n", 10);
		return;
	}
	if (p->cfg.tls_server && !peer_allowed(p, req)) {
		log_warn("peer: refused %s from %s: no store peer certificate", req->path,
			 http_req_peer_str(req));
		http_respond(req, 403, "text/plain", "store peer certificate required\n", 32);
		return;
	}
	void (*rpc)(struct peer_transport *p, struct http_req *req) = NULL;
	for (size_t i = 0; i < sizeof rpcs / sizeof rpcs[0]; i++)
		if (strcmp(req->path, rpcs[i].path) == 0)
			rpc = rpcs[i].fn;
	bool members = strcmp(req->path, MEMBERS_PATH) == 0 && p->cfg.members;
	bool snap = strncmp(req->path, SNAPSHOT_PATH, sizeof SNAPSHOT_PATH - 1) == 0;
	if (!rpc && !members && !snap && strcmp(req->path, PEER_PATH) != 0) {
		http_respond(req, 404, "text/plain", "not found\n", 10);
		return;
	}
	if (strcmp(req->method, members || snap ? "GET" : "POST") != 0) {
		http_respond(req, 405, "text/plain", "method not allowed\n", 19);
		return;
	}
	const char *cl = http_req_header(req, "X-Kc-Cluster");
	if (!members && (!cl || strcmp(cl, p->cluster_hdr) != 0)) {
		http_respond(req, 403, "text/plain", "cluster id mismatch\n", 20);
		return;
	}
	if (members) {
		struct kc_str out = KC_STR_INIT;
		p->cfg.members(p->cfg.arg, &out);
		http_respond(req, 200, "text/plain", out.buf ? out.buf : "", out.len);
		kc_str_free(&out);
		return;
	}
	if (rpc) {
		rpc(p, req);
		return;
	}
	if (snap) {
		serve_snapshot(p, req, req->path + sizeof SNAPSHOT_PATH - 1);
		return;
	}
	const uint8_t *b = (const uint8_t *)req->body;
	size_t left = req->body_len;
	bool from_removed = false;
	while (left >= 4) {
		uint32_t n = get_u32(b);
		if (n > left - 4)
			break;
		struct raft_msg m;
		struct kc_err err;
		if (raft_msg_decode(b + 4, n, &msg_limits, &m, &err) == 0) {
			if (p->cfg.is_removed && p->cfg.is_removed(p->cfg.arg, m.from))
				from_removed = true;
			else if (m.to == p->cfg.member_id)
				p->cfg.recv(p->cfg.arg, &m);
			raft_msg_free(&m);
		} else {
			log_warn("peer: bad message from %s: %s", http_req_peer_str(req), err.msg);
		}
		b += 4 + n;
		left -= 4 + n;
	}
	if (from_removed) {
		static const char gone[] = "the member has been permanently removed from the cluster\n";
		http_respond(req, 410, "text/plain", gone, sizeof gone - 1);
		return;
	}
	http_respond(req, 204, NULL, NULL, 0);
}

static void flush(struct peer *pr);

static void on_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		    const struct kc_err *err, void *arg)
{
	(void)req;
	struct peer *pr = arg;
	pr->inflight = NULL;
	if (pr->removed) {
		peer_free(pr);
		return;
	}
	struct peer_transport *p = pr->owner;
	if (rc == 0 && resp->status == 410) {
		log_error("peer: %016" PRIx64 " at %s answers that this member was removed from "
			  "the cluster", pr->id, pr->url);
		if (p->cfg.removed)
			p->cfg.removed(p->cfg.arg);
	}
	if (rc < 0 || resp->status != 204) {
		if (!pr->failed)
			log_warn("peer: sending to %016" PRIx64 " at %s failed: %s (status %d)",
				 pr->id, pr->url, rc < 0 ? err->msg : "bad status", resp->status);
		pr->failed = true;
		if (p->cfg.unreachable)
			p->cfg.unreachable(p->cfg.arg, pr->id);
	} else {
		if (pr->failed)
			log_info("peer: %016" PRIx64 " reachable again", pr->id);
		pr->failed = false;
	}
	flush(pr);
}

static void flush(struct peer *pr)
{
	struct peer_transport *p = pr->owner;
	if (pr->inflight || pr->pending.len == 0 || !p->client)
		return;
	struct http_client_header hdr[2] = {
		{"X-Kc-Cluster", p->cluster_hdr},
		{"Content-Type", "application/octet-stream"},
	};
	struct http_client_request r = {
		.method = "POST",
		.url = pr->url,
		.headers = hdr,
		.nheaders = 2,
		.body = pr->pending.buf,
		.body_len = pr->pending.len,
		.timeout_ms = p->cfg.timeout_ms,
		.on_done = on_done,
		.arg = pr,
	};
	struct kc_err err;
	if (http_client_submit(p->client, &r, &pr->inflight, &err) < 0) {
		log_warn("peer: %s: %s", pr->url, err.msg);
		pr->inflight = NULL;
	}
	kc_str_reset(&pr->pending);
}

void peer_transport_send(struct peer_transport *p, const struct raft_msg *m)
{
	struct peer *pr = find(p, m->to, NULL);
	if (!pr)
		return;
	size_t before = pr->pending.len;
	if (before > p->cfg.max_pending_bytes)
		return;
	uint8_t len[4] = {0};
	kc_str_add(&pr->pending, len, 4);
	raft_msg_encode(m, &pr->pending);
	uint32_t n = (uint32_t)(pr->pending.len - before - 4);
	uint8_t *b = (uint8_t *)pr->pending.buf + before;
	b[0] = (uint8_t)(n >> 24);
	b[1] = (uint8_t)(n >> 16);
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	flush(pr);
}

void peer_transport_set_peer(struct peer_transport *p, uint64_t id, const char *url)
{
	if (id == p->cfg.member_id || !url || !*url)
		return;
	struct peer *pr = find(p, id, NULL);
	size_t ul = strlen(url);
	while (ul > 0 && url[ul - 1] == '/')
		ul--;
	char *full = xasprintf("%.*s%s", (int)ul, url, PEER_PATH);
	char *prop = xasprintf("%.*s%s", (int)ul, url, PROPOSE_PATH);
	char *ka = xasprintf("%.*s%s", (int)ul, url, KEEPALIVE_PATH);
	char *conf = xasprintf("%.*s%s", (int)ul, url, CONF_PATH);
	char *ttl = xasprintf("%.*s%s", (int)ul, url, TTL_PATH);
	if (pr) {
		free(pr->url);
		free(pr->propose_url);
		free(pr->keepalive_url);
		free(pr->conf_url);
		free(pr->ttl_url);
		pr->url = full;
		pr->propose_url = prop;
		pr->keepalive_url = ka;
		pr->conf_url = conf;
		pr->ttl_url = ttl;
		return;
	}
	pr = xcalloc(1, sizeof *pr);
	pr->id = id;
	pr->url = full;
	pr->propose_url = prop;
	pr->keepalive_url = ka;
	pr->conf_url = conf;
	pr->ttl_url = ttl;
	pr->owner = p;
	kc_str_init(&pr->pending);
	kc_vec_push(&p->peers, &pr);
}

void peer_transport_remove_peer(struct peer_transport *p, uint64_t id)
{
	size_t pos;
	struct peer *pr = find(p, id, &pos);
	if (!pr)
		return;
	kc_vec_remove(&p->peers, pos);
	if (pr->inflight)
		pr->removed = true; /* on_done frees it */
	else
		peer_free(pr);
}

struct fwd {
	struct loop_msg msg; /* for failures before the request starts */
	peer_forward_cb cb;
	peer_conf_cb conf_cb; /* instead of cb for membership changes */
	peer_ttl_cb ttl_cb;   /* instead of cb for time-to-live */
	void *arg;
	int rc;
};

/* The answer to POST /raft/conf: "rc index term\nmessage", or 400 with why the leader could not
 * read the change; 0 with *code, or -KC_EPROTO. */
static int conf_answer(const struct http_client_response *resp, int *code, uint64_t *index,
		       uint64_t *term, struct kc_err *err)
{
	if (resp->status == 400) {
		*code = kc_err_set(err, -KC_EINVAL, "the leader refused the change: %.200s",
				   resp->body ? resp->body : "");
		return 0;
	}
	const char *nl = resp->body ? memchr(resp->body, '\n', resp->body_len) : NULL;
	if (resp->status != 200 || !nl ||
	    sscanf(resp->body, "%d %" SCNu64 " %" SCNu64, code, index, term) != 3 || *code > 0)
		return -KC_EPROTO;
	size_t n = resp->body_len - (size_t)(nl + 1 - resp->body);
	if (*code < 0)
		kc_err_set(err, *code, "%.*s", (int)(n < sizeof err->msg ? n : sizeof err->msg - 1),
			   nl + 1);
	return 0;
}

static void fwd_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		     const struct kc_err *err, void *arg)
{
	(void)req;
	(void)err;
	struct fwd *f = arg;
	uint64_t index = 0, term = 0;
	if (f->conf_cb) {
		struct kc_err lerr = {0};
		int code = 0;
		if (rc == 0 && (rc = conf_answer(resp, &code, &index, &term, &lerr)) == 0)
			rc = code;
		f->conf_cb(f->arg, rc, index, term, lerr.code ? &lerr : NULL);
		free(f);
		return;
	}
	if (f->ttl_cb) {
		struct kc_err lerr = {0};
		struct mvcc_lease_info info;
		struct mvcc_range_resp keys = {0};
		int code = 0;
		if (rc == 0 && resp->status != 200)
			rc = -KC_EPROTO;
		else if (rc == 0 && (rc = peer_ttl_parse(resp->body, resp->body_len, &code, &info,
							 &keys, &lerr)) == 0)
			rc = code;
		f->ttl_cb(f->arg, rc, rc == 0 ? &info : NULL, &keys, lerr.code ? &lerr : NULL);
		mvcc_range_resp_free(&keys);
		free(f);
		return;
	}
	if (rc == 0) {
		int code = 0;
		if (resp->status != 200 || !resp->body ||
		    sscanf(resp->body, "%d %" SCNu64 " %" SCNu64, &code, &index, &term) != 3)
			rc = -KC_EPROTO;
		else
			rc = code;
	}
	f->cb(f->arg, rc, index, term);
	free(f);
}

static void fwd_fail(struct loop *l, struct loop_msg *m)
{
	(void)l;
	struct fwd *f = m->data;
	if (f->conf_cb)
		f->conf_cb(f->arg, f->rc, 0, 0, NULL);
	else if (f->ttl_cb)
		f->ttl_cb(f->arg, f->rc, NULL, NULL, NULL);
	else
		f->cb(f->arg, f->rc, 0, 0);
	free(f);
}

enum call_kind { CALL_PROPOSE, CALL_KEEPALIVE, CALL_CONF, CALL_TTL };

/* POSTs body to one of member 'to''s calls; the answer "rc a b" goes to f's callback. Takes
 * ownership of f. */
static void call(struct peer_transport *p, uint64_t to, enum call_kind kind, const void *body,
		 size_t len, struct fwd *f)
{
	struct peer *pr = find(p, to, NULL);
	if (!pr) {
		f->rc = -KC_EUNAVAIL;
		goto fail;
	}
	struct http_client_header hdr[2] = {
		{"X-Kc-Cluster", p->cluster_hdr},
		{"Content-Type", "application/octet-stream"},
	};
	struct http_client_request r = {
		.method = "POST",
		.url = kind == CALL_KEEPALIVE ? pr->keepalive_url
		       : kind == CALL_CONF    ? pr->conf_url
		       : kind == CALL_TTL     ? pr->ttl_url
					      : pr->propose_url,
		.headers = hdr,
		.nheaders = 2,
		.body = body,
		.body_len = len,
		.timeout_ms = p->cfg.timeout_ms,
		.on_done = fwd_done,
		.arg = f,
	};
	struct kc_err err;
	if (http_client_submit(p->client, &r, NULL, &err) == 0)
		return;
	f->rc = err.code ? err.code : -KC_EINVAL;
fail:
	loop_msg_init(&f->msg, fwd_fail, f);
	loop_post(p->loop, &f->msg);
}

void peer_transport_forward(struct peer_transport *p, uint64_t to, const void *cmd, size_t len,
			    peer_forward_cb cb, void *arg)
{
	struct fwd *f = xcalloc(1, sizeof *f);
	f->cb = cb;
	f->arg = arg;
	call(p, to, CALL_PROPOSE, cmd, len, f);
}

void peer_transport_keepalive(struct peer_transport *p, uint64_t to, int64_t id, peer_forward_cb cb,
			      void *arg)
{
	char body[32];
	int n = snprintf(body, sizeof body, "%lld", (long long)id);
	struct fwd *f = xcalloc(1, sizeof *f);
	f->cb = cb;
	f->arg = arg;
	call(p, to, CALL_KEEPALIVE, body, (size_t)n, f);
}

void peer_transport_conf_change(struct peer_transport *p, uint64_t to,
				const struct peer_conf_change *cc, peer_conf_cb cb, void *arg)
{
	struct kc_str body = KC_STR_INIT;
	peer_conf_encode(cc, &body);
	struct fwd *f = xcalloc(1, sizeof *f);
	f->conf_cb = cb;
	f->arg = arg;
	call(p, to, CALL_CONF, body.buf, body.len, f);
	kc_str_free(&body);
}

void peer_transport_ttl(struct peer_transport *p, uint64_t to, int64_t id, bool keys,
			peer_ttl_cb cb, void *arg)
{
	char body[32];
	int n = snprintf(body, sizeof body, "%" PRId64 " %d", id, keys);
	struct fwd *f = xcalloc(1, sizeof *f);
	f->ttl_cb = cb;
	f->arg = arg;
	call(p, to, CALL_TTL, body, (size_t)n, f);
}

/* One line of GET /raft/members; 0 or -KC_EPROTO. */
static int parse_member_line(char *line, struct peer_member_info *m)
{
	char *f[5];
	char *save = NULL;
	int n = 0;
	for (char *t = strtok_r(line, " ", &save); t && n < 5; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	if (n != 5 || strtok_r(NULL, " ", &save))
		return -KC_EPROTO;
	char *end;
	memset(m, 0, sizeof *m);
	m->id = strtoull(f[0], &end, 16);
	if (*end || !m->id || strlen(f[1]) >= sizeof m->name ||
	    strlen(f[2]) >= sizeof m->peer_url || strlen(f[3]) >= sizeof m->client_url)
		return -KC_EPROTO;
	if (strcmp(f[1], "-") != 0)
		snprintf(m->name, sizeof m->name, "%s", f[1]);
	if (strcmp(f[2], "-") != 0)
		snprintf(m->peer_url, sizeof m->peer_url, "%s", f[2]);
	if (strcmp(f[3], "-") != 0)
		snprintf(m->client_url, sizeof m->client_url, "%s", f[3]);
	if (strcmp(f[4], "learner") == 0)
		m->learner = true;
	else if (strcmp(f[4], "voter") != 0)
		return -KC_EPROTO;
	return 0;
}

int peer_fetch_members(const char *base_url, uint64_t cluster_id, struct tls_client_config *tls,
		       unsigned wait_ms, struct peer_member_info *out, size_t max, char *token,
		       size_t token_size, struct kc_err *err)
{
	char hdrv[32];
	snprintf(hdrv, sizeof hdrv, "%016" PRIx64, cluster_id);
	struct http_client_header hdr[1] = {{"X-Kc-Cluster", hdrv}};
	struct http_client_config cc = {
		.connect_timeout_ms = 1000, .request_timeout_ms = 5000, .tls = tls,
		.max_body_bytes = 1 << 20,
	};
	size_t ul = strlen(base_url);
	while (ul > 0 && base_url[ul - 1] == '/')
		ul--;
	char *url = xasprintf("%.*s%s", (int)ul, base_url, MEMBERS_PATH);
	struct http_client_response resp = {0};
	struct kc_clock *clk = kc_clock_real();
	uint64_t end = kc_mono_ms(clk) + wait_ms;
	int rc;
	for (;;) {
		rc = http_client_do(&cc, "GET", url, hdr, 1, NULL, 0, &resp, err);
		if (rc == 0 || kc_mono_ms(clk) >= end ||
		    (rc != -ECONNREFUSED && rc != -KC_ETIMEDOUT && rc != -KC_ECLOSED))
			break;
		usleep(200 * 1000);
	}
	if (rc < 0) {
		kc_err_wrap(err, "cannot reach the store member at %.*s", (int)ul, base_url);
		goto out;
	}
	if (resp.status == 403) {
		rc = kc_err_set(err, -EPERM, "the member at %.*s belongs to another cluster",
				(int)ul, base_url);
		goto out;
	}
	if (resp.status != 200) {
		rc = kc_err_set(err, -KC_EPROTO, "the member at %.*s answered HTTP %d to %s",
				(int)ul, base_url, resp.status, MEMBERS_PATH);
		goto out;
	}
	size_t n = 0;
	char *save = NULL;
	char *first = strtok_r(resp.body, "\n", &save);
	if (!first || strncmp(first, "cluster ", 8) != 0 || strlen(first + 8) == 0) {
		rc = kc_err_set(err, -KC_EPROTO, "bad member list from %.*s", (int)ul, base_url);
		goto out;
	}
	if (token)
		snprintf(token, token_size, "%s", first + 8);
	for (char *line = strtok_r(NULL, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (n == max) {
			rc = kc_err_set(err, -KC_ELIMIT, "too many members at %.*s", (int)ul,
					base_url);
			goto out;
		}
		if (parse_member_line(line, &out[n]) < 0) {
			rc = kc_err_set(err, -KC_EPROTO, "bad member list from %.*s", (int)ul,
					base_url);
			goto out;
		}
		n++;
	}
	rc = (int)n;
out:
	http_client_response_free(&resp);
	free(url);
	return rc;
}

/* ---- downloading a snapshot file (a thread of its own) ---- */

struct fetch {
	int fd;
	const struct snap_desc *d;
	struct kc_sha256 h;
	uint64_t got;
	bool done;
	int rc;
	struct kc_err err;
};

static void fetch_fail(struct fetch *f, struct http_client_req *req, int rc, const char *what)
{
	f->rc = kc_err_set(&f->err, rc, "%s", what);
	f->done = true;
	http_client_cancel(req); /* no callback runs after this */
}

static void fetch_head(struct http_client_req *req, const struct http_client_response *resp,
		       void *arg)
{
	struct fetch *f = arg;
	if (resp->status != 200) {
		char what[64];
		snprintf(what, sizeof what, "answered HTTP %d", resp->status);
		fetch_fail(f, req, resp->status == 404 ? -KC_ENOTFOUND : -KC_EPROTO, what);
	}
}

static void fetch_data(struct http_client_req *req, const char *data, size_t len, void *arg)
{
	struct fetch *f = arg;
	if (len > f->d->size - f->got) {
		fetch_fail(f, req, -KC_EPROTO, "sent more bytes than the descriptor says");
		return;
	}
	kc_sha256_update(&f->h, data, len);
	f->got += len;
	while (len > 0) {
		ssize_t n = write(f->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			char what[96];
			snprintf(what, sizeof what, "writing: %s", strerror(errno));
			fetch_fail(f, req, -errno, what);
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

static void fetch_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		       const struct kc_err *err, void *arg)
{
	(void)req;
	(void)resp;
	struct fetch *f = arg;
	f->done = true;
	if (rc < 0)
		f->rc = kc_err_set(&f->err, rc, "%s", err->msg);
}

int peer_fetch_snapshot(const char *base_url, uint64_t cluster_id, struct tls_client_config *tls,
			const struct snap_desc *d, const char *dest, const atomic_bool *cancel,
			struct kc_err *err)
{
	if (!snap_name_valid(d->name))
		return kc_err_set(err, -KC_EINVAL, "bad snapshot name");
	size_t ul = strlen(base_url);
	while (ul > 0 && base_url[ul - 1] == '/')
		ul--;
	char *url = xasprintf("%.*s%s%s", (int)ul, base_url, SNAPSHOT_PATH, d->name);
	struct fetch f = {.d = d};
	kc_sha256_init(&f.h);
	struct loop *l = NULL;
	struct http_client *c = NULL;
	int rc = 0;
	f.fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f.fd < 0) {
		rc = kc_err_set(err, -errno, "open %s: %s", dest, strerror(errno));
		goto out;
	}
	if (!(l = loop_new(NULL))) {
		rc = kc_err_set(err, -errno, "event loop: %s", strerror(errno));
		goto out;
	}
	struct http_client_config cc = {
		.max_idle_per_origin = 1,
		.connect_timeout_ms = 2000,
		.request_timeout_ms = FETCH_HEAD_TIMEOUT_MS,
		.tls = tls,
	};
	c = http_client_new(l, &cc);
	char hdrv[32];
	snprintf(hdrv, sizeof hdrv, "%016" PRIx64, cluster_id);
	struct http_client_header hdr[1] = {{"X-Kc-Cluster", hdrv}};
	struct http_client_request r = {
		.method = "GET",
		.url = url,
		.headers = hdr,
		.nheaders = 1,
		.stream = true,
		.timeout_ms = FETCH_HEAD_TIMEOUT_MS,
		.stream_idle_timeout_ms = FETCH_IDLE_TIMEOUT_MS,
		.on_head = fetch_head,
		.on_data = fetch_data,
		.on_done = fetch_done,
		.arg = &f,
	};
	struct http_client_req *req = NULL;
	if ((rc = http_client_submit(c, &r, &req, err)) < 0)
		goto out;
	while (!f.done) {
		if (cancel && atomic_load(cancel)) {
			http_client_cancel(req);
			rc = kc_err_set(err, -KC_ECLOSED, "canceled");
			goto out;
		}
		int n = loop_run_once(l, 200);
		if (n < 0) {
			http_client_cancel(req);
			rc = kc_err_set(err, n, "event loop: %s", kc_strerror(n));
			goto out;
		}
	}
	if (f.rc < 0) {
		rc = f.rc;
		*err = f.err;
		goto out;
	}
	uint8_t sum[KC_SHA256_LEN];
	kc_sha256_final(&f.h, sum);
	if (f.got != d->size) {
		rc = kc_err_set(err, -KC_EPROTO, "got %" PRIu64 " of %" PRIu64 " bytes", f.got,
				d->size);
		goto out;
	}
	if (memcmp(sum, d->sha256, KC_SHA256_LEN) != 0) {
		rc = kc_err_set(err, -KC_EPROTO, "SHA-256 mismatch");
		goto out;
	}
	if (fsync(f.fd) < 0) {
		rc = kc_err_set(err, -errno, "fsync %s: %s", dest, strerror(errno));
		goto out;
	}
out:
	http_client_free(c);
	loop_free(l);
	if (f.fd >= 0)
		close(f.fd);
	if (rc < 0) {
		unlink(dest);
		kc_err_wrap(err, "snapshot %s from %.*s", d->name, (int)ul, base_url);
	}
	free(url);
	return rc;
}

static struct transport *wrap_tls(void *arg, int fd)
{
	return tls_server_wrap(arg, fd);
}

int peer_transport_open(struct loop *l, const struct peer_config *cfg, struct peer_transport **out,
			struct kc_err *err)
{
	struct peer_transport *p = xcalloc(1, sizeof *p);
	p->loop = l;
	p->cfg = *cfg;
	if (!p->cfg.max_pending_bytes)
		p->cfg.max_pending_bytes = 64u << 20;
	if (!p->cfg.timeout_ms)
		p->cfg.timeout_ms = 5000;
	snprintf(p->cluster_hdr, sizeof p->cluster_hdr, "%016" PRIx64, cfg->cluster_id);
	kc_vec_init(&p->peers, sizeof(struct peer *));
	kc_list_init(&p->sends);
	if (!cfg->no_server) {
		struct http_server_config sc = {
			.addr = cfg->listen_addr,
			.port = cfg->listen_port,
			.handler = handle,
			.handler_arg = p,
			.wrap = cfg->tls_server ? wrap_tls : NULL,
			.wrap_arg = cfg->tls_server,
			.limits = {.max_body_bytes = MSGS_BODY_MAX},
			.idle_timeout_ms = 600000,
		};
		int rc = http_server_open(l, &sc, &p->server, err);
		if (rc < 0) {
			kc_vec_free(&p->peers);
			free(p);
			return kc_err_wrap(err, "peer server");
		}
	}
	struct http_client_config cc = {
		/* forwarded proposals run concurrently (one request each): keep their connections */
		.max_idle_per_origin = 64,
		.connect_timeout_ms = 1000,
		.request_timeout_ms = p->cfg.timeout_ms,
		.tls = cfg->tls_client,
	};
	p->client = http_client_new(l, &cc);
	*out = p;
	return 0;
}

void peer_transport_close(struct peer_transport *p)
{
	if (!p)
		return;
	/* Freeing the client completes in-flight requests with -KC_ECLOSED; mark every peer
	 * removed first so on_done just frees it. */
	for (size_t i = 0; i < p->peers.len; i++) {
		struct peer *pr = *(struct peer **)kc_vec_at(&p->peers, i);
		if (pr->inflight)
			pr->removed = true;
		else
			peer_free(pr);
	}
	kc_vec_free(&p->peers);
	http_client_free(p->client);
	struct kc_list *it, *tmp;
	kc_list_each_safe(&p->sends, it, tmp)
		send_finish(kc_container_of(it, struct snap_send, link), false);
	http_server_close(p->server);
	free(p);
}

uint16_t peer_transport_port(const struct peer_transport *p)
{
	return p->server ? http_server_port(p->server) : 0;
}
