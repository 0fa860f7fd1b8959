/* fuzz_promtext.c - untrusted scrape bodies (a node's /metrics/resource) through prom_parse and
 * rm_scrape_parse. Every sample handed to the callback has a valid metric name and at most
 * PROM_MAX_LABELS distinct labels; rejections carry a message and are one of the parser's
 * codes; an accepted scrape is sorted, its series are findable, and a rate between it and
 * itself is never computed (the window would be zero). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/promtext.h"
#include "roles/apiserver/resmetrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

static int on_sample(const struct prom_sample *s, void *arg)
{
	size_t *count = arg;
	check(s->name && s->name[0] && strlen(s->name) <= PROM_MAX_NAME);
	check(s->nlabels <= PROM_MAX_LABELS);
	for (size_t i = 0; i < s->nlabels; i++) {
		check(s->labels[i].name[0] != '\0' && s->labels[i].value != NULL);
		for (size_t j = 0; j < i; j++)
			check(strcmp(s->labels[i].name, s->labels[j].name) != 0);
		check(prom_label(s, s->labels[i].name) != NULL);
	}
	(*count)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_err err = {0};
	size_t count = 0;
	int rc = prom_parse((const char *)data, size, on_sample, &count, &err);
	if (rc < 0)
		check((rc == -KC_EPARSE || rc == -KC_ELIMIT) && err.msg[0]);
	check(count <= PROM_MAX_SAMPLES);

	struct rm_scrape sc;
	struct kc_err err2 = {0};
	int rc2 = rm_scrape_parse((const char *)data, size, 1000, &sc, &err2);
	check((rc2 < 0) == (rc < 0));
	if (rc2 < 0) {
		check(sc.n == 0 && err2.msg[0]);
		return 0;
	}
	for (size_t i = 0; i < sc.n; i++) {
		check(rm_scrape_find(&sc, sc.c[i].ns, sc.c[i].pod, sc.c[i].ctr) == &sc.c[i]);
		struct rm_usage u;
		check(rm_usage_of(&sc.c[i].s, &sc.c[i].s, &u) == -KC_EAGAIN);
	}
	rm_scrape_free(&sc);
	return 0;
}
