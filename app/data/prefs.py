"""Persisted preferences and sampling presets, as JSON files in the config folder.

Files are written atomically (temp file in the same folder, fsync, `os.replace`), so a crash
mid-write leaves the old file. A missing file gives the defaults; an unreadable one gives the
defaults too, and is kept beside as `<name>.bak` for a person to look at. A readable file with a
bad value keeps every good value and falls back to the default for that one field only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from inference.common.errors import InvalidSettingError
from inference.common.limits import LIMITS
from inference.common.paths import parley_paths
from inference.common.rpc_endpoints import normalize_servers
from inference.engine.requests import Mode
from inference.engine.sampling import SamplingParams
from inference.engine.template_source import MAX_TEMPLATE_FILE_BYTES, TemplateKind, TemplateSource
from inference.speculative.settings import DEFAULT_DRAFT_MAX, DRAFT_MAX_LIMIT, SpeculativeMode

THEMES = ("system", "light", "dark")
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
PREFERENCES_FILE = "preferences.json"
PRESETS_FILE = "presets.json"


def default_model_settings() -> dict[str, int]:
    return {"n_ctx": 4096, "n_gpu_layers": 0, "n_threads": 0}


def default_speculative() -> dict[str, Any]:
    """Model settings → Speculative decoding, as ModelConfig's three fields (off by default)."""
    return {"mode": "off", "draft_model": "", "draft_max": DEFAULT_DRAFT_MAX}


@dataclass(frozen=True)
class TemplatePref:
    """One model's "Prompt template" setting: the choice, and the custom text (kept while
    another choice is in use, so switching back finds it)."""

    kind: TemplateKind = TemplateKind.FILE
    text: str = ""

    def source(self) -> TemplateSource:
        """What the engine loads the model with (ModelConfig.template)."""
        if self.kind is TemplateKind.CUSTOM:
            return TemplateSource(TemplateKind.CUSTOM, self.text, "settings")
        return TemplateSource(self.kind)

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "text": self.text}

    @classmethod
    def from_value(cls, value: Any) -> TemplatePref | None:
        """From `to_dict()`'s form; None when it is not a valid setting."""
        if not isinstance(value, dict):
            return None
        kind, text = value.get("kind"), value.get("text", "")
        if kind not in {k.value for k in TemplateKind} or not isinstance(text, str):
            return None
        if len(text.encode("utf-8", "surrogatepass")) > MAX_TEMPLATE_FILE_BYTES:
            return None
        if kind == TemplateKind.CUSTOM.value and not text.strip():
            return None
        return cls(TemplateKind(kind), text)


