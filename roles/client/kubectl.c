/* kubectl.c - `kc kubectl`, a built-in subset of kubectl.
 *
 * DESIGN: one process per command, blocking REST calls (roles/client/rest.h), resource names
 * resolved through the server's aggregated discovery (so short names, kinds and groups work as
 * in kubectl), human output from the server's Tables (the same columns kubectl prints), and the
 * same words on stdout ("pod/web created", 'pod "web" deleted'). Manifests are YAML or JSON
 * streams; their errors name the file, line and column. Streaming calls (get -w, logs -f) run
 * a private loop with net/http_client. */
#include "roles/client/kubectl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kc_version.h"
#include "lib/alloc.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "lib/yaml.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/tls.h"
#include "roles/apiserver/schema.h"
#include "roles/client/kapply.h"
#include "roles/client/kexec.h"
#include "roles/client/kprint.h"
#include "roles/client/kubeconfig.h"
#include "roles/client/rest.h"
#include "roles/server.h"

#define MAX_ARGS 64
#define MAX_FILES 16
#define MANIFEST_MAX_BYTES ((size_t)16 << 20)
#define TABLE_ACCEPT                                                                               \
	"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"        \
	"g=meta.k8s.io,application/json"
#define AGG_ACCEPT                                                                                 \
	"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

/* ---- state ---- */

struct kres {
	char group[64], version[32], plural[64], singular[64], kind[64];
	char short_names[4][24];
	bool namespaced;
	bool all_category;
};

struct kctl {
	/* flags */
	const char *verb;
	const char *ns_flag;
	bool all_ns;
	const char *output;
	const char *selector;
	const char *field_selector;
	const char *files[MAX_FILES];
	size_t nfiles;
	bool watch;
	const char *kubeconfig;
	const char *context;
	const char *data_dir;
	long replicas;
	bool has_replicas;
	const char *container;
	long tail;
	bool follow;
	bool previous;
	bool timestamps;
	const char *patch;
	const char *patch_type;
	bool overwrite;
	long grace;
	bool has_grace;
	bool force;
	bool wait;
	bool show_labels;
	bool no_headers;
	bool ignore_not_found;
	bool all;
	bool exec_stdin, exec_tty;
	char *args[MAX_ARGS];
	size_t nargs;
	/* connection */
	struct kc_kubeconfig kc;
	struct kc_rest *rest;
	const char *ns; /* effective namespace */
	struct kres *res;
	size_t nres;
	bool discovered;
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}

/* ---- flags ---- */

static bool flag_value(char **argv, int argc, int *i, const char *shortf, const char *longf,
		       const char **out)
{
	const char *a = argv[*i];
	size_t ll = strlen(longf);
	if ((shortf && strcmp(a, shortf) == 0) || strcmp(a, longf) == 0) {
		if (*i + 1 >= argc)
			return false;
		*out = argv[++*i];
		return true;
	}
	if (strncmp(a, longf, ll) == 0 && a[ll] == '=') {
		*out = a + ll + 1;
		return true;
	}
	if (shortf && strncmp(a, shortf, strlen(shortf)) == 0 && a[strlen(shortf)] == '=') {
		*out = a + strlen(shortf) + 1;
		return true;
	}
	return false;
}

static int bool_flag(const char *a, const char *name, bool *out)
{
	size_t n = strlen(name);
	if (strcmp(a, name) == 0) {
		*out = true;
		return 1;
	}
	if (strncmp(a, name, n) == 0 && a[n] == '=') {
		*out = strcmp(a + n + 1, "true") == 0;
		return 1;
	}
	return 0;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_flags(struct kctl *k, int argc, char **argv)
{
	bool logs = strcmp(k->verb, "logs") == 0;
	bool patch = strcmp(k->verb, "patch") == 0;
	bool exec = strcmp(k->verb, "exec") == 0;
	k->wait = true;
	k->tail = -1;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v;
		if (strcmp(a, "--") == 0) {
			for (i++; i < argc && k->nargs < MAX_ARGS; i++)
				k->args[k->nargs++] = argv[i];
			break;
		}
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (k->nargs == MAX_ARGS)
				return usage_error("too many arguments");
			k->args[k->nargs++] = argv[i];
			continue;
		}
		if (exec && (strcmp(a, "-it") == 0 || strcmp(a, "-ti") == 0)) {
			k->exec_stdin = k->exec_tty = true;
		} else if (exec && (bool_flag(a, "-i", &k->exec_stdin) ||
				    bool_flag(a, "--stdin", &k->exec_stdin) ||
				    bool_flag(a, "-t", &k->exec_tty) ||
				    bool_flag(a, "--tty", &k->exec_tty))) {
		} else if (flag_value(argv, argc, &i, "-n", "--namespace", &v)) {
			k->ns_flag = v;
		} else if (flag_value(argv, argc, &i, "-o", "--output", &v)) {
			k->output = v;
		} else if (flag_value(argv, argc, &i, "-l", "--selector", &v)) {
			k->selector = v;
		} else if (flag_value(argv, argc, &i, NULL, "--field-selector", &v)) {
			k->field_selector = v;
		} else if (!logs && flag_value(argv, argc, &i, "-f", "--filename", &v)) {
			if (k->nfiles == MAX_FILES)
				return usage_error("too many -f files");
			k->files[k->nfiles++] = v;
		} else if (flag_value(argv, argc, &i, NULL, "--kubeconfig", &v)) {
			k->kubeconfig = v;
		} else if (flag_value(argv, argc, &i, NULL, "--context", &v)) {
			k->context = v;
		} else if (flag_value(argv, argc, &i, NULL, "--data-dir", &v)) {
			k->data_dir = v;
		} else if (flag_value(argv, argc, &i, NULL, "--replicas", &v)) {
			if (parse_long(v, &k->replicas) < 0 || k->replicas < 0)
				return usage_error("invalid --replicas \"%s\"", v);
			k->has_replicas = true;
		} else if (flag_value(argv, argc, &i, "-c", "--container", &v)) {
			k->container = v;
		} else if (flag_value(argv, argc, &i, NULL, "--tail", &v)) {
			if (parse_long(v, &k->tail) < 0)
				return usage_error("invalid --tail \"%s\"", v);
		} else if (patch && flag_value(argv, argc, &i, "-p", "--patch", &v)) {
			k->patch = v;
		} else if (flag_value(argv, argc, &i, NULL, "--type", &v)) {
			k->patch_type = v;
		} else if (flag_value(argv, argc, &i, NULL, "--grace-period", &v)) {
			if (parse_long(v, &k->grace) < 0)
				return usage_error("invalid --grace-period \"%s\"", v);
			k->has_grace = k->grace >= 0;
		} else if (bool_flag(a, "-A", &k->all_ns) || bool_flag(a, "--all-namespaces", &k->all_ns) ||
			   bool_flag(a, "-w", &k->watch) || bool_flag(a, "--watch", &k->watch) ||
			   bool_flag(a, "--follow", &k->follow) ||
			   (logs && bool_flag(a, "-f", &k->follow)) ||
			   (logs && bool_flag(a, "-p", &k->previous)) ||
			   bool_flag(a, "--previous", &k->previous) ||
			   bool_flag(a, "--timestamps", &k->timestamps) ||
			   bool_flag(a, "--overwrite", &k->overwrite) ||
			   bool_flag(a, "--force", &k->force) || bool_flag(a, "--wait", &k->wait) ||
			   bool_flag(a, "--show-labels", &k->show_labels) ||
			   bool_flag(a, "--no-headers", &k->no_headers) ||
			   bool_flag(a, "--ignore-not-found", &k->ignore_not_found) ||
			   bool_flag(a, "--all", &k->all)) {
		} else if (strncmp(a, "--validate", 10) == 0 || strncmp(a, "--record", 8) == 0 ||
			   strncmp(a, "--save-config", 13) == 0) {
			/* accepted for compatibility; validation happens on the server */
		} else {
			return usage_error("unknown flag: %s", a);
		}
	}
	return 0;
}

/* ---- connection and discovery ---- */

static int connect_cluster(struct kctl *k)
{
	struct kc_err err = { 0 };
	const char *path = k->kubeconfig;
	char fallback[4200];
	char probe[4096];
	if (!path && kubeconfig_default_path(probe, sizeof probe, &err) < 0) {
		snprintf(fallback, sizeof fallback, "%s/kubeconfig",
			 k->data_dir ? k->data_dir : "/var/lib/kc");
		path = fallback;
	}
	if (kubeconfig_load(path, k->context, &k->kc, &err) < 0)
		return fail("%s", err.msg);
	if (kc_rest_new(&k->kc, &k->rest, &err) < 0)
		return fail("%s", err.msg);
	k->ns = k->ns_flag ? k->ns_flag : k->kc.ns;
	return 0;
}

