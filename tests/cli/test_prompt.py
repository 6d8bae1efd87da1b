"""`parley prompt`: the exact prompt the real engine renders, from the vocabulary alone, and one
clear line for every kind of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from transformers.utils.chat_template_utils import render_jinja_template

from inference.cli import main
from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.template_source import TemplateSource
from tests.support.gguf_factory import write_tiny_model
from tests.support.templated_model import GEMMA3_IT_TEMPLATE

CTX = 1024                       # the `engine` fixture's context
JSON_KEYS = {"text", "bos", "template", "prompt_tokens", "dropped_turns", "warnings"}
# A small template of the kind people write for a base model: a plain transcript.
TRANSCRIPT = ("{%- for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n"
              "{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}")
CONVERSATION = {"messages": [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": [{"type": "text", "text": "Name a colour."},
                                 {"type": "text", "text": "Any one."}]},
    {"role": "assistant", "content": "Blue."},
    {"role": "user", "content": "Another, ünïcode <b>please</b>."},
]}
SAME_REQUEST = GenerationRequest(Mode.CHAT, (
    Message("user", "Name a colour.\nAny one."), Message("assistant", "Blue."),
    Message("user", "Another, ünïcode <b>please</b>.")), system="Answer in one word.")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def prompt_json(capsys, model: Path, *argv: str) -> dict:
    code, out, err = run_cli(capsys, "prompt", str(model), "--ctx", str(CTX), *argv, "--json")
    assert (code, err) == (0, "")
    return json.loads(out)


@pytest.fixture
def messages_file(tmp_path: Path) -> Path:
    path = tmp_path / "conversation.json"
    path.write_text(json.dumps(CONVERSATION), encoding="utf-8")
    return path


def test_prompt_gives_the_engines_own_render(capsys, engine, starter_model_path):
    data = prompt_json(capsys, starter_model_path, "--prompt", "Hello there", "--system", "Brief.")
    rendered = engine.render(GenerationRequest(Mode.CHAT, (Message("user", "Hello there"),),
                                               system="Brief."))
    assert set(data) == JSON_KEYS
    assert data["text"] == rendered.text and "Hello there" in data["text"]
    assert data["template"] == rendered.template
    assert data["prompt_tokens"] == rendered.prompt_tokens
    assert data["bos"] == "<bos>" and data["dropped_turns"] == 0


def test_messages_give_the_engines_own_render(capsys, engine, starter_model_path,
                                              messages_file):
    data = prompt_json(capsys, starter_model_path, "--messages", str(messages_file))
    rendered = engine.render(SAME_REQUEST)
    assert (data["text"], data["template"], data["prompt_tokens"]) == (
        rendered.text, rendered.template, rendered.prompt_tokens)
    assert data["text"].count("Answer in one word.") == 1 and "<b>please</b>" in data["text"]


def test_plain_output_is_exactly_what_the_model_reads(capsys, starter_model_path):
    code, out, err = run_cli(capsys, "prompt", str(starter_model_path), "--prompt", "Hi")
    data = prompt_json(capsys, starter_model_path, "--prompt", "Hi")
    assert code == 0
    assert out == data["bos"] + data["text"]              # no newline added
    assert err == (f"template: {data['template']} · {data['prompt_tokens']} prompt tokens\n")


def test_system_flag_replaces_the_files_system_message(capsys, starter_model_path,
                                                       messages_file):
    data = prompt_json(capsys, starter_model_path, "--messages", str(messages_file),
                       "--system", "Be poetic.")
    assert "Be poetic." in data["text"] and "Answer in one word." not in data["text"]


def test_a_long_conversation_drops_its_oldest_turns(capsys, starter_model_path, tmp_path):
    turns = [{"role": r, "content": f"turn {i} " + "word " * 120}
             for i in range(12) for r in ("user", "assistant")][:-1]
    path = tmp_path / "long.json"
    path.write_text(json.dumps({"messages": turns}))
    data = prompt_json(capsys, starter_model_path, "--messages", str(path))
    assert data["dropped_turns"] > 0 and "turn 0 " not in data["text"]
    assert "turn 11 " in data["text"] and data["prompt_tokens"] + 256 <= CTX


def test_chat_template_file_renders_with_the_users_template(capsys, starter_model_path,
                                                            tmp_path, messages_file):
    template = tmp_path / "transcript.jinja"
    template.write_text(TRANSCRIPT, encoding="utf-8")
    data = prompt_json(capsys, starter_model_path, "--messages", str(messages_file),
                       "--chat-template-file", str(template))
    assert data["text"] == ("System: Answer in one word.\nUser: Name a colour.\nAny one.\n"
                            "Assistant: Blue.\nUser: Another, ünïcode <b>please</b>.\n"
                            "Assistant:")
    assert data["template"] == f"custom template ({template})"
    assert data["warnings"] == []


def test_chat_template_file_matches_an_engine_loaded_with_it(capsys, starter_model_path,
                                                             tmp_path, messages_file):
    template = tmp_path / "transcript.jinja"
    template.write_text(TRANSCRIPT, encoding="utf-8")
    data = prompt_json(capsys, starter_model_path, "--messages", str(messages_file),
                       "--chat-template-file", str(template))
    engine = Engine()
    try:
        engine.load(ModelConfig(starter_model_path, n_ctx=CTX, n_threads=1,
                                template=TemplateSource.from_file(template)))
        rendered = engine.render(SAME_REQUEST)
    finally:
        engine.close()
    assert (data["text"], data["template"], data["prompt_tokens"]) == (
        rendered.text, rendered.template, rendered.prompt_tokens)


def test_a_real_template_file_renders_as_transformers_does(capsys, starter_model_path,
                                                         tmp_path, messages_file):
    """Gemma 3's instruction template (tests/fixtures), copied as a user would save it."""
    template = tmp_path / "gemma3-it.jinja"
    shutil.copyfile(GEMMA3_IT_TEMPLATE, template)
    code, out, _err = run_cli(capsys, "prompt", str(starter_model_path), "--messages",
                              str(messages_file), "--chat-template-file", str(template))
    chat = [{"role": "system", "content": SAME_REQUEST.system}] + [
        {"role": m.role, "content": m.content} for m in SAME_REQUEST.messages]
    expected, _ = render_jinja_template(
        [chat], chat_template=template.read_text(encoding="utf-8"), add_generation_prompt=True,
        bos_token="<bos>", eos_token="<eos>")
    assert code == 0 and out == expected[0]             # BOS once: the tokenizer's
    assert out.startswith("<bos><start_of_turn>user\nAnswer in one word.\n\nName a colour.")
    data = prompt_json(capsys, starter_model_path, "--messages", str(messages_file),
                       "--chat-template-file", str(template))
    assert data["template"] == f"custom template ({template})"
    assert data["bos"] + data["text"] == out and not data["text"].startswith("<bos>")


