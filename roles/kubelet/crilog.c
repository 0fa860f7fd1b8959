/* DESIGN: reading CRI log files ("<RFC3339Nano> <stream> <F|P> <data>\n", written by the shim)
 * back into what `kubectl logs` shows: partial lines (P) joined with the line that completes
 * them (F), optional timestamps, and the tailLines / sinceSeconds / limitBytes filters. Pure. */
#include "roles/kubelet/kubelet_int.h"

#include <string.h>
#include <time.h>

#include <stdlib.h>

#include "lib/alloc.h"

static int digits(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* days from civil (Howard Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t kl_parse_rfc3339_ns(const char *s, size_t len)
{
	int64_t Y, M, D, h, mi, se;
	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	size_t i = 19;
	int64_t frac = 0;
	if (i < len && s[i] == '.') {
		i++;
		int nd = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (nd < 9) {
				frac = frac * 10 + (s[i] - '0');
				nd++;
			}
			i++;
		}
		if (nd == 0)
			return -1;
		while (nd++ < 9)
			frac *= 10;
	}
	int64_t off = 0;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 <= len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int64_t oh, om;
		if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om))
			return -1;
		off = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
		i += 6;
	} else {
		return -1;
	}
	if (i != len)
		return -1;
	int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + se - off;
	return secs * 1000000000LL + frac;
}

int kl_cri_parse(const char *line, size_t len, struct kl_cri_line *out)
{
	const char *sp1 = memchr(line, ' ', len);
	if (!sp1)
		return -KC_EPARSE;
	const char *p = sp1 + 1, *end = line + len;
	const char *sp2 = memchr(p, ' ', (size_t)(end - p));
	if (!sp2)
		return -KC_EPARSE;
	const char *tag = sp2 + 1;
	if (tag >= end)
		return -KC_EPARSE;
	const char *sp3 = memchr(tag, ' ', (size_t)(end - tag));
	size_t taglen = sp3 ? (size_t)(sp3 - tag) : (size_t)(end - tag);
	out->ts = line;
	out->ts_len = (size_t)(sp1 - line);
	out->ts_ns = kl_parse_rfc3339_ns(line, out->ts_len);
	if (out->ts_ns < 0)
		return -KC_EPARSE;
	size_t sl = (size_t)(sp2 - p);
	if (sl == 6 && !memcmp(p, "stdout", 6))
		out->stream = "stdout";
	else if (sl == 6 && !memcmp(p, "stderr", 6))
		out->stream = "stderr";
	else
		return -KC_EPARSE;
	/* tags are ':'-separated; the first is F or P */
	out->partial = taglen >= 1 && tag[0] == 'P';
	if (taglen < 1 || (tag[0] != 'P' && tag[0] != 'F'))
		return -KC_EPARSE;
	out->data = sp3 ? sp3 + 1 : end;
	out->len = (size_t)(end - out->data);
	return 0;
}

struct outline {
	size_t off, len; /* in the rendered buffer */
};

void kl_cri_render(const char *buf, size_t len, const struct kl_log_opts *o, struct kc_str *out)
{
	struct kc_str all = KC_STR_INIT;
	struct outline *lines = NULL;
	size_t n = 0, cap = 0;
	bool open_line = false; /* a partial line is being assembled */
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break; /* an incomplete last line is still being written */
		struct kl_cri_line l;
		if (kl_cri_parse(p, (size_t)(nl - p), &l) == 0 &&
		    (o->since_ns <= 0 || l.ts_ns >= o->since_ns || open_line)) {
			if (!open_line) {
				if (n == cap) {
					cap = kc_grow_cap(cap, n + 1, sizeof *lines);
					lines = xrealloc(lines, cap * sizeof *lines);
				}
				lines[n].off = all.len;
				n++;
				if (o->timestamps) {
					kc_str_add(&all, l.ts, l.ts_len);
					kc_str_addc(&all, ' ');
				}
			}
			kc_str_add(&all, l.data, l.len);
			open_line = l.partial;
			if (!open_line) {
				kc_str_addc(&all, '\n');
				lines[n - 1].len = all.len - lines[n - 1].off;
			}
		}
		p = nl + 1;
	}
	if (open_line && n > 0)
		lines[n - 1].len = all.len - lines[n - 1].off;
	size_t first = 0;
	if (o->tail_lines >= 0 && (size_t)o->tail_lines < n)
		first = n - (size_t)o->tail_lines;
	if (first < n) {
		size_t from = lines[first].off;
		size_t l2 = all.len - from;
		if (o->limit_bytes >= 0 && (size_t)o->limit_bytes < l2)
			l2 = (size_t)o->limit_bytes;
		kc_str_add(out, all.buf + from, l2);
	}
	free(lines);
	kc_str_free(&all);
}
