"""Every option of a recurrent layer, declared once: name, type, default, range, help and where a recipe sets it.

``create_rnn`` checks its keywords here, the recipe validator derives ``model.cell``'s keys, types and ranges
from here, the cell factory passes exactly these keys on, and the initialisers and regularisers read their
groups. A new layer option is one :class:`LayerOption` below (and the code that uses it); nothing else lists it.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from seqkit.bounds import MAX_WIDTH
from seqkit.errors import InvalidArgumentError, suggest

Initializer = Literal["torch", "xavier_uniform", "xavier_normal", "orthogonal", "zeros"]
INITIALIZERS: tuple[str, ...] = get_args(Initializer)
Preset = Literal["keras"]  # seqkit.rnn.initializers.PRESETS says what each sets
REQUIRED = inspect.Parameter.empty
# Beyond these (and MAX_WIDTH) a model cannot be allocated on any machine seqkit runs on: refused in recipes,
# which may come from elsewhere (a Python caller asking create_rnn for more gets what it asked for).
MAX_LAYERS = 1024


@dataclass(frozen=True)
class LayerOption:
    """One keyword of ``create_rnn`` and, unless *recipe* is None, one key of a recipe.

    *valid*: the range, for a value of the right type; *expected*: what create_rnn's error says a value must
    be; *range*: what a recipe's error says (``expected <range>, got ...``). *recipe_valid*/*recipe_range*: a
    tighter bound for recipes. *group*: who reads it (``stack``, ``kernel``, ``init``, ``regularizer``,
    ``training``).
    """

    name: str
    hint: Any
    default: Any
    group: str
    help: str
    expected: str
    valid: Callable[[Any], bool] | None = None
    range: str = ""
    recipe: str | None = "model.cell"
    recipe_valid: Callable[[Any], bool] | None = None
    recipe_range: str = ""

    @property
    def recipe_key(self) -> str | None:
        """The key path a recipe sets this option at, or None."""
        return None if self.recipe is None else f"{self.recipe}.{self.name}"

    def check(self, value: Any) -> Any:
        """*value* in the option's type (ints from numpy/torch integers, floats as float), or an error naming it."""
        checked = _coerce(self.hint, value)
        if checked is _BAD or (self.valid is not None and checked is not None and not _passes(self.valid, checked)):
            near = suggest(value, _choices(self.hint)) if isinstance(value, str) else ""
            raise InvalidArgumentError(f"{self.name} must be {self.expected}, got {value!r}{near}")
        return checked


_BAD = object()


def _choices(hint: Any) -> list[str]:
    return [str(a) for arg in (hint, *get_args(hint)) for a in get_args(arg) if isinstance(a, str)]


def _coerce(hint: Any, value: Any) -> Any:
    """*value* as *hint* (int, float, bool, str, a Literal, or one of these ``| None``), else ``_BAD``."""
    args = get_args(hint)
    if type(None) in args and value is None:
        return None
    base = next((a for a in args if a is not type(None)), hint) if type(None) in args else hint
    if base is bool:
        return value if isinstance(value, bool) else _BAD
    if base is int:
        try:  # numpy and torch integers count, a bool does not
            return operator.index(value) if not isinstance(value, bool) else _BAD
        except TypeError:
            return _BAD
    if base is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else _BAD
    if base is str:
        return value if isinstance(value, str) else _BAD
    return value if value in get_args(base) and isinstance(value, str) else _BAD  # a Literal of names


def _passes(test: Callable[[Any], bool], value: Any) -> bool:
    try:  # NaN passes comparisons such as `not v < 0`: a float must also be finite
        return bool(test(value)) and (not isinstance(value, float) or math.isfinite(value))
    except (OverflowError, TypeError, ValueError):
        return False


def _probability(name: str, help: str, group: str) -> LayerOption:
    return LayerOption(name, float, 0.0, group, help, "a number in [0, 1)", lambda v: 0 <= v < 1, "in [0, 1)")


