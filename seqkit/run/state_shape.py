"""Is a piece of saved state shaped like the one this run would write itself? One line naming the field if not.

A checkpoint from elsewhere is data: before Lightning or torch restores an optimizer, a scheduler, a loop or a
callback from it, each piece is compared with a *template*, the state a freshly built object of this run holds:
the same keys, containers of the same length, numbers where numbers are, tensors of the template's shape, no NaN,
and text only where the template has the same text. Anything else would make Lightning or torch fail deep inside
training (or silently train on nonsense), so it is refused up front.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from seqkit.errors import printable

BIGGEST = 2**62  # far above any real counter; anything larger overflows tensors it is copied into


class BadState(Exception):
    """``where`` holds ``got`` where ``expected`` was expected."""

    def __init__(self, where: str, expected: str, got: Any, *, text: str | None = None) -> None:
        super().__init__(text or f"{where} is {describe(got)}, expected {expected}")


def describe(value: Any) -> str:
    """A short, escaped account of *value* for an error message (never its whole text)."""
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {tuple(value.shape)}"
    if isinstance(value, (dict, list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    text = printable(repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


def check(template: Any, value: Any, where: str, *, exact: bool = False) -> Any:
    """*value* shaped like *template*, or :class:`BadState` naming its first field that is not.

    A mapping's keys are the template's: one the value lacks takes the template's (fresh) value, one the template
    lacks is dropped, as between versions of torch and Lightning, which add and retire keys; it is never handed
    on (a scheduler copies every key of its state into itself, where one could hide a method). With *exact*, a
    missing or unknown key is an error instead.
    """
    if isinstance(template, dict):
        if not isinstance(value, dict):
            raise BadState(where, f"a mapping with keys {sorted(map(str, template))}", value)
        if exact:
            lacking = [key for key in template if key not in value]
            unknown = [key for key in value if key not in template]
            if lacking:
                raise BadState(where, "", None, text=f"{where} lacks the key {printable(repr(lacking[0]))}")
            if unknown:
                raise BadState(where, "", None, text=f"{where} holds an unknown key {describe(unknown[0])}")
        return {
            key: check(fresh, value[key], f"{where}.{key}", exact=exact) if key in value else fresh
            for key, fresh in template.items()
        }
    if isinstance(template, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(template):
            raise BadState(where, f"a list of {len(template)}", value)
        checked = [check(t, v, f"{where}[{i}]", exact=exact) for i, (t, v) in enumerate(zip(template, value))]
        return type(value)(checked)
    if isinstance(template, torch.Tensor):
        check_tensor(value, where, tuple(template.shape) if template.dim() else (), template)
    elif template is None:  # fresh objects hold None where a later state keeps a number, a score or a message
        if value is not None and not isinstance(value, str):
            check_number(value, where, float("inf"))
    elif isinstance(template, str):
        if value != template:
            raise BadState(where, repr(template), value)
    else:
        check_number(value, where, template)
    return value


def check_number(value: Any, where: str, template: Any) -> None:
    """A number like *template*: a bool for a bool, an integer (not negative where the template is not) for an
    integer, a number (finite where the template is) for a float; a one-number tensor stands for a number."""
    if isinstance(template, bool):
        if not isinstance(value, bool):
            raise BadState(where, "true or false", value)
        return
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not isinstance(template, int):
        value = value.item()
    if isinstance(template, int):
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > BIGGEST:
            raise BadState(where, "an integer", value)
        if template >= 0 > value:
            raise BadState(where, "an integer of 0 or more", value)
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        raise BadState(where, "a number", value)
    if math.isinf(value) and math.isfinite(template):
        raise BadState(where, "a finite number", value)


def check_tensor(value: Any, where: str, shape: tuple[int, ...], template: torch.Tensor | None = None) -> None:
    """A tensor of *shape* holding no NaN (nor infinity, unless *template* has some), floating point where
    *template* is; a scalar template accepts a plain number too."""
    if not shape and not isinstance(value, torch.Tensor):
        check_number(value, where, float(template) if template is not None and template.is_floating_point() else 0.0)
        return
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape or value.is_complex():
        raise BadState(where, f"a tensor of shape {shape}", value)
    floating = template is None or template.is_floating_point()
    if floating != value.is_floating_point() and shape:
        raise BadState(where, f"a {'floating-point' if floating else 'integer'} tensor of shape {shape}", value)
    if value.is_floating_point() and value.numel():
        finite_template = template is None or bool(torch.isfinite(template).all())
        if bool(torch.isnan(value).any()) or (finite_template and not bool(torch.isfinite(value).all())):
            raise BadState(where, f"a tensor of shape {shape} holding finite numbers", value)
