/* DESIGN: the mode-independent half of kc's cgroups: detection, the handle, file helpers shared
 * by the backends, Kubernetes' conversions and QoS classes. The backend (cgroup_v1.c for legacy
 * and hybrid, cgroup_v2.c for unified) is chosen once per handle from the mode. No global state;
 * every function is reentrant. Nothing here follows symlinks out of the cgroup root except the
 * v1 aliases the kernel mounts ("cpu" -> "cpu,cpuacct"). */
#include "runtime/cgroup_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

int rt_cgroup_detect_mode(const char *root, enum rt_cgroup_mode *out, struct kc_err *err)
{
	struct statfs st;
	if (statfs(root, &st) < 0)
		return kc_err_set(err, -errno, "statfs %s: %s", root, strerror(errno));
	if ((unsigned long)st.f_type == CGROUP2_SUPER_MAGIC) {
		*out = RT_CGROUP_UNIFIED;
		return 0;
	}
	if ((unsigned long)st.f_type != TMPFS_MAGIC)
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "%s is neither cgroup2 nor a tmpfs of v1 hierarchies", root);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/unified", root);
	if (statfs(path, &st) == 0 && (unsigned long)st.f_type == CGROUP2_SUPER_MAGIC)
		*out = RT_CGROUP_HYBRID;
	else
		*out = RT_CGROUP_LEGACY;
	return 0;
}

const char *rt_cgroup_mode_name(enum rt_cgroup_mode mode)
{
	switch (mode) {
	case RT_CGROUP_LEGACY:
		return "legacy";
	case RT_CGROUP_HYBRID:
		return "hybrid";
	case RT_CGROUP_UNIFIED:
		return "unified";
	}
	return "unknown";
}

static bool clean_relative(const char *p)
{
	if (!p || !*p || *p == '/' || strlen(p) > 1024)
		return false;
	const char *s = p;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (*s == '/')
			s++;
		else
			break;
	}
	return p[strlen(p) - 1] != '/';
}

struct rt_cgroup *rt_cgroup_new(const char *root, enum rt_cgroup_mode mode, const char *path)
{
	if (!clean_relative(path) || !root || !*root)
		return NULL;
	struct rt_cgroup *cg = xcalloc(1, sizeof(*cg));
	cg->mode = mode;
	cg->root = xstrdup(root);
	cg->path = xstrdup(path);
	cg->be = mode == RT_CGROUP_UNIFIED ? &cg_v2_backend : &cg_v1_backend;
	return cg;
}

void rt_cgroup_free(struct rt_cgroup *cg)
{
	if (!cg)
		return;
	free(cg->root);
	free(cg->path);
	free(cg);
}

const char *rt_cgroup_path(const struct rt_cgroup *cg)
{
	return cg->path;
}

enum rt_cgroup_mode rt_cgroup_mode(const struct rt_cgroup *cg)
{
	return cg->mode;
}

int rt_cgroup_create(struct rt_cgroup *cg, const struct rt_cgroup_limits *lim, struct kc_err *err)
{
	int rc = cg->be->create(cg, err);
	if (rc < 0)
		return rc;
	struct rt_cgroup_limits none = { 0 };
	return cg->be->set_limits(cg, lim ? lim : &none, err);
}

int rt_cgroup_set_limits(struct rt_cgroup *cg, const struct rt_cgroup_limits *lim,
			 struct kc_err *err)
{
	return cg->be->set_limits(cg, lim, err);
}

int rt_cgroup_join(struct rt_cgroup *cg, pid_t pid, struct kc_err *err)
{
	return cg->be->join(cg, pid, err);
}

int rt_cgroup_stats(struct rt_cgroup *cg, struct rt_cgroup_stats *st, struct kc_err *err)
{
	memset(st, 0, sizeof(*st));
	return cg->be->stats(cg, st, err);
}

int rt_cgroup_kill(struct rt_cgroup *cg, int sig, struct kc_err *err)
{
	return cg->be->kill(cg, sig, err);
}

bool rt_cgroup_populated(struct rt_cgroup *cg)
{
	return cg->be->populated(cg);
}

int rt_cgroup_destroy(struct rt_cgroup *cg, struct kc_err *err)
{
	return cg->be->destroy(cg, err);
}

/* ---- file helpers ---------------------------------------------------------------------- */

