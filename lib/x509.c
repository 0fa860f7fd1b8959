/* DESIGN: keys and certificates over mbedTLS 2.28 (pk, x509_crt, x509write_crt).
 *
 * Handles hold a pointer to the mbedTLS object rather than embedding it, so that functions
 * taking a const handle can still pass the non-const pointers mbedTLS's API demands without
 * casting const away. Nothing here keeps global state; every function is reentrant, and one
 * handle may be used by several threads at once (see kc_cert_mbedtls in x509.h).
 *
 * mbedTLS 2.28 gaps worked around here:
 *  - mbedtls_x509write_crt_set_subject_name() parses a "CN=..,O=.." string, supports only the
 *    "\," escape and keeps one value per attribute type (a second O replaces the first), so the
 *    subject and issuer name lists are built node by node (build_subject, copy_name).
 *  - It has no writer for subjectAltName or extendedKeyUsage: both extensions are encoded
 *    here with the asn1write primitives.
 * mbedTLS writes ASN.1 backwards (from the end of the buffer) and writes a name list head
 * first, so the head of a name list becomes the LAST RDN of the encoded name.
 *
 * Files are written through kc_write_file_atomic (lib/fs.h): temporary file in the same directory, fsync,
 * rename, fsync of the directory, so a crash leaves either the old or the new file. */
#include "lib/fs.h"
#include "lib/x509.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "lib/alloc.h"
#include "lib/log.h"

#define KEY_FILE_MAX (1u << 20)
#define CERT_FILE_MAX (4u << 20)
#define KEY_PEM_MAX 16384
#define DER_MAX (256u << 10)
#define DNS_NAME_MAX 253
#define ORGS_MAX 64

struct kc_key {
	mbedtls_pk_context *pk;
};

struct kc_cert {
	mbedtls_x509_crt *crt;
};

/* Renders an mbedTLS error code into buf (the error path must not allocate). */
static const char *mbed_err(int ret, char *buf, size_t size)
{
	mbedtls_strerror(ret, buf, size);
	return buf;
}

/* ---- files ---- */

/* ---- keys ---- */

static struct kc_key *key_new(void)
{
	struct kc_key *k = xcalloc(1, sizeof *k);
	k->pk = xcalloc(1, sizeof *k->pk);
	mbedtls_pk_init(k->pk);
	return k;
}

void kc_key_free(struct kc_key *key)
{
	if (!key)
		return;
	mbedtls_pk_free(key->pk); /* zeroizes the key material */
	free(key->pk);
	free(key);
}

int kc_key_generate(struct kc_key **out, struct kc_err *err)
{
	char eb[128];
	struct kc_key *k = key_new();
	int ret = mbedtls_pk_setup(k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (ret == 0)
		ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*k->pk),
					  kc_crypto_rng, NULL);
	if (ret != 0) {
		kc_key_free(k);
		return kc_err_set(err, -KC_ECRYPTO, "generate P-256 key: %s",
				  mbed_err(ret, eb, sizeof eb));
	}
	*out = k;
	return 0;
}

int kc_key_parse(const void *data, size_t len, struct kc_key **out, struct kc_err *err)
{
	char eb[128];
	/* mbedTLS recognises PEM only in a NUL-terminated buffer whose length counts the NUL. */
	unsigned char *buf = xmalloc(len + 1);
	memcpy(buf, data, len);
	buf[len] = '\0';
	bool pem = memmem(buf, len, "-----BEGIN", 10) != NULL;
	struct kc_key *k = key_new();
	int ret = mbedtls_pk_parse_key(k->pk, buf, pem ? len + 1 : len, NULL, 0);
	mbedtls_platform_zeroize(buf, len + 1);
	free(buf);
	if (ret != 0) {
		kc_key_free(k);
		return kc_err_set(err, -KC_EPARSE, "parse private key: %s",
				  mbed_err(ret, eb, sizeof eb));
	}
	*out = k;
	return 0;
}

