#!/bin/sh
# bench_binary.sh - size of the static, stripped ./kc and the time `kc version` takes
# (median of 200 runs, measured in one python process to keep fork/exec overhead honest).
cd "$(dirname "$0")/../.." || exit 1
size=$(stat -c %s kc)
echo "binary: kc size $size bytes ($(awk "BEGIN{printf \"%.2f\", $size/1048576}") MiB), goal <= 6 MiB"
python3 - <<'PY'
import subprocess, time, statistics
runs = []
for _ in range(200):
    t = time.perf_counter()
    subprocess.run(["./kc", "version"], stdout=subprocess.DEVNULL, check=True)
    runs.append((time.perf_counter() - t) * 1000)
runs.sort()
print("binary: kc version median %.2f ms, p90 %.2f ms over 200 runs (goal <= 5 ms)"
      % (statistics.median(runs), runs[int(len(runs) * 0.9)]))
# the same measurement for /bin/true: the floor of fork+exec on this machine
runs = []
for _ in range(200):
    t = time.perf_counter()
    subprocess.run(["/bin/true"], stdout=subprocess.DEVNULL, check=True)
    runs.append((time.perf_counter() - t) * 1000)
print("binary: /bin/true median %.2f ms (process start floor)" % statistics.median(runs))
PY
