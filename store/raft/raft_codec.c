/* DESIGN: the wire and storage forms of raft messages, entries and configurations: the one
 * place where raft data is parsed from untrusted bytes.
 *
 * Format (version 1), integers as unsigned LEB128 varints unless marked u8:
 *   message      := u8 version=1, u8 type, u8 flags (1 reject, 2 transfer, 4 snapshot),
 *                   term, from, to, index, log_term, commit, reject_hint, ctx,
 *                   n_entries, entry-body * n_entries, [snapshot-body when flag 4]
 *   entry-body   := term, index, u8 type, len, len bytes
 *   snapshot-body:= index, term, conf, len, len bytes
 *   conf         := n (<= RAFT_MAX_MEMBERS), (id, u8 role) * n
 *   entry        := u8 version=1, entry-body              (for storage)
 *   conf-change  := u8 version=1, u8 change type, node id (0 iff bootstrap), ctx_len, ctx bytes,
 *                   conf
 * The decoder is strict so that the encoding is canonical: minimal varints only, no unknown
 * versions/types/flags/roles, entries only in APPEND and a snapshot exactly in SNAPSHOT,
 * member ids nonzero and unique, nothing after the end. Lengths and counts are checked against
 * the remaining input and the limits before any allocation, so a short hostile input cannot
 * make it allocate much more than its own size. Pure functions; any thread. */
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "lib/str.h"
#include "store/raft/raft_int.h"

#define CODEC_VERSION 1
#define FLAG_REJECT 1u
#define FLAG_TRANSFER 2u
#define FLAG_SNAPSHOT 4u
#define MIN_ENTRY_BYTES 4 /* term, index, type, len: one byte each at least */

const struct raft_codec_limits raft_codec_default_limits = {
	.max_entries = 10000,
	.max_entry_bytes = RAFT_MAX_ENTRY_BYTES,
	.max_snapshot_bytes = (size_t)1 << 30,
};

/* ---- encoding ----------------------------------------------------------------------------- */

static void put_u8(struct kc_str *out, uint8_t v)
{
	kc_str_add(out, &v, 1);
}

static void put_varint(struct kc_str *out, uint64_t v)
{
	uint8_t buf[10];
	size_t n = 0;
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		buf[n++] = v ? (uint8_t)(b | 0x80) : b;
	} while (v);
	kc_str_add(out, buf, n);
}

static void put_bytes(struct kc_str *out, const uint8_t *p, size_t n)
{
	put_varint(out, n);
	if (n)
		kc_str_add(out, p, n);
}

static void put_entry_body(struct kc_str *out, const struct raft_entry *e)
{
	put_varint(out, e->term);
	put_varint(out, e->index);
	put_u8(out, (uint8_t)e->type);
	put_bytes(out, e->data, e->len);
}

static void put_conf(struct kc_str *out, const struct raft_conf *c)
{
	put_varint(out, c->n);
	for (size_t i = 0; i < c->n; i++) {
		put_varint(out, c->members[i].id);
		put_u8(out, (uint8_t)c->members[i].role);
	}
}

void raft_msg_encode(const struct raft_msg *m, struct kc_str *out)
{
	uint8_t flags = (m->reject ? FLAG_REJECT : 0) | (m->transfer ? FLAG_TRANSFER : 0) |
			(m->snapshot ? FLAG_SNAPSHOT : 0);
	put_u8(out, CODEC_VERSION);
	put_u8(out, (uint8_t)m->type);
	put_u8(out, flags);
	put_varint(out, m->term);
	put_varint(out, m->from);
	put_varint(out, m->to);
	put_varint(out, m->index);
	put_varint(out, m->log_term);
	put_varint(out, m->commit);
	put_varint(out, m->reject_hint);
	put_varint(out, m->ctx);
	put_varint(out, m->n_entries);
	for (size_t i = 0; i < m->n_entries; i++)
		put_entry_body(out, &m->entries[i]);
	if (m->snapshot) {
		put_varint(out, m->snapshot->meta.index);
		put_varint(out, m->snapshot->meta.term);
		put_conf(out, &m->snapshot->meta.conf);
		put_bytes(out, m->snapshot->data, m->snapshot->len);
	}
}

void raft_entry_encode(const struct raft_entry *e, struct kc_str *out)
{
	put_u8(out, CODEC_VERSION);
	put_entry_body(out, e);
}

void raft_conf_encode(const struct raft_conf *conf, struct kc_str *out)
{
	put_u8(out, CODEC_VERSION);
	put_conf(out, conf);
}

void raft_conf_change_encode(const struct raft_conf_change *cc, const struct raft_conf *result,
			     struct kc_str *out)
{
	put_u8(out, CODEC_VERSION);
	put_u8(out, (uint8_t)cc->type);
	put_varint(out, cc->node_id);
	put_bytes(out, cc->context, cc->context_len);
	put_conf(out, result);
}

/* ---- decoding ----------------------------------------------------------------------------- */

