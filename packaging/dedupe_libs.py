"""Turn identical copies of a shared library into symlinks (libfoo.so -> libfoo.so.0.1.2).

Wheels cannot hold symlinks, so pip installs llama_cpp/lib/libggml.so, libggml.so.0 and
libggml.so.0.25.3 as three identical files. Besides tripling the size, two of them get *loaded*:
libllama needs `libggml.so.0` while llama_cpp._ggml opens `libggml.so`, giving the process two
libggml copies with separate backend registries. With symlinks, both names resolve to one file,
which the dynamic loader maps once.

    python packaging/dedupe_libs.py DIR [DIR …]      (POSIX only; a no-op on Windows)
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def dedupe(folder: Path) -> int:
    """Replace duplicates in `folder` by symlinks to the longest-named copy; the bytes saved."""
    if os.name == "nt" or not folder.is_dir():
        return 0
    groups: dict[tuple[int, str], list[Path]] = {}
    for path in folder.iterdir():
        is_lib = ".so" in path.name or path.name.endswith(".dylib")
        if is_lib and path.is_file() and not path.is_symlink():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            groups.setdefault((path.stat().st_size, digest), []).append(path)
    saved = 0
    for (size, _), paths in groups.items():
        if len(paths) < 2:
            continue
        target = max(paths, key=lambda p: (len(p.name), p.name))   # libx.so.0.25.3
        for path in paths:
            if path != target:
                path.unlink()
                path.symlink_to(target.name)
                saved += size
    return saved


def main(argv: list[str]) -> int:
    for arg in argv:
        saved = dedupe(Path(arg))
        print(f"{arg}: {saved / 1e6:.1f} MB of duplicate libraries replaced by symlinks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
