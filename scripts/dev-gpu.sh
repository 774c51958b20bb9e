#!/bin/sh
# One device run for the CUDA kernel work: build (sm_90a only, -j16), resource report, GPU tests
# against the float64 reference, compute-sanitizer memcheck + racecheck on the quick grid, and the
# timing comparison against torch SDPA (FA2, cuDNN). Logs go to $OUT (or ./dev-gpu-out).
# Usage: sh scripts/dev-gpu.sh [steps...]   steps: build res test san bench (default: all)
# FC_DEV_NO_SM90=1 leaves the Hopper (wgmma) kernel out of this build, so every call on the H100
# runs the portable kernel; otherwise FLASHCORE_FORCE_PORTABLE=1 is set for test and bench.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/dev-gpu-out}
mkdir -p "$OUT"
steps=${*:-build res test bench san}
B=build-dev
export FLASHCORE_FORCE_PORTABLE=1
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv > "$OUT/gpu.txt" 2>&1
for s in $steps; do
  case $s in
  build)
    [ "${FC_DEV_NO_SM90:-0}" = 1 ] && rm -f src/cuda/instances/sm90_*.cu
    stamp build
    { cmake -S . -B $B -DFLASHCORE_CUDA=ON -DFLASHCORE_CUDA_ARCHS=90a-real -DFLASHCORE_BUILD_TOOLS=OFF \
        -DCMAKE_CUDA_FLAGS=-DFC_CUDA_TUNING && cmake --build $B -j16; } > "$OUT/build.log" 2>&1 \
      || { tail -30 "$OUT/build.log"; exit 1; }
    ;;
  res)
    stamp resources
    sh tests/test_resources.sh $B . > "$OUT/resources.txt" 2>&1; tail -2 "$OUT/resources.txt"
    ;;
  test)
    stamp test_gpu
    timeout ${FC_DEV_TEST_LIMIT:-170} $B/tests/test_gpu > "$OUT/test_gpu.log" 2>&1; echo "test_gpu rc=$?"
    grep -E "FAIL|PASS|grid:|skipped|S=16k|2\^31|test_gpu:" "$OUT/test_gpu.log" | head -40
    ;;
  san)
    stamp memcheck
    FC_TEST_QUICK=1 timeout 90 compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/test_gpu \
      > "$OUT/memcheck.log" 2>&1; echo "memcheck rc=$?"; tail -3 "$OUT/memcheck.log"
    stamp racecheck
    FC_TEST_QUICK=1 timeout 110 compute-sanitizer --tool racecheck --racecheck-report all --error-exitcode 9 \
      $B/tests/test_gpu > "$OUT/racecheck.log" 2>&1; echo "racecheck rc=$?"; tail -3 "$OUT/racecheck.log"
    ;;
  bench)
    stamp bench
    PYTHONUNBUFFERED=1 timeout ${FC_DEV_BENCH_LIMIT:-150} python3 scripts/bench_gpu.py $B/libflashcore.so ${FC_BENCH_MODE:-all} \
      --json "$OUT/bench.json" > "$OUT/bench.md" 2>&1; echo "bench rc=$?"; cat "$OUT/bench.md"
    ;;
  esac
done
stamp done
