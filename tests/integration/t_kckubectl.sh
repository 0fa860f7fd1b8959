# t_kckubectl.sh - the built-in client `kc kubectl` against `kc server --role=all`, the way a
# user on a box without kubectl drives it: get (Table, -o yaml/json/name/jsonpath, -A, -l),
# create/apply (created, configured, unchanged, a container removed)/replace/delete -f with a
# multi-document manifest, label, annotate, patch, scale, describe, rollout restart,
# api-resources, errors that name the manifest's line. Then a restart of the server keeps
# every object and starts cleanly (the default objects exist already).
. tests/integration/lib.sh

D=$T_TMP/data
API=$(free_port)
PORTS="--api-port $API --store-port $(free_port) --peer-port $(free_port) --kubelet-port $(free_port)"
# shellcheck disable=SC2086
bg_start "$T_TMP/kc.log" "$KC" server --role=all --disable-agent --data-dir "$D" $PORTS
KPID=$T_LAST_PID
if wait_for 15 curl -fsS --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/readyz"; then pass "server up"
else fail "server up" "$(cat "$T_TMP/kc.log")"; fi
K() { KUBECONFIG=$D/kubeconfig "$KC" kubectl "$@"; }
# same NAME GOT WANT
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got [$2] wanted [$3]"; fi; }

cat >"$T_TMP/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.24
        env: [{name: A, value: "1"}]
      - name: sidecar
        image: busybox
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {tier: conf}}
data: {a: "1"}
YAML

out=$(K apply -f "$T_TMP/app.yaml" 2>&1)
same "apply creates both" "$out" "deployment.apps/web created
configmap/cfg created"
out=$(K apply -f "$T_TMP/app.yaml" 2>&1)
same "apply again: unchanged" "$out" "deployment.apps/web unchanged
configmap/cfg unchanged"
sed -i 's/replicas: 2/replicas: 3/; s/nginx:1.24/nginx:1.25/; /name: sidecar/d; /image: busybox/d; /env:/d' "$T_TMP/app.yaml"
out=$(K apply -f "$T_TMP/app.yaml" 2>&1)
same "apply a change: configured" "$out" "deployment.apps/web configured
configmap/cfg unchanged"
out=$(K get deploy web -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[*].name} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env} {.metadata.generation}')
same "apply removed the sidecar and the env, bumped generation" "$out" "3 app nginx:1.25  2"

out=$(K get deploy 2>&1)
case $out in "NAME   READY   UP-TO-DATE   AVAILABLE   AGE"*"web    0/3"*) pass "get: the server's Table columns" ;; *) fail "get: the server's Table columns" "$out" ;; esac
out=$(K get deploy -o wide 2>&1 | head -1)
case $out in *"CONTAINERS   IMAGES"*"SELECTOR") pass "get -o wide adds the wide columns" ;; *) fail "get -o wide" "$out" ;; esac
out=$(K get ns -A --no-headers 2>&1 | wc -l)
[ "$out" -ge 4 ] && pass "get ns: the default namespaces" || fail "get ns" "$out"
out=$(K get cm -l tier=conf -o name 2>&1)
same "get -l -o name" "$out" "configmap/cfg"
out=$(K get cm cfg -o yaml 2>&1)
case $out in "apiVersion: v1"*"data:"*"  a: \"1\""*"kind: ConfigMap"*) pass "get -o yaml, keys sorted" ;; *) fail "get -o yaml" "$out" ;; esac
out=$(K get cm -o json 2>&1 | python3 -c 'import json,sys; l=json.load(sys.stdin); print(l["kind"], l["items"][0]["kind"], l["items"][0]["apiVersion"])')
same "get -o json: a List with kind on items" "$out" "List ConfigMap v1"
out=$(K get pods -n kube-public 2>&1)
same "empty list message" "$out" "No resources found in kube-public namespace."
out=$(K get deploy,cm 2>&1)
case $out in *"deployment.apps/web"*"configmap/cfg"*) pass "get of two types prefixes names" ;; *) fail "get of two types" "$out" ;; esac

