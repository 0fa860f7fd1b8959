/* table.c - server-side printing: meta.k8s.io/v1 Table columns and rows.
 *
 * DESIGN
 * Owns the per-resource printers: for each kind kube-apiserver prints (pkg/printers/
 * internalversion), the column definitions (name, type, format, description, priority) and a
 * function that computes the cells from the stored JSON object the way the Go printer does from
 * the typed object. The server always prints the wide (priority 1) cells; kubectl hides them
 * unless -o wide. Cells are strings, integers or booleans exactly as upstream emits them.
 *
 * table_row_json is called once per object of a list (10,000 pods): it reads the cJSON tree in
 * place and writes cells straight into the caller's output buffer, escaping as it goes; the only
 * temporary memory is on the stack (sorting label keys, node roles and the like uses a fixed
 * array and falls back to the heap only for objects with more than 64 such entries).
 *
 * Everything here is pure (no state besides constant tables): any thread may call it. */
#include "roles/apiserver/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/quantity.h"

/* ---------------------------------------------------------------------------------------------
 * JSON reading helpers (borrowed pointers into the object; absent or mistyped values read as
 * absent, as a typed Go decoder would leave the zero value) */

static const cJSON *get(const cJSON *o, const char *key)
{
	if (!o || !cJSON_IsObject(o))
		return NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

static const cJSON *get2(const cJSON *o, const char *a, const char *b)
{
	return get(get(o, a), b);
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* "" when absent. */
static const char *strd(const cJSON *o, const char *key)
{
	const char *s = str(o, key);
	return s ? s : "";
}

static bool nonempty(const char *s)
{
	return s && *s;
}

static long long num(const cJSON *o, const char *key, long long def)
{
	const cJSON *v = get(o, key);
	if (!cJSON_IsNumber(v))
		return def;
	double d = v->valuedouble;
	if (!(d > -9.2e18 && d < 9.2e18))
		return def;
	return (long long)d;
}

static bool boolv(const cJSON *o, const char *key, bool def)
{
	const cJSON *v = get(o, key);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* The array at key, or NULL. */
static const cJSON *arr(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);
	return cJSON_IsArray(v) ? v : NULL;
}

static long long count(const cJSON *v)
{
	long long n = 0;
	if (v && (cJSON_IsArray(v) || cJSON_IsObject(v)))
		for (const cJSON *c = v->child; c; c = c->next)
			n++;
	return n;
}

/* The first element or member of an array or object (NULL for anything else). */
static const cJSON *first_child(const cJSON *v)
{
	return v && (cJSON_IsArray(v) || cJSON_IsObject(v)) ? v->child : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Output: escaped string pieces and cells */

/* Length of the valid UTF-8 sequence at p (RFC 3629), 0 when invalid. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned c = p[0];
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

/* Appends s[0..n) JSON-escaped (no quotes). Stops early at a NUL. Invalid UTF-8 becomes
 * U+FFFD so that the output is always valid JSON. */
static void esc(struct kc_str *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		const unsigned char *run = p;
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			kc_str_add(out, run, (size_t)(p - run));
		if (p >= end || !*p)
			return;
		unsigned c = *p;
		if (c >= 0x80) {
			size_t k = (size_t)(end - p) >= 4 ? utf8_seq(p) : 0;
			if (!k && (size_t)(end - p) < 4) {
				/* near the end of a piece: check within bounds only */
				unsigned char tmp[4] = {0};
				memcpy(tmp, p, (size_t)(end - p));
				k = utf8_seq(tmp);
				if (k > (size_t)(end - p))
					k = 0;
			}
			if (k) {
				kc_str_add(out, p, k);
				p += k;
			} else {
				kc_str_add(out, "\xEF\xBF\xBD", 3);
				p++;
			}
			continue;
		}
		char e[6] = {'\\', (char)c, 0, 0, 0, 0};
		size_t en = 2;
		switch (c) {
		case '"':
		case '\\':
			break;
		case '\n':
			e[1] = 'n';
			break;
		case '\r':
			e[1] = 'r';
			break;
		case '\t':
			e[1] = 't';
			break;
		case '\b':
			e[1] = 'b';
			break;
		case '\f':
			e[1] = 'f';
			break;
		default:
			e[1] = 'u';
			kc_str_add(out, e, 2);
			e[0] = '0';
			e[1] = '0';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			en = 4;
		}
		kc_str_add(out, e, en);
		p++;
	}
}

static void escs(struct kc_str *out, const char *s)
{
	if (s)
		esc(out, s, strlen(s));
}

/* Writes v in decimal into buf (>= 24 bytes); returns the length. */
static size_t fmt_ll(long long v, char *buf)
{
	char tmp[24];
	size_t n = 0;
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t len = 0;
	if (v < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = tmp[--n];
	buf[len] = 0;
	return len;
}

static void add_ll(struct kc_str *out, long long v)
{
	char b[24];
	kc_str_add(out, b, fmt_ll(v, b));
}

struct row {
	struct kc_str *out;
	int64_t now;
	bool first;
};

static void cell_sep(struct row *w)
{
	if (!w->first)
		kc_str_addc(w->out, ',');
	w->first = false;
}

static void cell_open(struct row *w)
{
	cell_sep(w);
	kc_str_addc(w->out, '"');
}

static void cell_close(struct row *w)
{
	kc_str_addc(w->out, '"');
}

static void put(struct row *w, const char *s)
{
	escs(w->out, s);
}

static void putn(struct row *w, const char *s, size_t n)
{
	esc(w->out, s, n);
}

static void put_ll(struct row *w, long long v)
{
	add_ll(w->out, v);
}

static void cell_str(struct row *w, const char *s)
{
	cell_open(w);
	put(w, s);
	cell_close(w);
}

/* s, or alt when s is absent or empty. */
static void cell_str_or(struct row *w, const char *s, const char *alt)
{
	cell_str(w, nonempty(s) ? s : alt);
}

static void cell_int(struct row *w, long long v)
{
	cell_sep(w);
	add_ll(w->out, v);
}

static void cell_bool(struct row *w, bool v)
{
	cell_sep(w);
	kc_str_adds(w->out, v ? "true" : "false");
}

/* ---------------------------------------------------------------------------------------------
 * Time */

struct tstamp {
	int64_t sec; /* seconds since the epoch */
	long ns;
};

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* RFC 3339 ("2006-01-02T15:04:05Z", fractions and numeric offsets allowed). */
static bool parse_time(const char *s, struct tstamp *t)
{
	int y, mo, d, h, mi, se;
	if (!s || strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &se))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	const char *p = s + 19;
	long ns = 0;
	if (*p == '.') {
		p++;
		int nd = 0;
		long scale = 100000000;
		while (*p >= '0' && *p <= '9') {
			if (nd++ < 9) {
				ns += (*p - '0') * scale;
				scale /= 10;
			}
			p++;
		}
		if (!nd)
			return false;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 ||
		    om > 59)
			return false;
		off = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return false;
	}
	if (*p)
		return false;
	t->sec = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se -
		 off;
	t->ns = ns;
	return true;
}

/* Go's zero time.Time (0001-01-01T00:00:00Z), which metav1.Time.IsZero reports as unset. */
static bool time_is_zero(const struct tstamp *t)
{
	return t->sec == days_from_civil(1, 1, 1) * 86400 && t->ns == 0;
}

static bool time_before(const struct tstamp *a, const struct tstamp *b)
{
	return a->sec < b->sec || (a->sec == b->sec && a->ns < b->ns);
}

/* The whole seconds of a - b, truncated toward zero like int(d.Seconds()) and saturated like
 * time.Duration (about 292 years). */
static int64_t diff_secs(const struct tstamp *a, const struct tstamp *b)
{
	const int64_t max = 9223372036; /* math.MaxInt64 nanoseconds, in seconds */
	int64_t d;
	if (__builtin_sub_overflow(a->sec, b->sec, &d))
		d = a->sec < b->sec ? -max : max;
	long dn = a->ns - b->ns;
	if (dn < 0 && d >= 1)
		d -= 1;
	else if (dn > 0 && d < 0)
		d += 1;
	if (d > max)
		d = max;
	if (d < -max)
		d = -max;
	return d;
}

/* time.Since(t) at now, in whole seconds. */
static int64_t since(int64_t now, const struct tstamp *t)
{
	const struct tstamp n = {now, 0};
	return diff_secs(&n, t);
}

void table_age(int64_t d, char *buf, size_t cap)
{
	if (!cap)
		return;
	if (d < -1) {
		snprintf(buf, cap, "<invalid>");
		return;
	}
	if (d < 0)
		d = 0;
	if (d < 60 * 2) {
		snprintf(buf, cap, "%llds", (long long)d);
		return;
	}
	long long minutes = d / 60;
	if (minutes < 10) {
		long long s = d % 60;
		if (s == 0)
			snprintf(buf, cap, "%lldm", minutes);
		else
			snprintf(buf, cap, "%lldm%llds", minutes, s);
		return;
	}
	if (minutes < 60 * 3) {
		snprintf(buf, cap, "%lldm", minutes);
		return;
	}
	long long hours = d / 3600;
	if (hours < 8) {
		long long m = minutes % 60;
		if (m == 0)
			snprintf(buf, cap, "%lldh", hours);
		else
			snprintf(buf, cap, "%lldh%lldm", hours, m);
	} else if (hours < 48) {
		snprintf(buf, cap, "%lldh", hours);
	} else if (hours < 24 * 8) {
		long long h = hours % 24;
		if (h == 0)
			snprintf(buf, cap, "%lldd", hours / 24);
		else
			snprintf(buf, cap, "%lldd%lldh", hours / 24, h);
	} else if (hours < 24 * 365 * 2) {
		snprintf(buf, cap, "%lldd", hours / 24);
	} else if (hours < 24 * 365 * 8) {
		long long dy = (hours / 24) % 365;
		if (dy == 0)
			snprintf(buf, cap, "%lldy", hours / 24 / 365);
		else
			snprintf(buf, cap, "%lldy%lldd", hours / 24 / 365, dy);
	} else {
		snprintf(buf, cap, "%lldy", hours / 24 / 365);
	}
}

/* translateTimestampSince: "<unknown>" for an unset time, else the HumanDuration. */
static void put_since(struct row *w, const char *ts)
{
	struct tstamp t;
	if (!parse_time(ts, &t) || time_is_zero(&t)) {
		put(w, "<unknown>");
		return;
	}
	char b[32];
	table_age(since(w->now, &t), b, sizeof b);
	put(w, b);
}

static void cell_since(struct row *w, const char *ts)
{
	cell_open(w);
	put_since(w, ts);
	cell_close(w);
}

static void cell_age(struct row *w, const cJSON *obj)
{
	cell_since(w, str(get(obj, "metadata"), "creationTimestamp"));
}

/* ---------------------------------------------------------------------------------------------
 * Small sorted sets of strings on the stack */

#define SET_STACK 64

struct strset {
	const char **v;
	size_t *len;
	size_t n, cap;
	const char *sv[SET_STACK];
	size_t sl[SET_STACK];
};

static void set_init(struct strset *s)
{
	s->v = s->sv;
	s->len = s->sl;
	s->n = 0;
	s->cap = SET_STACK;
}

static void set_free(struct strset *s)
{
	if (s->v != s->sv) {
		free(s->v);
		free(s->len);
	}
}

static void set_add(struct strset *s, const char *p, size_t n)
{
	if (s->n == s->cap) {
		size_t cap = s->cap * 2;
		const char **v = xmalloc(cap * sizeof *v);
		size_t *len = xmalloc(cap * sizeof *len);
		memcpy(v, s->v, s->n * sizeof *v);
		memcpy(len, s->len, s->n * sizeof *len);
		set_free(s);
		s->v = v;
		s->len = len;
		s->cap = cap;
	}
	s->v[s->n] = p;
	s->len[s->n] = n;
	s->n++;
}

static int piece_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

/* Sorts (insertion sort: the sets are small and this keeps equal keys in order) and, when
 * 'unique', drops duplicates. */
static void set_sort(struct strset *s, bool unique)
{
	for (size_t i = 1; i < s->n; i++) {
		const char *p = s->v[i];
		size_t l = s->len[i], j = i;
		while (j > 0 && piece_cmp(s->v[j - 1], s->len[j - 1], p, l) > 0) {
			s->v[j] = s->v[j - 1];
			s->len[j] = s->len[j - 1];
			j--;
		}
		s->v[j] = p;
		s->len[j] = l;
	}
	if (unique && s->n > 1) {
		size_t k = 1;
		for (size_t i = 1; i < s->n; i++)
			if (piece_cmp(s->v[k - 1], s->len[k - 1], s->v[i], s->len[i]) != 0) {
				s->v[k] = s->v[i];
				s->len[k] = s->len[i];
				k++;
			}
		s->n = k;
	}
}

static void put_set(struct row *w, const struct strset *s, const char *sep)
{
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			put(w, sep);
		putn(w, s->v[i], s->len[i]);
	}
}

