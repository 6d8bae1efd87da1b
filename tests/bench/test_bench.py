"""`parley bench`: JSON shape and self-consistent numbers on the real starter model (tiny sizes)."""

from __future__ import annotations

import json

import pytest

from inference.bench.memory import parse_buffers
from inference.bench.throughput import Throughput
from inference.cli import main

REQUIRED = {"pp_tps", "pp_std", "tg_tps", "tg_std", "ttft_s", "tpot_s", "threads", "n_prompt",
            "n_gen", "runs"}


def test_throughput_is_mean_and_sample_std_of_per_run_rates():
    t = Throughput(10, (0.5, 1.0, 2.0))            # 20, 10, 5 tokens/s
    assert t.tps_samples == (20.0, 10.0, 5.0)
    assert t.mean == pytest.approx(35 / 3)
    assert t.std == pytest.approx(7.637626, rel=1e-6)
    assert Throughput(10, (1.0,)).std == 0.0


def test_buffer_lines_from_the_llama_log():
    lines = ["load_tensors:   CPU_Mapped model buffer size =   241.63 MiB",
             "llama_kv_cache:        CPU KV buffer size =    18.00 MiB",
             "sched_reserve:        CPU compute buffer size =   514.50 MiB",
             "something else entirely"]
    found = parse_buffers(lines)
    assert [(b.device, b.kind, b.mapped) for b in found] == [
        ("CPU_Mapped", "model", True), ("CPU", "KV", False), ("CPU", "compute", False)]
    assert found[1].bytes == 18 * 1024 * 1024


def test_bench_json_is_complete_and_consistent(capsys, starter_model_path):
    code = main(["bench", str(starter_model_path), "-p", "32", "-n", "8", "-r", "2",
                 "-t", "2", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert REQUIRED <= data.keys()
    assert (data["threads"], data["n_prompt"], data["n_gen"], data["runs"]) == (2, 32, 8, 2)
    for key in ("pp_tps", "tg_tps", "ttft_s", "tpot_s"):
        assert data[key] > 0, key
    assert data["pp_std"] >= 0 and data["tg_std"] >= 0
    assert len(data["pp_samples_s"]) == len(data["tg_samples_s"]) == 2
    # the same model's generation speed seen two ways agrees to an order of magnitude
    assert 0.1 < (1 / data["tpot_s"]) / data["tg_tps"] < 10
    # prefill in batches beats one-at-a-time generation; TTFT covers a prompt of ~n_prompt
    assert data["pp_tps"] > data["tg_tps"]
    assert data["ttft_s"] < 10 * 32 / data["tg_tps"]
    chat = data["chat"]
    assert abs(chat["prompt_tokens"] - 32) <= 8 and len(chat["ttft_s"]) == 2
    assert data["memory"]["rss_bytes"] > data["memory"]["rss_before_load_bytes"] > 0
    assert data["build"]["llama_cpp_python"] == "0.3.36"


def test_the_bench_chat_turn_engine_says_to_run_the_benchmark_again(starter_model_path):
    """A crash during `parley bench`'s chat turn tells what fits the command, not "load the
    model again" (which is the GUI's advice)."""
    import os
    import signal

    from inference.bench.chat import BENCH_ADVICE, HOST_PATH, open_bench_engine
    from inference.common.errors import EngineCrashedError
    from inference.engine.config import ModelConfig
    from inference.engine.requests import GenerationRequest, Mode

    engine, path = open_bench_engine()
    assert path == HOST_PATH
    try:
        engine.load(ModelConfig(starter_model_path, n_ctx=256, n_threads=1))
        pid = engine.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(EngineCrashedError) as err:
            list(engine.generate(GenerationRequest(Mode.TEXT, text="Once")))
        assert str(err.value).endswith(BENCH_ADVICE)
    finally:
        engine.close()
