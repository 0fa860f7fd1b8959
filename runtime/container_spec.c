/* DESIGN: the pure half of the container module: the spec's JSON form (config.json, written by
 * the node agent or `kc runtime run`, read by the shim), Kubernetes' command/env/capability
 * rules, and /etc/passwd + /etc/group resolution. No I/O, no global state; all reentrant. */
#include "runtime/container.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "lib/alloc.h"
#include "lib/json.h"

void rt_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

struct strv {
	char **v;
	size_t n, cap;
};

static void strv_push(struct strv *s, char *owned)
{
	if (s->n + 2 > s->cap) {
		s->cap = kc_grow_cap(s->cap, s->n + 2, sizeof(char *));
		s->v = xrealloc(s->v, s->cap * sizeof(char *));
	}
	s->v[s->n++] = owned;
	s->v[s->n] = NULL;
}

static char **strv_finish(struct strv *s)
{
	if (!s->v) {
		s->v = xcalloc(1, sizeof(char *));
	}
	return s->v;
}

void rt_spec_init(struct rt_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->run_as_group = -1;
}

void rt_spec_free(struct rt_spec *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->pod_uid);
	free(s->dir);
	rt_strv_free(s->layers);
	free(s->netns);
	free(s->pidns);
	free(s->hostname);
	rt_strv_free(s->argv);
	rt_strv_free(s->env);
	free(s->cwd);
	free(s->user);
	for (size_t i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i].source);
		free(s->mounts[i].target);
	}
	free(s->mounts);
	free(s->cgroup_path);
	free(s->cgroup_root);
	free(s->log_path);
	rt_spec_init(s);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void put_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		kc_json_add(o, k, kc_json_new_str(v));
}

static void put_num(cJSON *o, const char *k, double v)
{
	kc_json_add(o, k, kc_json_new_num(v));
}

static void put_bool(cJSON *o, const char *k, bool v)
{
	if (v)
		kc_json_add(o, k, kc_json_new_bool(true));
}

static void put_strv(cJSON *o, const char *k, char *const *v, size_t n)
{
	cJSON *a = kc_json_new_array();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, kc_json_new_str(v[i]));
	kc_json_add(o, k, a);
}

static const char *prop_name(enum rt_propagation p)
{
	return p == RT_PROP_HOST_TO_CONTAINER ? "HostToContainer"
	       : p == RT_PROP_BIDIRECTIONAL   ? "Bidirectional"
					      : "None";
}

