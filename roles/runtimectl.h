/* runtimectl.h - `kc runtime`: run, inspect and remove single containers with kc's own runtime,
 * without a cluster (a debugging tool, and the driver of tests/integration/t_runtime.sh). */
#ifndef KC_ROLES_RUNTIMECTL_H
#define KC_ROLES_RUNTIMECTL_H

/* Runs the CLI with the arguments after "runtime". Returns the process exit code: for `run` in
 * the foreground and for `exec`, the container's (or the process's) exit code, 128 when it could
 * not start; otherwise 0 on success, 1 on failure, 2 on bad usage (one line on stderr). */
int kc_runtimectl_main(int argc, char **argv);

#endif
