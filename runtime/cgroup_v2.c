/* DESIGN: the cgroup v2 backend (unified mode). One tree at the root. Controllers are enabled in
 * cgroup.subtree_control of every ancestor of a node, one controller per write so that one the
 * kernel refuses (cpu while realtime tasks exist: EINVAL) does not block the others; a node's own
 * subtree_control is never touched, which keeps leaves eligible for processes ("no internal
 * processes"). Devices are filtered by an eBPF program on the node (devfilter.h). Reentrant; no
 * state besides the handle and a warn-once flag. */
#include "runtime/cgroup_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "runtime/devfilter.h"

static const char *const wanted[] = { "cpuset", "cpu", "io", "memory", "pids", "hugetlb" };

static void node(const struct rt_cgroup *cg, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", cg->root, cg->path);
}

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *s = list; *s;) {
		while (*s == ' ' || *s == '\n')
			s++;
		size_t l = strcspn(s, " \n");
		if (l == n && strncmp(s, name, n) == 0)
			return true;
		s += l;
	}
	return false;
}

static int enable_controllers(const char *dir, struct kc_err *err)
{
	char avail[1024], on[1024];
	if (cg_read(dir, "cgroup.controllers", avail, sizeof(avail)) < 0)
		return 0; /* nothing to delegate (or not a cgroup2 dir) */
	if (cg_read(dir, "cgroup.subtree_control", on, sizeof(on)) < 0)
		on[0] = '\0';
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		if (!listed(avail, wanted[i]) || listed(on, wanted[i]))
			continue;
		char v[32];
		snprintf(v, sizeof(v), "+%s", wanted[i]);
		struct kc_err e2 = { 0 };
		int rc = cg_write(dir, "cgroup.subtree_control", v, &e2);
		/* cpu with realtime tasks: EINVAL; keep going without it (crun does the same) */
		if (rc < 0 && !(rc == -EINVAL && strcmp(wanted[i], "cpu") == 0)) {
			if (err)
				*err = e2;
			return rc;
		}
	}
	return 0;
}

static int v2_create(struct rt_cgroup *cg, struct kc_err *err)
{
	int rc = cg_mkdir_path(cg->root, cg->path, NULL, NULL, err);
	if (rc < 0)
		return rc;
	/* root and every ancestor of the node, top down */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", cg->root);
	rc = enable_controllers(dir, err);
	const char *s = cg->path;
	for (;;) {
		const char *e = strchr(s, '/');
		if (!e || rc < 0)
			break;
		size_t dl = strlen(dir);
		snprintf(dir + dl, sizeof(dir) - dl, "/%.*s", (int)(e - s), s);
		rc = enable_controllers(dir, err);
		s = e + 1;
	}
	return rc;
}

/* The allow list is always the defaults, so a program already attached to the node is ours and
 * the same: attaching only when there is none keeps set_limits idempotent. A kernel without
 * bpf(2), or no permission for it (rootless), leaves containers unrestricted as runc does, with
 * one warning per process; any other failure fails. */
static int restrict_devices(const char *dir, struct kc_err *err)
{
	static atomic_flag warned = ATOMIC_FLAG_INIT;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kc_err_set(err, -errno, "open %s: %s", dir, strerror(errno));
	struct kc_err e = { 0 };
	int rc = rt_devfilter_count(fd, &e);
	if (rc == 0)
		rc = rt_devfilter_attach(fd, rt_dev_defaults, rt_dev_ndefaults, &e);
	close(fd);
	if (rc == -EPERM || rc == -ENOSYS) {
		if (!atomic_flag_test_and_set(&warned))
			log_warn("no device restriction for containers on cgroup v2 dir=%s err=%s",
				 dir, e.msg);
		return 0;
	}
	if (rc < 0)
		return kc_err_set(err, rc, "restrict devices of %s: %s", dir, e.msg);
	return 0;
}

