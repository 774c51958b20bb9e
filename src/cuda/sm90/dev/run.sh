#!/bin/bash
# Dev-only device script: build the sm90 instances + harness, sanity under compute-sanitizer,
# correctness checks and benchmarks. Usage (device): bash src/cuda/sm90/dev/run.sh [check.py flags]
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p $OUT; BD=/tmp/fcb; mkdir -p $BD
NV="nvcc -gencode=arch=compute_90a,code=sm_90a -DFC_SM90_DEV -std=c++17 -O3 -Xptxas=-v -Xcompiler=-fPIC --expt-relaxed-constexpr -lineinfo -I include -I src"
t0=$(date +%s); nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader
# the library, and the same sources with ping-pong compiled out (nopp/), for the same-process A/B
build() { # $1 = object dir, $2 = extra nvcc flags
  mkdir -p $1
  ls src/cuda/instances/sm90_*.cu src/cuda/sm90/dev/fcdev.cu | \
    xargs -P8 -I{} sh -c "$NV $2 -c {} -o $1/\$(basename {} .cu).o 2> $1/\$(basename {} .cu).ptxas"
}
# B_FLAGS: what the second (A/B) build compiles with; default: ping-pong off. NO_B=1: no second
# build (A/B through the run-time dev knobs only, e.g. check.py --ws-ab).
NSRC=$(ls src/cuda/instances/sm90_*.cu src/cuda/sm90/dev/fcdev.cu | wc -l)
if [ -n "$NO_B" ]; then
  build $BD ""
  [ $(ls $BD/*.o | wc -l) = $NSRC ] || { cat $BD/*.ptxas; exit 1; }
  nvcc -shared -o $BD/libfcdev.so $BD/*.o -lcudart || exit 1
  NOPP_ARGS=""
else
  build $BD "" & build $BD/nopp "${B_FLAGS:--DFC_SM90_PINGPONG=0}" & wait
  [ $(ls $BD/*.o $BD/nopp/*.o | wc -l) = $(( 2 * NSRC )) ] || { cat $BD/*.ptxas $BD/nopp/*.ptxas; exit 1; }
  nvcc -shared -o $BD/libfcdev.so $BD/*.o -lcudart || exit 1
  nvcc -shared -o $BD/libfcdev_nopp.so $BD/nopp/*.o -lcudart || exit 1
  echo "nopp build (ptxas):"; grep -h "spill\|Used" $BD/nopp/*.ptxas | sort | uniq -c
  NOPP_ARGS="--nopp $BD/libfcdev_nopp.so"
fi
$NV -o $BD/sanity src/cuda/sm90/dev/sanity.cu $BD/*.o || exit 1
echo "build: $(( $(date +%s) - t0 )) s"
cuobjdump -sass $BD/sm90_fwd_bf16_hdim128.o > $OUT/sass_bf16_d128.txt
echo "SASS bf16 d128: HGMMA $(grep -c HGMMA $OUT/sass_bf16_d128.txt) HMMA $(grep -c 'HMMA' $OUT/sass_bf16_d128.txt) LDL $(grep -c 'LDL' $OUT/sass_bf16_d128.txt) STL $(grep -c 'STL' $OUT/sass_bf16_d128.txt)"
cat $BD/*.ptxas > $OUT/ptxas.txt; grep -h "spill\|Used\|C75" $BD/*.ptxas | sort | uniq -c
timeout 60 $BD/sanity || echo "SANITY FAILED"
for tool in memcheck racecheck synccheck; do
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 $BD/sanity > $OUT/san_$tool.txt 2>&1; echo "sanitizer $tool rc=$? $(tail -1 $OUT/san_$tool.txt)"
done
PYTHONUNBUFFERED=1 timeout ${CHECK_TIMEOUT:-420} python3 src/cuda/sm90/dev/check.py $BD/libfcdev.so $NOPP_ARGS "$@" 2>&1 | tee $OUT/check.txt
if [ -n "$PROF" ]; then
  timeout 150 ncu --clock-control none -k regex:fc_sm90 --launch-skip 2 --launch-count 1 --section SpeedOfLight \
    --section ComputeWorkloadAnalysis --section WarpStateStats --section Occupancy \
    python3 src/cuda/sm90/dev/check.py $BD/libfcdev.so --prof > $OUT/ncu.txt 2>&1; echo "ncu rc=$?"; grep -E "Duration|Throughput|Pipe|Stall|Issued|Eligible|Active" $OUT/ncu.txt | head -40
fi
echo "FAIL lines: $(grep -c "^FAIL" $OUT/check.txt)"; grep "^FAIL\|CHECKS" $OUT/check.txt | head -20
