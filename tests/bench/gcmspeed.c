/* gcmspeed.c - bulk speed of the TLS record ciphers as kc links them: AES-128-GCM,
 * AES-256-GCM (net/aes_gcm.c behind mbedTLS's cipher layer) and ChaCha20-Poly1305, sealing
 * 16 KiB records (TLS's maximum) through mbedtls_cipher_auth_encrypt_ext, as the record layer
 * does, for about a second each.
 *
 *   gcmspeed
 *
 * Output: "RESULT <cipher> <MB/s>". */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/cipher.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *name, mbedtls_cipher_type_t type, int keybits)
{
	static unsigned char in[16384], out[16384 + 16];
	unsigned char key[32] = {1, 2, 3}, iv[12] = {4}, aad[13] = {5};
	const mbedtls_cipher_info_t *info = mbedtls_cipher_info_from_type(type);
	mbedtls_cipher_context_t c;
	mbedtls_cipher_init(&c);
	if (!info || mbedtls_cipher_setup(&c, info) != 0 ||
	    mbedtls_cipher_setkey(&c, key, keybits, MBEDTLS_ENCRYPT) != 0) {
		fprintf(stderr, "gcmspeed: %s: set-up failed\n", name);
		return 1;
	}
	memset(in, 0x5a, sizeof in);
	double t0 = now_s(), t;
	size_t bytes = 0;
	do {
		for (int i = 0; i < 64; i++) {
			size_t olen;
			iv[11]++;
			if (mbedtls_cipher_auth_encrypt_ext(&c, iv, sizeof iv, aad, sizeof aad, in,
							    sizeof in, out, sizeof out, &olen,
							    16) != 0) {
				fprintf(stderr, "gcmspeed: %s: encrypt failed\n", name);
				return 1;
			}
			bytes += sizeof in;
		}
		t = now_s();
	} while (t - t0 < 1.0);
	printf("RESULT %s %.0f MB/s\n", name, (double)bytes / (t - t0) / 1e6);
	mbedtls_cipher_free(&c);
	return 0;
}

int main(void)
{
	return run("AES-128-GCM", MBEDTLS_CIPHER_AES_128_GCM, 128) |
	       run("AES-256-GCM", MBEDTLS_CIPHER_AES_256_GCM, 256) |
	       run("CHACHA20-POLY1305", MBEDTLS_CIPHER_CHACHA20_POLY1305, 256);
}
