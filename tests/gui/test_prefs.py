"""Preferences and presets: JSON files, atomic writes, tolerant reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.data.prefs import Preferences, PrefsStore
from inference.common.errors import InvalidSettingError
from inference.common.paths import parley_paths
from inference.engine.sampling import SamplingParams


@pytest.fixture
def prefs_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "preferences.json"


def test_defaults_when_missing(prefs_path: Path) -> None:
    prefs = PrefsStore(prefs_path).load()
    assert prefs == Preferences()
    assert prefs.sampling == SamplingParams().to_dict()
    assert prefs.model_settings == {"n_ctx": 4096, "n_gpu_layers": 0, "n_threads": 0}
    assert prefs.system_prompt == "You are a helpful assistant."
    assert (prefs.mode, prefs.theme, prefs.last_conversation_id) == ("chat", "system", None)
    assert not prefs_path.exists()


def test_default_path_honours_parley_home(parley_home: Path) -> None:
    store = PrefsStore()
    assert store.path == parley_paths().config / "preferences.json"
    assert str(store.path).startswith(str(parley_home))


def test_round_trip(prefs_path: Path) -> None:
    store = PrefsStore(prefs_path)
    prefs = Preferences(
        last_model="/m/a.gguf", recent_models=["/m/a.gguf", "/m/b.gguf"],
        sampling={**SamplingParams().to_dict(), "temperature": 0.2, "stop": ["###"]},
        model_settings={"n_ctx": 8192, "n_gpu_layers": 99, "n_threads": 4},
        system_prompt="Be terse.", mode="instruct", theme="dark", window_geometry="AdnQyw==",
        splitter_state="AAAA/w==", last_conversation_id=42)
    store.save(prefs)
    assert store.load() == prefs
    assert json.loads(prefs_path.read_text())["theme"] == "dark"
    assert [p.name for p in prefs_path.parent.iterdir()] == ["preferences.json"]  # no temp left


def test_corrupt_file_falls_back_and_keeps_bak(prefs_path: Path) -> None:
    prefs_path.parent.mkdir(parents=True)
    prefs_path.write_text("{ not json", encoding="utf-8")
    store = PrefsStore(prefs_path)
    assert store.load() == Preferences()
    assert (prefs_path.parent / "preferences.json.bak").read_text() == "{ not json"
    store.save(Preferences(theme="light"))        # saving afterwards works and keeps the .bak
    assert store.load().theme == "light"
    assert (prefs_path.parent / "preferences.json.bak").exists()


@pytest.mark.parametrize("content", ["[1, 2]", "null", "\udcff", ""])
def test_non_object_files_fall_back(prefs_path: Path, content: str) -> None:
    prefs_path.parent.mkdir(parents=True)
    prefs_path.write_bytes(content.encode("utf-8", "surrogateescape"))
    assert PrefsStore(prefs_path).load() == Preferences()
    assert (prefs_path.parent / "preferences.json.bak").exists()


def test_bad_values_fall_back_one_field_at_a_time(prefs_path: Path) -> None:
    prefs_path.parent.mkdir(parents=True)
    prefs_path.write_text(json.dumps({
        "theme": "purple", "mode": "poetry", "last_model": 7, "recent_models": "nope",
        "sampling": {"temperature": 99}, "model_settings": {"n_ctx": 2048, "n_threads": "x"},
        "last_conversation_id": True, "system_prompt": "kept", "unknown_key": 1,
    }))
    prefs = PrefsStore(prefs_path).load()
    assert (prefs.theme, prefs.mode, prefs.last_model) == ("system", "chat", "")
    assert prefs.recent_models == [] and prefs.last_conversation_id is None
    assert prefs.sampling == SamplingParams().to_dict()
    assert prefs.model_settings == {"n_ctx": 2048, "n_gpu_layers": 0, "n_threads": 0}
    assert prefs.system_prompt == "kept"
    assert not (prefs_path.parent / "preferences.json.bak").exists()


def test_partial_sampling_is_completed_from_defaults(prefs_path: Path) -> None:
    prefs_path.parent.mkdir(parents=True)
    prefs_path.write_text(json.dumps({"sampling": {"top_k": 7}}))
    prefs = PrefsStore(prefs_path).load()
    assert prefs.sampling == {**SamplingParams().to_dict(), "top_k": 7}


def test_add_recent_model(prefs_path: Path) -> None:
    store = PrefsStore(prefs_path)
    prefs = store.load()
    for name in "abcab":
        prefs = store.add_recent_model(prefs, f"/m/{name}.gguf", limit=3)
    assert prefs.recent_models == ["/m/b.gguf", "/m/a.gguf", "/m/c.gguf"]
    assert prefs.last_model == "/m/b.gguf"
    assert store.load() == prefs                  # saved
    prefs = store.add_recent_model(prefs, "/m/d.gguf", limit=3)
    assert prefs.recent_models == ["/m/d.gguf", "/m/b.gguf", "/m/a.gguf"]


def test_presets(prefs_path: Path) -> None:
    store = PrefsStore(prefs_path)
    assert store.presets() == {}
    precise = {**SamplingParams().to_dict(), "temperature": 0.0}
    store.save_preset("Precise", precise, "Answer exactly.")
    store.save_preset("Creative", {"temperature": 1.3}, "")
    presets = PrefsStore(prefs_path).presets()
    assert set(presets) == {"Precise", "Creative"}
    assert presets["Precise"] == {"sampling": precise, "system_prompt": "Answer exactly."}
    assert presets["Creative"]["sampling"]["temperature"] == 1.3
    assert (prefs_path.parent / "presets.json").exists()
    store.save_preset("Precise", precise, "Replaced.")
    assert store.presets()["Precise"]["system_prompt"] == "Replaced."
    store.delete_preset("Creative")
    store.delete_preset("never existed")
    assert set(store.presets()) == {"Precise"}
    with pytest.raises(InvalidSettingError):
        store.save_preset("  ", precise, "")
    with pytest.raises(InvalidSettingError):
        store.save_preset("Hot", {"temperature": 50}, "")


def test_corrupt_presets_file(prefs_path: Path) -> None:
    presets_path = prefs_path.with_name("presets.json")
    presets_path.parent.mkdir(parents=True)
    presets_path.write_text("garbage")
    store = PrefsStore(prefs_path)
    assert store.presets() == {}
    assert presets_path.with_name("presets.json.bak").read_text() == "garbage"
    store.save_preset("ok", {}, "")
    assert set(store.presets()) == {"ok"}


def test_drafts_round_trip_and_tolerate_a_bad_file(tmp_path: Path) -> None:
    from app.data.drafts import Drafts, DraftStore

    store = DraftStore(tmp_path / "data" / "drafts.json")
    assert store.load() == Drafts()                       # missing: nothing drafted
    drafts = Drafts(chat="half a thought", chat_edit_of=7, text="Once", text_conversation=3,
                    instruction="Summarise", instruct_system="Be terse.")
    assert store.save(drafts)
    assert DraftStore(store.path).load() == drafts
    store.path.write_text(json.dumps({"chat": 5, "text": "kept", "text_conversation": -2,
                                      "instruct_system": None}))
    assert store.load() == Drafts(text="kept")            # bad values: that field's default
    store.path.write_text("{ not json")
    assert store.load() == Drafts()
    assert store.path.with_name("drafts.json.bak").read_text() == "{ not json"


def test_all_gpu_layers_is_kept(prefs_path: Path) -> None:
    store = PrefsStore(prefs_path)
    store.save(Preferences(model_settings={"n_ctx": 4096, "n_gpu_layers": -1, "n_threads": 0}))
    assert store.load().model_settings["n_gpu_layers"] == -1         # -1 means "all"
    prefs_path.write_text(json.dumps({"model_settings": {"n_gpu_layers": -2, "n_ctx": -1}}))
    assert store.load().model_settings == {"n_ctx": 4096, "n_gpu_layers": 0, "n_threads": 0}
