/* DESIGN: GCM for mbedTLS's TLS records (MBEDTLS_GCM_ALT), because mbedTLS 2.28's own gcm.c
 * runs at ~60 MB/s on x86-64: one call through the cipher layer per 16-byte block and one
 * GHASH multiplication per block. This file keeps the mbedtls_gcm_* API and its contracts and
 * has two paths, chosen per key at mbedtls_gcm_setkey:
 *
 *  - AES-NI: AES-128 and AES-256 keys on CPUs with AES-NI, PCLMULQDQ and SSE4.1 (checked with
 *    cpuid at each setkey). Eight counter blocks are encrypted interleaved (the aesenc latency
 *    hides behind the other seven), and GHASH folds eight blocks per reduction with the
 *    precomputed powers H^1..H^8: sum(X_i * H^(9-i)) is accumulated unreduced (Karatsuba-free
 *    schoolbook, 4 carry-less multiplications per block) and reduced once. The field elements
 *    are kept byte-reflected (pshufb), with the shift-and-reduce of Intel's white paper
 *    "Intel Carry-Less Multiplication Instruction and its Usage for Computing the GCM Mode".
 *  - portable: every other cipher and key size (the cipher layer in ECB mode, as mbedTLS does)
 *    and CPUs without those instructions (also non-x86 builds); GHASH is the bitwise algorithm
 *    of NIST SP 800-38D (Algorithm 1) with masks instead of branches, so it is constant-time.
 *
 * Threads: a context belongs to one thread at a time, as in mbedTLS; nothing here is global.
 * Verified by mbedtls_gcm_self_test (the GCM specification's test vectors, one-shot and split)
 * and by tests/unit/test_aes_gcm.c (both paths against each other and against known answers). */
#include <stdint.h>
#include <string.h>

#include "mbedtls/gcm.h"
#include "mbedtls/platform_util.h"

#if defined(MBEDTLS_GCM_ALT)

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_PATH 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* ---- portable path ------------------------------------------------------------------------ */

/* x = x * H in GF(2^128), GCM bit order (bit 0 = the high bit of byte 0). */
static void gf_mul_sw(const mbedtls_gcm_context *ctx, unsigned char x[16])
{
	uint64_t xh = get_be64(x), xl = get_be64(x + 8);
	uint64_t zh = 0, zl = 0, vh = ctx->hh, vl = ctx->hl;
	for (int i = 0; i < 128; i++) {
		uint64_t bit = i < 64 ? xh >> (63 - i) : xl >> (127 - i);
		uint64_t m = (uint64_t)0 - (bit & 1);
		zh ^= vh & m;
		zl ^= vl & m;
		uint64_t r = (uint64_t)0 - (vl & 1);
		vl = vl >> 1 | vh << 63;
		vh = vh >> 1 ^ (0xe100000000000000ull & r);
	}
	put_be64(x, zh);
	put_be64(x + 8, zl);
}

static void ghash_sw(const mbedtls_gcm_context *ctx, unsigned char state[16],
		     const unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t n = len < 16 ? len : 16;
		for (size_t i = 0; i < n; i++)
			state[i] ^= p[i];
		gf_mul_sw(ctx, state);
		p += n;
		len -= n;
	}
}

static int block_sw(mbedtls_gcm_context *ctx, const unsigned char in[16], unsigned char out[16])
{
	size_t olen = 0;
	return mbedtls_cipher_update(&ctx->cipher_ctx, in, 16, out, &olen);
}

static void inc32(unsigned char y[16])
{
	for (int i = 16; i > 12; i--)
		if (++y[i - 1] != 0)
			break;
}

static int update_sw(mbedtls_gcm_context *ctx, size_t length, const unsigned char *in,
		     unsigned char *out)
{
	unsigned char ectr[16];
	while (length > 0) {
		size_t n = length < 16 ? length : 16;
		inc32(ctx->y);
		int ret = block_sw(ctx, ctx->y, ectr);
		if (ret != 0)
			return ret;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = in[i];
			out[i] = ectr[i] ^ c;
			ctx->buf[i] ^= ctx->mode == MBEDTLS_GCM_ENCRYPT ? out[i] : c;
		}
		gf_mul_sw(ctx, ctx->buf);
		in += n;
		out += n;
		length -= n;
	}
	mbedtls_platform_zeroize(ectr, sizeof ectr);
	return 0;
}

/* ---- AES-NI + PCLMULQDQ path -------------------------------------------------------------- */

#ifdef HAVE_X86_PATH
#define X86_TARGET __attribute__((target("aes,pclmul,sse2,ssse3,sse4.1")))

