/* kexec.c - `kc kubectl exec` over the WebSocket remote-command protocol v5.channel.k8s.io.
 *
 * DESIGN: the pod is read first through the blocking REST client (container defaulting as
 * kubectl: the kubectl.kubernetes.io/default-container annotation, else the first container,
 * with the "Defaulted container" line when there are several). The upgrade request is then
 * written by hand on a fresh plain or TLS transport (net/http_client does not hand over
 * connections), waiting with poll(2); the 101 is checked (Sec-WebSocket-Accept, the chosen
 * subprotocol) and the transport goes to a client-mode ws_conn on a private loop. On that loop:
 * stdin (-i) is pumped to channel 0 and ended with the v5 close signal (255, 0); channels 1 and 2
 * go to stdout and stderr; channel 3 carries the final Status, decoded as client-go's v4+ error
 * decoder does; -t puts the terminal in raw mode and sends the size on channel 4 at start and on
 * SIGWINCH. The terminal is restored on every way out (including SIGTERM/SIGHUP, which are taken
 * through a signalfd while the terminal is raw). */
#include "roles/client/kexec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <mbedtls/sha1.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/str.h"
#include "net/http_client.h"
#include "net/loop.h"
#include "net/tls.h"
#include "net/transport.h"
#include "net/ws.h"

#define EXEC_PROTO    "v5.channel.k8s.io"
#define WS_GUID	      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HEAD_MAX      ((size_t)64 << 10) /* upgrade response head */
#define ERR_BODY_MAX  ((size_t)1 << 20)	 /* body of a refused upgrade */
#define STATUS_MAX    ((size_t)64 << 10) /* the channel-3 Status */
#define IO_TIMEOUT_MS 30000		 /* connect and handshake */
#define STDIN_CHUNK   32768

enum { CH_STDIN = 0, CH_STDOUT = 1, CH_STDERR = 2, CH_ERROR = 3, CH_RESIZE = 4, CH_CLOSE = 255 };

static int xfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int xfail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static void url_escape(struct kc_str *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			kc_str_addc(out, (char)c);
		else
			kc_str_addf(out, "%%%02X", c);
	}
}

/* ---- blocking I/O on a non-blocking transport ---- */

static int wait_fd(int fd, unsigned want, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = (short)((want & EPOLLOUT) ? POLLOUT : POLLIN)};
	for (;;) {
		int n = poll(&p, 1, timeout_ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return -KC_ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int t_write_all(struct transport *t, const char *buf, size_t len)
{
	while (len) {
		unsigned want = 0;
		ssize_t n = transport_write(t, buf, len, &want);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == -EAGAIN) {
			int rc = wait_fd(t->fd, want, IO_TIMEOUT_MS);
			if (rc < 0)
				return rc;
		} else {
			return n < 0 ? (int)n : -KC_EIO;
		}
	}
	return 0;
}

/* Returns > 0 bytes, 0 at end of stream, or a negative code. */
static ssize_t t_read_some(struct transport *t, char *buf, size_t cap)
{
	for (;;) {
		unsigned want = 0;
		ssize_t n = transport_read(t, buf, cap, &want);
		if (n != -EAGAIN)
			return n;
		int rc = wait_fd(t->fd, want ? want : EPOLLIN, IO_TIMEOUT_MS);
		if (rc < 0)
			return rc;
	}
}

static int dial(const struct http_url *u, int *out, struct kc_err *err)
{
	char port[8];
	snprintf(port, sizeof port, "%u", (unsigned)u->port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(u->host, port, &hints, &ai);
	if (g != 0)
		return kc_err_set(err, -KC_EUNAVAIL, "cannot resolve %s: %s", u->host,
				  gai_strerror(g));
	int rc = -ECONNREFUSED;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			rc = -errno;
			close(fd);
			continue;
		}
		rc = wait_fd(fd, EPOLLOUT, IO_TIMEOUT_MS);
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
		    soerr == 0) {
			freeaddrinfo(ai);
			*out = fd;
			return 0;
		}
		if (rc == 0)
			rc = soerr ? -soerr : -ECONNREFUSED;
		close(fd);
	}
	freeaddrinfo(ai);
	return kc_err_set(err, rc, "cannot reach %s:%u: %s", u->host, (unsigned)u->port,
			  rc == -KC_ETIMEDOUT ? "timed out" : strerror(-rc));
}