same "label" "$(K label cm cfg color=blue 2>&1)" "configmap/cfg labeled"
expect_exit "label without --overwrite refuses a change" 1 K label cm cfg color=red
same "label --overwrite" "$(K label cm cfg color=red --overwrite 2>&1)" "configmap/cfg labeled"
same "annotate" "$(K annotate cm cfg note=x 2>&1)" "configmap/cfg annotated"
same "label removal" "$(K label cm cfg color- 2>&1)" "configmap/cfg labeled"
same "labels now" "$(K get cm cfg -o jsonpath='{.metadata.labels}')" '{"tier":"conf"}'
same "patch merge" "$(K patch cm cfg --type merge -p '{"data":{"b":"2"}}' 2>&1)" "configmap/cfg patched"
same "patch json" "$(K patch cm cfg --type json -p '[{"op":"remove","path":"/data/a"}]' 2>&1)" "configmap/cfg patched"
same "patch strategic, no change" "$(K patch cm cfg -p '{"data":{"b":"2"}}' 2>&1)" "configmap/cfg patched (no change)"
same "data after patches" "$(K get cm cfg -o jsonpath='{.data}')" '{"b":"2"}'
same "scale" "$(K scale deployment web --replicas=5 2>&1)" "deployment.apps/web scaled"
same "scaled" "$(K get deploy web -o jsonpath='{.spec.replicas}')" "5"
same "rollout restart" "$(K rollout restart deployment/web 2>&1)" "deployment.apps/web restarted"
out=$(K get deploy web -o jsonpath='{.spec.template.metadata.annotations}')
case $out in *kubectl.kubernetes.io/restartedAt*) pass "restart annotation set" ;; *) fail "restart annotation set" "$out" ;; esac
out=$(K describe cm cfg 2>&1)
case $out in "Name:"*"cfg"*"Namespace:"*"default"*"Labels:"*"tier=conf"*"Data:"*"Events:"*) pass "describe" ;; *) fail "describe" "$out" ;; esac
out=$(K api-resources 2>&1)
case $out in *"deployments   "*"deploy"*"apps/v1"*"true"*"Deployment"*) pass "api-resources" ;; *) fail "api-resources" "$out" ;; esac

# errors: a bad manifest names its line and column; unknown types and names are rc 1
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n' >"$T_TMP/bad.yaml"
out=$(K create -f "$T_TMP/bad.yaml" 2>&1)
rc=$?
case "$rc $out" in "1 error: error parsing "*"bad.yaml: yaml: line "*"column"*) pass "bad manifest: file, line and column" ;; *) fail "bad manifest" "$rc $out" ;; esac
out=$(K get nosuchthing 2>&1)
same "unknown type" "$out" 'error: the server doesn'"'"'t have a resource type "nosuchthing"'
out=$(K get cm nope 2>&1)
same "not found" "$out" 'Error from server (NotFound): configmaps "nope" not found'
expect_exit "usage error: exit 2" 2 K get cm --bogus-flag
out=$(K create -f "$T_TMP/app.yaml" 2>&1)
case $out in *"Error from server (AlreadyExists)"*) pass "create of an existing object" ;; *) fail "create of an existing object" "$out" ;; esac

# replace and delete with the same manifest
sed -i 's/replicas: 3/replicas: 1/' "$T_TMP/app.yaml"
out=$(K replace -f "$T_TMP/app.yaml" 2>&1)
same "replace" "$out" "deployment.apps/web replaced
configmap/cfg replaced"

# restart: objects survive and the default objects do not block the start
kill -TERM "$KPID"
i=0; while kill -0 "$KPID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
# shellcheck disable=SC2086
bg_start "$T_TMP/kc2.log" "$KC" server --role=all --disable-agent --data-dir "$D" $PORTS
if wait_for 15 curl -fsS --cacert "$D/tls/ca.crt" "https://127.0.0.1:$API/readyz"; then pass "restart: server up again"
else fail "restart: server up again" "$(cat "$T_TMP/kc2.log")"; fi
same "restart: objects kept" "$(K get deploy web -o jsonpath='{.spec.replicas}' 2>&1)" "1"
same "restart: kubernetes service kept" "$(K get svc kubernetes -o jsonpath='{.spec.clusterIP}' 2>&1)" "10.43.0.1"

out=$(K delete -f "$T_TMP/app.yaml" 2>&1)
same "delete -f" "$out" 'deployment.apps "web" deleted
configmap "cfg" deleted'
expect_exit "deleted: not found" 1 K get cm cfg
t_finish
