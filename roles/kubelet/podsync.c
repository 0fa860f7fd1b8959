/* DESIGN: the sync of one pod, run on a sync thread with the pod's struct kpod owned for the
 * duration (see kubelet_int.h). Level-triggered: each sync reads the containers' recorded state
 * from their shims, decides what to start, restart, probe or stop, does it (blocking), and
 * computes the pod status exactly as Kubernetes reports it. Nothing here keeps state that the
 * disk does not also hold, beyond back-off and probe counters: after a restart of kc the
 * container dirs (DATA/pods/<uid>/containers/<name>-<attempt>/) give back restart counts,
 * last states and running containers.
 *
 * Volumes live in DATA/pods/<uid>/volumes/<plugin>/<name>; configMap, secret, downwardAPI and
 * projected volumes are written kubelet's way: files in a timestamped dir, "..data" a symlink
 * to it swapped atomically by rename, and the user-visible names symlinks through ..data. */
#include "roles/kubelet/kubelet_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/quantity.h"
#include "net/addr.h"
#include "net/http_client.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/image.h"
#include "runtime/podnet.h"
#include "runtime/shim.h"

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fmt_time_ns(uint64_t ns, char *buf, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void ev(struct kpod *kp, const char *type, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void ev(struct kpod *kp, const char *type, const char *reason, const char *fmt, ...)
{
	if (kp->nevents >= KL_MAX_EVENTS)
		return;
	struct kl_event *e = &kp->events[kp->nevents++];
	snprintf(e->type, sizeof e->type, "%s", type);
	snprintf(e->reason, sizeof e->reason, "%s", reason);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
}

static void want_requeue(struct kpod *kp, uint64_t ms)
{
	if (ms < 100)
		ms = 100;
	if (!kp->requeue_ms || ms < kp->requeue_ms)
		kp->requeue_ms = ms;
}

char *kl_ctr_dir(const struct kubelet *k, const char *uid, const char *name, int attempt)
{
	return xasprintf("%s/pods/%s/containers/%s-%d", k->data, uid, name, attempt);
}

/* ---- blocking API calls from sync threads ---- */

static cJSON *api_call(struct kubelet *k, const char *method, const char *path, const cJSON *body,
		       int *status)
{
	char *url = xasprintf("%s%s", k->server, path);
	struct http_client_config cc = { .connect_timeout_ms = 3000, .request_timeout_ms = 10000,
					 .tls = k->tls, .max_body_bytes = 16 << 20 };
	struct http_client_header hdr[2] = { { "Accept", "application/json" },
					     { "Content-Type", "application/json" } };
	char *b = body ? kc_json_print(body, NULL) : NULL;
	struct http_client_response resp = { 0 };
	struct kc_err err = { 0 };
	cJSON *o = NULL;
	*status = 0;
	if (http_client_do(&cc, method, url, hdr, body ? 2 : 1, b, b ? strlen(b) : 0, &resp, &err) == 0) {
		*status = resp.status;
		if (resp.body_len)
			kc_json_parse(resp.body, resp.body_len, NULL, &o, &err);
	} else {
		log_debug("kubelet: %s %s: %s", method, path, err.msg);
	}
	http_client_response_free(&resp);
	free(b);
	free(url);
	return o;
}

cJSON *kl_api_get(struct kubelet *k, const char *path, int *status)
{
	return api_call(k, "GET", path, NULL, status);
}

cJSON *kl_api_post(struct kubelet *k, const char *path, const cJSON *body, int *status)
{
	return api_call(k, "POST", path, body, status);
}

/* Per-sync cache of ConfigMaps, Secrets and Services. */
struct objcache {
	struct kubelet *k;
	struct kc_map m; /* "cm/ns/name" -> cJSON* (a JSON null for absent) */
};

static void cj_free(void *v)
{
	cJSON_Delete(v);
}

static const cJSON *cache_get(struct objcache *c, const char *kind, const char *ns, const char *name)
{
	char key[600];
	snprintf(key, sizeof key, "%s/%s/%s", kind, ns, name);
	cJSON *o = kc_map_sget(&c->m, key);
	if (!o) {
		char path[700];
		snprintf(path, sizeof path, "/api/v1/namespaces/%s/%s/%s", ns, kind, name);
		int st;
		o = kl_api_get(c->k, path, &st);
		if (st != 200 || !o) {
			cJSON_Delete(o);
			o = kc_json_new_null();
		}
		kc_map_sput(&c->m, key, o);
	}
	return cJSON_IsNull(o) ? NULL : o;
}

static const cJSON *lk_cm(void *arg, const char *ns, const char *name)
{
	return cache_get(arg, "configmaps", ns, name);
}

static const cJSON *lk_secret(void *arg, const char *ns, const char *name)
{
	return cache_get(arg, "secrets", ns, name);
}

/* Services of the pod's namespace, plus default/kubernetes (always in the env). */
static cJSON *services_for(struct kubelet *k, const char *ns)
{
	cJSON *arr = kc_json_new_array();
	char path[400];
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/services", ns);
	int st;
	cJSON *l = kl_api_get(k, path, &st);
	cJSON *it;
	cJSON_ArrayForEach(it, kc_json_get(l, "items"))
		cJSON_AddItemToArray(arr, kc_json_dup(it));
	cJSON_Delete(l);
	if (strcmp(ns, "default") != 0) {
		cJSON *kube = kl_api_get(k, "/api/v1/namespaces/default/services/kubernetes", &st);
		if (st == 200 && kube)
			cJSON_AddItemToArray(arr, kube);
		else
			cJSON_Delete(kube);
	}
	return arr;
}

/* ---- volumes ---- */

static char *vol_dir(struct kubelet *k, struct kpod *kp, const char *plugin, const char *name)
{
	return xasprintf("%s/pods/%s/volumes/%s/%s", k->data, kp->uid, plugin, name);
}

struct afile {
	char *path; /* relative */
	struct kc_str data;
	int mode;
};

/* Writes files into dir the atomic-writer way: a fresh ..<timestamp> dir, ..data swapped by
 * rename, top-level names symlinked through ..data. */
static int atomic_write(const char *dir, struct afile *f, size_t n, struct kc_err *err)
{
	if (kc_mkdir_p(dir, 0755) < 0)
		return kc_err_set(err, -errno, "mkdir %s: %s", dir, strerror(errno));
	char ts[64];
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	snprintf(ts, sizeof ts, "..%lld_%09ld", (long long)t.tv_sec, t.tv_nsec);
	char *tsdir = xasprintf("%s/%s", dir, ts);
	int rc = 0;
	if (mkdir(tsdir, 0755) < 0) {
		rc = kc_err_set(err, -errno, "mkdir %s: %s", tsdir, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (strstr(f[i].path, "..") || f[i].path[0] == '/') {
			rc = kc_err_set(err, -KC_EINVAL, "invalid path %s", f[i].path);
			goto out;
		}
		char *p = xasprintf("%s/%s", tsdir, f[i].path);
		char *slash = strrchr(p, '/');
		*slash = 0;
		kc_mkdir_p(p, 0755);
		*slash = '/';
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, f[i].data.buf, f[i].data.len) != (ssize_t)f[i].data.len) {
			rc = kc_err_set(err, -errno, "write %s: %s", p, strerror(errno));
			if (fd >= 0)
				close(fd);
			free(p);
			goto out;
		}
		fchmod(fd, (mode_t)f[i].mode);
		close(fd);
		free(p);
	}
	/* swap ..data */
	char *tmp = xasprintf("%s/..data_tmp", dir);
	char *data = xasprintf("%s/..data", dir);
	char old[256] = "";
	ssize_t ol = readlink(data, old, sizeof old - 1);
	if (ol > 0)
		old[ol] = 0;
	unlink(tmp);
	if (symlink(ts, tmp) < 0 || rename(tmp, data) < 0)
		rc = kc_err_set(err, -errno, "swap %s: %s", data, strerror(errno));
	free(tmp);
	free(data);
	if (rc < 0)
		goto out;
	/* top-level names */
	for (size_t i = 0; i < n; i++) {
		char top[256];
		snprintf(top, sizeof top, "%s", f[i].path);
		char *s = strchr(top, '/');
		if (s)
			*s = 0;
		char *link = xasprintf("%s/%s", dir, top);
		char *target = xasprintf("..data/%s", top);
		char cur[512];
		ssize_t cl = readlink(link, cur, sizeof cur - 1);
		if (cl < 0 || (cur[cl] = 0, strcmp(cur, target) != 0)) {
			unlink(link);
			symlink(target, link);
		}
		free(link);
		free(target);
	}
	/* names no longer present, and the old timestamp dir */
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		bool keep = false;
		for (size_t i = 0; i < n && !keep; i++) {
			size_t l = strlen(de->d_name);
			keep = !strncmp(f[i].path, de->d_name, l) &&
			       (f[i].path[l] == 0 || f[i].path[l] == '/');
		}
		if (!keep) {
			char *p = xasprintf("%s/%s", dir, de->d_name);
			unlink(p);
			free(p);
		}
	}
	if (d)
		closedir(d);
	if (old[0] && strcmp(old, ts) != 0) {
		char *p = xasprintf("%s/%s", dir, old);
		kc_remove_tree(p);
		free(p);
	}
out:
	if (rc < 0) {
		kc_remove_tree(tsdir);
	}
	free(tsdir);
	return rc;
}

static void afiles_free(struct afile *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].path);
		kc_str_free(&f[i].data);
	}
	free(f);
}

static void afile_add(struct afile **f, size_t *n, const char *path, const void *d, size_t len,
		      int mode)
{
	*f = xrealloc(*f, (*n + 1) * sizeof **f);
	struct afile *a = &(*f)[(*n)++];
	a->path = xstrdup(path);
	kc_str_init(&a->data);
	kc_str_add(&a->data, d, len);
	a->mode = mode;
}

/* configMap / secret source: items or all keys. Returns 0, 1 when optional and absent, or a
 * negative code. */
