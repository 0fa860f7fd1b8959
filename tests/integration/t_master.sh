# t_master.sh - `kc server --role=master --store-endpoints ...`: the API server, controllers and
# scheduler on a remote store over the etcd v3 JSON gateway. (a) three `kc server --role=store`
# members on loopback and a master without a node agent: the real kubectl creates, gets, lists,
# watches, patches and deletes namespaces, configmaps and a deployment (its ReplicaSet appears);
# after kill -9 of the member that is the master's first endpoint, writes keep working and a
# running `kubectl get -w` sees later events. (b) the same master on the real etcd 3.4 from
# Debian's etcd-server (skipped when etcd is not installed).
. tests/integration/lib.sh

if ! command -v kubectl >/dev/null 2>&1; then
	echo "skip t_master: kubectl not installed"
	t_finish
	exit $?
fi

# --- (a) three kc store members, plain HTTP on loopback
PEERS=""
n=1
while [ $n -le 3 ]; do
	eval "P$n=$(free_port); C$n=$(free_port)"
	PEERS="$PEERS${PEERS:+,}m$n=http://127.0.0.1:$(eval echo \$P$n)"
	n=$((n + 1))
done
n=1
while [ $n -le 3 ]; do
	bg_start "$T_TMP/m$n.log" "$KC" server --role=store --plain-http --node-name "m$n" \
		--data-dir "$T_TMP/m$n" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--peer-port "$(eval echo \$P$n)" --store-port "$(eval echo \$C$n)" --store-peers "$PEERS"
	eval "PID$n=\$T_LAST_PID"
	n=$((n + 1))
done
E1=http://127.0.0.1:$C1
E2=http://127.0.0.1:$C2
E3=http://127.0.0.1:$C3
if wait_for 30 "$KC" store --endpoints "$E2" put /t/ready yes; then pass "3 store members elect a leader"
else fail "3 store members elect a leader" "$(tail -n 5 "$T_TMP/m1.log")"; fi

# master: a data dir of its own, no node agent (it must not touch the host network)
MD=$T_TMP/master
API=$(free_port)
start_master() { # LOG DATA API ENDPOINTS [ARGS...]
	log=$1 dd=$2 api=$3 eps=$4
	shift 4
	bg_start "$log" "$KC" server --role=master --disable-agent --data-dir "$dd" \
		--node-name master --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--api-port "$api" --store-port "$(free_port)" --peer-port "$(free_port)" \
		--kubelet-port "$(free_port)" --store-endpoints "$eps" "$@"
}
start_master "$T_TMP/master.log" "$MD" "$API" "$E1,$E2,$E3" --plain-http
MPID=$T_LAST_PID
k() { KUBECONFIG=$MD/kubeconfig kubectl --request-timeout=20s "$@"; }
if wait_for 60 k get --raw /readyz; then pass "master on the remote store serves /readyz"
else fail "master on the remote store serves /readyz" "$(tail -n 20 "$T_TMP/master.log")"; fi

expect "kubectl create namespace" k create namespace t1
expect "kubectl create configmap" k -n t1 create configmap c1 --from-literal=a=b
out=$(k -n t1 get configmap c1 -o jsonpath='{.data.a}' 2>&1)
[ "$out" = b ] && pass "kubectl get configmap" || fail "kubectl get configmap" "$out"
# what the master stored is in the store cluster, under /registry/, as the registry writes it
raw=$(k get --raw /api/v1/namespaces/t1/configmaps/c1 2>&1)
stored=$("$KC" store --endpoints "$E3" get /registry/configmaps/t1/c1 2>&1 | tail -n +2)
if python3 - "$raw" "$stored" <<'PY'
import json, sys
a = json.loads(sys.argv[1]); b = json.loads(sys.argv[2])
rv = a["metadata"].pop("resourceVersion")
assert int(rv) > 0 and "resourceVersion" not in b["metadata"], (rv, b)
assert a == b, (a, b)
PY
then pass "the object is the stored value with resourceVersion added"
else fail "the object is the stored value" "$raw | $stored"; fi

