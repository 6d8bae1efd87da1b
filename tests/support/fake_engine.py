"""A scripted stand-in for the engine (EngineAPI) for fast, model-free GUI tests.

`tests/gui/test_fake_engine.py` checks it against `EngineAPI`, so it cannot drift from the real
engine. The flows that matter also run on the real engine and starter model
(tests/gui/test_model.py).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ModelLoadError, PromptTooLongError
from inference.engine.api import LoadedModel, RenderedPrompt
from inference.engine.config import ModelConfig
from inference.engine.events import (
    Finished,
    FinishReason,
    GenerationEvent,
    PrefillProgress,
    PromptRendered,
    TokenEvent,
)
from inference.engine.metrics import StatsClock
from inference.engine.requests import GenerationRequest, Mode
from inference.perplexity.measure import PerplexityResult


@dataclass
class FakeEngine:
    """EngineAPI with scripted replies: `words` streamed one per `delay` seconds, after the
    `thoughts` (the reply's thinking, streamed as reasoning token events, as the real engine
    sends a reasoning model's thinking once it has split it from the answer)."""

    words: list[str] = field(default_factory=lambda: ["Hello", " there", ",", " friend", "."])
    thoughts: list[str] = field(default_factory=list)
    delay: float = 0.01
    fail_load: str = ""
    gpu_offload: bool = False             # what LoadedModel says about the build
    fail_generate: str = ""
    ppl: float = 20.0                     # what perplexity() reports
    prefill_steps: int = 0                # PrefillProgress events before the first token
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
        yield PromptRendered(rendered)
        clock = StatsClock(prompt_tokens=12, n_ctx=self._loaded.n_ctx if self._loaded else 0)
        total = 512 * self.prefill_steps              # one n_batch chunk of 512 per step
        for step in range(1, self.prefill_steps + 1):
            if cancel.cancelled:
                break
            time.sleep(self.delay)
            yield PrefillProgress(512 * step, total)
        parts = {True: "", False: ""}               # reasoning?, text
        first_answer: float | None = None
        reason = FinishReason.STOP
        script = [(piece, True) for piece in self.thoughts] + \
            [(word, False) for word in self.words]
        for i, (piece, thinking) in enumerate(script[: request.sampling.max_tokens]):
            if cancel.cancelled:
                reason = FinishReason.CANCELLED
                break
            time.sleep(self.delay)
            now = clock.token()
            if not thinking and first_answer is None:
                first_answer = now
            parts[thinking] += piece
            yield TokenEvent(piece, i, reasoning=thinking)
        else:
            if len(script) > request.sampling.max_tokens:
                reason = FinishReason.LENGTH
        stats = clock.snapshot(12 + len(clock.token_times))
        if first_answer is not None:
            stats = dataclasses.replace(stats, ttfa_s=first_answer - clock.t0)
        yield Finished(reason, parts[False], stats, rendered.text, rendered.template,
                       reasoning=parts[True])

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return list(range(len(text.split())))

    def perplexity(self, text: str, *, progress: Callable[[int, int, float | None], None]
                   | None = None, cancel: CancelToken | None = None,
                   **options: Any) -> PerplexityResult:
        """A scripted result: every word after the first scored at PPL `ppl`."""
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        tokens = len(self.tokenize(text))
        if progress:
            progress(tokens, tokens, None)
        return PerplexityResult(
            ppl=self.ppl, ppl_se=float("nan"), nll_mean=math.log(self.ppl), method="full",
            n_ctx=int(options.get("n_ctx", 512)), tokens_total=tokens,
            tokens_scored=max(tokens - 1, 0), chunks=1, seconds=0.0, tokens_per_second=0.0,
            chunk_ppl=(self.ppl,))

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
