"""Validate a recipe against the registries and the builders' signatures, reporting every problem at once."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from seqkit.errors import printable, suggest
from seqkit.plugin.governance import requirement_problems
from seqkit.plugin.lazy import resolved
from seqkit.plugin.manager import PluginManager
from seqkit.plugin.registry import Registry
from seqkit.recipe.dry_build import dry_build
from seqkit.recipe.load import Recipe, RecipeError
from seqkit.recipe.optim import optim_options
from seqkit.recipe.ranges import range_problems
from seqkit.recipe.sections import cell_options, data_options, split_section, task_builder_options, task_options
from seqkit.recipe.trainer_signature import trainer_parameters
from seqkit.recipe.typecheck import check_arguments, describe, type_problem
from seqkit.rnn.initializers import FORGET_BIAS_CELLS
from seqkit.rnn.kernels import AUTO, candidates

SECTIONS = (
    "seed",
    "data",
    "tokenizer",
    "task",
    "model",
    "optim",
    "trainer",
    "callbacks",
    "run_dir",
    "resume",
    "monitor",
    "requires",
    "checkpoint_every_n_steps",
    "on_nonfinite",
    "overwrite",
    "profile",
)
REQUIRED = ("data", "task", "model")  # tokenizer: required by tasks that set needs_tokenizer
# on_nonfinite: what a training step does with a NaN/inf loss (seqkit.run.resilience carries them out)
NONFINITE_POLICIES = ("stop", "skip_batch")
# Keys of trainer: seqkit sets itself (where the run writes, what it logs and checkpoints).
TRAINER_OWNED = {
    "callbacks": "name callbacks in the recipe's callbacks section",
    "logger": "seqkit writes CSV and TensorBoard logs into run_dir",
    "default_root_dir": "set run_dir instead",
    "enable_checkpointing": "seqkit always writes best.ckpt and last.ckpt",
}

# Top-level keys that are plain values, and their types
TOP_LEVEL: dict[str, Any] = {
    "seed": int | None,
    "run_dir": str | None,
    "resume": str | None,
    "monitor": str | None,
    "overwrite": bool | None,
    "profile": bool | None,
}
# Keys of trainer seqkit reads itself, not Lightning's: torch's thread count for the run (seqkit.threads.apply_recipe)
TRAINER_SEQKIT: dict[str, Any] = {"threads": int | None}


@dataclass(frozen=True)
class Validated:
    """What validating a recipe built, for the run to use instead of building it again.

    ``task`` is the instance the task's builder returned (not yet set up), ``tokenizer`` the one the
    ``tokenizer`` section's builder returned (not yet fitted; None without the section), ``data`` the ``data``
    keys seqkit itself reads, with their defaults (batch sizes, split, limit).
    """

    recipe: Recipe
    task: Any
    tokenizer: Any
    data: dict[str, Any]


def validate(recipe: Recipe, manager: PluginManager) -> Validated:
    """What *recipe* builds, checked; :class:`RecipeError` lists every problem, each with file, line and key path."""
    data = recipe.data
    # Unmet requirements first and alone: the unknown names they would cause are noise.
    unmet = requirement_problems(data.get("requires"))
    if unmet:
        raise RecipeError([f"{recipe.where(path)}: {message}" for path, message in unmet])
    problems: list[tuple[str, str]] = list(recipe.problems)
    for key in data:
        if key not in SECTIONS:
            problems.append(
                (key, f"unknown section{suggest(str(key), SECTIONS) or '.'} Sections: {', '.join(SECTIONS)}")
            )
    for key in REQUIRED:
        if not isinstance(data.get(key), dict):
            problems.append((key, "missing section" if key not in data else f"expected a mapping, got {data[key]!r}"))
    problems += _typed(data, TOP_LEVEL)
    run_dir = data.get("run_dir")
    if isinstance(run_dir, str) and any(ord(c) < 0x20 or ord(c) == 0x7F for c in run_dir):
        # a newline in it would end the comment recipe.yaml starts with: the rest would read as recipe keys
        problems.append(("run_dir", f"expected a path without control characters, got {printable(run_dir)[:200]}"))
    every = data.get("checkpoint_every_n_steps")
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 0):
        expected = "an integer >= 0 (0: only at epoch ends)"
        problems.append(("checkpoint_every_n_steps", f"expected {expected}, got {every!r}"))
    if data.get("profile") is True and isinstance(data.get("trainer"), dict) and "profiler" in data["trainer"]:
        problems.append(("profile", "trainer.profiler is set too: use one of them (profile: true uses Lightning's)"))
    policy = data.get("on_nonfinite")
    if policy is not None and policy not in NONFINITE_POLICIES:
        problems.append(("on_nonfinite", f"expected {' or '.join(NONFINITE_POLICIES)}, got {policy!r}"))
    if isinstance(data.get("data"), dict):
        problems += _entry(data["data"], "data", manager.datasets, "data source", data_options)
    if isinstance(data.get("tokenizer"), dict):
        problems += _entry(data["tokenizer"], "tokenizer", manager.tokenizers, "tokenizer")
    task = None
    if isinstance(data.get("task"), dict):
        task_problems = _entry(data["task"], "task", manager.tasks, "task", task_options)
        problems += task_problems
        if not task_problems:
            task = _try_build(manager.tasks, data["task"], problems)
    if task is not None and getattr(task, "needs_tokenizer", True) and not isinstance(data.get("tokenizer"), dict):
        got = "missing section" if data.get("tokenizer") is None else f"expected a mapping, got {data['tokenizer']!r}"
        problems.append(("tokenizer", f"{got}: task '{data['task'].get('kind')}' reads text and needs a tokenizer"))
    elif task is not None and not getattr(task, "needs_tokenizer", True) and data.get("tokenizer") is not None:
        # a tokenizer would be fitted on the records' text form and saved, though the task never reads it
        kind = data["task"].get("kind")
        problems.append(("tokenizer", f"task '{kind}' reads no text and takes no tokenizer; remove the section"))
    elif data.get("tokenizer") is not None and not isinstance(data.get("tokenizer"), dict):
        problems.append(("tokenizer", f"expected a mapping, got {data['tokenizer']!r}"))
    if isinstance(data.get("model"), dict):
        task_kind = data["task"].get("kind") if isinstance(data.get("task"), dict) else None
        problems += _model(data["model"], manager, task, str(task_kind))
    optim = {} if data.get("optim") is None else data["optim"]
    if not isinstance(optim, dict):
        problems.append(("optim", f"expected a mapping, got {optim!r}"))
    else:
        problems += check_arguments("optim", optim_options, optim, owner="optim")
    problems += _trainer({} if data.get("trainer") is None else data["trainer"])
    problems += _callbacks({} if data.get("callbacks") is None else data["callbacks"], manager)
    problems += range_problems(data)
    if task is not None and isinstance(data.get("monitor"), str) and data["monitor"] != "???":
        known = ["val/loss"] + [f"val/{name}" for name in task.metrics()]
        if data["monitor"] not in known:
            problems.append(
                (
                    "monitor",
                    f"task '{data['task']['kind']}' logs no {data['monitor']!r}"
                    f"{suggest(data['monitor'], known) or '.'} It logs: {', '.join(known)}",
                )
            )
    tokenizer = None
    if not problems:  # the recipe is well-formed: now its builders may still refuse what it combines
        built, tokenizer = dry_build(data, manager, task)
        problems += built
    if problems:
        # One problem per key: a value that failed to resolve is not also "missing".
        first: dict[str, str] = {}
        for path, message in problems:
            first.setdefault(str(path), message)
        raise RecipeError([f"{recipe.where(path)}: {message}" for path, message in first.items()])
    own, _ = split_section(data["data"], data_options)
    return Validated(recipe, task, tokenizer, data_options(**own))


def _entry(
    section: dict, path: str, registry: Registry, what: str, generic: Any = None, skip: int = 0
) -> list[tuple[str, str]]:
    kind = section.get("kind")
    problems: list[tuple[str, str]] = []
    own, rest = split_section(section, generic) if generic else ({}, {k: v for k, v in section.items() if k != "kind"})
    if generic:
        problems += check_arguments(path, generic, own, owner=path)
    if kind is not None and not isinstance(kind, str):
        return [*problems, (f"{path}.kind", f"expected the name of a registered {what}, got {kind!r}")]
    if kind is None or kind == "???":
        return [
            *problems,
            (f"{path}.kind", f"missing: name a registered {what}: {', '.join(registry.names()) or 'none installed'}"),
        ]
    if kind not in registry:
        near = suggest(str(kind), registry.names())
        return [
            *problems,
            (
                f"{path}.kind",
                f"unknown {what} {kind!r}{near or '.'} Registered: {', '.join(registry.names()) or 'none'}",
            ),
        ]
    reserved = set(inspect.signature(generic).parameters) if generic else set()
    return problems + check_arguments(
        path, registry.get(kind).build, rest, skip=skip, owner=f"{what} '{kind}'", reserved=reserved
    )


def _try_build(registry: Registry, section: dict, problems: list[tuple[str, str]]) -> Any:
    try:
        build = registry.get(section["kind"]).build
        return build(**task_builder_options(section, build))
    except Exception as error:  # a builder's own check (a value out of range) is a recipe problem too
        problems.append(("task", f"task '{section['kind']}' rejected its options: {error}"))
        return None


def _model(model: dict, manager: PluginManager, task: Any, task_kind: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    cell = model.get("cell")
    if not isinstance(cell, dict):
        problems.append(
            (
                "model.cell",
                "missing: a mapping with the cell's kind and hidden_size"
                if cell is None
                else f"expected a mapping, got {cell!r}",
            )
        )
    else:
        problems += _entry(cell, "model.cell", manager.cells, "cell", cell_options, skip=2)
        kind, backend = cell.get("kind"), cell.get("backend", AUTO)
        if kind in manager.cells and cell.get("forget_bias") is not None:
            built = resolved(manager.cells.get(kind).build)
            # a builder that is not a Cell class is asked by the dry build, which makes the layer
            if isinstance(built, type) and not getattr(built, "lstm_gates", False):
                problems.append(("model.cell.forget_bias", f"forget_bias applies to {FORGET_BIAS_CELLS}, not {kind!r}"))
        if kind in manager.cells and isinstance(backend, str):
            names = [AUTO, *(k.name for k in candidates(manager.kernels, kind))]
            if backend not in names:
                problems.append(
                    (
                        "model.cell.backend",
                        f"no kernel {backend!r} for cell '{kind}'{suggest(backend, names) or '.'} "
                        f"Available: {', '.join(names)}",
                    )
                )
    if task is not None:
        options = {k: v for k, v in model.items() if k != "cell"}
        problems += check_arguments("model", task.build_model, options, skip=2, owner=f"task '{task_kind}' model")
    return problems


def _typed(section: dict, hints: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Each of *section*'s keys that *hints* names, against its type: left open (``???``) or of another type."""
    problems = []
    for key, hint in hints.items():
        if section.get(key) == "???":
            problems.append((f"{prefix}{key}", f"missing required value ({describe(hint)})"))
        elif key in section and (problem := type_problem(section[key], hint)):
            problems.append((f"{prefix}{key}", problem))
    return problems


