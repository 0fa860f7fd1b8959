/* DESIGN: `kc runtime` is a thin CLI over runtime/: it writes a container's config.json under
 * DATA/pods/<pod uid>/containers/<name>/, starts its shim and talks to the shim socket. It keeps
 * no state of its own, so a second invocation (after the first was killed) sees the same
 * containers: that is the adoption path the node agent uses too. */
#include "roles/runtimectl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/fs.h"
#include "lib/quantity.h"
#include "lib/str.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/shim.h"

#define DEFAULT_DATA "/var/lib/kc"
#define DEFAULT_POD "kc-runtime"

static void usage(FILE *out)
{
	fputs("kc runtime - run single containers with kc's runtime (a debugging tool)\n"
	      "\n"
	      "  kc runtime run --rootfs-layers DIR[:DIR...] [flags] -- CMD [ARG...]\n"
	      "      --name N  --memory Q  --cpus Q  --pids-limit N  --user U[:G]  --group G\n"
	      "      --env K=V  --workdir D  --hostname H  --mount SRC:DST[:ro]  --netns PATH\n"
	      "      --host-network  --tty/-t  --stdin/-i  --read-only  --privileged\n"
	      "      --cap-add C  --cap-drop C  --no-new-privs  --seccomp default|unconfined\n"
	      "      --run-as-non-root  --detach/-d  --rm  --cgroup-top NAME  --cgroup-root DIR\n"
	      "  kc runtime state NAME        the recorded state (JSON), live from the shim\n"
	      "  kc runtime exec [-t] NAME -- CMD [ARG...]\n"
	      "  kc runtime kill [--signal N] [--grace SECONDS] NAME\n"
	      "  kc runtime rm [-f] NAME\n"
	      "  kc runtime ls\n"
	      "Common flags: --data-dir DIR (default /var/lib/kc), --pod-uid UID (default kc-runtime).\n"
	      "Layers are listed lowest first. Logs: DATA/logs/<pod-uid>/<name>/0.log (CRI format).\n",
	      out);
}

struct common {
	const char *data;
	const char *pod;
};

/* Takes --data-dir and --pod-uid out of argv (in place). */
static int take_common(int *argc, char **argv, struct common *c)
{
	c->data = DEFAULT_DATA;
	c->pod = DEFAULT_POD;
	int k = 0;
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[k++] = argv[i++];
			break;
		}
		if ((strcmp(argv[i], "--data-dir") == 0 || strcmp(argv[i], "--pod-uid") == 0) &&
		    i + 1 < *argc) {
			if (argv[i][2] == 'd')
				c->data = argv[i + 1];
			else
				c->pod = argv[i + 1];
			i++;
			continue;
		}
		argv[k++] = argv[i];
	}
	*argc = k;
	argv[k] = NULL;
	if (strchr(c->pod, '/') || !*c->pod) {
		fprintf(stderr, "kc runtime: bad --pod-uid\n");
		return -1;
	}
	return 0;
}

static bool good_name(const char *n)
{
	if (!*n || strlen(n) > 63)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '.'))
			return false;
	return n[0] != '.';
}

static char *container_dir(const struct common *c, const char *name)
{
	return xasprintf("%s/pods/%s/containers/%s", c->data, c->pod, name);
}

static int load_spec(const char *dir, struct rt_spec *spec, struct kc_err *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/config.json", dir);
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc = kc_read_file(path, RT_SPEC_MAX_BYTES, &buf, &len, err);
	if (rc < 0)
		return rc;
	rc = rt_spec_from_json((const char *)buf, len, spec, err);
	free(buf);
	return rc;
}

struct strlist {
	char **v;
	size_t n;
};

static void sl_push(struct strlist *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 2) * sizeof(char *));
	l->v[l->n++] = (char *)(uintptr_t)s;
	l->v[l->n] = NULL;
}

static int parse_quantity(const char *flag, const char *s, bool milli, int64_t *out)
{
	struct kc_quantity q;
	struct kc_err err = { 0 };
	if (kc_quantity_parse(s, &q, &err) < 0 ||
	    (milli ? kc_quantity_milli(&q, out) : kc_quantity_value(&q, out)) < 0 || *out <= 0) {
		fprintf(stderr, "kc runtime: bad %s \"%s\"%s%s\n", flag, s, err.msg[0] ? ": " : "",
			err.msg);
		return -1;
	}
	return 0;
}

