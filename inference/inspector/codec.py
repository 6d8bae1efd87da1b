"""An `Inspection` as compact bytes for SQLite and back: a JSON header, then each field of every
choice in one flat little-endian array per field, the whole zlib-compressed (float32 kept, so
"what if" on a stored reply stays exact; ~0.85 KB a token at N = 20, measured in
tests/inspector/test_codec.py)."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import numpy as np

from inference.inspector.choice import Inspection, TokenChoice

FORMAT = 1
_HEAD = struct.Struct("<II")               # format, header length
# (name, dtype): the flat arrays, in the order they are written
_FIELDS = (("token", "<i4"), ("n_ids", "<i4"), ("n_stages", "<i4"), ("n_pool", "<i4"),
           ("entropy", "<f8"), ("pool_complete", "<u1"), ("pool_cut", "<i4"),
           ("ids", "<i4"), ("raw_logprob", "<f4"), ("stage_probs", "<f4"),
           ("stage_names", "<u1"), ("survivors", "<i4"), ("pool_ids", "<i4"),
           ("pool_logits", "<f4"), ("piece_len", "<i4"), ("text_ids", "<i4"),
           ("text_len", "<i4"))


class CodecError(ValueError):
    """Stored inspector data that cannot be read (damaged, or written by a newer Parley)."""


def encode(inspection: Inspection) -> bytes:
    choices = inspection.choices
    names = sorted({n for c in choices for n in c.stages})
    index = {n: i for i, n in enumerate(names)}
    texts = sorted(inspection.texts.items())
    parts: dict[str, Any] = {
        "token": [c.token for c in choices], "n_ids": [len(c.ids) for c in choices],
        "n_stages": [len(c.stages) for c in choices],
        "n_pool": [len(c.pool_ids) for c in choices],
        "entropy": [c.entropy for c in choices],
        "pool_complete": [c.pool_complete for c in choices],
        "pool_cut": [c.pool_cut for c in choices],
        "ids": _cat([c.ids for c in choices]),
        "raw_logprob": _cat([c.raw_logprob for c in choices]),
        "stage_probs": _cat([c.stage_probs.ravel() for c in choices]),
        "stage_names": [index[n] for c in choices for n in c.stages],
        "survivors": _cat([c.survivors for c in choices]),
        "pool_ids": _cat([c.pool_ids for c in choices]),
        "pool_logits": _cat([c.pool_logits for c in choices]),
        "piece_len": [len(p) for p in inspection.pieces],
        "text_ids": [t for t, _ in texts], "text_len": [len(b) for _, b in texts]}
    arrays = [np.asarray(parts[name], dtype=dtype) for name, dtype in _FIELDS]
    header = json.dumps({"n_top": inspection.n_top, "sampling": inspection.sampling,
                         "stages": names, "sizes": [a.size for a in arrays]}).encode()
    body = b"".join(a.tobytes() for a in arrays) + b"".join(inspection.pieces) + b"".join(
        b for _, b in texts)
    return _HEAD.pack(FORMAT, len(header)) + zlib.compress(header + body, 6)


def decode(data: bytes) -> Inspection:
    try:
        version, header_len = _HEAD.unpack_from(data)
        if version != FORMAT:
            raise CodecError(f"inspector data of format {version}; this Parley reads {FORMAT}")
        raw = zlib.decompress(data[_HEAD.size:])
        header = json.loads(raw[:header_len])
        return _build(header, memoryview(raw)[header_len:])
    except CodecError:
        raise
    except (struct.error, zlib.error, ValueError, KeyError, IndexError, TypeError) as exc:
        raise CodecError(f"the stored inspector data is damaged ({exc})") from exc


def _build(header: dict[str, Any], body: memoryview) -> Inspection:
    arrays: dict[str, np.ndarray] = {}
    at = 0
    for (name, dtype), size in zip(_FIELDS, header["sizes"], strict=True):
        width = np.dtype(dtype).itemsize * int(size)
        arrays[name] = np.frombuffer(body[at:at + width], dtype=dtype).copy()
        at += width
    names = header["stages"]
    inspection = Inspection(int(header["n_top"]), dict(header["sampling"]))
    cuts = {k: np.cumsum(np.r_[0, arrays[k]]) for k in ("n_ids", "n_stages", "n_pool")}
    probs_at = np.cumsum(np.r_[0, arrays["n_ids"] * arrays["n_stages"]])
    pieces_at = at + np.cumsum(np.r_[0, arrays["piece_len"]])
    for i in range(len(arrays["token"])):
        a, b = cuts["n_ids"][i], cuts["n_ids"][i + 1]
        s, t = cuts["n_stages"][i], cuts["n_stages"][i + 1]
        p, q = cuts["n_pool"][i], cuts["n_pool"][i + 1]
        choice = TokenChoice(
            token=int(arrays["token"][i]), ids=arrays["ids"][a:b],
            raw_logprob=arrays["raw_logprob"][a:b],
            stages=tuple(names[k] for k in arrays["stage_names"][s:t]),
            stage_probs=arrays["stage_probs"][probs_at[i]:probs_at[i + 1]].reshape(t - s, b - a),
            survivors=arrays["survivors"][s:t], entropy=float(arrays["entropy"][i]),
            pool_logits=arrays["pool_logits"][p:q], pool_ids=arrays["pool_ids"][p:q],
            pool_complete=bool(arrays["pool_complete"][i]), pool_cut=int(arrays["pool_cut"][i]))
        inspection.add(choice, bytes(body[pieces_at[i]:pieces_at[i + 1]]))
    at = int(pieces_at[-1])
    for token, length in zip(arrays["text_ids"].tolist(), arrays["text_len"].tolist(),
                             strict=True):
        inspection.texts[token] = bytes(body[at:at + length])
        at += length
    if at != len(body):
        raise CodecError("the stored inspector data is damaged (its length does not add up)")
    return inspection


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0)
