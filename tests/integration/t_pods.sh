# t_pods.sh - what a Kubernetes user sees of the node agent's pod lifecycle, driven with the real
# kubectl against `kc server --role=all` inside a network namespace of its own (as t_worker.sh):
# restart back-off (CrashLoopBackOff, restart counts, last state, BackOff events), OOMKilled
# under a memory limit, exec/httpGet/tcpSocket liveness probes, readiness gating the Ready and
# ContainersReady conditions, configMap/secret/emptyDir/downwardAPI/projected token volumes (with
# a live configMap update), init containers in order and a failing one, Completed/Succeeded,
# ErrImagePull/ImagePullBackOff, CreateContainerConfigError; deleting every pod leaves nothing
# under DATA/pods and no pod cgroups.
#
# Every wait polls for a condition with a generous limit; nothing passes or fails on a duration.
# Ground rules: those of node_lib.sh (the namespace has no way out, and the one image pull goes
# to 127.0.0.1:1 inside it; every process stopped by pid; namespace, mounts and the pods' cgroups
# removed on every exit path; skipped without root, overlayfs or network namespaces).
. tests/integration/lib.sh

# wait_secs SECONDS CMD...: polls CMD twice a second until it succeeds or SECONDS of wall time
# have passed (lib.sh's wait_for counts tries, and every kubectl call here takes a while)
wait_secs() {
	end=$(($(date +%s) + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}

T_NAME=t_pods
. tests/integration/node_lib.sh
NS=kc-itp-$$
D=$T_TMP/data
nsx() { ip netns exec "$NS" "$@"; }

node_require
command -v nsenter >/dev/null 2>&1 || skip_all "needs nsenter (util-linux)"
node_ns "$NS" 10.99.8.2
node_image "$D"

# kc enters only the network namespace: `ip netns exec` would also give it a fresh sysfs, whose
# /sys/fs/cgroup is empty, and the OOM case needs the memory cgroup
bg_start "$T_TMP/kc.log" nsenter --net="/run/netns/$NS" "$KC" server --role=all --data-dir "$D" \
	--node-name kc-itp-node --advertise-address 10.99.8.2 --bind-address 0.0.0.0 \
	--api-port 6443 --store-port 2379 --peer-port 2380 --kubelet-port 10250 --plain-http
KC_PID=$T_LAST_PID
T_PIDS=""

export KUBECONFIG=$D/kubeconfig
k() { ip netns exec "$NS" kubectl --request-timeout=30s "$@"; }

if wait_secs 60 test -s "$D/kubeconfig" && wait_secs 60 k get --raw /readyz; then
	pass "kc server --role=all starts in the namespace"
else
	fail "kc server --role=all starts in the namespace" "$(tail -n 20 "$T_TMP/kc.log")"
	t_finish
	exit 1
fi
node_ready() {
	[ "$(k get node kc-itp-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
if wait_secs 60 node_ready; then pass "node Ready"; else
	fail "node Ready" "$(k get nodes -o wide 2>&1; tail -n 20 "$T_TMP/kc.log")"
fi
sa_default() { k get serviceaccount default >/dev/null; }
wait_secs 60 sa_default

# ---------------------------------------------------------------------------------------------
# helpers
jp() { k get pod "$1" -o jsonpath="$2" 2>/dev/null; }
# same NAME GOT WANT
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got [$2] wanted [$3]"; fi; }
# jp_is POD JSONPATH WANT: the pod's field equals WANT now
jp_is() { [ "$(jp "$1" "$2")" = "$3" ]; }
# jp_ge POD JSONPATH N: the pod's field is a number >= N now
jp_ge() { v=$(jp "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ] 2>/dev/null; }
# poll NAME SECONDS CMD...: passes when CMD succeeds within SECONDS; else fails with the pod's
# status ($DIAG_POD) and the end of the server's log
DIAG_POD=""
poll() {
	name=$1
	secs=$2
	shift 2
	if wait_secs "$secs" "$@"; then pass "$name"; else
		fail "$name" "$([ -n "$DIAG_POD" ] && k get pod "$DIAG_POD" -o jsonpath='{.status}' 2>&1 | head -c 3000)
$(tail -n 8 "$T_TMP/kc.log")"
	fi
}
# event_seen OBJECT REASON: an Event about OBJECT with REASON exists
event_seen() {
	k get events -o jsonpath='{range .items[*]}{.involvedObject.name} {.reason}{"\n"}{end}' |
		grep -qx "$1 $2"
}
pod_running() { jp_is "$1" '{.status.phase}' Running; }
cond() { jp "$1" "{.status.conditions[?(@.type==\"$2\")].status}"; }

# ---------------------------------------------------------------------------------------------
# every pod at once (the node runs them side by side; each case below polls for its own)
cat >"$T_TMP/objs.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: one, b: bee}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {pw: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: kc.test/busybox:1, command: [sh, -c, 'echo crashing; exit 1']}
---
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: kc.test/busybox:1
    command: [sh, -c, 'exec dd if=/dev/zero of=/dev/null bs=128M count=1']
    resources: {limits: {memory: 32Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: kc.test/busybox:1
    command: [sh, -c, 'touch /tmp/healthy; exec sleep 3600']
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: {name: netprobes}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: kc.test/busybox:1
    command: [sh, -c, 'mkdir -p /www && echo ok >/www/index.html && exec httpd -f -p 8080 -h /www']
    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet: {path: /index.html, port: http}
      initialDelaySeconds: 2
      periodSeconds: 1
      failureThreshold: 5
    readinessProbe:
      httpGet: {path: /index.html, port: 8080}
      periodSeconds: 1
  - name: tcp
    image: kc.test/busybox:1
    command: [sh, -c, 'mkdir -p /w2 && exec httpd -f -p 9090 -h /w2']
    livenessProbe:
      tcpSocket: {port: 9090}
      initialDelaySeconds: 2
      periodSeconds: 1
      failureThreshold: 5
    readinessProbe:
      tcpSocket: {port: 9090}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: ready}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: kc.test/busybox:1
    command: [sleep, '3600']
    readinessProbe:
      exec: {command: [cat, /tmp/ready]}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: vols
  labels: {app: vols, tier: test}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: a
    image: kc.test/busybox:1
    command: [sh, -c, 'echo from-a >/cache/a; echo mem-a >/mem/a; exec sleep 3600']
    volumeMounts:
    - {name: cm, mountPath: /cm}
    - {name: sec, mountPath: /sec}
    - {name: cache, mountPath: /cache}
    - {name: mem, mountPath: /mem}
    - {name: info, mountPath: /info}
    - {name: tok, mountPath: /var/run/secrets/tokens}
  - name: b
    image: kc.test/busybox:1
    command: [sh, -c, 'echo from-b >/cache/b; echo mem-b >/mem/b; exec sleep 3600']
    volumeMounts:
    - {name: cache, mountPath: /cache}
    - {name: mem, mountPath: /mem}
  volumes:
  - name: cm
    configMap:
      name: cfg
      items: [{key: a, path: sub/a.txt, mode: 384}]
  - name: sec
    secret: {secretName: sec, defaultMode: 256}
  - name: cache
    emptyDir: {}
  - name: mem
    emptyDir: {medium: Memory}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
  - name: tok
    projected:
      sources:
      - serviceAccountToken: {path: token, expirationSeconds: 3600, audience: kc-test}
---
apiVersion: v1
kind: Pod
metadata: {name: init}
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: i1, image: kc.test/busybox:1, command: [sh, -c, 'echo one >>/w/order'], volumeMounts: [{name: w, mountPath: /w}]}
  - {name: i2, image: kc.test/busybox:1, command: [sh, -c, 'sleep 1; echo two >>/w/order'], volumeMounts: [{name: w, mountPath: /w}]}
  containers:
  - {name: app, image: kc.test/busybox:1, command: [sh, -c, 'echo app >>/w/order; cat /w/order; exec sleep 3600'], volumeMounts: [{name: w, mountPath: /w}]}
  volumes: [{name: w, emptyDir: {}}]
---
apiVersion: v1
kind: Pod
metadata: {name: initfail}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: i1, image: kc.test/busybox:1, command: [sh, -c, 'exit 3']}
  containers:
  - {name: app, image: kc.test/busybox:1, command: [sh, -c, 'echo should-not-run']}
---
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: kc.test/busybox:1, command: [sh, -c, 'echo finished']}
---
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: '127.0.0.1:1/kc-test/missing:1', imagePullPolicy: Always}
---
apiVersion: v1
kind: Pod
metadata: {name: cfgerr}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: kc.test/busybox:1
    command: [sleep, '3600']
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: cfg, key: nosuchkey}}
YAML
expect "kubectl apply of the configMap, the secret and every pod" k apply -f "$T_TMP/objs.yaml"

# ---------------------------------------------------------------------------------------------
# 1. restart back-off
DIAG_POD=crash
crash_looping() {
	jp_is crash '{.status.containerStatuses[0].state.waiting.reason}' CrashLoopBackOff &&
		jp_ge crash '{.status.containerStatuses[0].restartCount}' 2
}
poll "crash: CrashLoopBackOff with restartCount >= 2" 180 crash_looping
same "crash: lastState.terminated.exitCode 1" \
	"$(jp crash '{.status.containerStatuses[0].lastState.terminated.exitCode}')" 1
same "crash: lastState.terminated.reason Error" \
	"$(jp crash '{.status.containerStatuses[0].lastState.terminated.reason}')" Error
poll "crash: a BackOff event" 30 event_seen crash BackOff
case $(jp crash '{.status.containerStatuses[0].state.waiting.message}') in
"back-off "*"s restarting failed container=c pod=crash_default("*")") pass "crash: kubelet's back-off message" ;;
*) fail "crash: kubelet's back-off message" "$(jp crash '{.status.containerStatuses[0].state.waiting}')" ;;
esac
same "crash: phase stays Running" "$(jp crash '{.status.phase}')" Running
case $(k get pod crash --no-headers 2>&1) in
*CrashLoopBackOff*) pass "crash: kubectl get pod shows CrashLoopBackOff" ;;
*) fail "crash: kubectl get pod shows CrashLoopBackOff" "$(k get pod crash 2>&1)" ;;
esac
expect_exit "crash: kubectl logs --previous" 0 k logs crash --previous
same "crash: the previous attempt's output" "$T_OUT" crashing

