/* tar.c - streaming tar reader.
 *
 * DESIGN: the reader owns a 512-byte header block, the strings of the current entry and the
 * pending PAX/GNU overrides; it never holds a member's data (tar_read passes it through). Every
 * header is checksummed; numbers are octal or GNU base-256; PAX records are parsed with their own
 * length prefix and checked against the declared header size. Overrides from 'x', 'L' and 'K'
 * headers apply to the next real member only; 'g' (global) headers are validated and ignored, as
 * container tools do. Not thread-safe: one reader, one thread. */
#include "runtime/tar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/str.h"

#define BLOCK 512

#define DEF_MAX_PATH	    4096
#define DEF_MAX_PAX	    (1u << 20)
#define DEF_MAX_XATTRS	    128
#define DEF_MAX_XATTR_VALUE (64u << 10)
#define DEF_MAX_ENTRIES	    1000000
#define DEF_MAX_SIZE	    ((uint64_t)64 << 30)

struct tar_reader {
	struct tar_source *src;
	struct tar_limits lim;
	int state;	       /* 0 running, 1 ended, <0 failed with that code */
	struct kc_err failure; /* repeated after a failure */
	uint64_t remaining;    /* data bytes of the current member not yet read */
	uint64_t padding;      /* zero bytes after them up to the block boundary */
	uint64_t nentries;
	uint64_t headers; /* all headers, extensions included (bounded with max_entries) */
	struct tar_entry e;
	/* pending overrides for the next member */
	char *pax_path, *pax_linkpath, *gnu_path, *gnu_linkpath;
	bool has_size, has_uid, has_gid, has_mtime;
	uint64_t pax_size;
	uint32_t pax_uid, pax_gid;
	int64_t pax_mtime;
	uint32_t pax_mtime_nsec;
	struct tar_xattr *xattrs;
	size_t nxattrs;
};

/* ---- sources ---- */

static ssize_t mem_read(struct tar_source *s, void *buf, size_t n, struct kc_err *err)
{
	struct tar_mem_source *m = (struct tar_mem_source *)s;
	size_t left = m->len - m->pos;
	if (n > left)
		n = left;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

void tar_mem_source_init(struct tar_mem_source *m, const void *data, size_t len)
{
	m->src.read = mem_read;
	m->data = data;
	m->len = len;
	m->pos = 0;
}

/* ---- reader ---- */

struct tar_reader *tar_reader_new(struct tar_source *src, const struct tar_limits *lim)
{
	struct tar_reader *r = xcalloc(1, sizeof(*r));
	r->src = src;
	if (lim)
		r->lim = *lim;
	if (!r->lim.max_path)
		r->lim.max_path = DEF_MAX_PATH;
	if (!r->lim.max_pax)
		r->lim.max_pax = DEF_MAX_PAX;
	if (!r->lim.max_xattrs)
		r->lim.max_xattrs = DEF_MAX_XATTRS;
	if (!r->lim.max_xattr_value)
		r->lim.max_xattr_value = DEF_MAX_XATTR_VALUE;
	if (!r->lim.max_entries)
		r->lim.max_entries = DEF_MAX_ENTRIES;
	if (!r->lim.max_size)
		r->lim.max_size = DEF_MAX_SIZE;
	r->e.path = xstrdup("");
	r->e.linkpath = xstrdup("");
	return r;
}

static void free_xattrs(struct tar_xattr *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

static void clear_pending(struct tar_reader *r)
{
	free(r->pax_path);
	free(r->pax_linkpath);
	free(r->gnu_path);
	free(r->gnu_linkpath);
	r->pax_path = r->pax_linkpath = r->gnu_path = r->gnu_linkpath = NULL;
	r->has_size = r->has_uid = r->has_gid = r->has_mtime = false;
	free_xattrs(r->xattrs, r->nxattrs);
	r->xattrs = NULL;
	r->nxattrs = 0;
}

static void clear_entry(struct tar_reader *r)
{
	free(r->e.path);
	free(r->e.linkpath);
	free_xattrs(r->e.xattrs, r->e.nxattrs);
	memset(&r->e, 0, sizeof(r->e));
}

void tar_reader_free(struct tar_reader *r)
{
	if (!r)
		return;
	clear_pending(r);
	clear_entry(r);
	free(r);
}

uint64_t tar_entries(const struct tar_reader *r)
{
	return r->nentries;
}

static int fail(struct tar_reader *r, struct kc_err *err, int code, const char *fmt,
		const char *arg)
{
	kc_err_set(&r->failure, code, fmt, arg);
	r->state = code;
	if (err)
		*err = r->failure;
	return code;
}

/* Reads exactly n bytes. Returns 1, 0 when the input ended before the first byte, or <0. A short
 * read after the first byte is -KC_EPARSE. */
static int read_full(struct tar_reader *r, void *buf, size_t n, struct kc_err *err)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = r->src->read(r->src, (char *)buf + got, n - got, err);
		if (k < 0)
			return (int)k;
		if (k == 0) {
			if (got == 0)
				return 0;
			return kc_err_set(err, -KC_EPARSE, "tar: truncated input");
		}
		got += (size_t)k;
	}
	return 1;
}

