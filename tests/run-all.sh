#!/bin/sh
# run-all.sh "UNIT_BINS" "TSAN_BINS" - every test layer, then one closing total line.
set -u
tally=$(mktemp)
trap 'rm -f "$tally"' EXIT
total_p=0
total_f=0
add() {
	read -r p f <"$tally" || { p=0; f=1; }
	total_p=$((total_p + p))
	total_f=$((total_f + f))
	: >"$tally"
}

echo "== unit tests (ASan + UBSan)"
KC_TEST_TALLY=$tally sh tests/run-unit.sh $1
add
if [ -n "$2" ]; then
	echo "== unit tests (TSan)"
	KC_TEST_TALLY=$tally sh tests/run-unit.sh $2
	add
fi
echo "== integration tests"
KC_TEST_TALLY=$tally sh tests/integration/run.sh
add
echo "== fuzz smoke (${FUZZ_SMOKE_SECONDS:-10}s each)"
KC_TEST_TALLY=$tally sh tests/fuzz/run.sh "${FUZZ_SMOKE_SECONDS:-10}" $(cd "$KC_FUZZ_DIR" && ls fuzz_* 2>/dev/null | grep -v '\.' )
add

echo "all: $total_p passed, $total_f failed"
[ "$total_f" = 0 ]
