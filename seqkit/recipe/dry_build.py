"""Validation's dry build: the recipe's cell stack and the task's model, constructed on the ``meta`` device.

Nothing is allocated and no data is read, so ``seqkit validate`` (and ``train``, which validates first) reports a
builder's own conflicts — a cell refusing an option combination, a model refusing a size — with the recipe key path.
The task is built but not set up (no labels, an unfitted tokenizer), so only the ValueError/TypeError a builder
raises on purpose is reported here; anything else surfaces, as before, when the real run builds the model.
The tokenizer it builds (on the real device, outside the meta one: it is kept for the run) is returned with the
problems.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch.nn import init
from torch.overrides import TorchFunctionMode

from seqkit.errors import SeqkitError, one_line
from seqkit.plugin.manager import PluginManager
from seqkit.recipe.cell_factory import cell_factory


class _NoNormalFillsOnMeta(TorchFunctionMode):
    """Random fills of ``meta`` tensors, which hold no values, skipped: torch computes ``normal_`` and its kin on
    ``meta`` in Python behind a guard that imports ``torch._dynamo`` (1.3 s of ``seqkit validate``'s 3.9). Their own
    argument checks then wait for the real build."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _NORMAL_FILLS:
            target = args[0] if args else kwargs.get("tensor")  # torch.nn.init hands its tensor on by keyword
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


# the in-place fills torch decomposes in Python; and init.normal_, which hands itself to the modes first and then
# runs its fill below this one, out of its sight (the other initialisers call Tensor.normal_ where it sees them)
_NORMAL_FILLS = {
    torch.Tensor.normal_,
    torch.Tensor.log_normal_,
    torch.Tensor.exponential_,
    torch.Tensor.cauchy_,
    torch.Tensor.geometric_,
    init.normal_,
}


@contextlib.contextmanager
def _on_meta() -> Iterator[None]:
    with torch.device("meta"), _NoNormalFillsOnMeta():
        yield


def dry_build(data: dict[str, Any], manager: PluginManager, task: Any) -> tuple[list[tuple[str, str]], Any]:
    """``(key path, problem)`` of building ``model.cell`` and then, with *task*, the model on ``meta``; and the
    tokenizer the ``tokenizer`` section builds (None without one, or when the build stopped before it)."""
    model = data["model"]
    factory = cell_factory(model["cell"], manager, tbptt_steps=data["task"].get("tbptt_steps"))
    # the real build warns again (dropout with one layer, zero-size label layers before setup): not twice
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with _on_meta():
                factory(1)
        except SeqkitError as error:
            return [("model.cell", str(error).removeprefix("model.cell: "))], None
    if task is None:
        return [], None
    tokenizer = None
    if isinstance(data.get("tokenizer"), dict):
        try:
            spec = manager.tokenizers.get(data["tokenizer"]["kind"])
            tokenizer = spec.build(**{k: v for k, v in data["tokenizer"].items() if k != "kind"})
        except (SeqkitError, ValueError, TypeError) as error:
            return [("tokenizer", f"tokenizer '{data['tokenizer']['kind']}' rejected its options: {error}")], None
    with _on_meta(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            task.build_model(factory, tokenizer, **{k: v for k, v in model.items() if k != "cell"})
        except SeqkitError as error:
            return [("model.cell", str(error).removeprefix("model.cell: "))], tokenizer
        except (ValueError, TypeError) as error:
            problem = f"task '{data['task']['kind']}' could not build its model: {one_line(error)}"
            return [("model", problem)], tokenizer
        except Exception:  # a task may need setup's labels to build: the real run reports it
            return [], tokenizer
    return [], tokenizer
