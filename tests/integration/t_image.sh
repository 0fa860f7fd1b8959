# t_image.sh - kc image: the test image from contrib/mkimage-busybox.sh imported (OCI archive,
# docker save before and since Docker 25), listed, inspected, run from its unpacked layer,
# removed; then pushed with skopeo to Debian's docker-registry on loopback and pulled back with
# `kc image pull`. Prints the import and pull times.
. tests/integration/lib.sh

now_ms() { date +%s%3N; }

D=$T_TMP/data
img_oci=$T_TMP/busybox-oci.tar
img_docker=$T_TMP/busybox-docker.tar
img_d25=$T_TMP/busybox-d25.tar
if sh contrib/mkimage-busybox.sh "$img_oci" >"$T_TMP/mk.log" 2>&1 &&
	sh contrib/mkimage-busybox.sh --format docker --name kc.test/legacy:1 "$img_docker" >>"$T_TMP/mk.log" 2>&1 &&
	sh contrib/mkimage-busybox.sh --format docker25 --name kc.test/d25:1 "$img_d25" >>"$T_TMP/mk.log" 2>&1; then
	pass "contrib/mkimage-busybox.sh builds the test image"
else
	fail "contrib/mkimage-busybox.sh builds the test image" "$(tail -n 5 "$T_TMP/mk.log")"
fi

# usage errors: exit 2, one line
bad() { # name args...
	name=$1
	shift
	err=$("$KC" image "$@" 2>&1 >"$T_TMP/stdout")
	rc=$?
	if [ $rc = 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [ ! -s "$T_TMP/stdout" ]; then pass "$name"
	else fail "$name" "exit $rc: $err"; fi
}
bad "kc image without a command exits 2"
bad "kc image with an unknown command exits 2" frobnicate --data-dir "$D"
bad "kc image pull without a ref exits 2" pull --data-dir "$D"
bad "kc image with an unknown flag exits 2" ls --bogus --data-dir "$D"
bad "kc image pull with a bad ref exits 2" pull 'Not/A:Ref:' --data-dir "$D"
expect_exit "importing a missing file exits 1" 1 "$KC" image import "$T_TMP/nope.tar" --data-dir "$D"

t0=$(now_ms)
expect_exit "kc image import (OCI archive)" 0 "$KC" image import "$img_oci" --data-dir "$D"
t1=$(now_ms)
case $T_OUT in *"Loaded image: kc.test/busybox:1"*) pass "import names the image" ;;
*) fail "import names the image" "$T_OUT" ;; esac
echo "     import of the test image: $((t1 - t0)) ms (including process start)"
expect_exit "kc image import (docker save, before Docker 25)" 0 "$KC" image import "$img_docker" --data-dir "$D"
expect_exit "kc image import (docker save, Docker 25+)" 0 "$KC" image import "$img_d25" --data-dir "$D"

expect_exit "kc image ls" 0 "$KC" image ls --data-dir "$D"
ls_out=$T_OUT
case $ls_out in "REPOSITORY"*"TAG"*"IMAGE ID"*"SIZE"*) pass "ls has crictl's columns" ;;
*) fail "ls has crictl's columns" "$ls_out" ;; esac
for want in "kc.test/busybox *1 " "kc.test/legacy *1 " "kc.test/d25 *1 "; do
	if printf '%s\n' "$ls_out" | grep -q "^$want"; then pass "ls lists $want"
	else fail "ls lists $want" "$ls_out"; fi
done

expect_exit "kc image inspect" 0 "$KC" image inspect kc.test/busybox:1 --data-dir "$D"
case $T_OUT in *'"cmd": ["sh"]'*'"layerDirs": ["'*) pass "inspect shows the config and layers" ;;
*) fail "inspect shows the config and layers" "$T_OUT" ;; esac
layer=$(printf '%s\n' "$T_OUT" | sed -n 's/.*"layerDirs": \["\([^"]*\)".*/\1/p')
if [ -x "$layer/bin/busybox" ] && [ -L "$layer/bin/sh" ]; then pass "the layer holds busybox and its applets"
else fail "the layer holds busybox and its applets" "$layer: $(ls "$layer" 2>&1)"; fi
if [ "$(id -u)" = 0 ]; then
	out=$(chroot "$layer" /bin/sh -c 'echo hello from $(id -un)' 2>&1)
	if [ "$out" = "hello from root" ]; then pass "busybox runs from the unpacked layer"
	else fail "busybox runs from the unpacked layer" "$out"; fi
