/* linearize.c - the linearizability checker of linearize.h.
 *
 * DESIGN
 * The history is split by key; each key's operations are checked on their own (a history of
 * single-key operations is linearizable iff each key's subhistory is: P-compositionality).
 *
 * Per key the search is Wing & Gong's, with Lowe's refinements as Porcupine uses them: the
 * invocations and completions form one time-ordered doubly-linked list; walking it, an
 * invocation may be "lifted" (linearized now) when the model accepts it in the current state
 * and the pair (set of linearized operations, new state) has not been explored before (the
 * memo: a hash set of bitset+state); meeting a completion whose operation is not linearized yet
 * means the current prefix is a dead end, so the last lift is undone and the walk continues
 * after it. The list empties exactly when a linearization exists.
 *
 * Unknown outcomes: the completion sits at +infinity and the effect is optional (put, delete:
 * the write happens or not; cas: applies when the compare holds there). Because such an
 * operation can always be placed after everything else, where it changes nothing observable,
 * the search succeeds as soon as every operation with a known outcome is linearized.
 *
 * Pruning before the search (sound, see prune_unknown): an unknown write whose value nobody
 * ever observed is dropped - any linearization containing it stays valid without it, once the
 * unknown compare-and-swaps whose compare it satisfied are moved to the end too (which only
 * works because such a cas's expected value counts as an observation, and because every failed
 * cas reports what it saw; when one does not, nothing is pruned for that key).
 *
 * States: the register's value interned per key (0: absent), so a state is one uint32. */
#include "tests/fault/linearize.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/map.h"

#define DEFAULT_MAX_STEPS 200000000ull
#define DEFAULT_MAX_CACHE ((size_t)1 << 30)
#define REPORT_TAIL 12       /* linearized operations shown before the stuck one */
#define REPORT_AROUND 40     /* overlapping operations shown */

struct lin_history {
	struct lin_op *ops;
	size_t n, cap;
};

struct lin_history *lin_history_new(void)
{
	return xcalloc(1, sizeof(struct lin_history));
}

static void op_free(struct lin_op *o)
{
	free((void *)(uintptr_t)o->key);
	free((void *)(uintptr_t)o->value);
	free((void *)(uintptr_t)o->expected);
	free((void *)(uintptr_t)o->observed);
}

void lin_history_free(struct lin_history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		op_free(&h->ops[i]);
	free(h->ops);
	free(h);
}

size_t lin_history_len(const struct lin_history *h)
{
	return h->n;
}

