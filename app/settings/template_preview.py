"""The template editor's live preview: the prompt a template makes of a conversation, rendered
off the GUI thread in a one-shot child process (`parley prompt`'s own code, on the model's
vocabulary alone), so a template that loops until its render limits stop it, or a native
failure while the vocabulary loads, never touches the window.

Only the newest request counts: asking again cancels the one in flight (its child is killed) and
a late answer to an older request is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.engine.jobs import Job, JobPool
from inference.common.cancel import CancelToken
from inference.common.errors import ParleyError
from inference.engine.prompt_preview import PromptPreview, preview_in_child
from inference.engine.prompts import TRIAL_CONVERSATION
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.template_limits import TemplateError
from inference.engine.template_source import TemplateSource
from inference.host.jobs import run_in_child

PREVIEW_TIMEOUT_S = 30.0       # far beyond the render's own limits and a vocabulary's load


SAMPLE = "a sample conversation"
CURRENT = "this conversation"


@dataclass(frozen=True)
class PreviewContext:
    """What to preview with: the model's file, the conversation, the context size."""

    path: Path
    request: GenerationRequest
    n_ctx: int
    conversation: str = CURRENT        # which conversation it is, in words


@dataclass(frozen=True)
class PreviewFailure:
    message: str
    template_fault: bool       # the template itself failed (not the file, not the conversation)


PreviewResult = PromptPreview | PreviewFailure


def trial_request() -> GenerationRequest:
    """The conversation the load's trial render uses, for when there is none of the user's."""
    system = next((m.content for m in TRIAL_CONVERSATION if m.role == "system"), "")
    turns = tuple(m for m in TRIAL_CONVERSATION if m.role != "system")
    return GenerationRequest(Mode.CHAT, turns, system=system)


def preview_context(path: Path, request: GenerationRequest | None,
                    n_ctx: int) -> PreviewContext:
    """What Show prompt would render for `request` when it has a turn to answer through a chat
    template (Chat with the user's message last, Instruct); else the trial conversation."""
    chat_turn = request is not None and request.mode is Mode.CHAT and bool(
        request.messages) and request.messages[-1].role == "user"
    if request is None or not (chat_turn or request.mode is Mode.INSTRUCT):
        return PreviewContext(path, trial_request(), n_ctx, SAMPLE)
    return PreviewContext(path, request, n_ctx, CURRENT)


def render_preview(context: PreviewContext, source: TemplateSource,
                   cancel: CancelToken | None = None) -> PromptPreview:
    """The preview, computed in a child process (blocks: call it from a job)."""
    return run_in_child(preview_in_child, str(context.path), context.request.to_dict(),
                        source.to_dict(), context.n_ctx, cancel=cancel, what="prompt preview",
                        timeout_s=PREVIEW_TIMEOUT_S)


class TemplatePreviewer(QObject):
    """Renders previews one at a time, newest first; `ready` gets a PreviewResult."""

    ready = Signal(object)

    def __init__(self, render: Callable[..., PromptPreview] = render_preview,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._render = render
        self._jobs = JobPool(1, self, "TemplatePreview")
        self._job: Job | None = None
        self._serial = 0

    @property
    def busy(self) -> bool:
        return self._jobs.busy

    def request(self, context: PreviewContext, source: TemplateSource) -> None:
        """Render `source` on `context`, cancelling the render in flight."""
        if self._job is not None:
            self._job.cancel()
        self._serial += 1
        serial, render = self._serial, self._render
        self._job = self._jobs.start(
            lambda ctx: render(context, source, ctx.token),
            returned=lambda preview: self._deliver(serial, preview),
            errored=lambda error: self._deliver(serial, _failure(error)))

    def shutdown(self) -> None:
        """Cancel what runs and wait for it (its child is killed)."""
        self._serial += 1
        self._jobs.shutdown()

    def _deliver(self, serial: int, result: PreviewResult) -> None:
        if serial == self._serial:
            self._job = None
            self.ready.emit(result)


def _failure(error: BaseException) -> PreviewFailure:
    message = str(error) if isinstance(error, ParleyError) else f"Could not render: {error}"
    return PreviewFailure(" ".join(message.split()), isinstance(error, TemplateError))
