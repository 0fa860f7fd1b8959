/* Unit tests for runtime/image: reference normalization, pull policies, credentials, imports of
 * OCI archives and both docker-save generations built here, layers in overlayfs form (whiteouts,
 * opaque dirs, hard links, modes, xattrs), hostile layers (symlink escapes, ".."), digest and
 * diff_id mismatches, concurrent imports from several processes, the index seen across store
 * handles, removal, GC, the import folder, and pulls from a fake registry with token auth,
 * manifest lists and redirects. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/fs.h"
#include "lib/str.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "runtime/image.h"
#include "tests/unit/tar_build.h"

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kc-test-image.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static char *tpath(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

/* ---- references, policies, credentials ---- */

static void test_refs(void **state)
{
	static const char *const ok[][2] = {
		{"busybox", "docker.io/library/busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36"},
		{"library/busybox", "docker.io/library/busybox:latest"},
		{"docker.io/busybox", "docker.io/library/busybox:latest"},
		{"index.docker.io/library/busybox:1", "docker.io/library/busybox:1"},
		{"bitnami/nginx:1.25", "docker.io/bitnami/nginx:1.25"},
		{"kc.test/busybox:1", "kc.test/busybox:1"},
		{"kc.test/busybox", "kc.test/busybox:latest"},
		{"localhost/app", "localhost/app:latest"},
		{"localhost:5000/a/b/c:v1.2-rc_3", "localhost:5000/a/b/c:v1.2-rc_3"},
		{"127.0.0.1:5000/kc/busybox:1", "127.0.0.1:5000/kc/busybox:1"},
		{"[::1]:5000/x:y", "[::1]:5000/x:y"},
		{"Registry.Example.com/x", "Registry.Example.com/x:latest"},
		{"quay.io/a__b/c-d.e", "quay.io/a__b/c-d.e:latest"},
		{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		 "docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		 "docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct image_ref r;
		struct kc_err err = {0};
		if (image_ref_parse(ok[i][0], &r, &err) != 0)
			fail_msg("%s: %s", ok[i][0], err.msg);
		if (strcmp(r.full, ok[i][1]) != 0)
			fail_msg("%s -> %s, want %s", ok[i][0], r.full, ok[i][1]);
	}
	static const char *const bad[] = {
		"",
		"Busybox",
		"busybox:",
		"busybox:-x",
		":tag",
		"a//b",
		"a/",
		"/a",
		"a..b",
		"a-",
		"busybox@sha256:abc",
		"busybox@md5:0123",
		"UPPER.example.com/Repo",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"a b",
		"a:b:c",
		"host:port/x",
		"-a/b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct image_ref r;
		struct kc_err err = {0};
		if (image_ref_parse(bad[i], &r, &err) == 0)
			fail_msg("\"%s\" accepted as %s", bad[i], r.full);
		assert_true(strstr(err.msg, "invalid reference format") != NULL);
	}
	struct image_ref r;
	assert_int_equal(image_ref_parse("kc.test/busybox:1", &r, NULL), 0);
	assert_string_equal(r.domain, "kc.test");
	assert_string_equal(r.path, "busybox");
	assert_string_equal(r.repo, "kc.test/busybox");
	assert_string_equal(r.tag, "1");
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(image_ref_parse(longname, &r, NULL), -KC_EINVAL);
}

static void test_pull_policy(void **state)
{
	assert_int_equal(image_default_pull_policy("busybox"), IMAGE_PULL_ALWAYS);
	assert_int_equal(image_default_pull_policy("busybox:latest"), IMAGE_PULL_ALWAYS);
	assert_int_equal(image_default_pull_policy("busybox:1"), IMAGE_PULL_IF_NOT_PRESENT);
	assert_int_equal(image_default_pull_policy("kc.test/busybox:1"), IMAGE_PULL_IF_NOT_PRESENT);
	assert_int_equal(
		image_default_pull_policy(
			"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		IMAGE_PULL_IF_NOT_PRESENT);
	assert_int_equal(image_default_pull_policy("localhost:5000/x"), IMAGE_PULL_ALWAYS);
	enum image_pull_policy p;
	assert_int_equal(image_pull_policy_parse("Never", &p), 0);
	assert_int_equal(p, IMAGE_PULL_NEVER);
	assert_int_equal(image_pull_policy_parse("IfNotPresent", &p), 0);
	assert_int_equal(p, IMAGE_PULL_IF_NOT_PRESENT);
	assert_int_equal(image_pull_policy_parse("always", &p), -KC_EINVAL);
}

static void test_creds(void **state)
{
	struct image_creds c = {0};
	struct kc_err err = {0};
	struct kc_str auth = KC_STR_INIT;
	kc_base64_encode(&auth, "bob:s3cr:et", 11, KC_B64_STD);
	char *json = xasprintf("{\"auths\":{\"https://index.docker.io/v1/\":{\"username\":\"hub\","
			       "\"password\":\"hp\"},\"127.0.0.1:5000\":{\"auth\":\"%s\"},"
			       "\"*.example.com/team\":{\"username\":\"t\",\"password\":\"tp\"},"
			       "\"*.example.com\":{\"username\":\"w\",\"password\":\"wp\"}}}",
			       auth.buf);
	assert_int_equal(image_creds_add_dockerconfig(&c, json, strlen(json), &err), 0);
	assert_int_equal(c.n, 4);
	const struct image_cred *m[4];
	assert_int_equal(image_creds_match(&c, "docker.io/library/busybox", m, 4), 1);
	assert_string_equal(m[0]->username, "hub");
	assert_int_equal(image_creds_match(&c, "127.0.0.1:5000/kc/busybox", m, 4), 1);
	assert_string_equal(m[0]->username, "bob");
	assert_string_equal(m[0]->password, "s3cr:et");
	assert_int_equal(image_creds_match(&c, "127.0.0.1:5001/kc/busybox", m, 4), 0);
	assert_int_equal(image_creds_match(&c, "reg.example.com/team/app", m, 4), 2);
	assert_string_equal(m[0]->username, "t"); /* the more specific key first */
	assert_int_equal(image_creds_match(&c, "reg.example.com/other/app", m, 4), 1);
	assert_string_equal(m[0]->username, "w");
	assert_int_equal(image_creds_match(&c, "a.b.example.com/team/app", m, 4), 0);
	free(json);
	/* legacy .dockercfg and errors */
	assert_int_equal(
		image_creds_add_dockerconfig(&c, "{\"r.io\":{\"auth\":\"eDp5\"}}", 24, &err), 0);
	assert_int_equal(c.n, 5);
	assert_int_equal(image_creds_add_dockerconfig(
				 &c, "{\"auths\":{\"r\":{\"auth\":\"bm9jb2xvbg==\"}}}", 37, &err),
			 -KC_EPARSE);
	assert_int_equal(image_creds_add_dockerconfig(&c, "[]", 2, &err), -KC_EPARSE);
	assert_int_equal(c.n, 5);
	image_creds_free(&c);
	kc_str_free(&auth);
}

/* ---- image builders ---- */

struct img {
	struct kc_str layer_tar;  /* uncompressed */
	struct kc_str layer_blob; /* as stored */
	char diff_id[72], layer_digest[72];
	struct kc_str config;
	char config_digest[72];
	struct kc_str manifest;
	char manifest_digest[72];
};

static void img_free(struct img *im)
{
	kc_str_free(&im->layer_tar);
	kc_str_free(&im->layer_blob);
	kc_str_free(&im->config);
	kc_str_free(&im->manifest);
}

/* An image of one layer (the caller fills layer_tar first). bad_diff_id corrupts the config. */
static void img_build(struct img *im, bool gzip, bool bad_diff_id, const char *cmd)
{
	tb_digest(im->layer_tar.buf, im->layer_tar.len, im->diff_id);
	kc_str_reset(&im->layer_blob);
	if (gzip)
		tb_gzip(&im->layer_tar, &im->layer_blob);
	else
		kc_str_add(&im->layer_blob, im->layer_tar.buf, im->layer_tar.len);
	tb_digest(im->layer_blob.buf, im->layer_blob.len, im->layer_digest);
	kc_str_reset(&im->config);
	kc_str_addf(
		&im->config,
		"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/bin/sh\",\"-c\"],"
		"\"Cmd\":[\"%s\"],\"Env\":[\"PATH=/bin\",\"A=b c\"],\"WorkingDir\":\"/work\","
		"\"User\":\"1000:1000\",\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}},"
		"\"StopSignal\":\"SIGQUIT\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
		cmd,
		bad_diff_id
			? "sha256:0000000000000000000000000000000000000000000000000000000000000000"
			: im->diff_id);
	tb_digest(im->config.buf, im->config.len, im->config_digest);
	kc_str_reset(&im->manifest);
	kc_str_addf(
		&im->manifest,
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
		"\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar%s\","
		"\"digest\":\"%s\",\"size\":%zu}]}",
		im->config_digest, im->config.len, gzip ? "+gzip" : "", im->layer_digest,
		im->layer_blob.len);
	tb_digest(im->manifest.buf, im->manifest.len, im->manifest_digest);
}

static void add_member(struct kc_str *a, const char *name, const struct kc_str *data)
{
	tb_header(a, name, '0', 0644, data->len, NULL, NULL);
	kc_str_add(a, data->buf, data->len);
	tb_pad(a);
}

static void add_blob(struct kc_str *a, const char *digest, const struct kc_str *data)
{
	char name[100];
	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	add_member(a, name, data);
}

static void write_file(const char *path, const struct kc_str *s)
{
	struct kc_err err;
	assert_int_equal(kc_write_file_atomic(path, s->buf, s->len, 0644, &err), 0);
}

/* OCI layout archive; docker25 adds manifest.json and repositories as Docker 25 does. */
static void write_oci(const char *path, const struct img *im, const char *refname, bool docker25,
		      bool gzip_archive)
{
	struct kc_str a = KC_STR_INIT, t = KC_STR_INIT;
	tb_dir(&a, "blobs/", 0755);
	tb_dir(&a, "blobs/sha256/", 0755);
	add_blob(&a, im->layer_digest, &im->layer_blob);
	add_blob(&a, im->config_digest, &im->config);
	add_blob(&a, im->manifest_digest, &im->manifest);
	kc_str_adds(&t, "{\"imageLayoutVersion\":\"1.0.0\"}");
	add_member(&a, "oci-layout", &t);
	kc_str_reset(&t);
	kc_str_addf(
		&t,
		"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
		"\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,",
		im->manifest_digest, im->manifest.len);
	if (docker25)
		kc_str_addf(&t,
			    "\"annotations\":{\"io.containerd.image.name\":\"%s\","
			    "\"org.opencontainers.image.ref.name\":\"latest\"}}]}",
			    refname);
	else if (refname)
		kc_str_addf(&t, "\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}}]}",
			    refname);
	else
		kc_str_adds(&t, "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}");
	add_member(&a, "index.json", &t);
	if (docker25) {
		kc_str_reset(&t);
		kc_str_addf(
			&t,
			"[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[\"%s\",\"extra/name:2\"],"
			"\"Layers\":[\"blobs/sha256/%s\"]}]",
			im->config_digest + 7, refname, im->layer_digest + 7);
		add_member(&a, "manifest.json", &t);
	}
	tb_end(&a);
	if (gzip_archive) {
		struct kc_str gz = KC_STR_INIT;
		tb_gzip(&a, &gz);
		write_file(path, &gz);
		kc_str_free(&gz);
	} else {
		write_file(path, &a);
	}
	kc_str_free(&a);
	kc_str_free(&t);
}

/* docker save before Docker 25: <id>/layer.tar (a symlink for a repeated layer), <id>.json. */
static void write_docker_legacy(const char *path, const struct img *im, const char *repotag)
{
	struct kc_str a = KC_STR_INIT, t = KC_STR_INIT;
	tb_dir(&a, "aaa/", 0755);
	add_member(&a, "aaa/layer.tar", &im->layer_tar);
	kc_str_adds(&t, "1.0");
	add_member(&a, "aaa/VERSION", &t);
	tb_dir(&a, "bbb/", 0755);
	tb_symlink(&a, "bbb/layer.tar", "../aaa/layer.tar");
	char name[100];
	snprintf(name, sizeof(name), "%s.json", im->config_digest + 7);
	add_member(&a, name, &im->config);
	kc_str_reset(&t);
	kc_str_addf(&t,
		    "[{\"Config\":\"%s\",\"RepoTags\":[\"%s\"],\"Layers\":[\"bbb/layer.tar\"]}]",
		    name, repotag);
	add_member(&a, "manifest.json", &t);
	kc_str_reset(&t);
	kc_str_adds(&t, "{\"x\":{\"1\":\"aaa\"}}");
	add_member(&a, "repositories", &t);
	tb_end(&a);
	write_file(path, &a);
	kc_str_free(&a);
	kc_str_free(&t);
}

static void basic_layer(struct kc_str *s)
{
	tb_dir(s, "./", 0755);
	tb_dir(s, "bin/", 0755);
	tb_file(s, "bin/tool", "#!/bin/sh\necho hi\n", 0755);
	tb_symlink(s, "bin/sh", "/bin/tool");
	tb_hardlink(s, "bin/tool2", "bin/tool");
	struct tb_opts own = {.uid = 1000, .gid = 1001, .mtime = 1600000000};
	tb_header(s, "bin/suid", '0', 04711, 0, NULL, &own);
	tb_dir(s, "ro/", 0555);
	tb_file(s, "ro/file", "x", 0444);
	const char *x[] = {"SCHILY.xattr.user.note=hello"};
	tb_pax(s, x, NULL, 1);
	tb_file(s, "etc/with-xattr", "y", 0600);
	/* whiteouts: a file and an opaque dir */
	tb_file(s, "etc/.wh.shadow", "", 0644);
	tb_dir(s, "var/", 0755);
	tb_file(s, "var/.wh..wh..opq", "", 0644);
	tb_file(s, "var/new", "n", 0644);
	tb_file(s, ".wh..wh.plnk", "", 0644);
	struct tb_opts dev = {.major = 1, .minor = 3};
	tb_header(s, "dev/null", '3', 0666, 0, NULL, &dev);
	tb_end(s);
}

static struct image_store *open_store(const char *name)
{
	char *dir = tpath(name);
	struct image_store *s;
	struct kc_err err = {0};
	if (image_store_open(dir, NULL, &s, &err) != 0)
		fail_msg("open: %s", err.msg);
	free(dir);
	return s;
}

static void import_ok(struct image_store *s, const char *path, const char *want_name)
{
	struct kc_err err = {0};
	char **names = NULL;
	if (image_import_file(s, path, &names, &err) != 0)
		fail_msg("import %s: %s", path, err.msg);
	bool found = !want_name;
	for (char **n = names; n && *n; n++)
		found |= strcmp(*n, want_name) == 0;
	if (!found)
		fail_msg("import %s: %s not among the names", path, want_name);
	image_strv_free(names);
}

static void import_fails(struct image_store *s, const char *path, int code, const char *msg)
{
	struct kc_err err = {0};
	int rc = image_import_file(s, path, NULL, &err);
	if (rc != code)
		fail_msg("import %s: %d (%s), want %d", path, rc, err.msg, code);
	if (msg && !strstr(err.msg, msg))
		fail_msg("import %s: \"%s\" lacks \"%s\"", path, err.msg, msg);
}

static size_t count_images(struct image_store *s)
{
	struct image **v;
	size_t n;
	struct kc_err err;
	assert_int_equal(image_list(s, &v, &n, &err), 0);
	image_list_free(v, n);
	return n;
}

/* ---- imports ---- */

static void test_import_oci(void **state)
{
	bool root = geteuid() == 0;
	struct img im = {0};
	basic_layer(&im.layer_tar);
	img_build(&im, true, false, "echo");
	char *arch = tpath("oci.tar.gz");
	write_oci(arch, &im, "kc.test/busybox:1", false, true);
	struct image_store *s = open_store("d1");
	if (!root) {
		import_fails(s, arch, -KC_EUNSUPPORTED, "whiteout");
		goto out;
	}
	import_ok(s, arch, "kc.test/busybox:1");
	struct image *img;
	struct kc_err err = {0};
	assert_int_equal(image_lookup(s, "kc.test/busybox:1", &img, &err), 0);
	assert_string_equal(img->id, im.config_digest);
	assert_string_equal(img->digest, im.manifest_digest);
	assert_int_equal(img->nentrypoint, 2);
	assert_string_equal(img->entrypoint[1], "-c");
	assert_int_equal(img->ncmd, 1);
	assert_string_equal(img->cmd[0], "echo");
	assert_int_equal(img->nenv, 2);
	assert_string_equal(img->env[1], "A=b c");
	assert_string_equal(img->working_dir, "/work");
	assert_string_equal(img->user, "1000:1000");
	assert_string_equal(img->stop_signal, "SIGQUIT");
	assert_int_equal(img->nexposed_ports, 2);
	assert_int_equal(img->nlayers, 1);
	assert_string_equal(img->diff_ids[0], im.diff_id);
	assert_int_equal(img->size, im.config.len + im.layer_blob.len);
	const char *L = img->layer_dirs[0];
	struct stat st;
	char *p;
	/* files, modes, ownership, hard links */
	p = xasprintf("%s/bin/suid", L);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 04711);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1001);
	assert_int_equal(st.st_mtime, 1600000000);
	free(p);
	struct stat a, b;
	p = xasprintf("%s/bin/tool", L);
	assert_int_equal(lstat(p, &a), 0);
	free(p);
	p = xasprintf("%s/bin/tool2", L);
	assert_int_equal(lstat(p, &b), 0);
	free(p);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	char lt[64] = {0};
	p = xasprintf("%s/bin/sh", L);
	assert_int_equal(readlink(p, lt, sizeof(lt) - 1), 9);
	assert_string_equal(lt, "/bin/tool");
	free(p);
	p = xasprintf("%s/ro", L);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);
	free(p);
	p = xasprintf("%s", L);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(p);
	/* xattrs */
	char xv[32] = {0};
	p = xasprintf("%s/etc/with-xattr", L);
	assert_int_equal(lgetxattr(p, "user.note", xv, sizeof(xv)), 5);
	assert_string_equal(xv, "hello");
	free(p);
	/* overlayfs form */
	p = xasprintf("%s/etc/shadow", L);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	free(p);
	p = xasprintf("%s/etc/.wh.shadow", L);
	assert_int_equal(lstat(p, &st), -1);
	free(p);
	p = xasprintf("%s/var", L);
	memset(xv, 0, sizeof(xv));
	assert_int_equal(lgetxattr(p, "trusted.overlay.opaque", xv, sizeof(xv)), 1);
	assert_string_equal(xv, "y");
	free(p);
	p = xasprintf("%s/var/.wh..wh..opq", L);
	assert_int_equal(lstat(p, &st), -1);
	free(p);
	p = xasprintf("%s/.wh..wh.plnk", L);
	assert_int_equal(lstat(p, &st), -1);
	free(p);
	p = xasprintf("%s/dev/null", L);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	free(p);
	image_free(img);

	/* other ways to name it */
	const char *refs[] = {im.config_digest, im.config_digest + 7, "kc.test/busybox@"};
	for (size_t i = 0; i < 3; i++) {
		char *r =
			i == 2 ? xasprintf("%s%s", refs[i], im.manifest_digest) : xstrdup(refs[i]);
		if (image_lookup(s, r, &img, &err) != 0)
			fail_msg("lookup %s: %s", r, err.msg);
		image_free(img);
		free(r);
	}
	char prefix[20];
	snprintf(prefix, sizeof(prefix), "%.12s", im.config_digest + 7);
	assert_int_equal(image_lookup(s, prefix, &img, &err), 0);
	image_free(img);
	assert_int_equal(image_lookup(s, "kc.test/busybox:2", &img, &err), -KC_ENOTFOUND);
	assert_int_equal(image_lookup(s, "busybox", &img, &err), -KC_ENOTFOUND);
	/* importing again is idempotent */
	import_ok(s, arch, "kc.test/busybox:1");
	assert_int_equal(count_images(s), 1);
out:
	image_store_close(s);
	free(arch);
	img_free(&im);
}