/* ---- the upgrade ---- */

struct head {
	int status;
	struct kc_str raw; /* the head, NUL-terminated; fields point into it */
	size_t head_len;   /* bytes of raw up to and including the blank line */
};

/* The value of header 'name' in a raw head (first occurrence), copied into buf ("" if none). */
static bool head_field(const char *raw, const char *name, char *buf, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = strstr(raw, "\r\n");
	while (p && p[2] && !(p[2] == '\r' && p[3] == '\n')) {
		p += 2;
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *e = eol;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			size_t n = (size_t)(e - v);
			if (n >= cap)
				n = cap - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return true;
		}
		p = eol;
	}
	buf[0] = '\0';
	return false;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);
	while (*v) {
		while (*v == ' ' || *v == ',' || *v == '\t')
			v++;
		const char *e = v;
		while (*e && *e != ',')
			e++;
		const char *te = e;
		while (te > v && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if ((size_t)(te - v) == tl && strncasecmp(v, token, tl) == 0)
			return true;
		v = e;
	}
	return false;
}

static int read_head(struct transport *t, struct head *h, struct kc_err *err)
{
	char buf[4096];
	for (;;) {
		char *end = h->raw.len ? strstr(h->raw.buf, "\r\n\r\n") : NULL;
		if (end) {
			h->head_len = (size_t)(end - h->raw.buf) + 4;
			break;
		}
		if (h->raw.len > HEAD_MAX)
			return kc_err_set(err, -KC_ETOOBIG,
					  "the server's response head is too large");
		ssize_t n = t_read_some(t, buf, sizeof buf);
		if (n == 0)
			return kc_err_set(err, -KC_EPROTO,
					  "the server closed the connection before answering");
		if (n < 0)
			return kc_err_set(err, (int)n, "reading the upgrade response: %s",
					  n == -KC_ETIMEDOUT ? "timed out"
					  : n == -KC_ETLS    ? "TLS failure"
							     : strerror((int)-n));
		if (memchr(buf, '\0', (size_t)n))
			return kc_err_set(err, -KC_EPROTO, "malformed response from the server");
		kc_str_add(&h->raw, buf, (size_t)n);
	}
	int minor, status;
	char sp;
	if (sscanf(h->raw.buf, "HTTP/1.%d %3d%c", &minor, &status, &sp) != 3 || sp != ' ' ||
	    status < 100 || status > 599)
		return kc_err_set(err, -KC_EPROTO,
				  "malformed response status line from the server");
	h->status = status;
	return 0;
}

/* Reads the body of a refused upgrade (Content-Length, chunked, or to the end of stream) into
 * body, up to ERR_BODY_MAX. Best effort: on any trouble, what was read stays. */
