"""Cheap memory probes (RAM via psutil, VRAM via NVML), fit to call several times a second.

docs/ARCHITECTURE.md § Figures: **RAM** is the measured process's resident set; **VRAM**, with a
GPU build and
NVML, is the device memory that process holds out of the device total. With no GPU in use the
snapshot says so plainly (`gpu is None`, `gpu_note` in words).

This module never imports llama_cpp (the caller passes `gpu_offload`), so probing loads no native
code but NVML's own library, lazily, on the first snapshot that needs it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psutil

NO_GPU_BUILD = "no GPU in use (this build of llama.cpp runs on the CPU)"
NO_NVIDIA_GPU = "no NVIDIA GPU found"
NO_NVML_PACKAGE = "GPU memory unknown (nvidia-ml-py is not installed)"


class NvmlLike(Protocol):
    """The part of `pynvml` (nvidia-ml-py) we use; the module itself satisfies it."""

    NVMLError: type[Exception]                  # base of every NVML error
    NVMLError_NotSupported: type[Exception]
    NVMLError_LibraryNotFound: type[Exception]
    NVMLError_DriverNotLoaded: type[Exception]

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetName(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...            # .total .used .free
    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> Sequence[Any]: ...
    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: Any) -> Sequence[Any]: ...
    # process entries: .pid, .usedGpuMemory (None when the driver does not say)


@dataclass(frozen=True)
class GpuMemory:
    name: str
    used_by_process_bytes: int | None   # None: the driver does not tell us
    used_bytes: int                     # by every process on the device
    total_bytes: int
    backend: str                        # the llama.cpp backend using it, e.g. "CUDA"


@dataclass(frozen=True)
class MemorySnapshot:
    rss_bytes: int | None               # None: the process is gone (or not ours to read)
    system_total: int
    system_available: int
    gpu: GpuMemory | None
    gpu_note: str                       # plain words when gpu is None or partly unknown; or ""


class MemoryProbe:
    """Measures one process (`pid`, default this one). Holds its psutil handle and NVML session.

    NVML starts on the first snapshot and stays up until `close()`; a failed start is not retried
    (its reason stays in `gpu_note`).
    """

    def __init__(self, pid: int | None = None, nvml: NvmlLike | None = None, *,
                 gpu_offload: bool = True, backend: str = "CUDA") -> None:
        self.pid = os.getpid() if pid is None else pid
        self._gpu_offload = gpu_offload
        self._backend = backend
        self._nvml = nvml
        self._process: psutil.Process | None = None
        self._started = False
        self._start_note = ""
        self._devices: list[tuple[Any, str]] = []

    # -- public ------------------------------------------------------------------------------
    def snapshot(self) -> MemorySnapshot:
        vm = psutil.virtual_memory()
        gpu, note = self.gpu_memory()
        return MemorySnapshot(rss_bytes=self.process_rss(), system_total=int(vm.total),
                              system_available=int(vm.available), gpu=gpu, gpu_note=note)

    def process_rss(self) -> int | None:
        try:
            if self._process is None:
                self._process = psutil.Process(self.pid)
            return int(self._process.memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def gpu_memory(self) -> tuple[GpuMemory | None, str]:
        if not self._gpu_offload:
            return None, NO_GPU_BUILD
        if not self._start():
            return None, self._start_note
        nvml = self._nvml
        assert nvml is not None
        readings: list[tuple[int | None, str, Any, str]] = []
        try:
            for handle, name in self._devices:
                used, note = self._process_usage(nvml, handle)
                readings.append((used, note, nvml.nvmlDeviceGetMemoryInfo(handle), name))
        except nvml.NVMLError as err:
            return None, f"GPU memory could not be read (NVML: {err})"
        # the device this process uses most; the first one when it uses none
        used, note, info, name = max(readings, key=lambda r: r[0] or 0)
        return GpuMemory(name=name, used_by_process_bytes=used, used_bytes=int(info.used),
                         total_bytes=int(info.total), backend=self._backend), note

    def close(self) -> None:
        if self._started and self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError:
                pass
        self._started = False
        self._start_note = ""
        self._devices = []

    def __enter__(self) -> MemoryProbe:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _start(self) -> bool:
        """Start NVML once; False (with the reason in _start_note) when there is no GPU to read."""
        if self._started:
            return True
        if self._start_note:
            return False
        if self._nvml is None:
            try:
                import pynvml
            except ImportError:
                self._start_note = NO_NVML_PACKAGE
                return False
            self._nvml = pynvml
        nvml = self._nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as err:
            self._start_note = _start_failure(nvml, err)
            return False
        except OSError as err:                      # a broken libnvidia-ml
            self._start_note = f"GPU memory unknown (NVML: {err})"
            return False
        self._started = True
        try:
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                self._devices.append((handle, _text(nvml.nvmlDeviceGetName(handle))))
        except nvml.NVMLError as err:
            self.close()
            self._start_note = f"GPU memory unknown (NVML: {err})"
            return False
        if not self._devices:
            self.close()
            self._start_note = NO_NVIDIA_GPU
            return False
        return True

    def _process_usage(self, nvml: NvmlLike, handle: Any) -> tuple[int | None, str]:
        """(bytes our pid holds on this device, note). None when the driver can't tell us."""
        entries: list[Any] = []
        readable = False
        for read in (nvml.nvmlDeviceGetComputeRunningProcesses,
                     nvml.nvmlDeviceGetGraphicsRunningProcesses):
            try:
                entries.extend(read(handle))
                readable = True
            except nvml.NVMLError_NotSupported:
                pass
        if not readable:
            return None, "this process's GPU memory is not reported (NVML: not supported)"
        ours = [e for e in entries if int(e.pid) == self.pid]
        if not ours:
            pids = {int(e.pid) for e in entries}
            if pids and not any(psutil.pid_exists(p) for p in pids):
                # NVML reports host pids: in a container none of them are visible here
                return None, "this process's GPU memory is unknown (GPU processes not visible here)"
            return 0, ""
        sizes = [e.usedGpuMemory for e in ours]
        if any(s is None for s in sizes):
            return None, "this process's GPU memory is not reported by the driver"
        # a process can appear in both lists with the same figure: take the largest, not the sum
        return int(max(sizes)), ""


def _start_failure(nvml: NvmlLike, err: Exception) -> str:
    if isinstance(err, (nvml.NVMLError_LibraryNotFound, nvml.NVMLError_DriverNotLoaded)):
        return f"{NO_NVIDIA_GPU} (NVML: {err})"
    return f"GPU memory unknown (NVML: {err})"


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
