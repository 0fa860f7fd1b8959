/* libFuzzer target for the descriptor a Raft snapshot message carries (store/snapshot.c:
 * snap_desc_parse; a follower parses it, then downloads the file it names from the sender).
 * Checked: no crash; a failure is -KC_EPARSE with a message and a zeroed result; what parses
 * has a size within SNAP_SIZE_MAX and a name that snap_name_valid accepts (never a path), came
 * from at most SNAP_DESC_MAX bytes, and re-encodes (snap_desc_encode) to exactly the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "store/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct snap_desc zero;
	struct snap_desc d;
	struct kc_err err = {0};
	int rc = snap_desc_parse(data, size, &d, &err);
	if (rc < 0) {
		check(rc == -KC_EPARSE && err.code == rc && err.msg[0]);
		check(memcmp(&d, &zero, sizeof d) == 0);
		return 0;
	}
	check(size <= SNAP_DESC_MAX && d.size <= SNAP_SIZE_MAX && snap_name_valid(d.name));
	check(!strchr(d.name, '/') && !strchr(d.name, '.'));
	struct kc_str enc = KC_STR_INIT;
	snap_desc_encode(&d, &enc);
	check(enc.len == size && memcmp(enc.buf, data, size) == 0);
	kc_str_free(&enc);
	return 0;
}