static void print_state(const struct rt_state *st)
{
	struct kc_str js = KC_STR_INIT;
	rt_state_to_json(st, &js);
	printf("%s\n", js.buf);
	kc_str_free(&js);
}

static int do_rm(const struct common *c, const char *name, bool force);

static int cmd_run(const struct common *c, int argc, char **argv)
{
	const char *layers = NULL, *name = NULL, *user = NULL, *workdir = NULL, *hostname = NULL;
	const char *netns = NULL, *cg_top = RT_CGROUP_TOP, *cg_root = RT_CGROUP_ROOT;
	const char *seccomp = "default";
	int64_t memory = 0, cpus = 0, pids = 0, group = -1;
	bool tty = false, in = false, ro = false, priv = false, nnp = false, detach = false;
	bool rm = false, host_net = false, non_root = false;
	struct strlist env = { 0 }, add = { 0 }, drop = { 0 }, mounts = { 0 };
	int i = 0;
	int rc = 2;
	char **cmd = NULL;
	for (; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(flag) (strcmp(a, flag) == 0 && v && (i++, 1))
		if (strcmp(a, "--") == 0) {
			cmd = argv + i + 1;
			break;
		} else if (TAKE("--rootfs-layers"))
			layers = v;
		else if (TAKE("--name"))
			name = v;
		else if (TAKE("--user"))
			user = v;
		else if (TAKE("--group")) {
			char *end;
			group = strtoll(v, &end, 10);
			if (*end || group < 0) {
				fprintf(stderr, "kc runtime: bad --group\n");
				goto out;
			}
		} else if (TAKE("--workdir"))
			workdir = v;
		else if (TAKE("--hostname"))
			hostname = v;
		else if (TAKE("--netns"))
			netns = v;
		else if (TAKE("--cgroup-top"))
			cg_top = v;
		else if (TAKE("--cgroup-root"))
			cg_root = v;
		else if (TAKE("--seccomp"))
			seccomp = v;
		else if (TAKE("--env"))
			sl_push(&env, v);
		else if (TAKE("--cap-add"))
			sl_push(&add, v);
		else if (TAKE("--cap-drop"))
			sl_push(&drop, v);
		else if (TAKE("--mount"))
			sl_push(&mounts, v);
		else if (TAKE("--memory")) {
			if (parse_quantity("--memory", v, false, &memory) < 0)
				goto out;
		} else if (TAKE("--cpus")) {
			if (parse_quantity("--cpus", v, true, &cpus) < 0)
				goto out;
		} else if (TAKE("--pids-limit")) {
			if (parse_quantity("--pids-limit", v, false, &pids) < 0)
				goto out;
		} else if (strcmp(a, "--tty") == 0 || strcmp(a, "-t") == 0)
			tty = true;
		else if (strcmp(a, "--stdin") == 0 || strcmp(a, "-i") == 0)
			in = true;
		else if (strcmp(a, "-it") == 0 || strcmp(a, "-ti") == 0)
			tty = in = true;
		else if (strcmp(a, "--read-only") == 0)
			ro = true;
		else if (strcmp(a, "--privileged") == 0)
			priv = true;
		else if (strcmp(a, "--no-new-privs") == 0)
			nnp = true;
		else if (strcmp(a, "--detach") == 0 || strcmp(a, "-d") == 0)
			detach = true;
		else if (strcmp(a, "--rm") == 0)
			rm = true;
		else if (strcmp(a, "--host-network") == 0)
			host_net = true;
		else if (strcmp(a, "--run-as-non-root") == 0)
			non_root = true;
		else {
			fprintf(stderr, "kc runtime run: unknown flag \"%s\"\n", a);
			goto out;
		}
#undef TAKE
	}
	if (!layers || !cmd || !cmd[0]) {
		fprintf(stderr, "kc runtime run: --rootfs-layers and a command after -- are required\n");
		goto out;
	}
	char gen[16];
	if (!name) {
		unsigned char r[4] = { 0 };
		if (getrandom(r, sizeof(r), 0) < 0)
			memset(r, 0, sizeof(r));
		snprintf(gen, sizeof(gen), "c%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
		name = gen;
	}
	if (!good_name(name)) {
		fprintf(stderr, "kc runtime run: bad --name \"%s\"\n", name);
		goto out;
	}
	struct kc_err err = { 0 };
	struct rt_spec spec;
	rt_spec_init(&spec);
	rc = 1;
	char *dir = container_dir(c, name);
	struct rt_state old;
	if (rt_state_read(dir, &old, &err) == 0 || access(dir, F_OK) == 0) {
		fprintf(stderr, "kc runtime run: container \"%s\" exists (kc runtime rm %s)\n", name,
			name);
		free(dir);
		goto out;
	}
	spec.name = xstrdup(name);
	spec.pod_uid = xstrdup(c->pod);
	spec.dir = dir;
	/* layers */
	struct strlist lay = { 0 };
	char *lcopy = xstrdup(layers);
	char *save = NULL;
	for (char *s = strtok_r(lcopy, ":", &save); s; s = strtok_r(NULL, ":", &save)) {
		char *abs = realpath(s, NULL);
		if (!abs) {
			fprintf(stderr, "kc runtime run: layer %s: %s\n", s, strerror(errno));
			free(lcopy);
			for (size_t k = 0; k < lay.n; k++)
				free(lay.v[k]);
			free(lay.v);
			goto out_spec;
		}
		sl_push(&lay, abs);
	}
	free(lcopy);
	spec.layers = lay.v;
	spec.n_layers = lay.n;
	size_t argcount = 0;
	while (cmd[argcount])
		argcount++;
	spec.argv = xcalloc(argcount + 1, sizeof(char *));
	for (size_t k = 0; k < argcount; k++)
		spec.argv[k] = xstrdup(cmd[k]);
	spec.argc = argcount;
	spec.env = rt_merge_env(env.v, NULL, &spec.n_env);
	if (workdir)
		spec.cwd = xstrdup(workdir);
	if (user)
		spec.user = xstrdup(user);
	spec.run_as_group = group;
	spec.run_as_non_root = non_root;
	spec.hostname = xstrdup(hostname ? hostname : name);
	if (netns)
		spec.netns = xstrdup(netns);
	spec.host_network = host_net;
	spec.tty = tty;
	spec.stdin_open = in;
	spec.stdin_once = in;
	spec.read_only_rootfs = ro;
	spec.privileged = priv;
	spec.no_new_privs = nnp;
	if (strcmp(seccomp, "default") == 0 || strcmp(seccomp, "RuntimeDefault") == 0)
		spec.seccomp = RT_SECCOMP_RUNTIME_DEFAULT;
	else if (strcmp(seccomp, "unconfined") == 0 || strcmp(seccomp, "Unconfined") == 0)
		spec.seccomp = RT_SECCOMP_UNCONFINED;
	else {
		fprintf(stderr, "kc runtime run: --seccomp must be default or unconfined\n");
		rc = 2;
		goto out_spec;
	}
	if (rt_caps_compute(priv, add.v, drop.v, &spec.caps, &err) < 0) {
		fprintf(stderr, "kc runtime run: %s\n", err.msg);
		rc = 2;
		goto out_spec;
	}
	spec.mounts = xcalloc(mounts.n + 1, sizeof(struct rt_mount));
	for (size_t k = 0; k < mounts.n; k++) {
		char *m = xstrdup(mounts.v[k]);
		char *dst = strchr(m, ':');
		char *opt = dst ? strchr(dst + 1, ':') : NULL;
		if (!dst || dst[1] != '/') {
			fprintf(stderr, "kc runtime run: bad --mount \"%s\"\n", mounts.v[k]);
			free(m);
			rc = 2;
			goto out_spec;
		}
		*dst++ = '\0';
		if (opt)
			*opt++ = '\0';
		struct rt_mount *mt = &spec.mounts[spec.n_mounts++];
		mt->source = realpath(m, NULL);
		if (!mt->source)
			mt->source = xstrdup(m);
		mt->target = xstrdup(dst);
		mt->readonly = opt && strcmp(opt, "ro") == 0;
		free(m);
	}
	/* cgroups: the pod level here, the container leaf by the shim */
	struct rt_resources res = { cpus ? cpus : -1, cpus ? cpus : -1, memory ? memory : -1,
				    memory ? memory : -1 };
	enum rt_qos qos = rt_qos_class(&res, 1);
	char podpath[512];
	enum rt_cgroup_mode mode;
	if (rt_cgroup_pod_path(podpath, sizeof(podpath), cg_top, qos, c->pod) < 0 ||
	    rt_cgroup_detect_mode(cg_root, &mode, &err) < 0) {
		fprintf(stderr, "kc runtime run: cgroups: %s\n", err.msg[0] ? err.msg : "bad path");
		goto out_spec;
	}
	struct rt_cgroup *pod = rt_cgroup_new(cg_root, mode, podpath);
	struct rt_cgroup_limits podlim;
	rt_pod_limits(&res, 1, &podlim);
	if (!pod || rt_cgroup_create(pod, &podlim, &err) < 0) {
		fprintf(stderr, "kc runtime run: pod cgroup %s: %s\n", podpath, err.msg);
		rt_cgroup_free(pod);
		goto out_spec;
	}
	rt_cgroup_free(pod);
	spec.cgroup_path = xasprintf("%s/%s-0", podpath, name);
	spec.cgroup_root = xstrdup(cg_root);
	rt_container_limits(&res, &spec.limits);
	spec.limits.pids_limit = pids ? pids : -1;
	spec.limits.restrict_devices = !priv;
	spec.log_path = xasprintf("%s/logs/%s/%s/0.log", c->data, c->pod, name);
	int mrc = kc_mkdir_p(spec.dir, 0711);
	if (mrc < 0) {
		fprintf(stderr, "kc runtime run: mkdir %s: %s\n", spec.dir, strerror(-mrc));
		goto out_spec;
	}
	struct kc_str js = KC_STR_INIT;
	rt_spec_to_json(&spec, &js);
	char cfg[4096];
	snprintf(cfg, sizeof(cfg), "%s/config.json", spec.dir);
	/* no fsync: after a crash the container is gone anyway and its dir is removed by rm */
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", cfg);
	int cfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool wrote = cfd >= 0 && write(cfd, js.buf, js.len) == (ssize_t)js.len;
	if (cfd >= 0 && close(cfd) < 0)
		wrote = false;
	if (!wrote || rename(tmp, cfg) < 0) {
		fprintf(stderr, "kc runtime run: write %s: %s\n", cfg, strerror(errno));
		kc_str_free(&js);
		goto out_spec;
	}
	kc_str_free(&js);
	struct rt_state st;
	if (rt_shim_spawn(spec.dir, !detach, &st, &err) < 0) {
		fprintf(stderr, "kc runtime: %s\n", err.msg);
		rc = 128;
		if (rm)
			do_rm(c, name, true);
		goto out_spec;
	}
	if (detach) {
		printf("%s\n", name);
		rc = 0;
		goto out_spec;
	}
	if (rt_shim_wait(spec.dir, &st, &err) < 0) {
		fprintf(stderr, "kc runtime: %s\n", err.msg);
		rc = 1;
		goto out_spec;
	}
	rc = st.exit_code;
	if (rm)
		do_rm(c, name, true);
out_spec:
	rt_spec_free(&spec);
out:
	free(env.v);
	free(add.v);
	free(drop.v);
	free(mounts.v);
	return rc;
}

static int cmd_state(const struct common *c, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "kc runtime state: NAME is required\n");
		return 2;
	}
	char *dir = container_dir(c, argv[0]);
	struct rt_state st;
	struct kc_err err = { 0 };
	int rc = rt_shim_query(dir, &st, &err);
	free(dir);
	if (rc < 0) {
		fprintf(stderr, "kc runtime state: %s\n", err.msg);
		return 1;
	}
	print_state(&st);
	return 0;
}

