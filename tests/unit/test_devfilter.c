/* Unit tests for runtime/devfilter: the rules' v1 text, the generated cgroup device programs run
 * through a small interpreter of the opcodes the generator emits (verdict tables, reachability,
 * forward jumps only), bad rules; and, as root with a cgroup2 mount, the kernel's verifier,
 * attachment to a private cgroup kc-test-<pid>-dev* and the verdicts the kernel then gives a
 * process in it, plus the load+attach time per container (printed, not checked). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/devfilter.h"

#define ACC(a) ((uint32_t)(a) << 16)
#define CHR    BPF_DEVCG_DEV_CHAR
#define BLK    BPF_DEVCG_DEV_BLOCK

/* ---- interpreter -------------------------------------------------------------------------- */

/* Every instruction must be reachable (the verifier rejects dead code) and jumps go forward
 * inside the program. */
static void check_shape(const struct bpf_insn *p, size_t n)
{
	bool seen[RT_DEVFILTER_MAX_INSNS] = { false };
	assert_true(n > 0 && n <= RT_DEVFILTER_MAX_INSNS);
	seen[0] = true;
	for (size_t i = 0; i < n; i++) {
		if (!seen[i])
			fail_msg("instruction %zu is unreachable", i);
		if (p[i].code == (BPF_JMP | BPF_EXIT))
			continue;
		if (p[i].code == (BPF_JMP | BPF_JNE | BPF_K)) {
			assert_true(p[i].off >= 0);
			assert_true(i + 1 + (size_t)p[i].off < n);
			seen[i + 1 + (size_t)p[i].off] = true;
		}
		assert_true(i + 1 < n); /* no falling off the end */
		seen[i + 1] = true;
	}
}

/* Runs the program for one access; fails the test on anything it does not know. */
static int run(const struct bpf_insn *p, size_t n, uint32_t access_type, uint32_t major,
	       uint32_t minor)
{
	const uint32_t ctx[3] = { access_type, major, minor };
	uint64_t r[11] = { 0 };
	bool set[11] = { false }, r1_ctx = true;
	set[1] = true;
	for (size_t pc = 0; pc < n;) {
		struct bpf_insn in = p[pc++];
		assert_true(in.dst_reg <= 10 && in.src_reg <= 10);
		/* fields an opcode does not use must be 0 (the verifier checks it too) */
		bool uses_off = in.code == (BPF_LDX | BPF_W | BPF_MEM) ||
				in.code == (BPF_JMP | BPF_JNE | BPF_K);
		bool uses_imm = BPF_SRC(in.code) == BPF_K &&
				in.code != (BPF_LDX | BPF_W | BPF_MEM) &&
				in.code != (BPF_JMP | BPF_EXIT);
		bool uses_src = in.code == (BPF_LDX | BPF_W | BPF_MEM) ||
				in.code == (BPF_ALU64 | BPF_MOV | BPF_X);
		assert_true(uses_off || in.off == 0);
		assert_true(uses_imm || in.imm == 0);
		assert_true(uses_src || in.src_reg == 0);
		switch (in.code) {
		case BPF_LDX | BPF_W | BPF_MEM:
			assert_true(in.src_reg == 1 && r1_ctx);
			assert_true(in.off == 0 || in.off == 4 || in.off == 8);
			r[in.dst_reg] = ctx[in.off / 4];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_X:
			assert_true(set[in.src_reg] && !(in.src_reg == 1 && r1_ctx));
			r[in.dst_reg] = r[in.src_reg];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			r[in.dst_reg] = (uint64_t)(int64_t)in.imm;
			break;
		case BPF_ALU | BPF_AND | BPF_K: /* 32-bit ops zero the upper half */
			assert_true(set[in.dst_reg]);
			r[in.dst_reg] = (uint32_t)r[in.dst_reg] & (uint32_t)in.imm;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			assert_true(set[in.dst_reg] && in.imm >= 0 && in.imm < 32);
			r[in.dst_reg] = (uint32_t)r[in.dst_reg] >> in.imm;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
			assert_true(set[in.dst_reg] && !(in.dst_reg == 1 && r1_ctx));
			if (r[in.dst_reg] != (uint64_t)(int64_t)in.imm)
				pc += (size_t)in.off;
			continue;
		case BPF_JMP | BPF_EXIT:
			assert_true(set[0]);
			assert_true(r[0] == 0 || r[0] == 1);
			return (int)r[0];
		default:
			fail_msg("opcode %#x at %zu is not interpreted", in.code, pc - 1);
		}
		set[in.dst_reg] = true;
		if (in.dst_reg == 1)
			r1_ctx = false;
	}
	fail_msg("ran off the end");
	return -1;
}