static void simple_layer(struct kc_str *s, const char *content)
{
	tb_dir(s, "app/", 0755);
	tb_file(s, "app/data", content, 0644);
	tb_end(s);
}

static void test_import_docker(void **state)
{
	struct img im = {0};
	simple_layer(&im.layer_tar, "legacy");
	img_build(&im, false, false, "legacy");
	char *legacy = tpath("legacy.tar"), *d25 = tpath("d25.tar");
	write_docker_legacy(legacy, &im, "busybox:old");
	struct image_store *s = open_store("d2");
	import_ok(s, legacy, "docker.io/library/busybox:old");
	struct image *img;
	struct kc_err err = {0};
	assert_int_equal(image_lookup(s, "busybox:old", &img, &err), 0);
	assert_string_equal(img->id, im.config_digest);
	assert_string_equal(img->cmd[0], "legacy");
	char *p = xasprintf("%s/app/data", img->layer_dirs[0]);
	unsigned char *buf;
	size_t len;
	assert_int_equal(kc_read_file(p, 100, &buf, &len, &err), 0);
	assert_string_equal((char *)buf, "legacy");
	free(buf);
	free(p);
	/* no "./" member: the layer root is 0755, as are implied parents */
	struct stat st;
	assert_int_equal(stat(img->layer_dirs[0], &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	image_free(img);

	struct img im2 = {0};
	simple_layer(&im2.layer_tar, "docker 25");
	img_build(&im2, false, false, "new");
	write_oci(d25, &im2, "docker.io/library/busybox:latest", true, false);
	import_ok(s, d25, "docker.io/library/busybox:latest");
	assert_int_equal(image_lookup(s, "busybox", &img, &err), 0);
	assert_string_equal(img->digest, im2.manifest_digest); /* the archive's own manifest */
	assert_int_equal(img->nnames, 2);		       /* + RepoTags' extra/name:2 */
	image_free(img);
	assert_int_equal(image_lookup(s, "extra/name:2", &img, &err), 0);
	image_free(img);
	assert_int_equal(count_images(s), 2);
	image_store_close(s);
	free(legacy);
	free(d25);
	img_free(&im);
	img_free(&im2);
}

static void hostile(const char *name, void (*build)(struct kc_str *), const char *msg)
{
	struct img im = {0};
	build(&im.layer_tar);
	img_build(&im, false, false, "x");
	char *arch = tpath(name);
	write_oci(arch, &im, "kc.test/hostile:1", false, false);
	struct image_store *s = open_store("hostile");
	import_fails(s, arch, -KC_EINVAL, msg);
	assert_int_equal(count_images(s), 0);
	image_store_close(s);
	free(arch);
	img_free(&im);
}

static char escape_target[80];

static void symlink_escape(struct kc_str *s)
{
	tb_symlink(s, "evil", escape_target);
	tb_file(s, "evil/pwned", "gotcha", 0644);
	tb_end(s);
}

static void symlink_escape_deep(struct kc_str *s)
{
	tb_dir(s, "a/", 0755);
	tb_symlink(s, "a/b", "../../../../../../..");
	tb_file(s, "a/b/tmp/pwned", "gotcha", 0644);
	tb_end(s);
}

static void dotdot(struct kc_str *s)
{
	tb_file(s, "../pwned", "gotcha", 0644);
	tb_end(s);
}

static void hardlink_escape(struct kc_str *s)
{
	tb_hardlink(s, "passwd", "../../../../etc/passwd");
	tb_end(s);
}

static void hardlink_via_symlink(struct kc_str *s)
{
	tb_symlink(s, "etc", "/etc");
	tb_hardlink(s, "passwd", "etc/passwd");
	tb_end(s);
}

static void test_hostile_layers(void **state)
{
	char *victim = tpath("victim");
	assert_int_equal(mkdir(victim, 0755), 0);
	snprintf(escape_target, sizeof(escape_target), "%s", victim);
	hostile("esc1.tar", symlink_escape, "symlink");
	hostile("esc2.tar", symlink_escape_deep, "symlink");
	hostile("esc3.tar", dotdot, "..");
	hostile("esc4.tar", hardlink_escape, "..");
	hostile("esc5.tar", hardlink_via_symlink, "not in this layer");
	char *p = xasprintf("%s/pwned", victim);
	struct stat st;
	assert_int_equal(lstat(p, &st), -1);
	assert_int_equal(lstat("/tmp/pwned", &st), -1);
	free(p);
	free(victim);
	/* nothing left behind in layers/ or tmp/ */
	char *ld = tpath("hostile/images/layers");
	DIR *d = opendir(ld);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			fail_msg("layer left behind: %s", de->d_name);
	closedir(d);
	free(ld);
}

static void test_digest_mismatch(void **state)
{
	struct image_store *s = open_store("d3");
	struct img im = {0};
	simple_layer(&im.layer_tar, "content");
	/* the config's diff_id does not match the layer */
	img_build(&im, true, true, "x");
	char *a1 = tpath("bad-diffid.tar");
	write_oci(a1, &im, "kc.test/bad:1", false, false);
	import_fails(s, a1, -KC_ECRYPTO, "diff_id");
	/* a blob whose name is not its digest */
	img_build(&im, true, false, "x");
	struct kc_str a = KC_STR_INIT, t = KC_STR_INIT;
	add_blob(&a, im.config_digest, &im.layer_blob);
	kc_str_adds(&t, "{}");
	add_member(&a, "index.json", &t);
	tb_end(&a);
	char *a2 = tpath("bad-blob.tar");
	write_file(a2, &a);
	import_fails(s, a2, -KC_ECRYPTO, "digest");
	/* a missing layer, a missing config */
	kc_str_reset(&a);
	add_blob(&a, im.config_digest, &im.config);
	add_blob(&a, im.manifest_digest, &im.manifest);
	kc_str_reset(&t);
	kc_str_addf(&t,
		    "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"%s\",\"annotations\":"
		    "{\"org.opencontainers.image.ref.name\":\"kc.test/x:1\"}}]}",
		    im.manifest_digest);
	add_member(&a, "index.json", &t);
	tb_end(&a);
	char *a3 = tpath("missing.tar");
	write_file(a3, &a);
	import_fails(s, a3, -KC_EINVAL, "missing");
	/* not an archive at all, an empty one */
	kc_str_reset(&a);
	kc_str_adds(&a, "hello, this is not a tar file at all, but it is long enough to be read");
	for (int i = 0; i < 600; i++)
		kc_str_addc(&a, 'x');
	char *a4 = tpath("junk.tar");
	write_file(a4, &a);
	import_fails(s, a4, -KC_EPARSE, NULL);
	kc_str_reset(&a);
	tb_end(&a);
	write_file(a4, &a);
	import_fails(s, a4, -KC_EINVAL, "not an image archive");
	assert_int_equal(count_images(s), 0);
	/* a zstd layer is refused clearly */
	kc_str_reset(&im.layer_blob);
	kc_str_add(&im.layer_blob, "\x28\xb5\x2f\xfd\0\0\0\0", 8);
	tb_digest(im.layer_blob.buf, im.layer_blob.len, im.layer_digest);
	kc_str_reset(&im.manifest);
	kc_str_addf(
		&im.manifest,
		"{\"schemaVersion\":2,\"config\":{\"digest\":\"%s\",\"size\":%zu},\"layers\":[{"
		"\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"%s\","
		"\"size\":8}]}",
		im.config_digest, im.config.len, im.layer_digest);
	tb_digest(im.manifest.buf, im.manifest.len, im.manifest_digest);
	char *a5 = tpath("zstd.tar");
	write_oci(a5, &im, "kc.test/zstd:1", false, false);
	import_fails(s, a5, -KC_EUNSUPPORTED, "zstd");
	free(a5);
	assert_int_equal(count_images(s), 0);
	image_store_close(s);
	kc_str_free(&a);
	kc_str_free(&t);
	free(a1);
	free(a2);
	free(a3);
	free(a4);
	img_free(&im);
}

static void test_concurrent_imports(void **state)
{
	enum { N = 4 };
	char *paths[N];
	struct img ims[N];
	for (int i = 0; i < N; i++) {
		memset(&ims[i], 0, sizeof(ims[i]));
		char content[32], name[32], file[32];
		snprintf(content, sizeof(content), "content %d", i % 2);
		snprintf(name, sizeof(name), "kc.test/c%d:1", i);
		snprintf(file, sizeof(file), "c%d.tar", i);
		simple_layer(&ims[i].layer_tar, content);
		img_build(&ims[i], true, false, name);
		paths[i] = tpath(file);
		write_oci(paths[i], &ims[i], name, false, false);
	}
	char *dir = tpath("conc");
	pid_t pids[N * 2];
	for (int i = 0; i < N * 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct image_store *s;
			struct kc_err err;
			if (image_store_open(dir, NULL, &s, &err) < 0)
				_exit(1);
			int rc = image_import_file(s, paths[i % N], NULL, &err);
			image_store_close(s);
			_exit(rc == 0 ? 0 : 2);
		}
	}
	for (int i = 0; i < N * 2; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	struct image_store *s = open_store("conc");
	assert_int_equal(count_images(s), N);
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "kc.test/c%d:1", i);
		struct image *img;
		struct kc_err err;
		if (image_lookup(s, name, &img, &err) != 0)
			fail_msg("%s: %s", name, err.msg);
		image_free(img);
		free(paths[i]);
		img_free(&ims[i]);
	}
	/* two distinct layers, shared */
	char *ld = tpath("conc/images/layers");
	DIR *d = opendir(ld);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 2);
	free(ld);
	free(dir);
	image_store_close(s);
}

