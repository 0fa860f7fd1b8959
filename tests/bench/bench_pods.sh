#!/bin/sh
# bench_pods.sh - issue 5's pod figures, through the API as a user sees them:
#   - `kc server --role=all` start -> its Node Ready;
#   - create -> Running of BENCH_PODS_SEQ (100) busybox pods one after the other (the kubelet's
#     pod start-up SLI, image present, measured to the watch event), p50/p90/p99;
#   - BENCH_PODS_BURST (30) pods created at once: until all are Running;
#   - RSS: the all-in-one process with 0 and with the burst's pods, a joined worker agent with 0
#     pods and with BENCH_PODS_WORKER (10) pods, and the shims' own RSS (per-pod overhead).
# The per-container start beside runc's is tests/bench/bench_runtime.sh.
# Each node runs in a network namespace made here, entered with nsenter --net only (`ip netns
# exec` would also mount a fresh sysfs without /sys/fs/cgroup, and the pods would get no cgroups);
# nothing touches the host's network; kc is stopped by its pid. Needs root, overlayfs,
# busybox-static, kubectl and Debian's python3-kubernetes.
cd "$(dirname "$0")/../.." || exit 1
set -u
. tests/integration/teardown.sh
KC=${KC:-$(pwd)/kc}
SEQ=${BENCH_PODS_SEQ:-100}
BURST=${BENCH_PODS_BURST:-30}
WPODS=${BENCH_PODS_WORKER:-10}
PY=/usr/bin/python3
if [ "$(id -u)" != 0 ]; then echo "pods: skipped (needs root)"; exit 0; fi
$PY -c 'import kubernetes' 2>/dev/null || { echo "pods: skipped (python3-kubernetes missing)"; exit 0; }
W=$(mktemp -d /tmp/kc-bench-pods.XXXXXX)
NS=kc-bp-$$
NSW=kc-bpw-$$
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	# BENCH_PODS_LOGS=DIR keeps the nodes' logs
	[ -n "${BENCH_PODS_LOGS:-}" ] && mkdir -p "$BENCH_PODS_LOGS" && cp "$W"/*.log "$BENCH_PODS_LOGS"/ 2>/dev/null
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null
	done
	kill_under "$W" # pod processes left behind
	umount_under "$W"
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NSW" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# the pids of the shims whose data dir is $1
shim_pids() {
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q "^kc shim --dir $1/" && echo "${p#/proc/}"
	done
}
# the RSS of every shim whose data dir is $1
shims_kb() {
	t=0
	for p in $(shim_pids "$1"); do t=$((t + $(rss_kb "$p"))); done
	echo $t
}

ip netns add "$NS" && ip netns add "$NSW" || { echo "pods: skipped (no network namespaces)"; exit 0; }
ip -n "$NS" link set lo up && ip -n "$NSW" link set lo up &&
	ip -n "$NS" link add eth0 type veth peer name eth0 netns "$NSW" &&
	ip -n "$NS" addr add 10.99.8.2/24 dev eth0 && ip -n "$NSW" addr add 10.99.8.3/24 dev eth0 &&
	ip -n "$NS" link set eth0 up && ip -n "$NSW" link set eth0 up &&
	ip -n "$NS" route add default via 10.99.8.1 dev eth0 &&
	ip -n "$NSW" route add default via 10.99.8.1 dev eth0 || { echo "pods: namespace set-up failed"; exit 1; }

sh contrib/mkimage-busybox.sh "$W/busybox.tar" >/dev/null 2>&1 || { echo "pods: mkimage-busybox failed"; exit 1; }
D=$W/data
D2=$W/worker
mkdir -p "$D" "$D2"
"$KC" image import "$W/busybox.tar" --data-dir "$D" >/dev/null || exit 1
"$KC" image import "$W/busybox.tar" --data-dir "$D2" >/dev/null || exit 1
IMG=kc.test/busybox:1

echo "== kc server --role=all: start -> node Ready (load $(cut -d' ' -f1 /proc/loadavg))"
ip netns exec "$NS" $PY tests/bench/podstart.py "$D/kubeconfig" ready bp-node 60 >"$W/ready" 2>&1 &
RP=$!
while ! grep -q polling "$W/ready" && kill -0 "$RP" 2>/dev/null; do sleep 0.05; done
t0=$(date +%s.%N)
nsenter --net="/run/netns/$NS" "$KC" server --role=all --data-dir "$D" --node-name bp-node \
	--advertise-address 10.99.8.2 --bind-address 0.0.0.0 --api-port 6443 --store-port 2379 \
	--peer-port 2380 --kubelet-port 10250 --plain-http >"$W/kc.log" 2>&1 &
KPID=$!
PIDS="$KPID"
wait "$RP" || { echo "pods: node not Ready: $(cat "$W/ready")"; tail -n 20 "$W/kc.log"; exit 1; }
out=$(grep RESULT "$W/ready")
t1=${out#RESULT node_ready_at }
echo "RESULT start_to_node_ready_ms $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }') (target 1000; k3s about 50 s to all default pods Ready)"

py() { ip netns exec "$NS" $PY tests/bench/podstart.py "$D/kubeconfig" "$@"; }
echo "== $SEQ pods one after the other (create -> Running through the watch)"
rss0=$(rss_kb "$KPID")
py seq "$SEQ" "$IMG" || { tail -n 20 "$W/kc.log"; exit 1; }
echo "   (targets: p50 100 ms, p99 300 ms; Kubernetes SLO p99 5 s)"
# the sequence's pods are gone from the API, but the node may still be tearing them down
# (veths, mounts, cgroups): the burst is measured on a settled node
t=0
while [ -n "$(shim_pids "$D")" ] && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
echo "   (node settled $((t / 10)).$((t % 10)) s after the sequence's pods were deleted)"
echo "== $BURST pods at once"
# hold: run podstart.py with its pods kept PODSTART_HOLD seconds after its RESULT line, and
# sample the RSS figures ($2 = process, $3 = data dir) into $W/rss meanwhile
hold() {
	pid=$1 dd=$2
	shift 2
	: >"$W/out"
	PODSTART_HOLD=5 "$@" >"$W/out" 2>&1 &
	hp=$!
	while ! grep -q RESULT "$W/out" && kill -0 "$hp" 2>/dev/null; do sleep 0.1; done
	sleep 2
	echo "$(rss_kb "$pid") $(shims_kb "$dd")" >"$W/rss"
	wait "$hp"
	rc=$?
	cat "$W/out"
	return $rc
}
hold "$KPID" "$D" py burst "$BURST" "$IMG" || { tail -n 20 "$W/kc.log"; exit 1; }
echo "   (target: all Running within 2000 ms)"
read -r rssb shb <"$W/rss"
echo "RESULT rss_all_in_one_kb 0_pods $rss0 with_${BURST}_pods $rssb shims_kb $shb"

echo "== a joined worker agent"
nsenter --net="/run/netns/$NSW" "$KC" server --role=worker --data-dir "$D2" --node-name bp-w \
	--advertise-address 10.99.8.3 --kubelet-port 10250 --server https://10.99.8.2:6443 \
	--token "$(cat "$D/token")" >"$W/worker.log" 2>&1 &
WPID=$!
PIDS="$WPID $PIDS"
py ready bp-w 60 >/dev/null || { echo "pods: worker not Ready"; tail -n 20 "$W/worker.log"; exit 1; }
sleep 3
w0=$(rss_kb "$WPID")
hold "$WPID" "$D2" py seq "$WPODS" "$IMG" bp-w >/dev/null || { tail -n 20 "$W/worker.log"; exit 1; }
read -r w1 ws <"$W/rss"
echo "RESULT worker_rss_kb 0_pods $w0 with_${WPODS}_pods $w1 shims_kb $ws"
echo "RESULT worker_per_pod_kb $(( (w1 - w0 + ws) / WPODS )) (agent growth + shim, per pod; target 1024)"
echo "   (target: worker agent RSS with 0 pods 10240 kB)"