struct verdict {
	int type;
	uint32_t major, minor, access;
	int want;
};

static int build(const struct rt_devrule *rules, size_t n, struct bpf_insn *prog)
{
	struct kc_err err = { 0 };
	int len = rt_devfilter_build(rules, n, prog, RT_DEVFILTER_MAX_INSNS, &err);
	if (len < 0)
		fail_msg("build: %s", err.msg);
	check_shape(prog, (size_t)len);
	return len;
}

static void check_verdicts(const struct rt_devrule *rules, size_t n, const struct verdict *v,
			   size_t nv)
{
	struct bpf_insn prog[RT_DEVFILTER_MAX_INSNS];
	int len = build(rules, n, prog);
	for (size_t i = 0; i < nv; i++) {
		int got = run(prog, (size_t)len, ACC(v[i].access) | (uint32_t)v[i].type, v[i].major,
			      v[i].minor);
		if (got != v[i].want)
			fail_msg("case %zu: %s %u:%u access %u: got %d, want %d", i,
				 v[i].type == CHR ? "c" : "b", v[i].major, v[i].minor, v[i].access,
				 got, v[i].want);
	}
}

enum { R = RT_DEV_READ, W = RT_DEV_WRITE, M = RT_DEV_MKNOD };

static void test_defaults(void **state)
{
	static const struct verdict v[] = {
		{ CHR, 1, 3, R, 1 },	      { CHR, 1, 3, W, 1 },
		{ CHR, 1, 3, M, 1 },	      { CHR, 1, 3, R | W, 1 },
		{ CHR, 1, 5, R, 1 },	      { CHR, 1, 7, W, 1 },
		{ CHR, 1, 8, R, 1 },	      { CHR, 1, 9, R | W, 1 },
		{ CHR, 5, 0, R | W, 1 },      { CHR, 5, 1, W, 1 },
		{ CHR, 5, 2, R | W, 1 },      { CHR, 5, 3, R, 0 },
		{ CHR, 136, 0, R | W, 1 },    { CHR, 136, 4095, R, 1 },
		{ BLK, 136, 4, R, 0 },	      { CHR, 10, 200, R | W, 1 },
		{ CHR, 10, 201, R, 0 },	      { CHR, 10, 237, R, 0 },
		{ CHR, 10, 237, M, 1 },	      { CHR, 1, 11, R, 0 },
		{ CHR, 1, 1, W, 0 },	      { CHR, 0, 0, R, 0 },
		{ BLK, 1, 3, R, 0 },	      { BLK, 7, 0, R, 0 },
		{ BLK, 7, 0, M, 1 },	      { BLK, 7, 0, M | R, 0 },
		{ CHR, 4095, 1048575, W, 0 }, { CHR, 4095, 1048575, M, 1 },
	};
	check_verdicts(rt_dev_defaults, rt_dev_ndefaults, v, sizeof(v) / sizeof(v[0]));
}

static void test_custom(void **state)
{
	static const struct rt_devrule only_null[] = { { 'c', 1, 3, R } };
	static const struct verdict v1[] = {
		{ CHR, 1, 3, R, 1 }, { CHR, 1, 3, W, 0 }, { CHR, 1, 3, R | W, 0 },
		{ CHR, 1, 3, M, 0 }, { BLK, 1, 3, R, 0 }, { CHR, 1, 4, R, 0 },
	};
	check_verdicts(only_null, 1, v1, sizeof(v1) / sizeof(v1[0]));

	static const struct rt_devrule disks[] = { { 'b', 8, RT_DEV_ANY, R | W },
						   { 'c', RT_DEV_ANY, 5, W } };
	static const struct verdict v2[] = {
		{ BLK, 8, 1, W, 1 }, { BLK, 8, 0, R | W, 1 }, { BLK, 8, 1, M, 0 },
		{ CHR, 8, 1, R, 0 }, { CHR, 9, 5, W, 1 },     { CHR, 9, 5, R, 0 },
		{ CHR, 9, 6, W, 0 }, { BLK, 9, 5, W, 0 },
	};
	check_verdicts(disks, 2, v2, sizeof(v2) / sizeof(v2[0]));

	static const struct rt_devrule any_read[] = { { 'a', RT_DEV_ANY, RT_DEV_ANY, R } };
	static const struct verdict v3[] = {
		{ CHR, 1, 1, R, 1 },
		{ BLK, 259, 0, R, 1 },
		{ CHR, 1, 1, W, 0 },
		{ BLK, 8, 0, M, 0 },
	};
	check_verdicts(any_read, 1, v3, sizeof(v3) / sizeof(v3[0]));

	/* default deny */
	static const struct verdict v4[] = { { CHR, 1, 3, R, 0 }, { BLK, 8, 0, M, 0 } };
	check_verdicts(NULL, 0, v4, 2);

	/* allow-all: what follows it is left out (the verifier refuses dead code) */
	static const struct rt_devrule all[] = { { 'a', RT_DEV_ANY, RT_DEV_ANY, R | W | M },
						 { 'c', 1, 3, R } };
	struct bpf_insn prog[RT_DEVFILTER_MAX_INSNS];
	assert_int_equal(build(all, 2, prog), 8);
	static const struct verdict v5[] = { { CHR, 1, 3, W, 1 }, { BLK, 7, 7, R | W | M, 1 } };
	check_verdicts(all, 2, v5, 2);
}

