/* Unit tests for the core containers and helpers: kc_str, kc_vec, kc_list, kc_map, kc_err,
 * xmalloc family. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "lib/fs.h"
#include "lib/list.h"
#include "lib/map.h"
#include "lib/str.h"
#include "lib/vec.h"

static void test_str_basic(void **state)
{
	(void)state;
	struct kc_str s = KC_STR_INIT;
	assert_string_equal(s.buf, "");
	kc_str_adds(&s, "hello");
	kc_str_addc(&s, ' ');
	kc_str_addf(&s, "%s %d", "world", 42);
	assert_string_equal(s.buf, "hello world 42");
	assert_int_equal(s.len, 14);
	kc_str_consume(&s, 6);
	assert_string_equal(s.buf, "world 42");
	assert_true(kc_str_eq(&s, "world 42"));
	kc_str_reset(&s);
	assert_int_equal(s.len, 0);
	assert_string_equal(s.buf, "");
	/* binary-safe */
	kc_str_add(&s, "a\0b", 3);
	assert_int_equal(s.len, 3);
	assert_int_equal(s.buf[1], '\0');
	assert_int_equal(s.buf[3], '\0');
	size_t n;
	char *p = kc_str_detach(&s, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "a\0b", 3);
	free(p);
	assert_int_equal(s.cap, 0);
	kc_str_free(&s);
}