/* Performs a call and decodes a JSON answer. Returns the HTTP status (>0) with *out (caller
 * frees) for 2xx, prints the server's error and returns -status otherwise; 0 on transport
 * failure (printed). */
static int call_json(struct kctl *k, const char *method, const char *path, const char *accept,
		     const char *ctype, const struct kc_str *body, cJSON **out, bool quiet404)
{
	struct http_client_response resp;
	struct kc_err err = { 0 };
	*out = NULL;
	if (kc_rest_call(k->rest, method, path, accept, ctype, body ? body->buf : NULL,
			 body ? body->len : 0, &resp, &err) < 0) {
		fail("%s", err.msg);
		return 0;
	}
	int status = resp.status;
	if (status >= 200 && status < 300) {
		if (resp.body_len && kc_json_parse(resp.body, resp.body_len, NULL, out, &err) < 0) {
			fail("cannot decode the answer to %s %s: %s", method, path, err.msg);
			http_client_response_free(&resp);
			return 0;
		}
		if (!*out)
			*out = cJSON_CreateObject();
		http_client_response_free(&resp);
		return status;
	}
	if (!(quiet404 && status == 404)) {
		char msg[1200];
		kc_rest_error_text(&resp, msg, sizeof msg);
		fprintf(stderr, "%s\n", msg);
	}
	http_client_response_free(&resp);
	return -status;
}

static void add_resources(struct kctl *k, const cJSON *doc)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc, "items"))
	{
		const char *group = kc_json_get_str(item, "metadata.name");
		const cJSON *ver = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(item, "versions"), 0);
		const char *version = kc_json_get_str(ver, "version");
		const cJSON *r;
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(ver, "resources"))
		{
			k->res = xrealloc(k->res, (k->nres + 1) * sizeof *k->res);
			struct kres *x = &k->res[k->nres++];
			memset(x, 0, sizeof *x);
			snprintf(x->group, sizeof x->group, "%s", group ? group : "");
			snprintf(x->version, sizeof x->version, "%s", version ? version : "v1");
			const char *s = kc_json_get_str(r, "resource");
			snprintf(x->plural, sizeof x->plural, "%s", s ? s : "");
			s = kc_json_get_str(r, "singularResource");
			snprintf(x->singular, sizeof x->singular, "%s", s ? s : "");
			s = kc_json_get_str(r, "responseKind.kind");
			snprintf(x->kind, sizeof x->kind, "%s", s ? s : "");
			s = kc_json_get_str(r, "scope");
			x->namespaced = s && strcmp(s, "Namespaced") == 0;
			const cJSON *sn;
			size_t n = 0;
			cJSON_ArrayForEach(sn, cJSON_GetObjectItemCaseSensitive(r, "shortNames"))
				if (cJSON_IsString(sn) && n < 4)
					snprintf(x->short_names[n++], sizeof x->short_names[0], "%s",
						 sn->valuestring);
			cJSON_ArrayForEach(sn, cJSON_GetObjectItemCaseSensitive(r, "categories"))
				if (cJSON_IsString(sn) && strcmp(sn->valuestring, "all") == 0)
					x->all_category = true;
		}
	}
}

static int discover(struct kctl *k)
{
	if (k->discovered)
		return 0;
	const char *paths[] = { "/api", "/apis" };
	for (size_t i = 0; i < 2; i++) {
		cJSON *doc;
		int st = call_json(k, "GET", paths[i], AGG_ACCEPT, NULL, NULL, &doc, false);
		if (st <= 0)
			return 1;
		const char *kind = kc_json_get_str(doc, "kind");
		if (!kind || strcmp(kind, "APIGroupDiscoveryList") != 0) {
			cJSON_Delete(doc);
			return fail("the server does not serve aggregated discovery");
		}
		add_resources(k, doc);
		cJSON_Delete(doc);
	}
	k->discovered = true;
	return 0;
}

static bool name_matches(const struct kres *r, const char *name)
{
	if (strcasecmp(r->plural, name) == 0 || strcasecmp(r->singular, name) == 0 ||
	    strcasecmp(r->kind, name) == 0)
		return true;
	for (size_t i = 0; i < 4 && r->short_names[i][0]; i++)
		if (strcasecmp(r->short_names[i], name) == 0)
			return true;
	return false;
}

/* "pods", "po", "pod", "Pod", "deployments.apps", "deploy.apps", "deployment.v1.apps". */
static const struct kres *resolve(struct kctl *k, const char *spec)
{
	if (discover(k))
		return NULL;
	char name[128];
	snprintf(name, sizeof name, "%s", spec);
	char *dot = strchr(name, '.');
	const char *group = NULL;
	if (dot) {
		*dot = '\0';
		group = dot + 1;
		const char *d2 = strchr(group, '.');
		if (d2 && group[0] == 'v' && isdigit((unsigned char)group[1]))
			group = d2 + 1; /* deployment.v1.apps */
	}
	/* kubectl prefers the core group, then the others in discovery order */
	const struct kres *best = NULL;
	for (size_t i = 0; i < k->nres; i++) {
		const struct kres *r = &k->res[i];
		if (group && strcmp(r->group, group) != 0)
			continue;
		if (!name_matches(r, name))
			continue;
		if (!best || (r->group[0] == '\0' && best->group[0] != '\0'))
			best = r;
	}
	return best;
}

static const struct kres *resolve_kind(struct kctl *k, const char *api_version, const char *kind)
{
	if (discover(k))
		return NULL;
	char group[64] = "";
	const char *slash = strchr(api_version, '/');
	if (slash)
		snprintf(group, sizeof group, "%.*s", (int)(slash - api_version), api_version);
	for (size_t i = 0; i < k->nres; i++)
		if (strcmp(k->res[i].kind, kind) == 0 && strcmp(k->res[i].group, group) == 0)
			return &k->res[i];
	return NULL;
}

/* "pod" or "deployment.apps": what kubectl prints before "/name". */
static void type_word(const struct kres *r, char *buf, size_t cap)
{
	char lower[64];
	size_t i = 0;
	for (; r->kind[i] && i + 1 < sizeof lower; i++)
		lower[i] = (char)tolower((unsigned char)r->kind[i]);
	lower[i] = '\0';
	if (r->group[0])
		snprintf(buf, cap, "%s.%s", lower, r->group);
	else
		snprintf(buf, cap, "%s", lower);
}

static void url_escape(struct kc_str *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr("-._~", c))
			kc_str_addc(out, (char)c);
		else
			kc_str_addf(out, "%%%02X", c);
	}
}

/* "/api/v1/namespaces/ns/pods[/name[/sub]]" (ns NULL or "" for all namespaces). */
static void res_path(struct kc_str *out, const struct kres *r, const char *ns, const char *name,
		     const char *sub)
{
	if (r->group[0])
		kc_str_addf(out, "/apis/%s/%s", r->group, r->version);
	else
		kc_str_addf(out, "/api/%s", r->version);
	if (r->namespaced && ns && *ns) {
		kc_str_adds(out, "/namespaces/");
		url_escape(out, ns);
	}
	kc_str_addf(out, "/%s", r->plural);
	if (name) {
		kc_str_addc(out, '/');
		url_escape(out, name);
		if (sub)
			kc_str_addf(out, "/%s", sub);
	}
}

static void add_query(struct kc_str *p, const char *key, const char *val)
{
	kc_str_addc(p, strchr(p->buf, '?') ? '&' : '?');
	kc_str_addf(p, "%s=", key);
	url_escape(p, val);
}

/* ---- manifests ---- */

struct manifest {
	cJSON *obj;
	const char *file; /* borrowed */
};

struct manifests {
	struct manifest *v;
	size_t n;
	cJSON *docs[64];
	size_t ndocs;
	char *names[64];
};

static int read_stream(const char *file, unsigned char **buf, size_t *len, struct kc_err *err)
{
	if (strcmp(file, "-") != 0)
		return kc_read_file(file, MANIFEST_MAX_BYTES, buf, len, err);
	struct kc_str s = KC_STR_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
		kc_str_add(&s, chunk, n);
		if (s.len > MANIFEST_MAX_BYTES) {
			kc_str_free(&s);
			return kc_err_set(err, -KC_ETOOBIG, "stdin is larger than %zu bytes",
					  MANIFEST_MAX_BYTES);
		}
	}
	*buf = (unsigned char *)kc_str_detach(&s, len);
	return 0;
}

