# t_store_bigsnap.sh - a member that joins a cluster whose log starts past what it holds gets the
# database as a Raft snapshot, streamed as a file beside the Raft messages (the message carries
# only a descriptor): a store of about 48 MB arrives whole while the joining member's peak memory
# (VmHWM) stays below the size of the database (a snapshot carried in one message costs it several
# copies of the database), and so does the leader's; the leader's snapshot files go when it stops.
. tests/integration/lib.sh

hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# A store of 48 values of 1 MiB (random bytes), made into a new cluster by save and restore: a
# restored cluster's log starts after the data, so every member that joins needs a snapshot.
P1=$(free_port); C1=$(free_port)
store_start a "$T_TMP/a" "$P1" "$C1"
A=$T_LAST_PID
wait_for 10 kstore "$C1" status || fail "member starts" "$(tail -n 5 "$T_TMP/a.log")"
n=$(python3 - "$C1" <<'EOF'
import base64, json, os, sys, urllib.request
n = 0
for i in range(48):
    body = json.dumps({"key": base64.b64encode(b"/big/%02d" % i).decode(),
                       "value": base64.b64encode(os.urandom(1 << 20)).decode()}).encode()
    req = urllib.request.Request("http://127.0.0.1:%s/v3/kv/put" % sys.argv[1], data=body)
    try:
        urllib.request.urlopen(req, timeout=60).read()
        n += 1
    except Exception as e:
        print(e, file=sys.stderr)
        break
print(n)
EOF
)
[ "$n" = 48 ] && pass "48 writes of 1 MiB" || fail "48 writes of 1 MiB" "$n"
kstore "$C1" put /big/last done >/dev/null
expect "snapshot save" kstore "$C1" snapshot save "$T_TMP/s.db"
kill -TERM "$A" 2>/dev/null
wait "$A" 2>/dev/null
expect "restore" "$KC" store snapshot restore "$T_TMP/s.db" --data-dir "$T_TMP/r1" --node-name r1

P2=$(free_port); C2=$(free_port); P3=$(free_port); C3=$(free_port)
store_start r1 "$T_TMP/r1" "$P2" "$C2"
R1=$T_LAST_PID
wait_for 20 kstore "$C2" status || fail "restored member starts" "$(tail -n 5 "$T_TMP/r1.log")"
kstore "$C2" member add r2 "http://127.0.0.1:$P3" >/dev/null
store_start r2 "$T_TMP/r2" "$P3" "$C3" --store-join "http://127.0.0.1:$P2"
R2=$T_LAST_PID
if wait_for 120 kstore_getis "$C3" /big/last done; then pass "the joining member got the data"
else fail "the joining member got the data" "$(tail -n 8 "$T_TMP/r2.log")"; fi
grep -q "downloaded snapshot" "$T_TMP/r2.log" && pass "... as a downloaded snapshot file" ||
	fail "downloaded snapshot" "$(grep -i snapshot "$T_TMP/r2.log" | tail -n 5)"
db=$(stat -c %s "$T_TMP/r2/store/mvcc.db")
[ "$db" -gt $((40 << 20)) ] && pass "the database is $((db >> 20)) MiB" || fail "database size" "$db"
h2=$(hwm_kb "$R2")
h1=$(hwm_kb "$R1")
echo "     figures: database $((db >> 10)) KiB, joining member VmHWM $h2 KiB, leader VmHWM $h1 KiB"
[ "$h2" -lt $((db >> 10)) ] && pass "the joining member's peak memory stays below the database size ($h2 KiB)" ||
	fail "joining member's peak memory" "VmHWM $h2 KiB for a $((db >> 10)) KiB database"
[ "$h1" -lt $((db >> 10)) ] && pass "the leader's peak memory stays below the database size ($h1 KiB)" ||
	fail "leader's peak memory" "VmHWM $h1 KiB for a $((db >> 10)) KiB database"
# the joined member holds every value, byte for byte the leader's
same=$(python3 - "$C2" "$C3" <<'EOF'
import base64, json, sys, urllib.request
def rng(port):
    body = json.dumps({"key": base64.b64encode(b"/big/").decode(),
                       "range_end": base64.b64encode(b"/big0").decode(),
                       "serializable": True}).encode()
    req = urllib.request.Request("http://127.0.0.1:%s/v3/kv/range" % port, data=body)
    r = json.loads(urllib.request.urlopen(req, timeout=60).read())
    return sorted((kv["key"], kv["value"]) for kv in r.get("kvs", []))
a, b = rng(sys.argv[1]), rng(sys.argv[2])
print("yes" if len(a) == 49 and a == b else "no %d %d" % (len(a), len(b)))
EOF
)
[ "$same" = yes ] && pass "49 keys, the same on both members" || fail "same data" "$same"
ls "$T_TMP/r1/store/snapshots" | grep -q . && pass "the leader keeps its snapshot file while it runs" ||
	fail "leader's snapshot file" "$(ls -la "$T_TMP/r1/store")"
kill -TERM "$R1" "$R2" 2>/dev/null
wait "$R1" "$R2" 2>/dev/null
[ ! -e "$T_TMP/r1/store/snapshots" ] && [ ! -e "$T_TMP/r2/store/mvcc.db.recv" ] &&
	pass "snapshot files are removed at stop" || fail "snapshot files at stop" "$(ls "$T_TMP/r1/store" "$T_TMP/r2/store")"
t_finish
