/* schema.c - the .kcs parser, the immutable type graph and resource table, and the checks and
 * defaults derived from it.
 *
 * DESIGN: schema_load reads the text in two passes. The first collects every `type` line (its
 * package and name), so that the second can resolve each type reference as soon as it reads
 * it, whatever the order of the files; a last pass checks what needs whole types (key= and
 * mapkeys= name fields of the element type, defaults match their field's type). Everything the
 * graph holds (names, docs, fields, array/map nodes) lives in one arena freed by schema_free;
 * the primitive types are static and shared. The graph is never changed after schema_load, so
 * any thread may read it without locks; schema_builtin loads the embedded text once under
 * pthread_once. Lookups used per request (resources by group/version/plural and group/kind,
 * types by name) are hash maps.
 *
 * sch_check and sch_apply_defaults walk a request body along the type graph; their recursion
 * follows the body's nesting, bounded by SCH_MAX_DEPTH. */
#include "roles/apiserver/schema.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/map.h"
#include "lib/quantity.h"
#include "lib/str.h"

#define MAX_LINE_TOKENS 64
#define MAX_TYPEEXPR_DEPTH 16
#define MAX_LIST_ITEMS 64 /* enum=, mapkeys= */
#define MAX_NAME 200      /* type, field, resource and group names */
#define MAX_DEFAULT_BYTES 4096

/* ---------------------------------------------------------------------------------------------
 * arena */

struct achunk {
	struct achunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct achunk *head;
};

#define ACHUNK_SIZE ((size_t)64 << 10)

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct achunk *c = a->head;
	if (c && c->cap - c->used >= n) {
		void *p = (char *)c->data + c->used;
		c->used += n;
		return p;
	}
	size_t cap = n > ACHUNK_SIZE / 4 ? n : ACHUNK_SIZE;
	struct achunk *nc = xmalloc(sizeof *nc + cap);
	nc->cap = cap;
	nc->used = n;
	if (cap == n && c) { /* a big block: keep filling the current chunk */
		nc->next = c->next;
		c->next = nc;
	} else {
		nc->next = c;
		a->head = nc;
	}
	return nc->data;
}

