"""Download speed and ETA: the Meter's math on a controlled clock, and the text the GUI shows."""

from __future__ import annotations

import pytest

from inference.hub.progress import PROGRESS_EVERY_S, SPEED_WINDOW_S, DownloadProgress, Meter

MB = 1_000_000


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def meter(total: int | None = 100 * MB) -> tuple[Meter, Clock, list[DownloadProgress]]:
    clock, seen = Clock(), []
    return Meter("m.gguf", total, seen.append, clock=clock), clock, seen


def stream(m: Meter, clock: Clock, seconds: float, rate: float, step: float = 0.5) -> None:
    """Transfer at `rate` bytes/s for `seconds`, one block every `step` seconds."""
    for _ in range(round(seconds / step)):
        clock.now += step
        m.set_current(m.current + int(rate * step))


def test_a_steady_rate_gives_its_speed_and_the_time_left():
    m, clock, seen = meter(100 * MB)
    m.set_current(0)
    stream(m, clock, 4.0, 2 * MB)
    last = seen[-1]
    assert last.done == 8 * MB and last.total == 100 * MB
    assert last.speed == pytest.approx(2 * MB)
    assert last.eta_s == pytest.approx(92 * MB / (2 * MB))         # 46 s
    assert last.fraction == pytest.approx(0.08)


def test_speed_follows_the_last_few_seconds_only():
    m, clock, seen = meter(1000 * MB)
    m.set_current(0)
    stream(m, clock, 20.0, 10 * MB)                   # fast for 20 s …
    assert seen[-1].speed == pytest.approx(10 * MB)
    stream(m, clock, SPEED_WINDOW_S + 1.0, 1 * MB)     # … then slow for longer than the window
    assert seen[-1].speed == pytest.approx(1 * MB)
    left = 1000 * MB - seen[-1].done
    assert seen[-1].eta_s == pytest.approx(left / MB)


def test_a_stall_counts_as_slow_not_as_the_old_speed():
    m, clock, seen = meter(100 * MB)
    m.set_current(0)
    stream(m, clock, 4.0, 5 * MB)                      # 20 MB
    clock.now += 20.0                                  # nothing arrives for 20 s
    m.set_current(m.current + MB)
    # the window reaches back to the last sample before the stall: 1 MB over 20 s
    assert seen[-1].speed == pytest.approx(MB / 20.0)
    assert seen[-1].eta_s == pytest.approx(79 * MB / (MB / 20.0))


def test_reports_are_throttled_unless_forced():
    m, clock, seen = meter(100 * MB)
    for _ in range(10):                                 # ten blocks within 50 ms: one report
        clock.now += 0.005
        m.set_current(m.current + 1000)
    assert len(seen) == 1 and seen[0].done == 1000
    clock.now += PROGRESS_EVERY_S
    m.set_current(m.current + 1000)
    assert len(seen) == 2 and seen[-1].done == 11_000
    m.report(force=True)
    assert len(seen) == 3 and seen[-1].done == 11_000


def test_resumed_bytes_are_not_counted_as_speed():
    m, clock, seen = meter(100 * MB)
    for _ in range(40):                     # hashing a kept 40 MB .part, very fast, not moving
        clock.now += 0.01
        m.set_current(m.current + MB, moving=False)
    m.report(force=True)
    assert seen[-1].done == 40 * MB and seen[-1].speed == 0.0 and seen[-1].eta_s is None
    stream(m, clock, 2.0, 1 * MB)                     # then 1 MB/s from the hub
    assert seen[-1].done == 42 * MB
    assert seen[-1].speed == pytest.approx(1 * MB)
    assert seen[-1].eta_s == pytest.approx(58.0)


def test_speed_runs_on_across_parts_but_a_part_already_there_is_not_speed():
    m, clock, seen = meter(30 * MB)
    m.set_current(0)
    stream(m, clock, 5.0, 2 * MB)                     # part 1: 10 MB streamed
    m.part_done(10 * MB)
    stream(m, clock, 1.0, 2 * MB)                     # part 2 continues at the same pace
    assert seen[-1].done == 12 * MB and seen[-1].speed == pytest.approx(2 * MB)

    m.part_done(2 * MB)                               # part 2 ends: 12 MB
    m.part_done(10 * MB)                              # part 3 was on disk already
    stream(m, clock, 2.0, 1 * MB)                     # part 4: 1 MB/s
    assert seen[-1].done == 24 * MB and seen[-1].speed == pytest.approx(1 * MB)


def test_no_eta_without_a_total_or_a_speed_and_zero_at_the_end():
    m, clock, seen = meter(None)
    m.set_current(0)
    stream(m, clock, 2.0, MB)
    assert seen[-1].speed == pytest.approx(MB) and seen[-1].eta_s is None
    assert seen[-1].fraction is None

    m, clock, seen = meter(4 * MB)
    m.set_current(0)
    assert seen[-1].speed == 0.0 and seen[-1].eta_s is None          # one sample: no speed yet
    stream(m, clock, 4.0, MB)
    m.part_done(4 * MB)
    m.report(force=True)
    assert seen[-1].done == 4 * MB and seen[-1].eta_s == 0.0 and seen[-1].speed > 0


# --- what the Downloads table shows --------------------------------------------------------


@pytest.mark.parametrize(("seconds", "text"), [
    (None, ""),
    (0.0, "0:00 left"),
    (59.9, "0:59 left"),
    (61, "1:01 left"),
    (46.0, "0:46 left"),
    (600, "10:00 left"),
    (3599, "59:59 left"),
    (3600, "1 h 00 min left"),
    (3725, "1 h 02 min left"),
    (26 * 3600 + 5 * 60, "26 h 05 min left"),
])
def test_eta_text(seconds, text):
    from app.hub.download_list import eta_text

    assert eta_text(seconds) == text


@pytest.mark.gui
def test_the_downloads_table_shows_speed_and_time_left(qtbot, tmp_path):
    from app.hub.download_list import DownloadList
    from inference.hub.queue import DownloadItem, DownloadQueue, DownloadState
    from inference.hub.search import HubFile, HubPart

    file = HubFile("org/Repo-GGUF", "m-Q4_K_M.gguf", "Q4_K_M",
                   (HubPart("m-Q4_K_M.gguf", 100 * MB, None),))
    m, clock, seen = meter(100 * MB)
    m.set_current(0)
    stream(m, clock, 4.0, 2 * MB)
    queue = DownloadQueue(tmp_path)                    # nothing added: its thread never starts
    view = DownloadList(queue)
    qtbot.addWidget(view)
    view.show_item(DownloadItem(1, file, DownloadState.RUNNING, seen[-1]))
    assert view.table.item(0, 4).text() == "1.9 MiB/s · 0:46 left"     # 2 MB/s, 92 MB to go
    assert view.table.cellWidget(0, 3).value() == 80                    # 8 % (of 1000)
    view.show_item(DownloadItem(1, file, DownloadState.PAUSED, seen[-1]))
    assert view.table.item(0, 4).text() == ""
    queue.close()
