#!/usr/bin/env sh
# The main job: build, then show the build, check correctness on random inputs and benchmark the
# seed sweep, on the GPU when one is present, else on the CPU.
set -eu
cd "$(dirname "$0")/.."
sh scripts/build.sh "$@"
./build/flashcore info
./build/flashcore check --batch 1 --heads 8 --seqlen 512 --head-dim 64 --dtype fp16 --lse
./build/flashcore check --batch 2 --heads 8 --kv-heads 2 --seqlen-q 300 --seqlen-k 700 --head-dim 128 --dtype bf16 --causal
./build/flashcore bench --sweep seed
