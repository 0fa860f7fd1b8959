/* DESIGN: static pods, as the kubelet runs them from its manifest directory. Every
 * KL_STATIC_PERIOD_MS the agent loop reads DATA/manifests (*.yaml, *.yml, *.json; one Pod each,
 * at most KL_STATIC_MAX_FILES files of KL_STATIC_MAX_BYTES), turns each manifest into the pod
 * the kubelet would run (name <name>-<node>, spec.nodeName, annotations config.source=file and
 * config.hash) whose uid is that hash, and hands the set to the agent (kubelet.c), which starts
 * new uids and stops uids no longer present: a changed file is a new uid, so the pod restarts
 * with the new spec. Nothing here needs the API server; once the pod informer has synced the
 * same tick keeps one mirror pod per static pod in the API (annotation config.mirror=<hash>,
 * owned by the Node) and deletes mirrors that are terminating, stale or without a file.
 *
 * Runs only on the agent loop thread. A bad file is logged once (with the parser's line) until
 * it changes. */
#include "roles/kubelet/kubelet_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/yaml.h"
#include "roles/client/apiclient.h"
#include "roles/client/informer.h"

#define ANN_SOURCE "kubernetes.io/config.source"
#define ANN_HASH "kubernetes.io/config.hash"
#define ANN_MIRROR "kubernetes.io/config.mirror"

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

/* The value of annotation key of obj, or NULL (keys hold dots: no kc_json path). */
static const char *annotation(const cJSON *obj, const char *key)
{
	const cJSON *ann = kc_json_get(obj, "metadata.annotations");
	const cJSON *v = ann ? cJSON_GetObjectItemCaseSensitive(ann, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *kl_pod_mirror_of(const cJSON *pod)
{
	return annotation(pod, ANN_MIRROR);
}

static bool dns_label_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
		if (!ok)
			return false;
	}
	return s[0] != '-' && s[n - 1] != '-';
}

/* Turns one manifest's document into the static pod; NULL with err on a bad manifest. */
static cJSON *static_pod(struct kubelet *k, const cJSON *doc, struct kc_err *err)
{
	const char *kind = kc_json_get_str(doc, "kind");
	const char *av = kc_json_get_str(doc, "apiVersion");
	if (!cJSON_IsObject(doc) || !kind || strcmp(kind, "Pod") || !av || strcmp(av, "v1")) {
		kc_err_set(err, -KC_EINVAL, "not a v1 Pod (apiVersion v1, kind Pod)");
		return NULL;
	}
	const char *name = kc_json_get_str(doc, "metadata.name");
	const char *ns = kc_json_get_str(doc, "metadata.namespace");
	if (!name || !dns_label_ok(name, 253 - strlen(k->node) - 1)) {
		kc_err_set(err, -KC_EINVAL, "metadata.name missing or not a DNS subdomain");
		return NULL;
	}
	if (ns && !dns_label_ok(ns, 63)) {
		kc_err_set(err, -KC_EINVAL, "metadata.namespace is not a DNS label");
		return NULL;
	}
	const cJSON *ctrs = kc_json_get(doc, "spec.containers");
	if (!cJSON_IsArray(ctrs) || cJSON_GetArraySize(ctrs) == 0) {
		kc_err_set(err, -KC_EINVAL, "spec.containers must list at least one container");
		return NULL;
	}
	const cJSON *c;
	cJSON_ArrayForEach(c, ctrs) {
		if (!kc_json_get_str(c, "name") || !kc_json_get_str(c, "image")) {
			kc_err_set(err, -KC_EINVAL, "every container needs a name and an image");
			return NULL;
		}
	}
	cJSON *pod = kc_json_dup(doc);
	char full[300];
	snprintf(full, sizeof full, "%s-%s", name, k->node);
	kc_json_set_str(pod, "metadata.name", full);
	if (!ns)
		kc_json_set_str(pod, "metadata.namespace", "default");
	kc_json_delete(pod, "metadata.uid");
	kc_json_delete(pod, "metadata.resourceVersion");
	kc_json_delete(pod, "status");
	kc_json_set_str(pod, "spec.nodeName", k->node);
	/* the hash covers the pod as it will run and the node: a changed file is a new uid */
	char *canon = kc_json_print_canonical(pod, NULL);
	uint8_t sum[KC_SHA256_LEN];
	kc_sha256(canon, strlen(canon), sum);
	free(canon);
	char hash[33];
	for (int i = 0; i < 16; i++)
		snprintf(hash + 2 * i, 3, "%02x", sum[i]);
	kc_json_set_str(pod, "metadata.uid", hash);
	cJSON *md = kc_json_get(pod, "metadata");
	cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
	if (!cJSON_IsObject(ann)) {
		cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
		ann = kc_json_new_object();
		kc_json_add(md, "annotations", ann);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_SOURCE);
	cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_HASH);
	cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_MIRROR);
	kc_json_add(ann, ANN_SOURCE, kc_json_new_str("file"));
	kc_json_add(ann, ANN_HASH, kc_json_new_str(hash));
	return pod;
}

