/* transport.h - a byte stream over a non-blocking socket: plain TCP or TLS behind one set of
 * operations, so HTTP (server and client) never knows which it speaks. */
#ifndef KC_NET_TRANSPORT_H
#define KC_NET_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

struct transport;

struct transport_ops {
	/* Reads up to n bytes. Returns > 0 bytes read, 0 at a clean end of stream, or a negative
	 * code: -EAGAIN when it must wait (then *want says for EPOLLIN or EPOLLOUT), else an error
	 * (-ECONNRESET, -KC_ETLS, ...). For TLS the handshake runs inside the first reads/writes. */
	ssize_t (*read)(struct transport *t, void *buf, size_t n, unsigned *want);
	/* Writes up to n bytes; same return convention (> 0 bytes accepted). */
	ssize_t (*write)(struct transport *t, const void *buf, size_t n, unsigned *want);
	/* Bytes already decrypted and buffered: readable without waiting for the fd. */
	size_t (*pending)(struct transport *t);
	/* Sends a close notification if the protocol has one (best effort, non-blocking). */
	void (*shutdown)(struct transport *t);
	/* Closes the fd and frees t. */
	void (*free)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	int fd;
	/* Set by TLS once the handshake is done: the SNI name the client asked for and the verified
	 * peer certificate's subject (CN, and O values joined by ','), or "" when none. */
	char sni[256];
	char peer_cn[256];
	char peer_groups[512];
	bool peer_verified;
};

/* Wraps a connected non-blocking socket; takes ownership of fd. */
struct transport *transport_plain_new(int fd);

static inline ssize_t transport_read(struct transport *t, void *buf, size_t n, unsigned *want)
{
	return t->ops->read(t, buf, n, want);
}

static inline ssize_t transport_write(struct transport *t, const void *buf, size_t n, unsigned *want)
{
	return t->ops->write(t, buf, n, want);
}

static inline size_t transport_pending(struct transport *t)
{
	return t->ops->pending ? t->ops->pending(t) : 0;
}

/* Shuts down and frees; NULL is a no-op. */
void transport_close(struct transport *t);

#endif