int kc_key_load_file(const char *path, struct kc_key **out, struct kc_err *err)
{
	unsigned char *buf;
	size_t len;
	int rc = kc_read_file(path, KEY_FILE_MAX, &buf, &len, err);
	if (rc != 0)
		return rc;
	rc = kc_key_parse(buf, len, out, err);
	mbedtls_platform_zeroize(buf, len);
	free(buf);
	if (rc != 0)
		kc_err_wrap(err, "%s", path);
	return rc;
}

int kc_key_to_pem(const struct kc_key *key, struct kc_str *out, struct kc_err *err)
{
	char eb[128];
	unsigned char *buf = xmalloc(KEY_PEM_MAX);
	int ret = mbedtls_pk_write_key_pem(key->pk, buf, KEY_PEM_MAX);
	if (ret == 0)
		kc_str_adds(out, (const char *)buf);
	mbedtls_platform_zeroize(buf, KEY_PEM_MAX);
	free(buf);
	if (ret != 0)
		return kc_err_set(err, -KC_ECRYPTO, "encode private key: %s",
				  mbed_err(ret, eb, sizeof eb));
	return 0;
}

int kc_key_save_file(const struct kc_key *key, const char *path, struct kc_err *err)
{
	struct kc_str pem = KC_STR_INIT;
	int rc = kc_key_to_pem(key, &pem, err);
	if (rc == 0)
		rc = kc_write_file_atomic(path, pem.buf, pem.len, 0600, err);
	mbedtls_platform_zeroize(pem.buf, pem.len);
	kc_str_free(&pem);
	return rc;
}

struct kc_key *kc_key_dup(const struct kc_key *key)
{
	unsigned char *der = xmalloc(KEY_PEM_MAX);
	int n = mbedtls_pk_write_key_der(key->pk, der, KEY_PEM_MAX);
	kc_assert(n > 0);
	struct kc_key *k = key_new();
	/* mbedtls_pk_write_key_der writes at the end of the buffer. */
	int ret = mbedtls_pk_parse_key(k->pk, der + KEY_PEM_MAX - n, (size_t)n, NULL, 0);
	mbedtls_platform_zeroize(der, KEY_PEM_MAX);
	free(der);
	kc_assert(ret == 0);
	return k;
}

struct mbedtls_pk_context *kc_key_mbedtls(const struct kc_key *key)
{
	return key->pk;
}

/* ---- certificates ---- */

static struct kc_cert *cert_new(void)
{
	struct kc_cert *c = xcalloc(1, sizeof *c);
	c->crt = xcalloc(1, sizeof *c->crt);
	mbedtls_x509_crt_init(c->crt);
	return c;
}

void kc_cert_free(struct kc_cert *cert)
{
	if (!cert)
		return;
	mbedtls_x509_crt_free(cert->crt);
	free(cert->crt);
	free(cert);
}

int kc_cert_parse(const void *data, size_t len, struct kc_cert **out, struct kc_err *err)
{
	char eb[128];
	unsigned char *buf = xmalloc(len + 1);
	memcpy(buf, data, len);
	buf[len] = '\0';
	bool pem = memmem(buf, len, "-----BEGIN CERTIFICATE-----", 27) != NULL;
	struct kc_cert *c = cert_new();
	int ret = mbedtls_x509_crt_parse(c->crt, buf, pem ? len + 1 : len);
	free(buf);
	if (ret == 0 && c->crt->version == 0)
		ret = MBEDTLS_ERR_X509_INVALID_FORMAT;
	if (ret != 0) {
		kc_cert_free(c);
		if (ret > 0)
			return kc_err_set(err, -KC_EPARSE, "%d certificate(s) failed to parse",
					  ret);
		return kc_err_set(err, -KC_EPARSE, "parse certificate: %s",
				  mbed_err(ret, eb, sizeof eb));
	}
	*out = c;
	return 0;
}

int kc_cert_load_file(const char *path, struct kc_cert **out, struct kc_err *err)
{
	unsigned char *buf;
	size_t len;
	int rc = kc_read_file(path, CERT_FILE_MAX, &buf, &len, err);
	if (rc != 0)
		return rc;
	rc = kc_cert_parse(buf, len, out, err);
	free(buf);
	if (rc != 0)
		kc_err_wrap(err, "%s", path);
	return rc;
}