static int cpu_fast(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return (c & bit_AES) && (c & bit_PCLMUL) && (c & bit_SSSE3) && (c & bit_SSE4_1);
}

X86_TARGET static inline __m128i bswap128(__m128i x)
{
	return _mm_shuffle_epi8(x,
				_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* lo/mid/hi += a * b, unreduced (the middle term not yet split). */
X86_TARGET static inline void clmul_acc(__m128i a, __m128i b, __m128i *lo, __m128i *mid,
					__m128i *hi)
{
	*lo = _mm_xor_si128(*lo, _mm_clmulepi64_si128(a, b, 0x00));
	*hi = _mm_xor_si128(*hi, _mm_clmulepi64_si128(a, b, 0x11));
	*mid = _mm_xor_si128(*mid, _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10),
						 _mm_clmulepi64_si128(a, b, 0x01)));
}

/* The 256-bit product (lo, mid, hi) of byte-reflected operands, shifted left by one bit (the
 * reflected product is one bit short) and reduced modulo x^128 + x^7 + x^2 + x + 1. */
X86_TARGET static inline __m128i gf_reduce(__m128i lo, __m128i mid, __m128i hi)
{
	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
	__m128i clo = _mm_srli_epi32(lo, 31), chi = _mm_srli_epi32(hi, 31);
	lo = _mm_slli_epi32(lo, 1);
	hi = _mm_slli_epi32(hi, 1);
	__m128i top = _mm_srli_si128(clo, 12);
	chi = _mm_slli_si128(chi, 4);
	clo = _mm_slli_si128(clo, 4);
	lo = _mm_or_si128(lo, clo);
	hi = _mm_or_si128(_mm_or_si128(hi, chi), top);
	__m128i a = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)),
				  _mm_slli_epi32(lo, 25));
	__m128i b = _mm_srli_si128(a, 4);
	lo = _mm_xor_si128(lo, _mm_slli_si128(a, 12));
	__m128i d = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
				  _mm_srli_epi32(lo, 7));
	lo = _mm_xor_si128(lo, _mm_xor_si128(d, b));
	return _mm_xor_si128(hi, lo);
}

X86_TARGET static inline __m128i gf_mul(__m128i a, __m128i b)
{
	__m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
	clmul_acc(a, b, &lo, &mid, &hi);
	return gf_reduce(lo, mid, hi);
}

X86_TARGET static inline __m128i hpow(const mbedtls_gcm_context *ctx, int i)
{
	return _mm_loadu_si128((const __m128i *)(const void *)ctx->hpow[i - 1]);
}

/* state (reflected) absorbs n bytes, zero-padding a partial last block. */
X86_TARGET static __m128i ghash_x86(const mbedtls_gcm_context *ctx, __m128i x,
				    const unsigned char *p, size_t n)
{
	__m128i h1 = hpow(ctx, 1);
	while (n >= 128) {
		__m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
		for (int i = 0; i < 8; i++) {
			__m128i c = bswap128(
				_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)));
			if (i == 0)
				c = _mm_xor_si128(c, x);
			clmul_acc(c, hpow(ctx, 8 - i), &lo, &mid, &hi);
		}
		x = gf_reduce(lo, mid, hi);
		p += 128;
		n -= 128;
	}
	while (n > 0) {
		unsigned char blk[16] = {0};
		size_t k = n < 16 ? n : 16;
		memcpy(blk, p, k);
		x = gf_mul(
			_mm_xor_si128(x, bswap128(_mm_loadu_si128((const __m128i *)(void *)blk))),
			h1);
		p += k;
		n -= k;
	}
	return x;
}

X86_TARGET static inline __m128i aes_block(const mbedtls_gcm_context *ctx, __m128i b)
{
	const __m128i *rk = (const __m128i *)(const void *)ctx->rk;
	b = _mm_xor_si128(b, _mm_loadu_si128(rk));
	for (int r = 1; r < ctx->nr; r++)
		b = _mm_aesenc_si128(b, _mm_loadu_si128(rk + r));
	return _mm_aesenclast_si128(b, _mm_loadu_si128(rk + ctx->nr));
}

X86_TARGET static inline __m128i key_step(__m128i k, __m128i t)
{
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	return _mm_xor_si128(k, t);
}

#define K128(i, rcon)                                                                              \
	rk[i] = key_step(rk[(i)-1],                                                                \
			 _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i)-1], rcon), 0xff))
