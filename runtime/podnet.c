/* DESIGN: one node's pod network, the in-process equivalent of CNI bridge + host-local +
 * flannel host-gw (ref/runtime-anchors.md §3).
 *
 * Owns: the bridge (RT_PODNET_BRIDGE) and its gateway address, the veths named
 * "kcv<hash(uid)>", the pinned namespaces under DATA/netns, the address files under DATA/ipam,
 * the records under DATA/hostports, the routes of protocol NL_RTPROT_KC, and the iptables chains
 * KC-HOSTPORTS, KC-POSTROUTING and KC-FORWARD. Nothing else is ever changed or deleted.
 *
 * Threads: every entry point takes pn->mu, so the agent's pod workers may call concurrently;
 * the netlink socket and the IPAM handle are only used under it. Work inside a pod's namespace
 * runs on a short-lived helper thread (nl_run_in_netns); the caller never changes namespace.
 *
 * Crash safety: every step is idempotent and named after the pod uid, so setup after a crash
 * rebuilds a half-made pod, teardown finishes a half-removed one, and rt_podnet_cleanup finds
 * leftovers from any of the four places state lives (namespaces, addresses, veths, hostPort
 * records). The hostPort record is written before the rules, so no rule outlives its record. */
#include "runtime/podnet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/vec.h"
#include "net/netlink.h"
#include "runtime/netns.h"

extern char **environ;

/* ---- podCIDR allocation ------------------------------------------------------------------- */

int rt_podnet_cidr_alloc(const struct net_cidr *cluster, unsigned node_prefix,
			 const struct net_cidr *used, size_t n, struct net_cidr *out,
			 struct kc_err *err)
{
	char buf[64];
	unsigned bits = cluster->ip.family == AF_INET ? 32 : 128;
	if ((cluster->ip.family != AF_INET && cluster->ip.family != AF_INET6) ||
	    node_prefix < cluster->prefix || node_prefix > bits)
		return kc_err_set(err, -KC_EINVAL, "node mask /%u does not fit cluster CIDR %s",
				  node_prefix, net_cidr_format(cluster, buf, sizeof buf));
	unsigned span = node_prefix - cluster->prefix;
	/* Node counts beyond 2^20 are not a cluster kc serves; bounding keeps this loop short. */
	uint64_t count = span >= 20 ? (uint64_t)1 << 20 : (uint64_t)1 << span;
	for (uint64_t i = 0; i < count; i++) {
		/* subnet i: the cluster address plus i << (bits - node_prefix) */
		struct net_cidr c = {.ip = cluster->ip, .prefix = node_prefix};
		unsigned shift = bits - node_prefix;
		uint64_t carry = i << (shift % 8);
		for (int k = (int)(bits / 8) - 1 - (int)(shift / 8); k >= 0 && carry; k--) {
			uint64_t v = c.ip.bytes[k] + (carry & 0xff);
			c.ip.bytes[k] = (uint8_t)v;
			carry = (carry >> 8) + (v >> 8);
		}
		bool taken = false;
		for (size_t j = 0; j < n && !taken; j++)
			taken = used[j].ip.family == c.ip.family && net_cidr_overlaps(&used[j], &c);
		if (!taken) {
			*out = c;
			return 0;
		}
	}
	return kc_err_set(err, -KC_ELIMIT, "no free /%u left in cluster CIDR %s", node_prefix,
			  net_cidr_format(cluster, buf, sizeof buf));
}

/* ---- IPAM --------------------------------------------------------------------------------- */

#define IPAM_CURSOR	"last_reserved_ip"
#define IPAM_OWNER_MAX	128
#define IPAM_MIN_PREFIX 16
#define IPAM_MAX_PREFIX 30

struct rt_ipam {
	int dirfd; /* holds the flock */
	struct net_cidr range;
	uint32_t size;		/* addresses in the range */
	char **owners;		/* [size]: owner of each offset, "" unknown, NULL free */
	struct kc_map by_owner; /* owner -> offset + 1 */
	size_t count;
	uint32_t cursor; /* last offset handed out */
};

static bool owner_ok(const char *s)
{
	return rt_netns_name_ok(s) && strlen(s) <= IPAM_OWNER_MAX;
}

static uint32_t ip4_u32(const struct net_ip *ip)
{
	return (uint32_t)ip->bytes[0] << 24 | (uint32_t)ip->bytes[1] << 16 |
	       (uint32_t)ip->bytes[2] << 8 | ip->bytes[3];
}

static void ipam_ip(const struct rt_ipam *a, uint32_t off, struct net_ip *out)
{
	net_cidr_nth(&a->range, off, out);
}

/* Offset of ip in the range, or 0 when outside (0 is never allocatable). */
static uint32_t ipam_off(const struct rt_ipam *a, const struct net_ip *ip)
{
	if (!net_cidr_contains(&a->range, ip))
		return 0;
	return ip4_u32(ip) - ip4_u32(&a->range.ip);
}

static bool ipam_usable(const struct rt_ipam *a, uint32_t off)
{
	return off >= 2 && off < a->size - 1; /* not network, gateway, broadcast */
}

static void ipam_set(struct rt_ipam *a, uint32_t off, const char *owner)
{
	kc_assert(!a->owners[off]);
	a->owners[off] = xstrdup(owner);
	if (owner[0])
		kc_map_sput(&a->by_owner, owner, (void *)(uintptr_t)(off + 1));
	a->count++;
}

static void ipam_clear(struct rt_ipam *a, uint32_t off)
{
	if (!a->owners[off])
		return;
	if (a->owners[off][0]) {
		void *v = kc_map_sget(&a->by_owner, a->owners[off]);
		if (v && (uintptr_t)v == off + 1)
			kc_map_sdel(&a->by_owner, a->owners[off]);
	}
	free(a->owners[off]);
	a->owners[off] = NULL;
	a->count--;
}

