/* DESIGN: the cgroup v1 backend, for legacy and hybrid machines. A node exists once per mounted
 * v1 hierarchy (every real directory under the root; the kernel's alias symlinks such as
 * "cpu" -> "cpu,cpuacct" are skipped when listing and followed when looking a controller up),
 * and in hybrid mode once more in the cgroup2 tree at <root>/unified, which has no controllers
 * there and only tracks processes. All limits go to v1 files. Reentrant; no state besides the
 * handle. */
#include "runtime/cgroup_int.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/devfilter.h"

/* Calls fn(hierarchy dir) for every v1 hierarchy, then for <root>/unified in hybrid mode. */
static int each_hierarchy(struct rt_cgroup *cg,
			  int (*fn)(struct rt_cgroup *cg, const char *base, const char *name,
				    void *ctx, struct kc_err *err),
			  void *ctx, struct kc_err *err)
{
	DIR *d = opendir(cg->root);
	if (!d)
		return kc_err_set(err, -errno, "open %s: %s", cg->root, strerror(errno));
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "unified") == 0)
			continue;
		if (de->d_type != DT_DIR) /* symlink aliases and stray files */
			continue;
		char base[PATH_MAX];
		snprintf(base, sizeof(base), "%s/%s", cg->root, de->d_name);
		rc = fn(cg, base, de->d_name, ctx, err);
		if (rc < 0)
			break;
	}
	closedir(d);
	if (rc >= 0 && cg->mode == RT_CGROUP_HYBRID) {
		char base[PATH_MAX];
		snprintf(base, sizeof(base), "%s/unified", cg->root);
		rc = fn(cg, base, "unified", ctx, err);
	}
	return rc < 0 ? rc : 0;
}

static bool names_controller(const char *name, const char *ctrl)
{
	size_t n = strlen(ctrl);
	for (const char *s = name; *s;) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l == n && strncmp(s, ctrl, n) == 0)
			return true;
		if (!e)
			break;
		s = e + 1;
	}
	return false;
}

/* The node's directory in the hierarchy that holds ctrl; "" when not mounted. */
static void node_dir(const struct rt_cgroup *cg, const char *ctrl, char *buf, size_t cap)
{
	char base[PATH_MAX];
	struct stat st;
	snprintf(base, sizeof(base), "%s/%s", cg->root, ctrl);
	if (stat(base, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(buf, cap, "%s/%s", base, cg->path);
		return;
	}
	/* a combined mount without the alias link: look for a directory naming ctrl */
	buf[0] = '\0';
	DIR *d = opendir(cg->root);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_type == DT_DIR && names_controller(de->d_name, ctrl)) {
			snprintf(buf, cap, "%s/%s/%s", cg->root, de->d_name, cg->path);
			break;
		}
	}
	closedir(d);
}

static bool trim_empty(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\n' && *s != '\t')
			return false;
	return true;
}

