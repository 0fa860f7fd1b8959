/* DESIGN: pure functions over cJSON objects and small structs (see the header). Quantities are
 * exact (lib/quantity.h): cpu in millicores, memory and ephemeral storage in bytes. Callers own
 * all memory; nothing here keeps a pointer past the call except struct sched_node's owned
 * copies. */
#include "roles/scheduler/sched_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/quantity.h"
#include "lib/str.h"

#define DEFAULT_CPU_MILLI 100
#define DEFAULT_MEM (200LL * 1024 * 1024)

static int64_t qty(const cJSON *v, bool milli)
{
	struct kc_quantity q;
	struct kc_err e = { 0 };
	int64_t out = 0;
	if (!v || kc_quantity_from_json(v, &q, &e) < 0)
		return 0;
	if (milli)
		kc_quantity_milli(&q, &out);
	else
		kc_quantity_value(&q, &out);
	return out < 0 ? 0 : out;
}

static const char *str(const cJSON *o, const char *path)
{
	const char *s = kc_json_get_str(o, path);
	return s ? s : "";
}

void sched_node_set(struct sched_node *n, const cJSON *node, bool keep)
{
	if (!keep) {
		sched_node_free(n);
		memset(n, 0, sizeof *n);
		kc_map_init(&n->ports, NULL);
		kc_map_init(&n->owners, NULL);
	} else {
		cJSON_Delete(n->labels);
		cJSON_Delete(n->taints);
	}
	snprintf(n->name, sizeof n->name, "%s", str(node, "metadata.name"));
	const cJSON *l = kc_json_get(node, "metadata.labels");
	n->labels = l ? kc_json_dup(l) : NULL;
	const cJSON *t = kc_json_get(node, "spec.taints");
	n->taints = t ? kc_json_dup(t) : kc_json_new_array();
	bool ready = false;
	cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(node, "status.conditions"))
	{
		if (!strcmp(str(c, "type"), "Ready"))
			ready = !strcmp(str(c, "status"), "True");
	}
	if (!ready) {
		bool have = false;
		cJSON *x;
		cJSON_ArrayForEach(x, n->taints)
		{
			const char *k = str(x, "key");
			if (!strcmp(k, "node.kubernetes.io/not-ready") ||
			    !strcmp(k, "node.kubernetes.io/unreachable"))
				have = true;
		}
		if (!have) {
			cJSON *nt = kc_json_new_object();
			kc_json_set_str(nt, "key", "node.kubernetes.io/not-ready");
			kc_json_set_str(nt, "effect", "NoSchedule");
			cJSON_AddItemToArray(n->taints, nt);
		}
	}
	n->unschedulable = kc_json_get_bool(node, "spec.unschedulable", false);
	const cJSON *a = kc_json_get(node, "status.allocatable");
	if (!a)
		a = kc_json_get(node, "status.capacity");
	n->alloc_cpu_milli = qty(a ? cJSON_GetObjectItemCaseSensitive(a, "cpu") : NULL, true);
	n->alloc_mem = qty(a ? cJSON_GetObjectItemCaseSensitive(a, "memory") : NULL, false);
	const cJSON *eph = a ? cJSON_GetObjectItemCaseSensitive(a, "ephemeral-storage") : NULL;
	n->alloc_eph = eph ? qty(eph, false) : -1;
	n->alloc_pods = qty(a ? cJSON_GetObjectItemCaseSensitive(a, "pods") : NULL, false);
}

void sched_node_free(struct sched_node *n)
{
	if (!n)
		return;
	cJSON_Delete(n->labels);
	cJSON_Delete(n->taints);
	n->labels = n->taints = NULL;
	kc_map_free(&n->ports);
	kc_map_free(&n->owners);
}

static void sum_requests(const cJSON *list, int64_t *cpu, int64_t *mem, int64_t *eph,
			 int64_t *nzc, int64_t *nzm, bool max)
{
	cJSON *c;
	cJSON_ArrayForEach(c, list)
	{
		const cJSON *r = kc_json_get(c, "resources.requests");
		const cJSON *cv = r ? cJSON_GetObjectItemCaseSensitive(r, "cpu") : NULL;
		const cJSON *mv = r ? cJSON_GetObjectItemCaseSensitive(r, "memory") : NULL;
		int64_t cc = qty(cv, true), mm = qty(mv, false);
		int64_t ee = qty(r ? cJSON_GetObjectItemCaseSensitive(r, "ephemeral-storage") : NULL,
				 false);
		int64_t zc = cv ? cc : DEFAULT_CPU_MILLI, zm = mv ? mm : DEFAULT_MEM;
		if (max) {
			if (cc > *cpu)
				*cpu = cc;
			if (mm > *mem)
				*mem = mm;
			if (ee > *eph)
				*eph = ee;
			if (zc > *nzc)
				*nzc = zc;
			if (zm > *nzm)
				*nzm = zm;
		} else {
			*cpu += cc;
			*mem += mm;
			*eph += ee;
			*nzc += zc;
			*nzm += zm;
		}
	}
}