#define K256(i, rcon)                                                                              \
	do {                                                                                       \
		rk[i] = key_step(                                                                  \
			rk[(i)-2],                                                                 \
			_mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i)-1], rcon), 0xff));      \
		if ((i) + 1 < 15)                                                                  \
			rk[(i) + 1] = key_step(                                                    \
				rk[(i)-1],                                                         \
				_mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i], 0), 0xaa));     \
	} while (0)

X86_TARGET static void setkey_x86(mbedtls_gcm_context *ctx, const unsigned char *key,
				  unsigned keybits)
{
	__m128i rk[15];
	rk[0] = _mm_loadu_si128((const __m128i *)(const void *)key);
	if (keybits == 128) {
		ctx->nr = 10;
		K128(1, 0x01);
		K128(2, 0x02);
		K128(3, 0x04);
		K128(4, 0x08);
		K128(5, 0x10);
		K128(6, 0x20);
		K128(7, 0x40);
		K128(8, 0x80);
		K128(9, 0x1b);
		K128(10, 0x36);
	} else {
		ctx->nr = 14;
		rk[1] = _mm_loadu_si128((const __m128i *)(const void *)(key + 16));
		K256(2, 0x01);
		K256(4, 0x02);
		K256(6, 0x04);
		K256(8, 0x08);
		K256(10, 0x10);
		K256(12, 0x20);
		K256(14, 0x40);
	}
	for (int i = 0; i <= ctx->nr; i++)
		_mm_storeu_si128((__m128i *)(void *)ctx->rk[i], rk[i]);
	__m128i h = bswap128(aes_block(ctx, _mm_setzero_si128()));
	__m128i p = h;
	for (int i = 0; i < 8; i++) {
		_mm_storeu_si128((__m128i *)(void *)ctx->hpow[i], p);
		p = gf_mul(p, h);
	}
	mbedtls_platform_zeroize(rk, sizeof rk);
}

X86_TARGET static void encrypt_block_x86(const mbedtls_gcm_context *ctx, const unsigned char in[16],
					 unsigned char out[16])
{
	__m128i b = aes_block(ctx, _mm_loadu_si128((const __m128i *)(const void *)in));
	_mm_storeu_si128((__m128i *)(void *)out, b);
}

X86_TARGET static void ghash_bytes_x86(const mbedtls_gcm_context *ctx, unsigned char state[16],
				       const unsigned char *p, size_t n)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)state);
	x = ghash_x86(ctx, x, p, n);
	_mm_storeu_si128((__m128i *)(void *)state, x);
}

X86_TARGET static void update_x86(mbedtls_gcm_context *ctx, size_t length, const unsigned char *in,
				  unsigned char *out)
{
	const __m128i *rk = (const __m128i *)(const void *)ctx->rk;
	const int nr = ctx->nr;
	const int enc = ctx->mode == MBEDTLS_GCM_ENCRYPT;
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)ctx->buf);
	__m128i base = _mm_loadu_si128((const __m128i *)(const void *)ctx->y);
	uint32_t ctr = (uint32_t)ctx->y[12] << 24 | (uint32_t)ctx->y[13] << 16 |
		       (uint32_t)ctx->y[14] << 8 | ctx->y[15];
	while (length >= 128) {
		__m128i b[8], c[8];
		__m128i k = _mm_loadu_si128(rk);
		for (int i = 0; i < 8; i++) {
			b[i] = _mm_insert_epi32(base, (int)__builtin_bswap32(ctr + 1 + (uint32_t)i),
						3);
			b[i] = _mm_xor_si128(b[i], k);
		}
		ctr += 8;
		for (int r = 1; r < nr; r++) {
			k = _mm_loadu_si128(rk + r);
			for (int i = 0; i < 8; i++)
				b[i] = _mm_aesenc_si128(b[i], k);
		}
		k = _mm_loadu_si128(rk + nr);
		for (int i = 0; i < 8; i++) {
			__m128i t = _mm_loadu_si128((const __m128i *)(const void *)(in + 16 * i));
			__m128i o = _mm_xor_si128(_mm_aesenclast_si128(b[i], k), t);
			c[i] = enc ? o : t;
			_mm_storeu_si128((__m128i *)(void *)(out + 16 * i), o);
		}
		__m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
		for (int i = 0; i < 8; i++) {
			__m128i v = bswap128(c[i]);
			if (i == 0)
				v = _mm_xor_si128(v, x);
			clmul_acc(v, hpow(ctx, 8 - i), &lo, &mid, &hi);
		}
		x = gf_reduce(lo, mid, hi);
		in += 128;
		out += 128;
		length -= 128;
	}
	__m128i h1 = hpow(ctx, 1);
	while (length > 0) {
		size_t n = length < 16 ? length : 16;
		ctr++;
		__m128i ks = aes_block(ctx, _mm_insert_epi32(base, (int)__builtin_bswap32(ctr), 3));
		unsigned char ksb[16], blk[16] = {0};
		_mm_storeu_si128((__m128i *)(void *)ksb, ks);
		for (size_t i = 0; i < n; i++) {
			unsigned char t = in[i];
			out[i] = (unsigned char)(t ^ ksb[i]);
			blk[i] = enc ? out[i] : t;
		}
		x = gf_mul(
			_mm_xor_si128(x, bswap128(_mm_loadu_si128((const __m128i *)(void *)blk))),
			h1);
		mbedtls_platform_zeroize(ksb, sizeof ksb);
		in += n;
		out += n;
		length -= n;
	}
	_mm_storeu_si128((__m128i *)(void *)ctx->buf, x);
	ctx->y[12] = (unsigned char)(ctr >> 24);
	ctx->y[13] = (unsigned char)(ctr >> 16);
	ctx->y[14] = (unsigned char)(ctr >> 8);
	ctx->y[15] = (unsigned char)ctr;
}
#endif /* HAVE_X86_PATH */

