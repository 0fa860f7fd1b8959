/* DESIGN: a worker joining a cluster with --server and --token (runs once in kubelet_start, on
 * the starting thread, blocking). The token's middle part pins the cluster CA: the CA
 * certificate is fetched from the API server unverified (GET /kc/cluster/ca.crt) and accepted
 * only if its SHA-256 equals the pin; then, over TLS verified against that CA, the token (as a
 * bearer token) buys a node identity: POST /apis/kc.io/v1/nodecerts returns a key, a client
 * certificate (system:node:<name>, O system:nodes) and a serving certificate for the node API
 * (SANs: the node name and its advertise address). The identity lives in memory only: a restart
 * joins again with the same token. */
#include "roles/kubelet/kubelet_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "net/http_client.h"
#include "net/tls.h"
#include "roles/apiserver/nodecert.h"
#include "roles/pki.h"

#define JOIN_WAIT_S 60
#define JOIN_BODY_MAX (64 * 1024)

int kl_join(struct kubelet *k, struct kc_err *err);

/* One request; 0 with the response (any status), 1 when the server is not reachable yet. */
static int call(const char *method, const char *url, struct tls_client_config *tls,
		const struct http_client_header *h, size_t nh, const char *body,
		struct http_client_response *resp, struct kc_err *err)
{
	struct http_client_config cc = { .connect_timeout_ms = 3000, .request_timeout_ms = 10000,
					 .tls = tls, .max_body_bytes = JOIN_BODY_MAX };
	struct kc_err e = { 0 };
	int rc = http_client_do(&cc, method, url, h, nh, body, body ? strlen(body) : 0, resp, &e);
	if (rc == -ECONNREFUSED || rc == -KC_ETIMEDOUT || rc == -EHOSTUNREACH ||
	    rc == -ENETUNREACH || rc == -KC_ECLOSED || rc == -KC_EUNAVAIL) {
		log_info("kubelet: join: %s: %s (retrying)", url, e.msg);
		return 1;
	}
	if (rc < 0)
		return kc_err_set(err, rc, "%s: %s", url, e.msg);
	return 0;
}

static int fetch_ca(const char *base, const uint8_t pin[32], struct kc_cert **ca,
		    struct kc_err *err)
{
	struct tls_client_opts io = { .insecure_skip_verify = true };
	struct tls_client_config *insecure = NULL;
	int rc = tls_client_config_new(&io, &insecure, err);
	if (rc < 0)
		return rc;
	char *url = xasprintf("%s%s", base, NODECERT_CA_PATH);
	struct http_client_response resp = { 0 };
	for (int i = 0; i < JOIN_WAIT_S; i++) {
		http_client_response_free(&resp);
		rc = call("GET", url, insecure, NULL, 0, NULL, &resp, err);
		if (rc != 1)
			break;
		sleep(1);
	}
	if (rc == 1)
		rc = kc_err_set(err, -KC_ETIMEDOUT, "the API server at %s did not answer within %d s",
				base, JOIN_WAIT_S);
	else if (rc == 0 && resp.status != 200)
		rc = kc_err_set(err, -KC_EPROTO, "%s answered HTTP %d (is it a kc API server?)", url,
				resp.status);
	if (rc == 0 && (rc = kc_cert_parse(resp.body, resp.body_len, ca, err)) == 0) {
		uint8_t h[KC_SHA256_LEN];
		kc_cert_sha256(*ca, h);
		if (!kc_ct_equal(h, pin, sizeof h)) {
			kc_cert_free(*ca);
			*ca = NULL;
			rc = kc_err_set(err, -EACCES, "the cluster CA at %s does not match --token: wrong "
					"token or another cluster", base);
		}
	}
	http_client_response_free(&resp);
	free(url);
	tls_client_config_free(insecure);
	return rc;
}

static int pem_field(const cJSON *o, const char *name, const char **out, struct kc_err *err)
{
	*out = kc_json_get_str(o, name);
	if (!*out)
		return kc_err_set(err, -KC_EPROTO, "the node certificate answer lacks %s", name);
	return 0;
}

