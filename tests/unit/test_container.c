/* Unit tests for runtime/container (the pure helpers and the spec's JSON), runtime/seccomp (the
 * generated filter, run in user space) and the shim's formats (CRI log lines, state.json). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "lib/alloc.h"
#include "runtime/container.h"
#include "runtime/seccomp.h"
#include "runtime/shim.h"

static void assert_strv(char **got, const char *const *want)
{
	size_t i = 0;
	for (; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

static void test_merge_command(void **state)
{
	char *ep[] = { "/entry", "-x", NULL }, *cmd[] = { "default", NULL };
	char *command[] = { "/bin/sh", "-c", NULL }, *args[] = { "echo $(NAME) $$(NAME) $(NOPE)", NULL };
	char *env[] = { "NAME=kc", NULL };
	char **argv;
	size_t argc;
	struct kc_err err = { 0 };
	assert_int_equal(rt_merge_command(ep, cmd, NULL, NULL, env, &argv, &argc, &err), 0);
	assert_strv(argv, (const char *const[]){ "/entry", "-x", "default", NULL });
	rt_strv_free(argv);
	assert_int_equal(rt_merge_command(ep, cmd, command, NULL, env, &argv, &argc, &err), 0);
	assert_strv(argv, (const char *const[]){ "/bin/sh", "-c", NULL });
	rt_strv_free(argv);
	assert_int_equal(rt_merge_command(ep, cmd, NULL, args, env, &argv, &argc, &err), 0);
	assert_strv(argv, (const char *const[]){ "/entry", "-x", "echo kc $(NAME) $(NOPE)", NULL });
	rt_strv_free(argv);
	assert_int_equal(rt_merge_command(ep, cmd, command, args, env, &argv, &argc, &err), 0);
	assert_int_equal(argc, 3);
	rt_strv_free(argv);
	assert_int_equal(rt_merge_command(NULL, NULL, NULL, NULL, env, &argv, &argc, &err), -KC_EINVAL);
	char *s = rt_expand_vars("$(A)$(B)x$$$(", (char *[]){ "A=1", "B=", NULL });
	assert_string_equal(s, "1x$$(");
	free(s);
}

static void test_merge_env(void **state)
{
	char *img[] = { "PATH=/img", "A=1", "B=2", NULL }, *ctr[] = { "B=3", "C=4", "C=5", NULL };
	size_t n;
	char **env = rt_merge_env(img, ctr, &n);
	assert_strv(env, (const char *const[]){ "PATH=/img", "A=1", "B=3", "C=5", NULL });
	assert_int_equal(n, 4);
	rt_strv_free(env);
	env = rt_merge_env(NULL, NULL, &n);
	assert_int_equal(n, 1);
	assert_true(strncmp(env[0], "PATH=", 5) == 0);
	rt_strv_free(env);
}

static void test_caps(void **state)
{
	uint64_t caps;
	struct kc_err err = { 0 };
	assert_int_equal(rt_caps_default(), 0xa80425fbULL);
	assert_int_equal(rt_caps_compute(false, NULL, NULL, &caps, &err), 0);
	assert_int_equal(caps, 0xa80425fbULL);
	assert_int_equal(rt_caps_compute(false, (char *[]){ "NET_ADMIN", NULL },
					 (char *[]){ "CAP_KILL", "mknod", NULL }, &caps, &err), 0);
	assert_int_equal(caps, (0xa80425fbULL | (1ULL << CAP_NET_ADMIN)) & ~(1ULL << CAP_KILL) &
				       ~(1ULL << CAP_MKNOD));
	assert_int_equal(rt_caps_compute(false, (char *[]){ "NET_BIND_SERVICE", NULL },
					 (char *[]){ "ALL", NULL }, &caps, &err), 0);
	assert_int_equal(caps, 1ULL << CAP_NET_BIND_SERVICE);
	assert_int_equal(rt_caps_compute(false, (char *[]){ "ALL", NULL }, (char *[]){ "SYS_ADMIN", NULL },
					 &caps, &err), 0);
	assert_int_equal(caps, rt_caps_all() & ~(1ULL << CAP_SYS_ADMIN));
	assert_int_equal(rt_caps_compute(true, NULL, NULL, &caps, &err), 0);
	assert_int_equal(caps, rt_caps_all());
	/* all = what this process may pass on: its bounding set, never more */
	unsigned long long bnd = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "CapBnd: %llx", &bnd);
	fclose(f);
	assert_int_equal(rt_caps_all() & ~(uint64_t)bnd, 0);
	assert_true((rt_caps_all() & (1ULL << CAP_CHOWN)) == ((uint64_t)bnd & (1ULL << CAP_CHOWN)));
	assert_int_equal(rt_caps_compute(false, (char *[]){ "BOGUS", NULL }, NULL, &caps, &err),
			 -KC_EINVAL);
	assert_int_equal(rt_cap_from_name("cap_sys_admin"), CAP_SYS_ADMIN);
	assert_string_equal(rt_cap_name(CAP_NET_RAW), "NET_RAW");
}

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "# comment\n"
			     "broken line\n"
			     "app:x:1000:1001:App:/home/app:/bin/sh\n"
			     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
