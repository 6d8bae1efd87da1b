"""Errors Parley shows to people: each carries one clear, specific sentence."""

from __future__ import annotations


class ParleyError(Exception):
    """Base of every error meant for the user; `str(err)` is the message to show."""


class GGUFError(ParleyError):
    """The file is not a GGUF Parley can read."""


class GGUFFileNotFoundError(GGUFError, FileNotFoundError):
    """The path does not exist or is not a regular file."""


class NotGGUFError(GGUFError):
    pass


class UnsupportedVersionError(GGUFError):
    pass


class TruncatedFileError(GGUFError):
    pass


class TensorOutOfBoundsError(GGUFError):
    pass


class MetadataError(GGUFError):
    """Unreadable or absurd metadata (bad lengths, counts, types)."""


class UnsupportedArchitectureError(GGUFError):
    pass


class DataFolderError(ParleyError, OSError):
    """One of Parley's own folders (data, config, cache, logs) cannot be created or used."""


class ModelLoadError(ParleyError):
    pass


class NotEnoughMemoryError(ModelLoadError):
    pass


class GenerationError(ParleyError):
    """llama.cpp failed while evaluating tokens (not a cancel, not a full context)."""


class InvalidSettingError(ParleyError, ValueError):
    """A configuration or sampling value out of its range."""


class PromptError(ParleyError):
    """The prompt cannot be built or run (empty, too long for the context …)."""


class PromptTooLongError(PromptError):
    pass


class NoModelLoadedError(ParleyError):
    def __init__(self, message: str = "No model is loaded. Load a model first.") -> None:
        super().__init__(message)


class EngineCrashedError(ParleyError):
    """The engine process died (native abort, segfault, killed)."""

    def __init__(self, message: str, *, exit_signal: str | None = None,
                 log_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.exit_signal = exit_signal
        self.log_tail = log_tail or []


class Cancelled(Exception):
    """A job was cancelled by the user: a normal ending, never shown as an error."""
