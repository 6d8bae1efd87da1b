"""OpenAI's response formats as the llama.cpp grammar a request's sampler chain follows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inference.common.errors import InvalidSettingError
from inference.llama.grammar import JSON_OBJECT_GBNF, json_schema_gbnf


def format_grammar(kind: str, schema: Mapping[str, Any] | None = None) -> str:
    """The GBNF grammar of response_format `kind`: "json_object" (any JSON object) or
    "json_schema" (a JSON document valid against `schema`; none: any JSON value)."""
    if kind == "json_object":
        return JSON_OBJECT_GBNF
    if kind == "json_schema":
        return json_schema_gbnf(schema if schema is not None else {})
    raise InvalidSettingError(f"unknown response format {kind!r}")
