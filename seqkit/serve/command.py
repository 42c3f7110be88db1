"""The ``seqkit serve CKPT [--host] [--port]`` command: load as ``predict`` does, then serve until SIGTERM."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from typing import Any

from seqkit.cli.checkpoint_args import CHECKPOINT_HELP, positive
from seqkit.errors import SeqkitError


def add_serve_command(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve a checkpoint's predict as an HTTP JSON API")
    serve.add_argument("checkpoint", help=CHECKPOINT_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--max-batch", type=positive, default=32, metavar="N", help="texts predicted at once (32)")
    serve.add_argument("--max-wait-ms", type=float, default=5.0, metavar="MS", help="how long a batch waits to fill")
    serve.add_argument("--max-body-bytes", type=positive, default=1 << 20, metavar="B", help="request size limit")
    serve.add_argument("--max-texts", type=positive, default=256, metavar="N", help="texts per request limit")
    serve.add_argument("--max-text-chars", type=positive, default=10_000, metavar="N", help="characters per text")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise SeqkitError("seqkit serve needs FastAPI and uvicorn: pip install 'seqkit[serve]'") from None
    from seqkit.data.download import downloads_forbidden
    from seqkit.predict_options import declared
    from seqkit.run.checkpoint import load
    from seqkit.run.runs import find_checkpoint
    from seqkit.serve.app import Limits, build_app
    from seqkit.serve.batcher import Batcher

    if args.max_wait_ms < 0:
        raise SeqkitError(f"--max-wait-ms must not be negative, got {args.max_wait_ms}")
    checkpoint = find_checkpoint(args.checkpoint)
    with downloads_forbidden("seqkit serve reads no data; the checkpoint's recipe asked for a download"):
        parts = load(checkpoint)
    parts.module.model.eval()
    kind = parts.recipe.data["task"]["kind"]
    # the task's own predict options that a request may set (never one that writes files)
    accepted = {option.name: option for option in declared(type(parts.task)) if option.per_request}

    def predict(texts: list[str], options: dict[str, Any]) -> list[dict[str, Any]]:
        return parts.task.predict(parts.module.model, texts, parts.tokenizer, **options)

    limits = Limits(args.max_body_bytes, args.max_texts, args.max_text_chars)
    batcher = Batcher(predict, max_batch=args.max_batch, max_wait_s=args.max_wait_ms / 1000)
    app = build_app(batcher, limits, {"task": kind, "checkpoint": str(checkpoint)}, accepted)
    listener = _listen(args.host, args.port)
    host, port = listener.getsockname()[:2]
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=30)
    server = _server_class(uvicorn)(config)
    print(f"seqkit serve: {kind} model from {checkpoint} on http://{host}:{port} (POST /predict, GET /health)")
    sys.stdout.flush()
    server.run(sockets=[listener])  # SIGTERM and SIGINT: stop accepting, finish open requests, drain the batches
    name = signal.Signals(server.stop_signal).name if server.stop_signal else "shutdown"
    print(f"seqkit serve: stopped ({name}) after {batcher.requests} requests in {batcher.batches} batches")
    return 0


def _server_class(uvicorn: Any) -> Any:
    class Server(uvicorn.Server):
        """uvicorn's server, except that a stop signal ends a graceful shutdown with status 0 (uvicorn raises the
        signal again once shut down, which would report a finished shutdown as a killed process)."""

        stop_signal: int | None = None

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True  # a second Ctrl-C: stop waiting for open requests
            self.stop_signal = sig
            self.should_exit = True

    return Server


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound now so that port 0's choice can be printed and a busy port is one clear line."""
    if not 0 <= port < 65536:
        raise SeqkitError(f"--port must be in 0..65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise SeqkitError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    listener.listen(128)
    return listener
