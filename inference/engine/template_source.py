"""Which chat template the user wants: the model file's own, llama.cpp's built-in, or their own."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from inference.common.errors import InvalidSettingError
from inference.common.text_files import read_text_file

MAX_TEMPLATE_FILE_BYTES = 1 << 20    # real chat templates are at most a few tens of KiB


class TemplateKind(str, Enum):
    FILE = "file"          # the GGUF's own template (the default)
    BUILTIN = "builtin"    # llama.cpp's built-in format for this model
    CUSTOM = "custom"      # the user's own Jinja text


@dataclass(frozen=True)
class TemplateSource:
    kind: TemplateKind = TemplateKind.FILE
    text: str = ""         # CUSTOM: the Jinja source
    origin: str = ""       # CUSTOM: where it came from (a file path, or "settings"), for labels

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", TemplateKind(self.kind))
        if self.kind is TemplateKind.CUSTOM and not self.text.strip():
            raise InvalidSettingError("the custom chat template is empty")

    @classmethod
    def from_file(cls, path: str | Path) -> TemplateSource:
        """A CUSTOM source read from a template file (one-line errors for unreadable files)."""
        path = Path(path).expanduser()
        text = read_text_file(path, max_bytes=MAX_TEMPLATE_FILE_BYTES)
        return cls(TemplateKind.CUSTOM, text, str(path))

    @classmethod
    def from_value(cls, value: TemplateSource | dict[str, Any] | None) -> TemplateSource:
        """From itself, its to_dict() (as it crosses to the engine process), or None."""
        if value is None:
            return cls()
        if isinstance(value, TemplateSource):
            return value
        return cls(**value)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data
