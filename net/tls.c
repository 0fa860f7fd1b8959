/* DESIGN: the TLS transport over mbedTLS 2.28.
 *
 * Configs own an mbedtls_ssl_config plus private copies of their certificates and keys. They
 * are reference counted with an atomic counter: the creator holds one reference, each
 * transport another. Nothing else in a config changes after set-up, and mbedTLS only reads it
 * during handshakes (its pk layer signs and verifies with a per-call copy of an EC key; RSA
 * keys lock their own mutex; the DRBG is kc_crypto_rng's), so any number of threads may run
 * handshakes on one config.
 *
 * A transport (struct tls, 'base' first so a struct transport * converts back) is driven by one
 * thread. It talks to its socket through the BIO callbacks below, which turn EAGAIN into
 * mbedTLS's WANT_READ/WANT_WRITE and remember the errno of a real socket failure so it can be
 * reported as -errno rather than a generic TLS error. Any failure is sticky ('failed').
 *
 * mbedTLS's write contract: once mbedtls_ssl_write returned WANT_WRITE it has already
 * encrypted (and so consumed) the bytes, and the next call must repeat the same length to
 * finish flushing them. 'write_pending' remembers that length; tls_write returns -EAGAIN until
 * the record is in the kernel, so "accepted" always means "handed to the socket", as for plain
 * TCP, and closing after the last accepted write loses nothing.
 *
 * mbedTLS 2.28 verifies a server's name only against DNS SANs and the CN. An IP literal is
 * therefore not given to mbedtls_ssl_set_hostname (which would also send it as SNI, which RFC
 * 6066 forbids) but checked against the iPAddress SANs by a per-connection verify callback.
 *
 * Session resumption (RFC 5077 tickets): a full handshake costs two ECDSA verifications and an
 * ECDH, tens of milliseconds on a loaded small machine, and kc's own components open dozens of
 * connections to the API server at start (a watch each). Servers issue tickets sealed with a
 * random AES-256-GCM key of the process (mbedTLS rotates it every TICKET_LIFETIME_S); a client
 * config keeps the last session per (verified name, server address) and offers it on the next
 * connection there. A resumed session carries the peer certificate and verify result of the
 * full handshake it came from, so the identity a server sees is the same; the name is part of
 * the client's key because a resumed session is not verified again. */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/gcm.h> /* kc_gcm_accelerated: net/mbedtls_alt/gcm_alt.h */
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/log.h"

/* Preference order (a server's is the one that counts); mbedTLS keeps only those matching the
 * certificate's key type. AES-GCM runs at 1-2 GB/s with AES-NI and PCLMULQDQ (net/aes_gcm.c),
 * ChaCha20-Poly1305 at ~0.2 GB/s; without those instructions GCM is the slower one. */
static const int ciphersuites_aes_first[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	0,
};

static const int ciphersuites_chacha_first[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	0,
};

static const mbedtls_ecp_group_id curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_NONE,
};

static const int sig_hashes[] = {
	MBEDTLS_MD_SHA256,
	MBEDTLS_MD_SHA384,
	MBEDTLS_MD_SHA512,
	MBEDTLS_MD_NONE,
};

struct alt_cert {
	struct kc_cert *chain;
	struct kc_key *key;
};

#define TICKET_LIFETIME_S 3600
#define SESSION_CACHE_SIZE 16

struct tls_server_config {
	atomic_uint refs;
	mbedtls_ssl_config conf;
	mbedtls_ssl_ticket_context ticket;
	struct kc_cert *chain;
	struct kc_key *key;
	struct kc_cert *client_ca;  /* NULL when client certificates are not requested */
	struct alt_cert *alts;      /* SNI alternatives; index i + 1 */
	size_t nalts;
	tls_sni_fn sni;
	void *sni_arg;
	void (*sni_arg_free)(void *);
};

struct cached_session {
	char key[300]; /* "name@address:port"; empty when unused */
	uint64_t used;
	mbedtls_ssl_session s;
};

struct tls_client_config {
	atomic_uint refs;
	mbedtls_ssl_config conf;
	pthread_mutex_t cache_mu;
	uint64_t cache_clock;
	struct cached_session cache[SESSION_CACHE_SIZE];
	struct kc_cert *ca;
	struct kc_cert *cert;
	struct kc_key *key;
	char *server_name;
	bool insecure;
};

