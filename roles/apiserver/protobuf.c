/* protobuf.c - Kubernetes protobuf request bodies to JSON, driven by the schema.
 *
 * DESIGN: a recursive descent over the wire bytes that walks the schema's type graph beside
 * them: each struct type's fields carry their protobuf number (proto=), the number of the
 * inline-embedded message holding them (proto=M.N), and whether the Go field is a pointer
 * (ptr). Nothing is allocated but the JSON tree being built, a path buffer (for errors and
 * unknown-field reports) and a scratch buffer. Every read is bounds-checked against the
 * enclosing length; the JSON depth (max_depth), the number of JSON values (max_elements) and
 * the body size (max_bytes) are bounded, so C recursion is bounded too. Stateless apart from
 * the per-call struct dec: any thread may call it. */
#include "roles/apiserver/protobuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/map.h"
#include "lib/str.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

#define MAX_FIELD_NUMBER 536870911u
#define MAX_TYPEMETA 256 /* apiVersion and kind of the envelope */
#define PATH_KEY_MAX 64  /* map keys quoted in paths */
#define META_PREFIX "io.k8s.apimachinery.pkg.apis.meta.v1."

/* Seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: Go's Time.MarshalJSON range. */
#define MIN_UNIX_SECONDS (-62167219200LL)
#define MAX_UNIX_SECONDS 253402300799LL

struct rd {
	const uint8_t *p, *end;
};

struct dec {
	const struct schema *s; /* for envelopes nested in a RawExtension; may be NULL */
	unsigned max_depth;
	size_t max_elements, nelem;
	cJSON *unknown;
	size_t listed, nunknown;
	struct kc_str path;
	struct kc_str scratch;
	struct kc_err *err;
	/* Map keys seen so far, so that a repeated key replaces the earlier entry in O(1): key =
	 * the map object's serial (kept in its unused valueint) + the key, value = the entry. */
	struct kc_map keys;
	int serial;
};

