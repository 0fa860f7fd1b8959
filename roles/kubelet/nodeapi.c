/* DESIGN: the node API on --kubelet-port, served on the agent loop: HTTPS with a client
 * certificate required (the API server's kube-apiserver-kubelet-client, or any system:masters
 * identity); anonymous requests never reach a handler.
 *   GET /healthz                       "ok"
 *   GET /pods                          the pods bound to this node (a v1 PodList)
 *   GET /containerLogs/<ns>/<pod>/<c>  CRI log files rendered as text; follow streams new lines
 *                                      (polled every 200 ms) until the container exits
 *   GET /metrics/resource              usage of the node, its pods and their running containers
 *                                      in Prometheus text (what metrics-server scrapes): CPU
 *                                      as cumulative core-seconds, memory as working set bytes,
 *                                      read from the cgroups at request time, stamped in ms
 *   GET|POST /exec/<ns>/<pod>/<c>      WebSocket v5/v4.channel.k8s.io: channel 0 stdin, 1 stdout,
 *                                      2 stderr, 3 status, 4 resize, 255 close (v5)
 * An exec runs through the container's shim (rt_shim_exec) on a thread of its own, with pipes
 * (or a pty) whose agent-side ends the loop relays to the WebSocket. */
#include "roles/kubelet/kubelet_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "net/ws.h"
#include "roles/client/informer.h"
#include "lib/clock.h"
#include "lib/promtext.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"

#define FOLLOW_POLL_MS 200
#define LOG_READ_MAX ((size_t)64 << 20)
#define EXEC_SETTLE_MS 50 /* see ws_open */

static void respond_text(struct http_req *req, int code, const char *msg)
{
	http_respond(req, code, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* The uid the pod's containers run under, from the informer cache: a mirror pod's is the
 * static pod's (its config.mirror hash). */
static const char *pod_uid(struct kubelet *k, const char *ns, const char *name)
{
	const cJSON *p = k->pods ? informer_get(k->pods, ns, name) : NULL;
	const char *mirror = p ? kl_pod_mirror_of(p) : NULL;
	return mirror ? mirror : kc_json_get_str(p, "metadata.uid");
}

/* Highest attempt (or the one before it) of a container, from its log dir; -1 when none. */
static int find_attempt(struct kubelet *k, const char *uid, const char *name, bool previous)
{
	char *dir = xasprintf("%s/logs/%s/%s", k->data, uid, name);
	DIR *d = opendir(dir);
	int cur = -1, prev = -1;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		char *end;
		long a = strtol(de->d_name, &end, 10);
		if (end == de->d_name || strcmp(end, ".log") != 0)
			continue;
		if (a > cur) {
			prev = cur;
			cur = (int)a;
		} else if (a > prev) {
			prev = (int)a;
		}
	}
	if (d)
		closedir(d);
	free(dir);
	return previous ? prev : cur;
}

static bool ctr_running(struct kubelet *k, const char *uid, const char *name, int attempt)
{
	char *dir = kl_ctr_dir(k, uid, name, attempt);
	struct rt_state st;
	struct kc_err err;
	bool r = rt_shim_query(dir, &st, &err) == 0 && !strcmp(st.status, "running");
	free(dir);
	return r;
}

struct follow {
	struct kubelet *k;
	struct http_req *req;
	struct loop_timer t;
	char *path;
	char uid[64], name[64];
	int attempt;
	off_t off;
	struct kl_log_opts o;
	bool gone;
};

static void follow_free(struct follow *f)
{
	loop_timer_stop(f->k->loop, &f->t);
	free(f->path);
	free(f);
}

static void follow_close(struct http_req *req, void *arg)
{
	struct follow *f = arg;
	f->gone = true;
}

/* Reads complete lines after f->off and sends them. Returns bytes sent. */
static size_t follow_read(struct follow *f)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st;
	size_t sent = 0;
	if (fstat(fd, &st) == 0 && st.st_size < f->off)
		f->off = 0; /* rotated */
	if (fstat(fd, &st) == 0 && st.st_size > f->off) {
		size_t n = (size_t)(st.st_size - f->off);
		if (n > (1 << 20))
			n = 1 << 20;
		char *buf = xmalloc(n);
		ssize_t r = pread(fd, buf, n, f->off);
		if (r > 0) {
			char *last = memrchr(buf, '\n', (size_t)r);
			if (last) {
				size_t use = (size_t)(last - buf) + 1;
				struct kc_str out = KC_STR_INIT;
				struct kl_log_opts o = f->o;
				o.tail_lines = -1;
				kl_cri_render(buf, use, &o, &out);
				if (out.len)
					http_stream_write(f->req, out.buf, out.len);
				sent = out.len;
				kc_str_free(&out);
				f->off += (off_t)use;
			}
		}
		free(buf);
	}
	close(fd);
	return sent;
}

