/* Unit tests for net/tls: handshakes and data both ways between tls_server_wrap and
 * tls_client_wrap over socketpairs driven by net/loop (with and without client certificates,
 * optional and required client auth, SNI certificate selection, DNS and IP name checks, wrong
 * CA, insecure mode, RSA certificates, close_notify, configs released while in use, many
 * threads sharing configs), then interop against a server thread on loopback TCP: curl,
 * openssl s_client and kubectl (Go's crypto/tls), each skipped when the tool is missing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/x509.h"
#include "net/loop.h"
#include "net/tls.h"

/* ---- fixture: a CA and the certificates the tests use ---- */

struct fixture {
	char dir[64];
	struct kc_cert *ca, *evil_ca;
	struct kc_key *ca_key, *evil_key;
	struct kc_cert *server, *other, *alice, *mallory;
	struct kc_key *server_key, *other_key, *alice_key, *mallory_key;
	char *ca_pem, *evil_ca_pem, *alice_pem, *alice_key_pem, *mallory_pem, *mallory_key_pem;
};

static struct fixture *F;

static void make_leaf(bool server, const char *cn, const char *const *orgs, size_t norgs,
		      const char *const *dns, size_t ndns, const char *const *ips, size_t nips,
		      struct kc_cert *ca, struct kc_key *ca_key, struct kc_cert **cert,
		      struct kc_key **key)
{
	struct kc_err err = { 0 };
	int64_t now = (int64_t)time(NULL);
	struct kc_cert_spec s = {
		.cn = cn,
		.orgs = orgs,
		.norgs = norgs,
		.dns_names = dns,
		.ndns = ndns,
		.ips = ips,
		.nips = nips,
		.not_before = now - 60,
		.not_after = now + 3600,
	};
	kc_assert(kc_key_generate(key, &err) == 0);
	int rc = server ? kc_cert_sign_server(ca, ca_key, *key, &s, cert, &err)
			: kc_cert_sign_client(ca, ca_key, *key, &s, cert, &err);
	if (rc != 0)
		kc_fatal("sign %s: %s", cn, err.msg);
}

static char *save_cert(const char *name, const struct kc_cert *c)
{
	struct kc_err err = { 0 };
	char *p = xasprintf("%s/%s", F->dir, name);
	kc_assert(kc_cert_save_file(c, p, &err) == 0);
	return p;
}

static char *save_key(const char *name, const struct kc_key *k)
{
	struct kc_err err = { 0 };
	char *p = xasprintf("%s/%s", F->dir, name);
	kc_assert(kc_key_save_file(k, p, &err) == 0);
	return p;
}

static int setup(void **state)
{
	(void)state;
	struct kc_err err = { 0 };
	F = xcalloc(1, sizeof *F);
	strcpy(F->dir, "/tmp/kc-test-tls-XXXXXX");
	if (!mkdtemp(F->dir))
		return -1;
	int64_t now = (int64_t)time(NULL);
	if (kc_ca_create("kc-ca", now, &F->ca, &F->ca_key, &err) != 0 ||
	    kc_ca_create("kc-ca", now, &F->evil_ca, &F->evil_key, &err) != 0)
		return -1;
	static const char *const dns[] = { "localhost", "api.kc.test" };
	static const char *const ips[] = { "127.0.0.1", "::1" };
	static const char *const other_dns[] = { "other.kc.test" };
	static const char *const groups[] = { "system:masters", "dev" };
	static const char *const mgroups[] = { "system:masters" };
	make_leaf(true, "kc-apiserver", NULL, 0, dns, 2, ips, 2, F->ca, F->ca_key, &F->server,
		  &F->server_key);
	make_leaf(true, "other", NULL, 0, other_dns, 1, NULL, 0, F->ca, F->ca_key, &F->other,
		  &F->other_key);
	make_leaf(false, "alice", groups, 2, NULL, 0, NULL, 0, F->ca, F->ca_key, &F->alice,
		  &F->alice_key);
	make_leaf(false, "mallory", mgroups, 1, NULL, 0, NULL, 0, F->evil_ca, F->evil_key,
		  &F->mallory, &F->mallory_key);
	F->ca_pem = save_cert("ca.pem", F->ca);
	F->evil_ca_pem = save_cert("evil-ca.pem", F->evil_ca);
	F->alice_pem = save_cert("alice.pem", F->alice);
	F->alice_key_pem = save_key("alice-key.pem", F->alice_key);
	F->mallory_pem = save_cert("mallory.pem", F->mallory);
	F->mallory_key_pem = save_key("mallory-key.pem", F->mallory_key);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", F->dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", F->dir);
	free(cmd);
	kc_cert_free(F->ca);
	kc_cert_free(F->evil_ca);
	kc_key_free(F->ca_key);
	kc_key_free(F->evil_key);
	kc_cert_free(F->server);
	kc_cert_free(F->other);
	kc_cert_free(F->alice);
	kc_cert_free(F->mallory);
	kc_key_free(F->server_key);
	kc_key_free(F->other_key);
	kc_key_free(F->alice_key);
	kc_key_free(F->mallory_key);
	free(F->ca_pem);
	free(F->evil_ca_pem);
	free(F->alice_pem);
	free(F->alice_key_pem);
	free(F->mallory_pem);
	free(F->mallory_key_pem);
	free(F);
	return 0;
}

static struct tls_server_config *server_config(enum tls_client_auth auth, tls_sni_fn sni)
{
	struct kc_err err = { 0 };
	struct tls_server_opts o = {
		.chain = F->server,
		.key = F->server_key,
		.client_ca = auth == TLS_CLIENT_AUTH_NONE ? NULL : F->ca,
		.client_auth = auth,
		.sni = sni,
	};
	struct tls_server_config *cfg = NULL;
	if (tls_server_config_new(&o, &cfg, &err) != 0)
		kc_fatal("server config: %s", err.msg);
	return cfg;
}

