/* cgroup.h - container cgroups for cgroup v1 (legacy), hybrid and v2 (unified): mode detection,
 * kc's hierarchy, limits, joining, usage and OOM statistics, kill and destroy; QoS classes.
 *
 * kc's hierarchy (cgroupfs driver, the names kubelet uses with "kubepods" renamed "kc"):
 *     <root>/<top>/pod<uid>/<leaf>              Guaranteed pods
 *     <root>/<top>/burstable/pod<uid>/<leaf>    Burstable pods
 *     <root>/<top>/besteffort/pod<uid>/<leaf>   BestEffort pods
 * where <root> is /sys/fs/cgroup (v2) or /sys/fs/cgroup/<controller> for every v1 hierarchy (plus
 * /sys/fs/cgroup/unified in hybrid mode, which only tracks processes), <top> is "kc" in
 * production (tests use "kc-test-<pid>"), and <leaf> is "<container name>-<restart count>" so
 * that a restarted container never shares a cgroup with its predecessor's leftovers.
 * In hybrid mode the controllers belong to v1, so every limit goes to v1 files. */
#ifndef KC_RUNTIME_CGROUP_H
#define KC_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

#define RT_CGROUP_ROOT "/sys/fs/cgroup"
#define RT_CGROUP_TOP "kc"

enum rt_cgroup_mode {
	RT_CGROUP_LEGACY = 1, /* tmpfs with v1 hierarchies only */
	RT_CGROUP_HYBRID,     /* v1 hierarchies plus cgroup2 at <root>/unified */
	RT_CGROUP_UNIFIED,    /* cgroup2 at <root> */
};

/* Detects the mode exactly as crun does: statfs(root) is cgroup2 → unified; otherwise it must be
 * tmpfs, and <root>/unified being cgroup2 makes it hybrid, else legacy. Returns 0 or a negative
 * code with err filled (root missing, or neither cgroup2 nor tmpfs). */
int rt_cgroup_detect_mode(const char *root, enum rt_cgroup_mode *out, struct kc_err *err);
const char *rt_cgroup_mode_name(enum rt_cgroup_mode mode);

/* Resource limits. Zero or negative fields mean "no limit / leave the default"; applying a
 * limits struct resets fields that are unset (memory back to -1 / "max", quota to -1 / "max"). */
struct rt_cgroup_limits {
	uint64_t cpu_shares;    /* v1 cpu.shares; v2 cpu.weight through rt_cpu_weight_from_shares */
	int64_t cpu_quota_us;   /* cfs quota per period; <= 0: unlimited */
	uint64_t cpu_period_us; /* 0: 100000 */
	int64_t memory_limit;   /* bytes; <= 0: unlimited. Swap is limited to nothing beyond it. */
	int64_t pids_limit;     /* <= 0: unlimited */
	bool restrict_devices;  /* deny all devices but rt_dev_defaults (v1 devices, v2 eBPF) */
};

struct rt_cgroup_stats {
	uint64_t cpu_usage_ns;      /* cumulative CPU time of every process ever in the cgroup */
	uint64_t memory_usage;      /* bytes charged, page cache included */
	uint64_t memory_working_set; /* usage minus inactive file pages, as kubelet reports it */
	uint64_t memory_limit;      /* 0: unlimited */
	uint64_t pids_current;
	uint64_t oom_kills;         /* processes killed by the OOM killer in this cgroup */
	uint64_t oom_events;        /* times the limit was reached (v2 "oom", v1 memory.failcnt) */
	bool under_oom;             /* v1 only: the cgroup is in OOM right now */
};

/* A cgroup node in every hierarchy of the machine (opaque). */
struct rt_cgroup;

/* Describes the cgroup at 'path' (relative, no "..": "kc/burstable/pod<uid>/c-0") under 'root'
 * in the given mode; touches nothing. Returns NULL when path is not a clean relative path. Free
 * with rt_cgroup_free (NULL is a no-op); freeing does not remove the cgroup. */
struct rt_cgroup *rt_cgroup_new(const char *root, enum rt_cgroup_mode mode, const char *path);
void rt_cgroup_free(struct rt_cgroup *cg);
const char *rt_cgroup_path(const struct rt_cgroup *cg);
enum rt_cgroup_mode rt_cgroup_mode(const struct rt_cgroup *cg);

/* Creates the node and its missing ancestors in every hierarchy (v1: cpuset.cpus/mems copied
 * from the parent at each new level; v2: the controllers enabled in cgroup.subtree_control of
 * every ancestor, never of the node itself), then applies lim (NULL: no limits). Idempotent.
 * Returns 0 or a negative code with err naming the file. */
