/* Unit tests for roles/apiserver/selector: labels.Parse syntax, errors and matching,
 * metav1.LabelSelector objects, field selectors with escapes and per-resource paths, and the
 * shared name/label validators. */
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
#include "roles/apiserver/selector.h"

static cJSON *json(const char *text)
{
	struct kc_err err = {0};
	cJSON *v = NULL;
	if (kc_json_parse(text, strlen(text), NULL, &v, &err))
		fail_msg("bad test json %s: %s", text, err.msg);
	return v;
}

/* Parses sel and checks it against labels (JSON text) -> want. */
static void lmatch(const char *sel, const char *labels, bool want)
{
	struct label_selector *s;
	struct kc_err err = {0};
	if (label_selector_parse(sel, &s, &err))
		fail_msg("parse of \"%s\" failed: %s", sel, err.msg);
	cJSON *l = json(labels);
	if (label_selector_match(s, l) != want)
		fail_msg("\"%s\" on %s: want %d", sel, labels, want);
	cJSON_Delete(l);
	label_selector_free(s);
}

static void lfails(const char *sel, const char *msg_prefix)
{
	struct label_selector *s = (struct label_selector *)1;
	struct kc_err err = {0};
	int rc = label_selector_parse(sel, &s, &err);
	if (rc != -KC_EINVAL)
		fail_msg("\"%s\" was accepted", sel);
	assert_null(s);
	if (strncmp(err.msg, msg_prefix, strlen(msg_prefix)) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s...\"", sel, err.msg, msg_prefix);
}

static void test_label_parse_match(void **state)
{
	lmatch("", "{}", true);
	lmatch("   ", "{\"a\":\"b\"}", true);
	lmatch("app=web", "{\"app\":\"web\"}", true);
	lmatch("app=web", "{\"app\":\"db\"}", false);
	lmatch("app=web", "{}", false);
	lmatch("app==web", "{\"app\":\"web\"}", true);
	lmatch("app!=web", "{}", true);
	lmatch("app!=web", "{\"app\":\"db\"}", true);
	lmatch("app!=web", "{\"app\":\"web\"}", false);
	lmatch("env in (prod, qa)", "{\"env\":\"qa\"}", true);
	lmatch("env in (prod, qa)", "{\"env\":\"dev\"}", false);
	lmatch("env notin (prod)", "{}", true);
	lmatch("env notin (prod)", "{\"env\":\"prod\"}", false);
	lmatch("app", "{\"app\":\"\"}", true);
	lmatch("app", "{}", false);
	lmatch("!app", "{}", true);
	lmatch("!app", "{\"app\":\"x\"}", false);
	lmatch("tier in (a,b),app!=x", "{\"tier\":\"b\",\"app\":\"y\"}", true);
	lmatch("tier in (a,b),app!=x", "{\"tier\":\"b\",\"app\":\"x\"}", false);
	lmatch("x>5", "{\"x\":\"10\"}", true);
	lmatch("x>5", "{\"x\":\"5\"}", false);
	lmatch("x<5", "{\"x\":\"-3\"}", true);
	lmatch("x>5", "{\"x\":\"ten\"}", false);
	lmatch("app.kubernetes.io/name=foo", "{\"app.kubernetes.io/name\":\"foo\"}", true);
	lmatch("  app = web  ,  tier  in  ( a , b )  ", "{\"app\":\"web\",\"tier\":\"a\"}", true);
	lmatch("a in ()", "{\"a\":\"\"}", true);
	lmatch("a in (x,)", "{\"a\":\"\"}", true);
	lmatch("a=", "{\"a\":\"\"}", true);
	lmatch("in=notin", "{\"in\":\"notin\"}", true);
	lmatch("a in (in, notin)", "{\"a\":\"notin\"}", true);
	lmatch("a,b", "{\"a\":\"1\",\"b\":\"2\"}", true);
	lmatch("a,!b", "{\"a\":\"1\",\"b\":\"2\"}", false);
}

