/* DESIGN: the one parser of store commands (STYLE rule 12). Pure functions, no I/O, no state:
 * any thread. Encoding v1 is
 *
 *   cmd     = version:u8(=1) type:u8 body
 *   put     = flags:u8(prev_kv|ignore_value<<1|ignore_lease<<2) key:bytes value:bytes lease:s
 *   delete  = flags:u8(prev_kv) key:bytes range_end:bytes
 *   txn     = n:u compare*n  n:u op*n (success)  n:u op*n (failure)
 *   compare = target:u8 result:u8 key:bytes range_end:bytes (value:bytes | number:s)
 *   op      = kind:u8 (1 range, 2 put, 3 delete, 4 txn) body
 *   range   = flags:u8(keys_only|count_only<<1) order:u8 target:u8 key:bytes range_end:bytes
 *             revision:s limit:s
 *   compact = revision:s        grant = id:s ttl:s      revoke = id:s     checkpoint = id:s rem:s
 *   bytes   = length:u data      u = LEB128 varint      s = zigzag LEB128 varint
 *
 * Invariants: the decoder accepts exactly what the encoder produces (canonical varints, known
 * flags and enums, no trailing bytes), both run the same validation (validate_cmd), and decoded
 * byte fields point into the caller's buffer. Everything a decoded command allocates comes from
 * one arena freed by mvcc_cmd_free, and its size is bounded by MVCC_TXN_OPS_MAX before any
 * allocation. New command types get new type bytes; a new layout of an existing one gets a new
 * version byte, so a log written by an older kc always decodes. */
#include "store/mvcc.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/map.h"
#include "lib/vec.h"

#define CMD_VERSION 1
#define MAX_TTL 9000000000LL   /* etcd's MaxLeaseTTL, seconds */

const char *mvcc_strerror(int code)
{
	switch (code < 0 ? -code : code) {
#define MVCC_ERR_CASE(name, value, text)                                                           \
	case value:                                                                                \
		return text;
		MVCC_ERR_TABLE(MVCC_ERR_CASE)
#undef MVCC_ERR_CASE
	default:
		return kc_strerror(code);
	}
}

/* ---------------------------------------------------------------------------------------------
 * keys */

int mvcc_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static bool is_open_end(const void *end, size_t len)
{
	return len == 1 && ((const uint8_t *)end)[0] == 0;
}

bool mvcc_key_in_range(const void *k, size_t klen, const void *key, size_t key_len,
		       const void *range_end, size_t range_end_len)
{
	if (range_end_len == 0)
		return klen == key_len && (klen == 0 || memcmp(k, key, klen) == 0);
	if (mvcc_key_cmp(k, klen, key, key_len) < 0)
		return false;
	return is_open_end(range_end, range_end_len) ||
	       mvcc_key_cmp(k, klen, range_end, range_end_len) < 0;
}

size_t mvcc_prefix_end(const void *prefix, size_t len, uint8_t *out)
{
	const uint8_t *p = prefix;
	for (size_t i = len; i-- > 0;) {
		if (p[i] < 0xff) {
			memcpy(out, p, i);
			out[i] = (uint8_t)(p[i] + 1);
			return i + 1;
		}
	}
	out[0] = 0;
	return 1;
}

/* ---------------------------------------------------------------------------------------------
 * validation shared by encoder and decoder */

static int check_key(const void *key, size_t len, const char *what, struct kc_err *err)
{
	(void)key;
	if (len == 0)
		return kc_err_set(err, -MVCC_EEMPTY_KEY, "%s", mvcc_strerror(-MVCC_EEMPTY_KEY));
	if (len > MVCC_KEY_MAX)
		return kc_err_set(err, -KC_ELIMIT, "%s of %zu bytes exceeds %u", what, len,
				  MVCC_KEY_MAX);
	return 0;
}

static int check_range_end(size_t len, struct kc_err *err)
{
	if (len > MVCC_KEY_MAX)
		return kc_err_set(err, -KC_ELIMIT, "range_end of %zu bytes exceeds %u", len,
				  MVCC_KEY_MAX);
	return 0;
}

