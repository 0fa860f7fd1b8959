/* rest.h - a blocking Kubernetes REST client for command-line tools: one kubeconfig, one
 * keep-alive connection pool on a private loop, Status errors decoded into one line. */
#ifndef KC_ROLES_CLIENT_REST_H
#define KC_ROLES_CLIENT_REST_H

#include <stddef.h>

#include "lib/err.h"
#include "net/http_client.h"
#include "roles/client/kubeconfig.h"

struct kc_rest;

/* kc is borrowed for the call (what is needed is copied). Returns 0 or a negative code (bad
 * server URL, unusable TLS material) with err. */
int kc_rest_new(const struct kc_kubeconfig *kc, struct kc_rest **out, struct kc_err *err);
void kc_rest_free(struct kc_rest *r);

/* One request: path is the URL path and query ("/api/v1/namespaces/default/pods?limit=500").
 * content_type may be NULL (no body). accept NULL = "application/json". Returns 0 with *resp
 * filled for any HTTP status (free with http_client_response_free), or a negative transport
 * error with err ('cannot reach https://...: connection refused'). */
int kc_rest_call(struct kc_rest *r, const char *method, const char *path, const char *accept,
		 const char *content_type, const void *body, size_t len,
		 struct http_client_response *resp, struct kc_err *err);

/* For a non-2xx response: the message kubectl prints, 'Error from server (NotFound): pods
 * "x" not found', from a Status body (or the raw status line when the body is not one). */
void kc_rest_error_text(const struct http_client_response *resp, char *buf, size_t cap);

#endif
