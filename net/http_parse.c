/* DESIGN: the HTTP/1.1 message parser (RFC 9112), a set of pure functions over caller buffers:
 * no allocation, no I/O, no global mutable state, so it runs on any thread and is fuzzed as is.
 *
 * Heads are parsed line by line in one pass; every byte is checked against the grammar with
 * lookup tables, and everything a proxy in front of kc might read differently (bare CR or LF,
 * obs-fold, whitespace before ':', Transfer-Encoding with Content-Length, differing
 * Content-Length values, chunked not last) is an error rather than a guess. The parsed structs
 * point into the caller's buffer.
 *
 * The chunked decoder is a byte-at-a-time state machine (body bytes are copied in runs) that
 * keeps all of its state in struct http_chunked, so input may be split anywhere; it stops at the
 * end of the message so pipelined bytes stay with the caller. Decoded bytes are moved towards
 * the front of the same buffer: the write position never passes the read position. */
#include "net/http_parse.h"

#include <string.h>

#include "lib/str.h"

/* ---- character classes ---- */

enum {
	C_TCHAR = 1,   /* token character */
	C_VCHAR = 2,   /* field-vchar: VCHAR or obs-text */
	C_TARGET = 4,  /* allowed in a request-target: VCHAR */
	C_HEX = 8,
};

static const unsigned char cls[256] = {
#define T (C_TCHAR | C_VCHAR | C_TARGET)
#define V (C_VCHAR | C_TARGET)
#define H (C_TCHAR | C_VCHAR | C_TARGET | C_HEX)
	/* 0x00-0x1f: controls */
	[0x21] = T, [0x22] = V, [0x23] = T, [0x24] = T, [0x25] = T, [0x26] = T, [0x27] = T,
	[0x28] = V, [0x29] = V, [0x2a] = T, [0x2b] = T, [0x2c] = V, [0x2d] = T, [0x2e] = T,
	[0x2f] = V,
	['0'] = H, ['1'] = H, ['2'] = H, ['3'] = H, ['4'] = H, ['5'] = H, ['6'] = H, ['7'] = H,
	['8'] = H, ['9'] = H,
	[0x3a] = V, [0x3b] = V, [0x3c] = V, [0x3d] = V, [0x3e] = V, [0x3f] = V, [0x40] = V,
	['A'] = H, ['B'] = H, ['C'] = H, ['D'] = H, ['E'] = H, ['F'] = H, ['G'] = T, ['H'] = T,
	['I'] = T, ['J'] = T, ['K'] = T, ['L'] = T, ['M'] = T, ['N'] = T, ['O'] = T, ['P'] = T,
	['Q'] = T, ['R'] = T, ['S'] = T, ['T'] = T, ['U'] = T, ['V'] = T, ['W'] = T, ['X'] = T,
	['Y'] = T, ['Z'] = T,
	[0x5b] = V, [0x5c] = V, [0x5d] = V, [0x5e] = T, [0x5f] = T, [0x60] = T,
	['a'] = H, ['b'] = H, ['c'] = H, ['d'] = H, ['e'] = H, ['f'] = H, ['g'] = T, ['h'] = T,
	['i'] = T, ['j'] = T, ['k'] = T, ['l'] = T, ['m'] = T, ['n'] = T, ['o'] = T, ['p'] = T,
	['q'] = T, ['r'] = T, ['s'] = T, ['t'] = T, ['u'] = T, ['v'] = T, ['w'] = T, ['x'] = T,
	['y'] = T, ['z'] = T,
	[0x7b] = V, [0x7c] = T, [0x7d] = V, [0x7e] = T,
	/* 0x7f: DEL is a control; 0x80-0xff: obs-text, allowed in field values only */
	[0x80 ... 0xff] = C_VCHAR,
#undef T
#undef V
#undef H
};

