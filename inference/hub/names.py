"""Which hub file names may be written to disk: plain names on every platform, nothing else.

A repo path ("BF16/model-00001-of-00002.gguf") is saved under its last part. Both the last part
and the folders before it must be plain names by the rules of POSIX and of Windows at once,
whatever this machine runs: a name the hub lists as `..\\..\\x.gguf` is harmless on Linux but
leaves the models folder on Windows, so it is refused everywhere, before any request.
"""

from __future__ import annotations

import ntpath
import posixpath
from types import ModuleType

from inference.hub.search import HubError

PLATFORM_RULES: tuple[ModuleType, ...] = (posixpath, ntpath)
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                    *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


class UnsafeFileNameError(HubError):
    """A hub file name that would be read as a path (or a device) on some platform."""


def plain_name_problem(name: str, rules: ModuleType) -> str | None:
    """Why `name` is not one plain file name under one platform's path rules (None: it is)."""
    if not name:
        return "it is empty"
    if any(ord(c) < 32 for c in name):
        return "it holds a control character"
    if name in (rules.curdir, rules.pardir):
        return f"it is {name!r}"
    if rules.splitdrive(name)[0]:
        return "it names a drive"
    if rules.isabs(name):
        return "it is an absolute path"
    if rules.basename(name) != name or rules.sep in name or (rules.altsep or "\0") in name:
        return "it holds a path separator"
    if rules is ntpath:
        if ":" in name:
            return "it holds a ':' (a drive or an NTFS stream on Windows)"
        if name.split(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
            return "it is a Windows device name"
        if name[-1] in ". ":
            return "it ends with a dot or a space, which Windows drops"
    return None


def local_name(repo_path: str, repo_id: str = "",
               rules: tuple[ModuleType, ...] = PLATFORM_RULES) -> str:
    """The name a repo file gets on disk (its last part); UnsafeFileNameError where any part of
    the path is not a plain name under every platform's rules."""
    for module in rules:
        problem = _whole_path_problem(repo_path, module) or next(
            (p for part in repo_path.split("/") if (p := plain_name_problem(part, module))),
            None)
        if problem is not None:
            shown = repr(repo_path) if any(ord(c) < 32 for c in repo_path) else f"'{repo_path}'"
            where = f" in {repo_id}" if repo_id else ""
            raise UnsafeFileNameError(
                f"refusing to download {shown}{where}: {problem}; Parley saves only plain file "
                "names, so that nothing is written outside the models folder")
    return repo_path.rsplit("/", 1)[-1]


def _whole_path_problem(repo_path: str, rules: ModuleType) -> str | None:
    if rules.isabs(repo_path):
        return "it is an absolute path"
    if rules.splitdrive(repo_path)[0]:
        return "it names a drive"
    return None