static void read_error_body(struct transport *t, struct head *h, struct kc_str *body)
{
	struct kc_str in = KC_STR_INIT;
	kc_str_add(&in, h->raw.buf + h->head_len, h->raw.len - h->head_len);
	char cl[32], te[64];
	head_field(h->raw.buf, "Content-Length", cl, sizeof cl);
	head_field(h->raw.buf, "Transfer-Encoding", te, sizeof te);
	bool chunked = has_token(te, "chunked");
	long long want = -1;
	if (!chunked && cl[0]) {
		char *e;
		want = strtoll(cl, &e, 10);
		if (*e || want < 0)
			want = -1;
		if (want > (long long)ERR_BODY_MAX)
			want = (long long)ERR_BODY_MAX;
	}
	char buf[4096];
	while (in.len < ERR_BODY_MAX && (want < 0 || in.len < (size_t)want)) {
		if (chunked && strstr(in.buf, "\r\n0\r\n\r\n"))
			break;
		if (chunked && strncmp(in.buf, "0\r\n\r\n", 5) == 0)
			break;
		ssize_t n = t_read_some(t, buf, sizeof buf);
		if (n <= 0)
			break;
		kc_str_add(&in, buf, (size_t)n);
	}
	if (!chunked) {
		kc_str_add(body, in.buf,
			   want >= 0 && in.len > (size_t)want ? (size_t)want : in.len);
	} else {
		size_t off = 0;
		while (off < in.len) {
			char *e;
			unsigned long long n = strtoull(in.buf + off, &e, 16);
			char *crlf = strstr(in.buf + off, "\r\n");
			if (e == in.buf + off || !crlf || n == 0 || n > in.len)
				break;
			size_t start = (size_t)(crlf - in.buf) + 2;
			if (start + n > in.len)
				n = in.len - start;
			kc_str_add(body, in.buf + start, (size_t)n);
			off = start + (size_t)n + 2;
		}
	}
	kc_str_free(&in);
}

/* Connects, sends the upgrade request for path, and checks the 101. On success *out is the
 * transport and *leftover (caller frees) holds the bytes after the head. Returns 0, or 1 after
 * printing the error as kubectl does. */
static int upgrade(const struct kc_kubeconfig *kc, const char *path, struct transport **out,
		   struct kc_str *leftover)
{
	struct kc_err err = {0};
	struct http_url u;
	if (http_url_parse(kc->server, &u, &err) < 0)
		return xfail("invalid server URL %s: %s", kc->server, err.msg);
	int fd = -1;
	if (dial(&u, &fd, &err) < 0)
		return xfail("%s", err.msg);
	struct transport *t = NULL;
	if (u.tls) {
		struct tls_client_config *tls = NULL;
		if (kubeconfig_tls(kc, &tls, &err) < 0) {
			close(fd);
			return xfail("%s", err.msg);
		}
		int rc = tls_client_wrap(
			tls, fd, kc->tls_server_name[0] ? kc->tls_server_name : u.host, &t, &err);
		tls_client_config_free(tls);
		if (rc < 0)
			return xfail("%s", err.msg);
	} else {
		t = transport_plain_new(fd);
	}

	uint8_t rnd[16];
	if (kc_random_bytes(rnd, sizeof rnd) < 0) {
		transport_close(t);
		return xfail("cannot get random bytes");
	}
	struct kc_str key = KC_STR_INIT;
	kc_base64_encode(&key, rnd, sizeof rnd, 0);

