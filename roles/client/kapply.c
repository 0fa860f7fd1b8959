/* kapply.c - the three-way strategic merge patch of kubectl apply.
 *
 * For an object: every member of modified that differs from current goes into the patch
 * (recursively for objects and merge-keyed lists); every member original had that modified
 * lacks becomes null. Lists merged by a key (containers by name, ports by containerPort...)
 * patch element-wise, delete dropped elements with {"$patch":"delete", key: value}, and send
 * "$setElementOrder/<field>" with modified's order; primitive lists with strategy merge add
 * the new values and remove dropped ones with "$deleteFromPrimitiveList/<field>"; other lists
 * are replaced whole. */
#include "roles/client/kapply.h"

#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "roles/client/kprint.h"

void kapply_annotate(cJSON *obj)
{
	/* kubectl serializes the object with the annotations map present ({} when empty) and
	 * without the annotation itself. */
	cJSON *copy = cJSON_Duplicate(obj, true);
	kc_json_delete(copy, "metadata.annotations[" KAPPLY_ANNOTATION "]");
	if (!cJSON_IsObject(kc_json_get(copy, "metadata.annotations"))) {
		kc_json_delete(copy, "metadata.annotations");
		kc_json_set(copy, "metadata.annotations", cJSON_CreateObject());
	}
	kprint_sort(copy);
	size_t len;
	char *s = kc_json_print(copy, &len);
	cJSON_Delete(copy);
	char *val = malloc(len + 2);
	if (!val)
		abort();
	memcpy(val, s, len);
	val[len] = '\n';
	val[len + 1] = '\0';
	free(s);
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (!cJSON_IsObject(meta))
		meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON *ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
	if (!cJSON_IsObject(ann)) {
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "annotations");
		ann = cJSON_AddObjectToObject(meta, "annotations");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(ann, KAPPLY_ANNOTATION);
	cJSON_AddStringToObject(ann, KAPPLY_ANNOTATION, val);
	free(val);
}

static const struct sch_type *elem_type(const struct sch_type *t)
{
	return t && (t->kind == SCH_ARRAY || t->kind == SCH_MAP) ? t->elem : NULL;
}

static cJSON *diff_obj(const cJSON *orig, const cJSON *mod, const cJSON *cur,
		       const struct sch_type *t);

static const cJSON *find_by_key(const cJSON *list, const char *key, const cJSON *val)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, key);
		if (k && kc_json_equal(k, val))
			return e;
	}
	return NULL;
}

static bool contains(const cJSON *list, const cJSON *v)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
		if (kc_json_equal(e, v))
			return true;
	return false;
}

