"""`parley --version`: Parley's version and the llama.cpp build it runs on.

    Parley 0.1.0 · llama-cpp-python 0.3.36 · llama.cpp 0c1e570 (ggml 0.25.3) · CPU backend:
    haswell (AVX2, FMA …) · GPU: none · Python 3.11.7 · bundled

* llama.cpp commit: `ggml_commit()` (the vendored llama.cpp commit llama-cpp-python was cut
  from). llama.cpp's build *number* is only compiled into its `common` library, which
  llama-cpp-python does not ship, so it is not available.
* CPU backend: with a portable build (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS) the
  `ggml-cpu-<variant>` module ggml chose for this CPU; with a normal build "built-in".
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import platform
import re
import sys
from dataclasses import asdict, dataclass

FALLBACK_VERSION = "0.1.0"   # used only when the package metadata is missing (keep in sync)


@dataclass(frozen=True)
class VersionInfo:
    parley: str
    llama_cpp_python: str
    llama_cpp_commit: str | None   # e.g. "0c1e570"; None if the library does not say
    ggml_version: str | None       # e.g. "0.25.3"
    cpu_backend: str               # "haswell", "zen4", "x64" … or "built-in"
    cpu_features: str              # "AVX2, FMA, F16C" (from llama.cpp's system info)
    gpu_backend: str               # "CUDA", "Metal", "Vulkan" … or "none"
    backends: tuple[str, ...]      # registered ggml backends
    python: str
    platform: str
    bundled: bool                  # running from a PyInstaller bundle

    def line(self) -> str:
        commit = f"llama.cpp {self.llama_cpp_commit}" if self.llama_cpp_commit else "llama.cpp"
        ggml = f" (ggml {self.ggml_version})" if self.ggml_version else ""
        features = f" ({self.cpu_features})" if self.cpu_features else ""
        return (f"Parley {self.parley} · llama-cpp-python {self.llama_cpp_python} · {commit}{ggml}"
                f" · CPU backend: {self.cpu_backend}{features} · GPU: {self.gpu_backend}"
                f" · Python {self.python} · {self.platform}"
                f"{' · bundled' if self.bundled else ''}")

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["backends"] = list(self.backends)
        return data


def parley_version() -> str:
    try:
        return importlib.metadata.version("parley")
    except importlib.metadata.PackageNotFoundError:
        return FALLBACK_VERSION


def version_info() -> VersionInfo:
    """Initialises llama.cpp's backends (cheap, no model) and describes the build."""
    import llama_cpp

    from inference.llama.backends import ggml_symbol, load_cpu_backends
    from inference.llama.native import build_info, ensure_backend

    ensure_backend()                 # llama.cpp's log goes to Parley's log from here on
    variant = load_cpu_backends()    # no-op when ensure_backend() already did it
    build = build_info()
    version = ggml_symbol("ggml_version", ctypes.c_char_p, [])
    commit = ggml_symbol("ggml_commit", ctypes.c_char_p, [])
    return VersionInfo(
        parley=parley_version(),
        llama_cpp_python=llama_cpp.__version__,
        llama_cpp_commit=_text(commit),
        ggml_version=_text(version),
        cpu_backend=variant or "built-in",
        cpu_features=cpu_features(build.system_info),
        gpu_backend=build.backend if build.backend != "CPU" else "none",
        backends=build.backends,
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        bundled=bool(getattr(sys, "frozen", False)),
    )


def cpu_features(system_info: str) -> str:
    """The SIMD features llama.cpp reports as on: 'AVX2, FMA, F16C …' (most telling first)."""
    on = re.findall(r"([A-Z0-9_]+) = 1", system_info)
    wanted = ("AVX512", "AVX_VNNI", "AVX2", "AVX", "FMA", "F16C", "SSE3", "NEON", "ARM_FMA",
              "DOTPROD", "MATMUL_INT8", "SVE", "SME", "ACCELERATE", "METAL")
    picked = [f for f in wanted if f in on]
    return ", ".join(picked[:4]) + (" …" if len(picked) > 4 else "")


def version_text() -> str:
    return version_info().line()


def _text(fn: object) -> str | None:
    if fn is None:
        return None
    try:
        raw = fn()   # type: ignore[operator]
    except Exception:  # an older library without the symbol's expected signature
        return None
    return raw.decode("utf-8", "replace") if raw else None


def main(argv: list[str] | None = None) -> int:
    import json

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        info = version_info()
    except Exception as exc:  # e.g. a bundle missing libllama: one line, not a traceback
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"Parley {parley_version()} · llama.cpp can't be loaded: {reason}",
              file=sys.stderr)
        return 1
    print(json.dumps(info.to_dict(), indent=2) if "--json" in args else info.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
