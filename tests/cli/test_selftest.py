"""`parley --version` and `parley --self-test`, run as a user (and every installer build) runs them:
the real `parley` command in a subprocess, the real llama.cpp, the real starter model."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inference.cli.selftest import FAILED, MAX_PPL, PASSED, SKIPPED, run_self_test
from tests.support import gguf_factory as factory

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(
    r"^Parley (?P<parley>\S+) · llama-cpp-python (?P<lcp>\S+) · llama\.cpp (?P<commit>\S+)"
    r" \(ggml (?P<ggml>[\d.]+)\) · CPU backend: (?P<cpu>\S+)(?: \((?P<features>[^)]*)\))?"
    r" · GPU: (?P<gpu>\S+) · Python (?P<python>[\d.]+) · (?P<platform>[^·]+?)"
    r"(?P<bundled> · bundled)?$")
PARTS = ("version", "model", "generation", "perplexity")
NO_QT = "import sys; sys.modules['PySide6'] = None; sys.modules['shiboken6'] = None; "


def parley(*args: str, code: str | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The installed `parley` command (or, with `code`, Python running `code` then the launcher)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    script = Path(sys.executable).with_name("parley.exe" if os.name == "nt" else "parley")
    if code is not None:
        command = [sys.executable, "-c",
                   code + f"from app.shell.launcher import main; sys.exit(main({list(args)!r}))"]
    elif script.is_file():
        command = [str(script), *args]
    else:
        command = [sys.executable, "-m", "app.shell.launcher", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=timeout)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return factory.write_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-F32.gguf")


# --- --version ---------------------------------------------------------------------------------


def test_version_prints_one_line_naming_the_build():
    result = parley("--version")
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert m["parley"] == importlib.metadata.version("parley")
    assert m["lcp"] == "0.3.36" == importlib.metadata.version("llama-cpp-python")
    assert re.fullmatch(r"[0-9a-f]{7,40}(-dirty)?", m["commit"]), m["commit"]
    assert m["bundled"] is None                         # not a PyInstaller bundle here

    as_json = parley("--version", "--json")
    assert as_json.returncode == 0, as_json.stderr
    info = json.loads(as_json.stdout)
    assert (info["parley"], info["llama_cpp_python"]) == (m["parley"], m["lcp"])
    assert (info["llama_cpp_commit"], info["ggml_version"]) == (m["commit"], m["ggml"])
    assert (info["cpu_backend"], info["gpu_backend"]) == (m["cpu"], m["gpu"])
    assert "CPU" in info["backends"]
    from inference.llama.backends import backend_dirs, cpu_variant_files

    variants = {p.name for d in backend_dirs() for p in cpu_variant_files(d)}
    if variants:                                   # a portable build: the variant ggml chose
        assert any(m["cpu"] in name for name in variants), (m["cpu"], variants)
    else:
        assert m["cpu"] == "built-in"
    if m["gpu"] == "none":
        assert set(info["backends"]) <= {"CPU", "BLAS", "RPC"}, info["backends"]
    else:
        assert m["gpu"] in info["backends"]


def test_version_without_a_loadable_llama_cpp_says_so_in_one_line():
    result = parley("--version", code="import sys; sys.modules['llama_cpp'] = None; ")
    assert result.returncode == 1
    no_traceback(result)
    assert result.stdout == ""
    version = importlib.metadata.version("parley")
    assert re.fullmatch(rf"Parley {re.escape(version)} · llama\.cpp can't be loaded: .+\n",
                        result.stderr), result.stderr


# --- --self-test -------------------------------------------------------------------------------


@pytest.mark.gui
def test_self_test_with_the_starter_model_passes_every_part(starter_model_path, parley_home):
    result = parley("--self-test", str(starter_model_path), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    no_traceback(result)
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["error"] == ""
    assert report["checks"] == {**dict.fromkeys(PARTS, PASSED), "gui": PASSED}
    assert report["model"] == str(starter_model_path)
    assert report["engine"] == "engine process"                 # the spawned child started
    assert report["tokens"] >= 1 and report["text"].strip()
    assert math.isfinite(report["ppl"]) and 1.0 < report["ppl"] < MAX_PPL
    assert report["ppl_tokens"] > 0
    assert "opened and closed on offscreen" in report["gui"]
    assert report["version"].startswith(f"Parley {importlib.metadata.version('parley')} · ")
    # the window ran on a throw-away profile: the user's has no conversation database
    assert not list(parley_home.rglob("*.sqlite3"))


def test_self_test_one_line_report(tiny_model):
    result = parley("--self-test", str(tiny_model), "--no-gui")
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    line = result.stdout.strip()
    assert "\n" not in line and line.startswith("parley self-test: OK · Parley ")
    assert f"model {tiny_model.name}: loaded in" in line and "generated" in line
    assert "perplexity" in line and "GUI: skipped" in line


@pytest.mark.parametrize("kind", ["bad_magic", "truncated_tensor_data", "unknown_architecture"])
def test_self_test_of_a_broken_model_fails_with_the_reason(kind, tmp_path):
    broken = factory.write_broken(kind, tmp_path)
    result = parley("--self-test", str(broken))
    assert result.returncode == 1
    no_traceback(result)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("parley self-test: FAILED: "), result.stderr
    reason = {"bad_magic": "is not a GGUF file", "truncated_tensor_data": "truncated",
              "unknown_architecture": "is not supported"}[kind]
    assert reason in lines[0]


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_self_test_of_no_model_file_fails_with_the_reason(what, tmp_path):
    target = tmp_path / "nope.gguf" if what == "missing" else tmp_path
    result = parley("--self-test", str(target), "--json")
    assert result.returncode == 1
    no_traceback(result)
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["checks"] == {"version": PASSED, "model": FAILED}
    expected = f"no such model file: {target}" if what == "missing" else \
        f"not a model file: {target} is a folder"
    assert report["error"] == expected


def test_self_test_no_gui_needs_no_qt(tiny_model):
    result = parley("--self-test", str(tiny_model), "--no-gui", "--json", code=NO_QT)
    assert result.returncode == 0, result.stdout + result.stderr
    no_traceback(result)
    report = json.loads(result.stdout)
    assert report["checks"] == {**dict.fromkeys(PARTS, PASSED), "gui": SKIPPED}
    assert report["gui"] == "skipped" and report["tokens"] >= 1


def test_without_qt_the_gui_part_fails_cleanly(tiny_model):
    """The same block proves the check above can fail: the window part needs PySide6."""
    result = parley("--self-test", str(tiny_model), "--json", code=NO_QT)
    assert result.returncode == 1
    no_traceback(result)
    report = json.loads(result.stdout)
    assert report["checks"] == {**dict.fromkeys(PARTS, PASSED), "gui": FAILED}
    assert report["error"].startswith("the main window failed: ")


def test_a_failing_part_is_named_and_later_parts_are_not_run(tmp_path):
    broken = factory.write_broken("truncated_tensor_data", tmp_path)
    report = run_self_test(str(broken), in_process=True)
    assert not report.ok and "truncated" in report.error
    assert report.checks == {"version": PASSED, "model": PASSED, "generation": FAILED}
    assert report.line() == f"parley self-test: FAILED: {report.error}"
    assert report.tokens == 0 and report.ppl is None
