/* storectl.c - `kc store`, the store's command-line client.
 *
 * DESIGN: a thin CLI over the etcd v3 JSON gateway, so it speaks to kc's store and to a real etcd
 * alike (tests/integration/t_storectl.sh proves it against etcd 3.4). Unary calls go through the
 * blocking http_client_do; watch and snapshot stream on a private loop and http_client. Endpoints
 * are tried in order until one answers. Output follows etcdctl's "simple" format. Single
 * threaded; everything is freed before returning, errors are one line on stderr. */
#include "roles/storectl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/tls.h"
#include "roles/config.h"
#include "store/mvcc.h"
#include "store/store.h"

#define MAX_ENDPOINTS 8

struct ctl {
	char *endpoints[MAX_ENDPOINTS];
	size_t nendpoints;
	size_t current;                      /* the endpoint that answered last */
	struct tls_client_config *tls;
	struct http_client_config cfg;
	char *endpoints_buf;
};

static int usage(const char *why)
{
	fprintf(stderr, "kc store: %s (usage: kc store [--endpoints URL,...] [--cacert F --cert F "
			"--key F | --data-dir D] ls PREFIX | get KEY [--rev N] [--prefix] | put KEY "
			"VALUE | del KEY [--prefix] | watch KEY [--prefix] [--rev N] | status | "
			"member list|add NAME URL [--learner]|remove ID|promote ID | compact REV | snapshot save FILE | "
			"snapshot restore FILE --data-dir DIR [--node-name N] [--store-peers ...])\n",
		why);
	return 2;
}

/* ---- JSON helpers ---- */