static bool is_tchar(unsigned char c)
{
	return cls[c] & C_TCHAR;
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Field value bytes: field-vchar, SP, HTAB. */
static bool is_value_char(unsigned char c)
{
	return (cls[c] & C_VCHAR) || is_ows(c);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool slice_caseeq(struct http_slice s, const char *lit, size_t n)
{
	return s.n == n && kc_strncaseeq(s.p, lit, n);
}

#define SLICE_IS(s, lit) slice_caseeq((s), lit, sizeof(lit) - 1)

/* ---- comma-separated lists (RFC 9110 5.6.1) ---- */

/* Returns the next non-empty element of a list in *el (OWS trimmed) and advances *pos; false at
 * the end. Empty elements ("a,,b") are skipped as the RFC requires of recipients. */
static bool list_next(struct http_slice v, size_t *pos, struct http_slice *el)
{
	while (*pos < v.n) {
		size_t i = *pos;
		while (i < v.n && v.p[i] != ',')
			i++;
		size_t b = *pos, e = i;
		*pos = i < v.n ? i + 1 : i;
		while (b < e && is_ows((unsigned char)v.p[b]))
			b++;
		while (e > b && is_ows((unsigned char)v.p[e - 1]))
			e--;
		if (e > b) {
			el->p = v.p + b;
			el->n = e - b;
			return true;
		}
	}
	return false;
}

/* The coding name of a list element, without parameters ("gzip;q=1" -> "gzip"). */
static struct http_slice element_token(struct http_slice el)
{
	size_t n = 0;
	while (n < el.n && el.p[n] != ';' && !is_ows((unsigned char)el.p[n]))
		n++;
	return (struct http_slice){ el.p, n };
}

static bool slice_has_token(struct http_slice v, const char *token)
{
	size_t tl = strlen(token), pos = 0;
	struct http_slice el;
	while (list_next(v, &pos, &el))
		if (slice_caseeq(element_token(el), token, tl))
			return true;
	return false;
}

/* ---- heads ---- */

/* Facts gathered from the header fields while parsing. */
struct framing {
	bool have_cl;
	uint64_t cl;
	bool have_te;
	unsigned te_codings;      /* number of codings across all Transfer-Encoding fields */
	unsigned te_chunked;      /* how many of them are "chunked" */
	bool te_last_chunked;
	bool conn_close, conn_keep_alive, conn_upgrade;
	bool have_upgrade;
	unsigned hosts;
};

/* Parses a Content-Length value (a list of identical decimal numbers is accepted, RFC 9110 8.6).
 * Returns false when malformed or differing from a value already seen. */
static bool parse_content_length(struct http_slice v, struct framing *f)
{
	size_t pos = 0;
	struct http_slice el;
	bool any = false;
	while (list_next(v, &pos, &el)) {
		uint64_t n = 0;
		for (size_t i = 0; i < el.n; i++) {
			unsigned char c = (unsigned char)el.p[i];
			if (c < '0' || c > '9')
				return false;
			if (n > (UINT64_MAX - 9) / 10)
				return false;
			n = n * 10 + (c - '0');
		}
		if (f->have_cl && f->cl != n)
			return false;
		f->have_cl = true;
		f->cl = n;
		any = true;
	}
	return any;
}

static bool parse_transfer_encoding(struct http_slice v, struct framing *f)
{
	size_t pos = 0;
	struct http_slice el;
	bool any = false;
	f->have_te = true;
	while (list_next(v, &pos, &el)) {
		struct http_slice tok = element_token(el);
		if (!tok.n)
			return false;
		for (size_t i = 0; i < tok.n; i++)
			if (!is_tchar((unsigned char)tok.p[i]))
				return false;
		f->te_codings++;
		f->te_last_chunked = SLICE_IS(tok, "chunked");
		if (f->te_last_chunked)
			f->te_chunked++;
		any = true;
	}
	return any;
}

static void parse_connection(struct http_slice v, struct framing *f)
{
	size_t pos = 0;
	struct http_slice el;
	while (list_next(v, &pos, &el)) {
		if (SLICE_IS(el, "close"))
			f->conn_close = true;
		else if (SLICE_IS(el, "keep-alive"))
			f->conn_keep_alive = true;
		else if (SLICE_IS(el, "upgrade"))
			f->conn_upgrade = true;
	}
}

/* "HTTP/" DIGIT "." DIGIT: returns 0 and sets *minor, -400 when malformed, -505 when not 1.x. */
static int parse_version(const char *p, size_t n, int *minor)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.')
		return -400;
	if (p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return -400;
	if (p[5] != '1')
		return -505;
	/* A higher minor version is HTTP/1.1-compatible (RFC 9110 2.5). */
	*minor = p[7] == '0' ? 0 : 1;
	return 0;
}

static bool parse_request_line(const char *p, size_t n, struct http_head *out, long *err)
{
	size_t i = 0;
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i >= n || p[i] != ' ')
		goto bad;
	out->method = (struct http_slice){ p, i };
	size_t t = ++i;
	while (i < n && (cls[(unsigned char)p[i]] & C_TARGET))
		i++;
	if (i == t || i >= n || p[i] != ' ')
		goto bad;
	out->target = (struct http_slice){ p + t, i - t };
	i++;
	int rc = parse_version(p + i, n - i, &out->version_minor);
	if (rc < 0) {
		*err = rc;
		return false;
	}
	/* The target's form must fit the method (RFC 9112 3.2). */
	const char *tp = out->target.p;
	size_t tn = out->target.n;
	if (SLICE_IS(out->method, "CONNECT")) {
		if (tp[0] == '/')
			goto bad;
	} else if (tp[0] == '*') {
		if (tn != 1 || !SLICE_IS(out->method, "OPTIONS"))
			goto bad;
	} else if (tp[0] != '/') {
		/* absolute-form: scheme "://" ... */
		size_t s = 0;
		while (s < tn && ((tp[s] >= 'a' && tp[s] <= 'z') || (tp[s] >= 'A' && tp[s] <= 'Z') ||
				  (s > 0 && ((tp[s] >= '0' && tp[s] <= '9') || tp[s] == '+' ||
					     tp[s] == '-' || tp[s] == '.'))))
			s++;
		if (s == 0 || tn - s < 3 || memcmp(tp + s, "://", 3) != 0)
			goto bad;
	}
	return true;
bad:
	*err = -400;
	return false;
}

static bool parse_status_line(const char *p, size_t n, struct http_head *out, long *err)
{
	if (n < 12 || p[8] != ' ') {
		*err = -502;
		return false;
	}
	int rc = parse_version(p, 8, &out->version_minor);
	if (rc < 0) {
		*err = rc == -505 ? -505 : -502;
		return false;
	}
	if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') {
		*err = -502;
		return false;
	}
	out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	out->reason = (struct http_slice){ p + n, 0 };
	if (n == 12)  /* tolerated: no SP and no reason at all */
		return true;
	if (p[12] != ' ') {
		*err = -502;
		return false;
	}
	for (size_t i = 13; i < n; i++) {
		if (!is_value_char((unsigned char)p[i])) {
			*err = -502;
			return false;
		}
	}
	out->reason = (struct http_slice){ p + 13, n - 13 };
	return true;
}

