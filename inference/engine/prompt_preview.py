"""The exact prompt a model would see, from its vocabulary alone (no weights, no context), for
`parley prompt` and the template editor's live preview.

It takes the load's own steps (`template_for` on the file, the user's `TemplateSource`) and the
engine's own prompt building (`build_prompt`, the same tokenizer calls), so its text is the text
`Engine.render` and Show prompt give for the same request and context size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inference.common.cancel import CancelToken
from inference.engine.prompts import build_prompt
from inference.engine.requests import GenerationRequest
from inference.engine.template_check import template_for
from inference.engine.template_source import TemplateSource
from inference.gguf.file import read_gguf
from inference.llama.chunked_tokenize import tokenize_chunked
from inference.llama.native import NativeModel

CTX_PAD = 256        # llama.cpp rounds n_ctx up to a multiple of this (1000 → 1024)
FILE_TEMPLATE = TemplateSource()    # the model file's own template


@dataclass(frozen=True)
class PromptPreview:
    text: str                      # as Engine.render and Show prompt give it (no BOS text)
    bos: str                       # the BOS token's text the tokenizer puts first, or ""
    template: str                  # which template made it
    prompt_tokens: int             # BOS included
    dropped_turns: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def model_text(self) -> str:
        """Everything the model reads: the BOS token's text, then the prompt."""
        return self.bos + self.text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


def context_size(n_ctx: int) -> int:
    """The context llama.cpp allocates when asked for `n_ctx` tokens."""
    return -(-n_ctx // CTX_PAD) * CTX_PAD


def preview_prompt(path: str | Path, request: GenerationRequest,
                   source: TemplateSource = FILE_TEMPLATE, n_ctx: int = 4096,
                   cancel: CancelToken | None = None) -> PromptPreview:
    """The prompt `request` becomes for the model at `path` with the template `source`; the
    engine's own errors (PromptError, TemplateError, GGUFError …) for what cannot be."""
    info = read_gguf(path)                 # a specific error for a file that is not a GGUF
    model = NativeModel(info.path, vocab_only=True)
    try:
        choice = template_for(info, model, source)
        bos_text = model.token_text(model.bos) if model.add_bos else ""
        built = build_prompt(
            request, choice,
            lambda text, special: tokenize_chunked(model, text, add_special=True,
                                                   parse_special=special, cancel=cancel),
            context_size(n_ctx), bos_text)
    finally:
        model.close()
    warnings = tuple(dict.fromkeys(
        [*((choice.warning,) if choice.warning else ()), *built.warnings]))
    return PromptPreview(built.text, bos_text if built.tokens[:1] == [model.bos] else "",
                         built.template, len(built.tokens), built.dropped_turns, warnings)


def preview_in_child(path: str, request: dict[str, Any], source: dict[str, Any], n_ctx: int,
                     _emit: Any) -> PromptPreview:
    """`preview_prompt` as a one-shot child job's target (`inference.host.jobs.run_in_child`):
    plain, picklable arguments in, a PromptPreview out."""
    return preview_prompt(path, GenerationRequest.from_dict(request),
                          TemplateSource.from_value(source), n_ctx)