static void follow_tick(struct loop *l, struct loop_timer *t)
{
	struct follow *f = t->data;
	if (f->gone) {
		http_stream_end(f->req);
		follow_free(f);
		return;
	}
	size_t n = follow_read(f);
	if (n == 0 && !ctr_running(f->k, f->uid, f->name, f->attempt)) {
		follow_read(f);
		http_stream_end(f->req);
		follow_free(f);
		return;
	}
	loop_timer_start(l, t, FOLLOW_POLL_MS);
}

static void h_logs(struct kubelet *k, struct http_req *req, char **seg)
{
	const char *uid = pod_uid(k, seg[1], seg[2]);
	if (!uid) {
		respond_text(req, 404, "pod not found\n");
		return;
	}
	const char *q;
	bool previous = (q = http_req_query(req, "previous")) && strcmp(q, "false") != 0;
	bool follow = (q = http_req_query(req, "follow")) && strcmp(q, "false") != 0;
	struct kl_log_opts o = { .tail_lines = -1, .limit_bytes = -1 };
	o.timestamps = (q = http_req_query(req, "timestamps")) && strcmp(q, "false") != 0;
	long long v;
	if ((q = http_req_query(req, "tailLines")) && kc_parse_i64(q, 0, 1LL << 40, &v) == 0)
		o.tail_lines = v;
	if ((q = http_req_query(req, "limitBytes")) && kc_parse_i64(q, 1, 1LL << 40, &v) == 0)
		o.limit_bytes = v;
	if ((q = http_req_query(req, "sinceSeconds")) && kc_parse_i64(q, 1, 1LL << 40, &v) == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		o.since_ns = ((int64_t)ts.tv_sec - v) * 1000000000LL;
	}
	if ((q = http_req_query(req, "sinceTime")) && *q)
		o.since_ns = kl_parse_rfc3339_ns(q, strlen(q));
	int attempt = find_attempt(k, uid, seg[3], previous);
	if (attempt < 0) {
		char msg[300];
		snprintf(msg, sizeof msg, previous ? "previous terminated container \"%s\" in pod \"%s\" not found\n"
				   : "container \"%s\" in pod \"%s\" is waiting to start: ContainerCreating\n",
			 seg[3], seg[2]);
		respond_text(req, 400, msg);
		return;
	}
	char *path = xasprintf("%s/logs/%s/%s/%d.log", k->data, uid, seg[3], attempt);
	unsigned char *buf = NULL;
	size_t len = 0;
	struct kc_err err;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) == 0) {
			len = (size_t)st.st_size > LOG_READ_MAX ? LOG_READ_MAX : (size_t)st.st_size;
			off_t start = st.st_size - (off_t)len;
			buf = xmalloc(len + 1);
			ssize_t r = pread(fd, buf, len, start);
			len = r > 0 ? (size_t)r : 0;
		}
		close(fd);
	}
	(void)err;
	/* only complete lines now; a follow continues from there */
	size_t use = 0;
	if (len) {
		char *last = memrchr(buf, '\n', len);
		use = last ? (size_t)(last - (char *)buf) + 1 : 0;
	}
	struct kc_str out = KC_STR_INIT;
	kl_cri_render((char *)buf, use, &o, &out);
	free(buf);
	if (!follow || previous) {
		http_respond(req, 200, "text/plain", out.buf, out.len);
		kc_str_free(&out);
		free(path);
		return;
	}
	struct follow *f = xcalloc(1, sizeof *f);
	f->k = k;
	f->req = req;
	f->path = path;
	snprintf(f->uid, sizeof f->uid, "%s", uid);
	snprintf(f->name, sizeof f->name, "%s", seg[3]);
	f->attempt = attempt;
	struct stat st;
	f->off = stat(path, &st) == 0 ? st.st_size - (off_t)(len - use) : 0;
	if (f->off < 0)
		f->off = 0;
	f->o = o;
	f->o.tail_lines = -1;
	http_req_long_running(req);
	http_req_notify(req, NULL, follow_close, f);
	http_stream_begin(req, 200, "text/plain");
	if (out.len)
		http_stream_write(req, out.buf, out.len);
	kc_str_free(&out);
	loop_timer_init(&f->t, follow_tick, f);
	loop_timer_start(k->loop, &f->t, FOLLOW_POLL_MS);
}

