"""``seqkit train --profile``: where a training run's time goes, from data loading to Lightning's own loop.

Lightning's ``SimpleProfiler`` times each hook and loop action; forward hooks on every recurrent layer time the
layers themselves. At the end of ``fit`` the actions are sorted into categories of a training step (data,
forward with the recurrent layers apart, backward, optimizer, per-step hooks), what no action accounts for is
Lightning's loop and logging, and the rest of the run (validation; start, epoch ends and checkpoints) is
reported beside the steps. Written into the run directory: ``profile.json`` (the figures), ``profile.txt``
(the tree printed at the end) and ``profile.folded`` (collapsed stacks in microseconds, the input of
flame-graph tools such as ``flamegraph.pl`` or speedscope); Lightning's own table goes to
``fit-lightning-profile.txt``.
"""

from __future__ import annotations

import fnmatch
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.profilers import SimpleProfiler

from seqkit.recipe.load import Recipe
from seqkit.rnn.recurrent import Recurrent

# Lightning's action names (2.x) for the parts of a training step; a pattern matches the whole action name.
DATA = ("[_TrainingEpochLoop].train_dataloader_next", "*.batch_to_device", "*.transfer_batch_to_device")
DATA_HOOKS = ("*.on_before_batch_transfer", "*.on_after_batch_transfer")
FORWARD = ("[Strategy]*.training_step",)
BACKWARD = ("[Strategy]*.backward",)
# optimizer_step runs the closure: forward, backward, zero_grad, clipping and the hooks around backward
OPTIMIZER_STEP = ("[LightningModule]*.optimizer_step",)
CLOSURE_HOOKS = ("*.on_before_backward", "*.on_after_backward", "*.on_before_optimizer_step", "*.on_before_zero_grad")
SCHEDULER = ("*.lr_scheduler_step",)
BATCH_HOOKS = ("*.on_train_batch_start", "*.on_train_batch_end", *CLOSURE_HOOKS)
ORDER = ("data", "forward", "backward", "optimizer", "hooks", "Lightning loop and logging")


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    """Shell-style ``*`` patterns, where ``[`` is literal (Lightning's names start with ``[Strategy]``...)."""
    return any(fnmatch.fnmatchcase(name, p.replace("[", "[[]")) for p in patterns)


def _total(durations: dict[str, list[float]], patterns: tuple[str, ...]) -> float:
    return sum(sum(d) for name, d in durations.items() if _matches(name, patterns))


class RunProfile(pl.Callback):
    """Collects the figures during ``fit`` and writes and prints the breakdown at its end (rank zero)."""

    def __init__(self, profiler: SimpleProfiler, run_dir: Path) -> None:
        self.profiler = profiler
        self.run_dir = run_dir
        self.recurrent = 0.0
        self.validation = 0.0
        self.training = 0.0
        self.steps = 0
        self.result: dict[str, Any] | None = None
        self._handles: list[Any] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_start = time.perf_counter()
        sync = pl_module.device.type == "cuda"  # without it a GPU layer's time would land in whatever waits next
        for module in pl_module.modules():
            if isinstance(module, Recurrent):
                self._handles.append(module.register_forward_pre_hook(self._started(sync)))
                self._handles.append(module.register_forward_hook(self._finished(sync)))

    def _started(self, sync: bool) -> Any:
        def hook(module: torch.nn.Module, args: Any) -> None:
            if module.training:
                if sync:
                    torch.cuda.synchronize()
                module._seqkit_profile_start = time.perf_counter()  # type: ignore[assignment]

        return hook

    def _finished(self, sync: bool) -> Any:
        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            began = module.__dict__.pop("_seqkit_profile_start", None)
            if began is not None:
                if sync:
                    torch.cuda.synchronize()
                self.recurrent += time.perf_counter() - began

        return hook

    # A step's wall time runs from the end of whatever came before it (the previous step, the epoch's start,
    # a validation) to its own on_train_batch_end: data loading and Lightning's loop between steps included.
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._since = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        now = time.perf_counter()
        self.training += now - self._since
        self._since = now
        self.steps += 1

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validation_start = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._since = time.perf_counter()
        self.validation += self._since - self._validation_start

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for handle in self._handles:
            handle.remove()
        self.result = breakdown(
            self.profiler.recorded_durations,
            whole=time.perf_counter() - self._fit_start,
            training=self.training,
            validation=self.validation,
            recurrent=self.recurrent,
            steps=self.steps,
        )
        if trainer.is_global_zero:
            text = render(self.result)
            (self.run_dir / "profile.json").write_text(json.dumps(self.result, indent=2) + "\n", encoding="utf-8")
            (self.run_dir / "profile.txt").write_text(text + "\n", encoding="utf-8")
            (self.run_dir / "profile.folded").write_text(folded(self.result), encoding="utf-8")
            print(text, file=sys.stderr)


