# t_nodes.sh - the node agent across restarts and nodes, with the real kubectl: a server node
# (`kc server --role=all`) and a joined worker (`--role=worker`), each in a network namespace of
# its own joined by a veth pair (as t_worker.sh sets them up).
#  1. kill -9 of kc and a start on the same data dir adopts the running pod (same process,
#     restartCount 0, Ready; logs and exec work); a pod force-deleted through the API while the
#     worker's kc is down is cleaned up when it starts again (processes, mounts, veth, DATA/pods).
#  2. pods on the two nodes reach each other by pod IP (host-gw routes), both ways.
#  3. static pods from DATA/manifests: run at start, a mirror pod in the API (recreated when
#     deleted), a changed file restarts the pod, a removed file stops it; a bad file is logged.
#  4. an image pulled by the kubelet from a local registry (docker-registry inside the worker's
#     namespace, pushed with skopeo); a missing tag gives ErrImagePull then ImagePullBackOff.
#
# Ground rules: those of node_lib.sh (no host network change; every process, the registry
# included, stopped by pid; namespaces, mounts and the pods' cgroups removed on every exit path).
. tests/integration/lib.sh

T_NAME=t_nodes
. tests/integration/node_lib.sh
NS=kc-n1-$$
NSW=kc-n2-$$
D=$T_TMP/data
D2=$T_TMP/worker
nsx() { ip netns exec "$NS" "$@"; }
nswx() { ip netns exec "$NSW" "$@"; }

node_require
node_ns "$NS" 10.99.8.2 "$NSW" 10.99.8.3
node_image "$D" "$D2"
mkdir -p "$D/manifests"

# static pods present before the first start, and a broken manifest that must be skipped
cat >"$D/manifests/sweb.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: sweb
  namespace: default
  labels:
    app: sweb
spec:
  containers:
  - name: main
    image: kc.test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; echo static-v1; sleep 3600 & wait # kc-static-marker"]