expect "kubectl patch configmap" k -n t1 patch configmap c1 -p '{"data":{"a":"c"}}'
out=$(k -n t1 get configmap c1 -o jsonpath='{.data.a}' 2>&1)
[ "$out" = c ] && pass "patch is visible" || fail "patch is visible" "$out"
i=0
while [ $i -lt 25 ]; do k -n t1 create configmap "n$i" >/dev/null 2>&1 || break; i=$((i + 1)); done
[ $i = 25 ] && pass "25 more creates" || fail "25 more creates" "stopped at $i"
out=$(k -n t1 get configmaps --chunk-size=7 -o name 2>&1 | grep -c configmap/)
# c1, n0..n24 and kube-root-ca.crt when a controller publishes it
[ "$out" -ge 26 ] && pass "list in pages of 7 (limit + continue) returns everything" || fail "paged list" "$out"
out=$(k get --raw "/api/v1/namespaces/t1/configmaps?limit=5" 2>&1)
if printf '%s' "$out" | python3 -c 'import json,sys; l=json.load(sys.stdin); assert len(l["items"])==5 and l["metadata"]["continue"] and int(l["metadata"]["remainingItemCount"])>=21'; then
	pass "limit=5: continue token and remainingItemCount (count)"
else fail "limit=5 list" "$out"; fi

# a watch that keeps running across the store member's death
WLOG=$T_TMP/watch.out
KUBECONFIG=$MD/kubeconfig kubectl -n t1 get configmaps -w --output-watch-events --no-headers >"$WLOG" 2>"$T_TMP/watch.err" &
WPID=$!
T_PIDS="$T_PIDS $WPID"
wait_for 20 grep -Eq "ADDED +c1 " "$WLOG"
expect "kubectl create configmap (watched)" k -n t1 create configmap w1
if wait_for 20 grep -q -E "ADDED +w1 " "$WLOG"; then pass "kubectl get -w sees ADDED"
else fail "kubectl get -w sees ADDED" "$(cat "$WLOG" "$T_TMP/watch.err")"; fi
k -n t1 patch configmap w1 -p '{"data":{"x":"y"}}' >/dev/null
if wait_for 20 grep -q -E "MODIFIED +w1 " "$WLOG"; then pass "kubectl get -w sees MODIFIED"
else fail "kubectl get -w sees MODIFIED" "$(cat "$WLOG")"; fi

# controllers run against the remote store: a deployment gets its ReplicaSet and pods
expect "kubectl create deployment" k -n t1 create deployment web --image=registry.invalid/web:1 --replicas=2
if wait_for 60 sh -c "KUBECONFIG=$MD/kubeconfig kubectl -n t1 get rs -l app=web -o name | grep -q replicaset"; then
	pass "the deployment controller creates the ReplicaSet"
else fail "the deployment controller creates the ReplicaSet" "$(k -n t1 get all 2>&1)"; fi
if wait_for 60 sh -c "[ \$(KUBECONFIG=$MD/kubeconfig kubectl -n t1 get pods -l app=web -o name | wc -l) = 2 ]"; then
	pass "the ReplicaSet controller creates 2 pods"
else fail "the ReplicaSet controller creates 2 pods" "$(k -n t1 get pods 2>&1)"; fi

# kill -9 of the member that is the master's first endpoint
kill -KILL "$PID1"
wait "$PID1" 2>/dev/null
pass "killed store member m1 (first endpoint)"
ok=0
i=0
while [ $i -lt 10 ]; do
	if k -n t1 create configmap "after$i" >/dev/null 2>"$T_TMP/after.err"; then ok=$((ok + 1)); fi
	i=$((i + 1))
done
[ $ok = 10 ] && pass "10 creates after the kill all succeed" || fail "creates after the kill" "$ok of 10: $(cat "$T_TMP/after.err")"
out=$(k -n t1 get configmap after9 -o jsonpath='{.metadata.name}' 2>&1)
[ "$out" = after9 ] && pass "kubectl get after the kill" || fail "kubectl get after the kill" "$out"
if wait_for 30 grep -q -E "ADDED +after9 " "$WLOG"; then pass "the running kubectl get -w sees events after the kill"
else fail "the running watch after the kill" "$(tail -n 5 "$WLOG"; cat "$T_TMP/watch.err")"; fi
if grep -q "store watch stream broken.*endpoint=$E1" "$T_TMP/master.log"; then pass "the master resumed watch streams that were on m1 on another member"
else fail "watch streams resumed" "no re-established stream in the master's log"; fi
n=$(grep -c -E "ADDED +after[0-9] " "$WLOG")
[ "$n" = 10 ] && pass "the watch saw each later create exactly once" || fail "watch events after the kill" "$n ADDED (want 10)"
expect "kubectl delete configmap after the kill" k -n t1 delete configmap w1
if wait_for 20 grep -q -E "DELETED +w1 " "$WLOG"; then pass "the watch sees DELETED"
else fail "the watch sees DELETED" "$(tail -n 5 "$WLOG")"; fi
kill "$WPID" 2>/dev/null