const struct lin_op *lin_history_get(const struct lin_history *h, size_t i)
{
	return i < h->n ? &h->ops[i] : NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static const char *kind_name(enum lin_kind k)
{
	switch (k) {
	case LIN_PUT:
		return "put";
	case LIN_GET:
		return "get";
	case LIN_CAS:
		return "cas";
	case LIN_DEL:
		return "del";
	}
	return "?";
}

static const char *result_name(enum lin_result r)
{
	switch (r) {
	case LIN_OK:
		return "ok";
	case LIN_FAIL:
		return "fail";
	case LIN_UNKNOWN:
		return "unknown";
	}
	return "?";
}

int lin_history_add(struct lin_history *h, const struct lin_op *op, struct kc_err *err)
{
	if (op->kind < LIN_PUT || op->kind > LIN_DEL)
		return kc_err_set(err, -KC_EINVAL, "unknown operation kind %d", (int)op->kind);
	if (op->result < LIN_OK || op->result > LIN_UNKNOWN)
		return kc_err_set(err, -KC_EINVAL, "unknown result %d", (int)op->result);
	if (!op->key || !op->key[0] || strlen(op->key) > LIN_KEY_MAX)
		return kc_err_set(err, -KC_EINVAL, "key missing, empty or over %u bytes", LIN_KEY_MAX);
	if ((op->kind == LIN_PUT || op->kind == LIN_CAS) && !op->value)
		return kc_err_set(err, -KC_EINVAL, "%s without a value", kind_name(op->kind));
	const char *strs[] = { op->value, op->expected, op->observed };
	for (size_t i = 0; i < 3; i++)
		if (strs[i] && strlen(strs[i]) > LIN_VALUE_MAX)
			return kc_err_set(err, -KC_EINVAL, "value over %u bytes", LIN_VALUE_MAX);
	if (op->result != LIN_UNKNOWN && op->complete_ns < op->invoke_ns)
		return kc_err_set(err, -KC_EINVAL, "completes (%" PRId64 ") before it is invoked (%" PRId64 ")",
				  op->complete_ns, op->invoke_ns);
	if (op->invoke_ns < 0 || op->invoke_ns == INT64_MAX)
		return kc_err_set(err, -KC_EINVAL, "invocation time out of range");
	if (h->n == h->cap) {
		h->cap = kc_grow_cap(h->cap, h->n + 1, sizeof(*h->ops));
		h->ops = xrealloc(h->ops, h->cap * sizeof(*h->ops));
	}
	struct lin_op *o = &h->ops[h->n++];
	*o = *op;
	o->key = xstrdup(op->key);
	o->value = op->kind == LIN_PUT || op->kind == LIN_CAS ? xstrdup(op->value) : NULL;
	o->expected = op->kind == LIN_CAS ? dup_or_null(op->expected) : NULL;
	o->observed = op->observed_known ? dup_or_null(op->observed) : NULL;
	if (op->result == LIN_UNKNOWN)
		o->complete_ns = INT64_MAX;
	return 0;
}

/* ---- history files ---- */

/* A string member: *out borrowed (NULL for JSON null); *present whether the member exists.
 * Returns 0 or -KC_EINVAL when it is neither a string nor null. */
static int get_opt_str(const cJSON *o, const char *name, const char **out, bool *present,
		       struct kc_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	*out = NULL;
	*present = v != NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return kc_err_set(err, -KC_EINVAL, "\"%s\" must be a string or null", name);
	*out = v->valuestring;
	return 0;
}

static int get_int(const cJSON *o, const char *name, bool required, int64_t *out,
		   struct kc_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	long long x;
	*out = 0;
	if (!v) {
		if (required)
			return kc_err_set(err, -KC_EINVAL, "\"%s\" missing", name);
		return 0;
	}
	if (cJSON_IsString(v)) {   /* int64s as etcd writes them */
		if (kc_parse_i64(v->valuestring, INT64_MIN, INT64_MAX, &x) < 0)
			return kc_err_set(err, -KC_EINVAL, "\"%s\" is not an integer", name);
	} else if (kc_json_as_i64(v, &x) < 0) {
		return kc_err_set(err, -KC_EINVAL, "\"%s\" is not an integer", name);
	}
	*out = x;
	return 0;
}

int lin_history_add_json(struct lin_history *h, const char *line, size_t len, struct kc_err *err)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
		i++;
	if (i == len)
		return 0;
	struct kc_json_limits lim = { .max_bytes = LIN_LINE_MAX, .max_depth = 4 };
	cJSON *root = NULL;
	int rc = kc_json_parse(line, len, &lim, &root, err);
	if (rc < 0)
		return rc;
	struct lin_op op = { 0 };
	const char *kind = NULL, *result = NULL;
	bool present;
	if (!cJSON_IsObject(root)) {
		rc = kc_err_set(err, -KC_EINVAL, "an operation must be a JSON object");
		goto out;
	}
	if ((rc = get_opt_str(root, "op", &kind, &present, err)) < 0 ||
	    (rc = get_opt_str(root, "result", &result, &present, err)) < 0 ||
	    (rc = get_opt_str(root, "key", &op.key, &present, err)) < 0 ||
	    (rc = get_opt_str(root, "value", &op.value, &present, err)) < 0 ||
	    (rc = get_opt_str(root, "expected", &op.expected, &present, err)) < 0 ||
	    (rc = get_opt_str(root, "observed", &op.observed, &op.observed_known, err)) < 0 ||
	    (rc = get_int(root, "client", false, &op.client, err)) < 0 ||
	    (rc = get_int(root, "invoke_ns", true, &op.invoke_ns, err)) < 0 ||
	    (rc = get_int(root, "complete_ns", false, &op.complete_ns, err)) < 0 ||
	    (rc = get_int(root, "revision", false, &op.revision, err)) < 0)
		goto out;
	static const char *const kinds[] = { NULL, "put", "get", "cas", "del" };
	static const char *const results[] = { NULL, "ok", "fail", "unknown" };
	for (int k = LIN_PUT; k <= LIN_DEL; k++)
		if (kind && strcmp(kind, kinds[k]) == 0)
			op.kind = (enum lin_kind)k;
	for (int r = LIN_OK; r <= LIN_UNKNOWN; r++)
		if (result && strcmp(result, results[r]) == 0)
			op.result = (enum lin_result)r;
	if (!op.kind) {
		rc = kc_err_set(err, -KC_EINVAL, "\"op\" must be put, get, cas or del");
		goto out;
	}
	if (!op.result) {
		rc = kc_err_set(err, -KC_EINVAL, "\"result\" must be ok, fail or unknown");
		goto out;
	}
	if (op.result != LIN_UNKNOWN && !cJSON_GetObjectItemCaseSensitive(root, "complete_ns")) {
		rc = kc_err_set(err, -KC_EINVAL, "\"complete_ns\" missing");
		goto out;
	}
	if (op.kind == LIN_GET && op.result == LIN_OK && !op.observed_known) {
		rc = kc_err_set(err, -KC_EINVAL, "a get that ended ok needs \"observed\"");
		goto out;
	}
	rc = lin_history_add(h, &op, err);
out:
	cJSON_Delete(root);
	return rc;
}