/* Parses one header line p[0..n) (without CRLF) into *h. Returns false when malformed. */
static bool parse_field_line(const char *p, size_t n, struct http_header *h)
{
	size_t i = 0;
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	/* Also rejects obs-fold (line starts with SP/HTAB) and whitespace before ':'. */
	if (i == 0 || i >= n || p[i] != ':')
		return false;
	h->name = (struct http_slice){ p, i };
	i++;
	while (i < n && is_ows((unsigned char)p[i]))
		i++;
	size_t b = i, e = i;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!is_value_char(c))
			return false;
		if (!is_ows(c))
			e = i + 1;
	}
	h->value = (struct http_slice){ p + b, e - b };
	return true;
}

/* Records what a header means for framing and connection handling. */
static bool note_header(const struct http_header *h, struct framing *f)
{
	struct http_slice nm = h->name;
	switch (nm.n) {
	case 4:
		if (SLICE_IS(nm, "host"))
			f->hosts++;
		break;
	case 7:
		if (SLICE_IS(nm, "upgrade"))
			f->have_upgrade = true;
		break;
	case 10:
		if (SLICE_IS(nm, "connection"))
			parse_connection(h->value, f);
		break;
	case 14:
		if (SLICE_IS(nm, "content-length"))
			return parse_content_length(h->value, f);
		break;
	case 17:
		if (SLICE_IS(nm, "transfer-encoding"))
			return parse_transfer_encoding(h->value, f);
		break;
	}
	return true;
}

