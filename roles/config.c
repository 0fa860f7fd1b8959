/* DESIGN: one table describes every `kc server` flag (name, default shown in help, meaning, and
 * the parser that stores it); parsing walks argv once against that table, then one function
 * checks the combination. Pure except for kc_config_prepare_data_dir and the defaults, which
 * read the hostname and the interface list. */
#include "roles/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/str.h"
#include "net/http_client.h"

typedef int (*flag_parse_fn)(struct kc_server_config *c, const char *flag, const char *v,
			     struct kc_err *err);

struct flag {
	const char *name;
	const char *def;   /* shown in help */
	const char *help;
	flag_parse_fn parse;
	bool boolean;      /* takes no value (or =true/=false) */
};

static int bad(struct kc_err *err, const char *flag, const char *v, const char *why)
{
	return kc_err_set(err, -KC_EINVAL, "invalid value \"%s\" for --%s: %s", v, flag, why);
}

bool kc_dns_label_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && !(ch == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

bool kc_dns_subdomain_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	char buf[254];
	memcpy(buf, s, n + 1);
	for (char *save = NULL, *label = strtok_r(buf, ".", &save); label;
	     label = strtok_r(NULL, ".", &save))
		if (!kc_dns_label_ok(label))
			return false;
	return s[0] != '.' && s[n - 1] != '.' && !strstr(s, "..");
}

/* A URL kc can reach: the HTTP client's own parser decides, so flags and connections agree. */
static bool url_ok(const char *v)
{
	struct http_url u;
	return http_url_parse(v, &u, NULL) == 0;
}

static int copy_str(char *dst, size_t size, const char *flag, const char *v, struct kc_err *err)
{
	if (strlen(v) >= size)
		return bad(err, flag, v, "too long");
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int p_role(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	static const struct { const char *name; unsigned mask; } roles[] = {
		{ "all", KC_ROLE_ALL }, { "store", KC_ROLE_STORE },
		{ "master", KC_ROLE_MASTER }, { "worker", KC_ROLE_WORKER },
	};
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		if (strcmp(v, roles[i].name) == 0) {
			c->roles = roles[i].mask;
			c->role_name = roles[i].name;
			return 0;
		}
	}
	return bad(err, f, v, "must be one of all, store, master, worker");
}

static int p_data_dir(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	if (!*v)
		return bad(err, f, v, "must not be empty");
	return copy_str(c->data_dir, sizeof c->data_dir, f, v, err);
}

static int p_node_name(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	if (!kc_dns_subdomain_ok(v) || strlen(v) >= sizeof c->node_name)
		return bad(err, f, v, "must be a lowercase DNS name of at most 63 characters");
	return copy_str(c->node_name, sizeof c->node_name, f, v, err);
}

static int p_ip(struct net_ip *ip, const char *f, const char *v, struct kc_err *err)
{
	if (net_ip_parse(v, ip) < 0)
		return bad(err, f, v, "not an IPv4 or IPv6 address");
	return 0;
}

static int p_bind(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_ip(&c->bind_address, f, v, err);
}

static int p_advertise(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_ip(&c->advertise_address, f, v, err);
}

static int p_port(uint16_t *port, const char *f, const char *v, struct kc_err *err)
{
	if (net_port_parse(v, port) < 0)
		return bad(err, f, v, "a port must be a number from 1 to 65535");
	return 0;
}

static int p_api_port(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_port(&c->api_port, f, v, err);
}

static int p_store_port(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_port(&c->store_port, f, v, err);
}

static int p_peer_port(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_port(&c->peer_port, f, v, err);
}

static int p_kubelet_port(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_port(&c->kubelet_port, f, v, err);
}

