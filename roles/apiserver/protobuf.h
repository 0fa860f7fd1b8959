/* protobuf.h - decodes Kubernetes protobuf request bodies (Content-Type
 * application/vnd.kubernetes.protobuf, sent by client-go's typed clients since 1.32) into the
 * same JSON object a JSON client would have sent, driven by the schema's proto=, ptr and
 * duration annotations (schema.h). Responses stay JSON: only request bodies are decoded.
 *
 * Wire form: the 4 bytes "k8s\0", then a runtime.Unknown message {typeMeta=1 {apiVersion=1,
 * kind=2}, raw=2, contentEncoding=3, contentType=4}; raw holds the object's own message. The
 * JSON produced follows Go's encoding/json of the decoded Go value, as far as it matters to a
 * Go JSON decoder: plain scalars whose value is zero are left out (protobuf always sends them,
 * absent and zero decode alike), pointer scalars are kept even when zero, nested messages are
 * kept as objects when sent (an empty one as {}), metav1.Time as RFC 3339 (null when empty),
 * MicroTime with 6 fraction digits, []byte as base64, IntOrString as a number or a string,
 * RawExtension and FieldsV1 as the JSON value they hold. apiVersion and kind come from the
 * envelope. Unknown field numbers are skipped, as protobuf does, and reported. */
#ifndef KC_ROLES_APISERVER_PROTOBUF_H
#define KC_ROLES_APISERVER_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "lib/err.h"
#include "roles/apiserver/schema.h"

#define KC_PB_CONTENT_TYPE "application/vnd.kubernetes.protobuf"
#define KC_PB_MAGIC "k8s\0"
#define KC_PB_MAGIC_LEN 4

/* Default bound on the JSON values (objects, arrays, scalars) one body may produce: what a
 * body of the default size could produce as JSON, so protobuf's denser encoding cannot make the
 * decoded tree larger than a JSON body could. */
#define KC_PB_MAX_ELEMENTS ((size_t)1 << 20)

struct kc_pb_opts {
	size_t max_bytes;    /* body length; 0: KC_JSON_DEFAULT_MAX_BYTES */
	unsigned max_depth;  /* nested JSON objects/arrays; 0: KC_JSON_DEFAULT_MAX_DEPTH, at most
			      * KC_JSON_DEPTH_CAP */
	size_t max_elements; /* 0: KC_PB_MAX_ELEMENTS */
	/* When non-NULL, the paths of unknown fields ("spec.#42", "metadata.labels") are appended
	 * as strings, at most SCH_MAX_UNKNOWN of them; *nunknown (when non-NULL) counts all. */
	cJSON *unknown;
	size_t *nunknown;
};

/* Decodes a whole protobuf body (magic + runtime.Unknown) of a kind s describes: a resource's
 * kind (by the envelope's group and kind), or a type with a `kind` line (Status, Scale,
 * DeleteOptions, TokenRequest, Eviction, ...; the meta.k8s.io kinds in any group version).
 * On success *out owns a JSON object with apiVersion and kind set. Errors (with *out NULL):
 * -KC_EPARSE malformed input (bad magic, truncated, bad wire type for the field, invalid
 * UTF-8, a string with a NUL byte, a time out of range), -KC_ETOOBIG over max_bytes,
 * -KC_ELIMIT over max_depth or max_elements, -KC_EUNSUPPORTED an unknown kind or a
 * contentEncoding (gzip) kc does not take. err names the field path. opts may be NULL. */
int kc_pb_decode_opts(const struct schema *s, const void *body, size_t len,
		      const struct kc_pb_opts *opts, cJSON **out, struct kc_err *err);

/* kc_pb_decode_opts with the default limits, not reporting unknown fields. */
int kc_pb_decode(const struct schema *s, const void *body, size_t len, cJSON **out,
		 struct kc_err *err);

/* Decodes one bare message (no magic, no envelope) of struct type t into a new JSON object,
 * same rules and errors as above. */
int kc_pb_decode_message(const struct sch_type *t, const void *buf, size_t len,
			 const struct kc_pb_opts *opts, cJSON **out, struct kc_err *err);

#endif
