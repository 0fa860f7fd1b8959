#!/bin/sh
# bench_api.sh - the API server's figures (issue 4) with build/bench/apiload against
# `kc server --role=all --disable-agent` on loopback (no node agent: nothing touches the host's
# network, and no pod is meant to run): 10,000 stored pods, 20 writes/s of churn, 10 creates/s
# and a pod watch, for BENCH_API_SECONDS (20) in two passes over the same pods:
#   1. the issue's figures: gets at BENCH_API_GET_RATE (500/s, on a schedule) and a list of all
#      pods every BENCH_API_LIST_EVERY ms (1000), each call's latency under that load;
#   2. saturation: BENCH_API_GETTERS (4) closed-loop getters and lists back to back, which keep
#      both CPUs busy (latencies there are mostly queueing; kept as a stress figure).
# Then the process's RSS with the pods stored, and the TLS record ciphers' bulk speed
# (build/bench/gcmspeed). Prints the RESULT lines next to the issue's targets and the Kubernetes
# SLOs. KC=path/to/kc, APILOAD=..., GCMSPEED=..., BENCH_API_PODS. As a stress test of concurrent
# requests (apiload fails on any wrong answer): BENCH_API_PODS=1000 BENCH_API_SECONDS=30
# BENCH_API_GETTERS=32.
# kc is started here and stopped by its pid.
cd "$(dirname "$0")/../.." || exit 1
set -u
KC=${KC:-./kc}
APILOAD=${APILOAD:-build/bench/apiload}
GCMSPEED=${GCMSPEED:-build/bench/gcmspeed}
PODS=${BENCH_API_PODS:-10000}
SECS=${BENCH_API_SECONDS:-20}
GETTERS=${BENCH_API_GETTERS:-4}
GET_RATE=${BENCH_API_GET_RATE:-500}
LIST_EVERY=${BENCH_API_LIST_EVERY:-1000}
tmp=$(mktemp -d /tmp/kc-bench-api.XXXXXX)
kpid=""
cleanup() {
	if [ -n "$kpid" ]; then
		kill "$kpid" 2>/dev/null
		i=0
		while kill -0 "$kpid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

for b in "$APILOAD" "$GCMSPEED"; do
	if [ ! -x "$b" ]; then
		make -s "$b" || { echo "cannot build $b"; exit 1; }
	fi
done
[ -x "$KC" ] || { echo "no kc binary at $KC"; exit 1; }

echo "== TLS record ciphers (16 KiB records through mbedTLS's cipher layer)"
"$GCMSPEED"

API=$(port)
"$KC" server --role=all --disable-agent --data-dir "$tmp/data" --bind-address 127.0.0.1 --api-port "$API" \
	--store-port "$(port)" --peer-port "$(port)" --kubelet-port "$(port)" >"$tmp/kc.log" 2>&1 &
kpid=$!
i=0
until [ -f "$tmp/data/kubeconfig" ] &&
	curl -sf -m 2 --cacert "$tmp/data/tls/ca.crt" "https://127.0.0.1:$API/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$kpid" 2>/dev/null; then
		echo "kc did not start"
		tail -5 "$tmp/kc.log"
		exit 1
	fi
	sleep 0.1
done

echo "== API server: $PODS pods, 20 writes/s churn, ${SECS}s (kc server --role=all, loopback, TLS)"
# pass NAME ARGS...: one apiload run, its RESULT lines and the figures next to the targets
pass() {
	name=$1
	shift
	echo "-- $name"
	"$APILOAD" --kubeconfig "$tmp/data/kubeconfig" --pods "$PODS" --duration "$SECS" "$@" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	cat "$tmp/out"
	# RESULT <what> n p50 p99 max
	awk '
	/^RESULT get /             { printf "get p99 %s ms (target 5 ms; Kubernetes SLO 1000 ms)\n", $5 }
	/^RESULT list /            { printf "list-all-pods p99 %s ms (target 200 ms; Kubernetes SLO 30000 ms)\n", $5 }
	/^RESULT create /          { printf "create p99 %s ms (target 20 ms; Kubernetes SLO 1000 ms)\n", $5 }
	/^RESULT watch_after_ack / { printf "watch delivery p99 %s ms after the write was acknowledged (target 10 ms)\n", $5 }
	' "$tmp/out"
	if [ $rc -ne 0 ]; then
		echo "apiload failed (exit $rc)"
		tail -5 "$tmp/err"
		exit 1
	fi
}
pass "the issue's load: $GET_RATE gets/s, a list every $LIST_EVERY ms" \
	--get-rate "$GET_RATE" --list-every "$LIST_EVERY"
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$kpid/status")
echo "RESULT rss_kb $rss"
echo "RSS $((rss / 1024)) MB with the pods stored (target 150 MB)"
pass "saturation: $GETTERS closed-loop getters, lists back to back" --skip-fill --getters "$GETTERS"
