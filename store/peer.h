/* peer.h - the Raft transport between store members: batches of raft_codec-encoded messages
 * POSTed to /raft/msgs on each member's peer port, over plain HTTP or TLS. */
#ifndef KC_STORE_PEER_H
#define KC_STORE_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "store/mvcc.h"
#include "store/raft/raft.h"
#include "store/snapshot.h"

struct loop;
struct peer_transport;
struct tls_server_config;
struct tls_client_config;
struct http_req;

/* A message from a peer: the callee takes ownership of *m's contents (raft_msg_free). */
typedef void (*peer_recv_fn)(void *arg, struct raft_msg *m);
/* A batch to 'id' could not be delivered (for raft_report_unreachable). */
typedef void (*peer_unreachable_fn)(void *arg, uint64_t id);

/* Leader side of a forwarded proposal (POST /raft/propose): proposes cmd and returns 0 with the
 * entry's index and term, or a negative code (-KC_EUNAVAIL: not the leader). */
typedef int (*peer_propose_fn)(void *arg, const void *cmd, size_t len, uint64_t *index,
			       uint64_t *term);
/* Leader side of a forwarded lease keepalive (POST /raft/keepalive): 0 with the lease's TTL, or
 * a negative code (-KC_EUNAVAIL: not the leader, -MVCC_ELEASE_NOT_FOUND). */
typedef int (*peer_keepalive_fn)(void *arg, int64_t id, int64_t *ttl);
/* Any member (GET /raft/members): appends the member directory to out, one member a line:
 * "ID-hex NAME PEER_URL CLIENT_URL ROLE\n" with "-" for an empty field and ROLE "voter" or
 * "learner", after a first line "cluster TOKEN". A joining member reads it to learn the cluster
 * and where the others are. It is answered whatever X-Kc-Cluster says. */
struct kc_str;
typedef void (*peer_members_fn)(void *arg, struct kc_str *out);
/* A membership change as a follower forwards it to the leader (POST /raft/conf). */
enum peer_conf_kind { PEER_CONF_ADD = 1, PEER_CONF_REMOVE, PEER_CONF_PROMOTE };
#define PEER_CONF_BODY_MAX 512 /* longer bodies are refused */
struct peer_conf_change {
	enum peer_conf_kind kind;
	uint64_t id;	    /* not 0 */
	char name[64];	    /* PEER_CONF_ADD only: not empty, no control characters */
	char peer_url[256]; /* PEER_CONF_ADD only: likewise */
};
/* Leader side of a forwarded membership change: runs the leader's checks and proposes it;
 * returns 0 with the entry's index and term, or a negative code with err set (-KC_EUNAVAIL: not
 * the leader). */
typedef int (*peer_conf_fn)(void *arg, const struct peer_conf_change *cc, uint64_t *index,
			    uint64_t *term, struct kc_err *err);
/* Follower side: the outcome of peer_transport_conf_change. A refusal the leader answered comes
 * with its code and message in err; err is NULL when none came (transport errors). */
typedef void (*peer_conf_cb)(void *arg, int rc, uint64_t index, uint64_t term,
			     const struct kc_err *err);
/* Leader side of a forwarded lease time-to-live (POST /raft/ttl): 0 with *info and, when keys,
 * the keys attached in *out (the transport frees them), or a negative code with err set
 * (-KC_EUNAVAIL: not the leader; -MVCC_ELEASE_NOT_FOUND). */
typedef int (*peer_ttl_fn)(void *arg, int64_t id, bool keys, struct mvcc_lease_info *info,
			   struct mvcc_range_resp *out, struct kc_err *err);
/* Follower side: the outcome of peer_transport_ttl: rc 0 with info and keys (the callee may take
 * keys' contents, leaving it zeroed), or a negative code with the leader's message in err (NULL
 * when none came: transport errors). */
typedef void (*peer_ttl_cb)(void *arg, int rc, const struct mvcc_lease_info *info,
			    struct mvcc_range_resp *keys, const struct kc_err *err);
/* A time-to-live answer carries at most this many keys and key bytes (the leader answers
 * -KC_ELIMIT instead); longer bodies are refused. */
