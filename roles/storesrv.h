/* storesrv.h - the store role: one store member (Raft + MVCC) and its etcd-v3-JSON client API on
 * --store-port. */
#ifndef KC_ROLES_STORESRV_H
#define KC_ROLES_STORESRV_H

#include "roles/config.h"
#include "roles/pki.h"

struct storesrv;
struct store;

/* Opens the member under DATA/store (founding it from --store-peers, joining with --store-join,
 * or as a single member), starts its peer server on --peer-port (always, so that members can be
 * added; mutual TLS with the cluster CA and pki->peer, or plain HTTP with --plain-http), and serves
 * the client API on --bind-address:--store-port: plain HTTP with --plain-http, else HTTPS with
 * the node's serving certificate (pki, borrowed for the call). Returns 0 or a negative code with
 * err naming the cause. */
int storesrv_start(const struct kc_server_config *cfg, const struct kc_pki *pki,
		   struct storesrv **out, struct kc_err *err);

/* Stops the client API (in-flight requests get a short grace period), then the member. NULL is
 * a no-op. */
void storesrv_stop(struct storesrv *s);

/* The member, for in-process users (the API server with --role=all); valid until
 * storesrv_stop. */
struct store *storesrv_store(const struct storesrv *s);

#endif
