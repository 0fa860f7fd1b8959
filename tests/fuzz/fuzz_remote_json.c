/* libFuzzer target for the etcd gateway client's answer parsers (store/remote_json.c): what a
 * remote store member or etcd sends back.
 *
 * Input: one byte choosing the parser (range, a command result of each type, a watch stream
 * message, an error body), then the body. Checked: no crash or leak; a failure is -KC_EPROTO
 * with a message and leaves nothing to free; every kv parsed holds its NUL-terminated key and
 * value in one block. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "store/remote.h"

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

static void check_kv(const struct mvcc_kv *kv)
{
	check(kv->key != NULL && kv->key[kv->key_len] == 0);
	check(kv->value == kv->key + kv->key_len + 1 && kv->value[kv->value_len] == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	struct kc_err err = {0};
	int rc;
	switch (data[0] % 6) {
	case 0: {
		struct mvcc_range_resp r;
		rc = remote_parse_range(body, len, &r, &err);
		if (rc == 0)
			for (size_t i = 0; i < r.nkvs; i++)
				check_kv(&r.kvs[i]);
		else
			check(rc == -KC_EPROTO && err.msg[0] && r.kvs == NULL);
		mvcc_range_resp_free(&r);
		break;
	}
	case 1:
	case 2:
	case 3: {
		static const enum mvcc_cmd_type types[] = {MVCC_CMD_PUT, MVCC_CMD_DELETE,
							   MVCC_CMD_TXN};
		struct mvcc_result r;
		rc = remote_parse_result(types[data[0] % 6 - 1], body, len, &r, &err);
		check(rc == 0 || (rc == -KC_EPROTO && err.msg[0]));
		mvcc_result_free(&r);
		break;
	}
	case 4: {
		struct remote_watch_msg m;
		rc = remote_parse_watch(body, len, &m, &err);
		if (rc == 0)
			for (size_t i = 0; i < m.events.len; i++) {
				check_kv(&m.events.v[i].kv);
				if (m.events.v[i].has_prev)
					check_kv(&m.events.v[i].prev_kv);
			}
		else
			check(rc == -KC_EPROTO && m.events.len == 0);
		remote_watch_msg_free(&m);
		break;
	}
	default:
		rc = remote_parse_error(500, body, len, &err);
		check(rc < 0 && err.code == rc);
		break;
	}
	return 0;
}