struct reader {
	const uint8_t *p;
	size_t n;
	struct kc_err *err;
};

static int get_u8(struct reader *d, uint8_t *v, const char *what)
{
	*v = 0;
	if (d->n < 1)
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: truncated %s", what);
	*v = d->p[0];
	d->p++;
	d->n--;
	return 0;
}

static int get_varint(struct reader *d, uint64_t *v, const char *what)
{
	uint64_t x = 0;
	*v = 0;
	for (size_t i = 0; i < 10; i++) {
		if (i >= d->n)
			return kc_err_set(d->err, -KC_EPARSE, "raft codec: truncated %s", what);
		uint8_t b = d->p[i];
		if (i == 9 && b > 1)
			return kc_err_set(d->err, -KC_EPARSE, "raft codec: %s overflows", what);
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return kc_err_set(d->err, -KC_EPARSE,
						  "raft codec: non-minimal varint in %s", what);
			d->p += i + 1;
			d->n -= i + 1;
			*v = x;
			return 0;
		}
	}
	return kc_err_set(d->err, -KC_EPARSE, "raft codec: %s overflows", what);
}

/* A length-prefixed byte string, borrowed from the input, at most 'max' long. */
static int get_bytes(struct reader *d, size_t max, const uint8_t **p, size_t *len,
		     const char *what)
{
	uint64_t n;
	*p = NULL;
	*len = 0;
	int rc = get_varint(d, &n, what);
	if (rc)
		return rc;
	if (n > max)
		return kc_err_set(d->err, -KC_ELIMIT, "raft codec: %s of %llu bytes over limit %zu",
				  what, (unsigned long long)n, max);
	if (n > d->n)
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: truncated %s", what);
	*p = n ? d->p : NULL;
	*len = (size_t)n;
	d->p += n;
	d->n -= (size_t)n;
	return 0;
}

static int get_entry_body(struct reader *d, const struct raft_codec_limits *lim,
			  struct raft_entry *e)
{
	uint8_t type;
	const uint8_t *data;
	int rc;
	if ((rc = get_varint(d, &e->term, "entry term")) ||
	    (rc = get_varint(d, &e->index, "entry index")) || (rc = get_u8(d, &type, "entry type")))
		return rc;
	if (type < RAFT_ENTRY_NORMAL || type > RAFT_ENTRY_CONF)
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: unknown entry type %u", type);
	e->type = (enum raft_entry_type)type;
	if ((rc = get_bytes(d, lim->max_entry_bytes, &data, &e->len, "entry data")))
		return rc;
	e->data = e->len ? xmemdup(data, e->len) : NULL;
	return 0;
}

static int get_conf(struct reader *d, struct raft_conf *c)
{
	uint64_t n;
	int rc = get_varint(d, &n, "member count");
	if (rc)
		return rc;
	if (n > RAFT_MAX_MEMBERS)
		return kc_err_set(d->err, -KC_ELIMIT, "raft codec: %llu members over limit %d",
				  (unsigned long long)n, RAFT_MAX_MEMBERS);
	memset(c, 0, sizeof *c);
	c->n = (size_t)n;
	for (size_t i = 0; i < c->n; i++) {
		uint8_t role;
		if ((rc = get_varint(d, &c->members[i].id, "member id")) ||
		    (rc = get_u8(d, &role, "member role")))
			return rc;
		if (role != RAFT_VOTER && role != RAFT_LEARNER)
			return kc_err_set(d->err, -KC_EPARSE, "raft codec: unknown member role %u",
					  role);
		c->members[i].role = (enum raft_member_role)role;
	}
	if (!raft_conf_valid(c))
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: member id 0 or duplicated");
	return 0;
}

static int get_version(struct reader *d)
{
	uint8_t v;
	int rc = get_u8(d, &v, "version");
	if (rc)
		return rc;
	if (v != CODEC_VERSION)
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: unsupported version %u", v);
	return 0;
}

static int expect_end(struct reader *d)
{
	if (d->n)
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: %zu trailing bytes", d->n);
	return 0;
}