static void test_bad_rules(void **state)
{
	struct bpf_insn prog[RT_DEVFILTER_MAX_INSNS];
	struct kc_err err = { 0 };
	static const struct rt_devrule bad[] = {
		{ 'x', 1, 3, R }, { 'a', 1, RT_DEV_ANY, R }, { 'c', 1, 3, 0 },
		{ 'c', 1, 3, 8 }, { 'c', -2, 3, R },	     { 'b', 1, -5, R },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rt_devrule two[2] = { rt_dev_defaults[2], bad[i] };
		assert_int_equal(rt_devfilter_build(two, 2, prog, RT_DEVFILTER_MAX_INSNS, &err),
				 -KC_EINVAL);
		assert_non_null(strstr(err.msg, "device rule 1"));
		char buf[32];
		assert_int_equal(rt_devrule_format(&bad[i], buf, sizeof(buf)), -KC_EINVAL);
	}
	static struct rt_devrule many[RT_DEVFILTER_MAX_RULES + 1];
	for (size_t i = 0; i < RT_DEVFILTER_MAX_RULES + 1; i++)
		many[i] = (struct rt_devrule){ 'c', 1, (int32_t)i, R };
	assert_int_equal(rt_devfilter_build(many, RT_DEVFILTER_MAX_RULES + 1, prog,
					    RT_DEVFILTER_MAX_INSNS, &err),
			 -KC_ELIMIT);
	int len = rt_devfilter_build(many, RT_DEVFILTER_MAX_RULES, prog, RT_DEVFILTER_MAX_INSNS,
				     &err);
	assert_true(len > 0 && len <= RT_DEVFILTER_MAX_INSNS);
	assert_int_equal(rt_devfilter_build(rt_dev_defaults, rt_dev_ndefaults, prog, 20, &err),
			 -KC_ELIMIT);
}

