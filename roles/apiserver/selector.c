/* DESIGN: label selectors follow k8s.io/apimachinery/pkg/labels: a lexer that turns the whole
 * string into tokens first (identifiers, "in"/"notin" keywords, the operator symbols), then the
 * same recursive-descent parser with the same error texts, and NewRequirement's validation of
 * keys and values. '=' and '==' become In with one value, '!=' NotIn with one value. Field
 * selectors follow fields.ParseSelector (escaped ',' '=' '\\' in values, terms sorted) and the
 * per-kind field label conversion functions for which paths are allowed. Parsed selectors are
 * immutable: any thread may match with them. */
#include "roles/apiserver/selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"

/* ------------------------------------------------------------------------------------------ */
/* apimachinery validation messages */

#define QNAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_MSG                                                                                  \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "   \
	"an alphanumeric character"
#define QNAME_REGEX_ERR                                                                                   \
	QNAME_MSG                                                                                         \
		" (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" QNAME_FMT \
		"')"
#define LABEL_FMT     "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define SUBDOMAIN_FMT LABEL_FMT "(\\." LABEL_FMT ")*"
#define SUBDOMAIN_REGEX_ERR                                                                        \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "      \
	"'-' or '.', and must start and end with an alphanumeric character (e.g. "                 \
	"'example.com', regex used for validation is '" SUBDOMAIN_FMT "')"
#define DNSLABEL_REGEX_ERR                                                                         \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "   \
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "   \
	"regex used for validation is '" LABEL_FMT "')"
#define LABELVALUE_REGEX_ERR                                                                       \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "   \
	"or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "      \
	"'my_value',  or '12345', regex used for validation is '(" QNAME_FMT ")?')"

