/* DESIGN: per-kind semantics of the API server, as Kubernetes' SetDefaults_* functions,
 * validation package and registry strategies define them. One table maps (group, kind) to a
 * name rule, a defaulting function, a validation function and strategy flags; the functions
 * are built from shared sub-structure helpers (object meta, label selector, pod template,
 * pod spec, container, probe, service port...) so that e.g. the pod template code serves
 * deployments, replicasets, statefulsets, daemonsets, replicationcontrollers and jobs.
 * Validation causes are worded like k8s.io/apimachinery/pkg/util/validation/field errors
 * ("Required value", "Invalid value: \"x\": ...", "Unsupported value: ...", "Duplicate value",
 * "Forbidden: ...", "Not found: ..."). Everything here is pure: it touches only the objects
 * it is given, so any thread may call it. */
#include "roles/apiserver/kinds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/quantity.h"
#include "lib/str.h"
#include "roles/apiserver/selector.h"

#define PATH_MAX_LEN	     192
#define MAX_ANNOTATIONS_SIZE (256 * 1024)
#define MAX_DATA_SIZE	     (1024 * 1024)

/* ------------------------------------------------------------------------------------------ */
/* JSON helpers */

static cJSON *get(const cJSON *o, const char *key)
{
	cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
	return cJSON_IsNull(v) ? NULL : v;
}

static const char *gstr(const cJSON *o, const char *key)
{
	cJSON *v = get(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "" when absent */
static const char *gstr0(const cJSON *o, const char *key)
{
	const char *s = gstr(o, key);
	return s ? s : "";
}

static bool gint(const cJSON *o, const char *key, long long *out)
{
	cJSON *v = get(o, key);
	return v && kc_json_as_i64(v, out) == 0;
}

static void put(cJSON *o, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key))
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
	else
		kc_json_add(o, key, v);
}

/* The object member key, created (or replacing a null) when absent; NULL when o is not an
 * object or the member is not an object. */
static cJSON *child(cJSON *o, const char *key)
{
	if (!cJSON_IsObject(o))
		return NULL;
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v)) {
		v = kc_json_new_object();
		put(o, key, v);
	}
	return cJSON_IsObject(v) ? v : NULL;
}

static void def_str(cJSON *o, const char *key, const char *val)
{
	if (cJSON_IsObject(o) && !get(o, key))
		put(o, key, kc_json_new_str(val));
}

static void def_num(cJSON *o, const char *key, long long val)
{
	if (cJSON_IsObject(o) && !get(o, key))
		put(o, key, kc_json_new_num((double)val));
}

static void def_bool(cJSON *o, const char *key, bool val)
{
	if (cJSON_IsObject(o) && !get(o, key))
		put(o, key, kc_json_new_bool(val));
}

