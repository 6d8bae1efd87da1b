"""`parley generate MODEL --prompt …`: stream a reply to stdout (its thinking first, between
llama-cli's `[Start thinking]` / `[End thinking]` lines), stats to stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import asdict

from inference.cli.common import (
    add_load_arguments,
    add_speculative_arguments,
    add_template_argument,
    cancel_on_signals,
    model_config,
    print_json,
    read_text_file,
    template_source_from_args,
    warn,
)
from inference.cli.engine_factory import open_engine
from inference.cli.remote_args import add_remote_arguments, endpoint_from_args
from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, EngineCrashedError, InvalidSettingError
from inference.engine.events import Finished, FinishReason, GenerationEvent, TokenEvent
from inference.engine.reply_text import PlainReply
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SAMPLING_RANGES, SamplingParams
from inference.inspector.openai_shape import MAX_TOP_LOGPROBS, chat_logprobs
from inference.remote.busy import ServerBusy
from inference.remote.engine import remote_config

HELP = "Generate text from a model in chat, text or instruct mode."
PROMPT_FILE_LIMIT = 16 << 20      # bytes; far beyond any context, and /dev/zero ends here


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", nargs="?",
                        help="a .gguf file, or 'starter' (none with --remote)")
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
    parser.add_argument("--early-stopping", nargs="?", const=True, default=False,
                        type=_early_stopping, metavar="never",
                        help="beam search: stop once --beams beams have finished "
                        "(transformers' early_stopping=True); '--early-stopping never' "
                        "searches until no beam can do better; by default its heuristic")
    parser.add_argument("--stop", action="append", default=[], metavar="TEXT",
                        help="stop when this text appears (repeatable)")
    add_load_arguments(parser)
    add_speculative_arguments(parser)
    add_template_argument(parser)
    add_remote_arguments(parser)
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
                              stop=tuple(args.stop), early_stopping=args.early_stopping)
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
    remote = endpoint_from_args(args) if args.remote else None
    if remote is not None:
        if args.model is not None:
            raise InvalidSettingError("give either a MODEL file or --remote URL, not both "
                                      "(the server's model is --model NAME)")
        config = remote_config(remote)
    elif args.model is None:
        raise InvalidSettingError("no model: give a .gguf file, 'starter', or --remote URL")
    else:
        config = model_config(args, seed=request.sampling.seed,
                              template=template_source_from_args(args))
    with cancel_on_signals(CancelToken()) as cancel, open_engine(remote) as engine:
        try:
            loaded = engine.load(config, cancel=cancel)
            for warning in loaded.warnings:          # before the reply, so it is seen
                _warn(warning)
            for share in loaded.devices:             # with --rpc: where the layers went
                print(f"parley generate: layers on {share.describe()}", file=sys.stderr)
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
        if loaded.devices:
            data["devices"] = [asdict(share) for share in loaded.devices]
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
        for rank, beam in enumerate(finished.beams[1:], start=2):
            print(f"beam {rank} (score {beam.score:.4f}): {beam.text!r}", file=sys.stderr)
        print(f"[{finished.reason.value}] {finished.stats.summary()}", file=sys.stderr)
    return 1 if finished.reason is FinishReason.INTERRUPTED else 0   # a cut remote stream


def _early_stopping(value: str) -> bool | str:
    if value.lower() == "never":
        return "never"
    raise argparse.ArgumentTypeError(f"expected nothing or 'never', got {value!r}")


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
        elif isinstance(event, ServerBusy):
            _warn(event.describe())
    raise RuntimeError("the engine ended without a Finished event")
