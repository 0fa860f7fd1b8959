/* tar_input.h - the byte pipeline under the tar reader: a file source that can hash what it reads
 * (a blob's digest), compression detected by magic bytes (gzip inflated in a stream, zstd refused
 * with a clear error), and the SHA-256 and size of the uncompressed stream (a layer's diff_id). */
#ifndef KC_RUNTIME_TAR_INPUT_H
#define KC_RUNTIME_TAR_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/crypto.h"
#include "runtime/tar.h"

/* A source reading a file descriptor (borrowed), hashing every byte when 'hash' is set. */
struct tar_fd_source {
	struct tar_source src;
	int fd;
	bool hash;
	struct kc_sha256 sha;
	uint64_t bytes;
};
void tar_fd_source_init(struct tar_fd_source *s, int fd, bool hash);

enum tar_compression { TAR_PLAIN = 0, TAR_GZIP, TAR_ZSTD, TAR_BZIP2, TAR_XZ };

/* Names a compression by its magic bytes at the start of a stream (n may be short). */
enum tar_compression tar_detect_compression(const void *head, size_t n);
const char *tar_compression_name(enum tar_compression c);

struct tar_input;

/* Opens the uncompressed view of raw (borrowed; must outlive the input): peeks at the first
 * bytes, and inflates gzip (multi-member streams included). max_out bounds the uncompressed
 * bytes (0: 64 GiB), so a small gzip bomb cannot fill the disk. Returns 0 with *out, or
 * -KC_EUNSUPPORTED for zstd, bzip2 and xz streams, or the source's error. */
int tar_input_open(struct tar_source *raw, uint64_t max_out, struct tar_input **out,
		   struct kc_err *err);
void tar_input_free(struct tar_input *in);

/* The uncompressed bytes, as a source for tar_reader_new. Each byte passes through the digest. */
struct tar_source *tar_input_source(struct tar_input *in);
enum tar_compression tar_input_compression(const struct tar_input *in);

/* Reads what is left of the stream (the tar reader stops at the end-of-archive blocks; the
 * digest covers everything), then stores the uncompressed digest and size. Call once. Returns 0
 * or a negative code (a corrupt gzip stream: -KC_EPARSE). */
int tar_input_finish(struct tar_input *in, uint8_t digest[KC_SHA256_LEN], uint64_t *size,
		     struct kc_err *err);

#endif