/* ---- exec ---- */

struct xsess {
	struct kubelet *k;
	struct ws_conn *ws;
	bool v5;
	char *dir;
	char **argv;
	bool tty, want_in, want_out, want_err;
	int out_r, err_r, in_w, master;   /* agent-side ends (-1 when unused) */
	int child[3];                      /* container-side ends, closed by the thread */
	struct loop_io out_io, err_io;
	pthread_t thread;
	bool thread_started, exited, ws_gone;
	int exit_code, start_rc;
	char start_err[256];
	struct loop_msg done;
	struct loop_timer settle;
	int refs;
};

static void xs_unref(struct xsess *x)
{
	if (--x->refs > 0)
		return;
	if (x->out_r >= 0) {
		loop_io_stop(x->k->loop, &x->out_io);
		close(x->out_r);
	}
	if (x->err_r >= 0) {
		loop_io_stop(x->k->loop, &x->err_io);
		close(x->err_r);
	}
	if (x->in_w >= 0)
		close(x->in_w);
	if (x->master >= 0 && x->master != x->out_r)
		close(x->master);
	if (x->thread_started)
		pthread_join(x->thread, NULL);
	rt_strv_free(x->argv);
	free(x->dir);
	free(x);
}

static void send_chan(struct xsess *x, int ch, const void *data, size_t len)
{
	if (x->ws_gone)
		return;
	char *b = xmalloc(len + 1);
	b[0] = (char)ch;
	memcpy(b + 1, data, len);
	ws_send(x->ws, WS_OP_BINARY, b, len + 1);
	free(b);
}

/* Reads what is there; returns false at EOF. */
static bool pump(struct xsess *x, int fd, int ch)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n > 0) {
			send_chan(x, ch, buf, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		return false; /* EOF, or EIO on a pty master whose slave closed */
	}
}

static void finish(struct xsess *x)
{
	if (x->ws_gone)
		return;
	struct kc_str s = KC_STR_INIT;
	if (x->start_rc < 0) {
		kc_str_adds(&s, "{\"metadata\":{},\"status\":\"Failure\",\"message\":");
		kc_json_write_string(&s, x->start_err);
		kc_str_adds(&s, ",\"reason\":\"InternalError\",\"details\":{\"causes\":[{\"message\":");
		kc_json_write_string(&s, x->start_err);
		kc_str_adds(&s, "}]},\"code\":500}");
	} else if (x->exit_code == 0) {
		kc_str_adds(&s, "{\"metadata\":{},\"status\":\"Success\"}");
	} else {
		kc_str_addf(&s, "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated "
				"with non-zero exit code: exit status %d\",\"reason\":\"NonZeroExitCode\","
				"\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"%d\"}]}}",
			    x->exit_code, x->exit_code);
	}
	send_chan(x, 3, s.buf, s.len);
	kc_str_free(&s);
	ws_close(x->ws, WS_CLOSE_NORMAL, "");
}

