"""Fetch a data source's canonical archive once: cached, SHA-256 verified, resumable and atomic."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from seqkit.data import DataError

CHUNK = 1 << 16


def cache_dir() -> Path:
    """``$SEQKIT_CACHE``, else ``$XDG_CACHE_HOME/seqkit``, else ``~/.cache/seqkit``."""
    if os.environ.get("SEQKIT_CACHE"):
        return Path(os.environ["SEQKIT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "seqkit"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, sha256: str | None, filename: str | None = None, *, timeout: float = 60.0) -> Path:
    """The cached file for *url*, downloading it first if absent.

    ``sha256=None`` (for sources whose canonical file changes over time) accepts whatever was downloaded,
    unverified, and reuses the cached file as it is.

    A download goes to ``<name>.part``; an interrupted one resumes from where it stopped when the
    server honours HTTP ranges and the file has a checksum (without one, it starts over). Only a file
    whose SHA-256 matches becomes ``<name>`` (an atomic rename), so the cache never holds a partial or
    corrupted archive under its final name.
    """
    target = cache_dir() / (filename or url.rstrip("/").rpartition("/")[2])
    if target.exists() and (sha256 is None or sha256_of(target) == sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    # Without a checksum nothing could tell a stale partial file (an older upstream version) from this one's
    # beginning, so such downloads always start over.
    offset = partial.stat().st_size if partial.exists() and sha256 is not None else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = offset > 0 and getattr(response, "status", None) == 206
            with open(partial, "ab" if resumed else "wb") as out:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
    except urllib.error.HTTPError as error:
        if error.code != 416:  # 416: nothing left to send, the partial file is already whole
            raise DataError(f"{url}: download failed ({error}); the partial file {partial} is kept to resume") from None
    except (OSError, http.client.HTTPException) as error:
        raise DataError(f"{url}: download failed ({error}); the partial file {partial} is kept to resume") from None
    actual = sha256_of(partial)
    if sha256 is not None and actual != sha256:
        partial.unlink()
        raise DataError(
            f"{url}: downloaded file is corrupted (SHA-256 {actual}, expected {sha256}); removed, try again"
        )
    os.replace(partial, target)
    return target
