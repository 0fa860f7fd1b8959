# t_controllers.sh - the controller manager and the scheduler against the real kubectl: a fake
# Node (with a renewed Lease, as a node agent would keep it) receives the pods of a Deployment;
# a fake kubelet loop marks bound pods Running and Ready with a pod IP; scale, set image and
# rollout status, rollout undo, delete (garbage collection of ReplicaSets and pods), Service
# Endpoints and EndpointSlices, default ServiceAccounts and `kubectl create token`, node podCIDR
# allocation, FailedScheduling for an impossible pod.
. tests/integration/lib.sh

if ! command -v kubectl >/dev/null 2>&1; then
	echo "skip t_controllers.sh: kubectl not installed"
	t_finish
	exit $?
fi

D=$T_TMP/data
API=$(free_port)
bg_start "$T_TMP/kc.log" "$KC" server --role=all --disable-agent --data-dir "$D" --api-port "$API" \
	--store-port "$(free_port)" --peer-port "$(free_port)" --kubelet-port "$(free_port)"
export KUBECONFIG="$D/kubeconfig" KUBECACHEDIR="$T_TMP/kcache"
k() { kubectl "$@"; }
if wait_for 20 kubectl get --raw /readyz; then pass "server ready"
else fail "server ready" "$(tail -n 20 "$T_TMP/kc.log")"; t_finish; exit 1; fi

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
nowmicro() { date -u +%Y-%m-%dT%H:%M:%S.000000Z; }

# ---- a fake node and its lease ----
for n in fake-1 fake-2; do
	cat <<EOF2 | k apply -f - >/dev/null
apiVersion: v1
kind: Node
metadata:
  name: $n
  labels: {kubernetes.io/hostname: $n, kubernetes.io/os: linux}
EOF2
	k patch node $n --subresource=status --type=merge -p "{\"status\":{\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"kubelet is posting ready status\",\"lastHeartbeatTime\":\"$(now)\",\"lastTransitionTime\":\"$(now)\"}]}}" >/dev/null
	cat <<EOF2 | k apply -f - >/dev/null
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: $n, namespace: kube-node-lease}
spec: {holderIdentity: $n, leaseDurationSeconds: 40, renewTime: "$(nowmicro)"}
EOF2
done
k get node fake-1 >/dev/null 2>&1 && pass "fake nodes created" || fail "fake nodes created" "$(k get nodes 2>&1)"

# ---- the fake kubelet: pods bound to a node become Running + Ready with a pod IP ----
cat >"$T_TMP/kubelet.sh" <<'EOF2'
i=0
while :; do
	i=$((i + 1))
	kubectl get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}|{.metadata.name}|{.spec.nodeName}|{.status.phase}|{.metadata.deletionTimestamp}{"\n"}{end}' 2>/dev/null |
	while IFS='|' read -r ns name node phase deleting; do
		# a kubelet confirms the graceful deletion of its pods once their containers stopped
		if [ -n "$node" ] && [ -n "$deleting" ]; then
			kubectl -n "$ns" delete pod "$name" --grace-period=0 --force >/dev/null 2>&1
			continue
		fi
		[ -n "$node" ] && [ "$phase" != Running ] || continue
		ip=10.42.$(( $(printf '%s' "$name" | cksum | cut -d' ' -f1) % 250 )).$(( $(printf '%s' "$name$ns" | cksum | cut -d' ' -f1) % 250 + 2 ))
		t=$(date -u +%Y-%m-%dT%H:%M:%SZ)
		kubectl -n "$ns" patch pod "$name" --subresource=status --type=merge -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$t\"}]}}" >/dev/null 2>&1
	done
	sleep 0.3
done
EOF2
bg_start "$T_TMP/kubelet.log" sh "$T_TMP/kubelet.sh"
# the fake nodes' heartbeats, on their own: under load the pod loop above can take longer than
# the 40 s lease, and the node lifecycle controller would then (rightly) taint the nodes
cat >"$T_TMP/leases.sh" <<'EOF2'
while :; do
	for n in fake-1 fake-2; do
		kubectl -n kube-node-lease patch lease "$n" --type=merge -p "{\"spec\":{\"renewTime\":\"$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)\"}}" >/dev/null 2>&1
	done
	sleep 5
done
EOF2
bg_start "$T_TMP/leases.log" sh "$T_TMP/leases.sh"

# ---- node IPAM ----
if wait_for 10 sh -c '[ -n "$(kubectl get node fake-1 -o jsonpath="{.spec.podCIDR}")" ]'; then
	a=$(k get node fake-1 -o jsonpath='{.spec.podCIDR}')
	b=$(k get node fake-2 -o jsonpath='{.spec.podCIDR}')
	case "$a $b" in 10.42.*/24\ 10.42.*/24) [ "$a" != "$b" ] && pass "nodes get distinct podCIDRs" || fail "podCIDRs" "$a $b" ;;
	*) fail "podCIDRs" "$a $b" ;; esac
else fail "nodes get podCIDRs" "$(k get nodes -o yaml 2>&1 | grep -i cidr)"; fi

# ---- service accounts ----
wait_for 10 kubectl get sa default -n default && pass "default ServiceAccount" || fail "default ServiceAccount" "$(k get sa -A 2>&1)"
k create ns team-a >/dev/null
wait_for 10 kubectl get sa default -n team-a && pass "default ServiceAccount in a new namespace" || fail "sa in new ns" "$(k get sa -A 2>&1)"
wait_for 10 kubectl get cm kube-root-ca.crt -n team-a && pass "kube-root-ca.crt in a new namespace" || fail "root ca" "$(k get cm -A 2>&1)"
out=$(k create token default 2>&1)
case $out in ey*.*.*) pass "kubectl create token default" ;; *) fail "create token" "$out" ;; esac