void rt_spec_to_json(const struct rt_spec *s, struct kc_str *out)
{
	cJSON *o = kc_json_new_object();
	put_str(o, "name", s->name);
	put_str(o, "podUID", s->pod_uid);
	put_num(o, "restart", s->restart);
	put_str(o, "dir", s->dir);
	put_strv(o, "layers", s->layers, s->n_layers);
	put_str(o, "netns", s->netns);
	put_bool(o, "hostNetwork", s->host_network);
	put_str(o, "pidns", s->pidns);
	put_bool(o, "hostPID", s->host_pid);
	put_bool(o, "hostIPC", s->host_ipc);
	put_str(o, "hostname", s->hostname);
	put_strv(o, "args", s->argv, s->argc);
	put_strv(o, "env", s->env, s->n_env);
	put_str(o, "cwd", s->cwd);
	put_str(o, "user", s->user);
	if (s->run_as_group >= 0)
		put_num(o, "runAsGroup", (double)s->run_as_group);
	cJSON *g = kc_json_new_array();
	for (size_t i = 0; i < s->n_groups; i++)
		cJSON_AddItemToArray(g, kc_json_new_num(s->groups[i]));
	kc_json_add(o, "groups", g);
	put_bool(o, "runAsNonRoot", s->run_as_non_root);
	char caps[32];
	snprintf(caps, sizeof(caps), "%llx", (unsigned long long)s->caps);
	put_str(o, "caps", caps);
	put_bool(o, "privileged", s->privileged);
	put_bool(o, "readOnlyRootFilesystem", s->read_only_rootfs);
	put_bool(o, "noNewPrivs", s->no_new_privs);
	put_str(o, "seccomp", s->seccomp == RT_SECCOMP_RUNTIME_DEFAULT ? "RuntimeDefault"
								       : "Unconfined");
	put_num(o, "oomScoreAdj", s->oom_score_adj);
	put_bool(o, "tty", s->tty);
	put_bool(o, "stdin", s->stdin_open);
	put_bool(o, "stdinOnce", s->stdin_once);
	put_num(o, "shmSize", (double)s->shm_size);
	cJSON *ms = kc_json_new_array();
	for (size_t i = 0; i < s->n_mounts; i++) {
		cJSON *m = kc_json_new_object();
		put_str(m, "source", s->mounts[i].source);
		put_str(m, "target", s->mounts[i].target);
		put_bool(m, "readOnly", s->mounts[i].readonly);
		put_str(m, "propagation", prop_name(s->mounts[i].propagation));
		cJSON_AddItemToArray(ms, m);
	}
	kc_json_add(o, "mounts", ms);
	put_str(o, "cgroupPath", s->cgroup_path);
	put_str(o, "cgroupRoot", s->cgroup_root);
	cJSON *l = kc_json_new_object();
	put_num(l, "cpuShares", (double)s->limits.cpu_shares);
	put_num(l, "cpuQuota", (double)s->limits.cpu_quota_us);
	put_num(l, "cpuPeriod", (double)s->limits.cpu_period_us);
	put_num(l, "memory", (double)s->limits.memory_limit);
	put_num(l, "pids", (double)s->limits.pids_limit);
	put_bool(l, "restrictDevices", s->limits.restrict_devices);
	kc_json_add(o, "limits", l);
	put_str(o, "logPath", s->log_path);
	put_num(o, "logMaxSize", (double)s->log_max_size);
	put_num(o, "logMaxFiles", s->log_max_files);
	kc_json_write(out, o);
	cJSON_Delete(o);
}

static int get_str(const cJSON *o, const char *k, char **dst, bool required, struct kc_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v || cJSON_IsNull(v)) {
		if (required)
			return kc_err_set(err, -KC_EINVAL, "config: %s is required", k);
		return 0;
	}
	if (!cJSON_IsString(v))
		return kc_err_set(err, -KC_EINVAL, "config: %s must be a string", k);
	if (strlen(v->valuestring) > 65536)
		return kc_err_set(err, -KC_ELIMIT, "config: %s too long", k);
	*dst = xstrdup(v->valuestring);
	return 0;
}

static int get_i64(const cJSON *o, const char *k, long long min, long long max, long long *dst,
		   struct kc_err *err)
{
	long long v;
	int rc = kc_json_get_i64(o, k, &v);
	if (rc == -KC_ENOTFOUND)
		return 0;
	if (rc < 0 || v < min || v > max)
		return kc_err_set(err, -KC_EINVAL, "config: %s must be an integer in [%lld, %lld]",
				  k, min, max);
	*dst = v;
	return 0;
}

static int get_strv(const cJSON *o, const char *k, size_t max, char ***dst, size_t *n,
		    struct kc_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
	struct strv sv = { 0 };
	if (a && !cJSON_IsArray(a))
		return kc_err_set(err, -KC_EINVAL, "config: %s must be an array", k);
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
	{
		if (!cJSON_IsString(it) || sv.n >= max) {
			rt_strv_free(sv.v);
			return kc_err_set(err, -KC_EINVAL,
					  "config: %s must be at most %zu strings", k, max);
		}
		strv_push(&sv, xstrdup(it->valuestring));
	}
	*dst = strv_finish(&sv);
	*n = sv.n;
	return 0;
}