static int decode_msg(struct reader *d, const struct raft_codec_limits *lim, struct raft_msg *m)
{
	uint8_t type, flags;
	uint64_t n;
	int rc;
	if ((rc = get_version(d)) || (rc = get_u8(d, &type, "message type")) ||
	    (rc = get_u8(d, &flags, "flags")))
		return rc;
	if (type < RAFT_MSG_APPEND || type > RAFT_MSG_TYPE_MAX)
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: unknown message type %u", type);
	if (flags & ~(FLAG_REJECT | FLAG_TRANSFER | FLAG_SNAPSHOT))
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: unknown flags 0x%x", flags);
	if (!(flags & FLAG_SNAPSHOT) != (type != RAFT_MSG_SNAPSHOT))
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: snapshot flag on %s",
				  raft_msg_type_name((enum raft_msg_type)type));
	m->type = (enum raft_msg_type)type;
	m->reject = flags & FLAG_REJECT;
	m->transfer = flags & FLAG_TRANSFER;
	if ((rc = get_varint(d, &m->term, "term")) || (rc = get_varint(d, &m->from, "from")) ||
	    (rc = get_varint(d, &m->to, "to")) || (rc = get_varint(d, &m->index, "index")) ||
	    (rc = get_varint(d, &m->log_term, "log term")) ||
	    (rc = get_varint(d, &m->commit, "commit")) ||
	    (rc = get_varint(d, &m->reject_hint, "reject hint")) ||
	    (rc = get_varint(d, &m->ctx, "ctx")) || (rc = get_varint(d, &n, "entry count")))
		return rc;
	if (n && type != RAFT_MSG_APPEND)
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: entries in a %s message",
				  raft_msg_type_name(m->type));
	if (n > lim->max_entries)
		return kc_err_set(d->err, -KC_ELIMIT, "raft codec: %llu entries over limit %zu",
				  (unsigned long long)n, lim->max_entries);
	if (n > d->n / MIN_ENTRY_BYTES)
		return kc_err_set(d->err, -KC_EPARSE, "raft codec: truncated entries");
	if (n) {
		m->entries = xcalloc((size_t)n, sizeof *m->entries);
		for (size_t i = 0; i < n; i++) {
			m->n_entries = i + 1; /* so that raft_msg_free sees what was decoded */
			if ((rc = get_entry_body(d, lim, &m->entries[i])))
				return rc;
		}
	}
	if (flags & FLAG_SNAPSHOT) {
		struct raft_snapshot *s = xcalloc(1, sizeof *s);
		const uint8_t *data;
		m->snapshot = s;
		if ((rc = get_varint(d, &s->meta.index, "snapshot index")) ||
		    (rc = get_varint(d, &s->meta.term, "snapshot term")) ||
		    (rc = get_conf(d, &s->meta.conf)) ||
		    (rc = get_bytes(d, lim->max_snapshot_bytes, &data, &s->len, "snapshot data")))
			return rc;
		s->data = s->len ? xmemdup(data, s->len) : NULL;
	}
	return expect_end(d);
}

int raft_msg_decode(const void *buf, size_t len, const struct raft_codec_limits *limits,
		    struct raft_msg *m, struct kc_err *err)
{
	struct reader d = {.p = buf, .n = len, .err = err};
	memset(m, 0, sizeof *m);
	int rc = decode_msg(&d, limits ? limits : &raft_codec_default_limits, m);
	if (rc)
		raft_msg_free(m);
	return rc;
}

int raft_entry_decode(const void *buf, size_t len, const struct raft_codec_limits *limits,
		      struct raft_entry *e, struct kc_err *err)
{
	struct reader d = {.p = buf, .n = len, .err = err};
	memset(e, 0, sizeof *e);
	int rc = get_version(&d);
	if (!rc)
		rc = get_entry_body(&d, limits ? limits : &raft_codec_default_limits, e);
	if (!rc)
		rc = expect_end(&d);
	if (rc) {
		free(e->data);
		memset(e, 0, sizeof *e);
	}
	return rc;
}

int raft_conf_decode(const void *buf, size_t len, struct raft_conf *conf, struct kc_err *err)
{
	struct reader d = {.p = buf, .n = len, .err = err};
	int rc = get_version(&d);
	if (!rc)
		rc = get_conf(&d, conf);
	if (!rc)
		rc = expect_end(&d);
	if (rc)
		memset(conf, 0, sizeof *conf);
	return rc;
}

int raft_conf_change_decode(const void *buf, size_t len, struct raft_conf_change *cc,
			    struct raft_conf *result, struct kc_err *err)
{
	struct reader d = {.p = buf, .n = len, .err = err};
	uint8_t type;
	int rc;
	memset(cc, 0, sizeof *cc);
	if ((rc = get_version(&d)) || (rc = get_u8(&d, &type, "change type")))
		goto fail;
	if (type < RAFT_CC_ADD_LEARNER || type > RAFT_CC_BOOTSTRAP) {
		rc = kc_err_set(err, -KC_EPARSE, "raft codec: unknown change type %u", type);
		goto fail;
	}
	cc->type = (enum raft_conf_change_type)type;
	if ((rc = get_varint(&d, &cc->node_id, "node id")) ||
	    (rc = get_bytes(&d, RAFT_MAX_CONF_CONTEXT, &cc->context, &cc->context_len,
			    "change context")) ||
	    (rc = get_conf(&d, result)) || (rc = expect_end(&d)))
		goto fail;
	if ((cc->node_id == RAFT_NONE) != (cc->type == RAFT_CC_BOOTSTRAP)) {
		rc = kc_err_set(err, -KC_EPARSE, "raft codec: bad node id for change %u", type);
		goto fail;
	}
	return 0;
fail:
	memset(cc, 0, sizeof *cc);
	memset(result, 0, sizeof *result);
	return rc;
}