	struct kc_str req = KC_STR_INIT;
	size_t plen = u.path_len; /* a server URL's path prefix, without its trailing '/' */
	if (memchr(u.path, '?', plen))
		plen = (size_t)((const char *)memchr(u.path, '?', plen) - u.path);
	while (plen && u.path[plen - 1] == '/')
		plen--;
	kc_str_addf(&req, "GET %.*s%s HTTP/1.1\r\n", (int)plen, u.path, path);
	if (u.host_is_v6)
		kc_str_addf(&req, "Host: [%s]", u.host);
	else
		kc_str_addf(&req, "Host: %s", u.host);
	if (u.port != (u.tls ? 443 : 80))
		kc_str_addf(&req, ":%u", (unsigned)u.port);
	kc_str_addf(&req,
		    "\r\nUser-Agent: kc-kubectl\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
		    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
		    "Sec-WebSocket-Protocol: " EXEC_PROTO "\r\n",
		    key.buf);
	if (kc->token)
		kc_str_addf(&req, "Authorization: Bearer %s\r\n", kc->token);
	kc_str_adds(&req, "\r\n");
	int rc = t_write_all(t, req.buf, req.len);
	kc_str_free(&req);
	struct head h = {.raw = KC_STR_INIT};
	if (rc < 0) {
		rc = xfail("cannot send the exec request to %s: %s", kc->server,
			   rc == -KC_ETIMEDOUT ? "timed out"
			   : rc == -KC_ETLS    ? "TLS failure"
					       : strerror(-rc));
		goto out;
	}
	if (read_head(t, &h, &err) < 0) {
		rc = xfail("%s", err.msg);
		goto out;
	}
	if (h.status != 101) {
		struct kc_str body = KC_STR_INIT;
		read_error_body(t, &h, &body);
		struct http_client_response resp = {
			.status = h.status, .body = body.buf, .body_len = body.len};
		char msg[1200];
		kc_rest_error_text(&resp, msg, sizeof msg);
		fprintf(stderr, "%s\n", msg);
		kc_str_free(&body);
		rc = 1;
		goto out;
	}
	/* Sec-WebSocket-Accept = base64(SHA1(key + GUID)) */
	char cat[64];
	snprintf(cat, sizeof cat, "%s" WS_GUID, key.buf);
	unsigned char digest[20];
	mbedtls_sha1_ret((const unsigned char *)cat, strlen(cat), digest);
	struct kc_str accept = KC_STR_INIT;
	kc_base64_encode(&accept, digest, sizeof digest, 0);
	char v[256];
	head_field(h.raw.buf, "Upgrade", v, sizeof v);
	bool ok = has_token(v, "websocket");
	head_field(h.raw.buf, "Connection", v, sizeof v);
	ok = ok && has_token(v, "upgrade");
	if (!ok) {
		kc_str_free(&accept);
		rc = xfail("unable to upgrade connection: the server did not switch to WebSocket");
		goto out;
	}
	head_field(h.raw.buf, "Sec-WebSocket-Accept", v, sizeof v);
	ok = strcmp(v, accept.buf) == 0;
	kc_str_free(&accept);
	if (!ok) {
		rc = xfail(
			"unable to upgrade connection: bad Sec-WebSocket-Accept from the server");
		goto out;
	}
	head_field(h.raw.buf, "Sec-WebSocket-Protocol", v, sizeof v);
	if (strcmp(v, EXEC_PROTO) != 0) {
		rc = xfail("unable to upgrade connection: the server chose subprotocol \"%s\", not "
			   "\"" EXEC_PROTO "\"",
			   v);
		goto out;
	}
	kc_str_add(leftover, h.raw.buf + h.head_len, h.raw.len - h.head_len);
	*out = t;
	t = NULL;
	rc = 0;
out:
	kc_str_free(&h.raw);
	kc_str_free(&key);
	transport_close(t);
	return rc;
}

/* ---- the session ---- */

struct session {
	struct loop *loop;
	struct ws_conn *ws; /* NULL once closed */
	int close_code;
	bool stdin_on;
	bool stdin_polled; /* pollable stdin (tty, pipe, socket) vs. a file read on timer */
	bool stdin_done;
	bool stdin_paused; /* waiting for on_drain */
	struct loop_io in_io;
	struct loop_timer in_timer;
	int sigfd;
	struct loop_io sig_io;
	bool tty;
	int size_fd; /* the terminal whose size is sent */
	unsigned short last_w, last_h;
	bool have_status;
	struct kc_str status;
	bool status_too_big;
	bool interrupted;
};

static void write_all_fd(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			poll(&pf, 1, -1);
			continue;
		}
		if (n <= 0)
			return; /* the reader went away: drop output, as kubectl does on EPIPE */
		p += n;
		len -= (size_t)n;
	}
}