static bool str_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static bool has_subresource(const struct api_resource *r, const char *name)
{
	for (size_t i = 0; i < API_MAX_SUBRESOURCES && r->subresources[i]; i++)
		if (strcmp(r->subresources[i], name) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------------------------------ */
/* validation causes */

struct vctx {
	struct api_error *e;
	unsigned n;
};

static void cause(struct vctx *v, const char *reason, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void cause(struct vctx *v, const char *reason, const char *field, const char *fmt, ...)
{
	char msg[sizeof v->e->causes[0].message];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	api_err_cause(v->e, reason, field, "%s", msg);
	v->n++;
}

static void required(struct vctx *v, const char *field, const char *detail)
{
	if (detail)
		cause(v, "FieldValueRequired", field, "Required value: %s", detail);
	else
		cause(v, "FieldValueRequired", field, "Required value");
}

static void invalid_str(struct vctx *v, const char *field, const char *val, const char *detail)
{
	char q[160];
	sel_go_quote(val, q, sizeof q);
	cause(v, "FieldValueInvalid", field, "Invalid value: %s: %s", q, detail);
}

static void invalid_int(struct vctx *v, const char *field, long long val, const char *detail)
{
	cause(v, "FieldValueInvalid", field, "Invalid value: %lld: %s", val, detail);
}

/* A JSON value shown as Kubernetes would show it: strings quoted, numbers plain, else JSON. */
static void invalid_json(struct vctx *v, const char *field, const cJSON *val, const char *detail)
{
	if (cJSON_IsString(val)) {
		invalid_str(v, field, val->valuestring, detail);
		return;
	}
	char *s = val ? kc_json_print(val, NULL) : xstrdup("null");
	if (strlen(s) > 96)
		strcpy(s + 93, "...");
	cause(v, "FieldValueInvalid", field, "Invalid value: %s: %s", s, detail);
	free(s);
}

static void unsupported(struct vctx *v, const char *field, const char *val,
			const char *const *supported)
{
	char q[96], list[256] = "";
	size_t n = 0;
	sel_go_quote(val, q, sizeof q);
	for (size_t i = 0; supported[i] && n < sizeof list; i++)
		n += (size_t)snprintf(list + n, sizeof list - n, "%s\"%s\"", i ? ", " : "",
				      supported[i]);
	cause(v, "FieldValueNotSupported", field, "Unsupported value: %s: supported values: %s", q,
	      list);
}

static void duplicate(struct vctx *v, const char *field, const char *val)
{
	char q[160];
	sel_go_quote(val, q, sizeof q);
	cause(v, "FieldValueDuplicate", field, "Duplicate value: %s", q);
}

static void forbidden(struct vctx *v, const char *field, const char *detail)
{
	cause(v, "FieldValueForbidden", field, "Forbidden: %s", detail);
}

static void not_found(struct vctx *v, const char *field, const char *val)
{
	char q[160];
	sel_go_quote(val, q, sizeof q);
	cause(v, "FieldValueNotFound", field, "Not found: %s", q);
}

static void too_long(struct vctx *v, const char *field, long long max)
{
	cause(v, "FieldValueTooLong", field, "Too long: may not be more than %lld bytes", max);
}

/* A string field of a given type: a JSON type error is reported like a decode error. */
static const char *want_str(struct vctx *v, const cJSON *o, const char *key, const char *field)
{
	cJSON *x = get(o, key);
	if (x && !cJSON_IsString(x)) {
		invalid_json(v, field, x, "must be a string");
		return NULL;
	}
	return x ? x->valuestring : NULL;
}

#define P(buf, ...) snprintf(buf, sizeof buf, __VA_ARGS__)

/* ------------------------------------------------------------------------------------------ */
/* names */

enum name_rule { NAME_SUBDOMAIN, NAME_DNS_LABEL, NAME_DNS1035, NAME_PATH_SEGMENT };

#define DNS1035_FMT "[a-z]([-a-z0-9]*[a-z0-9])?"
#define DNS1035_MSG                                                                                \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "  \
	"an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "    \
	"'abc-123', regex used for validation is '" DNS1035_FMT "')"

static bool valid_dns1035(const char *s, char *msg, size_t cap)
{
	size_t n = strlen(s);
	bool ok = true;
	msg[0] = '\0';
	if (n > 63) {
		snprintf(msg, cap, "must be no more than 63 characters");
		ok = false;
	}
	bool re = n > 0 && s[0] >= 'a' && s[0] <= 'z' &&
		  ((s[n - 1] >= 'a' && s[n - 1] <= 'z') || (s[n - 1] >= '0' && s[n - 1] <= '9'));
	for (size_t i = 1; re && i + 1 < n; i++)
		re = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-';
	if (!re) {
		size_t l = strlen(msg);
		snprintf(msg + l, cap - l, "%s%s", l ? "; " : "", DNS1035_MSG);
		ok = false;
	}
	return ok;
}

static bool valid_path_segment(const char *s, char *msg, size_t cap)
{
	msg[0] = '\0';
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
		snprintf(msg, cap, "may not be '%s'", s);
		return false;
	}
	if (strchr(s, '/')) {
		snprintf(msg, cap, "may not contain '/'");
		return false;
	}
	if (strchr(s, '%')) {
		snprintf(msg, cap, "may not contain '%%'");
		return false;
	}
	return true;
}

static bool valid_name(enum name_rule rule, const char *s, char *msg, size_t cap)
{
	switch (rule) {
	case NAME_SUBDOMAIN:
		return sel_valid_dns1123_subdomain(s, msg, cap);
	case NAME_DNS_LABEL:
		return sel_valid_dns1123_label(s, msg, cap);
	case NAME_DNS1035:
		return valid_dns1035(s, msg, cap);
	case NAME_PATH_SEGMENT:
		return valid_path_segment(s, msg, cap);
	}
	return true;
}

/* ------------------------------------------------------------------------------------------ */
/* object meta */

static void validate_labels(struct vctx *v, const cJSON *labels, const char *field)
{
	if (!labels)
		return;
	if (!cJSON_IsObject(labels)) {
		invalid_json(v, field, labels, "must be an object");
		return;
	}
	char msg[1024];
	const cJSON *it;
	cJSON_ArrayForEach(it, labels)
	{
		if (!sel_valid_qualified_name(it->string, msg, sizeof msg))
			invalid_str(v, field, it->string, msg);
		if (!cJSON_IsString(it))
			invalid_json(v, field, it, "label values must be strings");
		else if (!sel_valid_label_value(it->valuestring, msg, sizeof msg))
			invalid_str(v, field, it->valuestring, msg);
	}
}

static void validate_annotations(struct vctx *v, const cJSON *ann, const char *field)
{
	if (!ann)
		return;
	if (!cJSON_IsObject(ann)) {
		invalid_json(v, field, ann, "must be an object");
		return;
	}
	char msg[1024];
	size_t total = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, ann)
	{
		char lower[320];
		size_t n = strlen(it->string);
		if (n < sizeof lower) {
			for (size_t i = 0; i <= n; i++)
				lower[i] = (char)((it->string[i] >= 'A' && it->string[i] <= 'Z')
							  ? it->string[i] + 32
							  : it->string[i]);
			if (!sel_valid_qualified_name(lower, msg, sizeof msg))
				invalid_str(v, field, it->string, msg);
		} else {
			invalid_str(v, field, it->string,
				    "name part must be no more than 63 characters");
		}
		total += n;
		if (cJSON_IsString(it))
			total += strlen(it->valuestring);
		else
			invalid_json(v, field, it, "annotation values must be strings");
	}
	if (total > MAX_ANNOTATIONS_SIZE)
		too_long(v, field, MAX_ANNOTATIONS_SIZE);
}

static void validate_meta(struct vctx *v, const struct api_resource *r, enum name_rule rule,
			  const cJSON *meta, const char *prefix)
{
	char f[PATH_MAX_LEN], msg[1024];
	const char *name = gstr(meta, "name");
	P(f, "%sname", prefix);
	if (!name || !*name) {
		if (!gstr(meta, "generateName"))
			required(v, f, "name or generateName is required");
	} else if (!valid_name(rule, name, msg, sizeof msg)) {
		invalid_str(v, f, name, msg);
	}
	P(f, "%snamespace", prefix);
	const char *ns = gstr(meta, "namespace");
	if (r->namespaced) {
		if (!ns || !*ns)
			required(v, f, NULL);
		else if (!sel_valid_dns1123_label(ns, msg, sizeof msg))
			invalid_str(v, f, ns, msg);
	} else if (ns && *ns) {
		forbidden(v, f, "not allowed on this type");
	}
	P(f, "%slabels", prefix);
	validate_labels(v, get(meta, "labels"), f);
	P(f, "%sannotations", prefix);
	validate_annotations(v, get(meta, "annotations"), f);
	const cJSON *fin = get(meta, "finalizers"), *it;
	int i = 0;
	cJSON_ArrayForEach(it, fin)
	{
		P(f, "%sfinalizers[%d]", prefix, i++);
		if (!cJSON_IsString(it))
			invalid_json(v, f, it, "must be a string");
		else if (!sel_valid_qualified_name(it->valuestring, msg, sizeof msg))
			invalid_str(v, f, it->valuestring, msg);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* shared syntax checks */

static bool valid_port_name(const char *s, char *msg, size_t cap)
{
	size_t n = strlen(s), l = 0;
	bool charset = n > 0, letter = false;
	msg[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'a' && c <= 'z')
			letter = true;
		else if (!(c >= '0' && c <= '9') && c != '-')
			charset = false;
	}
#define ADD(m) (l += (size_t)snprintf(msg + l, l < cap ? cap - l : 0, "%s%s", l ? "; " : "", m))
	if (n > 15)
		ADD("must be no more than 15 characters");
	if (!charset)
		ADD("must contain only alpha-numerics and '-'");
	if (!letter)
		ADD("must contain at least one letter (a-z)");
	if (strstr(s, "--"))
		ADD("must not contain consecutive hyphens");
	if (n && (s[0] == '-' || s[n - 1] == '-'))
		ADD("must not begin or end with a hyphen");
#undef ADD
	return l == 0;
}

#define ENV_MSG                                                                                    \
	"a valid environment variable name must consist of alphabetic characters, digits, '_', "   \
	"'-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  "   \
	"or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"

static bool valid_env_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

#define CMKEY_MSG                                                                                  \
	"a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "       \
	"'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "                \
	"'[-._a-zA-Z0-9]+')"

static bool valid_configmap_key(const char *s, char *msg, size_t cap)
{
	size_t n = strlen(s), l = 0;
	msg[0] = '\0';
	bool re = n > 0;
	for (size_t i = 0; i < n && re; i++) {
		char c = s[i];
		re = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '-' || c == '.' || c == '_';
	}
#define ADD(m) (l += (size_t)snprintf(msg + l, l < cap ? cap - l : 0, "%s%s", l ? "; " : "", m))
	if (n > 253)
		ADD("must be no more than 253 characters");
	if (!re)
		ADD(CMKEY_MSG);
	if (strcmp(s, ".") == 0)
		ADD("must not be '.'");
	else if (strcmp(s, "..") == 0)
		ADD("must not be '..'");
	else if (strncmp(s, "..", 2) == 0)
		ADD("must not start with '..'");
#undef ADD
	return l == 0;
}

static bool valid_ipv4(const char *s)
{
	int parts = 0;
	const char *p = s;
	while (*p) {
		int digits = 0, val = 0;
		while (*p >= '0' && *p <= '9') {
			val = val * 10 + (*p - '0');
			if (++digits > 3)
				return false;
			p++;
		}
		if (!digits || val > 255 || (digits > 1 && p[-digits] == '0'))
			return false;
		parts++;
		if (*p == '.') {
			p++;
			if (!*p)
				return false;
		} else if (*p) {
			return false;
		}
	}
	return parts == 4;
}

static bool valid_ipv6(const char *s)
{
	/* groups of 1-4 hex digits, at most one "::", optional trailing dotted IPv4 */
	size_t n = strlen(s);
	if (n < 2 || n > 45)
		return false;
	int groups = 0;
	bool dbl = false;
	const char *p = s;
	if (p[0] == ':') {
		if (p[1] != ':')
			return false;
		dbl = true;
		p += 2;
		if (!*p)
			return true;
	}
	while (*p) {
		const char *start = p;
		int h = 0;
		while (h < 5 && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
				 (*p >= 'A' && *p <= 'F'))) {
			p++;
			h++;
		}
		if (*p == '.') {
			if (!valid_ipv4(start))
				return false;
			groups += 2;
			break;
		}
		if (h == 0 || h > 4)
			return false;
		groups++;
		if (!*p)
			break;
		if (*p != ':')
			return false;
		p++;
		if (*p == ':') {
			if (dbl)
				return false;
			dbl = true;
			p++;
			if (!*p)
				break;
		} else if (!*p) {
			return false;
		}
	}
	return dbl ? groups < 8 : groups == 8;
}

static bool valid_ip(const char *s)
{
	return strchr(s, ':') ? valid_ipv6(s) : valid_ipv4(s);
}

/* ------------------------------------------------------------------------------------------ */
/* quantities */

/* Rewrites each quantity of a resource map in canonical form, as a decode/encode round trip
 * through Kubernetes does ("1000m" -> "1", 0.5 -> "500m"). Invalid ones are left for
 * validation. */
static void canonical_quantities(cJSON *map)
{
	if (!cJSON_IsObject(map))
		return;
	for (cJSON *it = map->child, *next; it; it = next) {
		next = it->next;
		struct kc_quantity q;
		struct kc_err err;
		if (kc_quantity_from_json(it, &q, &err) != 0)
			continue;
		char buf[KC_QUANTITY_STRMAX];
		kc_quantity_format(&q, buf);
		if (cJSON_IsString(it) && strcmp(it->valuestring, buf) == 0)
			continue;
		put(map, it->string, kc_json_new_str(buf));
	}
}

/* Checks a resource list: qualified-name keys, quantities that parse and are not negative. */
static void validate_resource_list(struct vctx *v, const cJSON *list, const char *field)
{
	if (!list)
		return;
	if (!cJSON_IsObject(list)) {
		invalid_json(v, field, list, "must be an object");
		return;
	}
	const cJSON *it;
	char f[PATH_MAX_LEN], msg[1024];
	cJSON_ArrayForEach(it, list)
	{
		P(f, "%s[%s]", field, it->string);
		if (!sel_valid_qualified_name(it->string, msg, sizeof msg)) {
			invalid_str(v, f, it->string, msg);
			continue;
		}
		struct kc_quantity q;
		struct kc_err err = {0};
		if (kc_quantity_from_json(it, &q, &err) != 0) {
			invalid_json(v, f, it, err.msg);
			continue;
		}
		if (kc_quantity_sign(&q) < 0) {
			char buf[KC_QUANTITY_STRMAX];
			kc_quantity_format(&q, buf);
			invalid_str(v, f, buf, "must be greater than or equal to 0");
		}
	}
}

static void validate_resources(struct vctx *v, const cJSON *res, const char *field)
{
	if (!res)
		return;
	char f[PATH_MAX_LEN];
	const cJSON *limits = get(res, "limits"), *requests = get(res, "requests");
	P(f, "%s.limits", field);
	validate_resource_list(v, limits, f);
	P(f, "%s.requests", field);
	validate_resource_list(v, requests, f);
	const cJSON *it;
	if (!cJSON_IsObject(requests))
		return;
	cJSON_ArrayForEach(it, requests)
	{
		const cJSON *lim = get(limits, it->string);
		struct kc_quantity rq, lq;
		struct kc_err err;
		if (!lim || kc_quantity_from_json(it, &rq, &err) ||
		    kc_quantity_from_json(lim, &lq, &err))
			continue;
		if (kc_quantity_cmp(&rq, &lq) > 0) {
			char rb[KC_QUANTITY_STRMAX], lb[KC_QUANTITY_STRMAX], detail[160];
			kc_quantity_format(&rq, rb);
			kc_quantity_format(&lq, lb);
			P(detail, "must be less than or equal to %s limit of %s", it->string, lb);
			P(f, "%s.requests[%s]", field, it->string);
			invalid_str(v, f, rb, detail);
		}
	}
}

/* ------------------------------------------------------------------------------------------ */
/* pod spec: defaults */

/* SetDefaults_Container's image pull policy: Always for ":latest" or no tag (and no digest). */
static const char *pull_policy_for(const char *image)
{
	const char *at = strchr(image, '@');
	size_t n = at ? (size_t)(at - image) : strlen(image);
	const char *slash = NULL;
	for (size_t i = 0; i < n; i++)
		if (image[i] == '/')
			slash = image + i;
	const char *from = slash ? slash : image;
	const char *colon = NULL;
	for (const char *p = from; p < image + n; p++)
		if (*p == ':')
			colon = p;
	if (!colon)
		return at ? "IfNotPresent" : "Always";
	size_t tl = (size_t)(image + n - colon - 1);
	return (tl == 6 && strncmp(colon + 1, "latest", 6) == 0) ? "Always" : "IfNotPresent";
}

static void default_http_get(cJSON *h)
{
	if (!cJSON_IsObject(h))
		return;
	def_str(h, "path", "/");
	def_str(h, "scheme", "HTTP");
}

static void default_probe(cJSON *p)
{
	if (!cJSON_IsObject(p))
		return;
	def_num(p, "timeoutSeconds", 1);
	def_num(p, "periodSeconds", 10);
	def_num(p, "successThreshold", 1);
	def_num(p, "failureThreshold", 3);
	default_http_get(get(p, "httpGet"));
}

static void default_lifecycle(cJSON *lc)
{
	static const char *const hooks[] = {"postStart", "preStop"};
	for (size_t i = 0; i < 2; i++)
		default_http_get(get(get(lc, hooks[i]), "httpGet"));
}

static void default_container(cJSON *c)
{
	if (!cJSON_IsObject(c))
		return;
	const char *image = gstr(c, "image");
	if (image && !get(c, "imagePullPolicy"))
		def_str(c, "imagePullPolicy", pull_policy_for(image));
	def_str(c, "terminationMessagePath", "/dev/termination-log");
	def_str(c, "terminationMessagePolicy", "File");
	cJSON *res = child(c, "resources");
	if (res) {
		cJSON *lim = get(res, "limits"), *req = get(res, "requests");
		if (cJSON_IsObject(lim))
			canonical_quantities(lim);
		if (cJSON_IsObject(req))
			canonical_quantities(req);
		/* limits without requests: the requests default to the limits */
		if (cJSON_IsObject(lim) && cJSON_GetArraySize(lim) > 0) {
			cJSON *r2 = child(res, "requests");
			cJSON *it;
			cJSON_ArrayForEach(it, lim)
			{
				if (r2 && !get(r2, it->string))
					put(r2, it->string, kc_json_dup(it));
			}
		}
	}
	cJSON *it;
	cJSON_ArrayForEach(it, get(c, "ports")) def_str(it, "protocol", "TCP");
	cJSON_ArrayForEach(it, get(c, "env"))
	{
		cJSON *fr = get(get(it, "valueFrom"), "fieldRef");
		def_str(fr, "apiVersion", "v1");
	}
	default_probe(get(c, "livenessProbe"));
	default_probe(get(c, "readinessProbe"));
	default_probe(get(c, "startupProbe"));
	default_lifecycle(get(c, "lifecycle"));
}

static void default_volume(cJSON *vol)
{
	static const char *const moded[] = {"secret", "configMap", "projected", "downwardAPI"};
	for (size_t i = 0; i < 4; i++) {
		cJSON *src = get(vol, moded[i]);
		def_num(src, "defaultMode", 420);
		cJSON *it;
		cJSON_ArrayForEach(it, get(src, "items"))
			def_str(get(it, "fieldRef"), "apiVersion", "v1");
	}
	cJSON *hp = get(vol, "hostPath");
	def_str(hp, "type", "");
	cJSON *ed = get(vol, "emptyDir");
	(void)ed;
	cJSON *src;
	cJSON_ArrayForEach(src, get(get(vol, "projected"), "sources"))
	{
		cJSON *it;
		cJSON_ArrayForEach(it, get(get(src, "downwardAPI"), "items"))
			def_str(get(it, "fieldRef"), "apiVersion", "v1");
		cJSON *sat = get(src, "serviceAccountToken");
		def_num(sat, "expirationSeconds", 3600);
	}
}

static void default_pod_spec(cJSON *spec)
{
	if (!cJSON_IsObject(spec))
		return;
	def_str(spec, "dnsPolicy", "ClusterFirst");
	def_str(spec, "restartPolicy", "Always");
	def_num(spec, "terminationGracePeriodSeconds", 30);
	def_str(spec, "schedulerName", "default-scheduler");
	def_bool(spec, "enableServiceLinks", true);
	child(spec, "securityContext");
	/* serviceAccount is the deprecated alias of serviceAccountName */
	const char *sa = gstr(spec, "serviceAccountName");
	const char *dsa = gstr(spec, "serviceAccount");
	if (sa && !dsa)
		def_str(spec, "serviceAccount", sa);
	else if (dsa && !sa)
		def_str(spec, "serviceAccountName", dsa);
	cJSON *it;
	cJSON_ArrayForEach(it, get(spec, "containers")) default_container(it);
	cJSON_ArrayForEach(it, get(spec, "initContainers")) default_container(it);
	cJSON_ArrayForEach(it, get(spec, "ephemeralContainers")) default_container(it);
	cJSON_ArrayForEach(it, get(spec, "volumes")) default_volume(it);
}

static void default_template(cJSON *tmpl)
{
	if (!cJSON_IsObject(tmpl))
		return;
	default_pod_spec(get(tmpl, "spec"));
}

/* ------------------------------------------------------------------------------------------ */
/* pod spec: validation */

static const char *const restart_always[] = {"Always", NULL};
static const char *const restart_any[] = {"Always", "OnFailure", "Never", NULL};
static const char *const restart_job[] = {"OnFailure", "Never", NULL};
static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};
static const char *const pull_policies[] = {"Always", "IfNotPresent", "Never", NULL};