# ---------------------------------------------------------------------------------------------
# 2. OOMKilled under a 32Mi limit
DIAG_POD=oom
oom_done() { jp_is oom '{.status.phase}' Failed; }
poll "oom: phase Failed" 120 oom_done
same "oom: terminated reason OOMKilled, exit code 137" \
	"$(jp oom '{.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}')" \
	"OOMKilled 137"

# ---------------------------------------------------------------------------------------------
# 3. liveness probes: exec fails once the file is gone; httpGet and tcpSocket keep succeeding
DIAG_POD=live
poll "live: Running" 120 pod_running live
same "live: no restart while the probe succeeds" "$(jp live '{.status.containerStatuses[0].restartCount}')" 0
expect "live: kubectl exec rm /tmp/healthy" k exec live -- rm /tmp/healthy
live_restarted() { jp_ge live '{.status.containerStatuses[0].restartCount}' 1; }
poll "live: restarted after the liveness probe failed" 120 live_restarted
poll "live: an Unhealthy event" 30 event_seen live Unhealthy
poll "live: a Killing event" 30 event_seen live Killing
same "live: lastState.terminated.exitCode 137 (killed)" \
	"$(jp live '{.status.containerStatuses[0].lastState.terminated.exitCode}')" 137
poll "live: Running again after the restart" 120 pod_running live

