"""podstart.py KUBECONFIG MODE ... - pod start-up figures through the API, as a user sees them.

  ready NODE TIMEOUT_S       prints "polling" once loaded, waits for KUBECONFIG to appear,
                             then polls Node NODE every 10 ms and prints the wall-clock moment
                             it is Ready (the caller starts kc after "polling")
  seq N IMAGE [NODE]         N pods one after the other: create -> Running, each measured from
                             just before the create call to the watch event that shows the pod
                             Running (the kubelet's pod start-up SLI, image present)
  burst N IMAGE [NODE]       N pods created at once (one thread each): time until all Running

Prints RESULT lines (then keeps the pods PODSTART_HOLD seconds, for RSS samples); exits non-zero when a pod does not reach Running in 120 s. Pods are
created in namespace "default" with label bench=podstart and deleted at the end.
"""
import os
import sys
import threading
import time

from kubernetes import client, config, watch

NS = "default"
LABEL = "bench=podstart"


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def pod(name, image, node):
    spec = {
        "containers": [{"name": "c", "image": image, "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", "sleep 3600"]}],
        "terminationGracePeriodSeconds": 0,
    }
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"bench": "podstart"}}, "spec": spec}


class Watcher(threading.Thread):
    """Records the first moment each pod is seen Running."""

    def __init__(self, v1):
        super().__init__(daemon=True)
        self.v1 = v1
        self.running = {}
        self.cv = threading.Condition()
        self.ready = threading.Event()

    def run(self):
        w = watch.Watch()
        rv = self.v1.list_namespaced_pod(NS, label_selector=LABEL).metadata.resource_version
        self.ready.set()
        while True:
            for ev in w.stream(self.v1.list_namespaced_pod, NS, label_selector=LABEL,
                               resource_version=rv, timeout_seconds=300):
                now = time.monotonic()
                o = ev["object"]
                rv = o.metadata.resource_version
                if o.status and o.status.phase == "Running":
                    with self.cv:
                        self.running.setdefault(o.metadata.name, now)
                        self.cv.notify_all()

    def wait(self, names, timeout):
        end = time.monotonic() + timeout
        with self.cv:
            while not all(n in self.running for n in names):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
        return True


def cleanup(v1):
    v1.delete_collection_namespaced_pod(NS, label_selector=LABEL, grace_period_seconds=0)
    end = time.monotonic() + 120
    while v1.list_namespaced_pod(NS, label_selector=LABEL).items and time.monotonic() < end:
        time.sleep(0.2)


def main():
    mode = sys.argv[2]
    if mode == "ready":
        # started before kc (imports take a while): says so, then waits for the kubeconfig
        node, limit = sys.argv[3], float(sys.argv[4])
        print("polling", flush=True)
        end = time.monotonic() + limit
        while not os.path.exists(sys.argv[1]) and time.monotonic() < end:
            time.sleep(0.005)
        time.sleep(0.01)  # written atomically, but give the CA files beside it a moment
        config.load_kube_config(sys.argv[1])
        v1 = client.CoreV1Api()
        while time.monotonic() < end:
            try:
                n = v1.read_node(node)
                for c in n.status.conditions or []:
                    if c.type == "Ready" and c.status == "True":
                        print("RESULT node_ready_at %.3f" % time.time())
                        return 0
            except Exception:
                pass
            time.sleep(0.01)
        print("node %s not Ready in %.0f s" % (node, limit))
        return 1

    n, image = int(sys.argv[3]), sys.argv[4]
    # one pooled connection per creating thread (urllib3 keeps 4 by default and would open,
    # and TLS-handshake, a new one for most of a burst's creates: the client's time, not kc's)
    cfg = client.Configuration()
    config.load_kube_config(sys.argv[1], client_configuration=cfg)
    cfg.connection_pool_maxsize = max(4, n)
    v1 = client.CoreV1Api(client.ApiClient(cfg))
    node = sys.argv[5] if len(sys.argv) > 5 else None
    w = Watcher(v1)
    w.start()
    w.ready.wait()
    rc = 0
    try:
        if mode == "seq":
            lat = []
            for i in range(n):
                name = "ps-%d" % i
                t0 = time.monotonic()
                v1.create_namespaced_pod(NS, pod(name, image, node))
                if not w.wait([name], 120):
                    print("pod %s not Running in 120 s" % name)
                    return 1
                lat.append((w.running[name] - t0) * 1000)
            print("RESULT pod_start_ms n=%d p50 %.1f p90 %.1f p99 %.1f max %.1f"
                  % (n, pct(lat, 50), pct(lat, 90), pct(lat, 99), max(lat)))
        elif mode == "burst":
            names = ["pb-%d" % i for i in range(n)]
            errs = []

            def create(name):
                try:
                    v1.create_namespaced_pod(NS, pod(name, image, node))
                except Exception as e:  # reported below
                    errs.append("%s: %s" % (name, e))

            # open the connections first (n concurrent cheap reads), so that the timed creates
            # measure kc
            warm = [threading.Thread(target=lambda: v1.read_namespace(NS)) for _ in names]
            for t in warm:
                t.start()
            for t in warm:
                t.join()
            threads = [threading.Thread(target=create, args=(nm,)) for nm in names]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            created = time.monotonic()
            if errs or not w.wait(names, 120):
                print("burst: %s" % (errs[:3] or "not all Running in 120 s"))
                return 1
            last = max(w.running[nm] for nm in names)
            print("RESULT burst_all_running_ms n=%d %.1f (the creates themselves: %.1f)"
                  % (n, (last - t0) * 1000, (created - t0) * 1000))
        else:
            print("unknown mode " + mode)
            rc = 2
    finally:
        sys.stdout.flush()
        time.sleep(float(os.environ.get("PODSTART_HOLD", "0")))
        cleanup(v1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
