/* DESIGN: the Node object this agent registers and its status (capacity from the machine,
 * conditions, nodeInfo, addresses, daemon endpoint). Built on the agent loop thread; reads
 * /proc and the data dir's file system, nothing else. */
#include "roles/kubelet/kubelet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "kc_version.h"
#include "roles/server.h"

static long long meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = atoll(line + kl + 1) * 1024;
			break;
		}
	if (f)
		fclose(f);
	return v;
}

static void os_image(char *buf, size_t cap)
{
	FILE *f = fopen("/etc/os-release", "re");
	char line[512];
	snprintf(buf, cap, "Linux");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "PRETTY_NAME=", 12)) {
			char *v = line + 12;
			v[strcspn(v, "\n")] = 0;
			size_t n = strlen(v);
			if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
				v[n - 1] = 0;
				v++;
			}
			snprintf(buf, cap, "%s", v);
		}
	if (f)
		fclose(f);
}

static void capacity(struct kubelet *k, cJSON *st, const char *field)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	long long mem = meminfo("MemTotal");
	struct statvfs vfs;
	long long disk = statvfs(k->data, &vfs) == 0 ? (long long)vfs.f_blocks * (long long)vfs.f_frsize : 0;
	char b[64];
	cJSON *c = kc_json_new_object();
	snprintf(b, sizeof b, "%ld", ncpu);
	kc_json_set_str(c, "cpu", b);
	snprintf(b, sizeof b, "%lldKi", mem / 1024);
	kc_json_set_str(c, "memory", b);
	kc_json_set_str(c, "pods", "110");
	snprintf(b, sizeof b, "%lldKi", disk / 1024);
	kc_json_set_str(c, "ephemeral-storage", b);
	kc_json_set_str(c, "hugepages-2Mi", "0");
	kc_json_set_str(c, "hugepages-1Gi", "0");
	if (!strcmp(field, "allocatable")) {
		/* the kubelet's default eviction threshold: memory.available<100Mi */
		snprintf(b, sizeof b, "%lldKi", (mem - (100LL << 20)) / 1024);
		kc_json_set_str(c, "memory", b);
		snprintf(b, sizeof b, "%lld", disk * 9 / 10);
		kc_json_set_str(c, "ephemeral-storage", b);
	}
	kc_json_add(st, field, c);
}

static void add_cond(cJSON *arr, const cJSON *old, const char *type, bool status,
		     const char *reason, const char *msg, const char *now)
{
	cJSON *c = kc_json_new_object();
	kc_json_set_str(c, "type", type);
	kc_json_set_str(c, "status", status ? "True" : "False");
	kc_json_set_str(c, "lastHeartbeatTime", now);
	const char *lt = now;
	const cJSON *o;
	cJSON_ArrayForEach(o, kc_json_get(old, "conditions")) {
		const char *t = kc_json_get_str(o, "type"), *s = kc_json_get_str(o, "status");
		if (t && s && !strcmp(t, type) && !strcmp(s, status ? "True" : "False") &&
		    kc_json_get_str(o, "lastTransitionTime"))
			lt = kc_json_get_str(o, "lastTransitionTime");
	}
	kc_json_set_str(c, "lastTransitionTime", lt);
	kc_json_set_str(c, "reason", reason);
	kc_json_set_str(c, "message", msg);
	cJSON_AddItemToArray(arr, c);
}

