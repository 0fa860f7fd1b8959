/* DESIGN: see walckpt.h. One thread, a bitmask of pending jobs under a mutex; requests that
 * arrive while a job runs set its bit again, so one more run follows (never more than one
 * queued per job). Jobs run outside the lock. */
#include "store/walckpt.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"

struct wal_ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	unsigned pending; /* bit per job */
	size_t njobs;
	struct {
		char name[32];
		wal_ckpt_fn fn;
		void *arg;
	} jobs[WAL_CKPT_MAX_JOBS];
	unsigned long runs, failures;
};

static void *ckpt_main(void *arg)
{
	struct wal_ckpt *ck = arg;
	pthread_mutex_lock(&ck->mu);
	for (;;) {
		while (!ck->stop && !ck->pending)
			pthread_cond_wait(&ck->cv, &ck->mu);
		if (ck->stop)
			break;
		unsigned todo = ck->pending;
		ck->pending = 0;
		size_t n = ck->njobs;
		pthread_mutex_unlock(&ck->mu);
		unsigned long runs = 0, failures = 0;
		for (size_t i = 0; i < n; i++) {
			if (!(todo & (1u << i)))
				continue;
			struct kc_err err = {0};
			runs++;
			if (ck->jobs[i].fn(ck->jobs[i].arg, &err) < 0) {
				failures++;
				log_warn("store: checkpoint of %s: %s", ck->jobs[i].name, err.msg);
			}
		}
		pthread_mutex_lock(&ck->mu);
		ck->runs += runs;
		ck->failures += failures;
	}
	pthread_mutex_unlock(&ck->mu);
	return NULL;
}

struct wal_ckpt *wal_ckpt_start(struct kc_err *err)
{
	struct wal_ckpt *ck = xcalloc(1, sizeof *ck);
	pthread_mutex_init(&ck->mu, NULL);
	pthread_cond_init(&ck->cv, NULL);
	if (pthread_create(&ck->thread, NULL, ckpt_main, ck) != 0) {
		pthread_cond_destroy(&ck->cv);
		pthread_mutex_destroy(&ck->mu);
		free(ck);
		kc_err_set(err, -KC_EAGAIN, "cannot start the checkpoint thread");
		return NULL;
	}
	return ck;
}

void wal_ckpt_stop(struct wal_ckpt *ck)
{
	if (!ck)
		return;
	pthread_mutex_lock(&ck->mu);
	ck->stop = true;
	pthread_cond_signal(&ck->cv);
	pthread_mutex_unlock(&ck->mu);
	pthread_join(ck->thread, NULL);
	pthread_cond_destroy(&ck->cv);
	pthread_mutex_destroy(&ck->mu);
	free(ck);
}

int wal_ckpt_add(struct wal_ckpt *ck, const char *name, wal_ckpt_fn fn, void *arg)
{
	pthread_mutex_lock(&ck->mu);
	int id = -KC_ELIMIT;
	if (ck->njobs < WAL_CKPT_MAX_JOBS) {
		id = (int)ck->njobs;
		snprintf(ck->jobs[id].name, sizeof ck->jobs[id].name, "%s", name);
		ck->jobs[id].fn = fn;
		ck->jobs[id].arg = arg;
		ck->njobs++;
	}
	pthread_mutex_unlock(&ck->mu);
	return id;
}

void wal_ckpt_request(struct wal_ckpt *ck, int id)
{
	if (!ck || id < 0)
		return;
	pthread_mutex_lock(&ck->mu);
	if (!(ck->pending & (1u << id))) {
		ck->pending |= 1u << id;
		pthread_cond_signal(&ck->cv);
	}
	pthread_mutex_unlock(&ck->mu);
}

void wal_ckpt_counts(struct wal_ckpt *ck, unsigned long *runs, unsigned long *failures)
{
	pthread_mutex_lock(&ck->mu);
	*runs = ck->runs;
	*failures = ck->failures;
	pthread_mutex_unlock(&ck->mu);
}

static int watch_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct wal_watch *w = arg;
	if (w->force_pages > 0 && pages >= w->force_pages) {
		int log_frames = 0, done = 0;
		int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
						   &done);
		if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
			log_warn("store: checkpoint on the writer (%d WAL pages): %s", pages,
				 sqlite3_errstr(rc));
		w->asked = 0;
	} else if (pages >= w->bg_pages &&
		   (pages < w->asked || pages - w->asked >= (w->bg_pages + 3) / 4)) {
		w->asked = pages;   /* (fewer pages than when last asked: the WAL restarted) */
		wal_ckpt_request(w->ck, w->job);
	}
	return SQLITE_OK; /* the commit happened either way */
}

void wal_watch_install(sqlite3 *db, struct wal_watch *w)
{
	sqlite3_wal_hook(db, watch_hook, w);
}

int wal_checkpoint_file(const char *path, struct kc_err *err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	/* a connection learns that the file is in WAL mode on its first read: until then a
	 * checkpoint is a no-op that reports success */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA schema_version", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		int log_frames = 0, done = 0;
		rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
					       &done);
	}
	int ret = 0;
	if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
		ret = kc_err_set(err, -KC_EIO, "%s: %s", path,
				 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_close(db);
	return ret;
}
