/* Unit tests for lib/crypto: SHA-256 against the FIPS 180-2 vectors (one-shot and streamed in
 * odd chunks), HMAC-SHA256 against RFC 4231, constant-time compare, hex, getrandom, the shared
 * DRBG (large requests, many threads, reseed after fork) and the rand ops. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/err.h"

static void assert_digest_hex(const uint8_t d[KC_SHA256_LEN], const char *want)
{
	char hex[KC_SHA256_HEX_LEN + 1];
	kc_hex_encode(d, KC_SHA256_LEN, hex);
	assert_string_equal(hex, want);
}

static void test_sha256_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *msg;
		const char *digest;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
		  "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint8_t d[KC_SHA256_LEN];
		kc_sha256(v[i].msg, strlen(v[i].msg), d);
		assert_digest_hex(d, v[i].digest);
		/* the same through the streaming interface, one byte at a time */
		struct kc_sha256 h;
		kc_sha256_init(&h);
		for (size_t j = 0; v[i].msg[j]; j++)
			kc_sha256_update(&h, v[i].msg + j, 1);
		kc_sha256_final(&h, d);
		assert_digest_hex(d, v[i].digest);
	}
	/* NULL with a zero length is the empty message */
	uint8_t d[KC_SHA256_LEN];
	kc_sha256(NULL, 0, d);
	assert_digest_hex(d, v[0].digest);
}

