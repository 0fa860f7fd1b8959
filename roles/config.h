/* config.h - `kc server` flags: the contract of DESIGN.md section 2, parsed and validated into
 * one struct that main.c hands to the roles. */
#ifndef KC_ROLES_CONFIG_H
#define KC_ROLES_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/err.h"
#include "lib/log.h"
#include "net/addr.h"

enum kc_role {
	KC_ROLE_STORE = 1 << 0,
	KC_ROLE_MASTER = 1 << 1,
	KC_ROLE_WORKER = 1 << 2,
	KC_ROLE_ALL = KC_ROLE_STORE | KC_ROLE_MASTER | KC_ROLE_WORKER,
};

#define KC_MAX_STORE_PEERS 9

struct kc_store_peer {
	char name[64];
	char url[256];
};

struct kc_server_config {
	unsigned roles;                 /* mask of enum kc_role */
	const char *role_name;          /* as given: "all", "store", ... */
	char data_dir[512];
	char node_name[64];
	struct net_ip bind_address;
	struct net_ip advertise_address;
	uint16_t api_port, store_port, peer_port, kubelet_port;
	struct kc_store_peer store_peers[KC_MAX_STORE_PEERS];
	unsigned nstore_peers;
	char store_join[256];
	char store_endpoints[1024];     /* comma-separated URLs, "" = the local store */
	char server_url[256];
	char token[512];
	struct net_cidr cluster_cidr, service_cidr;
	struct net_ip cluster_dns;
	char cluster_domain[254];
	enum kc_log_level log_level;
	enum kc_log_format log_format;
	bool plain_http;
	bool disable_agent;  /* --disable-agent: the worker role's node agent is not started */
};

/* Fills the defaults of DESIGN.md section 2 (node name from the hostname, advertise address
 * from the first non-loopback IPv4 address). */
void kc_config_defaults(struct kc_server_config *c);

/* Parses `kc server` arguments (argv[0] is the first flag) over the defaults, accepting
 * "--flag=value" and "--flag value". Validates every value and the combination (ranges that must
 * not overlap, a worker needs --server and --token, the node name must be one of --store-peers,
 * ...). Returns 0, 1 when --help was asked for (help printed to 'out'), or -KC_EINVAL with one
 * clear line in err. Does not touch the file system. */
int kc_config_parse(struct kc_server_config *c, int argc, char **argv, FILE *out, struct kc_err *err);

/* Creates the data dir (and parents) if needed and checks it is writable, by creating and
 * removing a probe file. Returns 0 or a negative code with the reason in err. */
int kc_config_prepare_data_dir(const struct kc_server_config *c, struct kc_err *err);

/* Prints the flag table (name, default, meaning) to out. */
void kc_config_usage(FILE *out);

/* Checks a DNS-1123 label (lowercase alphanumerics and '-', 1..63, alnum at both ends) and a
 * DNS-1123 subdomain (labels joined by '.', <= 253). */
bool kc_dns_label_ok(const char *s);
bool kc_dns_subdomain_ok(const char *s);

#endif
