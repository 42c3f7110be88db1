"""Shared fixtures: a fresh plugin manager per test, clean plugin environment, GPU tests skipped without CUDA,
tests of the shared corpora skipped (or, with SEQKIT_REQUIRE_DATA=1, failed) where the corpora are absent, named
pipes that cannot hang a test, and hypothesis's seeded profile for every property-based test."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

# OpenMP threads that busy-wait between parallel regions fight every other process for the cores: on a shared
# 2-core machine the conformance check of one cell took 16.5 s with torch's default policy and 2.6 s with passive
# waiting. Set before torch (and its OpenMP runtime) loads; subprocesses inherit it; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The generic kernel compiles a cell's step graphs once a shape has run COMPILE_AFTER times (seconds each, and a C++
# compiler): the suite keeps to the eager graphs, and tests/rnn/test_generic_compiled.py asks for compiling itself.
os.environ.setdefault("SEQKIT_GENERIC_LOOP", "node")

import pytest
import torch
from hypothesis import settings

import seqkit
from tests.helpers import FIFO_RESCUE_S, ROOT, data_absent

os.environ.setdefault("SEQKIT_DATA", str(ROOT.parent / "shared" / "data"))

# Property-based tests draw the same examples on every run (seeded by each test's name), however they are selected,
# so CI never fails on a new draw; HYPOTHESIS_PROFILE=explore searches afresh.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def shared_data():
    """``shared_data("sentence_polarity")``: the corpus's path under $SEQKIT_DATA, or the test is skipped."""

    def corpus(name: str) -> Path:
        root = Path(os.environ["SEQKIT_DATA"])
        if not (root / name).exists():
            data_absent(f"the shared corpus {name!r} is not under $SEQKIT_DATA ({root}); set SEQKIT_DATA")
        return root / name

    return corpus


@pytest.fixture
def fifo() -> Iterator[Callable[[Path], Path]]:
    """``fifo(path)`` makes a named pipe at *path*. One not yet opened by a writer after FIFO_RESCUE_S is opened
    (read and write: at once) and closed, which lets code blocked opening it for reading go on and read nothing:
    a test of code that must never open it then fails instead of hanging."""
    made: list[Path] = []
    done = threading.Event()

    def rescue() -> None:
        if done.wait(FIFO_RESCUE_S):
            return
        for path in made:
            with contextlib.suppress(OSError):
                os.close(os.open(path, os.O_RDWR | os.O_NONBLOCK))

    threading.Thread(target=rescue, daemon=True).start()

    def make(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        made.append(path)
        return path

    yield make
    done.set()


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    """Every test starts from the installed plugins alone, loaded afresh."""
    monkeypatch.delenv("SEQKIT_PLUGINS", raising=False)
    monkeypatch.delenv("SEQKIT_DISABLE_PLUGINS", raising=False)
    seqkit.set_plugin_manager(None)
    yield
    seqkit.set_plugin_manager(None)


@pytest.fixture
def without_onednn(monkeypatch):
    """Leave out the optional ``onednn`` kernel (the extra), which outranks ``native`` for GRU on CPU where installed:
    for tests of auto's choice among the kernels every installation has."""
    monkeypatch.setenv("SEQKIT_DISABLE_PLUGINS", "onednn")
    seqkit.set_plugin_manager(None)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
