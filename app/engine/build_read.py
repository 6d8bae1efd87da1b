"""Read what this llama.cpp build is (`inference.llama.version`) and how much GPU memory is free.

No Qt here: `read_build` is the target of a spawned child process (`read_build_in_child`), so
the window learns the build's facts without loading llama.cpp (or a GPU driver) into its own
process. The result is a picklable `BuildReport`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inference.common.cancel import CancelToken
from inference.llama.version import VersionInfo


@dataclass(frozen=True)
class BuildReport:
    info: VersionInfo
    free_vram: int | None = None      # bytes free on the GPU (NVML); None: unknown or no GPU

    @property
    def offloads(self) -> bool:
        """The build can put layers on a GPU (version_info says "none" when it cannot)."""
        return self.info.gpu_backend != "none"


BuildReader = Callable[[CancelToken], BuildReport]


def read_build(emit: Callable[[object], None] | None = None) -> BuildReport:
    """The build's facts, measured in this process."""
    from inference.llama.version import version_info

    info = version_info()
    free = None
    if info.gpu_backend != "none":
        from inference.memory.probes import MemoryProbe

        with MemoryProbe(gpu_offload=True, backend=info.gpu_backend) as probe:
            gpu, _note = probe.gpu_memory()
        if gpu is not None:
            free = max(0, gpu.total_bytes - gpu.used_bytes)
    return BuildReport(info, free)


def read_build_in_child(cancel: CancelToken) -> BuildReport:
    """`read_build` in a fresh child process (a native failure there cannot end the window)."""
    from inference.host.jobs import run_in_child

    return run_in_child(read_build, cancel=cancel, what="reading the llama.cpp build")
