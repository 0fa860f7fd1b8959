/* DESIGN: the default seccomp profile as a deny list generated at run time for the compiled
 * architecture (syscall numbers come from <sys/syscall.h>, so the table is right for x86_64 and
 * aarch64 alike). Docker's profile is an allow list of ~350 syscalls; what it leaves out (or ties
 * to a capability) is the set below, so denying exactly that set gives the same behaviour for
 * every syscall this kernel knows, with a program of ~100 instructions instead of ~400.
 * The program: check the arch, reject x32, special cases for clone (namespace flags), clone3
 * (ENOSYS) and personality (the five values Docker allows), then one compare per denied syscall,
 * all jumping forward to a shared return. Pure functions; no global state. */
#include "runtime/seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/alloc.h"

#define ALWAYS (-1)

struct denied {
	int nr;
	int cap;  /* allowed when the container holds this capability; ALWAYS: never */
	int cap2; /* a second capability that also allows it, or ALWAYS */
};

#define D(name, cap, cap2) { SYS_##name, cap, cap2 }

static const struct denied deny_table[] = {
	/* keyrings are not namespaced */
	D(add_key, ALWAYS, ALWAYS),
	D(keyctl, ALWAYS, ALWAYS),
	D(request_key, ALWAYS, ALWAYS),
	/* io_uring bypasses seccomp for the operations it performs (moby#46762) */
#ifdef SYS_io_uring_setup
	D(io_uring_setup, ALWAYS, ALWAYS),
	D(io_uring_enter, ALWAYS, ALWAYS),
	D(io_uring_register, ALWAYS, ALWAYS),
#endif
#ifdef SYS_uselib
	D(uselib, ALWAYS, ALWAYS),
#endif
#ifdef SYS_ustat
	D(ustat, ALWAYS, ALWAYS),
#endif
#ifdef SYS_sysfs
	D(sysfs, ALWAYS, ALWAYS),
#endif
#ifdef SYS__sysctl
	D(_sysctl, ALWAYS, ALWAYS),
#endif
#ifdef SYS_create_module
	D(create_module, ALWAYS, ALWAYS),
#endif
#ifdef SYS_get_kernel_syms
	D(get_kernel_syms, ALWAYS, ALWAYS),
#endif
#ifdef SYS_query_module
	D(query_module, ALWAYS, ALWAYS),
#endif
#ifdef SYS_nfsservctl
	D(nfsservctl, ALWAYS, ALWAYS),
#endif
#ifdef SYS_vm86
	D(vm86, ALWAYS, ALWAYS),
#endif
#ifdef SYS_vm86old
	D(vm86old, ALWAYS, ALWAYS),
#endif
	/* CAP_SYS_ADMIN */
	D(mount, CAP_SYS_ADMIN, ALWAYS),
	D(umount2, CAP_SYS_ADMIN, ALWAYS),
#ifdef SYS_umount
	D(umount, CAP_SYS_ADMIN, ALWAYS),
#endif
	D(pivot_root, CAP_SYS_ADMIN, ALWAYS),
	D(unshare, CAP_SYS_ADMIN, ALWAYS),
	D(setns, CAP_SYS_ADMIN, ALWAYS),
	D(swapon, CAP_SYS_ADMIN, ALWAYS),
	D(swapoff, CAP_SYS_ADMIN, ALWAYS),
	D(quotactl, CAP_SYS_ADMIN, ALWAYS),
#ifdef SYS_quotactl_fd
	D(quotactl_fd, CAP_SYS_ADMIN, ALWAYS),
#endif
#ifdef SYS_fsopen
	D(fsopen, CAP_SYS_ADMIN, ALWAYS),
	D(fsconfig, CAP_SYS_ADMIN, ALWAYS),
	D(fsmount, CAP_SYS_ADMIN, ALWAYS),
	D(fspick, CAP_SYS_ADMIN, ALWAYS),
	D(move_mount, CAP_SYS_ADMIN, ALWAYS),
	D(open_tree, CAP_SYS_ADMIN, ALWAYS),
#endif
#ifdef SYS_mount_setattr
	D(mount_setattr, CAP_SYS_ADMIN, ALWAYS),
#endif
	D(fanotify_init, CAP_SYS_ADMIN, ALWAYS),
	D(name_to_handle_at, CAP_SYS_ADMIN, ALWAYS),
#ifdef SYS_lookup_dcookie
	D(lookup_dcookie, CAP_SYS_ADMIN, ALWAYS),
#endif
	D(sethostname, CAP_SYS_ADMIN, ALWAYS),
	D(setdomainname, CAP_SYS_ADMIN, ALWAYS),
	D(bpf, CAP_SYS_ADMIN, CAP_BPF),
	D(perf_event_open, CAP_SYS_ADMIN, CAP_PERFMON),
	/* others */
	D(open_by_handle_at, CAP_DAC_READ_SEARCH, ALWAYS),
	D(reboot, CAP_SYS_BOOT, ALWAYS),
	D(kexec_load, CAP_SYS_BOOT, ALWAYS),
#ifdef SYS_kexec_file_load
	D(kexec_file_load, CAP_SYS_BOOT, ALWAYS),
#endif
	D(init_module, CAP_SYS_MODULE, ALWAYS),
	D(finit_module, CAP_SYS_MODULE, ALWAYS),
	D(delete_module, CAP_SYS_MODULE, ALWAYS),
	D(acct, CAP_SYS_PACCT, ALWAYS),
#ifdef SYS_iopl
	D(iopl, CAP_SYS_RAWIO, ALWAYS),
#endif
#ifdef SYS_ioperm
	D(ioperm, CAP_SYS_RAWIO, ALWAYS),
#endif
	D(settimeofday, CAP_SYS_TIME, ALWAYS),
#ifdef SYS_stime
	D(stime, CAP_SYS_TIME, ALWAYS),
#endif
	D(clock_settime, CAP_SYS_TIME, ALWAYS),
	D(clock_adjtime, CAP_SYS_TIME, ALWAYS),
	D(vhangup, CAP_SYS_TTY_CONFIG, ALWAYS),
	D(get_mempolicy, CAP_SYS_NICE, ALWAYS),
	D(set_mempolicy, CAP_SYS_NICE, ALWAYS),
	D(mbind, CAP_SYS_NICE, ALWAYS),
	D(move_pages, CAP_SYS_NICE, ALWAYS),
#ifdef SYS_set_mempolicy_home_node
	D(set_mempolicy_home_node, CAP_SYS_NICE, ALWAYS),
#endif
	D(syslog, CAP_SYSLOG, ALWAYS),
#ifdef SYS_pidfd_getfd
	D(pidfd_getfd, CAP_SYS_PTRACE, ALWAYS),
#endif
#ifdef SYS_process_madvise
	D(process_madvise, CAP_SYS_PTRACE, ALWAYS),
#endif
	D(userfaultfd, CAP_SYS_PTRACE, ALWAYS),
};

