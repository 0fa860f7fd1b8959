/* rest.c - blocking REST calls for CLIs over net/http_client's one-shot API. */
#include "roles/client/rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "net/tls.h"

struct kc_rest {
	char server[512];
	char *auth_header; /* "Bearer ..." or NULL */
	struct tls_client_config *tls;
	struct http_client_config cfg;
	char server_name[256];
};

int kc_rest_new(const struct kc_kubeconfig *kc, struct kc_rest **out, struct kc_err *err)
{
	struct http_url u;
	int rc = http_url_parse(kc->server, &u, err);
	if (rc < 0)
		return kc_err_wrap(err, "server %s", kc->server);
	struct kc_rest *r = xcalloc(1, sizeof *r);
	snprintf(r->server, sizeof r->server, "%s", kc->server);
	rc = kubeconfig_tls(kc, &r->tls, err);
	if (rc < 0) {
		free(r);
		return rc;
	}
	if (kc->token) {
		size_t n = strlen(kc->token) + 8;
		r->auth_header = xmalloc(n);
		snprintf(r->auth_header, n, "Bearer %s", kc->token);
	}
	snprintf(r->server_name, sizeof r->server_name, "%s", kc->tls_server_name);
	r->cfg.tls = r->tls;
	r->cfg.tls_server_name = r->server_name[0] ? r->server_name : NULL;
	r->cfg.request_timeout_ms = 60000;
	r->cfg.max_body_bytes = (uint64_t)1 << 30;
	*out = r;
	return 0;
}

void kc_rest_free(struct kc_rest *r)
{
	if (!r)
		return;
	tls_client_config_free(r->tls);
	if (r->auth_header) {
		explicit_bzero(r->auth_header, strlen(r->auth_header));
		free(r->auth_header);
	}
	free(r);
}

int kc_rest_call(struct kc_rest *r, const char *method, const char *path, const char *accept,
		 const char *content_type, const void *body, size_t len,
		 struct http_client_response *resp, struct kc_err *err)
{
	size_t ulen = strlen(r->server) + strlen(path) + 1;
	char *url = xmalloc(ulen);
	snprintf(url, ulen, "%s%s", r->server, path);
	struct http_client_header h[4];
	size_t nh = 0;
	h[nh++] = (struct http_client_header){ "Accept", accept ? accept : "application/json" };
	if (content_type)
		h[nh++] = (struct http_client_header){ "Content-Type", content_type };
	if (r->auth_header)
		h[nh++] = (struct http_client_header){ "Authorization", r->auth_header };
	memset(resp, 0, sizeof *resp);
	int rc = http_client_do(&r->cfg, method, url, h, nh, body, len, resp, err);
	if (rc < 0)
		kc_err_wrap(err, "cannot reach %s", r->server);
	free(url);
	return rc;
}

void kc_rest_error_text(const struct http_client_response *resp, char *buf, size_t cap)
{
	cJSON *st = NULL;
	struct kc_err e;
	if (resp->body_len && kc_json_parse(resp->body, resp->body_len, NULL, &st, &e) == 0) {
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(st, "kind");
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(st, "reason");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(st, "message");
		if (cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0 &&
		    cJSON_IsString(msg)) {
			snprintf(buf, cap, "Error from server (%s): %s",
				 cJSON_IsString(reason) && reason->valuestring[0]
					 ? reason->valuestring
					 : "Unknown",
				 msg->valuestring);
			cJSON_Delete(st);
			return;
		}
	}
	cJSON_Delete(st);
	char ex[200];
	kc_excerpt(ex, sizeof ex, resp->body ? resp->body : "", resp->body_len);
	snprintf(buf, cap, "Error from server: HTTP %d: %s", resp->status, ex);
}
