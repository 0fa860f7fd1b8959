/* DESIGN: device rules for both cgroup backends. v1 writes their text to devices.allow; v2 has
 * no devices controller, so the rules become an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE, as
 * runc and crun do) built here from raw instructions, loaded with bpf(2) and attached to the
 * container's cgroup. The program, for ctx = struct bpf_cgroup_dev_ctx:
 *
 *     r2 = ctx->access_type; r3 = r2; w2 &= 0xffff (type); w3 >>= 16 (access)
 *     r4 = ctx->major; r5 = ctx->minor
 *     per rule: if r2 != type goto next            (left out for 'a')
 *               r1 = r3; w1 &= ~access; if r1 != 0 goto next   (left out for rwm)
 *               if r4 != major goto next; if r5 != minor goto next   (left out for '*')
 *               r0 = 1; exit
 *     r0 = 0; exit
 *
 * Only these opcodes are emitted; the unit test interprets exactly them. No state; reentrant. */
#include "runtime/devfilter.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert((int)RT_DEV_MKNOD == (int)BPF_DEVCG_ACC_MKNOD &&
		       (int)RT_DEV_READ == (int)BPF_DEVCG_ACC_READ &&
		       (int)RT_DEV_WRITE == (int)BPF_DEVCG_ACC_WRITE,
	       "access bits are the kernel's");

const struct rt_devrule rt_dev_defaults[] = {
	{ 'c', RT_DEV_ANY, RT_DEV_ANY, RT_DEV_MKNOD },
	{ 'b', RT_DEV_ANY, RT_DEV_ANY, RT_DEV_MKNOD },
	{ 'c', 1, 3, RT_DEV_RWM },	      /* null */
	{ 'c', 1, 5, RT_DEV_RWM },	      /* zero */
	{ 'c', 1, 7, RT_DEV_RWM },	      /* full */
	{ 'c', 1, 8, RT_DEV_RWM },	      /* random */
	{ 'c', 1, 9, RT_DEV_RWM },	      /* urandom */
	{ 'c', 5, 0, RT_DEV_RWM },	      /* tty */
	{ 'c', 5, 1, RT_DEV_RWM },	      /* console */
	{ 'c', 5, 2, RT_DEV_RWM },	      /* ptmx */
	{ 'c', 136, RT_DEV_ANY, RT_DEV_RWM }, /* pts */
	{ 'c', 10, 200, RT_DEV_RWM },	      /* net/tun */
};
const size_t rt_dev_ndefaults = sizeof(rt_dev_defaults) / sizeof(rt_dev_defaults[0]);

static bool num_ok(int32_t v)
{
	return v == RT_DEV_ANY || v >= 0;
}

static int check_rule(const struct rt_devrule *r, size_t i, struct kc_err *err)
{
	bool ok = (r->type == 'c' || r->type == 'b' || r->type == 'a') && num_ok(r->major) &&
		  num_ok(r->minor) && r->access != 0 && (r->access & ~RT_DEV_RWM) == 0;
	if (ok && r->type == 'a')
		ok = r->major == RT_DEV_ANY && r->minor == RT_DEV_ANY;
	if (!ok)
		return kc_err_set(err, -KC_EINVAL,
				  "device rule %zu: bad rule (type %d, %d:%d, access %#x)", i,
				  r->type, (int)r->major, (int)r->minor, (unsigned)r->access);
	return 0;
}

static void put_num(char *buf, size_t cap, int32_t v)
{
	if (v == RT_DEV_ANY)
		snprintf(buf, cap, "*");
	else
		snprintf(buf, cap, "%d", (int)v);
}

int rt_devrule_format(const struct rt_devrule *r, char *buf, size_t cap)
{
	if (check_rule(r, 0, NULL) < 0)
		return -KC_EINVAL;
	char maj[16], min[16], acc[4];
	size_t k = 0;
	put_num(maj, sizeof(maj), r->major);
	put_num(min, sizeof(min), r->minor);
	if (r->access & RT_DEV_READ)
		acc[k++] = 'r';
	if (r->access & RT_DEV_WRITE)
		acc[k++] = 'w';
	if (r->access & RT_DEV_MKNOD)
		acc[k++] = 'm';
	acc[k] = '\0';
	int n = snprintf(buf, cap, "%c %s:%s %s", r->type, maj, min, acc);
	return n < 0 || (size_t)n >= cap ? -KC_ETOOBIG : 0;
}

/* ---- program ------------------------------------------------------------------------------ */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn in = {
		.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm
	};
	return in;
}

static int dev_type(char t)
{
	return t == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
}