static int check_put(const struct mvcc_put_req *p, struct kc_err *err)
{
	int rc = check_key(p->key, p->key_len, "key", err);
	if (rc < 0)
		return rc;
	if (p->value_len > MVCC_CMD_MAX)
		return kc_err_set(err, -KC_ELIMIT, "value of %zu bytes exceeds %u", p->value_len,
				  MVCC_CMD_MAX);
	if (p->lease < 0)
		return kc_err_set(err, -KC_EINVAL, "negative lease id %lld", (long long)p->lease);
	if (p->ignore_value && p->value_len)
		return kc_err_set(err, -MVCC_EVALUE_PROVIDED, "%s",
				  mvcc_strerror(-MVCC_EVALUE_PROVIDED));
	if (p->ignore_lease && p->lease)
		return kc_err_set(err, -MVCC_ELEASE_PROVIDED, "%s",
				  mvcc_strerror(-MVCC_ELEASE_PROVIDED));
	return 0;
}

static int check_delete(const struct mvcc_delete_req *d, struct kc_err *err)
{
	int rc = check_key(d->key, d->key_len, "key", err);
	return rc < 0 ? rc : check_range_end(d->range_end_len, err);
}

static int check_range(const struct mvcc_range_req *r, struct kc_err *err)
{
	int rc = check_key(r->key, r->key_len, "key", err);
	if (rc < 0 || (rc = check_range_end(r->range_end_len, err)) < 0)
		return rc;
	if (r->revision < 0 || r->limit < 0)
		return kc_err_set(err, -KC_EINVAL, "negative revision or limit in range");
	if ((unsigned)r->sort_order > MVCC_SORT_DESCEND || (unsigned)r->sort_target > MVCC_SORT_VALUE)
		return kc_err_set(err, -KC_EINVAL, "unknown sort order %d or target %d",
				  (int)r->sort_order, (int)r->sort_target);
	return 0;
}

static int check_compare(const struct mvcc_compare *c, struct kc_err *err)
{
	int rc = check_key(c->key, c->key_len, "compare key", err);
	if (rc < 0 || (rc = check_range_end(c->range_end_len, err)) < 0)
		return rc;
	if ((unsigned)c->target > MVCC_CMP_LEASE || (unsigned)c->result > MVCC_CMP_NOT_EQUAL)
		return kc_err_set(err, -KC_EINVAL, "unknown compare target %d or result %d",
				  (int)c->target, (int)c->result);
	if (c->target != MVCC_CMP_VALUE && c->value_len)
		return kc_err_set(err, -KC_EINVAL, "compare value given for a numeric target");
	if (c->target == MVCC_CMP_VALUE && c->number)
		return kc_err_set(err, -KC_EINVAL, "compare number given for a value target");
	if (c->value_len > MVCC_CMD_MAX)
		return kc_err_set(err, -KC_ELIMIT, "compare value too large");
	return 0;
}

/* etcd's checkIntervals: within one branch no key is put twice and no put key lies in a deleted
 * range; a nested txn's two branches may put the same key (only one runs). */
struct interval {
	const void *key;
	size_t key_len;
	const void *end;
	size_t end_len;
};

struct keysets {
	struct kc_map puts;     /* key -> (void *)1 */
	struct kc_vec dels;     /* struct interval */
};

static void keysets_init(struct keysets *k)
{
	kc_map_init(&k->puts, NULL);
	kc_vec_init(&k->dels, sizeof(struct interval));
}

static void keysets_free(struct keysets *k)
{
	kc_map_free(&k->puts);
	kc_vec_free(&k->dels);
}

static bool dels_hit(const struct kc_vec *dels, const void *k, size_t klen)
{
	for (size_t i = 0; i < dels->len; i++) {
		const struct interval *iv = kc_vec_at(dels, i);
		if (mvcc_key_in_range(k, klen, iv->key, iv->key_len, iv->end, iv->end_len))
			return true;
	}
	return false;
}

static int dup_key(struct kc_err *err)
{
	return kc_err_set(err, -MVCC_EDUP_KEY, "%s", mvcc_strerror(-MVCC_EDUP_KEY));
}

static int check_branch(const struct mvcc_op *ops, size_t n, struct keysets *out,
			struct kc_err *err);

