# node_lib.sh - the harness shared by the tests that run kc nodes inside network namespaces
# (t_worker, t_pods, t_top, t_nodes). Source it after lib.sh, with T_NAME set (skip messages).
#
# Ground rules it keeps: nothing touches the host's interfaces or routes (each node's namespace
# has a veth pair that stays inside the namespaces and a default route to an address nobody
# holds); every process a test starts is stopped by pid: KC_PID, WPID and REG_PID gracefully
# (TERM, then KILL after 5 s), the rest of T_PIDS with KILL, and pod processes left behind on a
# failure, found by their command line or root under the test dir; the pods' cgroups (kc's
# hierarchy "kc", one dir per pod uid of the test's data dirs) are removed, mounts under the test
# dir unmounted and the namespaces (NODE_NSES) deleted, on every exit path. A test may define
# node_cleanup_extra for more.
KC_PID=""
WPID=""
REG_PID=""
NODE_NSES=""

node_stop_pid() { # PID: TERM, up to 5 s, then KILL
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

node_cleanup() {
	command -v node_cleanup_extra >/dev/null 2>&1 && node_cleanup_extra
	for p in $KC_PID $WPID $REG_PID; do node_stop_pid "$p"; done
	KC_PID="" WPID="" REG_PID=""
	for p in $T_PIDS; do kill -KILL "$p" 2>/dev/null; done
	T_PIDS=""
	if [ -d "$T_TMP" ]; then
		kill_under "$T_TMP"
		# only the cgroups of this test's pods: other kc instances may share the "kc" level
		for d in "$T_TMP"/*/pods/*; do
			[ -d "$d" ] || continue
			find /sys/fs/cgroup -maxdepth 6 -type d -path "*/kc/*pod${d##*/}*" 2>/dev/null
		done | sort -r | while read -r cg; do
			while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$cg/cgroup.procs" 2>/dev/null
			rmdir "$cg" 2>/dev/null
		done
		umount_under "$T_TMP"
	fi
	for ns in $NODE_NSES; do ip netns del "$ns" 2>/dev/null; done
	NODE_NSES=""
	rm -rf "$T_TMP"
}
trap node_cleanup EXIT
trap 'node_cleanup; exit 1' INT TERM
t_cleanup() { node_cleanup; }

skip_all() {
	echo "skip $T_NAME: $1"
	t_finish
	exit 0
}

# node_require: root, overlayfs, iproute2 and kubectl, or the test is skipped
node_require() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (namespaces, overlayfs, cgroups)"
	grep -qw overlay /proc/filesystems 2>/dev/null || modprobe overlay 2>/dev/null
	grep -qw overlay /proc/filesystems 2>/dev/null || skip_all "needs overlayfs"
	command -v ip >/dev/null 2>&1 || skip_all "needs iproute2 (ip)"
	command -v kubectl >/dev/null 2>&1 || skip_all "needs kubectl"
}

# node_ns NS ADDR [NS2 ADDR2]: the node namespaces (lo up), joined by a veth pair, each end
# with its /24 address, or with one namespace a veth pair whose both ends stay inside it; a
# default route via x.x.x.1 (nobody) so that the nodes have one, as the pod network wants
node_ns() {
	for ns in "$1" ${3:+"$3"}; do
		ip netns add "$ns" 2>/dev/null || skip_all "network namespaces unavailable"
		NODE_NSES="$NODE_NSES $ns"
		ip -n "$ns" link set lo up || skip_all "cannot set up the namespace $ns"
	done
	if [ -n "${3:-}" ]; then
		ip -n "$1" link add eth0 type veth peer name eth0 netns "$3" &&
			ip -n "$3" addr add "$4/24" dev eth0 && ip -n "$3" link set eth0 up &&
			ip -n "$3" route add default via "${4%.*}.1" dev eth0 ||
			skip_all "cannot set up the nodes' network namespaces"
	else
		ip -n "$1" link add eth0 type veth peer name eth1 && ip -n "$1" link set eth1 up ||
			skip_all "cannot set up the node's network namespace"
	fi
	ip -n "$1" addr add "$2/24" dev eth0 && ip -n "$1" link set eth0 up &&
		ip -n "$1" route add default via "${2%.*}.1" dev eth0 ||
		skip_all "cannot set up the node's network namespace"
}

# node_image DATA_DIR...: the busybox test image (contrib/mkimage-busybox.sh), imported into
# each data dir with `kc image import` (checked for the first); kc.test/busybox:1
node_image() {
	img=$T_TMP/busybox.tar
	if ! sh contrib/mkimage-busybox.sh "$img" >"$T_TMP/mk.log" 2>&1; then
		skip_all "contrib/mkimage-busybox.sh failed (needs busybox-static): $(tail -n 2 "$T_TMP/mk.log")"
	fi
	first=1
	for dd in "$@"; do
		mkdir -p "$dd"
		if [ $first = 1 ]; then
			expect_exit "kc image import of the busybox test image" 0 "$KC" image import "$img" --data-dir "$dd"
			first=0
		else
			"$KC" image import "$img" --data-dir "$dd" >/dev/null 2>&1
		fi
	done
}