static int add_source(struct objcache *c, const char *ns, const cJSON *src, bool secret,
		      int def_mode, struct afile **f, size_t *n, struct kc_err *err)
{
	const char *name = kc_json_get_str(src, secret ? "secretName" : "name");
	if (!name)
		name = kc_json_get_str(src, "name");
	bool optional = kc_json_get_bool(src, "optional", false);
	const cJSON *obj = name ? (secret ? lk_secret(c, ns, name) : lk_cm(c, ns, name)) : NULL;
	if (!obj) {
		if (optional)
			return 1;
		return kc_err_set(err, -KC_ENOTFOUND, "%s \"%s\" not found",
				  secret ? "secret" : "configmap", name ? name : "");
	}
	long long dm;
	if (kc_json_get_i64(src, "defaultMode", &dm) == 0)
		def_mode = (int)dm;
	const cJSON *items = kc_json_get(src, "items");
	const char *fields[] = { "data", secret ? "stringData" : "binaryData" };
	for (int fi = 0; fi < 2; fi++) {
		const cJSON *kv;
		cJSON_ArrayForEach(kv, kc_json_get(obj, fields[fi])) {
			if (!cJSON_IsString(kv))
				continue;
			const char *path = kv->string;
			int mode = def_mode;
			if (items && cJSON_GetArraySize(items) > 0) {
				const cJSON *it, *hit = NULL;
				cJSON_ArrayForEach(it, items) {
					const char *key = kc_json_get_str(it, "key");
					if (key && !strcmp(key, kv->string))
						hit = it;
				}
				if (!hit)
					continue;
				path = kc_json_get_str(hit, "path");
				if (!path)
					continue;
				long long m;
				if (kc_json_get_i64(hit, "mode", &m) == 0)
					mode = (int)m;
			}
			bool b64 = secret ? fi == 0 : fi == 1;
			if (b64) {
				struct kc_str d = KC_STR_INIT;
				kc_base64_decode(&d, kv->valuestring, strlen(kv->valuestring), KC_B64_STD, NULL);
				afile_add(f, n, path, d.buf, d.len, mode);
				kc_str_free(&d);
			} else {
				afile_add(f, n, path, kv->valuestring, strlen(kv->valuestring), mode);
			}
		}
	}
	if (items) {
		const cJSON *it;
		cJSON_ArrayForEach(it, items) {
			const char *key = kc_json_get_str(it, "key");
			bool found = false;
			for (int fi = 0; fi < 2 && key; fi++)
				found |= cJSON_GetObjectItemCaseSensitive(kc_json_get(obj, fields[fi]), key) != NULL;
			if (key && !found && !optional)
				return kc_err_set(err, -KC_ENOTFOUND, "configmap references non-existent config key: %s", key);
		}
	}
	return 0;
}

static int add_downward(struct kubelet *k, struct kpod *kp, const cJSON *src, int def_mode,
			struct afile **f, size_t *n, struct kc_err *err)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, kc_json_get(src, "items")) {
		const char *path = kc_json_get_str(it, "path");
		const char *fp = kc_json_get_str(it, "fieldRef.fieldPath");
		if (!path)
			continue;
		struct kc_str v = KC_STR_INIT;
		if (fp && (!strcmp(fp, "metadata.labels") || !strcmp(fp, "metadata.annotations"))) {
			const cJSON *m = kc_json_get(kp->pod, fp), *e;
			cJSON_ArrayForEach(e, m) {
				kc_str_addf(&v, "%s=", e->string);
				kc_json_write_string(&v, cJSON_IsString(e) ? e->valuestring : "");
				kc_str_addc(&v, '\n');
			}
		} else if (fp) {
			const char *s = kc_json_get_str(kp->pod, fp);
			if (!strcmp(fp, "status.podIP"))
				s = kp->pod_ip;
			else if (!strcmp(fp, "status.hostIP"))
				s = k->node_ip;
			kc_str_adds(&v, s ? s : "");
		} else {
			kc_str_adds(&v, "0");
		}
		long long m;
		int mode = kc_json_get_i64(it, "mode", &m) == 0 ? (int)m : def_mode;
		afile_add(f, n, path, v.buf, v.len, mode);
		kc_str_free(&v);
	}
	(void)err;
	return 0;
}

static int add_sa_token(struct kubelet *k, struct kpod *kp, const cJSON *src, int mode,
			struct afile **f, size_t *n, struct kc_err *err)
{
	const char *sa = kc_json_get_str(kp->pod, "spec.serviceAccountName");
	if (!sa)
		sa = "default";
	cJSON *tr = kc_json_new_object();
	kc_json_set_str(tr, "apiVersion", "authentication.k8s.io/v1");
	kc_json_set_str(tr, "kind", "TokenRequest");
	long long exp = 3607;
	kc_json_get_i64(src, "expirationSeconds", &exp);
	kc_json_set_i64(tr, "spec.expirationSeconds", exp);
	const char *aud = kc_json_get_str(src, "audience");
	if (aud) {
		cJSON *a = kc_json_new_array();
		cJSON_AddItemToArray(a, kc_json_new_str(aud));
		kc_json_set(tr, "spec.audiences", a);
	}
	kc_json_set_str(tr, "spec.boundObjectRef.kind", "Pod");
	kc_json_set_str(tr, "spec.boundObjectRef.apiVersion", "v1");
	kc_json_set_str(tr, "spec.boundObjectRef.name", kp->name);
	kc_json_set_str(tr, "spec.boundObjectRef.uid", kp->uid);
	char path[700];
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts/%s/token", kp->ns, sa);
	int st;
	cJSON *r = kl_api_post(k, path, tr, &st);
	cJSON_Delete(tr);
	const char *tok = kc_json_get_str(r, "status.token");
	int rc = 0;
	if (!tok)
		rc = kc_err_set(err, -KC_EUNAVAIL, "cannot request a token for serviceaccount %s/%s (HTTP %d)", kp->ns, sa, st);
	else
		afile_add(f, n, kc_json_get_str(src, "path") ? kc_json_get_str(src, "path") : "token", tok, strlen(tok), mode);
	cJSON_Delete(r);
	return rc;
}

static bool is_mountpoint(const char *path)
{
	struct stat a, b;
	char *parent = xasprintf("%s/..", path);
	bool r = stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
	free(parent);
	return r;
}

/* Makes (or refreshes) every volume. Returns 0 or a negative code with err (FailedMount). */
static int setup_volumes(struct kubelet *k, struct kpod *kp, struct objcache *c, struct kc_err *err)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, kc_json_get(kp->pod, "spec.volumes")) {
		const char *name = kc_json_get_str(v, "name");
		if (!name || strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, "."))
			continue;
		const cJSON *src;
		int rc = 0;
		struct afile *f = NULL;
		size_t nf = 0;
		if ((src = kc_json_get(v, "emptyDir"))) {
			char *d = vol_dir(k, kp, "kubernetes.io~empty-dir", name);
			kc_mkdir_p(d, 0777);
			chmod(d, 0777);
			const char *medium = kc_json_get_str(src, "medium");
			if (medium && !strcmp(medium, "Memory") && !is_mountpoint(d)) {
				char opts[64] = "mode=0777";
				struct kc_quantity q;
				int64_t bytes;
				struct kc_err e2;
				if (kc_json_get(src, "sizeLimit") &&
				    kc_quantity_from_json(kc_json_get(src, "sizeLimit"), &q, &e2) == 0 &&
				    kc_quantity_value(&q, &bytes) == 0 && bytes > 0)
					snprintf(opts, sizeof opts, "mode=0777,size=%lld", (long long)bytes);
				if (mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
					rc = kc_err_set(err, -errno, "tmpfs for volume %s: %s", name, strerror(errno));
			}
			free(d);
		} else if ((src = kc_json_get(v, "hostPath"))) {
			const char *p = kc_json_get_str(src, "path");
			const char *type = kc_json_get_str(src, "type");
			struct stat st;
			if (!p)
				continue;
			if (type && (!strcmp(type, "DirectoryOrCreate")))
				kc_mkdir_p(p, 0755);
			else if (type && !strcmp(type, "FileOrCreate") && stat(p, &st) < 0) {
				int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
				if (fd >= 0)
					close(fd);
			}
			if (type && *type && stat(p, &st) < 0)
				rc = kc_err_set(err, -ENOENT, "hostPath type check failed: %s is not a %s", p, type);
			else if (type && !strcmp(type, "Directory") && !S_ISDIR(st.st_mode))
				rc = kc_err_set(err, -ENOTDIR, "hostPath type check failed: %s is not a directory", p);
			else if (type && !strcmp(type, "File") && !S_ISREG(st.st_mode))
				rc = kc_err_set(err, -EINVAL, "hostPath type check failed: %s is not a file", p);
		} else if ((src = kc_json_get(v, "configMap")) || (src = kc_json_get(v, "secret"))) {
			bool secret = kc_json_get(v, "secret") != NULL;
			rc = add_source(c, kp->ns, src, secret, 0644, &f, &nf, err);
			if (rc >= 0) {
				char *d = vol_dir(k, kp, secret ? "kubernetes.io~secret" : "kubernetes.io~configmap", name);
				rc = atomic_write(d, f, nf, err);
				free(d);
			}
		} else if ((src = kc_json_get(v, "downwardAPI"))) {
			long long dm = 0644;
			kc_json_get_i64(src, "defaultMode", &dm);
			rc = add_downward(k, kp, src, (int)dm, &f, &nf, err);
			if (rc >= 0) {
				char *d = vol_dir(k, kp, "kubernetes.io~downward-api", name);
				rc = atomic_write(d, f, nf, err);
				free(d);
			}
		} else if ((src = kc_json_get(v, "projected"))) {
			long long dm = 0644;
			kc_json_get_i64(src, "defaultMode", &dm);
			const cJSON *s;
			cJSON_ArrayForEach(s, kc_json_get(src, "sources")) {
				const cJSON *x;
				if ((x = kc_json_get(s, "configMap")))
					rc = add_source(c, kp->ns, x, false, (int)dm, &f, &nf, err);
				else if ((x = kc_json_get(s, "secret")))
					rc = add_source(c, kp->ns, x, true, (int)dm, &f, &nf, err);
				else if ((x = kc_json_get(s, "downwardAPI")))
					rc = add_downward(k, kp, x, (int)dm, &f, &nf, err);
				else if ((x = kc_json_get(s, "serviceAccountToken")))
					rc = add_sa_token(k, kp, x, (int)dm, &f, &nf, err);
				if (rc < 0)
					break;
			}
			if (rc >= 0) {
				char *d = vol_dir(k, kp, "kubernetes.io~projected", name);
				rc = atomic_write(d, f, nf, err);
				free(d);
			}
		} else if ((src = kc_json_get(v, "persistentVolumeClaim"))) {
			const char *claim = kc_json_get_str(src, "claimName");
			char path[700];
			snprintf(path, sizeof path, "/api/v1/namespaces/%s/persistentvolumeclaims/%s", kp->ns, claim ? claim : "");
			int st;
			cJSON *pvc = kl_api_get(k, path, &st);
			const char *vn = kc_json_get_str(pvc, "spec.volumeName");
			if (!vn) {
				rc = kc_err_set(err, -KC_EUNAVAIL, "persistentvolumeclaim \"%s\" is not bound", claim ? claim : "");
			} else {
				snprintf(path, sizeof path, "/api/v1/persistentvolumes/%s", vn);
				cJSON *pv = kl_api_get(k, path, &st);
				const char *hp = kc_json_get_str(pv, "spec.hostPath.path");
				if (!hp)
					hp = kc_json_get_str(pv, "spec.local.path");
				if (!hp)
					rc = kc_err_set(err, -KC_EUNSUPPORTED, "persistentvolume %s is neither hostPath nor local", vn);
				else {
					char *d = vol_dir(k, kp, "kubernetes.io~pvc", name);
					char *dd = strrchr(d, '/');
					*dd = 0;
					kc_mkdir_p(d, 0755);
					*dd = '/';
					unlink(d);
					if (symlink(hp, d) < 0 && errno != EEXIST)
						rc = kc_err_set(err, -errno, "pvc %s: %s", name, strerror(errno));
					kc_mkdir_p(hp, 0777);
					free(d);
				}
				cJSON_Delete(pv);
			}
			cJSON_Delete(pvc);
		}
		afiles_free(f, nf);
		if (rc < 0)
			return kc_err_wrap(err, "MountVolume.SetUp failed for volume \"%s\"", name);
	}
	return 0;
}