#define PEER_TTL_KEYS_MAX      10000
#define PEER_TTL_KEY_BYTES_MAX (4 << 20)
#define PEER_TTL_BODY_MAX      (PEER_TTL_KEY_BYTES_MAX + PEER_TTL_KEYS_MAX * 10 + 512)
/* Leader side of a snapshot download (GET /raft/snapshot/NAME): opens the snapshot file named
 * 'name' (not yet validated): 0 with *fd (the transport reads it in chunks and closes it) and
 * *size, or a negative code (answered 404). */
typedef int (*peer_snap_open_fn)(void *arg, const char *name, int *fd, uint64_t *size);
/* The data of a snapshot message is a descriptor (store/snapshot.h), never the database:
 * messages whose snapshot data is longer are dropped as malformed. */
#define PEER_SNAPSHOT_DATA_MAX 4096
/* Follower side: the outcome of peer_transport_forward (index, term) or of
 * peer_transport_keepalive (ttl in 'a', b unused). */
typedef void (*peer_forward_cb)(void *arg, int rc, uint64_t a, uint64_t b);

struct peer_config {
	const char *listen_addr;         /* NULL: "::" */
	uint16_t listen_port;            /* 0: ephemeral */
	bool no_server;                  /* single member: client side only, no listener */
	uint64_t cluster_id;             /* sent and checked in X-Kc-Cluster */
	uint64_t member_id;              /* this member: messages to other ids are dropped */
	struct tls_server_config *tls_server; /* borrowed; NULL: plain */
	struct tls_client_config *tls_client; /* borrowed; NULL: plain (https peers refused) */
	size_t max_pending_bytes;        /* per peer, queued behind the in-flight batch; 0: 64 MiB */
	unsigned timeout_ms;             /* per batch; 0: 5000 */
	peer_recv_fn recv;
	peer_unreachable_fn unreachable; /* may be NULL */
	peer_propose_fn propose;         /* may be NULL: forwarded proposals are refused */
	peer_keepalive_fn keepalive;     /* may be NULL: forwarded keepalives are refused */
	peer_conf_fn conf;               /* may be NULL: forwarded membership changes are refused */
	peer_ttl_fn ttl;                 /* may be NULL: forwarded time-to-live is refused */
	peer_members_fn members;         /* may be NULL: GET /raft/members answers 404 */
	peer_snap_open_fn snap_open;	 /* may be NULL: GET /raft/snapshot/ answers 404 */
	/* Messages from a member this one knows was removed are not delivered: the batch is
	 * answered 410, and a sender that gets 410 learns it was removed ('removed' runs, on the
	 * loop). Both may be NULL. */
	bool (*is_removed)(void *arg, uint64_t id);
	void (*removed)(void *arg);
	/* With tls_server: every /raft/ call needs a verified client certificate with this O
	 * value (NULL: any verified certificate). */
	const char *require_group;
	/* Requests under /kc/ go here unauthenticated (e.g. the CA bootstrap, which checks its
	 * own token); NULL: 404. Runs on the loop's thread. */
	void (*extra)(void *extra_arg, struct http_req *req);
	void *extra_arg;
	void *arg;
};

/* Opens the transport on loop l (the store thread's); every function runs on l's thread.
 * Returns 0 with *out (free with peer_transport_close) or a negative code. */
int peer_transport_open(struct loop *l, const struct peer_config *cfg,
			struct peer_transport **out, struct kc_err *err);
/* Not from inside one of its own callbacks. NULL is a no-op. */
void peer_transport_close(struct peer_transport *p);
uint16_t peer_transport_port(const struct peer_transport *p);

/* Sets (or changes) the peer URL of member id ("http://host:port"; copied). */
void peer_transport_set_peer(struct peer_transport *p, uint64_t id, const char *url);
void peer_transport_remove_peer(struct peer_transport *p, uint64_t id);

/* Queues m for its destination (m->to) and starts a POST if none is in flight to it. Borrows m
 * (it is encoded at once). Unknown destinations and overflow drop the message (Raft resends). */
void peer_transport_send(struct peer_transport *p, const struct raft_msg *m);