int lin_history_load(struct lin_history *h, const char *path, struct kc_err *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return kc_err_set(err, -errno, "%s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	unsigned long lineno = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if ((size_t)n > LIN_LINE_MAX) {
			rc = kc_err_set(err, -KC_ETOOBIG, "%s:%lu: line over %u bytes", path, lineno,
					LIN_LINE_MAX);
			break;
		}
		if ((rc = lin_history_add_json(h, line, (size_t)n, err)) < 0) {
			kc_err_wrap(err, "%s:%lu", path, lineno);
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = kc_err_set(err, -KC_EIO, "%s: read error", path);
	free(line);
	fclose(f);
	return rc;
}

static void write_str_or_null(struct kc_str *out, const char *s)
{
	if (s)
		kc_json_write_string(out, s);
	else
		kc_str_adds(out, "null");
}

void lin_op_write(struct kc_str *out, const struct lin_op *op)
{
	kc_str_addf(out, "{\"client\":%" PRId64 ",\"op\":\"%s\",\"key\":", op->client,
		    kind_name(op->kind));
	kc_json_write_string(out, op->key);
	if (op->kind == LIN_PUT || op->kind == LIN_CAS) {
		kc_str_adds(out, ",\"value\":");
		write_str_or_null(out, op->value);
	}
	if (op->kind == LIN_CAS) {
		kc_str_adds(out, ",\"expected\":");
		write_str_or_null(out, op->expected);
	}
	kc_str_addf(out, ",\"invoke_ns\":%" PRId64, op->invoke_ns);
	if (op->result != LIN_UNKNOWN || (op->complete_ns > 0 && op->complete_ns != INT64_MAX))
		kc_str_addf(out, ",\"complete_ns\":%" PRId64, op->complete_ns);
	kc_str_addf(out, ",\"result\":\"%s\"", result_name(op->result));
	if (op->observed_known) {
		kc_str_adds(out, ",\"observed\":");
		write_str_or_null(out, op->observed);
	}
	if (op->revision)
		kc_str_addf(out, ",\"revision\":\"%" PRId64 "\"", op->revision);
	kc_str_adds(out, "}\n");
}

/* ---- the search for one key ---- */

/* An operation as the model sees it. */
struct pop {
	const struct lin_op *src;
	enum lin_kind kind;
	enum lin_result result;
	uint32_t val, exp, obs;
	bool obs_known;
};

struct entry {
	int64_t time;
	uint32_t op;          /* index into the partition's ops */
	bool call;
	struct entry *match;  /* call: its completion; NULL for completions */
	struct entry *prev, *next;
};

/* The memo: open addressing over records of (state, bitset words) kept in one arena. */
struct memo {
	size_t words;            /* bitset words per record */
	uint64_t *arena;         /* records of 1 + words uint64s: state, then bits */
	size_t nrec, caprec;
	uint32_t *slots;         /* record index + 1, 0 empty */
	size_t nslots;
	size_t max_bytes;
};

static uint64_t memo_hash(const uint64_t *bits, size_t words, uint32_t state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ state;
	for (size_t i = 0; i < words; i++) {
		x ^= bits[i];
		x *= 0xff51afd7ed558ccdull;
		x ^= x >> 32;
	}
	return x;
}

/* Inserts (bits, state); returns 1 when new, 0 when already there, -1 when over budget. */
static int memo_insert(struct memo *m, const uint64_t *bits, uint32_t state)
{
	size_t rec = 1 + m->words;
	if ((m->nrec + 1) * 2 > m->nslots) {
		size_t ns = m->nslots ? m->nslots * 2 : 1024;
		if (ns * sizeof(uint32_t) + m->caprec * rec * 8 > m->max_bytes || ns > UINT32_MAX)
			return -1;
		uint32_t *slots = xcalloc(ns, sizeof(uint32_t));
		for (size_t i = 0; i < m->nslots; i++) {
			uint32_t r = m->slots[i];
			if (!r)
				continue;
			const uint64_t *p = m->arena + (size_t)(r - 1) * rec;
			size_t j = memo_hash(p + 1, m->words, (uint32_t)p[0]) & (ns - 1);
			while (slots[j])
				j = (j + 1) & (ns - 1);
			slots[j] = r;
		}
		free(m->slots);
		m->slots = slots;
		m->nslots = ns;
	}
	size_t j = memo_hash(bits, m->words, state) & (m->nslots - 1);
	for (; m->slots[j]; j = (j + 1) & (m->nslots - 1)) {
		const uint64_t *p = m->arena + (size_t)(m->slots[j] - 1) * rec;
		if ((uint32_t)p[0] == state && memcmp(p + 1, bits, m->words * 8) == 0)
			return 0;
	}
	if (m->nrec == m->caprec) {
		size_t nc = m->caprec ? m->caprec * 2 : 1024;
		if (nc * rec * 8 + m->nslots * sizeof(uint32_t) > m->max_bytes)
			return -1;
		m->arena = xrealloc(m->arena, nc * rec * 8);
		m->caprec = nc;
	}
	uint64_t *p = m->arena + m->nrec * rec;
	p[0] = state;
	memcpy(p + 1, bits, m->words * 8);
	m->slots[j] = (uint32_t)(++m->nrec);
	return 1;
}

static void memo_free(struct memo *m)
{
	free(m->arena);
	free(m->slots);
}

/* The register model. */
static bool step(const struct pop *o, uint32_t s, uint32_t *ns)
{
	*ns = s;
	switch (o->kind) {
	case LIN_PUT:
		*ns = o->val;
		return true;
	case LIN_DEL:
		*ns = 0;
		return true;
	case LIN_GET:
		return s == o->obs;
	case LIN_CAS:
		if (o->result == LIN_OK) {
			if (s != o->exp)
				return false;
			*ns = o->val;
			return true;
		}
		if (o->result == LIN_FAIL)
			return s != o->exp && (!o->obs_known || s == o->obs);
		if (s == o->exp)   /* unknown: applies when the compare holds here */
			*ns = o->val;
		return true;
	}
	return false;
}

/* Interns values per key: 0 is "absent". */
struct interner {
	struct kc_map ids;       /* value -> (void *)(uintptr_t)id */
	const char **names;      /* id -> value (borrowed), names[0] = NULL */
	size_t n, cap;
};

static uint32_t intern(struct interner *in, const char *v)
{
	if (!v)
		return 0;
	void *p = kc_map_sget(&in->ids, v);
	if (p)
		return (uint32_t)(uintptr_t)p;
	if (in->n == in->cap) {
		in->cap = kc_grow_cap(in->cap, in->n + 1, sizeof(*in->names));
		in->names = xrealloc(in->names, in->cap * sizeof(*in->names));
	}
	in->names[in->n] = v;
	uint32_t id = (uint32_t)in->n++;
	kc_map_sput(&in->ids, v, (void *)(uintptr_t)id);
	return id;
}

static const char *state_name(const struct interner *in, uint32_t s)
{
	return s == 0 ? "<absent>" : in->names[s];
}

static void describe_op(struct kc_str *out, const struct lin_op *o)
{
	kc_str_addf(out, "client %" PRId64 " %s(", o->client, kind_name(o->kind));
	if (o->kind == LIN_CAS) {
		kc_str_addf(out, "%s -> ", o->expected ? o->expected : "<absent>");
	}
	if (o->kind == LIN_PUT || o->kind == LIN_CAS)
		kc_str_adds(out, o->value);
	kc_str_addf(out, ") %s", result_name(o->result));
	if (o->observed_known)
		kc_str_addf(out, " observed=%s", o->observed ? o->observed : "<absent>");
	if (o->revision)
		kc_str_addf(out, " rev=%" PRId64, o->revision);
	kc_str_addf(out, " [%.6f s .. ", (double)o->invoke_ns / 1e9);
	if (o->complete_ns == INT64_MAX)
		kc_str_adds(out, "never]");
	else
		kc_str_addf(out, "%.6f s]", (double)o->complete_ns / 1e9);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->call != y->call)
		return x->call ? -1 : 1;   /* equal times: concurrent */
	return x->op < y->op ? -1 : x->op > y->op;
}

