# t_kubectl.sh - the real kubectl against `kc server --role=all`: discovery, create/apply/
# get/label/annotate/patch/scale/replace/edit/describe/delete, watch, RBAC answers, tokens,
# and errors as Kubernetes words them.
. tests/integration/lib.sh

if ! command -v kubectl >/dev/null 2>&1; then
	echo "skip t_kubectl.sh: kubectl not installed"
	t_finish
	exit $?
fi

D=$T_TMP/data
API=$(free_port)
# shellcheck disable=SC2046
bg_start "$T_TMP/kc.log" "$KC" server --role=all --disable-agent --data-dir "$D" --api-port "$API" \
	--store-port "$(free_port)" --peer-port "$(free_port)" --kubelet-port "$(free_port)"
KPID=$T_LAST_PID
export KUBECONFIG="$D/kubeconfig" KUBECACHEDIR="$T_TMP/kcache"
k() { kubectl "$@"; }
if wait_for 20 kubectl get --raw /readyz; then pass "server ready"
else fail "server ready" "$(tail -n 20 "$T_TMP/kc.log")"; t_finish; exit 1; fi

out=$(k version 2>&1)
case $out in *"Server Version: v1.32"*) pass "kubectl version" ;; *) fail "kubectl version" "$out" ;; esac
out=$(k api-resources 2>&1)
case $out in *deployments*deploy*apps/v1*) pass "api-resources lists deployments" ;; *) fail "api-resources" "$out" ;; esac
wait_for 10 sh -c 'kubectl get ns default kube-system kube-public kube-node-lease' \
	&& pass "default namespaces exist" || fail "default namespaces exist" "$(k get ns 2>&1)"
out=$(k get svc kubernetes -o jsonpath='{.spec.clusterIP}' 2>&1)
[ "$out" = 10.43.0.1 ] && pass "kubernetes service on the first service IP" || fail "kubernetes service" "$out"

M=$T_TMP/m.yaml
cat >"$M" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
  labels: {app: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers:
      - name: app
        image: nginx:1.25
---
apiVersion: v1
kind: Service
metadata:
  name: demo
spec:
  selector: {app: demo}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {tier: x}}
data: {a: "1"}
EOF
out=$(k create -f "$M" 2>&1)
case $out in *"deployment.apps/demo created"*"service/demo created"*"configmap/cfg created"*) pass "create -f multi-document YAML" ;; *) fail "create -f" "$out" ;; esac
out=$(k create -f "$M" 2>&1)
case $out in *AlreadyExists*'"demo" already exists'*) pass "create again: AlreadyExists" ;; *) fail "create again: AlreadyExists" "$out" ;; esac
out=$(k get deploy demo -o wide 2>&1)
case $out in *NAME*READY*demo*nginx:1.25*app=demo*) pass "get -o wide (Table)" ;; *) fail "get -o wide" "$out" ;; esac
out=$(k get svc demo -o yaml 2>&1)
case $out in *"kind: Service"*"resourceVersion:"*"uid:"*"clusterIP: 10.43."*) pass "get -o yaml" ;; *) fail "get -o yaml" "$out" ;; esac
out=$(k get cm cfg -o json 2>&1)
if printf '%s' "$out" | python3 -c 'import json,sys; o=json.load(sys.stdin); assert o["data"]["a"]=="1" and o["metadata"]["resourceVersion"]'; then pass "get -o json"; else fail "get -o json" "$out"; fi
out=$(k get cm -A -l tier=x 2>&1)
case $out in *NAMESPACE*default*cfg*) pass "get -A -l" ;; *) fail "get -A -l" "$out" ;; esac
out=$(k get cm -l tier=nope 2>&1)
case $out in *"No resources found"*) pass "label selector excludes" ;; *) fail "label selector excludes" "$out" ;; esac

