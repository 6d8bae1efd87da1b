"""Remote engines' keys: in the keychain through keyring (a file keyring here), for the session
only where no keychain will take them; and never in the preferences, even if one is put there."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends.fail import Keyring as NoKeyring

from app.data.api_keys import SERVICE, ApiKeys
from app.data.prefs import Preferences, PrefsStore
from tests.support.file_keyring import FileKeyring


@pytest.fixture()
def restore_keyring():
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


def test_keys_live_in_the_keychain(tmp_path: Path, restore_keyring) -> None:
    backend = FileKeyring(tmp_path / "keys.json")
    keyring.set_keyring(backend)
    keys = ApiKeys()
    assert keys.set("box", "k1") and keys.note == ""
    assert backend.get_password(SERVICE, "box") == "k1" == ApiKeys().get("box")
    keys.set("box", "")                               # an empty key forgets it
    assert ApiKeys().get("box") == ""
    keys.forget("never saved")                        # nothing to forget is fine


def test_without_a_keychain_the_key_is_kept_for_the_session(restore_keyring) -> None:
    keyring.set_keyring(NoKeyring())
    keys = ApiKeys()
    assert not keys.set("box", "k2")
    assert "kept until Parley closes" in keys.note and "k2" not in keys.note
    assert keys.get("box") == "k2" and ApiKeys().get("box") == ""


def test_a_key_written_into_the_prefs_is_dropped(tmp_path: Path) -> None:
    store = PrefsStore(tmp_path / "preferences.json")
    prefs = Preferences.from_dict({"remote_engines": [
        {"name": "box", "base_url": "http://box:8080", "api_key": "leak"},
        {"name": "", "base_url": "http://nameless"}, "junk",
        {"name": "box", "base_url": "http://duplicate"}]})
    assert prefs.remote_engines == [{"name": "box", "base_url": "http://box:8080", "model": ""}]
    store.save(prefs)
    assert "leak" not in store.path.read_text()
