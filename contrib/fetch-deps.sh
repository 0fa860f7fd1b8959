#!/bin/sh
# fetch-deps.sh DESTDIR - fetch the upstream sources of kc's third-party libraries (mbedTLS,
# cJSON, libyaml, SQLite, zlib) through Debian's own source packages, check them against pinned
# SHA-256 sums, and unpack them under DESTDIR/src/<name>. Nothing third-party is committed.
#
# A private apt configuration is used (its own lists and cache under DESTDIR/apt), built from the
# machine's own apt sources with Types/deb turned into deb-src, so the host's apt state is left
# alone and no registry host name lives in this repository.
set -eu

dest=${1:?usage: fetch-deps.sh DESTDIR}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

# sha256  file: the upstream tarballs of Debian 12's source packages
pins="$here/deps.sha256"

all_present=1
while read -r sum file; do
	[ -n "$sum" ] || continue
	case $sum in \#*) continue ;; esac
	if [ ! -f "$dest/dl/$file" ] || [ "$(sha256sum "$dest/dl/$file" | cut -d' ' -f1)" != "$sum" ]; then
		all_present=0
	fi
done <"$pins"

if [ $all_present = 0 ]; then
	command -v apt-get >/dev/null || { echo "fetch-deps: apt-get is needed to fetch sources" >&2; exit 1; }
	command -v dpkg-source >/dev/null || {
		if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q dpkg-dev >&2
		else echo "fetch-deps: dpkg-dev is missing (apt-get install dpkg-dev)" >&2; exit 1; fi
	}
	apt="$dest/apt"
	mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc" "$dest/dl"
	: >"$apt/etc/sources.list"
	rm -f "$apt/etc/"*.sources
	# deb822 .sources files: copy each stanza with Types: deb-src.
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed -e 's/^Types:.*/Types: deb-src/' "$f" >"$apt/etc/$(basename "$f")"
	done
	# one-line sources.list entries.
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$apt/etc/sources.list"
	done
	opts="-o Dir::Etc::SourceList=$apt/etc/sources.list -o Dir::Etc::SourceParts=$apt/etc
	      -o Dir::State::Lists=$apt/lists -o Dir::Cache::Archives=$apt/archives
	      -o Debug::NoLocking=1 -o APT::Sandbox::User=root"
	echo "fetch-deps: updating private source lists" >&2
	# shellcheck disable=SC2086
	apt-get $opts -q update >&2
	cd "$dest/dl"
	# shellcheck disable=SC2086
	apt-get $opts -q source --download-only mbedtls cjson libyaml sqlite3 zlib >&2
fi

cd "$dest/dl"
sha256sum -c --quiet "$pins" || { echo "fetch-deps: checksum mismatch in $dest/dl (see above)" >&2; exit 1; }

unpack() { # name tarball
	if [ ! -f "$dest/src/$1/.unpacked" ]; then
		rm -rf "$dest/src/$1"
		mkdir -p "$dest/src/$1"
		tar -xf "$dest/dl/$2" -C "$dest/src/$1" --strip-components=1
		touch "$dest/src/$1/.unpacked"
	fi
}
while read -r sum file; do
	case $sum in \#*|"") continue ;; esac
	case $file in
	mbedtls_*.orig.tar.*) unpack mbedtls "$file" ;;
	cjson_*.orig.tar.*) unpack cjson "$file" ;;
	libyaml_*.orig.tar.*) unpack libyaml "$file" ;;
	sqlite3_*.orig.tar.*) unpack sqlite "$file" ;;
	zlib_*.orig.tar.*) unpack zlib "$file" ;;
	esac
done <"$pins"
echo "fetch-deps: sources ready in $dest/src" >&2
