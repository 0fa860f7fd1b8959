/* nodecert.h - certificates for joining workers on the API port: the cluster CA certificate
 * (public, GET /kc/cluster/ca.crt; the worker accepts it only if it matches its token's pin) and
 * a node identity for the join token (POST /apis/kc.io/v1/nodecerts). */
#ifndef KC_ROLES_APISERVER_NODECERT_H
#define KC_ROLES_APISERVER_NODECERT_H

#include "lib/err.h"
#include "roles/pki.h"

struct router;
struct nodecert;

#define NODECERT_CA_PATH "/kc/cluster/ca.crt"
#define NODECERT_PATH "/apis/kc.io/v1/nodecerts"

/* Copies the CA certificate and key and the join token out of pki (borrowed for the call).
 * NULL when pki has no CA key (a master without the CA key cannot issue). */
struct nodecert *nodecert_new(const struct kc_pki *pki);
/* NULL is a no-op. Only after the routes are gone. */
void nodecert_free(struct nodecert *nc);

/* Adds GET NODECERT_CA_PATH and POST NODECERT_PATH to rt. The POST takes
 * {"nodeName":"n1","address":"10.0.0.5"} with "Authorization: Bearer <join token>" and answers
 * 201 {"kind":"NodeCertificate","apiVersion":"kc.io/v1","nodeName":...,"ca":PEM,
 * "certificate":PEM (client, CN system:node:<name>, O system:nodes),"servingCertificate":PEM
 * (SANs: the name and the address),"key":PEM}; 401 without the token, 400 on a bad body. The
 * handlers are thread-safe (nc is immutable). */
int nodecert_add_routes(struct router *rt, struct nodecert *nc, struct kc_err *err);

#endif