/* The host path a volumeMount's volume name maps to (fresh string) or NULL. */
static char *volume_source(struct kubelet *k, struct kpod *kp, const char *vname)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, kc_json_get(kp->pod, "spec.volumes")) {
		const char *name = kc_json_get_str(v, "name");
		if (!name || strcmp(name, vname))
			continue;
		if (kc_json_get(v, "emptyDir"))
			return vol_dir(k, kp, "kubernetes.io~empty-dir", name);
		if (kc_json_get(v, "hostPath"))
			return xstrdup(kc_json_get_str(v, "hostPath.path") ? kc_json_get_str(v, "hostPath.path") : "/");
		if (kc_json_get(v, "configMap"))
			return vol_dir(k, kp, "kubernetes.io~configmap", name);
		if (kc_json_get(v, "secret"))
			return vol_dir(k, kp, "kubernetes.io~secret", name);
		if (kc_json_get(v, "downwardAPI"))
			return vol_dir(k, kp, "kubernetes.io~downward-api", name);
		if (kc_json_get(v, "projected"))
			return vol_dir(k, kp, "kubernetes.io~projected", name);
		if (kc_json_get(v, "persistentVolumeClaim")) {
			char *l = vol_dir(k, kp, "kubernetes.io~pvc", name);
			char *r = realpath(l, NULL);
			free(l);
			return r;
		}
	}
	return NULL;
}

/* ---- containers ---- */

static const cJSON *find_container(const cJSON *pod, const char *name, bool *init)
{
	const char *lists[] = { "spec.initContainers", "spec.containers" };
	for (int i = 0; i < 2; i++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, kc_json_get(pod, lists[i])) {
			const char *n = kc_json_get_str(c, "name");
			if (n && !strcmp(n, name)) {
				if (init)
					*init = i == 0;
				return c;
			}
		}
	}
	return NULL;
}

static void resources_of(const cJSON *c, struct rt_resources *r)
{
	*r = (struct rt_resources)RT_RESOURCES_NONE;
	struct kc_quantity q;
	struct kc_err e;
	int64_t v;
	const char *paths[4] = { "resources.requests.cpu", "resources.limits.cpu",
				 "resources.requests.memory", "resources.limits.memory" };
	int64_t *dst[4] = { &r->cpu_request_milli, &r->cpu_limit_milli, &r->memory_request,
			    &r->memory_limit };
	for (int i = 0; i < 4; i++) {
		/* kc_json_get splits on '.', resource names have none */
		const cJSON *x = kc_json_get(c, paths[i]);
		if (x && kc_quantity_from_json(x, &q, &e) == 0 &&
		    ((i < 2 ? kc_quantity_milli(&q, &v) : kc_quantity_value(&q, &v)) == 0) && v > 0)
			*dst[i] = v;
	}
	/* a limit without a request defaults the request, as the API server does */
	if (r->cpu_request_milli < 0 && r->cpu_limit_milli > 0)
		r->cpu_request_milli = r->cpu_limit_milli;
	if (r->memory_request < 0 && r->memory_limit > 0)
		r->memory_request = r->memory_limit;
}

static enum rt_qos pod_qos(const cJSON *pod)
{
	struct rt_resources rs[KL_MAX_CONTAINERS];
	size_t n = 0;
	const char *lists[] = { "spec.initContainers", "spec.containers" };
	for (int i = 0; i < 2; i++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, kc_json_get(pod, lists[i]))
			if (n < KL_MAX_CONTAINERS)
				resources_of(c, &rs[n++]);
	}
	return rt_qos_class(rs, n);
}

static char **json_strv(const cJSON *arr)
{
	size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
	if (!arr)
		return NULL;
	char **v = xcalloc(n + 1, sizeof(char *));
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it))
			v[i++] = xstrdup(it->valuestring);
	return v;
}

static char *pod_file(struct kubelet *k, struct kpod *kp, const char *name)
{
	return xasprintf("%s/pods/%s/%s", k->data, kp->uid, name);
}

static void write_etc_files(struct kubelet *k, struct kpod *kp)
{
	struct kc_str s = KC_STR_INIT;
	struct kc_err err = { 0 };
	char *p = pod_file(k, kp, "etc-hosts");
	kl_hosts_file(kp->pod, kp->pod_ip, k->cfg->cluster_domain, &s);
	kc_write_file_replace(p, s.buf, s.len, 0644, &err);
	free(p);
	kc_str_reset(&s);
	char host[64];
	kl_pod_hostname(kp->pod, host, sizeof host);
	kc_str_addf(&s, "%s\n", host);
	p = pod_file(k, kp, "etc-hostname");
	kc_write_file_replace(p, s.buf, s.len, 0644, &err);
	free(p);
	kc_str_reset(&s);
	unsigned char *hr = NULL;
	size_t hl = 0;
	struct kc_err e2;
	kc_read_file("/etc/resolv.conf", 64 << 10, &hr, &hl, &e2);
	char *hrs = hr ? xstrndup((char *)hr, hl) : NULL;
	char dns[64];
	net_ip_format(&k->cfg->cluster_dns, dns, sizeof dns);
	if (kl_resolv_conf(kp->pod, dns, k->cfg->cluster_domain, hrs, &s, &err) == 0) {
		p = pod_file(k, kp, "resolv.conf");
		kc_write_file_replace(p, s.buf, s.len, 0644, &err);
		free(p);
	}
	free(hr);
	free(hrs);
	kc_str_free(&s);
}

static void add_mount(struct rt_spec *s, const char *src, const char *dst, bool ro)
{
	s->mounts = xrealloc(s->mounts, (s->n_mounts + 2) * sizeof *s->mounts);
	struct rt_mount *m = &s->mounts[s->n_mounts++];
	memset(m, 0, sizeof *m);
	memset(m + 1, 0, sizeof *m);
	m->source = xstrdup(src);
	m->target = xstrdup(dst);
	m->readonly = ro;
}

static void set_waiting(struct kctr *c, const char *reason, const char *msg)
{
	snprintf(c->waiting, sizeof c->waiting, "%s", reason);
	if (msg != c->waiting_msg)
		snprintf(c->waiting_msg, sizeof c->waiting_msg, "%s", msg ? msg : "");
}

static void set_backoff_msg(struct kctr *c, const struct kpod *kp)
{
	/* the back-off as Go prints a time.Duration: "40s", "1m20s", "5m0s" */
	char d[32];
	if (c->backoff_s < 60)
		snprintf(d, sizeof d, "%us", c->backoff_s);
	else
		snprintf(d, sizeof d, "%um%us", c->backoff_s / 60, c->backoff_s % 60);
	char m[sizeof c->waiting_msg];
	snprintf(m, sizeof m, "back-off %s restarting failed container=%s pod=%s_%s(%s)", d,
		 c->name, kp->name, kp->ns, kp->uid);
	memcpy(c->waiting_msg, m, sizeof m);
}

/* Creates and starts the container's current attempt. Returns 0 when it runs (or ran and
 * exited at once), or a negative code with the waiting reason set. */