/* ---------------------------------------------------------------------------------------------
 * Shared formatters */

/* The members of object map sorted by name (insertion sort, stable). *out is stack when the
 * object has at most SET_STACK members, else a heap array the caller frees. */
static size_t sorted_members(const cJSON *map, const cJSON **stack, const cJSON ***out)
{
	size_t n = cJSON_IsObject(map) ? (size_t)count(map) : 0, k = 0;
	const cJSON **v = n > SET_STACK ? xmalloc(n * sizeof *v) : stack;
	if (n)
		for (const cJSON *c = first_child(map); c; c = c->next)
			if (c->string) {
				size_t j = k++;
				while (j > 0 && strcmp(v[j - 1]->string, c->string) > 0) {
					v[j] = v[j - 1];
					j--;
				}
				v[j] = c;
			}
	*out = v;
	return k;
}

/* labels.FormatLabels: "k=v,k2=v2" sorted by key, "<none>" when empty. */
static void put_labels(struct row *w, const cJSON *map)
{
	const cJSON *stack[SET_STACK], **v;
	size_t n = sorted_members(map, stack, &v);
	if (!n)
		put(w, "<none>");
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(w, ",");
		put(w, v[i]->string);
		put(w, "=");
		put(w, cJSON_IsString(v[i]) ? v[i]->valuestring : "");
	}
	if (v != stack)
		free(v);
}

static void cell_labels(struct row *w, const cJSON *map)
{
	cell_open(w);
	put_labels(w, map);
	cell_close(w);
}

/* The requirement string of one label selector part, for sorting by key. */
struct req {
	const char *key;
	const cJSON *item; /* matchLabels member or matchExpressions element */
	bool expr;
};

static void put_values_sorted(struct row *w, const cJSON *values)
{
	struct strset s;
	set_init(&s);
	for (const cJSON *v = first_child(values); v; v = v->next)
		if (cJSON_IsString(v))
			set_add(&s, v->valuestring, strlen(v->valuestring));
	set_sort(&s, false);
	put_set(w, &s, ",");
	set_free(&s);
}

/* metav1.LabelSelectorAsSelector(ls).String(): requirements sorted by key, "k=v", "k in (a,b)",
 * "k notin (a,b)", "k", "!k". Writes 'none' when the selector is absent or empty and "<error>"
 * for an unknown operator. */
static void put_selector(struct row *w, const cJSON *ls, const char *none)
{
	if (!cJSON_IsObject(ls)) {
		put(w, none);
		return;
	}
	const cJSON *ml = get(ls, "matchLabels"), *me = arr(ls, "matchExpressions");
	struct req stack[SET_STACK], *reqs = stack;
	size_t n = (size_t)(count(cJSON_IsObject(ml) ? ml : NULL) + count(me)), k = 0;
	if (n > SET_STACK)
		reqs = xmalloc(n * sizeof *reqs);
	if (cJSON_IsObject(ml))
		for (const cJSON *c = first_child(ml); c; c = c->next)
			if (c->string)
				reqs[k++] = (struct req){c->string, c, false};
	for (const cJSON *c = first_child(me); c; c = c->next) {
		const char *op = str(c, "operator");
		if (!op || (strcmp(op, "In") && strcmp(op, "NotIn") && strcmp(op, "Exists") &&
			    strcmp(op, "DoesNotExist"))) {
			put(w, "<error>");
			goto out;
		}
		reqs[k++] = (struct req){strd(c, "key"), c, true};
	}
	for (size_t i = 1; i < k; i++) {
		struct req r = reqs[i];
		size_t j = i;
		while (j > 0 && strcmp(reqs[j - 1].key, r.key) > 0) {
			reqs[j] = reqs[j - 1];
			j--;
		}
		reqs[j] = r;
	}
	if (!k)
		put(w, none);
	for (size_t i = 0; i < k; i++) {
		if (i)
			put(w, ",");
		const cJSON *c = reqs[i].item;
		if (!reqs[i].expr) {
			put(w, c->string);
			put(w, "=");
			put(w, cJSON_IsString(c) ? c->valuestring : "");
			continue;
		}
		const char *op = str(c, "operator");
		if (!strcmp(op, "DoesNotExist"))
			put(w, "!");
		put(w, reqs[i].key);
		if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
			put(w, op[0] == 'I' ? " in (" : " notin (");
			put_values_sorted(w, arr(c, "values"));
			put(w, ")");
		}
	}
out:
	if (reqs != stack)
		free(reqs);
}

static void cell_selector(struct row *w, const cJSON *ls, const char *none)
{
	cell_open(w);
	put_selector(w, ls, none);
	cell_close(w);
}

/* layoutContainerCells: the names and the images of containers, each joined by ",". */
static void cells_containers(struct row *w, const cJSON *pod_spec)
{
	const cJSON *cs = arr(pod_spec, "containers");
	cell_open(w);
	for (const cJSON *c = first_child(cs); c; c = c->next) {
		put(w, strd(c, "name"));
		if (c->next)
			put(w, ",");
	}
	cell_close(w);
	cell_open(w);
	for (const cJSON *c = first_child(cs); c; c = c->next) {
		put(w, strd(c, "image"));
		if (c->next)
			put(w, ",");
	}
	cell_close(w);
}

/* An intOrString value as Go's IntOrString.String() prints it. */
static void put_int_or_string(struct row *w, const cJSON *v)
{
	if (cJSON_IsNumber(v))
		put_ll(w, (long long)v->valuedouble);
	else if (cJSON_IsString(v))
		put(w, v->valuestring);
}

/* A resource quantity as stored ("0" when absent). */
static void put_quantity(struct row *w, const cJSON *v)
{
	if (cJSON_IsString(v) && v->valuestring[0])
		put(w, v->valuestring);
	else if (cJSON_IsNumber(v)) {
		char b[KC_JSON_NUMBUF];
		kc_json_format_number(v->valuedouble, b);
		put(w, b);
	} else
		put(w, "0");
}

static void put_lower(struct row *w, const char *s)
{
	char b[64];
	size_t n = 0;
	for (; *s; s++) {
		if (n == sizeof b) {
			putn(w, b, n);
			n = 0;
		}
		b[n++] = (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) : *s;
	}
	putn(w, b, n);
}

/* helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order, each once. */
static void put_access_modes(struct row *w, const cJSON *modes)
{
	static const char *const names[][2] = {
		{"ReadWriteOnce", "RWO"},
		{"ReadOnlyMany", "ROX"},
		{"ReadWriteMany", "RWX"},
		{"ReadWriteOncePod", "RWOP"},
	};
	bool any = false;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		bool has = false;
		for (const cJSON *m = first_child(modes); m; m = m->next)
			if (cJSON_IsString(m) && !strcmp(m->valuestring, names[i][0]))
				has = true;
		if (has) {
			if (any)
				put(w, ",");
			put(w, names[i][1]);
			any = true;
		}
	}
}

/* The "volume.beta.kubernetes.io/storage-class" annotation, else spec.storageClassName. */
static const char *storage_class(const cJSON *obj)
{
	const char *a = str(get2(obj, "metadata", "annotations"),
			    "volume.beta.kubernetes.io/storage-class");
	return a ? a : strd(get(obj, "spec"), "storageClassName");
}

/* Load-balancer ingress points: IP, else hostname; sorted, unique, joined by ",". */
static void put_lb_ingress(struct row *w, const cJSON *ingress)
{
	struct strset s;
	set_init(&s);
	for (const cJSON *i = first_child(ingress); i; i = i->next) {
		const char *v = str(i, "ip");
		if (!nonempty(v))
			v = str(i, "hostname");
		if (nonempty(v))
			set_add(&s, v, strlen(v));
	}
	set_sort(&s, true);
	put_set(w, &s, ",");
	set_free(&s);
}

/* net.JoinHostPort */
static void put_hostport(struct row *w, const char *ip, long long port)
{
	bool v6 = strchr(ip, ':') != NULL;
	if (v6)
		put(w, "[");
	put(w, ip);
	if (v6)
		put(w, "]");
	put(w, ":");
	put_ll(w, port);
}

static const char *time_str(const cJSON *o, const char *key)
{
	return str(o, key);
}

/* ---------------------------------------------------------------------------------------------
 * Column definitions */

struct col {
	const char *name, *type, *format, *desc;
	int priority;
};

#define D_NAME                                                                                     \
	"Name must be unique within a namespace. Is required when creating resources, although "   \
	"some resources may allow a client to request the generation of an appropriate name "      \
	"automatically. Name is primarily intended for creation idempotence and configuration "    \
	"definition. Cannot be updated. More info: "                                               \
	"https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
#define D_AGE                                                                                      \
	"CreationTimestamp is a timestamp representing the server time when this object was "      \
	"created. It is not guaranteed to be set in happens-before order across separate "         \
	"operations. Clients may not set this value. It is represented in RFC3339 form and is in " \
	"UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "                  \
	"https://git.k8s.io/community/contributors/devel/sig-architecture/"                        \
	"api-conventions.md#metadata"
#define D_CONTAINERS "Names of each container in the template."
#define D_IMAGES     "Images referenced by each container in the template."
#define D_SELECTOR                                                                                 \
	"A label query over pods that should match the replica count. It must match the pod "      \
	"template's labels. More info: "                                                           \
	"https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"

#define C_NAME                                                                                     \
	{                                                                                          \
		"Name", "string", "name", D_NAME, 0                                                \
	}
#define C_AGE                                                                                      \
	{                                                                                          \
		"Age", "string", "", D_AGE, 0                                                      \
	}
#define C_S(n, d)                                                                                  \
	{                                                                                          \
		n, "string", "", d, 0                                                              \
	}
#define C_I(n, d)                                                                                  \
	{                                                                                          \
		n, "integer", "", d, 0                                                             \
	}
#define C_B(n, d)                                                                                  \
	{                                                                                          \
		n, "boolean", "", d, 0                                                             \
	}
#define C_W(n, d)                                                                                  \
	{                                                                                          \
		n, "string", "", d, 1                                                              \
	}
#define C_CONTAINERS C_W("Containers", D_CONTAINERS), C_W("Images", D_IMAGES)

