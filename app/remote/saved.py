"""The saved remote engines: name, URL and model in the preferences, the key in the keychain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.data.api_keys import ApiKeys
from app.data.prefs import Preferences
from inference.common.errors import InvalidSettingError
from inference.remote.endpoint import RemoteEndpoint, normalize_base_url

THIS_COMPUTER = "This computer"


@dataclass(frozen=True)
class SavedEngine:
    name: str
    base_url: str
    model: str = ""                 # "" : the server's only model

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "base_url": self.base_url, "model": self.model}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SavedEngine:
        return cls(str(data["name"]), str(data["base_url"]), str(data.get("model", "")))

    @classmethod
    def checked(cls, name: str, base_url: str, model: str = "") -> SavedEngine:
        """From what a person typed: a name, a URL Parley can use; one clear error if not."""
        name = " ".join(name.split())
        if not name:
            raise InvalidSettingError("give the engine a name")
        if name == THIS_COMPUTER:
            raise InvalidSettingError(f"“{THIS_COMPUTER}” is the local engine's name")
        return cls(name, normalize_base_url(base_url), model.strip())


class EngineBook:
    """Reads and writes the saved engines; `prefs()` is the window's current preferences."""

    def __init__(self, prefs: Callable[[], Preferences],
                 save: Callable[[Preferences], object], keys: ApiKeys) -> None:
        self._prefs = prefs
        self._save = save
        self.keys = keys

    def engines(self) -> list[SavedEngine]:
        return [SavedEngine.from_dict(d) for d in self._prefs().remote_engines]

    def find(self, name: str) -> SavedEngine | None:
        return next((e for e in self.engines() if e.name == name), None)

    def put(self, engine: SavedEngine, key: str | None = None, replacing: str = "") -> str:
        """Add `engine` (or replace the one named `replacing`); `key` None keeps the stored
        key. Returns a note when the key could not go to the keychain ("" when it did)."""
        old = replacing or engine.name
        kept_key = self.keys.get(old) if key is None else key
        engines = [e for e in self.engines() if e.name not in (old, engine.name)]
        self._write([*engines, engine])
        if old != engine.name:
            self.keys.forget(old)
        return "" if self.keys.set(engine.name, kept_key) else self.keys.note

    def remove(self, name: str) -> None:
        self._write([e for e in self.engines() if e.name != name])
        self.keys.forget(name)
        if self._prefs().engine == name:
            self.choose("")

    def endpoint(self, engine: SavedEngine) -> RemoteEndpoint:
        """Where the engine is, with its key from the keychain."""
        return RemoteEndpoint(engine.base_url, model=engine.model,
                              api_key=self.keys.get(engine.name), name=engine.name)

    @property
    def chosen(self) -> str:
        """The engine chosen last: "" for this computer, else a saved engine's name."""
        name = self._prefs().engine
        return name if self.find(name) is not None else ""

    def choose(self, name: str) -> None:
        prefs = self._prefs()
        prefs.engine = name
        self._save(prefs)

    def _write(self, engines: list[SavedEngine]) -> None:
        prefs = self._prefs()
        prefs.remote_engines = [e.to_dict() for e in engines]
        self._save(prefs)
