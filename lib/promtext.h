/* promtext.h - the Prometheus text exposition format (version 0.0.4): a bounded parser of
 * untrusted scrape bodies, sample by sample, and the writer helpers the node agent uses. */
#ifndef KC_LIB_PROMTEXT_H
#define KC_LIB_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/str.h"

#define PROM_MAX_BODY	 ((size_t)8 << 20) /* whole input */
#define PROM_MAX_LINE	 4096		   /* one line, newline excluded */
#define PROM_MAX_SAMPLES 100000		   /* sample lines in one body */
#define PROM_MAX_LABELS	 16		   /* label pairs on one sample */
#define PROM_MAX_NAME	 128		   /* metric and label names */

struct prom_label {
	const char *name;
	const char *value; /* unescaped */
};

/* One sample line. Every string borrows parser scratch space valid only during the callback. */
struct prom_sample {
	const char *name;
	struct prom_label labels[PROM_MAX_LABELS];
	size_t nlabels;
	double value; /* "NaN", "+Inf" and "-Inf" are accepted */
	bool has_ts;
	int64_t ts_ms; /* milliseconds since the epoch, when has_ts */
};

/* Called for each sample in input order; return 0 to go on, or a negative code to stop (that
 * code is then returned by prom_parse). */
typedef int (*prom_sample_cb)(const struct prom_sample *s, void *arg);

/* Parses buf[0..len) (no NUL needed): comment lines ("# HELP", "# TYPE", any "#") and blank
 * lines are skipped; every other line must be `name[{label="value",...}] value [timestamp]`.
 * Returns 0, -KC_EPARSE (malformed line, duplicate label) or -KC_ELIMIT (a limit above) with
 * err naming the line, or the callback's code. */
int prom_parse(const char *buf, size_t len, prom_sample_cb cb, void *arg, struct kc_err *err);

/* Looks up a label's value in s; NULL when absent. */
const char *prom_label(const struct prom_sample *s, const char *name);

/* Writer: appends `"value"` escaped as the format wants (\\, \", \n). */
void prom_write_label_value(struct kc_str *out, const char *v);

#endif
