/* Unit tests for lib/yaml: Kubernetes scalar typing, streams, anchors and merges, expansion
 * limits, error positions, and kubectl-style output that reads back to the same tree. */
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
#include "lib/yaml.h"

static cJSON *docs_ok(const char *text)
{
	struct kc_err err = { 0 };
	cJSON *docs = NULL;
	if (kc_yaml_to_json(text, strlen(text), NULL, &docs, &err))
		fail_msg("yaml failed: %s\n%s", err.msg, text);
	assert_true(cJSON_IsArray(docs));
	return docs;
}

/* Converts a one-document stream and compares its canonical JSON. */
static void yaml_is(const char *text, const char *json)
{
	struct kc_err err = { 0 };
	cJSON *v = NULL;
	if (kc_yaml_to_json_one(text, strlen(text), NULL, &v, &err))
		fail_msg("yaml failed: %s\n%s", err.msg, text);
	char *s = kc_json_print_canonical(v, NULL);
	if (strcmp(s, json) != 0)
		fail_msg("%s\n  gave %s\n  want %s", text, s, json);
	free(s);
	cJSON_Delete(v);
}

static void yaml_fails(const char *text, const struct kc_yaml_limits *lim, int code,
		       const char *msg)
{
	struct kc_err err = { 0 };
	cJSON *docs = (cJSON *)1;
	int rc = kc_yaml_to_json(text, strlen(text), lim, &docs, &err);
	if (rc != code)
		fail_msg("%s\n  gave %d (%s), want %d", text, rc, err.msg, code);
	assert_null(docs);
	if (msg && strcmp(err.msg, msg) != 0)
		fail_msg("%s\n  message \"%s\"\n  want    \"%s\"", text, err.msg, msg);
}

static void test_scalar_types(void **state)
{
	struct {
		const char *yaml, *json;
	} cases[] = {
		/* booleans, YAML 1.1 as go-yaml v2 reads them */
		{ "[true, True, TRUE, yes, Yes, YES, y, Y, on, On, ON]",
		  "[true,true,true,true,true,true,true,true,true,true,true]" },
		{ "[false, False, FALSE, no, No, NO, n, N, off, Off, OFF]",
		  "[false,false,false,false,false,false,false,false,false,false,false]" },
		{ "[tRUE, yES, oN, Yes!, nope, t, f]",
		  "[\"tRUE\",\"yES\",\"oN\",\"Yes!\",\"nope\",\"t\",\"f\"]" },
		/* nulls */
		{ "- ~\n- null\n- Null\n- NULL\n-\n- nULL\n", "[null,null,null,null,null,\"nULL\"]" },
		{ "a:\nb: ~\n", "{\"a\":null,\"b\":null}" },
		/* integers: sign, underscores, 0x / 0o / 0b / leading-0 octal */
		{ "[0, -0, +12, 1_000, 0x1F, 0X1f, 0o17, 017, 0b101, -0b11, -0x10, +0o7]",
		  "[0,0,12,1000,31,31,15,15,5,-3,-16,7]" },
		{ "[08, 0x, 0o8, 0b2, 1__0, _1, 0xG]",
		  "[8,\"0x\",\"0o8\",\"0b2\",10,\"_1\",\"0xG\"]" },
		{ "[9223372036854775807, 18446744073709551615, 0xFFFFFFFFFFFFFFFFFF]",
		  "[9.223372036854776e+18,1.8446744073709552e+19,4.722366482869645e+21]" },
		/* floats */
		{ "[1.5, -2.5e3, 1e5, 1E-2, .5, -.5, +.5e1, 3., 1.e5, 0.0]",
		  "[1.5,-2500,100000,0.01,0.5,-0.5,5,3,100000,0]" },
		{ "[1e400, .e5, ., +, -, 1.2.3, 1e, 0.1_5]",
		  "[\"1e400\",\".e5\",\".\",\"+\",\"-\",\"1.2.3\",\"1e\",0.15]" },
		/* timestamps and other look-alikes stay strings */
		{ "[2001-12-14, 2001-12-14t21:59:43.10-05:00, 12:30, 1:20:30.5, 1.2.3.4, v1]",
		  "[\"2001-12-14\",\"2001-12-14t21:59:43.10-05:00\",\"12:30\",\"1:20:30.5\","
		  "\"1.2.3.4\",\"v1\"]" },
		/* quoted scalars are always strings */
		{ "[\"true\", 'yes', \"123\", '', \"~\", \"0x10\", '1.5']",
		  "[\"true\",\"yes\",\"123\",\"\",\"~\",\"0x10\",\"1.5\"]" },
		/* block scalars are strings too */
		{ "a: |\n  123\nb: >\n  true\n", "{\"a\":\"123\\n\",\"b\":\"true\\n\"}" },
		/* tags */
		{ "[!!str 123, !!str true, !!int \"12\", !!float 1, !!float \"2.5\", !!bool yes, !!null '']",
		  "[\"123\",\"true\",12,1,2.5,true,null]" },
		{ "- ! 12\n- !custom 12\n- !!timestamp 2001-12-14\n- !!binary aGVsbG8=\n- !!binary |\n  aGVs\n  bG8=\n",
		  "[\"12\",\"12\",\"2001-12-14\",\"hello\",\"hello\"]" },
		/* strings with YAML-ish content */
		{ "a: http://x:80/p?q=1#f\nb: a: b\n", NULL },
		/* the merge key is only special as a plain key */
		{ "[<<, '<<']", "[\"<<\",\"<<\"]" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].json)
			yaml_is(cases[i].yaml, cases[i].json);
		else
			yaml_fails(cases[i].yaml, NULL, -KC_EPARSE, NULL);
	}
}

