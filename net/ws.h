/* ws.h - WebSocket (RFC 6455): the frame codec (incremental parser, frame builder, UTF-8
 * check), the server handshake on top of http_server, and a message-level connection on a
 * loop (automatic pong, close handshake, back-pressure). */
#ifndef KC_NET_WS_H
#define KC_NET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/str.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/transport.h"

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 7.4.1). 1005 and 1006 are never sent, only reported. */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_UNSUPPORTED 1003
#define WS_CLOSE_NO_STATUS 1005
#define WS_CLOSE_ABNORMAL 1006
#define WS_CLOSE_INVALID_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009
#define WS_CLOSE_INTERNAL 1011

#define WS_MAX_HEADER 14

/* ---- frame codec ---- */

/* Writes a frame header into out (WS_MAX_HEADER bytes) and returns its length. mask is NULL for
 * server frames, 4 bytes for client frames (the payload must then be masked with ws_mask). */
size_t ws_build_header(uint8_t *out, bool fin, enum ws_opcode op, uint64_t len, const uint8_t *mask);

/* XORs data with mask; 'offset' is the position of data[0] within the frame payload. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* Appends a whole frame (header, payload masked when mask != NULL) to out. */
void ws_frame_append(struct kc_str *out, bool fin, enum ws_opcode op, const void *payload,
		     size_t len, const uint8_t *mask);

/* Whether data is well-formed UTF-8 (no overlongs, surrogates or code points over U+10FFFF). */
bool ws_utf8_valid(const void *data, size_t len);

/* Whether a close code received from a peer is acceptable (1000-1003, 1007-1011, 3000-4999). */
bool ws_close_code_valid(unsigned code);

enum ws_event_kind {
	WS_EV_NONE = 0,   /* more input needed */
	WS_EV_MESSAGE,    /* a complete (reassembled) text or binary message */
	WS_EV_PING,
	WS_EV_PONG,
	WS_EV_CLOSE,      /* data/len: the reason; close_code: the code or 1005 */
};

struct ws_event {
	enum ws_event_kind kind;
	enum ws_opcode opcode;    /* WS_OP_TEXT or WS_OP_BINARY for messages */
	const uint8_t *data;      /* valid until the next ws_parser_feed or ws_parser_free */
	size_t len;
	uint16_t close_code;
};

/* Incremental frame parser and message assembler. Private fields. */
struct ws_parser {
	bool expect_masked;       /* true on the server: client frames must be masked */
	uint64_t max_frame, max_message;
	uint8_t hdr[WS_MAX_HEADER];
	unsigned hdr_len;
	bool in_frame;
	bool fin, masked;
	uint8_t opcode;
	uint8_t mask[4];
	uint64_t frame_len, frame_got;
	bool in_message;
	uint8_t msg_opcode;
	bool deliver_reset;       /* the message buffer was handed out: empty it on the next feed */
	struct kc_str msg;
	uint8_t utf8_need, utf8_lo, utf8_hi;
	uint8_t ctl[125];
	int error;                /* sticky: 0 or the close code to send */
};

/* expect_masked: true to parse frames from a client (server side). Limits: the largest frame
 * payload and the largest reassembled message (0: 16 MiB each). Free with ws_parser_free. */
void ws_parser_init(struct ws_parser *p, bool expect_masked, uint64_t max_frame, uint64_t max_message);
void ws_parser_free(struct ws_parser *p);

/* Consumes input up to and including the first complete event, which it reports in *ev
 * (WS_EV_NONE when all of buf was consumed without one). Returns the bytes consumed, or
 * -KC_EPROTO when the peer broke the protocol; ws_parser_error(p) then gives the close code to
 * send (1002 protocol, 1007 bad UTF-8, 1009 too big) and every later call fails the same way. */
long ws_parser_feed(struct ws_parser *p, const uint8_t *buf, size_t len, struct ws_event *ev);
int ws_parser_error(const struct ws_parser *p);

/* ---- connections ---- */

struct ws_conn;

struct ws_handlers {
	/* Optional: the connection is up (after the 101 was sent). */
	void (*on_open)(struct ws_conn *ws, void *arg);
	/* A complete text or binary message; data is valid during the call only. */
	void (*on_message)(struct ws_conn *ws, enum ws_opcode op, const void *data, size_t len, void *arg);
	/* Optional: output fell below half the high-water mark after ws_send returned
	 * WS_CONGESTED. */
	void (*on_drain)(struct ws_conn *ws, void *arg);
	/* Required: called exactly once when the connection is over: the close code received (or
	 * sent, after a protocol error), 1006 when it dropped, 1005 without a code. ws is freed
	 * when this returns, and is NULL when the hand-over failed before the connection opened. */
	void (*on_close)(struct ws_conn *ws, int code, const char *reason, void *arg);
};

struct ws_config {
	uint64_t max_frame;          /* 0: 16 MiB */
	uint64_t max_message;        /* 0: 16 MiB */
	size_t high_water;           /* 0: 1 MiB of unsent output makes ws_send report congestion */
	size_t max_buffer;           /* 0: 64 MiB: more unsent output than this drops the connection */
	unsigned close_timeout_ms;   /* 0: 5 s to wait for the peer's close reply */
};

/* Whether req asks for a WebSocket upgrade (GET, Connection: upgrade, Upgrade: websocket). */
bool ws_is_upgrade(const struct http_req *req);

/* Checks the handshake in req, picks the first of 'subprotocols' (NULL-terminated, may be NULL)
 * that the client offers, answers 101 and opens a ws_conn on the request's loop, calling
 * h->on_open once it is up. cfg may be NULL for defaults; h must outlive the connection. The req
 * is finished in every case. Returns 0, or -KC_EPROTO after answering 400 (malformed handshake)
 * or 426 (unsupported version) -- h is then never called. */
int ws_server_upgrade(struct http_req *req, const char *const *subprotocols,
		      const struct ws_config *cfg, const struct ws_handlers *h, void *arg);

/* Runs the WebSocket protocol over an established transport (takes ownership of t): client
 * masks its frames and expects unmasked ones. leftover: bytes already received (copied).
 * subprotocol may be NULL. on_open is not called; the connection is up on return. */
struct ws_conn *ws_conn_new(struct loop *l, struct transport *t, bool client, const char *leftover,
			    size_t leftover_len, const char *subprotocol, const struct ws_config *cfg,
			    const struct ws_handlers *h, void *arg);

#define WS_CONGESTED 1

/* Queues one unfragmented message or control frame (copied). op: TEXT, BINARY, PING or PONG
 * (control payloads <= 125 bytes, else -KC_EINVAL). Returns 0, WS_CONGESTED (queued, but over
 * the high-water mark: wait for on_drain), or -KC_ECLOSED once a close was sent or the
 * connection failed. Never calls a handler. */
int ws_send(struct ws_conn *ws, enum ws_opcode op, const void *data, size_t len);

/* Starts the close handshake with code (1000-4999 except the reserved ones) and a reason of
 * at most 123 bytes; on_close follows when the peer answers or after close_timeout_ms. Returns
 * 0, -KC_EINVAL or -KC_ECLOSED when already closing. */
int ws_close(struct ws_conn *ws, uint16_t code, const char *reason);

/* The negotiated subprotocol, "" when none. */
const char *ws_subprotocol(const struct ws_conn *ws);

/* Bytes queued and not yet sent. */
size_t ws_pending(const struct ws_conn *ws);

#endif