# ---- deployment ----
k create deployment web --image=kc.test/web:1 --replicas=3 >/dev/null 2>&1
count_pods() { kubectl get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.ownerReferences[0].kind}{"\n"}{end}' 2>/dev/null | awk -v want="$1" '$2!="" && $3=="ReplicaSet" && !/Terminating/ {n++} END {exit !(n==want)}'; }
podcount() { [ "$(kubectl get pods -l app=web --no-headers 2>/dev/null | grep -vc Terminating)" = "$1" ]; }
if wait_for 20 count_pods 3; then pass "deployment: 3 pods with ownerReferences and nodeName"
else fail "deployment: 3 pods" "$(k get deploy,rs,pods -o wide 2>&1; tail -n 20 "$T_TMP/kc.log")"; fi
expect "rollout status (initial)" timeout 60 kubectl rollout status deployment/web --timeout=50s
out=$(k get deploy web -o jsonpath='{.status.readyReplicas} {.status.availableReplicas} {.status.updatedReplicas} {.status.observedGeneration}')
[ "$out" = "3 3 3 1" ] && pass "deployment status fields" || fail "deployment status" "$out"
out=$(k get deploy web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')
[ "$out" = NewReplicaSetAvailable ] && pass "Progressing NewReplicaSetAvailable" || fail "Progressing" "$out"

k scale deployment web --replicas=5 >/dev/null
wait_for 20 podcount 5 && pass "scale to 5" || fail "scale to 5" "$(k get pods 2>&1)"
k scale deployment web --replicas=1 >/dev/null
wait_for 20 podcount 1 && pass "scale to 1" || fail "scale to 1" "$(k get pods 2>&1)"
k scale deployment web --replicas=3 >/dev/null
wait_for 20 podcount 3 && pass "scale back to 3" || fail "scale to 3" "$(k get pods 2>&1)"
expect "rollout status after scaling" timeout 60 kubectl rollout status deployment/web --timeout=50s

k set image deployment/web web=kc.test/web:2 >/dev/null
wait_for 20 sh -c '[ "$(kubectl get rs -l app=web --no-headers | wc -l)" = 2 ]' \
	&& pass "set image: a second ReplicaSet" || fail "second rs" "$(k get rs 2>&1)"
expect "rollout status after set image" timeout 90 kubectl rollout status deployment/web --timeout=80s
out=$(k get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort -u)
wait_for 20 sh -c '[ "$(kubectl get pods -l app=web -o jsonpath="{range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}" | sort -u)" = kc.test/web:2 ]' \
	&& pass "all pods run the new image" || fail "new image" "$out"
out=$(k get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')
[ "$out" = 2 ] && pass "revision annotation 2" || fail "revision" "$out"
expect "rollout history" kubectl rollout history deployment/web
expect "rollout undo" kubectl rollout undo deployment/web
expect "rollout status after undo" timeout 90 kubectl rollout status deployment/web --timeout=80s
out=$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\.kubernetes\.io/revision}')
[ "$out" = "kc.test/web:1 3" ] && pass "undo back to image 1, revision 3" || fail "undo" "$out"
expect "rollout restart" kubectl rollout restart deployment/web
expect "rollout status after restart" timeout 90 kubectl rollout status deployment/web --timeout=80s

# ---- service endpoints ----
k expose deployment web --port=80 --target-port=8080 >/dev/null 2>&1
eps() { kubectl get endpoints web -o jsonpath='{range .subsets[*].addresses[*]}{.ip}{"\n"}{end}' 2>/dev/null | grep -c '^10\.42\.'; }
if wait_for 20 sh -c "[ \"\$(kubectl get endpoints web -o jsonpath='{range .subsets[*].addresses[*]}{.ip}{\"\\n\"}{end}' 2>/dev/null | grep -c '^10\.42\.')\" = 3 ]"; then
	pass "Service endpoints list the 3 ready pod IPs"
else fail "endpoints" "$(k get endpoints web -o yaml 2>&1)"; fi
out=$(k get endpoints web -o jsonpath='{.subsets[0].ports[0].port}')
[ "$out" = 8080 ] && pass "endpoints port is the targetPort" || fail "endpoint port" "$out"
wait_for 10 sh -c '[ "$(kubectl get endpointslices -l kubernetes.io/service-name=web -o jsonpath="{.items[0].endpoints[*].addresses[0]}" | wc -w)" = 3 ]' \
	&& pass "EndpointSlice with 3 endpoints" || fail "endpointslice" "$(k get endpointslices -o yaml 2>&1 | head -40)"

# ---- scheduling failure ----
k run big --image=kc.test/x --overrides='{"spec":{"containers":[{"name":"big","image":"kc.test/x","resources":{"requests":{"cpu":"64"}}}]}}' >/dev/null 2>&1
if wait_for 15 sh -c 'kubectl get events --field-selector involvedObject.name=big -o jsonpath="{.items[*].message}" | grep -q "0/2 nodes are available: 2 Insufficient cpu"'; then
	pass "FailedScheduling event names Insufficient cpu"
else fail "FailedScheduling" "$(k get events 2>&1 | tail -5)"; fi
k delete pod big --wait=false >/dev/null 2>&1

# ---- deletion cascades through the garbage collector ----
k delete deployment web >/dev/null
wait_for 30 sh -c '[ -z "$(kubectl get rs,pods -l app=web --no-headers 2>/dev/null)" ]' \
	&& pass "delete deployment removes ReplicaSets and pods" || fail "delete cascade" "$(k get rs,pods 2>&1)"

t_finish