/* The v1 backend writes these to devices.allow: the same text as before the table was shared. */
static void test_format(void **state)
{
	static const char *const want[] = {
		"c *:* m",   "b *:* m",	  "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",   "c 1:8 rwm",
		"c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
	};
	assert_int_equal(rt_dev_ndefaults, sizeof(want) / sizeof(want[0]));
	char buf[32];
	for (size_t i = 0; i < rt_dev_ndefaults; i++) {
		assert_int_equal(rt_devrule_format(&rt_dev_defaults[i], buf, sizeof(buf)), 0);
		assert_string_equal(buf, want[i]);
	}
	struct rt_devrule r = { 'b', 259, RT_DEV_ANY, R | M };
	assert_int_equal(rt_devrule_format(&r, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "b 259:* rm");
	assert_int_equal(rt_devrule_format(&r, buf, 5), -KC_ETOOBIG);
}

/* ---- the kernel --------------------------------------------------------------------------- */

static const char *cgroup2_root(void)
{
	static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	struct statfs s;
	for (size_t i = 0; i < 2; i++)
		if (statfs(roots[i], &s) == 0 && (unsigned long)s.f_type == 0x63677270)
			return roots[i];
	return NULL;
}

static const char *kernel_root(void)
{
	const char *root = cgroup2_root();
	if (geteuid() != 0 || !root) {
		printf("skip: needs root and a cgroup2 mount\n");
		return NULL;
	}
	return root;
}

static void test_kernel_load(void **state)
{
	if (!kernel_root())
		return;
	struct bpf_insn prog[RT_DEVFILTER_MAX_INSNS];
	struct kc_err err = { 0 };
	static const struct rt_devrule all[] = { { 'a', RT_DEV_ANY, RT_DEV_ANY, R | W | M } };
	const struct {
		const struct rt_devrule *r;
		size_t n;
	} lists[] = {
		{ rt_dev_defaults, rt_dev_ndefaults },
		{ all, 1 },
		{ NULL, 0 },
	};
	for (size_t i = 0; i < 3; i++) {
		int len = build(lists[i].r, lists[i].n, prog);
		int fd = rt_devfilter_load(prog, (size_t)len, &err);
		if (fd < 0)
			fail_msg("list %zu: %s", i, err.msg);
		close(fd);
	}
	/* the verifier's reason reaches the message: r0 is never set */
	prog[0] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	assert_int_equal(rt_devfilter_load(prog, 1, &err), -EACCES);
	assert_non_null(strstr(err.msg, "R0"));
}

/* Child in the cgroup: bit i of the exit code set when check i failed. */
static int probe(const char *dir, bool defaults, const char *tmp)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	int fd = open(p, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		return 0x80;
	close(fd);
	int bad = 0;
	fd = open("/dev/null", O_RDWR);
	bad |= fd < 0 ? 1 : 0;
	if (fd >= 0)
		close(fd);
	fd = open("/dev/zero", O_RDONLY);
	if (defaults)
		bad |= fd < 0 ? 2 : 0;
	else
		bad |= fd >= 0 || errno != EPERM ? 2 : 0;
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/node", tmp);
	int rc = mknod(p, S_IFCHR | 0600, makedev(1, 11));
	if (defaults)
		bad |= rc < 0 ? 4 : 0;
	else
		bad |= rc == 0 || errno != EPERM ? 4 : 0;
	unlink(p);
	if (defaults && access("/dev/kmsg", F_OK) == 0) {
		fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
		bad |= fd >= 0 || errno != EPERM ? 8 : 0;
		if (fd >= 0)
			close(fd);
	}
	return bad;
}

static void enforce(const char *root, const char *name, const struct rt_devrule *rules, size_t n,
		    bool defaults)
{
	char dir[4096], tmp[] = "/tmp/kc-devfilter-XXXXXX";
	snprintf(dir, sizeof(dir), "%s/kc-test-%d-%s", root, (int)getpid(), name);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_non_null(mkdtemp(tmp));
	int cg = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(cg >= 0);
	struct kc_err err = { 0 };
	int before = rt_devfilter_count(cg, &err);
	int rc = rt_devfilter_attach(cg, rules, n, &err);
	int after = rt_devfilter_count(cg, NULL);
	close(cg);
	int status = -1;
	if (rc == 0) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(probe(dir, defaults, tmp));
		assert_int_equal(waitpid(pid, &status, 0), pid);
	}
	/* clean up first: a failed check must not leave the cgroup behind */
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(rmdir(dir), 0);
	if (rc < 0)
		fail_msg("attach: %s", err.msg);
	assert_int_equal(before, 0);
	assert_int_equal(after, 1);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("%s: failed checks %#x", name, WEXITSTATUS(status));
}

static void test_kernel_enforces(void **state)
{
	const char *root = kernel_root();
	if (!root)
		return;
	enforce(root, "dev-defaults", rt_dev_defaults, rt_dev_ndefaults, true);
	static const struct rt_devrule only_null[] = { { 'c', 1, 3, R | W } };
	enforce(root, "dev-null", only_null, 1, false);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A figure for the report, not a check: what restricting devices adds to a container start. */
static void test_kernel_timing(void **state)
{
	const char *root = kernel_root();
	if (!root)
		return;
	enum { N = 300 };
	uint64_t total = 0, lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < N; i++) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/kc-test-%d-dev%d", root, (int)getpid(), i);
		assert_int_equal(mkdir(dir, 0755), 0);
		int cg = open(dir, O_RDONLY | O_DIRECTORY);
		assert_true(cg >= 0);
		struct kc_err err = { 0 };
		uint64_t t0 = now_ns();
		int rc = rt_devfilter_attach(cg, rt_dev_defaults, rt_dev_ndefaults, &err);
		uint64_t dt = now_ns() - t0;
		close(cg);
		assert_int_equal(rmdir(dir), 0);
		if (rc < 0)
			fail_msg("attach: %s", err.msg);
		total += dt;
		lo = dt < lo ? dt : lo;
		hi = dt > hi ? dt : hi;
	}
	printf("devfilter: load+attach of the default program, %d cgroups: mean %.1f us, min %.1f "
	       "us, max %.1f us\n",
	       N, (double)total / N / 1000, (double)lo / 1000, (double)hi / 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),      cmocka_unit_test(test_custom),
		cmocka_unit_test(test_bad_rules),     cmocka_unit_test(test_format),
		cmocka_unit_test(test_kernel_load),   cmocka_unit_test(test_kernel_enforces),
		cmocka_unit_test(test_kernel_timing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
