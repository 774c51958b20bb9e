#!/bin/sh
# One device run for the CUDA kernel work: build (sm_90a only, -j16), resource report, GPU tests
# against the float64 reference, compute-sanitizer memcheck + racecheck on the quick grid, and the
# timing comparison against torch SDPA (FA2, cuDNN). Logs go to $OUT (or ./dev-gpu-out).
# Usage: sh scripts/dev-gpu.sh [steps...]   steps: build res test bench san ab check prof (default: build res test bench san)
#   prof:  ncu source-level warp stalls of one fa row (FC_PROF_ROW) on the portable kernel and on FA2's
#          kernel (torch SDPA FLASH) with the same inputs, each summarised (printed; CSVs, details
#          pages and summaries in $OUT/prof.tar.gz: one OUT per row).
#   ab:    A/B in one process (tuning build): seed rows (+FA2, cuDNN) and FC_AB_ROWS, A = the environment
#          as is, B = with FC_AB_ENV (e.g. FC_TUNE_QSPLIT=0) added; two rounds in opposite order.
#   check: test_gpu (full grid) as is and with FC_CHECK_ENV added, plus memcheck and racecheck of the
#          quick grid with FC_CHECK_ENV, all four at once (correctness only: the GPU is shared);
#          FC_CHECK_ONLY_ENV=1 leaves out the run as is (a second check of another FC_CHECK_ENV).
#          FC_CHECK_ENV=FC_TUNE_CLASS=80 (or 86) runs sm_80's (sm_86/89's) tile table and plan on the
#          H100/H200 (sm_90 SASS of the same source; tile_config.h, fc_tune_class_env).
# FC_DEV_TARGETS="flashcore test_gpu" builds only those targets (default: everything).
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
        -DCMAKE_CUDA_FLAGS=-DFC_CUDA_TUNING && cmake --build $B -j16 ${FC_DEV_TARGETS:+--target $FC_DEV_TARGETS}; } > "$OUT/build.log" 2>&1 \
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
  ab)
    stamp ab
    PYTHONUNBUFFERED=1 timeout ${FC_DEV_AB_LIMIT:-90} python3 - $B/libflashcore.so "$OUT/ab.json" > "$OUT/ab.md" 2>&1 <<'EOF'
import json, os, sys
sys.path.insert(0, "scripts")
import torch
from bench_gpu import Flashcore, bench_row
fc = Flashcore(sys.argv[1])
benv = dict(kv.split("=", 1) for kv in os.environ.get("FC_AB_ENV", "").split())
def fc_row(shape, env, peers):
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return bench_row(fc, *shape, peers=peers)
    finally:
        for k, v in old.items():
            if v is None: os.environ.pop(k, None)
            else: os.environ[k] = v
seed = [(1, 8, S, 64, False, torch.float16, 50) for S in (256, 512, 1024)]
extra = []
for r in os.environ.get("FC_AB_ROWS", "").split():
    B, H, S, D, c, dt = r.split(",")
    extra.append((int(B), int(H), int(S), int(D), c == "1", getattr(torch, dt), 50))
print("device: %s, torch %s, cuDNN %s; B env: %s" % (torch.cuda.get_device_name(), torch.__version__,
                                                     torch.backends.cudnn.version(), benv))
print("| shape | A us (r0 / r1) | B us (r0 / r1) | A/B | FA2 us | cuDNN us | A: FA2/fc | A: cuDNN/fc | B: FA2/fc | B: cuDNN/fc | err A / B | ws A / B |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
out = []
for shape in seed + extra:
    peers = shape in seed
    a0 = fc_row(shape, {}, peers)
    b0 = fc_row(shape, benv, False)
    b1 = fc_row(shape, benv, False)
    a1 = fc_row(shape, {}, False)
    A = min(a0["fc_us"], a1["fc_us"]); Bt = min(b0["fc_us"], b1["fc_us"])
    fa, cd = a0.get("fa2_us"), a0.get("cudnn_us")
    f = lambda x, y: "-" if not x else "%.2fx" % (x / y)
    print("| B%d H%d S%d D%d %s%s | %.2f / %.2f | %.2f / %.2f | %.3f | %s | %s | %s | %s | %s | %s | %.2g / %.2g%s | %d / %d |" % (
        shape[0], shape[1], shape[2], shape[3], str(shape[5]).replace("torch.", ""), " causal" if shape[4] else "",
        a0["fc_us"], a1["fc_us"], b0["fc_us"], b1["fc_us"], A / Bt, "-" if not fa else "%.2f" % fa,
        "-" if not cd else "%.2f" % cd, f(fa, A), f(cd, A), f(fa, Bt), f(cd, Bt), a0["err"], b0["err"],
        " NaN!" if a0["nan"] or b0["nan"] else "", a0["workspace"], b0["workspace"]))
    out.append({"A": [a0, a1], "B": [b0, b1]})
json.dump(out, open(sys.argv[2], "w"), indent=1)
EOF
    echo "ab rc=$?"; cat "$OUT/ab.md"
    ;;
  prof)
    # Source-level warp-stall sampling of one fa row (FC_PROF_ROW=B,H,S,D,causal,dtype; default the weak
    # bf16 B32 H16 S512 D128 row) on the portable kernel and, for comparison, on FlashAttention-2's
    # kernel (torch SDPA FLASH_ATTENTION) with the same inputs: for each, the report, the
    # per-instruction CSV, the details page (speed of light, occupancy, launch, warp states) and a
    # summary (bench/ncu_source_summary.py). Needs ncu; clocks are not locked.
    stamp prof
    row=${FC_PROF_ROW:-32,16,512,128,0,bfloat16}
    cat > "$OUT/prof_run.py" <<'PY'