void kc_cert_to_pem(const struct kc_cert *cert, struct kc_str *out)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n";
	static const char end[] = "-----END CERTIFICATE-----\n";
	for (const mbedtls_x509_crt *c = cert->crt; c && c->raw.len > 0; c = c->next) {
		/* base64 (4 per 3 bytes), a newline per 64 characters, header, footer, NUL */
		size_t b64 = 4 * ((c->raw.len + 2) / 3);
		size_t need = b64 + b64 / 64 + 1 + sizeof begin + sizeof end + 1;
		size_t olen = 0;
		for (;;) {
			kc_str_reserve(out, need);
			int ret = mbedtls_pem_write_buffer(begin, end, c->raw.p, c->raw.len,
							   (unsigned char *)out->buf + out->len,
							   out->cap - out->len, &olen);
			if (ret == 0)
				break;
			kc_assert(ret == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL && olen > need);
			need = olen;
		}
		/* olen counts the NUL terminator */
		kc_str_setlen(out, out->len + olen - 1);
	}
}

int kc_cert_save_file(const struct kc_cert *cert, const char *path, struct kc_err *err)
{
	struct kc_str pem = KC_STR_INIT;
	kc_cert_to_pem(cert, &pem);
	int rc = kc_write_file_atomic(path, pem.buf, pem.len, 0644, err);
	kc_str_free(&pem);
	return rc;
}

struct kc_cert *kc_cert_dup(const struct kc_cert *cert)
{
	struct kc_cert *c = cert_new();
	for (const mbedtls_x509_crt *it = cert->crt; it && it->raw.len > 0; it = it->next) {
		int ret = mbedtls_x509_crt_parse_der(c->crt, it->raw.p, it->raw.len);
		kc_assert(ret == 0);
	}
	return c;
}

size_t kc_cert_count(const struct kc_cert *cert)
{
	size_t n = 0;
	for (const mbedtls_x509_crt *c = cert->crt; c && c->raw.len > 0; c = c->next)
		n++;
	return n;
}

const uint8_t *kc_cert_der(const struct kc_cert *cert, size_t *len)
{
	*len = cert->crt->raw.len;
	return cert->crt->raw.p;
}

void kc_cert_sha256(const struct kc_cert *cert, uint8_t out[KC_SHA256_LEN])
{
	kc_sha256(cert->crt->raw.p, cert->crt->raw.len, out);
}

bool kc_cert_matches_key(const struct kc_cert *cert, const struct kc_key *key)
{
	return mbedtls_pk_check_pair(&cert->crt->pk, key->pk) == 0;
}

struct mbedtls_x509_crt *kc_cert_mbedtls(const struct kc_cert *cert)
{
	return cert->crt;
}

/* ---- reading certificates ---- */

static int64_t x509_time_to_unix(const mbedtls_x509_time *t)
{
	struct tm tm = {
		.tm_year = t->year - 1900,
		.tm_mon = t->mon - 1,
		.tm_mday = t->day,
		.tm_hour = t->hour,
		.tm_min = t->min,
		.tm_sec = t->sec,
	};
	return (int64_t)timegm(&tm);
}

static void strv_push(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = s;
}

/* Copies an ASN.1 string value; NULL when it holds a NUL byte (that would truncate the C string
 * and make "admin\0x" read as "admin"). */
static char *copy_name_value(const mbedtls_x509_buf *val)
{
	if (memchr(val->p, '\0', val->len))
		return NULL;
	return xstrndup((const char *)val->p, val->len);
}