/* Adds to patch the changes of list field 'name'. */
static void diff_list(cJSON *patch, const char *name, const cJSON *orig, const cJSON *mod,
		      const cJSON *cur, const struct sch_field *f)
{
	const struct sch_type *et = f ? elem_type(f->type) : NULL;
	bool merge = f && (f->patch_strategy & SCH_PATCH_MERGE);
	if (merge && f->merge_key) {
		const char *key = f->merge_key;
		cJSON *items = cJSON_CreateArray();
		bool changed = false;
		const cJSON *m;
		cJSON_ArrayForEach(m, mod)
		{
			const cJSON *kv = cJSON_GetObjectItemCaseSensitive(m, key);
			const cJSON *c = kv ? find_by_key(cur, key, kv) : NULL;
			const cJSON *o = kv ? find_by_key(orig, key, kv) : NULL;
			if (!c) {
				cJSON_AddItemToArray(items, cJSON_Duplicate(m, true));
				changed = true;
				continue;
			}
			cJSON *d = diff_obj(o, m, c, et);
			if (d->child) {
				cJSON_AddItemToObject(d, key, cJSON_Duplicate(kv, true));
				cJSON_AddItemToArray(items, d);
				changed = true;
			} else {
				cJSON_Delete(d);
			}
		}
		const cJSON *o;
		cJSON_ArrayForEach(o, orig)
		{
			const cJSON *kv = cJSON_GetObjectItemCaseSensitive(o, key);
			if (!kv || find_by_key(mod, key, kv) || !find_by_key(cur, key, kv))
				continue;
			cJSON *del = cJSON_CreateObject();
			cJSON_AddStringToObject(del, "$patch", "delete");
			cJSON_AddItemToObject(del, key, cJSON_Duplicate(kv, true));
			cJSON_AddItemToArray(items, del);
			changed = true;
		}
		/* kubectl sends the order whenever the list is patched. */
		if (changed) {
			char dname[300];
			snprintf(dname, sizeof dname, "$setElementOrder/%s", name);
			cJSON *order = cJSON_CreateArray();
			cJSON_ArrayForEach(m, mod)
			{
				const cJSON *kv = cJSON_GetObjectItemCaseSensitive(m, key);
				cJSON *e = cJSON_CreateObject();
				if (kv)
					cJSON_AddItemToObject(e, key, cJSON_Duplicate(kv, true));
				cJSON_AddItemToArray(order, e);
			}
			cJSON_AddItemToObject(patch, dname, order);
			cJSON_AddItemToObject(patch, name, items);
		} else {
			cJSON_Delete(items);
		}
		return;
	}
	if (merge) {
		/* a set of primitives */
		cJSON *add = cJSON_CreateArray(), *del = cJSON_CreateArray();
		const cJSON *m;
		cJSON_ArrayForEach(m, mod)
			if (!contains(cur, m))
				cJSON_AddItemToArray(add, cJSON_Duplicate(m, true));
		cJSON_ArrayForEach(m, orig)
			if (!contains(mod, m) && contains(cur, m))
				cJSON_AddItemToArray(del, cJSON_Duplicate(m, true));
		if (add->child)
			cJSON_AddItemToObject(patch, name, add);
		else
			cJSON_Delete(add);
		if (del->child) {
			char dname[300];
			snprintf(dname, sizeof dname, "$deleteFromPrimitiveList/%s", name);
			cJSON_AddItemToObject(patch, dname, del);
		} else {
			cJSON_Delete(del);
		}
		return;
	}
	if (!kc_json_equal(mod, cur))
		cJSON_AddItemToObject(patch, name, cJSON_Duplicate(mod, true));
}

static cJSON *diff_obj(const cJSON *orig, const cJSON *mod, const cJSON *cur,
		       const struct sch_type *t)
{
	cJSON *patch = cJSON_CreateObject();
	bool is_map = t && t->kind == SCH_MAP;
	const cJSON *m;
	cJSON_ArrayForEach(m, mod)
	{
		const char *name = m->string;
		const cJSON *c = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, name) : NULL;
		const cJSON *o = cJSON_IsObject(orig) ? cJSON_GetObjectItemCaseSensitive(orig, name) : NULL;
		const struct sch_field *f = t && t->kind == SCH_STRUCT ? sch_field(t, name) : NULL;
		const struct sch_type *ft = is_map ? t->elem : f ? f->type : NULL;
		if (!c || cJSON_IsNull(c)) {
			if (!cJSON_IsNull(m))
				cJSON_AddItemToObject(patch, name, cJSON_Duplicate(m, true));
			continue;
		}
		if (cJSON_IsObject(m) && cJSON_IsObject(c)) {
			cJSON *d = diff_obj(o, m, c, ft);
			if (d->child)
				cJSON_AddItemToObject(patch, name, d);
			else
				cJSON_Delete(d);
		} else if (cJSON_IsArray(m) && cJSON_IsArray(c)) {
			diff_list(patch, name, cJSON_IsArray(o) ? o : NULL, m, c, f);
		} else if (!kc_json_equal(m, c)) {
			cJSON_AddItemToObject(patch, name, cJSON_Duplicate(m, true));
		}
	}
	const cJSON *o;
	const cJSON *orig_obj = cJSON_IsObject(orig) ? orig : NULL;
	cJSON_ArrayForEach(o, orig_obj)
	{
		if (cJSON_GetObjectItemCaseSensitive(mod, o->string))
			continue;
		const cJSON *c = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, o->string) : NULL;
		if (c)
			cJSON_AddNullToObject(patch, o->string);
	}
	return patch;
}

cJSON *kapply_three_way(const cJSON *original, const cJSON *modified, const cJSON *current,
			const struct sch_type *t)
{
	return diff_obj(original, modified, current, t);
}