static int p_store_peers(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	char buf[KC_MAX_STORE_PEERS * 330];
	if (strlen(v) >= sizeof buf)
		return bad(err, f, v, "too long");
	memcpy(buf, v, strlen(v) + 1);
	c->nstore_peers = 0;
	for (char *save = NULL, *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(e, '=');
		if (!eq)
			return bad(err, f, v, "each member must be name=URL");
		*eq = '\0';
		const char *name = e, *url = eq + 1;
		if (!kc_dns_subdomain_ok(name) || strlen(name) >= sizeof c->store_peers[0].name)
			return bad(err, f, v, "a member name must be a lowercase DNS name");
		if (!url_ok(url) || strlen(url) >= sizeof c->store_peers[0].url)
			return bad(err, f, v, "a member URL must look like https://10.0.0.1:2380");
		for (unsigned i = 0; i < c->nstore_peers; i++)
			if (strcmp(c->store_peers[i].name, name) == 0)
				return bad(err, f, v, "member names must be unique");
		if (c->nstore_peers == KC_MAX_STORE_PEERS)
			return bad(err, f, v, "at most 9 members");
		struct kc_store_peer *p = &c->store_peers[c->nstore_peers++];
		memcpy(p->name, name, strlen(name) + 1);
		memcpy(p->url, url, strlen(url) + 1);
	}
	if (!c->nstore_peers)
		return bad(err, f, v, "no members");
	return 0;
}

static int p_url(char *dst, size_t size, const char *f, const char *v, struct kc_err *err)
{
	if (!url_ok(v))
		return bad(err, f, v, "not an http(s) URL");
	return copy_str(dst, size, f, v, err);
}

static int p_store_join(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_url(c->store_join, sizeof c->store_join, f, v, err);
}

static int p_store_endpoints(struct kc_server_config *c, const char *f, const char *v,
			     struct kc_err *err)
{
	char buf[sizeof c->store_endpoints];
	if (copy_str(buf, sizeof buf, f, v, err) < 0)
		return -KC_EINVAL;
	for (char *save = NULL, *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save))
		if (!url_ok(e))
			return bad(err, f, v, "a comma-separated list of http(s) URLs is expected");
	return copy_str(c->store_endpoints, sizeof c->store_endpoints, f, v, err);
}

static int p_server(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_url(c->server_url, sizeof c->server_url, f, v, err);
}

static int p_token(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	if (!*v)
		return bad(err, f, "", "must not be empty");
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return bad(err, f, "...", "must not contain spaces or control characters");
	return copy_str(c->token, sizeof c->token, f, v, err);
}

static int p_cidr(struct net_cidr *dst, const char *f, const char *v, struct kc_err *err)
{
	struct kc_err e = { 0 };
	if (net_cidr_parse(v, dst, &e) < 0)
		return kc_err_set(err, -KC_EINVAL, "invalid value \"%s\" for --%s: %s", v, f, e.msg);
	return 0;
}

static int p_cluster_cidr(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_cidr(&c->cluster_cidr, f, v, err);
}

static int p_service_cidr(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_cidr(&c->service_cidr, f, v, err);
}

static int p_cluster_dns(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	return p_ip(&c->cluster_dns, f, v, err);
}

static int p_cluster_domain(struct kc_server_config *c, const char *f, const char *v,
			    struct kc_err *err)
{
	if (!kc_dns_subdomain_ok(v))
		return bad(err, f, v, "must be a lowercase DNS domain such as cluster.local");
	return copy_str(c->cluster_domain, sizeof c->cluster_domain, f, v, err);
}

static int p_log_level(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	if (kc_log_parse_level(v, &c->log_level) < 0)
		return bad(err, f, v, "must be one of error, warn, info, debug");
	return 0;
}

static int p_log_format(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	if (kc_log_parse_format(v, &c->log_format) < 0)
		return bad(err, f, v, "must be text or json");
	return 0;
}

static int p_plain_http(struct kc_server_config *c, const char *f, const char *v, struct kc_err *err)
{
	if (strcmp(v, "true") == 0)
		c->plain_http = true;
	else if (strcmp(v, "false") == 0)
		c->plain_http = false;
	else
		return bad(err, f, v, "must be true or false");
	return 0;
}

static int p_disable_agent(struct kc_server_config *c, const char *f, const char *v,
			   struct kc_err *err)
{
	if (!v || strcmp(v, "true") == 0)
		c->disable_agent = true;
	else if (strcmp(v, "false") == 0)
		c->disable_agent = false;
	else
		return bad(err, f, v, "must be true or false");
	return 0;
}

