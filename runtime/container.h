/* container.h - one container process: namespaces, overlayfs root, pivot_root, /proc /dev /sys,
 * volumes, user, capabilities, no_new_privs, seccomp; plus the pure helpers the node agent uses
 * to build a container's command, environment and capability set the Kubernetes way. */
#ifndef KC_RUNTIME_CONTAINER_H
#define KC_RUNTIME_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"
#include "lib/str.h"
#include "runtime/cgroup.h"

/* Limits on a spec (config.json is written by kc, but a corrupt file must not be trusted). */
#define RT_MAX_LAYERS 128
#define RT_MAX_ARGS 4096
#define RT_MAX_ENV 4096
#define RT_MAX_MOUNTS 256
#define RT_MAX_GROUPS 64
#define RT_SPEC_MAX_BYTES (4u << 20)

enum rt_propagation {
	RT_PROP_PRIVATE = 0,	     /* Kubernetes "None" */
	RT_PROP_HOST_TO_CONTAINER,  /* rslave */
	RT_PROP_BIDIRECTIONAL,	     /* rshared (new mounts inside are not seen by the host) */
};

struct rt_mount {
	char *source; /* host path: a directory or a file */
	char *target; /* absolute path inside the container; created when missing */
	bool readonly;
	enum rt_propagation propagation;
};

enum rt_seccomp_mode { RT_SECCOMP_UNCONFINED = 0, RT_SECCOMP_RUNTIME_DEFAULT };

/* Everything needed to create one container. Every pointer is owned by the spec (rt_spec_free).
 * Vectors are NULL-terminated as well as counted. */
struct rt_spec {
	char *name;    /* container name, for messages and logs */
	char *pod_uid; /* for the log path; may be NULL */
	int restart;   /* restart count (log file name, cgroup leaf) */
	char *dir;     /* container dir (DATA/pods/<uid>/containers/<name>): upper/ work/ rootfs/ */

	char **layers; /* image layer directories, base first (OCI order) */
	size_t n_layers;

	char *netns;       /* bind-mounted network namespace file to join; NULL: a new one */
	bool host_network; /* stay in the host's network namespace (hostNetwork) */
	char *pidns;       /* PID namespace file to join (shareProcessNamespace); NULL: a new one */
	bool host_pid;
	bool host_ipc;
	char *hostname;

	char **argv; /* final command line, argv[0] resolved through PATH in the container */
	size_t argc;
	char **env; /* final "K=V" list (HOME is added from /etc/passwd when missing) */
	size_t n_env;
	char *cwd; /* NULL: "/" */

	char *user;	  /* "uid", "uid:gid", "name", "name:group", NULL: root */
	long long run_as_group; /* -1: none; else overrides the group of 'user' */
	uint32_t groups[RT_MAX_GROUPS]; /* supplementalGroups */
	size_t n_groups;
	bool run_as_non_root;

	uint64_t caps; /* final capability set (rt_caps_compute), bit 1 << CAP_* */
	bool privileged;
	bool read_only_rootfs;
	bool no_new_privs;
	enum rt_seccomp_mode seccomp;
	int oom_score_adj;

	bool tty;	/* the container's stdio is a terminal */
	bool stdin_open; /* keep stdin open (Kubernetes "stdin") */
	bool stdin_once;
	uint64_t shm_size; /* bytes, 0: 64 MiB */

	struct rt_mount *mounts; /* volumes, then /etc/hosts etc. (as the caller orders them) */
	size_t n_mounts;

	/* cgroup leaf (relative to the cgroup root) and its limits; NULL path: no cgroup */
	char *cgroup_path;
	char *cgroup_root; /* NULL: /sys/fs/cgroup */
	struct rt_cgroup_limits limits;

	/* logs (the shim): CRI log file; rotation size and count */
	char *log_path;
	uint64_t log_max_size;
	int log_max_files;
};

void rt_spec_init(struct rt_spec *s);
void rt_spec_free(struct rt_spec *s);
/* Serialises s to JSON (config.json). */
void rt_spec_to_json(const struct rt_spec *s, struct kc_str *out);
/* Parses config.json into a fresh spec (s is initialised first; on error it is left freed).
 * Enforces the RT_MAX_* limits. Returns 0 or a negative code with err filled. */
int rt_spec_from_json(const char *buf, size_t len, struct rt_spec *s, struct kc_err *err);

