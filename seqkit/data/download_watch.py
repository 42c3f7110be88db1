"""A URL opener whose connections are shut down at a deadline: from connect to the last byte, headers included.

urllib's own timeout bounds each socket read, not the whole exchange: a server that sends one header byte per
read timeout keeps ``urlopen`` inside http.client's header parser for as long as it likes, where no caller's
check can run. A watchdog thread shuts every socket the opener made down at the deadline, which wakes a read that
is blocked in the kernel (it returns end-of-file or an error), and :func:`open_until` reports the deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqkit.data import require_file


class DeadlinePassed(TimeoutError):
    """The deadline came before the exchange ended (whatever error the interrupted read raised)."""


class Watchdog:
    """Shuts down, at monotonic time *ends*, every socket registered with it; ``fired`` says that it did."""

    def __init__(self, ends: float) -> None:
        self.ends = ends
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, ends - time.monotonic()), self._fire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        # A duplicate of the descriptor keeps the connection itself (not a number the OS may reuse) in reach even
        # after ssl wraps and detaches *sock*; shutting the duplicate down ends the connection for every holder.
        copy = socket.socket(fileno=os.dup(sock.fileno()))
        with self._lock:
            self._sockets.append(copy)
            late = self.fired
        if late:
            _shut(copy)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by its owner: nothing left to interrupt
        sock.shutdown(socket.SHUT_RDWR)


def _watched(cls: type[http.client.HTTPConnection], dog: Watchdog) -> Any:
    """A factory for *cls* connections that register their socket with *dog* and never wait past its deadline."""

    def connect(address: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        left = dog.remaining()
        if left <= 0:
            raise DeadlinePassed("the deadline passed before connecting")
        # Connecting is the one wait the watchdog cannot reach (no socket yet): bound it by what is left.
        per_read = timeout if isinstance(timeout, (int, float)) else None
        sock = socket.create_connection(address, left if per_read is None else min(per_read, left), source_address)
        sock.settimeout(per_read)
        dog.watch(sock)
        return sock

    def build(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
        connection = cls(*args, **kwargs)
        connection._create_connection = connect  # type: ignore[attr-defined]  # http.client's documented hook
        return connection

    return build


class _Http(urllib.request.HTTPHandler):
    def __init__(self, dog: Watchdog) -> None:
        super().__init__()
        self.dog = dog

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_watched(http.client.HTTPConnection, self.dog), req)


class _Https(urllib.request.HTTPSHandler):
    def __init__(self, dog: Watchdog) -> None:
        super().__init__()
        self.dog = dog

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_watched(http.client.HTTPSConnection, self.dog), req, context=self._context)


class _NoFtp(urllib.request.FTPHandler):
    """FTP is not watched (its connections are ftplib's): a server redirecting there must not escape the deadline."""

    def ftp_open(self, req: urllib.request.Request) -> Any:
        raise urllib.error.URLError(f"{req.full_url}: ftp is not followed; downloads use http or https")


class _LocalFile(urllib.request.FileHandler):
    """``file://`` URLs (a user's own recipe may name one), refused as a data path is when they name no regular file:
    opening a named pipe waits for a writer in ``open()``, where no deadline reaches."""

    def open_local_file(self, req: urllib.request.Request) -> Any:
        path = Path(urllib.request.url2pathname(req.selector))
        if os.path.lexists(path):  # a missing one: urllib's own error
            require_file(path, "file to download")
        return super().open_local_file(req)


@contextlib.contextmanager
def open_until(request: urllib.request.Request, timeout: float, ends: float) -> Iterator[tuple[Any, Watchdog]]:
    """``urlopen(request, timeout)`` whose every connection (redirects too) is shut down at monotonic time *ends*.

    Yields the response and the watchdog. A read cut short by the deadline returns end-of-file or raises; the
    error is raised as :class:`DeadlinePassed`, and a caller that sees end-of-file checks ``watchdog.fired`` so
    that a body cut short is never taken for a whole one.
    """
    with Watchdog(ends) as dog:
        opener = urllib.request.build_opener(_Http(dog), _Https(dog), _NoFtp(), _LocalFile())
        try:
            with opener.open(request, timeout=timeout) as response:
                yield response, dog
        except (OSError, http.client.HTTPException, ValueError) as error:
            if dog.fired and not isinstance(error, DeadlinePassed):
                raise DeadlinePassed(f"interrupted at the deadline ({error})") from None
            raise
