/* walckpt.h - SQLite WAL checkpoints off the writer's thread.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses the threshold: it copies
 * the whole WAL into the database file and fsyncs it, on the thread that wrote. On the store
 * thread that stalls every request behind it for tens to hundreds of milliseconds. Here the
 * writer's connection gets a WAL hook instead (wal_watch_install): past 'bg_pages' it asks a
 * background thread (struct wal_ckpt) to run a PASSIVE checkpoint on a connection of its own,
 * which never blocks the writer; past 'force_pages' (the background could not keep up, e.g.
 * under a write rate that never leaves the WAL fully copied, so it is never restarted) the
 * writer checkpoints itself as SQLite would, which bounds the WAL. Between the two the
 * background is asked again only each time the WAL has grown by another bg_pages / 4: asked at
 * every commit, it ran back to back, each run copying a few pages and fsyncing the database
 * (35 fsyncs a second per database under load), and those fsyncs stalled the Raft log's. */
#ifndef KC_STORE_WALCKPT_H
#define KC_STORE_WALCKPT_H

#include <stdbool.h>

#include "lib/err.h"

typedef struct sqlite3 sqlite3;
struct wal_ckpt;

/* A background job: checkpoints one database. Runs on the checkpoint thread. */
typedef int (*wal_ckpt_fn)(void *arg, struct kc_err *err);

#define WAL_CKPT_MAX_JOBS 4

struct wal_ckpt *wal_ckpt_start(struct kc_err *err);
/* Stops the thread after the job in progress (NULL ok). */
void wal_ckpt_stop(struct wal_ckpt *ck);
/* Registers a job before any request; returns its id (>= 0) or -KC_ELIMIT. */
int wal_ckpt_add(struct wal_ckpt *ck, const char *name, wal_ckpt_fn fn, void *arg);
/* Any thread: asks for job 'id' to run soon (requests coalesce). */
void wal_ckpt_request(struct wal_ckpt *ck, int id);
/* Number of jobs run and failed so far (tests). */
void wal_ckpt_counts(struct wal_ckpt *ck, unsigned long *runs, unsigned long *failures);

/* The writer's side. The struct must outlive the connection's use of it. */
struct wal_watch {
	struct wal_ckpt *ck;
	int job;
	int bg_pages;    /* ask the background from this many WAL pages */
	int force_pages; /* checkpoint on the writer from this many */
	int asked;       /* WAL pages when the background was last asked; the writer's */
};

/* Replaces the connection's automatic checkpoint by the watch. */
void wal_watch_install(sqlite3 *db, struct wal_watch *w);

/* A PASSIVE checkpoint of the database file at path on a private connection (the file must
 * exist; nothing is created). -KC_EIO with the reason on failure. */
int wal_checkpoint_file(const char *path, struct kc_err *err);

#endif
