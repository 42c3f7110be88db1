"""Data sources' shared plumbing: data paths, one-line data errors, reading text files, seeded splits."""

from __future__ import annotations

import codecs
import errno
import gzip
import os
import random
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from seqkit.data.trust import confine
from seqkit.errors import SeqkitError
from seqkit.filekind import kind_of

Record = dict[str, Any]


class Located(dict):
    """A record that remembers the file and line it came from, for error messages; equal to the plain dict."""

    __slots__ = ("where",)

    def __init__(self, where: str, **fields: Any) -> None:
        super().__init__(**fields)
        self.where = where


def where_of(record: Record, fallback: str) -> str:
    """``file:line`` of a record read from a file, else *fallback*."""
    return getattr(record, "where", None) or fallback


SPLITS = ("train", "valid", "test")
# One example a line: a longer line is a broken file (a missing newline, a binary blob), not an example.
MAX_LINE_BYTES = 1 << 20


class DataError(SeqkitError):
    """Bad data: the message names the file (and line) at fault and what was expected."""


def data_error(path: str | os.PathLike, message: str, line: int | None = None) -> DataError:
    where = f"{path}:{line}" if line is not None else str(path)
    return DataError(f"{where}: {message}")


class PathError(DataError):
    """A data path (or ``$SEQKIT_DATA``) that names no file to read: missing, a folder, a named pipe, a device."""

    names_only = True  # its message is the path and what is there, never what a file holds (see contents_withheld)


ROOT_VAR = "SEQKIT_DATA"
_EXPECTED_ROOT = "expected a directory (the folder that holds the corpora)"


def _root_setting() -> Path | None:
    root = os.environ.get(ROOT_VAR)
    return Path(root).expanduser() if root else None


def data_root() -> Path | None:
    """``$SEQKIT_DATA``, the folder relative data paths are resolved against, when set; an error when it names
    something other than a folder (a file): every corpus would otherwise look missing, each named in its own error
    rather than the one setting at fault. A folder not there (yet) is no error here: downloads fill it."""
    root = _root_setting()
    if root is not None:
        try:
            mode = root.stat().st_mode
        except OSError:  # absent (or unreadable): what is looked for under it is not found, and says where
            return root
        if not stat.S_ISDIR(mode):
            raise PathError(f"${ROOT_VAR}={root}: {_EXPECTED_ROOT}, found {kind_of(mode)}")
    return root


def existing_data_root(name: str | None = None) -> Path | None:
    """:func:`data_root`, which must also exist: for reading the corpora under it (``seqkit data verify``);
    *name* is the corpus meant, for the hint."""
    root = data_root()
    if root is not None and not root.is_dir():
        raise PathError(
            f"${ROOT_VAR}={root}: {_EXPECTED_ROOT}, but there is none; "
            f"`seqkit data fetch {name or 'NAME'}` creates it and downloads a corpus into it"
        )
    return root


def resolve_path(path: str | os.PathLike) -> Path:
    """*path* itself when absolute; else under ``$SEQKIT_DATA`` when that is set; else from the working directory.

    A path from a checkpoint's recipe must be relative, without ``..`` (see :mod:`seqkit.data.trust`)."""
    confine(path)
    path = Path(path).expanduser()
    if path.is_absolute():  # $SEQKIT_DATA is not read, so a bad setting of it is no concern here
        return path
    root = data_root()
    return path if root is None else root / path


class DataNotFound(DataError):
    """A data file is not where the recipe says; the build step adds how this source could fetch it."""

    names_only = True  # its message is the path alone: shown even for a checkpoint's recipe (contents_withheld)


def not_found(path: str | os.PathLike, what: str = "data file") -> DataNotFound:
    """The one not-found error of every data source: names the file and where relative paths are read from."""
    path = Path(path)
    root = _root_setting()  # as it is: this error is about the file, and one about the setting came first if due
    if root is None:
        where = "relative data paths are read under $SEQKIT_DATA, which is unset"
    elif path.is_absolute() and not path.is_relative_to(root):
        where = f"an absolute path, not read under $SEQKIT_DATA={root}"
    else:
        where = f"looked under $SEQKIT_DATA={root}{'' if root.is_dir() else ', which does not exist'}"
    return DataNotFound(f"{path}: {what} not found ({where}; `seqkit data ls` lists the known corpora)")


