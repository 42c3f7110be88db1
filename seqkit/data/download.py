"""Fetch a data source's canonical archive once: cached, SHA-256 verified, resumable, atomic and bounded.

A server is not trusted: a download is capped in size (the source's known size, else
``$SEQKIT_DOWNLOAD_MAX_BYTES``, default 4 GiB) and in time (``$SEQKIT_DOWNLOAD_TIMEOUT`` seconds without a byte,
default 60; ``$SEQKIT_DOWNLOAD_DEADLINE`` seconds in all from connect to the last byte, headers included, default
3600). An archive is extracted by member name only, regular files only, in one streaming pass whose bytes and
members are counted as it goes (``$SEQKIT_DOWNLOAD_MAX_BYTES``, ``$SEQKIT_EXTRACT_MAX_MEMBERS``; :func:`extracted`).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

from seqkit.data import DataError, open_regular
from seqkit.data.archive import DAMAGED, Budget, members
from seqkit.data.download_watch import DeadlinePassed, open_until
from seqkit.data.trust import confine_url
from seqkit.errors import one_line

CHUNK = 1 << 16
DEFAULT_MAX_BYTES = 4 << 30
DEFAULT_TIMEOUT = 60.0
DEFAULT_DEADLINE = 3600.0
MARKER = ".sha256"  # in an extracted folder: the SHA-256 of the archive it came from
# tarfile holds each member it walked past (about half a kilobyte each): a million is a large data set's worth
DEFAULT_MAX_MEMBERS = 1_000_000

_refusal: str | None = None


class OverCap(DataError):
    """A server sent (or announced) more bytes than the download's cap."""


class DownloadRefused(DataError):
    """Downloading is not allowed here (:func:`downloads_forbidden`); the message says how to allow it."""

    names_only = True  # its message is the URL and the reason alone (contents_withheld shows it)


@contextlib.contextmanager
def downloads_forbidden(reason: str) -> Iterator[None]:
    """Within this block :func:`fetch` downloads nothing and raises a :class:`DataError` ending with *reason*
    (``seqkit eval``/``predict`` of a checkpoint from elsewhere, unless ``--allow-download``)."""
    global _refusal
    previous, _refusal = _refusal, reason
    try:
        yield
    finally:
        _refusal = previous


