/* loop.h - one epoll event loop per thread: fd watches, timers, and the only door between
 * threads, a message queue woken through an eventfd.
 *
 * Ownership: a loop is used only by the thread that runs it, except loop_post() and
 * loop_stop(), which any thread may call. Watches, timers and messages are embedded by the
 * caller in its own structs (no allocation inside the loop); the caller keeps them alive while
 * they are started. */
#ifndef KC_NET_LOOP_H
#define KC_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "lib/clock.h"
#include "lib/list.h"

struct loop;
struct loop_io;
struct loop_timer;
struct loop_msg;

/* events is a mask of EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP. */
typedef void (*loop_io_cb)(struct loop *l, struct loop_io *io, uint32_t events);
typedef void (*loop_timer_cb)(struct loop *l, struct loop_timer *t);
/* Runs on the loop's thread; the handler owns m (and whatever embeds it) from then on. */
typedef void (*loop_msg_cb)(struct loop *l, struct loop_msg *m);

struct loop_io {
	int fd;              /* read-only for callers after loop_io_init */
	uint32_t events;     /* private */
	bool active;         /* private */
	loop_io_cb cb;
	void *data;          /* free for the caller */
};

struct loop_timer {
	uint64_t due_ms;     /* private */
	uint64_t seq;        /* private: FIFO order among equal deadlines */
	unsigned heap_idx;   /* private: 0 when not started */
	loop_timer_cb cb;
	void *data;          /* free for the caller */
};

struct loop_msg {
	struct kc_list link; /* private */
	loop_msg_cb cb;
	void *data;          /* free for the caller */
};

/* Creates a loop bound to 'clock' (NULL: the real clock). Returns NULL with errno set when the
 * kernel refuses an epoll or eventfd descriptor. Free with loop_free() after loop_run returned. */
struct loop *loop_new(struct kc_clock *clock);
/* Frees the loop; messages still queued are dropped without their callbacks. NULL is a no-op. */
void loop_free(struct loop *l);

/* Runs until loop_stop(). Returns 0, or -errno if epoll_wait fails for a reason other than EINTR. */
int loop_run(struct loop *l);
/* Runs ready callbacks once, waiting at most timeout_ms (-1: until something happens; 0: never).
 * Returns the number of callbacks run, or -errno. For tests and for embedding. */
int loop_run_once(struct loop *l, int timeout_ms);
/* Asks loop_run to return after the current iteration. Any thread. */
void loop_stop(struct loop *l);
bool loop_stopping(struct loop *l);

/* The loop's clock, in milliseconds, cached once per iteration. */
uint64_t loop_now_ms(struct loop *l);
struct kc_clock *loop_clock(struct loop *l);

void loop_io_init(struct loop_io *io, int fd, loop_io_cb cb, void *data);
/* Starts, changes or stops watching io->fd. Level-triggered. Returns 0 or -errno. Stopping an io
 * inside any callback guarantees its callback is not called again, even for events of the same
 * batch, so the caller may free it right away. */
int loop_io_start(struct loop *l, struct loop_io *io, uint32_t events);
int loop_io_stop(struct loop *l, struct loop_io *io);

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *data);
/* (Re)arms t to fire once after delay_ms. */
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms);
void loop_timer_stop(struct loop *l, struct loop_timer *t);
bool loop_timer_active(const struct loop_timer *t);

void loop_msg_init(struct loop_msg *m, loop_msg_cb cb, void *data);
/* Queues m to run on l's thread, in FIFO order. Any thread; never fails. Ownership of m (and of
 * what embeds it) moves to the callback. */
void loop_post(struct loop *l, struct loop_msg *m);
/* Convenience: allocates the message; fn(l, arg) runs on l's thread. Any thread. */
void loop_call(struct loop *l, void (*fn)(struct loop *l, void *arg), void *arg);

#endif