struct tls {
	struct transport base;             /* first: struct transport * converts back */
	mbedtls_ssl_context ssl;
	struct tls_server_config *srv;     /* exactly one of srv, cli */
	struct tls_client_config *cli;
	bool handshake_done;
	bool eof;
	int failed;                        /* sticky negative code, 0 while healthy */
	int sock_errno;                    /* errno of the last socket failure in a BIO callback */
	size_t write_pending;              /* bytes mbedTLS holds from a WANT_WRITE write */
	size_t ip_len;                     /* 4 or 16 when verifying the server as an IP */
	unsigned char ip[16];
	char session_key[300];             /* client: its entry in cli->cache ("" = none) */
	bool resumed;                      /* client: the handshake resumed a cached session */
};

static const struct transport_ops tls_ops;

static struct tls *tls_of_ssl(mbedtls_ssl_context *ssl)
{
	return (struct tls *)((char *)ssl - offsetof(struct tls, ssl));
}

static const char *mbed_err(int ret, char *buf, size_t size)
{
	mbedtls_strerror(ret, buf, size);
	return buf;
}

/* ---- BIO ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls *t = ctx;
	for (;;) {
		ssize_t r = send(t->base.fd, buf, len, MSG_NOSIGNAL);
		if (r >= 0)
			return (int)r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_WRITE;
		t->sock_errno = errno;
		return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
							     : MBEDTLS_ERR_NET_SEND_FAILED;
	}
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct tls *t = ctx;
	for (;;) {
		ssize_t r = recv(t->base.fd, buf, len, 0);
		if (r >= 0)
			return (int)r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_READ;
		t->sock_errno = errno;
		return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
					   : MBEDTLS_ERR_NET_RECV_FAILED;
	}
}

/* ---- shared config set-up ---- */

static int conf_common(mbedtls_ssl_config *conf, int endpoint, struct kc_err *err)
{
	char eb[128];
	mbedtls_ssl_config_init(conf);
	int ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
					      MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret != 0)
		return kc_err_set(err, -KC_ETLS, "tls config: %s", mbed_err(ret, eb, sizeof eb));
	mbedtls_ssl_conf_rng(conf, kc_crypto_rng, NULL);
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(conf, kc_gcm_accelerated() ? ciphersuites_aes_first
								 : ciphersuites_chacha_first);
	mbedtls_ssl_conf_curves(conf, curves);
	mbedtls_ssl_conf_sig_hashes(conf, sig_hashes);
	mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	return 0;
}

/* Copies a certificate/key pair after checking that they belong together. */
static int copy_pair(const struct kc_cert *chain, const struct kc_key *key,
		     struct kc_cert **chain_out, struct kc_key **key_out, struct kc_err *err)
{
	if (!chain || !key)
		return kc_err_set(err, -KC_EINVAL, "certificate and key are both required");
	if (!kc_cert_matches_key(chain, key))
		return kc_err_set(err, -KC_EINVAL, "key does not match certificate");
	*chain_out = kc_cert_dup(chain);
	*key_out = kc_key_dup(key);
	return 0;
}

/* ---- server config ---- */

/* mbedTLS's SNI hook: records the name on the transport and lets the user pick a certificate. */
static int server_sni(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
	struct tls_server_config *cfg = arg;
	struct tls *t = tls_of_ssl(ssl);
	if (len == 0 || len >= sizeof t->base.sni || memchr(name, '\0', len)) {
		log_debug("tls sni rejected len=%zu", len);
		return -1;
	}
	memcpy(t->base.sni, name, len);
	t->base.sni[len] = '\0';
	if (!cfg->sni)
		return 0;
	int idx = cfg->sni(cfg->sni_arg, t->base.sni);
	if (idx < 0 || (size_t)idx > cfg->nalts) {
		log_debug("tls sni refused name=%s", t->base.sni);
		return -1;
	}
	if (idx == 0)
		return 0;
	const struct alt_cert *a = &cfg->alts[idx - 1];
	return mbedtls_ssl_set_hs_own_cert(ssl, kc_cert_mbedtls(a->chain), kc_key_mbedtls(a->key));
}

