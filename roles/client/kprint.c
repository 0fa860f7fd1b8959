/* kprint.c - kubectl's output formats. */
#include "roles/client/kprint.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"

/* ---- JSON ---- */

static int member_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string, y->string);
}

void kprint_sort(cJSON *v)
{
	if (!v)
		return;
	if (cJSON_IsObject(v)) {
		size_t n = 0;
		for (cJSON *c = v->child; c; c = c->next)
			n++;
		if (n > 1) {
			cJSON **a = xmalloc(n * sizeof *a);
			size_t i = 0;
			for (cJSON *c = v->child; c; c = c->next)
				a[i++] = c;
			qsort(a, n, sizeof *a, member_cmp);
			for (i = 0; i < n; i++) {
				a[i]->prev = i ? a[i - 1] : a[n - 1]; /* cJSON: child->prev is the tail */
				a[i]->next = i + 1 < n ? a[i + 1] : NULL;
			}
			v->child = a[0];
			free(a);
		}
	}
	if (cJSON_IsObject(v) || cJSON_IsArray(v))
		for (cJSON *c = v->child; c; c = c->next)
			kprint_sort(c);
}

static void indent(struct kc_str *out, int depth)
{
	for (int i = 0; i < depth * 4; i++)
		kc_str_addc(out, ' ');
}

static void json_rec(const cJSON *v, struct kc_str *out, int depth)
{
	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		bool obj = cJSON_IsObject(v);
		if (!v->child) {
			kc_str_adds(out, obj ? "{}" : "[]");
			return;
		}
		kc_str_adds(out, obj ? "{\n" : "[\n");
		for (const cJSON *c = v->child; c; c = c->next) {
			indent(out, depth + 1);
			if (obj) {
				kc_json_write_string(out, c->string);
				kc_str_adds(out, ": ");
			}
			json_rec(c, out, depth + 1);
			kc_str_adds(out, c->next ? ",\n" : "\n");
		}
		indent(out, depth);
		kc_str_addc(out, obj ? '}' : ']');
		return;
	}
	kc_json_write(out, v);
}

void kprint_json(const cJSON *v, struct kc_str *out)
{
	json_rec(v, out, 0);
	kc_str_addc(out, '\n');
}

/* ---- tables ---- */

void ktable_init(struct ktable *t, size_t ncols)
{
	memset(t, 0, sizeof *t);
	t->ncols = ncols ? ncols : 1;
	kc_str_init(&t->cells);
}

void ktable_add(struct ktable *t, const char *cell)
{
	kc_str_adds(&t->cells, cell);
	kc_str_addc(&t->cells, '\0');
	t->ncells++;
}

/* Display width: UTF-8 characters, not bytes. */
static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

void ktable_flush(struct ktable *t, FILE *out)
{
	size_t *w = xcalloc(t->ncols, sizeof *w);
	const char *p = t->cells.buf;
	for (size_t i = 0; i < t->ncells; i++) {
		size_t c = i % t->ncols, len = width(p);
		if (len > w[c])
			w[c] = len;
		p += strlen(p) + 1;
	}
	p = t->cells.buf;
	for (size_t i = 0; i < t->ncells; i++) {
		size_t c = i % t->ncols;
		fputs(p, out);
		if (c + 1 == t->ncols || i + 1 == t->ncells) {
			fputc('\n', out);
		} else {
			size_t cw = w[c] + 3 < 6 ? 6 : w[c] + 3;
			for (size_t k = width(p); k < cw; k++)
				fputc(' ', out);
		}
		p += strlen(p) + 1;
	}
	free(w);
	kc_str_reset(&t->cells);
	t->ncells = 0;
}

void ktable_free(struct ktable *t)
{
	kc_str_free(&t->cells);
}

static bool col_shown(const cJSON *col, const struct ktable_opts *o)
{
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(col, "priority");
	return o->wide || !cJSON_IsNumber(pr) || pr->valuedouble <= 0;
}

