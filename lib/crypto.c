/* DESIGN: thin, allocation-free wrappers over mbedTLS's SHA-256 and HMAC, plus kc's randomness.
 *
 * Secrets come straight from getrandom(2). mbedTLS wants an f_rng callback for key generation,
 * ECDSA blinding and TLS handshakes; that is one process-wide CTR-DRBG seeded from getrandom.
 * It is the only mutable global here and sits behind 'drbg_mu': any thread may call
 * kc_crypto_rng. A fork() duplicates the DRBG state, so a pthread_atfork child handler marks it
 * for reseeding before the child's first draw (and the prepare/parent handlers hold the mutex
 * across fork, so the child never inherits it locked).
 *
 * The hashing functions cannot fail with the software implementation; their mbedTLS return
 * codes are checked with kc_assert so a broken build does not silently produce zero digests. */
#include "lib/crypto.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/md.h>

#include "lib/err.h"
#include "lib/log.h"

void kc_sha256(const void *data, size_t n, uint8_t out[KC_SHA256_LEN])
{
	struct kc_sha256 h;
	kc_sha256_init(&h);
	kc_sha256_update(&h, data, n);
	kc_sha256_final(&h, out);
}

void kc_sha256_init(struct kc_sha256 *h)
{
	mbedtls_sha256_init(&h->ctx);
	kc_assert(mbedtls_sha256_starts_ret(&h->ctx, 0) == 0);
}

void kc_sha256_update(struct kc_sha256 *h, const void *data, size_t n)
{
	if (n == 0)
		return;
	kc_assert(mbedtls_sha256_update_ret(&h->ctx, data, n) == 0);
}

void kc_sha256_final(struct kc_sha256 *h, uint8_t out[KC_SHA256_LEN])
{
	kc_assert(mbedtls_sha256_finish_ret(&h->ctx, out) == 0);
	mbedtls_sha256_free(&h->ctx);
}

void kc_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
		    uint8_t out[KC_SHA256_LEN])
{
	static const unsigned char empty[1];
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	kc_assert(md != NULL);
	/* mbedTLS rejects NULL pointers even with a zero length. */
	kc_assert(mbedtls_md_hmac(md, keylen ? key : empty, keylen, n ? data : empty, n, out) == 0);
}

bool kc_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *pa = a;
	const volatile unsigned char *pb = b;
	unsigned char diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(pa[i] ^ pb[i]);
	return diff == 0;
}

void kc_hex_encode(const void *data, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kc_hex_decode(const char *hex, void *out, size_t n)
{
	unsigned char *p = out;
	for (size_t i = 0; i < n; i++) {
		/* Reading pairwise stops at the NUL of a short string before running past it. */
		int hi = hex_value(hex[2 * i]);
		if (hi < 0)
			return -KC_EPARSE;
		int lo = hex_value(hex[2 * i + 1]);
		if (lo < 0)
			return -KC_EPARSE;
		p[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[2 * n] == '\0' ? 0 : -KC_EPARSE;
}

int kc_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* ---- the process-wide DRBG ---- */

static pthread_mutex_t drbg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t drbg_once = PTHREAD_ONCE_INIT;
static mbedtls_ctr_drbg_context drbg;   /* guarded by drbg_mu */
static bool drbg_seeded;                /* guarded by drbg_mu */
static bool drbg_forked;                /* guarded by drbg_mu */

static void drbg_atfork_prepare(void)
{
	pthread_mutex_lock(&drbg_mu);
}

static void drbg_atfork_parent(void)
{
	pthread_mutex_unlock(&drbg_mu);
}

static void drbg_atfork_child(void)
{
	drbg_forked = true;
	pthread_mutex_unlock(&drbg_mu);
}

static void drbg_register(void)
{
	mbedtls_ctr_drbg_init(&drbg);
	pthread_atfork(drbg_atfork_prepare, drbg_atfork_parent, drbg_atfork_child);
}

static int drbg_entropy(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	return kc_random_bytes(out, len) == 0 ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

int kc_crypto_rng(void *unused, unsigned char *out, size_t len)
{
	static const unsigned char pers[] = "kc-ctr-drbg";
	(void)unused;
	pthread_once(&drbg_once, drbg_register);
	pthread_mutex_lock(&drbg_mu);
	int ret = 0;
	if (!drbg_seeded) {
		ret = mbedtls_ctr_drbg_seed(&drbg, drbg_entropy, NULL, pers, sizeof pers - 1);
		if (ret != 0)
			goto unlock;
		drbg_seeded = true;
		drbg_forked = false;
	} else if (drbg_forked) {
		ret = mbedtls_ctr_drbg_reseed(&drbg, NULL, 0);
		if (ret != 0)
			goto unlock;
		drbg_forked = false;
	}
	while (len > 0) {
		size_t chunk =
			len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
		ret = mbedtls_ctr_drbg_random_with_add(&drbg, out, chunk, NULL, 0);
		if (ret != 0)
			goto unlock;
		out += chunk;
		len -= chunk;
	}
unlock:
	pthread_mutex_unlock(&drbg_mu);
	if (ret != 0)
		log_error("random generator failed code=-0x%04x", (unsigned)-ret);
	return ret;
}

/* ---- rand ops ---- */

static int real_bytes(struct kc_rand *r, void *buf, size_t n)
{
	(void)r;
	return kc_random_bytes(buf, n);
}

static struct kc_rand real_rand = { .bytes = real_bytes };

struct kc_rand *kc_rand_real(void)
{
	return &real_rand;
}

uint64_t kc_rand_below(struct kc_rand *r, uint64_t bound)
{
	if (bound == 0)
		return 0;
	/* Rejection sampling: values below 'floor' would make the low residues more likely. */
	uint64_t floor = -bound % bound;
	for (;;) {
		uint64_t x;
		int rc = r->bytes(r, &x, sizeof x);
		if (rc != 0) {
			log_error("random source failed err=%s", kc_strerror(rc));
			kc_assert(rc == 0);
		}
		if (x >= floor)
			return x % bound;
	}
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int fake_bytes(struct kc_rand *r, void *buf, size_t n)
{
	struct kc_fake_rand *fr = (struct kc_fake_rand *)r;
	unsigned char *p = buf;
	while (n > 0) {
		uint64_t v = splitmix64(&fr->state);
		size_t k = n < sizeof v ? n : sizeof v;
		memcpy(p, &v, k);
		p += k;
		n -= k;
	}
	return 0;
}

void kc_fake_rand_init(struct kc_fake_rand *fr, uint64_t seed)
{
	fr->rand.bytes = fake_bytes;
	fr->state = seed;
}