static int fake_usage(void *arg, uint64_t *used, uint64_t *total)
{
	*total = 100;
	*used = *(uint64_t *)arg;
	return 0;
}

static void test_index_refresh_remove_gc(void **state)
{
	struct image_store *a = open_store("d4"), *b = open_store("d4");
	struct img im1 = {0}, im2 = {0};
	simple_layer(&im1.layer_tar, "one");
	simple_layer(&im2.layer_tar, "two");
	img_build(&im1, true, false, "1");
	img_build(&im2, true, false, "2");
	char *p1 = tpath("g1.tar"), *p2 = tpath("g2.tar");
	write_oci(p1, &im1, "kc.test/g:1", false, false);
	write_oci(p2, &im2, "kc.test/g:2", false, false);
	struct image *img;
	struct kc_err err = {0};
	assert_int_equal(image_lookup(a, "kc.test/g:1", &img, &err), -KC_ENOTFOUND);
	import_ok(b, p1, "kc.test/g:1");
	/* a sees what b wrote at once */
	assert_int_equal(image_lookup(a, "kc.test/g:1", &img, &err), 0);
	char *layer1 = xstrdup(img->layer_dirs[0]);
	image_free(img);
	import_ok(b, p2, "kc.test/g:2");
	assert_int_equal(count_images(a), 2);

	/* rm: the image and its layer go */
	assert_int_equal(image_remove(a, "kc.test/g:1", &err), 0);
	struct stat st;
	assert_int_equal(lstat(layer1, &st), -1);
	assert_int_equal(image_lookup(b, "kc.test/g:1", &img, &err), -KC_ENOTFOUND);
	assert_int_equal(image_remove(a, "kc.test/g:1", &err), -KC_ENOTFOUND);
	import_ok(b, p1, "kc.test/g:1");

	/* GC: under the threshold nothing happens; above, unused images go, in-use ones stay */
	uint64_t used = 50;
	const char *in_use[] = {"kc.test/g:2"};
	struct image_gc_opts go = {.high_percent = 85,
				   .low_percent = 80,
				   .in_use = in_use,
				   .nin_use = 1,
				   .usage = fake_usage,
				   .usage_arg = &used};
	struct image_gc_stats gs;
	assert_int_equal(image_gc(a, &go, &gs, &err), 0);
	assert_int_equal(gs.images_removed, 0);
	assert_int_equal(count_images(a), 2);
	used = 90;
	assert_int_equal(image_gc(a, &go, &gs, &err), 0);
	assert_int_equal(gs.images_removed, 1);
	assert_int_equal(gs.layers_removed, 1);
	assert_int_equal(image_lookup(a, "kc.test/g:2", &img, &err), 0);
	image_free(img);
	assert_int_equal(image_lookup(a, "kc.test/g:1", &img, &err), -KC_ENOTFOUND);

	image_store_close(a);
	image_store_close(b);
	free(layer1);
	free(p1);
	free(p2);
	img_free(&im1);
	img_free(&im2);
}