int kc_cert_get_info(const struct kc_cert *cert, struct kc_cert_info *info, struct kc_err *err)
{
	const mbedtls_x509_crt *c = cert->crt;
	memset(info, 0, sizeof *info);
	for (const mbedtls_x509_name *n = &c->subject; n && n->oid.p; n = n->next) {
		bool cn = MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0;
		if (!cn && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) != 0)
			continue;
		char *v = copy_name_value(&n->val);
		if (!v)
			return kc_err_set(err, -KC_EPARSE, "certificate subject holds a NUL byte");
		if (cn) {
			free(info->cn);
			info->cn = v; /* the last CN wins, as in Go's crypto/x509 */
		} else {
			strv_push(&info->orgs, &info->norgs, v);
		}
	}
	if (!info->cn)
		info->cn = xstrdup("");
	for (const mbedtls_x509_sequence *s = &c->subject_alt_names; s && s->buf.p; s = s->next) {
		const mbedtls_x509_buf *b = &s->buf;
		int type = b->tag & MBEDTLS_ASN1_TAG_VALUE_MASK;
		if (type == 2) { /* dNSName */
			char *v = copy_name_value(b);
			if (!v)
				return kc_err_set(err, -KC_EPARSE, "dNSName SAN holds a NUL byte");
			strv_push(&info->dns_names, &info->ndns, v);
		} else if (type == 7) { /* iPAddress */
			char text[INET6_ADDRSTRLEN];
			int af = b->len == 4 ? AF_INET : b->len == 16 ? AF_INET6 : 0;
			if (!af || !inet_ntop(af, b->p, text, sizeof text))
				return kc_err_set(err, -KC_EPARSE, "iPAddress SAN of %zu bytes",
						  b->len);
			strv_push(&info->ips, &info->nips, xstrdup(text));
		}
	}
	info->not_before = x509_time_to_unix(&c->valid_from);
	info->not_after = x509_time_to_unix(&c->valid_to);
	info->is_ca = c->ca_istrue != 0;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void kc_cert_info_free(struct kc_cert_info *info)
{
	free(info->cn);
	strv_free(info->orgs, info->norgs);
	strv_free(info->dns_names, info->ndns);
	strv_free(info->ips, info->nips);
	memset(info, 0, sizeof *info);
}

int kc_cert_verify(const struct kc_cert *cert, const struct kc_cert *ca, struct kc_err *err)
{
	uint32_t flags = 0;
	int ret = mbedtls_x509_crt_verify(cert->crt, ca->crt, NULL, NULL, &flags, NULL, NULL);
	if (ret == 0)
		return 0;
	char info[KC_ERRMSG_MAX];
	if (flags != 0) {
		mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
		/* one reason per line: make it one line */
		for (char *p = info; *p; p++)
			if (*p == '\n')
				*p = p[1] ? ';' : '\0';
	} else {
		mbed_err(ret, info, sizeof info);
	}
	return kc_err_set(err, -KC_ECRYPTO, "certificate verification failed: %s", info);
}

/* ---- writing certificates ---- */

enum cert_kind { KIND_CA, KIND_SERVER, KIND_CLIENT, KIND_PEER };

/* Prepends a name attribute; the list owns heap copies, freed by mbedtls_x509write_crt_free
 * (mbedtls_free is free() in this build). */
static void name_prepend(mbedtls_asn1_named_data **head, const char *oid, size_t oid_len,
			 const void *val, size_t val_len, int tag)
{
	mbedtls_asn1_named_data *n = xcalloc(1, sizeof *n);
	n->oid.tag = MBEDTLS_ASN1_OID;
	n->oid.len = oid_len;
	n->oid.p = xmemdup(oid, oid_len);
	n->val.tag = tag;
	n->val.len = val_len;
	n->val.p = xmemdup(val, val_len ? val_len : 1);
	n->next = *head;
	*head = n;
}

/* Subject in DER order O=orgs[0], ..., O=orgs[n-1], CN=cn (Go's order): the list head is the
 * last RDN, so the CN goes in last. */
static void build_subject(mbedtls_asn1_named_data **head, const char *cn,
			  const char *const *orgs, size_t norgs)
{
	for (size_t i = 0; i < norgs; i++)
		name_prepend(head, MBEDTLS_OID_AT_ORGANIZATION,
			     MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORGANIZATION), orgs[i],
			     strlen(orgs[i]), MBEDTLS_ASN1_UTF8_STRING);
	name_prepend(head, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN), cn, strlen(cn),
		     MBEDTLS_ASN1_UTF8_STRING);
}

/* Copies a parsed name (the CA's subject) into a write list, preserving order and string
 * types, so the issuer field matches the CA's subject byte for byte. */
