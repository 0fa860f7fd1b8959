# t_store_snapshot.sh - `kc store snapshot save` streams /v3/maintenance/snapshot (etcd's
# chunked {"result":{"blob","remaining_bytes"}} messages, then the SHA-256) into a file;
# `kc store snapshot restore` makes a new member data dir from it: a new cluster with the same
# keys and revision, which serves writes and grows with --store-join; corrupt files are refused
# with a clear message.
. tests/integration/lib.sh

P1=$(free_port); C1=$(free_port)

store_start a "$T_TMP/a" "$P1" "$C1"
A=$T_LAST_PID
wait_for 10 kstore "$C1" status || fail "member starts" "$(tail -n 5 "$T_TMP/a.log")"
# ~400 KB of values: the stream takes many 32 KiB messages
v=$(head -c 1000 /dev/zero | tr '\0' x)
i=0
while [ $i -lt 400 ]; do kstore "$C1" put "/snap/$i" "$v$i" >/dev/null || break; i=$((i + 1)); done
[ $i = 400 ] && pass "400 writes" || fail "400 writes" "stopped at $i"
kstore "$C1" del /snap/7 >/dev/null
rev=$(curl -s -X POST "http://127.0.0.1:$C1/v3/kv/range" -d '{"key":"eA=="}' | sed 's/.*"revision":"\([0-9]*\)".*/\1/')

# the raw stream: etcd's message shape, several chunks, remaining_bytes counting down
curl -s -N -X POST "http://127.0.0.1:$C1/v3/maintenance/snapshot" -d '{}' >"$T_TMP/stream.json"
lines=$(wc -l <"$T_TMP/stream.json")
first=$(head -n 1 "$T_TMP/stream.json" | cut -c1-40)
case $first in '{"result":{"remaining_bytes":"'*) ok=1 ;; *) ok="" ;; esac
[ -n "$ok" ] && [ "$lines" -gt 10 ] && pass "snapshot streams in $lines messages" || fail "snapshot stream" "$lines lines, $first"

expect "snapshot save" kstore "$C1" snapshot save "$T_TMP/s.db"
size=$(stat -c %s "$T_TMP/s.db")
[ $((size % 512)) = 32 ] && pass "saved file is the database plus its SHA-256 ($size bytes)" || fail "saved file size" "$size"
head -c $((size - 32)) "$T_TMP/s.db" | sha256sum | cut -c1-64 | tr -d "\n" >"$T_TMP/h1"
tail -c 32 "$T_TMP/s.db" | od -An -tx1 | tr -d ' \n' >"$T_TMP/h2"
cmp -s "$T_TMP/h1" "$T_TMP/h2" && pass "the trailing SHA-256 is the database's" || fail "trailing hash" "$(cat "$T_TMP/h1") $(cat "$T_TMP/h2")"

out=$("$KC" store snapshot restore "$T_TMP/s.db" --data-dir "$T_TMP/r" --node-name r1 2>&1)
case $out in *"revision $rev"*) pass "restore keeps the revision ($rev)" ;; *) fail "restore" "$out" ;; esac
P2=$(free_port); C2=$(free_port); P3=$(free_port); C3=$(free_port)
store_start r1 "$T_TMP/r" "$P2" "$C2"
R1=$T_LAST_PID
if wait_for 10 kstore "$C2" status; then pass "restored member starts"; else fail "restored member starts" "$(tail -n 5 "$T_TMP/r1.log")"; fi
got=$(kstore "$C2" get /snap/399 2>&1 | tail -n 1)
[ "$got" = "${v}399" ] && pass "restored member has the data" || fail "restored member has the data" "$(echo "$got" | cut -c1-80)"
got=$(kstore "$C2" get /snap/7 2>&1)
[ -z "$got" ] && pass "a deleted key stays deleted" || fail "deleted key" "$got"
n=$(kstore "$C2" ls /snap/ | wc -l)
[ "$n" = 399 ] && pass "399 keys" || fail "399 keys" "$n"
out=$(curl -s -X POST "http://127.0.0.1:$C2/v3/kv/put" -d '{"key":"eA==","value":"eQ=="}')
case $out in *"\"revision\":\"$((rev + 1))\""*) pass "the next write gets revision $((rev + 1))" ;; *) fail "next revision" "$out" ;; esac
c1=$(curl -s -X POST "http://127.0.0.1:$C1/v3/maintenance/status" -d '{}' | sed 's/.*"cluster_id":"\([0-9]*\)".*/\1/')
c2=$(curl -s -X POST "http://127.0.0.1:$C2/v3/maintenance/status" -d '{}' | sed 's/.*"cluster_id":"\([0-9]*\)".*/\1/')
[ -n "$c1" ] && [ "$c1" != "$c2" ] && pass "the restored cluster has a new cluster id" || fail "new cluster id" "$c1 $c2"
# the restored cluster grows like any other
kstore "$C2" member add r2 "http://127.0.0.1:$P3" >/dev/null
store_start r2 "$T_TMP/r2" "$P3" "$C3" --store-join "http://127.0.0.1:$P2"
R2=$T_LAST_PID
if wait_for 15 kstore_getis "$C3" /snap/5 "${v}5"; then pass "a member joins the restored cluster"; else fail "join restored cluster" "$(tail -n 5 "$T_TMP/r2.log")"; fi

# corrupt files are refused with a clear message, and leave nothing behind
cp "$T_TMP/s.db" "$T_TMP/bad.db"
printf 'XXXX' | dd of="$T_TMP/bad.db" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_exit "a flipped byte: exit 1" 1 "$KC" store snapshot restore "$T_TMP/bad.db" --data-dir "$T_TMP/b1"
case $T_OUT in *"corrupt"*"SHA-256"*) pass "a flipped byte is named corrupt" ;; *) fail "flipped byte message" "$T_OUT" ;; esac
head -c 1000 "$T_TMP/s.db" >"$T_TMP/short.db"
expect_exit "a truncated file: exit 1" 1 "$KC" store snapshot restore "$T_TMP/short.db" --data-dir "$T_TMP/b2"
# a consistent hash over a database that is not a kc store
python3 - "$T_TMP/notkc.db" <<'EOF'
import hashlib, sqlite3, sys
p = sys.argv[1] + ".tmp"
c = sqlite3.connect(p); c.execute("create table t(x)"); c.commit(); c.close()
d = open(p, "rb").read()
open(sys.argv[1], "wb").write(d + hashlib.sha256(d).digest())
EOF
expect_exit "a SQLite file that is not a kc store: exit 1" 1 "$KC" store snapshot restore "$T_TMP/notkc.db" --data-dir "$T_TMP/b3"
case $T_OUT in *"not a kc store"*|*"corrupt"*) pass "... with a clear message" ;; *) fail "not-kc message" "$T_OUT" ;; esac
[ ! -e "$T_TMP/b3/store/mvcc.db" ] && pass "a refused restore leaves no store behind" || fail "refused restore leftovers" "$(ls "$T_TMP/b3/store")"
expect_exit "restore over an existing store: exit 1" 1 "$KC" store snapshot restore "$T_TMP/s.db" --data-dir "$T_TMP/r"

kill -TERM "$A" "$R1" "$R2" 2>/dev/null
wait "$A" "$R1" "$R2" 2>/dev/null
t_finish
