"""Data paths a checkpoint's recipe names: kept inside the data folder, and what is read from them never quoted.

``seqkit eval`` reads the data its checkpoint's recipe names, and a checkpoint may come from anyone. Within
:func:`untrusted_paths`, :func:`seqkit.resolve_path` (through which data sources find their files) accepts a path
from the checkpoint only when it is relative, without ``..`` or ``~``: it then names something under
``$SEQKIT_DATA`` (the working directory when unset), never ``/home/you/.ssh/id_rsa``. A path typed on the
command line (``data.path=...``) is the user's own choice and is taken as it is. And an error met while reading
files the checkpoint chose is reported without its text (data sources quote the lines they reject), so a
checkpoint cannot make seqkit print a file's contents.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from seqkit.errors import SeqkitError, printable
from seqkit.recipe_guard import yaml_shape_problem


@dataclass
class Scope:
    """The checkpoint being read, the paths its user typed, and the checkpoint's own paths resolved so far."""

    origin: Path
    typed: set[str]
    chosen: list[str] = field(default_factory=list)


_scope: Scope | None = None


class UntrustedPath(SeqkitError):
    """A checkpoint's recipe names a data path outside the data folder."""

    # made of the path or URL alone, never of what a file holds: contents_withheld lets it through
    names_only = True


def typed_values(overrides: Iterable[str]) -> set[str]:
    """Every text value in ``key=value`` *overrides*, in lists and mappings too (``data.path={train: a.tsv}``)."""
    found: set[str] = set()
    for item in overrides:
        _, sign, text = str(item).partition("=")
        if not sign:
            continue
        found.add(text.strip())
        try:
            parsed = None if yaml_shape_problem(text) else yaml.safe_load(text)  # an alias bomb stays text
        except (yaml.YAMLError, RecursionError):
            continue
        stack = [parsed]
        while stack:
            value = stack.pop()
            if isinstance(value, str):
                found.add(value)
            elif isinstance(value, dict):
                stack += list(value.values())
            elif isinstance(value, list):
                stack += value
    return found


@contextlib.contextmanager
def untrusted_paths(origin: str | Path, overrides: Iterable[str] = ()) -> Iterator[Scope]:
    """Within this block, data paths other than those typed in *overrides* come from the checkpoint *origin*."""
    global _scope
    previous, _scope = _scope, Scope(Path(origin), typed_values(overrides))
    try:
        yield _scope
    finally:
        _scope = previous


def confine(path: str | Path) -> None:
    """Refuse *path* if a checkpoint chose it and it could lead outside the data folder (see the module)."""
    scope = _scope
    text = str(path)
    if scope is None or text in scope.typed:
        return
    parts = Path(text).parts
    if "\0" in text or text.startswith("~") or Path(text).is_absolute() or ".." in parts:
        raise UntrustedPath(
            f"{scope.origin}: its recipe names the data path {printable(repr(text))}; a checkpoint's recipe may name "
            "only relative paths without '..' (read under $SEQKIT_DATA, else the working directory): to read that "
            "file, give its path on the command line (e.g. data.path=PATH)"
        )
    scope.chosen.append(text)


def confine_url(url: str) -> None:
    """Refuse a URL a checkpoint chose unless it is http(s): ``file:///dev/zero`` would fill the cache, and
    ``file:///home/...`` copy a local file; what is downloaded from it counts as read from a chosen path."""
    scope = _scope
    if scope is None or url in scope.typed:
        return
    if url.partition("://")[0].lower() not in ("http", "https"):
        raise UntrustedPath(
            f"{scope.origin}: its recipe names the URL {printable(repr(url[:200]))}; a checkpoint's recipe may name "
            "only http:// and https:// URLs: to fetch that one, give it on the command line"
        )
    scope.chosen.append(url)


@contextlib.contextmanager
def contents_withheld(what: str) -> Iterator[None]:
    """Errors met while *what* reads files a checkpoint chose are reported without their text."""
    scope = _scope
    try:
        yield
    except Exception as error:
        if getattr(error, "names_only", False):
            raise  # made of the path or URL alone, never of what a file holds (not found, download refused)
        if scope is None or not scope.chosen:
            raise
        paths = ", ".join(sorted({printable(p) for p in scope.chosen}))
        raise SeqkitError(
            f"{scope.origin}: {what} failed reading {paths}, named by the checkpoint's recipe ({type(error).__name__}; "
            "the message is withheld, as it may quote the file): give the path on the command line "
            "(e.g. data.path=PATH) to see it"
        ) from None
