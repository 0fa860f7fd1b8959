# t_store_grow.sh - growing and shrinking a store cluster from the CLI, as a user would: a single
# member (which serves peers on its --peer-port), `kc store member add` on it, `--store-join` on
# the new member, which catches up and is promoted automatically; a learner that has not caught
# up cannot be promoted by hand; `kc store member remove` of the leader: it steps down and the
# others go on. Changes sent to a follower are forwarded to the leader, and afterwards every
# member lists the same members.
. tests/integration/lib.sh

grow() { # plain | tls
MODE=$1
if [ "$MODE" = tls ]; then S=https; SEC=""; else S=http; SEC=--plain-http; fi
P1=$(free_port); C1=$(free_port)
P2=$(free_port); C2=$(free_port)
P3=$(free_port); C3=$(free_port)
member() { # NAME PEERPORT CLIENTPORT [flags...]
	name=$1 pp=$2 cp=$3
	shift 3
	bg_start "$T_TMP/$MODE-$name.log" "$KC" server --role=store $SEC --node-name "$name" \
		--data-dir "$T_TMP/$MODE-$name" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--peer-port "$pp" --store-port "$cp" "$@"
}
ks() { # CLIENTPORT args...
	p=$1
	shift
	"$KC" store $([ "$MODE" = tls ] && echo --data-dir "$T_TMP/$MODE-a") --endpoints "$S://127.0.0.1:$p" "$@"
}
is_voter() { # CLIENTPORT NAME: NAME is listed and not a learner
	ks "$1" member list | grep -q ", $2, .*, false$"
}
lists_agree() { # N CLIENTPORT...: every member lists the same N members, with the same roles
	n=$1
	shift
	first=$(ks "$1" member list | sort) || return 1
	[ "$(printf '%s\n' "$first" | grep -c .)" = "$n" ] || return 1
	for p in "$@"; do [ "$(ks "$p" member list | sort)" = "$first" ] || return 1; done
}

member a "$P1" "$C1"
A=$T_LAST_PID
if wait_for 10 ks "$C1" put /grow/0 v0; then pass "$MODE: single member takes writes"; else fail "$MODE: single member takes writes" "$(tail -n 5 "$T_TMP/$MODE-a.log")"; fi
i=1
while [ $i -le 50 ]; do ks "$C1" put "/grow/$i" "v$i" >/dev/null || break; i=$((i + 1)); done

out=$(ks "$C1" member add b "$S://127.0.0.1:$P2" 2>&1)
case $out in *"added to cluster"*"--store-join $S://127.0.0.1:$P1"*) pass "$MODE: member add names the --store-join URL" ;;
*) fail "$MODE: member add names the --store-join URL" "$out" ;; esac
TOKEN=""
[ "$MODE" = tls ] && TOKEN=$(cat "$T_TMP/$MODE-a/token")
member b "$P2" "$C2" --store-join "$S://127.0.0.1:$P1" ${TOKEN:+--token "$TOKEN"}
B=$T_LAST_PID
getis() { ks "$1" get "$2" | grep -qx "$3"; }
if wait_for 15 getis "$C2" /grow/50 v50; then
	pass "$MODE: joined member serves linearizable reads of everything"
else fail "$MODE: joined member serves linearizable reads" "$(tail -n 8 "$T_TMP/$MODE-b.log")"; fi
if wait_for 15 is_voter "$C1" b; then pass "$MODE: the learner is promoted automatically once caught up"
else fail "$MODE: automatic promotion" "$(ks "$C1" member list 2>&1)"; fi
expect "$MODE: a write through the joined member" ks "$C2" put /grow/b fromb
got=$(ks "$C1" get /grow/b 2>&1)
case $got in *fromb*) pass "$MODE: the first member sees it" ;; *) fail "$MODE: the first member sees it" "$got" ;; esac

# a learner that has not started cannot be promoted by hand; once it runs it catches up. Both
# changes are sent to the follower b: it forwards them to the leader (as etcd), and passes on
# the leader's refusal.
out=$(ks "$C2" member add c "$S://127.0.0.1:$P3" 2>&1)
case $out in *"added to cluster"*"--store-join $S://127.0.0.1:$P1"*) pass "$MODE: member add sent to a follower" ;;
*) fail "$MODE: member add sent to a follower" "$out" ;; esac
cid=$(printf '%s\n' "$out" | sed -n 's/^Member \([0-9a-f]*\) added.*/\1/p')
if wait_for 10 lists_agree 3 "$C1" "$C2"; then pass "$MODE: both members list the added one"
else fail "$MODE: both members list the added one" "$(ks "$C1" member list 2>&1; ks "$C2" member list 2>&1)"; fi
out=$(ks "$C2" member promote "$cid" 2>&1)
case $out in *"in sync with leader"*) pass "$MODE: promoting a learner that is behind is refused (through a follower)" ;;
*) fail "$MODE: promoting a learner that is behind is refused (through a follower)" "$out" ;; esac
member c "$P3" "$C3" --store-join "$S://127.0.0.1:$P2" ${TOKEN:+--token "$TOKEN"}
C=$T_LAST_PID
if wait_for 15 is_voter "$C1" c; then pass "$MODE: third member joins through a follower and becomes a voter"
else fail "$MODE: third member becomes a voter" "$(ks "$C1" member list 2>&1; tail -n 5 "$T_TMP/$MODE-c.log")"; fi
if wait_for 10 getis "$C3" /grow/b fromb; then
	pass "$MODE: third member reads the data"; else fail "$MODE: third member reads the data" "$(tail -n 5 "$T_TMP/$MODE-c.log")"; fi