static void server_config_destroy(struct tls_server_config *cfg)
{
	mbedtls_ssl_config_free(&cfg->conf);
	mbedtls_ssl_ticket_free(&cfg->ticket);
	kc_cert_free(cfg->chain);
	kc_key_free(cfg->key);
	kc_cert_free(cfg->client_ca);
	for (size_t i = 0; i < cfg->nalts; i++) {
		kc_cert_free(cfg->alts[i].chain);
		kc_key_free(cfg->alts[i].key);
	}
	free(cfg->alts);
	if (cfg->sni_arg_free)
		cfg->sni_arg_free(cfg->sni_arg);
	free(cfg);
}

int tls_server_config_new(const struct tls_server_opts *opts, struct tls_server_config **out,
			  struct kc_err *err)
{
	char eb[128];
	if (opts->client_auth != TLS_CLIENT_AUTH_NONE && !opts->client_ca)
		return kc_err_set(err, -KC_EINVAL, "client certificate auth needs a client CA");
	struct tls_server_config *cfg = xcalloc(1, sizeof *cfg);
	atomic_init(&cfg->refs, 1);
	int rc = copy_pair(opts->chain, opts->key, &cfg->chain, &cfg->key, err);
	if (rc != 0) {
		free(cfg);
		return rc;
	}
	mbedtls_ssl_ticket_init(&cfg->ticket);
	rc = conf_common(&cfg->conf, MBEDTLS_SSL_IS_SERVER, err);
	if (rc != 0)
		goto fail;
	int ret = mbedtls_ssl_ticket_setup(&cfg->ticket, kc_crypto_rng, NULL,
					   MBEDTLS_CIPHER_AES_256_GCM, TICKET_LIFETIME_S);
	if (ret != 0) {
		rc = kc_err_set(err, -KC_ETLS, "tls session tickets: %s",
				mbed_err(ret, eb, sizeof eb));
		goto fail;
	}
	mbedtls_ssl_conf_session_tickets_cb(&cfg->conf, mbedtls_ssl_ticket_write,
					    mbedtls_ssl_ticket_parse, &cfg->ticket);
	ret = mbedtls_ssl_conf_own_cert(&cfg->conf, kc_cert_mbedtls(cfg->chain),
					    kc_key_mbedtls(cfg->key));
	if (ret != 0) {
		rc = kc_err_set(err, -KC_ETLS, "tls server certificate: %s",
				mbed_err(ret, eb, sizeof eb));
		goto fail;
	}
	if (opts->client_auth != TLS_CLIENT_AUTH_NONE) {
		cfg->client_ca = kc_cert_dup(opts->client_ca);
		mbedtls_ssl_conf_ca_chain(&cfg->conf, kc_cert_mbedtls(cfg->client_ca), NULL);
		mbedtls_ssl_conf_authmode(&cfg->conf, opts->client_auth == TLS_CLIENT_AUTH_REQUIRED
							      ? MBEDTLS_SSL_VERIFY_REQUIRED
							      : MBEDTLS_SSL_VERIFY_OPTIONAL);
	} else {
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	cfg->sni = opts->sni;
	cfg->sni_arg = opts->sni_arg;
	cfg->sni_arg_free = opts->sni_arg_free;
	mbedtls_ssl_conf_sni(&cfg->conf, server_sni, cfg);
	*out = cfg;
	return 0;
fail:
	server_config_destroy(cfg); /* sni_arg is not the config's yet: sni_arg_free is NULL */
	return rc;
}

int tls_server_config_add_cert(struct tls_server_config *cfg, const struct kc_cert *chain,
			       const struct kc_key *key, struct kc_err *err)
{
	struct alt_cert a;
	int rc = copy_pair(chain, key, &a.chain, &a.key, err);
	if (rc != 0)
		return rc;
	cfg->alts = xrealloc(cfg->alts, (cfg->nalts + 1) * sizeof *cfg->alts);
	cfg->alts[cfg->nalts++] = a;
	return (int)cfg->nalts;
}

void tls_server_config_free(struct tls_server_config *cfg)
{
	if (cfg && atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) == 1)
		server_config_destroy(cfg);
}