int cg_write(const char *dir, const char *file, const char *val, struct kc_err *err)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return kc_err_set(err, -ENAMETOOLONG, "cgroup path too long: %s", dir);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return kc_err_set(err, -errno, "open %s: %s", path, strerror(errno));
	size_t n = strlen(val);
	ssize_t w = write(fd, val, n);
	int e = errno;
	close(fd);
	if (w < 0)
		return kc_err_set(err, -e, "write \"%s\" to %s: %s", val, path, strerror(e));
	if ((size_t)w != n)
		return kc_err_set(err, -EIO, "short write to %s", path);
	return 0;
}

ssize_t cg_read(const char *dir, const char *file, char *buf, size_t cap)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out)
{
	char buf[64];
	ssize_t n = cg_read(dir, file, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (strncmp(buf, "max", 3) == 0) {
		*out = 0;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	*out = v;
	return 0;
}

int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out)
{
	char buf[8192];
	ssize_t n = cg_read(dir, file, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	size_t kl = strlen(key);
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			*out = strtoull(line + kl + 1, NULL, 10);
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int cg_mkdir_path(const char *base, const char *path,
		  int (*on_new)(const char *parent, const char *dir, void *ctx, struct kc_err *err),
		  void *ctx, struct kc_err *err)
{
	char dir[PATH_MAX];
	size_t bl = strlen(base);
	if (bl + 1 + strlen(path) >= sizeof(dir))
		return kc_err_set(err, -ENAMETOOLONG, "cgroup path too long: %s", path);
	memcpy(dir, base, bl);
	dir[bl] = '\0';
	const char *s = path;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		char parent[PATH_MAX];
		memcpy(parent, dir, strlen(dir) + 1);
		size_t dl = strlen(dir);
		dir[dl] = '/';
		memcpy(dir + dl + 1, s, n);
		dir[dl + 1 + n] = '\0';
		if (mkdir(dir, 0755) == 0) {
			if (on_new) {
				int rc = on_new(parent, dir, ctx, err);
				if (rc < 0)
					return rc;
			}
		} else if (errno != EEXIST) {
			return kc_err_set(err, -errno, "mkdir %s: %s", dir, strerror(errno));
		}
		s += n;
		if (*s == '/')
			s++;
	}
	return 0;
}

int cg_join_dir(const char *dir, pid_t pid, struct kc_err *err)
{
	char v[32];
	snprintf(v, sizeof(v), "%d", (int)pid);
	return cg_write(dir, "cgroup.procs", v, err);
}

/* Calls fn for dir and every subdirectory (depth first, children before dir when post). */
static int walk(const char *dir, bool post, int depth,
		int (*fn)(const char *dir, void *ctx), void *ctx)
{
	int total = 0;
	if (!post) {
		int rc = fn(dir, ctx);
		if (rc < 0)
			return rc;
		total += rc;
	}
	DIR *d = depth < 16 ? opendir(dir) : NULL;
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			char sub[PATH_MAX];
			if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= sizeof(sub))
				continue;
			int rc = walk(sub, post, depth + 1, fn, ctx);
			if (rc > 0)
				total += rc;
		}
		closedir(d);
	} else if (errno == ENOENT && depth == 0) {
		return -ENOENT;
	}
	if (post) {
		int rc = fn(dir, ctx);
		if (rc < 0)
			return rc;
		total += rc;
	}
	return total;
}

static int kill_procs(const char *dir, void *ctx)
{
	int sig = *(int *)ctx;
	char buf[65536];
	ssize_t n = cg_read(dir, "cgroup.procs", buf, sizeof(buf));
	if (n < 0)
		return 0;
	int count = 0;
	for (char *p = buf; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0 && kill((pid_t)pid, sig) == 0)
			count++;
		p = end;
		while (*p == '\n')
			p++;
	}
	return count;
}

int cg_kill_dir(const char *dir, int sig)
{
	int rc = walk(dir, false, 0, kill_procs, &sig);
	return rc == -ENOENT ? 0 : rc;
}

static int has_procs(const char *dir, void *ctx)
{
	(void)ctx;
	char buf[16];
	ssize_t n = cg_read(dir, "cgroup.procs", buf, sizeof(buf));
	return n > 0 ? 1 : 0;
}

bool cg_populated_dir(const char *dir)
{
	return walk(dir, false, 0, has_procs, NULL) > 0;
}

