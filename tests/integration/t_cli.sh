# t_cli.sh - the command line contract: version, help, flag validation (one line, exit 2),
# data dir checks, signals (SIGTERM/SIGINT stop cleanly with exit 0), static linking.
. tests/integration/lib.sh

expect_exit "kc version exits 0" 0 "$KC" version
case $T_OUT in
*"kc version "*"Kubernetes version: v1.32"*"Git commit:"*) pass "kc version shows kc, Kubernetes and build info" ;;
*) fail "kc version shows kc, Kubernetes and build info" "$T_OUT" ;;
esac
expect_exit "kc help exits 0" 0 "$KC" help
expect_exit "no command exits 2" 2 "$KC"
expect_exit "unknown command exits 2" 2 "$KC" frobnicate
expect_exit "kc server --help exits 0" 0 "$KC" server --help
case $T_OUT in *--store-peers*--plain-http*) pass "server help lists the flags" ;; *) fail "server help lists the flags" "$T_OUT" ;; esac

# Each bad invocation: exit 2 and exactly one line on stderr, nothing on stdout.
bad() { # name args...
	name=$1
	shift
	err=$("$KC" server --data-dir "$T_TMP/d" "$@" 2>&1 >"$T_TMP/stdout")
	rc=$?
	lines=$(printf '%s\n' "$err" | wc -l)
	if [ $rc = 2 ] && [ "$lines" = 1 ] && [ ! -s "$T_TMP/stdout" ]; then
		pass "$name"
	else
		fail "$name" "exit $rc, $lines lines: $err"
	fi
}
bad "unknown flag" --no-such-flag
bad "bad role" --role=boss
bad "bad port" --api-port=99999
bad "bad CIDR" --cluster-cidr=10.42.0.0/40
bad "overlapping ranges" --cluster-cidr=10.43.0.0/16
bad "cluster DNS outside service range" --cluster-dns=8.8.8.8
bad "worker without server" --role=worker
bad "missing value" --api-port
: >"$T_TMP/afile"
err=$("$KC" server --data-dir "$T_TMP/afile/sub" 2>&1)
rc=$?
if [ $rc = 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ]; then pass "unusable data dir: one line, exit 2"
else fail "unusable data dir: one line, exit 2" "exit $rc: $err"; fi

# Start, refuse a second server on the same data dir, stop with SIGTERM and SIGINT.
P=$(free_port)
bg_start "$T_TMP/s1.log" "$KC" server --role=store --data-dir "$T_TMP/data" --api-port "$P" \
	--store-port "$(free_port)" --peer-port "$(free_port)"
S1=$T_LAST_PID
if wait_for 5 grep -q 'msg="kc ready"' "$T_TMP/s1.log"; then pass "server starts"
else fail "server starts" "$(cat "$T_TMP/s1.log")"; fi
expect_exit "second server on the same data dir exits 2" 2 "$KC" server --role=store --data-dir "$T_TMP/data"
case $T_OUT in *"in use by another kc process"*) pass "busy data dir is named" ;; *) fail "busy data dir is named" "$T_OUT" ;; esac
kill -TERM "$S1"
wait "$S1"
rc=$?
if [ $rc = 0 ] && grep -q 'msg="kc stopped"' "$T_TMP/s1.log"; then pass "SIGTERM stops cleanly with exit 0"
else fail "SIGTERM stops cleanly with exit 0" "exit $rc: $(cat "$T_TMP/s1.log")"; fi

bg_start "$T_TMP/s2.log" "$KC" server --role=store --data-dir "$T_TMP/data" --log-format=json \
	--store-port "$(free_port)" --peer-port "$(free_port)"
S2=$T_LAST_PID
wait_for 5 grep -q '"msg":"kc ready"' "$T_TMP/s2.log"
kill -INT "$S2"
wait "$S2"
rc=$?
if [ $rc = 0 ] && grep -q '"msg":"kc stopped"' "$T_TMP/s2.log"; then pass "SIGINT stops cleanly; JSON logs"
else fail "SIGINT stops cleanly; JSON logs" "exit $rc: $(cat "$T_TMP/s2.log")"; fi

# One static file.
if file "$KC" 2>/dev/null | grep -q 'statically linked' || ! ldd "$KC" >/dev/null 2>&1; then
	pass "kc is statically linked"
else
	fail "kc is statically linked" "$(ldd "$KC" 2>&1)"
fi

t_finish