static void validate_port_num(struct vctx *v, const cJSON *val, const char *f, bool zero_ok)
{
	long long n;
	if (kc_json_as_i64(val, &n) != 0) {
		invalid_json(v, f, val, "must be an integer");
		return;
	}
	if ((n == 0 && zero_ok) || (n >= 1 && n <= 65535))
		return;
	invalid_int(v, f, n, "must be between 1 and 65535, inclusive");
}

static void validate_handler(struct vctx *v, const cJSON *h, const char *field, bool probe)
{
	static const char *const kinds[] = {"exec", "httpGet", "tcpSocket", "grpc", "sleep"};
	int count = 0;
	char f[PATH_MAX_LEN];
	for (size_t i = 0; i < 5; i++) {
		const cJSON *x = get(h, kinds[i]);
		if (!x || (!probe && strcmp(kinds[i], "grpc") == 0) ||
		    (probe && strcmp(kinds[i], "sleep") == 0))
			continue;
		if (++count > 1) {
			P(f, "%s.%s", field, kinds[i]);
			forbidden(v, f, "may not specify more than 1 handler type");
			continue;
		}
		if (strcmp(kinds[i], "httpGet") == 0 || strcmp(kinds[i], "tcpSocket") == 0) {
			const cJSON *port = get(x, "port");
			P(f, "%s.%s.port", field, kinds[i]);
			if (!port)
				required(v, f, NULL);
			else if (cJSON_IsString(port)) {
				char msg[256];
				if (!valid_port_name(port->valuestring, msg, sizeof msg))
					invalid_str(v, f, port->valuestring, msg);
			} else {
				validate_port_num(v, port, f, false);
			}
		}
		if (strcmp(kinds[i], "httpGet") == 0) {
			const char *scheme = gstr(x, "scheme");
			static const char *const schemes[] = {"HTTP", "HTTPS", NULL};
			P(f, "%s.httpGet.scheme", field);
			if (scheme && !str_in(scheme, schemes))
				unsupported(v, f, scheme, schemes);
		}
		if (strcmp(kinds[i], "exec") == 0 && cJSON_GetArraySize(get(x, "command")) == 0) {
			P(f, "%s.exec.command", field);
			required(v, f, NULL);
		}
	}
	if (count == 0)
		required(v, field, "must specify a handler type");
}

static void validate_probe(struct vctx *v, const cJSON *p, const char *field, bool liveness)
{
	if (!p)
		return;
	validate_handler(v, p, field, true);
	static const char *const nonneg[] = {"initialDelaySeconds", "timeoutSeconds",
					     "periodSeconds",	    "successThreshold",
					     "failureThreshold",    NULL};
	char f[PATH_MAX_LEN];
	for (size_t i = 0; nonneg[i]; i++) {
		long long n;
		P(f, "%s.%s", field, nonneg[i]);
		if (gint(p, nonneg[i], &n) && n < 0)
			invalid_int(v, f, n, "must be greater than or equal to 0");
	}
	long long st;
	if (liveness && gint(p, "successThreshold", &st) && st != 1) {
		P(f, "%s.successThreshold", field);
		invalid_int(v, f, st, "must be 1");
	}
}

/* Names of containers (init + regular) seen so far, for the uniqueness check. */
struct names {
	const char *v[256];
	size_t n;
};

static bool names_add(struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return false;
	if (s->n < sizeof s->v / sizeof s->v[0])
		s->v[s->n++] = name;
	return true;
}

static void validate_container(struct vctx *v, const cJSON *c, const char *field,
			       struct names *cnames, const struct names *vols, bool init)
{
	char f[PATH_MAX_LEN], msg[1024];
	if (!cJSON_IsObject(c)) {
		invalid_json(v, field, c, "must be an object");
		return;
	}
	P(f, "%s.name", field);
	const char *name = want_str(v, c, "name", f);
	if (!name || !*name)
		required(v, f, NULL);
	else if (!sel_valid_dns1123_label(name, msg, sizeof msg))
		invalid_str(v, f, name, msg);
	else if (!names_add(cnames, name))
		duplicate(v, f, name);

	P(f, "%s.image", field);
	const char *image = want_str(v, c, "image", f);
	if (!image || !*image)
		required(v, f, NULL);
	else {
		size_t n = strlen(image);
		if (strchr(" \t\r\n", image[0]) || strchr(" \t\r\n", image[n - 1]))
			invalid_str(v, f, image, "must not have leading or trailing whitespace");
	}
	const char *ipp = gstr(c, "imagePullPolicy");
	P(f, "%s.imagePullPolicy", field);
	if (ipp && !str_in(ipp, pull_policies))
		unsupported(v, f, ipp, pull_policies);
	const char *tmp = gstr(c, "terminationMessagePolicy");
	static const char *const tmps[] = {"File", "FallbackToLogsOnError", NULL};
	P(f, "%s.terminationMessagePolicy", field);
	if (tmp && !str_in(tmp, tmps))
		unsupported(v, f, tmp, tmps);

	/* ports */
	const cJSON *it;
	int i = 0;
	struct names pnames = {.n = 0};
	cJSON_ArrayForEach(it, get(c, "ports"))
	{
		char pf[PATH_MAX_LEN];
		P(pf, "%s.ports[%d]", field, i++);
		const char *pname = gstr(it, "name");
		if (pname && *pname) {
			P(f, "%s.name", pf);
			if (!valid_port_name(pname, msg, sizeof msg))
				invalid_str(v, f, pname, msg);
			else if (!names_add(&pnames, pname))
				duplicate(v, f, pname);
		}
		P(f, "%s.containerPort", pf);
		const cJSON *cp = get(it, "containerPort");
		long long n;
		if (!cp || (kc_json_as_i64(cp, &n) == 0 && n == 0))
			required(v, f, NULL);
		else
			validate_port_num(v, cp, f, false);
		P(f, "%s.hostPort", pf);
		if (get(it, "hostPort"))
			validate_port_num(v, get(it, "hostPort"), f, true);
		P(f, "%s.protocol", pf);
		const char *proto = gstr(it, "protocol");
		if (!proto || !*proto)
			required(v, f, NULL);
		else if (!str_in(proto, protocols))
			unsupported(v, f, proto, protocols);
		const char *hip = gstr(it, "hostIP");
		P(f, "%s.hostIP", pf);
		if (hip && *hip && !valid_ip(hip))
			invalid_str(v, f, hip, "must be a valid IP address");
	}

	/* env */
	i = 0;
	cJSON_ArrayForEach(it, get(c, "env"))
	{
		char ef[PATH_MAX_LEN];
		P(ef, "%s.env[%d]", field, i++);
		P(f, "%s.name", ef);
		const char *en = gstr(it, "name");
		if (!en || !*en)
			required(v, f, NULL);
		else if (!valid_env_name(en))
			invalid_str(v, f, en, ENV_MSG);
		const cJSON *vf = get(it, "valueFrom");
		if (vf) {
			static const char *const srcs[] = {"fieldRef", "resourceFieldRef",
							   "configMapKeyRef", "secretKeyRef", NULL};
			int nsrc = 0;
			for (size_t k = 0; srcs[k]; k++)
				nsrc += get(vf, srcs[k]) != NULL;
			P(f, "%s.valueFrom", ef);
			if (nsrc == 0)
				invalid_str(v, f, "",
					    "must specify one of: `fieldRef`, "
					    "`resourceFieldRef`, `configMapKeyRef` or "
					    "`secretKeyRef`");
			else if (nsrc > 1)
				invalid_str(v, f, "",
					    "may not have more than one field specified at "
					    "a time");
			const char *val = gstr(it, "value");
			if (val && *val)
				invalid_str(v, f, "",
					    "may not be specified when `value` is not empty");
		}
	}
	i = 0;
	cJSON_ArrayForEach(it, get(c, "envFrom"))
	{
		P(f, "%s.envFrom[%d]", field, i++);
		int nsrc = (get(it, "configMapRef") != NULL) + (get(it, "secretRef") != NULL);
		if (nsrc != 1)
			invalid_str(v, f, "",
				    nsrc ? "may not have more than one field specified at a time"
					 : "must specify one of: `configMapRef` or `secretRef`");
	}

	/* volume mounts */
	i = 0;
	struct names paths = {.n = 0};
	cJSON_ArrayForEach(it, get(c, "volumeMounts"))
	{
		char mf[PATH_MAX_LEN];
		P(mf, "%s.volumeMounts[%d]", field, i++);
		P(f, "%s.name", mf);
		const char *vn = gstr(it, "name");
		if (!vn || !*vn)
			required(v, f, NULL);
		else {
			bool found = false;
			for (size_t k = 0; k < vols->n && !found; k++)
				found = strcmp(vols->v[k], vn) == 0;
			if (!found)
				not_found(v, f, vn);
		}
		P(f, "%s.mountPath", mf);
		const char *mp = gstr(it, "mountPath");
		if (!mp || !*mp)
			required(v, f, NULL);
		else if (!names_add(&paths, mp))
			invalid_str(v, f, mp, "must be unique");
		const char *sp = gstr(it, "subPath");
		P(f, "%s.subPath", mf);
		if (sp && (sp[0] == '/' || strstr(sp, "..")))
			invalid_str(v, f, sp,
				    sp[0] == '/' ? "must be a relative path"
						 : "must not contain '..'");
	}

	P(f, "%s.resources", field);
	validate_resources(v, get(c, "resources"), f);
	P(f, "%s.livenessProbe", field);
	validate_probe(v, get(c, "livenessProbe"), f, true);
	P(f, "%s.readinessProbe", field);
	validate_probe(v, get(c, "readinessProbe"), f, false);
	P(f, "%s.startupProbe", field);
	validate_probe(v, get(c, "startupProbe"), f, true);
	const cJSON *lc = get(c, "lifecycle");
	if (lc) {
		static const char *const hooks[] = {"postStart", "preStop"};
		for (size_t k = 0; k < 2; k++) {
			if (!get(lc, hooks[k]))
				continue;
			P(f, "%s.lifecycle.%s", field, hooks[k]);
			validate_handler(v, get(lc, hooks[k]), f, false);
		}
	}
	if (init && !gstr(c, "restartPolicy")) {
		/* plain init containers may not have probes (sidecars, restartPolicy Always, may) */
		static const char *const probes[] = {"livenessProbe", "readinessProbe",
						     "startupProbe"};
		for (size_t k = 0; k < 3; k++) {
			if (!get(c, probes[k]))
				continue;
			P(f, "%s.%s", field, probes[k]);
			forbidden(
				v, f,
				"may not be set for init containers without restartPolicy=Always");
		}
	}
}

static void validate_volumes(struct vctx *v, const cJSON *vols, const char *field,
			     struct names *names)
{
	static const char *const sources[] = {"hostPath",
					      "emptyDir",
					      "gcePersistentDisk",
					      "awsElasticBlockStore",
					      "gitRepo",
					      "secret",
					      "nfs",
					      "iscsi",
					      "glusterfs",
					      "persistentVolumeClaim",
					      "rbd",
					      "flexVolume",
					      "cinder",
					      "cephfs",
					      "flocker",
					      "downwardAPI",
					      "fc",
					      "azureFile",
					      "configMap",
					      "vsphereVolume",
					      "quobyte",
					      "azureDisk",
					      "photonPersistentDisk",
					      "projected",
					      "portworxVolume",
					      "scaleIO",
					      "storageos",
					      "csi",
					      "ephemeral",
					      "image",
					      NULL};
	const cJSON *it;
	int i = 0;
	char f[PATH_MAX_LEN], vf[PATH_MAX_LEN], msg[1024];
	cJSON_ArrayForEach(it, vols)
	{
		P(vf, "%s[%d]", field, i++);
		P(f, "%s.name", vf);
		const char *name = gstr(it, "name");
		if (!name || !*name)
			required(v, f, NULL);
		else if (!sel_valid_dns1123_label(name, msg, sizeof msg))
			invalid_str(v, f, name, msg);
		else if (!names_add(names, name))
			duplicate(v, f, name);
		int n = 0;
		for (size_t k = 0; sources[k]; k++) {
			if (!get(it, sources[k]))
				continue;
			if (++n > 1) {
				P(f, "%s.%s", vf, sources[k]);
				forbidden(v, f, "may not specify more than 1 volume type");
			}
		}
		if (n == 0)
			required(v, vf, "must specify a volume type");
		const cJSON *pvc = get(it, "persistentVolumeClaim");
		if (pvc && !gstr(pvc, "claimName")) {
			P(f, "%s.persistentVolumeClaim.claimName", vf);
			required(v, f, NULL);
		}
		const cJSON *hp = get(it, "hostPath");
		if (hp && !gstr(hp, "path")) {
			P(f, "%s.hostPath.path", vf);
			required(v, f, NULL);
		}
		const cJSON *cm = get(it, "configMap");
		if (cm && !gstr(cm, "name")) {
			P(f, "%s.configMap.name", vf);
			required(v, f, NULL);
		}
	}
}

