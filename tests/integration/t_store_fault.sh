# t_store_fault.sh - Jepsen-style fault test of kc's store: members in network namespaces, a
# nemesis (partitions, kill -9, SIGSTOP) while build/fault/faultload runs put/get/CAS clients
# and per-member watchers; then the linearizability and watch checks. Plus regressions for the
# etcd robustness findings: (a) lost write on a single-member crash, (b) a watch going back in
# time after a partition, (c) the revision going backwards after kill -9 during compaction.
#
#   FAULT_SECONDS  nemesis time (default 30; a longer soak: FAULT_SECONDS=600)
#   FAULT_QUICK=1  3 members instead of 5
#   FAULT_SEED     nemesis seed (printed; rerun with it to replay the fault schedule)
#   FAULT_KEEP=1   keep the members' logs, histories and watch logs (printed path)
#
# Ground rules: members run in namespaces this test creates (one per member, veth pairs into a
# bridge that lives in a namespace of its own, addresses 10.99.0.0/24); partitions are iptables
# rules inside the member namespaces; clients run in the bridge namespace. Nothing touches the
# host's interfaces, routes or firewall. Processes are stopped by pid, namespaces deleted on
# every exit path. Without root or network namespaces the namespace parts are skipped.
. tests/integration/lib.sh

FAULT_SECONDS=${FAULT_SECONDS:-30}
FAULT_SEED=${FAULT_SEED:-$(($$ * 7919 % 1000003 + 1))}
N=5
[ "${FAULT_QUICK:-0}" = 1 ] && N=3
FL=$(pwd)/build/fault/faultload
NSP=kcf$$
NS_LIST=""

fault_cleanup() {
	t_cleanup_keep=${FAULT_KEEP:-0}
	for p in $T_PIDS; do kill -KILL "$p" 2>/dev/null; done
	T_PIDS=""
	for ns in $NS_LIST; do ip netns del "$ns" 2>/dev/null; done
	NS_LIST=""
	if [ "$t_cleanup_keep" = 1 ] && [ -d "$T_TMP" ]; then
		echo "fault test files kept in $T_TMP"
	else
		rm -rf "$T_TMP"
	fi
}
trap fault_cleanup EXIT
trap 'fault_cleanup; exit 1' INT TERM
# t_finish calls t_cleanup: make it ours
t_cleanup() { fault_cleanup; }

echo "fault: seed $FAULT_SEED, $N members, ${FAULT_SECONDS}s of faults"
if ! make -s build/fault/faultload >"$T_TMP/build.log" 2>&1; then
	fail "build faultload" "$(tail -n 20 "$T_TMP/build.log")"
	t_finish
	exit 1
fi

rnd_state=$FAULT_SEED
rnd() { # rnd N: sets R to a number in [0, N)
	rnd_state=$(((rnd_state * 1103515245 + 12345) % 2147483648))
	R=$(((rnd_state / 65536) % $1))
}

# ---------------------------------------------------------------------------------------------
# (a) single member, loopback: kill -9 right after acknowledged writes, restart; the history
# (final reads included) must stay linearizable and every acknowledged write must reach the
# watch stream exactly once.
A_SP=$(free_port)
A_PP=$(free_port)
a_start() {
	bg_start "$T_TMP/a-$1.log" "$KC" server --role=store --plain-http --node-name solo \
		--data-dir "$T_TMP/a" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--store-port "$A_SP" --peer-port "$A_PP"
	A_PID=$T_LAST_PID
}
a_start 0
if wait_for 10 curl -sf -X POST "http://127.0.0.1:$A_SP/v3/kv/range" -d '{"key":"YQ=="}'; then
	"$FL" run --endpoints "http://127.0.0.1:$A_SP" --clients 6 --keys 6 --duration 10 \
		--timeout-ms 2000 --seed "$FAULT_SEED" --prefix /a/ --heal-file "$T_TMP/a.heal" \
		--history "$T_TMP/a.history" --watch-log "$T_TMP/a.watch" >"$T_TMP/a.out" 2>&1 &
	LOAD=$!
	T_PIDS="$T_PIDS $LOAD"
	for i in 1 2 3; do
		rnd 1500; sleep "$(echo "$R" | awk '{ printf "%.3f", 1 + $1 / 1000 }')"
		kill -KILL "$A_PID"; wait "$A_PID" 2>/dev/null
		a_start "$i"
		wait_for 10 curl -sf -X POST "http://127.0.0.1:$A_SP/v3/kv/range" -d '{"key":"YQ=="}'
	done
	touch "$T_TMP/a.heal"
	if wait "$LOAD"; then pass "(a) single member, kill -9 after acknowledged writes: nothing lost ($(grep -c '"ok"' "$T_TMP/a.history") ok operations)"
	else fail "(a) single member, kill -9 after acknowledged writes" "$(grep -v '^  *client' "$T_TMP/a.out" | head -n 40; grep -A 30 'not linearizable' "$T_TMP/a.out" | head -n 40)"; fi