/* Merges one nested branch's sets into out; 'other' is the sibling branch's puts (may be
 * NULL) whose keys may repeat. */
static int merge_nested(struct keysets *out, struct keysets *in, const struct kc_map *safe,
			struct kc_err *err)
{
	size_t pos = 0;
	const void *k;
	size_t klen;
	while (kc_map_next(&in->puts, &pos, &k, &klen, NULL)) {
		if (kc_map_has(&out->puts, k, klen) && !(safe && kc_map_has(safe, k, klen)))
			return dup_key(err);
		if (dels_hit(&out->dels, k, klen))
			return dup_key(err);
		kc_map_put(&out->puts, k, klen, (void *)1);
	}
	return 0;
}

static int check_branch(const struct mvcc_op *ops, size_t n, struct keysets *out,
			struct kc_err *err)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		const struct mvcc_delete_req *d = &ops[i].u.del;
		if (ops[i].type == MVCC_OP_DELETE)
			kc_vec_push(&out->dels, &(struct interval){ d->key, d->key_len, d->range_end,
								    d->range_end_len });
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (ops[i].type != MVCC_OP_TXN)
			continue;
		const struct mvcc_txn_req *t = ops[i].u.txn;
		struct keysets then, els;
		keysets_init(&then);
		keysets_init(&els);
		rc = check_branch(t->success, t->nsuccess, &then, err);
		if (rc == 0)
			rc = check_branch(t->failure, t->nfailure, &els, err);
		if (rc == 0)
			rc = merge_nested(out, &then, NULL, err);
		if (rc == 0)
			rc = merge_nested(out, &els, &then.puts, err);
		for (size_t j = 0; rc == 0 && j < then.dels.len; j++)
			kc_vec_push(&out->dels, kc_vec_at(&then.dels, j));
		for (size_t j = 0; rc == 0 && j < els.dels.len; j++)
			kc_vec_push(&out->dels, kc_vec_at(&els.dels, j));
		keysets_free(&then);
		keysets_free(&els);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct mvcc_put_req *p = &ops[i].u.put;
		if (ops[i].type != MVCC_OP_PUT)
			continue;
		if (kc_map_has(&out->puts, p->key, p->key_len) ||
		    dels_hit(&out->dels, p->key, p->key_len))
			return dup_key(err);
		kc_map_put(&out->puts, p->key, p->key_len, (void *)1);
	}
	return rc;
}

static int check_ops(const struct mvcc_op *ops, size_t n, unsigned depth, size_t *budget,
		     struct kc_err *err);

static int check_txn(const struct mvcc_txn_req *t, unsigned depth, size_t *budget,
		     struct kc_err *err)
{
	if (depth > MVCC_TXN_DEPTH_MAX)
		return kc_err_set(err, -KC_ELIMIT, "txn nested deeper than %u", MVCC_TXN_DEPTH_MAX);
	if (t->ncompares > *budget)
		return kc_err_set(err, -MVCC_ETOO_MANY_OPS, "%s", mvcc_strerror(-MVCC_ETOO_MANY_OPS));
	*budget -= t->ncompares;
	for (size_t i = 0; i < t->ncompares; i++) {
		int rc = check_compare(&t->compares[i], err);
		if (rc < 0)
			return rc;
	}
	int rc = check_ops(t->success, t->nsuccess, depth, budget, err);
	if (rc < 0 || (rc = check_ops(t->failure, t->nfailure, depth, budget, err)) < 0)
		return rc;
	if (depth > 1)
		return 0;   /* the outermost txn checks the whole tree for duplicates */
	struct keysets k;
	keysets_init(&k);
	rc = check_branch(t->success, t->nsuccess, &k, err);
	keysets_free(&k);
	if (rc < 0)
		return rc;
	keysets_init(&k);
	rc = check_branch(t->failure, t->nfailure, &k, err);
	keysets_free(&k);
	return rc;
}

