/* imagectl.c - `kc image`, the image store's command-line client.
 *
 * DESIGN: a thin CLI over runtime/image.h, working on DATA/images directly: the store is safe
 * for several processes, so this works beside a running server, which sees imports at once.
 * Output follows crictl/docker (REPOSITORY TAG IMAGE ID SIZE; "Loaded image: ..."). Single
 * threaded; errors are one line on stderr. */
#include "roles/imagectl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "runtime/image.h"

#define MAX_ARGS 64

static int usage(const char *why)
{
	fprintf(stderr,
		"kc image: %s (usage: kc image import FILE... | ls [-q] | rm REF... | pull REF "
		"[--creds USER:PASSWORD] [--auth-file DOCKERCONFIG] [--insecure-registry HOST] | "
		"inspect REF; each takes [--data-dir DIR])\n",
		why);
	return 2;
}

/* Sizes as crictl prints them: three significant digits, decimal units. */
static void human_size(uint64_t n, char *out, size_t cap)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	snprintf(out, cap, "%.3g%s", v, units[u]);
}

static int fail(const char *what, const struct kc_err *err)
{
	fprintf(stderr, "kc image %s: %s\n", what, err->msg[0] ? err->msg : kc_strerror(err->code));
	return 1;
}

static int cmd_import(struct image_store *s, char **files, size_t n)
{
	if (n == 0)
		return usage("import needs a FILE");
	for (size_t i = 0; i < n; i++) {
		struct kc_err err = {0};
		char **names = NULL;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (image_import_file(s, files[i], &names, &err) < 0)
			return fail("import", &err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		for (char **p = names; p && *p; p++)
			printf("Loaded image: %s\n", *p);
		double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		fprintf(stderr, "imported %s in %.0f ms\n", files[i], ms);
		image_strv_free(names);
	}
	return 0;
}

/* Splits "repo:tag" / "repo@digest" for the table. */
static void split_name(const char *name, char *repo, size_t rcap, char *tag, size_t tcap)
{
	const char *at = strchr(name, '@');
	const char *slash = strrchr(name, '/');
	const char *colon = strrchr(name, ':');
	if (at) {
		snprintf(repo, rcap, "%.*s", (int)(at - name), name);
		snprintf(tag, tcap, "<none>");
	} else if (colon && (!slash || colon > slash)) {
		snprintf(repo, rcap, "%.*s", (int)(colon - name), name);
		snprintf(tag, tcap, "%s", colon + 1);
	} else {
		snprintf(repo, rcap, "%s", name);
		snprintf(tag, tcap, "<none>");
	}
}

static int cmd_ls(struct image_store *s, bool quiet)
{
	struct kc_err err = {0};
	struct image **imgs;
	size_t n;
	if (image_list(s, &imgs, &n, &err) < 0)
		return fail("ls", &err);
	if (!quiet)
		printf("%-50s %-20s %-15s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "SIZE");
	for (size_t i = 0; i < n; i++) {
		struct image *im = imgs[i];
		char id[16], size[32];
		snprintf(id, sizeof(id), "%.13s", im->id + 7);
		human_size(im->size, size, sizeof(size));
		if (quiet) {
			printf("%s\n", im->id);
			continue;
		}
		bool any = false;
		for (size_t j = 0; j < im->nnames; j++) {
			if (strchr(im->names[j], '@'))
				continue;
			char repo[600], tag[160];
			split_name(im->names[j], repo, sizeof(repo), tag, sizeof(tag));
			printf("%-50s %-20s %-15s %s\n", repo, tag, id, size);
			any = true;
		}
		if (!any) {
			char repo[600] = "<none>", tag[160] = "<none>";
			if (im->nnames)
				split_name(im->names[0], repo, sizeof(repo), tag, sizeof(tag));
			printf("%-50s %-20s %-15s %s\n", repo, tag, id, size);
		}
	}
	image_list_free(imgs, n);
	return 0;
}

static int cmd_rm(struct image_store *s, char **refs, size_t n)
{
	if (n == 0)
		return usage("rm needs a REF");
	int status = 0;
	for (size_t i = 0; i < n; i++) {
		struct kc_err err = {0};
		if (image_remove(s, refs[i], &err) < 0) {
			fail("rm", &err);
			status = 1;
			continue;
		}
		printf("Deleted: %s\n", refs[i]);
	}
	return status;
}

static void write_strv(struct kc_str *o, const char *key, char **v, size_t n, bool comma)
{
	kc_str_addf(o, "%s\n  ", comma ? "," : "");
	kc_json_write_string(o, key);
	kc_str_adds(o, ": [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			kc_str_adds(o, ", ");
		kc_json_write_string(o, v[i]);
	}
	kc_str_adds(o, "]");
}

static void write_kv(struct kc_str *o, const char *key, const char *v)
{
	kc_str_adds(o, ",\n  ");
	kc_json_write_string(o, key);
	kc_str_adds(o, ": ");
	kc_json_write_string(o, v);
}

static int cmd_inspect(struct image_store *s, const char *ref)
{
	struct kc_err err = {0};
	struct image *im;
	if (image_lookup(s, ref, &im, &err) < 0)
		return fail("inspect", &err);
	struct kc_str o = KC_STR_INIT;
	kc_str_adds(&o, "{\n  \"id\": ");
	kc_json_write_string(&o, im->id);
	write_kv(&o, "digest", im->digest);
	write_strv(&o, "names", im->names, im->nnames, true);
	kc_str_addf(&o, ",\n  \"size\": %" PRIu64, im->size);
	write_strv(&o, "entrypoint", im->entrypoint, im->nentrypoint, true);
	write_strv(&o, "cmd", im->cmd, im->ncmd, true);
	write_strv(&o, "env", im->env, im->nenv, true);
	write_kv(&o, "workingDir", im->working_dir);
	write_kv(&o, "user", im->user);
	write_kv(&o, "stopSignal", im->stop_signal);
	write_strv(&o, "exposedPorts", im->exposed_ports, im->nexposed_ports, true);
	write_strv(&o, "diffIDs", im->diff_ids, im->nlayers, true);
	write_strv(&o, "layerDirs", im->layer_dirs, im->nlayers, true);
	kc_str_adds(&o, "\n}\n");
	fputs(o.buf, stdout);
	kc_str_free(&o);
	image_free(im);
	return 0;
}

struct pull_args {
	const char *creds, *auth_file;
};

static int cmd_pull(struct image_store *s, const char *ref, const struct pull_args *a)
{
	struct kc_err err = {0};
	struct image_creds creds = {0};
	int status = 0;
	struct image_ref r;
	if (image_ref_parse(ref, &r, &err) < 0) {
		fprintf(stderr, "kc image pull: %s\n", err.msg);
		return 2;
	}
	if (a->auth_file) {
		unsigned char *buf;
		size_t len;
		int rc = kc_read_file(a->auth_file, 1u << 20, &buf, &len, &err);
		if (rc == 0) {
			rc = image_creds_add_dockerconfig(&creds, (char *)buf, len, &err);
			explicit_bzero(buf, len);
			free(buf);
		}
		if (rc < 0) {
			image_creds_free(&creds);
			return fail("pull", &err);
		}
	}
	if (a->creds) {
		const char *c = strchr(a->creds, ':');
		if (!c) {
			image_creds_free(&creds);
			return usage("--creds wants USER:PASSWORD");
		}
		char *user = xstrndup(a->creds, (size_t)(c - a->creds));
		image_creds_add(&creds, r.domain, user, c + 1);
		free(user);
	}
	struct image_pull_opts po = {.creds = &creds};
	struct image *im = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (image_pull(s, ref, &po, &im, &err) < 0) {
		status = fail("pull", &err);
	} else {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		printf("Image is up to date for %s\n", im->id);
		fprintf(stderr, "pulled %s in %.0f ms\n", r.full, ms);
	}
	image_free(im);
	image_creds_free(&creds);
	return status;
}

int kc_imagectl_main(int argc, char **argv)
{
	const char *data_dir = "/var/lib/kc";
	char *pos[MAX_ARGS];
	size_t npos = 0;
	bool quiet = false;
	struct pull_args pa = {0};
	const char *insecure[16];
	size_t ninsecure = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		const char *flags[] = {"--data-dir", "--creds", "--auth-file",
				       "--insecure-registry"};
		int which = -1;
		for (int f = 0; f < 4; f++) {
			size_t fl = strlen(flags[f]);
			if (strncmp(a, flags[f], fl) == 0 && (a[fl] == 0 || a[fl] == '=')) {
				which = f;
				if (a[fl] == '=') {
					v = a + fl + 1;
				} else {
					if (i + 1 >= argc) {
						char msg[80];
						snprintf(msg, sizeof(msg), "%s needs a value",
							 flags[f]);
						return usage(msg);
					}
					v = argv[++i];
				}
			}
		}
		if (which == 0)
			data_dir = v;
		else if (which == 1)
			pa.creds = v;
		else if (which == 2)
			pa.auth_file = v;
		else if (which == 3) {
			if (ninsecure == 16)
				return usage("too many --insecure-registry flags");
			insecure[ninsecure++] = v;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
			quiet = true;
		else if (a[0] == '-' && a[1]) {
			char msg[160];
			snprintf(msg, sizeof(msg), "unknown flag \"%.100s\"", a);
			return usage(msg);
		} else if (npos == MAX_ARGS)
			return usage("too many arguments");
		else
			pos[npos++] = argv[i];
	}
	if (npos == 0)
		return usage("missing command");
	const char *cmd = pos[0];
	if (!data_dir[0])
		return usage("--data-dir is empty");
	bool known = strcmp(cmd, "import") == 0 || strcmp(cmd, "ls") == 0 ||
		     strcmp(cmd, "list") == 0 || strcmp(cmd, "rm") == 0 ||
		     strcmp(cmd, "pull") == 0 || strcmp(cmd, "inspect") == 0;
	if (!known) {
		char msg[160];
		snprintf(msg, sizeof(msg), "unknown command \"%.100s\"", cmd);
		return usage(msg);
	}
	if ((strcmp(cmd, "pull") == 0 || strcmp(cmd, "inspect") == 0) && npos != 2)
		return usage(strcmp(cmd, "pull") == 0 ? "pull takes one REF"
						      : "inspect takes one REF");
	if ((strcmp(cmd, "ls") == 0 || strcmp(cmd, "list") == 0) && npos != 1)
		return usage("ls takes no arguments");
	struct image_store_opts so = {.insecure_registries = insecure, .ninsecure = ninsecure};
	struct image_store *s;
	struct kc_err err = {0};
	if (image_store_open(data_dir, &so, &s, &err) < 0) {
		fprintf(stderr, "kc image: %s\n", err.msg);
		return 1;
	}
	int rc;
	if (strcmp(cmd, "import") == 0)
		rc = cmd_import(s, pos + 1, npos - 1);
	else if (strcmp(cmd, "rm") == 0)
		rc = cmd_rm(s, pos + 1, npos - 1);
	else if (strcmp(cmd, "pull") == 0)
		rc = cmd_pull(s, pos[1], &pa);
	else if (strcmp(cmd, "inspect") == 0)
		rc = cmd_inspect(s, pos[1]);
	else
		rc = cmd_ls(s, quiet);
	image_store_close(s);
	return rc;
}
