/* bench_mvcc - micro-benchmark of the MVCC state machine alone (no Raft, no network): puts per
 * second when 1, 16 or 256 commands share one SQLite transaction (one fsync), on a real file
 * with synchronous=FULL, etcd's benchmark shape (8-byte keys over 10k keys, 256-byte values).
 * Each case starts from a warmed-up store (see warm_up). Also prints the raw fdatasync latency
 * of the same disk (the floor of any durable commit) and the throughput of one reader.
 *
 * Not run by the tests. Build and run (from the repository root):
 *   CORE="lib/alloc.c lib/err.c lib/log.c lib/str.c lib/vec.c lib/map.c lib/clock.c"
 *   gcc -std=c11 -O2 -I. -Ibuild/sqlite -D_GNU_SOURCE -o build/bench_mvcc \
 *       tests/bench/bench_mvcc.c $CORE store/mvcc.c store/mvcc_read.c store/mvcc_cmd.c store/keyidx.c \
 *       build/host/libsqlite3.a -lpthread -lm
 *   build/bench_mvcc [DIR (default /tmp)] [SECONDS per case (default 5)] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/str.h"
#include "store/mvcc.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n ? v[(size_t)(p * (double)(n - 1))] : 0;
}

static void fsync_floor(const char *dir, double secs)
{
	char path[512];
	snprintf(path, sizeof path, "%s/kc-bench-fsync", dir);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	static char buf[8192];
	memset(buf, 'x', sizeof buf);
	double *lat = malloc(100000 * sizeof *lat);
	size_t n = 0;
	double start = now_s();
	while (now_s() - start < secs && n < 100000) {
		double t = now_s();
		off_t at = (off_t)((n % 64) * sizeof buf);
		if (pwrite(fd, buf, sizeof buf, at) < 0 || fdatasync(fd) < 0) {
			perror("fdatasync");
			exit(1);
		}
		lat[n++] = (now_s() - t) * 1000;
	}
	printf("mvcc: disk floor: 8 KiB write+fdatasync p50 %.3f ms, p99 %.3f ms (%zu samples)\n",
	       pct(lat, n, 0.5), pct(lat, n, 0.99), n);
	free(lat);
	close(fd);
	unlink(path);
}

/* Brings a fresh store to the steady state of a long-running one: every key exists and the WAL
 * has wrapped after a checkpoint, so commits overwrite WAL blocks in place. While the WAL file
 * still grows, each fdatasync must also persist the new file size (on ext4 a journal commit:
 * a second device flush), which a cold start pays but a running store does not. */
static uint64_t warm_up(struct mvcc *m, const char *value, size_t vlen)
{
	enum { B = 256, ROUNDS = 60 };
	static struct kc_str enc[B];
	struct mvcc_entry e[B];
	struct mvcc_result res[B];
	uint64_t idx = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < B; i++) {
			char key[9];
			snprintf(key, sizeof key, "%08u", (unsigned)(r * B + i) % 10000);
			struct mvcc_put_req p = { .key = key, .key_len = 8, .value = value,
						  .value_len = vlen };
			kc_str_reset(&enc[i]);
			mvcc_cmd_encode_put(&enc[i], &p, NULL);
			e[i] = (struct mvcc_entry){ ++idx, enc[i].buf, enc[i].len };
		}
		if (mvcc_apply_batch(m, e, B, res, NULL, NULL) < 0)
			exit(1);
		for (int i = 0; i < B; i++)
			mvcc_result_free(&res[i]);
	}
	mvcc_checkpoint(m, false, 0, NULL);
	for (int i = 0; i < B; i++)
		kc_str_free(&enc[i]);
	return idx;
}

