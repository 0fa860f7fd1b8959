#!/bin/sh
# run.sh - every benchmark of tests/bench/, each against its anchor in the same run.
# Results go to stdout and to build/bench/results.txt; docs/benchmarks.md records them.
cd "$(dirname "$0")/../.." || exit 1
mkdir -p build/bench
{
	sh tests/bench/bench_binary.sh
	sh tests/bench/bench_http.sh
	sh tests/bench/bench_store.sh
	sh tests/bench/bench_api.sh
	sh tests/bench/bench_store3.sh
	sh tests/bench/bench_scheduler.sh
	sh tests/bench/bench_runtime.sh
	sh tests/bench/bench_pods.sh
} 2>&1 | tee build/bench/results.txt
