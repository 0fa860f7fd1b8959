/* test_aes_gcm.c - kc's GCM behind mbedTLS (net/aes_gcm.c, MBEDTLS_GCM_ALT): mbedTLS's own
 * self-test (the test vectors of the GCM specification, as NIST publishes them), a known
 * answer, and every length, split, IV size and key size against a slow reference built here
 * from AES-ECB and the bitwise GHASH of NIST SP 800-38D. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/aes.h>
#include <mbedtls/cipher.h>
#include <mbedtls/gcm.h>

/* ---- the reference ---- */

static void ref_mul(uint8_t x[16], const uint8_t h[16])
{
	uint8_t z[16] = {0}, v[16];
	memcpy(v, h, 16);
	for (int i = 0; i < 128; i++) {
		if (x[i / 8] >> (7 - i % 8) & 1)
			for (int j = 0; j < 16; j++)
				z[j] ^= v[j];
		int lsb = v[15] & 1;
		for (int j = 15; j > 0; j--)
			v[j] = (uint8_t)(v[j] >> 1 | v[j - 1] << 7);
		v[0] >>= 1;
		if (lsb)
			v[0] ^= 0xe1;
	}
	memcpy(x, z, 16);
}

static void ref_ghash(uint8_t s[16], const uint8_t h[16], const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		for (size_t i = 0; i < 16 && off + i < n; i++)
			s[i] ^= p[off + i];
		ref_mul(s, h);
	}
}

static void ref_gcm(const uint8_t *key, unsigned bits, const uint8_t *iv, size_t ivlen,
		    const uint8_t *aad, size_t alen, const uint8_t *in, size_t n, uint8_t *out,
		    uint8_t tag[16])
{
	mbedtls_aes_context aes;
	mbedtls_aes_init(&aes);
	assert_int_equal(mbedtls_aes_setkey_enc(&aes, key, bits), 0);
	uint8_t h[16] = {0}, j0[16] = {0}, ctr[16], ks[16], s[16] = {0}, lb[16] = {0};
	mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, h, h);
	if (ivlen == 12) {
		memcpy(j0, iv, 12);
		j0[15] = 1;
	} else {
		ref_ghash(j0, h, iv, ivlen);
		uint64_t b = (uint64_t)ivlen * 8;
		for (int i = 0; i < 8; i++)
			lb[15 - i] = (uint8_t)(b >> (8 * i));
		ref_ghash(j0, h, lb, 16);
	}
	memcpy(ctr, j0, 16);
	for (size_t off = 0; off < n; off += 16) {
		for (int i = 15; i >= 12; i--)
			if (++ctr[i])
				break;
		mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, ctr, ks);
		for (size_t i = 0; i < 16 && off + i < n; i++)
			out[off + i] = in[off + i] ^ ks[i];
	}
	ref_ghash(s, h, aad, alen);
	ref_ghash(s, h, out, n);
	uint64_t a = (uint64_t)alen * 8, c = (uint64_t)n * 8;
	for (int i = 0; i < 8; i++) {
		lb[7 - i] = (uint8_t)(a >> (8 * i));
		lb[15 - i] = (uint8_t)(c >> (8 * i));
	}
	ref_ghash(s, h, lb, 16);
	mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, j0, ks);
	for (int i = 0; i < 16; i++)
		tag[i] = s[i] ^ ks[i];
	mbedtls_aes_free(&aes);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* ---- tests ---- */

static void test_self_test(void **state)
{
	(void)state;
	printf("  accelerated: %d\n", kc_gcm_accelerated());
	assert_int_equal(mbedtls_gcm_self_test(0), 0);
}

