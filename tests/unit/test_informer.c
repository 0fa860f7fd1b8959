/* test_informer.c - the informer (and apiclient underneath) against a scripted fake API server
 * on net/http_server: a paged LIST, a WATCH from the list's resourceVersion with ADDED /
 * MODIFIED / DELETED / BOOKMARK events split across writes, an ERROR 410 that forces a re-list
 * diffed against the cache (a deleted object disappears, a new one appears), handler order,
 * an index, and the resourceVersion the next watch resumes from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/json.h"
#include "lib/map.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "roles/client/apiclient.h"
#include "roles/client/informer.h"

static struct loop *L;
static int lists, watches;
static char watch_rv[4][32];
static struct http_req *open_watch;
static char log_[4096];

#define POD(name, rv, node)                                                                      \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv     \
	"\",\"managedFields\":[{}]},\"spec\":{\"nodeName\":\"" node "\"}}"

static void handler(struct http_req *req, void *arg)
{
	const char *w = http_req_query(req, "watch");
	if (!w) {
		const char *cont = http_req_query(req, "continue");
		lists++;
		const char *body;
		if (lists == 1)
			body = "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"9\",\"continue\":\"c1\"},"
			       "\"items\":[" POD("a", "5", "n1") "]}";
		else if (lists == 2 && cont && !strcmp(cont, "c1"))
			body = "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
			       POD("b", "6", "n2") "]}";
		else
			body = "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"20\"},\"items\":["
			       POD("a", "12", "n1") "," POD("d", "19", "n1") "]}";
		http_respond(req, 200, "application/json", body, strlen(body));
		return;
	}
	const char *rv = http_req_query(req, "resourceVersion");
	snprintf(watch_rv[watches % 4], 32, "%s", rv ? rv : "");
	watches++;
	http_stream_begin(req, 200, "application/json");
	if (watches == 1) {
		const char *ev1 = "{\"type\":\"ADDED\",\"object\":" POD("c", "11", "n1") "}\n{\"type\":\"MODI";
		const char *ev2 = "FIED\",\"object\":" POD("a", "12", "n2") "}\n"
				  "{\"type\":\"DELETED\",\"object\":" POD("b", "13", "n2") "}\n"
				  "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"15\"}}}\n"
				  "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";
		http_stream_write(req, ev1, strlen(ev1));
		http_stream_write(req, ev2, strlen(ev2));
		http_stream_end(req);
		return;
	}
	open_watch = req;  /* the second watch stays open */
}

static void on_add(void *arg, const cJSON *obj)
{
	size_t n = strlen(log_);
	snprintf(log_ + n, sizeof log_ - n, "+%s ", kc_json_get_str(obj, "metadata.name"));
	assert_null(kc_json_get(obj, "metadata.managedFields"));  /* transform ran */
}

static void on_update(void *arg, const cJSON *old, const cJSON *obj)
{
	size_t n = strlen(log_);
	snprintf(log_ + n, sizeof log_ - n, "~%s ", kc_json_get_str(obj, "metadata.name"));
}

static void on_delete(void *arg, const cJSON *obj)
{
	size_t n = strlen(log_);
	snprintf(log_ + n, sizeof log_ - n, "-%s ", kc_json_get_str(obj, "metadata.name"));
}

static void test_list_watch_relist(void **state)
{
	L = loop_new(NULL);
	struct http_server_config sc = { .addr = "127.0.0.1", .handler = handler };
	struct http_server *srv = NULL;
	struct kc_err err = { 0 };
	assert_int_equal(http_server_open(L, &sc, &srv, &err), 0);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%u", http_server_port(srv));
	struct apiclient_config ac = { .server = url };
	struct apiclient *c = NULL;
	assert_int_equal(apiclient_new(L, &ac, &c, &err), 0);
	struct informer_config ic = { .name = "pods", .path = "/api/v1/pods", .page_size = 1,
				      .transform = informer_prune_meta };
	struct informer *inf = informer_new(c, &ic);
	int by_node = informer_add_index(inf, informer_index_node_name);
	struct informer_handlers h = { .on_add = on_add, .on_update = on_update,
				       .on_delete = on_delete };
	informer_add_handlers(inf, &h);
	informer_start(inf);
	for (int i = 0; i < 500 && watches < 2; i++)
		loop_run_once(L, 10);
	for (int i = 0; i < 20; i++)
		loop_run_once(L, 5);
	assert_int_equal(watches, 2);
	assert_true(informer_synced(inf));
	/* first watch from the list's RV; the second LIST's RV after the 410 */
	assert_string_equal(watch_rv[0], "10");
	assert_string_equal(watch_rv[1], "20");
	assert_int_equal(lists, 3);
	/* list a,b; watch +c ~a -b; relist: c gone, a updated, d added */
	/* the first LIST adds a and b (in any order), the watch applies its events in order, the
	 * re-list deletes first (c), then updates a and adds d */
	assert_true(!strncmp(log_, "+a +b ", 6) || !strncmp(log_, "+b +a ", 6));
	assert_non_null(strstr(log_, " +c ~a -b -c "));
	assert_true(strstr(log_, "-c ~a +d ") || strstr(log_, "-c +d ~a "));
	assert_int_equal(informer_len(inf), 2);
	assert_non_null(informer_get(inf, "ns", "a"));
	assert_non_null(informer_get(inf, "ns", "d"));
	assert_null(informer_get(inf, "ns", "c"));
	const struct kc_map *on_n1 = informer_index(inf, by_node, "n1");
	assert_non_null(on_n1);
	assert_int_equal(on_n1->len, 2);
	assert_null(informer_index(inf, by_node, "n2"));
	struct informer_stats st;
	informer_get_stats(inf, &st);
	assert_int_equal(st.lists, 2);
	assert_int_equal(st.relists_410, 1);
	assert_string_equal(informer_rv(inf), "20");

	apiclient_free(c);
	informer_free(inf);
	if (open_watch)
		http_stream_end(open_watch);
	http_server_close(srv);
	for (int i = 0; i < 5; i++)
		loop_run_once(L, 1);
	loop_free(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_watch_relist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
