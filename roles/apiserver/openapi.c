/* openapi.c - the OpenAPI documents kube-apiserver serves, generated from the schema.
 *
 * DESIGN: the documents are built once, on the first request for them (about 40 ms of CPU
 * for the v3 set, which start-up should not pay), under a mutex: one OpenAPI 3.0 document per
 * served group-version (/openapi/v3/api/v1, /openapi/v3/apis/<g>/<v>), the v3 root that lists
 * them with their content hash, and, separately on its first request, one Swagger 2.0
 * document for everything (/openapi/v2). A document is a cJSON tree printed in canonical form (members sorted, as Go
 * prints maps), so equal schemas give byte-equal documents and stable hashes; the hash is the
 * first 16 upper-case hex digits of the document's SHA-256, used in the root's
 * serverRelativeURL (?hash=) and, quoted, as the ETag. Built strings never change or move:
 * any thread may call openapi_doc and use the result until openapi_free.
 *
 * Paths follow kube-apiserver's names (operationId listCoreV1NamespacedPod, ...) and carry the
 * query parameters it declares; what kubectl 1.32 relies on is that every PATCH operation of
 * a kind declares fieldValidation (it then validates on the server) and that
 * components.schemas hold the kind's type with x-kubernetes-group-version-kind, descriptions,
 * properties and $refs (kubectl explain walks them). Component names are the types' full
 * names; the schema's primitives that Kubernetes models as named types (time, quantity,
 * intOrString, any) become the apimachinery components of those names. A kind's list type is
 * synthesized when the schema does not describe it. */
#include "roles/apiserver/openapi.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/map.h"
#include "lib/str.h"
#include "roles/server.h"

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."
#define TIME_NAME META "Time"
#define MICROTIME_NAME META "MicroTime"
#define QUANTITY_NAME "io.k8s.apimachinery.pkg.api.resource.Quantity"
#define INTORSTRING_NAME "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
#define RAWEXT_NAME "io.k8s.apimachinery.pkg.runtime.RawExtension"
#define LISTMETA_NAME META "ListMeta"
#define STATUS_NAME META "Status"
#define DELETEOPTIONS_NAME META "DeleteOptions"
#define WATCHEVENT_NAME META "WatchEvent"
#define PATCH_NAME META "Patch"

#define HASH_LEN 16

struct oa_doc {
	char *path; /* "/openapi/v3/apis/apps/v1" */
	char *body;
	size_t len;
	char etag[HASH_LEN + 3]; /* quoted */
};

/* Documents are built on first request (kubectl asks for them before create and apply, not
 * at every start) under mu; once added, a document never changes or moves. */
struct oa_state {
	const struct schema *s;
	pthread_mutex_t mu;
	bool v3_built, v2_built;
	struct oa_doc *docs; /* fixed capacity: resources + 2 */
	size_t ndocs;
};

struct openapi {
	struct oa_state *st; /* behind a pointer: openapi_doc takes a const handle */
};

/* One document being generated. */
struct gen {
	const struct schema *s;
	bool v3;
	const char *refbase; /* "#/components/schemas/" or "#/definitions/" */
	cJSON *schemas;      /* components.schemas / definitions (borrowed) */
	struct kc_map seen;  /* component names added */
	/* the group-version of a v3 document, NULL for v2 (used for synthesized GVKs) */
	const char *group, *version;
};

/* ---------------------------------------------------------------------------------------------
 * small builders */

static void add_str(cJSON *o, const char *k, const char *v)
{
	kc_json_add(o, k, kc_json_new_str(v));
}

static cJSON *ref(const struct gen *g, const char *name)
{
	cJSON *r = kc_json_new_object();
	char *target = xasprintf("%s%s", g->refbase, name);
	add_str(r, "$ref", target);
	free(target);
	return r;
}

static cJSON *gvk_obj(const char *group, const char *version, const char *kind)
{
	cJSON *o = kc_json_new_object();
	add_str(o, "group", group);
	add_str(o, "kind", kind);
	add_str(o, "version", version);
	return o;
}

static cJSON *gvk_list(const char *group, const char *version, const char *kind)
{
	cJSON *a = kc_json_new_array();
	cJSON_AddItemToArray(a, gvk_obj(group, version, kind));
	return a;
}

/* Where v3 wants siblings of a $ref (description, default, extensions) to sit next to an
 * allOf holding the $ref, as kube-openapi writes it; v2 keeps them next to the $ref. */
static cJSON *wrap_ref(const struct gen *g, cJSON *r)
{
	if (!g->v3 || !cJSON_GetObjectItemCaseSensitive(r, "$ref"))
		return r;
	cJSON *w = kc_json_new_object();
	cJSON *all = kc_json_new_array();
	cJSON_AddItemToArray(all, r);
	kc_json_add(w, "allOf", all);
	return w;
}

/* ---------------------------------------------------------------------------------------------
 * components */

static void add_type(struct gen *g, const struct sch_type *t);

static bool mark_seen(struct gen *g, const char *name)
{
	if (kc_map_sget(&g->seen, name))
		return false;
	kc_map_sput(&g->seen, name, (void *)g);
	return true;
}

static void add_component(struct gen *g, const char *name, cJSON *def)
{
	kc_json_add(g->schemas, name, def);
}

