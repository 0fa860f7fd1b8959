/* selector.h - label selectors and field selectors as list/watch query parameters, and
 * metav1.LabelSelector objects (matchLabels / matchExpressions) in object specs.
 *
 * Label selector syntax (k8s.io/apimachinery/pkg/labels): comma-separated requirements
 *   key=value  key==value  key!=value  key in (a,b)  key notin (a,b)  key  !key
 * keys may carry a DNS-subdomain prefix ("app.kubernetes.io/name"); values are label values.
 * Field selector syntax: comma-separated  path=value  path==value  path!=value  with the
 * supported paths decided per resource (selector_field_supported). */
#ifndef KC_ROLES_APISERVER_SELECTOR_H
#define KC_ROLES_APISERVER_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "lib/err.h"

struct label_selector;
struct field_selector;

/* NULL or "" parses to the selector that matches everything. Returns 0 or -KC_EINVAL with err
 * as Kubernetes words it (e.g. 'unable to parse requirement: found '(', expected: ...'). */
int label_selector_parse(const char *s, struct label_selector **out, struct kc_err *err);
/* From a metav1.LabelSelector object (NULL matches everything; {} matches everything too;
 * used by controllers and `kubectl get -l` equivalents). */
int label_selector_from_object(const cJSON *sel, struct label_selector **out, struct kc_err *err);
/* labels: the metadata.labels object (may be NULL). */
bool label_selector_match(const struct label_selector *s, const cJSON *labels);
bool label_selector_empty(const struct label_selector *s);
void label_selector_free(struct label_selector *s);

/* Supported field paths: metadata.name and metadata.namespace for every resource, plus per
 * resource: pods spec.nodeName, spec.restartPolicy, spec.schedulerName, spec.serviceAccountName,
 * status.phase, status.podIP, status.nominatedNodeName; events involvedObject.kind,
 * .namespace, .name, .uid, .apiVersion, .resourceVersion, .fieldPath, reason, reportingComponent,
 * source, type; secrets type; nodes spec.unschedulable; namespaces status.phase;
 * replicasets/replicationcontrollers status.replicas; jobs status.successful.
 * An unsupported path: -KC_EINVAL, err '"spec.foo" is not a known field selector: only
 * "metadata.name", "metadata.namespace"' (the API turns it into 400 BadRequest). */
int field_selector_parse(const char *s, const char *resource, struct field_selector **out,
			 struct kc_err *err);
bool field_selector_match(const struct field_selector *s, const cJSON *obj);
/* When the selector pins metadata.name=X (or metadata.namespace=X), returns X, else NULL: the
 * registry then reads one key instead of a range. */
const char *field_selector_exact(const struct field_selector *s, const char *path);
bool field_selector_empty(const struct field_selector *s);
void field_selector_free(struct field_selector *s);

/* Limits on selector input (beyond them: -KC_EINVAL with a message). */
#define SELECTOR_MAX_LEN 8192
#define SELECTOR_MAX_REQUIREMENTS 100
#define SELECTOR_MAX_VALUES 100

/* Syntax checks of apimachinery's validation package, shared with kinds.c. Each returns true
 * when s is valid, else false with Kubernetes' messages joined by "; " in msg (cap bytes,
 * truncated; msg may be NULL). */
/* IsQualifiedName: label keys, annotation keys ("[prefix/]name"). */
bool sel_valid_qualified_name(const char *s, char *msg, size_t cap);
/* IsValidLabelValue. */
bool sel_valid_label_value(const char *s, char *msg, size_t cap);
/* IsDNS1123Label / IsDNS1123Subdomain. */
bool sel_valid_dns1123_label(const char *s, char *msg, size_t cap);
bool sel_valid_dns1123_subdomain(const char *s, char *msg, size_t cap);
/* Writes s quoted as Go's %q does (for "Invalid value: \"x\"" messages) into buf. */
void sel_go_quote(const char *s, char *buf, size_t cap);

#endif
