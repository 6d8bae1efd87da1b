"""What a caller asks the engine to generate: mode, messages or text, and sampling."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from inference.common.errors import PromptError
from inference.engine.sampling import SamplingParams


class Mode(str, Enum):
    CHAT = "chat"          # multi-turn with history, through the chat template
    TEXT = "text"          # raw completion: continue `text` with no template
    INSTRUCT = "instruct"  # optional system prompt + one instruction, no history


ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    reasoning: str = ""    # an assistant reply's thinking (the template sees reasoning_content)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise PromptError(f"unknown message role {self.role!r} (expected one of {ROLES})")

    def to_dict(self) -> dict[str, str]:
        data = {"role": self.role, "content": self.content}
        if self.reasoning:
            data["reasoning"] = self.reasoning
        return data


@dataclass(frozen=True)
class GenerationRequest:
    mode: Mode = Mode.CHAT
    messages: tuple[Message, ...] = ()   # chat: the conversation so far, ending with the user
    text: str = ""                       # text: the document to continue; instruct: the instruction
    system: str = ""                     # chat / instruct: the system prompt
    sampling: SamplingParams = field(default_factory=SamplingParams)
    parse_special_in_user_text: bool = False   # True: pasted `<start_of_turn>` is a control token
    inspect_top: int | None = None       # the token inspector's candidates per token; None: off
    reply_prefix: str = ""               # chat / instruct: the reply so far (the inspector's
    #                                      "Continue from here", an API's final assistant
    #                                      message); the model goes on from it, and the events
    #                                      and Finished.text hold only what comes after it

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode(self.mode))
        object.__setattr__(self, "messages", tuple(self.messages))

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "messages": [m.to_dict() for m in self.messages],
            "text": self.text,
            "system": self.system,
            "sampling": self.sampling.to_dict(),
            "parse_special_in_user_text": self.parse_special_in_user_text,
            "inspect_top": self.inspect_top,
            "reply_prefix": self.reply_prefix,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        return cls(
            mode=Mode(data.get("mode", "chat")),
            messages=tuple(Message(m["role"], m["content"], m.get("reasoning", ""))
                           for m in data.get("messages", ())),
            text=data.get("text", ""),
            system=data.get("system", ""),
            sampling=SamplingParams.from_dict(data.get("sampling", {})),
            parse_special_in_user_text=bool(data.get("parse_special_in_user_text", False)),
            inspect_top=data.get("inspect_top"),
            reply_prefix=str(data.get("reply_prefix", "")),
        )
