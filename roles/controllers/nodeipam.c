/* DESIGN: node IPAM: each Node without spec.podCIDR gets the lowest free /node_cidr_bits block
 * of --cluster-cidr (IPv4), free meaning no other Node in the cache holds it. The set of taken
 * blocks is recomputed from the cache at each sync (a few thousand nodes at most), so a block
 * is freed as soon as its Node goes. A Node whose PATCH raced another allocation gets a
 * conflict and is retried. Keys are node names. Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/map.h"
#include "roles/controllers/ctrl_int.h"

struct nodeipam_ctrl {
	struct ctrl_ctx *c;
	struct workqueue *q;
	struct kc_map pending;  /* cidr text -> node name (allocated, not yet observed) */
	struct events *ev;
};

static void node_add(void *arg, const cJSON *obj)
{
	struct nodeipam_ctrl *n = arg;
	if (!*ctrl_str(obj, "spec.podCIDR"))
		workqueue_add(n->q, ctrl_str(obj, "metadata.name"));
}

static void node_update(void *arg, const cJSON *old, const cJSON *obj)
{
	node_add(arg, obj);
}

static void sync(void *arg, const char *name)
{
	struct nodeipam_ctrl *n = arg;
	struct ctrl_ctx *c = n->c;
	struct ctrl_op *op = ctrl_op_begin(c, n->q, name);
	/* only the Nodes matter here: a new node gets its block (and its pod network, and
	 * Ready) without waiting for the other caches of a starting controller manager */
	if (!informer_synced(c->nodes)) {
		ctrl_op_requeue_after(op, 50);
		ctrl_op_end(op);
		return;
	}
	const cJSON *node = informer_get(c->nodes, NULL, name);
	if (!node || *ctrl_str(node, "spec.podCIDR") || c->cluster_cidr.ip.family != AF_INET) {
		ctrl_op_end(op);
		return;
	}
	unsigned prefix = c->cluster_cidr.prefix, bits = c->node_cidr_bits;
	if (bits < prefix) {
		ctrl_op_end(op);
		return;
	}
	uint64_t nblocks = 1ull << (bits - prefix);
	struct kc_map taken;
	kc_map_init(&taken, NULL);
	size_t pos = 0;
	const cJSON *o;
	while (informer_next(c->nodes, &pos, &o)) {
		const char *pc = ctrl_str(o, "spec.podCIDR");
		if (*pc)
			kc_map_sput(&taken, pc, (void *)1);
	}
	/* Allocations of this run not yet seen in the cache stay taken. */
	const void *k;
	size_t klen;
	void *v;
	pos = 0;
	while (kc_map_next(&n->pending, &pos, &k, &klen, &v)) {
		const cJSON *owner = informer_get(c->nodes, NULL, v);
		if (owner && !*ctrl_str(owner, "spec.podCIDR") && strcmp(v, name))
			kc_map_put(&taken, k, klen, (void *)1);
	}
	char cidr[64] = "";
	uint32_t base = ((uint32_t)c->cluster_cidr.ip.bytes[0] << 24) |
			((uint32_t)c->cluster_cidr.ip.bytes[1] << 16) |
			((uint32_t)c->cluster_cidr.ip.bytes[2] << 8) | c->cluster_cidr.ip.bytes[3];
	for (uint64_t i = 0; i < nblocks; i++) {
		uint32_t a = base + (uint32_t)(i << (32 - bits));
		snprintf(cidr, sizeof cidr, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255,
			 (a >> 8) & 255, a & 255, bits);
		if (!kc_map_sget(&taken, cidr))
			break;
		cidr[0] = '\0';
	}
	kc_map_free(&taken);
	if (!cidr[0]) {
		events_record(n->ev, "Node", "v1", node, "Warning", "CIDRNotAvailable",
			      "Node %s status is now: CIDRNotAvailable", name);
		ctrl_op_requeue_after(op, 30000);
		ctrl_op_end(op);
		return;
	}
	kc_map_sput(&n->pending, cidr, xstrdup(name));
	cJSON *p = kc_json_new_object();
	kc_json_set_str(p, "spec.podCIDR", cidr);
	cJSON *arr = kc_json_new_array();
	cJSON_AddItemToArray(arr, kc_json_new_str(cidr));
	kc_json_set(p, "spec.podCIDRs", arr);
	kc_json_set_str(p, "metadata.resourceVersion", ctrl_str(node, "metadata.resourceVersion"));
	char *path = ctrl_path("/api/v1", NULL, "nodes", name, NULL);
	static const int ok[] = { 404, 0 };
	ctrl_op_request(op, "PATCH", path, "application/merge-patch+json", p, ok, NULL, NULL);
	free(path);
	cJSON_Delete(p);
	log_info("node cidr allocated node=%s cidr=%s", name, cidr);
	events_record(n->ev, "Node", "v1", node, "Normal", "CIDRAssignmentSucceeded",
		      "Node %s got CIDR %s", name, cidr);
	ctrl_op_end(op);
}

struct nodeipam_ctrl *nodeipam_ctrl_new(struct ctrl_ctx *c)
{
	struct nodeipam_ctrl *n = xcalloc(1, sizeof *n);
	n->c = c;
	kc_map_init(&n->pending, free);
	struct workqueue_config qc = { .name = "nodeipam", .workers = 1 };
	n->q = workqueue_new(c->loop, &qc, sync, n);
	n->ev = events_new(c->api, "node-ipam-controller", NULL);
	struct informer_handlers h = { .on_add = node_add, .on_update = node_update, .arg = n };
	informer_add_handlers(c->nodes, &h);
	return n;
}

void nodeipam_ctrl_free(struct nodeipam_ctrl *n)
{
	if (!n)
		return;
	workqueue_free(n->q);
	events_free(n->ev);
	kc_map_free(&n->pending);
	free(n);
}
