"""Find oneDNN and a compiler, then build (once, cached) and load the C++ extension; or say why it cannot."""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import shutil
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

SOURCE = Path(__file__).resolve().parent / "csrc" / "gru.cpp"
# Where the oneDNN wheels install (and what an override must hold): <prefix>/include and <prefix>/lib.
DISTRIBUTIONS = {"headers": "onednn-devel-cpu-gomp", "library": "onednn-cpu-gomp"}
INSTALL_HINT = "install the extra: pip install 'seqkit[onednn]'"


class Unavailable(Exception):
    """Why the extension cannot be had here; the message is what ``supports()`` reports."""


@dataclass(frozen=True)
class OneDNN:
    include: Path  # holds oneapi/dnnl/dnnl.hpp
    lib: Path  # holds libdnnl.so.3


def _prefixes() -> list[Path]:
    """Where to look: $SEQKIT_ONEDNN_ROOT alone when set, else the wheels' own file lists, then this prefix."""
    root = os.environ.get("SEQKIT_ONEDNN_ROOT")
    if root:
        return [Path(root)]
    found = []
    for dist in DISTRIBUTIONS.values():
        try:
            files = importlib.metadata.distribution(dist).files or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for f in files:  # the wheels put files under <prefix>/include and <prefix>/lib, outside site-packages
            if f.name in ("dnnl.hpp", "libdnnl.so.3") and f.parent.name in ("dnnl", "lib"):
                path = Path(f.locate()).resolve()
                found.append(path.parents[3] if f.name == "dnnl.hpp" else path.parents[1])
    found.append(Path(sysconfig.get_paths()["data"]))  # the venv's (or interpreter's) prefix
    return list(dict.fromkeys(found))


def locate() -> OneDNN:
    """The oneDNN headers and shared library, or :class:`Unavailable` naming what is missing and where."""
    prefixes = _prefixes()
    include = next((p / "include" for p in prefixes if (p / "include/oneapi/dnnl/dnnl.hpp").is_file()), None)
    lib = next((p / "lib" for p in prefixes if (p / "lib/libdnnl.so.3").is_file()), None)
    where = ", ".join(str(p) for p in prefixes)
    if include is None:
        raise Unavailable(f"oneDNN headers (oneapi/dnnl/dnnl.hpp) not found under {where}; {INSTALL_HINT}")
    if lib is None:
        raise Unavailable(f"oneDNN library (libdnnl.so.3) not found under {where}; {INSTALL_HINT}")
    return OneDNN(include, lib)


def compiler() -> str:
    """The C++ compiler torch will use ($CXX or c++), or :class:`Unavailable`."""
    name = os.environ.get("CXX", "c++")
    path = shutil.which(name)
    if path is None:
        raise Unavailable(f"no C++ compiler: {name!r} is not on PATH (set CXX, or install g++)")
    return path


def _ensure_ninja() -> None:
    """torch builds extensions with ninja; the pip package's binary may be off PATH when the venv is not active."""
    if shutil.which("ninja"):
        return
    candidates = [Path(sys.executable).parent]
    try:
        import ninja  # the PyPI package, installed by the extra

        candidates.insert(0, Path(ninja.BIN_DIR))
    except ImportError:
        pass
    for folder in candidates:
        if (folder / "ninja").is_file():
            os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
            return
    raise Unavailable(f"ninja (which torch builds extensions with) is not installed; {INSTALL_HINT}")


def cache_dir() -> Path:
    """$SEQKIT_CACHE or ~/.cache/seqkit, per torch and Python version (an extension fits only those)."""
    import torch

    base = os.environ.get("SEQKIT_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seqkit"
    tag = f"torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}".replace("+", "_")
    return Path(base) / "onednn" / tag


_loaded: ModuleType | None = None
_failure: str | None = None


def extension() -> ModuleType:
    """The compiled extension, built on first use (cached on disk after); a failure is remembered and re-raised."""
    global _loaded, _failure
    if _loaded is not None:
        return _loaded
    if _failure is not None:
        raise Unavailable(_failure)
    try:
        _loaded = _build()
    except Unavailable as why:
        _failure = str(why)
        raise
    except Exception as error:  # a compiler or loader error: report it, never take the plugin manager down
        _failure = f"building the oneDNN extension failed: {type(error).__name__}: {str(error).strip()[-600:]}"
        raise Unavailable(_failure) from error
    return _loaded


def _build() -> ModuleType:
    found = locate()
    compiler()
    _ensure_ninja()
    from torch.utils import cpp_extension

    # one folder per oneDNN installation, so environments with different ones do not rebuild over each other
    digest = hashlib.sha256(f"{found.include}|{found.lib}".encode()).hexdigest()[:10]
    folder = cache_dir() / digest
    folder.mkdir(parents=True, exist_ok=True)
    log.info("loading the oneDNN GRU extension from %s (the first time, it is built: about half a minute)", folder)
    start = time.perf_counter()
    module = cpp_extension.load(
        name="seqkit_onednn_gru",
        sources=[str(SOURCE)],
        extra_include_paths=[str(found.include)],
        extra_cflags=["-O2"],
        # rpath: the extension finds libdnnl.so.3 where the wheel put it, without LD_LIBRARY_PATH. libgomp is
        # the OpenMP runtime torch's CPU build ships too: the loader reuses the one already loaded (one thread pool).
        extra_ldflags=[f"-L{found.lib}", "-l:libdnnl.so.3", f"-Wl,-rpath,{found.lib}", "-lgomp"],
        build_directory=str(folder),
        verbose=False,
    )
    log.info("oneDNN GRU extension ready in %.1f s (%s)", time.perf_counter() - start, folder)
    return module


if __name__ == "__main__":  # python -m seqkit_onednn.build: build now (CI, images) and say where and how long
    begin = time.perf_counter()
    try:
        built = extension()
    except Unavailable as reason:
        sys.exit(f"onednn unavailable: {reason}")
    print(f"oneDNN {built.version()} GRU extension ready in {time.perf_counter() - begin:.1f} s: {built.__file__}")
