/* Unit tests for runtime/cgroup: Kubernetes' conversions and QoS classes, the v1 and v2 backends
 * against fake cgroup roots (plain directories), and, as root, real cgroups in a private subtree
 * kc-test-<pid> of the machine's v1 hierarchies and of its cgroup2 tree. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/devfilter.h"

static void put(const char *dir, const char *file, const char *text)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *dir, const char *file)
{
	static char buf[4096];
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	FILE *f = fopen(p, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void rm_rf(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_conversions(void **state)
{
	assert_int_equal(rt_cpu_shares_from_milli(0), 2);
	assert_int_equal(rt_cpu_shares_from_milli(1), 2);
	assert_int_equal(rt_cpu_shares_from_milli(100), 102);
	assert_int_equal(rt_cpu_shares_from_milli(1000), 1024);
	assert_int_equal(rt_cpu_shares_from_milli(500000), 262144);
	assert_int_equal(rt_cpu_quota_from_milli(0, 100000), -1);
	assert_int_equal(rt_cpu_quota_from_milli(500, 100000), 50000);
	assert_int_equal(rt_cpu_quota_from_milli(1, 100000), 1000);
	assert_int_equal(rt_cpu_quota_from_milli(2500, 0), 250000);
	assert_int_equal(rt_cpu_weight_from_shares(0), 0);
	assert_int_equal(rt_cpu_weight_from_shares(2), 1);
	assert_int_equal(rt_cpu_weight_from_shares(1024), 100);
	assert_int_equal(rt_cpu_weight_from_shares(262144), 10000);
	assert_int_equal(rt_cpu_weight_from_shares(102), 17);
	/* monotonic */
	uint64_t last = 0;
	for (uint64_t s = 2; s <= 262144; s = s * 3 / 2 + 1) {
		uint64_t w = rt_cpu_weight_from_shares(s);
		assert_true(w >= last && w >= 1 && w <= 10000);
		last = w;
	}
}

static void test_qos(void **state)
{
	struct rt_resources none = RT_RESOURCES_NONE;
	assert_int_equal(rt_qos_class(&none, 1), RT_QOS_BESTEFFORT);
	assert_int_equal(rt_qos_class(NULL, 0), RT_QOS_BESTEFFORT);
	struct rt_resources g = { 500, 500, 64 << 20, 64 << 20 };
	assert_int_equal(rt_qos_class(&g, 1), RT_QOS_GUARANTEED);
	struct rt_resources two[2] = { g, g };
	assert_int_equal(rt_qos_class(two, 2), RT_QOS_GUARANTEED);
	two[1].memory_limit = -1; /* one container without a memory limit */
	assert_int_equal(rt_qos_class(two, 2), RT_QOS_BURSTABLE);
	struct rt_resources b = { 100, -1, -1, -1 };
	assert_int_equal(rt_qos_class(&b, 1), RT_QOS_BURSTABLE);
	struct rt_resources diff = { 250, 500, 64 << 20, 64 << 20 };
	assert_int_equal(rt_qos_class(&diff, 1), RT_QOS_BURSTABLE);
	struct rt_resources zero = { 0, 0, 0, 0 }; /* zero quantities do not count */
	assert_int_equal(rt_qos_class(&zero, 1), RT_QOS_BESTEFFORT);
	struct rt_resources mix[2] = { RT_RESOURCES_NONE, { -1, -1, 10, -1 } };
	assert_int_equal(rt_qos_class(mix, 2), RT_QOS_BURSTABLE);
	assert_string_equal(rt_qos_name(RT_QOS_BESTEFFORT), "BestEffort");

	char buf[128];
	assert_int_equal(rt_cgroup_pod_path(buf, sizeof(buf), "kc", RT_QOS_GUARANTEED, "u1"), 0);
	assert_string_equal(buf, "kc/podu1");
	assert_int_equal(rt_cgroup_pod_path(buf, sizeof(buf), "kc", RT_QOS_BURSTABLE, "u1"), 0);
	assert_string_equal(buf, "kc/burstable/podu1");
	assert_int_equal(rt_cgroup_pod_path(buf, sizeof(buf), "kc", RT_QOS_BESTEFFORT, "u1"), 0);
	assert_string_equal(buf, "kc/besteffort/podu1");
	assert_int_equal(rt_cgroup_pod_path(buf, sizeof(buf), "kc", RT_QOS_BESTEFFORT, "a/b"),
			 -KC_EINVAL);
	assert_int_equal(rt_cgroup_pod_path(buf, 8, "kc", RT_QOS_BESTEFFORT, "long-uid"),
			 -KC_ETOOBIG);

	struct rt_cgroup_limits l;
	rt_container_limits(&diff, &l);
	assert_int_equal(l.cpu_shares, 256);
	assert_int_equal(l.cpu_quota_us, 50000);
	assert_int_equal(l.memory_limit, 64 << 20);
	struct rt_resources pod[2] = { g, b };
	rt_pod_limits(pod, 2, &l);
	assert_int_equal(l.cpu_shares, rt_cpu_shares_from_milli(600));
	assert_int_equal(l.cpu_quota_us, -1); /* b has no cpu limit */
	assert_int_equal(l.memory_limit, -1);
}