static int copy_name(mbedtls_asn1_named_data **head, const mbedtls_x509_name *name,
		     struct kc_err *err)
{
	for (const mbedtls_x509_name *n = name; n && n->oid.p; n = n->next) {
		if (n->next_merged)
			return kc_err_set(err, -KC_EUNSUPPORTED,
					  "CA subject has a multi-valued RDN");
		name_prepend(head, (const char *)n->oid.p, n->oid.len, n->val.p, n->val.len,
			     n->val.tag);
	}
	return 0;
}

static bool valid_dns_name(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	if (s[0] == '*' && s[1] == '.')
		s += 2; /* a leading wildcard label */
	if (*s == '\0' || *s == '.')
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
		if (!ok || (c == '.' && p[1] == '.'))
			return false;
	}
	return true;
}

static int check_spec(enum cert_kind kind, const struct kc_cert_spec *spec, struct kc_err *err)
{
	if (!spec->cn || !spec->cn[0] || strlen(spec->cn) > KC_CERT_NAME_MAX)
		return kc_err_set(err, -KC_EINVAL, "CN must be 1..%d bytes", KC_CERT_NAME_MAX);
	if (spec->norgs > ORGS_MAX)
		return kc_err_set(err, -KC_EINVAL, "more than %d O values", ORGS_MAX);
	size_t joined = 0;
	for (size_t i = 0; i < spec->norgs; i++) {
		const char *o = spec->orgs[i];
		size_t len = strlen(o);
		if (len == 0 || len > KC_CERT_NAME_MAX || strchr(o, ','))
			return kc_err_set(err, -KC_EINVAL,
					  "O value %zu must be 1..%d bytes without ','", i,
					  KC_CERT_NAME_MAX);
		joined += len + (i ? 1 : 0);
	}
	if (joined > KC_CERT_GROUPS_MAX)
		return kc_err_set(err, -KC_EINVAL, "O values exceed %d bytes joined",
				  KC_CERT_GROUPS_MAX);
	if (spec->ndns + spec->nips > KC_CERT_SANS_MAX)
		return kc_err_set(err, -KC_EINVAL, "more than %d SANs", KC_CERT_SANS_MAX);
	if ((kind == KIND_SERVER || kind == KIND_PEER) && spec->ndns + spec->nips == 0)
		return kc_err_set(err, -KC_EINVAL, "a server certificate needs a DNS or IP SAN");
	for (size_t i = 0; i < spec->ndns; i++)
		if (!valid_dns_name(spec->dns_names[i]))
			return kc_err_set(err, -KC_EINVAL, "bad DNS SAN '%.64s'",
					  spec->dns_names[i]);
	for (size_t i = 0; i < spec->nips; i++) {
		unsigned char a[16];
		if (inet_pton(AF_INET, spec->ips[i], a) != 1 &&
		    inet_pton(AF_INET6, spec->ips[i], a) != 1)
			return kc_err_set(err, -KC_EINVAL, "bad IP SAN '%.64s'", spec->ips[i]);
	}
	/* 1950..9999 is what UTCTime / GeneralizedTime can express. */
	if (spec->not_before >= spec->not_after || spec->not_before < -631152000LL ||
	    spec->not_after > 253402300799LL)
		return kc_err_set(err, -KC_EINVAL, "bad validity %lld..%lld",
				  (long long)spec->not_before, (long long)spec->not_after);
	return 0;
}

/* Writes tag, length and value backwards before *p; returns the bytes written or an mbedTLS
 * error. */
static int put_tlv(unsigned char **p, unsigned char *start, int tag, const void *val, size_t len)
{
	int ret;
	size_t n = 0;
	MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_raw_buffer(p, start, val, len));
	MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_tag(p, start, (unsigned char)tag));
	return (int)n;
}

