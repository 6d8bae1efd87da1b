"""A bounded, chunked little-endian byte reader for GGUF headers.

`BoundedReader` reads through a buffer of about a megabyte and checks every length against the
bytes really left in the file, so a corrupt length fails fast with a specific `GGUFError` instead
of a huge allocation or a read past the end. It is internal to the GGUF parser.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

from inference.common.errors import MetadataError, TruncatedFileError

__all__ = ["MAX_STRING_BYTES", "BoundedReader"]

MAX_STRING_BYTES = 1 << 30         # llama.cpp's GGUF_MAX_STRING_LENGTH
_CHUNK = 1 << 20

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


class BoundedReader:
    """Little-endian reads from a file through a chunked buffer, never past the known size."""

    def __init__(self, file: BinaryIO, path: Path, size: int) -> None:
        self._file = file
        self.path = path
        self.size = size
        self._buf = b""
        self._buf_start = 0  # file offset of _buf[0]; the file position is at its end
        self._pos = 0

    @property
    def offset(self) -> int:
        return self._buf_start + self._pos

    @property
    def remaining(self) -> int:
        return self.size - self.offset

    def truncated(self, needed: int, what: str) -> TruncatedFileError:
        return TruncatedFileError(
            f"{self.path}: file is truncated: {what} needs {self.offset + needed:,} bytes "
            f"but the file has {self.size:,} — the download may be incomplete"
        )

    def _ensure(self, n: int, what: str) -> None:
        if len(self._buf) - self._pos >= n:
            return
        if n > self.remaining:
            raise self.truncated(n, what)
        tail = self._buf[self._pos:]
        chunk = self._file.read(max(n - len(tail), _CHUNK))
        self._buf_start = self.offset
        self._buf = tail + chunk
        self._pos = 0
        if len(self._buf) < n:  # the file shrank while we read it
            raise self.truncated(n, what)

    def unpack(self, fmt: struct.Struct, what: str) -> tuple[Any, ...]:
        self._ensure(fmt.size, what)
        values = fmt.unpack_from(self._buf, self._pos)
        self._pos += fmt.size
        return values

    def u32(self, what: str) -> int:
        return int(self.unpack(_U32, what)[0])

    def u64(self, what: str) -> int:
        return int(self.unpack(_U64, what)[0])

    def i64(self, what: str) -> int:
        return int(self.unpack(_I64, what)[0])

    def read(self, n: int, what: str) -> bytes:
        self._ensure(n, what)
        data = self._buf[self._pos:self._pos + n]
        self._pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        if n <= len(self._buf) - self._pos:
            self._pos += n
            return
        if n > self.remaining:
            raise self.truncated(n, what)
        target = self.offset + n
        self._file.seek(target)
        self._buf, self._buf_start, self._pos = b"", target, 0

    def string_length(self, what: str) -> int:
        """Read a string's length and check it against the limit and the bytes left."""
        n = self.u64(what)
        if n > MAX_STRING_BYTES:
            where = "past the end of the file" if n > self.remaining else "over the 1 GiB limit"
            raise MetadataError(
                f"{self.path}: {what} claims a string of {n:,} bytes, {where} "
                f"({self.remaining:,} bytes remain) — the file is corrupt"
            )
        if n > self.remaining:
            raise self.truncated(n, what)
        return n

    def skip_strings(self, count: int, what: str) -> None:
        """Skip `count` length-prefixed strings (a tokenizer's vocabulary) quickly."""
        done = 0
        unpack = _U64.unpack_from
        while done < count:
            buf, pos, end = self._buf, self._pos, len(self._buf)
            while done < count and pos + 8 <= end:
                nxt = pos + 8 + unpack(buf, pos)[0]
                if nxt > end:
                    break
                pos = nxt
                done += 1
            self._pos = pos
            if done < count:  # the next string crosses the buffer's end: take the careful path
                self.skip(self.string_length(what), what)
                done += 1
