# teardown.sh - clean-up helpers shared by the integration tests (through lib.sh) and the
# benchmarks that run pods (tests/bench/bench_pods.sh). Functions only; sourcing does nothing.

# kill_under DIR: SIGKILL to every process but this shell whose command line names DIR or whose
# root lies under it (pod processes a failed run left behind). Never by name.
kill_under() {
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] && continue
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q "$1" ||
			readlink "$p/root" 2>/dev/null | grep -q "^$1"; then
			kill -KILL "$pid" 2>/dev/null
		fi
	done
}

# umount_under DIR: lazily unmounts every mount under DIR, deepest first.
umount_under() {
	awk -v d="$1" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
}