size_t kprint_table_columns(const cJSON *table, const struct ktable_opts *o)
{
	size_t n = o->namespace_col + o->show_labels;
	const cJSON *col;
	cJSON_ArrayForEach(col, cJSON_GetObjectItemCaseSensitive(table, "columnDefinitions"))
		n += col_shown(col, o);
	return n;
}

static void cell_text(const cJSON *c, char *buf, size_t cap)
{
	if (cJSON_IsString(c))
		snprintf(buf, cap, "%s", c->valuestring);
	else if (cJSON_IsNumber(c))
		kc_json_format_number(c->valuedouble, buf);
	else if (cJSON_IsBool(c))
		snprintf(buf, cap, "%s", cJSON_IsTrue(c) ? "true" : "false");
	else
		snprintf(buf, cap, "<none>");
}

size_t kprint_table_rows(struct ktable *t, const cJSON *table, const struct ktable_opts *o,
			 bool header)
{
	const cJSON *cols = cJSON_GetObjectItemCaseSensitive(table, "columnDefinitions");
	const cJSON *col;
	if (header && !o->no_headers) {
		if (o->namespace_col)
			ktable_add(t, "NAMESPACE");
		cJSON_ArrayForEach(col, cols)
		{
			if (!col_shown(col, o))
				continue;
			const char *name = kc_json_get_str(col, "name");
			char up[128];
			size_t i = 0;
			for (; name && name[i] && i + 1 < sizeof up; i++)
				up[i] = (char)toupper((unsigned char)name[i]);
			up[i] = '\0';
			ktable_add(t, up);
		}
		if (o->show_labels)
			ktable_add(t, "LABELS");
	}
	size_t nrows = 0;
	const cJSON *row;
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(table, "rows"))
	{
		const cJSON *meta = kc_json_get(row, "object.metadata");
		if (o->namespace_col) {
			const char *ns = kc_json_get_str(meta, "namespace");
			ktable_add(t, ns ? ns : "");
		}
		const cJSON *cells = cJSON_GetObjectItemCaseSensitive(row, "cells");
		size_t i = 0;
		cJSON_ArrayForEach(col, cols)
		{
			const cJSON *c = cJSON_GetArrayItem(cells, (int)i++);
			if (!col_shown(col, o))
				continue;
			char buf[4096];
			cell_text(c, buf, sizeof buf);
			const char *fmt = kc_json_get_str(col, "format");
			if (o->name_prefix && fmt && strcmp(fmt, "name") == 0) {
				char pre[4200];
				snprintf(pre, sizeof pre, "%s%s", o->name_prefix, buf);
				ktable_add(t, pre);
			} else {
				ktable_add(t, buf[0] ? buf : "");
			}
		}
		if (o->show_labels) {
			struct kc_str l = KC_STR_INIT;
			const cJSON *lab;
			cJSON_ArrayForEach(lab, cJSON_GetObjectItemCaseSensitive(meta, "labels"))
			{
				if (!cJSON_IsString(lab))
					continue;
				kc_str_addf(&l, "%s%s=%s", l.len ? "," : "", lab->string,
					    lab->valuestring);
			}
			ktable_add(t, l.len ? l.buf : "<none>");
			kc_str_free(&l);
		}
		nrows++;
	}
	return nrows;
}

/* ---- JSONPath ---- */

struct nodes {
	const cJSON **v;
	size_t n, cap;
};

static void nodes_add(struct nodes *s, const cJSON *v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = v;
}

static void descend_all(const cJSON *v, struct nodes *out)
{
	nodes_add(out, v);
	if (cJSON_IsObject(v) || cJSON_IsArray(v))
		for (const cJSON *c = v->child; c; c = c->next)
			descend_all(c, out);
}

