"""Opening a file that is not a GGUF model, on the real window: the working model stays loaded,
the file never joins the model list, and the message says what the file is in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings.model_check import model_file_problem
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import FAKE_MODEL, MakeWindow, load_fake

pytestmark = pytest.mark.gui


def _picker_items(window) -> list[str]:
    picker = window.model_panel.picker
    return [picker.itemData(i) for i in range(picker.count())]


@pytest.mark.parametrize("how", ["open", "load_choice"])
def test_a_text_file_is_refused_before_anything_is_unloaded(
        qtbot, make_window: MakeWindow, tmp_path: Path, how: str) -> None:
    engine = FakeEngine()
    window = make_window(engine)
    load_fake(qtbot, window)
    text = tmp_path / "x.txt"
    text.write_text("\ufeffhello, this is a note\n", encoding="utf-8")
    before = _picker_items(window)
    if how == "open":
        assert not window.model_panel.open_file(text)
    else:
        window.wiring.load_choice(str(text))
    message = window.banner.text()
    assert message == ("x.txt is not a GGUF model file (it starts with text, not the GGUF "
                       "signature).")
    assert "\\x" not in message and "b'" not in message
    assert window.ctx.client.loaded is not None                 # the working model stays
    assert window.ctx.client.loaded.config.path == Path(FAKE_MODEL)
    assert len(engine.configs) == 1                             # no load was even tried
    assert _picker_items(window) == before and str(text) not in window.ctx.prefs.recent_models


def test_the_load_button_refuses_a_bad_file_too(qtbot, make_window: MakeWindow,
                                                tmp_path: Path) -> None:
    window = make_window()
    load_fake(qtbot, window)
    junk = tmp_path / "weights.gguf"
    junk.write_bytes(bytes([0xEF, 0xB4, 0x40, 0x00]) + bytes(range(60)))
    window.model_panel.select(str(junk))
    window.model_panel.load_button.click()
    assert window.banner.text() == ("weights.gguf is not a GGUF model file (it starts with "
                                    "other binary data, not the GGUF signature).")
    assert window.ctx.client.loaded is not None


@pytest.mark.parametrize(("content", "words"), [
    (b"", "it is empty"),
    (b"<!doctype html><html>", "it looks like a web page"),
    (b"PK\x03\x04rest", "it is a ZIP archive"),
    (b"version https://git-lfs.github.com/spec/v1\n", "it is a Git LFS pointer"),
])
def test_what_the_file_is_in_words(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(content)
    problem = model_file_problem(path)
    assert problem.startswith(f"m.gguf is not a GGUF model file ({words}") or (
        not content and "m.gguf" in problem)


def test_a_real_gguf_and_a_missing_file_pass_the_check(starter_model_path: Path,
                                                       tmp_path: Path) -> None:
    assert model_file_problem(starter_model_path) == ""
    assert model_file_problem(tmp_path / "gone.gguf") == ""     # the engine says "not found"
