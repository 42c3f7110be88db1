"""Versions of seqkit, its frameworks and the installed plugins, read from package metadata (nothing imported)."""

from __future__ import annotations

import ast
import importlib.util
from importlib import metadata
from pathlib import Path

import seqkit

FRAMEWORKS = (("torch", "torch"), ("Lightning", "pytorch-lightning"))
ENTRY_POINT_GROUP = "seqkit"


def installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def torch_build() -> str | None:
    """torch's own ``__version__`` (``2.15.0+cu132``, ``2.13.0+cpu``): its build, which the package metadata of a
    CUDA wheel leaves out. Read from ``torch/version.py`` as text, so that asking does not import torch."""
    try:
        spec = importlib.util.find_spec("torch")
        if spec is None or not spec.submodule_search_locations:
            return None
        source = (Path(next(iter(spec.submodule_search_locations))) / "version.py").read_text()
        for node in ast.parse(source).body:
            targets = [getattr(t, "id", None) for t in getattr(node, "targets", [])]
            if "__version__" in targets and isinstance(node.value, ast.Constant):
                return str(node.value.value)
    except (OSError, SyntaxError, ValueError, StopIteration):
        pass
    return None


def framework_versions() -> dict[str, str | None]:
    """``{"seqkit": ..., "torch": ..., "Lightning": ...}``; torch's with its build (``+cpu``, ``+cu132``)."""
    versions = {"seqkit": seqkit.__version__, **{name: installed(dist) for name, dist in FRAMEWORKS}}
    versions["torch"] = torch_build() or versions["torch"]
    return versions


def plugin_versions() -> list[tuple[str, str, str]]:
    """``(plugin, distribution, version)`` of every entry point in the ``seqkit`` group, without loading it."""
    rows = []
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = point.dist
        rows.append((point.name, dist.name if dist else "?", dist.version if dist else "?"))
    return sorted(set(rows))


def version_lines() -> list[str]:
    """What ``seqkit --version`` prints: one framework a line, then one plugin a line."""
    lines = [f"{name} {version or '(not installed)'}" for name, version in framework_versions().items()]
    plugins = plugin_versions()
    width = max((len(name) for name, _, _ in plugins), default=0)
    lines += [f"plugin {name.ljust(width)}  {dist} {version}" for name, dist, version in plugins]
    return lines