else
	fail "(a) single member starts" "$(tail -n 5 "$T_TMP/a-0.log")"
fi
kill -KILL "$A_PID" 2>/dev/null

# ---------------------------------------------------------------------------------------------
# (c) kill -9 during compaction of a large keyspace: after restart the revision and the compact
# revision never went backwards, and new writes get higher revisions.
C_SP=$(free_port)
C_PP=$(free_port)
c_start() {
	bg_start "$T_TMP/c-$1.log" "$KC" server --role=store --plain-http --node-name solo \
		--data-dir "$T_TMP/c" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--store-port "$C_SP" --peer-port "$C_PP"
	C_PID=$T_LAST_PID
}
c_start 0
CEP=http://127.0.0.1:$C_SP
c_ok=1
c_detail=""
if wait_for 10 curl -sf -X POST "$CEP/v3/kv/range" -d '{"key":"YQ=="}'; then
	for delay in 0 15 60; do
		out=$("$FL" fill --endpoint "$CEP" --keys 4000 --rounds 2 --prefix "/c$delay/" 2>&1)
		case $out in "REV "*" ERRORS 0") ;; *) c_ok=0; c_detail="fill: $out"; break ;; esac
		out=$("$FL" compact-kill --endpoint "$CEP" --pid "$C_PID" --delay-ms "$delay" 2>&1)
		kill -KILL "$C_PID" 2>/dev/null   # in case compact-kill failed before its kill
		wait "$C_PID" 2>/dev/null
		case $out in "BEFORE "*) ;; *) c_ok=0; c_detail="compact-kill: $out"; break ;; esac
		set -- $out
		before=${2:-0} acked=${6:-0}
		[ "$acked" = 1 ] && compacted=$before || compacted=0
		c_start "d$delay"
		res=$("$FL" probe --endpoint "$CEP" --min-rev "$before" --compacted "$compacted" --wait 20 2>&1)
		c_detail="$c_detail [delay ${delay}ms: $out; $res]"
		case $res in *" OK") ;; *) c_ok=0; break ;; esac
	done
	[ $c_ok = 1 ] && pass "(c) kill -9 during compaction: revision and compact revision never go backwards" || fail "(c) kill -9 during compaction" "$c_detail"
else
	fail "(c) single member starts" "$(tail -n 5 "$T_TMP/c-0.log")"
fi
kill -KILL "$C_PID" 2>/dev/null

# ---------------------------------------------------------------------------------------------
# Members in network namespaces.
if [ "$(id -u)" != 0 ]; then
	echo "skip: the partition tests need root (network namespaces)"
	t_finish
	exit $?
fi
if ! ip netns add "${NSP}probe" 2>/dev/null; then
	echo "skip: network namespaces are unavailable (ip netns add failed)"
	t_finish
	exit $?
fi
ip netns del "${NSP}probe"
if ! command -v iptables >/dev/null 2>&1; then
	echo "skip: iptables is missing (make tools-test installs it)"
	t_finish
	exit $?
fi

BR=${NSP}br
ns_add() { ip netns add "$1" && NS_LIST="$NS_LIST $1"; }
setup_ok=1
ns_add "$BR" || setup_ok=0
ip -n "$BR" link set lo up
ip -n "$BR" link add br0 type bridge || setup_ok=0
ip -n "$BR" addr add 10.99.0.254/24 dev br0
ip -n "$BR" link set br0 up
i=1
while [ $i -le $N ]; do
	ns_add "${NSP}m$i" || setup_ok=0
	ip -n "$BR" link add "v$i" type veth peer name eth0 netns "${NSP}m$i" || setup_ok=0
	ip -n "$BR" link set "v$i" master br0 up
	ip -n "${NSP}m$i" addr add "10.99.0.$i/24" dev eth0
	ip -n "${NSP}m$i" link set eth0 up
	ip -n "${NSP}m$i" link set lo up
	ip netns exec "${NSP}m$i" iptables -w -L OUTPUT >/dev/null 2>&1 || setup_ok=0
	i=$((i + 1))
