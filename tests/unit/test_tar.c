/* Unit tests for runtime/tar and runtime/tar_input: ustar, PAX (path, linkpath, size, uid/gid,
 * mtime, xattrs), GNU long names, base-256 numbers, limits, corrupt input, gzip streams (one and
 * several members), compression detection and the uncompressed digest. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/str.h"
#include "runtime/tar.h"
#include "runtime/tar_input.h"
#include "tests/unit/tar_build.h"

static struct tar_mem_source msrc;

static struct tar_reader *reader_over(const struct kc_str *s, const struct tar_limits *lim)
{
	tar_mem_source_init(&msrc, s->buf, s->len);
	return tar_reader_new(&msrc.src, lim);
}

static void test_ustar(void **state)
{
	struct kc_str s = KC_STR_INIT;
	tb_dir(&s, "./etc/", 0755);
	tb_file(&s, "./etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
	tb_symlink(&s, "bin/sh", "/bin/busybox");
	tb_hardlink(&s, "etc/passwd2", "etc/passwd");
	struct tb_opts dev = {.major = 1, .minor = 3};
	tb_header(&s, "dev/null", '3', 0666, 0, NULL, &dev);
	tb_header(&s, "fifo", '6', 0600, 0, NULL, NULL);
	struct tb_opts own = {.uid = 1000, .gid = 100, .mtime = 1234567890};
	tb_header(&s, "suid", '0', 04755, 0, NULL, &own);
	tb_end(&s);

	struct kc_err err = {0};
	struct tar_reader *r = reader_over(&s, NULL);
	const struct tar_entry *e;
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->type, TAR_DIR);
	assert_string_equal(e->path, "./etc/");
	assert_int_equal(e->mode, 0755);
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->type, TAR_REG);
	assert_int_equal(e->size, 26);
	char buf[64];
	ssize_t k = tar_read(r, buf, 10, &err);
	assert_int_equal(k, 10);
	assert_memory_equal(buf, "root:x:0:0", 10);
	/* the rest is skipped by tar_next */
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->type, TAR_SYMLINK);
	assert_string_equal(e->linkpath, "/bin/busybox");
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->type, TAR_LINK);
	assert_string_equal(e->linkpath, "etc/passwd");
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->type, TAR_CHR);
	assert_int_equal(e->devmajor, 1);
	assert_int_equal(e->devminor, 3);
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->type, TAR_FIFO);
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->mode, 04755);
	assert_int_equal(e->uid, 1000);
	assert_int_equal(e->gid, 100);
	assert_int_equal(e->mtime, 1234567890);
	assert_int_equal(tar_next(r, &e, &err), 0);
	assert_int_equal(tar_next(r, &e, &err), 0);
	assert_int_equal(tar_entries(r), 7);
	tar_reader_free(r);
	kc_str_free(&s);
}

static void test_pax_and_gnu(void **state)
{
	struct kc_str s = KC_STR_INIT;
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	const char *kv[] = {"path=dir/ünïcode name with spaces",
			    "uid=4000000000",
			    "gid=7",
			    "mtime=1700000000.5",
			    "SCHILY.xattr.security.capability=\x01\0\0\x02",
			    "SCHILY.xattr.user.k=v",
			    "comment=ignored",
			    "linkpath=whatever"};
	size_t vl[] = {strlen(kv[0]),
		       strlen(kv[1]),
		       strlen(kv[2]),
		       strlen(kv[3]),
		       strlen("SCHILY.xattr.security.capability=") + 4,
		       strlen(kv[5]),
		       strlen(kv[6]),
		       strlen(kv[7])};
	tb_pax(&s, kv, vl, 8);
	tb_file(&s, "short", "hello", 0644);
	tb_gnu(&s, 'L', longname);
	tb_gnu(&s, 'K', "target/of/a/long/link");
	tb_symlink(&s, "ignored", "ignored");
	/* PAX size overrides the header's */
	const char *sz[] = {"size=3"};
	tb_pax(&s, sz, NULL, 1);
	tb_header(&s, "sized", '0', 0644, 0, NULL, NULL);
	kc_str_add(&s, "abc", 3);
	tb_pad(&s);
	tb_end(&s);

	struct kc_err err = {0};
	struct tar_reader *r = reader_over(&s, NULL);
	const struct tar_entry *e;
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_string_equal(e->path, "dir/ünïcode name with spaces");
	assert_int_equal(e->uid, 4000000000u);
	assert_int_equal(e->gid, 7);
	assert_int_equal(e->mtime, 1700000000);
	assert_int_equal(e->mtime_nsec, 500000000);
	assert_int_equal(e->nxattrs, 2);
	assert_string_equal(e->xattrs[0].name, "security.capability");
	assert_int_equal(e->xattrs[0].len, 4);
	assert_memory_equal(e->xattrs[0].value, "\x01\0\0\x02", 4);
	assert_string_equal(e->linkpath, ""); /* not a link */
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_string_equal(e->path, longname);
	assert_string_equal(e->linkpath, "target/of/a/long/link");
	assert_int_equal(e->nxattrs, 0); /* overrides apply to one member */
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_string_equal(e->path, "sized");
	assert_int_equal(e->size, 3);
	char buf[8];
	assert_int_equal(tar_read(r, buf, sizeof(buf), &err), 3);
	assert_int_equal(tar_read(r, buf, sizeof(buf), &err), 0);
	assert_int_equal(tar_next(r, &e, &err), 0);
	tar_reader_free(r);
	kc_str_free(&s);
}

