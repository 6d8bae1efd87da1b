"""A loaded model and its context (`Session`), opened with specific errors before and after the
native load; shared by the in-process `Engine` and `inference.batching`'s several-sequence one."""

from __future__ import annotations

import time
from dataclasses import dataclass

from inference.common.cancel import CancelToken
from inference.common.errors import ModelLoadError, UnsupportedArchitectureError
from inference.engine.api import LoadedModel, ProgressCallback
from inference.engine.config import ModelConfig
from inference.engine.load_checks import check_devices, check_memory, explain_load_failure
from inference.engine.prompts import TemplateChoice
from inference.engine.template_check import template_for
from inference.gguf.file import GGUFInfo, read_gguf
from inference.llama.native import NativeContext, NativeModel, build_info
from inference.llama.native_log import NATIVE_LOG
from inference.llama.rpc import describe_devices, model_devices
from inference.memory.device_split import DeviceShare


@dataclass
class Session:
    """Everything that lives while one model is loaded."""

    config: ModelConfig
    info: GGUFInfo
    model: NativeModel
    ctx: NativeContext
    template: TemplateChoice
    loaded: LoadedModel
    kv_tokens: list[int]            # the tokens whose keys/values are in the cache, in order

    def close(self) -> None:
        self.ctx.close()
        self.model.close()


def open_session(config: ModelConfig, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, n_seq_max: int = 1) -> Session:
    """Load the model and create its context (`n_seq_max` sequences), with specific errors."""
    started = time.perf_counter()
    info = read_gguf(config.path)               # specific errors before native code runs
    warnings = [*config.warnings(), *check_memory(info, config)]
    devices: tuple[DeviceShare, ...] = ()
    if config.rpc_servers:                      # probed, then split as llama.cpp will split
        devices = tuple(check_devices(info, config, describe_devices(
            model_devices(config.rpc_servers), config.rpc_servers)))
    mark = NATIVE_LOG.mark()
    try:
        model = NativeModel(config.path, n_gpu_layers=config.n_gpu_layers,
                            use_mmap=config.use_mmap, progress=progress, cancel=cancel,
                            rpc_servers=config.rpc_servers,
                            cpu_repack=config.cpu_repack and not config.batch_exact)
    except UnsupportedArchitectureError:
        raise
    except ModelLoadError as exc:
        raise explain_load_failure(info, exc, NATIVE_LOG.lines(since=mark)) from exc
    try:
        ctx = NativeContext(model, n_ctx=config.n_ctx, n_batch=config.n_batch,
                            n_ubatch=config.n_ubatch, n_threads=config.threads,
                            flash_attn=config.attention, n_seq_max=n_seq_max,
                            type_k=config.cache_type_k, type_v=config.cache_type_v)
    except ModelLoadError:
        model.close()
        raise
    template = template_for(info, model, config.template)
    if template.warning:
        warnings.append(template.warning)
    build = build_info()
    loaded = LoadedModel(
        config=config, info=info.to_dict(), n_ctx=ctx.n_ctx, n_ctx_train=model.n_ctx_train,
        template=template.label, gpu_offload=build.gpu_offload, backend=build.backend,
        load_seconds=time.perf_counter() - started, warnings=tuple(warnings), devices=devices)
    return Session(config, info, model, ctx, template, loaded, [])