/* clone flags that create namespaces: allowed only with CAP_SYS_ADMIN */
#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

static const uint32_t personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

uint32_t rt_seccomp_native_arch(void)
{
#if defined(__x86_64__)
	return AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	return AUDIT_ARCH_AARCH64;
#else
	return 0;
#endif
}

/* Jump targets resolved after the whole program is laid out. */
enum { T_NONE = 0, T_ALLOW, T_DENY, T_ENOSYS };

struct prog {
	struct sock_filter f[256];
	unsigned char jt[256], jf[256]; /* T_* to patch, T_NONE to keep */
	size_t n;
};

static void emit(struct prog *p, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf, int tjt,
		 int tjf)
{
	p->f[p->n] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
	p->jt[p->n] = (unsigned char)tjt;
	p->jf[p->n] = (unsigned char)tjf;
	p->n++;
}

static bool has(uint64_t caps, int cap)
{
	return cap != ALWAYS && cap < 64 && (caps >> cap) & 1;
}

int rt_seccomp_build(uint64_t caps, struct sock_filter **out, size_t *len, struct kc_err *err)
{
	uint32_t arch = rt_seccomp_native_arch();
	if (arch == 0)
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "no default seccomp profile for this architecture");
	struct prog *p = xcalloc(1, sizeof(*p));
	bool admin = has(caps, CAP_SYS_ADMIN);
	emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0, 0, 0);
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 0, T_NONE, T_DENY);
	emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0, 0, 0);
