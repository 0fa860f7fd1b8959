/* DESIGN: YAML <-> cJSON through libyaml. Reading consumes libyaml's event stream (never its
 * document loader) and builds cJSON nodes directly; an explicit stack of open collections
 * replaces recursion. Anchors live in a per-document table (name -> node, with the size,
 * text bytes and height of the subtree); an alias becomes a deep copy, and the copy is paid
 * for against max_nodes / max_expanded_bytes / max_depth before it is made, so expansion bombs
 * fail in time linear in the limits. An anchor is registered when its collection opens, so an
 * alias inside its own collection is caught ("contains itself"). Merge sources ("<<") are
 * parked in a per-document stash until the mapping closes, then their missing members are
 * copied in; the stash keeps anchored sources alive for later aliases. Scalars resolve as
 * go-yaml v2 + sigs.k8s.io/yaml do (see yaml.h); resolve() is shared with the writer, which
 * quotes exactly the strings that would not read back as strings.
 *
 * Writing walks the tree and feeds libyaml's emitter, which is the same emitter go-yaml
 * ports, so layout and quoting fall back exactly as kubectl's output does.
 *
 * No state outside the call; reentrant. libyaml allocates on its own; its failures are
 * reported as -ENOMEM, cJSON's abort (see json.c). */
#include "lib/yaml.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/map.h"

/* Mappings up to this many keys are checked for duplicates by a scan. */
#define DUP_SCAN_MAX 16

/* ---------------------------------------------------------------------------------------- */
/* scalar resolution (go-yaml v2 resolve.go) */

enum kind { K_NULL, K_BOOL, K_INT, K_UINT, K_BIG, K_FLOAT, K_STR };

enum tag { T_NONE, T_STR, T_BOOL, T_INT, T_FLOAT, T_NULL, T_TIMESTAMP, T_BINARY, T_MERGE, T_OTHER };

struct scalar {
	enum kind kind;
	bool b;
	long long i;
	unsigned long long u;
	double f;      /* K_FLOAT; K_BIG: the nearest double */
	const char *s; /* K_STR: NUL-terminated text */
	size_t n;
};

static enum tag tag_of(const char *tag)
{
	static const char prefix[] = "tag:yaml.org,2002:";
	static const struct {
		const char *name;
		enum tag tag;
	} names[] = {
		{ "str", T_STR },	   { "bool", T_BOOL },	   { "int", T_INT },
		{ "float", T_FLOAT },	   { "null", T_NULL },	   { "timestamp", T_TIMESTAMP },
		{ "binary", T_BINARY }, { "merge", T_MERGE },
	};
	if (!tag)
		return T_NONE;
	if (strncmp(tag, prefix, sizeof prefix - 1) != 0)
		return T_OTHER;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(tag + sizeof prefix - 1, names[i].name) == 0)
			return names[i].tag;
	return T_OTHER;
}

static const char *tag_name(enum tag t)
{
	switch (t) {
	case T_STR:
		return "!!str";
	case T_BOOL:
		return "!!bool";
	case T_INT:
		return "!!int";
	case T_FLOAT:
		return "!!float";
	case T_NULL:
		return "!!null";
	case T_TIMESTAMP:
		return "!!timestamp";
	default:
		return "!!str";
	}
}

static enum tag kind_tag(enum kind k)
{
	switch (k) {
	case K_NULL:
		return T_NULL;
	case K_BOOL:
		return T_BOOL;
	case K_INT:
	case K_UINT:
	case K_BIG:
		return T_INT;
	case K_FLOAT:
		return T_FLOAT;
	default:
		return T_STR;
	}
}

/* go-yaml's resolveTable: which first bytes may start a non-string plain scalar. */
static char hint_of(const char *s, size_t n)
{
	if (!n)
		return 'N';
	unsigned char c = (unsigned char)s[0];
	if (c == '+' || c == '-')
		return 'S';
	if (c >= '0' && c <= '9')
		return 'D';
	if (c == '.')
		return '.';
	if (c && strchr("yYnNtTfFoO~", c))
		return 'M';
	return 0;
}

static bool word_in(const char *s, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && memcmp(*list, s, n) == 0)
			return true;
	return false;
}

/* go-yaml's resolveMap. Returns false when s is none of its words. */
static bool resolve_word(const char *s, size_t n, struct scalar *r)
{
	static const char *const yes[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
					   "on", "On", "ON", NULL };
	static const char *const no[] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE",
					  "off", "Off", "OFF", NULL };
	static const char *const null[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const nan[] = { ".nan", ".NaN", ".NAN", NULL };
	static const char *const inf[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL };
	static const char *const ninf[] = { "-.inf", "-.Inf", "-.INF", NULL };
	if (n > 5)
		return false;
	if (word_in(s, n, yes) || word_in(s, n, no)) {
		r->kind = K_BOOL;
		r->b = word_in(s, n, yes);
	} else if (word_in(s, n, null)) {
		r->kind = K_NULL;
	} else if (word_in(s, n, nan)) {
		r->kind = K_FLOAT;
		r->f = NAN;
	} else if (word_in(s, n, inf) || word_in(s, n, ninf)) {
		r->kind = K_FLOAT;
		r->f = word_in(s, n, inf) ? INFINITY : -INFINITY;
	} else {
		return false;
	}
	return true;
}

