"""The devices a load with RPC servers would use, and their free memory, asked in a child.

Asking an RPC device for its memory goes through llama.cpp's RPC client, which ends its process
when a server goes away mid-question; so the window and the CLI ask in a one-shot child
(`run_in_child`), after the same bounded probe the load does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from inference.common.cancel import CancelToken
from inference.host.jobs import run_in_child

if TYPE_CHECKING:
    from inference.llama.rpc import DeviceMemory

QUERY_TIMEOUT_S = 60.0


def query_devices(servers: Sequence[str], cancel: CancelToken | None = None
                  ) -> list[DeviceMemory]:
    """The RPC servers' devices (then the local GPUs) with their free memory, in the order a
    load lists them; one ParleyError line when a server cannot be used."""
    return run_in_child(devices_in_child, tuple(servers), cancel=cancel,
                        what="RPC device check", timeout_s=QUERY_TIMEOUT_S)


def devices_in_child(servers: tuple[str, ...], _emit: Callable[[object], None]
                     ) -> list[DeviceMemory]:
    """The child's side of `query_devices` (module level, so "spawn" can find it)."""
    from inference.llama.native import ensure_backend
    from inference.llama.rpc import describe_devices, model_devices

    ensure_backend()
    return describe_devices(model_devices(servers), servers)


def rpc_trouble(servers: Sequence[str], timeout_s: float = 1.0) -> str:
    """Why an engine using `servers` may have stopped: the first one that cannot be used, in
    one sentence ending with a space, or "" when every one answers (each probe is bounded)."""
    from inference.common.rpc_endpoints import RpcServerError, probe

    for server in servers:
        try:
            probe(server, timeout_s)
        except RpcServerError as err:
            return f"{err}. "
    return ""
