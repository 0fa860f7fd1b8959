# t_worker.sh - the node agent end to end: `kc server --role=all` inside a network namespace of
# its own (address 10.99.7.2/24 on a veth, lo up) registers its Node, runs a busybox pod
# (the test image from contrib/mkimage-busybox.sh, imported with `kc image import`), and the real
# kubectl reads its logs and execs in it through the API server's node proxy; deleting the pod
# leaves nothing behind under DATA/pods and DATA/netns.
#
# Ground rules: those of node_lib.sh (no host network change, every process stopped by pid,
# namespaces, mounts and cgroups removed on every exit path; skipped without root, overlayfs or
# network namespaces).
. tests/integration/lib.sh

T_NAME=t_worker
. tests/integration/node_lib.sh
NS=kc-it-$$
NSW=kc-itw-$$
D=$T_TMP/data
D2=$T_TMP/worker
nsx() { ip netns exec "$NS" "$@"; }

node_require
node_ns "$NS" 10.99.7.2 "$NSW" 10.99.7.3
node_image "$D" "$D2"

bg_start "$T_TMP/kc.log" ip netns exec "$NS" "$KC" server --role=all --data-dir "$D" \
	--node-name kc-it-node --advertise-address 10.99.7.2 --bind-address 0.0.0.0 \
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

node_ready() {
	[ "$(k get node kc-it-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
if wait_for 15 node_ready; then pass "node Ready within 15 s"; else
	fail "node Ready within 15 s" "$(k get nodes -o wide 2>&1; tail -n 20 "$T_TMP/kc.log")"
fi

expect "kubectl run b" k run b --image=kc.test/busybox:1 --restart=Never -- sh -c 'echo hello; sleep 3600'
pod_running() { [ "$(k get pod b -o jsonpath='{.status.phase}')" = Running ]; }
if wait_for 30 pod_running; then pass "pod b Running within 30 s"; else
	fail "pod b Running within 30 s" "$(k get pod b -o yaml 2>&1 | tail -n 30; tail -n 20 "$T_TMP/kc.log")"
fi

logs_hello() { [ "$(k logs b)" = hello ]; }
if wait_for 5 logs_hello; then pass "kubectl logs b prints hello"; else
	fail "kubectl logs b prints hello" "$(k logs b 2>&1 | tail -n 5)"
fi
expect_exit "kubectl logs --tail=1 --timestamps b" 0 k logs --tail=1 --timestamps b
case $T_OUT in *Z\ hello) pass "logs --timestamps prefixes an RFC 3339 time" ;;
*) fail "logs --timestamps prefixes an RFC 3339 time" "$T_OUT" ;; esac
expect_exit "kubectl logs of a missing container is an error" 1 k logs b -c nope

expect_exit "kubectl exec b -- sh -c 'echo out; exit 3' exits 3" 3 k exec b -- sh -c 'echo out; exit 3'
case $T_OUT in out*) pass "kubectl exec prints the command's output" ;;
*) fail "kubectl exec prints the command's output" "$T_OUT" ;; esac
expect_exit "kubectl exec -i passes stdin" 0 sh -c "echo piped | ip netns exec $NS kubectl exec -i b -- cat"
[ "$T_OUT" = piped ] && pass "exec -i output" || fail "exec -i output" "$T_OUT"

# follow: streamed through the proxy until the container exits
expect "kubectl run f" k run f --image=kc.test/busybox:1 --restart=Never -- sh -c 'echo one; sleep 2; echo two'
f_started() { p=$(k get pod f -o jsonpath='{.status.phase}'); [ "$p" = Running ] || [ "$p" = Succeeded ]; }
wait_for 30 f_started
expect_exit "kubectl logs -f f ends when the container exits" 0 timeout 30 ip netns exec "$NS" kubectl logs -f f
[ "$T_OUT" = "one
two" ] && pass "logs -f output" || fail "logs -f output" "$T_OUT"
expect "kubectl delete pod f" k delete pod f --grace-period=1 --timeout=60s

# container defaulting for logs: the kubectl.kubernetes.io/default-container annotation picks
# the container quietly; without it the first container is taken with a "Defaulted" line.
# `kc kubectl logs` says what the real kubectl says.
cat >"$T_TMP/two.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: two
  annotations: {kubectl.kubernetes.io/default-container: second}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: first, image: kc.test/busybox:1, command: [sh, -c, 'echo first; exec sleep 3600']}
  - {name: second, image: kc.test/busybox:1, command: [sh, -c, 'echo second; exec sleep 3600']}
