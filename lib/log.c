/* DESIGN: formatting happens on the caller's stack (fixed buffers, no heap), and each record is
 * emitted with one write(2) so lines from different threads never interleave. Settings are
 * atomics, readable from every thread without locks. */
#include "lib/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"

#define LINE_MAX_BYTES 4096

static _Atomic int log_level = KC_LOG_INFO;
static _Atomic int log_format = KC_LOG_TEXT;
static _Atomic int log_fd = 2;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void kc_log_set_level(enum kc_log_level level)
{
	atomic_store(&log_level, (int)level);
}

void kc_log_set_format(enum kc_log_format format)
{
	atomic_store(&log_format, (int)format);
}

void kc_log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

bool kc_log_enabled(enum kc_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

int kc_log_parse_level(const char *s, enum kc_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum kc_log_level)i;
			return 0;
		}
	}
	return -KC_EINVAL;
}

int kc_log_parse_format(const char *s, enum kc_log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = KC_LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = KC_LOG_JSON;
	else
		return -KC_EINVAL;
	return 0;
}

/* Bounded appender: keeps one byte for the final newline and never overflows. */
struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + 1 >= o->size)
		return;
	size_t room = o->size - 1 - o->len;
	if (n > room)
		n = room;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_json_string(struct out *o, const char *s, size_t n)
{
	put(o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c == '\n') {
			put(o, "\\n", 2);
		} else if (c == '\t') {
			put(o, "\\t", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			put(o, esc, 6);
		} else {
			put(o, (const char *)&s[i], 1);
		}
	}
	put(o, "\"", 1);
}

/* logfmt: bare when the value is a plain token, else quoted with \" and \\ escaped. */
static void put_logfmt_value(struct out *o, const char *s, size_t n)
{
	bool bare = n > 0;
	for (size_t i = 0; i < n && bare; i++)
		if (s[i] == ' ' || s[i] == '"' || s[i] == '=' || (unsigned char)s[i] < 0x21)
			bare = false;
	if (bare)
		put(o, s, n);
	else
		put_json_string(o, s, n);
}

static bool key_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '.' || c == '-');
}

/* Length of the key if s starts with "key=", else 0. */
static size_t key_at(const char *s)
{
	size_t i = 0;
	while (key_char(s[i], i == 0))
		i++;
	return i > 0 && s[i] == '=' ? i : 0;
}

/* Finds the next " key=" token at or after s; returns its start (the key) or NULL. */
static const char *next_key(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((p == s || p[-1] == ' ') && key_at(p))
			return p;
	return NULL;
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' '))
		(*s)++, (*n)--;
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\n'))
		(*n)--;
}

unsigned long kc_log_render(char *buf, unsigned long size, enum kc_log_format format,
			    enum kc_log_level level, unsigned long long wall_ns, const char *src,
			    const char *formatted)
{
	struct out o = { .buf = buf, .size = size, .len = 0 };
	char ts[40];
	kc_format_rfc3339_ms(wall_ns, ts, sizeof ts);
	bool json = format == KC_LOG_JSON;
	const char *lvl = level_names[level <= KC_LOG_DEBUG ? level : KC_LOG_DEBUG];

	const char *first = next_key(formatted);
	const char *msg = formatted;
	size_t msglen = first ? (size_t)(first - formatted) : strlen(formatted);
	trim(&msg, &msglen);

	if (json) {
		puts_(&o, "{\"time\":\"");
		puts_(&o, ts);
		puts_(&o, "\",\"level\":\"");
		puts_(&o, lvl);
		puts_(&o, "\",\"msg\":");
		put_json_string(&o, msg, msglen);
	} else {
		puts_(&o, "time=");
		puts_(&o, ts);
		puts_(&o, " level=");
		puts_(&o, lvl);
		puts_(&o, " msg=");
		put_logfmt_value(&o, msg, msglen);
	}
	for (const char *k = first; k;) {
		size_t klen = key_at(k);
		const char *v = k + klen + 1;
		const char *nk = next_key(v);
		size_t vlen = nk ? (size_t)(nk - v) : strlen(v);
		trim(&v, &vlen);
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
			v++, vlen -= 2;
		if (json) {
			put(&o, ",", 1);
			put_json_string(&o, k, klen);
			put(&o, ":", 1);
			put_json_string(&o, v, vlen);
		} else {
			put(&o, " ", 1);
			put(&o, k, klen);
			put(&o, "=", 1);
			put_logfmt_value(&o, v, vlen);
		}
		k = nk;
	}
	if (src) {
		if (json) {
			puts_(&o, ",\"src\":");
			put_json_string(&o, src, strlen(src));
		} else {
			puts_(&o, " src=");
			puts_(&o, src);
		}
	}
	if (json)
		put(&o, "}", 1);
	/* put() always leaves room for this newline. */
	if (o.size) {
		o.buf[o.len++] = '\n';
	}
	return o.len;
}

void kc_log_write(enum kc_log_level level, const char *file, int line, const char *fmt, ...)
{
	char formatted[LINE_MAX_BYTES], out[LINE_MAX_BYTES + 512], src[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(formatted, sizeof formatted, fmt, ap);
	va_end(ap);
	const char *where = NULL;
	if (atomic_load(&log_level) >= KC_LOG_DEBUG) {
		const char *base = strrchr(file, '/');
		snprintf(src, sizeof src, "%s:%d", base ? base + 1 : file, line);
		where = src;
	}
	struct kc_clock *c = kc_clock_real();
	unsigned long n = kc_log_render(out, sizeof out, (enum kc_log_format)atomic_load(&log_format),
					level, c->wall_ns(c), where, formatted);
	(void)!write(atomic_load(&log_fd), out, n);
}

void kc_fatal(const char *fmt, ...)
{
	char formatted[LINE_MAX_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(formatted, sizeof formatted, fmt, ap);
	va_end(ap);
	kc_log_write(KC_LOG_ERROR, "fatal", 0, "%s", formatted);
	exit(1);
}

void kc_assert_fail(const char *expr, const char *file, int line)
{
	kc_log_write(KC_LOG_ERROR, file, line, "assertion failed expr=\"%s\" at=%s:%d", expr, file, line);
	abort();
}
