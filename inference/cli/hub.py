"""`parley search`, `parley files`, `parley download`: the Hugging Face hub from the terminal.

These are the only commands that open a network connection. `download` writes a `.part` file
with a progress bar on stderr (when it is a terminal); Ctrl-C pauses it and running the same
command again resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inference.cli.common import print_json
from inference.common.errors import GGUFError, ParleyError
from inference.common.paths import parley_paths
from inference.gguf.file import read_gguf
from inference.hub.downloads import (
    DownloadProgress,
    download_check,
    download_model,
    part_path,
    targets_for,
)
from inference.hub.search import HubFile, list_gguf_files, search_models, size_fit
from inference.library.library import FitSettings
from inference.memory.fit import human_bytes


@dataclass(frozen=True)
class Command:
    """A subcommand as `inference.cli` expects one (HELP, register, run)."""

    HELP: str
    register: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --- search ------------------------------------------------------------------------------------


def _register_search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="words in the repo name")
    parser.add_argument("--limit", type=int, default=30, metavar="N")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _run_search(args: argparse.Namespace) -> int:
    models = search_models(args.query, limit=args.limit)
    if args.json:
        print_json([vars(m) | {"tags": list(m.tags)} for m in models])
        return 0
    if not models:
        print(f"No GGUF model repos match {args.query!r}.")
        return 0
    width = max(len(m.repo_id) for m in models)
    for m in models:
        print(f"{m.repo_id:<{width}}  {m.downloads or 0:>10,} downloads  {m.likes or 0:>6,} likes")
    return 0


# --- files -------------------------------------------------------------------------------------


def _register_files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repo", metavar="REPO", help="a model repo, e.g. org/Model-GGUF")
    parser.add_argument("--ctx", type=int, default=4096, metavar="N")
    parser.add_argument("--gpu-layers", type=int, default=0, metavar="N")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _run_files(args: argparse.Namespace) -> int:
    files = list_gguf_files(args.repo)
    settings = FitSettings.detect(args.ctx, args.gpu_layers)
    fits = [size_fit(f.size, settings) for f in files]
    if args.json:
        print_json([f.to_dict() | {"fit": None if v is None else
                                   {"fit": v.fit.value, "message": v.message}}
                    for f, v in zip(files, fits, strict=True)])
        return 0
    if not files:
        print(f"{args.repo} has no GGUF files.")
        return 0
    width = max(len(f.filename) for f in files)
    for f, verdict in zip(files, fits, strict=True):
        size = human_bytes(f.size) if f.size is not None else "size unknown"
        parts = f"  ({len(f.parts)} parts)" if f.is_split else ""
        unchecked = "" if f.verifiable else "  (no sha256 on the hub: not verified)"
        print(f"{f.filename:<{width}}  {f.quant or '—':<8}  {size:>12}  "
              f"{verdict.message if verdict else ''}{parts}{unchecked}")
    return 0


# --- download ----------------------------------------------------------------------------------


def _register_download(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repo", metavar="REPO", help="a model repo, e.g. org/Model-GGUF")
    parser.add_argument("file", metavar="FILE",
                        help="a .gguf file in the repo, or its quant label (e.g. Q4_K_M)")
    parser.add_argument("--dest", metavar="DIR", type=Path, default=None,
                        help="folder to download into (default: Parley's models folder)")
    parser.add_argument("--json", action="store_true",
                        help="machine-readable result (path, what was checked)")


def _run_download(args: argparse.Namespace) -> int:
    file = pick_file(list_gguf_files(args.repo), args.file, args.repo)
    dest = args.dest or parley_paths().ensure().models
    targets = targets_for(file, dest)              # a name that is a path: refused here
    bar = _ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    size = human_bytes(file.size) if file.size is not None else \
        "size unknown: the hub lists none, so only the size it sends can be checked"
    print(f"Downloading {file.filename} ({size}) from {file.repo_id} into {dest}",
          file=sys.stderr)
    try:
        path = download_model(file, dest, progress=bar)
    except KeyboardInterrupt:
        if bar:
            bar.clear()
        kept = sum(p.stat().st_size for t in targets if (p := part_path(t)).exists())
        print(f"parley download: paused ({human_bytes(kept)} kept); run the same command "
              "again to resume", file=sys.stderr)
        return 130
    finally:
        if bar:
            bar.clear()
    check = download_check(file, dest)
    try:
        info = read_gguf(path)
        facts = f" ({info.architecture}, {info.quant})"
        arch, quant = info.architecture, info.quant
    except GGUFError:
        facts, arch, quant = "", None, None
    if args.json:
        print_json({"path": str(path), "repo_id": file.repo_id, "filename": file.filename,
                    "size": sum(t.stat().st_size for t in targets), "check": check.value,
                    "verified": check.verified, "note": check.words,
                    "architecture": arch, "quant": quant})
        return 0
    print(f"{path}{facts}" + ("" if check.verified else f" — {check.words}"))
    return 0


def pick_file(files: list[HubFile], wanted: str, repo: str) -> HubFile:
    """The file named (path or base name), else the one file with that quant label."""
    for f in files:
        if wanted in (f.filename, f.name) or any(wanted == p.filename for p in f.parts):
            return f
    by_quant = [f for f in files if f.quant and f.quant.lower() == wanted.lower()]
    if len(by_quant) == 1:
        return by_quant[0]
    if by_quant:
        names = ", ".join(f.filename for f in by_quant)
        raise ParleyError(f"{len(by_quant)} files in {repo} are {wanted}: {names}; name one")
    known = ", ".join(f.filename for f in files) or "none"
    raise ParleyError(f"{repo} has no GGUF file {wanted!r} (its GGUF files: {known})")


class _ProgressBar:
    """One line on a terminal: bar, bytes, speed, ETA (redrawn at most ~10 times a second)."""

    WIDTH = 28

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream
        self.shown = False
        self.start = time.monotonic()

    def __call__(self, p: DownloadProgress) -> None:
        frac = p.fraction or 0.0
        filled = int(frac * self.WIDTH)
        eta = _clock(p.eta_s) if p.eta_s is not None else "--:--"
        total = human_bytes(p.total) if p.total else "?"
        line = (f"\r{p.name[:40]} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {frac:6.1%} "
                f"{human_bytes(p.done)} / {total}  {human_bytes(p.speed)}/s  ETA {eta}")
        self.stream.write(line + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _clock(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


SEARCH = Command("Search the Hugging Face hub for model repos with GGUF files.",
                 _register_search, _run_search)
FILES = Command("List a hub repo's GGUF files: quant, size, checksum and whether each fits.",
                _register_files, _run_files)
DOWNLOAD = Command("Download a GGUF file from the hub into Parley's models folder "
                   "(resumable; size always checked, and the hub's sha256 where it has one).",
                   _register_download, _run_download)