/* Go's strconv.ParseUint(s, base, 64); base 0 reads 0b/0o/0x and a leading-0 octal prefix.
 * Returns 0, -1 (syntax) or -2 (out of range, every digit valid); *approx gets the value as a
 * double in both of the last cases too. */
static int go_parse_uint(const char *s, size_t n, int base, unsigned long long *out,
			 double *approx)
{
	if (!n)
		return -1;
	if (base == 0) {
		base = 10;
		if (s[0] == '0') {
			char p = n >= 3 ? (char)(s[1] | 0x20) : 0;
			base = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 8;
			size_t skip = p == 'b' || p == 'o' || p == 'x' ? 2 : 1;
			s += skip;
			n -= skip;
		}
	}
	unsigned long long v = 0;
	double d = 0;
	bool range = false;
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i], dv;
		if (c >= '0' && c <= '9')
			dv = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
			dv = (c | 0x20) - 'a' + 10;
		else
			return -1;
		if (dv >= (unsigned)base)
			return -1;
		if (!range && v > (ULLONG_MAX - dv) / (unsigned)base)
			range = true;
		else if (!range)
			v = v * (unsigned)base + dv;
		d = d * base + dv;
	}
	*out = v;
	*approx = d;
	return range ? -2 : 0;
}

/* Go's strconv.ParseInt(s, base, 64). Same returns as go_parse_uint. */
static int go_parse_int(const char *s, size_t n, int base, long long *out, double *approx)
{
	bool neg = false;
	if (n && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		s++;
		n--;
	}
	unsigned long long u;
	double d = 0;
	int rc = go_parse_uint(s, n, base, &u, &d);
	*approx = neg ? -d : d;
	if (rc)
		return rc;
	if (u > (unsigned long long)LLONG_MAX + neg)
		return -2;
	*out = neg ? (u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)u)
		   : (long long)u;
	return 0;
}

static size_t count_digits(const char *s, size_t i, size_t n)
{
	size_t j = i;
	while (j < n && s[j] >= '0' && s[j] <= '9')
		j++;
	return j - i;
}

/* go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool float_syntax(const char *s, size_t n)
{
	size_t i = 0, d;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i < n && s[i] == '.') {
		d = count_digits(s, ++i, n);
		if (!d)
			return false;
		i += d;
	} else {
		d = count_digits(s, i, n);
		if (!d)
			return false;
		i += d;
		if (i < n && s[i] == '.')
			i += 1 + count_digits(s, i + 1, n);
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		d = count_digits(s, i, n);
		if (!d)
			return false;
		i += d;
	}
	return i == n;
}

/* Numbers for go-yaml's 'D' (digit) and 'S' (sign) hints; anything else stays a string. */
static void resolve_number(const char *s, size_t n, struct kc_str *scratch, struct scalar *r)
{
	/* go-yaml first tries timestamps (YYYY-...), and those stay strings for interface{}. */
	if (count_digits(s, 0, n) == 4 && n > 4 && s[4] == '-')
		return;
	kc_str_reset(scratch);
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			kc_str_addc(scratch, s[i]);
	const char *p = scratch->buf;
	size_t pn = scratch->len;
	long long i;
	unsigned long long u;
	double approx = 0, uapprox = 0;
	if (go_parse_int(p, pn, 0, &i, &approx) == 0) {
		r->kind = K_INT;
		r->i = i;
		return;
	}
	int urc = go_parse_uint(p, pn, 0, &u, &uapprox);
	if (urc == 0) {
		r->kind = K_UINT;
		r->u = u;
		return;
	}
	if (float_syntax(p, pn)) {
		double d = strtod(p, NULL);
		if (!isinf(d)) {
			r->kind = K_FLOAT;
			r->f = d;
			return;
		}
	}
	if (pn > 2 && p[0] == '0' && p[1] == 'b') {
		if (go_parse_int(p + 2, pn - 2, 2, &i, &approx) == 0) {
			r->kind = K_INT;
			r->i = i;
			return;
		}
		if (go_parse_uint(p + 2, pn - 2, 2, &u, &approx) == 0) {
			r->kind = K_UINT;
			r->u = u;
			return;
		}
	} else if (pn > 3 && memcmp(p, "-0b", 3) == 0) {
		if (go_parse_uint(p + 3, pn - 3, 2, &u, &approx) == 0 &&
		    u <= (unsigned long long)LLONG_MAX + 1) {
			r->kind = K_INT;
			r->i = u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)u;
			return;
		}
	}
	if (urc == -2) { /* go-yaml falls back to big.Int */
		r->kind = K_BIG;
		r->f = uapprox;
	}
}

