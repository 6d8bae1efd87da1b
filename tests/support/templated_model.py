"""A copy of the starter model's weights with a real instruction template set as its chat
template (the starter GGUF is a base model and has none).

Written once with the `gguf` package's own `gguf_new_metadata` script into
`tests/perf/_build/models/` (gitignored), named after a hash of the model's name and size and
of the template, so a changed template writes a new copy.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GEMMA3_IT_TEMPLATE = ROOT / "tests" / "fixtures" / "gemma3-it.jinja"
CACHE = ROOT / "tests" / "perf" / "_build" / "models"
WRITE_TIMEOUT_S = 300


def templated_copy(model: Path, template: Path = GEMMA3_IT_TEMPLATE) -> Path:
    """`model` with `template` as its `tokenizer.chat_template`, everything else as it was."""
    identity = f"{model.name}:{model.stat().st_size}:".encode() + template.read_bytes()
    digest = hashlib.sha256(identity).hexdigest()[:12]
    out = CACHE / f"{model.stem}-{template.stem}-{digest}.gguf"
    if out.is_file() and out.stat().st_size > model.stat().st_size:
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")
    done = subprocess.run(
        [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", "--chat-template-file",
         str(template), str(model), str(partial)],
        capture_output=True, text=True, timeout=WRITE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"gguf_new_metadata could not write {out.name}: "
                           f"{(done.stderr or done.stdout).strip()[-500:]}")
    partial.replace(out)
    return out