static void add_manifest(struct manifests *m, cJSON *obj, const char *file)
{
	/* A List expands into its items. */
	const char *kind = kc_json_get_str(obj, "kind");
	if (kind && kc_has_suffix(kind, "List") && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(obj, "items"))) {
		cJSON *it;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(obj, "items"))
			add_manifest(m, it, file);
		return;
	}
	m->v = xrealloc(m->v, (m->n + 1) * sizeof *m->v);
	m->v[m->n++] = (struct manifest){ obj, file };
}

static int load_file(struct manifests *m, const char *file)
{
	if (m->ndocs == 64)
		return fail("too many manifest files");
	unsigned char *buf;
	size_t len;
	struct kc_err err = { 0 };
	if (read_stream(file, &buf, &len, &err) < 0)
		return fail("the path \"%s\" cannot be read: %s", file, err.msg);
	cJSON *docs = NULL;
	int rc = kc_yaml_to_json((const char *)buf, len, NULL, &docs, &err);
	free(buf);
	if (rc < 0)
		return fail("error parsing %s: %s", file, err.msg);
	m->names[m->ndocs] = xstrdup(file);
	m->docs[m->ndocs++] = docs;
	cJSON *d;
	int idx = 0;
	cJSON_ArrayForEach(d, docs)
	{
		idx++;
		if (!cJSON_IsObject(d) || !kc_json_get_str(d, "kind") ||
		    !kc_json_get_str(d, "apiVersion"))
			return fail("error validating \"%s\": document %d: apiVersion and kind are "
				    "required", file, idx);
		add_manifest(m, d, m->names[m->ndocs - 1]);
	}
	return 0;
}

static int load_manifests(struct kctl *k, struct manifests *m)
{
	memset(m, 0, sizeof *m);
	if (!k->nfiles)
		return usage_error("must specify one of -f and -k");
	for (size_t i = 0; i < k->nfiles; i++) {
		const char *f = k->files[i];
		struct stat st;
		if (strcmp(f, "-") != 0 && stat(f, &st) == 0 && S_ISDIR(st.st_mode)) {
			struct dirent **list;
			int n = scandir(f, &list, NULL, alphasort);
			if (n < 0)
				return fail("the path \"%s\" cannot be read: %s", f, strerror(errno));
			int rc = 0;
			for (int j = 0; j < n; j++) {
				const char *nm = list[j]->d_name;
				if (rc == 0 && (kc_has_suffix(nm, ".yaml") || kc_has_suffix(nm, ".yml") ||
						kc_has_suffix(nm, ".json"))) {
					char path[4096];
					snprintf(path, sizeof path, "%s/%s", f, nm);
					rc = load_file(m, path);
				}
				free(list[j]);
			}
			free(list);
			if (rc)
				return rc;
		} else if (load_file(m, f)) {
			return 1;
		}
	}
	return 0;
}

static void free_manifests(struct manifests *m)
{
	for (size_t i = 0; i < m->ndocs; i++) {
		cJSON_Delete(m->docs[i]);
		free(m->names[i]);
	}
	free(m->v);
}

/* The resource and namespace of a manifest; 1 (printed) on failure. */
static int manifest_target(struct kctl *k, cJSON *obj, const char *file, const struct kres **r,
			   const char **ns)
{
	const char *av = kc_json_get_str(obj, "apiVersion"), *kind = kc_json_get_str(obj, "kind");
	*r = resolve_kind(k, av, kind);
	if (!*r)
		return fail("resource mapping not found for name: \"%s\" namespace: \"\" from \"%s\": "
			    "no matches for kind \"%s\" in version \"%s\"",
			    kc_json_get_str(obj, "metadata.name") ? kc_json_get_str(obj, "metadata.name") : "",
			    file, kind, av);
	*ns = NULL;
	if ((*r)->namespaced) {
		const char *own = kc_json_get_str(obj, "metadata.namespace");
		if (own && k->ns_flag && strcmp(own, k->ns_flag) != 0)
			return fail("the namespace from the provided object \"%s\" does not match the "
				    "namespace \"%s\". You must pass '--namespace=%s' to perform this "
				    "operation.", own, k->ns_flag, own);
		*ns = own ? own : k->ns;
		kc_json_set_str(obj, "metadata.namespace", *ns);
	}
	return 0;
}

/* ---- output of objects ---- */

static void complete_item(cJSON *item, const char *api_version, const char *kind)
{
	if (!cJSON_GetObjectItemCaseSensitive(item, "apiVersion"))
		cJSON_AddStringToObject(item, "apiVersion", api_version);
	if (!cJSON_GetObjectItemCaseSensitive(item, "kind"))
		cJSON_AddStringToObject(item, "kind", kind);
}

static int print_object(struct kctl *k, cJSON *obj)
{
	struct kc_str out = KC_STR_INIT;
	struct kc_err err = { 0 };
	int rc = 0;
	if (strcmp(k->output, "json") == 0) {
		kprint_sort(obj);
		kprint_json(obj, &out);
	} else if (strcmp(k->output, "yaml") == 0) {
		kprint_sort(obj);
		if (kc_json_to_yaml(obj, &out) < 0)
			rc = fail("cannot print the object as YAML");
	} else if (strncmp(k->output, "jsonpath=", 9) == 0 ||
		   strncmp(k->output, "jsonpath-as-json=", 17) == 0) {
		if (kprint_jsonpath(strchr(k->output, '=') + 1, obj, &out, &err) < 0)
			rc = fail("%s", err.msg);
	} else if (strncmp(k->output, "custom-columns=", 15) == 0) {
		rc = fail("custom-columns output is not supported by kc kubectl");
	} else {
		rc = usage_error("unable to match a printer suitable for the output format \"%s\", "
				 "allowed formats are: json,jsonpath,name,wide,yaml", k->output);
	}
	fwrite(out.buf, 1, out.len, stdout);
	kc_str_free(&out);
	return rc;
}

/* ---- get ---- */

static int get_one_type(struct kctl *k, const struct kres *r, char **names, size_t nnames,
			bool prefix, struct ktable *t, bool *table_started, cJSON *json_items)
{
	const char *ns = r->namespaced && !k->all_ns ? k->ns : NULL;
	bool human = !k->output || strcmp(k->output, "wide") == 0;
	bool name_out = k->output && strcmp(k->output, "name") == 0;
	char tw[140], prefix_buf[160];
	type_word(r, tw, sizeof tw);
	snprintf(prefix_buf, sizeof prefix_buf, "%s/", tw);
	struct ktable_opts o = {
		.wide = k->output && strcmp(k->output, "wide") == 0,
		.namespace_col = k->all_ns && r->namespaced,
		.show_labels = k->show_labels,
		.no_headers = k->no_headers,
		.name_prefix = prefix ? prefix_buf : NULL,
	};
	size_t calls = nnames ? nnames : 1;
	int rc = 0;
	size_t shown = 0;
	for (size_t i = 0; i < calls; i++) {
		struct kc_str path = KC_STR_INIT;
		res_path(&path, r, ns, nnames ? names[i] : NULL, NULL);
		if (!nnames) {
			if (k->selector)
				add_query(&path, "labelSelector", k->selector);
			if (k->field_selector)
				add_query(&path, "fieldSelector", k->field_selector);
			add_query(&path, "limit", "500");
		}
		cJSON *doc = NULL;
		int st = call_json(k, "GET", path.buf, human ? TABLE_ACCEPT : "application/json", NULL,
				   NULL, &doc, k->ignore_not_found);
		kc_str_free(&path);
		if (st <= 0) {
			if (!(k->ignore_not_found && st == -404))
				rc = 1;
			continue;
		}
		if (human) {
			size_t ncols = kprint_table_columns(doc, &o);
			if (!*table_started) {
				ktable_init(t, ncols);
				*table_started = true;
				shown += kprint_table_rows(t, doc, &o, true);
			} else {
				shown += kprint_table_rows(t, doc, &o, false);
			}
		} else if (name_out) {
			cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
			const cJSON *it;
			if (items) {
				cJSON_ArrayForEach(it, items)
				{
					printf("%s/%s\n", tw, kc_json_get_str(it, "metadata.name"));
					shown++;
				}
			} else {
				printf("%s/%s\n", tw, kc_json_get_str(doc, "metadata.name"));
				shown++;
			}
		} else {
			cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
			char av[128];
			if (r->group[0])
				snprintf(av, sizeof av, "%s/%s", r->group, r->version);
			else
				snprintf(av, sizeof av, "%s", r->version);
			if (items) {
				cJSON *it;
				while ((it = cJSON_DetachItemFromArray(items, 0))) {
					complete_item(it, av, r->kind);
					cJSON_AddItemToArray(json_items, it);
					shown++;
				}
			} else {
				cJSON_AddItemToArray(json_items, doc);
				doc = NULL;
				shown++;
			}
		}
		cJSON_Delete(doc);
	}
	return rc ? -1 : (int)shown;
}