/* Resolves scalar text s[0..n) (NUL-terminated) carrying tag t the way go-yaml v2 decodes
 * into interface{}. Returns 0, or -1 when an explicit tag contradicts the text (r then holds
 * what the text resolves to). !!binary is handled by the caller. */
static int resolve(enum tag t, const char *s, size_t n, struct kc_str *scratch,
		   struct scalar *r)
{
	r->kind = K_STR;
	r->s = s;
	r->n = n;
	if (t != T_NONE && t != T_STR && t != T_BOOL && t != T_INT && t != T_FLOAT &&
	    t != T_NULL && t != T_TIMESTAMP)
		return 0; /* go-yaml keeps the text of unknown tags */
	char hint = hint_of(s, n);
	bool timestamp = false;
	if (hint && t != T_STR && !resolve_word(s, n, r)) {
		if (hint == '.' && float_syntax(s, n)) {
			r->kind = K_FLOAT;
			r->f = strtod(s, NULL);
		} else if (hint == 'D' || hint == 'S') {
			timestamp = count_digits(s, 0, n) == 4 && n > 4 && s[4] == '-';
			resolve_number(s, n, scratch, r);
		}
	}
	if (t == T_NONE || t == T_STR)
		return 0;
	if (t == T_TIMESTAMP && timestamp)
		return 0;
	if (t == T_FLOAT && r->kind == K_INT) {
		r->kind = K_FLOAT;
		r->f = (double)r->i;
		return 0;
	}
	return kind_tag(r->kind) == t ? 0 : -1;
}

/* ---------------------------------------------------------------------------------------- */
/* reading */

struct anchor {
	cJSON *node;            /* NULL while its collection is open */
	cJSON *owned;           /* the node, when the table owns it (anchors on mapping keys) */
	unsigned long long id;
	size_t nodes, bytes;
	unsigned height;
};

struct merge {
	cJSON *src; /* in the document's stash */
	yaml_mark_t mark;
};

struct frame {
	cJSON *node;            /* the open object or array, already linked */
	bool mapping;
	bool have_key;          /* a key was read; the next node is its value */
	bool merge_key;         /* ... and that key is "<<" */
	char *key;              /* the pending key */
	struct kc_map *names;   /* member-name index once the mapping outgrows DUP_SCAN_MAX */
	size_t members;
	struct merge *merges;
	size_t nmerges;
	char *anchor;           /* this collection's anchor, registered with anchor_id */
	unsigned long long anchor_id;
	size_t nodes0, bytes0;  /* budget counters when it opened */
	unsigned height;        /* 1 + the height of its tallest child */
};

struct reader {
	size_t max_nodes, max_bytes_out;
	unsigned max_depth;
	yaml_parser_t parser;
	const char *buf;
	size_t len;
	cJSON *docs;
	cJSON *root;            /* the current document */
	cJSON *stash;           /* merge sources of the current document */
	struct kc_map anchors;  /* name -> struct anchor * */
	unsigned long long anchor_seq;
	struct frame *stack;
	unsigned depth, cap;
	size_t nodes, bytes;
	struct kc_str scratch;  /* number text without '_', decoded !!binary */
	struct kc_err *err;
};

static int __attribute__((format(printf, 4, 5)))
fail(struct reader *rd, yaml_mark_t m, int code, const char *fmt, ...)
{
	char msg[KC_ERRMSG_MAX - 48];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return kc_err_set(rd->err, code, "yaml: line %zu, column %zu: %s", m.line + 1, m.column + 1,
			  msg);
}

