/* str.h - a growable, binary-safe byte/string buffer whose address stays put (git's strbuf
 * model): the struct is the handle, 'buf' may move but is never NULL and always NUL-terminated. */
#ifndef KC_LIB_STR_H
#define KC_LIB_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct kc_str {
	char *buf;    /* len bytes of content then '\0'; points at a shared "" while cap == 0 */
	size_t len;
	size_t cap;   /* allocated bytes, 0 when buf is the shared empty string */
};

#define KC_STR_INIT { .buf = kc_str_empty, .len = 0, .cap = 0 }
extern char kc_str_empty[1];

void kc_str_init(struct kc_str *s);
/* Releases the buffer and leaves s empty and reusable. */
void kc_str_free(struct kc_str *s);
/* Empties s without releasing memory. */
void kc_str_reset(struct kc_str *s);
/* Makes room for 'extra' more bytes (plus the NUL) without changing len. */
void kc_str_reserve(struct kc_str *s, size_t extra);
void kc_str_add(struct kc_str *s, const void *data, size_t n);
void kc_str_adds(struct kc_str *s, const char *cstr);
void kc_str_addc(struct kc_str *s, char c);
void kc_str_addf(struct kc_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kc_str_vaddf(struct kc_str *s, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Sets len (<= cap) after a caller wrote into the reserved space; re-terminates. */
void kc_str_setlen(struct kc_str *s, size_t len);
/* Removes the first n bytes (n <= len). */
void kc_str_consume(struct kc_str *s, size_t n);
/* Hands the heap buffer to the caller (free() it) and leaves s empty. Never returns NULL. */
char *kc_str_detach(struct kc_str *s, size_t *len_out);

bool kc_str_eq(const struct kc_str *s, const char *cstr);

/* Small helpers over plain C strings. */
bool kc_has_prefix(const char *s, const char *prefix);
bool kc_has_suffix(const char *s, const char *suffix);
/* Case-insensitive ASCII comparison of n bytes / whole strings. */
bool kc_strncaseeq(const char *a, const char *b, size_t n);
bool kc_strcaseeq(const char *a, const char *b);

/* Copies at most cap-1 bytes of s[0..n) into dst (cap >= 4) for an error message: control bytes
 * become '?', and a cut is marked with "...". Always NUL-terminates. */
void kc_excerpt(char *dst, size_t cap, const char *s, size_t n);

/* Parses a whole decimal string into *out within [min, max]. Returns 0 or -KC_EINVAL. */
int kc_parse_i64(const char *s, long long min, long long max, long long *out);

#endif
