# t_store.sh - `kc server --role=store`: a single member over HTTPS (the node's CA) and over
# plain HTTP, driven with `kc store`; data survives a restart; a 3-member cluster on loopback
# replicates, and after kill -9 of its leader the others elect a new one that serves writes,
# with every acknowledged write still present.
. tests/integration/lib.sh

# --- one member, HTTPS with the certificates kc created under DATA/tls
D=$T_TMP/one
SP=$(free_port)
bg_start "$T_TMP/one.log" "$KC" server --role=store --data-dir "$D" --node-name one \
	--store-port "$SP" --peer-port "$(free_port)"
ONE=$T_LAST_PID
ks() { "$KC" store --endpoints "https://127.0.0.1:$SP" --data-dir "$D" "$@"; }
if wait_for 10 ks status; then pass "store member serves HTTPS"; else fail "store member serves HTTPS" "$(cat "$T_TMP/one.log")"; fi
expect "put over HTTPS" ks put /registry/pods/default/web '{"kind":"Pod"}'
got=$(ks get /registry/pods/default/web 2>&1)
[ "$got" = "$(printf '/registry/pods/default/web\n{"kind":"Pod"}')" ] && pass "get returns key and value" || fail "get returns key and value" "$got"
ks put /registry/pods/default/db x >/dev/null
ks put /registry/services/default/web y >/dev/null
got=$(ks ls /registry/pods/ 2>&1)
[ "$got" = "$(printf '/registry/pods/default/db\n/registry/pods/default/web')" ] && pass "ls lists a prefix in key order" || fail "ls lists a prefix in key order" "$got"
expect "del" ks del /registry/pods/default/db
got=$(ks get /registry/pods/default/db 2>&1)
[ -z "$got" ] && pass "deleted key is gone" || fail "deleted key is gone" "$got"
code=$(curl -s -o "$T_TMP/garbage.json" -w '%{http_code}' --cacert "$D/tls/ca.crt" \
	--cert "$D/tls/admin.crt" --key "$D/tls/admin.key" -X POST "https://127.0.0.1:$SP/v3/kv/put" -d '{not json')
[ "$code" = 400 ] && pass "garbage request: 400" || fail "garbage request: 400" "$code $(cat "$T_TMP/garbage.json")"
# the keys are the control plane's: no client certificate, or one without system:masters (a
# node's), is refused as etcd's --client-cert-auth does
code=$(curl -s -o "$T_TMP/anon.json" -w '%{http_code}' --cacert "$D/tls/ca.crt" -X POST \
	"https://127.0.0.1:$SP/v3/kv/range" -d '{"key":"Lw==","range_end":"MA=="}')
case "$code $(cat "$T_TMP/anon.json")" in "401 "*'"code":16'*) pass "no client certificate: 401 Unauthenticated" ;;
*) fail "no client certificate: 401 Unauthenticated" "$code $(cat "$T_TMP/anon.json")" ;; esac
# a node's certificate: the same CA, O=system:nodes
if command -v openssl >/dev/null 2>&1 && [ -r "$D/tls/ca.key" ]; then
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=system:nodes/CN=system:node:w1" \
		-keyout "$T_TMP/node.key" -out "$T_TMP/node.csr" 2>/dev/null &&
		printf 'extendedKeyUsage=clientAuth\n' >"$T_TMP/node.ext" &&
		openssl x509 -req -in "$T_TMP/node.csr" -CA "$D/tls/ca.crt" -CAkey "$D/tls/ca.key" \
			-CAcreateserial -days 1 -extfile "$T_TMP/node.ext" -out "$T_TMP/node.crt" 2>/dev/null
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/tls/ca.crt" --cert "$T_TMP/node.crt" \
		--key "$T_TMP/node.key" -X POST "https://127.0.0.1:$SP/v3/kv/range" -d '{"key":"Lw=="}')
	[ "$code" = 403 ] && pass "a node's certificate: 403" || fail "a node's certificate: 403" "$code"
else
	echo "skip a node's certificate: no openssl or no DATA/tls/ca.key"
fi
expect_exit "unreachable endpoint: exit 1" 1 "$KC" store --endpoints http://127.0.0.1:1 get x
expect_exit "bad usage: exit 2" 2 "$KC" store frob
kill -TERM "$ONE"; wait "$ONE"
bg_start "$T_TMP/one2.log" "$KC" server --role=store --data-dir "$D" --node-name one \
	--store-port "$SP" --peer-port "$(free_port)"
ONE=$T_LAST_PID
wait_for 10 ks status
got=$(ks get /registry/pods/default/web 2>&1)
case $got in *'{"kind":"Pod"}'*) pass "data survives a restart" ;; *) fail "data survives a restart" "$got" ;; esac
kill -TERM "$ONE"; wait "$ONE"

