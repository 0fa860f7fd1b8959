/* libFuzzer target for the answer to a forwarded lease time-to-live (POST /raft/ttl on the
 * leader's peer port, read by a follower: store/peer.c: peer_ttl_parse). Checked: no crash or
 * leak; a failure is -KC_EPROTO with a message and no keys; inputs over PEER_TTL_BODY_MAX bytes
 * never parse; what parses stays within the limits and re-encodes (peer_ttl_encode) to an answer
 * that parses to the same code, message, lease and keys. */
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
	struct mvcc_lease_info info, info2;
	struct mvcc_range_resp keys, keys2;
	struct kc_err err = {0}, err2 = {0};
	int code, code2;
	int rc = peer_ttl_parse(data, size, &code, &info, &keys, &err);
	if (rc < 0) {
		check(rc == -KC_EPROTO && err.code == rc && err.msg[0] && !keys.kvs && !keys.nkvs);
		return 0;
	}
	check(size <= PEER_TTL_BODY_MAX && code <= 0 && keys.nkvs <= PEER_TTL_KEYS_MAX);
	check(code < 0 ? err.code == code && err.msg[0] && !keys.nkvs : info.id > 0);
	struct kc_str enc = KC_STR_INIT;
	peer_ttl_encode(code, &info, &keys, err.msg, &enc);
	check(peer_ttl_parse(enc.buf, enc.len, &code2, &info2, &keys2, &err2) == 0);
	check(code2 == code && memcmp(&info, &info2, sizeof info) == 0);
	check(code == 0 || strcmp(err.msg, err2.msg) == 0);
	check(keys2.nkvs == keys.nkvs);
	for (size_t i = 0; i < keys.nkvs; i++)
		check(keys.kvs[i].key_len == keys2.kvs[i].key_len &&
		      memcmp(keys.kvs[i].key, keys2.kvs[i].key, keys.kvs[i].key_len) == 0 &&
		      keys2.kvs[i].lease == info.id);
	kc_str_free(&enc);
	mvcc_range_resp_free(&keys);
	mvcc_range_resp_free(&keys2);
	return 0;
}
