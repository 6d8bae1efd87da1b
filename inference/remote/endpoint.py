"""Where a remote engine is: its base URL, API key, model, server kind and timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlsplit

from inference.common.errors import InvalidSettingError


class ServerKind(str, Enum):
    """The servers Parley knows apart (each accepts its own sampling extensions)."""

    LLAMA_SERVER = "llama-server"
    VLLM = "vllm"
    OLLAMA = "ollama"
    PARLEY = "parley"
    OPENAI = "openai"          # any other OpenAI-compatible server: OpenAI's parameters only

    @property
    def label(self) -> str:
        return {"llama-server": "llama.cpp server", "vllm": "vLLM", "ollama": "Ollama",
                "parley": "parley serve", "openai": "OpenAI-compatible"}[self.value]


@dataclass(frozen=True)
class RemoteTimeouts:
    """Every wait has a deadline. `read_s` bounds each wait for the next bytes of a reply (a
    long prompt's prefill included); busy waits follow Retry-After, each at most
    `busy_wait_max_s`, at most `busy_retries` of them."""

    connect_s: float = 5.0
    read_s: float = 120.0
    busy_retries: int = 3
    busy_wait_max_s: float = 30.0


@dataclass(frozen=True)
class RemoteEndpoint:
    """One remote engine as a person saved it. `kind` None: found out on connecting."""

    base_url: str
    model: str = ""                        # "" : the server's only model
    api_key: str = field(default="", repr=False)   # never printed, logged or saved in prefs
    name: str = ""
    kind: ServerKind | None = None
    timeouts: RemoteTimeouts = field(default_factory=RemoteTimeouts)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalize_base_url(self.base_url))
        if self.kind is not None:
            object.__setattr__(self, "kind", ServerKind(self.kind))

    @property
    def label(self) -> str:
        """The name shown for it: the saved name, else the host."""
        return self.name or urlsplit(self.base_url).netloc

    def url(self, path: str) -> str:
        """`path` under the OpenAI API root ("/models" → "http://host:8080/v1/models")."""
        return self.base_url + "/v1" + path

    def root_url(self, path: str) -> str:
        """`path` at the server's root, beside /v1 ("/props", "/health", "/slots")."""
        return self.base_url + path


def normalize_base_url(value: str) -> str:
    """"host:8080", "http://host:8080/", "http://host:8080/v1" → "http://host:8080"; a clear
    error for anything that is not an http(s) URL."""
    text = (value or "").strip()
    if not text:
        raise InvalidSettingError("the remote engine needs a URL, e.g. http://127.0.0.1:8080")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise InvalidSettingError(f"a remote engine's URL must start with http:// or https://, "
                                  f"got {value!r}")
    if not parts.hostname:
        raise InvalidSettingError(f"no host name in the remote engine's URL {value!r}")
    try:
        parts.port   # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise InvalidSettingError(f"the port in {value!r} is not a number from 0 to 65535") \
            from None
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"
