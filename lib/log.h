/* log.h - leveled logging in logfmt ("key=value") or JSON lines, on stderr by default.
 *
 * A call is a message followed by key=value fields in one printf format:
 *     log_info("listening addr=%s port=%d", addr, port);
 * The message is the text before the first " key=" token; a value runs until the next
 * " key=" token, so values may contain spaces (err=%s with a strerror text works). The level
 * is checked before any argument is formatted. */
#ifndef KC_LIB_LOG_H
#define KC_LIB_LOG_H

#include <stdbool.h>

enum kc_log_level { KC_LOG_ERROR = 0, KC_LOG_WARN, KC_LOG_INFO, KC_LOG_DEBUG };
enum kc_log_format { KC_LOG_TEXT = 0, KC_LOG_JSON };

/* Process-wide settings; safe to call from any thread (atomics). */
void kc_log_set_level(enum kc_log_level level);
void kc_log_set_format(enum kc_log_format format);
/* Redirects output to fd (default 2). */
void kc_log_set_fd(int fd);
bool kc_log_enabled(enum kc_log_level level);
/* Parses "error|warn|info|debug" / "text|json"; returns 0 or -KC_EINVAL. */
int kc_log_parse_level(const char *s, enum kc_log_level *out);
int kc_log_parse_format(const char *s, enum kc_log_format *out);

/* Writes one line atomically (a single write(2)). Use the macros below instead. */
void kc_log_write(enum kc_log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Renders one record into buf (for tests): returns the length written, newline included. */
unsigned long kc_log_render(char *buf, unsigned long size, enum kc_log_format format,
			    enum kc_log_level level, unsigned long long wall_ns, const char *src,
			    const char *formatted);

#define KC_LOG_AT(level, ...)                                                                    \
	do {                                                                                       \
		if (kc_log_enabled(level))                                                         \
			kc_log_write(level, __FILE__, __LINE__, __VA_ARGS__);                      \
	} while (0)

#define log_error(...) KC_LOG_AT(KC_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) KC_LOG_AT(KC_LOG_WARN, __VA_ARGS__)
#define log_info(...) KC_LOG_AT(KC_LOG_INFO, __VA_ARGS__)
#define log_debug(...) KC_LOG_AT(KC_LOG_DEBUG, __VA_ARGS__)

/* Logs at error level and exits with status 1: for broken invariants at start-up only. */
void kc_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Invariant check that stays on in release builds. */
#define kc_assert(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			kc_assert_fail(#cond, __FILE__, __LINE__);                                 \
	} while (0)
void kc_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#endif