static void out_ready(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct xsess *x = io->data;
	int ch = io == &x->out_io ? 1 : 2;
	if (!pump(x, io->fd, ch)) {
		loop_io_stop(l, io);
		close(io->fd);
		if (io == &x->out_io) {
			if (x->master == x->out_r)
				x->master = -1;
			x->out_r = -1;
		} else {
			x->err_r = -1;
		}
		if (x->exited && x->out_r < 0 && x->err_r < 0)
			finish(x);
	}
}

static void exec_done(struct loop *l, struct loop_msg *m)
{
	struct xsess *x = m->data;
	x->exited = true;
	/* output written before the exit is in the pipes: drain it, then report */
	if (x->out_r >= 0 && !pump(x, x->out_r, 1)) {
		loop_io_stop(l, &x->out_io);
		close(x->out_r);
		if (x->master == x->out_r)
			x->master = -1;
		x->out_r = -1;
	}
	if (x->err_r >= 0 && !pump(x, x->err_r, 2)) {
		loop_io_stop(l, &x->err_io);
		close(x->err_r);
		x->err_r = -1;
	}
	/* a background process may hold the pipes: do not wait for it */
	finish(x);
	xs_unref(x);
}

static void *exec_thread(void *arg)
{
	struct xsess *x = arg;
	struct kc_err err = { 0 };
	int code = 0;
	x->start_rc = rt_shim_exec(x->dir, x->argv, x->tty, x->child, &code, &err);
	if (x->start_rc < 0)
		snprintf(x->start_err, sizeof x->start_err, "%s", err.msg);
	x->exit_code = code;
	for (int i = 0; i < 3; i++)
		if (x->child[i] >= 0 && (i == 0 || x->child[i] != x->child[i - 1]))
			close(x->child[i]);
	loop_post(x->k->loop, &x->done);
	return NULL;
}

/* Runs the command; the session's second reference belongs to the thread from here on. */
static void xs_start(struct xsess *x)
{
	if (x->ws_gone) {
		xs_unref(x);
		return;
	}
	if (pthread_create(&x->thread, NULL, exec_thread, x) == 0) {
		x->thread_started = true;
	} else {
		x->start_rc = -EAGAIN;
		snprintf(x->start_err, sizeof x->start_err, "cannot start exec thread");
		finish(x);
		xs_unref(x);
	}
}

static void xs_settled(struct loop *l, struct loop_timer *t)
{
	(void)l;
	xs_start(t->data);
}

static void ws_open(struct ws_conn *ws, void *arg)
{
	struct xsess *x = arg;
	x->ws = ws;
	x->v5 = !strcmp(ws_subprotocol(ws), "v5.channel.k8s.io");
	x->refs = 2; /* the WebSocket and the exec thread */
	if (x->out_r >= 0) {
		loop_io_init(&x->out_io, x->out_r, out_ready, x);
		loop_io_start(x->k->loop, &x->out_io, EPOLLIN);
	}
	if (x->err_r >= 0) {
		loop_io_init(&x->err_io, x->err_r, out_ready, x);
		loop_io_start(x->k->loop, &x->err_io, EPOLLIN);
	}
	loop_msg_init(&x->done, exec_done, x);
	/* client-go creates its streams after the upgrade and drops frames that arrive first
	 * ("Unknown stream id"). With stdin the command's output follows the client's input, so
	 * it cannot be early; without, the command waits a moment for the client to settle. */
	if (x->want_in) {
		xs_start(x);
	} else {
		loop_timer_init(&x->settle, xs_settled, x);
		loop_timer_start(x->k->loop, &x->settle, EXEC_SETTLE_MS);
	}
}

