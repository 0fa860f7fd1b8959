/* Unit tests for roles/apiserver/protobuf: Kubernetes protobuf request bodies decoded into the
 * JSON a JSON client would send (a real kubectl 1.32 Deployment body, and hand-encoded
 * ConfigMap, Secret, SelfSubjectAccessReview, TokenRequest, Service, Pod, Lease, metrics,
 * DeleteOptions bodies), the schema's proto= annotations, and malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/str.h"
#include "roles/apiserver/protobuf.h"
#include "roles/apiserver/schema.h"

/* ---- a small encoder -------------------------------------------------------------------- */

static void put_varint(struct kc_str *b, uint64_t v)
{
	while (v >= 0x80) {
		kc_str_addc(b, (char)(v | 0x80));
		v >>= 7;
	}
	kc_str_addc(b, (char)v);
}

static void put_tag(struct kc_str *b, unsigned num, unsigned wt)
{
	put_varint(b, (uint64_t)num << 3 | wt);
}

static void put_int(struct kc_str *b, unsigned num, int64_t v)
{
	put_tag(b, num, 0);
	put_varint(b, (uint64_t)v);
}

static void put_bytes(struct kc_str *b, unsigned num, const void *p, size_t n)
{
	put_tag(b, num, 2);
	put_varint(b, n);
	kc_str_add(b, p, n);
}

static void put_str(struct kc_str *b, unsigned num, const char *s)
{
	put_bytes(b, num, s, strlen(s));
}

/* Appends field num holding the message 'sub', and frees sub. */
static void put_msg(struct kc_str *b, unsigned num, struct kc_str *sub)
{
	put_bytes(b, num, sub->buf, sub->len);
	kc_str_free(sub);
}

static void put_entry(struct kc_str *b, unsigned num, const char *k, const void *v, size_t vn)
{
	struct kc_str e = KC_STR_INIT;
	put_str(&e, 1, k);
	put_bytes(&e, 2, v, vn);
	put_msg(b, num, &e);
}

/* magic + runtime.Unknown{typeMeta, raw}; frees raw */
static void envelope(struct kc_str *out, const char *api_version, const char *kind,
		     struct kc_str *raw)
{
	struct kc_str tm = KC_STR_INIT;
	put_str(&tm, 1, api_version);
	put_str(&tm, 2, kind);
	kc_str_add(out, "k8s\0", 4);
	put_msg(out, 1, &tm);
	put_msg(out, 2, raw);
	put_str(out, 3, "");
	put_str(out, 4, "");
}

