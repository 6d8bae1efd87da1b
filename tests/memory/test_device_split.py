"""The per-device split, checked against what llama.cpp itself did (its `load_tensors` log and
buffer sizes for the starter model over two rpc-servers with `-ngl 10`, n_ctx 4096)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from inference.gguf.file import read_gguf
from inference.memory.device_split import layer_devices, split_by_device, split_summary
from inference.memory.model_shape import MiB


@dataclass(frozen=True)
class Device:
    name: str
    endpoint: str
    free_bytes: int
    total_bytes: int


def test_layers_go_to_devices_as_llama_cpp_assigns_them() -> None:
    # llama.cpp: layers 0-8 CPU, 9-13 RPC0, 14-17 and the output (18) RPC1
    assert layer_devices(18, 10, [1.0, 1.0]) == [-1] * 9 + [0] * 5 + [1] * 5
    assert layer_devices(18, -1, [1.0, 3.0]) == [0] * 5 + [1] * 14
    assert layer_devices(18, 0, [1.0, 1.0]) == [-1] * 19
    assert layer_devices(18, 10, []) == [-1] * 19          # no device: all on the CPU


def test_shares_match_llama_cpps_buffers(starter_model_path: Path) -> None:
    info = read_gguf(starter_model_path)
    free = 24 * 1024 * MiB
    devices = [Device("RPC0", "127.0.0.1:50111", free, free),
               Device("RPC1", "127.0.0.1:50112", free, free)]
    cpu, first, second = split_by_device(info, devices, n_ctx=4096, n_gpu_layers=10,
                                         host_free=free)
    assert (cpu.layers, cpu.has_output) == (9, False)
    assert (first.layers, first.has_output, first.where) == (5, False, "127.0.0.1:50111")
    assert (second.layers, second.has_output) == (4, True)
    # llama.cpp: model 184.86 + KV 4 + 12 + compute 514.50 MiB on RPC1
    assert second.bytes / MiB == pytest.approx(184.86 + 16 + 514.50, rel=0.01)
    # RPC0: model 17.91 + KV 20 + compute 22.52 MiB (the compute share is approximate)
    assert first.bytes / MiB == pytest.approx(17.91 + 20 + 22.52, rel=0.15)
    assert all(share.fits for share in (first, second))
    summary = split_summary([cpu, first, second]).splitlines()
    assert summary[2].startswith("RPC1 (127.0.0.1:50112): 4 layers + output, ~7")


def test_a_device_that_does_not_fit_is_marked(starter_model_path: Path) -> None:
    info = read_gguf(starter_model_path)
    devices = [Device("RPC0", "a:1", 10 * MiB, 100 * MiB), Device("RPC1", "b:1", 0, 0)]
    shares = split_by_device(info, devices, n_ctx=1024, n_gpu_layers=-1, host_free=None)
    assert shares[1].fits is False and "does not fit" in split_summary(shares)
    assert shares[2].free_bytes is None and "free memory unknown" in shares[2].describe()
