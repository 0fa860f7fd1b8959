/* DESIGN: resource.Quantity without floating point. The scanner follows apimachinery's
 * parseQuantityString step by step (its quirks included: "1.G", "m", "+" and "-" are valid and
 * mean 0), then takes the same two routes ParseQuantity takes: the "fast path" (few digits, an
 * int64 result, the original text kept when it is already canonical) and the exact path
 * (rounded up to nano, BinarySI capped at 2^63-1), the latter on a little-endian decimal digit
 * array. Every result is stored as an exact __int128 mantissa (at most
 * KC_QUANTITY_MAX_DIGITS digits, trailing zeros stripped) times a power of ten. Pure functions,
 * no state: thread-safe. */
#include "lib/quantity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/json.h"

typedef unsigned __int128 u128;

#define SPLIT_RE    "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
#define MSG_FORMAT  "quantities must match the regular expression '" SPLIT_RE "'"
#define MSG_NUMERIC "unable to parse numeric part of quantity"
#define MSG_SUFFIX  "unable to parse quantity's suffix"

/* Significant digits the exact path works with (input digits after stripping zeros). */
#define MAX_SIG_DIGITS 100

static const struct {
	const char *s;
	int exp;
} dec_suffixes[] = {{"n", -9}, {"u", -6}, {"m", -3}, {"", 0},	{"k", 3},
		    {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
static const char *const bin_suffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};

static u128 pow10u(unsigned n) /* n <= 38 */
{
	u128 r = 1;
	while (n--)
		r *= 10;
	return r;
}

static unsigned ndigits(u128 v)
{
	unsigned n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static u128 uabs(__int128 v)
{
	return v < 0 ? (u128)0 - (u128)v : (u128)v;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Strips trailing zeros into the exponent. */
static void normalize(__int128 *mant, int64_t *exp)
{
	if (*mant == 0) {
		*exp = 0;
		return;
	}
	while (*mant % 10 == 0) {
		*mant /= 10;
		(*exp)++;
	}
}

/* Stores a normalized value, checking the representation limits. */
static int store(struct kc_quantity *q, __int128 mant, int64_t exp, struct kc_err *err)
{
	normalize(&mant, &exp);
	if (mant != 0 && ndigits(uabs(mant)) > KC_QUANTITY_MAX_DIGITS)
		return kc_err_set(err, -KC_ELIMIT, "quantity needs more than %d significant digits",
				  KC_QUANTITY_MAX_DIGITS);
	if (exp > INT32_MAX || exp < INT32_MIN)
		return kc_err_set(err, -KC_ELIMIT, "quantity exponent out of range");
	q->mant = mant;
	q->exp = (int32_t)exp;
	return 0;
}

/* Suffix interpretation (suffixHandler.interpret). */
static bool interpret_suffix(const char *s, size_t n, int *base, int32_t *exponent,
			     enum kc_quantity_format *fmt)
{
	for (size_t i = 0; i < sizeof dec_suffixes / sizeof dec_suffixes[0]; i++) {
		if (strlen(dec_suffixes[i].s) == n && memcmp(dec_suffixes[i].s, s, n) == 0) {
			*base = 10;
			*exponent = dec_suffixes[i].exp;
			*fmt = KC_QUANTITY_DECIMAL_SI;
			return true;
		}
	}
	for (size_t i = 1; i < sizeof bin_suffixes / sizeof bin_suffixes[0]; i++) {
		if (n == 2 && memcmp(bin_suffixes[i], s, 2) == 0) {
			*base = 2;
			*exponent = (int32_t)(10 * i);
			*fmt = KC_QUANTITY_BINARY_SI;
			return true;
		}
	}
	if (n > 1 && (s[0] == 'e' || s[0] == 'E')) {
		/* strconv.ParseInt(s[1:], 10, 64), then int32() as Go converts: wraps. */
		size_t i = 1;
		bool neg = false;
		if (s[i] == '+' || s[i] == '-')
			neg = s[i++] == '-';
		if (i >= n)
			return false;
		uint64_t v = 0;
		for (; i < n; i++) {
			if (!is_digit(s[i]))
				return false;
			unsigned d = (unsigned)(s[i] - '0');
			if (v > (UINT64_MAX - d) / 10)
				return false;
			v = v * 10 + d;
		}
		if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
			return false;
		uint64_t bits = neg ? (uint64_t)0 - v : v;
		*base = 10;
		*exponent = (int32_t)(uint32_t)bits;
		*fmt = KC_QUANTITY_DECIMAL_EXPONENT;
		return true;
	}
	return false;
}

/* The exact path's number: little-endian decimal digits times 10^exp. */
struct bigdec {
	uint8_t d[MAX_SIG_DIGITS + 32];
	size_t n;
	int64_t exp;
};

static void big_trim(struct bigdec *b)
{
	while (b->n > 0 && b->d[b->n - 1] == 0)
		b->n--;
	size_t z = 0;
	while (z < b->n && b->d[z] == 0)
		z++;
	if (z) {
		memmove(b->d, b->d + z, b->n - z);
		b->n -= z;
		b->exp += (int64_t)z;
	}
	if (b->n == 0)
		b->exp = 0;
}

static void big_mul2(struct bigdec *b)
{
	unsigned carry = 0;
	for (size_t i = 0; i < b->n; i++) {
		unsigned v = b->d[i] * 2u + carry;
		b->d[i] = (uint8_t)(v % 10);
		carry = v / 10;
	}
	if (carry)
		b->d[b->n++] = (uint8_t)carry;
}

static void big_increment(struct bigdec *b)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->d[i] < 9) {
			b->d[i]++;
			return;
		}
		b->d[i] = 0;
	}
	b->d[b->n++] = 1;
}

