/* patch.c - JSON patch (RFC 6902), JSON merge patch (RFC 7386) and Kubernetes strategic merge
 * patch on cJSON trees.
 *
 * DESIGN
 * Pure functions over trees the caller owns; no state outlives a call, so any thread may patch
 * concurrently (the schema graph is immutable and only read). JSON patch and strategic merge
 * patch work on a deep copy of the document and swap it in only on success, so an error leaves
 * *doc as it was; a merge patch cannot fail once its depth has been checked and is applied in
 * place.
 *
 * JSON patch follows what the Kubernetes API server does (evanphx/json-patch v4): pointers with
 * ~1 then ~0 unescaped, "-" appends, array indexes parsed like Go's strconv.Atoi and negative
 * indexes counted from the end, a missing "value" taken as null, 'test' treating an absent member
 * as null; the root itself cannot be a target. Two limits keep hostile patches cheap: the
 * document never nests deeper than KC_JSON_DEPTH_CAP (an upper bound is tracked per operation
 * and checked exactly only when it crosses the cap) and 'copy' may copy at most COPY_BUDGET
 * nodes in total.
 *
 * Strategic merge patch follows k8s.io/apimachinery/pkg/util/strategicpatch (mergeMap,
 * mergeSlice, normalizeElementOrder) with the same results, including the order of merged lists
 * (patch items in patch or $setElementOrder order, interleaved with server-only items by their
 * live position; a patch item new to the list lands before the server-only items that follow the
 * last matched one). It differs on purpose where Kubernetes relies on the later typed decoding to
 * drop what it left behind: a value with no counterpart in the document is merged into an empty
 * one instead of being copied, so directives and nulls inside it are applied and never stored;
 * $deleteFromPrimitiveList removes values whatever the field's strategy (Kubernetes replaces a
 * non-merge list with the values to delete); and an unknown "$..." key of a described struct is
 * an error. Merged lists are indexed by merge key in hash maps, so merging is linear in the
 * lengths of the list and the patch.
 */
#include "roles/apiserver/patch.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/map.h"
#include "lib/str.h"

#define MAX_OPS	 10000
#define MAX_PATH 1024
/* Nodes all 'copy' operations of one patch may create together (each about 64 bytes). */
#define COPY_BUDGET ((size_t)1 << 20)
/* Objects with fewer members are searched linearly. */
#define INDEX_MIN_MEMBERS 32

#define DIRECTIVE	 "$patch"
#define RETAIN_KEYS	 "$retainKeys"
#define SET_ORDER	 "$setElementOrder"
#define DELETE_PRIMITIVE "$deleteFromPrimitiveList"

/* ------------------------------------------------------------------------------------------ */
/* tree helpers */

static bool is_obj(const cJSON *v)
{
	return v && cJSON_IsObject(v);
}

static bool is_arr(const cJSON *v)
{
	return v && cJSON_IsArray(v);
}

static cJSON *member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static bool str_is(const cJSON *v, const char *s)
{
	return v && cJSON_IsString(v) && v->valuestring && strcmp(v->valuestring, s) == 0;
}

/* Gives v the member name key (none when NULL), releasing the one it had. */
static void set_key(cJSON *v, const char *key)
{
	if (v->string && !(v->type & cJSON_StringIsConst))
		free(v->string);
	v->string = key ? xstrdup(key) : NULL;
	v->type &= ~cJSON_StringIsConst;
}

/* A deep copy of v without v's member name. */
static cJSON *copy_value(const cJSON *v)
{
	cJSON *c = kc_json_dup(v);
	set_key(c, NULL);
	return c;
}

/* Puts v (detached) where old is in parent, with old's member name, and frees old. */
static void replace_node(cJSON *parent, cJSON *old, cJSON *v)
{
	set_key(v, old->string);
	cJSON_ReplaceItemViaPointer(parent, old, v);
}

static void clear_children(cJSON *c)
{
	cJSON *ch = c->child;
	c->child = NULL;
	cJSON_Delete(ch);
}

/* Nesting depth of v (a scalar is 0, [] is 1), computed no further than limit + 1. */
static unsigned depth_of(const cJSON *v, unsigned limit)
{
	if (!v || !(cJSON_IsObject(v) || cJSON_IsArray(v)))
		return 0;
	unsigned max = 0;
	if (limit == 0)
		return 1;
	for (const cJSON *c = v->child; c && max < limit; c = c->next) {
		unsigned d = depth_of(c, limit - 1);
		if (d > max)
			max = d;
	}
	return max + 1;
}

/* Number of nodes in v, counted no further than limit + 1. */
static size_t count_nodes(const cJSON *v, size_t limit)
{
	size_t n = 1;
	for (const cJSON *c = v->child; c && n <= limit; c = c->next)
		n += count_nodes(c, limit - n);
	return n;
}

struct nodevec {
	cJSON **v;
	size_t n, cap;
};

static void nv_push(struct nodevec *nv, cJSON *x)
{
	if (nv->n == nv->cap) {
		nv->cap = kc_grow_cap(nv->cap, nv->n + 1, sizeof *nv->v);
		nv->v = xrealloc(nv->v, nv->cap * sizeof *nv->v);
	}
	nv->v[nv->n++] = x;
}

/* Frees the vector and every node still in it. */
static void nv_free(struct nodevec *nv)
{
	for (size_t i = 0; i < nv->n; i++)
		cJSON_Delete(nv->v[i]);
	free(nv->v);
	*nv = (struct nodevec){0};
}

/* Detaches every child of container c into nv (appending). */
static void take_children(cJSON *c, struct nodevec *nv)
{
	cJSON *ch = c->child;
	c->child = NULL;
	while (ch) {
		cJSON *next = ch->next;
		ch->next = ch->prev = NULL;
		nv_push(nv, ch);
		ch = next;
	}
}

/* Makes items[0..n) the children of the empty container c (cJSON keeps the tail in
 * child->prev). */
static void put_children(cJSON *c, cJSON **items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		items[i]->prev = i ? items[i - 1] : items[n - 1];
		items[i]->next = i + 1 < n ? items[i + 1] : NULL;
	}
	c->child = n ? items[0] : NULL;
}

