"""llama.cpp's RPC backend: the devices of `rpc-server`s on other machines, for one model.

As llama.cpp's own tools do (`common/arg.cpp`, `add_rpc_devices`): find the "RPC" backend in the
loaded ggml, ask it for `ggml_backend_rpc_add_server`, add each `host:port` (one backend
registry per server, one device per device the server offers). Unlike the tools, the registries
are not registered globally: the devices are passed in `llama_model_params.devices` (the RPC
devices first, then the local GPUs, llama.cpp's own default order), so a later load without RPC
servers in the same process does not pick them up. llama.cpp then spreads the offloaded layers
(`n_gpu_layers`) over those devices in proportion to their free memory; the rest stay on the CPU.

Every server is probed first (`rpc_endpoints.probe`, a bounded handshake): the native client
aborts the process on a server it cannot reach.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass

from inference.common.errors import ModelLoadError
from inference.common.rpc_endpoints import probe
from inference.llama.backends import ggml_symbol

NO_RPC_BACKEND = ("This llama.cpp build has no RPC backend, so it cannot use RPC servers. "
                  "Rebuild it with -DGGML_RPC=ON (make rebuild-llama, see the README).")
DEVICE_TYPE_CPU, DEVICE_TYPE_GPU, DEVICE_TYPE_ACCEL, DEVICE_TYPE_IGPU = 0, 1, 2, 3  # ggml-backend.h
_ADD_SERVER = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)


class NoRpcBackendError(ModelLoadError):
    """This llama.cpp was built without GGML_RPC."""


@dataclass(frozen=True)
class DeviceMemory:
    """One device a model's layers may go to, with what it says about its memory."""

    name: str                  # llama.cpp's device name: "RPC0", "CUDA0"
    description: str           # for an RPC device, its server's host:port
    endpoint: str              # the RPC server ("" for a local device)
    free_bytes: int            # 0 with total 0: the device does not say
    total_bytes: int

    @property
    def is_rpc(self) -> bool:
        return bool(self.endpoint)


def rpc_supported() -> bool:
    """Whether this llama.cpp build has the RPC backend."""
    return _rpc_registry() is not None


def rpc_devices(servers: Sequence[str]) -> list[ctypes.c_void_p]:
    """The ggml devices of `servers` (each probed first), in order; one clear error for a build
    without RPC or a server that cannot be used."""
    if not servers:
        return []
    reg = _rpc_registry()
    if reg is None:
        raise NoRpcBackendError(NO_RPC_BACKEND)
    proc = ggml_symbol("ggml_backend_reg_get_proc_address", ctypes.c_void_p,
                       [ctypes.c_void_p, ctypes.c_char_p])
    address = proc(reg, b"ggml_backend_rpc_add_server") if proc is not None else None
    if not address:
        raise NoRpcBackendError("This llama.cpp's RPC backend has no ggml_backend_rpc_add_server;"
                                " rebuild it (make rebuild-llama).")
    add_server = _ADD_SERVER(address)
    dev_count = ggml_symbol("ggml_backend_reg_dev_count", ctypes.c_size_t, [ctypes.c_void_p])
    dev_get = ggml_symbol("ggml_backend_reg_dev_get", ctypes.c_void_p,
                          [ctypes.c_void_p, ctypes.c_size_t])
    assert dev_count is not None and dev_get is not None
    devices: list[ctypes.c_void_p] = []
    for server in servers:
        probe(server)
        server_reg = add_server(server.encode())
        if not server_reg:
            raise ModelLoadError(f"RPC server {server} offers no devices")
        devices += [ctypes.c_void_p(dev_get(server_reg, i)) for i in range(dev_count(server_reg))]
    return devices


def local_offload_devices() -> list[ctypes.c_void_p]:
    """The local GPUs (integrated ones only when there is no discrete GPU), as llama.cpp's
    default device selection takes them; RPC devices are never registered, so none is here."""
    count = ggml_symbol("ggml_backend_dev_count", ctypes.c_size_t, [])
    get = ggml_symbol("ggml_backend_dev_get", ctypes.c_void_p, [ctypes.c_size_t])
    kind = ggml_symbol("ggml_backend_dev_type", ctypes.c_int, [ctypes.c_void_p])
    if count is None or get is None or kind is None:
        return []
    devs = [get(i) for i in range(count())]
    gpus = [ctypes.c_void_p(d) for d in devs if kind(d) == DEVICE_TYPE_GPU]
    igpus = [ctypes.c_void_p(d) for d in devs if kind(d) == DEVICE_TYPE_IGPU]
    return gpus or igpus[:1]


def model_devices(servers: Sequence[str]) -> list[ctypes.c_void_p]:
    """What `llama_model_params.devices` lists with these RPC servers: RPC devices first (fewer
    transfers over the network, as llama.cpp orders them), then the local GPUs."""
    return rpc_devices(servers) + local_offload_devices()


def describe_devices(devices: Sequence[ctypes.c_void_p],
                     servers: Sequence[str] = ()) -> list[DeviceMemory]:
    """Name, server and memory of each device, through ggml's device API (an RPC device asks
    its server)."""
    name = ggml_symbol("ggml_backend_dev_name", ctypes.c_char_p, [ctypes.c_void_p])
    desc = ggml_symbol("ggml_backend_dev_description", ctypes.c_char_p, [ctypes.c_void_p])
    memory = ggml_symbol("ggml_backend_dev_memory", None,
                         [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                          ctypes.POINTER(ctypes.c_size_t)])
    assert name is not None and desc is not None and memory is not None
    out = []
    for dev in devices:
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        memory(dev, ctypes.byref(free), ctypes.byref(total))
        text = (desc(dev) or b"").decode("utf-8", "replace")
        out.append(DeviceMemory(name=(name(dev) or b"?").decode("utf-8", "replace"),
                                description=text, endpoint=text if text in servers else "",
                                free_bytes=int(free.value), total_bytes=int(total.value)))
    return out


def device_array(devices: Sequence[ctypes.c_void_p]) -> ctypes.Array:
    """A NULL-terminated `ggml_backend_dev_t[]` for `llama_model_params.devices` (keep it alive
    until the load returns)."""
    return (ctypes.c_void_p * (len(devices) + 1))(*[d.value for d in devices], None)


def _rpc_registry() -> int | None:
    by_name = ggml_symbol("ggml_backend_reg_by_name", ctypes.c_void_p, [ctypes.c_char_p])
    return (by_name(b"RPC") or None) if by_name is not None else None
