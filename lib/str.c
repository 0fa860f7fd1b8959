/* DESIGN: growable buffer with strbuf invariants: buf is never NULL, buf[len] == '\0', and an
 * empty buffer owns no memory. Not thread-safe; a buffer belongs to one thread at a time. */
#include "lib/str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"

char kc_str_empty[1];

void kc_str_init(struct kc_str *s)
{
	s->buf = kc_str_empty;
	s->len = 0;
	s->cap = 0;
}

void kc_str_free(struct kc_str *s)
{
	if (s->cap)
		free(s->buf);
	kc_str_init(s);
}

void kc_str_reset(struct kc_str *s)
{
	s->len = 0;
	if (s->cap)
		s->buf[0] = '\0';
}

void kc_str_reserve(struct kc_str *s, size_t extra)
{
	if (extra >= ((size_t)-1) - s->len - 1)
		abort();
	size_t need = s->len + extra + 1;
	if (need <= s->cap)
		return;
	size_t cap = kc_grow_cap(s->cap, need, 1);
	if (s->cap) {
		s->buf = xrealloc(s->buf, cap);
	} else {
		s->buf = xmalloc(cap);
		s->buf[0] = '\0';
	}
	s->cap = cap;
}

void kc_str_add(struct kc_str *s, const void *data, size_t n)
{
	if (!n)
		return;
	kc_str_reserve(s, n);
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

void kc_str_adds(struct kc_str *s, const char *cstr)
{
	kc_str_add(s, cstr, strlen(cstr));
}

void kc_str_addc(struct kc_str *s, char c)
{
	kc_str_reserve(s, 1);
	s->buf[s->len++] = c;
	s->buf[s->len] = '\0';
}

void kc_str_vaddf(struct kc_str *s, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	size_t room = s->cap ? s->cap - s->len : 0;
	int n = vsnprintf(room ? s->buf + s->len : NULL, room, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		kc_str_reserve(s, (size_t)n);
		vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
	}
	s->len += (size_t)n;
}

void kc_str_addf(struct kc_str *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kc_str_vaddf(s, fmt, ap);
	va_end(ap);
}

void kc_str_setlen(struct kc_str *s, size_t len)
{
	if (!s->cap) {
		if (len)
			abort();
		return;
	}
	if (len >= s->cap)
		abort();
	s->len = len;
	s->buf[len] = '\0';
}

void kc_str_consume(struct kc_str *s, size_t n)
{
	if (n >= s->len) {
		kc_str_reset(s);
		return;
	}
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
	s->buf[s->len] = '\0';
}

char *kc_str_detach(struct kc_str *s, size_t *len_out)
{
	char *p = s->cap ? s->buf : xstrdup("");
	if (len_out)
		*len_out = s->len;
	kc_str_init(s);
	return p;
}

bool kc_str_eq(const struct kc_str *s, const char *cstr)
{
	size_t n = strlen(cstr);
	return n == s->len && memcmp(s->buf, cstr, n) == 0;
}

bool kc_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool kc_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

bool kc_strncaseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
		if (!a[i])
			return true;
	}
	return true;
}

bool kc_strcaseeq(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && kc_strncaseeq(a, b, n);
}

void kc_excerpt(char *dst, size_t cap, const char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (w + 4 >= cap) {
			memcpy(dst + w, "...", 3);
			w += 3;
			break;
		}
		unsigned char c = (unsigned char)s[i];
		dst[w++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
	}
	dst[w] = '\0';
}

int kc_parse_i64(const char *s, long long min, long long max, long long *out)
{
	if (!s || !*s)
		return -KC_EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -KC_EINVAL;
	/* strtoll accepts leading white space (any of " \t\n\v\f\r") and '+'; a flag or field
	 * value should not: a digit or '-' first */
	if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return -KC_EINVAL;
	*out = v;
	return 0;
}