static int start_container(struct kubelet *k, struct kpod *kp, struct kctr *c, const cJSON *spec_c,
			   struct objcache *cache)
{
	struct kc_err err = { 0 };
	const char *image = kc_json_get_str(spec_c, "image");
	if (!image) {
		set_waiting(c, "InvalidImageName", "no image");
		return -KC_EINVAL;
	}
	enum image_pull_policy pol = image_default_pull_policy(image);
	const char *ps = kc_json_get_str(spec_c, "imagePullPolicy");
	if (ps)
		image_pull_policy_parse(ps, &pol);
	struct image *img = NULL;
	struct image_ref ref;
	if (image_ref_parse(image, &ref, &err) < 0) {
		set_waiting(c, "InvalidImageName", err.msg);
		ev(kp, "Warning", "InspectFailed", "Failed to apply default image tag \"%s\": %s", image, err.msg);
		return -KC_EINVAL;
	}
	struct image *have = NULL;
	bool present = image_lookup(k->images, image, &have, &err) == 0;
	image_free(have);
	if (pol == IMAGE_PULL_ALWAYS || !present)
		ev(kp, "Normal", "Pulling", "Pulling image \"%s\"", image);
	else
		ev(kp, "Normal", "Pulled", "Container image \"%s\" already present on machine", image);
	uint64_t t0 = wall_ms();
	memset(&err, 0, sizeof err);
	if (image_ensure(k->images, image, pol, NULL, &img, &err) < 0) {
		bool never = strstr(err.msg, "ErrImageNeverPull") != NULL;
		bool again = !strcmp(c->waiting, "ErrImagePull") || !strcmp(c->waiting, "ImagePullBackOff");
		set_waiting(c, never ? "ErrImageNeverPull" : again ? "ImagePullBackOff" : "ErrImagePull", err.msg);
		ev(kp, "Warning", "Failed", "Failed to pull image \"%s\": %s", image, err.msg);
		if (!never) {
			c->backoff_s = kl_backoff_next(c->backoff_s);
			c->backoff_until = wall_ms() + c->backoff_s * 1000ULL;
			ev(kp, "Normal", "BackOff", "Back-off pulling image \"%s\"", image);
		}
		return -KC_ENOTFOUND;
	}
	if (pol == IMAGE_PULL_ALWAYS || !present)
		ev(kp, "Normal", "Pulled", "Successfully pulled image \"%s\" in %llums", image,
		   (unsigned long long)(wall_ms() - t0));
	snprintf(c->image, sizeof c->image, "%s", image);
	snprintf(c->image_id, sizeof c->image_id, "%s", img->digest[0] ? img->digest : img->id);

	char **env = NULL;
	size_t nenv = 0;
	cJSON *svcs = services_for(k, kp->ns);
	struct kl_lookup lk = { lk_cm, lk_secret, cache, svcs, k->node_ip, kp->pod_ip, k->node };
	int rc = kl_env_resolve(kp->pod, spec_c, &lk, &env, &nenv, &err);
	cJSON_Delete(svcs);
	if (rc < 0) {
		set_waiting(c, "CreateContainerConfigError", err.msg);
		ev(kp, "Warning", "Failed", "Error: %s", err.msg);
		image_free(img);
		return rc;
	}
	struct rt_spec s;
	rt_spec_init(&s);
	s.name = xstrdup(c->name);
	s.pod_uid = xstrdup(kp->uid);
	s.restart = c->attempt;
	s.dir = kl_ctr_dir(k, kp->uid, c->name, c->attempt);
	s.layers = xcalloc(img->nlayers + 1, sizeof(char *));
	for (size_t i = 0; i < img->nlayers; i++)
		s.layers[i] = xstrdup(img->layer_dirs[i]);
	s.n_layers = img->nlayers;
	bool host_net = kc_json_get_bool(kp->pod, "spec.hostNetwork", false);
	s.host_network = host_net;
	if (!host_net)
		s.netns = xasprintf("%s/netns/%s", k->data, kp->uid);
	char host[64];
	kl_pod_hostname(kp->pod, host, sizeof host);
	s.hostname = xstrdup(host_net ? k->node : host);
	s.host_pid = kc_json_get_bool(kp->pod, "spec.hostPID", false);
	s.host_ipc = kc_json_get_bool(kp->pod, "spec.hostIPC", false);
	char **command = json_strv(kc_json_get(spec_c, "command"));
	char **args = json_strv(kc_json_get(spec_c, "args"));
	s.env = rt_merge_env(img->env, env, &s.n_env);
	rc = rt_merge_command(img->entrypoint, img->cmd, command, args, s.env, &s.argv, &s.argc, &err);
	rt_strv_free(command);
	rt_strv_free(args);
	rt_strv_free(env);
	if (rc < 0) {
		set_waiting(c, "CreateContainerError", err.msg);
		ev(kp, "Warning", "Failed", "Error: %s", err.msg);
		goto out;
	}
	const char *wd = kc_json_get_str(spec_c, "workingDir");
	if (wd && *wd)
		s.cwd = xstrdup(wd);
	else if (img->working_dir && *img->working_dir)
		s.cwd = xstrdup(img->working_dir);
	/* securityContext: container over pod */
	const cJSON *psc = kc_json_get(kp->pod, "spec.securityContext");
	const cJSON *csc = kc_json_get(spec_c, "securityContext");
	long long uid = -1, gid = -1;
	if (kc_json_get_i64(csc, "runAsUser", &uid) < 0)
		kc_json_get_i64(psc, "runAsUser", &uid);
	if (kc_json_get_i64(csc, "runAsGroup", &gid) < 0)
		kc_json_get_i64(psc, "runAsGroup", &gid);
	if (uid >= 0)
		s.user = xasprintf("%lld", uid);
	else if (img->user && *img->user)
		s.user = xstrdup(img->user);
	s.run_as_group = gid;
	s.run_as_non_root = kc_json_get_bool(csc, "runAsNonRoot", kc_json_get_bool(psc, "runAsNonRoot", false));
	const cJSON *sg;
	cJSON_ArrayForEach(sg, kc_json_get(psc, "supplementalGroups"))
		if (cJSON_IsNumber(sg) && s.n_groups < RT_MAX_GROUPS)
			s.groups[s.n_groups++] = (uint32_t)sg->valuedouble;
	s.privileged = kc_json_get_bool(csc, "privileged", false);
	s.read_only_rootfs = kc_json_get_bool(csc, "readOnlyRootFilesystem", false);
	s.no_new_privs = !kc_json_get_bool(csc, "allowPrivilegeEscalation", true);
	const char *sp = kc_json_get_str(csc, "seccompProfile.type");
	if (!sp)
		sp = kc_json_get_str(psc, "seccompProfile.type");
	s.seccomp = sp && !strcmp(sp, "RuntimeDefault") ? RT_SECCOMP_RUNTIME_DEFAULT : RT_SECCOMP_UNCONFINED;
	char **add = json_strv(kc_json_get(csc, "capabilities.add"));
	char **drop = json_strv(kc_json_get(csc, "capabilities.drop"));
	rc = rt_caps_compute(s.privileged, add, drop, &s.caps, &err);
	rt_strv_free(add);
	rt_strv_free(drop);
	if (rc < 0) {
		set_waiting(c, "CreateContainerError", err.msg);
		goto out;
	}
	s.tty = kc_json_get_bool(spec_c, "tty", false);
	s.stdin_open = kc_json_get_bool(spec_c, "stdin", false);
	s.stdin_once = kc_json_get_bool(spec_c, "stdinOnce", false);
	/* volume mounts */
	const cJSON *vm;
	cJSON_ArrayForEach(vm, kc_json_get(spec_c, "volumeMounts")) {
		const char *vn = kc_json_get_str(vm, "name"), *mp = kc_json_get_str(vm, "mountPath");
		if (!vn || !mp)
			continue;
		char *src = volume_source(k, kp, vn);
		if (!src) {
			rc = -KC_ENOTFOUND;
			set_waiting(c, "CreateContainerConfigError", "");
			snprintf(c->waiting_msg, sizeof c->waiting_msg, "cannot find volume \"%s\" to mount into container \"%s\"", vn, c->name);
			goto out;
		}
		const char *sub = kc_json_get_str(vm, "subPath");
		if (sub && *sub) {
			if (strstr(sub, "..") || sub[0] == '/') {
				free(src);
				rc = -KC_EINVAL;
				set_waiting(c, "CreateContainerConfigError", "subPath must not contain '..' or be absolute");
				goto out;
			}
			char *full = xasprintf("%s/%s", src, sub);
			struct stat st;
			if (stat(full, &st) < 0)
				kc_mkdir_p(full, 0755);
			free(src);
			src = full;
		}
		add_mount(&s, src, mp, kc_json_get_bool(vm, "readOnly", false));
		const char *prop = kc_json_get_str(vm, "mountPropagation");
		if (prop && !strcmp(prop, "HostToContainer"))
			s.mounts[s.n_mounts - 1].propagation = RT_PROP_HOST_TO_CONTAINER;
		else if (prop && !strcmp(prop, "Bidirectional"))
			s.mounts[s.n_mounts - 1].propagation = RT_PROP_BIDIRECTIONAL;
		free(src);
	}
	char *p = pod_file(k, kp, "etc-hosts");
	if (!host_net)
		add_mount(&s, p, "/etc/hosts", false);
	free(p);
	p = pod_file(k, kp, "etc-hostname");
	add_mount(&s, p, "/etc/hostname", false);
	free(p);
	p = pod_file(k, kp, "resolv.conf");
	add_mount(&s, p, "/etc/resolv.conf", false);
	free(p);
	/* termination log */
	char *tl = xasprintf("%s/pods/%s/containers/%s-%d.termination-log", k->data, kp->uid, c->name, c->attempt);
	int tfd = open(tl, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
	if (tfd >= 0) {
		close(tfd);
		add_mount(&s, tl, kc_json_get_str(spec_c, "terminationMessagePath") ?
			  kc_json_get_str(spec_c, "terminationMessagePath") : "/dev/termination-log", false);
	}
	free(tl);
	/* cgroups */
	struct rt_resources res;
	resources_of(spec_c, &res);
	enum rt_qos qos = pod_qos(kp->pod);
	char podpath[512];
	enum rt_cgroup_mode mode;
	if (rt_cgroup_pod_path(podpath, sizeof podpath, RT_CGROUP_TOP, qos, kp->uid) == 0 &&
	    rt_cgroup_detect_mode(RT_CGROUP_ROOT, &mode, &err) == 0) {
		struct rt_cgroup *pcg = rt_cgroup_new(RT_CGROUP_ROOT, mode, podpath);
		struct rt_resources all[KL_MAX_CONTAINERS];
		size_t na = 0;
		const cJSON *cc;
		cJSON_ArrayForEach(cc, kc_json_get(kp->pod, "spec.containers"))
			if (na < KL_MAX_CONTAINERS)
				resources_of(cc, &all[na++]);
		struct rt_cgroup_limits plim;
		rt_pod_limits(all, na, &plim);
		if (pcg && rt_cgroup_create(pcg, &plim, &err) == 0) {
			s.cgroup_path = xasprintf("%s/%s-%d", podpath, c->name, c->attempt);
			s.cgroup_root = xstrdup(RT_CGROUP_ROOT);
			rt_container_limits(&res, &s.limits);
			s.limits.restrict_devices = !s.privileged;
		} else {
			log_warn("kubelet: pod cgroup pod=%s/%s err=\"%s\"", kp->ns, kp->name, err.msg);
		}
		rt_cgroup_free(pcg);
	} else {
		/* e.g. under `ip netns exec`, whose fresh sysfs has an empty /sys/fs/cgroup */
		log_warn("kubelet: no cgroups, container runs without limits pod=%s/%s container=%s err=\"%s\"",
			 kp->ns, kp->name, c->name, err.msg);
	}
	s.oom_score_adj = qos == RT_QOS_GUARANTEED ? -997 : qos == RT_QOS_BESTEFFORT ? 1000 : 500;
	s.log_path = xasprintf("%s/logs/%s/%s/%d.log", k->data, kp->uid, c->name, c->attempt);
	s.log_max_size = 10 << 20;
	s.log_max_files = 5;
	if ((rc = kc_mkdir_p(s.dir, 0711)) < 0) {
		set_waiting(c, "CreateContainerError", strerror(-rc));
		goto out;
	}
	struct kc_str js = KC_STR_INIT;
	rt_spec_to_json(&s, &js);
	char *cfgp = xasprintf("%s/config.json", s.dir);
	rc = kc_write_file_replace(cfgp, js.buf, js.len, 0600, &err);
	free(cfgp);
	kc_str_free(&js);
	if (rc < 0) {
		set_waiting(c, "CreateContainerError", err.msg);
		goto out;
	}
	ev(kp, "Normal", "Created", "Created container %s", c->name);
	c->exists = true;
	rc = rt_shim_spawn(s.dir, false, &c->st, &err);
	if (rc < 0) {
		ev(kp, "Warning", "Failed", "Error: %s", err.msg);
		struct kc_err e2;
		rt_shim_query(s.dir, &c->st, &e2);
		rc = 0; /* recorded as exited (StartError); the restart logic takes it from here */
	} else {
		ev(kp, "Normal", "Started", "Started container %s", c->name);
	}
	c->waiting[0] = 0;
	c->started = false;
	c->ready = false;
	c->post_start_done = false;
	c->live_fail = c->ready_ok = c->ready_fail = c->start_fail = 0;
	c->ran_since = wall_ms();
	c->next_live = c->next_ready = c->next_start = 0;
out:
	rt_spec_free(&s);
	image_free(img);
	return rc;
}

/* Runs argv in the container with a timeout; output (up to cap) into out. Returns the exit
 * code, or -1 when it could not run or timed out. */
static int exec_in(const char *dir, char *const *argv, unsigned timeout_ms, char *out, size_t cap)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct kc_str req = KC_STR_INIT;
	kc_str_adds(&req, "{\"op\":\"exec\",\"args\":[");
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			kc_str_addc(&req, ',');
		kc_json_write_string(&req, argv[i]);
	}
	kc_str_adds(&req, "],\"tty\":false}");
	int fds[3] = { devnull, pfd[1], pfd[1] };
	struct kc_err err;
	int sock = rt_shim_request(dir, req.buf, fds, 3, &err);
	kc_str_free(&req);
	close(devnull);
	close(pfd[1]);
	if (sock < 0) {
		close(pfd[0]);
		return -1;
	}
	size_t got = 0;
	int code = -1;
	long long pid = 0;
	uint64_t end = wall_ms() + timeout_ms;
	struct pollfd p[2] = { { sock, POLLIN, 0 }, { pfd[0], POLLIN, 0 } };
	for (;;) {
		uint64_t now = wall_ms();
		if (now >= end) {
			if (pid > 0)
				kill((pid_t)pid, SIGKILL);
			code = -1;
			break;
		}
		if (poll(p, 2, (int)(end - now)) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			char b[1024];
			ssize_t n = read(pfd[0], b, sizeof b);
			if (n <= 0)
				p[1].fd = -1;
			else if (out && got + 1 < cap) {
				size_t c = (size_t)n < cap - 1 - got ? (size_t)n : cap - 1 - got;
				memcpy(out + got, b, c);
				got += c;
			}
		}
		if (p[0].revents) {
			char b[4096];
			ssize_t n = rt_shim_recv(sock, b, sizeof b);
			if (n <= 0)
				break;
			cJSON *o = NULL;
			if (kc_json_parse(b, (size_t)n, NULL, &o, &err) == 0) {
				long long x;
				if (kc_json_get_i64(o, "pid", &x) == 0)
					pid = x;
				if (kc_json_get_i64(o, "exitCode", &x) == 0) {
					code = (int)x;
					cJSON_Delete(o);
					break;
				}
				if (kc_json_get_str(o, "error")) {
					if (out)
						snprintf(out, cap, "%s", kc_json_get_str(o, "error"));
					got = out ? strlen(out) : 0;
					cJSON_Delete(o);
					break;
				}
			}
			cJSON_Delete(o);
		}
	}
	if (out)
		out[got] = 0;
	close(sock);
	close(pfd[0]);
	return code;
}

