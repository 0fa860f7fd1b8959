/* gcm_alt.h - kc's AES-GCM for mbedTLS (MBEDTLS_GCM_ALT): the context of net/aes_gcm.c, which
 * replaces mbedTLS's gcm.c behind the unchanged mbedtls_gcm_* API (see mbedtls/gcm.h for the
 * contracts, which it keeps: one context per thread, update lengths multiple of 16 except the
 * last). mbedtls/gcm.h includes this file; nothing else should. */
#ifndef KC_NET_MBEDTLS_ALT_GCM_ALT_H
#define KC_NET_MBEDTLS_ALT_GCM_ALT_H

#include <stdint.h>

#include "mbedtls/cipher.h"

typedef struct mbedtls_gcm_context {
	mbedtls_cipher_context_t cipher_ctx; /* portable path: the block cipher, ECB */
	unsigned char rk[15][16];	     /* AES-NI path: the round keys */
	unsigned char hpow[8][16];	     /* AES-NI path: H^1..H^8, byte-reflected */
	uint64_t hh, hl;		     /* portable path: H, big-endian halves */
	uint64_t len, add_len;		     /* bytes of text and of additional data */
	unsigned char base_ectr[16];	     /* E(K, J0) */
	unsigned char y[16];		     /* the counter block last used */
	unsigned char buf[16];		     /* GHASH state (byte-reflected on the AES-NI path) */
	int nr;				     /* AES rounds on the AES-NI path; 0: portable path */
	int mode;
} mbedtls_gcm_context;

/* 1 when this CPU runs the AES-NI + PCLMULQDQ path (AES-128 and AES-256 keys), else 0. */
int kc_gcm_accelerated(void);

#endif