int kl_join(struct kubelet *k, struct kc_err *err)
{
	const struct kc_server_config *cfg = k->cfg;
	if (!k->server[0] || !cfg->token[0])
		return kc_err_set(err, -KC_EINVAL, "--role=worker needs --server and --token");
	uint8_t pin[32];
	char secret[33];
	int rc = kc_token_parse(cfg->token, pin, secret, err);
	explicit_bzero(secret, sizeof secret);
	if (rc < 0)
		return kc_err_wrap(err, "--token");
	char base[256];
	snprintf(base, sizeof base, "%s", k->server);
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		base[--bl] = 0;

	struct kc_cert *ca = NULL;
	if ((rc = fetch_ca(base, pin, &ca, err)) < 0)
		return rc;
	struct tls_client_opts po = { .ca = ca };
	struct tls_client_config *pinned = NULL;
	if ((rc = tls_client_config_new(&po, &pinned, err)) < 0) {
		kc_cert_free(ca);
		return rc;
	}
	char *auth = xasprintf("Bearer %s", cfg->token);
	struct http_client_header h[2] = { { "Authorization", auth },
					   { "Content-Type", "application/json" } };
	struct kc_str body = KC_STR_INIT;
	kc_str_adds(&body, "{\"nodeName\":");
	kc_json_write_string(&body, k->node);
	kc_str_adds(&body, ",\"address\":");
	kc_json_write_string(&body, k->node_ip);
	kc_str_adds(&body, "}");
	kc_str_addc(&body, 0);
	char *url = xasprintf("%s%s", base, NODECERT_PATH);
	struct http_client_response resp = { 0 };
	cJSON *o = NULL;
	for (int i = 0; i < JOIN_WAIT_S; i++) {
		http_client_response_free(&resp);
		rc = call("POST", url, pinned, h, 2, body.buf, &resp, err);
		if (rc != 1)
			break;
		sleep(1);
	}
	if (rc == 1)
		rc = kc_err_set(err, -KC_ETIMEDOUT, "%s did not answer within %d s", url, JOIN_WAIT_S);
	if (rc < 0)
		goto out;
	if (resp.status == 401 || resp.status == 403) {
		rc = kc_err_set(err, -EACCES, "the API server at %s refused the join token: check "
				"--token (DATA/token on the first server)", base);
		goto out;
	}
	if (resp.status != 201 && resp.status != 200) {
		rc = kc_err_set(err, -KC_EPROTO, "%s answered HTTP %d: %.200s", url, resp.status,
				resp.body ? resp.body : "");
		goto out;
	}
	if ((rc = kc_json_parse(resp.body, resp.body_len, NULL, &o, err)) < 0)
		goto out;
	const char *crt, *srv, *key;
	if ((rc = pem_field(o, "certificate", &crt, err)) < 0 ||
	    (rc = pem_field(o, "servingCertificate", &srv, err)) < 0 ||
	    (rc = pem_field(o, "key", &key, err)) < 0)
		goto out;
	if ((rc = kc_cert_parse(crt, strlen(crt), &k->cert, err)) < 0 ||
	    (rc = kc_cert_parse(srv, strlen(srv), &k->serve_cert, err)) < 0 ||
	    (rc = kc_key_parse(key, strlen(key), &k->key, err)) < 0)
		goto out;
	if ((rc = kc_cert_verify(k->cert, ca, err)) < 0 ||
	    (rc = kc_cert_verify(k->serve_cert, ca, err)) < 0)
		goto out;
	k->serve_key = kc_key_dup(k->key);
	k->ca = ca;
	ca = NULL;
	log_info("kubelet: joined the cluster server=%s node=%s", base, k->node);
out:
	if (o) {
		cJSON *kv = cJSON_GetObjectItemCaseSensitive(o, "key");
		if (cJSON_IsString(kv))
			explicit_bzero(kv->valuestring, strlen(kv->valuestring));
	}
	cJSON_Delete(o);
	if (resp.body)
		explicit_bzero(resp.body, resp.body_len);
	http_client_response_free(&resp);
	free(url);
	kc_str_free(&body);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	tls_client_config_free(pinned);
	kc_cert_free(ca);
	return rc;
}
