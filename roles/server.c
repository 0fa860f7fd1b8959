/* DESIGN: `kc server` is a list of subsystems, each with start/stop and the roles it belongs to.
 * The main thread blocks the stop signals before any thread exists (so every thread inherits the
 * mask and only the main thread sees them), starts the subsystems in table order, then waits in
 * sigwaitinfo(). On SIGTERM/SIGINT it stops the started subsystems in reverse order; a second
 * signal during the stop exits at once. A failed start stops what already started and exits 2. */
#include "roles/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kc_version.h"
#include "lib/log.h"
#include "roles/apiserver/apiserver.h"
#include "roles/kubelet/kubelet.h"
#include "roles/controllers/controllers.h"
#include "roles/pki.h"
#include "roles/scheduler/scheduler.h"
#include "roles/storesrv.h"
#include "net/tls.h"
#include "store/kv.h"
#include "store/remote.h"

struct kc_server {
	const struct kc_server_config *cfg;
	int lock_fd;
	struct kc_pki pki;
	struct apiserver *api;
	struct kv kv;                 /* what the API server stores through */
	struct kv_remote *remote;     /* --store-endpoints */
	struct tls_client_config *remote_tls;
	struct storesrv *store;
	struct ctrlmgr *ctrlmgr;
	struct scheduler *scheduler;
	struct kubelet *kubelet;
};

struct subsystem {
	const char *name;
	unsigned roles;   /* started when the configured roles intersect this mask */
	int (*start)(struct kc_server *s, struct kc_err *err);
	void (*stop)(struct kc_server *s);
};

/* The data dir is one node's: a second kc on the same dir would corrupt the store. */
static int data_dir_start(struct kc_server *s, struct kc_err *err)
{
	int rc = kc_config_prepare_data_dir(s->cfg, err);
	if (rc < 0)
		return rc;
	char path[sizeof s->cfg->data_dir + 16];
	snprintf(path, sizeof path, "%s/kc.lock", s->cfg->data_dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return kc_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(s->lock_fd);
		s->lock_fd = -1;
		if (e == EWOULDBLOCK)
			return kc_err_set(err, -EBUSY, "data dir %s is in use by another kc process",
					  s->cfg->data_dir);
		return kc_err_set(err, -e, "cannot lock %s: %s", path, strerror(e));
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(s->lock_fd, 0) < 0 || write(s->lock_fd, pid, (size_t)n) != n)
		log_warn("cannot record pid file=%s err=%s", path, strerror(errno));
	return 0;
}

static void data_dir_stop(struct kc_server *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
}

static int pki_start(struct kc_server *s, struct kc_err *err)
{
	return kc_pki_ensure(s->cfg, (int64_t)time(NULL), &s->pki, err);
}

static void pki_stop(struct kc_server *s)
{
	kc_pki_free(&s->pki);
}

static void api_stop(struct kc_server *s);

/* --store-endpoints: the store cluster over the etcd gateway. With https endpoints the master
 * verifies the members against the cluster CA and presents the admin client certificate. */
static int remote_start(struct kc_server *s, struct kc_err *err)
{
	int rc;
	if (!s->cfg->plain_http && strstr(s->cfg->store_endpoints, "http://"))
		return kc_err_set(err, -KC_EINVAL, "--store-endpoints has a plain http:// URL: "
				  "use https, or --plain-http to allow unencrypted store traffic");
	if (!s->cfg->plain_http || strstr(s->cfg->store_endpoints, "https://")) {
		struct tls_client_opts o = { .ca = s->pki.ca, .cert = s->pki.admin,
					     .key = s->pki.admin_key };
		if ((rc = tls_client_config_new(&o, &s->remote_tls, err)) < 0)
			return kc_err_wrap(err, "store client TLS");
	}
	struct kv_remote_config rc_ = { .endpoints = s->cfg->store_endpoints,
					.tls = s->remote_tls };
	if ((rc = kv_remote_open(&rc_, &s->remote, err)) < 0)
		return kc_err_wrap(err, "--store-endpoints");
	kv_remote_kv(s->remote, &s->kv);
	/* the API server creates its default objects right away: wait for a store answer */
	for (int i = 0;; i++) {
		struct kc_err e = { 0 };
		rc = kv_remote_ping(s->remote, &e);
		if (rc == 0)
			break;
		if (e.code == -KC_ETLS)
			return kc_err_set(err, rc, "the store members' certificates are not signed by "
					  "DATA/tls/ca.crt: start the master on a new data dir with --token "
					  "<a store member's DATA/token> to fetch the cluster CA (%s)", e.msg);
		if (i == 30)
			return kc_err_set(err, rc, "the store at %s does not answer: %s",
					  s->cfg->store_endpoints, e.msg);
		log_info("waiting for the store endpoints=%s err=%s", s->cfg->store_endpoints, e.msg);
		sleep(1);
	}
	log_info("using the remote store endpoints=%s", s->cfg->store_endpoints);
	return 0;
}