/* Forwards an encoded command to member 'to' (the leader), which proposes it. cb runs exactly once
 * on the loop, never inside this call: rc 0 with the entry's (index, term), or a negative code
 * (-KC_EUNAVAIL: unknown member or not the leader; transport errors; -KC_ECLOSED when the
 * transport closes). cmd is copied. */
void peer_transport_forward(struct peer_transport *p, uint64_t to, const void *cmd, size_t len,
			    peer_forward_cb cb, void *arg);

/* Forwards a lease keepalive to member 'to' (the leader); like peer_transport_forward, with the
 * TTL as 'a'. */
void peer_transport_keepalive(struct peer_transport *p, uint64_t to, int64_t id,
			      peer_forward_cb cb, void *arg);

/* Forwards a membership change to member 'to' (the leader); like peer_transport_forward, with
 * the leader's refusal passed on (peer_conf_cb). cc is copied. */
void peer_transport_conf_change(struct peer_transport *p, uint64_t to,
				const struct peer_conf_change *cc, peer_conf_cb cb, void *arg);

/* Asks member 'to' (the leader) for lease id's time-to-live, with its keys when keys; cb runs
 * exactly once on the loop, never inside this call. */
void peer_transport_ttl(struct peer_transport *p, uint64_t to, int64_t id, bool keys,
			peer_ttl_cb cb, void *arg);

/* The answer to POST /raft/ttl: "RC ID TTL REMAINING NKEYS\n" (decimal), then for RC < 0 the
 * message, else NKEYS times "LEN KEY\n" (LEN raw bytes). encode appends to out the answer for
 * rc (info and keys when 0, msg when negative; over the limits it answers -KC_ELIMIT); parse
 * reads untrusted bytes: 0 with *code (0 with *info and *keys, free with mvcc_range_resp_free; or
 * the leader's refusal with its message in err), or -KC_EPROTO with err saying what is wrong. */
void peer_ttl_encode(int rc, const struct mvcc_lease_info *info,
		     const struct mvcc_range_resp *keys, const char *msg, struct kc_str *out);
int peer_ttl_parse(const void *body, size_t len, int *code, struct mvcc_lease_info *info,
		   struct mvcc_range_resp *keys, struct kc_err *err);

/* The body of POST /raft/conf: "add|remove|promote ID-hex\n", for add followed by
 * "NAME\nPEER_URL\n". encode appends to out (cc as parse accepts it); parse reads untrusted
 * bytes and returns 0, or -KC_EINVAL with err saying what is wrong. */
void peer_conf_encode(const struct peer_conf_change *cc, struct kc_str *out);
int peer_conf_parse(const void *body, size_t len, struct peer_conf_change *out, struct kc_err *err);

/* A member of the directory as peer_fetch_members returns it. */
struct peer_member_info {
	uint64_t id;
	char name[64];
	char peer_url[256];
	char client_url[256];
	bool learner;
};

/* Blocking (any thread, no loop needed): GET base_url/raft/members from a running member of
 * cluster_id, over tls (borrowed; NULL: plain http only), retrying refused connections for up to
 * wait_ms. Returns the number of members written to out, or a negative code with err naming the
 * member and the cause (more than max members: -KC_ELIMIT). The cluster's token (the answer's
 * first line is "cluster TOKEN") goes to token when not NULL: the caller checks it. */
int peer_fetch_members(const char *base_url, uint64_t cluster_id, struct tls_client_config *tls,
		       unsigned wait_ms, struct peer_member_info *out, size_t max, char *token,
		       size_t token_size, struct kc_err *err);

/* Blocking (any thread, no loop needed): GET base_url/raft/snapshot/NAME (d->name) from a
 * member of cluster_id over tls (borrowed; NULL: plain http only), streamed into dest (created
 * or truncated, mode 0600) as it arrives, never more than d->size bytes; then checks the size
 * and the SHA-256 and fsyncs dest. A download stops with -KC_ETIMEDOUT when no byte came for
 * 30 s, and with -KC_ECLOSED within 200 ms of another thread setting *cancel (may be NULL).
 * Returns 0, or a negative code with err naming the cause (dest is then removed). */
int peer_fetch_snapshot(const char *base_url, uint64_t cluster_id, struct tls_client_config *tls,
			const struct snap_desc *d, const char *dest, const atomic_bool *cancel,
			struct kc_err *err);

#endif
