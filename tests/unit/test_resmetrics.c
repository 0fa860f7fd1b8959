/* Unit tests for the resource metrics path: lib/promtext (the Prometheus text parser and its
 * limits), the scrape parsing of roles/apiserver/resmetrics (series of the node and of each
 * container) and metrics-server's rate computation and window formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/promtext.h"
#include "roles/apiserver/resmetrics.h"

struct seen {
	int n;
	char name[8][64];
	char labels[8][128];
	double value[8];
	int64_t ts[8];
	bool has_ts[8];
};

static int collect(const struct prom_sample *s, void *arg)
{
	struct seen *x = arg;
	if (x->n == 8)
		return -KC_ELIMIT;
	snprintf(x->name[x->n], 64, "%s", s->name);
	char *l = x->labels[x->n];
	l[0] = '\0';
	for (size_t i = 0; i < s->nlabels; i++)
		snprintf(l + strlen(l), 128 - strlen(l), "%s%s=%s", i ? "," : "", s->labels[i].name,
			 s->labels[i].value);
	x->value[x->n] = s->value;
	x->ts[x->n] = s->ts_ms;
	x->has_ts[x->n] = s->has_ts;
	x->n++;
	return 0;
}

static int parse(const char *text, struct seen *x, struct kc_err *err)
{
	memset(x, 0, sizeof *x);
	return prom_parse(text, strlen(text), collect, x, err);
}

static void test_prom_samples(void **state)
{
	(void)state;
	struct seen x;
	struct kc_err err = {0};
	const char *text = "# HELP a_total help text\n"
			   "# TYPE a_total counter\n"
			   "\n"
			   "a_total 1.5 1700000000123\n"
			   "b{x=\"1\", y = \"q\\\"uo\\\\te\\nd\"} 2e3\r\n"
			   "c{} NaN\n"
			   "d{z=\"\"} -Inf 5\n"
			   "e{w=\"v\",} +Inf";
	assert_int_equal(parse(text, &x, &err), 0);
	assert_int_equal(x.n, 5);
	assert_string_equal(x.name[0], "a_total");
	assert_true(x.has_ts[0]);
	assert_int_equal(x.ts[0], 1700000000123LL);
	assert_true(x.value[0] == 1.5);
	assert_string_equal(x.name[1], "b");
	assert_string_equal(x.labels[1], "x=1,y=q\"uo\\te\nd");
	assert_true(x.value[1] == 2000.0);
	assert_false(x.has_ts[1]);
	assert_true(isnan(x.value[2]));
	assert_true(isinf(x.value[3]) && x.value[3] < 0);
	assert_string_equal(x.labels[3], "z=");
	assert_true(isinf(x.value[4]) && x.value[4] > 0);
}

static void test_prom_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"a",			/* no value */
		"a 1x",			/* bad value */
		"a 0x10",		/* hex is not a sample value */
		"1a 1",			/* name starts with a digit */
		"a{b=\"1\" 1",		/* unterminated label set */
		"a{b=\"1} 1",		/* unterminated value */
		"a{b=1} 1",		/* unquoted value */
		"a{b=\"\\x\"} 1",	/* unknown escape */
		"a{b=\"1\",b=\"2\"} 1", /* duplicate label */
		"a{b=\"1\"}1",		/* no blank after the labels */
		"a 1 2 3",		/* text after the timestamp */
		"a 1 1.5",		/* fractional timestamp */
		"a{:b=\"1\"} 1",	/* ':' is not allowed in label names */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct seen x;
		struct kc_err err = {0};
		int rc = parse(bad[i], &x, &err);
		if (rc != -KC_EPARSE)
			fail_msg("\"%s\": rc %d, want -KC_EPARSE", bad[i], rc);
		assert_true(err.msg[0] != '\0');
		assert_int_equal(x.n, 0);
	}
}

