/* DESIGN: the plain-TCP transport: read/write straight on the socket. TLS lives in tls.c. */
#include "net/transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"

static ssize_t plain_read(struct transport *t, void *buf, size_t n, unsigned *want)
{
	for (;;) {
		ssize_t r = recv(t->fd, buf, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*want = EPOLLIN;
			return -EAGAIN;
		}
		return -errno;
	}
}

static ssize_t plain_write(struct transport *t, const void *buf, size_t n, unsigned *want)
{
	for (;;) {
		ssize_t r = send(t->fd, buf, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*want = EPOLLOUT;
			return -EAGAIN;
		}
		return -errno;
	}
}

static void plain_free(struct transport *t)
{
	close(t->fd);
	free(t);
}

static const struct transport_ops plain_ops = {
	.read = plain_read,
	.write = plain_write,
	.pending = NULL,
	.shutdown = NULL,
	.free = plain_free,
};

struct transport *transport_plain_new(int fd)
{
	struct transport *t = xcalloc(1, sizeof *t);
	t->ops = &plain_ops;
	t->fd = fd;
	return t;
}

void transport_close(struct transport *t)
{
	if (!t)
		return;
	if (t->ops->shutdown)
		t->ops->shutdown(t);
	t->ops->free(t);
}
