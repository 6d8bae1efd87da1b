"""The starter model's weights with the real Gemma 3 instruction template as their chat template:
the real engine loads the copy, uses that template, renders exactly what transformers renders,
and generates a Chat reply through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from transformers.utils.chat_template_utils import render_jinja_template

from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.events import Finished, FinishReason, TokenEvent
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from tests.support.templated_model import GEMMA3_IT_TEMPLATE, templated_copy

SYSTEM = "You are a helpful assistant. Answer in one short sentence."
HISTORY = (Message("user", "Hello! What is the capital of France?"),
           Message("assistant", "  The capital of France is Paris.  "),
           Message("user", "And of Italy — «Roma», 日本語 <b>too</b>?"))


@pytest.fixture(scope="module")
def it_engine(starter_model_path: Path) -> Iterator[Engine]:
    engine = Engine()
    engine.load(ModelConfig(templated_copy(starter_model_path), n_ctx=1024, n_threads=2))
    yield engine
    engine.close()


def test_the_copy_uses_its_own_gemma3_template(it_engine):
    loaded = it_engine.loaded
    assert loaded.template == "the model's own template (tokenizer.chat_template)"
    assert not any("template" in w for w in loaded.warnings)


def test_show_prompt_is_what_transformers_renders(it_engine):
    request = GenerationRequest(Mode.CHAT, HISTORY, system=SYSTEM)
    rendered = it_engine.render(request)
    chat = [{"role": "system", "content": SYSTEM}] + [
        {"role": m.role, "content": m.content} for m in HISTORY]
    expected, _ = render_jinja_template(
        [chat], chat_template=GEMMA3_IT_TEMPLATE.read_text(encoding="utf-8"),
        add_generation_prompt=True, bos_token="<bos>", eos_token="<eos>")
    assert "<bos>" + rendered.text == expected[0]     # BOS is the tokenizer's, once
    assert rendered.text.startswith("<start_of_turn>user\n" + SYSTEM + "\n\nHello!")
    assert rendered.text.endswith("<end_of_turn>\n<start_of_turn>model\n")
    assert not rendered.text.startswith("<bos>")            # so the prompt has one BOS


def test_a_chat_reply_is_generated_through_the_template(it_engine):
    request = GenerationRequest(Mode.CHAT, HISTORY, system=SYSTEM,
                                sampling=SamplingParams(max_tokens=12, seed=7))
    events = list(it_engine.generate(request))
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.template == "the model's own template (tokenizer.chat_template)"
    assert finished.prompt.startswith("<start_of_turn>user\n" + SYSTEM)
    assert any(isinstance(e, TokenEvent) and e.text for e in events)
    assert finished.reason in (FinishReason.STOP, FinishReason.LENGTH)
    assert finished.stats.output_tokens >= 1 and finished.text.strip()