/* Reads one allocation file; the owner is the first line, "" when unreadable. */
static void ipam_load_one(struct rt_ipam *a, const char *name)
{
	struct net_ip ip;
	if (net_ip_parse(name, &ip) || ip.family != AF_INET)
		return;
	uint32_t off = ipam_off(a, &ip);
	if (!ipam_usable(a, off) || a->owners[off])
		return;
	char owner[IPAM_OWNER_MAX + 2] = "";
	int fd = openat(a->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		ssize_t n = read(fd, owner, sizeof owner - 1);
		close(fd);
		owner[n > 0 ? n : 0] = '\0';
		char *nl = strpbrk(owner, "\r\n");
		if (nl)
			*nl = '\0';
		if (!owner_ok(owner) || kc_map_sget(&a->by_owner, owner))
			owner[0] = '\0';
	}
	ipam_set(a, off, owner);
}

int rt_ipam_open(const char *dir, const struct net_cidr *range, struct rt_ipam **out,
		 struct kc_err *err)
{
	*out = NULL;
	char rbuf[64];
	if (range->ip.family != AF_INET || range->prefix < IPAM_MIN_PREFIX ||
	    range->prefix > IPAM_MAX_PREFIX)
		return kc_err_set(err, -KC_EINVAL,
				  "pod CIDR %s: IPv4 between /%d and /%d is supported",
				  net_cidr_format(range, rbuf, sizeof rbuf), IPAM_MIN_PREFIX,
				  IPAM_MAX_PREFIX);
	char ipb[64], path[PATH_MAX];
	int w = snprintf(path, sizeof path, "%s/%s-%u", dir,
			 net_ip_format(&range->ip, ipb, sizeof ipb), range->prefix);
	if (w < 0 || (size_t)w >= sizeof path)
		return kc_err_set(err, -KC_EINVAL, "IPAM directory path too long");
	int rc = kc_mkdir_p_err(path, 0700, err);
	if (rc)
		return rc;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return kc_err_set(err, -errno, "open %s: %s", path, strerror(errno));
	if (flock(dfd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(dfd);
		if (e == EWOULDBLOCK)
			return kc_err_set(err, -KC_EAGAIN, "%s is in use by another process", path);
		return kc_err_set(err, -e, "flock %s: %s", path, strerror(e));
	}
	struct rt_ipam *a = xcalloc(1, sizeof *a);
	a->dirfd = dfd;
	a->range = *range;
	a->size = (uint32_t)1 << (32 - range->prefix);
	a->owners = xcalloc(a->size, sizeof(char *));
	kc_map_init(&a->by_owner, NULL);

	int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		rc = kc_err_set(err, -errno, "read %s: %s", path, strerror(errno));
		if (dup >= 0)
			close(dup);
		rt_ipam_close(a);
		return rc;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (kc_has_prefix(e->d_name, ".tmp-"))
			unlinkat(dfd, e->d_name, 0); /* a crash between write and link */
		else
			ipam_load_one(a, e->d_name);
	}
	closedir(d);

	char cur[32] = "";
	int cfd = openat(dfd, IPAM_CURSOR, O_RDONLY | O_CLOEXEC);
	if (cfd >= 0) {
		ssize_t n = read(cfd, cur, sizeof cur - 1);
		close(cfd);
		cur[n > 0 ? n : 0] = '\0';
		char *nl = strpbrk(cur, "\r\n");
		if (nl)
			*nl = '\0';
		struct net_ip ip;
		if (net_ip_parse(cur, &ip) == 0 && ip.family == AF_INET)
			a->cursor = ipam_off(a, &ip);
	}
	*out = a;
	return 0;
}

void rt_ipam_close(struct rt_ipam *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; i < a->size; i++)
		free(a->owners[i]);
	free(a->owners);
	kc_map_free(&a->by_owner);
	close(a->dirfd); /* releases the flock */
	free(a);
}

int rt_ipam_lookup(struct rt_ipam *a, const char *owner, struct net_ip *out)
{
	void *v = kc_map_sget(&a->by_owner, owner);
	if (!v)
		return -KC_ENOTFOUND;
	ipam_ip(a, (uint32_t)((uintptr_t)v - 1), out);
	return 0;
}

