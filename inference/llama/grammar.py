"""GBNF grammars for llama.cpp's grammar sampler: JSON objects, JSON Schemas, parse checks.

The JSON grammar and the JSON Schema → GBNF converter are llama-cpp-python's own
(`llama_cpp.llama_grammar`, translated from llama.cpp's json-schema-to-grammar), so a schema is
constrained as llama.cpp's tools constrain it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import llama_cpp
from llama_cpp import llama_grammar

from inference.common.errors import InvalidSettingError
from inference.llama.native import NativeModel

ROOT = b"root"
JSON_OBJECT_GBNF: str = llama_grammar.JSON_GBNF      # one JSON object, whitespace around it


def json_schema_gbnf(schema: Mapping[str, Any]) -> str:
    """The GBNF grammar of replies that are JSON documents valid against `schema`.

    Raises InvalidSettingError with a one-line reason for a schema the converter cannot take
    (an unknown type, a remote or broken $ref, a bad pattern …)."""
    try:
        return llama_grammar.json_schema_to_gbnf(json.dumps(schema))
    except RecursionError:
        raise InvalidSettingError("the JSON schema is nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - the converter asserts and raises anything
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if len(reason) > 200:
            reason = reason[:197] + "..."
        raise InvalidSettingError(f"the JSON schema cannot be used: {reason}") from None


def grammar_sampler(model: NativeModel, grammar: str) -> llama_cpp.llama_sampler_p:
    """A new native grammar sampler for `grammar` (the caller frees it, or a chain that owns
    it does). Raises InvalidSettingError when llama.cpp's parser refuses the text."""
    if not grammar.strip():
        raise InvalidSettingError("the grammar is empty")
    sampler = llama_cpp.llama_sampler_init_grammar(model.vocab, grammar.encode("utf-8"), ROOT)
    if not sampler:
        raise InvalidSettingError("llama.cpp cannot parse the grammar (it needs a 'root' rule, "
                                  "no left recursion; Parley's log has the parser's words)")
    return sampler


def check_grammar(model: NativeModel, grammar: str) -> None:
    """Raise InvalidSettingError now for a grammar llama.cpp would refuse later."""
    llama_cpp.llama_sampler_free(grammar_sampler(model, grammar))