def test_a_template_refusing_the_system_role_is_told(capsys, starter_model_path, tmp_path):
    template = tmp_path / "no-system.jinja"
    template.write_text(
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>", encoding="utf-8")
    data = prompt_json(capsys, starter_model_path, "--prompt", "Hi", "--system", "Be kind.",
                       "--chat-template-file", str(template))
    assert data["text"] == "<user>Be kind.\n\nHi<assistant>"
    assert len(data["warnings"]) == 1 and "system prompt" in data["warnings"][0]


# -- bad input: one line on stderr, nothing on stdout, no traceback -------------------------

def _bad(capsys, *argv: str) -> str:
    code, out, err = run_cli(capsys, "prompt", *argv)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and err.startswith("parley prompt: error: ")
    assert "Traceback" not in err
    return err.removeprefix("parley prompt: error: ").strip()


@pytest.mark.parametrize(("content", "expected"), [
    ("{ not json", "is not valid JSON"),
    ('["a"]', 'must hold {"messages": [{"role": …, "content": …}, …]}'),
    ('{"messages": []}', "with at least one message"),
    ('{"messages": [{"role": "tool", "content": "x"}]}',
     "message 1 has the role 'tool'; Parley takes system, user and assistant"),
    ('{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}',
     "message 1 has a 'image_url' part; only text parts can be rendered"),
    ('{"messages": [{"role": "user", "content": null}]}', "message 1 has no text content"),
    ('{"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]}',
     "message 2 is a system message; only the first may be"),
    ('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}',
     "The conversation must end with a message from you."),
    ('{"messages": ["hello"]}', "message 1 is not an object with a role and a content"),
])
def test_bad_messages_files(capsys, tmp_path, content, expected):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    path = tmp_path / "m.json"
    path.write_text(content, encoding="utf-8")
    assert expected in _bad(capsys, str(model), "--messages", str(path))


def test_missing_and_binary_messages_files(capsys, tmp_path):
    model = str(write_tiny_model(tmp_path / "tiny.gguf"))
    assert _bad(capsys, model, "--messages", str(tmp_path / "none.json")) == (
        f"no such file: {tmp_path / 'none.json'}")
    binary = tmp_path / "latin1.json"
    binary.write_bytes('{"messages": "café"}'.encode("latin-1"))
    assert "is not valid UTF-8 text" in _bad(capsys, model, "--messages", str(binary))


@pytest.mark.parametrize(("source", "expected"), [
    ("{% for m in messages %}{{ m.content }", "the custom chat template does not parse"),
    ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}x",
     "the custom chat template ran past the 2-second limit and was stopped"),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
     "the custom chat template recursed too deeply"),
    ("   \n", "the custom chat template is empty"),
])
def test_bad_template_files(capsys, tmp_path, starter_model_path, source, expected):
    path = tmp_path / "bad.jinja"
    path.write_text(source, encoding="utf-8")
    error = _bad(capsys, str(starter_model_path), "--prompt", "Hi", "--chat-template-file",
                 str(path))
    assert error.startswith(expected)


def test_a_template_file_over_a_mebibyte_is_refused_unread(capsys, tmp_path):
    path = tmp_path / "huge.jinja"
    path.write_text("{{ 'x' }}" * (120 << 10) + "{{ messages }}", encoding="utf-8")
    assert path.stat().st_size > 1 << 20
    model = write_tiny_model(tmp_path / "tiny.gguf")
    assert _bad(capsys, str(model), "--prompt", "Hi", "--chat-template-file", str(path)) == (
        f"{path} is larger than 1 MiB; use a shorter text")
    assert _bad(capsys, str(model), "--prompt", "Hi", "--chat-template-file",
                str(tmp_path / "gone.jinja")) == f"no such file: {tmp_path / 'gone.jinja'}"


def test_a_file_that_is_not_a_gguf(capsys, tmp_path):
    path = tmp_path / "notes.gguf"
    path.write_text("just some notes", encoding="utf-8")
    assert "is not a GGUF file" in _bad(capsys, str(path), "--prompt", "Hi")
    assert _bad(capsys, str(tmp_path / "absent.gguf"), "--prompt", "Hi") == (
        f"no such file: {tmp_path / 'absent.gguf'}")


def test_neither_prompt_nor_messages_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["prompt", "starter"])
    assert exit_info.value.code == 2
    assert "one of the arguments --prompt --messages is required" in capsys.readouterr().err
