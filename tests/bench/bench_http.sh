#!/bin/sh
# bench_http.sh - kc's HTTP/1.1 server against nginx (Debian package) in the same run:
#  1. requests/s for a small keep-alive GET with `wrk -t2 -c64` on loopback; both serve the same
#     100-byte body (nginx from a file), both with 2 workers; each measured 3 times, alternating,
#     median taken; the ratio kc/nginx is the figure (goal >= 1.0).
#  2. RSS of the idle kc server holding 1,000 open keep-alive connections (goal <= 20 MB).
cd "$(dirname "$0")/../.." || exit 1
set -u
DUR=${BENCH_SECONDS:-8}
BODY_SIZE=100
tmp=$(mktemp -d /tmp/kc-bench.XXXXXX)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; sleep 0.2; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

head -c $BODY_SIZE /dev/zero | tr '\0' 'k' >"$tmp/index.html"
chmod 755 "$tmp"; chmod 644 "$tmp/index.html"

# nginx, configured for a keep-alive benchmark (no logging, unlimited keep-alive requests)
NPORT=$(port)
mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<NGX
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000000;
	keepalive_timeout 120s;
	sendfile on;
	tcp_nopush on;
	client_body_temp_path $tmp/nginx;
	proxy_temp_path $tmp/nginx;
	fastcgi_temp_path $tmp/nginx;
	uwsgi_temp_path $tmp/nginx;
	scgi_temp_path $tmp/nginx;
	server { listen 127.0.0.1:$NPORT; root $tmp; location / { } }
}
NGX
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
pids="$pids $!"

KPORT=$(port)
build/bench/httpd_bench 127.0.0.1 "$KPORT" 2 "$BODY_SIZE" &
KPID=$!
pids="$pids $KPID"
sleep 0.5
curl -fsS "http://127.0.0.1:$NPORT/index.html" | cmp -s - "$tmp/index.html" || { echo "nginx did not serve the file"; exit 1; }
curl -fsS "http://127.0.0.1:$KPORT/index.html" | cmp -s - "$tmp/index.html" || { echo "kc did not serve the body"; exit 1; }

rps() { # url
	wrk -t2 -c64 -d"${DUR}s" --latency "$1" 2>&1 | awk '/Requests\/sec/ {print $2}'
}
k1=$(rps "http://127.0.0.1:$KPORT/index.html"); n1=$(rps "http://127.0.0.1:$NPORT/index.html")
k2=$(rps "http://127.0.0.1:$KPORT/index.html"); n2=$(rps "http://127.0.0.1:$NPORT/index.html")
k3=$(rps "http://127.0.0.1:$KPORT/index.html"); n3=$(rps "http://127.0.0.1:$NPORT/index.html")
python3 - "$k1" "$k2" "$k3" "$n1" "$n2" "$n3" <<'PY'
import sys, statistics
k = [float(x) for x in sys.argv[1:4]]; n = [float(x) for x in sys.argv[4:7]]
km, nm = statistics.median(k), statistics.median(n)
print("http: kc %.0f req/s (runs %s), nginx %.0f req/s (runs %s), ratio kc/nginx %.2f (goal >= 1.0)"
      % (km, ", ".join("%.0f" % x for x in k), nm, ", ".join("%.0f" % x for x in n), km / nm))
PY

# 1,000 idle keep-alive connections
python3 - "$KPORT" "$KPID" <<'PY'
import resource, socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
def rss_kb():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss_kb()
conns = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    conns.append(s)
got = 0
for s in conns:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 100:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    got += data.startswith(b"HTTP/1.1 200")
time.sleep(1.0)
after = rss_kb()
print("idle: %d/1000 keep-alive connections answered and held open; kc RSS %.1f MB "
      "(%.1f MB before them, %.1f KB per connection; goal <= 20 MB)"
      % (got, after / 1024, before / 1024, (after - before) / 1000.0))
for s in conns:
    s.close()
PY