static int rmdir_one(const char *dir, void *ctx)
{
	(void)ctx;
	for (int i = 0; i < 500; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		int sig = SIGKILL;
		kill_procs(dir, &sig);
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}

int cg_remove_dir(const char *dir, struct kc_err *err)
{
	int rc = walk(dir, true, 0, rmdir_one, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return kc_err_set(err, rc, "rmdir %s: %s", dir, strerror(-rc));
	return 0;
}

/* ---- Kubernetes conversions and QoS ------------------------------------------------------ */

#define MIN_SHARES 2
#define MAX_SHARES 262144
#define MIN_QUOTA_US 1000

/* ---- the machine ---- */

/* "key: value kB" from meminfo text; -1 when absent. */
static long long meminfo_kb(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, key, kl) && l[kl] == ':') {
			char *end;
			long long v = strtoll(l + kl + 1, &end, 10);
			return end == l + kl + 1 || v < 0 ? -1 : v;
		}
	}
	return -1;
}

int rt_host_usage(const char *proc, struct rt_host_usage *out, struct kc_err *err)
{
	memset(out, 0, sizeof *out);
	char buf[8192];
	ssize_t n = cg_read(proc, "stat", buf, sizeof buf);
	if (n < 0)
		return kc_err_set(err, (int)n, "read %s/stat: %s", proc, strerror((int)-n));
	unsigned long long f[8] = { 0 };
	if (strncmp(buf, "cpu ", 4) ||
	    sscanf(buf + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3],
		   &f[4], &f[5], &f[6], &f[7]) < 4)
		return kc_err_set(err, -KC_EPARSE, "%s/stat: no cpu line", proc);
	/* user nice system idle iowait irq softirq steal: all but idle and iowait are busy */
	unsigned long long ticks = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	out->cpu_usage_ns = (uint64_t)(ticks * (1000000000ULL / (unsigned long long)hz));
	n = cg_read(proc, "meminfo", buf, sizeof buf);
	if (n < 0)
		return kc_err_set(err, (int)n, "read %s/meminfo: %s", proc, strerror((int)-n));
	long long total = meminfo_kb(buf, "MemTotal"), free_ = meminfo_kb(buf, "MemFree");
	long long inactive = meminfo_kb(buf, "Inactive(file)");
	if (total < 0 || free_ < 0)
		return kc_err_set(err, -KC_EPARSE, "%s/meminfo: no MemTotal or MemFree", proc);
	long long ws = total - free_ - (inactive > 0 ? inactive : 0);
	out->memory_working_set = ws > 0 ? (uint64_t)ws * 1024 : 0;
	return 0;
}

uint64_t rt_cpu_shares_from_milli(int64_t milli)
{
	if (milli <= 0)
		return MIN_SHARES;
	int64_t shares = milli * 1024 / 1000;
	if (shares < MIN_SHARES)
		return MIN_SHARES;
	if (shares > MAX_SHARES)
		return MAX_SHARES;
	return (uint64_t)shares;
}

int64_t rt_cpu_quota_from_milli(int64_t milli, uint64_t period_us)
{
	if (milli <= 0)
		return -1;
	if (period_us == 0)
		period_us = 100000;
	int64_t quota = milli * (int64_t)period_us / 1000;
	return quota < MIN_QUOTA_US ? MIN_QUOTA_US : quota;
}

uint64_t rt_cpu_weight_from_shares(uint64_t shares)
{
	if (shares == 0)
		return 0;
	if (shares <= 2)
		return 1;
	if (shares >= MAX_SHARES)
		return 10000;
	double l = log2((double)shares);
	double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
	/* The formula is exact at powers of two of the curve's anchors (1024 → 100): a rounding
	 * error of a few ulps must not push ceil() one step up. */
	return (uint64_t)ceil(pow(10, exponent) - 1e-9);
}

static bool given(int64_t v)
{
	return v > 0;
}

