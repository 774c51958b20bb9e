#!/bin/bash
# Dev-only, one device call: the library (cmake, sm_90a) builds in the background while run.sh
# builds the dev harness and runs its sanitizers and checks (flags: check.py's, e.g. --ws-ab); then
# scripts/gpu-check.sh on that build (the shared suite, memcheck/racecheck of test_gpu*, compare.py
# on $FC_SWEEPS, default seed). Everything lands in $OUT as at most 8 files (the rest in a tarball).
OUT=${OUT:-/tmp/out}; mkdir -p $OUT/x
(cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFLASHCORE_CUDA=ON -DFLASHCORE_CUDA_ARCHS=90a-real > $OUT/x/cmake.log 2>&1 &&
 cmake --build build -j 6 >> $OUT/x/cmake.log 2>&1; echo "cmake build rc=$?" >> $OUT/x/cmake.log) &
OUT=$OUT/x NO_B=1 bash src/cuda/sm90/dev/run.sh "$@" > $OUT/run.log 2>&1
wait
tail -1 $OUT/x/cmake.log
export FC_COMMIT=${FC_COMMIT:-dev}
FC_SWEEPS=${FC_SWEEPS:-seed} BUILD_DIR=build FC_CHECK_BUDGET=${FC_CHECK_BUDGET:-240} CMAKE_ARGS=-DFLASHCORE_CUDA_ARCHS=90a-real \
  bash scripts/gpu-check.sh $OUT/gc > $OUT/gc.log 2>&1
cp $OUT/x/check.txt $OUT/check.txt 2>/dev/null
cp $OUT/gc/summary.txt $OUT/gc-summary.txt 2>/dev/null
mv $OUT/gc $OUT/x/; tar -C $OUT -czf $OUT/rest.tar.gz x && rm -rf $OUT/x
grep -E "sanitizer|SANITY|FAIL lines|CHECKS|build:" $OUT/run.log; sed -n '/seed S (f16, graph/,$p' $OUT/run.log; cat $OUT/gc-summary.txt