DIAG_POD=netprobes
netprobes_ready() { [ "$(cond netprobes Ready)" = True ]; }
poll "netprobes: Ready (httpGet and tcpSocket readiness)" 120 netprobes_ready
# once the servers answer, the liveness probes (every second) go on succeeding: ten more
# seconds bring no restart (a probe that failed while a server was still starting would have
# shown before Ready)
before=$(jp netprobes '{.status.containerStatuses[*].restartCount}')
sleep 10
same "netprobes: httpGet and tcpSocket liveness probes succeed (no restarts)" \
	"$(jp netprobes '{.status.containerStatuses[*].restartCount}')" "$before"
case $before in "0 0") pass "netprobes: restartCount 0 0" ;; *) fail "netprobes: restartCount 0 0" "$before" ;; esac
same "netprobes: still Ready" "$(cond netprobes Ready)" True

# ---------------------------------------------------------------------------------------------
# 4. readiness: False until the probe's file exists, then Ready and ContainersReady
DIAG_POD=ready
poll "ready: Running" 120 pod_running ready
# several probe periods after the start
sleep 3
same "ready: Ready False while the probe fails" "$(cond ready Ready)" False
same "ready: ContainersReady False while the probe fails" "$(cond ready ContainersReady)" False
same "ready: Ready reason ContainersNotReady" \
	"$(jp ready '{.status.conditions[?(@.type=="Ready")].reason}')" ContainersNotReady
