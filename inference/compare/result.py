"""The figures of a quant comparison, as plain frozen values (JSON round-trips losslessly).

Units: sizes and memory in bytes, times in seconds, speeds in tokens/s; `same_top`, `dp_mean`,
`dp_se` and `dp_rms` in percent (as llama-perplexity prints them); KLD in nats.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

COLUMNS_DOC = {
    "quant": "quantization type (llama.cpp's file type)",
    "bits_per_weight": "bits per weight over all tensors of the file",
    "ppl": "perplexity, llama-perplexity's chunks (± standard error)",
    "kld_mean": "mean KL divergence from the reference, nats (± SE), as llama-perplexity "
                "--kl-divergence",
    "kld_p99": "99th percentile of the per-token KL divergence",
    "kld_max": "largest per-token KL divergence",
    "same_top": "% of positions where the file's most likely token is the reference's",
    "dp_mean": "mean change of the correct token's probability vs the reference, %",
    "pp_tps": "prompt processing (llama-bench pp), tokens/s",
    "tg_tps": "generation (llama-bench tg), tokens/s",
    "peak_rss": "peak resident memory of the process measuring this file",
}


@dataclass(frozen=True)
class FileRow:
    file: str
    path: str
    quant: str
    bits_per_weight: float
    file_size: int
    requantized_from: str | None
    is_reference: bool
    load_seconds: float
    eval_seconds: float
    peak_rss: int | None
    vram_bytes: int | None
    ppl: float
    ppl_se: float
    kld_mean: float | None = None
    kld_se: float | None = None
    kld_median: float | None = None
    kld_p99: float | None = None
    kld_max: float | None = None
    same_top: float | None = None
    same_top_se: float | None = None
    dp_mean: float | None = None
    dp_se: float | None = None
    dp_rms: float | None = None
    ppl_ratio: float | None = None
    pp_tps: float | None = None
    pp_std: float | None = None
    tg_tps: float | None = None
    tg_std: float | None = None

    @property
    def label(self) -> str:
        """The quant, marked when the file was requantized: 'Q4_0 (requant. from Q4_K_M)'."""
        if self.requantized_from:
            return f"{self.quant} (requant. from {self.requantized_from})"
        return self.quant

    def to_dict(self) -> dict[str, Any]:
        return {k: _clean(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class CompareResult:
    reference: str                     # file name of the reference
    rows: tuple[FileRow, ...]
    n_ctx: int
    tokens: int                        # tokens in the text (the reference's tokenization)
    chunks: int
    tokens_scored: int
    seconds: float
    settings: dict[str, Any]
    files_asked: int = 0               # files given; more than len(rows) when cancelled midway

    def __post_init__(self) -> None:
        if not self.files_asked:
            object.__setattr__(self, "files_asked", len(self.rows))

    @property
    def partial(self) -> bool:
        """Cancelled after some files: the rows are those measured before the cancel."""
        return self.files_asked > len(self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "n_ctx": self.n_ctx, "tokens": self.tokens,
                "chunks": self.chunks, "tokens_scored": self.tokens_scored,
                "seconds": self.seconds, "settings": self.settings,
                "files_asked": self.files_asked,
                "rows": [r.to_dict() for r in self.rows]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareResult:
        names = {f.name for f in fields(FileRow)}
        rows = tuple(FileRow(**{k: _nan(v, k) for k, v in r.items() if k in names})
                     for r in data["rows"])
        return cls(reference=data["reference"], rows=rows, n_ctx=int(data["n_ctx"]),
                   tokens=int(data["tokens"]), chunks=int(data["chunks"]),
                   tokens_scored=int(data["tokens_scored"]), seconds=float(data["seconds"]),
                   settings=dict(data.get("settings", {})),
                   files_asked=int(data.get("files_asked", len(rows))))

    def save_json(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        return target

    @classmethod
    def load_json(cls, path: str | Path) -> CompareResult:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _clean(value: Any) -> Any:
    """NaN/inf are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _nan(value: Any, key: str) -> Any:
    return math.nan if value is None and key in ("ppl", "ppl_se") else value
