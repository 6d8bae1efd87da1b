"""Chat templates that would exhaust memory or CPU stop at a named limit and fall back; `parley
info` finds exactly what a load finds (crafted GGUFs, the real sandbox, no mocks)."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from inference.cli import main
from inference.common.errors import ParleyError
from inference.engine.chat_formats import JinjaFormat, TemplateError
from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.prompts import TRIAL_CONVERSATION, build_prompt, choose_template
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.template_check import file_template_problem
from inference.engine.template_limits import TemplateLimits
from inference.gguf.file import read_gguf
from tests.support.gguf_factory import write_tiny_model

QUICK = TemplateLimits(max_seconds=0.3)      # the time limit, reached sooner
LOOP = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
NESTED_RANGES = ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                 "{% endfor %}" + LOOP)


def words(text: str, _special: bool) -> list[int]:
    return [1] + [hash(w) % 1000 for w in text.split()]


def problem(source: str, limits: TemplateLimits = QUICK) -> str:
    choice = choose_template("gemma3", source, "<bos>", "<eos>", set(), limits)
    assert choice.label == "gemma (llama.cpp built-in)" and choice.warning
    assert choice.warning.startswith("Using the built-in gemma format: the model's chat template")
    assert "\n" not in choice.warning and len(choice.warning) < 400
    return choice.warning


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize(("source", "limit"), [
    ("{{ 'A' * 3000000000 }}", "string of 3,000,000,000 characters"),
    ("{{ [1] * 3000000000 }}", "3,000,000,000 items, over the 100,000-item limit"),
    ("{% for i in range(1000000) %}{% endfor %}", "range of 1,000,000 items"),
    ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "(the output limit)"),
    ("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}{{ ns.s }}", "the output limit"),
    ("{{ 'x'|center(1000000000) }}", "1,000,000,000 to the center filter"),
    ("{{ '%999999999d' % 1 }}", "999,999,999 to a % format"),
    ("{{ '{:>999999999}'.format(1) }}", "999,999,999 to the format operation"),
    ("{{ ('x' * 100000)|replace('', 'y' * 100000) }}", "string of 10,000,200,000 characters"),
    ("{{ 2 ** 100000000 }}", "digit limit"),
    (NESTED_RANGES, "ran past the 0.3-second limit and was stopped"),
    ("{% set s = 'ab' * 500000 %}{% for c in s %}{% for d in s %}{% endfor %}{% endfor %}",
     "ran past the 0.3-second limit"),
])
def test_each_limit_stops_the_template_and_is_named(source, limit):
    warning = problem(source)
    assert limit in warning
    assert peak_bytes(lambda: problem(source)) < 64 << 20


def test_the_time_limit_holds_at_its_default_too():
    assert "ran past the 2-second limit" in problem(NESTED_RANGES, TemplateLimits())


def test_a_template_over_the_size_limit_is_refused_before_parsing():
    warning = problem("x" * ((128 << 10) + 1))
    assert "131,073 characters long, over the 131,072-character limit" in warning


def test_a_templates_own_message_is_cut_to_one_line():
    warning = problem("{{ raise_exception('A' * 1000000 + '\\nsecond line') }}")
    assert warning.count("A") < 300


def test_deep_recursion_and_nesting_end_in_a_template_error():
    assert "recursed too deeply" in problem("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}"
                                            "{{ m(0) }}")
    assert "nests too deeply" in problem("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")


def test_a_real_template_renders_whole_within_the_limits():
    fmt = JinjaFormat(LOOP + "{{ messages|tojson(indent=2)|length > 0 }}", limits=QUICK)
    text = fmt.render(TRIAL_CONVERSATION)
    assert text.startswith("<system>You are a helpful") and text.endswith("True")


def test_the_output_limit_grows_with_the_conversation():
    long_turn = (Message("user", "w " * 2_000_000),)            # 4 MB of the user's own text
    assert JinjaFormat(LOOP, limits=QUICK).render(long_turn).startswith("<user>w w")


def test_a_template_that_fails_only_on_real_text_is_found_by_the_trial():
    two_turns_only = ("{% if messages|length > 2 %}{{ raise_exception('only one question') }}"
                      "{% endif %}" + LOOP)
    assert "only one question" in problem(two_turns_only)
    no_system = ("{% if messages[0].role == 'system' %}{{ raise_exception('no system') }}"
                 "{% endif %}" + LOOP)
    assert choose_template("gemma3", no_system, "", "", set()).problem is None


def test_a_template_failing_on_this_conversation_falls_back_for_the_reply():
    source = "{% for m in messages %}{% if 'boom' in m.content %}{{ raise_exception('no boom')" \
             " }}{% endif %}{{ m.content }}{% endfor %}"
    choice = choose_template("gemma3", source, "", "", set())
    assert choice.problem is None
    built = build_prompt(GenerationRequest(Mode.CHAT, (Message("user", "boom"),)), choice,
                         words, 100)
    assert built.template == "gemma (llama.cpp built-in)"
    assert built.text == "<start_of_turn>user\nboom<end_of_turn>\n<start_of_turn>model\n"
    assert built.warnings == ("Using the built-in gemma format for this reply: the model's "
                              "chat template refused the conversation: no boom.",)


def test_every_template_failure_is_a_parley_error():
    with pytest.raises(ParleyError):
        JinjaFormat("{{ 'A' * 3000000000 }}").render([Message("user", "x")])
    assert issubclass(TemplateError, ParleyError)


# -- info finds what a load finds (crafted GGUFs through the real vocabulary loader) ----------

@pytest.mark.parametrize(("source", "limit"), [
    ("{{ 'A' * 3000000000 }}", "string of 3,000,000,000 characters"),
    ("{% if messages|length > 2 %}{{ raise_exception('only one question') }}{% endif %}"
     "{{ messages[0].content }}", "only one question"),
    ("{# padding #}" + "x" * (17 << 20), "over the 131,072-character limit for templates"),
])
def test_info_and_load_name_the_same_problem(tmp_path, capsys, source, limit):
    path = write_tiny_model(tmp_path / "hostile.gguf", chat_template=source)
    found = file_template_problem(read_gguf(path))
    assert found is not None and limit in found.problem
    assert main(["info", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["chat_template_error"] == found.problem
    assert data["chat_template_fallback"] == found.format.name
    engine = Engine()
    try:
        loaded = engine.load(ModelConfig(path, n_ctx=64, n_threads=1))
    finally:
        engine.close()
    assert loaded.template == f"{found.format.name} (llama.cpp built-in)"
    assert f"Using the built-in {found.format.name} format: {found.problem}." in loaded.warnings


def test_info_names_a_template_too_long_for_the_header_reader_without_a_vocabulary(tmp_path):
    # no tokenizer model: the vocabulary will not load, so only the header's summary is seen
    path = write_tiny_model(tmp_path / "huge.gguf", chat_template="x" * (17 << 20),
                            omit_keys=("tokenizer.ggml.model",))
    found = file_template_problem(read_gguf(path))
    assert found is not None and found.format.name == "llama2"
    assert "17,825,792 characters long, over the 131,072-character limit" in found.problem


def test_info_prints_one_line_for_a_template_that_multiplies_strings(tmp_path, capsys):
    path = write_tiny_model(tmp_path / "a.gguf", chat_template="{{ 'A' * 3000000000 }}")
    assert main(["info", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "AAAA" not in out
    row = next(line for line in out.splitlines() if line.startswith("Chat template"))
    assert "-character limit, so llama.cpp's built-in llama2 format is used" in row