static void validate_pod_spec(struct vctx *v, const cJSON *spec, const char *field,
			      const char *const *restart_allowed)
{
	char f[PATH_MAX_LEN], msg[1024];
	if (!cJSON_IsObject(spec)) {
		required(v, field, NULL);
		return;
	}
	struct names vols = {.n = 0}, cnames = {.n = 0};
	P(f, "%s.volumes", field);
	validate_volumes(v, get(spec, "volumes"), f, &vols);

	const cJSON *it;
	int i = 0;
	cJSON_ArrayForEach(it, get(spec, "initContainers"))
	{
		P(f, "%s.initContainers[%d]", field, i++);
		validate_container(v, it, f, &cnames, &vols, true);
	}
	const cJSON *cs = get(spec, "containers");
	if (cJSON_GetArraySize(cs) == 0) {
		P(f, "%s.containers", field);
		required(v, f, NULL);
	}
	i = 0;
	cJSON_ArrayForEach(it, cs)
	{
		P(f, "%s.containers[%d]", field, i++);
		validate_container(v, it, f, &cnames, &vols, false);
	}

	const char *rp = gstr(spec, "restartPolicy");
	P(f, "%s.restartPolicy", field);
	if (!rp || !*rp)
		required(v, f, NULL);
	else if (!str_in(rp, restart_any) || !str_in(rp, restart_allowed))
		unsupported(v, f, rp, restart_allowed);

	static const char *const dns[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default",
					  "None", NULL};
	const char *dp = gstr(spec, "dnsPolicy");
	P(f, "%s.dnsPolicy", field);
	if (dp && !str_in(dp, dns))
		unsupported(v, f, dp, dns);
	if (dp && strcmp(dp, "None") == 0 && !get(spec, "dnsConfig")) {
		P(f, "%s.dnsConfig", field);
		required(v, f, "must provide `dnsConfig` when `dnsPolicy` is None");
	}
	long long n;
	P(f, "%s.activeDeadlineSeconds", field);
	if (gint(spec, "activeDeadlineSeconds", &n) && n < 1)
		invalid_int(v, f, n, "must be between 1 and 2147483647, inclusive");
	P(f, "%s.terminationGracePeriodSeconds", field);
	if (gint(spec, "terminationGracePeriodSeconds", &n) && n < 0)
		invalid_int(v, f, n, "must be greater than or equal to 0");
	const char *node = gstr(spec, "nodeName");
	P(f, "%s.nodeName", field);
	if (node && *node && !sel_valid_dns1123_subdomain(node, msg, sizeof msg))
		invalid_str(v, f, node, msg);
	const char *sa = gstr(spec, "serviceAccountName");
	P(f, "%s.serviceAccountName", field);
	if (sa && *sa && !sel_valid_dns1123_subdomain(sa, msg, sizeof msg))
		invalid_str(v, f, sa, msg);
	P(f, "%s.nodeSelector", field);
	validate_labels(v, get(spec, "nodeSelector"), f);
	i = 0;
	cJSON_ArrayForEach(it, get(spec, "tolerations"))
	{
		static const char *const ops[] = {"Exists", "Equal", NULL};
		static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute",
						      NULL};
		char tf[PATH_MAX_LEN];
		P(tf, "%s.tolerations[%d]", field, i++);
		const char *op = gstr(it, "operator");
		P(f, "%s.operator", tf);
		if (op && *op && !str_in(op, ops))
			unsupported(v, f, op, ops);
		const char *eff = gstr(it, "effect");
		P(f, "%s.effect", tf);
		if (eff && *eff && !str_in(eff, effects))
			unsupported(v, f, eff, effects);
		const char *key = gstr(it, "key");
		P(f, "%s.key", tf);
		if (key && *key && !sel_valid_qualified_name(key, msg, sizeof msg))
			invalid_str(v, f, key, msg);
		if ((!key || !*key) && op && strcmp(op, "Exists") != 0) {
			P(f, "%s.operator", tf);
			invalid_str(
				v, f, op,
				"operator must be Exists when `key` is empty, which means \"match "
				"all values and all keys\"");
		}
	}
}

static void validate_template(struct vctx *v, const cJSON *tmpl, const char *field,
			      const char *const *restart_allowed)
{
	char f[PATH_MAX_LEN];
	if (!cJSON_IsObject(tmpl)) {
		required(v, field, NULL);
		return;
	}
	const cJSON *meta = get(tmpl, "metadata");
	P(f, "%s.metadata.labels", field);
	validate_labels(v, get(meta, "labels"), f);
	P(f, "%s.metadata.annotations", field);
	validate_annotations(v, get(meta, "annotations"), f);
	P(f, "%s.spec", field);
	validate_pod_spec(v, get(tmpl, "spec"), f, restart_allowed);
}

/* ------------------------------------------------------------------------------------------ */
/* label selectors in specs (ValidateLabelSelector) */

/* Go's %#v of a map[string]string, keys sorted. */
static void go_map(const cJSON *labels, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "map[string]string{");
	const char *prev = NULL;
	for (;;) {
		const cJSON *it, *next = NULL;
		cJSON_ArrayForEach(it, labels)
		{
			if (prev && strcmp(it->string, prev) <= 0)
				continue;
			if (!next || strcmp(it->string, next->string) < 0)
				next = it;
		}
		if (!next || n >= cap)
			break;
		char k[128], val[128];
		sel_go_quote(next->string, k, sizeof k);
		sel_go_quote(cJSON_IsString(next) ? next->valuestring : "", val, sizeof val);
		n += (size_t)snprintf(buf + n, cap - n, "%s%s:%s", prev ? ", " : "", k, val);
		prev = next->string;
	}
	if (n < cap)
		snprintf(buf + n, cap - n, "}");
}

static void validate_selector_object(struct vctx *v, const cJSON *sel, const char *field)
{
	char f[PATH_MAX_LEN], msg[1024];
	P(f, "%s.matchLabels", field);
	validate_labels(v, get(sel, "matchLabels"), f);
	const cJSON *it;
	int i = 0;
	cJSON_ArrayForEach(it, get(sel, "matchExpressions"))
	{
		static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist", NULL};
		char ef[PATH_MAX_LEN];
		P(ef, "%s.matchExpressions[%d]", field, i++);
		const char *op = gstr(it, "operator");
		int nvals = cJSON_GetArraySize(get(it, "values"));
		P(f, "%s.operator", ef);
		if (!op || !*op) {
			required(v, f, NULL);
		} else if (!str_in(op, ops)) {
			invalid_str(v, f, op, "not a valid selector operator");
		} else if ((strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) && nvals == 0) {
			P(f, "%s.values", ef);
			required(v, f, "must be specified when `operator` is 'In' or 'NotIn'");
		} else if ((strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) &&
			   nvals) {
			P(f, "%s.values", ef);
			forbidden(v, f,
				  "may not be specified when `operator` is 'Exists' or "
				  "'DoesNotExist'");
		}
		const char *key = gstr(it, "key");
		P(f, "%s.key", ef);
		if (!key || !sel_valid_qualified_name(key, msg, sizeof msg))
			invalid_str(v, f, key ? key : "", key ? msg : "must be non-empty");
		const cJSON *val;
		int j = 0;
		cJSON_ArrayForEach(val, get(it, "values"))
		{
			P(f, "%s.values[%d]", ef, j++);
			if (!cJSON_IsString(val))
				invalid_json(v, f, val, "must be a string");
			else if (!sel_valid_label_value(val->valuestring, msg, sizeof msg))
				invalid_str(v, f, val->valuestring, msg);
		}
	}
}

/* spec.selector of workloads: required, non-empty, valid, matching the template labels. */
static void validate_workload_selector(struct vctx *v, const cJSON *spec, const char *what,
				       bool map_selector)
{
	const cJSON *sel = get(spec, "selector");
	const cJSON *labels = get(get(get(spec, "template"), "metadata"), "labels");
	char msg[512];
	if (map_selector) { /* replicationcontrollers: a plain map, defaulted from the template */
		if (!sel || cJSON_GetArraySize(sel) == 0) {
			required(v, "spec.selector", NULL);
			return;
		}
		validate_labels(v, sel, "spec.selector");
		const cJSON *it;
		cJSON_ArrayForEach(it, sel)
		{
			const char *lv = gstr(labels, it->string);
			if (!lv || !cJSON_IsString(it) || strcmp(lv, it->valuestring) != 0) {
				go_map(labels, msg, sizeof msg);
				cause(v, "FieldValueInvalid", "spec.template.metadata.labels",
				      "Invalid value: %s: `selector` does not match template `labels`",
				      msg);
				break;
			}
		}
		return;
	}
	if (!sel) {
		required(v, "spec.selector", NULL);
		return;
	}
	if (cJSON_GetArraySize(get(sel, "matchLabels")) +
		    cJSON_GetArraySize(get(sel, "matchExpressions")) ==
	    0) {
		char detail[96];
		P(detail, "empty selector is invalid for %s", what);
		cause(v, "FieldValueInvalid", "spec.selector", "Invalid value: \"{}\": %s", detail);
		return;
	}
	unsigned before = v->n;
	validate_selector_object(v, sel, "spec.selector");
	if (v->n != before)
		return;
	struct label_selector *ls;
	struct kc_err err = {0};
	if (label_selector_from_object(sel, &ls, &err) != 0) {
		invalid_str(v, "spec.selector", "", err.msg);
		return;
	}
	if (!label_selector_match(ls, labels)) {
		go_map(labels, msg, sizeof msg);
		cause(v, "FieldValueInvalid", "spec.template.metadata.labels",
		      "Invalid value: %s: `selector` does not match template `labels`", msg);
	}
	label_selector_free(ls);
}

static void nonneg(struct vctx *v, const cJSON *o, const char *key, const char *field)
{
	long long n;
	if (gint(o, key, &n) && n < 0)
		invalid_int(v, field, n, "must be greater than or equal to 0");
}

/* An int-or-percent like "25%" or 1: returns false when malformed. */
static bool int_or_percent(const cJSON *x, long long *val, bool *percent)
{
	*percent = false;
	if (cJSON_IsNumber(x))
		return kc_json_as_i64(x, val) == 0;
	if (!cJSON_IsString(x))
		return false;
	const char *s = x->valuestring;
	size_t n = strlen(s);
	if (n < 2 || s[n - 1] != '%')
		return false;
	char buf[24];
	if (n - 1 >= sizeof buf)
		return false;
	memcpy(buf, s, n - 1);
	buf[n - 1] = '\0';
	*percent = true;
	return kc_parse_i64(buf, 0, 1000000, val) == 0;
}

static void validate_int_or_percent(struct vctx *v, const cJSON *x, const char *field,
				    long long *val_out, bool *pct_out)
{
	long long val = 0;
	bool pct = false;
	if (!x) {
		*val_out = -1;
		return;
	}
	if (!int_or_percent(x, &val, &pct)) {
		invalid_json(
			v, field, x,
			"a valid percent string must be a numeric string followed by an ending "
			"'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
		*val_out = -1;
		return;
	}
	if (val < 0)
		invalid_json(v, field, x, "must be greater than or equal to 0");
	else if (pct && val > 100)
		invalid_json(v, field, x, "must not be greater than 100%");
	*val_out = val;
	*pct_out = pct;
}

static void validate_rolling(struct vctx *v, const cJSON *ru, const char *field, bool surge_too)
{
	char f[PATH_MAX_LEN];
	long long mu = -1, ms = -1;
	bool pu = false, ps = false;
	P(f, "%s.maxUnavailable", field);
	validate_int_or_percent(v, get(ru, "maxUnavailable"), f, &mu, &pu);
	if (!surge_too)
		return;
	P(f, "%s.maxSurge", field);
	validate_int_or_percent(v, get(ru, "maxSurge"), f, &ms, &ps);
	if (mu == 0 && ms == 0) {
		P(f, "%s.maxUnavailable", field);
		invalid_json(v, f, get(ru, "maxUnavailable"), "may not be 0 when `maxSurge` is 0");
	}
}

/* ------------------------------------------------------------------------------------------ */
/* kinds: defaults and validation */

static void no_defaults(cJSON *obj)
{
	(void)obj;
}

static void no_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	(void)v, (void)obj, (void)old;
}

