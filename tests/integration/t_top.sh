# t_top.sh - `kubectl top node` and `kubectl top pod` (the real kubectl) against kc: `kc server
# --role=all` inside a network namespace of its own runs a busybox pod that burns a CPU and an
# idle one; the API server scrapes the node agent's /metrics/resource and serves
# metrics.k8s.io/v1beta1 nodes and pods (CPU as a rate over two scrapes, memory working set).
# RBAC: a ServiceAccount bound to `view` reads them, one without any role gets 403.
#
# Ground rules: those of node_lib.sh (no host network change, every process stopped by pid,
# namespace, mounts and the pods' cgroups removed on every exit path; skipped without root,
# overlayfs or network namespaces).
. tests/integration/lib.sh

T_NAME=t_top
. tests/integration/node_lib.sh
NS=kc-top-$$
D=$T_TMP/data
nsx() { ip netns exec "$NS" "$@"; }

node_require
node_ns "$NS" 10.99.8.2
node_image "$D"

# `ip netns exec` mounts a fresh sysfs, which hides the cgroup mounts under /sys/fs/cgroup:
# kc is started in the namespace with the host's cgroup file systems mounted again in its
# private mount namespace (the same hierarchies: v1 controllers, the hybrid cgroup2, or a pure
# cgroup2), so that its pods get cgroups and usage.
CGMOUNTS=$(awk '$2 ~ "^/sys/fs/cgroup(/|$)" && ($3 == "tmpfs" || $3 == "cgroup" || $3 == "cgroup2") { print $3, $2, $4 }' /proc/self/mounts)
[ -n "$CGMOUNTS" ] || skip_all "no cgroup file systems under /sys/fs/cgroup"
export CGMOUNTS
cg_exec() { # replaces the calling (sub)shell, so that a background job's pid is kc's
	exec ip netns exec "$NS" sh -c '
		printf "%s\n" "$CGMOUNTS" | while read -r type dir opts; do
			mkdir -p "$dir" 2>/dev/null
			case $type in
			tmpfs) mount -t tmpfs -o "$opts" cgroup_root "$dir" ;;
			cgroup) mount -t cgroup -o "$opts" cgroup "$dir" ;;
			cgroup2) mount -t cgroup2 -o "$opts" cgroup2 "$dir" ;;
			esac || exit 1
		done && exec "$@"' sh "$@"
}
(cg_exec true) || skip_all "cannot mount the cgroup file systems in the namespace"

bg_start "$T_TMP/kc.log" cg_exec "$KC" server --role=all --data-dir "$D" \
	--node-name kc-top-node --advertise-address 10.99.8.2 --bind-address 0.0.0.0 \
	--api-port 6443 --store-port 2379 --peer-port 2380 --kubelet-port 10250 --plain-http
KC_PID=$T_LAST_PID
T_PIDS=""

export KUBECONFIG=$D/kubeconfig
k() { ip netns exec "$NS" kubectl --request-timeout=20s "$@"; }

if wait_for 30 test -s "$D/kubeconfig" && wait_for 30 k get --raw /readyz; then
	pass "kc server --role=all starts in the namespace"
else
	fail "kc server --role=all starts in the namespace" "$(tail -n 20 "$T_TMP/kc.log")"
	t_finish
	exit 1
fi