static void test_bad_paths(void **state)
{
	assert_null(rt_cgroup_new("/x", RT_CGROUP_UNIFIED, "../etc"));
	assert_null(rt_cgroup_new("/x", RT_CGROUP_UNIFIED, "/abs"));
	assert_null(rt_cgroup_new("/x", RT_CGROUP_UNIFIED, "a//b"));
	assert_null(rt_cgroup_new("/x", RT_CGROUP_UNIFIED, "a/./b"));
	assert_null(rt_cgroup_new("/x", RT_CGROUP_UNIFIED, "a/"));
	assert_null(rt_cgroup_new("/x", RT_CGROUP_UNIFIED, ""));
	struct rt_cgroup *cg = rt_cgroup_new("/x", RT_CGROUP_UNIFIED, "kc/pod1/c-0");
	assert_non_null(cg);
	assert_string_equal(rt_cgroup_path(cg), "kc/pod1/c-0");
	rt_cgroup_free(cg);
	rt_cgroup_free(NULL);
	enum rt_cgroup_mode m;
	struct kc_err err = { 0 };
	assert_true(rt_cgroup_detect_mode("/nonexistent-kc", &m, &err) < 0);
}

/* The node's usage from a fake /proc: busy ticks (not idle, not iowait) in ns, and the memory
 * working set as total - free - inactive file pages. */
