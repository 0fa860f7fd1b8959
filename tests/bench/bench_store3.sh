#!/bin/sh
# bench_store3.sh - 3-member kc store against 3-member etcd 3.4 on loopback, through the same
# etcd v3 JSON gateway, driven by build/bench/kvload at the leader: puts of 256-byte values to
# random keys with 1 and 64 clients. Both with durable fsync (etcd's defaults; kc's
# `--plain-http` members). Each cluster is three processes with their own ports and data dirs
# in a temp dir, killed by pid afterwards. Then `etcdctl check perf` against etcd alone (the
# native gRPC client) as the reference. Prints each run and the kc/etcd ratios.
#   KC=path/to/kc KVLOAD=path/to/kvload BENCH_TOTAL=2000 (puts at 1 client; x10 at 64)
#   BENCH_PERF=0 skips `etcdctl check perf` (it takes about a minute).
cd "$(dirname "$0")/../.." || exit 1
set -u
KC=${KC:-./kc}
KVLOAD=${KVLOAD:-build/bench/kvload}
TOTAL=${BENCH_TOTAL:-2000}
tmp=$(mktemp -d /tmp/kc-bench-store3.XXXXXX)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; sleep 0.5; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
up() { curl -sf -m 2 -X POST "$1/v3/maintenance/status" -d '{}' >/dev/null 2>&1; }
wait_up() { i=0; while [ $i -lt 200 ]; do up "$1" && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }
# leader URL among $@: the member whose status says leader == member_id
leader() {
	for u in "$@"; do
		s=$(curl -sf -m 2 -X POST "$u/v3/maintenance/status" -d '{}') || continue
		me=$(echo "$s" | sed -n 's/.*"member_id":"\([0-9]*\)".*/\1/p')
		ld=$(echo "$s" | sed -n 's/.*"leader":"\([0-9]*\)".*/\1/p')
		[ -n "$me" ] && [ "$me" = "$ld" ] && { echo "$u"; return 0; }
	done
	return 1
}
wait_leader() { i=0; while [ $i -lt 200 ]; do leader "$@" && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }

command -v etcd >/dev/null 2>&1 || { echo "etcd not installed (contrib/install-tools.sh bench)"; exit 1; }
if [ ! -x "$KVLOAD" ]; then
	make -s "$KVLOAD" || { echo "cannot build $KVLOAD"; exit 1; }
fi

# run NAME URL -> appends "NAME mode clients rate p50 p99 p999" to $tmp/results
run() {
	name=$1
	url=$2
	for spec in "1 $TOTAL" "64 $((TOTAL * 10))"; do
		set -- $spec
		line=$("$KVLOAD" --endpoint "$url" --clients "$1" --total "$2" --mode put |
			tee /dev/stderr | grep '^RESULT')
		echo "$name $line" | awk '{print $1, $3, $4, $7, $8, $9, $10}' >>"$tmp/results"
	done
}

# --- etcd 3.4: three members, default settings
EC1=$(port); EC2=$(port); EC3=$(port); EP1=$(port); EP2=$(port); EP3=$(port)
CL="e1=http://127.0.0.1:$EP1,e2=http://127.0.0.1:$EP2,e3=http://127.0.0.1:$EP3"
for n in 1 2 3; do
	c=$(eval echo \$EC$n)
	p=$(eval echo \$EP$n)
	etcd --name "e$n" --data-dir "$tmp/etcd$n" --listen-client-urls "http://127.0.0.1:$c" \
		--advertise-client-urls "http://127.0.0.1:$c" --listen-peer-urls "http://127.0.0.1:$p" \
		--initial-advertise-peer-urls "http://127.0.0.1:$p" --initial-cluster "$CL" \
		--initial-cluster-state new --initial-cluster-token kc-bench >"$tmp/etcd$n.log" 2>&1 &
	pids="$pids $!"
	eval "EPID$n=\$!"
done
EURLS="http://127.0.0.1:$EC1 http://127.0.0.1:$EC2 http://127.0.0.1:$EC3"
# shellcheck disable=SC2086
EL=$(wait_leader $EURLS) || { echo "etcd cluster did not elect a leader"; tail -5 "$tmp/etcd1.log"; exit 1; }
etcd --version | head -1
echo "etcd leader: $EL"
run etcd3 "$EL"
if [ "${BENCH_PERF:-1}" != 0 ] && command -v etcdctl >/dev/null 2>&1; then
	echo "etcdctl check perf (native gRPC client, 3-member etcd):"
	ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$EC1,http://127.0.0.1:$EC2,http://127.0.0.1:$EC3" \
		check perf --load=s 2>&1 | tr '\r' '\n' | grep -v ' / 60 ' >"$tmp/perf"
	cat "$tmp/perf"
fi
for n in 1 2 3; do eval "kill \$EPID$n" 2>/dev/null; done
sleep 1

# --- kc: three members
KC1=$(port); KC2=$(port); KC3=$(port); KP1=$(port); KP2=$(port); KP3=$(port)
PEERS="k1=http://127.0.0.1:$KP1,k2=http://127.0.0.1:$KP2,k3=http://127.0.0.1:$KP3"
for n in 1 2 3; do
	"$KC" server --role=store --plain-http --node-name "k$n" --data-dir "$tmp/kc$n" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--store-port "$(eval echo \$KC$n)" --peer-port "$(eval echo \$KP$n)" \
		--store-peers "$PEERS" >"$tmp/kc$n.log" 2>&1 &
	pids="$pids $!"
	eval "KPID$n=\$!"
done
KURLS="http://127.0.0.1:$KC1 http://127.0.0.1:$KC2 http://127.0.0.1:$KC3"
# shellcheck disable=SC2086
KL=$(wait_leader $KURLS) || { echo "kc cluster did not elect a leader"; tail -5 "$tmp/kc1.log"; exit 1; }
echo "kc leader: $KL"
run kc3 "$KL"
for n in 1 2 3; do eval "kill \$KPID$n" 2>/dev/null; done

echo
echo "name mode clients rate/s p50_ms p99_ms p999_ms"
cat "$tmp/results"
if [ -s "$tmp/perf" ]; then
	echo
	echo "etcdctl check perf:"
	grep -E "PASS|FAIL|Slowest|Stddev|Throughput" "$tmp/perf"
fi
echo
echo "kc/etcd ratios, 3 members (rate: higher is better for kc; p50/p99: lower is better for kc)"
awk '$1 == "etcd3" { r[$3] = $4; m[$3] = $5; p[$3] = $6 }
     $1 == "kc3" && r[$3] > 0 { printf "put clients=%-3s rate %.2fx  p50 %.2fx  p99 %.2fx\n", $3,
	$4 / r[$3], (m[$3] > 0 ? $5 / m[$3] : 0), (p[$3] > 0 ? $6 / p[$3] : 0) }' "$tmp/results"
