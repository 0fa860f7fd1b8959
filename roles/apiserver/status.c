/* status.c - Kubernetes Status errors. */
#include "roles/apiserver/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/json.h"

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

int api_err(struct api_error *e, int code, const char *reason, const char *fmt, ...)
{
	e->code = code;
	copy(e->reason, sizeof e->reason, reason);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return -1;
}

void api_err_details(struct api_error *e, const char *group, const char *kind, const char *name)
{
	if (group)
		copy(e->group, sizeof e->group, group);
	if (kind)
		copy(e->kind, sizeof e->kind, kind);
	if (name)
		copy(e->name, sizeof e->name, name);
}

void api_err_cause(struct api_error *e, const char *reason, const char *field, const char *fmt, ...)
{
	if (e->ncauses >= API_MAX_CAUSES)
		return;
	struct api_cause *c = &e->causes[e->ncauses++];
	copy(c->reason, sizeof c->reason, reason);
	copy(c->field, sizeof c->field, field);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof c->message, fmt, ap);
	va_end(ap);
}

int api_err_invalid(struct api_error *e, const char *kind, const char *group, const char *name)
{
	/* 'Pod "web" is invalid: [a: x, b: y]' (brackets only for several causes). */
	char msg[sizeof e->message];
	size_t n = (size_t)snprintf(msg, sizeof msg, "%s \"%s\" is invalid: %s", kind, name,
				    e->ncauses > 1 ? "[" : "");
	for (unsigned i = 0; i < e->ncauses && n < sizeof msg; i++) {
		const struct api_cause *c = &e->causes[i];
		n += (size_t)snprintf(msg + n, sizeof msg - n, "%s%s%s%s", i ? ", " : "", c->field,
				      c->field[0] ? ": " : "", c->message);
	}
	if (e->ncauses > 1 && n < sizeof msg)
		snprintf(msg + n, sizeof msg - n, "]");
	char lower_kind[64];
	copy(lower_kind, sizeof lower_kind, kind);
	api_err(e, 422, "Invalid", "%s", msg);
	api_err_details(e, group, lower_kind, name);
	return -1;
}

void api_err_json(const struct api_error *e, struct kc_str *out)
{
	kc_str_adds(out, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
			 "\"status\":\"Failure\",\"message\":");
	kc_json_write_string(out, e->message);
	kc_str_adds(out, ",\"reason\":");
	kc_json_write_string(out, e->reason);
	bool details = e->name[0] || e->group[0] || e->kind[0] || e->ncauses || e->retry_after_s;
	if (details) {
		kc_str_adds(out, ",\"details\":{");
		const char *sep = "";
		if (e->name[0]) {
			kc_str_adds(out, "\"name\":");
			kc_json_write_string(out, e->name);
			sep = ",";
		}
		if (e->group[0]) {
			kc_str_addf(out, "%s\"group\":", sep);
			kc_json_write_string(out, e->group);
			sep = ",";
		}
		if (e->kind[0]) {
			kc_str_addf(out, "%s\"kind\":", sep);
			kc_json_write_string(out, e->kind);
			sep = ",";
		}
		if (e->ncauses) {
			kc_str_addf(out, "%s\"causes\":[", sep);
			for (unsigned i = 0; i < e->ncauses; i++) {
				const struct api_cause *c = &e->causes[i];
				kc_str_adds(out, i ? ",{\"reason\":" : "{\"reason\":");
				kc_json_write_string(out, c->reason);
				kc_str_adds(out, ",\"message\":");
				kc_json_write_string(out, c->message);
				if (c->field[0]) {
					kc_str_adds(out, ",\"field\":");
					kc_json_write_string(out, c->field);
				}
				kc_str_addc(out, '}');
			}
			kc_str_addc(out, ']');
			sep = ",";
		}
		if (e->retry_after_s)
			kc_str_addf(out, "%s\"retryAfterSeconds\":%u", sep, e->retry_after_s);
		kc_str_addc(out, '}');
	}
	kc_str_addf(out, ",\"code\":%d}", e->code);
}