static void run(const char *dir, int batch, double secs, enum mvcc_sync sync)
{
	char path[512], cmd[1600];
	snprintf(path, sizeof path, "%s/kc-bench-mvcc.db", dir);
	snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", path, path, path);
	if (system(cmd) != 0)
		exit(1);
	struct mvcc_options o = { .path = path, .cluster_id = 1, .member_id = 1, .sync = sync };
	struct mvcc *m;
	struct kc_err err = { 0 };
	if (mvcc_open(&o, &m, &err) < 0) {
		fprintf(stderr, "open: %s\n", err.msg);
		exit(1);
	}
	char value[256];
	memset(value, 'v', sizeof value);
	struct kc_str *enc = calloc((size_t)batch, sizeof *enc);
	struct mvcc_entry *e = calloc((size_t)batch, sizeof *e);
	struct mvcc_result *res = calloc((size_t)batch, sizeof *res);
	size_t cap = 1000000;
	double *lat = malloc(cap * sizeof *lat);
	size_t nlat = 0;
	struct mvcc_events evs;
	mvcc_events_init(&evs);
	uint64_t idx0 = warm_up(m, value, sizeof value), idx = idx0;
	unsigned seed = 42;
	double start = now_s();
	while (now_s() - start < secs && nlat < cap) {
		for (int i = 0; i < batch; i++) {
			char key[9];
			seed = seed * 1103515245u + 12345u;
			snprintf(key, sizeof key, "%08u", (seed >> 8) % 10000);
			struct mvcc_put_req p = { .key = key, .key_len = 8, .value = value,
						  .value_len = sizeof value };
			kc_str_reset(&enc[i]);
			mvcc_cmd_encode_put(&enc[i], &p, NULL);
			e[i] = (struct mvcc_entry){ ++idx, enc[i].buf, enc[i].len };
		}
		double t = now_s();
		if (mvcc_apply_batch(m, e, (size_t)batch, res, &evs, &err) < 0) {
			fprintf(stderr, "apply: %s\n", err.msg);
			exit(1);
		}
		lat[nlat++] = (now_s() - t) * 1000;
		for (int i = 0; i < batch; i++)
			mvcc_result_free(&res[i]);
		mvcc_events_truncate(&evs, 0);   /* events were produced, as for a watch hub */
	}
	double el = now_s() - start;
	static const char *const names[] = { "FULL", "NORMAL", "OFF" };
	printf("mvcc: batch %3d sync=%-6s %9.0f puts/s  %7.1f commits/s  commit p50 %.3f ms p99 %.3f "
	       "ms  (%llu puts)\n",
	       batch, names[sync], (double)(idx - idx0) / el, (double)nlat / el, pct(lat, nlat, 0.5),
	       pct(lat, nlat, 0.99), (unsigned long long)(idx - idx0));

	if (batch == 256 && sync == MVCC_SYNC_FULL) {
		/* Reads beside the writer's data: single-key gets and a 100-key prefix scan. */
		struct mvcc_reader *r;
		if (mvcc_reader_open(m, &r, &err) < 0) {
			fprintf(stderr, "reader: %s\n", err.msg);
			exit(1);
		}
		size_t gets = 0;
		double t0 = now_s();
		while (now_s() - t0 < secs / 2) {
			char key[9];
			seed = seed * 1103515245u + 12345u;
			snprintf(key, sizeof key, "%08u", (seed >> 8) % 10000);
			struct mvcc_range_req q = { .key = key, .key_len = 8 };
			struct mvcc_range_resp rr;
			mvcc_reader_range(r, &q, &rr, NULL, NULL);
			mvcc_range_resp_free(&rr);
			gets++;
		}
		double g = (double)gets / (now_s() - t0);
		size_t scans = 0;
		t0 = now_s();
		while (now_s() - t0 < secs / 2) {
			/* keys are "%08u" of 0..9999: this prefix holds 100 of them */
			struct mvcc_range_req q = { .key = "000042", .key_len = 6,
						    .range_end = "000043", .range_end_len = 6 };
			struct mvcc_range_resp rr;
			mvcc_reader_range(r, &q, &rr, NULL, NULL);
			mvcc_range_resp_free(&rr);
			scans++;
		}
		printf("mvcc: reader: %.0f gets/s, %.0f 100-key range scans/s (one thread)\n", g,
		       (double)scans / (now_s() - t0));
		mvcc_reader_close(r);
		struct mvcc_status st;
		mvcc_status(m, &st, NULL);
		printf("mvcc: db after the run: %llu bytes, wal %llu bytes, revision %lld\n",
		       (unsigned long long)st.db_size, (unsigned long long)st.wal_size,
		       (long long)st.revision);
	}
	for (int i = 0; i < batch; i++)
		kc_str_free(&enc[i]);
	free(enc);
	free(e);
	free(res);
	free(lat);
	mvcc_events_free(&evs);
	mvcc_close(m);
	if (system(cmd) != 0)
		exit(1);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	double secs = argc > 2 ? atof(argv[2]) : 5;
	kc_log_set_level(KC_LOG_ERROR);
	fsync_floor(dir, secs / 2);
	run(dir, 1, secs, MVCC_SYNC_FULL);
	run(dir, 16, secs, MVCC_SYNC_FULL);
	run(dir, 256, secs, MVCC_SYNC_FULL);
	run(dir, 256, secs, MVCC_SYNC_NORMAL);
	return 0;
}
