"""The absolute imports in Parley's own source (app/, inference/), read with ast, never run."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = ("app", "inference")


@dataclass(frozen=True)
class Use:
    name: str                      # the module as written: "PySide6.QtCore", "huggingface_hub"
    where: str                     # "inference/hub/search.py:198"
    guarded: bool                  # inside `try: … except ImportError`
    imported: tuple[str, ...] = ()  # `from name import a, b`: ("a", "b")

    @property
    def top(self) -> str:
        return self.name.split(".")[0]


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(k, ast.Name) and k.id in ("ImportError", "ModuleNotFoundError")
               for k in kinds)


def imports_of(path: Path, root: Path = ROOT) -> list[Use]:
    """Absolute imports in one module (at any depth), noting which a try guards."""
    uses: list[Use] = []
    rel = path.relative_to(root).as_posix()

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Try):
            inner = guarded or any(_catches_import_error(h) for h in node.handlers)
            for child in node.body:
                visit(child, inner)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, guarded)
            return
        if isinstance(node, ast.Import):
            uses.extend(Use(a.name, f"{rel}:{node.lineno}", guarded) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            uses.append(Use(node.module, f"{rel}:{node.lineno}", guarded,
                            tuple(a.name for a in node.names)))
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return uses


def third_party_uses(root: Path = ROOT, packages: tuple[str, ...] = OWN) -> list[Use]:
    """Imports of anything but the standard library and Parley's own packages."""
    files = sorted(f for p in packages for f in (root / p).rglob("*.py"))
    return [u for f in files for u in imports_of(f, root)
            if u.top not in sys.stdlib_module_names and u.top not in OWN]


def qt_modules(uses: list[Use]) -> set[str]:
    """The PySide6 modules imported: {"QtCore", "QtWidgets", …}."""
    found = {u.name.split(".")[1] for u in uses if u.top == "PySide6" and "." in u.name}
    found |= {n for u in uses if u.name == "PySide6" for n in u.imported}
    return found