static void test_keys(void **state)
{
	yaml_is("0x10: a\n1.5: b\n1e7: c\ntrue: d\nno: e\n-7: f\n0.0001: g\n123456789.5: h\n"
		".inf: i\n-.Inf: j\n3.14159265358979: k\n'quoted': l\n1234567.0: m\n100000: z\n",
		"{\"-.inf\":\"j\",\"-7\":\"f\",\".inf\":\"i\",\"0.0001\":\"g\",\"1.2345679e+08\":\"h\","
		"\"1.234567e+06\":\"m\",\"1.5\":\"b\",\"100000\":\"z\",\"16\":\"a\",\"1e+07\":\"c\","
		"\"3.1415927\":\"k\",\"false\":\"e\",\"quoted\":\"l\",\"true\":\"d\"}");
	yaml_fails("~: x\n", NULL, -KC_EPARSE, "yaml: line 1, column 1: unsupported map key: null");
	yaml_fails(": x\n", NULL, -KC_EPARSE, NULL);
	yaml_fails("18446744073709551615: x\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 1: unsupported map key: integer beyond int64");
	yaml_fails("[a]: x\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 1: a mapping or sequence cannot be a mapping key");
	yaml_fails("? {a: 1}\n: x\n", NULL, -KC_EPARSE, NULL);
	/* duplicates, including ones that only collide after conversion */
	yaml_fails("a: 1\nb: 2\na: 3\n", NULL, -KC_EPARSE,
		   "yaml: line 3, column 1: key \"a\" already set in map");
	yaml_fails("yes: 1\ntrue: 2\n", NULL, -KC_EPARSE,
		   "yaml: line 2, column 1: key \"true\" already set in map");
	yaml_fails("0x10: 1\n16: 2\n", NULL, -KC_EPARSE, NULL);
	/* large mappings go through the name index */
	struct kc_str s = KC_STR_INIT;
	for (int i = 0; i < 200; i++)
		kc_str_addf(&s, "k%d: %d\n", i, i);
	cJSON *docs = docs_ok(s.buf);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(docs, 0)), 200);
	cJSON_Delete(docs);
	kc_str_adds(&s, "k150: again\n");
	yaml_fails(s.buf, NULL, -KC_EPARSE, "yaml: line 201, column 1: key \"k150\" already set in map");
	kc_str_free(&s);
}