int rt_devfilter_build(const struct rt_devrule *rules, size_t n, struct bpf_insn *out, size_t cap,
		       struct kc_err *err)
{
	if (n > RT_DEVFILTER_MAX_RULES)
		return kc_err_set(err, -KC_ELIMIT, "%zu device rules (at most %d)", n,
				  RT_DEVFILTER_MAX_RULES);
	for (size_t i = 0; i < n; i++) {
		int rc = check_rule(&rules[i], i, err);
		if (rc < 0)
			return rc;
	}
	if (cap < 8 + 8 * n)
		return kc_err_set(err, -KC_ELIMIT, "room for %zu instructions, %zu rules need %zu",
				  cap, n, 8 + 8 * n);
	size_t k = 0;
	out[k++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
	out[k++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
	out[k++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
	out[k++] = insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
	out[k++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);
	out[k++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);
	for (size_t i = 0; i < n; i++) {
		const struct rt_devrule *r = &rules[i];
		bool by_type = r->type != 'a', by_acc = r->access != RT_DEV_RWM;
		bool by_maj = r->major != RT_DEV_ANY, by_min = r->minor != RT_DEV_ANY;
		/* the block's length after each test decides the jump offsets */
		int16_t left = (int16_t)(2 + by_type + 3 * by_acc + by_maj + by_min);
		if (by_type) {
			left--;
			out[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, left,
					dev_type(r->type));
		}
		if (by_acc) {
			left = (int16_t)(left - 3);
			out[k++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
			out[k++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0,
					~(int32_t)r->access);
			out[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_1, 0, left, 0);
		}
		if (by_maj) {
			left--;
			out[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, left, r->major);
		}
		if (by_min) {
			left--;
			out[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, left, r->minor);
		}
		out[k++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
		out[k++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		if (!by_type && !by_acc && !by_maj && !by_min)
			return (int)k; /* allows everything: the rest is unreachable */
	}
	out[k++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	out[k++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return (int)k;
}

/* ---- kernel ------------------------------------------------------------------------------- */

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	long rc = syscall(SYS_bpf, cmd, attr, sizeof(*attr));
	return rc < 0 ? -errno : (int)rc;
}

/* The verifier's log ends "<reason>\nprocessed N insns ...\n": keep its last two lines. */
static const char *log_tail(char *log)
{
	size_t len = strlen(log);
	while (len > 0 && (log[len - 1] == '\n' || log[len - 1] == ' '))
		log[--len] = '\0';
	const char *s = log + len;
	for (int lines = 0; s > log; s--) {
		if (s[-1] == '\n' && ++lines == 2)
			break;
	}
	for (char *p = log; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return s;
}

int rt_devfilter_load(const struct bpf_insn *insns, size_t n, struct kc_err *err)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)n;
	attr.license = (uint64_t)(uintptr_t)""; /* no GPL-only helper is called */
	int fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0 || fd == -EPERM || fd == -ENOSYS || fd == -ENOMEM) {
		if (fd < 0)
			kc_err_set(err, fd, "load the device program: %s", strerror(-fd));
		return fd;
	}
	/* refused: load again with a log for a readable reason */
	char log[4096] = "";
	attr.log_level = 1;
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	int again = sys_bpf(BPF_PROG_LOAD, &attr);
	if (again >= 0) /* (cannot happen: the same program) */
		close(again);
	log[sizeof(log) - 1] = '\0';
	return kc_err_set(err, fd, "load the device program: %s: %s", strerror(-fd),
			  *log ? log_tail(log) : "(no verifier log)");
}

int rt_devfilter_attach(int cgroup_fd, const struct rt_devrule *rules, size_t n, struct kc_err *err)
{
	struct bpf_insn prog[RT_DEVFILTER_MAX_INSNS];
	int len = rt_devfilter_build(rules, n, prog, RT_DEVFILTER_MAX_INSNS, err);
	if (len < 0)
		return len;
	int fd = rt_devfilter_load(prog, (size_t)len, err);
	if (fd < 0)
		return fd;
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_fd;
	attr.attach_bpf_fd = (uint32_t)fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	int rc = sys_bpf(BPF_PROG_ATTACH, &attr);
	close(fd); /* the attachment holds the program now */
	if (rc < 0)
		return kc_err_set(err, rc, "attach the device program: %s", strerror(-rc));
	return 0;
}

int rt_devfilter_count(int cgroup_fd, struct kc_err *err)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)cgroup_fd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	int rc = sys_bpf(BPF_PROG_QUERY, &attr);
	if (rc < 0)
		return kc_err_set(err, rc, "query device programs: %s", strerror(-rc));
	return (int)attr.query.prog_cnt;
}