/* The admin kubeconfig points at the address a local kubectl reaches: loopback unless the API
 * listens on one specific address. */
static int api_start(struct kc_server *s, struct kc_err *err)
{
	struct store *st = storesrv_store(s->store);
	int rc = 0;
	if (st)
		kv_local(st, &s->kv);
	else if (s->cfg->store_endpoints[0])
		rc = remote_start(s, err);
	else
		rc = kc_err_set(err, -KC_EINVAL, "--role=master needs --store-endpoints or a "
				"local store (--role=all)");
	if (rc == 0)
		rc = apiserver_start(s->cfg, &s->pki, &s->kv, &s->api, err);
	if (rc < 0) {
		api_stop(s);
		return rc;
	}
	struct net_ip any4, any6;
	char host[64], url[128];
	net_ip_parse("0.0.0.0", &any4);
	net_ip_parse("::", &any6);
	const struct net_ip *b = &s->cfg->bind_address;
	if (net_ip_equal(b, &any4) || net_ip_equal(b, &any6))
		snprintf(host, sizeof host, "127.0.0.1");
	else if (b->family == AF_INET6)
		snprintf(host, sizeof host, "[%s]", net_ip_format(b, url, sizeof url));
	else
		net_ip_format(b, host, sizeof host);
	snprintf(url, sizeof url, "https://%s:%u", host, s->cfg->api_port);
	return kc_pki_write_kubeconfig(s->cfg, &s->pki, url, err);
}

static void api_stop(struct kc_server *s)
{
	apiserver_stop(s->api);
	s->api = NULL;
	/* after the API server: its pending completions were posted to its loops, now gone */
	kv_remote_close(s->remote);
	s->remote = NULL;
	tls_client_config_free(s->remote_tls);
	s->remote_tls = NULL;
}

static int store_start(struct kc_server *s, struct kc_err *err)
{
	return storesrv_start(s->cfg, &s->pki, &s->store, err);
}

static void store_stop(struct kc_server *s)
{
	storesrv_stop(s->store);
	s->store = NULL;
}

/* The URL in-process clients (controller manager, scheduler) use: the local API server over
 * loopback unless it listens on one specific address. */
static void local_api_url(const struct kc_server *s, char *url, size_t cap)
{
	struct net_ip any4, any6;
	char host[64];
	net_ip_parse("0.0.0.0", &any4);
	net_ip_parse("::", &any6);
	const struct net_ip *b = &s->cfg->bind_address;
	if (net_ip_equal(b, &any4) || net_ip_equal(b, &any6)) {
		snprintf(host, sizeof host, "127.0.0.1");
	} else if (b->family == AF_INET6) {
		char ip[48];
		snprintf(host, sizeof host, "[%s]", net_ip_format(b, ip, sizeof ip));
	} else {
		net_ip_format(b, host, sizeof host);
	}
	snprintf(url, cap, "https://%s:%u", host, s->cfg->api_port);
}

static int ctrlmgr_sub_start(struct kc_server *s, struct kc_err *err)
{
	char url[128];
	local_api_url(s, url, sizeof url);
	return ctrlmgr_start(s->cfg, &s->pki, url, &s->ctrlmgr, err);
}

static void ctrlmgr_sub_stop(struct kc_server *s)
{
	ctrlmgr_stop(s->ctrlmgr);
	s->ctrlmgr = NULL;
}

static int scheduler_sub_start(struct kc_server *s, struct kc_err *err)
{
	char url[128];
	local_api_url(s, url, sizeof url);
	return scheduler_start_pki(&s->pki, url, &s->scheduler, err);
}

static void scheduler_sub_stop(struct kc_server *s)
{
	scheduler_stop(s->scheduler);
	s->scheduler = NULL;
}

