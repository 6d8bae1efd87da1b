"""EngineHost: the engine in a child process, with real models and real child processes."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from inference.common.cancel import CancelToken
from inference.common.errors import (
    Cancelled,
    EngineCrashedError,
    NoModelLoadedError,
    ParleyError,
    PromptTooLongError,
)
from inference.common.paths import parley_paths
from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.events import Finished, FinishReason, PromptRendered, TokenEvent
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from inference.host import files as host_files
from inference.host.host import EngineHost
from tests.support.debug_jobs import DEBUG_JOBS
from tests.support.gguf_factory import write_broken

pytestmark = pytest.mark.model


def greedy(max_tokens: int) -> SamplingParams:
    return SamplingParams(temperature=0, max_tokens=max_tokens)


CHAT = GenerationRequest(Mode.CHAT, (Message("user", "Name three colours."),),
                         sampling=greedy(24))
STORY = GenerationRequest(Mode.TEXT, text="Once upon a time, in a small village,",
                          sampling=greedy(32))


@pytest.fixture(scope="module")
def config(starter_model_path: Path) -> ModelConfig:
    # one thread: the test machine is small and shared, and spinning threads starve each other
    return ModelConfig(starter_model_path, n_ctx=512, n_threads=1)


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A PARLEY_HOME for module-scoped hosts (the autouse one is per test)."""
    home = tmp_path_factory.mktemp("host-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PARLEY_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def loaded_host(module_home: Path, config: ModelConfig) -> Iterator[tuple[EngineHost, list]]:
    host = EngineHost(job_modules=[DEBUG_JOBS])
    progress: list[float] = []
    host.load(config, progress=progress.append)
    yield host, progress
    host.close()


@pytest.fixture()
def host(loaded_host: tuple[EngineHost, list], config: ModelConfig) -> EngineHost:
    """The module's host with the model loaded (loaded again if a test left it without)."""
    engine = loaded_host[0]
    if engine.loaded is None:
        engine.load(config)
    return engine


@pytest.fixture(scope="module")
def in_process(config: ModelConfig) -> Iterator[Engine]:
    engine = Engine()
    engine.load(config)
    yield engine
    engine.close()


@pytest.fixture()
def fresh_host() -> Iterator[EngineHost]:
    engine = EngineHost(job_modules=[DEBUG_JOBS])
    yield engine
    engine.close()


def collect(events: Iterator) -> tuple[list[TokenEvent], Finished]:
    tokens = []
    for event in events:
        if isinstance(event, Finished):
            return tokens, event
        if not isinstance(event, PromptRendered):      # the first event
            tokens.append(event)
    raise AssertionError("no Finished event")


# -- same behaviour as the in-process engine ------------------------------------------------------
def test_same_greedy_text_as_in_process(host: EngineHost, in_process: Engine) -> None:
    for request in (CHAT, STORY):
        tokens, finished = collect(host.generate(request))
        ref_tokens, ref_finished = collect(in_process.generate(request))
        assert [(t.text, t.index) for t in tokens] == [(t.text, t.index) for t in ref_tokens]
        assert finished.text == ref_finished.text == "".join(t.text for t in tokens)
        assert finished.reason == ref_finished.reason
        assert finished.prompt == ref_finished.prompt
        assert finished.stats.output_tokens == ref_finished.stats.output_tokens
    assert any(t.stats is not None for t in tokens)          # live stats cross the pipe too


def test_loaded_model_and_progress(loaded_host: tuple[EngineHost, list],
                                   in_process: Engine) -> None:
    host, progress = loaded_host
    assert host.pid is not None and host.pid != os.getpid()
    assert host.loaded is not None and in_process.loaded is not None
    assert host.loaded.n_ctx == in_process.loaded.n_ctx
    assert host.loaded.template == in_process.loaded.template
    assert host.loaded.info == in_process.loaded.info
    assert progress and progress[-1] == 1.0
    assert progress == sorted(progress)


def test_render_and_tokenize_match(host: EngineHost, in_process: Engine) -> None:
    assert host.render(CHAT) == in_process.render(CHAT)
    assert host.tokenize("Hello, world") == in_process.tokenize("Hello, world")
    assert host.tokenize("Hello", add_bos=False) == in_process.tokenize("Hello", add_bos=False)


def test_a_long_text_is_tokenized_in_pieces_with_the_same_tokens(host: EngineHost,
                                                                 in_process: Engine) -> None:
    text = "Long texts are cut at spaces.     Ünïcödé too, 日本語も。\n" * 4000   # > 64 KiB
    assert host.tokenize(text) == in_process.tokenize(text)


def test_a_cancel_while_tokenizing_a_huge_prompt_is_answered_by_the_engine(
        host: EngineHost) -> None:
    pid = host.pid
    cancel = CancelToken()
    huge = GenerationRequest(Mode.TEXT, text="a few words to tokenize " * 700_000,  # 16 MiB
                             sampling=greedy(8))
    timer = threading.Timer(0.5, cancel.cancel)
    timer.start()
    try:
        with pytest.raises(Cancelled, match="tokenizing cancelled"):
            collect(host.generate(huge, cancel))
    finally:
        timer.cancel()
    assert host.pid == pid                  # the engine stopped by itself: nothing was ended
    assert collect(host.generate(CHAT))[1].text


def test_cancel_mid_generation_within_one_token(host: EngineHost) -> None:
    cancel = CancelToken()
    request = GenerationRequest(Mode.TEXT, text="Count: 1, 2, 3,", sampling=greedy(200))
    tokens: list[TokenEvent] = []
    after_cancel = 0
    finished = None
    for event in host.generate(request, cancel):
        if isinstance(event, Finished):
            finished = event
            break
        if isinstance(event, PromptRendered):
            continue
        tokens.append(event)
        if cancel.cancelled:
            after_cancel += 1
        if len(tokens) == 3:
            cancel.cancel()
    assert finished is not None and finished.reason is FinishReason.CANCELLED
    assert after_cancel <= 1
    assert finished.text == "".join(t.text for t in tokens)
    assert collect(host.generate(CHAT))[1].reason is not FinishReason.CANCELLED


def test_abandoned_generation_keeps_the_host_in_step(host: EngineHost,
                                                     in_process: Engine) -> None:
    events = host.generate(GenerationRequest(Mode.TEXT, text="Count: 1, 2,",
                                             sampling=greedy(200)))
    for _ in range(2):
        next(events)
    events.close()                      # the caller stops reading: the child is stopped
    assert host.tokenize("again") == in_process.tokenize("again")
    assert collect(host.generate(CHAT))[1].text == collect(in_process.generate(CHAT))[1].text


def test_errors_keep_their_class_and_message(host: EngineHost, in_process: Engine) -> None:
    long = GenerationRequest(Mode.TEXT, text="word " * 600, sampling=greedy(8))
    with pytest.raises(PromptTooLongError) as ref:
        in_process.render(long)
    with pytest.raises(PromptTooLongError) as got:
        host.render(long)
    assert str(got.value) == str(ref.value)
    with pytest.raises(PromptTooLongError, match="context holds 512"):
        next(host.generate(long))
    with pytest.raises(ParleyError, match="no job called 'nope'"):
        host.call("nope")
    assert host.tokenize("still here")


def test_jobs_report_progress_and_stop_on_cancel(host: EngineHost) -> None:
    seen: list[int] = []
    assert host.call("_debug_steps", 4, progress=seen.append) == 4
    assert seen == [0, 1, 2, 3]
    cancel = CancelToken()

    def stop_at_two(step: int) -> None:
        if step == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        host.call("_debug_steps", 1000, 0.01, progress=stop_at_two, cancel=cancel)
    assert host.tokenize("still in step")


def test_unexpected_child_error_is_a_plain_parley_error(host: EngineHost,
                                                       module_home: Path) -> None:
    with pytest.raises(ParleyError, match=r"^engine error: \w+Error: ") as err:
        host.tokenize(12345)            # type: ignore[arg-type]
    assert type(err.value) is ParleyError
    assert host.pid is not None
    log = host_files.child_log_path(module_home / "logs", host.pid)
    assert "Traceback (most recent call last)" in log.read_text()     # for us, not the user
    assert host.tokenize("fine")


def test_no_model_loaded_starts_nothing(fresh_host: EngineHost) -> None:
    with pytest.raises(NoModelLoadedError):
        fresh_host.render(CHAT)
    with pytest.raises(NoModelLoadedError):
        next(fresh_host.generate(CHAT))
    fresh_host.unload()
    assert fresh_host.pid is None and fresh_host.loaded is None


# -- load errors and cancel ---------------------------------------------------------------------
def test_broken_gguf_same_error_as_in_process(tmp_path: Path, fresh_host: EngineHost,
                                              starter_model_path: Path) -> None:
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"this is not a model" * 100)
    cut = tmp_path / "cut.gguf"
    with starter_model_path.open("rb") as f:
        cut.write_bytes(f.read(8 << 20))
    files = [garbage, cut, write_broken("unknown_architecture", tmp_path),
             write_broken("truncated_tensor_data", tmp_path)]
    for path in files:
        config = ModelConfig(path, n_ctx=512, n_threads=1)
        with pytest.raises(ParleyError) as ref:
            Engine().load(config)
        with pytest.raises(ParleyError) as got:
            fresh_host.load(config)
        assert type(got.value) is type(ref.value), path.name
        assert str(got.value) == str(ref.value)
        assert EngineHost.crashed_at_load() is None      # an error, not a crash
    assert fresh_host.pid is not None                    # one child saw them all