static int port_of(const cJSON *c, const cJSON *port)
{
	if (cJSON_IsNumber(port))
		return (int)port->valuedouble;
	if (cJSON_IsString(port)) {
		const cJSON *p;
		cJSON_ArrayForEach(p, kc_json_get(c, "ports")) {
			const char *n = kc_json_get_str(p, "name");
			long long cp;
			if (n && !strcmp(n, port->valuestring) && kc_json_get_i64(p, "containerPort", &cp) == 0)
				return (int)cp;
		}
		return atoi(port->valuestring);
	}
	return 0;
}

/* One probe: true on success; msg gets the failure. */
static bool run_probe(struct kubelet *k, struct kpod *kp, struct kctr *c, const cJSON *ctr,
		      const cJSON *probe, char *msg, size_t cap)
{
	long long to = 1;
	kc_json_get_i64(probe, "timeoutSeconds", &to);
	unsigned tms = (unsigned)(to < 1 ? 1 : to) * 1000;
	msg[0] = 0;
	const cJSON *x;
	if ((x = kc_json_get(probe, "exec"))) {
		char **argv = json_strv(kc_json_get(x, "command"));
		if (!argv || !argv[0]) {
			rt_strv_free(argv);
			snprintf(msg, cap, "no command");
			return false;
		}
		char *dir = kl_ctr_dir(k, kp->uid, c->name, c->attempt);
		char out[512];
		int code = exec_in(dir, argv, tms, out, sizeof out);
		free(dir);
		rt_strv_free(argv);
		if (code == 0)
			return true;
		if (code < 0)
			snprintf(msg, cap, "command timed out or failed: %s", out);
		else
			snprintf(msg, cap, "%s", out[0] ? out : "command failed");
		if (code > 0 && !out[0])
			snprintf(msg, cap, "command exited with %d", code);
		return false;
	}
	const char *host = kp->pod_ip[0] ? kp->pod_ip : "127.0.0.1";
	if ((x = kc_json_get(probe, "httpGet"))) {
		int port = port_of(ctr, kc_json_get(x, "port"));
		const char *path = kc_json_get_str(x, "path");
		const char *scheme = kc_json_get_str(x, "scheme");
		const char *h = kc_json_get_str(x, "host");
		char url[1024];
		snprintf(url, sizeof url, "%s://%s:%d%s%s", scheme && !strcmp(scheme, "HTTPS") ? "https" : "http",
			 h ? h : host, port, path && path[0] == '/' ? "" : "/", path ? path : "");
		struct http_client_config cc = { .connect_timeout_ms = tms, .request_timeout_ms = tms,
						 .max_body_bytes = 10 << 10 };
		struct http_client_header hd[8];
		size_t nh = 0;
		hd[nh++] = (struct http_client_header){ "User-Agent", "kube-probe/1.32" };
		hd[nh++] = (struct http_client_header){ "Accept", "*/*" };
		const cJSON *hh;
		cJSON_ArrayForEach(hh, kc_json_get(x, "httpHeaders"))
			if (nh < 8 && kc_json_get_str(hh, "name") && kc_json_get_str(hh, "value"))
				hd[nh++] = (struct http_client_header){ kc_json_get_str(hh, "name"), kc_json_get_str(hh, "value") };
		struct http_client_response r = { 0 };
		struct kc_err err = { 0 };
		int rc = http_client_do(&cc, "GET", url, hd, nh, NULL, 0, &r, &err);
		bool ok = rc == 0 && r.status >= 200 && r.status < 400;
		if (rc < 0)
			snprintf(msg, cap, "Get \"%s\": %s", url, err.msg);
		else if (!ok)
			snprintf(msg, cap, "HTTP probe failed with statuscode: %d", r.status);
		http_client_response_free(&r);
		return ok;
	}
	if ((x = kc_json_get(probe, "tcpSocket"))) {
		int port = port_of(ctr, kc_json_get(x, "port"));
		struct net_ip ip;
		const char *h = kc_json_get_str(x, "host");
		if (net_ip_parse(h ? h : host, &ip) < 0) {
			snprintf(msg, cap, "bad host");
			return false;
		}
		struct sockaddr_storage sa;
		socklen_t sl = net_sockaddr(&ip, (uint16_t)port, &sa);
		int fd = socket(ip.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		bool ok = false;
		if (fd >= 0) {
			int r = connect(fd, (struct sockaddr *)&sa, sl);
			if (r == 0)
				ok = true;
			else if (errno == EINPROGRESS) {
				struct pollfd p = { fd, POLLOUT, 0 };
				int e = 0;
				socklen_t el = sizeof e;
				if (poll(&p, 1, (int)tms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
					ok = true;
				else
					errno = e ? e : ETIMEDOUT;
			}
			if (!ok)
				snprintf(msg, cap, "dial tcp %s:%d: connect: %s", h ? h : host, port, strerror(errno));
			close(fd);
		}
		return ok;
	}
	return true;
}

static void stop_container(struct kubelet *k, struct kpod *kp, struct kctr *c, int64_t grace_s,
			   const char *why)
{
	char *dir = kl_ctr_dir(k, kp->uid, c->name, c->attempt);
	struct kc_err err = { 0 };
	struct rt_state st;
	if (rt_shim_query(dir, &st, &err) == 0 && !strcmp(st.status, "running")) {
		const cJSON *spec_c = find_container(kp->pod, c->name, NULL);
		char **pre = json_strv(kc_json_get(spec_c, "lifecycle.preStop.exec.command"));
		uint64_t end = wall_ms() + (uint64_t)(grace_s > 0 ? grace_s : 0) * 1000;
		if (pre && pre[0])
			exec_in(dir, pre, (unsigned)(grace_s > 0 ? grace_s * 1000 : 2000), NULL, 0);
		rt_strv_free(pre);
		if (why)
			ev(kp, "Normal", "Killing", "Stopping container %s", c->name);
		rt_shim_kill(dir, SIGTERM, false, &err);
		while (wall_ms() < end) {
			if (rt_shim_query(dir, &st, &err) < 0 || strcmp(st.status, "running") != 0)
				break;
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (rt_shim_query(dir, &st, &err) == 0 && !strcmp(st.status, "running")) {
			rt_shim_kill(dir, SIGKILL, true, &err);
			for (int i = 0; i < 250; i++) {
				if (rt_shim_query(dir, &st, &err) < 0 || strcmp(st.status, "running") != 0)
					break;
				struct timespec ts = { 0, 20 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
		}
	}
	rt_shim_query(dir, &c->st, &err);
	free(dir);
}

/* Removes a container attempt's dir and cgroup. */
static void remove_attempt(struct kubelet *k, const char *uid, const char *name, int attempt)
{
	char *dir = kl_ctr_dir(k, uid, name, attempt);
	char *cfgp = xasprintf("%s/config.json", dir);
	unsigned char *buf = NULL;
	size_t len = 0;
	struct kc_err err = { 0 };
	if (kc_read_file(cfgp, RT_SPEC_MAX_BYTES, &buf, &len, &err) == 0) {
		struct rt_spec s;
		if (rt_spec_from_json((char *)buf, len, &s, &err) == 0) {
			enum rt_cgroup_mode mode;
			if (s.cgroup_path && rt_cgroup_detect_mode(RT_CGROUP_ROOT, &mode, &err) == 0) {
				struct rt_cgroup *cg = rt_cgroup_new(RT_CGROUP_ROOT, mode, s.cgroup_path);
				if (cg)
					rt_cgroup_destroy(cg, &err);
				rt_cgroup_free(cg);
			}
			rt_spec_free(&s);
		}
		free(buf);
	}
	free(cfgp);
	kc_remove_tree(dir);
	free(dir);
	char *tl = xasprintf("%s/pods/%s/containers/%s-%d.termination-log", k->data, uid, name, attempt);
	unlink(tl);
	free(tl);
}

/* Finds attempts on disk for a container name: the highest into *cur, the one below into
 * *prev (-1 when none). Older ones are removed. */
static void scan_attempts(struct kubelet *k, const char *uid, const char *name, int *cur, int *prev)
{
	*cur = *prev = -1;
	char *cdir = xasprintf("%s/pods/%s/containers", k->data, uid);
	DIR *d = opendir(cdir);
	int found[64];
	size_t nf = 0;
	size_t nl = strlen(name);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, name, nl) || de->d_name[nl] != '-')
			continue;
		char *end;
		long a = strtol(de->d_name + nl + 1, &end, 10);
		if (*end || a < 0 || a > 1000000)
			continue;
		if (nf < 64)
			found[nf++] = (int)a;
	}
	if (d)
		closedir(d);
	free(cdir);
	for (size_t i = 0; i < nf; i++)
		if (found[i] > *cur)
			*cur = found[i];
	for (size_t i = 0; i < nf; i++)
		if (found[i] < *cur && found[i] > *prev)
			*prev = found[i];
	for (size_t i = 0; i < nf; i++)
		if (found[i] != *cur && found[i] != *prev)
			remove_attempt(k, uid, name, found[i]);
}

/* Matches kp->ctrs with the spec, reading attempts from disk for new entries. */
static void load_containers(struct kubelet *k, struct kpod *kp)
{
	const char *lists[] = { "spec.initContainers", "spec.containers" };
	for (int li = 0; li < 2; li++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, kc_json_get(kp->pod, lists[li])) {
			const char *name = kc_json_get_str(c, "name");
			if (!name)
				continue;
			struct kctr *kc = NULL;
			for (size_t i = 0; i < kp->nctrs; i++)
				if (!strcmp(kp->ctrs[i].name, name))
					kc = &kp->ctrs[i];
			if (kc)
				continue;
			if (kp->nctrs >= KL_MAX_CONTAINERS)
				break;
			kc = &kp->ctrs[kp->nctrs++];
			memset(kc, 0, sizeof *kc);
			snprintf(kc->name, sizeof kc->name, "%s", name);
			kc->init = li == 0;
			int cur, prev;
			scan_attempts(k, kp->uid, name, &cur, &prev);
			struct kc_err err;
			if (cur >= 0) {
				kc->attempt = cur;
				kc->exists = true;
				char *dir = kl_ctr_dir(k, kp->uid, name, cur);
				if (rt_shim_query(dir, &kc->st, &err) < 0)
					kc->exists = false;
				kc->started = !strcmp(kc->st.status, "running");
				kc->ran_since = kc->st.started_ns / 1000000;
				free(dir);
				const char *img = kc_json_get_str(c, "image");
				snprintf(kc->image, sizeof kc->image, "%s", img ? img : "");
				struct image *im = NULL;
				if (img && image_lookup(k->images, img, &im, &err) == 0)
					snprintf(kc->image_id, sizeof kc->image_id, "%s", im->digest[0] ? im->digest : im->id);
				image_free(im);
				kc->post_start_done = true;
			}
			if (prev >= 0) {
				char *dir = kl_ctr_dir(k, kp->uid, name, prev);
				if (rt_shim_query(dir, &kc->last, &err) == 0)
					kc->have_last = true;
				free(dir);
			}
		}
	}
}

static cJSON *state_json(const struct rt_state *st, const char *cid, bool last)
{
	cJSON *s = kc_json_new_object();
	char t1[40], t2[40];
	if (!strcmp(st->status, "running") && !last) {
		fmt_time_ns(st->started_ns, t1, sizeof t1);
		kc_json_set_str(s, "running.startedAt", t1);
	} else {
		cJSON *t = kc_json_new_object();
		kc_json_set_i64(t, "exitCode", st->exit_code);
		if (st->signal)
			kc_json_set_i64(t, "signal", st->signal);
		const char *reason = st->oom_killed ? "OOMKilled" : st->reason[0] ? st->reason
				     : st->exit_code == 0 ? "Completed" : "Error";
		kc_json_set_str(t, "reason", reason);
		if (st->message[0])
			kc_json_set_str(t, "message", st->message);
		fmt_time_ns(st->started_ns ? st->started_ns : st->created_ns, t1, sizeof t1);
		fmt_time_ns(st->finished_ns ? st->finished_ns : st->started_ns, t2, sizeof t2);
		if (st->started_ns || st->created_ns)
			kc_json_set_str(t, "startedAt", t1);
		else
			kc_json_set(t, "startedAt", kc_json_new_null());
		kc_json_set_str(t, "finishedAt", t2);
		kc_json_set_str(t, "containerID", cid);
		kc_json_add(s, "terminated", t);
	}
	return s;
}

static bool exited(const struct kctr *c)
{
	return c->exists && strcmp(c->st.status, "running") != 0 && strcmp(c->st.status, "created") != 0;
}

static bool running(const struct kctr *c)
{
	return c->exists && !strcmp(c->st.status, "running");
}

static cJSON *ctr_status(struct kubelet *k, struct kpod *kp, struct kctr *c, const cJSON *spec_c)
{
	cJSON *s = kc_json_new_object();
	char cid[200];
	snprintf(cid, sizeof cid, "kc://%s-%s-%d", kp->uid, c->name, c->attempt);
	kc_json_set_str(s, "name", c->name);
	if (c->exists && !c->waiting[0]) {
		kc_json_add(s, "state", state_json(&c->st, cid, false));
		kc_json_set_str(s, "containerID", cid);
	} else {
		/* kubelet's default waiting state (convertToAPIContainerStatuses): PodInitializing
		 * for every container of a pod with init containers, also after a failed init */
		const char *def = cJSON_GetArraySize(kc_json_get(kp->pod, "spec.initContainers")) > 0 ?
					  "PodInitializing" : "ContainerCreating";
		cJSON *w = kc_json_new_object();
		kc_json_set_str(w, "waiting.reason", c->waiting[0] ? c->waiting : def);
		if (c->waiting_msg[0])
			kc_json_set_str(w, "waiting.message", c->waiting_msg);
		kc_json_add(s, "state", w);
	}
	if (c->have_last) {
		char lcid[200];
		snprintf(lcid, sizeof lcid, "kc://%s-%s-%d", kp->uid, c->name, c->attempt - 1);
		kc_json_add(s, "lastState", state_json(&c->last, lcid, true));
	} else {
		kc_json_add(s, "lastState", kc_json_new_object());
	}
	kc_json_set_bool(s, "ready", c->ready && running(c));
	kc_json_set_i64(s, "restartCount", c->attempt);
	const char *img = kc_json_get_str(spec_c, "image");
	kc_json_set_str(s, "image", c->image[0] ? c->image : img ? img : "");
	kc_json_set_str(s, "imageID", c->image_id);
	kc_json_set_bool(s, "started", running(c) && c->started);
	(void)k;
	return s;
}

static void set_cond(cJSON *conds, const cJSON *old_conds, const char *type, bool ok,
		     const char *reason, const char *now)
{
	cJSON *c = kc_json_new_object();
	kc_json_set_str(c, "type", type);
	kc_json_set_str(c, "status", ok ? "True" : "False");
	kc_json_set(c, "lastProbeTime", kc_json_new_null());
	const char *ts = now;
	const cJSON *oc;
	cJSON_ArrayForEach(oc, old_conds) {
		const char *t = kc_json_get_str(oc, "type"), *st = kc_json_get_str(oc, "status");
		if (t && !strcmp(t, type) && st && !strcmp(st, ok ? "True" : "False") &&
		    kc_json_get_str(oc, "lastTransitionTime"))
			ts = kc_json_get_str(oc, "lastTransitionTime");
	}
	kc_json_set_str(c, "lastTransitionTime", ts);
	if (!ok && reason)
		kc_json_set_str(c, "reason", reason);
	cJSON_AddItemToArray(conds, c);
}

static void compute_status(struct kubelet *k, struct kpod *kp, bool init_done, bool failed_init)
{
	const cJSON *pod = kp->pod;
	const char *policy = kc_json_get_str(pod, "spec.restartPolicy");
	if (!policy)
		policy = "Always";
	cJSON *st = kc_json_new_object();
	char now[40];
	fmt_time_ns(wall_ms() * 1000000ULL, now, sizeof now);
	size_t napp = 0, nrun = 0, nready = 0, nsucc = 0, nfail = 0, nwait = 0;
	cJSON *cs = kc_json_new_array(), *ics = kc_json_new_array();
	for (size_t i = 0; i < kp->nctrs; i++) {
		struct kctr *c = &kp->ctrs[i];
		const cJSON *spec_c = find_container(pod, c->name, NULL);
		if (!spec_c)
			continue;
		cJSON_AddItemToArray(c->init ? ics : cs, ctr_status(k, kp, c, spec_c));
		if (c->init)
			continue;
		napp++;
		if (running(c)) {
			nrun++;
			if (c->ready)
				nready++;
		} else if (exited(c) && !c->waiting[0]) {
			bool restarts = !strcmp(policy, "Always") ||
					(!strcmp(policy, "OnFailure") && c->st.exit_code != 0);
			if (restarts)
				nrun++; /* about to restart: the pod is still Running */
			else if (c->st.exit_code == 0)
				nsucc++;
			else
				nfail++;
		} else {
			if (exited(c) || c->have_last)
				nrun++; /* waiting in back-off */
			else
				nwait++;
		}
	}
	const char *phase;
	if (failed_init)
		phase = "Failed";
	else if (!init_done || nwait > 0 || napp == 0)
		phase = nwait > 0 && nrun > 0 ? "Running" : "Pending";
	else if (nrun > 0)
		phase = "Running";
	else if (nfail > 0)
		phase = "Failed";
	else if (nsucc == napp)
		phase = "Succeeded";
	else
		phase = "Running";
	if (!strcmp(phase, "Pending") && init_done && nrun > 0 && nwait == 0)
		phase = "Running";
	kc_json_set_str(st, "phase", phase);
	const cJSON *oldc = kc_json_get(pod, "status.conditions");
	cJSON *conds = kc_json_new_array();
	bool terminal = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
	set_cond(conds, oldc, "PodReadyToStartContainers", kp->net_ready && !kp->stopped, NULL, now);
	set_cond(conds, oldc, "Initialized", init_done, "ContainersNotInitialized", now);
	bool cready = napp > 0 && nready == napp;
	set_cond(conds, oldc, "Ready", cready && !terminal,
		 terminal ? "PodCompleted" : "ContainersNotReady", now);
	set_cond(conds, oldc, "ContainersReady", cready && !terminal,
		 terminal ? "PodCompleted" : "ContainersNotReady", now);
	set_cond(conds, oldc, "PodScheduled", true, NULL, now);
	/* readiness gates */
	const cJSON *g;
	bool gates_ok = true;
	cJSON_ArrayForEach(g, kc_json_get(pod, "spec.readinessGates")) {
		const char *ct = kc_json_get_str(g, "conditionType");
		bool ok = false;
		const cJSON *oc;
		cJSON_ArrayForEach(oc, oldc)
			if (ct && kc_json_get_str(oc, "type") && !strcmp(kc_json_get_str(oc, "type"), ct))
				ok = kc_json_get_str(oc, "status") && !strcmp(kc_json_get_str(oc, "status"), "True");
		gates_ok &= ok;
	}
	if (!gates_ok) {
		cJSON *rc = cJSON_GetArrayItem(conds, 2);
		kc_json_set_str(rc, "status", "False");
		kc_json_set_str(rc, "reason", "ReadinessGatesNotReady");
	}
	/* keep custom conditions (readiness gates) written by others */
	const cJSON *oc;
	cJSON_ArrayForEach(oc, oldc) {
		const char *t = kc_json_get_str(oc, "type");
		if (t && strcmp(t, "PodReadyToStartContainers") && strcmp(t, "Initialized") &&
		    strcmp(t, "Ready") && strcmp(t, "ContainersReady") && strcmp(t, "PodScheduled"))
			cJSON_AddItemToArray(conds, kc_json_dup(oc));
	}
	kc_json_add(st, "conditions", conds);
	kc_json_set_str(st, "hostIP", k->node_ip);
	cJSON *hips = kc_json_new_array();
	cJSON *hip = kc_json_new_object();
	kc_json_set_str(hip, "ip", k->node_ip);
	cJSON_AddItemToArray(hips, hip);
	kc_json_add(st, "hostIPs", hips);
	if (kp->pod_ip[0]) {
		kc_json_set_str(st, "podIP", kp->pod_ip);
		cJSON *pips = kc_json_new_array();
		cJSON *pip = kc_json_new_object();
		kc_json_set_str(pip, "ip", kp->pod_ip);
		cJSON_AddItemToArray(pips, pip);
		kc_json_add(st, "podIPs", pips);
	}
	if (!kp->start_time[0]) {
		const char *old = kc_json_get_str(pod, "status.startTime");
		snprintf(kp->start_time, sizeof kp->start_time, "%s", old ? old : now);
	}
	kc_json_set_str(st, "startTime", kp->start_time);
	if (cJSON_GetArraySize(ics) > 0)
		kc_json_add(st, "initContainerStatuses", ics);
	else
		cJSON_Delete(ics);
	kc_json_add(st, "containerStatuses", cs);
	kc_json_set_str(st, "qosClass", rt_qos_name(pod_qos(pod)));
	cJSON_Delete(kp->status);
	kp->status = st;
}

/* Tears down everything of a pod (containers must be stopped). */
static void cleanup_pod(struct kubelet *k, const char *uid)
{
	char *cdir = xasprintf("%s/pods/%s/containers", k->data, uid);
	DIR *d = opendir(cdir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *dash = strrchr(de->d_name, '-');
		if (!dash || strstr(de->d_name, ".termination-log"))
			continue;
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(dash - de->d_name), de->d_name);
		char *dir = xasprintf("%s/%s", cdir, de->d_name);
		struct rt_state st;
		struct kc_err err;
		if (rt_shim_query(dir, &st, &err) == 0 && !strcmp(st.status, "running")) {
			rt_shim_kill(dir, SIGKILL, true, &err);
			for (int i = 0; i < 100; i++) {
				if (rt_shim_query(dir, &st, &err) < 0 || strcmp(st.status, "running"))
					break;
				struct timespec ts = { 0, 20 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
		}
		free(dir);
		remove_attempt(k, uid, name, atoi(dash + 1));
	}
	if (d)
		closedir(d);
	free(cdir);
	/* pod cgroups of every QoS class */
	struct kc_err err = { 0 };
	enum rt_cgroup_mode mode;
	if (rt_cgroup_detect_mode(RT_CGROUP_ROOT, &mode, &err) == 0)
		for (int q = 0; q < 3; q++) {
			char pp[512];
			if (rt_cgroup_pod_path(pp, sizeof pp, RT_CGROUP_TOP, (enum rt_qos)q, uid) < 0)
				continue;
			struct rt_cgroup *cg = rt_cgroup_new(RT_CGROUP_ROOT, mode, pp);
			if (cg)
				rt_cgroup_destroy(cg, &err);
			rt_cgroup_free(cg);
		}
	/* network */
	pthread_mutex_lock(&k->mu);
	struct rt_podnet *pn = k->podnet;
	pthread_mutex_unlock(&k->mu);
	if (pn)
		rt_podnet_teardown(pn, uid, &err);
	/* volumes: unmount tmpfs emptyDirs first */
	char *ed = xasprintf("%s/pods/%s/volumes/kubernetes.io~empty-dir", k->data, uid);
	d = opendir(ed);
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", ed, de->d_name);
		if (is_mountpoint(p))
			umount2(p, MNT_DETACH);
		free(p);
	}
	if (d)
		closedir(d);
	free(ed);
	char *pd = xasprintf("%s/pods/%s", k->data, uid);
	kc_remove_tree(pd);
	free(pd);
	char *ld = xasprintf("%s/logs/%s", k->data, uid);
	kc_remove_tree(ld);
	free(ld);
}

void kl_adopt_scan(struct kubelet *k)
{
	(void)k; /* adoption happens lazily: load_containers reads the dirs on the first sync */
}

/* Called for a uid with a dir under DATA/pods but no pod in the API. */
void kl_cleanup_orphan(struct kubelet *k, const char *uid);
void kl_cleanup_orphan(struct kubelet *k, const char *uid)
{
	log_info("kubelet: cleaning up orphaned pod uid=%s", uid);
	cleanup_pod(k, uid);
}

void kl_pod_sync(struct kubelet *k, struct kpod *kp)
{
	kp->nevents = 0;
	kp->requeue_ms = 0;
	kp->api_delete = false;
	kp->forget = false;
	if (kp->deleted || !kp->pod) {
		cleanup_pod(k, kp->uid);
		kp->forget = true;
		return;
	}
	load_containers(k, kp);
	bool terminating = kc_json_get(kp->pod, "metadata.deletionTimestamp") != NULL;
	const char *policy = kc_json_get_str(kp->pod, "spec.restartPolicy");
	if (!policy)
		policy = "Always";
	struct kc_err err = { 0 };
	/* refresh container states */
	for (size_t i = 0; i < kp->nctrs; i++) {
		struct kctr *c = &kp->ctrs[i];
		if (!c->exists)
			continue;
		char *dir = kl_ctr_dir(k, kp->uid, c->name, c->attempt);
		if (rt_shim_query(dir, &c->st, &err) < 0)
			c->exists = false;
		free(dir);
	}
	if (terminating) {
		long long grace = 30;
		kc_json_get_i64(kp->pod, "metadata.deletionGracePeriodSeconds", &grace);
		for (size_t i = 0; i < kp->nctrs; i++)
			if (running(&kp->ctrs[i]))
				stop_container(k, kp, &kp->ctrs[i], grace, "Killing");
		kp->stopped = true;
		for (size_t i = 0; i < kp->nctrs; i++)
			kp->ctrs[i].ready = false;
		compute_status(k, kp, true, false);
		kp->api_delete = true;
		return;
	}
	/* sandbox */
	bool host_net = kc_json_get_bool(kp->pod, "spec.hostNetwork", false);
	char *pd = xasprintf("%s/pods/%s", k->data, kp->uid);
	kc_mkdir_p(pd, 0750);
	free(pd);
	if (!kp->net_ready) {
		if (host_net) {
			snprintf(kp->pod_ip, sizeof kp->pod_ip, "%s", k->node_ip);
			kp->net_ready = true;
		} else {
			pthread_mutex_lock(&k->mu);
			struct rt_podnet *pn = k->podnet;
			pthread_mutex_unlock(&k->mu);
			if (!pn) {
				compute_status(k, kp, false, false);
				want_requeue(kp, 500);
				return;
			}
			struct rt_pod_port ports[32];
			size_t np = 0;
			const cJSON *c, *p;
			cJSON_ArrayForEach(c, kc_json_get(kp->pod, "spec.containers"))
				cJSON_ArrayForEach(p, kc_json_get(c, "ports")) {
					long long hp = 0, cp = 0;
					if (kc_json_get_i64(p, "hostPort", &hp) < 0 || hp <= 0 || np >= 32)
						continue;
					kc_json_get_i64(p, "containerPort", &cp);
					const char *pr = kc_json_get_str(p, "protocol");
					ports[np] = (struct rt_pod_port){ .host_port = (uint16_t)hp,
									  .container_port = (uint16_t)cp,
									  .protocol = pr && !strcmp(pr, "UDP") ? 17 : pr && !strcmp(pr, "SCTP") ? 132 : 6 };
					const char *hip = kc_json_get_str(p, "hostIP");
					if (hip)
						net_ip_parse(hip, &ports[np].host_ip);
					np++;
				}
			struct rt_pod_net net;
			if (rt_podnet_setup(pn, kp->uid, ports, np, &net, &err) < 0) {
				ev(kp, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s", err.msg);
				compute_status(k, kp, false, false);
				want_requeue(kp, 5000);
				return;
			}
			net_ip_format(&net.ip, kp->pod_ip, sizeof kp->pod_ip);
			kp->net_ready = true;
		}
		write_etc_files(k, kp);
	}
	struct objcache cache = { .k = k };
	kc_map_init(&cache.m, cj_free);
	uint64_t now = wall_ms();
	if (!kp->volumes_ready || now - kp->volumes_at > 60000) {
		memset(&err, 0, sizeof err);
		if (setup_volumes(k, kp, &cache, &err) < 0) {
			ev(kp, "Warning", "FailedMount", "%s", err.msg);
			if (!kp->volumes_ready) {
				compute_status(k, kp, false, false);
				want_requeue(kp, 5000);
				kc_map_free(&cache.m);
				return;
			}
		} else {
			kp->volumes_ready = true;
			kp->volumes_at = now;
		}
	}
	want_requeue(kp, 60000);
	/* init containers, in order */
	bool init_done = true, failed_init = false;
	for (size_t i = 0; i < kp->nctrs && init_done; i++) {
		struct kctr *c = &kp->ctrs[i];
		if (!c->init)
			continue;
		const cJSON *spec_c = find_container(kp->pod, c->name, NULL);
		if (!spec_c)
			continue;
		if (exited(c) && c->st.exit_code == 0)
			continue;
		init_done = false;
		if (running(c)) {
			want_requeue(kp, 500);
			break;
		}
		if (exited(c)) {
			if (!strcmp(policy, "Never")) {
				failed_init = true;
				break;
			}
			if (wall_ms() < c->backoff_until) {
				set_waiting(c, "CrashLoopBackOff", "");
				set_backoff_msg(c, kp);
				want_requeue(kp, c->backoff_until - wall_ms());
				break;
			}
			c->last = c->st;
			c->have_last = true;
			if (c->attempt > 0)
				remove_attempt(k, kp->uid, c->name, c->attempt - 1);
			c->attempt++;
			c->exists = false;
			c->backoff_s = kl_backoff_next(c->backoff_s);
			c->backoff_until = wall_ms() + c->backoff_s * 1000ULL;
		}
		if (!c->exists && wall_ms() >= c->backoff_until) {
			start_container(k, kp, c, spec_c, &cache);
		}
		want_requeue(kp, 300);
		break;
	}
	if (init_done && !failed_init) {
		for (size_t i = 0; i < kp->nctrs; i++) {
			struct kctr *c = &kp->ctrs[i];
			if (c->init)
				continue;
			const cJSON *spec_c = find_container(kp->pod, c->name, NULL);
			if (!spec_c)
				continue;
			if (exited(c)) {
				bool restart = !strcmp(policy, "Always") ||
					       (!strcmp(policy, "OnFailure") && c->st.exit_code != 0);
				c->ready = false;
				if (!restart)
					continue;
				/* a container that ran 10 minutes clears its back-off */
				if (c->st.finished_ns / 1000000 > c->ran_since + 600000)
					c->backoff_s = 0;
				uint64_t fin = c->st.finished_ns / 1000000;
				uint64_t due = c->backoff_s ? fin + c->backoff_s * 1000ULL : 0;
				if (wall_ms() < due) {
					set_waiting(c, "CrashLoopBackOff", "");
					set_backoff_msg(c, kp);
					if (!c->backoff_until || c->backoff_until != due)
						ev(kp, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c->name, kp->name, kp->ns, kp->uid);
					c->backoff_until = due;
					want_requeue(kp, due - wall_ms());
					continue;
				}
				c->last = c->st;
				c->have_last = true;
				if (c->attempt > 0)
					remove_attempt(k, kp->uid, c->name, c->attempt - 1);
				c->attempt++;
				c->exists = false;
				c->waiting[0] = 0;
				c->backoff_s = kl_backoff_next(c->backoff_s);
			}
			if (!c->exists) {
				if (c->backoff_until && wall_ms() < c->backoff_until &&
				    (!strcmp(c->waiting, "ImagePullBackOff") || !strcmp(c->waiting, "ErrImagePull"))) {
					set_waiting(c, "ImagePullBackOff", c->waiting_msg);
					want_requeue(kp, c->backoff_until - wall_ms());
					continue;
				}
				if (start_container(k, kp, c, spec_c, &cache) < 0) {
					want_requeue(kp, c->backoff_until > wall_ms() ? c->backoff_until - wall_ms() : 5000);
					continue;
				}
				want_requeue(kp, 200);
			}
			if (!running(c))
				continue;
			/* postStart */
			if (!c->post_start_done) {
				c->post_start_done = true;
				char **ps = json_strv(kc_json_get(spec_c, "lifecycle.postStart.exec.command"));
				if (ps && ps[0]) {
					char *dir = kl_ctr_dir(k, kp->uid, c->name, c->attempt);
					char out[256];
					int code = exec_in(dir, ps, 30000, out, sizeof out);
					free(dir);
					if (code != 0) {
						ev(kp, "Warning", "FailedPostStartHook", "PostStartHook failed: %s", out);
						stop_container(k, kp, c, 2, "Killing");
					}
				}
				rt_strv_free(ps);
			}
			/* probes */
			uint64_t t = wall_ms();
			const cJSON *sp = kc_json_get(spec_c, "startupProbe");
			const cJSON *lp = kc_json_get(spec_c, "livenessProbe");
			const cJSON *rp = kc_json_get(spec_c, "readinessProbe");
			if (!sp)
				c->started = true;
			const struct { const cJSON *p; uint64_t *next; int kind; } pr[3] = {
				{ sp, &c->next_start, 0 }, { lp, &c->next_live, 1 }, { rp, &c->next_ready, 2 } };
			for (int j = 0; j < 3; j++) {
				const cJSON *p = pr[j].p;
				if (!p || !running(c))
					continue;
				if (j == 0 && c->started)
					continue;
				if (j > 0 && !c->started)
					continue;
				long long init = 0, period = 10, fth = 3, sth = 1;
				kc_json_get_i64(p, "initialDelaySeconds", &init);
				kc_json_get_i64(p, "periodSeconds", &period);
				kc_json_get_i64(p, "failureThreshold", &fth);
				kc_json_get_i64(p, "successThreshold", &sth);
				if (period < 1)
					period = 1;
				if (!*pr[j].next)
					*pr[j].next = c->ran_since + (uint64_t)init * 1000;
				if (t < *pr[j].next) {
					want_requeue(kp, *pr[j].next - t);
					continue;
				}
				*pr[j].next = t + (uint64_t)period * 1000;
				want_requeue(kp, (uint64_t)period * 1000);
				char msg[512];
				bool ok = run_probe(k, kp, c, spec_c, p, msg, sizeof msg);
				const char *names[] = { "Startup", "Liveness", "Readiness" };
				if (!ok)
					ev(kp, "Warning", "Unhealthy", "%s probe failed: %s", names[j], msg);
				if (j == 0) {
					if (ok) {
						c->started = true;
					} else if (++c->start_fail >= fth) {
						ev(kp, "Normal", "Killing", "Container %s failed startup probe, will be restarted", c->name);
						stop_container(k, kp, c, 2, NULL);
					}
				} else if (j == 1) {
					if (ok)
						c->live_fail = 0;
					else if (++c->live_fail >= fth) {
						ev(kp, "Normal", "Killing", "Container %s failed liveness probe, will be restarted", c->name);
						long long g = 30;
						kc_json_get_i64(kp->pod, "spec.terminationGracePeriodSeconds", &g);
						stop_container(k, kp, c, g, NULL);
						want_requeue(kp, 100);
					}
				} else {
					if (ok) {
						c->ready_fail = 0;
						if (++c->ready_ok >= sth)
							c->ready = true;
					} else {
						c->ready_ok = 0;
						if (++c->ready_fail >= fth)
							c->ready = false;
					}
				}
			}
			if (!rp && c->started)
				c->ready = true;
			if (running(c))
				want_requeue(kp, 2000); /* PLEG: notice exits */
		}
	}
	kc_map_free(&cache.m);
	compute_status(k, kp, init_done, failed_init);
}
