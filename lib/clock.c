/* DESIGN: the real clock reads the kernel clocks; the fake clock is plain state advanced by
 * tests. Nothing else in kc calls clock_gettime directly. */
#include "lib/clock.h"

#include <stdio.h>
#include <time.h>

static uint64_t real_mono(struct kc_clock *c)
{
	(void)c;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t real_wall(struct kc_clock *c)
{
	(void)c;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct kc_clock real_clock = { .mono_ns = real_mono, .wall_ns = real_wall };

struct kc_clock *kc_clock_real(void)
{
	return &real_clock;
}

static uint64_t fake_mono(struct kc_clock *c)
{
	return ((struct kc_fake_clock *)(void *)c)->mono;
}

static uint64_t fake_wall(struct kc_clock *c)
{
	return ((struct kc_fake_clock *)(void *)c)->wall;
}

void kc_fake_clock_init(struct kc_fake_clock *fc, uint64_t start_ns)
{
	fc->clock.mono_ns = fake_mono;
	fc->clock.wall_ns = fake_wall;
	fc->mono = start_ns;
	fc->wall = 1700000000ull * 1000000000u + start_ns;
}

void kc_fake_clock_advance(struct kc_fake_clock *fc, uint64_t ns)
{
	fc->mono += ns;
	fc->wall += ns;
}

char *kc_format_rfc3339_ms(uint64_t wall_ns, char *buf, unsigned long size)
{
	time_t secs = (time_t)(wall_ns / 1000000000u);
	unsigned ms = (unsigned)(wall_ns / 1000000u % 1000u);
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return buf;
}