static int wait_exit(const char *dir, int ms)
{
	for (int waited = 0; waited <= ms; waited += 20) {
		struct rt_state st;
		struct kc_err err = { 0 };
		if (rt_shim_query(dir, &st, &err) < 0 || strcmp(st.status, "running") != 0)
			return 0;
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int cmd_kill(const struct common *c, int argc, char **argv)
{
	int sig = SIGTERM;
	double grace = -1;
	const char *name = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--signal") == 0 && i + 1 < argc)
			sig = atoi(argv[++i]);
		else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc)
			grace = atof(argv[++i]);
		else if (!name)
			name = argv[i];
		else {
			fprintf(stderr, "kc runtime kill: unexpected \"%s\"\n", argv[i]);
			return 2;
		}
	}
	if (!name || sig <= 0 || sig > 64) {
		fprintf(stderr, "kc runtime kill: NAME (and a valid --signal) is required\n");
		return 2;
	}
	char *dir = container_dir(c, name);
	struct kc_err err = { 0 };
	int rc = rt_shim_kill(dir, sig, false, &err);
	if (rc == 0 && grace >= 0 && wait_exit(dir, (int)(grace * 1000)) < 0) {
		rc = rt_shim_kill(dir, SIGKILL, true, &err);
		if (rc == 0)
			wait_exit(dir, 10000);
	}
	free(dir);
	if (rc < 0) {
		fprintf(stderr, "kc runtime kill: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* Copies between our stdio and a pty master until the master closes. */
static void pump_tty(int master)
{
	struct termios saved;
	bool raw = isatty(0) && tcgetattr(0, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(0, TCSANOW, &t);
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	struct pollfd p[2] = { { master, POLLIN, 0 }, { 0, POLLIN, 0 } };
	char buf[4096];
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (write(1, buf, (size_t)n) < 0)
				break;
		}
		if (p[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0)
				p[1].fd = -1;
			else if (write(master, buf, (size_t)n) < 0)
				break;
		}
	}
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
}

static int cmd_exec(const struct common *c, int argc, char **argv)
{
	bool tty = false;
	const char *name = NULL;
	char **cmd = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			cmd = argv + i + 1;
			break;
		} else if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--tty") == 0 ||
			   strcmp(argv[i], "-it") == 0)
			tty = true;
		else if (strcmp(argv[i], "-i") == 0 || strcmp(argv[i], "--stdin") == 0)
			;
		else if (!name)
			name = argv[i];
		else {
			fprintf(stderr, "kc runtime exec: unexpected \"%s\"\n", argv[i]);
			return 2;
		}
	}
	if (!name || !cmd || !cmd[0]) {
		fprintf(stderr, "kc runtime exec: NAME and a command after -- are required\n");
		return 2;
	}
	char *dir = container_dir(c, name);
	struct kc_err err = { 0 };
	int code = 0, rc;
	if (tty) {
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		char sname[64];
		if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, sname, sizeof(sname))) {
			fprintf(stderr, "kc runtime exec: pty: %s\n", strerror(errno));
			free(dir);
			return 1;
		}
		int s = open(sname, O_RDWR | O_NOCTTY | O_CLOEXEC);
		int fds[3] = { s, s, s };
		pid_t pump = fork();
		if (pump == 0) {
			close(s);
			pump_tty(m);
			_exit(0);
		}
		rc = rt_shim_exec(dir, cmd, true, fds, &code, &err);
		close(s);
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		close(m);
		kill(pump, SIGTERM);
		waitpid(pump, NULL, 0);
	} else {
		int fds[3] = { 0, 1, 2 };
		rc = rt_shim_exec(dir, cmd, false, fds, &code, &err);
	}
	free(dir);
	if (rc < 0) {
		fprintf(stderr, "kc runtime exec: %s\n", err.msg);
		return rc == -KC_EUNAVAIL ? 1 : 128;
	}
	return code;
}

