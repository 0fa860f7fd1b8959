/* DESIGN: the pure parts of a pod's set-up, as the kubelet computes them: CrashLoopBackOff
 * delays, /etc/resolv.conf, /etc/hosts, the hostname and the container environment. No I/O:
 * objects come in as cJSON and lookups through struct kl_lookup, so unit tests drive them. */
#include "roles/kubelet/kubelet_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/quantity.h"
#include "runtime/container.h"

#define MAX_SEARCH 32
#define MAX_SEARCH_CHARS 2048
#define MAX_NAMESERVERS 3

unsigned kl_backoff_next(unsigned cur)
{
	if (cur == 0)
		return KL_BACKOFF_BASE_S;
	unsigned n = cur * 2;
	return n > KL_BACKOFF_MAX_S ? KL_BACKOFF_MAX_S : n;
}

static const char *str_or(const cJSON *o, const char *path, const char *def)
{
	const char *s = kc_json_get_str(o, path);
	return s ? s : def;
}

void kl_pod_hostname(const cJSON *pod, char *buf, size_t cap)
{
	const char *h = kc_json_get_str(pod, "spec.hostname");
	if (!h || !*h)
		h = str_or(pod, "metadata.name", "pod");
	/* kubelet truncates to 63 and trims trailing '-' and '.' */
	size_t n = strlen(h);
	if (n > 63)
		n = 63;
	while (n > 1 && (h[n - 1] == '-' || h[n - 1] == '.'))
		n--;
	snprintf(buf, cap, "%.*s", (int)n, h);
}

/* Parses the host's resolv.conf: nameservers, search list and options. */
static void parse_host_resolv(const char *text, char ns[][64], size_t *nns, char srch[][254],
			      size_t *nsrch, char opts[][64], size_t *nopts)
{
	*nns = *nsrch = *nopts = 0;
	if (!text)
		return;
	const char *p = text;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[1024];
		snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
		char *save = NULL, *w = strtok_r(line, " \t\r", &save);
		if (w && w[0] != '#' && w[0] != ';') {
			if (!strcmp(w, "nameserver")) {
				char *v = strtok_r(NULL, " \t\r", &save);
				if (v && *nns < MAX_NAMESERVERS)
					snprintf(ns[(*nns)++], 64, "%s", v);
			} else if (!strcmp(w, "search") || !strcmp(w, "domain")) {
				*nsrch = 0;
				for (char *v; (v = strtok_r(NULL, " \t\r", &save)) && *nsrch < MAX_SEARCH;)
					snprintf(srch[(*nsrch)++], 254, "%s", v);
			} else if (!strcmp(w, "options")) {
				for (char *v; (v = strtok_r(NULL, " \t\r", &save)) && *nopts < 16;)
					snprintf(opts[(*nopts)++], 64, "%s", v);
			}
		}
		p += len;
		if (*p)
			p++;
	}
}

static void add_unique(char list[][254], size_t *n, size_t max, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(list[i], s))
			return;
	if (*n < max)
		snprintf(list[(*n)++], 254, "%s", s);
}

/* Options merge by name (the pod's dnsConfig wins), as kubelet's mergeDNSOptions. */
static void add_option(char opts[][64], size_t *n, const char *name, const char *value)
{
	char full[64];
	if (value && *value)
		snprintf(full, sizeof full, "%s:%s", name, value);
	else
		snprintf(full, sizeof full, "%s", name);
	size_t nl = strlen(name);
	for (size_t i = 0; i < *n; i++)
		if (!strncmp(opts[i], name, nl) && (opts[i][nl] == 0 || opts[i][nl] == ':')) {
			snprintf(opts[i], 64, "%s", full);
			return;
		}
	if (*n < 16)
		snprintf(opts[(*n)++], 64, "%s", full);
}

