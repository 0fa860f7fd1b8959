/* DESIGN: pure parsing and arithmetic over addresses; inet_pton does the literal parsing, the
 * rest is bit arithmetic on network-order bytes. Only net_default_advertise touches the system
 * (getifaddrs). Reentrant. */
#include "net/addr.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"

static size_t ip_len(const struct net_ip *ip)
{
	return ip->family == AF_INET ? 4 : 16;
}

int net_ip_parse(const char *s, struct net_ip *out)
{
	memset(out, 0, sizeof *out);
	if (!s || strlen(s) > 45)
		return -KC_EINVAL;
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -KC_EINVAL;
}

char *net_ip_format(const struct net_ip *ip, char *buf, size_t size)
{
	if (!inet_ntop(ip->family, ip->bytes, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

bool net_ip_equal(const struct net_ip *a, const struct net_ip *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, ip_len(a)) == 0;
}

bool net_ip_is_loopback(const struct net_ip *ip)
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	if (ip->family == AF_INET)
		return ip->bytes[0] == 127;
	return memcmp(ip->bytes, v6lo, 16) == 0;
}

/* Whether bits after 'prefix' are all zero. */
static bool host_bits_zero(const struct net_ip *ip, unsigned prefix)
{
	size_t n = ip_len(ip);
	for (size_t i = 0; i < n; i++) {
		unsigned bit = (unsigned)i * 8;
		uint8_t mask;
		if (bit + 8 <= prefix)
			continue;
		mask = bit >= prefix ? 0xff : (uint8_t)(0xff >> (prefix - bit));
		if (ip->bytes[i] & mask)
			return false;
	}
	return true;
}

int net_cidr_parse(const char *s, struct net_cidr *out, struct kc_err *err)
{
	char ip[64];
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || (size_t)(slash - s) >= sizeof ip)
		return kc_err_set(err, -KC_EINVAL, "'%s' is not a CIDR range (want e.g. 10.42.0.0/16)",
				  s ? s : "");
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (net_ip_parse(ip, &out->ip) < 0)
		return kc_err_set(err, -KC_EINVAL, "'%s': '%s' is not an IP address", s, ip);
	long long prefix;
	unsigned max = out->ip.family == AF_INET ? 32 : 128;
	if (kc_parse_i64(slash + 1, 0, max, &prefix) < 0)
		return kc_err_set(err, -KC_EINVAL, "'%s': prefix length must be 0..%u", s, max);
	out->prefix = (unsigned)prefix;
	if (!host_bits_zero(&out->ip, out->prefix))
		return kc_err_set(err, -KC_EINVAL, "'%s' has host bits set (not a network address)", s);
	return 0;
}

static bool prefix_match(const struct net_ip *a, const struct net_ip *b, unsigned prefix)
{
	if (a->family != b->family)
		return false;
	unsigned full = prefix / 8, rest = prefix % 8;
	if (memcmp(a->bytes, b->bytes, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a->bytes[full] & mask) == (b->bytes[full] & mask);
}

bool net_cidr_contains(const struct net_cidr *c, const struct net_ip *ip)
{
	return prefix_match(&c->ip, ip, c->prefix);
}

bool net_cidr_overlaps(const struct net_cidr *a, const struct net_cidr *b)
{
	unsigned p = a->prefix < b->prefix ? a->prefix : b->prefix;
	return prefix_match(&a->ip, &b->ip, p);
}

int net_cidr_nth(const struct net_cidr *c, uint64_t offset, struct net_ip *out)
{
	*out = c->ip;
	size_t n = ip_len(out);
	unsigned host_bits = (unsigned)n * 8 - c->prefix;
	if (host_bits < 64 && offset >> host_bits)
		return -KC_ELIMIT;
	uint64_t carry = offset;
	for (size_t i = n; i-- > 0 && carry;) {
		uint64_t v = out->bytes[i] + (carry & 0xff);
		out->bytes[i] = (uint8_t)v;
		carry = (carry >> 8) + (v >> 8);
	}
	return 0;
}

char *net_cidr_format(const struct net_cidr *c, char *buf, size_t size)
{
	char ip[64];
	snprintf(buf, size, "%s/%u", net_ip_format(&c->ip, ip, sizeof ip), c->prefix);
	return buf;
}

int net_port_parse(const char *s, uint16_t *out)
{
	long long v;
	if (kc_parse_i64(s, 1, 65535, &v) < 0)
		return -KC_EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int net_hostport_split(const char *s, char *host, size_t hostsize, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -KC_EINVAL;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -KC_EINVAL; /* bare IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostsize)
		return -KC_EINVAL;
	if (net_port_parse(colon + 1, port) < 0)
		return -KC_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	return 0;
}

socklen_t net_sockaddr(const struct net_ip *ip, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (ip->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip->bytes, 4);
		return sizeof *sin;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, ip->bytes, 16);
	return sizeof *sin6;
}

int net_sockaddr_parse(const struct sockaddr *sa, struct net_ip *ip, uint16_t *port)
{
	memset(ip, 0, sizeof *ip);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		ip->family = AF_INET;
		memcpy(ip->bytes, &sin->sin_addr, 4);
		if (port)
			*port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		ip->family = AF_INET6;
		memcpy(ip->bytes, &sin6->sin6_addr, 16);
		if (port)
			*port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -KC_EINVAL;
}

void net_default_advertise(struct net_ip *out)
{
	struct ifaddrs *ifs = NULL;
	net_ip_parse("127.0.0.1", out);
	if (getifaddrs(&ifs) < 0)
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		struct net_ip ip;
		if (net_sockaddr_parse(i->ifa_addr, &ip, NULL) == 0 && !net_ip_is_loopback(&ip)) {
			*out = ip;
			break;
		}
	}
	freeifaddrs(ifs);
}