static void send_channel(struct session *s, uint8_t ch, const void *data, size_t len)
{
	if (!s->ws)
		return;
	uint8_t *buf = xmalloc(len + 1);
	buf[0] = ch;
	if (len)
		memcpy(buf + 1, data, len);
	int rc = ws_send(s->ws, WS_OP_BINARY, buf, len + 1);
	free(buf);
	if (rc == WS_CONGESTED && s->stdin_on && !s->stdin_done) {
		s->stdin_paused = true;
		if (s->stdin_polled)
			loop_io_stop(s->loop, &s->in_io);
		else
			loop_timer_stop(s->loop, &s->in_timer);
	}
}

static void send_size(struct session *s)
{
	struct winsize wsz;
	if (ioctl(s->size_fd, TIOCGWINSZ, &wsz) < 0 || wsz.ws_col == 0 || wsz.ws_row == 0)
		return;
	if (wsz.ws_col == s->last_w && wsz.ws_row == s->last_h)
		return;
	s->last_w = wsz.ws_col;
	s->last_h = wsz.ws_row;
	char msg[64];
	int n = snprintf(msg, sizeof msg, "{\"Width\":%u,\"Height\":%u}\n", (unsigned)wsz.ws_col,
			 (unsigned)wsz.ws_row);
	send_channel(s, CH_RESIZE, msg, (size_t)n);
}

static void stdin_eof(struct session *s)
{
	s->stdin_done = true;
	if (s->stdin_polled)
		loop_io_stop(s->loop, &s->in_io);
	else
		loop_timer_stop(s->loop, &s->in_timer);
	uint8_t ch = CH_STDIN;
	send_channel(s, CH_CLOSE, &ch, 1);
}

/* Reads one chunk of stdin and sends it; returns false at the end (or on a read error). */
static bool pump_stdin(struct session *s)
{
	char buf[STDIN_CHUNK];
	ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		stdin_eof(s);
		return false;
	}
	send_channel(s, CH_STDIN, buf, (size_t)n);
	return true;
}

static void on_stdin(struct loop *l, struct loop_io *io, uint32_t events)
{
	(void)l;
	(void)events;
	pump_stdin(io->data);
}

static void on_stdin_timer(struct loop *l, struct loop_timer *t)
{
	struct session *s = t->data;
	if (pump_stdin(s) && !s->stdin_paused && s->ws)
		loop_timer_start(l, t, 0);
}

static void on_signal(struct loop *l, struct loop_io *io, uint32_t events)
{
	(void)events;
	struct session *s = io->data;
	struct signalfd_siginfo si;
	while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGWINCH) {
			send_size(s);
		} else {
			s->interrupted = true;
			if (!s->ws || ws_close(s->ws, WS_CLOSE_NORMAL, "") < 0)
				loop_stop(l);
		}
	}
}

static void ws_on_message(struct ws_conn *ws, enum ws_opcode op, const void *data, size_t len,
			  void *arg)
{
	(void)ws;
	struct session *s = arg;
	const uint8_t *p = data;
	if (op != WS_OP_BINARY || len == 0)
		return;
	switch (p[0]) {
	case CH_STDOUT:
		write_all_fd(STDOUT_FILENO, p + 1, len - 1);
		break;
	case CH_STDERR:
		write_all_fd(STDERR_FILENO, p + 1, len - 1);
		break;
	case CH_ERROR:
		if (s->status.len + len - 1 > STATUS_MAX)
			s->status_too_big = true;
		else
			kc_str_add(&s->status, p + 1, len - 1);
		s->have_status = true;
		break;
	default:
		break; /* nothing else is sent by a server */
	}
}

static void ws_on_drain(struct ws_conn *ws, void *arg)
{
	(void)ws;
	struct session *s = arg;
	if (!s->stdin_paused || s->stdin_done)
		return;
	s->stdin_paused = false;
	if (s->stdin_polled)
		loop_io_start(s->loop, &s->in_io, EPOLLIN);
	else
		loop_timer_start(s->loop, &s->in_timer, 0);
}

