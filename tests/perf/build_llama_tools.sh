#!/usr/bin/env bash
# Build llama.cpp's `llama-perplexity`, `llama-bench`, `llama-batched-bench`, `llama-server` and
# `rpc-server` from the very llama.cpp sources vendored in the installed llama-cpp-python version,
# into tests/perf/_build/ (cached between runs). The benchmarks measure Parley against them and the
# tests start the two servers on 127.0.0.1 as real third-party peers.
#
# Usage: tests/perf/build_llama_tools.sh [PYTHON]   (PYTHON defaults to .venv/bin/python)
# Prints the folder holding the binaries on its last line of stdout.
# Environment: JOBS (default 2), LLAMA_SDIST_DIR (an unpacked sdist to use instead of looking).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${1:-$ROOT/.venv/bin/python}"
JOBS="${JOBS:-2}"
BUILD_ROOT="$ROOT/tests/perf/_build"

VERSION="$("$PYTHON" -c 'import llama_cpp; print(llama_cpp.__version__)')"
OUT="$BUILD_ROOT/llama.cpp-$VERSION"
BIN="$OUT/cmake/bin"          # llama.cpp puts executables in <build>/bin
TOOLS=(llama-perplexity llama-bench llama-batched-bench llama-server rpc-server)
# CMake targets; the RPC server's target is ggml-rpc-server, linked as rpc-server below.
TARGETS=(llama-perplexity llama-bench llama-batched-bench llama-server ggml-rpc-server)

have_all() {
    for tool in "${TOOLS[@]}"; do [[ -x "$BIN/$tool" ]] || return 1; done
}

if have_all; then
    echo "$BIN"
    exit 0
fi

find_sources() {
    local candidates=()
    [[ -n "${LLAMA_SDIST_DIR:-}" ]] && candidates+=("$LLAMA_SDIST_DIR")
    candidates+=("/tmp/llama_cpp_python-$VERSION" "$BUILD_ROOT/sdist/llama_cpp_python-$VERSION")
    for dir in "${candidates[@]}"; do
        if [[ -f "$dir/vendor/llama.cpp/CMakeLists.txt" ]]; then
            echo "$dir/vendor/llama.cpp"
            return 0
        fi
    done
    return 1
}

if ! SRC="$(find_sources)"; then
    mkdir -p "$BUILD_ROOT/sdist"
    echo "downloading the llama-cpp-python $VERSION sdist ..." >&2
    "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: \
        "llama-cpp-python==$VERSION" -d "$BUILD_ROOT/sdist" >&2
    tar -xzf "$BUILD_ROOT/sdist/llama_cpp_python-$VERSION.tar.gz" -C "$BUILD_ROOT/sdist"
    SRC="$(find_sources)" || { echo "no vendored llama.cpp in the sdist" >&2; exit 1; }
fi

echo "building ${TARGETS[*]} from $SRC (-j$JOBS) ..." >&2
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
cmake -S "$SRC" -B "$OUT/cmake" "${GENERATOR[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DGGML_RPC=ON \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF >&2   # no web UI: no download
cmake --build "$OUT/cmake" --config Release --target "${TARGETS[@]}" -j "$JOBS" >&2
ln -sf ggml-rpc-server "$BIN/rpc-server"

have_all || { echo "build finished but the tools are missing from $BIN" >&2; exit 1; }
echo "$VERSION" > "$OUT/VERSION"
echo "$BIN"
