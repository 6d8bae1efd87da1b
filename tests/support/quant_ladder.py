"""A small quantization ladder made from the starter model once per test session.

Both test_quantize.py and test_compare.py use it; the files live in a well-known folder of the
session's base temp dir, so whichever module runs first makes them and the other reuses them.
The starter model is itself Q4_K_M, so every rung is *requantized* (allowed and labelled).
`make_ladder` is the same without pytest (tests/perf/kld_reference.py uses it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference.quantize.quant_types import quant_type
from inference.quantize.quantize import QuantizeResult, output_path, quantize_ladder

LADDER = ("Q8_0", "Q4_0", "Q2_K")          # most to least precise
N_CTX = 128
TEXT_CHARS = 1400                          # ≈ 300 Gemma tokens: 2 chunks of 128


def session_ladder(tmp_path_factory: pytest.TempPathFactory, starter: Path
                   ) -> tuple[dict[str, Path], list[dict[str, object]]]:
    """{type: file} and the QuantizeResult dicts of the run that made them."""
    folder = tmp_path_factory.getbasetemp() / "quant-ladder"
    paths = {t: output_path(starter, quant_type(t), folder) for t in LADDER}
    record = folder / "results.json"
    if not record.exists():
        results = make_ladder(starter, folder)
        record.write_text(json.dumps([r.to_dict() for r in results]))
    return paths, json.loads(record.read_text())


def make_ladder(source: Path, folder: Path, types: tuple[str, ...] = LADDER,
                n_threads: int = 2) -> tuple[QuantizeResult, ...]:
    """`types` made from `source` into `folder`, keeping files already made there."""
    return quantize_ladder(source, types, out_dir=folder, allow_requantize=True,
                           reuse_existing=True, n_threads=n_threads)


def sample_text() -> str:
    root = Path(__file__).resolve().parents[2]
    sample = root / "resources" / "samples" / "perplexity_sample.txt"
    return sample.read_text(encoding="utf-8")[:TEXT_CHARS]