/* Logs a bad file once per (size, mtime): *seen gets its signature, logged only when the
 * previous scan's map had another one. */
static void bad_file(struct kubelet *k, struct kc_map *seen, const char *path, const struct stat *st,
		     const char *msg)
{
	char sig[64];
	snprintf(sig, sizeof sig, "%lld:%lld", (long long)st->st_size, (long long)st->st_mtime);
	const char *prev = kc_map_sget(&k->static_bad, path);
	if (!prev || strcmp(prev, sig) != 0)
		log_warn("kubelet: static pod manifest skipped file=%s err=\"%s\"", path, msg);
	kc_map_sput(seen, path, xstrdup(sig));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads one manifest file into pods (or logs why not). */
static void read_one(struct kubelet *k, struct kc_map *seen, const char *path, cJSON *pods)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	unsigned char *buf = NULL;
	size_t len = 0;
	struct kc_err err = { 0 };
	cJSON *doc = NULL, *pod = NULL;
	struct kc_yaml_limits lim = { .max_bytes = KL_STATIC_MAX_BYTES, .max_depth = 64,
				      .max_nodes = 100000, .max_expanded_bytes = 4 * KL_STATIC_MAX_BYTES };
	if (kc_read_file(path, KL_STATIC_MAX_BYTES, &buf, &len, &err) < 0 ||
	    kc_yaml_to_json_one((char *)buf, len, &lim, &doc, &err) < 0 ||
	    !(pod = static_pod(k, doc, &err))) {
		bad_file(k, seen, path, &st, err.msg);
		goto out;
	}
	/* two files for one pod: the first in name order wins */
	const char *nm = kc_json_get_str(pod, "metadata.name");
	const char *ns = kc_json_get_str(pod, "metadata.namespace");
	const cJSON *p;
	cJSON_ArrayForEach(p, pods) {
		if (!strcmp(kc_json_get_str(p, "metadata.name"), nm) &&
		    !strcmp(kc_json_get_str(p, "metadata.namespace"), ns)) {
			bad_file(k, seen, path, &st, "another manifest defines the same pod");
			cJSON_Delete(pod);
			goto out;
		}
	}
	cJSON_AddItemToArray(pods, pod);
out:
	cJSON_Delete(doc);
	free(buf);
}

int kl_static_read(struct kubelet *k, cJSON **out)
{
	cJSON *pods = kc_json_new_array();
	*out = pods;
	char *dir = xasprintf("%s/manifests", k->data);
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		free(dir);
		return e == ENOENT ? 0 : -e;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		if (nm[0] == '.' ||
		    !(has_suffix(nm, ".yaml") || has_suffix(nm, ".yml") || has_suffix(nm, ".json")))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xstrdup(nm);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);
	struct kc_map seen;
	kc_map_init(&seen, free);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		if (i < KL_STATIC_MAX_FILES) {
			read_one(k, &seen, path, pods);
		} else {
			struct stat st;
			if (stat(path, &st) == 0)
				bad_file(k, &seen, path, &st, "more than 256 manifest files");
		}
		free(path);
		free(names[i]);
	}
	free(names);
	free(dir);
	/* only the bad files still there are remembered */
	kc_map_free(&k->static_bad);
	k->static_bad = seen;
	return 0;
}

