"""The public way to make recurrent layers: ``create_rnn``, and conversion from and to torch.nn."""

from __future__ import annotations

import operator
import warnings
from typing import Any

from torch import nn

from seqkit.errors import InvalidArgumentError
from seqkit.plugin.lazy import resolved
from seqkit.plugin.manager import PluginManager, get_plugin_manager
from seqkit.rnn import kernels
from seqkit.rnn import options as layer_options
from seqkit.rnn.cell import build_cell
from seqkit.rnn.initializers import INIT_KEYS, init_options
from seqkit.rnn.recurrent import Recurrent
from seqkit.rnn.regularizers import regularizers
from seqkit.rnn.torch_interop import copy_weights
from seqkit.rnn.torch_interop import to_torch as to_torch  # both ways from one module, as the API lists them


def create_rnn(
    kind: str,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    backend: str = "auto",
    plugins: PluginManager | None = None,
    init: str | None = None,
    kernel_init: str | None = None,
    recurrent_init: str | None = None,
    bias_init: str | None = None,
    forget_bias: float | None = None,
    kernel_l2: float = 0.0,
    recurrent_l2: float = 0.0,
    zoneout: float = 0.0,
    recurrent_dropout: float = 0.0,
    weight_drop: float = 0.0,
    tbptt_steps: int | None = None,
    **cell_options: Any,
) -> Recurrent:
    """A stack of ``num_layers`` recurrent layers of the registered cell *kind* (``gru``, ``lstm``, ``rnn``, ...).

    ``backend``: ``"auto"`` (the fastest kernel that supports the layer, chosen per device and dtype) or
    a kernel name (``reference``, ``native``, ``cudnn``, ...), which is an error where it cannot run.
    ``cell_options`` go to the cell (GRU: ``reset_after``, ``bias``; RNN: ``nonlinearity``, ``bias``).
    ``plugins``: the plugin manager to look *kind* up in (default: the process-wide one).
    ``kernel_init``, ``recurrent_init``, ``bias_init`` (``torch``, ``xavier_uniform``, ``xavier_normal``,
    ``orthogonal``, ``zeros``; ``init="keras"`` for xavier_uniform / orthogonal / zeros), ``forget_bias``
    (LSTM) and the L2 penalties ``kernel_l2``, ``recurrent_l2`` (see :mod:`seqkit.rnn.initializers`) work for
    every cell. ``zoneout``, ``recurrent_dropout`` and ``weight_drop`` (probabilities in [0, 1); see
    :mod:`seqkit.rnn.regularizers`) regularise any cell in training and change nothing in eval mode.
    ``tbptt_steps``: train with truncated backpropagation through time, that many steps per chunk
    (see :mod:`seqkit.rnn.tbptt`); None (default) backpropagates through the whole sequence.

    Returns a :class:`seqkit.Recurrent`: ``forward(x (B, T, I), lengths=None, state=None)`` ->
    ``(output (B, T, D*O), state (L*D, B, H))``, with torch.nn's parameter names (``O``: the cell's
    ``output_size``, ``hidden_size`` unless the cell declares another).
    """
    manager = plugins or get_plugin_manager()
    spec = manager.cells.get(kind)
    input_size = _check_int("input_size", input_size, minimum=1)
    # every layer option is checked by its one declaration (seqkit.rnn.options), as a recipe's are
    given = dict(locals())
    layer = layer_options.checked({name: given[name] for name in layer_options.names()})
    directions = 2 if layer["bidirectional"] else 1
    cells = [build_cell(spec, input_size, layer["hidden_size"], cell_options)]
    for _ in range(1, layer["num_layers"]):  # each layer reads the one below: its output width, both directions
        cells.append(build_cell(spec, cells[-1].output_size * directions, layer["hidden_size"], cell_options))
    initial = init_options(kind, {k: layer[k] for k in INIT_KEYS}, lstm_gates=type(cells[0]).lstm_gates)
    return Recurrent(
        kind,
        cells,
        kernels.candidates(manager.kernels, kind),
        bidirectional=layer["bidirectional"],
        dropout=layer["dropout"],
        backend=layer["backend"],
        init=initial,
        regularize=regularizers(layer),
        tbptt_steps=layer["tbptt_steps"],
    )


def from_torch(module: nn.RNNBase, *, backend: str = "auto", plugins: PluginManager | None = None) -> Recurrent:
    """The seqkit layer equal to a ``torch.nn.GRU/LSTM/RNN`` (same weights, device and dtype).

    The result is batch-first whatever ``module.batch_first`` says, and keeps which weights are frozen.
    The cell is the registered one whose ``torch_type`` is the module's class, or its nearest base class.
    """
    manager = plugins or get_plugin_manager()
    # the most specific torch.nn class the module is an instance of (subclasses of nn.GRU convert too)
    builders = [(spec, resolved(spec.build)) for spec in manager.cells]
    matches = [
        (spec, build)
        for spec, build in builders
        if isinstance(build, type)
        and getattr(build, "torch_type", None) is not None
        and isinstance(module, build.torch_type)
    ]
    if not matches:
        raise InvalidArgumentError(f"no registered cell converts from {type(module).__name__}")
    spec, cell_type = min(matches, key=lambda m: type(module).__mro__.index(m[1].torch_type))
    if getattr(module, "proj_size", 0):
        raise InvalidArgumentError(
            f"{type(module).__name__} with proj_size={module.proj_size} has no seqkit equivalent"
        )
    options = cell_type.options_from_torch(module)
    with warnings.catch_warnings():  # torch.nn warned about dropout with one layer when the module was made
        warnings.filterwarnings("ignore", message="dropout applies between layers")
        layer = create_rnn(
            spec.name,
            module.input_size,
            module.hidden_size,
            num_layers=module.num_layers,
            bidirectional=module.bidirectional,
            dropout=module.dropout,
            backend=backend,
            plugins=manager,
            **options,
        )
    return copy_weights(module, layer)


def _check_int(name: str, value: object, *, minimum: int) -> int:
    """*value* as an int (numpy and torch integers too), or an error naming the argument."""
    try:
        number = operator.index(value) if not isinstance(value, bool) else None
    except TypeError:
        number = None
    if number is None or number < minimum:
        raise InvalidArgumentError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return number
