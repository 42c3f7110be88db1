"""Read a seqkit checkpoint and rebuild what ``eval`` and ``predict`` need from it alone."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from seqkit.errors import SeqkitError, one_line
from seqkit.plugins import PluginManager, get_plugin_manager
from seqkit.recipes import Recipe, from_config

log = logging.getLogger(__name__)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, loaded with ``weights_only=True``: a checkpoint cannot run code."""
    path = Path(path)
    if not path.is_file():
        raise SeqkitError(f"checkpoint {path} not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated file, not a checkpoint, unsafe pickle: all one answer
        raise SeqkitError(
            f"{path}: not a readable seqkit checkpoint ({type(error).__name__}: {one_line(error)[:200]})"
        ) from None
    if not isinstance(checkpoint, dict) or "seqkit" not in checkpoint or "state_dict" not in checkpoint:
        raise SeqkitError(f"{path}: not a seqkit checkpoint (no 'seqkit' entry); was it written by `seqkit train`?")
    return checkpoint


def check_plugins(saved: list[dict[str, Any]], manager: PluginManager, path: Path) -> list[str]:
    """Warn where the plugins installed now differ in version from those the checkpoint was trained with;
    returns the trained-with plugins that are missing now, as ``name (distribution version)``."""
    installed = {info.name: info for info in manager.plugins}
    missing = []
    for plugin in saved:
        now = installed.get(plugin["name"])
        if now is None:
            missing.append(f"{plugin['name']} ({plugin.get('distribution')} {plugin.get('version')})")
            log.warning(
                "%s was trained with plugin %s (%s %s), which is not installed",
                path,
                plugin["name"],
                plugin.get("distribution"),
                plugin.get("version"),
            )
        elif plugin.get("version") and now.version and now.version != plugin["version"]:
            log.warning(
                "%s was trained with plugin %s %s; installed: %s", path, plugin["name"], plugin["version"], now.version
            )
    return missing


def recipe_of(checkpoint: dict[str, Any], path: Path, overrides: list[str]) -> Recipe:
    saved = checkpoint["seqkit"]
    return from_config(saved["recipe"], overrides, path=path, name=saved.get("recipe_name", "recipe"))


def load(
    path: str | Path, overrides: list[str] = (), splits: tuple[str, ...] = (), manager: PluginManager | None = None
) -> Any:
    """The :class:`seqkit.build.Parts` of a checkpoint's run with its trained weights, tokenizer and labels."""
    from seqkit.build import build

    path = Path(path)
    manager = manager or get_plugin_manager()
    checkpoint = read_checkpoint(path)
    missing = check_plugins(checkpoint["seqkit"].get("plugins", []), manager, path)
    recipe = recipe_of(checkpoint, path, list(overrides))
    try:
        parts = build(recipe, manager, state=checkpoint["seqkit"], splits=splits)
    except SeqkitError as error:
        if not missing:
            raise
        raise SeqkitError(
            f"{error} — {path} was trained with plugin(s) not installed now: {', '.join(missing)}"
        ) from None
    try:
        missing, unexpected = parts.module.load_state_dict(checkpoint["state_dict"], strict=False)
    except RuntimeError as error:  # shapes differ: an override changed the model's size
        raise SeqkitError(
            f"{path}: the weights do not fit the model the recipe builds; did an override change its size? "
            f"({one_line(error)[:300]})"
        ) from None
    if missing or unexpected:
        raise SeqkitError(
            f"{path}: weights do not fit the model the recipe builds "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return parts
