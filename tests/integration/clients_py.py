"""clients_py.py KUBECONFIG - the core flows with the Python `kubernetes` client against kc.

Prints one line per check, "ok NAME" or "FAIL NAME: WHY"; t_clients.sh counts them. Exits
non-zero only when the script itself breaks (an unexpected exception outside a check).
"""
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

NS = "default"
failures = 0


def ok(name):
    print("ok " + name, flush=True)


def fail(name, why):
    global failures
    failures += 1
    why = " ".join(str(why).split())[:400]
    print("FAIL %s: %s" % (name, why), flush=True)


def check(name, fn):
    """Runs fn(); a falsy result or an exception is a failure."""
    try:
        r = fn()
    except ApiException as e:
        fail(name, "ApiException %s %s %s" % (e.status, e.reason, e.body))
        return None
    except Exception as e:  # noqa: BLE001 - every error is a test failure here
        fail(name, "%s: %s" % (type(e).__name__, e))
        return None
    if r is False:
        fail(name, "check was false")
    else:
        ok(name)
    return r


def expect(cond, what):
    if not cond:
        raise AssertionError(what)
    return True


def expect_status(name, status, fn):
    try:
        fn()
    except ApiException as e:
        if e.status == status:
            ok(name)
        else:
            fail(name, "status %s, wanted %s: %s" % (e.status, status, e.body))
        return
    except Exception as e:  # noqa: BLE001
        fail(name, "%s: %s" % (type(e).__name__, e))
        return
    fail(name, "no error, wanted %s" % status)


class Watcher:
    """Collects (type, name) from a watch stream in a thread until stopped or timed out."""

    def __init__(self, list_fn, **kw):
        self.events = []
        self.error = None
        self.w = watch.Watch()
        self.started = threading.Event()
        self.t = threading.Thread(target=self._run, args=(list_fn,), kwargs=kw, daemon=True)
        self.t.start()

    def _run(self, list_fn, **kw):
        try:
            self.started.set()
            for ev in self.w.stream(list_fn, **kw):
                self.events.append((ev["type"], ev["object"].metadata.name))
        except Exception as e:  # noqa: BLE001
            self.error = e

    def wait_for(self, typ, name, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            if (typ, name) in self.events:
                return True
            if self.error is not None or not self.t.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError("no %s %s in %s (error %r)" % (typ, name, self.events, self.error))

    def stop(self):
        self.w.stop()


def cm_body(name, data, labels=None):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}), data=data)


def deploy_body(name, image, replicas):
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[
                    client.V1Container(name="app", image=image,
                                       ports=[client.V1ContainerPort(container_port=80)])]))))