static int parse_into(const cJSON *o, struct rt_spec *s, struct kc_err *err)
{
	int rc;
	long long v;
	if (!cJSON_IsObject(o))
		return kc_err_set(err, -KC_EINVAL, "config: not an object");
	if ((rc = get_str(o, "name", &s->name, true, err)) < 0 ||
	    (rc = get_str(o, "podUID", &s->pod_uid, false, err)) < 0 ||
	    (rc = get_str(o, "dir", &s->dir, true, err)) < 0 ||
	    (rc = get_str(o, "netns", &s->netns, false, err)) < 0 ||
	    (rc = get_str(o, "pidns", &s->pidns, false, err)) < 0 ||
	    (rc = get_str(o, "hostname", &s->hostname, false, err)) < 0 ||
	    (rc = get_str(o, "cwd", &s->cwd, false, err)) < 0 ||
	    (rc = get_str(o, "user", &s->user, false, err)) < 0 ||
	    (rc = get_str(o, "cgroupPath", &s->cgroup_path, false, err)) < 0 ||
	    (rc = get_str(o, "cgroupRoot", &s->cgroup_root, false, err)) < 0 ||
	    (rc = get_str(o, "logPath", &s->log_path, false, err)) < 0)
		return rc;
	if ((rc = get_strv(o, "layers", RT_MAX_LAYERS, &s->layers, &s->n_layers, err)) < 0 ||
	    (rc = get_strv(o, "args", RT_MAX_ARGS, &s->argv, &s->argc, err)) < 0 ||
	    (rc = get_strv(o, "env", RT_MAX_ENV, &s->env, &s->n_env, err)) < 0)
		return rc;
	if (s->n_layers == 0)
		return kc_err_set(err, -KC_EINVAL, "config: no image layers");
	if (s->argc == 0)
		return kc_err_set(err, -KC_EINVAL, "config: no command specified");
	v = 0;
	if ((rc = get_i64(o, "restart", 0, 1 << 30, &v, err)) < 0)
		return rc;
	s->restart = (int)v;
	v = -1;
	if ((rc = get_i64(o, "runAsGroup", -1, 0xfffffffeLL, &v, err)) < 0)
		return rc;
	s->run_as_group = v;
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "groups"), *it;
	cJSON_ArrayForEach(it, g)
	{
		long long gid;
		if (kc_json_as_i64(it, &gid) < 0 || gid < 0 || gid > 0xfffffffeLL ||
		    s->n_groups >= RT_MAX_GROUPS)
			return kc_err_set(err, -KC_EINVAL, "config: bad supplemental groups");
		s->groups[s->n_groups++] = (uint32_t)gid;
	}
	s->host_network = kc_json_get_bool(o, "hostNetwork", false);
	s->host_pid = kc_json_get_bool(o, "hostPID", false);
	s->host_ipc = kc_json_get_bool(o, "hostIPC", false);
	s->run_as_non_root = kc_json_get_bool(o, "runAsNonRoot", false);
	s->privileged = kc_json_get_bool(o, "privileged", false);
	s->read_only_rootfs = kc_json_get_bool(o, "readOnlyRootFilesystem", false);
	s->no_new_privs = kc_json_get_bool(o, "noNewPrivs", false);
	s->tty = kc_json_get_bool(o, "tty", false);
	s->stdin_open = kc_json_get_bool(o, "stdin", false);
	s->stdin_once = kc_json_get_bool(o, "stdinOnce", false);
	const char *caps = kc_json_get_str(o, "caps");
	if (caps) {
		char *end;
		errno = 0;
		s->caps = strtoull(caps, &end, 16);
		if (errno || *end)
			return kc_err_set(err, -KC_EINVAL, "config: bad caps");
	}
	const char *sc = kc_json_get_str(o, "seccomp");
	if (sc && strcmp(sc, "RuntimeDefault") == 0)
		s->seccomp = RT_SECCOMP_RUNTIME_DEFAULT;
	else if (sc && strcmp(sc, "Unconfined") != 0)
		return kc_err_set(err, -KC_EINVAL, "config: seccomp must be RuntimeDefault or Unconfined");
	v = 0;
	if ((rc = get_i64(o, "oomScoreAdj", -1000, 1000, &v, err)) < 0)
		return rc;
	s->oom_score_adj = (int)v;
	v = 0;
	if ((rc = get_i64(o, "shmSize", 0, KC_JSON_MAX_SAFE_INT, &v, err)) < 0)
		return rc;
	s->shm_size = (uint64_t)v;
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "mounts");
	size_t nm = (size_t)cJSON_GetArraySize(ms);
	if (nm > RT_MAX_MOUNTS)
		return kc_err_set(err, -KC_ELIMIT, "config: too many mounts");
	s->mounts = xcalloc(nm ? nm : 1, sizeof(*s->mounts));
	cJSON_ArrayForEach(it, ms)
	{
		struct rt_mount *m = &s->mounts[s->n_mounts++];
		if ((rc = get_str(it, "source", &m->source, true, err)) < 0 ||
		    (rc = get_str(it, "target", &m->target, true, err)) < 0)
			return rc;
		if (m->target[0] != '/')
			return kc_err_set(err, -KC_EINVAL, "config: mount target %s is not absolute",
					  m->target);
		m->readonly = kc_json_get_bool(it, "readOnly", false);
		const char *p = kc_json_get_str(it, "propagation");
		if (!p || strcmp(p, "None") == 0)
			m->propagation = RT_PROP_PRIVATE;
		else if (strcmp(p, "HostToContainer") == 0)
			m->propagation = RT_PROP_HOST_TO_CONTAINER;
		else if (strcmp(p, "Bidirectional") == 0)
			m->propagation = RT_PROP_BIDIRECTIONAL;
		else
			return kc_err_set(err, -KC_EINVAL, "config: bad mount propagation %s", p);
	}
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "limits");
	if (l) {
		long long x;
		x = 0;
		if ((rc = get_i64(l, "cpuShares", 0, 262144, &x, err)) < 0)
			return rc;
		s->limits.cpu_shares = (uint64_t)x;
		x = 0;
		if ((rc = get_i64(l, "cpuQuota", -1, KC_JSON_MAX_SAFE_INT, &x, err)) < 0)
			return rc;
		s->limits.cpu_quota_us = x;
		x = 0;
		if ((rc = get_i64(l, "cpuPeriod", 0, 1000000, &x, err)) < 0)
			return rc;
		s->limits.cpu_period_us = (uint64_t)x;
		x = 0;
		if ((rc = get_i64(l, "memory", -1, KC_JSON_MAX_SAFE_INT, &x, err)) < 0)
			return rc;
		s->limits.memory_limit = x;
		x = 0;
		if ((rc = get_i64(l, "pids", -1, 1LL << 30, &x, err)) < 0)
			return rc;
		s->limits.pids_limit = x;
		s->limits.restrict_devices = kc_json_get_bool(l, "restrictDevices", false);
	}
	v = 0;
	if ((rc = get_i64(o, "logMaxSize", 0, KC_JSON_MAX_SAFE_INT, &v, err)) < 0)
		return rc;
	s->log_max_size = (uint64_t)v;
	v = 0;
	if ((rc = get_i64(o, "logMaxFiles", 0, 100, &v, err)) < 0)
		return rc;
	s->log_max_files = (int)v;
	return 0;
}

