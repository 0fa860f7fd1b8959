/* schema.h - the one description of the types kc serves: every field of every kind with its
 * type, whether it is required, its strategic-merge-patch key and strategy, its default and a
 * short doc; plus the resource table (group, version, plural, scope, verbs, short names,
 * categories, subresources). Validation, strategic merge patch, discovery, Table output and the
 * OpenAPI documents are all derived from it.
 *
 * The description is written in a small text language (roles/apiserver/types/ *.kcs, grammar
 * below), embedded in the binary at build time and parsed once by schema_load at start-up into
 * an immutable graph that any thread may read.
 *
 * Grammar (line based; '#' starts a comment line; blank lines ignored; tokens split on blanks,
 * a double-quoted string is one token with \" and \\ escapes):
 *
 *   package <openapi-prefix>                 e.g. package io.k8s.api.core.v1
 *   group <group> <version>                  "core" for the legacy group: group core v1
 *   resource <plural> <Kind> <singular> namespaced|cluster [attr=value ...]
 *       attrs: short=po,pods  cat=all  verbs=<list>|all|readonly|create-only (default all:
 *       create,delete,deletecollection,get,list,patch,update,watch)  sub=status,scale,...
 *       path=/registry/services/specs (storage prefix, default /registry/<plural>)
 *       The resource's kind type is the type <Kind> of the current package.
 *   type <Name> ["doc"]                      starts a named object type in the current package;
 *                                            the field lines that follow, indented, belong to it
 *     <field> <typeexpr> [flag ...] ["doc"]
 *   kind <Kind> <group> <version>            gives type <Kind> (current package) a GVK without a
 *                                            resource (Status, Scale, DeleteOptions, ...)
 *
 *   typeexpr: string | int32 | int64 | bool | double | quantity | intOrString | time |
 *             microtime | bytes | any | object | []<typeexpr> | map[<typeexpr>] | <TypeName>
 *       time/microtime: RFC 3339 strings; quantity: a Kubernetes resource quantity (string or
 *       number); bytes: base64 string; any: any JSON value (RawExtension); object: a JSON object
 *       whose fields are not described (kept as they are); map[T]: string keys, T values.
 *       <TypeName>: a type of the current package, else the only type of that name anywhere,
 *       else written fully qualified (io.k8s.api.discovery.v1.EndpointPort).
 *   flags: required | key=<field> (x-kubernetes-patch-merge-key, implies strategy merge) |
 *          strategy=merge|retainKeys|merge,retainKeys | list=atomic|set|map |
 *          mapkeys=a,b | default=<json> (e.g. default="Always", default=30, default=true) |
 *          enum=A,B,C | readonly (set by the server only; ignored in requests) |
 *          proto=N | proto=M.N | ptr | duration   (the protobuf wire form, below)
 *
 *   Protobuf (application/vnd.kubernetes.protobuf request bodies, decoded by protobuf.h):
 *     proto=N    the field's number in the type's generated.proto message (k8s.io/api), 1 to
 *                2^29-1; no two fields of a type share one. Fields without proto= (apiVersion
 *                and kind, which travel in the runtime.Unknown envelope) have no wire form.
 *     proto=M.N  the field sits in a struct the Go type embeds inline (Volume's VolumeSource,
 *                Probe's ProbeHandler, ...): on the wire it is field N of the message held in
 *                field M of this type; JSON flattens it. M must not be used by a plain field.
 *     ptr        the Go field is a pointer scalar (*int32, *bool, *string...): protobuf sends it
 *                only when set, so a zero value is meaningful and kept; plain scalars are always
 *                sent and their zero value means "absent". Scalars, quantity and
 *                intOrString only.
 *     duration   a string field whose wire form is metav1.Duration (nanoseconds), rendered as
 *                a Go duration string ("1h0m0s").
 *   The wire type follows from the typeexpr: time/microtime are metav1.Time/MicroTime messages,
 *   quantity resource.Quantity, intOrString intstr.IntOrString, any runtime.RawExtension, object
 *   metav1.FieldsV1 (raw JSON), map[T] repeated {key=1, value=2} entries, and a list inside a
 *   map or list ([]string as a map value) a wrapper message {items=1}.
 *
 * Details the grammar leaves open, as schema.c reads them:
 *   - A line that starts with a blank is a field line (of the last `type`); any other line is a
 *     directive. Comment and blank lines do not end a type.
 *   - A line "#file <name>" at column 0 (the build emits one before each .kcs file) names the
 *     file for error messages and restarts the line count: errors read "core.kcs:12: ...".
 *   - A quoted string may also sit inside a token (default="a b" is one token); only a token
 *     that is entirely one quoted string is a doc, and it must be the last token. The only
 *     escapes are \" and \\.
 *   - `core` as a group (group, kind lines) means the legacy group "".
 *   - verbs=<list> is a comma-separated list of get,list,watch,create,update,patch,delete,
 *     deletecollection; readonly = get,list,watch; create-only = create.
 *   - Checked at load: key= and list= only on arrays; list=map needs mapkeys= and the reverse;
 *     key= and each mapkeys= name a field of the element type (when it is a type); enum= only
 *     on string or []string; strategy= only on arrays, maps and types; default= must fit the
 *     field's type; type names unique per package; resources unique per group-version; a
 *     type has at most one GVK.
 *   - A type may be referenced before (or in a file sorted before) its declaration.
 */