/* Member lookup with a hash index on large objects. */
struct omap {
	cJSON *obj;
	struct kc_map idx;
	bool indexed;
};

static void omap_init(struct omap *m, cJSON *obj, size_t lookups)
{
	m->obj = obj;
	m->indexed = false;
	kc_map_init(&m->idx, NULL);
	if (lookups < 4)
		return;
	size_t n = 0;
	for (cJSON *c = obj->child; c && n < INDEX_MIN_MEMBERS; c = c->next)
		n++;
	if (n < INDEX_MIN_MEMBERS)
		return;
	m->indexed = true;
	for (cJSON *c = obj->child; c; c = c->next)
		if (c->string && !kc_map_sget(&m->idx, c->string))
			kc_map_sput(&m->idx, c->string, c);
}

static void omap_free(struct omap *m)
{
	kc_map_free(&m->idx);
}

static cJSON *omap_get(const struct omap *m, const char *key)
{
	return m->indexed ? kc_map_sget(&m->idx, key) : member(m->obj, key);
}

static void omap_remove(struct omap *m, cJSON *c)
{
	if (m->indexed)
		kc_map_sdel(&m->idx, c->string);
	cJSON_Delete(cJSON_DetachItemViaPointer(m->obj, c));
}

/* Stores v (detached) under key: in cur's place when cur (the present member) is not NULL. */
static void omap_put(struct omap *m, cJSON *cur, const char *key, cJSON *v)
{
	if (cur)
		replace_node(m->obj, cur, v);
	else
		kc_json_add(m->obj, key, v);
	if (m->indexed)
		kc_map_sput(&m->idx, key, v);
}

/* ------------------------------------------------------------------------------------------ */
/* JSON merge patch (RFC 7386) */

static void merge_rfc(cJSON *target, const cJSON *patch)
{
	size_t n = 0;
	for (const cJSON *p = patch->child; p; p = p->next)
		n++;
	struct omap om;
	omap_init(&om, target, n);
	for (const cJSON *p = patch->child; p; p = p->next) {
		cJSON *cur = omap_get(&om, p->string);
		if (cJSON_IsNull(p)) {
			if (cur)
				omap_remove(&om, cur);
		} else if (is_obj(p) && is_obj(cur)) {
			merge_rfc(cur, p);
		} else if (is_obj(p)) {
			cJSON *v = kc_json_new_object();
			merge_rfc(v, p);
			omap_put(&om, cur, p->string, v);
		} else {
			omap_put(&om, cur, p->string, copy_value(p));
		}
	}
	omap_free(&om);
}