static void test_label_errors(void **state)
{
	lfails("x (",
	       "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt");
	lfails("a b",
	       "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
	lfails("a=b,", "found '', expected: identifier after ','");
	lfails("a=b,,c", "found ',', expected: identifier after ','");
	lfails("=a", "found '=', expected: !, identifier, or 'end of string'");
	lfails("(", "found '(', expected: !, identifier, or 'end of string'");
	lfails("a in b", "unable to parse requirement: found 'b' expected: '('");
	lfails("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'");
	lfails("a in (b", "unable to parse requirement: found '', expected: ',' or ')'");
	lfails("a in (=)",
	       "unable to parse requirement: found '=', expected: ',', ')' or identifier");
	lfails("a=b c", "found 'c', expected: ',' or 'end of string'");
	lfails("!a=b", "found '=', expected: ',' or 'end of string'");
	lfails("a=(", "unable to parse requirement: found '(', expected: identifier");
	lfails("!", "unable to parse requirement: found '', expected: identifier");
	lfails("a=b/c",
	       "unable to parse requirement: values[0][a]: Invalid value: \"b/c\": a valid "
	       "label must be an empty string or consist of alphanumeric characters");
	lfails("a_", "unable to parse requirement: <nil>: Invalid value: \"a_\": name part must "
		     "consist of alphanumeric characters, '-', '_' or '.', and must start and end");
	lfails("Foo.com/a=b", "unable to parse requirement: <nil>: Invalid value: \"Foo.com/a\": "
			      "prefix part a lowercase RFC 1123 subdomain");
	lfails("a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', "
		      "'Lt' operators, the value must be an integer");

	/* limits */
	struct kc_str s = KC_STR_INIT;
	for (int i = 0; i < 101; i++)
		kc_str_addf(&s, "%sk%d", i ? "," : "", i);
	lfails(s.buf, "more than 100 requirements");
	kc_str_reset(&s);
	kc_str_adds(&s, "a in (");
	for (int i = 0; i < 101; i++)
		kc_str_addf(&s, "%sv%d", i ? "," : "", i);
	kc_str_adds(&s, ")");
	lfails(s.buf,
	       "unable to parse requirement: values: Too many: 101: must have at most 100 items");
	kc_str_reset(&s);
	for (int i = 0; i < 8200; i++)
		kc_str_addc(&s, 'a');
	lfails(s.buf, "label selector longer than 8192 bytes");
	kc_str_free(&s);
}

static void omatch(const char *sel, const char *labels, bool want)
{
	struct label_selector *s;
	struct kc_err err = {0};
	cJSON *o = json(sel);
	if (label_selector_from_object(o, &s, &err))
		fail_msg("%s failed: %s", sel, err.msg);
	cJSON *l = json(labels);
	if (label_selector_match(s, l) != want)
		fail_msg("%s on %s: want %d", sel, labels, want);
	cJSON_Delete(l);
	cJSON_Delete(o);
	label_selector_free(s);
}

static void ofails(const char *sel, const char *msg_prefix)
{
	struct label_selector *s;
	struct kc_err err = {0};
	cJSON *o = json(sel);
	assert_int_equal(label_selector_from_object(o, &s, &err), -KC_EINVAL);
	assert_null(s);
	if (strncmp(err.msg, msg_prefix, strlen(msg_prefix)) != 0)
		fail_msg("%s: got \"%s\"", sel, err.msg);
	cJSON_Delete(o);
}

static void test_label_object(void **state)
{
	struct label_selector *s;
	struct kc_err err = {0};
	assert_int_equal(label_selector_from_object(NULL, &s, &err), 0);
	assert_true(label_selector_empty(s));
	label_selector_free(s);
	omatch("{}", "{\"a\":\"b\"}", true);
	omatch("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\",\"x\":\"y\"}", true);
	omatch("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"db\"}", false);
	omatch("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]}]}",
	       "{\"env\":\"b\"}", true);
	omatch("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}",
	       "{}", true);
	omatch("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"Exists\"}]}", "{}", false);
	omatch("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"env\","
	       "\"operator\":\"DoesNotExist\"}]}",
	       "{\"app\":\"web\"}", true);
	ofails("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
	       "\"Gt\" is not a valid label selector operator");
	ofails("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[]}]}",
	       "values: Invalid value");
	ofails("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"Exists\",\"values\":[\"a\"]}]}",
	       "values: Invalid value");
	ofails("{\"matchLabels\":{\"a b\":\"c\"}}", "key: Invalid value: \"a b\": name part");
	ofails("{\"matchLabels\":{\"a\":\"c d\"}}", "values[0][a]: Invalid value: \"c d\"");
	ofails("{\"matchLabels\":{\"a\":1}}", "matchLabels values must be strings");
	ofails("[]", "label selector must be an object");
}

static void ffails(const char *sel, const char *resource, const char *msg)
{
	struct field_selector *s = (struct field_selector *)1;
	struct kc_err err = {0};
	assert_int_equal(field_selector_parse(sel, resource, &s, &err), -KC_EINVAL);
	assert_null(s);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", sel, err.msg, msg);
}

static void fmatch(const char *sel, const char *resource, const char *obj, bool want)
{
	struct field_selector *s;
	struct kc_err err = {0};
	if (field_selector_parse(sel, resource, &s, &err))
		fail_msg("\"%s\" failed: %s", sel, err.msg);
	cJSON *o = json(obj);
	if (field_selector_match(s, o) != want)
		fail_msg("\"%s\" on %s: want %d", sel, obj, want);
	cJSON_Delete(o);
	field_selector_free(s);
}

static void test_field(void **state)
{
	const char *pod = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
			  "\"spec\":{\"nodeName\":\"n1\",\"restartPolicy\":\"Always\"},"
			  "\"status\":{\"phase\":\"Running\"}}";
	fmatch("", "pods", pod, true);
	fmatch("metadata.name=web", "pods", pod, true);
	fmatch("metadata.name==web", "pods", pod, true);
	fmatch("metadata.name!=web", "pods", pod, false);
	fmatch("spec.nodeName=n1,status.phase!=Pending", "pods", pod, true);
	fmatch("spec.nodeName=", "pods", pod, false);
	fmatch("spec.host=n1", "pods", pod, true);
	fmatch("spec.hostNetwork=false", "pods", pod, true);
	fmatch("status.podIP=", "pods", pod, true);
	fmatch("metadata.namespace=default", "configmaps", pod, true);
	fmatch("spec.unschedulable=false", "nodes", "{\"metadata\":{\"name\":\"n\"}}", true);
	fmatch("spec.unschedulable=true", "nodes", "{\"spec\":{\"unschedulable\":true}}", true);
	fmatch("status.replicas=0", "replicasets", "{}", true);
	fmatch("status.replicas=3", "replicationcontrollers", "{\"status\":{\"replicas\":3}}",
	       true);
	fmatch("type=kubernetes.io/tls", "secrets", "{\"type\":\"kubernetes.io/tls\"}", true);
	fmatch("involvedObject.name=web,source=kubelet", "events",
	       "{\"involvedObject\":{\"name\":\"web\"},\"source\":{\"component\":\"kubelet\"}}",
	       true);
	fmatch("metadata.name=a\\,b", "pods", "{\"metadata\":{\"name\":\"a,b\"}}", true);
	fmatch("metadata.name=a\\=b\\\\", "pods", "{\"metadata\":{\"name\":\"a=b\\\\\"}}", true);

	struct field_selector *s;
	struct kc_err err = {0};
	assert_int_equal(field_selector_parse("spec.host=n2,metadata.name=x", "pods", &s, &err), 0);
	assert_string_equal(field_selector_exact(s, "spec.nodeName"), "n2");
	assert_string_equal(field_selector_exact(s, "metadata.name"), "x");
	assert_null(field_selector_exact(s, "metadata.namespace"));
	assert_false(field_selector_empty(s));
	field_selector_free(s);

	ffails("spec.foo=bar", "configmaps",
	       "\"spec.foo\" is not a known field selector: only \"metadata.name\", "
	       "\"metadata.namespace\"");
	ffails("spec.foo=bar", "pods", "field label not supported: spec.foo");
	ffails("metadata.namespace=x", "nodes", "field label not supported: metadata.namespace");
	ffails("metadata.name", "pods",
	       "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
	ffails("metadata.name=a\\x", "pods",
	       "invalid field selector: invalid escape sequence: \\x");
	ffails("metadata.name=a\\", "pods", "invalid field selector: invalid escape sequence: \\");
	ffails("metadata.name=a=b", "pods",
	       "invalid field selector: unescaped character in value: =");
	ffails("metadata.name = a", "pods", "field label not supported: metadata.name ");
}

static void test_validators(void **state)
{
	char msg[512];
	assert_true(sel_valid_dns1123_label("my-name", msg, sizeof msg));
	assert_false(sel_valid_dns1123_label("my.name", msg, sizeof msg));
	assert_string_equal(msg, "must not contain dots");
	assert_false(sel_valid_dns1123_label("Web", msg, sizeof msg));
	assert_string_equal(msg,
			    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
			    "characters or '-', and must start and end with an alphanumeric "
			    "character (e.g. 'my-name',  or '123-abc', regex used for "
			    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
	char longname[70];
	memset(longname, 'a', 64);
	longname[64] = '\0';
	assert_false(sel_valid_dns1123_label(longname, msg, sizeof msg));
	assert_string_equal(msg, "must be no more than 63 characters");
	assert_true(sel_valid_dns1123_subdomain("a.b-c.d", msg, sizeof msg));
	assert_false(sel_valid_dns1123_subdomain("a..b", msg, sizeof msg));
	assert_true(
		strstr(msg, "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'"));
	assert_true(sel_valid_qualified_name("example.com/My_Name.x", msg, sizeof msg));
	assert_false(sel_valid_qualified_name("/a", msg, sizeof msg));
	assert_string_equal(msg, "prefix part must be non-empty");
	assert_false(sel_valid_qualified_name("a/", msg, sizeof msg));
	assert_true(strncmp(msg, "name part must be non-empty; name part must consist", 51) == 0);
	assert_false(sel_valid_qualified_name("a/b/c", msg, sizeof msg));
	assert_true(strncmp(msg, "a qualified name must consist", 29) == 0);
	assert_true(sel_valid_label_value("", msg, sizeof msg));
	assert_true(sel_valid_label_value("A-b_c.9", msg, sizeof msg));
	assert_false(sel_valid_label_value("-a", msg, sizeof msg));
	char q[32];
	sel_go_quote("a\"b\\\n\x01", q, sizeof q);
	assert_string_equal(q, "\"a\\\"b\\\\\\n\\x01\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_parse_match), cmocka_unit_test(test_label_errors),
		cmocka_unit_test(test_label_object),	  cmocka_unit_test(test_field),
		cmocka_unit_test(test_validators),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
