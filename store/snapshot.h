/* snapshot.h - the store's Raft snapshots as files, never whole in memory (etcd's layout): a
 * RAFT_MSG_SNAPSHOT carries a small descriptor (size, SHA-256, name), the leader makes the file
 * (a copy of mvcc.db) on a worker thread and serves it by name on its peer port
 * (store/peer.c), and the follower downloads it to disk on a worker thread before the message
 * reaches its Raft. */
#ifndef KC_STORE_SNAPSHOT_H
#define KC_STORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"
#include "lib/err.h"

struct kc_str;
struct loop_msg;
struct tls_client_config;

#define SNAP_NAME_MAX 64		  /* bytes of a file name */
#define SNAP_SIZE_MAX ((uint64_t)1 << 44) /* 16 TiB: larger sizes do not parse */
#define SNAP_DESC_MAX 192		  /* longest encoded descriptor */
#define SNAP_RETRY_MS 1000u		  /* after a failed copy, before the next one */
#define SNAP_IDLE_MS  (5u * 60u * 1000u)  /* an unused snapshot file is removed after this */

/* ---- the descriptor ---- */

/* What the data of a snapshot message is: one line "kc-snapshot/1 SIZE SHA256 NAME\n", SIZE in
 * decimal without leading zeros (<= SNAP_SIZE_MAX), SHA256 in 64 lowercase hex digits. */
struct snap_desc {
	uint64_t size;
	uint8_t sha256[KC_SHA256_LEN];
	char name[SNAP_NAME_MAX + 1]; /* see snap_name_valid */
};

/* A file name the leader may hand out and serve: 1 to SNAP_NAME_MAX bytes of [a-z0-9-], the
 * first one not '-' (so no '/', no "..", no hidden file, no option). */
bool snap_name_valid(const char *name);
/* Appends d's encoding (at most SNAP_DESC_MAX bytes) to out. d must be valid as parse takes it. */
void snap_desc_encode(const struct snap_desc *d, struct kc_str *out);
/* Parses untrusted bytes, strictly (exactly one line, nothing after it). Returns 0 with *out,
 * or -KC_EPARSE with err saying what is wrong. */
int snap_desc_parse(const void *buf, size_t len, struct snap_desc *out, struct kc_err *err);

/* ---- threads ---- */

/* Posts m to the store thread's loop; returns false (m not posted) once the store is closing.
 * Any thread. */
typedef bool (*snap_post_fn)(void *arg, struct loop_msg *m);

/* ---- the leader's file ---- */

/* Writes a consistent copy of the database at dest (which does not exist yet). Runs on the
 * maker's worker thread. 0 or a negative code with err set. */
typedef int (*snap_copy_fn)(void *arg, const char *dest, struct kc_err *err);

/* Owns the directory of snapshot files and the worker thread that makes them. At most two
 * files exist: the current one and the one being made (plus files already removed that a
 * download still reads through its open descriptor). Everything runs on the store thread
 * except the copy and the hash. */
struct snap_maker;

/* Removes whatever a previous run left in dir, and dir itself (created again for the first
 * file: a member that never sends a snapshot has none); what cannot be removed is logged. dir
 * is copied; copy, post and arg are borrowed. Free with snap_maker_free. */
struct snap_maker *snap_maker_new(const char *dir, snap_copy_fn copy, snap_post_fn post, void *arg);
/* The descriptor of the current file when its data covers 'index' (the copy started once the
 * applied index was >= index, so the data may be newer than index): 0 with *data (malloc'd,
 * the caller's) and *len. Otherwise -KC_EAGAIN, after starting a copy of the database (its
 * data covers 'applied') unless one is running or one failed less than SNAP_RETRY_MS ago.
 * Raft asks again on a later heartbeat. */
int snap_maker_get(struct snap_maker *m, uint64_t index, uint64_t applied, uint64_t now_ms,
		   uint8_t **data, size_t *len);
/* Opens the current file if it is named 'name' (for serving it): 0 with *fd (the caller closes
 * it) and *size, -KC_ENOTFOUND for any other name, or -errno. */
int snap_maker_open(struct snap_maker *m, const char *name, uint64_t now_ms, int *fd,
		    uint64_t *size);
/* Removes the current file once nobody asked for it or opened it for SNAP_IDLE_MS. */
void snap_maker_expire(struct snap_maker *m, uint64_t now_ms);
/* Waits for a copy in progress and removes the files and the directory. Call it once the
 * store thread no longer runs (post then refuses). NULL is a no-op. */
void snap_maker_free(struct snap_maker *m);

/* ---- the follower's download ---- */

/* The end of a download, on the store thread: rc 0 when dest holds the file described by d
 * (borrowed; size and SHA-256 verified, fsynced), else a negative code with err (dest removed). */
typedef void (*snap_fetched_fn)(void *arg, int rc, const struct snap_desc *d,
				const struct kc_err *err);

/* One download at a time, each on a thread of its own, into the file dest. */
struct snap_fetcher;

/* Removes a dest that a previous run left. dest is copied; tls (NULL: plain http only), post,
 * done and arg are borrowed. */
struct snap_fetcher *snap_fetcher_new(const char *dest, struct tls_client_config *tls,
				      snap_post_fn post, snap_fetched_fn done, void *arg);
/* Store thread: starts downloading d's file from the member at base_url (its peer URL) of
 * cluster cluster_id. 0 (done will run), or -KC_EAGAIN while a download runs. */
int snap_fetch_start(struct snap_fetcher *f, const char *base_url, uint64_t cluster_id,
		     const struct snap_desc *d);
/* The name of the file being downloaded, or NULL when none is. */
const char *snap_fetch_running(const struct snap_fetcher *f);
/* Cancels a download in progress, waits for its thread and removes dest. Call it once the
 * store thread no longer runs. NULL is a no-op. */
void snap_fetcher_free(struct snap_fetcher *f);

#endif
