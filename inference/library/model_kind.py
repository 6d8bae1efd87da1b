"""Base model or tuned one: whether a GGUF only continues text or was tuned to chat / follow
instructions, decided from its header alone (no weights, no vocabulary).

A model is *base* when it has no chat template and nothing in its metadata or file name names
an instruction or chat finetune (`general.finetune`, `general.name`, `general.basename`, the
file's name: "-it", "instruct", "chat", "sft", "dpo", …). The header reader skips the values of
string arrays, so `general.tags` is not looked at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from inference.gguf.file import GGUFInfo

BASE_MODEL_NOTICE = ("This is a base model: it continues text. Text mode suits it; for chat, "
                     "download an instruction-tuned model.")
NAME_KEYS = ("general.finetune", "general.name", "general.basename")

# Words of a name that mark a finetune for chat or instructions: whole words ("gemma-3-1b-it")…
_WORDS = frozenset({"it", "inst", "sft", "dpo", "orpo", "kto", "ppo", "grpo", "simpo", "rlhf",
                    "rlaif", "rl"})
# …and longer ones also inside a word ("openchat", "chatglm", "instruction").
_PARTS = ("instruct", "chat", "assistant", "conversation")
_SPLIT = re.compile(r"[^a-z0-9]+")


class ModelKind(str, Enum):
    BASE = "base"          # continues text: Text mode suits it
    TUNED = "tuned"        # a chat or instruction finetune (or it carries a chat template)


@dataclass(frozen=True)
class KindVerdict:
    kind: ModelKind
    reason: str            # why, in words: "it has a chat template", "“it” in its name" …

    @property
    def is_base(self) -> bool:
        return self.kind is ModelKind.BASE

    @property
    def label(self) -> str:
        """One line for the model's facts, e.g. "base model (no chat template, …)"."""
        what = "base model" if self.is_base else "chat / instruction-tuned"
        return f"{what} ({self.reason})"


def model_kind(info: GGUFInfo) -> KindVerdict:
    """The kind of the model whose header `info` is."""
    return classify(info.has_chat_template, _names(info.metadata, info.path.name))


def model_kind_of(summary: Mapping[str, Any]) -> KindVerdict:
    """The kind from `GGUFInfo.to_dict()`, as `LoadedModel.info` carries it."""
    metadata = summary.get("metadata")
    return classify(bool(summary.get("chat_template")),
                    _names(metadata if isinstance(metadata, Mapping) else {},
                           str(summary.get("file_name") or "")))


def classify(has_chat_template: bool, names: Iterable[str]) -> KindVerdict:
    """Base unless there is a chat template or one of `names` names a finetune."""
    if has_chat_template:
        return KindVerdict(ModelKind.TUNED, "it has a chat template")
    for name in names:
        marker = finetune_marker(name)
        if marker:
            return KindVerdict(ModelKind.TUNED, f"“{marker}” in {name}")
    return KindVerdict(ModelKind.BASE, "no chat template, and no chat or instruct finetune in "
                                       "its name or metadata")


def finetune_marker(name: str) -> str:
    """The word of `name` that marks a chat or instruction finetune, or ""."""
    for word in _SPLIT.split(name.lower()):
        if word in _WORDS or any(part in word for part in _PARTS):
            return word
    return ""


def _names(metadata: Mapping[str, Any], file_name: str) -> list[str]:
    names = [value for key in NAME_KEYS
             if isinstance(value := metadata.get(key), str) and value.strip()]
    stem = file_name.removesuffix(".gguf")
    return [*names, stem] if stem else names
