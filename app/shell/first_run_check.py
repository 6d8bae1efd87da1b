"""What the welcome view can offer a first run, worked out off the GUI thread (no Qt here).

* The recommended models (`inference.library.recommended`), each checked against the hub's
  file listing: an entry whose file is gone (renamed, removed), whose repo does not answer, or
  whose sha256 is no longer the one the list names is not offered, so no button leads nowhere.
  One repo is listed once however many entries it holds. With no network (or HF_HUB_OFFLINE=1)
  the check ends with the hub's one-line reason instead.
* The models other apps keep on this machine (`inference.library.sources`: the HF cache,
  LM Studio, GPT4All), grouped by app: the files the Library lists from them too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled
from inference.hub.search import HubError, HubFile, HubOfflineError, list_gguf_files
from inference.library.recommended import RecommendedModel
from inference.library.sources import ModelSource, SourceKind, discovered_sources, split_name

log = logging.getLogger("parley.app")

Lister = Callable[..., list[HubFile]]          # list_gguf_files(repo_id, revision=…)


@dataclass(frozen=True)
class Offer:
    """A recommended model the hub has now, as it lists it (its size and sha256 win)."""

    model: RecommendedModel
    file: HubFile

    @property
    def size(self) -> int:
        return self.file.size if self.file.size is not None else self.model.size


@dataclass(frozen=True)
class Withdrawn:
    """A recommended model not offered, and why (for the log and a tooltip)."""

    model: RecommendedModel
    reason: str


@dataclass(frozen=True)
class RecommendedCheck:
    offers: tuple[Offer, ...] = ()
    withdrawn: tuple[Withdrawn, ...] = ()
    offline: str | None = None                  # the hub could not be reached: why, one line


@dataclass(frozen=True)
class AppFolder:
    """Another app's models on this machine."""

    kind: SourceKind
    roots: tuple[Path, ...]
    files: tuple[Path, ...]                     # one per model (a split model's first part)

    @property
    def label(self) -> str:
        count = len(self.files)
        return f"Use models from {self.kind.label} ({count} file{'s' if count != 1 else ''})"


def check_recommended(models: Sequence[RecommendedModel], *, lister: Lister = list_gguf_files,
                      cancel: CancelToken | None = None) -> RecommendedCheck:
    """Each model looked up in its repo's listing (one request per repo)."""
    listings: dict[tuple[str, str], list[HubFile] | str] = {}
    offers: list[Offer] = []
    withdrawn: list[Withdrawn] = []
    for model in models:
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        key = (model.repo, model.revision)
        if key not in listings:
            try:
                listings[key] = lister(model.repo, revision=model.revision)
            except HubOfflineError as exc:
                return RecommendedCheck(offline=str(exc))
            except HubError as exc:
                listings[key] = str(exc)
        listing = listings[key]
        reason = (listing if isinstance(listing, str) else _match(model, listing))
        if isinstance(reason, HubFile):
            offers.append(Offer(model, reason))
        else:
            log.info("recommended model %s not offered: %s", model.name, reason)
            withdrawn.append(Withdrawn(model, reason))
    return RecommendedCheck(tuple(offers), tuple(withdrawn))


def _match(model: RecommendedModel, listing: list[HubFile]) -> HubFile | str:
    """The listed file for `model`, or why it is not offered."""
    found = next((f for f in listing if f.filename == model.file), None)
    if found is None:
        return f"{model.file} is no longer in {model.repo} (renamed or removed)"
    if model.sha256 and found.sha256 and found.sha256 != model.sha256:
        return f"{model.file} in {model.repo} changed since the list was made (new sha256)"
    return found


def other_app_folders(sources: Sequence[ModelSource] | None = None,
                      cancel: CancelToken | None = None) -> tuple[AppFolder, ...]:
    """Other apps' stores that hold at least one usable GGUF, one per app."""
    found: dict[SourceKind, tuple[list[Path], list[Path]]] = {}
    for source in discovered_sources() if sources is None else sources:
        if source.kind in (SourceKind.OWN, SourceKind.ADDED):
            continue
        roots, files = found.setdefault(source.kind, ([], []))
        roots.append(source.root)
        for item in source.scan():
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            split = split_name(item.path.name)
            if item.real_path is not None and (split is None or split.part == 1):
                files.append(item.path)
    return tuple(AppFolder(kind, tuple(roots), tuple(files))
                 for kind, (roots, files) in found.items() if files)
