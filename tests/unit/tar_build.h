/* tar_build.h - builds tar archives in memory for the tar and image tests: ustar headers with
 * checksums, PAX and GNU long-name extension headers, gzip. Header-only (static functions). */
#ifndef KC_TESTS_TAR_BUILD_H
#define KC_TESTS_TAR_BUILD_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "lib/crypto.h"
#include "lib/str.h"

struct tb_opts {
	uint32_t uid, gid;
	int64_t mtime;
	uint32_t major, minor;
};

static inline void tb_octal(char *f, size_t n, uint64_t v)
{
	snprintf(f, n, "%0*llo", (int)(n - 1), (unsigned long long)v);
}

static inline void tb_pad(struct kc_str *s)
{
	while (s->len % 512)
		kc_str_addc(s, 0);
}

/* One header block; name and link are cut to 100 bytes (use tb_pax/tb_gnu for longer ones). */
static inline void tb_header(struct kc_str *s, const char *name, char type, uint32_t mode,
			     uint64_t size, const char *link, const struct tb_opts *o)
{
	char h[512];
	memset(h, 0, sizeof(h));
	strncpy(h, name, 100);
	tb_octal(h + 100, 8, mode);
	tb_octal(h + 108, 8, o ? o->uid : 0);
	tb_octal(h + 116, 8, o ? o->gid : 0);
	tb_octal(h + 124, 12, size);
	tb_octal(h + 136, 12, o ? (uint64_t)o->mtime : 1700000000u);
	h[156] = type;
	if (link)
		strncpy(h + 157, link, 100);
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	strcpy(h + 265, "root");
	strcpy(h + 297, "root");
	tb_octal(h + 329, 8, o ? o->major : 0);
	tb_octal(h + 337, 8, o ? o->minor : 0);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	h[155] = ' ';
	kc_str_add(s, h, 512);
}

static inline void tb_file(struct kc_str *s, const char *name, const char *data, uint32_t mode)
{
	size_t n = strlen(data);
	tb_header(s, name, '0', mode, n, NULL, NULL);
	kc_str_add(s, data, n);
	tb_pad(s);
}

static inline void tb_dir(struct kc_str *s, const char *name, uint32_t mode)
{
	tb_header(s, name, '5', mode, 0, NULL, NULL);
}

static inline void tb_symlink(struct kc_str *s, const char *name, const char *target)
{
	tb_header(s, name, '2', 0777, 0, target, NULL);
}

static inline void tb_hardlink(struct kc_str *s, const char *name, const char *target)
{
	tb_header(s, name, '1', 0644, 0, target, NULL);
}

/* A PAX 'x' header with "key=value" records (each record's length prefix is computed). */
static inline void tb_pax(struct kc_str *s, const char *const *kv, const size_t *vlen, size_t n)
{
	struct kc_str body = KC_STR_INIT;
	for (size_t i = 0; i < n; i++) {
		size_t l = vlen ? vlen[i] : strlen(kv[i]);
		/* "%d %s\n": find the self-including length */
		size_t total = l + 2;
		for (;;) {
			char num[24];
			int d = snprintf(num, sizeof(num), "%zu", total);
			if ((size_t)d + l + 2 == total)
				break;
			total = (size_t)d + l + 2;
		}
		kc_str_addf(&body, "%zu ", total);
		kc_str_add(&body, kv[i], l);
		kc_str_addc(&body, '\n');
	}
	tb_header(s, "PaxHeaders/x", 'x', 0644, body.len, NULL, NULL);
	kc_str_add(s, body.buf, body.len);
	tb_pad(s);
	kc_str_free(&body);
}

static inline void tb_gnu(struct kc_str *s, char type, const char *longname)
{
	size_t n = strlen(longname) + 1;
	tb_header(s, "././@LongLink", type, 0644, n, NULL, NULL);
	kc_str_add(s, longname, n);
	tb_pad(s);
}

static inline void tb_end(struct kc_str *s)
{
	for (int i = 0; i < 1024; i++)
		kc_str_addc(s, 0);
}

static inline void tb_gzip(const struct kc_str *in, struct kc_str *out)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
	kc_str_reserve(out, deflateBound(&z, in->len) + 64);
	z.next_in = (unsigned char *)in->buf;
	z.avail_in = (uInt)in->len;
	z.next_out = (unsigned char *)out->buf + out->len;
	z.avail_out = (uInt)(out->cap - out->len - 1);
	deflate(&z, Z_FINISH);
	kc_str_setlen(out, out->len + z.total_out);
	deflateEnd(&z);
}

/* "sha256:<hex>" of data. */
static inline void tb_digest(const void *data, size_t n, char out[72])
{
	uint8_t raw[KC_SHA256_LEN];
	kc_sha256(data, n, raw);
	memcpy(out, "sha256:", 7);
	kc_hex_encode(raw, KC_SHA256_LEN, out + 7);
}

#endif
