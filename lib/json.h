/* json.h - JSON for untrusted input and deterministic output: a strict, limited parser into cJSON
 * trees, dotted-path access, compact and canonical printers, and deep equality. */
#ifndef KC_LIB_JSON_H
#define KC_LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "lib/err.h"
#include "lib/str.h"

#define KC_JSON_DEFAULT_MAX_BYTES ((size_t)3 << 20)
#define KC_JSON_DEFAULT_MAX_DEPTH 100u
/* Hard ceiling on nesting for every tree kc builds from input. The printers, kc_json_equal,
 * kc_json_dup, kc_json_to_yaml and cJSON_Delete recurse once per level (frames of at most ~200
 * bytes), so this keeps them well inside musl's 128 KiB default thread stack. Larger configured
 * depths are clamped to it. */
#define KC_JSON_DEPTH_CAP 256u

/* Exact integers: a cJSON number is a double, so only |v| <= 2^53 - 1 is represented exactly.
 * Integer getters reject anything outside this range instead of returning a rounded value. */
#define KC_JSON_MAX_SAFE_INT 9007199254740991LL

/* Enough for any number kc_json_format_number writes, NUL included. */
#define KC_JSON_NUMBUF 32

struct kc_json_limits {
	size_t max_bytes;   /* input length; 0 means KC_JSON_DEFAULT_MAX_BYTES */
	unsigned max_depth; /* nested arrays/objects (a scalar is depth 0); 0 means the default */
};

/* Parses exactly one RFC 8259 JSON text from buf[0..len) (no NUL needed) into a new tree.
 * Stricter than cJSON's own parser: rejects trailing data, invalid UTF-8 (raw or via lone
 * \u surrogates), raw control characters in strings, "\u0000" (cJSON strings are C strings),
 * non-RFC numbers ("01", "+1", ".5", "1."), numbers longer than 511 characters or beyond the
 * double range, duplicate object keys, and a leading byte-order mark. lim may be NULL.
 * On success *out owns the tree (free with cJSON_Delete). On error *out is NULL, err holds
 * "line L, column C: problem" (1-based; columns count UTF-8 characters) and the result is
 * -KC_ETOOBIG (input over max_bytes), -KC_ELIMIT (nesting over max_depth) or -KC_EPARSE.
 * Numbers become doubles: integers beyond 2^53 lose precision (see KC_JSON_MAX_SAFE_INT). */
int kc_json_parse(const char *buf, size_t len, const struct kc_json_limits *lim, cJSON **out,
		  struct kc_err *err);

/* Constructors that never return NULL (out of memory aborts). The caller owns the result
 * until it is linked into a tree. */
cJSON *kc_json_new_object(void);
cJSON *kc_json_new_array(void);
cJSON *kc_json_new_str(const char *s);
cJSON *kc_json_new_num(double v);
cJSON *kc_json_new_bool(bool v);
cJSON *kc_json_new_null(void);
/* Deep copy of v; never NULL. */
cJSON *kc_json_dup(const cJSON *v);
/* Appends item to obj under a copy of key, taking ownership of item. Does not look for an
 * existing member with that key: use kc_json_set to replace. */
void kc_json_add(cJSON *obj, const char *key, cJSON *item);

/* Paths. A path is a sequence of steps:
 *     name        a member name, up to the next '.' or '['; only as the first step or after '.'
 *     [text]      a member name that may contain '.' or '/': "metadata.labels[app.kubernetes.io/name]";
 *                 when text is all digits it is an array index on arrays and a member name on
 *                 objects ("spec.containers[0].image", "data[0]" on {"data":{"0":..}})
 *     ["text"]    a member name that may contain ']' or be all digits, with \" and \\ escapes
 * Steps other than the first are introduced by '.' (name) or directly by '['. An empty path,
 * an empty name, or a '[' without its ']' is malformed. Paths are trusted program text, not
 * input: their length is not limited, and lookups are linear in the number of members. */