static void test_str_large_format(void **state)
{
	(void)state;
	struct kc_str s = KC_STR_INIT;
	char big[5000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (int i = 0; i < 10; i++)
		kc_str_addf(&s, "%s|", big);
	assert_int_equal(s.len, 10 * 5000);
	assert_int_equal(s.buf[4999], '|');
	assert_int_equal(s.buf[s.len], '\0');
	kc_str_free(&s);
	/* detach of an empty buffer still returns a heap string */
	char *e = kc_str_detach(&s, NULL);
	assert_string_equal(e, "");
	free(e);
}

static void test_parse_i64(void **state)
{
	(void)state;
	long long v;
	assert_int_equal(kc_parse_i64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(kc_parse_i64("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(kc_parse_i64("101", 0, 100, &v), -KC_EINVAL);
	assert_int_equal(kc_parse_i64("", 0, 100, &v), -KC_EINVAL);
	assert_int_equal(kc_parse_i64("12x", 0, 100, &v), -KC_EINVAL);
	assert_int_equal(kc_parse_i64(" 1", 0, 100, &v), -KC_EINVAL);
	assert_int_equal(kc_parse_i64("+1", 0, 100, &v), -KC_EINVAL);
	assert_int_equal(kc_parse_i64("\r1", 0, 100, &v), -KC_EINVAL);
	assert_int_equal(kc_parse_i64("\v1", 0, 100, &v), -KC_EINVAL);
	assert_int_equal(kc_parse_i64("-", -10, 10, &v), -KC_EINVAL);
	assert_int_equal(kc_parse_i64("99999999999999999999", 0, 100, &v), -KC_EINVAL);
	assert_true(kc_has_prefix("--role=all", "--"));
	assert_false(kc_has_prefix("-", "--"));
	assert_true(kc_has_suffix("a.tar", ".tar"));
	assert_false(kc_has_suffix("tar", ".tar"));
	assert_true(kc_strcaseeq("Content-Length", "content-length"));
	assert_false(kc_strcaseeq("Content-Length", "content-lengt"));
}

static void test_vec(void **state)
{
	(void)state;
	struct kc_vec v;
	kc_vec_init(&v, sizeof(int));
	for (int i = 0; i < 1000; i++)
		kc_vec_push(&v, &i);
	assert_int_equal(v.len, 1000);
	assert_int_equal(*(int *)kc_vec_at(&v, 999), 999);
	kc_vec_remove(&v, 0);
	assert_int_equal(*(int *)kc_vec_at(&v, 0), 1);
	assert_int_equal(v.len, 999);
	kc_vec_swap_remove(&v, 0);
	assert_int_equal(*(int *)kc_vec_at(&v, 0), 999);
	int *z = kc_vec_push(&v, NULL);
	assert_int_equal(*z, 0);
	kc_vec_clear(&v);
	assert_int_equal(v.len, 0);
	kc_vec_free(&v);
	assert_null(v.data);
}

struct item {
	int n;
	struct kc_list link;
};

static void test_list(void **state)
{
	(void)state;
	struct kc_list head;
	kc_list_init(&head);
	assert_true(kc_list_empty(&head));
	assert_null(kc_list_first(&head));
	struct item items[5];
	for (int i = 0; i < 5; i++) {
		items[i].n = i;
		kc_list_push_back(&head, &items[i].link);
	}
	int expect = 0;
	struct kc_list *it, *tmp;
	kc_list_each_safe(&head, it, tmp) {
		struct item *x = kc_container_of(it, struct item, link);
		assert_int_equal(x->n, expect++);
		if (x->n % 2)
			kc_list_del(it);
	}
	assert_int_equal(expect, 5);
	int seen[3], k = 0;
	kc_list_each_safe(&head, it, tmp) seen[k++] = kc_container_of(it, struct item, link)->n;
	assert_int_equal(k, 3);
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[1], 2);
	assert_int_equal(seen[2], 4);
	/* deleting twice is harmless */
	kc_list_del(&items[1].link);
	struct kc_list other;
	kc_list_init(&other);
	kc_list_push_front(&other, &items[1].link);
	kc_list_splice_back(&head, &other);
	assert_true(kc_list_empty(&other));
	assert_ptr_equal(head.prev, &items[1].link);
}

static int freed;
static void count_free(void *p)
{
	freed++;
	free(p);
}

static void test_map(void **state)
{
	(void)state;
	struct kc_map m;
	kc_map_init(&m, count_free);
	freed = 0;
	char key[32];
	for (int i = 0; i < 20000; i++) {
		int *v = xmalloc(sizeof *v);
		*v = i;
		snprintf(key, sizeof key, "/registry/pods/default/p%d", i);
		kc_map_sput(&m, key, v);
	}
	assert_int_equal(m.len, 20000);
	for (int i = 0; i < 20000; i += 7) {
		snprintf(key, sizeof key, "/registry/pods/default/p%d", i);
		int *v = kc_map_sget(&m, key);
		assert_non_null(v);
		assert_int_equal(*v, i);
	}
	assert_null(kc_map_sget(&m, "/registry/pods/default/missing"));
	/* replace frees the old value */
	int *nv = xmalloc(sizeof *nv);
	*nv = -1;
	kc_map_sput(&m, "/registry/pods/default/p5", nv);
	assert_int_equal(freed, 1);
	assert_int_equal(*(int *)kc_map_sget(&m, "/registry/pods/default/p5"), -1);
	/* delete half; the rest must stay reachable (backward-shift deletion) */
	for (int i = 0; i < 20000; i += 2) {
		snprintf(key, sizeof key, "/registry/pods/default/p%d", i);
		assert_true(kc_map_sdel(&m, key));
	}
	assert_int_equal(m.len, 10000);
	for (int i = 1; i < 20000; i += 2) {
		snprintf(key, sizeof key, "/registry/pods/default/p%d", i);
		int *v = kc_map_sget(&m, key);
		assert_non_null(v);
		assert_int_equal(*v, i == 5 ? -1 : i);
	}
	assert_false(kc_map_sdel(&m, "/registry/pods/default/p0"));
	/* take hands ownership back */
	int *t = kc_map_take(&m, "/registry/pods/default/p1", strlen("/registry/pods/default/p1"));
	assert_non_null(t);
	free(t);
	/* binary keys with NUL bytes */
	kc_map_put(&m, "a\0b", 3, xstrdup("x"));
	kc_map_put(&m, "a\0c", 3, xstrdup("y"));
	assert_string_equal(kc_map_get(&m, "a\0b", 3), "x");
	assert_string_equal(kc_map_get(&m, "a\0c", 3), "y");
	assert_null(kc_map_get(&m, "a", 1));
	/* iteration visits every entry once */
	size_t pos = 0, count = 0;
	while (kc_map_next(&m, &pos, NULL, NULL, NULL))
		count++;
	assert_int_equal(count, m.len);
	kc_map_free(&m);
	assert_int_equal(m.len, 0);
	assert_null(kc_map_sget(&m, "x"));
}

static void test_err(void **state)
{
	(void)state;
	struct kc_err err = { 0 };
	int rc = kc_err_set(&err, -KC_EINVAL, "bad port %d", 70000);
	assert_int_equal(rc, -KC_EINVAL);
	assert_string_equal(err.msg, "bad port 70000");
	kc_err_wrap(&err, "flag --%s", "api-port");
	assert_string_equal(err.msg, "flag --api-port: bad port 70000");
	assert_int_equal(err.code, -KC_EINVAL);
	assert_string_equal(kc_strerror(-KC_ENOTFOUND), "not found");
	assert_string_equal(kc_strerror(-ENOENT), strerror(ENOENT));
	/* overlong messages are truncated, never overflow */
	char big[600];
	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	kc_err_set(&err, -KC_EIO, "%s", big);
	assert_int_equal(strlen(err.msg), KC_ERRMSG_MAX - 1);
	kc_err_wrap(&err, "%s", big);
	assert_int_equal(strlen(err.msg), KC_ERRMSG_MAX - 1);
	kc_err_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
	assert_int_equal(kc_err_set(NULL, -KC_EIO, "x"), -KC_EIO);
}

static void test_alloc(void **state)
{
	(void)state;
	char *s = xasprintf("%s-%d", "kc", 7);
	assert_string_equal(s, "kc-7");
	free(s);
	char *d = xstrndup("abcdef", 3);
	assert_string_equal(d, "abc");
	free(d);
	assert_true(kc_grow_cap(0, 1, 1) >= 1);
	assert_true(kc_grow_cap(8, 100, 4) >= 100);
	void *z = xmalloc(0);
	assert_non_null(z);
	free(z);
}

/* lib/fs: both replacements leave the new content and mode and no temporary file behind,
 * refuse a missing directory with the path in the message, and read back within limits. */
static void test_fs_replace(void **state)
{
	(void)state;
	char dir[] = "/tmp/kc-core-fs.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/f", dir);
	struct kc_err err = {0};
	assert_int_equal(kc_write_file_atomic(path, "one", 3, 0640, &err), 0);
	assert_int_equal(kc_write_file_replace(path, "second", 6, 0604, &err), 0);
	unsigned char *b = NULL;
	size_t len = 0;
	assert_int_equal(kc_read_file(path, 100, &b, &len, &err), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(b, "second", 6);
	free(b);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0604);
	assert_int_equal(kc_read_file(path, 3, &b, &len, &err), -KC_ETOOBIG);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) = 1", dir);
	assert_int_equal(system(cmd), 0); /* no temporary left */
	char missing[96];
	snprintf(missing, sizeof missing, "%s/no/f", dir);
	assert_true(kc_write_file_replace(missing, "x", 1, 0600, &err) < 0);
	assert_non_null(strstr(err.msg, missing));
	/* mkdir -p, then rm -rf of what it made (files at several depths) */
	char deep[128];
	snprintf(deep, sizeof deep, "%s/a/b/c", dir);
	assert_int_equal(kc_mkdir_p(deep, 0700), 0);
	assert_int_equal(kc_mkdir_p(deep, 0700), 0); /* exists: fine */
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	char f2[160];
	snprintf(f2, sizeof f2, "%s/g", deep);
	assert_int_equal(kc_write_file_replace(f2, "x", 1, 0600, &err), 0);
	/* a file in the way, and a path too long: errors that name the path */
	char under[200];
	snprintf(under, sizeof under, "%s/h", f2);
	assert_int_equal(kc_mkdir_p_err(under, 0755, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, under));
	char *huge = malloc(5000);
	memset(huge, 'a', 4999);
	huge[0] = '/';
	huge[4999] = '\0';
	assert_int_equal(kc_mkdir_p(huge, 0755), -ENAMETOOLONG);
	free(huge);
	char top[96];
	snprintf(top, sizeof top, "%s/a", dir);
	assert_int_equal(kc_remove_tree(top), 0);
	assert_int_equal(stat(top, &st), -1);
	assert_int_equal(kc_remove_tree(top), 0); /* missing: fine */
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str_basic), cmocka_unit_test(test_str_large_format),
		cmocka_unit_test(test_parse_i64), cmocka_unit_test(test_vec),
		cmocka_unit_test(test_list),      cmocka_unit_test(test_map),
		cmocka_unit_test(test_err),       cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_fs_replace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
