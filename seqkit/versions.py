"""Versions of seqkit, its frameworks and the installed plugins, read from package metadata (nothing imported)."""

from __future__ import annotations

from importlib import metadata

import seqkit

FRAMEWORKS = (("torch", "torch"), ("Lightning", "pytorch-lightning"))
ENTRY_POINT_GROUP = "seqkit"


def installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def framework_versions() -> dict[str, str | None]:
    """``{"seqkit": ..., "torch": ..., "Lightning": ...}``."""
    return {"seqkit": seqkit.__version__, **{name: installed(dist) for name, dist in FRAMEWORKS}}


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
