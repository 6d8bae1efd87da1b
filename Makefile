# Parley — `make run` opens the app, `make test` runs the whole suite. Both do all the set-up
# (a .venv with the project, llama-cpp-python compiled from source, the starter model).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.parley-installed
# GPU builds: CMAKE_ARGS="-DGGML_CUDA=on" make rebuild-llama   (see README)
export CMAKE_ARGS

.PHONY: run test test-fast lint bench screenshots rebuild-llama clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing Parley; the first time pip compiles llama.cpp (several minutes)…"
	$(PY) -m pip install --quiet -e ".[dev,starter]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/parley --model starter

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

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