def require_file(path: Path, what: str = "data file") -> Path:
    """*path*, once it is known to name a regular file (links followed); else a :class:`DataError` naming it: not
    found, a directory, or no file at all. Checked before anything opens it: opening a named pipe for reading waits
    for a writer forever, and a device (``/dev/zero``) may never end."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):  # as Path.exists: a missing or looping path
            raise not_found(path, what) from None
        raise PathError(f"{path}: cannot read: {error.strerror}") from None
    if not stat.S_ISREG(mode):
        raise PathError(f"{path}: expected a {what}, found {kind_of(mode)}")
    return path


def open_data(path: Path, what: str = "data file") -> BinaryIO:
    """*path* opened for reading bytes, decompressed when it ends in ``.gz``: every data source's way to open a file,
    refused as :func:`require_file` refuses it."""
    stream = open_regular(path, what)
    return _Gunzipped(stream, path) if path.suffix == ".gz" else stream


def open_regular(path: Path, what: str = "data file") -> BinaryIO:
    """*path*'s bytes as they are, once :func:`require_file` passed it; checked again once open, so that a path
    swapped for a named pipe in between is opened without waiting (``O_NONBLOCK``) and refused, never read."""
    require_file(path, what)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise PathError(f"{path}: cannot read: {error.strerror}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise PathError(f"{path}: expected a {what}, found {kind_of(mode)}")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


class _Gunzipped(gzip.GzipFile):
    """A gzip stream over a file opened here, closing that file with itself (a GzipFile given a file object leaves
    it open)."""

    def __init__(self, raw: BinaryIO, path: Path) -> None:
        super().__init__(filename=str(path), fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def read_lines(path: Path, *, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """``(line number, line)`` pairs of a text file, plain or ``.gz``, without line endings.

    Undecodable bytes, an empty file, empty lines and lines over ``MAX_LINE_BYTES`` (1 MiB) are errors
    naming the file and line. Lines are read one at a time: memory stays flat however long the file.
    """
    count = 0
    stream = open_data(path)
    try:
        with stream:
            for count, line in decoded_lines(stream, path, encoding):
                if not line.strip():
                    raise data_error(path, "empty line (every line must hold one example)", count)
                yield count, line
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise data_error(path, f"cannot read: {error}") from None
    if count == 0:
        raise data_error(path, "empty file")


def decoded_lines(stream: Any, path: str | os.PathLike, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a binary *stream*, decoded, without line endings, one line in memory at a time;
    an undecodable byte or a line over ``MAX_LINE_BYTES`` is an error naming *path* and the line."""
    _check_encoding(encoding, path)
    count = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        count += 1
        if count == 1 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise data_error(path, "looks like UTF-16 (it starts with a byte-order mark): save it as UTF-8", count)
        if len(raw) > MAX_LINE_BYTES:
            raise data_error(path, f"line longer than {MAX_LINE_BYTES:,} bytes (one example a line)", count)
        if count == 1 and raw.startswith(b"\xef\xbb\xbf") and encoding.replace("-", "").lower() == "utf8":
            raw = raw[3:]  # a byte-order mark, as spreadsheet programs write
        try:
            line = raw.decode(encoding).rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise data_error(path, f"cannot decode byte {raw[error.start]:#04x} as {encoding}", count) from None
        if "\r" in line:
            raise data_error(
                path, "a carriage return inside a line (old Mac line endings?): use \\n line endings", count
            )
        yield count, line


def _check_encoding(encoding: str, path: str | os.PathLike) -> None:
    """Refuse what is not a text encoding read a line at a time (rot13, base64, zlib; UTF-16 and UTF-32)."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise data_error(path, f"unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)") from None
    try:
        newline = "\n".encode(info.name)
    except (TypeError, ValueError, LookupError):
        newline = None
    if not getattr(info, "_is_text_encoding", True) or newline != b"\n":
        raise data_error(path, f"encoding {encoding!r} cannot be read a line at a time: convert the file to UTF-8")


def split_records(records: list[Record], fractions: Mapping[str, float], seed: int) -> dict[str, list[Record]]:
    """A deterministic seeded train/valid/test split: shuffle with *seed*, cut by *fractions* of the whole."""
    for name, value in fractions.items():
        if name not in ("valid", "test"):
            raise SeqkitError(f"data.split: unknown split {name!r}; expected valid and/or test")
        if not 0 <= value < 1:
            raise SeqkitError(f"data.split.{name}: expected a fraction in [0, 1), got {value}")
    if sum(fractions.values()) >= 1:
        raise SeqkitError(f"data.split: valid + test must leave some training data, got {dict(fractions)}")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    n_valid = round(len(records) * fractions.get("valid", 0.0))
    n_test = round(len(records) * fractions.get("test", 0.0))
    pick = [records[i] for i in order]
    return {"valid": pick[:n_valid], "test": pick[n_valid : n_valid + n_test], "train": pick[n_valid + n_test :]}


def as_splits(
    produced: Mapping[str, Iterable[Record]] | Iterable[Record], fractions: Mapping[str, float], seed: int, source: str
) -> dict[str, list[Record]]:
    """Normalize what a data source returned: its own splits, or one collection to split with *fractions*."""
    if isinstance(produced, Mapping):
        unknown = set(produced) - set(SPLITS)
        if unknown:
            raise SeqkitError(
                f"data source '{source}' returned unknown splits {sorted(unknown)}; expected {list(SPLITS)}"
            )
        splits = {name: list(records) for name, records in produced.items()}
        if "train" not in splits:
            raise SeqkitError(f"data source '{source}' returned no 'train' split")
        missing = [name for name in ("valid", "test") if name not in splits]
        if missing:
            # Carve the missing evaluation splits out of train, deterministically.
            carved = split_records(splits["train"], {name: fractions.get(name, 0.1) for name in missing}, seed)
            splits.update(carved)
    else:
        splits = split_records(list(produced), fractions, seed)
    if not splits["train"]:
        raise SeqkitError(f"data source '{source}' produced no training records")
    return splits
