/* DESIGN: the shim process ("kc shim --dir DIR"). One per container, single threaded, a poll()
 * loop over a handful of fds (signalfd for SIGCHLD, the container's output pipes or pty master,
 * the listening socket, its connections, attach and stdin fds): poll instead of net/loop because
 * this process should touch as few pages of the kc binary as possible (≤ 1 MB per pod).
 * It is the container's parent (and a child subreaper for exec'd processes), so it is the only
 * one that can reap it and record how it ended. State transitions (running → exited) replace
 * state.json atomically (rename; no fsync: after a power loss no container is running anyway and
 * an unreachable shim reads as "Unknown"). After the container exits it drains the output to EOF,
 * reads the OOM counters, writes the final state, answers waiters, removes the cgroup and the
 * socket, and exits. The client half (rt_shim_spawn, rt_shim_query, ...) runs in kc. */
#include "runtime/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"

#define LINE_MAX_BYTES (16 * 1024) /* containerd's maximum CRI log line before a "P" split */
#define MAX_CONNS 32
#define MAX_EXECS 32
#define MAX_ATTACH 8
#define PACKET_MAX 65536
#define DEFAULT_LOG_MAX (10u << 20)
#define DEFAULT_LOG_FILES 5

/* ---- formats ------------------------------------------------------------------------------- */

char *rt_format_rfc3339_nano(uint64_t wall_ns, char *buf, size_t cap)
{
	time_t sec = (time_t)(wall_ns / 1000000000u);
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(wall_ns % 1000000000u));
	return buf;
}

static uint64_t parse_rfc3339_nano(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	unsigned frac = 0;
	int n = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return 0;
	if (s[n] == '.') {
		int digits = 0;
		for (n++; s[n] >= '0' && s[n] <= '9'; n++)
			if (digits++ < 9)
				frac = frac * 10 + (unsigned)(s[n] - '0');
		while (digits++ < 9)
			frac *= 10;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	return t < 0 ? 0 : (uint64_t)t * 1000000000u + frac;
}

void rt_cri_log_line(struct kc_str *out, uint64_t wall_ns, const char *stream, bool partial,
		     const char *data, size_t n)
{
	char ts[40];
	kc_str_addf(out, "%s %s %c ", rt_format_rfc3339_nano(wall_ns, ts, sizeof(ts)), stream,
		    partial ? 'P' : 'F');
	kc_str_add(out, data, n);
	kc_str_addc(out, '\n');
}

void rt_state_to_json(const struct rt_state *st, struct kc_str *out)
{
	char ts[40];
	kc_str_adds(out, "{\"status\":");
	kc_json_write_string(out, st->status);
	kc_str_addf(out, ",\"pid\":%d,\"shimPid\":%d,\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s",
		    st->pid, st->shim_pid, st->exit_code, st->signal,
		    st->oom_killed ? "true" : "false");
	kc_str_adds(out, ",\"reason\":");
	kc_json_write_string(out, st->reason);
	kc_str_adds(out, ",\"message\":");
	kc_json_write_string(out, st->message);
	const uint64_t t[3] = { st->created_ns, st->started_ns, st->finished_ns };
	static const char *const names[3] = { "createdAt", "startedAt", "finishedAt" };
	for (int i = 0; i < 3; i++)
		if (t[i])
			kc_str_addf(out, ",\"%s\":\"%s\"", names[i],
				    rt_format_rfc3339_nano(t[i], ts, sizeof(ts)));
	if (st->shim_alive)
		kc_str_adds(out, ",\"shimAlive\":true");
	kc_str_addc(out, '}');
}

int rt_state_from_json(const char *buf, size_t len, struct rt_state *st, struct kc_err *err)
{
	memset(st, 0, sizeof(*st));
	struct kc_json_limits lim = { .max_bytes = 64 * 1024, .max_depth = 4 };
	cJSON *o = NULL;
	int rc = kc_json_parse(buf, len, &lim, &o, err);
	if (rc < 0)
		return kc_err_wrap(err, "state");
	long long v;
	snprintf(st->status, sizeof(st->status), "%s",
		 kc_json_get_str(o, "status") ? kc_json_get_str(o, "status") : "unknown");
	snprintf(st->reason, sizeof(st->reason), "%s",
		 kc_json_get_str(o, "reason") ? kc_json_get_str(o, "reason") : "");
	snprintf(st->message, sizeof(st->message), "%s",
		 kc_json_get_str(o, "message") ? kc_json_get_str(o, "message") : "");
	if (kc_json_get_i64(o, "pid", &v) == 0)
		st->pid = (int)v;
	if (kc_json_get_i64(o, "shimPid", &v) == 0)
		st->shim_pid = (int)v;
	if (kc_json_get_i64(o, "exitCode", &v) == 0)
		st->exit_code = (int)v;
	if (kc_json_get_i64(o, "signal", &v) == 0)
		st->signal = (int)v;
	st->oom_killed = kc_json_get_bool(o, "oomKilled", false);
	st->shim_alive = kc_json_get_bool(o, "shimAlive", false);
	st->created_ns = parse_rfc3339_nano(kc_json_get_str(o, "createdAt"));
	st->started_ns = parse_rfc3339_nano(kc_json_get_str(o, "startedAt"));
	st->finished_ns = parse_rfc3339_nano(kc_json_get_str(o, "finishedAt"));
	cJSON_Delete(o);
	return 0;
}

int rt_state_read(const char *dir, struct rt_state *st, struct kc_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/state.json", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_err_set(err, errno == ENOENT ? -KC_ENOTFOUND : -errno, "%s: %s", path,
				  strerror(errno));
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return kc_err_set(err, -errno, "read %s: %s", path, strerror(errno));
	return rt_state_from_json(buf, (size_t)n, st, err);
}