int kl_resolv_conf(const cJSON *pod, const char *cluster_dns, const char *domain,
		   const char *host_resolv, struct kc_str *out, struct kc_err *err)
{
	char hns[MAX_NAMESERVERS][64], hsrch[MAX_SEARCH][254], hopts[16][64];
	size_t nhns, nhsrch, nhopts;
	parse_host_resolv(host_resolv, hns, &nhns, hsrch, &nhsrch, hopts, &nhopts);
	const char *policy = str_or(pod, "spec.dnsPolicy", "ClusterFirst");
	bool host_net = kc_json_get_bool(pod, "spec.hostNetwork", false);
	char (*n_)[64] = xcalloc(8, 64);
	char (*s_)[254] = xcalloc(MAX_SEARCH + 8, 254);
	char (*o_)[64] = xcalloc(24, 64);
	size_t nn = 0, nsr = 0, no = 0;
	bool cluster = !strcmp(policy, "ClusterFirstWithHostNet") ||
		       (!strcmp(policy, "ClusterFirst") && !host_net);
	if (cluster && cluster_dns && *cluster_dns) {
		const char *pns = str_or(pod, "metadata.namespace", "default");
		char b[300];
		snprintf(n_[nn++], 64, "%s", cluster_dns);
		snprintf(b, sizeof b, "%s.svc.%s", pns, domain);
		add_unique(s_, &nsr, MAX_SEARCH, b);
		snprintf(b, sizeof b, "svc.%s", domain);
		add_unique(s_, &nsr, MAX_SEARCH, b);
		add_unique(s_, &nsr, MAX_SEARCH, domain);
		for (size_t i = 0; i < nhsrch; i++)
			add_unique(s_, &nsr, MAX_SEARCH, hsrch[i]);
		add_option(o_, &no, "ndots", "5");
	} else if (strcmp(policy, "None") != 0) {
		/* Default (and ClusterFirst on the host network): the node's file */
		for (size_t i = 0; i < nhns; i++)
			snprintf(n_[nn++], 64, "%s", hns[i]);
		for (size_t i = 0; i < nhsrch; i++)
			add_unique(s_, &nsr, MAX_SEARCH, hsrch[i]);
		for (size_t i = 0; i < nhopts; i++) {
			char tmp[64];
			snprintf(tmp, sizeof tmp, "%s", hopts[i]);
			char *c = strchr(tmp, ':');
			if (c)
				*c++ = 0;
			add_option(o_, &no, tmp, c);
		}
	}
	const cJSON *dc = kc_json_get(pod, "spec.dnsConfig");
	const cJSON *it;
	cJSON_ArrayForEach(it, kc_json_get(dc, "nameservers"))
		if (cJSON_IsString(it) && nn < 8)
			snprintf(n_[nn++], 64, "%s", it->valuestring);
	cJSON_ArrayForEach(it, kc_json_get(dc, "searches"))
		if (cJSON_IsString(it))
			add_unique(s_, &nsr, MAX_SEARCH, it->valuestring);
	cJSON_ArrayForEach(it, kc_json_get(dc, "options")) {
		const char *nm = kc_json_get_str(it, "name");
		if (nm)
			add_option(o_, &no, nm, kc_json_get_str(it, "value"));
	}
	int rc = 0;
	if (!strcmp(policy, "None") && nn == 0) {
		rc = kc_err_set(err, -KC_EINVAL,
				"dnsPolicy None requires at least one nameserver in dnsConfig");
		goto out;
	}
	if (nn > MAX_NAMESERVERS)
		nn = MAX_NAMESERVERS;
	for (size_t i = 0; i < nn; i++)
		kc_str_addf(out, "nameserver %s\n", n_[i]);
	if (nsr) {
		size_t chars = 0;
		kc_str_adds(out, "search");
		for (size_t i = 0; i < nsr; i++) {
			chars += strlen(s_[i]) + 1;
			if (chars > MAX_SEARCH_CHARS)
				break;
			kc_str_addf(out, " %s", s_[i]);
		}
		kc_str_addc(out, '\n');
	}
	if (no) {
		kc_str_adds(out, "options");
		for (size_t i = 0; i < no; i++)
			kc_str_addf(out, " %s", o_[i]);
		kc_str_addc(out, '\n');
	}
out:
	free(n_);
	free(s_);
	free(o_);
	return rc;
}