static const struct flag flags[] = {
	{ "role", "all", "store, master, worker or all", p_role, false },
	{ "data-dir", "/var/lib/kc", "everything kc persists lives here", p_data_dir, false },
	{ "node-name", "hostname", "node and store member name", p_node_name, false },
	{ "bind-address", "0.0.0.0", "listen address", p_bind, false },
	{ "advertise-address", "first non-loopback IPv4", "address peers and nodes use", p_advertise,
	  false },
	{ "api-port", "6443", "Kubernetes API (HTTPS)", p_api_port, false },
	{ "store-port", "2379", "store client API", p_store_port, false },
	{ "peer-port", "2380", "store Raft peer traffic", p_peer_port, false },
	{ "kubelet-port", "10250", "node agent API (logs, exec), HTTPS", p_kubelet_port, false },
	{ "store-peers", "", "initial store members: name=https://ip:2380,...", p_store_peers, false },
	{ "store-join", "", "peer URL of a running store member to join (after kc store member add)", p_store_join, false },
	{ "store-endpoints", "local store", "store cluster URLs for a master", p_store_endpoints, false },
	{ "server", "", "API server URL of the cluster to join", p_server, false },
	{ "token", "", "join token (DATA/token of the first master or store member)", p_token, false },
	{ "cluster-cidr", "10.42.0.0/16", "pod network range", p_cluster_cidr, false },
	{ "service-cidr", "10.43.0.0/16", "service ClusterIP range", p_service_cidr, false },
	{ "cluster-dns", "10.43.0.10", "cluster DNS service IP", p_cluster_dns, false },
	{ "cluster-domain", "cluster.local", "cluster DNS domain", p_cluster_domain, false },
	{ "log-level", "info", "error, warn, info or debug", p_log_level, false },
	{ "log-format", "text", "text (logfmt) or json lines on stderr", p_log_format, false },
	{ "plain-http", "off", "store client and peer traffic over plain HTTP (tests)", p_plain_http,
	  true },
	{ "disable-agent", "off", "with --role=all: no node agent on this machine (as k3s)",
	  p_disable_agent, true },
};