static long parse_head(const char *buf, size_t len, const struct http_limits *lim,
		       struct http_header *headers, struct http_head *out, bool request,
		       const char *req_method)
{
	size_t max_head = lim->max_head_bytes ? lim->max_head_bytes : HTTP_MAX_HEAD_DEFAULT;
	long bad = request ? -400 : -502;
	long err = bad;
	struct framing f;

	memset(out, 0, sizeof *out);
	memset(&f, 0, sizeof f);
	out->headers = headers;

	size_t pos = 0;
	bool first = true;
	for (;;) {
		if (pos >= max_head)
			return -431;
		const char *nl = memchr(buf + pos, '\n', (len < max_head ? len : max_head) - pos);
		if (!nl)
			return len >= max_head ? -431 : 0;
		size_t eol = (size_t)(nl - buf);
		if (eol == pos || buf[eol - 1] != '\r')
			return bad;  /* bare LF */
		const char *line = buf + pos;
		size_t n = eol - 1 - pos;
		pos = eol + 1;
		if (first) {
			/* A server ignores empty lines before the request-line (RFC 9112 2.2). */
			if (n == 0 && request)
				continue;
			bool ok = request ? parse_request_line(line, n, out, &err)
					  : parse_status_line(line, n, out, &err);
			if (!ok)
				return err;
			first = false;
			continue;
		}
		if (n == 0)
			break;  /* end of the head */
		if (out->nheaders >= lim->max_headers)
			return -431;
		struct http_header *h = &headers[out->nheaders];
		if (!parse_field_line(line, n, h))
			return bad;
		out->nheaders++;
		if (!note_header(h, &f))
			return bad;
	}

	/* Whole head present: decide framing and persistence. */
	if (request) {
		if (out->version_minor == 1 && f.hosts != 1)
			return -400;
		if (f.hosts > 1)
			return -400;
		if (f.have_te) {
			/* TE with CL is the classic smuggling vector; TE in HTTP/1.0 is faulty framing. */
			if (f.have_cl || out->version_minor == 0)
				return -400;
			if (!f.te_last_chunked || f.te_chunked != 1)
				return -400;
			if (f.te_codings != 1)
				return -501;
			out->body = HTTP_BODY_CHUNKED;
		} else if (f.have_cl) {
			out->body = HTTP_BODY_LENGTH;
			out->content_length = f.cl;
		}
		const struct http_header *ex = http_find_header(out, "expect");
		out->expect_continue = ex && SLICE_IS(ex->value, "100-continue");
	} else {
		int st = out->status;
		bool head_req = req_method && strcmp(req_method, "HEAD") == 0;
		bool connect_ok = req_method && strcmp(req_method, "CONNECT") == 0 && st / 100 == 2;
		if (f.have_te && f.have_cl)
			return -502;
		if (f.have_cl)
			out->content_length = f.cl;
		if (head_req || connect_ok || st / 100 == 1 || st == 204 || st == 304) {
			out->body = HTTP_BODY_NONE;
		} else if (f.have_te) {
			if (f.te_last_chunked) {
				if (f.te_chunked != 1 || f.te_codings != 1)
					return -502;
				out->body = HTTP_BODY_CHUNKED;
			} else {
				out->body = HTTP_BODY_UNTIL_CLOSE;
			}
		} else if (f.have_cl) {
			out->body = HTTP_BODY_LENGTH;
		} else {
			out->body = HTTP_BODY_UNTIL_CLOSE;
		}
	}
	out->keep_alive = out->version_minor == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	if (out->body == HTTP_BODY_UNTIL_CLOSE)
		out->keep_alive = false;
	out->upgrade = f.conn_upgrade && f.have_upgrade;
	return (long)pos;
}

long http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
			struct http_header *headers, struct http_head *out)
{
	return parse_head(buf, len, lim, headers, out, true, NULL);
}

long http_parse_response(const char *buf, size_t len, const struct http_limits *lim,
			 const char *request_method, struct http_header *headers,
			 struct http_head *out)
{
	return parse_head(buf, len, lim, headers, out, false, request_method);
}

const struct http_header *http_find_header(const struct http_head *h, const char *name)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < h->nheaders; i++)
		if (slice_caseeq(h->headers[i].name, name, n))
			return &h->headers[i];
	return NULL;
}

bool http_header_has_token(const struct http_head *h, const char *name, const char *token)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < h->nheaders; i++)
		if (slice_caseeq(h->headers[i].name, name, n) && slice_has_token(h->headers[i].value, token))
			return true;
	return false;
}

/* ---- chunked transfer coding ---- */

enum {
	CK_SIZE0 = 0,     /* first hex digit of a chunk-size */
	CK_SIZE,          /* more hex digits */
	CK_SIZE_WS,       /* BWS after the size: only ';' may follow */
	CK_EXT,           /* chunk extensions, skipped up to CR */
	CK_SIZE_LF,       /* CR seen after the size line */
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER0,      /* start of a trailer line, or the final CRLF */
	CK_TRAILER_NAME,
	CK_TRAILER_VALUE,
	CK_TRAILER_LF,
	CK_END_LF,        /* CR of the final empty line seen */
	CK_DONE,
	CK_ERROR,
};

