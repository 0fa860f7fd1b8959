/* err.h - kc's one error convention: functions return 0 or a negative code (-errno or -KC_E*),
 * and put a human-readable detail into a caller-provided, fixed-size struct kc_err. */
#ifndef KC_LIB_ERR_H
#define KC_LIB_ERR_H

#include <stddef.h>

/* kc's own codes start above the errno range so that -errno and -KC_E* never collide.
 * X(name, value, text) */
#define KC_ERR_TABLE(X)                                                            \
	X(KC_EINVAL, 1000, "invalid argument")                                     \
	X(KC_EPARSE, 1001, "malformed input")                                      \
	X(KC_ELIMIT, 1002, "limit exceeded")                                       \
	X(KC_ENOTFOUND, 1003, "not found")                                         \
	X(KC_EEXIST, 1004, "already exists")                                       \
	X(KC_ECONFLICT, 1005, "conflict")                                          \
	X(KC_EIO, 1006, "i/o error")                                               \
	X(KC_ETLS, 1007, "tls error")                                              \
	X(KC_ECRYPTO, 1008, "crypto error")                                        \
	X(KC_ECLOSED, 1009, "closed")                                              \
	X(KC_ETIMEDOUT, 1010, "timed out")                                         \
	X(KC_EUNAVAIL, 1011, "unavailable")                                        \
	X(KC_EPROTO, 1012, "protocol error")                                       \
	X(KC_EAGAIN, 1013, "try again")                                            \
	X(KC_ETOOBIG, 1014, "too large")                                           \
	X(KC_EUNSUPPORTED, 1015, "unsupported")

enum kc_errcode {
#define KC_ERR_ENUM(name, value, text) name = value,
	KC_ERR_TABLE(KC_ERR_ENUM)
#undef KC_ERR_ENUM
};

#define KC_ERRMSG_MAX 256

struct kc_err {
	int code;                  /* negative code, 0 when no error was recorded */
	char msg[KC_ERRMSG_MAX];   /* NUL-terminated detail, "" when none */
};

/* Returns a static description of a negative code: kc's own or strerror's. Thread-safe. */
const char *kc_strerror(int code);

/* Records 'code' and a formatted detail in err (err may be NULL) and returns 'code', so that
 * callers can write `return kc_err_set(err, -KC_EINVAL, "bad port %s", s);`. Never allocates. */
int kc_err_set(struct kc_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with formatted context ("context: old message"), keeping the
 * code, and returns the code. Truncates rather than allocating. */
int kc_err_wrap(struct kc_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets err to "no error". */
void kc_err_clear(struct kc_err *err);

#endif
