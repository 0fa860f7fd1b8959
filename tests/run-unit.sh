#!/bin/sh
# run-unit.sh BIN... - run cmocka test binaries; print each one's result and a total line.
# Writes "passed failed" to $KC_TEST_TALLY when set (for tests/run-all.sh).
passed=0
failed=0
for bin in "$@"; do
	out=$("$bin" 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ $rc -ne 0 ] && [ "$f" = 0 ]; then
		f=1 # crashed or a sanitizer aborted it
	fi
	if [ "$f" != 0 ]; then
		printf '%s\n' "$out"
		echo "FAIL $(basename "$bin") ($p passed, $f failed, exit $rc)"
	else
		echo "ok   $(basename "$bin") ($p passed)"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
[ -n "${KC_TEST_TALLY:-}" ] && echo "$passed $failed" >"$KC_TEST_TALLY"
echo "unit: $passed passed, $failed failed"
[ "$failed" = 0 ]
