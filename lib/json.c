/* DESIGN: JSON text <-> cJSON trees. cJSON supplies only the tree type; parsing and printing are
 * kc's own, because cJSON's parser accepts non-RFC numbers, keeps duplicate keys and reports
 * errors through a global, and its printer is neither canonical nor locale-proof.
 *
 * The parser is a loop over an explicit stack of open containers (bounded by max_depth), so
 * no input can exhaust the C stack. Every node is linked into the tree as soon as it is
 * created, so one cJSON_Delete of the root undoes a failed parse. Duplicate member names are
 * found by a linear scan while an object is small and through a kc_map index once it grows,
 * keeping a hostile object linear. Printers, equality and duplication recurse once per level;
 * trees kc builds from input are at most KC_JSON_DEPTH_CAP deep.
 *
 * No state outside the call: every function is reentrant; a tree belongs to one thread at a
 * time. cJSON allocation failures abort, like xmalloc. */
#include "lib/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/map.h"

/* Objects up to this many members are checked for duplicates by a scan. */
#define DUP_SCAN_MAX 16
/* Longest number text accepted (bytes), NUL excluded. */
#define NUMBER_MAX 511

static void __attribute__((noreturn)) cjson_oom(void)
{
	static const char msg[] = "kc: out of memory in cJSON\n";
	(void)!write(2, msg, sizeof msg - 1);
	abort();
}

static cJSON *must(cJSON *v)
{
	if (!v)
		cjson_oom();
	return v;
}

cJSON *kc_json_new_object(void)
{
	return must(cJSON_CreateObject());
}

cJSON *kc_json_new_array(void)
{
	return must(cJSON_CreateArray());
}

cJSON *kc_json_new_str(const char *s)
{
	kc_assert(s != NULL);
	return must(cJSON_CreateString(s));
}

cJSON *kc_json_new_num(double v)
{
	return must(cJSON_CreateNumber(v));
}

cJSON *kc_json_new_bool(bool v)
{
	return must(cJSON_CreateBool(v));
}

cJSON *kc_json_new_null(void)
{
	return must(cJSON_CreateNull());
}

cJSON *kc_json_dup(const cJSON *v)
{
	kc_assert(v != NULL);
	return must(cJSON_Duplicate(v, 1));
}

void kc_json_add(cJSON *obj, const char *key, cJSON *item)
{
	kc_assert(obj != NULL && key != NULL && item != NULL && obj != item);
	if (!cJSON_AddItemToObject(obj, key, item))
		cjson_oom();
}

/* ---------------------------------------------------------------------------------------- */
/* UTF-8 */

/* Length of the well-formed UTF-8 sequence at s (n bytes readable), or 0. Reads s[i] only after
 * s[i-1] was accepted, so a NUL-terminated string may pass n = SIZE_MAX. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], lo = 0x80, hi = 0xBF;
	size_t need;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return need;
}

bool kc_json_valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t n = utf8_len(p, (size_t)(end - p));
		if (!n)
			return false;
		p += n;
	}
	return true;
}

static void add_utf8(struct kc_str *out, unsigned cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	kc_str_add(out, b, n);
}

/* ---------------------------------------------------------------------------------------- */
/* parser */

struct frame {
	cJSON *node;           /* the open object or array, already linked into the tree */
	struct kc_map *names;  /* member-name index once the object outgrows DUP_SCAN_MAX */
	size_t members;
	bool fresh;            /* nothing read since '{' or '[' */
};

struct parser {
	const unsigned char *start, *p, *end;
	struct frame *stack;
	unsigned depth, cap, max_depth;
	struct kc_str text;  /* decoded string value */
	struct kc_str key;   /* decoded member name, waiting for its value */
	struct kc_err *err;
};

static int __attribute__((format(printf, 4, 5)))
fail_at(struct parser *ps, const unsigned char *at, int code, const char *fmt, ...)
{
	size_t line = 1, col = 1;
	for (const unsigned char *q = ps->start; q < at; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else if ((*q & 0xC0) != 0x80) {
			col++;
		}
	}
	char msg[KC_ERRMSG_MAX - 48];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return kc_err_set(ps->err, code, "line %zu, column %zu: %s", line, col, msg);
}