/* Encodes subjectAltName: SEQUENCE OF GeneralName, DNS names first, then IPs, input order. */
static int write_san(mbedtls_x509write_cert *w, const struct kc_cert_spec *spec)
{
	size_t size = 16;
	for (size_t i = 0; i < spec->ndns; i++)
		size += strlen(spec->dns_names[i]) + 8;
	size += spec->nips * (16 + 8);
	unsigned char *buf = xmalloc(size);
	unsigned char *p = buf + size;
	size_t len = 0;
	int ret = 0;
	/* backwards: last IP first, first DNS name last */
	for (size_t i = spec->nips; ret >= 0 && i-- > 0;) {
		unsigned char a[16];
		size_t alen = 4;
		if (inet_pton(AF_INET, spec->ips[i], a) != 1) {
			kc_assert(inet_pton(AF_INET6, spec->ips[i], a) == 1);
			alen = 16;
		}
		ret = put_tlv(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7, a, alen);
		len += ret >= 0 ? (size_t)ret : 0;
	}
	for (size_t i = spec->ndns; ret >= 0 && i-- > 0;) {
		ret = put_tlv(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2, spec->dns_names[i],
			      strlen(spec->dns_names[i]));
		len += ret >= 0 ? (size_t)ret : 0;
	}
	if (ret >= 0)
		ret = mbedtls_asn1_write_len(&p, buf, len);
	if (ret >= 0) {
		len += (size_t)ret;
		ret = mbedtls_asn1_write_tag(&p, buf,
					     MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
	}
	if (ret >= 0) {
		len += (size_t)ret;
		ret = mbedtls_x509write_crt_set_extension(
			w, MBEDTLS_OID_SUBJECT_ALT_NAME,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, len);
	}
	free(buf);
	return ret;
}

/* Encodes extKeyUsage with the purpose a kc leaf certificate has, or two (oid2 may be NULL). */
static int write_eku(mbedtls_x509write_cert *w, const char *oid, size_t oid_len,
		     const char *oid2, size_t oid2_len)
{
	unsigned char buf[48];
	unsigned char *p = buf + sizeof buf;
	size_t len = 0;
	int ret;
	if (oid2)
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(&p, buf, oid2, oid2_len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(&p, buf, oid, oid_len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(
		len,
		mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	return mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
						   MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
						   0, p, len);
}

/* "YYYYMMDDhhmmss" for mbedtls_x509write_crt_set_validity. */
static void format_x509_time(int64_t t, char out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static int random_serial(mbedtls_mpi *serial)
{
	unsigned char b[16];
	int ret = kc_crypto_rng(NULL, b, sizeof b);
	if (ret != 0)
		return ret;
	b[0] &= 0x7f; /* positive */
	b[0] |= 0x40; /* and exactly 16 bytes long, so never zero */
	return mbedtls_mpi_read_binary(serial, b, sizeof b);
}

/* Builds, signs and parses back one certificate. issuer == NULL means self-signed with
 * subject_key (which is then also the signing key). */
static int sign_cert(enum cert_kind kind, const struct kc_cert *issuer,
		     const struct kc_key *issuer_key, const struct kc_key *subject_key,
		     const struct kc_cert_spec *spec, struct kc_cert **out, struct kc_err *err)
{
	char eb[128];
	int rc = check_spec(kind, spec, err);
	if (rc != 0)
		return rc;
	if (issuer) {
		if (!issuer->crt->ca_istrue)
			return kc_err_set(err, -KC_EINVAL, "issuer certificate is not a CA");
		if (!kc_cert_matches_key(issuer, issuer_key))
			return kc_err_set(err, -KC_EINVAL, "CA key does not match CA certificate");
	}

	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	unsigned char *der = NULL;
	const char *what = "serial";
	int ret = random_serial(&serial);
	if (ret != 0)
		goto fail;

	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, subject_key->pk);
	mbedtls_x509write_crt_set_issuer_key(&w, issuer_key->pk);
	build_subject(&w.subject, spec->cn, spec->orgs, spec->norgs);
	if (issuer) {
		rc = copy_name(&w.issuer, &issuer->crt->subject, err);
		if (rc != 0)
			goto out;
	} else {
		build_subject(&w.issuer, spec->cn, spec->orgs, spec->norgs);
	}
	char nb[16], na[16];
	format_x509_time(spec->not_before, nb);
	format_x509_time(spec->not_after, na);
	what = "validity";
	if ((ret = mbedtls_x509write_crt_set_serial(&w, &serial)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_validity(&w, nb, na)) != 0)
		goto fail;

	what = "extensions";
	if (kind == KIND_CA) {
		const unsigned ca_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN |
					  MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
		ret = mbedtls_x509write_crt_set_basic_constraints(&w, 1, -1);
		if (ret == 0)
			ret = mbedtls_x509write_crt_set_key_usage(&w, ca_usage);
	} else {
		ret = mbedtls_x509write_crt_set_basic_constraints(&w, 0, 0);
		if (ret == 0)
			ret = mbedtls_x509write_crt_set_key_usage(
				&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
		if (ret == 0 && kind == KIND_SERVER)
			ret = write_eku(&w, MBEDTLS_OID_SERVER_AUTH,
					MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH), NULL, 0);
		if (ret == 0 && kind == KIND_CLIENT)
			ret = write_eku(&w, MBEDTLS_OID_CLIENT_AUTH,
					MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH), NULL, 0);
		if (ret == 0 && kind == KIND_PEER)
			ret = write_eku(&w, MBEDTLS_OID_SERVER_AUTH,
					MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH),
					MBEDTLS_OID_CLIENT_AUTH,
					MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));
		if (ret == 0 && spec->ndns + spec->nips > 0)
			ret = write_san(&w, spec);
	}
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_subject_key_identifier(&w);
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_authority_key_identifier(&w);
	if (ret != 0)
		goto fail;

	what = "sign";
	size_t size = 4096;
	int n;
	for (;;) {
		der = xrealloc(der, size);
		n = mbedtls_x509write_crt_der(&w, der, size, kc_crypto_rng, NULL);
		if (n != MBEDTLS_ERR_ASN1_BUF_TOO_SMALL || size >= DER_MAX)
			break;
		size *= 2;
	}
	if (n < 0) {
		ret = n;
		goto fail;
	}
	struct kc_cert *c = cert_new();
	/* mbedtls_x509write_crt_der writes at the end of the buffer */
	what = "parse back";
	ret = mbedtls_x509_crt_parse_der(c->crt, der + size - (size_t)n, (size_t)n);
	if (ret != 0) {
		kc_cert_free(c);
		goto fail;
	}
	*out = c;
	rc = 0;
	goto out;
fail:
	rc = kc_err_set(err, -KC_ECRYPTO, "certificate %s: %s", what, mbed_err(ret, eb, sizeof eb));
out:
	free(der);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	return rc;
}