static struct tls_client_config *client_config(const struct kc_cert *ca, const struct kc_cert *cert,
					       const struct kc_key *key, bool insecure)
{
	struct kc_err err = { 0 };
	struct tls_client_opts o = {
		.ca = ca,
		.cert = cert,
		.key = key,
		.insecure_skip_verify = insecure,
	};
	struct tls_client_config *cfg = NULL;
	if (tls_client_config_new(&o, &cfg, &err) != 0)
		kc_fatal("client config: %s", err.msg);
	return cfg;
}

/* ---- driving two transports on one loop ---- */

struct ep {
	struct transport *t;
	struct loop_io io;
	const unsigned char *out;
	size_t out_len, out_off;
	unsigned char *in;
	size_t in_len, in_off;
	int err;
	bool finished;
};

static void ep_step(struct loop *l, struct ep *e)
{
	uint32_t events = 0;
	for (;;) {
		bool progress = false;
		unsigned want = 0;
		events = 0;
		if (e->out_off < e->out_len) {
			ssize_t r = transport_write(e->t, e->out + e->out_off,
						    e->out_len - e->out_off, &want);
			if (r > 0) {
				e->out_off += (size_t)r;
				progress = true;
			} else if (r == -EAGAIN) {
				events |= want;
			} else {
				e->err = r ? (int)r : -EIO;
				break;
			}
		}
		if (e->in_off < e->in_len) {
			ssize_t r = transport_read(e->t, e->in + e->in_off, e->in_len - e->in_off,
						   &want);
			if (r > 0) {
				e->in_off += (size_t)r;
				progress = true;
			} else if (r == -EAGAIN) {
				events |= want;
			} else {
				e->err = r ? (int)r : -ENODATA; /* ENODATA: early clean EOF */
				break;
			}
		}
		if (!progress)
			break;
	}
	if (e->err || (e->out_off == e->out_len && e->in_off == e->in_len)) {
		e->finished = true;
		loop_io_stop(l, &e->io);
		/* let a peer blocked on us see the end instead of waiting forever */
		if (e->err)
			shutdown(e->t->fd, SHUT_RDWR);
		return;
	}
	loop_io_start(l, &e->io, events);
}

