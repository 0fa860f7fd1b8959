/* DESIGN: the controller manager owns one thread running one event loop. On that loop: an
 * apiclient to the API server (HTTPS, client certificate "system:kc-controller-manager" in
 * system:masters, issued at start from the cluster CA; nothing is written to disk), the shared
 * informers (one list+watch per resource, shared by every controller that reads it), and the
 * controllers. Start-up happens on the loop thread (posted from ctrlmgr_start); stop frees the
 * apiclient first (every outstanding request and watch ends with -KC_ECLOSED while the
 * controllers still exist), then the controllers, then the informers. */
#include "roles/controllers/controllers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "net/loop.h"
#include "roles/controllers/ctrl_int.h"

struct ctrlmgr {
	pthread_t thread;
	struct loop *loop;
	struct ctrl_ctx ctx;
	struct kc_cert *cert;
	struct kc_key *key;
	struct kc_cert *ca;
	char *server;
	struct deployment_ctrl *deploy;
	struct replicaset_ctrl *rs, *rc;
	struct endpoints_ctrl *ep;
	struct serviceaccount_ctrl *sa;
	struct nodeipam_ctrl *ipam;
	struct nodelifecycle_ctrl *life;
};

static size_t index_orphan_ns(const cJSON *obj, const char **vals)
{
	if (ctrl_controller_ref(obj))
		return 0;
	return informer_index_namespace(obj, vals);
}

static struct informer *inf(struct ctrlmgr *m, const char *name, const char *path,
			    const char *fs, informer_transform_fn tf)
{
	struct informer_config ic = { .name = name, .path = path, .field_selector = fs,
				      .transform = tf ? tf : informer_prune_meta,
				      .resync_ms = 5u * 60 * 1000 };
	return informer_new(m->ctx.api, &ic);
}

static void on_start(struct loop *l, void *arg)
{
	struct ctrlmgr *m = arg;
	struct ctrl_ctx *c = &m->ctx;
	c->pods = inf(m, "pods", "/api/v1/pods", NULL, informer_prune_pod);
	c->pods_by_owner = informer_add_index(c->pods, informer_index_controller_uid);
	c->pods_orphan_ns = informer_add_index(c->pods, index_orphan_ns);
	c->pods_by_node = informer_add_index(c->pods, informer_index_node_name);
	c->pods_by_ns = informer_add_index(c->pods, informer_index_namespace);
	c->nodes = inf(m, "nodes", "/api/v1/nodes", NULL, NULL);
	c->leases = inf(m, "leases", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
			NULL, NULL);
	c->namespaces = inf(m, "namespaces", "/api/v1/namespaces", NULL, NULL);
	c->serviceaccounts = inf(m, "serviceaccounts", "/api/v1/serviceaccounts",
				 "metadata.name=default", NULL);
	c->rootcas = inf(m, "configmaps", "/api/v1/configmaps", "metadata.name=kube-root-ca.crt",
			 NULL);
	c->deployments = inf(m, "deployments", "/apis/apps/v1/deployments", NULL, NULL);
	c->replicasets = inf(m, "replicasets", "/apis/apps/v1/replicasets", NULL, NULL);
	c->rs_by_owner = informer_add_index(c->replicasets, informer_index_controller_uid);
	c->rcs = inf(m, "replicationcontrollers", "/api/v1/replicationcontrollers", NULL, NULL);
	c->services = inf(m, "services", "/api/v1/services", NULL, NULL);
	c->endpoints = inf(m, "endpoints", "/api/v1/endpoints", NULL, NULL);
	c->slices = inf(m, "endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", NULL,
			NULL);

	m->deploy = deployment_ctrl_new(c);
	m->rs = replicaset_ctrl_new(c, false);
	m->rc = replicaset_ctrl_new(c, true);
	m->ep = endpoints_ctrl_new(c);
	m->sa = serviceaccount_ctrl_new(c);
	m->ipam = nodeipam_ctrl_new(c);
	m->life = nodelifecycle_ctrl_new(c);

	struct informer *all[] = { c->pods, c->nodes, c->leases, c->namespaces,
				   c->serviceaccounts, c->rootcas, c->deployments, c->replicasets,
				   c->rcs, c->services, c->endpoints, c->slices };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		informer_start(all[i]);
	log_info("controller manager started server=%s", m->server);
}

