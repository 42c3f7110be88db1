"""The download deadline holds from connect to the last byte: a server trickling its headers cannot outlast it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from seqkit.data import DataError
from seqkit.download import fetch


class Trickle:
    """A raw 127.0.0.1 server: *head* one byte every *pause* seconds, then *tail* at once (8 s at most)."""

    def __init__(self, head: bytes, tail: bytes = b"", pause: float = 0.05) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/trickle.bin"
        self.head, self.tail, self.pause = head, tail, pause
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.listener.settimeout(8)
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(8)
            try:
                conn.recv(4096)
                ends = time.monotonic() + 8
                for byte in self.head:
                    if time.monotonic() > ends:
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(self.pause)
                conn.sendall(self.tail)
                conn.recv(1)  # holds the connection open until the client hangs up (or 8 s pass)
            except OSError:
                return  # the client hung up: what the deadline should do

    def __enter__(self) -> Trickle:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes an accept() nobody answered
        self.listener.close()
        self.thread.join(10)


def test_headers_sent_a_byte_at_a_time_stop_at_the_deadline(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    head = b"HTTP/1.0 200 OK\r\nX-Slow: " + b"a" * 400 + b"\r\n\r\n"  # 20 s at one byte per 50 ms
    started = time.monotonic()
    with Trickle(head) as server, pytest.raises(DataError, match="deadline"):
        fetch(server.url, None, timeout=5.0, deadline=1.0)
    assert time.monotonic() - started < 4.0


def test_a_body_slower_than_the_deadline_stops_at_it_not_a_read_timeout_later(tmp_path, monkeypatch):
    """Each byte comes well within the read timeout; the deadline interrupts the read that is waiting."""
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    head = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n"
    with Trickle(head, b"x", pause=0.0) as server:
        started = time.monotonic()
        with pytest.raises(DataError, match="deadline"):
            fetch(server.url, None, timeout=30.0, deadline=1.0)  # the second byte never comes
    assert time.monotonic() - started < 4.0
    assert not list((tmp_path / "cache").rglob("trickle.bin"))


def test_a_quick_server_is_unaffected_by_the_deadline(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    head = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n"
    with Trickle(head, b"hello", pause=0.0) as server:
        path = fetch(server.url, None, timeout=5.0, deadline=5.0)
    assert path.read_bytes() == b"hello"


def test_a_redirect_to_ftp_is_not_followed(tmp_path, monkeypatch):
    """ftplib's connections are not watched: a banner trickled line by line would outlast any deadline."""
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    with Trickle(b"220-welcome\r\n" * 200, pause=0.0) as ftp:
        ftp.pause = 0.04
        port = ftp.url.split(":")[2].split("/")[0]
        head = f"HTTP/1.0 302 Found\r\nLocation: ftp://127.0.0.1:{port}/x.bin\r\nContent-Length: 0\r\n\r\n"
        with Trickle(head.encode(), pause=0.0) as web:
            started = time.monotonic()
            with pytest.raises(DataError, match="ftp is not followed|deadline"):
                fetch(web.url, None, timeout=5.0, deadline=1.0)
            elapsed = time.monotonic() - started
    assert elapsed < 4.0
