"""The real chat templates llama.cpp keeps in `models/templates/`, from the llama.cpp vendored in
the installed llama-cpp-python's sdist.

Found where `tests/perf/build_llama_tools.sh` looks for an unpacked sdist (`LLAMA_SDIST_DIR`,
`/tmp/llama_cpp_python-VERSION`, `tests/perf/_build/sdist/llama_cpp_python-VERSION`); else the
sdist is fetched once with pip into `tests/perf/_build/sdist/` (gitignored) and only its
`models/templates/*.jinja` are extracted, next to it. A missing sdist fails loudly: the
conformance test never passes by finding no templates.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "tests" / "perf" / "_build" / "sdist"
_INSIDE = ("vendor", "llama.cpp", "models", "templates")
FETCH_TIMEOUT_S = 600


def llama_cpp_version() -> str:
    return importlib.metadata.version("llama-cpp-python")


def template_files() -> list[Path]:
    """Every `.jinja` template, sorted by name (fetching the sdist first if need be)."""
    files = sorted(templates_dir().glob("*.jinja"))
    if not files:
        raise RuntimeError(f"no .jinja templates in {templates_dir()}")
    return files


def templates_dir() -> Path:
    version = llama_cpp_version()
    for unpacked in _unpacked_candidates(version):
        folder = unpacked.joinpath(*_INSIDE)
        if any(folder.glob("*.jinja")):
            return folder
    extracted = CACHE / f"llama-templates-{version}"
    if not any(extracted.glob("*.jinja")):
        _extract_templates(_sdist(version), extracted)
    return extracted


def _unpacked_candidates(version: str) -> list[Path]:
    found = [Path(os.environ["LLAMA_SDIST_DIR"])] if os.environ.get("LLAMA_SDIST_DIR") else []
    return found + [Path(tempfile.gettempdir()) / f"llama_cpp_python-{version}",
                    CACHE / f"llama_cpp_python-{version}"]


def _sdist(version: str) -> Path:
    tarball = CACHE / f"llama_cpp_python-{version}.tar.gz"
    if tarball.is_file():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
         ":all:", f"llama-cpp-python=={version}", "-d", str(CACHE)],
        capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not tarball.is_file():
        raise RuntimeError(f"could not fetch the llama-cpp-python {version} sdist with pip: "
                           f"{(done.stderr or done.stdout).strip()[-500:]}")
    return tarball


def _extract_templates(tarball: Path, dest: Path) -> None:
    """Only models/templates/*.jinja, each under its own base name, written all at once."""
    staging = Path(tempfile.mkdtemp(prefix=dest.name + "-", dir=dest.parent))
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            parts = PurePosixPath(member.name).parts
            if member.isfile() and parts[1:-1] == _INSIDE and parts[-1].endswith(".jinja"):
                data = archive.extractfile(member)
                if data is not None:
                    (staging / parts[-1]).write_bytes(data.read())
    if not any(staging.glob("*.jinja")):
        raise RuntimeError(f"{tarball.name} holds no {'/'.join(_INSIDE)}/*.jinja")
    if dest.exists():           # an earlier, interrupted extraction left an empty folder
        for path in staging.iterdir():
            path.replace(dest / path.name)
        staging.rmdir()
    else:
        staging.replace(dest)