void kl_hosts_file(const cJSON *pod, const char *pod_ip, const char *domain, struct kc_str *out)
{
	char host[64];
	kl_pod_hostname(pod, host, sizeof host);
	kc_str_adds(out, "# Kubernetes-managed hosts file.\n"
			 "127.0.0.1\tlocalhost\n"
			 "::1\tlocalhost ip6-localhost ip6-loopback\n"
			 "fe00::0\tip6-localnet\n"
			 "fe00::0\tip6-mcastprefix\n"
			 "fe00::1\tip6-allnodes\n"
			 "fe00::2\tip6-allrouters\n");
	if (pod_ip && *pod_ip) {
		const char *sub = kc_json_get_str(pod, "spec.subdomain");
		if (sub && *sub)
			kc_str_addf(out, "%s\t%s.%s.%s.svc.%s\t%s\n", pod_ip, host, sub,
				    str_or(pod, "metadata.namespace", "default"), domain, host);
		else
			kc_str_addf(out, "%s\t%s\n", pod_ip, host);
	}
	const cJSON *a;
	bool first = true;
	cJSON_ArrayForEach(a, kc_json_get(pod, "spec.hostAliases")) {
		const char *ip = kc_json_get_str(a, "ip");
		if (!ip)
			continue;
		if (first)
			kc_str_adds(out, "\n# Entries added by HostAliases.\n");
		first = false;
		kc_str_addf(out, "%s\t", ip);
		const cJSON *h;
		bool f2 = true;
		cJSON_ArrayForEach(h, kc_json_get(a, "hostnames")) {
			if (!cJSON_IsString(h))
				continue;
			kc_str_addf(out, "%s%s", f2 ? "" : "\t", h->valuestring);
			f2 = false;
		}
		kc_str_addc(out, '\n');
	}
}

/* ---- environment ---- */

struct envb {
	char **v;
	size_t n, cap;
};