static void test_host_usage(void **state)
{
	(void)state;
	char dir[] = "/tmp/kc-proc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	put(dir, "stat", "cpu  100 20 30 1000 50 5 5 40 0 0\ncpu0 50 10 15 500 25 2 2 20 0 0\n");
	put(dir, "meminfo", "MemTotal:       16000 kB\nMemFree:         4000 kB\n"
			    "MemAvailable:    9000 kB\nInactive(file):  3000 kB\n");
	struct rt_host_usage hu;
	struct kc_err err = { 0 };
	assert_int_equal(rt_host_usage(dir, &hu, &err), 0);
	long hz = sysconf(_SC_CLK_TCK);
	assert_int_equal(hu.cpu_usage_ns, 200ULL * (1000000000ULL / (unsigned long long)hz));
	assert_int_equal(hu.memory_working_set, 9000ULL * 1024);
	/* malformed files are errors with a message */
	put(dir, "stat", "intr 1 2 3\n");
	assert_true(rt_host_usage(dir, &hu, &err) < 0);
	assert_true(err.msg[0] != '\0');
	put(dir, "stat", "cpu  1 1 1 1\n");
	put(dir, "meminfo", "MemTotal: 5 kB\n");
	assert_true(rt_host_usage(dir, &hu, &err) < 0);
	char path[64];
	snprintf(path, sizeof path, "%s/stat", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/meminfo", dir);
	unlink(path);
	rmdir(dir);
	/* the real one answers */
	assert_int_equal(rt_host_usage("/proc", &hu, &err), 0);
	assert_true(hu.cpu_usage_ns > 0 && hu.memory_working_set > 0);
}

static void test_v2_fake(void **state)
{
	char root[] = "/tmp/kc-cg2-XXXXXX";
	assert_non_null(mkdtemp(root));
	put(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n");
	put(root, "cgroup.subtree_control", "");
	struct rt_cgroup *cg = rt_cgroup_new(root, RT_CGROUP_UNIFIED, "kc/podA/c-0");
	struct kc_err err = { 0 };
	assert_int_equal(rt_cgroup_create(cg, NULL, &err), 0);
	/* controllers were enabled in the root (the ancestors here have no cgroup.controllers) */
	assert_non_null(strstr(get(root, "cgroup.subtree_control"), "+"));
	char leaf[4096];
	snprintf(leaf, sizeof(leaf), "%s/kc/podA/c-0", root);
	assert_null(get(leaf, "cgroup.subtree_control"));
	put(leaf, "cgroup.controllers", "cpu memory pids\n");
	const char *files[] = { "cpu.weight", "cpu.max", "memory.max", "memory.swap.max", "pids.max" };
	for (size_t i = 0; i < 5; i++)
		put(leaf, files[i], "");
	struct rt_cgroup_limits lim = { .cpu_shares = 1024, .cpu_quota_us = 50000,
					.cpu_period_us = 100000, .memory_limit = 64 << 20,
					.pids_limit = 10 };
	assert_int_equal(rt_cgroup_set_limits(cg, &lim, &err), 0);
	assert_string_equal(get(leaf, "cpu.weight"), "100");
	assert_string_equal(get(leaf, "cpu.max"), "50000 100000");
	assert_string_equal(get(leaf, "memory.max"), "67108864");
	assert_string_equal(get(leaf, "memory.swap.max"), "0");
	assert_string_equal(get(leaf, "pids.max"), "10");
	struct rt_cgroup_limits none = { 0 };
	for (size_t i = 0; i < 5; i++)
		put(leaf, files[i], "");
	assert_int_equal(rt_cgroup_set_limits(cg, &none, &err), 0);
	assert_string_equal(get(leaf, "cpu.max"), "max 100000");
	assert_string_equal(get(leaf, "memory.max"), "max");
	assert_string_equal(get(leaf, "pids.max"), "max");
	/* a limit the cgroup cannot enforce is an error, not silence */
	put(leaf, "cgroup.controllers", "cpu\n");
	lim.cpu_quota_us = -1;
	assert_int_equal(rt_cgroup_set_limits(cg, &lim, &err), -KC_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "memory"));

	put(leaf, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
	put(leaf, "memory.current", "10485760\n");
	put(leaf, "memory.stat", "anon 100\nfile 200\ninactive_file 4194304\nactive_file 1\n");
	put(leaf, "memory.max", "67108864\n");
	put(leaf, "memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\noom_group_kill 0\n");
	put(leaf, "pids.current", "3\n");
	struct rt_cgroup_stats st;
	assert_int_equal(rt_cgroup_stats(cg, &st, &err), 0);
	assert_int_equal(st.cpu_usage_ns, 1500000);
	assert_int_equal(st.memory_usage, 10485760);
	assert_int_equal(st.memory_working_set, 10485760 - 4194304);
	assert_int_equal(st.memory_limit, 67108864);
	assert_int_equal(st.oom_kills, 1);
	assert_int_equal(st.oom_events, 2);
	assert_int_equal(st.pids_current, 3);
	put(leaf, "cgroup.procs", "");
	assert_false(rt_cgroup_populated(cg));
	rt_cgroup_free(cg);
	rm_rf(root);
}

static void test_v1_fake(void **state)
{
	char root[] = "/tmp/kc-cg1-XXXXXX";
	assert_non_null(mkdtemp(root));
	const char *h[] = { "cpu", "cpuacct", "memory", "pids", "devices", "freezer" };
	for (size_t i = 0; i < 6; i++) {
		char d[4096];
		snprintf(d, sizeof(d), "%s/%s", root, h[i]);
		assert_int_equal(mkdir(d, 0755), 0);
	}
	struct rt_cgroup *cg = rt_cgroup_new(root, RT_CGROUP_LEGACY, "kc/pod1/c-0");
	struct kc_err err = { 0 };
	assert_int_equal(rt_cgroup_create(cg, NULL, &err), 0);
	char d[4096];
	snprintf(d, sizeof(d), "%s/cpu/kc/pod1/c-0", root);
	put(d, "cpu.shares", "");
	put(d, "cpu.cfs_quota_us", "");
	put(d, "cpu.cfs_period_us", "");
	snprintf(d, sizeof(d), "%s/memory/kc/pod1/c-0", root);
	put(d, "memory.limit_in_bytes", "");
	snprintf(d, sizeof(d), "%s/pids/kc/pod1/c-0", root);
	put(d, "pids.max", "");
	snprintf(d, sizeof(d), "%s/devices/kc/pod1/c-0", root);
	put(d, "devices.deny", "");
	put(d, "devices.allow", "");
	struct rt_cgroup_limits lim = { .cpu_shares = 512, .cpu_quota_us = 25000,
					.memory_limit = 32 << 20, .pids_limit = 7,
					.restrict_devices = true };
	assert_int_equal(rt_cgroup_set_limits(cg, &lim, &err), 0);
	snprintf(d, sizeof(d), "%s/cpu/kc/pod1/c-0", root);
	assert_string_equal(get(d, "cpu.shares"), "512");
	assert_string_equal(get(d, "cpu.cfs_quota_us"), "25000");
	assert_string_equal(get(d, "cpu.cfs_period_us"), "100000");
	snprintf(d, sizeof(d), "%s/memory/kc/pod1/c-0", root);
	assert_string_equal(get(d, "memory.limit_in_bytes"), "33554432");
	snprintf(d, sizeof(d), "%s/pids/kc/pod1/c-0", root);
	assert_string_equal(get(d, "pids.max"), "7");
	snprintf(d, sizeof(d), "%s/devices/kc/pod1/c-0", root);
	assert_string_equal(get(d, "devices.deny"), "a");
	struct rt_cgroup_limits none = { 0 };
	assert_int_equal(rt_cgroup_set_limits(cg, &none, &err), 0);
	snprintf(d, sizeof(d), "%s/memory/kc/pod1/c-0", root);
	assert_string_equal(get(d, "memory.limit_in_bytes"), "-1");
	put(d, "memory.usage_in_bytes", "8388608\n");
	put(d, "memory.stat", "cache 1\ntotal_inactive_file 1048576\n");
	put(d, "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\noom_kill 3\n");
	put(d, "memory.failcnt", "9\n");
	snprintf(d, sizeof(d), "%s/cpuacct/kc/pod1/c-0", root);
	put(d, "cpuacct.usage", "123456789\n");
	struct rt_cgroup_stats st;
	assert_int_equal(rt_cgroup_stats(cg, &st, &err), 0);
	assert_int_equal(st.cpu_usage_ns, 123456789);
	assert_int_equal(st.memory_working_set, 8388608 - 1048576);
	assert_int_equal(st.oom_kills, 3);
	assert_true(st.under_oom);
	assert_int_equal(st.oom_events, 9);
	rt_cgroup_free(cg);
	rm_rf(root);
}

static bool is_cgroup2(const char *p)
{
	struct statfs s;
	return statfs(p, &s) == 0 && (unsigned long)s.f_type == 0x63677270;
}

/* The machine's cgroup2 tree: unified, or /unified on hybrid machines; NULL without one. */
static const char *cgroup2_root(void)
{
	if (is_cgroup2("/sys/fs/cgroup"))
		return "/sys/fs/cgroup";
	return is_cgroup2("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified" : NULL;
}

static pid_t sleeper(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* cgroup2 for real: the machine's v2 tree (unified, or /unified on hybrid machines), with the
 * device filter. */
static void test_v2_real(void **state)
{
	const char *root = cgroup2_root();
	if (geteuid() != 0 || !root) {
		printf("skip: needs root and a cgroup2 mount\n");
		return;
	}
	char path[64], top[4096];
	snprintf(path, sizeof(path), "kc-test-%d/pod1/c-0", (int)getpid());
	snprintf(top, sizeof(top), "%s/kc-test-%d", root, (int)getpid());
	struct rt_cgroup *cg = rt_cgroup_new(root, RT_CGROUP_UNIFIED, path);
	struct kc_err err = { 0 };
	/* devices: one eBPF program on the node, however often the limits are applied */
	struct rt_cgroup_limits lim = { .restrict_devices = true };
	assert_int_equal(rt_cgroup_create(cg, &lim, &err), 0);
	assert_int_equal(rt_cgroup_create(cg, &lim, &err), 0);
	char node[4096];
	snprintf(node, sizeof(node), "%s/%s", root, path);
	int fd = open(node, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(rt_devfilter_count(fd, &err), 1);
	close(fd);
	pid_t pid = sleeper();
	assert_int_equal(rt_cgroup_join(cg, pid, &err), 0);
	assert_true(rt_cgroup_populated(cg));
	assert_true(rt_cgroup_kill(cg, SIGKILL, &err) >= 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(rt_cgroup_destroy(cg, &err), 0);
	rt_cgroup_free(cg);
	cg = rt_cgroup_new(root, RT_CGROUP_UNIFIED, path + strlen(path) - strlen(path));
	rt_cgroup_free(cg);
	struct rt_cgroup *t = rt_cgroup_new(root, RT_CGROUP_UNIFIED, top + strlen(root) + 1);
	assert_int_equal(rt_cgroup_destroy(t, &err), 0);
	rt_cgroup_free(t);
	assert_int_equal(access(top, F_OK), -1);
}

/* Without permission for bpf(2) (rootless, as runc meets it) the container starts unrestricted:
 * the create succeeds (after one warning) and no program is attached. */
static void test_v2_devices_no_permission(void **state)
{
	const char *root = cgroup2_root();
	if (geteuid() != 0 || !root) {
		printf("skip: needs root and a cgroup2 mount\n");
		return;
	}
	char path[64];
	snprintf(path, sizeof(path), "kc-test-%d-nobpf/c-0", (int)getpid());
	struct rt_cgroup *cg = rt_cgroup_new(root, RT_CGROUP_UNIFIED, path);
	pid_t pid = fork();
	if (pid == 0) {
		/* drop what bpf(2) checks from the effective set: SYS_ADMIN, NET_ADMIN, BPF, PERFMON */
		struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &hdr, d) < 0)
			_exit(1);
		d[0].effective &= ~((1u << CAP_SYS_ADMIN) | (1u << CAP_NET_ADMIN));
		d[1].effective &= ~((1u << (CAP_BPF - 32)) | (1u << (CAP_PERFMON - 32)));
		if (syscall(SYS_capset, &hdr, d) < 0)
			_exit(2);
		struct rt_cgroup_limits lim = { .restrict_devices = true };
		struct kc_err e = { 0 };
		_exit(rt_cgroup_create(cg, &lim, &e) == 0 ? 0 : 3);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	char node[4096];
	snprintf(node, sizeof(node), "%s/%s", root, path);
	int fd = open(node, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	struct kc_err err = { 0 };
	assert_int_equal(rt_devfilter_count(fd, &err), 0);
	close(fd);
	rt_cgroup_free(cg);
	path[strlen(path) - 4] = '\0'; /* the top: kc-test-<pid>-nobpf */
	cg = rt_cgroup_new(root, RT_CGROUP_UNIFIED, path);
	assert_int_equal(rt_cgroup_destroy(cg, &err), 0);
	rt_cgroup_free(cg);
}

/* cgroup v1 for real (legacy or hybrid machines): limits land in v1 files. */
static void test_v1_real(void **state)
{
	enum rt_cgroup_mode mode;
	struct kc_err err = { 0 };
	if (geteuid() != 0 || rt_cgroup_detect_mode(RT_CGROUP_ROOT, &mode, &err) < 0 ||
	    mode == RT_CGROUP_UNIFIED || access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) < 0) {
		printf("skip: needs root and v1 hierarchies\n");
		return;
	}
	char path[64];
	snprintf(path, sizeof(path), "kc-test-%d/c-0", (int)getpid());
	struct rt_cgroup *cg = rt_cgroup_new(RT_CGROUP_ROOT, mode, path);
	struct rt_cgroup_limits lim = { .cpu_shares = 256, .cpu_quota_us = 20000,
					.memory_limit = 64 << 20, .pids_limit = 10 };
	assert_int_equal(rt_cgroup_create(cg, &lim, &err), 0);
	char d[256];
	snprintf(d, sizeof(d), "/sys/fs/cgroup/memory/%s", path);
	assert_string_equal(get(d, "memory.limit_in_bytes"), "67108864\n");
	snprintf(d, sizeof(d), "/sys/fs/cgroup/pids/%s", path);
	assert_string_equal(get(d, "pids.max"), "10\n");
	snprintf(d, sizeof(d), "/sys/fs/cgroup/cpu/%s", path);
	assert_string_equal(get(d, "cpu.shares"), "256\n");
	pid_t pid = sleeper();
	assert_int_equal(rt_cgroup_join(cg, pid, &err), 0); /* ENOSPC without cpuset init */
	struct rt_cgroup_stats st;
	assert_int_equal(rt_cgroup_stats(cg, &st, &err), 0);
	assert_int_equal(st.pids_current, 1);
	assert_int_equal(st.memory_limit, 64 << 20);
	/* -1 resets */
	struct rt_cgroup_limits none = { 0 };
	assert_int_equal(rt_cgroup_set_limits(cg, &none, &err), 0);
	assert_int_equal(rt_cgroup_stats(cg, &st, &err), 0);
	assert_int_equal(st.memory_limit, 0);
	assert_int_equal(rt_cgroup_destroy(cg, &err), 0); /* kills the sleeper */
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	rt_cgroup_free(cg);
	snprintf(path, sizeof(path), "kc-test-%d", (int)getpid());
	cg = rt_cgroup_new(RT_CGROUP_ROOT, mode, path);
	assert_int_equal(rt_cgroup_destroy(cg, &err), 0);
	rt_cgroup_free(cg);
	snprintf(d, sizeof(d), "/sys/fs/cgroup/memory/%s", path);
	assert_int_equal(access(d, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conversions), cmocka_unit_test(test_qos),
		cmocka_unit_test(test_bad_paths),   cmocka_unit_test(test_v2_fake),
		cmocka_unit_test(test_v1_fake),	    cmocka_unit_test(test_v2_real),
		cmocka_unit_test(test_v2_devices_no_permission),
		cmocka_unit_test(test_v1_real),     cmocka_unit_test(test_host_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