static int derr(struct dec *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int derr(struct dec *d, int code, const char *fmt, ...)
{
	char msg[KC_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (d->path.len)
		return kc_err_set(d->err, code, "protobuf: %.120s: %s", d->path.buf, msg);
	return kc_err_set(d->err, code, "protobuf: %s", msg);
}

static int truncated(struct dec *d)
{
	return derr(d, -KC_EPARSE, "truncated or malformed message");
}

/* ---- reading the wire ----------------------------------------------------------------- */

static int rd_varint(struct rd *r, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (r->p >= r->end)
			return -1;
		uint8_t b = *r->p++;
		if (i == 9 && b > 1)
			return -1; /* more than 64 bits */
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

static int rd_tag(struct dec *d, struct rd *r, unsigned *num, int *wt)
{
	uint64_t t;
	if (rd_varint(r, &t))
		return truncated(d);
	if (t >> 3 == 0 || t >> 3 > MAX_FIELD_NUMBER)
		return derr(d, -KC_EPARSE, "invalid field number %llu",
			    (unsigned long long)(t >> 3));
	*num = (unsigned)(t >> 3);
	*wt = (int)(t & 7);
	return 0;
}

static int rd_bytes(struct dec *d, struct rd *r, struct rd *sub)
{
	uint64_t n;
	if (rd_varint(r, &n) || n > (uint64_t)(r->end - r->p))
		return truncated(d);
	sub->p = r->p;
	sub->end = r->p + n;
	r->p += n;
	return 0;
}

static int rd_fixed64(struct dec *d, struct rd *r, uint64_t *out)
{
	if (r->end - r->p < 8)
		return truncated(d);
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | r->p[i];
	r->p += 8;
	*out = v;
	return 0;
}

/* Skips one value of wire type wt (groups, deprecated and never sent by Kubernetes, are
 * refused rather than followed). */
static int skip(struct dec *d, struct rd *r, int wt)
{
	uint64_t v;
	struct rd sub;
	switch (wt) {
	case WT_VARINT:
		return rd_varint(r, &v) ? truncated(d) : 0;
	case WT_I64:
		return rd_fixed64(d, r, &v);
	case WT_LEN:
		return rd_bytes(d, r, &sub);
	case WT_I32:
		if (r->end - r->p < 4)
			return truncated(d);
		r->p += 4;
		return 0;
	default:
		return derr(d, -KC_EPARSE, "unsupported wire type %d", wt);
	}
}

/* ---- the JSON side ---------------------------------------------------------------------- */

static int count(struct dec *d)
{
	if (++d->nelem > d->max_elements)
		return derr(d, -KC_ELIMIT, "more than %zu values", d->max_elements);
	return 0;
}

static int check_depth(struct dec *d, unsigned depth)
{
	if (depth > d->max_depth)
		return derr(d, -KC_ELIMIT, "nested deeper than %u levels", d->max_depth);
	return 0;
}

static void path_push(struct dec *d, const char *name)
{
	if (d->path.len)
		kc_str_addc(&d->path, '.');
	kc_str_adds(&d->path, name);
}

static void path_pop(struct dec *d, size_t mark)
{
	if (d->path.cap)
		kc_str_setlen(&d->path, mark);
}

static void note_unknown(struct dec *d, unsigned embed, unsigned num)
{
	d->nunknown++;
	if (!d->unknown || d->listed >= SCH_MAX_UNKNOWN)
		return;
	size_t mark = d->path.len;
	if (d->path.len)
		kc_str_addc(&d->path, '.');
	if (embed)
		kc_str_addf(&d->path, "#%u.%u", embed, num);
	else
		kc_str_addf(&d->path, "#%u", num);
	cJSON_AddItemToArray(d->unknown, kc_json_new_str(d->path.buf));
	path_pop(d, mark);
	d->listed++;
}

/* Sets obj[key] = v, replacing an earlier value (protobuf: the last one wins); v NULL removes
 * it. Takes ownership of v. */
static void set_member(cJSON *obj, const char *key, cJSON *v)
{
	cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v) {
		if (old)
			cJSON_Delete(cJSON_DetachItemViaPointer(obj, old));
		return;
	}
	if (old)
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
	else
		kc_json_add(obj, key, v);
}

/* A JSON string from wire bytes: UTF-8 and no NUL (cJSON strings are C strings). */
static int new_string(struct dec *d, const uint8_t *p, size_t n, cJSON **out)
{
	if (n == 0)
		p = (const uint8_t *)"";
	if (memchr(p, '\0', n))
		return derr(d, -KC_EPARSE, "string holds a NUL byte");
	if (!kc_json_valid_utf8((const char *)p, n))
		return derr(d, -KC_EPARSE, "string is not valid UTF-8");
	int rc = count(d);
	if (rc)
		return rc;
	kc_str_reset(&d->scratch);
	kc_str_add(&d->scratch, p, n);
	*out = kc_json_new_str(d->scratch.buf);
	return 0;
}

static int new_number(struct dec *d, double v, cJSON **out)
{
	int rc = count(d);
	if (rc)
		return rc;
	*out = kc_json_new_num(v);
	return 0;
}

/* ---- times and durations ---------------------------------------------------------------- */

/* Civil date of a day count from 1970-01-01 (proleptic Gregorian). */
static void civil_from_days(long long z, int *y, unsigned *m, unsigned *dd)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long yy = (long long)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*dd = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

/* RFC 3339 in UTC, as metav1.Time (micro false) or MicroTime (micro true) marshal to JSON. */
static int format_time(struct dec *d, int64_t sec, int64_t nanos, bool micro, cJSON **out)
{
	if (!micro)
		nanos = 0; /* metav1.Time keeps whole seconds only */
	if (sec < MIN_UNIX_SECONDS - 10 || sec > MAX_UNIX_SECONDS + 10)
		return derr(d, -KC_EPARSE, "time out of range (year 0 to 9999)");
	sec += nanos / 1000000000;
	nanos %= 1000000000;
	if (nanos < 0) {
		nanos += 1000000000;
		sec--;
	}
	if (sec < MIN_UNIX_SECONDS || sec > MAX_UNIX_SECONDS)
		return derr(d, -KC_EPARSE, "time out of range (year 0 to 9999)");
	long long days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
	long long rem = sec - days * 86400;
	int y;
	unsigned m, dd;
	civil_from_days(days, &y, &m, &dd);
	char buf[40];
	int n = snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld", y, m, dd,
			 rem / 3600, rem / 60 % 60, rem % 60);
	if (micro)
		n += snprintf(buf + n, sizeof buf - (size_t)n, ".%06lld", (long long)(nanos / 1000));
	snprintf(buf + n, sizeof buf - (size_t)n, "Z");
	int rc = count(d);
	if (rc)
		return rc;
	*out = kc_json_new_str(buf);
	return 0;
}

/* Writes the fraction v / 10^prec (".5", trailing zeros dropped, nothing when 0) backwards
 * ending at buf[*w], and returns v / 10^prec. */
static uint64_t frac_back(char *buf, size_t *w, uint64_t v, int prec)
{
	bool print = false;
	for (int i = 0; i < prec; i++) {
		unsigned digit = (unsigned)(v % 10);
		print = print || digit;
		if (print)
			buf[--*w] = (char)('0' + digit);
		v /= 10;
	}
	if (print)
		buf[--*w] = '.';
	return v;
}

static void int_back(char *buf, size_t *w, uint64_t v)
{
	do {
		buf[--*w] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
}

/* Go's time.Duration.String(): "1h0m0s", "1.5s", "300ms", "2µs", "0s". */
static void format_duration(int64_t ns, char out[40])
{
	char buf[40];
	size_t w = sizeof buf - 1;
	buf[w] = '\0';
	uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	if (u == 0) {
		memcpy(out, "0s", 3);
		return;
	}
	buf[--w] = 's';
	if (u < 1000000000u) {
		int prec;
		if (u < 1000u) {
			prec = 0;
			buf[--w] = 'n';
		} else if (u < 1000000u) {
			prec = 3;
			buf[--w] = '\xb5'; /* U+00B5 MICRO SIGN, as Go writes it */
			buf[--w] = '\xc2';
		} else {
			prec = 6;
			buf[--w] = 'm';
		}
		u = frac_back(buf, &w, u, prec);
		int_back(buf, &w, u);
	} else {
		u = frac_back(buf, &w, u, 9);
		int_back(buf, &w, u % 60);
		u /= 60;
		if (u) {
			buf[--w] = 'm';
			int_back(buf, &w, u % 60);
			u /= 60;
			if (u) {
				buf[--w] = 'h';
				int_back(buf, &w, u);
			}
		}
	}
	if (ns < 0)
		buf[--w] = '-';
	memcpy(out, buf + w, sizeof buf - w);
}

/* ---- values ------------------------------------------------------------------------------ */

static int decode_fields(struct dec *d, const struct sch_type *t, unsigned embed, struct rd *r,
			 cJSON *obj, unsigned depth);
static int decode_envelope(struct dec *d, const uint8_t *p, size_t n, unsigned depth,
			   cJSON **out);
static int add_occurrence(struct dec *d, const struct sch_type *t, cJSON *container, int wt,
			  struct rd *r, unsigned depth);

static const char *kind_name(const struct sch_type *t)
{
	static const char *const names[] = {
		[SCH_STRING] = "string", [SCH_INT32] = "int32", [SCH_INT64] = "int64",
		[SCH_BOOL] = "bool", [SCH_DOUBLE] = "double", [SCH_QUANTITY] = "quantity",
		[SCH_INT_OR_STRING] = "intOrString", [SCH_TIME] = "time",
		[SCH_MICROTIME] = "microtime", [SCH_BYTES] = "bytes", [SCH_ANY] = "any",
		[SCH_FREE_OBJECT] = "object", [SCH_ARRAY] = "list", [SCH_MAP] = "map",
		[SCH_STRUCT] = "message",
	};
	return t->kind < sizeof names / sizeof *names && names[t->kind] ? names[t->kind] : "?";
}

static int wrong_wire(struct dec *d, const struct sch_type *t, int wt)
{
	return derr(d, -KC_EPARSE, "wire type %d does not fit a %s field", wt, kind_name(t));
}

static bool packable(const struct sch_type *t)
{
	return t->kind == SCH_INT32 || t->kind == SCH_INT64 || t->kind == SCH_BOOL ||
	       t->kind == SCH_DOUBLE;
}

/* A varint or fixed64 scalar; *zero tells whether it is the type's zero value. */
static int decode_scalar(struct dec *d, const struct sch_type *t, int wt, struct rd *r,
			 cJSON **out, bool *zero)
{
	uint64_t v = 0;
	int rc;
	switch (t->kind) {
	case SCH_INT32:
	case SCH_INT64:
	case SCH_BOOL:
		if (wt != WT_VARINT)
			return wrong_wire(d, t, wt);
		if (rd_varint(r, &v))
			return truncated(d);
		*zero = t->kind == SCH_INT32 ? (uint32_t)v == 0 : v == 0;
		if (t->kind == SCH_BOOL) {
			if ((rc = count(d)))
				return rc;
			*out = kc_json_new_bool(v != 0);
			return 0;
		}
		/* int32 arrives sign-extended to 64 bits; protobuf keeps the low 32 */
		return new_number(d, t->kind == SCH_INT32 ? (double)(int32_t)(uint32_t)v
							  : (double)(int64_t)v, out);
	case SCH_DOUBLE: {
		if (wt != WT_I64)
			return wrong_wire(d, t, wt);
		if ((rc = rd_fixed64(d, r, &v)))
			return rc;
		double f;
		memcpy(&f, &v, sizeof f);
		if (!isfinite(f))
			return derr(d, -KC_EPARSE, "number is not finite");
		*zero = f == 0;
		return new_number(d, f, out);
	}
	default:
		return wrong_wire(d, t, wt);
	}
}

/* The fields of a small message ({seconds, nanos}, {duration}, Quantity, ...) as numbers and
 * byte strings; unknown numbers are skipped and reported. */
struct small {
	uint64_t num[4];
	const uint8_t *str[4];
	size_t len[4];
	bool have[4];
};

static int read_small(struct dec *d, struct rd *r, const int wts[4], struct small *m)
{
	memset(m, 0, sizeof *m);
	while (r->p < r->end) {
		unsigned num;
		int wt, rc;
		if ((rc = rd_tag(d, r, &num, &wt)))
			return rc;
		if (num < 4 && wts[num] >= 0) {
			if (wt != wts[num])
				return derr(d, -KC_EPARSE, "wire type %d for field %u", wt, num);
			if (wt == WT_VARINT) {
				if (rd_varint(r, &m->num[num]))
					return truncated(d);
			} else {
				struct rd sub;
				if ((rc = rd_bytes(d, r, &sub)))
					return rc;
				m->str[num] = sub.p;
				m->len[num] = (size_t)(sub.end - sub.p);
			}
			m->have[num] = true;
			continue;
		}
		note_unknown(d, 0, num);
		if ((rc = skip(d, r, wt)))
			return rc;
	}
	return 0;
}

/* JSON text held in a RawExtension or FieldsV1 (or a nested protobuf envelope). */
static int decode_raw(struct dec *d, const uint8_t *p, size_t n, unsigned depth, cJSON **out)
{
	if (n == 0) {
		int rc = count(d);
		if (rc)
			return rc;
		*out = kc_json_new_null();
		return 0;
	}
	if (n >= KC_PB_MAGIC_LEN && memcmp(p, KC_PB_MAGIC, KC_PB_MAGIC_LEN) == 0)
		return decode_envelope(d, p, n, depth, out);
	if (depth > d->max_depth)
		return check_depth(d, depth);
	struct kc_json_limits lim = { .max_bytes = n, .max_depth = d->max_depth - depth + 1 };
	struct kc_err jerr = { 0 };
	int rc = kc_json_parse((const char *)p, n, &lim, out, &jerr);
	if (rc)
		return derr(d, rc == -KC_ELIMIT ? -KC_ELIMIT : -KC_EPARSE,
			    "embedded JSON: %s", jerr.msg);
	/* a JSON text of n bytes holds at most about n/2 values: charge that much */
	d->nelem += n / 2;
	return count(d);
}

/* A new JSON map object, numbered for the key index. */
static cJSON *new_map(struct dec *d)
{
	cJSON *m = kc_json_new_object();
	m->valueint = ++d->serial;
	return m;
}

/* One value of type t that arrived with wire type wt. *out is NULL when a plain (non-pointer)
 * field's zero value was read and keep_zero is false. depth: the depth of a container *out
 * would be. */
static int decode_value(struct dec *d, const struct sch_field *f, const struct sch_type *t,
			bool keep_zero, int wt, struct rd *r, unsigned depth, cJSON **out)
{
	struct rd sub;
	struct small m;
	int rc;
	bool zero = false;
	*out = NULL;
	bool duration = f && f->duration;
	switch (t->kind) {
	case SCH_INT32:
	case SCH_INT64:
	case SCH_BOOL:
	case SCH_DOUBLE:
		if ((rc = decode_scalar(d, t, wt, r, out, &zero)))
			return rc;
		break;
	case SCH_STRING:
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		if ((rc = rd_bytes(d, r, &sub)))
			return rc;
		if (duration) {
			static const int wts[4] = { -1, WT_VARINT, -1, -1 };
			if ((rc = read_small(d, &sub, wts, &m)))
				return rc;
			char buf[40];
			format_duration((int64_t)m.num[1], buf);
			zero = m.num[1] == 0;
			if ((rc = count(d)))
				return rc;
			*out = kc_json_new_str(buf);
			break;
		}
		zero = sub.p == sub.end;
		if ((rc = new_string(d, sub.p, (size_t)(sub.end - sub.p), out)))
			return rc;
		break;
	case SCH_BYTES:
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		if ((rc = rd_bytes(d, r, &sub)) || (rc = count(d)))
			return rc;
		kc_str_reset(&d->scratch);
		kc_base64_encode(&d->scratch, sub.p, (size_t)(sub.end - sub.p), KC_B64_STD);
		*out = kc_json_new_str(d->scratch.buf);
		break; /* a []byte is sent only when non-nil: keep even an empty one */
	case SCH_QUANTITY: {
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		static const int wts[4] = { -1, WT_LEN, -1, -1 };
		if ((rc = rd_bytes(d, r, &sub)) || (rc = read_small(d, &sub, wts, &m)))
			return rc;
		if (!m.have[1] || m.len[1] == 0) {
			zero = true;
			if ((rc = count(d)))
				return rc;
			*out = kc_json_new_str("0");
			break;
		}
		if ((rc = new_string(d, m.str[1], m.len[1], out)))
			return rc;
		break;
	}
	case SCH_INT_OR_STRING: {
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		static const int wts[4] = { -1, WT_VARINT, WT_VARINT, WT_LEN };
		if ((rc = rd_bytes(d, r, &sub)) || (rc = read_small(d, &sub, wts, &m)))
			return rc;
		if (m.num[1] == 0) {
			zero = (uint32_t)m.num[2] == 0;
			if ((rc = new_number(d, (double)(int32_t)(uint32_t)m.num[2], out)))
				return rc;
		} else if (m.num[1] == 1) {
			if ((rc = new_string(d, m.str[3] ? m.str[3] : (const uint8_t *)"", m.len[3],
					     out)))
				return rc;
		} else {
			return derr(d, -KC_EPARSE, "IntOrString type %llu is neither 0 nor 1",
				    (unsigned long long)m.num[1]);
		}
		break;
	}
	case SCH_TIME:
	case SCH_MICROTIME: {
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		static const int wts[4] = { -1, WT_VARINT, WT_VARINT, -1 };
		if ((rc = rd_bytes(d, r, &sub)))
			return rc;
		if (sub.p == sub.end) { /* the zero time: JSON null */
			if ((rc = count(d)))
				return rc;
			*out = kc_json_new_null();
			break;
		}
		if ((rc = read_small(d, &sub, wts, &m)))
			return rc;
		if ((rc = format_time(d, (int64_t)m.num[1], (int32_t)(uint32_t)m.num[2],
				      t->kind == SCH_MICROTIME, out)))
			return rc;
		break;
	}
	case SCH_ANY:
	case SCH_FREE_OBJECT: {
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		static const int wts[4] = { -1, WT_LEN, -1, -1 };
		if ((rc = rd_bytes(d, r, &sub)) || (rc = read_small(d, &sub, wts, &m)))
			return rc;
		if ((rc = decode_raw(d, m.str[1], m.len[1], depth, out)))
			return rc;
		break;
	}
	case SCH_STRUCT: {
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		if ((rc = rd_bytes(d, r, &sub)) || (rc = check_depth(d, depth)) || (rc = count(d)))
			return rc;
		cJSON *obj = kc_json_new_object();
		if ((rc = decode_fields(d, t, 0, &sub, obj, depth))) {
			cJSON_Delete(obj);
			return rc;
		}
		*out = obj;
		break;
	}
	case SCH_ARRAY:
	case SCH_MAP: {
		/* a list or map inside a list or map: a wrapper message {items=1} */
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		if ((rc = rd_bytes(d, r, &sub)) || (rc = check_depth(d, depth)) || (rc = count(d)))
			return rc;
		cJSON *c = t->kind == SCH_ARRAY ? kc_json_new_array() : new_map(d);
		while (sub.p < sub.end) {
			unsigned num;
			int swt;
			if ((rc = rd_tag(d, &sub, &num, &swt)))
				goto wrapper_fail;
			if (num == 1) {
				if ((rc = add_occurrence(d, t, c, swt, &sub, depth)))
					goto wrapper_fail;
				continue;
			}
			note_unknown(d, 0, num);
			if ((rc = skip(d, &sub, swt)))
				goto wrapper_fail;
		}
		*out = c;
		break;
wrapper_fail:
		cJSON_Delete(c);
		return rc;
	}
	}
	if (zero && !keep_zero && *out) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return 0;
}

/* The JSON value of a map entry whose value field was not sent: the value type's zero. */
static int zero_value(struct dec *d, const struct sch_type *t, cJSON **out)
{
	int rc = count(d);
	if (rc)
		return rc;
	switch (t->kind) {
	case SCH_INT32:
	case SCH_INT64:
	case SCH_DOUBLE:
	case SCH_INT_OR_STRING:
		*out = kc_json_new_num(0);
		break;
	case SCH_BOOL:
		*out = kc_json_new_bool(false);
		break;
	case SCH_QUANTITY:
		*out = kc_json_new_str("0");
		break;
	case SCH_STRING:
	case SCH_BYTES:
		*out = kc_json_new_str("");
		break;
	case SCH_STRUCT:
	case SCH_MAP:
		*out = kc_json_new_object();
		break;
	case SCH_ARRAY:
		*out = kc_json_new_array();
		break;
	default:
		*out = kc_json_new_null();
		break;
	}
	return 0;
}

/* One map entry {key=1, value=2} into the JSON object m. */
static int add_entry(struct dec *d, const struct sch_type *mt, cJSON *m, struct rd *r,
		     unsigned depth)
{
	cJSON *key = NULL, *val = NULL;
	int rc = 0;
	while (r->p < r->end) {
		unsigned num;
		int wt;
		if ((rc = rd_tag(d, r, &num, &wt)))
			goto out;
		if (num == 1) {
			if (wt != WT_LEN) {
				rc = derr(d, -KC_EPARSE, "map key with wire type %d", wt);
				goto out;
			}
			struct rd sub;
			cJSON_Delete(key);
			key = NULL;
			if ((rc = rd_bytes(d, r, &sub)) ||
			    (rc = new_string(d, sub.p, (size_t)(sub.end - sub.p), &key)))
				goto out;
		} else if (num == 2) {
			cJSON *nv = NULL;
			if ((rc = decode_value(d, NULL, mt->elem, true, wt, r, depth + 1, &nv)))
				goto out;
			cJSON_Delete(val);
			val = nv;
		} else {
			note_unknown(d, 0, num);
			if ((rc = skip(d, r, wt)))
				goto out;
		}
	}
	if (!key && (rc = new_string(d, (const uint8_t *)"", 0, &key)))
		goto out;
	if (!val && (rc = zero_value(d, mt->elem, &val)))
		goto out;
	kc_str_reset(&d->scratch);
	kc_str_add(&d->scratch, &m->valueint, sizeof m->valueint);
	kc_str_adds(&d->scratch, key->valuestring);
	cJSON *old = kc_map_get(&d->keys, d->scratch.buf, d->scratch.len);
	if (old) {
		/* ViaPointer keeps the position but not the name: give the new entry its key */
		val->string = xstrdup(key->valuestring);
		cJSON_ReplaceItemViaPointer(m, old, val);
	} else
		kc_json_add(m, key->valuestring, val);
	kc_map_put(&d->keys, d->scratch.buf, d->scratch.len, val);
	val = NULL;
out:
	cJSON_Delete(key);
	cJSON_Delete(val);
	return rc;
}

/* One occurrence of a repeated field (list element(s), packed or not) or of a map field (one
 * entry) into the container c of type t (SCH_ARRAY or SCH_MAP) at depth 'depth'. */
static int add_occurrence(struct dec *d, const struct sch_type *t, cJSON *c, int wt,
			  struct rd *r, unsigned depth)
{
	int rc;
	struct rd sub;
	if (t->kind == SCH_MAP) {
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		if ((rc = rd_bytes(d, r, &sub)))
			return rc;
		return add_entry(d, t, c, &sub, depth);
	}
	const struct sch_type *et = t->elem;
	if (wt == WT_LEN && packable(et)) {
		if ((rc = rd_bytes(d, r, &sub)))
			return rc;
		int ewt = et->kind == SCH_DOUBLE ? WT_I64 : WT_VARINT;
		while (sub.p < sub.end) {
			cJSON *v = NULL;
			if ((rc = decode_value(d, NULL, et, true, ewt, &sub, depth + 1, &v)))
				return rc;
			cJSON_AddItemToArray(c, v);
		}
		return 0;
	}
	cJSON *v = NULL;
	if ((rc = decode_value(d, NULL, et, true, wt, r, depth + 1, &v)))
		return rc;
	cJSON_AddItemToArray(c, v);
	return 0;
}

static bool is_embed_number(const struct sch_type *t, unsigned num)
{
	for (size_t i = 0; i < t->nfields; i++)
		if (t->fields[i].proto_embed == num)
			return true;
	return false;
}

static const struct sch_field *field_by_number(const struct sch_type *t, unsigned embed,
					       unsigned num)
{
	for (size_t i = 0; i < t->nfields; i++)
		if (t->fields[i].proto == num && t->fields[i].proto_embed == embed)
			return &t->fields[i];
	return NULL;
}

/* One occurrence of field f into obj. */
static int decode_field(struct dec *d, const struct sch_field *f, int wt, struct rd *r,
			cJSON *obj, unsigned depth)
{
	int rc;
	const struct sch_type *t = f->type;
	if (t->kind == SCH_ARRAY || t->kind == SCH_MAP) {
		cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		if (t->kind == SCH_ARRAY ? !cJSON_IsArray(c) : !cJSON_IsObject(c)) {
			if ((rc = check_depth(d, depth + 1)) || (rc = count(d)))
				return rc;
			c = t->kind == SCH_ARRAY ? kc_json_new_array() : new_map(d);
			set_member(obj, f->name, c);
		}
		return add_occurrence(d, t, c, wt, r, depth + 1);
	}
	if (t->kind == SCH_STRUCT) {
		/* a message sent more than once is merged, as protobuf does */
		struct rd sub;
		if (wt != WT_LEN)
			return wrong_wire(d, t, wt);
		if ((rc = rd_bytes(d, r, &sub)))
			return rc;
		cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		if (!cJSON_IsObject(c)) {
			if ((rc = check_depth(d, depth + 1)) || (rc = count(d)))
				return rc;
			c = kc_json_new_object();
			set_member(obj, f->name, c);
		}
		return decode_fields(d, t, 0, &sub, c, depth + 1);
	}
	cJSON *v = NULL;
	if ((rc = decode_value(d, f, t, f->ptr, wt, r, depth + 1, &v)))
		return rc;
	set_member(obj, f->name, v);
	return 0;
}

/* The fields of a message of struct type t (or of the message embedded inline at field
 * 'embed') into obj, an object at depth 'depth'. */
static int decode_fields(struct dec *d, const struct sch_type *t, unsigned embed, struct rd *r,
			 cJSON *obj, unsigned depth)
{
	int rc;
	while (r->p < r->end) {
		unsigned num;
		int wt;
		if ((rc = rd_tag(d, r, &num, &wt)))
			return rc;
		const struct sch_field *f = field_by_number(t, embed, num);
		if (f) {
			size_t mark = d->path.len;
			path_push(d, f->name);
			rc = decode_field(d, f, wt, r, obj, depth);
			if (rc)
				return rc; /* the path stays for the error message */
			path_pop(d, mark);
			continue;
		}
		if (!embed && is_embed_number(t, num)) {
			struct rd sub;
			if (wt != WT_LEN)
				return derr(d, -KC_EPARSE, "wire type %d for embedded message %u", wt,
					    num);
			if ((rc = rd_bytes(d, r, &sub)) ||
			    (rc = decode_fields(d, t, num, &sub, obj, depth)))
				return rc;
			continue;
		}
		note_unknown(d, embed, num);
		if ((rc = skip(d, r, wt)))
			return rc;
	}
	return 0;
}

/* ---- the envelope ----------------------------------------------------------------------- */

static bool meta_kind(const struct sch_type *t, const char *kind)
{
	return t->gvk && !strcmp(t->gvk->kind, kind) && t->full_name &&
	       !strncmp(t->full_name, META_PREFIX, sizeof META_PREFIX - 1);
}

/* The struct type of apiVersion/kind: a resource's kind, a `kind` line's type, or a meta.k8s.io
 * kind (DeleteOptions, Status...) that every group version carries. */
static const struct sch_type *find_kind(const struct schema *s, const char *api_version,
					const char *kind)
{
	char group[MAX_TYPEMETA];
	const char *version = api_version;
	const char *slash = strchr(api_version, '/');
	group[0] = '\0';
	if (slash) {
		size_t n = (size_t)(slash - api_version);
		memcpy(group, api_version, n);
		group[n] = '\0';
		version = slash + 1;
	}
	const struct api_resource *res = schema_resource_by_kind(s, group, kind);
	if (res && !strcmp(res->version, version))
		return res->type;
	const struct sch_type *meta = NULL;
	for (size_t i = 0, n = schema_type_count(s); i < n; i++) {
		const struct sch_type *t = schema_type_at(s, i);
		if (!t->gvk || strcmp(t->gvk->kind, kind))
			continue;
		if (!strcmp(t->gvk->group, group) && !strcmp(t->gvk->version, version))
			return t;
		if (!meta && meta_kind(t, kind))
			meta = t;
	}
	return meta;
}

static int envelope_str(struct dec *d, const uint8_t *p, size_t n, const char *what,
			char out[MAX_TYPEMETA])
{
	if (n >= MAX_TYPEMETA)
		return derr(d, -KC_EPARSE, "%s longer than %d bytes", what, MAX_TYPEMETA - 1);
	if (memchr(p, '\0', n) || !kc_json_valid_utf8((const char *)p, n))
		return derr(d, -KC_EPARSE, "%s is not a valid string", what);
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int decode_envelope(struct dec *d, const uint8_t *p, size_t n, unsigned depth,
			   cJSON **out)
{
	*out = NULL;
	if (n < KC_PB_MAGIC_LEN || memcmp(p, KC_PB_MAGIC, KC_PB_MAGIC_LEN))
		return derr(d, -KC_EPARSE, "the body does not start with the protobuf magic");
	if (!d->s)
		return derr(d, -KC_EUNSUPPORTED, "no schema to decode an embedded object");
	struct rd r = { p + KC_PB_MAGIC_LEN, p + n };
	struct rd raw = { NULL, NULL };
	char api_version[MAX_TYPEMETA] = "", kind[MAX_TYPEMETA] = "";
	char encoding[MAX_TYPEMETA] = "", ctype[MAX_TYPEMETA] = "";
	int rc;
	while (r.p < r.end) {
		unsigned num;
		int wt;
		struct rd sub;
		if ((rc = rd_tag(d, &r, &num, &wt)))
			return rc;
		if (num > 4) {
			note_unknown(d, 0, num);
			if ((rc = skip(d, &r, wt)))
				return rc;
			continue;
		}
		if (wt != WT_LEN)
			return derr(d, -KC_EPARSE, "envelope field %u with wire type %d", num, wt);
		if ((rc = rd_bytes(d, &r, &sub)))
			return rc;
		size_t sn = (size_t)(sub.end - sub.p);
		if (num == 1) {
			static const int wts[4] = { -1, WT_LEN, WT_LEN, -1 };
			struct small m;
			if ((rc = read_small(d, &sub, wts, &m)))
				return rc;
			if (m.have[1] && (rc = envelope_str(d, m.str[1], m.len[1], "apiVersion",
							    api_version)))
				return rc;
			if (m.have[2] &&
			    (rc = envelope_str(d, m.str[2], m.len[2], "kind", kind)))
				return rc;
		} else if (num == 2) {
			raw = sub;
		} else if ((rc = envelope_str(d, sub.p, sn, num == 3 ? "contentEncoding"
								      : "contentType",
					      num == 3 ? encoding : ctype))) {
			return rc;
		}
	}
	if (encoding[0])
		return derr(d, -KC_EUNSUPPORTED, "content encoding \"%.64s\" is not supported",
			    encoding);
	if (!kind[0] || !api_version[0])
		return derr(d, -KC_EPARSE, "the envelope names no apiVersion and kind");
	size_t rawlen = raw.p ? (size_t)(raw.end - raw.p) : 0;
	if (ctype[0] && strcmp(ctype, KC_PB_CONTENT_TYPE)) {
		if (strcmp(ctype, "application/json"))
			return derr(d, -KC_EUNSUPPORTED, "content type \"%.64s\" is not supported",
				    ctype);
		/* JSON carried in the envelope */
		if ((rc = decode_raw(d, raw.p, rawlen, depth, out)))
			return rc;
		if (!cJSON_IsObject(*out)) {
			cJSON_Delete(*out);
			*out = NULL;
			return derr(d, -KC_EPARSE, "embedded JSON is not an object");
		}
		return 0;
	}
	const struct sch_type *t = find_kind(d->s, api_version, kind);
	if (!t)
		return derr(d, -KC_EUNSUPPORTED, "no kind \"%.64s\" is served in \"%.64s\"", kind,
			    api_version);
	if ((rc = check_depth(d, depth)) || (rc = count(d)))
		return rc;
	cJSON *obj = kc_json_new_object();
	kc_json_add(obj, "kind", kc_json_new_str(kind));
	kc_json_add(obj, "apiVersion", kc_json_new_str(api_version));
	struct rd body = { raw.p, raw.p ? raw.end : NULL };
	if ((rc = decode_fields(d, t, 0, &body, obj, depth))) {
		cJSON_Delete(obj);
		return rc;
	}
	*out = obj;
	return 0;
}

/* ---- entry points ----------------------------------------------------------------------- */

static void dec_init(struct dec *d, const struct schema *s, const struct kc_pb_opts *o,
		     struct kc_err *err)
{
	memset(d, 0, sizeof *d);
	d->s = s;
	d->err = err;
	d->max_depth = o && o->max_depth ? o->max_depth : KC_JSON_DEFAULT_MAX_DEPTH;
	if (d->max_depth > KC_JSON_DEPTH_CAP)
		d->max_depth = KC_JSON_DEPTH_CAP;
	d->max_elements = o && o->max_elements ? o->max_elements : KC_PB_MAX_ELEMENTS;
	d->unknown = o ? o->unknown : NULL;
	kc_map_init(&d->keys, NULL);
	kc_str_init(&d->path);
	kc_str_init(&d->scratch);
}

static int dec_finish(struct dec *d, const struct kc_pb_opts *o, int rc)
{
	if (o && o->nunknown)
		*o->nunknown = d->nunknown;
	kc_str_free(&d->path);
	kc_str_free(&d->scratch);
	kc_map_free(&d->keys);
	return rc;
}

static size_t max_bytes(const struct kc_pb_opts *o)
{
	return o && o->max_bytes ? o->max_bytes : KC_JSON_DEFAULT_MAX_BYTES;
}

int kc_pb_decode_opts(const struct schema *s, const void *body, size_t len,
		      const struct kc_pb_opts *opts, cJSON **out, struct kc_err *err)
{
	*out = NULL;
	if (len > max_bytes(opts))
		return kc_err_set(err, -KC_ETOOBIG, "protobuf: body larger than %zu bytes",
				  max_bytes(opts));
	struct dec d;
	dec_init(&d, s, opts, err);
	int rc = decode_envelope(&d, body, len, 1, out);
	return dec_finish(&d, opts, rc);
}

int kc_pb_decode(const struct schema *s, const void *body, size_t len, cJSON **out,
		 struct kc_err *err)
{
	return kc_pb_decode_opts(s, body, len, NULL, out, err);
}

int kc_pb_decode_message(const struct sch_type *t, const void *buf, size_t len,
			 const struct kc_pb_opts *opts, cJSON **out, struct kc_err *err)
{
	*out = NULL;
	if (!t || t->kind != SCH_STRUCT)
		return kc_err_set(err, -KC_EINVAL, "protobuf: not a message type");
	if (len > max_bytes(opts))
		return kc_err_set(err, -KC_ETOOBIG, "protobuf: body larger than %zu bytes",
				  max_bytes(opts));
	struct dec d;
	dec_init(&d, NULL, opts, err);
	struct rd r = { buf, buf ? (const uint8_t *)buf + len : NULL };
	cJSON *obj = kc_json_new_object();
	int rc = count(&d);
	if (!rc)
		rc = decode_fields(&d, t, 0, &r, obj, 1);
	if (rc)
		cJSON_Delete(obj);
	else
		*out = obj;
	return dec_finish(&d, opts, rc);
}