out=$(k apply -f "$M" 2>&1)
case $out in *"deployment.apps/demo configured"*) pass "apply over create" ;; *) fail "apply over create" "$out" ;; esac
sed -i 's/replicas: 2/replicas: 3/' "$M"
out=$(k apply -f "$M" 2>&1)
case $out in *"deployment.apps/demo configured"*"service/demo unchanged"*) pass "apply a change" ;; *) fail "apply a change" "$out" ;; esac
out=$(k apply -f "$M" 2>&1)
case $out in *"deployment.apps/demo unchanged"*) pass "apply unchanged" ;; *) fail "apply unchanged" "$out" ;; esac
out=$(k get deploy demo -o jsonpath='{.spec.replicas}/{.metadata.generation}' 2>&1)
[ "$out" = 3/2 ] && pass "apply bumped replicas and generation" || fail "apply bumped replicas and generation" "$out"

expect "label" k label cm cfg color=blue
expect "annotate" k annotate cm cfg note=hello
expect "patch --type=json" k patch cm cfg --type=json -p '[{"op":"add","path":"/data/b","value":"2"}]'
expect "patch --type=merge" k patch cm cfg --type=merge -p '{"data":{"c":"3"}}'
expect "patch strategic" k patch deploy demo -p '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.26"}]}}}}'
out=$(k get cm cfg -o jsonpath='{.metadata.labels.color} {.metadata.annotations.note} {.data.b}{.data.c}' 2>&1)
[ "$out" = "blue hello 23" ] && pass "label/annotate/patch stored" || fail "label/annotate/patch stored" "$out"
out=$(k get deploy demo -o jsonpath='{.spec.template.spec.containers[0].image}' 2>&1)
[ "$out" = nginx:1.26 ] && pass "strategic merge by name" || fail "strategic merge by name" "$out"
expect "scale deployment" k scale deploy demo --replicas=5
expect "scale with --current-replicas (PUT scale)" k scale deploy demo --current-replicas=5 --replicas=6
out=$(k get deploy demo -o jsonpath='{.spec.replicas}' 2>&1)
[ "$out" = 6 ] && pass "scale stored" || fail "scale stored" "$out"
expect_exit "scale with stale --current-replicas fails" 1 k scale deploy demo --current-replicas=2 --replicas=7

k get cm cfg -o yaml >"$T_TMP/cfg.yaml"
sed -i 's/a: "1"/a: "7"/' "$T_TMP/cfg.yaml"
expect "replace" k replace -f "$T_TMP/cfg.yaml"
out=$(k replace -f "$T_TMP/cfg.yaml" 2>&1)
case $out in *Conflict*"the object has been modified"*) pass "replace with a stale resourceVersion: Conflict" ;; *) fail "stale replace" "$out" ;; esac
printf '#!/bin/sh\nsed -i "s/a: .7./a: \\"8\\"/" "$1"\n' >"$T_TMP/editor.sh"
chmod +x "$T_TMP/editor.sh"
out=$(KUBE_EDITOR="$T_TMP/editor.sh" k edit cm cfg 2>&1)
v=$(k get cm cfg -o jsonpath='{.data.a}')
[ "$v" = 8 ] && pass "edit with an editor script" || fail "edit" "$out / a=$v"
out=$(k describe cm cfg 2>&1)
case $out in *"Name:"*cfg*"Namespace:"*default*) pass "describe" ;; *) fail "describe" "$out" ;; esac

# watch: an event arrives, then the watcher is killed
k get cm -w >"$T_TMP/watch.out" 2>&1 &
WPID=$!
T_PIDS="$T_PIDS $WPID"
sleep 1
k patch cm cfg --type=merge -p '{"data":{"w":"1"}}' >/dev/null 2>&1
k create -f - >/dev/null 2>&1 <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: watched}
EOF
if wait_for 10 grep -q watched "$T_TMP/watch.out"; then pass "get -w receives an event"; else fail "get -w receives an event" "$(cat "$T_TMP/watch.out")"; fi
kill "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null

# errors
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: 1, b: [1]}\n' >"$T_TMP/bad.yaml"
expect_exit "bad manifest: rc 1" 1 k create -f "$T_TMP/bad.yaml"
case $T_OUT in *rror*) pass "bad manifest: message" ;; *) fail "bad manifest: message" "$T_OUT" ;; esac
expect_exit "not found: rc 1" 1 k get cm nope
case $T_OUT in *'NotFound'*'configmaps "nope" not found'*) pass "not found message" ;; *) fail "not found message" "$T_OUT" ;; esac

