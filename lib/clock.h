/* clock.h - time behind an ops struct, so that timers, leases and Raft run on a fake clock in
 * deterministic tests. */
#ifndef KC_LIB_CLOCK_H
#define KC_LIB_CLOCK_H

#include <stdint.h>

struct kc_clock {
	/* Monotonic nanoseconds since an arbitrary origin; never goes back. */
	uint64_t (*mono_ns)(struct kc_clock *c);
	/* Wall-clock nanoseconds since the Unix epoch (for timestamps shown to people only). */
	uint64_t (*wall_ns)(struct kc_clock *c);
};

/* The process-wide real clock (CLOCK_MONOTONIC / CLOCK_REALTIME). Thread-safe. */
struct kc_clock *kc_clock_real(void);

static inline uint64_t kc_mono_ms(struct kc_clock *c)
{
	return c->mono_ns(c) / 1000000u;
}

/* A manual clock for tests: starts at 'start_ns' and moves only through kc_fake_clock_advance.
 * Embed it and pass &fc->clock. Not thread-safe. */
struct kc_fake_clock {
	struct kc_clock clock;
	uint64_t mono;
	uint64_t wall;
};

void kc_fake_clock_init(struct kc_fake_clock *fc, uint64_t start_ns);
void kc_fake_clock_advance(struct kc_fake_clock *fc, uint64_t ns);

/* Formats a wall time in ns as RFC 3339 UTC with millisecond precision
 * ("2026-11-26T15:04:05.123Z") into buf (>= 32 bytes). Returns buf. */
char *kc_format_rfc3339_ms(uint64_t wall_ns, char *buf, unsigned long size);

#endif