static int parser_error(struct reader *rd)
{
	yaml_parser_t *p = &rd->parser;
	const char *problem = p->problem ? p->problem : "unknown problem parsing YAML";
	if (p->error == YAML_MEMORY_ERROR)
		return kc_err_set(rd->err, -ENOMEM, "yaml: out of memory");
	if (p->error == YAML_READER_ERROR) {
		size_t line = 1, col = 1, end = p->problem_offset < rd->len ? p->problem_offset : rd->len;
		for (size_t i = 0; i < end; i++) {
			if (rd->buf[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)rd->buf[i] & 0xC0) != 0x80) {
				col++;
			}
		}
		return kc_err_set(rd->err, -KC_EPARSE, "yaml: line %zu, column %zu: %s", line, col,
				  problem);
	}
	if (p->context)
		return kc_err_set(rd->err, -KC_EPARSE, "yaml: line %zu, column %zu: %s (%s at line %zu, column %zu)",
				  p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
				  p->context, p->context_mark.line + 1, p->context_mark.column + 1);
	return kc_err_set(rd->err, -KC_EPARSE, "yaml: line %zu, column %zu: %s",
			  p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

/* Charges nodes and text bytes against the stream's budget. */
static int charge(struct reader *rd, size_t nodes, size_t bytes, yaml_mark_t m)
{
	if (nodes > rd->max_nodes - rd->nodes)
		return fail(rd, m, -KC_ELIMIT,
			    "document expands to more than %zu nodes (aliases included)", rd->max_nodes);
	if (bytes > rd->max_bytes_out - rd->bytes)
		return fail(rd, m, -KC_ELIMIT,
			    "document expands to more than %zu bytes of text (aliases included)",
			    rd->max_bytes_out);
	rd->nodes += nodes;
	rd->bytes += bytes;
	return 0;
}

static void anchor_free(void *p)
{
	struct anchor *a = p;
	cJSON_Delete(a->owned);
	free(a);
}

static struct anchor *anchor_define(struct reader *rd, const char *name)
{
	struct anchor *a = xcalloc(1, sizeof *a);
	a->id = ++rd->anchor_seq;
	kc_map_sput(&rd->anchors, name, a); /* a redefinition replaces the older anchor */
	return a;
}

static struct frame *top(struct reader *rd)
{
	return rd->depth ? &rd->stack[rd->depth - 1] : NULL;
}

static bool want_key(struct reader *rd)
{
	struct frame *f = top(rd);
	return f && f->mapping && !f->have_key;
}

/* Records name as a member of f; false when f already has it. */
static bool names_insert(struct frame *f, const char *name)
{
	if (f->members < DUP_SCAN_MAX) {
		for (const cJSON *c = f->node->child; c; c = c->next)
			if (strcmp(c->string, name) == 0)
				return false;
	} else {
		if (!f->names) {
			f->names = xmalloc(sizeof *f->names);
			kc_map_init(f->names, NULL);
			for (cJSON *c = f->node->child; c; c = c->next)
				kc_map_sput(f->names, c->string, c);
		}
		if (kc_map_sget(f->names, name))
			return false;
		kc_map_sput(f->names, name, f->node);
	}
	f->members++;
	return true;
}

/* Makes a heap key (taking ownership of it) the pending key of the innermost mapping. */
static int take_key(struct reader *rd, char *key, yaml_mark_t m)
{
	struct frame *f = top(rd);
	if (!names_insert(f, key)) {
		char ex[64];
		kc_excerpt(ex, sizeof ex, key, strlen(key));
		free(key);
		return fail(rd, m, -KC_EPARSE, "key \"%s\" already set in map", ex);
	}
	f->key = key;
	f->have_key = true;
	return 0;
}

/* Links v (of the given height) under the innermost collection, or makes it the root. */
static void attach(struct reader *rd, cJSON *v, unsigned height, yaml_mark_t m)
{
	struct frame *f = top(rd);
	if (!f) {
		cJSON_Delete(rd->root); /* libyaml gives one root per document; be safe regardless */
		rd->root = v;
		return;
	}
	if (height + 1 > f->height)
		f->height = height + 1;
	if (!f->mapping) {
		cJSON_AddItemToArray(f->node, v);
		return;
	}
	if (f->merge_key) {
		cJSON_AddItemToArray(rd->stash, v);
		if (f->nmerges % 4 == 0)
			f->merges = xrealloc(f->merges, (f->nmerges + 4) * sizeof *f->merges);
		f->merges[f->nmerges++] = (struct merge){ v, m };
	} else {
		kc_json_add(f->node, f->key, v);
		free(f->key);
		f->key = NULL;
	}
	f->have_key = false;
	f->merge_key = false;
}

/* Go's strconv.FormatFloat(f, 'g', -1, 32), which sigs.k8s.io/yaml uses for float keys. */
static void format_float32(double d, char *out, size_t cap)
{
	float f = (float)d;
	if (isnan(f)) {
		snprintf(out, cap, ".nan");
		return;
	}
	if (isinf(f)) {
		snprintf(out, cap, f > 0 ? ".inf" : "-.inf");
		return;
	}
	if (f == 0) {
		snprintf(out, cap, signbit(f) ? "-0" : "0");
		return;
	}
	char e[32];
	int prec = 1;
	for (; prec < 9; prec++) {
		snprintf(e, sizeof e, "%.*e", prec - 1, (double)f);
		if (strtof(e, NULL) == f)
			break;
	}
	snprintf(e, sizeof e, "%.*e", prec - 1, (double)f);
	/* e is "[-]d[.ddd]e(+|-)xx": collect the digits and the exponent */
	const char *p = e;
	bool neg = *p == '-';
	p += neg;
	char digits[16];
	int nd = 0;
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	int exp = atoi(p + 1);
	size_t w = 0;
	char buf[48];
	if (neg)
		buf[w++] = '-';
	if (exp < -4 || exp >= 6) {
		buf[w++] = digits[0];
		if (nd > 1) {
			buf[w++] = '.';
			for (int i = 1; i < nd; i++)
				buf[w++] = digits[i];
		}
		w += (size_t)snprintf(buf + w, sizeof buf - w, "e%c%02d", exp < 0 ? '-' : '+',
				      exp < 0 ? -exp : exp);
	} else if (exp < 0) {
		buf[w++] = '0';
		buf[w++] = '.';
		for (int i = -1; i > exp; i--)
			buf[w++] = '0';
		for (int i = 0; i < nd; i++)
			buf[w++] = digits[i];
	} else {
		for (int i = 0; i <= exp || i < nd; i++) {
			if (i == exp + 1)
				buf[w++] = '.';
			buf[w++] = i < nd ? digits[i] : '0';
		}
	}
	buf[w] = '\0';
	snprintf(out, cap, "%s", buf);
}

/* The JSON member name sigs.k8s.io/yaml gives a resolved scalar key (heap string). */
static int key_of_scalar(struct reader *rd, const struct scalar *r, yaml_mark_t m, char **out)
{
	char buf[48];
	switch (r->kind) {
	case K_STR:
		*out = xmemdup(r->s, r->n + 1);
		return 0;
	case K_BOOL:
		*out = xstrdup(r->b ? "true" : "false");
		return 0;
	case K_INT:
		*out = xasprintf("%lld", r->i);
		return 0;
	case K_FLOAT:
		format_float32(r->f, buf, sizeof buf);
		*out = xstrdup(buf);
		return 0;
	case K_NULL:
		return fail(rd, m, -KC_EPARSE, "unsupported map key: null");
	default:
		return fail(rd, m, -KC_EPARSE, "unsupported map key: integer beyond int64");
	}
}

/* The same for a key given by an alias to a node already converted. */
static int key_of_node(struct reader *rd, const cJSON *v, yaml_mark_t m, char **out)
{
	struct scalar r = { .kind = K_STR };
	if (cJSON_IsString(v)) {
		r.s = v->valuestring;
		r.n = strlen(v->valuestring);
	} else if (cJSON_IsBool(v)) {
		r.kind = K_BOOL;
		r.b = cJSON_IsTrue(v);
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == trunc(d) && fabs(d) <= 9007199254740992.0) {
			r.kind = K_INT;
			r.i = (long long)d;
		} else {
			r.kind = K_FLOAT;
			r.f = d;
		}
	} else if (cJSON_IsNull(v)) {
		r.kind = K_NULL;
	} else {
		return fail(rd, m, -KC_EPARSE, "a mapping or sequence cannot be a mapping key");
	}
	return key_of_scalar(rd, &r, m, out);
}

