# t_kcexec.sh - `kc kubectl exec` against a fake API server (tests/integration/kexec_fake.py:
# discovery, pods, and the exec subresource over WebSocket v5.channel.k8s.io; no node agent
# needed): stdin to channel 0 and the close signal at EOF, stdout/stderr, the exit code from the
# channel-3 Status, other failures, container defaulting and its "Defaulted container" line, a
# 404 pod, -t on a pseudo-terminal (raw mode, resize at start and on SIGWINCH, the terminal
# restored). The real kubectl, when installed, runs the same cases as a check on the fake.
. tests/integration/lib.sh

PORT=$(free_port)
bg_start "$T_TMP/fake.log" python3 tests/integration/kexec_fake.py "$PORT" "$T_TMP/exec.log"
cat >"$T_TMP/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: kc, cluster: {server: "http://127.0.0.1:$PORT"}}]
users: [{name: kc, user: {}}]
contexts: [{name: kc, context: {cluster: kc, user: kc, namespace: default}}]
current-context: kc
EOF
if wait_for 10 curl -fsS "http://127.0.0.1:$PORT/version"; then pass "fake server up"
else fail "fake server up" "$(cat "$T_TMP/fake.log")"; fi
# same NAME GOT WANT
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got [$2] wanted [$3]"; fi; }

# check CLIENT LABEL CMD...: the same expectations for kc and for the real kubectl
check() {
	who=$1
	shift
	: >"$T_TMP/exec.log"
	printf 'hello\nworld\n' | KUBECONFIG=$T_TMP/kubeconfig KUBECACHEDIR=$T_TMP/cache "$@" exec p -i -- cat \
		>"$T_TMP/out" 2>"$T_TMP/err"
	same "$who exec -i: exit code of NonZeroExitCode" "$?" 3
	same "$who exec -i: stdin echoed on stdout" "$(cat "$T_TMP/out")" "hello
world"
	same "$who exec -i: stderr, Defaulted line, exit message" "$(cat "$T_TMP/err")" \
		'Defaulted container "a" out of: a, b
to-stderr
command terminated with exit code 3'
	same "$who exec -i: request" "$(cat "$T_TMP/exec.log")" \
		"exec command=cat&container=a&stderr=true&stdin=true&stdout=true"

	: >"$T_TMP/exec.log"
	out=$(KUBECONFIG=$T_TMP/kubeconfig KUBECACHEDIR=$T_TMP/cache "$@" exec pod/q -- true 'a b' 2>&1)
	same "$who exec without -i: success" "$?" 0
	same "$who exec without -i: output" "$out" "to-stderr"
	same "$who exec: argv and single container" "$(cat "$T_TMP/exec.log")" \
		"exec command=true&command=a b&container=only&stderr=true&stdout=true"

	out=$(KUBECONFIG=$T_TMP/kubeconfig KUBECACHEDIR=$T_TMP/cache "$@" exec d -- true 2>&1)
	same "$who exec: default-container annotation, quietly" "$out" "to-stderr"
	out=$(KUBECONFIG=$T_TMP/kubeconfig KUBECACHEDIR=$T_TMP/cache "$@" exec i -c main -- true 2>&1)
	same "$who exec -c: no Defaulted line" "$out" "to-stderr"
	out=$(KUBECONFIG=$T_TMP/kubeconfig KUBECACHEDIR=$T_TMP/cache "$@" exec i -- true 2>&1)
	same "$who exec: init containers listed" "$out" 'Defaulted container "main" out of: main, setup (init)
to-stderr'

	out=$(KUBECONFIG=$T_TMP/kubeconfig KUBECACHEDIR=$T_TMP/cache "$@" exec q -- fail 2>&1)
	same "$who exec: other Failure exits 1" "$?" 1
	same "$who exec: other Failure message" "$out" "to-stderr
error: boom: container not running"

	out=$(KUBECONFIG=$T_TMP/kubeconfig KUBECACHEDIR=$T_TMP/cache "$@" exec nope -- true 2>&1)
	same "$who exec: missing pod exits 1" "$?" 1
	same "$who exec: missing pod message" "$out" 'Error from server (NotFound): pods "nope" not found'

	out=$(KUBECONFIG=$T_TMP/kubeconfig KUBECACHEDIR=$T_TMP/cache "$@" exec q -i -t -- cat </dev/null 2>&1)
	same "$who exec -it without a terminal" "$?" 3
	same "$who exec -it without a terminal: message" "$out" \
		"Unable to use a TTY - input is not a terminal or the right kind of file
to-stderr
command terminated with exit code 3"
}

check kc "$KC" kubectl

# stdin from a regular file (not pollable) and a large one (back-pressure on the pump)
head -c 3000000 /dev/urandom | base64 >"$T_TMP/big"
KUBECONFIG=$T_TMP/kubeconfig "$KC" kubectl exec q -i -- cat <"$T_TMP/big" >"$T_TMP/out" 2>/dev/null
same "kc exec -i: 4 MB file through stdin, exit code" "$?" 3
if cmp -s "$T_TMP/big" "$T_TMP/out"; then pass "kc exec -i: 4 MB file echoed intact"
else fail "kc exec -i: 4 MB file echoed intact" "$(wc -c <"$T_TMP/out") bytes back"; fi

# -t on a pseudo-terminal: raw mode, sizes at start and after SIGWINCH, terminal restored
: >"$T_TMP/exec.log"
out=$(KUBECONFIG=$T_TMP/kubeconfig python3 - "$KC" "$T_TMP/exec.log" <<'PY' 2>&1
import fcntl, os, pty, struct, sys, termios, time
kc, log = sys.argv[1], sys.argv[2]
def size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
def wait_log(text):
    for _ in range(200):
        if text in open(log).read():
            return True
        time.sleep(0.05)
    print("log never showed", text, open(log).read())
    return False
pid, master = pty.fork()
if pid == 0:
    size(0, 100, 30)
    before = termios.tcgetattr(0)
    r = os.spawnv(os.P_WAIT, kc, [kc, "kubectl", "exec", "q", "-it", "--", "cat"])
    after = termios.tcgetattr(0)
    os.write(1, ("\nRC=%d RESTORED=%s\n" % (r, before == after)).encode())
    os._exit(0)
ok = wait_log('resize {"Width":100,"Height":30}')
os.write(master, b"typed")
size(master, 120, 40)
ok = wait_log('resize {"Width":120,"Height":40}') and ok
os.write(master, b"\x04")
buf = b""
while True:
    try:
        d = os.read(master, 4096)
    except OSError:
        break
    if not d:
        break
    buf += d
os.waitpid(pid, 0)
print("typed" in buf.decode(errors="replace"), ok, buf.decode(errors="replace").strip().splitlines()[-1])
PY
)
same "kc exec -it on a terminal: echo, resizes, exit code, terminal restored" "$out" \
	"True True RC=3 RESTORED=True"
same "kc exec -it: request" "$(head -n 1 "$T_TMP/exec.log")" \
	"exec command=cat&container=only&stdin=true&stdout=true&tty=true"

# the real kubectl against the same fake (checks the fake itself); the dispatcher picks 1.32
if command -v kubectl >/dev/null 2>&1 && kubectl version --client >/dev/null 2>&1; then
	check kubectl kubectl
else
	echo "skip real kubectl: not installed"
fi

t_finish