static void expect_error(const struct kc_str *s, const struct tar_limits *lim, int code,
			 const char *msg)
{
	struct kc_err err = {0};
	struct tar_reader *r = reader_over(s, lim);
	const struct tar_entry *e;
	int rc;
	while ((rc = tar_next(r, &e, &err)) == 1) {
		char buf[512];
		while ((rc = (int)tar_read(r, buf, sizeof(buf), &err)) > 0)
			;
		if (rc < 0)
			break;
	}
	if (rc != code)
		fail_msg("expected %d, got %d (%s)", code, rc, err.msg);
	if (msg && !strstr(err.msg, msg))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
	/* sticky */
	assert_int_equal(tar_next(r, &e, &err), code);
	tar_reader_free(r);
}

static void test_bad_input(void **state)
{
	struct kc_str s = KC_STR_INIT;
	tb_file(&s, "a", "data", 0644);
	tb_end(&s);
	/* checksum */
	s.buf[0] = 'b';
	expect_error(&s, NULL, -KC_EPARSE, "checksum");
	s.buf[0] = 'a';
	/* truncated data */
	struct kc_str t = KC_STR_INIT;
	kc_str_add(&t, s.buf, 514);
	expect_error(&t, NULL, -KC_EPARSE, "truncated");
	kc_str_reset(&t);
	/* truncated header */
	kc_str_add(&t, s.buf, 100);
	expect_error(&t, NULL, -KC_EPARSE, "truncated");
	kc_str_reset(&t);
	/* bad octal */
	tb_header(&t, "x", '0', 0644, 0, NULL, NULL);
	memcpy(t.buf + 100, "0000z44", 7);
	memset(t.buf + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)t.buf[i];
	snprintf(t.buf + 148, 8, "%06o", sum);
	expect_error(&t, NULL, -KC_EPARSE, "mode");
	kc_str_reset(&t);
	/* unsupported types */
	tb_header(&t, "sparse", 'S', 0644, 0, NULL, NULL);
	expect_error(&t, NULL, -KC_EUNSUPPORTED, "sparse");
	kc_str_reset(&t);
	tb_header(&t, "weird", 'Z', 0644, 0, NULL, NULL);
	expect_error(&t, NULL, -KC_EUNSUPPORTED, "type");
	kc_str_reset(&t);
	/* malformed PAX: length past the end, missing '=' */
	tb_header(&t, "p", 'x', 0644, 12, NULL, NULL);
	kc_str_add(&t, "99 path=x\n\0\0", 12);
	tb_pad(&t);
	expect_error(&t, NULL, -KC_EPARSE, "PAX");
	kc_str_reset(&t);
	tb_header(&t, "p", 'x', 0644, 9, NULL, NULL);
	kc_str_add(&t, "9 pathx\n\n", 9);
	tb_pad(&t);
	expect_error(&t, NULL, -KC_EPARSE, NULL);
	kc_str_reset(&t);
	const char *sparse[] = {"GNU.sparse.map=0,1"};
	tb_pax(&t, sparse, NULL, 1);
	expect_error(&t, NULL, -KC_EUNSUPPORTED, "sparse");
	kc_str_reset(&t);
	/* data after a single zero block */
	for (int i = 0; i < 512; i++)
		kc_str_addc(&t, 0);
	kc_str_add(&t, s.buf, 512);
	expect_error(&t, NULL, -KC_EPARSE, "zero block");
	kc_str_reset(&t);
	/* a link without target, an empty name */
	tb_header(&t, "l", '2', 0777, 0, "", NULL);
	expect_error(&t, NULL, -KC_EPARSE, "target");
	kc_str_reset(&t);
	tb_header(&t, "", '0', 0644, 0, NULL, NULL);
	expect_error(&t, NULL, -KC_EPARSE, "empty");
	kc_str_free(&t);
	kc_str_free(&s);
}