static int node_of_scalar(struct reader *rd, const struct scalar *r, yaml_mark_t m, cJSON **out)
{
	switch (r->kind) {
	case K_NULL:
		*out = kc_json_new_null();
		return 0;
	case K_BOOL:
		*out = kc_json_new_bool(r->b);
		return 0;
	case K_INT:
		*out = kc_json_new_num((double)r->i);
		return 0;
	case K_UINT:
		*out = kc_json_new_num((double)r->u);
		return 0;
	case K_BIG:
		if (!isfinite(r->f))
			return fail(rd, m, -KC_EPARSE, "integer too large to represent in JSON");
		*out = kc_json_new_num(r->f);
		return 0;
	case K_FLOAT:
		if (!isfinite(r->f))
			return fail(rd, m, -KC_EPARSE, "%s cannot be represented in JSON",
				    isnan(r->f) ? "NaN" : "an infinite number");
		*out = kc_json_new_num(r->f);
		return 0;
	default:
		*out = kc_json_new_str(r->s);
		return 0;
	}
}

static int on_scalar(struct reader *rd, yaml_event_t *ev)
{
	yaml_mark_t m = ev->start_mark;
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	enum tag t = tag_of(tag);
	struct scalar r;
	cJSON *v = NULL;
	int rc;

	if (memchr(s, '\0', n))
		return fail(rd, m, -KC_EPARSE, "NUL characters are not supported in strings");
	rc = charge(rd, 1, n, m);
	if (rc)
		return rc;

	if (want_key(rd) && ((plain && t == T_NONE && n == 2 && memcmp(s, "<<", 2) == 0) ||
			     t == T_MERGE)) {
		struct frame *f = top(rd);
		f->have_key = true;
		f->merge_key = true;
		return 0;
	}
	if (t == T_BINARY) {
		kc_str_reset(&rd->scratch);
		if (kc_base64_decode(&rd->scratch, s, n, KC_B64_STD | KC_B64_SKIP_NEWLINES, NULL))
			return fail(rd, m, -KC_EPARSE, "!!binary value contains invalid base64 data");
		if (memchr(rd->scratch.buf, '\0', rd->scratch.len) ||
		    !kc_json_valid_utf8(rd->scratch.buf, rd->scratch.len))
			return fail(rd, m, -KC_EPARSE, "!!binary value is not UTF-8 text");
		r = (struct scalar){ .kind = K_STR, .s = rd->scratch.buf, .n = rd->scratch.len };
	} else if (!tag && !plain) {
		r = (struct scalar){ .kind = K_STR, .s = s, .n = n };
	} else if (resolve(t, s, n, &rd->scratch, &r)) {
		char ex[64];
		kc_excerpt(ex, sizeof ex, s, n);
		return fail(rd, m, -KC_EPARSE, "cannot decode %s `%s` as a %s",
			    tag_name(kind_tag(r.kind)), ex, tag_name(t));
	}

	const char *anchor = (const char *)ev->data.scalar.anchor;
	bool key = want_key(rd);
	if (key) {
		char *name;
		rc = key_of_scalar(rd, &r, m, &name);
		if (!rc)
			rc = take_key(rd, name, m);
		if (rc || !anchor)
			return rc;
	}
	/* A key's node exists only for its anchor, and then the anchor table owns it. */
	rc = node_of_scalar(rd, &r, m, &v);
	if (rc)
		return rc;
	if (!key)
		attach(rd, v, 0, m);
	if (anchor) {
		struct anchor *a = anchor_define(rd, anchor);
		a->node = v;
		a->owned = key ? v : NULL;
		a->nodes = 1;
		a->bytes = n;
	}
	return 0;
}