/* Appends one message to msg, "; "-separated. */
static void add_msg(char *msg, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_msg(char *msg, size_t cap, const char *fmt, ...)
{
	if (!msg || !cap)
		return;
	size_t n = strnlen(msg, cap);
	if (n >= cap - 1)
		return;
	if (n) {
		snprintf(msg + n, cap - n, "; ");
		n = strnlen(msg, cap);
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, cap - n, fmt, ap);
	va_end(ap);
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n) */
static bool match_qname(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static bool match_dns_label(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool match_subdomain(const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!match_dns_label(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

static bool subdomain_check(const char *s, size_t n, const char *prefix, char *msg, size_t cap)
{
	bool ok = true;
	if (n > 253) {
		add_msg(msg, cap, "%smust be no more than 253 characters", prefix);
		ok = false;
	}
	if (!match_subdomain(s, n)) {
		add_msg(msg, cap, "%s" SUBDOMAIN_REGEX_ERR, prefix);
		ok = false;
	}
	return ok;
}

bool sel_valid_qualified_name(const char *s, char *msg, size_t cap)
{
	if (msg && cap)
		msg[0] = '\0';
	const char *slash = strchr(s, '/');
	const char *name = s;
	bool ok = true;
	if (slash && strchr(slash + 1, '/')) {
		add_msg(msg, cap,
			"a qualified name " QNAME_REGEX_ERR
			" with an optional DNS subdomain prefix and "
			"'/' (e.g. 'example.com/MyName')");
		return false;
	}
	if (slash) {
		size_t plen = (size_t)(slash - s);
		if (plen == 0) {
			add_msg(msg, cap, "prefix part must be non-empty");
			ok = false;
		} else if (!subdomain_check(s, plen, "prefix part ", msg, cap)) {
			ok = false;
		}
		name = slash + 1;
	}
	size_t n = strlen(name);
	if (n == 0) {
		add_msg(msg, cap, "name part must be non-empty");
		ok = false;
	} else if (n > 63) {
		add_msg(msg, cap, "name part must be no more than 63 characters");
		ok = false;
	}
	if (!match_qname(name, n)) {
		add_msg(msg, cap, "name part " QNAME_REGEX_ERR);
		ok = false;
	}
	return ok;
}

bool sel_valid_label_value(const char *s, char *msg, size_t cap)
{
	if (msg && cap)
		msg[0] = '\0';
	size_t n = strlen(s);
	bool ok = true;
	if (n > 63) {
		add_msg(msg, cap, "must be no more than 63 characters");
		ok = false;
	}
	if (n && !match_qname(s, n)) {
		add_msg(msg, cap, LABELVALUE_REGEX_ERR);
		ok = false;
	}
	return ok;
}

bool sel_valid_dns1123_label(const char *s, char *msg, size_t cap)
{
	if (msg && cap)
		msg[0] = '\0';
	size_t n = strlen(s);
	bool ok = true;
	if (n > 63) {
		add_msg(msg, cap, "must be no more than 63 characters");
		ok = false;
	}
	if (!match_dns_label(s, n)) {
		if (match_subdomain(s, n))
			add_msg(msg, cap, "must not contain dots");
		else
			add_msg(msg, cap, DNSLABEL_REGEX_ERR);
		ok = false;
	}
	return ok;
}

bool sel_valid_dns1123_subdomain(const char *s, char *msg, size_t cap)
{
	if (msg && cap)
		msg[0] = '\0';
	return subdomain_check(s, strlen(s), "", msg, cap);
}

void sel_go_quote(const char *s, char *buf, size_t cap)
{
	if (cap < 8) {
		if (cap)
			buf[0] = '\0';
		return;
	}
	size_t n = 0, len = strlen(s);
	bool utf8 = kc_json_valid_utf8(s, len);
	buf[n++] = '"';
	for (size_t i = 0; i < len && n + 6 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			break;
		}
		if (esc) {
			n += (size_t)snprintf(buf + n, cap - n, "%s", esc);
		} else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
			n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n++] = '"';
	buf[n] = '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* label selectors */

enum req_op { OP_IN, OP_NOTIN, OP_EXISTS, OP_NOT_EXISTS, OP_GT, OP_LT };

struct requirement {
	char *key;
	enum req_op op;
	char **values;
	size_t nvalues;
};

struct label_selector {
	struct requirement *reqs;
	size_t n;
};

enum tok {
	T_ERROR,
	T_EOS,
	T_CLOSE,
	T_COMMA,
	T_NOT, /* "!" DoesNotExist */
	T_DEQ,
	T_EQ,
	T_GT,
	T_IDENT,
	T_IN,
	T_LT,
	T_NEQ,
	T_NOTIN,
	T_OPEN,
};

struct token {
	enum tok t;
	const char *lit; /* points into the parser's copy; NUL-terminated */
};

struct parser {
	char *buf; /* literals, NUL-separated */
	struct token *toks;
	size_t ntoks, pos;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
	return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static enum tok lookup_token(const char *s, size_t n)
{
	static const struct {
		const char *s;
		enum tok t;
	} table[] = {{")", T_CLOSE}, {",", T_COMMA},	 {"!", T_NOT}, {"==", T_DEQ},
		     {"=", T_EQ},    {">", T_GT},	 {"in", T_IN}, {"<", T_LT},
		     {"!=", T_NEQ},  {"notin", T_NOTIN}, {"(", T_OPEN}};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strlen(table[i].s) == n && memcmp(table[i].s, s, n) == 0)
			return table[i].t;
	return T_ERROR;
}

/* Tokenizes s into p (the whole string first, as ScanAllTokens does). */
static void lex_all(struct parser *p, const char *s)
{
	size_t len = strlen(s);
	/* each token's literal is copied NUL-terminated: at most 2*len+1 bytes */
	p->buf = xmalloc(2 * len + 2);
	p->toks = xmalloc((len + 1) * sizeof *p->toks);
	p->ntoks = 0;
	p->pos = 0;
	char *w = p->buf;
	size_t i = 0;
	for (;;) {
		while (i < len && is_ws(s[i]))
			i++;
		struct token *tk = &p->toks[p->ntoks++];
		if (i >= len) {
			*w = '\0';
			tk->t = T_EOS;
			tk->lit = w;
			return;
		}
		size_t start = i;
		if (is_special(s[i])) {
			enum tok last = T_ERROR;
			size_t last_len = 0;
			while (i < len && is_special(s[i])) {
				enum tok t = lookup_token(s + start, i + 1 - start);
				if (t != T_ERROR) {
					last = t;
					last_len = i + 1 - start;
				} else if (last != T_ERROR) {
					break;
				}
				i++;
			}
			/* every single special character is a token, so last is set */
			i = start + last_len;
			tk->t = last;
		} else {
			while (i < len && !is_special(s[i]) && !is_ws(s[i]))
				i++;
			enum tok t = lookup_token(s + start, i - start);
			tk->t = (t == T_IN || t == T_NOTIN) ? t : T_IDENT;
		}
		memcpy(w, s + start, i - start);
		w[i - start] = '\0';
		tk->lit = w;
		w += i - start + 1;
	}
}

/* Values context: the keywords are identifiers. */
static enum tok as_value(enum tok t)
{
	return (t == T_IN || t == T_NOTIN) ? T_IDENT : t;
}

static const struct token *lookahead(const struct parser *p)
{
	return &p->toks[p->pos];
}

static const struct token *consume(struct parser *p)
{
	const struct token *t = &p->toks[p->pos];
	if (t->t != T_EOS)
		p->pos++;
	return t;
}

static void req_free(struct requirement *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}

void label_selector_free(struct label_selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		req_free(&s->reqs[i]);
	free(s->reqs);
	free(s);
}

static void req_add_value(struct requirement *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(r->values[i], v) == 0)
			return; /* a set */
	r->values = xrealloc(r->values, (r->nvalues + 1) * sizeof *r->values);
	r->values[r->nvalues++] = xstrdup(v);
}

static bool parse_int64(const char *s, long long *out)
{
	return kc_parse_i64(s, -9223372036854775807LL - 1, 9223372036854775807LL, out) == 0 ||
	       (s[0] == '+' && kc_parse_i64(s + 1, 0, 9223372036854775807LL, out) == 0 &&
		s[1] != '+' && s[1] != '-');
}

/* NewRequirement's checks. path: "" (parser: key errors have a nil path) or the field path
 * prefix of matchExpressions[i] for objects. */
static int check_requirement(const struct requirement *r, bool from_parser, struct kc_err *err)
{
	char msg[KC_ERRMSG_MAX], q[128];
	if (!sel_valid_qualified_name(r->key, msg, sizeof msg)) {
		sel_go_quote(r->key, q, sizeof q);
		return kc_err_set(err, -KC_EINVAL, "%s: Invalid value: %s: %s",
				  from_parser ? "<nil>" : "key", q, msg);
	}
	if ((r->op == OP_IN || r->op == OP_NOTIN) && r->nvalues == 0)
		return kc_err_set(
			err, -KC_EINVAL,
			"values: Invalid value: []string(nil): for 'in', 'notin' operators, "
			"values set can't be empty");
	if ((r->op == OP_EXISTS || r->op == OP_NOT_EXISTS) && r->nvalues)
		return kc_err_set(
			err, -KC_EINVAL,
			"values: Invalid value: []string{...}: values set must be empty for "
			"exists and does not exist");
	if (r->op == OP_GT || r->op == OP_LT) {
		long long v;
		if (r->nvalues != 1)
			return kc_err_set(err, -KC_EINVAL,
					  "values: Invalid value: []string{...}: for 'Gt', 'Lt' "
					  "operators, exactly one value is required");
		if (!parse_int64(r->values[0], &v)) {
			sel_go_quote(r->values[0], q, sizeof q);
			return kc_err_set(
				err, -KC_EINVAL,
				"values[0]: Invalid value: %s: for 'Gt', 'Lt' operators, the "
				"value must be an integer",
				q);
		}
	}
	if (r->nvalues > SELECTOR_MAX_VALUES)
		return kc_err_set(err, -KC_EINVAL,
				  "values: Too many: %zu: must have at most %d items", r->nvalues,
				  SELECTOR_MAX_VALUES);
	for (size_t i = 0; i < r->nvalues; i++) {
		if (!sel_valid_label_value(r->values[i], msg, sizeof msg)) {
			sel_go_quote(r->values[i], q, sizeof q);
			return kc_err_set(err, -KC_EINVAL, "values[%zu][%s]: Invalid value: %s: %s",
					  i, r->key, q, msg);
		}
	}
	return 0;
}

/* parseValues: after 'in'/'notin'. */
static int parse_values(struct parser *p, struct requirement *r, struct kc_err *err)
{
	const struct token *t = consume(p);
	if (as_value(t->t) != T_OPEN)
		return kc_err_set(err, -KC_EINVAL, "found '%s' expected: '('", t->lit);
	const struct token *la = lookahead(p);
	enum tok lt = as_value(la->t);
	if (lt == T_CLOSE) {
		consume(p);
		req_add_value(r, "");
		return 0;
	}
	if (lt != T_IDENT && lt != T_COMMA)
		return kc_err_set(err, -KC_EINVAL, "found '%s', expected: ',', ')' or identifier",
				  la->lit);
	const char *first_lit = la->lit;
	/* parseIdentifiersList */
	for (;;) {
		if (r->nvalues > SELECTOR_MAX_VALUES)
			return kc_err_set(err, -KC_EINVAL, "more than %d values in a set",
					  SELECTOR_MAX_VALUES);
		t = consume(p);
		enum tok tt = as_value(t->t);
		if (tt == T_IDENT) {
			req_add_value(r, t->lit);
			const struct token *t2 = lookahead(p);
			enum tok tt2 = as_value(t2->t);
			if (tt2 == T_COMMA)
				continue;
			if (tt2 == T_CLOSE)
				break;
			return kc_err_set(err, -KC_EINVAL, "found '%s', expected: ',' or ')'",
					  t2->lit);
		} else if (tt == T_COMMA) {
			if (r->nvalues == 0)
				req_add_value(r, "");
			enum tok tt2 = as_value(lookahead(p)->t);
			if (tt2 == T_CLOSE) {
				req_add_value(r, "");
				break;
			}
			if (tt2 == T_COMMA) {
				consume(p);
				req_add_value(r, "");
			}
		} else {
			return kc_err_set(err, -KC_EINVAL,
					  "found '%s', expected: ',', or identifier", t->lit);
		}
	}
	if (as_value(consume(p)->t) != T_CLOSE)
		return kc_err_set(err, -KC_EINVAL, "found '%s', expected: ')'", first_lit);
	return 0;
}

static int parse_requirement(struct parser *p, struct requirement *r, struct kc_err *err)
{
	/* parseKeyAndInferOperator */
	bool not_exists = false;
	const struct token *t = consume(p);
	if (as_value(t->t) == T_NOT) {
		not_exists = true;
		t = consume(p);
	}
	if (as_value(t->t) != T_IDENT)
		return kc_err_set(err, -KC_EINVAL, "found '%s', expected: identifier", t->lit);
	r->key = xstrdup(t->lit);
	char msg[KC_ERRMSG_MAX], q[128];
	if (!sel_valid_qualified_name(r->key, msg, sizeof msg)) {
		sel_go_quote(r->key, q, sizeof q);
		return kc_err_set(err, -KC_EINVAL, "<nil>: Invalid value: %s: %s", q, msg);
	}
	enum tok la = as_value(lookahead(p)->t);
	if (la == T_EOS || la == T_COMMA) {
		r->op = not_exists ? OP_NOT_EXISTS : OP_EXISTS;
		return check_requirement(r, true, err);
	}
	if (not_exists) {
		/* "!a=b": the requirement ends at the key; the caller then trips over the '=' */
		r->op = OP_NOT_EXISTS;
		return check_requirement(r, true, err);
	}
	/* parseOperator (keywords are operators here) */
	t = consume(p);
	switch (t->t) {
	case T_IN:
		r->op = OP_IN;
		break;
	case T_NOTIN:
		r->op = OP_NOTIN;
		break;
	case T_EQ:
	case T_DEQ:
		r->op = OP_IN;
		break;
	case T_NEQ:
		r->op = OP_NOTIN;
		break;
	case T_GT:
		r->op = OP_GT;
		break;
	case T_LT:
		r->op = OP_LT;
		break;
	default:
		return kc_err_set(err, -KC_EINVAL,
				  "found '%s', expected: in, notin, =, ==, !=, gt, lt", t->lit);
	}
	int rc;
	if (t->t == T_IN || t->t == T_NOTIN) {
		rc = parse_values(p, r, err);
	} else {
		/* parseExactValue */
		enum tok la2 = as_value(lookahead(p)->t);
		if (la2 == T_EOS || la2 == T_COMMA) {
			req_add_value(r, "");
			rc = 0;
		} else {
			t = consume(p);
			if (as_value(t->t) == T_IDENT) {
				req_add_value(r, t->lit);
				rc = 0;
			} else {
				rc = kc_err_set(err, -KC_EINVAL, "found '%s', expected: identifier",
						t->lit);
			}
		}
	}
	if (rc)
		return rc;
	return check_requirement(r, true, err);
}

static struct requirement *new_req(struct label_selector *s)
{
	s->reqs = xrealloc(s->reqs, (s->n + 1) * sizeof *s->reqs);
	struct requirement *r = &s->reqs[s->n++];
	memset(r, 0, sizeof *r);
	return r;
}

int label_selector_parse(const char *str, struct label_selector **out, struct kc_err *err)
{
	*out = NULL;
	struct label_selector *s = xcalloc(1, sizeof *s);
	if (!str || !*str) {
		*out = s;
		return 0;
	}
	if (strlen(str) > SELECTOR_MAX_LEN) {
		free(s);
		return kc_err_set(err, -KC_EINVAL, "label selector longer than %d bytes",
				  SELECTOR_MAX_LEN);
	}
	struct parser p;
	lex_all(&p, str);
	int rc = 0;
	for (;;) {
		const struct token *la = lookahead(&p);
		enum tok t = as_value(la->t);
		if (t == T_EOS)
			break;
		if (t != T_IDENT && t != T_NOT) {
			rc = kc_err_set(err, -KC_EINVAL,
					"found '%s', expected: !, identifier, or 'end of string'",
					la->lit);
			break;
		}
		if (s->n >= SELECTOR_MAX_REQUIREMENTS) {
			rc = kc_err_set(err, -KC_EINVAL, "more than %d requirements in a selector",
					SELECTOR_MAX_REQUIREMENTS);
			break;
		}
		rc = parse_requirement(&p, new_req(s), err);
		if (rc) {
			kc_err_wrap(err, "unable to parse requirement");
			break;
		}
		const struct token *t2 = consume(&p);
		enum tok tt = as_value(t2->t);
		if (tt == T_EOS)
			break;
		if (tt == T_COMMA) {
			const struct token *t3 = lookahead(&p);
			enum tok tt3 = as_value(t3->t);
			if (tt3 != T_IDENT && tt3 != T_NOT) {
				rc = kc_err_set(err, -KC_EINVAL,
						"found '%s', expected: identifier after ','",
						t3->lit);
				break;
			}
			continue;
		}
		rc = kc_err_set(err, -KC_EINVAL, "found '%s', expected: ',' or 'end of string'",
				t2->lit);
		break;
	}
	free(p.buf);
	free(p.toks);
	if (rc) {
		label_selector_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int label_selector_from_object(const cJSON *sel, struct label_selector **out, struct kc_err *err)
{
	*out = NULL;
	struct label_selector *s = xcalloc(1, sizeof *s);
	int rc = 0;
	if (!sel || cJSON_IsNull(sel)) {
		*out = s;
		return 0;
	}
	if (!cJSON_IsObject(sel)) {
		free(s);
		return kc_err_set(err, -KC_EINVAL, "label selector must be an object");
	}
	const cJSON *ml = cJSON_GetObjectItemCaseSensitive(sel, "matchLabels");
	const cJSON *me = cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions");
	if (ml && !cJSON_IsNull(ml) && !cJSON_IsObject(ml)) {
		rc = kc_err_set(err, -KC_EINVAL, "matchLabels must be an object");
		goto fail;
	}
	if (me && !cJSON_IsNull(me) && !cJSON_IsArray(me)) {
		rc = kc_err_set(err, -KC_EINVAL, "matchExpressions must be an array");
		goto fail;
	}
	if (cJSON_GetArraySize(ml) + cJSON_GetArraySize(me) > SELECTOR_MAX_REQUIREMENTS) {
		rc = kc_err_set(err, -KC_EINVAL, "more than %d requirements in a selector",
				SELECTOR_MAX_REQUIREMENTS);
		goto fail;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, ml)
	{
		struct requirement *r = new_req(s);
		r->key = xstrdup(it->string);
		r->op = OP_IN;
		if (!cJSON_IsString(it)) {
			rc = kc_err_set(err, -KC_EINVAL, "matchLabels values must be strings");
			goto fail;
		}
		req_add_value(r, it->valuestring);
		if ((rc = check_requirement(r, false, err)))
			goto fail;
	}
	cJSON_ArrayForEach(it, me)
	{
		const char *key = kc_json_get_str(it, "key");
		const char *op = kc_json_get_str(it, "operator");
		const cJSON *vals = cJSON_GetObjectItemCaseSensitive(it, "values");
		if (!cJSON_IsObject(it) || !key || !op) {
			rc = kc_err_set(err, -KC_EINVAL,
					"matchExpressions need a key and an operator");
			goto fail;
		}
		struct requirement *r = new_req(s);
		r->key = xstrdup(key);
		if (strcmp(op, "In") == 0)
			r->op = OP_IN;
		else if (strcmp(op, "NotIn") == 0)
			r->op = OP_NOTIN;
		else if (strcmp(op, "Exists") == 0)
			r->op = OP_EXISTS;
		else if (strcmp(op, "DoesNotExist") == 0)
			r->op = OP_NOT_EXISTS;
		else {
			char q[64];
			sel_go_quote(op, q, sizeof q);
			rc = kc_err_set(err, -KC_EINVAL,
					"%s is not a valid label selector operator", q);
			goto fail;
		}
		if (vals && !cJSON_IsNull(vals) && !cJSON_IsArray(vals)) {
			rc = kc_err_set(err, -KC_EINVAL,
					"matchExpressions values must be an array");
			goto fail;
		}
		if (cJSON_GetArraySize(vals) > SELECTOR_MAX_VALUES) {
			rc = kc_err_set(err, -KC_EINVAL,
					"values: Too many: %d: must have at most %d items",
					cJSON_GetArraySize(vals), SELECTOR_MAX_VALUES);
			goto fail;
		}
		const cJSON *v;
		cJSON_ArrayForEach(v, vals)
		{
			if (!cJSON_IsString(v)) {
				rc = kc_err_set(err, -KC_EINVAL,
						"matchExpressions values must be strings");
				goto fail;
			}
			req_add_value(r, v->valuestring);
		}
		if ((rc = check_requirement(r, false, err)))
			goto fail;
	}
	*out = s;
	return 0;
fail:
	label_selector_free(s);
	return rc;
}

static bool req_match(const struct requirement *r, const cJSON *labels)
{
	const cJSON *l =
		cJSON_IsObject(labels) ? cJSON_GetObjectItemCaseSensitive(labels, r->key) : NULL;
	const char *v = cJSON_IsString(l) ? l->valuestring : NULL;
	bool in = false;
	if (v)
		for (size_t i = 0; i < r->nvalues && !in; i++)
			in = strcmp(r->values[i], v) == 0;
	switch (r->op) {
	case OP_IN:
		return v && in;
	case OP_NOTIN:
		return !v || !in;
	case OP_EXISTS:
		return v != NULL;
	case OP_NOT_EXISTS:
		return v == NULL;
	case OP_GT:
	case OP_LT: {
		long long have, want;
		if (!v || !parse_int64(v, &have) || r->nvalues != 1 ||
		    !parse_int64(r->values[0], &want))
			return false;
		return r->op == OP_GT ? have > want : have < want;
	}
	}
	return false;
}

bool label_selector_match(const struct label_selector *s, const cJSON *labels)
{
	for (size_t i = 0; i < s->n; i++)
		if (!req_match(&s->reqs[i], labels))
			return false;
	return true;
}

bool label_selector_empty(const struct label_selector *s)
{
	return s->n == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* field selectors */

struct field_term {
	char *path;
	char *value;
	bool neq;
};

struct field_selector {
	struct field_term *terms;
	size_t n;
};

/* How a field path reads its value from an object. */
enum field_kind { F_STRING, F_BOOL, F_INT };

struct field_def {
	const char *path; /* selector path */
	const char *json; /* where it lives in the object (kc_json_get path) */
	enum field_kind kind;
};

static const struct field_def meta_fields[] = {
	{"metadata.name", "metadata.name", F_STRING},
	{"metadata.namespace", "metadata.namespace", F_STRING},
	{NULL, NULL, F_STRING},
};
static const struct field_def pod_fields[] = {
	{"metadata.name", "metadata.name", F_STRING},
	{"metadata.namespace", "metadata.namespace", F_STRING},
	{"spec.nodeName", "spec.nodeName", F_STRING},
	{"spec.host", "spec.nodeName", F_STRING},
	{"spec.restartPolicy", "spec.restartPolicy", F_STRING},
	{"spec.schedulerName", "spec.schedulerName", F_STRING},
	{"spec.serviceAccountName", "spec.serviceAccountName", F_STRING},
	{"spec.hostNetwork", "spec.hostNetwork", F_BOOL},
	{"status.phase", "status.phase", F_STRING},
	{"status.podIP", "status.podIP", F_STRING},
	{"status.nominatedNodeName", "status.nominatedNodeName", F_STRING},
	{NULL, NULL, F_STRING},
};
static const struct field_def event_fields[] = {
	{"metadata.name", "metadata.name", F_STRING},
	{"metadata.namespace", "metadata.namespace", F_STRING},
	{"involvedObject.kind", "involvedObject.kind", F_STRING},
	{"involvedObject.namespace", "involvedObject.namespace", F_STRING},
	{"involvedObject.name", "involvedObject.name", F_STRING},
	{"involvedObject.uid", "involvedObject.uid", F_STRING},
	{"involvedObject.apiVersion", "involvedObject.apiVersion", F_STRING},
	{"involvedObject.resourceVersion", "involvedObject.resourceVersion", F_STRING},
	{"involvedObject.fieldPath", "involvedObject.fieldPath", F_STRING},
	{"reason", "reason", F_STRING},
	{"reportingComponent", "reportingComponent", F_STRING},
	{"source", "source.component", F_STRING},
	{"type", "type", F_STRING},
	{NULL, NULL, F_STRING},
};
static const struct field_def secret_fields[] = {
	{"metadata.name", "metadata.name", F_STRING},
	{"metadata.namespace", "metadata.namespace", F_STRING},
	{"type", "type", F_STRING},
	{NULL, NULL, F_STRING},
};
static const struct field_def node_fields[] = {
	{"metadata.name", "metadata.name", F_STRING},
	{"spec.unschedulable", "spec.unschedulable", F_BOOL},
	{NULL, NULL, F_STRING},
};
static const struct field_def namespace_fields[] = {
	{"metadata.name", "metadata.name", F_STRING},
	{"status.phase", "status.phase", F_STRING},
	{NULL, NULL, F_STRING},
};
static const struct field_def replicas_fields[] = {
	{"metadata.name", "metadata.name", F_STRING},
	{"metadata.namespace", "metadata.namespace", F_STRING},
	{"status.replicas", "status.replicas", F_INT},
	{NULL, NULL, F_STRING},
};
static const struct field_def job_fields[] = {
	{"metadata.name", "metadata.name", F_STRING},
	{"metadata.namespace", "metadata.namespace", F_STRING},
	{"status.successful", "status.succeeded", F_INT},
	{NULL, NULL, F_STRING},
};

/* Resources with their own field label conversion (and its message). */
static const struct {
	const char *resource;
	const struct field_def *defs;
} resource_fields[] = {
	{"pods", pod_fields},
	{"events", event_fields},
	{"secrets", secret_fields},
	{"nodes", node_fields},
	{"namespaces", namespace_fields},
	{"replicasets", replicas_fields},
	{"replicationcontrollers", replicas_fields},
	{"jobs", job_fields},
};

static const struct field_def *defs_for(const char *resource, bool *custom)
{
	for (size_t i = 0; resource && i < sizeof resource_fields / sizeof resource_fields[0];
	     i++) {
		if (strcmp(resource, resource_fields[i].resource) == 0) {
			*custom = true;
			return resource_fields[i].defs;
		}
	}
	*custom = false;
	return meta_fields;
}

static const struct field_def *find_def(const struct field_def *defs, const char *path)
{
	for (; defs->path; defs++)
		if (strcmp(defs->path, path) == 0)
			return defs;
	return NULL;
}

void field_selector_free(struct field_selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->terms[i].path);
		free(s->terms[i].value);
	}
	free(s->terms);
	free(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* UnescapeValue: "\\\\", "\\," and "\\=" are the only escapes; bare ',' '=' are errors. */
static int unescape(const char *s, char **out, struct kc_err *err)
{
	size_t n = strlen(s);
	char *v = xmalloc(n + 1), *w = v;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\') {
			if (i + 1 >= n) {
				free(v);
				return kc_err_set(
					err, -KC_EINVAL,
					"invalid field selector: invalid escape sequence: \\");
			}
			char e = s[++i];
			if (e != '\\' && e != ',' && e != '=') {
				/* the sequence is one rune: show its UTF-8 bytes */
				size_t rl = 1;
				unsigned char b = (unsigned char)e;
				if (b >= 0xc0)
					rl = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
				if (i + rl > n)
					rl = n - i;
				free(v);
				return kc_err_set(
					err, -KC_EINVAL,
					"invalid field selector: invalid escape sequence: \\%.*s",
					(int)rl, s + i);
			}
			*w++ = e;
		} else if (c == ',' || c == '=') {
			free(v);
			return kc_err_set(
				err, -KC_EINVAL,
				"invalid field selector: unescaped character in value: %c", c);
		} else {
			*w++ = c;
		}
	}
	*w = '\0';
	*out = v;
	return 0;
}

int field_selector_parse(const char *str, const char *resource, struct field_selector **out,
			 struct kc_err *err)
{
	*out = NULL;
	struct field_selector *s = xcalloc(1, sizeof *s);
	if (!str || !*str) {
		*out = s;
		return 0;
	}
	size_t len = strlen(str);
	if (len > SELECTOR_MAX_LEN) {
		free(s);
		return kc_err_set(err, -KC_EINVAL, "field selector longer than %d bytes",
				  SELECTOR_MAX_LEN);
	}
	/* splitTerms: ',' not preceded by an escaping backslash */
	char *copy = xstrdup(str);
	char **parts = xmalloc((len + 1) * sizeof *parts);
	size_t nparts = 0;
	bool in_slash = false;
	parts[nparts++] = copy;
	for (size_t i = 0; i < len; i++) {
		if (in_slash)
			in_slash = false;
		else if (copy[i] == '\\')
			in_slash = true;
		else if (copy[i] == ',') {
			copy[i] = '\0';
			parts[nparts++] = copy + i + 1;
		}
	}
	int rc = 0;
	if (nparts > SELECTOR_MAX_REQUIREMENTS) {
		rc = kc_err_set(err, -KC_EINVAL, "more than %d requirements in a selector",
				SELECTOR_MAX_REQUIREMENTS);
		goto out;
	}
	qsort(parts, nparts, sizeof *parts, cmp_str);
	bool custom;
	const struct field_def *defs = defs_for(resource, &custom);
	s->terms = xcalloc(nparts, sizeof *s->terms);
	for (size_t i = 0; i < nparts; i++) {
		char *part = parts[i];
		if (!*part)
			continue;
		/* splitTerm: the first position where "!=", "==" or "=" starts */
		char *op = NULL;
		size_t oplen = 0;
		bool neq = false;
		for (char *c = part; *c && !op; c++) {
			if (c[0] == '!' && c[1] == '=') {
				op = c;
				oplen = 2;
				neq = true;
			} else if (c[0] == '=') {
				op = c;
				oplen = c[1] == '=' ? 2 : 1;
			}
		}
		if (!op) {
			rc = kc_err_set(err, -KC_EINVAL,
					"invalid selector: '%s'; can't understand '%s'", str, part);
			goto out;
		}
		char *value = NULL;
		if ((rc = unescape(op + oplen, &value, err)))
			goto out;
		struct field_term *t = &s->terms[s->n++];
		t->path = xstrndup(part, (size_t)(op - part));
		t->value = value;
		t->neq = neq;
	}
	/* the field label conversion (Transform) */
	for (size_t i = 0; i < s->n; i++) {
		if (find_def(defs, s->terms[i].path))
			continue;
		if (custom)
			rc = kc_err_set(err, -KC_EINVAL, "field label not supported: %s",
					s->terms[i].path);
		else
			rc = kc_err_set(
				err, -KC_EINVAL,
				"\"%s\" is not a known field selector: only \"metadata.name\", "
				"\"metadata.namespace\"",
				s->terms[i].path);
		goto out;
	}
	/* "spec.host" is the old name of "spec.nodeName" */
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->terms[i].path, "spec.host") == 0 && custom && defs == pod_fields) {
			free(s->terms[i].path);
			s->terms[i].path = xstrdup("spec.nodeName");
		}
	}
out:
	free(parts);
	free(copy);
	if (rc) {
		field_selector_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* The value of a selectable field as the registry's field set renders it: a borrowed string,
 * or one written into buf. */
static const char *field_value(const cJSON *obj, const char *path, char *buf, size_t cap)
{
	static const struct field_def *const all[] = {
		pod_fields,	  event_fields,	   secret_fields, node_fields,
		namespace_fields, replicas_fields, job_fields};
	const struct field_def *d = NULL;
	for (size_t i = 0; i < sizeof all / sizeof all[0] && !d; i++)
		d = find_def(all[i], path);
	const cJSON *v = kc_json_get(obj, d ? d->json : path);
	switch (d ? d->kind : F_STRING) {
	case F_STRING:
		return cJSON_IsString(v) ? v->valuestring : "";
	case F_BOOL:
		return cJSON_IsTrue(v) ? "true" : "false";
	case F_INT: {
		long long n = 0;
		if (kc_json_as_i64(v, &n) != 0)
			n = 0;
		snprintf(buf, cap, "%lld", n);
		return buf;
	}
	}
	return "";
}

bool field_selector_match(const struct field_selector *s, const cJSON *obj)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct field_term *t = &s->terms[i];
		char buf[32];
		bool eq = strcmp(field_value(obj, t->path, buf, sizeof buf), t->value) == 0;
		if (eq == t->neq)
			return false;
	}
	return true;
}

const char *field_selector_exact(const struct field_selector *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->terms[i].neq && strcmp(s->terms[i].path, path) == 0)
			return s->terms[i].value;
	return NULL;
}

bool field_selector_empty(const struct field_selector *s)
{
	return s->n == 0;
}
