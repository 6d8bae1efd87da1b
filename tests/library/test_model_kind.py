"""Base-model detection on real headers: the starter model, and GGUFs written with the names and
finetune keys real models carry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inference.gguf.file import read_gguf
from inference.library.model_kind import (
    ModelKind,
    finetune_marker,
    model_kind,
    model_kind_of,
)
from tests.support.gguf_factory import SIMPLE_CHAT_TEMPLATE, write_tiny_model


def test_the_starter_model_is_a_base_model(starter_model_path):
    info = read_gguf(starter_model_path)
    verdict = model_kind(info)
    assert verdict.kind is ModelKind.BASE and verdict.is_base
    assert "no chat template" in verdict.label
    assert model_kind_of(info.to_dict()) == verdict       # as LoadedModel.info carries it


def test_a_copy_of_the_starter_named_it_is_tuned(starter_model_path, tmp_path):
    copy = tmp_path / "gemma-3-270m-it-Q4_K_M.gguf"
    shutil.copyfile(starter_model_path, copy)
    verdict = model_kind(read_gguf(copy))
    assert verdict.kind is ModelKind.TUNED
    assert verdict.reason == "“it” in gemma-3-270m-it-Q4_K_M"


@pytest.mark.parametrize(("key", "value", "marker"), [
    ("general.finetune", "instruct", "instruct"),
    ("general.finetune", "it", "it"),
    ("general.finetune", "Chat-SFT", "chat"),
    ("general.finetune", "dpo", "dpo"),
    ("general.basename", "OpenChat", "openchat"),
])
def test_a_finetune_in_the_metadata_makes_it_tuned(tmp_path, key, value, marker):
    path = write_tiny_model(tmp_path / "plain.gguf", name="Plain 1B", extra_kv={key: value})
    verdict = model_kind(read_gguf(path))
    assert verdict.kind is ModelKind.TUNED
    assert verdict.reason == f"“{marker}” in {value}"


@pytest.mark.parametrize("name", ["Llama 3.1 8B Instruct", "Llama-2-7b-chat-hf",
                                  "Mistral-7B-Instruct-v0.2", "gemma-3-1b-it"])
def test_an_instruct_name_makes_it_tuned(tmp_path, name):
    path = write_tiny_model(tmp_path / "model.gguf", name=name)
    assert model_kind(read_gguf(path)).kind is ModelKind.TUNED


@pytest.mark.parametrize("name", ["Llama 3.1 8B", "Mistral-7B-v0.1", "gemma-3-1b-pt",
                                  "Qwen2.5 7B", "Phi 2 (edited)", "Italian GPT 1B"])
def test_a_plain_name_without_template_is_base(tmp_path, name):
    path = write_tiny_model(tmp_path / "model.gguf", name=name,
                            extra_kv={"general.basename": name.split()[0]})
    verdict = model_kind(read_gguf(path))
    assert verdict.kind is ModelKind.BASE, verdict


def test_a_chat_template_makes_it_tuned_whatever_the_name(tmp_path):
    path = write_tiny_model(tmp_path / "base-model.gguf", name="Plain 1B",
                            chat_template=SIMPLE_CHAT_TEMPLATE)
    info = read_gguf(path)
    assert model_kind(info).reason == "it has a chat template"
    assert model_kind_of(info.to_dict()).kind is ModelKind.TUNED


def test_the_file_name_counts_too(tmp_path: Path):
    path = write_tiny_model(tmp_path / "Qwen2.5-0.5B-Instruct-Q8_0.gguf", name="Qwen2.5 0.5B")
    assert model_kind(read_gguf(path)).kind is ModelKind.TUNED


@pytest.mark.parametrize(("name", "marker"), [
    ("gemma-3-270m-it", "it"), ("Hermes-3-Llama-3.1-8B-DPO", "dpo"), ("chatglm3-6b", "chatglm3"),
    ("Meta-Llama-3-8B-Instruct", "instruct"), ("mistral-7b-v0.1", ""), ("titan-7b", ""),
    ("with-iterations", ""), ("gemma-3-270m", ""),
])
def test_markers_are_words_not_letters(name, marker):
    assert finetune_marker(name) == marker