/* Parses a quoted literal at *p ('..' or ".."), appends its value to out. */
static int parse_quoted(const char **p, struct kc_str *out, struct kc_err *err)
{
	char q = **p;
	const char *s = *p + 1;
	for (; *s && *s != q; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			char c = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s == 'r' ? '\r' : *s;
			kc_str_addc(out, c);
		} else {
			kc_str_addc(out, *s);
		}
	}
	if (*s != q)
		return kc_err_set(err, -KC_EINVAL, "error parsing jsonpath: unterminated string");
	*p = s + 1;
	return 0;
}

static bool scalar_eq(const cJSON *v, const char *lit, bool lit_is_string)
{
	if (cJSON_IsString(v))
		return lit_is_string && strcmp(v->valuestring, lit) == 0;
	if (cJSON_IsNumber(v) && !lit_is_string)
		return v->valuedouble == strtod(lit, NULL);
	if (cJSON_IsBool(v) && !lit_is_string)
		return strcmp(lit, cJSON_IsTrue(v) ? "true" : "false") == 0;
	return false;
}

static int eval_path(const char *expr, const cJSON *root, const cJSON *cur, struct nodes *res,
		     struct kc_err *err);

/* One filter [?(@.a.b == "x")] or [?(@.a)] applied to the elements of v. */
static int apply_filter(const char *f, size_t flen, const cJSON *root, const cJSON *v,
			struct nodes *out, struct kc_err *err)
{
	char *s = xmalloc(flen + 1);
	memcpy(s, f, flen);
	s[flen] = '\0';
	char *op = strstr(s, "==");
	bool neq = false;
	if (!op && (op = strstr(s, "!=")))
		neq = true;
	char *lhs = s, *rhs = NULL;
	if (op) {
		*op = '\0';
		rhs = op + 2;
	}
	while (*lhs == ' ')
		lhs++;
	for (char *e = lhs + strlen(lhs); e > lhs && e[-1] == ' ';)
		*--e = '\0';
	struct kc_str lit = KC_STR_INIT;
	bool lit_str = false;
	int rc = 0;
	if (rhs) {
		while (*rhs == ' ')
			rhs++;
		if (*rhs == '"' || *rhs == '\'') {
			const char *q = rhs;
			rc = parse_quoted(&q, &lit, err);
			lit_str = true;
		} else {
			for (char *e = rhs + strlen(rhs); e > rhs && e[-1] == ' ';)
				*--e = '\0';
			kc_str_adds(&lit, rhs);
		}
	}
	if (rc == 0 && lhs[0] != '@')
		rc = kc_err_set(err, -KC_EINVAL, "error parsing jsonpath: unsupported filter %s", s);
	const cJSON *el;
	cJSON_ArrayForEach(el, v)
	{
		if (rc < 0)
			break;
		struct nodes r = { 0 };
		rc = eval_path(lhs + 1, root, el, &r, err);
		bool match = false;
		if (rhs) {
			for (size_t i = 0; i < r.n && !match; i++)
				match = scalar_eq(r.v[i], lit.buf, lit_str);
			match = neq ? !match && r.n : match;
		} else {
			match = r.n > 0;
		}
		free(r.v);
		if (match)
			nodes_add(out, el);
	}
	kc_str_free(&lit);
	free(s);
	return rc;
}