static int skip_bytes(struct tar_reader *r, uint64_t n, struct kc_err *err)
{
	char buf[8192];
	while (n > 0) {
		size_t want = n > sizeof(buf) ? sizeof(buf) : (size_t)n;
		int rc = read_full(r, buf, want, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return kc_err_set(err, -KC_EPARSE, "tar: truncated member data");
		n -= want;
	}
	return 0;
}

/* Parses a numeric header field: octal (NUL/space padded) or GNU base-256 (high bit set; the
 * second-highest bit marks a negative number, accepted only when allow_neg). */
static int parse_num(const unsigned char *f, size_t n, bool allow_neg, int64_t *out)
{
	if (n > 0 && (f[0] & 0x80)) {
		/* big-endian two's complement over the field, marker bit cleared */
		unsigned char inv = (f[0] & 0x40) ? 0xff : 0;
		if (inv && !allow_neg)
			return -1;
		uint64_t x = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = f[i] ^ inv;
			if (i == 0)
				c &= 0x7f;
			if (x >> 56)
				return -1;
			x = (x << 8) | c;
		}
		if (x >> 63)
			return -1;
		*out = inv ? ~(int64_t)x : (int64_t)x;
		return 0;
	}
	size_t i = 0;
	while (i < n && (f[i] == ' ' || f[i] == 0))
		i++;
	uint64_t v = 0;
	for (; i < n; i++) {
		if (f[i] >= '0' && f[i] <= '7') {
			if (v > (UINT64_MAX >> 4))
				return -1;
			v = v * 8 + (uint64_t)(f[i] - '0');
		} else if (f[i] == ' ' || f[i] == 0) {
			for (; i < n; i++)
				if (f[i] != ' ' && f[i] != 0)
					return -1;
			break;
		} else {
			return -1;
		}
	}
	if (v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static bool is_zero_block(const unsigned char *b)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (b[i])
			return false;
	return true;
}

static bool checksum_ok(const unsigned char *b)
{
	int64_t stored;
	if (parse_num(b + 148, 8, false, &stored) < 0)
		return false;
	uint64_t u = 0;
	int64_t s = 0;
	for (size_t i = 0; i < BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : b[i];
		u += c;
		s += (signed char)c;
	}
	return (int64_t)u == stored || s == stored;
}

/* Copies a NUL-padded field. */
static char *field_str(const unsigned char *f, size_t n)
{
	size_t len = strnlen((const char *)f, n);
	return xstrndup((const char *)f, len);
}

/* Reads a whole extension body (PAX or GNU long name) of 'size' bytes plus padding. */
static int read_ext(struct tar_reader *r, uint64_t size, char **out, struct kc_err *err)
{
	if (size > r->lim.max_pax)
		return kc_err_set(err, -KC_ELIMIT,
				  "tar: extended header of %llu bytes over the limit",
				  (unsigned long long)size);
	char *buf = xmalloc((size_t)size + 1);
	int rc = size ? read_full(r, buf, (size_t)size, err) : 1;
	if (rc == 0)
		rc = kc_err_set(err, -KC_EPARSE, "tar: truncated extended header");
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[size] = 0;
	uint64_t pad = (BLOCK - size % BLOCK) % BLOCK;
	rc = skip_bytes(r, pad, err);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

/* Decimal seconds with an optional fraction ("1700000000.123456789", may be negative). */
static int parse_pax_time(const char *v, int64_t *sec, uint32_t *nsec)
{
	const char *p = v;
	bool neg = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!(*p >= '0' && *p <= '9'))
		return -1;
	int64_t s = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (s > (INT64_MAX - 9) / 10)
			return -1;
		s = s * 10 + (*p - '0');
	}
	uint32_t ns = 0;
	if (*p == '.') {
		p++;
		int digits = 0;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (digits < 9) {
				ns = ns * 10 + (uint32_t)(*p - '0');
				digits++;
			}
		}
		for (; digits < 9; digits++)
			ns *= 10;
	}
	if (*p)
		return -1;
	if (neg) {
		/* -1.5 means 1.5 s before the epoch */
		s = -s;
		if (ns) {
			s -= 1;
			ns = 1000000000u - ns;
		}
	}
	*sec = s;
	*nsec = ns;
	return 0;
}

