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

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path).expanduser())
        object.__setattr__(self, "template", TemplateSource.from_value(self.template))
        object.__setattr__(self, "rpc_servers", normalize_servers(self.rpc_servers))
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
        return data

    def needs_reload(self, other: ModelConfig) -> bool:
        """Whether going from self to other needs the model (or context) loaded again."""
        return self != other