/* "expected <what>, found <the byte at p>" */
static int expected(struct parser *ps, const char *what)
{
	if (ps->p >= ps->end)
		return fail_at(ps, ps->p, -KC_EPARSE, "expected %s, found end of input", what);
	unsigned char c = *ps->p;
	if (c > 0x20 && c < 0x7F)
		return fail_at(ps, ps->p, -KC_EPARSE, "expected %s, found '%c'", what, c);
	return fail_at(ps, ps->p, -KC_EPARSE, "expected %s, found byte 0x%02x", what, c);
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* Decodes a \uXXXX escape (or a surrogate pair of them) at ps->p into out. */
static int parse_unicode_escape(struct parser *ps, struct kc_str *out)
{
	const unsigned char *at = ps->p;
	unsigned cp, lo;
	if (ps->end - at < 6 || hex4(at + 2, &cp))
		return fail_at(ps, at, -KC_EPARSE, "invalid \\u escape (needs 4 hex digits)");
	if (cp == 0)
		return fail_at(ps, at, -KC_EPARSE, "\\u0000 is not supported in strings");
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return fail_at(ps, at, -KC_EPARSE, "unpaired UTF-16 surrogate in \\u escape");
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (ps->end - at < 12 || at[6] != '\\' || at[7] != 'u' || hex4(at + 8, &lo) ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return fail_at(ps, at, -KC_EPARSE, "unpaired UTF-16 surrogate in \\u escape");
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		ps->p += 6;
	}
	ps->p += 6;
	add_utf8(out, cp);
	return 0;
}

/* Decodes the string starting at the '"' at ps->p into out (reset first). */
static int parse_string(struct parser *ps, struct kc_str *out)
{
	const unsigned char *open = ps->p;
	kc_str_reset(out);
	ps->p++;
	for (;;) {
		const unsigned char *run = ps->p;
		while (ps->p < ps->end && *ps->p >= 0x20 && *ps->p < 0x80 && *ps->p != '"' &&
		       *ps->p != '\\')
			ps->p++;
		kc_str_add(out, run, (size_t)(ps->p - run));
		if (ps->p == ps->end)
			return fail_at(ps, open, -KC_EPARSE, "unterminated string");
		unsigned char c = *ps->p;
		if (c == '"') {
			ps->p++;
			return 0;
		}
		if (c < 0x20)
			return fail_at(ps, ps->p, -KC_EPARSE,
				       "control character 0x%02x in string must be escaped", c);
		if (c >= 0x80) {
			size_t n = utf8_len(ps->p, (size_t)(ps->end - ps->p));
			if (!n)
				return fail_at(ps, ps->p, -KC_EPARSE, "invalid UTF-8 in string");
			kc_str_add(out, ps->p, n);
			ps->p += n;
			continue;
		}
		/* backslash */
		if (ps->end - ps->p < 2)
			return fail_at(ps, open, -KC_EPARSE, "unterminated string");
		char e = (char)ps->p[1];
		switch (e) {
		case '"':
		case '\\':
		case '/':
			kc_str_addc(out, e);
			break;
		case 'b':
			kc_str_addc(out, '\b');
			break;
		case 'f':
			kc_str_addc(out, '\f');
			break;
		case 'n':
			kc_str_addc(out, '\n');
			break;
		case 'r':
			kc_str_addc(out, '\r');
			break;
		case 't':
			kc_str_addc(out, '\t');
			break;
		case 'u': {
			int rc = parse_unicode_escape(ps, out);
			if (rc)
				return rc;
			continue;
		}
		default:
			if (e > 0x20 && e < 0x7F)
				return fail_at(ps, ps->p, -KC_EPARSE, "invalid escape '\\%c'", e);
			return fail_at(ps, ps->p, -KC_EPARSE, "invalid escape sequence");
		}
		ps->p += 2;
	}
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(struct parser *ps, double *out)
{
	const unsigned char *s = ps->p, *p = s, *e = ps->end;
	if (p < e && *p == '-')
		p++;
	if (!is_digit(p, e))
		return fail_at(ps, s, -KC_EPARSE, "invalid number");
	if (*p == '0') {
		p++;
		if (is_digit(p, e))
			return fail_at(ps, s, -KC_EPARSE, "invalid number (leading zero)");
	} else {
		while (is_digit(p, e))
			p++;
	}
	if (p < e && *p == '.') {
		p++;
		if (!is_digit(p, e))
			return fail_at(ps, s, -KC_EPARSE, "invalid number (no digits after '.')");
		while (is_digit(p, e))
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, e))
			return fail_at(ps, s, -KC_EPARSE, "invalid number (no digits in exponent)");
		while (is_digit(p, e))
			p++;
	}
	size_t n = (size_t)(p - s);
	if (n > NUMBER_MAX)
		return fail_at(ps, s, -KC_EPARSE, "number longer than %d characters", NUMBER_MAX);
	char buf[NUMBER_MAX + 1];
	memcpy(buf, s, n);
	buf[n] = '\0';
	double d = strtod(buf, NULL);
	if (isinf(d))
		return fail_at(ps, s, -KC_EPARSE, "number out of range");
	ps->p = p;
	*out = d;
	return 0;
}

