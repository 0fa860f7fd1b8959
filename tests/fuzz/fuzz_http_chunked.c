/* fuzz_http_chunked.c - the chunked decoder fed in random splits must agree with one call over
 * the whole input: same verdict, same decoded bytes, same end of message.
 *
 * Input: byte 0 seeds the split sizes, byte 1 picks a body limit, the rest is the encoded body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
	long rc;          /* < 0: error; else bytes consumed up to the end (or everything) */
	bool done;
	uint64_t total;
	char *out;
	size_t out_len;
};

static void check(bool cond)
{
	if (!cond)
		abort();
}

static void whole(const uint8_t *in, size_t n, uint64_t max, struct result *res)
{
	struct http_chunked c;
	char *buf = malloc(n ? n : 1);
	memcpy(buf, in, n);
	http_chunked_init(&c);
	size_t produced;
	long r = http_chunked_decode(&c, buf, n, max, &produced);
	res->rc = r;
	res->done = c.done;
	res->total = c.total;
	res->out = buf;
	res->out_len = r < 0 ? 0 : produced;
	if (r >= 0) {
		check((size_t)r <= n);
		check(produced <= (size_t)r);
		check(c.total == produced);
		check(c.done || (size_t)r == n);
	}
}

static void split(const uint8_t *in, size_t n, uint64_t max, unsigned seed, struct result *res)
{
	struct http_chunked c;
	char *buf = malloc(n ? n : 1);
	char *out = malloc(n ? n : 1);
	size_t have = 0, pos = 0, o = 0, consumed = 0;
	http_chunked_init(&c);
	res->rc = 0;
	for (;;) {
		seed = seed * 1103515245u + 12345u;
		size_t take = (seed >> 16) % 17;
		if (take > n - pos)
			take = n - pos;
		memcpy(buf + have, in + pos, take);
		pos += take;
		have += take;
		size_t produced;
		long r = http_chunked_decode(&c, buf, have, max, &produced);
		if (r < 0) {
			res->rc = r;
			break;
		}
		check((size_t)r <= have && produced <= (size_t)r);
		memcpy(out + o, buf, produced);
		o += produced;
		consumed += (size_t)r;
		memmove(buf, buf + r, have - (size_t)r);
		have -= (size_t)r;
		/* the decoder never keeps bytes it could have used */
		check(c.done || have == 0);
		if (c.done || pos == n)
			break;
	}
	if (res->rc == 0)
		res->rc = (long)consumed;
	res->done = c.done;
	res->total = c.total;
	res->out = out;
	res->out_len = res->rc < 0 ? 0 : o;
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned seed = data[0];
	uint64_t max = data[1] < 128 ? 0 : (uint64_t)(data[1] - 128) * 16;
	data += 2;
	size -= 2;

	struct result a, b;
	whole(data, size, max, &a);
	split(data, size, max, seed, &b);
	check((a.rc < 0) == (b.rc < 0));
	if (a.rc < 0) {
		check(a.rc == b.rc);
		check(a.rc == -400 || a.rc == -413);
	} else {
		check(a.rc == b.rc);
		check(a.done == b.done);
		check(a.total == b.total);
		check(a.out_len == b.out_len);
		check(memcmp(a.out, b.out, a.out_len) == 0);
		if (max)
			check(a.total <= max);
	}
	free(a.out);
	free(b.out);
	return 0;
}