static void ep_cb(struct loop *l, struct loop_io *io, uint32_t events)
{
	(void)events;
	ep_step(l, io->data);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void run_pair(struct ep *a, struct ep *b)
{
	struct loop *l = loop_new(NULL);
	kc_assert(l != NULL);
	loop_io_init(&a->io, a->t->fd, ep_cb, a);
	loop_io_init(&b->io, b->t->fd, ep_cb, b);
	ep_step(l, a);
	ep_step(l, b);
	uint64_t deadline = now_ms() + 20000;
	while (!(a->finished && b->finished) && now_ms() < deadline)
		loop_run_once(l, 100);
	if (!a->finished)
		a->err = -ETIMEDOUT;
	if (!b->finished)
		b->err = -ETIMEDOUT;
	loop_io_stop(l, &a->io);
	loop_io_stop(l, &b->io);
	loop_free(l);
}

struct outcome {
	int srv_err, cli_err;
	bool data_ok;
	bool srv_verified, cli_verified;
	char srv_cn[256], srv_groups[512], srv_sni[256];
	char cli_cn[256], cli_sni[256];
	char suite[96], version[16];
	bool resumed;
};

/* exchange() over TCP on loopback instead of a socketpair (session caching keys on the
 * server's address) */
static bool exchange_tcp;

static int tcp_listener = -1; /* one port for every exchange_tcp connection */

static void tcp_pair(int sv[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (tcp_listener < 0) {
		tcp_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		kc_assert(tcp_listener >= 0 &&
			  bind(tcp_listener, (struct sockaddr *)&a, sizeof a) == 0 &&
			  listen(tcp_listener, 4) == 0);
	}
	kc_assert(getsockname(tcp_listener, (struct sockaddr *)&a, &al) == 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	kc_assert(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	int s = accept4(tcp_listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	kc_assert(s >= 0);
	kc_assert(fcntl(c, F_SETFL, O_NONBLOCK) == 0);
	sv[0] = s;
	sv[1] = c;
}

static unsigned char *pattern(size_t n, uint64_t seed)
{
	struct kc_fake_rand r;
	kc_fake_rand_init(&r, seed);
	unsigned char *p = xmalloc(n ? n : 1);
	r.rand.bytes(&r.rand, p, n);
	return p;
}

/* One connection: handshake, then c2s bytes client->server and s2c bytes server->client at
 * the same time. Thread-safe (no cmocka calls). Returns the tls_client_wrap error, else 0. */
static int exchange(struct tls_server_config *scfg, struct tls_client_config *ccfg,
		    const char *name, size_t c2s, size_t s2c, struct outcome *o)
{
	memset(o, 0, sizeof *o);
	int sv[2];
	if (exchange_tcp)
		tcp_pair(sv);
	else
		kc_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	struct ep s = { 0 }, c = { 0 };
	struct kc_err err = { 0 };
	s.t = tls_server_wrap(scfg, sv[0]);
	int rc = tls_client_wrap(ccfg, sv[1], name, &c.t, &err);
	if (rc != 0) {
		transport_close(s.t);
		return rc;
	}
	unsigned char *up = pattern(c2s, 1), *down = pattern(s2c, 2);
	c.out = up;
	c.out_len = c2s;
	s.in = xmalloc(c2s + 1);
	s.in_len = c2s;
	s.out = down;
	s.out_len = s2c;
	c.in = xmalloc(s2c + 1);
	c.in_len = s2c;
	run_pair(&s, &c);
	o->srv_err = s.err;
	o->cli_err = c.err;
	o->data_ok = !s.err && !c.err && memcmp(s.in, up, c2s) == 0 && memcmp(c.in, down, s2c) == 0;
	o->srv_verified = s.t->peer_verified;
	o->cli_verified = c.t->peer_verified;
	strcpy(o->srv_cn, s.t->peer_cn);
	strcpy(o->srv_groups, s.t->peer_groups);
	strcpy(o->srv_sni, s.t->sni);
	strcpy(o->cli_cn, c.t->peer_cn);
	strcpy(o->cli_sni, c.t->sni);
	snprintf(o->suite, sizeof o->suite, "%s", tls_ciphersuite(c.t));
	snprintf(o->version, sizeof o->version, "%s", tls_version(c.t));
	o->resumed = tls_resumed(c.t);
	transport_close(s.t);
	transport_close(c.t);
	free(up);
	free(down);
	free(s.in);
	free(c.in);
	return 0;
}

/* ---- in-process tests ---- */

static void test_server_auth_only(void **state)
{
	(void)state;
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_NONE, NULL);
	struct tls_client_config *ccfg = client_config(F->ca, NULL, NULL, false);
	struct outcome o;
	/* large enough that both sides hit EAGAIN mid-record and must retry writes */
	assert_int_equal(exchange(scfg, ccfg, "api.kc.test", 300000, 500000, &o), 0);
	assert_int_equal(o.srv_err, 0);
	assert_int_equal(o.cli_err, 0);
	assert_true(o.data_ok);
	assert_string_equal(o.version, "TLSv1.2");
	assert_non_null(strstr(o.suite, "ECDHE-ECDSA"));
	assert_non_null(strstr(o.suite, "GCM"));
	assert_string_equal(o.srv_sni, "api.kc.test");
	assert_string_equal(o.cli_sni, "api.kc.test");
	assert_false(o.srv_verified);
	assert_string_equal(o.srv_cn, "");
	assert_true(o.cli_verified);
	assert_string_equal(o.cli_cn, "kc-apiserver");
	tls_server_config_free(scfg);
	tls_client_config_free(ccfg);
}

static void test_client_cert_required(void **state)
{
	(void)state;
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_REQUIRED, NULL);
	struct tls_client_config *alice = client_config(F->ca, F->alice, F->alice_key, false);
	struct tls_client_config *anon = client_config(F->ca, NULL, NULL, false);
	struct tls_client_config *mallory = client_config(F->ca, F->mallory, F->mallory_key, false);
	struct tls_client_config *swapped = client_config(F->ca, F->server, F->server_key, false);
	struct outcome o;

	assert_int_equal(exchange(scfg, alice, "localhost", 1000, 2000, &o), 0);
	assert_true(o.data_ok);
	assert_true(o.srv_verified);
	assert_string_equal(o.srv_cn, "alice");
	assert_string_equal(o.srv_groups, "system:masters,dev");

	/* no certificate when one is required */
	assert_int_equal(exchange(scfg, anon, "localhost", 10, 10, &o), 0);
	assert_int_equal(o.srv_err, -KC_ETLS);
	assert_true(o.cli_err < 0);
	assert_false(o.srv_verified);

	/* a certificate from another CA */
	assert_int_equal(exchange(scfg, mallory, "localhost", 10, 10, &o), 0);
	assert_int_equal(o.srv_err, -KC_ETLS);
	assert_true(o.cli_err < 0);
	assert_string_equal(o.srv_cn, "");

	/* a server certificate (serverAuth only) is no client certificate */
	assert_int_equal(exchange(scfg, swapped, "localhost", 10, 10, &o), 0);
	assert_int_equal(o.srv_err, -KC_ETLS);

	tls_server_config_free(scfg);
	tls_client_config_free(alice);
	tls_client_config_free(anon);
	tls_client_config_free(mallory);
	tls_client_config_free(swapped);
}

/* Session tickets: a second connection to the same server address under the same name resumes
 * the first's session and the server sees the same client identity; another name, another
 * client config, or a server whose ticket key is not the one that sealed the ticket (a
 * restarted server) each do a full handshake instead. */
static void test_resumption(void **state)
{
	(void)state;
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_REQUIRED, NULL);
	struct tls_server_config *other = server_config(TLS_CLIENT_AUTH_REQUIRED, NULL);
	struct tls_client_config *alice = client_config(F->ca, F->alice, F->alice_key, false);
	struct tls_client_config *alice2 = client_config(F->ca, F->alice, F->alice_key, false);
	struct outcome o;
	exchange_tcp = true;
	assert_int_equal(exchange(scfg, alice, "localhost", 100, 100, &o), 0);
	assert_true(o.data_ok);
	assert_false(o.resumed);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(exchange(scfg, alice, "localhost", 1000, 2000, &o), 0);
		assert_true(o.data_ok);
		assert_true(o.resumed);
		assert_true(o.srv_verified);
		assert_string_equal(o.srv_cn, "alice");
		assert_string_equal(o.srv_groups, "system:masters,dev");
		assert_true(o.cli_verified);
		assert_string_equal(o.cli_cn, "kc-apiserver");
	}
	/* the name is part of the key: a session verified for one name is not reused for
	 * another (IP-literal names are verified against the iPAddress SANs) */
	assert_int_equal(exchange(scfg, alice, "127.0.0.1", 10, 10, &o), 0);
	assert_true(o.data_ok);
	assert_false(o.resumed);
	/* sessions belong to a client config */
	assert_int_equal(exchange(scfg, alice2, "localhost", 10, 10, &o), 0);
	assert_false(o.resumed);
	/* a server that cannot open the ticket: a full handshake, and it works */
	assert_int_equal(exchange(other, alice, "localhost", 10, 10, &o), 0);
	assert_true(o.data_ok);
	assert_false(o.resumed);
	assert_string_equal(o.srv_cn, "alice");
	exchange_tcp = false;
	close(tcp_listener);
	tcp_listener = -1;
	tls_server_config_free(scfg);
	tls_server_config_free(other);
	tls_client_config_free(alice);
	tls_client_config_free(alice2);
}

static void test_client_cert_optional(void **state)
{
	(void)state;
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_OPTIONAL, NULL);
	struct tls_client_config *alice = client_config(F->ca, F->alice, F->alice_key, false);
	struct tls_client_config *anon = client_config(F->ca, NULL, NULL, false);
	struct tls_client_config *mallory = client_config(F->ca, F->mallory, F->mallory_key, false);
	struct outcome o;

	assert_int_equal(exchange(scfg, anon, "api.kc.test", 100, 100, &o), 0);
	assert_true(o.data_ok);
	assert_false(o.srv_verified);
	assert_string_equal(o.srv_cn, "");

	assert_int_equal(exchange(scfg, alice, "api.kc.test", 100, 100, &o), 0);
	assert_true(o.data_ok);
	assert_true(o.srv_verified);
	assert_string_equal(o.srv_cn, "alice");

	/* offered but invalid: refused, not downgraded to anonymous */
	assert_int_equal(exchange(scfg, mallory, "api.kc.test", 100, 100, &o), 0);
	assert_int_equal(o.srv_err, -KC_ETLS);
	assert_false(o.data_ok);
	assert_false(o.srv_verified);

	tls_server_config_free(scfg);
	tls_client_config_free(alice);
	tls_client_config_free(anon);
	tls_client_config_free(mallory);
}