int rt_ipam_alloc(struct rt_ipam *a, const char *owner, struct net_ip *out, struct kc_err *err)
{
	if (!owner_ok(owner))
		return kc_err_set(err, -KC_EINVAL, "bad IPAM owner '%s'", owner);
	if (rt_ipam_lookup(a, owner, out) == 0)
		return 0;
	uint32_t usable = a->size - 3;
	for (uint32_t step = 1; step <= a->size; step++) {
		uint32_t off = (a->cursor + step) % a->size;
		if (!ipam_usable(a, off) || a->owners[off])
			continue;
		struct net_ip ip;
		ipam_ip(a, off, &ip);
		char name[64], tmp[80], body[IPAM_OWNER_MAX + 2];
		net_ip_format(&ip, name, sizeof name);
		snprintf(tmp, sizeof tmp, ".tmp-%s", name);
		int blen = snprintf(body, sizeof body, "%s\n", owner);
		int fd = openat(a->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return kc_err_set(err, -errno, "IPAM: create %s: %s", tmp, strerror(errno));
		ssize_t n = write(fd, body, (size_t)blen);
		int e = n < 0 ? errno : n != blen ? EIO : 0;
		close(fd);
		if (!e && linkat(a->dirfd, tmp, a->dirfd, name, 0) < 0)
			e = errno;
		unlinkat(a->dirfd, tmp, 0);
		if (e == EEXIST) {
			/* a file this handle did not know: respect it */
			ipam_load_one(a, name);
			if (!a->owners[off])
				ipam_set(a, off, "");
			continue;
		}
		if (e)
			return kc_err_set(err, -e, "IPAM: write %s: %s", name, strerror(e));
		ipam_set(a, off, owner);
		a->cursor = off;
		/* The cursor is a hint: a torn write only changes where the next search starts. */
		int cfd = openat(a->dirfd, IPAM_CURSOR, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				 0600);
		if (cfd >= 0) {
			if (write(cfd, name, strlen(name)) < 0) {
				/* ignored, see above */
			}
			close(cfd);
		}
		*out = ip;
		return 0;
	}
	char rbuf[64];
	return kc_err_set(err, -KC_ELIMIT, "IPAM: all %u addresses of %s are allocated", usable,
			  net_cidr_format(&a->range, rbuf, sizeof rbuf));
}

static int ipam_release_off(struct rt_ipam *a, uint32_t off, struct kc_err *err)
{
	struct net_ip ip;
	char name[64];
	ipam_ip(a, off, &ip);
	net_ip_format(&ip, name, sizeof name);
	if (unlinkat(a->dirfd, name, 0) < 0 && errno != ENOENT)
		return kc_err_set(err, -errno, "IPAM: remove %s: %s", name, strerror(errno));
	ipam_clear(a, off);
	return 0;
}

int rt_ipam_release(struct rt_ipam *a, const char *owner, struct kc_err *err)
{
	void *v = kc_map_sget(&a->by_owner, owner);
	if (!v)
		return 0;
	return ipam_release_off(a, (uint32_t)((uintptr_t)v - 1), err);
}

void rt_ipam_foreach(struct rt_ipam *a,
		     void (*fn)(const struct net_ip *ip, const char *owner, void *arg), void *arg)
{
	for (uint32_t off = 0; off < a->size; off++) {
		if (!a->owners[off])
			continue;
		struct net_ip ip;
		ipam_ip(a, off, &ip);
		fn(&ip, a->owners[off], arg);
	}
}

size_t rt_ipam_count(struct rt_ipam *a)
{
	return a->count;
}

/* ---- the node ----------------------------------------------------------------------------- */

#define CHAIN_HOSTPORTS	  "KC-HOSTPORTS"
#define CHAIN_POSTROUTING "KC-POSTROUTING"
#define CHAIN_FORWARD	  "KC-FORWARD"
/* Bytes of firewall tool output kc reads. */
#define EXEC_OUT_MAX (4u << 20)

struct rt_podnet {
	pthread_mutex_t mu;
	struct nl_sock *nl;
	char *netns_dir;
	char *hostport_dir;
	char bridge[IFNAMSIZ];
	int bridge_index;
	struct net_cidr pod_cidr;
	struct net_cidr cluster_cidr;
	struct net_ip gateway;
	uint32_t mtu;
	struct rt_ipam *ipam;
	bool firewall;
	char *iptables;
	rt_podnet_exec_fn exec;
	void *exec_ctx;
};

void rt_podnet_veth_name(const char *pod_uid, char *buf, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)pod_uid; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	snprintf(buf, cap, RT_PODNET_VETH_PREFIX "%012llx",
		 (unsigned long long)(h & 0xffffffffffffull));
}

/* Runs argv with stdout captured in out and stderr in err. */
static int exec_real(void *ctx, const char *const *argv, struct kc_str *out, struct kc_err *err)
{
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) < 0)
		return kc_err_set(err, -errno, "pipe: %s", strerror(errno));
	if (pipe2(pe, O_CLOEXEC) < 0) {
		int e = errno;
		close(po[0]);
		close(po[1]);
		return kc_err_set(err, -e, "pipe: %s", strerror(e));
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)(uintptr_t)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(pe[1]);
	if (rc) {
		close(po[0]);
		close(pe[0]);
		return kc_err_set(err, -rc, "run %s: %s", argv[0], strerror(rc));
	}
	struct kc_str errs = KC_STR_INIT;
	struct pollfd pf[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
	int open_fds = 2;
	while (open_fds) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			char buf[4096];
			ssize_t n = read(pf[i].fd, buf, sizeof buf);
			if (n <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
				continue;
			}
			struct kc_str *dst = i == 0 ? out : &errs;
			if (dst->len + (size_t)n <= EXEC_OUT_MAX)
				kc_str_add(dst, buf, (size_t)n);
		}
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		while (errs.len && (errs.buf[errs.len - 1] == '\n'))
			kc_str_setlen(&errs, errs.len - 1);
		char ex[200];
		kc_excerpt(ex, sizeof ex, errs.buf, errs.len);
		rc = kc_err_set(err, -KC_EIO, "%s exited with %d: %s", argv[0],
				WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
				ex);
	}
	kc_str_free(&errs);
	return rc;
}