import sys, torch
sys.path.insert(0, "scripts")
from torch.nn.attention import SDPBackend
from bench_gpu import Flashcore, sdpa_fn
B, H, S, D, c, dt = sys.argv[3].split(",")
B, H, S, D, causal = int(B), int(H), int(S), int(D), c == "1"
q, k, v = (torch.randn(B, S, H, D, dtype=getattr(torch, dt), device="cuda") for _ in range(3))
if sys.argv[2] == "fc":
    run = Flashcore(sys.argv[1]).prepare(q, k, v, torch.empty_like(q), causal)
else:
    run = sdpa_fn(SDPBackend.FLASH_ATTENTION, q, k, v, causal)
for _ in range(5):
    run()
torch.cuda.synchronize()
PY
    for who in fc fa2; do
      kern=$([ $who = fc ] && echo regex:fc_sm80_fwd || echo regex:flash_fwd)
      timeout ${FC_DEV_PROF_LIMIT:-120} ncu --clock-control none -k "$kern" --launch-skip 3 --launch-count 1 \
        --section WarpStateStats --section SourceCounters --section SpeedOfLight --section Occupancy \
        --section LaunchStats --section ComputeWorkloadAnalysis --import-source yes -f -o "$OUT/prof_$who" \
        python3 "$OUT/prof_run.py" $B/libflashcore.so $who "$row" > "$OUT/prof_$who.log" 2>&1
      echo "ncu $who rc=$? (row $row)"
      ncu -i "$OUT/prof_$who.ncu-rep" --page source --csv --print-source sass 2>&1 | gzip > "$OUT/prof_${who}_source.csv.gz"
      ncu -i "$OUT/prof_$who.ncu-rep" --page details > "$OUT/prof_${who}_details.txt" 2>&1
      python3 bench/ncu_source_summary.py --title "$who, row $row" "$OUT/prof_${who}_source.csv.gz" | tee "$OUT/prof_${who}_summary.txt"
      grep -E "Duration|Registers Per|Achieved Occupancy|Executed Ipc A|Issue Slots Busy|Warp Cycles Per Issued|Block Size|Grid Size|Shared Memory Configuration Size|Dynamic Shared" "$OUT/prof_${who}_details.txt"
    done
    # one archive back (the device run returns at most 8 files); the reports themselves stay behind
    rm -f "$OUT"/prof_*.ncu-rep
    (cd "$OUT" && tar czf prof.tar.gz prof_* && rm -f prof_*)
    ;;
  check)
    stamp check
    rm -f "$OUT/test_gpu.log"
    [ "${FC_CHECK_ONLY_ENV:-0}" = 1 ] ||
    ( timeout ${FC_DEV_TEST_LIMIT:-170} $B/tests/test_gpu > "$OUT/test_gpu.log" 2>&1; echo "test_gpu rc=$?" >> "$OUT/test_gpu.log" ) &
    ( env ${FC_CHECK_ENV:-} timeout ${FC_DEV_TEST_LIMIT:-170} $B/tests/test_gpu > "$OUT/test_gpu_env.log" 2>&1
      echo "test_gpu (${FC_CHECK_ENV:-}) rc=$?" >> "$OUT/test_gpu_env.log" ) &
    ( env ${FC_CHECK_ENV:-} FC_TEST_QUICK=1 timeout ${FC_DEV_SAN_LIMIT:-90} compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/test_gpu \
        > "$OUT/memcheck.log" 2>&1; echo "memcheck (${FC_CHECK_ENV:-}) rc=$?" >> "$OUT/memcheck.log" ) &
    ( env ${FC_CHECK_ENV:-} FC_TEST_QUICK=1 timeout ${FC_DEV_SAN_LIMIT:-110} compute-sanitizer --tool racecheck --racecheck-report all \
        --error-exitcode 9 $B/tests/test_gpu > "$OUT/racecheck.log" 2>&1
      echo "racecheck (${FC_CHECK_ENV:-}) rc=$?" >> "$OUT/racecheck.log" ) &
    wait
    for f in test_gpu test_gpu_env memcheck racecheck; do
      [ -f "$OUT/$f.log" ] && grep -E "FAIL|grid:|S=16k|2\^31|test_gpu:|SUMMARY|rc=" "$OUT/$f.log" | head -12
    done
    ;;
  esac
done
stamp done
