/* DESIGN: every certificate kc serves or hands out is derived from one CA kept in DATA/tls.
 * Files are written atomically by lib/x509 (temp + fsync + rename; keys 0600), so a crash leaves
 * either the old or the new pair. Keys are written before the certificates that name them: a
 * certificate on disk always has its key. Runs once at start, on the main thread. */
#include "roles/pki.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base64.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/str.h"

#define MAX_NAMES 16

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int load_or_create_ca(const char *dir, int64_t now, struct kc_pki *p, struct kc_err *err)
{
	char crt[600], key[600];
	snprintf(crt, sizeof crt, "%s/ca.crt", dir);
	snprintf(key, sizeof key, "%s/ca.key", dir);
	bool have_crt = exists(crt), have_key = exists(key);
	if (have_crt && have_key) {
		int rc = kc_cert_load_file(crt, &p->ca, err);
		if (rc == 0)
			rc = kc_key_load_file(key, &p->ca_key, err);
		if (rc < 0)
			return rc;
		if (!kc_cert_matches_key(p->ca, p->ca_key))
			return kc_err_set(err, -KC_EINVAL, "%s does not belong to %s", key, crt);
		return 0;
	}
	if (have_crt || have_key)
		return kc_err_set(err, -KC_EINVAL,
				  "%s has %s but not %s: restore the pair or remove both to create a new cluster CA",
				  dir, have_crt ? "ca.crt" : "ca.key", have_crt ? "ca.key" : "ca.crt");
	int rc = kc_ca_create("kc-ca", now, &p->ca, &p->ca_key, err);
	if (rc == 0)
		rc = kc_key_save_file(p->ca_key, key, err);
	if (rc == 0)
		rc = kc_cert_save_file(p->ca, crt, err);
	if (rc == 0)
		log_info("created cluster CA path=%s", crt);
	return rc;
}