# poll SECONDS CMD...: runs CMD every 2 s until it succeeds or SECONDS of wall time have passed
# (each try runs kubectl, which takes a while on a busy machine: a count of tries would not do)
poll() {
	end=$(($(date +%s) + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 2
	done
}

node_ready() {
	[ "$(k get node kc-top-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
if poll 30 node_ready; then pass "node Ready"; else
	fail "node Ready" "$(k get nodes -o wide 2>&1; tail -n 20 "$T_TMP/kc.log")"
fi

# discovery: kubectl top needs metrics.k8s.io/v1beta1 listed
out=$(k api-resources --api-group=metrics.k8s.io 2>&1)
case $out in *nodes*metrics.k8s.io/v1beta1*false*NodeMetrics*pods*PodMetrics*) pass "api-resources lists metrics.k8s.io nodes and pods" ;;
*) fail "api-resources lists metrics.k8s.io nodes and pods" "$out" ;; esac

expect "kubectl run busy" k run busy --image=kc.test/busybox:1 --restart=Never -- sh -c 'while :; do :; done'
expect "kubectl run idle" k run idle --image=kc.test/busybox:1 --restart=Never --labels=role=idle -- sleep 3600
running() { [ "$(k get pod "$1" -o jsonpath='{.status.phase}')" = Running ]; }
if poll 60 running busy && poll 60 running idle; then pass "pods busy and idle Running"; else
	fail "pods busy and idle Running" "$(k get pods -o wide 2>&1; tail -n 20 "$T_TMP/kc.log")"
fi
POD_UIDS=$(k get pod busy idle -o jsonpath='{.items[*].metadata.uid}' 2>/dev/null)

# the node agent's endpoint, as metrics-server scrapes it (the admin certificate is a
# system:masters identity, which the node API accepts)
CERTS=$T_TMP/admin
mkdir -p "$CERTS"
k config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$CERTS/crt"
k config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$CERTS/key"
k config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$CERTS/ca"
scrape() {
	nsx curl -sS --max-time 20 --cacert "$CERTS/ca" --cert "$CERTS/crt" --key "$CERTS/key" \
		https://10.99.8.2:10250/metrics/resource
}
has_busy_series() {
	case $(scrape 2>&1) in *'container_cpu_usage_seconds_total{container="busy",namespace="default",pod="busy"} '*) return 0 ;; esac
	return 1
}
if poll 30 has_busy_series; then pass "/metrics/resource has the busy container's CPU"; else
	fail "/metrics/resource has the busy container's CPU" "$(scrape 2>&1 | tail -n 20)"
fi
out=$(scrape 2>&1)
for m in node_cpu_usage_seconds_total node_memory_working_set_bytes \
	'container_memory_working_set_bytes{container="idle",namespace="default",pod="idle"}' \
	'pod_cpu_usage_seconds_total{namespace="default",pod="busy"}' \
	'pod_memory_working_set_bytes{namespace="default",pod="idle"}'; do
	case $out in *"$m "[0-9]*" "[0-9]*) pass "/metrics/resource: $m with a timestamp" ;;
	*) fail "/metrics/resource: $m with a timestamp" "$(printf '%s' "$out" | head -n 30)" ;; esac
done
anon=$(nsx curl -sS -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$CERTS/ca" \
	https://10.99.8.2:10250/metrics/resource 2>/dev/null)
case $anon in 000|401|403) pass "/metrics/resource refuses a client without a certificate ($anon)" ;;
*) fail "/metrics/resource refuses a client without a certificate" "$anon" ;; esac

# kubectl top node: the first rate needs two scrapes
top_node_ok() {
	line=$(k top node 2>&1 | grep '^kc-top-node ')
	[ -n "$line" ] || return 1
	set -- $line
	# NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)
	case $2 in *m) cpu=${2%m} ;; *) cpu=$(($2 * 1000)) ;; esac
	case $4 in *Mi) mem=${4%Mi} ;; *) mem=0 ;; esac
	[ "$cpu" -gt 0 ] && [ "$mem" -gt 0 ]
}
if poll 90 top_node_ok; then pass "kubectl top node: nonzero CPU and memory ($(k top node --no-headers 2>&1))"; else
	fail "kubectl top node: nonzero CPU and memory" "$(k top node 2>&1; tail -n 20 "$T_TMP/kc.log")"
fi