/* Pod: spec defaults; validation; update restrictions (ValidatePodUpdate). */
static void pod_defaults(cJSON *obj)
{
	default_pod_spec(get(obj, "spec"));
}

static void pod_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = get(obj, "spec");
	validate_pod_spec(v, spec, "spec", restart_any);
	if (!old)
		return;
	const cJSON *ospec = get(old, "spec");
	/* everything but the mutable fields must be unchanged */
	cJSON *munged = kc_json_dup(spec ? spec : ospec);
	static const char *const lists[] = {"containers", "initContainers"};
	bool shape_ok = true;
	for (size_t l = 0; l < 2; l++) {
		cJSON *nc = get(munged, lists[l]), *oc = get(ospec, lists[l]);
		if (cJSON_GetArraySize(nc) != cJSON_GetArraySize(oc)) {
			shape_ok = false;
			continue;
		}
		for (int i = 0; i < cJSON_GetArraySize(nc); i++) {
			cJSON *c = cJSON_GetArrayItem(nc, i);
			const cJSON *o = cJSON_GetArrayItem(oc, i);
			const cJSON *img = get(o, "image");
			if (cJSON_IsObject(c) && img)
				put(c, "image", kc_json_dup(img));
		}
	}
	static const char *const mutable[] = {"activeDeadlineSeconds", "tolerations",
					      "terminationGracePeriodSeconds"};
	for (size_t k = 0; k < 3; k++) {
		const cJSON *ov = get(ospec, mutable[k]);
		cJSON_DeleteItemFromObjectCaseSensitive(munged, mutable[k]);
		if (ov)
			kc_json_add(munged, mutable[k], kc_json_dup(ov));
	}
	if (!shape_ok || !kc_json_equal(munged, ospec))
		forbidden(v, "spec",
			  "pod updates may not change fields other than `spec.containers[*].image`,"
			  "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
			  "`spec.tolerations` (only additions to existing tolerations),"
			  "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
			  "previously negative)");
	cJSON_Delete(munged);
	/* activeDeadlineSeconds: may be set, or lowered, never removed or raised */
	long long nd, od;
	bool hn = gint(spec, "activeDeadlineSeconds", &nd),
	     ho = gint(ospec, "activeDeadlineSeconds", &od);
	if (ho && !hn)
		invalid_str(v, "spec.activeDeadlineSeconds", "",
			    "must not update from a positive integer to nil value");
	else if (ho && hn && nd > od)
		invalid_int(v, "spec.activeDeadlineSeconds", nd,
			    "must be less than or equal to previous value");
	/* tolerations: only additions */
	const cJSON *ot;
	cJSON_ArrayForEach(ot, get(ospec, "tolerations"))
	{
		bool found = false;
		const cJSON *nt;
		cJSON_ArrayForEach(nt, get(spec, "tolerations"))
		{
			cJSON *a = kc_json_dup(ot), *b = kc_json_dup(nt);
			cJSON_DeleteItemFromObjectCaseSensitive(a, "tolerationSeconds");
			cJSON_DeleteItemFromObjectCaseSensitive(b, "tolerationSeconds");
			found = kc_json_equal(a, b);
			cJSON_Delete(a);
			cJSON_Delete(b);
			if (found)
				break;
		}
		if (!found) {
			forbidden(
				v, "spec.tolerations",
				"existing toleration can not be modified except its tolerationSeconds");
			break;
		}
	}
}

/* Service (SetDefaults_Service + ValidateService) */
static void service_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	if (!spec)
		return;
	def_str(spec, "type", "ClusterIP");
	const char *type = gstr0(spec, "type");
	bool external_name = strcmp(type, "ExternalName") == 0;
	def_str(spec, "sessionAffinity", "None");
	if (strcmp(gstr0(spec, "sessionAffinity"), "ClientIP") == 0) {
		cJSON *cip = child(child(spec, "sessionAffinityConfig"), "clientIP");
		def_num(cip, "timeoutSeconds", 10800);
	}
	cJSON *it;
	cJSON_ArrayForEach(it, get(spec, "ports"))
	{
		def_str(it, "protocol", "TCP");
		const cJSON *port = get(it, "port");
		if (port && !get(it, "targetPort"))
			put(it, "targetPort", kc_json_dup(port));
	}
	if (external_name)
		return;
	def_str(spec, "internalTrafficPolicy", "Cluster");
	if (strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0)
		def_str(spec, "externalTrafficPolicy", "Cluster");
	if (strcmp(type, "LoadBalancer") == 0)
		def_bool(spec, "allocateLoadBalancerNodePorts", true);
	const char *cip = gstr(spec, "clusterIP");
	if (cip && *cip) {
		if (!get(spec, "clusterIPs")) {
			cJSON *a = kc_json_new_array();
			cJSON_AddItemToArray(a, kc_json_new_str(cip));
			put(spec, "clusterIPs", a);
		}
		def_str(spec, "ipFamilyPolicy", "SingleStack");
		if (!get(spec, "ipFamilies")) {
			cJSON *a = kc_json_new_array();
			bool v6 = strchr(cip, ':') != NULL;
			cJSON_AddItemToArray(a, kc_json_new_str(v6 ? "IPv6" : "IPv4"));
			put(spec, "ipFamilies", a);
		}
	}
}

static void service_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	static const char *const types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort",
					    NULL};
	static const char *const affinities[] = {"ClientIP", "None", NULL};
	const cJSON *spec = get(obj, "spec");
	char f[PATH_MAX_LEN], msg[1024];
	const char *type = gstr(spec, "type");
	if (!type)
		type = "ClusterIP";
	if (!str_in(type, types))
		unsupported(v, "spec.type", type, types);
	const char *cip = gstr(spec, "clusterIP");
	bool headless = cip && strcmp(cip, "None") == 0;
	bool external_name = strcmp(type, "ExternalName") == 0;
	if (cip && *cip && !headless && !valid_ip(cip))
		invalid_str(v, "spec.clusterIPs[0]", cip,
			    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
	const cJSON *it;
	int i = 0;
	cJSON_ArrayForEach(it, get(spec, "clusterIPs"))
	{
		P(f, "spec.clusterIPs[%d]", i++);
		if (i == 1 && cip && cJSON_IsString(it) && strcmp(it->valuestring, cip) != 0)
			invalid_str(v, f, it->valuestring, "must match `clusterIP` if specified");
		else if (i > 1 && cJSON_IsString(it) && !valid_ip(it->valuestring))
			invalid_str(
				v, f, it->valuestring,
				"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
	}
	if (external_name) {
		const char *en = gstr(spec, "externalName");
		if (!en || !*en)
			required(v, "spec.externalName", NULL);
		else if (!sel_valid_dns1123_subdomain(en, msg, sizeof msg))
			invalid_str(v, "spec.externalName", en, msg);
		if (cip && *cip)
			forbidden(v, "spec.clusterIP", "may not be set for ExternalName services");
	}
	const char *aff = gstr(spec, "sessionAffinity");
	if (aff && !str_in(aff, affinities))
		unsupported(v, "spec.sessionAffinity", aff, affinities);

	const cJSON *ports = get(spec, "ports");
	int nports = cJSON_GetArraySize(ports);
	if (nports == 0 && !external_name && !headless)
		required(v, "spec.ports", NULL);
	struct names pnames = {.n = 0};
	i = 0;
	cJSON_ArrayForEach(it, ports)
	{
		char pf[PATH_MAX_LEN];
		P(pf, "spec.ports[%d]", i++);
		P(f, "%s.name", pf);
		const char *name = gstr(it, "name");
		if (nports > 1 && (!name || !*name))
			required(v, f, NULL);
		else if (name && *name) {
			if (!sel_valid_dns1123_label(name, msg, sizeof msg))
				invalid_str(v, f, name, msg);
			else if (!names_add(&pnames, name))
				duplicate(v, f, name);
		}
		P(f, "%s.port", pf);
		const cJSON *port = get(it, "port");
		if (!port)
			required(v, f, NULL);
		else
			validate_port_num(v, port, f, false);
		const char *proto = gstr(it, "protocol");
		P(f, "%s.protocol", pf);
		if (!proto || !*proto)
			required(v, f, NULL);
		else if (!str_in(proto, protocols))
			unsupported(v, f, proto, protocols);
		const cJSON *tp = get(it, "targetPort");
		P(f, "%s.targetPort", pf);
		if (cJSON_IsString(tp)) {
			if (!valid_port_name(tp->valuestring, msg, sizeof msg))
				invalid_str(v, f, tp->valuestring, msg);
		} else if (tp) {
			validate_port_num(v, tp, f, false);
		}
		const cJSON *np = get(it, "nodePort");
		long long npv;
		P(f, "%s.nodePort", pf);
		if (np && kc_json_as_i64(np, &npv) == 0 && npv != 0) {
			if (strcmp(type, "ClusterIP") == 0 || external_name) {
				char detail[96];
				P(detail, "may not be used when `type` is '%s'", type);
				forbidden(v, f, detail);
			} else if (npv < 30000 || npv > 32767) {
				invalid_int(v, f, npv,
					    "provided port is not in the valid range. The range of "
					    "valid ports is 30000-32767");
			}
		}
	}
	P(f, "spec.selector");
	validate_labels(v, get(spec, "selector"), f);
	static const char *const policies[] = {"Cluster", "Local", NULL};
	const char *itp = gstr(spec, "internalTrafficPolicy");
	if (itp && !str_in(itp, policies))
		unsupported(v, "spec.internalTrafficPolicy", itp, policies);
	const char *etp = gstr(spec, "externalTrafficPolicy");
	if (etp && *etp && !str_in(etp, policies))
		unsupported(v, "spec.externalTrafficPolicy", etp, policies);
	static const char *const fampol[] = {"SingleStack", "PreferDualStack", "RequireDualStack",
					     NULL};
	const char *ifp = gstr(spec, "ipFamilyPolicy");
	if (ifp && !str_in(ifp, fampol))
		unsupported(v, "spec.ipFamilyPolicy", ifp, fampol);

	if (!old)
		return;
	const cJSON *ospec = get(old, "spec");
	const char *ocip = gstr(ospec, "clusterIP");
	/* a service turning into ExternalName gives up its cluster IP */
	if (ocip && *ocip && !external_name && (!cip || strcmp(cip, ocip) != 0))
		invalid_str(v, "spec.clusterIPs[0]", cip ? cip : "", "may not change once set");
}

/* Workloads */
static void deployment_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	def_num(spec, "replicas", 1);
	cJSON *strat = child(spec, "strategy");
	def_str(strat, "type", "RollingUpdate");
	if (strcmp(gstr0(strat, "type"), "RollingUpdate") == 0) {
		cJSON *ru = child(strat, "rollingUpdate");
		def_str(ru, "maxUnavailable", "25%");
		def_str(ru, "maxSurge", "25%");
	}
	def_num(spec, "revisionHistoryLimit", 10);
	def_num(spec, "progressDeadlineSeconds", 600);
	default_template(get(spec, "template"));
}

static void replicaset_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	def_num(spec, "replicas", 1);
	default_template(get(spec, "template"));
}

static void default_pvc_spec(cJSON *spec)
{
	def_str(spec, "volumeMode", "Filesystem");
	cJSON *res = get(spec, "resources");
	canonical_quantities(get(res, "requests"));
	canonical_quantities(get(res, "limits"));
}

static void statefulset_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	def_num(spec, "replicas", 1);
	def_str(spec, "podManagementPolicy", "OrderedReady");
	cJSON *us = child(spec, "updateStrategy");
	def_str(us, "type", "RollingUpdate");
	if (strcmp(gstr0(us, "type"), "RollingUpdate") == 0) {
		cJSON *ru = child(us, "rollingUpdate");
		def_num(ru, "partition", 0);
	}
	def_num(spec, "revisionHistoryLimit", 10);
	cJSON *rp = child(spec, "persistentVolumeClaimRetentionPolicy");
	def_str(rp, "whenDeleted", "Retain");
	def_str(rp, "whenScaled", "Retain");
	cJSON *it;
	cJSON_ArrayForEach(it, get(spec, "volumeClaimTemplates"))
	{
		cJSON *s = child(it, "spec");
		default_pvc_spec(s);
		def_str(child(it, "status"), "phase", "Pending");
	}
	default_template(get(spec, "template"));
}

