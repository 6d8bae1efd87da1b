"""What an unfinished download leaves on disk, and finding it again: `<name>.part` (the bytes so
far) and `<name>.part.json` (which file, size and sha256 they belong to, and the model to resume,
so a restart of Parley lists the download again, paused)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from inference.hub.names import UnsafeFileNameError, local_name
from inference.hub.search import HubFile, HubPart


def part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def sidecar_path(target: Path) -> Path:
    return target.with_name(target.name + ".part.json")


def targets_for(file: HubFile, dest_dir: Path) -> list[Path]:
    """Where each part goes; UnsafeFileNameError for a name that is a path on some platform."""
    return [dest_dir / local_name(p.filename, file.repo_id) for p in file.parts]


def discard_partial(file: HubFile, dest_dir: Path) -> None:
    """Delete what a cancelled download left (its .part files and their sidecars)."""
    try:
        targets = targets_for(file, dest_dir)
    except UnsafeFileNameError:
        return                                   # refused before anything was written
    for target in targets:
        discard(target)


def discard(target: Path) -> None:
    """Remove one file's .part and its sidecar (what is already gone is fine)."""
    for path in (part_path(target), sidecar_path(target)):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def pending_downloads(dest_dir: Path) -> list[HubFile]:
    """Downloads a previous run left unfinished in `dest_dir` (from their .part.json files)."""
    found: dict[tuple[str, str], HubFile] = {}
    for sidecar in sorted(dest_dir.glob("*.part.json")):
        try:
            model = json.loads(sidecar.read_text(encoding="utf-8"))["model"]
            file = HubFile(model["repo_id"], model["filename"], model["quant"],
                           tuple(HubPart(*p) for p in model["parts"]), model["revision"])
            targets_for(file, dest_dir)          # a sidecar naming a path is not resumed
        except (OSError, ValueError, KeyError, TypeError, UnsafeFileNameError):
            continue
        found.setdefault((file.repo_id, file.filename), file)
    return list(found.values())


def part_record(file: HubFile, part: HubPart) -> dict[str, Any]:
    """What identifies a .part: a kept one continues only if its sidecar says the same."""
    return {"repo_id": file.repo_id, "filename": part.filename, "size": part.size,
            "sha256": part.sha256}


def sidecar_text(file: HubFile, part: HubPart) -> str:
    model = {"repo_id": file.repo_id, "filename": file.filename, "quant": file.quant,
             "revision": file.revision,
             "parts": [[p.filename, p.size, p.sha256] for p in file.parts]}
    return json.dumps(part_record(file, part) | {"model": model})


def kept_part_matches(file: HubFile, part: HubPart, target: Path) -> bool:
    """Whether the .part next to `target` is of this very file (by its sidecar)."""
    try:
        kept = json.loads(sidecar_path(target).read_text(encoding="utf-8"))
        record = part_record(file, part)
        return {k: kept.get(k) for k in record} == record
    except (OSError, ValueError, AttributeError):
        return False


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
