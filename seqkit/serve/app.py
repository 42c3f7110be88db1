"""The HTTP JSON service (FastAPI): ``POST /predict`` (``{"texts": [...]}``), ``GET /health``; errors as JSON."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from seqkit.errors import SeqkitError, one_line, printable
from seqkit.predict_options import PredictOption
from seqkit.serve.batcher import Batcher


@dataclass(frozen=True)
class Limits:
    """What one request may send: its body's bytes, its number of texts, each text's characters."""

    max_body_bytes: int = 1 << 20
    max_texts: int = 256
    max_text_chars: int = 10_000


class RequestError(SeqkitError):
    """A request the service refuses; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_request(
    body: bytes, limits: Limits, accepted: Mapping[str, PredictOption]
) -> tuple[list[str], dict[str, Any]]:
    """The texts and generation options of a ``/predict`` body, or a :class:`RequestError` saying what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: arrays nested 10⁵ deep
        raise RequestError(f"the body is not JSON ({one_line(error)[:200]})") from None
    if not isinstance(data, dict):
        raise RequestError('expected a JSON object such as {"texts": ["..."]}')
    unknown = sorted(set(data) - {"texts", "text", *accepted})
    if unknown:
        options = ", ".join(["texts", *sorted(accepted)])
        raise RequestError(f"unknown field {printable(unknown[0])!r}; this task's fields: {options}")
    texts = data.get("texts", [data["text"]] if "text" in data else None)
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise RequestError('"texts" must be a list of strings (or "text" one string)')
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise RequestError('nothing to predict: give texts in "texts"')
    if len(texts) > limits.max_texts:
        raise RequestError(f"too many texts: {len(texts)} (at most {limits.max_texts} a request)", 413)
    longest = max(len(t) for t in texts)
    if longest > limits.max_text_chars:
        raise RequestError(f"a text of {longest} characters (at most {limits.max_text_chars})", 413)
    options = {k: data[k] for k in accepted if k in data}
    for key, value in options.items():  # checked as the task declared it, as seqkit predict checks its flags
        try:
            accepted[key].check(value)
        except ValueError as error:
            raise RequestError(f"{key}: {error}") from None
    return texts, options


def build_app(batcher: Batcher, limits: Limits, info: dict[str, Any], accepted: Mapping[str, PredictOption]) -> Any:
    """The FastAPI application; *info* is what ``/health`` reports besides the request and batch counts."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.stop()  # SIGTERM: uvicorn stops accepting, finishes open requests, then this drains the queue

    app = FastAPI(title="seqkit serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": printable(message)}, status_code=status)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", **info, "requests": batcher.requests, "batches": batcher.batches}

    @app.post("/predict")
    async def predict(request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            return error(f"the body is {declared} bytes (at most {limits.max_body_bytes})", 413)
        body = bytearray()
        async for chunk in request.stream():  # a body without a length is counted as it arrives
            body += chunk
            if len(body) > limits.max_body_bytes:
                return error(f"the body is over {limits.max_body_bytes} bytes", 413)
        try:
            texts, options = parse_request(bytes(body), limits, accepted)
            results = await batcher.predict(texts, options)
            # written here, not by FastAPI after this block: a text holding a lone surrogate ("\ud800" in the
            # request's JSON) is echoed back escaped, where FastAPI's UTF-8 encoding failed with a traceback
            return Response(json.dumps({"results": results}, ensure_ascii=True), media_type="application/json")
        except RequestError as refused:
            return error(str(refused), refused.status)
        except SeqkitError as failed:  # the task's own refusal, as the CLI words it
            return error(str(failed), 400)
        except Exception as bug:
            return error(f"internal error: {type(bug).__name__}: {one_line(bug)[:300]}", 500)

    return app
