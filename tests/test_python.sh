#!/usr/bin/env sh
# ctest hook: the Python package's tests (tests/python) against the library of this build.
# Usage: test_python.sh <build dir> <source dir>. Exit 77 (skipped) without numpy or pytest.
# GPU tests inside skip themselves without torch/CuPy or a GPU.
set -u
build=$1
src=$2
py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
  echo "test_python: $py not found: skipped"
  exit 77
fi
if ! "$py" -c "import numpy, pytest" >/dev/null 2>&1; then
  echo "test_python: numpy and pytest are needed ($py -m pip install numpy pytest): skipped"
  exit 77
fi
lib="$build/libflashcore.so"
if [ ! -f "$lib" ]; then
  echo "test_python: $lib not found"
  exit 1
fi
cd "$src" || exit 1
FLASHCORE_LIBRARY="$lib"
PYTHONPATH="$src/python${PYTHONPATH:+:$PYTHONPATH}"
export FLASHCORE_LIBRARY PYTHONPATH
exec "$py" -m pytest -q -p no:cacheprovider tests/python
