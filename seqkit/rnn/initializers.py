"""Weight initialisers and L2 penalties for any cell's layer, chosen by the role each parameter plays.

A cell declares each parameter's role with :meth:`seqkit.Cell.parameter_roles`: ``input`` (a matrix that
multiplies the input), ``recurrent`` (a matrix that multiplies the previous state), ``vector`` (a recurrent
weight that multiplies the state elementwise, i.e. a diagonal recurrent matrix), ``bias`` or ``other`` (a layer
norm's gain, say: it keeps the cell's own initialisation). By default the role comes from the name, as torch.nn
names them: ``weight_ih…``/``kernel…`` input, ``weight_hh…``/``recurrent…`` recurrent (``vector`` when 1-D),
``bias…`` bias. Matrices hold ``rows // hidden_size`` gate blocks stacked on top of each other, as in torch.nn.

A ``vector`` takes ``recurrent_init`` as the diagonal of the matrix it stands for: ``orthogonal`` gives ones (a
diagonal matrix is orthogonal when its entries are ±1, and +1 keeps the state as the identity does),
``xavier_uniform``/``xavier_normal`` draw as for an H×H matrix (bound √(3/H), standard deviation √(1/H)),
``zeros`` zeros; ``recurrent_l2`` penalises it as it does recurrent matrices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from seqkit.errors import InvalidArgumentError
from seqkit.rnn.options import BY_NAME, checked, names
from seqkit.rnn.options import INITIALIZERS as INITIALIZERS  # the names, declared with the options

# Keras' defaults for its recurrent layers: kernel, recurrent kernel, bias (the names: layer_options.Preset).
PRESETS: dict[str, tuple[str, str, str]] = {"keras": ("xavier_uniform", "orthogonal", "zeros")}
ROLES = ("kernel", "recurrent", "bias")
# what Cell.parameter_roles may say, and which option initialises each (None: the cell's own init, no penalty)
PARAMETER_ROLES: dict[str, str | None] = {
    "input": "kernel",
    "recurrent": "recurrent",
    "vector": "recurrent",
    "bias": "bias",
    "other": None,
}
# which cells take forget_bias is the cell's own declaration (Cell.lstm_gates), never its registered name
FORGET_BIAS_CELLS = "cells with LSTM gates (lstm_gates = True)"
# the layer options (create_rnn's, recipes' model.cell keys) this module reads
INIT_KEYS = names("init")


def role_of(name: str) -> str | None:
    """``kernel``, ``recurrent``, ``bias`` or None, from a parameter's name in its cell."""
    if name.startswith(("weight_ih", "kernel")):
        return "kernel"
    if name.startswith(("weight_hh", "recurrent")):
        return "recurrent"
    if name.startswith("bias"):
        return "bias"
    return None


def default_role(name: str, shape: tuple[int, ...]) -> str:
    """The role :meth:`seqkit.Cell.parameter_roles` gives a parameter by default, from its name and shape."""
    role = role_of(name)
    if role == "kernel":
        return "input"
    if role == "recurrent":
        return "recurrent" if len(shape) >= 2 else "vector"
    return role or "other"


def check_roles(cell_name: str, roles: dict[str, str], names: list[str]) -> dict[str, str]:
    """*roles* for every parameter in *names*, or an error naming the cell and the bad entry."""
    for name, role in roles.items():
        if name not in names:
            raise InvalidArgumentError(f"{cell_name}.parameter_roles() names {name!r}, which is not a parameter")
        if role not in PARAMETER_ROLES:
            raise InvalidArgumentError(
                f"{cell_name}.parameter_roles() gives {name!r} the role {role!r}; roles: {', '.join(PARAMETER_ROLES)}"
            )
    return {name: roles.get(name, "other") for name in names}


def parameter_roles(kind: str, cell: Any) -> dict[str, str]:
    """*cell*'s checked :meth:`~seqkit.Cell.parameter_roles`, one per parameter."""
    return check_roles(f"cell '{kind}'", dict(cell.parameter_roles()), list(cell.parameter_shapes()))


def _vector(kind: str, tensor: Tensor, hidden_size: int) -> None:
    """*kind* initialiser for a vector that stands for the diagonal of an H×H recurrent matrix."""
    size = max(hidden_size, 1)
    if kind == "orthogonal":
        nn.init.ones_(tensor)
    elif kind == "xavier_uniform":
        bound = (3.0 / size) ** 0.5
        nn.init.uniform_(tensor, -bound, bound)
    elif kind == "xavier_normal":
        nn.init.normal_(tensor, 0.0, (1.0 / size) ** 0.5)
    else:
        FILLERS[kind](tensor, hidden_size)


def _blocks(tensor: Tensor, hidden_size: int) -> Iterator[Tensor]:
    rows = tensor.shape[0]
    step = hidden_size if tensor.dim() == 2 and hidden_size and rows % hidden_size == 0 else rows
    for start in range(0, rows, step):
        yield tensor[start : start + step]


def _orthogonal(tensor: Tensor, hidden_size: int) -> None:
    if tensor.dim() < 2:
        raise InvalidArgumentError("orthogonal initialises matrices; use it for kernel_init or recurrent_init")
    # each gate's block on its own: every gate's recurrent matrix keeps the state's norm
    for block in _blocks(tensor, hidden_size):
        nn.init.orthogonal_(block)