# a watch from a compacted resourceVersion: 410 Gone, as with a local store
"$KC" store --endpoints "$E2" compact "$(k -n t1 get configmap after9 -o jsonpath='{.metadata.resourceVersion}')" >/dev/null 2>&1
code=$(curl -s -o "$T_TMP/410.json" -w '%{http_code}' --cacert "$MD/tls/ca.crt" \
	--cert "$MD/tls/admin.crt" --key "$MD/tls/admin.key" \
	"https://127.0.0.1:$API/api/v1/namespaces/t1/configmaps?watch=1&resourceVersion=2&timeoutSeconds=5")
case "$code $(cat "$T_TMP/410.json")" in
*'"code":410'*) pass "watch from a compacted revision: 410 Expired" ;;
*) fail "watch from a compacted revision" "$code $(cat "$T_TMP/410.json")" ;; esac

expect "kubectl delete deployment" k -n t1 delete deployment web
expect "kubectl delete namespace" k delete namespace t1 --wait=false
kill -TERM "$MPID"
wait "$MPID"
rc=$?
[ $rc = 0 ] && pass "master stops cleanly on SIGTERM" || fail "master stops cleanly" "exit $rc: $(tail -n 5 "$T_TMP/master.log")"

# --- (c) TLS: a store member over HTTPS; a master on a data dir of its own fetches the cluster
# CA with the join token, verifies the member's certificate and presents its client certificate
for n in 2 3; do kill -TERM "$(eval echo \$PID$n)"; wait "$(eval echo \$PID$n)" 2>/dev/null; done
SD=$T_TMP/tls-store
SC=$(free_port)
bg_start "$T_TMP/tls-store.log" "$KC" server --role=store --node-name s1 --data-dir "$SD" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --store-port "$SC" --peer-port "$(free_port)"
SPID=$T_LAST_PID
if wait_for 30 "$KC" store --endpoints "https://127.0.0.1:$SC" --data-dir "$SD" put /t/x y; then pass "TLS store member up"
else fail "TLS store member up" "$(tail -n 5 "$T_TMP/tls-store.log")"; fi
# without the token a new master has a CA of its own: refused with a hint, exit 2
out=$("$KC" server --role=master --disable-agent --data-dir "$T_TMP/master-notoken" --node-name master \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --api-port "$(free_port)" \
	--store-port "$(free_port)" --peer-port "$(free_port)" --kubelet-port "$(free_port)" \
	--store-endpoints "https://127.0.0.1:$SC" 2>&1)
rc=$?
case "$rc $out" in "2 "*"--token"*) pass "master with another CA: exit 2, names --token" ;;
*) fail "master with another CA" "$rc $(printf '%s' "$out" | tail -n 2)" ;; esac
out=$("$KC" server --role=master --disable-agent --data-dir "$T_TMP/master-plain" --node-name master \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --api-port "$(free_port)" \
	--store-port "$(free_port)" --peer-port "$(free_port)" --kubelet-port "$(free_port)" \
	--store-endpoints "http://127.0.0.1:$SC" 2>&1)