static int v2_set_limits(struct rt_cgroup *cg, const struct rt_cgroup_limits *lim,
			 struct kc_err *err)
{
	char dir[PATH_MAX], v[64];
	int rc;
	node(cg, dir, sizeof(dir));
	char ctrls[1024];
	if (cg_read(dir, "cgroup.controllers", ctrls, sizeof(ctrls)) < 0)
		ctrls[0] = '\0';
	if (listed(ctrls, "cpu")) {
		uint64_t w = rt_cpu_weight_from_shares(lim->cpu_shares);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)(w ? w : 100));
		rc = cg_write(dir, "cpu.weight", v, err);
		if (rc < 0)
			return rc;
		uint64_t period = lim->cpu_period_us ? lim->cpu_period_us : 100000;
		if (lim->cpu_quota_us > 0)
			snprintf(v, sizeof(v), "%lld %llu", (long long)lim->cpu_quota_us,
				 (unsigned long long)period);
		else
			snprintf(v, sizeof(v), "max %llu", (unsigned long long)period);
		rc = cg_write(dir, "cpu.max", v, err);
		if (rc < 0)
			return rc;
	} else if (lim->cpu_quota_us > 0) {
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "cpu limit requested but the cpu controller is not enabled in %s",
				  dir);
	}
	if (listed(ctrls, "memory")) {
		if (lim->memory_limit > 0)
			snprintf(v, sizeof(v), "%lld", (long long)lim->memory_limit);
		else
			snprintf(v, sizeof(v), "max");
		rc = cg_write(dir, "memory.max", v, err);
		if (rc < 0)
			return rc;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/memory.swap.max", dir);
		if (access(p, F_OK) == 0) {
			rc = cg_write(dir, "memory.swap.max", lim->memory_limit > 0 ? "0" : "max", err);
			if (rc < 0)
				return rc;
		}
	} else if (lim->memory_limit > 0) {
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "memory limit requested but the memory controller is not enabled in %s",
				  dir);
	}
	if (listed(ctrls, "pids")) {
		if (lim->pids_limit > 0)
			snprintf(v, sizeof(v), "%lld", (long long)lim->pids_limit);
		else
			snprintf(v, sizeof(v), "max");
		rc = cg_write(dir, "pids.max", v, err);
		if (rc < 0)
			return rc;
	} else if (lim->pids_limit > 0) {
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "pids limit requested but the pids controller is not enabled in %s",
				  dir);
	}
	if (lim->restrict_devices)
		return restrict_devices(dir, err);
	return 0;
}

static int v2_join(struct rt_cgroup *cg, pid_t pid, struct kc_err *err)
{
	char dir[PATH_MAX];
	node(cg, dir, sizeof(dir));
	return cg_join_dir(dir, pid, err);
}

static int v2_stats(struct rt_cgroup *cg, struct rt_cgroup_stats *st, struct kc_err *err)
{
	char dir[PATH_MAX];
	node(cg, dir, sizeof(dir));
	if (access(dir, F_OK) < 0)
		return kc_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	uint64_t v = 0;
	if (cg_read_keyed(dir, "cpu.stat", "usage_usec", &v) == 0)
		st->cpu_usage_ns = v * 1000;
	cg_read_u64(dir, "memory.current", &st->memory_usage);
	uint64_t inactive = 0;
	cg_read_keyed(dir, "memory.stat", "inactive_file", &inactive);
	st->memory_working_set = st->memory_usage > inactive ? st->memory_usage - inactive : 0;
	if (cg_read_u64(dir, "memory.max", &v) == 0)
		st->memory_limit = v;
	if (cg_read_keyed(dir, "memory.events", "oom_kill", &v) == 0)
		st->oom_kills = v;
	if (cg_read_keyed(dir, "memory.events", "oom", &v) == 0)
		st->oom_events = v;
	cg_read_u64(dir, "pids.current", &st->pids_current);
	return 0;
}

static int v2_kill(struct rt_cgroup *cg, int sig, struct kc_err *err)
{
	char dir[PATH_MAX];
	node(cg, dir, sizeof(dir));
	if (sig == SIGKILL) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/cgroup.kill", dir);
		if (access(p, F_OK) == 0 && cg_write(dir, "cgroup.kill", "1", NULL) == 0)
			return 1;
	}
	int rc = cg_kill_dir(dir, sig);
	if (rc < 0)
		return kc_err_set(err, rc, "kill in %s: %s", dir, strerror(-rc));
	return rc;
}

static bool v2_populated(struct rt_cgroup *cg)
{
	char dir[PATH_MAX];
	node(cg, dir, sizeof(dir));
	uint64_t v = 0;
	if (cg_read_keyed(dir, "cgroup.events", "populated", &v) == 0)
		return v != 0;
	return cg_populated_dir(dir);
}

static int v2_destroy(struct rt_cgroup *cg, struct kc_err *err)
{
	char dir[PATH_MAX];
	node(cg, dir, sizeof(dir));
	v2_kill(cg, SIGKILL, NULL);
	return cg_remove_dir(dir, err);
}

const struct cg_backend cg_v2_backend = {
	.create = v2_create,
	.set_limits = v2_set_limits,
	.join = v2_join,
	.stats = v2_stats,
	.kill = v2_kill,
	.populated = v2_populated,
	.destroy = v2_destroy,
};
