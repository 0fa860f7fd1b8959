#!/bin/sh
# bench_runtime.sh - per-container start time of kc's runtime beside runc's, in the same run:
# N sequential busybox `echo` containers each (create, start, run to exit, delete), on the same
# busybox-static rootfs; p50/p99 of the wall time of each whole command. Then the shim's RSS and
# PSS while its container runs. Needs root, overlayfs, busybox-static and runc
# (contrib/install-tools.sh bench).
cd "$(dirname "$0")/../.." || exit 1
N=${RUNTIME_BENCH_RUNS:-50}
KC=${KC:-$(pwd)/kc}
if [ "$(id -u)" != 0 ]; then
	echo "runtime: skipped (needs root)"
	exit 0
fi
BB=/bin/busybox
command -v runc >/dev/null 2>&1 || { echo "runtime: skipped (runc missing: contrib/install-tools.sh bench)"; exit 0; }
[ -x "$BB" ] || { echo "runtime: skipped (busybox-static missing)"; exit 0; }
W=$(mktemp -d /tmp/kc-bench-rt.XXXXXX)
TOP=kc-bench-$$
cleanup() {
	for d in "$W"/data/pods/*/containers/*; do
		[ -d "$d" ] && "$KC" runtime --data-dir "$W/data" rm -f "$(basename "$d")" >/dev/null 2>&1
	done
	for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[ -d "$h$TOP" ] && find "$h$TOP" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
mkdir -p "$W/layer/bin" "$W/layer/etc" "$W/bundle"
cp "$BB" "$W/layer/bin/busybox"
for a in $("$BB" --list); do [ "$a" = busybox ] || ln -s busybox "$W/layer/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$W/layer/etc/passwd"
echo 'root:x:0:' >"$W/layer/etc/group"
cp -a "$W/layer" "$W/bundle/rootfs"
(cd "$W/bundle" && runc spec)
python3 - "$W/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["echo", "hi"]
c["root"]["readonly"] = False
json.dump(c, open(p, "w"))
PY
python3 - "$KC" "$W" "$TOP" "$N" <<'PY'
import subprocess, sys, time, os
kc, w, top, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]
def bench(name, mk, count):
    times = []
    for i in range(count):
        cmd = mk(i)
        t = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - t) * 1000)
        if r.returncode != 0 or r.stdout.strip() != b"hi":
            print("runtime: %s failed: %s %s" % (name, r.returncode, r.stderr.decode()[-300:]))
            sys.exit(1)
    return times
kc_cmd = lambda i: [kc, "runtime", "--data-dir", w + "/data", "run", "--cgroup-top", top,
                    "--rootfs-layers", w + "/layer", "--rm", "--name", "b%d" % i, "--", "echo", "hi"]
runc_cmd = lambda i: ["runc", "run", "--bundle", w + "/bundle", "kc-bench-%d-%d" % (os.getpid(), i)]
# one warm-up each, then alternate blocks so that machine noise hits both alike
bench("kc", lambda i: kc_cmd(1000), 1); bench("runc", lambda i: runc_cmd(1000), 1)
k, r = [], []
for b in range(5):
    k += bench("kc", lambda i: kc_cmd(b * n + i), n // 5)
    r += bench("runc", lambda i: runc_cmd(b * n + i), n // 5)
print("runtime: busybox echo container, %d sequential runs each (create+start+exit+delete)" % len(k))
print("runtime: kc   p50 %.1f ms  p99 %.1f ms  (min %.1f)" % (pct(k, 50), pct(k, 99), min(k)))
print("runtime: runc p50 %.1f ms  p99 %.1f ms  (min %.1f)" % (pct(r, 50), pct(r, 99), min(r)))
print("runtime: kc/runc p50 %.2fx  p99 %.2fx" % (pct(k, 50) / pct(r, 50), pct(k, 99) / pct(r, 99)))
PY
[ $? = 0 ] || exit 1
# the shim's memory while its container runs
"$KC" runtime --data-dir "$W/data" run -d --cgroup-top "$TOP" --rootfs-layers "$W/layer" \
	--name mem -- sleep 30 >/dev/null
sleep 0.3
shim=$("$KC" runtime --data-dir "$W/data" state mem | sed -n 's/.*"shimPid":\([0-9]*\).*/\1/p')
if [ -n "$shim" ] && [ -r "/proc/$shim/smaps_rollup" ]; then
	rss=$(awk '/^Rss:/ {print $2}' "/proc/$shim/smaps_rollup")
	pss=$(awk '/^Pss:/ {print $2}' "/proc/$shim/smaps_rollup")
	echo "runtime: shim RSS ${rss} KiB, PSS ${pss} KiB (goal: pod overhead incl. shim <= 1024 KiB)"
fi
"$KC" runtime --data-dir "$W/data" rm -f mem >/dev/null
