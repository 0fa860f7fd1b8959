#!/bin/sh
# mkimage-busybox.sh [--format oci|docker|docker25] [--name REF] [--gzip|--no-gzip] OUT.tar
#
# Builds a small test image from Debian's busybox-static without docker: /bin/busybox, one
# symlink per applet, /etc/passwd, /etc/group and /tmp, as one layer. Written with tar and
# sha256sum only, reproducibly (sorted names, uid/gid 0, mtime 0).
#   oci       an OCI image layout archive (index.json, oci-layout, blobs/sha256), the image
#             named by org.opencontainers.image.ref.name, as skopeo's oci-archive: reads it
#   docker    a docker save archive as Docker before 25 wrote it (manifest.json, repositories,
#             <id>.json, <id>/layer.tar)
#   docker25  as Docker 25+ writes it: an OCI layout plus manifest.json and repositories
# The default is oci, REF kc.test/busybox:1, a gzip layer for oci (docker formats are
# uncompressed, as docker writes them).
set -eu

format=oci
name=kc.test/busybox:1
gzip_layer=
out=
while [ $# -gt 0 ]; do
	case $1 in
	--format) format=${2:?--format needs a value}; shift 2 ;;
	--format=*) format=${1#*=}; shift ;;
	--name) name=${2:?--name needs a value}; shift 2 ;;
	--name=*) name=${1#*=}; shift ;;
	--gzip) gzip_layer=1; shift ;;
	--no-gzip) gzip_layer=0; shift ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "mkimage-busybox: unknown flag $1" >&2; exit 2 ;;
	*) [ -z "$out" ] || { echo "mkimage-busybox: one output file" >&2; exit 2; }; out=$1; shift ;;
	esac
done
[ -n "$out" ] || { echo "usage: mkimage-busybox.sh [--format oci|docker|docker25] [--name REF] OUT.tar" >&2; exit 2; }
case $format in oci|docker|docker25) ;; *) echo "mkimage-busybox: bad format $format" >&2; exit 2 ;; esac
[ -n "$gzip_layer" ] || { [ "$format" = oci ] && gzip_layer=1 || gzip_layer=0; }

here=$(cd "$(dirname "$0")" && pwd)
bb=/bin/busybox
# the static build: the image has no libc
if ! dpkg -s busybox-static >/dev/null 2>&1; then
	sh "$here/install-tools.sh" test >&2
fi
dpkg -s busybox-static >/dev/null 2>&1 && [ -x "$bb" ] ||
	{ echo "mkimage-busybox: busybox-static is missing (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d /tmp/kc-mkimage.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/home" "$root/var"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$bb" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
"$bb" --list-full | while read -r p; do
	[ "$p" = bin/busybox ] && continue
	mkdir -p "$root/$(dirname "$p")"
	ln -sf /bin/busybox "$root/$p"
done
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
nogroup:x:65534:
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group"

# the layer: deterministic tar of the rootfs
layer=$work/layer.tar
(cd "$root" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=posix \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$layer" .)
diff_id=$(sha256sum "$layer" | cut -d' ' -f1)

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }

# repository and tag of the name (a default tag of latest)
case $name in
*@*) echo "mkimage-busybox: give a tag, not a digest" >&2; exit 2 ;;
esac
last=${name##*/}
case $last in
*:*) repo=${name%:*}; tag=${name##*:} ;;
*) repo=$name; tag=latest ;;
esac

config=$work/config.json
printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"contrib/mkimage-busybox.sh"}]}' \
	"$diff_id" >"$config"
config_id=$(sha "$config")

lay=$work/lay
mkdir -p "$lay"
if [ "$format" = docker ]; then
	# Docker before 25: <id>/layer.tar, <configid>.json, manifest.json, repositories
	lid=$diff_id
	mkdir -p "$lay/$lid"
	cp "$layer" "$lay/$lid/layer.tar"
	printf '1.0' >"$lay/$lid/VERSION"
	printf '{"id":"%s","created":"1970-01-01T00:00:00Z","container_config":{},"os":"linux"}' "$lid" >"$lay/$lid/json"
	cp "$config" "$lay/$config_id.json"
	printf '[{"Config":"%s.json","RepoTags":["%s:%s"],"Layers":["%s/layer.tar"]}]' \
		"$config_id" "$repo" "$tag" "$lid" >"$lay/manifest.json"
	printf '{"%s":{"%s":"%s"}}' "$repo" "$tag" "$lid" >"$lay/repositories"
	(cd "$lay" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/out.tar" .)
	mv "$work/out.tar" "$out"
	exit 0
fi

mkdir -p "$lay/blobs/sha256"
if [ "$gzip_layer" = 1 ]; then
	gzip -n -c "$layer" >"$work/layer.blob"
	layer_mt=application/vnd.oci.image.layer.v1.tar+gzip
else
	cp "$layer" "$work/layer.blob"
	layer_mt=application/vnd.oci.image.layer.v1.tar
fi
layer_digest=$(sha "$work/layer.blob")
cp "$work/layer.blob" "$lay/blobs/sha256/$layer_digest"
cp "$config" "$lay/blobs/sha256/$config_id"
manifest=$work/manifest.json
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"%s","digest":"sha256:%s","size":%s}]}' \
	"$config_id" "$(size "$config")" "$layer_mt" "$layer_digest" "$(size "$work/layer.blob")" >"$manifest"
manifest_digest=$(sha "$manifest")
cp "$manifest" "$lay/blobs/sha256/$manifest_digest"
printf '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
if [ "$format" = oci ]; then
	ann=$(printf '"org.opencontainers.image.ref.name":"%s"' "$name")
else
	# Docker 25+: the full name for containerd, the tag alone in ref.name
	ann=$(printf '"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"' "$repo:$tag" "$tag")
	printf '[{"Config":"blobs/sha256/%s","RepoTags":["%s:%s"],"Layers":["blobs/sha256/%s"]}]' \
		"$config_id" "$repo" "$tag" "$layer_digest" >"$lay/manifest.json"
	printf '{"%s":{"%s":"%s"}}' "$repo" "$tag" "$layer_digest" >"$lay/repositories"
fi
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{%s},"platform":{"architecture":"amd64","os":"linux"}}]}' \
	"$manifest_digest" "$(size "$manifest")" "$ann" >"$lay/index.json"
(cd "$lay" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/out.tar" .)
mv "$work/out.tar" "$out"
