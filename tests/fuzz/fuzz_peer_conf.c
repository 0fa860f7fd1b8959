/* libFuzzer target for the body of a forwarded membership change (POST /raft/conf on a store
 * member's peer port, store/peer.c: peer_conf_parse). Checked: no crash; a failure is -KC_EINVAL
 * with a message; what parses re-encodes (peer_conf_encode) to a body that parses to the same
 * change, and inputs over PEER_CONF_BODY_MAX bytes never parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "store/peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer_conf_change cc, again;
	struct kc_err err = {0};
	int rc = peer_conf_parse(data, size, &cc, &err);
	if (rc < 0) {
		check(rc == -KC_EINVAL && err.code == rc && err.msg[0]);
		return 0;
	}
	check(size <= PEER_CONF_BODY_MAX && cc.id != 0);
	check(cc.kind == PEER_CONF_ADD ? cc.name[0] && cc.peer_url[0]
				       : !cc.name[0] && !cc.peer_url[0]);
	struct kc_str enc = KC_STR_INIT;
	peer_conf_encode(&cc, &enc);
	check(peer_conf_parse(enc.buf, enc.len, &again, &err) == 0);
	check(memcmp(&cc, &again, sizeof cc) == 0);
	kc_str_free(&enc);
	return 0;
}
