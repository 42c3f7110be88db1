"""Do a checkpoint's weights fit the model exactly? Each a dense tensor of its parameter's dtype and shape.

torch's ``load_state_dict`` copies whatever tensor it is given into a parameter of the same shape, casting it:
int8, bool or float64 values silently, complex ones with only a warning (their imaginary part dropped). A checkpoint
is data from anywhere, so its weights are compared with the model's own before anything is copied, and the first
that differs is one line naming the weight, what was expected and what the file holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from seqkit.errors import printable
from seqkit.run.trainer_notes import modern_precision

# Lightning's "-true" precisions convert every floating-point weight: the checkpoint holds them in that dtype.
TRUE_PRECISIONS = {"16-true": torch.float16, "bf16-true": torch.bfloat16, "64-true": torch.float64}


def trained_dtype(recipe: Any) -> torch.dtype | None:
    """The dtype a checkpoint's floating-point weights were kept in by its recipe's ``trainer.precision``
    (``bf16-true`` -> bfloat16), or None when they stay in the model's own (32-bit and mixed precisions)."""
    trainer = recipe.get("trainer") if isinstance(recipe, Mapping) else None
    precision = modern_precision(trainer.get("precision")) if isinstance(trainer, Mapping) else None
    return TRUE_PRECISIONS.get(precision) if isinstance(precision, str) else None


def weights_problem(
    module: torch.nn.Module, state_dict: Mapping[str, Any], trained: torch.dtype | None = None
) -> str | None:
    """Why *state_dict* does not fit *module* (keys, tensor or not, layout, dtype, shape), or None when it does.

    A floating-point weight may also be of *trained* (see :func:`trained_dtype`): loading converts it, as
    Lightning converts the model again when it runs in that precision.
    """
    expected = module.state_dict(keep_vars=True)
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    if missing or unexpected:
        # names from the file: escaped, and a few of them, each cut short
        pairs = (("missing", missing), ("unexpected", unexpected))
        return ", ".join(f"{what} {printable(keys[:3])[:300]}" for what, keys in pairs if keys)
    for name, want in expected.items():
        if not isinstance(want, torch.Tensor):  # a module's extra state: the module reads and checks its own
            continue
        problem = _tensor_problem(state_dict[name], want, trained)
        if problem:
            return f"weight {printable(name)[:200]}: {problem}"
    return None


def _tensor_problem(value: Any, want: torch.Tensor, trained: torch.dtype | None) -> str | None:
    dtypes = [want.dtype]
    if trained is not None and want.is_floating_point() and trained != want.dtype:
        dtypes.append(trained)
    expected = f"expected {' or '.join(_name(d) for d in dtypes)} {tuple(want.shape)}"
    if not isinstance(value, torch.Tensor):
        return f"{expected}, got {_kind(value)}"
    if value.is_nested:  # its sizes cannot even be asked for
        return f"{expected}, got a nested tensor"
    if value.is_quantized:
        return f"{expected}, got a quantized tensor ({_name(value.dtype)})"
    if value.is_meta:  # shapes without data: nothing to load
        return f"{expected}, got a meta tensor (no data)"
    if value.layout != torch.strided:
        return f"{expected}, got a {str(value.layout).removeprefix('torch.')} tensor"
    if value.dtype not in dtypes or tuple(value.shape) != tuple(want.shape):
        resized = value.dtype in dtypes  # only the size differs: the usual cause is an override, not damage
        hint = "; did an override change its size?" if resized else ""
        return f"{expected}, got {_name(value.dtype)} {tuple(value.shape)}{hint}"
    return None


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    article = "an" if name[:1] in "aeiou" else "a"
    return f"{article} {name} of {len(value)}" if isinstance(value, (dict, list, tuple)) else f"{article} {name}"