static void test_unrepresentable(void **state)
{
	yaml_fails("a: .inf\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 4: an infinite number cannot be represented in JSON");
	yaml_fails("a: [-.INF]\n", NULL, -KC_EPARSE, NULL);
	yaml_fails("a: .NaN\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 4: NaN cannot be represented in JSON");
	yaml_fails("a: \"x\\0y\"\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 4: NUL characters are not supported in strings");
	yaml_fails("a: !!int abc\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 4: cannot decode !!str `abc` as a !!int");
	yaml_fails("a: !!bool 1\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 4: cannot decode !!int `1` as a !!bool");
	yaml_fails("a: !!binary 'not base64!'\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 4: !!binary value contains invalid base64 data");
	yaml_fails("a: !!binary /w==\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 4: !!binary value is not UTF-8 text");
}

static void test_streams(void **state)
{
	/* empty, comment-only, explicitly null documents are skipped like kubectl does */
	cJSON *docs = docs_ok("");
	assert_int_equal(cJSON_GetArraySize(docs), 0);
	cJSON_Delete(docs);
	docs = docs_ok("# nothing here\n");
	assert_int_equal(cJSON_GetArraySize(docs), 0);
	cJSON_Delete(docs);
	docs = docs_ok("---\n---\n# comment\n---\napiVersion: v1\nkind: ConfigMap\n...\n---\n~\n"
		       "--- null\n---\nkind: Secret\n--- plain\n---\n- 1\n");
	assert_int_equal(cJSON_GetArraySize(docs), 4);
	assert_string_equal(kc_json_get_str(cJSON_GetArrayItem(docs, 0), "kind"), "ConfigMap");
	assert_string_equal(kc_json_get_str(cJSON_GetArrayItem(docs, 1), "kind"), "Secret");
	assert_string_equal(cJSON_GetArrayItem(docs, 2)->valuestring, "plain");
	assert_true(cJSON_IsArray(cJSON_GetArrayItem(docs, 3)));
	cJSON_Delete(docs);

	/* a NULL buffer is an empty stream */
	struct kc_err err;
	assert_int_equal(kc_yaml_to_json(NULL, 0, NULL, &docs, &err), 0);
	assert_int_equal(cJSON_GetArraySize(docs), 0);
	cJSON_Delete(docs);

	/* anchors do not cross documents */
	yaml_fails("a: &x 1\n---\nb: *x\n", NULL, -KC_EPARSE,
		   "yaml: line 3, column 4: unknown anchor 'x' referenced");

	/* the single-document entry point */
	cJSON *one;
	assert_int_equal(kc_yaml_to_json_one("---\na: 1\n---\n", 13, NULL, &one, &err), 0);
	assert_int_equal(kc_json_get(one, "a")->valuedouble, 1);
	cJSON_Delete(one);
	assert_int_equal(kc_yaml_to_json_one("a: 1\n---\nb: 2\n", 14, NULL, &one, &err), -KC_EPARSE);
	assert_string_equal(err.msg, "yaml: expected one document, found 2");
	assert_null(one);
	assert_int_equal(kc_yaml_to_json_one("# empty\n", 8, NULL, &one, &err), -KC_EPARSE);
	assert_string_equal(err.msg, "yaml: expected one document, found 0");

	/* UTF-16 with a BOM is accepted (as Go's reader does) */
	const char utf16[] = "\xff\xfe" "a\0:\0 \0\xe9\0\n\0";
	assert_int_equal(kc_yaml_to_json_one(utf16, sizeof utf16 - 1, NULL, &one, &err), 0);
	assert_string_equal(kc_json_get_str(one, "a"), "\xc3\xa9");
	cJSON_Delete(one);
}

