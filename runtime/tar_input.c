/* tar_input.c - decompression and digests between a blob and the tar reader.
 *
 * DESIGN: a pull pipeline. tar_input owns a small peek buffer (the magic bytes, handed out again
 * before the raw source's next bytes), a zlib inflater when the stream is gzip, and the running
 * SHA-256 of the uncompressed bytes it hands out. Memory is bounded (64 KiB of compressed input
 * plus zlib's 32 KiB window) whatever the layer's size. One thread per input. */
#include "runtime/tar_input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "lib/alloc.h"

#define INBUF	    (64u << 10)
#define DEF_MAX_OUT ((uint64_t)64 << 30)

static ssize_t fd_read(struct tar_source *src, void *buf, size_t n, struct kc_err *err)
{
	struct tar_fd_source *s = (struct tar_fd_source *)src;
	for (;;) {
		ssize_t k = read(s->fd, buf, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return kc_err_set(err, -errno, "read: %s", strerror(errno));
		if (k > 0) {
			if (s->hash)
				kc_sha256_update(&s->sha, buf, (size_t)k);
			s->bytes += (uint64_t)k;
		}
		return k;
	}
}

void tar_fd_source_init(struct tar_fd_source *s, int fd, bool hash)
{
	memset(s, 0, sizeof(*s));
	s->src.read = fd_read;
	s->fd = fd;
	s->hash = hash;
	if (hash)
		kc_sha256_init(&s->sha);
}

enum tar_compression tar_detect_compression(const void *head, size_t n)
{
	const unsigned char *h = head;
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return TAR_GZIP;
	if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
		return TAR_ZSTD;
	if (n >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h')
		return TAR_BZIP2;
	if (n >= 6 && memcmp(h,
			     "\xfd"
			     "7zXZ\0",
			     6) == 0)
		return TAR_XZ;
	return TAR_PLAIN;
}

const char *tar_compression_name(enum tar_compression c)
{
	switch (c) {
	case TAR_GZIP:
		return "gzip";
	case TAR_ZSTD:
		return "zstd";
	case TAR_BZIP2:
		return "bzip2";
	case TAR_XZ:
		return "xz";
	default:
		return "none";
	}
}

struct tar_input {
	struct tar_source src; /* the uncompressed view */
	struct tar_source *raw;
	enum tar_compression comp;
	unsigned char *in; /* compressed input buffer (gzip), or the peeked bytes (plain) */
	size_t in_pos, in_len;
	bool raw_eof;
	z_stream z;
	bool z_init;
	bool z_end; /* the current gzip member ended */
	bool done;  /* no more uncompressed bytes */
	uint64_t max_out;
	uint64_t out_bytes;
	struct kc_sha256 sha;
	bool finished;
};

/* Refills the input buffer when empty. Returns bytes available (0 at EOF) or <0. */
static ssize_t fill(struct tar_input *t, struct kc_err *err)
{
	if (t->in_pos < t->in_len)
		return (ssize_t)(t->in_len - t->in_pos);
	if (t->raw_eof)
		return 0;
	ssize_t k = t->raw->read(t->raw, t->in, INBUF, err);
	if (k < 0)
		return k;
	if (k == 0)
		t->raw_eof = true;
	t->in_pos = 0;
	t->in_len = (size_t)k;
	return k;
}

static ssize_t gzip_read(struct tar_input *t, void *buf, size_t n, struct kc_err *err)
{
	for (;;) {
		if (t->z_end) {
			/* another member may follow (multi-member gzip) */
			ssize_t k = fill(t, err);
			if (k < 0)
				return k;
			if (k == 0) {
				t->done = true;
				return 0;
			}
			if (inflateReset(&t->z) != Z_OK)
				return kc_err_set(err, -KC_EPARSE, "gzip: reset failed");
			t->z_end = false;
		}
		ssize_t k = fill(t, err);
		if (k < 0)
			return k;
		if (k == 0)
			return kc_err_set(err, -KC_EPARSE, "gzip: truncated stream");
		t->z.next_in = t->in + t->in_pos;
		t->z.avail_in = (uInt)(t->in_len - t->in_pos);
		t->z.next_out = buf;
		t->z.avail_out = (uInt)(n > (1u << 30) ? (1u << 30) : n);
		uInt before_in = t->z.avail_in, before_out = t->z.avail_out;
		int zr = inflate(&t->z, Z_NO_FLUSH);
		t->in_pos += before_in - t->z.avail_in;
		size_t produced = before_out - t->z.avail_out;
		if (zr == Z_STREAM_END) {
			t->z_end = true;
		} else if (zr != Z_OK &&
			   !(zr == Z_BUF_ERROR && produced == 0 && t->in_pos == t->in_len)) {
			return kc_err_set(err, -KC_EPARSE, "gzip: %s",
					  t->z.msg ? t->z.msg : "corrupt stream");
		}
		if (produced)
			return (ssize_t)produced;
	}
}

static ssize_t input_read(struct tar_source *src, void *buf, size_t n, struct kc_err *err)
{
	struct tar_input *t = (struct tar_input *)src;
	if (t->done || n == 0)
		return 0;
	ssize_t k;
	if (t->comp == TAR_GZIP) {
		k = gzip_read(t, buf, n, err);
	} else if (t->in_pos < t->in_len) {
		size_t m = t->in_len - t->in_pos;
		if (m > n)
			m = n;
		memcpy(buf, t->in + t->in_pos, m);
		t->in_pos += m;
		k = (ssize_t)m;
	} else {
		k = t->raw->read(t->raw, buf, n, err);
	}
	if (k < 0)
		return k;
	if (k == 0) {
		t->done = true;
		return 0;
	}
	if (t->out_bytes + (uint64_t)k > t->max_out)
		return kc_err_set(err, -KC_ELIMIT, "layer: uncompressed size over %llu bytes",
				  (unsigned long long)t->max_out);
	t->out_bytes += (uint64_t)k;
	kc_sha256_update(&t->sha, buf, (size_t)k);
	return k;
}

int tar_input_open(struct tar_source *raw, uint64_t max_out, struct tar_input **out,
		   struct kc_err *err)
{
	*out = NULL;
	struct tar_input *t = xcalloc(1, sizeof(*t));
	t->src.read = input_read;
	t->raw = raw;
	t->max_out = max_out ? max_out : DEF_MAX_OUT;
	t->in = xmalloc(INBUF);
	kc_sha256_init(&t->sha);
	/* peek: up to 6 bytes, short reads allowed */
	while (t->in_len < 6 && !t->raw_eof) {
		ssize_t k = raw->read(raw, t->in + t->in_len, 6 - t->in_len, err);
		if (k < 0) {
			tar_input_free(t);
			return (int)k;
		}
		if (k == 0)
			t->raw_eof = true;
		t->in_len += (size_t)k;
	}
	t->comp = tar_detect_compression(t->in, t->in_len);
	if (t->comp != TAR_PLAIN && t->comp != TAR_GZIP) {
		enum tar_compression c = t->comp;
		tar_input_free(t);
		return kc_err_set(
			err, -KC_EUNSUPPORTED,
			"layer is %s-compressed: only uncompressed and gzip layers are supported",
			tar_compression_name(c));
	}
	if (t->comp == TAR_GZIP) {
		/* 16 + 15: gzip wrapper only, 32 KiB window */
		if (inflateInit2(&t->z, 16 + 15) != Z_OK) {
			tar_input_free(t);
			return kc_err_set(err, -KC_EIO, "gzip: cannot initialise zlib");
		}
		t->z_init = true;
	}
	*out = t;
	return 0;
}

void tar_input_free(struct tar_input *t)
{
	if (!t)
		return;
	if (t->z_init)
		inflateEnd(&t->z);
	if (!t->finished) {
		uint8_t junk[KC_SHA256_LEN];
		kc_sha256_final(&t->sha, junk);
	}
	free(t->in);
	free(t);
}

struct tar_source *tar_input_source(struct tar_input *in)
{
	return &in->src;
}

enum tar_compression tar_input_compression(const struct tar_input *in)
{
	return in->comp;
}

int tar_input_finish(struct tar_input *t, uint8_t digest[KC_SHA256_LEN], uint64_t *size,
		     struct kc_err *err)
{
	char buf[16384];
	for (;;) {
		ssize_t k = input_read(&t->src, buf, sizeof(buf), err);
		if (k < 0)
			return (int)k;
		if (k == 0)
			break;
	}
	kc_sha256_final(&t->sha, digest);
	t->finished = true;
	if (size)
		*size = t->out_bytes;
	return 0;
}