static void env_set(struct envb *e, const char *k, const char *v)
{
	size_t kl = strlen(k);
	char *kv = xasprintf("%s=%s", k, v ? v : "");
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], k, kl) && e->v[i][kl] == '=') {
			free(e->v[i]);
			e->v[i] = kv;
			return;
		}
	if (e->n + 2 > e->cap) {
		e->cap = kc_grow_cap(e->cap, e->n + 2, sizeof(char *));
		e->v = xrealloc(e->v, e->cap * sizeof(char *));
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

/* Service links: FOO_SERVICE_HOST / _PORT and the Docker-link variables, for services with a
 * ClusterIP in the namespace (kubelet's getServiceEnvVarMap, minus the kubernetes service of
 * other namespaces). */
static void service_env(struct envb *e, const cJSON *services)
{
	const cJSON *svc;
	cJSON_ArrayForEach(svc, services) {
		const char *name = kc_json_get_str(svc, "metadata.name");
		const char *ip = kc_json_get_str(svc, "spec.clusterIP");
		if (!name || !ip || !*ip || !strcmp(ip, "None"))
			continue;
		char up[256];
		size_t i = 0;
		for (; name[i] && i < sizeof up - 1; i++)
			up[i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
		up[i] = 0;
		const cJSON *ports = kc_json_get(svc, "spec.ports");
		const cJSON *p0 = cJSON_GetArrayItem(ports, 0);
		if (!p0)
			continue;
		long long port0 = 0;
		kc_json_get_i64(p0, "port", &port0);
		char k[300], v[300];
		snprintf(k, sizeof k, "%s_SERVICE_HOST", up);
		env_set(e, k, ip);
		snprintf(k, sizeof k, "%s_SERVICE_PORT", up);
		snprintf(v, sizeof v, "%lld", port0);
		env_set(e, k, v);
		const cJSON *p;
		cJSON_ArrayForEach(p, ports) {
			const char *pn = kc_json_get_str(p, "name");
			long long port = 0;
			kc_json_get_i64(p, "port", &port);
			if (pn && *pn) {
				char pu[64];
				size_t j = 0;
				for (; pn[j] && j < sizeof pu - 1; j++)
					pu[j] = pn[j] == '-' ? '_' : (char)toupper((unsigned char)pn[j]);
				pu[j] = 0;
				snprintf(k, sizeof k, "%s_SERVICE_PORT_%s", up, pu);
				snprintf(v, sizeof v, "%lld", port);
				env_set(e, k, v);
			}
		}
		const char *proto0 = str_or(p0, "protocol", "TCP");
		snprintf(k, sizeof k, "%s_PORT", up);
		snprintf(v, sizeof v, "%s://%s:%lld", !strcmp(proto0, "UDP") ? "udp" : !strcmp(proto0, "SCTP") ? "sctp" : "tcp", ip, port0);
		env_set(e, k, v);
		cJSON_ArrayForEach(p, ports) {
			long long port = 0;
			kc_json_get_i64(p, "port", &port);
			const char *proto = str_or(p, "protocol", "TCP");
			char lp[16];
			size_t j = 0;
			for (; proto[j] && j < sizeof lp - 1; j++)
				lp[j] = (char)tolower((unsigned char)proto[j]);
			lp[j] = 0;
			char pfx[300];
			snprintf(pfx, sizeof pfx, "%s_PORT_%lld_%s", up, port, proto);
			snprintf(v, sizeof v, "%s://%s:%lld", lp, ip, port);
			env_set(e, pfx, v);
			snprintf(k, sizeof k, "%s_PROTO", pfx);
			env_set(e, k, lp);
			snprintf(k, sizeof k, "%s_PORT", pfx);
			snprintf(v, sizeof v, "%lld", port);
			env_set(e, k, v);
			snprintf(k, sizeof k, "%s_ADDR", pfx);
			env_set(e, k, ip);
		}
	}
}

/* The value of a ConfigMap or Secret key as a fresh string, or NULL. */
static char *obj_key(const cJSON *obj, const char *key, bool secret)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(kc_json_get(obj, "data"), key);
	if (cJSON_IsString(d)) {
		if (!secret)
			return xstrdup(d->valuestring);
		struct kc_str s = KC_STR_INIT;
		if (kc_base64_decode(&s, d->valuestring, strlen(d->valuestring), KC_B64_STD, NULL) < 0) {
			kc_str_free(&s);
			return NULL;
		}
		kc_str_addc(&s, 0);
		return kc_str_detach(&s, NULL);
	}
	if (secret) {
		d = cJSON_GetObjectItemCaseSensitive(kc_json_get(obj, "stringData"), key);
		if (cJSON_IsString(d))
			return xstrdup(d->valuestring);
	} else {
		d = cJSON_GetObjectItemCaseSensitive(kc_json_get(obj, "binaryData"), key);
		if (cJSON_IsString(d)) {
			struct kc_str s = KC_STR_INIT;
			kc_base64_decode(&s, d->valuestring, strlen(d->valuestring), KC_B64_STD, NULL);
			kc_str_addc(&s, 0);
			return kc_str_detach(&s, NULL);
		}
	}
	return NULL;
}

/* fieldRef paths the kubelet supports for env. */
static char *field_ref(const cJSON *pod, const char *path, const struct kl_lookup *lk)
{
	if (!strcmp(path, "metadata.name") || !strcmp(path, "metadata.namespace") ||
	    !strcmp(path, "metadata.uid") || !strcmp(path, "spec.nodeName") ||
	    !strcmp(path, "spec.serviceAccountName"))
		return xstrdup(str_or(pod, path, !strcmp(path, "spec.nodeName") && lk->node_name ? lk->node_name : ""));
	if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs"))
		return xstrdup(lk->node_ip ? lk->node_ip : "");
	if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs"))
		return xstrdup(lk->pod_ip ? lk->pod_ip : "");
	const char *pfx[] = { "metadata.labels['", "metadata.annotations['" };
	for (int i = 0; i < 2; i++) {
		size_t pl = strlen(pfx[i]);
		if (!strncmp(path, pfx[i], pl)) {
			char key[320];
			snprintf(key, sizeof key, "%s", path + pl);
			char *q = strstr(key, "']");
			if (q)
				*q = 0;
			const cJSON *m = kc_json_get(pod, i ? "metadata.annotations" : "metadata.labels");
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
			return xstrdup(cJSON_IsString(v) ? v->valuestring : "");
		}
	}
	return NULL;
}

/* resourceFieldRef: limits.cpu / requests.memory ... with a divisor (default 1), rounded up. */
static char *resource_ref(const cJSON *ctr, const cJSON *ref, int64_t node_cpu_milli,
			  int64_t node_mem)
{
	const char *res = kc_json_get_str(ref, "resource");
	if (!res)
		return NULL;
	const char *dot = strchr(res, '.');
	if (!dot)
		return NULL;
	char kind[16];
	snprintf(kind, sizeof kind, "%.*s", (int)(dot - res), res);
	const char *what = dot + 1;
	bool cpu = !strcmp(what, "cpu");
	const cJSON *q = kc_json_get(kc_json_get(kc_json_get(ctr, "resources"), kind), what);
	if (!q && !strcmp(kind, "requests"))
		q = kc_json_get(kc_json_get(kc_json_get(ctr, "resources"), "limits"), what);
	struct kc_quantity qv, dv;
	int64_t val;
	struct kc_err e;
	if (q && kc_quantity_from_json(q, &qv, &e) == 0) {
		if (cpu ? kc_quantity_milli(&qv, &val) < 0 : kc_quantity_value(&qv, &val) < 0)
			return NULL;
	} else if (!strcmp(kind, "limits")) {
		val = cpu ? node_cpu_milli : node_mem;
	} else {
		val = 0;
	}
	int64_t div = cpu ? 1000 : 1;
	const cJSON *d = kc_json_get(ref, "divisor");
	if (d && kc_quantity_from_json(d, &dv, &e) == 0) {
		int64_t x;
		if (cpu ? kc_quantity_milli(&dv, &x) == 0 : kc_quantity_value(&dv, &x) == 0)
			if (x > 0)
				div = x;
	}
	int64_t r = (val + div - 1) / div;
	if (cpu && r == 0 && val == 0 && !strcmp(kind, "requests"))
		r = 0;
	return xasprintf("%lld", (long long)r);
}

int kl_env_resolve(const cJSON *pod, const cJSON *ctr, const struct kl_lookup *lk, char ***out,
		   size_t *n, struct kc_err *err)
{
	struct envb e = { 0 };
	const char *ns = str_or(pod, "metadata.namespace", "default");
	int rc = 0;
	{
		/* the kubernetes service's variables are always there; others with service links */
		const cJSON *svc;
		cJSON *keep = kc_json_new_array();
		cJSON_ArrayForEach(svc, lk->services) {
			const char *nm = kc_json_get_str(svc, "metadata.name");
			bool is_k8s = nm && !strcmp(nm, "kubernetes") &&
				      !strcmp(str_or(svc, "metadata.namespace", ""), "default");
			if (kc_json_get_bool(pod, "spec.enableServiceLinks", true) || is_k8s)
				cJSON_AddItemReferenceToArray(keep, (cJSON *)(uintptr_t)svc);
		}
		service_env(&e, keep);
		cJSON_Delete(keep);
	}
	const cJSON *ef;
	cJSON_ArrayForEach(ef, kc_json_get(ctr, "envFrom")) {
		const char *prefix = str_or(ef, "prefix", "");
		const cJSON *ref = kc_json_get(ef, "configMapRef");
		bool secret = false;
		if (!ref) {
			ref = kc_json_get(ef, "secretRef");
			secret = true;
		}
		const char *name = kc_json_get_str(ref, "name");
		if (!name)
			continue;
		bool optional = kc_json_get_bool(ref, "optional", false);
		const cJSON *obj = secret ? lk->secret(lk->arg, ns, name) : lk->configmap(lk->arg, ns, name);
		if (!obj) {
			if (optional)
				continue;
			rc = kc_err_set(err, -KC_ENOTFOUND, "%s \"%s\" not found",
					secret ? "secret" : "configmap", name);
			goto fail;
		}
		const char *fields[] = { "data", secret ? "stringData" : "binaryData" };
		for (int f = 0; f < 2; f++) {
			const cJSON *kv;
			cJSON_ArrayForEach(kv, kc_json_get(obj, fields[f])) {
				char *v = obj_key(obj, kv->string, secret);
				char *k = xasprintf("%s%s", prefix, kv->string);
				env_set(&e, k, v);
				free(k);
				free(v);
			}
		}
	}
	const cJSON *ev;
	cJSON_ArrayForEach(ev, kc_json_get(ctr, "env")) {
		const char *name = kc_json_get_str(ev, "name");
		if (!name)
			continue;
		const char *val = kc_json_get_str(ev, "value");
		const cJSON *vf = kc_json_get(ev, "valueFrom");
		if (!vf) {
			char *x = rt_expand_vars(val ? val : "", e.v);
			env_set(&e, name, x);
			free(x);
			continue;
		}
		char *v = NULL;
		const cJSON *r;
		if ((r = kc_json_get(vf, "configMapKeyRef")) || (r = kc_json_get(vf, "secretKeyRef"))) {
			bool secret = kc_json_get(vf, "secretKeyRef") != NULL;
			const char *on = str_or(r, "name", ""), *key = str_or(r, "key", "");
			bool optional = kc_json_get_bool(r, "optional", false);
			const cJSON *obj = secret ? lk->secret(lk->arg, ns, on) : lk->configmap(lk->arg, ns, on);
			if (!obj) {
				if (optional)
					continue;
				rc = kc_err_set(err, -KC_ENOTFOUND, "%s \"%s\" not found",
						secret ? "secret" : "configmap", on);
				goto fail;
			}
			v = obj_key(obj, key, secret);
			if (!v) {
				if (optional)
					continue;
				rc = kc_err_set(err, -KC_ENOTFOUND,
						"couldn't find key %s in %s %s/%s", key,
						secret ? "Secret" : "ConfigMap", ns, on);
				goto fail;
			}
		} else if ((r = kc_json_get(vf, "fieldRef"))) {
			v = field_ref(pod, str_or(r, "fieldPath", ""), lk);
			if (!v) {
				rc = kc_err_set(err, -KC_EINVAL, "unsupported fieldPath: %s",
						str_or(r, "fieldPath", ""));
				goto fail;
			}
		} else if ((r = kc_json_get(vf, "resourceFieldRef"))) {
			v = resource_ref(ctr, r, 1000 * 64, (int64_t)1 << 40);
			if (!v) {
				rc = kc_err_set(err, -KC_EINVAL, "unsupported resourceFieldRef");
				goto fail;
			}
		}
		env_set(&e, name, v ? v : "");
		free(v);
	}
	if (!e.v)
		e.v = xcalloc(1, sizeof(char *));
	*out = e.v;
	*n = e.n;
	return 0;
fail:
	rt_strv_free(e.v);
	return rc;
}