#ifndef KC_ROLES_APISERVER_SCHEMA_H
#define KC_ROLES_APISERVER_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "lib/err.h"

enum sch_kind {
	SCH_STRING,
	SCH_INT32,
	SCH_INT64,
	SCH_BOOL,
	SCH_DOUBLE,
	SCH_QUANTITY,
	SCH_INT_OR_STRING,
	SCH_TIME,
	SCH_MICROTIME,
	SCH_BYTES,
	SCH_ANY,
	SCH_FREE_OBJECT, /* 'object' */
	SCH_ARRAY,
	SCH_MAP,
	SCH_STRUCT, /* a named type with described fields */
};

/* Patch strategy bits (x-kubernetes-patch-strategy). */
#define SCH_PATCH_MERGE 1u
#define SCH_PATCH_RETAIN_KEYS 2u

enum sch_list_type { SCH_LIST_NONE, SCH_LIST_ATOMIC, SCH_LIST_SET, SCH_LIST_MAP };

struct sch_type;

struct sch_field {
	const char *name;
	const struct sch_type *type;
	const char *doc;          /* "" when none */
	bool required;
	bool readonly;
	const char *merge_key;    /* NULL unless key= */
	unsigned patch_strategy;  /* SCH_PATCH_* bits */
	enum sch_list_type list_type;
	const char *const *map_keys; /* NULL-terminated, NULL when none */
	const cJSON *default_value;  /* NULL when none */
	const char *const *enum_values; /* NULL-terminated, NULL when none */
	unsigned proto;       /* protobuf field number, 0 = none (proto=) */
	unsigned proto_embed; /* number of the inline-embedded message holding it, 0 = none */
	bool ptr;             /* Go pointer scalar: zero values are sent and kept */
	bool duration;        /* string carried as metav1.Duration */
};

struct sch_gvk {
	const char *group; /* "" for core */
	const char *version;
	const char *kind;
};

struct sch_type {
	enum sch_kind kind;
	/* SCH_STRUCT only: */
	const char *name;      /* short name, "PodSpec" */
	const char *full_name; /* "io.k8s.api.core.v1.PodSpec" (OpenAPI component name) */
	const char *doc;
	const struct sch_field *fields; /* in declaration order */
	size_t nfields;
	const struct sch_gvk *gvk;      /* top-level kinds only, else NULL */
	/* SCH_ARRAY / SCH_MAP only: */
	const struct sch_type *elem;
};

/* Verb bits of a resource. */
enum {
	API_VERB_GET = 1u << 0,
	API_VERB_LIST = 1u << 1,
	API_VERB_WATCH = 1u << 2,
	API_VERB_CREATE = 1u << 3,
	API_VERB_UPDATE = 1u << 4,
	API_VERB_PATCH = 1u << 5,
	API_VERB_DELETE = 1u << 6,
	API_VERB_DELETECOLLECTION = 1u << 7,
};
#define API_VERBS_ALL 0xffu

