/* DESIGN: see snapshot.h. The maker and the fetcher each run at most one job on a thread of
 * its own (created per job: snapshots are rare), and otherwise belong to the store thread.
 * A job's thread fills the job's result fields and then posts the job's message to the store
 * loop (snap_post_fn: refused once the store is closing); the message handler joins the
 * thread and takes the result. The loop's queue orders the writes before the reads. A job
 * whose post was refused is joined and cleaned up by *_free, which runs after the store thread
 * stopped. Names: the leader's file is "XXXXXXXXXXXXXXXX-YYYYYYYYYYYYYYYY" (the index its data
 * covers, and 64 random bits, in hex) in the maker's directory; the copy in progress is
 * "copy.tmp" there. */
#include "store/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/loop.h"
#include "store/peer.h"

#define DESC_MAGIC "kc-snapshot/1 "
#define HASH_CHUNK (256u << 10)

_Static_assert(SNAP_DESC_MAX <= PEER_SNAPSHOT_DATA_MAX, "a descriptor fits a snapshot message");
_Static_assert(sizeof DESC_MAGIC - 1 + 14 + 1 + 2 * KC_SHA256_LEN + 1 + SNAP_NAME_MAX + 1 <=
		       SNAP_DESC_MAX,
	       "SNAP_DESC_MAX holds the longest descriptor");

/* ---- the descriptor ---- */

bool snap_name_valid(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && n > 0);
		if (!ok || n == SNAP_NAME_MAX)
			return false;
	}
	return n > 0;
}

void snap_desc_encode(const struct snap_desc *d, struct kc_str *out)
{
	char hex[2 * KC_SHA256_LEN + 1];
	kc_hex_encode(d->sha256, KC_SHA256_LEN, hex);
	kc_str_addf(out, "%s%" PRIu64 " %s %s\n", DESC_MAGIC, d->size, hex, d->name);
}

static int bad(struct kc_err *err, const char *what)
{
	return kc_err_set(err, -KC_EPARSE, "snapshot descriptor: %s", what);
}

int snap_desc_parse(const void *buf, size_t len, struct snap_desc *out, struct kc_err *err)
{
	const char *b = buf, *end = b + len;
	struct snap_desc d = {0};
	memset(out, 0, sizeof *out);
	if (len > SNAP_DESC_MAX)
		return bad(err, "too long");
	size_t ml = sizeof DESC_MAGIC - 1;
	if (len < ml || memcmp(b, DESC_MAGIC, ml) != 0)
		return bad(err, "not a kc-snapshot/1 descriptor");
	if (end[-1] != '\n')
		return bad(err, "unterminated line");
	end--; /* the '\n'; any other control byte is refused below */
	const char *p = b + ml;
	/* SIZE: digits, no leading zero, at most SNAP_SIZE_MAX */
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || sp == p || sp - p > 14 || (p[0] == '0' && sp - p > 1))
		return bad(err, "bad size");
	for (; p < sp; p++) {
		if (*p < '0' || *p > '9')
			return bad(err, "bad size");
		d.size = d.size * 10 + (uint64_t)(*p - '0');
	}
	if (d.size > SNAP_SIZE_MAX)
		return bad(err, "size over the limit");
	p = sp + 1;
	/* SHA256: 64 lowercase hex digits, then a space */
	if (end - p < 2 * KC_SHA256_LEN + 1 || p[2 * KC_SHA256_LEN] != ' ')
		return bad(err, "bad SHA-256");
	char hex[2 * KC_SHA256_LEN + 1];
	for (int i = 0; i < 2 * KC_SHA256_LEN; i++) {
		char c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return bad(err, "bad SHA-256");
		hex[i] = c;
	}
	hex[2 * KC_SHA256_LEN] = 0;
	if (kc_hex_decode(hex, d.sha256, KC_SHA256_LEN) < 0)
		return bad(err, "bad SHA-256");
	p += 2 * KC_SHA256_LEN + 1;
	/* NAME: the rest of the line */
	size_t nl = (size_t)(end - p);
	if (nl == 0 || nl > SNAP_NAME_MAX)
		return bad(err, "bad name");
	memcpy(d.name, p, nl);
	if (strlen(d.name) != nl || !snap_name_valid(d.name))
		return bad(err, "bad name");
	*out = d;
	return 0;
}

/* ---- files ---- */

/* Removes every entry of dir (a flat directory of ours); keeps dir. */
static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		if (unlink(p) < 0 && errno != ENOENT)
			log_warn("store: removing %s: %s", p, strerror(errno));
		free(p);
	}
	closedir(d);
}

