"""The rooms of docs/ARCHITECTURE.md and who may import whom, checked on the source (ast).

A forbidden import fails `make test`; `test_a_forbidden_import_is_caught` shows each rule
failing on a small tree written for the purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.source_imports import ROOT, imports_of

# inference: each room and the rooms it may import (besides itself). Lower rooms never import
# higher ones, so the graph has no cycles. `cli` is the top and may import every room.
INFERENCE_ROOMS: dict[str, set[str]] = {
    "common": set(),
    "llama": {"common"},
    "gguf": {"common"},
    "memory": {"common", "gguf"},
    "library": {"common", "gguf", "memory"},
    "perplexity": {"common", "llama"},
    "beam": {"common", "llama", "perplexity"},
    "speculative": {"common", "llama"},
    "inspector": {"common"},
    "engine": {"common", "llama", "gguf", "memory", "library", "perplexity", "beam",
               "speculative", "inspector"},
    "host": {"common", "llama", "engine"},
    "quantize": {"common", "llama", "gguf", "host"},
    "batching": {"common", "llama", "engine", "inspector", "speculative"},
    "bench": {"common", "llama", "engine", "host", "batching"},
    "server": {"common", "gguf", "library", "engine", "host", "batching", "inspector"},
    "hub": {"common", "gguf", "memory", "library"},
    "remote": {"common", "engine"},
    "compare": {"common", "llama", "gguf", "memory", "library", "engine", "host", "perplexity",
                "quantize", "bench"},
}
# app: the shared rooms, and the feature rooms that use them. A feature room may use another
# feature room only through that room's package (`from app.library import LibraryTableModel`),
# never a module inside it; `shell` (the window that holds every page) and `dev` use any room.
APP_SHARED: dict[str, set[str]] = {"data": set(), "engine": {"data"}}
APP_FEATURES = {"chat", "settings", "library", "hub", "perplexity", "compare", "server",
                "remote", "inspector"}
SHELL_HELPERS = {"app.shell.theme", "app.shell.widgets", "app.shell.formatting"}
QT = {"PySide6", "shiboken6", "superqt"}
NATIVE = {"ctypes", "llama_cpp"}


def _module(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] != "__init__") else None


def _is_module(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def violations(root: Path = ROOT) -> list[str]:
    """Every import that breaks a rule, as "where: what"."""
    found: list[str] = []
    for package in ("inference", "app"):
        for path in sorted((root / package).rglob("*.py")):
            here = _module(path, root)
            room = _room(here)
            for use in imports_of(path, root):
                targets = [use.name] + [f"{use.name}.{n}" for n in use.imported
                                        if _is_module(root, f"{use.name}.{n}")]
                for target in targets:
                    problem = _check(package, room, target, use.name, root)
                    if problem:
                        found.append(f"{use.where}: {problem}")
    return found


def _check(package: str, room: str | None, target: str, written: str, root: Path) -> str | None:
    top = target.split(".")[0]
    if package == "inference":
        if top == "app" or top in QT:
            return f"inference imports {target} (inference never imports Qt or app)"
        if top in NATIVE and room != "llama":
            return f"{target} outside inference.llama (the only ctypes code)"
        if top == "inference" and room not in (None, "cli"):
            other = _room(target)
            if other and other != room and other not in INFERENCE_ROOMS.get(room, set()):
                return f"inference.{room} imports {target} (not among its rooms)"
        return None
    if top != "app" or room in (None, "shell", "dev"):
        return None
    other = _room(target)
    if other is None or other == room:
        return None
    if room in APP_SHARED:
        if other not in APP_SHARED[room]:
            return f"app.{room} imports {target} (a shared room imports no feature or shell)"
        return None
    if other in APP_SHARED:
        return None
    if other == "shell":
        return None if target in SHELL_HELPERS else (
            f"app.{room} imports {target} (of app.shell only {sorted(SHELL_HELPERS)})")
    if other in APP_FEATURES:
        if written == f"app.{other}" and target == written:
            return None                                     # the room's public package
        return f"app.{room} imports {target}, inside another feature room (use app.{other})"
    return None


def test_the_tree_follows_the_rooms() -> None:
    assert violations() == []


def test_every_room_is_a_package_with_a_docstring() -> None:
    import ast

    for package in ("inference", "app"):
        for folder in sorted(p for p in (ROOT / package).iterdir()
                             if p.is_dir() and not p.name.startswith("__")):
            init = folder / "__init__.py"
            assert init.is_file(), f"{folder} is not a package"
            assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring"


def _tree(tmp: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in {p.parent for p in tmp.rglob("*.py")}:
        (folder / "__init__.py").touch()
    return tmp


@pytest.mark.parametrize(("files", "expected"), [
    ({"inference/engine/x.py": "import PySide6.QtCore\n"}, "never imports Qt"),
    ({"inference/engine/x.py": "from app.chat import y\n"}, "never imports Qt or app"),
    ({"inference/host/x.py": "import ctypes\n"}, "the only ctypes code"),
    ({"inference/gguf/x.py": "from inference.library.entry import FitSettings\n",
      "inference/library/entry.py": ""}, "not among its rooms"),
    ({"inference/llama/x.py": "from inference import engine\n",
      "inference/engine/__init__.py": ""}, "not among its rooms"),
    ({"app/compare/x.py": "from app.library.model import LibraryTableModel\n",
      "app/library/model.py": ""}, "inside another feature room"),
    ({"app/chat/x.py": "from app.shell.window import MainWindow\n",
      "app/shell/window.py": ""}, "of app.shell only"),
    ({"app/data/x.py": "from app.chat.controller import C\n",
      "app/chat/controller.py": ""}, "a shared room imports no feature"),
])
def test_a_forbidden_import_is_caught(tmp_path: Path, files: dict[str, str],
                                      expected: str) -> None:
    found = violations(_tree(tmp_path, files))
    assert len(found) == 1 and expected in found[0], found


def test_allowed_imports_pass(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "inference/llama/x.py": "import ctypes\nimport llama_cpp\n",
        "inference/engine/x.py": "from inference.llama.x import y\n",
        "inference/cli/x.py": "from inference.engine.x import y\n",
        "app/compare/x.py": "from app.library import LibraryTableModel\n"
                            "from app.engine.client import C\nfrom app.shell.theme import T\n",
        "app/shell/x.py": "from app.compare.x import y\n",
        "app/library/__init__.py": "",
    })
    assert violations(root) == []