static void daemonset_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	cJSON *us = child(spec, "updateStrategy");
	def_str(us, "type", "RollingUpdate");
	if (strcmp(gstr0(us, "type"), "RollingUpdate") == 0) {
		cJSON *ru = child(us, "rollingUpdate");
		def_num(ru, "maxUnavailable", 1);
		def_num(ru, "maxSurge", 0);
	}
	def_num(spec, "revisionHistoryLimit", 10);
	default_template(get(spec, "template"));
}

static void rc_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	const cJSON *tl = get(get(get(spec, "template"), "metadata"), "labels");
	if (cJSON_GetArraySize(tl) > 0) {
		if (cJSON_GetArraySize(get(spec, "selector")) == 0)
			put(spec, "selector", kc_json_dup(tl));
		cJSON *meta = child(obj, "metadata");
		if (cJSON_GetArraySize(get(meta, "labels")) == 0)
			put(meta, "labels", kc_json_dup(tl));
	}
	def_num(spec, "replicas", 1);
	default_template(get(spec, "template"));
}

static void job_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	/* a non-parallel job may leave both unset: both become 1 */
	if (!get(spec, "completions") && !get(spec, "parallelism"))
		def_num(spec, "completions", 1);
	def_num(spec, "parallelism", 1);
	def_num(spec, "backoffLimit", 6);
	def_str(spec, "completionMode", "NonIndexed");
	def_bool(spec, "suspend", false);
	if (!get(spec, "podFailurePolicy"))
		def_str(spec, "podReplacementPolicy", "TerminatingOrFailed");
	/* the template's restartPolicy defaults to Always like any pod's, which validation
	 * then rejects for Jobs, as Kubernetes does */
	default_template(get(spec, "template"));
}

static void cronjob_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	def_str(spec, "concurrencyPolicy", "Allow");
	def_bool(spec, "suspend", false);
	def_num(spec, "successfulJobsHistoryLimit", 3);
	def_num(spec, "failedJobsHistoryLimit", 1);
	cJSON *jt = get(spec, "jobTemplate");
	if (cJSON_IsObject(jt)) {
		cJSON *js = get(jt, "spec");
		if (cJSON_IsObject(js)) {
			def_num(js, "backoffLimit", 6);
			def_str(js, "completionMode", "NonIndexed");
			def_bool(js, "suspend", false);
			def_str(js, "podReplacementPolicy", "TerminatingOrFailed");
			default_template(get(js, "template"));
		}
	}
}

static void workload_common(struct vctx *v, const cJSON *obj, const cJSON *old, const char *what,
			    const char *const *restart, bool map_selector)
{
	const cJSON *spec = get(obj, "spec");
	nonneg(v, spec, "replicas", "spec.replicas");
	nonneg(v, spec, "minReadySeconds", "spec.minReadySeconds");
	nonneg(v, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
	validate_workload_selector(v, spec, what, map_selector);
	validate_template(v, get(spec, "template"), "spec.template", restart);
	if (old && !map_selector) {
		const cJSON *os = get(get(old, "spec"), "selector"), *ns = get(spec, "selector");
		if (os && !kc_json_equal(os, ns))
			invalid_json(v, "spec.selector", ns, "field is immutable");
	}
}

static void deployment_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	workload_common(v, obj, old, "deployment", restart_always, false);
	const cJSON *spec = get(obj, "spec");
	const cJSON *strat = get(spec, "strategy");
	static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
	const char *type = gstr(strat, "type");
	if (type && !str_in(type, types))
		unsupported(v, "spec.strategy.type", type, types);
	const cJSON *ru = get(strat, "rollingUpdate");
	if (type && strcmp(type, "Recreate") == 0 && ru)
		forbidden(v, "spec.strategy.rollingUpdate",
			  "may not be specified when strategy `type` is 'Recreate'");
	else if (ru)
		validate_rolling(v, ru, "spec.strategy.rollingUpdate", true);
	long long pds, mrs = 0;
	if (gint(spec, "progressDeadlineSeconds", &pds)) {
		gint(spec, "minReadySeconds", &mrs);
		if (pds < 0)
			invalid_int(v, "spec.progressDeadlineSeconds", pds,
				    "must be greater than or equal to 0");
		else if (pds <= mrs)
			invalid_int(v, "spec.progressDeadlineSeconds", pds,
				    "must be greater than minReadySeconds");
	}
}

static void replicaset_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	workload_common(v, obj, old, "replicaset", restart_always, false);
}

static void rc_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	workload_common(v, obj, old, "replicationcontroller", restart_always, true);
}

static void statefulset_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	workload_common(v, obj, old, "statefulset", restart_always, false);
	const cJSON *spec = get(obj, "spec");
	static const char *const pmp[] = {"OrderedReady", "Parallel", NULL};
	const char *p = gstr(spec, "podManagementPolicy");
	if (p && !str_in(p, pmp))
		unsupported(v, "spec.podManagementPolicy", p, pmp);
	static const char *const ust[] = {"RollingUpdate", "OnDelete", NULL};
	const char *t = gstr(get(spec, "updateStrategy"), "type");
	if (t && !str_in(t, ust))
		unsupported(v, "spec.updateStrategy.type", t, ust);
	if (t && strcmp(t, "OnDelete") == 0 && get(get(spec, "updateStrategy"), "rollingUpdate"))
		invalid_str(v, "spec.updateStrategy.rollingUpdate", "",
			    "only allowed for updateStrategy 'RollingUpdate'");
	nonneg(v, get(get(spec, "updateStrategy"), "rollingUpdate"), "partition",
	       "spec.updateStrategy.rollingUpdate.partition");
	if (!old)
		return;
	/* only replicas, ordinals, template, updateStrategy, retention policy, minReadySeconds */
	cJSON *a = kc_json_dup(spec ? spec : get(old, "spec"));
	cJSON *b = kc_json_dup(get(old, "spec"));
	static const char *const mutable[] = {"replicas",
					      "ordinals",
					      "template",
					      "updateStrategy",
					      "persistentVolumeClaimRetentionPolicy",
					      "minReadySeconds",
					      "selector",
					      NULL};
	for (size_t i = 0; mutable[i]; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(a, mutable[i]);
		cJSON_DeleteItemFromObjectCaseSensitive(b, mutable[i]);
	}
	if (!kc_json_equal(a, b))
		forbidden(v, "spec",
			  "updates to statefulset spec for fields other than 'replicas', "
			  "'ordinals', 'template', 'updateStrategy', "
			  "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
			  "forbidden");
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void daemonset_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	workload_common(v, obj, old, "daemonset", restart_always, false);
	const cJSON *us = get(get(obj, "spec"), "updateStrategy");
	static const char *const ust[] = {"RollingUpdate", "OnDelete", NULL};
	const char *t = gstr(us, "type");
	if (t && !str_in(t, ust))
		unsupported(v, "spec.updateStrategy.type", t, ust);
	if (get(us, "rollingUpdate"))
		validate_rolling(v, get(us, "rollingUpdate"), "spec.updateStrategy.rollingUpdate",
				 true);
}

static void job_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = get(obj, "spec");
	nonneg(v, spec, "parallelism", "spec.parallelism");
	nonneg(v, spec, "completions", "spec.completions");
	nonneg(v, spec, "backoffLimit", "spec.backoffLimit");
	long long ads;
	if (gint(spec, "activeDeadlineSeconds", &ads) && ads <= 0)
		invalid_int(v, "spec.activeDeadlineSeconds", ads, "must be greater than 0");
	static const char *const modes[] = {"NonIndexed", "Indexed", NULL};
	const char *m = gstr(spec, "completionMode");
	if (m && !str_in(m, modes))
		unsupported(v, "spec.completionMode", m, modes);
	/* the selector is generated by the registry unless manualSelector */
	if (get(spec, "selector"))
		validate_workload_selector(v, spec, "job", false);
	validate_template(v, get(spec, "template"), "spec.template", restart_job);
	if (old) {
		const cJSON *ospec = get(old, "spec");
		if (get(ospec, "selector") &&
		    !kc_json_equal(get(ospec, "selector"), get(spec, "selector")))
			invalid_json(v, "spec.selector", get(spec, "selector"),
				     "field is immutable");
		long long oc, nc;
		bool ho = gint(ospec, "completions", &oc), hn = gint(spec, "completions", &nc);
		if (ho != hn || (ho && oc != nc && !(m && strcmp(m, "Indexed") == 0)))
			invalid_json(v, "spec.completions", get(spec, "completions"),
				     "field is immutable");
	}
}

static void cronjob_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = get(obj, "spec");
	const char *sched = gstr(spec, "schedule");
	if (!sched || !*sched)
		required(v, "spec.schedule", NULL);
	static const char *const cp[] = {"Allow", "Forbid", "Replace", NULL};
	const char *c = gstr(spec, "concurrencyPolicy");
	if (c && !str_in(c, cp))
		unsupported(v, "spec.concurrencyPolicy", c, cp);
	const cJSON *jt = get(get(spec, "jobTemplate"), "spec");
	if (!jt)
		required(v, "spec.jobTemplate.spec", NULL);
	else
		validate_template(v, get(jt, "template"), "spec.jobTemplate.spec.template",
				  restart_job);
	(void)old;
}

/* Namespace */
static void namespace_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	if (spec && !get(spec, "finalizers")) {
		cJSON *a = kc_json_new_array();
		cJSON_AddItemToArray(a, kc_json_new_str("kubernetes"));
		put(spec, "finalizers", a);
	}
	def_str(child(obj, "status"), "phase", "Active");
	/* the immutable kubernetes.io/metadata.name label (NamespaceDefaultLabelName) */
	const char *name = gstr(get(obj, "metadata"), "name");
	if (name) {
		cJSON *labels = child(child(obj, "metadata"), "labels");
		if (labels)
			put(labels, "kubernetes.io/metadata.name", kc_json_new_str(name));
	}
}

static void namespace_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *it;
	int i = 0;
	char f[PATH_MAX_LEN], msg[1024];
	cJSON_ArrayForEach(it, get(get(obj, "spec"), "finalizers"))
	{
		P(f, "spec.finalizers[%d]", i++);
		if (!cJSON_IsString(it))
			invalid_json(v, f, it, "must be a string");
		else if (!sel_valid_qualified_name(it->valuestring, msg, sizeof msg))
			invalid_str(v, f, it->valuestring, msg);
	}
	(void)old;
}

/* Secret / ConfigMap */
static void secret_defaults(cJSON *obj)
{
	def_str(obj, "type", "Opaque");
	/* stringData is write-only: merged into data (base64) as the v1 conversion does */
	cJSON *sd = get(obj, "stringData");
	if (cJSON_IsObject(sd)) {
		cJSON *data = child(obj, "data");
		cJSON *it;
		cJSON_ArrayForEach(it, sd)
		{
			if (!cJSON_IsString(it) || !data)
				continue;
			struct kc_str b = KC_STR_INIT;
			kc_base64_encode(&b, it->valuestring, strlen(it->valuestring), KC_B64_STD);
			put(data, it->string, kc_json_new_str(b.buf));
			kc_str_free(&b);
		}
	}
	if (sd)
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "stringData");
}

