/* DESIGN: the entry point only dispatches subcommands, parses their flags and wires roles;
 * everything else lives in the modules. Exit codes: 0 success, 1 runtime failure, 2 bad usage or
 * a start-up failure (one line on stderr). */
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "kc_version.h"
#include "lib/log.h"
#include "roles/config.h"
#include "roles/server.h"
#include "roles/imagectl.h"
#include "roles/runtimectl.h"
#include "roles/storectl.h"
#include "roles/client/kubectl.h"
#include "runtime/shim.h"

static void usage(FILE *out)
{
	fputs("kc - a Kubernetes-compatible cluster in one binary\n"
	      "\n"
	      "Usage: kc COMMAND [flags]\n"
	      "\n"
	      "Commands:\n"
	      "  server    run the roles of a node: kc server --role=all|store|master|worker\n"
	      "  store     talk to the store (etcd v3 API): kc store ls|get|put|del|watch|status|member|compact|snapshot\n"
	      "  image     the node's images: kc image import FILE|ls|rm REF|pull REF|inspect REF\n"
	      "  runtime   debug single containers: kc runtime run|exec|state|kill|rm|ls\n"
	      "  kubectl   the everyday kubectl commands: kc kubectl get|apply|delete|describe|logs|...\n"
	      "  version   print kc's version, the Kubernetes version it serves, and build info\n"
	      "  help      show this help (kc server --help lists the server flags)\n",
	      out);
}

static int cmd_version(int argc, char **argv)
{
	bool short_form = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--short") == 0) {
			short_form = true;
		} else {
			fprintf(stderr, "kc version: unknown flag \"%s\"\n", argv[i]);
			return 2;
		}
	}
	if (short_form) {
		printf("%s\n", KC_VERSION);
		return 0;
	}
	printf("kc version %s\n"
	       "Kubernetes version: %s\n"
	       "Git commit: %s\n"
	       "Built: %s (%s, static)\n",
	       KC_VERSION, KC_KUBE_GIT_VERSION, KC_GIT_COMMIT, KC_BUILD_DATE,
#if defined(__x86_64__)
	       "linux/amd64"
#elif defined(__aarch64__)
	       "linux/arm64"
#else
	       "linux"
#endif
	);
	return 0;
}

static int cmd_server(int argc, char **argv)
{
	struct kc_server_config cfg;
	struct kc_err err = { 0 };
	kc_config_defaults(&cfg);
	int rc = kc_config_parse(&cfg, argc, argv, stdout, &err);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "kc server: %s\n", err.msg);
		return 2;
	}
	return kc_server_main(&cfg);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "server") == 0)
		return cmd_server(argc - 2, argv + 2);
	if (strcmp(cmd, "store") == 0)
		return kc_storectl_main(argc - 2, argv + 2);
	if (strcmp(cmd, "image") == 0)
		return kc_imagectl_main(argc - 2, argv + 2);
	if (strcmp(cmd, "runtime") == 0)
		return kc_runtimectl_main(argc - 2, argv + 2);
	if (strcmp(cmd, "shim") == 0) /* hidden: the per-container shim (runtime/shim.h) */
		return rt_shim_main(argc - 2, argv + 2);
	if (strcmp(cmd, "kubectl") == 0)
		return kc_kubectl_main(argc - 2, argv + 2);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
		return cmd_version(argc - 2, argv + 2);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "kc: unknown command \"%s\" (see kc help)\n", cmd);
	return 2;
}