int rt_cgroup_create(struct rt_cgroup *cg, const struct rt_cgroup_limits *lim, struct kc_err *err);
/* Applies lim to an existing node (see struct rt_cgroup_limits for unset fields). */
int rt_cgroup_set_limits(struct rt_cgroup *cg, const struct rt_cgroup_limits *lim,
			 struct kc_err *err);
/* Moves pid (0: the caller) into the node in every hierarchy. */
int rt_cgroup_join(struct rt_cgroup *cg, pid_t pid, struct kc_err *err);
/* Reads usage and OOM counters. Missing files leave their fields 0. */
int rt_cgroup_stats(struct rt_cgroup *cg, struct rt_cgroup_stats *st, struct kc_err *err);
/* The whole machine's usage as kubelet reports the node's: cumulative CPU time of every CPU
 * from <proc>/stat (user+nice+system+irq+softirq+steal, USER_HZ ticks converted to ns) and the
 * memory working set from <proc>/meminfo (MemTotal - MemFree - Inactive(file), as cAdvisor's
 * usage minus inactive_file of the root cgroup). proc is "/proc" outside tests. Returns 0 or a
 * negative code with err naming the file. */
struct rt_host_usage {
	uint64_t cpu_usage_ns;
	uint64_t memory_working_set;
};
int rt_host_usage(const char *proc, struct rt_host_usage *out, struct kc_err *err);
/* Sends sig to every process in the node and below (v2 SIGKILL: cgroup.kill when the kernel
 * has it). Returns the number of processes signalled (cgroup.kill counts as 1), or a negative
 * code. */
int rt_cgroup_kill(struct rt_cgroup *cg, int sig, struct kc_err *err);
/* Whether any process is left in the node or below. */
bool rt_cgroup_populated(struct rt_cgroup *cg);
/* SIGKILLs what is left and removes the node and its descendants in every hierarchy (rmdir
 * retried on EBUSY for up to ~5 s, killing in between). A node that does not exist is fine.
 * Ancestors stay. Returns 0 or a negative code. */
int rt_cgroup_destroy(struct rt_cgroup *cg, struct kc_err *err);

/* Kubernetes' conversions (pkg/kubelet/cm/helpers_linux.go): cpu request in millicores →
 * shares (0 → 2, clamped to [2, 262144]); cpu limit → cfs quota for a period (0 → -1: none;
 * at least 1000 µs). crun's shares → v2 cpu.weight (2 → 1, 1024 → 100, 262144 → 10000). */
uint64_t rt_cpu_shares_from_milli(int64_t milli);
int64_t rt_cpu_quota_from_milli(int64_t milli, uint64_t period_us);
uint64_t rt_cpu_weight_from_shares(uint64_t shares);

/* QoS classes, computed as Kubernetes' GetPodQOS does from every container (init containers
 * included) of the pod. */
enum rt_qos { RT_QOS_GUARANTEED = 0, RT_QOS_BURSTABLE, RT_QOS_BESTEFFORT };

/* One container's cpu (millicores) and memory (bytes) requests and limits; -1 when not given.
 * A zero quantity counts as not given, as in Kubernetes. */
struct rt_resources {
	int64_t cpu_request_milli;
	int64_t cpu_limit_milli;
	int64_t memory_request;
	int64_t memory_limit;
};
#define RT_RESOURCES_NONE { -1, -1, -1, -1 }

enum rt_qos rt_qos_class(const struct rt_resources *containers, size_t n);
/* "Guaranteed", "Burstable", "BestEffort" (the status.qosClass values). */
const char *rt_qos_name(enum rt_qos qos);

/* The pod-level limits kubelet applies to pod<uid>: shares from the summed cpu requests, quota
 * when every container has a cpu limit, memory when every container has a memory limit. */
void rt_pod_limits(const struct rt_resources *containers, size_t n, struct rt_cgroup_limits *out);
/* The same for one container. */
void rt_container_limits(const struct rt_resources *c, struct rt_cgroup_limits *out);

/* Writes "<top>/pod<uid>" or "<top>/<qos>/pod<uid>" into buf. Returns 0, or -KC_ETOOBIG /
 * -KC_EINVAL (uid with '/' or "..", empty). */
int rt_cgroup_pod_path(char *buf, size_t cap, const char *top, enum rt_qos qos, const char *uid);

#endif