static void test_import_dir(void **state)
{
	struct image_store *s = open_store("d5");
	struct img im = {0};
	simple_layer(&im.layer_tar, "airgap");
	img_build(&im, true, false, "a");
	char *p = tpath("d5/images/import/airgap.tar");
	write_oci(p, &im, "kc.test/airgap:1", false, false);
	char *bad = tpath("d5/images/import/broken.tar");
	struct kc_str junk = KC_STR_INIT;
	kc_str_adds(&junk, "junk");
	write_file(bad, &junk);
	struct kc_err err = {0};
	assert_int_equal(image_import_dir(s, &err), 1);
	struct image *img;
	assert_int_equal(image_lookup(s, "kc.test/airgap:1", &img, &err), 0);
	image_free(img);
	/* not again unless the file changes */
	assert_int_equal(image_import_dir(s, &err), 0);
	image_store_close(s);
	kc_str_free(&junk);
	free(p);
	free(bad);
	img_free(&im);
}

/* ---- a fake registry: token auth, an index, a redirect to another host name ---- */

struct fake_reg {
	struct loop *l;
	struct http_server *srv;
	pthread_t th;
	uint16_t port;
	struct img im;
	char index_digest[72];
	struct kc_str index;
	bool need_basic; /* the token endpoint wants bob:pw */
	int token_calls;
	int cdn_calls;
	bool cdn_saw_auth;
	bool corrupt_layer;
};

