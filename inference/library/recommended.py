"""Parley's recommended models: a short curated list of instruction-tuned GGUFs, smallest first.

The list is a data file, `recommended_models.json` next to this module (package data, and in
the PyInstaller bundle at the same place). Each entry names a hub repo and a file in it, its
quant, an approximate size in bytes (the hub's listing wins when the entry is checked), its
sha256 where known, its licence and one line on what it is good for. A malformed file is a
`RecommendedListError` that names the entry and the field; nothing here opens a connection
(checking the entries against the hub is the welcome view's, `app/shell/first_run_check.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from inference.common.errors import ParleyError

DATA_FILE = "recommended_models.json"
FORMAT_VERSION = 1
MAX_GOOD_FOR = 100                 # one short line under the model's name
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class RecommendedListError(ParleyError):
    """The recommended-models file is missing or malformed (the message says where)."""


@dataclass(frozen=True)
class RecommendedModel:
    """One recommended model: a GGUF file in a hub repo."""

    name: str                      # "Qwen2.5 1.5B Instruct"
    repo: str                      # "Qwen/Qwen2.5-1.5B-Instruct-GGUF"
    file: str                      # its path in the repo
    quant: str                     # "Q4_K_M"
    size: int                      # bytes, approximate
    sha256: str | None             # lower-case hex, where known
    licence: str
    good_for: str                  # one line
    revision: str = "main"


_REQUIRED = tuple(f.name for f in fields(RecommendedModel) if f.name != "revision")
_KNOWN = {f.name for f in fields(RecommendedModel)}


def load_recommended(path: Path | None = None) -> tuple[RecommendedModel, ...]:
    """The recommended models from `path` (default: the list shipped with Parley)."""
    where = str(path) if path is not None else DATA_FILE
    try:
        text = (path.read_text(encoding="utf-8") if path is not None
                else resources.files(__package__).joinpath(DATA_FILE).read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RecommendedListError(f"Could not read the recommended models ({where}): "
                                   f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecommendedListError(f"The recommended models file {where} is not valid JSON: "
                                   f"{exc.msg} at line {exc.lineno}") from None
    return parse_recommended(data, where)


def parse_recommended(data: Any, where: str = DATA_FILE) -> tuple[RecommendedModel, ...]:
    """Check and convert the file's JSON; the first problem is raised, with its place."""
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise RecommendedListError(f"{where}: expected an object with a \"models\" list")
    if data.get("version") != FORMAT_VERSION:
        raise RecommendedListError(f"{where}: version {data.get('version')!r} is not "
                                   f"{FORMAT_VERSION}, the one this Parley reads")
    if not data["models"]:
        raise RecommendedListError(f"{where}: the \"models\" list is empty")
    models = tuple(_model(entry, f"{where}, model {i + 1}")
                   for i, entry in enumerate(data["models"]))
    seen: set[tuple[str, str]] = set()
    for model in models:
        key = (model.repo, model.file)
        if key in seen:
            raise RecommendedListError(f"{where}: {model.repo}/{model.file} is listed twice")
        seen.add(key)
    return models


def _model(entry: Any, where: str) -> RecommendedModel:
    if not isinstance(entry, dict):
        raise RecommendedListError(f"{where}: expected an object, not {type(entry).__name__}")
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        where = f"{where} ({name})"
    unknown = sorted(set(entry) - _KNOWN)
    if unknown:
        raise RecommendedListError(f"{where}: unknown field {unknown[0]!r}")
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise RecommendedListError(f"{where}: missing field {missing[0]!r}")
    for key in ("name", "repo", "file", "quant", "licence", "good_for", "revision"):
        if key in entry and not (isinstance(entry[key], str) and entry[key].strip()):
            raise RecommendedListError(f"{where}: {key!r} must be a non-empty text")
    size, sha = entry["size"], entry["sha256"]
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise RecommendedListError(f"{where}: 'size' must be a whole number of bytes above 0")
    if sha is not None and not (isinstance(sha, str) and _SHA256.fullmatch(sha.lower())):
        raise RecommendedListError(f"{where}: 'sha256' must be 64 hex digits or null")
    if not _REPO.fullmatch(entry["repo"]):
        raise RecommendedListError(f"{where}: 'repo' must be owner/name, not {entry['repo']!r}")
    file = entry["file"]
    if not file.lower().endswith(".gguf") or file.startswith("/") or ".." in file.split("/"):
        raise RecommendedListError(f"{where}: 'file' must be a .gguf path in the repo")
    if entry["quant"].lower() not in file.lower():
        raise RecommendedListError(f"{where}: the file name does not name its quant "
                                   f"{entry['quant']!r}")
    good_for = entry["good_for"]
    if "\n" in good_for or len(good_for) > MAX_GOOD_FOR:
        raise RecommendedListError(f"{where}: 'good_for' must be one line of at most "
                                   f"{MAX_GOOD_FOR} characters")
    return RecommendedModel(
        name=entry["name"].strip(), repo=entry["repo"], file=file, quant=entry["quant"],
        size=size, sha256=sha.lower() if sha else None, licence=entry["licence"].strip(),
        good_for=good_for.strip(), revision=entry.get("revision", "main"))