/* GCM specification test case 4 (AES-128, 60 bytes, 20 bytes of AAD), decrypt included. */
static void test_known_answer(void **state)
{
	(void)state;
	static const uint8_t key[16] = {0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c,
					0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08};
	static const uint8_t iv[12] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
				       0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
	static const uint8_t want_tag[16] = {0x5b, 0xc9, 0x4f, 0xbc, 0x32, 0x21, 0xa5, 0xdb,
					     0x94, 0xfa, 0xe9, 0x5a, 0xe7, 0x12, 0x1a, 0x47};
	static const char pt_hex[] =
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
	static const char aad_hex[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
	uint8_t pt[60], aad[20], ct[60], back[60], tag[16];
	for (size_t i = 0; i < 60; i++)
		sscanf(pt_hex + 2 * i, "%2hhx", &pt[i]);
	for (size_t i = 0; i < 20; i++)
		sscanf(aad_hex + 2 * i, "%2hhx", &aad[i]);
	mbedtls_gcm_context g;
	mbedtls_gcm_init(&g);
	assert_int_equal(mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 128), 0);
	assert_int_equal(mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, 60, iv, 12, aad, 20, pt,
						   ct, 16, tag),
			 0);
	assert_memory_equal(tag, want_tag, 16);
	assert_int_equal(ct[0], 0x42);
	assert_int_equal(ct[59], 0x91);
	assert_int_equal(mbedtls_gcm_auth_decrypt(&g, 60, iv, 12, aad, 20, tag, 16, ct, back), 0);
	assert_memory_equal(back, pt, 60);
	tag[3] ^= 1;
	assert_int_equal(mbedtls_gcm_auth_decrypt(&g, 60, iv, 12, aad, 20, tag, 16, ct, back),
			 MBEDTLS_ERR_GCM_AUTH_FAILED);
	for (size_t i = 0; i < 60; i++)
		assert_int_equal(back[i], 0); /* no unauthenticated plaintext */
	mbedtls_gcm_free(&g);
}

/* Every length up to 300 and some long ones, AES-128/192/256, several IV sizes, against the
 * reference; one-shot, split in 16-byte multiples, and in place. */
static void test_against_reference(void **state)
{
	(void)state;
	static const size_t lens[] = {1000, 1024, 4096, 16384, 16389, 65536 + 7};
	static const size_t ivlens[] = {12, 1, 8, 16, 60};
	uint8_t key[32], iv[64], aad[80];
	size_t maxn = 65536 + 7;
	uint8_t *in = malloc(maxn), *want = malloc(maxn), *got = malloc(maxn), *tmp = malloc(maxn);
	assert_non_null(in);
	assert_non_null(want);
	assert_non_null(got);
	assert_non_null(tmp);
	for (unsigned kb = 128; kb <= 256; kb += 64) {
		for (size_t t = 0; t < 300 + sizeof lens / sizeof *lens; t++) {
			size_t n = t < 300 ? t : lens[t - 300];
			size_t ivlen = ivlens[t % 5], alen = (t * 7) % 80;
			fill(key, sizeof key, (uint32_t)(t + kb));
			fill(iv, sizeof iv, (uint32_t)t * 3u);
			fill(aad, sizeof aad, (uint32_t)t * 5u);
			fill(in, n, (uint32_t)t * 11u);
			uint8_t wtag[16], gtag[16];
			ref_gcm(key, kb, iv, ivlen, aad, alen, in, n, want, wtag);
			mbedtls_gcm_context g;
			mbedtls_gcm_init(&g);
			assert_int_equal(mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, kb), 0);
			/* one shot */
			assert_int_equal(mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, n, iv,
								   ivlen, aad, alen, in, got, 16,
								   gtag),
					 0);
			if (n)
				assert_memory_equal(got, want, n);
			assert_memory_equal(gtag, wtag, 16);
			/* split into 16-byte multiples (the chunk varies), in place */
			memcpy(tmp, in, n);
			assert_int_equal(
				mbedtls_gcm_starts(&g, MBEDTLS_GCM_ENCRYPT, iv, ivlen, aad, alen),
				0);
			size_t off = 0, chunk = 16 * (1 + t % 11);
			while (n - off > chunk) {
				assert_int_equal(
					mbedtls_gcm_update(&g, chunk, tmp + off, tmp + off), 0);
				off += chunk;
			}
			assert_int_equal(mbedtls_gcm_update(&g, n - off, tmp + off, tmp + off), 0);
			assert_int_equal(mbedtls_gcm_finish(&g, gtag, 16), 0);
			if (n)
				assert_memory_equal(tmp, want, n);
			assert_memory_equal(gtag, wtag, 16);
			/* decrypt in place */
			assert_int_equal(mbedtls_gcm_auth_decrypt(&g, n, iv, ivlen, aad, alen, wtag,
								  16, tmp, tmp),
					 0);
			if (n)
				assert_memory_equal(tmp, in, n);
			mbedtls_gcm_free(&g);
		}
	}
	free(in);
	free(want);
	free(got);
	free(tmp);
}