/* Drops unknown writes nobody observed (see the DESIGN note); compacts ops in place. */
static size_t prune_unknown(struct pop *ops, size_t n, size_t nvalues)
{
	bool *seen = xcalloc(nvalues + 1, 1);
	bool blind = false;
	for (size_t i = 0; i < n; i++) {
		const struct pop *o = &ops[i];
		if (o->kind == LIN_GET)
			seen[o->obs] = true;
		else if (o->kind == LIN_CAS && o->result == LIN_OK)
			seen[o->exp] = true;
		else if (o->kind == LIN_CAS && o->result == LIN_UNKNOWN)
			seen[o->exp] = true;
		else if (o->kind == LIN_CAS && o->result == LIN_FAIL) {
			if (o->obs_known)
				seen[o->obs] = true;
			else
				blind = true;
		}
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct pop *o = &ops[i];
		bool drop = !blind && o->result == LIN_UNKNOWN &&
			    (o->kind == LIN_PUT || o->kind == LIN_CAS) && !seen[o->val];
		drop = drop || (!blind && o->result == LIN_UNKNOWN && o->kind == LIN_DEL && !seen[0]);
		if (!drop)
			ops[k++] = ops[i];
	}
	free(seen);
	return k;
}

struct frame {
	struct entry *e;
	uint32_t state;
};

