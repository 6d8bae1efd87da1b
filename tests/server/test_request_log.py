"""The request records `parley serve --request-log` prints and the Server page reads, the
throughput they add up to, and the `parley serve` command line the page builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.engine.config import ModelConfig
from inference.server.command import parley_program, serve_command
from inference.server.config import API_KEY_ENV, ServerConfig
from inference.server.request_log import RequestRecord, throughput_now


def _rec(finished_at: float, output: int, tps: float | None) -> RequestRecord:
    return RequestRecord(finished_at, "POST", "/v1/chat/completions", 200,
                         output_tokens=output, gen_tps=tps)


def test_a_record_comes_back_from_its_line_and_other_lines_are_not_records() -> None:
    rec = RequestRecord(1_700_000_000.5, "POST", "/v1/completions", 200, 31, 16, 8, 0.12,
                        48.5, 0.3, "stop")
    assert RequestRecord.from_json(rec.to_json()) == rec
    assert "\n" not in rec.to_json()
    for line in ("INFO: started", "[1, 2]", '{"method": "GET"}', "{", '"x"'):
        assert RequestRecord.from_json(line) is None, line
    newer = rec.to_json()[:-1] + ',"added_later":1}'        # a newer server's extra field
    assert RequestRecord.from_json(newer) == rec


def test_throughput_spreads_each_reply_over_the_time_it_was_generated() -> None:
    now = 1000.0
    # 101 tokens at 10 tok/s: generated over the 10 s before it finished
    assert throughput_now([_rec(now, 101, 10.0)], now, window_s=10) == pytest.approx(10.1)
    # the same reply, finished 5 s ago: half of its span is in the window
    assert throughput_now([_rec(now - 5, 101, 10.0)], now, window_s=10) == pytest.approx(5.05)
    # two at once add up; one that ended before the window counts for nothing
    both = [_rec(now, 101, 10.0), _rec(now, 51, 5.0), _rec(now - 30, 500, 50.0)]
    assert throughput_now(both, now, window_s=10) == pytest.approx(10.1 + 5.1)
    # a one-token reply (no speed) counts when it ended inside the window
    assert throughput_now([_rec(now - 1, 1, None)], now, window_s=10) == pytest.approx(0.1)
    assert throughput_now([], now) == 0.0


def test_the_command_is_parley_serve_with_the_chat_settings_and_the_key_in_the_environment(
        tmp_path: Path) -> None:
    model = ModelConfig(tmp_path / "m.gguf", n_ctx=2048, n_gpu_layers=3, n_threads=2,
                        cache_type_k="q8_0")
    server = ServerConfig(host="0.0.0.0", port=9000, parallel=2, api_key="sekret")
    cmd = serve_command(model, server, template_file=tmp_path / "t.jinja", frozen=False)
    args = list(cmd.arguments)
    assert [cmd.program, *args[:3]] == [*parley_program(frozen=False), "serve"]
    assert args[3] == str(model.path)

    def value(flag: str) -> str:
        return args[args.index(flag) + 1]

    assert (value("--host"), value("--port"), value("--parallel")) == ("0.0.0.0", "9000", "2")
    assert (value("--ctx"), value("--gpu-layers"), value("--threads")) == ("2048", "3", "2")
    assert value("--cache-type-k") == "q8_0" and value("--chat-template-file").endswith("t.jinja")
    assert "--request-log" in args and "sekret" not in args
    assert cmd.environment == ((API_KEY_ENV, "sekret"),)
    frozen = serve_command(model, ServerConfig(), frozen=True)
    assert frozen.arguments[0] == "serve" and "--chat-template-file" not in frozen.arguments
    assert frozen.environment == ()


def test_the_command_carries_prompt_lookup_but_not_a_draft_model(tmp_path: Path) -> None:
    """The chat's prompt lookup serves the server's slots too, and the command parses as parley
    serve's own; a draft model (one reply at a time) is left to the chat."""
    from inference.cli import build_parser

    lookup = ModelConfig(tmp_path / "m.gguf", speculative="lookup", draft_max=4)
    args = serve_command(lookup, ServerConfig(), frozen=True).arguments
    parsed = build_parser().parse_args(list(args))
    assert (parsed.speculative, parsed.draft_max) == ("lookup", 4)
    draft = ModelConfig(tmp_path / "m.gguf", speculative="draft", draft_model=tmp_path / "d.gguf")
    args = serve_command(draft, ServerConfig(), frozen=True).arguments
    assert "--speculative" not in args and "d.gguf" not in " ".join(args)
    assert build_parser().parse_args(list(args)).speculative == "off"