static const char group[] = "root:x:0:\napp:x:1001:\nwheel:x:10:app,other\ndocker:x:999:other,app\n";

static void test_users(void **state)
{
	struct rt_user u;
	struct kc_err err = { 0 };
	assert_int_equal(rt_resolve_user(NULL, passwd, group, &u, &err), 0);
	assert_int_equal(u.uid, 0);
	assert_string_equal(u.home, "/root");
	assert_int_equal(rt_resolve_user("app", passwd, group, &u, &err), 0);
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 1001);
	assert_int_equal(u.n_groups, 2);
	assert_int_equal(u.groups[0], 10);
	assert_int_equal(u.groups[1], 999);
	assert_string_equal(u.home, "/home/app");
	assert_int_equal(rt_resolve_user("1000:wheel", passwd, group, &u, &err), 0);
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 10);
	assert_int_equal(rt_resolve_user("4242", passwd, group, &u, &err), 0);
	assert_int_equal(u.uid, 4242);
	assert_int_equal(u.gid, 0);
	assert_string_equal(u.home, "/");
	assert_int_equal(rt_resolve_user("4242:77", NULL, NULL, &u, &err), 0);
	assert_int_equal(u.gid, 77);
	assert_int_equal(rt_resolve_user("ghost", passwd, group, &u, &err), -KC_ENOTFOUND);
	assert_string_equal(err.msg, "unable to find user ghost: no matching entries in passwd file");
	assert_int_equal(rt_resolve_user("app:nogroup", passwd, group, &u, &err), -KC_ENOTFOUND);
	assert_int_equal(rt_resolve_user(":1", passwd, group, &u, &err), -KC_EINVAL);
}