/* Rounds a nonzero value up (in magnitude) to a multiple of 10^-9. */
static void big_round_nano(struct bigdec *b)
{
	if (b->n == 0 || b->exp >= -9)
		return;
	int64_t drop = -9 - b->exp;
	bool frac = false;
	if ((uint64_t)drop >= b->n) {
		b->n = 1;
		b->d[0] = 1;
		b->exp = -9;
		return;
	}
	for (int64_t i = 0; i < drop; i++)
		frac |= b->d[i] != 0;
	memmove(b->d, b->d + drop, b->n - (size_t)drop);
	b->n -= (size_t)drop;
	b->exp = -9;
	if (frac)
		big_increment(b);
	big_trim(b);
}

/* Compares the magnitude with the integer v: -1, 0, 1. */
static int big_cmp_int(const struct bigdec *b, uint64_t v)
{
	if (b->n == 0)
		return v ? -1 : 0;
	int64_t int_digits = (int64_t)b->n + b->exp;
	if (int_digits > 20)
		return 1;
	u128 ip = 0;
	bool frac = false;
	for (size_t i = b->n; i-- > 0;) {
		int64_t pos = (int64_t)i + b->exp; /* power of ten of this digit */
		if (pos >= 0)
			ip = ip * 10 + b->d[i];
		else
			frac |= b->d[i] != 0;
	}
	for (int64_t p = 0; p < b->exp; p++)
		ip *= 10;
	if (ip > v)
		return 1;
	if (ip < v)
		return -1;
	return frac ? 1 : 0;
}

static void big_set_int(struct bigdec *b, uint64_t v)
{
	b->n = 0;
	b->exp = 0;
	while (v) {
		b->d[b->n++] = (uint8_t)(v % 10);
		v /= 10;
	}
}

/* True when the original text is what Kubernetes serializes back: keep it (if it fits). */
static void maybe_cache(struct kc_quantity *q, const char *s, size_t n)
{
	if (n < sizeof q->orig) {
		memcpy(q->orig, s, n);
		q->orig[n] = '\0';
	}
}