OPTIONS: tuple[LayerOption, ...] = (
    LayerOption(
        "hidden_size", int, REQUIRED, "stack", "units per layer and direction", "an integer >= 1",
        lambda v: v >= 1, "at least 1",
        recipe_valid=lambda v: 1 <= v <= MAX_WIDTH, recipe_range=f"in [1, {MAX_WIDTH:,}]",
    ),
    LayerOption(
        "num_layers", int, 1, "stack", "layers stacked, each reading the one below", "an integer >= 1",
        lambda v: v >= 1, "at least 1",
        recipe_valid=lambda v: 1 <= v <= MAX_LAYERS, recipe_range=f"in [1, {MAX_LAYERS}]",
    ),
    LayerOption("bidirectional", bool, False, "stack", "run each layer both ways, side by side", "true or false"),
    _probability("dropout", "dropout between layers (not after the last)", "stack"),
    LayerOption(
        "backend", str, "auto", "kernel", "auto (the fastest kernel that can run the layer) or a kernel's name",
        "a kernel name or 'auto'",
    ),
    LayerOption("init", Preset | None, None, "init", "a preset of the three initialisers", "one of keras"),
    *(
        LayerOption(
            f"{role}_init", Initializer | None, None, "init", f"how the {what} start (torch: the cell's own)",
            f"one of {', '.join(INITIALIZERS)}",
        )
        for role, what in (("kernel", "input matrices"), ("recurrent", "recurrent matrices"), ("bias", "biases"))
    ),
    LayerOption(
        "forget_bias", float | None, None, "init", "start value of the forget gate's bias (cells with LSTM gates)",
        "a finite number", lambda v: True, "a finite number",
    ),
    *(
        LayerOption(
            f"{role}_l2", float, 0.0, "init", f"L2 penalty λ on the {role} matrices, added to the training loss",
            "a number 0 or more", lambda v: v >= 0, "0 or more",
        )
        for role in ("kernel", "recurrent")
    ),
    _probability("zoneout", "per step, each unit keeps its previous value with this probability", "regularizer"),
    _probability("recurrent_dropout", "one dropout mask per sequence on the recurrent state", "regularizer"),
    _probability("weight_drop", "DropConnect on the recurrent matrices, one mask per forward", "regularizer"),
    LayerOption(
        "tbptt_steps", int | None, None, "training", "truncated BPTT: time steps per chunk (None: whole sequences)",
        "an integer >= 1 or None (full BPTT)", lambda v: v >= 1,
        "at least 1 (time steps per chunk), or null (full BPTT)", recipe="task",
    ),
)  # fmt: skip
BY_NAME: dict[str, LayerOption] = {option.name: option for option in OPTIONS}


def names(group: str | None = None) -> tuple[str, ...]:
    """The options' names, or those of one *group*."""
    return tuple(o.name for o in OPTIONS if group is None or o.group == group)


def checked(values: Mapping[str, Any]) -> dict[str, Any]:
    """*values* (names of :data:`OPTIONS`), each checked and converted; the first bad one raises."""
    return {name: BY_NAME[name].check(value) for name, value in values.items()}


def recipe_options(section: str) -> Callable[..., dict[str, Any]]:
    """A function whose keyword signature is the options a recipe sets in *section*, returning them with their
    defaults filled in: what the recipe validator checks a section's own keys against."""
    chosen = [o for o in OPTIONS if o.recipe == section]

    def options(**values: Any) -> dict[str, Any]:
        return {o.name: values.get(o.name, o.default) for o in chosen}

    options.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default, annotation=o.hint)
            for o in chosen
        ]
    )
    options.__annotations__ = {o.name: o.hint for o in chosen}
    options.__doc__ = f"The ``{section}`` keys seqkit's layer reads:\n\n" + "\n".join(
        f"- ``{o.name}``: {o.help}" for o in chosen
    )
    return options


def recipe_ranges() -> dict[str, tuple[Callable[[Any], bool], str]]:
    """``key path -> (test, expected)`` for every option with a range, as the recipe validator's ``RANGES``."""
    return {
        o.recipe_key: (o.recipe_valid or o.valid, o.recipe_range or o.range)  # type: ignore[misc]
        for o in OPTIONS
        if o.recipe_key is not None and (o.valid is not None or o.recipe_valid is not None)
    }
