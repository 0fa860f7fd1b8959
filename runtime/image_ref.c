/* image_ref.c - image references, pull policies and registry credentials.
 *
 * DESIGN: pure functions over strings, no I/O, safe from any thread. The reference grammar is
 * the distribution/reference one that Kubernetes, containerd and docker share; normalization
 * follows ParseDockerRef (docker.io default domain, library/ for one-component names, :latest
 * when nothing is given, a tag beside a digest dropped). Credential matching follows the
 * kubelet's keyring (credentialprovider.BasicDockerKeyring). */
#include "runtime/image.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/str.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		/* separator */
		size_t start = i;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == start || i == n || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

static bool valid_domain(const char *s, size_t n)
{
	if (n == 0)
		return false;
	size_t i = 0;
	if (s[0] == '[') {
		/* [ipv6] */
		const char *close = memchr(s, ']', n);
		if (!close || close == s + 1)
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
		i = (size_t)(close - s) + 1;
	} else {
		/* labels [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? joined by '.' */
		size_t label = 0;
		char prev = 0;
		for (; i < n && s[i] != ':'; i++) {
			char c = s[i];
			if (isalnum((unsigned char)c)) {
				label++;
			} else if (c == '-') {
				if (label == 0)
					return false;
				label++;
			} else if (c == '.') {
				if (label == 0 || prev == '-')
					return false;
				label = 0;
			} else {
				return false;
			}
			prev = c;
		}
		if (label == 0 || prev == '-')
			return false;
	}
	if (i < n) {
		if (s[i] != ':' || i + 1 == n)
			return false;
		for (i++; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
	}
	return true;
}

static bool valid_tag(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool w = isalnum((unsigned char)c) || c == '_';
		if (!(w || (i > 0 && (c == '.' || c == '-'))))
			return false;
	}
	return true;
}

static bool valid_digest(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int image_ref_parse(const char *s, struct image_ref *out, struct kc_err *err)
{
	memset(out, 0, sizeof(*out));
	size_t len = strlen(s);
	if (len == 0)
		return kc_err_set(err, -KC_EINVAL, "invalid reference format: empty image name");
	if (len > IMAGE_REF_MAX)
		return kc_err_set(err, -KC_EINVAL,
				  "invalid reference format: longer than %d characters",
				  IMAGE_REF_MAX);
	char buf[IMAGE_REF_MAX + 1];
	memcpy(buf, s, len + 1);
	char *at = strchr(buf, '@');
	if (at) {
		*at = 0;
		if (!valid_digest(at + 1))
			return kc_err_set(err, -KC_EINVAL,
					  "invalid reference format: bad digest in \"%.200s\" "
					  "(sha256:<64 lowercase hex> expected)",
					  s);
		snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
	}
	char *slash = strrchr(buf, '/');
	char *colon = strrchr(buf, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = 0;
		if (!valid_tag(colon + 1))
			return kc_err_set(err, -KC_EINVAL,
					  "invalid reference format: bad tag in \"%.200s\"", s);
		snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
		out->had_tag = true;
	}
	const char *name = buf;
	if (!*name)
		return kc_err_set(err, -KC_EINVAL, "invalid reference format: \"%.200s\"", s);
	/* a bare 64-hex string is an image id, not a name */
	if (!at && !out->had_tag && strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64)
		return kc_err_set(err, -KC_EINVAL,
				  "invalid reference format: repository name must not be "
				  "a 64-byte hexadecimal string");
	const char *first = strchr(name, '/');
	const char *path;
	if (first) {
		size_t dl = (size_t)(first - name);
		bool has_upper = false;
		for (size_t i = 0; i < dl; i++)
			if (isupper((unsigned char)name[i]))
				has_upper = true;
		bool is_domain = memchr(name, '.', dl) || memchr(name, ':', dl) ||
				 (dl == 9 && memcmp(name, "localhost", 9) == 0) || has_upper;
		if (is_domain) {
			if (!valid_domain(name, dl) || dl >= sizeof(out->domain))
				return kc_err_set(err, -KC_EINVAL,
						  "invalid reference format: bad registry "
						  "host in \"%.200s\"",
						  s);
			memcpy(out->domain, name, dl);
			path = first + 1;
		} else {
			snprintf(out->domain, sizeof(out->domain), "docker.io");
			path = name;
		}
	} else {
		snprintf(out->domain, sizeof(out->domain), "docker.io");
		path = name;
	}
	if (strcmp(out->domain, "index.docker.io") == 0)
		snprintf(out->domain, sizeof(out->domain), "docker.io");
	if (strcmp(out->domain, "docker.io") == 0 && !strchr(path, '/'))
		snprintf(out->path, sizeof(out->path), "library/%s", path);
	else if (strlen(path) < sizeof(out->path))
		snprintf(out->path, sizeof(out->path), "%s", path);
	else
		return kc_err_set(err, -KC_EINVAL,
				  "invalid reference format: repository name too long");
	/* components */
	const char *p = out->path;
	for (;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (!valid_component(p, n)) {
			for (size_t i = 0; i < n; i++)
				if (isupper((unsigned char)p[i]))
					return kc_err_set(err, -KC_EINVAL,
							  "invalid reference format: "
							  "repository name must be lowercase");
			return kc_err_set(err, -KC_EINVAL, "invalid reference format: \"%.200s\"",
					  s);
		}
		if (!e)
			break;
		p = e + 1;
	}
	snprintf(out->repo, sizeof(out->repo), "%s/%s", out->domain, out->path);
	if (strlen(out->repo) > 255)
		return kc_err_set(err, -KC_EINVAL,
				  "invalid reference format: repository name must not be "
				  "more than 255 characters");
	if (!out->had_tag && !out->digest[0])
		snprintf(out->tag, sizeof(out->tag), "latest");
	if (out->digest[0])
		snprintf(out->full, sizeof(out->full), "%s@%s", out->repo, out->digest);
	else
		snprintf(out->full, sizeof(out->full), "%s:%s", out->repo, out->tag);
	return 0;
}

enum image_pull_policy image_default_pull_policy(const char *image)
{
	struct image_ref r;
	if (image_ref_parse(image, &r, NULL) < 0)
		return IMAGE_PULL_IF_NOT_PRESENT;
	if (r.had_tag ? strcmp(r.tag, "latest") == 0 : r.digest[0] == 0)
		return IMAGE_PULL_ALWAYS;
	return IMAGE_PULL_IF_NOT_PRESENT;
}

int image_pull_policy_parse(const char *s, enum image_pull_policy *out)
{
	if (strcmp(s, "Always") == 0)
		*out = IMAGE_PULL_ALWAYS;
	else if (strcmp(s, "IfNotPresent") == 0)
		*out = IMAGE_PULL_IF_NOT_PRESENT;
	else if (strcmp(s, "Never") == 0)
		*out = IMAGE_PULL_NEVER;
	else
		return -KC_EINVAL;
	return 0;
}

/* ---- credentials ---- */

void image_creds_add(struct image_creds *c, const char *server, const char *user,
		     const char *password)
{
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n].server = xstrdup(server);
	c->v[c->n].username = xstrdup(user ? user : "");
	c->v[c->n].password = xstrdup(password ? password : "");
	c->n++;
}