/* Runs "iptables -w <args...>" (args NULL-terminated). */
static int fw(struct rt_podnet *pn, struct kc_str *out, struct kc_err *err, const char *const *args)
{
	const char *argv[40];
	size_t n = 0;
	argv[n++] = pn->iptables;
	argv[n++] = "-w";
	for (size_t i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	struct kc_str sink = KC_STR_INIT;
	int rc = pn->exec(pn->exec_ctx, argv, out ? out : &sink, err);
	kc_str_free(&sink);
	return rc;
}

#define FW(pn, out, err, ...) fw(pn, out, err, (const char *const[]){__VA_ARGS__, NULL})

static int fw_setup_node(struct rt_podnet *pn, struct kc_err *err)
{
	char pod[64], cl[64];
	net_cidr_format(&pn->pod_cidr, pod, sizeof pod);
	int rc;
	FW(pn, NULL, NULL, "-t", "nat", "-N", CHAIN_HOSTPORTS);
	FW(pn, NULL, NULL, "-t", "nat", "-N", CHAIN_POSTROUTING);
	FW(pn, NULL, NULL, "-t", "filter", "-N", CHAIN_FORWARD);
	static const char *const parents[][3] = {
		{"nat", "PREROUTING", CHAIN_HOSTPORTS},
		{"nat", "OUTPUT", CHAIN_HOSTPORTS},
		{"nat", "POSTROUTING", CHAIN_POSTROUTING},
		{"filter", "FORWARD", CHAIN_FORWARD},
	};
	for (size_t i = 0; i < sizeof parents / sizeof parents[0]; i++) {
		const char *t = parents[i][0], *p = parents[i][1], *c = parents[i][2];
		bool local = strcmp(c, CHAIN_HOSTPORTS) == 0;
		if (local) {
			if (FW(pn, NULL, NULL, "-t", t, "-C", p, "-m", "addrtype", "--dst-type",
			       "LOCAL", "-m", "comment", "--comment", "kc", "-j", c) != 0 &&
			    (rc = FW(pn, NULL, err, "-t", t, "-A", p, "-m", "addrtype",
				     "--dst-type", "LOCAL", "-m", "comment", "--comment", "kc",
				     "-j", c)))
				return rc;
		} else if (FW(pn, NULL, NULL, "-t", t, "-C", p, "-m", "comment", "--comment", "kc",
			      "-j", c) != 0 &&
			   (rc = FW(pn, NULL, err, "-t", t, "-A", p, "-m", "comment", "--comment",
				    "kc", "-j", c))) {
			return rc;
		}
	}
	/* The node's own rules are rewritten whole: flush, then add. */
	if ((rc = FW(pn, NULL, err, "-t", "nat", "-F", CHAIN_POSTROUTING)) ||
	    (rc = FW(pn, NULL, err, "-t", "filter", "-F", CHAIN_FORWARD)))
		return rc;
	/* hostPort hairpin: a pod reaching a hostPort that DNATs to a pod of this node answers
	 * through the bridge address, not around it */
	if ((rc = FW(pn, NULL, err, "-t", "nat", "-A", CHAIN_POSTROUTING, "-s", pod, "-d", pod,
		     "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE")))
		return rc;
	if (pn->cluster_cidr.ip.family) {
		net_cidr_format(&pn->cluster_cidr, cl, sizeof cl);
		if ((rc = FW(pn, NULL, err, "-t", "nat", "-A", CHAIN_POSTROUTING, "-s", pod, "!",
			     "-d", cl, "-m", "addrtype", "!", "--dst-type", "MULTICAST", "-j",
			     "MASQUERADE")))
			return rc;
	}
	if ((rc = FW(pn, NULL, err, "-t", "filter", "-A", CHAIN_FORWARD, "-s", pod, "-j",
		     "ACCEPT")) ||
	    (rc = FW(pn, NULL, err, "-t", "filter", "-A", CHAIN_FORWARD, "-d", pod, "-j",
		     "ACCEPT")))
		return rc;
	return 0;
}

static const char *proto_name(int p)
{
	return p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "tcp";
}

/* Deletes the KC-HOSTPORTS rules whose comment is "kc:<uid>" for uids that keep(uid) rejects
 * (uid NULL: every uid matching 'only'). Rules are read back with -S, so what was added by an
 * earlier kc (or half-added before a crash) is found too. */
static int fw_delete_rules(struct rt_podnet *pn, const char *only, const struct kc_map *live,
			   struct kc_err *err)
{
	struct kc_str out = KC_STR_INIT;
	int rc = FW(pn, &out, err, "-t", "nat", "-S", CHAIN_HOSTPORTS);
	if (rc) {
		kc_str_free(&out);
		return rc;
	}
	int first = 0;
	char *save = NULL;
	for (char *line = strtok_r(out.buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!kc_has_prefix(line, "-A " CHAIN_HOSTPORTS " "))
			continue;
		char *c = strstr(line, "--comment ");
		if (!c)
			continue;
		c += 10;
		if (*c == '"')
			c++;
		if (!kc_has_prefix(c, "kc:"))
			continue;
		char uid[RT_NETNS_NAME_MAX + 1];
		size_t n = strcspn(c + 3, "\" ");
		if (n == 0 || n > RT_NETNS_NAME_MAX)
			continue;
		memcpy(uid, c + 3, n);
		uid[n] = '\0';
		if (only ? strcmp(uid, only) != 0 : kc_map_sget(live, uid) != NULL)
			continue;
		/* "-A CHAIN spec..." -> "-D CHAIN spec..." split on spaces (kc writes no quoted
		 * words; the comment quotes are dropped by the shell-less split) */
		const char *argv[40];
		size_t k = 0;
		argv[k++] = "-t";
		argv[k++] = "nat";
		char *s2 = NULL;
		for (char *w = strtok_r(line, " ", &s2); w && k < 38;
		     w = strtok_r(NULL, " ", &s2)) {
			if (strcmp(w, "-A") == 0)
				w = (char *)(uintptr_t) "-D";
			size_t wl = strlen(w);
			if (wl >= 2 && w[0] == '"' && w[wl - 1] == '"') {
				w[wl - 1] = '\0';
				w++;
			}
			argv[k++] = w;
		}
		argv[k] = NULL;
		struct kc_err e2 = {0};
		int r = fw(pn, NULL, &e2, argv);
		if (r && !first) {
			first = r;
			if (err)
				*err = e2;
		}
	}
	kc_str_free(&out);
	return first;
}

static int fw_add_ports(struct rt_podnet *pn, const char *uid, const struct net_ip *pod_ip,
			const struct rt_pod_port *ports, size_t n, struct kc_err *err)
{
	char comment[RT_NETNS_NAME_MAX + 8], ipb[64];
	snprintf(comment, sizeof comment, "kc:%s", uid);
	net_ip_format(pod_ip, ipb, sizeof ipb);
	for (size_t i = 0; i < n; i++) {
		const struct rt_pod_port *p = &ports[i];
		if (!p->host_port)
			continue;
		char hp[8], to[80], dst[64];
		snprintf(hp, sizeof hp, "%u", p->host_port);
		snprintf(to, sizeof to, "%s:%u", ipb,
			 p->container_port ? p->container_port : p->host_port);
		int rc;
		if (p->host_ip.family) {
			net_ip_format(&p->host_ip, dst, sizeof dst);
			rc = FW(pn, NULL, err, "-t", "nat", "-A", CHAIN_HOSTPORTS, "-d", dst, "-p",
				proto_name(p->protocol), "-m", proto_name(p->protocol), "--dport",
				hp, "-m", "comment", "--comment", comment, "-j", "DNAT",
				"--to-destination", to);
		} else {
			rc = FW(pn, NULL, err, "-t", "nat", "-A", CHAIN_HOSTPORTS, "-p",
				proto_name(p->protocol), "-m", proto_name(p->protocol), "--dport",
				hp, "-m", "comment", "--comment", comment, "-j", "DNAT",
				"--to-destination", to);
		}
		if (rc)
			return kc_err_wrap(err, "hostPort %u/%s", p->host_port,
					   proto_name(p->protocol));
	}
	return 0;
}

static int ensure_bridge(struct rt_podnet *pn, struct kc_err *err)
{
	struct nl_link l;
	int rc = nl_link_get(pn->nl, pn->bridge, &l, err);
	if (rc == -ENODEV) {
		rc = nl_link_add_bridge(pn->nl, pn->bridge, pn->mtu, err);
		if (rc && rc != -EEXIST)
			return rc;
		rc = nl_link_get(pn->nl, pn->bridge, &l, err);
	}
	if (rc)
		return rc;
	if (strcmp(l.kind, "bridge") != 0)
		return kc_err_set(err, -KC_ECONFLICT, "%s exists and is not a bridge (%s)",
				  pn->bridge, l.kind[0] ? l.kind : "unknown kind");
	pn->bridge_index = l.ifindex;
	/* A bridge without an address of its own takes the lowest of its ports' MACs, so every
	 * pod added or deleted could change it and leave the other pods' ARP entry for the
	 * gateway stale for seconds. A fixed, locally administered one ("kc" + the gateway's last
	 * three bytes) never changes. */
	uint8_t mac[6] = {
		0x02, 0x6b, 0x63, pn->gateway.bytes[1], pn->gateway.bytes[2], pn->gateway.bytes[3]};
	if ((!l.has_mac || memcmp(l.mac, mac, 6) != 0) &&
	    (rc = nl_link_set_mac(pn->nl, l.ifindex, mac, err)))
		return rc;
	if (l.mtu != pn->mtu && (rc = nl_link_set_mtu(pn->nl, l.ifindex, pn->mtu, err)))
		return rc;
	/* exactly one IPv4 address: the gateway of the current podCIDR */
	struct nl_addr *addrs;
	size_t n;
	if ((rc = nl_addr_list(pn->nl, AF_INET, &addrs, &n, err)))
		return rc;
	bool have = false;
	for (size_t i = 0; i < n && !rc; i++) {
		if (addrs[i].ifindex != l.ifindex)
			continue;
		if (net_ip_equal(&addrs[i].ip, &pn->gateway) &&
		    addrs[i].prefix == pn->pod_cidr.prefix)
			have = true;
		else
			rc = nl_addr_del(pn->nl, l.ifindex, &addrs[i].ip, addrs[i].prefix, err);
	}
	free(addrs);
	if (rc)
		return rc;
	if (!have &&
	    (rc = nl_addr_add(pn->nl, l.ifindex, &pn->gateway, pn->pod_cidr.prefix, err)) &&
	    rc != -EEXIST)
		return rc;
	return nl_link_set_up(pn->nl, l.ifindex, true, err);
}

int rt_podnet_open(const struct rt_podnet_config *cfg, struct rt_podnet **out, struct kc_err *err)
{
	*out = NULL;
	if (!cfg->data_dir || !cfg->data_dir[0])
		return kc_err_set(err, -KC_EINVAL, "pod network: no data directory");
	const char *bridge = cfg->bridge ? cfg->bridge : RT_PODNET_BRIDGE;
	if (strlen(bridge) == 0 || strlen(bridge) >= IFNAMSIZ)
		return kc_err_set(err, -KC_EINVAL, "bad bridge name '%s'", bridge);
	struct rt_podnet *pn = xcalloc(1, sizeof *pn);
	pthread_mutex_init(&pn->mu, NULL);
	snprintf(pn->bridge, sizeof pn->bridge, "%s", bridge);
	pn->pod_cidr = cfg->pod_cidr;
	pn->cluster_cidr = cfg->cluster_cidr;
	pn->mtu = cfg->mtu ? cfg->mtu : RT_PODNET_DEFAULT_MTU;
	pn->firewall = cfg->firewall;
	pn->iptables = xstrdup(cfg->iptables ? cfg->iptables : "iptables");
	pn->exec = cfg->exec ? cfg->exec : exec_real;
	pn->exec_ctx = cfg->exec_ctx;
	pn->netns_dir = xasprintf("%s/netns", cfg->data_dir);
	pn->hostport_dir = xasprintf("%s/hostports", cfg->data_dir);
	char *ipam_dir = xasprintf("%s/ipam", cfg->data_dir);
	int rc = rt_ipam_open(ipam_dir, &cfg->pod_cidr, &pn->ipam, err);
	free(ipam_dir);
	if (rc)
		goto fail;
	if (pn->cluster_cidr.ip.family &&
	    (pn->cluster_cidr.ip.family != AF_INET ||
	     !net_cidr_contains(&pn->cluster_cidr, &pn->pod_cidr.ip))) {
		rc = kc_err_set(err, -KC_EINVAL, "pod CIDR is not inside the cluster CIDR");
		goto fail;
	}
	net_cidr_nth(&pn->pod_cidr, 1, &pn->gateway);
	if ((rc = kc_mkdir_p_err(pn->hostport_dir, 0700, err)) ||
	    (rc = rt_netns_dir_prepare(pn->netns_dir, err)) || (rc = nl_open(&pn->nl, err)) ||
	    (rc = ensure_bridge(pn, err)) ||
	    (rc = nl_sysctl_write("net.ipv4.ip_forward", "1", err)))
		goto fail;
	if (pn->firewall) {
		struct kc_str v = KC_STR_INIT;
		rc = fw(pn, &v, err, (const char *const[]){"--version", NULL});
		kc_str_free(&v);
		if (rc) {
			rc = kc_err_set(err, -KC_EUNSUPPORTED,
					"hostPort/masquerade need iptables: %s",
					err ? err->msg : "");
			goto fail;
		}
		if ((rc = fw_setup_node(pn, err)))
			goto fail;
	}
	*out = pn;
	return 0;
fail:
	rt_podnet_close(pn);
	return rc;
}

void rt_podnet_close(struct rt_podnet *pn)
{
	if (!pn)
		return;
	nl_close(pn->nl);
	rt_ipam_close(pn->ipam);
	free(pn->netns_dir);
	free(pn->hostport_dir);
	free(pn->iptables);
	pthread_mutex_destroy(&pn->mu);
	free(pn);
}

static void fill_out(struct rt_podnet *pn, const char *uid, const struct net_ip *ip,
		     struct rt_pod_net *out)
{
	memset(out, 0, sizeof *out);
	out->ip = *ip;
	out->gateway = pn->gateway;
	out->prefix = pn->pod_cidr.prefix;
	snprintf(out->netns_path, sizeof out->netns_path, "%s/%s", pn->netns_dir, uid);
	rt_podnet_veth_name(uid, out->host_veth, sizeof out->host_veth);
}

struct pod_side {
	struct net_ip ip;
	unsigned prefix;
	struct net_ip gateway;
};

/* Runs inside the pod namespace (helper thread): eth0 address, up, default route. */
static int pod_side_fn(void *arg, struct kc_err *err)
{
	const struct pod_side *ps = arg;
	struct nl_sock *nl;
	int rc = nl_open(&nl, err);
	if (rc)
		return rc;
	struct nl_link eth0;
	rc = nl_link_get(nl, "eth0", &eth0, err);
	if (!rc && (rc = nl_addr_add(nl, eth0.ifindex, &ps->ip, ps->prefix, err)) == -EEXIST)
		rc = 0;
	if (!rc)
		rc = nl_link_set_up(nl, eth0.ifindex, true, err);
	if (!rc) {
		struct nl_route r = {
			.dst = {.ip = {.family = AF_INET}}, .gw = ps->gateway, .oif = eth0.ifindex};
		rc = nl_route_change(nl, NL_ROUTE_REPLACE, &r, err);
	}
	nl_close(nl);
	return rc;
}

static int teardown_locked(struct rt_podnet *pn, const char *uid, struct kc_err *err);

static bool hostport_record(struct rt_podnet *pn, const char *uid, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", pn->hostport_dir, uid);
	return access(path, F_OK) == 0;
}

static int setup_locked(struct rt_podnet *pn, const char *uid, const struct rt_pod_port *ports,
			size_t nports, struct rt_pod_net *out, struct kc_err *err)
{
	size_t nhost = 0;
	for (size_t i = 0; i < nports; i++)
		nhost += ports[i].host_port != 0;
	if (nhost && !pn->firewall)
		return kc_err_set(err, -KC_EUNSUPPORTED,
				  "hostPort needs the firewall (iptables) which this node lacks");
	char veth[IFNAMSIZ], rec[PATH_MAX];
	rt_podnet_veth_name(uid, veth, sizeof veth);
	struct net_ip ip;
	struct nl_link l;
	/* complete already? (a restart adopting its pods, or a retried call) */
	if (rt_ipam_lookup(pn->ipam, uid, &ip) == 0 && rt_netns_exists(pn->netns_dir, uid) &&
	    nl_link_get(pn->nl, veth, &l, NULL) == 0 && l.master == pn->bridge_index &&
	    (l.flags & IFF_UP) && (nhost == 0) == !hostport_record(pn, uid, rec, sizeof rec)) {
		fill_out(pn, uid, &ip, out);
		return 0;
	}
	/* a half-built network is rebuilt from nothing, keeping its address */
	int rc = rt_ipam_alloc(pn->ipam, uid, &ip, err);
	if (rc)
		return rc;
	int nsfd = -1;
	if ((rc = rt_netns_open(pn->netns_dir, uid, &nsfd, NULL))) {
		if ((rc = rt_netns_delete(pn->netns_dir, uid, err)) ||
		    (rc = rt_netns_create(pn->netns_dir, uid, err)) ||
		    (rc = rt_netns_open(pn->netns_dir, uid, &nsfd, err)))
			goto fail;
	}
	if (nl_link_get(pn->nl, veth, &l, NULL) == 0 &&
	    (rc = nl_link_del(pn->nl, l.ifindex, err)) && rc != -ENODEV)
		goto fail;
	if ((rc = nl_link_add_veth(pn->nl, veth, "eth0", nsfd, pn->mtu, err)) ||
	    (rc = nl_link_get(pn->nl, veth, &l, err)) ||
	    (rc = nl_link_set_master(pn->nl, l.ifindex, pn->bridge_index, err)) ||
	    (rc = nl_link_set_hairpin(pn->nl, l.ifindex, true, err)) ||
	    (rc = nl_link_set_up(pn->nl, l.ifindex, true, err)))
		goto fail;
	struct pod_side ps = {.ip = ip, .prefix = pn->pod_cidr.prefix, .gateway = pn->gateway};
	if ((rc = nl_run_in_netns(nsfd, pod_side_fn, &ps, err))) {
		kc_err_wrap(err, "pod side");
		goto fail;
	}
	if (nhost) {
		/* the record first: no rule may exist without one */
		hostport_record(pn, uid, rec, sizeof rec);
		int fd = open(rec, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = kc_err_set(err, -errno, "create %s: %s", rec, strerror(errno));
			goto fail;
		}
		close(fd);
		if ((rc = fw_delete_rules(pn, uid, NULL, err)) ||
		    (rc = fw_add_ports(pn, uid, &ip, ports, nports, err)))
			goto fail;
	}
	close(nsfd);
	fill_out(pn, uid, &ip, out);
	return 0;
fail:
	if (nsfd >= 0)
		close(nsfd);
	teardown_locked(pn, uid, NULL);
	return kc_err_wrap(err, "pod %s network", uid);
}

int rt_podnet_setup(struct rt_podnet *pn, const char *pod_uid, const struct rt_pod_port *ports,
		    size_t nports, struct rt_pod_net *out, struct kc_err *err)
{
	if (!rt_netns_name_ok(pod_uid) || strlen(pod_uid) > IPAM_OWNER_MAX)
		return kc_err_set(err, -KC_EINVAL, "bad pod uid '%s'", pod_uid);
	pthread_mutex_lock(&pn->mu);
	int rc = setup_locked(pn, pod_uid, ports, nports, out, err);
	pthread_mutex_unlock(&pn->mu);
	return rc;
}

int rt_podnet_status(struct rt_podnet *pn, const char *pod_uid, struct rt_pod_net *out)
{
	if (!rt_netns_name_ok(pod_uid))
		return -KC_ENOTFOUND;
	pthread_mutex_lock(&pn->mu);
	struct net_ip ip;
	int rc = rt_ipam_lookup(pn->ipam, pod_uid, &ip);
	if (rc == 0 && !rt_netns_exists(pn->netns_dir, pod_uid))
		rc = -KC_ENOTFOUND;
	if (rc == 0)
		fill_out(pn, pod_uid, &ip, out);
	pthread_mutex_unlock(&pn->mu);
	return rc;
}

/* Tries every step; returns the first error. */
static int teardown_locked(struct rt_podnet *pn, const char *uid, struct kc_err *err)
{
	int first = 0, rc;
	struct kc_err e = {0};
	char veth[IFNAMSIZ], rec[PATH_MAX];
	if (hostport_record(pn, uid, rec, sizeof rec)) {
		if (pn->firewall && (rc = fw_delete_rules(pn, uid, NULL, &e)) && !first) {
			first = rc;
			if (err)
				*err = e;
		}
		if (!first || !pn->firewall)
			unlink(rec); /* kept when the rules may remain, for the next try */
	}
	rt_podnet_veth_name(uid, veth, sizeof veth);
	struct nl_link l;
	if (nl_link_get(pn->nl, veth, &l, NULL) == 0 && (rc = nl_link_del(pn->nl, l.ifindex, &e)) &&
	    rc != -ENODEV && !first) {
		first = rc;
		if (err)
			*err = e;
	}
	if ((rc = rt_netns_delete(pn->netns_dir, uid, &e)) && !first) {
		first = rc;
		if (err)
			*err = e;
	}
	if ((rc = rt_ipam_release(pn->ipam, uid, &e)) && !first) {
		first = rc;
		if (err)
			*err = e;
	}
	return first;
}

int rt_podnet_teardown(struct rt_podnet *pn, const char *pod_uid, struct kc_err *err)
{
	if (!rt_netns_name_ok(pod_uid))
		return kc_err_set(err, -KC_EINVAL, "bad pod uid '%s'", pod_uid);
	pthread_mutex_lock(&pn->mu);
	int rc = teardown_locked(pn, pod_uid, err);
	pthread_mutex_unlock(&pn->mu);
	return rc;
}

struct gc_acc {
	struct kc_map *cands;  /* uid -> 1 */
	struct kc_vec unknown; /* struct net_ip of files without a readable owner */
};

static void gc_ipam_cb(const struct net_ip *ip, const char *owner, void *arg)
{
	struct gc_acc *g = arg;
	if (owner[0])
		kc_map_sput(g->cands, owner, (void *)1);
	else
		kc_vec_push(&g->unknown, ip);
}

int rt_podnet_cleanup(struct rt_podnet *pn, const char *const *live, size_t n, size_t *removed,
		      struct kc_err *err)
{
	struct kc_map lv, cands, keep_veth;
	kc_map_init(&lv, NULL);
	kc_map_init(&cands, NULL);
	kc_map_init(&keep_veth, NULL);
	int first = 0, rc;
	struct kc_err e = {0};
	size_t count = 0;
	pthread_mutex_lock(&pn->mu);
	for (size_t i = 0; i < n; i++) {
		/* a live pod whose namespace is gone cannot be working: rebuild it from nothing */
		if (!rt_netns_exists(pn->netns_dir, live[i])) {
			kc_map_sput(&cands, live[i], (void *)1);
			continue;
		}
		kc_map_sput(&lv, live[i], (void *)1);
		char veth[IFNAMSIZ];
		rt_podnet_veth_name(live[i], veth, sizeof veth);
		kc_map_sput(&keep_veth, veth, (void *)1);
	}
	/* candidates: every uid any of the four stores knows */
	char **names;
	size_t nn;
	if ((rc = rt_netns_list(pn->netns_dir, &names, &nn, &e)) == 0) {
		for (size_t i = 0; i < nn; i++)
			kc_map_sput(&cands, names[i], (void *)1);
		rt_netns_list_free(names, nn);
	} else if (!first) {
		first = rc;
		if (err)
			*err = e;
	}
	struct gc_acc g = {.cands = &cands};
	kc_vec_init(&g.unknown, sizeof(struct net_ip));
	rt_ipam_foreach(pn->ipam, gc_ipam_cb, &g);
	DIR *d = opendir(pn->hostport_dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (rt_netns_name_ok(de->d_name))
				kc_map_sput(&cands, de->d_name, (void *)1);
		closedir(d);
	}
	size_t pos = 0;
	const void *key;
	size_t klen;
	while (kc_map_next(&cands, &pos, &key, &klen, NULL)) {
		char uid[RT_NETNS_NAME_MAX + 1];
		if (klen > RT_NETNS_NAME_MAX)
			continue;
		memcpy(uid, key, klen);
		uid[klen] = '\0';
		if (kc_map_sget(&lv, uid))
			continue;
		if ((rc = teardown_locked(pn, uid, &e)) && !first) {
			first = rc;
			if (err)
				*err = e;
		}
		count++;
	}
	for (size_t i = 0; i < g.unknown.len; i++) {
		struct net_ip *ip = kc_vec_at(&g.unknown, i);
		uint32_t off = ipam_off(pn->ipam, ip);
		if ((rc = ipam_release_off(pn->ipam, off, &e)) && !first) {
			first = rc;
			if (err)
				*err = e;
		}
	}
	kc_vec_free(&g.unknown);
	/* veths of kc's naming whose pod is unknown (the uid is gone from every store) */
	struct nl_link *links;
	size_t nl;
	if ((rc = nl_link_list(pn->nl, &links, &nl, &e)) == 0) {
		for (size_t i = 0; i < nl; i++) {
			if (!kc_has_prefix(links[i].name, RT_PODNET_VETH_PREFIX) ||
			    strlen(links[i].name) != 15 || strcmp(links[i].kind, "veth") != 0 ||
			    kc_map_sget(&keep_veth, links[i].name))
				continue;
			if ((rc = nl_link_del(pn->nl, links[i].ifindex, &e)) && rc != -ENODEV &&
			    !first) {
				first = rc;
				if (err)
					*err = e;
			}
		}
		free(links);
	} else if (!first) {
		first = rc;
		if (err)
			*err = e;
	}
	if (pn->firewall && (rc = fw_delete_rules(pn, NULL, &lv, &e)) && !first) {
		first = rc;
		if (err)
			*err = e;
	}
	pthread_mutex_unlock(&pn->mu);
	kc_map_free(&lv);
	kc_map_free(&cands);
	kc_map_free(&keep_veth);
	if (removed)
		*removed = count;
	return first;
}

int rt_podnet_sync_routes(struct rt_podnet *pn, const struct rt_podnet_peer *peers, size_t n,
			  size_t *changed, struct kc_err *err)
{
	size_t count = 0;
	pthread_mutex_lock(&pn->mu);
	struct nl_route *routes;
	size_t nr;
	int rc = nl_route_list(pn->nl, AF_INET, &routes, &nr, err);
	if (rc) {
		pthread_mutex_unlock(&pn->mu);
		return rc;
	}
	int first = 0;
	struct kc_err e = {0};
	for (size_t i = 0; i < n; i++) {
		const struct rt_podnet_peer *p = &peers[i];
		if (p->pod_cidr.ip.family != AF_INET || p->node_ip.family != AF_INET ||
		    net_cidr_overlaps(&p->pod_cidr, &pn->pod_cidr))
			continue;
		bool same = false;
		for (size_t j = 0; j < nr && !same; j++)
			same = routes[j].protocol == NL_RTPROT_KC &&
			       net_ip_equal(&routes[j].dst.ip, &p->pod_cidr.ip) &&
			       routes[j].dst.prefix == p->pod_cidr.prefix &&
			       net_ip_equal(&routes[j].gw, &p->node_ip);
		if (same)
			continue;
		struct nl_route r = {
			.dst = p->pod_cidr, .gw = p->node_ip, .protocol = NL_RTPROT_KC};
		if ((rc = nl_route_change(pn->nl, NL_ROUTE_REPLACE, &r, &e)) && !first) {
			first = rc;
			if (err)
				*err = e;
		}
		count += rc == 0;
	}
	for (size_t j = 0; j < nr; j++) {
		if (routes[j].protocol != NL_RTPROT_KC)
			continue;
		bool wanted = false;
		for (size_t i = 0; i < n && !wanted; i++)
			wanted = peers[i].pod_cidr.ip.family == AF_INET &&
				 peers[i].node_ip.family == AF_INET &&
				 !net_cidr_overlaps(&peers[i].pod_cidr, &pn->pod_cidr) &&
				 net_ip_equal(&routes[j].dst.ip, &peers[i].pod_cidr.ip) &&
				 routes[j].dst.prefix == peers[i].pod_cidr.prefix;
		if (wanted)
			continue;
		if ((rc = nl_route_change(pn->nl, NL_ROUTE_DEL, &routes[j], &e)) && rc != -ESRCH &&
		    !first) {
			first = rc;
			if (err)
				*err = e;
		}
		count += rc == 0;
	}
	free(routes);
	pthread_mutex_unlock(&pn->mu);
	if (changed)
		*changed = count;
	return first;
}

int rt_podnet_destroy_node(struct rt_podnet *pn, struct kc_err *err)
{
	size_t dummy;
	int rc = rt_podnet_sync_routes(pn, NULL, 0, &dummy, err);
	pthread_mutex_lock(&pn->mu);
	struct nl_link l;
	int r2;
	if (nl_link_get(pn->nl, pn->bridge, &l, NULL) == 0 &&
	    (r2 = nl_link_del(pn->nl, l.ifindex, err)) && r2 != -ENODEV && !rc)
		rc = r2;
	if (pn->firewall) {
		static const char *const jumps[][3] = {
			{"nat", "PREROUTING", CHAIN_HOSTPORTS},
			{"nat", "OUTPUT", CHAIN_HOSTPORTS},
			{"nat", "POSTROUTING", CHAIN_POSTROUTING},
			{"filter", "FORWARD", CHAIN_FORWARD},
		};
		for (size_t i = 0; i < sizeof jumps / sizeof jumps[0]; i++) {
			const char *t = jumps[i][0], *p = jumps[i][1], *c = jumps[i][2];
			if (strcmp(c, CHAIN_HOSTPORTS) == 0)
				FW(pn, NULL, NULL, "-t", t, "-D", p, "-m", "addrtype", "--dst-type",
				   "LOCAL", "-m", "comment", "--comment", "kc", "-j", c);
			else
				FW(pn, NULL, NULL, "-t", t, "-D", p, "-m", "comment", "--comment",
				   "kc", "-j", c);
		}
		static const char *const chains[][2] = {
			{"nat", CHAIN_HOSTPORTS},
			{"nat", CHAIN_POSTROUTING},
			{"filter", CHAIN_FORWARD},
		};
		for (size_t i = 0; i < sizeof chains / sizeof chains[0]; i++) {
			FW(pn, NULL, NULL, "-t", chains[i][0], "-F", chains[i][1]);
			FW(pn, NULL, NULL, "-t", chains[i][0], "-X", chains[i][1]);
		}
	}
	pthread_mutex_unlock(&pn->mu);
	return rc;
}