milli() { # milli POD: the pod's CPU(cores) in millicores from kubectl top pod, -1 when none
	v=$(k top pod "$1" --no-headers 2>/dev/null | awk '{print $2}')
	case $v in *m) echo "${v%m}" ;; '') echo -1 ;; *) echo $((v * 1000)) ;; esac
}
# a pod is listed once each of its containers has two samples (idle may start a scrape later)
busy_hot() { [ "$(milli busy)" -ge 100 ] && [ "$(milli idle)" -ge 0 ]; }
if poll 120 busy_hot; then pass "kubectl top pod busy: CPU >= 100m ($(milli busy)m)"; else
	fail "kubectl top pod busy: CPU >= 100m" "$(k top pod 2>&1; tail -n 20 "$T_TMP/kc.log")"
fi
out=$(k top pod 2>&1)
b=$(milli busy)
i=$(milli idle)
case $out in *NAME*CPU*MEMORY*busy*idle*) pass "kubectl top pod lists busy and idle" ;;
*) fail "kubectl top pod lists busy and idle" "$out" ;; esac
if [ "$i" -ge 0 ] && [ "$i" -lt "$b" ]; then pass "idle uses less CPU than busy (${i}m < ${b}m)"; else
	fail "idle uses less CPU than busy" "idle=$i busy=$b: $out"
fi
printf '%s\n' "$out" | sed 's/^/# /'
out=$(k top pod --containers 2>&1)
case $out in *POD*NAME*CPU*busy*busy*idle*idle*) pass "kubectl top pod --containers" ;;
*) fail "kubectl top pod --containers" "$out" ;; esac
out=$(k top pod -A 2>&1)
case $out in *NAMESPACE*default*busy*) pass "kubectl top pod -A" ;; *) fail "kubectl top pod -A" "$out" ;; esac
out=$(k top pod -l role=idle 2>&1)
case $out in *busy*) fail "kubectl top pod -l role=idle" "$out" ;;
*idle*) pass "kubectl top pod -l role=idle" ;; *) fail "kubectl top pod -l role=idle" "$out" ;; esac

out=$(k get --raw /apis/metrics.k8s.io/v1beta1/nodes 2>&1)
case $out in *'"kind":"NodeMetricsList"'*'"apiVersion":"metrics.k8s.io/v1beta1"'*'"name":"kc-top-node"'*'"timestamp":"'*'"window":"'*'"usage":{"cpu":"'*'"memory":"'*) pass "get --raw .../nodes is a NodeMetricsList" ;;
*) fail "get --raw .../nodes is a NodeMetricsList" "$out" ;; esac
echo "# $out"
# a node whose scrape failed this round is left out until the next one (as metrics-server)
node_table() {
	out=$(k get nodes.metrics.k8s.io 2>&1)
	case $out in *NAME*CPU*MEMORY*WINDOW*kc-top-node*n*i*s*) return 0 ;; esac
	return 1
}
wait_for 30 node_table
case $out in *NAME*CPU*MEMORY*WINDOW*kc-top-node*n*i*s*) pass "kubectl get nodes.metrics.k8s.io (a Table)" ;;
*) fail "kubectl get nodes.metrics.k8s.io (a Table)" "$out" ;; esac
printf '%s\n' "$out" | sed 's/^/# /'
out=$(k get pods.metrics.k8s.io busy 2>&1)
case $out in *NAME*CPU*MEMORY*WINDOW*busy*n*) pass "kubectl get pods.metrics.k8s.io busy (a Table)" ;;
*) fail "kubectl get pods.metrics.k8s.io busy (a Table)" "$out" ;; esac
out=$(k get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy 2>&1)
case $out in *'"kind":"PodMetrics"'*'"containers":[{"name":"busy","usage":{"cpu":"'*) pass "get --raw .../pods/busy is a PodMetrics" ;;
*) fail "get --raw .../pods/busy is a PodMetrics" "$out" ;; esac
out=$(k get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope 2>&1)
case $out in *NotFound*|*"not found"*) pass "metrics of a missing pod: NotFound" ;; *) fail "metrics of a missing pod: NotFound" "$out" ;; esac
out=$(k get --raw '/apis/metrics.k8s.io/v1beta1/nodes?watch=true' 2>&1)
case $out in *MethodNotAllowed*|*"not allowed"*|*405*) pass "watch of nodes metrics: 405" ;; *) fail "watch of nodes metrics: 405" "$out" ;; esac
printf '{"apiVersion":"metrics.k8s.io/v1beta1","kind":"NodeMetrics","metadata":{"name":"x"}}' >"$T_TMP/nm.json"
out=$(k create --raw /apis/metrics.k8s.io/v1beta1/nodes -f "$T_TMP/nm.json" 2>&1)
case $out in *MethodNotAllowed*|*"not allowed"*|*405*) pass "create of nodes metrics: 405" ;; *) fail "create of nodes metrics: 405" "$out" ;; esac

