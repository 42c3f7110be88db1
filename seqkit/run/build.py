"""Recipe → parts, top to bottom: seed → data → tokenizer → task → cell factory → model → LightningModule."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
from torch import nn

import seqkit
from seqkit.data import DataError, DataNotFound, as_splits
from seqkit.data.tokenize import Tokenizer
from seqkit.data.trust import contents_withheld
from seqkit.errors import SeqkitError, one_line
from seqkit.plugin.manager import PluginManager
from seqkit.recipe.cell_factory import cell_factory as cell_factory  # where a task's tests and the run find it
from seqkit.recipe.load import Recipe, escaped
from seqkit.recipe.optim import optim_options
from seqkit.recipe.sections import data_options, split_section
from seqkit.recipe.validate import Validated, validate
from seqkit.run.datamodule import SeqkitData
from seqkit.run.module import SeqkitModule
from seqkit.task import CellFactory, Task

DEFAULT_SEED = 1234


@dataclass
class Parts:
    recipe: Recipe
    seed: int
    task: Task
    tokenizer: Tokenizer | None
    module: SeqkitModule
    data: SeqkitData
    monitor: str
    mode: str


def build(
    recipe: Recipe,
    manager: PluginManager,
    *,
    state: dict[str, Any] | None = None,
    splits: tuple[str, ...] = ("train", "valid", "test"),
    validated: Validated | None = None,
    batch_size: int | None = None,
) -> Parts:
    """Every part of a run. ``state`` (a checkpoint's ``"seqkit"`` entry) restores the fitted tokenizer and
    task instead of fitting them on the training split; *splits* limits which splits are encoded;
    *validated* is what :func:`seqkit.recipe.validate.validate` returned for this recipe (validated here when
    None): its task and tokenizer are the run's. *batch_size*: the training batch per device, where a batch
    plan chose it (default ``data.batch_size``)."""
    if validated is None:
        validated = validate(recipe, manager)
    elif validated.recipe is not recipe:
        raise ValueError("build: validated belongs to another recipe")
    r = recipe.data
    seed = r.get("seed", DEFAULT_SEED)
    seed = DEFAULT_SEED if seed is None else seed
    pl.seed_everything(seed, workers=True, verbose=False)

    loading = validated.data
    _, source_args = split_section(r["data"], data_options)
    source = r["data"]["kind"]
    records: dict[str, list] = {}
    if splits:  # predict reads no data: the checkpoint holds the fitted tokenizer and labels
        with contents_withheld(f"data source '{source}'"):
            produced = _call(recipe, "data", manager.datasets.get(source).build, source_args)
            split_seed = seed if loading["split_seed"] is None else loading["split_seed"]
            records = as_splits(produced, loading["split"], split_seed, source)
        if loading["limit"] is not None:
            records = {name: split[: loading["limit"]] for name, split in records.items()}
    if "valid" in splits and not records["valid"]:
        raise SeqkitError(f"data source '{source}' left no validation records; set data.split.valid above 0")

    # a task that reads no text (needs_tokenizer = False) has no tokenizer section
    task, tokenizer = validated.task, validated.tokenizer
    if state is None:
        if tokenizer is not None:
            tokenizer.fit(task.texts(records["train"]))
        task.setup(records["train"], tokenizer)
    else:
        if tokenizer is not None:
            tokenizer.load_state_dict(state["tokenizer"])
        task.load_state_dict(state["task"])
    with contents_withheld(f"task '{r['task']['kind']}'"):  # it quotes the records it rejects
        examples = {
            name: [
                task.encode(rec, tokenizer, source=f"{source}/{name}", index=i) for i, rec in enumerate(records[name])
            ]
            for name in splits
        }

    model_options = {k: v for k, v in r["model"].items() if k != "cell"}
    steps = r["task"].get("tbptt_steps")
    factory = cell_factory(r["model"]["cell"], manager, recipe, tbptt_steps=steps)
    model = build_model(recipe, task, factory, tokenizer, model_options)
    check_tbptt(model, steps, recipe)
    monitor = r.get("monitor") or task.monitor
    mode = task.monitor_mode if monitor == task.monitor else ("min" if monitor.endswith("loss") else "max")
    extra = {
        "recipe": escaped(r),  # resolved: its text must read back as text, never as a ${} to resolve again
        "recipe_name": recipe.name,
        "plugins": [info.as_dict() for info in manager.plugins],
        "seqkit_version": seqkit.__version__,
    }
    optim = optim_options(**(r.get("optim") or {}))
    module = SeqkitModule(
        task,
        model,
        tokenizer,
        optim,
        monitor=monitor,
        mode=mode,
        seed=seed,
        extra=extra,
        on_nonfinite=r.get("on_nonfinite") or "stop",
    )
    data = SeqkitData(
        task,
        examples,
        batch_size=loading["batch_size"] if batch_size is None else batch_size,
        eval_batch_size=loading["eval_batch_size"],
        seed=seed,
        num_workers=loading["num_workers"],
    )
    return Parts(recipe, seed, task, tokenizer, module, data, monitor, mode)


def _call(recipe: Recipe, section: str, build: Any, options: dict[str, Any]) -> Any:
    """*build*(**options); a builder's own rejection of a value becomes an error naming the recipe section."""
    try:
        return build(**options)
    except DataNotFound as error:
        if section != "data" or options.get("download") or "data.download" in str(error):
            raise
        if "download" in inspect.signature(build).parameters:
            raise DataNotFound(f"{error}; or set data.download=true to fetch it") from None
        kind = recipe.data["data"].get("kind")
        raise DataNotFound(f"{error}; data.download=true is not available for data source '{kind}'") from None
    except (SeqkitError, DataError):
        raise
    except (ValueError, TypeError) as error:
        kind = recipe.data[section].get("kind")
        raise SeqkitError(f"{recipe.where(section)}: {section} '{kind}' rejected its options: {error}") from None


def build_model(
    recipe: Recipe, task: Task, factory: CellFactory, tokenizer: Tokenizer | None, options: dict[str, Any]
) -> nn.Module:
    """``task.build_model``; a plain ValueError/TypeError it raises is the task's rejection of the ``model`` keys."""
    try:
        return task.build_model(factory, tokenizer, **options)
    except (SeqkitError, DataError):
        raise
    except (ValueError, TypeError) as error:
        kind = recipe.data["task"].get("kind")
        where = recipe.where("model")
        raise SeqkitError(f"{where}: task '{kind}' could not build its model: {one_line(error)}") from None


def check_tbptt(model: nn.Module, steps: int | None, recipe: Recipe) -> None:
    """Warn where ``task.tbptt_steps`` reaches no layer of *model*: the cell factory built every stack with it,
    but a model may have no ``seqkit.Recurrent``, or layers the task made otherwise (with ``create_rnn``)."""
    if steps is None:
        return
    layers = [m for m in model.modules() if isinstance(m, seqkit.Recurrent)]
    where = recipe.where("task.tbptt_steps")
    # Not an error: the task may run its recurrence another way; but the option then does nothing.
    if not layers:
        warnings.warn(f"{where}: the task's model has no seqkit.Recurrent, so it has no effect", stacklevel=2)
    elif missed := [layer for layer in layers if layer.tbptt_steps is None]:
        warnings.warn(
            f"{where}: {len(missed)} seqkit.Recurrent layers of the task's model were not built by its cell factory "
            "and train with full BPTT (a task passes tbptt_steps on by naming it in its builder)",
            stacklevel=2,
        )


def callbacks(recipe: Recipe, manager: PluginManager, monitor: str, mode: str) -> list[Any]:
    """The recipe's named callbacks; ``monitor``/``mode`` default to the run's monitored metric."""
    built = []
    for name, options in (recipe.data.get("callbacks") or {}).items():
        if options is None or options is False:
            continue
        options = dict(options) if isinstance(options, dict) else {}
        build = manager.callbacks.get(name).build
        accepted = inspect.signature(build).parameters
        if "monitor" in accepted and options.get("monitor") is None:
            options["monitor"] = monitor
        if "mode" in accepted and options.get("mode") is None:
            chosen = options.get("monitor", monitor)
            options["mode"] = mode if chosen == monitor else ("min" if chosen.endswith("loss") else "max")
        try:
            built.append(build(**options))
        except (SeqkitError, DataError):
            raise
        except (ValueError, TypeError) as error:  # the callback's own rejection of a value (ema's decay=2)
            where = recipe.where(f"callbacks.{name}")
            raise SeqkitError(f"{where}: callback '{name}' rejected its options: {error}") from None
    return built