/* The apimachinery components for the primitives Kubernetes models as named types. */
static void add_builtin(struct gen *g, const char *name)
{
	if (schema_type(g->s, name) && schema_type(g->s, name)->kind == SCH_STRUCT &&
	    strcmp(schema_type(g->s, name)->full_name, name) == 0) {
		add_type(g, schema_type(g->s, name));
		return;
	}
	if (!mark_seen(g, name))
		return;
	cJSON *d = kc_json_new_object();
	if (strcmp(name, TIME_NAME) == 0) {
		add_str(d, "description", "Time is a wrapper around time.Time which supports correct "
					  "marshaling to YAML and JSON.  Wrappers are provided for many "
					  "of the factory methods that the time package offers.");
		add_str(d, "type", "string");
		add_str(d, "format", "date-time");
	} else if (strcmp(name, MICROTIME_NAME) == 0) {
		add_str(d, "description", "MicroTime is version of Time with microsecond level "
					  "precision.");
		add_str(d, "type", "string");
		add_str(d, "format", "date-time");
	} else if (strcmp(name, QUANTITY_NAME) == 0) {
		add_str(d, "description",
			"Quantity is a fixed-point representation of a number. It provides convenient "
			"marshaling/unmarshaling in JSON and YAML, in addition to String() and "
			"AsInt64() accessors.\n\nThe serialization format is:\n\n```\n<quantity>        "
			"::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the \"\" "
			"case in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          "
			"::= <digit> | <digit><digits> <number>          ::= <digits> | <digits>.<digits> "
			"| <digits>. | .<digits> <sign>            ::= \"+\" | \"-\" <signedNumber>    ::= "
			"<number> | <sign><number> <suffix>          ::= <binarySI> | <decimalExponent> | "
			"<decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International "
			"System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n"
			"<decimalSI>       ::= m | \"\" | k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki "
			"but 1000 = 1k; I didn't choose the capitalization.)\n\n<decimalExponent> ::= "
			"\"e\" <signedNumber> | \"E\" <signedNumber>\n```\n\nNo matter which of the three "
			"exponent forms is used, no quantity may represent a number greater than 2^63-1 "
			"in magnitude, nor may it have more than 3 decimal places. Numbers larger or more "
			"precise will be capped or rounded up. (E.g.: 0.1m will rounded up to 1m.) This "
			"may be extended in the future if we require larger or smaller quantities.");
		if (g->v3) {
			cJSON *one = kc_json_new_array();
			cJSON *a = kc_json_new_object(), *b = kc_json_new_object();
			add_str(a, "type", "string");
			add_str(b, "type", "number");
			cJSON_AddItemToArray(one, a);
			cJSON_AddItemToArray(one, b);
			kc_json_add(d, "oneOf", one);
		} else {
			add_str(d, "type", "string");
		}
	} else if (strcmp(name, INTORSTRING_NAME) == 0) {
		add_str(d, "description", "IntOrString is a type that can hold an int32 or a string.  "
					  "When used in JSON or YAML marshalling and unmarshalling, it "
					  "produces or consumes the inner type.  This allows you to have, "
					  "for example, a JSON field that can accept a name or number.");
		add_str(d, "format", "int-or-string");
		if (g->v3) {
			cJSON *one = kc_json_new_array();
			cJSON *a = kc_json_new_object(), *b = kc_json_new_object();
			add_str(a, "type", "integer");
			add_str(b, "type", "string");
			cJSON_AddItemToArray(one, a);
			cJSON_AddItemToArray(one, b);
			kc_json_add(d, "oneOf", one);
		} else {
			add_str(d, "type", "string");
		}
	} else if (strcmp(name, RAWEXT_NAME) == 0) {
		add_str(d, "description", "RawExtension is used to hold extensions in external "
					  "versions: any JSON object, kept as it is.");
		add_str(d, "type", "object");
	} else if (strcmp(name, PATCH_NAME) == 0) {
		add_str(d, "description", "Patch is provided to give a concrete name and type to the "
					  "Kubernetes PATCH request body.");
		add_str(d, "type", "object");
	} else if (strcmp(name, WATCHEVENT_NAME) == 0) {
		add_str(d, "description", "Event represents a single event to a watched resource.");
		add_str(d, "type", "object");
		cJSON *req = kc_json_new_array();
		cJSON_AddItemToArray(req, kc_json_new_str("type"));
		cJSON_AddItemToArray(req, kc_json_new_str("object"));
		kc_json_add(d, "required", req);
		cJSON *props = kc_json_new_object();
		cJSON *obj = wrap_ref(g, ref(g, RAWEXT_NAME));
		add_str(obj, "description", "Object is:\n * If Type is Added or Modified: the new "
					    "state of the object.\n * If Type is Deleted: the state of "
					    "the object immediately before deletion.\n * If Type is "
					    "Error: *Status is recommended; other types may make sense\n"
					    "   depending on context.");
		kc_json_add(props, "object", obj);
		cJSON *ty = kc_json_new_object();
		add_str(ty, "type", "string");
		add_str(ty, "default", "");
		kc_json_add(props, "type", ty);
		kc_json_add(d, "properties", props);
		if (g->group)
			kc_json_add(d, "x-kubernetes-group-version-kind",
				    gvk_list(g->group, g->version, "WatchEvent"));
		add_component(g, name, d);
		add_builtin(g, RAWEXT_NAME);
		return;
	}
	add_component(g, name, d);
}

/* The schema of a value of type t (no description: the caller adds the field's). */
static cJSON *value_schema(struct gen *g, const struct sch_type *t)
{
	cJSON *o;
	switch (t->kind) {
	case SCH_STRING:
		o = kc_json_new_object();
		add_str(o, "type", "string");
		return o;
	case SCH_INT32:
	case SCH_INT64:
		o = kc_json_new_object();
		add_str(o, "type", "integer");
		add_str(o, "format", t->kind == SCH_INT32 ? "int32" : "int64");
		return o;
	case SCH_BOOL:
		o = kc_json_new_object();
		add_str(o, "type", "boolean");
		return o;
	case SCH_DOUBLE:
		o = kc_json_new_object();
		add_str(o, "type", "number");
		add_str(o, "format", "double");
		return o;
	case SCH_BYTES:
		o = kc_json_new_object();
		add_str(o, "type", "string");
		add_str(o, "format", "byte");
		return o;
	case SCH_FREE_OBJECT:
		o = kc_json_new_object();
		add_str(o, "type", "object");
		return o;
	case SCH_QUANTITY:
		add_builtin(g, QUANTITY_NAME);
		return ref(g, QUANTITY_NAME);
	case SCH_INT_OR_STRING:
		add_builtin(g, INTORSTRING_NAME);
		return ref(g, INTORSTRING_NAME);
	case SCH_TIME:
		add_builtin(g, TIME_NAME);
		return ref(g, TIME_NAME);
	case SCH_MICROTIME:
		add_builtin(g, MICROTIME_NAME);
		return ref(g, MICROTIME_NAME);
	case SCH_ANY:
		add_builtin(g, RAWEXT_NAME);
		return ref(g, RAWEXT_NAME);
	case SCH_ARRAY:
		o = kc_json_new_object();
		add_str(o, "type", "array");
		kc_json_add(o, "items", value_schema(g, t->elem));
		return o;
	case SCH_MAP:
		o = kc_json_new_object();
		add_str(o, "type", "object");
		kc_json_add(o, "additionalProperties", value_schema(g, t->elem));
		return o;
	case SCH_STRUCT:
		add_type(g, t);
		return ref(g, t->full_name);
	}
	return kc_json_new_object();
}

static cJSON *str_array(const char *const *v)
{
	cJSON *a = kc_json_new_array();
	for (size_t i = 0; v[i]; i++)
		cJSON_AddItemToArray(a, kc_json_new_str(v[i]));
	return a;
}

static cJSON *field_schema(struct gen *g, const struct sch_field *f)
{
	cJSON *p = value_schema(g, f->type);
	bool decorated = f->doc[0] || f->default_value || f->merge_key || f->patch_strategy ||
			 f->list_type != SCH_LIST_NONE;
	if (decorated)
		p = wrap_ref(g, p);
	if (f->doc[0])
		add_str(p, "description", f->doc);
	if (f->default_value)
		kc_json_add(p, "default", kc_json_dup(f->default_value));
	if (f->enum_values) {
		cJSON *target = p;
		if (f->type->kind == SCH_ARRAY)
			target = cJSON_GetObjectItemCaseSensitive(p, "items");
		if (target)
			kc_json_add(target, "enum", str_array(f->enum_values));
	}
	if (f->list_type != SCH_LIST_NONE) {
		static const char *const names[] = { "", "atomic", "set", "map" };
		add_str(p, "x-kubernetes-list-type", names[f->list_type]);
	}
	if (f->map_keys)
		kc_json_add(p, "x-kubernetes-list-map-keys", str_array(f->map_keys));
	if (f->merge_key)
		add_str(p, "x-kubernetes-patch-merge-key", f->merge_key);
	if (f->patch_strategy) {
		const char *st = f->patch_strategy == (SCH_PATCH_MERGE | SCH_PATCH_RETAIN_KEYS)
			? "merge,retainKeys"
			: f->patch_strategy == SCH_PATCH_MERGE ? "merge" : "retainKeys";
		add_str(p, "x-kubernetes-patch-strategy", st);
	}
	return p;
}