static void test_anchors_and_merges(void **state)
{
	yaml_is("base: &b {x: 1, z: [2, 3]}\ncopy: *b\nlist: [*b, *b]\nscalar: &s hi\nagain: *s\n",
		"{\"again\":\"hi\",\"base\":{\"x\":1,\"z\":[2,3]},\"copy\":{\"x\":1,\"z\":[2,3]},"
		"\"list\":[{\"x\":1,\"z\":[2,3]},{\"x\":1,\"z\":[2,3]}],\"scalar\":\"hi\"}");
	/* copies are independent trees */
	struct kc_err err;
	cJSON *v;
	const char *t = "a: &a {k: 1}\nb: *a\n";
	assert_int_equal(kc_yaml_to_json_one(t, strlen(t), NULL, &v, &err), 0);
	assert_int_equal(kc_json_set_i64(v, "b.k", 2), 0);
	long long k = 0;
	assert_int_equal(kc_json_get_i64(v, "a.k", &k), 0);
	assert_int_equal(k, 1);
	cJSON_Delete(v);
	/* an anchor may be redefined; aliases see the latest one */
	yaml_is("a: &x 1\nb: &x 2\nc: *x\n", "{\"a\":1,\"b\":2,\"c\":2}");
	yaml_is("a: &x [&x 1, *x]\nb: *x\n", "{\"a\":[1,1],\"b\":1}");
	/* anchored keys, aliases as keys */
	yaml_is("&k 0x10: a\nm: *k\n", "{\"16\":\"a\",\"m\":16}");
	yaml_is("&k key: a\nx: {*k : b}\n", "{\"key\":\"a\",\"x\":{\"key\":\"b\"}}");

	/* merges: own keys win wherever they appear, then earlier merged maps */
	yaml_is("base: &b {w: 1, x: 2}\nd:\n  x: 3\n  <<: *b\n  z: 4\n",
		"{\"base\":{\"w\":1,\"x\":2},\"d\":{\"w\":1,\"x\":3,\"z\":4}}");
	/* go-yaml v2 reads plain y and n as booleans, in keys too */
	yaml_is("y: n\nn: y\n", "{\"false\":true,\"true\":false}");
	yaml_is("a: &a {p: 1, q: 1}\nb: &b {q: 2, r: 2}\nm:\n  <<: [*a, *b, {s: 3}]\n",
		"{\"a\":{\"p\":1,\"q\":1},\"b\":{\"q\":2,\"r\":2},\"m\":{\"p\":1,\"q\":1,\"r\":2,\"s\":3}}");
	yaml_is("m: {<<: &i {q: 2}, r: 3}\np: *i\n",
		"{\"m\":{\"q\":2,\"r\":3},\"p\":{\"q\":2}}");
	yaml_is("m: {!!merge <<: {a: 1}, '<<': 2}\n", "{\"m\":{\"<<\":2,\"a\":1}}");
	yaml_fails("m:\n  <<: 5\n", NULL, -KC_EPARSE,
		   "yaml: line 2, column 7: map merge requires map or sequence of maps as the value");
	yaml_fails("m:\n  <<: [{a: 1}, [2]]\n", NULL, -KC_EPARSE, NULL);

	yaml_fails("a: &a [1, *a]\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 11: anchor 'a' value contains itself");
	yaml_fails("a: *nope\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 4: unknown anchor 'nope' referenced");
}