# RBAC: the admin may do anything, a ServiceAccount token user may not
out=$(k auth can-i create pods 2>&1)
[ "$out" = yes ] && pass "auth can-i (admin)" || fail "auth can-i (admin)" "$out"
expect "create serviceaccount" k create -f - <<'EOF'
apiVersion: v1
kind: ServiceAccount
metadata: {name: bot}
EOF
TOKEN=$(k create token bot 2>&1)
case $TOKEN in ey*.*.*) pass "create token" ;; *) fail "create token" "$TOKEN" ;; esac
cat >"$T_TMP/sa.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: kc, cluster: {server: "https://127.0.0.1:$API", certificate-authority: "$D/tls/ca.crt"}}]
users: [{name: bot, user: {token: "$TOKEN"}}]
contexts: [{name: bot, context: {cluster: kc, user: bot, namespace: default}}]
current-context: bot
EOF
out=$(KUBECONFIG=$T_TMP/sa.kubeconfig kubectl get pods 2>&1)
case $out in *Forbidden*'User "system:serviceaccount:default:bot" cannot list resource "pods"'*) pass "forbidden for a ServiceAccount" ;; *) fail "forbidden for a ServiceAccount" "$out" ;; esac
sed -i "s/token: \"[^\"]*\"/token: garbage/" "$T_TMP/sa.kubeconfig"
out=$(KUBECONFIG=$T_TMP/sa.kubeconfig kubectl get pods 2>&1)
case $out in *Unauthorized*|*"must be logged in"*) pass "bad token: Unauthorized" ;; *) fail "bad token: Unauthorized" "$out" ;; esac