static bool others_running(const struct common *c, const char *except)
{
	char *cdir = xasprintf("%s/pods/%s/containers", c->data, c->pod);
	DIR *d = opendir(cdir);
	bool any = false;
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL && !any) {
			if (de->d_name[0] == '.' || strcmp(de->d_name, except) == 0)
				continue;
			char *dir = xasprintf("%s/%s", cdir, de->d_name);
			struct rt_state st;
			struct kc_err err = { 0 };
			if (rt_shim_query(dir, &st, &err) == 0 && strcmp(st.status, "running") == 0)
				any = true;
			free(dir);
		}
		closedir(d);
	}
	free(cdir);
	return any;
}

static int do_rm(const struct common *c, const char *name, bool force)
{
	char *dir = container_dir(c, name);
	struct kc_err err = { 0 };
	struct rt_state st;
	int rc = 0;
	if (rt_shim_query(dir, &st, &err) == 0 && strcmp(st.status, "running") == 0) {
		if (!force) {
			fprintf(stderr, "kc runtime rm: %s is running (use -f)\n", name);
			free(dir);
			return 1;
		}
		if (rt_shim_kill(dir, SIGKILL, true, &err) == 0)
			wait_exit(dir, 10000);
		else if (st.pid > 0)
			kill(st.pid, SIGKILL);
	}
	struct rt_spec spec;
	if (load_spec(dir, &spec, &err) == 0) {
		if (spec.cgroup_path) {
			const char *root = spec.cgroup_root ? spec.cgroup_root : RT_CGROUP_ROOT;
			enum rt_cgroup_mode mode;
			if (rt_cgroup_detect_mode(root, &mode, &err) == 0) {
				struct rt_cgroup *cg = rt_cgroup_new(root, mode, spec.cgroup_path);
				if (cg && rt_cgroup_destroy(cg, &err) < 0) {
					fprintf(stderr, "kc runtime rm: %s\n", err.msg);
					rc = 1;
				}
				rt_cgroup_free(cg);
				/* the pod level, once no other container of the pod runs */
				char *slash = strrchr(spec.cgroup_path, '/');
				if (slash && !others_running(c, name)) {
					*slash = '\0';
					cg = rt_cgroup_new(root, mode, spec.cgroup_path);
					if (cg)
						rt_cgroup_destroy(cg, NULL);
					rt_cgroup_free(cg);
				}
			}
		}
		if (spec.log_path) {
			char *ldir = xstrdup(spec.log_path);
			char *slash = strrchr(ldir, '/');
			if (slash) {
				*slash = '\0';
				kc_remove_tree(ldir);
				slash = strrchr(ldir, '/');
				if (slash) {
					*slash = '\0';
					rmdir(ldir);
				}
			}
			free(ldir);
		}
		rt_spec_free(&spec);
	}
	int r = kc_remove_tree(dir);
	if (r < 0) {
		fprintf(stderr, "kc runtime rm: remove %s: %s\n", dir, strerror(-r));
		rc = 1;
	}
	free(dir);
	char *p = xasprintf("%s/pods/%s/containers", c->data, c->pod);
	rmdir(p);
	free(p);
	p = xasprintf("%s/pods/%s", c->data, c->pod);
	rmdir(p);
	free(p);
	return rc;
}

