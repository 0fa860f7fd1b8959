/* DESIGN: every certificate kc serves or hands out is derived from one CA kept in DATA/tls.
 * Files are written atomically by lib/x509 (temp + fsync + rename; keys 0600), so a crash leaves
 * either the old or the new pair. Keys are written before the certificates that name them: a
 * certificate on disk always has its key. Runs once at start, on the main thread. */
#include "roles/pki.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/crypto.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/tls.h"

#define MAX_NAMES 16

enum { LEAF_SERVER, LEAF_CLIENT, LEAF_PEER };

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int load_or_create_ca(const char *dir, int64_t now, struct kc_pki *p, struct kc_err *err)
{
	char crt[600], key[600];
	snprintf(crt, sizeof crt, "%s/ca.crt", dir);
	snprintf(key, sizeof key, "%s/ca.key", dir);
	bool have_crt = exists(crt), have_key = exists(key);
	if (have_crt && have_key) {
		int rc = kc_cert_load_file(crt, &p->ca, err);
		if (rc == 0)
			rc = kc_key_load_file(key, &p->ca_key, err);
		if (rc < 0)
			return rc;
		if (!kc_cert_matches_key(p->ca, p->ca_key))
			return kc_err_set(err, -KC_EINVAL, "%s does not belong to %s", key, crt);
		return 0;
	}
	if (have_crt || have_key)
		return kc_err_set(err, -KC_EINVAL,
				  "%s has %s but not %s: restore the pair or remove both to create a new cluster CA",
				  dir, have_crt ? "ca.crt" : "ca.key", have_crt ? "ca.key" : "ca.crt");
	int rc = kc_ca_create("kc-ca", now, &p->ca, &p->ca_key, err);
	if (rc == 0)
		rc = kc_key_save_file(p->ca_key, key, err);
	if (rc == 0)
		rc = kc_cert_save_file(p->ca, crt, err);
	if (rc == 0)
		log_info("created cluster CA path=%s", crt);
	return rc;
}