/* Whether every wanted name is among have[]. */
static bool covers(char **have, size_t nhave, const char *const *want, size_t nwant)
{
	for (size_t i = 0; i < nwant; i++) {
		bool found = false;
		for (size_t j = 0; j < nhave && !found; j++)
			found = strcmp(have[j], want[i]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* Loads name.{crt,key} if they are still good for spec, else issues a new pair. */
static int leaf(const char *dir, const char *name, bool server, const struct kc_cert_spec *spec,
		int64_t now, struct kc_pki *p, struct kc_cert **cert_out, struct kc_key **key_out,
		struct kc_err *err)
{
	char crt[600], key[600];
	snprintf(crt, sizeof crt, "%s/%s.crt", dir, name);
	snprintf(key, sizeof key, "%s/%s.key", dir, name);
	if (exists(crt) && exists(key)) {
		struct kc_cert *c = NULL;
		struct kc_key *k = NULL;
		struct kc_cert_info info = { 0 };
		struct kc_err ignored = { 0 };
		bool good = kc_cert_load_file(crt, &c, &ignored) == 0 &&
			    kc_key_load_file(key, &k, &ignored) == 0 && kc_cert_matches_key(c, k) &&
			    kc_cert_verify(c, p->ca, &ignored) == 0 &&
			    kc_cert_get_info(c, &info, &ignored) == 0 &&
			    info.not_after - now > KC_PKI_RENEW_BEFORE_SECS &&
			    covers(info.dns_names, info.ndns, spec->dns_names, spec->ndns) &&
			    covers(info.ips, info.nips, spec->ips, spec->nips);
		kc_cert_info_free(&info);
		if (good) {
			*cert_out = c;
			*key_out = k;
			return 0;
		}
		kc_cert_free(c);
		kc_key_free(k);
		log_info("re-issuing certificate name=%s reason=\"names, signer or expiry changed\"", name);
	}
	struct kc_key *k = NULL;
	struct kc_cert *c = NULL;
	int rc = kc_key_generate(&k, err);
	if (rc == 0)
		rc = server ? kc_cert_sign_server(p->ca, p->ca_key, k, spec, &c, err)
			    : kc_cert_sign_client(p->ca, p->ca_key, k, spec, &c, err);
	if (rc == 0)
		rc = kc_key_save_file(k, key, err);
	if (rc == 0)
		rc = kc_cert_save_file(c, crt, err);
	if (rc < 0) {
		kc_cert_free(c);
		kc_key_free(k);
		return rc;
	}
	*cert_out = c;
	*key_out = k;
	return 0;
}

int kc_pki_ensure(const struct kc_server_config *cfg, int64_t now, struct kc_pki *out,
		  struct kc_err *err)
{
	memset(out, 0, sizeof *out);
	char dir[sizeof cfg->data_dir + 8];
	snprintf(dir, sizeof dir, "%s/tls", cfg->data_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return kc_err_set(err, -errno, "cannot create %s: %s", dir, strerror(errno));
	int rc = load_or_create_ca(dir, now, out, err);
	if (rc < 0)
		goto fail;

	/* The API server answers to these names, as kube-apiserver does. */
	char svc[4][300], advertise[64], bind[64], first_svc_ip[64];
	snprintf(svc[0], sizeof svc[0], "kubernetes");
	snprintf(svc[1], sizeof svc[1], "kubernetes.default");
	snprintf(svc[2], sizeof svc[2], "kubernetes.default.svc");
	snprintf(svc[3], sizeof svc[3], "kubernetes.default.svc.%s", cfg->cluster_domain);
	const char *dns[MAX_NAMES] = { "localhost", cfg->node_name, svc[0], svc[1], svc[2], svc[3] };
	size_t ndns = 6;
	const char *ips[MAX_NAMES] = { "127.0.0.1", "::1" };
	size_t nips = 2;
	struct net_ip svc_ip, any4, any6;
	net_ip_format(&cfg->advertise_address, advertise, sizeof advertise);
	if (!net_ip_is_loopback(&cfg->advertise_address))
		ips[nips++] = advertise;
	net_ip_parse("0.0.0.0", &any4);
	net_ip_parse("::", &any6);
	if (!net_ip_equal(&cfg->bind_address, &any4) && !net_ip_equal(&cfg->bind_address, &any6) &&
	    !net_ip_is_loopback(&cfg->bind_address) &&
	    !net_ip_equal(&cfg->bind_address, &cfg->advertise_address))
		ips[nips++] = net_ip_format(&cfg->bind_address, bind, sizeof bind);
	if (net_cidr_nth(&cfg->service_cidr, 1, &svc_ip) == 0)
		ips[nips++] = net_ip_format(&svc_ip, first_svc_ip, sizeof first_svc_ip);

	struct kc_cert_spec server_spec = {
		.cn = "kube-apiserver", .dns_names = dns, .ndns = ndns, .ips = ips, .nips = nips,
		.not_before = now - KC_CERT_BACKDATE_SECS, .not_after = now + KC_PKI_LEAF_VALIDITY_SECS,
	};
	rc = leaf(dir, "apiserver", true, &server_spec, now, out, &out->server, &out->server_key, err);
	if (rc < 0)
		goto fail;
	const char *admin_groups[] = { "system:masters" };
	struct kc_cert_spec admin_spec = {
		.cn = "kubernetes-admin", .orgs = admin_groups, .norgs = 1,
		.not_before = now - KC_CERT_BACKDATE_SECS, .not_after = now + KC_PKI_LEAF_VALIDITY_SECS,
	};
	rc = leaf(dir, "admin", false, &admin_spec, now, out, &out->admin, &out->admin_key, err);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	kc_pki_free(out);
	return rc;
}

static void add_b64_pem(struct kc_str *out, const char *field, const struct kc_str *pem)
{
	kc_str_addf(out, "    %s: ", field);
	kc_base64_encode(out, pem->buf, pem->len, KC_B64_STD);
	kc_str_addc(out, '\n');
}

int kc_pki_write_kubeconfig(const struct kc_server_config *cfg, const struct kc_pki *pki,
			    const char *server_url, struct kc_err *err)
{
	struct kc_str ca = KC_STR_INIT, crt = KC_STR_INIT, key = KC_STR_INIT, out = KC_STR_INIT;
	char path[sizeof cfg->data_dir + 16];
	int rc;
	kc_cert_to_pem(pki->ca, &ca);
	kc_cert_to_pem(pki->admin, &crt);
	rc = kc_key_to_pem(pki->admin_key, &key, err);
	if (rc < 0)
		goto out;
	kc_str_adds(&out, "apiVersion: v1\nkind: Config\nclusters:\n- name: kc\n  cluster:\n");
	add_b64_pem(&out, "certificate-authority-data", &ca);
	kc_str_addf(&out, "    server: %s\n", server_url);
	kc_str_adds(&out, "users:\n- name: admin\n  user:\n");
	add_b64_pem(&out, "client-certificate-data", &crt);
	add_b64_pem(&out, "client-key-data", &key);
	kc_str_adds(&out, "contexts:\n- name: kc\n  context:\n    cluster: kc\n    user: admin\n"
			  "    namespace: default\ncurrent-context: kc\npreferences: {}\n");
	snprintf(path, sizeof path, "%s/kubeconfig", cfg->data_dir);
	rc = kc_write_file_atomic(path, out.buf, out.len, 0600, err);
out:
	explicit_bzero(key.buf, key.len);
	explicit_bzero(out.buf, out.len);
	kc_str_free(&ca);
	kc_str_free(&crt);
	kc_str_free(&key);
	kc_str_free(&out);
	return rc;
}

void kc_pki_free(struct kc_pki *p)
{
	kc_cert_free(p->ca);
	kc_key_free(p->ca_key);
	kc_cert_free(p->server);
	kc_key_free(p->server_key);
	kc_cert_free(p->admin);
	kc_key_free(p->admin_key);
	memset(p, 0, sizeof *p);
}
