#!/bin/sh
# bench_scheduler.sh - scheduler throughput: kc server --role=all, NODES fake Nodes (Ready, 32
# cpu / 128Gi / 110 pods each) created through the API, then PODS pods (100m / 128Mi) created
# as fast as the API takes them; reports pods bound per second, from the first create to the
# last pod with spec.nodeName, observed through a watch. Usage: bench_scheduler.sh [NODES] [PODS]
# Run from the repository root (KC=path to the binary, default ./kc).
set -eu
NODES=${1:-1000}
PODS=${2:-3000}
KC=${KC:-$(pwd)/kc}
T=$(mktemp -d /tmp/kc-bsched.XXXXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
API=$(port)
"$KC" server --role=all --disable-agent --data-dir "$T/d" --api-port "$API" --store-port "$(port)" \
	--peer-port "$(port)" --kubelet-port "$(port)" --log-level warn >"$T/kc.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$T"' EXIT INT TERM
for i in $(seq 100); do [ -f "$T/d/tls/admin.token" ] && curl -sk "https://127.0.0.1:$API/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
python3 - "$API" "$T/d/tls/admin.token" "$NODES" "$PODS" "$PID" <<'PY'
import json, ssl, sys, threading, time, http.client
api, tokfile, nodes, pods, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
tok = open(tokfile).read().strip()
ctx = ssl._create_unverified_context()
H = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
def conn(): return http.client.HTTPSConnection("127.0.0.1", api, context=ctx, timeout=120)
def run(n, fn, workers=32):
    def w(k):
        c = conn()
        for i in range(k, n, workers): fn(c, i)
    ts = [threading.Thread(target=w, args=(k,)) for k in range(workers)]
    [t.start() for t in ts]; [t.join() for t in ts]
def req(c, m, p, b):
    c.request(m, p, json.dumps(b), H); r = c.getresponse(); d = r.read()
    if r.status >= 300: raise SystemExit("%s %s: %d %s" % (m, p, r.status, d[:200]))
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
def mknode(c, i):
    name = "bench-%04d" % i
    req(c, "POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
    st = {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}, "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
          "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}
    c.request("PATCH", "/api/v1/nodes/%s/status" % name, json.dumps({"status": st}), dict(H, **{"Content-Type": "application/merge-patch+json"}))
    r = c.getresponse(); r.read()
t0 = time.time(); run(nodes, mknode); print("nodes created: %d in %.1fs" % (nodes, time.time() - t0))
time.sleep(2)
bound = set(); done = threading.Event(); start = [0.0]
def watch():
    c = conn()
    c.request("GET", "/api/v1/namespaces/default/pods?watch=1&labelSelector=bench%3Dsched", headers=H)
    r = c.getresponse(); buf = b""
    while not done.is_set():
        chunk = r.read1(65536) if hasattr(r, "read1") else r.read(1)
        if not chunk: break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            ev = json.loads(line); o = ev.get("object", {})
            if o.get("spec", {}).get("nodeName"):
                bound.add(o["metadata"]["name"])
                if len(bound) >= pods: done.set(); return
wt = threading.Thread(target=watch, daemon=True); wt.start(); time.sleep(0.5)
def mkpod(c, i):
    req(c, "POST", "/api/v1/namespaces/default/pods", {"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "bench-%05d" % i, "labels": {"bench": "sched"}},
        "spec": {"containers": [{"name": "c", "image": "kc.test/x", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}})
t0 = time.time(); run(pods, mkpod); tc = time.time() - t0
done.wait(600); t1 = time.time() - t0
rss = 0
for l in open("/proc/%s/status" % pid):
    if l.startswith("VmRSS"): rss = int(l.split()[1]) // 1024
print("pods created: %d in %.1fs (%.0f/s)" % (pods, tc, pods / tc))
print("pods bound:   %d in %.1fs -> %.0f pods/s (target >= 100 pods/s on %d nodes)" % (len(bound), t1, len(bound) / t1, nodes))
print("kc RSS after: %d MB" % rss)
PY