same "ready: containerStatuses[0].ready false" "$(jp ready '{.status.containerStatuses[0].ready}')" false
same "ready: started true" "$(jp ready '{.status.containerStatuses[0].started}')" true
expect "ready: kubectl exec touch /tmp/ready" k exec ready -- touch /tmp/ready
ready_true() { [ "$(cond ready Ready)" = True ] && [ "$(cond ready ContainersReady)" = True ]; }
poll "ready: Ready and ContainersReady True after the file appears" 60 ready_true
same "ready: containerStatuses[0].ready true" "$(jp ready '{.status.containerStatuses[0].ready}')" true
same "ready: no restarts" "$(jp ready '{.status.containerStatuses[0].restartCount}')" 0

# ---------------------------------------------------------------------------------------------
# 5. volumes
DIAG_POD=vols
poll "vols: Running" 120 pod_running vols
ka() { k exec vols -c a -- "$@" 2>&1; }
same "vols: configMap item at its path" "$(ka cat /cm/sub/a.txt)" one
same "vols: configMap: only the listed item" "$(ka ls /cm)" sub
same "vols: configMap item mode 0600" "$(ka stat -L -c %a /cm/sub/a.txt)" 600
same "vols: secret content" "$(ka cat /sec/pw)" s3cret
same "vols: secret defaultMode 0400" "$(ka stat -L -c %a /sec/pw)" 400
same "vols: emptyDir shared between containers (a sees b's file)" "$(ka cat /cache/b)" from-b
same "vols: emptyDir shared between containers (b sees a's file)" \
	"$(k exec vols -c b -- cat /cache/a 2>&1)" from-a
same "vols: emptyDir medium Memory is a tmpfs" \
	"$(ka awk '$2 == "/mem" { print $3 }' /proc/mounts)" tmpfs
same "vols: emptyDir medium Memory shared" "$(ka cat /mem/b)" mem-b
same "vols: emptyDir on disk is not a tmpfs" \
	"$(ka awk '$2 == "/cache" { print $3 }' /proc/mounts | grep -c tmpfs)" 0
same "vols: downwardAPI metadata.name" "$(ka cat /info/name)" vols
same "vols: downwardAPI metadata.labels" "$(ka cat /info/labels)" 'app="vols"
tier="test"'
tok=$(ka cat /var/run/secrets/tokens/token)
same "vols: projected token file mode 0644 (the default)" \
	"$(ka stat -L -c %a /var/run/secrets/tokens/token)" 644