static void test_expansion_limits(void **state)
{
	/* the classic: nine levels of nine-fold aliases, 9^9 strings */
	const char *bomb =
		"a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
		"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
		"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
		"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
		"h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
		"i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	yaml_fails(bomb, NULL, -KC_ELIMIT,
		   "yaml: line 7, column 8: document expands to more than 1000000 nodes (aliases included)");
	struct kc_yaml_limits small = { .max_nodes = 1000 };
	yaml_fails(bomb, &small, -KC_ELIMIT,
		   "yaml: line 4, column 8: document expands to more than 1000 nodes (aliases included)");

	/* few nodes, many bytes: one long string aliased many times */
	struct kc_str s = KC_STR_INIT;
	kc_str_adds(&s, "a: &a ");
	for (int i = 0; i < 4096; i++)
		kc_str_addc(&s, 'x');
	kc_str_adds(&s, "\nb: [");
	for (int i = 0; i < 100; i++)
		kc_str_adds(&s, "*a,");
	kc_str_adds(&s, "*a]\n");
	struct kc_yaml_limits bytes = { .max_expanded_bytes = 256 * 1024 };
	yaml_fails(s.buf, &bytes, -KC_ELIMIT, NULL);
	cJSON *docs;
	struct kc_err err;
	assert_int_equal(kc_yaml_to_json(s.buf, s.len, NULL, &docs, &err), 0);
	cJSON_Delete(docs);
	kc_str_free(&s);

	/* merges pay for what they copy */
	struct kc_yaml_limits m = { .max_nodes = 12 };
	yaml_fails("a: &a {p: 1, q: 2, r: 3}\nb: {<<: *a}\nc: {<<: *a}\n", &m, -KC_ELIMIT, NULL);

	/* depth: plain nesting, and aliases that would nest too deep */
	char deep[256];
	memset(deep, '[', 101);
	memset(deep + 101, ']', 101);
	deep[202] = '\0';
	yaml_fails(deep, NULL, -KC_ELIMIT, "yaml: line 1, column 101: nesting deeper than 100 levels");
	deep[100] = ' ';
	deep[101] = ' ';
	cJSON_Delete(docs_ok(deep));
	struct kc_yaml_limits shallow = { .max_depth = 3 };
	yaml_fails("a: &a [[1]]\nb: [*a]\n", &shallow, -KC_ELIMIT,
		   "yaml: line 2, column 5: alias 'a' nests deeper than 3 levels");
	assert_int_equal(kc_yaml_to_json("a: &a [[1]]\nb: *a\n", 18, &shallow, &docs, &err), 0);
	cJSON_Delete(docs);

	/* input size */
	struct kc_yaml_limits tiny = { .max_bytes = 8 };
	yaml_fails("a: 123456\n", &tiny, -KC_ETOOBIG, "yaml: input of 10 bytes exceeds the limit of 8");
}

static void test_errors(void **state)
{
	yaml_fails("a: 1\nb: 2\nc: 3\nd: e: f\n", NULL, -KC_EPARSE,
		   "yaml: line 4, column 5: mapping values are not allowed in this context");
	yaml_fails("a:\n  - b\n  c: d\n", NULL, -KC_EPARSE,
		   "yaml: line 3, column 3: did not find expected '-' indicator "
		   "(while parsing a block collection at line 2, column 3)");
	yaml_fails("a: [1, 2\n", NULL, -KC_EPARSE,
		   "yaml: line 2, column 1: did not find expected ',' or ']' "
		   "(while parsing a flow sequence at line 1, column 4)");
	yaml_fails("k: \"open\n", NULL, -KC_EPARSE,
		   "yaml: line 2, column 1: found unexpected end of stream "
		   "(while scanning a quoted scalar at line 1, column 4)");
	yaml_fails("key:\n\tvalue\n", NULL, -KC_EPARSE, NULL);
	/* reader errors are placed from their byte offset */
	yaml_fails("a: 1\nb: \x01\n", NULL, -KC_EPARSE,
		   "yaml: line 2, column 4: control characters are not allowed");
	yaml_fails("a: 1\n\n  x: \xff\n", NULL, -KC_EPARSE,
		   "yaml: line 3, column 6: invalid leading UTF-8 octet");
	yaml_fails("a: \xc3\xa9\xc3\x28\n", NULL, -KC_EPARSE,
		   "yaml: line 1, column 6: invalid trailing UTF-8 octet");
}