YAML
expect "kubectl apply pod two (two containers, a default-container annotation)" k apply -f "$T_TMP/two.yaml"
two_logs() { [ "$(k logs two 2>/dev/null)" = second ]; }
if wait_for 60 two_logs; then pass "kubectl logs two: the annotated container"; else
	fail "kubectl logs two: the annotated container" "$(k logs two 2>&1; k get pod two -o wide 2>&1)"
fi
kcl() { ip netns exec "$NS" "$KC" kubectl "$@"; }
same_out() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got [$2] wanted [$3]"; fi; }
same_out "kc kubectl logs two: the annotated container, quietly (as kubectl)" \
	"$(kcl logs two 2>&1)" "$(k logs two 2>&1)"
same_out "kc kubectl logs two: nothing on stderr" "$(kcl logs two 2>&1 >/dev/null)" ""
expect "kubectl annotate pod two: drop the default-container annotation" \
	k annotate pod two kubectl.kubernetes.io/default-container-
same_out "kc kubectl logs two without the annotation: the first container, with kubectl's line" \
	"$(kcl logs two 2>&1)" "$(k logs two 2>&1)"
case $(kcl logs two 2>&1 >/dev/null) in
'Defaulted container "first" out of: first, second') pass "kc kubectl logs two: the Defaulted line" ;;
*) fail "kc kubectl logs two: the Defaulted line" "$(kcl logs two 2>&1)" ;;
esac
expect "kubectl delete pod two" k delete pod two --grace-period=1 --timeout=60s

expect "kubectl delete pod b --grace-period=1" k delete pod b --grace-period=1 --timeout=60s
empty_dirs() {
	[ -z "$(ls -A "$D/pods" 2>/dev/null)" ] && [ -z "$(ls -A "$D/netns" 2>/dev/null)" ]
}
if wait_for 15 empty_dirs; then pass "nothing left under DATA/pods and DATA/netns"; else
	fail "nothing left under DATA/pods and DATA/netns" "$(ls -R "$D/pods" "$D/netns" 2>&1 | head -n 20)"
fi

# ---------------------------------------------------------------------------------------------
# a worker joins with --server and --token (CA pinned by the token, node identity from
# POST /apis/kc.io/v1/nodecerts), and the API server proxies logs and exec to it
bg_start "$T_TMP/worker.log" ip netns exec "$NSW" "$KC" server --role=worker --data-dir "$D2" \
	--node-name kc-it-w2 --advertise-address 10.99.7.3 --kubelet-port 10250 \
	--server https://10.99.7.2:6443 --token "$(cat "$D/token")"
WPID=$T_LAST_PID
w2_ready() {
	[ "$(k get node kc-it-w2 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
if wait_for 30 w2_ready; then pass "a worker joins with --server and --token and is Ready"; else
	fail "a worker joins with --server and --token and is Ready" "$(tail -n 20 "$T_TMP/worker.log")"
fi
wrong_token() {
	[ "$(ip netns exec "$NSW" curl -sk -o /dev/null -w '%{http_code}' -X POST \
		-H 'Authorization: Bearer nope' -d '{}' https://10.99.7.2:6443/apis/kc.io/v1/nodecerts)" = 401 ]
}
expect "a wrong join token gets 401" wrong_token
expect "kubectl run w on the worker" k run w --image=kc.test/busybox:1 --restart=Never \
	--overrides='{"spec":{"nodeName":"kc-it-w2"}}' -- sh -c 'echo from-w2; sleep 3600'
w_running() { [ "$(k get pod w -o jsonpath='{.status.phase}')" = Running ]; }
if wait_for 30 w_running; then pass "pod w Running on the worker"; else
	fail "pod w Running on the worker" "$(k get pod w -o wide 2>&1; tail -n 20 "$T_TMP/worker.log")"
fi
expect_exit "kubectl logs w (proxied to the worker)" 0 k logs w
[ "$T_OUT" = from-w2 ] && pass "logs from the worker" || fail "logs from the worker" "$T_OUT"
expect_exit "kubectl exec w (proxied to the worker) exits 4" 4 k exec w -- sh -c 'echo x; exit 4'
expect "kubectl delete pod w" k delete pod w --grace-period=1 --timeout=60s
w_clean() { [ -z "$(ls -A "$D2/pods" 2>/dev/null)" ]; }
wait_for 15 w_clean && pass "nothing left on the worker" || fail "nothing left on the worker" "$(ls -R "$D2/pods" | head)"
kill -TERM "$WPID" 2>/dev/null

t_finish
