# t_podnet.sh - kc's pod network (runtime/podnet) on two "nodes", each a network namespace this
# test creates, joined by veths to a bridge in a third ("switch") namespace, node addresses
# 10.99.0.1 and 10.99.0.2, podCIDRs 10.42.1.0/24 and 10.42.2.0/24. Driven by build/bench/podnetctl
# run inside each node namespace (nsenter --net). Proves pod-to-pod on one node and across nodes
# (ICMP and TCP), hostPort from the other node, crash clean-up, and that tearing everything down
# leaves each node exactly as it was (links, addresses, routes, iptables, mounts).
#
# Ground rules: nothing touches the host's interfaces, routes or firewall; traffic stays inside
# the test namespaces; processes are stopped by pid and namespaces deleted on every exit path.
# Without root or network namespaces the test is skipped with a message.
. tests/integration/lib.sh

NSP=kcp$$
SW=${NSP}sw
N1=${NSP}n1
N2=${NSP}n2
NS_LIST=""
TOOL=$(pwd)/build/bench/podnetctl

podnet_cleanup() {
	for p in $T_PIDS; do kill -KILL "$p" 2>/dev/null; done
	T_PIDS=""
	# pod namespaces are bind mounts under $T_TMP: unmount whatever is left, deepest first
	if [ -d "$T_TMP" ]; then
		umount_under "$T_TMP"
	fi
	for ns in $NS_LIST; do ip netns del "$ns" 2>/dev/null; done
	NS_LIST=""
	rm -rf "$T_TMP"
}
trap podnet_cleanup EXIT
trap 'podnet_cleanup; exit 1' INT TERM
t_cleanup() { podnet_cleanup; }

skip_all() {
	echo "skip t_podnet: $1"
	t_finish
	exit 0
}

