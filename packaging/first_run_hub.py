"""A stand-in Hugging Face hub for the bundle's first-run check (`make package-check`).

Serves every recommended model's repo (inference/library/recommended_models.json) on
127.0.0.1 with tests/support/hub_server.py, each file a tiny GGUF, listed with the sha256 the
list names where it names one (as the real hub would list the curated file), writes its URL to
`--url-file` and serves until it is stopped. Run from the repository with the development
environment's Python: `PYTHONPATH=. .venv/bin/python packaging/first_run_hub.py --url-file F`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from inference.library.recommended import RecommendedModel, load_recommended  # noqa: E402
from tests.support.gguf_factory import write_tiny_model  # noqa: E402
from tests.support.hub_server import StandInHub  # noqa: E402


def tiny_gguf() -> bytes:
    with tempfile.TemporaryDirectory(prefix="parley-first-run-") as folder:
        return write_tiny_model(Path(folder) / "tiny.gguf").read_bytes()


def serve_recommended(hub: StandInHub, models: Sequence[RecommendedModel], data: bytes,
                      *, renamed: Sequence[str] = ()) -> None:
    """Add each model's repo and file to `hub` (the files in `renamed` under another name)."""
    for model in models:
        repo = hub.repos.get(model.repo) or hub.add_repo(model.repo, {})
        name = model.file
        if model.file in renamed:
            name = model.file.replace(".gguf", "-renamed.gguf")
        repo.files[name] = data
        if model.sha256 and name == model.file:
            hub.bad_sha256[name] = model.sha256      # listed as the curated file would be


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url-file", type=Path, required=True,
                        help="where to write the hub's URL once it serves")
    args = parser.parse_args(argv)
    hub = StandInHub().start()
    models = load_recommended()
    serve_recommended(hub, models, tiny_gguf())
    # The files are stand-ins of a few KiB: their sizes stay out of the listing, so the window
    # shows (and judges the fit by) the list's sizes, as the real files' listing would.
    hub.no_size.update(model.file for model in models)
    args.url_file.write_text(hub.url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