static cJSON *typemeta_prop(const char *which)
{
	cJSON *p = kc_json_new_object();
	if (strcmp(which, "apiVersion") == 0)
		add_str(p, "description", "APIVersion defines the versioned schema of this "
					  "representation of an object. Servers should convert "
					  "recognized schemas to the latest internal value, and may "
					  "reject unrecognized values. More info: https://git.k8s.io/"
					  "community/contributors/devel/sig-architecture/"
					  "api-conventions.md#resources");
	else
		add_str(p, "description", "Kind is a string value representing the REST resource "
					  "this object represents. Servers may infer this from the "
					  "endpoint the client submits requests to. Cannot be updated. In "
					  "CamelCase. More info: https://git.k8s.io/community/"
					  "contributors/devel/sig-architecture/"
					  "api-conventions.md#types-kinds");
	add_str(p, "type", "string");
	return p;
}

static void add_type(struct gen *g, const struct sch_type *t)
{
	if (!mark_seen(g, t->full_name))
		return;
	cJSON *d = kc_json_new_object();
	/* linked first so that recursion through the fields finds it seen */
	add_component(g, t->full_name, d);
	if (t->doc[0])
		add_str(d, "description", t->doc);
	add_str(d, "type", "object");
	cJSON *props = kc_json_new_object(), *req = kc_json_new_array();
	if (t->gvk) {
		if (!sch_field(t, "apiVersion"))
			kc_json_add(props, "apiVersion", typemeta_prop("apiVersion"));
		if (!sch_field(t, "kind"))
			kc_json_add(props, "kind", typemeta_prop("kind"));
	}
	for (size_t i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];
		kc_json_add(props, f->name, field_schema(g, f));
		if (f->required)
			cJSON_AddItemToArray(req, kc_json_new_str(f->name));
	}
	if (props->child)
		kc_json_add(d, "properties", props);
	else
		cJSON_Delete(props);
	if (req->child)
		kc_json_add(d, "required", req);
	else
		cJSON_Delete(req);
	if (t->gvk)
		kc_json_add(d, "x-kubernetes-group-version-kind",
			    gvk_list(t->gvk->group, t->gvk->version, t->gvk->kind));
}

/* The list type of a resource: the schema's "<Kind>List" when it describes one, else the
 * standard shape. Returns the component name (static or the type's). */
static const char *add_list_type(struct gen *g, const struct api_resource *r, char *buf,
				 size_t cap)
{
	snprintf(buf, cap, "%.*s%s", (int)(strlen(r->type->full_name) - strlen(r->kind)),
		 r->type->full_name, r->list_kind);
	const struct sch_type *lt = schema_type(g->s, buf);
	if (lt) {
		add_type(g, lt);
		cJSON *d = cJSON_GetObjectItemCaseSensitive(g->schemas, buf);
		if (d && !lt->gvk && !cJSON_GetObjectItemCaseSensitive(d, "x-kubernetes-group-"
									   "version-kind"))
			kc_json_add(d, "x-kubernetes-group-version-kind",
				    gvk_list(r->group, r->version, r->list_kind));
		return buf;
	}
	if (!mark_seen(g, buf))
		return buf;
	cJSON *d = kc_json_new_object();
	char *desc = xasprintf("%s is a list of %s objects.", r->list_kind, r->kind);
	add_str(d, "description", desc);
	free(desc);
	add_str(d, "type", "object");
	cJSON *req = kc_json_new_array();
	cJSON_AddItemToArray(req, kc_json_new_str("items"));
	kc_json_add(d, "required", req);
	cJSON *props = kc_json_new_object();
	kc_json_add(props, "apiVersion", typemeta_prop("apiVersion"));
	cJSON *items = kc_json_new_object();
	add_str(items, "description", "List of objects.");
	add_str(items, "type", "array");
	kc_json_add(items, "items", ref(g, r->type->full_name));
	kc_json_add(props, "items", items);
	kc_json_add(props, "kind", typemeta_prop("kind"));
	const struct sch_type *lm = schema_type(g->s, LISTMETA_NAME);
	if (lm) {
		cJSON *m = wrap_ref(g, ref(g, LISTMETA_NAME));
		add_str(m, "description", "Standard list metadata. More info: https://git.k8s.io/"
					  "community/contributors/devel/sig-architecture/"
					  "api-conventions.md#metadata");
		kc_json_add(props, "metadata", m);
	}
	kc_json_add(d, "properties", props);
	kc_json_add(d, "x-kubernetes-group-version-kind",
		    gvk_list(r->group, r->version, r->list_kind));
	add_component(g, buf, d);
	add_type(g, r->type);
	if (lm)
		add_type(g, lm);
	return buf;
}

/* ---------------------------------------------------------------------------------------------
 * paths */

enum param_set {
	P_NONE,
	P_LIST,
	P_WRITE,
	P_PATCH,
	P_DELETE,
	P_DELETECOLLECTION,
	P_LOG,
	P_CONNECT,
};

struct qparam {
	const char *name;
	const char *type;
	const char *doc;
};

