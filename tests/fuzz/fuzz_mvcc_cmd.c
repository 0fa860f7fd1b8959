/* libFuzzer target for the store command codec and the state machine behind it.
 *
 * Input: frames of (u16 little-endian length, bytes); a short tail is one last frame. Each
 * frame is decoded; an accepted frame must re-encode to exactly the same bytes (the codec is
 * canonical). Then every frame, accepted or not, is applied as a Raft entry to a fresh
 * ":memory:" store holding a few keys and a lease, in two batches, with a watch hub publishing
 * the events and a watcher on every key draining them. Checked: applying never fails, revisions
 * never decrease, every event is newer than the last one delivered, a replayed batch changes
 * nothing, reads at every retained revision work, and compaction runs to completion. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/str.h"
#include "store/mvcc.h"
#include "store/watch.h"

#define MAX_FRAMES 64

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

static void roundtrip(const uint8_t *p, size_t n)
{
	struct mvcc_cmd cmd;
	if (mvcc_cmd_decode(p, n, &cmd, NULL) < 0)
		return;
	struct kc_str s = KC_STR_INIT;
	check(mvcc_cmd_encode(&s, &cmd, NULL) == 0);
	check(s.len == n && memcmp(s.buf, p, n) == 0);
	kc_str_free(&s);
	mvcc_cmd_free(&cmd);
}

static uint64_t setup(struct mvcc *m)
{
	struct kc_str s[5];
	for (int i = 0; i < 5; i++)
		kc_str_init(&s[i]);
	mvcc_cmd_encode_lease_grant(&s[0], 1, 60, NULL);
	struct mvcc_put_req p = { .key = "a", .key_len = 1, .value = "1", .value_len = 1, .lease = 1 };
	mvcc_cmd_encode_put(&s[1], &p, NULL);
	p = (struct mvcc_put_req){ .key = "b", .key_len = 1, .value = "2", .value_len = 1 };
	mvcc_cmd_encode_put(&s[2], &p, NULL);
	p = (struct mvcc_put_req){ .key = "a/x", .key_len = 3, .value = "3", .value_len = 1 };
	mvcc_cmd_encode_put(&s[3], &p, NULL);
	mvcc_cmd_encode_put(&s[4], &p, NULL);
	struct mvcc_entry e[5];
	struct mvcc_result r[5];
	for (int i = 0; i < 5; i++)
		e[i] = (struct mvcc_entry){ (uint64_t)i + 1, s[i].buf, s[i].len };
	check(mvcc_apply_batch(m, e, 5, r, NULL, NULL) == 0);
	for (int i = 0; i < 5; i++) {
		mvcc_result_free(&r[i]);
		kc_str_free(&s[i]);
	}
	return 5;
}

static void drain(struct watch_hub *h, struct watch *w, int64_t *last)
{
	struct watch_resp r;
	for (int guard = 0; guard < 100000; guard++) {
		int rc = watch_poll(h, w, 16, &r);
		if (rc == 0) {
			if (!watch_is_ready(w))
				return;
			continue;
		}
		if (r.kind == WATCH_RESP_EVENTS)
			for (size_t i = 0; i < r.nevents; i++) {
				check(r.events[i].kv->mod_revision >= *last);
				*last = r.events[i].kv->mod_revision;
			}
		int canceled = r.kind == WATCH_RESP_CANCELED;
		watch_resp_free(&r);
		if (canceled)
			return;
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mvcc_entry e[MAX_FRAMES];
	size_t n = 0;
	while (size > 0 && n < MAX_FRAMES) {
		size_t len = size;
		if (size >= 2) {
			len = (size_t)data[0] | (size_t)data[1] << 8;
			data += 2;
			size -= 2;
			if (len > size)
				len = size;
		}
		roundtrip(data, len);
		e[n].data = data;
		e[n].len = len;
		n++;
		data += len;
		size -= len;
	}

	struct mvcc_options o = { .path = ":memory:", .cluster_id = 1, .member_id = 1,
				  .sync = MVCC_SYNC_OFF };
	struct mvcc *m;
	check(mvcc_open(&o, &m, NULL) == 0);
	uint64_t idx = setup(m);
	struct watch_hub *h = watch_hub_new(m, NULL);
	struct watch_create_req wq = { .key = "\0", .key_len = 1, .range_end = "\0",
				       .range_end_len = 1, .start_revision = 1, .prev_kv = true };
	struct watch *w;
	check(watch_create(h, &wq, NULL, NULL, &w, NULL, NULL) == 0);
	int64_t last = 0;
	drain(h, w, &last);

	for (size_t i = 0; i < n; i++)
		e[i].index = ++idx;
	struct mvcc_result res[MAX_FRAMES];
	struct mvcc_events evs;
	mvcc_events_init(&evs);
	size_t half = n / 2;
	for (int part = 0; part < 2; part++) {
		size_t from = part ? half : 0, cnt = part ? n - half : half;
		int64_t rev0 = mvcc_revision(m);
		check(mvcc_apply_batch(m, e + from, cnt, res, &evs, NULL) == 0);
		for (size_t i = 0; i < cnt; i++) {
			check(!res[i].skipped);
			check(res[i].revision >= rev0);
			rev0 = res[i].revision;
			mvcc_result_free(&res[i]);
		}
		check(mvcc_revision(m) == rev0);
		for (size_t i = 0; i < evs.len; i++)
			check(evs.v[i].revision > watch_hub_revision(h) &&
			      evs.v[i].revision <= mvcc_revision(m));
		watch_hub_publish(h, &evs, mvcc_revision(m));
		drain(h, w, &last);
		/* Replay: all skipped, nothing changes. */
		int64_t rev = mvcc_revision(m);
		check(mvcc_apply_batch(m, e + from, cnt, res, &evs, NULL) == 0);
		for (size_t i = 0; i < cnt; i++) {
			check(res[i].skipped);
			mvcc_result_free(&res[i]);
		}
		check(evs.len == 0 && mvcc_revision(m) == rev);
	}
	mvcc_events_free(&evs);

	bool done = false;
	for (int guard = 0; !done && guard < 100000; guard++)
		check(mvcc_compact_step(m, 3, &done, NULL) == 0);
	check(done);
	for (int64_t rev = mvcc_compact_revision(m); rev <= mvcc_revision(m); rev++) {
		struct mvcc_range_req q = { .key = "\0", .key_len = 1, .range_end = "\0",
					    .range_end_len = 1, .revision = rev > 0 ? rev : 0 };
		struct mvcc_range_resp r;
		check(mvcc_range(m, &q, &r, NULL) == 0);
		check((int64_t)r.nkvs == r.count);
		mvcc_range_resp_free(&r);
	}
	watch_close(h, w);
	watch_hub_free(h);
	mvcc_close(m);
	return 0;
}
