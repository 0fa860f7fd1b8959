/* Unit tests for lib/base64: RFC 4648 vectors in every mode, strict decoding, round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/base64.h"
#include "lib/str.h"

static void encodes_to(const void *data, size_t n, unsigned mode, const char *want)
{
	struct kc_str out = KC_STR_INIT;
	kc_base64_encode(&out, data, n, mode);
	assert_string_equal(out.buf, want);
	assert_int_equal(out.len, strlen(want));
	assert_int_equal(kc_base64_encoded_len(n, mode), strlen(want));
	kc_str_free(&out);
}

static void decodes_to(const char *in, unsigned mode, const void *want, size_t n)
{
	struct kc_str out = KC_STR_INIT;
	struct kc_err err = { 0 };
	int rc = kc_base64_decode(&out, in, strlen(in), mode, &err);
	if (rc)
		fail_msg("decoding \"%s\" (mode %u) failed: %s", in, mode, err.msg);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.buf, want, n);
	assert_true(out.len <= kc_base64_decoded_max(strlen(in)));
	kc_str_free(&out);
}

static void rejects(const char *in, unsigned mode, const char *msg)
{
	struct kc_str out = KC_STR_INIT;
	struct kc_err err = { 0 };
	kc_str_adds(&out, "keep");
	int rc = kc_base64_decode(&out, in, strlen(in), mode, &err);
	if (rc != -KC_EPARSE)
		fail_msg("\"%s\" (mode %u) was accepted", in, mode);
	assert_string_equal(out.buf, "keep"); /* nothing partial left behind */
	if (msg)
		assert_string_equal(err.msg, msg);
	kc_str_free(&out);
}

static void test_rfc4648_vectors(void **state)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *padded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	static const char *raw[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	for (size_t i = 0; i < 7; i++) {
		size_t n = strlen(plain[i]);
		encodes_to(plain[i], n, KC_B64_STD, padded[i]);
		encodes_to(plain[i], n, KC_B64_URL, padded[i]);
		encodes_to(plain[i], n, KC_B64_STD | KC_B64_NOPAD, raw[i]);
		encodes_to(plain[i], n, KC_B64_URL | KC_B64_NOPAD, raw[i]);
		decodes_to(padded[i], KC_B64_STD, plain[i], n);
		decodes_to(padded[i], KC_B64_URL, plain[i], n);
		decodes_to(raw[i], KC_B64_STD | KC_B64_NOPAD, plain[i], n);
		decodes_to(raw[i], KC_B64_URL | KC_B64_NOPAD, plain[i], n);
	}
}

static void test_alphabets(void **state)
{
	const unsigned char bytes[] = { 0xfb, 0xff, 0xbf, 0xfe };
	encodes_to(bytes, 4, KC_B64_STD, "+/+//g==");
	encodes_to(bytes, 4, KC_B64_URL, "-_-__g==");
	encodes_to(bytes, 4, KC_B64_URL | KC_B64_NOPAD, "-_-__g");
	decodes_to("+/+//g==", KC_B64_STD, bytes, 4);
	decodes_to("-_-__g", KC_B64_URL | KC_B64_NOPAD, bytes, 4);
	/* the other alphabet's characters are errors */
	rejects("-_-__g==", KC_B64_STD, "invalid base64 character at offset 0");
	rejects("+/+//g==", KC_B64_URL, "invalid base64 character at offset 0");
	/* a Kubernetes Secret value */
	decodes_to("c2VjcmV0LXBhc3N3b3Jk", KC_B64_STD, "secret-password", 15);
}