static void ws_on_close(struct ws_conn *ws, int code, const char *reason, void *arg)
{
	(void)ws;
	(void)reason;
	struct session *s = arg;
	s->ws = NULL;
	s->close_code = code;
	if (s->stdin_on && !s->stdin_done) {
		if (s->stdin_polled)
			loop_io_stop(s->loop, &s->in_io);
		else
			loop_timer_stop(s->loop, &s->in_timer);
	}
	loop_stop(s->loop);
}

static const struct ws_handlers exec_handlers = {
	.on_message = ws_on_message,
	.on_drain = ws_on_drain,
	.on_close = ws_on_close,
};

/* Decodes the channel-3 Status as client-go's errorDecoderV4 and returns the exit code. */
static int finish_status(struct session *s)
{
	if (s->status_too_big)
		return xfail("error stream protocol error: status too large");
	cJSON *st = NULL;
	struct kc_err err = {0};
	if (kc_json_parse(s->status.buf, s->status.len, NULL, &st, &err) < 0 ||
	    !cJSON_IsObject(st)) {
		cJSON_Delete(st);
		return xfail("error stream protocol error: %s in \"%.*s\"",
			     err.msg[0] ? err.msg : "not an object",
			     (int)(s->status.len > 200 ? 200 : s->status.len), s->status.buf);
	}
	const char *status = kc_json_get_str(st, "status");
	const char *reason = kc_json_get_str(st, "reason");
	const char *message = kc_json_get_str(st, "message");
	int rc;
	if (status && strcmp(status, "Success") == 0) {
		rc = 0;
	} else if (status && strcmp(status, "Failure") == 0) {
		if (reason && strcmp(reason, "NonZeroExitCode") == 0) {
			const cJSON *causes = kc_json_get(st, "details.causes");
			const cJSON *details = kc_json_get(st, "details");
			rc = -1;
			if (!cJSON_IsObject(details)) {
				rc = xfail("error stream protocol error: details must be set");
			} else {
				const cJSON *c;
				cJSON_ArrayForEach(c, causes)
				{
					const char *cr = kc_json_get_str(c, "reason");
					const char *cm = kc_json_get_str(c, "message");
					if (!cr || strcmp(cr, "ExitCode") != 0)
						continue;
					char *e;
					errno = 0;
					unsigned long code = cm ? strtoul(cm, &e, 10) : 0;
					if (!cm || !*cm || *e || errno || code > 255 ||
					    !isdigit((unsigned char)cm[0])) {
						rc = xfail(
							"error stream protocol error: invalid exit code value \"%s\"",
							cm ? cm : "");
					} else {
						fprintf(stderr,
							"command terminated with exit code %lu\n",
							code);
						rc = (int)code;
					}
					break;
				}
				if (rc < 0)
					rc = xfail(
						"error stream protocol error: no ExitCode cause given");
			}
		} else {
			rc = xfail("%s", message ? message : "");
		}
	} else {
		rc = xfail("error stream protocol error: unknown error");
	}
	cJSON_Delete(st);
	return rc;
}

static struct termios saved_tio;

