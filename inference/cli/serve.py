"""`parley serve MODEL`: a local OpenAI-compatible HTTP server (inference/server) for the model."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from typing import Any

from inference.cli.common import (
    add_load_arguments,
    add_model_argument,
    add_speculative_arguments,
    add_template_argument,
    model_config,
    template_source_from_args,
    warn,
    warn_about_threads,
)
from inference.common.errors import ParleyError
from inference.server.config import API_KEY_ENV, QUEUE_TIMEOUT_S, ServerConfig
from inference.server.engine_child import BATCH_ENGINE
from inference.server.request_log import print_requests_to

HELP = "Serve a model over an OpenAI-compatible HTTP API (127.0.0.1 only, unless asked)."
SHUTDOWN_S = 3                     # uvicorn's patience for open connections when stopping


def register(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; any "
                        "other needs --api-key or --no-auth)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks "
                        "a free one, printed at start)")
    parser.add_argument("--parallel", type=int, default=4, metavar="N",
                        help="requests generated at once (slots, default 4)")
    parser.add_argument("--api-key", metavar="KEY", default=os.environ.get(API_KEY_ENV),
                        help=f"require 'Authorization: Bearer KEY' (default: ${API_KEY_ENV}, "
                        "which keeps the key out of the process list)")
    parser.add_argument("--no-auth", action="store_true",
                        help="serve beyond 127.0.0.1 with no key (warned on every start)")
    parser.add_argument("--cors", nargs="+", default=[], metavar="ORIGIN",
                        help="let web pages from these origins call the server (default none)")
    parser.add_argument("--max-queue", type=int, default=64, metavar="N",
                        help="requests that may wait for a slot (more get 503, default 64)")
    parser.add_argument("--queue-timeout", type=float, default=QUEUE_TIMEOUT_S, metavar="S",
                        help=f"seconds a request may wait for a slot before a 503 "
                        f"(default {QUEUE_TIMEOUT_S:g})")
    parser.add_argument("--request-log", action="store_true",
                        help="print one JSON line per answered request on stdout (time, "
                        "endpoint, status, tokens, TTFT, tokens/s, how it ended)")
    add_load_arguments(parser)
    add_speculative_arguments(parser, draft_model=False)
    add_template_argument(parser)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from inference.server.app import ServedModel, build_app
    from inference.server.supervisor import EngineSupervisor

    config = ServerConfig(host=args.host, port=args.port, parallel=args.parallel,
                          api_key=args.api_key, no_auth=args.no_auth, cors=tuple(args.cors),
                          max_queue=args.max_queue, queue_timeout_s=args.queue_timeout)
    model = model_config(args, template=template_source_from_args(args))
    warn_about_threads("serve", model.threads)
    if config.open_to_anyone:
        warn("serve", f"serving on {config.host} with no API key (--no-auth): anyone who can "
             f"reach this machine can use the model")
    sock = _bind(config.host, config.port)        # a busy port fails before the model loads
    _show_server_log()
    if args.request_log:
        print_requests_to(sys.stdout)
    supervisor = EngineSupervisor(model, config.parallel, BATCH_ENGINE)
    try:
        loaded = supervisor.start()
        for warning in loaded.warnings:
            warn("serve", warning)
        served = ServedModel(model.path.stem, model.path.name, int(model.path.stat().st_mtime))
        port = sock.getsockname()[1]
        host = f"[{config.host}]" if ":" in config.host else config.host
        print(f"parley serve: {served.id} on http://{host}:{port}/v1 ({config.parallel} "
              f"slots, context {loaded.n_ctx}, engine process {supervisor.pid})",
              file=sys.stderr, flush=True)
        server = uvicorn.Server(uvicorn.Config(
            build_app(config, supervisor, served), log_config=None, access_log=False,
            lifespan="off", timeout_graceful_shutdown=SHUTDOWN_S, log_level="warning"))
        _serve(server, sock)
    finally:
        supervisor.close()
        sock.close()
    print("parley serve: stopped", file=sys.stderr)
    return 0


class _Stopped(Exception):
    """SIGINT or SIGTERM, raised again by uvicorn once it has closed its connections."""


def _serve(server: Any, sock: socket.socket) -> None:
    """Run uvicorn until Ctrl-C or SIGTERM; then return, so the engine is closed politely."""
    def stop(_signum: int, _frame: object) -> None:
        raise _Stopped()

    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, stop) for sig in wanted}
    try:
        server.run(sockets=[sock])
    except _Stopped:
        pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one clear error (address unknown, port in use)."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ParleyError(f"cannot listen on {host}: {exc.strerror or exc}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ParleyError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _show_server_log() -> None:
    """The server's own log (requests, engine restarts) on stderr, one line each."""
    logger = logging.getLogger("parley.server")
    verbose = any(getattr(h, "parley_stderr", False) for h in logging.getLogger("parley").handlers)
    if not verbose and not any(getattr(h, "parley_serve", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.parley_serve = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                               "%H:%M:%S"))
        logger.addHandler(handler)
