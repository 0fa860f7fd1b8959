#!/bin/sh
# t_runtime.sh - kc's container runtime through `kc runtime` (as root): output and exit codes,
# OOMKilled, pids limit, capabilities, read-only rootfs, users, exec, kill with grace, a shim that
# outlives kc, start errors with Kubernetes reasons, and nothing leaked afterwards (mounts, cgroups,
# processes). The root filesystem is one layer made here from Debian's busybox-static.
. tests/integration/lib.sh

skip() {
	echo "skip t_runtime: $1"
	t_finish
	exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
grep -qw overlay /proc/filesystems || skip "overlayfs is not available"
BB=$(command -v busybox || true)
[ -n "$BB" ] && file -L "$BB" 2>/dev/null | grep -q 'statically linked' || BB=/bin/busybox
[ -x "$BB" ] || skip "busybox-static is not installed (contrib/install-tools.sh test)"

DATA=$T_TMP/data
TOP=kc-test-$$
LAYER=$T_TMP/layer0
LAYER2=$T_TMP/layer1
mkdir -p "$LAYER/bin" "$LAYER/etc" "$LAYER/tmp" "$LAYER2/etc"
cp "$BB" "$LAYER/bin/busybox"
for a in $("$BB" --list); do [ "$a" = busybox ] || ln -sf busybox "$LAYER/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000::/home/user:/bin/sh\n' >"$LAYER/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\nextra:x:2000:user\n' >"$LAYER/etc/group"
echo upper-layer >"$LAYER2/etc/motd"

cleanup_runtime() {
	for d in "$DATA"/pods/*/containers/*; do
		[ -d "$d" ] && "$KC" runtime --data-dir "$DATA" rm -f "$(basename "$d")" >/dev/null 2>&1
	done
	for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[ -d "$h$TOP" ] || continue
		find "$h$TOP" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	t_cleanup
}
trap cleanup_runtime EXIT INT TERM

R() { "$KC" runtime --data-dir "$DATA" "$@"; }
RUN() { R run --cgroup-top "$TOP" --rootfs-layers "$LAYER:$LAYER2" "$@"; }

out=$(RUN --rm -- echo hello 2>&1)
[ "$out" = hello ] && pass "echo prints its output" || fail "echo prints its output" "$out"

RUN --rm -- sh -c 'exit 42' >/dev/null 2>&1
rc=$?
[ $rc = 42 ] && pass "exit code propagates" || fail "exit code propagates" "got $rc"

out=$(RUN --rm -- cat /etc/motd 2>&1)
[ "$out" = upper-layer ] && pass "layers stack" || fail "layers stack" "$out"

RUN --name logs -- sh -c 'echo one; echo two >&2; printf partial' >/dev/null 2>&1
log=$DATA/logs/kc-runtime/logs/0.log
if grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z stdout F one$' "$log" &&
	grep -q ' stderr F two$' "$log" && grep -q ' stdout F partial$' "$log"; then
	pass "CRI log format"
else
	fail "CRI log format" "$(cat "$log" 2>&1)"
fi
st=$(R state logs)
echo "$st" | grep -q '"status":"exited"' && echo "$st" | grep -q '"reason":"Completed"' &&
	echo "$st" | grep -Eq '"finishedAt":"[0-9T:.-]+Z"' && pass "state after exit" ||
	fail "state after exit" "$st"
R rm logs

RUN --name oom --memory 32Mi -- sh -c 'x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while :; do x=$x$x; done' >/dev/null 2>&1
rc=$?
st=$(R state oom)
[ $rc = 137 ] && echo "$st" | grep -q '"oomKilled":true' && echo "$st" | grep -q '"reason":"OOMKilled"' &&
	pass "memory limit: OOMKilled" || fail "memory limit: OOMKilled" "rc=$rc $st"
R rm oom

out=$(RUN --rm --pids-limit 4 -- sh -c 'for i in 1 2 3 4 5 6; do sleep 2 & done 2>&1; wait' 2>&1)
echo "$out" | grep -q "can't fork" && pass "pids limit" || fail "pids limit" "$out"

out=$(RUN --rm -- grep CapEff /proc/self/status)
[ "$out" = "CapEff:	00000000a80425fb" ] && pass "Docker's default capabilities" ||
	fail "Docker's default capabilities" "$out"
out=$(RUN --rm --cap-drop ALL --cap-add NET_BIND_SERVICE -- grep CapEff /proc/self/status)
[ "$out" = "CapEff:	0000000000000400" ] && pass "cap drop ALL, add one" || fail "cap drop ALL, add one" "$out"

out=$(RUN --rm -- sh -c 'unshare -m true 2>/dev/null; echo $?; wc -c </proc/keys; touch /proc/sysrq-trigger 2>/dev/null; echo $?')
[ "$(echo $out)" = "1 0 1" ] && pass "seccomp, masked and read-only paths" ||
	fail "seccomp, masked and read-only paths" "$out"

out=$(RUN --rm --read-only -- sh -c 'touch /x 2>&1; echo ok >/dev/shm/y && cat /dev/shm/y')
echo "$out" | grep -q "Read-only file system" && echo "$out" | grep -q '^ok$' &&
	pass "read-only root filesystem" || fail "read-only root filesystem" "$out"

out=$(RUN --rm --user 1000 -- sh -c 'id; echo $HOME; grep CapEff /proc/self/status')
echo "$out" | grep -q 'uid=1000(user) gid=1000(user) groups=2000(extra)' &&
	echo "$out" | grep -q '^/home/user$' && echo "$out" | grep -q 'CapEff:	0000000000000000' &&
	pass "user switching" || fail "user switching" "$out"
out=$(RUN --rm --user nobody --group 2000 -- id)
[ "$out" = "uid=65534(nobody) gid=2000(extra)" ] && pass "user by name, runAsGroup" ||
	fail "user by name, runAsGroup" "$out"

out=$(RUN --rm -- nosuchcmd 2>&1)
rc=$?
[ $rc = 128 ] && echo "$out" | grep -q 'StartError: exec: "nosuchcmd": executable file not found in \$PATH' &&
	pass "missing executable: StartError" || fail "missing executable: StartError" "rc=$rc $out"
out=$(RUN --rm --user ghost -- id 2>&1)
echo "$out" | grep -q 'CreateContainerError: unable to find user ghost' &&
	pass "unknown user: CreateContainerError" || fail "unknown user: CreateContainerError" "$out"
out=$(RUN --rm --run-as-non-root -- id 2>&1)
echo "$out" | grep -q 'CreateContainerConfigError: container has runAsNonRoot and image will run as root' &&
	pass "runAsNonRoot" || fail "runAsNonRoot" "$out"

out=$(RUN -d --name web -- sh -c 'trap "echo bye; exit 7" TERM; while :; do sleep 0.1; done' 2>&1)
[ "$out" = web ] && pass "detached run" || fail "detached run" "$out"
out=$(R exec web -- sh -c 'hostname; cat /proc/1/cmdline | tr "\0" " "; exit 3')
rc=$?
[ $rc = 3 ] && echo "$out" | grep -q '^web$' && echo "$out" | grep -q 'trap' &&
	pass "exec into a running container" || fail "exec into a running container" "rc=$rc $out"
out=$(echo piped | R exec web -- cat)
[ "$out" = piped ] && pass "exec stdin" || fail "exec stdin" "$out"
out=$(R exec web -- nosuch 2>&1)
echo "$out" | grep -q 'executable file not found' && pass "exec of a missing command" ||
	fail "exec of a missing command" "$out"

# kc dies (kill -9) while a container runs: the shim keeps it, a new kc sees it
bg_start "$T_TMP/fg.out" "$KC" runtime --data-dir "$DATA" run --cgroup-top "$TOP" \
	--rootfs-layers "$LAYER" --name survivor -- sh -c 'while :; do sleep 0.1; done'
wait_for 5 sh -c "'$KC' runtime --data-dir '$DATA' state survivor | grep -q running"
kill -KILL "$T_LAST_PID"
sleep 0.2
st=$(R state survivor)
echo "$st" | grep -q '"status":"running"' && echo "$st" | grep -q '"shimAlive":true' &&
	pass "container survives kc (kill -9) and is adopted" || fail "container survives kc" "$st"
R kill --signal 9 survivor
wait_for 5 sh -c "'$KC' runtime --data-dir '$DATA' state survivor | grep -q exited"
st=$(R state survivor)
echo "$st" | grep -q '"exitCode":137' && pass "kill -9 recorded as 137" || fail "kill -9 recorded" "$st"

start=$(date +%s%N)
R kill --grace 5 web
st=$(R state web)
ms=$((($(date +%s%N) - start) / 1000000))
echo "$st" | grep -q '"exitCode":7' && [ $ms -lt 3000 ] && pass "kill with grace: SIGTERM handled" ||
	fail "kill with grace: SIGTERM handled" "$ms ms $st"
RUN -d --name stubborn -- sh -c 'trap "" TERM; while :; do sleep 0.1; done' >/dev/null
start=$(date +%s%N)
R kill --grace 1 stubborn
ms=$((($(date +%s%N) - start) / 1000000))
st=$(R state stubborn)
echo "$st" | grep -q '"exitCode":137' && [ $ms -ge 900 ] && pass "kill with grace: SIGKILL after the grace period" ||
	fail "kill with grace: SIGKILL after the grace period" "$ms ms $st"

out=$(RUN --rm --tty -- sh -c 'test -t 0 && test -t 1 && stty size' 2>&1)
echo "$out" | grep -Eq '^[0-9]+ [0-9]+' && pass "tty" || fail "tty" "$out"

# Devices: v1 writes devices.allow; cgroup2 has no devices controller, so an eBPF program goes on
# the container's cgroup. On hybrid machines --cgroup-root <the cgroup2 mount> puts a container on
# cgroup2 (it then gets a cgroup namespace: "0::/"). The container makes nodes in its own /dev:
# 1:5 (zero) is allowed, 10:237 (loop-control) is not.
devices() { # NAME ROOT_FLAGS...
	name=$1
	shift
	out=$(RUN --rm "$@" -- sh -c 'head -c1 /dev/zero | wc -c; mknod /dev/z2 c 1 5 &&
		head -c1 /dev/z2 | wc -c; mknod /dev/lc c 10 237 && head -c0 /dev/lc 2>&1; echo "rc=$?";
		grep -c "^0::/$" /proc/self/cgroup' 2>&1)
	echo "$out" | head -n 4 | tr '\n' ' ' |
		grep -qx "1 1 head: /dev/lc: Operation not permitted rc=1 " &&
		pass "$name: allowed devices open, others fail with EPERM" ||
		fail "$name: allowed devices open, others fail with EPERM" "$out"
	DEV_NS=$(echo "$out" | tail -n 1)
}
V2=
for r in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	[ "$(stat -f -c %T "$r" 2>/dev/null)" = cgroup2fs ] && V2=$r && break
done
if ! head -c0 /dev/loop-control 2>/dev/null; then
	echo "skip devices: the host cannot open /dev/loop-control"
elif [ -z "$V2" ]; then
	devices "devices (cgroup v1)"
else
	[ "$V2" = /sys/fs/cgroup/unified ] && devices "devices (cgroup v1)"
	devices "devices (cgroup v2)" --cgroup-root "$V2"
	[ "$DEV_NS" = 1 ] && pass "devices (cgroup v2): the container's cgroup is on cgroup2" ||
		fail "devices (cgroup v2): the container's cgroup is on cgroup2" "$DEV_NS"
	left=$(find "$V2" -path "*/$TOP/*" -name "*-0" -type d 2>/dev/null)
	[ -z "$left" ] && pass "devices (cgroup v2): container cgroup removed" ||
		fail "devices (cgroup v2): container cgroup removed" "$left"
fi

# Privileged: every capability kc itself may pass on (its bounding set, which a supervisor may
# have narrowed), and no device restriction.
out=$(RUN --rm --privileged -- sh -c 'grep ^CapEff /proc/self/status; mknod /dev/lc c 10 237 &&
	head -c0 /dev/lc && echo opened' 2>&1)
want=$(awk '/^CapBnd/ { print $2 }' /proc/self/status)
echo "$out" | grep -q "^CapEff:.*$want" && echo "$out" | grep -qx opened &&
	pass "privileged: kc's whole bounding set, devices unrestricted" ||
	fail "privileged: kc's whole bounding set, devices unrestricted" "$out (CapBnd $want)"

for n in web survivor stubborn; do R rm -f $n; done
leftover=$(ls -d "$DATA"/pods/*/containers/* 2>/dev/null)
[ -z "$leftover" ] && pass "rm removes container dirs" || fail "rm removes container dirs" "$leftover"
procs=$(find /sys/fs/cgroup -path "*/$TOP/*" -name cgroup.procs -exec cat {} + 2>/dev/null)
[ -z "$procs" ] && pass "no process left in kc's cgroups" || fail "no process left" "$procs"
left=$(find /sys/fs/cgroup -path "*/$TOP/*/pod*" -type d 2>/dev/null)
[ -z "$left" ] && pass "no pod cgroup left" || fail "no pod cgroup left" "$left"
# (other tests may mount things meanwhile: look for ours, not at the count)
leaked=$(grep -e "$T_TMP" -e "kc-runtime/containers" /proc/self/mountinfo)
[ -z "$leaked" ] && pass "no mount leaked" || fail "no mount leaked" "$leaked"
shims=$(ps -eo pid,args | grep "[k]c shim --dir $DATA" || true)
[ -z "$shims" ] && pass "no shim left" || fail "no shim left" "$shims"

t_finish