rc=$?
case "$rc $out" in "2 "*"--plain-http"*) pass "http:// endpoint without --plain-http: exit 2" ;;
*) fail "http:// endpoint without --plain-http" "$rc $(printf '%s' "$out" | tail -n 2)" ;; esac
TD=$T_TMP/master-tls
API3=$(free_port)
start_master "$T_TMP/master-tls.log" "$TD" "$API3" "https://127.0.0.1:$SC" --token "$(cat "$SD/token")"
M3=$T_LAST_PID
kt() { KUBECONFIG=$TD/kubeconfig kubectl --request-timeout=20s "$@"; }
if wait_for 60 kt get --raw /readyz; then pass "TLS: master on its own data dir serves /readyz"
else fail "TLS: master serves /readyz" "$(tail -n 20 "$T_TMP/master-tls.log")"; fi
cmp -s "$SD/tls/ca.crt" "$TD/tls/ca.crt" && pass "TLS: the master fetched the cluster CA with the token" || fail "TLS: cluster CA" differ
expect "TLS: kubectl create configmap" kt create configmap tc --from-literal=a=b
out=$("$KC" store --endpoints "https://127.0.0.1:$SC" --data-dir "$SD" get /registry/configmaps/default/tc 2>&1)
case $out in *'"a":"b"'*) pass "TLS: the object is in the store" ;; *) fail "TLS: the object is in the store" "$out" ;; esac
kill -TERM "$M3"
wait "$M3"
kill -TERM "$SPID"
wait "$SPID"

# --- (b) the same master on the real etcd
if command -v etcd >/dev/null 2>&1; then
	EP=$(free_port)
	bg_start "$T_TMP/etcd.log" etcd --name t1 --data-dir "$T_TMP/etcd" \
		--listen-client-urls "http://127.0.0.1:$EP" --advertise-client-urls "http://127.0.0.1:$EP" \
		--listen-peer-urls "http://127.0.0.1:$(free_port)" --initial-cluster-state new
	if wait_for 30 curl -fsS -X POST -d '{}' "http://127.0.0.1:$EP/v3/maintenance/status"; then pass "etcd answers"
	else fail "etcd answers" "$(tail -n 5 "$T_TMP/etcd.log")"; fi
	ED=$T_TMP/master-etcd
	API2=$(free_port)
	start_master "$T_TMP/master-etcd.log" "$ED" "$API2" "http://127.0.0.1:$EP" --plain-http
	M2=$T_LAST_PID
	ke() { KUBECONFIG=$ED/kubeconfig kubectl --request-timeout=20s "$@"; }
	if wait_for 60 ke get --raw /readyz; then pass "master on etcd serves /readyz"
	else fail "master on etcd serves /readyz" "$(tail -n 20 "$T_TMP/master-etcd.log")"; fi
	expect "etcd: kubectl create namespace" ke create namespace e1
	WLOG2=$T_TMP/watch-etcd.out
	KUBECONFIG=$ED/kubeconfig kubectl -n e1 get configmaps -w --output-watch-events --no-headers >"$WLOG2" 2>&1 &
	W2=$!
	T_PIDS="$T_PIDS $W2"
	sleep 1
	expect "etcd: kubectl create configmap" ke -n e1 create configmap c1 --from-literal=a=b
	out=$(ke -n e1 get configmap c1 -o jsonpath='{.data.a}' 2>&1)
	[ "$out" = b ] && pass "etcd: kubectl get" || fail "etcd: kubectl get" "$out"
	out=$(ke -n e1 get configmaps -o name 2>&1)
	case $out in *configmap/c1*) pass "etcd: kubectl list" ;; *) fail "etcd: kubectl list" "$out" ;; esac
	out=$(curl -fsS -X POST -d "{\"key\":\"$(printf /registry/configmaps/e1/c1 | base64 -w0)\"}" "http://127.0.0.1:$EP/v3/kv/range")
	case $out in *'"mod_revision"'*) pass "etcd holds /registry/configmaps/e1/c1" ;; *) fail "etcd holds the object" "$out" ;; esac
	expect "etcd: kubectl patch" ke -n e1 patch configmap c1 -p '{"data":{"a":"c"}}'
	expect "etcd: kubectl delete" ke -n e1 delete configmap c1
	if wait_for 20 grep -q -E "DELETED +c1 " "$WLOG2" && grep -q -E "ADDED +c1 " "$WLOG2" &&
		grep -q -E "MODIFIED +c1 " "$WLOG2"; then pass "etcd: kubectl get -w sees ADDED, MODIFIED, DELETED"
	else fail "etcd: watch" "$(cat "$WLOG2")"; fi
	out=$(ke -n e1 get configmap c1 2>&1)
	case $out in *NotFound*|*"not found"*) pass "etcd: deleted object is gone" ;; *) fail "etcd: deleted object is gone" "$out" ;; esac
	kill "$W2" 2>/dev/null
	kill -TERM "$M2"
	wait "$M2"
else
	echo "skip t_master (b): etcd not installed"
fi

t_finish
