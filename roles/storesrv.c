/* DESIGN: the store member runs on its own thread (store/store.c); this file adds one loop
 * thread for the client API: an http_server whose router holds the etcd gateway, whose
 * completions the store posts back to this loop. Peer traffic between members is plain HTTP with
 * --plain-http, else mutual TLS: every member holds the cluster CA (the first one made it, the
 * others fetched it with the join token, roles/pki.c) and a peer certificate of its own, and
 * serves the CA bootstrap (/kc/bootstrap/ on its peer port) to members that join later, and on
 * its client port to masters that use this store remotely (--store-endpoints). */
#include "roles/storesrv.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/router.h"
#include "net/tls.h"
#include "roles/server.h"
#include "store/gateway.h"
#include "store/store.h"

#define STOP_GRACE_MS 2000

struct storesrv {
	struct store *store;
	struct loop *loop;
	struct router *router;
	struct gateway *gw;
	struct http_server *http;
	struct tls_server_config *tls;
	/* peer mutual TLS and the CA bootstrap (NULL with --plain-http) */
	struct tls_server_config *peer_tls_server;
	struct tls_client_config *peer_tls_client;
	struct kc_pki_bootstrap *bootstrap;
	pthread_t thread;
	bool running;
};

static struct transport *wrap_tls(void *arg, int fd)
{
	return tls_server_wrap(arg, fd);
}

static bool has_group(const char *groups, const char *g)
{
	size_t n = strlen(g);
	for (const char *p = groups; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !memcmp(p, g, n))
			return true;
		p = e ? e + 1 : p + len;
	}
	return false;
}

/* With TLS the store's keys are for the cluster's control plane only, as etcd with
 * --client-cert-auth: a client certificate of the cluster CA whose O is system:masters (the
 * API server's on a remote store, `kc store`'s admin one) or a store member's. A node's
 * certificate (system:nodes, same CA) is refused: a worker must not reach around the API
 * server's authorization. The CA bootstrap under /kc/ checks its own token. */
static void serve_guarded(struct http_req *req, void *router)
{
	if (strncmp(req->path, "/kc/", 4) != 0 &&
	    !(req->peer_verified && (has_group(req->peer_groups, "system:masters") ||
				     has_group(req->peer_groups, KC_PKI_PEER_GROUP)))) {
		static const char unauth[] =
			"{\"error\":\"etcdserver: a client certificate of the cluster CA with "
			"O=system:masters is required\",\"message\":\"etcdserver: a client certificate "
			"of the cluster CA with O=system:masters is required\",\"code\":16}";
		http_respond(req, req->peer_verified ? 403 : 401, "application/json", unauth,
			     sizeof unauth - 1);
		return;
	}
	router_serve(req, router);
}

/* The CA bootstrap on the client port too, for a master on a remote store (roles/pki.h). */
static void serve_bootstrap(struct http_req *req, void *arg)
{
	kc_pki_bootstrap_serve(arg, req);
}

static void *run(void *arg)
{
	struct storesrv *s = arg;
	int rc = loop_run(s->loop);
	if (rc < 0)
		log_error("store API loop failed err=%s", kc_strerror(rc));
	return NULL;
}

static void shutdown_done(struct http_server *h, void *arg)
{
	(void)h;
	loop_stop(((struct storesrv *)arg)->loop);
}

static void begin_shutdown(struct loop *l, void *arg)
{
	struct storesrv *s = arg;
	(void)l;
	http_server_shutdown(s->http, STOP_GRACE_MS, shutdown_done, s);
}

/* Mutual TLS between members with the peer certificate; the CA bootstrap for joiners. */
static int peer_tls(struct storesrv *s, const struct kc_pki *pki, struct kc_err *err)
{
	if (!pki->peer || !pki->peer_key)
		return kc_err_set(err, -KC_EINVAL, "no store peer certificate in DATA/tls");
	struct tls_server_opts so = {
		.chain = pki->peer, .key = pki->peer_key, .client_ca = pki->ca,
		.client_auth = TLS_CLIENT_AUTH_OPTIONAL, /* the bootstrap has none yet */
	};
	struct tls_client_opts co = {.ca = pki->ca, .cert = pki->peer, .key = pki->peer_key};
	int rc = tls_server_config_new(&so, &s->peer_tls_server, err);
	if (rc == 0)
		rc = tls_client_config_new(&co, &s->peer_tls_client, err);
	if (rc < 0)
		return kc_err_wrap(err, "store peer TLS");
	s->bootstrap = kc_pki_bootstrap_new(pki);
	return 0;
}

/* A removed member stops, as etcd's does; its data dir then refuses to start (store_open). */
static void on_removed(void *arg)
{
	(void)arg;
	kc_server_fail("this store member was removed from the cluster");
}

int storesrv_start(const struct kc_server_config *cfg, const struct kc_pki *pki,
		   struct storesrv **out, struct kc_err *err)
{
	struct storesrv *s = xcalloc(1, sizeof *s);
	struct store_peer peers[KC_MAX_STORE_PEERS];
	char bind[64], adv[64], peer_url[128], client_url[128];
	const char *scheme = cfg->plain_http ? "http" : "https";
	int rc;