static void test_strict(void **state)
{
	/* padding: required, exact, only at the end */
	rejects("Zg", KC_B64_STD, "incorrect base64 padding at offset 2");
	rejects("Zg=", KC_B64_STD, "incorrect base64 padding at offset 2");
	rejects("Zg===", KC_B64_STD, NULL);
	rejects("Zm9v=", KC_B64_STD, NULL);
	rejects("Zm8==", KC_B64_STD, NULL);
	rejects("Zg==Zg==", KC_B64_STD, "base64 data after padding at offset 4");
	rejects("=", KC_B64_STD, NULL);
	rejects("====", KC_B64_STD, NULL);
	rejects("Zg==", KC_B64_STD | KC_B64_NOPAD, "unexpected base64 padding at offset 2");
	/* impossible lengths */
	rejects("Z", KC_B64_STD | KC_B64_NOPAD, "truncated base64 input (length 1)");
	rejects("Zm9vY", KC_B64_STD | KC_B64_NOPAD, NULL);
	rejects("Z===", KC_B64_STD, NULL);
	/* unused bits must be zero: one accepted spelling per byte string */
	rejects("Zh==", KC_B64_STD, "non-canonical base64: unused bits set before offset 2");
	rejects("Zm9=", KC_B64_STD, NULL);
	rejects("Zh", KC_B64_URL | KC_B64_NOPAD, NULL);
	/* garbage and whitespace */
	rejects("Zm9v!", KC_B64_STD, "invalid base64 character at offset 4");
	rejects("Zm 9v", KC_B64_STD, "invalid base64 character at offset 2");
	rejects("Zm9v\n", KC_B64_STD, NULL);
	rejects("Zm9v\t", KC_B64_STD | KC_B64_SKIP_NEWLINES, NULL);
	{
		struct kc_str out = KC_STR_INIT;
		struct kc_err err;
		assert_int_equal(kc_base64_decode(&out, "Zm9v\0Zm9v", 9, KC_B64_STD, &err), -KC_EPARSE);
		assert_string_equal(err.msg, "invalid base64 character at offset 4");
		kc_str_free(&out);
	}
	/* newlines only where asked for, anywhere including inside the padding */
	decodes_to("Zm9v\nYmFy\r\n", KC_B64_STD | KC_B64_SKIP_NEWLINES, "foobar", 6);
	decodes_to("Zm9vYg=\n=\n", KC_B64_STD | KC_B64_SKIP_NEWLINES, "foob", 4);
	decodes_to("\n\n", KC_B64_STD | KC_B64_SKIP_NEWLINES, "", 0);
	rejects("Zm9v\nYmFy", KC_B64_STD, "invalid base64 character at offset 4");
}

static void test_round_trip(void **state)
{
	unsigned char data[300];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7919 + 13);
	const unsigned modes[] = { KC_B64_STD, KC_B64_URL, KC_B64_STD | KC_B64_NOPAD,
				   KC_B64_URL | KC_B64_NOPAD };
	for (size_t m = 0; m < 4; m++) {
		for (size_t n = 0; n <= sizeof data; n += n < 10 ? 1 : 37) {
			struct kc_str enc = KC_STR_INIT, dec = KC_STR_INIT;
			struct kc_err err;
			kc_base64_encode(&enc, data, n, modes[m]);
			assert_int_equal(enc.len, kc_base64_encoded_len(n, modes[m]));
			assert_int_equal(kc_base64_decode(&dec, enc.buf, enc.len, modes[m], &err), 0);
			assert_int_equal(dec.len, n);
			if (n)
				assert_memory_equal(dec.buf, data, n);
			kc_str_free(&enc);
			kc_str_free(&dec);
		}
	}
	/* appends to what is already there */
	struct kc_str s = KC_STR_INIT;
	struct kc_err err;
	kc_str_adds(&s, "x:");
	kc_base64_encode(&s, "hi", 2, KC_B64_STD);
	assert_string_equal(s.buf, "x:aGk=");
	assert_int_equal(kc_base64_decode(&s, "aGk=", 4, KC_B64_STD, &err), 0);
	assert_string_equal(s.buf, "x:aGk=hi");
	kc_str_free(&s);
}

static void test_lengths(void **state)
{
	assert_int_equal(kc_base64_encoded_len(0, KC_B64_STD), 0);
	assert_int_equal(kc_base64_encoded_len(1, KC_B64_STD), 4);
	assert_int_equal(kc_base64_encoded_len(1, KC_B64_NOPAD), 2);
	assert_int_equal(kc_base64_encoded_len(5, KC_B64_NOPAD), 7);
	assert_int_equal(kc_base64_encoded_len(6, KC_B64_STD), 8);
	assert_int_equal(kc_base64_decoded_max(0), 0);
	assert_int_equal(kc_base64_decoded_max(4), 3);
	assert_int_equal(kc_base64_decoded_max(6), 4);
	assert_int_equal(kc_base64_decoded_max(7), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_alphabets),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
