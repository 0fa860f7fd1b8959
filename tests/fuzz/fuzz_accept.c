/* fuzz_accept.c - arbitrary Accept headers through the media-range parser and the two
 * negotiations built on it (table_wanted, discovery_wants_aggregated). Invariants: the parser
 * always advances and stays inside the header, every range and parameter it reports lies inside
 * the header, q is within 0..1000, and both answers are stable functions of the text. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roles/apiserver/discovery.h"
#include "roles/apiserver/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

static void inside(const char *p, size_t n, const char *lo, const char *hi)
{
	if (!p)
		return;
	check(p >= lo && p + n <= hi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0; /* headers are C strings; an embedded NUL ends the header */
	const char *end = s + strlen(s);

	const char *cur = s;
	struct accept_range r;
	size_t ranges = 0;
	while (table_accept_next(&cur, &r)) {
		check(cur >= s && cur <= end);
		check(r.q <= 1000);
		inside(r.type, r.type_len, s, end);
		inside(r.as, r.as_len, s, end);
		inside(r.g, r.g_len, s, end);
		inside(r.v, r.v_len, s, end);
		check(++ranges <= size + 1);
	}
	check(cur == end);

	bool t1 = table_wanted(s), t2 = table_wanted(s);
	check(t1 == t2);
	bool b1 = true, b2 = false;
	bool a1 = discovery_wants_aggregated(s, &b1), a2 = discovery_wants_aggregated(s, &b2);
	check(a1 == a2 && b1 == b2);
	check(a1 || !b1);
	check(discovery_wants_aggregated(s, NULL) == a1);
	free(s);
	return 0;
}
