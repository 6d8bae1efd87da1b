"""The recommended-models data file: the shipped list is well-formed, a malformed file is refused
with a sentence that says where, and the file travels as package data and into the bundle."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from inference.library.recommended import (
    DATA_FILE,
    MAX_GOOD_FOR,
    RecommendedListError,
    RecommendedModel,
    load_recommended,
    parse_recommended,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "inference" / "library" / DATA_FILE


def test_the_shipped_list_is_well_formed_and_runs_small_to_large() -> None:
    models = load_recommended()
    assert models == load_recommended(SHIPPED)             # the package's copy is this file
    assert 6 <= len(models) <= 15                           # a short list
    sizes = [m.size for m in models]
    assert sizes == sorted(sizes), "smallest first"
    assert sizes[0] < 1_000_000_000 < 4_000_000_000 < sizes[-1]
    for m in models:
        assert isinstance(m, RecommendedModel)
        assert re.fullmatch(r"[\w.-]+/[\w.-]+-GGUF", m.repo), m.repo
        assert m.file.endswith(".gguf") and "/" not in m.file and m.quant.lower() in m.file.lower()
        assert m.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", m.sha256)
        assert m.licence and m.good_for and len(m.good_for) <= MAX_GOOD_FOR
        assert m.revision == "main"
    assert len({m.name for m in models}) == len(models)
    assert any(m.sha256 for m in models) and any(m.sha256 is None for m in models)


def _shipped() -> dict[str, Any]:
    return json.loads(SHIPPED.read_text(encoding="utf-8"))


def _first(change) -> dict[str, Any]:
    data = copy.deepcopy(_shipped())
    change(data["models"][0])
    return data


@pytest.mark.parametrize(("data", "words"), [
    (_first(lambda m: m.pop("licence")), "model 1 (Qwen2.5 0.5B Instruct): missing field "
                                         "'licence'"),
    (_first(lambda m: m.update(licence_url="x")), "unknown field 'licence_url'"),
    (_first(lambda m: m.update(size=0)), "'size' must be a whole number"),
    (_first(lambda m: m.update(size="491 MB")), "'size' must be a whole number"),
    (_first(lambda m: m.update(size=True)), "'size' must be a whole number"),
    (_first(lambda m: m.update(sha256="abc")), "'sha256' must be 64 hex digits or null"),
    (_first(lambda m: m.update(repo="no-slash")), "'repo' must be owner/name"),
    (_first(lambda m: m.update(file="model.bin")), "'file' must be a .gguf path"),
    (_first(lambda m: m.update(file="../x-Q4_K_M.gguf")), "'file' must be a .gguf path"),
    (_first(lambda m: m.update(quant="Q8_0")), "does not name its quant 'Q8_0'"),
    (_first(lambda m: m.update(name="  ")), "'name' must be a non-empty text"),
    (_first(lambda m: m.update(good_for="two\nlines")), "'good_for' must be one line"),
    (_first(lambda m: m.update(good_for="x" * (MAX_GOOD_FOR + 1))), "at most"),
    ({"version": 1, "models": []}, "the \"models\" list is empty"),
    ({"version": 2, "models": [{}]}, "version 2 is not 1"),
    ({"models": "none"}, "expected an object with a \"models\" list"),
    ({"version": 1, "models": ["Qwen"]}, "model 1: expected an object, not str"),
])
def test_a_malformed_list_is_refused_saying_where(data: dict[str, Any], words: str) -> None:
    with pytest.raises(RecommendedListError) as err:
        parse_recommended(data, "list.json")
    assert str(err.value).startswith("list.json") and words in str(err.value)


def test_a_model_listed_twice_is_refused() -> None:
    data = _shipped()
    data["models"].append(dict(data["models"][0], name="Again"))
    with pytest.raises(RecommendedListError, match="is listed twice"):
        parse_recommended(data)


def test_an_unreadable_or_broken_file_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1, "models": [', encoding="utf-8")
    with pytest.raises(RecommendedListError, match=r"broken.json is not valid JSON: .* line 1"):
        load_recommended(broken)
    with pytest.raises(RecommendedListError, match="Could not read the recommended models"):
        load_recommended(tmp_path / "missing.json")


def test_the_list_is_package_data_and_goes_into_the_bundle(tmp_path, monkeypatch) -> None:
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    package_data = project.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert f'"inference.library" = ["{DATA_FILE}"]' in package_data
    monkeypatch.setenv("PARLEY_LLAMA_SITE", "")
    monkeypatch.setattr(sys, "path", [str(ROOT / "packaging"), *sys.path])
    from tests.project.test_packaging import _Analysis, _Recorded  # PyInstaller's steps

    spec = ROOT / "packaging" / "parley.spec"
    names = {"SPECPATH": str(spec.parent), "DISTPATH": str(tmp_path / "dist"),
             "workpath": str(tmp_path / "work"), "__file__": str(spec),
             "Analysis": _Analysis, "PYZ": _Recorded, "EXE": _Recorded, "COLLECT": _Recorded,
             "BUNDLE": _Recorded}
    exec(compile(spec.read_text(encoding="utf-8"), str(spec), "exec"), names)   # noqa: S102
    datas = {dest: src for dest, src, _ in names["a"].datas}
    assert Path(datas[f"inference/library/{DATA_FILE}"]) == SHIPPED   # where the loader reads
    assert "app.shell.selftest_first_run" in names["a"].kwargs["hiddenimports"]
