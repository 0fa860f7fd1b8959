/* devfilter.h - which device nodes a container may use: the rule type and the default allow
 * list shared by both cgroup backends, the rules' cgroup v1 text form ("c 1:3 rwm" for
 * devices.allow), and their cgroup v2 form, an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE
 * attached to the container's cgroup. */
#ifndef KC_RUNTIME_DEVFILTER_H
#define KC_RUNTIME_DEVFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define RT_DEV_ANY (-1) /* a major or minor wildcard ("*") */

/* Access bits, equal to the kernel's BPF_DEVCG_ACC_* values. */
enum { RT_DEV_MKNOD = 1, RT_DEV_READ = 2, RT_DEV_WRITE = 4, RT_DEV_RWM = 7 };

struct rt_devrule {
	char type;	/* 'c', 'b', or 'a' (any device: major and minor are then RT_DEV_ANY) */
	int32_t major;	/* 0..INT32_MAX or RT_DEV_ANY */
	int32_t minor;	/* 0..INT32_MAX or RT_DEV_ANY */
	uint8_t access; /* RT_DEV_* bits, at least one */
};

/* runc's default allow list: mknod of anything, and use of the nodes a container gets (null,
 * zero, full, random, urandom, tty, console, ptmx, the pts, net/tun). */
extern const struct rt_devrule rt_dev_defaults[];
extern const size_t rt_dev_ndefaults;

/* Writes the rule's devices.allow text ("c 1:3 rwm", "b *:* m") into buf. Returns 0, or
 * -KC_EINVAL for an invalid rule, -KC_ETOOBIG when cap is short (32 bytes always suffice). */
int rt_devrule_format(const struct rt_devrule *r, char *buf, size_t cap);

#define RT_DEVFILTER_MAX_RULES 128
/* Enough instructions for RT_DEVFILTER_MAX_RULES rules: 6 + 8 per rule + 2. */
#define RT_DEVFILTER_MAX_INSNS (8 + 8 * RT_DEVFILTER_MAX_RULES)

struct bpf_insn;

/* Compiles an allow list into a BPF_PROG_TYPE_CGROUP_DEVICE program: an access is allowed
 * (return 1) when a rule matches its type, major and minor and holds every access bit asked
 * for; anything else is denied (return 0). Rules after one that allows everything are left
 * out (the verifier rejects unreachable code). Writes at most cap instructions into out.
 * Returns the number written, or -KC_EINVAL (a bad rule, named in err) / -KC_ELIMIT (more
 * than RT_DEVFILTER_MAX_RULES rules, or cap too small). */
int rt_devfilter_build(const struct rt_devrule *rules, size_t n, struct bpf_insn *out, size_t cap,
		       struct kc_err *err);

/* Loads n instructions (borrowed) as a cgroup device program with bpf(BPF_PROG_LOAD). Returns
 * the program fd (caller closes), or -errno with err holding the verifier's last words when it
 * refused the program. -EPERM / -ENOSYS: no permission or no bpf(2) in this kernel. */
int rt_devfilter_load(const struct bpf_insn *insns, size_t n, struct kc_err *err);

/* Builds and loads the program for rules and attaches it to the cgroup2 directory cgroup_fd
 * (borrowed) as BPF_CGROUP_DEVICE with BPF_F_ALLOW_MULTI, so that it composes with programs
 * of the ancestors (an access must pass all of them). The program lives as long as the cgroup;
 * no fd stays open. Returns 0 or a negative code as above (attach adds its own -errno). */
int rt_devfilter_attach(int cgroup_fd, const struct rt_devrule *rules, size_t n,
			struct kc_err *err);

/* How many device programs are attached to cgroup_fd itself (not its ancestors), or -errno
 * (-EPERM without CAP_NET_ADMIN). */
int rt_devfilter_count(int cgroup_fd, struct kc_err *err);

#endif
