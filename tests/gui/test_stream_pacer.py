"""StreamPacer: streamed text reaches the screen smoothly, within the GUI's CPU budget.

The pacer's clocks are injected: the wall clock and the GUI process's CPU clock are the boundary
(what a slow or saturated machine would report); the worker test drives the real EngineWorker
with the real engine on the starter model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.pacing import PacingSettings, StreamPacer


class Clocks:
    """A wall clock and a CPU clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 5.0

    def pacer(self, settings: PacingSettings | None = None) -> StreamPacer:
        return StreamPacer(settings, wall=lambda: self.wall, cpu=lambda: self.cpu)


def stream(clocks: Clocks, pacer: StreamPacer, seconds: float, token_s: float,
           cpu_per_update_s: float) -> int:
    """Tokens every `token_s` for `seconds`; each update the pacer lets through costs the GUI
    `cpu_per_update_s` of CPU (charged before the next token). Returns how many updates."""
    updates = 0
    end = clocks.wall + seconds
    while clocks.wall < end:
        clocks.wall += token_s
        if pacer.due():
            pacer.sent()
            updates += 1
            clocks.cpu += cpu_per_update_s
    return updates


def test_the_first_text_goes_out_at_once_and_then_at_most_every_min_interval() -> None:
    clocks = Clocks()
    pacer = clocks.pacer()
    pacer.start()
    assert pacer.due()
    pacer.sent()
    clocks.wall += 0.010
    assert not pacer.due()
    clocks.wall += 0.021
    assert pacer.due()


def test_cheap_updates_keep_the_smooth_rate() -> None:
    clocks = Clocks()
    pacer = clocks.pacer()
    pacer.start()
    updates = stream(clocks, pacer, seconds=2.0, token_s=0.005, cpu_per_update_s=0.0005)
    assert pacer.interval_s == pytest.approx(0.030)
    assert 50 <= updates <= 67               # ~30 a second (tokens land every 5 ms)


def test_costly_updates_are_spread_out_until_they_fit_the_budget() -> None:
    clocks = Clocks()
    settings = PacingSettings(cpu_budget=0.04)
    pacer = clocks.pacer(settings)
    pacer.start()
    stream(clocks, pacer, seconds=3.0, token_s=0.005, cpu_per_update_s=0.004)
    # 4 ms per update fits 4 % of a core at one update every 100 ms
    assert pacer.interval_s == pytest.approx(0.100, abs=0.006)
    clocks_share_before = clocks.cpu
    updates = stream(clocks, pacer, seconds=2.0, token_s=0.005, cpu_per_update_s=0.004)
    share = (clocks.cpu - clocks_share_before) / 2.0
    assert share <= 0.045 and updates >= 18


def test_cpu_spent_between_updates_counts_too_and_the_interval_has_a_ceiling() -> None:
    clocks = Clocks()
    pacer = clocks.pacer(PacingSettings(max_interval_s=0.2))
    pacer.start()
    for _ in range(200):                     # the GUI is busy 30 % of the time regardless
        clocks.wall += 0.010
        clocks.cpu += 0.003
        if pacer.due():
            pacer.sent()
    assert pacer.interval_s == pytest.approx(0.2)


def test_a_new_reply_starts_smooth_again() -> None:
    clocks = Clocks()
    pacer = clocks.pacer()
    pacer.start()
    stream(clocks, pacer, seconds=2.0, token_s=0.005, cpu_per_update_s=0.02)
    assert pacer.interval_s > 0.1
    pacer.start()
    assert pacer.interval_s == pytest.approx(0.030) and pacer.due()


@pytest.mark.parametrize("kwargs", [
    {"min_interval_s": 0}, {"min_interval_s": 0.3, "max_interval_s": 0.2},
    {"cpu_budget": 0}, {"cpu_budget": 1.5}, {"smoothing": 0},
])
def test_settings_out_of_range_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PacingSettings(**kwargs)


def test_the_worker_sends_fewer_larger_updates_when_the_gui_is_expensive(
        starter_model_path) -> None:
    """The real worker and engine: the same reply reaches the GUI whole either way, in fewer
    pieces when every update costs the GUI process 25 ms of CPU. The pacer's wall clock moves
    10 ms each time it is read, so how fast this machine generates (a busy CI runner) does
    not decide the count."""
    from app.engine.worker import EngineWorker, LoadSpec
    from inference.common.cancel import CancelToken
    from inference.engine.engine import Engine
    from inference.engine.requests import GenerationRequest, Message
    from inference.engine.sampling import SamplingParams

    request = GenerationRequest(messages=(Message("user", "Tell me about the sea."),),
                                sampling=SamplingParams(seed=7, max_tokens=48))

    engine = Engine()
    worker = EngineWorker(lambda: engine, resolver=Path)
    worker.load(LoadSpec(str(starter_model_path), n_ctx=1024, n_threads=2), CancelToken(),
                lambda _fraction: None)
    assert engine.loaded is not None

    def run(cpu_per_update_s: float) -> tuple[list[str], str]:
        """The worker's generation as its job would run it: every text update the GUI receives
        costs it `cpu_per_update_s` before the worker goes on."""
        spent, now = [0.0], [0.0]

        def wall() -> float:
            now[0] += 0.010
            return now[0]

        worker.pacer = StreamPacer(wall=wall, cpu=lambda: spent[0])
        pieces: list[str] = []
        stream = worker.generate(request, CancelToken())
        while True:
            try:
                update = next(stream)
            except StopIteration as stop:
                finished = stop.value
                break
            if isinstance(update, str):
                pieces.append(update)
                spent[0] += cpu_per_update_s
        assert finished is not None, "the reply did not finish"
        return pieces, finished.text

    try:
        cheap, cheap_text = run(0.0)
        costly, costly_text = run(0.025)
    finally:
        engine.close()
    assert len(cheap_text) > 40 and "".join(cheap) == cheap_text and "".join(costly) == costly_text
    assert len(costly) < len(cheap) / 2, (len(costly), len(cheap))
