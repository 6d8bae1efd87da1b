"""`parley quantize SRC --to Q8_0,Q4_0,…`: quantized variants through llama.cpp's quantizer."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from inference.cli.common import model_path, print_json
from inference.common.cancel import CancelToken
from inference.compare.export import human_bytes
from inference.quantize.quant_types import IMATRIX_TYPES, QUANT_TYPES, parse_types
from inference.quantize.quantize import QuantizeProgress, QuantizeResult, quantize_ladder

HELP = "Make quantized variants of a GGUF model (llama.cpp's own quantizer)."
BAR_WIDTH = 30


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="SRC", help="the source .gguf file, or 'starter'")
    usable = [n for n in QUANT_TYPES if n not in IMATRIX_TYPES]
    parser.add_argument("--to", required=True, metavar="TYPES",
                        help=f"comma-separated types, e.g. Q8_0,Q4_0,Q2_K (any of "
                             f"{', '.join(usable)}; {', '.join(IMATRIX_TYPES)} need an "
                             "importance matrix and are refused)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: beside SRC)")
    parser.add_argument("--allow-requantize", action="store_true",
                        help="allow quantizing an already quantized source (quality suffers; "
                             "the files are marked as requantized)")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="quantization threads (0 = all hardware threads)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")


def run(args: argparse.Namespace) -> int:
    targets = parse_types(args.to)                 # bad names fail before anything runs
    source = model_path(args)
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    bar = _ProgressBar() if sys.stderr.isatty() and not args.json else None
    try:
        results = quantize_ladder(source, targets, out_dir=Path(args.out) if args.out else None,
                                  allow_requantize=args.allow_requantize, overwrite=args.force,
                                  n_threads=args.threads, progress=bar, cancel=cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.json:
        print_json({"source": str(source), "files": [r.to_dict() for r in results]})
    else:
        for r in results:
            _print(r)
    return 0


def _print(r: QuantizeResult) -> None:
    mark = f"  [requantized from {r.source_quant}]" if r.requantized else ""
    print(f"{r.output}  {r.quant}, {r.bits_per_weight:.2f} bpw, {human_bytes(r.file_size)}, "
          f"{r.seconds:.1f} s{mark}")
    for note in r.notes:
        print(f"  note: {note}")


class _ProgressBar:
    def __call__(self, p: QuantizeProgress) -> None:
        filled = int(BAR_WIDTH * p.fraction)
        sys.stderr.write(f"\r{p.target:<7} ({p.job}/{p.jobs}) [{'#' * filled}"
                         f"{'.' * (BAR_WIDTH - filled)}] {p.tensors_done}/{p.tensors_total} "
                         "tensors ")
        if p.tensors_total and p.tensors_done >= p.tensors_total:
            sys.stderr.write("\n")
        sys.stderr.flush()
