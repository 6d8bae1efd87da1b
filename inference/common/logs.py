"""Parley's log file (platformdirs log folder): Parley's own messages and llama.cpp's log."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from inference.common.paths import parley_paths

LOG_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"


def configure_logging(verbose: bool = False, log_file: Path | None = None) -> Path:
    """Send the `parley` loggers to the log file (and to stderr when verbose); idempotent."""
    target = log_file or parley_paths().ensure().log_file
    root = logging.getLogger("parley")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not any(getattr(h, "parley_file", None) == str(target) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(
            target, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8")
        handler.parley_file = str(target)  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    if verbose and not any(getattr(h, "parley_stderr", False) for h in root.handlers):
        stream = logging.StreamHandler()
        stream.parley_stderr = True  # type: ignore[attr-defined]
        stream.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root.addHandler(stream)
    return target