/* Whether every wanted name is among have[]. */
static bool covers(char **have, size_t nhave, const char *const *want, size_t nwant)
{
	for (size_t i = 0; i < nwant; i++) {
		bool found = false;
		for (size_t j = 0; j < nhave && !found; j++)
			found = strcmp(have[j], want[i]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* ---- the join token and the CA bootstrap ---- */

#define BOOTSTRAP_CRT "/kc/bootstrap/ca.crt"
#define BOOTSTRAP_KEY "/kc/bootstrap/ca.key"
#define BOOTSTRAP_WAIT_MS 60000

int kc_token_parse(const char *token, uint8_t pin[32], char secret[33], struct kc_err *err)
{
	size_t n = strlen(token);
	if (n != KC_TOKEN_LEN || strncmp(token, KC_TOKEN_PREFIX, 4) != 0 || token[4 + 64] != ':')
		return kc_err_set(err, -KC_EINVAL,
				  "the token is not of the form kc1:<64 hex digits>:<32 hex digits>");
	char hex[65];
	memcpy(hex, token + 4, 64);
	hex[64] = 0;
	uint8_t sec[16];
	if (kc_hex_decode(hex, pin, 32) < 0 || kc_hex_decode(token + 4 + 64 + 1, sec, 16) < 0)
		return kc_err_set(err, -KC_EINVAL, "the token has a character that is not a hex digit");
	memcpy(secret, token + 4 + 64 + 1, 33);
	explicit_bzero(sec, sizeof sec);
	return 0;
}

static void pin_hex(const struct kc_cert *ca, char out[65])
{
	uint8_t h[KC_SHA256_LEN];
	kc_cert_sha256(ca, h);
	kc_hex_encode(h, sizeof h, out);
}

/* DATA/token: kept, created from --token, or made with a fresh secret; it must pin p->ca. */
static int ensure_token(const struct kc_server_config *cfg, struct kc_pki *p, struct kc_err *err)
{
	char path[sizeof cfg->data_dir + 8], pin[65];
	uint8_t pinb[32];
	char secret[33];
	snprintf(path, sizeof path, "%s/token", cfg->data_dir);
	pin_hex(p->ca, pin);
	unsigned char *buf = NULL;
	size_t len = 0;
	struct kc_err e2 = {0};
	int rc = kc_read_file(path, 4096, &buf, &len, &e2);
	if (rc == 0) {
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
			len--;
		snprintf(p->token, sizeof p->token, "%.*s", (int)len, (const char *)buf);
		explicit_bzero(buf, len);
		free(buf);
		if (kc_token_parse(p->token, pinb, secret, err) < 0)
			return kc_err_wrap(err, "%s", path);
		if (strncmp(p->token + 4, pin, 64) != 0)
			return kc_err_set(err, -KC_EINVAL,
					  "%s pins another CA than %s/tls/ca.crt: restore the pair or "
					  "remove the token to make a new one",
					  path, cfg->data_dir);
	} else if (rc != -ENOENT) {
		return kc_err_set(err, rc, "%s", e2.msg);
	} else if (cfg->token[0]) {
		snprintf(p->token, sizeof p->token, "%s", cfg->token);
	} else {
		uint8_t r[16];
		char rh[33];
		if (kc_random_bytes(r, sizeof r) < 0)
			return kc_err_set(err, -KC_ECRYPTO, "no randomness for the join token");
		kc_hex_encode(r, sizeof r, rh);
		snprintf(p->token, sizeof p->token, KC_TOKEN_PREFIX "%s:%s", pin, rh);
		explicit_bzero(r, sizeof r);
	}
	if (cfg->token[0] && (cfg->roles & KC_ROLE_STORE) && strcmp(cfg->token, p->token) != 0) {
		if (kc_token_parse(cfg->token, pinb, secret, err) < 0)
			return kc_err_wrap(err, "--token");
		return kc_err_set(err, -KC_EINVAL,
				  strncmp(cfg->token + 4, pin, 64) != 0
					  ? "--token pins another cluster CA than %s/tls/ca.crt"
					  : "--token differs from %s/token",
				  cfg->data_dir);
	}
	if (rc == 0)
		return 0;
	char line[KC_TOKEN_LEN + 2];
	int n = snprintf(line, sizeof line, "%s\n", p->token);
	rc = kc_write_file_atomic(path, line, (size_t)n, 0600, err);
	explicit_bzero(line, sizeof line);
	if (rc == 0)
		log_info("wrote the join token path=%s", path);
	return rc;
}

#define MAX_CANDIDATES (KC_MAX_STORE_PEERS + 16)

/* Where a joining store member can fetch the CA: --store-join, then the other --store-peers (peer
 * ports); a master on a remote store (--role=master --store-endpoints): the https endpoints
 * (client ports, which serve the same bootstrap). buf (the size of --store-endpoints) holds
 * the split endpoint list the candidates may point into. */
static size_t bootstrap_candidates(const struct kc_server_config *cfg, const char **out,
				   size_t max, char *buf)
{
	size_t n = 0;
	if (cfg->store_join[0] && strncmp(cfg->store_join, "https://", 8) == 0)
		out[n++] = cfg->store_join;
	for (unsigned i = 0; i < cfg->nstore_peers && n < max; i++)
		if (strcmp(cfg->store_peers[i].name, cfg->node_name) != 0 &&
		    strncmp(cfg->store_peers[i].url, "https://", 8) == 0)
			out[n++] = cfg->store_peers[i].url;
	if ((cfg->roles & KC_ROLE_STORE) || !cfg->store_endpoints[0])
		return n;
	memcpy(buf, cfg->store_endpoints, sizeof cfg->store_endpoints);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < max;
	     t = strtok_r(NULL, ",", &save))
		if (strncmp(t, "https://", 8) == 0)
			out[n++] = t;
	return n;
}

static bool retryable(int rc)
{
	return rc == -ECONNREFUSED || rc == -KC_ETIMEDOUT || rc == -KC_ECLOSED ||
	       rc == -ECONNRESET || rc == -EHOSTUNREACH || rc == -KC_EUNAVAIL || rc == -ENETUNREACH;
}

/* One GET of base + path: 0 with the body in *out, 1 to try again later, or a hard error. */
static int bootstrap_get(const char *base, const char *path, struct tls_client_config *tls,
			 const char *auth, struct kc_str *out, struct kc_err *err)
{
	size_t ul = strlen(base);
	while (ul > 0 && base[ul - 1] == '/')
		ul--;
	char *url = xasprintf("%.*s%s", (int)ul, base, path);
	struct http_client_config cc = {
		.connect_timeout_ms = 2000, .request_timeout_ms = 5000, .tls = tls,
		.max_body_bytes = 64 * 1024,
	};
	struct http_client_header hdr = {"Authorization", auth};
	struct http_client_response resp = {0};
	struct kc_err e = {0};
	int rc = http_client_do(&cc, "GET", url, &hdr, auth ? 1 : 0, NULL, 0, &resp, &e);
	if (rc < 0) {
		log_info("store CA bootstrap: %s: %s (retrying)", url, e.msg);
		rc = retryable(rc) || rc == -KC_ETLS ? 1 : kc_err_set(err, rc, "%s: %s", url, e.msg);
	} else if (resp.status == 401 || resp.status == 403) {
		rc = kc_err_set(err, -EACCES,
				"the store member at %.*s refused the join token: check --token "
				"(DATA/token on the first member)",
				(int)ul, base);
	} else if (resp.status != 200) {
		rc = kc_err_set(err, -KC_EPROTO, "%s answered HTTP %d", url, resp.status);
	} else {
		kc_str_reset(out);
		kc_str_add(out, resp.body, resp.body_len);
	}
	http_client_response_free(&resp);
	free(url);
	return rc;
}

/* Fetches ca.crt and ca.key from a running member into dir (see pki.h). */
static int bootstrap_ca(const struct kc_server_config *cfg, const char *dir, struct kc_err *err)
{
	uint8_t pin[32];
	char secret[33];
	int rc = kc_token_parse(cfg->token, pin, secret, err);
	if (rc < 0)
		return kc_err_wrap(err, "--token");
	const char *cand[MAX_CANDIDATES];
	char buf[sizeof cfg->store_endpoints];
	size_t nc = bootstrap_candidates(cfg, cand, MAX_CANDIDATES, buf);
	struct tls_client_opts io = {.insecure_skip_verify = true};
	struct tls_client_config *insecure = NULL, *pinned = NULL;
	struct kc_cert *ca = NULL;
	struct kc_key *key = NULL;
	struct kc_str body = KC_STR_INIT;
	char *auth = xasprintf("Bearer %s", cfg->token);
	if ((rc = tls_client_config_new(&io, &insecure, err)) < 0)
		goto out;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t end = ts.tv_sec + BOOTSTRAP_WAIT_MS / 1000;
	rc = 1;
	for (size_t i = 0; rc == 1; i = (i + 1) % nc) {
		if (i == 0 && ts.tv_sec != 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if (ts.tv_sec >= end) {
				rc = kc_err_set(err, -KC_ETIMEDOUT,
						"no store member answered at %s (and %zu others) within "
						"%d s to hand out the cluster CA",
						cand[0], nc - 1, BOOTSTRAP_WAIT_MS / 1000);
				break;
			}
		}
		/* the certificate is public: fetched unverified, accepted only by its pin */
		rc = bootstrap_get(cand[i], BOOTSTRAP_CRT, insecure, NULL, &body, err);
		if (rc == 0) {
			uint8_t h[KC_SHA256_LEN];
			kc_cert_free(ca);
			ca = NULL;
			if ((rc = kc_cert_parse(body.buf, body.len, &ca, err)) < 0)
				break;
			kc_cert_sha256(ca, h);
			if (!kc_ct_equal(h, pin, sizeof h)) {
				rc = kc_err_set(err, -EACCES,
						"the cluster CA at %s does not match --token: wrong "
						"token or another cluster",
						cand[i]);
				break;
			}
			struct tls_client_opts po = {.ca = ca};
			tls_client_config_free(pinned);
			pinned = NULL;
			if ((rc = tls_client_config_new(&po, &pinned, err)) < 0)
				break;
			/* the key only over TLS verified against that CA, for the token */
			rc = bootstrap_get(cand[i], BOOTSTRAP_KEY, pinned, auth, &body, err);
		}
		if (rc == 1 && i + 1 == nc)
			sleep(1);
	}
	if (rc < 0)
		goto out;
	if ((rc = kc_key_parse(body.buf, body.len, &key, err)) < 0)
		goto out;
	if (!kc_cert_matches_key(ca, key)) {
		rc = kc_err_set(err, -KC_EINVAL, "the CA key from the cluster does not match its certificate");
		goto out;
	}
	char crt_path[600], key_path[600];
	snprintf(crt_path, sizeof crt_path, "%s/ca.crt", dir);
	snprintf(key_path, sizeof key_path, "%s/ca.key", dir);
	rc = kc_key_save_file(key, key_path, err);
	if (rc == 0)
		rc = kc_cert_save_file(ca, crt_path, err);
	if (rc == 0)
		log_info("fetched the cluster CA from a store member path=%s", crt_path);
out:
	explicit_bzero(body.buf, body.len);
	kc_str_free(&body);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	explicit_bzero(secret, sizeof secret);
	kc_cert_free(ca);
	kc_key_free(key);
	tls_client_config_free(insecure);
	tls_client_config_free(pinned);
	return rc;
}

struct kc_pki_bootstrap {
	struct kc_str crt, key;
	char auth[KC_TOKEN_LEN + 16];
};

struct kc_pki_bootstrap *kc_pki_bootstrap_new(const struct kc_pki *pki)
{
	struct kc_pki_bootstrap *b = xcalloc(1, sizeof *b);
	struct kc_err err;
	kc_str_init(&b->crt);
	kc_str_init(&b->key);
	kc_cert_to_pem(pki->ca, &b->crt);
	if (kc_key_to_pem(pki->ca_key, &b->key, &err) < 0 || !pki->token[0]) {
		kc_pki_bootstrap_free(b);
		return NULL;
	}
	snprintf(b->auth, sizeof b->auth, "Bearer %s", pki->token);
	return b;
}

void kc_pki_bootstrap_free(struct kc_pki_bootstrap *b)
{
	if (!b)
		return;
	explicit_bzero(b->key.buf, b->key.len);
	explicit_bzero(b->auth, sizeof b->auth);
	kc_str_free(&b->crt);
	kc_str_free(&b->key);
	free(b);
}

void kc_pki_bootstrap_serve(void *arg, struct http_req *req)
{
	struct kc_pki_bootstrap *b = arg;
	if (strcmp(req->method, "GET") != 0) {
		http_respond(req, 405, "text/plain", "method not allowed\n", 19);
	} else if (strcmp(req->path, BOOTSTRAP_CRT) == 0) {
		http_respond(req, 200, "application/x-pem-file", b->crt.buf, b->crt.len);
	} else if (strcmp(req->path, BOOTSTRAP_KEY) == 0) {
		const char *a = http_req_header(req, "Authorization");
		size_t n = strlen(b->auth);
		if (!a || strlen(a) != n || !kc_ct_equal(a, b->auth, n)) {
			log_warn("store CA bootstrap: refused a request without the join token peer=%s",
				 http_req_peer_str(req));
			http_respond(req, 401, "text/plain", "join token required\n", 20);
			return;
		}
		log_info("store CA bootstrap: handed out the cluster CA peer=%s", http_req_peer_str(req));
		http_respond(req, 200, "application/x-pem-file", b->key.buf, b->key.len);
	} else {
		http_respond(req, 404, "text/plain", "not found\n", 10);
	}
}

/* Loads name.{crt,key} if they are still good for spec, else issues a new pair. */
static int leaf(const char *dir, const char *name, int kind, const struct kc_cert_spec *spec,
		int64_t now, struct kc_pki *p, struct kc_cert **cert_out, struct kc_key **key_out,
		struct kc_err *err)
{
	char crt[600], key[600];
	snprintf(crt, sizeof crt, "%s/%s.crt", dir, name);
	snprintf(key, sizeof key, "%s/%s.key", dir, name);
	if (exists(crt) && exists(key)) {
		struct kc_cert *c = NULL;
		struct kc_key *k = NULL;
		struct kc_cert_info info = { 0 };
		struct kc_err ignored = { 0 };
		bool good = kc_cert_load_file(crt, &c, &ignored) == 0 &&
			    kc_key_load_file(key, &k, &ignored) == 0 && kc_cert_matches_key(c, k) &&
			    kc_cert_verify(c, p->ca, &ignored) == 0 &&
			    kc_cert_get_info(c, &info, &ignored) == 0 &&
			    info.not_after - now > KC_PKI_RENEW_BEFORE_SECS &&
			    covers(info.dns_names, info.ndns, spec->dns_names, spec->ndns) &&
			    covers(info.ips, info.nips, spec->ips, spec->nips);
		kc_cert_info_free(&info);
		if (good) {
			*cert_out = c;
			*key_out = k;
			return 0;
		}
		kc_cert_free(c);
		kc_key_free(k);
		log_info("re-issuing certificate name=%s reason=\"names, signer or expiry changed\"", name);
	}
	struct kc_key *k = NULL;
	struct kc_cert *c = NULL;
	int rc = kc_key_generate(&k, err);
	if (rc == 0)
		rc = kind == LEAF_SERVER ? kc_cert_sign_server(p->ca, p->ca_key, k, spec, &c, err)
		     : kind == LEAF_PEER ? kc_cert_sign_peer(p->ca, p->ca_key, k, spec, &c, err)
					 : kc_cert_sign_client(p->ca, p->ca_key, k, spec, &c, err);
	if (rc == 0)
		rc = kc_key_save_file(k, key, err);
	if (rc == 0)
		rc = kc_cert_save_file(c, crt, err);
	if (rc < 0) {
		kc_cert_free(c);
		kc_key_free(k);
		return rc;
	}
	*cert_out = c;
	*key_out = k;
	return 0;
}

/* The store member's peer certificate: names as others dial it (the host of its own
 * --store-peers URL, the advertise and bind addresses, loopback and the node name). */
static int peer_leaf(const struct kc_server_config *cfg, const char *dir, int64_t now,
		     struct kc_pki *p, struct kc_err *err)
{
	const char *dns[4] = {"localhost", cfg->node_name};
	const char *ips[6] = {"127.0.0.1", "::1"};
	size_t ndns = 2, nips = 2;
	char adv[64], bind[64];
	struct http_url u;
	struct kc_err ignored;
	struct net_ip any4, any6, ip;
	net_ip_format(&cfg->advertise_address, adv, sizeof adv);
	if (!net_ip_is_loopback(&cfg->advertise_address))
		ips[nips++] = adv;
	net_ip_parse("0.0.0.0", &any4);
	net_ip_parse("::", &any6);
	if (!net_ip_equal(&cfg->bind_address, &any4) && !net_ip_equal(&cfg->bind_address, &any6) &&
	    !net_ip_is_loopback(&cfg->bind_address) &&
	    !net_ip_equal(&cfg->bind_address, &cfg->advertise_address))
		ips[nips++] = net_ip_format(&cfg->bind_address, bind, sizeof bind);
	char host[HTTP_URL_HOST_MAX];
	for (unsigned i = 0; i < cfg->nstore_peers; i++) {
		if (strcmp(cfg->store_peers[i].name, cfg->node_name) != 0 ||
		    http_url_parse(cfg->store_peers[i].url, &u, &ignored) < 0)
			continue;
		snprintf(host, sizeof host, "%s", u.host);
		if (net_ip_parse(host, &ip) == 0) {
			if (!net_ip_is_loopback(&ip) && !net_ip_equal(&ip, &cfg->advertise_address) &&
			    !net_ip_equal(&ip, &cfg->bind_address))
				ips[nips++] = host;
		} else if (strcmp(host, "localhost") != 0 && strcmp(host, cfg->node_name) != 0) {
			dns[ndns++] = host;
		}
		break;
	}
	char cn[128];
	snprintf(cn, sizeof cn, "kc-store-peer:%s", cfg->node_name);
	const char *orgs[] = {KC_PKI_PEER_GROUP};
	struct kc_cert_spec spec = {
		.cn = cn, .orgs = orgs, .norgs = 1, .dns_names = dns, .ndns = ndns, .ips = ips,
		.nips = nips, .not_before = now - KC_CERT_BACKDATE_SECS,
		.not_after = now + KC_PKI_LEAF_VALIDITY_SECS,
	};
	return leaf(dir, "store-peer", LEAF_PEER, &spec, now, p, &p->peer, &p->peer_key, err);
}

int kc_pki_ensure(const struct kc_server_config *cfg, int64_t now, struct kc_pki *out,
		  struct kc_err *err)
{
	memset(out, 0, sizeof *out);
	char dir[sizeof cfg->data_dir + 8];
	snprintf(dir, sizeof dir, "%s/tls", cfg->data_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return kc_err_set(err, -errno, "cannot create %s: %s", dir, strerror(errno));
	char crt[sizeof dir + 8], key[sizeof dir + 8];
	snprintf(crt, sizeof crt, "%s/ca.crt", dir);
	snprintf(key, sizeof key, "%s/ca.key", dir);
	const char *cand[MAX_CANDIDATES];
	char cbuf[sizeof cfg->store_endpoints];
	int rc = 0;
	if ((cfg->roles & (KC_ROLE_STORE | KC_ROLE_MASTER)) && cfg->token[0] && !exists(crt) &&
	    !exists(key) && bootstrap_candidates(cfg, cand, MAX_CANDIDATES, cbuf) > 0)
		rc = bootstrap_ca(cfg, dir, err);
	if (rc == 0)
		rc = load_or_create_ca(dir, now, out, err);
	if (rc == 0)
		rc = ensure_token(cfg, out, err);
	if (rc < 0)
		goto fail;

	/* The API server answers to these names, as kube-apiserver does. */
	char svc[4][300], advertise[64], bind[64], first_svc_ip[64];
	snprintf(svc[0], sizeof svc[0], "kubernetes");
	snprintf(svc[1], sizeof svc[1], "kubernetes.default");
	snprintf(svc[2], sizeof svc[2], "kubernetes.default.svc");
	snprintf(svc[3], sizeof svc[3], "kubernetes.default.svc.%s", cfg->cluster_domain);
	const char *dns[MAX_NAMES] = { "localhost", cfg->node_name, svc[0], svc[1], svc[2], svc[3] };
	size_t ndns = 6;
	const char *ips[MAX_NAMES] = { "127.0.0.1", "::1" };
	size_t nips = 2;
	struct net_ip svc_ip, any4, any6;
	net_ip_format(&cfg->advertise_address, advertise, sizeof advertise);
	if (!net_ip_is_loopback(&cfg->advertise_address))
		ips[nips++] = advertise;
	net_ip_parse("0.0.0.0", &any4);
	net_ip_parse("::", &any6);
	if (!net_ip_equal(&cfg->bind_address, &any4) && !net_ip_equal(&cfg->bind_address, &any6) &&
	    !net_ip_is_loopback(&cfg->bind_address) &&
	    !net_ip_equal(&cfg->bind_address, &cfg->advertise_address))
		ips[nips++] = net_ip_format(&cfg->bind_address, bind, sizeof bind);
	if (net_cidr_nth(&cfg->service_cidr, 1, &svc_ip) == 0)
		ips[nips++] = net_ip_format(&svc_ip, first_svc_ip, sizeof first_svc_ip);

	struct kc_cert_spec server_spec = {
		.cn = "kube-apiserver", .dns_names = dns, .ndns = ndns, .ips = ips, .nips = nips,
		.not_before = now - KC_CERT_BACKDATE_SECS, .not_after = now + KC_PKI_LEAF_VALIDITY_SECS,
	};
	rc = leaf(dir, "apiserver", LEAF_SERVER, &server_spec, now, out, &out->server, &out->server_key, err);
	if (rc < 0)
		goto fail;
	const char *admin_groups[] = { "system:masters" };
	struct kc_cert_spec admin_spec = {
		.cn = "kubernetes-admin", .orgs = admin_groups, .norgs = 1,
		.not_before = now - KC_CERT_BACKDATE_SECS, .not_after = now + KC_PKI_LEAF_VALIDITY_SECS,
	};
	rc = leaf(dir, "admin", LEAF_CLIENT, &admin_spec, now, out, &out->admin, &out->admin_key, err);
	if (rc < 0)
		goto fail;
	if (cfg->roles & KC_ROLE_STORE) {
		rc = peer_leaf(cfg, dir, now, out, err);
		if (rc < 0)
			goto fail;
	}
	return 0;
fail:
	kc_pki_free(out);
	return rc;
}

int kc_pki_kubelet_serving(const struct kc_server_config *cfg, const struct kc_pki *pki, int64_t now,
			   struct kc_cert **cert, struct kc_key **key, struct kc_err *err)
{
	char dir[sizeof cfg->data_dir + 8], adv[64];
	snprintf(dir, sizeof dir, "%s/tls", cfg->data_dir);
	const char *dns[] = { "localhost", cfg->node_name };
	const char *ips[] = { "127.0.0.1", net_ip_format(&cfg->advertise_address, adv, sizeof adv) };
	char cn[128];
	snprintf(cn, sizeof cn, "system:node:%s", cfg->node_name);
	struct kc_cert_spec spec = {
		.cn = cn, .dns_names = dns, .ndns = 2, .ips = ips,
		.nips = strcmp(adv, "127.0.0.1") ? 2 : 1, .not_before = now - KC_CERT_BACKDATE_SECS,
		.not_after = now + KC_PKI_LEAF_VALIDITY_SECS,
	};
	return leaf(dir, "kubelet", LEAF_SERVER, &spec, now, (struct kc_pki *)(uintptr_t)pki, cert, key, err);
}

int kc_pki_kubelet_client(const struct kc_server_config *cfg, const struct kc_pki *pki, int64_t now,
			  struct kc_cert **cert, struct kc_key **key, struct kc_err *err)
{
	char dir[sizeof cfg->data_dir + 8];
	snprintf(dir, sizeof dir, "%s/tls", cfg->data_dir);
	const char *groups[] = { "system:masters" };
	struct kc_cert_spec spec = {
		.cn = "kube-apiserver-kubelet-client", .orgs = groups, .norgs = 1,
		.not_before = now - KC_CERT_BACKDATE_SECS, .not_after = now + KC_PKI_LEAF_VALIDITY_SECS,
	};
	return leaf(dir, "apiserver-kubelet-client", LEAF_CLIENT, &spec, now,
		    (struct kc_pki *)(uintptr_t)pki, cert, key, err);
}

int kc_pki_issue_node(const struct kc_pki *pki, const char *name, const char *ip, int64_t now,
		      struct kc_cert **client, struct kc_cert **serving, const struct kc_key *key,
		      struct kc_err *err)
{
	char cn[128];
	snprintf(cn, sizeof cn, "system:node:%s", name);
	const char *groups[] = { "system:nodes" };
	const char *dns[] = { name };
	const char *ips[] = { ip };
	struct kc_cert_spec cs = { .cn = cn, .orgs = groups, .norgs = 1,
				   .not_before = now - KC_CERT_BACKDATE_SECS,
				   .not_after = now + KC_PKI_LEAF_VALIDITY_SECS };
	int rc = kc_cert_sign_client(pki->ca, pki->ca_key, key, &cs, client, err);
	if (rc < 0)
		return rc;
	struct kc_cert_spec ss = { .cn = cn, .dns_names = dns, .ndns = 1, .ips = ips, .nips = 1,
				   .not_before = now - KC_CERT_BACKDATE_SECS,
				   .not_after = now + KC_PKI_LEAF_VALIDITY_SECS };
	rc = kc_cert_sign_server(pki->ca, pki->ca_key, key, &ss, serving, err);
	if (rc < 0) {
		kc_cert_free(*client);
		*client = NULL;
	}
	return rc;
}

static void add_b64_pem(struct kc_str *out, const char *field, const struct kc_str *pem)
{
	kc_str_addf(out, "    %s: ", field);
	kc_base64_encode(out, pem->buf, pem->len, KC_B64_STD);
	kc_str_addc(out, '\n');
}

int kc_pki_write_kubeconfig(const struct kc_server_config *cfg, const struct kc_pki *pki,
			    const char *server_url, struct kc_err *err)
{
	struct kc_str ca = KC_STR_INIT, crt = KC_STR_INIT, key = KC_STR_INIT, out = KC_STR_INIT;
	char path[sizeof cfg->data_dir + 16];
	int rc;
	kc_cert_to_pem(pki->ca, &ca);
	kc_cert_to_pem(pki->admin, &crt);
	rc = kc_key_to_pem(pki->admin_key, &key, err);
	if (rc < 0)
		goto out;
	kc_str_adds(&out, "apiVersion: v1\nkind: Config\nclusters:\n- name: kc\n  cluster:\n");
	add_b64_pem(&out, "certificate-authority-data", &ca);
	kc_str_addf(&out, "    server: %s\n", server_url);
	kc_str_adds(&out, "users:\n- name: admin\n  user:\n");
	add_b64_pem(&out, "client-certificate-data", &crt);
	add_b64_pem(&out, "client-key-data", &key);
	kc_str_adds(&out, "contexts:\n- name: kc\n  context:\n    cluster: kc\n    user: admin\n"
			  "    namespace: default\ncurrent-context: kc\npreferences: {}\n");
	snprintf(path, sizeof path, "%s/kubeconfig", cfg->data_dir);
	rc = kc_write_file_atomic(path, out.buf, out.len, 0600, err);
out:
	explicit_bzero(key.buf, key.len);
	explicit_bzero(out.buf, out.len);
	kc_str_free(&ca);
	kc_str_free(&crt);
	kc_str_free(&key);
	kc_str_free(&out);
	return rc;
}

void kc_pki_free(struct kc_pki *p)
{
	kc_cert_free(p->ca);
	kc_key_free(p->ca_key);
	kc_cert_free(p->server);
	kc_key_free(p->server_key);
	kc_cert_free(p->admin);
	kc_key_free(p->admin_key);
	kc_cert_free(p->peer);
	kc_key_free(p->peer_key);
	explicit_bzero(p->token, sizeof p->token);
	memset(p, 0, sizeof *p);
}