static int sni_calls;

static int pick_cert(void *arg, const char *name)
{
	(void)arg;
	__atomic_add_fetch(&sni_calls, 1, __ATOMIC_RELAXED);
	if (strcmp(name, "other.kc.test") == 0)
		return 1;
	if (strcmp(name, "refused.kc.test") == 0)
		return -1;
	return 0;
}

static void test_sni(void **state)
{
	(void)state;
	struct kc_err err = { 0 };
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_NONE, pick_cert);
	assert_int_equal(tls_server_config_add_cert(scfg, F->other, F->other_key, &err), 1);
	/* a mismatched pair is refused */
	assert_int_equal(tls_server_config_add_cert(scfg, F->other, F->server_key, &err),
			 -KC_EINVAL);
	struct tls_client_config *ccfg = client_config(F->ca, NULL, NULL, false);
	struct outcome o;

	sni_calls = 0;
	assert_int_equal(exchange(scfg, ccfg, "other.kc.test", 100, 100, &o), 0);
	assert_true(o.data_ok);
	assert_string_equal(o.cli_cn, "other");
	assert_string_equal(o.srv_sni, "other.kc.test");
	assert_int_equal(sni_calls, 1);

	assert_int_equal(exchange(scfg, ccfg, "api.kc.test", 100, 100, &o), 0);
	assert_true(o.data_ok);
	assert_string_equal(o.cli_cn, "kc-apiserver");

	/* the callback aborts the handshake */
	assert_int_equal(exchange(scfg, ccfg, "refused.kc.test", 100, 100, &o), 0);
	assert_int_equal(o.srv_err, -KC_ETLS);
	assert_true(o.cli_err < 0);

	/* an IP literal sends no SNI: the default certificate, verified by IP SAN */
	sni_calls = 0;
	assert_int_equal(exchange(scfg, ccfg, "127.0.0.1", 100, 100, &o), 0);
	assert_true(o.data_ok);
	assert_string_equal(o.srv_sni, "");
	assert_int_equal(sni_calls, 0);

	tls_server_config_free(scfg);
	tls_client_config_free(ccfg);
}

static void test_names(void **state)
{
	(void)state;
	struct kc_err err = { 0 };
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_NONE, NULL);
	struct tls_client_config *ccfg = client_config(F->ca, NULL, NULL, false);
	struct outcome o;
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
		{ "localhost", true },     { "api.kc.test", true },  { "127.0.0.1", true },
		{ "::1", true },           { "[::1]", true },        { "wrong.kc.test", false },
		{ "kc-apiserver", false }, /* the CN is not a SAN */ { "10.9.9.9", false },
		{ "::2", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(exchange(scfg, ccfg, cases[i].name, 64, 64, &o), 0);
		if (cases[i].ok) {
			if (!o.data_ok)
				fail_msg("%s: srv=%d cli=%d", cases[i].name, o.srv_err, o.cli_err);
			assert_true(o.cli_verified);
		} else {
			if (o.cli_err != -KC_ETLS)
				fail_msg("%s: expected a TLS failure, got %d", cases[i].name,
					 o.cli_err);
			assert_false(o.cli_verified);
		}
	}

	/* a name is required to verify; the config's default is used when wrap gets none */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct transport *t = NULL;
	assert_int_equal(tls_client_wrap(ccfg, sv[0], NULL, &t, &err), -KC_EINVAL);
	assert_null(t);
	close(sv[1]);
	struct tls_client_opts co = { .ca = F->ca, .server_name = "api.kc.test" };
	struct tls_client_config *named;
	assert_int_equal(tls_client_config_new(&co, &named, &err), 0);
	assert_int_equal(exchange(scfg, named, NULL, 10, 10, &o), 0);
	assert_true(o.data_ok);
	assert_string_equal(o.srv_sni, "api.kc.test");
	tls_client_config_free(named);

	/* config errors */
	struct tls_client_config *bad = NULL;
	struct tls_client_opts none = { 0 };
	assert_int_equal(tls_client_config_new(&none, &bad, &err), -KC_EINVAL);
	struct tls_client_opts mismatch = { .ca = F->ca, .cert = F->alice, .key = F->server_key };
	assert_int_equal(tls_client_config_new(&mismatch, &bad, &err), -KC_EINVAL);
	struct tls_server_opts so = { .chain = F->server, .key = F->alice_key };
	struct tls_server_config *sbad = NULL;
	assert_int_equal(tls_server_config_new(&so, &sbad, &err), -KC_EINVAL);
	so.key = F->server_key;
	so.client_auth = TLS_CLIENT_AUTH_REQUIRED;
	assert_int_equal(tls_server_config_new(&so, &sbad, &err), -KC_EINVAL);
	assert_null(bad);
	assert_null(sbad);

	tls_server_config_free(scfg);
	tls_client_config_free(ccfg);
}

