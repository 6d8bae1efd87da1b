"""Where the GUI process's time goes while a reply streams: wall time inside the few places that
do the work (for gui_stream_bench.py; installed on the classes for the run, nothing else)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# (label, module, class, method): the GUI thread's work per streamed update
PLACES = (
    ("transcript: text changed (Markdown re-rendered, row height checked)",
     "app.chat.render.view", "ChatView", "dataChanged"),
    ("transcript: painting", "app.chat.render.view", "ChatView", "paintEvent"),
    ("metrics panel: figures refreshed", "app.settings.metrics_panel", "MetricsPanel", "refresh"),
    ("metrics chart: painting", "app.settings.sparkline", "Sparkline", "paintEvent"),
    ("partial reply saved to SQLite", "app.chat.reply_recorder", "ReplyRecorder", "save_partial"),
)


class TimeSplit:
    """Adds up the seconds spent in each of PLACES; `reset` between turns."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {label: 0.0 for label, *_ in PLACES}
        for label, module, cls_name, method in PLACES:
            cls = getattr(__import__(module, fromlist=[cls_name]), cls_name)
            setattr(cls, method, self._timed(label, _method(cls, method)))

    def _timed(self, label: str, call: Callable[..., Any]) -> Callable[..., Any]:
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - start
        return timed

    def reset(self) -> None:
        for label in self.seconds:
            self.seconds[label] = 0.0

    def snapshot(self) -> dict[str, float]:
        return dict(self.seconds)


def _method(cls: type, name: str) -> Callable[..., Any]:
    """The method as the class resolves it (a Qt base class's own, when not overridden)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    raise AttributeError(f"{cls.__name__}.{name}")