/* SHA-256 and size of the file at path, read in chunks. */
static int hash_file(const char *path, uint8_t sha[KC_SHA256_LEN], uint64_t *size,
		     struct kc_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_err_set(err, -errno, "open %s: %s", path, strerror(errno));
	uint8_t *buf = xmalloc(HASH_CHUNK);
	struct kc_sha256 h;
	kc_sha256_init(&h);
	uint64_t total = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, HASH_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = kc_err_set(err, -errno, "read %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		kc_sha256_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	kc_sha256_final(&h, sha);
	free(buf);
	close(fd);
	*size = total;
	return rc;
}

/* ---- the maker ---- */

struct snap_maker {
	char *dir;
	snap_copy_fn copy;
	snap_post_fn post;
	void *arg;
	/* store thread */
	struct snap_desc cur; /* name[0] == 0: no current file */
	uint64_t cur_covers;  /* its data is at an applied index >= this */
	uint64_t last_used_ms;
	uint64_t retry_ms; /* no new copy before this (after a failure) */
	bool running;	   /* a job's thread exists (joined by the handler or by free) */
	pthread_t thread;
	/* the job: set by the store thread before the thread starts, results by the thread */
	struct loop_msg msg;
	uint64_t job_covers;
	char job_name[SNAP_NAME_MAX + 1];
	int job_rc;
	struct kc_err job_err;
	struct snap_desc job_desc;
};

static char *file_path(const struct snap_maker *m, const char *name)
{
	return xasprintf("%s/%s", m->dir, name);
}

struct snap_maker *snap_maker_new(const char *dir, snap_copy_fn copy, snap_post_fn post, void *arg)
{
	empty_dir(dir);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("store: removing %s: %s", dir, strerror(errno));
	struct snap_maker *m = xcalloc(1, sizeof *m);
	m->dir = xstrdup(dir);
	m->copy = copy;
	m->post = post;
	m->arg = arg;
	return m;
}

static void *maker_main(void *arg)
{
	struct snap_maker *m = arg;
	char *tmp = file_path(m, "copy.tmp"), *final = file_path(m, m->job_name);
	if (mkdir(m->dir, 0700) < 0 && errno != EEXIST)
		m->job_rc =
			kc_err_set(&m->job_err, -errno, "mkdir %s: %s", m->dir, strerror(errno));
	unlink(tmp);
	if (m->job_rc == 0)
		m->job_rc = m->copy(m->arg, tmp, &m->job_err);
	if (m->job_rc == 0)
		m->job_rc = hash_file(tmp, m->job_desc.sha256, &m->job_desc.size, &m->job_err);
	if (m->job_rc == 0 && rename(tmp, final) < 0)
		m->job_rc = kc_err_set(&m->job_err, -errno, "rename %s: %s", tmp, strerror(errno));
	if (m->job_rc < 0)
		unlink(tmp);
	snprintf(m->job_desc.name, sizeof m->job_desc.name, "%s", m->job_name);
	free(tmp);
	free(final);
	m->post(m->arg, &m->msg); /* refused when closing: snap_maker_free cleans up */
	return NULL;
}

static void drop_current(struct snap_maker *m)
{
	if (!m->cur.name[0])
		return;
	char *p = file_path(m, m->cur.name);
	unlink(p); /* a download in progress keeps its descriptor */
	free(p);
	memset(&m->cur, 0, sizeof m->cur);
}

/* Store thread: a job ended. */
static void maker_done(struct loop *l, struct loop_msg *msg)
{
	struct snap_maker *m = msg->data;
	pthread_join(m->thread, NULL);
	m->running = false;
	uint64_t now = loop_now_ms(l);
	if (m->job_rc < 0) {
		log_warn("store: making a snapshot file failed: %s", m->job_err.msg);
		m->retry_ms = now + SNAP_RETRY_MS;
		return;
	}
	drop_current(m);
	m->cur = m->job_desc;
	m->cur_covers = m->job_covers;
	m->last_used_ms = now;
	log_info("store: snapshot file %s ready (%" PRIu64 " bytes, covers index %" PRIu64 ")",
		 m->cur.name, m->cur.size, m->cur_covers);
}

int snap_maker_get(struct snap_maker *m, uint64_t index, uint64_t applied, uint64_t now_ms,
		   uint8_t **data, size_t *len)
{
	if (m->cur.name[0] && m->cur_covers >= index) {
		struct kc_str s = KC_STR_INIT;
		snap_desc_encode(&m->cur, &s);
		*data = (uint8_t *)kc_str_detach(&s, len);
		m->last_used_ms = now_ms;
		return 0;
	}
	if (m->running || now_ms < m->retry_ms)
		return -KC_EAGAIN;
	uint64_t r = 0;
	if (kc_random_bytes(&r, sizeof r) < 0)
		r = now_ms;
	snprintf(m->job_name, sizeof m->job_name, "%016" PRIx64 "-%016" PRIx64, applied, r);
	m->job_covers = applied;
	m->job_rc = 0;
	memset(&m->job_err, 0, sizeof m->job_err);
	memset(&m->job_desc, 0, sizeof m->job_desc);
	loop_msg_init(&m->msg, maker_done, m);
	int rc = pthread_create(&m->thread, NULL, maker_main, m);
	if (rc != 0) {
		log_warn("store: cannot start the snapshot thread: %s", strerror(rc));
		m->retry_ms = now_ms + SNAP_RETRY_MS;
		return -KC_EAGAIN;
	}
	m->running = true;
	log_info("store: making a snapshot file (index %" PRIu64 ", asked for %" PRIu64 ")",
		 applied, index);
	return -KC_EAGAIN;
}

int snap_maker_open(struct snap_maker *m, const char *name, uint64_t now_ms, int *fd,
		    uint64_t *size)
{
	if (!m->cur.name[0] || !snap_name_valid(name) || strcmp(name, m->cur.name) != 0)
		return -KC_ENOTFOUND;
	char *p = file_path(m, name);
	int f = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc = f < 0 ? -errno : 0;
	free(p);
	if (rc < 0)
		return rc == -ENOENT ? -KC_ENOTFOUND : rc;
	struct stat st;
	if (fstat(f, &st) < 0 || (uint64_t)st.st_size != m->cur.size) {
		close(f);
		return -KC_ENOTFOUND; /* not ours any more */
	}
	m->last_used_ms = now_ms;
	*fd = f;
	*size = m->cur.size;
	return 0;
}

void snap_maker_expire(struct snap_maker *m, uint64_t now_ms)
{
	if (m->cur.name[0] && now_ms - m->last_used_ms >= SNAP_IDLE_MS) {
		log_info("store: snapshot file %s unused for %u s: removed", m->cur.name,
			 SNAP_IDLE_MS / 1000);
		drop_current(m);
		if (!m->running)
			rmdir(m->dir); /* empty now; the next copy creates it */
	}
}

void snap_maker_free(struct snap_maker *m)
{
	if (!m)
		return;
	if (m->running)
		pthread_join(m->thread, NULL);
	empty_dir(m->dir);
	if (rmdir(m->dir) < 0 && errno != ENOENT)
		log_warn("store: removing %s: %s", m->dir, strerror(errno));
	free(m->dir);
	free(m);
}

/* ---- the fetcher ---- */

struct snap_fetcher {
	char *dest;
	struct tls_client_config *tls;
	snap_post_fn post;
	snap_fetched_fn done;
	void *arg;
	/* store thread */
	bool running;
	pthread_t thread;
	atomic_bool cancel;
	/* the job: set before the thread starts, results by the thread */
	struct loop_msg msg;
	char *base_url;
	uint64_t cluster_id;
	struct snap_desc desc;
	int rc;
	struct kc_err err;
};

struct snap_fetcher *snap_fetcher_new(const char *dest, struct tls_client_config *tls,
				      snap_post_fn post, snap_fetched_fn done, void *arg)
{
	struct snap_fetcher *f = xcalloc(1, sizeof *f);
	f->dest = xstrdup(dest);
	f->tls = tls;
	f->post = post;
	f->done = done;
	f->arg = arg;
	atomic_init(&f->cancel, false);
	unlink(f->dest);
	return f;
}

static void *fetcher_main(void *arg)
{
	struct snap_fetcher *f = arg;
	f->rc = peer_fetch_snapshot(f->base_url, f->cluster_id, f->tls, &f->desc, f->dest,
				    &f->cancel, &f->err);
	f->post(f->arg, &f->msg); /* refused when closing: snap_fetcher_free cleans up */
	return NULL;
}

static void fetcher_done(struct loop *l, struct loop_msg *msg)
{
	(void)l;
	struct snap_fetcher *f = msg->data;
	pthread_join(f->thread, NULL);
	f->running = false;
	free(f->base_url);
	f->base_url = NULL;
	struct snap_desc d = f->desc;
	struct kc_err err = f->err;
	f->done(f->arg, f->rc, &d, &err);
}

int snap_fetch_start(struct snap_fetcher *f, const char *base_url, uint64_t cluster_id,
		     const struct snap_desc *d)
{
	if (f->running)
		return -KC_EAGAIN;
	f->base_url = xstrdup(base_url);
	f->cluster_id = cluster_id;
	f->desc = *d;
	f->rc = 0;
	memset(&f->err, 0, sizeof f->err);
	loop_msg_init(&f->msg, fetcher_done, f);
	int rc = pthread_create(&f->thread, NULL, fetcher_main, f);
	if (rc != 0) {
		free(f->base_url);
		f->base_url = NULL;
		log_warn("store: cannot start the snapshot download thread: %s", strerror(rc));
		return -KC_EAGAIN;
	}
	f->running = true;
	return 0;
}

const char *snap_fetch_running(const struct snap_fetcher *f)
{
	return f->running ? f->desc.name : NULL;
}

void snap_fetcher_free(struct snap_fetcher *f)
{
	if (!f)
		return;
	if (f->running) {
		atomic_store(&f->cancel, true);
		pthread_join(f->thread, NULL);
	}
	unlink(f->dest);
	free(f->base_url);
	free(f->dest);
	free(f);
}