static const struct qparam q_allow_bookmarks = {
	"allowWatchBookmarks", "boolean",
	"allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not "
	"implement bookmarks may ignore this flag and bookmarks are sent at the server's "
	"discretion. Clients should not assume bookmarks are returned at any specific interval."
};
static const struct qparam q_continue = {
	"continue", "string",
	"The continue option should be set when retrieving more results from the server. Its "
	"value is the continue token of the previous list response; the server answers with "
	"the next chunk, or 410 Gone when the token expired."
};
static const struct qparam q_field_selector = {
	"fieldSelector", "string",
	"A selector to restrict the list of returned objects by their fields. Defaults to "
	"everything."
};
static const struct qparam q_label_selector = {
	"labelSelector", "string",
	"A selector to restrict the list of returned objects by their labels. Defaults to "
	"everything."
};
static const struct qparam q_limit = {
	"limit", "integer",
	"limit is a maximum number of responses to return for a list call. If more items exist, "
	"the server will set the `continue` field on the list metadata to a value that can be "
	"used with the same initial query to retrieve the next set of results."
};
static const struct qparam q_resource_version = {
	"resourceVersion", "string",
	"resourceVersion sets a constraint on what resource versions a request may be served "
	"from. See https://kubernetes.io/docs/reference/using-api/api-concepts/"
	"#resource-versions for details.\n\nDefaults to unset"
};
static const struct qparam q_resource_version_match = {
	"resourceVersionMatch", "string",
	"resourceVersionMatch determines how resourceVersion is applied to list calls. It is "
	"highly recommended that resourceVersionMatch be set for list calls where "
	"resourceVersion is set See https://kubernetes.io/docs/reference/using-api/"
	"api-concepts/#resource-versions for details.\n\nDefaults to unset"
};
static const struct qparam q_send_initial_events = {
	"sendInitialEvents", "boolean",
	"`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch "
	"stream will begin with synthetic events to produce the current state of objects in the "
	"collection, followed by a \"Bookmark\" event."
};
static const struct qparam q_timeout_seconds = {
	"timeoutSeconds", "integer",
	"Timeout for the list/watch call. This limits the duration of the call, regardless of "
	"any activity or inactivity."
};
static const struct qparam q_watch = {
	"watch", "boolean",
	"Watch for changes to the described resources and return them as a stream of add, "
	"update, and remove notifications. Specify resourceVersion."
};
static const struct qparam q_dry_run = {
	"dryRun", "string",
	"When present, indicates that modifications should not be persisted. An invalid or "
	"unrecognized dryRun directive will result in an error response and no further "
	"processing of the request. Valid values are: - All: all dry run stages will be processed"
};
static const struct qparam q_field_manager = {
	"fieldManager", "string",
	"fieldManager is a name associated with the actor or entity that is making these "
	"changes. The value must be less than or 128 characters long, and only contain "
	"printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint."
};
static const struct qparam q_field_validation = {
	"fieldValidation", "string",
	"fieldValidation instructs the server on how to handle objects in the request "
	"(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: "
	"This will ignore any unknown fields that are silently dropped from the object, and will "
	"ignore all but the last duplicate field that the decoder encounters. This is the "
	"default behavior prior to v1.23. - Warn: This will send a warning via the standard "
	"warning response header for each unknown field that is dropped from the object, and "
	"for each duplicate field that is encountered. The request will still succeed if there "
	"are no other errors, and will only persist the last of any duplicate fields. This is "
	"the default in v1.23+ - Strict: This will fail the request with a BadRequest error if "
	"any unknown fields would be dropped from the object, or if any duplicate fields are "
	"present. The error returned from the server will contain all unknown and duplicate "
	"fields encountered."
};
static const struct qparam q_force = {
	"force", "boolean",
	"Force is going to \"force\" Apply requests. It means user will re-acquire conflicting "
	"fields owned by other people. Force flag must be unset for non-apply patch requests."
};
static const struct qparam q_grace = {
	"gracePeriodSeconds", "integer",
	"The duration in seconds before the object should be deleted. Value must be non-negative "
	"integer. The value zero indicates delete immediately. If this value is nil, the default "
	"grace period for the specified type will be used. Defaults to a per object value if "
	"not specified. zero means delete immediately."
};
static const struct qparam q_ignore_store_errors = {
	"ignoreStoreReadErrorWithClusterBreakingPotential", "boolean",
	"if set to true, it will trigger an unsafe deletion of the resource in case the normal "
	"deletion flow fails with a corrupt object error."
};
static const struct qparam q_orphan = {
	"orphanDependents", "boolean",
	"Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. "
	"Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will "
	"be added to/removed from the object's finalizers list. Either this field or "
	"PropagationPolicy may be set, but not both."
};
static const struct qparam q_propagation = {
	"propagationPolicy", "string",
	"Whether and how garbage collection will be performed. Either this field or "
	"OrphanDependents may be set, but not both. The default policy is decided by the "
	"existing finalizer set in the metadata.finalizers and the resource-specific default "
	"policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow "
	"the garbage collector to delete the dependents in the background; 'Foreground' - a "
	"cascading policy that deletes all dependents in the foreground."
};
static const struct qparam q_pretty = {
	"pretty", "string",
	"If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent "
	"indicates a browser or command-line HTTP tool (curl and wget)."
};
static const struct qparam q_log[] = {
	{ "container", "string",
	  "The container for which to stream logs. Defaults to only container if there is one "
	  "container in the pod." },
	{ "follow", "boolean", "Follow the log stream of the pod. Defaults to false." },
	{ "insecureSkipTLSVerifyBackend", "boolean",
	  "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the "
	  "validity of the serving certificate of the backend it is connecting to." },
	{ "limitBytes", "integer",
	  "If set, the number of bytes to read from the server before terminating the log "
	  "output." },
	{ "previous", "boolean",
	  "Return previous terminated container logs. Defaults to false." },
	{ "sinceSeconds", "integer",
	  "A relative time in seconds before the current time from which to show logs." },
	{ "tailLines", "integer",
	  "If set, the number of lines from the end of the logs to show." },
	{ "timestamps", "boolean",
	  "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log "
	  "output. Defaults to false." },
};
static const struct qparam q_connect[] = {
	{ "command", "string", "Command is the remote command to execute. argv array." },
	{ "container", "string", "Container in which to execute the command." },
	{ "stderr", "boolean", "Redirect the standard error stream of the pod for this call." },
	{ "stdin", "boolean", "Redirect the standard input stream of the pod for this call." },
	{ "stdout", "boolean", "Redirect the standard output stream of the pod for this call." },
	{ "tty", "boolean", "TTY if true indicates that a tty will be allocated for the call." },
};

static cJSON *param(const struct gen *g, const struct qparam *q, const char *in, bool required)
{
	cJSON *p = kc_json_new_object();
	add_str(p, "name", q->name);
	add_str(p, "in", in);
	add_str(p, "description", q->doc);
	if (required)
		kc_json_add(p, "required", kc_json_new_bool(true));
	if (g->v3) {
		cJSON *s = kc_json_new_object();
		add_str(s, "type", q->type);
		kc_json_add(s, "uniqueItems", kc_json_new_bool(true));
		kc_json_add(p, "schema", s);
	} else {
		add_str(p, "type", q->type);
		kc_json_add(p, "uniqueItems", kc_json_new_bool(true));
	}
	return p;
}

static void add_params(const struct gen *g, cJSON *arr, enum param_set set)
{
	static const struct qparam *const list[] = {
		&q_allow_bookmarks, &q_continue, &q_field_selector, &q_label_selector, &q_limit,
		&q_resource_version, &q_resource_version_match, &q_send_initial_events,
		&q_timeout_seconds, &q_watch,
	};
	static const struct qparam *const write[] = { &q_dry_run, &q_field_manager,
						      &q_field_validation };
	static const struct qparam *const patch[] = { &q_dry_run, &q_field_manager,
						      &q_field_validation, &q_force };
	static const struct qparam *const del[] = { &q_dry_run, &q_grace, &q_ignore_store_errors,
						    &q_orphan, &q_propagation };
	static const struct qparam *const delcol[] = {
		&q_continue, &q_dry_run, &q_field_selector, &q_grace, &q_ignore_store_errors,
		&q_label_selector, &q_limit, &q_orphan, &q_propagation, &q_resource_version,
		&q_resource_version_match, &q_send_initial_events, &q_timeout_seconds,
	};
#define ADD(a)                                                                         \
	for (size_t i = 0; i < sizeof(a) / sizeof((a)[0]); i++)                        \
		cJSON_AddItemToArray(arr, param(g, (a)[i], "query", false))
	switch (set) {
	case P_NONE:
		break;
	case P_LIST:
		ADD(list);
		break;
	case P_WRITE:
		ADD(write);
		break;
	case P_PATCH:
		ADD(patch);
		break;
	case P_DELETE:
		ADD(del);
		break;
	case P_DELETECOLLECTION:
		ADD(delcol);
		break;
	case P_LOG:
		for (size_t i = 0; i < sizeof q_log / sizeof q_log[0]; i++)
			cJSON_AddItemToArray(arr, param(g, &q_log[i], "query", false));
		break;
	case P_CONNECT:
		for (size_t i = 0; i < sizeof q_connect / sizeof q_connect[0]; i++)
			cJSON_AddItemToArray(arr, param(g, &q_connect[i], "query", false));
		break;
	}
#undef ADD
}

