"""Render the main states of the window to PNG: `python -m app.dev.screenshots [OUT_DIR]`.

Runs the real engine on the starter model in a throw-away profile (PARLEY_HOME in a temporary
folder) and grabs: welcome, chat mid-stream with live metrics, chat in the dark theme, a
reasoning reply with its thinking folded and unfolded, text mode (its tokens coloured, a token's
inspector, a beam search's results), instruct mode, settings, model info, the Library,
Perplexity (heatmap, light and dark, and past runs), Compare and the Server page; then every
page at a small and a large window size in both themes (`page_sizes`: "chat-900x600-dark.png"
and so on), the side panels folded into their toggles where the small window has no room. The
starter model does not think, so the reasoning reply is a stored conversation
(`seed_reasoning`), shown as any reply of a reasoning model is once it has been saved. Last,
the Engines dialog and a chat through a remote engine (app/dev/remote_shots.py).
`make screenshots` runs it under Xvfb.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.data.store import Store
    from app.shell.theme import ThemeManager
    from app.shell.window import MainWindow

SIZE = (1440, 900)
PAGE_SIZES = ((900, 600), (1600, 1000))       # each page at both, in both themes
REASONING_QUESTION = "Is 1,001 a prime number?"
REASONING_THOUGHT = (
    "The user asks whether 1,001 is prime.\n\nCheck small divisors: it is odd, so not 2; its "
    "digits sum to 2, so not 3; it does not end in 0 or 5. Try 7: 7 × 143 = 1,001. So it is "
    "not prime. Factor 143 too: 11 × 13 = 143.\n\nSo 1,001 = 7 × 11 × 13. Answer briefly, "
    "with the factors.")
REASONING_ANSWER = (
    "No. **1,001 is not prime**: it factors as\n\n1,001 = 7 × 11 × 13\n\n"
    "A quick way to see it: 7 × 143 = 1,001, and 143 = 11 × 13.")
REASONING_STATS = {"prompt_tokens": 31, "output_tokens": 138, "ttft_s": 0.21, "ttfa_s": 3.02,
                   "tpot_s": 0.0205, "gen_tps": 48.8, "prefill_tps": 148.0, "total_s": 3.03,
                   "n_ctx": 4096, "context_tokens": 169, "reasoning_tokens": 96,
                   "reasoning_s": 2.8}
SAMPLE_CONVERSATIONS = (
    ("Ideas for a weekend in Lisbon", "What should I see in Lisbon in two days?"),
    ("Explain Rust lifetimes simply", "Explain Rust lifetimes like I'm new to Rust."),
    ("Regex for ISO dates", "Write a regex that matches ISO 8601 dates."),
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parley-shots-") as home:
        os.environ["PARLEY_HOME"] = home
        os.environ["HOME"] = str(Path(home) / "user")     # the Library lists no one's own models
        os.environ["HF_HUB_OFFLINE"] = "1"
        for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_DATA_HOME"):
            os.environ.pop(key, None)
        return _shoot(out)


def _shoot(out: Path) -> int:
    from PySide6.QtCore import QEventLoop, QTimer

    from app.shell.context import AppContext, default_engine_factory
    from app.shell.main import create_app
    from app.shell.theme import ThemeManager
    from app.shell.window import MainWindow
    from inference.engine.requests import Mode
    from inference.library.starter import starter_model_path

    app = create_app(["parley"])
    model = starter_model_path()
    ctx = AppContext.create(default_engine_factory)
    _seed(ctx.store)
    theme = ThemeManager(app, "light")
    window = MainWindow(ctx, theme)
    window.resize(*SIZE)
    window.settings_panel.fields["temperature"].set_value(0.7)
    window.settings_panel.fields["seed"].set_value(7)
    window.settings_panel.fields["max_tokens"].set_value(160)
    window.model_panel.set_model_settings(2048, 0)
    window.show()

    def spin(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait(cond: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError("the window did not reach the state in time")
            spin(20)

    def shot(name: str) -> None:
        spin(150)
        path = out / f"{name}.png"
        window.grab().save(str(path))
        print(path)

    window.wiring.new_conversation()
    shot("welcome")
    window.wiring.load_choice(str(model))
    wait(lambda: ctx.client.loaded is not None)
    window.composer.set_text("Give me three tips for writing clear Python code, with a short "
                             "example.")
    window.composer.submit()
    wait(lambda: window.transcript.rowCount() == 2
         and len(window.transcript.message_at(1).content) > 160)
    shot("chat-streaming")
    wait(lambda: not window.controller.busy)
    theme.set_choice("dark")
    shot("chat-dark")
    theme.set_choice("light")
    reasoning_shots(window, seed_reasoning(ctx.store), shot)
    window.set_mode(Mode.TEXT)
    window.text_page.editor.setPlainText("The lighthouse keeper had not seen a ship in forty "
                                         "days. On the forty-first morning,")
    window.text_page.continue_text()
    wait(lambda: not window.text_run.busy)
    shot("text-mode")
    page = window.text_page                   # the token inspector (README: See how each …)
    page.colour_tokens.setChecked(True)
    page.continue_text()
    wait(lambda: not window.text_run.busy and page.inspection is not None)
    shot("text-tokens")
    assert page.inspection is not None
    page.inspect_token(min(3, len(page.inspection.choices) - 1))
    assert page.inspector is not None
    spin(150)
    page.inspector.grab().save(str(out / "token-inspector.png"))
    print(out / "token-inspector.png")
    page.inspector.close()
    page.colour_tokens.setChecked(False)
    window.settings_panel.beam_search.set_values(4, 1.0)     # beam search: its results
    page.continue_text()
    wait(lambda: not window.text_run.busy and page.beams.isVisible())
    shot("text-beams")
    window.settings_panel.beam_search.set_values(0, 1.0)
    window.set_mode(Mode.INSTRUCT)
    window.instruct_page.system.setPlainText("You are a concise technical writer.")
    window.instruct_page.instruction.setPlainText("Summarise what a hash map is in three "
                                                  "bullet points.")
    window.instruct_page.run_instruction()
    wait(lambda: not window.instruct_run.busy)
    shot("instruct-mode")
    window.set_mode(Mode.CHAT)
    window.tabs.setCurrentIndex(0)
    scroll = window.tabs.currentWidget()
    scroll.verticalScrollBar().setValue(260)  # type: ignore[attr-defined]
    shot("settings")
    window.tabs.setCurrentIndex(1)
    shot("model-info")
    _pages(window, theme, wait, shot)
    from app.dev.remote_shots import remote_shots

    remote_shots(window, model, out, wait, shot)
    window.close()
    ctx.store.close()
    return 0


def _pages(window: MainWindow, theme: ThemeManager, wait: Callable[..., None],
           shot: Callable[[str], None]) -> None:
    """The Library, a perplexity run with its heatmap (light, dark), past runs, and Compare."""
    from app.perplexity.page import PerplexityPage

    window.switcher.show("library")
    library = window.switcher.page("library")
    wait(lambda: library.model.rowCount() > 0)  # type: ignore[attr-defined]
    library.table.selectRow(0)  # type: ignore[attr-defined]
    shot("library")
    window.switcher.show("perplexity")
    page = window.switcher.page("perplexity")
    assert isinstance(page, PerplexityPage)
    sample = (Path(__file__).resolve().parents[2] / "resources" / "samples" /
              "perplexity_sample.txt").read_text(encoding="utf-8")
    for n_ctx, chars in ((128, 2400), (512, 1500)):
        page.input.set_n_ctx(n_ctx)
        page.input.set_text(sample[:chars])
        page.input.count_tokens()
        wait(lambda: page.input.tokens is not None)
        page.run()
        wait(lambda: not page.running)
    page.tabs.setCurrentIndex(1)
    shot("perplexity-history")
    page.tabs.setCurrentIndex(0)
    span = page.heatmap.spans[40]
    cursor = page.heatmap.textCursor()
    cursor.setPosition(span.start)
    page.heatmap.setTextCursor(cursor)
    shot("perplexity")
    theme.set_choice("dark")
    shot("perplexity-dark")
    theme.set_choice("light")
    _compare(window, wait, shot, sample)
    _server(window, wait, shot)
    page_sizes(window, theme, shot)


def _server(window: MainWindow, wait: Callable[..., None], shot: Callable[[str], None]) -> None:
    """The Server page serving the loaded model, after four requests sent at once."""
    import json
    import threading
    import urllib.request

    from app.server.page import ServerPage
    from app.server.process import ServerState

    window.switcher.show("server")
    page = window.switcher.page("server")
    assert isinstance(page, ServerPage)
    page.port.setValue(0)
    page.start()
    wait(lambda: page.process.state is not ServerState.STARTING)
    questions = ("Name three rivers.", "Write a haiku about tea.", "What is 12 × 7?",
                 "Say hello in French.")

    def ask(question: str) -> None:
        body = json.dumps({"messages": [{"role": "user", "content": question}],
                           "max_tokens": 32}).encode()
        request = urllib.request.Request(f"{page.url.text()}/chat/completions", body,
                                         {"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=120).read()

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    wait(lambda: len(page.log.records) >= len(questions))
    for thread in threads:
        thread.join()
    shot("server")
    page.process.stop()
    wait(lambda: page.process.state is ServerState.STOPPED)


def _compare(window: MainWindow, wait: Callable[..., None], shot: Callable[[str], None],
             sample: str) -> None:
    """A ladder made from the starter model, measured on part of the sample: the results."""
    from app.compare.page import ComparePage

    window.switcher.show("compare")
    page = window.switcher.page("compare")
    assert isinstance(page, ComparePage)
    page.add_files([window.ctx.client.loaded.config.path])  # type: ignore[union-attr]
    page.files.setCurrentRow(0)
    page.ladder_types.setText("Q8_0,Q4_0,Q3_K_M")
    page.allow_requantize.setChecked(True)
    page.start_ladder()
    wait(lambda: not page.runner.busy, timeout=600)
    page.text.setPlainText(sample[:6000])
    page.ctx.setValue(128)
    page.measure_speed.setChecked(False)
    page.start_compare()
    wait(lambda: not page.runner.busy and page.result is not None, timeout=600)
    shot("compare")


def page_sizes(window: MainWindow, theme: ThemeManager, shot: Callable[[str], None]) -> None:
    """Every page at each of `PAGE_SIZES` in the light and the dark theme, named
    "<page>-<width>x<height>-<theme>"; the window is left at `SIZE`, light."""
    from app.shell.pages import NAMES

    for choice in ("light", "dark"):
        theme.set_choice(choice)
        for width, height in PAGE_SIZES:
            window.resize(width, height)
            for name in NAMES:
                window.switcher.show(name)
                shot(f"{name}-{width}x{height}-{choice}")
    theme.set_choice("light")
    window.resize(*SIZE)
    window.switcher.show("chat")


def seed_reasoning(store: Store) -> int:
    """A conversation whose reply thought before it answered, stored as a reasoning model's
    reply is (the thinking apart from the answer, its tokens and time in the stats); its id.
    The text and figures are an illustration written here, not a measurement."""
    conv = store.create_conversation("Is 1,001 prime?")
    store.add_message(conv.id, "user", REASONING_QUESTION)
    reply = store.add_message(conv.id, "assistant", "", complete=False)
    store.update_message(reply.id, REASONING_ANSWER, complete=True, stats=REASONING_STATS,
                         finish_reason="stop", reasoning=REASONING_THOUGHT)
    return conv.id


def reasoning_shots(window: MainWindow, conv_id: int, shot: Callable[[str], None]) -> None:
    """The reasoning reply with its thinking folded ("chat-reasoning"), then unfolded
    ("chat-reasoning-open"); then the conversation that was open before is open again."""
    before = window.controller.conversation_id
    window.sidebar.refresh()
    window.wiring.open_conversation(conv_id, "chat")
    row = window.transcript.last_row_of_role("assistant")
    shot("chat-reasoning")
    window.chat_view.toggle_thinking(row)
    shot("chat-reasoning-open")
    window.chat_view.toggle_thinking(row)
    if before:
        window.wiring.open_conversation(before, "chat")


def _seed(store: Store) -> None:
    """A few earlier conversations, so the sidebar looks lived-in."""
    for title, question in SAMPLE_CONVERSATIONS:
        conv = store.create_conversation(title)
        store.add_message(conv.id, "user", question)
        store.add_message(conv.id, "assistant", "(an earlier answer)")


if __name__ == "__main__":
    sys.exit(main())
