"""GUI streaming overhead: the real main window, offscreen, streaming chat replies.

Opens MainWindow on Qt's offscreen platform with a throw-away profile, loads the model through the
window (EngineHost child, as always), and sends `--turns` chat messages built exactly like
`parley bench`'s chat turns (same text for the same run number). For each turn it records:

* the engine's own TTFT / TPOT (from the Finished event): how much the GUI process slows the
  engine down by competing for the CPU;
* the GUI's view of the stream: characters reaching the transcript, and how many view updates;
* the event loop's responsiveness: a 4 ms precise QTimer measures its own lateness while the
  reply streams; the longest stall and the 99th percentile are reported. The probe's own 250
  wake-ups a second cost the GUI process CPU, so it runs in `--probe-turns` extra turns after
  the timed ones, never in the turns whose speed is reported.

Prints one JSON object. run_bench.py runs it alternately with `parley bench` (headless).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/perf/gui_stream_bench.py MODEL -p 512 -n 128
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
PROBE_MS = 4           # the probe timer's period (1 ms would itself cost the engine CPU)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round((len(ordered) - 1) * pct / 100)))]


def run(model: Path, n_prompt: int, n_gen: int, turns: int, threads: int,
        chars: int, probe_turns: int = 2, long_conversation: bool = True) -> dict[str, Any]:
    from gui_time_split import TimeSplit
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from app.shell.context import AppContext, default_engine_factory
    from app.shell.main import create_app
    from app.shell.theme import ThemeManager
    from app.shell.window import MainWindow
    from inference.bench.chat import chat_message

    split = TimeSplit()
    app = create_app(["parley"])
    ctx = AppContext.create(default_engine_factory)
    window = MainWindow(ctx, ThemeManager(app, "light"))
    window.resize(1280, 860)
    window.settings_panel.fields["seed"].set_value(1234)
    window.settings_panel.fields["max_tokens"].set_value(n_gen)
    window.model_panel.set_model_settings(max(4096, n_prompt + n_gen + 64), 0, threads)
    window.show()

    def spin(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait(cond, timeout: float = 300, wake=None) -> None:  # noqa: ANN001
        """Until cond() holds. With `wake` (a signal), sleep in one event loop that the signal
        (or a 250 ms timer) ends, instead of polling every 10 ms: the bench's own wake-ups must
        not cost the GUI process CPU while it is measured."""
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError("the window did not reach the state in time")
            if wake is None:
                spin(10)
                continue
            loop = QEventLoop()
            wake.connect(loop.quit)
            QTimer.singleShot(250, loop.quit)
            loop.exec()
            wake.disconnect(loop.quit)

    finished: list[Any] = []
    ctx.client.generationFinished.connect(finished.append)
    ticks: list[float] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    updates: list[tuple[float, int, float]] = []
    window.transcript.dataChanged.connect(lambda *_: updates.append(
        (time.perf_counter(), _reply_length(window), time.process_time())))

    opened = _time_long_conversation(window, spin) if long_conversation else {}
    window.wiring.load_choice(str(model))
    wait(lambda: ctx.client.loaded is not None)
    results, probed = [], []
    try:
        for run_no in range(-1, turns + probe_turns):   # run -1 warms up, untimed
            probing = run_no >= turns
            window.wiring.new_conversation()
            spin(50)
            finished.clear()
            ticks.clear()
            updates.clear()
            window.composer.set_text(chat_message(run_no, chars))
            if probing:
                probe.start()
            split.reset()
            started, cpu_started = time.perf_counter(), time.process_time()
            window.composer.submit()
            wait(lambda: bool(finished) and not window.controller.busy,
                 wake=window.controller.busyChanged)
            cpu_s = time.process_time() - cpu_started
            probe.stop()
            if run_no >= 0:
                turn = _turn(finished[-1], ticks, updates, started) | {
                    "gui_cpu_s": cpu_s, "gui_split_s": split.snapshot()}
                (probed if probing else results).append(turn)
    finally:
        window.close()
        ctx.close()
    return _summary(results, probed) | opened


LONG_BODY = ("Here is what I would do, step by step:\n\n1. **Read** the file once.\n"
             "2. Keep `state` small.\n\n```python\nfor line in lines:\n    print(line)\n```\n"
             "That is all there is to it; ask if anything is unclear.")


def _time_long_conversation(window: Any, spin: Any, messages: int = 1000) -> dict[str, Any]:
    """Open a stored conversation of `messages` Markdown messages (code blocks included) until
    it is laid out and painted at the bottom, then step the scroll bar through it."""
    store = window.ctx.store
    conv = store.create_conversation("Long conversation")
    for i in range(messages // 2):
        store.add_message(conv.id, "user", f"Question {i}: how should I go about it?")
        store.add_message(conv.id, "assistant", f"Answer {i}. {LONG_BODY}")
    view = window.chat_view
    started = time.perf_counter()
    window.wiring.open_conversation(conv.id, "chat")
    view.doItemsLayout()
    view.scrollToBottom()
    view.viewport().repaint()
    opened = time.perf_counter() - started
    shown = window.transcript.rowCount()
    bar = view.verticalScrollBar()
    steps = []
    for step in range(40):
        t = time.perf_counter()
        bar.setValue(bar.maximum() * step // 39)
        view.viewport().repaint()
        steps.append(time.perf_counter() - t)
    spin(20)
    window.wiring.new_conversation()
    return {"long_messages": shown,
            "long_open_s": opened, "long_scroll_step_max_s": max(steps),
            "long_scroll_step_median_s": statistics.median(steps)}


def _reply_length(window: Any) -> int:
    rows = window.transcript.rowCount()
    return len(window.transcript.message_at(rows - 1).content) if rows else 0


def _turn(fin: Any, ticks: list[float], updates: list[tuple[float, int, float]],
          started: float) -> dict[str, Any]:
    gaps = [(b - a) * 1000 - PROBE_MS for a, b in zip(ticks, ticks[1:], strict=False)]
    stream = [(t, n, cpu) for t, n, cpu in updates if n > 0]
    gui_cps = stream_share = None
    if len(stream) > 1 and stream[-1][0] > stream[0][0]:
        wall = stream[-1][0] - stream[0][0]
        gui_cps = (stream[-1][1] - stream[0][1]) / wall
        stream_share = (stream[-1][2] - stream[0][2]) / wall
    s = fin.stats
    return {"ttft_s": s.ttft_s, "tpot_s": s.tpot_s, "output_tokens": s.output_tokens,
            "chars": len(fin.text), "view_updates": len(stream), "gui_chars_per_s": gui_cps,
            "gui_cpu_share_streaming": stream_share,
            "stall_max_ms": max(gaps) if gaps else None,
            "stall_p99_ms": _percentile(gaps, 99) if gaps else None,
            "wall_s": time.perf_counter() - started}


def _summary(turns: list[dict[str, Any]], probed: list[dict[str, Any]]) -> dict[str, Any]:
    """Speed and CPU from the timed turns; the event loop's stalls from the probed ones."""
    def med(key: str) -> float | None:
        values = [t[key] for t in turns if t[key] is not None]
        return statistics.median(values) if values else None

    stalls = [t["stall_max_ms"] for t in probed if t["stall_max_ms"] is not None]
    p99 = [t["stall_p99_ms"] for t in probed if t["stall_p99_ms"] is not None]
    rates = [t["view_updates"] / t["tpot_s"] / t["output_tokens"] for t in turns
             if t["tpot_s"] and t["output_tokens"]]
    return {"turns": turns, "probe_turns": probed, "ttft_s": med("ttft_s"),
            "tpot_s": med("tpot_s"),
            "stall_max_ms": max(stalls) if stalls else None,
            "stall_p99_ms": statistics.median(p99) if p99 else None,
            "view_updates": med("view_updates"),
            "view_updates_per_s": statistics.median(rates) if rates else None,
            "gui_cpu_s": med("gui_cpu_s"), "wall_s": med("wall_s"),
            "gui_cpu_share_streaming": med("gui_cpu_share_streaming")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("-p", "--n-prompt", type=int, default=512)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("-r", "--turns", type=int, default=3)
    parser.add_argument("-t", "--threads", type=int, default=0)
    parser.add_argument("--chars", type=int, default=None,
                        help="characters of notes per message (parley bench's message_chars)")
    parser.add_argument("--no-long", action="store_true",
                        help="skip opening the 1,000-message conversation")
    parser.add_argument("--probe-turns", type=int, default=2,
                        help="extra turns with the event-loop probe timer, for the stalls")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="parley-guibench-") as home:
        os.environ["PARLEY_HOME"] = home
        chars = args.chars if args.chars is not None else args.n_prompt * 4
        data = run(args.model.resolve(), args.n_prompt, args.n_gen, args.turns, args.threads,
                   chars, probe_turns=args.probe_turns, long_conversation=not args.no_long)
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