/* Evaluates a path like ".items[*].metadata.name" relative to cur ('$' restarts at root). */
static int eval_path(const char *expr, const cJSON *root, const cJSON *cur, struct nodes *res,
		     struct kc_err *err)
{
	struct nodes a = { 0 }, b = { 0 };
	const char *p = expr;
	if (*p == '$') {
		cur = root;
		p++;
	} else if (*p == '@') {
		p++;
	}
	nodes_add(&a, cur);
	int rc = 0;
	while (*p && rc == 0) {
		b.n = 0;
		if (p[0] == '.' && p[1] == '.') {
			for (size_t i = 0; i < a.n; i++)
				descend_all(a.v[i], &b);
			p += 1; /* the next step is a '.' name on every descendant */
		} else if (*p == '.') {
			p++;
			if (!*p)
				break;
			size_t n = strcspn(p, ".[");
			if (n == 1 && *p == '*') {
				for (size_t i = 0; i < a.n; i++)
					for (const cJSON *c = a.v[i] ? a.v[i]->child : NULL; c; c = c->next)
						nodes_add(&b, c);
			} else {
				char *name = xmalloc(n + 1);
				memcpy(name, p, n);
				name[n] = '\0';
				for (size_t i = 0; i < a.n; i++) {
					const cJSON *c = cJSON_IsObject(a.v[i])
								 ? cJSON_GetObjectItemCaseSensitive(a.v[i], name)
								 : NULL;
					if (c)
						nodes_add(&b, c);
				}
				free(name);
			}
			p += n;
		} else if (*p == '[') {
			const char *end;
			if (p[1] == '?') {
				/* [?( ... )] */
				end = strstr(p, ")]");
				if (!end || p[2] != '(') {
					rc = kc_err_set(err, -KC_EINVAL, "error parsing jsonpath %s: bad filter", expr);
					break;
				}
				for (size_t i = 0; i < a.n && rc == 0; i++)
					if (cJSON_IsArray(a.v[i]))
						rc = apply_filter(p + 3, (size_t)(end - p - 3), root, a.v[i], &b, err);
				p = end + 2;
			} else if (p[1] == '\'' || p[1] == '"') {
				struct kc_str key = KC_STR_INIT;
				const char *q = p + 1;
				rc = parse_quoted(&q, &key, err);
				if (rc == 0 && *q != ']')
					rc = kc_err_set(err, -KC_EINVAL, "error parsing jsonpath %s: expected ]", expr);
				for (size_t i = 0; i < a.n && rc == 0; i++) {
					const cJSON *c = cJSON_IsObject(a.v[i])
								 ? cJSON_GetObjectItemCaseSensitive(a.v[i], key.buf)
								 : NULL;
					if (c)
						nodes_add(&b, c);
				}
				kc_str_free(&key);
				p = q + 1;
			} else {
				end = strchr(p, ']');
				if (!end) {
					rc = kc_err_set(err, -KC_EINVAL, "error parsing jsonpath %s: unterminated [", expr);
					break;
				}
				char sel[64];
				size_t n = (size_t)(end - p - 1);
				if (n >= sizeof sel)
					n = sizeof sel - 1;
				memcpy(sel, p + 1, n);
				sel[n] = '\0';
				for (size_t i = 0; i < a.n; i++) {
					const cJSON *arr = a.v[i];
					if (!cJSON_IsArray(arr))
						continue;
					long len = cJSON_GetArraySize(arr);
					char *colon = strchr(sel, ':');
					long lo = 0, hi = len;
					if (strcmp(sel, "*") == 0) {
					} else if (colon) {
						if (colon != sel)
							lo = strtol(sel, NULL, 10);
						if (colon[1])
							hi = strtol(colon + 1, NULL, 10);
					} else {
						lo = strtol(sel, NULL, 10);
						if (lo < 0)
							lo += len;
						hi = lo + 1;
					}
					if (lo < 0)
						lo += len;
					if (hi < 0)
						hi += len;
					if (hi > len)
						hi = len;
					if (!colon && strcmp(sel, "*") != 0 && (lo < 0 || lo >= len)) {
						rc = kc_err_set(err, -KC_EINVAL, "array index out of bounds: index %s, length %ld", sel, len);
						break;
					}
					for (long k = lo < 0 ? 0 : lo; k < hi; k++)
						nodes_add(&b, cJSON_GetArrayItem(arr, (int)k));
				}
				p = end + 1;
			}
		} else {
			rc = kc_err_set(err, -KC_EINVAL, "error parsing jsonpath %s: unexpected '%c'", expr, *p);
			break;
		}
		struct nodes t = a;
		a = b;
		b = t;
	}
	if (rc == 0)
		for (size_t i = 0; i < a.n; i++)
			nodes_add(res, a.v[i]);
	free(a.v);
	free(b.v);
	return rc;
}

