"""`parley prompt MODEL --prompt … | --messages FILE.json`: the exact prompt the model would see,
and which template made it, without generating (only the vocabulary is loaded).

Standard output gets exactly what the model reads: the BOS token's text (`<bos>`, `<s>` …) when
the tokenizer puts one first, then the rendered prompt, with no newline added. The template and
token count go to standard error. `--json` prints `text` (the rendered prompt as Show prompt and
`Engine.render` give it, without the BOS text), `bos`, `template`, `prompt_tokens`,
`dropped_turns` and `warnings`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from inference.cli.common import (
    add_model_argument,
    add_template_argument,
    check_limits,
    model_path,
    print_json,
    read_text_file,
    template_source_from_args,
    warn,
)
from inference.common.errors import PromptError
from inference.engine.prompt_preview import preview_prompt
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams

HELP = "Print the exact prompt a model would see for a conversation, without generating."
MESSAGES_FILE_LIMIT = 16 << 20     # bytes, as generate's --prompt-file
ROLE_ALIASES = {"developer": "system"}  # OpenAI's newer name for the system message


def register(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="one user message")
    source.add_argument("--messages", metavar="FILE.json",
                        help='a conversation as the OpenAI API sends it: {"messages": [{"role": '
                        '…, "content": …}, …]} (\'-\' for standard input)')
    parser.add_argument("--system", default=None, help="system prompt (replaces the one in "
                        "--messages, if any)")
    add_template_argument(parser)
    parser.add_argument("--ctx", type=int, default=4096, metavar="N",
                        help="context size (n_ctx): older turns are left out to fit, as in "
                        "generate")
    parser.add_argument("--max-tokens", type=int, default=SamplingParams().max_tokens,
                        metavar="N", help="reply tokens to keep room for (as generate's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    check_limits(n_ctx=args.ctx)
    request = build_request(args)            # bad input fails before the vocabulary loads
    source = template_source_from_args(args)
    preview = preview_prompt(model_path(args), request, source, n_ctx=args.ctx)
    if args.json:
        print_json(preview.to_dict())
        return 0
    sys.stdout.write(preview.model_text)
    sys.stdout.flush()
    for warning in preview.warnings:
        warn("prompt", warning)
    dropped = (f", {preview.dropped_turns} oldest turns left out to fit the context"
               if preview.dropped_turns else "")
    print(f"template: {preview.template} · {preview.prompt_tokens} prompt tokens{dropped}",
          file=sys.stderr)
    return 0


def build_request(args: argparse.Namespace) -> GenerationRequest:
    """The chat request for --prompt or --messages (with --system)."""
    sampling = SamplingParams(max_tokens=args.max_tokens)
    if args.prompt is not None:
        return GenerationRequest(Mode.CHAT, (Message("user", args.prompt),),
                                 system=args.system or "", sampling=sampling)
    system, messages = read_messages(args.messages)
    return GenerationRequest(Mode.CHAT, messages, sampling=sampling,
                             system=system if args.system is None else args.system)


def read_messages(path: str) -> tuple[str, tuple[Message, ...]]:
    """The system prompt and the turns of an OpenAI-style messages file."""
    text = read_text_file(path, max_bytes=MESSAGES_FILE_LIMIT)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PromptError(f"{path} is not valid JSON ({exc})") from None
    items = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise PromptError(f'{path} must hold {{"messages": [{{"role": …, "content": …}}, …]}} '
                          "with at least one message")
    system = ""
    messages: list[Message] = []
    for number, item in enumerate(items, 1):
        message = _message(item, f"{path}: message {number}")
        if message.role != "system":
            messages.append(message)
        elif number == 1:
            system = message.content
        else:
            raise PromptError(f"{path}: message {number} is a system message; only the first "
                              "may be (the model gets one system prompt, before the turns)")
    return system, tuple(messages)


def _message(item: Any, where: str) -> Message:
    if not isinstance(item, dict):
        raise PromptError(f"{where} is not an object with a role and a content")
    role = item.get("role")
    role = ROLE_ALIASES.get(role, role) if isinstance(role, str) else role
    if role not in ("system", "user", "assistant"):
        raise PromptError(f"{where} has the role {role!r}; Parley takes system, user and "
                          "assistant")
    reasoning = item.get("reasoning_content") or ""
    if not isinstance(reasoning, str):
        raise PromptError(f"{where}: reasoning_content must be text")
    return Message(role, _content(item.get("content"), where), reasoning)


def _content(content: Any, where: str) -> str:
    """A string, or the texts of a list of {"type": "text", "text": …} parts, one per line
    (as llama.cpp's server and vLLM join them)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise PromptError(f"{where} has no text content (content must be a string or a list "
                          "of text parts)")
    texts: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text" or not isinstance(part.get("text"), str):
            what = f"a {kind!r} part" if isinstance(kind, str) else "a part that is not text"
            raise PromptError(f"{where} has {what}; only text parts can be rendered")
        texts.append(part["text"])
    return "\n".join(texts)