static void test_spec_json(void **state)
{
	struct rt_spec s;
	rt_spec_init(&s);
	s.name = xstrdup("c1");
	s.dir = xstrdup("/var/lib/kc/pods/u/containers/c1");
	s.layers = xcalloc(3, sizeof(char *));
	s.layers[0] = xstrdup("/l0");
	s.layers[1] = xstrdup("/l1");
	s.n_layers = 2;
	s.argv = xcalloc(3, sizeof(char *));
	s.argv[0] = xstrdup("sh");
	s.argv[1] = xstrdup("-c");
	s.argc = 2;
	s.env = xcalloc(2, sizeof(char *));
	s.env[0] = xstrdup("A=\"quoted\"\n");
	s.n_env = 1;
	s.user = xstrdup("1000:1000");
	s.run_as_group = 5;
	s.groups[0] = 7;
	s.n_groups = 1;
	s.caps = 0xa80425fbULL;
	s.seccomp = RT_SECCOMP_RUNTIME_DEFAULT;
	s.read_only_rootfs = true;
	s.tty = true;
	s.mounts = xcalloc(1, sizeof(struct rt_mount));
	s.mounts[0].source = xstrdup("/src");
	s.mounts[0].target = xstrdup("/data");
	s.mounts[0].readonly = true;
	s.mounts[0].propagation = RT_PROP_HOST_TO_CONTAINER;
	s.n_mounts = 1;
	s.limits.memory_limit = 1 << 20;
	s.limits.cpu_quota_us = -1;
	s.limits.pids_limit = 100;
	s.cgroup_path = xstrdup("kc/besteffort/podu/c1-0");
	struct kc_str js = KC_STR_INIT;
	rt_spec_to_json(&s, &js);
	struct rt_spec t;
	struct kc_err err = { 0 };
	assert_int_equal(rt_spec_from_json(js.buf, js.len, &t, &err), 0);
	assert_string_equal(t.name, "c1");
	assert_int_equal(t.n_layers, 2);
	assert_string_equal(t.layers[1], "/l1");
	assert_string_equal(t.env[0], "A=\"quoted\"\n");
	assert_int_equal(t.run_as_group, 5);
	assert_int_equal(t.n_groups, 1);
	assert_int_equal(t.caps, 0xa80425fbULL);
	assert_int_equal(t.seccomp, RT_SECCOMP_RUNTIME_DEFAULT);
	assert_true(t.read_only_rootfs && t.tty && !t.privileged);
	assert_int_equal(t.n_mounts, 1);
	assert_true(t.mounts[0].readonly);
	assert_int_equal(t.mounts[0].propagation, RT_PROP_HOST_TO_CONTAINER);
	assert_int_equal(t.limits.memory_limit, 1 << 20);
	assert_int_equal(t.limits.cpu_quota_us, -1);
	assert_int_equal(t.limits.pids_limit, 100);
	struct kc_str js2 = KC_STR_INIT;
	rt_spec_to_json(&t, &js2);
	assert_string_equal(js.buf, js2.buf);
	kc_str_free(&js2);
	rt_spec_free(&t);
	rt_spec_free(&s);
	kc_str_free(&js);
	/* bad input */
	const char *bad[] = {
		"{}",
		"[]",
		"{\"name\":\"x\",\"dir\":\"/d\",\"layers\":[],\"args\":[\"a\"]}",
		"{\"name\":\"x\",\"dir\":\"/d\",\"layers\":[\"/l\"],\"args\":[]}",
		"{\"name\":\"x\",\"dir\":\"/d\",\"layers\":[\"/l\"],\"args\":[1]}",
		"{\"name\":\"x\",\"dir\":\"/d\",\"layers\":[\"/l\"],\"args\":[\"a\"],\"mounts\":[{\"source\":\"/a\",\"target\":\"rel\"}]}",
		"{\"name\":\"x\",\"dir\":\"/d\",\"layers\":[\"/l\"],\"args\":[\"a\"],\"seccomp\":\"x\"}",
		"{\"name\":\"x\",\"dir\":\"/d\",\"layers\":[\"/l\"],\"args\":[\"a\"],\"oomScoreAdj\":5000}",
		"{\"name\":\"x\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = rt_spec_from_json(bad[i], strlen(bad[i]), &t, &err);
		if (rc == 0)
			fail_msg("accepted %s", bad[i]);
	}
}

