"""Load ggml's dynamically built backends (portable release builds) into llama.cpp's own registry.

Release bundles ship llama.cpp built with GGML_BACKEND_DL=ON and GGML_CPU_ALL_VARIANTS=ON
(packaging/build_portable_llama.sh): instead of one CPU backend compiled for the build machine,
there is one `libggml-cpu-<variant>` module per CPU generation (x64, sse42, sandybridge, haswell,
skylakex, icelake, zen4, alderlake, …), plus any GPU backend modules, and ggml picks the best one
at run time through each module's `ggml_backend_score()`.

ggml only looks for those modules next to the *executable* and in the current directory, which
for Python is neither the interpreter's folder nor llama_cpp's `lib/` folder, so without help no
CPU backend is found and every model load fails ("no backends are loaded"; llama-cpp-python
issue #2069). `load_cpu_backends()` calls `ggml_backend_load_all_from_path(<folder>)` on the
folder that holds them, before the first model load.

The call must go through the libggml copy that libllama itself uses. A pip-installed wheel holds
`libggml.so`, `libggml.so.0` and `libggml.so.0.x.y` as three separate *files* (wheels cannot hold
symlinks); libllama loads `libggml.so.0`, while `ctypes.CDLL(".../libggml.so")` (as
`llama_cpp._ggml` does) maps a second copy with its own, empty, backend registry. So symbols are
resolved through libllama's handle, whose lookup scope is libllama and its dependencies.

With a normal (single-library) build there are no variant modules and this is a no-op.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

ENV_DIR = "PARLEY_GGML_BACKEND_DIR"   # an extra folder to load backend modules from (first)
_PREFIX = "" if sys.platform == "win32" else "lib"
_SUFFIX = ".dll" if sys.platform == "win32" else ".so"   # ggml uses .so on macOS too
_VARIANT = re.compile(rf"^{_PREFIX}ggml-cpu-(?P<variant>[A-Za-z0-9_.]+){re.escape(_SUFFIX)}$")

_lock = threading.Lock()
_done = False
_variant: str | None = None


def llama_lib_dir() -> Path:
    """llama_cpp's `lib/` folder (inside a PyInstaller bundle: `_internal/llama_cpp/lib`)."""
    import llama_cpp

    return Path(llama_cpp.__file__).resolve().parent / "lib"


def backend_dirs() -> list[Path]:
    """Folders that may hold `ggml-cpu-*` modules, most specific first.

    `$PARLEY_GGML_BACKEND_DIR`; llama_cpp/lib (where packaging/build_portable_llama.sh puts them);
    and site-packages/bin, where llama-cpp-python 0.3.36 installs them by default.
    """
    dirs = []
    if os.environ.get(ENV_DIR):
        dirs.append(Path(os.environ[ENV_DIR]).expanduser())
    lib = llama_lib_dir()
    dirs += [lib, lib.parent.parent / "bin"]
    return dirs


def cpu_variant_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if _VARIANT.match(p.name))
    except OSError:
        return []


def ggml_symbol(name: str, restype: object, argtypes: list[object]) -> ctypes._CFuncPtr | None:
    """A function of the libggml copy libllama is linked against (None if not exported)."""
    from llama_cpp import llama_cpp as bindings

    libs: list[ctypes.CDLL] = [bindings._lib]          # dlsym(libllama) searches its deps too
    if sys.platform == "win32":                        # GetProcAddress does not: ggml.dll is
        try:                                           # already loaded, so this is the same one
            libs.insert(0, ctypes.CDLL(str(llama_lib_dir() / "ggml.dll")))
        except OSError:
            pass
    for lib in libs:
        try:
            fn = getattr(lib, name)
        except AttributeError:
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        return fn
    return None


def load_cpu_backends() -> str | None:
    """Load the best CPU variant (and any GPU backend modules) found beside llama_cpp's libraries.

    Returns the chosen variant's name ("haswell", "zen4", "x64" …), or None when the build has no
    variant modules (a no-op then). Idempotent and thread-safe; call it before the first model load.
    """
    global _done, _variant
    with _lock:
        if _done:
            return _variant
        _done = True
        folder = next((d for d in backend_dirs() if cpu_variant_files(d)), None)
        if folder is None:
            return None
        load_from = ggml_symbol("ggml_backend_load_all_from_path", None, [ctypes.c_char_p])
        if load_from is None:
            log.warning("llama.cpp has ggml-cpu variants in %s but no ggml_backend_load_all_"
                        "from_path; relying on ggml's own search", folder)
            return None
        if not _cpu_registered():
            load_from(os.fsencode(folder))
        _variant = loaded_cpu_variant() or "unknown"
        if not _cpu_registered():
            log.error("no ggml CPU backend could be loaded from %s (is this CPU older than the "
                      "oldest variant, or are libraries missing?)", folder)
            _variant = None
        else:
            log.info("ggml CPU backend: %s (from %s)", _variant, folder)
        return _variant


def loaded_cpu_variant() -> str | None:
    """Which `ggml-cpu-<variant>` module this process has mapped, or None (none / unknown)."""
    for path in _mapped_files():
        match = _VARIANT.match(Path(path).name)
        if match:
            return match.group("variant")
    return None


def _cpu_registered() -> bool:
    by_name = ggml_symbol("ggml_backend_reg_by_name", ctypes.c_void_p, [ctypes.c_char_p])
    return bool(by_name and by_name(b"CPU"))


def _mapped_files() -> list[str]:
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
                return [line.split(maxsplit=5)[5].strip() for line in maps
                        if line.count(" ") >= 5 and "ggml" in line]
        except (OSError, IndexError):
            pass
    try:
        import psutil

        return [m.path for m in psutil.Process().memory_maps(grouped=True) if "ggml" in m.path]
    except Exception:  # psutil cannot list mappings on every platform
        return []