static const struct col cols_pod[] = {
	C_NAME,
	C_S("Ready", "The aggregate readiness state of this pod for accepting traffic."),
	C_S("Status", "The aggregate status of the containers in this pod."),
	C_S("Restarts", "The number of times the containers in this pod have been restarted and "
			"when the last container in this pod has restarted."),
	C_AGE,
	C_W("IP", "podIP address allocated to the pod. Routable at least within the cluster. Empty "
		  "if not yet allocated."),
	C_W("Node",
	    "NodeName indicates in which node this pod is scheduled. If empty, this pod is "
	    "a candidate for scheduling by the scheduler defined in schedulerName. Once this "
	    "field is set, the kubelet for this node becomes responsible for the lifecycle "
	    "of this pod. This field should not be used to express a desire for the pod to "
	    "be scheduled on a specific node. "
	    "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/"
	    "#nodename"),
	C_W("Nominated Node",
	    "nominatedNodeName is set only when this pod preempts other pods on the node, but it "
	    "cannot be scheduled right away as preemption victims receive their graceful "
	    "termination periods. This field does not guarantee that the pod will be scheduled on "
	    "this node. Scheduler may decide to place the pod elsewhere if other nodes become "
	    "available sooner. Scheduler may also decide to give the resources on this node to a "
	    "higher priority pod that is created after preemption. As a result, this field may be "
	    "different than PodSpec.nodeName when the pod is scheduled."),
	C_W("Readiness Gates",
	    "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready "
	    "when all its containers are ready AND all conditions specified in the readiness gates "
	    "have status equal to \"True\" More info: "
	    "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"),
};

#define D_NODE_ADDRESSES                                                                           \
	"List of addresses reachable to the node. Queried from cloud provider, if available. "     \
	"More info: https://kubernetes.io/docs/concepts/nodes/node/#addresses Note: This field "   \
	"is declared as mergeable, but the merge key is not sufficiently unique, which can cause " \
	"data corruption when it is merged. Callers should instead use a full-replacement patch. " \
	"See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can "  \
	"change during the lifetime of a Node. However, there are some exceptions where this may " \
	"not be possible, such as Pods that inherit a Node's address in its own status or "        \
	"consumers of the downward API (status.hostIP)."

