/* kprint.h - kubectl's output formats: JSON (4-space indent, sorted keys), YAML (sorted keys),
 * server-side Tables in kubectl's tab-aligned layout, and JSONPath templates. */
#ifndef KC_ROLES_CLIENT_KPRINT_H
#define KC_ROLES_CLIENT_KPRINT_H

#include <stdbool.h>
#include <stdio.h>

#include <cJSON.h>

#include "lib/err.h"
#include "lib/str.h"

/* Sorts the members of every object in v by name, recursively (Go's map order in kubectl). */
void kprint_sort(cJSON *v);
/* Appends v as kubectl -o json prints it (4-space indent; call kprint_sort first). */
void kprint_json(const cJSON *v, struct kc_str *out);

/* A table being printed: columns are added once, then rows; kprint_table_flush aligns the
 * columns like Go's tabwriter (minwidth 6, padding 3) and writes everything. */
struct ktable {
	size_t ncols;
	struct kc_str cells; /* NUL-separated cells, row-major */
	size_t ncells;
};
void ktable_init(struct ktable *t, size_t ncols);
void ktable_add(struct ktable *t, const char *cell);
void ktable_flush(struct ktable *t, FILE *out);
void ktable_free(struct ktable *t);

/* Options for printing a meta.k8s.io Table. */
struct ktable_opts {
	bool wide;         /* priority > 0 columns too */
	bool namespace_col;/* -A: a NAMESPACE column first */
	bool show_labels;  /* a LABELS column last */
	bool no_headers;
	const char *name_prefix; /* "pod/" when several types are printed, else NULL */
};
/* Adds the header (unless no_headers or header already added) and rows of a Table object to t
 * (created with the right column count by kprint_table_columns). Returns the number of rows. */
size_t kprint_table_columns(const cJSON *table, const struct ktable_opts *o);
size_t kprint_table_rows(struct ktable *t, const cJSON *table, const struct ktable_opts *o,
			 bool header);

/* Evaluates a kubectl JSONPath template ("{.metadata.name}", "{range .items[*]}{.x}{\"\\n\"}
 * {end}", literals, [n], [*], [a:b], .., ['key'], ?(@.k=="v") filters) against v; appends the text. Returns
 * 0 or -KC_EINVAL with err ('error parsing jsonpath ...' / 'x is not found'). */
int kprint_jsonpath(const char *tmpl, const cJSON *v, struct kc_str *out, struct kc_err *err);

#endif
