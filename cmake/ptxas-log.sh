#!/bin/sh
# CUDA compiler launcher: runs the nvcc command given after the log folder and keeps its stderr
# (ptxas -v resource report) in <log folder>/<object name>.log, while still showing it.
logdir=$1; shift
out=
prev=
for a in "$@"; do
  [ "$prev" = "-o" ] && out=$a
  prev=$a
done
name=$(basename "${out:-unknown}")
"$@" 2> "$logdir/$name.log"
rc=$?
cat "$logdir/$name.log" >&2
exit $rc
