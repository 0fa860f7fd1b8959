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

# --- clusters of 3 and 5 members on loopback (plain HTTP between them): writes through every
# member, then kill -9 of the leader while a writer keeps going; every acknowledged write must be
# readable afterwards from a survivor.
cport() { eval "echo \$C$1"; }
cluster() { # N
	N=$1
	PEERS=""
	n=1
	while [ $n -le "$N" ]; do
		eval "P$n=$(free_port); C$n=$(free_port)"
		PEERS="$PEERS${PEERS:+,}m$n=http://127.0.0.1:$(eval echo \$P$n)"
		n=$((n + 1))
	done
	ALL=""
	n=1
	while [ $n -le "$N" ]; do
		bg_start "$T_TMP/c$N-m$n.log" "$KC" server --role=store --plain-http --node-name "m$n" \
			--data-dir "$T_TMP/c$N-m$n" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
			--peer-port "$(eval echo \$P$n)" --store-port "$(cport $n)" --store-peers "$PEERS"
		eval "PID$n=\$T_LAST_PID"
		ALL="$ALL${ALL:+,}http://127.0.0.1:$(cport $n)"
		n=$((n + 1))
	done
	if wait_for 15 "$KC" store --endpoints "http://127.0.0.1:$(cport 2)" put /k/0 v0; then pass "$N members elect a leader and accept a write"
	else fail "$N members elect a leader" "$(tail -n 5 "$T_TMP/c$N-m1.log")"; fi
	i=1
	while [ $i -le 30 ]; do "$KC" store --endpoints "http://127.0.0.1:$(cport $((i % N + 1)))" put "/k/$i" "v$i" >/dev/null || break; i=$((i + 1)); done
	[ $i = 31 ] && pass "$N members: 30 writes spread over all members" || fail "$N members: 30 writes spread over all members" "stopped at $i"
	got=$("$KC" store --endpoints "http://127.0.0.1:$(cport "$N")" ls /k/ | wc -l)
	[ "$got" = 31 ] && pass "$N members: the last member reads all writes" || fail "$N members: the last member reads all writes" "$got keys"

	leader=""
	n=1
	while [ $n -le "$N" ]; do
		case $("$KC" store --endpoints "http://127.0.0.1:$(cport $n)" status 2>/dev/null) in *", true, false,"*) leader=$n ;; esac
		n=$((n + 1))
	done
	[ -n "$leader" ] && pass "$N members: one reports itself leader (m$leader)" || { fail "$N members: one reports itself leader" none; leader=1; }

	# a writer under load: records each acknowledged key
	: >"$T_TMP/acked$N"
	(
		j=0
		while [ ! -e "$T_TMP/stop$N" ] && [ $j -lt 2000 ]; do
			"$KC" store --endpoints "$ALL" put "/load/$j" "$j" >/dev/null 2>&1 && echo "/load/$j" >>"$T_TMP/acked$N"
			j=$((j + 1))
		done
	) &
	WRITER=$!
	sleep 1
	eval "kill -KILL \$PID$leader"
	t0=$(date +%s%N)
	ok=""
	n=1
	while [ $n -le "$N" ] && [ -z "$ok" ]; do
		if [ $n != "$leader" ] && wait_for 10 "$KC" store --endpoints "http://127.0.0.1:$(cport $n)" put /k/after x; then ok=$n; fi
		n=$((n + 1))
	done
	t1=$(date +%s%N)
	sleep 1
	touch "$T_TMP/stop$N"
	wait "$WRITER"
	if [ -n "$ok" ]; then pass "$N members: after kill -9 of the leader under load a new leader takes writes ($(( (t1 - t0) / 1000000 )) ms)"
	else fail "$N members: a new leader takes writes" "$(tail -n 5 "$T_TMP/c$N-m$((leader % N + 1)).log")"; fi
	"$KC" store --endpoints "http://127.0.0.1:$(cport "$ok")" ls /load/ >"$T_TMP/present$N" 2>&1
	acked=$(wc -l <"$T_TMP/acked$N")
	missing=$(sort "$T_TMP/acked$N" | comm -23 - "$(sort "$T_TMP/present$N" >"$T_TMP/ps$N"; echo "$T_TMP/ps$N")" | wc -l)
	if [ "$acked" -gt 20 ] && [ "$missing" = 0 ]; then pass "$N members: all $acked acknowledged writes under load survived"
	else fail "$N members: acknowledged writes survived" "$acked acked, $missing missing"; fi
	n=1
	while [ $n -le "$N" ]; do eval "p=\$PID$n"; kill -TERM "$p" 2>/dev/null; n=$((n + 1)); done
	n=1
	while [ $n -le "$N" ]; do eval "p=\$PID$n"; wait "$p" 2>/dev/null; n=$((n + 1)); done
}
cluster 3
cluster 5

t_finish