static void *arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void arena_free(struct arena *a)
{
	struct achunk *c = a->head;
	while (c) {
		struct achunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * the graph */

static const struct sch_type prim_string = { .kind = SCH_STRING };
static const struct sch_type prim_int32 = { .kind = SCH_INT32 };
static const struct sch_type prim_int64 = { .kind = SCH_INT64 };
static const struct sch_type prim_bool = { .kind = SCH_BOOL };
static const struct sch_type prim_double = { .kind = SCH_DOUBLE };
static const struct sch_type prim_quantity = { .kind = SCH_QUANTITY };
static const struct sch_type prim_intorstring = { .kind = SCH_INT_OR_STRING };
static const struct sch_type prim_time = { .kind = SCH_TIME };
static const struct sch_type prim_microtime = { .kind = SCH_MICROTIME };
static const struct sch_type prim_bytes = { .kind = SCH_BYTES };
static const struct sch_type prim_any = { .kind = SCH_ANY };
static const struct sch_type prim_object = { .kind = SCH_FREE_OBJECT };

static const struct {
	const char *name;
	const struct sch_type *type;
} primitives[] = {
	{ "string", &prim_string },     { "int32", &prim_int32 },
	{ "int64", &prim_int64 },       { "bool", &prim_bool },
	{ "double", &prim_double },     { "quantity", &prim_quantity },
	{ "intOrString", &prim_intorstring }, { "time", &prim_time },
	{ "microtime", &prim_microtime }, { "bytes", &prim_bytes },
	{ "any", &prim_any },           { "object", &prim_object },
};

/* Marks a short name declared in more than one package. */
static char ambiguous_mark;

struct schema {
	struct arena arena;
	struct sch_type *types; /* in declaration order */
	size_t ntypes;
	struct api_resource *resources;
	size_t nresources;
	struct kc_map by_full;  /* full name -> struct sch_type */
	struct kc_map by_short; /* short name -> struct sch_type, or &ambiguous_mark */
	struct kc_map res_by_path; /* "group/version/plural" -> struct api_resource */
	struct kc_map res_by_kind; /* "group/Kind" -> first struct api_resource */
	cJSON **defaults;          /* owned default values */
	size_t ndefaults, capdefaults;
};

/* ---------------------------------------------------------------------------------------------
 * lines and tokens */

struct lines {
	const char *p, *end;
	const char *file; /* not NUL-terminated: filelen bytes */
	int filelen;
	unsigned line;
};

/* The next line (without its newline); "#file NAME" lines switch the file and restart the
 * count. Returns false at the end. */
static bool next_line(struct lines *it, const char **l, size_t *n)
{
	for (;;) {
		if (it->p >= it->end)
			return false;
		const char *s = it->p;
		const char *e = memchr(s, '\n', (size_t)(it->end - s));
		if (!e)
			e = it->end;
		it->p = e < it->end ? e + 1 : e;
		size_t len = (size_t)(e - s);
		if (len && s[len - 1] == '\r')
			len--;
		if (len > 6 && memcmp(s, "#file ", 6) == 0) {
			it->file = s + 6;
			it->filelen = (int)(len - 6 > 200 ? 200 : len - 6);
			it->line = 0;
			continue;
		}
		it->line++;
		*l = s;
		*n = len;
		return true;
	}
}

struct tok {
	const char *s; /* raw text, quotes included */
	size_t n;
	bool quoted; /* the whole token is one double-quoted string */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool tok_is(const struct tok *t, const char *word)
{
	return !t->quoted && strlen(word) == t->n && memcmp(t->s, word, t->n) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * parser */

struct type_src {
	const char *file;
	int filelen;
	unsigned line;
	unsigned *field_lines; /* per field */
};

struct parser {
	struct schema *s;
	struct kc_err *err;
	struct lines it;
	const char *pkg; /* arena; NULL before the first package line */
	const char *group, *version;
	/* types in the making (pass 1) */
	size_t captypes;
	struct type_src *src; /* per type */
	/* the type receiving field lines */
	struct sch_type *cur;
	size_t cur_index, next_type;
	struct sch_field *fields;
	unsigned *lines;
	size_t nfields, capfields;
	size_t capres;
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[KC_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (p->it.file)
		return kc_err_set(p->err, -KC_EPARSE, "%.*s:%u: %s", p->it.filelen, p->it.file,
				  p->it.line, msg);
	return kc_err_set(p->err, -KC_EPARSE, "line %u: %s", p->it.line, msg);
}

/* Splits a line into tokens. A token is a run of non-blank characters in which a double quote
 * opens a string that runs, blanks included, to the next unescaped double quote. */
static int tokenize(struct parser *p, const char *l, size_t n, struct tok *toks, size_t *ntoks)
{
	size_t i = 0, k = 0;
	for (;;) {
		while (i < n && is_blank(l[i]))
			i++;
		if (i >= n)
			break;
		if (k == MAX_LINE_TOKENS)
			return perr(p, "more than %d tokens on a line", MAX_LINE_TOKENS);
		size_t start = i;
		bool quoted = l[i] == '"';
		while (i < n && !is_blank(l[i])) {
			if (l[i] == '"') {
				size_t q = i++;
				while (i < n && l[i] != '"') {
					if (l[i] == '\\' && i + 1 < n)
						i++;
					i++;
				}
				if (i >= n)
					return perr(p, "unterminated string");
				i++;
				if (q == start && quoted && i < n && !is_blank(l[i]))
					return perr(p, "text right after a quoted string");
			} else {
				i++;
			}
		}
		toks[k].s = l + start;
		toks[k].n = i - start;
		toks[k].quoted = quoted;
		k++;
	}
	*ntoks = k;
	return 0;
}

/* The text of a quoted token with its escapes (\" and \\) undone, in the arena. */
static int unquote(struct parser *p, const struct tok *t, const char **out)
{
	char *d = arena_alloc(&p->s->arena, t->n);
	size_t k = 0;
	for (size_t i = 1; i + 1 < t->n; i++) {
		char c = t->s[i];
		if (c == '\\') {
			c = t->s[++i];
			if (c != '"' && c != '\\')
				return perr(p, "unknown escape \\%c in a string (only \\\" and \\\\)", c);
		}
		d[k++] = c;
	}
	d[k] = '\0';
	*out = d;
	return 0;
}

static bool valid_name(const char *s, size_t n, bool dots)
{
	if (n == 0 || n > MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '$' || (dots && c == '.')))
			return false;
	}
	return true;
}

/* A name token: bare, valid, copied into the arena. */
static int name_tok(struct parser *p, const struct tok *t, bool dots, const char *what,
		    const char **out)
{
	if (t->quoted || !valid_name(t->s, t->n, dots))
		return perr(p, "invalid %s '%.*s'", what, (int)(t->n > 60 ? 60 : t->n), t->s);
	*out = arena_strndup(&p->s->arena, t->s, t->n);
	return 0;
}

static const char *full_name_of(struct parser *p, const char *pkg, const char *s, size_t n)
{
	size_t pl = strlen(pkg);
	char *f = arena_alloc(&p->s->arena, pl + 1 + n + 1);
	memcpy(f, pkg, pl);
	f[pl] = '.';
	memcpy(f + pl + 1, s, n);
	f[pl + 1 + n] = '\0';
	return f;
}

static const char *arena_join(struct arena *a, const char *x, const char *sep, const char *y)
{
	size_t xl = strlen(x), sl = strlen(sep), yl = strlen(y);
	char *r = arena_alloc(a, xl + sl + yl + 1);
	memcpy(r, x, xl);
	memcpy(r + xl, sep, sl);
	memcpy(r + xl + sl, y, yl + 1);
	return r;
}

/* A named type reference: current package, else a unique short name, else fully qualified. */
static int resolve(struct parser *p, const char *s, size_t n, const struct sch_type **out)
{
	struct schema *sc = p->s;
	if (n > 2 * MAX_NAME)
		return perr(p, "type name too long");
	if (memchr(s, '.', n)) {
		*out = kc_map_get(&sc->by_full, s, n);
		if (*out)
			return 0;
		return perr(p, "unknown type %.*s", (int)n, s);
	}
	if (p->pkg) {
		char key[3 * MAX_NAME + 2];
		size_t pl = strlen(p->pkg);
		memcpy(key, p->pkg, pl);
		key[pl] = '.';
		memcpy(key + pl + 1, s, n);
		*out = kc_map_get(&sc->by_full, key, pl + 1 + n);
		if (*out)
			return 0;
	}
	void *v = kc_map_get(&sc->by_short, s, n);
	if (v == &ambiguous_mark)
		return perr(p, "type %.*s is declared in more than one package: write it fully "
			       "qualified", (int)n, s);
	if (!v)
		return perr(p, "unknown type %.*s", (int)n, s);
	*out = v;
	return 0;
}

static int parse_typeexpr(struct parser *p, const char *s, size_t n, int depth,
			  const struct sch_type **out)
{
	if (depth > MAX_TYPEEXPR_DEPTH)
		return perr(p, "type expression nested too deeply");
	if (n > 2 && s[0] == '[' && s[1] == ']') {
		const struct sch_type *elem;
		int rc = parse_typeexpr(p, s + 2, n - 2, depth + 1, &elem);
		if (rc)
			return rc;
		struct sch_type *t = arena_zalloc(&p->s->arena, sizeof *t);
		t->kind = SCH_ARRAY;
		t->elem = elem;
		*out = t;
		return 0;
	}
	if (n > 5 && memcmp(s, "map[", 4) == 0) {
		if (s[n - 1] != ']')
			return perr(p, "map type must be written map[<type>]: '%.*s'", (int)n, s);
		const struct sch_type *elem;
		int rc = parse_typeexpr(p, s + 4, n - 5, depth + 1, &elem);
		if (rc)
			return rc;
		struct sch_type *t = arena_zalloc(&p->s->arena, sizeof *t);
		t->kind = SCH_MAP;
		t->elem = elem;
		*out = t;
		return 0;
	}
	for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
		if (strlen(primitives[i].name) == n && memcmp(primitives[i].name, s, n) == 0) {
			*out = primitives[i].type;
			return 0;
		}
	}
	if (!valid_name(s, n, true))
		return perr(p, "invalid type '%.*s'", (int)(n > 60 ? 60 : n), s);
	return resolve(p, s, n, out);
}

/* Splits "a,b,c" (non-empty items) into a NULL-terminated arena array. */
static int split_list(struct parser *p, const char *s, size_t n, size_t max, const char *what,
		      const char ***out, size_t *count)
{
	const char **arr = arena_alloc(&p->s->arena, (max + 1) * sizeof *arr);
	size_t k = 0, i = 0;
	if (n == 0)
		return perr(p, "empty %s", what);
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		if (j == i)
			return perr(p, "empty item in %s", what);
		if (k == max)
			return perr(p, "more than %zu items in %s", max, what);
		arr[k++] = arena_strndup(&p->s->arena, s + i, j - i);
		i = j + 1;
	}
	arr[k] = NULL;
	*out = arr;
	if (count)
		*count = k;
	return 0;
}

/* Ends the type receiving fields: its fields move into the arena. */
static void flush_type(struct parser *p)
{
	if (!p->cur)
		return;
	struct sch_field *f = arena_alloc(&p->s->arena, (p->nfields ? p->nfields : 1) * sizeof *f);
	unsigned *lines = arena_alloc(&p->s->arena, (p->nfields ? p->nfields : 1) * sizeof *lines);
	if (p->nfields) {
		memcpy(f, p->fields, p->nfields * sizeof *f);
		memcpy(lines, p->lines, p->nfields * sizeof *lines);
	}
	p->cur->fields = f;
	p->cur->nfields = p->nfields;
	p->src[p->cur_index].field_lines = lines;
	p->cur = NULL;
	p->nfields = 0;
}

static void keep_default(struct schema *s, cJSON *v)
{
	if (s->ndefaults == s->capdefaults) {
		s->capdefaults = kc_grow_cap(s->capdefaults, s->ndefaults + 1, sizeof *s->defaults);
		s->defaults = xrealloc(s->defaults, s->capdefaults * sizeof *s->defaults);
	}
	s->defaults[s->ndefaults++] = v;
}

/* Largest protobuf field number. */
#define PROTO_MAX_FIELD 536870911u

static int proto_number(const char *v, size_t vn, unsigned *out)
{
	if (!vn || vn > 9 || v[0] == '0')
		return -1;
	unsigned long n = 0;
	for (size_t i = 0; i < vn; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (unsigned long)(v[i] - '0');
	}
	if (n > PROTO_MAX_FIELD)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* proto=N or proto=M.N */
static int parse_proto(struct parser *p, const char *field, const char *v, size_t vn,
		       unsigned *embed, unsigned *num)
{
	const char *dot = memchr(v, '.', vn);
	*embed = 0;
	if (dot && proto_number(v, (size_t)(dot - v), embed))
		return perr(p, "field %s: proto= needs a field number from 1 to %u", field,
			    PROTO_MAX_FIELD);
	const char *nv = dot ? dot + 1 : v;
	size_t nn = dot ? vn - (size_t)(dot - v) - 1 : vn;
	if (proto_number(nv, nn, num))
		return perr(p, "field %s: proto= needs a field number from 1 to %u", field,
			    PROTO_MAX_FIELD);
	return 0;
}

static int parse_field(struct parser *p, const struct tok *toks, size_t n)
{
	if (!p->cur)
		return perr(p, "field line outside a type");
	if (n < 2)
		return perr(p, "field line needs a name and a type");
	struct sch_field f = { .doc = "" };
	int rc = name_tok(p, &toks[0], false, "field name", &f.name);
	if (rc)
		return rc;
	for (size_t i = 0; i < p->nfields; i++)
		if (strcmp(p->fields[i].name, f.name) == 0)
			return perr(p, "duplicate field %s in type %s", f.name, p->cur->name);
	if (toks[1].quoted)
		return perr(p, "field %s: missing type", f.name);
	rc = parse_typeexpr(p, toks[1].s, toks[1].n, 0, &f.type);
	if (rc)
		return rc;
	bool have_list = false;
	for (size_t i = 2; i < n; i++) {
		const struct tok *t = &toks[i];
		if (t->quoted) {
			if (i != n - 1)
				return perr(p, "field %s: the doc string must come last", f.name);
			rc = unquote(p, t, &f.doc);
			if (rc)
				return rc;
			continue;
		}
		const char *eq = memchr(t->s, '=', t->n);
		size_t kl = eq ? (size_t)(eq - t->s) : t->n;
		const char *v = eq ? eq + 1 : NULL;
		size_t vn = eq ? t->n - kl - 1 : 0;
#define FLAG(word) (kl == strlen(word) && memcmp(t->s, word, kl) == 0)
		if (!eq && FLAG("required")) {
			f.required = true;
		} else if (!eq && FLAG("readonly")) {
			f.readonly = true;
		} else if (!eq && FLAG("ptr")) {
			f.ptr = true;
		} else if (!eq && FLAG("duration")) {
			f.duration = true;
		} else if (eq && FLAG("proto")) {
			rc = parse_proto(p, f.name, v, vn, &f.proto_embed, &f.proto);
			if (rc)
				return rc;
		} else if (eq && FLAG("key")) {
			if (!valid_name(v, vn, false))
				return perr(p, "field %s: invalid key=", f.name);
			f.merge_key = arena_strndup(&p->s->arena, v, vn);
			f.patch_strategy |= SCH_PATCH_MERGE;
		} else if (eq && FLAG("strategy")) {
			if (vn == 5 && memcmp(v, "merge", 5) == 0)
				f.patch_strategy |= SCH_PATCH_MERGE;
			else if (vn == 10 && memcmp(v, "retainKeys", 10) == 0)
				f.patch_strategy |= SCH_PATCH_RETAIN_KEYS;
			else if (vn == 16 && memcmp(v, "merge,retainKeys", 16) == 0)
				f.patch_strategy |= SCH_PATCH_MERGE | SCH_PATCH_RETAIN_KEYS;
			else
				return perr(p, "field %s: strategy= must be merge, retainKeys or "
					       "merge,retainKeys", f.name);
		} else if (eq && FLAG("list")) {
			if (vn == 6 && memcmp(v, "atomic", 6) == 0)
				f.list_type = SCH_LIST_ATOMIC;
			else if (vn == 3 && memcmp(v, "set", 3) == 0)
				f.list_type = SCH_LIST_SET;
			else if (vn == 3 && memcmp(v, "map", 3) == 0)
				f.list_type = SCH_LIST_MAP;
			else
				return perr(p, "field %s: list= must be atomic, set or map", f.name);
			have_list = true;
		} else if (eq && FLAG("mapkeys")) {
			const char **keys;
			rc = split_list(p, v, vn, MAX_LIST_ITEMS, "mapkeys=", &keys, NULL);
			if (rc)
				return rc;
			f.map_keys = keys;
		} else if (eq && FLAG("enum")) {
			const char **vals;
			rc = split_list(p, v, vn, MAX_LIST_ITEMS, "enum=", &vals, NULL);
			if (rc)
				return rc;
			f.enum_values = vals;
		} else if (eq && FLAG("default")) {
			struct kc_err jerr = { 0 };
			cJSON *dv = NULL;
			const struct kc_json_limits lim = { .max_bytes = MAX_DEFAULT_BYTES,
							    .max_depth = 16 };
			if (kc_json_parse(v, vn, &lim, &dv, &jerr))
				return perr(p, "field %s: default= is not JSON: %s", f.name, jerr.msg);
			keep_default(p->s, dv);
			f.default_value = dv;
		} else {
			return perr(p, "field %s: unknown flag '%.*s'", f.name,
				    (int)(t->n > 60 ? 60 : t->n), t->s);
		}
#undef FLAG
	}
	if (f.map_keys && f.list_type != SCH_LIST_MAP)
		return perr(p, "field %s: mapkeys= needs list=map", f.name);
	if (f.list_type == SCH_LIST_MAP && !f.map_keys)
		return perr(p, "field %s: list=map needs mapkeys=", f.name);
	if ((have_list || f.merge_key) && f.type->kind != SCH_ARRAY)
		return perr(p, "field %s: list= and key= apply to arrays only", f.name);
	if (f.patch_strategy && f.type->kind != SCH_ARRAY && f.type->kind != SCH_STRUCT &&
	    f.type->kind != SCH_MAP)
		return perr(p, "field %s: a patch strategy applies to arrays, maps and types only",
			    f.name);
	if (f.enum_values && f.type->kind != SCH_STRING &&
	    !(f.type->kind == SCH_ARRAY && f.type->elem->kind == SCH_STRING))
		return perr(p, "field %s: enum= applies to strings only", f.name);
	if (f.ptr && f.type->kind != SCH_STRING && f.type->kind != SCH_INT32 &&
	    f.type->kind != SCH_INT64 && f.type->kind != SCH_BOOL && f.type->kind != SCH_DOUBLE &&
	    f.type->kind != SCH_QUANTITY && f.type->kind != SCH_INT_OR_STRING)
		return perr(p, "field %s: ptr applies to scalar fields only", f.name);
	if (f.duration && f.type->kind != SCH_STRING)
		return perr(p, "field %s: duration applies to strings only", f.name);
	for (size_t i = 0; f.proto && i < p->nfields; i++) {
		const struct sch_field *o = &p->fields[i];
		if (!o->proto)
			continue;
		if (o->proto_embed == f.proto_embed && o->proto == f.proto)
			return perr(p, "field %s: proto=%u already used by field %s", f.name,
				    f.proto, o->name);
		if ((!o->proto_embed && f.proto_embed == o->proto) ||
		    (!f.proto_embed && o->proto_embed == f.proto))
			return perr(p, "field %s: proto=%u clashes with the embedded message of "
				       "field %s", f.name, f.proto_embed ? f.proto_embed : f.proto,
				    o->name);
	}

	if (p->nfields == p->capfields) {
		p->capfields = kc_grow_cap(p->capfields, p->nfields + 1, sizeof *p->fields);
		p->fields = xrealloc(p->fields, p->capfields * sizeof *p->fields);
		p->lines = xrealloc(p->lines, p->capfields * sizeof *p->lines);
	}
	p->lines[p->nfields] = p->it.line;
	p->fields[p->nfields++] = f;
	return 0;
}

static int group_tok(struct parser *p, const struct tok *t, const char **out)
{
	if (tok_is(t, "core")) {
		*out = "";
		return 0;
	}
	return name_tok(p, t, true, "group", out);
}

/* The type 'Kind' of the current package, for resource and kind lines. */
static int kind_type(struct parser *p, const struct tok *t, struct sch_type **out)
{
	if (!p->pkg)
		return perr(p, "no package line before this line");
	const char *kind;
	int rc = name_tok(p, t, false, "kind", &kind);
	if (rc)
		return rc;
	const char *full = full_name_of(p, p->pkg, kind, strlen(kind));
	/* the map only holds pointers into p->s->types, which this file owns */
	const struct sch_type *ct = kc_map_sget(&p->s->by_full, full);
	if (!ct)
		return perr(p, "no type %s in package %s", kind, p->pkg);
	*out = &p->s->types[ct - p->s->types];
	return 0;
}

static int set_gvk(struct parser *p, struct sch_type *t, const char *group, const char *version)
{
	if (t->gvk) {
		if (strcmp(t->gvk->group, group) == 0 && strcmp(t->gvk->version, version) == 0)
			return 0;
		return perr(p, "type %s already has the kind %s/%s/%s", t->name, t->gvk->group,
			    t->gvk->version, t->gvk->kind);
	}
	struct sch_gvk *g = arena_alloc(&p->s->arena, sizeof *g);
	g->group = group;
	g->version = version;
	g->kind = t->name;
	t->gvk = g;
	return 0;
}

static const struct {
	const char *name;
	unsigned bit;
} verb_names[] = {
	{ "get", API_VERB_GET },       { "list", API_VERB_LIST },
	{ "watch", API_VERB_WATCH },   { "create", API_VERB_CREATE },
	{ "update", API_VERB_UPDATE }, { "patch", API_VERB_PATCH },
	{ "delete", API_VERB_DELETE }, { "deletecollection", API_VERB_DELETECOLLECTION },
};

static int parse_verbs(struct parser *p, const char *v, size_t vn, unsigned *out)
{
	if (vn == 3 && memcmp(v, "all", 3) == 0) {
		*out = API_VERBS_ALL;
		return 0;
	}
	if (vn == 8 && memcmp(v, "readonly", 8) == 0) {
		*out = API_VERB_GET | API_VERB_LIST | API_VERB_WATCH;
		return 0;
	}
	if (vn == 11 && memcmp(v, "create-only", 11) == 0) {
		*out = API_VERB_CREATE;
		return 0;
	}
	unsigned bits = 0;
	size_t i = 0;
	while (i <= vn) {
		size_t j = i;
		while (j < vn && v[j] != ',')
			j++;
		size_t k;
		for (k = 0; k < sizeof verb_names / sizeof verb_names[0]; k++)
			if (strlen(verb_names[k].name) == j - i &&
			    memcmp(verb_names[k].name, v + i, j - i) == 0)
				break;
		if (k == sizeof verb_names / sizeof verb_names[0])
			return perr(p, "unknown verb '%.*s'", (int)(j - i > 40 ? 40 : j - i), v + i);
		bits |= verb_names[k].bit;
		i = j + 1;
	}
	*out = bits;
	return 0;
}

static int parse_resource(struct parser *p, const struct tok *toks, size_t n)
{
	if (n < 5)
		return perr(p, "resource needs <plural> <Kind> <singular> namespaced|cluster");
	if (!p->version)
		return perr(p, "resource before any group line");
	struct api_resource r = { .group = p->group, .version = p->version, .verbs = API_VERBS_ALL };
	struct sch_type *t;
	int rc = name_tok(p, &toks[1], true, "resource name", &r.plural);
	if (!rc)
		rc = kind_type(p, &toks[2], &t);
	if (!rc)
		rc = name_tok(p, &toks[3], true, "singular name", &r.singular);
	if (rc)
		return rc;
	if (tok_is(&toks[4], "namespaced"))
		r.namespaced = true;
	else if (!tok_is(&toks[4], "cluster"))
		return perr(p, "resource %s: scope must be namespaced or cluster", r.plural);
	for (size_t i = 5; i < n; i++) {
		const struct tok *a = &toks[i];
		const char *eq = a->quoted ? NULL : memchr(a->s, '=', a->n);
		if (!eq)
			return perr(p, "resource %s: expected attr=value, got '%.*s'", r.plural,
				    (int)(a->n > 60 ? 60 : a->n), a->s);
		size_t kl = (size_t)(eq - a->s), vn = a->n - kl - 1;
		const char *v = eq + 1;
		const char **items;
		size_t count;
		if (kl == 5 && memcmp(a->s, "short", 5) == 0) {
			rc = split_list(p, v, vn, API_MAX_SHORT, "short=", &items, &count);
			if (!rc)
				memcpy(r.short_names, items, (count + 1) * sizeof *items);
		} else if (kl == 3 && memcmp(a->s, "cat", 3) == 0) {
			rc = split_list(p, v, vn, API_MAX_CATEGORIES, "cat=", &items, &count);
			if (!rc)
				memcpy(r.categories, items, (count + 1) * sizeof *items);
		} else if (kl == 3 && memcmp(a->s, "sub", 3) == 0) {
			rc = split_list(p, v, vn, API_MAX_SUBRESOURCES, "sub=", &items, &count);
			if (!rc)
				memcpy(r.subresources, items, (count + 1) * sizeof *items);
		} else if (kl == 5 && memcmp(a->s, "verbs", 5) == 0) {
			rc = parse_verbs(p, v, vn, &r.verbs);
		} else if (kl == 4 && memcmp(a->s, "path", 4) == 0) {
			if (vn < 2 || v[0] != '/' || v[vn - 1] == '/' || memchr(v, '"', vn))
				return perr(p, "resource %s: path= must start with '/' and not end "
					       "with '/'", r.plural);
			r.storage_prefix = arena_strndup(&p->s->arena, v, vn);
		} else {
			return perr(p, "resource %s: unknown attribute '%.*s'", r.plural, (int)kl,
				    a->s);
		}
		if (rc)
			return rc;
	}
	r.kind = t->name;
	r.type = t;
	r.list_kind = arena_join(&p->s->arena, t->name, "", "List");
	r.group_version = r.group[0] ? arena_join(&p->s->arena, r.group, "/", r.version) : r.version;
	if (!r.storage_prefix)
		r.storage_prefix = arena_join(&p->s->arena, "/registry", "/", r.plural);
	rc = set_gvk(p, t, r.group, r.version);
	if (rc)
		return rc;
	struct schema *s = p->s;
	for (size_t i = 0; i < s->nresources; i++)
		if (strcmp(s->resources[i].group, r.group) == 0 &&
		    strcmp(s->resources[i].version, r.version) == 0 &&
		    strcmp(s->resources[i].plural, r.plural) == 0)
			return perr(p, "duplicate resource %s in %s", r.plural, r.group_version);
	if (s->nresources == p->capres) {
		p->capres = kc_grow_cap(p->capres, s->nresources + 1, sizeof *s->resources);
		s->resources = xrealloc(s->resources, p->capres * sizeof *s->resources);
	}
	s->resources[s->nresources++] = r;
	return 0;
}

static int parse_directive(struct parser *p, const struct tok *toks, size_t n)
{
	int rc;
	if (tok_is(&toks[0], "type")) {
		/* pass 1 created it; find it again by position */
		if (n > 3 || (n == 3 && !toks[2].quoted))
			return perr(p, "type line is: type <Name> [\"doc\"]");
		flush_type(p);
		p->cur_index = p->next_type++;
		struct sch_type *t = &p->s->types[p->cur_index];
		p->cur = t;
		if (n == 3) {
			rc = unquote(p, &toks[2], &t->doc);
			if (rc)
				return rc;
		}
		return 0;
	}
	flush_type(p);
	if (tok_is(&toks[0], "package")) {
		if (n != 2)
			return perr(p, "package line is: package <prefix>");
		return name_tok(p, &toks[1], true, "package", &p->pkg);
	}
	if (tok_is(&toks[0], "group")) {
		if (n != 3)
			return perr(p, "group line is: group <group> <version>");
		rc = group_tok(p, &toks[1], &p->group);
		if (!rc)
			rc = name_tok(p, &toks[2], false, "version", &p->version);
		return rc;
	}
	if (tok_is(&toks[0], "resource"))
		return parse_resource(p, toks, n);
	if (tok_is(&toks[0], "kind")) {
		if (n != 4)
			return perr(p, "kind line is: kind <Kind> <group> <version>");
		struct sch_type *t;
		const char *group, *version;
		rc = kind_type(p, &toks[1], &t);
		if (!rc)
			rc = group_tok(p, &toks[2], &group);
		if (!rc)
			rc = name_tok(p, &toks[3], false, "version", &version);
		if (!rc)
			rc = set_gvk(p, t, group, version);
		return rc;
	}
	return perr(p, "unknown directive '%.*s'", (int)(toks[0].n > 40 ? 40 : toks[0].n),
		    toks[0].s);
}

static bool comment_or_blank(const char *l, size_t n)
{
	size_t i = 0;
	while (i < n && is_blank(l[i]))
		i++;
	return i == n || l[i] == '#';
}

/* Pass 1: every type line, so that pass 2 can resolve references in any order. */
static int collect_types(struct parser *p, const char *text, size_t len)
{
	struct schema *s = p->s;
	const char *l;
	size_t n;
	const char *pkg = NULL;
	p->it = (struct lines){ .p = text, .end = text + len };
	while (next_line(&p->it, &l, &n)) {
		if (comment_or_blank(l, n) || is_blank(l[0]))
			continue;
		struct tok toks[MAX_LINE_TOKENS];
		size_t nt;
		int rc = tokenize(p, l, n, toks, &nt);
		if (rc)
			return rc;
		if (tok_is(&toks[0], "package") && nt == 2) {
			rc = name_tok(p, &toks[1], true, "package", &pkg);
			if (rc)
				return rc;
			continue;
		}
		if (!tok_is(&toks[0], "type"))
			continue;
		if (nt < 2)
			return perr(p, "type line is: type <Name> [\"doc\"]");
		if (!pkg)
			return perr(p, "type before any package line");
		const char *name;
		rc = name_tok(p, &toks[1], false, "type name", &name);
		if (rc)
			return rc;
		const char *full = full_name_of(p, pkg, name, strlen(name));
		if (kc_map_sget(&s->by_full, full))
			return perr(p, "duplicate type %s", full);
		if (s->ntypes == p->captypes) {
			p->captypes = kc_grow_cap(p->captypes, s->ntypes + 1, sizeof *s->types);
			s->types = xrealloc(s->types, p->captypes * sizeof *s->types);
			p->src = xrealloc(p->src, p->captypes * sizeof *p->src);
		}
		struct sch_type *t = &s->types[s->ntypes];
		*t = (struct sch_type){ .kind = SCH_STRUCT, .name = name, .full_name = full,
					.doc = "" };
		p->src[s->ntypes] = (struct type_src){ .file = p->it.file,
						       .filelen = p->it.filelen,
						       .line = p->it.line };
		s->ntypes++;
		kc_map_sput(&s->by_full, full, t); /* placeholder value: re-pointed below */
	}
	/* the array is final now: point the maps at it */
	for (size_t i = 0; i < s->ntypes; i++) {
		struct sch_type *t = &s->types[i];
		kc_map_sput(&s->by_full, t->full_name, t);
		void *prev = kc_map_sget(&s->by_short, t->name);
		kc_map_sput(&s->by_short, t->name, prev ? (void *)&ambiguous_mark : (void *)t);
	}
	return 0;
}

static int parse_all(struct parser *p, const char *text, size_t len)
{
	const char *l;
	size_t n;
	p->it = (struct lines){ .p = text, .end = text + len };
	p->pkg = NULL;
	p->next_type = 0;
	while (next_line(&p->it, &l, &n)) {
		if (comment_or_blank(l, n))
			continue;
		struct tok toks[MAX_LINE_TOKENS];
		size_t nt;
		int rc = tokenize(p, l, n, toks, &nt);
		if (rc)
			return rc;
		if (is_blank(l[0])) {
			rc = parse_field(p, toks, nt);
		} else {
			rc = parse_directive(p, toks, nt);
		}
		if (rc)
			return rc;
	}
	flush_type(p);
	return 0;
}

static int check_value(const struct sch_type *t, cJSON *v, struct kc_str *path, cJSON *unknown,
		       bool drop, unsigned depth, size_t *nunknown, struct kc_err *err);

/* Errors found once every type is complete, reported at the field's own line. */
static int check_fields(struct parser *p)
{
	struct schema *s = p->s;
	for (size_t i = 0; i < s->ntypes; i++) {
		const struct sch_type *t = &s->types[i];
		for (size_t j = 0; j < t->nfields; j++) {
			const struct sch_field *f = &t->fields[j];
			p->it.file = p->src[i].file;
			p->it.filelen = p->src[i].filelen;
			p->it.line = p->src[i].field_lines[j];
			const struct sch_type *elem = f->type->kind == SCH_ARRAY ? f->type->elem : NULL;
			if (f->merge_key && elem && elem->kind == SCH_STRUCT &&
			    !sch_field(elem, f->merge_key))
				return perr(p, "field %s.%s: key=%s is not a field of %s", t->name,
					    f->name, f->merge_key, elem->name);
			for (size_t k = 0; f->map_keys && f->map_keys[k]; k++) {
				if (!elem || elem->kind != SCH_STRUCT)
					return perr(p, "field %s.%s: list=map needs a list of a type",
						    t->name, f->name);
				if (!sch_field(elem, f->map_keys[k]))
					return perr(p, "field %s.%s: mapkeys: %s is not a field of %s",
						    t->name, f->name, f->map_keys[k], elem->name);
			}
			if (f->default_value) {
				struct kc_err e = { 0 };
				struct kc_str path = KC_STR_INIT;
				size_t nu = 0;
				cJSON *unk = kc_json_new_array();
				/* check_value needs a mutable tree: check a copy */
				cJSON *copy = kc_json_dup(f->default_value);
				int rc = check_value(f->type, copy, &path, unk, false, 0, &nu, &e);
				bool has_unknown = cJSON_GetArraySize(unk) > 0;
				cJSON_Delete(copy);
				cJSON_Delete(unk);
				kc_str_free(&path);
				if (rc)
					return perr(p, "field %s.%s: default does not fit the type: %s",
						    t->name, f->name, e.msg);
				if (has_unknown)
					return perr(p, "field %s.%s: default has unknown fields",
						    t->name, f->name);
			}
		}
	}
	return 0;
}

static void index_resources(struct schema *s)
{
	char key[3 * MAX_NAME + 8];
	for (size_t i = 0; i < s->nresources; i++) {
		struct api_resource *r = &s->resources[i];
		int n = snprintf(key, sizeof key, "%s/%s/%s", r->group, r->version, r->plural);
		kc_map_put(&s->res_by_path, key, (size_t)n, r);
		n = snprintf(key, sizeof key, "%s/%s", r->group, r->kind);
		if (!kc_map_get(&s->res_by_kind, key, (size_t)n))
			kc_map_put(&s->res_by_kind, key, (size_t)n, r);
	}
}

extern const char kc_schema_text[];

int schema_load(const char *text, struct schema **out, struct kc_err *err)
{
	if (!text)
		text = kc_schema_text;
	*out = NULL;
	struct schema *s = xcalloc(1, sizeof *s);
	kc_map_init(&s->by_full, NULL);
	kc_map_init(&s->by_short, NULL);
	kc_map_init(&s->res_by_path, NULL);
	kc_map_init(&s->res_by_kind, NULL);
	struct parser p = { .s = s, .err = err };
	size_t len = strlen(text);
	int rc = collect_types(&p, text, len);
	if (!rc)
		rc = parse_all(&p, text, len);
	if (!rc)
		rc = check_fields(&p);
	free(p.fields);
	free(p.lines);
	free(p.src);
	if (rc) {
		schema_free(s);
		return rc;
	}
	index_resources(s);
	*out = s;
	return 0;
}

void schema_free(struct schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ndefaults; i++)
		cJSON_Delete(s->defaults[i]);
	free(s->defaults);
	kc_map_free(&s->by_full);
	kc_map_free(&s->by_short);
	kc_map_free(&s->res_by_path);
	kc_map_free(&s->res_by_kind);
	free(s->types);
	free(s->resources);
	arena_free(&s->arena);
	free(s);
}

static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;
static struct schema *builtin;

static void load_builtin(void)
{
	struct kc_err err = { 0 };
	if (schema_load(NULL, &builtin, &err) != 0) {
		fprintf(stderr, "kc: the built-in schema does not load: %s\n", err.msg);
		abort();
	}
}

const struct schema *schema_builtin(void)
{
	pthread_once(&builtin_once, load_builtin);
	return builtin;
}

/* ---------------------------------------------------------------------------------------------
 * lookups */

size_t schema_resource_count(const struct schema *s)
{
	return s->nresources;
}

const struct api_resource *schema_resource_at(const struct schema *s, size_t i)
{
	return i < s->nresources ? &s->resources[i] : NULL;
}

/* Joins up to three parts with '/' into key; returns the length, or 0 when it does not fit. */
static size_t join_key(char *key, size_t cap, const char *a, const char *b, const char *c)
{
	size_t al = strlen(a), bl = strlen(b), cl = c ? strlen(c) : 0;
	size_t n = al + 1 + bl + (c ? 1 + cl : 0);
	if (n >= cap)
		return 0;
	memcpy(key, a, al);
	key[al] = '/';
	memcpy(key + al + 1, b, bl);
	if (c) {
		key[al + 1 + bl] = '/';
		memcpy(key + al + 2 + bl, c, cl);
	}
	return n;
}

const struct api_resource *schema_resource(const struct schema *s, const char *group,
					   const char *version, const char *plural)
{
	char key[512];
	if (!group || !version || !plural)
		return NULL;
	size_t n = join_key(key, sizeof key, group, version, plural);
	return n ? kc_map_get(&s->res_by_path, key, n) : NULL;
}

const struct api_resource *schema_resource_by_kind(const struct schema *s, const char *group,
						   const char *kind)
{
	char key[512];
	if (!group || !kind)
		return NULL;
	size_t n = join_key(key, sizeof key, group, kind, NULL);
	return n ? kc_map_get(&s->res_by_kind, key, n) : NULL;
}

const struct sch_type *schema_type(const struct schema *s, const char *name)
{
	if (!name)
		return NULL;
	const struct sch_type *t = kc_map_sget(&s->by_full, name);
	if (t)
		return t;
	void *v = kc_map_sget(&s->by_short, name);
	return v == &ambiguous_mark ? NULL : v;
}

size_t schema_type_count(const struct schema *s)
{
	return s->ntypes;
}

const struct sch_type *schema_type_at(const struct schema *s, size_t i)
{
	return i < s->ntypes ? &s->types[i] : NULL;
}

const struct sch_field *sch_field(const struct sch_type *t, const char *name)
{
	if (!t || t->kind != SCH_STRUCT || !name)
		return NULL;
	for (size_t i = 0; i < t->nfields; i++)
		if (strcmp(t->fields[i].name, name) == 0)
			return &t->fields[i];
	return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * field validation */

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsObject(v))
		return "object";
	if (cJSON_IsNull(v))
		return "null";
	return "invalid value";
}

