"""Where GGUF files live: Parley's models folder, folders the user adds, and other apps' stores.

Each place is a `ModelSource` that walks its folder and yields `FoundFile`s; nothing is copied
and no file is opened here. Other apps' stores are found on their own:

* the Hugging Face cache (`HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`):
  `models--org--name/snapshots/<rev>/…/*.gguf`, symlinks into `blobs/`;
* LM Studio (`~/.lmstudio/models`, older `~/.cache/lm-studio/models`);
* GPT4All (its data folder: `~/.local/share/nomic.ai/GPT4All` on Linux,
  `~/Library/Application Support/nomic.ai/GPT4All` on macOS, `%LOCALAPPDATA%\\nomic.ai\\GPT4All`
  on Windows).

Discovery reads the environment and `Path.home()` when called, so tests can point it anywhere.
"""

from __future__ import annotations

import enum
import errno
import os
import stat
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from inference.gguf.split_names import SplitName, split_name

__all__ = [
    "FolderSource",
    "FoundFile",
    "HFCacheSource",
    "ModelSource",
    "SourceKind",
    "SplitName",
    "discovered_sources",
    "gpt4all_dir",
    "hf_cache_dir",
    "is_gguf_name",
    "lmstudio_dirs",
    "not_a_file",
    "split_name",
]

DEFAULT_MAX_DEPTH = 8           # how deep a folder walk goes (a user may add a huge tree)


class SourceKind(str, enum.Enum):
    OWN = "own"                 # Parley's models folder
    ADDED = "added"             # a folder the user added
    HF_CACHE = "hf_cache"
    LM_STUDIO = "lm_studio"
    GPT4ALL = "gpt4all"

    @property
    def label(self) -> str:
        return _LABELS[self]

    def __str__(self) -> str:
        return self.value


_LABELS = {
    SourceKind.OWN: "own folder",
    SourceKind.ADDED: "added folder",
    SourceKind.HF_CACHE: "Hugging Face cache",
    SourceKind.LM_STUDIO: "LM Studio",
    SourceKind.GPT4ALL: "GPT4All",
}


@dataclass(frozen=True)
class FoundFile:
    """One .gguf name a source holds. `path` is as listed (an HF snapshot link); `real_path`
    is where its bytes are (the blob), or None when it is no regular file (`problem` says what
    it is instead: a dangling link, a FIFO …)."""

    path: Path
    real_path: Path | None
    source: SourceKind
    root: Path
    repo_id: str | None = None
    revision: str | None = None
    problem: str | None = None


class ModelSource(Protocol):
    """A place GGUF files are found in (a folder walk, an app's store)."""

    @property
    def kind(self) -> SourceKind: ...

    @property
    def root(self) -> Path: ...

    def scan(self) -> Iterator[FoundFile]: ...


@dataclass(frozen=True)
class FolderSource:
    """Every .gguf file under `root` (symlinked folders are not followed: no loops)."""

    root: Path
    kind: SourceKind = SourceKind.ADDED
    max_depth: int = DEFAULT_MAX_DEPTH

    def scan(self) -> Iterator[FoundFile]:
        for path in _walk_gguf(self.root, self.max_depth):
            problem = not_a_file(path)
            yield FoundFile(path, _real(path, problem), self.kind, self.root, problem=problem)


@dataclass(frozen=True)
class HFCacheSource:
    """GGUF files in a Hugging Face hub cache, with the repo id and revision they belong to."""

    root: Path
    kind: SourceKind = SourceKind.HF_CACHE

    def scan(self) -> Iterator[FoundFile]:
        for repo_dir in _list_dirs(self.root):
            if not repo_dir.name.startswith("models--"):
                continue
            repo_id = repo_dir.name.removeprefix("models--").replace("--", "/")
            for snapshot in _list_dirs(repo_dir / "snapshots"):
                for path in _walk_gguf(snapshot, DEFAULT_MAX_DEPTH):
                    problem = not_a_file(path)
                    yield FoundFile(path, _real(path, problem), self.kind, self.root, repo_id,
                                    snapshot.name, problem)


# --- discovery ---------------------------------------------------------------------------------


def hf_cache_dir(env: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """The hub cache as huggingface_hub finds it (read now, not at import)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(key):
            return Path(os.path.expandvars(env[key])).expanduser()
    if env.get("HF_HOME"):
        return Path(os.path.expandvars(env["HF_HOME"])).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else home / ".cache"
    return base / "huggingface" / "hub"


def lmstudio_dirs(home: Path | None = None) -> tuple[Path, ...]:
    home = Path.home() if home is None else home
    return (home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models")


def gpt4all_dir(env: Mapping[str, str] | None = None, home: Path | None = None,
                platform: str | None = None) -> Path:
    """GPT4All's data folder (where it downloads models) on this platform."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    platform = sys.platform if platform is None else platform
    if platform.startswith("win"):
        local = env.get("LOCALAPPDATA")
        base = Path(local) if local else home / "AppData" / "Local"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_DATA_HOME")
        base = Path(xdg).expanduser() if xdg else home / ".local" / "share"
    return base / "nomic.ai" / "GPT4All"


def discovered_sources(env: Mapping[str, str] | None = None, home: Path | None = None,
                       platform: str | None = None) -> list[ModelSource]:
    """Other apps' model stores that exist on this machine (found, never copied)."""
    found: list[ModelSource] = []
    hf = hf_cache_dir(env, home)
    if hf.is_dir():
        found.append(HFCacheSource(hf))
    for folder in lmstudio_dirs(home):
        if folder.is_dir():
            found.append(FolderSource(folder, SourceKind.LM_STUDIO))
    gpt4all = gpt4all_dir(env, home, platform)
    if gpt4all.is_dir():
        found.append(FolderSource(gpt4all, SourceKind.GPT4ALL, max_depth=2))
    return found


# --- walking -----------------------------------------------------------------------------------


def is_gguf_name(name: str) -> bool:
    return name.lower().endswith(".gguf") and not name.startswith(".")


def _walk_gguf(root: Path, max_depth: int) -> Iterator[Path]:
    """Sorted .gguf names under root (files, links, and folders so named, which are still
    walked into), hidden folders skipped."""
    if not root.is_dir():
        return
    base_depth = len(root.parts)
    for folder, dirs, files in os.walk(root, onerror=lambda _err: None):
        here = Path(folder)
        if len(here.parts) - base_depth >= max_depth:
            dirs.clear()
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted([*files, *dirs]):
            if is_gguf_name(name):
                yield here / name


def _list_dirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


_KINDS = (                      # what a name can be instead of a regular file, in words
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def not_a_file(path: Path) -> str | None:
    """Why `path` is not a model file, as a phrase ("is a named pipe (FIFO), not a file");
    None for a regular file or a link to one. Never opens the path (a FIFO would block)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop (the link leads back to itself), not a file"
        if exc.errno == errno.ENOENT and path.is_symlink():
            return (f"is a link to a missing file, {_target(path)} "
                    "(an incomplete download?)")
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    what = next((words for test, words in _KINDS if test(mode)), "something other than a file")
    if path.is_symlink():
        return f"is a link to {what}, not a file"
    if stat.S_ISDIR(mode):
        return "is a folder named .gguf, not a file"
    return f"is {what}, not a file"


def _target(link: Path) -> str:
    try:
        return os.readlink(link)
    except OSError:
        return "a file"


def _real(path: Path, problem: str | None) -> Path | None:
    """Where a (possibly linked) file's bytes are; None when it is no regular file."""
    if problem is not None:
        return None
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real if real.is_file() else None
