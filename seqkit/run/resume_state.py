"""What a checkpoint hands Lightning on ``resume=``: each piece checked against what this run writes, the rest dropped.

Lightning restores a resumed run's optimizer, schedulers, loops, callbacks, precision plugin and data module from
the checkpoint, and torch's ``load_state_dict`` methods take most of it on trust (a scheduler's copies every key
into the object). A tampered or damaged piece would fail deep inside training as an internal error, or train on
nonsense. So seqkit checks every piece against a template, the state a freshly built object of this very run holds
(:mod:`seqkit.run.state_shape`), keeps only the top-level entries Lightning needs, and hands that checked copy to
Lightning through the run's checkpoint IO instead of letting Lightning read the file a second time.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.callbacks import ModelCheckpoint, Timer
from pytorch_lightning.utilities.migration import migrate_checkpoint

from seqkit.errors import SeqkitError, one_line
from seqkit.recipe.optim import build_optimizer, build_scheduler, fuses_under
from seqkit.run.checkpoint import check_finite
from seqkit.run.datamodule import STATE_KEYS
from seqkit.run.state_shape import BadState, check, check_number, check_tensor, describe
from seqkit.run.weights import trained_dtype, weights_problem

# Plain entries Lightning or seqkit reads; anything else in a checkpoint (hyper_parameters, legacy keys) is dropped.
PLAIN = ("epoch", "global_step", "state_dict", "seqkit")


def checked_for_lightning(saved: dict[str, Any], path: Path, trainer: Any, parts: Any) -> dict[str, Any]:
    """The part of *saved* (read from *path*) that Lightning may restore, each piece checked; a
    :class:`SeqkitError` naming the checkpoint and the field otherwise."""
    # the weights themselves were checked as loaded, NaN included (check_weights_fit, before this)
    try:
        checked = _checked(saved, trainer, parts)
    except BadState as error:
        raise SeqkitError(
            f"resume: {path} is damaged or was tampered with: {error} (resume from another checkpoint, or train anew)"
        ) from None
    done = checked.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("current", {}).get("completed")
    limit = trainer.max_epochs
    if isinstance(done, int) and limit not in (None, -1) and done > limit:  # Lightning's own refusal is a traceback
        raise SeqkitError(
            f"resume: {path} has trained {done} epochs already, more than trainer.max_epochs={limit}: "
            f"set trainer.max_epochs={done} or more to continue it"
        )
    return checked


def _checked(saved: dict[str, Any], trainer: Any, parts: Any) -> dict[str, Any]:
    version = saved.get("pytorch-lightning_version")
    if not isinstance(version, str):
        raise BadState("pytorch-lightning_version", "a version string", version)
    try:  # migrated here, where a failure can be named, so that Lightning finds nothing left to migrate
        saved, _ = migrate_checkpoint(copy.copy(saved))
    except Exception as error:
        why = f"{type(error).__name__}: {one_line(error)[:80]}"
        text = f"pytorch-lightning_version is {describe(version)}, but the rest is not what that version writes ({why})"
        raise BadState("", "", None, text=text) from None
    out: dict[str, Any] = {key: saved[key] for key in PLAIN if key in saved}
    out["pytorch-lightning_version"] = saved["pytorch-lightning_version"]
    for key in ("epoch", "global_step"):
        if key in out:
            check_number(out[key], key, 0)
    if "loops" in saved:
        loops = {name: getattr(trainer, name).state_dict() for name in ("fit_loop", "validate_loop", "test_loop")}
        loops["predict_loop"] = trainer.predict_loop.state_dict()
        value = saved["loops"]
        if not isinstance(value, dict) or "fit_loop" not in value:
            raise BadState("loops", "a mapping holding fit_loop", value)
        out["loops"] = check(loops, value, "loops")  # each loop's progress as this Lightning keeps it
    out["callbacks"] = _callbacks(saved.get("callbacks", {}), trainer)
    optimizer, schedulers, plateau = _templates(parts, trainer)
    states = saved.get("optimizer_states")
    if not isinstance(states, list) or len(states) != 1:
        raise BadState("optimizer_states", "a list of one optimizer state", states)
    out["optimizer_states"] = [_check_optimizer(optimizer, states[0], "optimizer_states[0]")]
    out["lr_schedulers"] = check([s.state_dict() for s in schedulers], saved.get("lr_schedulers"), "lr_schedulers")
    if plateau is not None and "seqkit_plateau" in saved:
        out["seqkit_plateau"] = check(plateau.state_dict(), saved["seqkit_plateau"], "seqkit_plateau")
    precision = type(trainer.precision_plugin).__qualname__
    if precision in saved:
        out[precision] = check(trainer.precision_plugin.state_dict(), saved[precision], precision)
    data = type(parts.data).__qualname__
    if data in saved:
        state = saved[data]
        if not isinstance(state, dict):
            raise BadState(data, "a mapping", state)
        for key, value in state.items():
            if key not in STATE_KEYS:
                raise BadState("", "", None, text=f"{data} holds an unknown key {describe(key)}")
            check(0, value, f"{data}.{key}")
        out[data] = state
    return out


def _callbacks(saved: Any, trainer: Any) -> dict[str, Any]:
    """The states of this run's callbacks; those Lightning and seqkit wrote are checked against fresh ones.

    ModelCheckpoint's paths are confined by :class:`seqkit.run.checkpoint_io.ConfinedCheckpoint` itself; a plugin's
    callback that reads its state itself receives it as saved (plugins are trusted to check what they read, and
    their errors are named).
    """
    if not isinstance(saved, dict):
        raise BadState("callbacks", "a mapping", saved)
    out = {}
    for callback in trainer.callbacks:
        key = callback.state_key
        if key not in saved:
            continue
        # whose load_state_dict reads it (a plugin's subclass of EarlyStopping reads it as Lightning does)
        reader = next(c for c in type(callback).__mro__ if "load_state_dict" in vars(c))
        ours = reader.__module__.split(".")[0] in ("pytorch_lightning", "lightning", "seqkit")
        if isinstance(callback, ModelCheckpoint):
            if not isinstance(saved[key], dict):
                raise BadState(f"callbacks[{key}]", "a mapping", saved[key])
            out[key] = saved[key]
        elif ours:
            out[key] = check(_template(callback), saved[key], f"callbacks[{key}]")
        else:
            out[key] = saved[key]
    return out


def _template(callback: Any) -> Any:
    """What *callback* would save, as the template of its saved state. A fresh Timer has spent ``0`` seconds (an
    int) in each stage; a saved one spent fractions of them: its template holds floats."""
    fresh = callback.state_dict()
    if isinstance(callback, Timer) and isinstance(fresh.get("time_elapsed"), dict):
        fresh = {**fresh, "time_elapsed": {stage: float(spent) for stage, spent in fresh["time_elapsed"].items()}}
    return fresh


def _templates(parts: Any, trainer: Any) -> tuple[torch.optim.Optimizer, list[Any], Any]:
    """A fresh optimizer and schedulers of the run's recipe (over its parameters, which they never change), made
    as the run makes them (a fused Adam only where the precision is not mixed)."""
    module = parts.module
    fuse = fuses_under(getattr(trainer, "precision", ""))
    optimizer = build_optimizer(module.model.parameters(), module.optim, fuse=fuse)
    # Many steps, so that a warmup given as a ratio of all steps is a warmup here too (and a scheduler exists).
    config = build_scheduler(optimizer, module.optim, 10**9, module.monitor, module.mode)
    scheduler = None if config is None else config["scheduler"]
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return optimizer, [], scheduler  # stepped and saved by seqkit itself ("seqkit_plateau")
    return optimizer, [] if scheduler is None else [scheduler], None


def _check_optimizer(template: torch.optim.Optimizer, saved: Any, where: str) -> dict[str, Any]:
    """*saved*, one optimizer's state, with its groups' keys those of this torch (see :func:`check`)."""
    fresh = template.state_dict()
    if not isinstance(saved, dict) or set(saved) != {"state", "param_groups"}:
        raise BadState(where, "a mapping of state and param_groups", saved)
    groups = check(
        _without_params(fresh["param_groups"]), _without_params(saved["param_groups"]), f"{where}.param_groups"
    )
    shapes = [p.shape for group in template.param_groups for p in group["params"]]
    for i, (want, got, given) in enumerate(zip(fresh["param_groups"], groups, saved["param_groups"])):
        if given["params"] != want["params"]:
            raise BadState(f"{where}.param_groups[{i}].params", f"the indices {want['params']}", given["params"])
        got["params"] = given["params"]
        for key, value in want.items():  # switches (fused, foreach, capturable...) change how torch steps
            if (value is None or isinstance(value, bool)) and got[key] != value:
                raise BadState(f"{where}.param_groups[{i}].{key}", repr(value), got[key])
    entry = _state_entry(template, fresh["param_groups"][0])
    state = saved["state"]
    if not isinstance(state, dict):
        raise BadState(f"{where}.state", "a mapping", state)
    for index, values in state.items():
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(shapes):
            raise BadState(f"{where}.state", f"parameter indices 0 to {len(shapes) - 1}", index)
        if not isinstance(values, dict) or set(values) != set(entry):
            raise BadState(f"{where}.state[{index}]", f"a mapping with keys {sorted(entry)}", values)
        for key, kind in entry.items():
            place = f"{where}.state[{index}].{key}"
            if kind == "param":
                check_tensor(values[key], place, tuple(shapes[index]))
            elif kind == "scalar":
                check_tensor(values[key], place, ())
            else:
                check(None, values[key], place)
    return {"state": state, "param_groups": groups}


def _without_params(groups: Any) -> Any:
    if not isinstance(groups, list) or not all(isinstance(g, dict) and "params" in g for g in groups):
        return groups  # check() names what is wrong with it
    return [{k: v for k, v in g.items() if k != "params"} for g in groups]


def _state_entry(template: torch.optim.Optimizer, group: dict[str, Any]) -> dict[str, str]:
    """What one parameter's state holds once stepped: ``param`` (a tensor of its shape), ``scalar`` or ``other``."""
    probe = torch.zeros(3, requires_grad=True)
    scratch = type(template)([probe])
    scratch.param_groups[0].update({k: v for k, v in group.items() if k not in ("params", "initial_lr")})
    probe.grad = torch.zeros(3)
    scratch.step()
    kinds = {}
    for key, value in scratch.state[probe].items():
        if isinstance(value, torch.Tensor):
            kinds[key] = "param" if tuple(value.shape) == (3,) else "scalar"
        else:
            kinds[key] = "other"
    return kinds