fi

expect_exit "kc image rm" 0 "$KC" image rm kc.test/legacy:1 --data-dir "$D"
"$KC" image ls --data-dir "$D" >"$T_TMP/ls2" 2>&1
if grep -q legacy "$T_TMP/ls2"; then fail "rm removes the name" "$(cat "$T_TMP/ls2")"
else pass "rm removes the name"; fi
expect_exit "rm of a missing image exits 1" 1 "$KC" image rm kc.test/legacy:1 --data-dir "$D"

# ---- a local registry: docker-registry on loopback, skopeo pushes, kc pulls ----
if ! command -v docker-registry >/dev/null 2>&1 || ! command -v skopeo >/dev/null 2>&1; then
	fail "registry tools present" "docker-registry and skopeo are needed (sh contrib/install-tools.sh test)"
	t_finish
	exit
fi
RP=$(free_port)
mkdir -p "$T_TMP/registry"
cat >"$T_TMP/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $T_TMP/registry/data
http:
  addr: 127.0.0.1:$RP
EOF
bg_start "$T_TMP/registry.log" docker-registry serve "$T_TMP/registry/config.yml"
REG_PID=$T_LAST_PID
if wait_for 10 curl -sf "http://127.0.0.1:$RP/v2/"; then pass "docker-registry starts"
else fail "docker-registry starts" "$(tail -n 5 "$T_TMP/registry.log")"; fi
export HOME=$T_TMP # skopeo keeps its auth file under HOME
expect "skopeo pushes the test image" skopeo copy --quiet --dest-tls-verify=false \
	"oci-archive:$img_oci" "docker://127.0.0.1:$RP/kc/busybox:1"

P=$T_TMP/pulled
t0=$(now_ms)
expect_exit "kc image pull from the registry" 0 "$KC" image pull "127.0.0.1:$RP/kc/busybox:1" --data-dir "$P"
t1=$(now_ms)
case $T_OUT in *"Image is up to date for sha256:"*) pass "pull reports the image id" ;;
*) fail "pull reports the image id" "$T_OUT" ;; esac
echo "     pull of the test image: $((t1 - t0)) ms (including process start)"
"$KC" image ls --data-dir "$P" >"$T_TMP/ls3" 2>&1
if grep -q "^127.0.0.1:$RP/kc/busybox *1 " "$T_TMP/ls3"; then pass "the pulled image is listed"
else fail "the pulled image is listed" "$(cat "$T_TMP/ls3")"; fi
id_import=$("$KC" image ls -q --data-dir "$D" | sort | head -n 1)
id_pull=$("$KC" image ls -q --data-dir "$P")
if [ -n "$id_pull" ] && "$KC" image ls -q --data-dir "$D" | grep -qx "$id_pull"; then
	pass "pulled and imported images have the same id"
else fail "pulled and imported images have the same id" "$id_import / $id_pull"; fi
expect_exit "a second pull is a no-op" 0 "$KC" image pull "127.0.0.1:$RP/kc/busybox:1" --data-dir "$P"
expect_exit "pulling a missing tag exits 1" 1 "$KC" image pull "127.0.0.1:$RP/kc/busybox:nope" --data-dir "$P"
case $T_OUT in *"not found"*) pass "a missing tag is named as not found" ;;
*) fail "a missing tag is named as not found" "$T_OUT" ;; esac

kill -TERM "$REG_PID" 2>/dev/null
wait "$REG_PID" 2>/dev/null
t_finish
