"""What a run needs installed: a recipe's ``requires`` and the plugins a checkpoint was trained with."""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from seqkit.errors import SeqkitError, printable
from seqkit.plugin.manager import PluginManager

log = logging.getLogger("seqkit.governance")  # its name before the move into seqkit.plugin


def requirement_problems(requires: Any) -> list[tuple[str, str]]:
    """``(key path, problem)`` for each entry of a recipe's ``requires`` list that the installation does not meet.

    Each entry is a pip requirement (``"seqkit-jordan>=0.1"``); a missing or mismatched distribution
    is reported with the ``pip install`` command that fixes it.
    """
    if requires is None:
        return []
    if not isinstance(requires, list):
        return [("requires", f'expected a list of requirements such as ["seqkit-jordan>=0.1"], got {requires!r}')]
    problems = []
    for i, text in enumerate(requires):
        key = f"requires.{i}"
        try:
            requirement = Requirement(str(text)) if isinstance(text, str) else None
        except InvalidRequirement as error:
            requirement, why = None, str(error)
        else:
            why = f"expected a requirement string, got {text!r}"
        if requirement is None:
            problems.append((key, f"not a valid requirement {text!r}: {why}"))
            continue
        fix = f"pip install {_quoted(str(requirement))}"
        if requirement.url:  # a recipe from elsewhere may name any URL: no ready-made command fetches it
            fix = f"pip install {shlex.quote(requirement.name)} from a source you trust"
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            problems.append((key, f"the recipe requires {requirement}, which is not installed; install it with: {fix}"))
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            problems.append(
                (
                    key,
                    f"the recipe requires {requirement}, but {requirement.name} {installed} is installed; "
                    f"install a matching version with: {fix}",
                )
            )
    return problems


def needed_names(recipe: Mapping[str, Any]) -> dict[str, set[str]]:
    """Registry kind -> the names a recipe uses (its data source, tokenizer, task, cell, callbacks)."""

    def kind_of(*path: str) -> set[str]:
        value: Any = recipe
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        return {value} if isinstance(value, str) else set()

    callbacks = recipe.get("callbacks") if isinstance(recipe.get("callbacks"), Mapping) else {}
    return {
        "datasets": kind_of("data", "kind"),
        "tokenizers": kind_of("tokenizer", "kind"),
        "tasks": kind_of("task", "kind"),
        "cells": kind_of("model", "cell", "kind"),
        "kernels": set(),
        "callbacks": {str(k) for k, v in (callbacks or {}).items() if v not in (None, False)},
    }


def _check_saved_plugins(saved: Any, path: Any) -> None:
    """The checkpoint's plugin list is what seqkit writes: a list of {name, distribution, version, registers}
    with strings, and registers a mapping of kinds to lists of names. Anything else is damage, said in one line."""

    def damaged(what: str) -> SeqkitError:
        return SeqkitError(f"{path}: a damaged seqkit checkpoint: {what}")

    if not isinstance(saved, list):
        raise damaged(f"its plugin list is a {type(saved).__name__}, not a list")
    for i, plugin in enumerate(saved):
        if not isinstance(plugin, dict):
            raise damaged(f"plugins[{i}] is a {type(plugin).__name__}, not a mapping")
        for key in ("name", "distribution", "version"):
            if plugin.get(key) is not None and not isinstance(plugin[key], str):
                raise damaged(f"plugins[{i}].{key} is a {type(plugin[key]).__name__}, not a string")
        registers = plugin.get("registers") or {}
        if not isinstance(registers, dict) or not all(
            isinstance(kind, str) and isinstance(names, list) and all(isinstance(n, str) for n in names)
            for kind, names in registers.items()
        ):
            raise damaged(f"plugins[{i}].registers is not a mapping of kinds to lists of names")


def check_checkpoint_plugins(
    saved: list[dict[str, Any]], recipe: Mapping[str, Any], manager: PluginManager, path: Any
) -> None:
    """Compare the plugins a checkpoint was trained with to those installed now.

    A plugin that registered something the recipe uses and is not installed now is an error naming its
    distribution and the ``pip install`` command; another version installed, or a missing plugin the
    recipe does not use, is a warning.
    """
    saved = [] if saved is None else saved
    _check_saved_plugins(saved, path)
    installed = {info.name: info for info in manager.plugins}
    entry_points = {point.name for point in metadata.entry_points(group="seqkit")}  # installed, loaded or not
    needed = needed_names(recipe)
    missing = []
    for plugin in saved:
        name, dist, version = plugin.get("name"), plugin.get("distribution"), plugin.get("version")
        now = installed.get(name)
        if now is None:
            uses = sorted(
                f"{kind[:-1]} '{entry}'"
                for kind, names in (plugin.get("registers") or {}).items()
                for entry in names
                if entry in needed.get(kind, set())
            )
            if uses:
                missing.append(
                    f"plugin {printable(repr(name))} (distribution {printable(dist)} {printable(version)}), which "
                    f"provides its {printable(', '.join(uses))}; "
                    + (
                        "it is installed but not loaded: SEQKIT_DISABLE_PLUGINS or SEQKIT_PLUGINS leaves it out"
                        if name in entry_points
                        else _install_hint(dist, version, name)
                    )
                )
            else:
                log.warning(
                    "%s was trained with plugin %s (%s %s), which is not installed",
                    *map(printable, (path, name, dist, version)),
                )
        elif version and now.version and now.version != version:
            log.warning(
                "%s was trained with plugin %s from %s %s; installed now: %s %s; results may differ",
                *map(printable, (path, name, dist, version, now.distribution, now.version)),
            )
    if missing:
        raise SeqkitError(f"{path} needs " + "; and ".join(missing))


# What a distribution name and a version may look like (PEP 508, PEP 440): anything else is not offered as a command.
NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
VERSION = re.compile(r"^[A-Za-z0-9.+!_-]{1,64}$")


def _install_hint(dist: Any, version: Any, name: Any) -> str:
    """``install it with: pip install 'x==1'`` when the checkpoint's names are plain names; a checkpoint is data
    from anywhere, so other text is never presented as a command."""
    package = dist if isinstance(dist, str) and NAME.match(dist) else None
    if package is None:
        return "its distribution name is not a valid package name: find where the plugin comes from"
    pin = f"{package}=={version}" if isinstance(version, str) and VERSION.match(version) else package
    return f"install it with: pip install {_quoted(pin)}"


def _quoted(text: str) -> str:
    """*text* as one shell word, in single quotes as people write requirements."""
    return f"'{text}'" if "'" not in text else shlex.quote(text)