static void test_prom_limits(void **state)
{
	(void)state;
	struct kc_err err = {0};
	struct seen x;
	/* one line over the limit */
	size_t n = PROM_MAX_LINE + 10;
	char *line = xmalloc(n + 1);
	memset(line, 'a', n);
	memcpy(line + n - 2, " 1", 2);
	line[n] = '\0';
	memset(&x, 0, sizeof x);
	assert_int_equal(prom_parse(line, n, collect, &x, &err), -KC_ELIMIT);
	free(line);
	/* too many labels */
	struct kc_str s = KC_STR_INIT;
	kc_str_adds(&s, "m{");
	for (int i = 0; i <= PROM_MAX_LABELS; i++)
		kc_str_addf(&s, "%sl%d=\"v\"", i ? "," : "", i);
	kc_str_adds(&s, "} 1\n");
	memset(&x, 0, sizeof x);
	assert_int_equal(prom_parse(s.buf, s.len, collect, &x, &err), -KC_EPARSE);
	kc_str_free(&s);
	/* too many samples (the callback accepts all) */
	struct kc_str many = KC_STR_INIT;
	for (int i = 0; i <= PROM_MAX_SAMPLES; i++)
		kc_str_adds(&many, "x 1\n");
	struct rm_scrape sc;
	assert_int_equal(rm_scrape_parse(many.buf, many.len, 0, &sc, &err), -KC_ELIMIT);
	kc_str_free(&many);
	/* a body over the limit is refused before it is read */
	assert_int_equal(prom_parse("", PROM_MAX_BODY + 1, collect, &x, &err), -KC_ELIMIT);
	/* a NUL inside a line */
	memset(&x, 0, sizeof x);
	assert_int_equal(prom_parse("a 1\0 2\n", 7, collect, &x, &err), -KC_EPARSE);
	/* the callback's code stops the parse */
	memset(&x, 0, sizeof x);
	assert_int_equal(parse("a 1\na 1\na 1\na 1\na 1\na 1\na 1\na 1\na 1\n", &x, &err),
			 -KC_ELIMIT);
}

static const char scrape1[] =
	"# HELP node_cpu_usage_seconds_total x\n"
	"node_cpu_usage_seconds_total 100.5 1000000\n"
	"node_memory_working_set_bytes 2097152 1000000\n"
	"container_cpu_usage_seconds_total{container=\"c\",namespace=\"ns\",pod=\"busy\"} 10 1000000\n"
	"container_memory_working_set_bytes{container=\"c\",namespace=\"ns\",pod=\"busy\"} 4096 1000000\n"
	"container_cpu_usage_seconds_total{container=\"a\",namespace=\"ns\",pod=\"idle\"} 1 1000000\n"
	"container_memory_working_set_bytes{container=\"a\",namespace=\"ns\",pod=\"idle\"} 1000 1000000\n"
	"container_cpu_usage_seconds_total{container=\"../x\",namespace=\"ns\",pod=\"p\"} 1 1000000\n"
	"container_cpu_usage_seconds_total{namespace=\"ns\",pod=\"p\"} 1 1000000\n"
	"pod_cpu_usage_seconds_total{namespace=\"ns\",pod=\"busy\"} 10 1000000\n"
	"scrape_error 0\n";

static const char scrape2[] =
	"node_cpu_usage_seconds_total 102.5 1010000\n"
	"node_memory_working_set_bytes 3000000 1010000\n"
	"container_cpu_usage_seconds_total{container=\"c\",namespace=\"ns\",pod=\"busy\"} 20 1010000\n"
	"container_memory_working_set_bytes{container=\"c\",namespace=\"ns\",pod=\"busy\"} 8192 1010000\n"
	"container_cpu_usage_seconds_total{container=\"a\",namespace=\"ns\",pod=\"idle\"} 0.5 1010000\n"
	"container_memory_working_set_bytes{container=\"a\",namespace=\"ns\",pod=\"idle\"} 1000\n";