static void ws_message(struct ws_conn *ws, enum ws_opcode op, const void *data, size_t len, void *arg)
{
	struct xsess *x = arg;
	const unsigned char *d = data;
	if (len < 1)
		return;
	if (d[0] == 0 && x->in_w >= 0) {
		size_t off = 1;
		while (off < len) {
			ssize_t n = write(x->in_w, d + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
	} else if (d[0] == 255 && len >= 2 && d[1] == 0 && x->in_w >= 0) {
		if (x->tty) {
			char eot = 4;
			if (write(x->in_w, &eot, 1) < 0)
				log_debug("kubelet: exec stdin eot: %s", strerror(errno));
		} else {
			close(x->in_w);
			x->in_w = -1;
		}
	} else if (d[0] == 4 && x->master >= 0) {
		cJSON *o = NULL;
		struct kc_err err;
		if (kc_json_parse((const char *)d + 1, len - 1, NULL, &o, &err) == 0) {
			long long w = 0, h = 0;
			kc_json_get_i64(o, "Width", &w);
			kc_json_get_i64(o, "Height", &h);
			struct winsize wsz = { .ws_row = (unsigned short)h, .ws_col = (unsigned short)w };
			ioctl(x->master, TIOCSWINSZ, &wsz);
			cJSON_Delete(o);
		}
	}
	(void)ws;
	(void)op;
}

static void ws_closed(struct ws_conn *ws, int code, const char *reason, void *arg)
{
	struct xsess *x = arg;
	x->ws_gone = true;
	if (!ws) {
		/* the hand-over failed: no thread was started */
		x->refs = 1;
	}
	xs_unref(x);
}

static const struct ws_handlers xs_handlers = { ws_open, ws_message, NULL, ws_closed };

static int nb_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	return 0;
}

static void h_exec(struct kubelet *k, struct http_req *req, char **seg)
{
	const char *uid = pod_uid(k, seg[1], seg[2]);
	if (!uid) {
		respond_text(req, 404, "pod not found\n");
		return;
	}
	int attempt = find_attempt(k, uid, seg[3], false);
	if (attempt < 0 || !ctr_running(k, uid, seg[3], attempt)) {
		char msg[300];
		snprintf(msg, sizeof msg, "container %s is not running\n", seg[3]);
		respond_text(req, 400, msg);
		return;
	}
	if (!ws_is_upgrade(req)) {
		respond_text(req, 400, "Upgrade request required\n");
		return;
	}
	struct xsess *x = xcalloc(1, sizeof *x);
	x->k = k;
	x->out_r = x->err_r = x->in_w = x->master = -1;
	x->child[0] = x->child[1] = x->child[2] = -1;
	x->dir = kl_ctr_dir(k, uid, seg[3], attempt);
	size_t n = 0;
	while (http_req_query_nth(req, "command", (unsigned)n))
		n++;
	if (n == 0 || n > 4096) {
		free(x->dir);
		free(x);
		respond_text(req, 400, "you must specify at least one command for the container\n");
		return;
	}
	x->argv = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		x->argv[i] = xstrdup(http_req_query_nth(req, "command", (unsigned)i));
	const char *q;
	x->tty = (q = http_req_query(req, "tty")) && strcmp(q, "false") && strcmp(q, "0");
	x->want_in = (q = http_req_query(req, "stdin")) && strcmp(q, "false") && strcmp(q, "0");
	x->want_out = (q = http_req_query(req, "stdout")) && strcmp(q, "false") && strcmp(q, "0");
	x->want_err = (q = http_req_query(req, "stderr")) && strcmp(q, "false") && strcmp(q, "0");
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (x->tty) {
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		char sname[64];
		if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, sname, sizeof sname)) {
			respond_text(req, 500, "cannot allocate a terminal\n");
			if (m >= 0)
				close(m);
			close(devnull);
			rt_strv_free(x->argv);
			free(x->dir);
			free(x);
			return;
		}
		int s = open(sname, O_RDWR | O_NOCTTY | O_CLOEXEC);
		fcntl(m, F_SETFL, O_NONBLOCK);
		x->master = m;
		x->out_r = m;
		x->in_w = x->want_in ? dup(m) : -1;
		if (x->in_w >= 0)
			fcntl(x->in_w, F_SETFD, FD_CLOEXEC), fcntl(x->in_w, F_SETFL, 0);
		x->child[0] = x->child[1] = x->child[2] = s;
		close(devnull);
	} else {
		int p[2];
		if (x->want_in && pipe2(p, O_CLOEXEC) == 0) {
			x->child[0] = p[0];
			x->in_w = p[1];
		} else {
			x->child[0] = dup(devnull);
		}
		if (x->want_out && nb_pipe(p) == 0) {
			x->out_r = p[0];
			x->child[1] = p[1];
		} else {
			x->child[1] = dup(devnull);
		}
		if (x->want_err && nb_pipe(p) == 0) {
			x->err_r = p[0];
			x->child[2] = p[1];
		} else {
			x->child[2] = dup(devnull);
		}
		close(devnull);
	}
	static const char *const protos[] = { "v5.channel.k8s.io", "v4.channel.k8s.io", NULL };
	x->refs = 1;
	if (ws_server_upgrade(req, protos, NULL, &xs_handlers, x) < 0) {
		for (int i = 0; i < 3; i++)
			if (x->child[i] >= 0 && (i == 0 || x->child[i] != x->child[i - 1]))
				close(x->child[i]);
		xs_unref(x);
	}
}

