/* libFuzzer target for the etcd JSON gateway's request translator.
 *
 * Input: one byte choosing the call kind (GW_RANGE .. GW_MEMBER_PROMOTE), then the request body.
 * Checked: gateway_parse never crashes or leaks, fails cleanly with a negative code and a
 * message, and every command it accepts decodes with mvcc_cmd_decode and re-encodes to the same
 * bytes (nothing unvalidated reaches Raft). Accepted ranges and watches have a key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/str.h"
#include "store/gateway.h"
#include "store/mvcc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kc_log_set_level(KC_LOG_ERROR);
	return 0;
}

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum gateway_kind kind = (enum gateway_kind)(GW_RANGE + data[0] % GW_MEMBER_PROMOTE);
	struct gateway_request req;
	struct kc_err err = { 0 };
	int rc = gateway_parse(kind, (const char *)data + 1, size - 1, &req, &err);
	if (rc < 0) {
		check(err.code < 0 || err.msg[0] != 0);
		return 0;
	}
	if (kind == GW_LEASE_GRANT && req.cmd.len == 0)
		check(gateway_lease_grant_cmd(&req, 1, &err) == 0);
	if (req.cmd.len) {
		struct mvcc_cmd cmd;
		struct kc_str again;
		check(mvcc_cmd_decode(req.cmd.buf, req.cmd.len, &cmd, &err) == 0);
		kc_str_init(&again);
		check(mvcc_cmd_encode(&again, &cmd, &err) == 0);
		check(again.len == req.cmd.len && memcmp(again.buf, req.cmd.buf, again.len) == 0);
		kc_str_free(&again);
		mvcc_cmd_free(&cmd);
	}
	if (kind == GW_RANGE)
		check(req.range.key_len > 0);
	if (kind == GW_WATCH)
		check(req.watch.key_len > 0);
	gateway_request_free(&req);
	return 0;
}
