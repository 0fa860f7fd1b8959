/* seccomp.h - kc's default seccomp profile ("RuntimeDefault"), built as a classic BPF program in
 * C: the syscalls Docker's default profile does not allow fail with EPERM (clone3 with ENOSYS,
 * so that libcs fall back to clone), unless the container holds the capability Docker's profile
 * ties them to. */
#ifndef KC_RUNTIME_SECCOMP_H
#define KC_RUNTIME_SECCOMP_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Builds the filter for the architecture kc was compiled for (x86_64 or aarch64; a syscall made
 * through another ABI, i386 or x32, fails with EPERM). caps is the container's capability set as
 * a bit mask (1 << CAP_*): e.g. with CAP_SYS_ADMIN mount and unshare stay allowed, as Docker does.
 * Returns 0 with *out (free with free()) and *len, or -KC_EUNSUPPORTED on another architecture. */
int rt_seccomp_build(uint64_t caps, struct sock_filter **out, size_t *len, struct kc_err *err);

/* Loads the filter into the calling thread (SECCOMP_FILTER_FLAG_SPEC_ALLOW when the kernel has
 * it). Needs no_new_privs or CAP_SYS_ADMIN. Never allocates. Returns 0 or -errno. */
int rt_seccomp_load(const struct sock_filter *prog, size_t len, struct kc_err *err);

/* Runs the filter on one syscall (nr, arch, args[0]) in user space and returns the action value
 * (SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | errno): for tests. */
uint32_t rt_seccomp_eval(const struct sock_filter *prog, size_t len, uint32_t arch, int nr,
			 uint64_t arg0);

/* The audit arch value the filter accepts. */
uint32_t rt_seccomp_native_arch(void);

#endif