static void test_wrong_ca_and_insecure(void **state)
{
	(void)state;
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_NONE, NULL);
	struct tls_client_config *evil = client_config(F->evil_ca, NULL, NULL, false);
	struct tls_client_config *insecure = client_config(NULL, NULL, NULL, true);
	struct outcome o;
	assert_int_equal(exchange(scfg, evil, "api.kc.test", 10, 10, &o), 0);
	assert_int_equal(o.cli_err, -KC_ETLS);
	assert_true(o.srv_err < 0);
	assert_false(o.cli_verified);

	assert_int_equal(exchange(scfg, insecure, "wrong.kc.test", 1000, 1000, &o), 0);
	assert_true(o.data_ok);
	assert_false(o.cli_verified);
	assert_string_equal(o.cli_cn, "");
	assert_int_equal(exchange(scfg, insecure, NULL, 1000, 1000, &o), 0);
	assert_true(o.data_ok);
	tls_server_config_free(scfg);
	tls_client_config_free(evil);
	tls_client_config_free(insecure);
}

/* RSA certificates made by openssl: the ECDHE-RSA suites. */
static void test_rsa(void **state)
{
	(void)state;
	if (system("openssl version >/dev/null 2>&1") != 0) {
		print_message("openssl not installed: skipping RSA certificate test\n");
		return;
	}
	char *key = xasprintf("%s/rsa-key.pem", F->dir), *crt = xasprintf("%s/rsa.pem", F->dir);
	char *cmd = xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' "
			      "-days 2 -subj '/CN=rsa.kc.test' -addext "
			      "'subjectAltName=DNS:rsa.kc.test' >/dev/null 2>&1",
			      key, crt);
	assert_int_equal(system(cmd), 0);
	struct kc_err err = { 0 };
	struct kc_cert *c;
	struct kc_key *k;
	assert_int_equal(kc_cert_load_file(crt, &c, &err), 0);
	assert_int_equal(kc_key_load_file(key, &k, &err), 0);
	struct tls_server_opts so = { .chain = c, .key = k };
	struct tls_server_config *scfg;
	assert_int_equal(tls_server_config_new(&so, &scfg, &err), 0);
	struct tls_client_config *ccfg = client_config(c, NULL, NULL, false);
	struct outcome o;
	assert_int_equal(exchange(scfg, ccfg, "rsa.kc.test", 70000, 70000, &o), 0);
	assert_true(o.data_ok);
	assert_non_null(strstr(o.suite, "ECDHE-RSA"));
	tls_server_config_free(scfg);
	tls_client_config_free(ccfg);
	kc_cert_free(c);
	kc_key_free(k);
	free(cmd);
	free(key);
	free(crt);
}

/* Reads until the transport reports end of stream; returns 0, or the error. */
static int read_to_eof(struct transport *t, struct kc_str *got)
{
	uint64_t deadline = now_ms() + 10000;
	while (now_ms() < deadline) {
		char buf[4096];
		unsigned want = 0;
		ssize_t r = transport_read(t, buf, sizeof buf, &want);
		if (r > 0) {
			kc_str_add(got, buf, (size_t)r);
			continue;
		}
		if (r == 0)
			return 0;
		if (r != -EAGAIN)
			return (int)r;
		struct pollfd p = { .fd = t->fd, .events = (short)want };
		poll(&p, 1, 100);
	}
	return -ETIMEDOUT;
}

/* Writes everything; returns 0 or the error. */
static int write_all(struct transport *t, const void *data, size_t n)
{
	const char *p = data;
	uint64_t deadline = now_ms() + 10000;
	while (n > 0 && now_ms() < deadline) {
		unsigned want = 0;
		ssize_t r = transport_write(t, p, n, &want);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r != -EAGAIN)
			return (int)r;
		struct pollfd pf = { .fd = t->fd, .events = (short)want };
		poll(&pf, 1, 100);
	}
	return n ? -ETIMEDOUT : 0;
}

/* Closing one side sends close_notify: the other reads a clean end of stream after the last
 * byte. The creator's config references are dropped before the connection runs. */