static void meta_name(struct kc_str *b, const char *name)
{
	struct kc_str m = KC_STR_INIT;
	put_str(&m, 1, name);
	put_str(&m, 2, "");
	put_bytes(&m, 8, "", 0); /* creationTimestamp: the zero time */
	put_msg(b, 1, &m);
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void assert_json(const cJSON *got, const char *want)
{
	cJSON *w = NULL;
	struct kc_err err = { 0 };
	assert_int_equal(kc_json_parse(want, strlen(want), NULL, &w, &err), 0);
	if (!kc_json_equal(got, w)) {
		char *g = kc_json_print(got, NULL);
		fprintf(stderr, "got:  %s\nwant: %s\n", g, want);
		free(g);
		fail();
	}
	cJSON_Delete(w);
}

static cJSON *decode_ok(const struct kc_str *body)
{
	cJSON *out = NULL;
	struct kc_err err = { 0 };
	int rc = kc_pb_decode(schema_builtin(), body->buf, body->len, &out, &err);
	if (rc)
		fprintf(stderr, "decode: %s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_non_null(out);
	return out;
}

static int decode_rc(const void *p, size_t n, struct kc_err *err)
{
	cJSON *out = NULL;
	int rc = kc_pb_decode(schema_builtin(), p, n, &out, err);
	if (rc)
		assert_null(out);
	cJSON_Delete(out);
	return rc;
}

/* ---- real kubectl bodies ---------------------------------------------------------------- */

/* `kubectl create deployment d --image=nginx --replicas=3 --port=80`, kubectl 1.32 */
static const char kubectl_deployment[] =
	"\x6b\x38\x73\x00\x0a\x15\x0a\x07\x61\x70\x70\x73\x2f\x76\x31\x12\x0a\x44\x65\x70\x6c\x6f"
	"\x79\x6d\x65\x6e\x74\x12\xb0\x01\x0a\x1b\x0a\x01\x64\x12\x00\x1a\x00\x22\x00\x2a\x00\x32"
	"\x00\x38\x00\x42\x00\x5a\x08\x0a\x03\x61\x70\x70\x12\x01\x64\x12\x82\x01\x08\x03\x12\x0a"
	"\x0a\x08\x0a\x03\x61\x70\x70\x12\x01\x64\x1a\x6a\x0a\x1a\x0a\x00\x12\x00\x1a\x00\x22\x00"
	"\x2a\x00\x32\x00\x38\x00\x42\x00\x5a\x08\x0a\x03\x61\x70\x70\x12\x01\x64\x12\x4c\x12\x2e"
	"\x0a\x05\x6e\x67\x69\x6e\x78\x12\x05\x6e\x67\x69\x6e\x78\x2a\x00\x32\x0a\x0a\x00\x10\x00"
	"\x18\x50\x22\x00\x2a\x00\x42\x00\x6a\x00\x72\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2"
	"\x01\x00\x1a\x00\x32\x00\x42\x00\x4a\x00\x52\x00\x58\x00\x60\x00\x68\x00\x82\x01\x00\x8a"
	"\x01\x00\x9a\x01\x00\xc2\x01\x00\x22\x02\x0a\x00\x28\x00\x38\x00\x1a\x0c\x08\x00\x10\x00"
	"\x18\x00\x20\x00\x28\x00\x38\x00\x1a\x00\x22\x00";

static void test_kubectl_deployment(void **state)
{
	(void)state;
	struct kc_str b = KC_STR_INIT;
	kc_str_add(&b, kubectl_deployment, sizeof kubectl_deployment - 1);
	cJSON *out = decode_ok(&b);
	assert_json(out,
		    "{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\","
		    "\"metadata\":{\"name\":\"d\",\"creationTimestamp\":null,\"labels\":{\"app\":\"d\"}},"
		    "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"d\"}},"
		    "\"template\":{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"d\"}},"
		    "\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx\","
		    "\"ports\":[{\"containerPort\":80}],\"resources\":{}}]}},"
		    "\"strategy\":{}},\"status\":{}}");
	/* the decoded body passes the schema's own checks */
	const struct api_resource *r = schema_resource(schema_builtin(), "apps", "v1", "deployments");
	assert_non_null(r);
	cJSON *unknown = kc_json_new_array();
	struct kc_err err = { 0 };
	assert_int_equal(sch_check(r->type, out, unknown, false, &err), 0);
	assert_int_equal(cJSON_GetArraySize(unknown), 0);
	cJSON_Delete(unknown);
	cJSON_Delete(out);

	/* every strict prefix is refused cleanly, never read past */
	for (size_t n = 0; n < b.len; n++) {
		char *p = malloc(n ? n : 1);
		memcpy(p, b.buf, n);
		struct kc_err e = { 0 };
		cJSON *o = NULL;
		int rc = kc_pb_decode(schema_builtin(), p, n, &o, &e);
		/* a cut that falls between top-level envelope fields still parses */
		if (rc == 0)
			cJSON_Delete(o);
		else
			assert_true(rc == -KC_EPARSE);
		free(p);
	}
	kc_str_free(&b);
}

/* ---- hand-encoded bodies ---------------------------------------------------------------- */

static void test_configmap_binary(void **state)
{
	(void)state;
	struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT;
	meta_name(&raw, "cm");
	put_entry(&raw, 2, "x", "1", 1);
	put_entry(&raw, 2, "empty", "", 0);
	put_entry(&raw, 3, "bin", "\x00\x01\xff\xfehello", 9);
	put_int(&raw, 4, 0); /* immutable: *bool false is kept */
	envelope(&b, "v1", "ConfigMap", &raw);
	cJSON *out = decode_ok(&b);
	assert_json(out, "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
			 "\"metadata\":{\"name\":\"cm\",\"creationTimestamp\":null},"
			 "\"data\":{\"x\":\"1\",\"empty\":\"\"},"
			 "\"binaryData\":{\"bin\":\"AAH//mhlbGxv\"},\"immutable\":false}");
	cJSON_Delete(out);
	kc_str_free(&b);
}

static void test_secret(void **state)
{
	(void)state;
	struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT;
	meta_name(&raw, "s");
	put_entry(&raw, 2, "p", "q", 1);
	put_str(&raw, 3, "Opaque");
	put_entry(&raw, 4, "plain", "text", 4);
	envelope(&b, "v1", "Secret", &raw);
	cJSON *out = decode_ok(&b);
	assert_json(out, "{\"kind\":\"Secret\",\"apiVersion\":\"v1\","
			 "\"metadata\":{\"name\":\"s\",\"creationTimestamp\":null},"
			 "\"data\":{\"p\":\"cQ==\"},\"type\":\"Opaque\","
			 "\"stringData\":{\"plain\":\"text\"}}");
	cJSON_Delete(out);
	kc_str_free(&b);
}

static void test_selfsubjectaccessreview(void **state)
{
	(void)state;
	struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT, spec = KC_STR_INIT, ra = KC_STR_INIT;
	struct kc_str status = KC_STR_INIT;
	meta_name(&raw, "");
	put_str(&ra, 1, "default");
	put_str(&ra, 2, "create");
	put_str(&ra, 3, "");
	put_str(&ra, 4, "");
	put_str(&ra, 5, "pods");
	put_msg(&spec, 1, &ra);
	put_msg(&raw, 2, &spec);
	put_int(&status, 1, 0); /* allowed false */
	put_str(&status, 2, "");
	put_msg(&raw, 3, &status);
	envelope(&b, "authorization.k8s.io/v1", "SelfSubjectAccessReview", &raw);
	cJSON *out = decode_ok(&b);
	assert_json(out, "{\"kind\":\"SelfSubjectAccessReview\","
			 "\"apiVersion\":\"authorization.k8s.io/v1\","
			 "\"metadata\":{\"creationTimestamp\":null},"
			 "\"spec\":{\"resourceAttributes\":{\"namespace\":\"default\","
			 "\"verb\":\"create\",\"resource\":\"pods\"}},\"status\":{}}");
	cJSON_Delete(out);
	kc_str_free(&b);
}

static void test_tokenrequest(void **state)
{
	(void)state;
	for (int zero = 0; zero < 3; zero++) {
		struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT, spec = KC_STR_INIT;
		meta_name(&raw, "");
		put_str(&spec, 1, "api");
		if (zero < 2)
			put_int(&spec, 4, zero ? 0 : 3600); /* *int64: sent only when set */
		put_msg(&raw, 2, &spec);
		envelope(&b, "authentication.k8s.io/v1", "TokenRequest", &raw);
		cJSON *out = decode_ok(&b);
		const cJSON *e = kc_json_get(out, "spec.expirationSeconds");
		if (zero == 2) {
			assert_null(e);
		} else {
			assert_non_null(e);
			assert_true(e->valuedouble == (zero ? 0 : 3600));
		}
		assert_string_equal(kc_json_get_str(out, "spec.audiences[0]"), "api");
		assert_string_equal(kc_json_get_str(out, "kind"), "TokenRequest");
		cJSON_Delete(out);
		kc_str_free(&b);
	}
}

static void service_port(struct kc_str *spec, const char *name, int port, int type, int ival,
			 const char *sval)
{
	struct kc_str p = KC_STR_INIT, ios = KC_STR_INIT;
	put_str(&p, 1, name);
	put_str(&p, 2, "TCP");
	put_int(&p, 3, port);
	put_int(&ios, 1, type);
	put_int(&ios, 2, ival);
	put_str(&ios, 3, sval);
	put_msg(&p, 4, &ios);
	put_int(&p, 5, 0);
	put_msg(spec, 1, &p);
}

static void test_service_intorstring(void **state)
{
	(void)state;
	struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT, spec = KC_STR_INIT;
	meta_name(&raw, "svc");
	service_port(&spec, "a", 80, 0, 8080, "");
	service_port(&spec, "b", 443, 1, 0, "https");
	service_port(&spec, "c", 53, 0, 0, ""); /* targetPort zero: as absent */
	put_entry(&spec, 2, "app", "svc", 3);
	put_str(&spec, 4, "ClusterIP");
	put_int(&spec, 12, 0);
	put_msg(&raw, 2, &spec);
	envelope(&b, "v1", "Service", &raw);
	cJSON *out = decode_ok(&b);
	assert_json(out, "{\"kind\":\"Service\",\"apiVersion\":\"v1\","
			 "\"metadata\":{\"name\":\"svc\",\"creationTimestamp\":null},"
			 "\"spec\":{\"ports\":[{\"name\":\"a\",\"protocol\":\"TCP\",\"port\":80,"
			 "\"targetPort\":8080},{\"name\":\"b\",\"protocol\":\"TCP\",\"port\":443,"
			 "\"targetPort\":\"https\"},{\"name\":\"c\",\"protocol\":\"TCP\",\"port\":53}],"
			 "\"selector\":{\"app\":\"svc\"},\"type\":\"ClusterIP\"}}");
	cJSON_Delete(out);
	kc_str_free(&b);

	/* IntOrString type 2 does not exist */
	struct kc_str raw2 = KC_STR_INIT, b2 = KC_STR_INIT, spec2 = KC_STR_INIT;
	service_port(&spec2, "x", 1, 2, 0, "");
	put_msg(&raw2, 2, &spec2);
	envelope(&b2, "v1", "Service", &raw2);
	struct kc_err err = { 0 };
	assert_int_equal(decode_rc(b2.buf, b2.len, &err), -KC_EPARSE);
	assert_non_null(strstr(err.msg, "spec.ports.targetPort"));
	kc_str_free(&b2);
}

static void test_pod_time_packed_maps(void **state)
{
	(void)state;
	struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT, m = KC_STR_INIT, ts = KC_STR_INIT;
	struct kc_str spec = KC_STR_INIT, c = KC_STR_INIT, sc = KC_STR_INIT, pk = KC_STR_INIT;
	put_str(&m, 1, "p");
	put_int(&ts, 1, 1704164645); /* 2024-01-02T03:04:05Z */
	put_int(&ts, 2, 999);        /* metav1.Time drops nanoseconds */
	put_msg(&m, 8, &ts);
	put_entry(&m, 11, "a", "1", 1);
	put_entry(&m, 11, "b", "2", 1);
	put_entry(&m, 11, "a", "3", 1); /* a repeated key: the last wins */
	{
		struct kc_str e = KC_STR_INIT; /* an entry without its value */
		put_str(&e, 1, "novalue");
		put_msg(&m, 12, &e);
	}
	put_msg(&raw, 1, &m);
	put_str(&c, 1, "main");
	put_str(&c, 2, "busybox");
	put_int(&c, 16, 0);
	put_msg(&spec, 2, &c);
	put_int(&spec, 25, -5); /* *int32, negative: a 10-byte varint */
	put_int(&spec, 4, 0);   /* terminationGracePeriodSeconds *int64 = 0 is kept */
	put_int(&spec, 11, 0);  /* hostNetwork false: as absent */
	/* supplementalGroups: packed, then one more unpacked */
	put_varint(&pk, 1);
	put_varint(&pk, 2);
	put_varint(&pk, 300);
	put_msg(&sc, 4, &pk);
	put_int(&sc, 4, 7);
	put_int(&sc, 3, 1); /* runAsNonRoot */
	put_msg(&spec, 14, &sc);
	put_msg(&raw, 2, &spec);
	envelope(&b, "v1", "Pod", &raw);
	cJSON *out = decode_ok(&b);
	assert_json(out, "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\","
			 "\"creationTimestamp\":\"2024-01-02T03:04:05Z\","
			 "\"labels\":{\"a\":\"3\",\"b\":\"2\"},\"annotations\":{\"novalue\":\"\"}},"
			 "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"busybox\"}],"
			 "\"priority\":-5,\"terminationGracePeriodSeconds\":0,"
			 "\"securityContext\":{\"supplementalGroups\":[1,2,300,7],"
			 "\"runAsNonRoot\":true}}}");
	cJSON_Delete(out);
	kc_str_free(&b);
}

static void test_microtime_and_dates(void **state)
{
	(void)state;
	static const struct {
		int64_t sec;
		int32_t nanos;
		const char *want;
	} cases[] = {
		{ 0, 0, "1970-01-01T00:00:00.000000Z" },
		{ 1700000000, 123456789, "2023-11-14T22:13:20.123456Z" },
		{ -1, 0, "1969-12-31T23:59:59.000000Z" },
		{ 951782400, 5000, "2000-02-29T00:00:00.000005Z" },
		{ 253402300799LL, 0, "9999-12-31T23:59:59.000000Z" },
		{ -62135596800LL, 0, "0001-01-01T00:00:00.000000Z" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT, spec = KC_STR_INIT;
		struct kc_str t = KC_STR_INIT;
		put_int(&t, 1, cases[i].sec);
		put_int(&t, 2, cases[i].nanos);
		put_msg(&spec, 4, &t);
		put_int(&spec, 2, 0); /* leaseDurationSeconds *int32 = 0 kept */
		put_msg(&raw, 2, &spec);
		envelope(&b, "coordination.k8s.io/v1", "Lease", &raw);
		cJSON *out = decode_ok(&b);
		assert_string_equal(kc_json_get_str(out, "spec.renewTime"), cases[i].want);
		assert_non_null(kc_json_get(out, "spec.leaseDurationSeconds"));
		cJSON_Delete(out);
		kc_str_free(&b);
	}
	/* year 10000: Go cannot marshal it to JSON either */
	struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT, spec = KC_STR_INIT, t = KC_STR_INIT;
	put_int(&t, 1, 253402300800LL);
	put_msg(&spec, 3, &t);
	put_msg(&raw, 2, &spec);
	envelope(&b, "coordination.k8s.io/v1", "Lease", &raw);
	struct kc_err err = { 0 };
	assert_int_equal(decode_rc(b.buf, b.len, &err), -KC_EPARSE);
	assert_non_null(strstr(err.msg, "spec.acquireTime"));
	kc_str_free(&b);
}

static void test_duration(void **state)
{
	(void)state;
	static const struct {
		int64_t ns;
		const char *want;
	} cases[] = {
		{ 3600000000000LL, "1h0m0s" }, { 90000000000LL, "1m30s" },
		{ 1500000000LL, "1.5s" },      { 300000000LL, "300ms" },
		{ 2000, "2\xc2\xb5s" },        { 7, "7ns" },
		{ -1500000000LL, "-1.5s" },    { 3723004000000LL, "1h2m3.004s" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT, w = KC_STR_INIT;
		put_int(&w, 1, cases[i].ns);
		put_msg(&raw, 3, &w);
		struct kc_str q = KC_STR_INIT, e = KC_STR_INIT;
		put_str(&q, 1, "250m");
		put_str(&e, 1, "cpu");
		put_msg(&e, 2, &q);
		put_msg(&raw, 4, &e);
		envelope(&b, "metrics.k8s.io/v1beta1", "NodeMetrics", &raw);
		cJSON *out = decode_ok(&b);
		assert_string_equal(kc_json_get_str(out, "window"), cases[i].want);
		assert_string_equal(kc_json_get_str(out, "usage.cpu"), "250m");
		cJSON_Delete(out);
		kc_str_free(&b);
	}
}

static void test_embedded_and_raw(void **state)
{
	(void)state;
	/* Volume's VolumeSource and Probe's ProbeHandler are inline in JSON */
	struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT, spec = KC_STR_INIT, v = KC_STR_INIT;
	struct kc_str vs = KC_STR_INIT, ed = KC_STR_INIT, c = KC_STR_INIT, pr = KC_STR_INIT;
	struct kc_str ph = KC_STR_INIT, hg = KC_STR_INIT, port = KC_STR_INIT;
	put_str(&v, 1, "scratch");
	put_str(&ed, 1, "");
	put_msg(&vs, 2, &ed);
	put_msg(&v, 2, &vs);
	put_msg(&spec, 1, &v);
	put_str(&c, 1, "c");
	put_str(&hg, 1, "/healthz");
	put_int(&port, 1, 1);
	put_str(&port, 3, "http");
	put_msg(&hg, 2, &port);
	put_msg(&ph, 2, &hg);
	put_msg(&pr, 1, &ph);
	put_int(&pr, 4, 10);
	put_msg(&c, 10, &pr);
	put_msg(&spec, 2, &c);
	put_msg(&raw, 2, &spec);
	envelope(&b, "v1", "Pod", &raw);
	cJSON *out = decode_ok(&b);
	assert_json(out, "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"spec\":{"
			 "\"volumes\":[{\"name\":\"scratch\",\"emptyDir\":{}}],"
			 "\"containers\":[{\"name\":\"c\",\"livenessProbe\":{\"httpGet\":"
			 "{\"path\":\"/healthz\",\"port\":\"http\"},\"periodSeconds\":10}}]}}");
	cJSON_Delete(out);
	kc_str_free(&b);

	/* RawExtension holding JSON */
	struct kc_str raw2 = KC_STR_INIT, b2 = KC_STR_INIT, re = KC_STR_INIT;
	meta_name(&raw2, "rev");
	put_str(&re, 1, "{\"spec\":{\"x\":[1,2]}}");
	put_msg(&raw2, 2, &re);
	put_int(&raw2, 3, 4);
	envelope(&b2, "apps/v1", "ControllerRevision", &raw2);
	out = decode_ok(&b2);
	assert_json(out, "{\"kind\":\"ControllerRevision\",\"apiVersion\":\"apps/v1\","
			 "\"metadata\":{\"name\":\"rev\",\"creationTimestamp\":null},"
			 "\"data\":{\"spec\":{\"x\":[1,2]}},\"revision\":4}");
	cJSON_Delete(out);
	kc_str_free(&b2);

	/* map[string][]string: ExtraValue wrapper messages */
	struct kc_str raw3 = KC_STR_INIT, b3 = KC_STR_INIT, sp = KC_STR_INIT, ent = KC_STR_INIT;
	struct kc_str ev = KC_STR_INIT;
	put_str(&sp, 3, "alice");
	put_str(&sp, 4, "dev");
	put_str(&sp, 4, "ops");
	put_str(&ev, 1, "a");
	put_str(&ev, 1, "b");
	put_str(&ent, 1, "scopes");
	put_msg(&ent, 2, &ev);
	put_msg(&sp, 5, &ent);
	put_msg(&raw3, 2, &sp);
	envelope(&b3, "authorization.k8s.io/v1", "SubjectAccessReview", &raw3);
	out = decode_ok(&b3);
	assert_json(out, "{\"kind\":\"SubjectAccessReview\",\"apiVersion\":\"authorization.k8s.io/v1\","
			 "\"spec\":{\"user\":\"alice\",\"groups\":[\"dev\",\"ops\"],"
			 "\"extra\":{\"scopes\":[\"a\",\"b\"]}}}");
	cJSON_Delete(out);
	kc_str_free(&b3);
}

static void test_meta_kinds(void **state)
{
	(void)state;
	/* DeleteOptions as a typed client of apps/v1 sends it */
	struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT;
	put_int(&raw, 1, 0);
	put_str(&raw, 4, "Foreground");
	put_str(&raw, 5, "All");
	envelope(&b, "apps/v1", "DeleteOptions", &raw);
	cJSON *out = decode_ok(&b);
	assert_json(out, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"apps/v1\","
			 "\"gracePeriodSeconds\":0,\"propagationPolicy\":\"Foreground\","
			 "\"dryRun\":[\"All\"]}");
	cJSON_Delete(out);
	kc_str_free(&b);

	/* Eviction with nested DeleteOptions */
	struct kc_str raw2 = KC_STR_INIT, b2 = KC_STR_INIT, dopt = KC_STR_INIT;
	meta_name(&raw2, "p");
	put_int(&dopt, 1, 30);
	put_msg(&raw2, 2, &dopt);
	envelope(&b2, "policy/v1", "Eviction", &raw2);
	out = decode_ok(&b2);
	assert_json(out, "{\"kind\":\"Eviction\",\"apiVersion\":\"policy/v1\","
			 "\"metadata\":{\"name\":\"p\",\"creationTimestamp\":null},"
			 "\"deleteOptions\":{\"gracePeriodSeconds\":30}}");
	cJSON_Delete(out);
	kc_str_free(&b2);
}

static void test_unknown_fields(void **state)
{
	(void)state;
	struct kc_str raw = KC_STR_INIT, b = KC_STR_INIT, spec = KC_STR_INIT;
	meta_name(&raw, "cm");
	put_int(&raw, 99, 5);
	put_str(&raw, 77, "future");
	put_int(&spec, 200, 1);
	put_str(&spec, 1, "aud");
	put_msg(&raw, 2, &spec);
	{
		uint8_t f64[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
		put_tag(&raw, 98, 1);
		kc_str_add(&raw, f64, 8);
		put_tag(&raw, 97, 5);
		kc_str_add(&raw, f64, 4);
	}
	envelope(&b, "authentication.k8s.io/v1", "TokenRequest", &raw);
	cJSON *unknown = kc_json_new_array();
	size_t n = 0;
	struct kc_pb_opts o = { .unknown = unknown, .nunknown = &n };
	cJSON *out = NULL;
	struct kc_err err = { 0 };
	assert_int_equal(kc_pb_decode_opts(schema_builtin(), b.buf, b.len, &o, &out, &err), 0);
	assert_int_equal(n, 5);
	assert_json(unknown, "[\"#99\",\"#77\",\"spec.#200\",\"#98\",\"#97\"]");
	assert_string_equal(kc_json_get_str(out, "spec.audiences[0]"), "aud");
	cJSON_Delete(out);
	cJSON_Delete(unknown);
	kc_str_free(&b);
}

static void test_malformed(void **state)
{
	(void)state;
	struct kc_err err = { 0 };
	assert_int_equal(decode_rc("", 0, &err), -KC_EPARSE);
	assert_int_equal(decode_rc("k8s", 3, &err), -KC_EPARSE);
	assert_int_equal(decode_rc("{\"kind\":\"Pod\"}", 14, &err), -KC_EPARSE);
	assert_non_null(strstr(err.msg, "magic"));
	assert_int_equal(decode_rc("k8s\1\x0a\x00", 6, &err), -KC_EPARSE);
	/* no kind */
	assert_int_equal(decode_rc("k8s\0\x0a\x00\x12\x00", 8, &err), -KC_EPARSE);

	struct kc_str raw, b;
	/* unknown kind */
	kc_str_init(&raw);
	kc_str_init(&b);
	envelope(&b, "v1", "Nope", &raw);
	assert_int_equal(decode_rc(b.buf, b.len, &err), -KC_EUNSUPPORTED);
	kc_str_free(&b);
	/* the version must be served */
	kc_str_init(&raw);
	envelope(&b, "apps/v1beta1", "Deployment", &raw);
	assert_int_equal(decode_rc(b.buf, b.len, &err), -KC_EUNSUPPORTED);
	kc_str_free(&b);
	/* gzip content encoding */
	kc_str_init(&raw);
	kc_str_add(&b, "k8s\0", 4);
	{
		struct kc_str tm = KC_STR_INIT;
		put_str(&tm, 1, "v1");
		put_str(&tm, 2, "ConfigMap");
		put_msg(&b, 1, &tm);
		put_str(&b, 3, "gzip");
	}
	assert_int_equal(decode_rc(b.buf, b.len, &err), -KC_EUNSUPPORTED);
	kc_str_free(&b);
	/* wrong wire type: a varint where a string belongs */
	kc_str_init(&raw);
	put_int(&raw, 3, 5);
	envelope(&b, "v1", "Secret", &raw);
	assert_int_equal(decode_rc(b.buf, b.len, &err), -KC_EPARSE);
	assert_non_null(strstr(err.msg, "type"));
	kc_str_free(&b);
	/* invalid UTF-8, a NUL byte */
	kc_str_init(&raw);
	put_bytes(&raw, 3, "\xc3\x28", 2);
	envelope(&b, "v1", "Secret", &raw);
	assert_int_equal(decode_rc(b.buf, b.len, &err), -KC_EPARSE);
	kc_str_free(&b);
	kc_str_init(&raw);
	put_bytes(&raw, 3, "a\0b", 3);
	envelope(&b, "v1", "Secret", &raw);
	assert_int_equal(decode_rc(b.buf, b.len, &err), -KC_EPARSE);
	kc_str_free(&b);
	/* an 11-byte varint; a length past the end; field number 0; a group */
	static const char *const bad_raw[] = { "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
					       "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
					       "\x1a\x05" "ab", "\x00\x01", "\x0b\x0c" };
	static const size_t bad_len[] = { 11, 11, 4, 2, 2 };
	for (size_t i = 0; i < sizeof bad_raw / sizeof *bad_raw; i++) {
		kc_str_init(&raw);
		kc_str_add(&raw, bad_raw[i], bad_len[i]);
		envelope(&b, "v1", "Secret", &raw);
		assert_int_equal(decode_rc(b.buf, b.len, &err), -KC_EPARSE);
		kc_str_free(&b);
	}
	/* embedded RawExtension JSON that is not JSON */
	kc_str_init(&raw);
	{
		struct kc_str re = KC_STR_INIT;
		put_str(&re, 1, "{nope");
		put_msg(&raw, 2, &re);
	}
	envelope(&b, "apps/v1", "ControllerRevision", &raw);
	assert_int_equal(decode_rc(b.buf, b.len, &err), -KC_EPARSE);
	kc_str_free(&b);
}

static void test_limits(void **state)
{
	(void)state;
	struct kc_str b = KC_STR_INIT;
	kc_str_add(&b, kubectl_deployment, sizeof kubectl_deployment - 1);
	cJSON *out = NULL;
	struct kc_err err = { 0 };
	struct kc_pb_opts o = { .max_depth = 4 };
	assert_int_equal(kc_pb_decode_opts(schema_builtin(), b.buf, b.len, &o, &out, &err),
			 -KC_ELIMIT);
	assert_null(out);
	struct kc_pb_opts o2 = { .max_elements = 10 };
	assert_int_equal(kc_pb_decode_opts(schema_builtin(), b.buf, b.len, &o2, &out, &err),
			 -KC_ELIMIT);
	struct kc_pb_opts o3 = { .max_bytes = 100 };
	assert_int_equal(kc_pb_decode_opts(schema_builtin(), b.buf, b.len, &o3, &out, &err),
			 -KC_ETOOBIG);
	kc_str_free(&b);

	/* deep nesting through RawExtension envelopes holding envelopes */
	struct kc_str inner = KC_STR_INIT;
	kc_str_adds(&inner, "{}");
	for (int i = 0; i < 200; i++) {
		struct kc_str raw = KC_STR_INIT, re = KC_STR_INIT, env = KC_STR_INIT;
		put_bytes(&re, 1, inner.buf, inner.len);
		put_msg(&raw, 2, &re);
		envelope(&env, "apps/v1", "ControllerRevision", &raw);
		kc_str_free(&inner);
		inner = env;
	}
	assert_int_equal(decode_rc(inner.buf, inner.len, &err), -KC_ELIMIT);
	kc_str_free(&inner);

	/* many map entries with one key: linear, last wins */
	struct kc_str raw = KC_STR_INIT, big = KC_STR_INIT;
	for (int i = 0; i < 100000; i++) {
		char v[16];
		snprintf(v, sizeof v, "%d", i);
		put_entry(&raw, 2, i % 2 ? "odd" : "even", v, strlen(v));
	}
	envelope(&big, "v1", "ConfigMap", &raw);
	out = decode_ok(&big);
	assert_string_equal(kc_json_get_str(out, "data.odd"), "99999");
	assert_int_equal(cJSON_GetArraySize(kc_json_get(out, "data")), 2);
	cJSON_Delete(out);
	kc_str_free(&big);
}

/* ---- the schema's protobuf annotations -------------------------------------------------- */

static void test_schema_flags(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"package a.b\ntype T\n  x string proto=1\n  y string proto=1\n",
		"package a.b\ntype T\n  x string proto=0\n",
		"package a.b\ntype T\n  x string proto=536870912\n",
		"package a.b\ntype T\n  x string proto=x\n",
		"package a.b\ntype T\n  x string proto=2.\n",
		"package a.b\ntype T\n  x string proto=2\n  y string proto=2.1\n",
		"package a.b\ntype T\n  y string proto=2.1\n  x string proto=2\n",
		"package a.b\ntype T\n  y string proto=2.1\n  x string proto=2.1\n",
		"package a.b\ntype U\n  a string\ntype T\n  x U ptr\n",
		"package a.b\ntype T\n  x []string ptr\n",
		"package a.b\ntype T\n  x int32 duration\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct schema *s = NULL;
		struct kc_err err = { 0 };
		assert_int_equal(schema_load(bad[i], &s, &err), -KC_EPARSE);
		assert_null(s);
	}
	struct schema *s = NULL;
	struct kc_err err = { 0 };
	assert_int_equal(schema_load("package a.b\ntype T\n  x int32 proto=3 ptr \"doc\"\n"
				     "  y string proto=4.1 duration\n  z string proto=4.2\n",
				     &s, &err), 0);
	const struct sch_field *f = sch_field(schema_type(s, "T"), "x");
	assert_int_equal(f->proto, 3);
	assert_int_equal(f->proto_embed, 0);
	assert_true(f->ptr);
	f = sch_field(schema_type(s, "T"), "y");
	assert_int_equal(f->proto, 1);
	assert_int_equal(f->proto_embed, 4);
	assert_true(f->duration);
	schema_free(s);

	/* every field of every served type has its number, but the envelope's apiVersion/kind */
	const struct schema *bs = schema_builtin();
	for (size_t i = 0; i < schema_type_count(bs); i++) {
		const struct sch_type *t = schema_type_at(bs, i);
		for (size_t j = 0; j < t->nfields; j++) {
			const struct sch_field *fl = &t->fields[j];
			bool envelope_field = !strcmp(fl->name, "apiVersion") ||
					      !strcmp(fl->name, "kind");
			if (!fl->proto && !envelope_field)
				fprintf(stderr, "no proto= on %s.%s\n", t->name, fl->name);
			assert_true(fl->proto || envelope_field);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubectl_deployment),
		cmocka_unit_test(test_configmap_binary),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_selfsubjectaccessreview),
		cmocka_unit_test(test_tokenrequest),
		cmocka_unit_test(test_service_intorstring),
		cmocka_unit_test(test_pod_time_packed_maps),
		cmocka_unit_test(test_microtime_and_dates),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_embedded_and_raw),
		cmocka_unit_test(test_meta_kinds),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_schema_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