static void test_limits(void **state)
{
	struct kc_str s = KC_STR_INIT;
	for (int i = 0; i < 10; i++)
		tb_file(&s, "f", "x", 0644);
	tb_end(&s);
	struct tar_limits lim = {.max_entries = 5};
	expect_error(&s, &lim, -KC_ELIMIT, "entries");
	kc_str_reset(&s);
	char name[200];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	tb_gnu(&s, 'L', name);
	tb_file(&s, "x", "", 0644);
	struct tar_limits small = {.max_path = 100};
	expect_error(&s, &small, -KC_ELIMIT, "long name");
	kc_str_reset(&s);
	const char *kv[] = {
		"path=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	tb_pax(&s, kv, NULL, 1);
	expect_error(&s, &small, -KC_ELIMIT, "PAX path");
	kc_str_reset(&s);
	struct tar_limits pax = {.max_pax = 16};
	tb_pax(&s, kv, NULL, 1);
	expect_error(&s, &pax, -KC_ELIMIT, "extended header");
	kc_str_reset(&s);
	struct tar_limits xl = {.max_xattrs = 1};
	const char *xs[] = {"SCHILY.xattr.user.a=1", "SCHILY.xattr.user.b=2"};
	tb_pax(&s, xs, NULL, 2);
	expect_error(&s, &xl, -KC_ELIMIT, "xattrs");
	kc_str_reset(&s);
	struct tar_limits sz = {.max_size = 10};
	tb_file(&s, "big", "0123456789abc", 0644);
	expect_error(&s, &sz, -KC_ELIMIT, "bytes");
	kc_str_free(&s);
}

static void test_base256(void **state)
{
	struct kc_str s = KC_STR_INIT;
	tb_header(&s, "big", '0', 0644, 0, NULL, NULL);
	/* uid 2^40 in base-256, mtime -1 */
	unsigned char *h = (unsigned char *)s.buf;
	memset(h + 108, 0, 8);
	h[108] = 0x80;
	h[110] = 0x01; /* 0x0100_0000_0000 in the 7 bytes after the marker? set uid small */
	memset(h + 108, 0, 8);
	h[108] = 0x80;
	h[115] = 0x2a;		   /* 42 */
	memset(h + 136, 0xff, 12); /* -1 */
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf(s.buf + 148, 8, "%06o", sum);
	tb_end(&s);
	struct kc_err err = {0};
	struct tar_reader *r = reader_over(&s, NULL);
	const struct tar_entry *e;
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->uid, 42);
	assert_int_equal(e->mtime, -1);
	tar_reader_free(r);
	kc_str_free(&s);
}

static void read_all_through_input(const struct kc_str *in, enum tar_compression want_comp,
				   const struct kc_str *plain)
{
	struct tar_mem_source m;
	tar_mem_source_init(&m, in->buf, in->len);
	struct tar_input *ti;
	struct kc_err err = {0};
	assert_int_equal(tar_input_open(&m.src, 0, &ti, &err), 0);
	assert_int_equal(tar_input_compression(ti), want_comp);
	struct tar_reader *r = tar_reader_new(tar_input_source(ti), NULL);
	const struct tar_entry *e;
	int n = 0;
	while (tar_next(r, &e, &err) == 1)
		n++;
	assert_int_equal(n, 2);
	uint8_t d[KC_SHA256_LEN], want[KC_SHA256_LEN];
	uint64_t size;
	assert_int_equal(tar_input_finish(ti, d, &size, &err), 0);
	kc_sha256(plain->buf, plain->len, want);
	assert_memory_equal(d, want, KC_SHA256_LEN);
	assert_int_equal(size, plain->len);
	tar_reader_free(r);
	tar_input_free(ti);
}

