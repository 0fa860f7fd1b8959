/* tar.h - a streaming reader for the tar archives of container images (ustar, GNU long names and
 * links, PAX extended headers with path, linkpath, size, uid/gid, mtime and SCHILY.xattr.*), with
 * a limit on every length it accepts. It pulls bytes from a struct tar_source, which may be a
 * file, memory or a decompressor (runtime/tar_input.h). */
#ifndef KC_RUNTIME_TAR_H
#define KC_RUNTIME_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

/* A byte source, embedded in the caller's struct. read() fills up to n bytes and returns how many
 * (> 0), 0 at the end of the input, or a negative code with err set. */
struct tar_source {
	ssize_t (*read)(struct tar_source *s, void *buf, size_t n, struct kc_err *err);
};

/* A source over a memory buffer (borrowed). */
struct tar_mem_source {
	struct tar_source src;
	const unsigned char *data;
	size_t len;
	size_t pos;
};
void tar_mem_source_init(struct tar_mem_source *m, const void *data, size_t len);

/* Limits; a zero field takes the default named beside it. */
struct tar_limits {
	size_t max_path;	/* bytes of a path or link target: 4096 */
	size_t max_pax;		/* bytes of one PAX header or GNU long name/link block: 1 MiB */
	size_t max_xattrs;	/* SCHILY.xattr records per entry: 128 */
	size_t max_xattr_value; /* bytes of one xattr value: 64 KiB */
	uint64_t max_entries;	/* entries in the archive (headers of files, dirs, links...): 1e6 */
	uint64_t max_size;	/* size of one entry's data: 64 GiB */
};

enum tar_type {
	TAR_REG = 0, /* regular file ('0', '\0', '7') */
	TAR_LINK,    /* hard link to linkpath ('1') */
	TAR_SYMLINK, /* '2' */
	TAR_CHR,     /* '3' */
	TAR_BLK,     /* '4' */
	TAR_DIR,     /* '5' */
	TAR_FIFO,    /* '6' */
};

struct tar_xattr {
	char *name;	      /* e.g. "security.capability" */
	unsigned char *value; /* len bytes (binary; not NUL-terminated for the caller's use) */
	size_t len;
};

/* One archive member. Strings are NUL-terminated and owned by the reader: valid until the next
 * tar_next or tar_reader_free. */
struct tar_entry {
	enum tar_type type;
	char *path;	/* as stored (may start with "./" or "/", may hold ".."): callers
			    * clean and check it */
	char *linkpath; /* TAR_LINK and TAR_SYMLINK, else "" */
	uint64_t size;	/* data bytes (TAR_REG only; 0 for the others) */
	uint32_t mode;	/* permission bits incl. setuid/setgid/sticky (07777) */
	uint32_t uid, gid;
	int64_t mtime; /* seconds since the epoch */
	uint32_t mtime_nsec;
	uint32_t devmajor, devminor;
	struct tar_xattr *xattrs;
	size_t nxattrs;
};

struct tar_reader;

/* Creates a reader over src (borrowed; must outlive the reader). lim may be NULL. Never fails. */
struct tar_reader *tar_reader_new(struct tar_source *src, const struct tar_limits *lim);
void tar_reader_free(struct tar_reader *r);

/* Advances to the next member, skipping what is left of the current one's data. Returns 1 with
 * *out set (borrowed, see struct tar_entry), 0 at the end of the archive (two zero blocks, or the
 * input ending cleanly at a header boundary), or a negative code with err set: -KC_EPARSE
 * (bad checksum, number or PAX record, truncated input), -KC_ELIMIT (a limit), -KC_EUNSUPPORTED
 * (GNU sparse files, multi-volume archives, unknown member types) or the source's error. After
 * an error or the end, every further call returns the same result. */
int tar_next(struct tar_reader *r, const struct tar_entry **out, struct kc_err *err);

/* Reads up to n bytes of the current member's data. Returns the count (> 0), 0 when the data is
 * exhausted, or a negative code (-KC_EPARSE when the input ends early). */
ssize_t tar_read(struct tar_reader *r, void *buf, size_t n, struct kc_err *err);

/* Number of member headers returned so far. */
uint64_t tar_entries(const struct tar_reader *r);

#endif
