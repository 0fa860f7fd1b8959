/* shim.h - the per-container shim: a re-exec of kc ("kc shim", hidden) that outlives kc, owns the
 * container's stdio and CRI log file, records its exit in state.json, and serves a unix socket
 * (state, wait, kill, exec, attach, resize) that the node agent (or `kc runtime`) uses, also after
 * a restart of kc (adoption: scan the container dirs, read state.json, connect to shim.sock).
 *
 * Container dir layout (DATA/pods/<pod uid>/containers/<name>/):
 *     config.json  the rt_spec (written by the caller before rt_shim_spawn)
 *     state.json   rt_state, replaced atomically at every transition
 *     shim.sock    SOCK_SEQPACKET; one JSON request per packet, fds by SCM_RIGHTS
 *     shim.log     the shim's own log lines
 *     upper/ work/ rootfs/   overlay directories
 *
 * Protocol (every reply is one JSON packet):
 *     {"op":"state"}                       → the state object
 *     {"op":"wait"}                        → the state object once the container has exited
 *     {"op":"kill","signal":N,"all":B}     → {"ok":true}; all: every process of the cgroup
 *     {"op":"resize","rows":R,"cols":C}    → {"ok":true} (TIOCSWINSZ on the container's tty)
 *     {"op":"exec","args":[..],"tty":B} + fds [stdin, stdout, stderr] (tty: the pty slave 3×)
 *                                          → {"pid":N} then {"exitCode":N,"signal":S} at exit,
 *                                            or {"error":"...","reason":"StartError"}
 *     {"op":"attach","stdin":B} + fds [stdout, stderr(, stdin)]
 *                                          → {"ok":true}; output is copied to the fds (as well as
 *                                            logged) until they close or the container exits.
 * Exec streams are fds the caller passes (pipes or socketpairs, or a pty slave whose master the
 * caller keeps: resizing an exec tty is then the caller's own TIOCSWINSZ), so the node agent can
 * bridge them to a WebSocket without the shim knowing the wire format. */
#ifndef KC_RUNTIME_SHIM_H
#define KC_RUNTIME_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"
#include "lib/str.h"

/* A container's recorded state. */
struct rt_state {
	char status[16];   /* "created", "running", "exited" */
	int pid;	   /* container init (host pid), 0 when never started */
	int shim_pid;
	int exit_code;	   /* Kubernetes' value: the code, or 128 + signal, 128 for StartError */
	int signal;	   /* the signal that ended it, 0 when it exited */
	bool oom_killed;
	char reason[48];   /* "", "Completed", "Error", "OOMKilled", "StartError", ... */
	char message[512];
	uint64_t created_ns, started_ns, finished_ns; /* wall clock, 0 when not reached */
	bool shim_alive;   /* filled by rt_shim_query only */
};

/* `kc shim --dir DIR [--ready-fd N] [--foreground]`. */
int rt_shim_main(int argc, char **argv);

/* Starts a shim for the container dir (config.json must exist): double fork + exec of
 * /proc/self/exe, so the shim is reparented to init (or the nearest subreaper) and survives the
 * caller. Waits until the container runs or failed to start; fills *st either way. foreground:
 * the shim inherits the caller's stdio and copies the container's output (and its own stdin when
 * the spec has stdin) to it. Returns 0 when the container runs, or a negative code with err
 * ("StartError: exec: ...": the reason first). */
int rt_shim_spawn(const char *dir, bool foreground, struct rt_state *st, struct kc_err *err);

/* Reads DIR/state.json. */
int rt_state_read(const char *dir, struct rt_state *st, struct kc_err *err);
void rt_state_to_json(const struct rt_state *st, struct kc_str *out);
int rt_state_from_json(const char *buf, size_t len, struct rt_state *st, struct kc_err *err);

/* The state from the shim when it answers (shim_alive = true), else from state.json. A
 * "running" state whose shim is gone and whose pid is gone reads as exited with reason
 * "Unknown". */
int rt_shim_query(const char *dir, struct rt_state *st, struct kc_err *err);
/* Blocks until the container exited (or the shim went away) and returns the final state. */
int rt_shim_wait(const char *dir, struct rt_state *st, struct kc_err *err);
int rt_shim_kill(const char *dir, int sig, bool all, struct kc_err *err);
int rt_shim_resize(const char *dir, unsigned rows, unsigned cols, struct kc_err *err);
/* Runs argv in the container with the given stdio fds (the shim dups them), waits for it and
 * returns its exit code (128 + signal when killed) in *exit_code. started (may be NULL) is
 * called with the exec'd pid. A start failure returns a negative code with err. */
int rt_shim_exec(const char *dir, char *const *argv, bool tty, const int fds[3], int *exit_code,
		 struct kc_err *err);
/* Opens a connection and sends one request with optional fds: returns the socket fd (caller
 * closes) for reading replies with rt_shim_recv. */
int rt_shim_request(const char *dir, const char *json, const int *fds, int nfds, struct kc_err *err);
/* Receives one reply packet into buf (NUL-terminated). Returns its length, 0 at EOF, or -errno. */
ssize_t rt_shim_recv(int fd, char *buf, size_t cap);

/* RFC 3339 with nanoseconds, UTC ("2016-10-06T00:17:09.669794202Z"): buf >= 40 bytes. */
char *rt_format_rfc3339_nano(uint64_t wall_ns, char *buf, size_t cap);

/* One CRI log line ("<time> <stream> <F|P> <data>\n") for data[0..n) into out. */
void rt_cri_log_line(struct kc_str *out, uint64_t wall_ns, const char *stream, bool partial,
		     const char *data, size_t n);

#endif