def test_template_that_trips_the_sandbox_falls_back_through_the_host(
        tmp_path: Path, fresh_host: EngineHost) -> None:
    path = write_broken("jinja_escape_template", tmp_path)
    loaded = fresh_host.load(ModelConfig(path, n_ctx=256, n_threads=1))
    assert loaded.template == "llama2 (llama.cpp built-in)"
    assert [w for w in loaded.warnings
            if w.startswith("Using the built-in llama2 format") and "stopped by the sandbox" in w]
    request = GenerationRequest(Mode.CHAT, (Message("user", "hello"),), sampling=greedy(3))
    assert fresh_host.render(request).text == "[INST] hello [/INST]"
    _, done = collect(fresh_host.generate(request))
    assert done.template == "llama2 (llama.cpp built-in)" and done.stats.output_tokens > 0


def test_cancel_during_load(fresh_host: EngineHost, config: ModelConfig) -> None:
    cancel = CancelToken()
    seen: list[float] = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        cancel.cancel()

    slow = config.with_changes(use_mmap=False)      # reads every byte: a load worth cancelling
    with pytest.raises(Cancelled):
        fresh_host.load(slow, progress=progress, cancel=cancel)
    assert seen and seen[-1] < 1.0
    assert fresh_host.loaded is None and EngineHost.crashed_at_load() is None
    pid = fresh_host.pid
    fresh_host.load(config)
    assert fresh_host.pid == pid                    # the same child carries on
    assert collect(fresh_host.generate(CHAT))[1].text