# RBAC: view aggregates metrics.k8s.io read access; no role, no access
k create serviceaccount viewer >/dev/null 2>&1
k create serviceaccount nobody >/dev/null 2>&1
expect "bind viewer to view" k create clusterrolebinding top-viewer --clusterrole=view --serviceaccount=default:viewer
sa_kubeconfig() { # sa_kubeconfig NAME FILE
	tok=$(k create token "$1" 2>&1)
	cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: kc, cluster: {server: "https://10.99.8.2:6443", certificate-authority: "$CERTS/ca"}}]
users: [{name: $1, user: {token: "$tok"}}]
contexts: [{name: $1, context: {cluster: kc, user: $1, namespace: default}}]
current-context: $1
EOF
}
sa_kubeconfig viewer "$T_TMP/viewer.kubeconfig"
sa_kubeconfig nobody "$T_TMP/nobody.kubeconfig"
out=$(KUBECONFIG=$T_TMP/viewer.kubeconfig k top pod busy 2>&1)
case $out in *busy*m*) pass "a ServiceAccount with view: kubectl top pod" ;; *) fail "a ServiceAccount with view: kubectl top pod" "$out" ;; esac
out=$(KUBECONFIG=$T_TMP/viewer.kubeconfig k get --raw /apis/metrics.k8s.io/v1beta1/nodes 2>&1)
case $out in *NodeMetricsList*kc-top-node*) pass "a ServiceAccount with view reads nodes metrics" ;; *) fail "a ServiceAccount with view reads nodes metrics" "$out" ;; esac
out=$(KUBECONFIG=$T_TMP/nobody.kubeconfig k get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods 2>&1)
case $out in *Forbidden*|*forbidden*) pass "a ServiceAccount without a role: 403 on pods metrics" ;; *) fail "a ServiceAccount without a role: 403 on pods metrics" "$out" ;; esac
out=$(KUBECONFIG=$T_TMP/nobody.kubeconfig k get --raw /apis/metrics.k8s.io/v1beta1/nodes 2>&1)
case $out in *Forbidden*|*forbidden*) pass "a ServiceAccount without a role: 403 on nodes metrics" ;; *) fail "a ServiceAccount without a role: 403 on nodes metrics" "$out" ;; esac

# a deleted pod leaves the metrics
expect "kubectl delete pod busy idle" k delete pod busy idle --grace-period=1 --timeout=60s
busy_gone() { ! k top pod busy --no-headers >/dev/null 2>&1; }
if poll 60 busy_gone; then pass "a deleted pod has no metrics"; else
	fail "a deleted pod has no metrics" "$(k top pod 2>&1)"
fi
cgroups_gone() {
	for uid in $POD_UIDS; do
		[ -z "$(find /sys/fs/cgroup -type d -path "*/kc/*pod$uid*" 2>/dev/null)" ] || return 1
	done
}
if [ -n "$POD_UIDS" ] && poll 60 cgroups_gone; then pass "the pods' cgroups are removed"; else
	fail "the pods' cgroups are removed" "$POD_UIDS"
fi

t_finish
