/* addr.h - IP addresses, CIDR ranges and host:port strings: parsing, validation, containment. */
#ifndef KC_NET_ADDR_H
#define KC_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/err.h"

struct net_ip {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t bytes[16];   /* network order; 4 used for AF_INET */
};

struct net_cidr {
	struct net_ip ip;    /* the network address (host bits zero) */
	unsigned prefix;     /* 0..32 or 0..128 */
};

/* Parses an IPv4 dotted quad or an IPv6 literal (no brackets, no zone). Returns 0 or -KC_EINVAL. */
int net_ip_parse(const char *s, struct net_ip *out);
/* Formats into buf (>= 46 bytes); returns buf. */
char *net_ip_format(const struct net_ip *ip, char *buf, size_t size);
bool net_ip_equal(const struct net_ip *a, const struct net_ip *b);
bool net_ip_is_loopback(const struct net_ip *ip);

/* Parses "10.42.0.0/16" or "fd00::/64". Host bits must be zero. Returns 0, or -KC_EINVAL with a
 * reason in err. */
int net_cidr_parse(const char *s, struct net_cidr *out, struct kc_err *err);
bool net_cidr_contains(const struct net_cidr *c, const struct net_ip *ip);
bool net_cidr_overlaps(const struct net_cidr *a, const struct net_cidr *b);
/* Sets *out to the network address plus 'offset' (e.g. offset 10 in 10.43.0.0/16 is
 * 10.43.0.10). Returns -KC_ELIMIT when the result falls outside the range. */
int net_cidr_nth(const struct net_cidr *c, uint64_t offset, struct net_ip *out);
char *net_cidr_format(const struct net_cidr *c, char *buf, size_t size);

/* Parses a decimal TCP/UDP port 1..65535. Returns 0 or -KC_EINVAL. */
int net_port_parse(const char *s, uint16_t *out);

/* Splits "host:port", "[v6]:port" into host (brackets removed) and port. Returns 0 or
 * -KC_EINVAL. host needs hostsize bytes. */
int net_hostport_split(const char *s, char *host, size_t hostsize, uint16_t *port);

/* Fills a sockaddr for ip:port; returns its length. */
socklen_t net_sockaddr(const struct net_ip *ip, uint16_t port, struct sockaddr_storage *ss);
/* Reads ip and port back from a sockaddr (AF_INET/AF_INET6). Returns 0 or -KC_EINVAL. */
int net_sockaddr_parse(const struct sockaddr *sa, struct net_ip *ip, uint16_t *port);

/* The first non-loopback IPv4 address of an interface that is up, else 127.0.0.1. */
void net_default_advertise(struct net_ip *out);

#endif