enum body_kind { B_NONE, B_OBJECT, B_PATCH, B_DELETE };

/* One operation. */
struct opspec {
	const char *method; /* "get", "post", ... */
	const char *id;
	const char *desc;
	const char *action;
	enum param_set params;
	enum body_kind body;
	const char *body_type;   /* component for B_OBJECT */
	const char *resp_type;   /* component, or NULL for a plain string (logs, connect) */
	const char *codes;       /* "200,201" */
	bool watch_stream;       /* response is a watch stream */
	const char *g, *v, *k;   /* x-kubernetes-group-version-kind */
};

static cJSON *content(const struct gen *g, const char *type, bool watch, bool text)
{
	static const char *const types[] = { "application/json", "application/yaml",
					     "application/json;stream=watch" };
	static const char *const any[] = { "*/*" };
	const char *const *t = types;
	size_t n = 2;
	if (text) {
		t = any;
		n = 1;
	} else if (watch || kc_has_suffix(type, "List")) {
		n = 3;
	}
	cJSON *c = kc_json_new_object();
	for (size_t i = 0; i < n; i++) {
		cJSON *m = kc_json_new_object();
		if (type) {
			kc_json_add(m, "schema", ref(g, type));
		} else {
			cJSON *s = kc_json_new_object();
			add_str(s, "type", "string");
			kc_json_add(m, "schema", s);
		}
		kc_json_add(c, t[i], m);
	}
	return c;
}

static cJSON *make_op(const struct gen *g, const struct opspec *o, const char *tag)
{
	cJSON *op = kc_json_new_object();
	cJSON *tags = kc_json_new_array();
	cJSON_AddItemToArray(tags, kc_json_new_str(tag));
	kc_json_add(op, "tags", tags);
	add_str(op, "description", o->desc);
	add_str(op, "operationId", o->id);
	cJSON *params = kc_json_new_array();
	add_params(g, params, o->params);
	const char *body_type = o->body == B_OBJECT ? o->body_type
		: o->body == B_PATCH			? PATCH_NAME
		: o->body == B_DELETE			? DELETEOPTIONS_NAME
							: NULL;
	if (o->body == B_DELETE && !schema_type(g->s, DELETEOPTIONS_NAME))
		body_type = NULL;
	if (body_type) {
		if (g->v3) {
			cJSON *rb = kc_json_new_object(), *c = kc_json_new_object();
			if (o->body == B_PATCH) {
				static const char *const pt[] = { "application/apply-patch+yaml",
								  "application/json-patch+json",
								  "application/merge-patch+json",
								  "application/strategic-merge-patch+json" };
				for (size_t i = 0; i < 4; i++) {
					cJSON *m = kc_json_new_object();
					kc_json_add(m, "schema", ref(g, body_type));
					kc_json_add(c, pt[i], m);
				}
			} else {
				cJSON *m = kc_json_new_object();
				kc_json_add(m, "schema", ref(g, body_type));
				kc_json_add(c, "*/*", m);
			}
			kc_json_add(rb, "content", c);
			if (o->body != B_DELETE)
				kc_json_add(rb, "required", kc_json_new_bool(true));
			kc_json_add(op, "requestBody", rb);
		} else {
			cJSON *p = kc_json_new_object();
			add_str(p, "name", "body");
			add_str(p, "in", "body");
			if (o->body != B_DELETE)
				kc_json_add(p, "required", kc_json_new_bool(true));
			kc_json_add(p, "schema", ref(g, body_type));
			cJSON_InsertItemInArray(params, 0, p);
		}
	}
	if (params->child)
		kc_json_add(op, "parameters", params);
	else
		cJSON_Delete(params);
	if (!g->v3) {
		cJSON *consumes = kc_json_new_array();
		if (o->body == B_PATCH) {
			cJSON_AddItemToArray(consumes, kc_json_new_str("application/json-patch+json"));
			cJSON_AddItemToArray(consumes, kc_json_new_str("application/merge-patch+json"));
			cJSON_AddItemToArray(consumes,
					     kc_json_new_str("application/strategic-merge-patch+json"));
			cJSON_AddItemToArray(consumes, kc_json_new_str("application/apply-patch+yaml"));
		} else {
			cJSON_AddItemToArray(consumes, kc_json_new_str("*/*"));
		}
		kc_json_add(op, "consumes", consumes);
		cJSON *produces = kc_json_new_array();
		if (!o->resp_type) {
			cJSON_AddItemToArray(produces, kc_json_new_str("*/*"));
		} else {
			cJSON_AddItemToArray(produces, kc_json_new_str("application/json"));
			cJSON_AddItemToArray(produces, kc_json_new_str("application/yaml"));
			if (o->watch_stream || kc_has_suffix(o->resp_type, "List"))
				cJSON_AddItemToArray(produces,
						     kc_json_new_str("application/json;stream=watch"));
		}
		kc_json_add(op, "produces", produces);
		cJSON *schemes = kc_json_new_array();
		cJSON_AddItemToArray(schemes, kc_json_new_str("https"));
		kc_json_add(op, "schemes", schemes);
	}
	cJSON *resp = kc_json_new_object();
	const char *c = o->codes;
	while (*c) {
		char code[4] = { c[0], c[1], c[2], '\0' };
		cJSON *r = kc_json_new_object();
		add_str(r, "description", strcmp(code, "200") == 0 ? "OK"
					  : strcmp(code, "201") == 0 ? "Created"
								     : "Accepted");
		if (g->v3) {
			kc_json_add(r, "content", content(g, o->resp_type, o->watch_stream,
							  !o->resp_type));
		} else if (o->resp_type) {
			kc_json_add(r, "schema", ref(g, o->resp_type));
		} else {
			cJSON *s = kc_json_new_object();
			add_str(s, "type", "string");
			kc_json_add(r, "schema", s);
		}
		kc_json_add(resp, code, r);
		c += 3;
		if (*c == ',')
			c++;
	}
	cJSON *unauth = kc_json_new_object();
	add_str(unauth, "description", "Unauthorized");
	kc_json_add(resp, "401", unauth);
	kc_json_add(op, "responses", resp);
	add_str(op, "x-kubernetes-action", o->action);
	kc_json_add(op, "x-kubernetes-group-version-kind", gvk_obj(o->g, o->v, o->k));
	return op;
}

/* The path object for 'path', created with its path-level parameters on first use. */
static cJSON *path_item(const struct gen *g, cJSON *paths, const char *path, const char *kind,
			bool ns, bool name)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, path);
	if (item)
		return item;
	item = kc_json_new_object();
	cJSON *params = kc_json_new_array();
	if (name) {
		char *doc = xasprintf("name of the %s", kind);
		const struct qparam q = { "name", "string", doc };
		cJSON_AddItemToArray(params, param(g, &q, "path", true));
		free(doc);
	}
	if (ns) {
		static const struct qparam q = {
			"namespace", "string", "object name and auth scope, such as for teams and projects"
		};
		cJSON_AddItemToArray(params, param(g, &q, "path", true));
	}
	cJSON_AddItemToArray(params, param(g, &q_pretty, "query", false));
	kc_json_add(item, "parameters", params);
	kc_json_add(paths, path, item);
	return item;
}

