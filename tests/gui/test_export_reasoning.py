"""Exports of a conversation whose reply thought: Markdown shows the thinking as a "Thinking"
quote above the answer, JSON has it under "reasoning"."""

from __future__ import annotations

import json
from pathlib import Path

from app.data.records import ThinkingFacts
from app.data.store import Store


def test_exports_carry_the_thinking_apart_from_the_answer(tmp_path: Path) -> None:
    with Store(tmp_path / "parley.sqlite3") as store:
        conv = store.create_conversation("primes")
        store.add_message(conv.id, "user", "Is 91 prime?")
        reply = store.add_message(conv.id, "assistant", "", complete=False)
        store.update_message(reply.id, "No: 91 = 7 × 13.", complete=True,
                             stats=ThinkingFacts(12, 0.42).added_to({"output_tokens": 20}),
                             finish_reason="stop", reasoning="Try 7.\n\n7 × 13 = 91.")
        store.add_message(conv.id, "assistant", "A reply that did not think.")
        md = store.export_markdown(conv.id)
        data = store.export_json(conv.id)
    assert ("## Assistant\n\n> **Thinking** (12 tokens · 0.4 s)\n>\n> Try 7.\n>\n"
            "> 7 × 13 = 91.\n\nNo: 91 = 7 × 13.\n") in md
    assert md.count("**Thinking**") == 1
    assert "## Assistant\n\nA reply that did not think." in md
    json.dumps(data)
    assert [(m["content"], m["reasoning"]) for m in data["messages"]] == [
        ("Is 91 prime?", ""), ("No: 91 = 7 × 13.", "Try 7.\n\n7 × 13 = 91."),
        ("A reply that did not think.", "")]
    assert data["messages"][1]["stats"]["reasoning_tokens"] == 12