static size_t b64_len(const char *s)
{
	size_t n = strlen(s);
	size_t pad = (n >= 1 && s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
	size_t d = kc_base64_decoded_max(n);
	return d >= pad ? d - pad : 0;
}

static void validate_data_keys(struct vctx *v, const cJSON *data, const char *field, bool b64,
			       size_t *total)
{
	const cJSON *it;
	char f[PATH_MAX_LEN], msg[1024];
	cJSON_ArrayForEach(it, data)
	{
		P(f, "%s[%s]", field, it->string);
		if (!valid_configmap_key(it->string, msg, sizeof msg))
			invalid_str(v, f, it->string, msg);
		if (!cJSON_IsString(it)) {
			invalid_json(v, f, it, "must be a string");
			continue;
		}
		*total += b64 ? b64_len(it->valuestring) : strlen(it->valuestring);
	}
}

static void immutable_data(struct vctx *v, const cJSON *obj, const cJSON *old,
			   const char *const *fields)
{
	if (!old || !cJSON_IsTrue(get(old, "immutable")))
		return;
	if (!cJSON_IsTrue(get(obj, "immutable")))
		forbidden(v, "immutable", "field is immutable when `immutable` is set");
	for (size_t i = 0; fields[i]; i++) {
		const cJSON *a = get(obj, fields[i]), *b = get(old, fields[i]);
		bool ea = cJSON_GetArraySize(a) == 0, eb = cJSON_GetArraySize(b) == 0;
		if ((ea && eb) || kc_json_equal(a, b))
			continue;
		forbidden(v, fields[i], "field is immutable when `immutable` is set");
	}
}

static void secret_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	size_t total = 0;
	const cJSON *data = get(obj, "data");
	validate_data_keys(v, data, "data", true, &total);
	if (total > MAX_DATA_SIZE)
		too_long(v, "data", MAX_DATA_SIZE);
	const char *type = gstr0(obj, "type");
	struct {
		const char *type;
		const char *keys[3];
	} req[] = {
		{"kubernetes.io/tls", {"tls.crt", "tls.key", NULL}},
		{"kubernetes.io/dockerconfigjson", {".dockerconfigjson", NULL, NULL}},
		{"kubernetes.io/dockercfg", {".dockercfg", NULL, NULL}},
		{"kubernetes.io/ssh-auth", {"ssh-privatekey", NULL, NULL}},
	};
	char f[PATH_MAX_LEN];
	for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
		if (strcmp(type, req[i].type) != 0)
			continue;
		for (size_t k = 0; req[i].keys[k]; k++) {
			if (get(data, req[i].keys[k]))
				continue;
			P(f, "data[%s]", req[i].keys[k]);
			required(v, f, NULL);
		}
	}
	if (strcmp(type, "kubernetes.io/basic-auth") == 0 && !get(data, "username") &&
	    !get(data, "password"))
		required(v, "data[username]", NULL);
	if (strcmp(type, "kubernetes.io/service-account-token") == 0 &&
	    !gstr(get(get(obj, "metadata"), "annotations"), "kubernetes.io/service-account.name"))
		required(v, "metadata.annotations[kubernetes.io/service-account.name]", NULL);
	if (old) {
		const char *ot = gstr0(old, "type");
		if (strcmp(ot, type) != 0)
			invalid_str(v, "type", type, "field is immutable");
		static const char *const fields[] = {"data", NULL};
		immutable_data(v, obj, old, fields);
	}
}

static void configmap_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	size_t total = 0;
	const cJSON *data = get(obj, "data"), *bin = get(obj, "binaryData");
	validate_data_keys(v, data, "data", false, &total);
	validate_data_keys(v, bin, "binaryData", true, &total);
	const cJSON *it;
	char f[PATH_MAX_LEN];
	cJSON_ArrayForEach(it, bin)
	{
		if (!get(data, it->string))
			continue;
		P(f, "data[%s]", it->string);
		invalid_str(v, f, it->string, "duplicate of key present in binaryData");
	}
	if (total > MAX_DATA_SIZE)
		too_long(v, "", MAX_DATA_SIZE);
	static const char *const fields[] = {"data", "binaryData", NULL};
	immutable_data(v, obj, old, fields);
}

/* Node */
static void node_defaults(cJSON *obj)
{
	cJSON *status = get(obj, "status");
	if (cJSON_IsObject(status)) {
		cJSON *cap = get(status, "capacity");
		canonical_quantities(cap);
		canonical_quantities(get(status, "allocatable"));
		if (cJSON_IsObject(cap) && !get(status, "allocatable"))
			put(status, "allocatable", kc_json_dup(cap));
	}
}

static void node_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
	const cJSON *it;
	int i = 0;
	char f[PATH_MAX_LEN], msg[1024];
	cJSON_ArrayForEach(it, get(get(obj, "spec"), "taints"))
	{
		P(f, "spec.taints[%d].key", i);
		const char *key = gstr(it, "key");
		if (!key || !sel_valid_qualified_name(key, msg, sizeof msg))
			invalid_str(v, f, key ? key : "", key ? msg : "must be non-empty");
		P(f, "spec.taints[%d].effect", i);
		const char *eff = gstr(it, "effect");
		if (!eff || !*eff)
			required(v, f, NULL);
		else if (!str_in(eff, effects))
			unsupported(v, f, eff, effects);
		P(f, "spec.taints[%d].value", i);
		const char *val = gstr(it, "value");
		if (val && !sel_valid_label_value(val, msg, sizeof msg))
			invalid_str(v, f, val, msg);
		i++;
	}
	P(f, "status.capacity");
	validate_resource_list(v, get(get(obj, "status"), "capacity"), f);
	P(f, "status.allocatable");
	validate_resource_list(v, get(get(obj, "status"), "allocatable"), f);
	if (old) {
		const char *op = gstr(get(old, "spec"), "podCIDR");
		const char *np = gstr(get(obj, "spec"), "podCIDR");
		if (op && *op && (!np || strcmp(op, np) != 0))
			invalid_str(v, "spec.podCIDRs", np ? np : "", "may not change once set");
	}
}

/* PersistentVolumeClaim / PersistentVolume */
static void pvc_defaults(cJSON *obj)
{
	default_pvc_spec(child(obj, "spec"));
}

static const char *const access_modes[] = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
					   "ReadWriteOncePod", NULL};

static void validate_access_modes(struct vctx *v, const cJSON *spec)
{
	const cJSON *modes = get(spec, "accessModes"), *it;
	if (cJSON_GetArraySize(modes) == 0)
		required(v, "spec.accessModes", "at least 1 access mode is required");
	cJSON_ArrayForEach(it, modes)
	{
		if (!cJSON_IsString(it) || !str_in(it->valuestring, access_modes))
			unsupported(v, "spec.accessModes",
				    cJSON_IsString(it) ? it->valuestring : "", access_modes);
	}
}

static void pvc_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = get(obj, "spec");
	validate_access_modes(v, spec);
	const cJSON *req = get(get(spec, "resources"), "requests");
	const cJSON *storage = get(req, "storage");
	validate_resource_list(v, req, "spec.resources.requests");
	struct kc_quantity q;
	struct kc_err err;
	if (!storage)
		required(v, "spec.resources[storage]", NULL);
	else if (kc_quantity_from_json(storage, &q, &err) == 0 && kc_quantity_sign(&q) <= 0)
		invalid_json(v, "spec.resources[storage]", storage, "must be greater than zero");
	static const char *const vm[] = {"Block", "Filesystem", NULL};
	const char *mode = gstr(spec, "volumeMode");
	if (mode && !str_in(mode, vm))
		unsupported(v, "spec.volumeMode", mode, vm);
	if (!old)
		return;
	/* spec is immutable except resources.requests (growth only) and volumeName binding */
	const cJSON *ospec = get(old, "spec");
	cJSON *a = kc_json_dup(spec), *b = kc_json_dup(ospec);
	cJSON_DeleteItemFromObjectCaseSensitive(a, "resources");
	cJSON_DeleteItemFromObjectCaseSensitive(b, "resources");
	cJSON_DeleteItemFromObjectCaseSensitive(a, "volumeAttributesClassName");
	cJSON_DeleteItemFromObjectCaseSensitive(b, "volumeAttributesClassName");
	if (!gstr(ospec, "volumeName"))
		cJSON_DeleteItemFromObjectCaseSensitive(a, "volumeName");
	if (!gstr(ospec, "volumeName"))
		cJSON_DeleteItemFromObjectCaseSensitive(b, "volumeName");
	if (!kc_json_equal(a, b))
		forbidden(v, "spec",
			  "spec is immutable after creation except resources.requests and "
			  "volumeAttributesClassName for bound claims");
	cJSON_Delete(a);
	cJSON_Delete(b);
	struct kc_quantity oq;
	const cJSON *ostorage = get(get(get(ospec, "resources"), "requests"), "storage");
	if (storage && ostorage && kc_quantity_from_json(storage, &q, &err) == 0 &&
	    kc_quantity_from_json(ostorage, &oq, &err) == 0 && kc_quantity_cmp(&q, &oq) < 0)
		forbidden(v, "spec.resources.requests.storage",
			  "field can not be less than status.capacity");
}

static void pv_defaults(cJSON *obj)
{
	cJSON *spec = child(obj, "spec");
	def_str(spec, "persistentVolumeReclaimPolicy", "Retain");
	def_str(spec, "volumeMode", "Filesystem");
	canonical_quantities(get(spec, "capacity"));
}

static void pv_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = get(obj, "spec");
	validate_access_modes(v, spec);
	const cJSON *cap = get(spec, "capacity");
	if (!get(cap, "storage"))
		required(v, "spec.capacity", NULL);
	validate_resource_list(v, cap, "spec.capacity");
	static const char *const rp[] = {"Delete", "Recycle", "Retain", NULL};
	const char *p = gstr(spec, "persistentVolumeReclaimPolicy");
	if (p && !str_in(p, rp))
		unsupported(v, "spec.persistentVolumeReclaimPolicy", p, rp);
	(void)old;
}

static void service_account_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *it;
	int i = 0;
	char f[PATH_MAX_LEN];
	cJSON_ArrayForEach(it, get(obj, "secrets"))
	{
		P(f, "secrets[%d].name", i++);
		if (!gstr(it, "name"))
			required(v, f, NULL);
	}
	(void)old;
}

static void event_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *io = get(obj, "involvedObject");
	const char *ns = gstr(get(obj, "metadata"), "namespace");
	const char *ions = gstr(io, "namespace");
	if (ions && *ions && ns && strcmp(ns, ions) != 0)
		invalid_str(v, "involvedObject.namespace", ions, "does not match event.namespace");
	static const char *const types[] = {"Normal", "Warning", NULL};
	const char *type = gstr(obj, "type");
	if (type && *type && !str_in(type, types))
		unsupported(v, "type", type, types);
	(void)old;
}

static void lease_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = get(obj, "spec");
	long long n;
	if (gint(spec, "leaseDurationSeconds", &n) && n <= 0)
		invalid_int(v, "spec.leaseDurationSeconds", n, "must be greater than 0");
	if (gint(spec, "leaseTransitions", &n) && n < 0)
		invalid_int(v, "spec.leaseTransitions", n, "must be greater than or equal to 0");
	(void)old;
}

static void resource_quota_defaults(cJSON *obj)
{
	canonical_quantities(get(get(obj, "spec"), "hard"));
}

static void resource_quota_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	validate_resource_list(v, get(get(obj, "spec"), "hard"), "spec.hard");
	(void)old;
}

static void rbac_binding_validate(struct vctx *v, const cJSON *obj, const cJSON *old)
{
	const cJSON *ref = get(obj, "roleRef");
	static const char *const kinds[] = {"ClusterRole", "Role", NULL};
	const char *kind = gstr(ref, "kind");
	if (!kind || !str_in(kind, kinds))
		unsupported(v, "roleRef.kind", kind ? kind : "", kinds);
	if (!gstr(ref, "name") || !*gstr(ref, "name"))
		required(v, "roleRef.name", NULL);
	if (old && !kc_json_equal(ref, get(old, "roleRef")))
		invalid_json(v, "roleRef", ref, "cannot change roleRef");
}

/* ------------------------------------------------------------------------------------------ */
/* the table */

enum {
	K_CLEAR_STATUS = 1u << 0, /* status {} on create (set by controllers) */
	K_NO_GENERATION = 1u << 1,
};

struct kind_def {
	const char *group;
	const char *kind;
	enum name_rule name;
	void (*defaults)(cJSON *obj);
	void (*validate)(struct vctx *v, const cJSON *obj, const cJSON *old);
	unsigned flags;
};

