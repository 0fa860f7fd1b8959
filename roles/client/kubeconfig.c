/* kubeconfig.c - kubeconfig files, read the way kubectl reads them. */
#include "roles/client/kubeconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base64.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "lib/yaml.h"
#include "net/tls.h"

int kubeconfig_default_path(char *buf, size_t cap, struct kc_err *err)
{
	const char *env = getenv("KUBECONFIG");
	if (env && *env) {
		const char *p = env;
		while (*p) {
			size_t n = strcspn(p, ":");
			if (n && n < cap) {
				memcpy(buf, p, n);
				buf[n] = '\0';
				if (access(buf, R_OK) == 0)
					return 0;
			}
			p += n + (p[n] == ':');
		}
		return kc_err_set(err, -KC_ENOTFOUND, "no file of KUBECONFIG=%s exists", env);
	}
	const char *home = getenv("HOME");
	if (!home || !*home)
		return kc_err_set(err, -KC_ENOTFOUND, "no kubeconfig: set KUBECONFIG or HOME");
	if ((size_t)snprintf(buf, cap, "%s/.kube/config", home) >= cap)
		return kc_err_set(err, -KC_ENOTFOUND, "HOME is too long");
	if (access(buf, R_OK) != 0)
		return kc_err_set(err, -KC_ENOTFOUND, "no kubeconfig: %s does not exist", buf);
	return 0;
}

/* The entry of list 'key' (clusters, users, contexts) named 'name': its 'field' object. */
static const cJSON *named(const cJSON *root, const char *key, const char *name, const char *field)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, key))
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, field);
			return cJSON_IsObject(v) ? v : NULL;
		}
	}
	return NULL;
}

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* PEM bytes from "<what>-data" (base64) or "<what>" (a path relative to dir) into out. */
static int pem_bytes(const cJSON *o, const char *what, const char *dir, struct kc_str *out,
		     bool *found, struct kc_err *err)
{
	char key[64];
	snprintf(key, sizeof key, "%s-data", what);
	const char *data = str_field(o, key);
	*found = false;
	if (data) {
		*found = true;
		if (kc_base64_decode(out, data, strlen(data), KC_B64_STD | KC_B64_SKIP_NEWLINES, err) < 0)
			return kc_err_wrap(err, "%s", key);
		return 0;
	}
	const char *file = str_field(o, what);
	if (!file)
		return 0;
	*found = true;
	char path[4096];
	if (file[0] == '/')
		snprintf(path, sizeof path, "%s", file);
	else
		snprintf(path, sizeof path, "%s/%s", dir, file);
	unsigned char *buf;
	size_t len;
	int rc = kc_read_file(path, KUBECONFIG_MAX_BYTES, &buf, &len, err);
	if (rc < 0)
		return kc_err_wrap(err, "%s", what);
	kc_str_add(out, buf, len);
	explicit_bzero(buf, len);
	free(buf);
	return 0;
}

