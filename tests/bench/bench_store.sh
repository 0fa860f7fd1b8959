#!/bin/sh
# bench_store.sh - kc's store against etcd 3.4 through the same etcd v3 JSON gateway, driven by
# build/bench/kvload on loopback:
#   puts of 256-byte values to random keys with 1 and 64 clients, and linearizable/serializable
#   ranges with 64 clients; etcd with its default settings (fsync on every commit), kc with
#   `kc server --role=store --plain-http`. Prints each run and the kc/etcd ratios.
# When kc's store API does not answer, etcd's numbers are reported with "kc store API not
# available" and the script still succeeds. KC_STORE_URL=http://... benches an already running
# kc store endpoint instead of starting one. KC=path/to/kc, BENCH_TOTAL (puts per run, default
# 2000 for 1 client, x10 for 64), KVLOAD=path/to/kvload.
cd "$(dirname "$0")/../.." || exit 1
set -u
KC=${KC:-./kc}
KVLOAD=${KVLOAD:-build/bench/kvload}
TOTAL=${BENCH_TOTAL:-2000}
tmp=$(mktemp -d /tmp/kc-bench-store.XXXXXX)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
up() { curl -sf -m 2 -X POST "$1/v3/maintenance/status" -d '{}' >/dev/null 2>&1; }
wait_up() { i=0; while [ $i -lt 200 ]; do up "$1" && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }

if [ ! -x "$KVLOAD" ]; then
	make -s "$KVLOAD" || { echo "cannot build $KVLOAD"; exit 1; }
fi

# run NAME URL -> appends "NAME mode clients rate p50 p99 p999" to $tmp/results
run() {
	name=$1
	url=$2
	for spec in "put 1 $TOTAL" "put 64 $((TOTAL * 10))" "range-l 64 $((TOTAL * 10))" \
		"range-s 64 $((TOTAL * 10))"; do
		set -- $spec
		case $1 in
		put) args="--mode put" ;;
		range-l) args="--mode range --consistency l" ;;
		range-s) args="--mode range --consistency s" ;;
		esac
		line=$("$KVLOAD" --endpoint "$url" --clients "$2" --total "$3" $args | tee /dev/stderr |
			grep '^RESULT')
		# RESULT mode clients requests errors rate p50 p99 p999
		echo "$name $line" | awk '{print $1, $3, $4, $7, $8, $9, $10}' >>"$tmp/results"
	done
}

# etcd 3.4, default settings
if ! command -v etcd >/dev/null 2>&1; then
	echo "etcd not installed"
	exit 1
fi
EC=$(port)
EP=$(port)
etcd --name bench --data-dir "$tmp/etcd" --listen-client-urls "http://127.0.0.1:$EC" \
	--advertise-client-urls "http://127.0.0.1:$EC" --listen-peer-urls "http://127.0.0.1:$EP" \
	--initial-advertise-peer-urls "http://127.0.0.1:$EP" \
	--initial-cluster "bench=http://127.0.0.1:$EP" >"$tmp/etcd.log" 2>&1 &
epid=$!
pids="$pids $epid"
wait_up "http://127.0.0.1:$EC" || { echo "etcd did not start"; tail -5 "$tmp/etcd.log"; exit 1; }
etcd --version | head -1
run etcd "http://127.0.0.1:$EC"
kill "$epid" 2>/dev/null

# kc's store role
KCP=$(port)
KPP=$(port)
kc_ok=0
if [ -n "${KC_STORE_URL:-}" ]; then
	if up "$KC_STORE_URL"; then
		kc_ok=1
		run kc "$KC_STORE_URL"
	fi
elif [ -x "$KC" ]; then
	"$KC" server --role=store --plain-http --store-port "$KCP" --peer-port "$KPP" \
		--data-dir "$tmp/kc" >"$tmp/kc.log" 2>&1 &
	kpid=$!
	pids="$pids $kpid"
	if wait_up "http://127.0.0.1:$KCP"; then
		kc_ok=1
		run kc "http://127.0.0.1:$KCP"
	fi
	kill "$kpid" 2>/dev/null
fi

echo
echo "name mode clients rate/s p50_ms p99_ms p999_ms"
cat "$tmp/results"
if [ $kc_ok = 0 ]; then
	echo "kc store API not available (kc server --role=store did not answer /v3/maintenance/status)"
	exit 0
fi
echo
echo "kc/etcd ratios (rate: higher is better for kc; p99: lower is better for kc)"
awk '$1 == "etcd" { r[$2" "$3] = $4; p[$2" "$3] = $6 }
     $1 == "kc" && r[$2" "$3] > 0 { printf "%-8s clients=%-3s rate %.2fx  p99 %.2fx\n", $2, $3,
	$4 / r[$2" "$3], (p[$2" "$3] > 0 ? $6 / p[$2" "$3] : 0) }' "$tmp/results"