/* get -w: the list first, then one Table row per event. */
struct watch_state {
	struct kctl *k;
	struct ktable_opts o;
	struct kc_str line;
	struct loop *loop;
	int rc;
};

static void watch_data(struct http_client_req *req, const char *data, size_t len, void *arg)
{
	(void)req;
	struct watch_state *w = arg;
	kc_str_add(&w->line, data, len);
	char *nl;
	while ((nl = memchr(w->line.buf, '\n', w->line.len))) {
		size_t n = (size_t)(nl - w->line.buf);
		cJSON *ev = NULL;
		struct kc_err err;
		if (n && kc_json_parse(w->line.buf, n, NULL, &ev, &err) == 0) {
			const char *type = kc_json_get_str(ev, "type");
			const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
			if (type && strcmp(type, "ERROR") == 0) {
				fprintf(stderr, "error: %s\n", kc_json_get_str(obj, "message") ? kc_json_get_str(obj, "message") : "watch failed");
				w->rc = 1;
			} else if (type && strcmp(type, "BOOKMARK") != 0) {
				struct ktable t;
				ktable_init(&t, kprint_table_columns(obj, &w->o));
				kprint_table_rows(&t, obj, &w->o, false);
				ktable_flush(&t, stdout);
				ktable_free(&t);
				fflush(stdout);
			}
		}
		cJSON_Delete(ev);
		kc_str_consume(&w->line, n + 1);
	}
}

static void watch_done(struct http_client_req *req, int rc, struct http_client_response *resp,
		       const struct kc_err *err, void *arg)
{
	(void)req;
	struct watch_state *w = arg;
	if (rc < 0) {
		fprintf(stderr, "error: %s\n", err->msg);
		w->rc = 1;
	} else if (resp->status >= 300) {
		fprintf(stderr, "error: watch failed with HTTP %d\n", resp->status);
		w->rc = 1;
	}
	loop_stop(w->loop);
}

/* Streams GET path (Accept accept) on a private loop, feeding on_data until the server ends. */
static int stream_get(struct kctl *k, const char *path, const char *accept,
		      http_client_data_cb on_data, void *arg, struct loop **loop_out, int *rc_out)
{
	struct loop *l = loop_new(NULL);
	if (!l)
		return fail("cannot create an event loop");
	*loop_out = l;
	struct tls_client_config *tls = NULL;
	struct kc_err err = { 0 };
	if (kubeconfig_tls(&k->kc, &tls, &err) < 0) {
		loop_free(l);
		return fail("%s", err.msg);
	}
	struct http_client_config cfg = {
		.tls = tls, .tls_server_name = k->kc.tls_server_name[0] ? k->kc.tls_server_name : NULL,
	};
	struct http_client *c = http_client_new(l, &cfg);
	size_t ulen = strlen(k->kc.server) + strlen(path) + 1;
	char *url = xmalloc(ulen);
	snprintf(url, ulen, "%s%s", k->kc.server, path);
	char auth[8200] = "";
	struct http_client_header h[2] = { { "Accept", accept } };
	size_t nh = 1;
	if (k->kc.token) {
		snprintf(auth, sizeof auth, "Bearer %s", k->kc.token);
		h[nh++] = (struct http_client_header){ "Authorization", auth };
	}
	struct http_client_request r = {
		.method = "GET", .url = url, .headers = h, .nheaders = nh, .stream = true,
		.on_data = on_data, .on_done = watch_done, .arg = arg,
	};
	int rc = http_client_submit(c, &r, NULL, &err);
	free(url);
	if (rc < 0) {
		fail("%s", err.msg);
	} else {
		loop_run(l);
		rc = *rc_out;
	}
	http_client_free(c);
	loop_free(l);
	tls_client_config_free(tls);
	return rc ? 1 : 0;
}

