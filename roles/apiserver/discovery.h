/* discovery.h - the discovery documents, generated once from the schema's resource table:
 * legacy (/api, /apis, /api/v1, /apis/<group>/<version>) and aggregated
 * (apidiscovery.k8s.io/v2 APIGroupDiscoveryList for /api and /apis). */
#ifndef KC_ROLES_APISERVER_DISCOVERY_H
#define KC_ROLES_APISERVER_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "roles/apiserver/schema.h"

struct discovery;

/* server_address: "host:port" for serverAddressByClientCIDRs. */
struct discovery *discovery_new(const struct schema *s, const char *server_address);
void discovery_free(struct discovery *d);

/* The Content-Type that marks an aggregated answer. */
#define DISCOVERY_AGGREGATED_CT "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

/* Whether Accept asks for aggregated discovery (v2 or v2beta1). *v2beta1 tells which. */
bool discovery_wants_aggregated(const char *accept, bool *v2beta1);

/* Immutable documents (NUL-terminated JSON), valid until discovery_free. Paths: "/api",
 * "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1", ... NULL for unknown paths. */
const char *discovery_doc(const struct discovery *d, const char *path, bool aggregated,
			  bool v2beta1, size_t *len);

#endif
