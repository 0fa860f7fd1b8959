/* discovery.c - the discovery documents, built once from the schema's resource table.
 *
 * DESIGN
 * discovery_new walks the resources in declaration order, groups them by API group and
 * version (first appearance decides the order of groups and versions; the first version of a
 * group is its preferred one, listed first in aggregated discovery), and renders every document
 * kubectl and the client libraries fetch:
 *   legacy     /api (APIVersions), /apis (APIGroupList), /apis/<g> (APIGroup),
 *              /api/v1 and /apis/<g>/<v> (APIResourceList with "<plural>/<sub>" entries);
 *   aggregated /api and /apis as APIGroupDiscoveryList, in apidiscovery.k8s.io/v2 and v2beta1.
 * Within a group-version, resources and each resource's subresources are sorted by name, as
 * kube-apiserver lists them. The documents are immutable NUL-terminated strings owned by the
 * struct discovery, so any thread may serve them without locks.
 *
 * What a subresource returns and accepts (kind, group/version when not the parent's, verbs)
 * comes from one table below: status/scale/log/exec/attach/portforward/proxy/binding/eviction/
 * token/finalize/ephemeralcontainers/resize as Kubernetes serves them. */
#include "roles/apiserver/discovery.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/str.h"
#include "roles/apiserver/table.h"

/* ---------------------------------------------------------------------------------------------
 * Subresources */

struct sub_info {
	const char *name;
	const char *kind;  /* NULL: the parent's kind; "*ProxyOptions": parent kind + suffix */
	const char *group; /* NULL: the parent's group and version */
	const char *version;
	unsigned verbs;
};

#define V_GPU (API_VERB_GET | API_VERB_PATCH | API_VERB_UPDATE)

static const struct sub_info subs[] = {
	{"status", NULL, NULL, NULL, V_GPU},
	{"scale", "Scale", "autoscaling", "v1", V_GPU},
	{"log", NULL, NULL, NULL, API_VERB_GET},
	{"exec", "PodExecOptions", NULL, NULL, API_VERB_CREATE | API_VERB_GET},
	{"attach", "PodAttachOptions", NULL, NULL, API_VERB_CREATE | API_VERB_GET},
	{"portforward", "PodPortForwardOptions", NULL, NULL, API_VERB_CREATE | API_VERB_GET},
	{"proxy", "*ProxyOptions", NULL, NULL,
	 API_VERB_CREATE | API_VERB_DELETE | API_VERB_GET | API_VERB_PATCH | API_VERB_UPDATE},
	{"binding", "Binding", NULL, NULL, API_VERB_CREATE},
	{"eviction", "Eviction", "policy", "v1", API_VERB_CREATE},
	{"token", "TokenRequest", "authentication.k8s.io", "v1", API_VERB_CREATE},
	{"finalize", NULL, NULL, NULL, API_VERB_UPDATE},
	{"ephemeralcontainers", NULL, NULL, NULL, V_GPU},
	{"resize", NULL, NULL, NULL, V_GPU},
};

/* The description of subresource 'name' of r, written into *out (kind may point into kbuf). */
static void sub_lookup(const struct api_resource *r, const char *name, struct sub_info *out,
		       char *kbuf, size_t kcap)
{
	struct sub_info def = {name, NULL, NULL, NULL, V_GPU};
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (!strcmp(subs[i].name, name)) {
			def = subs[i];
			break;
		}
	if (!def.kind) {
		def.kind = r->kind;
	} else if (def.kind[0] == '*') {
		snprintf(kbuf, kcap, "%s%s", r->kind, def.kind + 1);
		def.kind = kbuf;
	}
	if (!def.group) {
		def.group = r->group;
		def.version = r->version;
	}
	*out = def;
}

/* ---------------------------------------------------------------------------------------------
 * Grouping */

struct gv {
	const char *group; /* "" for core */
	const char *version;
	const struct api_resource **res; /* sorted by plural */
	size_t nres;
};

struct group {
	const char *name;
	size_t *gvs; /* indexes into gvs, in order of appearance (the first is preferred) */
	size_t ngvs;
};

struct doc {
	char *path;
	char *json;
	size_t len;
};

struct discovery {
	struct doc *docs;
	size_t ndocs;
	/* aggregated: [0] v2, [1] v2beta1 */
	struct doc agg_api[2], agg_apis[2];
};

static const char *gstr(const char *s)
{
	return s ? s : "";
}

