"""What a server serves: its models, which kind of server it is, and the context size it
reports (llama-server's /props, vLLM's `max_model_len`, parley serve's model card), else 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inference.remote.endpoint import RemoteEndpoint, ServerKind
from inference.remote.errors import RemoteModelNotFoundError, RemoteResponseError
from inference.remote.http import RemoteHTTP

OWNERS = {"llamacpp": ServerKind.LLAMA_SERVER, "vllm": ServerKind.VLLM,
          "parley": ServerKind.PARLEY, "library": ServerKind.OLLAMA,
          "ollama": ServerKind.OLLAMA}


@dataclass(frozen=True)
class RemoteModel:
    """One model a server lists at /v1/models."""

    id: str
    owned_by: str = ""
    n_ctx: int = 0                 # what the card says (vLLM's max_model_len, parley's n_ctx)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "owned_by": self.owned_by, "n_ctx": self.n_ctx or None}


@dataclass(frozen=True)
class ServerSurvey:
    """What one look at a server found: its kind, its models and llama-server's /props."""

    kind: ServerKind
    models: tuple[RemoteModel, ...]
    props: dict[str, Any]

    def n_ctx(self, model: RemoteModel) -> int:
        return context_size(model, self.props)


def list_models(http: RemoteHTTP) -> list[RemoteModel]:
    """The models GET /v1/models lists (may raise Busy while the server loads)."""
    body = http.get_json(http.endpoint.url("/models"))
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise RemoteResponseError(f"{http.endpoint.base_url}/v1/models did not list models "
                                  "(no 'data' list): is this an OpenAI-compatible server?")
    models = []
    for card in data:
        if isinstance(card, dict) and isinstance(card.get("id"), str):
            meta = card.get("meta") if isinstance(card.get("meta"), dict) else {}
            n_ctx = _whole(card.get("max_model_len")) or _whole(meta.get("n_ctx"))
            models.append(RemoteModel(card["id"], str(card.get("owned_by") or ""), n_ctx))
    return models


def pick_model(endpoint: RemoteEndpoint, models: list[RemoteModel]) -> RemoteModel:
    """The endpoint's model among those listed; with no name, the server's only one."""
    names = ", ".join(m.id for m in models[:10]) or "none"
    if endpoint.model:
        for model in models:
            if model.id == endpoint.model:
                return model
        if len(models) == 1 and _same_file(endpoint.model, models[0].id):
            return models[0]            # llama-server answers to its alias or its file name
        raise RemoteModelNotFoundError(f"{endpoint.base_url} has no model "
                                       f"{endpoint.model!r}; it serves: {names}")
    if len(models) == 1:
        return models[0]
    raise RemoteModelNotFoundError(f"{endpoint.base_url} serves {len(models)} models "
                                   f"({names}): say which with --model NAME" if models else
                                   f"{endpoint.base_url} lists no models")


def detect_kind(http: RemoteHTTP, model: RemoteModel) -> tuple[ServerKind, dict[str, Any]]:
    """The server's kind (from the model card's owner, else llama-server's /props) and the
    /props body when there is one."""
    kind = http.endpoint.kind or OWNERS.get(model.owned_by.lower())
    props: dict[str, Any] = {}
    if kind in (None, ServerKind.LLAMA_SERVER):
        found = http.get_json(http.endpoint.root_url("/props"), not_found_ok=True)
        if isinstance(found, dict) and "default_generation_settings" in found:
            props, kind = found, ServerKind.LLAMA_SERVER
    return kind or ServerKind.OPENAI, props


def context_size(model: RemoteModel, props: dict[str, Any]) -> int:
    """The context a reply has on the server, 0 when the server does not say."""
    settings = props.get("default_generation_settings")
    if isinstance(settings, dict) and _whole(settings.get("n_ctx")):
        return _whole(settings.get("n_ctx"))
    return model.n_ctx


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _same_file(wanted: str, listed: str) -> bool:
    return wanted.rsplit("/", 1)[-1] == listed.rsplit("/", 1)[-1]
