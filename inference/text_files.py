"""Reading a user's text file (for perplexity, prompts, comparisons) with a clear error for a
missing, binary or non-UTF-8 file. Shared by the CLI and the GUI; no Qt here."""

from __future__ import annotations

from pathlib import Path

from .errors import ParleyError

BINARY_PROBE = 8192        # bytes looked at for a NUL, the mark of a binary file


class TextFileError(ParleyError):
    """The file cannot be used as text; the message says why and what to do."""


def decode_text(data: bytes, name: str) -> str:
    """`data` as UTF-8 text; TextFileError for binary data or bytes that are not UTF-8."""
    if b"\x00" in data[:BINARY_PROBE]:
        raise TextFileError(f"{name} looks like a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFileError(f"{name} is not valid UTF-8 text (bad byte at offset {exc.start}); "
                            "save it as UTF-8 and try again") from None


def read_text_file(path: str | Path, max_bytes: int | None = None) -> str:
    """The contents of the text file at `path`; TextFileError when it cannot be read as text
    (or is larger than `max_bytes`, when given)."""
    name = str(path)
    try:
        file = Path(path)
        if max_bytes is not None and file.stat().st_size > max_bytes:
            raise TextFileError(f"{name} is larger than {max_bytes // (1 << 20)} MiB; use a "
                                "shorter text")
        data = file.read_bytes()
    except FileNotFoundError:
        raise TextFileError(f"no such file: {name}") from None
    except IsADirectoryError:
        raise TextFileError(f"{name} is a folder, not a text file") from None
    except OSError as exc:
        raise TextFileError(f"cannot read {name}: {exc.strerror}") from None
    return decode_text(data, name)
