/* sched_filter.h - the scheduler's pure part: what a node offers (struct sched_node), what a
 * pod asks (struct sched_pod), the filters (readiness/unschedulable, taints and tolerations,
 * nodeSelector and required node affinity, resource requests against allocatable minus what
 * pods already bound there request, host ports, pod count) and the scores (least requested,
 * balanced allocation, spreading of one owner's pods), with Kubernetes' failure messages. No
 * I/O: the scheduler and the unit tests drive it. */
#ifndef KC_ROLES_SCHEDULER_SCHED_FILTER_H
#define KC_ROLES_SCHEDULER_SCHED_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "lib/map.h"

/* Filter failures, one bit each. */
enum {
	SCHED_F_UNSCHEDULABLE = 1u << 0, /* spec.unschedulable */
	SCHED_F_TAINT = 1u << 1,         /* an untolerated NoSchedule/NoExecute taint */
	SCHED_F_AFFINITY = 1u << 2,      /* nodeSelector / required node affinity */
	SCHED_F_CPU = 1u << 3,
	SCHED_F_MEMORY = 1u << 4,
	SCHED_F_EPHEMERAL = 1u << 5,
	SCHED_F_PODS = 1u << 6,
	SCHED_F_PORTS = 1u << 7,
};

struct sched_node {
	char name[254];
	cJSON *labels;           /* owned copy, may be NULL */
	cJSON *taints;           /* owned copy (with a not-ready taint added for a node whose
				  * Ready condition is not True), may be NULL */
	bool unschedulable;
	int64_t alloc_cpu_milli, alloc_mem, alloc_eph, alloc_pods;
	/* What bound (and assumed) pods request. */
	int64_t req_cpu_milli, req_mem, req_eph, npods;
	int64_t nz_cpu_milli, nz_mem;   /* with the scoring defaults for unset requests */
	struct kc_map ports;     /* "TCP/80" -> count (uintptr_t) */
	struct kc_map owners;    /* owner uid -> count (uintptr_t) */
};

struct sched_pod {
	int64_t cpu_milli, mem, eph;   /* max(sum(containers), max(initContainers)) + overhead */
	int64_t nz_cpu_milli, nz_mem;  /* the same with 100m / 200Mi for unset requests */
	const cJSON *pod;              /* borrowed */
	char owner_uid[64];
	char ports[16][24];            /* "TCP/80" for each hostPort */
	size_t nports;
};

/* Fills n from a Node object (borrowed). Keeps the accounted requests of n when 'keep' (a node
 * update) and zeroes them otherwise. */
void sched_node_set(struct sched_node *n, const cJSON *node, bool keep);
void sched_node_free(struct sched_node *n);
/* Computes a pod's requests and ports (pod borrowed: must outlive p's use). */
void sched_pod_init(struct sched_pod *p, const cJSON *pod);
/* Adds (sign 1) or removes (sign -1) p's requests, ports and owner count on n. */
void sched_node_account(struct sched_node *n, const struct sched_pod *p, int sign);

/* 0 when n fits p, else the failure bits. For SCHED_F_TAINT, the first untolerated taint is
 * written as "{key: value}" into taint (cap bytes). */
unsigned sched_filter(const struct sched_pod *p, const struct sched_node *n, char *taint,
		      size_t cap);
/* Score of a feasible node, 0..300: least requested + balanced allocation + spreading (given
 * the highest count of this owner's pods over the feasible nodes). */
int64_t sched_score(const struct sched_pod *p, const struct sched_node *n, int64_t max_owner);
int64_t sched_owner_count(const struct sched_pod *p, const struct sched_node *n);

/* The FailedScheduling message for nnodes nodes given per-node failures, as Kubernetes writes
 * it: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node
 * affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for
 * scheduling." fails[i] and taints[i] for each node. */
void sched_fail_message(size_t nnodes, const unsigned *fails, char (*taints)[300], char *buf,
			size_t cap);

/* Whether required node affinity and nodeSelector of pod match a node's labels and name. */
bool sched_affinity_match(const cJSON *pod, const cJSON *labels, const char *node_name);

#endif