static int cmd_get(struct kctl *k)
{
	if (!k->nargs)
		return usage_error("You must specify the type of resource to get. Use \"kc kubectl "
				   "api-resources\" for a complete list of supported resources.");
	/* TYPE[,TYPE...] [NAME...] | TYPE/NAME ... */
	struct {
		const struct kres *r;
		char *names[MAX_ARGS];
		size_t n;
	} groups[16];
	size_t ng = 0;
	if (strchr(k->args[0], '/')) {
		for (size_t i = 0; i < k->nargs; i++) {
			char *slash = strchr(k->args[i], '/');
			if (!slash)
				return usage_error("there is no need to specify a resource type as a "
						   "separate argument when passing arguments in "
						   "resource/name form");
			*slash = '\0';
			const struct kres *r = resolve(k, k->args[i]);
			if (!r)
				return fail("the server doesn't have a resource type \"%s\"", k->args[i]);
			size_t g = 0;
			while (g < ng && groups[g].r != r)
				g++;
			if (g == ng) {
				if (ng == 16)
					return usage_error("too many resource types");
				groups[ng].r = r;
				groups[ng++].n = 0;
			}
			groups[g].names[groups[g].n++] = slash + 1;
		}
	} else {
		char *types = k->args[0], *save = NULL;
		for (char *t = strtok_r(types, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (strcmp(t, "all") == 0) {
				if (discover(k))
					return 1;
				for (size_t i = 0; i < k->nres && ng < 16; i++)
					if (k->res[i].all_category) {
						groups[ng].r = &k->res[i];
						groups[ng++].n = 0;
					}
				continue;
			}
			const struct kres *r = resolve(k, t);
			if (!r)
				return fail("the server doesn't have a resource type \"%s\"", t);
			if (ng == 16)
				return usage_error("too many resource types");
			groups[ng].r = r;
			groups[ng++].n = 0;
		}
		for (size_t i = 1; i < k->nargs; i++)
			for (size_t g = 0; g < ng; g++)
				groups[g].names[groups[g].n++] = k->args[i];
	}
	bool human = !k->output || strcmp(k->output, "wide") == 0;
	bool several = ng > 1 || (k->nargs && strcmp(k->args[0], "all") == 0);
	cJSON *items = cJSON_CreateArray();
	int rc = 0;
	size_t total = 0;
	for (size_t g = 0; g < ng; g++) {
		struct ktable t;
		bool started = false;
		int n = get_one_type(k, groups[g].r, groups[g].names, groups[g].n, several, &t,
				     &started, items);
		if (n < 0)
			rc = 1;
		else
			total += (size_t)n;
		if (started) {
			if (n > 0) {
				if (total > (size_t)n)
					fputc('\n', stdout);
				ktable_flush(&t, stdout);
			}
			ktable_free(&t);
		}
	}
	if (human && total == 0 && rc == 0 && !k->watch) {
		bool nsd = ng && groups[0].r->namespaced && !k->all_ns;
		if (nsd)
			fprintf(stderr, "No resources found in %s namespace.\n", k->ns);
		else
			fprintf(stderr, "No resources found\n");
	}
	if (!human && !(k->output && strcmp(k->output, "name") == 0)) {
		bool single = ng == 1 && groups[0].n == 1 && cJSON_GetArraySize(items) == 1;
		if (single) {
			cJSON *obj = cJSON_DetachItemFromArray(items, 0);
			if (print_object(k, obj))
				rc = 1;
			cJSON_Delete(obj);
		} else if (rc == 0 || cJSON_GetArraySize(items)) {
			cJSON *list = cJSON_CreateObject();
			cJSON_AddStringToObject(list, "apiVersion", "v1");
			cJSON_AddItemToObject(list, "items", items);
			items = NULL;
			cJSON_AddStringToObject(list, "kind", "List");
			cJSON *meta = cJSON_AddObjectToObject(list, "metadata");
			cJSON_AddStringToObject(meta, "resourceVersion", "");
			if (print_object(k, list))
				rc = 1;
			cJSON_Delete(list);
		}
	}
	cJSON_Delete(items);
	fflush(stdout);
	if (k->watch && rc == 0 && ng == 1 && human) {
		const struct kres *r = groups[0].r;
		struct kc_str path = KC_STR_INIT;
		/* watch from the current state: a fresh list gives the resourceVersion */
		res_path(&path, r, r->namespaced && !k->all_ns ? k->ns : NULL, NULL, NULL);
		cJSON *doc = NULL;
		if (call_json(k, "GET", path.buf, "application/json", NULL, NULL, &doc, false) <= 0) {
			kc_str_free(&path);
			return 1;
		}
		const char *rv = kc_json_get_str(doc, "metadata.resourceVersion");
		add_query(&path, "watch", "true");
		add_query(&path, "resourceVersion", rv ? rv : "0");
		if (groups[0].n == 1) {
			char fs[400];
			snprintf(fs, sizeof fs, "metadata.name=%s", groups[0].names[0]);
			add_query(&path, "fieldSelector", fs);
		} else {
			if (k->selector)
				add_query(&path, "labelSelector", k->selector);
			if (k->field_selector)
				add_query(&path, "fieldSelector", k->field_selector);
		}
		cJSON_Delete(doc);
		struct watch_state w = {
			.k = k,
			.o = { .wide = k->output && strcmp(k->output, "wide") == 0,
			       .namespace_col = k->all_ns && r->namespaced, .show_labels = k->show_labels },
			.line = KC_STR_INIT,
		};
		rc = stream_get(k, path.buf, TABLE_ACCEPT, watch_data, &w, &w.loop, &w.rc);
		kc_str_free(&w.line);
		kc_str_free(&path);
	}
	return rc;
}

/* ---- create / apply / replace / delete ---- */

static int cmd_create_like(struct kctl *k, const char *mode)
{
	struct manifests m;
	int rc = load_manifests(k, &m);
	if (rc) {
		free_manifests(&m);
		return rc;
	}
	bool apply = strcmp(mode, "apply") == 0, replace = strcmp(mode, "replace") == 0;
	const struct schema *sch = apply ? schema_builtin() : NULL;
	for (size_t i = 0; i < m.n; i++) {
		cJSON *obj = m.v[i].obj;
		const struct kres *r;
		const char *ns;
		if (manifest_target(k, obj, m.v[i].file, &r, &ns)) {
			rc = 1;
			continue;
		}
		const char *name = kc_json_get_str(obj, "metadata.name");
		char tw[140];
		type_word(r, tw, sizeof tw);
		struct kc_str path = KC_STR_INIT, body = KC_STR_INIT;
		cJSON *res = NULL;
		int st;
		if (apply) {
			if (!name) {
				rc = fail("error when retrieving current configuration of %s from "
					  "\"%s\": resource name may not be empty", tw, m.v[i].file);
				goto next;
			}
			res_path(&path, r, ns, name, NULL);
			cJSON *cur = NULL;
			st = call_json(k, "GET", path.buf, NULL, NULL, NULL, &cur, true);
			if (st == -404) {
				kapply_annotate(obj);
				kc_json_write(&body, obj);
				kc_str_reset(&path);
				res_path(&path, r, ns, NULL, NULL);
				add_query(&path, "fieldManager", "kubectl-client-side-apply");
				st = call_json(k, "POST", path.buf, NULL, "application/json", &body,
					       &res, false);
				if (st > 0)
					printf("%s/%s created\n", tw, name);
				else
					rc = 1;
				goto next;
			}
			if (st <= 0) {
				rc = 1;
				goto next;
			}
			const char *last = kc_json_get_str(cur, "metadata.annotations[" KAPPLY_ANNOTATION "]");
			cJSON *orig = NULL;
			struct kc_err err;
			if (last && kc_json_parse(last, strlen(last), NULL, &orig, &err) < 0)
				orig = NULL;
			if (!last)
				fprintf(stderr, "Warning: resource %s/%s is missing the %s annotation "
						"which is required by kubectl apply. kubectl apply should "
						"only be used on resources created declaratively by either "
						"kubectl create --save-config or kubectl apply. The missing "
						"annotation will be patched automatically.\n",
					r->plural, name, KAPPLY_ANNOTATION);
			kapply_annotate(obj);
			const struct api_resource *ar = schema_resource(sch, r->group, r->version, r->plural);
			cJSON *patch = kapply_three_way(orig, obj, cur, ar ? ar->type : NULL);
			cJSON_Delete(orig);
			cJSON_Delete(cur);
			if (!patch->child) {
				printf("%s/%s unchanged\n", tw, name);
				cJSON_Delete(patch);
				goto next;
			}
			kc_json_write(&body, patch);
			cJSON_Delete(patch);
			add_query(&path, "fieldManager", "kubectl-client-side-apply");
			st = call_json(k, "PATCH", path.buf, NULL,
				       ar ? "application/strategic-merge-patch+json"
					  : "application/merge-patch+json",
				       &body, &res, false);
			if (st > 0)
				printf("%s/%s configured\n", tw, name);
			else
				rc = 1;
		} else if (replace) {
			if (!name) {
				rc = fail("resource name may not be empty");
				goto next;
			}
			res_path(&path, r, ns, name, NULL);
			kc_json_write(&body, obj);
			st = call_json(k, "PUT", path.buf, NULL, "application/json", &body, &res, false);
			if (st > 0)
				printf("%s/%s replaced\n", tw, name);
			else
				rc = 1;
		} else {
			res_path(&path, r, ns, NULL, NULL);
			add_query(&path, "fieldManager", "kubectl-create");
			kc_json_write(&body, obj);
			st = call_json(k, "POST", path.buf, NULL, "application/json", &body, &res, false);
			if (st > 0)
				printf("%s/%s created\n", tw, kc_json_get_str(res, "metadata.name"));
			else
				rc = 1;
		}
	next:
		cJSON_Delete(res);
		kc_str_free(&path);
		kc_str_free(&body);
	}
	free_manifests(&m);
	return rc;
}

static int wait_gone(struct kctl *k, const char *path)
{
	for (int i = 0; i < 600; i++) {
		cJSON *doc = NULL;
		int st = call_json(k, "GET", path, NULL, NULL, NULL, &doc, true);
		cJSON_Delete(doc);
		if (st == -404)
			return 0;
		if (st <= 0 && st != -404)
			return 1;
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return fail("timed out waiting for the deletion of %s", path);
}

static int delete_one(struct kctl *k, const struct kres *r, const char *ns, const char *name)
{
	struct kc_str path = KC_STR_INIT, body = KC_STR_INIT;
	res_path(&path, r, ns, name, NULL);
	kc_str_adds(&body, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Background\"");
	if (k->has_grace || k->force)
		kc_str_addf(&body, ",\"gracePeriodSeconds\":%ld", k->force && !k->has_grace ? 0 : k->grace);
	kc_str_addc(&body, '}');
	cJSON *res = NULL;
	int st = call_json(k, "DELETE", path.buf, NULL, "application/json", &body, &res,
			   k->ignore_not_found);
	cJSON_Delete(res);
	int rc = 0;
	if (st > 0) {
		char tw[140];
		type_word(r, tw, sizeof tw);
		printf("%s \"%s\" deleted\n", tw, name);
		fflush(stdout);
		if (k->wait)
			rc = wait_gone(k, path.buf);
	} else if (!(k->ignore_not_found && st == -404)) {
		rc = 1;
	}
	kc_str_free(&path);
	kc_str_free(&body);
	return rc;
}

static int cmd_delete(struct kctl *k)
{
	int rc = 0;
	if (k->nfiles) {
		struct manifests m;
		rc = load_manifests(k, &m);
		for (size_t i = 0; rc == 0 && i < m.n; i++) {
			const struct kres *r;
			const char *ns;
			if (manifest_target(k, m.v[i].obj, m.v[i].file, &r, &ns)) {
				rc = 1;
				continue;
			}
			const char *name = kc_json_get_str(m.v[i].obj, "metadata.name");
			if (name && delete_one(k, r, ns, name))
				rc = 1;
		}
		free_manifests(&m);
		return rc;
	}
	if (!k->nargs)
		return usage_error("You must provide one or more resources by argument or filename.");
	if (strchr(k->args[0], '/')) {
		for (size_t i = 0; i < k->nargs; i++) {
			char *slash = strchr(k->args[i], '/');
			if (!slash)
				return usage_error("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form");
			*slash = '\0';
			const struct kres *r = resolve(k, k->args[i]);
			if (!r)
				return fail("the server doesn't have a resource type \"%s\"", k->args[i]);
			rc |= delete_one(k, r, k->ns, slash + 1);
		}
		return rc;
	}
	const struct kres *r = resolve(k, k->args[0]);
	if (!r)
		return fail("the server doesn't have a resource type \"%s\"", k->args[0]);
	if (k->nargs > 1) {
		for (size_t i = 1; i < k->nargs; i++)
			rc |= delete_one(k, r, k->ns, k->args[i]);
		return rc;
	}
	if (!k->selector && !k->all)
		return usage_error("resource(s) were provided, but no name was specified");
	struct kc_str path = KC_STR_INIT;
	res_path(&path, r, r->namespaced && !k->all_ns ? k->ns : NULL, NULL, NULL);
	if (k->selector)
		add_query(&path, "labelSelector", k->selector);
	cJSON *doc = NULL;
	int st = call_json(k, "GET", path.buf, NULL, NULL, NULL, &doc, false);
	kc_str_free(&path);
	if (st <= 0)
		return 1;
	const cJSON *it;
	size_t n = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "items"))
	{
		n++;
		rc |= delete_one(k, r, kc_json_get_str(it, "metadata.namespace"),
				 kc_json_get_str(it, "metadata.name"));
	}
	cJSON_Delete(doc);
	if (!n)
		fprintf(stderr, "No resources found\n");
	return rc;
}