[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip_all "needs iproute2 (ip)"
command -v nsenter >/dev/null 2>&1 || skip_all "needs nsenter (util-linux)"
ip netns add "$SW" 2>/dev/null || skip_all "network namespaces unavailable"
NS_LIST="$SW"
BB=$(command -v busybox || true)
[ -n "$BB" ] || skip_all "needs busybox (ping, nc)"
FW=""
command -v iptables >/dev/null 2>&1 && FW="--firewall"

if ! make -s build/bench/podnetctl >"$T_TMP/build.log" 2>&1; then
	fail "build podnetctl" "$(tail -n 20 "$T_TMP/build.log")"
	t_finish
	exit 1
fi

# ---------------------------------------------------------------------------------------------
# the two nodes on one L2 segment (host-gw needs adjacency)
ip -n "$SW" link add br0 type bridge && ip -n "$SW" link set br0 up && ip -n "$SW" link set lo up
for i in 1 2; do
	ns=${NSP}n$i
	ip netns add "$ns" && NS_LIST="$NS_LIST $ns"
	ip -n "$SW" link add "up$i" type veth peer name eth0 netns "$ns"
	ip -n "$SW" link set "up$i" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "10.99.0.$i/24" dev eth0
	ip -n "$ns" link set eth0 up
done

node() { # node N CMD... : podnetctl inside node N
	n=$1
	shift
	nsenter --net="/run/netns/${NSP}n$n" "$TOOL" "$@"
}
snap() { # snap N FILE : what the node looks like (to compare before/after)
	{
		ip -n "${NSP}n$1" -o link show | sed 's/^[0-9]*: //; s/ qdisc.*//' | sort
		ip -n "${NSP}n$1" -o addr show | awk '{ print $2, $3, $4 }' | sort
		ip -n "${NSP}n$1" route show table all | grep -v '^local\|^broadcast\|^multicast\|fe80\|ff00' | sort
		[ -n "$FW" ] && ip netns exec "${NSP}n$1" iptables -S | sort
		[ -n "$FW" ] && ip netns exec "${NSP}n$1" iptables -t nat -S | sort
		awk -v d="$T_TMP" 'index($5, d) == 1 { print "mount", $5 }' /proc/self/mountinfo
	} >"$2" 2>&1
}
snap 1 "$T_TMP/n1.before"
snap 2 "$T_TMP/n2.before"

D1=$T_TMP/n1
D2=$T_TMP/n2
C1="--data $D1 --pod-cidr 10.42.1.0/24"
C2="--data $D2 --pod-cidr 10.42.2.0/24"
mkdir -p "$D1" "$D2"
# shellcheck disable=SC2086
expect "node 1 network" node 1 node $C1 --cluster-cidr 10.42.0.0/16 $FW
# shellcheck disable=SC2086
expect "node 2 network" node 2 node $C2 --cluster-cidr 10.42.0.0/16 $FW
if [ -z "$FW" ]; then echo "note: iptables missing: hostPort and masquerade not tested"; fi

pod() { # pod N UID [OPTS] : sets P_IP and P_NS
	n=$1
	uid=$2
	shift 2
	cf=$C1
	[ "$n" = 2 ] && cf=$C2
	# shellcheck disable=SC2086
	out=$(node "$n" add $cf "$uid" "$@" 2>&1) || {
		fail "pod $uid on node $n" "$out"
		P_IP=""
		P_NS=""
		return 1
	}
	P_IP=${out%% *}
	P_NS=${out#* }
	pass "pod $uid on node $n ($P_IP)"
}
HP=""
[ -n "$FW" ] && HP="--hostport 8080:80"
pod 1 pod-a1 && A1=$P_IP && A1NS=$P_NS
pod 1 pod-a2 && A2=$P_IP && A2NS=$P_NS
# shellcheck disable=SC2086
pod 2 pod-b1 $HP && B1=$P_IP && B1NS=$P_NS
pod 2 pod-b2 && B2=$P_IP && B2NS=$P_NS
# shellcheck disable=SC2086
expect "host-gw routes on node 1" node 1 routes $C1 10.42.1.0/24=10.99.0.1 10.42.2.0/24=10.99.0.2
# shellcheck disable=SC2086
expect "host-gw routes on node 2" node 2 routes $C2 10.42.1.0/24=10.99.0.1 10.42.2.0/24=10.99.0.2
expect "kc route has kc's protocol" sh -c "ip -n $N1 route show proto 75 | grep -q '10.42.2.0/24 via 10.99.0.2'"

inpod() { # inpod NSPATH CMD...
	p=$1
	shift
	nsenter --net="$p" "$@"
}
expect "ping same node (a1 -> a2)" inpod "$A1NS" "$BB" ping -c 1 -W 2 "$A2"
expect "ping across nodes (a1 -> b1)" inpod "$A1NS" "$BB" ping -c 1 -W 2 "$B1"
expect "ping across nodes (b2 -> a2)" inpod "$B2NS" "$BB" ping -c 1 -W 2 "$A2"
expect "pod reaches its gateway" inpod "$A1NS" "$BB" ping -c 1 -W 2 10.42.1.1
expect "pod reaches the other node" inpod "$A1NS" "$BB" ping -c 1 -W 2 10.99.0.2

# TCP: a listener in a pod, a client in another pod; the listener's output is the proof
tcp_check() { # NAME SERVER_NS PORT CLIENT_NETNS_ARG DST DSTPORT
	name=$1
	srv=$2
	port=$3
	cli=$4
	dst=$5
	dport=$6
	out="$T_TMP/nc.$$.$port.$dport.out"
	: >"$out"
	inpod "$srv" "$BB" nc -l -p "$port" >"$out" 2>&1 &
	spid=$!
	T_PIDS="$T_PIDS $spid"
	msg="hello-$name-$$"
	ok=0
	i=0
	while [ $i -lt 40 ]; do
		if echo "$msg" | nsenter --net="$cli" "$BB" nc -w 2 "$dst" "$dport" >/dev/null 2>&1; then
			wait_for 10 grep -q "$msg" "$out" && ok=1
			break
		fi
		sleep 0.05
		i=$((i + 1))
	done
	kill -KILL "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	if [ $ok = 1 ]; then pass "$name"; else fail "$name" "no '$msg' at the server: $(cat "$out")"; fi
}
tcp_check "tcp same node (a2 -> a1:7001)" "$A1NS" 7001 "$A2NS" "$A1" 7001
tcp_check "tcp across nodes (a1 -> b2:7002)" "$B2NS" 7002 "$A1NS" "$B2" 7002
if [ -n "$FW" ]; then
	# from node 1's own namespace to node 2's address: DNAT to pod-b1:80
	tcp_check "hostPort 10.99.0.2:8080 -> pod-b1:80 from node 1" "$B1NS" 80 /run/netns/$N1 10.99.0.2 8080
	tcp_check "hostPort from a pod on the other node" "$B1NS" 80 "$A1NS" 10.99.0.2 8080
	expect "hostPort rule carries the pod uid" sh -c \
		"ip netns exec $N2 iptables -t nat -S KC-HOSTPORTS | grep -q 'kc:pod-b1'"
fi

# idempotent add: same address again
# shellcheck disable=SC2086
again=$(node 1 add $C1 pod-a1 2>&1)
if [ "${again%% *}" = "$A1" ]; then pass "add is idempotent"; else fail "add is idempotent" "$again"; fi

# deletion: the pod's veth, namespace and address go; the other pod keeps working
# shellcheck disable=SC2086
expect "delete pod-a2" node 1 del $C1 pod-a2
expect "pod-a2 namespace gone" sh -c "! test -e '$A2NS'"
expect "pod-a2 unreachable" sh -c "! nsenter --net='$A1NS' '$BB' ping -c 1 -W 1 '$A2' >/dev/null 2>&1"
expect "pod-a1 still reaches pod-b1" inpod "$A1NS" "$BB" ping -c 1 -W 2 "$B1"
# shellcheck disable=SC2086
expect "delete twice" node 1 del $C1 pod-a2

# crash clean-up: pods the control plane no longer knows are removed; live ones stay
# shellcheck disable=SC2086
out=$(node 2 cleanup $C2 pod-b2 2>&1)
if [ "$out" = "1 pods removed" ]; then pass "cleanup removes pod-b1 only"; else fail "cleanup" "$out"; fi
expect "pod-b1 namespace gone" sh -c "! test -e '$B1NS'"
[ -n "$FW" ] && expect "pod-b1 hostPort rule gone" sh -c \
	"! ip netns exec $N2 iptables -t nat -S KC-HOSTPORTS | grep -q 'kc:pod-b1'"
expect "pod-b2 still reachable from pod-a1" inpod "$A1NS" "$BB" ping -c 1 -W 2 "$B2"

# pod network set-up time (numbers for the Worker's pod-start budget)
D3=$T_TMP/n1bench
mkdir -p "$D3"
bench=$(node 1 bench --data "$D3" --pod-cidr 10.42.9.0/24 --pods "${PODNET_BENCH_PODS:-50}" 2>&1)
if [ $? = 0 ]; then pass "bench"; echo "$bench"; else fail "bench" "$bench"; fi
node 1 destroy --data "$D3" --pod-cidr 10.42.9.0/24 >/dev/null 2>&1

# everything away: each node back to what it was
# shellcheck disable=SC2086
expect "destroy node 1" node 1 destroy $C1
# shellcheck disable=SC2086
expect "destroy node 2" node 2 destroy $C2
snap 1 "$T_TMP/n1.after"
snap 2 "$T_TMP/n2.after"
for i in 1 2; do
	if cmp -s "$T_TMP/n$i.before" "$T_TMP/n$i.after"; then
		pass "node $i left as it was"
	else
		fail "node $i left as it was" "$(diff "$T_TMP/n$i.before" "$T_TMP/n$i.after" | head -n 20)"
	fi
done
expect "no pod namespace mounts left" sh -c "! grep -q '$T_TMP' /proc/self/mountinfo"

t_finish
