/* DESIGN: the one parser of Prometheus text in kc (the node agents' /metrics/resource, scraped
 * by the API server). Untrusted input: every line is copied into a fixed scratch buffer of
 * PROM_MAX_LINE bytes and split in place (label values are unescaped in place, which only
 * shortens them), so the parser never allocates and never reads past len. Pure and reentrant. */
#include "lib/promtext.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static void skip_blank(char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* Reads a metric or label name at *p; NUL-terminating it happens later (the caller saves the
 * following byte). Returns its length, 0 when none. */
static size_t read_name(const char *p, bool label)
{
	if (!name_start(p[0]) || (label && p[0] == ':'))
		return 0;
	size_t n = 1;
	while (name_char(p[n]) && !(label && p[n] == ':'))
		n++;
	return n;
}

/* Parses a float sample value the way Prometheus does (Go's ParseFloat) minus hex forms. */
static int parse_value(const char *s, double *out)
{
	if (!strcmp(s, "NaN")) {
		*out = NAN;
		return 0;
	}
	if (!strcmp(s, "+Inf") || !strcmp(s, "Inf")) {
		*out = INFINITY;
		return 0;
	}
	if (!strcmp(s, "-Inf")) {
		*out = -INFINITY;
		return 0;
	}
	if (!*s || strlen(s) > 64)
		return -1;
	for (const char *c = s; *c; c++)
		if (!strchr("0123456789+-.eE", *c))
			return -1;
	char *end;
	*out = strtod(s, &end);
	return *end ? -1 : 0;
}

/* Splits one line (NUL-terminated, in scratch) into s. Returns 0 or -1 with why set. */
static int parse_line(char *p, struct prom_sample *s, const char **why)
{
	memset(s, 0, sizeof *s);
	size_t n = read_name(p, false);
	if (!n || n > PROM_MAX_NAME)
		return *why = "bad metric name", -1;
	s->name = p;
	p += n;
	char after = *p;
	*p = '\0';
	if (after == '{') {
		p++;
		for (;;) {
			skip_blank(&p);
			if (*p == '}') {
				p++;
				break;
			}
			if (s->nlabels == PROM_MAX_LABELS)
				return *why = "too many labels", -1;
			size_t ln = read_name(p, true);
			if (!ln || ln > PROM_MAX_NAME)
				return *why = "bad label name", -1;
			char *lname = p;
			p += ln;
			skip_blank(&p);
			if (*p != '=')
				return *why = "expected '=' after a label name", -1;
			lname[ln] = '\0'; /* overwrites '=' or a blank: both consumed */
			p++;
			skip_blank(&p);
			if (*p != '"')
				return *why = "expected a quoted label value", -1;
			p++;
			char *val = p, *w = p;
			for (;;) {
				if (!*p)
					return *why = "unterminated label value", -1;
				if (*p == '"')
					break;
				if (*p == '\\') {
					p++;
					if (*p == 'n')
						*w++ = '\n';
					else if (*p == '\\' || *p == '"')
						*w++ = *p;
					else
						return *why = "bad escape in a label value", -1;
					p++;
					continue;
				}
				*w++ = *p++;
			}
			p++; /* the closing quote */
			*w = '\0';
			for (size_t i = 0; i < s->nlabels; i++)
				if (!strcmp(s->labels[i].name, lname))
					return *why = "duplicate label", -1;
			s->labels[s->nlabels].name = lname;
			s->labels[s->nlabels].value = val;
			s->nlabels++;
			skip_blank(&p);
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p != '}')
				return *why = "expected ',' or '}' in a label set", -1;
		}
		if (*p != ' ' && *p != '\t')
			return *why = "expected a blank after the label set", -1;
		after = *p;
	} else if (after != ' ' && after != '\t') {
		return *why = "expected a blank after the metric name", -1;
	}
	if (after != '\0')
		p++;
	skip_blank(&p);
	char *v = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	bool more = *p != '\0';
	*p = '\0';
	if (parse_value(v, &s->value) < 0)
		return *why = "bad sample value", -1;
	if (more) {
		p++;
		skip_blank(&p);
		if (*p) {
			char *t = p;
			while (*p && *p != ' ' && *p != '\t')
				p++;
			bool trailing = *p != '\0';
			*p = '\0';
			if (trailing) {
				p++;
				skip_blank(&p);
				if (*p)
					return *why = "unexpected text after the timestamp", -1;
			}
			long long ts;
			if (kc_parse_i64(t, -(1LL << 53), 1LL << 53, &ts) < 0)
				return *why = "bad timestamp", -1;
			s->has_ts = true;
			s->ts_ms = ts;
		}
	}
	return 0;
}

int prom_parse(const char *buf, size_t len, prom_sample_cb cb, void *arg, struct kc_err *err)
{
	if (len > PROM_MAX_BODY)
		return kc_err_set(err, -KC_ELIMIT, "metrics body of %zu bytes is over %zu", len,
				  PROM_MAX_BODY);
	char line[PROM_MAX_LINE + 1];
	size_t off = 0, lineno = 0, samples = 0;
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
		lineno++;
		if (n > PROM_MAX_LINE)
			return kc_err_set(err, -KC_ELIMIT, "line %zu is longer than %d bytes",
					  lineno, PROM_MAX_LINE);
		memcpy(line, buf + off, n);
		line[n] = '\0';
		off += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (memchr(line, '\0', n))
			return kc_err_set(err, -KC_EPARSE, "line %zu holds a NUL byte", lineno);
		char *p = line;
		skip_blank(&p);
		if (!*p || *p == '#')
			continue;
		if (++samples > PROM_MAX_SAMPLES)
			return kc_err_set(err, -KC_ELIMIT, "more than %d samples",
					  PROM_MAX_SAMPLES);
		struct prom_sample s;
		const char *why = NULL;
		if (parse_line(p, &s, &why) < 0)
			return kc_err_set(err, -KC_EPARSE, "line %zu: %s", lineno, why);
		int rc = cb(&s, arg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

const char *prom_label(const struct prom_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

void prom_write_label_value(struct kc_str *out, const char *v)
{
	kc_str_addc(out, '"');
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			kc_str_addc(out, '\\');
		if (*v == '\n') {
			kc_str_adds(out, "\\n");
			continue;
		}
		kc_str_addc(out, *v);
	}
	kc_str_addc(out, '"');
}