static void test_close_notify_and_refs(void **state)
{
	(void)state;
	struct kc_err err = { 0 };
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_NONE, NULL);
	struct tls_client_config *ccfg = client_config(F->ca, NULL, NULL, false);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct transport *s = tls_server_wrap(scfg, sv[0]);
	struct transport *c;
	assert_int_equal(tls_client_wrap(ccfg, sv[1], "localhost", &c, &err), 0);
	tls_server_config_free(scfg); /* the transports keep them alive */
	tls_client_config_free(ccfg);
	assert_string_equal(tls_ciphersuite(c), "");

	/* the client's first write drives the handshake; the server must read meanwhile, so
	 * run both through one loop first */
	struct ep es = { .t = s, .in = xmalloc(5), .in_len = 5 };
	struct ep ec = { .t = c, .out = (const unsigned char *)"hello", .out_len = 5 };
	run_pair(&es, &ec);
	assert_int_equal(es.err, 0);
	assert_int_equal(ec.err, 0);
	assert_memory_equal(es.in, "hello", 5);
	free(es.in);

	assert_int_equal(write_all(s, "bye", 3), 0);
	transport_close(s);
	struct kc_str got = KC_STR_INIT;
	assert_int_equal(read_to_eof(c, &got), 0);
	assert_string_equal(got.buf, "bye");
	unsigned want;
	char b[4];
	assert_int_equal(transport_read(c, b, sizeof b, &want), 0); /* EOF stays EOF */
	assert_int_equal(transport_pending(c), 0);
	kc_str_free(&got);
	transport_close(c);

	/* a plain transport is not TLS */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct transport *p = transport_plain_new(sv[0]);
	assert_string_equal(tls_version(p), "");
	transport_close(p);
	close(sv[1]);
}

/* The peer's socket goes away without close_notify: reads see a plain end of stream (HTTP's
 * framing catches truncation), writes the socket error itself. */
static void test_peer_vanishes(void **state)
{
	(void)state;
	struct kc_err err = { 0 };
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_NONE, NULL);
	struct tls_client_config *ccfg = client_config(F->ca, NULL, NULL, false);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct transport *s = tls_server_wrap(scfg, sv[0]);
	struct transport *c;
	assert_int_equal(tls_client_wrap(ccfg, sv[1], "localhost", &c, &err), 0);
	struct ep es = { .t = s, .in = xmalloc(2), .in_len = 2 };
	struct ep ec = { .t = c, .out = (const unsigned char *)"hi", .out_len = 2 };
	run_pair(&es, &ec);
	assert_int_equal(es.err, 0);
	assert_int_equal(ec.err, 0);
	free(es.in);

	shutdown(c->fd, SHUT_RDWR);
	struct kc_str got = KC_STR_INIT;
	assert_int_equal(read_to_eof(s, &got), 0);
	assert_int_equal(got.len, 0);
	kc_str_free(&got);
	static char big[65536];
	int rc = write_all(s, big, sizeof big);
	assert_true(rc == -EPIPE || rc == -ECONNRESET);
	transport_close(s);
	transport_close(c);
	tls_server_config_free(scfg);
	tls_client_config_free(ccfg);
}

/* A peer speaking garbage instead of TLS fails the handshake cleanly. */
static void test_garbage_peer(void **state)
{
	(void)state;
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_NONE, NULL);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct transport *s = tls_server_wrap(scfg, sv[0]);
	const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(write(sv[1], junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
	struct kc_str got = KC_STR_INIT;
	int rc = read_to_eof(s, &got);
	assert_int_equal(rc, -KC_ETLS);
	/* errors are sticky */
	unsigned want;
	char b[4];
	assert_int_equal(transport_write(s, "x", 1, &want), -KC_ETLS);
	kc_str_free(&got);
	transport_close(s);
	close(sv[1]);

	/* the peer hangs up mid-handshake */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	s = tls_server_wrap(scfg, sv[0]);
	close(sv[1]);
	assert_int_equal(transport_read(s, b, sizeof b, &want), -ECONNRESET);
	transport_close(s);
	tls_server_config_free(scfg);
}

struct thread_arg {
	struct tls_server_config *scfg;
	struct tls_client_config *ccfg;
	int failures;
};

static void *handshake_thread(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < 6; i++) {
		struct outcome o;
		if (exchange(a->scfg, a->ccfg, "api.kc.test", 20000, 20000, &o) != 0 ||
		    !o.data_ok || !o.srv_verified || strcmp(o.srv_cn, "alice") != 0)
			a->failures++;
	}
	return NULL;
}