static int cmp_res(const void *a, const void *b)
{
	const struct api_resource *x = *(const struct api_resource *const *)a;
	const struct api_resource *y = *(const struct api_resource *const *)b;
	return strcmp(gstr(x->plural), gstr(y->plural));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---------------------------------------------------------------------------------------------
 * Writers */

static void key(struct kc_str *out, const char *k)
{
	kc_json_write_string(out, k);
	kc_str_addc(out, ':');
}

static void write_verbs(struct kc_str *out, unsigned verbs)
{
	static const struct {
		unsigned bit;
		const char *name;
	} order[] = {
		{API_VERB_CREATE, "create"},
		{API_VERB_DELETE, "delete"},
		{API_VERB_DELETECOLLECTION, "deletecollection"},
		{API_VERB_GET, "get"},
		{API_VERB_LIST, "list"},
		{API_VERB_PATCH, "patch"},
		{API_VERB_UPDATE, "update"},
		{API_VERB_WATCH, "watch"},
	};
	kc_str_addc(out, '[');
	bool first = true;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (verbs & order[i].bit) {
			if (!first)
				kc_str_addc(out, ',');
			first = false;
			kc_json_write_string(out, order[i].name);
		}
	kc_str_addc(out, ']');
}

static size_t list_len(const char *const *v, size_t max)
{
	size_t n = 0;
	while (n < max && v[n])
		n++;
	return n;
}

static void write_strings(struct kc_str *out, const char *const *v, size_t n)
{
	kc_str_addc(out, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			kc_str_addc(out, ',');
		kc_json_write_string(out, v[i]);
	}
	kc_str_addc(out, ']');
}

/* The subresource names of r, sorted; returns the count. */
static size_t sorted_subs(const struct api_resource *r, const char **v)
{
	size_t n = list_len(r->subresources, API_MAX_SUBRESOURCES);
	memcpy(v, r->subresources, n * sizeof *v);
	qsort(v, n, sizeof *v, cmp_str);
	return n;
}

/* StorageVersionHash: base64 of the first 8 bytes of sha256("<group>/<version>/<kind>"). */
static void write_storage_hash(struct kc_str *out, const struct api_resource *r)
{
	struct kc_str s = KC_STR_INIT;
	kc_str_addf(&s, "%s/%s/%s", gstr(r->group), gstr(r->version), gstr(r->kind));
	uint8_t h[KC_SHA256_LEN];
	kc_sha256(s.buf, s.len, h);
	kc_str_reset(&s);
	kc_base64_encode(&s, h, 8, KC_B64_STD);
	kc_json_write_string(out, s.buf);
	kc_str_free(&s);
}

static const char *group_version(const struct gv *g, char *buf, size_t cap)
{
	if (!*g->group)
		snprintf(buf, cap, "%s", g->version);
	else
		snprintf(buf, cap, "%s/%s", g->group, g->version);
	return buf;
}

/* APIResourceList for one group-version. */
static void write_resource_list(struct kc_str *out, const struct gv *g)
{
	char gvbuf[512];
	kc_str_adds(out, "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":");
	kc_json_write_string(out, group_version(g, gvbuf, sizeof gvbuf));
	kc_str_adds(out, ",\"resources\":[");
	bool first = true;
	for (size_t i = 0; i < g->nres; i++) {
		const struct api_resource *r = g->res[i];
		if (!first)
			kc_str_addc(out, ',');
		first = false;
		kc_str_adds(out, "{\"name\":");
		kc_json_write_string(out, gstr(r->plural));
		kc_str_adds(out, ",\"singularName\":");
		kc_json_write_string(out, gstr(r->singular));
		kc_str_adds(out, r->namespaced ? ",\"namespaced\":true" : ",\"namespaced\":false");
		kc_str_adds(out, ",\"kind\":");
		kc_json_write_string(out, gstr(r->kind));
		kc_str_adds(out, ",\"verbs\":");
		write_verbs(out, r->verbs);
		size_t ns = list_len(r->short_names, API_MAX_SHORT);
		if (ns) {
			kc_str_adds(out, ",\"shortNames\":");
			write_strings(out, r->short_names, ns);
		}
		size_t nc = list_len(r->categories, API_MAX_CATEGORIES);
		if (nc) {
			kc_str_adds(out, ",\"categories\":");
			write_strings(out, r->categories, nc);
		}
		if (r->verbs & API_VERB_LIST) {
			kc_str_adds(out, ",\"storageVersionHash\":");
			write_storage_hash(out, r);
		}
		kc_str_addc(out, '}');

		const char *sv[API_MAX_SUBRESOURCES];
		size_t n = sorted_subs(r, sv);
		for (size_t k = 0; k < n; k++) {
			struct sub_info si;
			char kbuf[256];
			sub_lookup(r, sv[k], &si, kbuf, sizeof kbuf);
			kc_str_adds(out, ",{\"name\":");
			struct kc_str nm = KC_STR_INIT;
			kc_str_addf(&nm, "%s/%s", gstr(r->plural), si.name);
			kc_json_write_string(out, nm.buf);
			kc_str_free(&nm);
			kc_str_adds(out, ",\"singularName\":\"\"");
			kc_str_adds(out, r->namespaced ? ",\"namespaced\":true"
						       : ",\"namespaced\":false");
			if (strcmp(gstr(si.group), gstr(r->group)) ||
			    strcmp(gstr(si.version), gstr(r->version))) {
				kc_str_adds(out, ",\"group\":");
				kc_json_write_string(out, gstr(si.group));
				kc_str_adds(out, ",\"version\":");
				kc_json_write_string(out, gstr(si.version));
			}
			kc_str_adds(out, ",\"kind\":");
			kc_json_write_string(out, gstr(si.kind));
			kc_str_adds(out, ",\"verbs\":");
			write_verbs(out, si.verbs);
			kc_str_addc(out, '}');
		}
	}
	kc_str_adds(out, "]}");
}

static void write_gv_ref(struct kc_str *out, const struct gv *g)
{
	char gvbuf[512];
	kc_str_adds(out, "{\"groupVersion\":");
	kc_json_write_string(out, group_version(g, gvbuf, sizeof gvbuf));
	kc_str_adds(out, ",\"version\":");
	kc_json_write_string(out, g->version);
	kc_str_addc(out, '}');
}

/* APIGroup (without kind/apiVersion when 'bare', as inside APIGroupList). */
static void write_group(struct kc_str *out, const struct group *grp, const struct gv *gvs,
			bool bare)
{
	kc_str_addc(out, '{');
	if (!bare)
		kc_str_adds(out, "\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",");
	key(out, "name");
	kc_json_write_string(out, grp->name);
	kc_str_adds(out, ",\"versions\":[");
	for (size_t i = 0; i < grp->ngvs; i++) {
		if (i)
			kc_str_addc(out, ',');
		write_gv_ref(out, &gvs[grp->gvs[i]]);
	}
	kc_str_adds(out, "],\"preferredVersion\":");
	write_gv_ref(out, &gvs[grp->gvs[0]]);
	kc_str_addc(out, '}');
}

static void write_kind_ref(struct kc_str *out, const char *group, const char *version,
			   const char *kind)
{
	kc_str_adds(out, "{\"group\":");
	kc_json_write_string(out, gstr(group));
	kc_str_adds(out, ",\"version\":");
	kc_json_write_string(out, gstr(version));
	kc_str_adds(out, ",\"kind\":");
	kc_json_write_string(out, gstr(kind));
	kc_str_addc(out, '}');
}

/* APIVersionDiscovery for one group-version. */
static void write_agg_version(struct kc_str *out, const struct gv *g)
{
	kc_str_adds(out, "{\"version\":");
	kc_json_write_string(out, g->version);
	kc_str_adds(out, ",\"resources\":[");
	for (size_t i = 0; i < g->nres; i++) {
		const struct api_resource *r = g->res[i];
		if (i)
			kc_str_addc(out, ',');
		kc_str_adds(out, "{\"resource\":");
		kc_json_write_string(out, gstr(r->plural));
		kc_str_adds(out, ",\"responseKind\":");
		write_kind_ref(out, r->group, r->version, r->kind);
		kc_str_adds(out,
			    r->namespaced ? ",\"scope\":\"Namespaced\"" : ",\"scope\":\"Cluster\"");
		kc_str_adds(out, ",\"singularResource\":");
		kc_json_write_string(out, gstr(r->singular));
		kc_str_adds(out, ",\"verbs\":");
		write_verbs(out, r->verbs);
		size_t ns = list_len(r->short_names, API_MAX_SHORT);
		if (ns) {
			kc_str_adds(out, ",\"shortNames\":");
			write_strings(out, r->short_names, ns);
		}
		size_t nc = list_len(r->categories, API_MAX_CATEGORIES);
		if (nc) {
			kc_str_adds(out, ",\"categories\":");
			write_strings(out, r->categories, nc);
		}
		const char *sv[API_MAX_SUBRESOURCES];
		size_t n = sorted_subs(r, sv);
		if (n) {
			kc_str_adds(out, ",\"subresources\":[");
			for (size_t k = 0; k < n; k++) {
				struct sub_info si;
				char kbuf[256];
				sub_lookup(r, sv[k], &si, kbuf, sizeof kbuf);
				if (k)
					kc_str_addc(out, ',');
				kc_str_adds(out, "{\"subresource\":");
				kc_json_write_string(out, si.name);
				kc_str_adds(out, ",\"responseKind\":");
				write_kind_ref(out, si.group, si.version, si.kind);
				kc_str_adds(out, ",\"verbs\":");
				write_verbs(out, si.verbs);
				kc_str_addc(out, '}');
			}
			kc_str_addc(out, ']');
		}
		kc_str_addc(out, '}');
	}
	kc_str_adds(out, "],\"freshness\":\"Current\"}");
}

static void write_agg_item(struct kc_str *out, const struct group *grp, const struct gv *gvs)
{
	kc_str_adds(out, "{\"metadata\":{\"name\":");
	kc_json_write_string(out, grp->name);
	kc_str_adds(out, ",\"creationTimestamp\":null},\"versions\":[");
	for (size_t i = 0; i < grp->ngvs; i++) {
		if (i)
			kc_str_addc(out, ',');
		write_agg_version(out, &gvs[grp->gvs[i]]);
	}
	kc_str_adds(out, "]}");
}

static void write_agg_list(struct kc_str *out, bool v2beta1, const struct group *groups,
			   size_t ngroups, const struct gv *gvs, bool core)
{
	kc_str_adds(out, "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":");
	kc_json_write_string(out,
			     v2beta1 ? "apidiscovery.k8s.io/v2beta1" : "apidiscovery.k8s.io/v2");
	kc_str_adds(out, ",\"metadata\":{},\"items\":[");
	bool first = true;
	for (size_t i = 0; i < ngroups; i++) {
		if ((*groups[i].name == 0) != core)
			continue;
		if (!first)
			kc_str_addc(out, ',');
		first = false;
		write_agg_item(out, &groups[i], gvs);
	}
	kc_str_adds(out, "]}");
}

static void finish(struct doc *d, const char *path, struct kc_str *s)
{
	d->path = xstrdup(path);
	d->json = kc_str_detach(s, &d->len);
}

/* ---------------------------------------------------------------------------------------------
 * Public */

struct discovery *discovery_new(const struct schema *s, const char *server_address)
{
	size_t nr = s ? schema_resource_count(s) : 0;
	struct gv *gvs = xcalloc(nr + 1, sizeof *gvs);
	struct group *groups = xcalloc(nr + 1, sizeof *groups);
	size_t ngvs = 0, ngroups = 0;

	for (size_t i = 0; i < nr; i++) {
		const struct api_resource *r = schema_resource_at(s, i);
		const char *g = gstr(r->group), *v = gstr(r->version);
		size_t k;
		for (k = 0; k < ngvs; k++)
			if (!strcmp(gvs[k].group, g) && !strcmp(gvs[k].version, v))
				break;
		if (k == ngvs) {
			gvs[k].group = g;
			gvs[k].version = v;
			gvs[k].res = xcalloc(nr, sizeof *gvs[k].res);
			ngvs++;
			size_t j;
			for (j = 0; j < ngroups; j++)
				if (!strcmp(groups[j].name, g))
					break;
			if (j == ngroups) {
				groups[j].name = g;
				groups[j].gvs = xcalloc(nr, sizeof *groups[j].gvs);
				ngroups++;
			}
			groups[j].gvs[groups[j].ngvs++] = k;
		}
		gvs[k].res[gvs[k].nres++] = r;
	}
	for (size_t k = 0; k < ngvs; k++)
		qsort(gvs[k].res, gvs[k].nres, sizeof *gvs[k].res, cmp_res);

	struct discovery *d = xcalloc(1, sizeof *d);
	/* /api, /apis, one per group, one per group-version */
	d->docs = xcalloc(2 + ngroups + ngvs, sizeof *d->docs);
	struct kc_str out = KC_STR_INIT;

	/* /api */
	kc_str_adds(&out, "{\"kind\":\"APIVersions\",\"versions\":[");
	bool first = true;
	for (size_t k = 0; k < ngvs; k++)
		if (!*gvs[k].group) {
			if (!first)
				kc_str_addc(&out, ',');
			first = false;
			kc_json_write_string(&out, gvs[k].version);
		}
	kc_str_adds(&out, "],\"serverAddressByClientCIDRs\":[{\"clientCIDR\":\"0.0.0.0/0\","
			  "\"serverAddress\":");
	kc_json_write_string(&out, gstr(server_address));
	kc_str_adds(&out, "}]}");
	finish(&d->docs[d->ndocs++], "/api", &out);

	/* /apis */
	kc_str_adds(&out, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[");
	first = true;
	for (size_t j = 0; j < ngroups; j++) {
		if (!*groups[j].name)
			continue;
		if (!first)
			kc_str_addc(&out, ',');
		first = false;
		write_group(&out, &groups[j], gvs, true);
	}
	kc_str_adds(&out, "]}");
	finish(&d->docs[d->ndocs++], "/apis", &out);

	/* /apis/<group> */
	for (size_t j = 0; j < ngroups; j++) {
		if (!*groups[j].name)
			continue;
		write_group(&out, &groups[j], gvs, false);
		struct kc_str path = KC_STR_INIT;
		kc_str_addf(&path, "/apis/%s", groups[j].name);
		finish(&d->docs[d->ndocs++], path.buf, &out);
		kc_str_free(&path);
	}

	/* /api/v1, /apis/<group>/<version> */
	for (size_t k = 0; k < ngvs; k++) {
		write_resource_list(&out, &gvs[k]);
		struct kc_str path = KC_STR_INIT;
		if (*gvs[k].group)
			kc_str_addf(&path, "/apis/%s/%s", gvs[k].group, gvs[k].version);
		else
			kc_str_addf(&path, "/api/%s", gvs[k].version);
		finish(&d->docs[d->ndocs++], path.buf, &out);
		kc_str_free(&path);
	}

	/* aggregated */
	for (int beta = 0; beta < 2; beta++) {
		write_agg_list(&out, beta, groups, ngroups, gvs, true);
		finish(&d->agg_api[beta], "/api", &out);
		write_agg_list(&out, beta, groups, ngroups, gvs, false);
		finish(&d->agg_apis[beta], "/apis", &out);
	}

	for (size_t k = 0; k < ngvs; k++)
		free(gvs[k].res);
	for (size_t j = 0; j < ngroups; j++)
		free(groups[j].gvs);
	free(gvs);
	free(groups);
	return d;
}

static void doc_free(struct doc *d)
{
	free(d->path);
	free(d->json);
}

void discovery_free(struct discovery *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->ndocs; i++)
		doc_free(&d->docs[i]);
	free(d->docs);
	for (int i = 0; i < 2; i++) {
		doc_free(&d->agg_api[i]);
		doc_free(&d->agg_apis[i]);
	}
	free(d);
}

const char *discovery_doc(const struct discovery *d, const char *path, bool aggregated,
			  bool v2beta1, size_t *len)
{
	if (!d || !path)
		return NULL;
	size_t n = strlen(path);
	if (n > 1 && path[n - 1] == '/')
		n--; /* "/apis/apps/" is "/apis/apps" */
	const struct doc *hit = NULL;
	if (aggregated && n == 4 && !memcmp(path, "/api", 4))
		hit = &d->agg_api[v2beta1];
	else if (aggregated && n == 5 && !memcmp(path, "/apis", 5))
		hit = &d->agg_apis[v2beta1];
	for (size_t i = 0; !hit && i < d->ndocs; i++)
		if (strlen(d->docs[i].path) == n && !memcmp(d->docs[i].path, path, n))
			hit = &d->docs[i];
	if (!hit)
		return NULL;
	if (len)
		*len = hit->len;
	return hit->json;
}

bool discovery_wants_aggregated(const char *accept, bool *v2beta1)
{
	struct accept_range r;
	const char *cur = accept;
	unsigned best_q = 0;
	int best = 0; /* 0 plain, 1 v2, 2 v2beta1 */
	while (table_accept_next(&cur, &r)) {
		if (!r.q)
			continue;
		int kind;
		if (r.as || r.g || r.v) {
			if (!table_accept_json(&r) ||
			    !table_accept_param_is(r.as, r.as_len, "APIGroupDiscoveryList") ||
			    !table_accept_param_is(r.g, r.g_len, "apidiscovery.k8s.io"))
				continue;
			if (table_accept_param_is(r.v, r.v_len, "v2"))
				kind = 1;
			else if (table_accept_param_is(r.v, r.v_len, "v2beta1"))
				kind = 2;
			else
				continue;
		} else {
			/* plain JSON, a wildcard, or protobuf (which kc answers in JSON) */
			kind = 0;
		}
		if (r.q > best_q) {
			best_q = r.q;
			best = kind;
		}
	}
	if (v2beta1)
		*v2beta1 = best == 2;
	return best != 0;
}
