"""A copy of the starter model's weights with a real instruction template set as its chat
template (the starter GGUF is a base model and has none).

Written once into `tests/perf/_build/models/` (gitignored), named after a hash of the model's
name and size and of the template, so a changed template writes a new copy.

The copy is written here rather than with the `gguf` package's `gguf_new_metadata` script, on
purpose: that script parses and rewrites all 262k vocabulary strings through numpy (12 s a copy
here, twice per fresh checkout, which CI always is), while only the metadata changes. GGUF's
tensor offsets are relative to the data section, so the copy is the header with one key set,
the tensor table as it was, the padding to the alignment, then the data bytes as they were
(0.3 s). Every copy is read back with Parley's own header parser and must hold the same
metadata plus the template and the same tensors; llama.cpp then loads it in the tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
from pathlib import Path
from typing import BinaryIO

from inference.gguf.byte_reader import BoundedReader
from inference.gguf.header import parse_header
from inference.gguf.header_values import TYPE_ARRAY, TYPE_STRING, VALUE_TYPES

ROOT = Path(__file__).resolve().parents[2]
GEMMA3_IT_TEMPLATE = ROOT / "tests" / "fixtures" / "gemma3-it.jinja"
CACHE = ROOT / "tests" / "perf" / "_build" / "models"
TEMPLATE_KEY = "tokenizer.chat_template"


def templated_copy(model: Path, template: Path = GEMMA3_IT_TEMPLATE) -> Path:
    """`model` with `template` as its `tokenizer.chat_template`, everything else as it was."""
    identity = f"{model.name}:{model.stat().st_size}:".encode() + template.read_bytes()
    digest = hashlib.sha256(identity).hexdigest()[:12]
    out = CACHE / f"{model.stem}-{template.stem}-{digest}.gguf"
    if out.is_file() and out.stat().st_size > model.stat().st_size:
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")
    try:
        write_with_metadata(model, partial, TEMPLATE_KEY, template.read_text(encoding="utf-8"))
        _check_copy(model, partial, template.read_text(encoding="utf-8"))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out)
    return out


def write_with_metadata(src: Path, dst: Path, key: str, text: str) -> None:
    """Copy GGUF `src` to `dst` with string metadata `key` set to `text` (added or replaced)."""
    size = src.stat().st_size
    with src.open("rb") as f:
        header = parse_header(f, src, size)
        f.seek(0)
        r = BoundedReader(f, src, size)
        magic_version = r.read(8, "the header")
        n_tensors, n_kv = r.u64("the header"), r.u64("the header")
        kept: list[bytes] = []
        for _ in range(n_kv):
            start = r.offset
            name = r.read(r.string_length("a key"), "a key").decode("utf-8")
            _skip_value(r)
            if name != key:
                kept.append(_span(f, r, start))
        infos_start = r.offset
        for _ in range(n_tensors):
            r.skip(r.string_length("a tensor name"), "a tensor name")
            n_dims = r.u32("a tensor")
            r.skip(8 * n_dims + 4 + 8, "a tensor")
        infos = _span(f, r, infos_start)
        encoded_key, encoded_text = key.encode(), text.encode("utf-8")
        entry = (struct.pack("<Q", len(encoded_key)) + encoded_key
                 + struct.pack("<IQ", TYPE_STRING, len(encoded_text)) + encoded_text)
        head = b"".join([magic_version, struct.pack("<QQ", n_tensors, len(kept) + 1), *kept,
                         entry, infos])
        padding = -len(head) % header.alignment
        with dst.open("wb") as out:
            out.write(head + b"\0" * padding)
            f.seek(header.data_offset)
            shutil.copyfileobj(f, out, 16 << 20)


def _skip_value(r: BoundedReader) -> None:
    """Step over one metadata value (Parley's parser reads values, it does not report where each
    entry's bytes are, which is all this copy needs)."""
    kind = r.u32("a value type")
    if kind == TYPE_ARRAY:
        item, count = r.u32("an array"), r.u64("an array")
        if item == TYPE_STRING:
            r.skip_strings(count, "an array")
        else:
            r.skip(count * VALUE_TYPES[item][2], "an array")
    elif kind == TYPE_STRING:
        r.skip(r.string_length("a string"), "a string")
    else:
        r.skip(VALUE_TYPES[kind][2], "a value")


def _span(f: BinaryIO, r: BoundedReader, start: int) -> bytes:
    """The file's bytes from `start` to the reader's offset (the reader is left where it was)."""
    end = r.offset
    here = f.tell()
    f.seek(start)
    data = f.read(end - start)
    f.seek(here)
    return data


def _check_copy(src: Path, copy: Path, template: str) -> None:
    with src.open("rb") as a, copy.open("rb") as b:
        before = parse_header(a, src, src.stat().st_size)
        after = parse_header(b, copy, copy.stat().st_size)
    expected = {k: v for k, v in before.kv.items() if k != TEMPLATE_KEY}
    got = dict(after.kv)
    assert got.pop(TEMPLATE_KEY) == template
    assert got == expected, "the copy's metadata differs from its model's"
    assert [(t.name, t.n_bytes) for t in after.tensors] == \
        [(t.name, t.n_bytes) for t in before.tensors]
    assert copy.stat().st_size - after.data_offset == src.stat().st_size - before.data_offset
