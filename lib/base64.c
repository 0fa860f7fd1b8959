/* DESIGN: base64 over kc_str. The decoder validates while it writes into space reserved up
 * front and rolls out back to its entry length on any error, so a failed decode leaves no
 * partial output. Canonical-only: padding and the unused bits of the last character are
 * checked, so an accepted encoding round-trips byte for byte. No state; reentrant. */
#include "lib/base64.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t kc_base64_encoded_len(size_t n, unsigned mode)
{
	size_t full = n / 3, rem = n % 3;
	if (full > (SIZE_MAX - 4) / 4)
		abort();
	size_t len = full * 4;
	if (rem)
		len += (mode & KC_B64_NOPAD) ? rem + 1 : 4;
	return len;
}

size_t kc_base64_decoded_max(size_t len)
{
	size_t rem = len % 4;
	return len / 4 * 3 + (rem ? rem - 1 : 0);
}

void kc_base64_encode(struct kc_str *out, const void *data, size_t n, unsigned mode)
{
	if (!n)
		return;
	const char *a = (mode & KC_B64_URL) ? url_alphabet : std_alphabet;
	size_t need = kc_base64_encoded_len(n, mode);
	kc_str_reserve(out, need);
	char *w = out->buf + out->len;
	const unsigned char *p = data;
	size_t i = 0;
	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*w++ = a[v >> 18];
		*w++ = a[v >> 12 & 63];
		*w++ = a[v >> 6 & 63];
		*w++ = a[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*w++ = a[v >> 18];
		*w++ = a[v >> 12 & 63];
		if (!(mode & KC_B64_NOPAD)) {
			*w++ = '=';
			*w++ = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*w++ = a[v >> 18];
		*w++ = a[v >> 12 & 63];
		*w++ = a[v >> 6 & 63];
		if (!(mode & KC_B64_NOPAD))
			*w++ = '=';
	}
	kc_str_setlen(out, out->len + need);
}

static int digit_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

int kc_base64_decode(struct kc_str *out, const char *in, size_t len, unsigned mode,
		     struct kc_err *err)
{
	bool url = mode & KC_B64_URL, skip_nl = mode & KC_B64_SKIP_NEWLINES;
	size_t start = out->len;
	kc_str_reserve(out, kc_base64_decoded_max(len));
	unsigned char *w = (unsigned char *)out->buf + start;
	uint32_t acc = 0;
	size_t nacc = 0, i = 0, pad_at = 0, npad = 0;
	int rc;

	for (; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (skip_nl && (c == '\n' || c == '\r'))
			continue;
		if (c == '=')
			break;
		int d = digit_value(c, url);
		if (d < 0) {
			rc = kc_err_set(err, -KC_EPARSE, "invalid base64 character at offset %zu", i);
			goto fail;
		}
		acc = acc << 6 | (uint32_t)d;
		if (++nacc == 4) {
			*w++ = (unsigned char)(acc >> 16);
			*w++ = (unsigned char)(acc >> 8);
			*w++ = (unsigned char)acc;
			acc = 0;
			nacc = 0;
		}
	}
	pad_at = i;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (skip_nl && (c == '\n' || c == '\r'))
			continue;
		if (c != '=') {
			rc = kc_err_set(err, -KC_EPARSE, "base64 data after padding at offset %zu", i);
			goto fail;
		}
		npad++;
	}
	if (nacc == 1) {
		rc = kc_err_set(err, -KC_EPARSE, "truncated base64 input (length %zu)", len);
		goto fail;
	}
	if (mode & KC_B64_NOPAD) {
		if (npad) {
			rc = kc_err_set(err, -KC_EPARSE, "unexpected base64 padding at offset %zu", pad_at);
			goto fail;
		}
	} else if (npad != (nacc ? 4 - nacc : 0)) {
		rc = kc_err_set(err, -KC_EPARSE, "incorrect base64 padding at offset %zu", pad_at);
		goto fail;
	}
	if (nacc == 2) {
		if (acc & 0xF)
			goto trailing_bits;
		*w++ = (unsigned char)(acc >> 4);
	} else if (nacc == 3) {
		if (acc & 0x3)
			goto trailing_bits;
		*w++ = (unsigned char)(acc >> 10);
		*w++ = (unsigned char)(acc >> 2);
	}
	kc_str_setlen(out, (size_t)((char *)w - out->buf));
	return 0;

trailing_bits:
	rc = kc_err_set(err, -KC_EPARSE, "non-canonical base64: unused bits set before offset %zu",
			pad_at);
fail:
	kc_str_setlen(out, start);
	return rc;
}