/* ---- client config ---- */

static void client_config_destroy(struct tls_client_config *cfg)
{
	for (size_t i = 0; i < SESSION_CACHE_SIZE; i++)
		mbedtls_ssl_session_free(&cfg->cache[i].s);
	pthread_mutex_destroy(&cfg->cache_mu);
	mbedtls_ssl_config_free(&cfg->conf);
	kc_cert_free(cfg->ca);
	kc_cert_free(cfg->cert);
	kc_key_free(cfg->key);
	free(cfg->server_name);
	free(cfg);
}

int tls_client_config_new(const struct tls_client_opts *opts, struct tls_client_config **out,
			  struct kc_err *err)
{
	char eb[128];
	if (!opts->ca && !opts->insecure_skip_verify)
		return kc_err_set(err, -KC_EINVAL, "a CA is required to verify servers");
	struct tls_client_config *cfg = xcalloc(1, sizeof *cfg);
	atomic_init(&cfg->refs, 1);
	pthread_mutex_init(&cfg->cache_mu, NULL);
	for (size_t i = 0; i < SESSION_CACHE_SIZE; i++)
		mbedtls_ssl_session_init(&cfg->cache[i].s);
	int rc = 0;
	if (opts->cert || opts->key) {
		rc = copy_pair(opts->cert, opts->key, &cfg->cert, &cfg->key, err);
		if (rc != 0) {
			free(cfg);
			return rc;
		}
	}
	rc = conf_common(&cfg->conf, MBEDTLS_SSL_IS_CLIENT, err);
	if (rc != 0)
		goto fail;
	mbedtls_ssl_conf_session_tickets(&cfg->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	if (cfg->cert) {
		int ret = mbedtls_ssl_conf_own_cert(&cfg->conf, kc_cert_mbedtls(cfg->cert),
						    kc_key_mbedtls(cfg->key));
		if (ret != 0) {
			rc = kc_err_set(err, -KC_ETLS, "tls client certificate: %s",
					mbed_err(ret, eb, sizeof eb));
			goto fail;
		}
	}
	cfg->insecure = opts->insecure_skip_verify;
	if (cfg->insecure) {
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
	} else {
		cfg->ca = kc_cert_dup(opts->ca);
		mbedtls_ssl_conf_ca_chain(&cfg->conf, kc_cert_mbedtls(cfg->ca), NULL);
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	}
	if (opts->server_name)
		cfg->server_name = xstrdup(opts->server_name);
	*out = cfg;
	return 0;
fail:
	client_config_destroy(cfg);
	return rc;
}

void tls_client_config_free(struct tls_client_config *cfg)
{
	if (cfg && atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) == 1)
		client_config_destroy(cfg);
}

/* ---- the transport ---- */

/* Per-connection verify hook for an IP-literal server name: the leaf must carry that address
 * as an iPAddress SAN. Adds a failure flag; the chain checks are mbedTLS's. */
static int verify_ip(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls *t = arg;
	if (depth != 0)
		return 0;
	for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s && s->buf.p; s = s->next) {
		const mbedtls_x509_buf *b = &s->buf;
		if ((b->tag & MBEDTLS_ASN1_TAG_VALUE_MASK) == 7 && b->len == t->ip_len &&
		    memcmp(b->p, t->ip, t->ip_len) == 0)
			return 0;
	}
	*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

/* Copies the verified peer's subject into the transport: CN, and O values joined by ','.
 * A name that does not fit, or an O value holding ',' (it would split into two groups), fails
 * the connection instead of being truncated into a different identity. */
static int copy_peer_subject(struct tls *t, const mbedtls_x509_crt *peer)
{
	char *cn = t->base.peer_cn, *groups = t->base.peer_groups;
	size_t glen = 0;
	for (const mbedtls_x509_name *n = &peer->subject; n && n->oid.p; n = n->next) {
		const mbedtls_x509_buf *v = &n->val;
		if (memchr(v->p, '\0', v->len))
			return -1;
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
			if (v->len >= sizeof t->base.peer_cn)
				return -1;
			memcpy(cn, v->p, v->len);
			cn[v->len] = '\0';
		} else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) == 0) {
			size_t need = glen + (glen ? 1 : 0) + v->len;
			if (memchr(v->p, ',', v->len) || need >= sizeof t->base.peer_groups)
				return -1;
			if (glen)
				groups[glen++] = ',';
			memcpy(groups + glen, v->p, v->len);
			glen += v->len;
			groups[glen] = '\0';
		}
	}
	return 0;
}