int rt_spec_from_json(const char *buf, size_t len, struct rt_spec *s, struct kc_err *err)
{
	rt_spec_init(s);
	struct kc_json_limits lim = { .max_bytes = RT_SPEC_MAX_BYTES, .max_depth = 8 };
	cJSON *o = NULL;
	int rc = kc_json_parse(buf, len, &lim, &o, err);
	if (rc < 0)
		return kc_err_wrap(err, "config");
	rc = parse_into(o, s, err);
	cJSON_Delete(o);
	if (rc < 0)
		rt_spec_free(s);
	return rc;
}

const char *rt_fail_reason(enum rt_fail f)
{
	switch (f) {
	case RT_FAIL_CONFIG:
		return "CreateContainerConfigError";
	case RT_FAIL_CREATE:
		return "CreateContainerError";
	case RT_FAIL_START:
		return "StartError";
	case RT_FAIL_NONE:
		break;
	}
	return "";
}

/* ---- command, env ------------------------------------------------------------------------ */

static const char *env_lookup(char *const *env, const char *name, size_t nl)
{
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, nl) == 0 && env[i][nl] == '=')
			return env[i] + nl + 1;
	return NULL;
}

char *rt_expand_vars(const char *s, char *const *env)
{
	struct kc_str out = KC_STR_INIT;
	for (size_t i = 0; s[i];) {
		if (s[i] != '$' || s[i + 1] == '\0') {
			kc_str_addc(&out, s[i++]);
			continue;
		}
		if (s[i + 1] == '$') { /* escaped */
			kc_str_addc(&out, '$');
			i += 2;
			continue;
		}
		if (s[i + 1] == '(') {
			const char *close = strchr(s + i + 2, ')');
			if (close) {
				size_t nl = (size_t)(close - (s + i + 2));
				const char *val = nl ? env_lookup(env, s + i + 2, nl) : NULL;
				if (val)
					kc_str_adds(&out, val);
				else
					kc_str_add(&out, s + i, nl + 3);
				i += nl + 3;
				continue;
			}
		}
		kc_str_addc(&out, s[i++]);
	}
	return kc_str_detach(&out, NULL);
}