# --- clusters of 3 and 5 members on loopback (plain HTTP between them, or mutual TLS with a
# shared CA fetched with the join token): writes through every member, then kill -9 of the leader
# while a writer keeps going; every acknowledged write must be readable afterwards from a survivor.
cport() { eval "echo \$C$1"; }
cluster() { # N [tls]
	N=$1
	MODE=${2:-plain}
	if [ "$MODE" = tls ]; then S=https; SEC=""; else S=http; SEC=--plain-http; fi
	TAG=$MODE$N
	PEERS=""
	n=1
	while [ $n -le "$N" ]; do
		eval "P$n=$(free_port); C$n=$(free_port)"
		PEERS="$PEERS${PEERS:+,}m$n=$S://127.0.0.1:$(eval echo \$P$n)"
		n=$((n + 1))
	done
	ALL=""
	n=1
	TOKEN=""
	while [ $n -le "$N" ]; do
		bg_start "$T_TMP/c$TAG-m$n.log" "$KC" server --role=store $SEC --node-name "m$n" \
			--data-dir "$T_TMP/c$TAG-m$n" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
			--peer-port "$(eval echo \$P$n)" --store-port "$(cport $n)" --store-peers "$PEERS" \
			${TOKEN:+--token "$TOKEN"}
		eval "PID$n=\$T_LAST_PID"
		if [ "$MODE" = tls ] && [ $n = 1 ]; then
			# the first member makes the cluster CA and the join token; the others fetch the CA
			wait_for 10 test -s "$T_TMP/c$TAG-m1/token"
			TOKEN=$(cat "$T_TMP/c$TAG-m1/token")
			case $TOKEN in kc1:????????????????????????????????????????????????????????????????:????????????????????????????????) pass "$TAG: DATA/token is kc1:<CA pin>:<secret>" ;;
			*) fail "$TAG: DATA/token format" "$TOKEN" ;; esac
			mode=$(stat -c %a "$T_TMP/c$TAG-m1/token")
			[ "$mode" = 600 ] && pass "$TAG: DATA/token is mode 0600" || fail "$TAG: DATA/token mode" "$mode"
		fi
		ALL="$ALL${ALL:+,}$S://127.0.0.1:$(cport $n)"
		n=$((n + 1))
	done
	kcs() { "$KC" store ${SEC:+} $([ "$MODE" = tls ] && echo --data-dir "$T_TMP/c$TAG-m1") "$@"; }
	ep() { echo "$S://127.0.0.1:$(cport "$1")"; }
	if wait_for 20 kcs --endpoints "$(ep 2)" put /k/0 v0; then pass "$TAG: $N members elect a leader and accept a write"
	else fail "$TAG: $N members elect a leader" "$(tail -n 5 "$T_TMP/c$TAG-m1.log" "$T_TMP/c$TAG-m2.log")"; fi
	i=1
	while [ $i -le 30 ]; do kcs --endpoints "$(ep $((i % N + 1)))" put "/k/$i" "v$i" >/dev/null || break; i=$((i + 1)); done
	[ $i = 31 ] && pass "$TAG: 30 writes spread over all members" || fail "$TAG: 30 writes spread over all members" "stopped at $i"
	got=$(kcs --endpoints "$(ep "$N")" ls /k/ | wc -l)
	[ "$got" = 31 ] && pass "$TAG: the last member reads all writes" || fail "$TAG: the last member reads all writes" "$got keys"
	# a lease's time-to-live is the leader's (it decides expiry): every member answers it the same,
	# followers by asking the leader; an unknown lease is TTL -1 everywhere, as etcd answers
	cu() { curl -s $([ "$MODE" = tls ] && echo --cacert "$T_TMP/c$TAG-m1/tls/ca.crt" \
		--cert "$T_TMP/c$TAG-m1/tls/admin.crt" --key "$T_TMP/c$TAG-m1/tls/admin.key") \
		-X POST "$(ep "$1")$2" -d "$3"; }
	cu 1 /v3/lease/grant '{"ID":4242,"TTL":600}' >/dev/null
	cu 2 /v3/kv/put '{"key":"L2xrL2E=","value":"eA==","lease":4242}' >/dev/null # /lk/a
	bad=""
	n=1
	while [ $n -le "$N" ]; do
		got=$(cu $n /v3/lease/timetolive '{"ID":4242,"keys":true}')
		case $got in *'"ID":"4242","TTL":"'[1-9]*'","grantedTTL":"600","keys":["L2xrL2E="]}') ;;
		*) bad="$bad m$n: $got" ;; esac
		got=$(cu $n /v3/lease/timetolive '{"ID":4242}')
		case $got in *'"ID":"4242","TTL":"'[1-9]*'","grantedTTL":"600"}') ;; *) bad="$bad m$n: $got" ;; esac
		got=$(cu $n /v3/lease/timetolive '{"ID":4343,"keys":true}')
		case $got in *'"ID":"4343","TTL":"-1"}') ;; *) bad="$bad m$n: $got" ;; esac
		n=$((n + 1))
	done
	[ -z "$bad" ] && pass "$TAG: every member answers a lease's time-to-live (keys too)" || fail "$TAG: lease time-to-live on every member" "$bad"
	if [ "$MODE" = tls ]; then
		# the peer port takes only members' certificates; the admin's is refused
		code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T_TMP/c$TAG-m1/tls/ca.crt" \
			--cert "$T_TMP/c$TAG-m1/tls/admin.crt" --key "$T_TMP/c$TAG-m1/tls/admin.key" \
			-H "X-Kc-Cluster: x" "https://127.0.0.1:$P1/raft/members")
		[ "$code" = 403 ] && pass "$TAG: peer port refuses a non-peer client certificate" || fail "$TAG: peer port refuses a non-peer certificate" "$code"
		cmp -s "$T_TMP/c$TAG-m1/tls/ca.crt" "$T_TMP/c$TAG-m$N/tls/ca.crt" && pass "$TAG: members share the cluster CA" || fail "$TAG: members share the cluster CA" differ
		# a member with a wrong token is refused with a clear message
		bad=$(echo "$TOKEN" | sed 's/:[0-9a-f]*$/:0123456789abcdef0123456789abcdef/')
		out=$("$KC" server --role=store --node-name m9 --data-dir "$T_TMP/c$TAG-m9" --bind-address 127.0.0.1 \
			--advertise-address 127.0.0.1 --peer-port "$(free_port)" --store-port "$(free_port)" \
			--store-join "$S://127.0.0.1:$P1" --token "$bad" 2>&1)
		rc=$?
		case "$rc $out" in "2 "*"refused the join token"*) pass "$TAG: a member with a wrong token secret is refused" ;;
		*) fail "$TAG: wrong token secret" "$rc $out" ;; esac
		other=kc1:$(printf '%064d' 0):$(echo "$TOKEN" | cut -d: -f3)
		out=$("$KC" server --role=store --node-name m9 --data-dir "$T_TMP/c$TAG-m10" --bind-address 127.0.0.1 \
			--advertise-address 127.0.0.1 --peer-port "$(free_port)" --store-port "$(free_port)" \
			--store-join "$S://127.0.0.1:$P1" --token "$other" 2>&1)
		rc=$?
		case "$rc $out" in "2 "*"does not match --token"*) pass "$TAG: a token pinning another CA is refused" ;;
		*) fail "$TAG: token pinning another CA" "$rc $out" ;; esac
	fi

	leader=""
	n=1
	while [ $n -le "$N" ]; do
		case $(kcs --endpoints "$(ep $n)" status 2>/dev/null) in *", true, false,"*) leader=$n ;; esac
		n=$((n + 1))
	done
	[ -n "$leader" ] && pass "$TAG: one reports itself leader (m$leader)" || { fail "$TAG: one reports itself leader" none; leader=1; }

	# a writer under load: records each acknowledged key
	: >"$T_TMP/acked$TAG"
	(
		j=0
		while [ ! -e "$T_TMP/stop$TAG" ] && [ $j -lt 2000 ]; do
			kcs --endpoints "$ALL" put "/load/$j" "$j" >/dev/null 2>&1 && echo "/load/$j" >>"$T_TMP/acked$TAG"
			j=$((j + 1))
		done
	) &
	WRITER=$!
	# counts of acknowledged writes, not seconds: a loaded machine writes slowly
	acked_at_least() { [ "$(wc -l <"$T_TMP/acked$TAG")" -ge "$1" ]; }
	wait_for 60 acked_at_least 10
	eval "kill -KILL \$PID$leader"
	t0=$(date +%s%N)
	ok=""
	n=1
	while [ $n -le "$N" ] && [ -z "$ok" ]; do
		if [ $n != "$leader" ] && wait_for 10 kcs --endpoints "$(ep $n)" put /k/after x; then ok=$n; fi
		n=$((n + 1))
	done
	t1=$(date +%s%N)
	wait_for 60 acked_at_least 30
	touch "$T_TMP/stop$TAG"
	wait "$WRITER"
	if [ -n "$ok" ]; then pass "$TAG: after kill -9 of the leader under load a new leader takes writes ($(( (t1 - t0) / 1000000 )) ms)"
	else fail "$TAG: a new leader takes writes" "$(tail -n 5 "$T_TMP/c$TAG-m$((leader % N + 1)).log")"; fi
	kcs --endpoints "$(ep "$ok")" ls /load/ >"$T_TMP/present$TAG" 2>&1
	acked=$(wc -l <"$T_TMP/acked$TAG")
	missing=$(sort "$T_TMP/acked$TAG" | comm -23 - "$(sort "$T_TMP/present$TAG" >"$T_TMP/ps$TAG"; echo "$T_TMP/ps$TAG")" | wc -l)
	if [ "$acked" -gt 20 ] && [ "$missing" = 0 ]; then pass "$TAG: all $acked acknowledged writes under load survived"
	else fail "$TAG: acknowledged writes survived" "$acked acked, $missing missing"; fi
	n=1
	while [ $n -le "$N" ]; do eval "p=\$PID$n"; kill -TERM "$p" 2>/dev/null; n=$((n + 1)); done
	n=1
	while [ $n -le "$N" ]; do eval "p=\$PID$n"; wait "$p" 2>/dev/null; n=$((n + 1)); done
}
cluster 3
cluster 5
cluster 3 tls

t_finish
