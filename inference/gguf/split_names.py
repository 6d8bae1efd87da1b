"""Split GGUF file names: `name-00002-of-00003.gguf` is part 2 of a model in 3 files."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPLIT = re.compile(r"^(?P<base>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)


@dataclass(frozen=True)
class SplitName:
    """`name-00002-of-00003.gguf` → base "name", part 2, count 3."""

    base: str
    part: int
    count: int

    def file_name(self, part: int) -> str:
        return f"{self.base}-{part:05d}-of-{self.count:05d}.gguf"


def split_name(file_name: str) -> SplitName | None:
    """The split parts of a file name, or None when it is not a split GGUF part."""
    m = _SPLIT.match(file_name)
    if m is None:
        return None
    part, count = int(m["no"]), int(m["count"])
    if not 1 <= part <= count:
        return None
    return SplitName(m["base"], part, count)