static void value_text(const cJSON *v, struct kc_str *out)
{
	if (cJSON_IsString(v)) {
		kc_str_adds(out, v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		char b[KC_JSON_NUMBUF];
		kc_str_add(out, b, kc_json_format_number(v->valuedouble, b));
	} else {
		kc_json_write(out, v);
	}
}

/* Finds the '}' that closes the expression starting at p (after '{'), skipping quotes. */
static const char *expr_end(const char *p)
{
	char q = 0;
	for (; *p; p++) {
		if (q) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'') {
			q = *p;
		} else if (*p == '}') {
			return p;
		}
	}
	return NULL;
}

/* Executes template [p, end) with current node cur; stops at a matching {end} and returns a
 * pointer after it in *stop (NULL at the end of the text). */
static int exec_tmpl(const char *p, const cJSON *root, const cJSON *cur, struct kc_str *out,
		     const char **stop, int depth, struct kc_err *err)
{
	if (depth > 16)
		return kc_err_set(err, -KC_EINVAL, "error parsing jsonpath: ranges nested too deep");
	while (*p) {
		if (*p != '{') {
			kc_str_addc(out, *p++);
			continue;
		}
		const char *e = expr_end(p + 1);
		if (!e)
			return kc_err_set(err, -KC_EINVAL, "error parsing jsonpath: unclosed action");
		size_t n = (size_t)(e - p - 1);
		char *x = xmalloc(n + 1);
		memcpy(x, p + 1, n);
		x[n] = '\0';
		char *s = x;
		while (*s == ' ')
			s++;
		for (char *t = s + strlen(s); t > s && t[-1] == ' ';)
			*--t = '\0';
		int rc = 0;
		if (strcmp(s, "end") == 0) {
			free(x);
			if (depth == 0)
				return kc_err_set(err, -KC_EINVAL, "error parsing jsonpath: {end} without range");
			*stop = e + 1;
			return 0;
		}
		if (strncmp(s, "range ", 6) == 0) {
			struct nodes r = { 0 };
			rc = eval_path(s + 6, root, cur, &r, err);
			const char *after = NULL;
			if (rc == 0 && r.n == 0) {
				/* run once into a scratch buffer to find the matching {end} */
				struct kc_str scratch = KC_STR_INIT;
				rc = exec_tmpl(e + 1, root, NULL, &scratch, &after, depth + 1, err);
				kc_str_free(&scratch);
			}
			for (size_t i = 0; i < r.n && rc == 0; i++)
				rc = exec_tmpl(e + 1, root, r.v[i], out, &after, depth + 1, err);
			free(r.v);
			free(x);
			if (rc < 0)
				return rc;
			if (!after)
				return kc_err_set(err, -KC_EINVAL, "error parsing jsonpath: range without {end}");
			p = after;
			continue;
		}
		if (*s == '"' || *s == '\'') {
			const char *q = s;
			rc = parse_quoted(&q, out, err);
		} else if (cur) {
			struct nodes r = { 0 };
			rc = eval_path(s, root, cur, &r, err);
			for (size_t i = 0; i < r.n && rc == 0; i++) {
				if (i)
					kc_str_addc(out, ' ');
				value_text(r.v[i], out);
			}
			free(r.v);
		}
		free(x);
		if (rc < 0)
			return rc;
		p = e + 1;
	}
	if (depth > 0)
		*stop = NULL;
	return 0;
}

int kprint_jsonpath(const char *tmpl, const cJSON *v, struct kc_str *out, struct kc_err *err)
{
	const char *stop = NULL;
	if (strlen(tmpl) > 64 * 1024)
		return kc_err_set(err, -KC_EINVAL, "jsonpath template too long");
	return exec_tmpl(tmpl, v, v, out, &stop, 0, err);
}
