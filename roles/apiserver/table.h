/* table.h - server-side printing (meta.k8s.io/v1 Table) with the columns kubectl shows against
 * Kubernetes for each kind (pods: Name Ready Status Restarts Age | IP Node Nominated-Node
 * Readiness-Gates; nodes; services; endpoints; deployments; replicasets; statefulsets;
 * daemonsets; namespaces; configmaps; secrets; serviceaccounts; events; leases; ingresses;
 * ...; any other kind: Name, Age), where '|' separates priority-1 (wide) columns. */
#ifndef KC_ROLES_APISERVER_TABLE_H
#define KC_ROLES_APISERVER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "lib/str.h"
#include "roles/apiserver/schema.h"

/* Appends the "columnDefinitions":[...] JSON array (no key) for resource r. */
void table_columns_json(const struct api_resource *r, struct kc_str *out);
/* Appends one row object {"cells":[...],"object":{PartialObjectMetadata}} for obj (a complete
 * object with metadata). now: seconds since the epoch (for Age cells like "5m", "3h12m", "2d"
 * exactly as kubectl's duration.HumanDuration prints). include_object: false for
 * includeObject=None. */
void table_row_json(const struct api_resource *r, const cJSON *obj, int64_t now,
		    bool include_object, struct kc_str *out);

/* The Accept header asks for a Table (as=Table;g=meta.k8s.io;v=v1 or v1beta1)? */
bool table_wanted(const char *accept);

/* One media range of an Accept header, as table_accept_next finds it. Pointers borrow the
 * header text (not NUL-terminated; quoted parameter values without their quotes). */
struct accept_range {
	const char *type; /* the media type, e.g. "application/json" */
	size_t type_len;
	unsigned q;		/* quality in thousandths, 0..1000 (default 1000) */
	const char *as, *g, *v; /* the as=, g= and v= parameters; NULL when absent */
	size_t as_len, g_len, v_len;
};

/* Steps through an Accept header: fills *r with the media range at *cursor and advances it.
 * Returns false when no range is left. Never allocates; linear in the header length; any
 * byte sequence is safe (malformed parts give ranges that match nothing). Shared with
 * discovery_wants_aggregated. */
bool table_accept_next(const char **cursor, struct accept_range *r);
/* Whether r's media type is JSON or a wildcard that covers it (case-insensitive). */
bool table_accept_json(const struct accept_range *r);
/* Whether r's parameter value (p, n) equals s. */
bool table_accept_param_is(const char *p, size_t n, const char *s);

/* kubectl's HumanDuration of d seconds ("0s", "59s", "5m", "5m30s", "3h", "3h12m", "2d", "2d3h",
 * "400d", "2y100d"...), written into buf. */
void table_age(int64_t d, char *buf, size_t cap);

#endif
