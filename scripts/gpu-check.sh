#!/usr/bin/env bash
# The one command to run on a GPU machine:  scripts/gpu-check.sh OUTDIR
#
#   1. build     cmake (CUDA backend on), -j16, into $BUILD_DIR (default build/)
#   2. ctest     the whole suite, GPU tests and the Python tests (torch/CuPy GPU tests) included
#   3. memcheck  compute-sanitizer memcheck over every build/test_gpu* binary, FC_TEST_QUICK=1
#   4. racecheck compute-sanitizer racecheck, likewise
#   5. compare   bench/compare.py on the seed, fa and decode sweeps (flashcore vs torch SDPA backends)
#
# OUTDIR receives at most 8 flat files: compare.json, compare.png, compare.md, logs.tar.gz (every
# step's log and the ptxas resource report), summary.txt. Steps have time caps and share a deadline
# (FC_CHECK_BUDGET seconds, default 520) so that the whole run ends in under 9 minutes; a step that
# runs out of time is reported TIMEOUT and the later ones still get their share. The summary table
# is printed last. Exit status: 0 when every step passed.
#
# Environment: BUILD_DIR, JOBS (16), PYTHON (python3), FC_CHECK_BUDGET (520), FC_SWEEPS (seed,fa,decode),
# CMAKE_ARGS (extra configure arguments, e.g. -DFLASHCORE_CUDA_ARCHS=90a-real to build for H100 only),
# FC_COMPARE_ARGS (extra compare.py arguments). A dry run without a GPU:
#   BUILD_DIR=build-check CMAKE_ARGS=-DFLASHCORE_CUDA=OFF FC_COMPARE_ARGS=--quick scripts/gpu-check.sh /tmp/gc
set -u
if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
cd "$(dirname "$0")/.." || exit 2
repo=$(pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd) || { echo "gpu-check: cannot create $1" >&2; exit 2; }
build=${BUILD_DIR:-build}
case $build in /*) ;; *) build="$repo/$build" ;; esac
jobs=${JOBS:-16}
py=${PYTHON:-python3}
sweeps=${FC_SWEEPS:-seed,fa,fa-fp16,decode}
start=$(date +%s)
deadline=$((start + ${FC_CHECK_BUDGET:-520}))
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

names=() statuses=() secs=() details=()
record() { names+=("$1"); statuses+=("$2"); secs+=("$3"); details+=("$4"); }

# run_step NAME CAP RESERVE LOG CMD...: run CMD with a time cap of min(CAP, time left - RESERVE),
# RESERVE being the time kept for the steps after it. Sets $step_rc.
run_step() {
  local name=$1 cap=$2 reserve=$3 log=$4
  shift 4
  local left=$((deadline - $(date +%s) - reserve))
  [ "$left" -lt "$cap" ] && cap=$left
  if [ "$cap" -lt 10 ]; then
    echo "gpu-check: $name: no time left" | tee "$log"
    step_rc=124
    step_secs=0
    return
  fi
  echo "gpu-check: $name (cap ${cap}s) ..." >&2
  local t0
  t0=$(date +%s)
  timeout -k 10 "$cap" "$@" >"$log" 2>&1
  step_rc=$?
  step_secs=$(($(date +%s) - t0))
}

status_of() { case $1 in 0) echo PASS ;; 124 | 137) echo TIMEOUT ;; 77) echo SKIPPED ;; *) echo FAIL ;; esac; }

# ---- 1. build ------------------------------------------------------------------------------------
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null) $(git status --porcelain --untracked-files=no 2>/dev/null | head -c1 | sed 's/./(dirty)/')"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  command -v nvcc >/dev/null && nvcc --version | tail -n 2
  "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" 2>&1
} >"$logs/environment.log"
cat "$logs/environment.log" >&2

# shellcheck disable=SC2086
run_step build 330 200 "$logs/build.log" sh -c \
  "cmake -S '$repo' -B '$build' -DCMAKE_BUILD_TYPE=Release -DFLASHCORE_CUDA=ON ${CMAKE_ARGS:-} && cmake --build '$build' -j $jobs"
build_rc=$step_rc
record build "$(status_of $build_rc)" "$step_secs" "$(grep -c 'warning:' "$logs/build.log") compiler warnings"
if [ -d "$build/ptxas" ]; then
  tar -C "$build" -cf "$logs/ptxas.tar" ptxas 2>/dev/null
  grep -h -E "spill|lmem|stack frame" -r "$build/ptxas" 2>/dev/null | grep -v -E " 0 bytes spill stores, 0 bytes spill loads|0 bytes stack frame" \
    | sort -u | head -n 20 >"$logs/ptxas-nonzero.txt"
fi

export FLASHCORE_LIBRARY="$build/libflashcore.so"
export PYTHONPATH="$repo/python${PYTHONPATH:+:$PYTHONPATH}"

if [ "$build_rc" -ne 0 ]; then
  tail -n 30 "$logs/build.log"
  for s in ctest memcheck racecheck compare; do record "$s" SKIPPED 0 "build failed"; done
else
  # ---- 2. ctest ----------------------------------------------------------------------------------
  run_step ctest 200 140 "$logs/ctest.log" ctest --test-dir "$build" --output-on-failure -j 4
  record ctest "$(status_of $step_rc)" "$step_secs" "$(grep -E 'tests passed|tests failed' "$logs/ctest.log" | tail -n 1)"

  # ---- 3./4. compute-sanitizer over the GPU test binaries ---------------------------------------
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
  gpu_tests=$(find "$build" -maxdepth 2 -type f -name 'test_gpu*' -perm -u+x 2>/dev/null | sort)
  for tool in memcheck racecheck; do
    if [ -z "$sanitizer" ]; then
      record "$tool" SKIPPED 0 "compute-sanitizer not found"
      continue
    fi
    if [ -z "$gpu_tests" ]; then
      record "$tool" SKIPPED 0 "no test_gpu* binary in $build"
      continue
    fi
    reserve=$([ $tool = memcheck ] && echo 160 || echo 120)
    # shellcheck disable=SC2016,SC2086
    run_step "$tool" 100 "$reserve" "$logs/$tool.log" sh -c '
      tool=$1 san=$2; shift 2; rc=0
      for t in "$@"; do
        for portable in 0 1; do   # the arch-specific kernel, then the portable one
          echo "== $tool: $t (FLASHCORE_FORCE_PORTABLE=$portable)"
          FLASHCORE_FORCE_PORTABLE=$portable FC_TEST_QUICK=1 "$san" --tool "$tool" --error-exitcode 1 "$t"; r=$?
          [ $r -eq 77 ] && r=0   # the binary found no GPU: its own skip
          [ $r -ne 0 ] && rc=$r
        done
      done
      exit $rc' sh "$tool" "$sanitizer" $gpu_tests
    record "$tool" "$(status_of $step_rc)" "$step_secs" \
      "$(grep -h -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$logs/$tool.log" | sort | uniq -c | tr -s ' ' | paste -sd ';' -)"
  done

  # ---- 5. compare.py -------------------------------------------------------------------------------
  # shellcheck disable=SC2086
  run_step compare 240 5 "$logs/compare.log" "$py" bench/compare.py --sweep "$sweeps" --out "$out" --name compare ${FC_COMPARE_ARGS:-}
  record compare "$(status_of $step_rc)" "$step_secs" "$(grep -c 'FAILED' "$logs/compare.log") failed checks"
fi

# ---- collect ------------------------------------------------------------------------------------
total=$(($(date +%s) - start))
{
  echo "gpu-check summary ($(head -n 3 "$logs/environment.log" | tail -n 1 | cut -d, -f1), ${total} s)"
  printf '%-10s %-8s %6s  %s\n' step status seconds detail
  for i in "${!names[@]}"; do
    printf '%-10s %-8s %6s  %s\n' "${names[$i]}" "${statuses[$i]}" "${secs[$i]}" "${details[$i]}"
  done
  if [ -s "$logs/ptxas-nonzero.txt" ]; then
    echo "ptxas: non-zero spills / local memory / stack frames:"
    sed 's/^/  /' "$logs/ptxas-nonzero.txt"
  fi
  grep -h "geometric mean" "$logs/compare.log" 2>/dev/null
} >"$logs/summary.txt"
cp "$logs/summary.txt" "$out/summary.txt"
tar -C "$logs" -czf "$out/logs.tar.gz" . 2>/dev/null

echo
[ -f "$logs/ctest.log" ] && grep -E "^\s*[0-9]+/[0-9]+ Test|tests passed" "$logs/ctest.log" | tail -n 40
[ -f "$logs/compare.log" ] && sed -n '/^sweep /,$p' "$logs/compare.log" | grep -v geometric
echo
echo "files in $out: $(find "$out" -maxdepth 1 -type f -printf '%f ')"
echo
cat "$logs/summary.txt"
for s in "${statuses[@]}"; do
  case $s in PASS | SKIPPED) ;; *) exit 1 ;; esac
done
exit 0