same "vols: downwardAPI file mode 0644 (the default)" "$(ka stat -L -c %a /info/name)" 644
case $tok in
*.*.*) pass "vols: projected serviceAccountToken is a JWT" ;;
*) fail "vols: projected serviceAccountToken is a JWT" "$tok" ;;
esac
payload=$(printf '%s' "$tok" | cut -d. -f2 | tr '_-' '/+')
while [ $((${#payload} % 4)) != 0 ]; do payload="$payload="; done
claims=$(printf '%s' "$payload" | base64 -d 2>/dev/null)
case $claims in
*'"aud":'*kc-test*'system:serviceaccount:default:default'* | \
	*'system:serviceaccount:default:default'*'"aud":'*kc-test*)
	pass "vols: the token names the audience and the pod's service account" ;;
*) fail "vols: the token names the audience and the pod's service account" "$claims" ;;
esac
expect "vols: kubectl patch configmap cfg" k patch configmap cfg -p '{"data":{"a":"two"}}'
cm_updated() { [ "$(k exec vols -c a -- cat /cm/sub/a.txt 2>/dev/null)" = two ]; }
poll "vols: a live configMap update shows up in the mounted file" 180 cm_updated

# ---------------------------------------------------------------------------------------------
# 6. init containers
DIAG_POD=init
poll "init: Running" 120 pod_running init
init_logs() { [ "$(k logs init -c app 2>/dev/null)" = "one
two
app" ]; }
poll "init: init containers ran in order before the app" 30 init_logs
same "init: init container states" \
	"$(jp init '{.status.initContainerStatuses[*].state.terminated.reason}')" "Completed Completed"
same "init: Initialized True" "$(cond init Initialized)" True

DIAG_POD=initfail
initfail_failed() { jp_is initfail '{.status.phase}' Failed; }
poll "initfail: phase Failed" 120 initfail_failed
same "initfail: init container terminated with exit code 3" \
	"$(jp initfail '{.status.initContainerStatuses[0].state.terminated.reason} {.status.initContainerStatuses[0].state.terminated.exitCode}')" \
	"Error 3"
same "initfail: the app container never started" \
	"$(jp initfail '{.status.containerStatuses[0].state.waiting.reason}')" PodInitializing
same "initfail: Initialized False, ContainersNotInitialized" \
	"$(jp initfail '{.status.conditions[?(@.type=="Initialized")].status} {.status.conditions[?(@.type=="Initialized")].reason}')" \
	"False ContainersNotInitialized"
case $(k get pod initfail --no-headers 2>&1) in
*Init:Error*) pass "initfail: kubectl get pod shows Init:Error" ;;
*) fail "initfail: kubectl get pod shows Init:Error" "$(k get pod initfail 2>&1)" ;;
esac

# ---------------------------------------------------------------------------------------------
# 7. Completed, image pull errors, container config errors
DIAG_POD=done
done_ok() { jp_is done '{.status.phase}' Succeeded; }
poll "done: phase Succeeded" 120 done_ok
same "done: terminated reason Completed, exit code 0" \
	"$(jp done '{.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}')" \
	"Completed 0"
case $(k get pod done --no-headers 2>&1) in
*Completed*) pass "done: kubectl get pod shows Completed" ;;
*) fail "done: kubectl get pod shows Completed" "$(k get pod done 2>&1)" ;;
esac

DIAG_POD=noimage
pull_reason() { r=$(jp noimage '{.status.containerStatuses[0].state.waiting.reason}'); [ "$r" = "$1" ]; }
poll "noimage: ErrImagePull or ImagePullBackOff" 120 sh -c \
	"r=\$(ip netns exec $NS kubectl get pod noimage -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}'); [ \"\$r\" = ErrImagePull ] || [ \"\$r\" = ImagePullBackOff ]"
poll "noimage: ImagePullBackOff after a failed pull" 120 pull_reason ImagePullBackOff
poll "noimage: a Failed event" 30 event_seen noimage Failed
poll "noimage: a BackOff event" 30 event_seen noimage BackOff
same "noimage: phase Pending" "$(jp noimage '{.status.phase}')" Pending

DIAG_POD=cfgerr
cfgerr_reason() { jp_is cfgerr '{.status.containerStatuses[0].state.waiting.reason}' CreateContainerConfigError; }
poll "cfgerr: CreateContainerConfigError" 120 cfgerr_reason
case $(jp cfgerr '{.status.containerStatuses[0].state.waiting.message}') in
*nosuchkey*) pass "cfgerr: the message names the missing key" ;;
*) fail "cfgerr: the message names the missing key" "$(jp cfgerr '{.status.containerStatuses[0].state.waiting}')" ;;
esac
same "cfgerr: phase Pending" "$(jp cfgerr '{.status.phase}')" Pending

# ---------------------------------------------------------------------------------------------
# 8. delete everything: nothing left on disk or in the cgroup hierarchies
uids=$(k get pods -o jsonpath='{.items[*].metadata.uid}')
expect "kubectl delete every pod" k delete pods --all --grace-period=1 --timeout=120s
no_pods() { [ -z "$(k get pods -o name 2>/dev/null)" ]; }
poll "no pods left in the API" 120 no_pods
DIAG_POD=""
empty_pods_dir() { [ -z "$(ls -A "$D/pods" 2>/dev/null)" ]; }
poll "nothing left under DATA/pods" 60 empty_pods_dir
no_cgroups() {
	for u in $uids; do
		[ -z "$(find /sys/fs/cgroup/ -maxdepth 5 -type d -name "pod$u" 2>/dev/null)" ] || return 1
	done
}
if [ -z "$uids" ]; then fail "no pod cgroups left" "no pod uids recorded"
elif wait_secs 60 no_cgroups; then pass "no pod cgroups left"
else
	fail "no pod cgroups left" "$(for u in $uids; do find /sys/fs/cgroup/ -maxdepth 5 -type d -name "pod$u"; done | head)"
fi

t_finish
