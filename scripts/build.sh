#!/usr/bin/env sh
# Configure and build flashcore into ./build (CUDA backend when nvcc is found; see README).
# Extra arguments are passed to cmake's configure step, e.g. -DFLASHCORE_CUDA=OFF.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$jobs"