static int64_t jint(const cJSON *o, const char *path)
{
	const cJSON *v = kc_json_get(o, path);
	if (!v)
		return 0;
	if (cJSON_IsString(v))
		return strtoll(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	return 0;
}

static uint64_t juint(const cJSON *o, const char *path)
{
	const cJSON *v = kc_json_get(o, path);
	if (v && cJSON_IsString(v))
		return strtoull(v->valuestring, NULL, 10);
	return (uint64_t)jint(o, path);
}

/* Decodes the base64 string at path into out (reset first). */
static void jbytes(const cJSON *o, const char *path, struct kc_str *out)
{
	const char *s = kc_json_get_str(o, path);
	struct kc_err err;
	kc_str_reset(out);
	if (s && kc_base64_decode(out, s, strlen(s), KC_B64_STD, &err) < 0)
		kc_str_reset(out);
}

static void add_b64_field(struct kc_str *b, const char *name, const char *data, size_t n)
{
	kc_str_addf(b, "\"%s\":\"", name);
	kc_base64_encode(b, data, n, KC_B64_STD);
	kc_str_addc(b, '"');
}

/* The etcd prefix end of key, base64 into b as "range_end". */
static void add_prefix_end(struct kc_str *b, const char *key)
{
	size_t n = strlen(key);
	uint8_t *end = xmalloc(n ? n : 1);
	size_t m = mvcc_prefix_end(key, n, end);
	kc_str_addc(b, ',');
	add_b64_field(b, "range_end", (const char *)end, m);
	free(end);
}

/* ---- calls ---- */

/* POSTs body to path on the first endpoint that answers. Returns 0 with *out (a JSON object;
 * free with cJSON_Delete), or prints one line and returns 1. */
static int call(struct ctl *c, const char *path, const char *body, cJSON **out)
{
	struct kc_err err = { 0 };
	int rc = -KC_EUNAVAIL;
	struct http_client_response resp = { 0 };
	struct http_client_header hdr = { "Content-Type", "application/json" };
	for (size_t i = 0; i < c->nendpoints; i++) {
		size_t e = (c->current + i) % c->nendpoints;
		char *url = xasprintf("%s%s", c->endpoints[e], path);
		rc = http_client_do(&c->cfg, "POST", url, &hdr, 1, body, strlen(body), &resp, &err);
		free(url);
		if (rc == 0) {
			c->current = e;
			break;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "Error: store unreachable at %s: %s\n", c->endpoints[c->current],
			err.msg[0] ? err.msg : kc_strerror(rc));
		return 1;
	}
	cJSON *j = NULL;
	if (kc_json_parse(resp.body ? resp.body : "", resp.body_len, NULL, &j, &err) < 0 ||
	    !cJSON_IsObject(j)) {
		fprintf(stderr, "Error: %s answered HTTP %d with a body that is not JSON\n",
			c->endpoints[c->current], resp.status);
		cJSON_Delete(j);
		http_client_response_free(&resp);
		return 1;
	}
	if (resp.status != 200) {
		const char *m = kc_json_get_str(j, "message");
		if (!m)
			m = kc_json_get_str(j, "error");
		fprintf(stderr, "Error: %s\n", m ? m : "request failed");
		cJSON_Delete(j);
		http_client_response_free(&resp);
		return 1;
	}
	http_client_response_free(&resp);
	*out = j;
	return 0;
}

/* ---- streaming (watch, snapshot) ---- */

struct stream {
	struct loop *l;
	struct kc_str line;
	int (*on_line)(struct stream *s, const cJSON *msg);  /* returns 1 to stop */
	int rc;
	int status;
	FILE *file;          /* snapshot */
	uint64_t bytes;
	bool got_last;
	struct kc_err err;
};

static void stream_head(struct http_client_req *req, const struct http_client_response *resp,
			void *arg)
{
	struct stream *s = arg;
	(void)req;
	s->status = resp->status;
}

static void stream_data(struct http_client_req *req, const char *data, size_t len, void *arg)
{
	struct stream *s = arg;
	kc_str_add(&s->line, data, len);
	char *nl;
	while ((nl = memchr(s->line.buf, '\n', s->line.len)) != NULL) {
		size_t n = (size_t)(nl - s->line.buf);
		cJSON *j = NULL;
		struct kc_err err;
		int stop = 0;
		if (n > 0 && kc_json_parse(s->line.buf, n, NULL, &j, &err) == 0) {
			const cJSON *res = kc_json_get(j, "result");
			const char *m = kc_json_get_str(j, "message");
			if (m || !res) {
				fprintf(stderr, "Error: %s\n", m ? m : "bad stream message");
				s->rc = 1;
				stop = 1;
			} else {
				stop = s->on_line(s, res);
			}
		}
		cJSON_Delete(j);
		kc_str_consume(&s->line, n + 1);
		if (stop) {
			http_client_cancel(req);
			loop_stop(s->l);
			return;
		}
	}
}

static void stream_done(struct http_client_req *req, int rc, struct http_client_response *resp,
			const struct kc_err *err, void *arg)
{
	struct stream *s = arg;
	(void)req;
	(void)resp;
	if (rc < 0) {
		s->rc = 1;
		s->err = *err;
		if (!s->err.msg[0])
			kc_err_set(&s->err, rc, "%s", kc_strerror(rc));
	}
	loop_stop(s->l);
}

static int stream_post(struct ctl *c, const char *path, const char *body, struct stream *s)
{
	struct kc_err err = { 0 };
	struct http_client_header hdr = { "Content-Type", "application/json" };
	s->l = loop_new(NULL);
	if (!s->l) {
		fprintf(stderr, "Error: cannot create an event loop\n");
		return 1;
	}
	kc_str_init(&s->line);
	struct http_client *hc = http_client_new(s->l, &c->cfg);
	char *url = xasprintf("%s%s", c->endpoints[c->current], path);
	struct http_client_request r = {
		.method = "POST", .url = url, .headers = &hdr, .nheaders = 1, .body = body,
		.body_len = strlen(body), .stream = true, .timeout_ms = 10000,
		.on_head = stream_head, .on_data = stream_data, .on_done = stream_done, .arg = s,
	};
	if (http_client_submit(hc, &r, NULL, &err) < 0) {
		fprintf(stderr, "Error: %s\n", err.msg);
		s->rc = 1;
	} else {
		loop_run(s->l);
		if (s->rc && s->err.code)
			fprintf(stderr, "Error: store unreachable at %s: %s\n",
				c->endpoints[c->current], s->err.msg);
		else if (!s->rc && s->status && s->status != 200)
			s->rc = 1;
	}
	free(url);
	http_client_free(hc);
	loop_free(s->l);
	kc_str_free(&s->line);
	return s->rc;
}

/* ---- commands ---- */

static void print_kv(const cJSON *kv, bool keys_only)
{
	struct kc_str b;
	kc_str_init(&b);
	jbytes(kv, "key", &b);
	fwrite(b.buf, 1, b.len, stdout);
	fputc('\n', stdout);
	if (!keys_only) {
		jbytes(kv, "value", &b);
		fwrite(b.buf, 1, b.len, stdout);
		fputc('\n', stdout);
	}
	kc_str_free(&b);
}

static int cmd_get(struct ctl *c, const char *key, bool prefix, int64_t rev, bool keys_only)
{
	struct kc_str b;
	cJSON *j;
	kc_str_init(&b);
	kc_str_addc(&b, '{');
	add_b64_field(&b, "key", key, strlen(key));
	if (prefix)
		add_prefix_end(&b, key);
	if (rev > 0)
		kc_str_addf(&b, ",\"revision\":\"%" PRId64 "\"", rev);
	if (keys_only)
		kc_str_adds(&b, ",\"keys_only\":true");
	kc_str_addc(&b, '}');
	int rc = call(c, "/v3/kv/range", b.buf, &j);
	kc_str_free(&b);
	if (rc)
		return rc;
	const cJSON *kvs = kc_json_get(j, "kvs"), *kv;
	cJSON_ArrayForEach(kv, kvs)
		print_kv(kv, keys_only);
	cJSON_Delete(j);
	return 0;
}

static int cmd_put(struct ctl *c, const char *key, const char *value)
{
	struct kc_str b;
	cJSON *j;
	kc_str_init(&b);
	kc_str_addc(&b, '{');
	add_b64_field(&b, "key", key, strlen(key));
	kc_str_addc(&b, ',');
	add_b64_field(&b, "value", value, strlen(value));
	kc_str_addc(&b, '}');
	int rc = call(c, "/v3/kv/put", b.buf, &j);
	kc_str_free(&b);
	if (rc)
		return rc;
	puts("OK");
	cJSON_Delete(j);
	return 0;
}

static int cmd_del(struct ctl *c, const char *key, bool prefix)
{
	struct kc_str b;
	cJSON *j;
	kc_str_init(&b);
	kc_str_addc(&b, '{');
	add_b64_field(&b, "key", key, strlen(key));
	if (prefix)
		add_prefix_end(&b, key);
	kc_str_addc(&b, '}');
	int rc = call(c, "/v3/kv/deleterange", b.buf, &j);
	kc_str_free(&b);
	if (rc)
		return rc;
	printf("%" PRId64 "\n", jint(j, "deleted"));
	cJSON_Delete(j);
	return 0;
}

static int watch_line(struct stream *s, const cJSON *res)
{
	const cJSON *ev;
	(void)s;
	if (kc_json_get_bool(res, "canceled", false)) {
		int64_t cr = jint(res, "compact_revision");
		const char *why = kc_json_get_str(res, "cancel_reason");
		if (cr)
			fprintf(stderr, "Error: watch canceled: required revision has been "
					"compacted (oldest available %" PRId64 ")\n", cr);
		else
			fprintf(stderr, "Error: watch canceled%s%s\n", why ? ": " : "",
				why ? why : "");
		s->rc = 1;
		return 1;
	}
	cJSON_ArrayForEach(ev, kc_json_get(res, "events")) {
		const char *t = kc_json_get_str(ev, "type");
		const cJSON *kv = kc_json_get(ev, "kv");
		puts(t ? t : "PUT");
		if (kv)
			print_kv(kv, false);
	}
	fflush(stdout);
	return 0;
}

static int cmd_watch(struct ctl *c, const char *key, bool prefix, int64_t rev)
{
	struct kc_str b;
	struct stream s = { 0 };
	kc_str_init(&b);
	kc_str_adds(&b, "{\"create_request\":{");
	add_b64_field(&b, "key", key, strlen(key));
	if (prefix)
		add_prefix_end(&b, key);
	if (rev > 0)
		kc_str_addf(&b, ",\"start_revision\":\"%" PRId64 "\"", rev);
	kc_str_adds(&b, "}}");
	s.on_line = watch_line;
	/* Find an endpoint that answers before holding a stream on it. */
	cJSON *j;
	int rc = call(c, "/v3/maintenance/status", "{}", &j);
	if (rc == 0) {
		cJSON_Delete(j);
		rc = stream_post(c, "/v3/watch", b.buf, &s);
	}
	kc_str_free(&b);
	return rc;
}

static void human_bytes(int64_t n, char *out, size_t sz)
{
	if (n >= 1000 * 1000)
		snprintf(out, sz, "%.1f MB", (double)n / 1e6);
	else if (n >= 1000)
		snprintf(out, sz, "%" PRId64 " kB", n / 1000);
	else
		snprintf(out, sz, "%" PRId64 " B", n);
}

static int cmd_status(struct ctl *c)
{
	int worst = 0;
	for (size_t i = 0; i < c->nendpoints; i++) {
		struct ctl one = *c;
		cJSON *j;
		one.endpoints[0] = c->endpoints[i];
		one.nendpoints = 1;
		one.current = 0;
		if (call(&one, "/v3/maintenance/status", "{}", &j)) {
			worst = 1;
			continue;
		}
		char db[32];
		const char *ver = kc_json_get_str(j, "version");
		uint64_t me = juint(j, "header.member_id");
		human_bytes(jint(j, "dbSize"), db, sizeof(db));
		printf("%s, %" PRIx64 ", %s, %s, %s, %s, %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", \n",
		       c->endpoints[i], me, ver ? ver : "", db,
		       juint(j, "leader") == me ? "true" : "false",
		       kc_json_get_bool(j, "isLearner", false) ? "true" : "false",
		       juint(j, "raftTerm"), juint(j, "raftIndex"), juint(j, "raftAppliedIndex"));
		cJSON_Delete(j);
	}
	return worst;
}

static void print_urls(const cJSON *arr)
{
	const cJSON *u;
	bool first = true;
	cJSON_ArrayForEach(u, arr) {
		if (cJSON_IsString(u)) {
			printf("%s%s", first ? "" : ",", u->valuestring);
			first = false;
		}
	}
}

static int cmd_member(struct ctl *c, int argc, char **argv, bool learner)
{
	cJSON *j;
	struct kc_str b;
	int rc;
	if (argc < 1)
		return usage("member needs list, add, remove or promote");
	kc_str_init(&b);
	if (strcmp(argv[0], "list") == 0 && argc == 1) {
		if ((rc = call(c, "/v3/cluster/member/list", "{}", &j)))
			goto out;
		const cJSON *m;
		cJSON_ArrayForEach(m, kc_json_get(j, "members")) {
			const char *name = kc_json_get_str(m, "name");
			printf("%" PRIx64 ", %s, %s, ", juint(m, "ID"),
			       name && *name ? "started" : "unstarted", name ? name : "");
			print_urls(kc_json_get(m, "peerURLs"));
			printf(", ");
			print_urls(kc_json_get(m, "clientURLs"));
			printf(", %s\n", kc_json_get_bool(m, "isLearner", false) ? "true" : "false");
		}
	} else if (strcmp(argv[0], "add") == 0 && argc == 3) {
		kc_str_adds(&b, "{\"peerURLs\":[");
		kc_json_write_string(&b, argv[2]);
		kc_str_adds(&b, "],\"name\":");   /* kc's extension; etcd ignores it */
		kc_json_write_string(&b, argv[1]);
		kc_str_adds(&b, learner ? ",\"isLearner\":true}" : "}");
		if ((rc = call(c, "/v3/cluster/member/add", b.buf, &j)))
			goto out;
		printf("Member %" PRIx64 " added to cluster %" PRIx64 "\n", juint(j, "member.ID"),
		       juint(j, "header.cluster_id"));
		printf("\nETCD_NAME=\"%s\"\nETCD_INITIAL_ADVERTISE_PEER_URLS=\"%s\"\n", argv[1],
		       argv[2]);
		/* kc's way: the new member learns the cluster from a voter's peer URL */
		const cJSON *m, *join = NULL;
		cJSON_ArrayForEach(m, kc_json_get(j, "members")) {
			const cJSON *u = cJSON_GetArrayItem(kc_json_get(m, "peerURLs"), 0);
			if (!join && !kc_json_get_bool(m, "isLearner", false) && cJSON_IsString(u))
				join = u;
		}
		if (join)
			printf("\nStart it with: kc server --role=store --node-name %s --store-join %s "
			       "[--token TOKEN]\n",
			       argv[1], join->valuestring);
	} else if ((strcmp(argv[0], "remove") == 0 || strcmp(argv[0], "promote") == 0) &&
		   argc == 2) {
		char *end;
		uint64_t id = strtoull(argv[1], &end, 16);
		if (!*argv[1] || *end) {
			rc = usage("member ID must be hexadecimal");
			goto out;
		}
		kc_str_addf(&b, "{\"ID\":\"%" PRIu64 "\"}", id);
		bool rm = argv[0][0] == 'r';
		if ((rc = call(c, rm ? "/v3/cluster/member/remove" : "/v3/cluster/member/promote",
			       b.buf, &j)))
			goto out;
		printf("Member %" PRIx64 " %s in cluster %" PRIx64 "\n", id,
		       rm ? "removed from" : "promoted", juint(j, "header.cluster_id"));
	} else {
		rc = usage("member list | add NAME URL [--learner] | remove ID | promote ID");
		goto out;
	}
	cJSON_Delete(j);
	rc = 0;
out:
	kc_str_free(&b);
	return rc;
}

static int cmd_compact(struct ctl *c, int64_t rev)
{
	cJSON *j;
	char body[64];
	snprintf(body, sizeof(body), "{\"revision\":\"%" PRId64 "\"}", rev);
	int rc = call(c, "/v3/kv/compaction", body, &j);
	if (rc)
		return rc;
	printf("compacted revision %" PRId64 "\n", rev);
	cJSON_Delete(j);
	return 0;
}

static int snapshot_line(struct stream *s, const cJSON *res)
{
	struct kc_str b;
	kc_str_init(&b);
	jbytes(res, "blob", &b);
	if (b.len && fwrite(b.buf, 1, b.len, s->file) != b.len) {
		fprintf(stderr, "Error: writing the snapshot failed\n");
		s->rc = 1;
		kc_str_free(&b);
		return 1;
	}
	s->bytes += b.len;
	kc_str_free(&b);
	/* etcd (and kc) send the data, the last piece with remaining_bytes 0 (omitted), then the
	 * SHA-256 of the data as one more blob: everything goes to the file, as etcdctl does */
	if (jint(res, "remaining_bytes") == 0)
		s->got_last = true;
	return 0;
}

/* A snapshot file is the database, then (when its size is 32 past a multiple of 512) the
 * SHA-256 of the database, as etcd writes it. 0: good (*db_len = the database's length), or
 * prints why not and returns 1. */
static int snapshot_check(const char *file, uint64_t *db_len)
{
	FILE *f = fopen(file, "rb");
	if (!f) {
		fprintf(stderr, "Error: cannot open %s\n", file);
		return 1;
	}
	struct kc_sha256 h;
	uint8_t buf[65536], tail[KC_SHA256_LEN], sum[KC_SHA256_LEN];
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (size < 0 || size % 512 != KC_SHA256_LEN) {
		fclose(f);
		fprintf(stderr, "Error: %s has no integrity hash (not a snapshot saved from a "
				"store, or truncated)\n", file);
		return 1;
	}
	uint64_t left = (uint64_t)size - KC_SHA256_LEN;
	*db_len = left;
	kc_sha256_init(&h);
	while (left > 0) {
		size_t n = fread(buf, 1, left < sizeof buf ? left : sizeof buf, f);
		if (n == 0)
			break;
		kc_sha256_update(&h, buf, n);
		left -= n;
	}
	bool ok = left == 0 && fread(tail, 1, sizeof tail, f) == sizeof tail;
	fclose(f);
	kc_sha256_final(&h, sum);
	if (!ok || memcmp(sum, tail, sizeof sum) != 0) {
		fprintf(stderr, "Error: %s is corrupt: its SHA-256 does not match the one saved with "
				"it\n", file);
		return 1;
	}
	return 0;
}

static int cmd_snapshot(struct ctl *c, const char *file)
{
	struct stream s = { 0 };
	char *tmp = xasprintf("%s.part", file);
	cJSON *j;
	int rc = call(c, "/v3/maintenance/status", "{}", &j);
	if (rc)
		goto out;
	cJSON_Delete(j);
	s.file = fopen(tmp, "wbx");
	if (!s.file) {
		fprintf(stderr, "Error: cannot create %s\n", tmp);
		rc = 1;
		goto out;
	}
	s.on_line = snapshot_line;
	rc = stream_post(c, "/v3/maintenance/snapshot", "{}", &s);
	if (fclose(s.file) != 0)
		rc = 1;
	uint64_t db_len;
	if (rc == 0 && !s.got_last) {
		fprintf(stderr, "Error: snapshot stream ended early\n");
		rc = 1;
	}
	if (rc == 0)
		rc = snapshot_check(tmp, &db_len);
	if (rc == 0 && rename(tmp, file) != 0) {
		fprintf(stderr, "Error: cannot rename %s to %s\n", tmp, file);
		rc = 1;
	}
	if (rc)
		remove(tmp);
	else
		printf("Snapshot saved at %s\n", file);
out:
	free(tmp);
	return rc;
}

/* `kc store snapshot restore FILE --data-dir DIR`: a new member data directory whose MVCC state
 * is the snapshot (a new cluster, its token derived from the snapshot's hash so that every
 * member restored from the same file joins the same cluster; revisions kept). */
static int cmd_restore(const char *file, const char *dir, const char *name, const char *peers)
{
	uint64_t db_len;
	if (!dir)
		return usage("snapshot restore needs --data-dir");
	if (snapshot_check(file, &db_len))
		return 1;
	FILE *in = fopen(file, "rb");
	if (!in) {
		fprintf(stderr, "Error: cannot open %s\n", file);
		return 1;
	}
	uint8_t magic[16], sum[KC_SHA256_LEN];
	if (fread(magic, 1, sizeof magic, in) != sizeof magic ||
	    memcmp(magic, "SQLite format 3", 16) != 0) {
		fclose(in);
		fprintf(stderr, "Error: %s is not a kc store snapshot (no SQLite database in it)\n",
			file);
		return 1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fclose(in);
		fprintf(stderr, "Error: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	char *tmp = xasprintf("%s/.restore-%d.db", dir, (int)getpid());
	FILE *out = fopen(tmp, "wbx");
	int rc = out ? 0 : 1;
	uint8_t buf[65536];
	uint64_t left = db_len;
	fseek(in, 0, SEEK_SET);
	while (rc == 0 && left > 0) {
		size_t n = fread(buf, 1, left < sizeof buf ? left : sizeof buf, in);
		if (n == 0 || fwrite(buf, 1, n, out) != n)
			rc = 1;
		left -= n;
	}
	if (rc == 0 && fread(sum, 1, sizeof sum, in) != sizeof sum)
		rc = 1;
	fclose(in);
	if (out && (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0))
		rc = 1;
	if (rc) {
		fprintf(stderr, "Error: cannot copy %s into %s\n", file, dir);
		unlink(tmp);
		free(tmp);
		return 1;
	}
	char token[3 + 16 + 1] = "kc-";
	kc_hex_encode(sum, 8, token + 3);
	struct kc_server_config defaults;
	kc_config_defaults(&defaults);
	if (!name)
		name = defaults.node_name;
	int64_t rev = 0;
	struct kc_err err = { 0 };
	if (store_restore(dir, name, token, tmp, &rev, &err) < 0) {
		fprintf(stderr, "Error: %s\n", err.msg);
		unlink(tmp);
		free(tmp);
		return 1;
	}
	free(tmp);
	printf("Restored %s into %s: member %s of a new cluster (token %s), revision %" PRId64
	       "\nStart it with: kc server --role=store --data-dir %s --node-name %s%s%s\n",
	       file, dir, name, token, rev, dir, name, peers ? " --store-peers " : "",
	       peers ? peers : "");
	return 0;
}

/* ---- setup ---- */

static int load_tls(struct ctl *c, const char *cacert, const char *cert, const char *key)
{
	struct kc_err err = { 0 };
	struct kc_cert *ca = NULL, *crt = NULL;
	struct kc_key *k = NULL;
	int rc = 0;
	if ((cacert && kc_cert_load_file(cacert, &ca, &err) < 0) ||
	    (cert && kc_cert_load_file(cert, &crt, &err) < 0) ||
	    (key && kc_key_load_file(key, &k, &err) < 0)) {
		fprintf(stderr, "Error: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	struct tls_client_opts o = { .ca = ca, .cert = crt, .key = k };
	if (tls_client_config_new(&o, &c->tls, &err) < 0) {
		fprintf(stderr, "Error: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	c->cfg.tls = c->tls;
out:
	kc_cert_free(ca);
	kc_cert_free(crt);
	kc_key_free(k);
	return rc;
}

static int parse_rev(const char *s, int64_t *out)
{
	long long v;
	if (kc_parse_i64(s, 0, INT64_MAX, &v) < 0)
		return -1;
	*out = v;
	return 0;
}

int kc_storectl_main(int argc, char **argv)
{
	struct ctl c = { 0 };
	const char *endpoints = getenv("KC_STORE_ENDPOINTS");
	const char *cacert = NULL, *cert = NULL, *key = NULL, *data_dir = NULL;
	const char *node_name = NULL, *store_peers = NULL;
	char *paths[3] = { NULL, NULL, NULL };
	int i, rc = 2;
	bool prefix = false, learner = false;
	int64_t rev = 0;
	char *pos[4];
	int npos = 0;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		const char *eq = strchr(a, '=');
		char name[32];
		if (strncmp(a, "--", 2) != 0) {
			if (npos == 4) {
				rc = usage("too many arguments");
				goto out;
			}
			pos[npos++] = argv[i];
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
		if (strcmp(name, "--prefix") == 0) {
			prefix = true;
			continue;
		}
		if (strcmp(name, "--learner") == 0) {
			learner = true;
			continue;
		}
		if (eq)
			v = eq + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		else {
			rc = usage("option needs a value");
			goto out;
		}
		if (strcmp(name, "--endpoints") == 0)
			endpoints = v;
		else if (strcmp(name, "--cacert") == 0)
			cacert = v;
		else if (strcmp(name, "--cert") == 0)
			cert = v;
		else if (strcmp(name, "--key") == 0)
			key = v;
		else if (strcmp(name, "--data-dir") == 0)
			data_dir = v;
		else if (strcmp(name, "--node-name") == 0)
			node_name = v;
		else if (strcmp(name, "--store-peers") == 0)
			store_peers = v;
		else if (strcmp(name, "--rev") == 0) {
			if (parse_rev(v, &rev) < 0) {
				rc = usage("--rev needs a revision");
				goto out;
			}
		} else {
			rc = usage("unknown option");
			goto out;
		}
	}
	if (npos == 0) {
		rc = usage("missing command");
		goto out;
	}
	if (strcmp(pos[0], "snapshot") == 0 && npos == 3 && strcmp(pos[1], "restore") == 0) {
		rc = cmd_restore(pos[2], data_dir, node_name, store_peers);
		goto out;
	}
	if (data_dir && !cacert) {
		paths[0] = xasprintf("%s/tls/ca.crt", data_dir);
		paths[1] = xasprintf("%s/tls/admin.crt", data_dir);
		paths[2] = xasprintf("%s/tls/admin.key", data_dir);
		cacert = paths[0];
		cert = paths[1];
		key = paths[2];
		if (!endpoints)
			endpoints = "https://127.0.0.1:2379";
	}
	if (!endpoints)
		endpoints = "http://127.0.0.1:2379";
	c.endpoints_buf = xstrdup(endpoints);
	for (char *save = NULL, *tok = strtok_r(c.endpoints_buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(tok);
		while (n > 1 && tok[n - 1] == '/')
			tok[--n] = 0;
		struct http_url u;
		struct kc_err err;
		if (c.nendpoints == MAX_ENDPOINTS || http_url_parse(tok, &u, &err) < 0) {
			rc = usage("bad --endpoints");
			goto out;
		}
		c.endpoints[c.nendpoints++] = tok;
	}
	if (c.nendpoints == 0) {
		rc = usage("no endpoints");
		goto out;
	}
	if ((cacert || cert || key) && (rc = load_tls(&c, cacert, cert, key)))
		goto out;
	c.cfg.request_timeout_ms = 10000;
	c.cfg.connect_timeout_ms = 3000;

	const char *cmd = pos[0];
	if (strcmp(cmd, "ls") == 0 && npos <= 2)
		rc = cmd_get(&c, npos == 2 ? pos[1] : "/", true, rev, true);
	else if (strcmp(cmd, "get") == 0 && npos == 2)
		rc = cmd_get(&c, pos[1], prefix, rev, false);
	else if (strcmp(cmd, "put") == 0 && npos == 3)
		rc = cmd_put(&c, pos[1], pos[2]);
	else if (strcmp(cmd, "del") == 0 && npos == 2)
		rc = cmd_del(&c, pos[1], prefix);
	else if (strcmp(cmd, "watch") == 0 && npos == 2)
		rc = cmd_watch(&c, pos[1], prefix, rev);
	else if (strcmp(cmd, "status") == 0 && npos == 1)
		rc = cmd_status(&c);
	else if (strcmp(cmd, "member") == 0)
		rc = cmd_member(&c, npos - 1, pos + 1, learner);
	else if (strcmp(cmd, "compact") == 0 && npos == 2) {
		if (parse_rev(pos[1], &rev) < 0 || rev == 0)
			rc = usage("compact needs a revision");
		else
			rc = cmd_compact(&c, rev);
	} else if (strcmp(cmd, "snapshot") == 0 && npos == 3 && strcmp(pos[1], "save") == 0)
		rc = cmd_snapshot(&c, pos[2]);
	else
		rc = usage("unknown command or wrong arguments");
out:
	tls_client_config_free(c.tls);
	free(c.endpoints_buf);
	for (i = 0; i < 3; i++)
		free(paths[i]);
	fflush(stdout);
	return rc;
}