void image_creds_free(struct image_creds *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].server);
		free(c->v[i].username);
		if (c->v[i].password) {
			explicit_bzero(c->v[i].password, strlen(c->v[i].password));
			free(c->v[i].password);
		}
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

int image_creds_add_dockerconfig(struct image_creds *creds, const char *json, size_t len,
				 struct kc_err *err)
{
	struct kc_json_limits lim = {.max_bytes = 1u << 20, .max_depth = 8};
	cJSON *root = NULL;
	int rc = kc_json_parse(json, len, &lim, &root, err);
	if (rc < 0)
		return kc_err_wrap(err, "docker config");
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return kc_err_set(err, -KC_EPARSE, "docker config: not an object");
	}
	const cJSON *auths = cJSON_GetObjectItemCaseSensitive(root, "auths");
	if (!auths)
		auths = root; /* legacy .dockercfg */
	if (!cJSON_IsObject(auths)) {
		cJSON_Delete(root);
		return kc_err_set(err, -KC_EPARSE, "docker config: \"auths\" is not an object");
	}
	struct image_creds tmp = {0};
	const cJSON *e;
	cJSON_ArrayForEach(e, auths)
	{
		if (!cJSON_IsObject(e)) {
			rc = kc_err_set(err, -KC_EPARSE,
					"docker config: entry \"%.100s\" is not an object",
					e->string);
			break;
		}
		const char *user = kc_json_get_str(e, "username");
		const char *pass = kc_json_get_str(e, "password");
		const char *auth = kc_json_get_str(e, "auth");
		struct kc_str dec = KC_STR_INIT;
		if (auth && *auth) {
			if (kc_base64_decode(&dec, auth, strlen(auth), KC_B64_STD, err) < 0) {
				rc = kc_err_wrap(err, "docker config: \"auth\" of \"%.100s\"",
						 e->string);
				break;
			}
			char *c = memchr(dec.buf, ':', dec.len);
			if (!c) {
				kc_str_free(&dec);
				rc = kc_err_set(
					err, -KC_EPARSE,
					"docker config: \"auth\" of \"%.100s\" is not user:password",
					e->string);
				break;
			}
			*c = 0;
			user = dec.buf;
			pass = c + 1;
		}
		image_creds_add(&tmp, e->string, user, pass);
		if (dec.len)
			explicit_bzero(dec.buf, dec.len);
		kc_str_free(&dec);
	}
	cJSON_Delete(root);
	if (rc < 0) {
		image_creds_free(&tmp);
		return rc;
	}
	for (size_t i = 0; i < tmp.n; i++) {
		creds->v = xrealloc(creds->v, (creds->n + 1) * sizeof(*creds->v));
		creds->v[creds->n++] = tmp.v[i];
	}
	free(tmp.v);
	return 0;
}