void sched_pod_init(struct sched_pod *p, const cJSON *pod)
{
	memset(p, 0, sizeof *p);
	p->pod = pod;
	const cJSON *spec = kc_json_get(pod, "spec");
	sum_requests(kc_json_get(spec, "containers"), &p->cpu_milli, &p->mem, &p->eph,
		     &p->nz_cpu_milli, &p->nz_mem, false);
	int64_t ic = 0, im = 0, ie = 0, izc = 0, izm = 0;
	sum_requests(kc_json_get(spec, "initContainers"), &ic, &im, &ie, &izc, &izm, true);
	if (ic > p->cpu_milli)
		p->cpu_milli = ic;
	if (im > p->mem)
		p->mem = im;
	if (ie > p->eph)
		p->eph = ie;
	const cJSON *ov = kc_json_get(spec, "overhead");
	if (ov) {
		p->cpu_milli += qty(cJSON_GetObjectItemCaseSensitive(ov, "cpu"), true);
		p->mem += qty(cJSON_GetObjectItemCaseSensitive(ov, "memory"), false);
	}
	cJSON *r;
	cJSON_ArrayForEach(r, kc_json_get(pod, "metadata.ownerReferences"))
	{
		if (kc_json_get_bool(r, "controller", false))
			snprintf(p->owner_uid, sizeof p->owner_uid, "%s", str(r, "uid"));
	}
	cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(spec, "containers"))
	{
		cJSON *port;
		cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(c, "ports"))
		{
			long long hp;
			if (kc_json_get_i64(port, "hostPort", &hp) < 0 || hp <= 0 ||
			    p->nports >= 16)
				continue;
			const char *proto = str(port, "protocol");
			snprintf(p->ports[p->nports++], sizeof p->ports[0], "%s/%lld",
				 *proto ? proto : "TCP", hp);
		}
	}
}

static void bump(struct kc_map *m, const char *key, int sign)
{
	uintptr_t v = (uintptr_t)kc_map_sget(m, key);
	if (sign > 0)
		v++;
	else if (v > 0)
		v--;
	if (v == 0)
		kc_map_sdel(m, key);
	else
		kc_map_sput(m, key, (void *)v);
}

void sched_node_account(struct sched_node *n, const struct sched_pod *p, int sign)
{
	n->req_cpu_milli += sign * p->cpu_milli;
	n->req_mem += sign * p->mem;
	n->req_eph += sign * p->eph;
	n->nz_cpu_milli += sign * p->nz_cpu_milli;
	n->nz_mem += sign * p->nz_mem;
	n->npods += sign;
	for (size_t i = 0; i < p->nports; i++)
		bump(&n->ports, p->ports[i], sign);
	if (p->owner_uid[0])
		bump(&n->owners, p->owner_uid, sign);
}

static bool tolerated(const cJSON *tolerations, const cJSON *taint)
{
	const char *key = str(taint, "key"), *value = str(taint, "value");
	const char *effect = str(taint, "effect");
	cJSON *t;
	cJSON_ArrayForEach(t, tolerations)
	{
		const char *te = str(t, "effect");
		if (*te && strcmp(te, effect))
			continue;
		const char *tk = str(t, "key");
		bool exists = !strcmp(str(t, "operator"), "Exists");
		if (!*tk) {
			if (exists)
				return true;
			continue;
		}
		if (strcmp(tk, key))
			continue;
		if (exists || !strcmp(str(t, "value"), value))
			return true;
	}
	return false;
}