static int check_ops(const struct mvcc_op *ops, size_t n, unsigned depth, size_t *budget,
		     struct kc_err *err)
{
	if (n > *budget)
		return kc_err_set(err, -MVCC_ETOO_MANY_OPS, "%s", mvcc_strerror(-MVCC_ETOO_MANY_OPS));
	*budget -= n;
	for (size_t i = 0; i < n; i++) {
		int rc;
		switch (ops[i].type) {
		case MVCC_OP_RANGE:
			rc = check_range(&ops[i].u.range, err);
			break;
		case MVCC_OP_PUT:
			rc = check_put(&ops[i].u.put, err);
			break;
		case MVCC_OP_DELETE:
			rc = check_delete(&ops[i].u.del, err);
			break;
		case MVCC_OP_TXN:
			rc = ops[i].u.txn ? check_txn(ops[i].u.txn, depth + 1, budget, err)
					  : kc_err_set(err, -KC_EINVAL, "txn op without a txn");
			break;
		default:
			rc = kc_err_set(err, -KC_EINVAL, "unknown op type %d", (int)ops[i].type);
			break;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int validate_cmd(const struct mvcc_cmd *c, struct kc_err *err)
{
	size_t budget = MVCC_TXN_OPS_MAX;
	switch (c->type) {
	case MVCC_CMD_PUT:
		return check_put(&c->u.put, err);
	case MVCC_CMD_DELETE:
		return check_delete(&c->u.del, err);
	case MVCC_CMD_TXN:
		return check_txn(&c->u.txn, 1, &budget, err);
	case MVCC_CMD_COMPACT:
		if (c->u.compact.revision < 1)
			return kc_err_set(err, -KC_EINVAL, "compact revision must be >= 1");
		return 0;
	case MVCC_CMD_LEASE_GRANT:
		if (c->u.lease_grant.id <= 0)
			return kc_err_set(err, -KC_EINVAL, "lease id must be > 0");
		if (c->u.lease_grant.ttl < 1 || c->u.lease_grant.ttl > MAX_TTL)
			return kc_err_set(err, -KC_EINVAL, "lease ttl %lld out of [1, %lld]",
					  (long long)c->u.lease_grant.ttl, MAX_TTL);
		return 0;
	case MVCC_CMD_LEASE_REVOKE:
		if (c->u.lease_revoke.id <= 0)
			return kc_err_set(err, -KC_EINVAL, "lease id must be > 0");
		return 0;
	case MVCC_CMD_LEASE_CHECKPOINT:
		if (c->u.lease_checkpoint.id <= 0)
			return kc_err_set(err, -KC_EINVAL, "lease id must be > 0");
		if (c->u.lease_checkpoint.remaining < 0 || c->u.lease_checkpoint.remaining > MAX_TTL)
			return kc_err_set(err, -KC_EINVAL, "lease remaining ttl out of range");
		return 0;
	}
	return kc_err_set(err, -KC_EUNSUPPORTED, "unknown command type %d", (int)c->type);
}

/* ---------------------------------------------------------------------------------------------
 * encoder */

static void put_u8(struct kc_str *s, unsigned v)
{
	kc_str_addc(s, (char)(uint8_t)v);
}

static void put_uvarint(struct kc_str *s, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;
	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	kc_str_add(s, b, n);
}

static void put_svarint(struct kc_str *s, int64_t v)
{
	uint64_t u = (uint64_t)v << 1;
	put_uvarint(s, v < 0 ? ~u : u);
}

static void put_bytes(struct kc_str *s, const void *p, size_t n)
{
	put_uvarint(s, n);
	if (n)
		kc_str_add(s, p, n);
}

static void enc_range(struct kc_str *s, const struct mvcc_range_req *r)
{
	put_u8(s, (r->keys_only ? 1u : 0u) | (r->count_only ? 2u : 0u));
	put_u8(s, r->sort_order);
	put_u8(s, r->sort_target);
	put_bytes(s, r->key, r->key_len);
	put_bytes(s, r->range_end, r->range_end_len);
	put_svarint(s, r->revision);
	put_svarint(s, r->limit);
}

static void enc_put(struct kc_str *s, const struct mvcc_put_req *p)
{
	put_u8(s, (p->prev_kv ? 1u : 0u) | (p->ignore_value ? 2u : 0u) |
			  (p->ignore_lease ? 4u : 0u));
	put_bytes(s, p->key, p->key_len);
	put_bytes(s, p->value, p->value_len);
	put_svarint(s, p->lease);
}

static void enc_delete(struct kc_str *s, const struct mvcc_delete_req *d)
{
	put_u8(s, d->prev_kv ? 1u : 0u);
	put_bytes(s, d->key, d->key_len);
	put_bytes(s, d->range_end, d->range_end_len);
}

static void enc_txn(struct kc_str *s, const struct mvcc_txn_req *t);

static void enc_ops(struct kc_str *s, const struct mvcc_op *ops, size_t n)
{
	put_uvarint(s, n);
	for (size_t i = 0; i < n; i++) {
		put_u8(s, ops[i].type);
		switch (ops[i].type) {
		case MVCC_OP_RANGE:
			enc_range(s, &ops[i].u.range);
			break;
		case MVCC_OP_PUT:
			enc_put(s, &ops[i].u.put);
			break;
		case MVCC_OP_DELETE:
			enc_delete(s, &ops[i].u.del);
			break;
		case MVCC_OP_TXN:
			enc_txn(s, ops[i].u.txn);
			break;
		}
	}
}

static void enc_txn(struct kc_str *s, const struct mvcc_txn_req *t)
{
	put_uvarint(s, t->ncompares);
	for (size_t i = 0; i < t->ncompares; i++) {
		const struct mvcc_compare *c = &t->compares[i];
		put_u8(s, c->target);
		put_u8(s, c->result);
		put_bytes(s, c->key, c->key_len);
		put_bytes(s, c->range_end, c->range_end_len);
		if (c->target == MVCC_CMP_VALUE)
			put_bytes(s, c->value, c->value_len);
		else
			put_svarint(s, c->number);
	}
	enc_ops(s, t->success, t->nsuccess);
	enc_ops(s, t->failure, t->nfailure);
}

int mvcc_cmd_encode(struct kc_str *out, const struct mvcc_cmd *cmd, struct kc_err *err)
{
	int rc = validate_cmd(cmd, err);
	if (rc < 0)
		return rc;
	size_t start = out->len;
	put_u8(out, CMD_VERSION);
	put_u8(out, cmd->type);
	switch (cmd->type) {
	case MVCC_CMD_PUT:
		enc_put(out, &cmd->u.put);
		break;
	case MVCC_CMD_DELETE:
		enc_delete(out, &cmd->u.del);
		break;
	case MVCC_CMD_TXN:
		enc_txn(out, &cmd->u.txn);
		break;
	case MVCC_CMD_COMPACT:
		put_svarint(out, cmd->u.compact.revision);
		break;
	case MVCC_CMD_LEASE_GRANT:
		put_svarint(out, cmd->u.lease_grant.id);
		put_svarint(out, cmd->u.lease_grant.ttl);
		break;
	case MVCC_CMD_LEASE_REVOKE:
		put_svarint(out, cmd->u.lease_revoke.id);
		break;
	case MVCC_CMD_LEASE_CHECKPOINT:
		put_svarint(out, cmd->u.lease_checkpoint.id);
		put_svarint(out, cmd->u.lease_checkpoint.remaining);
		break;
	}
	if (out->len - start > MVCC_CMD_MAX) {
		kc_str_setlen(out, start);
		return kc_err_set(err, -KC_ELIMIT, "encoded command of %zu bytes exceeds %u",
				  out->len - start, MVCC_CMD_MAX);
	}
	return 0;
}

int mvcc_cmd_encode_put(struct kc_str *out, const struct mvcc_put_req *req, struct kc_err *err)
{
	struct mvcc_cmd c = { .type = MVCC_CMD_PUT, .u.put = *req };
	return mvcc_cmd_encode(out, &c, err);
}

int mvcc_cmd_encode_delete(struct kc_str *out, const struct mvcc_delete_req *req,
			   struct kc_err *err)
{
	struct mvcc_cmd c = { .type = MVCC_CMD_DELETE, .u.del = *req };
	return mvcc_cmd_encode(out, &c, err);
}

int mvcc_cmd_encode_txn(struct kc_str *out, const struct mvcc_txn_req *req, struct kc_err *err)
{
	struct mvcc_cmd c = { .type = MVCC_CMD_TXN, .u.txn = *req };
	return mvcc_cmd_encode(out, &c, err);
}

int mvcc_cmd_encode_compact(struct kc_str *out, int64_t revision, struct kc_err *err)
{
	struct mvcc_cmd c = { .type = MVCC_CMD_COMPACT, .u.compact.revision = revision };
	return mvcc_cmd_encode(out, &c, err);
}

int mvcc_cmd_encode_lease_grant(struct kc_str *out, int64_t id, int64_t ttl, struct kc_err *err)
{
	struct mvcc_cmd c = { .type = MVCC_CMD_LEASE_GRANT, .u.lease_grant = { id, ttl } };
	return mvcc_cmd_encode(out, &c, err);
}

int mvcc_cmd_encode_lease_revoke(struct kc_str *out, int64_t id, struct kc_err *err)
{
	struct mvcc_cmd c = { .type = MVCC_CMD_LEASE_REVOKE, .u.lease_revoke.id = id };
	return mvcc_cmd_encode(out, &c, err);
}

int mvcc_cmd_encode_lease_checkpoint(struct kc_str *out, int64_t id, int64_t remaining,
				     struct kc_err *err)
{
	struct mvcc_cmd c = { .type = MVCC_CMD_LEASE_CHECKPOINT,
			      .u.lease_checkpoint = { id, remaining } };
	return mvcc_cmd_encode(out, &c, err);
}

/* ---------------------------------------------------------------------------------------------
 * decoder */

struct arena_block {
	struct arena_block *next;
	max_align_t data[];
};

struct rd {
	const uint8_t *p;
	const uint8_t *end;
	struct arena_block *arena;
	size_t budget;           /* compares + ops still allowed */
	struct kc_err *err;
};

static void *arena_alloc(struct rd *r, size_t n, size_t elem)
{
	struct arena_block *b = xmalloc(sizeof *b + n * elem);   /* n * elem bounded by budget */
	memset(b->data, 0, n * elem);
	b->next = r->arena;
	r->arena = b;
	return b->data;
}

static int malformed(struct rd *r, const char *what)
{
	return kc_err_set(r->err, -KC_EPARSE, "malformed command: %s", what);
}

static int rd_u8(struct rd *r, unsigned *out)
{
	if (r->p >= r->end)
		return malformed(r, "truncated");
	*out = *r->p++;
	return 0;
}

static int rd_uvarint(struct rd *r, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0, i = 0; i < 10; i++, shift += 7) {
		if (r->p >= r->end)
			return malformed(r, "truncated varint");
		uint8_t b = *r->p++;
		if (i == 9 && b > 1)
			return malformed(r, "varint overflows 64 bits");
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return malformed(r, "overlong varint");
			*out = v;
			return 0;
		}
	}
	return malformed(r, "varint too long");
}

static int rd_svarint(struct rd *r, int64_t *out)
{
	uint64_t u;
	int rc = rd_uvarint(r, &u);
	if (rc < 0)
		return rc;
	*out = (u & 1) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
	return 0;
}

static int rd_bytes(struct rd *r, const void **p, size_t *n, size_t max)
{
	uint64_t len;
	int rc = rd_uvarint(r, &len);
	if (rc < 0)
		return rc;
	if (len > (uint64_t)(r->end - r->p))
		return malformed(r, "byte string past the end");
	if (len > max)
		return kc_err_set(r->err, -KC_ELIMIT, "byte string of %llu bytes exceeds %zu",
				  (unsigned long long)len, max);
	*p = len ? r->p : NULL;
	*n = (size_t)len;
	r->p += len;
	return 0;
}

static int rd_flags(struct rd *r, unsigned known, unsigned *out)
{
	int rc = rd_u8(r, out);
	if (rc == 0 && (*out & ~known))
		return malformed(r, "unknown flag bits");
	return rc;
}

static int dec_range(struct rd *r, struct mvcc_range_req *q)
{
	unsigned flags = 0, order = 0, target = 0;
	int rc;
	if ((rc = rd_flags(r, 3, &flags)) < 0 || (rc = rd_u8(r, &order)) < 0 ||
	    (rc = rd_u8(r, &target)) < 0 ||
	    (rc = rd_bytes(r, &q->key, &q->key_len, MVCC_KEY_MAX)) < 0 ||
	    (rc = rd_bytes(r, &q->range_end, &q->range_end_len, MVCC_KEY_MAX)) < 0 ||
	    (rc = rd_svarint(r, &q->revision)) < 0 || (rc = rd_svarint(r, &q->limit)) < 0)
		return rc;
	q->keys_only = flags & 1;
	q->count_only = (flags & 2) != 0;
	q->sort_order = (enum mvcc_sort_order)order;
	q->sort_target = (enum mvcc_sort_target)target;
	return check_range(q, r->err);
}

static int dec_put(struct rd *r, struct mvcc_put_req *p)
{
	unsigned flags = 0;
	int rc;
	if ((rc = rd_flags(r, 7, &flags)) < 0 ||
	    (rc = rd_bytes(r, &p->key, &p->key_len, MVCC_KEY_MAX)) < 0 ||
	    (rc = rd_bytes(r, &p->value, &p->value_len, MVCC_CMD_MAX)) < 0 ||
	    (rc = rd_svarint(r, &p->lease)) < 0)
		return rc;
	p->prev_kv = flags & 1;
	p->ignore_value = (flags & 2) != 0;
	p->ignore_lease = (flags & 4) != 0;
	return check_put(p, r->err);
}

static int dec_delete(struct rd *r, struct mvcc_delete_req *d)
{
	unsigned flags = 0;
	int rc;
	if ((rc = rd_flags(r, 1, &flags)) < 0 ||
	    (rc = rd_bytes(r, &d->key, &d->key_len, MVCC_KEY_MAX)) < 0 ||
	    (rc = rd_bytes(r, &d->range_end, &d->range_end_len, MVCC_KEY_MAX)) < 0)
		return rc;
	d->prev_kv = flags & 1;
	return check_delete(d, r->err);
}

/* Reads a count of compares or ops and charges it to the budget before anything is allocated. */
static int rd_count(struct rd *r, size_t *n)
{
	uint64_t v;
	int rc = rd_uvarint(r, &v);
	if (rc < 0)
		return rc;
	if (v > r->budget)
		return kc_err_set(r->err, -MVCC_ETOO_MANY_OPS, "%s",
				  mvcc_strerror(-MVCC_ETOO_MANY_OPS));
	if (v > (uint64_t)(r->end - r->p))
		return malformed(r, "count larger than the input");
	r->budget -= (size_t)v;
	*n = (size_t)v;
	return 0;
}

static int dec_txn(struct rd *r, struct mvcc_txn_req *t, unsigned depth);

static int dec_ops(struct rd *r, const struct mvcc_op **out, size_t *nout, unsigned depth)
{
	size_t n;
	int rc = rd_count(r, &n);
	if (rc < 0)
		return rc;
	struct mvcc_op *ops = n ? arena_alloc(r, n, sizeof *ops) : NULL;
	*out = ops;
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		unsigned kind = 0;
		if ((rc = rd_u8(r, &kind)) < 0)
			return rc;
		ops[i].type = (enum mvcc_op_type)kind;
		switch (kind) {
		case MVCC_OP_RANGE:
			rc = dec_range(r, &ops[i].u.range);
			break;
		case MVCC_OP_PUT:
			rc = dec_put(r, &ops[i].u.put);
			break;
		case MVCC_OP_DELETE:
			rc = dec_delete(r, &ops[i].u.del);
			break;
		case MVCC_OP_TXN: {
			if (depth + 1 > MVCC_TXN_DEPTH_MAX)
				return kc_err_set(r->err, -KC_ELIMIT, "txn nested deeper than %u",
						  MVCC_TXN_DEPTH_MAX);
			struct mvcc_txn_req *t = arena_alloc(r, 1, sizeof *t);
			ops[i].u.txn = t;
			rc = dec_txn(r, t, depth + 1);
			break;
		}
		default:
			return malformed(r, "unknown op kind");
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int dec_txn(struct rd *r, struct mvcc_txn_req *t, unsigned depth)
{
	size_t n;
	int rc = rd_count(r, &n);
	if (rc < 0)
		return rc;
	struct mvcc_compare *cmp = n ? arena_alloc(r, n, sizeof *cmp) : NULL;
	t->compares = cmp;
	t->ncompares = n;
	for (size_t i = 0; i < n; i++) {
		unsigned target = 0, result = 0;
		struct mvcc_compare *c = &cmp[i];
		if ((rc = rd_u8(r, &target)) < 0 || (rc = rd_u8(r, &result)) < 0 ||
		    (rc = rd_bytes(r, &c->key, &c->key_len, MVCC_KEY_MAX)) < 0 ||
		    (rc = rd_bytes(r, &c->range_end, &c->range_end_len, MVCC_KEY_MAX)) < 0)
			return rc;
		c->target = (enum mvcc_cmp_target)target;
		c->result = (enum mvcc_cmp_result)result;
		if (target == MVCC_CMP_VALUE)
			rc = rd_bytes(r, &c->value, &c->value_len, MVCC_CMD_MAX);
		else
			rc = rd_svarint(r, &c->number);
		if (rc < 0 || (rc = check_compare(c, r->err)) < 0)
			return rc;
	}
	if ((rc = dec_ops(r, &t->success, &t->nsuccess, depth)) < 0)
		return rc;
	return dec_ops(r, &t->failure, &t->nfailure, depth);
}

int mvcc_cmd_decode(const void *buf, size_t len, struct mvcc_cmd *out, struct kc_err *err)
{
	memset(out, 0, sizeof *out);
	struct rd r = { .p = buf, .end = (const uint8_t *)buf + len, .budget = MVCC_TXN_OPS_MAX,
			.err = err };
	unsigned version = 0, type = 0;
	int rc;
	if (len > MVCC_CMD_MAX)
		return kc_err_set(err, -KC_ELIMIT, "command of %zu bytes exceeds %u", len,
				  MVCC_CMD_MAX);
	if ((rc = rd_u8(&r, &version)) < 0 || (rc = rd_u8(&r, &type)) < 0)
		return rc;
	if (version != CMD_VERSION)
		return kc_err_set(err, -KC_EUNSUPPORTED, "command encoding version %u unknown",
				  version);
	out->type = (enum mvcc_cmd_type)type;
	switch (type) {
	case MVCC_CMD_PUT:
		rc = dec_put(&r, &out->u.put);
		break;
	case MVCC_CMD_DELETE:
		rc = dec_delete(&r, &out->u.del);
		break;
	case MVCC_CMD_TXN:
		rc = dec_txn(&r, &out->u.txn, 1);
		break;
	case MVCC_CMD_COMPACT:
		rc = rd_svarint(&r, &out->u.compact.revision);
		break;
	case MVCC_CMD_LEASE_GRANT:
		if ((rc = rd_svarint(&r, &out->u.lease_grant.id)) == 0)
			rc = rd_svarint(&r, &out->u.lease_grant.ttl);
		break;
	case MVCC_CMD_LEASE_REVOKE:
		rc = rd_svarint(&r, &out->u.lease_revoke.id);
		break;
	case MVCC_CMD_LEASE_CHECKPOINT:
		if ((rc = rd_svarint(&r, &out->u.lease_checkpoint.id)) == 0)
			rc = rd_svarint(&r, &out->u.lease_checkpoint.remaining);
		break;
	default:
		rc = kc_err_set(err, -KC_EUNSUPPORTED, "unknown command type %u", type);
		break;
	}
	if (rc == 0 && r.p != r.end)
		rc = malformed(&r, "trailing bytes");
	out->arena = r.arena;
	if (rc == 0)
		rc = validate_cmd(out, err);   /* duplicate keys need the whole tree */
	if (rc < 0)
		mvcc_cmd_free(out);
	return rc;
}

void mvcc_cmd_free(struct mvcc_cmd *cmd)
{
	if (!cmd)
		return;
	struct arena_block *b = cmd->arena;
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	memset(cmd, 0, sizeof *cmd);
}
