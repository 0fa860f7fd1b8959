/* podnetctl - drives runtime/podnet from the command line for tests/integration/t_podnet.sh and
 * measures pod network set-up time. Run it inside a node's network namespace
 * (nsenter --net=/run/netns/NODE); it never enters another namespace on its own.
 *
 *   podnetctl node    --data DIR --pod-cidr CIDR [--cluster-cidr CIDR] [--firewall]
 *   podnetctl add     --data DIR --pod-cidr CIDR UID [--hostport HOST:CONTAINER[/udp]]...
 *   podnetctl del     --data DIR --pod-cidr CIDR UID
 *   podnetctl routes  --data DIR --pod-cidr CIDR [PODCIDR=NODEIP]...
 *   podnetctl cleanup --data DIR --pod-cidr CIDR [LIVE-UID]...
 *   podnetctl destroy --data DIR --pod-cidr CIDR      (every pod, the bridge, routes, chains)
 *   podnetctl bench   --data DIR --pod-cidr CIDR [--pods N]
 * `add` prints "IP NETNS-PATH". Exit status 0 on success, 1 with a message on failure. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "net/netlink.h"
#include "runtime/netns.h"
#include "runtime/podnet.h"

static int usage(void)
{
	fprintf(stderr, "usage: podnetctl node|add|del|routes|cleanup|destroy|bench --data DIR "
			"--pod-cidr CIDR [options] [args]\n");
	return 2;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static int fail(const char *what, const struct kc_err *err)
{
	fprintf(stderr, "podnetctl: %s: %s\n", what, err->msg);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	struct rt_podnet_config cfg = {0};
	struct kc_err err = {0};
	const char *args[256];
	size_t nargs = 0;
	struct rt_pod_port ports[16];
	size_t nports = 0;
	int pods = 100;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--data") == 0 && v) {
			cfg.data_dir = v;
			i++;
		} else if (strcmp(a, "--pod-cidr") == 0 && v) {
			if (net_cidr_parse(v, &cfg.pod_cidr, &err))
				return fail("--pod-cidr", &err);
			i++;
		} else if (strcmp(a, "--cluster-cidr") == 0 && v) {
			if (net_cidr_parse(v, &cfg.cluster_cidr, &err))
				return fail("--cluster-cidr", &err);
			i++;
		} else if (strcmp(a, "--firewall") == 0) {
			cfg.firewall = true;
		} else if (strcmp(a, "--pods") == 0 && v) {
			pods = atoi(v);
			i++;
		} else if (strcmp(a, "--hostport") == 0 && v && nports < 16) {
			unsigned hp, cp;
			char proto[8] = "tcp";
			if (sscanf(v, "%u:%u/%7s", &hp, &cp, proto) < 2 || hp == 0 || hp > 65535 ||
			    cp == 0 || cp > 65535)
				return usage();
			ports[nports++] = (struct rt_pod_port){
				.host_port = (uint16_t)hp,
				.container_port = (uint16_t)cp,
				.protocol = strcmp(proto, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP};
			i++;
		} else if (a[0] == '-') {
			return usage();
		} else if (nargs < 256) {
			args[nargs++] = a;
		}
	}
	if (!cfg.data_dir || !cfg.pod_cidr.ip.family)
		return usage();
	/* the firewall setting is remembered across invocations by a marker in the data dir */
	char *marker = xasprintf("%s/firewall", cfg.data_dir);
	if (strcmp(cmd, "node") == 0 && cfg.firewall) {
		FILE *f = fopen(marker, "w");
		if (f)
			fclose(f);
	} else if (!cfg.firewall) {
		FILE *f = fopen(marker, "r");
		if (f) {
			cfg.firewall = true;
			fclose(f);
		}
	}
	struct rt_podnet *pn;
	if (rt_podnet_open(&cfg, &pn, &err)) {
		free(marker);
		return fail("open", &err);
	}
	int rc = 0;
	if (strcmp(cmd, "node") == 0) {
		/* open did it all */
	} else if (strcmp(cmd, "add") == 0 && nargs == 1) {
		struct rt_pod_net pnet;
		if (rt_podnet_setup(pn, args[0], ports, nports, &pnet, &err)) {
			rc = fail("add", &err);
		} else {
			char ip[64];
			printf("%s %s\n", net_ip_format(&pnet.ip, ip, sizeof ip), pnet.netns_path);
		}
	} else if (strcmp(cmd, "del") == 0 && nargs == 1) {
		if (rt_podnet_teardown(pn, args[0], &err))
			rc = fail("del", &err);
	} else if (strcmp(cmd, "routes") == 0) {
		struct rt_podnet_peer *peers = xcalloc(nargs + 1, sizeof *peers);
		for (size_t i = 0; i < nargs && !rc; i++) {
			char c[64];
			const char *eq = strchr(args[i], '=');
			if (!eq || (size_t)(eq - args[i]) >= sizeof c) {
				rc = usage();
				break;
			}
			memcpy(c, args[i], (size_t)(eq - args[i]));
			c[eq - args[i]] = '\0';
			if (net_cidr_parse(c, &peers[i].pod_cidr, &err) ||
			    net_ip_parse(eq + 1, &peers[i].node_ip))
				rc = usage();
		}
		size_t changed = 0;
		if (!rc && rt_podnet_sync_routes(pn, peers, nargs, &changed, &err))
			rc = fail("routes", &err);
		else if (!rc)
			printf("%zu routes changed\n", changed);
		free(peers);
	} else if (strcmp(cmd, "cleanup") == 0) {
		size_t removed = 0;
		if (rt_podnet_cleanup(pn, args, nargs, &removed, &err))
			rc = fail("cleanup", &err);
		else
			printf("%zu pods removed\n", removed);
	} else if (strcmp(cmd, "destroy") == 0) {
		size_t removed = 0;
		char *nsdir = xasprintf("%s/netns", cfg.data_dir);
		if (rt_podnet_cleanup(pn, NULL, 0, &removed, &err) ||
		    rt_podnet_destroy_node(pn, &err))
			rc = fail("destroy", &err);
		rt_podnet_close(pn);
		pn = NULL;
		if (!rc && rt_netns_dir_release(nsdir, &err))
			rc = fail("release", &err);
		free(nsdir);
		remove(marker);
	} else if (strcmp(cmd, "bench") == 0 && pods > 0 && pods <= 250) {
		double *up = xcalloc((size_t)pods, sizeof(double));
		double *down = xcalloc((size_t)pods, sizeof(double));
		char uid[64];
		double t0 = now_ms();
		for (int i = 0; i < pods && !rc; i++) {
			snprintf(uid, sizeof uid, "bench-%04d", i);
			struct rt_pod_net pnet;
			double s = now_ms();
			if (rt_podnet_setup(pn, uid, NULL, 0, &pnet, &err))
				rc = fail("bench setup", &err);
			up[i] = now_ms() - s;
		}
		double t1 = now_ms();
		for (int i = 0; i < pods && !rc; i++) {
			snprintf(uid, sizeof uid, "bench-%04d", i);
			double s = now_ms();
			if (rt_podnet_teardown(pn, uid, &err))
				rc = fail("bench teardown", &err);
			down[i] = now_ms() - s;
		}
		double t2 = now_ms();
		if (!rc) {
			qsort(up, (size_t)pods, sizeof(double), cmp_double);
			qsort(down, (size_t)pods, sizeof(double), cmp_double);
			printf("pod network setup:    %d pods, p50 %.2f ms, p99 %.2f ms, max %.2f ms, "
			       "total %.0f ms\n",
			       pods, pct(up, (size_t)pods, 0.5), pct(up, (size_t)pods, 0.99),
			       up[pods - 1], t1 - t0);
			printf("pod network teardown: %d pods, p50 %.2f ms, p99 %.2f ms, max %.2f ms, "
			       "total %.0f ms\n",
			       pods, pct(down, (size_t)pods, 0.5), pct(down, (size_t)pods, 0.99),
			       down[pods - 1], t2 - t1);
		}
		free(up);
		free(down);
	} else {
		rc = usage();
	}
	rt_podnet_close(pn);
	free(marker);
	return rc;
}