int rt_merge_command(char *const *entrypoint, char *const *cmd, char *const *command,
		     char *const *args, char *const *env, char ***argv, size_t *argc,
		     struct kc_err *err)
{
	struct strv sv = { 0 };
	size_t ncommand = strv_len(command), nargs = strv_len(args);
	char *const *head = ncommand ? command : entrypoint;
	char *const *tail = nargs ? args : ncommand ? NULL : cmd;
	bool expand_head = ncommand > 0, expand_tail = nargs > 0;
	for (size_t i = 0; head && head[i]; i++)
		strv_push(&sv, expand_head ? rt_expand_vars(head[i], env) : xstrdup(head[i]));
	for (size_t i = 0; tail && tail[i]; i++)
		strv_push(&sv, expand_tail ? rt_expand_vars(tail[i], env) : xstrdup(tail[i]));
	if (sv.n == 0) {
		free(sv.v);
		return kc_err_set(err, -KC_EINVAL, "no command specified");
	}
	*argv = strv_finish(&sv);
	*argc = sv.n;
	return 0;
}

char **rt_merge_env(char *const *image_env, char *const *container_env, size_t *n)
{
	struct strv sv = { 0 };
	for (size_t i = 0; image_env && image_env[i]; i++) {
		const char *eq = strchr(image_env[i], '=');
		size_t nl = eq ? (size_t)(eq - image_env[i]) : strlen(image_env[i]);
		const char *over = env_lookup(container_env, image_env[i], nl);
		if (over)
			strv_push(&sv, xasprintf("%.*s=%s", (int)nl, image_env[i], over));
		else if (eq)
			strv_push(&sv, xstrdup(image_env[i]));
	}
	for (size_t i = 0; container_env && container_env[i]; i++) {
		const char *eq = strchr(container_env[i], '=');
		if (!eq)
			continue;
		size_t nl = (size_t)(eq - container_env[i]);
		bool in_image = false;
		for (size_t j = 0; image_env && image_env[j]; j++)
			if (strncmp(image_env[j], container_env[i], nl) == 0 &&
			    (image_env[j][nl] == '=' || image_env[j][nl] == '\0'))
				in_image = true;
		/* a later duplicate in the container list wins as well */
		bool later = env_lookup(container_env + i + 1, container_env[i], nl) != NULL;
		if (!in_image && !later)
			strv_push(&sv, xstrdup(container_env[i]));
	}
	bool has_path = false;
	for (size_t i = 0; i < sv.n; i++)
		if (strncmp(sv.v[i], "PATH=", 5) == 0)
			has_path = true;
	if (!has_path)
		strv_push(&sv, xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	*n = sv.n;
	return strv_finish(&sv);
}

/* ---- capabilities ------------------------------------------------------------------------ */

static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
#define N_CAPS ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

int rt_cap_from_name(const char *name)
{
	if (kc_strncaseeq(name, "CAP_", 4))
		name += 4;
	for (int i = 0; i < N_CAPS; i++)
		if (kc_strcaseeq(name, cap_names[i]))
			return i;
	return -1;
}

const char *rt_cap_name(int cap)
{
	return cap >= 0 && cap < N_CAPS ? cap_names[cap] : "UNKNOWN";
}

uint64_t rt_caps_default(void)
{
	static const int def[] = { CAP_CHOWN,	 CAP_DAC_OVERRIDE, CAP_FSETID,	      CAP_FOWNER,
				   CAP_MKNOD,	 CAP_NET_RAW,	   CAP_SETGID,	      CAP_SETUID,
				   CAP_SETFCAP,	 CAP_SETPCAP,	   CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
				   CAP_KILL,	 CAP_AUDIT_WRITE };
	uint64_t m = 0;
	for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
		m |= 1ULL << def[i];
	return m;
}

/* Every capability this process may pass on: those of the kernel (cap_last_cap) that are in
 * its own bounding set. A privileged container gets these, as containerd gives the ones it
 * has; asking capset for more fails with EPERM (kc run under a runtime that dropped some). */
uint64_t rt_caps_all(void)
{
	int last = N_CAPS - 1;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		int v;
		if (fscanf(f, "%d", &v) == 1 && v > 0 && v < 64)
			last = v;
		fclose(f);
	}
	uint64_t m = 0;
	for (int c = 0; c <= last; c++)
		if (prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0) == 1)
			m |= 1ULL << c;
	return m;
}

