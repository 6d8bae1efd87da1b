"""`parley generate MODEL --prompt …`: stream a reply to stdout (its thinking first, between
llama-cli's `[Start thinking]` / `[End thinking]` lines), stats to stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from inference.cli.common import (
    add_load_arguments,
    add_model_argument,
    add_template_argument,
    cancel_on_signals,
    model_config,
    print_json,
    read_text_file,
    template_source_from_args,
    warn,
)
from inference.cli.engine_factory import open_engine
from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, EngineCrashedError, InvalidSettingError
from inference.engine.events import Finished, GenerationEvent, TokenEvent
from inference.engine.reply_text import PlainReply
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SAMPLING_RANGES, SamplingParams
from inference.inspector.openai_shape import MAX_TOP_LOGPROBS, chat_logprobs

HELP = "Generate text from a model in chat, text or instruct mode."
PROMPT_FILE_LIMIT = 16 << 20      # bytes; far beyond any context, and /dev/zero ends here


def register(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("--mode", choices=[m.value for m in Mode], default="chat")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="the message / text / instruction")
    source.add_argument("--prompt-file", metavar="FILE", help="read the prompt from a file "
                        "('-' for standard input)")
    parser.add_argument("--system", default="", help="system prompt (chat and instruct)")
    parser.add_argument("--special-tokens-in-text", action="store_true",
                        help="chat and instruct: let special-token text in the prompt (e.g. "
                        "<start_of_turn>) act as control tokens; by default it stays text")
    defaults = SamplingParams()
    for name in SAMPLING_RANGES:
        kind = float if isinstance(getattr(defaults, name), float) else int
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind,
                            default=getattr(defaults, name), help=SAMPLING_RANGES[name].help)
    parser.add_argument("--stop", action="append", default=[], metavar="TEXT",
                        help="stop when this text appears (repeatable)")
    add_load_arguments(parser)
    add_template_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end "
                        "(the answer as \"text\", the thinking as \"reasoning\")")
    parser.add_argument("--top-logprobs", type=int, metavar="N", default=None,
                        help="with --json: add \"logprobs\", one entry per generated token with "
                        f"its N (0…{MAX_TOP_LOGPROBS}) most likely alternatives, in the shape "
                        "of OpenAI's chat logprobs")
    parser.add_argument("--hide-reasoning", action="store_true",
                        help="plain text: print the answer only, not the model's thinking")


def build_request(args: argparse.Namespace) -> GenerationRequest:
    top = args.top_logprobs
    if top is not None and not args.json:
        raise InvalidSettingError("--top-logprobs needs --json")
    if top is not None and not 0 <= top <= MAX_TOP_LOGPROBS:
        raise InvalidSettingError(f"--top-logprobs must be between 0 and {MAX_TOP_LOGPROBS}, "
                                  f"got {top}")
    prompt = (args.prompt if args.prompt is not None
              else read_text_file(args.prompt_file, max_bytes=PROMPT_FILE_LIMIT))
    sampling = SamplingParams(**{name: getattr(args, name) for name in SAMPLING_RANGES},
                              stop=tuple(args.stop))
    mode = Mode(args.mode)
    special = args.special_tokens_in_text
    if mode is Mode.CHAT:
        return GenerationRequest(mode, (Message("user", prompt),), system=args.system,
                                 sampling=sampling, parse_special_in_user_text=special,
                                 inspect_top=top)
    return GenerationRequest(mode, text=prompt, system=args.system, sampling=sampling,
                             parse_special_in_user_text=special, inspect_top=top)


def run(args: argparse.Namespace) -> int:
    request = build_request(args)          # bad values fail before the model loads
    config = model_config(args, seed=request.sampling.seed,
                          template=template_source_from_args(args))
    with cancel_on_signals(CancelToken()) as cancel, open_engine() as engine:
        try:
            loaded = engine.load(config, cancel=cancel)
            for warning in loaded.warnings:          # before the reply, so it is seen
                _warn(warning)
            printer = None if args.json else ReplyPrinter(not args.hide_reasoning)
            finished = _stream(engine.generate(request, cancel), printer)
        except EngineCrashedError:
            if cancel.cancelled:                     # ended because it ignored the cancel
                raise Cancelled("generate cancelled") from None
            raise
        if cancel.cancelled:                         # Ctrl-C or SIGTERM: one line, exit 130
            if not args.json:
                sys.stdout.write("\n")
            raise Cancelled("generate cancelled")
    if args.json:
        data = finished.to_dict()
        data["warnings"] = [*loaded.warnings, *finished.warnings]
        if finished.inspection is not None:
            data["logprobs"] = chat_logprobs(finished.inspection, args.top_logprobs)
        print_json(data)
    else:
        sys.stdout.write("\n")
        for warning in finished.warnings:
            _warn(warning)
        if finished.dropped_turns:
            print(f"note: {finished.dropped_turns} old turns were dropped to fit the context",
                  file=sys.stderr)
        print(f"[{finished.reason.value}] {finished.stats.summary()}", file=sys.stderr)
    return 0


def _warn(text: str) -> None:
    warn("generate", text)


class ReplyPrinter:
    """Writes a streamed reply to stdout as `PlainReply` marks it up."""

    def __init__(self, show_reasoning: bool = True) -> None:
        self._reply = PlainReply(show_reasoning)

    def write(self, event: TokenEvent) -> None:
        self._out(self._reply.piece(event.text, event.reasoning))

    def end(self) -> None:
        """Close the thinking block, if one is open."""
        self._out(self._reply.end())

    @staticmethod
    def _out(text: str) -> None:
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()


def _stream(events: Iterable[GenerationEvent], printer: ReplyPrinter | None) -> Finished:
    for event in events:
        if isinstance(event, TokenEvent):
            if printer is not None:
                printer.write(event)
        elif isinstance(event, Finished):
            if printer is not None:
                printer.end()
            return event
    raise RuntimeError("the engine ended without a Finished event")
