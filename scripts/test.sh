#!/usr/bin/env sh
# Build and run every test. GPU-labelled tests report "skipped" without a GPU.
# The last line is ctest's summary ("100% tests passed, 0 tests failed out of N").
set -eu
cd "$(dirname "$0")/.."
sh scripts/build.sh "$@"
ctest --test-dir build --output-on-failure -j 2
