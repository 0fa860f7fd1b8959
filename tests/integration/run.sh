#!/bin/sh
# run.sh - every tests/integration/t_*.sh against the real ./kc; prints a total line.
# Run from the repository root.
cd "$(dirname "$0")/../.." || exit 1
tally=$(mktemp)
trap 'rm -f "$tally"' EXIT
status=0
for t in tests/integration/t_*.sh; do
	echo "-- $t"
	KC_TEST_TALLY_FILE=$tally sh "$t" || status=1
done
passed=0
failed=0
while read -r p f; do
	passed=$((passed + p))
	failed=$((failed + f))
done <"$tally"
# a script that died before t_finish still counts as a failure
[ $status != 0 ] && [ $failed = 0 ] && failed=1
[ -n "${KC_TEST_TALLY:-}" ] && echo "$passed $failed" >"$KC_TEST_TALLY"
echo "integration: $passed passed, $failed failed"
[ $failed = 0 ]