/* ---- resource metrics ---- */

static int64_t wall_ms(void)
{
	struct kc_clock *c = kc_clock_real();
	return (int64_t)(c->wall_ns(c) / 1000000u);
}

static void metric_head(struct kc_str *s, const char *name, const char *help)
{
	kc_str_addf(s, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", name, help, name,
		    strstr(name, "_total") ? "counter" : "gauge");
}

static void metric_labels(struct kc_str *s, const char *name, const char *ctr, const char *ns,
			  const char *pod)
{
	kc_str_adds(s, name);
	kc_str_addc(s, '{');
	if (ctr) {
		kc_str_adds(s, "container=");
		prom_write_label_value(s, ctr);
		kc_str_addc(s, ',');
	}
	kc_str_adds(s, "namespace=");
	prom_write_label_value(s, ns);
	kc_str_adds(s, ",pod=");
	prom_write_label_value(s, pod);
	kc_str_addc(s, '}');
}

struct usage_row {
	const char *ns, *pod, *ctr; /* borrowed from the informer's pod */
	struct rt_cgroup_stats st;
	int64_t ts_ms;
};

/* Reads the pod's cgroup and those of its running containers into rows (pod row first, ctr
 * NULL). Returns the number of rows added; 0 when the pod has no cgroup on this node. */
static size_t pod_usage(struct kubelet *k, enum rt_cgroup_mode mode, const cJSON *pod,
			struct usage_row *rows, size_t cap)
{
	const char *uid = kc_json_get_str(pod, "metadata.uid");
	const char *ns = kc_json_get_str(pod, "metadata.namespace");
	const char *name = kc_json_get_str(pod, "metadata.name");
	if (!uid || !ns || !name || cap == 0)
		return 0;
	struct kc_err err;
	char podpath[512];
	size_t n = 0;
	for (int q = RT_QOS_GUARANTEED; q <= RT_QOS_BESTEFFORT && n == 0; q++) {
		if (rt_cgroup_pod_path(podpath, sizeof podpath, RT_CGROUP_TOP, (enum rt_qos)q, uid) < 0)
			return 0;
		struct rt_cgroup *cg = rt_cgroup_new(RT_CGROUP_ROOT, mode, podpath);
		struct usage_row *r = &rows[0];
		memset(r, 0, sizeof *r);
		if (cg && rt_cgroup_stats(cg, &r->st, &err) == 0) {
			r->ns = ns;
			r->pod = name;
			r->ts_ms = wall_ms();
			n = 1;
		}
		rt_cgroup_free(cg);
	}
	if (!n)
		return 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(pod, "spec.containers"))
	{
		const char *cn = kc_json_get_str(c, "name");
		if (!cn || n == cap)
			continue;
		int attempt = find_attempt(k, uid, cn, false);
		if (attempt < 0)
			continue;
		char path[600];
		snprintf(path, sizeof path, "%s/%s-%d", podpath, cn, attempt);
		struct rt_cgroup *cg = rt_cgroup_new(RT_CGROUP_ROOT, mode, path);
		struct usage_row *r = &rows[n];
		memset(r, 0, sizeof *r);
		/* kubelet reports running containers only; an exited one keeps its cgroup a while */
		if (cg && rt_cgroup_populated(cg) && rt_cgroup_stats(cg, &r->st, &err) == 0) {
			r->ns = ns;
			r->pod = name;
			r->ctr = cn;
			r->ts_ms = wall_ms();
			n++;
		}
		rt_cgroup_free(cg);
	}
	return n;
}