static bool expr_match(const cJSON *e, const cJSON *labels, const char *field_value)
{
	const char *key = str(e, "key"), *op = str(e, "operator");
	const char *have = NULL;
	if (field_value) {
		have = field_value;
	} else {
		const cJSON *v = labels ? cJSON_GetObjectItemCaseSensitive(labels, key) : NULL;
		have = cJSON_IsString(v) ? v->valuestring : NULL;
	}
	const cJSON *vals = cJSON_GetObjectItemCaseSensitive(e, "values");
	if (!strcmp(op, "Exists"))
		return have != NULL;
	if (!strcmp(op, "DoesNotExist"))
		return have == NULL;
	if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
		bool in = false;
		cJSON *v;
		cJSON_ArrayForEach(v, vals)
		{
			if (have && cJSON_IsString(v) && !strcmp(v->valuestring, have))
				in = true;
		}
		return !strcmp(op, "In") ? in : !in;
	}
	if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
		long long a, b;
		const cJSON *v = vals ? vals->child : NULL;
		if (!have || !cJSON_IsString(v) || kc_parse_i64(have, -(1LL << 62), 1LL << 62, &a) < 0 ||
		    kc_parse_i64(v->valuestring, -(1LL << 62), 1LL << 62, &b) < 0)
			return false;
		return !strcmp(op, "Gt") ? a > b : a < b;
	}
	return false;
}

bool sched_affinity_match(const cJSON *pod, const cJSON *labels, const char *node_name)
{
	cJSON *kv;
	cJSON_ArrayForEach(kv, kc_json_get(pod, "spec.nodeSelector"))
	{
		const cJSON *v = labels ? cJSON_GetObjectItemCaseSensitive(labels, kv->string) : NULL;
		if (!cJSON_IsString(v) || !cJSON_IsString(kv) || strcmp(v->valuestring, kv->valuestring))
			return false;
	}
	const cJSON *terms = kc_json_get(
		pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		     "nodeSelectorTerms");
	if (!terms)
		return true;
	cJSON *t;
	cJSON_ArrayForEach(t, terms)
	{
		const cJSON *me = cJSON_GetObjectItemCaseSensitive(t, "matchExpressions");
		const cJSON *mf = cJSON_GetObjectItemCaseSensitive(t, "matchFields");
		if (cJSON_GetArraySize(me) == 0 && cJSON_GetArraySize(mf) == 0)
			continue;  /* an empty term matches nothing */
		bool ok = true;
		cJSON *e;
		cJSON_ArrayForEach(e, me) ok = ok && expr_match(e, labels, NULL);
		cJSON_ArrayForEach(e, mf)
		{
			if (strcmp(str(e, "key"), "metadata.name"))
				ok = false;
			else
				ok = ok && expr_match(e, NULL, node_name);
		}
		if (ok)
			return true;
	}
	return false;
}

unsigned sched_filter(const struct sched_pod *p, const struct sched_node *n, char *taint,
		      size_t cap)
{
	unsigned f = 0;
	const cJSON *tols = kc_json_get(p->pod, "spec.tolerations");
	if (n->unschedulable) {
		cJSON *t = kc_json_new_object();
		kc_json_set_str(t, "key", "node.kubernetes.io/unschedulable");
		kc_json_set_str(t, "effect", "NoSchedule");
		if (!tolerated(tols, t))
			f |= SCHED_F_UNSCHEDULABLE;
		cJSON_Delete(t);
	}
	cJSON *t;
	cJSON_ArrayForEach(t, n->taints)
	{
		const char *eff = str(t, "effect");
		if (strcmp(eff, "NoSchedule") && strcmp(eff, "NoExecute"))
			continue;
		if (tolerated(tols, t))
			continue;
		f |= SCHED_F_TAINT;
		if (taint)
			snprintf(taint, cap, "{%s: %s}", str(t, "key"), str(t, "value"));
		break;
	}
	if (!sched_affinity_match(p->pod, n->labels, n->name))
		f |= SCHED_F_AFFINITY;
	if (n->npods + 1 > n->alloc_pods)
		f |= SCHED_F_PODS;
	if (p->cpu_milli > 0 && n->req_cpu_milli + p->cpu_milli > n->alloc_cpu_milli)
		f |= SCHED_F_CPU;
	if (p->mem > 0 && n->req_mem + p->mem > n->alloc_mem)
		f |= SCHED_F_MEMORY;
	if (p->eph > 0 && n->alloc_eph >= 0 && n->req_eph + p->eph > n->alloc_eph)
		f |= SCHED_F_EPHEMERAL;
	for (size_t i = 0; i < p->nports; i++)
		if (kc_map_sget(&n->ports, p->ports[i]))
			f |= SCHED_F_PORTS;
	return f;
}