def cache_dir() -> Path:
    """``$SEQKIT_CACHE``, else ``$XDG_CACHE_HOME/seqkit``, else ``~/.cache/seqkit``."""
    if os.environ.get("SEQKIT_CACHE"):
        return Path(os.environ["SEQKIT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "seqkit"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path, "file to checksum") as stream:  # a named pipe would be waited on forever
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _setting(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"${name}: expected a number, got {text!r}") from None
    if not value > 0:
        raise DataError(f"${name}: expected a number above 0, got {text!r}")
    return value


def fetch(
    url: str,
    sha256: str | None,
    filename: str | None = None,
    *,
    timeout: float | None = None,
    size: int | None = None,
    deadline: float | None = None,
) -> Path:
    """The cached file for *url*, downloading it first if absent (or if the cached one has another SHA-256).

    ``sha256=None`` (for sources whose canonical file changes over time) accepts whatever was downloaded,
    unverified, and reuses the cached file as it is. *size* (the source's known size in bytes) caps the
    download; without it ``$SEQKIT_DOWNLOAD_MAX_BYTES`` does. *timeout* (seconds without data) and *deadline*
    (seconds in all) default to ``$SEQKIT_DOWNLOAD_TIMEOUT`` and ``$SEQKIT_DOWNLOAD_DEADLINE``.

    A download goes to ``<name>.part``; an interrupted one resumes from where it stopped when the
    server honours HTTP ranges and the file has a checksum (without one, it starts over). Only a file
    whose SHA-256 matches becomes ``<name>`` (an atomic rename), so the cache never holds a partial or
    corrupted archive under its final name.
    """
    confine_url(url)  # from a checkpoint's recipe: http(s) only
    target = cache_dir() / _cache_name(filename or url.rstrip("/").rpartition("/")[2].partition("?")[0], url)
    if sha256 is None:
        # An unverified file is reused as it is, so it is cached under its own URL: a file fetched from one place
        # must never stand in for the same name from another (a poisoned cache).
        target = target.parent / f"url-{hashlib.sha256(url.encode()).hexdigest()[:16]}" / target.name
    if target.is_file() and (sha256 is None or sha256_of(target) == sha256):
        return target
    if _refusal is not None:
        raise DownloadRefused(f"{url}: not downloaded: {_refusal}")
    timeout = timeout if timeout is not None else _setting("SEQKIT_DOWNLOAD_TIMEOUT", DEFAULT_TIMEOUT)
    limit = size if size is not None else int(_setting("SEQKIT_DOWNLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))
    ends = time.monotonic() + (
        deadline if deadline is not None else _setting("SEQKIT_DOWNLOAD_DEADLINE", DEFAULT_DEADLINE)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    if partial.is_symlink():
        partial.unlink()  # never written through
    # Without a checksum nothing could tell a stale partial file (an older upstream version) from this one's
    # beginning, so such downloads always start over.
    offset = partial.stat().st_size if partial.is_file() and sha256 is not None else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    kept = f"the partial file {partial} is kept to resume"
    late = f"{url}: still downloading at the deadline; {kept} ($SEQKIT_DOWNLOAD_DEADLINE)"
    try:
        with open_until(request, timeout, ends) as (response, watchdog):
            resumed = offset > 0 and getattr(response, "status", None) == 206
            written = offset if resumed else 0
            announced = response.headers.get("Content-Length") if response.headers else None
            if announced and announced.isdigit() and written + int(announced) > limit:
                raise OverCap(f"{url}: the server announces {int(announced):,} bytes, over the {limit:,}-byte cap")
            read = getattr(response, "read1", response.read)
            flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | (os.O_APPEND if resumed else os.O_TRUNC)
            with os.fdopen(os.open(partial, flags, 0o644), "wb") as out:
                while block := read(CHUNK):
                    written += len(block)
                    if written > limit:
                        raise OverCap(f"{url}: more than {limit:,} bytes (the cap); {_cap_hint(size)}")
                    if time.monotonic() > ends:
                        raise DataError(late)
                    out.write(block)
            if watchdog.fired:  # the end of the body was the watchdog's doing, not the server's
                raise DataError(late)
    except OverCap:
        partial.unlink(missing_ok=True)  # not the file asked for: nothing worth resuming
        raise
    except DeadlinePassed:
        raise DataError(late) from None
    except urllib.error.HTTPError as error:
        if error.code != 416:  # 416: nothing left to send, the partial file is already whole
            raise DataError(f"{url}: download failed ({error}); {kept}") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise DataError(f"{url}: download failed ({error}); {kept}") from None
    actual = sha256_of(partial)
    if sha256 is not None and actual != sha256:
        partial.unlink()
        raise DataError(
            f"{url}: downloaded file is corrupted (SHA-256 {actual}, expected {sha256}); removed, try again"
        )
    os.replace(partial, target)
    return target


def _cache_name(name: str, url: str) -> str:
    """*name*, checked to stay inside the cache: relative, no ``..``, no NUL."""
    parts = Path(name).parts
    if not name or "\0" in name or Path(name).is_absolute() or any(part in ("", ".", "..") for part in parts):
        raise DataError(f"{url}: cannot cache it as {name!r}: expected a plain file name")
    return name


def _cap_hint(size: int | None) -> str:
    if size is not None:
        return "larger than the source's known size: the server sent something else; removed"
    return "removed; raise $SEQKIT_DOWNLOAD_MAX_BYTES if the file really is that large"


def extracted(archive: Path, target: Path, names: Iterable[str]) -> Path:
    """*target*, a folder holding the archive's (tar or zip) regular files of these base *names*.

    Members are looked up by name and written by name: no path in the archive chooses where a file goes, and
    links are refused. The folder records the archive's SHA-256, so a new archive replaces what an older one
    left (never a stale extraction reused); it is filled in a temporary folder, then renamed into place.

    An archive is data from a server: a tar is read in one streaming pass, and what it unpacks to (the members
    walked past, their headers and the files extracted alike) counts against ``$SEQKIT_DOWNLOAD_MAX_BYTES``, and
    its members against ``$SEQKIT_EXTRACT_MAX_MEMBERS`` (default 1,000,000), each checked as it goes: a gzip bomb
    or a tar of millions of members is refused once it passes a budget, not after it was read whole.
    """
    names = list(names)
    digest = sha256_of(archive)
    marker = target / MARKER
    if marker.is_file() and marker.read_text().strip() == digest and all((target / n).is_file() for n in names):
        return target
    budget = Budget(
        archive,
        int(_setting("SEQKIT_DOWNLOAD_MAX_BYTES", DEFAULT_MAX_BYTES)),
        int(_setting("SEQKIT_EXTRACT_MAX_MEMBERS", DEFAULT_MAX_MEMBERS)),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        for name, stream in members(archive, names, budget):
            with stream, (staging / name).open("wb") as out:  # streamed: a bomb never sits in memory
                while block := stream.read(CHUNK):
                    budget.written(len(block))
                    out.write(block)
        (staging / MARKER).write_text(digest + "\n")
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():  # an older or incomplete extraction
            shutil.rmtree(target)
        os.replace(staging, target)
    except DAMAGED as error:
        raise DataError(f"{archive}: cannot extract: {type(error).__name__}: {one_line(error)[:300]}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