#define CK_MAX_LINE 8192u
#define CK_MAX_TRAILERS 64u

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof *c);
	c->state = CK_SIZE0;
}

long http_chunked_decode(struct http_chunked *c, char *buf, size_t len, uint64_t max_body,
			 size_t *out_len)
{
	size_t r = 0, w = 0;
	long err = -400;

	*out_len = 0;
	while (r < len && c->state != CK_DONE) {
		unsigned char ch = (unsigned char)buf[r];
		switch (c->state) {
		case CK_SIZE0:
		case CK_SIZE: {
			int v = hexval(ch);
			if (v >= 0) {
				if (c->remaining > (UINT64_MAX >> 4))
					goto fail;
				c->remaining = (c->remaining << 4) | (uint64_t)v;
				c->state = CK_SIZE;
			} else if (c->state == CK_SIZE0) {
				goto fail;
			} else if (ch == ';') {
				c->state = CK_EXT;
			} else if (is_ows(ch)) {
				c->state = CK_SIZE_WS;
			} else if (ch == '\r') {
				c->state = CK_SIZE_LF;
			} else {
				goto fail;
			}
			break;
		}
		case CK_SIZE_WS:
			if (ch == ';')
				c->state = CK_EXT;
			else if (!is_ows(ch))
				goto fail;
			break;
		case CK_EXT:
			if (ch == '\r')
				c->state = CK_SIZE_LF;
			else if (!is_value_char(ch))
				goto fail;
			break;
		case CK_SIZE_LF:
			if (ch != '\n')
				goto fail;
			if (c->remaining == 0) {
				c->state = CK_TRAILER0;
			} else {
				if (max_body && (c->remaining > max_body || c->total > max_body - c->remaining)) {
					err = -413;
					goto fail;
				}
				if (c->total > UINT64_MAX - c->remaining)
					goto fail;
				c->state = CK_DATA;
			}
			c->line_len = 0;
			r++;
			continue;
		case CK_DATA: {
			size_t n = len - r;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			if (w != r)
				memmove(buf + w, buf + r, n);
			w += n;
			r += n;
			c->remaining -= n;
			c->total += n;
			if (!c->remaining)
				c->state = CK_DATA_CR;
			continue;
		}
		case CK_DATA_CR:
			if (ch != '\r')
				goto fail;
			c->state = CK_DATA_LF;
			break;
		case CK_DATA_LF:
			if (ch != '\n')
				goto fail;
			c->state = CK_SIZE0;
			c->line_len = 0;
			r++;
			continue;
		case CK_TRAILER0:
			if (ch == '\r') {
				c->state = CK_END_LF;
			} else if (is_tchar(ch)) {
				if (++c->trailers > CK_MAX_TRAILERS)
					goto fail;
				c->state = CK_TRAILER_NAME;
			} else {
				goto fail;  /* includes obs-fold */
			}
			break;
		case CK_TRAILER_NAME:
			if (ch == ':')
				c->state = CK_TRAILER_VALUE;
			else if (!is_tchar(ch))
				goto fail;
			break;
		case CK_TRAILER_VALUE:
			if (ch == '\r')
				c->state = CK_TRAILER_LF;
			else if (!is_value_char(ch))
				goto fail;
			break;
		case CK_TRAILER_LF:
			if (ch != '\n')
				goto fail;
			c->state = CK_TRAILER0;
			c->line_len = 0;
			r++;
			continue;
		case CK_END_LF:
			if (ch != '\n')
				goto fail;
			c->state = CK_DONE;
			c->done = true;
			r++;
			continue;
		default:
			goto fail;
		}
		/* One byte of a size, extension or trailer line was consumed. */
		if (++c->line_len > CK_MAX_LINE)
			goto fail;
		r++;
	}
	*out_len = w;
	return (long)r;
fail:
	c->state = CK_ERROR;
	*out_len = 0;
	return err;
}

/* ---- percent-encoding and reason phrases ---- */

long http_percent_decode(char *dst, const char *src, size_t n, bool plus_is_space)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = src[i];
		if (ch == '%') {
			if (n - i < 3)
				return -1;
			int hi = hexval((unsigned char)src[i + 1]), lo = hexval((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			dst[w++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (ch == '+' && plus_is_space) {
			dst[w++] = ' ';
		} else {
			dst[w++] = ch;
		}
	}
	return (long)w;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	case 511: return "Network Authentication Required";
	default: return "";
	}
}