static int parse_pax_uint(const char *v, uint64_t max, uint64_t *out)
{
	if (!*v)
		return -1;
	uint64_t x = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (x > (max - (uint64_t)(*p - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*out = x;
	return 0;
}

/* Applies the records of a PAX header ("%d key=value\n"). Global headers are only validated. */
static int parse_pax(struct tar_reader *r, const char *buf, size_t len, bool global,
		     struct kc_err *err)
{
	size_t pos = 0;
	while (pos < len) {
		/* some writers pad with NULs */
		if (buf[pos] == 0) {
			for (; pos < len; pos++)
				if (buf[pos])
					return kc_err_set(err, -KC_EPARSE,
							  "tar: PAX header: data after padding");
			break;
		}
		size_t reclen = 0, i = pos;
		while (i < len && buf[i] >= '0' && buf[i] <= '9') {
			reclen = reclen * 10 + (size_t)(buf[i] - '0');
			if (reclen > len)
				return kc_err_set(err, -KC_EPARSE,
						  "tar: PAX record length too large");
			i++;
		}
		if (i == pos || i >= len || buf[i] != ' ' || reclen < (i - pos) + 4 ||
		    reclen > len - pos || buf[pos + reclen - 1] != '\n')
			return kc_err_set(err, -KC_EPARSE,
					  "tar: malformed PAX record at offset %zu", pos);
		const char *key = buf + i + 1;
		const char *end = buf + pos + reclen - 1; /* the '\n' */
		const char *eq = memchr(key, '=', (size_t)(end - key));
		if (!eq || eq == key)
			return kc_err_set(err, -KC_EPARSE,
					  "tar: PAX record without key at offset %zu", pos);
		size_t klen = (size_t)(eq - key);
		const char *val = eq + 1;
		size_t vlen = (size_t)(end - val);
		pos += reclen;
		if (memchr(key, 0, klen))
			return kc_err_set(err, -KC_EPARSE, "tar: NUL in a PAX key");
		if (global)
			continue;
#define KEYIS(s) (klen == sizeof(s) - 1 && memcmp(key, s, klen) == 0)
		if (klen >= 11 && memcmp(key, "GNU.sparse.", 11) == 0)
			return kc_err_set(err, -KC_EUNSUPPORTED,
					  "tar: GNU sparse files are not supported");
		if (klen > 12 && memcmp(key, "SCHILY.xattr.", 13) == 0) {
			if (r->nxattrs >= r->lim.max_xattrs)
				return kc_err_set(err, -KC_ELIMIT,
						  "tar: more than %zu xattrs on one entry",
						  r->lim.max_xattrs);
			if (vlen > r->lim.max_xattr_value)
				return kc_err_set(err, -KC_ELIMIT, "tar: xattr value of %zu bytes",
						  vlen);
			if (klen == 13)
				return kc_err_set(err, -KC_EPARSE, "tar: empty xattr name");
			r->xattrs = xrealloc(r->xattrs, (r->nxattrs + 1) * sizeof(*r->xattrs));
			struct tar_xattr *x = &r->xattrs[r->nxattrs++];
			x->name = xstrndup(key + 13, klen - 13);
			x->value = xmemdup(val, vlen ? vlen : 1);
			x->len = vlen;
			continue;
		}
		/* The remaining keys hold text: no NUL inside. */
		if (memchr(val, 0, vlen))
			return kc_err_set(err, -KC_EPARSE, "tar: NUL in a PAX value");
		char *v = xstrndup(val, vlen);
		int bad = 0;
		if (KEYIS("path")) {
			if (vlen > r->lim.max_path)
				bad = 2;
			else {
				free(r->pax_path);
				r->pax_path = v;
				v = NULL;
			}
		} else if (KEYIS("linkpath")) {
			if (vlen > r->lim.max_path)
				bad = 2;
			else {
				free(r->pax_linkpath);
				r->pax_linkpath = v;
				v = NULL;
			}
		} else if (KEYIS("size")) {
			uint64_t x = 0;
			if (parse_pax_uint(v, INT64_MAX, &x) < 0)
				bad = 1;
			r->pax_size = x;
			r->has_size = !bad;
		} else if (KEYIS("uid") || KEYIS("gid")) {
			uint64_t x;
			if (parse_pax_uint(v, UINT32_MAX, &x) < 0) {
				bad = 1;
			} else if (KEYIS("uid")) {
				r->pax_uid = (uint32_t)x;
				r->has_uid = true;
			} else {
				r->pax_gid = (uint32_t)x;
				r->has_gid = true;
			}
		} else if (KEYIS("mtime")) {
			if (parse_pax_time(v, &r->pax_mtime, &r->pax_mtime_nsec) < 0)
				bad = 1;
			else
				r->has_mtime = true;
		}
#undef KEYIS
		free(v);
		if (bad == 2)
			return kc_err_set(err, -KC_ELIMIT, "tar: PAX path longer than %zu bytes",
					  r->lim.max_path);
		if (bad)
			return kc_err_set(err, -KC_EPARSE, "tar: malformed PAX value for \"%.*s\"",
					  (int)(klen > 40 ? 40 : klen), key);
	}
	return 0;
}

static int next_inner(struct tar_reader *r, struct kc_err *err)
{
	int rc = skip_bytes(r, r->remaining + r->padding, err);
	if (rc < 0)
		return rc;
	r->remaining = r->padding = 0;
	clear_entry(r);

	unsigned char b[BLOCK];
	for (;;) {
		rc = read_full(r, b, BLOCK, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			clear_pending(r);
			return 0; /* clean end at a header boundary */
		}
		if (is_zero_block(b)) {
			/* end of archive: a second zero block, or EOF */
			unsigned char b2[BLOCK];
			rc = read_full(r, b2, BLOCK, err);
			if (rc < 0)
				return rc;
			if (rc == 1 && !is_zero_block(b2))
				return kc_err_set(err, -KC_EPARSE, "tar: data after a zero block");
			clear_pending(r);
			return 0;
		}
		if (!checksum_ok(b))
			return kc_err_set(err, -KC_EPARSE,
					  "tar: header checksum mismatch (entry %llu)",
					  (unsigned long long)r->nentries + 1);
		if (++r->headers > r->lim.max_entries * 2 + 16 || r->nentries >= r->lim.max_entries)
			return kc_err_set(err, -KC_ELIMIT, "tar: more than %llu entries",
					  (unsigned long long)r->lim.max_entries);
		bool posix = memcmp(b + 257, "ustar\0", 6) == 0;
		bool gnu = memcmp(b + 257, "ustar  \0", 8) == 0;
		char type = (char)b[156];
		int64_t size;
		if (parse_num(b + 124, 12, false, &size) < 0)
			return kc_err_set(err, -KC_EPARSE, "tar: bad size field");

		if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
			char *body = NULL;
			rc = read_ext(r, (uint64_t)size, &body, err);
			if (rc < 0)
				return rc;
			if (type == 'x' || type == 'g') {
				rc = parse_pax(r, body, (size_t)size, type == 'g', err);
			} else {
				size_t len = strnlen(body, (size_t)size);
				if (len > r->lim.max_path) {
					rc = kc_err_set(err, -KC_ELIMIT,
							"tar: GNU long name over %zu bytes",
							r->lim.max_path);
				} else {
					char **slot = type == 'L' ? &r->gnu_path : &r->gnu_linkpath;
					free(*slot);
					*slot = xstrndup(body, len);
				}
			}
			free(body);
			if (rc < 0)
				return rc;
			continue;
		}

		enum tar_type t;
		switch (type) {
		case '0':
		case '\0':
		case '7':
			t = TAR_REG;
			break;
		case '1':
			t = TAR_LINK;
			break;
		case '2':
			t = TAR_SYMLINK;
			break;
		case '3':
			t = TAR_CHR;
			break;
		case '4':
			t = TAR_BLK;
			break;
		case '5':
			t = TAR_DIR;
			break;
		case '6':
			t = TAR_FIFO;
			break;
		case 'S':
			return kc_err_set(err, -KC_EUNSUPPORTED,
					  "tar: GNU sparse files are not supported");
		case 'M':
		case 'V':
			return kc_err_set(err, -KC_EUNSUPPORTED,
					  "tar: multi-volume archives are not supported");
		default:
			return kc_err_set(err, -KC_EUNSUPPORTED,
					  "tar: unsupported member type 0x%02x",
					  (unsigned char)type);
		}

		struct tar_entry *e = &r->e;
		e->type = t;
		int64_t v;
		if (parse_num(b + 100, 8, false, &v) < 0)
			return kc_err_set(err, -KC_EPARSE, "tar: bad mode field");
		e->mode = (uint32_t)v & 07777;
		if (parse_num(b + 108, 8, false, &v) < 0 || v > UINT32_MAX)
			return kc_err_set(err, -KC_EPARSE, "tar: bad uid field");
		e->uid = (uint32_t)v;
		if (parse_num(b + 116, 8, false, &v) < 0 || v > UINT32_MAX)
			return kc_err_set(err, -KC_EPARSE, "tar: bad gid field");
		e->gid = (uint32_t)v;
		if (parse_num(b + 136, 12, true, &v) < 0)
			return kc_err_set(err, -KC_EPARSE, "tar: bad mtime field");
		e->mtime = v;
		if (t == TAR_CHR || t == TAR_BLK) {
			int64_t ma, mi;
			if (parse_num(b + 329, 8, false, &ma) < 0 ||
			    parse_num(b + 337, 8, false, &mi) < 0 || ma > 0xfff || mi > 0xfffff)
				return kc_err_set(err, -KC_EPARSE, "tar: bad device numbers");
			e->devmajor = (uint32_t)ma;
			e->devminor = (uint32_t)mi;
		}
		uint64_t dsize = (uint64_t)size;
		if (r->has_size)
			dsize = r->pax_size;
		if (r->has_uid)
			e->uid = r->pax_uid;
		if (r->has_gid)
			e->gid = r->pax_gid;
		if (r->has_mtime) {
			e->mtime = r->pax_mtime;
			e->mtime_nsec = r->pax_mtime_nsec;
		}
		/* path: PAX, then GNU long name, then ustar prefix + name */
		if (r->pax_path) {
			e->path = r->pax_path;
			r->pax_path = NULL;
		} else if (r->gnu_path) {
			e->path = r->gnu_path;
			r->gnu_path = NULL;
		} else {
			char *name = field_str(b, 100);
			if (posix && !gnu && b[345]) {
				char *prefix = field_str(b + 345, 155);
				e->path = xasprintf("%s/%s", prefix, name);
				free(prefix);
				free(name);
			} else {
				e->path = name;
			}
		}
		if (r->pax_linkpath) {
			e->linkpath = r->pax_linkpath;
			r->pax_linkpath = NULL;
		} else if (r->gnu_linkpath) {
			e->linkpath = r->gnu_linkpath;
			r->gnu_linkpath = NULL;
		} else {
			e->linkpath = field_str(b + 157, 100);
		}
		e->xattrs = r->xattrs;
		e->nxattrs = r->nxattrs;
		r->xattrs = NULL;
		r->nxattrs = 0;
		clear_pending(r);

		if (e->path[0] == 0)
			return kc_err_set(err, -KC_EPARSE, "tar: member with an empty name");
		if (strlen(e->path) > r->lim.max_path)
			return kc_err_set(err, -KC_ELIMIT, "tar: path longer than %zu bytes",
					  r->lim.max_path);
		if ((t == TAR_LINK || t == TAR_SYMLINK) && e->linkpath[0] == 0)
			return kc_err_set(err, -KC_EPARSE, "tar: link \"%.200s\" without a target",
					  e->path);
		if (t != TAR_LINK && t != TAR_SYMLINK)
			e->linkpath[0] = 0;
		/* Links, directories, devices and fifos are header-only: their size field is
		 * ignored (no data follows them), as Go's archive/tar and GNU tar read them. */
		if (t != TAR_REG)
			dsize = 0;
		if (dsize > r->lim.max_size)
			return kc_err_set(err, -KC_ELIMIT,
					  "tar: member of %llu bytes over the limit",
					  (unsigned long long)dsize);
		r->remaining = dsize;
		r->padding = (BLOCK - dsize % BLOCK) % BLOCK;
		e->size = dsize;
		r->nentries++;
		return 1;
	}
}

int tar_next(struct tar_reader *r, const struct tar_entry **out, struct kc_err *err)
{
	*out = NULL;
	if (r->state == 1)
		return 0;
	if (r->state < 0) {
		if (err)
			*err = r->failure;
		return r->state;
	}
	struct kc_err local = {0};
	int rc = next_inner(r, &local);
	if (rc < 0) {
		r->failure = local;
		r->failure.code = rc;
		r->state = rc;
		if (err)
			*err = r->failure;
		return rc;
	}
	if (rc == 0) {
		r->state = 1;
		return 0;
	}
	*out = &r->e;
	return 1;
}

ssize_t tar_read(struct tar_reader *r, void *buf, size_t n, struct kc_err *err)
{
	if (r->state < 0) {
		if (err)
			*err = r->failure;
		return r->state;
	}
	if (r->remaining == 0 || n == 0)
		return 0;
	if (n > r->remaining)
		n = (size_t)r->remaining;
	ssize_t k = r->src->read(r->src, buf, n, err);
	if (k == 0)
		return fail(r, err, -KC_EPARSE, "tar: truncated data of \"%.200s\"", r->e.path);
	if (k < 0) {
		r->state = (int)k;
		if (err)
			r->failure = *err;
		r->failure.code = (int)k;
		return k;
	}
	r->remaining -= (uint64_t)k;
	return k;
}