/* ---- the shim process ---------------------------------------------------------------------- */

struct stream {
	int fd; /* read end of the container's output, -1 at EOF */
	const char *name;
	char buf[LINE_MAX_BYTES];
	size_t len;
	int tee; /* foreground copy, or -1 */
};

struct conn {
	int fd;
	bool waiting;
};

struct exec_proc {
	pid_t pid;
	int conn; /* fd to answer, -1 when gone */
};

struct attach {
	int out, err, in;
};

struct shim {
	char dir[PATH_MAX];
	struct rt_spec spec;
	struct rt_state st;
	struct rt_cgroup *cg;
	uint64_t oom_base;
	int log_fd;
	uint64_t log_size;
	struct stream out, err;
	int pty_master;
	int stdin_wr;  /* write end of the container's stdin, or -1 */
	int stdin_src; /* foreground: our fd 0 copied to stdin_wr; -1 otherwise */
	int sigfd;
	int listen_fd;
	struct conn conns[MAX_CONNS];
	struct exec_proc execs[MAX_EXECS];
	struct attach att[MAX_ATTACH];
	bool exited;
	uint64_t exit_deadline_ms;
};

static uint64_t now_wall(void)
{
	return kc_clock_real()->wall_ns(kc_clock_real());
}

static uint64_t now_ms(void)
{
	return kc_mono_ms(kc_clock_real());
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static void save_state(struct shim *sh)
{
	struct kc_str js = KC_STR_INIT;
	rt_state_to_json(&sh->st, &js);
	kc_str_addc(&js, '\n');
	int fd = open("state.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, js.buf, js.len) < 0 || close(fd) < 0 ||
	    rename("state.json.tmp", "state.json") < 0)
		log_error("cannot write state.json err=%s", strerror(errno));
	kc_str_free(&js);
}

static void open_log(struct shim *sh)
{
	const char *path = sh->spec.log_path;
	if (!path)
		return;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0755);
			*p = '/';
		}
	sh->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (sh->log_fd < 0)
		log_error("cannot open container log path=%s err=%s", path, strerror(errno));
	struct stat st;
	sh->log_size = sh->log_fd >= 0 && fstat(sh->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* path → path.1 → ... → path.(files-1); the oldest falls off. */
static void rotate_log(struct shim *sh)
{
	const char *path = sh->spec.log_path;
	int files = sh->spec.log_max_files > 0 ? sh->spec.log_max_files : DEFAULT_LOG_FILES;
	char from[PATH_MAX], to[PATH_MAX];
	for (int i = files - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", path);
		else
			snprintf(from, sizeof(from), "%s.%d", path, i - 1);
		snprintf(to, sizeof(to), "%s.%d", path, i);
		rename(from, to);
	}
	if (files <= 1)
		unlink(path);
	close(sh->log_fd);
	sh->log_fd = -1;
	open_log(sh);
}

static void log_record(struct shim *sh, const char *stream, bool partial, const char *data,
		       size_t n)
{
	if (sh->log_fd < 0)
		return;
	struct kc_str line = KC_STR_INIT;
	rt_cri_log_line(&line, now_wall(), stream, partial, data, n);
	uint64_t max = sh->spec.log_max_size ? sh->spec.log_max_size : DEFAULT_LOG_MAX;
	if (sh->log_size && sh->log_size + line.len > max)
		rotate_log(sh);
	if (sh->log_fd >= 0 && write_all(sh->log_fd, line.buf, line.len) == 0)
		sh->log_size += line.len;
	kc_str_free(&line);
}

static void copy_out(struct shim *sh, struct stream *s, const char *data, size_t n)
{
	if (s->tee >= 0)
		write_all(s->tee, data, n);
	for (int i = 0; i < MAX_ATTACH; i++) {
		int fd = s == &sh->err ? sh->att[i].err : sh->att[i].out;
		if (fd >= 0 && write_all(fd, data, n) < 0) {
			/* the attached client went away */
			if (sh->att[i].out >= 0)
				close(sh->att[i].out);
			if (sh->att[i].err >= 0 && sh->att[i].err != sh->att[i].out)
				close(sh->att[i].err);
			if (sh->att[i].in >= 0)
				close(sh->att[i].in);
			sh->att[i].out = sh->att[i].err = sh->att[i].in = -1;
		}
	}
}

/* Splits what arrived into CRI lines: complete lines are "F", a line longer than the buffer is
 * cut into "P" records, and what remains at EOF is written as a final "F". */
static void stream_read(struct shim *sh, struct stream *s)
{
	ssize_t n = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) { /* EOF, or EIO from a pty master once every slave is closed */
		if (s->len)
			log_record(sh, s->name, false, s->buf, s->len);
		s->len = 0;
		close(s->fd);
		s->fd = -1;
		return;
	}
	copy_out(sh, s, s->buf + s->len, (size_t)n);
	s->len += (size_t)n;
	size_t start = 0;
	for (size_t i = 0; i < s->len; i++) {
		if (s->buf[i] == '\n') {
			size_t end = i;
			if (sh->spec.tty && end > start && s->buf[end - 1] == '\r')
				end--;
			log_record(sh, s->name, false, s->buf + start, end - start);
			start = i + 1;
		}
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
	if (s->len == sizeof(s->buf)) {
		log_record(sh, s->name, true, s->buf, s->len);
		s->len = 0;
	}
}

static void reply(int fd, const char *json)
{
	if (fd >= 0 && send(fd, json, strlen(json), MSG_NOSIGNAL) < 0)
		log_debug("reply failed err=%s", strerror(errno));
}

static void reply_state(struct shim *sh, int fd)
{
	struct kc_str js = KC_STR_INIT;
	sh->st.shim_alive = true;
	rt_state_to_json(&sh->st, &js);
	sh->st.shim_alive = false;
	reply(fd, js.buf);
	kc_str_free(&js);
}

static void reply_error(int fd, int code, const char *reason, const char *msg)
{
	struct kc_str js = KC_STR_INIT;
	kc_str_adds(&js, "{\"error\":");
	kc_json_write_string(&js, msg);
	kc_str_addf(&js, ",\"code\":%d,\"reason\":", code);
	kc_json_write_string(&js, reason);
	kc_str_addc(&js, '}');
	reply(fd, js.buf);
	kc_str_free(&js);
}

static void close_conn(struct shim *sh, int i)
{
	for (int e = 0; e < MAX_EXECS; e++)
		if (sh->execs[e].conn == sh->conns[i].fd)
			sh->execs[e].conn = -1;
	close(sh->conns[i].fd);
	sh->conns[i].fd = -1;
	sh->conns[i].waiting = false;
}

static void op_exec(struct shim *sh, int ci, const cJSON *req, int *fds, int nfds)
{
	int cfd = sh->conns[ci].fd;
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(req, "args");
	int n = cJSON_GetArraySize(args);
	if (sh->exited || sh->st.pid <= 0) {
		reply_error(cfd, -KC_ENOTFOUND, "NotRunning", "container is not running");
		return;
	}
	if (n <= 0 || n > RT_MAX_ARGS || nfds != 3) {
		reply_error(cfd, -KC_EINVAL, "BadRequest", "exec needs args and 3 fds");
		return;
	}
	int slot = -1;
	for (int i = 0; i < MAX_EXECS; i++)
		if (sh->execs[i].pid == 0) {
			slot = i;
			break;
		}
	if (slot < 0) {
		reply_error(cfd, -KC_ELIMIT, "TooMany", "too many exec sessions");
		return;
	}
	char **argv = xcalloc((size_t)n + 1, sizeof(char *));
	int k = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, args)
	{
		if (cJSON_IsString(it))
			argv[k++] = it->valuestring;
	}
	bool tty = kc_json_get_bool(req, "tty", false);
	struct rt_stdio io = { fds[0], fds[1], fds[2], NULL };
	pid_t pid = 0;
	enum rt_fail fail;
	struct kc_err err = { 0 };
	int rc = rt_container_exec(&sh->spec, sh->cg, sh->st.pid, argv, tty, &io, &pid, &fail,
				   &err);
	free(argv);
	if (rc < 0) {
		reply_error(cfd, rc, rt_fail_reason(fail), err.msg);
		return;
	}
	sh->execs[slot].pid = pid;
	sh->execs[slot].conn = cfd;
	char js[64];
	snprintf(js, sizeof(js), "{\"pid\":%d}", (int)pid);
	reply(cfd, js);
}

