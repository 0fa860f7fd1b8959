#!/bin/sh
# run.sh SECONDS NAME... - run each libFuzzer target in $KC_FUZZ_DIR for SECONDS, starting from
# tests/fuzz/seeds/<name>/ (committed seeds) and keeping the grown corpus in
# build/fuzz/corpus/<name>/. A crash, leak or timeout fails the run; its input is kept beside
# the corpus.
secs=${1:?usage: run.sh SECONDS NAME...}
shift
dir=${KC_FUZZ_DIR:-build/fuzz}
passed=0
failed=0
for name in "$@"; do
	corpus="$dir/corpus/$name"
	seeds="tests/fuzz/seeds/${name#fuzz_}"
	mkdir -p "$corpus" "$dir/artifacts/$name"
	set -- "$corpus"
	[ -d "$seeds" ] && set -- "$corpus" "$seeds"
	if "$dir/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=0 -artifact_prefix="$dir/artifacts/$name/" "$@" \
		>"$dir/$name.log" 2>&1; then
		execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/$name.log" | grep -o '[0-9]*$')
		runs=$(grep -Eo '#[0-9]+' "$dir/$name.log" | tail -n 1)
		echo "ok   $name (${secs}s, ${runs:-?} runs)"
		passed=$((passed + 1))
	else
		tail -n 40 "$dir/$name.log"
		echo "FAIL $name (see $dir/$name.log, inputs in $dir/artifacts/$name/)"
		failed=$((failed + 1))
	fi
done
[ -n "${KC_TEST_TALLY:-}" ] && echo "$passed $failed" >"$KC_TEST_TALLY"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