# kubectl 1.32's typed clients send protobuf bodies (application/vnd.kubernetes.protobuf)
printf '\000\001\377\376hello' >"$T_TMP/bin.dat"
expect "protobuf: create configmap" k create configmap pb-cm --from-literal=x=1 --from-file=bin="$T_TMP/bin.dat"
out=$(k get cm pb-cm -o jsonpath='{.data.x} {.binaryData.bin}' 2>&1)
[ "$out" = "1 AAH//mhlbGxv" ] && pass "protobuf: configmap data and binaryData" || fail "protobuf: configmap data" "$out"
expect "protobuf: create secret generic" k create secret generic pb-s --from-literal=p=q
out=$(k get secret pb-s -o jsonpath='{.data.p} {.type}' 2>&1)
[ "$out" = "cQ== Opaque" ] && pass "protobuf: secret data" || fail "protobuf: secret data" "$out"
expect "protobuf: create deployment" k create deployment pb-d --image=nginx:1.25 --replicas=2 --port=80
out=$(k get deploy pb-d -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.selector.matchLabels.app} {.spec.strategy.type}' 2>&1)
[ "$out" = "2 80 pb-d RollingUpdate" ] && pass "protobuf: deployment fields" || fail "protobuf: deployment fields" "$out"
expect "protobuf: create service clusterip" k create service clusterip pb-svc --tcp=80:8080
out=$(k get svc pb-svc -o jsonpath='{.spec.ports[0].port}/{.spec.ports[0].targetPort} {.spec.type}' 2>&1)
[ "$out" = "80/8080 ClusterIP" ] && pass "protobuf: service IntOrString targetPort" || fail "protobuf: service ports" "$out"
expect "protobuf: create namespace" k create namespace pb-ns
expect "protobuf: create serviceaccount" k create serviceaccount pb-sa
PBTOKEN=$(k create token pb-sa --duration=1h 2>&1)
case $PBTOKEN in ey*.*.*) pass "protobuf: create token --duration" ;; *) fail "protobuf: create token" "$PBTOKEN" ;; esac
expect "protobuf: create job" k create job pb-job --image=busybox -- echo hi
out=$(k get job pb-job -o jsonpath='{.spec.template.spec.containers[0].command}' 2>&1)
case $out in *echo*hi*) pass "protobuf: job command" ;; *) fail "protobuf: job command" "$out" ;; esac
expect "protobuf: create role" k create role pb-role --verb=get,list --resource=pods
out=$(k get role pb-role -o jsonpath='{.rules[0].verbs}' 2>&1)
case $out in *get*list*) pass "protobuf: role rules" ;; *) fail "protobuf: role rules" "$out" ;; esac
expect "protobuf: create rolebinding" k create rolebinding pb-rb --role=pb-role --serviceaccount=default:pb-sa
out=$(k auth can-i create pods 2>&1)
[ "$out" = yes ] && pass "protobuf: auth can-i (SelfSubjectAccessReview) yes" || fail "protobuf: auth can-i yes" "$out"
cat >"$T_TMP/pb.kubeconfig" <<PBEOF
apiVersion: v1
kind: Config
clusters: [{name: kc, cluster: {server: "https://127.0.0.1:$API", certificate-authority: "$D/tls/ca.crt"}}]
users: [{name: pb, user: {token: "$PBTOKEN"}}]
contexts: [{name: pb, context: {cluster: kc, user: pb, namespace: default}}]
current-context: pb
PBEOF
out=$(KUBECONFIG=$T_TMP/pb.kubeconfig kubectl auth can-i create pods 2>&1)
case $out in no*) pass "protobuf: auth can-i as a ServiceAccount: no" ;; *) fail "protobuf: auth can-i as a ServiceAccount" "$out" ;; esac
out=$(KUBECONFIG=$T_TMP/pb.kubeconfig kubectl auth can-i list pods 2>&1)
case $out in yes*) pass "protobuf: auth can-i as a ServiceAccount bound to a role: yes" ;; *) fail "protobuf: auth can-i list pods via rolebinding" "$out" ;; esac
expect "protobuf: run" k run pb-pod --image=busybox --labels=app=pb -- sleep 1000
out=$(k get pod pb-pod -o jsonpath='{.spec.containers[0].image} {.metadata.labels.app}' 2>&1)
[ "$out" = "busybox pb" ] && pass "protobuf: run stored the pod" || fail "protobuf: run" "$out"
expect "protobuf: expose deployment" k expose deployment pb-d --port=8080 --target-port=80
out=$(k get svc pb-d -o jsonpath='{.spec.ports[0].port}/{.spec.ports[0].targetPort} {.spec.selector.app}' 2>&1)
[ "$out" = "8080/80 pb-d" ] && pass "protobuf: expose" || fail "protobuf: expose" "$out"
k delete pod pb-pod --grace-period=0 --force >/dev/null 2>&1

# delete returns, garbage collection of dependents, namespaces
out=$(timeout 60 kubectl delete -f "$M" 2>&1)
case $out in *'deployment.apps "demo" deleted'*'service "demo" deleted'*) pass "delete -f returns" ;; *) fail "delete -f" "$out" ;; esac
uid=$(k create -f - -o jsonpath='{.metadata.uid}' 2>/dev/null <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: owner}
EOF
)
k create -f - >/dev/null 2>&1 <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: dependent
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: owner, uid: "$uid"}]
EOF
k delete cm owner >/dev/null 2>&1
if wait_for 10 sh -c '! kubectl get cm dependent >/dev/null 2>&1'; then pass "garbage collection of a dependent"; else fail "garbage collection" "$(k get cm 2>&1)"; fi
expect "create namespace" k create -f - <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: scratch}
EOF
k create -n scratch -f - >/dev/null 2>&1 <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: inside}
EOF
out=$(timeout 60 kubectl delete ns scratch 2>&1)
case $out in *'namespace "scratch" deleted'*) pass "delete namespace returns" ;; *) fail "delete namespace" "$out" ;; esac
expect_exit "namespace and content gone" 1 k get ns scratch

kill -TERM "$KPID"
wait "$KPID"
rc=$?
[ $rc = 0 ] && pass "SIGTERM: exit 0" || fail "SIGTERM: exit 0" "exit $rc $(tail -n 5 "$T_TMP/kc.log")"
t_finish