static ssize_t fail(struct tls *t, int ret, unsigned *want, const char *op)
{
	char eb[160];
	if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
		*want = EPOLLIN;
		return -EAGAIN;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
		*want = EPOLLOUT;
		return -EAGAIN;
	}
	int code = -KC_ETLS;
	if ((ret == MBEDTLS_ERR_NET_SEND_FAILED || ret == MBEDTLS_ERR_NET_RECV_FAILED ||
	     ret == MBEDTLS_ERR_NET_CONN_RESET) &&
	    t->sock_errno)
		code = -t->sock_errno;
	else if (ret == MBEDTLS_ERR_SSL_CONN_EOF)
		code = -ECONNRESET;
	if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		char info[256];
		mbedtls_x509_crt_verify_info(info, sizeof info, "",
					     mbedtls_ssl_get_verify_result(&t->ssl));
		for (char *p = info; *p; p++)
			if (*p == '\n')
				*p = p[1] ? ';' : '\0';
		log_debug("tls %s failed fd=%d err=certificate verification failed: %s", op,
			  t->base.fd, info);
	} else {
		log_debug("tls %s failed fd=%d err=%s", op, t->base.fd,
			  mbed_err(ret, eb, sizeof eb));
	}
	t->failed = code;
	return code;
}

/* Client: offers the session cached under t->session_key, if any. */
static void session_offer(struct tls *t)
{
	struct tls_client_config *c = t->cli;
	pthread_mutex_lock(&c->cache_mu);
	for (size_t i = 0; i < SESSION_CACHE_SIZE; i++) {
		if (!strcmp(c->cache[i].key, t->session_key)) {
			if (mbedtls_ssl_set_session(&t->ssl, &c->cache[i].s) == 0)
				c->cache[i].used = ++c->cache_clock;
			break;
		}
	}
	pthread_mutex_unlock(&c->cache_mu);
}

/* Client, after a handshake: keeps its session for the next connection (the least recently
 * used entry makes room). */
static void session_keep(struct tls *t)
{
	struct tls_client_config *c = t->cli;
	mbedtls_ssl_session s;
	mbedtls_ssl_session_init(&s);
	if (mbedtls_ssl_get_session(&t->ssl, &s) != 0 || s.ticket_len == 0) {
		mbedtls_ssl_session_free(&s);
		return;
	}
	pthread_mutex_lock(&c->cache_mu);
	size_t slot = 0;
	for (size_t i = 0; i < SESSION_CACHE_SIZE; i++) {
		if (!strcmp(c->cache[i].key, t->session_key)) {
			/* a full handshake makes a new master secret; a resumed one keeps it */
			t->resumed = !memcmp(c->cache[i].s.master, s.master, sizeof s.master);
			slot = i;
			break;
		}
		if (c->cache[i].used < c->cache[slot].used)
			slot = i;
	}
	mbedtls_ssl_session_free(&c->cache[slot].s);
	c->cache[slot].s = s; /* moved: s owns its allocations, now the slot's */
	memcpy(c->cache[slot].key, t->session_key, sizeof c->cache[slot].key);
	c->cache[slot].used = ++c->cache_clock;
	pthread_mutex_unlock(&c->cache_mu);
}

