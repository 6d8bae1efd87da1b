"""Memory probes: real psutil for RAM, a fake NVML at the boundary we cannot reach here."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pynvml  # pure Python until nvmlInit(); used here only for its real exception classes
import pytest

from inference.memory import probes as memory
from inference.memory.probes import (
    NO_GPU_BUILD,
    NO_NVIDIA_GPU,
    GpuMemory,
    MemoryProbe,
    MemorySnapshot,
)

GiB = 1 << 30
MiB = 1 << 20
OTHER_PID = 1  # exists everywhere (init), never us


def proc(pid: int, used: int | None) -> SimpleNamespace:
    return SimpleNamespace(pid=pid, usedGpuMemory=used)


def nvml_error(code: int) -> Exception:
    return pynvml.NVMLError(code)  # maps to the specific subclass, e.g. NVMLError_NotSupported


@dataclass
class FakeDevice:
    name: str | bytes = "NVIDIA GeForce RTX 4090"
    total: int = 24 * GiB
    used: int = 3 * GiB
    compute: list[Any] | Exception = field(default_factory=list)
    graphics: list[Any] | Exception = field(default_factory=list)
    memory_error: Exception | None = None


class FakeNvml:
    """Canned NVML: counts every call so tests can check what each snapshot costs."""

    NVMLError = pynvml.NVMLError
    NVMLError_NotSupported = pynvml.NVMLError_NotSupported
    NVMLError_LibraryNotFound = pynvml.NVMLError_LibraryNotFound
    NVMLError_DriverNotLoaded = pynvml.NVMLError_DriverNotLoaded

    def __init__(self, devices: list[FakeDevice], init_error: Exception | None = None) -> None:
        self.devices = devices
        self.init_error = init_error
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def nvmlInit(self) -> None:
        self._count("init")
        if self.init_error is not None:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        self._count("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        self._count("count")
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeDevice:
        self._count("handle")
        return self.devices[index]

    def nvmlDeviceGetName(self, handle: FakeDevice) -> str | bytes:
        self._count("name")
        return handle.name

    def nvmlDeviceGetMemoryInfo(self, handle: FakeDevice) -> SimpleNamespace:
        self._count("memory")
        if handle.memory_error is not None:
            raise handle.memory_error
        return SimpleNamespace(total=handle.total, used=handle.used,
                               free=handle.total - handle.used)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeDevice) -> list[Any]:
        self._count("compute")
        if isinstance(handle.compute, Exception):
            raise handle.compute
        return handle.compute

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: FakeDevice) -> list[Any]:
        self._count("graphics")
        if isinstance(handle.graphics, Exception):
            raise handle.graphics
        return handle.graphics


ME = os.getpid()


def test_real_rss_of_this_process() -> None:
    probe = MemoryProbe(gpu_offload=False)
    snap = probe.snapshot()
    assert isinstance(snap, MemorySnapshot)
    expected = psutil.Process().memory_info().rss
    assert snap.rss_bytes is not None
    assert 0.5 * expected < snap.rss_bytes < 2 * expected
    assert 0 < snap.system_available <= snap.system_total


def test_rss_of_another_pid_and_of_a_gone_one() -> None:
    parent = MemoryProbe(pid=os.getppid(), gpu_offload=False)
    assert (parent.process_rss() or 0) > 0
    gone = MemoryProbe(pid=2**22 + 12345, gpu_offload=False)  # above Linux's pid_max
    assert gone.process_rss() is None
    assert gone.snapshot().rss_bytes is None


def test_cpu_only_build_says_so_and_never_touches_nvml() -> None:
    nvml = FakeNvml([FakeDevice()])
    snap = MemoryProbe(nvml=nvml, gpu_offload=False).snapshot()
    assert snap.gpu is None
    assert snap.gpu_note == NO_GPU_BUILD
    assert NO_GPU_BUILD == "no GPU in use (this build of llama.cpp runs on the CPU)"
    assert nvml.calls == {}


def test_reads_device_and_this_process_share() -> None:
    dev = FakeDevice(name=b"NVIDIA GeForce RTX 4090",
                     compute=[proc(OTHER_PID, 2 * GiB), proc(ME, 700 * MiB)])
    probe = MemoryProbe(nvml=FakeNvml([dev]), backend="CUDA")
    snap = probe.snapshot()
    assert snap.gpu == GpuMemory(name="NVIDIA GeForce RTX 4090", used_by_process_bytes=700 * MiB,
                                 used_bytes=3 * GiB, total_bytes=24 * GiB, backend="CUDA")
    assert snap.gpu_note == ""


def test_measures_the_pid_it_was_given() -> None:
    child = 4242
    dev = FakeDevice(compute=[proc(ME, 100 * MiB), proc(child, 1500 * MiB)])
    gpu, _ = MemoryProbe(pid=child, nvml=FakeNvml([dev])).gpu_memory()
    assert gpu is not None and gpu.used_by_process_bytes == 1500 * MiB


def test_process_in_both_lists_is_not_counted_twice() -> None:
    dev = FakeDevice(compute=[proc(ME, 900 * MiB)], graphics=[proc(ME, 900 * MiB)])
    gpu, _ = MemoryProbe(nvml=FakeNvml([dev])).gpu_memory()
    assert gpu is not None and gpu.used_by_process_bytes == 900 * MiB


def test_graphics_list_not_supported_is_fine() -> None:
    dev = FakeDevice(compute=[proc(ME, 512 * MiB)],
                     graphics=nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED))
    gpu, note = MemoryProbe(nvml=FakeNvml([dev])).gpu_memory()
    assert gpu is not None and gpu.used_by_process_bytes == 512 * MiB
    assert note == ""


def test_no_process_lists_at_all_leaves_share_unknown() -> None:
    dev = FakeDevice(compute=nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED),
                     graphics=nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED))
    gpu, note = MemoryProbe(nvml=FakeNvml([dev])).gpu_memory()
    assert gpu is not None
    assert gpu.used_by_process_bytes is None and gpu.total_bytes == 24 * GiB
    assert "not reported" in note


def test_driver_without_per_process_figure() -> None:
    dev = FakeDevice(compute=[proc(ME, None)])
    gpu, note = MemoryProbe(nvml=FakeNvml([dev])).gpu_memory()
    assert gpu is not None and gpu.used_by_process_bytes is None
    assert "not reported by the driver" in note


def test_process_not_on_gpu_holds_zero() -> None:
    dev = FakeDevice(compute=[proc(OTHER_PID, GiB)])
    gpu, note = MemoryProbe(nvml=FakeNvml([dev])).gpu_memory()
    assert gpu is not None and gpu.used_by_process_bytes == 0 and note == ""


def test_foreign_pid_namespace_is_unknown_not_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory.psutil, "pid_exists", lambda pid: False)
    dev = FakeDevice(compute=[proc(987654, GiB)])
    gpu, note = MemoryProbe(nvml=FakeNvml([dev])).gpu_memory()
    assert gpu is not None and gpu.used_by_process_bytes is None
    assert "not visible" in note


def test_picks_the_device_this_process_uses() -> None:
    idle = FakeDevice(name="GPU 0", compute=[])
    busy = FakeDevice(name="GPU 1", total=48 * GiB, compute=[proc(ME, 2 * GiB)])
    gpu, _ = MemoryProbe(nvml=FakeNvml([idle, busy])).gpu_memory()
    assert gpu is not None and gpu.name == "GPU 1" and gpu.total_bytes == 48 * GiB
    gpu, _ = MemoryProbe(nvml=FakeNvml([FakeDevice(name="A"), FakeDevice(name="B")])).gpu_memory()
    assert gpu is not None and gpu.name == "A"  # uses none: the first


@pytest.mark.parametrize("code", [pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
                                  pynvml.NVML_ERROR_DRIVER_NOT_LOADED])
def test_no_nvidia_gpu(code: int) -> None:
    nvml = FakeNvml([], init_error=nvml_error(code))
    probe = MemoryProbe(nvml=nvml)
    for _ in range(3):
        snap = probe.snapshot()
        assert snap.gpu is None and snap.gpu_note.startswith(NO_NVIDIA_GPU)
    assert nvml.calls == {"init": 1}  # a failed start is not retried on every probe


def test_zero_devices() -> None:
    nvml = FakeNvml([])
    probe = MemoryProbe(nvml=nvml)
    assert probe.gpu_memory() == (None, "no NVIDIA GPU found")
    probe.close()
    assert nvml.calls["shutdown"] == 1


def test_other_init_error_is_reported_plainly() -> None:
    nvml = FakeNvml([], init_error=nvml_error(pynvml.NVML_ERROR_NO_PERMISSION))
    gpu, note = MemoryProbe(nvml=nvml).gpu_memory()
    assert gpu is None and note == "GPU memory unknown (NVML: Insufficient Permissions)"


def test_read_error_mid_session_does_not_raise_and_recovers() -> None:
    dev = FakeDevice(compute=[proc(ME, GiB)],
                     memory_error=nvml_error(pynvml.NVML_ERROR_GPU_IS_LOST))
    nvml = FakeNvml([dev])
    probe = MemoryProbe(nvml=nvml)
    gpu, note = probe.gpu_memory()
    assert gpu is None and note == "GPU memory could not be read (NVML: GPU is lost)"
    dev.memory_error = None
    gpu, _ = probe.gpu_memory()
    assert gpu is not None and gpu.used_by_process_bytes == GiB
    assert nvml.calls["init"] == 1


def test_probe_cost_one_process_handle_one_nvml_init(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[int] = []
    real_process = psutil.Process

    def counting_process(pid: int) -> psutil.Process:
        created.append(pid)
        return real_process(pid)

    monkeypatch.setattr(memory.psutil, "Process", counting_process)
    nvml = FakeNvml([FakeDevice(compute=[proc(ME, GiB)]), FakeDevice(name="second")])
    with MemoryProbe(nvml=nvml) as probe:
        for _ in range(100):
            snap = probe.snapshot()
            assert snap.gpu is not None and snap.rss_bytes
    assert created == [ME]
    assert nvml.calls["init"] == 1 and nvml.calls["shutdown"] == 1
    assert nvml.calls["count"] == 1 and nvml.calls["handle"] == 2 and nvml.calls["name"] == 2
    # per snapshot: memory info + the two process lists, per device, and nothing else
    assert nvml.calls["memory"] == 200
    assert nvml.calls["compute"] == nvml.calls["graphics"] == 200


def test_real_nvml_boundary_answers_without_raising() -> None:
    """The real pynvml: on this CI machine there is no driver, elsewhere there may be a GPU."""
    with MemoryProbe() as probe:
        gpu, note = probe.gpu_memory()
    if gpu is None:
        assert note
    else:
        assert gpu.total_bytes > 0 and gpu.used_bytes >= 0


def test_probing_loads_no_llama_cpp() -> None:
    code = ("import sys; from inference.memory.probes import MemoryProbe; "
            "MemoryProbe(gpu_offload=True).snapshot(); "
            "assert 'llama_cpp' not in sys.modules, 'llama_cpp was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert done.returncode == 0, done.stderr
