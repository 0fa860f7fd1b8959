/* http_parse.h - the one HTTP/1.1 message parser (RFC 9112): request and response heads, and
 * the chunked transfer coding. Used by the server and the client; fuzzed.
 *
 * Heads are parsed from a contiguous buffer holding at least the whole head; the parsed
 * structs point INTO that buffer (no copies), so it must outlive them. */
#ifndef KC_NET_HTTP_PARSE_H
#define KC_NET_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS_DEFAULT 100
#define HTTP_MAX_HEAD_DEFAULT (64 * 1024)

struct http_limits {
	size_t max_head_bytes;    /* request/status line + headers + CRLFCRLF; over it: 431 / error */
	unsigned max_headers;     /* over it: 431 */
	uint64_t max_body_bytes;  /* checked by the server against Content-Length and while reading
				   * chunked bodies: 413 */
};

struct http_slice {
	const char *p;
	size_t n;
};

struct http_header {
	struct http_slice name;
	struct http_slice value;  /* leading/trailing whitespace removed */
};

enum http_body_kind {
	HTTP_BODY_NONE = 0,       /* no body (e.g. GET without length, 204, 304, HEAD response) */
	HTTP_BODY_LENGTH,         /* Content-Length bytes follow */
	HTTP_BODY_CHUNKED,        /* Transfer-Encoding: chunked */
	HTTP_BODY_UNTIL_CLOSE,    /* responses only: read until the peer closes */
};

struct http_head {
	/* requests */
	struct http_slice method;
	struct http_slice target;     /* as sent: origin-form "/path?query" or authority-form */
	/* responses */
	int status;
	struct http_slice reason;
	/* both */
	int version_minor;            /* 0 or 1 (HTTP/1.x only) */
	struct http_header *headers;  /* caller-provided array of max_headers entries */
	unsigned nheaders;
	enum http_body_kind body;
	uint64_t content_length;      /* when body == HTTP_BODY_LENGTH */
	bool keep_alive;              /* from version and Connection */
	bool upgrade;                 /* Connection: upgrade with an Upgrade header */
	bool expect_continue;         /* Expect: 100-continue */
};

/* Parses a request head from buf[0..len). Returns the head's length in bytes (> 0) when
 * complete, 0 when more bytes are needed (and len is below the limit), or a negative HTTP status
 * to answer with: -400 malformed, -431 head or header count too large, -501 unsupported transfer
 * coding, -505 unsupported version. 'headers' must hold lim->max_headers entries. Rejects: bare
 * CR/LF misuse, obs-fold, whitespace before ':', conflicting or invalid Content-Length,
 * Transfer-Encoding together with Content-Length (smuggling), control bytes in fields. */
long http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
			struct http_header *headers, struct http_head *out);

/* Parses a response head. 'request_method' (may be NULL) decides bodies of HEAD responses;
 * 1xx, 204 and 304 have no body. Returns like http_parse_request, with -502 for a malformed
 * response. */
long http_parse_response(const char *buf, size_t len, const struct http_limits *lim,
			 const char *request_method, struct http_header *headers,
			 struct http_head *out);

/* Case-insensitive header lookup; returns the first match or NULL. */
const struct http_header *http_find_header(const struct http_head *h, const char *name);
/* Whether the comma-separated header list 'name' contains token (case-insensitive). */
bool http_header_has_token(const struct http_head *h, const char *name, const char *token);

/* Incremental decoder for the chunked transfer coding. */
struct http_chunked {
	int state;            /* private */
	uint64_t remaining;   /* private: bytes left in the current chunk */
	uint64_t total;       /* decoded body bytes so far */
	unsigned line_len;    /* private: bytes of the current size/trailer line */
	unsigned trailers;    /* private: trailer lines seen */
	bool done;            /* the terminating chunk and trailers were consumed */
};

void http_chunked_init(struct http_chunked *c);

/* Decodes in place: consumes bytes from buf[0..len), moves decoded body bytes to the front of
 * buf, and returns the number of input bytes consumed (stopping right after the end of the
 * message, so pipelined bytes that follow are left alone), with *out_len set to the number of
 * body bytes produced. Returns -400 on malformed input and -413 when 'total' would exceed
 * max_body (0: no limit). Chunk extensions are skipped; trailers are read and discarded (at most
 * 64 lines of 8 KiB). */
long http_chunked_decode(struct http_chunked *c, char *buf, size_t len, uint64_t max_body,
			 size_t *out_len);

/* Percent-decodes src into dst (dst may equal src); '+' stays '+' unless plus_is_space.
 * Returns the decoded length, or -1 on a bad escape. dst needs n bytes. */
long http_percent_decode(char *dst, const char *src, size_t n, bool plus_is_space);

/* Reason phrase for a status code ("OK", "Not Found", ...; "" when unknown). */
const char *http_reason(int status);

#endif