static ssize_t finish_handshake(struct tls *t)
{
	const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&t->ssl);
	uint32_t vr = mbedtls_ssl_get_verify_result(&t->ssl);
	bool verifying = t->cli ? !t->cli->insecure : t->srv->client_ca != NULL;
	if (peer && verifying && vr != 0) {
		/* Only the server's OPTIONAL mode gets here: a client certificate was offered but
		 * does not verify. Refuse it like Go's VerifyClientCertIfGiven. */
		mbedtls_ssl_send_alert_message(&t->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
					       MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
		unsigned want;
		return fail(t, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, &want, "handshake");
	}
	if (peer && verifying) {
		if (copy_peer_subject(t, peer) != 0) {
			mbedtls_ssl_send_alert_message(&t->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
						       MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
			log_warn("tls peer certificate subject unusable fd=%d", t->base.fd);
			t->base.peer_cn[0] = t->base.peer_groups[0] = '\0';
			t->failed = -KC_ETLS;
			return t->failed;
		}
		t->base.peer_verified = true;
	}
	t->handshake_done = true;
	if (t->cli && t->session_key[0])
		session_keep(t);
	log_debug("tls handshake done fd=%d version=%s suite=%s sni=%s peer=%s groups=%s",
		  t->base.fd, mbedtls_ssl_get_version(&t->ssl),
		  mbedtls_ssl_get_ciphersuite(&t->ssl), t->base.sni, t->base.peer_cn,
		  t->base.peer_groups);
	return 0;
}

static ssize_t ensure_handshake(struct tls *t, unsigned *want)
{
	if (t->handshake_done)
		return 0;
	int ret = mbedtls_ssl_handshake(&t->ssl);
	if (ret != 0)
		return fail(t, ret, want, "handshake");
	return finish_handshake(t);
}

static ssize_t tls_read(struct transport *tr, void *buf, size_t n, unsigned *want)
{
	struct tls *t = (struct tls *)tr;
	if (t->failed)
		return t->failed;
	ssize_t rc = ensure_handshake(t, want);
	if (rc != 0)
		return rc;
	if (t->eof || n == 0)
		return 0;
	int ret = mbedtls_ssl_read(&t->ssl, buf, n > INT_MAX ? INT_MAX : n);
	if (ret > 0)
		return ret;
	if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
	    ret == MBEDTLS_ERR_SSL_CONN_EOF) {
		t->eof = true;
		return 0;
	}
	return fail(t, ret, want, "read");
}