# -- crashes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGABRT"])
def test_child_killed_mid_stream(sig: str, fresh_host: EngineHost, config: ModelConfig,
                                 in_process: Engine) -> None:
    request = GenerationRequest(Mode.TEXT, text="The history of the city begins",
                                sampling=greedy(64))      # the kill lands long before the end
    reference = collect(in_process.generate(request))[1].text
    fresh_host.load(config)
    first_pid = fresh_host.pid
    assert first_pid is not None
    received: list[str] = []
    with pytest.raises(EngineCrashedError) as err:
        for event in fresh_host.generate(request):
            if isinstance(event, PromptRendered):
                continue
            assert isinstance(event, TokenEvent)
            received.append(event.text)
            if len(received) == 3:
                os.kill(first_pid, signal.Signals[sig])
    crash = err.value
    assert crash.exit_signal == sig
    assert f"signal {sig}" in str(crash) and "while generating" in str(crash)
    assert "Nothing else was affected; load the model again to continue." in str(crash)
    assert crash.log_tail
    if sig == "SIGABRT":                            # faulthandler says where it hit
        assert "Fatal Python error: Aborted" in crash.log_tail
    assert len(received) >= 3 and reference.startswith("".join(received))
    assert fresh_host.pid is None and fresh_host.loaded is None
    assert not psutil.pid_exists(first_pid)
    with pytest.raises(NoModelLoadedError):
        fresh_host.render(CHAT)
    fresh_host.load(config)                         # a fresh child
    assert fresh_host.pid not in (None, first_pid)
    assert collect(fresh_host.generate(CHAT))[1].text == collect(in_process.generate(CHAT))[1].text
    assert f"engine process {first_pid} (signal {sig})" in _main_log()


def test_real_native_abort_is_contained(fresh_host: EngineHost, config: ModelConfig) -> None:
    fresh_host.load(config)
    with pytest.raises(EngineCrashedError) as err:
        fresh_host.call("_debug_crash", "invalid_token")
    assert err.value.exit_signal == "SIGABRT"
    assert any("out_of_range" in line for line in err.value.log_tail)
    fresh_host.load(config)
    assert fresh_host.tokenize("alive")


def test_crash_during_load_is_remembered(fresh_host: EngineHost, config: ModelConfig) -> None:
    def kill_the_engine(_fraction: float) -> None:
        if fresh_host.pid is not None:
            os.kill(fresh_host.pid, signal.SIGKILL)

    slow = config.with_changes(use_mmap=False)
    with pytest.raises(EngineCrashedError, match="while loading") as err:
        fresh_host.load(slow, progress=kill_the_engine)
    assert err.value.exit_signal == "SIGKILL"
    assert EngineHost.crashed_at_load() == config.path       # next start: ask, don't auto-load
    assert EngineHost().crashed_at_load() == config.path
    fresh_host.load(config)                                   # the user loads explicitly
    assert EngineHost.crashed_at_load() is None


def test_close_leaves_no_engine_process(config: ModelConfig) -> None:
    host = EngineHost()
    host.load(config)
    pid = host.pid
    assert pid is not None and psutil.pid_exists(pid)
    host.close()
    host.close()                                              # twice is fine
    assert host.pid is None and not psutil.pid_exists(pid)
    children = [p for p in psutil.Process().children(recursive=True)
                if "resource_tracker" not in " ".join(_cmdline(p))]
    assert all(p.pid != pid for p in children)
    assert not list(parley_paths().logs.glob("engine-*.log"))  # merged into the main log
    assert f"---- end of engine process {pid} ----" in _main_log()


def _main_log() -> str:
    path = parley_paths().log_file
    return path.read_text("utf-8", errors="replace") if path.exists() else ""


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []
