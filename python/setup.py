"""Build hook of the flashcore Python package: put a libflashcore next to the Python code.

`pip install ./python` (from a checkout of the repository) runs this during build_py:

- FLASHCORE_LIBRARY=/path/libflashcore.so   bundle that file (no build);
- FLASHCORE_BUNDLE=0                        bundle nothing: the package then finds the library at
                                            run time (FLASHCORE_LIBRARY, the checkout's build/,
                                            the system loader);
- otherwise                                 configure and build the library with CMake from the
                                            repository (the parent of this folder) into
                                            python/build/cmake and bundle the result.
  FLASHCORE_CMAKE_ARGS adds configure arguments (e.g. "-DFLASHCORE_CUDA=OFF" for a quick
  CPU-only build; the default AUTO builds the CUDA backend when nvcc is found) and
  CMAKE_BUILD_PARALLEL_LEVEL sets the build's jobs (default: all cores).
"""
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HEADER = REPO / "include" / "flashcore.h"


def _version() -> str:
    if HEADER.is_file():
        text = HEADER.read_text()
        parts = [re.search(rf"#define FLASHCORE_VERSION_{p} (\d+)", text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
        return ".".join(parts)
    m = re.search(r'__version__ = "([^"]+)"', (HERE / "flashcore" / "__init__.py").read_text())
    return m.group(1)


def _bundle_wanted() -> bool:
    return os.environ.get("FLASHCORE_BUNDLE", "1") not in ("0", "no", "off", "false")


def _build_library() -> Path:
    if not (REPO / "CMakeLists.txt").is_file():
        raise RuntimeError("flashcore: the C sources are not beside this package (install from a checkout of the "
                           "repository), or set FLASHCORE_LIBRARY to a built libflashcore.so, or FLASHCORE_BUNDLE=0")
    cmake = shutil.which("cmake")
    if not cmake:
        raise RuntimeError("flashcore: cmake is needed to build libflashcore (or set FLASHCORE_LIBRARY)")
    build = Path(os.environ.get("FLASHCORE_BUILD_DIR", HERE / "build" / "cmake"))
    args = [cmake, "-S", str(REPO), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
            "-DFLASHCORE_BUILD_TESTS=OFF", "-DFLASHCORE_BUILD_TOOLS=OFF"]
    args += shlex.split(os.environ.get("FLASHCORE_CMAKE_ARGS", ""))
    subprocess.run(args, check=True)
    jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    subprocess.run([cmake, "--build", str(build), "--target", "flashcore", "-j", jobs], check=True)
    return build / "libflashcore.so"


class BuildPyWithLibrary(build_py):
    """build_py, then bundle libflashcore as flashcore/lib/libflashcore.so."""

    def run(self):
        super().run()
        if not _bundle_wanted():
            return
        given = os.environ.get("FLASHCORE_LIBRARY")
        src = Path(given) if given else _build_library()
        if not src.is_file():
            raise RuntimeError(f"flashcore: {src} does not exist")
        dst = Path(self.build_lib) / "flashcore" / "lib"
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src.resolve(), dst / "libflashcore.so")  # the real file, not the symlink chain
        print(f"flashcore: bundled {src.resolve()} as {dst / 'libflashcore.so'}")


class BinaryDistribution(Distribution):
    """The wheel carries a native library: tag it for this platform."""

    def has_ext_modules(self):
        return _bundle_wanted()


setup(version=_version(), cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