#define API_MAX_SHORT 4
#define API_MAX_CATEGORIES 2
#define API_MAX_SUBRESOURCES 6

struct api_resource {
	const char *group;      /* "" for core */
	const char *version;    /* "v1" */
	const char *group_version; /* "v1" or "apps/v1" (apiVersion of objects) */
	const char *plural;     /* "pods" */
	const char *singular;   /* "pod" */
	const char *kind;       /* "Pod" */
	const char *list_kind;  /* "PodList" */
	bool namespaced;
	unsigned verbs;         /* API_VERB_* */
	const char *short_names[API_MAX_SHORT + 1];     /* NULL-terminated */
	const char *categories[API_MAX_CATEGORIES + 1]; /* NULL-terminated */
	const char *subresources[API_MAX_SUBRESOURCES + 1]; /* "status", "scale", ...; NULL-term. */
	const char *storage_prefix; /* "/registry/pods" (no trailing '/') */
	const struct sch_type *type; /* the kind's SCH_STRUCT */
};

struct schema;

/* Parses the embedded description (or, for tests, 'text' when non-NULL) and resolves every
 * type reference. Returns 0 with *out (immutable; free with schema_free), or -KC_EPARSE with
 * err naming the file, line and problem (unknown type, duplicate field, bad flag...). */
int schema_load(const char *text, struct schema **out, struct kc_err *err);
void schema_free(struct schema *s);

/* The process-wide schema loaded from the embedded text (loaded on first use; aborts with a
 * message if the embedded text does not parse, which make test catches). Thread-safe. */
const struct schema *schema_builtin(void);

/* Resources in declaration order. */
size_t schema_resource_count(const struct schema *s);
const struct api_resource *schema_resource_at(const struct schema *s, size_t i);
/* Lookups; NULL when unknown. group "" for core. */
const struct api_resource *schema_resource(const struct schema *s, const char *group,
					   const char *version, const char *plural);
const struct api_resource *schema_resource_by_kind(const struct schema *s, const char *group,
						   const char *kind);
/* A named type by short name (unique) or full name; NULL when unknown. */
const struct sch_type *schema_type(const struct schema *s, const char *name);
/* All named types in declaration order. */
size_t schema_type_count(const struct schema *s);
const struct sch_type *schema_type_at(const struct schema *s, size_t i);

/* The field 'name' of struct type t, or NULL (t NULL or not SCH_STRUCT also give NULL). */
const struct sch_field *sch_field(const struct sch_type *t, const char *name);

/* Field validation of a decoded request body against t, as Kubernetes does per the
 * fieldValidation parameter. Checks JSON types (string where string, integer where int32/int64
 * and within range, quantity syntax, RFC 3339 times, base64 bytes) and collects unknown fields.
 * Type errors always fail: -KC_EINVAL with err like
 *   'spec.containers[0].ports[0].containerPort: expected an integer, got string'.
 * Unknown fields (paths like "spec.foo", "spec.containers[0].imagee", map values as
 * "metadata.labels[key]") are appended to 'unknown' (a cJSON array of strings; may be NULL to
 * ignore) and, when 'drop_unknown', removed from obj. Returns 0 when only unknown fields (if
 * any) were found. As Go's decoder does, null is accepted for any field (the zero value);
 * apiVersion and kind are accepted on every type with a GVK even when not described. Required
 * fields and enums are not checked here (that is validation's job). Nesting deeper than 128
 * levels gives -KC_ELIMIT. The body must be an object when t is a type. */
int sch_check(const struct sch_type *t, cJSON *obj, cJSON *unknown, bool drop_unknown,
	      struct kc_err *err);
/* At most this many unknown-field paths are appended to 'unknown' per sch_check call (all
 * unknown fields are still dropped when drop_unknown), so a hostile body cannot make the list,
 * and the warnings or error built from it, grow without bound. */
#define SCH_MAX_UNKNOWN 1000

/* Applies 'default=' values of t's fields recursively to obj (fields absent or null are set;
 * present ones are kept). Only descends into values present in obj (defaults just set
 * included); values of the wrong JSON type are left alone. */
void sch_apply_defaults(const struct sch_type *t, cJSON *obj);

#endif
