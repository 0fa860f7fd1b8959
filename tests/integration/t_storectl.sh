#!/bin/sh
# t_storectl.sh - `kc store` against a real etcd 3.4 on loopback: proves the CLI speaks the etcd
# v3 JSON gateway protocol that kc's store serves. Skipped (passes) when etcd is not installed
# or when $KC has no store command.
. "$(dirname "$0")/lib.sh"

if "$KC" store 2>&1 | grep -q 'unknown command'; then
	echo "skip t_storectl: this kc has no \"store\" command yet (roles/storectl.c not linked)"
	t_finish
	exit $?
fi
if ! command -v etcd >/dev/null 2>&1; then
	echo "skip t_storectl: etcd not installed"
	t_finish
	exit $?
fi

CP=$(free_port)
PP=$(free_port)
E="http://127.0.0.1:$CP"
bg_start "$T_TMP/etcd.log" etcd --name t1 --data-dir "$T_TMP/etcd" \
	--listen-client-urls "$E" --advertise-client-urls "$E" \
	--listen-peer-urls "http://127.0.0.1:$PP" --initial-advertise-peer-urls "http://127.0.0.1:$PP" \
	--initial-cluster "t1=http://127.0.0.1:$PP"
if ! wait_for 20 curl -sf -X POST "$E/v3/maintenance/status" -d '{}'; then
	fail etcd-start "$(tail -n 5 "$T_TMP/etcd.log")"
	t_finish
	exit $?
fi

ks() { "$KC" store --endpoints "$E" "$@"; }

# out NAME WANT CMD...: passes when CMD exits 0 and prints exactly WANT.
out() {
	name=$1
	want=$2
	shift 2
	got=$("$@" 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ "$got" = "$want" ]; then pass "$name"; else fail "$name" "rc=$rc got: $got"; fi
}

out put OK ks put /reg/pods/a alpha
out put2 OK ks put /reg/pods/b beta
out put3 OK ks put /reg/svc/c gamma
out get "/reg/pods/a
alpha" ks get /reg/pods/a
out get-missing "" ks get /reg/none
out get-prefix "/reg/pods/a
alpha
/reg/pods/b
beta" ks get /reg/pods --prefix
out ls "/reg/pods/a
/reg/pods/b
/reg/svc/c" ks ls /reg
out get-rev "/reg/pods/a
alpha" ks get /reg/pods/a --rev 2
out put-over OK ks put /reg/pods/a alpha2
out get-old-rev "/reg/pods/a
alpha" ks get /reg/pods/a --rev=2

# watch from revision 2 sees the history, then live changes
"$KC" store --endpoints "$E" watch /reg/pods --prefix --rev 2 >"$T_TMP/watch.out" 2>&1 &
WPID=$!
T_PIDS="$T_PIDS $WPID"
wait_for 5 grep -q alpha2 "$T_TMP/watch.out"
ks del /reg/pods/b >/dev/null
if wait_for 5 grep -q DELETE "$T_TMP/watch.out"; then pass watch; else fail watch "$(cat "$T_TMP/watch.out")"; fi
kill "$WPID" 2>/dev/null
want="PUT
/reg/pods/a
alpha
PUT
/reg/pods/b
beta
PUT
/reg/pods/a
alpha2
DELETE
/reg/pods/b
"
if [ "$(cat "$T_TMP/watch.out")" = "$(printf '%s' "$want")" ]; then pass watch-format; else fail watch-format "$(cat "$T_TMP/watch.out")"; fi

out del-prefix 2 ks del /reg --prefix
out compact "compacted revision 3" ks compact 3
expect_exit get-compacted 1 ks get /reg/pods/a --rev 2
case "$T_OUT" in *"required revision has been compacted"*) pass compacted-msg ;; *) fail compacted-msg "$T_OUT" ;; esac
expect_exit watch-compacted 1 ks watch /reg --rev 1
case "$T_OUT" in *compacted*) pass watch-compacted-msg ;; *) fail watch-compacted-msg "$T_OUT" ;; esac

expect_exit status 0 ks status
case "$T_OUT" in *"$E, "*", 3.4."*", true, false, "*) pass status-format ;; *) fail status-format "$T_OUT" ;; esac
expect_exit member-list 0 ks member list
case "$T_OUT" in *", started, t1, http://127.0.0.1:$PP, $E, false") pass member-format ;; *) fail member-format "$T_OUT" ;; esac
LP=$(free_port)
expect_exit member-add 0 ks member add t2 "http://127.0.0.1:$LP" --learner
ID=$(printf '%s\n' "$T_OUT" | sed -n 's/^Member \([0-9a-f]*\) added.*/\1/p')
if [ -n "$ID" ]; then
	expect member-remove ks member remove "$ID"
else
	fail member-add-id "$T_OUT"
fi

expect_exit snapshot 0 ks snapshot save "$T_TMP/snap.db"
if [ -s "$T_TMP/snap.db" ]; then pass snapshot-file; else fail snapshot-file "empty"; fi

# failover: a dead endpoint first, then the live one
out failover OK "$KC" store --endpoints "http://127.0.0.1:1,$E" put /x y

expect_exit usage-none 2 "$KC" store
expect_exit usage-bad 2 "$KC" store frobnicate
expect_exit usage-opt 2 "$KC" store --bogus 1 status
expect_exit usage-put 2 "$KC" store put onlykey
expect_exit unreachable 1 "$KC" store --endpoints http://127.0.0.1:1 get /x
if [ "$(printf '%s\n' "$T_OUT" | wc -l)" = 1 ]; then pass unreachable-one-line; else fail unreachable-one-line "$T_OUT"; fi

t_finish