static int on_alias(struct reader *rd, yaml_event_t *ev)
{
	yaml_mark_t m = ev->start_mark;
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor *a = kc_map_sget(&rd->anchors, name);
	char ex[64];
	kc_excerpt(ex, sizeof ex, name, strlen(name));
	if (!a)
		return fail(rd, m, -KC_EPARSE, "unknown anchor '%s' referenced", ex);
	if (!a->node)
		return fail(rd, m, -KC_EPARSE, "anchor '%s' value contains itself", ex);
	if (want_key(rd)) {
		char *key;
		int rc = key_of_node(rd, a->node, m, &key);
		if (rc)
			return rc;
		rc = charge(rd, 1, strlen(key), m);
		if (rc) {
			free(key);
			return rc;
		}
		return take_key(rd, key, m);
	}
	if (rd->depth + a->height > rd->max_depth)
		return fail(rd, m, -KC_ELIMIT, "alias '%s' nests deeper than %u levels", ex,
			    rd->max_depth);
	int rc = charge(rd, a->nodes, a->bytes, m);
	if (rc)
		return rc;
	attach(rd, kc_json_dup(a->node), a->height, m);
	return 0;
}

static int on_start(struct reader *rd, yaml_event_t *ev, bool mapping)
{
	yaml_mark_t m = ev->start_mark;
	const char *anchor = (const char *)(mapping ? ev->data.mapping_start.anchor
						    : ev->data.sequence_start.anchor);
	if (want_key(rd))
		return fail(rd, m, -KC_EPARSE, "a mapping or sequence cannot be a mapping key");
	if (rd->depth >= rd->max_depth)
		return fail(rd, m, -KC_ELIMIT, "nesting deeper than %u levels", rd->max_depth);
	int rc = charge(rd, 1, 0, m);
	if (rc)
		return rc;
	cJSON *v = mapping ? kc_json_new_object() : kc_json_new_array();
	attach(rd, v, 0, m);
	if (rd->depth == rd->cap) {
		rd->cap = rd->cap ? rd->cap * 2 : 16;
		rd->stack = xrealloc(rd->stack, rd->cap * sizeof *rd->stack);
	}
	struct frame *f = &rd->stack[rd->depth++];
	*f = (struct frame){
		.node = v, .mapping = mapping, .nodes0 = rd->nodes, .bytes0 = rd->bytes, .height = 1,
	};
	if (anchor) {
		f->anchor = xstrdup(anchor);
		f->anchor_id = anchor_define(rd, anchor)->id;
	}
	return 0;
}

static void measure(const cJSON *v, size_t *nodes, size_t *bytes)
{
	(*nodes)++;
	if (v->string)
		*bytes += strlen(v->string);
	if (cJSON_IsString(v))
		*bytes += strlen(v->valuestring);
	for (const cJSON *c = v->child; c; c = c->next)
		measure(c, nodes, bytes);
}

/* Copies src's members that f does not have yet. */
static int merge_from(struct reader *rd, struct frame *f, const cJSON *src, yaml_mark_t m)
{
	for (const cJSON *c = src->child; c; c = c->next) {
		if (!names_insert(f, c->string))
			continue;
		size_t nodes = 0, bytes = 0;
		measure(c, &nodes, &bytes);
		int rc = charge(rd, nodes, bytes, m);
		if (rc)
			return rc;
		kc_json_add(f->node, c->string, kc_json_dup(c));
	}
	return 0;
}