/* Why a start failed, as the Kubernetes container state reasons name it. */
enum rt_fail {
	RT_FAIL_NONE = 0,
	RT_FAIL_CONFIG, /* CreateContainerConfigError: runAsNonRoot violated */
	RT_FAIL_CREATE, /* CreateContainerError: user/group not found, bad spec */
	RT_FAIL_START,	/* StartError: mount failure, executable not found, exec failed */
};
const char *rt_fail_reason(enum rt_fail f);

/* The container's standard streams: fds the caller owns (the child dups them to 0-2). With a
 * terminal, all three are the pty slave and console is its path (bound on /dev/console). */
struct rt_stdio {
	int in, out, err;
	const char *console;
};

/* Starts the container: creates the namespaces, joins cg (may be NULL) before anything runs,
 * mounts the root filesystem and execs spec->argv. Returns when the program was exec'd (the
 * close-on-exec error pipe hit EOF) or when the child reported why it could not get there.
 * On success *pid is the container's init (host pid, a child of the caller). On failure the
 * child has been reaped, *fail says which Kubernetes reason applies, and err holds a precise
 * message ("exec: \"foo\": executable file not found in $PATH"). The caller must be single
 * threaded (it forks without exec). */
int rt_container_start(const struct rt_spec *spec, struct rt_cgroup *cg, const struct rt_stdio *io,
		       pid_t *pid, enum rt_fail *fail, struct kc_err *err);

/* Starts an extra process in the running container whose init is 'init_pid': joins its cgroup
 * and its ipc, uts, net, cgroup, pid and mount namespaces, then takes the container's user,
 * capabilities, no_new_privs and seccomp from spec and execs argv (env: spec->env). The first
 * call moves the caller's pid_for_children into the container's PID namespace (harmless for the
 * shim, which forks nothing else). Returns like rt_container_start; *pid is a child of the
 * caller. */
int rt_container_exec(const struct rt_spec *spec, struct rt_cgroup *cg, pid_t init_pid,
		      char *const *argv, bool tty, const struct rt_stdio *io, pid_t *pid,
		      enum rt_fail *fail, struct kc_err *err);

/* ---- pure helpers for the node agent ------------------------------------------------------ */

/* Kubernetes' command line: no command and no args → Entrypoint + Cmd; command only → command;
 * args only → Entrypoint + args; both → command + args. command/args are expanded against env
 * first ($(VAR), $$ escapes; see rt_expand_vars). Inputs are NULL-terminated vectors (any may be
 * NULL). Returns a fresh NULL-terminated vector (rt_strv_free) and its length in *argc; an empty
 * result is -KC_EINVAL ("no command specified"). */
int rt_merge_command(char *const *entrypoint, char *const *cmd, char *const *command,
		     char *const *args, char *const *env, char ***argv, size_t *argc,
		     struct kc_err *err);
/* kubelet's expansion of "$(VAR)" references in command, args and env values: a defined VAR is
 * replaced, "$$" becomes "$", anything else is kept as written. env is "K=V" entries. Returns a
 * fresh string. */
char *rt_expand_vars(const char *s, char *const *env);
/* The image's Env overridden by the container's (same name: the container wins, keeping the
 * image's position), with PATH defaulted when neither sets it. Returns a fresh vector. */
char **rt_merge_env(char *const *image_env, char *const *container_env, size_t *n);
void rt_strv_free(char **v);

/* Docker's default capability set (14 capabilities). */
uint64_t rt_caps_default(void);
/* All capabilities the running kernel knows (from /proc/sys/kernel/cap_last_cap). */
uint64_t rt_caps_all(void);
/* Parses "NET_ADMIN" or "CAP_NET_ADMIN" (case-insensitive). Returns the number or -1. */
int rt_cap_from_name(const char *name);
const char *rt_cap_name(int cap);
/* containerd's rule: start from the default (all when privileged); "ALL" in add → all; "ALL" in
 * drop → none; then add the others, then drop the others. Unknown names: -KC_EINVAL. */
int rt_caps_compute(bool privileged, char *const *add, char *const *drop, uint64_t *out,
		    struct kc_err *err);

/* A user resolved in a root filesystem. */
struct rt_user {
	uint32_t uid, gid;
	uint32_t groups[RT_MAX_GROUPS]; /* /etc/group memberships of the named user */
	size_t n_groups;
	char home[256];
};
/* Resolves spec ("1000", "1000:100", "nobody", "nobody:nogroup", NULL/"" = root) against the
 * text of /etc/passwd and /etc/group (either may be NULL: missing file). A numeric uid need not
 * exist; a name must ("unable to find user NAME: no matching entries in passwd file"). */
int rt_resolve_user(const char *spec, const char *passwd, const char *group, struct rt_user *out,
		    struct kc_err *err);

#endif