int patch_merge(cJSON **doc, const cJSON *patch, struct kc_err *err)
{
	if (depth_of(patch, KC_JSON_DEPTH_CAP) > KC_JSON_DEPTH_CAP)
		return kc_err_set(err, -KC_EINVAL, "merge patch: nested deeper than %u levels",
				  KC_JSON_DEPTH_CAP);
	if (!is_obj(patch)) {
		cJSON_Delete(*doc);
		*doc = copy_value(patch);
		return 0;
	}
	if (!is_obj(*doc)) {
		cJSON_Delete(*doc);
		*doc = kc_json_new_object();
	}
	merge_rfc(*doc, patch);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON patch (RFC 6902) */

struct jp {
	cJSON *root;	/* the working copy */
	unsigned depth; /* an upper bound on root's nesting depth, <= KC_JSON_DEPTH_CAP */
	size_t copied;	/* nodes created by 'copy' so far */
	size_t index;	/* of the operation being applied */
	const char *op; /* its name */
	const char *path;
	struct kc_err *err;
};

/* A JSON pointer split into unescaped segments, stored one after the other NUL-terminated. */
struct jptr {
	char buf[MAX_PATH + 1];
	size_t nseg;
	const char *last;
};

static int jp_fail(const struct jp *j, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int jp_fail(const struct jp *j, int code, const char *fmt, ...)
{
	char detail[160], path[72];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	kc_excerpt(path, sizeof path, j->path ? j->path : "", j->path ? strlen(j->path) : 0);
	return kc_err_set(j->err, code, "json patch operation %zu (%s \"%s\"): %s", j->index,
			  j->op ? j->op : "?", path, detail);
}

/* Replaces each "~c" of s[0..n) with 'to', left to right; returns the new length. */
static size_t unescape(char *s, size_t n, char c, char to)
{
	size_t w = 0;
	for (size_t r = 0; r < n; r++) {
		if (s[r] == '~' && r + 1 < n && s[r + 1] == c) {
			s[w++] = to;
			r++;
		} else {
			s[w++] = s[r];
		}
	}
	return w;
}

static int jp_parse(const struct jp *j, const char *what, const char *text, struct jptr *p)
{
	size_t len = strlen(text);
	if (len > MAX_PATH)
		return jp_fail(j, -KC_EINVAL, "%s is longer than %d bytes", what, MAX_PATH);
	if (len == 0)
		return jp_fail(j, -KC_EINVAL, "%s \"\" (the whole document) cannot be a target",
			       what);
	if (text[0] != '/')
		return jp_fail(j, -KC_EINVAL, "%s must start with '/'", what);
	size_t w = 0;
	p->nseg = 0;
	const char *s = text;
	while (*s == '/') {
		s++;
		size_t n = strcspn(s, "/");
		char *seg = p->buf + w;
		memcpy(seg, s, n);
		n = unescape(seg, n, '1', '/');
		n = unescape(seg, n, '0', '~');
		seg[n] = '\0';
		p->last = seg;
		w += n + 1;
		p->nseg++;
		s += strcspn(s, "/");
	}
	return 0;
}

/* An array index as Go's strconv.Atoi reads it: optional sign, decimal digits. */
static bool parse_index(const char *s, long long *out)
{
	bool neg = false;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!*s)
		return false;
	long long v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (LLONG_MAX - 9) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return true;
}

static size_t array_size(const cJSON *a)
{
	size_t n = 0;
	for (const cJSON *c = a->child; c; c = c->next)
		n++;
	return n;
}

static cJSON *array_at(const cJSON *a, size_t i)
{
	cJSON *c = a->child;
	while (c && i--)
		c = c->next;
	return c;
}

/* An existing element index of array a for seg (negative counts from the end), or -1. */
static long long element_index(const cJSON *a, const char *seg)
{
	long long i, n = (long long)array_size(a);
	if (!parse_index(seg, &i))
		return -1;
	if (i < 0) {
		if (i < -n)
			return -1;
		i += n;
	}
	return i < n ? i : -1;
}

static cJSON *child_at(const cJSON *c, const char *seg)
{
	if (is_obj(c))
		return member(c, seg);
	if (is_arr(c)) {
		long long i = element_index(c, seg);
		return i < 0 ? NULL : array_at(c, (size_t)i);
	}
	return NULL;
}

/* The container holding p's last segment, or NULL when a step is missing. */
static cJSON *jp_parent(cJSON *root, const struct jptr *p)
{
	cJSON *cur = root;
	const char *seg = p->buf;
	for (size_t i = 0; i + 1 < p->nseg && cur; i++) {
		cur = child_at(cur, seg);
		seg += strlen(seg) + 1;
	}
	return is_obj(cur) || is_arr(cur) ? cur : NULL;
}

/* Raises the depth bound for a value of depth bound 'bound' (exact depth of v computed when the
 * bound would cross the cap) placed 'nseg' levels down. */
static int jp_check_depth(struct jp *j, const cJSON *v, unsigned bound, size_t nseg)
{
	if (nseg + bound > KC_JSON_DEPTH_CAP) {
		bound = depth_of(v, KC_JSON_DEPTH_CAP);
		if (nseg + bound > KC_JSON_DEPTH_CAP)
			return jp_fail(j, -KC_EINVAL, "the result would nest deeper than %u levels",
				       KC_JSON_DEPTH_CAP);
	}
	if (nseg + bound > j->depth)
		j->depth = (unsigned)(nseg + bound);
	return 0;
}

/* Adds v (owned; freed on error) under the last segment of p in container c. */
static int jp_add(struct jp *j, cJSON *c, const struct jptr *p, cJSON *v)
{
	if (is_obj(c)) {
		cJSON *cur = member(c, p->last);
		if (cur)
			replace_node(c, cur, v);
		else
			kc_json_add(c, p->last, v);
		return 0;
	}
	set_key(v, NULL);
	long long n = (long long)array_size(c), i;
	if (strcmp(p->last, "-") == 0) {
		i = n;
	} else if (!parse_index(p->last, &i)) {
		cJSON_Delete(v);
		return jp_fail(j, -KC_EINVAL, "\"%s\" is not an array index", p->last);
	} else if (i < 0 && i >= -(n + 1)) {
		i += n + 1;
	}
	if (i < 0 || i > n) {
		cJSON_Delete(v);
		return jp_fail(j, -KC_EINVAL, "array index %s out of bounds (size %lld)", p->last,
			       n);
	}
	if (i == n)
		cJSON_AddItemToArray(c, v);
	else
		cJSON_InsertItemInArray(c, (int)i, v);
	return 0;
}

static int jp_op(struct jp *j, const cJSON *op)
{
	struct jptr path, from;
	int rc;

	if (!is_obj(op))
		return jp_fail(j, -KC_EINVAL, "an operation must be a JSON object");
	const cJSON *kind = member(op, "op");
	j->op = cJSON_IsString(kind) ? kind->valuestring : "unknown";
	static const char *const kinds[] = {"add", "remove", "replace", "move", "copy", "test"};
	size_t k = 0;
	while (k < 6 && strcmp(j->op, kinds[k]) != 0)
		k++;
	if (k == 6)
		return jp_fail(j, -KC_EINVAL, "unexpected kind: %s", j->op);
	const cJSON *pv = member(op, "path");
	if (!cJSON_IsString(pv))
		return jp_fail(j, -KC_EINVAL, "missing \"path\"");
	j->path = pv->valuestring;
	if ((rc = jp_parse(j, "path", pv->valuestring, &path)))
		return rc;
	const cJSON *value = member(op, "value");
	static const cJSON null_value = {.type = cJSON_NULL};
	if (!value)
		value = &null_value;
	cJSON *c = jp_parent(j->root, &path);

	if (k == 0 || k == 2) { /* add, replace */
		if (!c)
			return jp_fail(j, -KC_EINVAL, "the document is missing the path");
		if (k == 2 && !child_at(c, path.last))
			return jp_fail(j, -KC_EINVAL, "the document is missing the key \"%s\"",
				       path.last);
		if ((rc = jp_check_depth(j, value, depth_of(value, KC_JSON_DEPTH_CAP), path.nseg)))
			return rc;
		if (k == 2)
			replace_node(c, child_at(c, path.last), copy_value(value));
		else if ((rc = jp_add(j, c, &path, copy_value(value))))
			return rc;
		return 0;
	}
	if (k == 1) { /* remove */
		cJSON *cur = c ? child_at(c, path.last) : NULL;
		if (!cur)
			return jp_fail(j, -KC_EINVAL, "unable to remove nonexistent key \"%s\"",
				       c ? path.last : "");
		cJSON_Delete(cJSON_DetachItemViaPointer(c, cur));
		return 0;
	}
	if (k == 5) { /* test: an absent member tests equal to null */
		if (!c)
			return jp_fail(j, -KC_ECONFLICT, "the document is missing the path");
		cJSON *cur = child_at(c, path.last);
		if (!kc_json_equal(cur ? cur : &null_value, value))
			return jp_fail(j, -KC_ECONFLICT, "test failed");
		return 0;
	}

	/* move, copy */
	const cJSON *fv = member(op, "from");
	if (!cJSON_IsString(fv))
		return jp_fail(j, -KC_EINVAL, "missing \"from\"");
	if ((rc = jp_parse(j, "from", fv->valuestring, &from)))
		return rc;
	cJSON *fc = jp_parent(j->root, &from);
	cJSON *src = fc ? child_at(fc, from.last) : NULL;
	if (!src)
		return jp_fail(j, -KC_EINVAL, "the document is missing the from path \"%s\"",
			       fv->valuestring);
	unsigned bound = j->depth > from.nseg ? j->depth - (unsigned)from.nseg : 0;
	if ((rc = jp_check_depth(j, src, bound, path.nseg)))
		return rc;
	cJSON *v;
	if (k == 3) {
		v = cJSON_DetachItemViaPointer(fc, src);
	} else {
		size_t left = COPY_BUDGET - j->copied, n = count_nodes(src, left);
		if (n > left)
			return jp_fail(j, -KC_ETOOBIG,
				       "copy operations would create more than %zu "
				       "values",
				       COPY_BUDGET);
		j->copied += n;
		v = copy_value(src);
	}
	/* look the destination up after the removal, as RFC 6902 moves do */
	c = jp_parent(j->root, &path);
	if (!c) {
		cJSON_Delete(v);
		return jp_fail(j, -KC_EINVAL, "the document is missing the destination path");
	}
	return jp_add(j, c, &path, v);
}

int patch_json(cJSON **doc, const cJSON *ops, struct kc_err *err)
{
	if (!is_arr(ops))
		return kc_err_set(err, -KC_EINVAL,
				  "json patch: the patch must be a JSON array of "
				  "operations");
	size_t n = 0;
	for (const cJSON *op = ops->child; op; op = op->next)
		n++;
	if (n > MAX_OPS)
		return kc_err_set(err, -KC_ETOOBIG,
				  "json patch: the allowed maximum operations in a "
				  "JSON patch is %d, got %zu",
				  MAX_OPS, n);
	struct jp j = {.root = kc_json_dup(*doc), .err = err};
	j.depth = depth_of(j.root, KC_JSON_DEPTH_CAP);
	if (j.depth > KC_JSON_DEPTH_CAP)
		j.depth = KC_JSON_DEPTH_CAP;
	for (const cJSON *op = ops->child; op; op = op->next, j.index++) {
		j.op = NULL;
		j.path = NULL;
		int rc = jp_op(&j, op);
		if (rc) {
			cJSON_Delete(j.root);
			return rc;
		}
	}
	cJSON_Delete(*doc);
	*doc = j.root;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* strategic merge patch */

struct smp {
	struct kc_err *err;
	struct kc_str path; /* where the merge is, for messages: spec.containers[1].env */
	struct kc_str tmp;  /* scratch for key texts */
};

static int smp_fail(struct smp *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int smp_fail(struct smp *s, const char *fmt, ...)
{
	char detail[176], where[72];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (s->path.len == 0)
		return kc_err_set(s->err, -KC_EINVAL, "strategic merge patch: %s", detail);
	kc_excerpt(where, sizeof where, s->path.buf, s->path.len);
	return kc_err_set(s->err, -KC_EINVAL, "strategic merge patch: %s: %s", where, detail);
}

static size_t push_key(struct smp *s, const char *key)
{
	size_t mark = s->path.len;
	if (mark)
		kc_str_addc(&s->path, '.');
	kc_str_adds(&s->path, key);
	return mark;
}

static size_t push_index(struct smp *s, size_t i)
{
	size_t mark = s->path.len;
	kc_str_addf(&s->path, "[%zu]", i);
	return mark;
}

static void pop_path(struct smp *s, size_t mark)
{
	if (s->path.cap)
		kc_str_setlen(&s->path, mark);
}

/* What the schema says about one member. */
struct fmeta {
	const struct sch_type *type; /* NULL when unknown */
	const char *merge_key;	     /* NULL when none */
	bool merge;		     /* lists are merged, not replaced */
};

static const struct sch_field *find_field(const struct sch_type *t, const char *name)
{
	if (!t || t->kind != SCH_STRUCT)
		return NULL;
	for (size_t i = 0; i < t->nfields; i++)
		if (strcmp(t->fields[i].name, name) == 0)
			return &t->fields[i];
	return NULL;
}

static struct fmeta meta_of(const struct sch_type *t, const char *key)
{
	struct fmeta m = {0};
	if (t && t->kind == SCH_STRUCT) {
		const struct sch_field *f = find_field(t, key);
		if (f) {
			m.type = f->type;
			m.merge_key = f->merge_key && *f->merge_key ? f->merge_key : NULL;
			/* key= implies strategy merge */
			m.merge = (f->patch_strategy & SCH_PATCH_MERGE) || m.merge_key;
		}
	} else if (t && t->kind == SCH_MAP) {
		m.type = t->elem;
	}
	return m;
}

static const struct sch_type *elem_type(const struct sch_type *t)
{
	return t && t->kind == SCH_ARRAY ? t->elem : NULL;
}

enum ekind { EK_NONE, EK_OBJECT, EK_ARRAY, EK_STRING, EK_NUMBER, EK_BOOL, EK_NULL, EK_OTHER };

static enum ekind kind_of(const cJSON *v)
{
	if (cJSON_IsObject(v))
		return EK_OBJECT;
	if (cJSON_IsArray(v))
		return EK_ARRAY;
	if (cJSON_IsString(v))
		return EK_STRING;
	if (cJSON_IsNumber(v))
		return EK_NUMBER;
	if (cJSON_IsBool(v))
		return EK_BOOL;
	if (cJSON_IsNull(v))
		return EK_NULL;
	return EK_OTHER;
}

/* The common element kind of lists a and b (either may be NULL): EK_NONE when both are empty.
 * Mixed kinds, lists of lists and nulls cannot be merged. */
static int list_kind(struct smp *s, const cJSON *a, const cJSON *b, enum ekind *out)
{
	*out = EK_NONE;
	const cJSON *lists[2] = {a, b};
	for (int l = 0; l < 2; l++) {
		for (const cJSON *e = lists[l] ? lists[l]->child : NULL; e; e = e->next) {
			enum ekind k = kind_of(e);
			if (k == EK_ARRAY)
				return smp_fail(s, "lists of lists are not supported");
			if (k == EK_NULL || k == EK_OTHER)
				return smp_fail(s, "null list elements cannot be merged");
			if (*out == EK_NONE)
				*out = k;
			else if (*out != k)
				return smp_fail(s, "list element types are not identical");
		}
	}
	return 0;
}

/* The text that identifies value v in a list (canonical JSON), as a new string. */
static char *key_text(struct smp *s, const cJSON *v)
{
	kc_str_reset(&s->tmp);
	kc_json_write_canonical(&s->tmp, v);
	return xstrndup(s->tmp.buf, s->tmp.len);
}

/* Maps key text -> first position (stored as position + 1). */
static void index_put_first(struct kc_map *m, const char *key, size_t pos)
{
	if (key && !kc_map_sget(m, key))
		kc_map_sput(m, key, (void *)(uintptr_t)(pos + 1));
}

static bool index_get(const struct kc_map *m, const char *key, size_t *pos)
{
	uintptr_t v = key ? (uintptr_t)kc_map_sget(m, key) : 0;
	if (!v)
		return false;
	*pos = (size_t)v - 1;
	return true;
}

static void free_keys(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

struct ord {
	cJSON *node;
	size_t pidx, sidx, pos;
};

static int cmp_pidx(const void *a, const void *b)
{
	const struct ord *x = a, *y = b;
	if (x->pidx != y->pidx)
		return x->pidx < y->pidx ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_sidx(const void *a, const void *b)
{
	const struct ord *x = a, *y = b;
	if (x->sidx != y->sidx)
		return x->sidx < y->sidx ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* normalizeElementOrder: items whose key is in 'patch_order' sorted by it, the others sorted by
 * 'server_order', then interleaved: a server-only item goes first while it precedes the next
 * patch item in the server order. Rewrites items[0..n) in place; keys[i] is items[i]'s. */
static void normalize_order(cJSON **items, char **keys, size_t n, const struct kc_map *patch_order,
			    const struct kc_map *server_order)
{
	struct ord *p = xcalloc(n ? n : 1, sizeof *p), *so = xcalloc(n ? n : 1, sizeof *so);
	size_t np = 0, ns = 0;
	for (size_t i = 0; i < n; i++) {
		struct ord o = {.node = items[i], .pos = i, .pidx = SIZE_MAX, .sidx = SIZE_MAX};
		index_get(server_order, keys[i], &o.sidx);
		if (index_get(patch_order, keys[i], &o.pidx))
			p[np++] = o;
		else
			so[ns++] = o;
	}
	qsort(p, np, sizeof *p, cmp_pidx);
	qsort(so, ns, sizeof *so, cmp_sidx);
	size_t i = 0, j = 0;
	for (size_t k = 0; k < n; k++) {
		bool left;
		if (i < ns && j < np)
			left = so[i].sidx != SIZE_MAX && p[j].sidx != SIZE_MAX &&
			       so[i].sidx < p[j].sidx;
		else
			left = i < ns;
		items[k] = left ? so[i++].node : p[j++].node;
	}
	free(p);
	free(so);
}

static int merge_map(struct smp *s, cJSON *o, const cJSON *p, const struct sch_type *t,
		     unsigned depth);
static int merge_list(struct smp *s, cJSON *oa, const cJSON *pa, const struct fmeta *m,
		      unsigned depth, bool delete_list);

/* The patch value p applied to nothing: objects are merged into {} and merge lists into [] so
 * that their directives are carried out, other lists have their elements treated alike. */
static int new_value(struct smp *s, const cJSON *p, const struct fmeta *m, unsigned depth,
		     cJSON **out)
{
	int rc = 0;
	*out = NULL;
	if (depth > KC_JSON_DEPTH_CAP)
		return smp_fail(s, "nested deeper than %u levels", KC_JSON_DEPTH_CAP);
	if (is_obj(p)) {
		cJSON *v = kc_json_new_object();
		if ((rc = merge_map(s, v, p, m->type, depth + 1))) {
			cJSON_Delete(v);
			return rc;
		}
		*out = v;
		return 0;
	}
	if (!is_arr(p)) {
		*out = copy_value(p);
		return 0;
	}
	cJSON *v = kc_json_new_array();
	if (m->merge) {
		rc = merge_list(s, v, p, m, depth + 1, false);
	} else {
		struct fmeta em = {.type = elem_type(m->type)};
		size_t i = 0;
		for (const cJSON *e = p->child; e && !rc; e = e->next, i++) {
			size_t mark = push_index(s, i);
			cJSON *ev;
			if (!(rc = new_value(s, e, &em, depth + 1, &ev)))
				cJSON_AddItemToArray(v, ev);
			pop_path(s, mark);
		}
	}
	if (rc) {
		cJSON_Delete(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* Lists of scalars: a union ordered like Kubernetes, or the removal of the patch's values. */
static int merge_scalars(struct smp *s, cJSON *oa, const cJSON *pa, bool delete_list)
{
	struct nodevec items = {0};
	struct kc_map pmap, smap;
	kc_map_init(&pmap, NULL);
	kc_map_init(&smap, NULL);
	take_children(oa, &items);

	size_t pi = 0;
	for (const cJSON *e = pa->child; e; e = e->next, pi++) {
		char *k = key_text(s, e);
		index_put_first(&pmap, k, pi);
		free(k);
	}
	char **keys = xcalloc(items.n + pi + 1, sizeof *keys);
	size_t n = 0;
	for (size_t i = 0; i < items.n; i++) {
		char *k = key_text(s, items.v[i]);
		bool drop =
			delete_list ? kc_map_sget(&pmap, k) != NULL : kc_map_sget(&smap, k) != NULL;
		if (drop) {
			free(k);
			cJSON_Delete(items.v[i]);
			continue;
		}
		index_put_first(&smap, k, n);
		keys[n] = k;
		items.v[n++] = items.v[i];
	}
	items.n = n;
	if (!delete_list) {
		struct kc_map added;
		kc_map_init(&added, NULL);
		for (const cJSON *e = pa->child; e; e = e->next) {
			char *k = key_text(s, e);
			if (kc_map_sget(&smap, k) || kc_map_sget(&added, k)) {
				free(k);
				continue;
			}
			kc_map_sput(&added, k, &added);
			nv_push(&items, copy_value(e));
			keys[items.n - 1] = k;
		}
		kc_map_free(&added);
		normalize_order(items.v, keys, items.n, &pmap, &smap);
	}
	put_children(oa, items.v, items.n);
	free_keys(keys, items.n);
	free(items.v);
	kc_map_free(&pmap);
	kc_map_free(&smap);
	return 0;
}

/* Lists of objects merged by merge key mk. */
static int merge_objects(struct smp *s, cJSON *oa, const cJSON *pa, const char *mk,
			 const struct sch_type *et, unsigned depth)
{
	struct nodevec items = {0};
	struct kc_map del, pmap, smap;
	const cJSON **plain = NULL;
	char **keys = NULL;
	size_t nplain = 0, nkeys = 0;
	bool replace = false;
	int rc = 0;

	kc_map_init(&del, NULL);
	kc_map_init(&pmap, NULL);
	kc_map_init(&smap, NULL);
	take_children(oa, &items);

	/* special elements first: deletions, replace, errors */
	size_t np = 0;
	for (const cJSON *e = pa->child; e; e = e->next)
		np++;
	plain = xcalloc(np + 1, sizeof *plain);
	size_t pi = 0;
	for (const cJSON *e = pa->child; e; e = e->next, pi++) {
		const cJSON *d = member(e, DIRECTIVE);
		if (!d) {
			plain[nplain++] = e;
			continue;
		}
		size_t mark = push_index(s, pi);
		if (str_is(d, "delete")) {
			const cJSON *kv = member(e, mk);
			if (!kv) {
				rc = smp_fail(s, "does not contain declared merge key: %s", mk);
			} else {
				char *k = key_text(s, kv);
				kc_map_sput(&del, k, &del);
				free(k);
			}
		} else if (str_is(d, "replace")) {
			replace = true;
		} else if (str_is(d, "merge")) {
			rc = smp_fail(s, "merging lists cannot yet be specified in the patch");
		} else {
			rc = smp_fail(s, "unknown patch type in list element");
		}
		pop_path(s, mark);
		if (rc)
			goto out;
	}

	keys = xcalloc(items.n + nplain + 1, sizeof *keys);
	if (replace) {
		/* the list becomes the patch's plain elements */
		nv_free(&items);
		for (size_t i = 0; i < nplain; i++) {
			struct fmeta em = {.type = et};
			size_t mark = push_index(s, i);
			cJSON *v;
			rc = new_value(s, plain[i], &em, depth + 1, &v);
			pop_path(s, mark);
			if (rc)
				goto out;
			nv_push(&items, v);
			const cJSON *kv = member(v, mk);
			if (!kv) {
				rc = smp_fail(s, "does not contain declared merge key: %s", mk);
				goto out;
			}
			keys[nkeys++] = key_text(s, kv);
			index_put_first(&smap, keys[i], i);
		}
		normalize_order(items.v, keys, items.n, &pmap, &smap);
		put_children(oa, items.v, items.n);
		items.n = 0;
		goto out;
	}

	/* deletions, then the index of what is left (the server order) */
	size_t n = 0;
	for (size_t i = 0; i < items.n; i++) {
		const cJSON *kv = member(items.v[i], mk);
		char *k = kv ? key_text(s, kv) : NULL;
		if (k && kc_map_sget(&del, k)) {
			free(k);
			cJSON_Delete(items.v[i]);
			continue;
		}
		index_put_first(&smap, k, n);
		keys[n] = k;
		items.v[n++] = items.v[i];
	}
	items.n = nkeys = n;

	/* merge or append each plain element; the index also finds elements appended earlier */
	struct kc_map where;
	kc_map_init(&where, NULL);
	for (size_t i = 0; i < n; i++)
		index_put_first(&where, keys[i], i);
	for (size_t i = 0; i < nplain && !rc; i++) {
		const cJSON *kv = member(plain[i], mk);
		size_t mark = push_index(s, i), pos;
		if (!kv) {
			rc = smp_fail(s, "does not contain declared merge key: %s", mk);
		} else {
			char *k = key_text(s, kv);
			index_put_first(&pmap, k, i);
			if (index_get(&where, k, &pos)) {
				rc = merge_map(s, items.v[pos], plain[i], et, depth + 1);
				free(k);
			} else {
				cJSON *v = NULL;
				struct fmeta em = {.type = et};
				rc = new_value(s, plain[i], &em, depth + 1, &v);
				if (rc) {
					free(k);
				} else {
					nv_push(&items, v);
					keys[nkeys++] = k;
					index_put_first(&where, k, items.n - 1);
				}
			}
		}
		pop_path(s, mark);
	}
	kc_map_free(&where);
	if (rc)
		goto out;
	for (size_t i = 0; i < items.n; i++) {
		if (!keys[i]) {
			size_t mark = push_index(s, i);
			rc = smp_fail(s, "does not contain declared merge key: %s", mk);
			pop_path(s, mark);
			goto out;
		}
	}
	normalize_order(items.v, keys, items.n, &pmap, &smap);
	put_children(oa, items.v, items.n);
	items.n = 0;
out:
	free_keys(keys, nkeys);
	nv_free(&items);
	free(plain);
	kc_map_free(&del);
	kc_map_free(&pmap);
	kc_map_free(&smap);
	return rc;
}

/* mergeSlice: merges list pa into list oa in place. */
static int merge_list(struct smp *s, cJSON *oa, const cJSON *pa, const struct fmeta *m,
		      unsigned depth, bool delete_list)
{
	enum ekind k;
	int rc;
	if (depth > KC_JSON_DEPTH_CAP)
		return smp_fail(s, "nested deeper than %u levels", KC_JSON_DEPTH_CAP);
	if ((rc = list_kind(s, oa, pa, &k)) || k == EK_NONE)
		return rc;
	if (k != EK_OBJECT)
		return merge_scalars(s, oa, pa, delete_list);
	if (!m->merge_key)
		return smp_fail(s, "cannot merge lists without merge key");
	return merge_objects(s, oa, pa, m->merge_key, elem_type(m->type), depth);
}

/* validatePatchWithSetOrderList: the patch list's items (deletions and directives aside) must
 * appear in the $setElementOrder list, in the same relative order. */
static bool same_key(struct smp *s, const cJSON *a, const cJSON *b, const char *mk, int *rc)
{
	if (!mk)
		return kc_json_equal(a, b);
	const cJSON *ka = is_obj(a) ? member(a, mk) : NULL, *kb = is_obj(b) ? member(b, mk) : NULL;
	if (!ka || !kb) {
		*rc = smp_fail(s, "does not contain declared merge key: %s", mk);
		return false;
	}
	return kc_json_equal(ka, kb);
}

static int check_set_order(struct smp *s, const cJSON *pl, const cJSON *order, const char *mk)
{
	if (!pl || !pl->child || !order->child)
		return 0;
	const cJSON *o = order->child;
	const cJSON *e = pl->child;
	int rc = 0;
	while (e && o) {
		const cJSON *d = is_obj(e) ? member(e, DIRECTIVE) : NULL;
		if (mk && !is_obj(e))
			return smp_fail(s, "elements of a merge list must be objects");
		if (d) { /* deletions and other directives take no place in the order */
			e = e->next;
			continue;
		}
		bool eq = same_key(s, e, o, mk, &rc);
		if (rc)
			return rc;
		if (eq)
			e = e->next;
		o = o->next;
	}
	while (e && is_obj(e) && member(e, DIRECTIVE))
		e = e->next;
	if (e)
		return smp_fail(s, "the order in the patch list doesn't match the $setElementOrder "
				   "list");
	return 0;
}

/* The keys of list l's items for ordering (objects by merge key mk); NULL on error. */
static char **order_keys(struct smp *s, const cJSON *l, enum ekind k, const char *mk, int *rc)
{
	size_t n = l ? array_size(l) : 0, i = 0;
	char **keys = xcalloc(n + 1, sizeof *keys);
	for (const cJSON *e = l ? l->child : NULL; e; e = e->next, i++) {
		if (k == EK_OBJECT) {
			const cJSON *kv = mk && is_obj(e) ? member(e, mk) : NULL;
			if (!kv) {
				free_keys(keys, i);
				*rc = mk ? smp_fail(s, "does not contain declared merge key: %s",
						    mk)
					 : smp_fail(
						   s,
						   "cannot order a list of objects without a merge "
						   "key");
				return NULL;
			}
			keys[i] = key_text(s, kv);
		} else {
			keys[i] = key_text(s, e);
		}
	}
	return keys;
}

/* mergePatchIntoOriginal for one "$setElementOrder/<field>": merges the field's patch list (if
 * any) and orders the result. */
static int apply_set_order(struct smp *s, struct omap *om, const char *field, const cJSON *order,
			   const cJSON *pl, const struct sch_type *t, unsigned depth)
{
	struct fmeta m = meta_of(t, field);
	cJSON *ol = omap_get(om, field);
	struct kc_map pmap, smap;
	char **okeys = NULL, **skeys = NULL, **mkeys = NULL;
	struct nodevec items = {0};
	size_t nm = 0;
	enum ekind k;
	int rc;

	if (ol && !is_arr(ol))
		return smp_fail(s, "$setElementOrder/%s: the value is not a list", field);
	if (pl && !is_arr(pl))
		return smp_fail(s, "$setElementOrder/%s: the patch value is not a list", field);
	if ((rc = check_set_order(s, pl, order, m.merge_key)))
		return rc;
	if (!ol && !pl)
		return 0;
	if ((rc = list_kind(s, ol, pl, &k)))
		return rc;

	kc_map_init(&pmap, NULL);
	kc_map_init(&smap, NULL);
	size_t ns = ol ? array_size(ol) : 0, no = array_size(order);
	if (k != EK_NONE) {
		if (!(skeys = order_keys(s, ol, k, m.merge_key, &rc)) ||
		    !(okeys = order_keys(s, order, k, m.merge_key, &rc)))
			goto out;
		for (size_t i = 0; i < ns; i++)
			index_put_first(&smap, skeys[i], i);
		for (size_t i = 0; i < no; i++)
			index_put_first(&pmap, okeys[i], i);
	}

	if (ol && pl) {
		if (m.merge) {
			rc = merge_list(s, ol, pl, &m, depth + 1, false);
		} else {
			cJSON *v;
			if (!(rc = new_value(s, pl, &m, depth + 1, &v))) {
				omap_put(om, ol, field, v);
				ol = v;
			}
		}
	} else if (pl) {
		if (!(rc = new_value(s, pl, &m, depth + 1, &ol)))
			omap_put(om, NULL, field, ol);
	}
	if (rc || k == EK_NONE)
		goto out;

	take_children(ol, &items);
	mkeys = xcalloc(items.n + 1, sizeof *mkeys);
	for (; nm < items.n; nm++) {
		const cJSON *e = items.v[nm];
		const cJSON *kv = k != EK_OBJECT	     ? e
				  : m.merge_key && is_obj(e) ? member(e, m.merge_key)
							     : NULL;
		if (!kv) {
			rc = smp_fail(s, "does not contain declared merge key: %s",
				      m.merge_key ? m.merge_key : "");
			break;
		}
		mkeys[nm] = key_text(s, kv);
	}
	if (!rc)
		normalize_order(items.v, mkeys, items.n, &pmap, &smap);
	put_children(ol, items.v, items.n);
	items.n = 0;
out:
	if (mkeys)
		free_keys(mkeys, nm);
	free(items.v);
	if (skeys)
		free_keys(skeys, ns);
	if (okeys)
		free_keys(okeys, no);
	kc_map_free(&pmap);
	kc_map_free(&smap);
	return rc;
}

static bool is_directive_key(const char *k)
{
	return strcmp(k, DIRECTIVE) == 0 || strcmp(k, RETAIN_KEYS) == 0 ||
	       kc_has_prefix(k, SET_ORDER) || kc_has_prefix(k, DELETE_PRIMITIVE);
}

/* applyRetainKeysDirective: every non-null field of the patch must be listed; fields of o that
 * are not listed go. */
static int apply_retain_keys(struct smp *s, cJSON *o, const cJSON *p, const cJSON *rk)
{
	struct kc_map keep;
	int rc = 0;
	if (!is_arr(rk))
		return smp_fail(s, "invalid patch format of retainKeys: not a list");
	kc_map_init(&keep, NULL);
	for (const cJSON *e = rk->child; e; e = e->next)
		if (cJSON_IsString(e))
			kc_map_sput(&keep, e->valuestring, &keep);
	for (const cJSON *f = p->child; f && !rc; f = f->next) {
		if (cJSON_IsNull(f) || is_directive_key(f->string))
			continue;
		if (!kc_map_sget(&keep, f->string))
			rc = smp_fail(s,
				      "invalid patch format of retainKeys: \"%s\" is not in the "
				      "list",
				      f->string);
	}
	if (!rc) {
		cJSON *c = o->child;
		while (c) {
			cJSON *next = c->next;
			if (!c->string || !kc_map_sget(&keep, c->string))
				cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
			c = next;
		}
	}
	kc_map_free(&keep);
	return rc;
}

/* mergeMap without the $patch directive: p's fields into object o of type t. */
static int merge_fields(struct smp *s, cJSON *o, const cJSON *p, const struct sch_type *t,
			unsigned depth)
{
	struct kc_map done;
	struct omap om;
	size_t nfields = 0, nordered = 0;
	int rc = 0;

	const cJSON *rk = member(p, RETAIN_KEYS);
	if (rk && (rc = apply_retain_keys(s, o, p, rk)))
		return rc;
	for (const cJSON *f = p->child; f; f = f->next)
		nfields++;
	omap_init(&om, o, nfields);
	kc_map_init(&done, NULL);

	/* $setElementOrder/<field> first: it merges the field's list too */
	for (const cJSON *f = p->child; f && !rc; f = f->next) {
		if (!kc_has_prefix(f->string, SET_ORDER))
			continue;
		const char *field = f->string + strlen(SET_ORDER);
		if (*field++ != '/') {
			rc = smp_fail(s, "invalid patch format of setElementOrder list: \"%s\"",
				      f->string);
			break;
		}
		size_t mark = push_key(s, field);
		if (!is_arr(f))
			rc = smp_fail(s, "$setElementOrder/%s: the order is not a list", field);
		else
			rc = apply_set_order(s, &om, field, f, member(p, field), t, depth);
		pop_path(s, mark);
		kc_map_sput(&done, field, &done);
		nordered++;
	}

	for (const cJSON *f = p->child; f && !rc; f = f->next) {
		const char *key = f->string;
		bool delete_list = false;
		if (strcmp(key, DIRECTIVE) == 0 || strcmp(key, RETAIN_KEYS) == 0 ||
		    kc_has_prefix(key, SET_ORDER))
			continue;
		if (kc_has_prefix(key, DELETE_PRIMITIVE)) {
			key += strlen(DELETE_PRIMITIVE);
			if (*key++ != '/') {
				rc = smp_fail(s, "invalid patch format of primitive list: \"%s\"",
					      f->string);
				break;
			}
			delete_list = true;
		} else if (key[0] == '$' && t && t->kind == SCH_STRUCT && !find_field(t, key)) {
			rc = smp_fail(s, "unknown directive \"%s\"", key);
			break;
		} else if (nordered && kc_map_sget(&done, key)) {
			continue;
		}

		struct fmeta m = meta_of(t, key);
		size_t mark = push_key(s, key);
		cJSON *cur = omap_get(&om, key), *v;
		if (cJSON_IsNull(f)) {
			if (cur)
				omap_remove(&om, cur);
		} else if (is_obj(cur) && is_obj(f)) {
			rc = merge_map(s, cur, f, m.type, depth + 1);
		} else if (is_arr(cur) && is_arr(f) && (m.merge || delete_list)) {
			rc = merge_list(s, cur, f, &m, depth + 1, delete_list);
		} else if (!delete_list) {
			/* absent, of another type, a scalar, or a list replaced as a whole */
			if (!(rc = new_value(s, f, &m, depth + 1, &v)))
				omap_put(&om, cur, key, v);
		}
		pop_path(s, mark);
	}
	kc_map_free(&done);
	omap_free(&om);
	return rc;
}

/* mergeMap: patch object p into object o (of type t, NULL when unknown), in place. */
static int merge_map(struct smp *s, cJSON *o, const cJSON *p, const struct sch_type *t,
		     unsigned depth)
{
	if (depth > KC_JSON_DEPTH_CAP)
		return smp_fail(s, "nested deeper than %u levels", KC_JSON_DEPTH_CAP);
	const cJSON *d = member(p, DIRECTIVE);
	if (!d)
		return merge_fields(s, o, p, t, depth);
	if (str_is(d, "replace")) {
		clear_children(o);
		return merge_fields(s, o, p, t, depth);
	}
	if (str_is(d, "delete")) {
		clear_children(o);
		return 0;
	}
	if (cJSON_IsString(d))
		return smp_fail(s, "unknown patch type \"%s\" in map", d->valuestring);
	return smp_fail(s, "unknown patch type in map: $patch is not a string");
}

int patch_strategic(cJSON **doc, const cJSON *patch, const struct sch_type *t, struct kc_err *err)
{
	if (!is_obj(patch))
		return kc_err_set(err, -KC_EINVAL,
				  "strategic merge patch: the patch must be a "
				  "JSON object");
	if (!is_obj(*doc))
		return kc_err_set(err, -KC_EINVAL,
				  "strategic merge patch: the document must be a "
				  "JSON object");
	struct smp s = {.err = err, .path = KC_STR_INIT, .tmp = KC_STR_INIT};
	cJSON *work = kc_json_dup(*doc);
	int rc = merge_map(&s, work, patch, t, 1);
	kc_str_free(&s.path);
	kc_str_free(&s.tmp);
	if (rc) {
		cJSON_Delete(work);
		return rc;
	}
	cJSON_Delete(*doc);
	*doc = work;
	return 0;
}