static void op_attach(struct shim *sh, int cfd, const cJSON *req, int *fds, int nfds)
{
	bool in = kc_json_get_bool(req, "stdin", false);
	if (nfds < 2 || (in && nfds < 3)) {
		reply_error(cfd, -KC_EINVAL, "BadRequest", "attach needs stdout and stderr fds");
		return;
	}
	for (int i = 0; i < MAX_ATTACH; i++) {
		if (sh->att[i].out >= 0)
			continue;
		sh->att[i].out = fds[0];
		sh->att[i].err = fds[1];
		sh->att[i].in = in && sh->stdin_wr >= 0 ? fds[2] : -1;
		fds[0] = fds[1] = -1;
		if (in)
			fds[2] = -1;
		reply(cfd, "{\"ok\":true}");
		return;
	}
	reply_error(cfd, -KC_ELIMIT, "TooMany", "too many attached clients");
}

static void handle_request(struct shim *sh, int ci)
{
	int cfd = sh->conns[ci].fd;
	char buf[PACKET_MAX];
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(cfd, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		close_conn(sh, ci);
		return;
	}
	int fds[4] = { -1, -1, -1, -1 }, nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < cnt && nfds < 4; i++)
				memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
		}
	cJSON *req = NULL;
	struct kc_err err = { 0 };
	struct kc_json_limits lim = { .max_bytes = PACKET_MAX, .max_depth = 4 };
	const char *op = NULL;
	if (kc_json_parse(buf, (size_t)n, &lim, &req, &err) < 0 || !(op = kc_json_get_str(req, "op"))) {
		reply_error(cfd, -KC_EPARSE, "BadRequest", err.msg[0] ? err.msg : "no op");
	} else if (strcmp(op, "state") == 0) {
		reply_state(sh, cfd);
	} else if (strcmp(op, "wait") == 0) {
		if (sh->exited && sh->out.fd < 0 && sh->err.fd < 0)
			reply_state(sh, cfd);
		else
			sh->conns[ci].waiting = true;
	} else if (strcmp(op, "kill") == 0) {
		long long sig = SIGTERM;
		kc_json_get_i64(req, "signal", &sig);
		int rc = 0;
		if (sig < 0 || sig > 64)
			rc = -EINVAL;
		else if (kc_json_get_bool(req, "all", false) && sh->cg)
			rc = rt_cgroup_kill(sh->cg, (int)sig, &err);
		else if (!sh->exited && sh->st.pid > 0 && kill(sh->st.pid, (int)sig) < 0)
			rc = -errno;
		if (rc < 0)
			reply_error(cfd, rc, "KillFailed", strerror(-rc));
		else
			reply(cfd, "{\"ok\":true}");
	} else if (strcmp(op, "resize") == 0) {
		long long rows = 0, cols = 0;
		kc_json_get_i64(req, "rows", &rows);
		kc_json_get_i64(req, "cols", &cols);
		struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
		if (sh->pty_master < 0)
			reply_error(cfd, -KC_EINVAL, "NoTTY", "container has no tty");
		else if (ioctl(sh->pty_master, TIOCSWINSZ, &ws) < 0)
			reply_error(cfd, -errno, "ResizeFailed", strerror(errno));
		else
			reply(cfd, "{\"ok\":true}");
	} else if (strcmp(op, "exec") == 0) {
		op_exec(sh, ci, req, fds, nfds);
	} else if (strcmp(op, "attach") == 0) {
		op_attach(sh, cfd, req, fds, nfds);
	} else {
		reply_error(cfd, -KC_EINVAL, "BadRequest", "unknown op");
	}
	cJSON_Delete(req);
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void set_exit(struct shim *sh, int status)
{
	sh->exited = true;
	sh->st.finished_ns = now_wall();
	if (WIFSIGNALED(status)) {
		sh->st.signal = WTERMSIG(status);
		sh->st.exit_code = 128 + sh->st.signal;
	} else {
		sh->st.exit_code = WEXITSTATUS(status);
	}
	sh->exit_deadline_ms = now_ms() + 2000;
}