static const char *deployment =
	"apiVersion: apps/v1\n"
	"kind: Deployment\n"
	"metadata:\n"
	"  name: web\n"
	"  namespace: default\n"
	"  labels:\n"
	"    app.kubernetes.io/name: web\n"
	"    tier: \"frontend\"\n"
	"  annotations:\n"
	"    kubectl.kubernetes.io/last-applied-configuration: '{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":{},\"name\":\"web\"}}'\n"
	"    note: |\n"
	"      first line\n"
	"        indented line\n"
	"      last line\n"
	"spec:\n"
	"  replicas: 3\n"
	"  revisionHistoryLimit: 0x0A\n"
	"  selector:\n"
	"    matchLabels: &labels\n"
	"      app.kubernetes.io/name: web\n"
	"  strategy:\n"
	"    type: RollingUpdate\n"
	"    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}\n"
	"  template:\n"
	"    metadata:\n"
	"      labels: *labels\n"
	"    spec:\n"
	"      terminationGracePeriodSeconds: 30\n"
	"      containers:\n"
	"      - name: web\n"
	"        image: nginx:1.25.3\n"
	"        args: [\"--port\", \"8080\", --verbose, \"yes\"]\n"
	"        command:\n"
	"          - /bin/sh\n"
	"          - -c\n"
	"          - >\n"
	"            exec nginx\n"
	"            -g 'daemon off;'\n"
	"        env:\n"
	"        - name: DEBUG\n"
	"          value: \"true\"\n"
	"        - name: EMPTY\n"
	"          value: \"\"\n"
	"        - name: RATIO\n"
	"          value: \"0.5\"\n"
	"        - name: TIME\n"
	"          value: \"12:30\"\n"
	"        ports:\n"
	"        - containerPort: 8080\n"
	"          protocol: TCP\n"
	"        resources:\n"
	"          limits: {cpu: 500m, memory: 128Mi}\n"
	"          requests: {cpu: \"0.25\", memory: 64Mi}\n"
	"        readinessProbe:\n"
	"          httpGet: {path: /healthz, port: 8080}\n"
	"          initialDelaySeconds: 5\n"
	"          periodSeconds: 10.5\n"
	"      volumes: []\n"
	"      nodeSelector: {}\n"
	"      hostNetwork: false\n"
	"      dnsConfig: ~\n";

