/* Unit tests for store/walckpt: with the watch installed a writer's WAL is copied back by the
 * background thread (the writer never checkpoints itself below force_pages) and stays bounded;
 * without a thread the writer's own checkpoint at force_pages bounds it; every row written is
 * there afterwards. Databases live in a mkdtemp folder under /tmp. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/walckpt.h"

#define ROWS 1500

struct fx {
	char dir[64];
	char path[128];
	sqlite3 *db;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/kc-walckpt.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
	assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(f->db,
				      "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;"
				      "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sqlite3_close(f->db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

/* One transaction per row of 8 KiB (a few WAL pages each). */
static void write_rows(struct fx *f, int from, int n)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(f->db, "INSERT INTO t(k, v) VALUES (?1, zeroblob(8192))",
					    -1, &st, NULL),
			 SQLITE_OK);
	for (int i = from; i < from + n; i++) {
		sqlite3_bind_int(st, 1, i);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

/* Frames in the WAL now, as a checkpoint on the writer reports them (it copies what is left
 * but does not shrink the log: that happens at the next write). */
static int wal_frames(struct fx *f)
{
	int log_frames = -1, done = -1;
	sqlite3_wal_checkpoint_v2(f->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
	return log_frames;
}

static int rows(struct fx *f)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT count(*) FROM t", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int job(void *arg, struct kc_err *err)
{
	return wal_checkpoint_file(arg, err);
}

static void test_background(void **state)
{
	struct fx *f = *state;
	struct kc_err err;
	struct wal_ckpt *ck = wal_ckpt_start(&err);
	assert_non_null(ck);
	struct wal_watch w = {.ck = ck,
			      .job = wal_ckpt_add(ck, "t.db", job, f->path),
			      .bg_pages = 64,
			      .force_pages = 0};
	assert_int_equal(w.job, 0);
	wal_watch_install(f->db, &w);
	/* in slices, giving the thread a moment between them as a busy writer's pauses would */
	for (int i = 0; i < ROWS; i += 100) {
		write_rows(f, i, 100);
		usleep(20000);
	}
	/* wait for the thread to go idle: its last run then started after the last write */
	unsigned long runs = 0, failures = 0, before = (unsigned long)-1;
	for (int i = 0; i < 100 && runs != before; i++) {
		before = runs;
		usleep(300000);
		wal_ckpt_counts(ck, &runs, &failures);
	}
	w.ck = NULL; /* the hook stays on the connection: no request to a stopped thread */
	wal_ckpt_stop(ck);
	assert_true(runs > 0);
	assert_int_equal(failures, 0);
	/* everything was copied back, so the next write starts the WAL over; without the
	 * thread the WAL would hold ~3 pages for every row */
	write_rows(f, ROWS, 1);
	int frames = wal_frames(f);
	assert_true(frames >= 0);
	assert_true(frames < 64);
	assert_int_equal(rows(f), ROWS + 1);
}

static void test_force_on_writer(void **state)
{
	struct fx *f = *state;
	/* no thread at all: only the writer's own checkpoint bounds the WAL */
	struct wal_watch w = {.ck = NULL, .job = -1, .bg_pages = 16, .force_pages = 200};
	wal_watch_install(f->db, &w);
	write_rows(f, 0, ROWS);
	int frames = wal_frames(f);
	assert_true(frames >= 0);
	assert_true(frames < 2 * 200);
	assert_int_equal(rows(f), ROWS);
}

static void test_without_watch_grows(void **state)
{
	/* the control: with SQLite's automatic checkpoint off and no watch, the WAL keeps every
	 * frame, so the bounds above are the watch's doing */
	struct fx *f = *state;
	sqlite3_wal_autocheckpoint(f->db, 0);
	write_rows(f, 0, ROWS);
	assert_true(wal_frames(f) >= ROWS);
}

static void test_checkpoint_file_errors(void **state)
{
	(void)state;
	struct kc_err err = {0};
	assert_true(wal_checkpoint_file("/nonexistent/dir/x.db", &err) < 0);
	assert_non_null(strstr(err.msg, "/nonexistent/dir/x.db"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_background, setup, teardown),
		cmocka_unit_test_setup_teardown(test_force_on_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_watch_grows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_file_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