#if defined(__x86_64__)
	emit(p, BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 0, T_DENY, T_NONE); /* x32 */
#endif
	if (!admin) {
		/* clone(flags, ...): arg 0 on x86_64 and aarch64 */
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 2, T_NONE, T_NONE);
		emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]), 0, 0, 0, 0);
		emit(p, BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 0, T_DENY, T_ALLOW);
#ifdef SYS_clone3
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 0, T_ENOSYS, T_NONE);
#endif
	}
	size_t np = sizeof(personalities) / sizeof(personalities[0]);
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, SYS_personality, 0, (uint8_t)(np + 2), T_NONE, T_NONE);
	emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]), 0, 0, 0, 0);
	for (size_t i = 0; i < np; i++)
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, personalities[i], 0, 0, T_ALLOW, T_NONE);
	emit(p, BPF_JMP | BPF_JA, 0, 0, 0, 0, 0);
	size_t ja = p->n - 1; /* → deny, patched below */
	for (size_t i = 0; i < sizeof(deny_table) / sizeof(deny_table[0]); i++) {
		const struct denied *d = &deny_table[i];
		if (has(caps, d->cap) || has(caps, d->cap2))
			continue;
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)d->nr, 0, 0, T_DENY, T_NONE);
	}
	size_t allow = p->n;
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0, 0, 0);
	size_t deny = p->n;
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA), 0, 0, 0, 0);
	size_t enosys = p->n;
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA), 0, 0, 0, 0);
	p->f[ja].k = (uint32_t)(deny - ja - 1);
	for (size_t i = 0; i < p->n; i++) {
		size_t target[2] = { 0, 0 };
		unsigned char t[2] = { p->jt[i], p->jf[i] };
		for (int j = 0; j < 2; j++) {
			if (t[j] == T_NONE)
				continue;
			target[j] = t[j] == T_ALLOW ? allow : t[j] == T_DENY ? deny : enosys;
			size_t off = target[j] - i - 1;
			if (off > 255) {
				free(p);
				return kc_err_set(err, -KC_ELIMIT, "seccomp jump too long");
			}
			if (j == 0)
				p->f[i].jt = (uint8_t)off;
			else
				p->f[i].jf = (uint8_t)off;
		}
	}
	*len = p->n;
	*out = xmemdup(p->f, p->n * sizeof(struct sock_filter));
	free(p);
	return 0;
}

int rt_seccomp_load(const struct sock_filter *prog, size_t len, struct kc_err *err)
{
	struct sock_fprog fp = { .len = (unsigned short)len };
	memcpy(&fp.filter, &prog, sizeof(prog)); /* the kernel only reads it */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &fp) == 0)
		return 0;
	if (errno == EINVAL &&
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) == 0)
		return 0;
	if (errno == ENOSYS && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) == 0)
		return 0;
	return kc_err_set(err, -errno, "load seccomp filter: %s", strerror(errno));
}

uint32_t rt_seccomp_eval(const struct sock_filter *prog, size_t len, uint32_t arch, int nr,
			 uint64_t arg0)
{
	struct seccomp_data d;
	memset(&d, 0, sizeof(d));
	d.nr = nr;
	d.arch = arch;
	d.args[0] = arg0;
	uint32_t a = 0;
	for (size_t pc = 0; pc < len;) {
		const struct sock_filter *f = &prog[pc];
		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (f->k + 4 > sizeof(d))
				return SECCOMP_RET_KILL;
			memcpy(&a, (const char *)&d + f->k, 4);
			pc++;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += 1 + (a == f->k ? f->jt : f->jf);
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += 1 + (a >= f->k ? f->jt : f->jf);
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += 1 + ((a & f->k) ? f->jt : f->jf);
			break;
		case BPF_JMP | BPF_JA:
			pc += 1 + f->k;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			return SECCOMP_RET_KILL;
		}
	}
	return SECCOMP_RET_KILL;
}