static void reg_handler(struct http_req *req, void *arg)
{
	struct fake_reg *f = arg;
	const char *path = req->path;
	if (strcmp(path, "/token") == 0) {
		f->token_calls++;
		const char *scope = http_req_query(req, "scope");
		const char *service = http_req_query(req, "service");
		const char *auth = http_req_header(req, "Authorization");
		if (!scope || strcmp(scope, "repository:kc/busybox:pull") != 0 || !service ||
		    strcmp(service, "fake registry") != 0) {
			http_respond(req, 400, "text/plain", "bad scope", 9);
			return;
		}
		if (f->need_basic && (!auth || strcmp(auth, "Basic Ym9iOnB3") != 0)) {
			http_respond(req, 401, "text/plain", "who?", 4);
			return;
		}
		const char *body = "{\"token\":\"T0KEN\",\"expires_in\":300}";
		http_respond(req, 200, "application/json", body, strlen(body));
		return;
	}
	if (kc_has_prefix(path, "/cdn/")) {
		f->cdn_calls++;
		f->cdn_saw_auth |= http_req_header(req, "Authorization") != NULL;
		struct kc_str *b = &f->im.layer_blob;
		if (f->corrupt_layer) {
			struct kc_str c = KC_STR_INIT;
			kc_str_add(&c, b->buf, b->len);
			c.buf[c.len / 2] ^= 1;
			http_respond(req, 200, "application/octet-stream", c.buf, c.len);
			kc_str_free(&c);
			return;
		}
		http_respond(req, 200, "application/octet-stream", b->buf, b->len);
		return;
	}
	const char *auth = http_req_header(req, "Authorization");
	if (!auth || strcmp(auth, "Bearer T0KEN") != 0) {
		char ch[256];
		snprintf(ch, sizeof(ch),
			 "Bearer realm=\"http://127.0.0.1:%u/token\",service=\"fake registry\","
			 "scope=\"repository:kc/busybox:pull\"",
			 f->port);
		http_resp_header(req, "WWW-Authenticate", ch);
		http_respond(req, 401, "application/json", "{\"errors\":[]}", 13);
		return;
	}
	char want[200];
	if (strcmp(path, "/v2/kc/busybox/manifests/1") == 0 ||
	    (snprintf(want, sizeof(want), "/v2/kc/busybox/manifests/%s", f->index_digest),
	     strcmp(path, want) == 0)) {
		const char *acc = http_req_header(req, "Accept");
		assert_non_null(acc);
		assert_non_null(strstr(acc, "application/vnd.oci.image.index.v1+json"));
		http_resp_header(req, "Docker-Content-Digest", f->index_digest);
		http_respond(req, 200, "application/vnd.oci.image.index.v1+json", f->index.buf,
			     f->index.len);
		return;
	}
	snprintf(want, sizeof(want), "/v2/kc/busybox/manifests/%s", f->im.manifest_digest);
	if (strcmp(path, want) == 0) {
		http_respond(req, 200, "application/vnd.oci.image.manifest.v1+json",
			     f->im.manifest.buf, f->im.manifest.len);
		return;
	}
	snprintf(want, sizeof(want), "/v2/kc/busybox/blobs/%s", f->im.config_digest);
	if (strcmp(path, want) == 0) {
		http_respond(req, 200, "application/octet-stream", f->im.config.buf,
			     f->im.config.len);
		return;
	}
	snprintf(want, sizeof(want), "/v2/kc/busybox/blobs/%s", f->im.layer_digest);
	if (strcmp(path, want) == 0) {
		/* "localhost" is another host than "127.0.0.1": no Authorization may follow */
		char loc[200];
		snprintf(loc, sizeof(loc), "http://localhost:%u/cdn/%s", f->port,
			 f->im.layer_digest);
		http_resp_header(req, "Location", loc);
		http_respond(req, 307, "text/plain", "", 0);
		return;
	}
	http_respond(req, 404, "application/json", "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}",
		     39);
}