EOF
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n spec: [\n' >"$D/manifests/bad.yaml"
echo 'not a manifest' >"$D/manifests/README.txt"

start_server() {
	bg_start "$T_TMP/kc.log.$1" ip netns exec "$NS" "$KC" server --role=all --data-dir "$D" \
		--node-name kc-n1 --advertise-address 10.99.8.2 --bind-address 0.0.0.0 \
		--api-port 6443 --store-port 2379 --peer-port 2380 --kubelet-port 10250 --plain-http
	KC_PID=$T_LAST_PID
	T_PIDS=""
}
start_worker() {
	bg_start "$T_TMP/worker.log.$1" ip netns exec "$NSW" "$KC" server --role=worker --data-dir "$D2" \
		--node-name kc-n2 --advertise-address 10.99.8.3 --kubelet-port 10250 \
		--server https://10.99.8.2:6443 --token "$(cat "$D/token")"
	WPID=$T_LAST_PID
	T_PIDS=""
}

export KUBECONFIG=$D/kubeconfig
k() { ip netns exec "$NS" kubectl --request-timeout=20s "$@"; }
start_server 1
if wait_for 60 test -s "$D/kubeconfig" && wait_for 60 k get --raw /readyz; then
	pass "kc server --role=all starts in the namespace"
else
	fail "kc server --role=all starts in the namespace" "$(tail -n 20 "$T_TMP/kc.log.1")"
	t_finish
	exit 1
fi
node_ready() {
	[ "$(k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
if wait_for 60 node_ready kc-n1; then pass "node kc-n1 Ready"; else
	fail "node kc-n1 Ready" "$(k get nodes -o wide 2>&1; tail -n 20 "$T_TMP/kc.log.1")"
fi
start_worker 1
if wait_for 60 node_ready kc-n2; then pass "worker kc-n2 joins and is Ready"; else
	fail "worker kc-n2 joins and is Ready" "$(tail -n 20 "$T_TMP/worker.log.1")"
fi

# ---- helpers ----
phase() { k get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
is_running() { [ "$(phase "$1")" = Running ]; }
is_ready() {
	[ "$(k get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
restarts() { k get pod "$1" -o jsonpath='{.status.containerStatuses[0].restartCount}'; }
pod_ip() { k get pod "$1" -o jsonpath='{.status.podIP}'; }
# pids_of MARKER: host pids of processes whose command line holds MARKER (not this shell's)
pids_of() {
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] && continue
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "$1" && echo "$pid"
	done
	return 0
}
dump() { # dump POD LOG: the pod and the tail of a log, for failure messages
	k get pod "$1" -o wide 2>&1 | tail -n 2
	k get pod "$1" -o jsonpath='{.status.containerStatuses}' 2>&1 | head -c 600
	echo
	k get events --field-selector "involvedObject.name=$1" 2>&1 | tail -n 5
	k get nodes -o wide 2>&1 | tail -n 3
	tail -n 15 "$2"
}

# =============================================================================================
# 1. restart adoption on the server node
expect "kubectl run ticker" k run ticker --image=kc.test/busybox:1 --restart=Never -- \
	sh -c 'i=0; while true; do echo tick $i; i=$((i + 1)); sleep 1; done # kc-ticker-marker'
if wait_for 60 is_ready ticker; then pass "pod ticker Running and Ready"; else
	fail "pod ticker Running and Ready" "$(dump ticker "$T_TMP/kc.log.1")"
fi
tick_pid=$(pids_of kc-ticker-marker | head -n 1)
[ -n "$tick_pid" ] && pass "the ticker's process is found" || fail "the ticker's process is found" "none"
last_tick() { k logs ticker --tail=1 | sed -n 's/^tick //p'; }
before=$(last_tick)

kill -KILL "$KC_PID"
wait "$KC_PID" 2>/dev/null
KC_PID=""
if [ -n "$tick_pid" ] && kill -0 "$tick_pid" 2>/dev/null; then
	pass "the pod's process survives kill -9 of kc"
else fail "the pod's process survives kill -9 of kc" "pid $tick_pid gone"; fi
start_server 2
if wait_for 60 k get --raw /readyz; then pass "kc starts again on the same data dir"; else
	fail "kc starts again on the same data dir" "$(tail -n 20 "$T_TMP/kc.log.2")"
fi
# the agent's first sync of the adopted pod has happened once its log shows the pod again
# and the status is written; give it time, then check nothing was restarted
adopted() { grep -q "kc-n1" "$T_TMP/kc.log.2" && is_ready ticker; }
wait_for 60 adopted
ticks_grow() { t=$(last_tick); [ -n "$t" ] && [ -n "$before" ] && [ "$t" -gt "$before" ]; }
if wait_for 30 ticks_grow; then pass "logs of the adopted pod keep growing"; else
	fail "logs of the adopted pod keep growing" "before=$before now=$(last_tick)"
fi
sleep 5 # let the agent resync the pod a few times (PLEG period 2 s)
now_pids=$(pids_of kc-ticker-marker | tr '\n' ' ')
[ "$now_pids" = "$tick_pid " ] && pass "the same container process runs after the restart" ||
	fail "the same container process runs after the restart" "before $tick_pid, now: $now_pids"
[ "$(restarts ticker)" = 0 ] && pass "restartCount is still 0" ||
	fail "restartCount is still 0" "$(restarts ticker)"
if is_running ticker && is_ready ticker; then pass "status Running and Ready after the restart"; else
	fail "status Running and Ready after the restart" "$(dump ticker "$T_TMP/kc.log.2")"
fi
expect_exit "kubectl exec in the adopted pod" 0 k exec ticker -- sh -c 'echo adopted'
[ "$T_OUT" = adopted ] && pass "exec output after the restart" || fail "exec output after the restart" "$T_OUT"
expect "kubectl delete pod ticker" k delete pod ticker --grace-period=1 --timeout=60s
ticker_gone() { [ -z "$(pids_of kc-ticker-marker)" ]; }
wait_for 30 ticker_gone && pass "the ticker's process is stopped on delete" ||
	fail "the ticker's process is stopped on delete" "$(pids_of kc-ticker-marker)"

# ---- 1b. a pod force-deleted while the worker's kc is down ----
# a memory-backed emptyDir: a tmpfs the agent mounts under the pod's dir
WD_SPEC='{"spec":{"nodeName":"kc-n2","volumes":[{"name":"m","emptyDir":{"medium":"Memory"}}],
"containers":[{"name":"wd","image":"kc.test/busybox:1","volumeMounts":[{"name":"m","mountPath":"/m"}],
"command":["sh","-c","trap exit TERM; sleep 3600 & wait # kc-wd-marker"]}]}}'
expect "kubectl run wd on the worker" k run wd --image=kc.test/busybox:1 --restart=Never \
	--overrides="$WD_SPEC"
if wait_for 60 is_ready wd; then pass "pod wd Running on the worker"; else
	fail "pod wd Running on the worker" "$(dump wd "$T_TMP/worker.log.1")"
fi
wd_uid=$(k get pod wd -o jsonpath='{.metadata.uid}')
wd_pid=$(pids_of kc-wd-marker | head -n 1)
veths() { ip -n "$NSW" -o link show type veth | grep -vc ' eth0@'; }
# wd_mounts PID: mounts under wd's pod dir that PID sees (kc runs in the mount namespace
# `ip netns exec` made for it)
wd_mounts() { awk -v d="$D2/pods/$wd_uid" 'index($5, d) == 1' "/proc/$1/mountinfo" 2>/dev/null | wc -l; }
[ -d "$D2/pods/$wd_uid" ] && [ -n "$wd_pid" ] && [ "$(veths)" -ge 1 ] &&
	[ -n "$(pids_of "shim --dir $D2/pods/$wd_uid")" ] && [ "$(wd_mounts "$WPID")" -ge 1 ] &&
	pass "wd has a dir, a process, a shim, a tmpfs mount and a veth" ||
	fail "wd has a dir, a process, a shim, a tmpfs mount and a veth" \
		"uid=$wd_uid pid=$wd_pid veths=$(veths) mounts=$(wd_mounts "$WPID")"
kill -KILL "$WPID"
wait "$WPID" 2>/dev/null
WPID=""
kill -0 "$wd_pid" 2>/dev/null && pass "wd survives kill -9 of the worker's kc" ||
	fail "wd survives kill -9 of the worker's kc" "pid $wd_pid gone"
expect "kubectl delete pod wd --force while the worker is down" \
	k delete pod wd --grace-period=0 --force
start_worker 2
wd_clean() {
	[ -z "$(pids_of kc-wd-marker)" ] && [ ! -e "$D2/pods/$wd_uid" ] && [ ! -e "$D2/netns/$wd_uid" ] &&
		[ ! -e "$D2/logs/$wd_uid" ] && [ "$(veths)" = 0 ] &&
		[ "$(wd_mounts $$)" = 0 ] && [ "$(wd_mounts "$WPID")" = 0 ] &&
		[ -z "$(pids_of "shim --dir $D2/pods/$wd_uid")" ]
}
if wait_for 60 wd_clean; then pass "the restarted worker cleans up the force-deleted pod"; else
	fail "the restarted worker cleans up the force-deleted pod" \
		"pids=$(pids_of kc-wd-marker) veths=$(veths) $(ls "$D2/pods" "$D2/netns" 2>&1 | tr '\n' ' ')
$(awk -v d="$D2" 'index($5, d) == 1 { print $5 }' "/proc/$WPID/mountinfo" | head -n 5)
$(tail -n 10 "$T_TMP/worker.log.2")"
fi
if wait_for 60 node_ready kc-n2; then pass "the restarted worker is Ready"; else
	fail "the restarted worker is Ready" "$(tail -n 20 "$T_TMP/worker.log.2")"
fi

# =============================================================================================
# 2. pod to pod across the two nodes
WWW='mkdir -p /www && echo "hello from $(hostname)" >/www/index.html && exec httpd -f -p 8080 -h /www'
expect "kubectl run pa on kc-n1" k run pa --image=kc.test/busybox:1 --restart=Never \
	--overrides='{"spec":{"nodeName":"kc-n1"}}' -- sh -c "$WWW"
expect "kubectl run pb on kc-n2" k run pb --image=kc.test/busybox:1 --restart=Never \
	--overrides='{"spec":{"nodeName":"kc-n2"}}' -- sh -c "$WWW"
if wait_for 60 is_ready pa && wait_for 60 is_ready pb; then pass "pa and pb Running"; else
	fail "pa and pb Running" "$(dump pa "$T_TMP/kc.log.2"; dump pb "$T_TMP/worker.log.2")"
fi
ipa=$(pod_ip pa)
ipb=$(pod_ip pb)
case "$ipa/$ipb" in
10.42.*/10.42.*) [ "${ipa%.*}" != "${ipb%.*}" ] && pass "pod IPs from the two nodes' podCIDRs ($ipa, $ipb)" ||
	fail "pod IPs from the two nodes' podCIDRs" "$ipa $ipb" ;;
*) fail "pod IPs from the two nodes' podCIDRs" "$ipa $ipb" ;;
esac
get_from() { # get_from POD IP: wget in POD of http://IP:8080/
	k exec "$1" -- timeout 10 wget -q -O- "http://$2:8080/" 2>&1
}
b_to_a() { [ "$(get_from pb "$ipa")" = "hello from pa" ]; }
a_to_b() { [ "$(get_from pa "$ipb")" = "hello from pb" ]; }
if wait_for 30 b_to_a; then pass "pod on kc-n2 reaches pod on kc-n1 by pod IP"; else
	fail "pod on kc-n2 reaches pod on kc-n1 by pod IP" "$(get_from pb "$ipa"; ip -n "$NSW" route)"
fi
if wait_for 30 a_to_b; then pass "pod on kc-n1 reaches pod on kc-n2 by pod IP"; else
	fail "pod on kc-n1 reaches pod on kc-n2 by pod IP" "$(get_from pa "$ipb"; ip -n "$NS" route)"
fi
k delete pod pa pb --grace-period=1 --timeout=60s >/dev/null 2>&1

# =============================================================================================
# 3. static pods from DATA/manifests (kc-n1)
MIRROR=sweb-kc-n1
grep -q 'manifests/bad.yaml.*line' "$T_TMP/kc.log.1" && pass "a bad manifest is logged with file and line" ||
	fail "a bad manifest is logged with file and line" "$(grep -i manifest "$T_TMP/kc.log.1" | head -n 5)"
mirror_ok() {
	[ "$(k get pod $MIRROR -o jsonpath='{.metadata.annotations.kubernetes\.io/config\.source}')" = file ] &&
		[ -n "$(k get pod $MIRROR -o jsonpath='{.metadata.annotations.kubernetes\.io/config\.mirror}')" ] &&
		is_running $MIRROR && is_ready $MIRROR
}
if wait_for 60 mirror_ok; then pass "the static pod runs and its mirror pod is Running"; else
	fail "the static pod runs and its mirror pod is Running" "$(k get pod $MIRROR -o yaml 2>&1 | head -n 40)"
fi
h1=$(k get pod $MIRROR -o jsonpath='{.metadata.annotations.kubernetes\.io/config\.hash}')
m1=$(k get pod $MIRROR -o jsonpath='{.metadata.annotations.kubernetes\.io/config\.mirror}')
[ -n "$h1" ] && [ "$h1" = "$m1" ] && pass "config.hash and config.mirror agree" ||
	fail "config.hash and config.mirror agree" "hash=$h1 mirror=$m1"
[ "$(k get pod $MIRROR -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')" = Node/kc-n1 ] &&
	pass "the mirror pod is owned by the Node" ||
	fail "the mirror pod is owned by the Node" "$(k get pod $MIRROR -o jsonpath='{.metadata.ownerReferences}')"
expect_exit "kubectl logs of the static pod" 0 k logs $MIRROR
[ "$T_OUT" = static-v1 ] && pass "static pod logs" || fail "static pod logs" "$T_OUT"
expect_exit "kubectl exec in the static pod" 0 k exec $MIRROR -- echo in-static
[ "$T_OUT" = in-static ] && pass "static pod exec output" || fail "static pod exec output" "$T_OUT"
s_pid=$(pids_of kc-static-marker | head -n 1)
muid1=$(k get pod $MIRROR -o jsonpath='{.metadata.uid}')
expect "kubectl delete of the mirror pod" k delete pod $MIRROR --timeout=60s
recreated() {
	u=$(k get pod $MIRROR -o jsonpath='{.metadata.uid}' 2>/dev/null)
	[ -n "$u" ] && [ "$u" != "$muid1" ] && is_running $MIRROR
}
if wait_for 60 recreated; then pass "a deleted mirror pod is recreated"; else
	fail "a deleted mirror pod is recreated" "$(k get pods -o wide 2>&1)"
fi
[ -n "$s_pid" ] && [ "$(pids_of kc-static-marker | tr '\n' ' ')" = "$s_pid " ] &&
	pass "deleting the mirror does not stop the static pod" ||
	fail "deleting the mirror does not stop the static pod" "before $s_pid now $(pids_of kc-static-marker)"
# a changed file: the pod restarts with the new spec
sed -i 's/static-v1/static-v2/' "$D/manifests/sweb.yaml"
v2() {
	[ "$(k logs $MIRROR 2>/dev/null)" = static-v2 ] &&
		[ "$(k get pod $MIRROR -o jsonpath='{.metadata.annotations.kubernetes\.io/config\.hash}')" != "$h1" ]
}
if wait_for 60 v2; then pass "a changed manifest restarts the static pod with the new spec"; else
	fail "a changed manifest restarts the static pod with the new spec" "$(k logs $MIRROR 2>&1 | tail -n 2; tail -n 10 "$T_TMP/kc.log.2")"
fi
old_gone() { ! kill -0 "$s_pid" 2>/dev/null && [ "$(pids_of kc-static-marker | wc -l)" = 1 ]; }
wait_for 30 old_gone && pass "the old static pod's process is gone, one runs" ||
	fail "the old static pod's process is gone, one runs" "$(pids_of kc-static-marker)"
rm -f "$D/manifests/sweb.yaml"
static_gone() {
	[ -z "$(pids_of kc-static-marker)" ] && ! k get pod $MIRROR >/dev/null 2>&1
}
if wait_for 60 static_gone; then pass "a removed manifest stops the static pod and deletes the mirror"; else
	fail "a removed manifest stops the static pod and deletes the mirror" "$(pids_of kc-static-marker; k get pods 2>&1)"
fi

# =============================================================================================
# 4. an image pulled by the kubelet from a registry in the worker's namespace
if ! command -v docker-registry >/dev/null 2>&1 || ! command -v skopeo >/dev/null 2>&1; then
	fail "registry tools present" "docker-registry and skopeo are needed (sh contrib/install-tools.sh test)"
	t_finish
	exit
fi
RP=5000
mkdir -p "$T_TMP/registry"
cat >"$T_TMP/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $T_TMP/registry/data
http:
  addr: 127.0.0.1:$RP
EOF
bg_start "$T_TMP/registry.log" ip netns exec "$NSW" docker-registry serve "$T_TMP/registry/config.yml"
REG_PID=$T_LAST_PID
T_PIDS=""
if wait_for 30 nswx curl -sf "http://127.0.0.1:$RP/v2/"; then pass "docker-registry starts in the worker's namespace"
else fail "docker-registry starts in the worker's namespace" "$(tail -n 5 "$T_TMP/registry.log")"; fi
expect "skopeo pushes the test image" env HOME="$T_TMP" ip netns exec "$NSW" skopeo copy --quiet \
	--dest-tls-verify=false "oci-archive:$img" "docker://127.0.0.1:$RP/kc/busybox:1"
expect "kubectl run reg with imagePullPolicy Always" k run reg --image=127.0.0.1:$RP/kc/busybox:1 \
	--image-pull-policy=Always --restart=Never --overrides='{"spec":{"nodeName":"kc-n2"}}' -- \
	sh -c 'echo pulled; exec sleep 3600'
if wait_for 90 is_running reg; then pass "a pod with a registry image reaches Running"; else
	fail "a pod with a registry image reaches Running" "$(dump reg "$T_TMP/worker.log.2")"
fi
pulled_logs() { [ "$(k logs reg)" = pulled ]; }
wait_for 20 pulled_logs && pass "the pulled image runs" || fail "the pulled image runs" "$(k logs reg 2>&1)"
case $(k get pod reg -o jsonpath='{.status.containerStatuses[0].imageID}') in
*sha256:*) pass "imageID is a digest" ;;
*) fail "imageID is a digest" "$(k get pod reg -o jsonpath='{.status.containerStatuses[0]}')" ;;
esac
k get events --field-selector involvedObject.name=reg -o jsonpath='{.items[*].reason}' >"$T_TMP/ev" 2>&1
grep -q Pulled "$T_TMP/ev" && pass "a Pulled event" || fail "a Pulled event" "$(cat "$T_TMP/ev")"
expect "kubectl run nope with a missing tag" k run nope --image=127.0.0.1:$RP/kc/busybox:nope \
	--restart=Never --overrides='{"spec":{"nodeName":"kc-n2"}}' -- true
waiting_reason() { k get pod nope -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}'; }
saw_err=""
saw_backoff=""
poll_reasons() {
	r=$(waiting_reason)
	[ "$r" = ErrImagePull ] && saw_err=1
	[ "$r" = ImagePullBackOff ] && saw_backoff=1
	[ -n "$saw_err" ] && [ -n "$saw_backoff" ]
}
i=0
while [ $i -lt 120 ] && ! poll_reasons; do sleep 0.5; i=$((i + 1)); done
[ -n "$saw_err" ] && pass "a missing tag gives ErrImagePull" ||
	fail "a missing tag gives ErrImagePull" "$(dump nope "$T_TMP/worker.log.2")"
[ -n "$saw_backoff" ] && pass "then ImagePullBackOff" ||
	fail "then ImagePullBackOff" "$(dump nope "$T_TMP/worker.log.2")"
k delete pod reg nope --grace-period=1 --timeout=60s >/dev/null 2>&1

t_finish
