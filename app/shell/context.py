"""AppContext: the long-lived objects a window works with, created once and passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.data.api_keys import ApiKeys
from app.data.drafts import DRAFTS_FILE, DraftStore
from app.data.history_open import open_history
from app.data.prefs import Preferences, PrefsStore
from app.data.store import Store
from app.engine.build_read import BuildReader, read_build_in_child
from app.engine.client import EngineClient
from app.engine.worker import ModelResolver, default_resolver
from inference.common.paths import ParleyPaths, parley_paths
from inference.engine.api import EngineAPI


@dataclass
class AppContext:
    store: Store
    prefs_store: PrefsStore
    prefs: Preferences
    client: EngineClient
    models_dir: Path
    drafts: DraftStore
    paths: ParleyPaths
    build_reader: BuildReader = read_build_in_child   # tests may pass a fake (a GPU build)
    store_notice: str = ""        # what opening the history found (damaged, read-only…)
    api_keys: ApiKeys = field(default_factory=ApiKeys)   # remote engines' keys (keychain)

    @classmethod
    def create(cls, engine_factory: Callable[[], EngineAPI],
               resolver: ModelResolver = default_resolver,
               build_reader: BuildReader = read_build_in_child) -> AppContext:
        paths = parley_paths().ensure()
        prefs_store = PrefsStore()
        history = open_history(paths.database)
        return cls(store=history.store, prefs_store=prefs_store,
                   prefs=prefs_store.load(), client=EngineClient(engine_factory, resolver),
                   models_dir=paths.models, drafts=DraftStore(paths.data / DRAFTS_FILE),
                   paths=paths, build_reader=build_reader, store_notice=history.notice)

    def close(self) -> None:
        self.client.shutdown()
        self.store.close()


def default_engine_factory() -> EngineAPI:
    """The engine in a child process when available (survives native crashes), else in-process."""
    try:
        from inference.host.host import EngineHost
    except ImportError:
        from inference.engine.engine import Engine

        return Engine()
    from inference.host.host import CHAT_ADVICE

    return EngineHost(crash_advice=CHAT_ADVICE)
