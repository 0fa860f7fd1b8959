/* quantity.h - Kubernetes resource quantities ("500m", "1.5Gi", "1e3"): exact parsing as
 * k8s.io/apimachinery's resource.ParseQuantity does it, int64 value / milli-value, canonical
 * serialization, comparison and addition. Never uses floating point. */
#ifndef KC_LIB_QUANTITY_H
#define KC_LIB_QUANTITY_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "lib/err.h"

/* Longest input kc_quantity_parse accepts (Kubernetes has no limit of its own). */
#define KC_QUANTITY_MAX_INPUT 1024
/* Most significant decimal digits an exact value may carry (after stripping trailing zeros).
 * Kubernetes keeps arbitrary precision for decimal values beyond 2^63; kc rejects values that
 * need more than this many digits (-KC_ELIMIT) instead. */
#define KC_QUANTITY_MAX_DIGITS 36
/* Buffer size for kc_quantity_format, NUL included. */
#define KC_QUANTITY_STRMAX 64

enum kc_quantity_format {
	KC_QUANTITY_DECIMAL_SI = 0,   /* 12M, 500m, 3 */
	KC_QUANTITY_BINARY_SI,	      /* 12Mi */
	KC_QUANTITY_DECIMAL_EXPONENT, /* 12e6 */
};

/* A parsed quantity: the exact value mant * 10^exp, the suffix family it was written with
 * (which canonical serialization keeps), and, as Kubernetes does, the original text when it
 * was already in canonical form ("+1", "1e3", "01Ki" are re-emitted unchanged). A small
 * value type: copy it freely. */
struct kc_quantity {
	__int128 mant;
	int32_t exp;
	enum kc_quantity_format format;
	char orig[KC_QUANTITY_STRMAX]; /* "" when the canonical form must be computed */
};

/* Parses s exactly like resource.ParseQuantity: optional sign, digits with an optional
 * fraction, then a suffix (Ki Mi Gi Ti Pi Ei, n u m "" k M G T P E, or e/E<int>). Values are
 * rounded up (away from zero) to nano precision; BinarySI values are capped at 2^63-1; no
 * surrounding whitespace is allowed (see kc_quantity_from_json). Returns 0, or -KC_EINVAL with
 * Kubernetes' message ("quantities must match the regular expression '...'", "unable to parse
 * quantity's suffix", "unable to parse numeric part of quantity"), or -KC_ELIMIT for input
 * beyond KC_QUANTITY_MAX_INPUT bytes or a value beyond KC_QUANTITY_MAX_DIGITS digits or an
 * int32 exponent. *q is zero on error. */
int kc_quantity_parse(const char *s, struct kc_quantity *q, struct kc_err *err);

/* A quantity from a JSON value as Quantity.UnmarshalJSON reads it: a string (surrounding
 * whitespace trimmed) or a number (its shortest decimal text). Other types: -KC_EINVAL. */
int kc_quantity_from_json(const cJSON *v, struct kc_quantity *q, struct kc_err *err);

/* A quantity holding value * 10^exp10 in the given format (not cached: formats canonically). */
void kc_quantity_make(struct kc_quantity *q, int64_t value, int32_t exp10,
		      enum kc_quantity_format format);

/* Value() and MilliValue(): the value (times 1000 for milli) rounded up, away from zero, to
 * an integer. Returns 0, or -ERANGE when it does not fit an int64 (*out is then saturated to
 * INT64_MAX or INT64_MIN). */
int kc_quantity_value(const struct kc_quantity *q, int64_t *out);
int kc_quantity_milli(const struct kc_quantity *q, int64_t *out);

/* Writes the serialized form into buf (KC_QUANTITY_STRMAX bytes) and returns its length:
 * the original text when Kubernetes keeps it, else the canonical form ("1000m" -> "1",
 * "1.5Gi" -> "1536Mi", "0.1" -> "100m", "1.5e3" -> "1500", "12e6" -> "12e6"). A DecimalSI
 * value beyond the largest suffix is written with an exponent ("1e21") where Kubernetes would
 * drop the suffix and so change the value. */
size_t kc_quantity_format(const struct kc_quantity *q, char *buf);

/* -1, 0 or 1 as a < b, a == b, a > b by exact value (formats ignored). */
int kc_quantity_cmp(const struct kc_quantity *a, const struct kc_quantity *b);
int kc_quantity_sign(const struct kc_quantity *q);
bool kc_quantity_is_zero(const struct kc_quantity *q);

/* *out = a + b exactly, in a's format (out may alias a or b). Returns 0 or -ERANGE when the
 * sum needs more than KC_QUANTITY_MAX_DIGITS digits (out is then unchanged). */
int kc_quantity_add(const struct kc_quantity *a, const struct kc_quantity *b,
		    struct kc_quantity *out);

#endif