/* The TLS way in: the cipher layer's AEAD calls (what mbedTLS's record layer uses). */
static void test_cipher_layer(void **state)
{
	(void)state;
	const mbedtls_cipher_info_t *info =
		mbedtls_cipher_info_from_type(MBEDTLS_CIPHER_AES_256_GCM);
	assert_non_null(info);
	mbedtls_cipher_context_t c;
	mbedtls_cipher_init(&c);
	uint8_t key[32], iv[12], aad[13], in[1500], out[1500 + 16], back[1500], want[1500],
		wtag[16];
	fill(key, 32, 1);
	fill(iv, 12, 2);
	fill(aad, 13, 3);
	fill(in, sizeof in, 4);
	ref_gcm(key, 256, iv, 12, aad, 13, in, sizeof in, want, wtag);
	assert_int_equal(mbedtls_cipher_setup(&c, info), 0);
	assert_int_equal(mbedtls_cipher_setkey(&c, key, 256, MBEDTLS_ENCRYPT), 0);
	size_t olen = 0;
	assert_int_equal(mbedtls_cipher_auth_encrypt_ext(&c, iv, 12, aad, 13, in, sizeof in, out,
							 sizeof out, &olen, 16),
			 0);
	assert_int_equal(olen, sizeof in + 16);
	assert_memory_equal(out, want, sizeof in);
	assert_memory_equal(out + sizeof in, wtag, 16);
	assert_int_equal(mbedtls_cipher_setkey(&c, key, 256, MBEDTLS_DECRYPT), 0);
	assert_int_equal(mbedtls_cipher_auth_decrypt_ext(&c, iv, 12, aad, 13, out, olen, back,
							 sizeof back, &olen, 16),
			 0);
	assert_memory_equal(back, in, sizeof in);
	mbedtls_cipher_free(&c);
}

/* Bad input is refused as mbedTLS's own implementation refuses it. */
static void test_bad_input(void **state)
{
	(void)state;
	uint8_t key[32] = {0}, iv[12] = {0}, buf[64] = {0}, tag[16];
	mbedtls_gcm_context g;
	mbedtls_gcm_init(&g);
	assert_int_equal(mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 100),
			 MBEDTLS_ERR_GCM_BAD_INPUT);
	assert_int_equal(mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 128), 0);
	assert_int_equal(mbedtls_gcm_starts(&g, MBEDTLS_GCM_ENCRYPT, iv, 0, NULL, 0),
			 MBEDTLS_ERR_GCM_BAD_INPUT);
	assert_int_equal(mbedtls_gcm_starts(&g, MBEDTLS_GCM_ENCRYPT, iv, 12, NULL, 0), 0);
	/* overlapping output ahead of the input */
	assert_int_equal(mbedtls_gcm_update(&g, 32, buf, buf + 1), MBEDTLS_ERR_GCM_BAD_INPUT);
	assert_int_equal(mbedtls_gcm_finish(&g, tag, 3), MBEDTLS_ERR_GCM_BAD_INPUT);
	assert_int_equal(mbedtls_gcm_finish(&g, tag, 17), MBEDTLS_ERR_GCM_BAD_INPUT);
	mbedtls_gcm_free(&g);
	mbedtls_gcm_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_test),	  cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_against_reference), cmocka_unit_test(test_cipher_layer),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