struct key_check {
	const char *key;
	struct pop *ops;
	size_t n;
	struct interner in;
	uint64_t *steps;
	uint64_t max_steps;
	size_t max_cache;
	/* the longest prefix found */
	uint32_t *best;
	size_t nbest;
	uint32_t stuck;        /* op that could not be placed after best */
	bool have_stuck;
};

static void lift(struct entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	struct entry *m = e->match;
	m->prev->next = m->next;
	if (m->next)
		m->next->prev = m->prev;
}

static void unlift(struct entry *e)
{
	struct entry *m = e->match;
	m->prev->next = m;
	if (m->next)
		m->next->prev = m;
	e->prev->next = e;
	e->next->prev = e;
}

/* Returns LIN_LINEARIZABLE, LIN_VIOLATION or LIN_INCONCLUSIVE. */
static enum lin_verdict search(struct key_check *kc)
{
	size_t n = kc->n;
	struct entry *ev = xcalloc(2 * n, sizeof(*ev));
	for (size_t i = 0; i < n; i++) {
		ev[2 * i] = (struct entry){ .time = kc->ops[i].src->invoke_ns, .op = (uint32_t)i,
					    .call = true };
		ev[2 * i + 1] = (struct entry){ .time = kc->ops[i].src->complete_ns,
						.op = (uint32_t)i };
		if (kc->ops[i].result == LIN_UNKNOWN)
			ev[2 * i + 1].time = INT64_MAX;
	}
	qsort(ev, 2 * n, sizeof(*ev), cmp_entry);
	struct entry **callof = xcalloc(n, sizeof(*callof));
	struct entry **retof = xcalloc(n, sizeof(*retof));
	for (size_t i = 0; i < 2 * n; i++) {
		if (ev[i].call)
			callof[ev[i].op] = &ev[i];
		else
			retof[ev[i].op] = &ev[i];
	}
	for (size_t i = 0; i < n; i++)
		callof[i]->match = retof[i];
	struct entry head = { 0 };
	struct entry *prev = &head;
	for (size_t i = 0; i < 2 * n; i++) {
		prev->next = &ev[i];
		ev[i].prev = prev;
		prev = &ev[i];
	}
	size_t definite = 0;
	for (size_t i = 0; i < n; i++)
		definite += kc->ops[i].result != LIN_UNKNOWN;

