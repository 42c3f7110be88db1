"""The ``ema`` callback's Lightning side: an exponential moving average of the weights, validated, checkpointed and
tested in their place (:mod:`seqkit_callbacks.ema` builds it)."""

from __future__ import annotations

from typing import Any

import torch
from pytorch_lightning import Callback

from seqkit import SeqkitError


class WeightAverage(Callback):
    """Keep ``shadow ← decay·shadow + (1 − decay)·weights`` after every optimiser step.

    Validation (hence the best checkpoint, and the test that reads it) sees the averaged weights; training
    continues from the raw ones. The average of a noisy late trajectory generalises better than its last point
    (Polyak averaging), which short CPU budgets that end before the learning rate has settled benefit from.
    Early on the decay is ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the random
    initialisation is forgotten within tens of steps rather than thousands.
    """

    def __init__(self, decay: float = 0.999, start_step: int = 0) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema: decay must lie strictly between 0 and 1, got {decay}")
        if start_step < 0:
            raise ValueError(f"ema: start_step must be 0 or more, got {start_step}")
        self.decay = decay
        self.start_step = start_step
        self.updates = 0
        self.shadow: list[torch.Tensor] | None = None
        self.backup: list[torch.Tensor] | None = None  # the raw weights while the average stands in for them

    @staticmethod
    def _params(pl_module: Any) -> list[torch.Tensor]:
        return [p for p in pl_module.parameters() if p.dtype.is_floating_point]

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._restore(pl_module)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        params = self._params(pl_module)
        if trainer.global_step < self.start_step:
            return
        if self.shadow is None or len(self.shadow) != len(params):
            self.shadow = [p.detach().clone() for p in params]
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            torch._foreach_lerp_(self.shadow, [p.detach() for p in params], 1.0 - decay)
        self.updates += 1

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if self.shadow is None or self.backup is not None:
            return
        params = self._params(pl_module)
        with torch.no_grad():
            self.backup = [p.detach().clone() for p in params]
            torch._foreach_copy_(params, self.shadow)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        # The run's final weights are the average: what `seqkit predict` on last.ckpt would expect.
        self.on_validation_start(trainer, pl_module)
        self.backup = None

    def _restore(self, pl_module: Any) -> None:
        if self.backup is None:
            return
        with torch.no_grad():
            torch._foreach_copy_(self._params(pl_module), self.backup)
        self.backup = None

    def state_dict(self) -> dict[str, Any]:
        # A checkpoint written during validation holds the average as the model's weights: the raw ones travel
        # here, so a resumed run trains on from where it was rather than from the average.
        return {"updates": self.updates, "shadow": self.shadow, "backup": self.backup}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # a checkpoint is anyone's file: what it holds here is copied into the weights, so it is checked first (its
        # form here, its fit to the model once the model is known: on_fit_start)
        if not isinstance(state_dict, dict):
            raise _damaged(f"expected its saved state as a mapping, got {type(state_dict).__name__}")
        updates = state_dict.get("updates", 0)
        if isinstance(updates, bool) or not isinstance(updates, int) or updates < 0:
            raise _damaged(f"expected a count of updates of 0 or more, got {updates!r}"[:200])
        self.updates = updates
        self.shadow = _tensors("shadow", state_dict.get("shadow"))
        self.backup = _tensors("backup", state_dict.get("backup"))

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        params = self._params(pl_module)
        for name, saved in (("shadow", self.shadow), ("backup", self.backup)):
            if saved is None:
                continue
            if len(saved) != len(params):
                raise _damaged(f"the saved {name} holds {len(saved)} tensors, the model {len(params)} weights")
            for i, (value, param) in enumerate(zip(saved, params)):
                if value.dtype != param.dtype or value.shape != param.shape:
                    raise _damaged(
                        f"the saved {name}[{i}] is {value.dtype} {tuple(value.shape)}, "
                        f"expected {param.dtype} {tuple(param.shape)} as the model's weight"
                    )


def _damaged(problem: str) -> SeqkitError:
    """A resumed checkpoint's ema state that cannot be used: one line, as for the checkpoint's other parts."""
    return SeqkitError(f"resume: the checkpoint's ema state is damaged or was tampered with: {problem}")


def _tensors(name: str, value: Any) -> list[torch.Tensor] | None:
    """*value*, a saved ``shadow`` or ``backup``: None, or a list of dense floating-point tensors of finite values."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, torch.Tensor) for t in value):
        raise _damaged(f"expected the saved {name} as a list of tensors, got {type(value).__name__}")
    for i, t in enumerate(value):
        if t.is_nested or t.layout != torch.strided or not t.is_floating_point():
            raise _damaged(f"the saved {name}[{i}] is not a dense floating-point tensor ({t.dtype})")
        if not bool(torch.isfinite(t).all()):
            raise _damaged(f"the saved {name}[{i}] holds NaN or infinite values")
    return value
