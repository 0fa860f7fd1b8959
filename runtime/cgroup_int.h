/* cgroup_int.h - shared by cgroup.c and its two backends, cgroup_v1.c and cgroup_v2.c. */
#ifndef KC_RUNTIME_CGROUP_INT_H
#define KC_RUNTIME_CGROUP_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"
#include "runtime/cgroup.h"

struct cg_backend {
	int (*create)(struct rt_cgroup *cg, struct kc_err *err);
	int (*set_limits)(struct rt_cgroup *cg, const struct rt_cgroup_limits *lim,
			  struct kc_err *err);
	int (*join)(struct rt_cgroup *cg, pid_t pid, struct kc_err *err);
	int (*stats)(struct rt_cgroup *cg, struct rt_cgroup_stats *st, struct kc_err *err);
	int (*kill)(struct rt_cgroup *cg, int sig, struct kc_err *err);
	bool (*populated)(struct rt_cgroup *cg);
	int (*destroy)(struct rt_cgroup *cg, struct kc_err *err);
};

struct rt_cgroup {
	enum rt_cgroup_mode mode;
	char *root; /* "/sys/fs/cgroup" or a test directory */
	char *path; /* relative, clean */
	const struct cg_backend *be;
};

extern const struct cg_backend cg_v1_backend;
extern const struct cg_backend cg_v2_backend;

/* dir/file I/O. Writes report "write <dir>/<file>: <strerror>" into err. */
int cg_write(const char *dir, const char *file, const char *val, struct kc_err *err);
/* Reads at most cap-1 bytes, NUL-terminates; returns the length or -errno. */
ssize_t cg_read(const char *dir, const char *file, char *buf, size_t cap);
/* A file holding one number (or "max", which reads as 0). 0 or -errno. */
int cg_read_u64(const char *dir, const char *file, uint64_t *out);
/* "key value" lines (memory.stat, memory.events, cpu.stat, memory.oom_control). 0 or -errno
 * (-ENOENT also when the key is absent). */
int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out);

/* mkdir -p of base/path; calls on_new(parent, dir, ctx) for every directory it created, from
 * the top down (v1 cpuset initialisation). */
int cg_mkdir_path(const char *base, const char *path,
		  int (*on_new)(const char *parent, const char *dir, void *ctx, struct kc_err *err),
		  void *ctx, struct kc_err *err);
/* Writes pid into dir/cgroup.procs. */
int cg_join_dir(const char *dir, pid_t pid, struct kc_err *err);
/* Signals every pid listed in cgroup.procs of dir and of its subdirectories. Returns the count
 * or -errno. */
int cg_kill_dir(const char *dir, int sig);
/* Whether cgroup.procs of dir or of a subdirectory lists a process. */
bool cg_populated_dir(const char *dir);
/* rmdir of dir and its subdirectories, bottom up, retrying EBUSY with SIGKILLs in between.
 * A missing dir is not an error. */
int cg_remove_dir(const char *dir, struct kc_err *err);

#endif