static const struct col cols_node[] = {
	C_NAME,
	C_S("Status", "The status of the node"),
	C_S("Roles", "The roles of the node"),
	C_AGE,
	C_S("Version", "Kubelet Version reported by the node."),
	C_W("Internal-IP", D_NODE_ADDRESSES),
	C_W("External-IP", D_NODE_ADDRESSES),
	C_W("OS-Image",
	    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
	C_W("Kernel-Version",
	    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
	C_W("Container-Runtime", "ContainerRuntime Version reported by the node through runtime "
				 "remote API (e.g. containerd://1.4.2)."),
};

static const struct col cols_namespace[] = {
	C_NAME,
	C_S("Status", "The status of the namespace"),
	C_AGE,
};

static const struct col cols_service[] = {
	C_NAME,
	C_S("Type",
	    "type determines how the Service is exposed. Defaults to ClusterIP. Valid "
	    "options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" "
	    "allocates a cluster-internal IP address for load-balancing to endpoints. "
	    "Endpoints are determined by the selector or if that is not specified, by "
	    "manual construction of an Endpoints object or EndpointSlice objects. If "
	    "clusterIP is \"None\", no virtual IP is allocated and the endpoints are "
	    "published as a set of endpoints rather than a virtual IP. \"NodePort\" builds "
	    "on ClusterIP and allocates a port on every node which routes to the same "
	    "endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an "
	    "external load-balancer (if supported in the current cloud) which routes to the "
	    "same endpoints as the clusterIP. \"ExternalName\" aliases this service to the "
	    "specified externalName. Several other fields do not apply to ExternalName "
	    "services. More info: https://kubernetes.io/docs/concepts/services-networking/"
	    "service/#publishing-services-service-types"),
	C_S("Cluster-IP",
	    "clusterIP is the IP address of the service and is usually assigned "
	    "randomly. If an address is specified manually, is in-range (as per "
	    "system configuration), and is not in use, it will be allocated to the "
	    "service; otherwise creation of the service will fail. This field may not "
	    "be changed through updates unless the type field is also being changed to "
	    "ExternalName (which requires this field to be blank) or the type field is "
	    "being changed from ExternalName (in which case this field may optionally "
	    "be specified, as describe above).  Valid values are \"None\", empty string "
	    "(\"\"), or a valid IP address. Setting this to \"None\" makes a "
	    "\"headless service\" (no virtual IP), which is useful when direct endpoint "
	    "connections are preferred and proxying is not required.  Only applies to "
	    "types ClusterIP, NodePort, and LoadBalancer. If this field is specified "
	    "when creating a Service of type ExternalName, creation will fail. This "
	    "field will be wiped when updating a Service to type ExternalName. More "
	    "info: https://kubernetes.io/docs/concepts/services-networking/service/"
	    "#virtual-ips-and-service-proxies"),
	C_S("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster "
			   "will also accept traffic for this service.  These IPs are not managed "
			   "by Kubernetes.  The user is responsible for ensuring that traffic "
			   "arrives at a node with this IP.  A common example is external "
			   "load-balancers that are not part of the Kubernetes system."),
	C_S("Port(s)", "The list of ports that are exposed by this service. More info: "
		       "https://kubernetes.io/docs/concepts/services-networking/service/"
		       "#virtual-ips-and-service-proxies"),
	C_AGE,
	C_W("Selector", "Route service traffic to pods with label keys and values matching this "
			"selector. If empty or not present, the service is assumed to have an "
			"external process managing its endpoints, which Kubernetes will not "
			"modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. "
			"Ignored if type is ExternalName. More info: "
			"https://kubernetes.io/docs/concepts/services-networking/service/"),
};

static const struct col cols_endpoints[] = {
	C_NAME,
	C_S("Endpoints",
	    "The set of all endpoints is the union of all subsets. Addresses are placed into "
	    "subsets according to the IPs they share. A single address with multiple ports, some "
	    "of which are ready and some of which are not (because they come from different "
	    "containers) will result in the address being displayed in different subsets for the "
	    "different ports. No address will appear in both Addresses and NotReadyAddresses in "
	    "the same subset. Sets of addresses and ports that comprise a service."),
	C_AGE,
};

static const struct col cols_endpointslice[] = {
	C_NAME,
	C_S("AddressType",
	    "addressType specifies the type of address carried by this "
	    "EndpointSlice. All addresses in this slice must be the same type. This "
	    "field is immutable after creation. The following address types are "
	    "currently supported: * IPv4: Represents an IPv4 Address. * IPv6: "
	    "Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain "
	    "Name."),
	C_S("Ports", "ports specifies the list of network ports exposed by each endpoint in this "
		     "slice. Each port must have a unique name. When ports is empty, it indicates "
		     "that there are no defined ports. When a port is defined with a nil port "
		     "value, it indicates \"all ports\". Each slice may include a maximum of 100 "
		     "ports."),
	C_S("Endpoints", "endpoints is a list of unique endpoints in this slice. Each slice may "
			 "include a maximum of 1000 endpoints."),
	C_AGE,
};

static const struct col cols_configmap[] = {
	C_NAME,
	C_S("Data", "Data contains the configuration data. Each key must consist of alphanumeric "
		    "characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use "
		    "the BinaryData field. The keys stored in Data must not overlap with the keys "
		    "in the BinaryData field, this is enforced during validation process."),
	C_AGE,
};

static const struct col cols_secret[] = {
	C_NAME,
	C_S("Type", "Used to facilitate programmatic handling of secret data. More info: "
		    "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
	C_S("Data", "Data contains the secret data. Each key must consist of alphanumeric "
		    "characters, '-', '_' or '.'. The serialized form of the secret data is a "
		    "base64 encoded string, representing the arbitrary (possibly non-string) data "
		    "value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
	C_AGE,
};

static const struct col cols_serviceaccount[] = {
	C_NAME,
	C_S("Secrets", "Secrets is a list of the secrets in the same namespace that pods running "
		       "using this ServiceAccount are allowed to use. Pods are only limited to "
		       "this list if this service account has a "
		       "\"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". "
		       "The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated "
		       "since v1.32. Prefer separate namespaces to isolate access to mounted "
		       "secrets. This field should not be used to find auto-generated service "
		       "account token secrets for use outside of pods. Instead, tokens can be "
		       "requested directly using the TokenRequest API, or service account token "
		       "secrets can be manually created. More info: "
		       "https://kubernetes.io/docs/concepts/configuration/secret"),
	C_AGE,
};

static const struct col cols_event[] = {
	C_S("Last Seen", "The time at which the most recent occurrence of this event was "
			 "recorded."),
	C_S("Type", "Type of this event (Normal, Warning), new types could be added in the "
		    "future"),
	C_S("Reason", "This should be a short, machine understandable string that gives the "
		      "reason for the transition into the object's current status."),
	C_S("Object", "The object that this event is about."),
	C_W("Subobject",
	    "If referring to a piece of an object instead of an entire object, this string should "
	    "contain a valid JSON/Go field access statement, such as "
	    "desiredState.manifest.containers[2]. For example, if the object reference is to a "
	    "container within a pod, this would take on a value like: \"spec.containers{name}\" "
	    "(where \"name\" refers to the name of the container that triggered the event) or if "
	    "no container name is specified \"spec.containers[2]\" (container with index 2 in "
	    "this pod). This syntax is chosen only to have some well-defined way of referencing a "
	    "part of an object."),
	C_W("Source", "The component reporting this event. Should be a short machine "
		      "understandable string."),
	C_S("Message", "A human-readable description of the status of this operation."),
	C_W("First Seen", "The time at which the event was first recorded. (Time of server "
			  "receipt is in TypeMeta.)"),
	C_W("Count", "The number of times this event has occurred."),
	{"Name", "string", "name", D_NAME, 1},
};

static const struct col cols_deployment[] = {
	C_NAME,
	C_S("Ready", "Number of the pod with ready state"),
	C_S("Up-to-date", "Total number of non-terminated pods targeted by this deployment that "
			  "have the desired template spec."),
	C_S("Available", "Total number of available non-terminating pods (ready for at least "
			 "minReadySeconds) targeted by this deployment."),
	C_AGE,
	C_CONTAINERS,
	C_W("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by "
			"this will be the ones affected by this deployment."),
};

static const struct col cols_replicaset[] = {
	C_NAME,
	C_I("Desired", "Replicas is the number of desired pods. This is a pointer to distinguish "
		       "between explicit zero and unspecified. Defaults to 1. More info: "
		       "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
	C_I("Current", "Replicas is the most recently observed number of non-terminating pods. "
		       "More info: https://kubernetes.io/docs/concepts/workloads/controllers/"
		       "replicaset"),
	C_I("Ready", "The number of non-terminating pods targeted by this ReplicaSet with a Ready "
		     "Condition."),
	C_AGE,
	C_CONTAINERS,
	C_W("Selector", "Selector is a label query over pods that should match the replica count. "
			"Label keys and values that must match in order to be controlled by this "
			"replica set. It must match the pod template's labels. More info: "
			"https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/"
			"#label-selectors"),
};

static const struct col cols_rc[] = {
	C_NAME,
	C_I("Desired", "Replicas is the number of desired replicas. This is a pointer to "
		       "distinguish between explicit zero and unspecified. Defaults to 1. More "
		       "info: https://kubernetes.io/docs/concepts/workloads/controllers/"
		       "replicationcontroller#what-is-a-replicationcontroller"),
	C_I("Current", "Replicas is the most recently observed number of replicas. More info: "
		       "https://kubernetes.io/docs/concepts/workloads/controllers/"
		       "replicationcontroller#what-is-a-replicationcontroller"),
	C_I("Ready", "The number of ready replicas for this replication controller."),
	C_AGE,
	C_CONTAINERS,
	C_W("Selector", "Selector is a label query over pods that should match the Replicas "
			"count. If Selector is empty, it is defaulted to the labels present on the "
			"Pod template. Label keys and values that must match in order to be "
			"controlled by this replication controller, if empty defaulted to labels "
			"on Pod template. More info: https://kubernetes.io/docs/concepts/overview/"
			"working-with-objects/labels/#label-selectors"),
};

static const struct col cols_statefulset[] = {
	C_NAME,
	C_S("Ready", "Number of the pod with ready state"),
	C_AGE,
	C_CONTAINERS,
};

static const struct col cols_daemonset[] = {
	C_NAME,
	C_I("Desired", "The total number of nodes that should be running the daemon pod "
		       "(including nodes correctly running the daemon pod). More info: "
		       "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
	C_I("Current", "The number of nodes that are running at least 1 daemon pod and are "
		       "supposed to run the daemon pod. More info: "
		       "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
	C_I("Ready", "The number of nodes that should be running the daemon pod and have one or "
		     "more of the daemon pod running with a Ready Condition."),
	C_I("Up-to-date", "The total number of nodes that are running updated daemon pod"),
	C_I("Available", "The number of nodes that should be running the daemon pod and have one "
			 "or more of the daemon pod running and available (ready for at least "
			 "spec.minReadySeconds)"),
	C_S("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on "
			     "a node. Selector which must match a node's labels for the pod to be "
			     "scheduled on that node. More info: https://kubernetes.io/docs/"
			     "concepts/configuration/assign-pod-node/"),
	C_AGE,
	C_CONTAINERS,
	C_W("Selector", "A label query over pods that are managed by the daemon set. Must match "
			"in order to be controlled. It must match the pod template's labels. More "
			"info: https://kubernetes.io/docs/concepts/overview/working-with-objects/"
			"labels/#label-selectors"),
};

static const struct col cols_job[] = {
	C_NAME,
	C_S("Status", "Status of the job."),
	C_S("Completions", "The number of pods which reached phase Succeeded. The value increases "
			   "monotonically for a given spec. However, it may decrease in reaction "
			   "to scale down of elastic indexed jobs."),
	C_S("Duration", "Time required to complete the job."),
	C_AGE,
	C_CONTAINERS,
	C_W("Selector", "A label query over pods that should match the pod count. Normally, the "
			"system sets this field for you. More info: https://kubernetes.io/docs/"
			"concepts/overview/working-with-objects/labels/#label-selectors"),
};

static const struct col cols_cronjob[] = {
	C_NAME,
	C_S("Schedule", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
	C_S("Timezone", "The time zone name for the given schedule, see "
			"https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not "
			"specified, this will default to the time zone of the "
			"kube-controller-manager process. The set of valid time zone names and the "
			"time zone offset is loaded from the system-wide time zone database by the "
			"API server during CronJob validation and the controller manager during "
			"execution. If no system-wide time zone database can be found a bundled "
			"version of the database is used instead. If the time zone name becomes "
			"invalid during the lifetime of a CronJob or due to a change in host "
			"configuration, the controller will stop creating new new Jobs and will "
			"create a system event with the reason UnknownTimeZone. More information "
			"can be found in https://kubernetes.io/docs/concepts/workloads/"
			"controllers/cron-jobs/#time-zones"),
	C_B("Suspend", "This flag tells the controller to suspend subsequent executions, it does "
		       "not apply to already started executions.  Defaults to false."),
	C_I("Active", "A list of pointers to currently running jobs."),
	C_S("Last Schedule", "Information when was the last time the job was successfully "
			     "scheduled."),
	C_AGE,
	C_CONTAINERS,
	C_W("Selector", "A label query over pods that should match the pod count. Normally, the "
			"system sets this field for you. More info: https://kubernetes.io/docs/"
			"concepts/overview/working-with-objects/labels/#label-selectors"),
};

static const struct col cols_lease[] = {
	C_NAME,
	C_S("Holder", "holderIdentity contains the identity of the holder of a current lease. If "
		      "Coordinated Leader Election is used, the holder identity must be equal to "
		      "the elected LeaseCandidate.metadata.name field."),
	C_AGE,
};

/* metrics-server's tables of NodeMetrics and PodMetrics: the usage quantities (a pod's summed
 * over its containers) and the window */
static const struct col cols_metrics[] = {
	{ "Name", "string", "name", "Name of the resource", 0 },
	{ "cpu", "string", "quantity", "", 0 },
	{ "memory", "string", "quantity", "", 0 },
	{ "Window", "string", "duration", "", 0 },
};

static const struct col cols_ingress[] = {
	C_NAME,
	C_S("Class", "The name of the IngressClass resource that should be used for additional "
		     "configuration"),
	C_S("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
	C_S("Address", "Address is a list containing ingress points for the load-balancer"),
	C_S("Ports", "Ports of TLS configurations that open"),
	C_AGE,
};

static const struct col cols_ingressclass[] = {
	C_NAME,
	C_S("Controller", "Controller that is responsible for handling this class"),
	C_S("Parameters", "A reference to a resource with additional parameters"),
	C_AGE,
};

static const struct col cols_networkpolicy[] = {
	C_NAME,
	C_S("Pod-Selector",
	    "Selects the pods to which this NetworkPolicy object applies.  The array of ingress "
	    "rules is applied to any pods selected by this field. Multiple network policies can "
	    "select the same set of pods.  In this case, the ingress rules for each are combined "
	    "additively. This field is NOT optional and follows standard label selector "
	    "semantics. An empty podSelector matches all pods in this namespace."),
	C_AGE,
};

static const struct col cols_pv[] = {
	C_NAME,
	C_S("Capacity", "capacity is the description of the persistent volume's resources and "
			"capacity. More info: https://kubernetes.io/docs/concepts/storage/"
			"persistent-volumes#capacity"),
	C_S("Access Modes", "accessModes contains all ways the volume can be mounted. More info: "
			    "https://kubernetes.io/docs/concepts/storage/persistent-volumes"
			    "#access-modes"),
	C_S("Reclaim Policy",
	    "persistentVolumeReclaimPolicy defines what happens to a persistent volume when "
	    "released from its claim. Valid options are Retain (default for manually created "
	    "PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), "
	    "and Recycle (deprecated). Recycle must be supported by the volume plugin underlying "
	    "this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/"
	    "persistent-volumes#reclaiming"),
	C_S("Status", "phase indicates if a volume is available, bound to a claim, or released by "
		      "a claim. More info: https://kubernetes.io/docs/concepts/storage/"
		      "persistent-volumes#phase"),
	C_S("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and "
		     "PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName "
		     "is the authoritative bind between PV and PVC. More info: "
		     "https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"),
	C_S("StorageClass", "StorageClass of the pv"),
	C_S("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
	C_S("Reason", "reason is a brief CamelCase string that describes any failure and is meant "
		      "for machine parsing and tidy display in the CLI."),
	C_AGE,
	C_W("VolumeMode", "volumeMode defines if a volume is intended to be used with a formatted "
			  "filesystem or to remain in raw block state. Value of Filesystem is "
			  "implied when not included in spec."),
};

static const struct col cols_pvc[] = {
	C_NAME,
	C_S("Status", "phase represents the current phase of PersistentVolumeClaim."),
	C_S("Volume", "volumeName is the binding reference to the PersistentVolume backing this "
		      "claim."),
	C_S("Capacity", "capacity represents the actual resources of the underlying volume."),
	C_S("Access Modes", "accessModes contains the actual access modes the volume backing the "
			    "PVC has. More info: https://kubernetes.io/docs/concepts/storage/"
			    "persistent-volumes#access-modes-1"),
	C_S("StorageClass", "StorageClass of the pvc"),
	C_S("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
	C_AGE,
	C_W("VolumeMode", "volumeMode defines what type of volume is required by the claim. Value "
			  "of Filesystem is implied when not included in claim spec."),
};

static const struct col cols_rolebinding[] = {
	C_NAME,
	C_S("Role", "RoleRef can reference a Role in the current namespace or a ClusterRole in "
		    "the global namespace. If the RoleRef cannot be resolved, the Authorizer must "
		    "return an error. This field is immutable."),
	C_AGE,
	C_W("Users", "Users in the roleBinding"),
	C_W("Groups", "Groups in the roleBinding"),
	C_W("ServiceAccounts", "ServiceAccounts in the roleBinding"),
};

static const struct col cols_clusterrolebinding[] = {
	C_NAME,
	C_S("Role", "RoleRef can only reference a ClusterRole in the global namespace. If the "
		    "RoleRef cannot be resolved, the Authorizer must return an error. This field "
		    "is immutable."),
	C_AGE,
	C_W("Users", "Users in the clusterRoleBinding"),
	C_W("Groups", "Groups in the clusterRoleBinding"),
	C_W("ServiceAccounts", "ServiceAccounts in the clusterRoleBinding"),
};

static const struct col cols_resourcequota[] = {
	C_NAME,
	C_S("Request", "Request represents a minimum amount of cpu/memory that a container may "
		       "consume."),
	C_S("Limit", "Limits control the maximum amount of cpu/memory that a container may use "
		     "independent of contention on the node."),
	C_AGE,
};

static const struct col cols_priorityclass[] = {
	C_NAME,
	C_I("Value", "value represents the integer value of this priority class. This is the "
		     "actual priority that pods receive when they have the name of this class in "
		     "their pod spec."),
	C_B("Global-Default",
	    "globalDefault specifies whether this PriorityClass should be considered as the "
	    "default priority for pods that do not have any priority class. Only one "
	    "PriorityClass can be marked as `globalDefault`. However, if more than one "
	    "PriorityClasses exists with their `globalDefault` field set to true, the smallest "
	    "value of such global default PriorityClasses will be used as the default priority."),
	C_AGE,
	C_S("PreemptionPolicy", "preemptionPolicy is the Policy for preempting pods with lower "
				"priority. One of Never, PreemptLowerPriority. Defaults to "
				"PreemptLowerPriority if unset."),
};

static const struct col cols_pdb[] = {
	C_NAME,
	C_S("Min Available", "The minimum number of pods that must be available."),
	C_S("Max Unavailable", "The maximum number of pods that may be unavailable."),
	C_I("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time."),
	C_AGE,
};

static const struct col cols_storageclass[] = {
	C_NAME,
	C_S("Provisioner", "provisioner indicates the type of the provisioner."),
	C_S("ReclaimPolicy", "reclaimPolicy controls the reclaimPolicy for dynamically "
			     "provisioned PersistentVolumes of this storage class. Defaults to "
			     "Delete."),
	C_S("VolumeBindingMode", "volumeBindingMode indicates how PersistentVolumeClaims should "
				 "be provisioned and bound.  When unset, VolumeBindingImmediate "
				 "is used. This field is only honored by servers that enable the "
				 "VolumeScheduling feature."),
	C_S("AllowVolumeExpansion", "allowVolumeExpansion shows whether the storage class allow "
				    "volume expand."),
	C_AGE,
};

static const struct col cols_podtemplate[] = {
	C_NAME,
	C_S("Containers", D_CONTAINERS),
	C_S("Images", D_IMAGES),
	C_S("Pod Labels", "The labels for the pod template."),
};

static const struct col cols_controllerrevision[] = {
	C_NAME,
	C_S("Controller", "Controller of the object"),
	C_S("Revision", "Revision indicates the revision of the state represented by Data."),
	C_AGE,
};

/* rest.NewDefaultTableConvertor: resources without a printer upstream (roles, clusterroles,
 * limitranges). */
static const struct col cols_created[] = {
	C_NAME,
	{"Created At", "date", "", D_AGE, 0},
};

/* Anything else. */
static const struct col cols_default[] = {
	C_NAME,
	C_AGE,
};

/* ---------------------------------------------------------------------------------------------
 * Cells, one function per printer; each receives the whole object */

static const cJSON *meta(const cJSON *o)
{
	return get(o, "metadata");
}

static void cell_name(struct row *w, const cJSON *o)
{
	cell_str(w, strd(meta(o), "name"));
}

static bool has_deletion(const cJSON *o)
{
	return get(meta(o), "deletionTimestamp") != NULL;
}

/* Whether the init container 'name' of spec has restartPolicy Always (a sidecar). */
static bool restartable_init(const cJSON *spec, const char *name)
{
	if (!name)
		return false;
	for (const cJSON *c = first_child(arr(spec, "initContainers")); c; c = c->next) {
		const char *n = str(c, "name");
		if (n && !strcmp(n, name)) {
			const char *rp = str(c, "restartPolicy");
			return rp && !strcmp(rp, "Always");
		}
	}
	return false;
}

static bool condition_true(const cJSON *conds, const char *type)
{
	for (const cJSON *c = first_child(conds); c; c = c->next) {
		const char *t = str(c, "type"), *s = str(c, "status");
		if (t && !strcmp(t, type) && s && !strcmp(s, "True"))
			return true;
	}
	return false;
}

/* Updates *last with the finishedAt of lastState.terminated when later. */
static void note_restart(const cJSON *status, struct tstamp *last)
{
	const cJSON *term = get2(status, "lastState", "terminated");
	struct tstamp t;
	if (term && parse_time(time_str(term, "finishedAt"), &t) && time_before(last, &t))
		*last = t;
}

static void cells_pod(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	const cJSON *conds = arr(st, "conditions");
	char buf[64];
	const char *phase = strd(st, "phase");
	const char *reason = phase;
	const char *st_reason = str(st, "reason");
	if (nonempty(st_reason))
		reason = st_reason;
	for (const cJSON *c = first_child(conds); c; c = c->next) {
		const char *t = str(c, "type"), *r = str(c, "reason");
		if (t && !strcmp(t, "PodScheduled") && r && !strcmp(r, "SchedulingGated"))
			reason = "SchedulingGated";
	}
	/* reason may point into buf; 'prefix' is written before it (for "Init:<reason>") */
	const char *prefix = "";

	long long total = count(arr(spec, "containers")), ready = 0;
	long long n_init = count(arr(spec, "initContainers"));
	for (const cJSON *c = first_child(arr(spec, "initContainers")); c; c = c->next) {
		const char *rp = str(c, "restartPolicy");
		if (rp && !strcmp(rp, "Always"))
			total++;
	}

	long long restarts = 0, sidecar_restarts = 0;
	const struct tstamp zero = {days_from_civil(1, 1, 1) * 86400, 0};
	struct tstamp last = zero, last_sidecar = zero;
	bool initializing = false;
	long long i = 0;
	for (const cJSON *c = first_child(arr(st, "initContainerStatuses")); c; c = c->next) {
		restarts += num(c, "restartCount", 0);
		note_restart(c, &last);
		bool sidecar = restartable_init(spec, str(c, "name"));
		if (sidecar) {
			sidecar_restarts += num(c, "restartCount", 0);
			note_restart(c, &last_sidecar);
		}
		const cJSON *state = get(c, "state");
		const cJSON *term = get(state, "terminated"), *wait = get(state, "waiting");
		if (term && num(term, "exitCode", 0) == 0) {
			i++;
			continue;
		}
		if (sidecar && boolv(c, "started", false)) {
			if (boolv(c, "ready", false))
				ready++;
			i++;
			continue;
		}
		if (term) {
			const char *tr = str(term, "reason");
			if (!nonempty(tr)) {
				long long sig = num(term, "signal", 0);
				if (sig)
					snprintf(buf, sizeof buf, "Init:Signal:%lld", sig);
				else
					snprintf(buf, sizeof buf, "Init:ExitCode:%lld",
						 num(term, "exitCode", 0));
				reason = buf;
			} else {
				prefix = "Init:";
				reason = tr;
			}
		} else if (wait && nonempty(str(wait, "reason")) &&
			   strcmp(str(wait, "reason"), "PodInitializing") != 0) {
			prefix = "Init:";
			reason = str(wait, "reason");
		} else {
			snprintf(buf, sizeof buf, "Init:%lld/%lld", i, n_init);
			reason = buf;
		}
		initializing = true;
		break;
	}

	if (!initializing || condition_true(conds, "Initialized")) {
		restarts = sidecar_restarts;
		last = last_sidecar;
		bool has_running = false, from_container = false;
		/* Upstream walks the statuses from last to first and the last write wins, so the
		 * first container with a waiting/terminated reason decides. */
		for (const cJSON *c = first_child(arr(st, "containerStatuses")); c; c = c->next) {
			restarts += num(c, "restartCount", 0);
			note_restart(c, &last);
			const cJSON *state = get(c, "state");
			const cJSON *term = get(state, "terminated"), *wait = get(state, "waiting");
			const char *wr = str(wait, "reason"), *tr = str(term, "reason");
			const char *r = NULL;
			if (wait && nonempty(wr)) {
				r = wr;
			} else if (term && nonempty(tr)) {
				r = tr;
			} else if (term) {
				if (!from_container) {
					long long sig = num(term, "signal", 0);
					if (sig)
						snprintf(buf, sizeof buf, "Signal:%lld", sig);
					else
						snprintf(buf, sizeof buf, "ExitCode:%lld",
							 num(term, "exitCode", 0));
					prefix = "";
					reason = buf;
					from_container = true;
				}
				continue;
			} else if (boolv(c, "ready", false) && get(state, "running")) {
				has_running = true;
				ready++;
			}
			if (r && !from_container) {
				prefix = "";
				reason = r;
				from_container = true;
			}
		}
		if (!*prefix && !strcmp(reason, "Completed") && has_running)
			reason = condition_true(conds, "Ready") ? "Running" : "NotReady";
	}

	if (has_deletion(o) && nonempty(st_reason) && !strcmp(st_reason, "NodeLost")) {
		prefix = "";
		reason = "Unknown";
	} else if (has_deletion(o) && strcmp(phase, "Failed") != 0 &&
		   strcmp(phase, "Succeeded") != 0) {
		prefix = "";
		reason = "Terminating";
	}

	cell_name(w, o);
	cell_open(w);
	put_ll(w, ready);
	put(w, "/");
	put_ll(w, total);
	cell_close(w);
	cell_open(w);
	put(w, prefix);
	put(w, reason);
	cell_close(w);
	cell_open(w);
	put_ll(w, restarts);
	if (restarts != 0 && !time_is_zero(&last)) {
		char age[32];
		table_age(since(w->now, &last), age, sizeof age);
		put(w, " (");
		put(w, age);
		put(w, " ago)");
	}
	cell_close(w);
	cell_age(w, o);

	const char *ip = str(arr(st, "podIPs") ? arr(st, "podIPs")->child : NULL, "ip");
	if (!arr(st, "podIPs") || !arr(st, "podIPs")->child)
		ip = str(st, "podIP"); /* v1 -> internal conversion fills podIPs from podIP */
	cell_str_or(w, ip, "<none>");
	cell_str_or(w, str(spec, "nodeName"), "<none>");
	cell_str_or(w, str(st, "nominatedNodeName"), "<none>");
	const cJSON *gates = arr(spec, "readinessGates");
	if (!count(gates)) {
		cell_str(w, "<none>");
	} else {
		long long ok = 0;
		for (const cJSON *g = first_child(gates); g; g = g->next) {
			const char *ct = strd(g, "conditionType");
			for (const cJSON *c = first_child(conds); c; c = c->next) {
				const char *t = str(c, "type");
				if (t && !strcmp(t, ct)) {
					const char *s = str(c, "status");
					if (s && !strcmp(s, "True"))
						ok++;
					break;
				}
			}
		}
		cell_open(w);
		put_ll(w, ok);
		put(w, "/");
		put_ll(w, count(gates));
		cell_close(w);
	}
}

/* The first address of the given type, or "<none>". */
static const char *node_address(const cJSON *st, const char *type)
{
	for (const cJSON *a = first_child(arr(st, "addresses")); a; a = a->next) {
		const char *t = str(a, "type");
		if (t && !strcmp(t, type))
			return strd(a, "address");
	}
	return "<none>";
}

static void cells_node(struct row *w, const cJSON *o)
{
	const cJSON *st = get(o, "status"), *info = get(st, "nodeInfo");
	const cJSON *ready = NULL;
	for (const cJSON *c = first_child(arr(st, "conditions")); c; c = c->next) {
		const char *t = str(c, "type");
		if (t && !strcmp(t, "Ready"))
			ready = c; /* the last one wins, as in the upstream map */
	}
	cell_name(w, o);
	cell_open(w);
	if (ready) {
		const char *s = str(ready, "status");
		put(w, s && !strcmp(s, "True") ? "Ready" : "NotReady");
	} else {
		put(w, "Unknown");
	}
	if (boolv(get(o, "spec"), "unschedulable", false))
		put(w, ",SchedulingDisabled");
	cell_close(w);

	struct strset roles;
	set_init(&roles);
	const cJSON *labels = get(meta(o), "labels");
	for (const cJSON *l = first_child(cJSON_IsObject(labels) ? labels : NULL); l; l = l->next) {
		static const char prefix[] = "node-role.kubernetes.io/";
		if (!l->string)
			continue;
		if (!strncmp(l->string, prefix, sizeof prefix - 1)) {
			const char *role = l->string + sizeof prefix - 1;
			if (*role)
				set_add(&roles, role, strlen(role));
		} else if (!strcmp(l->string, "kubernetes.io/role") && cJSON_IsString(l) &&
			   l->valuestring[0]) {
			set_add(&roles, l->valuestring, strlen(l->valuestring));
		}
	}
	set_sort(&roles, true);
	cell_open(w);
	if (roles.n)
		put_set(w, &roles, ",");
	else
		put(w, "<none>");
	cell_close(w);
	set_free(&roles);

	cell_age(w, o);
	cell_str(w, strd(info, "kubeletVersion"));
	cell_str(w, node_address(st, "InternalIP"));
	cell_str(w, node_address(st, "ExternalIP"));
	cell_str_or(w, str(info, "osImage"), "<unknown>");
	cell_str_or(w, str(info, "kernelVersion"), "<unknown>");
	cell_str_or(w, str(info, "containerRuntimeVersion"), "<unknown>");
}

static void cells_namespace(struct row *w, const cJSON *o)
{
	cell_name(w, o);
	cell_str(w, strd(get(o, "status"), "phase"));
	cell_age(w, o);
}

static void put_joined(struct row *w, const cJSON *strings, const char *sep)
{
	bool any = false;
	for (const cJSON *s = first_child(strings); s; s = s->next)
		if (cJSON_IsString(s)) {
			if (any)
				put(w, sep);
			put(w, s->valuestring);
			any = true;
		}
}

static void cells_service(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	const char *type = str(spec, "type");
	if (!nonempty(type))
		type = "ClusterIP"; /* the API default */
	const cJSON *ips = arr(spec, "clusterIPs");
	const char *cip = ips && cJSON_IsString(ips->child) ? ips->child->valuestring : NULL;
	if (!ips || !ips->child)
		cip = str(spec, "clusterIP"); /* conversion fills clusterIPs from clusterIP */
	const cJSON *ext = arr(spec, "externalIPs");
	bool has_ext = count(ext) > 0;

	cell_name(w, o);
	cell_str(w, type);
	cell_str_or(w, cip, "<none>");
	cell_open(w);
	if (!strcmp(type, "ClusterIP") || !strcmp(type, "NodePort")) {
		if (has_ext)
			put_joined(w, ext, ",");
		else
			put(w, "<none>");
	} else if (!strcmp(type, "LoadBalancer")) {
		const cJSON *ing = arr(get(st, "loadBalancer"), "ingress");
		struct kc_str *out = w->out;
		size_t before = out->len;
		put_lb_ingress(w, ing);
		bool lb = out->len > before;
		if (has_ext) {
			if (lb)
				put(w, ",");
			put_joined(w, ext, ",");
		} else if (!lb) {
			put(w, "<pending>");
		}
	} else if (!strcmp(type, "ExternalName")) {
		put(w, strd(spec, "externalName"));
	} else {
		put(w, "<unknown>");
	}
	cell_close(w);
	cell_open(w);
	const cJSON *ports = arr(spec, "ports");
	if (!count(ports))
		put(w, "<none>");
	for (const cJSON *p = first_child(ports); p; p = p->next) {
		const char *proto = str(p, "protocol");
		put_ll(w, num(p, "port", 0));
		long long np = num(p, "nodePort", 0);
		if (np > 0) {
			put(w, ":");
			put_ll(w, np);
		}
		put(w, "/");
		put(w, nonempty(proto) ? proto : "TCP");
		if (p->next)
			put(w, ",");
	}
	cell_close(w);
	cell_age(w, o);
	cell_labels(w, get(spec, "selector"));
}

static void cells_endpoints(struct row *w, const cJSON *o)
{
	const cJSON *subsets = arr(o, "subsets");
	cell_name(w, o);
	cell_open(w);
	if (!count(subsets)) {
		put(w, "<none>");
	} else {
		const long long max = 3;
		long long listed = 0, total = 0;
		bool more = false;
		for (const cJSON *ss = first_child(subsets); ss; ss = ss->next) {
			const cJSON *addrs = arr(ss, "addresses"), *ports = arr(ss, "ports");
			if (!count(ports)) {
				total += count(addrs);
				for (const cJSON *a = first_child(addrs); a; a = a->next) {
					if (listed == max) {
						more = true;
						break;
					}
					if (listed++)
						put(w, ",");
					put(w, strd(a, "ip"));
				}
				continue;
			}
			for (const cJSON *p = first_child(ports); p; p = p->next) {
				total += count(addrs);
				for (const cJSON *a = first_child(addrs); a; a = a->next) {
					if (listed == max) {
						more = true;
						break;
					}
					if (listed++)
						put(w, ",");
					put_hostport(w, strd(a, "ip"), num(p, "port", 0));
				}
			}
		}
		if (more) {
			put(w, " + ");
			put_ll(w, total - max);
			put(w, " more...");
		}
	}
	cell_close(w);
	cell_age(w, o);
}

/* listWithMoreString's tail: " + N more..." or "<unset>" for an empty list. */
static void put_more(struct row *w, long long listed, bool more, long long total, long long max)
{
	if (more) {
		put(w, " + ");
		put_ll(w, total - max);
		put(w, " more...");
	} else if (!listed) {
		put(w, "<unset>");
	}
}

static void cells_endpointslice(struct row *w, const cJSON *o)
{
	const long long max = 3;
	cell_name(w, o);
	cell_str(w, strd(o, "addressType"));
	cell_open(w);
	long long listed = 0, total = 0;
	bool more = false;
	for (const cJSON *p = first_child(arr(o, "ports")); p; p = p->next) {
		if (listed < max) {
			if (listed++)
				put(w, ",");
			if (cJSON_IsNumber(get(p, "port")))
				put_ll(w, num(p, "port", 0));
			else if (str(p, "name"))
				put(w, str(p, "name"));
			else
				put(w, "*");
		} else {
			more = true;
		}
		total++;
	}
	put_more(w, listed, more, total, max);
	cell_close(w);
	cell_open(w);
	listed = total = 0;
	more = false;
	for (const cJSON *e = first_child(arr(o, "endpoints")); e; e = e->next)
		for (const cJSON *a = first_child(arr(e, "addresses")); a; a = a->next) {
			if (listed < max) {
				if (listed++)
					put(w, ",");
				put(w, cJSON_IsString(a) ? a->valuestring : "");
			} else {
				more = true;
			}
			total++;
		}
	put_more(w, listed, more, total, max);
	cell_close(w);
	cell_age(w, o);
}

static void cells_configmap(struct row *w, const cJSON *o)
{
	cell_name(w, o);
	cell_int(w, count(get(o, "data")) + count(get(o, "binaryData")));
	cell_age(w, o);
}

static void cells_secret(struct row *w, const cJSON *o)
{
	cell_name(w, o);
	cell_str(w, strd(o, "type"));
	cell_int(w, count(get(o, "data")));
	cell_age(w, o);
}

static void cells_serviceaccount(struct row *w, const cJSON *o)
{
	cell_name(w, o);
	cell_int(w, count(arr(o, "secrets")));
	cell_age(w, o);
}

/* translateTimestampSince / translateMicroTimestampSince into buf. */
static void since_str(int64_t now, const char *ts, char *buf, size_t cap)
{
	struct tstamp t;
	if (!parse_time(ts, &t) || time_is_zero(&t))
		snprintf(buf, cap, "<unknown>");
	else
		table_age(since(now, &t), buf, cap);
}

static bool time_set(const char *ts)
{
	struct tstamp t;
	return parse_time(ts, &t) && !time_is_zero(&t);
}

static void put_trimmed(struct row *w, const char *s)
{
	if (!s)
		return;
	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
		n--;
	putn(w, s, n);
}

static void cells_event(struct row *w, const cJSON *o)
{
	char first[32], lastbuf[32];
	const char *ft = time_str(o, "firstTimestamp");
	if (time_set(ft))
		since_str(w->now, ft, first, sizeof first);
	else
		since_str(w->now, time_str(o, "eventTime"), first, sizeof first);
	const char *lt = time_str(o, "lastTimestamp");
	const char *last = first;
	if (time_set(lt)) {
		since_str(w->now, lt, lastbuf, sizeof lastbuf);
		last = lastbuf;
	}
	long long cnt = num(o, "count", 0);
	const cJSON *series = get(o, "series");
	if (cJSON_IsObject(series)) {
		since_str(w->now, time_str(series, "lastObservedTime"), lastbuf, sizeof lastbuf);
		last = lastbuf;
		cnt = num(series, "count", 0);
	} else if (cnt == 0) {
		cnt = 1;
	}
	const cJSON *inv = get(o, "involvedObject"), *src = get(o, "source");

	cell_str(w, last);
	cell_str(w, strd(o, "type"));
	cell_str(w, strd(o, "reason"));
	cell_open(w);
	put_lower(w, strd(inv, "kind"));
	if (nonempty(str(inv, "name"))) {
		put(w, "/");
		put(w, str(inv, "name"));
	}
	cell_close(w);
	cell_str(w, strd(inv, "fieldPath"));
	const char *comp = str(src, "component"), *host = str(src, "host");
	if (!nonempty(comp))
		comp = strd(o, "reportingComponent");
	if (!nonempty(host))
		host = strd(o, "reportingInstance");
	cell_open(w);
	put(w, comp);
	if (*host) {
		put(w, ", ");
		put(w, host);
	}
	cell_close(w);
	cell_open(w);
	put_trimmed(w, str(o, "message"));
	cell_close(w);
	cell_str(w, first);
	cell_int(w, cnt);
	cell_name(w, o);
}

/* "ready/desired" */
static void cell_ratio(struct row *w, long long a, long long b)
{
	cell_open(w);
	put_ll(w, a);
	put(w, "/");
	put_ll(w, b);
	cell_close(w);
}

static const cJSON *template_spec(const cJSON *spec)
{
	return get2(spec, "template", "spec");
}

static void cells_deployment(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	cell_name(w, o);
	cell_ratio(w, num(st, "readyReplicas", 0), num(spec, "replicas", 1));
	cell_int(w, num(st, "updatedReplicas", 0));
	cell_int(w, num(st, "availableReplicas", 0));
	cell_age(w, o);
	cells_containers(w, template_spec(spec));
	cell_selector(w, get(spec, "selector"), "");
}

static void cells_replicaset(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	cell_name(w, o);
	cell_int(w, num(spec, "replicas", 1));
	cell_int(w, num(st, "replicas", 0));
	cell_int(w, num(st, "readyReplicas", 0));
	cell_age(w, o);
	cells_containers(w, template_spec(spec));
	cell_selector(w, get(spec, "selector"), "<none>");
}

static void cells_rc(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	cell_name(w, o);
	cell_int(w, num(spec, "replicas", 1));
	cell_int(w, num(st, "replicas", 0));
	cell_int(w, num(st, "readyReplicas", 0));
	cell_age(w, o);
	cells_containers(w, template_spec(spec));
	cell_labels(w, get(spec, "selector"));
}

static void cells_statefulset(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	cell_name(w, o);
	cell_ratio(w, num(st, "readyReplicas", 0), num(spec, "replicas", 1));
	cell_age(w, o);
	cells_containers(w, template_spec(spec));
}

static void cells_daemonset(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	cell_name(w, o);
	cell_int(w, num(st, "desiredNumberScheduled", 0));
	cell_int(w, num(st, "currentNumberScheduled", 0));
	cell_int(w, num(st, "numberReady", 0));
	cell_int(w, num(st, "updatedNumberScheduled", 0));
	cell_int(w, num(st, "numberAvailable", 0));
	cell_labels(w, get(template_spec(spec), "nodeSelector"));
	cell_age(w, o);
	cells_containers(w, template_spec(spec));
	cell_selector(w, get(spec, "selector"), "<none>");
}

/* hasJobCondition: the first condition of that type decides. */
static bool job_condition(const cJSON *conds, const char *type)
{
	for (const cJSON *c = first_child(conds); c; c = c->next) {
		const char *t = str(c, "type");
		if (t && !strcmp(t, type)) {
			const char *s = str(c, "status");
			return s && !strcmp(s, "True");
		}
	}
	return false;
}

static void cells_job(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	const cJSON *conds = arr(st, "conditions");
	long long ok = num(st, "succeeded", 0);
	const char *status = "Running";
	if (job_condition(conds, "Complete"))
		status = "Complete";
	else if (job_condition(conds, "Failed"))
		status = "Failed";
	else if (has_deletion(o))
		status = "Terminating";
	else if (job_condition(conds, "Suspended"))
		status = "Suspended";
	else if (job_condition(conds, "FailureTarget"))
		status = "FailureTarget";

	cell_name(w, o);
	cell_str(w, status);
	cell_open(w);
	put_ll(w, ok);
	if (cJSON_IsNumber(get(spec, "completions"))) {
		put(w, "/");
		put_ll(w, num(spec, "completions", 0));
	} else {
		long long par = num(spec, "parallelism", 0);
		put(w, "/1");
		if (par > 1) {
			put(w, " of ");
			put_ll(w, par);
		}
	}
	cell_close(w);
	cell_open(w);
	struct tstamp start, done;
	if (parse_time(time_str(st, "startTime"), &start)) {
		char b[32];
		if (parse_time(time_str(st, "completionTime"), &done))
			table_age(diff_secs(&done, &start), b, sizeof b);
		else
			table_age(since(w->now, &start), b, sizeof b);
		put(w, b);
	}
	cell_close(w);
	cell_age(w, o);
	cells_containers(w, template_spec(spec));
	cell_selector(w, get(spec, "selector"), "<none>");
}

static void cells_cronjob(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	const cJSON *jspec = get2(spec, "jobTemplate", "spec");
	cell_name(w, o);
	cell_str(w, strd(spec, "schedule"));
	cell_str_or(w, str(spec, "timeZone"), "<none>");
	const cJSON *sus = get(spec, "suspend");
	cell_str(w, cJSON_IsBool(sus) ? (cJSON_IsTrue(sus) ? "True" : "False") : "<unset>");
	cell_int(w, count(arr(st, "active")));
	if (get(st, "lastScheduleTime"))
		cell_since(w, time_str(st, "lastScheduleTime"));
	else
		cell_str(w, "<none>");
	cell_age(w, o);
	cells_containers(w, template_spec(jspec));
	cell_selector(w, get(jspec, "selector"), "<none>");
}

static void cells_lease(struct row *w, const cJSON *o)
{
	cell_name(w, o);
	cell_str(w, strd(get(o, "spec"), "holderIdentity"));
	cell_age(w, o);
}

/* The sum of 'resource' over usages (one or every container's), canonical, into buf. */
static void usage_sum(const cJSON *usages, bool list, const char *resource, char *buf)
{
	struct kc_quantity sum, q;
	bool any = false;
	kc_quantity_make(&sum, 0, 0, KC_QUANTITY_DECIMAL_SI);
	const cJSON *u = list ? (usages ? usages->child : NULL) : usages;
	for (; u; u = list ? u->next : NULL) {
		const cJSON *v = get(list ? get(u, "usage") : u, resource);
		struct kc_err err;
		if (v && kc_quantity_from_json(v, &q, &err) == 0) {
			/* the sum keeps the first quantity's format, as Quantity.Add does */
			if (!any)
				sum = q;
			else
				kc_quantity_add(&sum, &q, &sum);
			any = true;
		}
		if (!list)
			break;
	}
	kc_quantity_format(&sum, buf);
}

static void cells_metrics(struct row *w, const cJSON *o)
{
	char buf[KC_QUANTITY_STRMAX];
	const cJSON *ctrs = get(o, "containers");
	const cJSON *usage = ctrs ? ctrs : get(o, "usage");
	cell_name(w, o);
	usage_sum(usage, ctrs != NULL, "cpu", buf);
	cell_str(w, buf);
	usage_sum(usage, ctrs != NULL, "memory", buf);
	cell_str(w, buf);
	cell_str(w, str(o, "window"));
}

static void cells_ingress(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec");
	cell_name(w, o);
	cell_str_or(w, str(spec, "ingressClassName"), "<none>");
	/* formatHosts */
	const long long max = 3;
	long long listed = 0, rules = 0;
	bool more = false;
	cell_open(w);
	for (const cJSON *r = first_child(arr(spec, "rules")); r; r = r->next) {
		rules++;
		if (listed == max)
			more = true;
		const char *h = str(r, "host");
		if (!more && nonempty(h)) {
			if (listed++)
				put(w, ",");
			put(w, h);
		}
	}
	if (!listed)
		put(w, "*");
	else if (more) {
		put(w, " + ");
		put_ll(w, rules - max);
		put(w, " more...");
	}
	cell_close(w);
	cell_open(w);
	put_lb_ingress(w, arr(get2(o, "status", "loadBalancer"), "ingress"));
	cell_close(w);
	cell_str(w, count(arr(spec, "tls")) ? "80, 443" : "80");
	cell_age(w, o);
}

static void cells_ingressclass(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *par = get(spec, "parameters");
	cell_name(w, o);
	cell_str(w, strd(spec, "controller"));
	cell_open(w);
	if (cJSON_IsObject(par)) {
		put(w, strd(par, "kind"));
		if (str(par, "apiGroup")) {
			put(w, ".");
			put(w, str(par, "apiGroup"));
		}
		put(w, "/");
		put(w, strd(par, "name"));
	} else {
		put(w, "<none>");
	}
	cell_close(w);
	cell_age(w, o);
}

static void cells_networkpolicy(struct row *w, const cJSON *o)
{
	const cJSON *ps = get2(o, "spec", "podSelector");
	cell_name(w, o);
	cell_open(w);
	/* the field is a struct, not a pointer: absent means the empty selector */
	if (ps)
		put_selector(w, ps, "<none>");
	else
		put(w, "<none>");
	cell_close(w);
	cell_age(w, o);
}

static void cells_pv(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status"), *claim = get(spec, "claimRef");
	cell_name(w, o);
	cell_open(w);
	put_quantity(w, get2(spec, "capacity", "storage"));
	cell_close(w);
	cell_open(w);
	put_access_modes(w, arr(spec, "accessModes"));
	cell_close(w);
	cell_str(w, strd(spec, "persistentVolumeReclaimPolicy"));
	cell_str(w, has_deletion(o) ? "Terminating" : strd(st, "phase"));
	cell_open(w);
	if (cJSON_IsObject(claim)) {
		put(w, strd(claim, "namespace"));
		put(w, "/");
		put(w, strd(claim, "name"));
	}
	cell_close(w);
	cell_str(w, storage_class(o));
	cell_str(w, str(spec, "volumeAttributesClassName") ? str(spec, "volumeAttributesClassName")
							   : "<unset>");
	cell_str(w, strd(st, "reason"));
	cell_age(w, o);
	cell_str(w, str(spec, "volumeMode") ? str(spec, "volumeMode") : "<unset>");
}

static void cells_pvc(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec"), *st = get(o, "status");
	const char *vol = strd(spec, "volumeName");
	cell_name(w, o);
	cell_str(w, has_deletion(o) ? "Terminating" : strd(st, "phase"));
	cell_str(w, vol);
	cell_open(w);
	if (*vol)
		put_quantity(w, get2(st, "capacity", "storage"));
	cell_close(w);
	cell_open(w);
	if (*vol)
		put_access_modes(w, arr(st, "accessModes"));
	cell_close(w);
	cell_str(w, storage_class(o));
	cell_str(w, str(spec, "volumeAttributesClassName") ? str(spec, "volumeAttributesClassName")
							   : "<unset>");
	cell_age(w, o);
	cell_str(w, str(spec, "volumeMode") ? str(spec, "volumeMode") : "<unset>");
}

static void cells_binding(struct row *w, const cJSON *o)
{
	const cJSON *ref = get(o, "roleRef"), *subjects = arr(o, "subjects");
	static const char *const kinds[] = {"User", "Group", "ServiceAccount"};
	cell_name(w, o);
	cell_open(w);
	put(w, strd(ref, "kind"));
	put(w, "/");
	put(w, strd(ref, "name"));
	cell_close(w);
	cell_age(w, o);
	for (size_t k = 0; k < 3; k++) {
		bool any = false;
		cell_open(w);
		for (const cJSON *s = first_child(subjects); s; s = s->next) {
			const char *kind = str(s, "kind");
			if (!kind || strcmp(kind, kinds[k]) != 0)
				continue;
			if (any)
				put(w, ", ");
			any = true;
			if (k == 2) {
				put(w, strd(s, "namespace"));
				put(w, "/");
			}
			put(w, strd(s, "name"));
		}
		cell_close(w);
	}
}

static void cells_resourcequota(struct row *w, const cJSON *o)
{
	const cJSON *st = get(o, "status"), *hard = get(st, "hard"), *used = get(st, "used");
	struct strset keys;
	set_init(&keys);
	for (const cJSON *h = first_child(cJSON_IsObject(hard) ? hard : NULL); h; h = h->next)
		if (h->string)
			set_add(&keys, h->string, strlen(h->string));
	set_sort(&keys, false);
	cell_name(w, o);
	for (int limits = 0; limits < 2; limits++) {
		bool any = false;
		cell_open(w);
		for (size_t i = 0; i < keys.n; i++) {
			const char *k = keys.v[i];
			/* strings.Split(name, ".") with more than one piece and "limits" first */
			bool is_limit = !strncmp(k, "limits.", 7);
			if (is_limit != (limits == 1))
				continue;
			if (any)
				put(w, ", ");
			any = true;
			put(w, k);
			put(w, ": ");
			put_quantity(w, get(used, k));
			put(w, "/");
			put_quantity(w, get(hard, k));
		}
		cell_close(w);
	}
	set_free(&keys);
	cell_age(w, o);
}

static void cells_priorityclass(struct row *w, const cJSON *o)
{
	cell_name(w, o);
	cell_int(w, num(o, "value", 0));
	cell_bool(w, boolv(o, "globalDefault", false));
	cell_age(w, o);
	cell_str(w, strd(o, "preemptionPolicy"));
}

static void cells_pdb(struct row *w, const cJSON *o)
{
	const cJSON *spec = get(o, "spec");
	cell_name(w, o);
	cell_open(w);
	if (get(spec, "minAvailable"))
		put_int_or_string(w, get(spec, "minAvailable"));
	else
		put(w, "N/A");
	cell_close(w);
	cell_open(w);
	if (get(spec, "maxUnavailable"))
		put_int_or_string(w, get(spec, "maxUnavailable"));
	else
		put(w, "N/A");
	cell_close(w);
	cell_int(w, num(get(o, "status"), "disruptionsAllowed", 0));
	cell_age(w, o);
}

static void cells_storageclass(struct row *w, const cJSON *o)
{
	const cJSON *ann = get(meta(o), "annotations");
	const char *d1 = str(ann, "storageclass.kubernetes.io/is-default-class");
	const char *d2 = str(ann, "storageclass.beta.kubernetes.io/is-default-class");
	bool def = (d1 && !strcmp(d1, "true")) || (d2 && !strcmp(d2, "true"));
	cell_open(w);
	put(w, strd(meta(o), "name"));
	if (def)
		put(w, " (default)");
	cell_close(w);
	cell_str(w, strd(o, "provisioner"));
	cell_str_or(w, str(o, "reclaimPolicy"), "Delete");
	cell_str_or(w, str(o, "volumeBindingMode"), "Immediate");
	cell_bool(w, boolv(o, "allowVolumeExpansion", false));
	cell_age(w, o);
}

static void cells_podtemplate(struct row *w, const cJSON *o)
{
	const cJSON *tmpl = get(o, "template");
	cell_name(w, o);
	cells_containers(w, get(tmpl, "spec"));
	cell_labels(w, get2(tmpl, "metadata", "labels"));
}

static void cells_controllerrevision(struct row *w, const cJSON *o)
{
	const cJSON *owner = NULL;
	for (const cJSON *r = first_child(arr(meta(o), "ownerReferences")); r; r = r->next)
		if (boolv(r, "controller", false)) {
			owner = r;
			break;
		}
	cell_name(w, o);
	cell_open(w);
	if (owner) {
		const char *av = strd(owner, "apiVersion"), *slash = strchr(av, '/');
		const char *kind = strd(owner, "kind");
		if (*kind || slash) {
			put_lower(w, kind);
			if (slash && slash > av) {
				char g[256];
				size_t n = (size_t)(slash - av) < sizeof g - 1
						   ? (size_t)(slash - av)
						   : sizeof g - 1;
				memcpy(g, av, n);
				g[n] = 0;
				put(w, ".");
				put_lower(w, g);
			}
			put(w, "/");
		}
		put(w, strd(owner, "name"));
	} else {
		put(w, "<none>");
	}
	cell_close(w);
	cell_int(w, num(o, "revision", 0));
	cell_age(w, o);
}

/* The default table convertor: creationTimestamp in RFC 3339, UTC. */
static void cells_created(struct row *w, const cJSON *o)
{
	struct tstamp t;
	if (!parse_time(str(meta(o), "creationTimestamp"), &t))
		t.sec = days_from_civil(1, 1, 1) * 86400;
	int64_t days = t.sec >= 0 ? t.sec / 86400 : -((-t.sec + 86399) / 86400);
	int64_t secs = t.sec - days * 86400;
	/* civil_from_days */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	char b[48];
	snprintf(b, sizeof b, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
		 (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
	cell_name(w, o);
	cell_str(w, b);
}

static void cells_default(struct row *w, const cJSON *o)
{
	cell_name(w, o);
	cell_age(w, o);
}

/* ---------------------------------------------------------------------------------------------
 * The printer table */

struct printer {
	const char *group, *plural;
	const struct col *cols;
	size_t ncols;
	void (*cells)(struct row *w, const cJSON *obj);
};

#define P(g, p, c, f)                                                                              \
	{                                                                                          \
		g, p, c, sizeof c / sizeof c[0], f                                                 \
	}

static const struct printer printers[] = {
	P("", "pods", cols_pod, cells_pod),
	P("", "nodes", cols_node, cells_node),
	P("", "namespaces", cols_namespace, cells_namespace),
	P("", "services", cols_service, cells_service),
	P("", "endpoints", cols_endpoints, cells_endpoints),
	P("", "configmaps", cols_configmap, cells_configmap),
	P("", "secrets", cols_secret, cells_secret),
	P("", "serviceaccounts", cols_serviceaccount, cells_serviceaccount),
	P("", "events", cols_event, cells_event),
	P("", "replicationcontrollers", cols_rc, cells_rc),
	P("", "persistentvolumes", cols_pv, cells_pv),
	P("", "persistentvolumeclaims", cols_pvc, cells_pvc),
	P("", "resourcequotas", cols_resourcequota, cells_resourcequota),
	P("", "limitranges", cols_created, cells_created),
	P("", "podtemplates", cols_podtemplate, cells_podtemplate),
	P("apps", "deployments", cols_deployment, cells_deployment),
	P("apps", "replicasets", cols_replicaset, cells_replicaset),
	P("apps", "statefulsets", cols_statefulset, cells_statefulset),
	P("apps", "daemonsets", cols_daemonset, cells_daemonset),
	P("apps", "controllerrevisions", cols_controllerrevision, cells_controllerrevision),
	P("batch", "jobs", cols_job, cells_job),
	P("batch", "cronjobs", cols_cronjob, cells_cronjob),
	P("coordination.k8s.io", "leases", cols_lease, cells_lease),
	P("metrics.k8s.io", "nodes", cols_metrics, cells_metrics),
	P("metrics.k8s.io", "pods", cols_metrics, cells_metrics),
	P("discovery.k8s.io", "endpointslices", cols_endpointslice, cells_endpointslice),
	P("networking.k8s.io", "ingresses", cols_ingress, cells_ingress),
	P("networking.k8s.io", "ingressclasses", cols_ingressclass, cells_ingressclass),
	P("networking.k8s.io", "networkpolicies", cols_networkpolicy, cells_networkpolicy),
	P("rbac.authorization.k8s.io", "roles", cols_created, cells_created),
	P("rbac.authorization.k8s.io", "clusterroles", cols_created, cells_created),
	P("rbac.authorization.k8s.io", "rolebindings", cols_rolebinding, cells_binding),
	P("rbac.authorization.k8s.io", "clusterrolebindings", cols_clusterrolebinding,
	  cells_binding),
	P("scheduling.k8s.io", "priorityclasses", cols_priorityclass, cells_priorityclass),
	P("policy", "poddisruptionbudgets", cols_pdb, cells_pdb),
	P("storage.k8s.io", "storageclasses", cols_storageclass, cells_storageclass),
};

static const struct printer default_printer = P("", "", cols_default, cells_default);

static const struct printer *printer_for(const struct api_resource *r)
{
	const char *g = r && r->group ? r->group : "", *p = r && r->plural ? r->plural : "";
	for (size_t i = 0; i < sizeof printers / sizeof printers[0]; i++)
		if (printers[i].plural[0] == p[0] && !strcmp(printers[i].plural, p) &&
		    !strcmp(printers[i].group, g))
			return &printers[i];
	return &default_printer;
}

/* ---------------------------------------------------------------------------------------------
 * Public */

void table_columns_json(const struct api_resource *r, struct kc_str *out)
{
	const struct printer *pr = printer_for(r);
	kc_str_addc(out, '[');
	for (size_t i = 0; i < pr->ncols; i++) {
		const struct col *c = &pr->cols[i];
		if (i)
			kc_str_addc(out, ',');
		kc_str_adds(out, "{\"name\":");
		kc_json_write_string(out, c->name);
		kc_str_adds(out, ",\"type\":");
		kc_json_write_string(out, c->type);
		kc_str_adds(out, ",\"format\":");
		kc_json_write_string(out, c->format);
		kc_str_adds(out, ",\"description\":");
		kc_json_write_string(out, c->desc);
		kc_str_adds(out, ",\"priority\":");
		add_ll(out, c->priority);
		kc_str_addc(out, '}');
	}
	kc_str_addc(out, ']');
}

/* The object's metadata without managedFields. */
static void write_partial_metadata(struct kc_str *out, const cJSON *obj)
{
	kc_str_adds(out, "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\","
			 "\"metadata\":{");
	const cJSON *m = get(obj, "metadata");
	bool first = true;
	if (cJSON_IsObject(m))
		for (const cJSON *c = first_child(m); c; c = c->next) {
			if (!c->string || !strcmp(c->string, "managedFields"))
				continue;
			if (!first)
				kc_str_addc(out, ',');
			first = false;
			kc_str_addc(out, '"');
			escs(out, c->string);
			kc_str_adds(out, "\":");
			kc_json_write(out, c);
		}
	kc_str_adds(out, "}}");
}

void table_row_json(const struct api_resource *r, const cJSON *obj, int64_t now,
		    bool include_object, struct kc_str *out)
{
	const struct printer *pr = printer_for(r);
	struct row w = {.out = out, .now = now, .first = true};
	kc_str_reserve(out, 512);
	kc_str_adds(out, "{\"cells\":[");
	pr->cells(&w, obj);
	kc_str_addc(out, ']');
	if (pr->cells == cells_pod) {
		const char *phase = strd(get(obj, "status"), "phase");
		if (!strcmp(phase, "Succeeded"))
			kc_str_adds(out,
				    ",\"conditions\":[{\"type\":\"Completed\",\"status\":\"True\","
				    "\"reason\":\"Succeeded\",\"message\":\"The pod has "
				    "completed successfully.\"}]");
		else if (!strcmp(phase, "Failed"))
			kc_str_adds(out,
				    ",\"conditions\":[{\"type\":\"Completed\",\"status\":\"True\","
				    "\"reason\":\"Failed\",\"message\":\"The pod failed.\"}]");
	}
	if (include_object) {
		kc_str_adds(out, ",\"object\":");
		write_partial_metadata(out, obj);
	}
	kc_str_addc(out, '}');
}

/* ---------------------------------------------------------------------------------------------
 * Accept headers */

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

bool table_accept_param_is(const char *p, size_t n, const char *s)
{
	return p && strlen(s) == n && memcmp(p, s, n) == 0;
}

/* Parses a qvalue ("1", "0.5", "1.000"); anything else counts as 0 (unacceptable). */
static unsigned parse_q(const char *p, size_t n)
{
	if (!n || (p[0] != '0' && p[0] != '1'))
		return 0;
	unsigned q = (unsigned)(p[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (p[1] != '.' || n > 5)
		return 0;
	unsigned scale = 100;
	for (size_t i = 2; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		q += (unsigned)(p[i] - '0') * scale;
		scale /= 10;
	}
	return q > 1000 ? 1000 : q;
}

bool table_accept_next(const char **cursor, struct accept_range *r)
{
	const char *p = *cursor;
	if (!p)
		return false;
	while (*p == ',' || ows(*p))
		p++;
	if (!*p) {
		*cursor = p;
		return false;
	}
	memset(r, 0, sizeof *r);
	r->q = 1000;
	r->type = p;
	while (*p && *p != ',' && *p != ';')
		p++;
	const char *e = p;
	while (e > r->type && ows(e[-1]))
		e--;
	r->type_len = (size_t)(e - r->type);
	while (*p == ';') {
		p++;
		while (ows(*p))
			p++;
		const char *k = p;
		while (*p && *p != '=' && *p != ';' && *p != ',')
			p++;
		const char *ke = p;
		while (ke > k && ows(ke[-1]))
			ke--;
		const char *v = NULL;
		size_t vn = 0;
		if (*p == '=') {
			p++;
			while (ows(*p))
				p++;
			if (*p == '"') {
				v = ++p;
				while (*p && *p != '"') {
					if (*p == '\\' && p[1])
						p++;
					p++;
				}
				vn = (size_t)(p - v);
				if (*p == '"')
					p++;
				while (*p && *p != ';' && *p != ',')
					p++; /* junk after a quoted string */
			} else {
				v = p;
				while (*p && *p != ';' && *p != ',')
					p++;
				const char *ve = p;
				while (ve > v && ows(ve[-1]))
					ve--;
				vn = (size_t)(ve - v);
			}
		}
		size_t kn = (size_t)(ke - k);
		if (!v)
			continue;
		if (kn == 1 && (k[0] == 'q' || k[0] == 'Q')) {
			r->q = parse_q(v, vn);
		} else if (kn == 2 && kc_strncaseeq(k, "as", 2)) {
			r->as = v;
			r->as_len = vn;
		} else if (kn == 1 && (k[0] == 'g' || k[0] == 'G')) {
			r->g = v;
			r->g_len = vn;
		} else if (kn == 1 && (k[0] == 'v' || k[0] == 'V')) {
			r->v = v;
			r->v_len = vn;
		}
	}
	if (*p == ',')
		p++;
	*cursor = p;
	return true;
}

static bool type_is(const struct accept_range *r, const char *t)
{
	size_t n = strlen(t);
	return r->type_len == n && kc_strncaseeq(r->type, t, n);
}

bool table_accept_json(const struct accept_range *r)
{
	return type_is(r, "application/json") || type_is(r, "application/*") || type_is(r, "*/*");
}

bool table_wanted(const char *accept)
{
	struct accept_range r;
	const char *cur = accept;
	unsigned best_q = 0;
	bool best_table = false;
	while (table_accept_next(&cur, &r)) {
		if (!r.q)
			continue;
		bool table;
		if (r.as) {
			/* as=Table;g=meta.k8s.io;v=v1|v1beta1 in JSON (or protobuf, which kc
			 * answers in JSON); any other transformation kc does not offer */
			if (!table_accept_param_is(r.as, r.as_len, "Table") ||
			    !table_accept_param_is(r.g, r.g_len, "meta.k8s.io") ||
			    !(table_accept_param_is(r.v, r.v_len, "v1") ||
			      table_accept_param_is(r.v, r.v_len, "v1beta1")) ||
			    !(table_accept_json(&r) ||
			      type_is(&r, "application/vnd.kubernetes.protobuf")))
				continue;
			table = true;
		} else {
			table = false;
		}
		if (r.q > best_q) {
			best_q = r.q;
			best_table = table;
		}
	}
	return best_table;
}
