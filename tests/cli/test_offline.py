"""A whole session through EngineHost (load, generate in each mode, perplexity) attempts no
network access, in the app or the engine.

Both processes get an audit hook (`sys.addaudithook`) on socket connects and name lookups; the
engine's is switched on by PARLEY_AUDIT_NETWORK=1. Local (AF_UNIX) sockets are allowed, for
multiprocessing may use them between the two processes.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.engine.config import ModelConfig
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from inference.host.child import AUDIT_ENV, NetworkAudit
from inference.host.host import EngineHost
from tests.support.debug_jobs import DEBUG_JOBS

pytestmark = pytest.mark.model

# enough for two chunks of 64 tokens (chunked perplexity, as llama.cpp's tool computes it)
PPL_TEXT = ("The river runs past the old mill and under the stone bridge. Children play on its "
            "banks in summer, and in winter the water freezes at the edges. ") * 6


@pytest.fixture(scope="session")
def audit_hook() -> NetworkAudit:
    """Audit hooks cannot be removed: install one per session, switched on only in a test."""
    audit = NetworkAudit(block=True)
    audit.enabled = False
    sys.addaudithook(audit)
    return audit


@pytest.fixture()
def no_network(audit_hook: NetworkAudit) -> Iterator[NetworkAudit]:
    audit_hook.attempts.clear()
    audit_hook.enabled = True
    try:
        yield audit_hook
    finally:
        audit_hook.enabled = False


def test_the_guard_sees_a_lookup(no_network: NetworkAudit) -> None:
    with pytest.raises(PermissionError):
        socket.getaddrinfo("example.invalid", 443)
    assert no_network.attempts and no_network.attempts[0].startswith("socket.getaddrinfo")
    left, right = socket.socketpair()        # local sockets stay allowed
    left.close()
    right.close()
    no_network.attempts.clear()


def test_whole_session_offline(no_network: NetworkAudit, monkeypatch: pytest.MonkeyPatch,
                               starter_model_path: Path) -> None:
    monkeypatch.setenv(AUDIT_ENV, "1")
    greedy = SamplingParams(temperature=0, max_tokens=12)
    requests = [
        GenerationRequest(Mode.CHAT, (Message("user", "Hello!"),), system="Be brief.",
                          sampling=greedy),
        GenerationRequest(Mode.TEXT, text="The capital of France is", sampling=greedy),
        GenerationRequest(Mode.INSTRUCT, text="List two fruits.", sampling=greedy),
    ]
    with EngineHost(job_modules=[DEBUG_JOBS]) as host:
        host.load(ModelConfig(starter_model_path, n_ctx=512, n_threads=1))
        for request in requests:
            events = list(host.generate(request))
            assert isinstance(events[-1], Finished) and events[-1].text
        assert host.tokenize("offline")
        assert host.render(requests[0]).prompt_tokens > 0
        scored = host.perplexity(PPL_TEXT, n_ctx=64, n_batch=128)
        assert scored.chunks >= 2 and scored.ppl > 1
        host.unload()
        engine_attempts = host.call("_network_attempts")
    assert engine_attempts == []             # installed in the engine (else None) and unused
    assert no_network.attempts == []
