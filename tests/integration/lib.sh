# lib.sh - helpers for integration tests that drive the real ./kc. Source it from t_*.sh.
# Each test script calls `pass NAME` / `fail NAME WHY`, or `expect NAME CMD...`; run.sh adds up
# the results. Every process a test starts is recorded and stopped by pid at exit, never by name.
set -u
. tests/integration/teardown.sh
KC=${KC:-$(pwd)/kc}
T_PASSED=0
T_FAILED=0
T_PIDS=""
T_TMP=$(mktemp -d /tmp/kc-it.XXXXXX)

pass() { T_PASSED=$((T_PASSED + 1)); echo "ok   $1"; }
fail() { T_FAILED=$((T_FAILED + 1)); echo "FAIL $1: $2"; }

# expect NAME CMD...: passes when CMD exits 0.
expect() {
	name=$1
	shift
	if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(printf '%s' "$out" | tail -n 5)"; fi
}

# expect_exit NAME CODE CMD...: passes when CMD exits with CODE; stdout+stderr in $T_OUT.
expect_exit() {
	name=$1
	code=$2
	shift 2
	T_OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$code" ]; then pass "$name"; else fail "$name" "exit $rc, wanted $code: $T_OUT"; fi
}

# bg_start OUTFILE CMD...: starts CMD in the background, records its pid in $T_LAST_PID.
bg_start() {
	out=$1
	shift
	"$@" >"$out" 2>&1 &
	T_LAST_PID=$!
	T_PIDS="$T_PIDS $T_LAST_PID"
}

# store_start NAME DIR PEERPORT CLIENTPORT [flags]: a `kc server --role=store --plain-http` member
# on loopback, logging to $T_TMP/NAME.log; kstore CLIENTPORT ARGS: `kc store` against it;
# kstore_getis CLIENTPORT KEY VALUE: whether KEY holds VALUE there.
store_start() {
	n=$1 d=$2 pp=$3 cp=$4
	shift 4
	bg_start "$T_TMP/$n.log" "$KC" server --role=store --plain-http --node-name "$n" --data-dir "$d" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --peer-port "$pp" --store-port "$cp" "$@"
}
kstore() { p=$1; shift; "$KC" store --endpoints "http://127.0.0.1:$p" "$@"; }
kstore_getis() { kstore "$1" get "$2" | tail -n 1 | grep -qx "$3"; }

# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds, at most SECONDS*20 times: a
# slow CMD (kubectl on a loaded machine) stretches the wait beyond SECONDS of wall time, which
# the tests rely on for patience under load; a condition that never comes true takes long.
wait_for() {
	limit=$(($1 * 20))
	shift
	i=0
	while [ $i -lt "$limit" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# free_port: an unused TCP port on loopback.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

t_cleanup() {
	for p in $T_PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	T_PIDS=""
	rm -rf "$T_TMP"
}

t_finish() {
	t_cleanup
	[ -n "${KC_TEST_TALLY_FILE:-}" ] && echo "$T_PASSED $T_FAILED" >>"$KC_TEST_TALLY_FILE"
	[ "$T_FAILED" = 0 ]
}
# Also on EXIT: a script that dies early (set -u, a shell error) must not leave servers behind.
trap t_cleanup EXIT INT TERM