int kc_quantity_parse(const char *str, struct kc_quantity *q, struct kc_err *err)
{
	memset(q, 0, sizeof *q);
	size_t end = strlen(str);
	if (end == 0)
		return kc_err_set(err, -KC_EINVAL, MSG_FORMAT);
	if (end > KC_QUANTITY_MAX_INPUT)
		return kc_err_set(err, -KC_ELIMIT, "quantity longer than %d bytes",
				  KC_QUANTITY_MAX_INPUT);
	if (strcmp(str, "0") == 0) {
		maybe_cache(q, str, 1);
		return 0;
	}

	/* parseQuantityString */
	size_t pos = 0;
	bool neg = false;
	if (str[0] == '-' || str[0] == '+')
		neg = str[pos++] == '-';
	bool any_digit = false;
	while (pos < end && str[pos] == '0') {
		pos++;
		any_digit = true;
	}
	size_t num = pos, num_len, den = 0, den_len = 0, suf = end;
	while (pos < end && is_digit(str[pos]))
		pos++;
	num_len = pos - num;
	any_digit |= num_len > 0;
	if (pos < end && str[pos] == '.') {
		den = ++pos;
		while (pos < end && is_digit(str[pos]))
			pos++;
		den_len = pos - den;
		any_digit |= den_len > 0;
	}
	if (pos < end) {
		suf = pos;
		while (pos < end && strchr("eEinumkKMGTP", str[pos]))
			pos++;
		if (pos < end && (str[pos] == '-' || str[pos] == '+'))
			pos++;
		while (pos < end && is_digit(str[pos]))
			pos++;
		if (pos < end) {
			memset(q, 0, sizeof *q);
			return kc_err_set(err, -KC_EINVAL, MSG_FORMAT);
		}
	}

	int base;
	int32_t exponent;
	enum kc_quantity_format fmt;
	if (!interpret_suffix(str + suf, end - suf, &base, &exponent, &fmt))
		return kc_err_set(err, -KC_EINVAL, MSG_SUFFIX);
	q->format = fmt;

	/* the int64 fast path */
	size_t eff_num_len = num_len ? num_len : 1; /* "" counts as "0" */
	int64_t precision, scale = 0;
	int64_t mantissa = 1;
	if (base == 10) {
		scale = exponent;
		precision = 18 - (int64_t)(eff_num_len + den_len);
	} else if (den_len == 0) {
		mantissa = (int64_t)1 << exponent;
		precision = 14 - (int64_t)eff_num_len - exponent * 3 / 10;
	} else {
		precision = -1;
	}
	if (precision >= 0) {
		scale -= (int64_t)den_len;
		if (scale >= -9) {
			char shifted[40];
			size_t sn = 0;
			if (num_len) {
				memcpy(shifted, str + num, num_len);
				sn = num_len;
			} else {
				shifted[sn++] = '0';
			}
			memcpy(shifted + sn, str + den, den_len);
			sn += den_len;
			shifted[sn] = '\0';
			int64_t value = 0;
			for (size_t i = 0; i < sn; i++)
				value = value * 10 + (shifted[i] - '0');
			int64_t result;
			if (!__builtin_mul_overflow(value, mantissa, &result)) {
				int rc = store(q, neg ? -(__int128)result : result, scale, err);
				if (rc) {
					memset(q, 0, sizeof *q);
					return rc;
				}
				bool canonical;
				if (fmt == KC_QUANTITY_BINARY_SI)
					canonical = (value & 7) != 0;
				else
					canonical = scale % 3 == 0 && shifted[0] != '0' &&
						    !(sn >= 3 &&
						      memcmp(shifted + sn - 3, "000", 3) == 0);
				if (canonical)
					maybe_cache(q, str, end);
				return 0;
			}
		}
	}

	/* the exact path (inf.Dec in Kubernetes) */
	if (!any_digit)
		return kc_err_set(err, -KC_EINVAL, MSG_NUMERIC);
	struct bigdec b = {.n = 0, .exp = -(int64_t)den_len};
	/* significant digits: skip leading zeros of num+den, then count */
	size_t total = num_len + den_len, first = 0;
	const char *digits[2] = {str + num, str + den};
	size_t lens[2] = {num_len, den_len};
#define DIGIT_AT(i) ((i) < lens[0] ? digits[0][(i)] : digits[1][(i)-lens[0]])
	while (first < total && DIGIT_AT(first) == '0')
		first++;
	size_t last = total;
	while (last > first && DIGIT_AT(last - 1) == '0') {
		last--;
		b.exp++;
	}
	if (last - first > MAX_SIG_DIGITS)
		return kc_err_set(err, -KC_ELIMIT, "quantity has more than %d significant digits",
				  MAX_SIG_DIGITS);
	for (size_t i = last; i-- > first;)
		b.d[b.n++] = (uint8_t)(DIGIT_AT(i) - '0');
#undef DIGIT_AT
	if (b.n == 0)
		b.exp = 0;
	if (base == 10)
		b.exp += exponent;
	else
		for (int32_t i = 0; i < exponent && b.n; i++)
			big_mul2(&b);
	big_trim(&b);
	big_round_nano(&b);
	if (fmt == KC_QUANTITY_BINARY_SI) {
		if (big_cmp_int(&b, (uint64_t)INT64_MAX) > 0)
			big_set_int(&b, (uint64_t)INT64_MAX);
		if (b.n && big_cmp_int(&b, 1) < 0)
			q->format = KC_QUANTITY_DECIMAL_SI;
	}
	big_trim(&b);
	if (b.n > KC_QUANTITY_MAX_DIGITS) {
		memset(q, 0, sizeof *q);
		return kc_err_set(err, -KC_ELIMIT, "quantity needs more than %d significant digits",
				  KC_QUANTITY_MAX_DIGITS);
	}
	__int128 mant = 0;
	for (size_t i = b.n; i-- > 0;)
		mant = mant * 10 + b.d[i];
	int rc = store(q, neg ? -mant : mant, b.exp, err);
	if (rc)
		memset(q, 0, sizeof *q);
	return rc;
}