/* A new cpuset cgroup starts with empty cpus and mems, and joining it fails with ENOSPC. */
static int init_cpuset(const char *parent, const char *dir, void *ctx, struct kc_err *err)
{
	(void)ctx;
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (size_t i = 0; i < 2; i++) {
		char cur[4096], par[4096];
		ssize_t n = cg_read(dir, files[i], cur, sizeof(cur));
		if (n < 0)
			continue; /* not a cpuset hierarchy after all (tests) */
		if (!trim_empty(cur))
			continue;
		n = cg_read(parent, files[i], par, sizeof(par));
		if (n < 0)
			return kc_err_set(err, (int)n, "read %s/%s: %s", parent, files[i],
					  strerror((int)-n));
		if (trim_empty(par))
			continue;
		int rc = cg_write(dir, files[i], par, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int create_in(struct rt_cgroup *cg, const char *base, const char *name, void *ctx,
		     struct kc_err *err)
{
	(void)ctx;
	bool cpuset = names_controller(name, "cpuset");
	return cg_mkdir_path(base, cg->path, cpuset ? init_cpuset : NULL, NULL, err);
}

static int v1_create(struct rt_cgroup *cg, struct kc_err *err)
{
	return each_hierarchy(cg, create_in, NULL, err);
}

static bool exists(const char *dir, const char *file)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	return access(p, F_OK) == 0;
}

static int write_i64(const char *dir, const char *file, long long v, struct kc_err *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", v);
	return cg_write(dir, file, buf, err);
}

/* memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes: the order of the two writes
 * depends on whether the limit goes up or down, so try one order and fall back to the other. */
static int set_memory(const char *dir, long long limit, struct kc_err *err)
{
	bool memsw = exists(dir, "memory.memsw.limit_in_bytes");
	if (!memsw)
		return write_i64(dir, "memory.limit_in_bytes", limit, err);
	if (limit < 0) {
		int rc = write_i64(dir, "memory.memsw.limit_in_bytes", -1, err);
		if (rc < 0)
			return rc;
		return write_i64(dir, "memory.limit_in_bytes", -1, err);
	}
	int rc = write_i64(dir, "memory.limit_in_bytes", limit, err);
	if (rc == -EINVAL) {
		rc = write_i64(dir, "memory.memsw.limit_in_bytes", limit, err);
		if (rc < 0)
			return rc;
		return write_i64(dir, "memory.limit_in_bytes", limit, err);
	}
	if (rc < 0)
		return rc;
	return write_i64(dir, "memory.memsw.limit_in_bytes", limit, err);
}

static int v1_set_limits(struct rt_cgroup *cg, const struct rt_cgroup_limits *lim,
			 struct kc_err *err)
{
	char dir[PATH_MAX];
	int rc;
	node_dir(cg, "cpu", dir, sizeof(dir));
	if (*dir && exists(dir, "cpu.shares")) {
		rc = write_i64(dir, "cpu.shares", lim->cpu_shares ? (long long)lim->cpu_shares : 1024,
			       err);
		if (rc < 0)
			return rc;
		if (exists(dir, "cpu.cfs_quota_us")) {
			uint64_t period = lim->cpu_period_us ? lim->cpu_period_us : 100000;
			rc = write_i64(dir, "cpu.cfs_period_us", (long long)period, err);
			if (rc < 0)
				return rc;
			rc = write_i64(dir, "cpu.cfs_quota_us",
				       lim->cpu_quota_us > 0 ? lim->cpu_quota_us : -1, err);
			if (rc < 0)
				return rc;
		}
	}
	node_dir(cg, "memory", dir, sizeof(dir));
	if (*dir && exists(dir, "memory.limit_in_bytes")) {
		rc = set_memory(dir, lim->memory_limit > 0 ? lim->memory_limit : -1, err);
		if (rc < 0)
			return rc;
	} else if (lim->memory_limit > 0) {
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "memory limit requested but the memory controller is not mounted");
	}
	node_dir(cg, "pids", dir, sizeof(dir));
	if (*dir && exists(dir, "pids.max")) {
		if (lim->pids_limit > 0)
			rc = write_i64(dir, "pids.max", lim->pids_limit, err);
		else
			rc = cg_write(dir, "pids.max", "max", err);
		if (rc < 0)
			return rc;
	} else if (lim->pids_limit > 0) {
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "pids limit requested but the pids controller is not mounted");
	}
	node_dir(cg, "devices", dir, sizeof(dir));
	if (lim->restrict_devices && *dir && exists(dir, "devices.deny")) {
		rc = cg_write(dir, "devices.deny", "a", err);
		if (rc < 0)
			return rc;
		for (size_t i = 0; i < rt_dev_ndefaults; i++) {
			char rule[32];
			rt_devrule_format(&rt_dev_defaults[i], rule, sizeof(rule));
			rc = cg_write(dir, "devices.allow", rule, err);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int join_in(struct rt_cgroup *cg, const char *base, const char *name, void *ctx,
		   struct kc_err *err)
{
	(void)name;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", base, cg->path);
	return cg_join_dir(dir, *(pid_t *)ctx, err);
}

static int v1_join(struct rt_cgroup *cg, pid_t pid, struct kc_err *err)
{
	return each_hierarchy(cg, join_in, &pid, err);
}

static int v1_stats(struct rt_cgroup *cg, struct rt_cgroup_stats *st, struct kc_err *err)
{
	char dir[PATH_MAX];
	node_dir(cg, "cpuacct", dir, sizeof(dir));
	if (*dir)
		cg_read_u64(dir, "cpuacct.usage", &st->cpu_usage_ns);
	node_dir(cg, "memory", dir, sizeof(dir));
	if (*dir) {
		if (access(dir, F_OK) < 0)
			return kc_err_set(err, -errno, "%s: %s", dir, strerror(errno));
		uint64_t inactive = 0, v = 0;
		cg_read_u64(dir, "memory.usage_in_bytes", &st->memory_usage);
		if (cg_read_keyed(dir, "memory.stat", "total_inactive_file", &inactive) < 0)
			cg_read_keyed(dir, "memory.stat", "inactive_file", &inactive);
		st->memory_working_set =
			st->memory_usage > inactive ? st->memory_usage - inactive : 0;
		if (cg_read_u64(dir, "memory.limit_in_bytes", &v) == 0 && v < (1ULL << 62))
			st->memory_limit = v;
		if (cg_read_keyed(dir, "memory.oom_control", "oom_kill", &v) == 0)
			st->oom_kills = v;
		if (cg_read_keyed(dir, "memory.oom_control", "under_oom", &v) == 0)
			st->under_oom = v != 0;
		cg_read_u64(dir, "memory.failcnt", &st->oom_events);
	}
	node_dir(cg, "pids", dir, sizeof(dir));
	if (*dir)
		cg_read_u64(dir, "pids.current", &st->pids_current);
	return 0;
}

/* The hierarchy used to find the processes: any one lists all of them. */
static void procs_dir(const struct rt_cgroup *cg, char *buf, size_t cap)
{
	static const char *const pref[] = { "pids", "memory", "freezer", "cpu", "devices" };
	for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++) {
		node_dir(cg, pref[i], buf, cap);
		if (*buf && access(buf, F_OK) == 0)
			return;
	}
	if (cg->mode == RT_CGROUP_HYBRID)
		snprintf(buf, cap, "%s/unified/%s", cg->root, cg->path);
	else
		buf[0] = '\0';
}

static int v1_kill(struct rt_cgroup *cg, int sig, struct kc_err *err)
{
	char dir[PATH_MAX];
	procs_dir(cg, dir, sizeof(dir));
	if (!*dir)
		return 0;
	int rc = cg_kill_dir(dir, sig);
	if (rc < 0)
		return kc_err_set(err, rc, "kill in %s: %s", dir, strerror(-rc));
	return rc;
}

static bool v1_populated(struct rt_cgroup *cg)
{
	char dir[PATH_MAX];
	procs_dir(cg, dir, sizeof(dir));
	return *dir && cg_populated_dir(dir);
}

static int remove_in(struct rt_cgroup *cg, const char *base, const char *name, void *ctx,
		     struct kc_err *err)
{
	(void)name;
	(void)ctx;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", base, cg->path);
	return cg_remove_dir(dir, err);
}

static int v1_destroy(struct rt_cgroup *cg, struct kc_err *err)
{
	v1_kill(cg, SIGKILL, NULL);
	return each_hierarchy(cg, remove_in, NULL, err);
}

const struct cg_backend cg_v1_backend = {
	.create = v1_create,
	.set_limits = v1_set_limits,
	.join = v1_join,
	.stats = v1_stats,
	.kill = v1_kill,
	.populated = v1_populated,
	.destroy = v1_destroy,
};
