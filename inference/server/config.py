"""What `parley serve` was asked for: address, security, slots and the bounds on every request."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from types import MappingProxyType

from inference.common.errors import InvalidSettingError
from inference.common.limits import LIMITS, IntLimit

MAX_BODY = 8 << 20               # bytes in one request body (8 MiB); more is a 413
MAX_MESSAGES = 1024              # messages in one chat request
MAX_STOP = 16                    # stop strings in one request
QUEUE_TIMEOUT_S = 60.0           # a request waiting longer than this for a slot gets a 503
API_KEY_ENV = "PARLEY_API_KEY"   # --api-key's default: a key there stays out of the process list
RETRY_AFTER_S = 2                # what a 503 tells the client to wait

SERVER_LIMITS = MappingProxyType({
    "port": IntLimit("port", 0, 65535),                       # 0: a free port, printed
    "parallel": LIMITS["n_parallel"],
    "max_queue": IntLimit("queue length", 0, 100_000),
})


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    parallel: int = 4
    api_key: str | None = None
    no_auth: bool = False
    cors: tuple[str, ...] = field(default_factory=tuple)
    max_queue: int = 64                    # requests waiting for a slot
    queue_timeout_s: float = QUEUE_TIMEOUT_S
    max_body: int = MAX_BODY
    max_messages: int = MAX_MESSAGES

    def __post_init__(self) -> None:
        SERVER_LIMITS["port"].check(self.port)
        SERVER_LIMITS["parallel"].check(self.parallel)
        SERVER_LIMITS["max_queue"].check(self.max_queue)
        if not self.queue_timeout_s > 0:
            raise InvalidSettingError(f"queue timeout must be above 0 s, got "
                                      f"{self.queue_timeout_s:g}")
        if self.api_key is not None and not self.api_key.strip():
            raise InvalidSettingError("the API key must not be empty")
        if self.api_key is not None and self.no_auth:
            raise InvalidSettingError("--api-key and --no-auth cannot be used together")
        if not self.local and self.api_key is None and not self.no_auth:
            raise InvalidSettingError(
                f"binding to {self.host} makes the server reachable from other machines: give "
                f"it an --api-key KEY (or --no-auth to serve without one)")

    @property
    def local(self) -> bool:
        """Bound to the loopback interface only (127.0.0.0/8, ::1, localhost)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def open_to_anyone(self) -> bool:
        """Reachable beyond this machine with no key: warned about on every start."""
        return not self.local and self.api_key is None