/* ---- TYPE NAME helpers for scale/label/annotate/patch/describe/rollout ---- */

static int type_and_name(struct kctl *k, size_t *argi, const struct kres **r, const char **name)
{
	if (*argi >= k->nargs)
		return usage_error("you must specify a resource type and name");
	char *a = k->args[(*argi)++];
	char *slash = strchr(a, '/');
	if (slash) {
		*slash = '\0';
		*name = slash + 1;
	} else {
		if (*argi >= k->nargs)
			return usage_error("you must specify the name of the %s", a);
		*name = k->args[(*argi)++];
	}
	*r = resolve(k, a);
	if (!*r)
		return fail("the server doesn't have a resource type \"%s\"", a);
	return 0;
}

static int send_patch(struct kctl *k, const struct kres *r, const char *name, const char *sub,
		      const char *ctype, const struct kc_str *body, cJSON **res)
{
	struct kc_str path = KC_STR_INIT;
	res_path(&path, r, k->ns, name, sub);
	int st = call_json(k, "PATCH", path.buf, NULL, ctype, body, res, false);
	kc_str_free(&path);
	return st > 0 ? 0 : 1;
}

static int cmd_scale(struct kctl *k)
{
	if (!k->has_replicas)
		return usage_error("required flag(s) \"replicas\" not set");
	size_t ai = 0;
	const struct kres *r;
	const char *name;
	int rc = type_and_name(k, &ai, &r, &name);
	if (rc)
		return rc;
	struct kc_str body = KC_STR_INIT;
	kc_str_addf(&body, "{\"spec\":{\"replicas\":%ld}}", k->replicas);
	cJSON *res = NULL;
	rc = send_patch(k, r, name, "scale", "application/merge-patch+json", &body, &res);
	if (!rc) {
		char tw[140];
		type_word(r, tw, sizeof tw);
		printf("%s/%s scaled\n", tw, name);
	}
	cJSON_Delete(res);
	kc_str_free(&body);
	return rc;
}

static int cmd_label(struct kctl *k, bool annotate)
{
	size_t ai = 0;
	const struct kres *r;
	const char *name;
	int rc = type_and_name(k, &ai, &r, &name);
	if (rc)
		return rc;
	if (ai >= k->nargs)
		return usage_error("at least one %s update is required", annotate ? "annotation" : "label");
	struct kc_str path = KC_STR_INIT;
	res_path(&path, r, k->ns, name, NULL);
	cJSON *cur = NULL;
	int st = call_json(k, "GET", path.buf, NULL, NULL, NULL, &cur, false);
	kc_str_free(&path);
	if (st <= 0)
		return 1;
	const char *field = annotate ? "annotations" : "labels";
	cJSON *patch = cJSON_CreateObject();
	cJSON *map = cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"), field);
	char curpath[64];
	snprintf(curpath, sizeof curpath, "metadata.%s", field);
	const cJSON *existing = kc_json_get(cur, curpath);
	for (; ai < k->nargs && rc == 0; ai++) {
		char *a = k->args[ai];
		char *eq = strchr(a, '=');
		if (eq) {
			*eq = '\0';
			const cJSON *old = cJSON_GetObjectItemCaseSensitive(existing, a);
			if (old && cJSON_IsString(old) && strcmp(old->valuestring, eq + 1) != 0 &&
			    !k->overwrite)
				rc = fail("'%s' already has a value (%s), and --overwrite is false", a,
					  old->valuestring);
			cJSON_AddStringToObject(map, a, eq + 1);
		} else if (kc_has_suffix(a, "-")) {
			a[strlen(a) - 1] = '\0';
			cJSON_AddNullToObject(map, a);
		} else {
			rc = usage_error("invalid %s format: %s", annotate ? "annotation" : "label", a);
		}
	}
	cJSON_Delete(cur);
	if (rc == 0) {
		struct kc_str body = KC_STR_INIT;
		kc_json_write(&body, patch);
		cJSON *res = NULL;
		rc = send_patch(k, r, name, NULL, "application/merge-patch+json", &body, &res);
		if (!rc) {
			char tw[140];
			type_word(r, tw, sizeof tw);
			printf("%s/%s %s\n", tw, name, annotate ? "annotated" : "labeled");
		}
		cJSON_Delete(res);
		kc_str_free(&body);
	}
	cJSON_Delete(patch);
	return rc;
}

static int cmd_patch(struct kctl *k)
{
	size_t ai = 0;
	const struct kres *r;
	const char *name;
	int rc = type_and_name(k, &ai, &r, &name);
	if (rc)
		return rc;
	if (!k->patch)
		return usage_error("must specify -p to patch");
	const char *type = k->patch_type ? k->patch_type : "strategic";
	const char *ctype = strcmp(type, "json") == 0	    ? "application/json-patch+json"
			    : strcmp(type, "merge") == 0     ? "application/merge-patch+json"
			    : strcmp(type, "strategic") == 0 ? "application/strategic-merge-patch+json"
							     : NULL;
	if (!ctype)
		return usage_error("--type must be one of [json merge strategic], not \"%s\"", type);
	/* -p may be YAML or JSON */
	cJSON *p = NULL;
	struct kc_err err = { 0 };
	if (kc_yaml_to_json_one(k->patch, strlen(k->patch), NULL, &p, &err) < 0)
		return fail("unable to parse \"%s\": %s", k->patch, err.msg);
	struct kc_str body = KC_STR_INIT;
	kc_json_write(&body, p);
	cJSON_Delete(p);
	struct kc_str path = KC_STR_INIT;
	res_path(&path, r, k->ns, name, NULL);
	cJSON *before = NULL, *res = NULL;
	call_json(k, "GET", path.buf, NULL, NULL, NULL, &before, true);
	kc_str_free(&path);
	rc = send_patch(k, r, name, NULL, ctype, &body, &res);
	if (!rc) {
		char tw[140];
		type_word(r, tw, sizeof tw);
		const char *a = kc_json_get_str(before, "metadata.resourceVersion");
		const char *b = kc_json_get_str(res, "metadata.resourceVersion");
		printf("%s/%s patched%s\n", tw, name, a && b && strcmp(a, b) == 0 ? " (no change)" : "");
	}
	cJSON_Delete(before);
	cJSON_Delete(res);
	kc_str_free(&body);
	return rc;
}

/* ---- describe ---- */

static void describe_value(const cJSON *v, int depth, struct kc_str *out)
{
	const cJSON *c;
	if (cJSON_IsObject(v)) {
		cJSON_ArrayForEach(c, v)
		{
			for (int i = 0; i < depth; i++)
				kc_str_adds(out, "  ");
			kc_str_addf(out, "%c%s:", toupper((unsigned char)c->string[0]), c->string + 1);
			if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
				kc_str_adds(out, (c->child ? "\n" : "  <none>\n"));
				describe_value(c, depth + 1, out);
			} else {
				kc_str_adds(out, "  ");
				if (cJSON_IsString(c))
					kc_str_adds(out, c->valuestring);
				else
					kc_json_write(out, c);
				kc_str_addc(out, '\n');
			}
		}
	} else if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(c, v)
		{
			if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
				describe_value(c, depth, out);
				kc_str_addc(out, '\n');
			} else {
				for (int i = 0; i < depth; i++)
					kc_str_adds(out, "  ");
				if (cJSON_IsString(c))
					kc_str_adds(out, c->valuestring);
				else
					kc_json_write(out, c);
				kc_str_addc(out, '\n');
			}
		}
	}
}

static void describe_map(const char *title, const cJSON *m, struct kc_str *out)
{
	kc_str_addf(out, "%-13s", title);
	if (!m || !m->child) {
		kc_str_adds(out, "<none>\n");
		return;
	}
	bool first = true;
	const cJSON *c;
	cJSON_ArrayForEach(c, m)
	{
		if (strcmp(c->string, KAPPLY_ANNOTATION) == 0)
			continue;
		kc_str_addf(out, "%s%s=%s\n", first ? "" : "             ", c->string,
			    cJSON_IsString(c) ? c->valuestring : "");
		first = false;
	}
	if (first)
		kc_str_adds(out, "<none>\n");
}