@dataclass
class Preferences:
    last_model: str = ""
    recent_models: list[str] = field(default_factory=list)
    sampling: dict = field(default_factory=lambda: SamplingParams().to_dict())
    model_settings: dict = field(default_factory=default_model_settings)
    rpc_servers: list[str] = field(default_factory=list)   # llama.cpp rpc-servers, host:port
    speculative: dict = field(default_factory=default_speculative)
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    mode: str = "chat"
    mode_chosen: bool = False             # the user picked a mode (else the model's kind may)
    templates: dict = field(default_factory=dict)   # model (path or "starter") -> TemplatePref
    theme: str = "system"                 # system | light | dark
    window_geometry: str = ""             # base64 of QWidget.saveGeometry()
    splitter_state: str = ""              # the panels' widths and folds (app/shell/panel_state.py)
    last_conversation_id: int | None = None
    # saved remote engines: {"name", "base_url", "model"} each; their keys are in the keychain
    remote_engines: list = field(default_factory=list)
    engine: str = ""                      # the engine chosen: "" this computer, else a name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def template_pref(self, model: str) -> TemplatePref:
        """The Prompt template setting saved for `model` (the file's own by default)."""
        return TemplatePref.from_value(self.templates.get(model)) or TemplatePref()

    def set_template_pref(self, model: str, pref: TemplatePref) -> None:
        self.templates = {**self.templates, model: pref.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preferences:
        """Every valid known field of `data`; defaults for the rest (unknown keys ignored)."""
        prefs = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data:
                values[f.name] = _valid(f.name, data[f.name], getattr(prefs, f.name))
        return replace(prefs, **values)


def _valid(name: str, value: Any, default: Any) -> Any:
    """`value` cleaned for field `name`, or `default` when it is not valid."""
    if name == "recent_models":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return list(dict.fromkeys(value)) if ok else default
    if name == "sampling":
        if not isinstance(value, dict):
            return default
        try:
            return SamplingParams.from_dict({**default, **value}).to_dict()
        except (InvalidSettingError, TypeError, ValueError):
            return default
    if name == "model_settings":
        if not isinstance(value, dict):
            return default
        return {key: (value[key] if _is_int(value.get(key))      # the engine's own bounds
                      and LIMITS[key].low <= value[key] <= LIMITS[key].high else base)
                for key, base in default.items()}
    if name == "speculative":
        return _speculative(value) if isinstance(value, dict) else default
    if name == "rpc_servers":
        try:
            return list(normalize_servers(value))
        except InvalidSettingError:
            return default
    if name == "mode":
        return value if value in {m.value for m in Mode} else default
    if name == "theme":
        return value if value in THEMES else default
    if name == "last_conversation_id":
        return value if value is None or _is_int(value) else default
    if name == "mode_chosen":
        return value if isinstance(value, bool) else default
    if name == "remote_engines":
        return _remote_engines(value) if isinstance(value, list) else default
    if name == "templates":
        if not isinstance(value, dict):
            return default
        kept = {model: TemplatePref.from_value(pref) for model, pref in value.items()
                if isinstance(model, str)}
        return {model: pref.to_dict() for model, pref in kept.items() if pref is not None}
    return value if isinstance(value, str) else default


def _speculative(value: dict[str, Any]) -> dict[str, Any]:
    """Each valid field kept, the default for any other (a draft model is a path string)."""
    clean = default_speculative()
    if value.get("mode") in {m.value for m in SpeculativeMode}:
        clean["mode"] = value["mode"]
    if isinstance(value.get("draft_model"), str):
        clean["draft_model"] = value["draft_model"]
    if _is_int(value.get("draft_max")) and 1 <= value["draft_max"] <= DRAFT_MAX_LIMIT:
        clean["draft_max"] = value["draft_max"]
    return clean


REMOTE_FIELDS = ("name", "base_url", "model")


def _remote_engines(value: list[Any]) -> list[dict[str, str]]:
    """The saved remote engines that have a name and a URL (one per name); anything else in
    an entry, a key above all, is dropped."""
    kept: dict[str, dict[str, str]] = {}
    for entry in value:
        if not isinstance(entry, dict):
            continue
        clean = {k: entry.get(k, "") for k in REMOTE_FIELDS}
        if all(isinstance(v, str) for v in clean.values()) and clean["name"].strip() \
                and clean["base_url"].strip():
            kept.setdefault(clean["name"], clean)
    return list(kept.values())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class PrefsStore:
    def __init__(self, path: Path | None = None) -> None:
        """`path` is the preferences file; presets live beside it in `presets.json`."""
        self.path = Path(path) if path is not None else parley_paths().config / PREFERENCES_FILE
        self.presets_path = self.path.with_name(PRESETS_FILE)

    def load(self) -> Preferences:
        data = read_json(self.path)
        return Preferences.from_dict(data) if data is not None else Preferences()

    def save(self, prefs: Preferences) -> bool:
        """Write the preferences; False when the disk refuses (full, read-only): they are
        kept in memory and written by the next save."""
        try:
            write_json_atomic(self.path, prefs.to_dict())
        except OSError:
            return False
        return True

    def add_recent_model(self, prefs: Preferences, path: str, limit: int = 8) -> Preferences:
        """Put `path` first in the recent models (once, at most `limit` kept), make it the
        last model, save, and return the new preferences (`prefs` itself is not changed)."""
        recent = [path, *(p for p in prefs.recent_models if p != path)][: max(limit, 1)]
        updated = replace(prefs, last_model=path, recent_models=recent)
        self.save(updated)
        return updated

    # -- presets: name -> {"sampling": {...}, "system_prompt": "..."} ------------------------

    def presets(self) -> dict[str, dict]:
        data = read_json(self.presets_path)
        if data is None:
            return {}
        result: dict[str, dict] = {}
        for name, preset in data.items():
            if not isinstance(preset, dict):
                continue
            sampling = _valid("sampling", preset.get("sampling"), SamplingParams().to_dict())
            prompt = preset.get("system_prompt")
            result[name] = {"sampling": sampling,
                            "system_prompt": prompt if isinstance(prompt, str) else ""}
        return result

    def save_preset(self, name: str, sampling: dict, system_prompt: str) -> None:
        """Add or replace a preset. Raises InvalidSettingError for a blank name or bad
        sampling values."""
        name = name.strip()
        if not name:
            raise InvalidSettingError("a preset needs a name")
        checked = SamplingParams.from_dict(sampling).to_dict()
        presets = self.presets()
        presets[name] = {"sampling": checked, "system_prompt": system_prompt}
        write_json_atomic(self.presets_path, presets)

    def delete_preset(self, name: str) -> None:
        presets = self.presets()
        if presets.pop(name, None) is not None:
            write_json_atomic(self.presets_path, presets)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`; None when missing. A file that is not a JSON object is
    copied to `<path>.bak` (replacing an older one) and None returned."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        _keep_backup(path)
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        _keep_backup(path)
        return None
    return data


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _keep_backup(path: Path) -> None:
    try:
        shutil.copyfile(path, path.with_name(path.name + ".bak"))
    except OSError:
        pass