def main():
    config.load_kube_config(config_file=sys.argv[1])
    core = client.CoreV1Api()
    apps = client.AppsV1Api()

    def list_ns():
        names = [n.metadata.name for n in core.list_namespace().items]
        return expect({"default", "kube-system", "kube-public"} <= set(names), names)
    check("list namespaces", list_ns)

    def version():
        v = client.VersionApi().get_code()
        return expect(v.major == "1" and v.git_version.startswith("v1."), v)
    check("version", version)

    # watches started before the changes they must see
    cmw = Watcher(core.list_namespaced_config_map, namespace=NS, label_selector="py=yes",
                  timeout_seconds=30)
    podw = Watcher(core.list_namespaced_pod, namespace=NS, label_selector="py=pod",
                   timeout_seconds=30)
    cmw.started.wait(5)
    podw.started.wait(5)
    time.sleep(0.5)

    def create_cm():
        cm = core.create_namespaced_config_map(NS, cm_body("py-cm", {"a": "1"}, {"py": "yes"}))
        return expect(cm.metadata.uid and cm.metadata.resource_version and cm.data == {"a": "1"}, cm)
    check("create configmap", create_cm)

    def create_deploy():
        d = apps.create_namespaced_deployment(NS, deploy_body("py-deploy", "nginx:1.25", 2))
        return expect(d.metadata.generation == 1 and d.spec.replicas == 2
                      and d.spec.strategy.type == "RollingUpdate", d)
    check("create deployment (AppsV1Api)", create_deploy)

    def read_cm():
        cm = core.read_namespaced_config_map("py-cm", NS)
        return expect(cm.data["a"] == "1" and cm.metadata.labels["py"] == "yes", cm)
    check("read configmap", read_cm)

    def read_deploy():
        d = apps.read_namespaced_deployment("py-deploy", NS)
        c = d.spec.template.spec.containers[0]
        return expect(c.image == "nginx:1.25" and c.ports[0].container_port == 80
                      and d.spec.selector.match_labels == {"app": "py-deploy"}, d)
    check("read deployment", read_deploy)

    def list_sel():
        core.create_namespaced_config_map(NS, cm_body("py-other", {"x": "y"}, {"py": "no"}))
        yes = [c.metadata.name for c in
               core.list_namespaced_config_map(NS, label_selector="py=yes").items]
        no = [c.metadata.name for c in
              core.list_namespaced_config_map(NS, label_selector="py!=yes,py").items]
        allns = [c.metadata.name for c in
                 core.list_config_map_for_all_namespaces(label_selector="py in (yes)").items]
        return expect(yes == ["py-cm"] and no == ["py-other"] and allns == ["py-cm"], (yes, no, allns))
    check("list with label_selector", list_sel)

    def list_deploy():
        lst = apps.list_namespaced_deployment(NS, label_selector="app=py-deploy")
        return expect([d.metadata.name for d in lst.items] == ["py-deploy"]
                      and lst.metadata.resource_version, lst.metadata)
    check("list deployments", list_deploy)

    # patches: strategic (the default for the generated client's dict bodies), merge
    def patch_strategic():
        body = {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1.26"}]}}}}
        d = apps.patch_namespaced_deployment("py-deploy", NS, body)
        c = d.spec.template.spec.containers
        return expect(len(c) == 1 and c[0].image == "nginx:1.26" and c[0].ports[0].container_port == 80
                      and d.metadata.generation == 2, d.spec.template.spec)
    check("patch deployment (strategic merge)", patch_strategic)

    def patch_merge():
        # client 22.6 sends a dict as strategic-merge-patch+json and has no _content_type
        # argument; a client whose default Content-Type header wins sends merge-patch+json
        mc = client.ApiClient(header_name="Content-Type", header_value="application/merge-patch+json")
        cm = client.CoreV1Api(mc).patch_namespaced_config_map("py-cm", NS, {"data": {"b": "2"}})
        return expect(cm.data == {"a": "1", "b": "2"}, cm.data)
    check("patch configmap (merge)", patch_merge)

    def patch_json():
        cm = core.patch_namespaced_config_map(
            "py-cm", NS, [{"op": "add", "path": "/data/c", "value": "3"}])
        return expect(cm.data == {"a": "1", "b": "2", "c": "3"}, cm.data)
    check("patch configmap (json patch)", patch_json)

    check("watch configmap ADDED", lambda: cmw.wait_for("ADDED", "py-cm"))
    check("watch configmap MODIFIED", lambda: cmw.wait_for("MODIFIED", "py-cm"))

    def scale():
        s = apps.patch_namespaced_deployment_scale("py-deploy", NS, {"spec": {"replicas": 4}})
        d = apps.read_namespaced_deployment("py-deploy", NS)
        return expect(s.spec.replicas == 4 and d.spec.replicas == 4, (s.spec, d.spec.replicas))
    check("patch deployment scale", scale)

    def replace():
        cm = core.read_namespaced_config_map("py-cm", NS)
        cm.data = {"z": "26"}
        r = core.replace_namespaced_config_map("py-cm", NS, cm)
        return expect(r.data == {"z": "26"}
                      and int(r.metadata.resource_version) > int(cm.metadata.resource_version), r)
    check("replace configmap", replace)

    def replace_stale():
        cm = core.read_namespaced_config_map("py-cm", NS)
        core.patch_namespaced_config_map("py-cm", NS, {"data": {"q": "1"}})
        cm.data = {"stale": "1"}
        core.replace_namespaced_config_map("py-cm", NS, cm)
    expect_status("replace with a stale resourceVersion: 409", 409, replace_stale)

    def replace_deploy():
        # the deployment controller writes the status meanwhile (the scale above): read, change
        # and replace again on a 409, as client-go's RetryOnConflict does
        for attempt in range(10):
            d = apps.read_namespaced_deployment("py-deploy", NS)
            d.spec.replicas = 1
            try:
                r = apps.replace_namespaced_deployment("py-deploy", NS, d)
                break
            except ApiException as e:
                if e.status != 409 or attempt == 9:
                    raise
        return expect(r.spec.replicas == 1, r.spec)
    check("replace deployment", replace_deploy)

    expect_status("read a missing object: 404", 404,
                  lambda: core.read_namespaced_config_map("py-nope", NS))
    expect_status("delete a missing object: 404", 404,
                  lambda: core.delete_namespaced_config_map("py-nope", NS))
    expect_status("create a duplicate: 409", 409,
                  lambda: core.create_namespaced_config_map(NS, cm_body("py-cm", {"a": "1"})))
    expect_status("create a duplicate deployment: 409", 409,
                  lambda: apps.create_namespaced_deployment(NS, deploy_body("py-deploy", "x", 1)))

    def duplicate_body():
        try:
            core.create_namespaced_config_map(NS, cm_body("py-cm", {"a": "1"}))
        except ApiException as e:
            return expect('"reason":"AlreadyExists"' in e.body.replace(" ", "")
                          and 'configmaps \\"py-cm\\" already exists' in e.body, e.body)
        return False
    check("duplicate create: AlreadyExists Status body", duplicate_body)

    # a pod, created, patched and deleted while watched
    def pod_flow():
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="py-pod", labels={"py": "pod"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
        core.create_namespaced_pod(NS, pod)
        podw.wait_for("ADDED", "py-pod")
        core.patch_namespaced_pod("py-pod", NS, {"metadata": {"labels": {"extra": "1"}}})
        podw.wait_for("MODIFIED", "py-pod")
        core.delete_namespaced_pod("py-pod", NS, grace_period_seconds=0)
        podw.wait_for("DELETED", "py-pod")
        return True
    check("watch pods: ADDED, MODIFIED, DELETED", pod_flow)

    def delete_cm():
        st = core.delete_namespaced_config_map("py-cm", NS)
        return expect(st is not None, st)
    check("delete configmap", delete_cm)
    check("watch configmap DELETED", lambda: cmw.wait_for("DELETED", "py-cm"))
    expect_status("deleted configmap is gone: 404", 404,
                  lambda: core.read_namespaced_config_map("py-cm", NS))

    def delete_deploy():
        apps.delete_namespaced_deployment("py-deploy", NS,
                                          body=client.V1DeleteOptions(propagation_policy="Foreground"))
        end = time.time() + 15
        while time.time() < end:
            try:
                apps.read_namespaced_deployment("py-deploy", NS)
            except ApiException as e:
                if e.status == 404:
                    return True
                raise
            time.sleep(0.1)
        raise AssertionError("deployment still present after foreground delete")
    check("delete deployment (foreground propagation)", delete_deploy)
    core.delete_namespaced_config_map("py-other", NS)

    # a watch with timeout_seconds ends by itself
    def watch_timeout():
        t0 = time.time()
        n = 0
        for _ in watch.Watch().stream(core.list_namespaced_config_map, namespace=NS,
                                      label_selector="py=none", timeout_seconds=2):
            n += 1
        dt = time.time() - t0
        return expect(n == 0 and 1.5 <= dt < 8, (n, dt))
    check("watch with timeout_seconds ends", watch_timeout)

    cmw.stop()
    podw.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
