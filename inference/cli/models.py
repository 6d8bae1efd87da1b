"""`parley models`: every GGUF file Parley knows, with its source, header facts and fit."""

from __future__ import annotations

import argparse
from typing import Any

from inference.cli.common import check_limits, print_json
from inference.cli.remote_args import add_remote_arguments
from inference.library.library import FitSettings, Library, LibraryEntry
from inference.memory.fit import human_bytes

HELP = ("List the models Parley knows: its models folder, added folders, the Hugging Face "
        "cache, LM Studio and GPT4All (headers only; nothing is loaded); with --remote URL, "
        "the models a server serves.")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ctx", type=int, default=4096, metavar="N",
                        help="context size the memory fit is judged for")
    parser.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                        help="GPU layers the memory fit is judged for (-1 = all)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_remote_arguments(parser, with_model=False)


def run(args: argparse.Namespace) -> int:
    if args.remote:
        from inference.cli.remote_models import list_remote

        return list_remote(args)
    check_limits(n_ctx=args.ctx, n_gpu_layers=args.gpu_layers)
    library = Library()
    settings = FitSettings.detect(args.ctx, args.gpu_layers)
    listing = library.scan(settings)
    if args.json:
        print_json({
            "n_ctx": args.ctx, "gpu_layers": args.gpu_layers,
            "available_ram": settings.available_ram, "free_vram": settings.free_vram,
            "models": [e.to_dict() for e in listing.entries],
            "sources": [{"kind": s.kind.value, "label": s.kind.label, "root": str(s.root)}
                        for s in library.sources()],
            "stats": {"files": listing.files, "header_reads": listing.header_reads,
                      "cache_hits": listing.cache_hits, "seconds": round(listing.seconds, 3)},
        })
        return 0
    if not listing.entries:
        print(f"No models yet. Put .gguf files in {library.models_dir}, add a folder in the "
              "app, or download one: parley search QUERY")
        return 0
    rows = [_row(e) for e in listing.entries]
    headers = ("MODEL", "ARCH", "PARAMS", "QUANT", "BPW", "SIZE", "CTX", "FIT", "SOURCE")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for entry, row in zip(listing.entries, rows, strict=True):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        print(f"    {entry.path}")
        if entry.error:
            print(f"    error: {entry.error}")
    broken = sum(1 for e in listing.entries if e.error)
    print(f"\n{len(listing.entries)} models" + (f" ({broken} with errors)" if broken else "")
          + f"; fit judged for n_ctx={args.ctx:,}, {args.gpu_layers} GPU layers, "
          f"{human_bytes(settings.available_ram)} RAM available")
    return 0


def _row(e: LibraryEntry) -> list[str]:
    origin = e.source.label + (f" ({e.repo_id})" if e.repo_id else "") \
        + (" · not verified" if e.unverified else "")
    if e.info is None:
        return [e.file_name, "—", "—", "—", "—", human_bytes(e.size), "—", "unreadable", origin]
    return [
        e.file_name, e.architecture or "—", params_label(e.parameters), e.quant or "—",
        f"{e.bits_per_weight:.2f}" if e.bits_per_weight else "—", human_bytes(e.size),
        f"{e.context_length:,}" if e.context_length else "—", _fit_word(e), origin,
    ]


def _fit_word(e: LibraryEntry) -> str:
    if e.missing_parts:
        return "incomplete"
    return {"gpu": "GPU", "partial": "partial GPU", "ram": "RAM",
            "too_large": "too large"}.get(e.fit.fit.value, "?") if e.fit else "—"


def params_label(n: Any) -> str:
    """7_241_732_096 -> "7.24B", 268_098_176 -> "268M"."""
    if not n:
        return "—"
    if n >= 1e9:
        return f"{n / 1e9:.3g}B"
    if n >= 1e6:
        return f"{n / 1e6:.3g}M"
    return f"{n / 1e3:.3g}K"
