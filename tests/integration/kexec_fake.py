#!/usr/bin/env python3
# kexec_fake.py PORT LOGFILE - a fake API server for t_kcexec.sh: just enough of Kubernetes for
# `kubectl exec` (discovery, /version, pods "p" (two containers) and "q" (one), 404 for others)
# and the exec subresource over WebSocket v5.channel.k8s.io: stdin (channel 0) is echoed on
# stdout (1); at the close signal (255, 0) -- or at once without stdin=true -- the command
# writes "to-stderr" on stderr (2) and ends with a Status (3) chosen by argv[0]: "true" succeeds,
# "fail" fails with reason InternalError, anything else exits 3. Every exec request line and
# each resize message is appended to LOGFILE. With tty=true a ^D on stdin also ends the command. Python standard library only.
import base64
import hashlib
import json
import struct
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOG = sys.argv[2]
AGG = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def log(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


def pod(name, containers, annotations=None):
    meta = {"name": name, "namespace": "default", "uid": "u-" + name, "resourceVersion": "1"}
    if annotations:
        meta["annotations"] = annotations
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta,
            "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]},
            "status": {"phase": "Running"}}


PODS = {"p": pod("p", ["a", "b"]), "q": pod("q", ["only"]),
        "d": pod("d", ["a", "b"], {"kubectl.kubernetes.io/default-container": "b"}),
        "x": pod("x", ["a", "b"], {"kubectl.kubernetes.io/default-container": "zz"}),
        "i": pod("i", ["main"])}
PODS["i"]["spec"]["initContainers"] = [{"name": "setup", "image": "busybox"}]

API = {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
       "items": [{"metadata": {"name": ""}, "versions": [{"version": "v1", "freshness": "Current", "resources": [
           {"resource": "pods", "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
            "scope": "Namespaced", "singularResource": "pod", "shortNames": ["po"], "categories": ["all"],
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "subresources": [{"subresource": "exec", "responseKind": {"group": "", "version": "v1",
                              "kind": "PodExecOptions"}, "verbs": ["create", "get"]}]}]}]}]}
APIS = {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": []}
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kc", "gitCommit": "0" * 40,
           "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4",
           "compiler": "gc", "platform": "linux/amd64"}


def status(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, obj, ctype="application/json"):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # kubectl's SPDY fallback
        self.send_json(400, status(400, "BadRequest", "Upgrade request required"))

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.strip("/").split("/")
        if u.path == "/version":
            return self.send_json(200, VERSION)
        if u.path == "/api":
            return self.send_json(200, API, AGG)
        if u.path == "/apis":
            return self.send_json(200, APIS, AGG)
        if len(parts) in (6, 7) and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            name = parts[5]
            if name not in PODS or parts[3] != "default":
                return self.send_json(404, status(404, "NotFound", 'pods "%s" not found' % name,
                                                  {"name": name, "kind": "pods"}))
            if len(parts) == 6:
                return self.send_json(200, PODS[name])
            if parts[6] == "exec":
                return self.exec(urllib.parse.parse_qs(u.query))
        self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))

    # ---- WebSocket ----
    def exec(self, q):
        # decoded, so that "a%20b" (kc) and "a+b" (Go) log alike
        log("exec " + "&".join("%s=%s" % kv for kv in
                               urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)))
        key = self.headers.get("Sec-WebSocket-Key")
        protos = [p.strip() for p in (self.headers.get("Sec-WebSocket-Protocol") or "").split(",")]
        if (self.headers.get("Upgrade") or "").lower() != "websocket" or not key:
            return self.send_json(400, status(400, "BadRequest", "Upgrade request required"))
        if "v5.channel.k8s.io" not in protos:
            return self.send_json(403, status(403, "Forbidden", "v5.channel.k8s.io required"))
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", "v5.channel.k8s.io")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        cmd = q.get("command", [""])
        if q.get("stdin") == ["true"]:
            while True:
                op, data = self.read_msg()
                if op is None or op == 8:
                    return
                if op != 2 or not data:
                    continue
                if data[0] == 0:
                    self.send(b"\x01" + data[1:])
                    if q.get("tty") == ["true"] and b"\x04" in data:
                        break  # a terminal's ^D ends the command
                elif data[0] == 4:
                    log("resize " + data[1:].decode().strip())
                elif data[:2] == b"\xff\x00":
                    break
        else:
            # client-go creates its streams after the upgrade, without telling the server, and
            # drops frames for streams it has not created yet ("Unknown stream id"). A real
            # command takes a while to start; a fake that answers at once races the client.
            time.sleep(0.3)
        self.send(b"\x02to-stderr\n")
        if cmd[0] == "true":
            st = {"metadata": {}, "status": "Success"}
        elif cmd[0] == "fail":
            st = {"metadata": {}, "status": "Failure", "message": "boom: container not running",
                  "reason": "InternalError"}
        else:
            st = {"metadata": {}, "status": "Failure",
                  "message": "command terminated with non-zero exit code: exit status 3",
                  "reason": "NonZeroExitCode",
                  "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
        self.send(b"\x03" + json.dumps(st).encode())
        self.send(struct.pack("!H", 1000), op=8)
        while True:  # wait for the client's close reply
            op, _ = self.read_msg()
            if op is None or op == 8:
                return

    def send(self, payload, op=2):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | op, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | op, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | op, 127, n)
        self.wfile.write(head + payload)
        self.wfile.flush()

    def read_exact(self, n):
        b = self.rfile.read(n)
        if len(b) != n:
            raise EOFError
        return b

    def read_frame(self):
        b0, b1 = self.read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read_exact(8))[0]
        if not b1 & 0x80:
            raise ValueError("unmasked client frame")
        if n > 1 << 24:
            raise ValueError("frame too large")
        mask = self.read_exact(4)
        data = bytes(c ^ mask[i % 4] for i, c in enumerate(self.read_exact(n)))
        return b0 & 0x80, b0 & 0x0F, data

    def read_msg(self):
        """(opcode, payload) of the next data or close message; (None, None) at EOF."""
        try:
            msg, mop = b"", None
            while True:
                fin, op, data = self.read_frame()
                if op == 9:
                    self.send(data, op=10)
                    continue
                if op == 10:
                    continue
                if op == 8:
                    return 8, data
                if op != 0:
                    mop = op
                msg += data
                if fin:
                    return mop, msg
        except (EOFError, ConnectionError, ValueError):
            return None, None


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.daemon_threads = True
    srv.serve_forever()
