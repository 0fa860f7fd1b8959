/* fuzz_netlink.c - untrusted bytes as one netlink datagram from the kernel: walked with
 * nl_msg_next and every message decoded as a link, an address, a route and an error, plus a raw
 * attribute walk, exactly as the client reads answers. Nothing may be read outside the buffer;
 * decoded names are NUL-terminated within their arrays and prefixes within their family. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "net/netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > NL_RECV_MAX)
		return 0;
	/* the client's buffer is aligned; so is this copy, and exactly 'size' long for ASan */
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	size_t off = 0;
	const struct nlmsghdr *h;
	int rc, msgs = 0;
	while ((rc = nl_msg_next(buf, size, &off, &h)) == 1) {
		check(h->nlmsg_len >= NLMSG_HDRLEN &&
		      (const uint8_t *)h + h->nlmsg_len <= buf + size);
		msgs++;
		/* try every decoder regardless of type, with the type forced to what it expects */
		uint16_t type = h->nlmsg_type;
		struct nlmsghdr *w = (struct nlmsghdr *)(uintptr_t)h;
		struct nl_link l;
		w->nlmsg_type = RTM_NEWLINK;
		if (nl_parse_link(h, &l) == 0) {
			check(memchr(l.name, 0, sizeof l.name) != NULL);
			check(memchr(l.kind, 0, sizeof l.kind) != NULL);
		}
		struct nl_addr a;
		w->nlmsg_type = RTM_NEWADDR;
		if (nl_parse_addr(h, &a) == 0)
			check(a.prefix <= (a.ip.family == AF_INET ? 32u : 128u));
		struct nl_route r;
		w->nlmsg_type = RTM_NEWROUTE;
		if (nl_parse_route(h, &r) == 0)
			check(r.dst.prefix <= (r.dst.ip.family == AF_INET ? 32u : 128u));
		w->nlmsg_type = NLMSG_ERROR;
		int e = nl_parse_error(h);
		check(e == -KC_EPARSE || (e <= 0 && e >= -4095));
		w->nlmsg_type = type;
		struct nl_attr tb[64];
		if (h->nlmsg_len > NLMSG_HDRLEN + 16)
			nl_attr_parse((const uint8_t *)h + NLMSG_HDRLEN + 16,
				      h->nlmsg_len - NLMSG_HDRLEN - 16, tb, 63);
	}
	check(rc == 0 || rc == -KC_EPARSE);
	check(msgs <= (int)(size / NLMSG_HDRLEN));
	free(buf);
	return 0;
}