if wait_for 10 lists_agree 3 "$C1" "$C2" "$C3"; then pass "$MODE: the three members agree on the member list"
else fail "$MODE: the three members agree on the member list" "$(ks "$C1" member list 2>&1; ks "$C3" member list 2>&1)"; fi
# a promote of a voter, through a follower, fails as it does on the leader
o1=$(ks "$C1" member promote "$cid" 2>&1)
o2=$(ks "$C2" member promote "$cid" 2>&1)
case $o2 in *"refused"*) [ "$o1" = "$o2" ] && pass "$MODE: a follower passes on the leader's refusal" ||
	fail "$MODE: a follower passes on the leader's refusal" "leader: $o1; follower: $o2" ;;
*) fail "$MODE: a follower passes on the leader's refusal" "$o2" ;; esac
# a wrong-cluster or unadded member is refused at start with a clear message
out=$("$KC" server --role=store $SEC ${TOKEN:+--token "$TOKEN"} --node-name nobody --data-dir "$T_TMP/$MODE-nobody" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --peer-port "$(free_port)" \
	--store-port "$(free_port)" --store-join "$S://127.0.0.1:$P1" 2>&1)
case $out in *"was not added"*"member add nobody"*) pass "$MODE: a member that was not added is refused" ;;
*) fail "$MODE: a member that was not added is refused" "$out" ;; esac

# remove the leader: it steps down, the two others elect a leader and take writes
aid=$(ks "$C1" status | head -n 1 | cut -d, -f2 | tr -d ' ')
leads() { ks "$1" status | head -n 1 | cut -d, -f5 | grep -q true; }
leads "$C1" && pass "$MODE: the first member leads" || fail "$MODE: the first member leads" "$(ks "$C1" status 2>&1)"
out=$(ks "$C2" member remove "$aid" 2>&1)
case $out in *removed*) pass "$MODE: member remove of the leader, sent to a follower" ;; *) fail "$MODE: member remove of the leader, sent to a follower" "$out" ;; esac
newlead() { leads "$C2" || leads "$C3"; }
if wait_for 10 newlead; then pass "$MODE: a new leader is elected among the others"; else fail "$MODE: new leader" "$(ks "$C2" status 2>&1)"; fi
if wait_for 10 ks "$C3" put /grow/after removed; then pass "$MODE: the others take writes"; else fail "$MODE: the others take writes" "$(tail -n 5 "$T_TMP/$MODE-c.log")"; fi
if wait_for 10 lists_agree 2 "$C2" "$C3"; then pass "$MODE: two members left, both list the same"
else fail "$MODE: two members left" "$(ks "$C2" member list 2>&1; ks "$C3" member list 2>&1)"; fi
got=$(ks "$C2" get /grow/after 2>&1)
case $got in *removed*) pass "$MODE: read after removal" ;; *) fail "$MODE: read after removal" "$got" ;; esac

# a removed member stops by itself (exit status 1, as etcd's does) and its data dir refuses
# to start again; a follower that never applies its own removal learns it from the others
exited() { ! kill -0 "$1" 2>/dev/null; }
if wait_for 20 exited "$A"; then
	wait "$A"
	st=$?
	[ "$st" = 1 ] && grep -q "removed from the cluster" "$T_TMP/$MODE-a.log" &&
		pass "$MODE: the removed leader stops with status 1" ||
		fail "$MODE: the removed leader stops with status 1" "status $st: $(tail -n 3 "$T_TMP/$MODE-a.log")"
else
	fail "$MODE: the removed leader stops" "still running: $(tail -n 3 "$T_TMP/$MODE-a.log")"
fi
out=$("$KC" server --role=store $SEC --node-name a --data-dir "$T_TMP/$MODE-a" --bind-address 127.0.0.1 \
	--advertise-address 127.0.0.1 --peer-port "$P1" --store-port "$C1" 2>&1)
st=$?
case "$st $out" in "2 "*"was removed from the cluster"*) pass "$MODE: its data dir refuses to start" ;;
*) fail "$MODE: its data dir refuses to start" "status $st: $out" ;; esac
# the follower (b or c, whichever does not lead) is removed through the leader
if leads "$C2"; then LP=$C2 FP=$C3 FPID=$C FN=c; else LP=$C3 FP=$C2 FPID=$B FN=b; fi
fid=$(ks "$FP" status | head -n 1 | cut -d, -f2 | tr -d ' ')
out=$(ks "$LP" member remove "$fid" 2>&1)
case $out in *removed*) pass "$MODE: member remove of a follower" ;; *) fail "$MODE: member remove of a follower" "$out" ;; esac
if wait_for 20 exited "$FPID"; then
	wait "$FPID"
	st=$?
	[ "$st" = 1 ] && pass "$MODE: the removed follower stops with status 1" ||
		fail "$MODE: the removed follower stops with status 1" "status $st: $(tail -n 3 "$T_TMP/$MODE-$FN.log")"
else
	fail "$MODE: the removed follower stops" "still running: $(tail -n 3 "$T_TMP/$MODE-$FN.log")"
fi
if wait_for 10 ks "$LP" put /grow/alone one; then pass "$MODE: the last member takes writes alone"
else fail "$MODE: the last member takes writes alone" "$(tail -n 5 "$T_TMP/$MODE-b.log")"; fi

kill -TERM "$A" "$B" "$C" 2>/dev/null
wait "$A" "$B" "$C" 2>/dev/null
}
grow plain
grow tls
t_finish
