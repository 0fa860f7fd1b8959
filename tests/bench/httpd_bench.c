/* httpd_bench ADDR PORT THREADS BODY_BYTES - kc's HTTP server answering every GET with a fixed
 * body, one loop thread per core on one port (SO_REUSEPORT): the kc side of bench_http.sh. Built
 * static with musl and -O2, exactly like ./kc. Stops on SIGTERM/SIGINT. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "lib/alloc.h"
#include "lib/str.h"
#include "net/http_server.h"
#include "net/loop.h"

static char *body;
static size_t body_len;

static void handle(struct http_req *req, void *arg)
{
	(void)arg;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		http_respond(req, 405, "text/plain", "method not allowed\n", 19);
		return;
	}
	http_respond(req, 200, "text/html", body, body_len);
}

struct worker {
	struct loop *loop;
	pthread_t th;
};

static void *run(void *arg)
{
	struct worker *w = arg;
	loop_run(w->loop);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: httpd_bench ADDR PORT THREADS BODY_BYTES\n");
		return 2;
	}
	long long port, threads, size;
	if (kc_parse_i64(argv[2], 1, 65535, &port) || kc_parse_i64(argv[3], 1, 64, &threads) ||
	    kc_parse_i64(argv[4], 0, 1 << 20, &size)) {
		fprintf(stderr, "httpd_bench: bad arguments\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	body_len = (size_t)size;
	body = xmalloc(body_len + 1);
	memset(body, 'k', body_len);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct worker *w = xcalloc((size_t)threads, sizeof *w);
	struct http_server **srv = xcalloc((size_t)threads, sizeof *srv);
	for (long long i = 0; i < threads; i++) {
		struct kc_err err = { 0 };
		w[i].loop = loop_new(NULL);
		struct http_server_config cfg = {
			.addr = argv[1], .port = (uint16_t)port, .reuseport = true, .handler = handle,
		};
		if (!w[i].loop || http_server_open(w[i].loop, &cfg, &srv[i], &err) < 0) {
			fprintf(stderr, "httpd_bench: %s\n", err.msg);
			return 1;
		}
	}
	for (long long i = 0; i < threads; i++)
		pthread_create(&w[i].th, NULL, run, &w[i]);
	int sig;
	sigwait(&set, &sig);
	for (long long i = 0; i < threads; i++)
		loop_stop(w[i].loop);
	for (long long i = 0; i < threads; i++)
		pthread_join(w[i].th, NULL);
	return 0;
}
