/* netns.h - pod sandbox network namespaces without a pause process: each one is created on a
 * helper thread and kept alive by a bind mount of its nsfs file onto DIR/<name> (DIR is
 * DATA/netns; name is the pod uid), the way `ip netns add` pins /run/netns/<name>.
 *
 * DIR is made a shared mount point (a bind mount onto itself when it is not one), as ip-netns
 * does, so that unmounting a namespace also releases the copies that mount namespaces created
 * later (containers, `ip netns exec`) took of it. None of these functions changes the calling
 * thread's namespaces; all are safe to call from any thread, on distinct names concurrently. */
#ifndef KC_RUNTIME_NETNS_H
#define KC_RUNTIME_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

/* Longest name (pod uids are 36 bytes; the rest leaves room for suffixes). */
#define RT_NETNS_NAME_MAX 128

/* True when name is usable as a file name here: 1..RT_NETNS_NAME_MAX bytes of [A-Za-z0-9._-],
 * not "." or "..". */
bool rt_netns_name_ok(const char *name);

/* Creates DIR (and parents, mode 0755) and makes it a shared mount point. Idempotent. */
int rt_netns_dir_prepare(const char *dir, struct kc_err *err);
/* Undoes rt_netns_dir_prepare's self bind mount when no namespace is pinned in DIR any more
 * (for tests and uninstall). Returns 0, or -KC_EEXIST when namespaces remain. */
int rt_netns_dir_release(const char *dir, struct kc_err *err);

/* Creates a new network namespace with its loopback up and pins it at DIR/name. -EEXIST when
 * the name is taken (pinned or a leftover file: delete it first). On failure nothing is left. */
int rt_netns_create(const char *dir, const char *name, struct kc_err *err);
/* Opens the pinned namespace (O_RDONLY|O_CLOEXEC) for setns() or IFLA_NET_NS_FD; *fd is the
 * caller's to close. -ENOENT when absent, -KC_ENOTFOUND when the file is not a pinned
 * namespace (a leftover of a crash between creating the file and mounting over it). */
int rt_netns_open(const char *dir, const char *name, int *fd, struct kc_err *err);
/* True when DIR/name is a pinned network namespace. */
bool rt_netns_exists(const char *dir, const char *name);
/* Unmounts and removes DIR/name. Idempotent: 0 when it is already gone. The namespace itself
 * dies when its last user (a process or another mount) goes. */
int rt_netns_delete(const char *dir, const char *name, struct kc_err *err);
/* The names in DIR (pinned or leftover), for clean-up after a crash. *names is an array of *n
 * heap strings; free with rt_netns_list_free. A missing DIR is an empty list. */
int rt_netns_list(const char *dir, char ***names, size_t *n, struct kc_err *err);
void rt_netns_list_free(char **names, size_t n);

#endif
