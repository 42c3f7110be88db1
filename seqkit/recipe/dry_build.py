"""Validation's dry build: the recipe's cell stack and the task's model, constructed on the ``meta`` device.

Nothing is allocated and no data is read, so ``seqkit validate`` (and ``train``, which validates first) reports a
builder's own conflicts — a cell refusing an option combination, a model refusing a size — with the recipe key path.
The task is built but not set up (no labels, an unfitted tokenizer), so only the ValueError/TypeError a builder
raises on purpose is reported here; anything else surfaces, as before, when the real run builds the model.
The tokenizer it builds (on the real device, outside the meta one: it is kept for the run) is returned with the
problems.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from seqkit.errors import SeqkitError, one_line
from seqkit.plugin.manager import PluginManager
from seqkit.recipe.cell_factory import cell_factory


def dry_build(data: dict[str, Any], manager: PluginManager, task: Any) -> tuple[list[tuple[str, str]], Any]:
    """``(key path, problem)`` of building ``model.cell`` and then, with *task*, the model on ``meta``; and the
    tokenizer the ``tokenizer`` section builds (None without one, or when the build stopped before it)."""
    model = data["model"]
    factory = cell_factory(model["cell"], manager, tbptt_steps=data["task"].get("tbptt_steps"))
    # the real build warns again (dropout with one layer, zero-size label layers before setup): not twice
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with torch.device("meta"):
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
    with torch.device("meta"), warnings.catch_warnings():
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
