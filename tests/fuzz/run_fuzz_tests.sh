#!/usr/bin/env bash
# ctest `fuzz_replay`: builds the libFuzzer targets (tests/fuzz, clang + ASan + UBSan) into
# BUILD_DIR/fuzz and replays every committed corpus file through each (no new fuzzing), so that
# every past finding stays fixed. Exit 77 (skipped) without clang's libFuzzer.
# Usage: run_fuzz_tests.sh BUILD_DIR [seconds: fuzz each target that long instead of replaying]
set -uo pipefail
build=$(cd "$1" && pwd)/fuzz
here=$(cd "$(dirname "$0")" && pwd)
command -v clang++ >/dev/null && ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
  { echo "SKIP: clang++ with libFuzzer (clang, libclang-rt-dev) is not installed"; exit 77; }
torch_dir=$(grep -E '^Torch_DIR:' "$1/CMakeCache.txt" 2>/dev/null | cut -d= -f2)
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  ${torch_dir:+-DTorch_DIR="$torch_dir"} >"$build.configure.log" 2>&1 ||
  { echo "FAIL: configuring the fuzzers (see $build.configure.log)"; tail -5 "$build.configure.log"; exit 1; }
cmake --build "$build" -j 2 >"$build.build.log" 2>&1 || { echo "FAIL: building the fuzzers"; tail -20 "$build.build.log"; exit 1; }
failed=0
for target in weights config mbank_dataset; do
  corpus="$here/corpus/$target"
  if [ -n "${2:-}" ]; then
    mkdir -p "$build/new-$target"
    "$build/${target}_fuzz" "$build/new-$target" "$corpus" -max_total_time="$2" -print_final_stats=1 \
      -artifact_prefix="$build/${target}-" 2>&1 | tail -15
  else
    n=$(ls "$corpus" | wc -l)
    if "$build/${target}_fuzz" -runs=0 "$corpus" >"$build/$target.replay.log" 2>&1; then
      echo "PASS: ${target}_fuzz replays its $n corpus files"
    else
      echo "FAIL: ${target}_fuzz on its corpus"; tail -30 "$build/$target.replay.log"; failed=1
    fi
  fi
done
exit "$failed"