def _trainer(trainer: Any) -> list[tuple[str, str]]:
    if not isinstance(trainer, dict):
        return [("trainer", f"expected a mapping of pytorch_lightning.Trainer arguments, got {trainer!r}")]
    problems = [(f"trainer.{k}", f"not settable here: {why}") for k, why in TRAINER_OWNED.items() if k in trainer]
    problems += _typed(trainer, TRAINER_SEQKIT, "trainer.")  # their ranges: seqkit.recipe.ranges
    rest = {k: v for k, v in trainer.items() if k not in TRAINER_OWNED and k not in TRAINER_SEQKIT}
    return problems + check_arguments("trainer", trainer_parameters(), rest, owner="pytorch_lightning.Trainer")


def _callbacks(callbacks: Any, manager: PluginManager) -> list[tuple[str, str]]:
    if not isinstance(callbacks, dict):
        return [("callbacks", f"expected a mapping of callback name to its options, got {callbacks!r}")]
    problems: list[tuple[str, str]] = []
    for name, options in callbacks.items():
        if options is None or options is False:
            continue  # switched off by an override such as callbacks.early_stopping=null
        if name not in manager.callbacks:
            near = suggest(str(name), manager.callbacks.names())
            problems.append(
                (
                    f"callbacks.{name}",
                    f"unknown callback{near or '.'} Registered: {', '.join(manager.callbacks.names()) or 'none'}",
                )
            )
        elif options is not True and not isinstance(options, dict):
            problems.append((f"callbacks.{name}", f"expected a mapping of options (or true), got {options!r}"))
        else:
            opts = options if isinstance(options, dict) else {}
            problems += check_arguments(
                f"callbacks.{name}", manager.callbacks.get(name).build, opts, owner=f"callback '{name}'"
            )
    return problems