	struct memo memo = { .words = (n + 63) / 64, .max_bytes = kc->max_cache };
	uint64_t *bits = xcalloc(memo.words ? memo.words : 1, 8);
	struct frame *stack = xcalloc(n ? n : 1, sizeof(*stack));
	size_t depth = 0;
	uint32_t state = 0;
	enum lin_verdict verdict = LIN_LINEARIZABLE;
	kc->best = xcalloc(n ? n : 1, sizeof(*kc->best));
	kc->nbest = 0;

	struct entry *e = head.next;
	while (definite > 0) {
		if (++*kc->steps > kc->max_steps) {
			verdict = LIN_INCONCLUSIVE;
			break;
		}
		if (e->call) {
			const struct pop *o = &kc->ops[e->op];
			uint32_t ns;
			if (step(o, state, &ns)) {
				bits[e->op / 64] |= 1ull << (e->op % 64);
				int r = memo_insert(&memo, bits, ns);
				if (r < 0) {
					verdict = LIN_INCONCLUSIVE;
					break;
				}
				if (r > 0) {
					stack[depth++] = (struct frame){ e, state };
					state = ns;
					definite -= o->result != LIN_UNKNOWN;
					lift(e);
					e = head.next;
					continue;
				}
				bits[e->op / 64] &= ~(1ull << (e->op % 64));
			}
			e = e->next;
			continue;
		}
		/* a completion before its operation was placed: dead end */
		if (depth >= kc->nbest && (depth > kc->nbest || !kc->have_stuck)) {
			for (size_t i = 0; i < depth; i++)
				kc->best[i] = stack[i].e->op;
			kc->nbest = depth;
			kc->stuck = e->op;
			kc->have_stuck = true;
		}
		if (depth == 0) {
			verdict = LIN_VIOLATION;
			break;
		}
		struct frame f = stack[--depth];
		state = f.state;
		bits[f.e->op / 64] &= ~(1ull << (f.e->op % 64));
		definite += kc->ops[f.e->op].result != LIN_UNKNOWN;
		unlift(f.e);
		e = f.e->next;
	}
	free(stack);
	free(bits);
	memo_free(&memo);
	free(callof);
	free(retof);
	free(ev);
	return verdict;
}

static int cmp_by_invoke(const void *a, const void *b)
{
	const struct lin_op *x = *(const struct lin_op *const *)a;
	const struct lin_op *y = *(const struct lin_op *const *)b;
	if (x->invoke_ns != y->invoke_ns)
		return x->invoke_ns < y->invoke_ns ? -1 : 1;
	return x < y ? -1 : x > y;
}

static void report_failure(struct key_check *kc, enum lin_verdict v, struct kc_str *out)
{
	if (v == LIN_INCONCLUSIVE) {
		kc_str_addf(out, "key %s: search budget exhausted after %zu operations placed of %zu\n",
			    kc->key, kc->nbest, kc->n);
	} else {
		kc_str_addf(out, "key %s: not linearizable (%zu operations)\n", kc->key, kc->n);
	}
	if (!kc->have_stuck)
		return;
	uint32_t s = 0, ns;
	for (size_t i = 0; i < kc->nbest; i++) {
		step(&kc->ops[kc->best[i]], s, &ns);
		s = ns;
	}
	size_t from = kc->nbest > REPORT_TAIL ? kc->nbest - REPORT_TAIL : 0;
	kc_str_addf(out, "  longest linearization found: %zu operations%s\n", kc->nbest,
		    from ? ", ending:" : ":");
	for (size_t i = from; i < kc->nbest; i++) {
		kc_str_adds(out, "    ");
		describe_op(out, kc->ops[kc->best[i]].src);
		kc_str_addc(out, '\n');
	}
	const struct lin_op *st = kc->ops[kc->stuck].src;
	kc_str_addf(out, "  state after it: %s\n  then this operation cannot be placed: ",
		    state_name(&kc->in, s));
	describe_op(out, st);
	kc_str_adds(out, "\n  operations of this key overlapping it or completing just before:\n");
	/* those whose interval meets [invoke of the stuck one - 1 s, its completion] */
	const struct lin_op **near = xcalloc(kc->n, sizeof(*near));
	size_t nn = 0;
	int64_t lo = st->invoke_ns - 1000000000;
	for (size_t i = 0; i < kc->n; i++) {
		const struct lin_op *o = kc->ops[i].src;
		if (o->invoke_ns <= st->complete_ns && o->complete_ns >= lo)
			near[nn++] = o;
	}
	qsort(near, nn, sizeof(*near), cmp_by_invoke);
	size_t skip = nn > REPORT_AROUND ? nn - REPORT_AROUND : 0;
	if (skip)
		kc_str_addf(out, "    (%zu earlier ones left out)\n", skip);
	for (size_t i = skip; i < nn; i++) {
		kc_str_adds(out, near[i] == st ? "  > " : "    ");
		describe_op(out, near[i]);
		kc_str_addc(out, '\n');
	}
	free(near);
}