static int load_tree(const cJSON *root, const char *dir, const char *context,
		     struct kc_kubeconfig *k, struct kc_err *err)
{
	if (!context)
		context = str_field(root, "current-context");
	if (!context)
		return kc_err_set(err, -KC_EINVAL, "no current-context is set");
	const cJSON *ctx = named(root, "contexts", context, "context");
	if (!ctx)
		return kc_err_set(err, -KC_ENOTFOUND, "context \"%s\" not found", context);
	const char *cluster_name = str_field(ctx, "cluster");
	const char *user_name = str_field(ctx, "user");
	const char *ns = str_field(ctx, "namespace");
	snprintf(k->ns, sizeof k->ns, "%s", ns ? ns : "default");
	const cJSON *cl = cluster_name ? named(root, "clusters", cluster_name, "cluster") : NULL;
	if (!cl)
		return kc_err_set(err, -KC_ENOTFOUND, "cluster \"%s\" of context \"%s\" not found",
				  cluster_name ? cluster_name : "", context);
	const char *server = str_field(cl, "server");
	if (!server)
		return kc_err_set(err, -KC_EINVAL, "cluster \"%s\" has no server", cluster_name);
	if (strlen(server) >= sizeof k->server)
		return kc_err_set(err, -KC_EINVAL, "server URL too long");
	strcpy(k->server, server);
	size_t sl = strlen(k->server);
	while (sl > 0 && k->server[sl - 1] == '/')
		k->server[--sl] = '\0';
	const char *sn = str_field(cl, "tls-server-name");
	snprintf(k->tls_server_name, sizeof k->tls_server_name, "%s", sn ? sn : "");
	k->insecure = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cl, "insecure-skip-tls-verify"));

	struct kc_str pem = KC_STR_INIT;
	bool found;
	int rc = pem_bytes(cl, "certificate-authority", dir, &pem, &found, err);
	if (rc == 0 && found && (rc = kc_cert_parse(pem.buf, pem.len, &k->ca, err)) < 0)
		kc_err_wrap(err, "certificate-authority");
	kc_str_free(&pem);
	if (rc < 0)
		return rc;

	const cJSON *user = user_name ? named(root, "users", user_name, "user") : NULL;
	if (!user)
		return 0; /* anonymous */
	rc = pem_bytes(user, "client-certificate", dir, &pem, &found, err);
	if (rc == 0 && found && (rc = kc_cert_parse(pem.buf, pem.len, &k->cert, err)) < 0)
		kc_err_wrap(err, "client-certificate");
	kc_str_reset(&pem);
	if (rc == 0)
		rc = pem_bytes(user, "client-key", dir, &pem, &found, err);
	if (rc == 0 && found && (rc = kc_key_parse(pem.buf, pem.len, &k->key, err)) < 0)
		kc_err_wrap(err, "client-key");
	explicit_bzero(pem.buf, pem.len);
	kc_str_free(&pem);
	if (rc < 0)
		return rc;
	if ((k->cert != NULL) != (k->key != NULL))
		return kc_err_set(err, -KC_EINVAL, "user \"%s\" needs both client-certificate and "
						   "client-key", user_name);
	const char *token = str_field(user, "token");
	if (token) {
		k->token = strdup(token);
	} else if ((token = str_field(user, "tokenFile"))) {
		unsigned char *buf;
		size_t len;
		if (kc_read_file(token, 64 << 10, &buf, &len, err) < 0)
			return kc_err_wrap(err, "tokenFile");
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		k->token = (char *)buf;
	}
	if (k->token && !k->token[0]) {
		free(k->token);
		k->token = NULL;
	}
	return 0;
}

int kubeconfig_load(const char *path, const char *context, struct kc_kubeconfig *out,
		    struct kc_err *err)
{
	memset(out, 0, sizeof *out);
	char file[4096];
	int rc;
	if (path)
		snprintf(file, sizeof file, "%s", path);
	else if ((rc = kubeconfig_default_path(file, sizeof file, err)) < 0)
		return rc;
	unsigned char *buf;
	size_t len;
	rc = kc_read_file(file, KUBECONFIG_MAX_BYTES, &buf, &len, err);
	if (rc < 0)
		return kc_err_wrap(err, "kubeconfig");
	cJSON *root = NULL;
	rc = kc_yaml_to_json_one((const char *)buf, len, NULL, &root, err);
	explicit_bzero(buf, len);
	free(buf);
	if (rc == 0 && !cJSON_IsObject(root))
		rc = kc_err_set(err, -KC_EPARSE, "not a mapping");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", file);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if (rc == 0)
		rc = load_tree(root, dir, context, out, err);
	cJSON_Delete(root);
	if (rc < 0) {
		kubeconfig_free(out);
		return kc_err_wrap(err, "kubeconfig %s", file);
	}
	return 0;
}

void kubeconfig_free(struct kc_kubeconfig *k)
{
	kc_cert_free(k->ca);
	kc_cert_free(k->cert);
	kc_key_free(k->key);
	if (k->token) {
		explicit_bzero(k->token, strlen(k->token));
		free(k->token);
	}
	memset(k, 0, sizeof *k);
}

int kubeconfig_tls(const struct kc_kubeconfig *k, struct tls_client_config **out,
		   struct kc_err *err)
{
	*out = NULL;
	if (strncmp(k->server, "https://", 8) != 0)
		return 0;
	if (!k->ca && !k->insecure)
		return kc_err_set(err, -KC_EINVAL, "server %s uses https but the kubeconfig has no "
						   "certificate-authority", k->server);
	struct tls_client_opts o = {
		.ca = k->ca, .cert = k->cert, .key = k->key,
		.server_name = k->tls_server_name[0] ? k->tls_server_name : NULL,
		.insecure_skip_verify = k->insecure,
	};
	return tls_client_config_new(&o, out, err);
}