static void *thread_main(void *arg)
{
	struct ctrlmgr *m = arg;
	int rc = loop_run(m->loop);
	if (rc < 0)
		log_error("controller manager loop failed err=%s", kc_strerror(rc));
	/* Teardown on the loop's thread. */
	struct ctrl_ctx *c = &m->ctx;
	apiclient_free(c->api);
	c->api = NULL;
	deployment_ctrl_free(m->deploy);
	replicaset_ctrl_free(m->rs);
	replicaset_ctrl_free(m->rc);
	endpoints_ctrl_free(m->ep);
	serviceaccount_ctrl_free(m->sa);
	nodeipam_ctrl_free(m->ipam);
	nodelifecycle_ctrl_free(m->life);
	struct informer *all[] = { c->pods, c->nodes, c->leases, c->namespaces,
				   c->serviceaccounts, c->rootcas, c->deployments, c->replicasets,
				   c->rcs, c->services, c->endpoints, c->slices };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		informer_free(all[i]);
	return NULL;
}

int ctrlmgr_start(const struct kc_server_config *cfg, const struct kc_pki *pki,
		  const char *server_url, struct ctrlmgr **out, struct kc_err *err)
{
	struct ctrlmgr *m = xcalloc(1, sizeof *m);
	int rc = apiclient_issue_identity(pki->ca, pki->ca_key, "system:kc-controller-manager",
					  (int64_t)time(NULL), &m->cert, &m->key, err);
	if (rc < 0)
		goto fail;
	m->ca = kc_cert_dup(pki->ca);
	m->server = xstrdup(server_url);
	m->loop = loop_new(NULL);
	if (!m->loop) {
		rc = kc_err_set(err, -KC_EIO, "controller manager: cannot create event loop");
		goto fail;
	}
	struct ctrl_ctx *c = &m->ctx;
	c->loop = m->loop;
	c->cluster_cidr = cfg->cluster_cidr;
	c->node_cidr_bits = cfg->cluster_cidr.prefix <= 24 ? 24 : cfg->cluster_cidr.prefix;
	c->node_grace_ms = 40000;
	c->node_monitor_ms = 5000;
	c->default_toleration_s = 300;
	struct kc_str pem = KC_STR_INIT;
	kc_cert_to_pem(pki->ca, &pem);
	c->ca_pem = kc_str_detach(&pem, NULL);
	struct apiclient_config ac = { .server = server_url, .ca = m->ca, .cert = m->cert,
				       .key = m->key, .user_agent = "kc-controller-manager",
				       .max_conns = 64 };
	rc = apiclient_new(m->loop, &ac, &c->api, err);
	if (rc < 0)
		goto fail;
	loop_call(m->loop, on_start, m);
	if (pthread_create(&m->thread, NULL, thread_main, m) != 0) {
		apiclient_free(c->api);
		rc = kc_err_set(err, -KC_EIO, "controller manager: cannot start thread");
		goto fail;
	}
	*out = m;
	return 0;
fail:
	loop_free(m->loop);
	kc_cert_free(m->cert);
	kc_key_free(m->key);
	kc_cert_free(m->ca);
	free(m->ctx.ca_pem);
	free(m->server);
	free(m);
	return rc;
}

void ctrlmgr_stop(struct ctrlmgr *m)
{
	if (!m)
		return;
	loop_stop(m->loop);
	pthread_join(m->thread, NULL);
	loop_free(m->loop);
	kc_cert_free(m->cert);
	kc_key_free(m->key);
	kc_cert_free(m->ca);
	free(m->ctx.ca_pem);
	free(m->server);
	free(m);
}
