/* libFuzzer target for store/raft/raft_codec.c: the first byte picks a decoder (message, entry,
 * configuration, configuration change), the rest is its input. Whatever decodes must re-encode
 * to exactly the same bytes (the format is canonical). Decoded messages are then stepped into a
 * live follower and a live leader, since raft_step is the next thing network bytes reach. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/raft/raft.h"
#include "store/raft/raft_memstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small limits so that the fuzzer reaches the limit paths too. */
static const struct raft_codec_limits limits = {
	.max_entries = 64,
	.max_entry_bytes = 4096,
	.max_snapshot_bytes = 4096,
};

static void same_bytes(const struct kc_str *enc, const uint8_t *data, size_t size)
{
	if (enc->len != size || memcmp(enc->buf, data, size) != 0)
		abort();
}

static void drain(struct raft *r, struct raft_memstore *ms)
{
	for (int i = 0; i < 4 && raft_has_ready(r); i++) {
		struct raft_ready rd;
		if (raft_ready(r, &rd) != 0)
			return;
		raft_memstore_persist(ms, &rd);
		raft_advance(r, &rd);
	}
}

/* Node 'id' of configuration conf; campaigns first when 'lead'. */
static void step_into(struct raft_msg *m, uint64_t id, const struct raft_conf *conf, bool lead)
{
	struct raft_memstore *ms = raft_memstore_new(conf);
	struct raft_options o;
	raft_options_init(&o);
	o.id = id;
	o.storage = &raft_memstore_ops;
	o.storage_ctx = ms;
	o.seed = 1;
	struct raft *r;
	if (raft_new(&o, &r, NULL) != 0)
		abort();
	if (lead) {
		raft_campaign(r);
		drain(r, ms);
		raft_propose(r, "x", 1, NULL);
		drain(r, ms);
	}
	uint64_t from = m->from, to = m->to;
	m->to = id;
	if (m->from == id)
		m->from = id == 1 ? 2 : 1;
	raft_step(r, m);
	drain(r, ms);
	raft_tick(r);
	drain(r, ms);
	m->from = from;
	m->to = to;
	raft_free(r);
	raft_memstore_free(ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		kc_log_set_level(KC_LOG_ERROR);
		kc_log_set_fd(-1);
		quiet = true;
	}
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	struct kc_str enc = KC_STR_INIT;
	switch (sel % 4) {
	case 0: {
		struct raft_msg m;
		if (raft_msg_decode(data, size, &limits, &m, NULL) != 0)
			break;
		raft_msg_encode(&m, &enc);
		same_bytes(&enc, data, size);
		struct raft_conf three = {.n = 3,
					  .members = {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {3, RAFT_VOTER}}};
		struct raft_conf solo = {.n = 2, .members = {{1, RAFT_VOTER}, {2, RAFT_LEARNER}}};
		step_into(&m, 2, &three, false);
		step_into(&m, 1, &solo, true);
		raft_msg_free(&m);
		break;
	}
	case 1: {
		struct raft_entry e;
		if (raft_entry_decode(data, size, &limits, &e, NULL) != 0)
			break;
		raft_entry_encode(&e, &enc);
		same_bytes(&enc, data, size);
		free(e.data);
		break;
	}
	case 2: {
		struct raft_conf c;
		if (raft_conf_decode(data, size, &c, NULL) != 0)
			break;
		raft_conf_encode(&c, &enc);
		same_bytes(&enc, data, size);
		break;
	}
	default: {
		struct raft_conf_change cc;
		struct raft_conf c;
		if (raft_conf_change_decode(data, size, &cc, &c, NULL) != 0)
			break;
		raft_conf_change_encode(&cc, &c, &enc);
		same_bytes(&enc, data, size);
		break;
	}
	}
	kc_str_free(&enc);
	return 0;
}