def stopped_epoch(checkpoint: dict[str, Any]) -> int | None:
    """The epoch at which an early-stopping callback ended the checkpoint's run, if one did."""
    states = checkpoint.get("callbacks")
    for key, state in (states if isinstance(states, dict) else {}).items():
        epoch = state.get("stopped_epoch", 0) if isinstance(state, dict) else 0
        if str(key).startswith("EarlyStopping") and isinstance(epoch, int) and epoch > 0:
            return epoch
    return None


def check_weights_fit(module: Any, state_dict: dict[str, Any], path: Path, recipe: Any = None) -> None:
    """*state_dict* (read from *path*, whose recipe is *recipe*) holds exactly *module*'s weights, each of its dtype
    and shape (:mod:`seqkit.run.weights`); it is loaded into *module*."""
    problem = weights_problem(module, state_dict, trained_dtype(recipe))
    if problem:
        raise SeqkitError(f"resume: {path} holds weights that do not fit the recipe's model: {problem}")
    try:
        module.load_state_dict(state_dict)
    except (RuntimeError, TypeError, AttributeError, ValueError) as error:  # what the checks above cannot foresee
        raise SeqkitError(f"resume: {path}: cannot load its weights ({one_line(error)[:300]})") from None
    # NaN weights: an error, not a run that trains on NaN; checked as loaded (a float64 1e300 is inf in float32)
    check_finite(module.state_dict(), path)
