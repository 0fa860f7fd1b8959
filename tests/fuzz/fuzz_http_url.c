/* libFuzzer target: http_url_parse on arbitrary bytes. Checks the parser's promises: on
 * success the host is non-empty and lower-case, the port is non-zero, and the path lies inside
 * the input and starts with '/' or '?' when non-empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct http_url u;
	struct kc_err err = { 0 };
	if (http_url_parse(s, &u, &err) == 0) {
		if (!u.host[0] || !u.port)
			abort();
		for (const char *p = u.host; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
		if (u.path < s || u.path + u.path_len > s + strlen(s))
			abort();
		if (u.path_len && u.path[0] != '/' && u.path[0] != '?')
			abort();
	} else if (!err.msg[0]) {
		abort(); /* every rejection says why */
	}
	free(s);
	return 0;
}