static void reap(struct shim *sh)
{
	struct signalfd_siginfo si;
	while (read(sh->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == sh->st.pid) {
			set_exit(sh, status);
			continue;
		}
		for (int i = 0; i < MAX_EXECS; i++) {
			if (sh->execs[i].pid != pid)
				continue;
			char js[96];
			int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
			snprintf(js, sizeof(js), "{\"exitCode\":%d,\"signal\":%d}", code,
				 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			reply(sh->execs[i].conn, js);
			sh->execs[i].pid = 0;
			sh->execs[i].conn = -1;
		}
	}
}

static void finish(struct shim *sh)
{
	if (sh->cg) {
		struct rt_cgroup_stats cs;
		struct kc_err err = { 0 };
		if (rt_cgroup_stats(sh->cg, &cs, &err) == 0 && cs.oom_kills > sh->oom_base)
			sh->st.oom_killed = true;
	}
	snprintf(sh->st.status, sizeof(sh->st.status), "exited");
	snprintf(sh->st.reason, sizeof(sh->st.reason), "%s",
		 sh->st.oom_killed	   ? "OOMKilled"
		 : sh->st.exit_code == 0 ? "Completed"
					 : "Error");
	save_state(sh);
	log_info("container exited name=%s code=%d signal=%d oom=%d", sh->spec.name,
		 sh->st.exit_code, sh->st.signal, sh->st.oom_killed);
	for (int i = 0; i < MAX_CONNS; i++)
		if (sh->conns[i].fd >= 0 && sh->conns[i].waiting)
			reply_state(sh, sh->conns[i].fd);
	/* from here on state.json is the truth: new clients must not queue behind the cleanup */
	unlink("shim.sock");
	close(sh->listen_fd);
	sh->listen_fd = -1;
	if (sh->cg) {
		struct kc_err err = { 0 };
		if (rt_cgroup_destroy(sh->cg, &err) < 0)
			log_warn("cannot remove cgroup err=%s", err.msg);
	}
}

static void add_pfd(struct pollfd *p, int *n, int fd, short ev)
{
	p[*n].fd = fd;
	p[*n].events = ev;
	p[*n].revents = 0;
	(*n)++;
}

static void serve(struct shim *sh)
{
	for (;;) {
		struct pollfd p[8 + MAX_CONNS + MAX_ATTACH];
		int n = 0;
		add_pfd(p, &n, sh->sigfd, POLLIN);
		add_pfd(p, &n, sh->listen_fd, POLLIN);
		add_pfd(p, &n, sh->out.fd, POLLIN);
		add_pfd(p, &n, sh->err.fd, POLLIN);
		add_pfd(p, &n, sh->stdin_src, POLLIN);
		int base = n;
		for (int i = 0; i < MAX_CONNS; i++)
			add_pfd(p, &n, sh->conns[i].fd, POLLIN);
		int abase = n;
		for (int i = 0; i < MAX_ATTACH; i++)
			add_pfd(p, &n, sh->att[i].in, POLLIN);
		if (sh->exited) {
			bool drained = sh->out.fd < 0 && sh->err.fd < 0;
			if (drained || now_ms() >= sh->exit_deadline_ms)
				return;
		}
		int timeout = sh->exited ? 100 : -1;
		int r = poll(p, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR)
			kc_fatal("poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		if (p[0].revents)
			reap(sh);
		if (p[1].revents & POLLIN) {
			int c = accept4(sh->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			int slot = -1;
			for (int i = 0; c >= 0 && i < MAX_CONNS; i++)
				if (sh->conns[i].fd < 0) {
					slot = i;
					break;
				}
			if (slot >= 0)
				sh->conns[slot].fd = c;
			else if (c >= 0)
				close(c);
		}
		if (p[2].revents)
			stream_read(sh, &sh->out);
		if (p[3].revents)
			stream_read(sh, &sh->err);
		if (p[4].revents) {
			char buf[4096];
			ssize_t k = read(sh->stdin_src, buf, sizeof(buf));
			if (k <= 0 || write_all(sh->stdin_wr, buf, (size_t)k) < 0) {
				sh->stdin_src = -1; /* stdin_once: the container sees EOF */
				if (sh->stdin_wr >= 0 && !sh->spec.tty) {
					close(sh->stdin_wr);
					sh->stdin_wr = -1;
				}
			}
		}
		for (int i = 0; i < MAX_CONNS; i++)
			if (p[base + i].fd >= 0 && p[base + i].revents)
				handle_request(sh, i);
		for (int i = 0; i < MAX_ATTACH; i++) {
			if (p[abase + i].fd < 0 || !p[abase + i].revents)
				continue;
			char buf[4096];
			ssize_t k = read(sh->att[i].in, buf, sizeof(buf));
			if (k <= 0 || sh->stdin_wr < 0 || write_all(sh->stdin_wr, buf, (size_t)k) < 0) {
				close(sh->att[i].in);
				sh->att[i].in = -1;
				if (sh->spec.stdin_once && sh->stdin_wr >= 0 && !sh->spec.tty) {
					close(sh->stdin_wr);
					sh->stdin_wr = -1;
				}
			}
		}
	}
}


/* Once the container runs, the shim only polls and copies bytes: drop this process's view of
 * the kc binary's read-only pages (text and constants, paged in while reading the spec and
 * starting the container). They stay in the page cache, shared with the agent; the few the
 * poll loop uses fault back in. The shim's own RSS falls from ~920 kB to what it really
 * touches, which is the per-pod overhead an operator sees. */
static void drop_binary_pages(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	char line[PATH_MAX + 128];
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];
		int off = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &off) != 3 || !off)
			continue;
		char *path = line + off;
		path[strcspn(path, "\n")] = '\0';
		if (perms[1] == 'w' || strcmp(path, exe) != 0)
			continue;
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
		madvise((void *)lo, hi - lo, MADV_RANDOM);
	}
	fclose(f);
}

