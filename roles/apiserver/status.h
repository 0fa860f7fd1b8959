/* status.h - Kubernetes Status errors: one struct every API server module fills, and its JSON.
 * {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":...,
 *  "reason":...,"details":{"name":...,"group":...,"kind":...,"causes":[...]},"code":N} */
#ifndef KC_ROLES_APISERVER_STATUS_H
#define KC_ROLES_APISERVER_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

#define API_MAX_CAUSES 16

struct api_cause {
	char reason[48];   /* "FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported", ... */
	char field[192];   /* "spec.containers[0].name" */
	char message[256];
};

struct api_error {
	int code;          /* HTTP status; 0 = no error */
	char reason[40];   /* "NotFound", "AlreadyExists", "Conflict", "Invalid", "BadRequest", ... */
	char message[768];
	/* details (all optional, "" when unset) */
	char name[256];
	char group[64];
	char kind[64];     /* the resource plural as Kubernetes puts it: "pods" */
	unsigned retry_after_s;
	struct api_cause causes[API_MAX_CAUSES];
	unsigned ncauses;
};

/* Sets code, reason and a formatted message (previous causes are kept). Returns -1 so callers
 * can `return api_err(e, 404, "NotFound", "pods \"%s\" not found", name);`. */
int api_err(struct api_error *e, int code, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Sets the details fields (any may be NULL). */
void api_err_details(struct api_error *e, const char *group, const char *kind, const char *name);
/* Appends a cause (silently dropped beyond API_MAX_CAUSES). */
void api_err_cause(struct api_error *e, const char *reason, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Turns the collected causes into a 422 Invalid error as Kubernetes words it:
 * 'Pod "web" is invalid: spec.containers[0].name: Required value'. */
int api_err_invalid(struct api_error *e, const char *kind, const char *group, const char *name);
/* Appends the Status JSON (one line, no newline). */
void api_err_json(const struct api_error *e, struct kc_str *out);

#endif
