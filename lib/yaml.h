/* yaml.h - YAML streams to JSON trees the way Kubernetes reads them (go-yaml v2's YAML 1.1
 * scalars, then sigs.k8s.io/yaml's JSON conversion), and JSON trees back to kubectl-style YAML. */
#ifndef KC_LIB_YAML_H
#define KC_LIB_YAML_H

#include <stddef.h>

#include <cJSON.h>

#include "lib/err.h"
#include "lib/str.h"

#define KC_YAML_DEFAULT_MAX_BYTES ((size_t)3 << 20)
#define KC_YAML_DEFAULT_MAX_DEPTH 100u
#define KC_YAML_DEFAULT_MAX_NODES ((size_t)1000000)
#define KC_YAML_DEFAULT_MAX_EXPANDED_BYTES ((size_t)32 << 20)

/* Every field 0 means its default. Aliases are expanded into copies, so the node and byte
 * budgets count what is produced, alias copies included: that is what stops "billion laughs". */
struct kc_yaml_limits {
	size_t max_bytes;          /* input length */
	unsigned max_depth;        /* nested mappings/sequences; clamped to KC_JSON_DEPTH_CAP */
	size_t max_nodes;          /* values produced over the whole stream */
	size_t max_expanded_bytes; /* bytes of keys and scalar text produced over the whole stream */
};

/* Converts a YAML stream buf[0..len) (no NUL needed; UTF-8, or UTF-16 with a BOM) into a new
 * cJSON array holding one tree per document, in order; *docs owns it (cJSON_Delete). Documents
 * that are empty or null ("---" alone, comments only, "~") are skipped as kubectl skips them,
 * so the array may be empty. lim may be NULL.
 *
 * Values follow Kubernetes: quoted scalars and "!!str" are strings; plain scalars resolve as
 * go-yaml v2 does: y/Y/yes/Yes/YES/true/True/TRUE/on/On/ON and their negatives n/no/false/off
 * are booleans; ""/~/null/Null/NULL are null; integers take an optional sign, '_' separators
 * and 0x/0o/0b/0 (octal) prefixes; floats are [-+]?(.d+|d+(.d*)?)([eE][-+]?d+)?; timestamps
 * stay strings; everything else is a string. "!!int", "!!float", "!!bool", "!!null" force a
 * type ("!!int abc" is an error); "!!binary" is base64-decoded and must decode to UTF-8 text;
 * other tags are ignored. .inf/.nan (and numbers beyond the double range in hex) cannot be
 * JSON and are errors. Mapping keys become strings: scalars in their YAML spelling
 * resolved ("0x10" -> "16", "yes" -> "true", floats at float32 precision as Go's
 * FormatFloat(f, 'g', -1, 32): 1.5 -> "1.5", 1e7 -> "1e+07"); null, collection and
 * beyond-int64 keys are errors, and so is a key given twice in one mapping. Merge keys
 * ("<<: *base", "<<: [*a, *b]") copy members the mapping does not set itself; among several
 * merged maps the first one listed wins. Numbers become doubles (integers beyond 2^53 lose
 * precision, see KC_JSON_MAX_SAFE_INT); strings may not contain NUL ("\0" escapes).
 *
 * Errors: -KC_ETOOBIG (input over max_bytes), -KC_ELIMIT (depth, nodes or bytes), -ENOMEM
 * (libyaml out of memory), -KC_EPARSE otherwise; err holds "yaml: line L, column C: problem",
 * 1-based, columns in characters, with libyaml's context appended when it gives one. */
int kc_yaml_to_json(const char *buf, size_t len, const struct kc_yaml_limits *lim, cJSON **docs,
		    struct kc_err *err);

/* The same for a request body that must hold exactly one non-empty document: *out owns it.
 * Zero or several documents are -KC_EPARSE. */
int kc_yaml_to_json_one(const char *buf, size_t len, const struct kc_yaml_limits *lim,
			cJSON **out, struct kc_err *err);

/* Appends v as a YAML document in kubectl -o yaml's layout: block style, 2-space indent,
 * sequence items ("- ") at their parent key's indent, members in the tree's order, long
 * scalars folded at 80 columns, multi-line strings as literal blocks, empty collections as
 * {} and []. A string is left plain only when it would read back as the same string, so
 * "true", "123", "1e3", "null", "", "0x1F", "12:30" and "<<" are quoted; the output read back
 * with kc_yaml_to_json gives a tree kc_json_equal to v. Numbers print as kc_json_format_number.
 * Returns 0, or -KC_EINVAL when a string is not valid UTF-8 or v holds a cJSON_Raw node (out
 * may then hold a partial document). */
int kc_json_to_yaml(const cJSON *v, struct kc_str *out);

#endif
