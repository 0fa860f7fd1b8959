#!/bin/sh
# install-tools.sh SET - make sure the tools a make target needs are present. As root on Debian
# the missing packages are installed; otherwise one line names them and the script fails.
#   build: the static binary      test: unit/integration tests
#   fuzz:  libFuzzer targets      bench: load generators and the anchors (nginx, etcd)
set -eu

need=""
check() { # command package
	command -v "$1" >/dev/null 2>&1 || need="$need $2"
}
check_file() { # path package
	[ -e "$1" ] || need="$need $2"
}

case "${1:-build}" in
build)
	check musl-gcc musl-tools
	check gcc gcc
	check make make
	check tclsh tcl
	check xz xz-utils
	check bzip2 bzip2
	check apt-get apt
	check dpkg-source dpkg-dev
	check_file /usr/include/linux/netlink.h linux-libc-dev
	;;
test)
	check gcc gcc
	check_file /usr/include/cmocka.h libcmocka-dev
	check curl curl
	check python3 python3
	check openssl openssl
	check etcd etcd-server
	check clang clang
	check_file /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a libclang-rt-14-dev
	# t_store_fault.sh: partitions are iptables rules inside the members' network namespaces
	check iptables iptables
	# t_podnet.sh: node and pod network namespaces, ping/nc inside pods
	check ip iproute2
	check nsenter util-linux
	# the test image (contrib/mkimage-busybox.sh) and pod commands need the static busybox;
	# a local registry and a client that pushes to it
	dpkg -s busybox-static >/dev/null 2>&1 || need="$need busybox-static"
	check skopeo skopeo
	check docker-registry docker-registry
	check gzip gzip
	# t_clients.sh: the Python client library (kubectl 1.20 is only downloaded, never installed)
	check_file /usr/lib/python3/dist-packages/kubernetes/__init__.py python3-kubernetes
	;;
fuzz)
	check clang clang
	check_file /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a libclang-rt-14-dev
	;;
bench)
	check wrk wrk
	check nginx nginx-light
	check etcd etcd-server
	check etcdctl etcd-client
	check hey hey
	check python3 python3
	# bench_runtime.sh: runc beside kc's runtime, on the same busybox rootfs
	check runc runc
	dpkg -s busybox-static >/dev/null 2>&1 || need="$need busybox-static"
	;;
*)
	echo "install-tools: unknown set '$1'" >&2
	exit 2
	;;
esac

[ -n "$need" ] || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "kc: missing tools; install them with: apt-get install$need" >&2
	exit 1
fi
# Parallel make may ask for several sets at once; apt allows one installer at a time.
exec 9>/tmp/kc-install-tools.lock
flock 9
need_now=""
for pkg in $need; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need_now="$need_now $pkg"
done
need=$need_now
[ -n "$need" ] || exit 0
echo "install-tools: installing$need" >&2
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' 2>/dev/null | head -n 1)" ] ||
	[ -n "$(find /var/lib/apt/lists -maxdepth 0 -mmin +1440 2>/dev/null)" ]; then
	apt-get update -q >&2 || true
fi
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2 || {
	apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2
}
