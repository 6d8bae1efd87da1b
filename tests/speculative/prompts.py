"""Prompts for the speculative decoding tests: copy-heavy ones (where drafts are kept), plain
ones (where they are not) and the edge cases (stop string, max tokens, full context)."""

from __future__ import annotations

from pathlib import Path

from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams

SAMPLE = (Path(__file__).resolve().parents[2] / "resources" / "samples"
          / "perplexity_sample.txt").read_text(encoding="utf-8")
PASSAGE = SAMPLE[SAMPLE.index("On the northern edge"):][:700]
MAX_TOKENS = 32


def greedy(max_tokens: int = MAX_TOKENS, stop: tuple[str, ...] = ()) -> SamplingParams:
    return SamplingParams(temperature=0.0, max_tokens=max_tokens, stop=stop)


def text(prompt: str, **kw: object) -> GenerationRequest:
    return GenerationRequest(Mode.TEXT, text=prompt, sampling=greedy(**kw))    # type: ignore


def chat(prompt: str, **kw: object) -> GenerationRequest:
    return GenerationRequest(Mode.CHAT, (Message("user", prompt),), sampling=greedy(**kw))  # type: ignore


def instruct(prompt: str, **kw: object) -> GenerationRequest:
    return GenerationRequest(Mode.INSTRUCT, text=prompt, system="Answer briefly.",
                             sampling=greedy(**kw))   # type: ignore


COPY = f"A passage, then the same passage again.\n\n{PASSAGE}\n\nAgain:\n\n{PASSAGE[:40]}"
CODE = ("def area(width, height):\n    return width * height\n\n\n"
        "def perimeter(width, height):\n    return 2 * (width + height)\n\n\n"
        "# the same two functions, with a docstring each\n\ndef area(width, height):\n")
LIST = "Shopping list:\n1. apples\n2. bread\n3. milk\n4. eggs\n\nThe same list again:\n1. apples\n"

PROMPTS: dict[str, GenerationRequest] = {
    "text-copy": text(COPY),
    "text-code": text(CODE),
    "text-list": text(LIST),
    "text-fox": text("The quick brown fox jumps over the lazy dog. " * 3 + "The quick"),
    "text-story": text("Once upon a time, in a small village by the sea,"),
    "text-table": text("name,age\nAnna,31\nBen,42\nCara,27\n\nname,age\nAnna,31\n"),
    "text-sample": text(SAMPLE[:800]),
    "text-counting": text("one two three four five six seven eight nine ten one two three"),
    "chat-repeat": chat(f"Repeat this exactly: {PASSAGE[:300]}"),
    "chat-summary": chat(f"Summarise this in one sentence, quoting it:\n\n{PASSAGE}"),
    "chat-colours": chat("List five colours."),
    "chat-hello": chat("Hello! Who are you?"),
    "instruct-upper": instruct(f"Copy this text: {PASSAGE[:250]}"),
    "instruct-code": instruct(f"Add comments to this code:\n\n{CODE}"),
    "instruct-poem": instruct("Write a short poem about the sea."),
    "instruct-list": instruct(f"Continue the list.\n\n{LIST}"),
    "text-copy-long": text(COPY, max_tokens=72),
    # the stop string lies deep in the copied text, so the token that ends it was drafted
    "stop-in-draft": text(COPY, max_tokens=96, stop=("thirty years",)),
    # an odd cap inside the copy: the last token allowed is a drafted one
    "max-in-draft": text(COPY, max_tokens=23),
}
# fills a small context (FILL_CTX): the passage, then copied on to the end
FILL_CTX = 256
FILL = text(PASSAGE[:450] + "\n\n" + PASSAGE[:60], max_tokens=1000)
