/* DESIGN: the join endpoint of the API server. Immutable after nodecert_new, so every loop
 * thread serves it without locks. Key generation and signing (a few ms of ECDSA) run inline on
 * the request's loop: joins are rare. The token comparison is constant-time. */
#include "roles/apiserver/nodecert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "net/addr.h"
#include "net/http_server.h"
#include "net/router.h"
#include "roles/apiserver/registry.h"
#include "roles/apiserver/status.h"

#define BODY_MAX 4096

struct nodecert {
	struct kc_cert *ca;
	struct kc_key *ca_key;
	char token[KC_TOKEN_LEN + 1];
	struct kc_str ca_pem;
};

struct nodecert *nodecert_new(const struct kc_pki *pki)
{
	if (!pki || !pki->ca || !pki->ca_key || !pki->token[0])
		return NULL;
	struct nodecert *nc = xcalloc(1, sizeof *nc);
	nc->ca = kc_cert_dup(pki->ca);
	nc->ca_key = kc_key_dup(pki->ca_key);
	memcpy(nc->token, pki->token, sizeof nc->token);
	kc_str_init(&nc->ca_pem);
	kc_cert_to_pem(nc->ca, &nc->ca_pem);
	return nc;
}

void nodecert_free(struct nodecert *nc)
{
	if (!nc)
		return;
	kc_cert_free(nc->ca);
	kc_key_free(nc->ca_key);
	explicit_bzero(nc->token, sizeof nc->token);
	kc_str_free(&nc->ca_pem);
	free(nc);
}

static void status(struct http_req *req, int code, const char *reason, const char *msg)
{
	struct api_error e = { 0 };
	api_err(&e, code, reason, "%s", msg);
	struct kc_str out = KC_STR_INIT;
	api_err_json(&e, &out);
	http_respond(req, code, "application/json", out.buf, out.len);
	kc_str_free(&out);
}

static void h_ca(struct http_req *req, void *arg)
{
	struct nodecert *nc = arg;
	http_respond(req, 200, "application/x-pem-file", nc->ca_pem.buf, nc->ca_pem.len);
}

static bool token_ok(const struct nodecert *nc, const char *auth)
{
	if (!auth || strncmp(auth, "Bearer ", 7))
		return false;
	const char *t = auth + 7;
	size_t n = strlen(t), want = strlen(nc->token);
	return n == want && kc_ct_equal(t, nc->token, n);
}

static void add_pem_field(struct kc_str *out, const char *name, const struct kc_str *pem)
{
	char *s = xmalloc(pem->len + 1);
	memcpy(s, pem->buf, pem->len);
	s[pem->len] = 0;
	kc_str_addf(out, ",\"%s\":", name);
	kc_json_write_string(out, s);
	explicit_bzero(s, pem->len);
	free(s);
}

static void h_issue(struct http_req *req, void *arg)
{
	struct nodecert *nc = arg;
	if (!token_ok(nc, http_req_header(req, "Authorization")))
		return status(req, 401, "Unauthorized", "a join token is required");
	if (req->body_len > BODY_MAX)
		return status(req, 413, "RequestEntityTooLarge", "the request is too large");
	cJSON *body = NULL;
	struct kc_err err = { 0 };
	if (kc_json_parse(req->body, req->body_len, NULL, &body, &err) < 0)
		return status(req, 400, "BadRequest", err.msg);
	const char *name = kc_json_get_str(body, "nodeName");
	const char *addr = kc_json_get_str(body, "address");
	struct net_ip ip;
	if (!name || !registry_name_ok(name) || strlen(name) > 63 || !addr ||
	    net_ip_parse(addr, &ip) < 0) {
		cJSON_Delete(body);
		return status(req, 400, "BadRequest", "nodeName (a DNS name) and address (an IP "
			      "address) are required");
	}
	struct kc_key *key = NULL;
	struct kc_cert *client = NULL, *serving = NULL;
	struct kc_pki pki = { .ca = nc->ca, .ca_key = nc->ca_key };
	int rc = kc_key_generate(&key, &err);
	if (rc == 0)
		rc = kc_pki_issue_node(&pki, name, addr, time(NULL), &client, &serving, key, &err);
	if (rc < 0) {
		kc_key_free(key);
		cJSON_Delete(body);
		return status(req, 500, "InternalError", err.msg);
	}
	struct kc_str out = KC_STR_INIT, pem = KC_STR_INIT;
	kc_str_adds(&out, "{\"kind\":\"NodeCertificate\",\"apiVersion\":\"kc.io/v1\",\"nodeName\":");
	kc_json_write_string(&out, name);
	add_pem_field(&out, "ca", &nc->ca_pem);
	kc_cert_to_pem(client, &pem);
	add_pem_field(&out, "certificate", &pem);
	kc_str_reset(&pem);
	kc_cert_to_pem(serving, &pem);
	add_pem_field(&out, "servingCertificate", &pem);
	kc_str_reset(&pem);
	rc = kc_key_to_pem(key, &pem, &err);
	if (rc == 0) {
		add_pem_field(&out, "key", &pem);
		kc_str_adds(&out, "}\n");
		log_info("issued a node identity node=%s address=%s peer=%s", name, addr,
			 http_req_peer_str(req));
		http_respond(req, 201, "application/json", out.buf, out.len);
	} else {
		status(req, 500, "InternalError", err.msg);
	}
	explicit_bzero(pem.buf, pem.len);
	explicit_bzero(out.buf, out.len);
	kc_str_free(&pem);
	kc_str_free(&out);
	kc_cert_free(client);
	kc_cert_free(serving);
	kc_key_free(key);
	cJSON_Delete(body);
}

int nodecert_add_routes(struct router *rt, struct nodecert *nc, struct kc_err *err)
{
	int rc = router_add(rt, "GET", NODECERT_CA_PATH, h_ca, nc, err);
	if (rc == 0)
		rc = router_add(rt, "POST", NODECERT_PATH, h_issue, nc, err);
	return rc;
}