/* ---- mirror pods ---- */

static void mirror_done(void *arg, struct api_result *r)
{
	char *what = arg;
	if (r->rc == 0 && r->status >= 300 && r->status != 404 && r->status != 409)
		log_warn("kubelet: mirror pod %s status=%d msg=\"%s\"", what, r->status, r->message);
	free(what);
}

static void mirror_delete(struct kubelet *k, const cJSON *m)
{
	const char *ns = kc_json_get_str(m, "metadata.namespace");
	const char *name = kc_json_get_str(m, "metadata.name");
	const char *uid = kc_json_get_str(m, "metadata.uid");
	if (!ns || !name || !uid)
		return;
	char path[600], body[200];
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", ns, name);
	int n = snprintf(body, sizeof body,
			 "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0,"
			 "\"preconditions\":{\"uid\":\"%s\"}}", uid);
	apiclient_request(k->api, "DELETE", path, NULL, body, (size_t)n, mirror_done,
			  xasprintf("delete %s/%s", ns, name));
}

static void mirror_create(struct kubelet *k, const cJSON *pod)
{
	cJSON *m = kc_json_dup(pod);
	const char *hash = annotation(pod, ANN_HASH);
	kc_json_delete(m, "metadata.uid");
	kc_json_delete(m, "status");
	cJSON *ann = kc_json_get(m, "metadata.annotations");
	kc_json_add(ann, ANN_MIRROR, kc_json_new_str(hash ? hash : ""));
	cJSON *refs = kc_json_new_array(), *ref = kc_json_new_object();
	kc_json_set_str(ref, "apiVersion", "v1");
	kc_json_set_str(ref, "kind", "Node");
	kc_json_set_str(ref, "name", k->node);
	kc_json_set_str(ref, "uid", k->node_uid);
	kc_json_set_bool(ref, "controller", true);
	cJSON_AddItemToArray(refs, ref);
	kc_json_set(m, "metadata.ownerReferences", refs);
	const char *ns = kc_json_get_str(m, "metadata.namespace");
	char path[300];
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", ns);
	apiclient_request_json(k->api, "POST", path, m, mirror_done,
			       xasprintf("create %s/%s", ns, kc_json_get_str(m, "metadata.name")));
	cJSON_Delete(m);
}

void kl_mirror_sync(struct kubelet *k, const cJSON *statics)
{
	if (!k->pods || !informer_synced(k->pods) || !k->node_uid[0])
		return;
	/* mirrors in the API: terminating, stale (another hash) or without a static pod go */
	size_t pos = 0;
	const cJSON *p;
	while (informer_next(k->pods, &pos, &p)) {
		const char *mh = kl_pod_mirror_of(p);
		if (!mh)
			continue;
		bool keep = false;
		const cJSON *s;
		const char *pname = kc_json_get_str(p, "metadata.name");
		const char *pns = kc_json_get_str(p, "metadata.namespace");
		cJSON_ArrayForEach(s, statics) {
			if (!strcmp(kc_json_get_str(s, "metadata.uid"), mh) && pname && pns &&
			    !strcmp(kc_json_get_str(s, "metadata.name"), pname) &&
			    !strcmp(kc_json_get_str(s, "metadata.namespace"), pns))
				keep = true;
		}
		if (!keep || kc_json_get(p, "metadata.deletionTimestamp"))
			mirror_delete(k, p);
	}
	/* static pods without a mirror get one; a same-named pod that is no mirror is left alone
	 * (the kubelet does the same: the name is taken) */
	const cJSON *s;
	cJSON_ArrayForEach(s, statics) {
		const cJSON *m = informer_get(k->pods, kc_json_get_str(s, "metadata.namespace"),
					      kc_json_get_str(s, "metadata.name"));
		if (!m)
			mirror_create(k, s);
	}
}