static void ready(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ready(int fd, const char *fmt, ...)
{
	if (fd < 0)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	write_all(fd, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
	close(fd);
}

static int setup_stdio(struct shim *sh, struct rt_stdio *io, char *console, size_t cap,
		       bool foreground)
{
	io->in = io->out = io->err = -1;
	io->console = NULL;
	sh->stdin_wr = sh->stdin_src = sh->pty_master = -1;
	sh->out.fd = sh->err.fd = -1;
	sh->out.tee = foreground ? 1 : -1;
	sh->err.tee = foreground ? 2 : -1;
	if (sh->spec.tty) {
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, console, cap) != 0)
			return -errno;
		int s = open(console, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (s < 0)
			return -errno;
		struct winsize ws = { .ws_row = 24, .ws_col = 80 };
		if (foreground)
			ioctl(0, TIOCGWINSZ, &ws);
		ioctl(m, TIOCSWINSZ, &ws);
		sh->pty_master = m;
		sh->out.fd = dup(m);
		fcntl(sh->out.fd, F_SETFD, FD_CLOEXEC);
		sh->stdin_wr = m;
		io->in = io->out = io->err = s;
		io->console = console;
	} else {
		int o[2], e[2];
		if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
			return -errno;
		sh->out.fd = o[0];
		sh->err.fd = e[0];
		io->out = o[1];
		io->err = e[1];
		if (sh->spec.stdin_open) {
			int i[2];
			if (pipe2(i, O_CLOEXEC) < 0)
				return -errno;
			io->in = i[0];
			sh->stdin_wr = i[1];
		}
	}
	if (foreground && sh->spec.stdin_open)
		sh->stdin_src = 0;
	return 0;
}

static int bind_socket(struct shim *sh)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "shim.sock"); /* relative: cwd is the dir */
	unlink("shim.sock");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod("shim.sock", 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	sh->listen_fd = fd;
	return 0;
}