cJSON *kl_node_status(struct kubelet *k, const cJSON *old)
{
	cJSON *st = kc_json_new_object();
	capacity(k, st, "capacity");
	capacity(k, st, "allocatable");
	char now[40];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	long long avail = meminfo("MemAvailable");
	bool mem_pressure = avail >= 0 && avail < (100LL << 20);
	struct statvfs vfs;
	bool disk_pressure = statvfs(k->data, &vfs) == 0 && vfs.f_blocks > 0 &&
			     (double)vfs.f_bavail / (double)vfs.f_blocks < 0.10;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	long long pid_max = 32768, nprocs = 0;
	if (f) {
		if (fscanf(f, "%lld", &pid_max) != 1)
			pid_max = 32768;
		fclose(f);
	}
	f = fopen("/proc/loadavg", "re");
	if (f) {
		double a, b, c;
		long long run;
		if (fscanf(f, "%lf %lf %lf %lld/%lld", &a, &b, &c, &run, &nprocs) != 5)
			nprocs = 0;
		fclose(f);
	}
	bool pid_pressure = nprocs > pid_max * 9 / 10;
	cJSON *conds = kc_json_new_array();
	add_cond(conds, old, "MemoryPressure", mem_pressure,
		 mem_pressure ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory",
		 mem_pressure ? "kubelet has insufficient memory available" : "kubelet has sufficient memory available", now);
	add_cond(conds, old, "DiskPressure", disk_pressure,
		 disk_pressure ? "KubeletHasDiskPressure" : "KubeletHasNoDiskPressure",
		 disk_pressure ? "kubelet has disk pressure" : "kubelet has no disk pressure", now);
	add_cond(conds, old, "PIDPressure", pid_pressure,
		 pid_pressure ? "KubeletHasInsufficientPID" : "KubeletHasSufficientPID",
		 pid_pressure ? "kubelet has insufficient PID available" : "kubelet has sufficient PID available", now);
	bool ready = k->podnet != NULL || k->pod_cidr[0] == 0;
	add_cond(conds, old, "Ready", ready, ready ? "KubeletReady" : "KubeletNotReady",
		 ready ? "kubelet is posting ready status" : "container runtime network not ready: pod network is not configured", now);
	kc_json_add(st, "conditions", conds);
	cJSON *addrs = kc_json_new_array();
	cJSON *a = kc_json_new_object();
	kc_json_set_str(a, "type", "InternalIP");
	kc_json_set_str(a, "address", k->node_ip);
	cJSON_AddItemToArray(addrs, a);
	a = kc_json_new_object();
	kc_json_set_str(a, "type", "Hostname");
	kc_json_set_str(a, "address", k->node);
	cJSON_AddItemToArray(addrs, a);
	kc_json_add(st, "addresses", addrs);
	kc_json_set_i64(st, "daemonEndpoints.kubeletEndpoint.Port", k->cfg->kubelet_port);
	struct utsname u;
	uname(&u);
	char osimg[256], b[128];
	os_image(osimg, sizeof osimg);
	cJSON *ni = kc_json_new_object();
	kc_json_set_str(ni, "machineID", k->machine_id);
	kc_json_set_str(ni, "systemUUID", k->machine_id);
	kc_json_set_str(ni, "bootID", k->boot_id);
	kc_json_set_str(ni, "kernelVersion", u.release);
	kc_json_set_str(ni, "osImage", osimg);
	snprintf(b, sizeof b, "kc://%s", KC_VERSION);
	kc_json_set_str(ni, "containerRuntimeVersion", b);
	snprintf(b, sizeof b, "%s+kc%s", KC_KUBE_GIT_VERSION, KC_VERSION);
	kc_json_set_str(ni, "kubeletVersion", b);
	kc_json_set_str(ni, "kubeProxyVersion", "");
	kc_json_set_str(ni, "operatingSystem", "linux");
	kc_json_set_str(ni, "architecture", "amd64");
	kc_json_add(st, "nodeInfo", ni);
	return st;
}

cJSON *kl_node_object(struct kubelet *k)
{
	cJSON *n = kc_json_new_object();
	kc_json_set_str(n, "apiVersion", "v1");
	kc_json_set_str(n, "kind", "Node");
	kc_json_set_str(n, "metadata.name", k->node);
	cJSON *labels = kc_json_new_object();
	cJSON_AddStringToObject(labels, "kubernetes.io/hostname", k->node);
	cJSON_AddStringToObject(labels, "kubernetes.io/os", "linux");
	cJSON_AddStringToObject(labels, "kubernetes.io/arch", "amd64");
	cJSON_AddStringToObject(labels, "beta.kubernetes.io/os", "linux");
	cJSON_AddStringToObject(labels, "beta.kubernetes.io/arch", "amd64");
	if (k->cfg->roles & KC_ROLE_MASTER)
		cJSON_AddStringToObject(labels, "node-role.kubernetes.io/control-plane", "");
	kc_json_add(kc_json_get(n, "metadata"), "labels", labels);
	kc_json_add(n, "spec", kc_json_new_object());
	kc_json_add(n, "status", kl_node_status(k, NULL));
	return n;
}