/* Many threads handshake at once on the same two configs (shared keys and CAs). */
static void test_threads_share_configs(void **state)
{
	(void)state;
	enum { N = 4 };
	struct tls_server_config *scfg = server_config(TLS_CLIENT_AUTH_REQUIRED, NULL);
	struct tls_client_config *ccfg = client_config(F->ca, F->alice, F->alice_key, false);
	pthread_t th[N];
	struct thread_arg args[N];
	for (int i = 0; i < N; i++) {
		args[i] = (struct thread_arg){ .scfg = scfg, .ccfg = ccfg };
		assert_int_equal(pthread_create(&th[i], NULL, handshake_thread, &args[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	tls_server_config_free(scfg);
	tls_client_config_free(ccfg);
}

/* ---- interop: a tiny HTTPS server on loopback in its own thread ---- */

#define MAX_CONNS 64

struct web {
	struct loop *l;
	struct tls_server_config *cfg;
	int lfd;
	int port;
	struct loop_io lio;
	pthread_t th;
	struct conn *conns[MAX_CONNS];
};

struct conn {
	struct web *w;
	int slot;
	struct transport *t;
	struct loop_io io;
	struct kc_str req;
	struct kc_str resp;
	size_t off;
	bool writing;
};

static void conn_close(struct conn *c)
{
	loop_io_stop(c->w->l, &c->io);
	c->w->conns[c->slot] = NULL;
	transport_close(c->t);
	kc_str_free(&c->req);
	kc_str_free(&c->resp);
	free(c);
}

static void conn_step(struct conn *c)
{
	unsigned want = 0;
	while (!c->writing) {
		char buf[4096];
		ssize_t r = transport_read(c->t, buf, sizeof buf, &want);
		if (r == -EAGAIN) {
			loop_io_start(c->w->l, &c->io, want);
			return;
		}
		if (r <= 0) {
			conn_close(c);
			return;
		}
		kc_str_add(&c->req, buf, (size_t)r);
		if (strstr(c->req.buf, "\r\n\r\n")) {
			struct kc_str body = KC_STR_INIT;
			kc_str_addf(&body, "hello %s groups=%s sni=%s suite=%s\n",
				    c->t->peer_verified ? c->t->peer_cn : "anonymous",
				    c->t->peer_groups, c->t->sni, tls_ciphersuite(c->t));
			kc_str_addf(&c->resp,
				    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
				    body.len, body.buf);
			kc_str_free(&body);
			c->writing = true;
		}
	}
	while (c->off < c->resp.len) {
		ssize_t r =
			transport_write(c->t, c->resp.buf + c->off, c->resp.len - c->off, &want);
		if (r == -EAGAIN) {
			loop_io_start(c->w->l, &c->io, want);
			return;
		}
		if (r <= 0) {
			conn_close(c);
			return;
		}
		c->off += (size_t)r;
	}
	conn_close(c); /* sends close_notify */
}

static void conn_cb(struct loop *l, struct loop_io *io, uint32_t events)
{
	(void)l;
	(void)events;
	conn_step(io->data);
}

static void accept_cb(struct loop *l, struct loop_io *io, uint32_t events)
{
	(void)events;
	struct web *w = io->data;
	for (;;) {
		int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int slot = -1;
		for (int i = 0; i < MAX_CONNS && slot < 0; i++)
			if (!w->conns[i])
				slot = i;
		if (slot < 0) {
			close(fd);
			continue;
		}
		struct conn *c = xcalloc(1, sizeof *c);
		c->w = w;
		c->slot = slot;
		c->t = tls_server_wrap(w->cfg, fd);
		kc_str_init(&c->req);
		kc_str_init(&c->resp);
		loop_io_init(&c->io, fd, conn_cb, c);
		w->conns[slot] = c;
		(void)l;
		conn_step(c);
	}
}

static void *web_thread(void *p)
{
	struct web *w = p;
	loop_run(w->l);
	return NULL;
}

static void web_start(struct web *w, enum tls_client_auth auth)
{
	memset(w, 0, sizeof *w);
	w->cfg = server_config(auth, NULL);
	w->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	kc_assert(w->lfd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	kc_assert(bind(w->lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
	kc_assert(listen(w->lfd, 16) == 0);
	socklen_t len = sizeof sa;
	kc_assert(getsockname(w->lfd, (struct sockaddr *)&sa, &len) == 0);
	w->port = ntohs(sa.sin_port);
	w->l = loop_new(NULL);
	kc_assert(w->l != NULL);
	loop_io_init(&w->lio, w->lfd, accept_cb, w);
	kc_assert(loop_io_start(w->l, &w->lio, EPOLLIN) == 0);
	kc_assert(pthread_create(&w->th, NULL, web_thread, w) == 0);
}

static void web_stop(struct web *w)
{
	loop_stop(w->l);
	pthread_join(w->th, NULL);
	for (int i = 0; i < MAX_CONNS; i++)
		if (w->conns[i])
			conn_close(w->conns[i]);
	loop_io_stop(w->l, &w->lio);
	close(w->lfd);
	loop_free(w->l);
	tls_server_config_free(w->cfg);
}

/* Runs a command; returns its output (stderr merged) and exit status. */
static char *run(const char *cmd, int *status)
{
	char *full = xasprintf("%s 2>&1 </dev/null", cmd);
	FILE *p = popen(full, "r");
	free(full);
	kc_assert(p != NULL);
	struct kc_str out = KC_STR_INIT;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		kc_str_add(&out, buf, n);
	*status = pclose(p);
	return kc_str_detach(&out, NULL);
}

static bool have(const char *tool)
{
	char *cmd = xasprintf("command -v %s >/dev/null 2>&1", tool);
	int rc = system(cmd);
	free(cmd);
	return rc == 0;
}

/* Expects the command to succeed with 'want' in its output; prints the line holding 'show'. */
static void expect_ok(const char *cmd, const char *want, const char *show)
{
	int status;
	char *out = run(cmd, &status);
	if (status != 0 || !strstr(out, want))
		fail_msg("command: %s\nstatus %d, expected '%s' in:\n%s", cmd, status, want, out);
	const char *line = show ? strstr(out, show) : NULL;
	if (line) {
		const char *end = strchr(line, '\n');
		print_message("    %.*s\n", end ? (int)(end - line) : (int)strlen(line), line);
	}
	free(out);
}

static void expect_fail(const char *cmd)
{
	int status;
	char *out = run(cmd, &status);
	if (status == 0)
		fail_msg("command unexpectedly succeeded: %s\n%s", cmd, out);
	free(out);
}

static void test_curl_interop(void **state)
{
	(void)state;
	if (!have("curl")) {
		print_message("curl not installed: skipping\n");
		return;
	}
	struct web w;
	web_start(&w, TLS_CLIENT_AUTH_OPTIONAL);
	char *cmd;
	const char *curl = "curl -sS --max-time 10";

	cmd = xasprintf("%s --cacert '%s' https://127.0.0.1:%d/", curl, F->ca_pem, w.port);
	expect_ok(cmd, "hello anonymous groups= sni= suite=TLS-ECDHE-ECDSA", NULL);
	free(cmd);

	cmd = xasprintf("%s -v --cacert '%s' --resolve api.kc.test:%d:127.0.0.1 "
			"https://api.kc.test:%d/",
			curl, F->ca_pem, w.port, w.port);
	expect_ok(cmd, "hello anonymous groups= sni=api.kc.test", "SSL connection using");
	free(cmd);

	cmd = xasprintf("%s --cacert '%s' --cert '%s' --key '%s' https://localhost:%d/", curl,
			F->ca_pem, F->alice_pem, F->alice_key_pem, w.port);
	expect_ok(cmd, "hello alice groups=system:masters,dev sni=localhost", NULL);
	free(cmd);

	static const char *const forced[][2] = {
		{ "ECDHE-ECDSA-AES128-GCM-SHA256", "AES-128-GCM" },
		{ "ECDHE-ECDSA-AES256-GCM-SHA384", "AES-256-GCM" },
		{ "ECDHE-ECDSA-CHACHA20-POLY1305", "CHACHA20-POLY1305" },
	};
	for (size_t i = 0; i < 3; i++) {
		cmd = xasprintf("%s --cacert '%s' --ciphers %s https://127.0.0.1:%d/", curl,
				F->ca_pem, forced[i][0], w.port);
		expect_ok(cmd, forced[i][1], NULL);
		free(cmd);
	}

	/* a TLS 1.3-only client cannot connect: kc speaks TLS 1.2 */
	cmd = xasprintf("%s --cacert '%s' --tlsv1.3 https://127.0.0.1:%d/", curl, F->ca_pem,
			w.port);
	expect_fail(cmd);
	free(cmd);
	/* wrong CA, wrong name, client certificate from another CA */
	cmd = xasprintf("%s --cacert '%s' https://127.0.0.1:%d/", curl, F->evil_ca_pem, w.port);
	expect_fail(cmd);
	free(cmd);
	cmd = xasprintf("%s --cacert '%s' --resolve wrong.kc.test:%d:127.0.0.1 "
			"https://wrong.kc.test:%d/",
			curl, F->ca_pem, w.port, w.port);
	expect_fail(cmd);
	free(cmd);
	cmd = xasprintf("%s --cacert '%s' --cert '%s' --key '%s' https://127.0.0.1:%d/", curl,
			F->ca_pem, F->mallory_pem, F->mallory_key_pem, w.port);
	expect_fail(cmd);
	free(cmd);

	/* the server is still healthy */
	cmd = xasprintf("%s --cacert '%s' https://127.0.0.1:%d/", curl, F->ca_pem, w.port);
	expect_ok(cmd, "hello anonymous", NULL);
	free(cmd);
	web_stop(&w);
}

static void test_openssl_s_client(void **state)
{
	(void)state;
	if (!have("openssl")) {
		print_message("openssl not installed: skipping\n");
		return;
	}
	struct web w;
	web_start(&w, TLS_CLIENT_AUTH_REQUIRED);
	char *cmd =
		xasprintf("openssl s_client -brief -connect 127.0.0.1:%d -servername api.kc.test "
			  "-verify_hostname api.kc.test -verify_return_error -CAfile '%s' "
			  "-cert '%s' -key '%s'",
			  w.port, F->ca_pem, F->alice_pem, F->alice_key_pem);
	expect_ok(cmd, "Verification: OK", "Ciphersuite");
	free(cmd);
	/* required client certificate missing */
	cmd = xasprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | openssl s_client -quiet -connect "
			"127.0.0.1:%d -CAfile '%s' -verify_return_error",
			w.port, F->ca_pem);
	int status;
	char *out = run(cmd, &status);
	if (strstr(out, "hello"))
		fail_msg("served without a client certificate:\n%s", out);
	free(out);
	free(cmd);
	web_stop(&w);
}

/* kubectl is the client kc has to serve: Go's crypto/tls with a client certificate. */
static void test_kubectl_interop(void **state)
{
	(void)state;
	if (!have("kubectl")) {
		print_message("kubectl not installed: skipping\n");
		return;
	}
	struct web w;
	web_start(&w, TLS_CLIENT_AUTH_OPTIONAL);
	char *cmd = xasprintf("HOME='%s' kubectl --kubeconfig=/dev/null --request-timeout=10s "
			      "--server=https://127.0.0.1:%d --certificate-authority='%s' "
			      "--client-certificate='%s' --client-key='%s' get --raw /hello",
			      F->dir, w.port, F->ca_pem, F->alice_pem, F->alice_key_pem);
	expect_ok(cmd, "hello alice groups=system:masters,dev", "hello");
	free(cmd);
	/* no client certificate (a token keeps kubectl from prompting for a password) */
	cmd = xasprintf("HOME='%s' kubectl --kubeconfig=/dev/null --request-timeout=10s "
			"--server=https://localhost:%d --certificate-authority='%s' --token=t "
			"get --raw /x",
			F->dir, w.port, F->ca_pem);
	expect_ok(cmd, "hello anonymous groups= sni=localhost", NULL);
	free(cmd);
	cmd = xasprintf("HOME='%s' kubectl --kubeconfig=/dev/null --request-timeout=10s "
			"--server=https://127.0.0.1:%d --certificate-authority='%s' --token=t "
			"get --raw /x",
			F->dir, w.port, F->evil_ca_pem);
	expect_fail(cmd);
	free(cmd);
	web_stop(&w);
}

int main(void)
{
	if (getenv("KC_TEST_DEBUG"))
		kc_log_set_level(KC_LOG_DEBUG);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_auth_only),
		cmocka_unit_test(test_client_cert_required),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_client_cert_optional),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_wrong_ca_and_insecure),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_close_notify_and_refs),
		cmocka_unit_test(test_peer_vanishes),
		cmocka_unit_test(test_garbage_peer),
		cmocka_unit_test(test_threads_share_configs),
		cmocka_unit_test(test_curl_interop),
		cmocka_unit_test(test_openssl_s_client),
		cmocka_unit_test(test_kubectl_interop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