int rt_caps_compute(bool privileged, char *const *add, char *const *drop, uint64_t *out,
		    struct kc_err *err)
{
	uint64_t caps = privileged ? rt_caps_all() : rt_caps_default();
	uint64_t plus = 0, minus = 0;
	for (size_t i = 0; add && add[i]; i++) {
		if (kc_strcaseeq(add[i], "ALL")) {
			caps = rt_caps_all();
			continue;
		}
		int c = rt_cap_from_name(add[i]);
		if (c < 0)
			return kc_err_set(err, -KC_EINVAL, "unknown capability \"%s\" to add", add[i]);
		plus |= 1ULL << c;
	}
	for (size_t i = 0; drop && drop[i]; i++) {
		if (kc_strcaseeq(drop[i], "ALL")) {
			caps = 0;
			continue;
		}
		int c = rt_cap_from_name(drop[i]);
		if (c < 0)
			return kc_err_set(err, -KC_EINVAL, "unknown capability \"%s\" to drop",
					  drop[i]);
		minus |= 1ULL << c;
	}
	if (privileged) {
		*out = rt_caps_all();
		return 0;
	}
	*out = (caps | plus) & ~minus;
	return 0;
}

/* ---- users ------------------------------------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static uint32_t to_u32(const char *s, size_t n)
{
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v > 0xffffffffULL ? 0xffffffffu : (uint32_t)v;
}

/* Splits one "a:b:c..." line into at most max fields (pointers into the line, lengths). */
static size_t fields(const char *line, size_t len, const char **f, size_t *fl, size_t max)
{
	size_t n = 0;
	const char *s = line, *end = line + len;
	while (n < max) {
		const char *c = memchr(s, ':', (size_t)(end - s));
		f[n] = s;
		fl[n] = c ? (size_t)(c - s) : (size_t)(end - s);
		n++;
		if (!c)
			break;
		s = c + 1;
	}
	return n;
}

/* Calls fn for every non-comment line of text; stops when fn returns true. */
static bool each_line(const char *text, bool (*fn)(const char *l, size_t n, void *ctx), void *ctx)
{
	for (const char *s = text; s && *s;) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		if (n && s[0] != '#' && fn(s, n, ctx))
			return true;
		s = nl ? nl + 1 : NULL;
	}
	return false;
}

struct pw_find {
	const char *name;
	size_t nl;
	bool by_uid;
	uint32_t uid;
	struct rt_user *u;
	char uname[256];
};

