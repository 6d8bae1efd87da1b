"""A comparison as JSON, CSV (every field, full precision) or a Markdown / plain-text table.

`DISPLAY_COLUMNS` is the one definition of the human-readable table (headers, formatting,
tooltips): the CLI, the Markdown export and the GUI's table all use it, so they always agree.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from inference.common.errors import InvalidSettingError
from inference.compare.result import COLUMNS_DOC, CompareResult, FileRow

CSV_FIELDS = tuple(f.name for f in fields(FileRow))


@dataclass(frozen=True)
class Column:
    key: str                                  # FileRow field the column sorts by
    header: str
    text: Callable[[FileRow], str]
    tooltip: str = ""


def human_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _fixed(value: float, digits: int) -> str:
    """`value` to `digits` places, never "-0.000…" (a reference's KLD of −1e-9 is 0)."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def _pm(value: float | None, se: float | None, digits: int, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if se is None or math.isnan(se):
        return f"{_fixed(value, digits)}{suffix}"
    return f"{_fixed(value, digits)} ± {_fixed(se, digits)}{suffix}"


def _num(value: float | None, digits: int, suffix: str = "") -> str:
    return "—" if value is None else f"{_fixed(value, digits)}{suffix}"


def _speed(value: float | None, std: float | None) -> str:
    return "—" if value is None else _pm(value, std, 1)


DISPLAY_COLUMNS: tuple[Column, ...] = (
    Column("file", "File", lambda r: r.file + ("  (reference)" if r.is_reference else "")),
    Column("quant", "Quant", lambda r: r.label, COLUMNS_DOC["quant"]),
    Column("bits_per_weight", "BPW", lambda r: f"{r.bits_per_weight:.2f}",
           COLUMNS_DOC["bits_per_weight"]),
    Column("file_size", "Size", lambda r: human_bytes(r.file_size)),
    Column("load_seconds", "Load", lambda r: f"{r.load_seconds:.2f} s"),
    Column("peak_rss", "Peak RSS", lambda r: human_bytes(r.peak_rss), COLUMNS_DOC["peak_rss"]),
    Column("vram_bytes", "VRAM", lambda r: human_bytes(r.vram_bytes)),
    Column("ppl", "PPL", lambda r: _pm(r.ppl, r.ppl_se, 4), COLUMNS_DOC["ppl"]),
    Column("kld_mean", "KLD", lambda r: _pm(r.kld_mean, r.kld_se, 6), COLUMNS_DOC["kld_mean"]),
    Column("kld_p99", "KLD p99", lambda r: _num(r.kld_p99, 6), COLUMNS_DOC["kld_p99"]),
    Column("kld_max", "KLD max", lambda r: _num(r.kld_max, 6), COLUMNS_DOC["kld_max"]),
    Column("same_top", "Same top", lambda r: _num(r.same_top, 2, " %"), COLUMNS_DOC["same_top"]),
    Column("dp_mean", "Δp", lambda r: _pm(r.dp_mean, r.dp_se, 3, " %"), COLUMNS_DOC["dp_mean"]),
    Column("pp_tps", "pp t/s", lambda r: _speed(r.pp_tps, r.pp_std), COLUMNS_DOC["pp_tps"]),
    Column("tg_tps", "tg t/s", lambda r: _speed(r.tg_tps, r.tg_std), COLUMNS_DOC["tg_tps"]),
)


def to_json(result: CompareResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def to_csv(result: CompareResult) -> str:
    """One line per file with every FileRow field (numbers unrounded; empty = not measured)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for row in result.rows:
        data = row.to_dict()
        writer.writerow(["" if data[k] is None else _csv_value(data[k]) for k in CSV_FIELDS])
    return out.getvalue()


def _csv_value(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def table_cells(result: CompareResult, columns: Sequence[Column] = DISPLAY_COLUMNS
                ) -> list[list[str]]:
    return [[c.text(row) for c in columns] for row in result.rows]


def to_markdown(result: CompareResult, columns: Sequence[Column] = DISPLAY_COLUMNS) -> str:
    lines = [f"Reference: **{result.reference}** · n_ctx {result.n_ctx} · {result.tokens:,} "
             f"tokens, {result.chunks} chunks, {result.tokens_scored:,} scored", ""]
    lines.append("| " + " | ".join(c.header for c in columns) + " |")
    lines.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(columns))) + "|")
    for cells in table_cells(result, columns):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def to_text(result: CompareResult, columns: Sequence[Column] = DISPLAY_COLUMNS) -> str:
    """An aligned plain-text table (the CLI's default output)."""
    rows = [[c.header for c in columns], *table_cells(result, columns)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    out = []
    for n, cells in enumerate(rows):
        out.append("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(cells, widths, strict=True))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"


def write(result: CompareResult, path: str | Path) -> Path:
    """Write by extension: .json, .csv or .md."""
    target = Path(path)
    render = {".json": to_json, ".csv": to_csv, ".md": to_markdown}.get(target.suffix.lower())
    if render is None:
        raise InvalidSettingError(f"unknown export format {target.suffix!r}: "
                                  "use .json, .csv or .md")
    target.write_text(render(result), encoding="utf-8")
    return target