int kc_quantity_from_json(const cJSON *v, struct kc_quantity *q, struct kc_err *err)
{
	if (cJSON_IsNumber(v)) {
		char buf[KC_JSON_NUMBUF];
		kc_json_format_number(v->valuedouble, buf);
		return kc_quantity_parse(buf, q, err);
	}
	if (!cJSON_IsString(v) || !v->valuestring) {
		memset(q, 0, sizeof *q);
		return kc_err_set(err, -KC_EINVAL, "quantity must be a string or a number");
	}
	const char *s = v->valuestring;
	size_t n = strlen(s);
	while (n && strchr(" \t\n\v\f\r", s[0])) {
		s++;
		n--;
	}
	while (n && strchr(" \t\n\v\f\r", s[n - 1]))
		n--;
	if (n > KC_QUANTITY_MAX_INPUT) {
		memset(q, 0, sizeof *q);
		return kc_err_set(err, -KC_ELIMIT, "quantity longer than %d bytes",
				  KC_QUANTITY_MAX_INPUT);
	}
	char buf[KC_QUANTITY_MAX_INPUT + 1];
	memcpy(buf, s, n);
	buf[n] = '\0';
	return kc_quantity_parse(buf, q, err);
}

void kc_quantity_make(struct kc_quantity *q, int64_t value, int32_t exp10,
		      enum kc_quantity_format format)
{
	memset(q, 0, sizeof *q);
	__int128 m = value;
	int64_t e = exp10;
	normalize(&m, &e);
	q->format = format;
	if (e > INT32_MAX) { /* only reachable with absurd inputs: keep the value unnormalized */
		q->mant = value;
		q->exp = exp10;
		return;
	}
	q->mant = m;
	q->exp = (int32_t)e;
}

/* mant * 10^(exp - scale), rounded away from zero, into an int64. */
static int scaled(const struct kc_quantity *q, int scale, int64_t *out)
{
	bool neg = q->mant < 0;
	u128 m = uabs(q->mant);
	int64_t shift = (int64_t)q->exp - scale;
	u128 v;
	if (m == 0) {
		*out = 0;
		return 0;
	}
	if (shift >= 0) {
		if (shift > 38 || m > ((u128)1 << 64) / pow10u((unsigned)shift))
			goto overflow;
		v = m * pow10u((unsigned)shift);
	} else if (-shift > 38) {
		v = 1;
	} else {
		u128 p = pow10u((unsigned)-shift);
		v = m / p + (m % p != 0);
	}
	if (neg ? v > (u128)INT64_MAX + 1 : v > (u128)INT64_MAX)
		goto overflow;
	*out = neg ? (int64_t)((u128)0 - v) : (int64_t)v;
	return 0;
overflow:
	*out = neg ? INT64_MIN : INT64_MAX;
	return -ERANGE;
}

int kc_quantity_value(const struct kc_quantity *q, int64_t *out)
{
	return scaled(q, 0, out);
}

int kc_quantity_milli(const struct kc_quantity *q, int64_t *out)
{
	return scaled(q, -3, out);
}