void kc_config_defaults(struct kc_server_config *c)
{
	memset(c, 0, sizeof *c);
	c->roles = KC_ROLE_ALL;
	c->role_name = "all";
	snprintf(c->data_dir, sizeof c->data_dir, "/var/lib/kc");
	char host[256] = "";
	if (gethostname(host, sizeof host - 1) < 0 || !host[0])
		snprintf(host, sizeof host, "localhost");
	/* Node names are DNS names: lowercase the hostname and cut it at the first dot if it would
	 * otherwise be invalid. */
	for (char *p = host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	host[sizeof c->node_name - 1] = '\0';
	if (!kc_dns_subdomain_ok(host))
		snprintf(host, sizeof host, "localhost");
	snprintf(c->node_name, sizeof c->node_name, "%s", host);
	net_ip_parse("0.0.0.0", &c->bind_address);
	net_default_advertise(&c->advertise_address);
	c->api_port = 6443;
	c->store_port = 2379;
	c->peer_port = 2380;
	c->kubelet_port = 10250;
	net_cidr_parse("10.42.0.0/16", &c->cluster_cidr, NULL);
	net_cidr_parse("10.43.0.0/16", &c->service_cidr, NULL);
	net_ip_parse("10.43.0.10", &c->cluster_dns);
	snprintf(c->cluster_domain, sizeof c->cluster_domain, "cluster.local");
	c->log_level = KC_LOG_INFO;
	c->log_format = KC_LOG_TEXT;
}

static int check_combination(struct kc_server_config *c, struct kc_err *err)
{
	char a[64], b[64];
	if (net_cidr_overlaps(&c->cluster_cidr, &c->service_cidr))
		return kc_err_set(err, -KC_EINVAL, "--cluster-cidr %s overlaps --service-cidr %s",
				  net_cidr_format(&c->cluster_cidr, a, sizeof a),
				  net_cidr_format(&c->service_cidr, b, sizeof b));
	if (!net_cidr_contains(&c->service_cidr, &c->cluster_dns))
		return kc_err_set(err, -KC_EINVAL, "--cluster-dns %s is outside --service-cidr %s",
				  net_ip_format(&c->cluster_dns, a, sizeof a),
				  net_cidr_format(&c->service_cidr, b, sizeof b));
	if (net_ip_equal(&c->cluster_dns, &c->service_cidr.ip))
		return kc_err_set(err, -KC_EINVAL, "--cluster-dns must not be the network address of --service-cidr");
	uint16_t ports[] = { c->api_port, c->store_port, c->peer_port, c->kubelet_port };
	const char *names[] = { "api-port", "store-port", "peer-port", "kubelet-port" };
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (ports[i] == ports[j])
				return kc_err_set(err, -KC_EINVAL, "--%s and --%s are both %u", names[i],
						  names[j], ports[i]);
	if (c->roles == KC_ROLE_WORKER && (!c->server_url[0] || !c->token[0]))
		return kc_err_set(err, -KC_EINVAL, "--role=worker needs --server and --token");
	if (c->nstore_peers) {
		if (!(c->roles & KC_ROLE_STORE))
			return kc_err_set(err, -KC_EINVAL, "--store-peers needs --role=store or all");
		bool found = false;
		for (unsigned i = 0; i < c->nstore_peers; i++)
			found |= strcmp(c->store_peers[i].name, c->node_name) == 0;
		if (!found)
			return kc_err_set(err, -KC_EINVAL,
					  "--store-peers has no member named \"%s\" (this --node-name)",
					  c->node_name);
		if (c->store_join[0])
			return kc_err_set(err, -KC_EINVAL, "use either --store-peers or --store-join");
	}
	if (c->store_join[0] && !(c->roles & KC_ROLE_STORE))
		return kc_err_set(err, -KC_EINVAL, "--store-join needs --role=store or all");
	if (c->store_endpoints[0] && (c->roles & KC_ROLE_STORE))
		return kc_err_set(err, -KC_EINVAL,
				  "--store-endpoints is for a master without a local store (--role=master)");
	return 0;
}

int kc_config_parse(struct kc_server_config *c, int argc, char **argv, FILE *out, struct kc_err *err)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			kc_config_usage(out);
			return 1;
		}
		if (!kc_has_prefix(arg, "--") || arg[2] == '\0')
			return kc_err_set(err, -KC_EINVAL, "unexpected argument \"%s\" (flags start with --)", arg);
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct flag *fl = NULL;
		for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
			if (strlen(flags[k].name) == nlen && memcmp(flags[k].name, name, nlen) == 0)
				fl = &flags[k];
		if (!fl)
			return kc_err_set(err, -KC_EINVAL, "unknown flag --%.*s (see kc server --help)",
					  (int)(nlen > 64 ? 64 : nlen), name);
		const char *value;
		if (eq) {
			value = eq + 1;
		} else if (fl->boolean) {
			value = "true";
		} else {
			if (i + 1 >= argc)
				return kc_err_set(err, -KC_EINVAL, "flag --%s needs a value", fl->name);
			value = argv[++i];
		}
		int rc = fl->parse(c, fl->name, value, err);
		if (rc < 0)
			return rc;
	}
	return check_combination(c, err);
}

int kc_config_prepare_data_dir(const struct kc_server_config *c, struct kc_err *err)
{
	char path[sizeof c->data_dir];
	snprintf(path, sizeof path, "%s", c->data_dir);
	/* mkdir -p, one component at a time */
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(path, 0700) < 0 && errno != EEXIST)
				return kc_err_set(err, -errno, "data dir %s: cannot create %s: %s",
						  c->data_dir, path, strerror(errno));
			*p = saved;
			if (!saved)
				break;
		}
	}
	struct stat st;
	if (stat(c->data_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return kc_err_set(err, -ENOTDIR, "data dir %s is not a directory", c->data_dir);
	char probe[sizeof c->data_dir + 32];
	snprintf(probe, sizeof probe, "%s/.kc-write-probe", c->data_dir);
	int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return kc_err_set(err, -errno, "data dir %s is not writable: %s", c->data_dir,
				  strerror(errno));
	close(fd);
	unlink(probe);
	return 0;
}

void kc_config_usage(FILE *out)
{
	fprintf(out, "Usage: kc server [flags]\n\nRuns the roles of a kc node.\n\nFlags:\n");
	for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
		char left[48];
		snprintf(left, sizeof left, "--%s%s", flags[k].name, flags[k].boolean ? "" : " VALUE");
		fprintf(out, "  %-28s %s", left, flags[k].help);
		if (flags[k].def[0])
			fprintf(out, " (default: %s)", flags[k].def);
		fputc('\n', out);
	}
}