def breakdown(
    durations: dict[str, list[float]], *, whole: float, training: float, validation: float, recurrent: float, steps: int
) -> dict[str, Any]:
    """Seconds per category of the training steps (*training*: their wall time), and of the run around them."""
    forward = _total(durations, FORWARD)
    backward = _total(durations, BACKWARD)
    closure_hooks = _total(durations, CLOSURE_HOOKS)
    optimizer = max(_total(durations, OPTIMIZER_STEP) - forward - backward - closure_hooks, 0.0)
    parts = {
        "data": _total(durations, (*DATA, *DATA_HOOKS)),
        "forward": forward,
        "backward": backward,
        "optimizer": optimizer + _total(durations, SCHEDULER),
        "hooks": _total(durations, BATCH_HOOKS),
    }
    parts["Lightning loop and logging"] = max(training - sum(parts.values()), 0.0)
    recurrent = min(recurrent, forward)
    around = parts["data"] + parts["hooks"] + parts["Lightning loop and logging"]
    hooks = [(name, sum(d)) for name, d in durations.items() if _matches(name, BATCH_HOOKS)]
    return {
        "steps": steps,
        "seconds": {
            "whole fit": whole,
            "training steps": training,
            "validation": validation,
            "start, epoch ends and checkpoints": max(whole - training - validation, 0.0),
            **parts,
            "forward: recurrent layers": recurrent,
            "forward: rest": forward - recurrent,
        },
        "around_the_model_fraction": around / training if training > 0 else 0.0,
        "busiest_hooks": sorted(hooks, key=lambda item: item[1], reverse=True)[:5],
    }


def render(result: dict[str, Any], width: int = 30) -> str:
    """The breakdown as an indented tree with bars: each line's share of the training steps."""
    s = result["seconds"]
    training, steps = s["training steps"], max(result["steps"], 1)
    lines = [
        f"seqkit train: profile: {result['steps']} training steps in {training:.2f} s "
        f"({training / steps * 1e3:.1f} ms a step); validation {s['validation']:.2f} s, start, epoch ends and "
        f"checkpoints {s['start, epoch ends and checkpoints']:.2f} s; whole fit {s['whole fit']:.2f} s"
    ]

    def line(label: str, seconds: float, depth: int) -> None:
        share = seconds / training if training > 0 else 0.0
        bar = "#" * round(share * width)
        lines.append(
            f"  {'  ' * depth}{label:<{28 - 2 * depth}}{share:>6.1%}  {bar:<{width}}  {seconds / steps * 1e3:8.2f} ms"
        )

    for name in ORDER:
        line(name, s[name], 0)
        if name == "forward":
            line("recurrent layers", s["forward: recurrent layers"], 1)
            line("rest of forward", s["forward: rest"], 1)
    lines.append(
        f"  around the model (data, hooks, Lightning loop and logging): {result['around_the_model_fraction']:.1%} "
        "of the training steps"
    )
    return "\n".join(lines)


def folded(result: dict[str, Any]) -> str:
    """Collapsed stacks (``frame;frame microseconds``), one line per leaf, for flame-graph tools."""
    s = result["seconds"]
    leaves = {
        "fit;validation": s["validation"],
        "fit;start, epoch ends and checkpoints": s["start, epoch ends and checkpoints"],
        "fit;training steps;data": s["data"],
        "fit;training steps;forward;recurrent layers": s["forward: recurrent layers"],
        "fit;training steps;forward;rest of forward": s["forward: rest"],
        "fit;training steps;backward": s["backward"],
        "fit;training steps;optimizer": s["optimizer"],
        "fit;training steps;hooks": s["hooks"],
        "fit;training steps;Lightning loop and logging": s["Lightning loop and logging"],
    }
    return "".join(f"{stack} {round(seconds * 1e6)}\n" for stack, seconds in leaves.items())


def profiling(recipe: Recipe, run_dir: Path, options: dict[str, Any]) -> list[pl.Callback]:
    """With ``profile: true`` (``seqkit train --profile``): Lightning's profiler into *options*, and the callback
    that writes where the time went (below)."""
    if not recipe.data.get("profile"):
        return []
    options["profiler"] = SimpleProfiler(dirpath=run_dir, filename="lightning-profile")
    return [RunProfile(options["profiler"], run_dir)]
