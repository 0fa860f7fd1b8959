# t_apiserver.sh - `kc server --role=all` serves HTTPS on --api-port with a cluster CA created at
# first start, writes DATA/kubeconfig that the real kubectl uses as is, answers /version,
# /readyz, /livez, /healthz and /metrics, and gives a Kubernetes Status for unknown paths.
# A busy port and a half-present CA are start-up errors: one line, exit 2.
. tests/integration/lib.sh

D=$T_TMP/data
API=$(free_port)
ports() { echo --api-port "$API" --store-port "$(free_port)" --peer-port "$(free_port)" --kubelet-port "$(free_port)"; }
# shellcheck disable=SC2046
bg_start "$T_TMP/kc.log" "$KC" server --role=all --disable-agent --data-dir "$D" $(ports)
KPID=$T_LAST_PID
if wait_for 10 curl -fsS --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/readyz"; then pass "HTTPS /readyz answers with the cluster CA"
else fail "HTTPS /readyz answers with the cluster CA" "$(cat "$T_TMP/kc.log")"; fi

for p in readyz livez healthz; do
	out=$(curl -fsS --cacert "$D/tls/ca.crt" "https://localhost:$API/$p")
	if [ "$out" = ok ]; then pass "/$p says ok (name localhost verified)"; else fail "/$p says ok" "$out"; fi
done
out=$(curl -fsS --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/readyz?verbose")
case $out in *"readyz check passed"*) pass "/readyz?verbose lists checks" ;; *) fail "/readyz?verbose lists checks" "$out" ;; esac
out=$(curl -fsS --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/version")
if printf '%s' "$out" | python3 -c 'import json,sys; v=json.load(sys.stdin); assert v["major"]=="1" and v["minor"]=="32" and "+kc" in v["gitVersion"]'; then
	pass "/version reports 1.32 and kc's version"
else fail "/version reports 1.32 and kc's version" "$out"; fi
ADMIN="Authorization: Bearer $(cat "$D/tls/admin.token")"
code=$(curl -sS -o "$T_TMP/404.json" -w '%{http_code}' -H "$ADMIN" --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/api/v1/namespaces/x/pods/y")
if [ "$code" = 404 ] && python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["kind"]=="Status" and s["code"]==404 and s["reason"]=="NotFound"' "$T_TMP/404.json"; then
	pass "missing object: 404 Status"
else fail "missing object: 404 Status" "$code $(cat "$T_TMP/404.json")"; fi
code=$(curl -sS -o "$T_TMP/404b.json" -w '%{http_code}' -H "$ADMIN" --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/no/such/path")
if [ "$code" = 404 ] && python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["kind"]=="Status" and s["code"]==404' "$T_TMP/404b.json"; then
	pass "unknown path: 404 Status"
else fail "unknown path: 404 Status" "$code $(cat "$T_TMP/404b.json")"; fi
code=$(curl -sS -o "$T_TMP/403.json" -w '%{http_code}' --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/api/v1/namespaces/x/pods/y")
if [ "$code" = 403 ] && grep -q 'User \\"system:anonymous\\" cannot get resource \\"pods\\"' "$T_TMP/403.json"; then
	pass "anonymous request: 403 Status"
else fail "anonymous request: 403 Status" "$code $(cat "$T_TMP/403.json")"; fi
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/version")
if [ "$code" = 405 ]; then pass "wrong method: 405"; else fail "wrong method: 405" "$code"; fi
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/metrics")
if [ "$code" = 403 ]; then pass "/metrics: not for anonymous users"; else fail "/metrics: not for anonymous users" "$code"; fi
out=$(curl -fsS -H "$ADMIN" --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/metrics")
case $out in *"kc_build_info{"*"process_resident_memory_bytes "*) pass "/metrics serves Prometheus text" ;; *) fail "/metrics serves Prometheus text" "$out" ;; esac

# the real kubectl, with nothing but the kubeconfig kc wrote
if command -v kubectl >/dev/null 2>&1; then
	out=$(KUBECONFIG=$D/kubeconfig kubectl get --raw /readyz 2>&1)
	if [ "$out" = ok ]; then pass "kubectl get --raw /readyz with DATA/kubeconfig"; else fail "kubectl get --raw /readyz with DATA/kubeconfig" "$out"; fi
	out=$(KUBECONFIG=$D/kubeconfig kubectl version 2>&1)
	case $out in *"Server Version: v1.32.0+kc"*) pass "kubectl version sees the server" ;; *) fail "kubectl version sees the server" "$out" ;; esac
else
	echo "skip kubectl checks: kubectl not installed"
fi
perm=$(stat -c %a "$D/kubeconfig")
if [ "$perm" = 600 ] && [ "$(stat -c %a "$D/tls/ca.key")" = 600 ]; then pass "kubeconfig and CA key are 0600"; else fail "kubeconfig and CA key are 0600" "$perm"; fi

# a second kc on the same API port (other data dir): exit 2 and one line that says why (log
# records of what had started before are allowed beside it)
err=$("$KC" server --role=all --disable-agent --data-dir "$T_TMP/other" --api-port "$API" --store-port "$(free_port)" --peer-port "$(free_port)" --kubelet-port "$(free_port)" 2>&1)
rc=$?
case "$rc:$err" in
*"kc server: API server on "*"Address"*"in use"*) [ "$rc" = 2 ] && [ "$(printf '%s\n' "$err" | grep -vc '^time=')" = 1 ] && pass "busy API port: one line, exit 2" || fail "busy API port: one line, exit 2" "$err" ;;
*) fail "busy API port: one line, exit 2" "exit $rc: $err" ;;
esac

sum=$(sha256sum "$D/tls/ca.crt")
kill -TERM "$KPID"
wait "$KPID"
rc=$?
[ $rc = 0 ] && pass "SIGTERM with the API server running: exit 0" || fail "SIGTERM with the API server running: exit 0" "exit $rc"

# restart: same CA, serving again
# shellcheck disable=SC2046
bg_start "$T_TMP/kc2.log" "$KC" server --role=all --disable-agent --data-dir "$D" $(ports)
KPID=$T_LAST_PID
if wait_for 10 curl -fsS --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/readyz" &&
	[ "$(sha256sum "$D/tls/ca.crt")" = "$sum" ]; then pass "restart keeps the cluster CA"
else fail "restart keeps the cluster CA" "$(cat "$T_TMP/kc2.log")"; fi
kill -TERM "$KPID"
wait "$KPID"

# a CA certificate without its key is refused
rm "$D/tls/ca.key"
# shellcheck disable=SC2046
expect_exit "CA certificate without key: exit 2" 2 "$KC" server --role=all --disable-agent --data-dir "$D" $(ports)
case $T_OUT in *"ca.crt but not ca.key"*) pass "the missing CA key is named" ;; *) fail "the missing CA key is named" "$T_OUT" ;; esac

t_finish