done
if [ $setup_ok = 0 ]; then
	echo "skip: could not build the test network (namespaces, veth, bridge or iptables refused)"
	t_finish
	exit $?
fi

PEERS=""
ENDPOINTS=""
i=1
while [ $i -le $N ]; do
	PEERS="$PEERS${PEERS:+,}m$i=http://10.99.0.$i:2380"
	ENDPOINTS="$ENDPOINTS${ENDPOINTS:+,}http://10.99.0.$i:2379"
	i=$((i + 1))
done
start_member() { # I
	bg_start "$T_TMP/m$1.log.$(date +%s%N)" ip netns exec "${NSP}m$1" "$KC" server --role=store \
		--plain-http --node-name "m$1" --data-dir "$T_TMP/m$1" --bind-address "10.99.0.$1" \
		--advertise-address "10.99.0.$1" --store-port 2379 --peer-port 2380 --store-peers "$PEERS"
	eval "PID$1=\$T_LAST_PID"
}
in_br() { ip netns exec "$BR" "$@"; }
# leader: sets L to the index of the member that a live member names as leader (0: none)
leader() {
	L=0
	ids=""
	i=1
	while [ $i -le $N ]; do
		s=$(in_br curl -s -m 1 -X POST "http://10.99.0.$i:2379/v3/maintenance/status" -d '{}' 2>/dev/null)
		mid=$(printf '%s' "$s" | sed -n 's/.*"member_id":"\([0-9]*\)".*/\1/p')
		lid=$(printf '%s' "$s" | sed -n 's/.*"leader":"\([0-9]*\)".*/\1/p')
		[ -n "$mid" ] && [ "$mid" = "$lid" ] && L=$i
		i=$((i + 1))
	done
}
cut_pair() { # I J: drop traffic between members I and J (both directions, both sides)
	ip netns exec "${NSP}m$1" iptables -w -A INPUT -s "10.99.0.$2" -j DROP
	ip netns exec "${NSP}m$1" iptables -w -A OUTPUT -d "10.99.0.$2" -j DROP
	ip netns exec "${NSP}m$2" iptables -w -A INPUT -s "10.99.0.$1" -j DROP
	ip netns exec "${NSP}m$2" iptables -w -A OUTPUT -d "10.99.0.$1" -j DROP
}
heal() {
	i=1
	while [ $i -le $N ]; do
		ip netns exec "${NSP}m$i" iptables -w -F INPUT
		ip netns exec "${NSP}m$i" iptables -w -F OUTPUT
		i=$((i + 1))
	done
}
# connect "1 2 3" "3 4 5": members talk only to members they share a group with
connect() {
	i=1
	while [ $i -le $N ]; do
		j=$((i + 1))
		while [ $j -le $N ]; do
			ok=0
			for g in "$@"; do
				case " $g " in *" $i "*) case " $g " in *" $j "*) ok=1 ;; esac ;; esac
			done
			[ $ok = 0 ] && cut_pair $i $j
			j=$((j + 1))
		done
		i=$((i + 1))
	done
}
isolate() { # I: I alone, the rest together
	rest=""
	j=1
	while [ $j -le $N ]; do [ $j != "$1" ] && rest="$rest $j"; j=$((j + 1)); done
	connect "$1" "$rest"
}

i=1
while [ $i -le $N ]; do start_member $i; i=$((i + 1)); done
if wait_for 30 in_br curl -sf -m 2 -X POST http://10.99.0.1:2379/v3/kv/put -d '{"key":"aw==","value":"dg=="}'; then
	pass "$N members in network namespaces elect a leader"
else
	fail "$N members in network namespaces elect a leader" "$(tail -n 5 "$T_TMP"/m1.log.*)"
	t_finish
	exit 1
fi