static const struct kind_def kind_table[] = {
	{"", "Pod", NAME_SUBDOMAIN, pod_defaults, pod_validate, 0},
	{"", "Service", NAME_DNS1035, service_defaults, service_validate, 0},
	{"", "Namespace", NAME_DNS_LABEL, namespace_defaults, namespace_validate, 0},
	{"", "Secret", NAME_SUBDOMAIN, secret_defaults, secret_validate, 0},
	{"", "ConfigMap", NAME_SUBDOMAIN, no_defaults, configmap_validate, 0},
	{"", "Node", NAME_SUBDOMAIN, node_defaults, node_validate, 0},
	{"", "Event", NAME_SUBDOMAIN, no_defaults, event_validate, 0},
	{"", "ServiceAccount", NAME_SUBDOMAIN, no_defaults, service_account_validate, 0},
	{"", "PersistentVolumeClaim", NAME_SUBDOMAIN, pvc_defaults, pvc_validate, 0},
	{"", "PersistentVolume", NAME_SUBDOMAIN, pv_defaults, pv_validate, 0},
	{"", "ReplicationController", NAME_SUBDOMAIN, rc_defaults, rc_validate, K_CLEAR_STATUS},
	{"", "Endpoints", NAME_SUBDOMAIN, no_defaults, no_validate, 0},
	{"", "ResourceQuota", NAME_SUBDOMAIN, resource_quota_defaults, resource_quota_validate, 0},
	{"", "LimitRange", NAME_SUBDOMAIN, no_defaults, no_validate, 0},
	{"apps", "Deployment", NAME_SUBDOMAIN, deployment_defaults, deployment_validate,
	 K_CLEAR_STATUS},
	{"apps", "ReplicaSet", NAME_SUBDOMAIN, replicaset_defaults, replicaset_validate,
	 K_CLEAR_STATUS},
	{"apps", "StatefulSet", NAME_SUBDOMAIN, statefulset_defaults, statefulset_validate,
	 K_CLEAR_STATUS},
	{"apps", "DaemonSet", NAME_SUBDOMAIN, daemonset_defaults, daemonset_validate,
	 K_CLEAR_STATUS},
	{"apps", "ControllerRevision", NAME_SUBDOMAIN, no_defaults, no_validate, 0},
	{"batch", "Job", NAME_SUBDOMAIN, job_defaults, job_validate, K_CLEAR_STATUS},
	{"batch", "CronJob", NAME_SUBDOMAIN, cronjob_defaults, cronjob_validate, K_CLEAR_STATUS},
	{"coordination.k8s.io", "Lease", NAME_SUBDOMAIN, no_defaults, lease_validate, 0},
	{"rbac.authorization.k8s.io", "Role", NAME_PATH_SEGMENT, no_defaults, no_validate, 0},
	{"rbac.authorization.k8s.io", "ClusterRole", NAME_PATH_SEGMENT, no_defaults, no_validate,
	 0},
	{"rbac.authorization.k8s.io", "RoleBinding", NAME_PATH_SEGMENT, no_defaults,
	 rbac_binding_validate, 0},
	{"rbac.authorization.k8s.io", "ClusterRoleBinding", NAME_PATH_SEGMENT, no_defaults,
	 rbac_binding_validate, 0},
};

static const struct kind_def generic_kind = {NULL,	  NULL,	       NAME_SUBDOMAIN,
					     no_defaults, no_validate, 0};

static const struct kind_def *lookup(const struct api_resource *r)
{
	const char *group = r->group ? r->group : "";
	for (size_t i = 0; i < sizeof kind_table / sizeof kind_table[0]; i++)
		if (strcmp(kind_table[i].group, group) == 0 && r->kind &&
		    strcmp(kind_table[i].kind, r->kind) == 0)
			return &kind_table[i];
	return &generic_kind;
}

/* ------------------------------------------------------------------------------------------ */
/* entry points */

void kinds_default(const struct api_resource *r, cJSON *obj)
{
	if (!cJSON_IsObject(obj))
		return;
	lookup(r)->defaults(obj);
}

unsigned kinds_validate(const struct api_resource *r, const cJSON *obj, const cJSON *old,
			struct api_error *e)
{
	struct vctx v = {.e = e, .n = 0};
	if (!cJSON_IsObject(obj)) {
		invalid_json(&v, "", obj, "must be an object");
		return v.n;
	}
	const struct kind_def *k = lookup(r);
	validate_meta(&v, r, k->name, get(obj, "metadata"), "metadata.");
	if (old) {
		const cJSON *m = get(obj, "metadata"), *om = get(old, "metadata");
		const char *n = gstr(m, "name"), *on = gstr(om, "name");
		if (on && (!n || strcmp(n, on) != 0))
			invalid_str(&v, "metadata.name", n ? n : "", "field is immutable");
		const char *ns = gstr(m, "namespace"), *ons = gstr(om, "namespace");
		if (ons && (!ns || strcmp(ns, ons) != 0))
			invalid_str(&v, "metadata.namespace", ns ? ns : "", "field is immutable");
	}
	k->validate(&v, obj, old);
	return v.n;
}

/* Server-owned metadata that no request may change. */
static const char *const server_meta[] = {"uid",
					  "creationTimestamp",
					  "deletionTimestamp",
					  "deletionGracePeriodSeconds",
					  "generation",
					  "selfLink",
					  NULL};
/* What a status update may not change either (ResetObjectMetaForStatus). */
static const char *const status_meta[] = {"labels", "annotations", "finalizers", "ownerReferences",
					  NULL};

static void copy_member(cJSON *dst, const cJSON *src, const char *key)
{
	const cJSON *v = cJSON_IsObject(src) ? cJSON_GetObjectItemCaseSensitive(src, key) : NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(dst, key);
	if (v)
		kc_json_add(dst, key, kc_json_dup(v));
}

/* The content whose change bumps the generation: spec, or for kinds without spec everything
 * but metadata, status, kind and apiVersion. */
static bool content_changed(const cJSON *a, const cJSON *b)
{
	const cJSON *sa = get(a, "spec"), *sb = get(b, "spec");
	if (sa || sb)
		return !kc_json_equal(sa, sb);
	cJSON *x = kc_json_dup(a), *y = kc_json_dup(b);
	static const char *const skip[] = {"metadata", "status", "kind", "apiVersion"};
	for (size_t i = 0; i < 4; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(x, skip[i]);
		cJSON_DeleteItemFromObjectCaseSensitive(y, skip[i]);
	}
	bool changed = !kc_json_equal(x, y);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return changed;
}

void kinds_prepare_update(const struct api_resource *r, const char *subresource, cJSON *obj,
			  const cJSON *old)
{
	if (!cJSON_IsObject(obj) || !cJSON_IsObject(old))
		return;
	cJSON *meta = child(obj, "metadata");
	const cJSON *ometa = get(old, "metadata");
	if (!meta)
		return;
	for (size_t i = 0; server_meta[i]; i++)
		copy_member(meta, ometa, server_meta[i]);

	if (subresource && strcmp(subresource, "status") == 0) {
		/* everything but status comes from the stored object */
		for (size_t i = 0; status_meta[i]; i++)
			copy_member(meta, ometa, status_meta[i]);
		const cJSON *it;
		cJSON_ArrayForEach(it, old)
		{
			if (strcmp(it->string, "metadata") == 0 ||
			    strcmp(it->string, "status") == 0)
				continue;
			copy_member(obj, old, it->string);
		}
		cJSON *m = obj->child;
		while (m) {
			cJSON *next = m->next;
			if (strcmp(m->string, "metadata") != 0 &&
			    strcmp(m->string, "status") != 0 &&
			    !cJSON_GetObjectItemCaseSensitive(old, m->string))
				cJSON_Delete(cJSON_DetachItemViaPointer(obj, m));
			m = next;
		}
		return;
	}
	if (subresource)
		return; /* scale and others: the registry builds the object */

	if (has_subresource(r, "status"))
		copy_member(obj, old, "status");
	if (r->kind && strcmp(r->kind, "Namespace") == 0 && (!r->group || !*r->group)) {
		/* spec.finalizers only change through /finalize */
		cJSON *spec = child(obj, "spec");
		if (spec)
			copy_member(spec, get(old, "spec"), "finalizers");
	}
	if (r->kind && strcmp(r->kind, "Service") == 0 && (!r->group || !*r->group)) {
		/* patchAllocatedValues: keep allocated IPs and node ports the request left out */
		cJSON *spec = child(obj, "spec");
		const cJSON *ospec = get(old, "spec");
		const char *type = gstr0(spec, "type");
		if (spec && strcmp(type, "ExternalName") != 0) {
			if (!gstr(spec, "clusterIP") && gstr(ospec, "clusterIP")) {
				copy_member(spec, ospec, "clusterIP");
				copy_member(spec, ospec, "clusterIPs");
			}
			if (!get(spec, "ipFamilies") && get(ospec, "ipFamilies"))
				copy_member(spec, ospec, "ipFamilies");
			if (!get(spec, "ipFamilyPolicy") && get(ospec, "ipFamilyPolicy"))
				copy_member(spec, ospec, "ipFamilyPolicy");
			if (strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0) {
				cJSON *p;
				cJSON_ArrayForEach(p, get(spec, "ports"))
				{
					if (get(p, "nodePort"))
						continue;
					const cJSON *op;
					cJSON_ArrayForEach(op, get(ospec, "ports"))
					{
						if (kc_json_equal(get(op, "port"),
								  get(p, "port")) &&
						    strcmp(gstr0(op, "protocol"),
							   gstr0(p, "protocol")) == 0 &&
						    get(op, "nodePort")) {
							put(p, "nodePort",
							    kc_json_dup(get(op, "nodePort")));
							break;
						}
					}
				}
			}
			if (!get(spec, "healthCheckNodePort") &&
			    get(ospec, "healthCheckNodePort") &&
			    strcmp(gstr0(spec, "externalTrafficPolicy"), "Local") == 0)
				copy_member(spec, ospec, "healthCheckNodePort");
		}
	}
	long long gen = 0;
	gint(ometa, "generation", &gen);
	if (lookup(r)->flags & K_NO_GENERATION)
		return;
	if (content_changed(obj, old))
		gen++;
	if (gen > 0)
		put(meta, "generation", kc_json_new_num((double)gen));
}

/* The QoS class of a pod spec (GetPodQOS). */
static const char *pod_qos(const cJSON *spec)
{
	bool any = false, guaranteed = true;
	static const char *const lists[] = {"initContainers", "containers"};
	for (size_t l = 0; l < 2; l++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, get(spec, lists[l]))
		{
			const cJSON *res = get(c, "resources");
			const cJSON *req = get(res, "requests"), *lim = get(res, "limits");
			const char *names[] = {"cpu", "memory"};
			for (size_t k = 0; k < 2; k++) {
				struct kc_quantity rq, lq;
				struct kc_err err;
				const cJSON *r = get(req, names[k]), *li = get(lim, names[k]);
				bool hr = r && kc_quantity_from_json(r, &rq, &err) == 0 &&
					  !kc_quantity_is_zero(&rq);
				bool hl = li && kc_quantity_from_json(li, &lq, &err) == 0 &&
					  !kc_quantity_is_zero(&lq);
				if (hr || hl)
					any = true;
				if (!hl || (hr && kc_quantity_cmp(&rq, &lq) != 0))
					guaranteed = false;
			}
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

void kinds_prepare_create(const struct api_resource *r, cJSON *obj)
{
	if (!cJSON_IsObject(obj))
		return;
	cJSON *meta = child(obj, "metadata");
	if (meta) {
		static const char *const drop[] = {"deletionTimestamp",
						   "deletionGracePeriodSeconds", NULL};
		for (size_t i = 0; drop[i]; i++)
			cJSON_DeleteItemFromObjectCaseSensitive(meta, drop[i]);
		if (!(lookup(r)->flags & K_NO_GENERATION))
			put(meta, "generation", kc_json_new_num(1));
	}
	const struct kind_def *k = lookup(r);
	bool core = !r->group || !*r->group;
	const char *kind = r->kind ? r->kind : "";
	if (k->flags & K_CLEAR_STATUS) {
		put(obj, "status", kc_json_new_object());
	} else if (core && strcmp(kind, "Pod") == 0) {
		cJSON *status = kc_json_new_object();
		kc_json_add(status, "phase", kc_json_new_str("Pending"));
		kc_json_add(status, "qosClass", kc_json_new_str(pod_qos(get(obj, "spec"))));
		put(obj, "status", status);
	} else if (core && strcmp(kind, "Service") == 0) {
		cJSON *status = kc_json_new_object();
		kc_json_add(status, "loadBalancer", kc_json_new_object());
		put(obj, "status", status);
	} else if (core && (strcmp(kind, "PersistentVolumeClaim") == 0 ||
			    strcmp(kind, "PersistentVolume") == 0)) {
		cJSON *status = kc_json_new_object();
		kc_json_add(status, "phase", kc_json_new_str("Pending"));
		put(obj, "status", status);
	} else if (core && strcmp(kind, "Namespace") == 0) {
		cJSON *status = kc_json_new_object();
		kc_json_add(status, "phase", kc_json_new_str("Active"));
		put(obj, "status", status);
	}
}