FILLERS: dict[str, Callable[[Tensor, int], None]] = {
    "xavier_uniform": lambda t, h: nn.init.xavier_uniform_(t) if t.dim() >= 2 else nn.init.zeros_(t),
    "xavier_normal": lambda t, h: nn.init.xavier_normal_(t) if t.dim() >= 2 else nn.init.zeros_(t),
    "orthogonal": _orthogonal,
    "zeros": lambda t, h: nn.init.zeros_(t),
}


@dataclass(frozen=True)
class InitOptions:
    """How a layer's weights start and what the training loss adds for their size.

    ``kernel_init``/``recurrent_init``/``bias_init``: one of :data:`INITIALIZERS`, where ``torch`` keeps
    the cell's own (torch.nn's U(−1/√H, 1/√H) for the built-in cells). ``init: keras`` is xavier_uniform /
    orthogonal / zeros. ``forget_bias`` (LSTM) starts the forget gate's bias there, so that early on the
    cell keeps its memory (Jozefowicz et al., 2015 suggest 1). ``kernel_l2``/``recurrent_l2`` add
    λ·Σ‖W‖² over the input and recurrent matrices to the training loss.
    """

    kernel_init: str = "torch"
    recurrent_init: str = "torch"
    bias_init: str = "torch"
    forget_bias: float | None = None
    kernel_l2: float = 0.0
    recurrent_l2: float = 0.0

    @property
    def changes_weights(self) -> bool:
        inits = (self.kernel_init, self.recurrent_init, self.bias_init)
        return any(i != "torch" for i in inits) or self.forget_bias is not None

    @property
    def penalised(self) -> bool:
        return self.kernel_l2 > 0 or self.recurrent_l2 > 0


def init_options(kind: str, values: Mapping[str, Any], *, lstm_gates: bool = False) -> InitOptions:
    """Checked :class:`InitOptions` for a layer of cell *kind* from its ``init`` options (:data:`INIT_KEYS`);
    a preset (``init``) fills what is not given.

    Each value is checked by its declaration in :mod:`seqkit.rnn.options`; here only the rules between them.
    *lstm_gates*: whether the cell lays its gates out as torch.nn.LSTM does (``Cell.lstm_gates``), so that
    ``forget_bias`` applies.
    """
    given = {name: BY_NAME[name].default for name in INIT_KEYS} | checked(values)
    chosen = dict(zip(ROLES, PRESETS.get(given["init"] or "", ("torch",) * 3)))
    for role in ROLES:
        if given[f"{role}_init"] is not None:
            chosen[role] = given[f"{role}_init"]
    if chosen["bias"] == "orthogonal":
        raise InvalidArgumentError("bias_init=orthogonal: biases are vectors; use zeros or torch")
    if given["forget_bias"] is not None and not lstm_gates:
        raise InvalidArgumentError(f"forget_bias applies to {FORGET_BIAS_CELLS}, not {kind!r}")
    return InitOptions(
        chosen["kernel"],
        chosen["recurrent"],
        chosen["bias"],
        given["forget_bias"],
        given["kernel_l2"],
        given["recurrent_l2"],
    )


def apply_initializers(
    params: dict[str, Tensor], hidden_size: int, options: InitOptions, roles: dict[str, str] | None = None
) -> None:
    """Re-initialise one layer and direction's *params* (the cell's names) in place, after the cell's own;
    *roles*: the cell's :meth:`~seqkit.Cell.parameter_roles` (default: from the names)."""
    fill = {"kernel": options.kernel_init, "recurrent": options.recurrent_init, "bias": options.bias_init}
    with torch.no_grad():
        for name, tensor in params.items():
            role = roles[name] if roles is not None else default_role(name, tuple(tensor.shape))
            option = PARAMETER_ROLES[role]
            if option is None or fill[option] == "torch":
                continue
            if role == "vector":
                _vector(fill[option], tensor, hidden_size)
            else:
                FILLERS[fill[option]](tensor, hidden_size)
        if options.forget_bias is not None:
            if "bias_ih" not in params or "bias_hh" not in params:
                raise InvalidArgumentError("forget_bias needs the cell's biases: it cannot apply with bias=false")
            # torch.nn's LSTM gate order is input, forget, cell, output; the two biases add up
            params["bias_ih"][hidden_size : 2 * hidden_size] = options.forget_bias
            params["bias_hh"][hidden_size : 2 * hidden_size] = 0.0


def l2_penalty(params: dict[str, Tensor], options: InitOptions, roles: dict[str, str] | None = None) -> Tensor | None:
    """λ_kernel·Σ‖W_input‖² + λ_recurrent·Σ(‖W_recurrent‖² + ‖w_vector‖²) over *params*, or None.

    *roles*: each parameter's role (default: from its name and shape, as :func:`default_role`).
    """
    total: Tensor | None = None
    weights = {"input": options.kernel_l2, "recurrent": options.recurrent_l2, "vector": options.recurrent_l2}
    for name, tensor in params.items():
        role = roles[name] if roles is not None else default_role(name, tuple(tensor.shape))
        if role in weights and weights[role] > 0:
            term = weights[role] * tensor.pow(2).sum()
            total = term if total is None else total + term
    return total