static int run_session(const struct kexec_opts *o, struct transport *t,
		       const struct kc_str *leftover, bool tty)
{
	struct session s = {.status = KC_STR_INIT, .sigfd = -1, .tty = tty};
	s.loop = loop_new(NULL);
	if (!s.loop) {
		transport_close(t);
		return xfail("cannot create an event loop");
	}
	struct ws_config cfg = {0};
	s.ws = ws_conn_new(s.loop, t, true, leftover->buf, leftover->len, EXEC_PROTO, &cfg,
			   &exec_handlers, &s);

	/* signals: window size with -t; termination while the terminal is raw */
	sigset_t set, oldset;
	sigemptyset(&set);
	bool raw = false;
	if (tty) {
		sigaddset(&set, SIGWINCH);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP);
		sigaddset(&set, SIGQUIT);
		sigprocmask(SIG_BLOCK, &set, &oldset);
		s.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
		if (s.sigfd >= 0) {
			loop_io_init(&s.sig_io, s.sigfd, on_signal, &s);
			loop_io_start(s.loop, &s.sig_io, EPOLLIN);
		}
		if (tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
			struct termios rt = saved_tio;
			cfmakeraw(&rt);
			raw = tcsetattr(STDIN_FILENO, TCSANOW, &rt) == 0;
		}
		s.size_fd = isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDIN_FILENO;
		send_size(&s);
	}

	if (o->stdin_) {
		s.stdin_on = true;
		loop_io_init(&s.in_io, STDIN_FILENO, on_stdin, &s);
		loop_timer_init(&s.in_timer, on_stdin_timer, &s);
		/* regular files and /dev/null cannot be polled (EPERM): read them on a timer */
		s.stdin_polled = loop_io_start(s.loop, &s.in_io, EPOLLIN) == 0;
		if (!s.stdin_polled)
			loop_timer_start(s.loop, &s.in_timer, 0);
	}

	if (s.ws)
		loop_run(s.loop);

	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	if (s.stdin_on && !s.stdin_done) {
		if (s.stdin_polled)
			loop_io_stop(s.loop, &s.in_io);
		else
			loop_timer_stop(s.loop, &s.in_timer);
	}
	if (s.sigfd >= 0) {
		loop_io_stop(s.loop, &s.sig_io);
		close(s.sigfd);
	}
	if (tty)
		sigprocmask(SIG_SETMASK, &oldset, NULL);
	/* a ws_conn still open here (only when the loop stopped without on_close) is closed by
	 * dropping: close it properly first */
	if (s.ws) {
		ws_close(s.ws, WS_CLOSE_NORMAL, "");
		while (s.ws && loop_run_once(s.loop, 1000) >= 0)
			;
	}
	loop_free(s.loop);

	int rc;
	if (s.have_status)
		rc = finish_status(&s);
	else if (s.interrupted)
		rc = 1;
	else if (s.close_code == WS_CLOSE_ABNORMAL)
		rc = xfail(
			"error reading from error stream: websocket: close 1006 (abnormal closure): "
			"unexpected EOF");
	else
		rc = 0;
	kc_str_free(&s.status);
	return rc;
}

/* Whether pod has a regular, init or ephemeral container called name (podcmd.FindContainerByName). */
static bool has_container(const cJSON *pod, const char *name)
{
	static const char *const lists[] = { "spec.containers", "spec.initContainers",
					     "spec.ephemeralContainers" };
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		const cJSON *e;
		cJSON_ArrayForEach(e, kc_json_get(pod, lists[i]))
		{
			const char *n = kc_json_get_str(e, "name");
			if (n && strcmp(n, name) == 0)
				return true;
		}
	}
	return false;
}

const char *kexec_default_container(const cJSON *pod, bool logs)
{
	const char *c =
		kc_json_get_str(pod, "metadata.annotations[kubectl.kubernetes.io/default-container]");
	if (c && *c) {
		if (has_container(pod, c))
			return c;
		if (logs)
			fprintf(stderr, "Default container name \"%s\" not found in pod %s\n", c,
				kc_json_get_str(pod, "metadata.name"));
	}
	c = kc_json_get_str(pod, "spec.containers[0].name");
	/* as kubectl 1.32 lists them: regular, init, then ephemeral containers */
	const cJSON *cs = kc_json_get(pod, "spec.containers");
	const cJSON *ics = kc_json_get(pod, "spec.initContainers");
	const cJSON *ecs = kc_json_get(pod, "spec.ephemeralContainers");
	if (c && (cJSON_GetArraySize(cs) > 1 || cJSON_GetArraySize(ics) > 0 ||
		  cJSON_GetArraySize(ecs) > 0)) {
		fprintf(stderr, "Defaulted container \"%s\" out of: ", c);
		const cJSON *lists[] = { cs, ics, ecs };
		const char *labels[] = { "", " (init)", " (ephem)" };
		bool first = true;
		for (int k = 0; k < 3; k++) {
			const cJSON *e;
			cJSON_ArrayForEach(e, lists[k])
			{
				const char *n = kc_json_get_str(e, "name");
				fprintf(stderr, "%s%s%s", first ? "" : ", ", n ? n : "", labels[k]);
				first = false;
			}
		}
		fputc('\n', stderr);
	}
	return c;
}

