"""Reading a user's text file (for perplexity, prompts, comparisons) with a clear error for a
missing, binary or non-UTF-8 file. Shared by the CLI and the GUI; no Qt here."""

from __future__ import annotations

from pathlib import Path

from inference.common.errors import ParleyError

BINARY_PROBE = 8192        # bytes looked at for a NUL, the mark of a binary file
TEXT_FILE_LIMIT = 256 << 20  # the most any text file is read (/dev/zero never ends)


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
    or is larger than `max_bytes` (TEXT_FILE_LIMIT when not given)."""
    name = str(path)
    limit = TEXT_FILE_LIMIT if max_bytes is None else max_bytes
    try:
        file = Path(path)
        if file.stat().st_size > limit:
            raise too_large(name, limit)
        with file.open("rb") as handle:   # bounded: /dev/zero or a FIFO reports no size
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise too_large(name, limit)
    except FileNotFoundError:
        raise TextFileError(f"no such file: {name}") from None
    except IsADirectoryError:
        raise TextFileError(f"{name} is a folder, not a text file") from None
    except OSError as exc:
        raise TextFileError(f"cannot read {name}: {exc.strerror}") from None
    return decode_text(data, name)


def too_large(name: str, max_bytes: int) -> TextFileError:
    return TextFileError(f"{name} is larger than {_size(max_bytes)}; use a shorter text")


def _size(n: int) -> str:
    return f"{n // (1 << 20)} MiB" if n >= 1 << 20 else f"{n:,} bytes"