static void *reg_thread(void *arg)
{
	struct fake_reg *f = arg;
	loop_run(f->l);
	http_server_close(f->srv);
	return NULL;
}

static void reg_start(struct fake_reg *f)
{
	simple_layer(&f->im.layer_tar, "pulled");
	img_build(&f->im, true, false, "pulled");
	kc_str_addf(
		&f->index,
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		"\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\","
		"\"size\":10,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\","
		"\"size\":%zu,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
		f->im.manifest_digest, f->im.manifest.len);
	tb_digest(f->index.buf, f->index.len, f->index_digest);
	f->l = loop_new(NULL);
	assert_non_null(f->l);
	struct http_server_config cfg = {
		.addr = "127.0.0.1", .handler = reg_handler, .handler_arg = f};
	struct kc_err err = {0};
	assert_int_equal(http_server_open(f->l, &cfg, &f->srv, &err), 0);
	f->port = http_server_port(f->srv);
	assert_int_equal(pthread_create(&f->th, NULL, reg_thread, f), 0);
}

static void reg_stop(struct fake_reg *f)
{
	loop_stop(f->l);
	pthread_join(f->th, NULL);
	loop_free(f->l);
	img_free(&f->im);
	kc_str_free(&f->index);
}

static void test_pull_token_auth(void **state)
{
	struct fake_reg f = {0};
	reg_start(&f);
	struct image_store_opts so = {.arch = "amd64"};
	char *dir = tpath("pull");
	struct image_store *s;
	struct kc_err err = {0};
	assert_int_equal(image_store_open(dir, &so, &s, &err), 0);
	char ref[128];
	snprintf(ref, sizeof(ref), "127.0.0.1:%u/kc/busybox:1", f.port);

	/* credentials required by the token service: anonymous fails */
	f.need_basic = true;
	struct image *img = NULL;
	assert_int_equal(image_pull(s, ref, NULL, &img, &err), -EACCES);
	assert_non_null(strstr(err.msg, "refused"));
	struct image_creds creds = {0};
	char key[64];
	snprintf(key, sizeof(key), "127.0.0.1:%u", f.port);
	image_creds_add(&creds, key, "bob", "pw");
	struct image_pull_opts po = {.creds = &creds};
	/* a corrupted layer from the CDN is caught */
	f.corrupt_layer = true;
	assert_int_equal(image_pull(s, ref, &po, &img, &err), -KC_ECRYPTO);
	assert_int_equal(count_images(s), 0);
	f.corrupt_layer = false;
	if (image_pull(s, ref, &po, &img, &err) != 0)
		fail_msg("pull: %s", err.msg);
	assert_string_equal(img->id, f.im.config_digest);
	assert_string_equal(img->cmd[0], "pulled");
	assert_int_equal(img->nnames, 2);
	image_free(img);
	assert_false(f.cdn_saw_auth);
	assert_true(f.cdn_calls >= 2);
	/* by repo digest (the index's), as the kubelet reports imageID */
	char byd[200];
	snprintf(byd, sizeof(byd), "127.0.0.1:%u/kc/busybox@%s", f.port, f.index_digest);
	assert_int_equal(image_lookup(s, byd, &img, &err), 0);
	image_free(img);
	/* Always: the layers are not fetched again */
	int cdn = f.cdn_calls;
	assert_int_equal(image_ensure(s, ref, IMAGE_PULL_ALWAYS, &po, &img, &err), 0);
	image_free(img);
	assert_int_equal(f.cdn_calls, cdn);
	/* IfNotPresent: no request at all */
	int tokens = f.token_calls;
	assert_int_equal(image_ensure(s, ref, IMAGE_PULL_IF_NOT_PRESENT, &po, &img, &err), 0);
	image_free(img);
	assert_int_equal(f.token_calls, tokens);
	/* Never, and a missing tag */
	char ref2[128];
	snprintf(ref2, sizeof(ref2), "127.0.0.1:%u/kc/busybox:2", f.port);
	assert_int_equal(image_ensure(s, ref2, IMAGE_PULL_NEVER, &po, &img, &err), -KC_ENOTFOUND);
	assert_non_null(strstr(err.msg, "ErrImageNeverPull"));
	assert_int_equal(image_ensure(s, ref2, IMAGE_PULL_IF_NOT_PRESENT, &po, &img, &err),
			 -KC_ENOTFOUND);
	assert_null(img);
	/* another platform than the index has */
	image_store_close(s);
	struct image_store_opts so2 = {.arch = "s390x"};
	char *dir2 = tpath("pull2");
	assert_int_equal(image_store_open(dir2, &so2, &s, &err), 0);
	assert_int_equal(image_pull(s, ref, &po, NULL, &err), -KC_ENOTFOUND);
	assert_non_null(strstr(err.msg, "linux/s390x"));
	image_store_close(s);
	image_creds_free(&creds);
	free(dir);
	free(dir2);
	reg_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_pull_policy),
		cmocka_unit_test(test_creds),
		cmocka_unit_test_setup_teardown(test_import_oci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_docker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_layers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_imports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_refresh_remove_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pull_token_auth, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