int64_t sched_owner_count(const struct sched_pod *p, const struct sched_node *n)
{
	if (!p->owner_uid[0])
		return 0;
	return (int64_t)(uintptr_t)kc_map_sget(&n->owners, p->owner_uid);
}

int64_t sched_score(const struct sched_pod *p, const struct sched_node *n, int64_t max_owner)
{
	int64_t cpu = n->nz_cpu_milli + p->nz_cpu_milli, mem = n->nz_mem + p->nz_mem;
	int64_t ac = n->alloc_cpu_milli, am = n->alloc_mem;
	/* least requested: mean of free fractions */
	int64_t lc = ac > 0 && cpu <= ac ? (ac - cpu) * 100 / ac : 0;
	int64_t lm = am > 0 && mem <= am ? (am - mem) * 100 / am : 0;
	int64_t least = (lc + lm) / 2;
	/* balanced: 100 * (1 - |cpuFraction - memFraction| / 2) */
	int64_t fc = ac > 0 ? (cpu >= ac ? 1000 : cpu * 1000 / ac) : 1000;
	int64_t fm = am > 0 ? (mem >= am ? 1000 : mem * 1000 / am) : 1000;
	int64_t diff = fc > fm ? fc - fm : fm - fc;
	int64_t balanced = (1000 - diff / 2) / 10;
	/* spreading */
	int64_t spread = 100;
	if (max_owner > 0)
		spread = (max_owner - sched_owner_count(p, n)) * 100 / max_owner;
	return least + balanced + spread;
}

struct reason {
	char text[400];
	size_t count;
};

static void add_reason(struct reason *rs, size_t *n, const char *text)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(rs[i].text, text)) {
			rs[i].count++;
			return;
		}
	if (*n >= 64)
		return;
	snprintf(rs[*n].text, sizeof rs[*n].text, "%s", text);
	rs[(*n)++].count = 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void sched_fail_message(size_t nnodes, const unsigned *fails, char (*taints)[300], char *buf,
			size_t cap)
{
	struct reason *rs = xcalloc(64, sizeof *rs);
	size_t n = 0;
	for (size_t i = 0; i < nnodes; i++) {
		unsigned f = fails[i];
		/* Kubernetes stops at the first failing plugin, in this order. */
		if (f & SCHED_F_UNSCHEDULABLE) {
			add_reason(rs, &n, "node(s) were unschedulable");
		} else if (f & SCHED_F_AFFINITY) {
			add_reason(rs, &n, "node(s) didn't match Pod's node affinity/selector");
		} else if (f & SCHED_F_TAINT) {
			char t[360];
			snprintf(t, sizeof t, "node(s) had untolerated taint %s", taints[i]);
			add_reason(rs, &n, t);
		} else if (f & SCHED_F_PORTS) {
			add_reason(rs, &n, "node(s) didn't have free ports for the requested pod ports");
		} else if (f & (SCHED_F_CPU | SCHED_F_MEMORY | SCHED_F_EPHEMERAL | SCHED_F_PODS)) {
			if (f & SCHED_F_PODS)
				add_reason(rs, &n, "Too many pods");
			if (f & SCHED_F_CPU)
				add_reason(rs, &n, "Insufficient cpu");
			if (f & SCHED_F_MEMORY)
				add_reason(rs, &n, "Insufficient memory");
			if (f & SCHED_F_EPHEMERAL)
				add_reason(rs, &n, "Insufficient ephemeral-storage");
		}
	}
	char **lines = xcalloc(n ? n : 1, sizeof *lines);
	for (size_t i = 0; i < n; i++)
		lines[i] = xasprintf("%zu %s", rs[i].count, rs[i].text);
	qsort(lines, n, sizeof *lines, cmp_str);
	struct kc_str s = KC_STR_INIT;
	kc_str_addf(&s, "0/%zu nodes are available", nnodes);
	for (size_t i = 0; i < n; i++) {
		kc_str_addf(&s, "%s%s", i ? ", " : ": ", lines[i]);
		free(lines[i]);
	}
	kc_str_addf(&s, ". preemption: 0/%zu nodes are available: %zu Preemption is not helpful "
			"for scheduling.",
		    nnodes, nnodes);
	snprintf(buf, cap, "%s", s.buf);
	kc_str_free(&s);
	free(lines);
	free(rs);
}