/* ---- the mbedtls_gcm_* API ---------------------------------------------------------------- */

int kc_gcm_accelerated(void)
{
#ifdef HAVE_X86_PATH
	return cpu_fast();
#else
	return 0;
#endif
}

void mbedtls_gcm_init(mbedtls_gcm_context *ctx)
{
	memset(ctx, 0, sizeof *ctx);
}

int mbedtls_gcm_setkey(mbedtls_gcm_context *ctx, mbedtls_cipher_id_t cipher,
		       const unsigned char *key, unsigned int keybits)
{
	if (!ctx || !key || (keybits != 128 && keybits != 192 && keybits != 256))
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	const mbedtls_cipher_info_t *info =
		mbedtls_cipher_info_from_values(cipher, (int)keybits, MBEDTLS_MODE_ECB);
	if (!info || info->block_size != 16)
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	mbedtls_cipher_free(&ctx->cipher_ctx);
	mbedtls_platform_zeroize(ctx->rk, sizeof ctx->rk);
	mbedtls_platform_zeroize(ctx->hpow, sizeof ctx->hpow);
	ctx->nr = 0;
#ifdef HAVE_X86_PATH
	if (cipher == MBEDTLS_CIPHER_ID_AES && keybits != 192 && cpu_fast()) {
		setkey_x86(ctx, key, keybits);
		return 0;
	}
#endif
	int ret;
	if ((ret = mbedtls_cipher_setup(&ctx->cipher_ctx, info)) != 0 ||
	    (ret = mbedtls_cipher_setkey(&ctx->cipher_ctx, key, (int)keybits, MBEDTLS_ENCRYPT)) !=
		    0)
		return ret;
	unsigned char h[16] = {0};
	if ((ret = block_sw(ctx, h, h)) != 0)
		return ret;
	ctx->hh = get_be64(h);
	ctx->hl = get_be64(h + 8);
	mbedtls_platform_zeroize(h, sizeof h);
	return 0;
}

static int encrypt_block(mbedtls_gcm_context *ctx, const unsigned char in[16],
			 unsigned char out[16])
{
#ifdef HAVE_X86_PATH
	if (ctx->nr) {
		encrypt_block_x86(ctx, in, out);
		return 0;
	}
#endif
	return block_sw(ctx, in, out);
}

static void ghash_bytes(mbedtls_gcm_context *ctx, unsigned char state[16], const unsigned char *p,
			size_t n)
{
#ifdef HAVE_X86_PATH
	if (ctx->nr)
		return ghash_bytes_x86(ctx, state, p, n);
#endif
	ghash_sw(ctx, state, p, n);
}

