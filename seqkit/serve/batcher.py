"""Request batching: texts from concurrent requests run through the task's predict together, up to a size and
latency bound, on one worker thread (torch's own threads do the parallel work)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

Predict = Callable[[list[str], dict[str, Any]], list[dict[str, Any]]]


@dataclass
class _Pending:
    texts: list[str]
    options: dict[str, Any]
    future: asyncio.Future = field(repr=False)


class Batcher:
    """``await batcher.predict(texts, options)``: the task's results for *texts*, computed in batches of at most
    ``max_batch`` texts, each started at most ``max_wait_s`` after its first request arrived. Requests with
    generation options (``beam_size``...) are batched only with requests asking for the same."""

    def __init__(self, predict: Predict, *, max_batch: int = 32, max_wait_s: float = 0.005) -> None:
        self._predict = predict
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqkit-predict")
        self.requests = 0
        self.batches = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Finish what is queued, then stop (graceful shutdown)."""
        if self._queue is not None and self._worker is not None:
            await self._queue.join()
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._pool.shutdown(wait=True)

    async def predict(self, texts: list[str], options: dict[str, Any]) -> list[dict[str, Any]]:
        assert self._queue is not None, "Batcher.start() first"
        future = asyncio.get_running_loop().create_future()
        self.requests += 1
        await self._queue.put(_Pending(texts, options, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue, loop, held = self._queue, asyncio.get_running_loop(), None
        while True:
            first = held or await queue.get()
            held = None
            batch, size = [first], len(first.texts)
            deadline = loop.time() + self.max_wait_s
            while size < self.max_batch:
                try:
                    nxt = await asyncio.wait_for(queue.get(), max(0.0, deadline - loop.time()))
                except asyncio.TimeoutError:
                    break
                if nxt.options != first.options or size + len(nxt.texts) > self.max_batch:
                    held = nxt  # starts the next batch
                    break
                batch.append(nxt)
                size += len(nxt.texts)
            await self._run_batch(batch, loop)
            for _ in batch:
                queue.task_done()

    async def _run_batch(self, batch: list[_Pending], loop: asyncio.AbstractEventLoop) -> None:
        texts = [t for p in batch for t in p.texts]
        self.batches += 1
        try:
            results = await loop.run_in_executor(self._pool, self._predict, texts, batch[0].options)
        except Exception as error:
            if len(batch) > 1:  # one request's bad input must not fail its neighbours: each alone, once more
                for p in batch:
                    await self._run_batch([p], loop)
            elif not batch[0].future.done():
                batch[0].future.set_exception(error)
            return
        start = 0
        for p in batch:
            if not p.future.done():
                p.future.set_result(results[start : start + len(p.texts)])
            start += len(p.texts)