int rt_shim_main(int argc, char **argv)
{
	const char *dir = NULL;
	int ready_fd = -1;
	bool foreground = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--ready-fd") == 0 && i + 1 < argc)
			ready_fd = atoi(argv[++i]);
		else if (strcmp(argv[i], "--foreground") == 0)
			foreground = true;
	}
	if (!dir) {
		fprintf(stderr, "kc shim: --dir is required\n");
		return 2;
	}
	if (ready_fd >= 0)
		fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
	struct shim *sh = xcalloc(1, sizeof(*sh));
	snprintf(sh->dir, sizeof(sh->dir), "%s", dir);
	sh->log_fd = sh->listen_fd = -1;
	for (int i = 0; i < MAX_CONNS; i++)
		sh->conns[i].fd = -1;
	for (int i = 0; i < MAX_EXECS; i++)
		sh->execs[i].conn = -1;
	for (int i = 0; i < MAX_ATTACH; i++)
		sh->att[i].out = sh->att[i].err = sh->att[i].in = -1;
	sh->out.name = "stdout";
	sh->err.name = "stderr";
	prctl(PR_SET_NAME, "kc-shim", 0, 0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	if (chdir(dir) < 0) {
		ready(ready_fd, "err StartError\tchdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	int lfd = open("shim.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (lfd >= 0)
		kc_log_set_fd(lfd);
	struct kc_err err = { 0 };
	int fd = open("config.json", O_RDONLY | O_CLOEXEC);
	struct kc_str cbuf = KC_STR_INIT;
	if (fd >= 0) {
		char tmp[65536];
		ssize_t k;
		while ((k = read(fd, tmp, sizeof(tmp))) > 0 && cbuf.len < RT_SPEC_MAX_BYTES)
			kc_str_add(&cbuf, tmp, (size_t)k);
		close(fd);
	}
	int rc = fd < 0 ? kc_err_set(&err, -errno, "config.json: %s", strerror(errno))
			: rt_spec_from_json(cbuf.buf, cbuf.len, &sh->spec, &err);
	kc_str_free(&cbuf);
	sh->st.shim_pid = (int)getpid();
	sh->st.created_ns = now_wall();
	snprintf(sh->st.status, sizeof(sh->st.status), "created");
	if (rc < 0) {
		snprintf(sh->st.status, sizeof(sh->st.status), "exited");
		snprintf(sh->st.reason, sizeof(sh->st.reason), "CreateContainerError");
		snprintf(sh->st.message, sizeof(sh->st.message), "%s", err.msg);
		sh->st.exit_code = 128;
		save_state(sh);
		ready(ready_fd, "err CreateContainerError\t%s\n", err.msg);
		return 1;
	}
	open_log(sh);
	enum rt_fail fail = RT_FAIL_START;
	if (sh->spec.cgroup_path) {
		const char *root = sh->spec.cgroup_root ? sh->spec.cgroup_root : RT_CGROUP_ROOT;
		enum rt_cgroup_mode mode;
		rc = rt_cgroup_detect_mode(root, &mode, &err);
		if (rc == 0) {
			sh->cg = rt_cgroup_new(root, mode, sh->spec.cgroup_path);
			if (!sh->cg)
				rc = kc_err_set(&err, -KC_EINVAL, "bad cgroup path %s",
						sh->spec.cgroup_path);
		}
		if (rc == 0)
			rc = rt_cgroup_create(sh->cg, &sh->spec.limits, &err);
		if (rc == 0) {
			struct rt_cgroup_stats cs;
			if (rt_cgroup_stats(sh->cg, &cs, &err) == 0)
				sh->oom_base = cs.oom_kills;
		}
		if (rc < 0)
			kc_err_wrap(&err, "cgroup");
	}
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sh->sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	struct rt_stdio io;
	char console[64] = "";
	if (rc == 0 && (rc = setup_stdio(sh, &io, console, sizeof(console), foreground)) < 0)
		kc_err_set(&err, rc, "container stdio: %s", strerror(-rc));
	if (rc == 0)
		rc = bind_socket(sh) < 0 ? kc_err_set(&err, -errno, "shim socket: %s", strerror(errno))
					 : 0;
	pid_t pid = 0;
	if (rc == 0)
		rc = rt_container_start(&sh->spec, sh->cg, &io, &pid, &fail, &err);
	if (rc == 0 || io.out >= 0) {
		/* the container holds its ends now; ours would keep the streams from ever ending */
		if (io.in >= 0 && io.in != io.out)
			close(io.in);
		if (io.out >= 0)
			close(io.out);
		if (io.err >= 0 && io.err != io.out)
			close(io.err);
	}
	if (rc < 0) {
		snprintf(sh->st.status, sizeof(sh->st.status), "exited");
		snprintf(sh->st.reason, sizeof(sh->st.reason), "%s", rt_fail_reason(fail));
		snprintf(sh->st.message, sizeof(sh->st.message), "%s", err.msg);
		sh->st.exit_code = 128;
		sh->st.finished_ns = now_wall();
		save_state(sh);
		log_error("container failed to start name=%s reason=%s err=%s", sh->spec.name,
			  sh->st.reason, err.msg);
		if (sh->cg)
			rt_cgroup_destroy(sh->cg, NULL);
		unlink("shim.sock");
		ready(ready_fd, "err %s\t%s\n", rt_fail_reason(fail), err.msg);
		rt_cgroup_free(sh->cg);
		rt_spec_free(&sh->spec);
		free(sh);
		return 1;
	}
	sh->st.pid = (int)pid;
	sh->st.started_ns = now_wall();
	snprintf(sh->st.status, sizeof(sh->st.status), "running");
	save_state(sh);
	log_info("container started name=%s pid=%d", sh->spec.name, (int)pid);
	ready(ready_fd, "ok %d %d\n", (int)pid, (int)getpid());
	if (!foreground) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			if (lfd < 0)
				dup2(nul, 2);
			close(nul);
		}
	}
	drop_binary_pages();
	serve(sh);
	finish(sh);
	rt_cgroup_free(sh->cg);
	rt_spec_free(&sh->spec);
	free(sh);
	return 0;
}