static void test_deployment_round_trip(void **state)
{
	struct kc_err err;
	cJSON *v;
	assert_int_equal(kc_yaml_to_json_one(deployment, strlen(deployment), NULL, &v, &err), 0);
	assert_string_equal(kc_json_get_str(v, "metadata.labels[app.kubernetes.io/name]"), "web");
	assert_string_equal(kc_json_get_str(v, "spec.template.metadata.labels[app.kubernetes.io/name]"),
			    "web");
	long long n;
	assert_int_equal(kc_json_get_i64(v, "spec.revisionHistoryLimit", &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(kc_json_get_i64(v, "spec.template.spec.containers[0].resources.limits.cpu", &n),
			 -KC_EINVAL);
	assert_string_equal(kc_json_get_str(v, "spec.template.spec.containers[0].args[3]"), "yes");
	assert_string_equal(kc_json_get_str(v, "spec.template.spec.containers[0].command[2]"),
			    "exec nginx -g 'daemon off;'\n");
	assert_string_equal(kc_json_get_str(v, "metadata.annotations.note"),
			    "first line\n  indented line\nlast line\n");
	assert_true(cJSON_IsNull(kc_json_get(v, "spec.template.spec.dnsConfig")));
	assert_false(kc_json_get_bool(v, "spec.template.spec.hostNetwork", true));

	/* YAML -> JSON -> YAML -> JSON */
	struct kc_str y = KC_STR_INIT;
	assert_int_equal(kc_json_to_yaml(v, &y), 0);
	cJSON *back;
	if (kc_yaml_to_json_one(y.buf, y.len, NULL, &back, &err))
		fail_msg("re-reading failed: %s\n%s", err.msg, y.buf);
	assert_true(kc_json_equal(v, back));
	/* and through JSON text as well */
	char *js = kc_json_print(back, NULL);
	cJSON *again;
	assert_int_equal(kc_json_parse(js, strlen(js), NULL, &again, &err), 0);
	assert_true(kc_json_equal(v, again));
	/* a second emission is byte-identical */
	struct kc_str y2 = KC_STR_INIT;
	assert_int_equal(kc_json_to_yaml(again, &y2), 0);
	assert_string_equal(y.buf, y2.buf);
	/* spot-check kubectl's layout */
	assert_non_null(strstr(y.buf, "\nspec:\n  replicas: 3\n  revisionHistoryLimit: 10\n"));
	assert_non_null(strstr(y.buf, "      containers:\n      - name: web\n        image: nginx:1.25.3\n"));
	assert_non_null(strstr(y.buf, "        args:\n        - --port\n        - \"8080\"\n"
				      "        - --verbose\n        - \"yes\"\n"));
	assert_non_null(strstr(y.buf, "          value: \"true\"\n"));
	assert_non_null(strstr(y.buf, "          value: \"\"\n"));
	assert_non_null(strstr(y.buf, "          value: \"12:30\"\n"));
	assert_non_null(strstr(y.buf, "    note: |\n      first line\n        indented line\n      last line\n"));
	assert_non_null(strstr(y.buf, "      volumes: []\n      nodeSelector: {}\n"));
	assert_non_null(strstr(y.buf, "      dnsConfig: null\n"));
	assert_non_null(strstr(y.buf, "          periodSeconds: 10.5\n"));
	free(js);
	kc_str_free(&y);
	kc_str_free(&y2);
	cJSON_Delete(v);
	cJSON_Delete(back);
	cJSON_Delete(again);
}

static void test_emit_layout(void **state)
{
	const char *json =
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":{}},"
		"\"spec\":{\"containers\":[{\"name\":\"c\",\"args\":[\"a: b\",\"true\",\"123\",\"\","
		"\"1:20\",\"<<\",\"- x\",\"#c\",\"multi\\nline\\n\",\" lead\",\"tab\\tin\",\"y\",\"0x1F\","
		"\"1e3\",\"null\",\"~\"],\"ports\":[{\"containerPort\":80}]},[\"nested\",[]]],"
		"\"n\":[1.5,-0,1e+21,true,false,null]}}";
	const char *want =
		"apiVersion: v1\n"
		"kind: Pod\n"
		"metadata:\n"
		"  name: p\n"
		"  labels: {}\n"
		"spec:\n"
		"  containers:\n"
		"  - name: c\n"
		"    args:\n"
		"    - 'a: b'\n"
		"    - \"true\"\n"
		"    - \"123\"\n"
		"    - \"\"\n"
		"    - \"1:20\"\n"
		"    - \"<<\"\n"
		"    - '- x'\n"
		"    - '#c'\n"
		"    - |\n"
		"      multi\n"
		"      line\n"
		"    - ' lead'\n"
		"    - \"tab\\tin\"\n"
		"    - \"y\"\n"
		"    - \"0x1F\"\n"
		"    - \"1e3\"\n"
		"    - \"null\"\n"
		"    - \"~\"\n"
		"    ports:\n"
		"    - containerPort: 80\n"
		"  - - nested\n"
		"    - []\n"
		"  \"n\":\n"
		"  - 1.5\n"
		"  - 0\n"
		"  - 1e+21\n"
		"  - true\n"
		"  - false\n"
		"  - null\n";
	struct kc_err err;
	cJSON *v;
	assert_int_equal(kc_json_parse(json, strlen(json), NULL, &v, &err), 0);
	struct kc_str y = KC_STR_INIT;
	kc_str_adds(&y, "# appended\n");
	assert_int_equal(kc_json_to_yaml(v, &y), 0);
	if (strncmp(y.buf, "# appended\n", 11) != 0 || strcmp(y.buf + 11, want) != 0)
		fail_msg("got:\n%s", y.buf);
	cJSON *back;
	assert_int_equal(kc_yaml_to_json_one(y.buf, y.len, NULL, &back, &err), 0);
	assert_true(kc_json_equal(v, back));
	cJSON_Delete(back);
	cJSON_Delete(v);

	/* scalars at the root, and what cannot be written */
	kc_str_reset(&y);
	cJSON *s = kc_json_new_str("hello");
	assert_int_equal(kc_json_to_yaml(s, &y), 0);
	assert_string_equal(y.buf, "hello\n");
	cJSON_Delete(s);
	kc_str_reset(&y);
	s = kc_json_new_str("bad \xff utf-8");
	assert_int_equal(kc_json_to_yaml(s, &y), -KC_EINVAL);
	cJSON_Delete(s);
	s = cJSON_CreateRaw("{}");
	assert_int_equal(kc_json_to_yaml(s, &y), -KC_EINVAL);
	cJSON_Delete(s);
	kc_str_free(&y);
}

/* Strings that stress the quoting decisions all come back unchanged. */
static void test_emit_strings_round_trip(void **state)
{
	const char *strs[] = {
		"", " ", "  ", "\n", "\n\n", " \n", "a\n ", "a \nb", "x\n", "\tab", "ab\t", "---",
		"...", "--- x", "- ", "-", "? x", ": x", "a #b", "a#b", "a:b", "a: b", "@x", "`x",
		"%x", "!x", "&x", "*x", "|x", ">x", "{x", "[x", "]x", "}x", ",x", "\"x", "'x", "=",
		"~", "y", "No", "oN", ".5", "+1", "-.", "0.", "1e5", "1_0", "0:0", "2001-01-01",
		"\xc2\x85x", "a\xe2\x80\xa8" "b", "\xef\xbb\xbf" "bom", "\xf0\x9f\x98\x80", "\x01",
		"\x7f", "cr\r", "\r\n", "<<", "0b1", "-0o7", "0x_1", ".inf", "-.NaN", "TRUE",
		"trailing space ", "a  b", "# comment", "key: value # c",
		"a very long line of text that certainly goes past the eighty column limit used "
		"for folding, so that the emitter has to fold it over several lines",
		"line one\nline two\n\n\nline after blanks\n  indented\n",
	};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		cJSON *obj = kc_json_new_object();
		kc_json_add(obj, strs[i], kc_json_new_str(strs[i]));
		cJSON *arr = kc_json_new_array();
		cJSON_AddItemToArray(arr, kc_json_new_str(strs[i]));
		kc_json_add(obj, "list", arr);
		struct kc_str y = KC_STR_INIT;
		assert_int_equal(kc_json_to_yaml(obj, &y), 0);
		struct kc_err err;
		cJSON *back;
		if (kc_yaml_to_json_one(y.buf, y.len, NULL, &back, &err))
			fail_msg("string %zu: %s\n%s", i, err.msg, y.buf);
		if (!kc_json_equal(obj, back))
			fail_msg("string %zu did not round-trip:\n%s", i, y.buf);
		cJSON_Delete(back);
		cJSON_Delete(obj);
		kc_str_free(&y);
	}
}

/* Every recursive helper handles a tree at the depth cap. */
static void test_depth_cap(void **state)
{
	struct kc_str j = KC_STR_INIT;
	for (unsigned i = 0; i < KC_JSON_DEPTH_CAP; i++)
		kc_str_adds(&j, i % 2 ? "[" : "{\"k\":");
	kc_str_adds(&j, "1");
	for (unsigned i = KC_JSON_DEPTH_CAP; i-- > 0;)
		kc_str_adds(&j, i % 2 ? "]" : "}");
	struct kc_json_limits jl = { .max_depth = KC_JSON_DEPTH_CAP };
	struct kc_err err;
	cJSON *v;
	assert_int_equal(kc_json_parse(j.buf, j.len, &jl, &v, &err), 0);
	char *c = kc_json_print_canonical(v, NULL);
	assert_string_equal(c, j.buf);
	free(c);
	cJSON *copy = kc_json_dup(v);
	assert_true(kc_json_equal(v, copy));
	struct kc_str y = KC_STR_INIT;
	assert_int_equal(kc_json_to_yaml(v, &y), 0);
	struct kc_yaml_limits yl = { .max_depth = KC_JSON_DEPTH_CAP };
	cJSON *back;
	if (kc_yaml_to_json_one(y.buf, y.len, &yl, &back, &err))
		fail_msg("%s", err.msg);
	assert_true(kc_json_equal(v, back));
	cJSON_Delete(back);
	yl.max_depth = KC_JSON_DEPTH_CAP - 1;
	assert_int_equal(kc_yaml_to_json_one(y.buf, y.len, &yl, &back, &err), -KC_ELIMIT);
	cJSON_Delete(v);
	cJSON_Delete(copy);
	kc_str_free(&y);
	kc_str_free(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_types),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_unrepresentable),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_anchors_and_merges),
		cmocka_unit_test(test_expansion_limits),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_deployment_round_trip),
		cmocka_unit_test(test_emit_layout),
		cmocka_unit_test(test_emit_strings_round_trip),
		cmocka_unit_test(test_depth_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