int kc_ca_create(const char *cn, int64_t now, struct kc_cert **cert_out, struct kc_key **key_out,
		 struct kc_err *err)
{
	struct kc_key *key;
	int rc = kc_key_generate(&key, err);
	if (rc != 0)
		return rc;
	struct kc_cert_spec spec = {
		.cn = cn,
		.not_before = now - KC_CERT_BACKDATE_SECS,
		.not_after = now + KC_CA_VALIDITY_SECS,
	};
	struct kc_cert *cert;
	rc = sign_cert(KIND_CA, NULL, key, key, &spec, &cert, err);
	if (rc != 0) {
		kc_key_free(key);
		return rc;
	}
	*cert_out = cert;
	*key_out = key;
	return 0;
}

int kc_cert_sign_server(const struct kc_cert *ca, const struct kc_key *ca_key,
			const struct kc_key *subject_key, const struct kc_cert_spec *spec,
			struct kc_cert **out, struct kc_err *err)
{
	return sign_cert(KIND_SERVER, ca, ca_key, subject_key, spec, out, err);
}

int kc_cert_sign_client(const struct kc_cert *ca, const struct kc_key *ca_key,
			const struct kc_key *subject_key, const struct kc_cert_spec *spec,
			struct kc_cert **out, struct kc_err *err)
{
	return sign_cert(KIND_CLIENT, ca, ca_key, subject_key, spec, out, err);
}

int kc_cert_sign_peer(const struct kc_cert *ca, const struct kc_key *ca_key,
		      const struct kc_key *subject_key, const struct kc_cert_spec *spec,
		      struct kc_cert **out, struct kc_err *err)
{
	return sign_cert(KIND_PEER, ca, ca_key, subject_key, spec, out, err);
}