static int apply_merges(struct reader *rd, struct frame *f)
{
	for (size_t i = 0; i < f->nmerges; i++) {
		const cJSON *src = f->merges[i].src;
		yaml_mark_t m = f->merges[i].mark;
		bool ok = cJSON_IsObject(src) || cJSON_IsArray(src);
		for (const cJSON *c = cJSON_IsArray(src) ? src->child : NULL; c && ok; c = c->next)
			ok = cJSON_IsObject(c);
		if (!ok)
			return fail(rd, m, -KC_EPARSE,
				    "map merge requires map or sequence of maps as the value");
		if (cJSON_IsObject(src)) {
			int rc = merge_from(rd, f, src, m);
			if (rc)
				return rc;
			continue;
		}
		for (const cJSON *c = src->child; c; c = c->next) {
			int rc = merge_from(rd, f, c, m);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void pop(struct reader *rd)
{
	struct frame *f = &rd->stack[--rd->depth];
	if (f->names) {
		kc_map_free(f->names);
		free(f->names);
	}
	free(f->key);
	free(f->merges);
	free(f->anchor);
}

static int on_end(struct reader *rd, yaml_event_t *ev)
{
	struct frame *f = top(rd);
	if (!f)
		return fail(rd, ev->start_mark, -KC_EPARSE, "unbalanced collection end");
	if (f->nmerges) {
		int rc = apply_merges(rd, f);
		if (rc)
			return rc;
	}
	if (f->anchor) {
		struct anchor *a = kc_map_sget(&rd->anchors, f->anchor);
		if (a && a->id == f->anchor_id) {
			a->node = f->node;
			a->nodes = rd->nodes - f->nodes0 + 1;
			a->bytes = rd->bytes - f->bytes0;
			a->height = f->height;
		}
	}
	unsigned h = f->height;
	pop(rd);
	struct frame *parent = top(rd);
	if (parent && h + 1 > parent->height)
		parent->height = h + 1;
	return 0;
}

static void end_document(struct reader *rd)
{
	if (rd->root && !cJSON_IsNull(rd->root))
		cJSON_AddItemToArray(rd->docs, rd->root);
	else
		cJSON_Delete(rd->root);
	rd->root = NULL;
	cJSON_Delete(rd->stash);
	rd->stash = NULL;
	kc_map_free(&rd->anchors);
}

static int on_event(struct reader *rd, yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		end_document(rd);
		rd->stash = kc_json_new_array();
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		end_document(rd);
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(rd, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(rd, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(rd, ev, false);
	case YAML_MAPPING_START_EVENT:
		return on_start(rd, ev, true);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(rd, ev);
	default:
		return 0;
	}
}

int kc_yaml_to_json(const char *buf, size_t len, const struct kc_yaml_limits *lim, cJSON **docs,
		    struct kc_err *err)
{
	static const char none[1];
	size_t max_in = lim && lim->max_bytes ? lim->max_bytes : KC_YAML_DEFAULT_MAX_BYTES;
	*docs = NULL;
	if (len > max_in)
		return kc_err_set(err, -KC_ETOOBIG, "yaml: input of %zu bytes exceeds the limit of %zu",
				  len, max_in);
	struct reader rd = {
		.max_nodes = lim && lim->max_nodes ? lim->max_nodes : KC_YAML_DEFAULT_MAX_NODES,
		.max_bytes_out = lim && lim->max_expanded_bytes ? lim->max_expanded_bytes
								: KC_YAML_DEFAULT_MAX_EXPANDED_BYTES,
		.max_depth = lim && lim->max_depth ? lim->max_depth : KC_YAML_DEFAULT_MAX_DEPTH,
		.buf = buf ? buf : none,
		.len = len,
		.scratch = KC_STR_INIT,
		.err = err,
	};
	if (rd.max_depth > KC_JSON_DEPTH_CAP)
		rd.max_depth = KC_JSON_DEPTH_CAP;
	if (!yaml_parser_initialize(&rd.parser))
		return kc_err_set(err, -ENOMEM, "yaml: out of memory");
	yaml_parser_set_input_string(&rd.parser, (const unsigned char *)rd.buf, len);
	kc_map_init(&rd.anchors, anchor_free);
	rd.docs = kc_json_new_array();

	int rc;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&rd.parser, &ev)) {
			rc = parser_error(&rd);
			break;
		}
		rc = on_event(&rd, &ev);
		bool end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (rc || end)
			break;
	}

	while (rd.depth)
		pop(&rd);
	free(rd.stack);
	cJSON_Delete(rd.root);
	cJSON_Delete(rd.stash);
	kc_map_free(&rd.anchors);
	kc_str_free(&rd.scratch);
	yaml_parser_delete(&rd.parser);
	if (rc) {
		cJSON_Delete(rd.docs);
		return rc;
	}
	*docs = rd.docs;
	return 0;
}

int kc_yaml_to_json_one(const char *buf, size_t len, const struct kc_yaml_limits *lim,
			cJSON **out, struct kc_err *err)
{
	cJSON *docs;
	*out = NULL;
	int rc = kc_yaml_to_json(buf, len, lim, &docs, err);
	if (rc)
		return rc;
	int n = cJSON_GetArraySize(docs);
	if (n != 1) {
		cJSON_Delete(docs);
		return kc_err_set(err, -KC_EPARSE, "yaml: expected one document, found %d", n);
	}
	*out = cJSON_DetachItemFromArray(docs, 0);
	cJSON_Delete(docs);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* writing */

/* go-yaml's isBase60Float: ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ (YAML 1.1
 * sexagesimal, quoted on output for other YAML 1.1 readers). */
static bool is_base60(const char *s, size_t n)
{
	size_t i = 0;
	int groups = 0;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (!(i < n && s[i] >= '0' && s[i] <= '9'))
		return false;
	while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
		i++;
	while (i < n && s[i] == ':') {
		i++;
		size_t d = count_digits(s, i, n);
		if (d == 0)
			return false;
		i += d >= 2 && s[i] <= '5' ? 2 : 1;
		groups++;
	}
	if (!groups)
		return false;
	if (i < n && s[i] == '.')
		for (i++; i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'); i++)
			;
	return i == n;
}

static yaml_scalar_style_t string_style(const char *s, size_t n, struct kc_str *scratch)
{
	if (memchr(s, '\n', n))
		return YAML_LITERAL_SCALAR_STYLE;
	struct scalar r;
	resolve(T_NONE, s, n, scratch, &r);
	if (r.kind != K_STR || is_base60(s, n) || (n == 2 && memcmp(s, "<<", 2) == 0))
		return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	return YAML_PLAIN_SCALAR_STYLE;
}

static int emit(yaml_emitter_t *em, yaml_event_t *ev)
{
	return yaml_emitter_emit(em, ev) ? 0 : -KC_EINVAL;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, size_t n, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	if (n > INT_MAX ||
	    !yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)s, (int)n, 1, 1, style))
		return -KC_EINVAL;
	return emit(em, &ev);
}

static int emit_string(yaml_emitter_t *em, const char *s, struct kc_str *scratch)
{
	size_t n = strlen(s);
	return emit_scalar(em, s, n, string_style(s, n, scratch));
}

static int __attribute__((noinline)) emit_number(yaml_emitter_t *em, double d)
{
	char num[KC_JSON_NUMBUF];
	return emit_scalar(em, num, kc_json_format_number(d, num), YAML_PLAIN_SCALAR_STYLE);
}

static int emit_node(yaml_emitter_t *em, const cJSON *v, struct kc_str *scratch)
{
	yaml_event_t ev;
	int rc;
	switch (v->type & 0xFF) {
	case cJSON_Object:
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		rc = emit(em, &ev);
		for (const cJSON *c = v->child; c && !rc; c = c->next) {
			rc = emit_string(em, c->string ? c->string : "", scratch);
			if (!rc)
				rc = emit_node(em, c, scratch);
		}
		if (rc)
			return rc;
		yaml_mapping_end_event_initialize(&ev);
		return emit(em, &ev);
	case cJSON_Array:
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		rc = emit(em, &ev);
		for (const cJSON *c = v->child; c && !rc; c = c->next)
			rc = emit_node(em, c, scratch);
		if (rc)
			return rc;
		yaml_sequence_end_event_initialize(&ev);
		return emit(em, &ev);
	case cJSON_String:
		return emit_string(em, v->valuestring ? v->valuestring : "", scratch);
	case cJSON_Number:
		return emit_number(em, v->valuedouble);
	case cJSON_True:
		return emit_scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE);
	case cJSON_False:
		return emit_scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE);
	case cJSON_Raw:
		return -KC_EINVAL;
	default:
		return emit_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
	}
}

static int write_to_str(void *data, unsigned char *buf, size_t size)
{
	kc_str_add(data, buf, size);
	return 1;
}

int kc_json_to_yaml(const cJSON *v, struct kc_str *out)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	struct kc_str scratch = KC_STR_INIT;
	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	yaml_emitter_set_output(&em, write_to_str, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_indent(&em, 2);
	yaml_emitter_set_width(&em, 80);
	yaml_emitter_set_break(&em, YAML_LN_BREAK);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	int rc = emit(&em, &ev);
	if (!rc) {
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
		rc = emit(&em, &ev);
	}
	if (!rc)
		rc = emit_node(&em, v, &scratch);
	if (!rc) {
		yaml_document_end_event_initialize(&ev, 1);
		rc = emit(&em, &ev);
	}
	if (!rc) {
		em.open_ended = 0; /* as go-yaml: no "..." after a plain root scalar */
		yaml_stream_end_event_initialize(&ev);
		rc = emit(&em, &ev);
	}
	if (!rc && !yaml_emitter_flush(&em))
		rc = -KC_EINVAL;
	yaml_emitter_delete(&em);
	kc_str_free(&scratch);
	return rc;
}