static void test_input_gzip(void **state)
{
	struct kc_str plain = KC_STR_INIT, gz = KC_STR_INIT;
	tb_file(&plain, "a", "alpha", 0644);
	tb_file(&plain, "b", "beta", 0644);
	tb_end(&plain);
	/* trailing zeros beyond the end blocks count in the digest */
	for (int i = 0; i < 4096; i++)
		kc_str_addc(&plain, 0);
	read_all_through_input(&plain, TAR_PLAIN, &plain);
	tb_gzip(&plain, &gz);
	read_all_through_input(&gz, TAR_GZIP, &plain);
	/* two gzip members concatenated make one stream */
	struct kc_str half1 = KC_STR_INIT, half2 = KC_STR_INIT, two = KC_STR_INIT;
	kc_str_add(&half1, plain.buf, 1024);
	kc_str_add(&half2, plain.buf + 1024, plain.len - 1024);
	tb_gzip(&half1, &two);
	tb_gzip(&half2, &two);
	read_all_through_input(&two, TAR_GZIP, &plain);

	/* corrupt and truncated gzip */
	struct kc_err err = {0};
	struct tar_mem_source m;
	struct tar_input *ti;
	uint8_t d[KC_SHA256_LEN];
	struct kc_str bad = KC_STR_INIT;
	kc_str_add(&bad, gz.buf, gz.len / 2);
	tar_mem_source_init(&m, bad.buf, bad.len);
	assert_int_equal(tar_input_open(&m.src, 0, &ti, &err), 0);
	assert_int_equal(tar_input_finish(ti, d, NULL, &err), -KC_EPARSE);
	tar_input_free(ti);
	kc_str_reset(&bad);
	kc_str_add(&bad, gz.buf, gz.len);
	bad.buf[20] ^= 0x55;
	bad.buf[21] ^= 0x55;
	tar_mem_source_init(&m, bad.buf, bad.len);
	assert_int_equal(tar_input_open(&m.src, 0, &ti, &err), 0);
	assert_int_equal(tar_input_finish(ti, d, NULL, &err), -KC_EPARSE);
	tar_input_free(ti);
	/* a bomb over the output limit */
	tar_mem_source_init(&m, gz.buf, gz.len);
	assert_int_equal(tar_input_open(&m.src, 1000, &ti, &err), 0);
	assert_int_equal(tar_input_finish(ti, d, NULL, &err), -KC_ELIMIT);
	tar_input_free(ti);
	/* zstd: refused by magic */
	const char zstd[] = "\x28\xb5\x2f\xfd\x00\x00\x00\x00";
	tar_mem_source_init(&m, zstd, 8);
	assert_int_equal(tar_input_open(&m.src, 0, &ti, &err), -KC_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "zstd"));
	/* an empty stream is a valid empty archive */
	tar_mem_source_init(&m, "", 0);
	assert_int_equal(tar_input_open(&m.src, 0, &ti, &err), 0);
	struct tar_reader *r = tar_reader_new(tar_input_source(ti), NULL);
	const struct tar_entry *e;
	assert_int_equal(tar_next(r, &e, &err), 0);
	tar_reader_free(r);
	tar_input_free(ti);
	kc_str_free(&bad);
	kc_str_free(&half1);
	kc_str_free(&half2);
	kc_str_free(&two);
	kc_str_free(&plain);
	kc_str_free(&gz);
}

static void test_header_only_sizes(void **state)
{
	/* a size on a link or directory header carries no data (Go's archive/tar, GNU tar) */
	struct kc_str s = KC_STR_INIT;
	tb_header(&s, "l", '2', 0777, 600, "target", NULL);
	tb_header(&s, "d/", '5', 0755, 9999, NULL, NULL);
	tb_file(&s, "f", "data", 0644);
	tb_end(&s);
	struct kc_err err = {0};
	struct tar_reader *r = reader_over(&s, NULL);
	const struct tar_entry *e;
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->size, 0);
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_int_equal(e->type, TAR_DIR);
	assert_int_equal(tar_next(r, &e, &err), 1);
	assert_string_equal(e->path, "f");
	assert_int_equal(e->size, 4);
	assert_int_equal(tar_next(r, &e, &err), 0);
	tar_reader_free(r);
	kc_str_free(&s);
}

static void test_detect(void **state)
{
	assert_int_equal(tar_detect_compression("\x1f\x8b\x08", 3), TAR_GZIP);
	assert_int_equal(tar_detect_compression("\x28\xb5\x2f\xfd", 4), TAR_ZSTD);
	assert_int_equal(tar_detect_compression("BZh9", 4), TAR_BZIP2);
	assert_int_equal(tar_detect_compression("\xfd"
						"7zXZ\0",
						6),
			 TAR_XZ);
	assert_int_equal(tar_detect_compression("ustar", 5), TAR_PLAIN);
	assert_int_equal(tar_detect_compression("\x1f", 1), TAR_PLAIN);
	assert_string_equal(tar_compression_name(TAR_ZSTD), "zstd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ustar),	  cmocka_unit_test(test_pax_and_gnu),
		cmocka_unit_test(test_bad_input), cmocka_unit_test(test_limits),
		cmocka_unit_test(test_base256),	  cmocka_unit_test(test_input_gzip),
		cmocka_unit_test(test_detect),	  cmocka_unit_test(test_header_only_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
