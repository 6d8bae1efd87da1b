"""The engine's interface, shared by the in-process Engine and the out-of-process EngineHost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from inference.common.cancel import CancelToken
from inference.engine.config import ModelConfig
from inference.engine.events import GenerationEvent
from inference.engine.requests import GenerationRequest
from inference.memory.device_split import DeviceShare

ProgressCallback = Callable[[float], None]


@dataclass(frozen=True)
class LoadedModel:
    """What the engine reports after a successful load."""

    config: ModelConfig
    info: dict[str, Any]           # GGUFInfo.to_dict() of the file (architecture, quant, …)
    n_ctx: int                     # the context size actually allocated
    n_ctx_train: int
    template: str                  # chat template in use, e.g. "gguf" or "gemma (built-in)"
    gpu_offload: bool              # this llama.cpp build can offload to a GPU
    backend: str                   # e.g. "CPU", "CUDA", "Metal"
    load_seconds: float
    warnings: tuple[str, ...] = field(default_factory=tuple)
    devices: tuple[DeviceShare, ...] = ()   # with RPC servers: where the layers went


@dataclass(frozen=True)
class RenderedPrompt:
    text: str                      # the exact prompt text the model sees
    template: str                  # which template produced it
    prompt_tokens: int
    dropped_turns: int = 0         # chat: oldest turns dropped to fit the context
    max_tokens: int = 0            # max tokens after capping to what the context has left
    warnings: tuple[str, ...] = ()  # e.g. the system prompt was put into the first message


class EngineAPI(Protocol):
    """Load a model, generate from it, and report; one caller thread at a time."""

    @property
    def loaded(self) -> LoadedModel | None: ...

    def load(self, config: ModelConfig, progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> LoadedModel:
        """Load (replacing any loaded model); raises Cancelled if `cancel` fires."""

    def unload(self) -> None: ...

    def render(self, request: GenerationRequest) -> RenderedPrompt: ...

    def generate(self, request: GenerationRequest,
                 cancel: CancelToken | None = None) -> Iterator[GenerationEvent]:
        """Yield TokenEvent pieces, then exactly one Finished (reason `cancelled` on cancel)."""

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]: ...

    def perplexity(self, text: str, *, progress: Callable[[int, int, float | None], None]
                   | None = None, cancel: CancelToken | None = None,
                   **options: Any) -> Any:
        """A PerplexityResult for `text` (options: n_ctx, n_batch, mode, per_token)."""

    def close(self) -> None: ...
