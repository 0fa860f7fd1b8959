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
code=$(curl -s -o "$T_TMP/garbage.json" -w '%{http_code}' --cacert "$D/tls/ca.crt" -X POST "https://127.0.0.1:$SP/v3/kv/put" -d '{not json')
[ "$code" = 400 ] && pass "garbage request: 400" || fail "garbage request: 400" "$code $(cat "$T_TMP/garbage.json")"
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

# --- three members on loopback (plain HTTP between them)
P1=$(free_port); P2=$(free_port); P3=$(free_port)
C1=$(free_port); C2=$(free_port); C3=$(free_port)
PEERS="m1=http://127.0.0.1:$P1,m2=http://127.0.0.1:$P2,m3=http://127.0.0.1:$P3"
start_member() { # n peerport clientport
	bg_start "$T_TMP/m$1.log" "$KC" server --role=store --plain-http --node-name "m$1" \
		--data-dir "$T_TMP/m$1" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--peer-port "$2" --store-port "$3" --store-peers "$PEERS"
	eval "PID$1=\$T_LAST_PID"
}
start_member 1 "$P1" "$C1"; start_member 2 "$P2" "$C2"; start_member 3 "$P3" "$C3"
E="http://127.0.0.1:$C1,http://127.0.0.1:$C2,http://127.0.0.1:$C3"
if wait_for 15 "$KC" store --endpoints "http://127.0.0.1:$C2" put /k/0 v0; then pass "3 members elect a leader and accept a write through a follower or leader"
else fail "3 members elect a leader" "$(tail -n 5 "$T_TMP/m1.log")"; fi
cport() { eval "echo \$C$1"; }
i=1
while [ $i -le 50 ]; do "$KC" store --endpoints "http://127.0.0.1:$(cport $((i % 3 + 1)))" put "/k/$i" "v$i" >/dev/null || break; i=$((i + 1)); done
[ $i = 51 ] && pass "50 writes spread over all members" || fail "50 writes spread over all members" "stopped at $i"
got=$("$KC" store --endpoints "http://127.0.0.1:$C3" ls /k/ | wc -l)
[ "$got" = 51 ] && pass "every member reads all writes" || fail "every member reads all writes" "$got keys on m3"

leader=""
for n in 1 2 3; do
	c=$(cport $n)
	st=$("$KC" store --endpoints "http://127.0.0.1:$c" status 2>/dev/null)
	case $st in *", true, false,"*) leader=$n ;; esac
done
if [ -n "$leader" ]; then pass "one member reports itself leader (m$leader)"; else fail "one member reports itself leader" "none"; leader=1; fi
eval "kill -KILL \$PID$leader"
t0=$(date +%s%N)
ok=""
for n in 1 2 3; do
	[ $n = "$leader" ] && continue
	c=$(cport $n)
	if wait_for 10 "$KC" store --endpoints "http://127.0.0.1:$c" put /k/after x; then ok=$n; break; fi
done
t1=$(date +%s%N)
if [ -n "$ok" ]; then pass "after kill -9 of the leader a new leader takes writes ($(( (t1 - t0) / 1000000 )) ms)"
else fail "after kill -9 of the leader a new leader takes writes" "$(tail -n 5 "$T_TMP/m$((leader % 3 + 1)).log")"; fi
got=$("$KC" store --endpoints "http://127.0.0.1:$(cport "$ok")" ls /k/ | wc -l)
[ "$got" = 52 ] && pass "every acknowledged write survived the leader's death" || fail "every acknowledged write survived" "$got keys"
for n in 1 2 3; do eval "p=\$PID$n"; kill -TERM "$p" 2>/dev/null; done
for n in 1 2 3; do eval "p=\$PID$n"; wait "$p" 2>/dev/null; done

t_finish