static int cmd_rm(const struct common *c, int argc, char **argv)
{
	bool force = false;
	int rc = 0, n = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--force") == 0) {
			force = true;
			continue;
		}
		if (!good_name(argv[i])) {
			fprintf(stderr, "kc runtime rm: bad name \"%s\"\n", argv[i]);
			return 2;
		}
	}
	for (int i = 0; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		n++;
		if (do_rm(c, argv[i], force) != 0)
			rc = 1;
	}
	if (n == 0) {
		fprintf(stderr, "kc runtime rm: NAME is required\n");
		return 2;
	}
	return rc;
}

static int cmd_ls(const struct common *c)
{
	char *pods = xasprintf("%s/pods", c->data);
	DIR *d = opendir(pods);
	printf("%-24s %-20s %-8s %-8s %-5s %s\n", "NAME", "POD", "STATUS", "PID", "EXIT", "REASON");
	if (d) {
		struct dirent *pe;
		while ((pe = readdir(d)) != NULL) {
			if (pe->d_name[0] == '.')
				continue;
			char *cdir = xasprintf("%s/%s/containers", pods, pe->d_name);
			DIR *cd = opendir(cdir);
			struct dirent *ce;
			while (cd && (ce = readdir(cd)) != NULL) {
				if (ce->d_name[0] == '.')
					continue;
				char *dir = xasprintf("%s/%s", cdir, ce->d_name);
				struct rt_state st;
				struct kc_err err = { 0 };
				if (rt_shim_query(dir, &st, &err) == 0)
					printf("%-24s %-20s %-8s %-8d %-5d %s\n", ce->d_name,
					       pe->d_name, st.status, st.pid, st.exit_code, st.reason);
				free(dir);
			}
			if (cd)
				closedir(cd);
			free(cdir);
		}
		closedir(d);
	}
	free(pods);
	return 0;
}

int kc_runtimectl_main(int argc, char **argv)
{
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	struct common c;
	if (take_common(&argc, argv, &c) < 0)
		return 2;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	const char *sub = argv[0];
	argc--;
	argv++;
	if (strcmp(sub, "run") == 0)
		return cmd_run(&c, argc, argv);
	if (strcmp(sub, "state") == 0)
		return cmd_state(&c, argc, argv);
	if (strcmp(sub, "exec") == 0)
		return cmd_exec(&c, argc, argv);
	if (strcmp(sub, "kill") == 0)
		return cmd_kill(&c, argc, argv);
	if (strcmp(sub, "rm") == 0)
		return cmd_rm(&c, argc, argv);
	if (strcmp(sub, "ls") == 0)
		return cmd_ls(&c);
	if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "kc runtime: unknown command \"%s\" (see kc runtime help)\n", sub);
	return 2;
}
