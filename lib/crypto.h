/* crypto.h - hashing (SHA-256, HMAC-SHA256), constant-time comparison, hex, and randomness:
 * the kernel's getrandom for secrets, a process-wide DRBG for mbedTLS, and a rand ops struct
 * with a deterministic fake for tests. */
#ifndef KC_LIB_CRYPTO_H
#define KC_LIB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/sha256.h>

#define KC_SHA256_LEN 32
/* Length of a SHA-256 digest in hex, without the NUL. */
#define KC_SHA256_HEX_LEN 64

/* One-shot SHA-256 of n bytes at data (data may be NULL when n == 0). */
void kc_sha256(const void *data, size_t n, uint8_t out[KC_SHA256_LEN]);

/* Streaming SHA-256, a small value type: init, update any number of times, final once.
 * Final wipes the state; init again to reuse. Not shared between threads. */
struct kc_sha256 {
	mbedtls_sha256_context ctx;
};
void kc_sha256_init(struct kc_sha256 *h);
void kc_sha256_update(struct kc_sha256 *h, const void *data, size_t n);
void kc_sha256_final(struct kc_sha256 *h, uint8_t out[KC_SHA256_LEN]);

/* One-shot HMAC-SHA256 (RFC 2104) with a key of any length. */
void kc_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
		    uint8_t out[KC_SHA256_LEN]);

/* Compares n bytes in time that depends only on n, never on the contents (for MACs, tokens). */
bool kc_ct_equal(const void *a, const void *b, size_t n);

/* Writes 2n lowercase hex digits and a NUL into out, which holds at least 2n + 1 bytes. */
void kc_hex_encode(const void *data, size_t n, char *out);
/* Decodes exactly 2n hex digits (either case) from hex into n bytes at out. Returns 0, or
 * -KC_EPARSE when strlen(hex) != 2n or a character is not a hex digit (out is then undefined). */
int kc_hex_decode(const char *hex, void *out, size_t n);

/* Fills buf with n bytes from the kernel CSPRNG (getrandom(2), retried on EINTR and short
 * reads; blocks only until the kernel pool is first initialised at boot). Thread-safe.
 * Returns 0, or -errno when the kernel refuses (ENOSYS on kernels older than 3.17). */
int kc_random_bytes(void *buf, size_t n);

/* The process-wide CTR-DRBG, seeded from getrandom on first use and reseeded after fork(),
 * shaped as mbedTLS's f_rng so it can be passed with a NULL p_rng to mbedtls_ssl_conf_rng,
 * key generation and signing. Thread-safe (one internal mutex). Returns 0, or an mbedTLS
 * error code (negative) when seeding failed. */
int kc_crypto_rng(void *unused, unsigned char *out, size_t len);

/* Randomness behind an ops struct, for code that makes random choices (election timeouts,
 * jitter, generated names) and must run deterministically in tests. The real source is
 * getrandom-backed and fit for secrets; the fake is neither secret nor thread-safe. */
struct kc_rand {
	/* Fills buf with n random bytes; returns 0 or -errno. */
	int (*bytes)(struct kc_rand *r, void *buf, size_t n);
};

/* The process-wide real source (kc_random_bytes). Thread-safe. */
struct kc_rand *kc_rand_real(void);

/* Returns a uniformly distributed value in [0, bound) from r (bound 0 returns 0). Aborts, like
 * running out of memory, if the source fails, which only a broken kernel does. */
uint64_t kc_rand_below(struct kc_rand *r, uint64_t bound);

/* A deterministic generator for tests (SplitMix64 from 'seed'); embed it and pass &fr->rand.
 * Not thread-safe, not secret. */
struct kc_fake_rand {
	struct kc_rand rand;
	uint64_t state;
};
void kc_fake_rand_init(struct kc_fake_rand *fr, uint64_t seed);

#endif
