"""Whether a file is a GGUF model Parley can load, checked (header only) before anything is
unloaded, and said in words: what the file is, never Python's byte notation."""

from __future__ import annotations

from pathlib import Path

from inference.common.errors import GGUFError, NotGGUFError
from inference.gguf.describe import content_hint
from inference.gguf.file import read_gguf

HEAD_BYTES = 64


def model_file_problem(path: Path) -> str:
    """"" when `path` is a GGUF file whose header reads (or is not on disk: the engine says
    that itself); otherwise one line on what is wrong with it."""
    if not path.is_file():
        return ""
    try:
        read_gguf(path)
    except NotGGUFError:
        return f"{path.name} is not a GGUF model file ({what_it_starts_with(path)})."
    except GGUFError as err:
        return str(err).replace(str(path), path.name, 1)
    except OSError as err:
        return f"{path.name} cannot be read: {err.strerror or err}."
    return ""


def what_it_starts_with(path: Path) -> str:
    """E.g. "it starts with text, not the GGUF signature"; "it is empty"."""
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as err:
        return f"it cannot be read: {err.strerror or err}"
    if not head:
        return "it is empty"
    hint = content_hint(head)
    if hint:
        return hint.removeprefix(" — ")
    if _is_text(head):
        return "it starts with text, not the GGUF signature"
    return "it starts with other binary data, not the GGUF signature"


def _is_text(head: bytes) -> bool:
    """Whether the first bytes are UTF-8 text (a character cut at the end still counts)."""
    for cut in range(4):
        try:
            text = head[:len(head) - cut].decode("utf-8-sig")
        except UnicodeDecodeError:
            continue
        return all(c.isprintable() or c in "\t\r\n" for c in text)
    return False