static bool take_literal(struct parser *ps, const char *lit, size_t n)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
		return false;
	ps->p += n;
	return true;
}

/* Reads a member name and its ':' into ps->key, rejecting a name the object already has. */
static int parse_member_name(struct parser *ps, struct frame *f, const char *what)
{
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return expected(ps, what);
	const unsigned char *at = ps->p;
	int rc = parse_string(ps, &ps->key);
	if (rc)
		return rc;
	const char *k = ps->key.buf;
	bool dup = false;
	if (f->members < DUP_SCAN_MAX) {
		for (const cJSON *c = f->node->child; c && !dup; c = c->next)
			dup = strcmp(c->string, k) == 0;
	} else {
		if (!f->names) {
			f->names = xmalloc(sizeof *f->names);
			kc_map_init(f->names, NULL);
			for (cJSON *c = f->node->child; c; c = c->next)
				kc_map_sput(f->names, c->string, c);
		}
		dup = kc_map_has(f->names, k, ps->key.len);
		if (!dup)
			kc_map_put(f->names, k, ps->key.len, f->node);
	}
	if (dup) {
		char ex[72];
		kc_excerpt(ex, sizeof ex, k, ps->key.len);
		return fail_at(ps, at, -KC_EPARSE, "duplicate key \"%s\"", ex);
	}
	f->members++;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != ':')
		return expected(ps, "':' after object key");
	ps->p++;
	return 0;
}

static void pop(struct parser *ps)
{
	struct frame *f = &ps->stack[--ps->depth];
	if (f->names) {
		kc_map_free(f->names);
		free(f->names);
	}
}

/* Reads one value at ps->p and links it under the innermost open container (or makes it the
 * root); a container is pushed as the new innermost. */
static int parse_value(struct parser *ps, cJSON **root)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return expected(ps, "a value");
	const unsigned char *at = ps->p;
	cJSON *v;
	double d = 0;
	int rc;
	switch (*at) {
	case '{':
		v = kc_json_new_object();
		ps->p++;
		break;
	case '[':
		v = kc_json_new_array();
		ps->p++;
		break;
	case '"':
		rc = parse_string(ps, &ps->text);
		if (rc)
			return rc;
		v = kc_json_new_str(ps->text.buf);
		break;
	case 't':
		if (!take_literal(ps, "true", 4))
			return expected(ps, "a value");
		v = kc_json_new_bool(true);
		break;
	case 'f':
		if (!take_literal(ps, "false", 5))
			return expected(ps, "a value");
		v = kc_json_new_bool(false);
		break;
	case 'n':
		if (!take_literal(ps, "null", 4))
			return expected(ps, "a value");
		v = kc_json_new_null();
		break;
	default:
		if (*at != '-' && !(*at >= '0' && *at <= '9'))
			return expected(ps, "a value");
		rc = parse_number(ps, &d);
		if (rc)
			return rc;
		v = kc_json_new_num(d);
		break;
	}
	if (ps->depth == 0) {
		*root = v;
	} else {
		cJSON *parent = ps->stack[ps->depth - 1].node;
		if (cJSON_IsObject(parent))
			kc_json_add(parent, ps->key.buf, v);
		else
			cJSON_AddItemToArray(parent, v);
	}
	if (*at != '{' && *at != '[')
		return 0;
	if (ps->depth >= ps->max_depth)
		return fail_at(ps, at, -KC_ELIMIT, "nesting deeper than %u levels", ps->max_depth);
	if (ps->depth == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 16;
		ps->stack = xrealloc(ps->stack, ps->cap * sizeof *ps->stack);
	}
	ps->stack[ps->depth++] = (struct frame){ .node = v, .fresh = true };
	return 0;
}

/* After a value: consumes ',' / closers until the next value is due (0 with *done false) or
 * the root value is complete and only whitespace follows (0 with *done true). */