	net_ip_format(&cfg->bind_address, bind, sizeof bind);
	net_ip_format(&cfg->advertise_address, adv, sizeof adv);
	bool v6 = cfg->advertise_address.family == AF_INET6;
	snprintf(peer_url, sizeof peer_url, "%s://%s%s%s:%u", scheme, v6 ? "[" : "", adv, v6 ? "]" : "",
		 cfg->peer_port);
	snprintf(client_url, sizeof client_url, "%s://%s%s%s:%u", scheme, v6 ? "[" : "", adv,
		 v6 ? "]" : "", cfg->store_port);
	for (unsigned i = 0; i < cfg->nstore_peers; i++) {
		peers[i].name = cfg->store_peers[i].name;
		peers[i].peer_url = cfg->store_peers[i].url;
		if (strcmp(peers[i].name, cfg->node_name) == 0)
			snprintf(peer_url, sizeof peer_url, "%s", peers[i].peer_url);
	}
	if (!cfg->plain_http && (rc = peer_tls(s, pki, err)) < 0)
		goto fail;
	struct store_config sc = {
		.data_dir = cfg->data_dir,
		.name = cfg->node_name,
		.initial = cfg->nstore_peers ? peers : NULL,
		.n_initial = cfg->nstore_peers,
		.join_existing = cfg->store_join[0] != '\0',
		.join_url = cfg->store_join,
		.peer_listen_addr = bind,
		/* always: a single member must serve peers so that members can be added */
		.peer_listen_port = cfg->peer_port,
		.advertise_peer_url = peer_url,
		.advertise_client_url = client_url,
		.peer_tls_server = s->peer_tls_server,
		.peer_tls_client = s->peer_tls_client,
		.peer_require_group = KC_PKI_PEER_GROUP,
		.peer_extra = s->bootstrap ? kc_pki_bootstrap_serve : NULL,
		.peer_extra_arg = s->bootstrap,
		.compact_keep_ms = 5 * 60 * 1000, /* kube-apiserver compacts every 5 minutes */
		/* the Raft log is the durable record; see store.c "Durability" */
		.mvcc_sync = MVCC_SYNC_NORMAL,
		.on_removed = on_removed,
	};
	rc = store_open(&sc, &s->store, err);
	if (rc < 0) {
		kc_err_wrap(err, "store");
		goto fail;
	}

	s->loop = loop_new(NULL);
	if (!s->loop) {
		rc = kc_err_set(err, -errno, "cannot create an event loop: %s", strerror(errno));
		goto fail;
	}
	s->router = router_new();
	struct gateway_backend be;
	gateway_backend_store(s->store, &be);
	rc = gateway_register(s->router, &be, &s->gw, err);
	if (rc == 0 && s->bootstrap)
		rc = router_add(s->router, "GET", "/kc/bootstrap/{file}", serve_bootstrap, s->bootstrap,
				err);
	if (rc < 0)
		goto fail;
	struct http_server_config hc = {
		.addr = bind, .port = cfg->store_port, .handler = router_serve,
		.handler_arg = s->router,
	};
	if (!cfg->plain_http) {
		struct tls_server_opts topts = {
			.chain = pki->server, .key = pki->server_key, .client_ca = pki->ca,
			.client_auth = TLS_CLIENT_AUTH_OPTIONAL,
		};
		rc = tls_server_config_new(&topts, &s->tls, err);
		if (rc < 0)
			goto fail;
		hc.wrap = wrap_tls;
		hc.wrap_arg = s->tls;
		hc.handler = serve_guarded;
	}
	rc = http_server_open(s->loop, &hc, &s->http, err);
	if (rc < 0) {
		kc_err_wrap(err, "store API on %s:%u", bind, cfg->store_port);
		goto fail;
	}
	if (pthread_create(&s->thread, NULL, run, s) != 0) {
		rc = kc_err_set(err, -EAGAIN, "cannot start the store API thread");
		goto fail;
	}
	s->running = true;
	log_info("store serving client-url=%s peer-url=%s members=%u", client_url, peer_url,
		 cfg->nstore_peers ? cfg->nstore_peers : 1);
	*out = s;
	return 0;
fail:
	storesrv_stop(s);
	return rc;
}

struct store *storesrv_store(const struct storesrv *s)
{
	return s ? s->store : NULL;
}

void storesrv_stop(struct storesrv *s)
{
	if (!s)
		return;
	if (s->running) {
		loop_call(s->loop, begin_shutdown, s);
		pthread_join(s->thread, NULL);
	}
	http_server_close(s->http);
	gateway_free(s->gw);
	router_free(s->router);
	/* The store goes last: the gateway's pending completions target the loop above. */
	store_close(s->store);
	loop_free(s->loop);
	tls_server_config_free(s->tls);
	tls_server_config_free(s->peer_tls_server);
	tls_client_config_free(s->peer_tls_client);
	kc_pki_bootstrap_free(s->bootstrap);
	free(s);
}
