/* fuzz_tar.c - untrusted bytes as an image layer: compression detection and gzip inflation
 * (tar_input), then the tar reader over every member, reading each member's data in odd-sized
 * pieces, then the digest of the rest. Whatever the input, the reader must end with 1/0/<0
 * results that stay put, never read past the declared data, and report errors with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tar.h"
#include "runtime/tar_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tar_mem_source m;
	tar_mem_source_init(&m, data, size);
	struct tar_input *in;
	struct kc_err err = {0};
	/* a small output limit keeps gzip bombs cheap */
	if (tar_input_open(&m.src, 4u << 20, &in, &err) < 0) {
		check(err.msg[0] != 0);
		return 0;
	}
	struct tar_limits lim = {.max_entries = 1000, .max_path = 1024, .max_pax = 65536};
	struct tar_reader *r = tar_reader_new(tar_input_source(in), &lim);
	const struct tar_entry *e;
	int rc;
	char buf[777];
	while ((rc = tar_next(r, &e, &err)) == 1) {
		check(e->path != NULL && e->path[0] != 0);
		check(e->linkpath != NULL);
		check(strlen(e->path) <= 1024);
		check((e->mode & ~07777u) == 0);
		uint64_t got = 0;
		ssize_t k;
		while ((k = tar_read(r, buf, (size_t)(got % 3 == 0 ? sizeof(buf) : 13), &err)) > 0)
			got += (uint64_t)k;
		if (k < 0)
			break;
		check(got == e->size);
	}
	if (rc < 0) {
		check(err.msg[0] != 0);
		check(tar_next(r, &e, &err) == rc);
	} else if (rc == 0) {
		check(tar_next(r, &e, &err) == 0);
		uint8_t d[KC_SHA256_LEN];
		uint64_t n;
		(void)tar_input_finish(in, d, &n, &err);
	}
	tar_reader_free(r);
	tar_input_free(in);
	return 0;
}
