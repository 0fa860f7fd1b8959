/* base64.h - RFC 4648 base64 in the standard and URL-safe alphabets, with strict decoding. */
#ifndef KC_LIB_BASE64_H
#define KC_LIB_BASE64_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/str.h"

/* A mode is an alphabet, optionally combined with flags:
 *     KC_B64_STD | 0            "+/" with '=' padding (Kubernetes Secret data, PEM bodies)
 *     KC_B64_URL | KC_B64_NOPAD "-_" without padding (JWS/JWT segments) */
enum kc_b64_mode {
	KC_B64_STD = 0,
	KC_B64_URL = 1,
	/* Encode without '='; decode then rejects '=' and accepts any length but 4k+1. Without this
	 * flag the encoded length is a multiple of 4 and padding is required. */
	KC_B64_NOPAD = 2,
	/* Decode only: skip CR and LF anywhere, as Go's decoder does (so wrapped `base64` output
	 * works); any other whitespace is still an error. */
	KC_B64_SKIP_NEWLINES = 4,
};

/* Encoded length of n bytes in mode; aborts if it would overflow size_t. */
size_t kc_base64_encoded_len(size_t n, unsigned mode);

/* Upper bound of the decoded length of len encoded characters. */
size_t kc_base64_decoded_max(size_t len);

/* Appends the encoding of data[0..n) to out. */
void kc_base64_encode(struct kc_str *out, const void *data, size_t n, unsigned mode);

/* Appends the decoding of in[0..len) to out. Strict: every character must belong to the
 * mode's alphabet (the other alphabet's "+/" or "-_" are errors), padding must be exactly what
 * the length calls for, and the unused low bits of the last character must be zero, so every
 * byte string has exactly one accepted encoding. Empty input decodes to nothing. Callers limit
 * len (kc_base64_decoded_max bounds the growth of out). Returns 0 or -KC_EPARSE with the
 * offending offset in err; out is then restored to its length on entry. */
int kc_base64_decode(struct kc_str *out, const char *in, size_t len, unsigned mode,
		     struct kc_err *err);

#endif