static int after_value(struct parser *ps, bool *done)
{
	for (;;) {
		skip_ws(ps);
		if (ps->depth == 0) {
			if (ps->p != ps->end)
				return fail_at(ps, ps->p, -KC_EPARSE, "unexpected data after the JSON value");
			*done = true;
			return 0;
		}
		struct frame *f = &ps->stack[ps->depth - 1];
		bool obj = cJSON_IsObject(f->node);
		char close = obj ? '}' : ']';
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			pop(ps);
			continue;
		}
		if (f->fresh) {
			f->fresh = false;
			*done = false;
			return obj ? parse_member_name(ps, f, "'\"' (object key) or '}'") : 0;
		}
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			*done = false;
			return obj ? parse_member_name(ps, f, "'\"' (object key)") : 0;
		}
		return expected(ps, obj ? "',' or '}'" : "',' or ']'");
	}
}

int kc_json_parse(const char *buf, size_t len, const struct kc_json_limits *lim, cJSON **out,
		  struct kc_err *err)
{
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : KC_JSON_DEFAULT_MAX_BYTES;
	unsigned max_depth = lim && lim->max_depth ? lim->max_depth : KC_JSON_DEFAULT_MAX_DEPTH;
	if (max_depth > KC_JSON_DEPTH_CAP)
		max_depth = KC_JSON_DEPTH_CAP;
	*out = NULL;
	if (len > max_bytes)
		return kc_err_set(err, -KC_ETOOBIG, "JSON input of %zu bytes exceeds the limit of %zu",
				  len, max_bytes);
	static const unsigned char none[1];
	const unsigned char *b = buf ? (const unsigned char *)buf : none;
	struct parser ps = {
		.start = b, .p = b, .end = b + len, .max_depth = max_depth, .err = err,
		.text = KC_STR_INIT, .key = KC_STR_INIT,
	};
	cJSON *root = NULL;
	bool done = false;
	int rc = 0;
	while (!done) {
		rc = parse_value(&ps, &root);
		if (rc)
			break;
		rc = after_value(&ps, &done);
		if (rc)
			break;
	}
	while (ps.depth)
		pop(&ps);
	free(ps.stack);
	kc_str_free(&ps.text);
	kc_str_free(&ps.key);
	if (rc) {
		cJSON_Delete(root);
		return rc;
	}
	*out = root;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* paths */

struct step {
	const char *key; /* NUL-terminated member name */
	size_t index;    /* when digits: the index, SIZE_MAX if too large */
	bool digits;     /* an unquoted bracket step of digits only */
};

struct path {
	struct step *steps;
	size_t n;
	char *keys;
	struct step step_buf[16];
	char key_buf[256];
};

static void path_free(struct path *pt)
{
	if (pt->steps != pt->step_buf)
		free(pt->steps);
	if (pt->keys != pt->key_buf)
		free(pt->keys);
}

/* Splits path into steps. Decoded names never outgrow their spelling, and every step spends
 * at least one byte on syntax or content, so strlen(path)+1 bytes hold all names with their
 * NULs. Returns 0, or -1 when malformed (pt is then already freed). */
static int path_parse(struct path *pt, const char *path)
{
	size_t len = strlen(path), max_steps = 1;
	for (const char *q = path; *q; q++)
		max_steps += *q == '.' || *q == '[';
	pt->steps = max_steps <= 16 ? pt->step_buf : xmalloc(max_steps * sizeof *pt->steps);
	pt->keys = len + 1 <= sizeof pt->key_buf ? pt->key_buf : xmalloc(len + 1);
	pt->n = 0;
	const char *p = path;
	char *w = pt->keys;
	while (*p) {
		struct step *st = &pt->steps[pt->n];
		st->key = w;
		st->digits = false;
		st->index = 0;
		if (*p == '[') {
			p++;
			if (*p == '"') {
				for (p++; *p != '"'; p++) {
					if (!*p)
						goto bad;
					if (*p == '\\') {
						p++;
						if (*p != '"' && *p != '\\')
							goto bad;
					}
					*w++ = *p;
				}
				p++;
			} else {
				const char *s = p;
				bool digits = true;
				size_t idx = 0;
				for (; *p && *p != ']'; p++) {
					if (*p < '0' || *p > '9')
						digits = false;
					else if (idx <= (SIZE_MAX - 9) / 10)
						idx = idx * 10 + (size_t)(*p - '0');
					else
						idx = SIZE_MAX;
					*w++ = *p;
				}
				if (p == s)
					goto bad;
				st->digits = digits;
				st->index = idx;
			}
			if (*p != ']')
				goto bad;
			p++;
		} else {
			if (pt->n > 0) {
				if (*p != '.')
					goto bad;
				p++;
			}
			const char *s = p;
			for (; *p && *p != '.' && *p != '['; p++)
				*w++ = *p;
			if (p == s)
				goto bad;
		}
		*w++ = '\0';
		pt->n++;
	}
	if (pt->n == 0)
		goto bad;
	return 0;
bad:
	path_free(pt);
	return -1;
}

static cJSON *child_at(const cJSON *node, const struct step *st)
{
	if (cJSON_IsObject(node)) {
		for (cJSON *c = node->child; c; c = c->next)
			if (c->string && strcmp(c->string, st->key) == 0)
				return c;
		return NULL;
	}
	if (cJSON_IsArray(node) && st->digits) {
		size_t i = 0;
		for (cJSON *c = node->child; c; c = c->next, i++)
			if (i == st->index)
				return c;
	}
	return NULL;
}

cJSON *kc_json_get(const cJSON *root, const char *path)
{
	struct path pt;
	if (!root || !path || path_parse(&pt, path))
		return NULL;
	cJSON *cur = NULL;
	const cJSON *node = root;
	for (size_t i = 0; i < pt.n && node; i++) {
		cur = child_at(node, &pt.steps[i]);
		node = cur;
	}
	path_free(&pt);
	return cur;
}

const char *kc_json_get_str(const cJSON *root, const char *path)
{
	const cJSON *v = kc_json_get(root, path);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int kc_json_as_i64(const cJSON *v, long long *out)
{
	if (!cJSON_IsNumber(v))
		return -KC_EINVAL;
	double d = v->valuedouble;
	if (!(d >= -(double)KC_JSON_MAX_SAFE_INT && d <= (double)KC_JSON_MAX_SAFE_INT) ||
	    d != trunc(d))
		return -KC_EINVAL;
	*out = (long long)d;
	return 0;
}

int kc_json_get_i64(const cJSON *root, const char *path, long long *out)
{
	const cJSON *v = kc_json_get(root, path);
	if (!v || cJSON_IsNull(v))
		return -KC_ENOTFOUND;
	return kc_json_as_i64(v, out);
}

bool kc_json_get_bool(const cJSON *root, const char *path, bool def)
{
	const cJSON *v = kc_json_get(root, path);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* Stores value as the child st names in node, taking ownership of value. */
static int assign(cJSON *node, const struct step *st, cJSON *value)
{
	if (cJSON_IsObject(node)) {
		if (child_at(node, st)) {
			if (!cJSON_ReplaceItemInObjectCaseSensitive(node, st->key, value))
				cjson_oom();
		} else {
			kc_json_add(node, st->key, value);
		}
		return 0;
	}
	if (cJSON_IsArray(node) && st->digits) {
		size_t i = 0;
		cJSON *c = node->child;
		for (; c && i < st->index; c = c->next)
			i++;
		if (c) {
			cJSON_ReplaceItemViaPointer(node, c, value);
			return 0;
		}
		if (i == st->index) {
			cJSON_AddItemToArray(node, value);
			return 0;
		}
		cJSON_Delete(value);
		return -KC_ENOTFOUND;
	}
	cJSON_Delete(value);
	return -KC_ECONFLICT;
}

static cJSON *container_for(const struct step *st)
{
	return st->digits ? kc_json_new_array() : kc_json_new_object();
}

int kc_json_set(cJSON *root, const char *path, cJSON *value)
{
	kc_assert(value != NULL);
	struct path pt;
	if (!root || !path || !(cJSON_IsObject(root) || cJSON_IsArray(root)) ||
	    path_parse(&pt, path)) {
		cJSON_Delete(value);
		return -KC_EINVAL;
	}
	int rc;
	cJSON *node = root;
	size_t i = 0;
	for (; i + 1 < pt.n; i++) {
		cJSON *c = child_at(node, &pt.steps[i]);
		if (!c)
			break;
		if (!cJSON_IsObject(c) && !cJSON_IsArray(c)) {
			cJSON_Delete(value);
			rc = -KC_ECONFLICT;
			goto out;
		}
		node = c;
	}
	if (i + 1 == pt.n) {
		rc = assign(node, &pt.steps[i], value);
		goto out;
	}
	/* Steps i.. are missing: build them detached so that a failure leaves the tree as it was,
	 * then link the whole chain with one assign. Fresh containers only take names or index 0. */
	cJSON *top = container_for(&pt.steps[i + 1]), *n = top;
	for (size_t j = i + 1; j + 1 < pt.n; j++) {
		cJSON *c = container_for(&pt.steps[j + 1]);
		rc = assign(n, &pt.steps[j], c);
		if (rc) {
			cJSON_Delete(top);
			cJSON_Delete(value);
			goto out;
		}
		n = c;
	}
	rc = assign(n, &pt.steps[pt.n - 1], value);
	if (rc) {
		cJSON_Delete(top);
		goto out;
	}
	rc = assign(node, &pt.steps[i], top);
out:
	path_free(&pt);
	return rc;
}

int kc_json_set_str(cJSON *root, const char *path, const char *s)
{
	return kc_json_set(root, path, kc_json_new_str(s));
}

int kc_json_set_i64(cJSON *root, const char *path, long long v)
{
	if (v < -KC_JSON_MAX_SAFE_INT || v > KC_JSON_MAX_SAFE_INT)
		return -KC_EINVAL;
	return kc_json_set(root, path, kc_json_new_num((double)v));
}

int kc_json_set_bool(cJSON *root, const char *path, bool v)
{
	return kc_json_set(root, path, kc_json_new_bool(v));
}

int kc_json_delete(cJSON *root, const char *path)
{
	struct path pt;
	if (!root || !path || path_parse(&pt, path))
		return -KC_EINVAL;
	cJSON *parent = root, *c = NULL;
	for (size_t i = 0; i < pt.n && parent; i++) {
		c = child_at(parent, &pt.steps[i]);
		if (i + 1 < pt.n)
			parent = c;
	}
	path_free(&pt);
	if (!parent || !c)
		return -KC_ENOTFOUND;
	cJSON_Delete(cJSON_DetachItemViaPointer(parent, c));
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* output */

size_t kc_json_format_number(double v, char *buf)
{
	if (!isfinite(v)) {
		memcpy(buf, "null", 5);
		return 4;
	}
	int n;
	if (v == trunc(v) && fabs(v) <= 9007199254740992.0) {
		n = snprintf(buf, KC_JSON_NUMBUF, "%lld", (long long)v);
	} else {
		for (int prec = 15;; prec++) {
			n = snprintf(buf, KC_JSON_NUMBUF, "%.*g", prec, v);
			if (prec == 17 || strtod(buf, NULL) == v)
				break;
		}
	}
	return (size_t)n;
}

void kc_json_write_string(struct kc_str *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	kc_str_addc(out, '"');
	for (;;) {
		const unsigned char *run = p;
		while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		kc_str_add(out, run, (size_t)(p - run));
		unsigned c = *p;
		if (!c)
			break;
		if (c >= 0x80) {
			size_t n = utf8_len(p, SIZE_MAX);
			if (n) {
				kc_str_add(out, p, n);
				p += n;
			} else {
				kc_str_add(out, "\xEF\xBF\xBD", 3);
				p++;
			}
			continue;
		}
		char esc[6] = { '\\', 0 };
		size_t n = 2;
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
			break;
		}
		kc_str_add(out, esc, n);
		p++;
	}
	kc_str_addc(out, '"');
}

struct member {
	const cJSON *item;
	size_t pos;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = strcmp(x->item->string ? x->item->string : "", y->item->string ? y->item->string : "");
	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Returns obj's n members ordered by name, in a heap array (free()). Heap rather than stack:
 * callers recurse once per nesting level and must keep their frames small. */
static struct member *sorted_members(const cJSON *obj, size_t n)
{
	struct member *m = xmalloc(n * sizeof *m);
	size_t i = 0;
	for (const cJSON *c = obj->child; c; c = c->next, i++)
		m[i] = (struct member){ c, i };
	qsort(m, n, sizeof *m, member_cmp);
	return m;
}

static size_t count_children(const cJSON *v)
{
	size_t n = 0;
	for (const cJSON *c = v->child; c; c = c->next)
		n++;
	return n;
}

static void __attribute__((noinline)) write_number(struct kc_str *out, double d)
{
	char num[KC_JSON_NUMBUF];
	kc_str_add(out, num, kc_json_format_number(d, num));
}

static void write_value(struct kc_str *out, const cJSON *v, bool canonical)
{
	switch (v->type & 0xFF) {
	case cJSON_False:
		kc_str_add(out, "false", 5);
		return;
	case cJSON_True:
		kc_str_add(out, "true", 4);
		return;
	case cJSON_Number:
		write_number(out, v->valuedouble);
		return;
	case cJSON_String:
		kc_json_write_string(out, v->valuestring ? v->valuestring : "");
		return;
	case cJSON_Raw:
		kc_str_adds(out, v->valuestring ? v->valuestring : "null");
		return;
	case cJSON_Array:
		kc_str_addc(out, '[');
		for (const cJSON *c = v->child; c; c = c->next) {
			write_value(out, c, canonical);
			if (c->next)
				kc_str_addc(out, ',');
		}
		kc_str_addc(out, ']');
		return;
	case cJSON_Object:
		kc_str_addc(out, '{');
		if (canonical && v->child && v->child->next) {
			size_t n = count_children(v);
			struct member *m = sorted_members(v, n);
			for (size_t i = 0; i < n; i++) {
				if (i)
					kc_str_addc(out, ',');
				kc_json_write_string(out, m[i].item->string ? m[i].item->string : "");
				kc_str_addc(out, ':');
				write_value(out, m[i].item, canonical);
			}
			free(m);
		} else {
			for (const cJSON *c = v->child; c; c = c->next) {
				kc_json_write_string(out, c->string ? c->string : "");
				kc_str_addc(out, ':');
				write_value(out, c, canonical);
				if (c->next)
					kc_str_addc(out, ',');
			}
		}
		kc_str_addc(out, '}');
		return;
	default:
		kc_str_add(out, "null", 4);
		return;
	}
}

void kc_json_write(struct kc_str *out, const cJSON *v)
{
	write_value(out, v, false);
}

void kc_json_write_canonical(struct kc_str *out, const cJSON *v)
{
	write_value(out, v, true);
}

char *kc_json_print(const cJSON *v, size_t *len)
{
	struct kc_str s = KC_STR_INIT;
	write_value(&s, v, false);
	return kc_str_detach(&s, len);
}

char *kc_json_print_canonical(const cJSON *v, size_t *len)
{
	struct kc_str s = KC_STR_INIT;
	write_value(&s, v, true);
	return kc_str_detach(&s, len);
}

/* ---------------------------------------------------------------------------------------- */
/* equality */

static bool objects_equal(const cJSON *a, const cJSON *b)
{
	size_t n = count_children(a);
	if (n != count_children(b))
		return false;
	/* Common case first: the same names in the same order. */
	const cJSON *x = a->child, *y = b->child;
	for (; x; x = x->next, y = y->next)
		if (strcmp(x->string ? x->string : "", y->string ? y->string : "") != 0)
			break;
	if (!x) {
		for (x = a->child, y = b->child; x; x = x->next, y = y->next)
			if (!kc_json_equal(x, y))
				return false;
		return true;
	}
	struct member *ma = sorted_members(a, n), *mb = sorted_members(b, n);
	bool eq = true;
	for (size_t i = 0; i < n && eq; i++)
		eq = strcmp(ma[i].item->string ? ma[i].item->string : "",
			    mb[i].item->string ? mb[i].item->string : "") == 0 &&
		     kc_json_equal(ma[i].item, mb[i].item);
	free(ma);
	free(mb);
	return eq;
}

bool kc_json_equal(const cJSON *a, const cJSON *b)
{
	if (a == b)
		return true;
	if (!a || !b || (a->type & 0xFF) != (b->type & 0xFF))
		return false;
	switch (a->type & 0xFF) {
	case cJSON_Number:
		return a->valuedouble == b->valuedouble;
	case cJSON_String:
	case cJSON_Raw:
		return strcmp(a->valuestring ? a->valuestring : "",
			      b->valuestring ? b->valuestring : "") == 0;
	case cJSON_Array: {
		const cJSON *x = a->child, *y = b->child;
		for (; x && y; x = x->next, y = y->next)
			if (!kc_json_equal(x, y))
				return false;
		return !x && !y;
	}
	case cJSON_Object:
		return objects_equal(a, b);
	default:
		return true; /* null, true, false, invalid: the type says it all */
	}
}