static int describe_one(struct kctl *k, const struct kres *r, const char *ns, const char *name)
{
	struct kc_str path = KC_STR_INIT;
	res_path(&path, r, ns, name, NULL);
	cJSON *obj = NULL;
	int st = call_json(k, "GET", path.buf, NULL, NULL, NULL, &obj, false);
	kc_str_free(&path);
	if (st <= 0)
		return 1;
	struct kc_str out = KC_STR_INIT;
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	kc_str_addf(&out, "%-13s%s\n", "Name:", kc_json_get_str(meta, "name"));
	if (r->namespaced)
		kc_str_addf(&out, "%-13s%s\n", "Namespace:", kc_json_get_str(meta, "namespace"));
	describe_map("Labels:", cJSON_GetObjectItemCaseSensitive(meta, "labels"), &out);
	describe_map("Annotations:", cJSON_GetObjectItemCaseSensitive(meta, "annotations"), &out);
	const char *ts = kc_json_get_str(meta, "creationTimestamp");
	if (ts)
		kc_str_addf(&out, "%-13s%s\n", "Created:", ts);
	cJSON *copy = cJSON_Duplicate(obj, true);
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "apiVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "kind");
	describe_value(copy, 0, &out);
	cJSON_Delete(copy);
	/* Events about the object. */
	const struct kres *ev = resolve(k, "events");
	if (ev) {
		struct kc_str ep = KC_STR_INIT;
		char fs[1024];
		snprintf(fs, sizeof fs, "involvedObject.name=%s,involvedObject.namespace=%s,involvedObject.uid=%s",
			 name, ns ? ns : "", kc_json_get_str(meta, "uid") ? kc_json_get_str(meta, "uid") : "");
		res_path(&ep, ev, ns ? ns : "", NULL, NULL);
		add_query(&ep, "fieldSelector", fs);
		cJSON *events = NULL;
		if (call_json(k, "GET", ep.buf, NULL, NULL, NULL, &events, true) > 0) {
			const cJSON *items = cJSON_GetObjectItemCaseSensitive(events, "items");
			if (!items || !items->child) {
				kc_str_adds(&out, "Events:      <none>\n");
			} else {
				kc_str_adds(&out, "Events:\n");
				struct ktable t;
				ktable_init(&t, 5);
				const char *hdr[] = { "  Type", "Reason", "Age", "From", "Message" };
				const char *und[] = { "  ----", "------", "----", "----", "-------" };
				for (int i = 0; i < 5; i++)
					ktable_add(&t, hdr[i]);
				for (int i = 0; i < 5; i++)
					ktable_add(&t, und[i]);
				const cJSON *e;
				cJSON_ArrayForEach(e, items)
				{
					char type[64];
					snprintf(type, sizeof type, "  %s", kc_json_get_str(e, "type") ? kc_json_get_str(e, "type") : "");
					ktable_add(&t, type);
					const char *s = kc_json_get_str(e, "reason");
					ktable_add(&t, s ? s : "");
					s = kc_json_get_str(e, "lastTimestamp");
					ktable_add(&t, s ? s : "");
					s = kc_json_get_str(e, "source.component");
					if (!s)
						s = kc_json_get_str(e, "reportingComponent");
					ktable_add(&t, s ? s : "");
					s = kc_json_get_str(e, "message");
					ktable_add(&t, s ? s : "");
				}
				fwrite(out.buf, 1, out.len, stdout);
				kc_str_reset(&out);
				ktable_flush(&t, stdout);
				ktable_free(&t);
			}
		}
		cJSON_Delete(events);
		kc_str_free(&ep);
	}
	fwrite(out.buf, 1, out.len, stdout);
	kc_str_free(&out);
	cJSON_Delete(obj);
	return 0;
}

static int cmd_describe(struct kctl *k)
{
	if (!k->nargs)
		return usage_error("You must specify the type of resource to describe.");
	size_t ai = 0;
	if (strchr(k->args[0], '/') || k->nargs > 1) {
		const struct kres *r;
		const char *name;
		int rc = type_and_name(k, &ai, &r, &name);
		return rc ? rc : describe_one(k, r, r->namespaced ? k->ns : NULL, name);
	}
	const struct kres *r = resolve(k, k->args[0]);
	if (!r)
		return fail("the server doesn't have a resource type \"%s\"", k->args[0]);
	struct kc_str path = KC_STR_INIT;
	res_path(&path, r, r->namespaced && !k->all_ns ? k->ns : NULL, NULL, NULL);
	if (k->selector)
		add_query(&path, "labelSelector", k->selector);
	cJSON *doc = NULL;
	int st = call_json(k, "GET", path.buf, NULL, NULL, NULL, &doc, false);
	kc_str_free(&path);
	if (st <= 0)
		return 1;
	int rc = 0;
	const cJSON *it;
	bool first = true;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "items"))
	{
		if (!first)
			fputs("\n\n", stdout);
		first = false;
		rc |= describe_one(k, r, kc_json_get_str(it, "metadata.namespace"),
				   kc_json_get_str(it, "metadata.name"));
	}
	cJSON_Delete(doc);
	return rc;
}

/* ---- logs ---- */

struct log_state {
	struct loop *loop;
	int rc;
};

static void log_data(struct http_client_req *req, const char *data, size_t len, void *arg)
{
	(void)req;
	(void)arg;
	fwrite(data, 1, len, stdout);
	fflush(stdout);
}

static int cmd_logs(struct kctl *k)
{
	if (!k->nargs)
		return usage_error("expected POD or TYPE/NAME is a required argument for the logs command");
	const char *pod = k->args[0];
	if (strncmp(pod, "pod/", 4) == 0 || strncmp(pod, "pods/", 5) == 0)
		pod = strchr(pod, '/') + 1;
	const struct kres *r = resolve(k, "pods");
	if (!r)
		return fail("the server doesn't serve pods");
	struct kc_str path = KC_STR_INIT;
	res_path(&path, r, k->ns, pod, NULL);
	cJSON *obj = NULL;
	int st = call_json(k, "GET", path.buf, NULL, NULL, NULL, &obj, false);
	kc_str_free(&path);
	if (st <= 0)
		return 1;
	const char *container = k->container;
	if (!container)
		container = kexec_default_container(obj, true);
	res_path(&path, r, k->ns, pod, "log");
	if (container)
		add_query(&path, "container", container);
	cJSON_Delete(obj);
	if (k->follow)
		add_query(&path, "follow", "true");
	if (k->previous)
		add_query(&path, "previous", "true");
	if (k->timestamps)
		add_query(&path, "timestamps", "true");
	if (k->tail >= 0) {
		char n[32];
		snprintf(n, sizeof n, "%ld", k->tail);
		add_query(&path, "tailLines", n);
	}
	int rc;
	if (k->follow) {
		struct log_state ls = { 0 };
		rc = stream_get(k, path.buf, "*/*", log_data, &ls, &ls.loop, &ls.rc);
	} else {
		struct http_client_response resp;
		struct kc_err err = { 0 };
		rc = 0;
		if (kc_rest_call(k->rest, "GET", path.buf, "*/*", NULL, NULL, 0, &resp, &err) < 0) {
			rc = fail("%s", err.msg);
		} else if (resp.status != 200) {
			char msg[1200];
			kc_rest_error_text(&resp, msg, sizeof msg);
			fprintf(stderr, "%s\n", msg);
			rc = 1;
		} else {
			fwrite(resp.body, 1, resp.body_len, stdout);
		}
		http_client_response_free(&resp);
	}
	kc_str_free(&path);
	return rc;
}

/* ---- exec ---- */

static int cmd_exec(struct kctl *k)
{
	if (!k->nargs)
		return usage_error("expected 'exec POD_NAME COMMAND [ARG1] [ARG2] ... [ARGN]'.\n"
				   "POD_NAME and COMMAND are required arguments for the exec command");
	if (k->nargs < 2)
		return fail("you must specify at least one command for the container");
	struct kexec_opts o = { .kc = &k->kc, .rest = k->rest, .ns = k->ns, .pod = k->args[0],
				.container = k->container, .stdin_ = k->exec_stdin,
				.tty = k->exec_tty, .cmd = k->args + 1, .ncmd = k->nargs - 1 };
	return kc_kexec_run(&o);
}

/* ---- rollout ---- */