int kc_kexec_run(const struct kexec_opts *o)
{
	const char *pod = o->pod;
	if (strncmp(pod, "pod/", 4) == 0 || strncmp(pod, "pods/", 5) == 0)
		pod = strchr(pod, '/') + 1;
	if (!*pod || strchr(pod, '/'))
		return xfail("invalid pod name \"%s\"", o->pod);
	if (o->ncmd == 0)
		return xfail("you must specify at least one command for the container");

	struct kc_str path = KC_STR_INIT;
	kc_str_adds(&path, "/api/v1/namespaces/");
	url_escape(&path, o->ns);
	kc_str_adds(&path, "/pods/");
	url_escape(&path, pod);
	struct http_client_response resp;
	struct kc_err err = {0};
	if (kc_rest_call(o->rest, "GET", path.buf, NULL, NULL, NULL, 0, &resp, &err) < 0) {
		kc_str_free(&path);
		return xfail("%s", err.msg);
	}
	if (resp.status != 200) {
		char msg[1200];
		kc_rest_error_text(&resp, msg, sizeof msg);
		fprintf(stderr, "%s\n", msg);
		http_client_response_free(&resp);
		kc_str_free(&path);
		return 1;
	}
	cJSON *obj = NULL;
	int prc = kc_json_parse(resp.body, resp.body_len, NULL, &obj, &err);
	http_client_response_free(&resp);
	if (prc < 0) {
		kc_str_free(&path);
		return xfail("cannot decode pod %s: %s", pod, err.msg);
	}
	const char *phase = kc_json_get_str(obj, "status.phase");
	if (phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)) {
		cJSON_Delete(obj);
		kc_str_free(&path);
		return xfail("cannot exec into a container in a completed pod; current phase is %s",
			     phase);
	}
	char container[256] = "";
	if (o->container) {
		snprintf(container, sizeof container, "%s", o->container);
	} else {
		const char *c = kexec_default_container(obj, false);
		snprintf(container, sizeof container, "%s", c ? c : "");
	}
	cJSON_Delete(obj);

	/* -t needs -i and a terminal on stdin (kubectl's StreamOptions.SetupTTY) */
	bool tty = o->tty && o->stdin_;
	if (tty && !isatty(STDIN_FILENO)) {
		fprintf(stderr,
			"Unable to use a TTY - input is not a terminal or the right kind of file\n");
		tty = false;
	}

	kc_str_adds(&path, "/exec?");
	for (size_t i = 0; i < o->ncmd; i++) {
		kc_str_adds(&path, "command=");
		url_escape(&path, o->cmd[i]);
		kc_str_addc(&path, '&');
	}
	if (container[0]) {
		kc_str_adds(&path, "container=");
		url_escape(&path, container);
		kc_str_addc(&path, '&');
	}
	if (!tty)
		kc_str_adds(&path, "stderr=true&");
	if (o->stdin_)
		kc_str_adds(&path, "stdin=true&");
	kc_str_adds(&path, "stdout=true");
	if (tty)
		kc_str_adds(&path, "&tty=true");

	struct transport *t = NULL;
	struct kc_str leftover = KC_STR_INIT;
	int rc = upgrade(o->kc, path.buf, &t, &leftover);
	kc_str_free(&path);
	if (rc == 0)
		rc = run_session(o, t, &leftover, tty);
	kc_str_free(&leftover);
	fflush(stdout);
	return rc;
}
