""""Same prompt": one chat prompt, one seed, through each file; replies side by side.

Each file is loaded in its own spawned child process (like a comparison's files), runs one chat
turn through the ordinary `Engine`, streams its text back, and reports TTFT and TPOT as defined in
docs/ARCHITECTURE.md § Figures. With the same seed and sampling, differences between the replies
come from the
quantization alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, InvalidSettingError, ParleyError
from inference.engine.events import Finished, TokenEvent
from inference.engine.reply_text import PlainReply, plain_reply
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from inference.host.jobs import run_in_child


@dataclass(frozen=True)
class PromptSettings:
    prompt: str
    seed: int = 42
    max_tokens: int = 128
    temperature: float = 0.8
    n_ctx: int = 2048
    threads: int = 0
    gpu_layers: int = 0

    def request(self) -> GenerationRequest:
        if not self.prompt.strip():
            raise InvalidSettingError("write a prompt to send to every file")
        sampling = SamplingParams(seed=self.seed, max_tokens=self.max_tokens,
                                  temperature=self.temperature)
        return GenerationRequest(Mode.CHAT, (Message("user", self.prompt),), sampling=sampling)


@dataclass(frozen=True)
class PromptReply:
    file: str
    text: str
    finish_reason: str
    output_tokens: int
    ttft_s: float | None
    tpot_s: float | None
    gen_tps: float | None
    error: str | None = None       # this file failed (the others still ran)
    reasoning: str = ""            # the model's thinking, apart from the answer (`text`)

    @property
    def shown_text(self) -> str:
        """What the reply's column shows: the thinking, marked, then the answer."""
        return plain_reply(self.reasoning, self.text)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PromptPiece:
    """Streamed to the caller while a file generates."""

    index: int
    file: str
    text: str                      # new text since the last piece


def run_same_prompt(paths: Sequence[str | Path], settings: PromptSettings, *,
                    on_piece: Callable[[PromptPiece], None] | None = None,
                    cancel: CancelToken | None = None) -> tuple[PromptReply, ...]:
    """One reply per file, in order; a file that fails gets a reply with `error` set."""
    request = settings.request()
    replies = []
    for index, path in enumerate(paths):
        if cancel is not None and cancel.cancelled:
            raise Cancelled("same-prompt run cancelled")
        name = Path(path).name

        def forward(text: str, index: int = index, name: str = name) -> None:
            if on_piece is not None:
                on_piece(PromptPiece(index, name, text))

        try:
            replies.append(run_in_child(_reply_in_child, str(path), settings, request,
                                        on_message=forward, cancel=cancel,
                                        what=f"reply from {name}"))
        except ParleyError as exc:
            replies.append(PromptReply(name, "", "error", 0, None, None, None, str(exc)))
    return tuple(replies)


def _reply_in_child(path: str, settings: PromptSettings, request: GenerationRequest,
                    emit: Callable[[Any], None]) -> PromptReply:
    from inference.engine.config import ModelConfig
    from inference.engine.engine import Engine

    engine = Engine()
    try:
        engine.load(ModelConfig(Path(path), n_ctx=settings.n_ctx,
                                n_gpu_layers=settings.gpu_layers, n_threads=settings.threads,
                                seed=settings.seed))
        finished: Finished | None = None
        shown = PlainReply()
        for event in engine.generate(request, CancelToken()):
            if isinstance(event, TokenEvent):
                piece = shown.piece(event.text, event.reasoning)
                if piece:
                    emit(piece)
            elif isinstance(event, Finished):
                finished = event
    finally:
        engine.close()
    if finished is None:
        raise ParleyError("the generation ended without a result")
    s = finished.stats
    return PromptReply(Path(path).name, finished.text, finished.reason.value, s.output_tokens,
                       s.ttft_s, s.tpot_s, s.gen_tps, reasoning=finished.reasoning)