static bool is_docker_hub(const char *host)
{
	return strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0 ||
	       strcmp(host, "registry-1.docker.io") == 0;
}

/* Splits a credential key into host[:port] and path (both lower-cased host, path as is). */
static void split_key(const char *key, char *host, size_t hcap, char *path, size_t pcap)
{
	const char *k = key;
	if (kc_has_prefix(k, "https://"))
		k += 8;
	else if (kc_has_prefix(k, "http://"))
		k += 7;
	const char *slash = strchr(k, '/');
	size_t hl = slash ? (size_t)(slash - k) : strlen(k);
	snprintf(host, hcap, "%.*s", (int)hl, k);
	for (char *h = host; *h; h++)
		*h = (char)tolower((unsigned char)*h);
	snprintf(path, pcap, "%s", slash ? slash + 1 : "");
	/* drop the API version suffix ("/v1/", "/v2/") and trailing slashes */
	size_t pl = strlen(path);
	while (pl && path[pl - 1] == '/')
		path[--pl] = 0;
	if (strcmp(path, "v1") == 0 || strcmp(path, "v2") == 0)
		path[0] = 0;
}

/* One host label against a glob label ('*' any run, '?' one character), as Go's path.Match
 * does for the kubelet's keyring (character classes are not used in practice). */
static bool label_match(const char *p, const char *s)
{
	/* greedy with one backtrack point: O(len(p) * len(s)) */
	const char *star = NULL, *mark = NULL;
	while (*s) {
		if (*p == '*') {
			star = p++;
			mark = s;
		} else if (*p && (*p == '?' ||
				  tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == 0;
}

static bool host_matches(const char *pattern, const char *host)
{
	if (is_docker_hub(pattern) && is_docker_hub(host))
		return true;
	/* ports must agree; labels are globbed one by one */
	const char *pp = strchr(pattern, ':'), *hp = strchr(host, ':');
	if ((pp == NULL) != (hp == NULL) || (pp && strcmp(pp, hp) != 0))
		return false;
	size_t pl = pp ? (size_t)(pp - pattern) : strlen(pattern);
	size_t hl = hp ? (size_t)(hp - host) : strlen(host);
	char pb[256], hb[256];
	if (pl >= sizeof(pb) || hl >= sizeof(hb))
		return false;
	memcpy(pb, pattern, pl);
	pb[pl] = 0;
	memcpy(hb, host, hl);
	hb[hl] = 0;
	char *ps = NULL, *hs = NULL;
	char *pt = strtok_r(pb, ".", &ps), *ht = strtok_r(hb, ".", &hs);
	while (pt && ht) {
		if (!label_match(pt, ht))
			return false;
		pt = strtok_r(NULL, ".", &ps);
		ht = strtok_r(NULL, ".", &hs);
	}
	return pt == NULL && ht == NULL;
}

size_t image_creds_match(const struct image_creds *creds, const char *repo,
			 const struct image_cred **out, size_t max)
{
	if (!creds)
		return 0;
	const char *slash = strchr(repo, '/');
	char host[256];
	snprintf(host, sizeof(host), "%.*s", (int)(slash ? slash - repo : (long)strlen(repo)),
		 repo);
	const char *rpath = slash ? slash + 1 : "";
	size_t n = 0;
	for (size_t i = 0; i < creds->n && n < max; i++) {
		char kh[256], kp[512];
		split_key(creds->v[i].server, kh, sizeof(kh), kp, sizeof(kp));
		if (!host_matches(kh, host))
			continue;
		size_t kpl = strlen(kp);
		if (kpl &&
		    !(strncmp(rpath, kp, kpl) == 0 && (rpath[kpl] == 0 || rpath[kpl] == '/')))
			continue;
		out[n++] = &creds->v[i];
	}
	/* most specific (longest key) first, stable */
	for (size_t i = 1; i < n; i++) {
		const struct image_cred *c = out[i];
		size_t j = i;
		while (j > 0 && strlen(out[j - 1]->server) < strlen(c->server)) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = c;
	}
	return n;
}
