#!/bin/sh
# Install into a temporary prefix, then build a consumer through find_package(flashcore) and through
# pkg-config, and run both. Usage: test_install.sh <build dir> <source dir>
set -eu
build=$1; src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/flashcore.h"
lib=$(ls -d "$tmp"/prefix/lib*/ | head -n 1)
test -f "$lib/libflashcore.a"
cmake -S "$src/tests/install_consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
LD_LIBRARY_PATH="$lib" "$tmp/consumer/consumer"
if command -v pkg-config >/dev/null; then
  export PKG_CONFIG_PATH="$lib/pkgconfig"
  cc -std=c11 "$src/tests/install_consumer/main.c" $(pkg-config --cflags --libs flashcore) -o "$tmp/pc_consumer"
  LD_LIBRARY_PATH="$lib" "$tmp/pc_consumer"
  echo "pkg-config consumer ok"
else
  echo "pkg-config not installed: pkg-config consumer not tried"
fi
echo "install test passed"