/* One million 'a' (FIPS 180-2 appendix B.3), streamed in chunks that straddle block borders. */
static void test_sha256_million(void **state)
{
	(void)state;
	enum { TOTAL = 1000000 };
	char *chunk = xmalloc(9973);
	memset(chunk, 'a', 9973);
	struct kc_sha256 h;
	kc_sha256_init(&h);
	size_t done = 0, step = 1;
	while (done < TOTAL) {
		size_t n = step % 9973;
		if (n > TOTAL - done)
			n = TOTAL - done;
		kc_sha256_update(&h, chunk, n);
		done += n;
		step = step * 7 + 13;
	}
	uint8_t d[KC_SHA256_LEN];
	kc_sha256_final(&h, d);
	assert_digest_hex(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* init again after final: reusable */
	kc_sha256_init(&h);
	kc_sha256_update(&h, "abc", 3);
	kc_sha256_final(&h, d);
	assert_digest_hex(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	free(chunk);
}

static void test_hmac_rfc4231(void **state)
{
	(void)state;
	uint8_t key[131], data[50], mac[KC_SHA256_LEN];

	/* Test case 1 */
	memset(key, 0x0b, 20);
	kc_hmac_sha256(key, 20, "Hi There", 8, mac);
	assert_digest_hex(mac, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

	/* Test case 2: a key shorter than the output */
	kc_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
	assert_digest_hex(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

	/* Test case 3 */
	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	kc_hmac_sha256(key, 20, data, 50, mac);
	assert_digest_hex(mac, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

	/* Test case 4 */
	for (int i = 0; i < 25; i++)
		key[i] = (uint8_t)(i + 1);
	memset(data, 0xcd, 50);
	kc_hmac_sha256(key, 25, data, 50, mac);
	assert_digest_hex(mac, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

	/* Test case 6: a key longer than the block size is hashed first */
	memset(key, 0xaa, 131);
	const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	kc_hmac_sha256(key, 131, m6, strlen(m6), mac);
	assert_digest_hex(mac, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

	/* Test case 7 */
	const char *m7 = "This is a test using a larger than block-size key and a larger than "
			 "block-size data. The key needs to be hashed before being used by the "
			 "HMAC algorithm.";
	kc_hmac_sha256(key, 131, m7, strlen(m7), mac);
	assert_digest_hex(mac, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");

	/* empty key and message are accepted */
	kc_hmac_sha256(NULL, 0, NULL, 0, mac);
	assert_digest_hex(mac, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_ct_equal(void **state)
{
	(void)state;
	uint8_t a[64], b[64];
	for (int i = 0; i < 64; i++)
		a[i] = b[i] = (uint8_t)(i * 37);
	assert_true(kc_ct_equal(a, b, sizeof a));
	assert_true(kc_ct_equal(a, b, 0));
	for (int i = 0; i < 64; i++) {
		b[i] ^= 0x80;
		assert_false(kc_ct_equal(a, b, sizeof a));
		b[i] ^= 0x80;
	}
	b[63] ^= 1;
	assert_true(kc_ct_equal(a, b, 63));
	assert_false(kc_ct_equal(a, b, 64));
}

static void test_hex(void **state)
{
	(void)state;
	const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char hex[2 * sizeof bytes + 1];
	kc_hex_encode(bytes, sizeof bytes, hex);
	assert_string_equal(hex, "00017f80abff");
	kc_hex_encode(bytes, 0, hex);
	assert_string_equal(hex, "");

	uint8_t out[6];
	assert_int_equal(kc_hex_decode("00017F80ABff", out, 6), 0);
	assert_memory_equal(out, bytes, 6);
	assert_int_equal(kc_hex_decode("", out, 0), 0);
	assert_int_equal(kc_hex_decode("00017f80abf", out, 6), -KC_EPARSE);   /* short */
	assert_int_equal(kc_hex_decode("00017f80abff00", out, 6), -KC_EPARSE); /* long */
	assert_int_equal(kc_hex_decode("00017g80abff", out, 6), -KC_EPARSE);   /* bad digit */
	assert_int_equal(kc_hex_decode("0", out, 1), -KC_EPARSE);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_random_bytes(void **state)
{
	(void)state;
	uint8_t a[64] = { 0 }, b[64] = { 0 };
	assert_int_equal(kc_random_bytes(a, sizeof a), 0);
	assert_int_equal(kc_random_bytes(b, sizeof b), 0);
	assert_false(all_zero(a, sizeof a));
	assert_false(kc_ct_equal(a, b, sizeof a));
	assert_int_equal(kc_random_bytes(a, 0), 0);

	/* a big request crosses getrandom's 32 MiB-per-call cap only in theory; 1 MiB is enough
	 * to go through the short-read loop on some kernels and must succeed */
	size_t big = 1 << 20;
	uint8_t *p = xcalloc(1, big);
	assert_int_equal(kc_random_bytes(p, big), 0);
	assert_false(all_zero(p + big - 64, 64));
	free(p);
}

static void test_drbg(void **state)
{
	(void)state;
	uint8_t a[32] = { 0 }, b[32] = { 0 };
	assert_int_equal(kc_crypto_rng(NULL, a, sizeof a), 0);
	assert_int_equal(kc_crypto_rng(NULL, b, sizeof b), 0);
	assert_false(kc_ct_equal(a, b, sizeof a));
	/* more than MBEDTLS_CTR_DRBG_MAX_REQUEST (1024) in one call */
	size_t big = 5000;
	uint8_t *p = xcalloc(1, big);
	assert_int_equal(kc_crypto_rng(NULL, p, big), 0);
	assert_false(all_zero(p + big - 64, 64));
	assert_false(kc_ct_equal(p, p + 1024, 64)); /* chunks are not repeated */
	free(p);
}

static void *drbg_thread(void *arg)
{
	uint8_t *out = arg;
	for (int i = 0; i < 200; i++)
		if (kc_crypto_rng(NULL, out + (i % 8) * 16, 16) != 0)
			return (void *)1;
	return NULL;
}

static void test_drbg_threads(void **state)
{
	(void)state;
	enum { N = 4 };
	pthread_t th[N];
	uint8_t out[N][128];
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&th[i], NULL, drbg_thread, out[i]), 0);
	for (int i = 0; i < N; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			assert_false(kc_ct_equal(out[i], out[j], sizeof out[i]));
}

/* After fork() the child must not replay the parent's DRBG stream. */
static void test_drbg_fork(void **state)
{
	(void)state;
	uint8_t warm[16];
	assert_int_equal(kc_crypto_rng(NULL, warm, sizeof warm), 0);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t c[32];
		int rc = kc_crypto_rng(NULL, c, sizeof c);
		ssize_t w = write(fds[1], c, sizeof c);
		_exit(rc == 0 && w == (ssize_t)sizeof c ? 0 : 1);
	}
	uint8_t p[32], c[32];
	assert_int_equal(kc_crypto_rng(NULL, p, sizeof p), 0);
	close(fds[1]);
	size_t got = 0;
	while (got < sizeof c) {
		ssize_t r = read(fds[0], c + got, sizeof c - got);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r > 0);
		got += (size_t)r;
	}
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_false(kc_ct_equal(p, c, sizeof p));
}

static void test_rand_ops(void **state)
{
	(void)state;
	struct kc_rand *r = kc_rand_real();
	for (int i = 0; i < 1000; i++)
		assert_true(kc_rand_below(r, 7) < 7);
	assert_int_equal(kc_rand_below(r, 1), 0);
	assert_int_equal(kc_rand_below(r, 0), 0);

	struct kc_fake_rand f1, f2;
	kc_fake_rand_init(&f1, 42);
	kc_fake_rand_init(&f2, 42);
	uint8_t a[37], b[37];
	assert_int_equal(f1.rand.bytes(&f1.rand, a, sizeof a), 0);
	assert_int_equal(f2.rand.bytes(&f2.rand, b, sizeof b), 0);
	assert_memory_equal(a, b, sizeof a);
	int seen[10] = { 0 };
	for (int i = 0; i < 1000; i++) {
		uint64_t v = kc_rand_below(&f1.rand, 10);
		assert_true(v < 10);
		seen[v]++;
	}
	for (int i = 0; i < 10; i++)
		assert_true(seen[i] > 50); /* roughly uniform */
	kc_fake_rand_init(&f1, 42);
	kc_fake_rand_init(&f2, 43);
	assert_true(kc_rand_below(&f1.rand, UINT64_MAX) != kc_rand_below(&f2.rand, UINT64_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors), cmocka_unit_test(test_sha256_million),
		cmocka_unit_test(test_hmac_rfc4231),   cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_hex),            cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_drbg),           cmocka_unit_test(test_drbg_threads),
		cmocka_unit_test(test_drbg_fork),      cmocka_unit_test(test_rand_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