static int type_err(struct kc_err *err, const struct kc_str *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int type_err(struct kc_err *err, const struct kc_str *path, const char *fmt, ...)
{
	char msg[KC_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (path->len == 0)
		return kc_err_set(err, -KC_EINVAL, "%s", msg);
	char p[160];
	kc_excerpt(p, sizeof p, path->buf, path->len);
	return kc_err_set(err, -KC_EINVAL, "%s: %s", p, msg);
}

static int two_digits(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* RFC 3339 as Go's time.Parse(time.RFC3339, s) accepts it: YYYY-MM-DDTHH:MM:SS, an optional
 * fraction of up to 9 digits, then Z or +HH:MM / -HH:MM. */
static bool valid_rfc3339(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t n = strlen(s);
	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return false;
	int y1 = two_digits(s), y2 = two_digits(s + 2), mo = two_digits(s + 5),
	    d = two_digits(s + 8), h = two_digits(s + 11), mi = two_digits(s + 14),
	    se = two_digits(s + 17);
	if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59)
		return false;
	int year = y1 * 100 + y2;
	if (mo == 2 && d == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
		return false;
	size_t i = 19;
	if (s[i] == '.') {
		size_t j = ++i;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == j || i - j > 9)
			return false;
	}
	if (s[i] == 'Z')
		return s[i + 1] == '\0';
	if ((s[i] != '+' && s[i] != '-') || n - i != 6 || s[i + 3] != ':')
		return false;
	int oh = two_digits(s + i + 1), om = two_digits(s + i + 4);
	return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
}

static int check_int(const cJSON *v, const struct kc_str *path, long long min, long long max,
		     const char *what, struct kc_err *err)
{
	if (!cJSON_IsNumber(v))
		return type_err(err, path, "expected an integer, got %s", json_type_name(v));
	double d = v->valuedouble;
	char num[KC_JSON_NUMBUF];
	if (d != floor(d)) {
		kc_json_format_number(d, num);
		return type_err(err, path, "expected an integer, got %s", num);
	}
	if (d < (double)min || d > (double)max) {
		kc_json_format_number(d, num);
		return type_err(err, path, "%s is out of range for %s", num, what);
	}
	return 0;
}

#define SCH_MAX_DEPTH 128u

static void path_add_field(struct kc_str *path, const char *name)
{
	if (path->len)
		kc_str_addc(path, '.');
	kc_str_adds(path, name);
}

static int check_struct(const struct sch_type *t, cJSON *obj, struct kc_str *path,
			cJSON *unknown, bool drop, unsigned depth, size_t *nunknown,
			struct kc_err *err)
{
	size_t base = path->len;
	cJSON *m = obj->child;
	while (m) {
		cJSON *next = m->next;
		const char *name = m->string ? m->string : "";
		const struct sch_field *f = sch_field(t, name);
		path_add_field(path, name);
		int rc = 0;
		if (f) {
			rc = check_value(f->type, m, path, unknown, drop, depth + 1, nunknown, err);
		} else if (t->gvk && (strcmp(name, "apiVersion") == 0 || strcmp(name, "kind") == 0)) {
			/* TypeMeta of a kind whose description leaves it out */
			rc = check_value(&prim_string, m, path, unknown, drop, depth + 1, nunknown, err);
		} else {
			if (unknown && *nunknown < SCH_MAX_UNKNOWN) {
				cJSON_AddItemToArray(unknown, kc_json_new_str(path->buf));
				(*nunknown)++;
			}
			if (drop)
				cJSON_Delete(cJSON_DetachItemViaPointer(obj, m));
		}
		kc_str_setlen(path, base);
		if (rc)
			return rc;
		m = next;
	}
	return 0;
}

static int check_value(const struct sch_type *t, cJSON *v, struct kc_str *path, cJSON *unknown,
		       bool drop, unsigned depth, size_t *nunknown, struct kc_err *err)
{
	if (depth > SCH_MAX_DEPTH)
		return kc_err_set(err, -KC_ELIMIT, "object nested deeper than %u levels",
				  SCH_MAX_DEPTH);
	if (cJSON_IsNull(v) && depth > 0)
		return 0; /* null decodes to the zero value, as in Go */
	switch (t->kind) {
	case SCH_STRING:
		if (!cJSON_IsString(v))
			return type_err(err, path, "expected a string, got %s", json_type_name(v));
		return 0;
	case SCH_INT32:
		return check_int(v, path, INT32_MIN, INT32_MAX, "int32", err);
	case SCH_INT64:
		return check_int(v, path, -KC_JSON_MAX_SAFE_INT, KC_JSON_MAX_SAFE_INT, "int64", err);
	case SCH_BOOL:
		if (!cJSON_IsBool(v))
			return type_err(err, path, "expected a boolean, got %s", json_type_name(v));
		return 0;
	case SCH_DOUBLE:
		if (!cJSON_IsNumber(v))
			return type_err(err, path, "expected a number, got %s", json_type_name(v));
		return 0;
	case SCH_QUANTITY: {
		if (!cJSON_IsString(v) && !cJSON_IsNumber(v))
			return type_err(err, path, "expected a quantity (string or number), got %s",
					json_type_name(v));
		struct kc_quantity q;
		struct kc_err qerr = { 0 };
		if (kc_quantity_from_json(v, &q, &qerr) != 0)
			return type_err(err, path, "%s", qerr.msg);
		return 0;
	}
	case SCH_INT_OR_STRING:
		if (cJSON_IsString(v))
			return 0;
		if (cJSON_IsNumber(v))
			return check_int(v, path, INT32_MIN, INT32_MAX, "int32", err);
		return type_err(err, path, "expected an integer or a string, got %s",
				json_type_name(v));
	case SCH_TIME:
	case SCH_MICROTIME:
		if (!cJSON_IsString(v))
			return type_err(err, path, "expected an RFC 3339 time string, got %s",
					json_type_name(v));
		if (!valid_rfc3339(v->valuestring)) {
			char ex[64];
			kc_excerpt(ex, sizeof ex, v->valuestring, strlen(v->valuestring));
			return type_err(err, path, "expected an RFC 3339 time, got \"%s\"", ex);
		}
		return 0;
	case SCH_BYTES: {
		if (!cJSON_IsString(v))
			return type_err(err, path, "expected a base64 string, got %s",
					json_type_name(v));
		struct kc_str tmp = KC_STR_INIT;
		struct kc_err berr = { 0 };
		int rc = kc_base64_decode(&tmp, v->valuestring, strlen(v->valuestring),
					  KC_B64_STD | KC_B64_SKIP_NEWLINES, &berr);
		kc_str_free(&tmp);
		if (rc)
			return type_err(err, path, "illegal base64 data: %s", berr.msg);
		return 0;
	}
	case SCH_ANY:
		return 0;
	case SCH_FREE_OBJECT:
		if (!cJSON_IsObject(v))
			return type_err(err, path, "expected an object, got %s", json_type_name(v));
		return 0;
	case SCH_ARRAY: {
		if (!cJSON_IsArray(v))
			return type_err(err, path, "expected an array, got %s", json_type_name(v));
		size_t base = path->len, i = 0;
		for (cJSON *e = v->child; e; e = e->next, i++) {
			kc_str_addf(path, "[%zu]", i);
			int rc = check_value(t->elem, e, path, unknown, drop, depth + 1, nunknown, err);
			kc_str_setlen(path, base);
			if (rc)
				return rc;
		}
		return 0;
	}
	case SCH_MAP: {
		if (!cJSON_IsObject(v))
			return type_err(err, path, "expected an object, got %s", json_type_name(v));
		size_t base = path->len;
		for (cJSON *e = v->child; e; e = e->next) {
			kc_str_addc(path, '[');
			kc_str_adds(path, e->string ? e->string : "");
			kc_str_addc(path, ']');
			int rc = check_value(t->elem, e, path, unknown, drop, depth + 1, nunknown, err);
			kc_str_setlen(path, base);
			if (rc)
				return rc;
		}
		return 0;
	}
	case SCH_STRUCT:
		if (!cJSON_IsObject(v))
			return type_err(err, path, "expected an object, got %s", json_type_name(v));
		return check_struct(t, v, path, unknown, drop, depth, nunknown, err);
	}
	return type_err(err, path, "unknown schema type");
}

int sch_check(const struct sch_type *t, cJSON *obj, cJSON *unknown, bool drop_unknown,
	      struct kc_err *err)
{
	struct kc_str path = KC_STR_INIT;
	size_t nunknown = 0;
	if (!t || !obj)
		return kc_err_set(err, -KC_EINVAL, "no object");
	int rc = check_value(t, obj, &path, unknown, drop_unknown, 0, &nunknown, err);
	kc_str_free(&path);
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * defaults */

static void apply_defaults(const struct sch_type *t, cJSON *v, unsigned depth)
{
	if (depth > SCH_MAX_DEPTH || !v)
		return;
	switch (t->kind) {
	case SCH_ARRAY:
		if (cJSON_IsArray(v))
			for (cJSON *e = v->child; e; e = e->next)
				apply_defaults(t->elem, e, depth + 1);
		return;
	case SCH_MAP:
		if (cJSON_IsObject(v))
			for (cJSON *e = v->child; e; e = e->next)
				apply_defaults(t->elem, e, depth + 1);
		return;
	case SCH_STRUCT:
		break;
	default:
		return;
	}
	if (!cJSON_IsObject(v))
		return;
	for (size_t i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];
		cJSON *m = cJSON_GetObjectItemCaseSensitive(v, f->name);
		if (f->default_value && (!m || cJSON_IsNull(m))) {
			cJSON *d = kc_json_dup(f->default_value);
			if (m)
				cJSON_ReplaceItemInObjectCaseSensitive(v, f->name, d);
			else
				kc_json_add(v, f->name, d);
			m = d;
		}
		if (m && (f->type->kind == SCH_STRUCT || f->type->kind == SCH_ARRAY ||
			  f->type->kind == SCH_MAP))
			apply_defaults(f->type, m, depth + 1);
	}
}

void sch_apply_defaults(const struct sch_type *t, cJSON *obj)
{
	if (t)
		apply_defaults(t, obj, 0);
}
