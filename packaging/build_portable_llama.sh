#!/usr/bin/env bash
# Build llama-cpp-python for *bundling*: a llama.cpp that runs on any CPU of the platform, not
# only on the build machine's. The result goes into its own folder (never into .venv):
#
#   build/portable/wheelhouse/llama_cpp_python-*.whl   the wheel (upload it / pip install it in CI)
#   build/portable/site/llama_cpp/…                    that wheel unpacked; `make bundle` uses it
#                                                      when present (PARLEY_LLAMA_SITE overrides)
#
# Why these flags (and the traps they avoid):
#   * GGML_NATIVE=OFF alone is NOT portable: ggml then turns AVX, AVX2, FMA, F16C, BMI2 on by
#     default, so the library dies with SIGILL on pre-Haswell x86 CPUs.
#   * GGML_BACKEND_DL=ON + GGML_CPU_ALL_VARIANTS=ON build one libggml-cpu-<variant> per CPU
#     generation (x64, sse42, sandybridge, haswell, skylakex, icelake, zen4, alderlake, …) and pick
#     the best one at run time (each exports ggml_backend_score()).
#   * llama-cpp-python 0.3.36 installs those backend modules with CMAKE_INSTALL_BINDIR, i.e. into
#     site-packages/bin, not llama_cpp/lib, and ggml only searches the *executable's* folder and
#     the current directory, so by default no CPU backend is found ("no backends are loaded").
#     We install them next to libggml (CMAKE_INSTALL_BINDIR=llama_cpp/lib) and Parley calls
#     ggml_backend_load_all_from_path(<that folder>) through llama_cpp's own libggml before the
#     first model load (inference/llama/backends.py). See llama-cpp-python issue #2069.
#
# Usage: packaging/build_portable_llama.sh            (Linux/macOS; on Windows run it in Git Bash)
#   env: PYTHON (default .venv/bin/python), OUT (default build/portable), JOBS (default 2),
#        SDIST (a llama-cpp-python sdist .tar.gz or unpacked folder; default: pip downloads it),
#        EXTRA_CMAKE_ARGS (e.g. "-DGGML_VULKAN=ON" for a GPU build on top of the CPU variants).
# Slow: ~14 CPU variants are compiled. Re-running reuses the CMake build folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
OUT="${OUT:-$ROOT/build/portable}"
JOBS="${JOBS:-2}"
VERSION="$("$PY" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null \
           || echo 0.3.36)"

case "$(uname -s)-$(uname -m)" in
    Darwin-arm64)
        # Every Apple-silicon CPU has NEON + dotprod; Metal is forced on by llama-cpp-python.
        PORTABLE="-DGGML_NATIVE=OFF" ;;
    Darwin-x86_64)
        # llama-cpp-python turns AVX/AVX2/FMA/F16C off for Intel Macs itself.
        PORTABLE="-DGGML_NATIVE=OFF -DGGML_METAL=OFF" ;;
    *)
        PORTABLE="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON" ;;
esac
# Backend modules next to libggml; $ORIGIN so they find libggml-base.so wherever they are copied.
export CMAKE_ARGS="$PORTABLE -DCMAKE_INSTALL_BINDIR=llama_cpp/lib -DLLAMA_BUILD_TESTS=OFF \
-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DGGML_RPC=ON ${EXTRA_CMAKE_ARGS:-}"
case "$(uname -s)" in Linux) CMAKE_ARGS="$CMAKE_ARGS -DCMAKE_INSTALL_RPATH=\$ORIGIN" ;; esac
export CMAKE_BUILD_PARALLEL_LEVEL="$JOBS"

mkdir -p "$OUT/wheelhouse" "$OUT/src"
if [ -z "${SDIST:-}" ]; then
    "$PY" -m pip download --quiet --no-deps --no-binary :all: -d "$OUT/src" \
        "llama-cpp-python==$VERSION"
    SDIST="$(ls "$OUT"/src/llama_cpp_python-"$VERSION".tar.gz)"
fi
if [ -f "$SDIST" ]; then
    # Unpack to a fixed folder (pip would use a new random temp folder each time, and a reused
    # CMake build folder refuses a different source folder). The build writes into this copy.
    SRC="$OUT/src/llama_cpp_python-$VERSION"
    [ -f "$SRC/CMakeLists.txt" ] || tar -C "$OUT/src" -xzf "$SDIST"
    rm -rf "$SRC/llama_cpp/lib"   # the last build installed here too; the wheel would pick it up
else
    SRC="$SDIST"   # an unpacked sdist: NB the build installs libraries into its llama_cpp/lib
fi

echo "== llama-cpp-python $VERSION from $SRC"
echo "== CMAKE_ARGS=$CMAKE_ARGS"
start=$(date +%s)
rm -f "$OUT"/wheelhouse/llama_cpp_python-*.whl
# --no-cache-dir: pip's wheel cache is keyed by the sdist, not by CMAKE_ARGS, so a cached
# native (-march=native) wheel would silently be reused otherwise.
"$PY" -m pip wheel --no-deps --no-cache-dir -v -w "$OUT/wheelhouse" \
    --config-settings=build-dir="$OUT/cmake-build" "$SRC"
echo "== compiled in $(( $(date +%s) - start )) s"

WHEEL="$(ls "$OUT"/wheelhouse/llama_cpp_python-*.whl)"
rm -rf "$OUT/site"
"$PY" -m pip install --quiet --no-deps --no-compile --target "$OUT/site" "$WHEEL"
# Belt and braces for a wheel built without the CMAKE_INSTALL_BINDIR fix: move stray backends.
if [ -d "$OUT/site/bin" ]; then
    find "$OUT/site/bin" -maxdepth 1 -name '*ggml-*' -exec mv -f {} "$OUT/site/llama_cpp/lib/" \;
fi
rm -rf "$OUT/site/include" "$OUT/site/lib/cmake"
"$PY" "$ROOT/packaging/dedupe_libs.py" "$OUT/site/llama_cpp/lib"   # one libggml copy per process
echo "== backends in $OUT/site/llama_cpp/lib:"
ls "$OUT/site/llama_cpp/lib" | grep -E 'ggml-(cpu|cuda|vulkan|metal|blas|hip)' || echo "(none: single-library build)"
echo "== wheel: $WHEEL ($(du -h "$WHEEL" | cut -f1))"
