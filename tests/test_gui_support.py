"""Helpers for the GUI tests: a scripted fake engine (for fast, model-free tests), the
`make_window` fixture (a real MainWindow on it) and a few steps the tests share.

The flows the issue names run on the real engine and starter model (test_gui_model.py); the
fake lets the controller and widget tests run in milliseconds. The only other fake is the
GPU: `gpu_build()` reports this llama.cpp build as one that offloads (this machine's cannot).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.build_read import BuildReader, BuildReport, read_build
from app.context import AppContext
from app.theme import ThemeManager
from app.window import MainWindow
from inference.api import LoadedModel, RenderedPrompt
from inference.cancel import CancelToken
from inference.config import ModelConfig
from inference.errors import ModelLoadError, PromptTooLongError
from inference.events import Finished, FinishReason, GenerationEvent, TokenEvent
from inference.metrics import StatsClock
from inference.requests import GenerationRequest, Mode


@dataclass
class FakeEngine:
    """EngineAPI with scripted replies: `words` streamed one per `delay` seconds."""

    words: list[str] = field(default_factory=lambda: ["Hello", " there", ",", " friend", "."])
    delay: float = 0.01
    fail_load: str = ""
    gpu_offload: bool = False             # what LoadedModel says about the build
    fail_generate: str = ""
    requests: list[GenerationRequest] = field(default_factory=list)
    configs: list[ModelConfig] = field(default_factory=list)
    closed: bool = False
    _loaded: LoadedModel | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def pid(self) -> int:
        return os.getpid()

    def load(self, config: ModelConfig, progress=None, cancel: CancelToken | None = None
             ) -> LoadedModel:
        self.configs.append(config)
        for i in range(5):
            if progress:
                progress((i + 1) / 5)
        if self.fail_load:
            raise ModelLoadError(self.fail_load)
        self._loaded = LoadedModel(
            config=config, info=_INFO | {"path": str(config.path),
                                         "file_name": config.path.name},
            n_ctx=config.n_ctx, n_ctx_train=32768, template="gemma (gguf)",
            gpu_offload=self.gpu_offload, backend="CUDA" if self.gpu_offload else "CPU",
            load_seconds=0.01)
        return self._loaded

    def unload(self) -> None:
        self._loaded = None

    def render(self, request: GenerationRequest) -> RenderedPrompt:
        if self.fail_generate == "too long":
            raise PromptTooLongError("The prompt is 5000 tokens; the context holds 1024.")
        return RenderedPrompt(_render(request), "none (raw text)" if request.mode is Mode.TEXT
                              else "gemma (gguf)", 12, 0, request.sampling.max_tokens)

    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None
                 ) -> Iterator[GenerationEvent]:
        self.requests.append(request)
        cancel = cancel or CancelToken()
        rendered = self.render(request)
        clock = StatsClock(prompt_tokens=12, n_ctx=self._loaded.n_ctx if self._loaded else 0)
        text = ""
        reason = FinishReason.STOP
        for i, word in enumerate(self.words[: request.sampling.max_tokens]):
            if cancel.cancelled:
                reason = FinishReason.CANCELLED
                break
            time.sleep(self.delay)
            clock.token()
            text += word
            yield TokenEvent(word, i)
        else:
            if len(self.words) > request.sampling.max_tokens:
                reason = FinishReason.LENGTH
        yield Finished(reason, text, clock.snapshot(12 + len(clock.token_times)),
                       rendered.text, rendered.template)

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return list(range(len(text.split())))

    def close(self) -> None:
        self.closed = True
        self._loaded = None


def _render(request: GenerationRequest) -> str:
    if request.mode is Mode.TEXT:
        return request.text
    parts = [f"<system>{request.system}" if request.system else ""]
    if request.mode is Mode.INSTRUCT:
        parts.append(f"<user>{request.text}")
    else:
        parts += [f"<{m.role}>{m.content}" for m in request.messages]
    return "".join(parts) + "<assistant>"


_INFO = {
    "architecture": "gemma3", "name": "Fake 270M", "size_label": "270M",
    "parameters": 268_098_176, "quant": "Q4_K_M", "bits_per_weight": 7.55,
    "file_size": 253_113_024, "context_length": 32768, "layers": 18, "experts": 0,
    "experts_used": None, "is_moe": False, "chat_template": True, "vocab_size": 262144,
    "embedding_length": 640, "heads": 4, "kv_heads": 1,
}


# -- the window ------------------------------------------------------------------------------

MakeWindow = Callable[..., MainWindow]
FAKE_MODEL = "/models/fake.gguf"


def this_build(_cancel: object = None) -> BuildReport:
    """The real build report of this machine's llama.cpp, read in this process."""
    return read_build()


def gpu_build(free_vram: int = 8 << 30) -> BuildReader:
    """A build reader that says the build offloads to a CUDA GPU with `free_vram` free."""
    def read(_cancel: object) -> BuildReport:
        info = dataclasses.replace(read_build().info, gpu_backend="CUDA",
                                   backends=("CPU", "CUDA"))
        return BuildReport(info, free_vram)
    return read


@pytest.fixture(name="make_window")
def make_window_fixture(qtbot, qapp) -> Iterator[MakeWindow]:
    """`make(engine, theme, build)`: a shown MainWindow on a FakeEngine (the same PARLEY_HOME
    each call in a test, so a second call is a restart). `theme=None` takes the theme from the
    preferences, as the app does; `build` replaces the build reader (see `gpu_build`)."""
    windows: list[MainWindow] = []

    def make(engine: FakeEngine | None = None, theme: str | None = "light",
             build: BuildReader = this_build) -> MainWindow:
        eng = engine or FakeEngine()
        ctx = AppContext.create(lambda: eng, resolver=Path, build_reader=build)
        window = MainWindow(ctx, ThemeManager(qapp, ctx.prefs.theme if theme is None
                                              else theme))
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        window.ctx.store.close()


def load_fake(qtbot, window: MainWindow, model: str = FAKE_MODEL) -> None:
    window.wiring.load_choice(model)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None
                    and window.ctx.client.state == "idle", timeout=5000)


def send_and_wait(qtbot, window: MainWindow, text: str) -> None:
    window.composer.set_text(text)
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=5000)


def wait_build_known(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.build_probe.report is not None, timeout=20_000)