static void test_scrape_and_rate(void **state)
{
	(void)state;
	struct rm_scrape a, b;
	struct kc_err err = {0};
	assert_int_equal(rm_scrape_parse(scrape1, strlen(scrape1), 999, &a, &err), 0);
	assert_int_equal(rm_scrape_parse(scrape2, strlen(scrape2), 1010500, &b, &err), 0);
	/* the path-like container name and the sample without a container are ignored */
	assert_int_equal(a.n, 2);
	assert_string_equal(a.c[0].pod, "busy"); /* sorted */
	assert_string_equal(a.c[1].pod, "idle");
	assert_true(a.node.has_cpu && a.node.has_mem);
	assert_int_equal(a.node.cpu_ts_ms, 1000000);

	struct rm_usage u;
	/* node: 2 core-seconds over 10 s = 0.2 cores = 200000000n */
	assert_int_equal(rm_usage_of(&a.node, &b.node, &u), 0);
	assert_int_equal(u.nanocores, 200000000ULL);
	assert_int_equal(u.mem_bytes, 3000000);
	assert_int_equal(u.window_ms, 10000);
	assert_int_equal(u.ts_ms, 1010000);
	/* busy: 10 core-seconds over 10 s = 1 core */
	const struct rm_ctr_series *pa = rm_scrape_find(&a, "ns", "busy", "c");
	const struct rm_ctr_series *pb = rm_scrape_find(&b, "ns", "busy", "c");
	assert_non_null(pa);
	assert_non_null(pb);
	assert_int_equal(rm_usage_of(&pa->s, &pb->s, &u), 0);
	assert_int_equal(u.nanocores, 1000000000ULL);
	assert_int_equal(u.mem_bytes, 8192);
	/* idle: the counter went down (a restart): no rate until the next pair */
	pa = rm_scrape_find(&a, "ns", "idle", "a");
	pb = rm_scrape_find(&b, "ns", "idle", "a");
	assert_int_equal(rm_usage_of(&pa->s, &pb->s, &u), -KC_EAGAIN);
	/* the memory sample without a timestamp got the scrape time */
	assert_int_equal(pb->s.mem_ts_ms, 1010500);
	/* the same pair reversed, or one sample alone, gives nothing */
	assert_int_equal(rm_usage_of(&b.node, &a.node, &u), -KC_EAGAIN);
	assert_int_equal(rm_usage_of(&a.node, &a.node, &u), -KC_EAGAIN);
	assert_int_equal(rm_usage_of(NULL, &a.node, &u), -KC_EAGAIN);
	assert_null(rm_scrape_find(&a, "ns", "nope", "c"));
	rm_scrape_free(&a);
	rm_scrape_free(&b);
	/* a malformed body is an error and leaves nothing behind */
	assert_int_equal(rm_scrape_parse("node_cpu_usage_seconds_total{", 29, 0, &a, &err),
			 -KC_EPARSE);
	assert_int_equal(a.n, 0);
}

static void test_window(void **state)
{
	(void)state;
	char b[32];
	rm_format_window(10000, b, sizeof b);
	assert_string_equal(b, "10s");
	rm_format_window(10020, b, sizeof b);
	assert_string_equal(b, "10.02s");
	rm_format_window(60500, b, sizeof b);
	assert_string_equal(b, "1m0.5s");
	rm_format_window(500, b, sizeof b);
	assert_string_equal(b, "500ms");
	rm_format_window(3600000, b, sizeof b);
	assert_string_equal(b, "1h0m0s");
	rm_format_window(0, b, sizeof b);
	assert_string_equal(b, "0s");
}

static void test_label_writer(void **state)
{
	(void)state;
	struct kc_str s = KC_STR_INIT;
	prom_write_label_value(&s, "a\"b\\c\nd");
	assert_string_equal(s.buf, "\"a\\\"b\\\\c\\nd\"");
	/* it parses back */
	struct kc_str line = KC_STR_INIT;
	kc_str_addf(&line, "m{l=%s} 1\n", s.buf);
	struct seen x;
	struct kc_err err = {0};
	assert_int_equal(parse(line.buf, &x, &err), 0);
	assert_string_equal(x.labels[0], "l=a\"b\\c\nd");
	kc_str_free(&s);
	kc_str_free(&line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prom_samples), cmocka_unit_test(test_prom_malformed),
		cmocka_unit_test(test_prom_limits),  cmocka_unit_test(test_scrape_and_rate),
		cmocka_unit_test(test_window),	     cmocka_unit_test(test_label_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