struct keyed {
	const char *key;
	size_t idx;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int lin_check(const struct lin_history *h, const struct lin_limits *lim, struct lin_report *out)
{
	memset(out, 0, sizeof(*out));
	kc_str_init(&out->detail);
	out->verdict = LIN_LINEARIZABLE;
	uint64_t max_steps = lim && lim->max_steps ? lim->max_steps : DEFAULT_MAX_STEPS;
	size_t max_cache = lim && lim->max_cache_bytes ? lim->max_cache_bytes : DEFAULT_MAX_CACHE;
	struct keyed *ks = xcalloc(h->n ? h->n : 1, sizeof(*ks));
	for (size_t i = 0; i < h->n; i++)
		ks[i] = (struct keyed){ h->ops[i].key, i };
	qsort(ks, h->n, sizeof(*ks), cmp_keyed);
	struct pop *ops = xcalloc(h->n ? h->n : 1, sizeof(*ops));
	for (size_t i = 0; i < h->n;) {
		size_t j = i;
		while (j < h->n && strcmp(ks[j].key, ks[i].key) == 0)
			j++;
		struct key_check kc = { .key = ks[i].key, .ops = ops, .steps = &out->steps,
					.max_steps = max_steps, .max_cache = max_cache };
		kc_map_init(&kc.in.ids, NULL);
		intern(&kc.in, "");   /* reserve id 0; absent is 0, "" gets its own id below */
		kc_map_sdel(&kc.in.ids, "");
		size_t n = 0;
		for (size_t k = i; k < j; k++) {
			const struct lin_op *o = &h->ops[ks[k].idx];
			if (o->kind == LIN_GET && o->result != LIN_OK)
				continue;   /* no effect and nothing learned */
			if ((o->kind == LIN_PUT || o->kind == LIN_DEL) && o->result == LIN_FAIL)
				continue;   /* definitely no effect */
			ops[n++] = (struct pop){
				.src = o, .kind = o->kind, .result = o->result,
				.val = o->kind == LIN_PUT || o->kind == LIN_CAS ? intern(&kc.in, o->value) : 0,
				.exp = o->kind == LIN_CAS ? intern(&kc.in, o->expected) : 0,
				.obs = o->observed_known ? intern(&kc.in, o->observed) : 0,
				.obs_known = o->observed_known,
			};
		}
		n = prune_unknown(ops, n, kc.in.n);
		kc.n = n;
		out->keys++;
		out->ops += n;
		enum lin_verdict v = search(&kc);
		if (v != LIN_LINEARIZABLE) {
			out->verdict = v;
			out->key = xstrdup(kc.key);
			report_failure(&kc, v, &out->detail);
		}
		free(kc.best);
		kc_map_free(&kc.in.ids);
		free(kc.in.names);
		if (v != LIN_LINEARIZABLE)
			break;
		i = j;
	}
	free(ops);
	free(ks);
	return 0;
}

void lin_report_free(struct lin_report *r)
{
	if (!r)
		return;
	free(r->key);
	kc_str_free(&r->detail);
	memset(r, 0, sizeof(*r));
}
