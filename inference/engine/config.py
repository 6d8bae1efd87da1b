"""ModelConfig: what to load and how, validated before any native code sees it."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from inference.common import limits
from inference.common.errors import InvalidSettingError
from inference.common.limits import MAX_CTX
from inference.common.rpc_endpoints import normalize_servers
from inference.engine.template_source import TemplateSource
from inference.memory.model_shape import KV_TYPES
from inference.speculative.settings import (
    DEFAULT_DRAFT_MAX,
    SpeculativeMode,
    check_settings,
    parse_mode,
)

__all__ = ["KV_CACHE_TYPES", "MAX_CTX", "ModelConfig", "default_threads"]
KV_CACHE_TYPES: tuple[str, ...] = tuple(KV_TYPES)   # what llama.cpp accepts, as in its CLI


def default_threads() -> int:
    """Physical cores, as llama.cpp's tools default to (at least 1)."""
    try:
        import psutil

        cores = psutil.cpu_count(logical=False)
    except Exception:  # psutil may not know on some platforms
        cores = None
    return max(1, cores or os.cpu_count() or 1)


@dataclass(frozen=True)
class ModelConfig:
    path: Path
    n_ctx: int = 4096
    n_gpu_layers: int = 0          # -1 = all layers
    n_threads: int = 0             # 0 = physical cores
    n_batch: int = 2048
    n_ubatch: int = 512
    flash_attn: str = "auto"       # "auto" | "on" | "off"
    cache_type_k: str = "f16"      # KV cache element types (see KV_CACHE_TYPES)
    cache_type_v: str = "f16"      # a quantized V cache needs flash attention
    seed: int = -1
    use_mmap: bool = True
    insist: bool = False           # load even when the memory estimate says it will not fit
    template: TemplateSource = TemplateSource()   # which chat template to use
    rpc_servers: tuple[str, ...] = ()   # llama.cpp rpc-servers (host:port) for offloaded layers
    cpu_repack: bool = True        # llama.cpp's repacked CPU weight layouts (off: --no-repack)
    speculative: SpeculativeMode = SpeculativeMode.OFF   # drafting (inference.speculative)
    draft_model: Path | None = None    # the draft model's GGUF (speculative = draft)
    draft_max: int = DEFAULT_DRAFT_MAX   # the longest draft verified in one batch
    exact_batches: bool = False    # see `batch_exact` (speculative decoding implies it)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path).expanduser())
        object.__setattr__(self, "template", TemplateSource.from_value(self.template))
        object.__setattr__(self, "rpc_servers", normalize_servers(self.rpc_servers))
        object.__setattr__(self, "speculative", parse_mode(self.speculative))
        if self.draft_model is not None:
            object.__setattr__(self, "draft_model", Path(self.draft_model).expanduser())
        check_settings(self.speculative, self.draft_model, self.draft_max)
        if self.batch_exact and self.flash_attn == "off":
            raise InvalidSettingError("speculative decoding needs flash attention (auto or on): "
                                      "without it a batch does not compute exactly as one "
                                      "token at a time")
        for name in ("n_ctx", "n_gpu_layers", "n_threads", "n_batch", "n_ubatch"):
            limits.check(name, getattr(self, name))
        if self.flash_attn not in ("auto", "on", "off"):
            raise InvalidSettingError(
                f"flash attention must be auto, on or off, got {self.flash_attn!r}")
        for label, name in (("K", self.cache_type_k), ("V", self.cache_type_v)):
            if name not in KV_CACHE_TYPES:
                raise InvalidSettingError(
                    f"{label} cache type must be one of {', '.join(KV_CACHE_TYPES)}, "
                    f"got {name!r}")

    @property
    def batch_exact(self) -> bool:
        """Whether a batch of positions must compute each bit for bit as a decode of that
        position alone: then the weights are not repacked and flash attention is on (on the
        CPU, where Parley checks it: tests/speculative). Speculative decoding needs it to give
        exactly the text plain decoding gives; it costs plain decoding a little speed."""
        return self.exact_batches or self.speculative is not SpeculativeMode.OFF

    @property
    def attention(self) -> str:
        """The flash attention setting the context gets."""
        return "on" if self.batch_exact else self.flash_attn

    @property
    def threads(self) -> int:
        return self.n_threads or default_threads()

    def warnings(self) -> tuple[str, ...]:
        """What loading with these settings should be told (more threads than cores)."""
        warning = limits.thread_warning(self.n_threads)
        return (warning,) if warning else ()

    def with_changes(self, **changes: Any) -> ModelConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["template"] = self.template.to_dict()
        data["speculative"] = self.speculative.value
        data["draft_model"] = str(self.draft_model) if self.draft_model else None
        return data

    def needs_reload(self, other: ModelConfig) -> bool:
        """Whether going from self to other needs the model (or context) loaded again."""
        return self != other

