#!/bin/bash
# Dev-only, one short device call (~170 s) for a kernel change with a compile-time A/B switch:
#   1. builds the dev library twice: A (this tree, with $A_FLAGS) and B (the same sources with $B_FLAGS);
#   2. correctness, in three parallel lanes, all ended by $CHECK_DL seconds after the start:
#      check.py's 6 check passes on A; dev/sanity plain, memcheck, racecheck, synccheck on A; the
#      shared suite's test_gpu (a prebuilt binary from $PREBUILT, else cmake --build --target
#      test_gpu) plus its memcheck/racecheck with FC_TEST_QUICK=1;
#   3. alone on the GPU: the same-process A/B (check.py --ab-only, order A B cuDNN B A, the short
#      fa rows + FC_AB_LONG=few long rows + the seed), ended by $AB_DL seconds after the start.
# Output in $OUT (8 files at most): run.log (summary), check.txt, ab.txt, san.txt, testgpu.txt,
# ptxas.txt, sass.txt, rest.tar.gz. Usage (device): B_FLAGS=-DFOO=0 bash src/cuda/sm90/dev/oneshot.sh
# (A_FLAGS=-DFOO=1 B_FLAGS= : a knob that is off by default on the A side; the test_gpu lane's cmake
# build then takes A_FLAGS too, and PREBUILT should be left unset).
OUT=${OUT:-/tmp/out}; X=$OUT/x; mkdir -p $X; BD=/tmp/fcb; mkdir -p $BD/b
CHECK_DL=${CHECK_DL:-100}; AB_DL=${AB_DL:-165}
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
left() { local l=$(( $1 - $(el) )); [ $l -lt 5 ] && l=5; echo $l; }
LOG=$OUT/run.log
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader > $LOG
NV="nvcc -gencode=arch=compute_90a,code=sm_90a -DFC_SM90_DEV -std=c++17 -O3 -Xptxas=-v -Xcompiler=-fPIC --expt-relaxed-constexpr -lineinfo -I include -I src"
SRCS="$(ls src/cuda/instances/sm90_*.cu src/cuda/sm90/dev/fcdev.cu)"
NSRC=$(echo $SRCS | wc -w)
build() { # $1 = object dir, $2 = extra nvcc flags
  echo $SRCS | tr ' ' '\n' | xargs -P8 -I{} sh -c "$NV $2 -c {} -o $1/\$(basename {} .cu).o 2> $1/\$(basename {} .cu).ptxas"
}
build $BD "$A_FLAGS" & build $BD/b "$B_FLAGS" & wait
[ $(ls $BD/*.o $BD/b/*.o | wc -l) = $(( 2 * NSRC )) ] || { echo "BUILD FAILED" >> $LOG; cat $BD/*.ptxas $BD/b/*.ptxas >> $LOG; exit 1; }
nvcc -shared -o $BD/libfcdev.so $BD/*.o -lcudart && nvcc -shared -o $BD/libfcdev_b.so $BD/b/*.o -lcudart &&
  $NV -o $BD/sanity src/cuda/sm90/dev/sanity.cu $BD/*.o || { echo "LINK FAILED" >> $LOG; exit 1; }
echo "build: $(el) s" >> $LOG
cat $BD/*.ptxas > $OUT/ptxas.txt
{ echo "A $A_FLAGS (ptxas):"; grep -h "spill\|Used\|C75" $BD/*.ptxas | sort | uniq -c
  echo "B $B_FLAGS (ptxas):"; grep -h "spill\|Used\|C75" $BD/b/*.ptxas | sort | uniq -c; } >> $LOG
cuobjdump -sass $BD/sm90_fwd_bf16_hdim64.o > $X/sass_bf16_d64.txt 2>&1
grep -n "Function :\|HGMMA\|WARPGROUP\|STG\|BAR\.\(SYNC\|ARV\)" $X/sass_bf16_d64.txt | cut -c1-120 > $OUT/sass.txt
echo "SASS bf16 d64: HGMMA $(grep -c HGMMA $X/sass_bf16_d64.txt) LDL $(grep -c LDL $X/sass_bf16_d64.txt) STL $(grep -c STL $X/sass_bf16_d64.txt)" >> $LOG

# ---- correctness lanes ----
( PYTHONUNBUFFERED=1 timeout $(left $CHECK_DL) python3 src/cuda/sm90/dev/check.py $BD/libfcdev.so --no-bench > $OUT/check.txt 2>&1
  echo "check.py rc=$? at $(el) s" >> $OUT/check.txt ) &
( timeout $(left $CHECK_DL) $BD/sanity > $X/sanity.txt 2>&1; echo "sanity rc=$? $(tail -1 $X/sanity.txt)" > $X/san_0.txt ) &
for tool in memcheck racecheck synccheck; do
  ( timeout $(left $CHECK_DL) compute-sanitizer --tool $tool --error-exitcode 9 $BD/sanity > $X/san_$tool.txt 2>&1
    echo "dev sanity $tool rc=$? $(tail -1 $X/san_$tool.txt) at $(el) s" > $X/san_1$tool.txt ) &
done
( TG=""
  if [ -n "$PREBUILT" ] && [ -x "$PREBUILT/test_gpu" ] && ! LD_LIBRARY_PATH=$PREBUILT ldd $PREBUILT/test_gpu | grep -q "not found"; then
    TG=$PREBUILT/test_gpu; export LD_LIBRARY_PATH=$PREBUILT; echo "test_gpu: prebuilt ($PREBUILT)"
  else
    echo "test_gpu: cmake build"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFLASHCORE_CUDA=ON -DFLASHCORE_CUDA_ARCHS=90a-real \
      -DCMAKE_CUDA_FLAGS="$A_FLAGS" > $X/cmake.log 2>&1 &&
      timeout $(left $CHECK_DL) cmake --build build --target test_gpu -j 8 >> $X/cmake.log 2>&1 && TG=build/tests/test_gpu
    echo "cmake rc=$? at $(el) s"
  fi
  if [ -n "$TG" ]; then
    timeout $(left $CHECK_DL) $TG > $X/test_gpu.txt 2>&1; echo "test_gpu rc=$? at $(el) s: $(tail -2 $X/test_gpu.txt | tr '\n' ' ')"
    for tool in memcheck racecheck; do
      FC_TEST_QUICK=1 timeout $(left $CHECK_DL) compute-sanitizer --tool $tool --error-exitcode 9 $TG > $X/tg_$tool.txt 2>&1
      echo "test_gpu $tool rc=$? $(tail -1 $X/tg_$tool.txt) at $(el) s"
    done
  fi ) > $OUT/testgpu.txt 2>&1 &
wait
cat $X/san_0.txt $X/san_1*.txt > $OUT/san.txt 2>/dev/null
{ echo "correctness done at $(el) s"; cat $OUT/san.txt; cat $OUT/testgpu.txt
  echo "check FAIL lines: $(grep -c '^FAIL' $OUT/check.txt), ok lines: $(grep -c '^ok' $OUT/check.txt)"
  grep "^FAIL\|CHECKS\|rc=" $OUT/check.txt | head -20
  echo "max lse err over the checks: $(grep -o ' lse [0-9.e+-]*' $OUT/check.txt | awk '{print $2}' | sort -g | tail -1)"; } >> $LOG

# ---- A/B, alone on the GPU ----
FC_AB_LONG=${FC_AB_LONG:-few} PYTHONUNBUFFERED=1 timeout $(left $AB_DL) python3 src/cuda/sm90/dev/check.py $BD/libfcdev.so \
  --nopp $BD/libfcdev_b.so --ab-only > $OUT/ab.txt 2>&1
echo "A/B rc=$? at $(el) s" >> $LOG
grep "rows (" $OUT/ab.txt >> $LOG
tar -C $OUT -czf $OUT/rest.tar.gz x && rm -rf $X
