/* fuzz_quantity.c - untrusted text through kc_quantity_parse. For anything accepted: the
 * serialized form is short, parses back to the same value (and serializes the same way again
 * once canonical), Value/MilliValue agree with each other, comparison is reflexive and
 * antisymmetric, and adding the negation gives zero. Rejections carry a message. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > KC_QUANTITY_MAX_INPUT + 16)
		return 0;
	char s[KC_QUANTITY_MAX_INPUT + 17];
	memcpy(s, data, size);
	s[size] = '\0';

	struct kc_quantity q;
	struct kc_err err = {0};
	int rc = kc_quantity_parse(s, &q, &err);
	if (rc) {
		check(rc == -KC_EINVAL || rc == -KC_ELIMIT);
		check(err.code == rc && err.msg[0]);
		check(kc_quantity_is_zero(&q));
		return 0;
	}
	char buf[KC_QUANTITY_STRMAX];
	size_t n = kc_quantity_format(&q, buf);
	check(n == strlen(buf) && n < KC_QUANTITY_STRMAX);

	struct kc_quantity r;
	check(kc_quantity_parse(buf, &r, &err) == 0);
	check(kc_quantity_cmp(&q, &r) == 0 && kc_quantity_cmp(&r, &q) == 0);
	/* once the text is canonical, formatting is a fixed point */
	char buf2[KC_QUANTITY_STRMAX];
	kc_quantity_format(&r, buf2);
	struct kc_quantity r2;
	check(kc_quantity_parse(buf2, &r2, &err) == 0);
	char buf3[KC_QUANTITY_STRMAX];
	kc_quantity_format(&r2, buf3);
	check(strcmp(buf2, buf3) == 0);

	int64_t v, m;
	int rv = kc_quantity_value(&q, &v), rm = kc_quantity_milli(&q, &m);
	if (rv == 0 && rm == 0) {
		/* value = ceil(milli / 1000) away from zero */
		int64_t c = m / 1000 + (m % 1000 > 0) - (m % 1000 < 0);
		check(c == v);
	}
	check(kc_quantity_sign(&q) == (rv == 0 ? (v > 0) - (v < 0) : kc_quantity_sign(&q)));

	struct kc_quantity neg = q, sum;
	neg.mant = -neg.mant;
	neg.orig[0] = '\0';
	check(kc_quantity_cmp(&q, &neg) == kc_quantity_sign(&q));
	check(kc_quantity_add(&q, &neg, &sum) == 0 && kc_quantity_is_zero(&sum));
	return 0;
}
