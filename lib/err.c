/* DESIGN: the code-to-text table and the fixed-buffer helpers. Nothing here allocates, so the
 * error path works when memory is short. All functions are reentrant. */
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kc_strerror(int code)
{
	int c = code < 0 ? -code : code;
	switch (c) {
#define KC_ERR_CASE(name, value, text)                                                           \
	case value:                                                                                \
		return text;
		KC_ERR_TABLE(KC_ERR_CASE)
#undef KC_ERR_CASE
	case 0:
		return "success";
	default:
		break;
	}
	/* strerror() in musl and glibc returns static strings for valid errno values. */
	return c < 1000 ? strerror(c) : "unknown error";
}

int kc_err_set(struct kc_err *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return code;
}

int kc_err_wrap(struct kc_err *err, const char *fmt, ...)
{
	if (!err)
		return 0;
	char old[KC_ERRMSG_MAX];
	memcpy(old, err->msg[0] ? err->msg : kc_strerror(err->code), KC_ERRMSG_MAX - 1);
	old[KC_ERRMSG_MAX - 1] = '\0';
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n >= sizeof err->msg ? sizeof err->msg - 1 : (size_t)n;
	/* Append ": old" by hand: bounded, and no format-truncation games. */
	const char *parts[2] = { ": ", old };
	for (int i = 0; i < 2; i++)
		for (const char *p = parts[i]; *p && len < sizeof err->msg - 1; p++)
			err->msg[len++] = *p;
	err->msg[len] = '\0';
	return err->code;
}

void kc_err_clear(struct kc_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