/* ---- client side ---------------------------------------------------------------------------- */

static int connect_dir(const char *dir, struct kc_err *err)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kc_err_set(err, -errno, "socket: %s", strerror(errno));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dfd = -1;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/shim.sock", dir) >=
	    sizeof(sa.sun_path)) {
		/* too long for sun_path: go through a directory fd */
		dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/shim.sock", dfd);
	}
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	if (dfd >= 0)
		close(dfd);
	if (rc < 0) {
		close(fd);
		return kc_err_set(err, e == ENOENT || e == ECONNREFUSED ? -KC_EUNAVAIL : -e,
				  "shim of %s: %s", dir, strerror(e));
	}
	return fd;
}

int rt_shim_request(const char *dir, const char *json, const int *fds, int nfds,
		    struct kc_err *err)
{
	int fd = connect_dir(dir, err);
	if (fd < 0)
		return fd;
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { (void *)(uintptr_t)json, strlen(json) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
		int e = errno;
		close(fd);
		return kc_err_set(err, -e, "send to shim: %s", strerror(e));
	}
	return fd;
}

ssize_t rt_shim_recv(int fd, char *buf, size_t cap)
{
	for (;;) {
		ssize_t n = recv(fd, buf, cap - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf[n] = '\0';
		return n;
	}
}

/* One request, one reply. */
static int roundtrip(const char *dir, const char *json, const int *fds, int nfds, char *buf,
		     size_t cap, struct kc_err *err)
{
	int fd = rt_shim_request(dir, json, fds, nfds, err);
	if (fd < 0)
		return fd;
	ssize_t n = rt_shim_recv(fd, buf, cap);
	close(fd);
	if (n <= 0)
		return kc_err_set(err, n < 0 ? (int)n : -KC_ECLOSED, "shim of %s went away", dir);
	return 0;
}

static int reply_err(const char *buf, struct kc_err *err)
{
	cJSON *o = NULL;
	struct kc_err e2 = { 0 };
	if (kc_json_parse(buf, strlen(buf), NULL, &o, &e2) < 0)
		return kc_err_set(err, -KC_EPROTO, "bad reply from shim");
	const char *msg = kc_json_get_str(o, "error");
	int rc = 0;
	if (msg) {
		long long code = -KC_EIO;
		kc_json_get_i64(o, "code", &code);
		const char *reason = kc_json_get_str(o, "reason");
		rc = kc_err_set(err, code < 0 ? (int)code : -KC_EIO, "%s%s%s",
				reason && *reason ? reason : "", reason && *reason ? ": " : "", msg);
	}
	cJSON_Delete(o);
	return rc;
}

int rt_shim_query(const char *dir, struct rt_state *st, struct kc_err *err)
{
	char buf[8192];
	struct kc_err e2 = { 0 };
	if (roundtrip(dir, "{\"op\":\"state\"}", NULL, 0, buf, sizeof(buf), &e2) == 0) {
		int rc = rt_state_from_json(buf, strlen(buf), st, err);
		st->shim_alive = true;
		return rc;
	}
	int rc = rt_state_read(dir, st, err);
	if (rc < 0)
		return rc;
	st->shim_alive = false;
	if (strcmp(st->status, "running") == 0 && (st->pid <= 0 || kill(st->pid, 0) < 0)) {
		snprintf(st->status, sizeof(st->status), "exited");
		snprintf(st->reason, sizeof(st->reason), "Unknown");
		snprintf(st->message, sizeof(st->message), "the shim is gone");
		st->exit_code = 255;
	}
	return 0;
}

int rt_shim_wait(const char *dir, struct rt_state *st, struct kc_err *err)
{
	char buf[8192];
	int fd = rt_shim_request(dir, "{\"op\":\"wait\"}", NULL, 0, err);
	if (fd < 0)
		return rt_shim_query(dir, st, err);
	ssize_t n = rt_shim_recv(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return rt_shim_query(dir, st, err);
	int rc = rt_state_from_json(buf, (size_t)n, st, err);
	st->shim_alive = false;
	return rc;
}

int rt_shim_kill(const char *dir, int sig, bool all, struct kc_err *err)
{
	char req[96], buf[4096];
	snprintf(req, sizeof(req), "{\"op\":\"kill\",\"signal\":%d,\"all\":%s}", sig,
		 all ? "true" : "false");
	int rc = roundtrip(dir, req, NULL, 0, buf, sizeof(buf), err);
	return rc < 0 ? rc : reply_err(buf, err);
}

int rt_shim_resize(const char *dir, unsigned rows, unsigned cols, struct kc_err *err)
{
	char req[96], buf[4096];
	snprintf(req, sizeof(req), "{\"op\":\"resize\",\"rows\":%u,\"cols\":%u}", rows, cols);
	int rc = roundtrip(dir, req, NULL, 0, buf, sizeof(buf), err);
	return rc < 0 ? rc : reply_err(buf, err);
}

int rt_shim_exec(const char *dir, char *const *argv, bool tty, const int fds[3], int *exit_code,
		 struct kc_err *err)
{
	struct kc_str req = KC_STR_INIT;
	kc_str_adds(&req, "{\"op\":\"exec\",\"args\":[");
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			kc_str_addc(&req, ',');
		kc_json_write_string(&req, argv[i]);
	}
	kc_str_addf(&req, "],\"tty\":%s}", tty ? "true" : "false");
	if (req.len >= PACKET_MAX) {
		kc_str_free(&req);
		return kc_err_set(err, -KC_ETOOBIG, "exec command line too long");
	}
	int fd = rt_shim_request(dir, req.buf, fds, 3, err);
	kc_str_free(&req);
	if (fd < 0)
		return fd;
	char buf[4096];
	int rc = 0;
	for (;;) {
		ssize_t n = rt_shim_recv(fd, buf, sizeof(buf));
		if (n <= 0) {
			rc = kc_err_set(err, -KC_ECLOSED, "shim closed the exec session");
			break;
		}
		if ((rc = reply_err(buf, err)) < 0)
			break;
		cJSON *o = NULL;
		if (kc_json_parse(buf, (size_t)n, NULL, &o, err) < 0) {
			rc = -KC_EPROTO;
			break;
		}
		long long code;
		bool done = kc_json_get_i64(o, "exitCode", &code) == 0;
		cJSON_Delete(o);
		if (done) {
			*exit_code = (int)code;
			break;
		}
	}
	close(fd);
	return rc;
}

int rt_shim_spawn(const char *dir, bool foreground, struct rt_state *st, struct kc_err *err)
{
	memset(st, 0, sizeof(*st));
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return kc_err_set(err, -errno, "pipe: %s", strerror(errno));
	pid_t mid = fork();
	if (mid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return kc_err_set(err, -e, "fork: %s", strerror(e));
	}
	if (mid == 0) {
		setsid();
		pid_t shim = fork();
		if (shim != 0)
			_exit(shim < 0 ? 1 : 0);
		close(p[0]);
		fcntl(p[1], F_SETFD, 0);
		if (!foreground) {
			int nul = open("/dev/null", O_RDWR);
			if (nul >= 0) {
				dup2(nul, 0);
				dup2(nul, 1);
				dup2(nul, 2);
				if (nul > 2)
					close(nul);
			}
		}
		char fdarg[16];
		snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
		char *args[] = { "kc", "shim", "--dir", (char *)(uintptr_t)dir, "--ready-fd", fdarg,
				 foreground ? "--foreground" : NULL, NULL };
		execv("/proc/self/exe", args);
		_exit(127);
	}
	close(p[1]);
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	char buf[1024];
	size_t len = 0;
	ssize_t n;
	while (len + 1 < sizeof(buf) && (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	close(p[0]);
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	int pid = 0, shim = 0;
	if (sscanf(buf, "ok %d %d", &pid, &shim) == 2) {
		st->pid = pid;
		st->shim_pid = shim;
		snprintf(st->status, sizeof(st->status), "running");
		return 0;
	}
	if (strncmp(buf, "err ", 4) == 0) {
		char *tab = strchr(buf, '\t');
		const char *msg = tab ? tab + 1 : buf + 4;
		if (tab)
			*tab = '\0';
		snprintf(st->status, sizeof(st->status), "exited");
		snprintf(st->reason, sizeof(st->reason), "%s", buf + 4);
		snprintf(st->message, sizeof(st->message), "%s", msg);
		st->exit_code = 128;
		return kc_err_set(err, -KC_EIO, "%s: %s", buf + 4, msg);
	}
	return kc_err_set(err, -KC_EIO, "the shim died before starting the container");
}
