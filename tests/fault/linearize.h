/* linearize.h - a linearizability checker for histories of a key/value store used as a set of
 * registers (put, get, delete, compare-and-swap on the value), Porcupine-style: Wing & Gong's
 * search with Lowe's just-in-time linearization and memoized (linearized set, state) pairs, run
 * per key (P-compositionality: every operation touches one key).
 *
 * A history is a list of operations, each with the real-time interval in which the client had it
 * outstanding and its outcome. An operation whose outcome the client never learned (a timeout, a
 * dropped connection) is "unknown": it may have taken effect at any instant after its invocation,
 * or never; the checker models that as an operation that returns at +infinity and whose effect is
 * optional.
 *
 * History files hold one JSON object per line (lin_op_write writes them):
 *   {"client":3,"op":"put","key":"k1","value":"v7","invoke_ns":10,"complete_ns":25,
 *    "result":"ok","revision":"42"}
 *   {"client":1,"op":"get","key":"k1","invoke_ns":11,"complete_ns":30,"result":"ok",
 *    "observed":"v7"}                                     observed null: the key was absent
 *   {"client":2,"op":"cas","key":"k1","expected":"v7","value":"v9",...,"result":"fail",
 *    "observed":"v8"}                                     expected null: "the key is absent"
 *   {"client":4,"op":"del","key":"k1",...,"result":"unknown"}
 * Results: "ok" (applied; for cas: the compare held and the put happened), "fail" (definitely no
 * effect; for cas: the compare did not hold, and "observed", when present, is the value the
 * store had at that instant), "unknown" (see above). A get that did not end "ok" is ignored.
 * "revision" (optional, ok writes) is the store revision the write created; the checker does not
 * use it, the watch checks of faultload do. Times are nanoseconds on one monotonic clock; when
 * an invocation and a completion have the same time the operations count as concurrent.
 *
 * Not thread-safe; one history per thread. */
#ifndef KC_TESTS_FAULT_LINEARIZE_H
#define KC_TESTS_FAULT_LINEARIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/str.h"

/* Input limits: history lines come from files a test wrote, but are still parsed as input. */
#define LIN_LINE_MAX (64u * 1024u)
#define LIN_KEY_MAX 1024u
#define LIN_VALUE_MAX (16u * 1024u)

enum lin_kind { LIN_PUT = 1, LIN_GET, LIN_CAS, LIN_DEL };
enum lin_result { LIN_OK = 1, LIN_FAIL, LIN_UNKNOWN };

/* One operation. Strings are borrowed by lin_history_add (it copies them). NULL value,
 * expected or observed mean "the key is absent"; observed_known says whether observed means
 * anything (a get that ended ok always knows it). */
struct lin_op {
	int64_t client;
	enum lin_kind kind;
	const char *key;
	const char *value;      /* put, cas: the value written */
	const char *expected;   /* cas: the value compared against (NULL: absent) */
	int64_t invoke_ns;
	int64_t complete_ns;    /* ignored for LIN_UNKNOWN */
	enum lin_result result;
	const char *observed;
	bool observed_known;
	int64_t revision;       /* 0: not recorded */
};

struct lin_history;

struct lin_history *lin_history_new(void);
/* NULL is a no-op. */
void lin_history_free(struct lin_history *h);
/* Copies op into h. Returns 0, or -KC_EINVAL (no key, a put/cas without value, complete before
 * invoke on a completed operation, lengths over the limits) with err set. */
int lin_history_add(struct lin_history *h, const struct lin_op *op, struct kc_err *err);
size_t lin_history_len(const struct lin_history *h);
/* The i-th operation as added (borrowed, valid until h changes). */
const struct lin_op *lin_history_get(const struct lin_history *h, size_t i);

/* Parses one history line (as lin_op_write writes it; blank lines are skipped) and adds it.
 * Returns 0 or -KC_EPARSE / -KC_EINVAL / -KC_ETOOBIG with err set. */
int lin_history_add_json(struct lin_history *h, const char *line, size_t len, struct kc_err *err);
/* Adds every line of the file at path. Errors name the line number. */
int lin_history_load(struct lin_history *h, const char *path, struct kc_err *err);

/* Appends op as one JSON line, newline included. */
void lin_op_write(struct kc_str *out, const struct lin_op *op);

/* Search budget. Zeroed fields take the defaults. */
struct lin_limits {
	uint64_t max_steps;       /* search steps over all keys; 0: 200 million */
	size_t max_cache_bytes;   /* memoized states, per key; 0: 1 GiB */
};

enum lin_verdict {
	LIN_LINEARIZABLE = 1,
	LIN_VIOLATION,        /* no linearization exists for some key */
	LIN_INCONCLUSIVE,     /* the search ran out of budget */
};

struct lin_report {
	enum lin_verdict verdict;
	size_t keys;                /* keys checked */
	size_t ops;                 /* operations that took part (after dropping the ones without
				     * any possible effect or observation) */
	uint64_t steps;
	/* LIN_VIOLATION / LIN_INCONCLUSIVE: the key, and a human-readable account: the longest
	 * linearization found, the operation that could not be placed after it, and the key's
	 * operations around that point (owned; lin_report_free). */
	char *key;
	struct kc_str detail;
};

/* Checks h. Fills *out (free with lin_report_free) and returns 0; the verdict is in out. */
int lin_check(const struct lin_history *h, const struct lin_limits *lim, struct lin_report *out);
void lin_report_free(struct lin_report *r);

#endif