static int cmd_rollout(struct kctl *k)
{
	if (k->nargs < 2)
		return usage_error("usage: kc kubectl rollout status|restart TYPE/NAME");
	const char *sub = k->args[0];
	size_t ai = 1;
	const struct kres *r;
	const char *name;
	int rc = type_and_name(k, &ai, &r, &name);
	if (rc)
		return rc;
	char tw[140];
	type_word(r, tw, sizeof tw);
	if (strcmp(sub, "restart") == 0) {
		char now[32];
		time_t t = time(NULL);
		struct tm tm;
		strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
		struct kc_str body = KC_STR_INIT;
		kc_str_addf(&body, "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
				   "\"kubectl.kubernetes.io/restartedAt\":\"%s\"}}}}}", now);
		cJSON *res = NULL;
		rc = send_patch(k, r, name, NULL, "application/strategic-merge-patch+json", &body, &res);
		if (!rc)
			printf("%s/%s restarted\n", tw, name);
		cJSON_Delete(res);
		kc_str_free(&body);
		return rc;
	}
	if (strcmp(sub, "status") != 0)
		return usage_error("unknown rollout command \"%s\" (status, restart)", sub);
	struct kc_str path = KC_STR_INIT;
	res_path(&path, r, k->ns, name, NULL);
	char last[256] = "";
	for (int i = 0; i < 6000; i++) {
		cJSON *d = NULL;
		if (call_json(k, "GET", path.buf, NULL, NULL, NULL, &d, false) <= 0) {
			kc_str_free(&path);
			return 1;
		}
		long long gen = 0, obs = 0, want = 1, upd = 0, total = 0, avail = 0;
		kc_json_get_i64(d, "metadata.generation", &gen);
		kc_json_get_i64(d, "status.observedGeneration", &obs);
		kc_json_get_i64(d, "spec.replicas", &want);
		kc_json_get_i64(d, "status.updatedReplicas", &upd);
		kc_json_get_i64(d, "status.replicas", &total);
		kc_json_get_i64(d, "status.availableReplicas", &avail);
		char msg[256];
		msg[0] = '\0';
		const cJSON *c;
		bool deadline = false;
		cJSON_ArrayForEach(c, kc_json_get(d, "status.conditions"))
		{
			const char *type = kc_json_get_str(c, "type"), *reason = kc_json_get_str(c, "reason");
			if (type && reason && strcmp(type, "Progressing") == 0 &&
			    strcmp(reason, "ProgressDeadlineExceeded") == 0)
				deadline = true;
		}
		cJSON_Delete(d);
		if (gen > obs)
			snprintf(msg, sizeof msg, "Waiting for deployment spec update to be observed...");
		else if (deadline) {
			kc_str_free(&path);
			return fail("deployment \"%s\" exceeded its progress deadline", name);
		} else if (upd < want)
			snprintf(msg, sizeof msg, "Waiting for deployment \"%s\" rollout to finish: %lld out of %lld new replicas have been updated...", name, upd, want);
		else if (total > upd)
			snprintf(msg, sizeof msg, "Waiting for deployment \"%s\" rollout to finish: %lld old replicas are pending termination...", name, total - upd);
		else if (avail < upd)
			snprintf(msg, sizeof msg, "Waiting for deployment \"%s\" rollout to finish: %lld of %lld updated replicas are available...", name, avail, upd);
		else {
			printf("deployment \"%s\" successfully rolled out\n", name);
			kc_str_free(&path);
			return 0;
		}
		if (strcmp(msg, last) != 0) {
			printf("%s\n", msg);
			fflush(stdout);
			snprintf(last, sizeof last, "%s", msg);
		}
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kc_str_free(&path);
	return fail("timed out waiting for the rollout of %s/%s", tw, name);
}

/* ---- api-resources, version ---- */

static int cmd_api_resources(struct kctl *k)
{
	if (discover(k))
		return 1;
	struct ktable t;
	ktable_init(&t, 5);
	const char *hdr[] = { "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND" };
	for (int i = 0; i < 5; i++)
		ktable_add(&t, hdr[i]);
	for (size_t i = 0; i < k->nres; i++) {
		const struct kres *r = &k->res[i];
		ktable_add(&t, r->plural);
		char sn[120] = "";
		for (size_t j = 0; j < 4 && r->short_names[j][0]; j++)
			snprintf(sn + strlen(sn), sizeof sn - strlen(sn), "%s%s", j ? "," : "", r->short_names[j]);
		ktable_add(&t, sn);
		char av[128];
		if (r->group[0])
			snprintf(av, sizeof av, "%s/%s", r->group, r->version);
		else
			snprintf(av, sizeof av, "%s", r->version);
		ktable_add(&t, av);
		ktable_add(&t, r->namespaced ? "true" : "false");
		ktable_add(&t, r->kind);
	}
	ktable_flush(&t, stdout);
	ktable_free(&t);
	return 0;
}

static int cmd_version(struct kctl *k)
{
	printf("Client Version: %s+kc%s\n", KC_KUBE_GIT_VERSION, KC_VERSION);
	cJSON *v = NULL;
	if (call_json(k, "GET", "/version", NULL, NULL, NULL, &v, false) <= 0)
		return 1;
	printf("Server Version: %s\n", kc_json_get_str(v, "gitVersion") ? kc_json_get_str(v, "gitVersion") : "");
	cJSON_Delete(v);
	return 0;
}

static void usage(FILE *out)
{
	fputs("kc kubectl - the everyday kubectl commands, built into kc\n\n"
	      "Usage: kc kubectl COMMAND [args] [flags]\n\n"
	      "Commands: get, describe, create, apply, replace, delete, patch, label, annotate,\n"
	      "          scale, logs, exec, rollout status|restart, api-resources, version\n\n"
	      "Flags: -n/--namespace NS, -A, -o json|yaml|wide|name|jsonpath=..., -l SELECTOR,\n"
	      "       --field-selector S, -f FILE|DIR|-, -w, --kubeconfig F, --context C,\n"
	      "       --data-dir D (kubeconfig D/kubeconfig when none is found), --replicas N,\n"
	      "       -c CONTAINER, --tail N, --previous, --timestamps, -p PATCH --type T,\n"
	      "       --overwrite, --grace-period N, --force, --wait=false, --show-labels,\n"
	      "       --no-headers, --ignore-not-found, --all,\n"
	      "       exec POD [-c C] [-i] [-t] -- COMMAND [ARGS...]\n",
	      out);
}

int kc_kubectl_main(int argc, char **argv)
{
	if (argc < 1 || strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "-h") == 0) {
		usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	struct kctl k = { .verb = argv[0] };
	int rc = parse_flags(&k, argc - 1, argv + 1);
	if (rc)
		return rc;
	static const char *const verbs[] = { "get", "describe", "create", "apply", "replace",
					     "delete", "patch", "label", "annotate", "scale",
					     "logs", "exec", "rollout", "api-resources", "version" };
	bool known = false;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		known |= strcmp(verbs[i], k.verb) == 0;
	if (!known)
		return usage_error("unknown command \"%s\" for \"kc kubectl\"", k.verb);
	if (k.output && strcmp(k.verb, "get") != 0)
		return usage_error("-o is only supported by get");
	rc = connect_cluster(&k);
	if (rc == 0) {
		const char *v = k.verb;
		rc = strcmp(v, "get") == 0		 ? cmd_get(&k)
		     : strcmp(v, "describe") == 0	 ? cmd_describe(&k)
		     : strcmp(v, "create") == 0	 ? cmd_create_like(&k, "create")
		     : strcmp(v, "apply") == 0	 ? cmd_create_like(&k, "apply")
		     : strcmp(v, "replace") == 0	 ? cmd_create_like(&k, "replace")
		     : strcmp(v, "delete") == 0	 ? cmd_delete(&k)
		     : strcmp(v, "patch") == 0	 ? cmd_patch(&k)
		     : strcmp(v, "label") == 0	 ? cmd_label(&k, false)
		     : strcmp(v, "annotate") == 0	 ? cmd_label(&k, true)
		     : strcmp(v, "scale") == 0	 ? cmd_scale(&k)
		     : strcmp(v, "logs") == 0		 ? cmd_logs(&k)
		     : strcmp(v, "exec") == 0		 ? cmd_exec(&k)
		     : strcmp(v, "rollout") == 0	 ? cmd_rollout(&k)
		     : strcmp(v, "api-resources") == 0 ? cmd_api_resources(&k)
							 : cmd_version(&k);
	}
	kc_rest_free(k.rest);
	kubeconfig_free(&k.kc);
	free(k.res);
	return rc;
}