/* The node agent: with a local master it uses the cluster PKI, else it joins (--server). */
static int kubelet_start_sub(struct kc_server *s, struct kc_err *err)
{
	if (s->cfg->disable_agent) {
		log_info("node agent disabled (--disable-agent)");
		return 0;
	}
	return kubelet_start(s->cfg, (s->cfg->roles & KC_ROLE_MASTER) ? &s->pki : NULL, &s->kubelet,
			     err);
}

static void kubelet_stop_sub(struct kc_server *s)
{
	kubelet_stop(s->kubelet);
	s->kubelet = NULL;
}

static const struct subsystem subsystems[] = {
	{ "data-dir", KC_ROLE_ALL, data_dir_start, data_dir_stop },
	{ "pki", KC_ROLE_STORE | KC_ROLE_MASTER, pki_start, pki_stop },
	{ "store", KC_ROLE_STORE, store_start, store_stop },
	{ "apiserver", KC_ROLE_MASTER, api_start, api_stop },
	{ "controller-manager", KC_ROLE_MASTER, ctrlmgr_sub_start, ctrlmgr_sub_stop },
	{ "scheduler", KC_ROLE_MASTER, scheduler_sub_start, scheduler_sub_stop },
	{ "kubelet", KC_ROLE_WORKER, kubelet_start_sub, kubelet_stop_sub },
};

#define NSUB (sizeof subsystems / sizeof subsystems[0])

static void stop_started(struct kc_server *s, const bool *started)
{
	for (size_t i = NSUB; i-- > 0;) {
		if (!started[i])
			continue;
		log_debug("stopping subsystem=%s", subsystems[i].name);
		subsystems[i].stop(s);
	}
}

static atomic_flag fail_once = ATOMIC_FLAG_INIT;
static char fail_reason[256];

void kc_server_fail(const char *reason)
{
	if (atomic_flag_test_and_set(&fail_once))
		return;
	snprintf(fail_reason, sizeof fail_reason, "%s", reason);
	kill(getpid(), SIGUSR1); /* blocked in every thread: sigwaitinfo below takes it */
}

int kc_server_main(const struct kc_server_config *cfg)
{
	kc_log_set_level(cfg->log_level);
	kc_log_set_format(cfg->log_format);

	sigset_t stopset;
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGHUP);
	sigaddset(&stopset, SIGUSR1); /* kc_server_fail */
	pthread_sigmask(SIG_BLOCK, &stopset, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Watches and kubelets hold many connections: use every descriptor we are allowed. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	struct kc_server s = { .cfg = cfg, .lock_fd = -1 };
	bool started[NSUB] = { false };
	if (cfg->plain_http)
		log_warn("--plain-http: store client and peer traffic is NOT encrypted; use only on loopback or in tests");

	for (size_t i = 0; i < NSUB; i++) {
		if (!(subsystems[i].roles & cfg->roles))
			continue;
		struct kc_err err = { 0 };
		int rc = subsystems[i].start(&s, &err);
		if (rc < 0) {
			/* One line, meant for a person: the cause is in the message. */
			fprintf(stderr, "kc server: %s\n", err.msg[0] ? err.msg : kc_strerror(rc));
			stop_started(&s, started);
			return 2;
		}
		started[i] = true;
		log_debug("started subsystem=%s", subsystems[i].name);
	}
	char addr[64];
	log_info("kc ready version=%s roles=%s node=%s data-dir=%s advertise=%s", KC_VERSION,
		 cfg->role_name, cfg->node_name, cfg->data_dir,
		 net_ip_format(&cfg->advertise_address, addr, sizeof addr));

	siginfo_t si;
	int status = 0;
	for (;;) {
		int sig = sigwaitinfo(&stopset, &si);
		if (sig < 0 && errno == EINTR)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP ignored (configuration is read at start)");
			continue;
		}
		if (sig == SIGUSR1) {
			if (!fail_reason[0])
				continue; /* not ours */
			log_error("stopping: %s", fail_reason);
			status = 1;
			break;
		}
		log_info("stopping signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	/* A second signal while stopping means "now". */
	sigdelset(&stopset, SIGHUP);
	sigdelset(&stopset, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &stopset, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	pthread_sigmask(SIG_BLOCK, &stopset, NULL);
	stop_started(&s, started);
	log_info("kc stopped");
	return status;
}