/* Returns the node at path inside root (borrowed; valid while the tree is unchanged), or NULL
 * when absent or the path is malformed. */
cJSON *kc_json_get(const cJSON *root, const char *path);
/* The string at path, or NULL when absent or not a string. Borrowed. */
const char *kc_json_get_str(const cJSON *root, const char *path);
/* Stores the integer at path in *out. Returns 0, -KC_ENOTFOUND when absent (or null), or
 * -KC_EINVAL when the value is not a number, not integral, or outside +-KC_JSON_MAX_SAFE_INT. */
int kc_json_get_i64(const cJSON *root, const char *path, long long *out);
/* The same check for a node already in hand: 0 or -KC_EINVAL. */
int kc_json_as_i64(const cJSON *v, long long *out);
/* The boolean at path, or def when absent or not a boolean. */
bool kc_json_get_bool(const cJSON *root, const char *path, bool def);

/* Stores value at path, taking ownership of it in every case (it is freed on error). Missing
 * intermediate steps are created: an array before a "[digits]" step, an object otherwise. An
 * existing member is replaced in place (keeping member order); an array index equal to the
 * array's size appends. Returns 0, -KC_EINVAL (malformed path, root not an object/array),
 * -KC_ECONFLICT (a step crosses a scalar, or names a member on an array), or -KC_ENOTFOUND
 * (array index beyond the end). */
int kc_json_set(cJSON *root, const char *path, cJSON *value);
int kc_json_set_str(cJSON *root, const char *path, const char *s);
/* Also -KC_EINVAL when v is outside +-KC_JSON_MAX_SAFE_INT. */
int kc_json_set_i64(cJSON *root, const char *path, long long v);
int kc_json_set_bool(cJSON *root, const char *path, bool v);
/* Removes and frees the node at path. Returns 0, -KC_ENOTFOUND, or -KC_EINVAL (malformed). */
int kc_json_delete(cJSON *root, const char *path);

/* Output. Both printers write compact JSON (no whitespace), escape '"', '\\' and control
 * characters (short escapes where JSON has them, \u00XX otherwise), keep other UTF-8 as is and
 * replace invalid UTF-8 with U+FFFD, so the output is always valid JSON. Numbers follow
 * kc_json_format_number. cJSON_Raw nodes are copied verbatim; invalid nodes print as null.
 * The canonical form also orders object members by name in byte order (members with equal
 * names keep their relative order), so equal trees with equal member sets give equal bytes.
 * Recursion is one level per nesting level (see KC_JSON_DEPTH_CAP). */

/* Returns a NUL-terminated heap string (free with free()); *len (may be NULL) gets its length. */
char *kc_json_print(const cJSON *v, size_t *len);
char *kc_json_print_canonical(const cJSON *v, size_t *len);
/* Append to out instead. */
void kc_json_write(struct kc_str *out, const cJSON *v);
void kc_json_write_canonical(struct kc_str *out, const cJSON *v);
/* Appends s as a quoted JSON string. */
void kc_json_write_string(struct kc_str *out, const char *s);

/* Writes v into buf (KC_JSON_NUMBUF bytes) and returns the length: integral values within
 * +-2^53 as plain integers ("-0" as "0"), others in the shortest "%.{15,16,17}g" form that
 * reads back to the same double ("0.1", "1e+100"); NaN and infinities, which JSON cannot
 * hold, as "null". */
size_t kc_json_format_number(double v, char *buf);

/* Deep equality: same types, numbers equal as doubles, strings byte-equal, arrays element-wise
 * in order, objects with the same member names and equal values regardless of member order
 * (members sharing a name are matched in their relative order). */
bool kc_json_equal(const cJSON *a, const cJSON *b);

/* Whether s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates, or code
 * points above U+10FFFF). */
bool kc_json_valid_utf8(const char *s, size_t len);

#endif
