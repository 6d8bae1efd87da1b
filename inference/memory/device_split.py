"""How llama.cpp spreads a model's offloaded layers over several devices (RPC servers, GPUs).

The rule is `llama_model::load_tensors` of the vendored llama.cpp (`src/llama-model.cpp`), with
`split_mode = layer` and no `tensor_split`: each device's weight is its free memory (a device that
reports 0 free and 0 total counts with the host's free memory); the weights are summed into
cumulative split points and normalised (float32, as there); the offloaded layers il =
i_gpu_start … n_layer (the last one is the output layer) go to the first device whose split point
is above (il − i_gpu_start) / n_offloaded. Layers below i_gpu_start, and the input layer, stay
on the CPU of this computer.

Bytes per device are the memory estimate's (`fit.estimate`) offloaded share cut at the devices'
layer boundaries: weights and KV cache of its layers, and a compute buffer (the whole graph's on
the device with the output layer, the repeating layers' on the others).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from inference.memory.fit import estimate, human_bytes
from inference.memory.model_shape import total_layers

if TYPE_CHECKING:
    from inference.gguf.file import GGUFInfo

UNKNOWN_FREE = "free memory unknown"


class DeviceLike(Protocol):
    """What the split needs of a device (inference.llama.rpc.DeviceMemory has it)."""

    name: str
    endpoint: str            # "" for a local device
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class DeviceShare:
    """One device's part of the model."""

    name: str                # "CPU" for this computer's own share, else llama.cpp's ("RPC0")
    where: str               # "this computer" or the RPC server's host:port
    layers: int              # repeating layers, plus the output layer where it is here
    has_output: bool
    bytes: int               # weights + KV cache + compute buffer
    free_bytes: int | None   # None: the device does not say (or this computer's RAM, not given)

    @property
    def fits(self) -> bool | None:
        return None if self.free_bytes is None else self.bytes <= self.free_bytes

    def describe(self) -> str:
        output = " + output" if self.has_output else ""
        free = (f" of {human_bytes(self.free_bytes)} free" if self.free_bytes is not None
                else f" ({UNKNOWN_FREE})")
        return (f"{self.name} ({self.where}): {self.layers} layers{output}, "
                f"~{human_bytes(self.bytes)}{free}")


def layer_devices(n_layer: int, n_gpu_layers: int, weights: Sequence[float]) -> list[int]:
    """For each layer 0 … n_layer (n_layer = output), its device index, or -1 for the CPU."""
    ngl = n_layer + 1 if n_gpu_layers < 0 else n_gpu_layers
    if not weights:
        return [-1] * (n_layer + 1)
    start = max(n_layer + 1 - ngl, 0)
    offloaded = min(ngl, n_layer + 1)
    points = np.cumsum(np.asarray(weights, dtype=np.float32), dtype=np.float32)
    points = (points / points[-1]).astype(np.float32)
    out = []
    for il in range(n_layer + 1):
        if il < start or il - start >= offloaded:
            out.append(-1)
            continue
        where = np.float32(il - start) / np.float32(offloaded)
        out.append(min(int(np.searchsorted(points, where, side="right")), len(weights) - 1))
    return out


def split_by_device(info: GGUFInfo, devices: Sequence[DeviceLike], *, n_ctx: int,
                    n_gpu_layers: int, host_free: int | None = None, n_ubatch: int = 512,
                    kv_type: str = "f16", kv_type_v: str | None = None,
                    flash_attn: bool | str = "auto") -> list[DeviceShare]:
    """This computer's CPU share first, then one share per device, in llama.cpp's order."""
    n_layer = total_layers(info)
    weights = [float(d.free_bytes) if d.free_bytes or d.total_bytes else float(host_free or 0)
               for d in devices]
    if devices and not any(weights):
        weights = [1.0] * len(devices)        # nothing known: llama.cpp would split evenly too
    where = layer_devices(n_layer, n_gpu_layers, weights)

    def offloaded_bytes(first: int) -> tuple[int, int, int]:
        """(weights, KV, compute) of layers first … n_layer when those are the offloaded ones."""
        est = estimate(info, n_ctx, n_layer + 1 - first, n_ubatch, kv_type, kv_type_v=kv_type_v,
                       flash_attn=flash_attn)
        return est.weights_gpu_bytes, est.kv_gpu_bytes, est.compute_gpu_bytes

    full = estimate(info, n_ctx, sum(1 for w in where if w >= 0), n_ubatch, kv_type,
                    kv_type_v=kv_type_v, flash_attn=flash_attn)
    layer_compute = estimate(info, n_ctx, 1, n_ubatch, kv_type, kv_type_v=kv_type_v,
                             flash_attn=flash_attn).compute_cpu_bytes   # repeating layers only
    cpu_layers = sum(1 for w in where[:n_layer] if w < 0)
    shares = [DeviceShare("CPU", "this computer", cpu_layers, where[n_layer] < 0,
                          full.cpu_bytes, host_free)]
    for index, device in enumerate(devices):
        mine = [il for il, w in enumerate(where) if w == index]
        if not mine:
            shares.append(DeviceShare(device.name, _where(device), 0, False, 0,
                                      _free(device)))
            continue
        first, last = mine[0], mine[-1]
        w_a, kv_a, _ = offloaded_bytes(first)
        w_b, kv_b, _ = offloaded_bytes(last + 1) if last < n_layer else (0, 0, 0)
        has_output = last == n_layer
        compute = full.compute_gpu_bytes if has_output else min(layer_compute,
                                                                 full.compute_gpu_bytes)
        shares.append(DeviceShare(device.name, _where(device), len(mine) - int(has_output),
                                  has_output, (w_a - w_b) + (kv_a - kv_b) + compute,
                                  _free(device)))
    return shares


def split_summary(shares: Sequence[DeviceShare]) -> str:
    """One line per share; devices that will not hold their part are marked."""
    lines = []
    for share in shares:
        mark = "  ← does not fit" if share.fits is False else ""
        lines.append(share.describe() + mark)
    return "\n".join(lines)


def _where(device: DeviceLike) -> str:
    return device.endpoint or "this computer"


def _free(device: DeviceLike) -> int | None:
    return device.free_bytes if device.free_bytes or device.total_bytes else None