/* "apps" -> "Apps", "rbac.authorization.k8s.io" -> "RbacAuthorization", core -> "Core";
 * the version is appended with its first letter upper-cased. */
static void op_prefix(char *buf, size_t cap, const char *group, const char *version, bool tag)
{
	struct kc_str s = KC_STR_INIT;
	const char *gname = group[0] ? group : "core";
	size_t glen = strlen(gname);
	if (kc_has_suffix(gname, ".k8s.io"))
		glen -= 7;
	bool up = !tag;
	for (size_t i = 0; i < glen; i++) {
		char c = gname[i];
		if (c == '.' || c == '-') {
			up = true;
			continue;
		}
		if (up && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		up = false;
		kc_str_addc(&s, c);
	}
	if (tag) {
		kc_str_addc(&s, '_');
		kc_str_adds(&s, version);
	} else {
		kc_str_addc(&s, (char)(version[0] >= 'a' && version[0] <= 'z'
					       ? version[0] - 'a' + 'A'
					       : version[0]));
		kc_str_adds(&s, version + 1);
	}
	snprintf(buf, cap, "%s", s.buf);
	kc_str_free(&s);
}

static const struct sch_type *kind_named(const struct schema *s, const char *kind)
{
	for (size_t i = 0; i < schema_type_count(s); i++) {
		const struct sch_type *t = schema_type_at(s, i);
		if (t->gvk && strcmp(t->gvk->kind, kind) == 0)
			return t;
	}
	return NULL;
}

static void add_op(struct gen *g, cJSON *item, const struct opspec *o, const char *tag)
{
	kc_json_add(item, o->method, make_op(g, o, tag));
}

static void resource_paths(struct gen *g, cJSON *paths, const struct api_resource *r)
{
	char pfx[256], gp[128], tag[128], listbuf[512];
	if (r->group[0])
		snprintf(pfx, sizeof pfx, "/apis/%s/%s", r->group, r->version);
	else
		snprintf(pfx, sizeof pfx, "/api/%s", r->version);
	op_prefix(gp, sizeof gp, r->group, r->version, false);
	op_prefix(tag, sizeof tag, r->group, r->version, true);
	const char *K = r->kind, *ns = r->namespaced ? "Namespaced" : "";
	const char *kt = r->type->full_name;
	add_type(g, r->type);
	const char *lt = (r->verbs & (API_VERB_LIST | API_VERB_WATCH))
		? add_list_type(g, r, listbuf, sizeof listbuf)
		: NULL;
	bool have_status = schema_type(g->s, STATUS_NAME) != NULL;
	const char *status = have_status ? STATUS_NAME : NULL;
	if (have_status)
		add_type(g, schema_type(g->s, STATUS_NAME));
	if (r->verbs & (API_VERB_DELETE | API_VERB_DELETECOLLECTION) &&
	    schema_type(g->s, DELETEOPTIONS_NAME))
		add_type(g, schema_type(g->s, DELETEOPTIONS_NAME));
	if (r->verbs & API_VERB_PATCH)
		add_builtin(g, PATCH_NAME);
	if (r->verbs & API_VERB_WATCH)
		add_builtin(g, WATCHEVENT_NAME);

	char coll[600], itemp[700], buf[700];
	if (r->namespaced)
		snprintf(coll, sizeof coll, "%s/namespaces/{namespace}/%s", pfx, r->plural);
	else
		snprintf(coll, sizeof coll, "%s/%s", pfx, r->plural);
	snprintf(itemp, sizeof itemp, "%s/{name}", coll);
	char id[300], desc[300];
	struct opspec o;
#define OP(method_, action_, params_, body_, resp_, codes_, idfmt, descfmt, ...)             \
	do {                                                                           \
		snprintf(id, sizeof id, idfmt, __VA_ARGS__);                           \
		snprintf(desc, sizeof desc, descfmt, K);                               \
		o = (struct opspec){ .method = method_, .id = id, .desc = desc,        \
				     .action = action_, .params = params_,             \
				     .body = body_, .body_type = kt, .resp_type = resp_, \
				     .codes = codes_, .g = r->group, .v = r->version, .k = K }; \
	} while (0)

	if (r->verbs & (API_VERB_LIST | API_VERB_CREATE | API_VERB_DELETECOLLECTION)) {
		cJSON *it = path_item(g, paths, coll, K, r->namespaced, false);
		if (r->verbs & API_VERB_LIST) {
			OP("get", "list", P_LIST, B_NONE, lt, "200", "list%s%s%s",
			   "list or watch objects of kind %s", gp, ns, K);
			add_op(g, it, &o, tag);
		}
		if (r->verbs & API_VERB_CREATE) {
			OP("post", "post", P_WRITE, B_OBJECT, kt, "200,201,202", "create%s%s%s",
			   "create a %s", gp, ns, K);
			add_op(g, it, &o, tag);
		}
		if (r->verbs & API_VERB_DELETECOLLECTION) {
			OP("delete", "deletecollection", P_DELETECOLLECTION, B_DELETE, status, "200",
			   "delete%sCollection%s%s", "delete collection of %s", gp, ns, K);
			add_op(g, it, &o, tag);
		}
	}
	if (r->verbs & (API_VERB_GET | API_VERB_UPDATE | API_VERB_PATCH | API_VERB_DELETE)) {
		cJSON *it = path_item(g, paths, itemp, K, r->namespaced, true);
		if (r->verbs & API_VERB_GET) {
			OP("get", "get", P_NONE, B_NONE, kt, "200", "read%s%s%s",
			   "read the specified %s", gp, ns, K);
			add_op(g, it, &o, tag);
		}
		if (r->verbs & API_VERB_UPDATE) {
			OP("put", "put", P_WRITE, B_OBJECT, kt, "200,201", "replace%s%s%s",
			   "replace the specified %s", gp, ns, K);
			add_op(g, it, &o, tag);
		}
		if (r->verbs & API_VERB_PATCH) {
			OP("patch", "patch", P_PATCH, B_PATCH, kt, "200,201", "patch%s%s%s",
			   "partially update the specified %s", gp, ns, K);
			add_op(g, it, &o, tag);
		}
		if (r->verbs & API_VERB_DELETE) {
			OP("delete", "delete", P_DELETE, B_DELETE, kt, "200,202", "delete%s%s%s",
			   "delete a %s", gp, ns, K);
			add_op(g, it, &o, tag);
		}
	}
	if (r->namespaced && (r->verbs & API_VERB_LIST)) {
		snprintf(buf, sizeof buf, "%s/%s", pfx, r->plural);
		cJSON *it = path_item(g, paths, buf, K, false, false);
		OP("get", "list", P_LIST, B_NONE, lt, "200", "list%s%sForAllNamespaces",
		   "list or watch objects of kind %s", gp, K);
		add_op(g, it, &o, tag);
	}
	if (r->verbs & API_VERB_WATCH) {
		if (r->namespaced)
			snprintf(buf, sizeof buf, "%s/watch/namespaces/{namespace}/%s", pfx, r->plural);
		else
			snprintf(buf, sizeof buf, "%s/watch/%s", pfx, r->plural);
		cJSON *it = path_item(g, paths, buf, K, r->namespaced, false);
		OP("get", "watchlist", P_LIST, B_NONE, WATCHEVENT_NAME, "200", "watch%s%s%sList",
		   "watch individual changes to a list of %s. deprecated: use the 'watch' "
		   "parameter with a list operation instead.",
		   gp, ns, K);
		o.watch_stream = true;
		add_op(g, it, &o, tag);
		char item_watch[800];
		snprintf(item_watch, sizeof item_watch, "%s/{name}", buf);
		it = path_item(g, paths, item_watch, K, r->namespaced, true);
		OP("get", "watch", P_LIST, B_NONE, WATCHEVENT_NAME, "200", "watch%s%s%s",
		   "watch changes to an object of kind %s. deprecated: use the 'watch' parameter "
		   "with a list operation instead, filtering to a single item with the "
		   "'fieldSelector' parameter.",
		   gp, ns, K);
		o.watch_stream = true;
		add_op(g, it, &o, tag);
		if (r->namespaced) {
			snprintf(buf, sizeof buf, "%s/watch/%s", pfx, r->plural);
			it = path_item(g, paths, buf, K, false, false);
			OP("get", "watchlist", P_LIST, B_NONE, WATCHEVENT_NAME, "200",
			   "watch%s%sListForAllNamespaces",
			   "watch individual changes to a list of %s. deprecated: use the 'watch' "
			   "parameter with a list operation instead.",
			   gp, K);
			o.watch_stream = true;
			add_op(g, it, &o, tag);
		}
	}

	/* subresources */
	for (size_t i = 0; r->subresources[i]; i++) {
		const char *sub = r->subresources[i];
		char Sub[64];
		snprintf(Sub, sizeof Sub, "%s", sub);
		if (Sub[0] >= 'a' && Sub[0] <= 'z')
			Sub[0] = (char)(Sub[0] - 'a' + 'A');
		snprintf(buf, sizeof buf, "%s/%s", itemp, sub);
		cJSON *it = path_item(g, paths, buf, K, r->namespaced, true);
		if (strcmp(sub, "log") == 0) {
			OP("get", "get", P_LOG, B_NONE, NULL, "200", "read%s%s%sLog",
			   "read log of the specified %s", gp, ns, K);
			add_op(g, it, &o, tag);
			continue;
		}
		if (strcmp(sub, "exec") == 0 || strcmp(sub, "attach") == 0 ||
		    strcmp(sub, "portforward") == 0 || strcmp(sub, "proxy") == 0) {
			static const struct {
				const char *sub, *suffix;
			} opts[] = { { "exec", "ExecOptions" },
				     { "attach", "AttachOptions" },
				     { "portforward", "PortForwardOptions" },
				     { "proxy", "ProxyOptions" } };
			char okind[128];
			for (size_t k = 0; k < 4; k++)
				if (strcmp(opts[k].sub, sub) == 0)
					snprintf(okind, sizeof okind, "%s%s", K, opts[k].suffix);
			static const char *const methods[] = { "get", "post" };
			static const char *const Methods[] = { "Get", "Post" };
			for (size_t m = 0; m < 2; m++) {
				snprintf(id, sizeof id, "connect%s%s%s%s%s", gp, Methods[m], ns, K, Sub);
				snprintf(desc, sizeof desc, "connect %s requests to %s of %s",
					 Methods[m], sub, K);
				o = (struct opspec){ .method = methods[m], .id = id, .desc = desc,
						     .action = "connect",
						     .params = strcmp(sub, "proxy") == 0 ? P_NONE
											 : P_CONNECT,
						     .codes = "200", .g = r->group, .v = r->version,
						     .k = okind };
				add_op(g, it, &o, tag);
			}
			continue;
		}
		if (strcmp(sub, "binding") == 0 || strcmp(sub, "eviction") == 0 ||
		    strcmp(sub, "token") == 0) {
			const char *k = strcmp(sub, "binding") == 0	 ? "Binding"
					: strcmp(sub, "eviction") == 0 ? "Eviction"
								       : "TokenRequest";
			const struct sch_type *bt = kind_named(g->s, k);
			if (!bt)
				continue;
			add_type(g, bt);
			snprintf(id, sizeof id, "create%s%s%s%s", gp, ns, K, Sub);
			snprintf(desc, sizeof desc, "create %s of a %s", k, K);
			o = (struct opspec){ .method = "post", .id = id, .desc = desc,
					     .action = "post", .params = P_WRITE, .body = B_OBJECT,
					     .body_type = bt->full_name, .resp_type = bt->full_name,
					     .codes = "200,201,202", .g = bt->gvk->group,
					     .v = bt->gvk->version, .k = bt->gvk->kind };
			add_op(g, it, &o, tag);
			continue;
		}
		/* status, scale, finalize, ephemeralcontainers, ...: read/replace/patch of the
		 * object itself, or of a Scale */
		const char *stype = kt, *sg = r->group, *sv = r->version, *sk = K;
		if (strcmp(sub, "scale") == 0) {
			const struct sch_type *st = kind_named(g->s, "Scale");
			if (!st)
				continue;
			add_type(g, st);
			stype = st->full_name;
			sg = st->gvk->group;
			sv = st->gvk->version;
			sk = st->gvk->kind;
		}
		bool finalize = strcmp(sub, "finalize") == 0;
		static const struct {
			const char *method, *action, *verb, *what;
			unsigned need;
			enum param_set params;
			enum body_kind body;
			const char *codes;
		} sub_ops[] = {
			{ "get", "get", "read", "read %s of the specified %s", API_VERB_GET, P_NONE,
			  B_NONE, "200" },
			{ "put", "put", "replace", "replace %s of the specified %s", API_VERB_UPDATE,
			  P_WRITE, B_OBJECT, "200,201" },
			{ "patch", "patch", "patch", "partially update %s of the specified %s",
			  API_VERB_PATCH, P_PATCH, B_PATCH, "200,201" },
		};
		for (size_t k = 0; k < 3; k++) {
			if (!(r->verbs & sub_ops[k].need) || (finalize && k != 1))
				continue;
			snprintf(id, sizeof id, "%s%s%s%s%s", sub_ops[k].verb, gp, ns, K, Sub);
			snprintf(desc, sizeof desc, sub_ops[k].what, sub, K);
			o = (struct opspec){ .method = sub_ops[k].method, .id = id, .desc = desc,
					     .action = sub_ops[k].action, .params = sub_ops[k].params,
					     .body = sub_ops[k].body, .body_type = stype,
					     .resp_type = stype, .codes = sub_ops[k].codes, .g = sg,
					     .v = sv, .k = sk };
			if (sub_ops[k].body == B_PATCH)
				add_builtin(g, PATCH_NAME);
			add_op(g, it, &o, tag);
		}
	}
#undef OP
}

/* ---------------------------------------------------------------------------------------------
 * documents */

static void gen_init(struct gen *g, const struct schema *s, bool v3, cJSON *schemas)
{
	*g = (struct gen){ .s = s, .v3 = v3, .schemas = schemas,
			   .refbase = v3 ? "#/components/schemas/" : "#/definitions/" };
	kc_map_init(&g->seen, NULL);
}

static void hash_of(const char *body, size_t len, char out[HASH_LEN + 1])
{
	uint8_t d[KC_SHA256_LEN];
	static const char hex[] = "0123456789ABCDEF";
	kc_sha256(body, len, d);
	for (size_t i = 0; i < HASH_LEN / 2; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[HASH_LEN] = '\0';
}

static void add_doc(struct oa_state *st, const char *path, cJSON *tree,
		    char hash[HASH_LEN + 1])
{
	struct oa_doc *d = &st->docs[st->ndocs++];
	d->path = xstrdup(path);
	d->body = kc_json_print_canonical(tree, &d->len);
	char h[HASH_LEN + 1];
	hash_of(d->body, d->len, h);
	snprintf(d->etag, sizeof d->etag, "\"%s\"", h);
	if (hash)
		memcpy(hash, h, HASH_LEN + 1);
}

static cJSON *info(void)
{
	cJSON *i = kc_json_new_object();
	add_str(i, "title", "Kubernetes");
	add_str(i, "version", KC_KUBE_GIT_VERSION);
	return i;
}

/* The v3 document of one group-version. */
static cJSON *gv_doc(const struct schema *s, const char *group, const char *version)
{
	cJSON *doc = kc_json_new_object();
	add_str(doc, "openapi", "3.0.0");
	kc_json_add(doc, "info", info());
	cJSON *paths = kc_json_new_object();
	kc_json_add(doc, "paths", paths);
	cJSON *comps = kc_json_new_object(), *schemas = kc_json_new_object();
	kc_json_add(comps, "schemas", schemas);
	cJSON *sec = kc_json_new_object(), *bearer = kc_json_new_object();
	add_str(bearer, "type", "apiKey");
	add_str(bearer, "name", "authorization");
	add_str(bearer, "in", "header");
	kc_json_add(sec, "BearerToken", bearer);
	kc_json_add(comps, "securitySchemes", sec);
	kc_json_add(doc, "components", comps);
	struct gen g;
	gen_init(&g, s, true, schemas);
	g.group = group;
	g.version = version;
	for (size_t i = 0; i < schema_resource_count(s); i++) {
		const struct api_resource *r = schema_resource_at(s, i);
		if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0)
			resource_paths(&g, paths, r);
	}
	kc_map_free(&g.seen);
	return doc;
}

static cJSON *v2_doc(const struct schema *s)
{
	cJSON *doc = kc_json_new_object();
	add_str(doc, "swagger", "2.0");
	kc_json_add(doc, "info", info());
	cJSON *paths = kc_json_new_object(), *defs = kc_json_new_object();
	kc_json_add(doc, "paths", paths);
	kc_json_add(doc, "definitions", defs);
	cJSON *sec = kc_json_new_object(), *bearer = kc_json_new_object();
	add_str(bearer, "type", "apiKey");
	add_str(bearer, "name", "authorization");
	add_str(bearer, "in", "header");
	kc_json_add(sec, "BearerToken", bearer);
	kc_json_add(doc, "securityDefinitions", sec);
	cJSON *security = kc_json_new_array(), *req = kc_json_new_object();
	kc_json_add(req, "BearerToken", kc_json_new_array());
	cJSON_AddItemToArray(security, req);
	kc_json_add(doc, "security", security);
	struct gen g;
	gen_init(&g, s, false, defs);
	for (size_t i = 0; i < schema_resource_count(s); i++)
		resource_paths(&g, paths, schema_resource_at(s, i));
	/* every described type, reachable or not */
	for (size_t i = 0; i < schema_type_count(s); i++)
		add_type(&g, schema_type_at(s, i));
	kc_map_free(&g.seen);
	return doc;
}

/* Builds the v3 documents (every group-version, then the root that names their hashes). */
static void build_v3(struct oa_state *st)
{
	const struct schema *s = st->s;
	cJSON *root = kc_json_new_object(), *rpaths = kc_json_new_object();
	kc_json_add(root, "paths", rpaths);
	for (size_t i = 0; i < schema_resource_count(s); i++) {
		const struct api_resource *r = schema_resource_at(s, i);
		char key[300], path[320], hash[HASH_LEN + 1];
		snprintf(key, sizeof key, "%s%s", r->group[0] ? "apis/" : "api/", r->group_version);
		if (cJSON_GetObjectItemCaseSensitive(rpaths, key))
			continue;
		snprintf(path, sizeof path, "/openapi/v3/%s", key);
		cJSON *doc = gv_doc(s, r->group, r->version);
		add_doc(st, path, doc, hash);
		cJSON_Delete(doc);
		cJSON *e = kc_json_new_object();
		char *url = xasprintf("%s?hash=%s", path, hash);
		add_str(e, "serverRelativeURL", url);
		free(url);
		kc_json_add(rpaths, key, e);
	}
	add_doc(st, "/openapi/v3", root, NULL);
	cJSON_Delete(root);
}

struct openapi *openapi_new(const struct schema *s)
{
	struct openapi *o = xcalloc(1, sizeof *o);
	struct oa_state *st = xcalloc(1, sizeof *st);
	st->s = s;
	pthread_mutex_init(&st->mu, NULL);
	/* at most one document per resource, the root and v2: the array never moves */
	st->docs = xcalloc(schema_resource_count(s) + 2, sizeof *st->docs);
	o->st = st;
	return o;
}

void openapi_free(struct openapi *o)
{
	if (!o)
		return;
	struct oa_state *st = o->st;
	for (size_t i = 0; i < st->ndocs; i++) {
		free(st->docs[i].path);
		free(st->docs[i].body);
	}
	free(st->docs);
	pthread_mutex_destroy(&st->mu);
	free(st);
	free(o);
}

const char *openapi_doc(const struct openapi *o, const char *path, size_t *len,
			const char **etag)
{
	if (!o || !path)
		return NULL;
	size_t n = strcspn(path, "?");
	while (n > 1 && path[n - 1] == '/')
		n--;
	struct oa_state *st = o->st;
	const struct oa_doc *found = NULL;
	pthread_mutex_lock(&st->mu);
	if (n == 11 && memcmp(path, "/openapi/v2", 11) == 0) {
		if (!st->v2_built) {
			cJSON *v2 = v2_doc(st->s);
			add_doc(st, "/openapi/v2", v2, NULL);
			cJSON_Delete(v2);
			st->v2_built = true;
		}
	} else if (!st->v3_built && n >= 11 && memcmp(path, "/openapi/v3", 11) == 0 &&
		   (n == 11 || path[11] == '/')) {
		build_v3(st);
		st->v3_built = true;
	}
	for (size_t i = 0; i < st->ndocs && !found; i++)
		if (strlen(st->docs[i].path) == n && memcmp(st->docs[i].path, path, n) == 0)
			found = &st->docs[i];
	pthread_mutex_unlock(&st->mu);
	if (!found)
		return NULL;
	if (len)
		*len = found->len;
	if (etag)
		*etag = found->etag;
	return found->body;
}