static size_t write_u128(char *buf, u128 v)
{
	char tmp[48];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

size_t kc_quantity_format(const struct kc_quantity *q, char *buf)
{
	if (q->orig[0]) {
		size_t n = strlen(q->orig);
		memcpy(buf, q->orig, n + 1);
		return n;
	}
	if (q->mant == 0) {
		memcpy(buf, "0", 2);
		return 1;
	}
	__int128 mant = q->mant;
	int64_t exp = q->exp;
	normalize(&mant, &exp);
	u128 m = uabs(mant);
	size_t n = 0;
	if (mant < 0)
		buf[n++] = '-';

	enum kc_quantity_format fmt = q->format;
	if (fmt == KC_QUANTITY_BINARY_SI) {
		/* |q| < 1024, a fraction, or too large to write as one integer: DecimalSI */
		if (exp < 0 || exp > 38 || ndigits(m) + (unsigned)exp > 38 ||
		    m * pow10u((unsigned)exp) < 1024) {
			fmt = KC_QUANTITY_DECIMAL_SI;
		} else {
			u128 v = m * pow10u((unsigned)exp);
			unsigned k = 0;
			while (k < 6 && v % 1024 == 0) {
				v /= 1024;
				k++;
			}
			n += write_u128(buf + n, v);
			size_t sl = strlen(bin_suffixes[k]);
			memcpy(buf + n, bin_suffixes[k], sl + 1);
			return n + sl;
		}
	}
	/* exponent down to a multiple of three (Go's % truncates, as C's does) */
	switch (exp % 3) {
	case 1:
	case -2:
		m *= 10;
		exp -= 1;
		break;
	case 2:
	case -1:
		m *= 100;
		exp -= 2;
		break;
	}
	n += write_u128(buf + n, m);
	if (fmt == KC_QUANTITY_DECIMAL_SI) {
		for (size_t i = 0; i < sizeof dec_suffixes / sizeof dec_suffixes[0]; i++) {
			if (dec_suffixes[i].exp == exp) {
				size_t sl = strlen(dec_suffixes[i].s);
				memcpy(buf + n, dec_suffixes[i].s, sl + 1);
				return n + sl;
			}
		}
	}
	if (exp == 0) {
		buf[n] = '\0';
		return n;
	}
	n += (size_t)snprintf(buf + n, KC_QUANTITY_STRMAX - n, "e%lld", (long long)exp);
	return n;
}

int kc_quantity_sign(const struct kc_quantity *q)
{
	return q->mant < 0 ? -1 : q->mant > 0;
}

bool kc_quantity_is_zero(const struct kc_quantity *q)
{
	return q->mant == 0;
}

/* Both normalized magnitudes compared: -1, 0, 1. */
static int cmp_mag(u128 ma, int64_t ea, u128 mb, int64_t eb)
{
	int64_t oa = (int64_t)ndigits(ma) + ea, ob = (int64_t)ndigits(mb) + eb;
	if (oa != ob)
		return oa < ob ? -1 : 1;
	/* same order of magnitude: scale the one with the larger exponent (fits: <= 38 digits) */
	if (ea > eb)
		ma *= pow10u((unsigned)(ea - eb));
	else if (eb > ea)
		mb *= pow10u((unsigned)(eb - ea));
	return ma < mb ? -1 : ma > mb;
}

int kc_quantity_cmp(const struct kc_quantity *a, const struct kc_quantity *b)
{
	int sa = kc_quantity_sign(a), sb = kc_quantity_sign(b);
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	__int128 ma = a->mant, mb = b->mant;
	int64_t ea = a->exp, eb = b->exp;
	normalize(&ma, &ea);
	normalize(&mb, &eb);
	int c = cmp_mag(uabs(ma), ea, uabs(mb), eb);
	return sa > 0 ? c : -c;
}

int kc_quantity_add(const struct kc_quantity *a, const struct kc_quantity *b,
		    struct kc_quantity *out)
{
	__int128 ma = a->mant, mb = b->mant;
	int64_t ea = a->exp, eb = b->exp;
	normalize(&ma, &ea);
	normalize(&mb, &eb);
	enum kc_quantity_format fmt = a->format;
	if (mb == 0) {
		mb = ma;
		eb = ea;
		ma = 0;
	}
	if (ma == 0) {
		memset(out, 0, sizeof *out);
		out->mant = mb;
		out->exp = (int32_t)eb;
		out->format = fmt;
		return 0;
	}
	int64_t e = ea < eb ? ea : eb;
	/* both aligned to e must stay within 37 digits so that the sum fits */
	if (ea - e > 37 || ndigits(uabs(ma)) + (unsigned)(ea - e) > 37 || eb - e > 37 ||
	    ndigits(uabs(mb)) + (unsigned)(eb - e) > 37)
		return -ERANGE;
	__int128 sum = ma * (__int128)pow10u((unsigned)(ea - e)) +
		       mb * (__int128)pow10u((unsigned)(eb - e));
	normalize(&sum, &e);
	if ((sum != 0 && ndigits(uabs(sum)) > KC_QUANTITY_MAX_DIGITS) || e > INT32_MAX ||
	    e < INT32_MIN)
		return -ERANGE;
	memset(out, 0, sizeof *out);
	out->mant = sum;
	out->exp = (int32_t)e;
	out->format = fmt;
	return 0;
}
