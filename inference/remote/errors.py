"""The remote engine's errors: one specific sentence for each way a server can fail us."""

from __future__ import annotations

from inference.common.errors import ParleyError


class RemoteError(ParleyError):
    """Talking to a remote engine failed; `str(err)` names the server and what went wrong."""


class RemoteUnreachableError(RemoteError):
    """No connection: refused, unknown host, no route."""


class RemoteTLSError(RemoteError):
    """The TLS handshake failed (an untrusted certificate, a wrong host name, plain HTTP)."""


class RemoteAuthError(RemoteError):
    """401 / 403: the API key is missing, wrong or not allowed to do this."""


class RemoteModelNotFoundError(RemoteError):
    """404 for the model, or a model name the server does not list."""


class RemoteBusyError(RemoteError):
    """429 / 503 that lasted past the waits Parley allows."""


class RemoteTimeoutError(RemoteError):
    """The server did not connect or answer within the timeout."""


class RemoteResponseError(RemoteError):
    """The server answered something Parley cannot use (another status, a malformed body)."""


class NoLogitsError(RemoteError):
    """Perplexity needs the model's logits, which an OpenAI-compatible server does not give."""

    def __init__(self, name: str = "") -> None:
        where = f" ({name})" if name else ""
        super().__init__(f"A remote engine{where} has no logits, so it cannot measure "
                         "perplexity; choose 'This computer' and load the model locally.")


class NoTokenizerError(RemoteError):
    """The server has no tokenize endpoint (only llama-server has one)."""
