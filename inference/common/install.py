"""How this copy of Parley was installed: from source (a checkout, pip) or as a bundled app
(PyInstaller sets `sys.frozen`), so that messages can speak to the person who reads them.

A bundle's messages never send anyone to pip, make or the README's developer commands;
`developer_wording` finds such advice in a text (the bundle's self-test and the tests use it).
Every function takes `frozen` so a test can ask for the bundle's wording without touching `sys`.
"""

from __future__ import annotations

import re
import sys

# The Makefile's targets a developer runs; "make" followed by one of them is a command.
MAKE_TARGETS = ("run", "test", "test-fast", "lint", "bench", "screenshots", "rebuild-llama",
                "clean", "soak", "bundle", "package", "package-check")
DEVELOPER_WORDING = re.compile(
    r"\bpip3?\b|\bpipx\b|\bREADME\b|\bCMAKE_ARGS\b|\.venv\b|\bmake (?:"
    + "|".join(re.escape(t) for t in sorted(MAKE_TARGETS, key=len, reverse=True))
    + r")(?![\w-])")


def running_frozen(frozen: bool | None = None) -> bool:
    """Whether Parley runs as a bundled app (`frozen` overrides what `sys` says)."""
    return bool(getattr(sys, "frozen", False)) if frozen is None else frozen


def developer_wording(text: str) -> list[str]:
    """The developer commands a text mentions (pip, make <target>, README …), in order."""
    return [m.group(0) for m in DEVELOPER_WORDING.finditer(text)]