static void test_seccomp(void **state)
{
	struct sock_filter *f;
	size_t n;
	struct kc_err err = { 0 };
	uint32_t arch = rt_seccomp_native_arch();
	if (!arch) {
		skip();
		return;
	}
	const uint32_t allow = SECCOMP_RET_ALLOW, eperm = SECCOMP_RET_ERRNO | EPERM,
		       enosys = SECCOMP_RET_ERRNO | ENOSYS;
	assert_int_equal(rt_seccomp_build(rt_caps_default(), &f, &n, &err), 0);
	assert_true(n > 50 && n < 256);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_read, 0), allow);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_keyctl, 0), eperm);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_add_key, 0), eperm);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_mount, 0), eperm);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_unshare, CLONE_NEWUSER), eperm);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_clone, SIGCHLD), allow);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_clone, CLONE_NEWUSER | SIGCHLD), eperm);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_clone3, 0), enosys);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_personality, 0), allow);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_personality, 0xffffffff), allow);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_personality, 0x0040000), eperm);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_chroot, 0), allow); /* CAP_SYS_CHROOT */
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_ptrace, 0), allow);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_reboot, 0), eperm);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_read, 0) , allow);
	assert_int_equal(rt_seccomp_eval(f, n, arch ^ 1, SYS_read, 0), eperm); /* foreign ABI */
#ifdef __x86_64__
	assert_int_equal(rt_seccomp_eval(f, n, arch, 0x40000000 | SYS_read, 0), eperm); /* x32 */
#endif
	free(f);
	/* with CAP_SYS_ADMIN, Docker allows the mount family and namespaces */
	assert_int_equal(rt_seccomp_build(rt_caps_default() | (1ULL << CAP_SYS_ADMIN), &f, &n, &err), 0);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_mount, 0), allow);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_clone, CLONE_NEWNS), allow);
	assert_int_equal(rt_seccomp_eval(f, n, arch, SYS_keyctl, 0), eperm);
	free(f);
}

static void test_shim_formats(void **state)
{
	char ts[40];
	assert_string_equal(rt_format_rfc3339_nano(1475713029669794202ULL, ts, sizeof(ts)),
			    "2016-10-06T00:17:09.669794202Z");
	struct kc_str out = KC_STR_INIT;
	rt_cri_log_line(&out, 1475713029669794202ULL, "stdout", false, "hello", 5);
	rt_cri_log_line(&out, 1475713029000000001ULL, "stderr", true, "", 0);
	assert_string_equal(out.buf, "2016-10-06T00:17:09.669794202Z stdout F hello\n"
				     "2016-10-06T00:17:09.000000001Z stderr P \n");
	kc_str_free(&out);
	struct rt_state st;
	memset(&st, 0, sizeof(st));
	snprintf(st.status, sizeof(st.status), "exited");
	snprintf(st.reason, sizeof(st.reason), "OOMKilled");
	snprintf(st.message, sizeof(st.message), "a \"quoted\" message");
	st.pid = 42;
	st.exit_code = 137;
	st.signal = 9;
	st.oom_killed = true;
	st.started_ns = 1475713029669794202ULL;
	st.finished_ns = 1475713030000000000ULL;
	struct kc_str js = KC_STR_INIT;
	rt_state_to_json(&st, &js);
	struct rt_state back;
	struct kc_err err = { 0 };
	assert_int_equal(rt_state_from_json(js.buf, js.len, &back, &err), 0);
	assert_string_equal(back.status, "exited");
	assert_string_equal(back.reason, "OOMKilled");
	assert_string_equal(back.message, st.message);
	assert_int_equal(back.exit_code, 137);
	assert_true(back.oom_killed);
	assert_int_equal(back.started_ns, st.started_ns);
	assert_int_equal(back.finished_ns, st.finished_ns);
	assert_int_equal(back.created_ns, 0);
	kc_str_free(&js);
	assert_true(rt_state_from_json("{", 1, &back, &err) < 0);
	assert_string_equal(rt_fail_reason(RT_FAIL_START), "StartError");
	assert_string_equal(rt_fail_reason(RT_FAIL_CONFIG), "CreateContainerConfigError");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_command), cmocka_unit_test(test_merge_env),
		cmocka_unit_test(test_caps),	      cmocka_unit_test(test_users),
		cmocka_unit_test(test_spec_json),     cmocka_unit_test(test_seccomp),
		cmocka_unit_test(test_shim_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