void kl_resource_metrics(struct kubelet *k, struct kc_str *s)
{
	struct kc_err err = { 0 };
	struct rt_host_usage hu;
	int64_t now = wall_ms();
	bool host = rt_host_usage("/proc", &hu, &err) == 0;
	if (!host)
		log_warn("kubelet: node usage err=\"%s\"", err.msg);
	enum rt_cgroup_mode mode;
	bool cgroups = rt_cgroup_detect_mode(RT_CGROUP_ROOT, &mode, &err) == 0;
	struct usage_row *rows = NULL;
	size_t nrows = 0, cap = 0;
	size_t pos = 0;
	const cJSON *p;
	while (cgroups && k->pods && informer_next(k->pods, &pos, &p)) {
		if (cap - nrows < KL_MAX_CONTAINERS + 1) {
			cap = cap ? cap * 2 : 64;
			rows = xrealloc(rows, cap * sizeof *rows);
		}
		nrows += pod_usage(k, mode, p, rows + nrows, KL_MAX_CONTAINERS + 1);
	}
	static const struct {
		const char *name, *help;
		bool cpu, pods;
	} fams[] = {
		{ "container_cpu_usage_seconds_total",
		  "Cumulative cpu time consumed by the container in core-seconds", true, false },
		{ "container_memory_working_set_bytes",
		  "Current working set of the container in bytes", false, false },
		{ "pod_cpu_usage_seconds_total",
		  "Cumulative cpu time consumed by the pod in core-seconds", true, true },
		{ "pod_memory_working_set_bytes", "Current working set of the pod in bytes", false,
		  true },
	};
	if (host) {
		metric_head(s, "node_cpu_usage_seconds_total",
			    "Cumulative cpu time consumed by the node in core-seconds");
		kc_str_addf(s, "node_cpu_usage_seconds_total %llu.%09llu %lld\n",
			    (unsigned long long)(hu.cpu_usage_ns / 1000000000ULL),
			    (unsigned long long)(hu.cpu_usage_ns % 1000000000ULL), (long long)now);
		metric_head(s, "node_memory_working_set_bytes",
			    "Current working set of the node in bytes");
		kc_str_addf(s, "node_memory_working_set_bytes %llu %lld\n",
			    (unsigned long long)hu.memory_working_set, (long long)now);
	}
	for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
		metric_head(s, fams[f].name, fams[f].help);
		for (size_t i = 0; i < nrows; i++) {
			const struct usage_row *r = &rows[i];
			if ((r->ctr == NULL) != fams[f].pods)
				continue;
			metric_labels(s, fams[f].name, r->ctr, r->ns, r->pod);
			if (fams[f].cpu)
				kc_str_addf(s, " %llu.%09llu %lld\n",
					    (unsigned long long)(r->st.cpu_usage_ns / 1000000000ULL),
					    (unsigned long long)(r->st.cpu_usage_ns % 1000000000ULL),
					    (long long)r->ts_ms);
			else
				kc_str_addf(s, " %llu %lld\n",
					    (unsigned long long)r->st.memory_working_set,
					    (long long)r->ts_ms);
		}
	}
	kc_str_adds(s, "# HELP scrape_error [ALPHA] 1 if there was an error while getting container "
		       "metrics, 0 otherwise\n# TYPE scrape_error gauge\n");
	kc_str_addf(s, "scrape_error %d\n", host && cgroups ? 0 : 1);
	free(rows);
}

