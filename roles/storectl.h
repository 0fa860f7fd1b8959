/* storectl.h - `kc store`: an etcdctl-like client for kc's store (or any etcd v3) over the JSON
 * gateway: ls, get, put, del, watch, status, member, compact, snapshot save. */
#ifndef KC_ROLES_STORECTL_H
#define KC_ROLES_STORECTL_H

/* Runs the CLI with the arguments after "store". Returns the process exit code: 0 on success,
 * 1 when the store is unreachable or answers an error, 2 on bad usage (one line on stderr). */
int kc_storectl_main(int argc, char **argv);

#endif