load() { # TAG DURATION: faultload in the bridge namespace, in the background (pid in LOAD)
	rm -f "$T_TMP/$1.heal"
	ip netns exec "$BR" "$FL" run --endpoints "$ENDPOINTS" --clients 10 --keys 10 --duration "$2" \
		--timeout-ms 3000 --seed "$FAULT_SEED" --prefix "/$1/" --heal-file "$T_TMP/$1.heal" \
		--final-timeout 60 --history "$T_TMP/$1.history" --watch-log "$T_TMP/$1.watch" \
		>"$T_TMP/$1.out" 2>&1 &
	LOAD=$!
	T_PIDS="$T_PIDS $LOAD"
}
verdict() { # TAG NAME
	touch "$T_TMP/$1.heal"
	if wait "$LOAD"; then pass "$2 ($(sed -n 's/^operations (ok\/fail\/unknown): //p' "$T_TMP/$1.out"))"
	else fail "$2" "seed $FAULT_SEED; $(grep -v '^    client' "$T_TMP/$1.out" | head -n 30)
$(sed -n '/not linearizable/,/^[A-Z]/p' "$T_TMP/$1.out" | head -n 60)"; fi
}

# ---------------------------------------------------------------------------------------------
# (b) watchers pinned to each member; a follower, then the leader, is cut off while writes go
# on; after the heal no watcher may go back in time, repeat or miss an acknowledged write.
load b 14
sleep 2
leader
f=$((L % N + 1))
isolate $f
sleep 4
heal
sleep 1
leader
[ "$L" != 0 ] && isolate "$L"
sleep 4
heal
verdict b "(b) watchers across partitions of a follower and of the leader never go back in time"

# ---------------------------------------------------------------------------------------------
# The nemesis: random faults for FAULT_SECONDS, each held 2-5 s, with 1-2 s of calm between.
restart_dead() {
	i=1
	while [ $i -le $N ]; do
		eval "p=\$PID$i"
		if ! kill -0 "$p" 2>/dev/null; then start_member $i; fi
		i=$((i + 1))
	done
}
load nemesis "$FAULT_SECONDS"
t_end=$(($(date +%s) + FAULT_SECONDS))
faults=""
while [ "$(date +%s)" -lt $t_end ]; do
	leader
	rnd 6
	case $R in
	0) # minority-isolated leader (or a random member when none is known)
		[ "$L" = 0 ] && { rnd $N; L=$((R + 1)); }
		what="isolate leader m$L"; isolate "$L" ;;
	1) # bridge: two majorities overlapping in one member
		if [ $N = 5 ]; then what="bridge {1,2,3}{3,4,5}"; connect "1 2 3" "3 4 5"
		else what="bridge {1,2}{2,3}"; connect "1 2" "2 3"; fi ;;
	2) # ring: each member sees only its neighbours (5) / random halves (3)
		if [ $N = 5 ]; then what="ring"; connect "1 2" "2 3" "3 4" "4 5" "5 1"
		else rnd 3; a=$((R + 1)); what="halves {$a}"; isolate $a; fi ;;
	3) # random halves
		rnd $N; a=$((R + 1)); rnd $N; b=$((R + 1))
		[ $a = $b ] && b=$((a % N + 1))
		rest=""
		j=1
		while [ $j -le $N ]; do [ $j != $a ] && [ $j != $b ] && rest="$rest $j"; j=$((j + 1)); done
		if [ $N = 5 ]; then what="halves {$a,$b}{$rest}"; connect "$a $b" "$rest"
		else what="halves {$a}{$b$rest}"; isolate $a; fi ;;
	4) # kill -9 a random member or the leader, restart after the fault
		rnd 2
		if [ $R = 0 ] && [ "$L" != 0 ]; then k=$L; else rnd $N; k=$((R + 1)); fi
		what="kill -9 m$k"; eval "kill -KILL \$PID$k; wait \$PID$k" 2>/dev/null ;;
	5) # pause the leader beyond the election timeout
		[ "$L" = 0 ] && { rnd $N; L=$((R + 1)); }
		what="SIGSTOP leader m$L"; eval "kill -STOP \$PID$L"; paused=$L ;;
	esac
	faults="$faults; $what"
	rnd 3000; sleep "$(echo "$R" | awk '{ printf "%.3f", 2 + $1 / 1000 }')"
	[ -n "${paused:-}" ] && { eval "kill -CONT \$PID$paused"; paused=""; }
	heal
	restart_dead
	rnd 1000; sleep "$(echo "$R" | awk '{ printf "%.3f", 1 + $1 / 1000 }')"
done
echo "nemesis:${faults#;}"
verdict nemesis "nemesis (${FAULT_SECONDS}s: partitions, kill -9, SIGSTOP): linearizable, watches ordered, no acknowledged write lost"

t_finish