static ssize_t tls_write(struct transport *tr, const void *buf, size_t n, unsigned *want)
{
	struct tls *t = (struct tls *)tr;
	if (t->failed)
		return t->failed;
	ssize_t rc = ensure_handshake(t, want);
	if (rc != 0)
		return rc;
	size_t len = n;
	if (t->write_pending) {
		if (n < t->write_pending) {
			log_error("tls write retried with fewer bytes fd=%d pending=%zu n=%zu",
				  t->base.fd, t->write_pending, n);
			return -KC_EINVAL;
		}
		len = t->write_pending; /* mbedTLS only flushes what it holds */
	} else {
		int max = mbedtls_ssl_get_max_out_record_payload(&t->ssl);
		if (max > 0 && len > (size_t)max)
			len = (size_t)max;
		if (len > INT_MAX)
			len = INT_MAX;
		if (len == 0)
			return 0;
	}
	int ret = mbedtls_ssl_write(&t->ssl, buf, len);
	if (ret > 0) {
		t->write_pending = 0;
		return ret;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		t->write_pending = len;
	return fail(t, ret, want, "write");
}

static size_t tls_pending(struct transport *tr)
{
	struct tls *t = (struct tls *)tr;
	return t->failed ? 0 : mbedtls_ssl_get_bytes_avail(&t->ssl);
}

static void tls_shutdown(struct transport *tr)
{
	struct tls *t = (struct tls *)tr;
	if (!t->handshake_done || t->failed)
		return;
	/* Best effort: with a full socket buffer mbedTLS flushes what it still holds and the
	 * alert is dropped; waiting for the peer's close_notify is not needed (RFC 8446 6.1). */
	int ret = mbedtls_ssl_close_notify(&t->ssl);
	if (ret != 0 && ret != MBEDTLS_ERR_SSL_WANT_WRITE && ret != MBEDTLS_ERR_SSL_WANT_READ)
		log_debug("tls close_notify failed fd=%d code=-0x%04x", t->base.fd, (unsigned)-ret);
	t->failed = -KC_ECLOSED;
}

static void tls_free(struct transport *tr)
{
	struct tls *t = (struct tls *)tr;
	mbedtls_ssl_free(&t->ssl);
	close(t->base.fd);
	tls_server_config_free(t->srv);
	tls_client_config_free(t->cli);
	free(t);
}

static const struct transport_ops tls_ops = {
	.read = tls_read,
	.write = tls_write,
	.pending = tls_pending,
	.shutdown = tls_shutdown,
	.free = tls_free,
};

static struct tls *tls_new(const mbedtls_ssl_config *conf, int fd)
{
	char eb[128];
	struct tls *t = xcalloc(1, sizeof *t);
	t->base.ops = &tls_ops;
	t->base.fd = fd;
	mbedtls_ssl_init(&t->ssl);
	int ret = mbedtls_ssl_setup(&t->ssl, conf);
	/* Only allocation can fail here, and running out of memory aborts in kc (as xmalloc). */
	if (ret != 0) {
		log_error("tls setup failed err=%s", mbed_err(ret, eb, sizeof eb));
		abort();
	}
	mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
	return t;
}

struct transport *tls_server_wrap(struct tls_server_config *cfg, int fd)
{
	atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
	struct tls *t = tls_new(&cfg->conf, fd);
	t->srv = cfg;
	return &t->base;
}

int tls_client_wrap(struct tls_client_config *cfg, int fd, const char *server_name,
		    struct transport **out, struct kc_err *err)
{
	char eb[128];
	const char *name = server_name ? server_name : cfg->server_name;
	char host[256] = "";
	if (name) {
		size_t len = strlen(name);
		if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
			name++;
			len -= 2;
		}
		if (len == 0 || len >= sizeof host) {
			close(fd);
			return kc_err_set(err, -KC_EINVAL, "tls server name of %zu bytes", len);
		}
		memcpy(host, name, len);
		host[len] = '\0';
	} else if (!cfg->insecure) {
		close(fd);
		return kc_err_set(err, -KC_EINVAL, "tls client needs a server name to verify");
	}

	atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
	struct tls *t = tls_new(&cfg->conf, fd);
	t->cli = cfg;
	if (host[0]) {
		if (inet_pton(AF_INET, host, t->ip) == 1)
			t->ip_len = 4;
		else if (inet_pton(AF_INET6, host, t->ip) == 1)
			t->ip_len = 16;
		if (t->ip_len) {
			if (!cfg->insecure)
				mbedtls_ssl_set_verify(&t->ssl, verify_ip, t);
		} else {
			int ret = mbedtls_ssl_set_hostname(&t->ssl, host);
			if (ret != 0) {
				transport_close(&t->base);
				return kc_err_set(err, -KC_EINVAL, "tls server name: %s",
						  mbed_err(ret, eb, sizeof eb));
			}
			memcpy(t->base.sni, host, strlen(host) + 1);
		}
	}
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	char addr[INET6_ADDRSTRLEN] = "";
	if (getpeername(fd, (struct sockaddr *)&sa, &salen) == 0 &&
	    (sa.ss_family == AF_INET || sa.ss_family == AF_INET6)) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)&sa;
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&sa;
		bool v4 = sa.ss_family == AF_INET;
		inet_ntop(sa.ss_family, v4 ? (const void *)&a4->sin_addr : (const void *)&a6->sin6_addr,
			  addr, sizeof addr);
		snprintf(t->session_key, sizeof t->session_key, "%s@%s:%u", host, addr,
			 (unsigned)ntohs(v4 ? a4->sin_port : a6->sin6_port));
		session_offer(t);
	}
	*out = &t->base;
	return 0;
}

bool tls_resumed(struct transport *tr)
{
	return tr && tr->ops == &tls_ops && ((struct tls *)tr)->resumed;
}

const char *tls_version(struct transport *tr)
{
	if (!tr || tr->ops != &tls_ops)
		return "";
	struct tls *t = (struct tls *)tr;
	return t->handshake_done ? mbedtls_ssl_get_version(&t->ssl) : "";
}

const char *tls_ciphersuite(struct transport *tr)
{
	if (!tr || tr->ops != &tls_ops)
		return "";
	struct tls *t = (struct tls *)tr;
	return t->handshake_done ? mbedtls_ssl_get_ciphersuite(&t->ssl) : "";
}