static bool pw_match(const char *l, size_t n, void *ctx)
{
	struct pw_find *p = ctx;
	const char *f[7];
	size_t fl[7];
	if (fields(l, n, f, fl, 7) < 7 || !all_digits(f[2], fl[2]) || !all_digits(f[3], fl[3]))
		return false;
	bool hit = p->by_uid ? to_u32(f[2], fl[2]) == p->uid
			     : fl[0] == p->nl && memcmp(f[0], p->name, p->nl) == 0;
	if (!hit)
		return false;
	p->u->uid = to_u32(f[2], fl[2]);
	p->u->gid = to_u32(f[3], fl[3]);
	snprintf(p->u->home, sizeof(p->u->home), "%.*s", (int)fl[5], f[5]);
	snprintf(p->uname, sizeof(p->uname), "%.*s", (int)fl[0], f[0]);
	return true;
}

struct gr_find {
	const char *name; /* group to look up, or NULL */
	size_t nl;
	bool found;
	uint32_t gid;
	const char *member; /* user whose memberships are collected, or NULL */
	struct rt_user *u;
};

static bool gr_match(const char *l, size_t n, void *ctx)
{
	struct gr_find *g = ctx;
	const char *f[4];
	size_t fl[4];
	if (fields(l, n, f, fl, 4) < 3 || !all_digits(f[2], fl[2]))
		return false;
	if (g->name) {
		if (fl[0] == g->nl && memcmp(f[0], g->name, g->nl) == 0) {
			g->found = true;
			g->gid = to_u32(f[2], fl[2]);
			return true;
		}
		return false;
	}
	if (!g->member || fields(l, n, f, fl, 4) < 4)
		return false;
	size_t ml = strlen(g->member);
	for (const char *s = f[3], *end = f[3] + fl[3]; s < end;) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		size_t len = c ? (size_t)(c - s) : (size_t)(end - s);
		if (len == ml && memcmp(s, g->member, ml) == 0 && g->u->n_groups < RT_MAX_GROUPS) {
			uint32_t gid = to_u32(f[2], fl[2]);
			bool dup = false;
			for (size_t i = 0; i < g->u->n_groups; i++)
				dup |= g->u->groups[i] == gid;
			if (!dup)
				g->u->groups[g->u->n_groups++] = gid;
		}
		s = c ? c + 1 : end;
	}
	return false;
}

int rt_resolve_user(const char *spec, const char *passwd, const char *group, struct rt_user *out,
		    struct kc_err *err)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->home, sizeof(out->home), "/");
	if (!spec || !*spec)
		spec = "0";
	const char *colon = strchr(spec, ':');
	size_t ul = colon ? (size_t)(colon - spec) : strlen(spec);
	const char *gs = colon ? colon + 1 : NULL;
	struct pw_find p = { .name = spec, .nl = ul, .u = out };
	if (ul == 0)
		return kc_err_set(err, -KC_EINVAL, "invalid user \"%s\"", spec);
	if (all_digits(spec, ul)) {
		p.by_uid = true;
		p.uid = to_u32(spec, ul);
		if (!each_line(passwd, pw_match, &p)) {
			out->uid = p.uid;
			out->gid = 0;
		}
	} else if (!each_line(passwd, pw_match, &p)) {
		return kc_err_set(err, -KC_ENOTFOUND,
				  "unable to find user %.*s: no matching entries in passwd file",
				  (int)ul, spec);
	}
	if (gs && *gs) {
		size_t gl = strlen(gs);
		if (all_digits(gs, gl)) {
			out->gid = to_u32(gs, gl);
		} else {
			struct gr_find g = { .name = gs, .nl = gl };
			if (!each_line(group, gr_match, &g) || !g.found)
				return kc_err_set(err, -KC_ENOTFOUND,
						  "unable to find group %s: no matching entries in group file",
						  gs);
			out->gid = g.gid;
		}
	}
	if (p.uname[0]) {
		struct gr_find g = { .member = p.uname, .u = out };
		each_line(group, gr_match, &g);
	}
	return 0;
}