/* ---- dispatch ---- */

static bool allowed(const struct http_req *req)
{
	if (!req->peer_verified)
		return false;
	if (!strcmp(req->peer_cn, "kube-apiserver-kubelet-client"))
		return true;
	const char *g = req->peer_groups;
	while (g && *g) {
		const char *c = strchr(g, ',');
		size_t n = c ? (size_t)(c - g) : strlen(g);
		if (n == 14 && !strncmp(g, "system:masters", 14))
			return true;
		g = c ? c + 1 : NULL;
	}
	return false;
}

static void serve(struct http_req *req, void *arg)
{
	struct kubelet *k = arg;
	if (!allowed(req)) {
		respond_text(req, 403, "Forbidden (user=anonymous)\n");
		return;
	}
	if (!strcmp(req->path, "/healthz")) {
		respond_text(req, 200, "ok");
		return;
	}
	if (!strcmp(req->path, "/pods") || !strcmp(req->path, "/pods/")) {
		struct kc_str s = KC_STR_INIT;
		kc_str_adds(&s, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[");
		size_t pos = 0;
		const cJSON *p;
		bool first = true;
		while (k->pods && informer_next(k->pods, &pos, &p)) {
			if (!first)
				kc_str_addc(&s, ',');
			first = false;
			kc_json_write(&s, p);
		}
		kc_str_adds(&s, "]}\n");
		http_respond(req, 200, "application/json", s.buf, s.len);
		kc_str_free(&s);
		return;
	}
	if (!strcmp(req->path, "/metrics/resource") && !strcmp(req->method, "GET")) {
		struct kc_str s = KC_STR_INIT;
		kl_resource_metrics(k, &s);
		http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", s.buf, s.len);
		kc_str_free(&s);
		return;
	}
	char path[1024];
	snprintf(path, sizeof path, "%s", req->path);
	char *seg[6] = { 0 };
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(path, "/", &save); t && n < 6; t = strtok_r(NULL, "/", &save))
		seg[n++] = t;
	if (n == 4 && !strcmp(seg[0], "containerLogs") && !strcmp(req->method, "GET")) {
		h_logs(k, req, seg);
		return;
	}
	if (n == 4 && !strcmp(seg[0], "exec") &&
	    (!strcmp(req->method, "GET") || !strcmp(req->method, "POST"))) {
		h_exec(k, req, seg);
		return;
	}
	respond_text(req, 404, "404 page not found\n");
}

static struct transport *wrap(void *arg, int fd)
{
	return tls_server_wrap(arg, fd);
}

int kl_nodeapi_start(struct kubelet *k, struct kc_err *err)
{
	struct tls_server_opts to = { .chain = k->serve_cert, .key = k->serve_key,
				      .client_ca = k->ca, .client_auth = TLS_CLIENT_AUTH_REQUIRED };
	int rc = tls_server_config_new(&to, &k->serve_tls, err);
	if (rc < 0)
		return rc;
	char addr[64];
	net_ip_format(&k->cfg->bind_address, addr, sizeof addr);
	struct http_server_config hc = { .addr = addr, .port = k->cfg->kubelet_port,
					 .handler = serve, .handler_arg = k, .wrap = wrap,
					 .wrap_arg = k->serve_tls, .idle_timeout_ms = 300000 };
	rc = http_server_open(k->loop, &hc, &k->nodeapi, err);
	if (rc < 0)
		return kc_err_wrap(err, "node API on %s:%u", addr, k->cfg->kubelet_port);
	return 0;
}

void kl_nodeapi_stop(struct kubelet *k)
{
	http_server_close(k->nodeapi);
	k->nodeapi = NULL;
	tls_server_config_free(k->serve_tls);
	k->serve_tls = NULL;
}