enum rt_qos rt_qos_class(const struct rt_resources *c, size_t n)
{
	int64_t req_cpu = 0, req_mem = 0, lim_cpu = 0, lim_mem = 0;
	bool has_req_cpu = false, has_req_mem = false, has_lim_cpu = false, has_lim_mem = false;
	bool guaranteed = true;
	for (size_t i = 0; i < n; i++) {
		if (given(c[i].cpu_request_milli)) {
			has_req_cpu = true;
			req_cpu += c[i].cpu_request_milli;
		}
		if (given(c[i].memory_request)) {
			has_req_mem = true;
			req_mem += c[i].memory_request;
		}
		if (given(c[i].cpu_limit_milli)) {
			has_lim_cpu = true;
			lim_cpu += c[i].cpu_limit_milli;
		}
		if (given(c[i].memory_limit)) {
			has_lim_mem = true;
			lim_mem += c[i].memory_limit;
		}
		if (!given(c[i].cpu_limit_milli) || !given(c[i].memory_limit))
			guaranteed = false;
	}
	if (!has_req_cpu && !has_req_mem && !has_lim_cpu && !has_lim_mem)
		return RT_QOS_BESTEFFORT;
	if (guaranteed) {
		if (has_req_cpu && (!has_lim_cpu || lim_cpu != req_cpu))
			guaranteed = false;
		if (has_req_mem && (!has_lim_mem || lim_mem != req_mem))
			guaranteed = false;
	}
	int nreq = has_req_cpu + has_req_mem, nlim = has_lim_cpu + has_lim_mem;
	if (guaranteed && nreq == nlim)
		return RT_QOS_GUARANTEED;
	return RT_QOS_BURSTABLE;
}

const char *rt_qos_name(enum rt_qos qos)
{
	switch (qos) {
	case RT_QOS_GUARANTEED:
		return "Guaranteed";
	case RT_QOS_BURSTABLE:
		return "Burstable";
	case RT_QOS_BESTEFFORT:
		return "BestEffort";
	}
	return "BestEffort";
}

void rt_container_limits(const struct rt_resources *c, struct rt_cgroup_limits *out)
{
	memset(out, 0, sizeof(*out));
	/* kubelet: requests default to limits; no request at all → MinShares */
	int64_t req = given(c->cpu_request_milli) ? c->cpu_request_milli
		      : given(c->cpu_limit_milli) ? c->cpu_limit_milli : 0;
	out->cpu_shares = rt_cpu_shares_from_milli(req);
	out->cpu_period_us = 100000;
	out->cpu_quota_us = rt_cpu_quota_from_milli(c->cpu_limit_milli, out->cpu_period_us);
	out->memory_limit = given(c->memory_limit) ? c->memory_limit : -1;
	out->pids_limit = -1;
	out->restrict_devices = true;
}

void rt_pod_limits(const struct rt_resources *c, size_t n, struct rt_cgroup_limits *out)
{
	memset(out, 0, sizeof(*out));
	int64_t req_cpu = 0, lim_cpu = 0, lim_mem = 0;
	bool all_cpu = n > 0, all_mem = n > 0;
	for (size_t i = 0; i < n; i++) {
		int64_t r = given(c[i].cpu_request_milli) ? c[i].cpu_request_milli
			    : given(c[i].cpu_limit_milli) ? c[i].cpu_limit_milli : 0;
		req_cpu += r;
		if (given(c[i].cpu_limit_milli))
			lim_cpu += c[i].cpu_limit_milli;
		else
			all_cpu = false;
		if (given(c[i].memory_limit))
			lim_mem += c[i].memory_limit;
		else
			all_mem = false;
	}
	out->cpu_shares = rt_cpu_shares_from_milli(req_cpu);
	out->cpu_period_us = 100000;
	out->cpu_quota_us = all_cpu ? rt_cpu_quota_from_milli(lim_cpu, 100000) : -1;
	out->memory_limit = all_mem ? lim_mem : -1;
	out->pids_limit = -1;
}

int rt_cgroup_pod_path(char *buf, size_t cap, const char *top, enum rt_qos qos, const char *uid)
{
	if (!uid || !*uid || strchr(uid, '/') || strcmp(uid, "..") == 0 || strcmp(uid, ".") == 0 ||
	    !top || !*top)
		return -KC_EINVAL;
	int n;
	if (qos == RT_QOS_GUARANTEED)
		n = snprintf(buf, cap, "%s/pod%s", top, uid);
	else
		n = snprintf(buf, cap, "%s/%s/pod%s", top,
			     qos == RT_QOS_BURSTABLE ? "burstable" : "besteffort", uid);
	return n < 0 || (size_t)n >= cap ? -KC_ETOOBIG : 0;
}