int mbedtls_gcm_starts(mbedtls_gcm_context *ctx, int mode, const unsigned char *iv, size_t iv_len,
		       const unsigned char *add, size_t add_len)
{
	if (!ctx || !iv || (add_len && !add))
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	/* IV and AD are limited to 2^64 bits; the IV must not be empty */
	if (iv_len == 0 || (uint64_t)iv_len >> 61 != 0 || (uint64_t)add_len >> 61 != 0)
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	memset(ctx->y, 0, sizeof ctx->y);
	memset(ctx->buf, 0, sizeof ctx->buf);
	ctx->mode = mode;
	ctx->len = 0;
	ctx->add_len = add_len;
	if (iv_len == 12) {
		memcpy(ctx->y, iv, 12);
		ctx->y[15] = 1;
	} else {
		/* J0 = GHASH(IV || 0-pad || [0]64 || [len(IV) in bits]64) */
		unsigned char lenblk[16] = {0};
		put_be64(lenblk + 8, (uint64_t)iv_len * 8);
		ghash_bytes(ctx, ctx->y, iv, iv_len);
		ghash_bytes(ctx, ctx->y, lenblk, 16);
#ifdef HAVE_X86_PATH
		if (ctx->nr) { /* the x86 GHASH state is byte-reflected */
			unsigned char t[16];
			for (int i = 0; i < 16; i++)
				t[i] = ctx->y[15 - i];
			memcpy(ctx->y, t, 16);
		}
#endif
	}
	int ret = encrypt_block(ctx, ctx->y, ctx->base_ectr);
	if (ret != 0)
		return ret;
	ghash_bytes(ctx, ctx->buf, add, add_len);
	return 0;
}

int mbedtls_gcm_update(mbedtls_gcm_context *ctx, size_t length, const unsigned char *input,
		       unsigned char *output)
{
	if (!ctx || (length && (!input || !output)))
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	if (output > input && (size_t)(output - input) < length)
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	/* at most 2^36 - 32 bytes of text per message */
	if (ctx->len + length < ctx->len || (uint64_t)ctx->len + length > 0xFFFFFFFE0ull)
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	ctx->len += length;
#ifdef HAVE_X86_PATH
	if (ctx->nr) {
		update_x86(ctx, length, input, output);
		return 0;
	}
#endif
	return update_sw(ctx, length, input, output);
}

int mbedtls_gcm_finish(mbedtls_gcm_context *ctx, unsigned char *tag, size_t tag_len)
{
	if (!ctx || !tag || tag_len > 16 || tag_len < 4)
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	unsigned char lenblk[16], s[16];
	put_be64(lenblk, ctx->add_len * 8);
	put_be64(lenblk + 8, ctx->len * 8);
	ghash_bytes(ctx, ctx->buf, lenblk, 16);
	memcpy(s, ctx->buf, 16);
#ifdef HAVE_X86_PATH
	if (ctx->nr)
		for (int i = 0; i < 16; i++)
			s[i] = ctx->buf[15 - i];
#endif
	for (size_t i = 0; i < tag_len; i++)
		tag[i] = ctx->base_ectr[i] ^ s[i];
	mbedtls_platform_zeroize(s, sizeof s);
	return 0;
}

int mbedtls_gcm_crypt_and_tag(mbedtls_gcm_context *ctx, int mode, size_t length,
			      const unsigned char *iv, size_t iv_len, const unsigned char *add,
			      size_t add_len, const unsigned char *input, unsigned char *output,
			      size_t tag_len, unsigned char *tag)
{
	int ret;
	if ((ret = mbedtls_gcm_starts(ctx, mode, iv, iv_len, add, add_len)) != 0 ||
	    (ret = mbedtls_gcm_update(ctx, length, input, output)) != 0 ||
	    (ret = mbedtls_gcm_finish(ctx, tag, tag_len)) != 0)
		return ret;
	return 0;
}

int mbedtls_gcm_auth_decrypt(mbedtls_gcm_context *ctx, size_t length, const unsigned char *iv,
			     size_t iv_len, const unsigned char *add, size_t add_len,
			     const unsigned char *tag, size_t tag_len, const unsigned char *input,
			     unsigned char *output)
{
	unsigned char check[16];
	int ret = mbedtls_gcm_crypt_and_tag(ctx, MBEDTLS_GCM_DECRYPT, length, iv, iv_len, add,
					    add_len, input, output, tag_len, check);
	if (ret != 0)
		return ret;
	int diff = 0; /* constant time */
	for (size_t i = 0; i < tag_len; i++)
		diff |= tag[i] ^ check[i];
	mbedtls_platform_zeroize(check, sizeof check);
	if (diff != 0) {
		mbedtls_platform_zeroize(output, length);
		return MBEDTLS_ERR_GCM_AUTH_FAILED;
	}
	return 0;
}

void mbedtls_gcm_free(mbedtls_gcm_context *ctx)
{
	if (!ctx)
		return;
	mbedtls_cipher_free(&ctx->cipher_ctx);
	mbedtls_platform_zeroize(ctx, sizeof *ctx);
}

#endif /* MBEDTLS_GCM_ALT */
